"""Writing files so that a crash never leaves half of one: :func:`atomic_write`.

Every file gdkit writes for keeps (checkpoints, saved models, downloads) goes
through this one helper: the bytes go to a hidden temporary file in the same
directory, are flushed and fsynced, and the temporary file is renamed over
the final name with :func:`os.replace`, which is atomic; the directory is
then fsynced so that the rename itself survives a power cut. A reader sees
the old file or the new one, never a mixture, and an exception (a full disk,
a failed checksum, a second Ctrl-C) anywhere inside the ``with`` block
removes the temporary file and leaves the old one untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "fsync_dir"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its directory must exist.
    suffix : str, optional
        Ending of the temporary file's name (``.<name>.<random><suffix>`` in
        the same directory), so that a leftover from a killed process says what
        it was.

    Yields
    ------
    BinaryIO
        The temporary file, open for writing. Raise inside the block to
        abandon the write: the temporary file is removed and ``path`` keeps
        its old contents (or stays absent).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "numbers.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write(b"1 2 3")
    >>> target.read_bytes()
    b'1 2 3'
    """
    final = Path(path)
    # The temporary name is chosen before the ``try`` and the file created
    # inside it, so an exception at any point (a second Ctrl-C included) removes
    # it: ``mkstemp`` creates the file before returning its name, leaving a
    # window in which a KeyboardInterrupt strands it.
    tmp = final.parent / f".{final.name}.{secrets.token_hex(6)}{suffix}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot
    be opened, as on Windows)."""
    if os.name == "nt":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
