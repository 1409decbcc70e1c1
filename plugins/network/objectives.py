"""The registered objectives ``"network"`` (a :class:`~gdkit_plugins.network.Network`
on your data, or a small seeded problem) and ``"mnist-network"`` (the book's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gdkit.errors import ConfigError
from gdkit.protocols import Cost
from gdkit.validate import float_dtype, integer

from ..mnist import load_mnist
from .data import DEFAULT_CHUNK, _check_sizes, one_hot
from .model import Network

__all__ = ["MNIST_SIZES", "mnist_network", "network"]

MNIST_SIZES: Final = (784, 30, 10)
"""The book's MNIST network: 784 input pixels, 30 hidden neurons, 10 digits."""


def network(
    sizes: Sequence[int] = (4, 5, 3),
    inputs: npt.ArrayLike | None = None,
    targets: npt.ArrayLike | None = None,
    *,
    eval_inputs: npt.ArrayLike | None = None,
    eval_labels: npt.ArrayLike | None = None,
    dtype: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
    n_samples: int = 20,
    seed: int = 0,
    cost: str | Cost = "quadratic",
    init: str = "normal",
) -> Network:
    """The ``"network"`` objective: a :class:`Network` on your data, or a small
    seeded synthetic problem when no data is given.

    With ``inputs`` and ``targets`` this is ``Network(sizes, inputs, targets,
    ...)``. Without them, ``n_samples`` inputs are drawn uniformly from
    [0, 1]^sizes[0] with ``seed`` and labelled by a random linear "teacher"
    (the label is the argmax of T x for a fixed Gaussian T), a problem the
    network can learn; the evaluation inputs are then the training inputs.

    Parameters
    ----------
    sizes : sequence of int, default (4, 5, 3)
    inputs, targets, eval_inputs, eval_labels, dtype, chunk_size, cost, init
        As for :class:`Network`.
    n_samples : int, default 20
        Size of the synthetic problem.
    seed : int, default 0
        Seed of the synthetic problem.
    """
    if inputs is None and targets is None:
        shape = _check_sizes(sizes, "network")
        integer("network", "n_samples", n_samples, minimum=1)
        dt = np.float64 if dtype is None else float_dtype("network", "dtype", dtype)
        rng = np.random.default_rng(seed)
        x = rng.random((int(n_samples), shape[0]))
        teacher = rng.standard_normal((shape[0], shape[-1]))
        labels = np.argmax((x - 0.5) @ teacher, axis=1)
        inputs, targets = x.astype(dt), one_hot(labels, shape[-1], dt)
        if eval_inputs is None and eval_labels is None:
            eval_inputs, eval_labels = inputs, labels
    elif inputs is None or targets is None:
        raise ConfigError("network: give both inputs and targets, or neither (for the seeded "
                          "synthetic problem).")
    return Network(sizes, inputs, targets, eval_inputs=eval_inputs, eval_labels=eval_labels,
                   dtype=dtype, chunk_size=chunk_size, cost=cost, init=init)


def mnist_network(
    sizes: Sequence[int] = MNIST_SIZES,
    data: str | None = None,
    download: bool = False,
    dtype: str = "float64",
    n_train: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    cost: str | Cost = "quadratic",
    init: str = "normal",
    validate: bool = True,
) -> Network:
    """The book's MNIST network: trained on 50,000 images, scored on the 10,000 test images.

    Parameters
    ----------
    sizes : sequence of int, default (784, 30, 10)
        Neurons per layer; the first must be 784 (28 × 28 pixels) and the
        last 10 (one per digit).
    data : str or path, optional
        A directory holding the four MNIST IDX files (gzipped or not). The
        only place looked when given; otherwise ``$GDKIT_DATA``, then the
        user cache directory (:func:`gdkit_plugins.mnist.load_mnist`).
    download : bool, default False
        When no ``data`` is given and the files are not found, download them
        into the user cache (verified by checksum).
    dtype : {"float64", "float32"}, default "float64"
        The dtype of the data and of v (float32: half the memory, faster).
    n_train : int, optional
        Train on the first ``n_train`` training images only (quick runs).
    chunk_size : int, default 5000
        Rows per chunk of the full-data cost and of the evaluation.
    cost : str or Cost, default "quadratic"
        The output layer and its cost (:class:`Network`).
    init : {"normal", "scaled"}, default "normal"
        The start (:data:`INITS`).
    validate : bool, default True
        Score the 10,000 validation images (the last of the training file,
        never trained on) after each epoch too, as ``val_accuracy``.

    Returns
    -------
    Network

    Raises
    ------
    gdkit.errors.DataError
        The files are missing (and not downloaded), truncated or corrupt.
    gdkit.errors.ConfigError
        A bad option.
    """
    shape = _check_sizes(sizes, "mnist-network")
    if shape[0] != MNIST_SIZES[0] or shape[-1] != MNIST_SIZES[-1]:
        raise ConfigError(f"mnist-network: sizes must start with 784 (28 x 28 pixels) and end "
                          f"with 10 (one output neuron per digit), got {list(shape)}.")
    dt = float_dtype("mnist-network", "dtype", dtype)
    if n_train is not None:
        integer("mnist-network", "n_train", n_train, minimum=1)
    mnist = load_mnist(data, download=bool(download), dtype=dt, max_train=n_train)
    n_avail = mnist.train_images.shape[0]
    if n_train is not None and n_train > n_avail:
        raise ConfigError(f"mnist-network: n_train = {n_train} but only {n_avail:,} training "
                          "images are available.")
    count = n_avail if n_train is None else int(n_train)
    return Network(
        shape,
        mnist.train_images[:count],  # a view: the data set is never copied
        one_hot(mnist.train_labels[:count], shape[-1], dt),
        eval_inputs=mnist.test_images,
        eval_labels=mnist.test_labels,
        dtype=dt,
        chunk_size=chunk_size,
        cost=cost,
        init=init,
        val_inputs=mnist.validation_images if validate else None,
        val_labels=mnist.validation_labels if validate else None,
    )
