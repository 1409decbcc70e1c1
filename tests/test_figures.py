"""The README's and the docs' speed and accuracy figures are those the committed results render.

``benchmarks/speed.py`` and ``benchmarks/accuracy.py`` each write their section
(``speed``, ``accuracy``) of one committed results file,
``benchmarks/results/figures.json``; ``benchmarks/render.py`` renders the
figures between marker lines in ``README.md`` and ``docs/benchmarks.rst``. A
figure edited by hand, or a results file committed without re-rendering, fails
here. No test runs a benchmark: the writing and rendering are tried on small
fake results.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    """A module of ``benchmarks/`` (that folder is on ``sys.path`` once render.py ran)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


render = _load("render")
benchjson = _load("benchjson")
racc = _load("render_accuracy")


def committed() -> dict[str, Any]:
    sections: dict[str, Any] = json.loads(render.RESULTS.read_text(encoding="utf-8"))
    return sections


def fake_accuracy() -> dict[str, Any]:
    """An ``accuracy`` section with every configuration, one figure pattern each."""
    def run(seed: int, base: float) -> dict[str, Any]:
        return {"seed": seed, "test_at_best_validation": base + seed / 1000,
                "best_accuracy": base + seed / 1000 + 0.001, "best_epoch": 20 + seed,
                "min_recall_at_chosen": 0.5 + seed / 10, "compiled": True}

    keys = [*racc.TABLE, *racc.CURES_AT_3, racc.NUMPY]
    configs = []
    for i, key in enumerate(keys):
        sizes, cost, init, eta, *numpy = key.split()
        runs = [run(s, 0.9 + i / 100) for s in (0, 1, 2)]
        configs.append({
            "key": key, "sizes": [int(n) for n in sizes.split("-")], "cost": cost,
            "init": init, "eta": float(eta), "path": "numpy" if numpy else "default",
            "compiled": not numpy and sizes != "784-10", "runs": runs,
            "median_seconds_per_epoch": 0.25,
            "median_test_at_best_validation": runs[1]["test_at_best_validation"],
            "median_best_accuracy": runs[1]["best_accuracy"]})
    return {
        "date": "2026-01-02T03:04:05Z", "complete": True, "full": True, "epochs": 30,
        "seeds": [0, 1, 2], "batch_size": 10, "target": 0.95,
        "machine": {"cpu_model": "Test CPU", "cpus": 2, "system": "Linux", "kernel": "6.1",
                    "versions": {"gdkit": "0.1.0", "numpy": "2.0", "numba": "0.60"}},
        "blas": [{"internal_api": "openblas", "version": "0.3", "architecture": "Haswell",
                  "num_threads": 2}],
        "blas_during_training": [{"internal_api": "openblas", "version": "0.3",
                                  "num_threads": 1}],
        "load_average": {"start": [0.5, 0, 0], "end": [1.5, 0, 0]}, "configs": configs,
        "transcript": {"command": "gdkit train", "compiled": True, "status": 0, "lines": [
            "Training ...", "Epoch 1: 9,000 / 10,000 (90.00%)", "Epoch 2: x", "Epoch 3: y",
            "Best validation: epoch 2, validation accuracy 91.00%, test accuracy 90.50%"]},
        "steps": [{"step": s, "epochs": 3, "compiled": s == "fixed",
                   "accuracy": [0.9, 0.91, 0.92], "seconds": [0.2, 0.4, 0.3]}
                  for s in ("fixed", "armijo", "normalized")]}


# -- the committed figures -------------------------------------------------------------
def test_the_committed_speed_results_come_from_a_full_run() -> None:
    results = committed()["speed"]
    assert results["quick"] is False and results["n_train"] == 50_000
    cells = {(c["hidden"], c["batch_size"], c["dtype"]) for c in results["cells"]}
    assert cells == {(h, b, d) for h in (30, 100) for b in (10, 100)
                     for d in ("float64", "float32")}
    assert results["blas"] and results["load_average"]["start"]


def test_the_committed_accuracy_results_come_from_one_complete_run() -> None:
    acc = committed()["accuracy"]
    assert acc["complete"] is True and acc["full"] is True
    assert (acc["epochs"], acc["seeds"], acc["batch_size"]) == (30, [0, 1, 2], 10)
    assert {c["key"] for c in acc["configs"]} == {*racc.TABLE, *racc.CURES_AT_3, racc.NUMPY}
    assert all(len(c["runs"]) == 3 and len(c["runs"][0]["accuracy"]) == 30
               for c in acc["configs"])
    assert [s["step"] for s in acc["steps"]] == ["fixed", "armijo", "normalized"]
    assert acc["transcript"]["lines"] and acc["blas"] and acc["machine"]["kernel"]
    assert acc["load_average"]["start"] and acc["load_average"]["end"]


@pytest.mark.parametrize("name", ["README", "DOCS"])
def test_the_figures_match_the_committed_results(name: str) -> None:
    path = getattr(render, name)
    assert path.read_text(encoding="utf-8") == render.rendered()[path], (
        f"{path.name}'s figures differ from benchmarks/results/figures.json: "
        "run python benchmarks/render.py")


@pytest.mark.parametrize("section", ["speed", "accuracy"])
def test_a_changed_result_is_caught(tmp_path: Path, section: str) -> None:
    sections = committed()
    if section == "speed":
        sections["speed"]["cells"][0]["seconds"]["default"] *= 0.5
    else:
        sections["accuracy"]["configs"][0]["runs"][0]["test_at_best_validation"] -= 0.01
    edited = tmp_path / "figures.json"
    edited.write_text(json.dumps(sections), encoding="utf-8")
    new = render.rendered(edited)
    assert new[render.README] != render.README.read_text(encoding="utf-8")
    assert new[render.DOCS] != render.DOCS.read_text(encoding="utf-8")


def test_a_number_edited_by_hand_is_caught() -> None:
    text = render.README.read_text(encoding="utf-8")
    begin, end = render.md_marks("accuracy table")
    region = text[text.index(begin):text.index(end)]
    edited = text.replace(region, region.replace("%", "1%", 1))
    assert edited != text and edited != render.rendered()[render.README]


def test_every_region_is_in_its_file_once() -> None:
    for path, parts in render.regions(committed()).items():
        text = path.read_text(encoding="utf-8")
        for begin, end in parts:
            assert text.count(begin) == 1 and text.count(end) == 1, (path.name, begin)


# -- rendering, on fake results --------------------------------------------------------
def test_the_accuracy_figures_render_from_the_results() -> None:
    acc = fake_accuracy()
    readme = racc.readme(acc)
    assert "90.00 / 90.10 / 90.20%" in readme["accuracy table"]  # the defaults, per seed
    assert "**90.10%**" in readme["accuracy table"]
    assert "50.0 / 60.0 / 70.0%" in readme["accuracy table"]  # the lowest recall
    assert "2026-01-02" in readme["accuracy summary"] and "Test CPU" in readme["accuracy summary"]
    assert "Linux 6.1" in readme["accuracy summary"] and "kernel Haswell" in readme[
        "accuracy summary"]
    assert "load average 0.50 at the start and 1.50 at the end" in readme["accuracy summary"]
    assert "1 while training" in readme["accuracy summary"]
    assert "the numpy path for [784, 10]" in readme["accuracy summary"]
    assert "Training" not in readme["accuracy transcript"]
    assert "Epoch 3" not in readme["accuracy transcript"]
    assert "Best validation: epoch 2" in readme["accuracy transcript"]
    assert "| 90.00% / 91.00% / 92.00% | 0.30" in readme["accuracy steps"]  # armijo: median
    assert "1.0× `fixed`'s" in readme["accuracy steps"]
    docs = racc.docs(acc)
    assert "On the numpy path" in docs["accuracy paths"]
    assert "**" not in docs["accuracy table"] and "`" not in docs["accuracy table"].replace(
        "``", "")


def test_a_missing_configuration_is_named() -> None:
    acc = fake_accuracy()
    acc["configs"] = acc["configs"][1:]
    with pytest.raises(KeyError, match="784-30-10 quadratic normal 3"):
        racc.readme(acc)


def test_verdicts_say_what_they_mean() -> None:
    assert render.verdict(1.15, 1.0) == "1.15× slower"
    assert render.verdict(1.0, 2.03) == "2.03× faster"
    assert render.verdict(0.5, 0.5) == "as fast"


# -- one results file, in sections -----------------------------------------------------
def test_writing_one_section_leaves_the_other_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    speed = committed()["speed"]
    benchjson.write_section(out, "speed", speed, complete=True, committed=out)
    block = json.dumps({"speed": speed}, indent=benchjson.INDENT)[2:-2]
    assert block in out.read_text(encoding="utf-8")
    benchjson.write_section(out, "accuracy", fake_accuracy(), complete=True, committed=out)
    benchjson.write_section(out, "accuracy", fake_accuracy() | {"epochs": 29}, complete=True,
                            committed=out)
    assert block in out.read_text(encoding="utf-8")
    sections = json.loads(out.read_text(encoding="utf-8"))
    assert sections["speed"] == speed and sections["accuracy"]["epochs"] == 29
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_a_partial_run_refuses_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    benchjson.write_section(out, "accuracy", {"complete": True}, complete=True, committed=out)
    before = out.read_bytes()
    with pytest.raises(SystemExit, match="refusing"):
        benchjson.write_section(out, "accuracy", {"quick": True}, complete=False, committed=out)
    assert out.read_bytes() == before
    elsewhere = tmp_path / "figures-quick.json"
    benchjson.write_section(elsewhere, "accuracy", {"quick": True}, complete=False,
                            committed=out)
    assert json.loads(elsewhere.read_text(encoding="utf-8")) == {"accuracy": {"quick": True}}


def test_two_writers_at_once_keep_both_sections(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"

    def write(name: str) -> None:
        for i in range(20):
            benchjson.write_section(out, name, {"i": i}, complete=True, committed=out)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("speed", "accuracy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(out.read_text(encoding="utf-8")) == {"speed": {"i": 19},
                                                           "accuracy": {"i": 19}}


def test_only_the_whole_set_is_a_full_accuracy_run() -> None:
    accuracy = _load("accuracy")
    assert accuracy.parse([]).full is True
    for argv in (["--quick"], ["--epochs", "5"], ["--seeds", "0"], ["--sizes", "784", "10"],
                 ["--dtype", "float32"], ["--batch-size", "20"]):
        assert accuracy.parse(argv).full is False, argv
    assert accuracy.parse(["--quick"]).epochs == 1


def test_a_quick_speed_run_is_not_full() -> None:
    speed = _load("speed")
    full = {"quick": False, "n_train": None, "hidden": [30, 100], "batch_sizes": [10, 100],
            "dtypes": ["float64", "float32"]}
    assert speed.is_full(argparse.Namespace(**full))
    for change in ({"quick": True}, {"n_train": 1000}, {"hidden": [30]},
                   {"dtypes": ["float32"]}):
        assert not speed.is_full(argparse.Namespace(**(copy.deepcopy(full) | change)))
