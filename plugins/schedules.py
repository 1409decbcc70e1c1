"""Learning-rate schedules: η_k = η · s(step, epoch) for the ``fixed`` step size.

Nielsen (*Neural Networks and Deep Learning*, ch. 1) keeps the learning rate
η fixed in his derivation, but notes that in practice "η is often varied". A
schedule here is a multiplicative factor s on the base η, a pure function of
the two counters gdkit keeps (``ctx.iteration``, the steps taken over the
whole run, and ``ctx.epoch``)::

    fixed(eta=0.5, schedule="warmup(steps=100) then cosine(steps=5000, floor=0.01)")

Each schedule is a frozen dataclass with no state beyond its configuration, so
a resumed run gets exactly the η it would have had, and a checkpoint compares
schedules by their ``repr``. That is deliberate: torch.optim's schedulers keep
mutable state alongside the optimizer's and are easy to restore wrongly, e.g.
pytorch/pytorch#65342 (CosineAnnealingLR resets the learning rate on a restart
from a checkpoint) and pytorch/pytorch#29697 (MultiStepLR returns a wrong
learning rate after ``load_state_dict``).

Every schedule reads one counter t, chosen by its ``unit`` field: ``"step"``
(t = step) or ``"epoch"`` (t = epoch). :func:`parse_schedule` turns a spec
string such as ``"step(every=10, gamma=0.5)"`` into a schedule; pieces joined
by ``then`` run one after the other (:class:`Then`).
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Final, Protocol, TypeAlias, cast

from gdkit.errors import ConfigError
from gdkit.validate import choice, integer, number

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "Exponential",
    "InverseTime",
    "Schedule",
    "StepDecay",
    "Then",
    "Warmup",
    "parse_schedule",
]

_UNITS = ("step", "epoch")


class Schedule(Protocol):
    """Anything called as ``s(step, epoch)`` returning the factor on η."""

    def __call__(self, step: int, epoch: int, /) -> float: ...


def _set(obj: Any, **values: Any) -> None:
    for k, val in values.items():
        object.__setattr__(obj, k, val)


def _unit(name: str, unit: Any) -> bool:
    """Validate ``unit``; True when the schedule reads the step count."""
    return choice(name, "unit", unit, _UNITS) == "step"


@dataclass(frozen=True)
class Constant:
    """No schedule: s(t) = 1.

    Parameters
    ----------
    unit : {"step", "epoch"}, default "step"
        Unused; kept so every schedule has the same fields.
    """

    unit: str = "step"

    def __post_init__(self) -> None:
        _unit("constant", self.unit)

    def __call__(self, step: int, epoch: int) -> float:
        return 1.0


@dataclass(frozen=True)
class StepDecay:
    """Multiply by ``gamma`` every ``every`` units: s(t) = gamma ** (t // every).

    Registered as ``"step"`` (torch's StepLR; counts epochs by default).

    Parameters
    ----------
    every : int
        Units between decays, >= 1.
    gamma : float, default 0.1
        Factor per decay, 0 < gamma <= 1.
    unit : {"step", "epoch"}, default "epoch"
        The counter t.
    """

    every: int
    gamma: float = 0.1
    unit: str = "epoch"
    _by_step: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, every=integer("step", "every", self.every, minimum=1),
             gamma=number("step", "gamma", self.gamma, low=0.0, high=1.0, high_closed=True),
             _by_step=_unit("step", self.unit))

    def __call__(self, step: int, epoch: int) -> float:
        return self.gamma ** ((step if self._by_step else epoch) // self.every)


@dataclass(frozen=True)
class Exponential:
    """Exponential decay: s(t) = gamma ** t.

    Parameters
    ----------
    gamma : float
        Factor per unit, 0 < gamma <= 1.
    unit : {"step", "epoch"}, default "step"
        The counter t.
    """

    gamma: float
    unit: str = "step"
    _by_step: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, gamma=number("exponential", "gamma", self.gamma, low=0.0, high=1.0,
                                high_closed=True),
             _by_step=_unit("exponential", self.unit))

    def __call__(self, step: int, epoch: int) -> float:
        return self.gamma ** (step if self._by_step else epoch)


@dataclass(frozen=True)
class InverseTime:
    """Inverse-time decay: s(t) = 1 / (1 + decay · t).

    Registered as ``"inverse-time"``.

    Parameters
    ----------
    decay : float
        decay >= 0 (0: constant).
    unit : {"step", "epoch"}, default "step"
        The counter t.
    """

    decay: float
    unit: str = "step"
    _by_step: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, decay=number("inverse-time", "decay", self.decay, low=0.0, low_closed=True),
             _by_step=_unit("inverse-time", self.unit))

    def __call__(self, step: int, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay * (step if self._by_step else epoch))


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing from 1 down to ``floor`` over ``steps`` units, then flat:
    s(t) = floor + (1 − floor) · ½(1 + cos(π · min(t, steps) / steps)).

    Parameters
    ----------
    steps : int
        Length of the anneal in units of t, >= 1.
    floor : float, default 0.0
        The final factor, 0 <= floor <= 1.
    unit : {"step", "epoch"}, default "step"
        The counter t.
    """

    steps: int
    floor: float = 0.0
    unit: str = "step"
    _by_step: bool = field(init=False, repr=False, compare=False)
    _span: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        floor = number("cosine", "floor", self.floor, low=0.0, high=1.0, low_closed=True,
                       high_closed=True)
        _set(self, steps=integer("cosine", "steps", self.steps, minimum=1), floor=floor,
             _span=1.0 - floor, _by_step=_unit("cosine", self.unit))

    def __call__(self, step: int, epoch: int) -> float:
        n = self.steps
        t = min(step if self._by_step else epoch, n)
        return self.floor + self._span * 0.5 * (1.0 + math.cos(math.pi * t / n))


@dataclass(frozen=True)
class Warmup:
    """Linear warm-up from ``start`` to 1 over ``steps`` units, then flat:
    s(t) = start + (1 − start) · min(1, (t + 1) / steps).

    The first step (t = 0) already moves; t = steps − 1 reaches 1.

    Parameters
    ----------
    steps : int
        Length of the warm-up in units of t, >= 1.
    start : float, default 0.0
        The factor the ramp starts from, 0 <= start <= 1.
    unit : {"step", "epoch"}, default "step"
        The counter t.
    """

    steps: int
    start: float = 0.0
    unit: str = "step"
    _by_step: bool = field(init=False, repr=False, compare=False)
    _span: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        start = number("warmup", "start", self.start, low=0.0, high=1.0, low_closed=True,
                       high_closed=True)
        _set(self, steps=integer("warmup", "steps", self.steps, minimum=1), start=start,
             _span=1.0 - start, _by_step=_unit("warmup", self.unit))

    def __call__(self, step: int, epoch: int) -> float:
        t = step if self._by_step else epoch
        return self.start + self._span * min(1.0, (t + 1) / self.steps)


@dataclass(frozen=True)
class Then:
    """``first`` for t < first.steps, then ``second`` with t counted from there:
    s(t) = first(t) if t < n else second(t − n), n = first.steps.

    Spec syntax ``"a then b then c"`` builds ``Then(a, Then(b, c))``.

    Parameters
    ----------
    first : Warmup or Cosine
        The schedule that runs first (it must have a length, ``steps``).
    second : schedule
        Any schedule of this module (a :class:`Then` too), in the same unit as
        ``first``.
    """

    first: Warmup | Cosine
    second: Constant | StepDecay | Exponential | InverseTime | Cosine | Warmup | Then
    _by_step: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.first, (Warmup, Cosine)):
            raise ConfigError(
                f"then: the first part must have a length (steps=), i.e. be a warmup or a "
                f"cosine, got {self.first!r}.")
        if not isinstance(self.second, (Constant, StepDecay, Exponential, InverseTime, Cosine,
                                        Warmup, Then)):
            raise ConfigError(f"then: the second part must be a schedule of "
                              f"{', '.join(sorted(SCHEDULES))} or then, got {self.second!r}.")
        if self.first.unit != self.second.unit:
            raise ConfigError(
                f"then: {self.first!r} counts in unit={self.first.unit!r} but {self.second!r} "
                f"counts in unit={self.second.unit!r}; give both parts the same unit.")
        _set(self, _by_step=self.first.unit == "step")

    @property
    def unit(self) -> str:
        """The counter both parts read."""
        return self.first.unit

    def __call__(self, step: int, epoch: int) -> float:
        n = self.first.steps
        if self._by_step:
            return self.first(step, epoch) if step < n else self.second(step - n, epoch)
        return self.first(step, epoch) if epoch < n else self.second(step, epoch - n)


_Part: TypeAlias = Constant | StepDecay | Exponential | InverseTime | Cosine | Warmup | Then

SCHEDULES: dict[str, type[Any]] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "inverse-time": InverseTime,
    "cosine": Cosine,
    "warmup": Warmup,
}

_SYNTAX = ("a spec is NAME or NAME(key=value, ...) with literal values, pieces joined by "
           "'then', e.g. \"warmup(steps=100) then cosine(steps=5000, floor=0.01)\"")
_PIECE = re.compile(r"\s*([A-Za-z][\w-]*)\s*(?:\((.*)\))?\s*", re.DOTALL)
_THEN = re.compile(r"(?<!\S)then(?!\S)")
MAX_PIECES: Final = 100
"""The most pieces a schedule spec joins with ``then`` (each one nests a call)."""


def _keywords(piece: str, args: str) -> dict[str, Any]:
    """The keyword arguments in ``args`` (the text inside NAME(...)), literals only."""
    bad = f"schedule {piece!r}: "
    try:
        tree = ast.parse(f"_f({args})", mode="eval")
    except (SyntaxError, ValueError):
        raise ConfigError(f"{bad}cannot parse the arguments; {_SYNTAX}.") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "_f"):
        raise ConfigError(f"{bad}cannot parse the arguments; {_SYNTAX}.")
    if call.args:
        raise ConfigError(f"{bad}arguments must be given by keyword (key=value); {_SYNTAX}.")
    out: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ConfigError(f"{bad}'**' is not allowed; {_SYNTAX}.")
        if kw.arg in out:
            raise ConfigError(f"{bad}argument {kw.arg!r} is given twice.")
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ConfigError(f"{bad}the value of {kw.arg!r} ({ast.unparse(kw.value)}) is not a "
                              f"literal (a number or a quoted string); {_SYNTAX}.") from None
    return out


def _piece(piece: str) -> _Part:
    """One schedule from NAME or NAME(key=value, ...)."""
    m = _PIECE.fullmatch(piece)
    if m is None:
        raise ConfigError(f"schedule {piece.strip()!r}: cannot parse it; {_SYNTAX}.")
    name = m.group(1).lower().replace("_", "-")
    cls = SCHEDULES.get(name)
    if cls is None:
        near = difflib.get_close_matches(name, SCHEDULES, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown schedule {name!r}; known schedules: "
                          f"{', '.join(sorted(SCHEDULES))}.{hint}")
    kwargs = _keywords(piece.strip(), m.group(2)) if m.group(2) is not None else {}
    params = [f for f in fields(cls) if f.init]
    takes = ", ".join(f.name for f in params)
    for key in kwargs:
        if key not in {f.name for f in params}:
            raise ConfigError(f"{name}: unknown argument {key!r}; it takes {takes}.")
    for f in params:
        if f.name not in kwargs and f.default is MISSING:
            raise ConfigError(f"{name}: missing required argument {f.name!r}; write "
                              f"{name}({f.name}=...) (it takes {takes}).")
    return cast(_Part, cls(**kwargs))


def parse_schedule(spec: Any) -> Schedule | None:
    """A schedule from ``spec``.

    Parameters
    ----------
    spec : None, callable or str
        None (no schedule: returns None); a schedule object or any callable
        ``s(step, epoch) -> float`` (returned unchanged); or a spec string,
        ``NAME`` or ``NAME(key=value, ...)``, pieces joined by ``then``, e.g.
        ``"warmup(steps=100) then cosine(steps=5000, floor=0.01)"``. Names:
        constant, step, exponential, inverse-time, cosine, warmup ('_' may
        stand for '-').

    Returns
    -------
    schedule or None

    Raises
    ------
    ConfigError
        For anything that is not a valid schedule, naming what is wrong.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        pieces = [p.strip() for p in _THEN.split(spec)]
        if len(pieces) > MAX_PIECES:
            raise ConfigError(f"schedule: {len(pieces):,} pieces joined by 'then'; a schedule "
                              f"takes at most {MAX_PIECES}. {_SYNTAX[0].upper()}{_SYNTAX[1:]}.")
        if not all(pieces):
            raise ConfigError(f"schedule {spec!r}: an empty piece around 'then'; {_SYNTAX}.")
        parts = [_piece(p) for p in pieces]
        out: _Part = parts[-1]
        for part in reversed(parts[:-1]):
            if not isinstance(part, (Warmup, Cosine)):
                raise ConfigError(f"schedule {spec!r}: only a warmup or a cosine (which have a "
                                  f"length, steps=) can come before 'then', got {part!r}.")
            out = Then(part, out)
        return out
    if isinstance(spec, type):
        raise ConfigError(f"schedule: got the class {spec.__name__}, not a schedule; configure "
                          f"it, e.g. {spec.__name__}(...), or give a spec string.")
    if callable(spec):
        return cast(Schedule, spec)
    raise ConfigError(f"schedule must be None, a spec string such as 'cosine(steps=1000)' or a "
                      f"callable s(step, epoch), got {spec!r}.")
