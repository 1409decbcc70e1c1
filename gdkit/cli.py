"""The ``gdkit`` command.

``gdkit plugins`` lists every part and who supplied it; ``gdkit minimize
NAME`` runs one registered objective; ``gdkit train`` trains the book's
MNIST network (the ``mnist-network`` objective) by mini-batch SGD. Errors
gdkit raises on purpose become a one-paragraph message and a non-zero exit
status (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import math
import os
import shlex
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, TextIO

import numpy as np

from . import __version__
from .checkpoint import load_checkpoint, save_model
from .descent import minimize
from .errors import CheckpointError, ConfigError, GdkitError, Interrupted, PluginLoadWarning
from .parts import gradient_source, objective, step_rule
from .registry import KINDS, get_registry
from .result import Result

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

TRAIN_OBJECTIVE = "mnist-network"
TRAIN_DEFAULT_ETA = 3.0
SAVE_FORMAT = "gdkit-network"


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"option {text!r} is not of the form key=value.")
    try:
        value: Any = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string
    return key.strip(), value


def _options(pairs: Sequence[str] | None) -> dict[str, Any]:
    return dict(_parse_option(p) for p in pairs or ())


def _cmd_plugins(args: argparse.Namespace) -> int:
    reg = get_registry()
    rows: list[dict[str, Any]] = []
    for kind in KINDS:
        for name, info in sorted(reg.parts(kind).items()):
            rows.append({"kind": kind, "name": name, "plugin": info.plugin,
                         "distribution": info.distribution, "version": info.version,
                         "factory": f"{info.factory.__module__}.{info.factory.__qualname__}"})
        for name, infos in sorted(reg.conflicts(kind).items()):
            for info in infos:
                rows.append({"kind": kind, "name": name, "plugin": info.plugin,
                             "distribution": info.distribution, "version": info.version,
                             "factory": "CONFLICT: name registered twice"})
    failures = [{"plugin": f.plugin, "distribution": f.distribution, "version": f.version,
                 "error": f.error} for f in reg.failures]
    if args.json:
        print(json.dumps({"parts": rows, "failures": failures}, indent=2))
        return 0
    for kind in KINDS:
        print(f"{kind}s:")
        for r in (r for r in rows if r["kind"] == kind):
            dist = r["distribution"] + (f" {r['version']}" if r["version"] else "")
            print(f"  {r['name']:<20} {r['plugin']:<20} {dist:<24} {r['factory']}")
    for f in reg.failures:
        print(f"failed to load: {f.describe()}")
    return 0


def _cmd_minimize(args: argparse.Namespace) -> int:
    obj = objective(args.objective, **_options(args.option))
    src = gradient_source(args.gradient, **_options(args.gradient_option))
    rule = step_rule(args.step, **_options(args.step_option))
    kwargs: dict[str, Any] = {"gradient": src, "step": rule, "seed": args.seed}
    if args.max_iter is not None:
        kwargs["max_iter"] = args.max_iter
    if args.gtol is not None:
        kwargs["gtol"] = args.gtol
    res = minimize(obj, **kwargs)
    if args.json:
        print(json.dumps(_result_json(res), indent=2))
    else:
        _print_result(args.objective, obj, src, rule, res)
    return 0 if res.success else EXIT_ERROR if args.check else 0


def _result_json(res: Result) -> dict[str, Any]:
    return {"x": res.x.tolist(), "fun": res.fun, "grad_norm": res.grad_norm, "nit": res.nit,
            "nfev": res.nfev, "ngev": res.ngev, "success": bool(res.success),
            "status": res.status, "message": res.message}


def _print_result(name: str, obj: Any, src: Any, rule: Any, res: Result) -> None:
    with np.printoptions(precision=6, threshold=20, edgeitems=4):
        print(f"{name}: {obj!r}, gradient {src!r}, step {rule!r}")
        print(f"  {res.message}")
        print(f"  x        = {res.x}")
        print(f"  C(x)     = {res.fun:.10g}")
        print(f"  ‖∇C(x)‖  = {res.grad_norm:.3g}")
        print(f"  steps {res.nit}, cost evaluations {res.nfev}, gradients {res.ngev}")


# -- gdkit train -------------------------------------------------------------
def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not >= {low}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a number > 0")
    return value


class _EpochProgress:
    """A progress bar within an epoch on a terminal: tqdm if installed, else
    one line redrawn with carriage returns. Called by :func:`minimize` as
    ``progress(epoch, done, total)`` about 100 times per epoch."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None
        self.width = 0
        try:  # the optional extra "progress"
            self._tqdm: Any = importlib.import_module("tqdm").tqdm
        except ImportError:
            self._tqdm = None

    def __call__(self, epoch: int, done: int, total: int) -> None:
        if self._tqdm is not None:
            if self.bar is None:
                self.bar = self._tqdm(total=total, desc=f"Epoch {epoch}", unit="batch",
                                      leave=False, file=self.stream, dynamic_ncols=True)
            self.bar.update(done - self.bar.n)
            return
        line = f"Epoch {epoch}: {100 * done // total:3d}%  {done:,} / {total:,} mini-batches"
        self.width = max(self.width, len(line))
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        """Remove the bar (before the epoch's line is printed)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _step_for_train(args: argparse.Namespace) -> Any:
    opts = _options(args.step_option)
    last = args.step.split(",")[-1].strip()
    if last == "fixed":
        given = [k for k in ("eta", "fixed.eta") if k in opts]
        if given and args.eta is not None:
            raise ConfigError("give the fixed step size's η once: --eta or --step-option "
                              f"{given[0]}=..., not both.")
        if not given:
            opts["fixed.eta"] = TRAIN_DEFAULT_ETA if args.eta is None else args.eta
    elif args.eta is not None:
        raise ConfigError(f"--eta sets the 'fixed' step size's η; the step {args.step!r} takes "
                          "its options from --step-option PART.KEY=VALUE (see its "
                          "documentation).")
    return step_rule(args.step, **opts)


def _open_log(path: str | None, *, append: bool = False) -> IO[str] | None:
    if path is None:
        return None
    try:
        return open(path, "a" if append else "w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--log: cannot write {path}: {exc.strerror or exc}. "
                          "Give a file in an existing, writable directory.") from None


def _check_save_path(path: str | None) -> None:
    if path is None:
        return
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"--save: the directory {parent} does not exist; create it first "
                          "or give another path.")
    if Path(path).is_dir():
        raise ConfigError(f"--save: {path} is a directory; give a file name such as "
                          "network.npz.")


def save_network(path: str | os.PathLike[str], x: Any, sizes: Sequence[int],
                 metadata: dict[str, Any]) -> None:
    """Write trained parameters to an ``.npz`` file, atomically and without pickle.

    The file holds ``parameters`` (the flat vector v, in its dtype), ``sizes``
    (int64) and JSON metadata (``sizes``, ``dtype``, ``layout``, the run's
    settings). Read it with :func:`gdkit.checkpoint.load_model`.
    """
    meta = {"kind": SAVE_FORMAT, "sizes": [int(s) for s in sizes],
            "dtype": str(np.asarray(x).dtype),
            "layout": "for each layer l = 1..L: weights (sizes[l], sizes[l-1]) row-major, "
                      "then biases (sizes[l],)",
            "gdkit": __version__, **metadata}
    try:
        save_model(Path(path).expanduser(), np.asarray(x), meta,
                   sizes=np.asarray(sizes, dtype=np.int64))
    except OSError as exc:
        raise CheckpointError(f"--save: cannot write {path}: {exc.strerror or exc}.") from None


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
    return f"{head}  cost {record['cost']:.4g}  {record['seconds']:.2f} s"


# The train options that define the run; a checkpoint stores them, and a
# resume takes them from there (explicit flags must agree).
TRAIN_CONFIG = ("sizes", "epochs", "batch_size", "eta", "step", "step_option", "seed", "data",
                "dtype", "n_train")


def _explicit_options(argv: Sequence[str]) -> set[str]:
    """The destinations of the options actually given on the command line."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices["train"]._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _resumed_args(args: argparse.Namespace) -> argparse.Namespace:
    """Take the run's configuration from the checkpoint ``args.resume``."""
    ck = load_checkpoint(args.resume)
    stored = ck.extra.get("train")
    if not isinstance(stored, dict) or not set(TRAIN_CONFIG) <= set(stored):
        raise CheckpointError(
            f"checkpoint {args.resume!r} was not written by gdkit train (it holds no train "
            "command line); resume it from Python with gdkit.minimize(..., resume=PATH).")
    explicit: set[str] = getattr(args, "explicit", set())
    diffs = [f"{_flag(k)}: checkpoint {stored[k]!r}, command line {getattr(args, k)!r}"
             for k in TRAIN_CONFIG if k in explicit and _jsonable(getattr(args, k)) != stored[k]]
    if diffs and not args.allow_config_change:
        raise CheckpointError(
            f"cannot resume from {args.resume!r} with other settings ({'; '.join(diffs)}). "
            "Drop those flags to continue the run as it was, or pass --allow-config-change.")
    for k in TRAIN_CONFIG:
        if k not in explicit or not args.allow_config_change:
            setattr(args, k, stored[k])
    return args


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _resume_command(args: argparse.Namespace, checkpoint: str) -> str:
    cmd = ["gdkit", "train", "--resume", checkpoint]
    for key in ("log", "save"):
        if getattr(args, key) is not None:
            cmd += [_flag(key), getattr(args, key)]
    return shlex.join(cmd)


def _cmd_train(args: argparse.Namespace) -> int:
    # Everything that can be checked before loading the data is checked first.
    if args.resume is not None:
        args = _resumed_args(args)
    elif args.allow_config_change:
        raise ConfigError("--allow-config-change only makes sense with --resume PATH.")
    rule = _step_for_train(args)
    if args.download and args.data is not None:
        raise ConfigError("--download fetches MNIST into the user cache; with --data DIR the "
                          "four files must already be in DIR. Drop one of the two options.")
    download = (args.data is None) if args.download is None else args.download
    _check_save_path(args.save)
    config: dict[str, Any] = {"sizes": tuple(args.sizes), "dtype": args.dtype,
                              "download": download}
    if args.data is not None:
        config["data"] = args.data
    if args.n_train is not None:
        config["n_train"] = args.n_train
    net = objective(TRAIN_OBJECTIVE, **config)

    checkpoint = args.checkpoint if args.checkpoint is not None else args.resume
    log = _open_log(args.log, append=args.resume is not None)
    show_bar = sys.stderr.isatty() and not args.quiet
    bar = _EpochProgress(sys.stderr) if show_bar else None
    print(f"Training {net!r}: step {rule!r}, mini-batches of {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}", flush=True)
    last: dict[str, Any] = {}

    def on_epoch(intermediate_result: Result) -> None:
        if bar is not None:
            bar.close()
        epoch, record = int(intermediate_result.epoch), dict(intermediate_result.record)
        last.update(epoch=epoch, x=intermediate_result.x, record=_plain_record(record))
        print(_epoch_line(epoch, record), flush=True)
        if log is not None:
            log.write(json.dumps({"epoch": epoch, **_plain_record(record)}) + "\n")
            log.flush()

    settings = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
                "step": repr(rule)}
    try:
        res = minimize(net, step=rule, batch_size=args.batch_size, epochs=args.epochs,
                       seed=args.seed, callback=on_epoch, progress=bar, checkpoint=checkpoint,
                       resume=args.resume, allow_config_change=args.allow_config_change,
                       run_info={"train": {k: _jsonable(getattr(args, k)) for k in TRAIN_CONFIG}})
    except Interrupted as exc:
        if bar is not None:
            bar.close()
        print(f"gdkit train: {exc}\nResume it with:\n  {_resume_command(args, exc.checkpoint)}",
              file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        done = last.get("epoch", 0)
        msg = f"gdkit train: interrupted after {done} complete epoch(s)"
        if args.save is not None and done:
            save_network(args.save, last["x"], args.sizes,
                         {**settings, "epochs_done": done, "interrupted": True,
                          "record": last["record"]})
            msg += f"; saved the parameters after epoch {done} to {args.save}"
        print(msg + ".", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if log is not None:
            log.close()

    if args.resume is not None and not last and res.epochs >= args.epochs:
        print(f"gdkit train: the run in {args.resume} is already complete ({res.epochs} of "
              f"{args.epochs} epochs): nothing to train. To train further, pass --epochs N "
              "(more) with --allow-config-change.", file=sys.stderr)
    accuracy = res.history["accuracy"] if "accuracy" in res.history else np.empty(0)
    if np.isfinite(accuracy).any():  # over the whole run, epochs before a resume included
        i = int(np.nanargmax(accuracy))
        print(f"Best: epoch {i + 1}, accuracy {100.0 * accuracy[i]:.2f}%", flush=True)
    if args.save is not None:
        save_network(args.save, res.x, args.sizes,
                     {**settings, "epochs_done": int(res.epochs), "interrupted": False,
                      "record": last.get("record", {})})
        print(f"Saved the parameters to {args.save}", flush=True)
    if not res.success:
        print(f"gdkit train: {res.message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gdkit", description="Gradient descent as a library (Nielsen, ch. 1).")
    parser.add_argument("--version", action="version", version=f"gdkit {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plugins", help="list every part and the plugin that supplied it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("minimize", help="minimize a registered objective")
    p.add_argument("objective", help="a registered objective name (see `gdkit plugins`)")
    p.add_argument("--gradient", default="analytic", help="gradient source (default analytic)")
    p.add_argument("--step", default="armijo", metavar="PARTS",
                   help="step rule: a step size, or transforms and a step size separated by "
                        "commas, e.g. momentum,fixed (default armijo)")
    p.add_argument("--max-iter", type=int, default=None, help="most steps (default 1000)")
    p.add_argument("--gtol", type=float, default=None, help="stop when ‖∇C‖ <= GTOL")
    p.add_argument("--seed", type=int, default=None, help="seed of the starting point")
    p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                   help="objective option, e.g. -o dim=10 (repeatable)")
    p.add_argument("--step-option", action="append", metavar="[PART.]KEY=VALUE",
                   help="option of one part of the step, e.g. --step-option momentum.beta=0.9; "
                        "an unqualified KEY=VALUE configures the last part (repeatable)")
    p.add_argument("--gradient-option", action="append", metavar="KEY=VALUE",
                   help="gradient-source option")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 if the run did not converge")
    p.set_defaults(func=_cmd_minimize)

    p = sub.add_parser(
        "train", help="train the book's MNIST network [784, 30, 10] by mini-batch SGD",
        description="Train Nielsen's sigmoid network on MNIST (the mnist-network objective) "
                    "by mini-batch SGD, printing the test accuracy after each epoch.")
    p.add_argument("--sizes", type=_positive_int, nargs="+", default=[784, 30, 10],
                   metavar="N", help="neurons per layer, 784 first and 10 last "
                   "(default 784 30 10)")
    p.add_argument("--epochs", type=_nonneg_int, default=30, help="epochs (default 30)")
    p.add_argument("--batch-size", type=_positive_int, default=10,
                   help="mini-batch size (default 10)")
    p.add_argument("--eta", type=_positive_float, default=None,
                   help="the fixed step size's learning rate η (default "
                        f"{TRAIN_DEFAULT_ETA})")
    p.add_argument("--step", default="fixed", metavar="PARTS",
                   help="step rule: a step size, or transforms and a step size separated by "
                        "commas, e.g. momentum,fixed (default fixed)")
    p.add_argument("--step-option", action="append", metavar="[PART.]KEY=VALUE",
                   help="option of one part of the step, e.g. --step-option momentum.beta=0.9 "
                        "or --step-option 'fixed.schedule=cosine(steps=150000)'; an unqualified "
                        "KEY=VALUE configures the last part (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed of the start and the shuffles "
                   "(default 0; same seed, same numbers)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="directory holding the four MNIST IDX files (default: $GDKIT_DATA, "
                   "then the user cache)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                   help="download MNIST into the user cache if it is not found (default: "
                   "yes unless --data is given)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating dtype of the data and parameters (default float64)")
    p.add_argument("--n-train", type=_positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--log", metavar="FILE", default=None,
                   help="write one JSON line per epoch (epoch, cost, accuracy, seconds, ...)")
    p.add_argument("--save", metavar="FILE.npz", default=None,
                   help="save the final parameters, sizes and dtype (.npz, no pickle)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint", metavar="FILE.npz", default=None,
                   help="save the whole run state after every epoch; Ctrl-C (SIGINT) or "
                        "SIGTERM then saves mid-epoch and prints the command to resume")
    p.add_argument("--resume", metavar="FILE.npz", default=None,
                   help="continue the run saved in this checkpoint with its configuration "
                        "(and keep checkpointing into it unless --checkpoint is given)")
    p.add_argument("--allow-config-change", action="store_true",
                   help="with --resume: let explicit flags differ from the checkpoint's run")
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gdkit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        args.explicit = _explicit_options(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings():
            if not args.debug:
                warnings.showwarning = _show_plugin_warning
            status: int = args.func(args)
    except GdkitError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"gdkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print(f"gdkit {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


_default_showwarning = warnings.showwarning


def _show_plugin_warning(message: Warning | str, category: type[Warning], filename: str,
                         lineno: int, file: TextIO | None = None,
                         line: str | None = None) -> None:
    """A plugin that failed to load is one line for the user, not a source location."""
    if issubclass(category, PluginLoadWarning):
        print(f"gdkit: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
