"""Argument validators: each names the part and the argument it checks.

A plugin's constructor checks its configuration once, where it is given, so a
bad value is one clear :class:`~gdkit.errors.ConfigError` (``"armijo: c must
be a number in (0, 1), got 2."``) instead of a NaN many steps later::

    from gdkit.validate import number, integer

    class Halving:
        def __init__(self, eta=1.0):
            self.eta = number("halving", "eta", eta, low=0.0)

The same checks serve a command's options: :func:`argument` turns one into an
``argparse`` type (``type=argument(integer, minimum=1)``), so ``--epochs -1``
and ``epochs=-1`` are refused by one rule in the same words.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any, Final, TypeVar

import numpy as np

from .errors import ConfigError

__all__ = ["COPIES", "MARGIN", "argument", "available_memory", "choice", "flag", "float_dtype",
           "integer", "memory", "number"]

T = TypeVar("T")


def _fail(part: str, name: str, expected: str, value: Any) -> ConfigError:
    """``"part: name must be EXPECTED, got VALUE."``, or without the ``part:
    name`` when both are empty (a command-line option: argparse names it)."""
    head = f"{part}: {name} must be" if part or name else "must be"
    return ConfigError(f"{head} {expected}, got {value!r}.")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def number(part: str, name: str, value: Any, *, low: float = -math.inf,
           high: float = math.inf, low_closed: bool = False, high_closed: bool = False) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high``
    (open ends unless ``low_closed`` / ``high_closed``), else ConfigError."""
    x = float(value) if _is_real(value) else math.nan
    ok = (math.isfinite(x) and (x >= low if low_closed else x > low)
          and (x <= high if high_closed else x < high))
    if not ok:
        raise _fail(part, name, f"a number {_interval(low, high, low_closed, high_closed)}",
                    value)
    return x


def _interval(low: float, high: float, low_closed: bool, high_closed: bool) -> str:
    if high == math.inf:
        return f"{'>=' if low_closed else '>'} {low:g}" if low > -math.inf else "(finite)"
    if low == -math.inf:
        return f"{'<=' if high_closed else '<'} {high:g}"
    return f"in {'[' if low_closed else '('}{low:g}, {high:g}{']' if high_closed else ')'}"


def integer(part: str, name: str, value: Any, *, minimum: int = 0, note: str = "") -> int:
    """``value`` as an int >= ``minimum`` (bools refused), else ConfigError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise _fail(part, name, f"an integer >= {minimum}{note}", value)
    return int(value)


def flag(part: str, name: str, value: Any) -> bool:
    """``value`` as a bool (True/False only), else ConfigError."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(part, name, "True or False", value)
    return bool(value)


def choice(part: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else ConfigError listing them."""
    if value not in options:
        raise _fail(part, name, f"one of {', '.join(map(repr, options))}", value)
    return str(value)


def float_dtype(part: str, name: str, value: Any,
                options: tuple[str, ...] | None = ("float64", "float32")) -> np.dtype[Any]:
    """``value`` as a floating numpy dtype, one of ``options`` (names; None:
    any floating dtype), else ConfigError."""
    dt: np.dtype[Any] | None
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt.kind != "f" or (options is not None and dt.name not in options):
        expected = ("a floating dtype" if options is None
                    else " or ".join(repr(o) for o in options))
        raise _fail(part, name, expected, value)
    return dt


def argument(check: Callable[..., T], **bounds: Any) -> Callable[[str], T]:
    """An ``argparse`` type that reads the text as :func:`check` expects
    (an int for :func:`integer`, a float for :func:`number`) and applies it
    with ``bounds``; a bad value is argparse's usage error in the check's words.
    """
    read: Callable[[str], Any] = int if check is integer else float if check is number else str

    def parse(text: str) -> T:
        try:
            value = read(text)
        except ValueError:
            value = text
        try:
            return check("", "", value, **bounds)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__  # argparse says "invalid integer value" on other errors
    return parse


def available_memory() -> int:
    """Bytes of memory this process may still allocate: the kernel's
    ``MemAvailable`` estimate on Linux, else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no way to know
        return 1 << 62


COPIES = 12
"""Vectors of the parameters' size a run holds at its peak (v, ∇C, the step
rule's state, a line search's trial point, a checkpoint's copy, the
objective's temporaries): what :func:`memory` checks a model's size against,
times the dtype's bytes. Measured (peak RSS less the interpreter's, with
/usr/bin/time -v): ``gdkit minimize rosenbrock -o dim=10000000 --max-iter 2``
peaks at 8.3 vectors with armijo, 9.3 with momentum,fixed and 10.2 with
barzilai-borwein; 12 covers them. (4, before: the issue's 1.6 GB estimate for
dim 5e7 against a 3.2 GB peak.)"""
MARGIN: Final = 1.25
"""What :func:`memory` keeps free beyond an estimate, by default: the
estimates are measured peaks, and other processes share the machine."""


def memory(part: str, what: str, nbytes: float, *, margin: float = MARGIN) -> None:
    """Refuse, before allocating, ``nbytes`` for ``what`` when the machine
    does not have them, times ``margin`` (ConfigError naming the part, the
    need and the supply).

    Examples
    --------
    >>> memory("rosenbrock", "dim = 10", 10 * 8 * COPIES)  # 320 bytes: fine
    """
    have = available_memory()
    if nbytes * margin > have:
        kept = f" ({_size(nbytes * margin)} with gdkit's margin of {margin:g}x)" if (
            margin != 1.0) else ""
        raise ConfigError(f"{part}: {what} would need {_size(nbytes)} of memory{kept}, but "
                          f"this machine has {_size(have)} available. Ask for less.")


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes):,} bytes"
