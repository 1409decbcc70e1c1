"""The IDX file format of MNIST: a validating reader, :func:`read_idx`.

An IDX file is a magic number (two zero bytes, the element type, the number
of dimensions), the dimensions as big-endian uint32, then the data; MNIST's
four files hold unsigned bytes, optionally gzipped. The reader trusts nothing:
memory stays bounded on a hostile header, and every problem becomes a
:class:`gdkit.errors.DataError` naming the file, the problem, the expected
format and what to do.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from gdkit.errors import DataError

from .advice import CORRUPT, MISSING, UNREADABLE, about_data

__all__ = ["IMAGE_MAGIC", "LABEL_MAGIC", "read_idx"]

LABEL_MAGIC: Final = 2049
"""Magic number of an IDX label file: unsigned bytes (0x08), 1 dimension."""

IMAGE_MAGIC: Final = 2051
"""Magic number of an IDX image file: unsigned bytes (0x08), 3 dimensions."""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_UBYTE: Final = 0x08
_MAX_PAYLOAD: Final = 2**31
"""Largest IDX payload accepted, in bytes (MNIST's largest is 47 MB)."""
_DEFLATE_MAX_RATIO: Final = 1032
"""Deflate cannot expand more than about 1032:1, which bounds the payload a
gzip file of a given size can hold."""
_CHUNK: Final = 1 << 20

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
# In Python's terms; the gdkit command shows them in its own (see .advice).
_FIX_CORRUPT: Final = CORRUPT.python
_FIX_MISSING: Final = MISSING.python


def _format_of(magic: int | None) -> str:
    if magic == IMAGE_MAGIC:
        return _IMAGE_FORMAT
    if magic == LABEL_MAGIC:
        return _LABEL_FORMAT
    return _GENERIC_FORMAT






class _Problem(Exception):
    """Internal: what is wrong with a file, turned into DataError by read_idx."""


class CountMismatch(Exception):
    """Internal: the file holds another count of items than the caller expects
    (found from the header, before any data is read)."""

    def __init__(self, found: int) -> None:
        super().__init__(found)
        self.found = found


class _IdxReader:
    """Reads one IDX file; remembers the magic seen so errors can describe
    the format the file claims to be."""

    def __init__(self, path: Path, expected_magic: int | None,
                 rows: Callable[[int], Sequence[range]] | None = None) -> None:
        self.path = path
        self.expected_magic = expected_magic
        self.rows = rows
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
        row = n_bytes // dims[0] if dims[0] else 0
        keep = list(self.rows(dims[0])) if self.rows is not None else [range(dims[0])]
        out = np.empty((sum(len(r) for r in keep) * row,), dtype=np.uint8)
        pos = done = 0  # bytes of the data read, and of out filled
        for wanted in keep:  # rows outside every range are read and dropped
            pos = self._copy(stream, None, pos, wanted.start * row, n_bytes, shape_text)
            pos = self._copy(stream, out.data[done : done + len(wanted) * row], pos,
                             wanted.stop * row, n_bytes, shape_text)
            done += len(wanted) * row
        self._copy(stream, None, pos, n_bytes, n_bytes, shape_text)
        if stream.read(1):
            raise _Problem(
                f"trailing bytes after the {n_bytes} data bytes declared by "
                f"the header (dims {shape_text})"
            )
        return out.reshape((-1, *dims[1:]))

    def _copy(self, stream: io.BufferedIOBase, into: memoryview | None, pos: int, stop: int,
              n_bytes: int, shape_text: str) -> int:
        """Read the data from byte ``pos`` to ``stop`` into ``into`` (or drop it)."""
        scratch = memoryview(bytearray(min(_CHUNK, max(stop - pos, 0))))
        start = pos
        while pos < stop:
            size = min(_CHUNK, stop - pos)
            buf = into[pos - start : pos - start + size] if into is not None else scratch[:size]
            got = stream.readinto(buf)
            if not got:
                where = "decompressed data" if self.compressed else "file"
                raise _Problem(
                    f"truncated: the header declares dims {shape_text} = "
                    f"{n_bytes} data bytes but the {where} ends after {pos}"
                )
            pos += got
        return pos


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


@about_data
def read_idx(
    path: str | os.PathLike[str], *, expected_magic: int | None = None,
    rows: Callable[[int], Sequence[range]] | None = None,
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
    rows : callable, optional
        Given the number of items n the header declares (before anything is
        allocated), returns the ranges of items to keep, in order; the others
        are read (and so still checked for truncation) but not kept. Default:
        all n. The caller may raise here to refuse a count it did not expect.

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
    reader = _IdxReader(p, expected_magic, rows=rows)
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
        fix = UNREADABLE.python
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


