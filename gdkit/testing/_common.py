"""The vocabulary of :mod:`gdkit.testing`: limits, check names, what a check
returns (:class:`PartReport`, :class:`PluginReport`) or raises
(:class:`CheckError`), and the guard that asks for hypothesis."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, final

import numpy as np

DEFAULT_MAX_EXAMPLES: Final = 20
"""Examples hypothesis tries per check (``max_examples=`` changes it)."""

SMALL_DIM: Final = 16
"""Up to this dimension hypothesis draws every coordinate of v (and shrinks
them); above it, v comes from a drawn seed (``initial_point`` or uniform)."""

from ..gradcheck import FULL_BATCH_LIMIT as FULL_BATCH_LIMIT  # noqa: E402 - shared with check_gradient

# Check names: the second word of every failure message.
PROTOCOL: Final = "protocol"
INITIAL_POINT: Final = "initial point"
DTYPES: Final = "shapes and dtypes"
PURITY: Final = "purity"
DETERMINISM: Final = "determinism"
FINITE: Final = "finite outputs"
GRADIENT: Final = "gradient vs central differences"
MINI_BATCH: Final = "mini-batch"
COMPLEX_STEP: Final = "complex step"
DESCENT: Final = "descent (eq. 9)"
EVALUATE: Final = "evaluate"
ACCURACY: Final = "accuracy vs analytic gradient"
IN_PLACE: Final = "in place"
ZERO_GRADIENT: Final = "zero gradient"
PROGRESS: Final = "progress"
STATE: Final = "state"
BUILD: Final = "build"
REPR: Final = "repr"
REPEAT: Final = "repeated runs"
INIT: Final = "init"
ALONG: Final = "moves along d"
CHECKPOINT: Final = "checkpoint round trip"
SUFFICIENT: Final = "armijo along the direction"

OBJECTIVE_CHECKS: Final = (PROTOCOL, INITIAL_POINT, PURITY, DTYPES, DETERMINISM, FINITE,
                           GRADIENT, MINI_BATCH, COMPLEX_STEP, DESCENT, EVALUATE)
"""The checks :func:`check_objective` runs, in order."""
GRADIENT_SOURCE_CHECKS: Final = (PROTOCOL, PURITY, DTYPES, DETERMINISM, FINITE, ACCURACY,
                                 MINI_BATCH, DESCENT)
"""The checks :func:`check_gradient_source` runs, in order."""
STEP_RULE_CHECKS: Final = (PROTOCOL, REPR, PURITY, DTYPES, IN_PLACE, DETERMINISM,
                           ZERO_GRADIENT, DESCENT, PROGRESS, REPEAT, STATE)
"""The checks :func:`check_step_rule` runs, in order."""
TRANSFORM_CHECKS: Final = (PROTOCOL, REPR, INIT, DTYPES, CHECKPOINT, SUFFICIENT)
"""The checks :func:`check_transform` runs itself, in order (then
:func:`check_step_rule` on the chain of the transform and a small fixed η)."""
STEP_SIZE_CHECKS: Final = (PROTOCOL, REPR, INIT, DTYPES, ALONG, CHECKPOINT)
"""The checks :func:`check_step_size` runs itself, in order (then
:func:`check_step_rule` on the chain of the step size alone)."""

_F64: Final = np.dtype(np.float64)
_TINY: Final = 1e-300


_DEFAULT_REPR: Final = re.compile(r"^<.* object at 0x[0-9A-Fa-f]+>$")


def has_default_repr(text: str) -> bool:
    """``text`` is ``object.__repr__``'s: a type and a memory address, no setting."""
    return bool(_DEFAULT_REPR.match(text))


def part_label(part: object) -> str:
    """A part's name in messages: its repr, or its class when the repr is only an
    address (which would differ in every message naming it)."""
    text = repr(part)
    if has_default_repr(text):
        return f"{type(part).__module__}.{type(part).__qualname__} instance"
    return text


def _require_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "gdkit.testing needs hypothesis, which is not installed. Install gdkit's test "
            "extra: pip install 'gdkit[test]' (or pip install hypothesis)."
        ) from exc


# -- results -----------------------------------------------------------------
class CheckError(AssertionError):
    """A part broke a promise gdkit relies on.

    Attributes
    ----------
    part : str
        The part, as named in the message.
    check : str
        The check that failed (one of :data:`OBJECTIVE_CHECKS`,
        :data:`GRADIENT_SOURCE_CHECKS`, :data:`STEP_RULE_CHECKS`, or
        ``"build"`` when :func:`check_plugin` could not build the part).
    counterexample : str or None
        The minimal input found (hypothesis shrinks it), if any.
    """

    def __init__(self, part: str, check: str, problem: str,
                 counterexample: str | None = None) -> None:
        msg = f"{part}: check {check!r} failed: {problem}"
        if counterexample is not None:
            msg += f"\n  counterexample: {counterexample}"
        super().__init__(msg)
        self.part = part
        self.check = check
        self.counterexample = counterexample


class CheckSkippedWarning(UserWarning):
    """:func:`check_plugin` skipped a part because it was told to (``skip=``)."""


@final
@dataclass(frozen=True)
class PartReport:
    """What :func:`check_objective`, :func:`check_gradient_source` or
    :func:`check_step_rule` verified on one part.

    Attributes
    ----------
    part : str
        The part's name in messages.
    kind : str
        ``"objective"``, ``"gradient source"`` or ``"step rule"``.
    passed : tuple of str
        The checks that ran and passed.
    skipped : tuple of (str, str)
        The checks that did not apply or were skipped on request, with why.
    notes : tuple of str
        Things worth knowing that are not failures (a refused dtype...).
    """

    part: str
    kind: str
    passed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = self.part if self.part.startswith(self.kind) else f"{self.kind} {self.part}"
        lines = [f"{head}: {len(self.passed)} checks passed"]
        lines += [f"  passed:  {c}" for c in self.passed]
        lines += [f"  skipped: {c} ({why})" for c, why in self.skipped]
        lines += [f"  note:    {n}" for n in self.notes]
        return "\n".join(lines)


@final
@dataclass(frozen=True)
class PluginReport:
    """What :func:`check_plugin` verified: one :class:`PartReport` per part,
    and the parts skipped on request, with the reason given."""

    plugin: str
    parts: tuple[PartReport, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        lines = [f"gdkit.testing: {self.plugin}: {len(self.parts)} parts checked, "
                 f"{len(self.skipped)} skipped"]
        lines += [str(p) for p in self.parts]
        lines += [f"SKIPPED {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)
