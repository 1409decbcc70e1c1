"""Watching a run in TensorBoard: an observer writing each epoch's record
(``gdkit[tensorboard]``: tensorboardX, which needs no TensorFlow).

Every number of an epoch's record becomes a scalar at step = epoch: ``cost``,
``eta``, ``seconds``, the accuracies, the per-digit recalls grouped as
``recall/0`` .. ``recall/9`` and each output neuron's saturation on its own
digit as ``saturated/0`` .. ``saturated/9``. tensorboardX is imported when a run starts, never
by ``import gdkit`` or ``gdkit plugins``::

    gdkit train --data DIR --tensorboard runs/book
    tensorboard --logdir runs
"""

from __future__ import annotations

import os
from typing import Any

from gdkit.errors import GdkitError, MissingExtraError
from gdkit.observers import EpochEnd, RunStart
from gdkit.result import Result

__all__ = ["TensorBoard", "tag"]


def tag(key: str) -> str:
    """The scalar's name in TensorBoard: ``recall_3`` → ``recall/3``, ``saturated_3`` →
    ``saturated/3``; others as they are."""
    head, _, tail = key.rpartition("_")
    return f"{head}/{tail}" if head in ("recall", "saturated") and tail.isdigit() else key


class TensorBoard:
    """An observer writing every epoch's record to a TensorBoard event file in ``logdir``.

    Parameters
    ----------
    logdir : path-like
        The run's directory (made if missing); each run writes a new event file
        there, so a resumed run's epochs continue the same curves.
    label : str, optional
        How errors name the directory (a command passes its flag).
    """

    def __init__(self, logdir: str | os.PathLike[str], *, label: str = "the TensorBoard "
                 "directory") -> None:
        self.logdir, self.label = os.fspath(logdir), label
        self._writer: Any = None

    def on_start(self, event: RunStart) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise MissingExtraError("writing TensorBoard events", "tensorboard",
                                    "tensorboardX") from None
        try:
            self._writer = SummaryWriter(self.logdir, purge_step=event.epoch + 1
                                         if event.resumed else None)
        except OSError as exc:
            raise GdkitError(f"{self.label}: cannot write to {self.logdir}: "
                             f"{exc.strerror or exc}.") from None

    def on_epoch(self, event: EpochEnd) -> None:
        writer = self._writer
        if writer is None:
            return
        for key, value in event.record.items():
            writer.add_scalar(tag(key), float(value), event.epoch)
        writer.flush()

    def on_finish(self, result: Result) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
