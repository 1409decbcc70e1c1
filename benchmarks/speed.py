"""Speed of gdkit's training loop on the book's MNIST network, against references.

Run from the repository root (after ``pip install -e .``)::

    python benchmarks/speed.py                 # everything, a few minutes
    python benchmarks/speed.py --repeat 1 --skip-memory

For each dtype (float64, float32) and mini-batch size (10, 100) it times one
epoch of mini-batch SGD (η = 3.0) on the [784, 30, 10] network over the 50,000
training images, three ways, in the same process and interleaved:

(a) **gdkit**: ``gdkit.minimize`` on the ``mnist-network`` objective, exactly
    as ``gdkit train`` runs it; the time is the epoch's training time that
    ``gdkit train`` prints (``history["seconds"]``: the mini-batch steps,
    not the end-of-epoch cost and test evaluation).
(b) **per-example**: the book's ``network.py`` algorithm (Nielsen, ch. 1:
    ``update_mini_batch`` calling ``backprop`` once per training example on
    column vectors, in a Python loop), ported to Python 3 below. It is slow,
    so it runs ``--book-examples`` examples (default 5,000, a tenth of an
    epoch) and the time is **extrapolated** to 50,000 examples.
(c) **hand-written**: a minimal matrix-based numpy loop, the same math as (a)
    with no framework: batches gathered with ``numpy.take``, preallocated
    buffers, ``scipy.special.expit``, weights updated in place. A full epoch.

(a') **compiled** (when numba is installed, ``gdkit[fast]``): (a) again on the
    compiled path (gdkit.compiled); (a) itself runs with ``GDKIT_NO_COMPILE=1``.
    The compile time is measured apart, in fresh processes with an empty
    compile cache and then with the cache on disk.
(d) **JAX** (when JAX is installed): the same epoch as one compiled function,
    ``jax.jit`` over ``lax.scan`` of the mini-batch steps (the gradient by
    ``jax.grad``), its compile time reported apart; float64 in JAX's 64-bit
    mode.

(a), (a'), (c) and (d) report the best of ``--repeat`` epochs (the machine may be
shared; the best run is the least disturbed), (b) the best of ``--repeat``
partial runs. All three start from the same parameters, and a check before
timing confirms one step of each gives the same parameters.

It also measures the per-iteration overhead of ``gdkit.minimize`` in
full-batch mode on 2-D Rosenbrock against a hand-written loop doing the same
work per step (cost, gradient, norm, finiteness checks, fixed step, history),
and the peak memory (``ru_maxrss``) of a child process running ``gdkit train
--epochs 1``.

The BLAS thread policy (``threads="auto"``, :mod:`gdkit.threads`) is
measured too: for 30 and 100 hidden neurons at batch 10 and 100, an epoch
of mini-batch SGD with the BLAS library limited to 1 and to 2 threads
(median of ``--repeat``, interleaved), on the machine as it is ("idle") and
beside a competing CPU-bound process ("loaded"), and the count the policy
picks; the target is the policy within 10% of the best fixed setting in
every case (``--skip-threads`` skips it).

The BLAS library's own threads matter on a small machine: pass
``--blas-threads 1`` to run everything with OpenBLAS/OpenMP/MKL limited to
one thread (the script restarts itself with the environment set), and
compare with a default run.

The FLOP bound: one core's dense float64 rate, measured on a 1000 × 1000
matrix product with one BLAS thread, and the seconds an epoch of the dense
network would take at that rate (3 × the forward pass's multiply-adds).

Prints a table and writes JSON to ``benchmarks/results/``. Targets (2 cores):
batch-10 float64 gdkit at least 6x faster than per-example and at most 1.25x
the hand-written loop; float32 at least 1.3x faster than float64; Rosenbrock
overhead at most 2x; peak memory under 700 MB; the compiled path at batch 10
float64 at least 2x faster than the hand-written loop and 1.5x faster than
JAX's compiled epoch, and its float32 at least 1.3x faster than its float64.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from gdkit_plugins.network import Network
from scipy.optimize import rosen, rosen_der
from scipy.special import expit

import gdkit
from gdkit.compiled import NO_COMPILE

Array = npt.NDArray[Any]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST", str(ROOT.parent / "shared" / "data" / "mnist"))
RESULTS = ROOT / "benchmarks" / "results"
SIZES = (784, 30, 10)
ETA = 3.0

TARGETS = {
    "per_example_over_gdkit_b10_f64": (">=", 6.0),
    "gdkit_over_handwritten_b10_f64": ("<=", 1.25),
    "float64_over_float32_gdkit": (">=", 1.3),
    "rosenbrock_overhead": ("<=", 2.0),
    "peak_memory_mb": ("<", 700.0),
    "thread_policy_over_best_fixed": ("<=", 1.10),
    "handwritten_over_compiled_b10_f64": (">=", 2.0),
    "jax_over_compiled_b10_f64": (">=", 1.5),
    "float64_over_float32_compiled": (">=", 1.3),
}


# -- (b) the book's network.py, per example ------------------------------------
def sigmoid(z: Array) -> Array:
    s: Array = 1.0 / (1.0 + np.exp(-z))
    return s


def sigmoid_prime(z: Array) -> Array:
    s: Array = sigmoid(z) * (1 - sigmoid(z))
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
        nabla_b = [np.zeros(b.shape, b.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, w.dtype) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            z = zs[-layer]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sp
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w


def book_epoch(net: Network, v0: Array, perm: Array, batch_size: int,
               n_examples: int) -> tuple[float, BookNetwork]:
    ws, bs = net.unpack(v0)
    book = BookNetwork(ws, bs)
    n_batches = max(1, n_examples // batch_size)
    # The book's training data: a list of (x, y) column vectors (views here).
    data = [(net.inputs[i].reshape(-1, 1), net.targets[i].reshape(-1, 1))
            for i in perm[:n_batches * batch_size]]
    batches = [data[k:k + batch_size] for k in range(0, len(data), batch_size)]
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):  # the book's sigmoid overflows exp for z << 0
        for mini_batch in batches:
            book.update_mini_batch(mini_batch, ETA)
    seconds = time.perf_counter() - t0
    return seconds * net.n_samples / len(data), book


# -- (c) a minimal hand-written matrix loop ------------------------------------
def handwritten_epoch(x_all: Array, y_all: Array, weights: list[Array], biases: list[Array],
                      perm: Array, batch_size: int, n_batches: int | None = None) -> float:
    """One epoch of mini-batch SGD; updates ``weights`` and ``biases`` in place."""
    dtype = x_all.dtype
    wts = [w.T for w in weights]
    bufs: dict[int, tuple[Array, Array, list[Array], list[Array], list[Array], list[Array],
                          list[Array]]] = {}

    def buffers(rows: int) -> Any:
        if rows not in bufs:
            bufs[rows] = (
                np.empty((rows, x_all.shape[1]), dtype), np.empty((rows, y_all.shape[1]), dtype),
                [np.empty((rows, b.size), dtype) for b in biases],
                [np.empty((rows, b.size), dtype) for b in biases],
                [np.empty((rows, b.size), dtype) for b in biases],
                [np.empty_like(w) for w in weights], [np.empty_like(b) for b in biases])
        return bufs[rows]

    n = x_all.shape[0]
    starts = range(0, n, batch_size)
    if n_batches is not None:
        starts = starts[:n_batches]
    layers = range(len(weights) - 1, -1, -1)
    t0 = time.perf_counter()
    for start in starts:
        idx = perm[start:start + batch_size]
        xb, yb, acts, deltas, sps, gws, gbs = buffers(len(idx))
        np.take(x_all, idx, axis=0, out=xb)
        np.take(y_all, idx, axis=0, out=yb)
        a = xb
        for wt, b, out in zip(wts, biases, acts, strict=True):
            np.matmul(a, wt, out=out)
            out += b
            expit(out, out=out)
            a = out
        d = deltas[-1]
        np.subtract(a, yb, out=d)
        d *= 1.0 / len(idx)
        for layer in layers:
            act, sp, d = acts[layer], sps[layer], deltas[layer]
            np.subtract(1, act, out=sp)
            sp *= act
            d *= sp
            np.matmul(d.T, acts[layer - 1] if layer else xb, out=gws[layer])
            np.add.reduce(d, axis=0, out=gbs[layer])
            if layer:
                np.matmul(d, weights[layer], out=deltas[layer - 1])
        for w, gw, b, gb in zip(weights, gws, biases, gbs, strict=True):
            gw *= ETA
            w -= gw
            gb *= ETA
            b -= gb
    return time.perf_counter() - t0


# -- (a) gdkit -----------------------------------------------------------------
def gdkit_epoch(net: Network, v0: Array, batch_size: int, seed: int,
                max_iter: int | None = None, compiled: bool = False) -> tuple[float, Array]:
    """One epoch by gdkit.minimize, on the numpy path or (``compiled``) on the
    compiled path, which must then be taken."""
    saved = os.environ.get(NO_COMPILE)
    os.environ[NO_COMPILE] = "0" if compiled else "1"
    try:
        res = gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=ETA),
                             batch_size=batch_size, epochs=1, seed=seed, max_iter=max_iter)
    finally:
        if saved is None:
            del os.environ[NO_COMPILE]
        else:
            os.environ[NO_COMPILE] = saved
    if res.compiled is not compiled:
        raise SystemExit(f"gdkit ran the {'compiled' if res.compiled else 'numpy'} path where "
                         f"the {'compiled' if compiled else 'numpy'} one was asked for")
    return float(res.history["seconds"][0]), res.x


def has_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


# -- (d) JAX: the whole epoch compiled (jax.jit over lax.scan) -----------------
def jax_epoch_fn(dtype: str) -> Any:
    """A jitted epoch of mini-batch SGD on the [784, 30, 10] network in JAX, the
    same math as (c); None without JAX. Returns f(params, x, y, batches) -> params."""
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


def jax_times(fn: Any, net: Network, v0: Array, perm: Array, batch_size: int,
              repeat: int) -> tuple[float, float]:
    """(compile seconds, best epoch seconds) of the JAX epoch from v0."""
    import jax
    ws, bs = net.unpack(v0.copy())
    params = [(jax.device_put(w), jax.device_put(b)) for w, b in zip(ws, bs, strict=True)]
    x, y = jax.device_put(net.inputs), jax.device_put(net.targets)
    batches = jax.device_put(perm[: perm.size // batch_size * batch_size].reshape(-1, batch_size))
    t0 = time.perf_counter()
    compiled = fn.lower(params, x, y, batches).compile()
    compile_s = time.perf_counter() - t0
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(params, x, y, batches))
        best = min(best, time.perf_counter() - t0)
    return compile_s, best


def compile_seconds(data: str, dtype: str) -> dict[str, float]:
    """The compiled path's start-up in fresh processes: a first run with an
    empty compile cache, then a second run that finds it on disk."""
    code = ("import time, numpy as np, gdkit\n"
            f"net = gdkit.objective('mnist-network', data={data!r}, dtype={dtype!r}, n_train=100)\n"
            "t = time.perf_counter()\n"
            "r = gdkit.minimize(net, step=gdkit.step_rule('fixed', eta=3.0), batch_size=10,\n"
            "                   max_iter=1, seed=0)\n"
            "assert r.compiled\n"
            "print(time.perf_counter() - t)\n")
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop(NO_COMPILE, None)
        runs = [float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout) for _ in range(2)]
    return {"first_run_s": runs[0], "cached_run_s": runs[1], "compile_s": runs[0] - runs[1]}


def flop_bound(repeat: int) -> dict[str, float]:
    """This core's dense float64 rate (a large matrix product on one BLAS thread),
    and the seconds an epoch of [784, 30, 10] would take at that rate with
    every multiply-add of the dense network counted (forward 1×, backward 2×)."""
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).standard_normal((1000, 1000))
    best = math.inf
    with threadpool_limits(1, user_api="blas"):
        for _ in range(max(repeat, 3)):
            t0 = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t0)
    rate = 2e9 / best
    per_example = 2 * 3 * (784 * 30 + 30 * 10)
    return {"gflops": rate / 1e9, "epoch_s": 50_000 * per_example / rate}


def check_same_math(net: Network, v0: Array, batch_size: int) -> float:
    """One mini-batch step by (a), (b) and (c) from v0: the largest difference."""
    # gdkit's first mini-batch for seed 0: replay its permutation.
    shuffle_rng = np.random.default_rng(np.random.SeedSequence(0).spawn(2)[1])
    perm = shuffle_rng.permutation(net.n_samples)
    _, x_gdkit = gdkit_epoch(net, v0, batch_size, 0, max_iter=1)
    ws, bs = (list(p) for p in net.unpack(v0.copy()))
    handwritten_epoch(net.inputs, net.targets, ws, bs, perm, batch_size, n_batches=1)
    _, book = book_epoch(net, v0, perm, batch_size, batch_size)
    x_hand = np.concatenate([a.ravel() for pair in zip(ws, bs, strict=True) for a in pair])
    x_book = np.concatenate([a.ravel() for pair in zip(book.weights, book.biases, strict=True)
                             for a in pair])
    return max(float(np.max(np.abs(x_gdkit - x_hand))), float(np.max(np.abs(x_gdkit - x_book))))


def bench_mnist(data: str, dtype: str, batch_sizes: list[int], repeat: int,
                book_examples: int, fast: bool) -> list[dict[str, Any]]:
    net = gdkit.objective("mnist-network", data=data, dtype=dtype)
    assert isinstance(net, Network)
    v0 = net.initial_point(np.random.default_rng(0))
    rows = []
    for b in batch_sizes:
        diff = check_same_math(net, v0, b)
        tol = 1e-10 if dtype == "float64" else 1e-4
        if not diff <= tol:
            raise SystemExit(f"the three loops disagree after one step ({dtype}, batch {b}): "
                             f"max |Δv| = {diff:.3g}")
        times: dict[str, list[float]] = {"gdkit": [], "handwritten": [], "per_example": []}
        if fast:
            gdkit_epoch(net, v0, b, seed=0, max_iter=1, compiled=True)  # compiled or cached
            times["compiled"] = []
        for r in range(repeat):
            perm = np.random.default_rng(100 + r).permutation(net.n_samples)
            times["gdkit"].append(gdkit_epoch(net, v0, b, seed=r)[0])
            if fast:
                times["compiled"].append(gdkit_epoch(net, v0, b, seed=r, compiled=True)[0])
            ws, bs = (list(p) for p in net.unpack(v0.copy()))
            times["handwritten"].append(handwritten_epoch(net.inputs, net.targets, ws, bs,
                                                          perm, b))
            times["per_example"].append(book_epoch(net, v0, perm, b, book_examples)[0])
        best = {k: min(v) for k, v in times.items()}
        row = {"dtype": dtype, "batch_size": b, "check_max_abs_diff": diff,
               "seconds_per_epoch": best, "all_runs": times,
               "per_example_over_gdkit": best["per_example"] / best["gdkit"],
               "gdkit_over_handwritten": best["gdkit"] / best["handwritten"]}
        jax_fn = jax_epoch_fn(dtype)
        if jax_fn is not None:
            perm = np.random.default_rng(100).permutation(net.n_samples)
            row["jax_compile_s"], best["jax"] = jax_times(jax_fn, net, v0, perm, b, repeat)
        if fast:
            row["handwritten_over_compiled"] = best["handwritten"] / best["compiled"]
            if "jax" in best:
                row["jax_over_compiled"] = best["jax"] / best["compiled"]
        rows.append(row)
        print(f"  {dtype:<8} batch {b:>4}: " + "  ".join(
            f"{k} {best[k]:.3f} s" for k in ("gdkit", "compiled", "handwritten", "jax")
            if k in best) + f"  per-example {best['per_example']:.2f} s (extrapolated)",
            flush=True)
    del net
    return rows


# -- Rosenbrock: the loop's own overhead --------------------------------------
def handwritten_descent(v0: Array, eta: float, n_iter: int) -> tuple[float, Array]:
    """What minimize does per full-batch step, by hand: cost, gradient, norm,
    finiteness checks, a fixed step, and the history."""
    v = np.array(v0, dtype=float)
    g = np.empty_like(v)
    buf = np.empty_like(v)
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


def bench_rosenbrock(n_iter: int, repeat: int) -> dict[str, Any]:
    v0 = np.array([-1.2, 1.0])
    eta = 1e-3
    g_times, h_times = [], []
    for _ in range(repeat):
        obj = gdkit.objective("rosenbrock", dim=2)
        step = gdkit.step_rule("fixed", eta=eta)
        t0 = time.perf_counter()
        res = gdkit.minimize(obj, v0, step=step, max_iter=n_iter, gtol=0.0)
        g_times.append(time.perf_counter() - t0)
        h, x = handwritten_descent(v0, eta, n_iter)
        h_times.append(h)
        if not np.allclose(res.x, x, rtol=0, atol=1e-12):
            raise SystemExit("Rosenbrock: gdkit and the hand-written loop disagree")
    g, h = min(g_times), min(h_times)
    out = {"iterations": n_iter, "gdkit_us_per_iter": 1e6 * g / n_iter,
           "handwritten_us_per_iter": 1e6 * h / n_iter, "overhead": g / h}
    print(f"  Rosenbrock 2-D, {n_iter} steps: gdkit {out['gdkit_us_per_iter']:.2f} us/step, "
          f"hand-written {out['handwritten_us_per_iter']:.2f} us/step", flush=True)
    return out


# -- peak memory ----------------------------------------------------------------
_MEASURE = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": proc.returncode, "maxrss": usage.ru_maxrss,
                  "stdout": proc.stdout, "stderr": proc.stderr}))
"""


def bench_threads(data: str, repeat: int) -> list[dict[str, Any]]:
    """Seconds per epoch with the BLAS library limited to 1 and to 2 threads,
    idle and beside a competing process; "auto" runs the count that
    :func:`gdkit.threads.decide` picks, so its time is that count's."""
    from gdkit.threads import decide

    nets = {h: gdkit.objective("mnist-network", data=data, sizes=(784, h, 10), validate=False)
            for h in (30, 100)}
    rows = []
    for load in ("idle", "loaded"):
        rival = None if load == "idle" else subprocess.Popen(
            [sys.executable, "-c", "while True: pass"])
        try:
            for h, net in nets.items():
                v0 = net.initial_point(np.random.default_rng(0))
                for b in (10, 100):
                    times: dict[int, list[float]] = {1: [], 2: []}
                    for _ in range(repeat):  # interleaved, so both see the same machine
                        for n in (1, 2):
                            res = gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=3.0),
                                                 batch_size=b, epochs=1, seed=0,
                                                 options=gdkit.RunOptions(threads=n))
                            times[n].append(float(res.history["seconds"][0]))
                    med = {n: statistics.median(ts) for n, ts in times.items()}
                    choice = decide("auto", b, net.dim) or 2  # None: the library's (2 here)
                    row = {"load": load, "hidden": h, "batch_size": b, "median_seconds": med,
                           "auto_threads": choice,
                           "auto_over_best_fixed": med[choice] / min(med.values())}
                    rows.append(row)
                    print(f"  {load:<6} hidden {h:>3} batch {b:>3}: 1 thread {med[1]:.3f} s, "
                          f"2 threads {med[2]:.3f} s; auto takes {choice} "
                          f"({row['auto_over_best_fixed']:.2f}x the best)", flush=True)
        finally:
            if rival is not None:
                rival.kill()
                rival.wait()
    return rows


def bench_memory(data: str, dtype: str) -> dict[str, Any]:
    """Peak RSS of ``gdkit train --epochs 1``, run by a small helper process.

    A child's ``ru_maxrss`` starts from its parent's resident size at fork
    (Linux keeps the high-water mark across exec), and this script holds
    MNIST in memory; so a fresh interpreter that imports nothing starts the
    command and reports its children's peak.
    """
    exe = shutil.which("gdkit") or str(Path(sys.executable).parent / "gdkit")
    cmd = [exe, "train", "--data", data, "--epochs", "1", "--dtype", dtype, "--quiet"]
    t0 = time.perf_counter()
    helper = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True,
                            text=True, check=True)
    got = json.loads(helper.stdout)
    if got["returncode"] != 0:
        raise SystemExit(f"gdkit train failed: {got['stderr']}")
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    mb = got["maxrss"] / (2**20 if sys.platform == "darwin" else 2**10)
    print(f"  peak memory, gdkit train --epochs 1 --dtype {dtype}: {mb:.0f} MB", flush=True)
    return {"dtype": dtype, "peak_rss_mb": mb, "wall_seconds": time.perf_counter() - t0,
            "command": " ".join(cmd[1:]), "stdout": got["stdout"].strip().splitlines()}


# -- report -----------------------------------------------------------------------
def judge(value: float, op: str, target: float) -> bool:
    ops: dict[str, Callable[[float, float], bool]] = {
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    return ops[op](value, target)


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    blas = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                           "MKL_NUM_THREADS") if os.environ.get(k)}
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "numpy": np.__version__, "gdkit": gdkit.__version__,
            "load_average": load, "thread_env": blas}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="MNIST directory")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case (best is kept)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100])
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    p.add_argument("--book-examples", type=int, default=5000,
                   help="examples the per-example loop runs (extrapolated to 50,000)")
    p.add_argument("--rosenbrock-iter", type=int, default=20_000)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-threads", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: results/)")
    p.add_argument("--blas-threads", type=int, default=None, metavar="N",
                   help="run with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=N "
                   "(restarts the script with those set)")
    args = p.parse_args(argv)
    if args.blas_threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(
            args.blas_threads):
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__),
                                  *(sys.argv[1:] if argv is None else argv)])

    fast = has_numba()
    started = machine()
    print(f"gdkit speed benchmark: {started['cpus']} CPUs, load average "
          f"{started['load_average']}, numpy {started['numpy']}", flush=True)
    print("MNIST [784, 30, 10], one epoch of mini-batch SGD, η = 3.0 "
          f"(best of {args.repeat}):", flush=True)
    rows = []
    for dtype in args.dtypes:
        rows += bench_mnist(args.data, dtype, args.batch_sizes, args.repeat, args.book_examples,
                            fast)
    print("Loop overhead:", flush=True)
    rosen_res = bench_rosenbrock(args.rosenbrock_iter, max(args.repeat, 3))
    memory = [] if args.skip_memory else [bench_memory(args.data, d) for d in args.dtypes]
    thread_rows: list[dict[str, Any]] = []
    if not args.skip_threads:
        print(f"BLAS threads, one epoch (median of {args.repeat}):", flush=True)
        thread_rows = bench_threads(args.data, args.repeat)

    def find(dtype: str, b: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["dtype"] == dtype and r["batch_size"] == b), None)

    compile_info = [compile_seconds(args.data, d) | {"dtype": d} for d in args.dtypes] \
        if fast else []
    bound = flop_bound(args.repeat)
    figures: dict[str, float] = {}
    r64, r32 = find("float64", 10), find("float32", 10)
    if r64 and fast:
        figures["handwritten_over_compiled_b10_f64"] = r64["handwritten_over_compiled"]
        if "jax_over_compiled" in r64:
            figures["jax_over_compiled_b10_f64"] = r64["jax_over_compiled"]
        bound["compiled_over_bound_b10_f64"] = (r64["seconds_per_epoch"]["compiled"]
                                                / bound["epoch_s"])
    if r64 and r32 and fast:
        figures["float64_over_float32_compiled"] = (
            r64["seconds_per_epoch"]["compiled"] / r32["seconds_per_epoch"]["compiled"])
    if r64:
        figures["per_example_over_gdkit_b10_f64"] = r64["per_example_over_gdkit"]
        figures["gdkit_over_handwritten_b10_f64"] = r64["gdkit_over_handwritten"]
    if r64 and r32:
        figures["float64_over_float32_gdkit"] = (
            r64["seconds_per_epoch"]["gdkit"] / r32["seconds_per_epoch"]["gdkit"])
    figures["rosenbrock_overhead"] = rosen_res["overhead"]
    if thread_rows:
        figures["thread_policy_over_best_fixed"] = max(r["auto_over_best_fixed"]
                                                       for r in thread_rows)
    if memory:
        figures["peak_memory_mb"] = max(m["peak_rss_mb"] for m in memory
                                        if m["dtype"] == "float64") if any(
            m["dtype"] == "float64" for m in memory) else memory[0]["peak_rss_mb"]

    print()
    print(f"{'dtype':<8} {'batch':>5} {'gdkit s':>9} {'hand s':>9} {'per-ex s*':>10} "
          f"{'per-ex/gdkit':>13} {'gdkit/hand':>11}")
    for r in rows:
        s = r["seconds_per_epoch"]
        print(f"{r['dtype']:<8} {r['batch_size']:>5} {s['gdkit']:>9.3f} {s['handwritten']:>9.3f} "
              f"{s['per_example']:>10.2f} {r['per_example_over_gdkit']:>13.1f} "
              f"{r['gdkit_over_handwritten']:>11.2f}")
    print(f"* per-example: {args.book_examples:,} examples timed, extrapolated to 50,000.")
    for b in args.batch_sizes:
        a, c = find("float64", b), find("float32", b)
        if a and c:
            print(f"float64/float32 (gdkit, batch {b}): "
                  f"{a['seconds_per_epoch']['gdkit'] / c['seconds_per_epoch']['gdkit']:.2f}x")
    for r in rows:
        s = r["seconds_per_epoch"]
        extra = [f"compiled {s['compiled']:.3f} s ({r['handwritten_over_compiled']:.2f}x "
                 "faster than hand-written)"] if "compiled" in s else []
        if "jax" in s:
            extra.append(f"JAX scan {s['jax']:.3f} s (compile {r['jax_compile_s']:.2f} s)")
        if extra:
            print(f"{r['dtype']:<8} {r['batch_size']:>5}: " + ", ".join(extra))
    for c in compile_info:
        print(f"compiled path start-up ({c['dtype']}): first run {c['first_run_s']:.2f} s, with "
              f"the cache on disk {c['cached_run_s']:.2f} s (compile {c['compile_s']:.2f} s)")
    print(f"FLOP bound: {bound['gflops']:.1f} GFLOP/s on one core (1000x1000 product); the "
          f"dense network's epoch would take {bound['epoch_s']:.3f} s at that rate" + (
              f"; compiled batch 10 float64 is {bound['compiled_over_bound_b10_f64']:.1f}x that"
              if "compiled_over_bound_b10_f64" in bound else ""))
    print(f"Rosenbrock overhead: {rosen_res['overhead']:.2f}x "
          f"({rosen_res['gdkit_us_per_iter']:.2f} vs {rosen_res['handwritten_us_per_iter']:.2f} "
          "us per step)")
    for m in memory:
        print(f"Peak memory ({m['dtype']}): {m['peak_rss_mb']:.0f} MB")
    print()
    verdicts = {}
    for key, (op, target) in TARGETS.items():
        if key in figures:
            ok = judge(figures[key], op, target)
            verdicts[key] = {"value": figures[key], "target": f"{op} {target:g}", "met": ok}
            print(f"{'MET   ' if ok else 'MISSED'}  {key}: {figures[key]:.2f} "
                  f"(target {op} {target:g})")
    finished = machine()
    print(f"load average at the end: {finished['load_average']}")

    report = {"benchmark": "speed", "machine": started, "load_average_end":
              finished["load_average"], "settings": vars(args) | {"out": str(args.out)},
              "mnist": rows, "rosenbrock": rosen_res, "memory": memory, "threads": thread_rows,
              "compile": compile_info, "flop_bound": bound,
              "targets": verdicts}
    out = args.out or RESULTS / f"speed-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
