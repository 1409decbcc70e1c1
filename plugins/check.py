"""The ``gdkit check-gradient`` command: a registered objective's gradient
against the derivatives of its cost, through :func:`gdkit.check_gradient`::

    gdkit check-gradient rosenbrock --at -1.2 1
    gdkit check-gradient mnist-network --data ../shared/data/mnist --dtype float32
    gdkit check-gradient network --gradient forward --json

``--data``, ``--download`` and ``--dtype`` are the objective's options ``data``,
``download`` and ``dtype`` under the flags ``gdkit train`` gives them (``-o
data=DIR`` says the same); ``--dtype`` is also v's dtype for an objective that
builds in one dtype only.

It prints the report (the largest errors, the worst coordinate by index, and
each failing derivative) and exits with status 0 when every derivative
agrees, 1 when one does not.
"""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

import numpy as np

import gdkit
from gdkit.command import EXIT_ERROR, parse_options
from gdkit.errors import ConfigError, ShapeError
from gdkit.registry import get_registry
from gdkit.gradcheck import GradientCheck
from gdkit.validate import argument, integer, number

__all__ = ["CheckGradient"]


class CheckGradient:
    """Check an objective's gradient against central differences or the complex step."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The ``gdkit check-gradient`` options."""
        parser.description = (
            "Compare a registered objective's gradient (its analytic one, or --gradient "
            "SOURCE) with the derivatives of its cost at one point: every coordinate (a "
            "random sample of --coordinates when there are more) and --directions random "
            "unit directions u, where ∇C·u is the change eq. (9) predicts. The reference is "
            "the complex step where the objective offers it, else central differences; "
            "tolerances come from the dtype and the errors of the differences. Exit status "
            "0 when every derivative agrees, 1 when one does not.")
        parser.add_argument("objective", metavar="NAME",
                            help="a registered objective (see gdkit plugins)")
        parser.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                            help="objective option, e.g. -o dim=10 (repeatable)")
        parser.add_argument("--gradient", metavar="SOURCE", default=None,
                            help="check this gradient source instead of the objective's own "
                                 "gradient (e.g. forward)")
        parser.add_argument("--method", choices=("auto", "central", "complex-step"),
                            default="auto",
                            help="what to compare with (default auto: the complex step "
                                 "where the objective has complex_cost)")
        parser.add_argument("--at", type=argument(number), nargs="+", metavar="V",
                            default=None,
                            help="the point, one number per parameter (default: the "
                                 "objective's initial point at --seed)")
        parser.add_argument("--data", metavar="DIR", default=None,
                            help="directory holding the MNIST files, for an objective that "
                                 "reads them, such as mnist-network (default: $GDKIT_DATA, "
                                 "then the user cache)")
        parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                            help="download MNIST into the user cache if it is not found "
                                 "(default: yes unless --data is given)")
        parser.add_argument("--dtype", choices=("float64", "float32"), default=None,
                            help="the dtype of the objective (its data and parameters, for "
                                 "one that takes a dtype, such as mnist-network) and of v "
                                 "(default: the objective's, or float64)")
        parser.add_argument("--batch", type=argument(integer, minimum=1), default=None,
                            metavar="N",
                            help="check the mini-batch cost on N random training inputs "
                                 "(default: the full cost, or 100 inputs when there are "
                                 "more than 2,000)")
        parser.add_argument("--coordinates", type=argument(integer, minimum=0), default=100,
                            metavar="N", help="check every coordinate up to N of them, else "
                                              "N random ones (default 100)")
        parser.add_argument("--directions", type=argument(integer, minimum=0), default=3,
                            metavar="N", help="random unit directions to check (default 3)")
        parser.add_argument("--rtol", type=argument(number, low=0.0), default=None,
                            help="relative tolerance (default from the dtype: 1e-5 float64, "
                                 "1e-2 float32 against central differences; √ε against "
                                 "the complex step)")
        parser.add_argument("--seed", type=argument(integer, minimum=0), default=0,
                            help="seed of the point, the sampled coordinates, directions and "
                                 "batch (default 0)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace) -> int:
        """Check; 0 when the gradient passes, 1 when it fails."""
        obj = gdkit.objective(args.objective, **_objective_options(args))
        if args.at is not None and len(args.at) != obj.dim:
            raise ShapeError(f"--at gives {len(args.at)} numbers, but {args.objective} has "
                             f"{obj.dim} parameters: give one number per parameter.")
        v = None if args.at is None else np.array(args.at, dtype=float)
        result = gdkit.check_gradient(
            obj, v, gradient=args.gradient, method=args.method, batch=args.batch,
            coordinates=args.coordinates, directions=args.directions, rtol=args.rtol,
            dtype=args.dtype, seed=args.seed)
        print(json.dumps(as_json(result)) if args.json else result)
        return 0 if result.passed else EXIT_ERROR


def _objective_options(args: argparse.Namespace) -> dict[str, Any]:
    """The objective's options: ``-o KEY=VALUE``, with ``--data``, ``--download`` and
    ``--dtype`` for an objective that takes them (as ``gdkit train`` spells them)."""
    options = parse_options(args.option)
    takes = _options_of(args.objective)
    given = {key: value for key, value in (("data", args.data), ("download", args.download),
                                           ("dtype", args.dtype)) if value is not None}
    for key, value in given.items():
        if key in options and options[key] != value:
            raise ConfigError(f"--{key} {value} and -o {key}={options[key]} disagree: give "
                              "one of the two.")
        if key in takes:
            options[key] = value
        elif key != "dtype":  # --dtype is v's dtype too, whatever the objective takes
            raise ConfigError(f"--{key}: the objective {args.objective} reads no data set "
                              f"(its options: {', '.join(sorted(takes)) or 'none'}).")
    if "download" in takes and "download" not in options:
        options["download"] = "data" not in options  # as gdkit train: unless a folder is given
    return options


def _options_of(name: str) -> set[str]:
    """The keyword options the registered objective ``name`` takes (empty when it takes
    any: then none is passed unasked)."""
    factory = get_registry().lookup("objective", name).factory
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def as_json(result: GradientCheck) -> dict[str, Any]:
    """The check as plain JSON types: the summary, then every comparison."""
    worst = result.worst_coordinate
    return {
        "objective": result.objective, "gradient": result.gradient, "method": result.method,
        "dtype": result.dtype, "dim": result.dim, "batch": result.batch,
        "passed": result.passed, "abs_error": result.abs_error,
        "rel_error": result.rel_error, "rtol": result.rtol,
        "worst_coordinate": None if worst is None else worst.index,
        "comparisons": [{"label": c.label, "index": c.index, "gradient": c.analytic,
                         "reference": c.reference, "error": c.error,
                         "tolerance": c.tolerance, "h": c.h, "ok": c.ok}
                        for c in result.comparisons],
    }


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {"check-gradient": CheckGradient}
