"""Small instances of every built-in objective, for tests that run each part
on each objective (as optimistix's tests/helpers.py does)."""

from __future__ import annotations

import codecs
import os
import re
import select
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

import gdkit
from gdkit.protocols import ComplexCost, Objective

# name -> options making a small instance. A new built-in objective must be
# added here: test_every_builtin_objective_has_a_small_instance fails otherwise.
SMALL: dict[str, dict[str, Any]] = {
    "quadratic": {"n_samples": 30, "n_features": 3, "n_outputs": 2},
    "valley": {},
    "rosenbrock": {"dim": 4},
    "network": {"sizes": [3, 4, 2], "n_samples": 10},
}
# Built-ins deliberately not in SMALL, with the reason (they are tested elsewhere).
EXEMPT: dict[str, str] = {
    "mnist-network": "needs the MNIST files and has ~24k parameters: tests/test_network.py "
                     "checks its backprop against central differences instead",
}

FD_SOURCES = ("forward", "central", "complex-step")

# gdkit train's quick run: 2,000 training images, 2 epochs, a [784, 16, 10] network from the
# scaled start (weights N(0, 1/n_in), the book's ch. 3), which learns every digit with margin:
# its lowest digit recall at seeds 0-9 is 51-81% (measured 2026-12-07; exit status 3 needs one
# under 2%). From the N(0, 1) start these sizes leave a digit at 0% at seeds 0 and 2, and a
# network with 8 hidden neurons or one epoch of 500 images leaves one at almost every seed.
QUICK_TRAIN = ("--epochs", "2", "--n-train", "2000", "--sizes", "784", "16", "10",
               "--init", "scaled")


def wait_for_output(stream: IO[str], pattern: str, timeout: float = 300.0) -> str:
    """Read ``stream`` (a child's pipe) until ``pattern`` appears in it; the
    text read. A condition, not a sleep: it holds however slow the machine,
    and it gives up after ``timeout`` seconds rather than wait forever.

    It reads the pipe's file descriptor directly, so nothing is left in the
    text wrapper's buffer: ``proc.communicate()`` afterwards returns exactly
    the output after what this returned (``seen + out`` is all of it)."""
    fd = stream.fileno()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    deadline = time.monotonic() + timeout
    seen, start = "", 0
    while not re.search(pattern, seen[start:]):
        start = max(0, len(seen) - 300)  # a match may straddle two reads
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(
                f"{pattern!r} did not appear within {timeout:g} s:\n{seen[-2000:]}")
        data = os.read(fd, 4096)
        if not data:
            raise AssertionError(f"the output ended before {pattern!r} appeared:\n{seen[-2000:]}")
        seen += decoder.decode(data)
    return seen


def small(name: str) -> Objective:
    return gdkit.objective(name, **SMALL[name])


def supported_sources(name: str) -> list[str]:
    """The gradient sources that apply to the objective ``name``."""
    obj = small(name)
    sources = ["analytic", "forward", "central"]
    if isinstance(obj, ComplexCost):
        sources.append("complex-step")
    return sources


def pairs(sources: Callable[[str], list[str]] = supported_sources) -> list[tuple[str, str]]:
    return [(name, src) for name in SMALL for src in sources(name)]


class Stepper:
    """A pure step rule driven by hand for one run, as the loop drives it:
    ``Stepper(rule).step(v, g, ctx)`` returns η; ``state_dict()`` the state."""

    def __init__(self, rule: Any) -> None:
        self.rule, self.state = rule, None

    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        if self.state is None:
            self.state = self.rule.init(v)
        eta, self.state = self.rule.update(v, grad, self.state, ctx)
        return float(eta)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.rule.state_dict(self.state))
