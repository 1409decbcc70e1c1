"""``gdkit train``'s final report tells the truth: a network that leaves digits (almost)
never recognised exits with status 3 after one block naming them, what was measured
(saturated, or learning slowly) and what to try for the run's own step rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gdkit_plugins.diagnosis import STUCK, StepFacts, StuckNeurons

import gdkit
from gdkit.command import EXIT_SHORTFALL

from .test_train_cli import MNIST_DIR, QUICK, train

HEAD = f"gdkit train: no plain success (exit status {EXIT_SHORTFALL}): digit(s) "


@pytest.fixture(scope="module")
def mnist_dir() -> str:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    return str(MNIST_DIR)


def _verdict(args: tuple[str, ...], tmp_path: Path) -> tuple[str, str, list[int]]:
    """Run ``gdkit train``; its stdout, its stderr and the digits its log says are
    recognised in under 2% of their test images at the best validation epoch."""
    log = tmp_path / "run.jsonl"
    out = train(*args, "--log", str(log), "-q")
    assert out.returncode == EXIT_SHORTFALL, out.stdout + out.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    best = rows[int(np.argmax([r["val_accuracy"] for r in rows]))]
    return out.stdout, out.stderr, [k for k in range(10) if best[f"recall_{k}"] < STUCK]


def _named(err: str) -> list[int]:
    """The digits the block's first line names."""
    first = err[err.index(HEAD) + len(HEAD):].split(" recognised")[0]
    return [int(item.split(" (")[0]) for item in first.split(", ")]


def test_a_run_that_leaves_digits_never_predicted_exits_3_saying_so_once(
        mnist_dir: str, tmp_path: Path) -> None:
    # η = 30 from the N(0, 1) start: four output neurons end saturated at 0 on their own
    # digits (98-100% of their images), the network at 38%: no failure, no success.
    save = tmp_path / "net.npz"
    stdout, err, stuck = _verdict(("--data", mnist_dir, *QUICK, "--init", "normal", "--eta",
                                   "30", "--save", str(save)), tmp_path)
    assert len(stuck) >= 2 and _named(err) == stuck
    assert err.startswith(HEAD) and err.count("gdkit train:") == 1  # one block, at the end
    measured, advice = err.splitlines()[1:]
    assert measured.startswith("  Measured: output neuron(s) ")
    assert "saturated at the wrong value (near 0, σ'(z) < 0.01)" in measured
    assert "where the quadratic cost's gradient (a − y)σ'(z) all but vanishes" in measured
    assert advice.startswith("  Try: a smaller η than the fixed rule's 30 (--eta; the book "
                             "takes 3)")
    assert "larger η" not in advice and "--cost cross-entropy --init scaled" in advice
    assert save.exists() and "Saved the parameters of epoch" in stdout  # the model is kept


def test_a_slow_learner_is_told_it_is_not_saturated_and_to_take_larger_steps(
        mnist_dir: str, tmp_path: Path) -> None:
    # η = 0.025 from the scaled start: the network is at 27% after two epochs, five digits
    # still at 0% while their output neurons' σ' is healthy on every one of their images.
    _, err, stuck = _verdict(("--data", mnist_dir, *QUICK, "--eta", "0.025"), tmp_path)
    assert stuck and _named(err) == stuck
    assert "not saturated (σ'(z) < 0.01 on only 0%" in err and "σ' is healthy there" in err
    assert "saturated at the wrong value" not in err
    assert "The cost was still falling" in err
    assert "Try: a larger η than the fixed rule's 0.025 (--eta; the book takes 3), or more " \
           "epochs than 2 (--epochs)." in err
    assert "smaller η" not in err and "--cost cross-entropy" not in err  # nothing to cure


def test_a_rule_whose_step_eta_does_not_set_is_advised_in_its_own_terms(
        mnist_dir: str, tmp_path: Path) -> None:
    # normalized moves v by ε = 0.01 a step whatever the gradient: slow from the scaled start.
    _, err, stuck = _verdict(("--data", mnist_dir, *QUICK, "--step", "normalized"), tmp_path)
    assert stuck and _named(err) == stuck and "σ' is healthy there" in err
    assert "the normalized rule moves v by ε = 0.01 every step whatever the gradient " \
           "(η = ε/‖∇C‖), so η is not the knob: a longer step, normalized(epsilon=0.02) in " \
           "--step, or more epochs than 2 (--epochs)." in err
    assert "--eta" not in err and "smaller η" not in err


def test_a_run_that_learns_every_digit_exits_0_without_a_word(mnist_dir: str,
                                                             tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    out = train("--data", mnist_dir, *QUICK, "--log", str(log), "-q")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert min(last[f"recall_{k}"] for k in range(10)) > 0.25  # the margin QUICK is chosen for


# -- the verdict's wording for each course of the cost and each kind of rule ---------------

def _history(costs: list[float], recall: float = 0.0, saturated: float = 0.9) -> dict[str, Any]:
    """Epochs of a 4-class network whose digit 2 is stuck (``recall``, its output near 0
    on ``saturated`` of its images) while the others are learned."""
    n = len(costs)
    row = {"accuracy": 0.7, **{f"recall_{k}": 0.9 for k in range(4)},
           **{f"saturated_{k}": 0.0 for k in range(4)}}
    row.update(recall_2=recall, saturated_2=saturated)
    return {"cost": costs, **{k: [v] * n for k, v in row.items()}}


def _conclude(history: dict[str, Any], *, step: str = "fixed", rule: Any = None,
              cost: str = "quadratic", init: str = "normal") -> tuple[str, ...]:
    rule = gdkit.step_rule(step, **({"eta": 3.0} if step == "fixed" else {})) \
        if rule is None else rule
    return StuckNeurons(4, len(history["cost"]), cost=cost, init=init,
                        step=StepFacts.of(step, rule)).conclude(history)


@pytest.mark.parametrize(("costs", "said", "advice"), [
    ([0.30, 0.40], "The cost rose, from 0.3 after epoch 1 to 0.4.",
     "Try: a smaller η than the fixed rule's 0.5 (--eta; the book takes 3)"),
    ([0.30, 0.25, 0.20], "The cost was still falling (0.25 to 0.2 in the last epoch).",
     "Try: more epochs than 3 (--epochs); or the book's cures"),
    ([0.30, 0.25, 0.2499], "The cost stalled: 0.2499 after epoch 3, not 1% below its lowest "
     "before (0.25, epoch 2).", "Try: the book's cures (ch. 3)"),
])
def test_the_cost_s_course_decides_the_step_advice(costs: list[float], said: str,
                                                   advice: str) -> None:
    rule = gdkit.step_rule("fixed", eta=0.5 if costs[-1] > costs[0] else 3.0)
    head, measured, tries = _conclude(_history(costs), rule=rule)
    assert head == f"digit(s) 2 (0.00%) recognised in under 2% of their test images at epoch " \
                   f"{len(costs)}, the last epoch."
    assert measured.endswith(said) and tries.startswith(advice)


def test_a_line_search_is_not_told_about_eta() -> None:
    _, _, tries = _conclude(_history([0.3, 0.2]), step="armijo", init="scaled",
                            cost="cross-entropy")
    assert tries == "Try: more epochs than 2 (--epochs) (the armijo rule chooses η itself)."


def test_a_saturated_normalized_run_is_told_a_shorter_step() -> None:
    _, measured, tries = _conclude(_history([0.3, 0.31]), step="normalized")
    assert "saturated at the wrong value" in measured
    assert tries.startswith("Try: the normalized rule moves v by ε = 0.01 every step whatever "
                            "the gradient (η = ε/‖∇C‖), so η is not the knob: a shorter step, "
                            "normalized(epsilon=0.005) in --step; or the book's cures (ch. 3): "
                            "--cost cross-entropy --init scaled.")


def test_every_digit_recognised_or_none_is_no_verdict() -> None:
    assert _conclude(_history([0.3, 0.2], recall=0.5)) == ()
    nothing = _history([0.3, 0.2])
    nothing["accuracy"] = [0.1, 0.1]  # chance: "learned nothing" is exit 1, said otherwise
    assert _conclude(nothing) == ()


def test_a_chain_is_not_held_to_the_books_eta() -> None:
    rule = gdkit.step_rule("momentum,fixed", **{"fixed.eta": 30.0})
    falling = _conclude(_history([0.3, 0.2]), step="momentum,fixed", rule=rule)[2]
    assert falling.startswith("Try: more epochs than 2 (--epochs); or the book's cures")
    rose = _conclude(_history([0.3, 0.4]), step="momentum,fixed", rule=rule)[2]
    assert rose.startswith("Try: a smaller η than the momentum,fixed rule's 30 (--eta); or")
