"""The README's and the docs' speed tables are those the committed results file renders.

``benchmarks/render_speed.py`` writes them from ``benchmarks/results/speed.json``
(written by a full ``python benchmarks/speed.py``); a figure edited by hand, or
a results file committed without re-rendering, fails here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_speed",
                                                  ROOT / "benchmarks" / "render_speed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_speed", module)
    spec.loader.exec_module(module)
    return module


render = _render()


def test_the_committed_results_come_from_a_full_run() -> None:
    results = json.loads(render.RESULTS.read_text(encoding="utf-8"))
    assert results["quick"] is False and results["n_train"] == 50_000
    cells = {(c["hidden"], c["batch_size"], c["dtype"]) for c in results["cells"]}
    assert cells == {(h, b, d) for h in (30, 100) for b in (10, 100)
                     for d in ("float64", "float32")}
    assert results["blas"] and results["load_average"]["start"]


@pytest.mark.parametrize("name", ["README", "DOCS"])
def test_the_table_matches_the_committed_results(name: str) -> None:
    path = getattr(render, name)
    assert path.read_text(encoding="utf-8") == render.rendered()[path], (
        f"{path.name}'s speed table differs from benchmarks/results/speed.json: "
        "run python benchmarks/render_speed.py")


def test_a_figure_edited_by_hand_is_caught(tmp_path: Path) -> None:
    results = json.loads(render.RESULTS.read_text(encoding="utf-8"))
    results["cells"][0]["seconds"]["default"] *= 0.5
    edited = tmp_path / "speed.json"
    edited.write_text(json.dumps(results), encoding="utf-8")
    assert render.rendered(edited)[render.README] != render.README.read_text(encoding="utf-8")


def test_verdicts_say_what_they_mean() -> None:
    assert render.verdict(1.15, 1.0) == "1.15× slower"
    assert render.verdict(1.0, 2.03) == "2.03× faster"
    assert render.verdict(0.5, 0.5) == "as fast"
