"""The references :mod:`speed` times gdkit against: loops written without gdkit.

- :func:`hand_epoch`: a minimal hand-written numpy loop, the yardstick. One
  epoch of mini-batch SGD on a sigmoid network with the quadratic cost, as
  anyone would write it with numpy and nothing else: the mini-batch gathered
  with ``numpy.take``, ``1/(1+exp(-z))``, ``@`` products, every array
  preallocated and updated in place.
- :class:`BookNetwork`: Nielsen's ``network.py`` (ch. 1), one ``backprop``
  per training example on column vectors, ported to Python 3.
- :func:`jax_epoch_fn`: the same epoch as one compiled JAX function,
  ``jax.jit`` over ``lax.scan`` of the mini-batch steps.

None of them imports gdkit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
ETA = 3.0


# -- the hand-written loop ------------------------------------------------------
def _sigmoid_(z: Array) -> None:
    """z ← 1/(1+exp(−z)), in place."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)


def _buffers(rows: int, x: Array, y: Array, weights: list[Array]) -> dict[str, Any]:
    dt = x.dtype
    return {"x": np.empty((rows, x.shape[1]), dt), "y": np.empty((rows, y.shape[1]), dt),
            "a": [np.empty((rows, w.shape[0]), dt) for w in weights],
            "d": [np.empty((rows, w.shape[0]), dt) for w in weights],
            "s": [np.empty((rows, w.shape[0]), dt) for w in weights],
            "gw": [np.empty_like(w) for w in weights],
            "gb": [np.empty(w.shape[0], dt) for w in weights]}


def _hand_step(bufs: dict[str, Any], weights: list[Array], biases: list[Array],
               eta: float) -> None:
    """One step on the mini-batch already gathered into ``bufs``."""
    xb, acts, deltas, sps = bufs["x"], bufs["a"], bufs["d"], bufs["s"]
    a = xb
    for w, b, out in zip(weights, biases, acts, strict=True):
        np.matmul(a, w.T, out=out)
        out += b
        _sigmoid_(out)
        a = out
    d = deltas[-1]
    np.subtract(a, bufs["y"], out=d)  # the quadratic cost: (a − y) ⊙ σ'(z), mean over rows
    d *= 1.0 / xb.shape[0]
    for layer in range(len(weights) - 1, -1, -1):
        act, sp, d = acts[layer], sps[layer], deltas[layer]
        np.subtract(1.0, act, out=sp)
        sp *= act
        d *= sp
        np.matmul(d.T, acts[layer - 1] if layer else xb, out=bufs["gw"][layer])
        np.add.reduce(d, axis=0, out=bufs["gb"][layer])
        if layer:
            np.matmul(d, weights[layer], out=deltas[layer - 1])
    for w, gw, b, gb in zip(weights, bufs["gw"], biases, bufs["gb"], strict=True):
        gw *= eta
        w -= gw
        gb *= eta
        b -= gb


def hand_epoch(x: Array, y: Array, weights: list[Array], biases: list[Array], perm: Array,
               batch_size: int, n_batches: int | None = None, eta: float = ETA) -> float:
    """One epoch (or its first ``n_batches`` steps) of mini-batch SGD in the order
    ``perm``; updates ``weights`` (each (k_out, k_in)) and ``biases`` in place and
    returns the seconds it took (buffers allocated once per mini-batch size)."""
    cache: dict[int, dict[str, Any]] = {}
    starts = range(0, x.shape[0], batch_size)
    if n_batches is not None:
        starts = starts[:n_batches]
    t0 = time.perf_counter()
    for start in starts:
        idx = perm[start:start + batch_size]
        bufs = cache.get(len(idx))
        if bufs is None:
            bufs = cache[len(idx)] = _buffers(len(idx), x, y, weights)
        np.take(x, idx, axis=0, out=bufs["x"])
        np.take(y, idx, axis=0, out=bufs["y"])
        _hand_step(bufs, weights, biases, eta)
    return time.perf_counter() - t0


# -- the book's per-example loop ------------------------------------------------
def _sigmoid(z: Array) -> Array:
    s: Array = 1.0 / (1.0 + np.exp(-z))
    return s


class BookNetwork:
    """Nielsen's ``network.py`` (ch. 1), ported to Python 3; the only change is
    ``np.zeros(..., dtype)`` so a float32 network stays float32."""

    def __init__(self, weights: list[Array], biases: list[Array]) -> None:
        self.num_layers = len(weights) + 1
        self.weights = [w.copy() for w in weights]
        self.biases = [b.reshape(-1, 1).copy() for b in biases]

    def update_mini_batch(self, mini_batch: list[tuple[Array, Array]], eta: float) -> None:
        nabla_b = [np.zeros(b.shape, b.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, w.dtype) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
        nabla_b: list[Array] = [np.zeros(b.shape, b.dtype) for b in self.biases]
        nabla_w: list[Array] = [np.zeros(w.shape, w.dtype) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * (_sigmoid(zs[-1]) * (1 - _sigmoid(zs[-1])))
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            sp = _sigmoid(zs[-layer]) * (1 - _sigmoid(zs[-layer]))
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sp
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w


def book_epoch(x: Array, y: Array, weights: list[Array], biases: list[Array], perm: Array,
               batch_size: int, n_examples: int) -> tuple[float, BookNetwork]:
    """The book's loop over the first ``n_examples`` of ``perm``: (seconds
    extrapolated to all of ``x``'s rows, the network after it)."""
    book = BookNetwork(weights, biases)
    n_batches = max(1, n_examples // batch_size)
    data = [(x[i].reshape(-1, 1), y[i].reshape(-1, 1)) for i in perm[:n_batches * batch_size]]
    batches = [data[k:k + batch_size] for k in range(0, len(data), batch_size)]
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):  # the book's sigmoid overflows exp for z << 0
        for mini_batch in batches:
            book.update_mini_batch(mini_batch, ETA)
    seconds = time.perf_counter() - t0
    return seconds * x.shape[0] / len(data), book


# -- JAX: the whole epoch compiled ----------------------------------------------
def jax_epoch_fn(dtype: str) -> Any:
    """A jitted epoch of mini-batch SGD in JAX, the same math as :func:`hand_epoch`
    (the gradient by ``jax.grad``); None without JAX. Float64 runs in JAX's
    64-bit mode. Returns f(params, x, y, batches) -> params."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", dtype == "float64")

    def cost(params: Any, xb: Any, yb: Any) -> Any:
        a = xb
        for w, b in params:
            a = jax.nn.sigmoid(a @ w.T + b)
        return jnp.sum((a - yb) ** 2) / (2 * xb.shape[0])

    grad = jax.grad(cost)

    def epoch(params: Any, x: Any, y: Any, batches: Any) -> Any:
        def step(p: Any, idx: Any) -> tuple[Any, None]:
            g = grad(p, x[idx], y[idx])
            return jax.tree_util.tree_map(lambda a, b: a - ETA * b, p, g), None
        return jax.lax.scan(step, params, batches)[0]

    return jax.jit(epoch)


class JaxEpoch:
    """A compiled JAX epoch from fixed parameters over fixed data, timed by
    :meth:`run`; ``compile_s`` is its compile time."""

    def __init__(self, fn: Any, x: Array, y: Array, weights: list[Array], biases: list[Array],
                 perm: Array, batch_size: int) -> None:
        import jax
        self._jax = jax
        self.params = [(jax.device_put(w), jax.device_put(b))
                       for w, b in zip(weights, biases, strict=True)]
        self.x, self.y = jax.device_put(x), jax.device_put(y)
        usable = perm.size // batch_size * batch_size  # a scan needs equal batches
        self.batches = jax.device_put(perm[:usable].reshape(-1, batch_size))
        t0 = time.perf_counter()
        self.compiled = fn.lower(self.params, self.x, self.y, self.batches).compile()
        self.compile_s = time.perf_counter() - t0
        self.scale = perm.size / usable

    def run(self) -> float:
        """Seconds for one epoch (scaled to all rows when the last batch was dropped)."""
        t0 = time.perf_counter()
        self._jax.block_until_ready(self.compiled(self.params, self.x, self.y, self.batches))
        return (time.perf_counter() - t0) * self.scale


# -- Rosenbrock: what minimize does per full-batch step, by hand ----------------
def hand_descent(v0: Array, eta: float, n_iter: int) -> tuple[float, Array]:
    """Fixed-η steps on Rosenbrock doing ``minimize``'s work per step (cost,
    gradient, norm, finiteness checks, the step, the history): (seconds, v)."""
    import math

    from scipy.optimize import rosen, rosen_der
    v = np.array(v0, dtype=float)
    g, buf = np.empty_like(v), np.empty_like(v)
    costs: list[float] = []
    norms: list[float] = []
    etas: list[float] = []
    isfinite, sqrt, dot = math.isfinite, math.sqrt, np.dot
    t0 = time.perf_counter()
    f = float(rosen(v))
    for _ in range(n_iter):
        if not isfinite(f):
            raise FloatingPointError("diverged")
        g[...] = rosen_der(v)
        gnorm = sqrt(dot(g, g))
        if not isfinite(gnorm):
            raise FloatingPointError("diverged")
        costs.append(f)
        norms.append(gnorm)
        np.multiply(g, eta, out=buf)
        v -= buf
        etas.append(eta)
        f = float(rosen(v))
    return time.perf_counter() - t0, v
