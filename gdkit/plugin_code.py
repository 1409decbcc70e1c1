"""Running plugin code safely: while a plugin loads, its output goes to standard error,
anything it raises (``SystemExit``, a ``KeyboardInterrupt`` of its own and
``GeneratorExit`` included) is caught and named, a real Ctrl-C goes through, and a
plugin slower than :data:`SLOW_LOAD_SECONDS` is named while it loads."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["SLOW_LOAD_SECONDS", "noting_sigint", "raised_by_a_signal_handler"]

SLOW_LOAD_SECONDS: Final = 3.0
"""A plugin still loading after this long is named on standard error."""


class _PluginLeft(Exception):
    """Plugin code run while loading raised (or left with sys.exit); ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _how_it_left(exc: BaseException) -> str:
    """``ValueError: why``, or ``called sys.exit(3)``."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


@contextlib.contextmanager
def _plugin_code(plugin: str, dist: str, version: str | None, *, watch: bool) -> Iterator[None]:
    """Run plugin code while loading: its output to stderr, anything it raises
    (BaseException included) as :class:`_PluginLeft`, a real Ctrl-C through,
    and a note on stderr if it takes more than :data:`SLOW_LOAD_SECONDS`."""
    shown = dist + (f" {version}" if version else "")
    err = sys.stderr

    def slow() -> None:
        with contextlib.suppress(Exception):
            print(f"gdkit: plugin {plugin!r} (distribution {shown!r}) is taking more than "
                  f"{SLOW_LOAD_SECONDS:g} s to load; to skip the plugins of every distribution "
                  "but gdkit's own, set GDKIT_DISABLE_PLUGIN_AUTOLOAD=1 (or uninstall it).",
                  file=err, flush=True)

    timer = threading.Timer(SLOW_LOAD_SECONDS, slow) if watch else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        with noting_sigint() as ctrl_c, contextlib.redirect_stdout(err):
            try:
                yield
            except KeyboardInterrupt as exc:
                if ctrl_c.is_set() or raised_by_a_signal_handler(exc):
                    raise
                raise _PluginLeft(_how_it_left(exc)) from exc
            except BaseException as exc:  # SystemExit, GeneratorExit: the plugin's doing
                raise _PluginLeft(_how_it_left(exc)) from exc
    finally:
        if timer is not None:
            timer.cancel()


@contextlib.contextmanager
def noting_sigint() -> Iterator[threading.Event]:
    """While the block runs, a real SIGINT sets the event it yields (and
    raises KeyboardInterrupt as usual), so that a KeyboardInterrupt that code
    raised itself can be told from Ctrl-C. Off the main thread, a no-op."""
    seen = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        seen.set()
        raise KeyboardInterrupt

    if previous is signal.default_int_handler:  # another handler (a run's) is left alone
        signal.signal(signal.SIGINT, handler)
    else:
        previous = None
    try:
        yield seen
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def raised_by_a_signal_handler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by one of gdkit's signal handlers (a real signal)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.startswith("gdkit.") and tb.tb_frame.f_code.co_name == "handler"
