"""Writing a benchmark's results file: the one way every script here does it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(out: Path, results: dict[str, Any], *, indent: int = 2, note: str = "") -> None:
    """Write ``results`` as JSON to ``out`` (its folder created) and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=indent) + "\n")
    print(f"wrote {out}{note}")
