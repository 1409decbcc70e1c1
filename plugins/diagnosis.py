"""Diagnoses of a classifier network while it trains, as run observers.

:class:`StuckNeurons` watches each epoch's per-class recall (the network's
``evaluate`` gives ``recall_0`` .. ``recall_{k-1}``) and says once a run which
output neurons (almost) never win on their own digits, with the book's cures
(ch. 3) worded for the run's settings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final

from gdkit.observers import EpochEnd

__all__ = ["CHANCE", "STUCK", "STUCK_EPOCHS", "StuckNeurons"]

CHANCE: Final = 1.5
"""An accuracy at or below CHANCE / classes (15% for ten digits) learned
nothing: guessing does as well."""
STUCK: Final = 0.02
"""An output neuron is stuck when its class's recall on the test images is
below this (it wins for almost none of its own inputs)..."""
STUCK_EPOCHS: Final = 10
"""... for this many epochs in a row, or at the last epoch. (The book's
[784, 30, 10] network at seed 1 has a neuron stuck for its first 5 epochs
that then learns; at [784, 100, 10] seed 0 one stays stuck all 30.)"""


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class StuckNeurons:
    """Name, once a run, the output neurons stuck for STUCK_EPOCHS epochs in a
    row or at the last epoch (``epochs``, or the one ``last_epoch()`` says
    ends the run, e.g. an early stop).

    Parameters
    ----------
    classes : int
        Output neurons.
    epochs : int
        The run's last epoch.
    cost, init : str
        The run's cost and start, for the advice.
    say : callable, optional
        Where the warning goes (default: standard error).
    last_epoch : callable, optional
        ``last_epoch()``: an epoch the run ends at early (0: none yet).
    """

    def __init__(self, classes: int, epochs: int, *, cost: str, init: str,
                 say: Callable[[str], None] = _to_stderr,
                 last_epoch: Callable[[], int] = lambda: 0) -> None:
        self.classes, self.epochs, self.cost, self.init = classes, epochs, cost, init
        self.say, self.last_epoch = say, last_epoch
        self.stuck_for: dict[int, int] = {}
        self.said = False

    def on_epoch(self, event: EpochEnd) -> None:
        record, epoch = event.record, event.epoch
        for k in range(self.classes):
            low = record.get(f"recall_{k}", 1.0) < STUCK
            self.stuck_for[k] = self.stuck_for.get(k, 0) + 1 if low else 0
        final = epoch >= self.epochs or epoch == self.last_epoch()
        stuck = [k for k, n in self.stuck_for.items() if n and (final or n >= STUCK_EPOCHS)]
        if self.said or not stuck or record.get("accuracy", 0.0) <= CHANCE / self.classes:
            return  # said, nothing stuck, or nothing learned at all (told at the end)
        self.said = True
        self.say(self._warning(epoch, record, stuck))

    def _warning(self, epoch: int, record: Any, stuck: list[int]) -> str:
        epochs = max(self.stuck_for[k] for k in stuck)
        which = ", ".join(f"{k} ({100 * record[f'recall_{k}']:.2f}%)" for k in stuck)
        cures, why = [], ""
        if self.cost == "quadratic":
            cures.append("--cost cross-entropy")
            why = (" Its sigmoid is saturated at the wrong value, where the quadratic cost's "
                   "gradient (a − y)σ'(z) all but vanishes.")
        if self.init == "normal":
            cures.append("--init scaled")
        lower = " (with a smaller η: the book takes 0.5)" if "--cost cross-entropy" in cures \
            else ""
        cure = (f" The book's cure (ch. 3): {' '.join(cures)}{lower}." if cures
                else " Try another seed or a smaller η.")
        return (f"gdkit train: warning: stuck output neuron(s) after epoch {epoch}: digit(s) "
                f"{which} recognised in under {100 * STUCK:.0f}% of their test images for "
                f"{epochs} epoch(s) in a row.{why}{cure}")
