"""What a gradient costs: autograd, JAX, central differences and the analytic one.

Run from the repository root (after ``pip install -e '.[autodiff,jax]'``;
without JAX its column is left out)::

    python benchmarks/autodiff.py

On Rosenbrock's function at m = 10, 1,000 and 100,000 parameters it times
one gradient from each source (the best of ``--repeat``, each source in turn)
and reports it as a ratio to the analytic gradient
(:func:`scipy.optimize.rosen_der`). Central differences at m = 100,000 would
take 200,000 evaluations of C; there the time is **estimated** as 2m times
one measured evaluation, and marked so. JAX runs in its 64-bit mode (enabled
here), so every source computes in float64; its compile time (once per run)
is reported apart. Then, for m = 1,000, the time per step of
:func:`gdkit.minimize` (fixed η) with each source, as a ratio to the
analytic one: what the loop costs on top of the gradient, measured as the
difference between runs of 2N and N steps (so the fixed cost of a run, JAX's
compilation included, is reported apart as "per run").

Prints a table and writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from benchjson import write_results  # this folder is sys.path[0] when run as a script

import gdkit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
try:
    import jax
except ImportError:
    SOURCES: tuple[str, ...] = ("analytic", "autograd", "central")
else:
    jax.config.update("jax_enable_x64", True)
    SOURCES = ("analytic", "autograd", "jax", "central")
CENTRAL_LIMIT = 10_000  # above: estimated from one evaluation


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gradient_times(m: int, repeat: int) -> dict[str, Any]:
    obj = gdkit.objective("rosenbrock", dim=m)
    v = np.random.default_rng(0).uniform(-2, 2, m)
    out = np.empty_like(v)
    row: dict[str, Any] = {"m": m, "seconds": {}, "estimated": []}
    for name in SOURCES:
        src = gdkit.gradient_source(name)
        if name == "central" and m > CENTRAL_LIMIT:
            one = best(lambda: obj.cost(v), repeat)
            row["seconds"][name] = 2 * m * one
            row["estimated"].append(name)
            continue
        t0 = time.perf_counter()
        src.gradient(obj, v, out=out)  # warm up (imports, caches; JAX compiles here)
        first = time.perf_counter() - t0
        row["seconds"][name] = best(lambda src=src: src.gradient(obj, v, out=out), repeat)
        if name == "jax":
            row["jax_compile_seconds"] = first - row["seconds"][name]
    base = row["seconds"]["analytic"]
    row["ratio"] = {k: s / base for k, s in row["seconds"].items()}
    return row


def step_times(m: int, steps: int, repeat: int) -> dict[str, Any]:
    obj = gdkit.objective("rosenbrock", dim=m)
    v0 = np.full(m, 0.9)
    rule = gdkit.step_rule("fixed", eta=1e-4)
    per_step, per_run = {}, {}
    for name in SOURCES:
        def run(n: int, name: str = name) -> None:
            gdkit.minimize(obj, v0, gradient=name, step=rule, max_iter=n, gtol=0.0)
        run(steps)
        short = best(lambda: run(steps), repeat)
        long = best(lambda: run(2 * steps), repeat)
        per_step[name] = (long - short) / steps
        per_run[name] = short - steps * per_step[name]
    return {"m": m, "steps": steps, "seconds_per_step": per_step, "seconds_per_run": per_run,
            "ratio": {k: s / per_step["analytic"] for k, s in per_step.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 100_000])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    rows = []
    print(f"{'m':>8} " + " ".join(f"{s:>22}" for s in SOURCES))
    for m in args.sizes:
        r = gradient_times(m, args.repeat)
        rows.append(r)
        cells = [f"{r['seconds'][s] * 1e3:9.3f} ms ({r['ratio'][s]:7.1f}x)"
                 + ("*" if s in r["estimated"] else " ") for s in SOURCES]
        print(f"{m:>8} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    print("* estimated: 2m evaluations of C at the measured time of one")
    if "jax" in SOURCES:
        print("jax compile time (once per run): " + ", ".join(
            f"m = {r['m']:,} {r['jax_compile_seconds'] * 1e3:.0f} ms" for r in rows))
    loop = step_times(1_000, args.steps, args.repeat)
    print("gdkit.minimize per step, m = 1,000: " + ", ".join(
        f"{s} {loop['seconds_per_step'][s] * 1e6:.0f} us ({loop['ratio'][s]:.1f}x)"
        for s in SOURCES))
    print("  and per run (set-up, JAX's compilation): " + ", ".join(
        f"{s} {loop['seconds_per_run'][s] * 1e3:.1f} ms" for s in SOURCES))

    report = {"benchmark": "autodiff", "date": time.strftime("%Y-%m-%d"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "numpy": np.__version__, "load_average": os.getloadavg()},
              "gradients": rows, "minimize": loop, "settings": vars(args) | {"out": str(args.out)}}
    out = args.out or RESULTS / f"autodiff-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_results(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
