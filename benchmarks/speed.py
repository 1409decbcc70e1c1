"""Seconds per epoch of gdkit's training loop on MNIST, against a fair yardstick.

Run from the repository root (after ``pip install -e .``)::

    python benchmarks/speed.py            # the full grid, best of 3: see benchmarks/README.md
    python benchmarks/speed.py --quick    # a fifth of the data, best of 2, no start-up/memory

One epoch of mini-batch SGD (η = 3.0, quadratic cost) on the [784, H, 10]
sigmoid network over MNIST's 50,000 training images, for H = 30 and 100,
batch 10 and 100, float64 and float32, timed side by side:

- **default**: ``gdkit.minimize`` as ``gdkit train`` runs it (the compiled
  path when numba is installed); the time is the epoch's steps
  (``history["seconds"]``, what ``gdkit train`` prints);
- **numpy**: the same with ``GDKIT_NO_COMPILE=1`` (gdkit's numpy path);
- **hand, 1 thread** and **hand, BLAS default**: a minimal hand-written numpy
  loop (:func:`speed_loops.hand_epoch`) with the BLAS library limited to one
  thread, and as the library starts;
- **JAX**: the epoch as one compiled function (``jax.jit`` over ``lax.scan``),
  when JAX is installed; its compile time is reported apart;
- **book** (batch 10, H = 30 only): Nielsen's per-example ``network.py``, over
  5,000 examples, extrapolated to the epoch.

The yardstick is fair: every timed child process runs with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from its environment
(a machine that sets them forces OpenBLAS onto an older kernel that no user's
numpy runs), and prints the BLAS kernel and thread count threadpoolctl
reports. One child per dtype; in it, every cell times its contenders in
rounds, interleaved (the order rotating each round), and keeps the best of
``--repeat`` (the machine may be shared: the best run is the least
disturbed). Before timing, one step of gdkit (both paths) and of the hand
loop from the same parameters must agree.

Also measured (not with ``--quick``): the compiled path's first-run pause in
fresh ``gdkit train`` processes with an empty compile cache, then with it on
disk; the peak memory of ``gdkit train --epochs 1``; the loop's per-step
overhead on 2-D Rosenbrock against a hand-written loop.

Writes the ``speed`` section of the committed results file,
``benchmarks/results/figures.json`` (a ``--quick`` or partial run: of
``figures-quick.json``, never committed), with the date, machine, CPU model,
BLAS kernel, load average and every cell; ``python benchmarks/render.py``
renders the README's and the docs' speed tables from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # run as a script, it is sys.path[0]; imported, last
    sys.path.append(str(HERE))
from benchjson import (  # noqa: E402  (a sibling module)
    FIGURES,
    QUICK,
    blas_info,
    cpu_model,
    versions,
    write_section,
)
from fair import UNFAIR, fair_env  # noqa: E402  (removed from every timed child)

DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST", str(ROOT.parent / "shared" / "data" / "mnist"))
NO_COMPILE = "GDKIT_NO_COMPILE"
CONTENDERS = ("default", "numpy", "hand_1", "hand_lib", "jax", "book")
CHILD_TIMEOUT = 3600.0
BOOK_EXAMPLES = 5000


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables that handicap OpenBLAS
    and without ``GDKIT_NO_COMPILE``, plus ``extra``."""
    env = fair_env(NO_COMPILE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH"))
                                        if p)
    return env | extra


# -- the child: one dtype, every cell -----------------------------------------------
def _gdkit_epoch(net: Any, v0: Any, batch: int, seed: int, compiled: bool,
                 max_iter: int | None = None) -> tuple[float, Any, bool]:
    import gdkit
    os.environ[NO_COMPILE] = "0" if compiled else "1"
    try:
        res = gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=3.0), batch_size=batch,
                             epochs=1, seed=seed, max_iter=max_iter)
    finally:
        del os.environ[NO_COMPILE]
    return float(res.history["seconds"][0]), res.x, bool(res.compiled)


def _first_step_agrees(net: Any, v0: Any, batch: int) -> float:
    """The largest difference after one step of both gdkit paths and the hand loop."""
    import numpy as np
    from speed_loops import hand_epoch
    shuffle = np.random.default_rng(np.random.SeedSequence(0).spawn(2)[1])  # gdkit's, seed 0
    perm = shuffle.permutation(net.n_samples)
    xs = [_gdkit_epoch(net, v0, batch, 0, c, max_iter=1)[1] for c in (False, True)]
    ws, bs = (list(p) for p in net.unpack(v0.copy()))
    hand_epoch(net.inputs, net.targets, ws, bs, perm, batch, n_batches=1)
    x_hand = np.concatenate([a.ravel() for pair in zip(ws, bs, strict=True) for a in pair])
    return max(float(np.max(np.abs(x - x_hand))) for x in xs)


def _contenders(net: Any, v0: Any, batch: int, dtype: str, book: bool) -> dict[str, Any]:
    """name -> f(round) -> seconds for one epoch; plus what they report."""
    import numpy as np
    from speed_loops import JaxEpoch, book_epoch, hand_epoch, jax_epoch_fn
    from threadpoolctl import threadpool_limits

    def perm(r: int) -> Any:
        return np.random.default_rng(100 + r).permutation(net.n_samples)

    def hand(r: int, threads: int | None) -> float:
        ws, bs = (list(p) for p in net.unpack(v0.copy()))
        if threads is None:
            return hand_epoch(net.inputs, net.targets, ws, bs, perm(r), batch)
        with threadpool_limits(threads, user_api="blas"):
            return hand_epoch(net.inputs, net.targets, ws, bs, perm(r), batch)

    info: dict[str, Any] = {}

    def default(r: int) -> float:
        s, _, info["default_compiled"] = _gdkit_epoch(net, v0, batch, r, True)
        return s

    out: dict[str, Any] = {
        "default": default, "numpy": lambda r: _gdkit_epoch(net, v0, batch, r, False)[0],
        "hand_1": lambda r: hand(r, 1), "hand_lib": lambda r: hand(r, None)}
    fn = jax_epoch_fn(dtype)
    if fn is not None:
        ws, bs = net.unpack(v0.copy())
        jx = JaxEpoch(fn, net.inputs, net.targets, ws, bs, perm(0), batch)
        info["jax_compile_s"] = jx.compile_s
        out["jax"] = lambda r: jx.run()
    if book:
        def run_book(r: int) -> float:
            ws, bs = net.unpack(v0.copy())
            return book_epoch(net.inputs, net.targets, ws, bs, perm(r), batch,
                              BOOK_EXAMPLES)[0]
        out["book"] = run_book
    return out | {"info": info}


def time_cell(net: Any, hidden: int, batch: int, dtype: str, repeat: int) -> dict[str, Any]:
    """Every contender on one cell, in ``repeat`` interleaved rounds: the best of each."""
    import numpy as np
    v0 = net.initial_point(np.random.default_rng(0))
    diff = _first_step_agrees(net, v0, batch)
    if not diff <= (1e-10 if dtype == "float64" else 1e-4):
        raise SystemExit(f"gdkit and the hand loop disagree after one step (H={hidden}, batch "
                         f"{batch}, {dtype}): max |Δv| = {diff:.3g}")
    funcs = _contenders(net, v0, batch, dtype, book=(hidden, batch) == (30, 10))
    info = funcs.pop("info")
    names = list(funcs)
    runs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        for name in names[r % len(names):] + names[:r % len(names)]:
            runs[name].append(funcs[name](r))
    best = {n: min(ts) for n, ts in runs.items()}
    print(f"  {dtype} H={hidden:<3} batch {batch:<3}: " + "  ".join(
        f"{n} {s:.3f}" for n, s in best.items()), file=sys.stderr, flush=True)
    return {"hidden": hidden, "batch_size": batch, "dtype": dtype, "seconds": best,
            "runs": runs, "check_max_abs_diff": diff} | info


def rosenbrock_overhead(n_iter: int = 20_000, repeat: int = 3) -> dict[str, float]:
    """``minimize``'s per-step time on 2-D Rosenbrock (full batch, fixed η) against
    :func:`speed_loops.hand_descent` doing the same work per step."""
    import numpy as np
    from speed_loops import hand_descent

    import gdkit
    v0, eta, gt, ht = np.array([-1.2, 1.0]), 1e-3, [], []
    for _ in range(repeat):
        obj, step = gdkit.objective("rosenbrock", dim=2), gdkit.step_rule("fixed", eta=eta)
        t0 = time.perf_counter()
        res = gdkit.minimize(obj, v0, step=step, max_iter=n_iter, gtol=0.0)
        gt.append(time.perf_counter() - t0)
        h, x = hand_descent(v0, eta, n_iter)
        ht.append(h)
        if not np.allclose(res.x, x, rtol=0, atol=1e-12):
            raise SystemExit("Rosenbrock: gdkit and the hand-written loop disagree")
    return {"gdkit_us": 1e6 * min(gt) / n_iter, "hand_us": 1e6 * min(ht) / n_iter,
            "overhead": min(gt) / min(ht)}


def child(args: argparse.Namespace) -> int:
    """Time every cell of one dtype; print the results as JSON on stdout."""
    left = [k for k in UNFAIR if k in os.environ]
    if left:
        raise SystemExit(f"the timed child still has {left} set")
    from gdkit_plugins.network import Network

    import gdkit
    blas = blas_info()
    print(f"child {args.child}: BLAS " + ", ".join(
        f"{b['internal_api']} {b['version']} kernel {b['architecture']} threads {b['num_threads']}"
        for b in blas), file=sys.stderr, flush=True)
    base = gdkit.objective("mnist-network", data=args.data, dtype=args.child,
                           n_train=args.n_train, validate=False)
    cells = []
    for h in args.hidden:
        net = base if h == 30 else Network((784, h, 10), base.inputs, base.targets,
                                           dtype=args.child)
        cells += [time_cell(net, h, b, args.child, args.repeat) for b in args.batch_sizes]
    out: dict[str, Any] = {"dtype": args.child, "blas": blas, "cells": cells}
    if args.child == "float64" and not args.quick:
        out["rosenbrock"] = rosenbrock_overhead()
    print(json.dumps(out))
    return 0


# -- the parent ---------------------------------------------------------------------
def run_child(args: argparse.Namespace, dtype: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", dtype, "--data", args.data,
           "--repeat", str(args.repeat), "--hidden", *map(str, args.hidden),
           "--batch-sizes", *map(str, args.batch_sizes)]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--n-train", str(args.n_train)] if args.n_train else []
    proc = subprocess.run(cmd, env=clean_env(), stdout=subprocess.PIPE, text=True, check=True,
                          timeout=CHILD_TIMEOUT)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def is_full(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for the full grid on every training image (a run that
    may write the committed results file)."""
    return (not args.quick and args.n_train is None and sorted(args.hidden) == [30, 100]
            and sorted(args.batch_sizes) == [10, 100]
            and sorted(args.dtypes) == ["float32", "float64"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="MNIST directory")
    p.add_argument("--quick", action="store_true",
                   help="10,000 training images, best of 2, no start-up or memory runs; "
                   "writes figures-quick.json")
    p.add_argument("--repeat", type=int, default=None, help="rounds per cell (default 3)")
    p.add_argument("--hidden", type=int, nargs="+", default=[30, 100])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100])
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    p.add_argument("--n-train", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child", choices=["float64", "float32"], help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None,
                   help="results file (default: results/figures.json for a full run, "
                   "results/figures-quick.json otherwise)")
    args = p.parse_args(argv)
    args.repeat = args.repeat or (2 if args.quick else 3)
    if args.quick and args.n_train is None:
        args.n_train = 10_000
    if args.child:
        return child(args)

    from speed_report import extra_runs, summarize  # the parent's half, apart
    t0 = time.time()
    start_load = list(os.getloadavg())
    print(f"speed: {cpu_model()}, {os.cpu_count()} CPUs, load average {start_load}; timed "
          f"children run without {', '.join(UNFAIR)}", flush=True)
    children = [run_child(args, d) for d in args.dtypes]
    extras = {} if args.quick else extra_runs(args.data, clean_env)
    results = {
        "benchmark": "speed", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "quick": args.quick, "n_train": args.n_train or 50_000, "repeat": args.repeat,
        "machine": {"cpu_model": cpu_model(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "versions": versions(("gdkit", "numpy", "scipy", "numba", "jax"))},
        "blas": children[0]["blas"], "removed_env": list(UNFAIR),
        "cells": [c for ch in children for c in ch["cells"]],
        "rosenbrock": next((ch["rosenbrock"] for ch in children if "rosenbrock" in ch), None),
    } | extras
    results["load_average"] = {"start": start_load, "end": list(os.getloadavg())}
    results["wall_seconds"] = time.time() - t0
    results["targets"] = summarize(results)
    complete = is_full(args)
    out = args.out or (FIGURES if complete else QUICK)
    write_section(out, "speed", results, complete=complete)
    print(f"wrote the speed section of {out} ({results['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
