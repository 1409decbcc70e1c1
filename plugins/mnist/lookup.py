"""Where the MNIST files are: the four names, the user cache, the search order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .advice import EXPLICIT_ONLY, PUT_THERE
from .idx import _FIX_MISSING

__all__ = ["MNIST_FILE_NAMES", "MNIST_TEST_FILE_NAMES", "TEST_IMAGES", "TEST_LABELS",
           "TRAIN_IMAGES", "TRAIN_LABELS", "cache_dir", "find_mnist_dir"]

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

MNIST_TEST_FILE_NAMES: Final[tuple[str, str]] = (TEST_IMAGES, TEST_LABELS)
"""The two files of the test set, without ``.gz``."""




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


def _locate(directory: Path, names: Sequence[str] = MNIST_FILE_NAMES
            ) -> tuple[dict[str, Path], list[str]]:
    """The files ``names`` in ``directory`` (``.gz`` preferred), and those missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in names:
        for candidate in (directory / (name + ".gz"), directory / name):
            if _is_file(candidate):
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def find_mnist_dir(data_dir: str | os.PathLike[str] | None = None, *,
                   names: Sequence[str] = MNIST_FILE_NAMES) -> Path | None:
    """Find a directory holding the four MNIST files (or only those of ``names``).

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
    names : sequence of str, optional
        The files to look for (without ``.gz``); default all four,
        :data:`MNIST_FILE_NAMES`. :data:`MNIST_TEST_FILE_NAMES` finds the
        test set alone.

    Returns
    -------
    pathlib.Path or None
        The first directory holding all those files, or None.
    """
    for directory, _why in _candidates(data_dir):
        if not _locate(directory, names)[1]:
            return directory
    return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _not_found_message(data_dir: str | os.PathLike[str] | None, download: bool,
                       names: Sequence[str] = MNIST_FILE_NAMES) -> str:
    lines = ["MNIST data not found. Looked in:"]
    for directory, why in _candidates(data_dir):
        _, missing = _locate(directory, names)
        if not _is_dir(directory):
            state = "no such directory"
        else:
            state = "missing " + ", ".join(f"{m}[.gz]" for m in missing)
        lines.append(f"  - {directory} ({why}): {state}")
    if data_dir is None:
        lines.append(_FIX_MISSING)
    else:
        lines.append(EXPLICIT_ONLY.python)
        lines.append(f"{PUT_THERE.python} (The user cache is {cache_dir()}.)")
    return "\n".join(lines)


