"""MNIST for gdkit: an IDX reader, the book's split, local lookup, downloads.

The MNIST database of handwritten digits (LeCun, Cortes and Burges) comes as
four IDX files::

    train-images-idx3-ubyte   60,000 images of 28 x 28 unsigned bytes
    train-labels-idx1-ubyte   their 60,000 labels, 0-9
    t10k-images-idx3-ubyte    10,000 test images
    t10k-labels-idx1-ubyte    their 10,000 labels

each optionally gzipped (``.gz``). :func:`load_mnist` reads them into a
:class:`MnistData` with the split used in the book "Neural Networks and Deep
Learning": the first 50,000 training images to train, the last 10,000 to
validate, and the 10,000 test images to report accuracy.

Where the files are looked for (see :func:`find_mnist_dir`):

1. an explicit ``data_dir``, and then nowhere else;
2. otherwise ``$GDKIT_DATA``, then ``$GDKIT_DATA/mnist``;
3. otherwise the user cache directory :func:`cache_dir`, which is also where
   ``load_mnist(download=True)`` puts a download.

Local copies are never checksum-checked (copies legitimately differ, e.g. a
training-image file rebuilt from PNGs); only downloads are verified, against
:data:`FILES`. Everything wrong with the data surfaces as
:class:`gdkit.errors.DataError` whose message names the file, the problem,
the expected format and what to do. No pickle is used anywhere.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import io
import os
import secrets
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from gdkit.errors import DataError

__all__ = [
    "FILES",
    "IMAGE_MAGIC",
    "LABEL_MAGIC",
    "MIRRORS",
    "MNIST_FILE_NAMES",
    "TEST_IMAGES",
    "TEST_LABELS",
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
    "MnistData",
    "Progress",
    "cache_dir",
    "download_mnist",
    "find_mnist_dir",
    "load_mnist",
    "read_idx",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

LABEL_MAGIC: Final = 2049
"""Magic number of an IDX label file: unsigned bytes (0x08), 1 dimension."""

IMAGE_MAGIC: Final = 2051
"""Magic number of an IDX image file: unsigned bytes (0x08), 3 dimensions."""

TRAIN_IMAGES: Final = "train-images-idx3-ubyte"
TRAIN_LABELS: Final = "train-labels-idx1-ubyte"
TEST_IMAGES: Final = "t10k-images-idx3-ubyte"
TEST_LABELS: Final = "t10k-labels-idx1-ubyte"

MNIST_FILE_NAMES: Final[tuple[str, str, str, str]] = (
    TRAIN_IMAGES,
    TRAIN_LABELS,
    TEST_IMAGES,
    TEST_LABELS,
)
"""The four standard file names, without ``.gz``."""

FILES: Final[Mapping[str, str]] = MappingProxyType(
    {
        TRAIN_IMAGES + ".gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS + ".gz": "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES + ".gz": "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS + ".gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
)
"""File name -> md5 hex digest of the original gzipped MNIST files."""

MIRRORS: Final[tuple[str, ...]] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Base URLs tried in order for each file of :data:`FILES`."""

ROWS: Final = 28
COLS: Final = 28
PIXELS: Final = ROWS * COLS
N_CLASSES: Final = 10

Progress: TypeAlias = bool | Callable[[int, int | None], None] | None
"""How to report download progress.

``None``: a progress bar on stderr if stderr is a terminal (tqdm if it is
installed, else one line redrawn with carriage returns), silent otherwise.
``True``: that display even if stderr is not a terminal. ``False``: silent.
A callable: called as ``progress(done_bytes, total_bytes_or_None)`` for each
file, first with ``done_bytes == 0``, then after each chunk received.
"""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_UBYTE: Final = 0x08
_MAX_PAYLOAD: Final = 2**31
"""Largest IDX payload accepted, in bytes (MNIST's largest is 47 MB)."""
_DEFLATE_MAX_RATIO: Final = 1032
"""Deflate cannot expand more than about 1032:1, which bounds the payload a
gzip file of a given size can hold."""
_CHUNK: Final = 1 << 20
_DOWNLOAD_CHUNK: Final = 1 << 16
_MAX_DOWNLOAD: Final = 2**31

_LABEL_FORMAT: Final = (
    "IDX label file: magic 2049, then 1 big-endian uint32 dim n, then n bytes, each a digit 0-9"
)
_IMAGE_FORMAT: Final = (
    "IDX image file: magic 2051, then 3 big-endian uint32 dims n, 28, 28, then n*784 bytes"
)
_GENERIC_FORMAT: Final = (
    "IDX file of unsigned bytes: bytes 0x00 0x00 0x08 D (magic 2049 for "
    "labels, 2051 for images), then D big-endian uint32 dims, then exactly "
    "their product in bytes; optionally gzipped"
)
_FIX_CORRUPT: Final = (
    "Delete the file and fetch it again (load_mnist(download=True) or "
    "`gdkit train --download` download missing files into the cache), or "
    "pass another directory holding an intact copy (`--data DIR`)."
)
_FIX_MISSING: Final = (
    "Pass a directory holding the four MNIST files "
    "(load_mnist(data_dir=DIR) or `gdkit train --data DIR`), set "
    "GDKIT_DATA to such a directory, or download them with "
    "load_mnist(download=True) or `gdkit train --download`."
)


def _format_of(magic: int | None) -> str:
    if magic == IMAGE_MAGIC:
        return _IMAGE_FORMAT
    if magic == LABEL_MAGIC:
        return _LABEL_FORMAT
    return _GENERIC_FORMAT


# --------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------


class _Problem(Exception):
    """Internal: what is wrong with a file, turned into DataError by read_idx."""


class _IdxReader:
    """Reads one IDX file; remembers the magic seen so errors can describe
    the format the file claims to be."""

    def __init__(self, path: Path, expected_magic: int | None) -> None:
        self.path = path
        self.expected_magic = expected_magic
        self.magic: int | None = None
        self.compressed = False

    def read(self) -> npt.NDArray[np.uint8]:
        with open(self.path, "rb") as raw:
            st = os.fstat(raw.fileno())
            regular = stat.S_ISREG(st.st_mode)
            self.compressed = _read_exact(raw, 2) == _GZIP_MAGIC
            raw.seek(0)
            if not self.compressed:
                return self._parse(raw, st.st_size if regular else None)
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                return self._parse(gz, st.st_size if regular else None)

    def _parse(self, stream: io.BufferedIOBase, file_size: int | None) -> npt.NDArray[np.uint8]:
        head = _read_exact(stream, 4)
        if len(head) < 4:
            raise _Problem(
                f"the file holds only {len(head)} bytes, too short for the 4-byte magic number"
            )
        magic = int.from_bytes(head, "big")
        if head[0] != 0 or head[1] != 0:
            raise _Problem(
                f"bad magic number 0x{magic:08x}: an IDX file starts with two "
                "zero bytes (this is not an IDX file)"
            )
        if head[2] != _UBYTE:
            raise _Problem(
                f"magic number 0x{magic:08x} declares element type "
                f"0x{head[2]:02x}; only unsigned bytes (0x08) are supported"
            )
        ndim = head[3]
        if ndim == 0:
            raise _Problem(f"magic number 0x{magic:08x} declares 0 dimensions")
        self.magic = magic
        if self.expected_magic is not None and magic != self.expected_magic:
            raise _Problem(
                f"magic number {magic} ({_kind(magic)}) where "
                f"{self.expected_magic} ({_kind(self.expected_magic)}) "
                "was expected"
            )
        header_len = 4 + 4 * ndim
        dim_bytes = _read_exact(stream, 4 * ndim)
        if len(dim_bytes) < 4 * ndim:
            raise _Problem(
                f"the file ends inside the header: {ndim} dimensions need {header_len} header bytes"
            )
        dims = tuple(int.from_bytes(dim_bytes[4 * i : 4 * i + 4], "big") for i in range(ndim))
        n_bytes = 1
        for d in dims:
            n_bytes *= d
        shape_text = " x ".join(str(d) for d in dims)
        if n_bytes > _MAX_PAYLOAD:
            raise _Problem(
                f"the header declares dims {shape_text} = {n_bytes} data "
                f"bytes, more than the {_MAX_PAYLOAD} bytes accepted (corrupt header)"
            )
        if file_size is not None:
            if not self.compressed:
                have = file_size - header_len
                if have < n_bytes:
                    raise _Problem(
                        f"truncated: the header declares dims {shape_text} = "
                        f"{n_bytes} data bytes but the file holds only {have}"
                    )
                if have > n_bytes:
                    raise _Problem(
                        f"{have - n_bytes} trailing bytes after the {n_bytes} "
                        f"data bytes declared by the header (dims {shape_text})"
                    )
            elif header_len + n_bytes > file_size * _DEFLATE_MAX_RATIO + 4096:
                raise _Problem(
                    f"the header declares dims {shape_text} = {n_bytes} data "
                    f"bytes, more than a {file_size}-byte gzip file can hold "
                    "(corrupt header)"
                )
        out = np.empty(n_bytes, dtype=np.uint8)
        view = out.data
        pos = 0
        while pos < n_bytes:
            got = stream.readinto(view[pos : pos + _CHUNK])
            if not got:
                where = "decompressed data" if self.compressed else "file"
                raise _Problem(
                    f"truncated: the header declares dims {shape_text} = "
                    f"{n_bytes} data bytes but the {where} ends after {pos}"
                )
            pos += got
        if stream.read(1):
            raise _Problem(
                f"trailing bytes after the {n_bytes} data bytes declared by "
                f"the header (dims {shape_text})"
            )
        return out.reshape(dims)


def _kind(magic: int) -> str:
    if magic == IMAGE_MAGIC:
        return "an IDX image file"
    if magic == LABEL_MAGIC:
        return "an IDX label file"
    return f"an IDX file with {magic & 0xFF} dimensions"


def _read_exact(stream: io.BufferedIOBase, n: int) -> bytes:
    """Read up to ``n`` bytes, fewer only at end of file."""
    parts: list[bytes] = []
    left = n
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_idx(
    path: str | os.PathLike[str], *, expected_magic: int | None = None
) -> npt.NDArray[np.uint8]:
    """Read an IDX file of unsigned bytes, gzipped or not.

    Compression is detected from the gzip magic bytes (``1f 8b``), not from
    the file name. The file is validated before it is trusted: the magic
    number, the dimensions, and that the data holds exactly the product of
    the dimensions in bytes. Memory stays bounded on hostile input: a header
    declaring more than 2**31 bytes, or more than the file (for gzip, the
    compressed file at the maximum deflate ratio) can hold, is rejected
    before anything is allocated, and the data is read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    expected_magic : int or None, optional
        If given, the magic number the file must have, e.g. 2051
        (:data:`IMAGE_MAGIC`, 3-D images) or 2049 (:data:`LABEL_MAGIC`,
        1-D labels). If None, any unsigned-byte IDX file is accepted.

    Returns
    -------
    numpy.ndarray
        A new, writable ``uint8`` array with the dimensions of the header.

    Raises
    ------
    gdkit.errors.DataError
        For anything wrong: a missing or unreadable file, a bad or truncated
        gzip stream, a wrong magic number, bad dimensions, too few or too many
        data bytes. The message names the file, the problem, the expected
        format and what to do. No other exception escapes for bad data.
    """
    p = Path(path)
    reader = _IdxReader(p, expected_magic)
    try:
        return reader.read()
    except _Problem as exc:
        problem = str(exc)
        fix = _FIX_CORRUPT
    except FileNotFoundError as exc:
        problem = f"no such file ({exc.strerror})"
        fix = _FIX_MISSING
    except gzip.BadGzipFile as exc:
        problem = f"not a valid gzip file ({exc})"
        fix = _FIX_CORRUPT
    except EOFError as exc:
        problem = f"the gzip stream is truncated ({exc})"
        fix = _FIX_CORRUPT
    except zlib.error as exc:
        problem = f"the gzip stream is corrupt ({exc})"
        fix = _FIX_CORRUPT
    except OSError as exc:
        problem = f"cannot read the file ({exc.strerror or exc})"
        fix = (
            "Check that it is a readable file, or pass another directory "
            "holding the MNIST files (`--data DIR`)."
        )
    except MemoryError:
        problem = "not enough memory to hold its data"
        fix = "Free some memory, or use a smaller data set."
    except (ValueError, OverflowError) as exc:  # defensive: never expected
        problem = f"unreadable ({type(exc).__name__}: {exc})"
        fix = _FIX_CORRUPT
    fmt_magic = expected_magic if expected_magic is not None else reader.magic
    gz = " (gzip-compressed)" if reader.compressed else ""
    raise DataError(
        f"Cannot read {p}{gz}: {problem}. Expected an {_format_of(fmt_magic)}. {fix}"
    ) from None


# --------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------


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


def _float_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating[Any]]:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(
            f"load_mnist: dtype must be a floating dtype such as numpy.float32 "
            f"or numpy.float64, not {dt}"
        )
    return dt  # type: ignore[return-value]


def _load_labels(path: Path) -> npt.NDArray[np.int64]:
    raw = read_idx(path, expected_magic=LABEL_MAGIC)
    if raw.size and int(raw.max()) >= N_CLASSES:
        bad = int(np.argmax(raw >= N_CLASSES))
        raise DataError(
            f"Cannot read {path}: label {int(raw[bad])} at index {bad} is not "
            f"a digit 0-9. Expected an {_LABEL_FORMAT}. {_FIX_CORRUPT}"
        )
    return raw.astype(np.int64)


def _load_images(
    path: Path, n_labels: int, labels_path: Path, dtype: np.dtype[np.floating[Any]]
) -> npt.NDArray[np.floating[Any]]:
    raw = read_idx(path, expected_magic=IMAGE_MAGIC)
    n = raw.shape[0]
    if raw.shape[1:] != (ROWS, COLS):
        raise DataError(
            f"Cannot read {path}: images of {raw.shape[1]} x {raw.shape[2]} "
            f"pixels, not 28 x 28. Expected an {_IMAGE_FORMAT}. {_FIX_CORRUPT}"
        )
    if n != n_labels:
        raise DataError(
            f"{path} holds {n} images but {labels_path} holds {n_labels} "
            "labels; an image file and its label file must hold the same "
            f"count. Expected an {_IMAGE_FORMAT}, and an {_LABEL_FORMAT}. "
            "One of them is truncated or from another data set: "
            f"{_FIX_CORRUPT}"
        )
    if n == 0:
        raise DataError(f"{path} holds no images. Expected an {_IMAGE_FORMAT}. {_FIX_CORRUPT}")
    out = np.empty((n, PIXELS), dtype=dtype)
    # One pass, no full-size temporary: the ufunc casts in small buffers.
    np.divide(raw.reshape(n, PIXELS), 255, out=out, dtype=dtype)
    return out


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    dtype: npt.DTypeLike = np.float64,
    n_validation: int = 10_000,
    progress: Progress = None,
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
    TypeError
        If ``dtype`` is not a floating dtype.
    ValueError
        If ``n_validation`` is negative.

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
    fdtype = _float_dtype(dtype)
    if isinstance(n_validation, bool) or not isinstance(n_validation, (int, np.integer)):
        raise TypeError(f"load_mnist: n_validation must be an int, not {n_validation!r}")
    if n_validation < 0:
        raise ValueError(f"load_mnist: n_validation must be >= 0, not {n_validation}")
    n_validation = int(n_validation)

    found = find_mnist_dir(data_dir)
    if found is None:
        if not download or data_dir is not None:
            raise DataError(_not_found_message(data_dir, download))
        found = download_mnist(cache_dir(), mirrors=MIRRORS, files=FILES, progress=progress)
        if _locate(found)[1]:
            raise DataError(_not_found_message(None, download))
    paths, _ = _locate(found)

    train_labels = _load_labels(paths[TRAIN_LABELS])
    train_images = _load_images(paths[TRAIN_IMAGES], len(train_labels), paths[TRAIN_LABELS], fdtype)
    n_train_total = train_images.shape[0]
    if n_train_total <= n_validation:
        raise DataError(
            f"{paths[TRAIN_IMAGES]} holds {n_train_total} training images, "
            f"not more than the n_validation={n_validation} to take off its "
            "end (MNIST holds 60,000): the file is truncated or n_validation "
            f"is too large. Pass a smaller n_validation. {_FIX_CORRUPT}"
        )
    test_labels = _load_labels(paths[TEST_LABELS])
    test_images = _load_images(paths[TEST_IMAGES], len(test_labels), paths[TEST_LABELS], fdtype)
    cut = n_train_total - n_validation
    return MnistData(
        train_images=train_images[:cut],
        train_labels=train_labels[:cut],
        validation_images=train_images[cut:],
        validation_labels=train_labels[cut:],
        test_images=test_images,
        test_labels=test_labels,
    )


# --------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------


def cache_dir() -> Path:
    """The user cache directory for MNIST (it may not exist yet).

    ``$XDG_CACHE_HOME/gdkit/mnist`` if ``XDG_CACHE_HOME`` is set to an
    absolute path, else ``~/.cache/gdkit/mnist``; on Windows
    ``%LOCALAPPDATA%\\gdkit\\Cache\\mnist``.

    Returns
    -------
    pathlib.Path
        The directory.
    """
    if os.name == "nt":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path(os.path.expanduser("~")) / "AppData" / "Local"
        return base / "gdkit" / "Cache" / "mnist"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "gdkit" / "mnist"
    return Path(os.path.expanduser("~")) / ".cache" / "gdkit" / "mnist"


def _candidates(data_dir: str | os.PathLike[str] | None) -> list[tuple[Path, str]]:
    """The directories looked in, in order, each with why it is looked in."""
    if data_dir is not None:
        return [(Path(data_dir).expanduser(), "the directory given")]
    places: list[tuple[Path, str]] = []
    env = os.environ.get("GDKIT_DATA")
    if env:
        base = Path(env).expanduser()
        places.append((base, "$GDKIT_DATA"))
        places.append((base / "mnist", "$GDKIT_DATA/mnist"))
    places.append((cache_dir(), "the user cache directory"))
    return places


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _locate(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The four files in ``directory`` (``.gz`` preferred), and those missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in MNIST_FILE_NAMES:
        for candidate in (directory / (name + ".gz"), directory / name):
            if _is_file(candidate):
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def find_mnist_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Find a directory holding the four MNIST files.

    Each file may be gzipped or not: ``train-images-idx3-ubyte`` or
    ``train-images-idx3-ubyte.gz`` (if both exist, the ``.gz`` one is used),
    and likewise ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``. Only presence is checked, not contents.

    The order looked in:

    1. ``data_dir`` if given, and then nowhere else;
    2. ``$GDKIT_DATA`` if set (the directory holding the four files), then
       ``$GDKIT_DATA/mnist``;
    3. :func:`cache_dir`.

    A directory holding only some of the files is passed over.

    Parameters
    ----------
    data_dir : str or os.PathLike or None, optional
        An explicit directory.

    Returns
    -------
    pathlib.Path or None
        The first directory holding all four files, or None.
    """
    for directory, _why in _candidates(data_dir):
        if not _locate(directory)[1]:
            return directory
    return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _not_found_message(data_dir: str | os.PathLike[str] | None, download: bool) -> str:
    lines = ["MNIST data not found. Looked in:"]
    for directory, why in _candidates(data_dir):
        _, missing = _locate(directory)
        if not _is_dir(directory):
            state = "no such directory"
        else:
            state = "missing " + ", ".join(f"{m}[.gz]" for m in missing)
        lines.append(f"  - {directory} ({why}): {state}")
    if data_dir is None:
        lines.append(_FIX_MISSING)
    else:
        lines.append(
            "A data directory given explicitly is the only place looked, and it "
            "is never downloaded into"
            + (" (download=True does not apply to it)." if download else ".")
        )
        lines.append(
            "Put the missing files there, pass another directory holding all "
            "four (`--data DIR`), or give no directory and download them into "
            f"the cache {cache_dir()} with load_mnist(download=True) or "
            "`gdkit train --download`."
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------


class _MirrorFailure(Exception):
    """Internal: one mirror failed for one file."""


class _Reporter:
    """Progress reporting for one file at a time; silent by default."""

    def start(self, name: str, total: int | None) -> None:
        """Begin a file."""

    def update(self, done: int) -> None:
        """``done`` bytes of the current file received."""

    def finish(self) -> None:
        """End the current file."""


class _CallbackReporter(_Reporter):
    def __init__(self, fn: Callable[[int, int | None], None]) -> None:
        self.fn = fn
        self.total: int | None = None

    def start(self, name: str, total: int | None) -> None:
        self.total = total
        self.fn(0, total)

    def update(self, done: int) -> None:
        self.fn(done, self.total)


class _LineReporter(_Reporter):
    """One stderr line redrawn with carriage returns."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.name = ""
        self.total: int | None = None
        self.last = -1

    def start(self, name: str, total: int | None) -> None:
        self.name, self.total, self.last = name, total, -1
        self.update(0)

    def update(self, done: int) -> None:
        mb = done / 1e6
        if self.total:
            pct = 100 * done // self.total
            if pct == self.last:
                return
            self.last = pct
            text = f"\r{self.name}: {mb:.1f} / {self.total / 1e6:.1f} MB ({pct}%)"
        else:
            tenth = done // 100_000
            if tenth == self.last:
                return
            self.last = tenth
            text = f"\r{self.name}: {mb:.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _TqdmReporter(_Reporter):
    def __init__(self, tqdm: Any, stream: IO[str]) -> None:
        self.tqdm = tqdm
        self.stream = stream
        self.bar: Any = None
        self.done = 0

    def start(self, name: str, total: int | None) -> None:
        self.done = 0
        self.bar = self.tqdm(
            total=total,
            desc=name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=self.stream,
        )

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
            self.done = done

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _make_reporter(progress: Progress) -> _Reporter:
    if progress is False:
        return _Reporter()
    if callable(progress):
        return _CallbackReporter(progress)
    stream = sys.stderr
    if stream is None:
        return _Reporter()
    if progress is None:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError, OSError):
            tty = False
        if not tty:
            return _Reporter()
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except (ImportError, AttributeError):
        return _LineReporter(stream)
    return _TqdmReporter(tqdm, stream)


def _file_md5(path: Path) -> str | None:
    """md5 hex digest of a file, or None if it cannot be read."""
    if not _is_file(path):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _join_url(mirror: str, name: str) -> str:
    return mirror.rstrip("/") + "/" + name


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _content_length(resp: Any) -> int | None:
    value = resp.headers.get("Content-Length") if resp.headers else None
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fetch(url: str, final: Path, md5: str, reporter: _Reporter, timeout: float) -> None:
    """Download ``url`` to ``final`` atomically, verifying its md5."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise _MirrorFailure(f"unsupported URL scheme {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "gdkit-mnist"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        total = _content_length(resp)
        if total is not None and total > _MAX_DOWNLOAD:
            raise _MirrorFailure(f"announces {total} bytes, implausibly large")
        # Name first, create inside the ``try``: a Ctrl-C at any point leaves no
        # stray ``.part`` file behind (``mkstemp`` creates before it returns).
        tmp_name = final.parent / f".{final.name}.{secrets.token_hex(6)}.part"
        replaced = False
        reporter.start(final.name, total)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp_name, flags, 0o666)
            digest = hashlib.md5(usedforsecurity=False)
            done = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := resp.read(_DOWNLOAD_CHUNK):
                    done += len(chunk)
                    if done > _MAX_DOWNLOAD or (total is not None and done > total):
                        raise _MirrorFailure(
                            f"sent more than the {total or _MAX_DOWNLOAD} bytes expected"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    reporter.update(done)
                if total is not None and done < total:
                    raise _MirrorFailure(f"connection closed after {done} of {total} bytes")
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if actual != md5.lower():
                raise _MirrorFailure(
                    f"checksum mismatch from mirror {url}: expected md5 {md5}, "
                    f"got {actual} ({done} bytes); the file was discarded"
                )
            os.replace(tmp_name, final)
            replaced = True
            _fsync_dir(final.parent)
        finally:
            reporter.finish()
            if not replaced:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)


def download_mnist(
    dest: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    files: Mapping[str, str] = FILES,
    progress: Progress = None,
    timeout: float = 30.0,
) -> Path:
    """Download the MNIST files, verified, into ``dest``.

    For each file, the mirrors are tried in order. The data is streamed in
    chunks to a temporary file in ``dest`` and hashed on the way; once its
    md5 matches, it is fsynced and renamed to its final name with
    :func:`os.replace` (atomic). A failed or interrupted download leaves no
    file under the final name and removes its temporary file. Files already
    in ``dest`` with the right md5 are skipped; a file there with another
    md5 is replaced.

    Parameters
    ----------
    dest : str or os.PathLike or None, optional
        Directory to download into (created if needed); default
        :func:`cache_dir`.
    mirrors : sequence of str, optional
        Base URLs (http, https or file), tried in order; default
        :data:`MIRRORS`.
    files : mapping of str to str, optional
        File name -> expected md5 hex digest; default :data:`FILES`.
    progress : bool or callable or None, optional
        Progress display; see :data:`Progress`.
    timeout : float, optional
        Socket timeout in seconds for connecting and for each read.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    gdkit.errors.DataError
        If ``dest`` cannot be created, or a file cannot be fetched intact
        from any mirror; the message lists each mirror's error (a checksum
        mismatch names the mirror, the expected and the actual digest) and
        suggests using a local copy with ``--data DIR``.
    ValueError
        If ``mirrors`` is empty or a file name is not a plain file name.
    """
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    if not mirrors:
        raise ValueError("download_mnist: mirrors must name at least one URL")
    for name in files:
        if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
            raise ValueError(f"download_mnist: {name!r} is not a plain file name")
    target = cache_dir() if dest is None else Path(dest).expanduser()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot create the download directory {target}: "
            f"{exc.strerror or exc}. Pass another directory to download into, "
            "or pass a directory holding a local copy of the MNIST files "
            "(`--data DIR`)."
        ) from None
    reporter = _make_reporter(progress)
    for name, md5 in files.items():
        final = target / name
        if _file_md5(final) == md5.lower():
            continue
        errors: list[str] = []
        for mirror in mirrors:
            url = _join_url(mirror, name)
            try:
                _fetch(url, final, md5, reporter, timeout)
            except _MirrorFailure as exc:
                errors.append(f"{url}: {exc}")
            except (OSError, HTTPException, ValueError) as exc:
                errors.append(f"{url}: {_describe(exc)}")
            else:
                break
        else:
            listing = "\n".join(f"  - {e}" for e in errors)
            raise DataError(
                f"Could not download {name} into {target} from any mirror:\n"
                f"{listing}\n"
                "If this machine is offline or the mirrors are down, copy the "
                "four MNIST files (" + ", ".join(MNIST_FILE_NAMES) + ", each "
                "optionally .gz) into a directory and pass it with `--data DIR` "
                "(load_mnist(data_dir=DIR)), or set GDKIT_DATA to it."
            )
    return target
