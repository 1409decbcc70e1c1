"""``gdkit train --step armijo`` against ``--step fixed``: seconds per epoch and their ratio.

Run from the repository root::

    python benchmarks/armijo_epoch.py                      # best of 3, interleaved
    python benchmarks/armijo_epoch.py --against ../other   # and another checkout's, interleaved

One epoch of the book's network ([784, 30, 10], batch 10, float64, seed 0),
each run a ``gdkit train`` child without ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE``, the epoch's seconds read from its ``--log`` (the time
``gdkit train`` prints: the steps, not the evaluation). The runs alternate
fixed, armijo (and each checkout in turn) so that the machine's load falls
on all alike; the best of ``--repeat`` is kept. ``--against DIR`` also runs
the checkout at DIR (its ``gdkit`` and ``plugins`` folders), for a before
and after in one run. The issue's target: armijo within 3× of fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchjson import write_results
from fair import fair_env

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST",
                              str(HERE.parent.parent / "shared" / "data" / "mnist"))
STEPS = ("fixed", "armijo")


def import_path(checkout: Path, work: Path) -> str:
    """A folder importing ``gdkit`` and ``gdkit_plugins`` from ``checkout``."""
    links = work / checkout.name
    links.mkdir(parents=True, exist_ok=True)
    for name, target in (("gdkit", "gdkit"), ("gdkit_plugins", "plugins")):
        link = links / name
        if not link.exists():
            link.symlink_to(checkout / target)
    return str(links)


def epoch_seconds(path: str, step: str, data: str, work: Path) -> tuple[float, float]:
    """One ``gdkit train --epochs 1`` child: (seconds of the epoch, test accuracy)."""
    env = fair_env()
    env["PYTHONPATH"] = path
    log = work / "log.jsonl"
    log.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "gdkit.cli", "train", "--epochs", "1", "--step", step,
           "--data", data, "-q", "--no-validate", "--log", str(log)]
    subprocess.run(cmd, env=env, cwd=work, check=True, capture_output=True, timeout=600)
    record = json.loads(log.read_text().splitlines()[-1])
    return float(record["seconds"]), float(record["accuracy"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--against", type=Path, help="another checkout to time alongside")
    p.add_argument("--out", type=Path, default=HERE / "results" / "armijo_epoch.json")
    args = p.parse_args(argv)
    checkouts = {"this": HERE.parent}
    if args.against is not None:
        checkouts["against"] = args.against.resolve()
    best: dict[str, dict[str, float]] = {name: {} for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = {name: import_path(path, work / name) for name, path in checkouts.items()}
        for r in range(args.repeat):
            for name, path in paths.items():
                for step in STEPS:
                    sec, acc = epoch_seconds(path, step, args.data, work)
                    best[name][step] = min(best[name].get(step, sec), sec)
                    print(f"round {r + 1}: {name:<7} {step:<6} {sec:6.3f} s  (accuracy {acc:.4f})",
                          flush=True)
    for name, secs in best.items():
        secs["ratio"] = secs["armijo"] / secs["fixed"]
        print(f"{name} ({checkouts[name]}): fixed {secs['fixed']:.3f} s, armijo "
              f"{secs['armijo']:.3f} s per epoch: armijo {secs['ratio']:.2f}× fixed "
              f"(best of {args.repeat})")
    write_results(args.out, {"best_seconds": best, "repeat": args.repeat,
                             "checkouts": {k: str(v) for k, v in checkouts.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
