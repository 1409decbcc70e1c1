"""Training data that lives elsewhere: chunked arrays an objective keeps
without loading them.

An objective given a ``dask.array`` as its inputs or targets keeps it as it
is, checks only its shape, and leaves computing to a gradient source that
runs where the data lives (``dask``, through
:class:`~gdkit.protocols.Shardable`). This module never imports Dask: a
lazy array is recognised by the Dask collection protocol (``__dask_graph__``).
"""

from __future__ import annotations

import math
from typing import Any

from gdkit.errors import ConfigError, ShapeError

__all__ = ["is_lazy", "lazy_shape", "not_here"]


def is_lazy(array: Any) -> bool:
    """Whether ``array`` is a chunked array computed elsewhere (a Dask collection)."""
    return hasattr(type(array), "__dask_graph__")


def lazy_shape(who: str, name: str, array: Any) -> tuple[int, ...]:
    """The shape of a lazy array, refused when its number of rows is unknown."""
    shape = tuple(getattr(array, "shape", ()))
    if any(isinstance(s, float) and math.isnan(s) for s in shape):  # dask's unknown size
        raise ShapeError(f"{who}: {name} has rows of unknown number (shape {shape}); call "
                         f"{name}.compute_chunk_sizes() before building the objective.")
    return tuple(int(s) for s in shape)


def not_here(who: str) -> ConfigError:
    """The error of a local computation on data that lives on a cluster."""
    return ConfigError(
        f"{who}: the training data is a dask array, which gdkit computes where it lives, "
        "not here: use the 'dask' gradient source (gradient=gdkit.gradient_source('dask', "
        "client=client)), which evaluates C and ∇C on the cluster.")
