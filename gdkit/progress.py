"""One progress display for everything that takes a while: :class:`ProgressBar`.

Training shows the mini-batches of the current epoch, a download the bytes of
the current file; both use this class. It draws with tqdm when the optional
extra ``progress`` is installed, and otherwise redraws one line with carriage
returns, only when the shown percentage changes (so a caller may update it
as often as it likes). :func:`show_progress` decides whether to draw at all:
by default only on a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import importlib
from typing import IO, Any

__all__ = ["ProgressBar", "show_progress"]


def show_progress(stream: IO[str] | None, setting: bool | None = None) -> bool:
    """Whether to draw progress on ``stream``: ``setting`` if given, else
    whether the stream is a terminal."""
    if stream is None or setting is False:
        return False
    if setting:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ProgressBar:
    """A progress bar for one task of known (or unknown) size.

    Parameters
    ----------
    stream : text stream
        Where to draw (usually ``sys.stderr``).
    desc : str
        What is under way, e.g. ``"Epoch 3"`` or a file name.
    total : int or None
        The size of the task, or None if unknown.
    unit : str, optional
        What is counted: ``"B"`` shows bytes in MB, anything else counts
        items (``"mini-batches"``).
    leave : bool, optional
        Keep the finished bar on its own line (downloads) or erase it (an
        epoch's bar, which the epoch's summary line replaces).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, "Epoch 1", 200, unit="mini-batches", tqdm=False)
    >>> bar.update(50)
    >>> out.getvalue()
    '\\rEpoch 1:  25%  50 / 200 mini-batches'
    """

    def __init__(self, stream: IO[str], desc: str, total: int | None, *,
                 unit: str = "items", leave: bool = False, tqdm: bool | None = None) -> None:
        self.stream, self.desc, self.total, self.unit, self.leave = (
            stream, desc, total, unit, leave)
        self.done = 0
        self._shown: int | None = None
        self._width = 0
        self._bar: Any = None
        factory = _tqdm() if tqdm is not False else None
        if factory is not None:
            self._bar = factory(total=total, desc=desc, file=stream, leave=leave,
                                dynamic_ncols=True,
                                **({"unit": "B", "unit_scale": True, "unit_divisor": 1024}
                                   if unit == "B" else {"unit": unit}))

    def update(self, done: int) -> None:
        """``done`` units of the task are complete (an absolute count)."""
        if self._bar is not None:
            self._bar.update(done - self.done)
            self.done = done
            return
        self.done = done
        # Redraw when the visible figure changes: the percentage, or for an
        # unknown total each 0.1 MB / each item.
        key = 100 * done // self.total if self.total else (
            done // 100_000 if self.unit == "B" else done)
        if key == self._shown:
            return
        self._shown = key
        line = self._line(done)
        self._width = max(self._width, len(line))
        self.stream.write("\r" + line)
        self.stream.flush()

    def _line(self, done: int) -> str:
        if self.unit == "B":
            mb = f"{done / 1e6:.1f}"
            if self.total:
                return (f"{self.desc}: {mb} / {self.total / 1e6:.1f} MB "
                        f"({100 * done // self.total}%)")
            return f"{self.desc}: {mb} MB"
        if self.total:
            return (f"{self.desc}: {100 * done // self.total:3d}%  {done:,} / {self.total:,} "
                    f"{self.unit}")
        return f"{self.desc}: {done:,} {self.unit}"

    def close(self) -> None:
        """End the bar: keep it on its line (``leave``) or erase it."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._width:
            self.stream.write("\n" if self.leave else "\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _tqdm() -> Any:
    try:  # the optional extra "progress"
        return importlib.import_module("tqdm").tqdm
    except (ImportError, AttributeError):
        return None
