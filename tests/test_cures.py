"""The book's chapter-3 cures as parts, the stuck-neuron warning, the validation set."""

from __future__ import annotations

import argparse
import json
import pickle
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gdkit_plugins.costs import CrossEntropy, LogLikelihood, QuadraticCost
from gdkit_plugins.diagnosis import STUCK_EPOCHS
from gdkit_plugins.model import load
from gdkit_plugins.network import Network, one_hot
from gdkit_plugins.train import _Run
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, softmax

import gdkit
from gdkit.observers import EpochEnd
from gdkit.testing import CheckError, check_cost, check_plugin

from .conftest import MakeDist
from .test_bad_inputs import run
from .test_network import book_forward, small_net
from .test_train_cli import MNIST_DIR, QUICK, epoch_lines, train

COSTS = ("quadratic", "cross-entropy", "log-likelihood")


# -- the costs -------------------------------------------------------------------------

def test_the_built_in_costs_pass_the_plugin_authors_kit() -> None:
    report = check_plugin("costs", max_examples=10)
    assert sorted(p.part.split("'")[1] for p in report.parts) == sorted(COSTS)
    assert all(p.kind == "cost" for p in report.parts)


class _ForgotSigmaPrime(QuadraticCost):
    """The quadratic cost's δ without σ'(z): the commonest backprop slip."""

    def __repr__(self) -> str:
        return "ForgotSigmaPrime()"

    def delta(self, a: Any, y: Any, out: Any) -> Any:
        np.subtract(a, y, out=out)
        out /= a.shape[0]
        return out


def test_the_kit_catches_a_delta_that_is_not_the_costs_derivative() -> None:
    with pytest.raises(CheckError, match=r"ForgotSigmaPrime.*gradient vs central differences"):
        check_cost(_ForgotSigmaPrime(), max_examples=5)


def test_each_cost_is_its_formula() -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 4))
    y = one_hot(rng.integers(0, 4, 6), 4)
    a = expit(z)
    assert QuadraticCost().cost(QuadraticCost().activate(z.copy()), y) == pytest.approx(
        np.sum((a - y) ** 2) / 12, rel=1e-15)
    ce = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 6
    assert CrossEntropy().cost(CrossEntropy().activate(z.copy()), y) == pytest.approx(ce, 1e-14)
    s = softmax(z, axis=1)
    ll = -np.sum(np.log(s[y == 1])) / 6
    out = LogLikelihood().activate(z.copy())
    np.testing.assert_allclose(out, s, rtol=1e-15)
    assert LogLikelihood().cost(out, y) == pytest.approx(ll, rel=1e-14)


def test_a_saturated_wrong_output_costs_a_finite_amount() -> None:
    a = np.array([[1.0, 0.0]])
    y = np.array([[0.0, 1.0]])
    assert np.isfinite(CrossEntropy().cost(a, y))
    assert np.isfinite(LogLikelihood().cost(a, y))
    # ... and learns fastest: δ = a − y, not (a − y)σ'(z) ≈ 0.
    np.testing.assert_array_equal(CrossEntropy().delta(a, y, np.empty_like(a)), [[1.0, -1.0]])
    np.testing.assert_array_equal(QuadraticCost().delta(a, y, np.empty_like(a)), [[0.0, 0.0]])


def test_an_unknown_cost_names_the_known_ones() -> None:
    with pytest.raises(gdkit.errors.UnknownPluginError, match="Known costs: cross-entropy, "
                       "log-likelihood, quadratic"):
        gdkit.objective("network", cost="cross-entropie")


# -- the network with each cost and start ---------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(cost=st.sampled_from(COSTS), init=st.sampled_from(("normal", "scaled")),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(("float64", "float32")))
def test_backprop_matches_central_differences_for_every_cost(cost: str, init: str, seed: int,
                                                             dtype: str) -> None:
    net = gdkit.objective("network", sizes=(6, 5, 4), n_samples=12, cost=cost, init=init,
                          seed=seed % 7, dtype=dtype)
    check = gdkit.check_gradient(net, seed=seed)
    assert check.passed, str(check)


def test_the_default_network_is_the_books_quadratic_cost() -> None:
    net = small_net(n=9)
    v = net.initial_point(np.random.default_rng(3))
    a = book_forward(net, v, net.inputs)
    assert net.cost(v) == pytest.approx(np.sum((a - net.targets) ** 2) / 18, rel=1e-14)
    assert "cost=" not in repr(net) and "init=" not in repr(net)


def test_log_likelihood_outputs_are_a_softmax_of_the_last_layer() -> None:
    net = small_net(n=9, cost="log-likelihood")
    v = net.initial_point(np.random.default_rng(3))
    out = net.feedforward(v, net.inputs)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-15)
    ws, bs = net.unpack(v)
    hidden = expit(net.inputs @ ws[0].T + bs[0])
    np.testing.assert_allclose(out, softmax(hidden @ ws[1].T + bs[1], axis=1), rtol=1e-14)


def test_the_scaled_start_divides_each_weight_by_the_root_of_its_fan_in() -> None:
    normal = Network((20, 8, 3), np.zeros((1, 20)), [0])
    scaled = Network((20, 8, 3), np.zeros((1, 20)), [0], init="scaled")
    vn = normal.initial_point(np.random.default_rng(5))
    vs = scaled.initial_point(np.random.default_rng(5))
    (wn1, wn2), (bn1, bn2) = normal.unpack(vn)
    (ws1, ws2), (bs1, bs2) = scaled.unpack(vs)
    np.testing.assert_allclose(ws1, wn1 / np.sqrt(20), rtol=1e-15)
    np.testing.assert_allclose(ws2, wn2 / np.sqrt(8), rtol=1e-15)
    np.testing.assert_array_equal(bs1, bn1)
    np.testing.assert_array_equal(bs2, bn2)
    with pytest.raises(gdkit.errors.ConfigError, match="init"):
        Network((2, 2), np.zeros((1, 2)), [0], init="xavier")


def test_evaluate_reports_the_recall_of_a_stuck_output_neuron() -> None:
    net = small_net(n=60, sizes=(5, 6, 4), seed=2)
    v = net.initial_point(np.random.default_rng(0))
    _, biases = net.unpack(v)
    v[v.size - 4 + 2] = -60.0  # output neuron 2's bias: saturated at 0 on every input
    assert biases[-1][2] == -60.0
    record = net.evaluate(v)
    assert record["recall_2"] == 0.0
    predicted = book_forward(net, v, net.inputs).argmax(axis=1)
    for k in (0, 1, 3):
        assert record[f"recall_{k}"] == np.mean(predicted[net.eval_labels == k] == k)


def test_validation_accuracy_is_scored_on_the_validation_set() -> None:
    net = small_net(n=30, sizes=(5, 6, 4), seed=4)
    rng = np.random.default_rng(9)
    vx, vl = rng.random((17, 5)), rng.integers(0, 4, 17)
    with_val = Network((5, 6, 4), net.inputs, net.targets, eval_inputs=net.eval_inputs,
                       eval_labels=net.eval_labels, val_inputs=vx, val_labels=vl)
    v = net.initial_point(np.random.default_rng(0))
    expected = np.mean(book_forward(net, v, vx).argmax(axis=1) == vl)
    assert with_val.evaluate(v)["val_accuracy"] == expected
    assert "val_accuracy" not in net.evaluate(v)


# -- gdkit train: the stuck-neuron warning, early stopping, the best validation epoch -----

def _run(**overrides: Any) -> _Run:
    args = dict(sizes=[784, 30, 4], epochs=30, early_stop=None, cost="quadratic",
                init="normal", quiet=True, progress=False, resume=None, log=None, plot=None,
                checkpoint=None, save=None)
    args.update(overrides)
    return _Run(argparse.Namespace(**args))


def _epoch(run: _Run, epoch: int, record: dict[str, float]) -> bool:
    """Tell the command's observers about an epoch, as gdkit.minimize does."""
    event = EpochEnd(epoch, 10 * epoch, np.full(3, float(epoch)), 0.1,
                     {"cost": 0.1, "eta": 3.0, "seconds": 0.0, **record}, "epoch")
    stops = [bool(watcher.on_epoch(event)) for watcher in run.observers()]
    return any(stops)


def _recalls(stuck: float, saturated: float = 0.9) -> dict[str, float]:
    """Digit 1 at recall ``stuck``, its output near 0 on ``saturated`` of its images."""
    return {"accuracy": 0.7, "recall_0": 0.9, "recall_1": stuck, "recall_2": 0.8,
            "recall_3": 0.95, "saturated_0": 0.0, "saturated_1": saturated,
            "saturated_2": 0.01, "saturated_3": 0.0}


def test_a_neuron_stuck_for_ten_epochs_is_named_once(capsys: pytest.CaptureFixture[str]) -> None:
    run = _run()
    for epoch in range(1, STUCK_EPOCHS):
        _epoch(run, epoch, _recalls(0.001))
    assert "stuck" not in capsys.readouterr().err  # not yet: the book's seed 1 recovers
    _epoch(run, STUCK_EPOCHS, _recalls(0.001))
    _epoch(run, STUCK_EPOCHS + 1, _recalls(0.001))
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"gdkit train: warning: stuck output neuron(s) after epoch "
                          f"{STUCK_EPOCHS}: digit(s) 1 (0.10%) recognised in under 2% of their "
                          f"test images for {STUCK_EPOCHS} epoch(s) in a row.")
    assert "--cost cross-entropy --init scaled" in err


def test_a_neuron_that_recovers_raises_no_alarm(capsys: pytest.CaptureFixture[str]) -> None:
    run = _run()
    for epoch in range(1, 31):
        _epoch(run, epoch, _recalls(0.0 if epoch <= STUCK_EPOCHS - 1 else 0.85))
    assert capsys.readouterr().err == ""


def test_a_neuron_stuck_at_the_last_epoch_is_the_verdicts_not_a_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(epochs=3, cost="cross-entropy", init="scaled")
    rows = [_recalls(0.5 if epoch < 3 else 0.0) for epoch in (1, 2, 3)]
    for epoch, row in enumerate(rows, start=1):
        _epoch(run, epoch, row)
    assert capsys.readouterr().err == ""  # the last epoch is the verdict's (one block)
    history = {"cost": [0.3, 0.2, 0.2], **{k: [r[k] for r in rows] for k in rows[0]}}
    head, measured, advice = run.stuck.conclude(history)
    assert head == "digit(s) 1 (0.00%) recognised in under 2% of their test images at " \
                   "epoch 3, the last epoch."
    assert "though the cross-entropy cost's gradient a − y carries no σ'(z)" in measured
    assert advice == "Try: another seed (--seed)."  # both cures already taken


def test_a_network_that_learned_nothing_is_not_called_stuck(
        capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(epochs=30)
    record = {"accuracy": 0.1, "recall_0": 1.0, "recall_1": 0.0, "recall_2": 0.0,
              "recall_3": 0.0}
    for epoch in range(1, STUCK_EPOCHS + 2):
        _epoch(run, epoch, record)
    assert capsys.readouterr().err == ""
    assert run.stuck.conclude({"cost": [0.1], **{k: [v] for k, v in record.items()}}) == ()


@pytest.mark.parametrize(("curve", "patience", "stops_at", "best"), [
    ([0.50, 0.60, 0.60, 0.55, 0.58, 0.70], 2, 4, 2),  # equal is no improvement
    ([0.50, 0.60, 0.61, 0.62, 0.63, 0.64], 1, None, 6),
    ([0.90, 0.10, 0.20, 0.30, 0.95, 0.99], 3, 4, 1),
])
def test_early_stopping_stops_at_the_right_epoch(curve: list[float], patience: int,
                                                 stops_at: int | None, best: int,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(early_stop=patience, epochs=len(curve))
    stopped = None
    for epoch, val in enumerate(curve, start=1):
        if _epoch(run, epoch, {"val_accuracy": val}):
            stopped = epoch
            break
    assert stopped == stops_at
    assert run.best.epoch == (best if stops_at is None else min(best, stops_at))
    x, epoch, record = run._chosen()
    assert epoch == run.best.epoch and np.all(x == epoch) and record["val_accuracy"] == \
        curve[epoch - 1]
    if stops_at:
        assert f"has not improved for {patience} epoch(s) since epoch {run.best.epoch}" in \
            capsys.readouterr().out


@pytest.fixture(scope="module")
def data_dir() -> str:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    return str(MNIST_DIR)


def test_train_saves_the_best_validation_epoch_and_reports_its_test_figure(
        tmp_path: Path, data_dir: str) -> None:
    log, model = tmp_path / "log.jsonl", tmp_path / "net.npz"
    # η warmed up to 25 over the five epochs: the network learns every digit by epoch 2
    # (the scaled start, η ≤ 10 so far; validation 85.9%, lowest recall 70%), then η
    # grows too large and training turns chaotic: the later epochs reach at most 82%
    # and the last 73-76%. Measured (2026-12-08) the same epoch 2 on the numpy path and
    # on two compiled kernels that round differently; with η up to 60 the chaos began
    # in epoch 2, and the best epoch moved with the rounding (1, 2 or 5).
    out = train("--data", data_dir, "--epochs", "5", "--n-train", "2000", "--sizes", "784",
                "16", "10", "--init", "scaled", "--seed", "0", "--eta", "25", "--step-option",
                "schedule=warmup(steps=1000)", "--log", str(log), "--save", str(model), "-q")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    val = [r["val_accuracy"] for r in rows]
    best = int(np.argmax(val)) + 1
    assert best < len(rows) and val[best - 1] > val[-1] + 0.05  # it peaks before the end
    assert f"Best validation: epoch {best}, validation accuracy {100 * val[best - 1]:.2f}%, " \
           f"test accuracy {100 * rows[best - 1]['accuracy']:.2f}%" in out.stdout
    assert f"Saved the parameters of epoch {best} to" in out.stdout
    net = load(model)
    assert net.metadata["epoch"] == best
    assert net.metadata["record"]["val_accuracy"] == val[best - 1]
    assert all(set(r) >= {f"recall_{k}" for k in range(10)} for r in rows)
    score = net.evaluate(*_test_set(data_dir))
    assert score.accuracy == rows[best - 1]["accuracy"]


def _test_set(data: str) -> tuple[Any, Any]:
    from gdkit_plugins.model import test_set

    return test_set(data)


def test_train_takes_the_cures_by_name(data_dir: str) -> None:
    out = train("--data", data_dir, *QUICK, "--cost", "cross-entropy", "--init", "scaled",
                "--eta", "0.5", "-q")
    assert out.returncode == 0, out.stderr
    assert "cost=CrossEntropy(), init='scaled'" in out.stdout
    assert len(epoch_lines(out.stdout)) == 2
    bad = train("--data", data_dir, *QUICK, "--cost", "cross-entropie")
    assert bad.returncode == 2 and "no cost named 'cross-entropie'" in bad.stderr  # usage
    assert "Traceback" not in bad.stderr
    no_val = train("--data", data_dir, *QUICK, "--no-validate", "--early-stop", "2")
    assert no_val.returncode == 2 and "--early-stop N watches the validation accuracy" in \
        no_val.stderr


def _guide_cost() -> str:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.rst").read_text()
    block = re.search(r"hidden and output layers of sigmoids::\n\n(.*?)\n\n:func:", guide, re.S)
    assert block, "the plugin guide's cost example is missing"
    return textwrap.dedent(block[1])


def test_the_plugin_guides_cost_is_a_third_party_part_like_the_built_ins(
        make_dist: MakeDist, data_dir: str) -> None:
    site = make_dist("gdkit-mycost", "gdkit_mycost", _guide_cost())
    report = check_plugin("gdkit-mycost", max_examples=5)
    assert [p.part.split("'")[1] for p in report.parts] == ["my-cross-entropy"]
    # The same numbers as the built-in cross-entropy, through the network.
    mine = gdkit.objective("network", sizes=(5, 4, 3), cost="my-cross-entropy")
    theirs = gdkit.objective("network", sizes=(5, 4, 3), cost="cross-entropy")
    v = mine.initial_point(np.random.default_rng(0))
    np.testing.assert_allclose(mine.gradient(v), theirs.gradient(v), rtol=1e-12)
    out = run("train", "--data", data_dir, *QUICK, "--cost", "my-cross-entropy", "--eta", "0.5",
              "-q", env_extra={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert "cost=SigmoidCrossEntropy()" in out.stdout


def test_the_verdict_reads_a_real_networks_record() -> None:
    net = gdkit.objective("network", sizes=(5, 8, 4), n_samples=400, seed=1, init="scaled",
                          cost="cross-entropy")
    v = gdkit.minimize(net, step=gdkit.step_rule("fixed", eta=2.0), batch_size=10, epochs=30,
                       seed=0).x
    healthy = net.evaluate(v)
    assert min(healthy[f"recall_{k}"] for k in range(4)) > 0.5  # trained: every digit in use
    stuck_neurons = _run(epochs=1).stuck
    assert stuck_neurons.conclude({"cost": [0.1], **{k: [x] for k, x in healthy.items()}}) == ()
    v[v.size - 4 + 3] = -60.0  # output neuron 3 saturated at 0 on every input
    stuck = net.evaluate(v)
    assert stuck["recall_3"] == 0.0 and stuck["accuracy"] > 0.5
    head, measured, _ = stuck_neurons.conclude({"cost": [0.1], **{k: [x] for k, x in
                                                                  stuck.items()}})
    assert head.startswith("digit(s) 3 (0.00%) recognised in under 2%")
    assert "output neuron(s) 3 saturated at the wrong value (near 0, σ'(z) < 0.01) on 100% of " \
           "their own digit's test images" in measured



@pytest.mark.parametrize("name", COSTS)
def test_a_cost_pickles_by_its_class_alone(name: str) -> None:
    # The dask source sends the network's settings, its cost included, to
    # worker processes that import gdkit but not this test module (which
    # imports scipy's expit by name, where pickle's search for a ufunc finds it).
    cost = gdkit.cost(name)
    data = pickle.dumps(cost)
    assert b"tests" not in data and b"test_cures" not in data
    again = pickle.loads(data)
    assert type(again) is type(cost) and repr(again) == repr(cost)
