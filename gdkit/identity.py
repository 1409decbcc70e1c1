"""What a part *is*, for a resume to compare: its configuration, not its ``repr``.

A checkpoint records the configuration of the objective, the gradient source
and every part of the step rule; a resume compares them with the new run's.
:func:`configuration` reads it:

- an object with a ``configuration()`` method: what that method returns (a
  mapping of plain values), so a part says itself what changes its numbers;
- a dataclass: its fields, except those declared ``field(compare=False)``
  (settings that do not change the numbers, such as where a cluster runs or
  how long to wait for it);
- plain numbers, strings, None, and lists or tuples of them: themselves;
- anything else: its ``repr`` (the older rule, for third-party parts).

``repr`` is for people: a resume's message shows it, and nothing compares it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

__all__ = ["configuration"]


def _name(obj: Any) -> str:
    """The class's name (not its module: a part may move between modules)."""
    return type(obj).__qualname__


def _plain(value: Any) -> Any:
    """``value`` as JSON keeps it: non-finite floats as text, tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def configuration(part: Any) -> Any:
    """The configuration of ``part`` as plain JSON values (see the module's notes)."""
    if part is None or isinstance(part, (bool, int, float, str)):
        return _plain(part)
    if hasattr(part, "item") and getattr(part, "shape", None) == ():  # a numpy scalar
        return _plain(part.item())
    if isinstance(part, (list, tuple)):
        return [configuration(p) for p in part]
    own = getattr(part, "configuration", None)
    if callable(own) and not isinstance(part, type):
        return {"type": _name(part), "configuration": _json(configuration(dict(own())))}
    if isinstance(part, dict):
        return {str(k): configuration(v) for k, v in part.items()}
    if dataclasses.is_dataclass(part) and not isinstance(part, type):
        return {"type": _name(part),
                "fields": {f.name: configuration(getattr(part, f.name))
                           for f in dataclasses.fields(part) if f.compare}}
    return {"type": _name(part), "repr": repr(part)}


def _json(value: Any) -> Any:
    """``value`` after a round trip through JSON (what a checkpoint gives back)."""
    return json.loads(json.dumps(value, default=repr))
