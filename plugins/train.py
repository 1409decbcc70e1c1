"""The ``gdkit train`` command: the book's MNIST network by mini-batch SGD.

A command like any third-party one (``gdkit_commands``): it builds the
``mnist-network`` objective and the step rule by name, runs
:func:`gdkit.minimize` with a checkpoint, a progress bar and a per-epoch log,
and prints the test accuracy after each epoch as the book does::

    gdkit train --data ../shared/data/mnist --epochs 30 --eta 3.0
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import shlex
import signal
import sys
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

import gdkit
from gdkit import threads
from gdkit.command import (
    EXIT_ERROR,
    EXIT_PIPE,
    EXIT_SHORTFALL,
    parse_options,
    refuse_overwrite,
)
from gdkit.errors import (
    ConfigError,
    GdkitError,
    Interrupted,
    MissingExtraError,
)
from gdkit.files import check_target, leftovers
from gdkit.observers import BestEpoch, EarlyStopping, JsonLog
from gdkit.progress import show_progress
from gdkit.records import plain
from gdkit.result import STOPPED
from gdkit.stepspec import parse_spec
from gdkit.validate import argument, integer, number

from .diagnosis import CHANCE, StepFacts, StuckNeurons
from .network import INITS, MNIST_SIZES, save_network
from .tensorboard import TensorBoard
from .train_config import CONFIG, jsonable, take_resumed_config
from .train_config import flag as flag_of
from .train_watch import EpochBar, Keep, Lines, SayEarlyStop

__all__ = ["Train"]

OBJECTIVE: Final = "mnist-network"
DEFAULT_ETA: Final = 3.0
SATURATED: Final = 0.9
"""A run whose final network has this fraction of its activations stuck at
exactly 0 or 1 is reported as failed, whatever its epochs did (the book's
network trained with η = 3 stays near 1%)."""




class Train:
    """Train the book's MNIST network [784, 30, 10] by mini-batch SGD."""

    advice: Final = {
        "eta": "{what} try a smaller η (--eta) or an adaptive rule such as --step armijo.",
        "allow_config_change": "{what} Resume with the same parts, or pass "
                               "--allow-config-change to continue anyway.",
    }
    """The library's advice in this command's flags (:func:`gdkit.command.worded`)."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The ``gdkit train`` options."""
        parser.description = ("Train Nielsen's sigmoid network on MNIST (the mnist-network "
                              "objective) by mini-batch SGD, printing the test accuracy after "
                              "each epoch.")
        parser.epilog = (f"Exit status: 0 success; {EXIT_ERROR} the run failed (a network that "
                         "saturated or learned nothing included); 2 a bad command line; "
                         f"{EXIT_SHORTFALL} the run finished and saved its outputs, but its "
                         "network leaves a digit (almost) never recognised (the last lines on "
                         "stderr name the digits and what to try); 130 or 143 interrupted by "
                         "SIGINT or SIGTERM; 141 stdout closed.")
        add = parser.add_argument
        add("--sizes", type=argument(integer, minimum=1), nargs="+", default=list(MNIST_SIZES),
            metavar="N", help="neurons per layer, 784 first and 10 last (default 784 30 10)")
        add("--epochs", type=argument(integer, minimum=1), default=30, help="epochs (default 30)")
        add("--batch-size", type=argument(integer, minimum=1), default=10,
            help="mini-batch size (default 10)")
        add("--eta", type=argument(number, low=0.0), default=None,
            help=f"the fixed step size's learning rate η (default {DEFAULT_ETA})")
        add("--step", default="fixed", metavar="SPEC",
            help="step rule: a step size, or transforms and a step size separated by commas, "
                 "each with its options, e.g. 'momentum(beta=0.9),fixed' or "
                 "'fixed(schedule=cosine(steps=150000))' (default fixed, what auto is for "
                 "mini-batches, with η = --eta)")
        add("--step-option", action="append", metavar="[PART.]KEY=VALUE",
            help="the older spelling of a part's option, e.g. --step-option momentum.beta=0.9; "
                 "an unqualified KEY=VALUE configures the last part (repeatable)")
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
        add("--tensorboard", metavar="DIR", default=None,
            help="write each epoch's cost, accuracies, η and per-digit recall to TensorBoard "
                 "event files in DIR (tensorboard --logdir DIR); needs gdkit[tensorboard]")
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
        add("--overwrite", action="store_true",
            help="start afresh in a --checkpoint file that holds another run (without it, "
                 "such a file is refused: continue it with --resume)")

    def run(self, args: argparse.Namespace) -> int:
        """Train; 0 on success, 1 if the run failed, 3 if its network leaves a digit
        (almost) never recognised, 128 + signal if interrupted."""
        return _Run(args).main()


class _Run:
    """One ``gdkit train`` run: the checks, the training with its observers, the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._watchers()

    def _watchers(self, rule: Any = None) -> None:
        """The progress bar and the observers, for the settings in ``self.args``
        and the step ``rule`` (when built)."""
        args = self.args
        show = show_progress(sys.stderr, False if args.quiet else args.progress)
        self.bar = EpochBar(sys.stderr) if show else None
        self.lines = Lines(self.bar)
        self.best = BestEpoch("val_accuracy")
        self.early = None if args.early_stop is None else EarlyStopping(args.early_stop)
        self.log = None if args.log is None else JsonLog(args.log, label="--log")
        self.board = None if getattr(args, "tensorboard", None) is None else TensorBoard(
            args.tensorboard, label="--tensorboard")
        early = self.early
        self.stuck = StuckNeurons(int(args.sizes[-1]), args.epochs, cost=args.cost,
                                  init=args.init, last_epoch=(lambda: 0) if early is None
                                  else lambda: early.stopped_at,
                                  step=None if rule is None else StepFacts.of(
                                      ",".join(p.name for p in _step_spec(args).parts), rule))
        self.settings: dict[str, Any] = {}

    def observers(self) -> list[Any]:
        """The progress bar; the epoch kept first, then the log (a closed stdout must not
        cost the epoch's line), the printed line, the best epoch, early stopping and the
        diagnosis."""
        said = None if self.early is None else SayEarlyStop(self.early)
        return [w for w in (self.bar, Keep(self.lines), self.log, self.board, self.lines,
                            self.best, self.early, said, self.stuck) if w is not None]

    def main(self) -> int:
        args = self.args
        # Everything that can be checked before loading the data is checked first.
        if args.resume is not None:
            take_resumed_config(args)
        elif args.allow_config_change:
            raise ConfigError("--allow-config-change only makes sense with --resume PATH.")
        if args.early_stop is not None and not args.validate:
            raise ConfigError("--early-stop N watches the validation accuracy: drop "
                              "--no-validate, or --early-stop.")
        gdkit.cost(args.cost)  # a wrong name fails now, before the data are read
        rule = _step_rule(args)
        self._watchers(rule)  # a resumed run's settings decide them
        if args.download and args.data is not None:
            raise ConfigError("--download fetches MNIST into the user cache; with --data DIR the "
                              "four files must already be in DIR. Drop one of the two options.")
        _check_outputs(args)
        if args.tensorboard is not None and importlib.util.find_spec("tensorboardX") is None:
            raise MissingExtraError("--tensorboard", "tensorboard", "tensorboardX")
        net = gdkit.objective(OBJECTIVE, **_objective_config(args))
        print(f"Training {net!r}: step {rule!r}, mini-batches of {args.batch_size}, "
              f"{args.epochs} epochs, seed {args.seed}", flush=True)
        self.settings = {"epochs": args.epochs, "batch_size": args.batch_size,
                         "seed": args.seed, "step": repr(rule)}
        checkpoint = args.checkpoint if args.checkpoint is not None else args.resume
        try:
            res = gdkit.minimize(
                net, step=rule, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                observers=self.observers(), options=gdkit.RunOptions(threads=args.threads),
                checkpoint=None if checkpoint is None else gdkit.Checkpointing(
                    checkpoint, resume=args.resume or False,
                    allow_config_change=args.allow_config_change,
                    run_info={"train": {k: jsonable(getattr(args, k)) for k in CONFIG}}))
        except Interrupted as exc:
            self._close_bar()
            if not exc.checkpoint:  # no checkpoint: the last complete epoch goes to --save
                return self._interrupted(exc.signum)
            print(f"gdkit train: {exc.what}; the run's state is saved in {exc.checkpoint}.\n"
                  f"Resume it with:\n  {_resume_command(args, exc.checkpoint)}", file=sys.stderr)
            self._plot()
            return 128 + exc.signum
        except KeyboardInterrupt as exc:
            self._close_bar()
            return self._interrupted(getattr(exc, "signum", signal.SIGINT))
        except GdkitError as exc:
            if self.log is not None and self.log.failed_after is not None:
                kept = args.checkpoint or args.resume
                done = self.log.failed_after
                exc.args = (f"{exc}"[:-1] + (f", its state after epoch {done} is in {kept}."
                                             if kept else "."),)
            self._keep_work()
            raise
        except BaseException:  # a plugin's hook or an observer failed: keep the work first
            self._keep_work()
            raise
        finally:
            for output in (self.log, self.board):
                if output is not None:
                    output.close()
        return self._report(res)

    def _print_best(self, res: gdkit.Result) -> None:
        """The best epoch: chosen on the validation set when there is one."""
        hist = res.history
        i, _ = _reported(hist)
        if i >= 0:
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
        best, last = self.best, self.lines.last
        if best.x is not None:
            return best.x, best.epoch, plain(best.record)
        if best.epoch and best.epoch not in (last.get("epoch"), epochs):
            print(f"gdkit train: note: the best validation epoch, {best.epoch}, ran before "
                  "the resume and its parameters were not kept: saving the last epoch's.",
                  file=sys.stderr)
        if final is not None:
            return final, epochs, last.get("record", {})
        return last["x"], int(last["epoch"]), last["record"]

    def _plot(self, stream: IO[str] = sys.stderr) -> None:
        """--plot: the learning curve of every epoch so far (before a resume too)."""
        records = self.lines.records
        if self.args.plot is None or not records:
            return
        from gdkit.plot import curves, save

        columns = {k: [r.get(k, math.nan) for r in records]
                   for k in dict.fromkeys(k for r in records for k in r)}
        save(curves([columns], title=f"gdkit train: {len(records)} epoch(s)"),
             self.args.plot)
        print(f"Saved the learning curve to {self.args.plot}", file=stream, flush=True)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _save(self, chosen: tuple[Any, int, dict[str, Any]], done: int, *,
              interrupted: bool) -> int:
        """Write --save: the chosen epoch's parameters and how the run went; its epoch."""
        x, epoch, record = chosen
        save_network(self.args.save, x, self.args.sizes,
                     {**self.settings, "epochs_done": done, "interrupted": interrupted,
                      "epoch": epoch, "record": record})
        return epoch

    def _keep_work(self) -> None:
        """Something failed after epochs ran (an output, a plugin's hook): --save still
        gets the finished run, or the last complete epoch (never over an earlier model)."""
        args, result = self.args, self.lines.result
        if args.save is None or (result is None and not self.lines.last):
            return
        if Path(args.save).exists():
            return
        if result is not None:
            epoch = self._save(self._chosen(result.x, int(result.epochs)), int(result.epochs),
                               interrupted=False)
        else:
            epoch = self._save(self._chosen(), int(self.lines.last["epoch"]), interrupted=True)
        print(f"gdkit train: saved the parameters of epoch {epoch} to {args.save} before "
              "stopping.", file=sys.stderr)

    def _interrupted(self, signum: int) -> int:
        """Ctrl-C, SIGTERM or a closed pipe without a checkpoint: keep the last
        complete epoch in --save."""
        args, done = self.args, self.lines.last.get("epoch", 0)
        why = "stdout closed" if signum == signal.SIGPIPE else signal.Signals(signum).name
        msg = f"gdkit train: stopped ({why}) after {done} complete epoch(s)"
        if args.save is not None and done:
            epoch = self._save(self._chosen(), done, interrupted=True)
            msg += f"; saved the parameters after epoch {epoch} to {args.save}"
        print(msg + ".", file=sys.stderr)
        self._plot()
        return EXIT_PIPE if signum == signal.SIGPIPE else 128 + signum

    def _report(self, res: gdkit.Result) -> int:
        args = self.args
        if args.resume is not None and not self.lines.last and res.epochs >= args.epochs:
            print(f"gdkit train: the run in {args.resume} is already complete ({res.epochs} of "
                  f"{args.epochs} epochs): nothing to train. To train further, pass --epochs N "
                  "(more) with --allow-config-change.", file=sys.stderr)
        early = self.early is not None and self.early.stopped_at > 0 and res.status == STOPPED
        self._print_best(res)
        verdict = _learned_nothing(res, int(args.sizes[-1]))
        failed = (res.message if not res.success and not early
                  else f"no success: {verdict}" if verdict else "")
        if args.save is not None:
            self._save_final(res, failed=bool(failed))
        self._plot(sys.stdout)
        if failed:
            print(f"gdkit train: {failed}", file=sys.stderr)
            return EXIT_ERROR
        row, label = _reported(res.history)
        short = self.stuck.conclude(res.history, row, label=label)
        if short:  # one block: which digits, what was measured, what to try
            head, *rest = short
            print("\n".join((f"gdkit train: no plain success (exit status {EXIT_SHORTFALL}): "
                              f"{head}", *(f"  {line}" for line in rest))), file=sys.stderr)
            return EXIT_SHORTFALL
        return 0

    def _save_final(self, res: gdkit.Result, *, failed: bool) -> None:
        """--save after the run: a failed run never replaces an earlier model."""
        args = self.args
        if failed and Path(args.save).exists():
            print(f"gdkit train: {args.save} is left as it was: this run failed, and a failed "
                  "run never replaces a saved model.", file=sys.stderr)
            return
        epoch = self._save(self._chosen(res.x, int(res.epochs)), int(res.epochs),
                           interrupted=False)
        print(f"Saved the parameters of epoch {epoch} to {args.save}", flush=True)


def _reported(history: Any) -> tuple[int, str]:
    """The epoch a run reports (and --save keeps): the best validation epoch's
    row, or -1 (the last) without a validation accuracy; and how to name it."""
    val = history["val_accuracy"] if "val_accuracy" in history else np.empty(0)
    if not np.isfinite(val).any():
        return -1, "the last epoch"
    i = int(np.nanargmax(val))  # the first of equals, as BestEpoch
    return i, "the last epoch" if i == len(val) - 1 else "the best validation epoch"


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


def _step_text(args: argparse.Namespace) -> str:
    """``--step``, with ``auto`` resolved as for mini-batches."""
    return gdkit.parts.auto("step rule", mini_batch=True) if args.step == "auto" else args.step


def _step_spec(args: argparse.Namespace) -> Any:
    """``--step`` parsed (its parts' names say which rule the advice is about)."""
    return parse_spec(_step_text(args))


def _step_rule(args: argparse.Namespace) -> Any:
    """The step rule of ``--step`` (and the older ``--step-option``); ``--eta`` is
    the fixed step size's η, DEFAULT_ETA unless the spec or an option gives one."""
    opts = parse_options(args.step_option)
    text = _step_text(args)
    spec = parse_spec(text)
    last = spec.parts[-1]
    if last.name == "fixed":
        given: list[str] = [k for k in ("eta", "fixed.eta") if k in opts or k in spec.legacy]
        given += ["fixed(eta=...)"] if "eta" in last.options else []
        if given and args.eta is not None:
            raise ConfigError("give the fixed step size's η once: --eta or "
                              f"{given[0]}, not both.")
        if not given:
            opts["fixed.eta"] = DEFAULT_ETA if args.eta is None else args.eta
    elif args.eta is not None:
        raise ConfigError(f"--eta sets the 'fixed' step size's η; the step {args.step!r} takes "
                          f"its options in parentheses, e.g. --step '{last.name}(KEY=VALUE)' "
                          "(see its documentation).")
    return gdkit.step_rule(text, **opts)


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path is writable, and no two name one file, before any work."""
    if args.plot is not None:
        from gdkit.plot.figure import check_picture

        check_picture(args.plot, "--plot")  # its format, and matplotlib, too
    if args.resume is None and args.checkpoint is not None:
        refuse_overwrite(args.checkpoint, getattr(args, "overwrite", False))
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


def _resume_command(args: argparse.Namespace, checkpoint: str) -> str:
    cmd = ["gdkit", "train", "--resume", checkpoint]
    for key in ("log", "save", "tensorboard"):
        if getattr(args, key, None) is not None:
            cmd += [flag_of(key), getattr(args, key)]
    return shlex.join(cmd)


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {"train": Train}
