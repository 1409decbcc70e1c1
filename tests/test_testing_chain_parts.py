"""check_transform and check_step_size catch each broken part by the named check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pytest

import gdkit
from gdkit.testing import CheckError, check_step_size, check_transform

FEW = 5


class Velocity(NamedTuple):
    m: np.ndarray


@dataclass(frozen=True)
class Heavy:
    """A correct transform: heavy-ball momentum."""

    beta: float = 0.5

    def init(self, v: np.ndarray) -> Velocity:
        return Velocity(np.zeros_like(v))

    def update(self, d: np.ndarray, state: Velocity, v: np.ndarray, ctx: Any) -> Velocity:
        m = state.m
        m *= self.beta
        m += d
        d[...] = m
        return state


@dataclass(frozen=True)
class AliasesV(Heavy):
    def init(self, v: np.ndarray) -> Velocity:
        return Velocity(v)  # the bug: the run's own parameters as state


@dataclass(frozen=True)
class MovesV(Heavy):
    def update(self, d: np.ndarray, state: Velocity, v: np.ndarray, ctx: Any) -> Velocity:
        v *= 0.999  # the bug: a transform touches v
        return super().update(d, state, v, ctx)


@dataclass(frozen=True)
class DictState(Heavy):
    def init(self, v: np.ndarray) -> Any:
        return {"m": np.zeros_like(v)}  # the bug: not a tuple


@dataclass(frozen=True)
class HiddenVelocity:
    """Momentum kept in an attribute: a checkpoint cannot see it."""

    beta: float = 0.5
    _m: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def init(self, v: np.ndarray) -> tuple[()]:
        return ()

    def update(self, d: np.ndarray, state: tuple[()], v: np.ndarray, ctx: Any) -> tuple[()]:
        if not self._m:
            self._m.append(np.zeros_like(v))
        self._m[0] *= self.beta
        self._m[0] += d
        d[...] = self._m[0]
        return state


class AddressRepr(Heavy):
    __repr__ = object.__repr__


class NoState(NamedTuple):
    pass


@dataclass(frozen=True)
class Small:
    """A correct step size: η = 0.1 along d."""

    eta: float = 0.1

    def init(self, v: np.ndarray) -> tuple[()]:
        return ()

    def move(self, v: np.ndarray, d: np.ndarray, state: Any, ctx: Any) -> tuple[float, Any]:
        v += self.eta * d
        return self.eta, state


@dataclass(frozen=True)
class IgnoresD(Small):
    def move(self, v: np.ndarray, d: np.ndarray, state: Any, ctx: Any) -> tuple[float, Any]:
        v -= self.eta * ctx.grad  # the bug: always along −∇C, whatever d is
        return self.eta, state


@dataclass(frozen=True)
class ScalesD(Small):
    def move(self, v: np.ndarray, d: np.ndarray, state: Any, ctx: Any) -> tuple[float, Any]:
        d *= self.eta  # the bug: the chain's direction buffer
        v += d
        return self.eta, state


def test_correct_parts_pass_and_are_checked_as_chains_too() -> None:
    t = check_transform(Heavy(), max_examples=FEW)
    assert t.passed[:6] == ("protocol", "repr", "init", "shapes and dtypes",
                            "checkpoint round trip", "armijo along the direction")
    assert "as a step rule: descent (eq. 9)" in t.passed
    s = check_step_size(Small(), max_examples=FEW)
    assert "moves along d" in s.passed and "as a step rule: repeated runs" in s.passed


@pytest.mark.parametrize(("part", "check", "says"), [
    (AliasesV(), "init", "share memory with v"),
    (MovesV(), "shapes and dtypes", "update modified v"),
    (DictState(), "init", "must be a tuple"),
    (HiddenVelocity(), "checkpoint round trip", "must be in the state"),
    (AddressRepr(), "repr", "no address"),
])
def test_broken_transforms_are_caught(part: Any, check: str, says: str) -> None:
    with pytest.raises(CheckError) as info:
        check_transform(part, max_examples=FEW)
    assert info.value.check == check, str(info.value)
    assert says in str(info.value)


@pytest.mark.parametrize(("part", "check", "says"), [
    (IgnoresD(), "moves along d", "v must move to v + η·d"),
    (ScalesD(), "shapes and dtypes", "move modified d"),
])
def test_broken_step_sizes_are_caught(part: Any, check: str, says: str) -> None:
    with pytest.raises(CheckError) as info:
        check_step_size(part, max_examples=FEW)
    assert info.value.check == check, str(info.value)
    assert says in str(info.value)


def test_every_builtin_transform_and_step_size_passes() -> None:
    reg = gdkit.get_registry()
    for name in reg.parts("transform"):
        check_transform(lambda n=name: gdkit.transform(n), max_examples=FEW)
    for name in reg.parts("step size"):
        check_step_size(lambda n=name: gdkit.step_size(n), max_examples=FEW)
