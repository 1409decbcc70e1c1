"""Where a mini-batch step's time goes, on the compiled path and on the numpy path.

Run from the repository root::

    python benchmarks/profile_step.py                  # [784, 30, 10], batch 10, float64
    python benchmarks/profile_step.py --batch 100 --dtype float32 --hidden 100

**Compiled path.** The kernel's stages are timed by running the epoch's
mini-batches through a compiled harness that stops after a stage (gather
and forward; then the gradient, BP1-BP4, and clearing the first layer's
gradient rows for the next step; then the step), interleaved, best of
``--repeat``: the differences are each stage's share.
**numpy path.** ``gdkit.minimize``'s per-step time against the same steps
by hand (``net.gradient`` then ``v -= η g``), the gradient alone, its gather
alone, and the hand-written loop's stages (gather, forward, backward,
update). Also printed: the work a step does (MNIST's non-zero pixels per
image, the columns of the first layer a mini-batch touches, its
multiply-adds). Runs itself without ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE``, as ``speed.py`` does, with one BLAS thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fair import rerun_fair  # noqa: E402  (a sibling module)

DEFAULT_DATA = os.environ.get("GDKIT_TEST_MNIST",
                              str(HERE.parent.parent / "shared" / "data" / "mnist"))
STAGES = ("gather + forward", "gradient (BP1-BP4) + clearing its rows", "step")


def harness() -> Any:
    """A compiled loop over the mini-batches that stops after ``stage`` (1-3)."""
    from gdkit_plugins.fast import _kernels as k
    from numba import njit

    @njit(cache=False, nogil=True)
    def run(stage: int, v: Any, x: Any, y: Any, perm: Any, batch_size: int, neg_eta: Any,
            consts: Any, invs: Any, velocity: Any, sizes: Any, w_off: Any, p_off: Any, pad: Any,
            b_off: Any, cost: int, wt: Any, vt: Any, acts: Any, deltas: Any, z: Any,
            indptr: Any, indices: Any, codes: Any, table: Any, g: Any, gt: Any, mark: Any,
            union: Any) -> int:
        one = consts[1]
        k._transpose(v, wt, sizes, w_off, p_off, pad, True)
        touched = 0
        for pos in range(0, perm.size - batch_size + 1, batch_size):
            rows = perm[pos:pos + batch_size]
            k._forward(wt, v, x, rows, batch_size, sizes, p_off, pad, b_off, acts, indptr,
                       indices, codes, table, one, acts[0, :0])
            if stage >= 2:
                n_union, _ = k._gradient(wt, x, y, rows, batch_size, sizes, w_off, p_off, pad,
                                         b_off, cost, invs[batch_size], acts, deltas, indptr,
                                         indices, codes, table, g, gt, mark, union, one,
                                         False, neg_eta, consts, z)
                touched += n_union
                if stage >= 3:
                    k._step(wt, v, g, gt, union, n_union, sizes, w_off, p_off, pad, b_off,
                            neg_eta, 0, consts[0], vt, velocity, z)
                k._clear(gt, mark, union, n_union)
        return touched

    return run


def compiled_profile(net: Any, batch: int, repeat: int) -> dict[str, float]:
    """µs per step of each stage of the compiled kernel, and of the whole kernel."""
    import numpy as np
    from gdkit_plugins.fast.network import PLAIN, QUADRATIC, CompiledNetworkSteps

    runner = CompiledNetworkSteps(net, batch, QUADRATIC, PLAIN, 0.0, lambda i, e: 3.0)
    v = net.initial_point(np.random.default_rng(0))
    g = np.empty_like(v)
    runner.bind(v, g, [])
    perm = np.random.default_rng(1).permutation(net.n_samples)
    steps = net.n_samples // batch
    run = harness()
    r = runner
    args = (r.x, r.y, perm, batch, np.asarray(-3.0, v.dtype)[()], r.consts, r.invs, r.velocity,
            r.sizes, r.w_off, r.p_off, r.pad, r.b_off, r.cost, r.wt, r.vt, r.acts, r.deltas,
            r.z, r.indptr, r.indices, r.codes, r.table, g, r.gt, r.mark, r.union)
    out: dict[str, float] = {}
    for stage in range(1, 4):
        run(stage, v.copy(), *args)  # compile
    for _ in range(repeat):  # the stages interleaved, so they share the machine's noise
        for stage in range(1, 4):
            t0 = time.perf_counter()
            touched = run(stage, v.copy(), *args)
            us = 1e6 * (time.perf_counter() - t0) / steps
            out[f"stage{stage}"] = min(out.get(f"stage{stage}", float("inf")), us)
            if stage == 2:
                out["union_columns"] = touched / steps
    best = float("inf")
    for _ in range(repeat):
        w = v.copy()
        runner.bind(w, g, [])
        t0 = time.perf_counter()
        runner.steps(perm, 0, steps * batch, 0, 0, None, False)
        best = min(best, time.perf_counter() - t0)
    out["kernel"] = 1e6 * best / steps
    return out


def numpy_profile(net: Any, batch: int, repeat: int) -> dict[str, float]:
    """µs per step: minimize on the numpy path, and its parts by hand."""
    import numpy as np
    from speed_loops import _buffers, _hand_step, _sigmoid_

    import gdkit
    v0 = net.initial_point(np.random.default_rng(0))
    steps = net.n_samples // batch
    perm = np.random.default_rng(1).permutation(net.n_samples)
    batches = [perm[i:i + batch] for i in range(0, steps * batch, batch)]
    g = np.empty_like(v0)

    def best_of(fn: Any) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e6 * min(times) / steps

    os.environ["GDKIT_NO_COMPILE"] = "1"
    epochs = [gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=3.0), batch_size=batch,
                             seed=0, epochs=1) for _ in range(repeat)]
    # the epoch's steps, as gdkit train reports them (not the end-of-epoch evaluation)
    out = {"minimize": 1e6 * min(float(r.history["seconds"][0]) for r in epochs) / steps}
    v = v0.copy()

    def by_hand() -> None:
        for b in batches:
            net.gradient(v, b, g)
            g.sum()
            v.__isub__(3.0 * g)

    out["gradient + sum + step"] = best_of(by_hand)
    out["gradient"] = best_of(lambda: [net.gradient(v, b, g) for b in batches])
    out["gather"] = best_of(lambda: [net._gather(b) for b in batches])
    ws, bs = (list(p) for p in net.unpack(v0.copy()))
    bufs = _buffers(batch, net.inputs, net.targets, ws)

    def hand_gather() -> None:
        for b in batches:
            np.take(net.inputs, b, axis=0, out=bufs["x"])
            np.take(net.targets, b, axis=0, out=bufs["y"])

    def hand_forward() -> None:
        for b in batches:
            np.take(net.inputs, b, axis=0, out=bufs["x"])
            a = bufs["x"]
            for w, bias, o in zip(ws, bs, bufs["a"], strict=True):
                np.matmul(a, w.T, out=o)
                o += bias
                _sigmoid_(o)
                a = o

    def hand_all() -> None:
        for b in batches:
            np.take(net.inputs, b, axis=0, out=bufs["x"])
            np.take(net.targets, b, axis=0, out=bufs["y"])
            _hand_step(bufs, ws, bs, 3.0)

    out["hand: gather"] = best_of(hand_gather)
    out["hand: gather + forward"] = best_of(hand_forward)
    out["hand: whole step"] = best_of(hand_all)
    return out


def child(args: argparse.Namespace) -> int:
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    import gdkit
    net = gdkit.objective("mnist-network", data=args.data, dtype=args.dtype,
                          sizes=(784, args.hidden, 10), validate=False)
    blas = threadpool_info()
    print(f"[784, {args.hidden}, 10], batch {args.batch}, {args.dtype}; BLAS "
          + ", ".join(f"{b['internal_api']} kernel {b.get('architecture')}" for b in blas))
    nnz = np.count_nonzero(net.inputs, axis=1)
    print(f"non-zero pixels per image: mean {nnz.mean():.0f} of 784 "
          f"({100 * (1 - nnz.mean() / 784):.0f}% zeros)")
    if args.armijo:
        with threadpool_limits(1, user_api="blas"):
            armijo_profile(net, args.batch, 2000)
        return 0
    with threadpool_limits(1, user_api="blas"):
        c = compiled_profile(net, args.batch, args.repeat)
        n = numpy_profile(net, args.batch, args.repeat)
    h = args.hidden
    mac = args.batch * (3 * nnz.mean() * h + 3 * h * 10) + c["union_columns"] * h
    print(f"columns of the first layer a mini-batch touches: {c['union_columns']:.0f}; "
          f"multiply-adds per step (sparse first layer, forward + 2 backward + update): "
          f"{mac / 1e3:.0f} k")
    print("compiled path, µs per step:")
    prev = 0.0
    for i, name in enumerate(STAGES, 1):
        print(f"  {name:<40} {c[f'stage{i}'] - prev:7.1f}")
        prev = c[f"stage{i}"]
    print(f"  {'sum of the stages':<40} {prev:7.1f}\n  {'the kernel (sgd_steps)':<40} "
          f"{c['kernel']:7.1f}")
    print("numpy path, µs per step:")
    for name, us in n.items():
        print(f"  {name:<24} {us:7.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--hidden", type=int, default=30)
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--armijo", action="store_true",
                   help="armijo against fixed on mini-batches (2,000 steps), and a profile")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    return rerun_fair(__file__, argv, timeout=3600)


def armijo_profile(net: Any, batch: int, steps: int) -> None:
    """``armijo`` against ``fixed`` on mini-batches: µs per step, C evaluations
    per step, and the functions that dominate an armijo step (cProfile)."""
    import cProfile
    import pstats

    import numpy as np

    import gdkit
    v0 = net.initial_point(np.random.default_rng(0))
    rules = {"fixed": lambda: gdkit.step_rule("fixed", eta=3.0),
             "armijo": lambda: gdkit.step_rule("armijo")}
    best: dict[tuple[str, str], tuple[float, Any]] = {}
    for _ in range(3):  # interleaved rounds, the best of each
        for path in ("default", "numpy"):
            os.environ["GDKIT_NO_COMPILE"] = "1" if path == "numpy" else "0"
            for name, rule in rules.items():
                res = gdkit.minimize(net, v0, step=rule(), batch_size=batch, epochs=1,
                                     max_iter=steps, seed=0)
                us = 1e6 * float(res.history["seconds"][0]) / res.nit
                if us < best.get((path, name), (float("inf"), None))[0]:
                    best[path, name] = (us, res)
    for (path, name), (us, res) in best.items():
        print(f"  {path:<7} {name:<6}: {us:7.1f} µs per step, {res.nfev / res.nit:.2f} C "
              f"and {res.ngev / res.nit:.2f} ∇C evaluations per step "
              f"({'compiled' if res.compiled else 'numpy'})")
    for path in ("default", "numpy"):
        ratio = best[path, "armijo"][0] / best[path, "fixed"][0]
        print(f"  {path}: armijo takes {ratio:.1f}× fixed's time per step")
    os.environ["GDKIT_NO_COMPILE"] = "1"
    prof = cProfile.Profile()
    prof.enable()
    gdkit.minimize(net, v0, step=rules["armijo"](), batch_size=batch, epochs=1, max_iter=steps,
                   seed=0)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    sys.exit(main())
