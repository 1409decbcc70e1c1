"""Argument validators for parts' constructors: each names the part and the argument.

A plugin's constructor checks its configuration once, where it is given, so a
bad value is one clear :class:`~gdkit.errors.ConfigError` (``"armijo: c must
be a number in (0, 1), got 2."``) instead of a NaN many steps later::

    from gdkit.validate import number, integer

    class Halving:
        def __init__(self, eta=1.0):
            self.eta = number("halving", "eta", eta, low=0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = ["choice", "flag", "integer", "number"]


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
        where = _interval(low, high, low_closed, high_closed)
        raise ConfigError(f"{part}: {name} must be a number {where}, got {value!r}.")
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
        raise ConfigError(f"{part}: {name} must be an integer >= {minimum}{note}, got {value!r}.")
    return int(value)


def flag(part: str, name: str, value: Any) -> bool:
    """``value`` as a bool (True/False only), else ConfigError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{part}: {name} must be True or False, got {value!r}.")
    return bool(value)


def choice(part: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else ConfigError listing them."""
    if value not in options:
        raise ConfigError(f"{part}: {name} must be one of {', '.join(map(repr, options))}, "
                          f"got {value!r}.")
    return str(value)
