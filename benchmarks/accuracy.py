"""Test accuracy of the book's MNIST networks trained by gdkit: every figure the README shows.

Run from the repository root (after ``pip install -e .``)::

    python benchmarks/accuracy.py            # every configuration, 30 epochs, seeds 0 1 2
    python benchmarks/accuracy.py --quick    # every configuration, 1 epoch, seed 0
    python benchmarks/accuracy.py --sizes 784 100 10 --cost cross-entropy --init scaled \\
        --eta 0.5 --epochs 5 --seeds 0       # one configuration of your own

Trains each configuration the README and ``docs/benchmarks.rst`` show (see
:data:`CONFIGS`: the [784, 30, 10], [784, 100, 10] and [784, 10] networks
with the book's quadratic cost and N(0, 1) start at η = 3.0, with its
chapter-3 cures at η = 0.5 and at η = 3.0, and the defaults on the numpy
path) by mini-batch SGD exactly as ``gdkit train`` does (batch 10, 30
epochs), once per seed, and records for each seed the test accuracy (over
the 10,000 test images) at the best validation epoch (chosen without the
test set), the best epoch's test accuracy, each digit's recall and the
seconds per epoch, and the medians over the seeds. The book reports about
95% ("95.42 percent" at its best epoch) for the defaults; the target here is
a median of at least 95.0%.

It also runs ``gdkit train`` itself: at its defaults (the README's sample
transcript, printed lines as they are), and for 3 epochs with each built-in
step size that takes mini-batches (``--step fixed``, ``armijo``,
``normalized``).

With the date, the machine (CPU model, cores, OS kernel), package versions,
the BLAS library, kernel and threads threadpoolctl reports (before and
during training), whether the compiled path was taken, and the load average
at the start and the end, the results go to the ``accuracy`` section of the
committed results file ``benchmarks/results/figures.json`` (a quick or
partial run: ``figures-quick.json``), rendered into the README and the docs
by ``python benchmarks/render.py``. After every configuration the figures
so far are written to ``benchmarks/results/accuracy-partial.json``, so an
interrupted run keeps what it did; the committed file is written only when
the whole set has run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import gdkit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # run as a script, it is sys.path[0]; imported, last
    sys.path.append(str(HERE))
from benchjson import (  # noqa: E402
    FIGURES,
    QUICK,
    blas_info,
    cpu_model,
    versions,
    write_results,
    write_section,
)
from fair import UNFAIR, fair_env  # noqa: E402

DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST", str(ROOT.parent / "shared" / "data" / "mnist"))
PARTIAL = HERE / "results" / "accuracy-partial.json"
TARGET = 0.95
NO_COMPILE = "GDKIT_NO_COMPILE"
FULL = {"epochs": 30, "seeds": [0, 1, 2], "batch_size": 10}
STEPS = ("fixed", "armijo", "normalized")  # the built-in step sizes that take mini-batches
STEP_EPOCHS = 3
RAN = (0, 3)  # gdkit train's statuses of a run that ran (3: a digit never recognised)


@dataclass(frozen=True)
class Config:
    """One network and its training: what a row of the README's tables shows."""

    sizes: tuple[int, ...]
    cost: str = "quadratic"
    init: str = "normal"
    eta: float = 3.0
    path: str = "default"  # "numpy": with GDKIT_NO_COMPILE=1

    @property
    def key(self) -> str:
        """A name for the configuration, e.g. ``784-30-10 quadratic normal 3.0``."""
        net = "-".join(map(str, self.sizes))
        return f"{net} {self.cost} {self.init} {self.eta:g}" + (
            " numpy" if self.path == "numpy" else "")


CE, SCALED = "cross-entropy", "scaled"  # the book's chapter-3 cures
CONFIGS = (
    Config((784, 30, 10)),  # gdkit train's defaults: the book's experiment
    Config((784, 30, 10), CE, SCALED, 0.5),
    Config((784, 100, 10)),
    Config((784, 100, 10), CE, SCALED, 0.5),
    Config((784, 10)),
    Config((784, 10), CE, SCALED, 0.5),
    Config((784, 30, 10), CE, SCALED),  # the cures at the defaults' η = 3.0
    Config((784, 100, 10), CE, SCALED),
    Config((784, 10), CE, SCALED),
    Config((784, 30, 10), path="numpy"),  # the defaults on the numpy path
)
"""Every configuration the README's and the docs' accuracy figures show."""

PACKAGES = ("gdkit", "numpy", "scipy", "numba", "threadpoolctl")
"""Whose versions the results record."""


# -- the machine ----------------------------------------------------------------------
def commit() -> str | None:
    """The checkout's commit (``-dirty`` when it has changes), if git can tell."""
    proc = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def machine() -> dict[str, Any]:
    """The machine a run measured: CPU, cores, OS and kernel, Python, versions."""
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "system": platform.system(),
            "kernel": platform.release(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions(PACKAGES)}


# -- training -------------------------------------------------------------------------
def _epoch_printer(seed: int, seen: dict[str, Any]) -> Any:
    """An observer printing each epoch; it records the BLAS threads in force once."""
    def on_epoch(intermediate_result: gdkit.Result) -> None:
        r = intermediate_result.record
        seen.setdefault("blas_during_training", blas_info())
        print(f"  seed {seed} epoch {intermediate_result.epoch:>2}: "
              f"{int(r['correct']):,} / {int(r['total']):,} ({100 * r['accuracy']:.2f}%)  "
              f"cost {r['cost']:.4g}  {r['seconds']:.2f} s", flush=True)
    return on_epoch


def _minimize(net: Any, config: Config, seed: int, epochs: int, batch_size: int,
              observer: Any) -> gdkit.Result:
    """``gdkit.minimize`` as ``gdkit train`` calls it, on ``config``'s path."""
    rule: Any = gdkit.step_rule("fixed", eta=config.eta)
    os.environ[NO_COMPILE] = "1" if config.path == "numpy" else "0"
    try:
        return gdkit.minimize(net, step=rule,
                              batch_size=batch_size, epochs=epochs, seed=seed,
                              observers=[observer])
    finally:
        del os.environ[NO_COMPILE]


def train_one(net: Any, config: Config, seed: int, epochs: int, batch_size: int,
              seen: dict[str, Any]) -> dict[str, Any]:
    """Train ``net`` once from ``seed``; its per-epoch and summary figures."""
    t0 = time.perf_counter()
    res = _minimize(net, config, seed, epochs, batch_size, _epoch_printer(seed, seen))
    acc, val = res.history["accuracy"], res.history["val_accuracy"]
    best, chosen = int(np.argmax(acc)), int(np.argmax(val))
    recall = np.array([res.history[f"recall_{k}"] for k in range(net.sizes[-1])])  # digit × epoch
    return {"seed": seed, "best_accuracy": float(acc[best]), "best_epoch": best + 1,
            "final_accuracy": float(acc[-1]), "accuracy": acc.tolist(),
            "val_accuracy": val.tolist(), "chosen_epoch": chosen + 1,
            "test_at_best_validation": float(acc[chosen]),
            "min_recall_at_chosen": float(recall[:, chosen].min()),
            "min_recall_per_epoch": recall.min(axis=0).tolist(),
            "final_recall": recall[:, -1].tolist(),
            "cost": res.history["cost"].tolist(), "seconds": res.history["seconds"].tolist(),
            "wall_seconds": time.perf_counter() - t0, "compiled": bool(res.compiled)}


def run_config(config: Config, args: argparse.Namespace, seen: dict[str, Any]) -> dict[str, Any]:
    """Every seed of one configuration, and the medians over the seeds."""
    t0, load = time.time(), os.getloadavg()[0]
    net = gdkit.objective("mnist-network", data=args.data, dtype=args.dtype,
                          sizes=config.sizes, cost=config.cost, init=config.init)
    print(f"{config.key}: {net!r}, {args.epochs} epochs, batch {args.batch_size}, "
          f"seeds {args.seeds}", flush=True)
    runs = [train_one(net, config, s, args.epochs, args.batch_size, seen) for s in args.seeds]
    return asdict(config) | {
        "key": config.key, "runs": runs, "compiled": all(r["compiled"] for r in runs),
        "median_test_at_best_validation": statistics.median(
            r["test_at_best_validation"] for r in runs),
        "median_best_accuracy": statistics.median(r["best_accuracy"] for r in runs),
        "median_seconds_per_epoch": statistics.median(s for r in runs for s in r["seconds"]),
        "load_average_at_start": load, "wall_seconds": time.time() - t0}


# -- gdkit train itself ---------------------------------------------------------------
def _gdkit_train(*args: str) -> subprocess.CompletedProcess[str]:
    """``gdkit train ARGS`` in a fresh process (this interpreter's gdkit), no progress bar."""
    cmd = [sys.executable, "-c", "import sys; from gdkit.cli import main; sys.exit(main())",
           "train", *args, "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode not in RAN:
        raise SystemExit(f"gdkit train {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    return proc


def takes_compiled(args: argparse.Namespace, step: str = "fixed") -> bool:
    """Whether ``gdkit train --step STEP`` at its defaults takes the compiled path: one
    step of the same ``minimize`` call, here."""
    net = gdkit.objective("mnist-network", data=args.data, dtype=args.dtype)
    rule: Any = gdkit.step_rule(step)
    res = gdkit.minimize(net, step=rule, batch_size=args.batch_size,
                         epochs=1, seed=0, max_iter=1)
    return bool(res.compiled)


def transcript(args: argparse.Namespace) -> dict[str, Any]:
    """``gdkit train`` at its defaults (its epochs, for a quick run): the lines it printed."""
    extra = [] if args.epochs == FULL["epochs"] else ["--epochs", str(args.epochs)]
    proc = _gdkit_train("--data", args.data, *extra)
    print(proc.stdout, end="", flush=True)
    return {"command": "gdkit train" + "".join(f" {a}" for a in extra),
            "status": proc.returncode, "lines": proc.stdout.splitlines(),
            "compiled": takes_compiled(args)}


def step_run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """``gdkit train --epochs 3 --step NAME`` at seed 0: test accuracy and seconds per epoch."""
    epochs = min(STEP_EPOCHS, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        proc = _gdkit_train("--data", args.data, "--epochs", str(epochs), "--step", name,
                            "--seed", "0", "--log", str(log))
        lines = [json.loads(line) for line in log.read_text().splitlines()]
    print(f"  --step {name}: " + ", ".join(f"{100 * r['accuracy']:.2f}% {r['seconds']:.2f} s"
                                           for r in lines), flush=True)
    return {"step": name, "epochs": epochs, "status": proc.returncode,
            "compiled": takes_compiled(args, name),
            "accuracy": [r["accuracy"] for r in lines], "seconds": [r["seconds"] for r in lines],
            "step_line": next((x for x in proc.stdout.splitlines()
                               if x.startswith("Training")), "")}


# -- the run --------------------------------------------------------------------------
def section(args: argparse.Namespace, state: dict[str, Any]) -> dict[str, Any]:
    """The results so far, as the ``accuracy`` section of the results file."""
    return {"benchmark": "accuracy",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state["t0"])),
            "commit": state["commit"], "complete": state["complete"], "full": args.full,
            "epochs": args.epochs,
            "seeds": args.seeds, "batch_size": args.batch_size, "dtype": args.dtype,
            "target": TARGET, "machine": state["machine"], "blas": state["blas"],
            "blas_during_training": state.get("blas_during_training"),
            "removed_env": state["removed_env"],
            "load_average": {"start": state["load_start"],
                             "end": state.get("load_end", list(os.getloadavg()))},
            "wall_seconds": time.time() - state["t0"], "configs": state["configs"],
            "transcript": state.get("transcript"), "steps": state.get("steps", [])}


def _save_progress(args: argparse.Namespace, state: dict[str, Any]) -> None:
    write_results(args.progress, section(args, state), indent=1)


def run_all(args: argparse.Namespace, configs: list[Config]) -> dict[str, Any]:
    """Every configuration, then ``gdkit train`` itself, saving progress after each."""
    state: dict[str, Any] = {
        "t0": time.time(), "load_start": list(os.getloadavg()), "machine": machine(),
        "commit": commit(),
        "blas": blas_info(), "removed_env": os.environ.get("GDKIT_BENCH_REMOVED", "").split(),
        "configs": [], "complete": False}
    for config in configs:
        state["configs"].append(run_config(config, args, state))
        _save_progress(args, state)
    if args.full or args.quick:
        state["transcript"] = transcript(args)
        state["steps"] = [step_run(name, args) for name in STEPS]
    state["load_end"] = list(os.getloadavg())
    state["complete"] = True
    return section(args, state)


def summary(results: dict[str, Any]) -> None:
    """Print a line per configuration: per-seed figures and medians."""
    print()
    print(f"{'configuration':<40} {'at best val (per seed)':<26} {'median':>7} {'best ep':>8} "
          f"{'min rec':>8} {'s/ep':>5}")
    for c in results["configs"]:
        per = " / ".join(f"{100 * r['test_at_best_validation']:.2f}" for r in c["runs"])
        low = min(r["min_recall_at_chosen"] for r in c["runs"])
        print(f"{c['key']:<40} {per:<26} {100 * c['median_test_at_best_validation']:>6.2f}% "
              f"{100 * c['median_best_accuracy']:>7.2f}% {100 * low:>7.2f}% "
              f"{c['median_seconds_per_epoch']:>5.2f}")
    path = "compiled" if results["configs"][0]["compiled"] else "numpy"
    med = results["configs"][0]["median_best_accuracy"]
    print(f"path of the first configuration: {path}; median best-epoch accuracy "
          f"{100 * med:.2f}% (target >= {100 * TARGET:.1f}%: "
          f"{'MET' if med >= TARGET else 'MISSED'}); {results['wall_seconds']:.0f} s in all")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``full``: the whole set at its settings (committable)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="MNIST directory")
    p.add_argument("--quick", action="store_true",
                   help="every configuration, 1 epoch, seed 0 (writes figures-quick.json)")
    p.add_argument("--epochs", type=int, default=None, help="default 30 (--quick: 1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    p.add_argument("--batch-size", type=int, default=FULL["batch_size"])
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="one configuration of your own (with --cost, --init, --eta)")
    p.add_argument("--cost", default="quadratic")
    p.add_argument("--init", default="normal")
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--out", type=Path, default=None, help="results file (default: "
                   "results/figures.json for a full run, results/figures-quick.json otherwise)")
    p.add_argument("--progress", type=Path, default=PARTIAL,
                   help="where the figures so far are written after every configuration")
    args = p.parse_args(argv)
    args.epochs = args.epochs or (1 if args.quick else FULL["epochs"])
    args.seeds = args.seeds or ([0] if args.quick else FULL["seeds"])
    args.full = (not args.quick and args.sizes is None and args.dtype == "float64"
                 and all(getattr(args, k) == v for k, v in FULL.items()))
    return args


def _without_unfair_env(argv: list[str] | None) -> None:
    """Run again without the variables that force OpenBLAS onto an older kernel."""
    found = [k for k in UNFAIR if k in os.environ]
    if found:
        env = fair_env()
        env["GDKIT_BENCH_REMOVED"] = " ".join(found)
        argv = sys.argv[1:] if argv is None else argv
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv], env)


def main(argv: list[str] | None = None) -> int:
    _without_unfair_env(argv)
    args = parse(argv)
    configs = list(CONFIGS) if args.sizes is None else [
        Config(tuple(args.sizes), args.cost, args.init, args.eta)]
    print(f"accuracy: {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()}; "
          f"{len(configs)} configuration(s), {args.epochs} epochs, seeds {args.seeds}",
          flush=True)
    results = run_all(args, configs)
    summary(results)
    out = args.out or (FIGURES if args.full else QUICK)
    write_section(out, "accuracy", results, complete=args.full)
    print(f"wrote the accuracy section of {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
