"""The ``gdkit evaluate`` and ``gdkit predict`` commands (being written)."""

from __future__ import annotations

from typing import Any

import gdkit


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {}
