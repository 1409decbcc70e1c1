"""Backpropagation on numpy arrays: the network's cost and gradient over a
mini-batch (BP1-BP4), the views of the flat parameter vector v, and the work
buffers reused across steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, final

import numpy as np
import numpy.typing as npt

from gdkit.errors import ShapeError
from gdkit.protocols import Batch, Cost, FloatArray

from .data import HeldData, IntArray

__all__ = ["Backprop"]

_MAX_WORK: Final = 8  # distinct batch sizes whose work buffers are kept
_MAX_VIEWS: Final = 3  # parameter (and gradient) vectors whose views are kept


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

    __slots__ = ("a", "d", "line", "s", "x", "y", "z0")

    def __init__(self, rows: int, sizes: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        outs = sizes[1:]
        self.a = [np.empty((rows, k), dtype) for k in outs]  # activations aˡ
        self.d = [np.empty((rows, k), dtype) for k in outs]  # errors δˡ
        # σ'(zˡ) = aˡ(1 − aˡ) of the hidden layers (the output's is the cost's business)
        self.s = [np.empty((rows, k), dtype) for k in outs[:-1]]
        self.x: FloatArray | None = None  # gathered inputs (allocated on first gather)
        self.y: FloatArray | None = None  # gathered targets
        self.z0: FloatArray | None = None  # z¹ kept by the last backprop (a line search's)
        self.line: Any = None  # a line search's buffers (gdkit_plugins.network.reuse)


class Backprop(HeldData):
    """C and ∇C by backpropagation over whole mini-batches, into preallocated
    buffers; :meth:`unpack` and :meth:`pack` for v's layout."""

    cost_part: Cost
    chunk_size: int
    _expit: Any
    _layout: list[tuple[int, int, int, tuple[int, int]]]
    _dim: int
    _work: dict[int, _Work]
    _param_views: list[_Views]
    _grad_views: list[_Views]
    _acc: FloatArray | None
    # what the last mini-batch gradient call leaves for the step's costs
    # (gdkit_plugins.network.reuse): (batch, v's views, work, gathers, passes, z¹ kept,
    # the gradient's array)
    _held: tuple[Batch, _Views, _Work, int, int, bool, FloatArray] | None
    _keep_z0: bool  # backprop keeps z¹ (a line search asked for it)
    _passes: int  # forward passes run (the activations' generation)
    _gathers: int  # gathers run (the gathered inputs' generation)

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
        self._local_only()
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
        self._local_only()
        self._held = None  # this call's buffers replace what the last one left
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
                # what cost_at_gradient and cost_on_batch reuse, valid until the next pass
                work = self._work[n]
                self._held = (batch, pv, work, self._gathers, self._passes,
                              work.z0 is not None and self._keep_z0, out)
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
        self._gathers += 1
        np.take(self.inputs, batch, axis=0, out=x)
        np.take(self.targets, batch, axis=0, out=y)
        return x, y

    def _forward(self, pv: _Views, x: FloatArray, acts: list[FloatArray] | None = None,
                 keep: FloatArray | None = None) -> FloatArray:
        """Aˡ = σ(Aˡ⁻¹ (wˡ)ᵀ + bˡ) into the work buffers ``acts`` (the last layer
        activated by the cost's output layer); returns Aᴸ. The first layer's
        z¹ = X (w¹)ᵀ + b¹ is copied into ``keep`` when given."""
        self._passes += 1
        if acts is None:
            acts = self._buffers(x.shape[0]).a
        a = x
        last = len(acts) - 1
        for layer, (wt, b, out) in enumerate(zip(pv.weights_t, pv.biases, acts, strict=True)):
            np.matmul(a, wt, out=out)
            out += b
            if keep is not None and not layer:
                np.copyto(keep, out)
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
        a = self._forward(pv, x, acts, work.z0 if self._keep_z0 else None)
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
