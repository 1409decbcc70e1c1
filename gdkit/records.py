"""The epoch record: one definition for what a log line holds and how it is read.

A record is the row an epoch adds to a run's history (``cost``, ``eta``,
``seconds``, and whatever the objective's ``evaluate`` measures). As a line of
a JSON-lines log it is ``{"epoch": E, **record}``, counts as integers and
everything else as floats; :func:`log_line` writes such a line, and
:func:`read_line` reads one back (the curve plot reads logs with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["COUNTS", "EPOCH", "log_line", "plain", "read_line"]

EPOCH: Final = "epoch"
"""The key of the epoch number in a log line (1 for the first epoch)."""
COUNTS: Final = frozenset({"correct", "total"})
"""Record fields that are counts (written as integers)."""


def plain(record: Mapping[str, float]) -> dict[str, Any]:
    """A record for JSON: counts as ints, everything else as floats."""
    return {k: int(v) if k in COUNTS else float(v) for k, v in record.items()}


def log_line(epoch: int, record: Mapping[str, float]) -> str:
    """The JSON line of epoch ``epoch`` (newline included)."""
    return json.dumps({EPOCH: int(epoch), **plain(record)}) + "\n"


def read_line(line: str) -> dict[str, float] | str:
    """The numbers of one log line (``epoch`` among them), or why it is not one."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(row, dict) or not isinstance(row.get(EPOCH), int):
        return f"no integer {EPOCH!r}"
    return {k: float(v) for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
