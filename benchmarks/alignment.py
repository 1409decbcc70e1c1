"""The compiled kernel's time for a span of steps, by where its working arrays start.

Run from the repository root::

    python benchmarks/alignment.py                      # [784, 30, 10], batch 10, float64
    python benchmarks/alignment.py --hidden 100 --batch 100 --dtype float32

In one process, builds one compiled runner with its working arrays (the
weights in the kernel's layout, the first layer's gradient rows, the
activations and deltas) starting on a cache line, as gdkit allocates them,
and runners with the same arrays moved 16, 32 and 48 bytes into a line (as
numpy's 16-byte alignment may place them), then times the same spans of
steps on each, interleaved, the best of ``--repeat`` per span. η = 0, so
every round does the same work. Runs itself without ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE``, as ``speed.py`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from fair import rerun_fair

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST",
                              str(HERE.parent.parent / "shared" / "data" / "mnist"))
ARRAYS = ("wt", "gt", "acts", "deltas", "z")


def moved(a: Any, offset: int) -> Any:
    """A copy of ``a`` starting ``offset`` bytes into a 64-byte line."""
    import numpy as np
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def child(args: argparse.Namespace) -> int:
    import numpy as np
    from gdkit_plugins.fast.network import CompiledNetworkSteps

    import gdkit
    net = gdkit.objective("mnist-network", data=args.data, dtype=args.dtype,
                          sizes=(784, args.hidden, 10))
    perm = np.random.default_rng(1).permutation(net.n_samples)
    span, spans = 50 * args.batch if args.batch < 100 else 500, 20
    runners = {}
    for offset in (0, 16, 32, 48):
        r = CompiledNetworkSteps(net, args.batch, 0, 0, 0.0, lambda i, e: 0.0)
        v = net.initial_point(np.random.default_rng(0))
        r.bind(v, np.empty_like(v), [()])
        for name in ARRAYS:
            setattr(r, name, moved(getattr(r, name), offset))
        runners[offset] = r
    best = {offset: np.full(spans, np.inf) for offset in runners}
    for _ in range(args.repeat):
        for offset, r in runners.items():
            for i in range(spans):
                t0 = time.perf_counter()
                r.steps(perm, i * span, (i + 1) * span, 0, 0, None, True)
                best[offset][i] = min(best[offset][i], time.perf_counter() - t0)
    print(f"[784, {args.hidden}, 10], batch {args.batch}, {args.dtype}: µs per span of "
          f"{span // args.batch} steps, best of {args.repeat}")
    for offset, b in best.items():
        label = "on a line (as gdkit allocates)" if offset == 0 else f"{offset} bytes into a line"
        print(f"  working arrays {label:<32} {1e6 * b.mean():8.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--hidden", type=int, default=30)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    return rerun_fair(__file__, argv, timeout=1800)


if __name__ == "__main__":
    sys.exit(main())
