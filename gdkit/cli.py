"""The ``gdkit`` command: the shell that plugins' commands plug into.

The shell owns two commands: ``gdkit plugins`` lists every part and command
and who supplied it, and ``gdkit minimize NAME`` runs one registered
objective. Every other command (``gdkit train`` among them) comes from a
plugin through the ``gdkit_commands`` hook (:mod:`gdkit.command`). Errors
gdkit raises on purpose become a one-paragraph message and a non-zero exit
status; a plugin command's unexpected exception is reported as a bug of that
plugin (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

import numpy as np

from . import __version__, threads
from .command import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_USAGE,
    Advice,
    add_objective_flags,
    gradient_and_step,
    in_flags,
    objective_options,
    refuse_overwrite,
    silence_stdout,
    summary,
)
from .descent import minimize
from .errors import (
    ConfigError,
    GdkitError,
    Interrupted,
    PluginError,
    PluginLoadWarning,
    StaleLockWarning,
)
from .parts import AUTO, objective
from .registry import (
    ALL_KINDS,
    SLOW_LOAD_SECONDS,
    PartInfo,
    Registry,
    check_part,
    factory_name,
    get_registry,
    noting_sigint,
    raised_by_a_signal_handler,
)
from .result import Result
from .settings import Checkpointing, RunOptions
from .validate import argument, integer, number

__all__ = ["build_parser", "main"]

SHELL_COMMANDS: Final = ("plugins", "minimize")
"""The commands the shell owns; a plugin cannot replace them."""


def _cmd_plugins(args: argparse.Namespace) -> int:
    reg = get_registry()
    rows: list[dict[str, Any]] = []
    for kind in ALL_KINDS:
        for name, info in sorted(reg.parts(kind).items()):
            rows.append({"kind": kind, "name": name, "plugin": info.plugin,
                         "distribution": info.distribution, "version": info.version,
                         "factory": factory_name(info.factory)})
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
    print(f"  {'NAME':<20} {'PLUGIN':<20} {'DISTRIBUTION':<24} FACTORY")
    for kind in ALL_KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:  # no empty heading: say how step rules are made, leave out other kinds
            if kind == "step rule":
                print("step rules: none registered whole; --step chains the transforms and "
                      "one step size below (e.g. 'momentum(beta=0.9),fixed')")
            continue
        print(f"{kind}s:")
        for r in mine:
            dist = r["distribution"] + (f" {r['version']}" if r["version"] else "")
            print(f"  {r['name']:<20} {r['plugin']:<20} {dist:<24} {r['factory']}")
    for f in reg.failures:
        print(f"failed to load: {f.describe()}")
    return 0


def _cmd_minimize(args: argparse.Namespace) -> int:
    if args.check:
        print("gdkit minimize: note: --check does nothing and can be dropped: a run that does "
              "not converge always exits with status 1.", file=sys.stderr)
    obj = objective(args.objective, **objective_options(args.objective, args.option, args))
    src, rule = gradient_and_step(args, obj)
    kwargs: dict[str, Any] = {"gradient": src, "step": rule, "seed": args.seed, "options":
                              RunOptions(dtype=args.dtype, threads=args.threads)}
    for key in ("max_iter", "gtol", "batch_size", "epochs"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.checkpoint is not None and args.resume is None:
        refuse_overwrite(args.checkpoint, args.overwrite)
    if args.allow_config_change and args.resume is None:
        raise ConfigError("--allow-config-change only makes sense with --resume PATH.")
    if args.checkpoint is not None or args.resume is not None:
        kwargs["checkpoint"] = Checkpointing(args.checkpoint, resume=args.resume or False,
                                             allow_config_change=args.allow_config_change)
    try:
        res = minimize(obj, **kwargs)
    except Interrupted as exc:  # the library's advice is Python's (resume=PATH)
        print(f"gdkit minimize: interrupted by {signal.Signals(exc.signum).name} at iteration "
              f"{exc.iteration}; the run's state is saved in {exc.checkpoint!r}. Resume it "
              f"with the same command and --resume {shlex.quote(exc.checkpoint)}.",
              file=sys.stderr)
        return 128 + exc.signum
    if args.json:
        print(json.dumps(_result_json(res), indent=2))
    else:
        _print_result(args.objective, obj, src, rule, res)
    sys.stdout.flush()  # the result first (and a closed pipe noticed before the verdict)
    if res.success:
        return 0
    print(f"gdkit minimize: no success: {res.message}", file=sys.stderr)
    return EXIT_ERROR


MINIMIZE_ADVICE: Final[Advice] = {
    "eta": "{what} try a smaller η (--step 'fixed(eta=...)') or an adaptive rule such as "
           "--step armijo.",
    "allow_config_change": "{what} Resume with the same parts, or pass --allow-config-change "
                           "to continue anyway.",
    "gradient": "{what} Use a finite-difference source: --gradient central.",
}
"""``gdkit minimize``'s words for the advice of a library error (:func:`gdkit.command.worded`)."""


def _result_json(res: Result) -> dict[str, Any]:
    return {"x": res.x.tolist(), "fun": res.fun, "grad_norm": res.grad_norm, "nit": res.nit,
            "nfev": res.nfev, "ngev": res.ngev, "success": bool(res.success),
            "status": res.status, "message": res.message,
            "gradient_source": repr(res.gradient_source), "step_rule": repr(res.step_rule)}


def _print_result(name: str, obj: Any, src: Any, rule: Any, res: Result) -> None:
    with np.printoptions(precision=6, threshold=20, edgeitems=4):
        print(f"{name}: {obj!r}, gradient {src!r}, step {rule!r}")
        print(f"  {res.message}")
        print(f"  x        = {res.x}")
        print(f"  C(x)     = {res.fun:.10g}")
        print(f"  ‖∇C(x)‖  = {res.grad_norm:.3g}")
        print(f"  steps {res.nit}, cost evaluations {res.nfev}, gradients {res.ngev}")


def build_parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The ``gdkit`` parser: the shell's commands and every plugin's (``gdkit_commands``)."""
    parser = argparse.ArgumentParser(
        prog="gdkit", description="Gradient descent as a library (Nielsen, ch. 1).")
    parser.add_argument("--version", action="version", version=f"gdkit {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plugins", help="list every part and command, and who supplied it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("minimize", help="minimize a registered objective")
    p.add_argument("objective", help="a registered objective name (see `gdkit plugins`)")
    p.add_argument("--gradient", default=AUTO, metavar="SOURCE",
                   help="gradient source: analytic, central, forward, complex-step, ... "
                        "(default auto: the objective's own gradient, else central differences)")
    p.add_argument("--step", default=AUTO, metavar="SPEC",
                   help="step rule: a step size, or transforms and a step size separated by "
                        "commas, each with its options, e.g. 'momentum(beta=0.9),armijo' "
                        "(default auto: lbfgs,wolfe; fixed with --batch-size)")
    p.add_argument("--max-iter", type=argument(integer, minimum=0), default=None,
                   help="most steps (default 1000)")
    p.add_argument("--gtol", type=argument(number, low=0.0, low_closed=True), default=None,
                   help="stop when ‖∇C‖ <= GTOL")
    p.add_argument("--seed", type=argument(integer, minimum=0), default=0,
                   help="seed of the starting point and of the mini-batches (default 0; same "
                        "seed, same numbers)")
    p.add_argument("--batch-size", type=argument(integer, minimum=1), default=None,
                   help="mini-batch SGD on a sampled objective (default: full batch)")
    p.add_argument("--epochs", type=argument(integer, minimum=1), default=None,
                   help="epochs of mini-batch SGD (with --batch-size; default 1)")
    p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                   help="objective option, e.g. -o dim=10 (repeatable)")
    add_objective_flags(p)
    p.add_argument("--step-option", action="append", metavar="[PART.]KEY=VALUE",
                   help="the older spelling of a part's option, e.g. --step-option "
                        "momentum.beta=0.9 for --step 'momentum(beta=0.9),...'; an "
                        "unqualified KEY=VALUE configures the last part (repeatable)")
    p.add_argument("--gradient-option", action="append", metavar="KEY=VALUE",
                   help="gradient-source option")
    p.add_argument("--checkpoint", metavar="FILE.npz", default=None,
                   help="save the run's state as it goes (and at the end); SIGINT/SIGTERM "
                        "save and stop")
    p.add_argument("--resume", metavar="FILE.npz", default=None,
                   help="continue the run saved in this checkpoint (same parts and options)")
    p.add_argument("--allow-config-change", action="store_true",
                   help="with --resume: continue even where the parts or options differ from "
                        "the checkpoint's run")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in a --checkpoint file that holds another run (without "
                        "it, such a file is refused: continue it with --resume)")
    p.add_argument("--threads", type=threads.parse, default="auto", metavar="N|auto",
                   help=threads.THREADS_HELP)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    # Kept so that old scripts still parse; it changes nothing, and says so.
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_minimize, advice=MINIMIZE_ADVICE)

    _add_plugin_commands(sub, registry)
    return parser


def _add_plugin_commands(sub: Any, registry: Registry | None) -> None:
    """One subparser per command a plugin supplies; a broken one fails only when used."""
    reg = registry or get_registry()
    for name, info in sorted(reg.parts("command").items()):
        if name in SHELL_COMMANDS:
            warnings.warn(f"{info.supplier} supplies a command {name!r}, which is the shell's "
                          "own; it is ignored. Ask its author to rename it.",
                          PluginLoadWarning, stacklevel=2)
            continue
        try:
            cmd = info.factory()
            check_part("command", cmd, f"the command {name!r} built by {info.supplier}",
                       "Fix the plugin, or report it to its author.")
            p = sub.add_parser(name, help=summary(cmd), description=summary(cmd))
            cmd.configure(p)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the tool
            _placeholder(sub, name, "(broken)", _broken(info, exc))
            continue
        p.set_defaults(func=cmd.run, advice=getattr(cmd, "advice", {}))
    for name, infos in sorted(reg.conflicts("command").items()):
        who = " and ".join(i.supplier for i in infos)
        _placeholder(sub, name, "(registered twice)", _broken(infos[0], PluginError(
            f"the command name {name!r} is registered twice, by {who}. Uninstall one of the "
            "two distributions, or ask its author to rename the command.")))


def _placeholder(sub: Any, name: str, help: str, func: Callable[..., int]) -> None:
    """A command that takes any arguments and only reports why it cannot run."""
    p = argparse.ArgumentParser(prog=f"gdkit {name}", add_help=False)
    p.set_defaults(func=func, takes_anything=True)
    if name not in sub.choices:
        sub.add_parser(name, help=help)
    sub.choices[name] = p  # replaces a half-configured parser


def _broken(info: PartInfo, exc: Exception) -> Callable[[argparse.Namespace], int]:
    def fail(args: argparse.Namespace) -> int:
        if isinstance(exc, GdkitError):
            raise exc
        raise PluginError(f"the command {info.name!r} of {info.supplier} could not be set "
                          f"up: {type(exc).__name__}: {exc}. Fix or uninstall the plugin, "
                          "or report it to its author.") from exc
    return fail


def _explicit_options(parser: argparse.ArgumentParser, command: str,
                      argv: Sequence[str]) -> set[str]:
    """The destinations of ``command``'s options actually given in ``argv``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = sub.choices[command]._actions
    saved = [a.default for a in actions]
    try:
        for action in actions:
            action.default = argparse.SUPPRESS
        given = vars(parser.parse_known_args(argv)[0])
    finally:
        for action, default in zip(actions, saved, strict=True):
            action.default = default
    return {a.dest for a in actions if a.dest in given}


def _leading_options(argv: Sequence[str]) -> list[str]:
    """The options before the command's name (``gdkit --debug --help``)."""
    return list(itertools.takewhile(lambda a: a.startswith("-") and a != "--", argv))


def _help_registry() -> Registry | None:
    """For ``gdkit --help``: the plugins, if they load within
    :data:`~gdkit.registry.SLOW_LOAD_SECONDS`; else gdkit's own built-ins only
    (a plugin that hangs while loading must not hang the help)."""
    reg, stdout = get_registry(), sys.stdout
    loader = threading.Thread(target=reg.load_entry_points, daemon=True, name="gdkit-plugins")
    loader.start()
    loader.join(SLOW_LOAD_SECONDS)
    if not loader.is_alive():
        return None
    sys.stdout = stdout  # the loader sends plugin output to stderr while it runs
    return Registry(autoload=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gdkit`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    lead = _leading_options(argv)
    if "--version" in lead:  # needs no plugin
        print(f"gdkit {__version__}")
        return 0
    command, owner = "gdkit", None
    advice: Advice = {}
    if sys.stdout is None:  # started with standard output closed (>&-)
        print("gdkit: error: standard output is closed, and gdkit prints its results there. "
              "Redirect it to a file, or to /dev/null to discard them.", file=sys.stderr)
        return EXIT_USAGE
    real_stdout, sys.stdout = sys.stdout, _Stdout(sys.stdout)
    try:
        with warnings.catch_warnings(), noting_sigint() as ctrl_c:
            if not debug:
                warnings.showwarning = _show_plugin_warning
                # numpy's overflow warnings would come before gdkit's own report of the
                # divergence, which names the iteration and what to do
                np.seterr(over="ignore", invalid="ignore", divide="ignore")
            args = _parse(argv, lead)
            command, debug = f"gdkit {args.command}", args.debug
            advice = getattr(args, "advice", {})
            owner = _command_plugin(args.command)
            status: int = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except GdkitError as exc:
        if debug:
            traceback.print_exc()
        print(f"{command}: error: {in_flags(exc, advice)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        real = ctrl_c.is_set() or raised_by_a_signal_handler(exc)
        who = None if real else _supplier(exc)
        if who is not None:  # a plugin raised it: not the user's Ctrl-C
            print(f"{command}: error: {who} raised KeyboardInterrupt. {_PLUGIN_BUG}",
                  file=sys.stderr)
            return EXIT_ERROR
        print(f"{command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): end quietly
        silence_stdout()
        return EXIT_PIPE
    except StdoutError as exc:  # a full disk, /dev/full, an I/O error: not gdkit's bug
        silence_stdout()
        print(f"{command}: error: cannot write to standard output ({exc.strerror}), so what "
              "the command printed is lost; anything it saved to files is written. Free some "
              "space or redirect it elsewhere, and run it again.", file=sys.stderr)
        return EXIT_ERROR
    except SystemExit as exc:
        who = None if owner is None else _exit_culprit(exc, owner)
        if who is None:  # argparse, or the command itself choosing its exit status
            raise
        if debug:
            traceback.print_exc()
        print(f"{command}: error: {who} called sys.exit({exc.code!r}) in the middle of the "
              f"command, which a plugin must not do. {_PLUGIN_BUG}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if debug:
            raise
        print(f"{command}: error: {_unexpected(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except BaseException as exc:  # GeneratorExit and other non-Exceptions a plugin raises
        if debug:
            raise
        print(f"{command}: error: {_unexpected(exc)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if isinstance(sys.stdout, _Stdout):
            sys.stdout = real_stdout
    return int(status or 0)


def _parse(argv: list[str], lead: Sequence[str]) -> argparse.Namespace:
    """The command line parsed (``--help`` waits only so long for the plugins)."""
    partial = _help_registry() if {"-h", "--help"} & set(lead) else None
    parser = build_parser(partial)
    if partial is not None:
        parser.epilog = ("Only gdkit's own commands are listed: other plugins were still "
                         "loading (named above). `gdkit plugins` lists every command.")
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "takes_anything", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.explicit = _explicit_options(parser, args.command, argv)
    return args


class StdoutError(OSError):
    """Standard output could not be written (not a closed pipe: that is
    :class:`BrokenPipeError`, which ends the command quietly)."""


class _Stdout:
    """``sys.stdout`` while a command runs: a failure to write to it becomes
    :class:`StdoutError`, told apart from the command's other files."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_PLUGIN_BUG: Final = ("This is a bug in that plugin: rerun with --debug for the traceback and "
                      "report it to its author.")


def _command_plugin(name: str) -> str:
    """The plugin supplying the command ``name`` ("" for the shell's own)."""
    info = get_registry().parts("command").get(name)
    return "" if info is None else info.plugin


def _exit_culprit(exc: SystemExit, owner: str) -> str | None:
    """The plugin, other than the running command's own (``owner``), whose
    code called sys.exit; None if there is none."""
    try:
        found = get_registry().culprit(exc)
    except Exception:  # noqa: BLE001 - the registry itself is broken: let the exit through
        return None
    if found is None or found[0] == owner:
        return None
    plugin, dist, version = found
    return f"plugin {plugin!r} (distribution {dist + (f' {version}' if version else '')!r})"


def _supplier(exc: BaseException) -> str | None:
    try:
        return get_registry().supplier_of(exc)
    except Exception:  # noqa: BLE001 - the registry itself is broken
        return None


def _unexpected(exc: BaseException) -> str:
    """One line for an exception nobody meant to raise, naming whose bug it is."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError):
        return ("not enough memory for what was asked. Ask for less (smaller --sizes, dim, "
                "--n-train or --batch-size), or rerun with --debug to see where.")
    who = _supplier(exc)
    if who is None:
        return (f"internal error {what}. This is a bug in gdkit: rerun with --debug for the "
                "traceback and report it.")
    return f"{who} raised {what}. {_PLUGIN_BUG}"


_default_showwarning = warnings.showwarning


def _show_plugin_warning(message: Warning | str, category: type[Warning], filename: str,
                         lineno: int, file: TextIO | None = None,
                         line: str | None = None) -> None:
    """gdkit's own warnings (a plugin that failed to load, a stale lock taken
    over) are one line for the user, not a source location."""
    if issubclass(category, (PluginLoadWarning, StaleLockWarning)):
        print(f"gdkit: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
