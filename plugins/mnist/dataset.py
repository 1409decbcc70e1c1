"""The MNIST data set with the book's split: :func:`load_mnist` and :class:`MnistData`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gdkit.errors import DataError
from gdkit.validate import float_dtype, integer, memory

from . import download as _download
from .advice import about_data
from .download import Progress
from .idx import (
    _FIX_CORRUPT,
    _IMAGE_FORMAT,
    _LABEL_FORMAT,
    IMAGE_MAGIC,
    LABEL_MAGIC,
    CountMismatch,
    read_idx,
)
from .lookup import (
    MNIST_FILE_NAMES,
    MNIST_TEST_FILE_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    _locate,
    _not_found_message,
    cache_dir,
    find_mnist_dir,
)

__all__ = ["MnistData", "load_mnist", "load_mnist_test"]

ROWS: Final = 28
COLS: Final = 28
PIXELS: Final = ROWS * COLS
N_CLASSES: Final = 10


@dataclass(frozen=True, eq=False, repr=False)
class MnistData:
    """MNIST split as in the book: train, validation, test.

    Images are rows of 784 pixels (28 x 28, row-major) scaled to [0, 1] in
    the requested float dtype; labels are ``int64`` digits 0-9 (``int64``
    rather than ``uint8`` so they index and compare without overflow
    surprises; they take 0.5 MB in all).

    ``train_images`` and ``validation_images`` are views into one array of
    all training images (so the split costs no copy); the arrays are
    writable, and the dataclass is frozen only in that its fields cannot be
    reassigned.

    Attributes
    ----------
    train_images : numpy.ndarray
        ``(n_train, 784)``: the first ``60000 - n_validation`` (50,000)
        training images.
    train_labels : numpy.ndarray
        ``(n_train,)`` int64.
    validation_images : numpy.ndarray
        ``(n_validation, 784)``: the last ``n_validation`` (10,000) training
        images.
    validation_labels : numpy.ndarray
        ``(n_validation,)`` int64.
    test_images : numpy.ndarray
        ``(10000, 784)``: the test set.
    test_labels : numpy.ndarray
        ``(10000,)`` int64.
    """

    train_images: npt.NDArray[np.floating[Any]]
    train_labels: npt.NDArray[np.int64]
    validation_images: npt.NDArray[np.floating[Any]]
    validation_labels: npt.NDArray[np.int64]
    test_images: npt.NDArray[np.floating[Any]]
    test_labels: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return (
            f"MnistData(train={self.train_images.shape[0]}, "
            f"validation={self.validation_images.shape[0]}, "
            f"test={self.test_images.shape[0]}, "
            f"dtype={self.train_images.dtype})"
        )


def _load_labels(path: Path) -> npt.NDArray[np.int64]:
    raw = read_idx(path, expected_magic=LABEL_MAGIC)
    if raw.size and int(raw.max()) >= N_CLASSES:
        bad = int(np.argmax(raw >= N_CLASSES))
        raise DataError(
            f"Cannot read {path}: label {int(raw[bad])} at index {bad} is not "
            f"a digit 0-9. Expected an {_LABEL_FORMAT}. {_FIX_CORRUPT}"
        )
    return raw.astype(np.int64)


def _image_count(path: Path) -> int:
    """How many images the header of ``path`` declares (nothing else is read)."""

    def stop(n: int) -> Sequence[range]:
        raise CountMismatch(n)

    try:
        read_idx(path, expected_magic=IMAGE_MAGIC, rows=stop)
    except CountMismatch as exc:
        return exc.found
    raise AssertionError("unreachable: read_idx asks for the rows to keep")  # pragma: no cover


def _mismatch(path: Path, n: int, labels_path: Path, n_labels: int) -> DataError:
    return DataError(
        f"{path} holds {n} images but {labels_path} holds {n_labels} "
        "labels; an image file and its label file must hold the same "
        f"count. Expected an {_IMAGE_FORMAT}, and an {_LABEL_FORMAT}. "
        "One of them is truncated or from another data set: "
        f"{_FIX_CORRUPT}"
    )


_BLOCK = 2048
"""Images converted at a time (1.6 MB of uint8 into 12.8 MB of float64)."""


def _load_images(
    path: Path, n_labels: int, labels_path: Path, dtype: np.dtype[np.floating[Any]],
    keep: Sequence[range] | None = None,
) -> npt.NDArray[np.floating[Any]]:
    """The images of ``path`` scaled to [0, 1] in ``dtype``: only the rows of
    ``keep`` (default all), each converted once into a preallocated array. The
    count is checked against the labels' from the header, before the data is
    read, and the memory before it is allocated."""

    def rows(n: int) -> Sequence[range]:
        if n != n_labels:
            raise CountMismatch(n)
        kept = [range(n)] if keep is None else keep
        count = sum(len(r) for r in kept)
        # from the header, before the bytes are read: the bytes kept, then their floats
        memory("load_mnist", f"{count:,} images as {dtype}",
               count * PIXELS * (1 + dtype.itemsize))
        return kept

    try:
        raw = read_idx(path, expected_magic=IMAGE_MAGIC, rows=rows)
    except CountMismatch as exc:
        raise _mismatch(path, exc.found, labels_path, n_labels) from None
    if raw.shape[1:] != (ROWS, COLS):
        raise DataError(
            f"Cannot read {path}: images of {raw.shape[1]} x {raw.shape[2]} "
            f"pixels, not 28 x 28. Expected an {_IMAGE_FORMAT}. {_FIX_CORRUPT}"
        )
    if n_labels == 0:
        raise DataError(f"{path} holds no images. Expected an {_IMAGE_FORMAT}. {_FIX_CORRUPT}")
    n = raw.shape[0]
    memory("load_mnist", f"{n:,} images as {dtype}", n * PIXELS * dtype.itemsize)
    out = np.empty((n, PIXELS), dtype=dtype)
    # Cast and scale a block at a time, while it is in cache: no full-size
    # temporary, and 5x faster than one np.divide(raw, 255, dtype=...) over the
    # whole array (whose buffered casting dominated gdkit train's start-up).
    # The same operation per pixel, so the same bits.
    flat = raw.reshape(n, PIXELS)
    for i in range(0, n, _BLOCK):
        block = out[i:i + _BLOCK]
        block[...] = flat[i:i + _BLOCK]
        block /= 255
    return out


@about_data
def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    dtype: npt.DTypeLike = np.float64,
    n_validation: int = 10_000,
    progress: Progress = None,
    max_train: int | None = None,
) -> MnistData:
    """Load MNIST with the book's split (50,000 / 10,000 / 10,000).

    Parameters
    ----------
    data_dir : str or os.PathLike or None, optional
        A directory holding the four MNIST files (each with or without
        ``.gz``). If given it is the only place looked, it is never
        downloaded into and its files are never checksum-checked. If None,
        the files are looked for as :func:`find_mnist_dir` describes.
    download : bool, optional
        If True and ``data_dir`` is None and no directory holding the four
        files was found, download them (from :data:`MIRRORS`, verified
        against :data:`FILES`) into :func:`cache_dir` first. Files already
        there are not found again if the set is complete; missing ones are
        fetched.
    dtype : numpy dtype, optional
        Float dtype of the images: float64 (default, about 440 MB in all) or
        float32 (about 220 MB).
    n_validation : int, optional
        How many images to take off the end of the training set for
        validation (default 10,000; 0 gives empty validation arrays).
    progress : bool or callable or None, optional
        Download progress display; see :data:`Progress`.
    max_train : int or None, optional
        Keep only the first ``max_train`` images of the training split (quick
        runs): the others are read, to check the file, but never stored or
        converted, so memory follows what is used.

    Returns
    -------
    MnistData
        Pixels scaled to [0, 1] in ``dtype``; labels int64.

    Raises
    ------
    gdkit.errors.DataError
        If a file is missing (the message lists the places looked), corrupt
        or truncated, if an image file and its label file disagree on the
        count, if the images are not 28 x 28, if a label is not 0-9, if the
        training set does not hold more than ``n_validation`` images, or if
        the download fails.
    gdkit.errors.ConfigError
        If ``dtype`` is not a floating dtype or ``n_validation`` is not an
        integer >= 0 (a :class:`TypeError` too).

    Notes
    -----
    The counts are validated against the files, not against MNIST's 60,000
    and 10,000: each image file must hold as many images as its label file
    holds labels, the test set at least one, and the training set more than
    ``n_validation``. So small fixture files in the same format load too.

    Peak memory is about the final arrays plus one raw ``uint8`` image file
    (47 MB): each file is converted with one ufunc pass into a preallocated
    array.
    """
    fdtype = float_dtype("load_mnist", "dtype", dtype, options=None)
    n_validation = integer("load_mnist", "n_validation", n_validation, minimum=0)
    if max_train is not None:
        max_train = integer("load_mnist", "max_train", max_train, minimum=1)

    paths = _files(data_dir, download, progress, MNIST_FILE_NAMES)
    train_images, train_labels, used, cut = _training(paths, fdtype, n_validation, max_train)
    test_labels = _load_labels(paths[TEST_LABELS])
    test_images = _load_images(paths[TEST_IMAGES], len(test_labels), paths[TEST_LABELS], fdtype)
    return MnistData(train_images=train_images[:used], train_labels=train_labels[:used],
                     validation_images=train_images[used:], validation_labels=train_labels[cut:],
                     test_images=test_images, test_labels=test_labels)


def _training(paths: dict[str, Path], fdtype: np.dtype[Any], n_validation: int,
              max_train: int | None) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], int, int]:
    """The training file's images (those kept) and labels, checked against
    each other and ``n_validation``, with ``used`` (training images kept)
    and ``cut`` (where the validation images start in the labels)."""
    train_labels = _load_labels(paths[TRAIN_LABELS])
    n_train_total = len(train_labels)
    if (n := _image_count(paths[TRAIN_IMAGES])) != n_train_total:
        raise _mismatch(paths[TRAIN_IMAGES], n, paths[TRAIN_LABELS], n_train_total)
    if n_train_total <= n_validation:
        raise DataError(
            f"{paths[TRAIN_IMAGES]} holds {n_train_total} training images, "
            f"not more than the n_validation={n_validation} to take off its "
            "end (MNIST holds 60,000): the file is truncated or n_validation "
            f"is too large. Pass a smaller n_validation. {_FIX_CORRUPT}"
        )
    cut = n_train_total - n_validation
    used = cut if max_train is None else min(cut, max_train)
    train_images = _load_images(paths[TRAIN_IMAGES], n_train_total, paths[TRAIN_LABELS], fdtype,
                                keep=[range(used), range(cut, n_train_total)])
    return train_images, train_labels, used, cut


def _files(data_dir: str | os.PathLike[str] | None, download: bool, progress: Progress,
           names: Sequence[str]) -> dict[str, Path]:
    """The paths of the files ``names``: found as :func:`find_mnist_dir` says,
    or downloaded into the cache when ``download`` and no ``data_dir``."""
    found = find_mnist_dir(data_dir, names=names)
    if found is None:
        if not download or data_dir is not None:
            raise DataError(_not_found_message(data_dir, download, names))
        wanted = {k: v for k, v in _download.FILES.items() if k.removesuffix(".gz") in names}
        found = _download.download_mnist(cache_dir(), mirrors=_download.MIRRORS,
                                         files=wanted, progress=progress)
        if _locate(found, names)[1]:
            raise DataError(_not_found_message(None, download, names))
    return _locate(found, names)[0]


@about_data
def load_mnist_test(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    dtype: npt.DTypeLike = np.float64,
    progress: Progress = None,
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.int64]]:
    """Load the MNIST test set alone: only the two ``t10k`` files are read.

    Parameters
    ----------
    data_dir : str or os.PathLike or None, optional
        A directory holding ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte`` (each with or without ``.gz``); the only
        place looked when given. If None, they are looked for as
        :func:`find_mnist_dir` describes (with ``names`` the two test files).
    download : bool, optional
        If True and ``data_dir`` is None and the two files are not found,
        download them (verified) into :func:`cache_dir` first.
    dtype : numpy dtype, optional
        Float dtype of the images (default float64).
    progress : bool or callable or None, optional
        Download progress display; see :data:`Progress`.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 784)`` (n = 10,000 for MNIST), pixels scaled to [0, 1] in
        ``dtype``, exactly as :func:`load_mnist` gives ``test_images``.
    labels : numpy.ndarray
        ``(n,)`` int64 digits 0-9.

    Raises
    ------
    gdkit.errors.DataError
        As for :func:`load_mnist`, about the two test files.
    gdkit.errors.ConfigError
        If ``dtype`` is not a floating dtype.
    """
    fdtype = float_dtype("load_mnist_test", "dtype", dtype, options=None)
    paths = _files(data_dir, download, progress, MNIST_TEST_FILE_NAMES)
    labels = _load_labels(paths[TEST_LABELS])
    images = _load_images(paths[TEST_IMAGES], len(labels), paths[TEST_LABELS], fdtype)
    return images, labels
