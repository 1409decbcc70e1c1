"""The compiled path of the sigmoid network (``gdkit[fast]``, numba).

:meth:`gdkit_plugins.network.Network.compiled_steps` asks :func:`network_steps`
for a :class:`~gdkit_plugins.fast.CompiledRunner`; it gives one when numba is
installed, the gradient is the network's own
(the ``analytic`` source), the cost is ``quadratic`` or ``cross-entropy``
(sigmoid outputs) and the step rule is ``fixed`` η (any schedule), alone or
after ``momentum`` (plain or Nesterov), or ``armijo`` alone with the
quadratic cost (its rare cases handed back to the numpy path step by step:
:class:`~gdkit.protocols.Span`). Otherwise it gives None and the numpy
loop runs as always. The kernels are in :mod:`gdkit_plugins.fast._kernels`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from gdkit.protocols import Batch, FloatArray, GradientSource, PartState, Span

from .forms import CompiledForm

__all__ = ["CompiledNetworkSteps", "announce_compiling", "available", "compiling_message",
           "network_steps"]

LINE = 64  # bytes: a cache line and a 512-bit vector; the working rows' padding and alignment
# The kernels' codes, as _kernels defines them (checked when it is imported).
PLAIN, MOMENTUM, NESTEROV, ARMIJO = 0, 1, 2, 3
QUADRATIC, CROSS_ENTROPY = 0, 1
OK, DIVERGED, HANDOFF = 0, 1, 2


def available() -> bool:
    """Whether numba is installed, without importing it (``GDKIT_NO_COMPILE``
    is the core's to read)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # a None entry in sys.modules, a broken install
        return False


def compiling_message(dtype: Any) -> str:
    """The line the compiled path prints on stderr when it compiles its kernels."""
    return (f"gdkit: compiling the compiled path's kernels for {np.dtype(dtype).name} once "
            "(numba, a few seconds); they are cached on disk, so later runs skip this")


@contextlib.contextmanager
def announce_compiling(message: str, stream: IO[str] | None = None) -> Iterator[None]:
    """Print ``message`` (one line, on stderr by default) when numba starts
    compiling inside the block, once; nothing when every function it needs is
    already compiled in this process or loads from numba's disk cache (numba
    signals ``numba:compile`` only after a cache miss)."""
    from numba.core import event

    said: list[bool] = []

    class _Say(event.Listener):  # type: ignore[misc,unused-ignore]  # Any without numba
        def on_start(self, ev: Any) -> None:
            if not said:
                said.append(True)
                print(message, file=stream if stream is not None else sys.stderr, flush=True)

        def on_end(self, ev: Any) -> None:
            pass

    with event.install_listener("numba:compile", _Say()):
        yield


def network_steps(net: Any, gradient: GradientSource, forms: tuple[CompiledForm, ...],
                  batch_size: int, dtype: np.dtype[Any]) -> CompiledNetworkSteps | None:
    """A compiled runner for ``net``'s mini-batch steps, or None (see the module)."""
    from ..analytic import Analytic
    from ..costs import CrossEntropy, QuadraticCost
    # The network checked it is exactly a Network (a subclass may change what a
    # step computes): this module does not import the network's plugin.
    if not isinstance(gradient, Analytic) or len(net.sizes) < 3:
        return None
    if batch_size > net.chunk_size:  # numpy then averages chunks' gradients; kept there
        return None
    kernels: dict[type, int] = {QuadraticCost: QUADRATIC, CrossEntropy: CROSS_ENTROPY}
    cost = kernels.get(type(net.cost_part))
    if cost is None or np.dtype(dtype) != net.dtype:
        return None
    kinds = tuple(f.kind for f in forms)
    if kinds == ("armijo",) and cost == QUADRATIC:
        return CompiledNetworkSteps(net, batch_size, cost, ARMIJO, 0.0, None,
                                    search=forms[0].constants)
    if kinds == ("fixed",):
        mode, beta = PLAIN, 0.0
    elif kinds == ("momentum", "fixed"):
        beta, nesterov = forms[0].constants
        mode = NESTEROV if nesterov else MOMENTUM
    else:
        return None
    eta = forms[-1].eta
    if eta is None:
        return None
    return CompiledNetworkSteps(net, batch_size, cost, mode, beta, eta)


class CompiledNetworkSteps:
    """Mini-batch steps of a sigmoid network with fixed η, or Armijo's line
    search (``search``: its form's constants), run by numba."""

    def __init__(self, net: Any, batch_size: int, cost: int, mode: int, beta: float,
                 eta: Any, search: tuple[float, ...] = ()) -> None:
        from . import _kernels as k  # numba is imported here, at the first compiled run
        if (k.PLAIN, k.MOMENTUM, k.NESTEROV, k.ARMIJO, k.QUADRATIC, k.CROSS_ENTROPY, k.OK,
                k.DIVERGED, k.HANDOFF) != (PLAIN, MOMENTUM, NESTEROV, ARMIJO, QUADRATIC,
                                           CROSS_ENTROPY, OK, DIVERGED, HANDOFF):
            raise AssertionError("gdkit_plugins.fast.network and _kernels disagree on the codes")
        self._sgd, self._armijo = k.sgd_steps, k.armijo_steps
        self.batch_size, self.cost, self.mode, self.eta = batch_size, cost, mode, eta
        dt = net.dtype
        sizes = np.asarray(net.sizes, np.int64)
        self.sizes = sizes
        self.w_off = np.array([s for s, _, _, _ in net._layout], np.int64)
        self.b_off = np.array([e for _, e, _, _ in net._layout], np.int64)
        self.consts = np.array([beta, 1.0], dt)  # _kernels.BETA, ONE
        with np.errstate(divide="ignore"):  # invs[r] = 1/r, as numpy's (a − y)·(1/r)
            self.invs = (1.0 / np.arange(batch_size + 1, dtype=np.float64)).astype(dt)
        # The working layout: each layer input-major, rows padded to whole cache lines.
        lanes = LINE // dt.itemsize
        self.pad = -(-sizes[1:] // lanes) * lanes
        self.p_off = np.concatenate([[0], np.cumsum(sizes[:-1] * self.pad)[:-1]]).astype(np.int64)
        self.limits = _limits(net.inputs, sizes, self.pad, batch_size, dt)
        size = int(np.sum(sizes[:-1] * self.pad))
        width = int(self.pad.max())
        layers = sizes.size - 1
        self.acts = _zeros((layers, batch_size, width), dt)  # padding stays zero
        self.deltas = _zeros((layers, batch_size, width), dt)
        self.z = _zeros((width,), dt)
        self.wt = _zeros((size,), dt)  # the weights during a span
        self.vt = _zeros((size if mode else 0,), dt)  # momentum's velocity, likewise
        self.gt = _zeros((int(sizes[0]), int(self.pad[0])), dt)
        self.mark = np.zeros(int(sizes[0]), np.uint8)
        self.union = np.zeros(int(sizes[0]), np.int64)
        self.x = np.ascontiguousarray(net.inputs)
        self.indptr, self.indices = _nonzeros(self.x)
        self.codes, self.table = np.zeros(0, np.uint8), np.zeros(0, dt)  # bind() encodes
        self.encoded = False
        self.y = np.ascontiguousarray(net.targets)
        self.v: FloatArray | None = None
        self.g: FloatArray | None = None
        self.velocity: FloatArray = np.zeros(0, dt)
        self.last: FloatArray = np.zeros(0, dt)  # v and the velocity as the last span left them
        self.fresh = True
        self.search = np.zeros(0)
        if mode == ARMIJO:  # _kernels.ETA0, C, SHRINK, GROW, ETA_MAX, TRIES, PATIENCE, TOL
            *rule, ulps = search  # the form's last number: the ulps of C within rounding
            self.search = np.array([*rule, ulps * float(np.finfo(dt).eps)], np.float64)
            self.keep = _zeros((batch_size, int(self.pad[0])), dt)  # z¹ at v
            self.along = _zeros((batch_size, int(self.pad[0])), dt)  # X (∇_w¹C)ᵀ + ∇_b¹C
            self.trial = _zeros((int(max(sizes[i] * self.pad[i] + sizes[i + 1] + self.pad[i]
                                         for i in range(1, layers))),), dt)
            self.astate = np.zeros(3, np.float64)

    def __repr__(self) -> str:
        return f"CompiledNetworkSteps(sizes={tuple(int(s) for s in self.sizes)}, mode={self.mode})"

    def bind(self, v: FloatArray, g: FloatArray, states: list[PartState]) -> None:
        """The run's v, gradient buffer and the chain's states (momentum's velocity).

        Also loads the compiled kernels (or compiles them, the first time,
        saying so in one line on stderr) with an empty span, so that the
        first epoch's time is a step's, not numba's.
        """
        self.v, self.g = v, g
        if self.mode in (MOMENTUM, NESTEROV):
            self.velocity = states[0][0]
        self.last = np.empty(v.size + self.velocity.size, v.dtype)
        self.fresh = True
        with announce_compiling(compiling_message(v.dtype)):
            if not self.encoded:
                self.codes, self.table = _codes(self.x, self.indptr, self.indices)
                self.encoded = True
            self.steps(np.zeros(1, np.intp), 0, 0, 0, 0, None, True)

    def steps(self, perm: Batch, start: int, stop: int, iteration: int, epoch: int,
              rule_state: Any, gradient: bool) -> Span:
        """The steps over ``perm[start:stop]`` (:class:`~gdkit.protocols.Span`);
        ``gradient``: whether g must end as the last step's gradient."""
        assert self.v is not None and self.g is not None, "bind() first"
        if self.mode == ARMIJO:
            return self._search(perm, start, stop, rule_state, gradient)
        count = len(range(start, stop, self.batch_size))
        etas = np.array([self.eta(iteration + i, epoch) for i in range(count)], np.float64)
        neg = (-etas).astype(self.v.dtype)
        taken, total = self._sgd(
            self.v, self.x, self.y, perm, start, stop, self.batch_size, neg, self.mode,
            self.consts, self.invs, self.velocity, self.sizes, self.w_off, self.p_off, self.pad,
            self.b_off, self.cost,
            self.wt, self.vt, self.acts, self.deltas, self.z, self.indptr, self.indices,
            self.codes, self.table, self.g, self.gt, self.mark, self.union, self.last, self.fresh,
            self.limits, gradient)
        self.fresh = False
        last = float(etas[taken - 1]) if taken else float("nan")
        return Span(int(taken), last, float(total), rule_state)

    def _search(self, perm: Batch, start: int, stop: int, rule_state: Any,
                gradient: bool) -> Span:
        """Armijo's steps (:func:`~gdkit_plugins.fast._kernels.armijo_steps`), from
        and into the chain's state: its one part is (eta, flat, best)."""
        assert self.v is not None and self.g is not None
        part = rule_state.parts[0] if rule_state is not None else None
        if part is not None:
            self.astate[:] = (part.eta, part.flat, part.best)
        taken, status, total, nfev = self._armijo(
            self.v, self.x, self.y, perm, start, stop, self.batch_size, self.search,
            self.astate, self.consts, self.invs, self.sizes, self.w_off, self.p_off, self.pad,
            self.b_off, self.wt, self.acts, self.deltas, self.keep, self.along, self.trial,
            self.indptr, self.indices, self.codes, self.table, self.g, self.gt, self.mark,
            self.union, self.last, self.fresh, gradient)
        self.fresh = False
        if part is not None and taken:
            eta, flat, best = (float(a) for a in self.astate)
            rule_state = rule_state._replace(
                parts=(part._replace(eta=eta, flat=int(flat), best=best),))
        return Span(int(taken), float(self.astate[0]) if taken else float("nan"),
                    float(total), rule_state, int(nfev), status == HANDOFF)


def _zeros(shape: tuple[int, ...], dt: np.dtype[Any]) -> FloatArray:
    """Zeros starting on a cache line (numpy promises 16 bytes). With rows of
    whole lines, a row's vectors then never straddle two: measured on
    [784, 30, 10] batch 10, a span took 1,500-1,560 µs when the working
    weights began 16 or 48 bytes into a line and 1,340-1,410 µs aligned."""
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.zeros(count * dt.itemsize + LINE, np.uint8)
    start = -raw.ctypes.data % LINE
    out: FloatArray = raw[start:start + count * dt.itemsize].view(dt).reshape(shape)
    return out


def _limits(x: FloatArray, sizes: npt.NDArray[np.int64], pad: npt.NDArray[np.int64],
            batch_size: int, dt: np.dtype[Any]) -> FloatArray:
    """The kernels' ``limits`` (``_kernels.DELTA``, ``SUM``): the largest |δ| of
    the first layer, and |sum| of another layer's gradient column, under
    which that layer's gradient, and the whole gradient's sum, are sure to be
    finite: each of its m·h elements is a sum of at most B terms δ·x, so the
    sum of their sizes is at most m·h·B·max|δ|·max|x| ≤ max/4, and the
    others' at most (their count)·max/(4·count). With an input that is not
    finite, never."""
    big = float(np.finfo(dt).max) / 4
    xmax = max(float(np.max(x)), -float(np.min(x))) if x.size else 0.0  # no |x| copy
    if not np.isfinite(xmax):
        return np.array([-1.0, -1.0], dt)
    elements = float(sizes[0] * sizes[1] * batch_size) * max(xmax, 1.0)
    return np.array([big / elements, big / int(pad.max())], dt)


def _nonzeros(x: FloatArray, block: int = 4096) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Where each row of ``x`` is not zero, as CSR ``(indptr, indices)``, built
    block by block (no full-size temporary), with int16 positions when they fit."""
    counts = np.count_nonzero(x, axis=1)
    indptr = np.zeros(x.shape[0] + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    kind = np.int16 if x.shape[1] <= np.iinfo(np.int16).max else np.int32
    indices = np.empty(int(indptr[-1]), kind)
    for s in range(0, x.shape[0], block):
        indices[indptr[s]:indptr[min(s + block, x.shape[0])]] = np.nonzero(x[s:s + block])[1]
    return indptr, indices


def _codes(x: FloatArray, indptr: npt.NDArray[np.int64], indices: npt.NDArray[Any]
           ) -> tuple[npt.NDArray[np.uint8], FloatArray]:
    """The non-zero inputs as one-byte ``codes`` into a ``table`` of their
    distinct values (``table[codes[t]]`` is the t-th, bit for bit), or two
    empty arrays when more than 256 values (or one not finite) would need
    more than a byte (the kernels then read the rows of ``x``).

    MNIST's pixels are k/255: a step then reads a byte an input, in order,
    instead of a float from a row of ``x`` scattered in memory (at batch 100
    the first layer's reads of ``x`` dominated its forward pass). A copy of
    the values in ``x``'s dtype would cost the memory of a fifth of the
    inputs; the codes cost an eighth of that in float64.
    """
    from ._kernels import encode
    table = np.zeros(256, x.dtype)
    codes = np.empty(indices.size, np.uint8)
    n = encode(x, x.view(f"u{x.dtype.itemsize}"), indptr, indices, table, codes)
    if n < 0:
        return np.zeros(0, np.uint8), np.zeros(0, x.dtype)
    return codes, table[:n].copy()
