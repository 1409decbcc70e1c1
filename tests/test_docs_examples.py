"""The examples in gdkit's docstrings run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

import gdkit
import gdkit.compose
import gdkit.parts


@pytest.mark.parametrize("module", [gdkit, gdkit.compose, gdkit.parts], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
