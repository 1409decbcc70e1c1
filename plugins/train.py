"""The ``gdkit train`` command: the book's MNIST network by mini-batch SGD.

A command like any third-party one (``gdkit_commands``): it builds the
``mnist-network`` objective and the step rule by name, runs
:func:`gdkit.minimize` with a checkpoint, a progress bar and a per-epoch log,
and prints the test accuracy after each epoch as the book does::

    gdkit train --data ../shared/data/mnist --epochs 30 --eta 3.0
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

import gdkit
from gdkit import threads
from gdkit.checkpoint import load_checkpoint
from gdkit.command import EXIT_ERROR, EXIT_PIPE, parse_options, silence_stdout
from gdkit.errors import (
    CheckpointError,
    ConfigError,
    DivergenceError,
    GdkitError,
    Interrupted,
)
from gdkit.files import check_target, leftovers
from gdkit.progress import ProgressBar, show_progress
from gdkit.result import STOPPED
from gdkit.validate import argument, choice, integer, number

from .network import INITS, MNIST_SIZES, save_network

__all__ = ["Train"]

OBJECTIVE: Final = "mnist-network"
DEFAULT_ETA: Final = 3.0
CHANCE: Final = 1.5
"""A final accuracy at or below CHANCE / classes (15% for ten digits) is
reported as a failed run: guessing does as well."""
SATURATED: Final = 0.9
"""A run whose final network has this fraction of its activations stuck at
exactly 0 or 1 is reported as failed, whatever its epochs did (the book's
network trained with η = 3 stays near 1%)."""

# The options that define the run; a checkpoint stores them, and a resume
# takes them from there (explicit flags must agree).
CONFIG: Final = ("sizes", "epochs", "batch_size", "eta", "step", "step_option", "seed", "data",
                 "dtype", "n_train", "cost", "init", "validate", "early_stop")
ADDED: Final[dict[str, Any]] = {"cost": "quadratic", "init": "normal", "validate": True,
                                "early_stop": None}
"""Settings newer than some checkpoints, and what a run without them did."""
STUCK: Final = 0.02
"""An output neuron is stuck when its class's recall on the test images is
below this (it wins for almost none of its own inputs)..."""
STUCK_EPOCHS: Final = 10
"""... for this many epochs in a row, or at the last epoch. (The book's
[784, 30, 10] network at seed 1 has a neuron stuck for its first 5 epochs
that then learns; at [784, 100, 10] seed 0 one stays stuck all 30.)"""


class Train:
    """Train the book's MNIST network [784, 30, 10] by mini-batch SGD."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The ``gdkit train`` options."""
        parser.description = ("Train Nielsen's sigmoid network on MNIST (the mnist-network "
                              "objective) by mini-batch SGD, printing the test accuracy after "
                              "each epoch.")
        add = parser.add_argument
        add("--sizes", type=argument(integer, minimum=1), nargs="+", default=list(MNIST_SIZES),
            metavar="N", help="neurons per layer, 784 first and 10 last (default 784 30 10)")
        add("--epochs", type=argument(integer, minimum=1), default=30, help="epochs (default 30)")
        add("--batch-size", type=argument(integer, minimum=1), default=10,
            help="mini-batch size (default 10)")
        add("--eta", type=argument(number, low=0.0), default=None,
            help=f"the fixed step size's learning rate η (default {DEFAULT_ETA})")
        add("--step", default="fixed", metavar="PARTS",
            help="step rule: a step size, or transforms and a step size separated by commas, "
                 "e.g. momentum,fixed (default fixed)")
        add("--step-option", action="append", metavar="[PART.]KEY=VALUE",
            help="option of one part of the step, e.g. --step-option momentum.beta=0.9 or "
                 "--step-option 'fixed.schedule=cosine(steps=150000)'; an unqualified "
                 "KEY=VALUE configures the last part (repeatable)")
        add("--seed", type=argument(integer, minimum=0), default=0,
            help="seed of the start and the shuffles (default 0; same seed, same numbers)")
        add("--data", metavar="DIR", default=None,
            help="directory holding the four MNIST IDX files (default: $GDKIT_DATA, then the "
                 "user cache)")
        add("--download", action=argparse.BooleanOptionalAction, default=None,
            help="download MNIST into the user cache if it is not found (default: yes unless "
                 "--data is given)")
        add("--dtype", choices=("float64", "float32"), default="float64",
            help="floating dtype of the data and parameters (default float64)")
        add("--n-train", type=argument(integer, minimum=1), default=None, metavar="N",
            help="train on the first N training images only (quick runs)")
        add("--cost", default="quadratic", metavar="NAME",
            help="the output layer and its cost: quadratic (eq. 6, the default), "
                 "cross-entropy, log-likelihood (softmax), or a plugin's (see gdkit plugins)")
        add("--init", choices=INITS, default="normal",
            help="the start: normal, every weight and bias N(0, 1) as in the book (default), "
                 "or scaled, weights N(0, 1/n_in)")
        add("--validate", action=argparse.BooleanOptionalAction, default=True,
            help="score the 10,000 validation images (the last of the training file, never "
                 "trained on) after each epoch, and with --save keep the parameters of the "
                 "best validation epoch (default: yes)")
        add("--early-stop", type=argument(integer, minimum=1), default=None, metavar="N",
            help="stop when the validation accuracy has not improved for N epochs (the "
                 "book's no-improvement-in-N rule; needs --validate)")
        add("--threads", type=threads.parse, default="auto", metavar="N|auto",
            help=threads.THREADS_HELP)
        add("--log", metavar="FILE", default=None,
            help="write one JSON line per epoch (epoch, cost, accuracy, seconds, ...)")
        add("--save", metavar="FILE.npz", default=None,
            help="save the final parameters, sizes and dtype (.npz, no pickle)")
        add("--plot", metavar="FILE", default=None,
            help="draw the learning curve (test accuracy, cost and η per epoch) to this .png, "
                 ".svg or .pdf at the end, or when stopped; needs gdkit[plot]")
        add("--progress", action=argparse.BooleanOptionalAction, default=None,
            help="a progress bar within each epoch on stderr (default: on a terminal)")
        add("-q", "--quiet", action="store_true", help="no progress bar (--no-progress)")
        add("--checkpoint", metavar="FILE.npz", default=None,
            help="save the whole run state after every epoch; Ctrl-C (SIGINT) or SIGTERM then "
                 "saves mid-epoch and prints the command to resume")
        add("--resume", metavar="FILE.npz", default=None,
            help="continue the run saved in this checkpoint with its configuration (and keep "
                 "checkpointing into it unless --checkpoint is given)")
        add("--allow-config-change", action="store_true",
            help="with --resume: let explicit flags differ from the checkpoint's run")

    def run(self, args: argparse.Namespace) -> int:
        """Train; 0 on success, 1 if the run failed, 128 + signal if interrupted."""
        return _Run(args).main()


class _EpochBar:
    """:func:`gdkit.minimize`'s ``progress(epoch, done, total)``, one bar an epoch."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: ProgressBar | None = None
        self.epoch = -1

    def __call__(self, epoch: int, done: int, total: int) -> None:
        if self.bar is None or epoch != self.epoch:
            self.close()
            self.bar, self.epoch = ProgressBar(self.stream, f"Epoch {epoch}", total,
                                               unit="mini-batches"), epoch
        self.bar.update(done)

    def close(self) -> None:
        """Erase the bar (before the epoch's line is printed)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Run:
    """One ``gdkit train`` run: the checks, the training, the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.last: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []  # every epoch's record, for --plot
        self.log: IO[str] | None = None
        self.best = _Best(args.resume)
        self.early_stopped = False
        self.stuck_said = False
        self.stuck_for: dict[int, int] = {}  # output neuron → epochs stuck in a row
        show = show_progress(sys.stderr, False if args.quiet else args.progress)
        self.bar = _EpochBar(sys.stderr) if show else None

    def main(self) -> int:
        args = self.args
        # Everything that can be checked before loading the data is checked first.
        if args.resume is not None:
            _take_resumed_config(args)
        elif args.allow_config_change:
            raise ConfigError("--allow-config-change only makes sense with --resume PATH.")
        if args.early_stop is not None and not args.validate:
            raise ConfigError("--early-stop N watches the validation accuracy: drop "
                              "--no-validate, or --early-stop.")
        gdkit.cost(args.cost)  # a wrong name fails now, before the data are read
        rule = _step_rule(args)
        if args.download and args.data is not None:
            raise ConfigError("--download fetches MNIST into the user cache; with --data DIR the "
                              "four files must already be in DIR. Drop one of the two options.")
        _check_outputs(args)
        if args.plot is not None:
            self.records = _records_so_far(args.resume)
        net = gdkit.objective(OBJECTIVE, **_objective_config(args))
        self.log = _open_log(args.log, append=args.resume is not None)
        print(f"Training {net!r}: step {rule!r}, mini-batches of {args.batch_size}, "
              f"{args.epochs} epochs, seed {args.seed}", flush=True)
        self.settings = {"epochs": args.epochs, "batch_size": args.batch_size,
                         "seed": args.seed, "step": repr(rule)}
        checkpoint = args.checkpoint if args.checkpoint is not None else args.resume
        try:
            with _signals_stop_the_run(checkpoint):
                res = gdkit.minimize(
                    net, step=rule, batch_size=args.batch_size, epochs=args.epochs,
                    seed=args.seed, callback=self.on_epoch, progress=self.bar, threads=args.threads,
                    checkpoint=checkpoint, resume=args.resume,
                    allow_config_change=args.allow_config_change,
                    run_info={"train": {k: _jsonable(getattr(args, k)) for k in CONFIG}})
        except DivergenceError as exc:
            if exc.last_finite_cost is not None:  # the library's advice, in this command's flags
                exc.cli = exc.what + ("try a smaller η (--eta) or an adaptive rule such as "
                                      "--step armijo.")
            raise
        except Interrupted as exc:
            self._close_bar()
            print(f"gdkit train: {exc}\nResume it with:\n  {_resume_command(args, exc.checkpoint)}",
                  file=sys.stderr)
            self._plot()
            return 128 + exc.signum
        except KeyboardInterrupt as exc:
            self._close_bar()
            return self._interrupted(getattr(exc, "signum", signal.SIGINT))
        finally:
            if self.log is not None:
                with contextlib.suppress(OSError):  # each line was flushed, or its error told
                    self.log.close()
        return self._report(res)

    def on_epoch(self, intermediate_result: gdkit.Result) -> bool:
        """Print and log the epoch; True (stop) when --early-stop says so."""
        self._close_bar()
        epoch, record = int(intermediate_result.epoch), dict(intermediate_result.record)
        self.last.update(epoch=epoch, x=intermediate_result.x, record=_plain_record(record))
        self.records.append({"epoch": epoch, **record})
        try:
            print(_epoch_line(epoch, record), flush=True)
        except BrokenPipeError:  # the reader went away (| head): stop, keeping the work
            silence_stdout()
            raise _Stopped(signal.SIGPIPE) from None
        if self.log is not None:
            try:
                self.log.write(json.dumps({"epoch": epoch, **_plain_record(record)}) + "\n")
                self.log.flush()
            except OSError as exc:
                kept = self.args.checkpoint or self.args.resume
                raise GdkitError(
                    f"--log: cannot write {self.args.log} ({exc.strerror or exc}) after epoch "
                    f"{epoch}; the run stopped"
                    + (f", its state after epoch {epoch} is in {kept}." if kept else ".")
                ) from None
        self.best.update(epoch, record, intermediate_result.x)
        patience = self.args.early_stop
        stop = patience is not None and self.best.epoch > 0 and epoch - self.best.epoch >= patience
        self._say_if_stuck(epoch, record, final=stop or epoch >= self.args.epochs)
        if stop:
            self.early_stopped = True
            print(f"Stopping early: the validation accuracy has not improved for {patience} "
                  f"epoch(s) since epoch {self.best.epoch} "
                  f"({100 * self.best.accuracy:.2f}%).", flush=True)
            return True
        return False

    def _say_if_stuck(self, epoch: int, record: dict[str, float], *, final: bool) -> None:
        """Once a run: name the output neurons that (almost) never win on their
        digits, for STUCK_EPOCHS epochs in a row or at the last epoch."""
        classes = int(self.args.sizes[-1])
        for k in range(classes):
            low = record.get(f"recall_{k}", 1.0) < STUCK
            self.stuck_for[k] = self.stuck_for.get(k, 0) + 1 if low else 0
        stuck = [k for k, n in self.stuck_for.items() if n and (final or n >= STUCK_EPOCHS)]
        if self.stuck_said or not stuck or record.get("accuracy", 0.0) <= CHANCE / classes:
            return  # said, nothing stuck, or nothing learned at all (told at the end)
        self.stuck_said = True
        epochs = max(self.stuck_for[k] for k in stuck)
        which = ", ".join(f"{k} ({100 * record[f'recall_{k}']:.2f}%)" for k in stuck)
        cures = []
        why = ""
        if self.args.cost == "quadratic":
            cures.append("--cost cross-entropy")
            why = (" Its sigmoid is saturated at the wrong value, where the quadratic cost's "
                   "gradient (a − y)σ'(z) all but vanishes.")
        if self.args.init == "normal":
            cures.append("--init scaled")
        lower = " (with a smaller η: the book takes 0.5)" if "--cost cross-entropy" in cures \
            else ""
        cure = (f" The book's cure (ch. 3): {' '.join(cures)}{lower}." if cures
                else " Try another seed or a smaller η.")
        print(f"gdkit train: warning: stuck output neuron(s) after epoch {epoch}: digit(s) "
              f"{which} recognised in under {100 * STUCK:.0f}% of their test images for "
              f"{epochs} epoch(s) in a row.{why}{cure}", file=sys.stderr, flush=True)

    def _print_best(self, res: gdkit.Result) -> None:
        """The best epoch: chosen on the validation set when there is one."""
        hist = res.history
        if "val_accuracy" in hist and np.isfinite(hist["val_accuracy"]).any():
            i = int(np.nanargmax(hist["val_accuracy"]))  # the first of equals, as _Best
            test = f", test accuracy {100.0 * hist['accuracy'][i]:.2f}%" \
                if "accuracy" in hist else ""
            print(f"Best validation: epoch {i + 1}, validation accuracy "
                  f"{100.0 * hist['val_accuracy'][i]:.2f}%{test}", flush=True)
            return
        accuracy = hist["accuracy"] if "accuracy" in hist else np.empty(0)
        if np.isfinite(accuracy).any():  # over the whole run, epochs before a resume included
            i = int(np.nanargmax(accuracy))
            print(f"Best: epoch {i + 1}, accuracy {100.0 * accuracy[i]:.2f}% (chosen on the "
                  "test set: use --validate to choose without it)", flush=True)

    def _chosen(self, final: Any = None, epochs: int = 0) -> tuple[Any, int, dict[str, Any]]:
        """What --save keeps: the best validation epoch's parameters when this
        process saw that epoch, else the last epoch's (``final`` when given)."""
        if self.best.x is not None:
            return self.best.x, self.best.epoch, self.best.record
        if self.best.epoch and self.best.epoch not in (self.last.get("epoch"), epochs):
            print(f"gdkit train: note: the best validation epoch, {self.best.epoch}, ran before "
                  "the resume and its parameters were not kept: saving the last epoch's.",
                  file=sys.stderr)
        if final is not None:
            return final, epochs, self.last.get("record", {})
        return self.last["x"], int(self.last["epoch"]), self.last["record"]

    def _plot(self, stream: IO[str] = sys.stderr) -> None:
        """--plot: the learning curve of every epoch so far (before a resume too)."""
        if self.args.plot is None or not self.records:
            return
        from gdkit.plot import curves, save

        columns = {k: [r.get(k, math.nan) for r in self.records]
                   for k in dict.fromkeys(k for r in self.records for k in r)}
        save(curves([columns], title=f"gdkit train: {len(self.records)} epoch(s)"),
             self.args.plot)
        print(f"Saved the learning curve to {self.args.plot}", file=stream, flush=True)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _interrupted(self, signum: int) -> int:
        """Ctrl-C, SIGTERM or a closed pipe without a checkpoint: keep the last
        complete epoch in --save."""
        args, done = self.args, self.last.get("epoch", 0)
        why = "stdout closed" if signum == signal.SIGPIPE else signal.Signals(signum).name
        msg = f"gdkit train: stopped ({why}) after {done} complete epoch(s)"
        if args.save is not None and done:
            x, epoch, record = self._chosen()
            save_network(args.save, x, args.sizes,
                         {**self.settings, "epochs_done": done, "interrupted": True,
                          "epoch": epoch, "record": record})
            msg += f"; saved the parameters after epoch {epoch} to {args.save}"
        print(msg + ".", file=sys.stderr)
        self._plot()
        return EXIT_PIPE if signum == signal.SIGPIPE else 128 + signum

    def _report(self, res: gdkit.Result) -> int:
        args = self.args
        if args.resume is not None and not self.last and res.epochs >= args.epochs:
            print(f"gdkit train: the run in {args.resume} is already complete ({res.epochs} of "
                  f"{args.epochs} epochs): nothing to train. To train further, pass --epochs N "
                  "(more) with --allow-config-change.", file=sys.stderr)
        self._print_best(res)
        if args.save is not None:
            x, epoch, record = self._chosen(res.x, int(res.epochs))
            save_network(args.save, x, args.sizes,
                         {**self.settings, "epochs_done": int(res.epochs), "interrupted": False,
                          "epoch": epoch, "record": record})
            print(f"Saved the parameters of epoch {epoch} to {args.save}", flush=True)
        self._plot(sys.stdout)
        if not res.success and not (self.early_stopped and res.status == STOPPED):
            print(f"gdkit train: {res.message}", file=sys.stderr)
            return EXIT_ERROR
        verdict = _learned_nothing(res, int(args.sizes[-1]))
        if verdict:
            print(f"gdkit train: no success: {verdict}", file=sys.stderr)
            return EXIT_ERROR
        return 0


class _Best:
    """The best validation accuracy so far, its epoch, and (if this process
    saw it) a copy of its parameters and record. The first of equals wins."""

    def __init__(self, resume: str | None) -> None:
        self.accuracy, self.epoch = -math.inf, 0
        self.x: Any = None
        self.record: dict[str, Any] = {}
        if resume is not None:  # the epochs before the resume count, without parameters
            val = load_checkpoint(resume).history.get("val_accuracy")
            if val is not None and np.isfinite(val).any():
                i = int(np.nanargmax(val))
                self.accuracy, self.epoch = float(val[i]), i + 1

    def update(self, epoch: int, record: dict[str, float], x: Any) -> None:
        val = record.get("val_accuracy")
        if val is not None and val > self.accuracy:
            self.accuracy, self.epoch = float(val), epoch
            self.x, self.record = np.array(x, copy=True), _plain_record(record)


def _learned_nothing(res: gdkit.Result, classes: int) -> str:
    """Why a run whose epochs all ran did not train the network, or ""."""
    last = {k: float(res.history[k][-1]) for k in ("saturated", "accuracy")
            if k in res.history and len(res.history[k])}
    if last.get("saturated", 0.0) >= SATURATED:
        return (f"the network saturated. {100 * last['saturated']:.0f}% of its neurons' "
                "activations on the test images are exactly 0 or 1, where no gradient flows "
                "back, so it stopped learning: the steps were far too large. Try a smaller η "
                f"(--eta, default {DEFAULT_ETA}).")
    if last.get("accuracy", 1.0) <= CHANCE / classes:
        return (f"the test accuracy {100 * last['accuracy']:.2f}% is no better than guessing "
                f"one of {classes} classes: the network learned nothing. Try another η or step "
                "rule, more epochs or more training images.")
    return ""


def _objective_config(args: argparse.Namespace) -> dict[str, Any]:
    download = (args.data is None) if args.download is None else args.download
    config: dict[str, Any] = {"sizes": tuple(args.sizes), "dtype": args.dtype,
                              "download": download, "cost": args.cost, "init": args.init,
                              "validate": args.validate}
    if args.data is not None:
        config["data"] = args.data
    if args.n_train is not None:
        config["n_train"] = args.n_train
    return config


def _step_rule(args: argparse.Namespace) -> Any:
    """The step rule of ``--step`` and ``--step-option``; ``--eta`` is the fixed step's η."""
    opts = parse_options(args.step_option)
    last = args.step.split(",")[-1].strip()
    if last == "fixed":
        given = [k for k in ("eta", "fixed.eta") if k in opts]
        if given and args.eta is not None:
            raise ConfigError("give the fixed step size's η once: --eta or --step-option "
                              f"{given[0]}=..., not both.")
        if not given:
            opts["fixed.eta"] = DEFAULT_ETA if args.eta is None else args.eta
    elif args.eta is not None:
        raise ConfigError(f"--eta sets the 'fixed' step size's η; the step {args.step!r} takes "
                          "its options from --step-option PART.KEY=VALUE (see its "
                          "documentation).")
    return gdkit.step_rule(args.step, **opts)


def _open_log(path: str | None, *, append: bool = False) -> IO[str] | None:
    if path is None:
        return None
    try:
        return open(path, "a" if append else "w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--log: cannot write {path}: {exc.strerror or exc}. "
                          "Give a file in an existing, writable directory.") from None


class _Stopped(KeyboardInterrupt):
    """A signal (or a closed stdout) that ends the run like Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_stop_the_run(checkpoint: str | None) -> Iterator[None]:
    """Without a checkpoint, SIGTERM ends the run as Ctrl-C does (the last
    complete epoch goes to --save); with one, gdkit.minimize saves mid-epoch."""
    if checkpoint is not None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _records_so_far(resume: str | None) -> list[dict[str, Any]]:
    """The epochs a resumed run already has, from its checkpoint's history."""
    if resume is None:
        return []
    hist = load_checkpoint(resume).history
    rows = len(next(iter(hist.values()), []))
    return [{"epoch": i + 1, **{k: col[i] for k, col in hist.items()}} for i in range(rows)]


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path is writable, and no two name one file, before any work."""
    if args.plot is not None:
        from gdkit.plot.figure import check_picture

        check_picture(args.plot, "--plot")  # its format, and matplotlib, too
    outputs = {"--save": args.save, "--checkpoint": args.checkpoint or args.resume,
               "--log": args.log, "--plot": args.plot}
    seen: dict[Path, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        real = check_target(path, flag, stream=flag == "--log").resolve()
        if flag == "--save":  # a killed run's half-written model (checkpoints: on claim)
            for leftover in leftovers(real):
                leftover.unlink(missing_ok=True)
        if real in seen:
            raise ConfigError(f"{seen[real]} and {flag} both name {path}; one would overwrite "
                              "the other. Give each its own file.")
        seen[real] = flag


def _plain_record(record: dict[str, float]) -> dict[str, Any]:
    """An epoch's record for JSON: counts as ints, everything else as floats."""
    return {k: int(v) if k in ("correct", "total") else float(v) for k, v in record.items()}


def _epoch_line(epoch: int, record: dict[str, float]) -> str:
    head = f"Epoch {epoch}:"
    if "correct" in record and "total" in record:
        correct, total = int(record["correct"]), int(record["total"])
        pct = 100.0 * correct / total if total else math.nan
        head += f" {correct:,} / {total:,} ({pct:.2f}%)"
    elif "accuracy" in record:
        head += f" accuracy {100.0 * record['accuracy']:.2f}%"
    if "val_accuracy" in record:
        head += f"  validation {100.0 * record['val_accuracy']:.2f}%"
    return f"{head}  cost {record['cost']:.4g}  {record['seconds']:.2f} s"


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _take_resumed_config(args: argparse.Namespace) -> None:
    """Take the run's configuration from the checkpoint ``args.resume``."""
    ck = load_checkpoint(args.resume)
    stored = ck.extra.get("train")
    if isinstance(stored, dict):
        stored = {**ADDED, **stored}  # a checkpoint from before those settings
    if not isinstance(stored, dict) or not set(CONFIG) <= set(stored):
        raise CheckpointError(
            f"checkpoint {args.resume!r} was not written by gdkit train (it holds no train "
            "command line); resume it from Python with gdkit.minimize(..., resume=PATH).")
    _check_stored(args.resume, stored)
    explicit: set[str] = getattr(args, "explicit", set())
    diffs = [f"{_flag(k)}: checkpoint {stored[k]!r}, command line {getattr(args, k)!r}"
             for k in CONFIG if k in explicit and _jsonable(getattr(args, k)) != stored[k]]
    if diffs and not args.allow_config_change:
        raise CheckpointError(
            f"cannot resume from {args.resume!r} with other settings ({'; '.join(diffs)}). "
            "Drop those flags to continue the run as it was, or pass --allow-config-change.")
    for k in CONFIG:
        if k not in explicit or not args.allow_config_change:
            setattr(args, k, stored[k])


def _check_stored(path: str, stored: dict[str, Any]) -> None:
    """The train settings a checkpoint holds pass the command line's own checks."""
    try:
        for key in ("epochs", "batch_size"):
            integer("checkpoint", key, stored[key], minimum=1)
        integer("checkpoint", "seed", stored["seed"], minimum=0)
        if not isinstance(stored["sizes"], list) or len(stored["sizes"]) < 2:
            raise ConfigError(f"sizes must be a list of layer sizes, got {stored['sizes']!r}.")
        for size in stored["sizes"]:
            integer("checkpoint", "sizes", size, minimum=1)
        if stored["eta"] is not None:
            number("checkpoint", "eta", stored["eta"], low=0.0)
        if stored["n_train"] is not None:
            integer("checkpoint", "n_train", stored["n_train"], minimum=1)
        choice("checkpoint", "dtype", stored["dtype"], ("float64", "float32"))
        choice("checkpoint", "init", stored["init"], INITS)
        if not isinstance(stored["validate"], bool):
            raise ConfigError(f"validate must be true or false, got {stored['validate']!r}.")
        if stored["early_stop"] is not None:
            integer("checkpoint", "early_stop", stored["early_stop"], minimum=1)
        texts = [stored["step"], stored["cost"], *(stored["step_option"] or [])]
        if stored["data"] is not None:
            texts.append(stored["data"])
        if not all(isinstance(t, str) for t in texts) or not isinstance(
                stored["step_option"], (list, type(None))):
            raise ConfigError("step, step_option and data must be text.")
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path!r} holds a damaged train setting ({exc}) Use "
                              "an earlier copy, or start afresh.") from None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _resume_command(args: argparse.Namespace, checkpoint: str) -> str:
    cmd = ["gdkit", "train", "--resume", checkpoint]
    for key in ("log", "save"):
        if getattr(args, key) is not None:
            cmd += [_flag(key), getattr(args, key)]
    return shlex.join(cmd)


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {"train": Train}
