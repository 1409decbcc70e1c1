"""Commands of the ``gdkit`` tool that plugins contribute: the :class:`Command` protocol.

The ``gdkit`` shell owns ``plugins`` and ``minimize``; every other command
(``train``, and whatever a third-party distribution adds) comes from a plugin
through the ``gdkit_commands`` hook, as llm's ``register_commands`` does::

    import gdkit

    class Hello:
        "Say hello."   # the first docstring line is the --help summary

        def configure(self, parser):
            parser.add_argument("--name", default="world")

        def run(self, args):
            print(f"hello, {args.name}")
            return 0

    @gdkit.hookimpl
    def gdkit_commands():
        return {"hello": Hello}

A :class:`~gdkit.errors.GdkitError` raised by ``run`` becomes one line on
stderr and a non-zero exit (a :class:`~gdkit.errors.ConfigError` exits with
2, any other with 1). Library errors give their advice in Python's terms and
name the setting it is about (:attr:`~gdkit.errors.GdkitError.setting`); a
command says it in its own flags through its ``advice`` table, setting → text
(:func:`worded`), e.g. ``{"eta": "{what} try a smaller η (--eta)."}``. Any
other exception is reported as a bug of the plugin that supplied the command,
naming it and its distribution (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

from .errors import ConfigError, GdkitError
from .stepspec import read_value

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_PIPE", "EXIT_SHORTFALL", "EXIT_USAGE",
           "Advice", "Command", "add_objective_flags", "gradient_and_step", "in_flags",
           "objective_options", "parse_options", "refuse_overwrite", "silence_stdout", "summary",
           "worded"]

EXIT_ERROR: Final = 1
"""Exit status of a run that failed (bad data, a run that did not converge)."""
EXIT_USAGE: Final = 2
"""Exit status of a bad command line or configuration (as argparse uses)."""
EXIT_SHORTFALL: Final = 3
"""Exit status of a run that finished and wrote its outputs, but whose result
falls short in a way its last lines on stderr name and say what to try: no
plain success, no failure either (``gdkit train``: a network that leaves a
digit (almost) never recognised)."""
EXIT_INTERRUPTED: Final = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""
EXIT_PIPE: Final = 141
"""Exit status when the reader of stdout went away (128 + SIGPIPE), as a Unix
tool killed by SIGPIPE reports it (``gdkit plugins | head -1``)."""


Advice = Mapping[str, "str | Callable[[GdkitError], str]"]
"""A command's advice table: setting → text with ``{what}``, or a function of the error."""


def worded(exc: GdkitError, advice: Advice) -> str:
    """The line a command prints for ``exc``: what happened with the command's own
    advice about ``exc.setting`` (in its flags) when ``advice`` has it, else the
    library's message.

    >>> from gdkit.errors import ConfigError
    >>> exc = ConfigError("eta too large: try eta=0.1.", setting="eta", what="eta too large:")
    >>> worded(exc, {"eta": "{what} try --eta 0.1."})
    'eta too large: try --eta 0.1.'
    >>> worded(exc, {})
    'eta too large: try eta=0.1.'
    """
    say = advice.get(exc.setting) if exc.setting is not None else None
    if say is None:
        return str(exc)
    return say(exc) if callable(say) else say.format(what=exc.what.rstrip())


def in_flags(exc: GdkitError, own: Advice) -> str:
    """What the ``gdkit`` shell prints for ``exc``: :func:`worded` with the running
    command's ``advice`` over the plugins' (``gdkit_advice``: settings every command
    spells alike, such as ``--data DIR``)."""
    from .registry import get_registry

    tables: list[Any] = []
    if exc.setting is not None and exc.setting not in own:
        try:
            tables = get_registry().pm.hook.gdkit_advice()
        except Exception:  # noqa: BLE001 - a broken plugin costs its wording, not the error
            tables = []
    shared = {k: v for table in tables if isinstance(table, Mapping) for k, v in table.items()}
    return worded(exc, {**shared, **own})


def silence_stdout() -> None:
    """Point stdout at the null device after a :class:`BrokenPipeError`, so
    that nothing more (not even Python's flush at exit) complains about it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout: nothing to silence
        pass


@runtime_checkable
class Command(Protocol):
    """A subcommand of the ``gdkit`` tool.

    The factory a plugin registers is called without arguments. The first
    line of the command's docstring, or a ``help`` attribute, is its summary
    in ``gdkit --help``.
    """

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to its (sub)parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; returns the exit status (0 for success).

        ``args`` holds the parsed arguments, the shell's ``debug`` flag, and
        ``explicit``: the destinations of the options actually given on the
        command line, so that a command can tell a default from a value
        the user chose.
        """
        ...


def summary(command: object) -> str:
    """The one-line summary of ``command`` for ``gdkit --help``."""
    text = getattr(command, "help", None) or type(command).__doc__ or ""
    return str(text).strip().split("\n")[0].rstrip(".")


def refuse_overwrite(path: str | os.PathLike[str], overwrite: bool) -> None:
    """Refuse a ``--checkpoint`` file that already holds a run, unless ``--overwrite``:
    a new run must not replace an earlier one's state (continue it with ``--resume``)."""
    if overwrite or not os.path.isfile(path):  # none yet, or no file (refused elsewhere)
        return
    from .checkpoint import load_checkpoint
    from .errors import CheckpointError

    try:
        ck = load_checkpoint(path)
        held = f"a run saved at epoch {ck.epoch}, iteration {ck.iteration}"
    except CheckpointError:
        held = "something that is not a gdkit checkpoint"
    raise ConfigError(f"--checkpoint {os.fspath(path)} already holds {held}. Continue it with "
                      f"--resume {os.fspath(path)}, give another file, or pass --overwrite to "
                      "start afresh in it.")


def parse_options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["eta=0.5", "name=valley"]`` → ``{"eta": 0.5, "name": "valley"}``.

    Each value is read as a step spec's option value is
    (:func:`gdkit.stepspec.read_value`: a Python literal, ``true``/``false``,
    ``inf``/``nan``, else the text as a string). Raises
    :class:`~gdkit.errors.ConfigError` for an item without ``=``.
    """
    options: dict[str, Any] = {}
    for text in pairs or ():
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"option {text!r} is not of the form key=value.")
        options[key.strip()] = read_value(raw, key.strip())
    return options


def add_objective_flags(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--download`` and ``--dtype``, for a command that builds a registered
    objective by name: the options of an objective that reads MNIST or builds a network,
    spelled as ``gdkit train`` spells them (see :func:`objective_options`)."""
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="directory holding the MNIST files, for an objective that "
                             "reads them, such as mnist-network (default: $GDKIT_DATA, "
                             "then the user cache)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                        help="download MNIST into the user cache if it is not found "
                             "(default: yes unless --data is given)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default=None,
                        help="the dtype of v, and of the objective's data and parameters "
                             "for one that takes a dtype, such as mnist-network (default: "
                             "the objective's, or float64)")


def objective_options(name: str, pairs: Sequence[str] | None, args: argparse.Namespace,
                      ) -> dict[str, Any]:
    """The options to build the registered objective ``name`` with: ``-o KEY=VALUE``
    (``pairs``), and ``args.data``, ``args.download`` and ``args.dtype``
    (:func:`add_objective_flags`) for an objective that takes them.

    As in ``gdkit train``, an objective that can download MNIST does so when no
    directory is given. ``--dtype`` is also v's dtype, so it is accepted for any
    objective; ``--data`` and ``--download`` are refused for one that reads no data.
    """
    from .registry import get_registry

    options = parse_options(pairs)
    factory = get_registry().lookup("objective", name).factory
    try:
        params = inspect.signature(factory).parameters.values()
        takes = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    except (TypeError, ValueError):  # no signature: pass nothing unasked
        takes = set()
    given = {key: getattr(args, key) for key in ("data", "download", "dtype")
             if getattr(args, key, None) is not None}
    for key, value in given.items():
        if key in options and options[key] != value:
            raise ConfigError(f"--{key} {value} and -o {key}={options[key]} disagree: give "
                              "one of the two.")
        if key in takes:
            options[key] = value
        elif key != "dtype":
            raise ConfigError(f"--{key}: the objective {name} reads no data set (its "
                              f"options: {', '.join(sorted(takes)) or 'none'}).")
    if "download" in takes and "data" in takes and "download" not in options:
        options["download"] = "data" not in options  # as gdkit train: unless a folder is given
    return options


def gradient_and_step(args: argparse.Namespace, obj: Any) -> tuple[Any, Any]:
    """The gradient source and step rule of ``--gradient``/``--step`` (with
    ``--gradient-option``/``--step-option``) for the objective ``obj``;
    ``auto``, the default of both, is chosen as :func:`gdkit.minimize` chooses
    (:func:`gdkit.parts.auto`, with ``--batch-size`` telling the mode)."""
    from .parts import AUTO, auto, gradient_source, step_rule

    for flag, name, options in (("--gradient", args.gradient, args.gradient_option),
                                ("--step", args.step, args.step_option)):
        if name == AUTO and options:
            raise ConfigError(f"{flag} auto takes no options ({flag}-option {options[0]}): "
                              f"name the part, e.g. {flag} "
                              f"{'central' if flag == '--gradient' else 'armijo'}.")
    src = gradient_source(auto("gradient source", objective=obj) if args.gradient == AUTO
                          else args.gradient, **parse_options(args.gradient_option))
    step = (auto("step rule", mini_batch=args.batch_size is not None) if args.step == AUTO
            else args.step)
    return src, step_rule(step, **parse_options(args.step_option))
