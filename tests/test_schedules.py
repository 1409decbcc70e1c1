"""Learning-rate schedules (gdkit_plugins.schedules): closed forms, Then, parsing, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
from gdkit_plugins.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    Exponential,
    InverseTime,
    StepDecay,
    Then,
    Warmup,
    parse_schedule,
)
from hypothesis import given
from hypothesis import strategies as st

from gdkit.errors import ConfigError

ts = st.integers(min_value=0, max_value=10**6)
lengths = st.integers(min_value=1, max_value=10**4)
unit_fraction = st.floats(min_value=0.0, max_value=1.0)
decay_factor = st.floats(min_value=1e-6, max_value=1.0)
units = st.sampled_from(["step", "epoch"])


def at(s: Any, t: int, unit: str, other: int = 7) -> float:
    """s evaluated with counter ``unit`` at t (the other counter set to ``other``)."""
    return float(s(t, other) if unit == "step" else s(other, t))


# --- closed forms at hand-computed points ------------------------------------------------------

def test_constant_is_one() -> None:
    assert Constant()(0, 0) == 1.0 and Constant()(10**9, 3) == 1.0


def test_step_decay_counts_epochs_by_default() -> None:
    s = StepDecay(every=10, gamma=0.5)
    assert s(0, 25) == 0.25 and s(10**6, 9) == 1.0 and s(3, 10) == 0.5
    assert StepDecay(every=10, gamma=0.5, unit="step")(25, 0) == 0.25


def test_exponential_and_inverse_time() -> None:
    assert Exponential(gamma=0.5)(3, 99) == 0.125
    assert Exponential(gamma=0.5, unit="epoch")(99, 2) == 0.25
    assert InverseTime(decay=0.01)(100, 0) == 0.5
    assert InverseTime(decay=0.0)(123, 0) == 1.0


@pytest.mark.parametrize("floor", [0.0, 0.01, 0.5, 1.0])
def test_cosine_points(floor: float) -> None:
    s = Cosine(steps=1000, floor=floor)
    assert s(0, 0) == 1.0
    assert s(500, 0) == pytest.approx((1 + floor) / 2, rel=1e-15)
    assert s(1000, 0) == pytest.approx(floor, abs=1e-15) and s(5000, 0) == s(1000, 0)
    assert s(250, 0) == pytest.approx(floor + (1 - floor) * (2 + math.sqrt(2)) / 4, rel=1e-14)


@pytest.mark.parametrize("start", [0.0, 0.1, 1.0])
def test_warmup_points(start: float) -> None:
    s = Warmup(steps=100, start=start)
    assert s(0, 0) == pytest.approx(start + (1 - start) / 100, rel=1e-15)
    assert s(49, 0) == pytest.approx(start + (1 - start) / 2, rel=1e-15)
    assert s(99, 0) == 1.0 and s(10**6, 0) == 1.0


def test_then_switches_at_the_boundary() -> None:
    s = Then(Warmup(steps=4), Cosine(steps=10))
    assert [s(k, 0) for k in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s(4, 0) == 1.0 and s(9, 0) == pytest.approx(0.5) and s(14, 0) == 0.0
    e = Then(Warmup(steps=2, unit="epoch"), StepDecay(every=1, gamma=0.5))
    assert [e(1000, k) for k in range(5)] == [0.5, 1.0, 1.0, 0.5, 0.25]


def test_a_chain_of_three() -> None:
    s = parse_schedule("warmup(steps=2) then cosine(steps=4, floor=0.5) "
                       "then exponential(gamma=0.5)")
    assert s == Then(Warmup(steps=2), Then(Cosine(steps=4, floor=0.5), Exponential(gamma=0.5)))
    assert [s(k, 0) for k in (0, 1, 2, 4, 6, 7, 8)] == [0.5, 1.0, 1.0, 0.75, 1.0, 0.5, 0.25]


# --- properties: each schedule equals its closed form ------------------------------------------

@given(t=ts, unit=units)
def test_constant_closed_form(t: int, unit: str) -> None:
    assert at(Constant(unit=unit), t, unit) == 1.0


@given(t=ts, every=lengths, gamma=decay_factor, unit=units)
def test_step_decay_closed_form(t: int, every: int, gamma: float, unit: str) -> None:
    assert at(StepDecay(every, gamma, unit), t, unit) == gamma ** math.floor(t / every)


@given(t=ts, gamma=decay_factor, unit=units)
def test_exponential_closed_form(t: int, gamma: float, unit: str) -> None:
    assert at(Exponential(gamma, unit), t, unit) == pytest.approx(math.exp(t * math.log(gamma)),
                                                                  rel=1e-9, abs=1e-300)


@given(t=ts, decay=st.floats(min_value=0.0, max_value=1e3), unit=units)
def test_inverse_time_closed_form(t: int, decay: float, unit: str) -> None:
    assert at(InverseTime(decay, unit), t, unit) == pytest.approx(1 / (1 + decay * t), rel=1e-12)


@given(t=ts, n=lengths, floor=unit_fraction, unit=units)
def test_cosine_closed_form(t: int, n: int, floor: float, unit: str) -> None:
    x = 1.0 if t >= n else t / n
    want = floor + (1 - floor) * (1 + math.cos(math.pi * x)) / 2
    got = at(Cosine(n, floor, unit), t, unit)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12) and floor <= got <= 1.0


@given(t=ts, n=lengths, start=unit_fraction, unit=units)
def test_warmup_closed_form(t: int, n: int, start: float, unit: str) -> None:
    want = 1.0 if t + 1 >= n else start + (1 - start) * (t + 1) / n
    got = at(Warmup(n, start, unit), t, unit)
    assert got == pytest.approx(want, rel=1e-12) and start <= got <= 1.0


@given(t=ts, n=lengths, m=lengths, start=unit_fraction, floor=unit_fraction, unit=units)
def test_then_is_first_then_the_shifted_second(t: int, n: int, m: int, start: float,
                                               floor: float, unit: str) -> None:
    w, c = Warmup(n, start, unit), Cosine(m, floor, unit)
    want = at(w, t, unit) if t < n else at(c, t - n, unit)
    assert at(Then(w, c), t, unit) == want


# --- purity and types --------------------------------------------------------------------------

ALL = [Constant(), StepDecay(every=3, gamma=0.5), Exponential(gamma=0.9), InverseTime(decay=0.1),
       Cosine(steps=10, floor=0.1), Warmup(steps=5, start=0.2),
       Then(Warmup(steps=5), Cosine(steps=10)), Then(Cosine(steps=3, unit="epoch"),
                                                     InverseTime(decay=1, unit="epoch"))]


@pytest.mark.parametrize("s", ALL, ids=repr)
@given(pairs=st.lists(st.tuples(ts, ts), min_size=1, max_size=20))
def test_pure_and_python_floats(s: Any, pairs: list[tuple[int, int]]) -> None:
    first = [s(k, e) for k, e in pairs]
    assert all(type(x) is float for x in first)
    assert [s(k, e) for k, e in reversed(pairs)] == first[::-1]
    assert [s(k, e) for k, e in pairs] == first


@pytest.mark.parametrize("s", ALL, ids=repr)
def test_repr_round_trips_and_is_stable(s: Any) -> None:
    ns = {c.__name__: c for c in [*SCHEDULES.values(), Then]}
    assert eval(repr(s), ns) == s and repr(eval(repr(s), ns)) == repr(s)


def test_ints_for_float_fields_are_stored_as_floats() -> None:
    assert repr(Cosine(steps=10, floor=0)) == "Cosine(steps=10, floor=0.0, unit='step')"
    assert Cosine(steps=10, floor=0) == Cosine(steps=10, floor=0.0)
    assert repr(Exponential(gamma=1)) == repr(Exponential(gamma=1.0))


# --- parsing -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected"), [
    ("constant", Constant()),
    ("cosine(steps=1000)", Cosine(steps=1000)),
    ("  cosine( steps = 1000 , floor=0.01 ) ", Cosine(steps=1000, floor=0.01)),
    ("step(every=10, gamma=0.5)", StepDecay(every=10, gamma=0.5)),
    ("inverse-time(decay=0.01)", InverseTime(decay=0.01)),
    ("inverse_time(decay=0.01, unit='epoch')", InverseTime(decay=0.01, unit="epoch")),
    ("exponential(gamma=1)", Exponential(gamma=1.0)),
    ("warmup(steps=100) then cosine(steps=5000, floor=0.01)",
     Then(Warmup(steps=100), Cosine(steps=5000, floor=0.01))),
])
def test_parse_equals_the_constructed_object(spec: str, expected: Any) -> None:
    assert parse_schedule(spec) == expected


@given(n=lengths, m=lengths, start=unit_fraction, floor=unit_fraction, unit=units)
def test_parse_of_repr_like_spec_equals_the_object(n: int, m: int, start: float, floor: float,
                                                   unit: str) -> None:
    spec = (f"warmup(steps={n}, start={start!r}, unit={unit!r}) then "
            f"cosine(steps={m}, floor={floor!r}, unit={unit!r})")
    assert parse_schedule(spec) == Then(Warmup(n, start, unit), Cosine(m, floor, unit))


def test_parse_passes_none_and_callables_through() -> None:
    s, f = Cosine(steps=3), (lambda step, epoch: 0.5)
    assert parse_schedule(None) is None
    assert parse_schedule(s) is s and parse_schedule(f) is f


@pytest.mark.parametrize(("spec", "match"), [
    ("cosin(steps=10)", r"unknown schedule 'cosin'.*constant.*warmup.*Did you mean 'cosine'"),
    ("warmpu", r"Did you mean 'warmup'"),
    ("cosine(10)", r"'cosine\(10\)'.*keyword.*NAME\(key=value"),
    ("cosine(steps=n)", r"'cosine\(steps=n\)'.*not a literal.*NAME\(key=value"),
    ("cosine(steps=__import__('os'))", r"not a literal"),
    ("cosine(**{'steps': 3})", r"'\*\*' is not allowed"),
    ("cosine(steps=1, steps=2)", r"'steps' is given twice"),
    ("cosine", r"cosine: missing required argument 'steps'"),
    ("exponential()", r"exponential: missing required argument 'gamma'"),
    ("cosine(step=10)", r"cosine: unknown argument 'step'; it takes steps, floor, unit"),
    ("cosine(steps=0)", r"cosine: steps must be an integer >= 1, got 0\."),
    ("cosine(steps=10, floor=2)", r"cosine: floor must be a number in \[0, 1\]"),
    ("warmup(steps=10, start=-0.1)", r"warmup: start must"),
    ("step(every=2.5)", r"step: every must be an integer"),
    ("exponential(gamma=0)", r"exponential: gamma must"),
    ("inverse-time(decay=-1)", r"inverse-time: decay must"),
    ("cosine(steps=10, unit='batch')", r"cosine: unit must be one of 'step', 'epoch'"),
    ("step(every=2) then cosine(steps=3)", r"only a warmup or a cosine.*before 'then'"),
    ("warmup(steps=2, unit='epoch') then cosine(steps=3)", r"then:.*same unit"),
    ("warmup(steps=2) then", r"empty piece"),
    ("cosine(steps=1), x(2", r"cannot parse"),
    ("", r"empty piece"),
    (3, r"schedule must be None, a spec string"),
    (Cosine, r"class Cosine"),
])
def test_bad_specs_raise_config_error(spec: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_schedule(spec)


def test_then_checks_its_parts_directly() -> None:
    with pytest.raises(ConfigError, match=r"then: the first part must have a length"):
        Then(StepDecay(every=2), Cosine(steps=3))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"then: the second part must be a schedule"):
        Then(Warmup(steps=2), lambda k, e: 1.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"then:.*unit='step'.*unit='epoch'"):
        Then(Warmup(steps=2), Cosine(steps=3, unit="epoch"))


@pytest.mark.parametrize("bad", [True, 0, -3, 1.0, "10", None])
def test_integer_fields_refuse_non_integers(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"warmup: steps must be an integer >= 1"):
        Warmup(steps=bad)


def test_registry_names() -> None:
    assert sorted(SCHEDULES) == ["constant", "cosine", "exponential", "inverse-time", "step",
                                 "warmup"]
