"""The compiled path's compact inputs: one-byte codes into a table of the values.

MNIST's pixels take 256 values (k/255); the compiled path stores a mini-batch
row's non-zero inputs as codes into a table of them and reads a byte an
input, where it read a float from the row. These tests check the codes hold
the same values bit for bit, that inputs with more values fall back to the
rows, and that both give the same bits and agree with the numpy path.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import gdkit

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="the fast extra (numba) is not installed")


def pixels(n: int, k: int, levels: int, seed: int = 0) -> np.ndarray:
    """``n`` rows of ``k`` inputs taking ``levels`` values j/255, 70% zeros."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, levels, (n, k)) / 255.0
    x[rng.random((n, k)) < 0.7] = 0.0
    return x


@pytest.mark.parametrize("block", [7, 4096])
def test_the_codes_hold_the_same_values_bit_for_bit(block: int) -> None:
    from gdkit_plugins.fast.network import _codes, _nonzeros
    x = pixels(300, 40, 256)
    indptr, indices = _nonzeros(x, block=block)
    codes, table = _codes(x, indptr, indices)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(indptr))
    assert table.size == 255 and np.unique(table).size == 255
    np.testing.assert_array_equal(x[rows, indices], table[codes])
    assert np.count_nonzero(x) == codes.size


@pytest.mark.parametrize("spoil", ["257 values", "a NaN", "an infinity"])
def test_inputs_a_byte_cannot_code_are_read_from_the_rows(spoil: str) -> None:
    from gdkit_plugins.fast.network import _codes, _nonzeros
    x = pixels(300, 40, 256)
    if spoil == "257 values":  # 255 values k/255 so far: two more need a ninth bit
        x[-1, -2:] = [0.123456789, 0.987654321]
    else:
        x[-1, -1] = np.nan if spoil == "a NaN" else -np.inf
    indptr, indices = _nonzeros(x, block=50)
    codes, table = _codes(x, indptr, indices)
    assert codes.size == 0 and table.size == 0
    assert indices.size == np.count_nonzero(x)


def test_256_values_fit_in_a_byte() -> None:
    from gdkit_plugins.fast.network import _codes, _nonzeros
    x = pixels(300, 40, 256)
    x[-1, -1] = -0.5  # the 256th value: code 255
    codes, table = _codes(x, *_nonzeros(x))
    assert table.size == 256 and codes.max() == 255
    rows, cols = np.nonzero(x)
    np.testing.assert_array_equal(x[rows, cols], table[codes])


def run(net: Any, monkeypatch: pytest.MonkeyPatch, compiled: bool, codes: bool = True) -> Any:
    from gdkit_plugins.fast import network as fast
    monkeypatch.setenv("GDKIT_NO_COMPILE", "0" if compiled else "1")
    if not codes:
        def rows_only(x: Any, indptr: Any, indices: Any) -> Any:
            return np.zeros(0, np.uint8), np.zeros(0, x.dtype)
        monkeypatch.setattr(fast, "_codes", rows_only)
    step = gdkit.chain(gdkit.transform("momentum", beta=0.5), gdkit.step_size("fixed", eta=0.5))
    res = gdkit.minimize(net, net.initial_point(np.random.default_rng(0)), step=step,
                         batch_size=40, epochs=100, max_iter=500, seed=1)
    assert res.compiled is compiled and res.nit == 500
    monkeypatch.undo()
    return res.x


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_codes_and_rows_give_the_same_bits_and_agree_with_numpy(
        dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    x = pixels(400, 50, 256, seed=3)
    labels = np.argmax(x @ np.random.default_rng(4).standard_normal((50, 6)), axis=1)
    net = gdkit.objective("network", sizes=(50, 20, 6), inputs=x, targets=labels, dtype=dtype)
    coded = run(net, monkeypatch, compiled=True)
    np.testing.assert_array_equal(coded, run(net, monkeypatch, compiled=True, codes=False))
    slow = run(net, monkeypatch, compiled=False)
    tol = 1e-12 if dtype == "float64" else 1e-4
    assert np.max(np.abs(coded - slow)) <= tol * np.max(np.abs(slow))
