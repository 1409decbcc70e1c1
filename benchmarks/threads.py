"""The BLAS thread policy: seconds per epoch with 1 and with 2 BLAS threads.

Run from the repository root::

    python benchmarks/threads.py            # best of 3, a few minutes
    python benchmarks/threads.py --repeat 1

For 30 and 100 hidden neurons at batch 10 and 100, an epoch of mini-batch
SGD (float64, η = 3.0) with the BLAS library limited to 1 and to 2 threads
(median of ``--repeat``, interleaved), on the machine as it is ("idle") and
beside a competing CPU-bound process ("loaded"), and the count
``threads="auto"`` (:func:`gdkit.threads.decide`) picks. Runs itself in a
child process without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (as
``speed.py`` does). Prints a table and writes ``results/threads.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from fair import fair_env

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST",
                              str(HERE.parent.parent / "shared" / "data" / "mnist"))
TIMEOUT = 3600.0


def bench_threads(data: str, repeat: int) -> list[dict[str, Any]]:
    """Seconds per epoch (median of ``repeat``) with 1 and 2 BLAS threads, idle and loaded."""
    import numpy as np

    import gdkit
    from gdkit.threads import decide

    nets = {h: gdkit.objective("mnist-network", data=data, sizes=(784, h, 10), validate=False)
            for h in (30, 100)}
    rows = []
    for load in ("idle", "loaded"):
        rival = None if load == "idle" else subprocess.Popen(
            [sys.executable, "-c", "while True: pass"])
        try:
            for h, net in nets.items():
                v0 = net.initial_point(np.random.default_rng(0))
                for b in (10, 100):
                    times: dict[int, list[float]] = {1: [], 2: []}
                    for _ in range(repeat):  # interleaved, so both see the same machine
                        for n in (1, 2):
                            res = gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=3.0),
                                                 batch_size=b, epochs=1, seed=0,
                                                 options=gdkit.RunOptions(threads=n))
                            times[n].append(float(res.history["seconds"][0]))
                    med = {n: statistics.median(ts) for n, ts in times.items()}
                    choice = decide("auto", b, net.dim) or 2  # None: the library's (2 here)
                    row = {"load": load, "hidden": h, "batch_size": b, "median_seconds": med,
                           "auto_threads": choice,
                           "auto_over_best_fixed": med[choice] / min(med.values())}
                    rows.append(row)
                    print(f"  {load:<6} hidden {h:>3} batch {b:>3}: 1 thread {med[1]:.3f} s, "
                          f"2 threads {med[2]:.3f} s; auto takes {choice} "
                          f"({row['auto_over_best_fixed']:.2f}x the best)", flush=True)
        finally:
            if rival is not None:
                rival.kill()
                rival.wait(timeout=60)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="MNIST directory")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.child:
        env = fair_env()
        return subprocess.run([sys.executable, __file__, "--child", "--data", args.data,
                               "--repeat", str(args.repeat)], env=env, timeout=TIMEOUT).returncode
    rows = bench_threads(args.data, args.repeat)
    worst = max(r["auto_over_best_fixed"] for r in rows)
    print(f"thread policy / best fixed count, worst case: {worst:.2f}x (target <= 1.10)")
    out = HERE / "results" / "threads.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "threads", "load_average": os.getloadavg(),
                               "rows": rows, "worst": worst}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
