"""What a step on a Dask cluster costs: 1 vs 2 workers on data larger than
one worker may hold, the fixed overhead per step, and the break-even.

Run from the repository root (after ``pip install -e '.[dask]'``)::

    python benchmarks/cluster.py                      # about 3 minutes, 2.4 GB
    python benchmarks/cluster.py --rows 400000 --sweep 10000 100000   # quick

Three measurements, each a full-batch step of the ``dask`` gradient source
on least squares (the ``quadratic`` objective, ``--features`` inputs, one
output), i.e. what :func:`gdkit.minimize` asks for once per step, C and ∇C
in one call:

1. **Scale**: ``--rows`` × ``--features`` float64 inputs (default 3,000,000
   × 100 = 2.4 GB) generated chunk by chunk on the workers
   (``dask.array.random``; the client never holds them), on a
   ``LocalCluster`` of 1 worker, then of 2 (one thread each; spilling to
   disk and pausing off, so a step's time is its work). With 2 workers each
   has a memory limit (``--limit2``, default 2 GiB) below the data's size,
   so no single one of them could hold it;
   the 1-worker cluster is given room for all of it. Seconds per step (best
   and median of ``--steps``) and the ratio; the two clusters' results are
   compared bit for bit (same chunking, same sums).
2. **Overhead**: on data that fits (1,000 rows), a step on the 2-worker
   cluster against the same step computed locally (``cost`` then
   ``gradient`` of the numpy objective, as the local loop calls them).
3. **Break-even**: for each size in ``--sweep``, the local step on numpy
   data (with the BLAS's default threads, here both cores, and on one
   thread) against the 2-worker cluster's step on the same rows (chunks of
   ``--chunk`` rows): the smallest size at which the cluster is faster. On
   one machine the cluster has no more cores than the local step, so against
   the default threads there may be none; against one thread it is the
   break-even of a cluster with twice the client's cores.

Prints a table and writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GiB = 2**30


def timings(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def cluster(workers: int, limit: float) -> Any:
    """A LocalCluster whose workers neither spill nor pause below their memory
    limit (each is stopped only past 95% of it), so a step's time is its work."""
    import dask
    import distributed

    with dask.config.set({"distributed.worker.memory.target": False,
                          "distributed.worker.memory.spill": False,
                          "distributed.worker.memory.pause": False}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, memory_limit=int(limit),
                                        dashboard_address=":0", silence_logs=40)


def lazy_problem(rows: int, features: int, chunk: int, seed: int = 0) -> Any:
    """Least squares whose data are made on the workers, chunk by chunk."""
    import dask.array as da
    from gdkit_plugins.quadratic import Quadratic

    rs = da.random.RandomState(seed)
    x = rs.standard_normal((rows, features), chunks=(chunk, features))
    w = np.random.default_rng(seed).standard_normal(features)
    y = x @ w + 0.1 * rs.standard_normal(rows, chunks=chunk)
    return Quadratic(x, y)


def step_on(client: Any, q: Any, steps: int) -> dict[str, Any]:
    """Build the shards, then time ``steps`` steps of the dask source."""
    from gdkit_plugins.dask_gradient import DaskGradient

    src = DaskGradient(client, timeout=600, load_timeout=3600)
    t0 = time.perf_counter()
    src.validate(q)
    load = time.perf_counter() - t0
    v = np.full(q.dim, 0.5)
    out: list[Any] = []
    ts = timings(lambda: out.append(src.value_and_gradient(q, v)), steps)
    src.close()
    return {"load": load, "best": min(ts), "median": statistics.median(ts),
            "cost": out[-1][0], "grad": out[-1][1]}


def scale(args: argparse.Namespace) -> dict[str, Any]:
    import distributed

    gb = args.rows * args.features * 8 / 1e9
    print(f"1. scale: {args.rows:,} x {args.features} float64 inputs = {gb:.2f} GB, "
          f"chunks of {args.chunk:,} rows, made on the workers")
    res: dict[str, Any] = {"rows": args.rows, "features": args.features, "gb": gb}
    for workers, limit in ((1, max(3 * gb * 1e9, 4 * GiB)), (2, args.limit2)):
        with cluster(workers, limit) as c, distributed.Client(c, set_as_default=False) as cl:
            r = step_on(cl, lazy_problem(args.rows, args.features, args.chunk), args.steps)
        res[f"{workers}w"] = r | {"limit_gib": limit / GiB}
        print(f"   {workers} worker{'s' * (workers > 1)} (limit {limit / GiB:.1f} GiB each): "
              f"shards built in {r['load']:.1f} s; step best {r['best']:.3f} s, "
              f"median {r['median']:.3f} s", flush=True)
    one, two = res["1w"], res["2w"]
    res["ratio"] = one["best"] / two["best"]
    res["same_bits"] = bool(one["cost"] == two["cost"]
                            and np.array_equal(one["grad"], two["grad"]))
    print(f"   1 worker / 2 workers: {res['ratio']:.2f}x; same bits on both: "
          f"{'yes' if res['same_bits'] else 'NO'}")
    for k in ("1w", "2w"):
        del res[k]["grad"]
    return res


def local_step(q: Any, repeat: int, threads: int | None = None) -> float:
    from gdkit.threads import limit

    v = np.full(q.dim, 0.5)
    with limit(threads):
        return min(timings(lambda: (q.cost(v), q.gradient(v)), repeat))


def overhead_and_sweep(args: argparse.Namespace) -> dict[str, Any]:
    import distributed
    from gdkit_plugins.quadratic import Quadratic

    res: dict[str, Any] = {"sweep": []}
    with cluster(2, args.limit2) as c, distributed.Client(c, set_as_default=False) as cl:
        q = Quadratic(n_samples=1000, n_features=args.features, n_outputs=1)
        local = local_step(q, 50)
        remote = step_on(cl, q, 50)
        res["overhead"] = {"local": local, "dask": remote["best"],
                           "dask_median": remote["median"]}
        print(f"2. overhead, 1,000 rows: local {local * 1e3:.3f} ms, 2 workers best "
              f"{remote['best'] * 1e3:.1f} ms (median {remote['median'] * 1e3:.1f} ms): "
              f"{(remote['best'] - local) * 1e3:.1f} ms a step", flush=True)
        print("3. break-even: rows, local step (default threads; 1 thread), 2-worker step, "
              "local / dask")
        for rows in args.sweep:
            chunk = min(args.chunk, max(1, -(-rows // 2)))
            lazy = lazy_problem(rows, args.features, chunk, seed=1)
            x, y = lazy.inputs.compute(), lazy.targets.compute()
            t_local = local_step(Quadratic(x, y), args.steps)
            t_one = local_step(Quadratic(x, y), args.steps, threads=1)
            del x, y
            t_dask = step_on(cl, lazy, args.steps)["best"]
            res["sweep"].append({"rows": rows, "local": t_local, "local_1_thread": t_one,
                                 "dask": t_dask})
            print(f"   {rows:>10,} {t_local * 1e3:>9.2f} ms {t_one * 1e3:>9.2f} ms "
                  f"{t_dask * 1e3:>9.2f} ms {t_local / t_dask:>6.2f}x {t_one / t_dask:>6.2f}x",
                  flush=True)
    for key, what in (("local", "the local step"), ("local_1_thread", "one local thread")):
        faster = [r["rows"] for r in res["sweep"] if r["dask"] < r[key]]
        res[f"break_even_{key}"] = min(faster) if faster else None
        print(f"   against {what}: the cluster is faster from {faster[0]:,} rows on (of "
              "those measured)" if faster else
              f"   against {what}: the cluster was never faster in this sweep")
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=3_000_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--chunk", type=int, default=250_000, help="rows per shard")
    p.add_argument("--steps", type=int, default=7, help="steps timed per configuration")
    p.add_argument("--limit2", type=float, default=2 * GiB,
                   help="memory limit of each of the 2 workers, bytes")
    p.add_argument("--sweep", type=int, nargs="*",
                   default=[10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000])
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(f"{report['when']}, {report['machine']}, load {report['load']}")
    if not args.skip_scale:
        report["scale"] = scale(args)
    report |= overhead_and_sweep(args)
    out = args.out or RESULTS / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
