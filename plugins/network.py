"""Nielsen's sigmoid network as a gdkit objective, trained by backpropagation.

A feedforward network of sigmoid neurons with layer sizes ``sizes`` (the
book's ``[784, 30, 10]`` for MNIST) maps an input x to the output

    a⁰ = x,   aˡ = σ(zˡ),   zˡ = wˡ aˡ⁻¹ + bˡ   (l = 1, …, L),   σ(z) = 1 / (1 + e⁻ᶻ),

and is scored by the quadratic cost of eq. (6),

    C(w, b) = 1/(2n) Σₓ ‖y(x) − aᴸ(x)‖²,

which :func:`gdkit_plugins.quadratic.quadratic_cost` computes. The output
layer and its cost are a swappable part (``cost=``, a registered
:class:`~gdkit.protocols.Cost`: ``"quadratic"``, ``"cross-entropy"``,
``"log-likelihood"``), and so is the start (``init="normal"``, the book's
N(0, 1), or ``"scaled"``, weights N(0, 1/nₗ₋₁): chapter 3's cures). Every weight
and bias is one coordinate of the parameter vector v, so gradient descent on
C is eq. (16)-(17), wₖ → wₖ − η ∂C/∂wₖ and bₗ → bₗ − η ∂C/∂bₗ, and mini-batch
SGD is eq. (18)-(20): ∇C estimated by the mean of ∇Cₓ over a random
mini-batch of m inputs. :func:`gdkit.minimize` runs that loop;
:class:`Network` supplies C, ∇C (by backpropagation over a whole mini-batch
at once), the book's random start and the test accuracy.

The parameters live in ONE flat vector v; each layer's weight matrix wˡ
(shape ``(sizes[l], sizes[l-1])``, row-major) followed by its biases bˡ
(shape ``(sizes[l],)``), layer after layer. :meth:`Network.unpack` returns
views of a given v with that layout, so a step rule moving v moves every
weight and bias with one vectorized operation, and the gradient is written
through the same views into the caller's buffer.

Registered objectives: ``"network"`` (:func:`network`: a :class:`Network`
on arrays you give, or a small seeded synthetic problem) and
``"mnist-network"`` (:func:`mnist_network`: MNIST via
:func:`gdkit_plugins.mnist.load_mnist`, evaluated on the 10,000 test
images).
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, final

import numpy as np
import numpy.typing as npt

import gdkit
from gdkit.checkpoint import save_model
from gdkit.errors import CheckpointError, ConfigError, ShapeError
from gdkit.parts import resolve
from gdkit.protocols import (
    Batch,
    CompiledForm,
    CompiledSteps,
    Cost,
    FloatArray,
    GradientSource,
)
from gdkit.validate import COPIES, choice, float_dtype, integer, memory

from .lazy import is_lazy, lazy_shape, not_here
from .mnist import load_mnist

__all__ = ["INITS", "LAYOUT", "MAX_RECALL", "MNIST_SIZES", "SAVE_KIND", "Network",
           "mnist_network", "network", "one_hot", "save_network"]

MNIST_SIZES: Final = (784, 30, 10)
"""The book's MNIST network: 784 input pixels, 30 hidden neurons, 10 digits."""

LAYOUT: Final = ("for each layer l = 1..L: weights (sizes[l], sizes[l-1]) row-major, "
                 "then biases (sizes[l],)")
"""Where each weight and bias sits in the flat parameter vector v."""

INITS: Final = ("normal", "scaled")
"""Starts: the book's N(0, 1) for every weight and bias (chapter 1), or each
weight N(0, 1/nₗ₋₁), scaled by its neuron's number of inputs (chapter 3)."""

SAVE_KIND: Final = "gdkit-network"
"""The ``kind`` of a model file written by :func:`save_network`."""

MAX_RECALL: Final = 32
"""Networks with at most this many output classes report each class's recall."""

DEFAULT_CHUNK: Final = 5000
"""Rows per chunk when a cost, gradient or evaluation sweeps many inputs."""

_DTYPES: Final[tuple[np.dtype[np.floating[Any]], ...]] = (
    np.dtype(np.float64), np.dtype(np.float32))
_MAX_WORK: Final = 8  # distinct batch sizes whose work buffers are kept
_MAX_VIEWS: Final = 3  # parameter (and gradient) vectors whose views are kept

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


@final
class _Views:
    """Per-layer views into one flat vector (parameters or a gradient)."""

    __slots__ = ("array", "biases", "weights", "weights_t")

    def __init__(self, array: FloatArray, weights: list[FloatArray],
                 biases: list[FloatArray]) -> None:
        self.array = array  # kept alive: the cache is keyed on its identity
        self.weights = weights
        self.weights_t = [w.T for w in weights]
        self.biases = biases


@final
class _Work:
    """Preallocated buffers for a forward and backward pass over ``rows`` inputs."""

    __slots__ = ("a", "d", "s", "x", "y")

    def __init__(self, rows: int, sizes: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        outs = sizes[1:]
        self.a = [np.empty((rows, k), dtype) for k in outs]  # activations aˡ
        self.d = [np.empty((rows, k), dtype) for k in outs]  # errors δˡ
        # σ'(zˡ) = aˡ(1 − aˡ) of the hidden layers (the output's is the cost's business)
        self.s = [np.empty((rows, k), dtype) for k in outs[:-1]]
        self.x: FloatArray | None = None  # gathered inputs (allocated on first gather)
        self.y: FloatArray | None = None  # gathered targets


class Network:
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

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        """The quadratic cost of eq. (6), C = 1/(2n) Σₓ ‖y(x) − aᴸ(x)‖².

        Parameters
        ----------
        v : ndarray, shape (dim,)
            The parameters, of the network's dtype.
        batch : ndarray of int, optional
            Indices of the training inputs to average over (a mini-batch);
            None: all n of them, processed ``chunk_size`` rows at a time.

        Returns
        -------
        float
        """
        if self._lazy:
            raise not_here(repr(self))
        pv = self._views(v, self._param_views, "v")
        x_all, y_all = self.inputs, self.targets
        if batch is None:
            n, chunk = x_all.shape[0], self.chunk_size
            if n <= chunk:
                return self.cost_part.cost(self._forward(pv, x_all), y_all)
            total = 0.0
            for i in range(0, n, chunk):
                x, y = x_all[i:i + chunk], y_all[i:i + chunk]
                total += self.cost_part.cost(self._forward(pv, x), y) * x.shape[0]
            return total / int(n)
        m = len(batch)
        if m == 0:
            raise ShapeError("network: an empty batch has no cost; pass at least one index.")
        if m <= self.chunk_size:
            x, y = self._gather(batch)
            return self.cost_part.cost(self._forward(pv, x), y)
        total = 0.0
        for i in range(0, m, self.chunk_size):
            part = batch[i:i + self.chunk_size]
            x, y = self._gather(part)
            total += self.cost_part.cost(self._forward(pv, x), y) * len(part)
        return total / m

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C by backpropagation over the batch (eq. 18-19 estimate when ``batch``).

        Parameters
        ----------
        v : ndarray, shape (dim,)
            The parameters, of the network's dtype.
        batch : ndarray of int, optional
            Training inputs to average over; None: all of them (in chunks).
        out : ndarray, shape (dim,), optional
            Where to write ∇C (same layout as v: :meth:`unpack` it).

        Returns
        -------
        ndarray
            ``out`` (a new array if None was given).
        """
        if self._lazy:
            raise not_here(repr(self))
        pv = self._views(v, self._param_views, "v")
        if out is None:
            out = np.empty(self._dim, self.dtype)
        gv = self._views(out, self._grad_views, "out", writable=True)
        chunk = self.chunk_size
        if batch is None:
            n = self.inputs.shape[0]
            if n <= chunk:
                self._backprop(pv, gv, self.inputs, self.targets)
                return out
            parts: list[tuple[int, Any]] = [(i, None) for i in range(0, n, chunk)]
        else:
            n = len(batch)
            if n == 0:
                raise ShapeError("network: an empty batch has no gradient; pass at least one "
                                 "index.")
            if n <= chunk:
                x, y = self._gather(batch)
                self._backprop(pv, gv, x, y)
                return out
            parts = [(i, batch[i:i + chunk]) for i in range(0, n, chunk)]
        # Many inputs: the mean of the chunks' mean gradients, weighted by size.
        if self._acc is None:
            self._acc = np.empty(self._dim, self.dtype)
        acc = self._acc
        av = self._views(acc, self._grad_views, "buffer", writable=True)
        out[...] = 0
        for i, part in parts:
            if part is None:
                x, y = self.inputs[i:i + chunk], self.targets[i:i + chunk]
            else:
                x, y = self._gather(part)
            self._backprop(pv, av, x, y)
            acc *= x.shape[0] / n
            out += acc
        return out

    def evaluate(self, v: FloatArray) -> dict[str, float]:
        """Classification of the evaluation inputs: the most active output neuron.

        Returns
        -------
        dict
            ``accuracy`` (fraction correct), ``correct`` and ``total``
            (counts, as floats); ``recall_0``, ``recall_1``, ... (for up to
            :data:`MAX_RECALL` classes): the fraction of each class's inputs
            classified as that class, NaN for a class with no inputs (a
            recall near 0 is an output neuron that never wins: a stuck one);
            ``saturated``: the fraction of the neurons' activations on those
            inputs that are exactly 0 or 1, where σ'(z) = σ(z)(1 − σ(z)) is 0
            and no gradient flows back (a network driven there by too large
            an η no longer learns); and ``val_accuracy`` on the validation
            set, if given. Empty when the network has neither.
        """
        pv = self._views(v, self._param_views, "v")
        record: dict[str, float] = {}
        if self.eval_inputs is not None and self.eval_labels is not None:
            counts, flat = self._score(pv, self.eval_inputs, self.eval_labels)
            hits, total = int(np.trace(counts)), int(self.eval_labels.shape[0])
            record.update(accuracy=hits / total, correct=float(hits), total=float(total))
            if self.sizes[-1] <= MAX_RECALL:
                per_class = counts.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    recall = np.diag(counts) / per_class
                record.update({f"recall_{k}": float(r) for k, r in enumerate(recall)})
            record["saturated"] = flat / (total * sum(self.sizes[1:]))
        if self.val_inputs is not None and self.val_labels is not None:
            counts, _ = self._score(pv, self.val_inputs, self.val_labels)
            record["val_accuracy"] = float(np.trace(counts)) / self.val_labels.shape[0]
        return record

    def _score(self, pv: _Views, inputs: FloatArray, labels: IntArray
               ) -> tuple[npt.NDArray[np.int64], int]:
        """The confusion counts (true class × predicted class) on ``inputs``,
        and how many activations were exactly 0 or 1."""
        k = self.sizes[-1]
        counts = np.zeros((k, k), np.int64)
        flat = 0
        for i in range(0, inputs.shape[0], self.chunk_size):
            x = inputs[i:i + self.chunk_size]
            acts = self._buffers(x.shape[0]).a
            out = self._forward(pv, x, acts)
            pairs = labels[i:i + self.chunk_size] * k + np.argmax(out, axis=1)
            counts += np.bincount(pairs, minlength=k * k).reshape(k, k)
            flat += sum(int(np.count_nonzero((a == 0.0) | (a == 1.0))) for a in acts)
        return counts, flat

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

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        """C written with the array namespace ``xp`` (``autograd.numpy``,
        ``jax.numpy``) for an autodiff gradient source: the same network and
        cost, σ(z) as (1 + tanh(z/2))/2 and the cross-entropy and log-likelihood
        from z (softplus, log-sum-exp), so nothing overflows."""
        return self.traced_cost_on(xp, v, self.batch_data(batch))

    def batch_data(self, batch: Batch | None = None) -> tuple[FloatArray, FloatArray]:
        """The inputs and targets ``batch`` selects (all when None); a
        mini-batch's are the network's work buffers, overwritten by the next."""
        if self._lazy:
            raise not_here(repr(self))
        return (self.inputs, self.targets) if batch is None else self._gather(batch)

    def traced_cost_on(self, xp: Any, v: Any, data: tuple[Any, ...]) -> Any:
        """C on ``data = (inputs, targets)`` with the namespace ``xp`` (see
        :meth:`traced_cost`)."""
        traced = self._traced_form()
        x, y = data
        a: Any = x
        last = len(self._layout) - 1
        for layer, (s, e, end, shape) in enumerate(self._layout):
            z = xp.dot(a, xp.reshape(v[s:e], shape).T) + v[e:end]
            if layer == last:
                return traced(xp, z, y)
            a = 0.5 * (xp.tanh(0.5 * z) + 1.0)
        raise AssertionError("a network has at least one layer")  # pragma: no cover

    def compiled_steps(self, gradient: GradientSource, forms: tuple[CompiledForm, ...],
                       batch_size: int, dtype: np.dtype[Any]) -> CompiledSteps | None:
        """Mini-batch SGD compiled with numba (``gdkit[fast]``), or None for the
        numpy path: see :mod:`gdkit_plugins.fast` for what it supports."""
        from . import fast
        if self._lazy or not fast.available():
            return None
        return fast.network_steps(self, gradient, forms, batch_size, dtype)

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

    def _traced_form(self) -> Any:
        traced = getattr(self.cost_part, "traced", None)
        if traced is None:
            raise ConfigError(f"network: the cost {self.cost_part!r} has no traced form "
                              "(traced(xp, z, y)), so an autodiff gradient source cannot "
                              "differentiate it; use the analytic gradient (the cost's delta) "
                              "or one of the built-in costs.")
        return traced

    # -- helpers ---------------------------------------------------------------
    def unpack(self, v: FloatArray) -> tuple[list[FloatArray], list[FloatArray]]:
        """Views of the weights and biases in ``v`` (no copy; writes go to v).

        Returns
        -------
        weights : list of ndarray
            wˡ of shape ``(sizes[l], sizes[l-1])`` for l = 1 … L.
        biases : list of ndarray
            bˡ of shape ``(sizes[l],)``.
        """
        views = self._make_views(v, "v", writable=False)
        return views.weights, views.biases

    def pack(self, weights: Sequence[npt.ArrayLike], biases: Sequence[npt.ArrayLike]) -> FloatArray:
        """The flat vector v holding ``weights`` and ``biases`` (the inverse of :meth:`unpack`).

        Biases may be given as columns, ``(n, 1)``, as in the book's code.
        """
        layers = len(self._layout)
        if len(weights) != layers or len(biases) != layers:
            raise ShapeError(f"network: pack needs {layers} weight matrices and {layers} bias "
                             f"vectors, got {len(weights)} and {len(biases)}.")
        v = np.empty(self._dim, self.dtype)
        ws, bs = self.unpack(v)
        for w_dst, b_dst, w, b in zip(ws, bs, weights, biases, strict=True):
            w_arr, b_arr = np.asarray(w), np.asarray(b)
            if w_arr.shape != w_dst.shape or b_arr.size != b_dst.size:
                raise ShapeError(f"network: a layer needs weights of shape {w_dst.shape} and "
                                 f"{b_dst.size} biases, got {w_arr.shape} and {b_arr.shape}.")
            w_dst[...] = w_arr
            b_dst[...] = b_arr.reshape(-1)
        return v

    def feedforward(self, v: FloatArray, inputs: npt.ArrayLike) -> FloatArray:
        """The output activations aᴸ for each row of ``inputs`` (a new array)."""
        pv = self._views(v, self._param_views, "v")
        x = np.asarray(inputs, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ShapeError(f"network: inputs must have shape (n, {self.sizes[0]}), "
                             f"got {x.shape}.")
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        for i in range(0, x.shape[0], self.chunk_size):
            out[i:i + self.chunk_size] = self._forward(pv, x[i:i + self.chunk_size])
        return out

    def predict(self, v: FloatArray, inputs: npt.ArrayLike) -> IntArray:
        """The index of the most active output neuron for each row of ``inputs``."""
        labels: IntArray = np.argmax(self.feedforward(v, inputs), axis=1)
        return labels

    # -- internals -------------------------------------------------------------
    def _make_views(self, arr: Any, what: str, *, writable: bool) -> _Views:
        if not isinstance(arr, np.ndarray) or arr.shape != (self._dim,) \
                or arr.dtype != self.dtype:
            raise ShapeError(
                f"network: {what} must be a 1-D {self.dtype.name} array of length {self._dim} "
                f"(the network's weights and biases), got "
                f"{type(arr).__name__} of shape {getattr(arr, 'shape', None)} and dtype "
                f"{getattr(arr, 'dtype', None)}. Build v with initial_point() or "
                f"numpy.asarray(v, dtype={self.dtype.name!r}).")
        if writable and not (arr.flags.c_contiguous and arr.flags.writeable):
            raise ShapeError(f"network: {what} must be a writable, contiguous array.")
        weights = [arr[a:b].reshape(shape) for a, b, _, shape in self._layout]
        biases = [arr[b:c] for _, b, c, _ in self._layout]
        return _Views(arr, weights, biases)

    def _views(self, arr: FloatArray, cache: list[_Views], what: str,
               writable: bool = False) -> _Views:
        # Keyed on identity: the loop passes the same v and gradient buffer
        # every step, so the views are built once per run, not per step.
        for views in cache:
            if views.array is arr:
                return views
        views = self._make_views(arr, what, writable=writable)
        cache.insert(0, views)
        del cache[_MAX_VIEWS:]
        return views

    def _buffers(self, rows: int) -> _Work:
        work = self._work.get(rows)
        if work is None:
            if len(self._work) >= _MAX_WORK:
                self._work.clear()
            work = self._work[rows] = _Work(rows, self.sizes, self.dtype)
        return work

    def _gather(self, batch: Batch) -> tuple[FloatArray, FloatArray]:
        work = self._buffers(len(batch))
        x, y = work.x, work.y
        if x is None or y is None:
            x = work.x = np.empty((len(batch), self.sizes[0]), self.dtype)
            y = work.y = np.empty((len(batch), self.sizes[-1]), self.dtype)
        np.take(self.inputs, batch, axis=0, out=x)
        np.take(self.targets, batch, axis=0, out=y)
        return x, y

    def _forward(self, pv: _Views, x: FloatArray, acts: list[FloatArray] | None = None
                 ) -> FloatArray:
        """Aˡ = σ(Aˡ⁻¹ (wˡ)ᵀ + bˡ) into the work buffers ``acts`` (the last layer
        activated by the cost's output layer); returns Aᴸ."""
        if acts is None:
            acts = self._buffers(x.shape[0]).a
        a = x
        last = len(acts) - 1
        for layer, (wt, b, out) in enumerate(zip(pv.weights_t, pv.biases, acts, strict=True)):
            np.matmul(a, wt, out=out)
            out += b
            if layer < last:
                self._expit(out, out=out)
            else:
                self.cost_part.activate(out)
            a = out
        return a

    def _backprop(self, pv: _Views, gv: _Views, x: FloatArray, y: FloatArray) -> None:
        """∇C of the mean cost over the rows of x into the views ``gv`` (BP1-BP4)."""
        work = self._buffers(x.shape[0])
        acts, deltas, sprime = work.a, work.d, work.s
        a = self._forward(pv, x, acts)
        # BP1: Δᴸ = ∂C/∂zᴸ, the cost's (for eq. 6: (Aᴸ − Y)/B ⊙ σ'(zᴸ)).
        self.cost_part.delta(a, y, deltas[-1])
        last = len(acts) - 1
        for layer in range(last, -1, -1):
            d = deltas[layer]
            if layer < last:  # BP2's ⊙ σ'(zˡ) = aˡ(1 − aˡ) for a sigmoid layer
                a, s = acts[layer], sprime[layer]
                np.subtract(1, a, out=s)
                s *= a
                d *= s
            a_prev = acts[layer - 1] if layer else x
            np.matmul(d.T, a_prev, out=gv.weights[layer])  # BP4
            np.add.reduce(d, axis=0, out=gv.biases[layer])  # BP3
            if layer:
                np.matmul(d, pv.weights[layer], out=deltas[layer - 1])  # BP2, before ⊙ σ'


def network(
    sizes: Sequence[int] = (4, 5, 3),
    inputs: npt.ArrayLike | None = None,
    targets: npt.ArrayLike | None = None,
    *,
    eval_inputs: npt.ArrayLike | None = None,
    eval_labels: npt.ArrayLike | None = None,
    dtype: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
    n_samples: int = 20,
    seed: int = 0,
    cost: str | Cost = "quadratic",
    init: str = "normal",
) -> Network:
    """The ``"network"`` objective: a :class:`Network` on your data, or a small
    seeded synthetic problem when no data is given.

    With ``inputs`` and ``targets`` this is ``Network(sizes, inputs, targets,
    ...)``. Without them, ``n_samples`` inputs are drawn uniformly from
    [0, 1]^sizes[0] with ``seed`` and labelled by a random linear "teacher"
    (the label is the argmax of T x for a fixed Gaussian T), a problem the
    network can learn; the evaluation inputs are then the training inputs.

    Parameters
    ----------
    sizes : sequence of int, default (4, 5, 3)
    inputs, targets, eval_inputs, eval_labels, dtype, chunk_size, cost, init
        As for :class:`Network`.
    n_samples : int, default 20
        Size of the synthetic problem.
    seed : int, default 0
        Seed of the synthetic problem.
    """
    if inputs is None and targets is None:
        shape = _check_sizes(sizes, "network")
        integer("network", "n_samples", n_samples, minimum=1)
        dt = np.float64 if dtype is None else float_dtype("network", "dtype", dtype)
        rng = np.random.default_rng(seed)
        x = rng.random((int(n_samples), shape[0]))
        teacher = rng.standard_normal((shape[0], shape[-1]))
        labels = np.argmax((x - 0.5) @ teacher, axis=1)
        inputs, targets = x.astype(dt), one_hot(labels, shape[-1], dt)
        if eval_inputs is None and eval_labels is None:
            eval_inputs, eval_labels = inputs, labels
    elif inputs is None or targets is None:
        raise ConfigError("network: give both inputs and targets, or neither (for the seeded "
                          "synthetic problem).")
    return Network(sizes, inputs, targets, eval_inputs=eval_inputs, eval_labels=eval_labels,
                   dtype=dtype, chunk_size=chunk_size, cost=cost, init=init)


def mnist_network(
    sizes: Sequence[int] = MNIST_SIZES,
    data: str | None = None,
    download: bool = False,
    dtype: str = "float64",
    n_train: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    cost: str | Cost = "quadratic",
    init: str = "normal",
    validate: bool = True,
) -> Network:
    """The book's MNIST network: trained on 50,000 images, scored on the 10,000 test images.

    Parameters
    ----------
    sizes : sequence of int, default (784, 30, 10)
        Neurons per layer; the first must be 784 (28 × 28 pixels) and the
        last 10 (one per digit).
    data : str or path, optional
        A directory holding the four MNIST IDX files (gzipped or not). The
        only place looked when given; otherwise ``$GDKIT_DATA``, then the
        user cache directory (:func:`gdkit_plugins.mnist.load_mnist`).
    download : bool, default False
        When no ``data`` is given and the files are not found, download them
        into the user cache (verified by checksum).
    dtype : {"float64", "float32"}, default "float64"
        The dtype of the data and of v (float32: half the memory, faster).
    n_train : int, optional
        Train on the first ``n_train`` training images only (quick runs).
    chunk_size : int, default 5000
        Rows per chunk of the full-data cost and of the evaluation.
    cost : str or Cost, default "quadratic"
        The output layer and its cost (:class:`Network`).
    init : {"normal", "scaled"}, default "normal"
        The start (:data:`INITS`).
    validate : bool, default True
        Score the 10,000 validation images (the last of the training file,
        never trained on) after each epoch too, as ``val_accuracy``.

    Returns
    -------
    Network

    Raises
    ------
    gdkit.errors.DataError
        The files are missing (and not downloaded), truncated or corrupt.
    gdkit.errors.ConfigError
        A bad option.
    """
    shape = _check_sizes(sizes, "mnist-network")
    if shape[0] != MNIST_SIZES[0] or shape[-1] != MNIST_SIZES[-1]:
        raise ConfigError(f"mnist-network: sizes must start with 784 (28 x 28 pixels) and end "
                          f"with 10 (one output neuron per digit), got {list(shape)}.")
    dt = float_dtype("mnist-network", "dtype", dtype)
    if n_train is not None:
        integer("mnist-network", "n_train", n_train, minimum=1)
    mnist = load_mnist(data, download=bool(download), dtype=dt, max_train=n_train)
    n_avail = mnist.train_images.shape[0]
    if n_train is not None and n_train > n_avail:
        raise ConfigError(f"mnist-network: n_train = {n_train} but only {n_avail:,} training "
                          "images are available.")
    count = n_avail if n_train is None else int(n_train)
    return Network(
        shape,
        mnist.train_images[:count],  # a view: the data set is never copied
        one_hot(mnist.train_labels[:count], shape[-1], dt),
        eval_inputs=mnist.test_images,
        eval_labels=mnist.test_labels,
        dtype=dt,
        chunk_size=chunk_size,
        cost=cost,
        init=init,
        val_inputs=mnist.validation_images if validate else None,
        val_labels=mnist.validation_labels if validate else None,
    )


def save_network(path: str | os.PathLike[str], v: npt.ArrayLike, sizes: Sequence[int],
                 metadata: Mapping[str, Any]) -> Path:
    """Write a network's parameters to an ``.npz`` file, atomically and without pickle.

    The file holds ``parameters`` (the flat vector v, in its dtype, laid out
    as :data:`LAYOUT` says), ``sizes`` (int64) and JSON metadata (``kind``,
    ``sizes``, ``dtype``, ``layout`` and whatever ``metadata`` adds, such as
    the run's settings). Read it with :func:`gdkit.checkpoint.load_model`.

    Raises
    ------
    gdkit.errors.CheckpointError
        The file cannot be written; the message names it and the reason.
    """
    arr = np.asarray(v)
    meta = {"kind": SAVE_KIND, "sizes": [int(s) for s in sizes], "dtype": str(arr.dtype),
            "layout": LAYOUT, "gdkit": gdkit.__version__, **metadata}
    try:
        return save_model(Path(path).expanduser(), arr, meta,
                          sizes=np.asarray(sizes, dtype=np.int64))
    except OSError as exc:
        raise CheckpointError(f"cannot write the network to {os.fspath(path)}: "
                              f"{exc.strerror or exc}.") from None


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Any]:
    return {"network": network, "mnist-network": mnist_network}

