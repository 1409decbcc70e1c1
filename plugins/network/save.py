"""Saving a trained network's parameters to a model file (no pickle)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

import gdkit
from gdkit.checkpoint import save_model
from gdkit.errors import CheckpointError

__all__ = ["LAYOUT", "SAVE_KIND", "save_network"]

LAYOUT: Final = ("for each layer l = 1..L: weights (sizes[l], sizes[l-1]) row-major, "
                 "then biases (sizes[l],)")
"""Where each weight and bias sits in the flat parameter vector v."""

SAVE_KIND: Final = "gdkit-network"
"""The ``kind`` of a model file written by :func:`save_network`."""


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
