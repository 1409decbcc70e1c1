"""Diagnoses of a classifier network while it trains, as run observers.

:class:`StuckNeurons` watches each epoch's per-class recall (the network's
``evaluate`` gives ``recall_0`` .. ``recall_{k-1}``) and each output neuron's
saturation on its own class (``saturated_0`` ..). It warns once, during a run,
about output neurons that have (almost) never won on their own digits for
:data:`STUCK_EPOCHS` epochs; :meth:`StuckNeurons.conclude` is the verdict on
the epoch a run reports: which digits it leaves (almost) never recognised,
what was measured (saturated, or learning slowly; how the cost went) and what
to try, worded for the run's cost, start and step rule.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gdkit.observers import EpochEnd

from .network.metrics import FLAT_SLOPE
from .step_sizes.fixed import Fixed, Normalized

__all__ = ["BOOK_ETA", "CHANCE", "FALLING", "SATURATED_SHARE", "STUCK", "STUCK_EPOCHS",
           "StepFacts", "StuckNeurons"]

CHANCE: Final = 1.5
"""An accuracy at or below CHANCE / classes (15% for ten digits) learned
nothing: guessing does as well."""
STUCK: Final = 0.02
"""An output neuron is stuck when its class's recall on the test images is
below this (it wins for almost none of its own inputs)..."""
STUCK_EPOCHS: Final = 10
"""... for this many epochs in a row (the warning during a run), or at the
epoch the run reports (its verdict). (The book's [784, 30, 10] network at seed
1 has a neuron stuck for its first 5 epochs that then learns; at [784, 100, 10]
seed 0 one stays stuck all 30.)"""
SATURATED_SHARE: Final = 0.5
"""A stuck output neuron is called saturated when it sits near 0, the wrong
value, with σ'(z) below FLAT_SLOPE, on at least this share of its own digit's
test images; below it its σ' is healthy there and it learns, if slowly."""
FALLING: Final = 0.01
"""The cost is still falling when the last epoch's is this fraction or more
below every earlier epoch's; it rose when the last is this much above the first."""
BOOK_ETA: Final[Mapping[str, float]] = {"quadratic": 3.0, "cross-entropy": 0.5}
"""The book's η for the cost (ch. 1 and ch. 3)."""
NO_SIGMA_PRIME: Final = ("cross-entropy", "log-likelihood")
"""Costs whose output error δᴸ = a − y has no σ'(z) factor (ch. 3)."""
FAR: Final = 3.0
"""A fixed η more than FAR times the book's is too large; below 1/FAR of it, small."""


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StepFacts:
    """What sets a run's step length, for the advice.

    Parameters
    ----------
    name : str
        The step rule as the user gave it (``"fixed"``, ``"momentum,fixed"``);
        "" when not known (the advice then leaves the step alone).
    eta : float, optional
        The fixed step size's η (eq. 10), when η sets the step.
    epsilon : float, optional
        The normalized step's length ε (η = ε/‖∇C‖), when ε sets it.
    plain : bool, default True
        No transform (momentum, ...) reshapes the direction: the book's η
        compares with this one.
    """

    name: str = ""
    eta: float | None = None
    epsilon: float | None = None
    plain: bool = True

    @classmethod
    def of(cls, name: str, rule: Any) -> StepFacts:
        """The facts of a built step rule: its chain's step size decides (any
        other rule, a line search among them, chooses η itself)."""
        size, plain = getattr(rule, "step_size", rule), not getattr(rule, "transforms", ())
        if isinstance(size, Fixed):
            return cls(name, eta=float(size.eta), plain=plain)
        if isinstance(size, Normalized):
            return cls(name, epsilon=float(size.epsilon), plain=plain)
        return cls(name, plain=plain)


class StuckNeurons:
    """Warn, once a run, about output neurons stuck for STUCK_EPOCHS epochs in
    a row before the run's last epoch (``epochs``, or the one ``last_epoch()``
    says ends it, e.g. an early stop); :meth:`conclude` judges the end.

    Parameters
    ----------
    classes : int
        Output neurons.
    epochs : int
        The run's last epoch.
    cost, init : str
        The run's cost and start, for the advice.
    step : StepFacts, optional
        The run's step rule, for the advice (default: not known).
    say : callable, optional
        Where the warning goes (default: standard error).
    last_epoch : callable, optional
        ``last_epoch()``: an epoch the run ends at early (0: none yet).
    """

    def __init__(self, classes: int, epochs: int, *, cost: str, init: str,
                 step: StepFacts | None = None, say: Callable[[str], None] = _to_stderr,
                 last_epoch: Callable[[], int] = lambda: 0) -> None:
        self.classes, self.epochs, self.cost, self.init = classes, epochs, cost, init
        self.step = StepFacts() if step is None else step
        self.say, self.last_epoch = say, last_epoch
        self.stuck_for: dict[int, int] = {}
        self.costs: list[float] = []
        self.said = False

    def on_epoch(self, event: EpochEnd) -> None:
        record, epoch = event.record, event.epoch
        self.costs.append(float(record.get("cost", math.nan)))
        for k in range(self.classes):
            low = record.get(f"recall_{k}", 1.0) < STUCK
            self.stuck_for[k] = self.stuck_for.get(k, 0) + 1 if low else 0
        if epoch >= self.epochs or epoch == self.last_epoch():
            return  # the last epoch: the command's verdict (conclude) tells
        stuck = [k for k, n in self.stuck_for.items() if n >= STUCK_EPOCHS]
        if self.said or not stuck or record.get("accuracy", 0.0) <= CHANCE / self.classes:
            return  # said, nothing stuck long enough, or nothing learned (told at the end)
        self.said = True
        epochs = max(self.stuck_for[k] for k in stuck)
        self.say(f"gdkit train: warning: stuck output neuron(s) after epoch {epoch}: "
                 f"{_digits(record, stuck)} recognised in under {100 * STUCK:.0f}% of their "
                 f"test images for {epochs} epoch(s) in a row. "
                 + " ".join(self._diagnosis(record, stuck, self.costs, self.epochs)))

    def conclude(self, history: Mapping[str, Sequence[float]], row: int = -1, *,
                 label: str = "") -> tuple[str, ...]:
        """The verdict on epoch ``row`` of a finished run's ``history`` (the
        epoch it reports, described by ``label``): () when every class is
        recognised (or none is: a network that learned nothing is told
        otherwise), else three lines.

        Returns
        -------
        tuple of str
            The digits recognised in under :data:`STUCK` of their test
            images; what was measured (each one's saturation on its own
            digit, the cost's course); what to try for the run's settings.
        """
        n = len(history.get("cost", ()))
        if not n:
            return ()
        row %= n
        record = {k: float(col[row]) for k, col in history.items() if len(col) == n}
        stuck = [k for k in range(self.classes) if record.get(f"recall_{k}", 1.0) < STUCK]
        if not stuck or record.get("accuracy", 0.0) <= CHANCE / self.classes:
            return ()
        label = label or ("the last epoch" if row == n - 1 else "the epoch reported")
        head = (f"{_digits(record, stuck)} recognised in under {100 * STUCK:.0f}% of their "
                f"test images at epoch {row + 1}, {label}.")
        measured, advice = self._diagnosis(record, stuck, history["cost"], n)
        return head, measured, advice

    def _diagnosis(self, record: Mapping[str, float], stuck: list[int],
                   costs: Sequence[float], epochs: int) -> tuple[str, str]:
        """What was measured (saturation, the cost's course) and what to try."""
        saturated = [k for k in stuck
                     if record.get(f"saturated_{k}", 0.0) >= SATURATED_SHARE]
        course, trend = _course([float(c) for c in costs])
        measured = f"Measured: {_saturation(record, stuck, saturated, self.cost)} {course}"
        return measured, _advice(self, trend, bool(saturated), epochs)


def _digits(record: Mapping[str, float], stuck: list[int]) -> str:
    return "digit(s) " + ", ".join(f"{k} ({100 * record[f'recall_{k}']:.2f}%)" for k in stuck)


def _share(record: Mapping[str, float], ks: list[int]) -> str:
    return ", ".join(f"{100 * record[f'saturated_{k}']:.0f}%" for k in ks)


def _saturation(record: Mapping[str, float], stuck: list[int], saturated: list[int],
                cost: str) -> str:
    """Whether each stuck output neuron is saturated on its own digit, as measured."""
    if any(f"saturated_{k}" not in record for k in stuck):
        return "(the outputs' saturation was not measured)."
    said = []
    if saturated:
        why = ""
        if cost == "quadratic":
            why = ", where the quadratic cost's gradient (a − y)σ'(z) all but vanishes"
        elif cost in NO_SIGMA_PRIME:
            why = f", though the {cost} cost's gradient a − y carries no σ'(z)"
        said.append(f"output neuron(s) {', '.join(map(str, saturated))} saturated at the "
                    f"wrong value (near 0, σ'(z) < {FLAT_SLOPE:g}) on {_share(record, saturated)}"
                    f" of their own digit's test images{why}")
    healthy = [k for k in stuck if k not in saturated]
    if healthy:
        said.append(f"output neuron(s) {', '.join(map(str, healthy))} not saturated (σ'(z) < "
                    f"{FLAT_SLOPE:g} on only {_share(record, healthy)} of their own digit's "
                    "test images): σ' is healthy there, so they learn, if slowly")
    return "; ".join(said) + "."


def _course(costs: list[float]) -> tuple[str, str]:
    """How the cost went over the epochs, and its trend: rose, falling, stalled
    or one (a single epoch: no course yet)."""
    last = costs[-1]
    if len(costs) < 2 or not all(map(math.isfinite, costs)):
        return f"The cost after epoch {len(costs)} is {last:.4g}.", "one"
    lowest = min(costs[:-1])
    at = costs.index(lowest) + 1
    if last > costs[0] * (1 + FALLING):
        return f"The cost rose, from {costs[0]:.4g} after epoch 1 to {last:.4g}.", "rose"
    if last < lowest * (1 - FALLING):
        return (f"The cost was still falling ({costs[-2]:.4g} to {last:.4g} in the last "
                "epoch)."), "falling"
    return (f"The cost stalled: {last:.4g} after epoch {len(costs)}, not {100 * FALLING:.0f}% "
            f"below its lowest before ({lowest:.4g}, epoch {at})."), "stalled"


def _advice(watch: StuckNeurons, trend: str, saturated: bool, epochs: int) -> str:
    """What to try, for the run's step rule, cost and start."""
    step, cost = watch.step, watch.cost
    book = BOOK_ETA.get(cost) if step.plain else None
    tries = [_step_advice(step, book, trend, epochs, saturated=saturated)]
    cures = []
    if cost == "quadratic" and saturated:
        cures.append("--cost cross-entropy")
    if watch.init == "normal" and saturated:
        cures.append("--init scaled")
    if cures:
        eta = (f", with --eta {BOOK_ETA['cross-entropy']:g} as the book"
               if "--cost cross-entropy" in cures and step.eta is not None else "")
        tries.append(f"the book's cures (ch. 3): {' '.join(cures)}{eta}")
    tries = [t for t in tries if t] or ["another seed (--seed)"]
    return "Try: " + "; or ".join(tries) + "."


def _step_advice(step: StepFacts, book: float | None, trend: str, epochs: int, *,
                 saturated: bool) -> str:
    """A longer or shorter step, or more epochs, in the terms of the rule's own knob
    (a fixed η is compared with the book's, ``book``, when there is one to compare)."""
    big = trend == "rose" or (trend == "stalled" and (book is None or step.eta is None
                                                        or step.eta > book))
    more = f"more epochs than {epochs} (--epochs)" if trend in ("falling", "one") else ""
    if step.eta is not None:
        book_says = "" if book is None else f"; the book takes {book:g}"
        if big or (book is not None and step.eta > FAR * book):
            return f"a smaller η than the {step.name} rule's {step.eta:g} (--eta{book_says})"
        if more and (not saturated if book is None else step.eta < book / FAR):
            return f"a larger η than the {step.name} rule's {step.eta:g} (--eta{book_says}), " \
                   f"or {more}"
        return more
    if step.epsilon is not None:
        knob = (f"the {step.name} rule moves v by ε = {step.epsilon:g} every step whatever the "
                "gradient (η = ε/‖∇C‖), so η is not the knob: ")
        if big:
            return knob + f"a shorter step, normalized(epsilon={step.epsilon / 2:g}) in --step"
        if more:
            return knob + (f"a longer step, normalized(epsilon={2 * step.epsilon:g}) in --step, "
                           f"or {more}")
        return ""
    if more and step.name:
        return f"{more} (the {step.name} rule chooses η itself)"
    return more
