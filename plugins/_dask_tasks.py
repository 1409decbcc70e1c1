"""What the ``dask`` gradient source runs on the workers: build a shard's
objective, its partial sums at v, and their reduction.

Plain functions of numpy arrays, importable without Dask, pickled by
reference (the workers run the same gdkit). A shard's objective is built
once per run from its rows and kept on its worker; each step then costs one
:func:`partial_sums` task per shard and a few :func:`add_sums` tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gdkit.protocols import Batch, FloatArray, Objective

__all__ = ["Sums", "add_sums", "build_shard", "partial_sums", "shard_rows"]

Sums = tuple[float, "FloatArray | None", int]
"""A shard's partial sums: Σ per-input cost, Σ per-input gradient (None when
only the cost was asked for), and the number of inputs they cover."""


def build_shard(builder: Callable[..., Objective], *rows: Any) -> Objective:
    """The objective on one shard's rows (numpy arrays), with the settings
    ``builder`` carries (:meth:`~gdkit.protocols.Shardable.shard_builder`)."""
    return builder(*(np.asarray(r) for r in rows))


def shard_rows(shard: Any) -> int:
    """The number of training inputs a shard's objective holds."""
    return int(shard.n_samples)


def partial_sums(shard: Any, v: FloatArray, local: Batch | None, grad: bool) -> Sums:
    """Σ over the shard's inputs (those at ``local``, or all) of the per-input
    cost and, when ``grad``, gradient: the shard's mean times its count, so
    that C and ∇C over all n inputs are the sums divided by n (eq. 6)."""
    count = shard_rows(shard) if local is None else len(local)
    cost = float(shard.cost(v, local)) * count
    if not grad:
        return cost, None, count
    g = np.array(shard.gradient(v, local), dtype=v.dtype, copy=True)
    g *= count
    return cost, g, count


def add_sums(*parts: Sums) -> Sums:
    """The sum of shards' partial sums, in the order given (so the result is
    the same bits for the same chunking, run after run)."""
    cost, g, count = parts[0]
    total = None if g is None else g.copy()
    for c, gi, k in parts[1:]:
        cost += c
        count += k
        if total is not None and gi is not None:
            total += gi
    return cost, total, count
