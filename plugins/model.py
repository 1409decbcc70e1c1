"""Use a trained network: load a saved model, classify images, score it.

A model written by ``gdkit train --save FILE.npz`` (or
:func:`gdkit_plugins.network.save_network`) is the flat parameter vector v of
a sigmoid network with its layer sizes. :func:`load` reads it into a
:class:`TrainedNetwork`, which classifies images with the same arithmetic
:class:`~gdkit_plugins.network.Network` trains with (one forward pass,
not a second implementation)::

    from gdkit_plugins import model

    net = model.load("net.npz")
    images, labels = model.test_set("../shared/data/mnist")
    print(net.predict(images[:5]))          # five digits
    result = net.evaluate(images, labels)   # accuracy, confusion matrix, mistakes
    print(f"{result.accuracy:.2%}")

Pixels follow MNIST's convention: 0 is the background and 1 full ink (the
files' 0 to 255, divided by 255), so a digit is light strokes on a dark
ground. :func:`read_images` reads 28 × 28 PNG files (Pillow, the extra
``gdkit[images]``) and IDX image files in that convention, inverting
black-on-white scans on request.
"""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from gdkit.checkpoint import MEMORY_MARGIN, load_model
from gdkit.errors import CheckpointError, DataError, MissingExtraError, ShapeError
from gdkit.protocols import FloatArray
from gdkit.validate import memory

from .mnist import IMAGE_MAGIC, load_mnist_test, read_idx
from .network import SAVE_KIND, Network

__all__ = ["IMAGE_SIDE", "Evaluation", "TrainedNetwork", "image_format", "load", "read_images",
           "test_set"]

IMAGE_SIDE: Final = 28
"""Images are IMAGE_SIDE × IMAGE_SIDE pixels (784 inputs), as in MNIST."""

_PIXELS: Final = IMAGE_SIDE * IMAGE_SIDE
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_IDX_MAGICS: Final = (IMAGE_MAGIC.to_bytes(4, "big"), b"\x1f\x8b")  # IDX images, gzip
_FLOATS: Final = (np.dtype(np.float64), np.dtype(np.float32))
_MAX_LAYERS: Final = 1000  # layers a saved network may list (the book's has 3)
BYTES_PER_IMAGE: Final = 8_000
"""Memory one image of an IDX file costs ``gdkit predict`` at its peak: its 784
bytes, its 784 float64 pixels, the printed row (measured with
/usr/bin/time -v: a 2.69 GB peak for 382,653 images, 7,040 bytes an image)."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """How a network classified labelled images.

    Attributes
    ----------
    accuracy : float
        ``correct / total``.
    correct : int
        Images whose predicted digit is their label.
    total : int
        Images scored.
    predicted : ndarray of int64, shape (n,)
        The predicted class of each image.
    labels : ndarray of int64, shape (n,)
        The true class of each image.
    confusion : ndarray of int64, shape (k, k)
        ``confusion[i, j]`` counts the images of class i predicted as j
        (rows: true class, columns: predicted), k = ``sizes[-1]``. Its sum
        is ``total`` and its diagonal sums to ``correct``.
    """

    accuracy: float
    correct: int
    total: int
    predicted: IntArray = field(repr=False)
    labels: IntArray = field(repr=False)
    confusion: IntArray = field(repr=False)

    @property
    def misclassified(self) -> IntArray:
        """Indices of the wrongly classified images, in increasing order."""
        wrong: IntArray = np.flatnonzero(self.predicted != self.labels)
        return wrong

    @property
    def recall(self) -> FloatArray:
        """Per class, the fraction of its images classified correctly (NaN
        for a class with no image): the confusion matrix's diagonal over its
        row sums."""
        rows = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: FloatArray = np.diagonal(self.confusion) / rows
        return out


@dataclass(frozen=True, eq=False)
class TrainedNetwork:
    """A saved sigmoid network, ready to classify (see :func:`load`).

    Attributes
    ----------
    sizes : tuple of int
        Neurons per layer, input first: ``(784, 30, 10)``.
    parameters : ndarray, shape (dim,)
        The flat vector v (read-only), laid out as
        :data:`gdkit_plugins.network.LAYOUT` says.
    dtype : numpy.dtype
        float64 or float32, the dtype it was trained in; images are
        converted to it.
    metadata : dict
        What the file records besides the arrays (``kind``, ``sizes``,
        ``dtype``, the training settings of ``gdkit train``, ...).
    path : pathlib.Path or None
        The file it was read from (None if built in memory).

    Notes
    -----
    Not thread-safe (the underlying :class:`~gdkit_plugins.network.Network`
    reuses its buffers): use one per thread.
    """

    sizes: tuple[int, ...]
    parameters: FloatArray = field(repr=False)
    dtype: np.dtype[Any]
    metadata: dict[str, Any] = field(repr=False)
    path: Path | None = None
    _net: Network = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rows = np.zeros((1, self.sizes[0]), self.dtype)  # Network wants data; none is used
        object.__setattr__(self, "_net", Network(self.sizes, rows, np.zeros(1, np.int64),
                                                 dtype=self.dtype))
        if self.parameters.shape != (self._net.dim,) or self.parameters.dtype != self.dtype:
            raise ShapeError(f"{self._name()}: a network of sizes {list(self.sizes)} has "
                             f"{self._net.dim:,} {self.dtype} parameters, got "
                             f"{self.parameters.shape} {self.parameters.dtype}.")

    @property
    def weights(self) -> list[FloatArray]:
        """wˡ for l = 1 … L, each of shape ``(sizes[l], sizes[l-1])`` (read-only views)."""
        return self._net.unpack(self.parameters)[0]

    @property
    def biases(self) -> list[FloatArray]:
        """bˡ for l = 1 … L, each of shape ``(sizes[l],)`` (read-only views)."""
        return self._net.unpack(self.parameters)[1]

    def feedforward(self, images: npt.ArrayLike) -> FloatArray:
        """The output activations aᴸ for each image.

        Parameters
        ----------
        images : array_like, shape (n, sizes[0]) or (n, 28, 28)
            One image a row, pixels in [0, 1] (0 background, 1 ink); 28 × 28
            arrays are flattened row-major when ``sizes[0]`` is 784.

        Returns
        -------
        ndarray, shape (n, sizes[-1])

        Raises
        ------
        gdkit.errors.ShapeError
            Another shape, or pixels outside [0, 1] (e.g. 0-255 bytes).
        """
        return self._net.feedforward(self.parameters, self._rows(images))

    def predict(self, images: npt.ArrayLike) -> IntArray:
        """The class of each image: the index of its most active output neuron.

        Parameters
        ----------
        images : array_like, shape (n, sizes[0]) or (n, 28, 28)
            As for :meth:`feedforward`.

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        out: IntArray = self._net.predict(self.parameters, self._rows(images)).astype(np.int64)
        return out

    def evaluate(self, images: npt.ArrayLike, labels: npt.ArrayLike) -> Evaluation:
        """Classify labelled images and score the result.

        Parameters
        ----------
        images : array_like, shape (n, sizes[0]) or (n, 28, 28)
            As for :meth:`feedforward`; n >= 1.
        labels : array_like of int, shape (n,)
            The true classes, in ``0 .. sizes[-1] - 1``.

        Returns
        -------
        Evaluation

        Raises
        ------
        gdkit.errors.ShapeError
            Bad images, no images, or labels that do not match them.
        """
        predicted = self.predict(images)
        truth = self._labels(labels, predicted.shape[0])
        k = self.sizes[-1]
        confusion = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
        correct = int(np.trace(confusion))
        return Evaluation(accuracy=correct / truth.shape[0], correct=correct,
                          total=int(truth.shape[0]), predicted=predicted, labels=truth,
                          confusion=confusion.astype(np.int64))

    # -- checks ------------------------------------------------------------------
    def _name(self) -> str:
        return "network" if self.path is None else os.fspath(self.path)

    def _rows(self, images: npt.ArrayLike) -> FloatArray:
        x = np.asarray(images)
        n_in = self.sizes[0]
        if x.ndim == 3 and x.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE) and n_in == _PIXELS:
            x = x.reshape(x.shape[0], _PIXELS)
        if x.ndim != 2 or x.shape[1] != n_in or x.dtype.kind not in "biuf":
            square = f" or (n, {IMAGE_SIDE}, {IMAGE_SIDE})" if n_in == _PIXELS else ""
            raise ShapeError(f"{self._name()}: images must be numbers of shape (n, {n_in})"
                             f"{square}, one image a row; got {x.dtype} of shape {x.shape}.")
        rows = np.asarray(x, dtype=self.dtype)
        if rows.size and not (rows.min() >= 0.0 and rows.max() <= 1.0):
            raise ShapeError(f"{self._name()}: pixels must lie in [0, 1] (0 background, 1 "
                             f"ink), found {rows.min():g} to {rows.max():g}. Divide bytes "
                             "0-255 by 255.")
        return rows

    def _labels(self, labels: npt.ArrayLike, n: int) -> IntArray:
        lab = np.asarray(labels)
        k = self.sizes[-1]
        if n == 0 or lab.shape != (n,) or lab.dtype.kind not in "iu":
            raise ShapeError(f"{self._name()}: evaluate needs at least one image and one "
                             f"integer label per image: {n} images, labels of dtype "
                             f"{lab.dtype} and shape {lab.shape}.")
        if int(lab.min()) < 0 or int(lab.max()) >= k:
            raise ShapeError(f"{self._name()}: labels must lie in 0..{k - 1} (one per output "
                             f"neuron), found {int(lab.min())}..{int(lab.max())}.")
        return lab.astype(np.int64)


def load(path: str | os.PathLike[str]) -> TrainedNetwork:
    """Read a network saved by ``gdkit train --save`` (or by ``save_network``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    TrainedNetwork
        Its parameters (read-only), sizes, dtype and metadata.

    Raises
    ------
    gdkit.errors.CheckpointError
        The file is missing, damaged, not a gdkit model, or a gdkit model of
        another kind; its sizes are missing or do not match its parameters.
        One line naming the file.
    """
    where = os.fspath(path)
    params, meta, arrays = load_model(path, arrays=("sizes",), limits=_limits)
    if meta.get("kind") != SAVE_KIND:
        raise CheckpointError(f"{where}: a gdkit model of kind {meta.get('kind')!r}, not a "
                              f"network ({SAVE_KIND!r}, written by gdkit train --save).")
    sizes = _sizes(where, meta, arrays)
    dim = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    if params.shape != (dim,):
        raise CheckpointError(f"{where}: a network of sizes {list(sizes)} has {dim:,} weights "
                              f"and biases, but the file holds {params.size:,}; it is damaged.")
    if params.dtype not in _FLOATS:
        raise CheckpointError(f"{where}: parameters of dtype {params.dtype}; a network is "
                              "float64 or float32.")
    params.flags.writeable = False
    return TrainedNetwork(sizes=sizes, parameters=params, dtype=params.dtype,
                          metadata=dict(meta), path=Path(path))


def _limits(meta: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """What a network's file may hold, from its metadata: its parameters at
    float64 for the sizes it records, and those sizes (checked from each
    array's header before it is read)."""
    listed = meta.get("sizes")
    ok = isinstance(listed, list) and 2 <= len(listed) <= _MAX_LAYERS and all(
        type(s) is int and s >= 1 for s in listed)
    dim = sum((a + 1) * b for a, b in itertools.pairwise(listed or [])) if ok else 0
    return {"parameters": (dim * 8, f"a network of sizes {listed} needs" if ok else
                           "a file with no valid sizes in its metadata may hold"),
            "sizes": (_MAX_LAYERS * 8, f"{_MAX_LAYERS} layer sizes take")}


def _sizes(where: str, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
           ) -> tuple[int, ...]:
    """The layer sizes a model file records (array and metadata must agree)."""
    stored, listed = arrays.get("sizes"), meta.get("sizes")
    ok = (stored is not None and stored.ndim == 1 and stored.dtype.kind in "iu"
          and len(stored) >= 2 and int(stored.min()) >= 1 and stored.tolist() == listed)
    if not ok or stored is None:
        raise CheckpointError(f"{where}: no valid layer sizes (an integer array 'sizes' of "
                              "at least two layers, as in its metadata); the file is damaged "
                              "or not a gdkit network.")
    return tuple(int(s) for s in stored)


# The name is a test's to pytest and ruff (PT028); it is none: __test__ below.
def test_set(data_dir: str | os.PathLike[str] | None = None, *,  # noqa: PT028
             download: bool = False,  # noqa: PT028
             dtype: npt.DTypeLike = np.float64) -> tuple[FloatArray, IntArray]:  # noqa: PT028
    """The 10,000 MNIST test images and labels (only the two ``t10k`` files are read).

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        A directory holding the test files (gzipped or not); otherwise
        ``$GDKIT_DATA``, then the user cache
        (:func:`gdkit_plugins.mnist.find_mnist_dir`).
    download : bool, default False
        Download the two files into the user cache when not found (and no
        ``data_dir`` is given).
    dtype : {float64, float32}
        The dtype of the images: that of the network, to score exactly as
        ``gdkit train`` did.

    Returns
    -------
    images : ndarray, shape (10000, 784)
        Pixels in [0, 1].
    labels : ndarray of int64, shape (10000,)

    Raises
    ------
    gdkit.errors.DataError
        The files are missing (and not downloaded), truncated or corrupt.
    """
    return load_mnist_test(data_dir, download=download, dtype=dtype)


test_set.__test__ = False  # type: ignore[attr-defined]  # pytest: not a test


def read_images(path: str | os.PathLike[str], *, invert: bool = False) -> FloatArray:
    """Read the images of a 28 × 28 PNG file or an IDX image file, as rows in [0, 1].

    Pixels follow MNIST's convention, 0 the background and 1 full ink
    (bytes divided by 255). A PNG must be 28 × 28; greyscale is read as it
    is, colour (RGB, RGBA, palette) converted to grey by Pillow's luminance
    (alpha is dropped). IDX image files (gzipped or not) are MNIST's own
    format and need nothing beyond numpy.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.png`` file (needs Pillow: ``pip install 'gdkit[images]'``) or an
        IDX image file; the format is told by the file's first bytes.
    invert : bool, default False
        Black ink on a white ground (a scan, a drawing program): take
        1 − pixel, so that the ink is 1 as in MNIST.

    Returns
    -------
    ndarray of float64, shape (n, 784)
        One row per image: n = 1 for a PNG, the file's count for IDX.

    Raises
    ------
    gdkit.errors.DataError
        A missing, unreadable or damaged file, one that is neither PNG nor
        IDX images, or images that are not 28 × 28. One line naming the file.
    gdkit.errors.MissingExtraError
        A PNG was given and Pillow is not installed.
    """
    p = Path(path)
    rows = _read_png(p) if image_format(p) == "png" else _read_idx(p)
    if invert:
        np.subtract(1.0, rows, out=rows)
    return rows


def image_format(path: str | os.PathLike[str]) -> Literal["png", "idx"]:
    """``"png"`` or ``"idx"``: the format of an image file, told by its first bytes.

    Raises
    ------
    gdkit.errors.DataError
        A missing or unreadable file, or neither a PNG nor an IDX image file
        (gzipped or not).
    """
    p = Path(path)
    head = _head(p)
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_IDX_MAGICS):
        return "idx"
    raise DataError(f"{p}: not a PNG or an IDX image file (it starts with {head!r}). Give "
                    f"{IMAGE_SIDE} x {IMAGE_SIDE} greyscale PNGs or an IDX image file.")


def _head(p: Path) -> bytes:
    try:
        with p.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise DataError(f"{p}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise DataError(f"{p}: a directory, not an image file. Name the files in it.") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read it ({exc.strerror or exc}). Check that it is a "
                        "readable file.") from None


def _wrong_size(p: Path, width: int, height: int) -> DataError:
    return DataError(f"{p}: the image is {width} x {height} pixels; the network reads "
                     f"{IMAGE_SIDE} x {IMAGE_SIDE} greyscale images as MNIST's. Resize it to "
                     f"{IMAGE_SIDE} x {IMAGE_SIDE} first.")


def _read_png(p: Path) -> FloatArray:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingExtraError(f"reading the PNG file {p}", "images", "Pillow") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(p)  # reads the header only; a bomb is refused here
        with img:
            if img.size != (IMAGE_SIDE, IMAGE_SIDE):
                raise _wrong_size(p, *img.size)
            if img.mode.startswith("I;16"):
                pixels = np.asarray(img, dtype=np.float64) / 65535.0
            else:
                pixels = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except DataError:  # the wrong size: an OSError too, and already one line
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{p}: too large an image to open safely ({exc}); the network reads "
                        f"{IMAGE_SIDE} x {IMAGE_SIDE} greyscale images as MNIST's. Resize it to "
                        f"{IMAGE_SIDE} x {IMAGE_SIDE} first.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{p}: a damaged or unreadable PNG ({exc}). Save it again as a "
                        f"{IMAGE_SIDE} x {IMAGE_SIDE} greyscale PNG.") from None
    return pixels.reshape(1, _PIXELS)


def _within_memory(p: Path, n: int) -> list[range]:
    """Refuse, from the count an IDX header declares and before anything is
    allocated, more images than this machine's memory can classify."""
    memory(str(p), f"its {n:,} images (the count its header declares)",
           n * BYTES_PER_IMAGE, margin=MEMORY_MARGIN)
    return [range(n)]


def _read_idx(p: Path) -> FloatArray:
    raw = read_idx(p, expected_magic=IMAGE_MAGIC, rows=lambda n: _within_memory(p, n))
    if raw.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise _wrong_size(p, raw.shape[2], raw.shape[1])
    if raw.shape[0] == 0:
        raise DataError(f"{p}: an IDX image file holding no images.")
    out: FloatArray = raw.reshape(raw.shape[0], _PIXELS) / 255.0
    return out
