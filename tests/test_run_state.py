"""The run state has one owner, the loop: pure step rules, one epoch loop, observers.

Each test here failed before the loop owned the run state: a chain kept its
state inside (one chain could not drive two runs), an interrupt at an epoch's
end dropped that epoch's record, and a schedule in epochs never moved in a
full-batch run.
"""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from gdkit_plugins.quadratic import Quadratic

import gdkit
import gdkit.checkpoint
from gdkit.checkpoint import load_checkpoint
from gdkit.errors import Interrupted

RULES = ["momentum,fixed", "weight-decay,armijo", "bold-driver", "barzilai-borwein",
         "clip,momentum,normalized"]


def _rule(spec: str) -> Any:
    opts = {"fixed.eta": 1e-3} if spec.endswith("fixed") else {}
    return gdkit.step_rule(spec, **opts)


@pytest.mark.parametrize("spec", RULES)
def test_one_chain_drives_two_interleaved_runs_as_two_fresh_chains_do(spec: str) -> None:
    shared = _rule(spec)
    inner: list[gdkit.Result] = []

    def interleave(intermediate_result: gdkit.Result) -> None:
        if intermediate_result.nit == 7:  # a whole second run in the middle of the first
            inner.append(gdkit.minimize("valley", [0.5, -2.0], step=shared, max_iter=25,
                                        gtol=0.0))

    outer = gdkit.minimize("rosenbrock", step=shared, max_iter=40, gtol=0.0,
                           observers=[interleave])
    alone = gdkit.minimize("rosenbrock", step=_rule(spec), max_iter=40, gtol=0.0)
    other = gdkit.minimize("valley", [0.5, -2.0], step=_rule(spec), max_iter=25, gtol=0.0)
    assert outer.x.tobytes() == alone.x.tobytes()
    np.testing.assert_array_equal(outer.history["eta"], alone.history["eta"])
    assert inner[0].x.tobytes() == other.x.tobytes()


def test_a_chain_holds_configuration_only() -> None:
    rule = gdkit.step_rule("momentum,fixed")
    gdkit.minimize("valley", [1.0, 1.0], step=rule, max_iter=5)
    assert rule == gdkit.step_rule("momentum,fixed")
    assert not hasattr(rule, "__dict__")  # slots: nothing can be kept on it by a run
    assert set(rule.__slots__) == {"_fast", "step_size", "transforms"}


def test_a_schedule_in_epochs_moves_every_step_of_a_full_batch_run() -> None:
    # A full-batch step sees every training input once: it is an epoch.
    rule = gdkit.step_rule("fixed", eta=0.1, schedule="step(every=10, gamma=0.5)")
    res = gdkit.minimize(lambda v: float(v @ v), np.ones(3), gradient=lambda v: 2 * v, step=rule,
                         max_iter=40, gtol=0)
    expected = [0.1 * 0.5 ** (k // 10) for k in range(40)]
    np.testing.assert_array_equal(res.history["eta"][:40], expected)


# -- every epoch recorded exactly once, wherever the interrupt lands -------------------
class Watch:
    """An observer keeping each epoch it is told about (and its record)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def on_epoch(self, event: gdkit.EpochEnd) -> None:
        self.seen.append((event.epoch, event.record["cost"]))


class Scored(Quadratic):
    """Least squares whose per-epoch evaluation can raise a signal."""

    def __init__(self, interrupt_in: set[int]) -> None:
        super().__init__(n_samples=120, n_features=4, seed=3)
        self.interrupt_in, self.calls = interrupt_in, 0

    def evaluate(self, v: np.ndarray) -> dict[str, float]:
        self.calls += 1
        if self.calls in self.interrupt_in:  # during the end-of-epoch evaluation
            os.kill(os.getpid(), signal.SIGINT)
        return {"norm": float(np.linalg.norm(v))}


EPOCHS = 6


def _run_with_interrupts(tmp_path: Path, where: str, at: int) -> tuple[gdkit.Result, Watch]:
    """Run EPOCHS epochs, interrupted once at ``where``/``at``, then resumed to the end."""
    ck = tmp_path / f"{where}-{at}.npz"
    watch = Watch()
    obj = Scored({at} if where == "evaluation" else set())
    fired = [False]

    def boundary(event: gdkit.EpochEnd) -> None:
        if where == "boundary" and event.epoch == at and not fired[0]:
            fired[0] = True
            os.kill(os.getpid(), signal.SIGINT)

    def progress(epoch: int, done: int, total: int) -> None:
        if where == "mid-epoch" and epoch == at and done >= total // 2 and not fired[0]:
            fired[0] = True
            os.kill(os.getpid(), signal.SIGINT)

    class Boundary:
        on_epoch = staticmethod(boundary)

    common: dict[str, Any] = dict(step="momentum,fixed", batch_size=7, epochs=EPOCHS, seed=4,
                                  observers=[SimpleNamespace(on_progress=progress), Boundary(),
                                             watch])
    with pytest.raises(Interrupted):
        gdkit.minimize(obj, checkpoint=ck, **common)
    res = gdkit.minimize(obj, checkpoint=gdkit.Checkpointing(ck, resume=True), **common)
    return res, watch


@pytest.mark.parametrize(("where", "at"), [("boundary", k) for k in range(1, EPOCHS)]
                         + [("mid-epoch", k) for k in (1, 3, EPOCHS)]
                         + [("evaluation", k) for k in (1, 4, EPOCHS)])
def test_every_epoch_is_observed_once_whenever_the_interrupt_lands(tmp_path: Path, where: str,
                                                                    at: int) -> None:
    plain = Watch()
    whole = gdkit.minimize(Scored(set()), step="momentum,fixed", batch_size=7, epochs=EPOCHS,
                           seed=4, observers=[plain])
    res, watch = _run_with_interrupts(tmp_path, where, at)
    assert [e for e, _ in watch.seen] == list(range(1, EPOCHS + 1))
    assert watch.seen == plain.seen  # the same records, bit for bit
    assert res.x.tobytes() == whole.x.tobytes()
    assert res.history["cost"].tolist() == whole.history["cost"].tolist()


def test_an_observer_that_fails_leaves_its_epoch_saved(tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"

    class Fails:
        def on_epoch(self, event: gdkit.EpochEnd) -> None:
            if event.epoch == 2:
                raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        gdkit.minimize(gdkit.objective("quadratic", n_samples=50, seed=1), batch_size=5, epochs=4,
                       checkpoint=ck, observers=[Fails()])
    assert load_checkpoint(ck).epoch == 2


def test_an_observer_stops_the_run_and_is_named() -> None:
    class Enough:
        def on_epoch(self, event: gdkit.EpochEnd) -> bool:
            return event.epoch >= 2

    res = gdkit.minimize(gdkit.objective("quadratic", n_samples=50, seed=1), batch_size=5, epochs=9,
                         observers=[Enough()])
    assert (res.epochs, res.success) == (2, False)
    assert res.message == "stopped by the observer Enough after epoch 2"


def test_a_resumed_run_with_nothing_left_reports_the_cost_it_measured(tmp_path: Path) -> None:
    ck = tmp_path / "done.npz"
    obj = gdkit.objective("quadratic", n_samples=50, seed=1)
    full = gdkit.minimize(obj, batch_size=5, epochs=5, checkpoint=ck)
    again = gdkit.minimize(obj, batch_size=5, epochs=2,
                           checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert again.fun == full.fun and again.nit == full.nit and again.epochs == 5
    assert math.isnan(again.grad_norm) and np.isnan(again.jac).all()  # no gradient computed


def test_mini_batch_max_iter_zero_takes_no_step() -> None:
    obj = gdkit.objective("quadratic", n_samples=50, seed=1)
    v0 = np.ones(obj.dim)
    res = gdkit.minimize(obj, v0, batch_size=5, epochs=2, max_iter=0)
    assert res.nit == 0 and res.x.tobytes() == v0.tobytes() and res.status == 1


# -- a run that cannot move ends at once, and says so ------------------------------------
def test_a_v_that_no_step_moves_ends_the_run_with_precision_lost() -> None:
    # η·∇C far below the rounding of v = 1e8: every fixed step leaves v as it was.
    res = gdkit.minimize(lambda v: float(v @ v), np.full(3, 1e8), gradient=lambda v: 2 * v,
                         step=gdkit.step_rule("fixed", eta=1e-30), max_iter=5000, gtol=0)
    assert res.status == gdkit.result.PRECISION_LOST and not res.success
    assert res.nit == 100  # FROZEN_STEPS, not max_iter
    assert res.message.startswith("precision lost: v has not changed in the last 100 steps")


def test_a_line_search_that_cannot_move_ends_with_its_own_status() -> None:
    # The stall case of issue 26: armijo near the minimum of a sum of log-cosh terms.
    a = np.random.default_rng(5).standard_normal((40, 7))
    b = np.random.default_rng(6).standard_normal(40)

    def cost(v: np.ndarray) -> float:
        return float(np.mean(np.log(np.cosh(a @ v - b)))) + 0.01 * float(np.sum(v**4))

    def jac(v: np.ndarray) -> np.ndarray:
        return a.T @ np.tanh(a @ v - b) / 40 + 0.04 * v**3

    res = gdkit.minimize(cost, np.random.default_rng(7).standard_normal(7), gradient=jac,
                         step=gdkit.step_rule("armijo", c=0.1), gtol=1e-14, max_iter=50_000)
    assert res.nit < 1000
    assert res.status in (gdkit.result.PRECISION_LOST, gdkit.result.CONVERGED), res.message
    if res.status == gdkit.result.PRECISION_LOST:
        assert "precision lost" in res.message and not res.success


def test_the_loop_reuses_what_the_wolfe_search_evaluated_at_the_accepted_point() -> None:
    costs: list[bytes] = []
    grads: list[bytes] = []
    obj = gdkit.objective("rosenbrock")

    def cost(v: np.ndarray) -> float:
        costs.append(v.tobytes())
        return float(obj.cost(v))

    def jac(v: np.ndarray) -> np.ndarray:
        grads.append(v.tobytes())
        return np.asarray(obj.gradient(v))

    res = gdkit.minimize(cost, [-1.2, 1.0], gradient=jac, step="lbfgs,wolfe", gtol=1e-9)
    assert res.success
    assert (res.nfev, res.ngev) == (len(costs), len(grads))  # every evaluation counted once
    assert len(set(grads)) == len(grads)  # ∇C never taken twice at one point
    assert len(set(costs)) == len(costs)


# -- identity by configuration, not repr -----------------------------------------------
def test_parts_are_identified_by_their_configuration_not_their_repr(tmp_path: Path) -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Shrink:
        """A step size whose repr shows a setting that does not change the numbers."""

        eta: float = 0.1
        label: str = field(default="", compare=False)  # for people only

        def init(self, v: np.ndarray) -> tuple[()]:
            return ()

        def move(self, v: np.ndarray, d: np.ndarray, state: tuple[()],
                 ctx: Any) -> tuple[float, tuple[()]]:
            v += self.eta * d
            return self.eta, state

    ck = tmp_path / "ck.npz"
    gdkit.minimize("valley", [1.0, 1.0], step=gdkit.chain(Shrink(label="first try")),
                   max_iter=5, gtol=0, checkpoint=ck)
    # another label: the same configuration, so the run resumes
    res = gdkit.minimize("valley", step=gdkit.chain(Shrink(label="renamed")), max_iter=10,
                         gtol=0, checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert res.nit == 10
    # another eta: refused, and the message shows the reprs
    with pytest.raises(gdkit.errors.CheckpointError,
                       match=r"step part 1: saved .*Shrink\(eta=0.1, label='first try'\), now "
                             r".*Shrink\(eta=0.2, label='renamed'\)"):
        gdkit.minimize("valley", step=gdkit.chain(Shrink(eta=0.2, label="renamed")),
                       max_iter=10, gtol=0, checkpoint=gdkit.Checkpointing(None, resume=ck))


def test_a_checkpoint_that_saved_reprs_is_still_compared_by_repr(tmp_path: Path) -> None:
    ck = tmp_path / "old.npz"
    gdkit.minimize("valley", [1.0, 1.0], step="momentum,fixed", max_iter=5, checkpoint=ck)
    saved = load_checkpoint(ck)
    for key in ("objective", "gradient", "step"):  # as gdkit wrote them before
        saved.config[key] = saved.config.pop(f"{key}_repr")
    gdkit.checkpoint.save_checkpoint(ck, saved)
    assert gdkit.minimize("valley", step="momentum,fixed", max_iter=8,
                          checkpoint=gdkit.Checkpointing(None, resume=ck)).nit == 8
    with pytest.raises(gdkit.errors.CheckpointError, match=r"step part 1: saved Momentum"):
        gdkit.minimize("valley", step=gdkit.step_rule("momentum,fixed", **{"momentum.beta": 0.5}),
                       max_iter=8, checkpoint=gdkit.Checkpointing(None, resume=ck))
