"""The one step-rule grammar (gdkit.stepspec): what it reads, what it refuses, and that
formatting a chain's spec and parsing it back gives the same chain."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdkit
from gdkit.errors import ConfigError, UnknownPartError, UnknownPluginError
from gdkit.stepspec import PartSpec, format_spec, parse_spec, read_value

SCHEDULES = (None, "step(every=10, gamma=0.5)",
             "warmup(steps=100) then cosine(steps=5000, floor=0.01)")


# -- what it reads ---------------------------------------------------------------------

def test_a_chain_of_parts_with_options_in_parentheses() -> None:
    spec = parse_spec("momentum(beta=0.9, nesterov=true),armijo(c=1e-4)")
    assert spec.parts == [PartSpec("momentum", {"beta": 0.9, "nesterov": True}),
                          PartSpec("armijo", {"c": 1e-4})]
    assert spec.legacy == {}
    assert gdkit.step_rule("momentum(beta=0.9, nesterov=true),armijo(c=1e-4)") == gdkit.chain(
        gdkit.transform("momentum", beta=0.9, nesterov=True), gdkit.step_size("armijo", c=1e-4))


@pytest.mark.parametrize("text", [
    'fixed(eta=0.5, schedule="step(every=10, gamma=0.5)")',
    "fixed(eta=0.5, schedule='step(every=10, gamma=0.5)')",
    "fixed(eta=0.5, schedule=step(every=10, gamma=0.5))",
    " fixed ( eta = 0.5 , schedule = step(every=10, gamma=0.5) ) ",
])
def test_a_schedule_is_written_quoted_or_not(text: str) -> None:
    want = gdkit.step_rule("fixed", eta=0.5, schedule="step(every=10, gamma=0.5)")
    assert gdkit.step_rule(text) == want


def test_a_schedule_in_pieces_joined_by_then() -> None:
    text = "fixed(eta=0.5, schedule=warmup(steps=100) then cosine(steps=5000, floor=0.01))"
    assert parse_spec(text).parts[0].options["schedule"] == (
        "warmup(steps=100) then cosine(steps=5000, floor=0.01)")
    assert gdkit.step_rule(text) == gdkit.step_rule(
        "fixed", eta=0.5, schedule="warmup(steps=100) then cosine(steps=5000, floor=0.01)")


@pytest.mark.parametrize(("raw", "value"), [
    ("0.5", 0.5), ("3", 3), ("-1e-4", -1e-4), ("True", True), ("false", False),
    ("None", None), ("'armijo'", "armijo"), ("long", "long"), ("(1, 10)", (1, 10)),
    ("inf", math.inf), ("-inf", -math.inf),
])
def test_values(raw: str, value: Any) -> None:
    assert read_value(raw) == value and type(read_value(raw)) is type(value)


def test_the_older_spellings_still_work_for_one_release() -> None:
    want = gdkit.chain(gdkit.transform("momentum", beta=0.9), gdkit.step_size("fixed", eta=0.05))
    assert gdkit.parse_step("momentum,fixed:eta=0.05:momentum.beta=0.9") == want  # plot valley
    assert gdkit.step_rule("momentum,fixed", **{"momentum.beta": 0.9, "eta": 0.05}) == want
    assert gdkit.step_rule("momentum(beta=0.9),fixed", eta=0.05) == want  # mixed


# -- what it refuses: one line naming the piece and its position ------------------------

@pytest.mark.parametrize(("text", "match"), [
    ("momentum(beta=0.9", r"the '\(' of 'momentum' is never closed at character 9"),
    ("momentum(beta=0.9),", r"empty part name at character 20"),
    ("momentum,,fixed", r"empty part name at character 10"),
    ("fixed(eta=)", r"expected a value at character 11"),
    ("fixed(eta=1, eta=2)", r"'fixed' is given 'eta' twice at character 14"),
    ("fixed(0.5)", r"expected an option name of 'fixed' at character 7"),
    ("fixed(eta 0.5)", r"expected '=' after the option 'eta' of 'fixed' at character 11"),
    ('fixed(schedule="cosine(steps=9)', r"unclosed quote \" at character 16"),
    ("fixed(schedule=cosine(steps=9)", r"the '\(' of 'fixed' is never closed at character 6"),
    ("fixed(schedule=cosine(steps=9", r"unclosed '\(' at character 22"),
    ("fixed extra", r"unexpected text at character 7"),
    ("(eta=1)", r"expected a part name at character 1"),
])
def test_a_malformed_spec_is_one_line_naming_the_piece_and_its_position(
        text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        gdkit.step_rule(text)
    assert "\n" not in str(info.value) and repr(text) in str(info.value)


def test_an_option_given_twice_across_spellings_is_refused() -> None:
    with pytest.raises(ConfigError, match="'eta' of 'fixed' is given twice"):
        gdkit.step_rule("fixed(eta=0.5)", eta=0.2)


def test_an_unknown_part_is_a_usage_error_and_still_an_unknown_plugin_error() -> None:
    with pytest.raises(UnknownPartError, match="Did you mean 'armijo'") as info:
        gdkit.step_rule("momentum(beta=0.5),armijio")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, UnknownPluginError)


def test_auto_is_chosen_by_a_run_not_by_name() -> None:
    with pytest.raises(ConfigError, match="chosen by a run"):
        gdkit.step_rule("auto")


# -- the round trip, for random chains of the registered parts --------------------------

def _value(name: str, default: Any) -> st.SearchStrategy[Any]:
    """Valid values of one option: near its default, of its type."""
    if name == "schedule":
        return st.sampled_from(SCHEDULES)
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(max(1, default // 2), default)
    if isinstance(default, float):
        return st.floats(0.95 * default, default)
    return st.just(default)


def _part(kind: str, name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    factory = gdkit.get_registry().parts(kind)[name].factory  # type: ignore[arg-type]
    fields = [f for f in dataclasses.fields(factory) if f.init]
    return st.tuples(st.just(name), st.fixed_dictionaries(
        {}, optional={f.name: _value(f.name, f.default) for f in fields}))


def _chains() -> st.SearchStrategy[list[tuple[str, dict[str, Any]]]]:
    reg = gdkit.get_registry()
    transforms = st.one_of(*[_part("transform", n) for n in sorted(reg.parts("transform"))])
    sizes = st.one_of(*[_part("step size", n) for n in sorted(reg.parts("step size"))])
    return st.builds(lambda ts, s: [*ts, s], st.lists(transforms, max_size=3), sizes)


@settings(max_examples=150, deadline=None)
@given(_chains())
def test_format_then_parse_gives_the_same_chain(chain: list[tuple[str, dict[str, Any]]]) -> None:
    text = format_spec(chain)
    assert [tuple(p) for p in parse_spec(text).parts] == chain
    *heads, (last, opts) = chain
    direct = gdkit.chain(*[gdkit.transform(n, **o) for n, o in heads],
                         gdkit.step_size(last, **opts))
    assert gdkit.step_rule(text) == direct
    assert repr(gdkit.step_rule(text)) == repr(direct)


def test_format_writes_infinities_it_reads_back() -> None:
    text = format_spec([("armijo", {"eta_max": math.inf})])
    assert parse_spec(text).parts[0].options["eta_max"] == math.inf
