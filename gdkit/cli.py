"""The ``gdkit`` command.

``gdkit plugins`` lists every part and who supplied it; ``gdkit minimize
NAME`` runs one registered objective. Errors gdkit raises on purpose become a
one-paragraph message and a non-zero exit status (``--debug`` shows the
traceback).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__
from .descent import Result, gradient_source, minimize, objective, step_rule
from .errors import ConfigError, GdkitError
from .registry import KINDS, get_registry

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


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
    p.add_argument("--step", default="armijo", help="step rule (default armijo)")
    p.add_argument("--max-iter", type=int, default=None, help="most steps (default 1000)")
    p.add_argument("--gtol", type=float, default=None, help="stop when ‖∇C‖ <= GTOL")
    p.add_argument("--seed", type=int, default=None, help="seed of the starting point")
    p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                   help="objective option, e.g. -o dim=10 (repeatable)")
    p.add_argument("--step-option", action="append", metavar="KEY=VALUE",
                   help="step-rule option, e.g. --step-option eta=0.01")
    p.add_argument("--gradient-option", action="append", metavar="KEY=VALUE",
                   help="gradient-source option")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 if the run did not converge")
    p.set_defaults(func=_cmd_minimize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gdkit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except GdkitError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"gdkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
