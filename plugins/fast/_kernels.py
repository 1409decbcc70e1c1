"""numba kernels of the compiled path (imported only by :mod:`gdkit_plugins.fast.network`).

One function, :func:`sgd_steps`, runs a span of mini-batch steps of a
sigmoid network: gather, forward pass, backpropagation (BP1-BP4) and the
step of a fixed η (plain, momentum or Nesterov), fused in one loop over the
mini-batches. It computes what the numpy path computes, operation by
operation in the same dtype, so the results agree to rounding, not bit for
bit. The differences: the order of the terms in each sum (ascending over
the mini-batch and the inputs, where BLAS chooses its own); ``a·b + c``
contracted into one fused multiply-add where the CPU has one (numba's
``fastmath={"contract"}``, nothing else of fast-math: no reassociation);
with plain η, the first layer's step added to its weights row by row of the
mini-batch as the gradient's pass reaches them, w += (−η·δ)·x, rather than
once as w + (−η)·Σ δ·x (it saves the gradient's matrix and two passes over
it; not at the last step of a span after which the loop keeps the whole
gradient (an epoch's last, a run's last), nor
when that gradient could overflow: :func:`_fusable`); and, only when η or
the gradient is not finite, a first-layer weight whose
input is zero throughout the mini-batch, which numpy turns into NaN
(0·inf) and the kernel leaves alone (the run stops with a
:class:`~gdkit.errors.DivergenceError` either way). It is single-threaded,
so the same inputs give the same bits on one machine whatever the thread
count.

During a span of steps the weights live in a transposed working copy (each
layer's matrix stored input-major, its rows padded with zeros to a whole
number of vector lanes), so that every inner loop runs over independent
outputs and vectorizes, rather than down one long chain of additions; the
copy is written back into v at the end of the span. The first layer skips
zero inputs (MNIST's pixels are 81% zeros; their positions listed once per
run, row by row): a term ``w·0`` adds exactly zero to a sum, so skipping it
changes no bit, and a weight whose input is zero throughout the mini-batch
has gradient exactly zero, so plain η leaves it exactly as it was. When the
inputs take at most 256 distinct values (MNIST's k/255), the non-zero ones
are also listed once per run as one-byte codes into a table of the values
(``table[codes[t]]`` is the input, bit for bit), so a step reads a byte
and a position an input, in order, rather than a float from a row of the
inputs scattered in memory; otherwise the kernels read the rows. Either way
the same numbers, in the same order: the same bits.

Compiled on first use per dtype and cached on disk (numba's ``cache=True``:
``__pycache__`` beside this file, or numba's user cache directory when that
is read-only; ``NUMBA_CACHE_DIR`` overrides). numba's cache notices edits
to this file only, so every number the kernels use is defined here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

PLAIN, MOMENTUM, NESTEROV, ARMIJO = 0, 1, 2, 3  # the step
OK, DIVERGED, HANDOFF = 0, 1, 2  # how armijo_steps ended
ETA0, C, SHRINK, GROW, ETA_MAX, TRIES, PATIENCE, TOL = range(8)  # rule[...] of armijo_steps
QUADRATIC, CROSS_ENTROPY = 0, 1  # the cost
BETA, ONE = 0, 1  # consts[...], in v's dtype (so float32 arithmetic stays float32)
DELTA, SUM = 0, 1  # limits[...]: see _fusable


@njit(cache=True, nogil=True, fastmath={"contract"})
def _sigmoid(z: Any, one: Any) -> Any:
    return one / (one + np.exp(-z))


@njit(cache=True, nogil=True, fastmath={"contract"})
def _gather_dot(zz: Any, wl: Any, indices: Any, lo: int, hi: int, xr: Any, codes: Any,
                table: Any) -> None:
    """zz += Σ x_i·wl[i] over a row's non-zero inputs i (its CSR entries
    ``lo:hi``, ascending), each x_i from the compact codes (``table[codes[t]]``,
    the same value) when there are any, else from the row ``xr`` itself. Two
    loops, not one with a choice inside: the choice in the loop made it 2.5×
    slower (numba 0.61, batch 100)."""
    if codes.size:
        for t in range(lo, hi):
            xi = table[codes[t]]
            row = wl[indices[t]]
            for j in range(zz.size):
                zz[j] += xi * row[j]
    else:
        for t in range(lo, hi):
            i = indices[t]
            xi = xr[i]
            row = wl[i]
            for j in range(zz.size):
                zz[j] += xi * row[j]


@njit(cache=True, nogil=True, fastmath={"contract"})
def _scatter_outer(gt: Any, d: Any, indices: Any, lo: int, hi: int, xr: Any, codes: Any,
                   table: Any, mark: Any) -> None:
    """gt[i] += d·x_i over a row's non-zero inputs i (as :func:`_gather_dot`
    reads them), marking each i in ``mark``."""
    if codes.size:
        for t in range(lo, hi):
            i = indices[t]
            mark[i] = 1
            xi = table[codes[t]]
            row = gt[i]
            for j in range(d.size):
                row[j] += d[j] * xi
    else:
        for t in range(lo, hi):
            i = indices[t]
            mark[i] = 1
            xi = xr[i]
            row = gt[i]
            for j in range(d.size):
                row[j] += d[j] * xi


@njit(cache=True, nogil=True, fastmath={"contract"})
def _weights(flat: Any, w_off: Any, sizes: Any, layer: int) -> Any:
    """A layer's weight matrix in v's layout: a (k_out, k_in) view of ``flat``."""
    k_in, k_out, w = sizes[layer], sizes[layer + 1], w_off[layer]
    return flat[w:w + k_in * k_out].reshape((k_out, k_in))


@njit(cache=True, nogil=True, fastmath={"contract"})
def _padded(flat: Any, p_off: Any, sizes: Any, pad: Any, layer: int) -> Any:
    """A layer's weight matrix in the working layout: a (k_in, pad) view of
    ``flat``, input-major, each row padded with zeros to a whole number of
    vector lanes (so inner loops over outputs have no remainder)."""
    k_in, w = sizes[layer], p_off[layer]
    return flat[w:w + k_in * pad[layer]].reshape((k_in, pad[layer]))


@njit(cache=True, nogil=True, fastmath={"contract"})
def _transpose(flat: Any, work: Any, sizes: Any, w_off: Any, p_off: Any, pad: Any,
               into_work: bool) -> None:
    """Each layer's weights between v's layout and the working layout (whose
    padding is never written, so it stays zero)."""
    for layer in range(sizes.size - 1):
        a = _weights(flat, w_off, sizes, layer)
        b = _padded(work, p_off, sizes, pad, layer)
        for i in range(a.shape[1]):
            row = b[i]
            for j in range(a.shape[0]):
                if into_work:
                    row[j] = a[j, i]
                else:
                    a[j, i] = row[j]


@njit(cache=True, nogil=True, fastmath={"contract"})
def _forward(wt: Any, v: Any, x: Any, rows: Any, n_rows: int, sizes: Any, p_off: Any,
             pad: Any, b_off: Any, acts: Any, indptr: Any, indices: Any, codes: Any,
             table: Any, one: Any, keep: Any) -> None:
    """Aˡ = σ(Aˡ⁻¹ (wˡ)ᵀ + bˡ) for the mini-batch ``rows`` of ``x`` into ``acts``,
    the first layer over the inputs' non-zero positions (CSR ``indptr``,
    ``indices``); every sum over inputs in ascending order. The first layer's
    weighted inputs z¹ also go into ``keep`` when it has rows (a line search's)."""
    zero = one - one
    for layer in range(sizes.size - 1):
        k_out, kp = sizes[layer + 1], pad[layer]
        wl = _padded(wt, p_off, sizes, pad, layer)
        bias = v[b_off[layer]:b_off[layer] + k_out]
        zz = np.empty(kp, wt.dtype)  # local: the compiler keeps it apart from the weights
        for b in range(n_rows):
            zz[:] = zero
            if layer == 0:
                r = rows[b]
                _gather_dot(zz, wl, indices, indptr[r], indptr[r + 1], x[r], codes, table)
            else:
                prev = acts[layer - 1, b]
                for i in range(sizes[layer]):
                    ai = prev[i]
                    row = wl[i]
                    for j in range(kp):
                        zz[j] += ai * row[j]
            out = acts[layer, b]
            if layer == 0 and keep.shape[0]:
                kb = keep[b]
                for j in range(k_out):
                    kb[j] = zz[j] + bias[j]
            for j in range(k_out):
                out[j] = _sigmoid(zz[j] + bias[j], one)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _gradient(wt: Any, x: Any, y: Any, rows: Any, n_rows: int, sizes: Any, w_off: Any,
              p_off: Any, pad: Any, b_off: Any, cost: int, inv: Any, acts: Any, deltas: Any,
              indptr: Any, indices: Any, codes: Any, table: Any, g: Any, gt: Any, mark: Any,
              union: Any, one: Any, fuse: bool, neg_eta: Any, limits: Any, e: Any
              ) -> tuple[int, Any]:
    """∇C of the mini-batch: the first layer's weights into ``gt`` (input-major,
    on the columns listed in ``union``), everything else into ``g`` (v's
    layout). Returns the number of columns in ``union`` and the gradient's sum.

    With ``fuse`` (plain η), when the first layer's gradient is sure to be
    finite (:func:`_fusable`), its step is taken here instead, row by row
    (:func:`_scatter_step`, with ``e`` its scratch of the first layer's
    padded width), and the number of columns returned is -1: the sum
    returned is then that of the other layers' gradient alone."""
    zero = one - one
    last = sizes.size - 2
    k_out = sizes[last + 1]
    for b in range(n_rows):  # BP1: δᴸ = (a − y)/B (⊙ a(1 − a) for the quadratic cost)
        a, d, yr = acts[last, b], deltas[last, b], y[rows[b]]
        for j in range(k_out):
            d[j] = (a[j] - yr[j]) * inv
            if cost == QUADRATIC:
                d[j] *= (one - a[j]) * a[j]
    # The gradient's sum (for the finiteness check) in independent running sums,
    # not one chain of additions: tot[i] gathers column i of every matrix.
    tot = np.zeros(acts.shape[2], g.dtype)
    for layer in range(last, 0, -1):
        k_in, k_out = sizes[layer], sizes[layer + 1]
        gw = _weights(g, w_off, sizes, layer)
        gb = g[b_off[layer]:b_off[layer] + k_out]
        for j in range(k_out):  # BP4 and BP3, summed over the mini-batch in order
            row = gw[j]
            row[:] = zero
            s = zero
            for b in range(n_rows):
                d = deltas[layer, b, j]
                s += d
                prev = acts[layer - 1, b]
                for i in range(k_in):
                    row[i] += d * prev[i]
            gb[j] = s
            for i in range(k_in):
                tot[i] += row[i]
            tot[j] += s
        wl = _padded(wt, p_off, sizes, pad, layer)
        for b in range(n_rows):  # BP2: δˡ⁻¹ = (δˡ wˡ) ⊙ σ'(zˡ⁻¹), the weights before the step
            d, dp, a = deltas[layer, b], deltas[layer - 1, b], acts[layer - 1, b]
            for i in range(k_in):
                row = wl[i]
                s = zero
                for j in range(k_out):
                    s += d[j] * row[j]
                dp[i] = s * ((one - a[i]) * a[i])
    h, hp = sizes[1], pad[0]
    gb = g[b_off[0]:b_off[0] + h]
    for j in range(h):  # BP3 of the first layer
        s = zero
        for b in range(n_rows):
            s += deltas[0, b, j]
        gb[j] = s
        tot[j] += s
    if fuse and _fusable(deltas[0], n_rows, h, tot, limits):
        w0 = _padded(wt, p_off, sizes, pad, 0)
        for b in range(n_rows):
            r = rows[b]
            _scatter_step(w0, deltas[0, b, :hp], neg_eta, indices, indptr[r], indptr[r + 1],
                          x[r], codes, table, e[:hp])
        return -1, _total(tot, zero)
    for b in range(n_rows):  # the first layer: only the inputs that are not zero
        r = rows[b]  # the padding: zero deltas into zero rows
        _scatter_outer(gt, deltas[0, b, :hp], indices, indptr[r], indptr[r + 1], x[r], codes,
                       table, mark)
    n_union = 0
    for i in range(sizes[0]):  # the columns touched, without a branch per input
        union[n_union] = i
        n_union += mark[i]
    for u in range(n_union):
        row = gt[union[u]]
        for j in range(h):
            tot[j] += row[j]
    return n_union, _total(tot, zero)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _total(tot: Any, zero: Any) -> Any:
    total = zero
    for j in range(tot.size):
        total += tot[j]
    return total


@njit(cache=True, nogil=True, fastmath={"contract"})
def _fusable(d0: Any, n_rows: int, h: int, tot: Any, limits: Any) -> bool:
    """Whether the first layer's gradient, and the sum of the whole gradient,
    are sure to be finite: every δ of the first layer finite and
    max |δ| ≤ ``limits[DELTA]`` (so that its m·h elements, each a sum of at
    most B terms δ·x, add up to at most a quarter of the largest float), and
    every other column sum in ``tot`` at most ``limits[SUM]`` (together at
    most another quarter). Then taking its step row by row cannot miss a
    gradient the loop must stop at."""
    for b in range(n_rows):
        for j in range(h):
            if not abs(d0[b, j]) <= limits[DELTA]:  # a NaN fails here too
                return False
    within = True
    for j in range(tot.size):
        within &= abs(tot[j]) <= limits[SUM]  # False for a NaN
    return within


@njit(cache=True, nogil=True, fastmath={"contract"})
def _scatter_step(wl: Any, d: Any, neg_eta: Any, indices: Any, lo: int, hi: int, xr: Any,
                  codes: Any, table: Any, e: Any) -> None:
    """The first layer's step for one row of the mini-batch, taken at once:
    wl[i] += (−η·δ)·x_i over the row's non-zero inputs i (as
    :func:`_gather_dot` reads them). Summed into the weights row by row
    rather than into a gradient first, it saves the gradient's matrix, the
    pass that steps along it and the pass that clears it; it rounds at each
    row where the gradient's sum rounded once: a difference of rounding.
    ``e`` (scratch, d's size) receives −η·δ."""
    for j in range(d.size):
        e[j] = d[j] * neg_eta
    if codes.size:
        for t in range(lo, hi):
            xi = table[codes[t]]
            row = wl[indices[t]]
            for j in range(e.size):
                row[j] += e[j] * xi
    else:
        for t in range(lo, hi):
            i = indices[t]
            xi = xr[i]
            row = wl[i]
            for j in range(e.size):
                row[j] += e[j] * xi


@njit(cache=True, nogil=True, fastmath={"contract"})
def _momentum(p: Any, velocity: Any, d: Any, beta: Any, eta: Any, nesterov: bool) -> None:
    """m ← β·m + d, then p + η·m (Nesterov: p + η·(d + β·m)), elementwise."""
    for k in range(p.size):
        m = velocity[k] * beta + d[k]
        velocity[k] = m
        if nesterov:
            p[k] += (d[k] + m * beta) * eta
        else:
            p[k] += m * eta


@njit(cache=True, nogil=True, fastmath={"contract"})
def _step(wt: Any, v: Any, g: Any, gt: Any, union: Any, n_union: int, sizes: Any,
          w_off: Any, p_off: Any, pad: Any, b_off: Any, neg_eta: Any, mode: int, beta: Any, vt: Any,
          velocity: Any, d: Any) -> None:
    """The weights (in ``wt``) and biases (in ``v``) moved by η along −∇C, or
    along momentum's direction (its weights' velocity in ``vt``, input-major);
    ``d`` is scratch."""
    eta = -neg_eta
    nesterov = mode == NESTEROV
    for layer in range(sizes.size - 1):
        k_in, k_out, bo = sizes[layer], sizes[layer + 1], b_off[layer]
        wl = _padded(wt, p_off, sizes, pad, layer)
        gl = _weights(g, w_off, sizes, layer)
        bias, gb = v[bo:bo + k_out], g[bo:bo + k_out]
        dd = d[:k_out]
        if mode == PLAIN:  # p + (−η)·∇C
            if layer == 0:  # only where ∇C is not exactly zero
                for u in range(n_union):
                    i = union[u]
                    row, grow = wl[i], gt[i]
                    for j in range(k_out):
                        row[j] += grow[j] * neg_eta
            else:
                for i in range(k_in):
                    row = wl[i]
                    for j in range(k_out):
                        row[j] += gl[j, i] * neg_eta
            for j in range(k_out):
                bias[j] += gb[j] * neg_eta
        else:  # d = −∇C, everywhere
            vl = _padded(vt, p_off, sizes, pad, layer)
            for i in range(k_in):
                for j in range(k_out):
                    dd[j] = -gt[i, j] if layer == 0 else -gl[j, i]
                _momentum(wl[i][:k_out], vl[i][:k_out], dd, beta, eta, nesterov)
            for j in range(k_out):
                dd[j] = -gb[j]
            _momentum(bias, velocity[bo:bo + k_out], dd, beta, eta, nesterov)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _clear(gt: Any, mark: Any, union: Any, n_union: int) -> None:
    for u in range(n_union):
        i = union[u]
        mark[i] = 0
        gt[i, :] = 0


@njit(cache=True, nogil=True, fastmath={"contract"})
def sgd_steps(v: Any, x: Any, y: Any, perm: Any, start: int, stop: int, batch_size: int,
              neg_etas: Any, mode: int, consts: Any, invs: Any, velocity: Any, sizes: Any,
              w_off: Any, p_off: Any, pad: Any, b_off: Any, cost: int, wt: Any, vt: Any,
              acts: Any, deltas: Any, z: Any, indptr: Any, indices: Any, codes: Any,
              table: Any, g: Any, gt: Any, mark: Any, union: Any, last: Any, fresh: bool,
              limits: Any, keep_g: bool) -> tuple[int, Any]:
    """The mini-batch steps over ``perm[start:stop]`` (``stop`` at a mini-batch
    boundary or n; ``invs[r]`` is 1/r in v's dtype, the mean's factor for r
    rows). Returns the steps taken and, if a gradient was not finite, its sum
    (the step it belongs to is not taken); else 0. With ``keep_g``, ``g``
    ends as the last step's whole gradient (that step is then not fused);
    without, its first layer's weights are left as they were.

    ``last`` holds v and the velocity as the previous span left them: when
    they still equal it (and not ``fresh``), ``wt`` and ``vt`` still hold
    them in the working layout and are not copied in again (at batch 100 a
    span is five steps, and the copy cost about 3% of each). ``limits`` bound
    the first layer's δ and the other layers' sums under which plain η takes
    the first layer's step in the gradient's pass (:func:`_fusable`)."""
    one = consts[ONE]
    zero = one - one
    m = v.size
    if fresh or not (_unchanged(v, last[:m]) and _unchanged(velocity, last[m:])):
        _transpose(v, wt, sizes, w_off, p_off, pad, True)
        if mode != PLAIN:
            _transpose(velocity, vt, sizes, w_off, p_off, pad, True)
    k = 0
    pos = start
    total = zero
    n_union = 0
    while pos < stop:
        n_rows = min(batch_size, stop - pos)
        inv = invs[n_rows]
        rows = perm[pos:pos + n_rows]
        _forward(wt, v, x, rows, n_rows, sizes, p_off, pad, b_off, acts, indptr, indices, codes,
                 table, one, acts[0, :0])
        # plain η takes the first layer's step in the gradient's pass, but for
        # the span's last step when g must hold its whole gradient
        fuse = mode == PLAIN and (pos + n_rows < stop or not keep_g)
        n_union, total = _gradient(wt, x, y, rows, n_rows, sizes, w_off, p_off, pad, b_off,
                                   cost, inv, acts, deltas, indptr, indices, codes, table, g,
                                   gt, mark, union, one, fuse, neg_etas[k], limits, z)
        if not np.isfinite(total):
            break
        pos += n_rows
        fused = n_union < 0  # the first layer's weights have moved already
        _step(wt, v, g, gt, union, 0 if fused else n_union, sizes, w_off, p_off, pad, b_off,
              neg_etas[k], mode, consts[BETA], vt, velocity, z)
        k += 1
        if pos < stop and not fused:
            _clear(gt, mark, union, n_union)
    _end_span(v, velocity, wt, vt, g, gt, mark, union, n_union, sizes, w_off, p_off, pad,
              mode != PLAIN, last, keep_g)
    return k, (zero if np.isfinite(total) else total)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _end_span(v: Any, velocity: Any, wt: Any, vt: Any, g: Any, gt: Any, mark: Any, union: Any,
              n_union: int, sizes: Any, w_off: Any, p_off: Any, pad: Any, moving: bool,
              last: Any, keep_g: bool) -> None:
    """A span's end: (``keep_g``) the first layer's gradient of the last step
    into ``g``, its rows cleared, the weights (and, ``moving``, the velocity)
    back into v's layout, and ``last`` set to what v and the velocity are now."""
    g0 = _weights(g, w_off, sizes, 0)
    for i in range(g0.shape[1] if keep_g else 0):  # the last step's first layer, into g
        row = gt[i]  # (read row by row: column by column it cost 2x, a line per element)
        for j in range(g0.shape[0]):
            g0[j, i] = row[j]
    _clear(gt, mark, union, n_union)
    _transpose(v, wt, sizes, w_off, p_off, pad, False)
    if moving:
        _transpose(velocity, vt, sizes, w_off, p_off, pad, False)
    m = v.size
    last[:m] = v
    last[m:] = velocity


@njit(cache=True, nogil=True, fastmath={"contract"})
def armijo_steps(v: Any, x: Any, y: Any, perm: Any, start: int, stop: int, batch_size: int,
                 rule: Any, astate: Any, consts: Any, invs: Any, sizes: Any, w_off: Any,
                 p_off: Any, pad: Any, b_off: Any, wt: Any, acts: Any, deltas: Any, keep: Any,
                 along: Any, trial: Any, indptr: Any, indices: Any, codes: Any, table: Any,
                 g: Any, gt: Any, mark: Any, union: Any, last: Any, fresh: bool, keep_g: bool
                 ) -> tuple[int, int, Any, int]:
    """Armijo's backtracking line search along −∇C (``armijo`` alone, the
    quadratic cost) for the mini-batch steps over ``perm[start:stop]``: what
    :class:`gdkit_plugins.step_sizes.Armijo` does on the numpy path, to
    rounding, in the cases it decides by the decrease of C alone.

    Each step: the forward pass at v (keeping z¹ in ``keep``), C(v) on the
    mini-batch, ∇C (BP1-BP4), then trials η, η·shrink, … of
    C(v − η∇C), each from z¹ − η·(X (∇_w¹C)ᵀ + ∇_b¹C) (linear in η; the
    product once a step, into ``along``) and the later layers' weights at the
    trial (formed in ``trial``), until (C(trial) − C(v)) + c·η·‖∇C‖² ≤ 0
    with C(trial) beyond rounding of C(v); then v − η∇C, and the patience
    watch. ``rule`` holds the search's numbers (:data:`ETA0` … :data:`TOL`);
    ``astate`` its state (last η, flat steps, best ‖∇C‖), updated per step.

    A step whose decision needs more than this (a trial within rounding of
    C(v), where the slope test reads ∇C at the trial; no trial accepted;
    ‖∇C‖ = 0; C(v) not finite; the patience run out) is not taken: the
    kernel returns :data:`HANDOFF` and the numpy path takes that step, with
    its own tests and errors. Returns (steps taken, status, the gradient's
    sum when :data:`DIVERGED`, cost evaluations of the steps taken). ``g``
    ends as the last gradient computed when ``keep_g``."""
    one = consts[ONE]
    zero = one - one
    if fresh or not _unchanged(v, last[:v.size]):
        _transpose(v, wt, sizes, w_off, p_off, pad, True)
    eta0, c, shrink, grow = rule[ETA0], rule[C], rule[SHRINK], rule[GROW]
    eta_max, tries, patience, tol_ulps = rule[ETA_MAX], int(rule[TRIES]), rule[PATIENCE], rule[TOL]
    h, hp = sizes[1], pad[0]
    k, nfev, status, pos, n_union = 0, 0, OK, start, 0
    total = zero
    cast = np.empty(1, wt.dtype)  # −η in v's dtype, as numpy rounds a Python float
    while pos < stop:
        n_rows = min(batch_size, stop - pos)
        rows = perm[pos:pos + n_rows]
        _forward(wt, v, x, rows, n_rows, sizes, p_off, pad, b_off, acts, indptr, indices, codes,
                 table, one, keep)
        f0 = _quadratic(acts[sizes.size - 2], y, rows, n_rows, sizes[-1], zero)
        n_union, total = _gradient(wt, x, y, rows, n_rows, sizes, w_off, p_off, pad, b_off,
                                   QUADRATIC, invs[n_rows], acts, deltas, indptr, indices, codes,
                                   table, g, gt, mark, union, one, False, zero, consts, keep[0])
        if not np.isfinite(total):
            status = DIVERGED
            break
        gg = _squares(g, gt, union, n_union, w_off[0], w_off[0] + h * sizes[0], h)
        if not (gg > 0.0 and np.isfinite(f0) and np.isfinite(gg)):
            status = HANDOFF
            break
        slope = -gg  # ∇C·d along d = −∇C
        tol = tol_ulps * abs(f0)
        _first_along(along, gt, g[b_off[0]:b_off[0] + h], x, rows, n_rows, indptr, indices,
                     codes, table, hp, zero)
        eta = eta0 if np.isnan(astate[0]) else min(astate[0] * grow, eta_max)
        found, tried = False, 0
        ft = 0.0
        while tried < tries and not found:
            tried += 1
            ft = _line_cost(wt, v, g, y, rows, n_rows, sizes, w_off, p_off, pad, b_off, acts,
                            keep, along, trial, _in(cast, -eta), one, zero)
            if np.isfinite(ft) and abs(ft - f0) <= tol:  # the slope test's: the numpy path's
                break
            found = np.isfinite(ft) and (ft - f0) - c * eta * slope <= 0.0
            if not found:
                eta *= shrink
        if not found:
            status = HANDOFF
            break
        flat, best = _watch(ft, f0, tol, np.sqrt(gg), astate[1], astate[2])
        if flat >= patience:
            status = HANDOFF  # the numpy path raises PrecisionLost
            break
        _step(wt, v, g, gt, union, n_union, sizes, w_off, p_off, pad, b_off,
              _in(cast, -eta), PLAIN, zero, wt[:0], wt[:0], keep[0])
        astate[0], astate[1], astate[2] = eta, flat, best
        nfev += 1 + tried
        pos += n_rows
        k += 1
        if pos < stop:
            _clear(gt, mark, union, n_union)
    _end_span(v, wt[:0], wt, wt[:0], g, gt, mark, union, n_union, sizes, w_off, p_off, pad,
              False, last, keep_g)
    return k, status, (total if status == DIVERGED else zero), nfev


@njit(cache=True, nogil=True, fastmath={"contract"})
def _first_along(along: Any, gt: Any, gb: Any, x: Any, rows: Any, n_rows: int, indptr: Any,
                 indices: Any, codes: Any, table: Any, hp: int, zero: Any) -> None:
    """X (∇_w¹C)ᵀ + ∇_b¹C into ``along``, row by row of the mini-batch: the first
    layer's weighted inputs move by −η times it along −∇C."""
    for b in range(n_rows):
        r, u = rows[b], along[b]
        u[:] = zero
        _gather_dot(u[:hp], gt, indices, indptr[r], indptr[r + 1], x[r], codes, table)
        for j in range(gb.size):
            u[j] += gb[j]


@njit(cache=True, nogil=True)
def _watch(ft: float, f0: float, tol: float, gnorm: float, flat: float, best: float
           ) -> tuple[float, float]:
    """The patience watch of the numpy path's line searches: (flat, best) after
    a step to C = ``ft`` (0 and inf when C fell beyond rounding; 0 and ‖∇C‖
    at a new lowest ‖∇C‖; else one more flat step)."""
    if ft < f0 - tol:
        return 0.0, np.inf
    if gnorm < best:
        return 0.0, gnorm
    return flat + 1.0, best


@njit(cache=True, nogil=True)
def _in(cast: Any, value: float) -> Any:
    """``value`` rounded to ``cast``'s dtype."""
    cast[0] = value
    return cast[0]


@njit(cache=True, nogil=True, fastmath={"contract"})
def _quadratic(a: Any, y: Any, rows: Any, n_rows: int, k_out: int, zero: Any) -> float:
    """C = 1/(2B) Σ ‖y − a‖² over the mini-batch (eq. 6), as a float64."""
    s = zero
    for b in range(n_rows):
        ab, yb = a[b], y[rows[b]]
        for j in range(k_out):
            r = ab[j] - yb[j]
            s += r * r
    return float(s) / (2 * n_rows)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _squares(g: Any, gt: Any, union: Any, n_union: int, lo: int, hi: int, h: int) -> float:
    """‖∇C‖², the first layer's weights from their rows in ``gt`` (the columns
    in ``union``) and the rest from ``g`` outside ``g[lo:hi]``, as a float64."""
    s = 0.0
    for u in range(n_union):
        row = gt[union[u]]
        for j in range(h):
            s += float(row[j]) * float(row[j])
    for i in range(lo):
        s += float(g[i]) * float(g[i])
    for i in range(hi, g.size):
        s += float(g[i]) * float(g[i])
    return s


@njit(cache=True, nogil=True, fastmath={"contract"})
def _line_cost(wt: Any, v: Any, g: Any, y: Any, rows: Any, n_rows: int, sizes: Any,
               w_off: Any, p_off: Any, pad: Any, b_off: Any, acts: Any, keep: Any, along: Any,
               trial: Any, neg: Any, one: Any, zero: Any) -> float:
    """C(v − η∇C) on the mini-batch (``neg`` = −η): the first layer from
    z¹ + (−η)·``along`` (``keep`` holds z¹), the later layers' weights and
    biases formed at the trial in the scratch ``trial``. Overwrites ``acts``."""
    last = sizes.size - 2
    h = sizes[1]
    for b in range(n_rows):
        a, zb, ub = acts[0, b], keep[b], along[b]
        for j in range(h):
            a[j] = _sigmoid(zb[j] + ub[j] * neg, one)
    for layer in range(1, last + 1):
        k_in, k_out, kp = sizes[layer], sizes[layer + 1], pad[layer]
        wl = _padded(wt, p_off, sizes, pad, layer)
        gl = _weights(g, w_off, sizes, layer)
        tw = trial[:k_in * kp].reshape((k_in, kp))
        for i in range(k_in):
            row, trow = wl[i], tw[i]
            for j in range(k_out):
                trow[j] = row[j] + gl[j, i] * neg
            trow[k_out:] = zero
        bt = trial[k_in * kp:k_in * kp + k_out]
        zz = trial[k_in * kp + k_out:k_in * kp + k_out + kp]
        bo = b_off[layer]
        for j in range(k_out):
            bt[j] = v[bo + j] + g[bo + j] * neg
        for b in range(n_rows):
            prev, out = acts[layer - 1, b], acts[layer, b]
            zz[:] = zero
            for i in range(k_in):
                ai = prev[i]
                trow = tw[i]
                for j in range(kp):
                    zz[j] += ai * trow[j]
            for j in range(k_out):
                out[j] = _sigmoid(zz[j] + bt[j], one)
    return float(_quadratic(acts[last], y, rows, n_rows, sizes[-1], zero))


@njit(cache=True, nogil=True)
def _unchanged(a: Any, b: Any) -> bool:
    """Whether ``a`` equals ``b`` element by element (a NaN never does)."""
    same = True
    for i in range(a.size):
        same &= a[i] == b[i]
    return same


@njit(cache=True, nogil=True)
def encode(x: Any, bits: Any, indptr: Any, indices: Any, table: Any, codes: Any) -> int:
    """The non-zero inputs of ``x`` (CSR ``indptr``, ``indices``; ``bits`` is
    ``x`` viewed as unsigned integers of its width) as one-byte ``codes`` into
    ``table`` (256 entries): the distinct values in the order met, found again
    through a hash of their bits. Returns the number of distinct values, or -1
    when they need more than a byte, or one is not finite (the caller then
    reads the rows)."""
    slots = np.full(4096, -1, np.int16)  # a value's code, at its hash (linear probing)
    mult = np.uint64(0x9E3779B97F4A7C15)
    shift = np.uint64(52)
    mask = np.uint64(4095)
    n = 0
    for r in range(x.shape[0]):
        xr, br = x[r], bits[r]
        for t in range(indptr[r], indptr[r + 1]):
            i = indices[t]
            v = xr[i]
            if not np.isfinite(v):
                return -1
            h = (np.uint64(br[i]) * mult) >> shift
            while slots[h] >= 0 and table[slots[h]] != v:
                h = (h + np.uint64(1)) & mask
            if slots[h] < 0:
                if n == table.size:
                    return -1
                table[n] = v
                slots[h] = n
                n += 1
            codes[t] = slots[h]
    return n
