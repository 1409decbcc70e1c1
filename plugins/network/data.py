"""The network's data: training inputs and targets held as numpy arrays, or left
where they are as lazy (Dask) arrays, and the evaluation and validation sets.

A :class:`~gdkit_plugins.network.Network` on lazy data keeps only the arrays'
shapes here; the ``dask`` gradient source converts each shard on its worker
(:meth:`~gdkit_plugins.network.Network.shard_data`), and every local pass over
the data is refused with one line (:meth:`HeldData._local_only`).
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gdkit.errors import ConfigError, ShapeError
from gdkit.protocols import FloatArray
from gdkit.validate import COPIES, memory

from ..lazy import lazy_shape, not_here

__all__ = ["DEFAULT_CHUNK", "HeldData", "IntArray", "one_hot"]

DEFAULT_CHUNK: Final = 5000
"""Rows per chunk when a cost, gradient or evaluation sweeps many inputs."""

IntArray = npt.NDArray[np.integer[Any]]


def _check_sizes(sizes: Any, who: str, chunk: int = DEFAULT_CHUNK) -> tuple[int, ...]:
    try:
        out = tuple(operator.index(s) for s in sizes)
    except TypeError:
        out = ()
    if len(out) < 2 or min(out) < 1 or isinstance(sizes, (str, bytes)):
        raise ConfigError(f"{who}: sizes must be a sequence of at least two integers >= 1 "
                          f"(neurons per layer, input first), got {sizes!r}.")
    params = sum((a + 1) * b for a, b in itertools.pairwise(out))
    # the parameters' vectors, and a chunk's z and a in every layer (the forward pass
    # that scores the test set); measured: sizes [784, 4000, 10] peak at 350 MB above a
    # tiny network's, 320 MB of them the chunk's activations
    activations = chunk * sum(out[1:]) * 8 * 2
    memory(who, f"sizes {list(out)} ({params:,} weights and biases)",
           params * 8 * COPIES + activations)
    return out


def one_hot(labels: npt.ArrayLike, k: int, dtype: Any = np.float64) -> FloatArray:
    """The desired outputs y(x) for digit labels: row i is the unit vector e_{labels[i]}.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels in ``0 .. k-1``.
    k : int
        The number of classes (output neurons).
    dtype : dtype, default float64

    Returns
    -------
    ndarray, shape (n, k)

    Raises
    ------
    ShapeError
        If ``labels`` is not 1-D integer or a label is outside ``0 .. k-1``.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or not (np.issubdtype(lab.dtype, np.integer) or lab.size == 0):
        raise ShapeError(f"labels must be a 1-D integer array, got shape {lab.shape} "
                         f"and dtype {lab.dtype}.")
    if lab.size and (int(lab.min()) < 0 or int(lab.max()) >= k):
        raise ShapeError(f"labels must lie in 0..{k - 1} (one per output neuron), found "
                         f"{int(lab.min())}..{int(lab.max())}.")
    y = np.zeros((lab.size, k), dtype=dtype)
    y[np.arange(lab.size), lab] = 1
    return y



class HeldData:
    """The data a network holds: its training inputs and targets (numpy, or
    lazy arrays), evaluation and validation sets, checked against its sizes."""

    sizes: tuple[int, ...]
    dtype: np.dtype[Any]
    inputs: FloatArray
    targets: FloatArray
    eval_inputs: FloatArray | None
    eval_labels: IntArray | None
    val_inputs: FloatArray | None
    val_labels: IntArray | None
    _lazy: bool

    def _local_data(self, inputs: Any, targets: Any) -> tuple[FloatArray, FloatArray]:
        n_in, n_out = self.sizes[0], self.sizes[-1]
        x = np.ascontiguousarray(inputs, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] == 0:
            raise ShapeError(f"network: inputs must have shape (n, {n_in}) with n >= 1 "
                             f"(one input per row, sizes[0] = {n_in}), got {x.shape}.")
        t = np.asarray(targets)
        if t.ndim == 1:
            t = one_hot(t, n_out, self.dtype)
        y = np.ascontiguousarray(t, dtype=self.dtype)
        if y.shape != (x.shape[0], n_out):
            raise ShapeError(f"network: targets must have shape ({x.shape[0]}, {n_out}) "
                             f"(one desired output per input) or be {x.shape[0]} integer "
                             f"labels, got {np.shape(targets)}.")
        return x, y

    def _lazy_data(self, inputs: Any, targets: Any) -> tuple[Any, Any]:
        """Dask inputs and targets, kept as they are: only their shapes are
        checked here; each shard is converted on its worker."""
        n_in, n_out = self.sizes[0], self.sizes[-1]
        xs = lazy_shape("network", "inputs", inputs)
        ys = lazy_shape("network", "targets", targets)
        if len(xs) != 2 or xs[1] != n_in or xs[0] == 0:
            raise ShapeError(f"network: inputs must have shape (n, {n_in}) with n >= 1 "
                             f"(one input per row, sizes[0] = {n_in}), got {xs}.")
        if ys not in ((xs[0],), (xs[0], n_out)):
            raise ShapeError(f"network: targets must have shape ({xs[0]}, {n_out}) (one "
                             f"desired output per input) or be {xs[0]} integer labels, got "
                             f"{ys}.")
        return inputs, targets

    def _local_only(self) -> None:
        """Refuse a local pass over lazy data (the ``dask`` source computes on it)."""
        if self._lazy:
            raise not_here(repr(self))

    def _labelled(self, what: str, inputs: npt.ArrayLike | None, labels: npt.ArrayLike | None
                  ) -> tuple[FloatArray | None, IntArray | None]:
        """Checked evaluation (``what="eval"``) or validation inputs and labels."""
        if (inputs is None) != (labels is None):
            raise ConfigError(f"network: give both {what}_inputs and {what}_labels, or neither.")
        if inputs is None:
            return None, None
        n_in, n_out = self.sizes[0], self.sizes[-1]
        ex = np.ascontiguousarray(inputs, dtype=self.dtype)
        el = np.asarray(labels)
        if ex.ndim != 2 or ex.shape[1] != n_in or ex.shape[0] == 0:
            raise ShapeError(f"network: {what}_inputs must have shape (m, {n_in}) with "
                             f"m >= 1, got {ex.shape}.")
        if el.shape != (ex.shape[0],) or not np.issubdtype(el.dtype, np.integer):
            raise ShapeError(f"network: {what}_labels must be {ex.shape[0]} integers (one "
                             f"per input), got shape {el.shape}, dtype {el.dtype}.")
        if int(el.min()) < 0 or int(el.max()) >= n_out:
            raise ShapeError(f"network: {what}_labels must lie in 0..{n_out - 1}.")
        return ex, el
