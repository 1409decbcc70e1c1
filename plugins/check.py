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
import json
from typing import Any, Final

import numpy as np

import gdkit
from gdkit.command import EXIT_ERROR, add_objective_flags, objective_options
from gdkit.errors import ShapeError
from gdkit.gradcheck import GradientCheck
from gdkit.validate import argument, integer, number

__all__ = ["CheckGradient"]


class CheckGradient:
    """Check an objective's gradient against central differences or the complex step."""

    advice: Final = {
        "directions": "--directions {what}",
        "gradient": "{what} Use a finite-difference source: --gradient central.",
    }
    """The library's advice in this command's flags (:func:`gdkit.command.worded`)."""

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
        add_objective_flags(parser)
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
        obj = gdkit.objective(args.objective,
                              **objective_options(args.objective, args.option, args))
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
