"""The :class:`Network` class: a sigmoid network scored by a cost on training
data, assembled from its jobs (data holding, backpropagation, metrics, the
traced, shard and compiled adapters)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gdkit.parts import resolve
from gdkit.protocols import Cost, FloatArray
from gdkit.validate import choice, float_dtype, integer

from ..lazy import is_lazy
from .backprop import _Views, _Work
from .compiled import CompiledHook
from .data import DEFAULT_CHUNK, _check_sizes
from .metrics import Metrics
from .reuse import ReusedPass
from .traced import Traced

__all__ = ["INITS", "Network"]

INITS: Final = ("normal", "scaled")
"""Starts: the book's N(0, 1) for every weight and bias (chapter 1), or each
weight N(0, 1/nₗ₋₁), scaled by its neuron's number of inputs (chapter 3)."""

_DTYPES: Final[tuple[np.dtype[np.floating[Any]], ...]] = (
    np.dtype(np.float64), np.dtype(np.float32))


class Network(Metrics, Traced, CompiledHook, ReusedPass):
    """A sigmoid network scored by the quadratic cost (eq. 6) on training data.

    Satisfies gdkit's protocols structurally: an Objective (``dim``,
    ``cost``) with an analytic gradient (``gradient``, by backpropagation),
    sampled (``n_samples``: mini-batch SGD, eq. 18-20), with the book's
    random start (``initial_point``) and, given evaluation data, a test
    accuracy per epoch (``evaluate``).

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input layer first: ``[784, 30, 10]``.
    inputs : array_like, shape (n, sizes[0])
        The training inputs x, one per row. Not copied when already a
        C-contiguous array of ``dtype``. A ``dask.array`` stays where it is:
        the ``dask`` gradient source computes on it where it lives
        (:meth:`shard_data`), and local cost and gradient calls are refused.
    targets : array_like, shape (n, sizes[-1]) or (n,)
        The desired outputs y(x), one per row (one-hot vectors), or integer
        labels, turned into one-hot rows by :func:`one_hot` (a ``dask.array``
        with dask inputs: one shard at a time, on the workers).
    eval_inputs : array_like, shape (m, sizes[0]), optional
        Inputs whose classification :meth:`evaluate` scores (the test set).
    eval_labels : array_like of int, shape (m,), optional
        Their labels: the index of the output neuron that should fire most.
    dtype : {"float64", "float32"}, optional
        The dtype of everything: data, v, ∇C and the buffers. Default: that
        of ``inputs`` if float32 or float64, else float64.
    chunk_size : int, default 5000
        Rows processed at once when a cost, gradient or evaluation sweeps
        more inputs than that (bounds the memory of full-data passes).
    cost : str or Cost, default "quadratic"
        The output layer and its cost: a registered cost's name or a
        :class:`~gdkit.protocols.Cost` (the sigmoid outputs and eq. 6 by
        default; ``"cross-entropy"``, ``"log-likelihood"`` with softmax).
    init : {"normal", "scaled"}, default "normal"
        The start :meth:`initial_point` draws (see :data:`INITS`).
    val_inputs, val_labels : array_like, optional
        A validation set, scored by :meth:`evaluate` as ``val_accuracy``: held
        out from training and from the test set, for choosing when to stop
        and which parameters to keep without looking at the test set.

    Notes
    -----
    Layout of v: for l = 1 … L, wˡ of shape ``(sizes[l], sizes[l-1])``
    row-major, then bˡ of shape ``(sizes[l],)``; ``dim`` = Σ (nₗ₋₁ + 1) nₗ.
    :meth:`unpack` gives the views; a gradient has the same layout.

    Backpropagation over a mini-batch of B inputs at once, rows being inputs
    (Aˡ is B × nₗ, A⁰ = X the batch):

    - forward: Aˡ = σ(Aˡ⁻¹ (wˡ)ᵀ + bˡ), and σ'(zˡ) = Aˡ ⊙ (1 − Aˡ);
    - output error (BP1): Δᴸ = ∂C/∂zᴸ from the cost's ``delta``; for eq. (6),
      Δᴸ = ∇ₐC ⊙ σ'(zᴸ) with ∇ₐC = (Aᴸ − Y)/B
      (:func:`~gdkit_plugins.quadratic.quadratic_cost_gradient`);
    - back through the layers (BP2): Δˡ = (Δˡ⁺¹ wˡ⁺¹) ⊙ σ'(zˡ);
    - the gradient (BP3, BP4): ∂C/∂bˡ = Σ_rows Δˡ and ∂C/∂wˡ = (Δˡ)ᵀ Aˡ⁻¹.

    That is the mean over the batch of the per-input gradients ∇Cₓ, the
    estimate of eq. (18)-(19), so one fixed step v → v − η∇C is the update
    of eq. (20) for every weight and bias at once. Each pass is a few matrix
    products into buffers preallocated per batch size and reused across
    steps; the batch is gathered with :func:`numpy.take` into one of them;
    σ is :func:`scipy.special.expit` (no overflow for large ``|z|``).

    The views of the last few parameter and gradient vectors passed in are
    cached, keyed on the array object (the loop passes the same v, moved in
    place, and the same gradient buffer at every step). Because of these
    shared buffers a Network is not thread-safe: use one per thread.

    References
    ----------
    M. Nielsen, *Neural Networks and Deep Learning*, ch. 1 (the network,
    eq. 6, 16-20) and ch. 2 (backpropagation, BP1-BP4).
    """

    _compiled_kernels: Final = True
    """The compiled kernels (``gdkit[fast]``) compute this class's steps."""

    def __init__(
        self,
        sizes: Sequence[int],
        inputs: npt.ArrayLike,
        targets: npt.ArrayLike,
        *,
        eval_inputs: npt.ArrayLike | None = None,
        eval_labels: npt.ArrayLike | None = None,
        dtype: Any = None,
        chunk_size: int = DEFAULT_CHUNK,
        cost: str | Cost = "quadratic",
        init: str = "normal",
        val_inputs: npt.ArrayLike | None = None,
        val_labels: npt.ArrayLike | None = None,
    ) -> None:
        from scipy.special import expit  # 0.3 s to import: not when the plugins load

        self._expit = expit
        self.sizes = _check_sizes(sizes, "network", chunk_size if isinstance(
            chunk_size, int) and chunk_size > 0 else DEFAULT_CHUNK)
        self.cost_part: Cost = resolve("cost", cost)
        self.init: str = choice("network", "init", init, INITS)
        if dtype is None:
            in_dtype = getattr(inputs, "dtype", None)
            dtype = in_dtype if in_dtype in _DTYPES else np.float64
        self.dtype: np.dtype[Any] = float_dtype("network", "dtype", dtype)
        self.chunk_size = integer("network", "chunk_size", chunk_size, minimum=1)

        self._lazy = is_lazy(inputs) or is_lazy(targets)
        if self._lazy:
            x, y = self._lazy_data(inputs, targets)
        else:
            x, y = self._local_data(inputs, targets)
        self.inputs: FloatArray = x
        self.targets: FloatArray = y

        self.eval_inputs, self.eval_labels = self._labelled("eval", eval_inputs, eval_labels)
        self.val_inputs, self.val_labels = self._labelled("val", val_inputs, val_labels)

        # Slice offsets of each layer's (w, b) in v, computed once.
        layout: list[tuple[int, int, int, tuple[int, int]]] = []
        pos = 0
        for k_in, k_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            w_end = pos + k_out * k_in
            layout.append((pos, w_end, w_end + k_out, (k_out, k_in)))
            pos = w_end + k_out
        self._layout = layout
        self._dim = pos
        self._work: dict[int, _Work] = {}
        self._param_views: list[_Views] = []
        self._grad_views: list[_Views] = []
        self._acc: FloatArray | None = None
        self._held = None
        self._passes = self._gathers = 0
        self._keep_z0 = False

    # -- the protocols -------------------------------------------------------
    def __repr__(self) -> str:
        ev = "" if self.eval_labels is None else f", n_eval={self.eval_labels.shape[0]}"
        parts = "" if type(self.cost_part).__name__ == "QuadraticCost" else \
            f", cost={self.cost_part!r}"
        if self.init != "normal":
            parts += f", init={self.init!r}"
        return (f"Network(sizes={list(self.sizes)}, n_samples={self.n_samples}, "
                f"dtype={self.dtype.name}{ev}{parts})")

    @property
    def dim(self) -> int:
        """m, the number of weights and biases: Σ (nₗ₋₁ + 1) nₗ."""
        return self._dim

    @property
    def n_samples(self) -> int:
        """n, the number of training inputs."""
        return int(self.inputs.shape[0])

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        """The start, in ``dtype``: every weight and bias drawn from N(0, 1) (the
        book's, ``init="normal"``); with ``init="scaled"`` the same draws with
        each weight divided by √nₗ₋₁, its neuron's number of inputs, so that
        zˡ starts of order 1 and the sigmoids unsaturated."""
        v: FloatArray = rng.standard_normal(self._dim, dtype=self.dtype)
        if self.init == "scaled":
            for a, b, _, (_, k_in) in self._layout:
                v[a:b] /= np.sqrt(k_in, dtype=self.dtype)
        return v

    def shard_data(self) -> tuple[Any, Any]:
        """The training inputs and targets, rows first (numpy, or the dask
        arrays given): what a distributed gradient source splits into shards."""
        return self.inputs, self.targets

    def shard_builder(self) -> Any:
        """A picklable ``builder(inputs, targets)``: this network (sizes,
        cost, dtype, chunk size, init) on a shard's rows, without evaluation
        data."""
        return functools.partial(Network, self.sizes, dtype=self.dtype.name,
                                 chunk_size=self.chunk_size, cost=self.cost_part,
                                 init=self.init)
