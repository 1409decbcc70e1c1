"""The examples in gdkit's docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import numpy as np
import pytest

import gdkit
import gdkit.command
import gdkit.compose
import gdkit.files
import gdkit.gradcheck
import gdkit.parts
import gdkit.progress
import gdkit.settings
import gdkit.stepspec
from gdkit.cli import main
from gdkit.testing import check_plugin

from .conftest import MakeDist


@pytest.mark.parametrize("module", [gdkit, gdkit.compose, gdkit.parts, gdkit.stepspec,
                                    gdkit.files, gdkit.gradcheck, gdkit.progress, gdkit.settings,
                                    gdkit.command], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_plugin() -> str:
    blocks = re.findall(r"```python\n(# gdkit_halving\.py\n.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "the README's plugin example is missing"
    return blocks[0]


def test_the_readme_plugin_passes_the_kit(make_dist: MakeDist) -> None:
    make_dist("gdkit-halving", "gdkit_halving", _readme_plugin())
    report = check_plugin("gdkit-halving", max_examples=5)
    assert [p.part.split("'")[1] for p in report.parts] == ["halving"]
    res = gdkit.minimize("valley", [1.0, 1.0], step="momentum,halving", max_iter=4)
    assert res.history["eta"][:3].tolist() == [1.0, 0.5, 0.25]


def test_the_plugin_guides_command_runs(make_dist: MakeDist,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.rst").read_text()
    block = re.search(r"in ``gdkit --help``\. The hook ``gdkit_commands\(\)`` returns name → "
                      r"factory::\n\n(.*?)\n\nInstalled", guide, re.S)
    assert block, "the plugin guide's command example is missing"
    make_dist("gdkit-countdown", "gdkit_countdown", block[1])
    assert main(["countdown", "--from", "2"]) == 0
    assert capsys.readouterr().out == "2\n1\nlift-off\n"
    with pytest.raises(SystemExit) as info:  # argparse's usage error
        main(["countdown", "--from", "0"])
    assert info.value.code == 2
    assert "--from: must be an integer >= 1, got 0." in capsys.readouterr().err


DOCS = Path(__file__).resolve().parents[1] / "docs"
MNIST = Path(os.environ.get(
    "GDKIT_TEST_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))


@pytest.mark.parametrize("page", ["howto-compose.rst", "howto-check-gradient.rst",
                                  "howto-autodiff.rst", "using-a-network.rst"])
def test_how_to_pages_run_and_print_what_they_show(page: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if page == "howto-autodiff.rst":
        pytest.importorskip("autograd", reason="the autodiff extra is not installed")
    monkeypatch.setenv("GDKIT_DATA", str(MNIST))  # as a user with their data set up
    result = doctest.testfile(str(DOCS / page), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


def test_the_jax_part_of_the_autodiff_how_to_runs() -> None:
    jax = pytest.importorskip("jax", reason="the jax extra is not installed")
    page = DOCS / "howto-autodiff-jax.inc"  # included in howto-autodiff.rst, after its imports
    x64 = jax.config.jax_enable_x64
    try:
        result = doctest.testfile(str(page), module_relative=False,
                                  globs={"np": np, "gdkit": gdkit},
                                  optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    finally:
        jax.config.update("jax_enable_x64", x64)  # the page turns the 64-bit mode on and off
    assert result.attempted > 10
    assert result.failed == 0


def test_the_dask_how_to_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    monkeypatch.setenv("GDKIT_DATA", str(MNIST))  # as a user with their data set up
    result = doctest.testfile(str(DOCS / "howto-dask.rst"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0
