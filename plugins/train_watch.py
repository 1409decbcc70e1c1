"""The ``gdkit train`` command's own observers: the progress bar of an epoch, the
epoch kept for ``--save``, the printed epoch line, the early-stop note."""

from __future__ import annotations

import math
import signal
from typing import IO, Any

import gdkit
from gdkit.command import silence_stdout
from gdkit.observers import EarlyStopping, EpochEnd
from gdkit.progress import ProgressBar
from gdkit.records import plain

__all__ = ["EpochBar", "Keep", "Lines", "SayEarlyStop", "Stopped", "epoch_line"]


class Stopped(KeyboardInterrupt):
    """A closed stdout, which ends the run as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class EpochBar:
    """An observer drawing one progress bar an epoch (its ``on_progress``)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: ProgressBar | None = None
        self.epoch = -1

    def on_progress(self, epoch: int, done: int, total: int) -> None:
        if self.bar is None or epoch != self.epoch:
            self.close()
            self.bar, self.epoch = ProgressBar(self.stream, f"Epoch {epoch}", total,
                                               unit="mini-batches"), epoch
        self.bar.update(done)

    def close(self) -> None:
        """Erase the bar (before the epoch's line is printed)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Lines:
    """The command's own observer: keeps the last complete epoch (for --save on
    a stop) and prints the epoch's line."""

    def __init__(self, bar: EpochBar | None) -> None:
        self.bar = bar
        self.last: dict[str, Any] = {}
        self.result: gdkit.Result | None = None  # once the run has finished

    def on_finish(self, result: gdkit.Result) -> None:
        self.result = result

    def keep(self, event: EpochEnd) -> None:
        """Keep the epoch (before any output is written: one may fail)."""
        self.last.update(epoch=event.epoch, x=event.x.copy(), record=plain(dict(event.record)))

    def on_epoch(self, event: EpochEnd) -> None:
        if self.bar is not None:
            self.bar.close()
        record = dict(event.record)
        try:
            print(epoch_line(event.epoch, record), flush=True)
        except BrokenPipeError:  # the reader went away (| head): stop, keeping the work
            silence_stdout()
            raise Stopped(signal.SIGPIPE) from None


class Keep:
    """The first observer: the command keeps each epoch before any output is written."""

    def __init__(self, lines: Lines) -> None:
        self.on_epoch = lines.keep


class SayEarlyStop:
    """Print, at the epoch it happens, that early stopping ends the run."""

    def __init__(self, early: EarlyStopping) -> None:
        self.early = early

    def on_epoch(self, event: EpochEnd) -> None:
        early = self.early
        if early.stopped_at == event.epoch:
            print(f"Stopping early: the validation accuracy has not improved for "
                  f"{early.patience} epoch(s) since epoch {early.best.epoch} "
                  f"({100 * early.best.value:.2f}%).", flush=True)


def epoch_line(epoch: int, record: dict[str, float]) -> str:
    head = f"Epoch {epoch}:"
    if "correct" in record and "total" in record:
        correct, total = int(record["correct"]), int(record["total"])
        pct = 100.0 * correct / total if total else math.nan
        head += f" {correct:,} / {total:,} ({pct:.2f}%)"
    elif "accuracy" in record:
        head += f" accuracy {100.0 * record['accuracy']:.2f}%"
    if "val_accuracy" in record:
        head += f"  validation {100.0 * record['val_accuracy']:.2f}%"
    return f"{head}  cost {record['cost']:.4g}  {record['seconds']:.2f} s"
