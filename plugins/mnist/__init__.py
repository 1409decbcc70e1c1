"""MNIST for gdkit: an IDX reader, the book's split, local lookup, downloads.

One job a module: :mod:`.idx` reads the file format, :mod:`.lookup` finds
the files, :mod:`.download` fetches them verified, :mod:`.dataset` loads the
split. Everything public is importable from this package.

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

from .dataset import MnistData, load_mnist, load_mnist_test
from .download import FILES, MIRRORS, Progress, download_mnist
from .idx import IMAGE_MAGIC, LABEL_MAGIC, read_idx
from .lookup import (
    MNIST_FILE_NAMES,
    MNIST_TEST_FILE_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    cache_dir,
    find_mnist_dir,
)

__all__ = [
    "FILES",
    "IMAGE_MAGIC",
    "LABEL_MAGIC",
    "MIRRORS",
    "MNIST_FILE_NAMES",
    "MNIST_TEST_FILE_NAMES",
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
    "load_mnist_test",
    "read_idx",
]
