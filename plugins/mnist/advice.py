"""What to do about missing or damaged MNIST files, in the caller's words.

A :class:`~gdkit.errors.DataError` raised here says what to do in Python terms
(``load_mnist(data_dir=DIR)``, ``download=True``): library errors name no
command-line flag. The public readers (:func:`~gdkit_plugins.mnist.load_mnist`,
:func:`~gdkit_plugins.mnist.load_mnist_test`,
:func:`~gdkit_plugins.mnist.download_mnist`) mark each such error as being
about the ``data`` setting on the way out (:func:`about_data`). A ``gdkit``
command says the same advice in its flags (``--data DIR``, ``--download``:
every command that reads MNIST takes both) with :func:`command_line_words`,
which the network plugin offers every command (its ``gdkit_advice`` hook).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar

from gdkit.errors import DataError

__all__ = ["CORRUPT", "EXPLICIT_ONLY", "MISSING", "NO_CACHE", "OFFLINE", "PUT_THERE",
           "UNREADABLE", "Advice", "about_data", "command_line_words"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Advice:
    """One piece of advice, for a Python caller and for a ``gdkit`` command's user."""

    python: str
    cli: str

    def __str__(self) -> str:
        return self.python


_DIR: Final = "load_mnist(data_dir=DIR), or data=DIR for the mnist-network objective"
_FILES: Final = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                 "t10k-labels-idx1-ubyte")

CORRUPT: Final = Advice(
    "Delete the file and fetch it again (download=True downloads missing files into the "
    f"cache), or pass another directory holding an intact copy ({_DIR}).",
    "Delete the file and fetch it again (--download downloads missing files into the "
    "cache), or pass another directory holding an intact copy with --data DIR.")
MISSING: Final = Advice(
    f"Pass a directory holding the four MNIST files ({_DIR}), set GDKIT_DATA to such a "
    "directory, or download them with download=True.",
    "Pass a directory holding the four MNIST files with --data DIR, set GDKIT_DATA to such "
    "a directory, or download them with --download.")
EXPLICIT_ONLY: Final = Advice(
    "A data directory given explicitly is the only place looked, and it is never downloaded "
    "into (download=True does not apply to it).",
    "A data directory given explicitly (--data) is the only place looked, and it is never "
    "downloaded into (--download does not apply to it).")
PUT_THERE: Final = Advice(
    f"Put the missing files there, pass another directory holding all four ({_DIR}), or "
    "give no directory and download them into the user cache with download=True.",
    "Put the missing files there, pass another directory holding all four with --data DIR, "
    "or give no --data and download them into the user cache with --download.")
UNREADABLE: Final = Advice(
    f"Check that it is a readable file, or pass another directory holding the MNIST files "
    f"({_DIR}).",
    "Check that it is a readable file, or pass another directory holding the MNIST files "
    "with --data DIR.")
OFFLINE: Final = Advice(
    f"If this machine is offline or the mirrors are down, copy the four MNIST files ({_FILES}"
    f", each optionally .gz) into a directory and pass it ({_DIR}), or set GDKIT_DATA to it.",
    f"If this machine is offline or the mirrors are down, copy the four MNIST files ({_FILES}"
    ", each optionally .gz) into a directory and pass it with --data DIR, or set GDKIT_DATA "
    "to it.")
NO_CACHE: Final = Advice(
    "Make it writable, pass another directory to download into (download_mnist(DIR)), or "
    f"pass a directory holding a local copy of the MNIST files ({_DIR}).",
    "Make it writable, or pass a directory holding a local copy of the MNIST files with "
    "--data DIR.")

_ALL: Final = (CORRUPT, MISSING, EXPLICIT_ONLY, PUT_THERE, UNREADABLE, OFFLINE, NO_CACHE)


def command_line_words(message: str) -> str:
    """``message`` with every piece of advice in Python terms put in the command line's."""
    for advice in _ALL:
        message = message.replace(advice.python, advice.cli)
    return message


def about_data(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Mark every :class:`DataError` ``func`` raises whose advice is about where the
    data are (``setting = "data"``), for a command to word in its flags."""
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except DataError as exc:
            if exc.setting is None and command_line_words(str(exc)) != str(exc):
                exc.setting = "data"
            raise
    return wrapper
