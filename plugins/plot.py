"""The ``gdkit plot`` command: the valley and the ball, learning curves, and a
trained network's mistakes, confusion matrix and hidden neurons.

Drawing is :mod:`gdkit.plot`'s; this module turns command-line arguments into
its calls. matplotlib (``gdkit[plot]``) is imported only when a picture is
drawn, and its absence is reported before any work is done.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np

import gdkit
from gdkit.command import parse_options
from gdkit.errors import ConfigError
from gdkit.validate import argument, integer, number

__all__ = ["DEFAULT_MAX_ITER", "DEFAULT_STEPS", "Plot"]

#: The paths drawn by ``gdkit plot valley`` when no ``--step`` is given: rules that converge
#: on every built-in cost of two variables at their defaults, and momentum with a β that
#: helps on both the seed's valley (19 steps against Armijo's 26) and Rosenbrock's banana
#: (6,036 against 8,668), where the default β = 0.9 would take 168 steps on the valley.
DEFAULT_STEPS = ("armijo", "momentum(beta=0.3),armijo", "barzilai-borwein")
#: Steps per path by default: enough for these rules to converge on Rosenbrock.
DEFAULT_MAX_ITER = 10_000
MIN_DPI: Final = 10.0
MAX_DPI: Final = 1000.0  # a 10 x 8 inch figure at 1000 dpi is an 80-megapixel canvas, ~320 MB
MAX_ERRORS: Final = 1000  # plot errors --limit: panels in one picture
MAX_NEURONS: Final = 400  # plot weights draws at most this many hidden neurons (20 x 20)
MAX_PATH_STEPS: Final = 100_000  # plot valley --max-iter: every point of a path is kept


class Plot:
    """Draw a picture: the valley and the ball, learning curves, a network's mistakes."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = ("Draw a picture to a file (PNG, SVG or PDF by its extension); "
                              "needs matplotlib: pip install 'gdkit[plot]'.")
        sub = parser.add_subparsers(dest="picture", required=True, metavar="PICTURE")
        _valley_parser(sub)
        p = sub.add_parser("curve", help="learning curves of gdkit train --log files, overlaid",
                           description="Test accuracy and training cost per epoch (and η "
                                       "where recorded) of one or more runs' JSON-lines logs.")
        p.add_argument("logs", nargs="+", metavar="LOG.jsonl")
        p.add_argument("--label", action="append", metavar="TEXT",
                       help="legend entry of each log in order (default: file names)")
        _common(p)
        for name, text in (("errors", "the misclassified test digits, true → predicted"),
                           ("confusion", "the confusion matrix on the test set"),
                           ("weights", "each hidden neuron's input weights as a 28×28 image")):
            p = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}, "
                               "of a network saved by gdkit train --save.")
            p.add_argument("model", metavar="MODEL.npz")
            if name != "weights":
                p.add_argument("--data", metavar="DIR", default=None,
                               help="directory holding the MNIST files (default: $GDKIT_DATA, "
                                    "then the user cache)")
                p.add_argument("--download", action=argparse.BooleanOptionalAction,
                               default=None, help="download MNIST if it is not found "
                                                  "(default: yes unless --data is given)")
            if name == "errors":
                p.add_argument("--limit", type=argument(integer, minimum=1), default=100,
                               help="draw at most this many (default 100, at most "
                                    f"{MAX_ERRORS:,}), in test-set order")
            _common(p)

    def run(self, args: argparse.Namespace) -> int:
        from gdkit.plot.figure import check_picture

        out = check_picture(args.out, "--out")  # before any work, matplotlib included
        draw: Callable[[argparse.Namespace], Any] = _DRAW[args.picture]
        fig = draw(args)
        from gdkit.plot import save

        save(fig, out, dpi=args.dpi)
        print(f"Saved the picture to {out}")
        return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the picture to write: .png, .svg or .pdf")
    p.add_argument("--title", default=None, help="the figure's title")
    p.add_argument("--dpi", type=argument(number, low=MIN_DPI, high=MAX_DPI, low_closed=True,
                                          high_closed=True), default=100.0,
                   help=f"resolution of a PNG, {MIN_DPI:g} to {MAX_DPI:g} (default 100)")


def _valley_parser(sub: Any) -> None:
    p = sub.add_parser(
        "valley", help="a two-variable cost as a surface and contours, with gradient descent's "
                       "path for each --step",
        description="The seed's valley: a cost of two variables as a 3-D surface and as "
                    "contours, with the ball's path (v0, v1, ...) for each step rule from the "
                    "same start, labelled with its final cost.")
    p.add_argument("objective", nargs="?", default="valley",
                   help="a registered objective of dim 2 (default valley)")
    p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                   help="objective option, e.g. -o dim=2 or -o curvature=(1,10) (repeatable)")
    p.add_argument("--step", action="append", metavar="SPEC",
                   help="a step rule, as gdkit minimize --step spells it, e.g. "
                        "'fixed(eta=0.05)' or 'momentum(beta=0.9),fixed(eta=0.05)' (repeatable; "
                        "default: " + " ".join(DEFAULT_STEPS) + ")")
    p.add_argument("--v0", type=argument(number), nargs=2, metavar=("V1", "V2"), default=None,
                   help="the start (default: the objective's initial point at --seed)")
    p.add_argument("--seed", type=argument(integer, minimum=0), default=0,
                   help="seed of the initial point (default 0)")
    p.add_argument("--max-iter", type=argument(integer, minimum=1), default=DEFAULT_MAX_ITER,
                   help=f"most steps per path; a path also ends where it converges (default "
                        f"{DEFAULT_MAX_ITER:,}, at most {MAX_PATH_STEPS:,})")
    p.add_argument("--bounds", type=argument(number), nargs=4, default=None,
                   metavar=("V1MIN", "V1MAX", "V2MIN", "V2MAX"),
                   help="the region drawn (default: around the paths that descend)")
    p.add_argument("--no-surface", dest="surface", action="store_false",
                   help="contours only, no 3-D surface")
    _common(p)


def _valley(args: argparse.Namespace) -> Any:
    from gdkit.plot import trace, valley

    if args.max_iter > MAX_PATH_STEPS:
        raise ConfigError(f"--max-iter {args.max_iter:,}: a path drawn keeps every point, at "
                          f"most {MAX_PATH_STEPS:,} steps. Ask for fewer.")
    obj = gdkit.objective(args.objective, **parse_options(args.option))
    if obj.dim != 2:
        valley(obj)  # the one clear error about the dimension
    if args.v0 is not None:
        v0 = np.array(args.v0, dtype=float)
    elif hasattr(obj, "initial_point"):
        v0 = np.asarray(obj.initial_point(np.random.default_rng(args.seed)), dtype=float)
    else:
        raise ConfigError(f"{args.objective} has no initial point: give the start with "
                          "--v0 V1 V2.")
    _finite_start(obj, v0)
    specs = args.step or list(DEFAULT_STEPS)
    traces = [trace(obj, v0, gdkit.parse_step(s), label=s, max_iter=args.max_iter)
              for s in specs]
    return valley(obj, traces, bounds=args.bounds, surface=args.surface, title=args.title)


def _finite_start(obj: Any, v0: Any) -> None:
    """Refuse a start where the cost or its gradient is not finite: there is no
    path to draw from there."""
    with np.errstate(all="ignore"):
        values = [float(obj.cost(v0))]
        if hasattr(obj, "gradient"):
            values += [float(g) for g in np.asarray(obj.gradient(v0))]
    if not all(math.isfinite(x) for x in values):
        raise ConfigError(f"--v0 {v0[0]:g} {v0[1]:g}: the cost or its gradient is not finite "
                          "there (it overflows), so no path starts from it. Start nearer "
                          "the valley, e.g. --v0 1 1.")


def _curve(args: argparse.Namespace) -> Any:
    from gdkit.plot import curves

    if args.label is not None and len(args.label) != len(args.logs):
        raise ConfigError(f"{len(args.label)} --label for {len(args.logs)} logs: give one "
                          "label per log, in order, or none.")
    return curves(args.logs, labels=args.label, title=args.title)


def _evaluation(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from .model import load, test_set

    net = load(args.model)
    download = (args.data is None) if args.download is None else args.download
    images, labels = test_set(args.data, download=download, dtype=net.dtype)
    return net, images, net.evaluate(images, labels)


def _errors(args: argparse.Namespace) -> Any:
    from .network.images import digits

    if args.limit > MAX_ERRORS:
        raise ConfigError(f"--limit {args.limit:,}: at most {MAX_ERRORS:,} digits are drawn in "
                          "one picture (each is a panel of its own). Ask for fewer.")
    _, images, ev = _evaluation(args)
    wrong = ev.misclassified[: args.limit]
    shown = f"the first {len(wrong)}" if len(wrong) < len(ev.misclassified) else "all"
    title = args.title or (f"{len(ev.misclassified):,} of {ev.total:,} test digits "
                           f"misclassified ({shown} shown): true → predicted")
    return digits(images[wrong], ev.labels[wrong], ev.predicted[wrong], title=title)


def _confusion(args: argparse.Namespace) -> Any:
    from gdkit.plot import confusion

    _, _, ev = _evaluation(args)
    return confusion(ev.confusion, title=args.title)


def _weights(args: argparse.Namespace) -> Any:
    from .model import load
    from .network.images import weights

    net = load(args.model)
    if net.sizes[0] != 28 * 28 or len(net.sizes) < 3:
        raise ConfigError(f"{args.model}: a network of sizes {list(net.sizes)} has no hidden "
                          "layer of 784 inputs to draw as 28×28 images.")
    shown = (f"the {net.sizes[1]}" if net.sizes[1] <= MAX_NEURONS else
             f"the first {MAX_NEURONS} of the {net.sizes[1]:,}")
    return weights(net.weights[0][:MAX_NEURONS], title=args.title or
                   f"input weights of {shown} hidden neurons of {Path(args.model).name}")


_DRAW: dict[str, Callable[[argparse.Namespace], Any]] = {
    "valley": _valley, "curve": _curve, "errors": _errors, "confusion": _confusion,
    "weights": _weights}


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {"plot": Plot}
