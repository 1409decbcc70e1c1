"""Nothing lost, nothing claimed that did not happen: outputs a run must not damage,
and arguments checked before any work (issue 28's cases in the core and gdkit train).

Each test failed before its fix.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gdkit
from gdkit.checkpoint import load_checkpoint, save_checkpoint
from gdkit.errors import ConfigError, PluginError

from .helpers import wait_for_output
from .test_train_cli import MNIST_DIR, QUICK, gdkit_cmd, train


@pytest.fixture(scope="module")
def mnist_dir() -> str:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    return str(MNIST_DIR)


# -- gdkit train: what a run leaves behind ----------------------------------------------
def test_a_new_run_over_an_earlier_runs_checkpoint_is_refused(mnist_dir: str,
                                                               tmp_path: Path) -> None:
    ck = tmp_path / "c.npz"
    assert train("--data", mnist_dir, *QUICK, "-q", "--checkpoint", str(ck)).returncode == 0
    before = ck.read_bytes()
    again = train("--data", mnist_dir, *QUICK, "-q", "--checkpoint", str(ck))
    assert again.returncode == 2, again.stderr
    assert again.stderr.strip().endswith("pass --overwrite to start afresh in it.")
    assert f"Continue it with --resume {ck}" in again.stderr
    assert ck.read_bytes() == before  # left as it was
    fresh = train("--data", mnist_dir, *QUICK, "-q", "--checkpoint", str(ck), "--overwrite")
    assert fresh.returncode == 0, fresh.stderr


def test_a_failed_run_never_replaces_a_saved_model(mnist_dir: str, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    assert train("--data", mnist_dir, *QUICK, "-q", "--save", str(good)).returncode == 0
    before = good.read_bytes()
    bad = train("--data", mnist_dir, *QUICK, "-q", "--eta", "100", "--epochs", "1",
                "--save", str(good))
    assert bad.returncode == 1, bad.stderr
    assert "is left as it was: this run failed" in bad.stderr
    assert good.read_bytes() == before


def test_a_log_that_cannot_be_written_still_leaves_save(mnist_dir: str, tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.fail("this test needs /dev/full (Linux)")
    save = tmp_path / "net.npz"
    out = train("--data", mnist_dir, *QUICK, "-q", "--log", "/dev/full", "--save", str(save))
    assert out.returncode == 1
    assert "saved the parameters of epoch 1" in out.stderr
    _, meta, _ = gdkit.checkpoint.load_model(save)
    assert (meta["epoch"], meta["epochs_done"], meta["interrupted"]) == (1, 1, True)


def test_a_damaged_step_option_in_a_checkpoint_is_one_line(mnist_dir: str,
                                                            tmp_path: Path) -> None:
    ck = tmp_path / "c.npz"
    assert train("--data", mnist_dir, *QUICK, "-q", "--checkpoint", str(ck)).returncode == 0
    saved = load_checkpoint(ck)
    saved.extra["train"]["step_option"] = 7
    save_checkpoint(ck, saved)
    out = train("--resume", str(ck))
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "step_option must be a list of texts" in out.stderr


# -- gdkit.minimize: arguments checked before any work ----------------------------------
@pytest.mark.parametrize(("kw", "says"), [
    ({"seed": -5}, "seed must be an integer >= 0"),
    ({"seed": 1.5}, "seed must be an integer >= 0"),
    ({"seed": "x"}, "seed must be an integer >= 0"),
    ({"observers": [5]}, "neither an observer .* nor a callback function"),
    ({"checkpoint": b"x.npz"}, "checkpoint must be a path"),
    ({"options": {"dtype": "float32"}}, "options must be a gdkit.RunOptions"),
    ({"max_iter": 10**12}, "max_iter = 1,000,000,000,000"),
])
def test_minimize_refuses_what_it_could_only_fail_on_later(kw: dict[str, object],
                                                           says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        gdkit.minimize("valley", [1.0, 1.0], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("info", "says"), [
    ({"when": object()}, "run_info must be JSON"),
    ({"blob": "x" * 5_000_000}, "run_info would take"),
])
def test_checkpointing_refuses_run_info_it_could_only_fail_on_later(info: dict[str, object],
                                                                     says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        gdkit.Checkpointing("x.npz", run_info=info)


@pytest.mark.parametrize("value", ["x", 10**400])
def test_an_evaluation_that_is_not_a_number_names_the_objective(value: object) -> None:
    class Odd(type(gdkit.objective("quadratic"))):  # type: ignore[misc]
        def evaluate(self, v: np.ndarray) -> dict[str, object]:
            return {"score": value}

    with pytest.raises(PluginError, match=r"the evaluation of .* gave 'score' is .*not a "
                                          r"number|the evaluation of .* gave"):
        gdkit.minimize(Odd(n_samples=20), batch_size=5, epochs=1)


def test_resuming_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "real.npz"
    target.parent.mkdir()
    link = tmp_path / "link.npz"
    gdkit.minimize("valley", [1.0, 1.0], step="armijo", max_iter=3, gtol=0, checkpoint=target)
    link.symlink_to(target)
    gdkit.minimize("valley", step="armijo", max_iter=6, gtol=0,
                   checkpoint=gdkit.Checkpointing(link, resume=True))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_checkpoint(target).iteration == 6


def test_a_checkpoint_too_large_to_read_is_never_written(tmp_path: Path) -> None:
    ck = tmp_path / "big.npz"
    saved = load_checkpoint(_small(tmp_path))
    saved.extra["blob"] = "x" * 5_000_000  # 20 MB as stored text: more than a reader takes
    with pytest.raises(gdkit.errors.CheckpointError, match="refusing to write"):
        save_checkpoint(ck, saved)
    assert not ck.exists()


def _small(tmp_path: Path) -> Path:
    path = tmp_path / "small.npz"
    gdkit.minimize("valley", [1.0, 1.0], max_iter=2, checkpoint=path)
    return path


def test_the_log_keeps_each_epoch_once_when_a_run_died_between_log_and_checkpoint(
        tmp_path: Path) -> None:
    # A run killed after writing epoch 3's line but before its checkpoint: the resumed
    # run redoes epoch 3, and the log holds it once.
    log, ck = tmp_path / "run.jsonl", tmp_path / "ck.npz"
    obj = gdkit.objective("quadratic", n_samples=40, seed=2)
    common = dict(batch_size=5, seed=1)
    gdkit.minimize(obj, epochs=2, checkpoint=ck, observers=[gdkit.observers.JsonLog(log)],
                   **common)  # type: ignore[arg-type]
    with log.open("a") as fh:  # the line of an epoch whose checkpoint never came
        fh.write(json.dumps({"epoch": 3, "cost": 1.0}) + "\n")
    gdkit.minimize(obj, epochs=4, checkpoint=gdkit.Checkpointing(ck, resume=True),
                   observers=[gdkit.observers.JsonLog(log)], **common)  # type: ignore[arg-type]
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    assert json.loads(log.read_text().splitlines()[2])["cost"] != 1.0


def test_a_log_pipe_without_a_reader_is_one_line_not_a_hang(mnist_dir: str,
                                                             tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    out = train("--data", mnist_dir, *QUICK, "-q", "--log", str(fifo))  # 300 s timeout
    assert out.returncode == 1
    assert out.stderr == (f"gdkit train: error: --log: cannot write {fifo}: it is a pipe with "
                          "no reader: start the reader first.\n")


def test_a_run_refused_for_a_checkpoint_in_use_leaves_the_other_runs_log_intact(
        mnist_dir: str, tmp_path: Path) -> None:
    ck, log = tmp_path / "c.npz", tmp_path / "a.jsonl"
    args = ["train", "--data", mnist_dir, "--epochs", "500", "--n-train", "3000", "--sizes",
            "784", "8", "10", "-q", "--checkpoint", str(ck), "--log", str(log)]
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    first = subprocess.Popen([*gdkit_cmd(), *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    assert first.stdout is not None
    wait_for_output(first.stdout, r"Epoch 1: ")
    second = train(*args[1:], "--overwrite")  # the same checkpoint and log, while in use
    first.send_signal(signal.SIGINT)  # the first run saves and stops
    _, err = first.communicate(timeout=300)
    assert second.returncode == 1 and "in use by process" in second.stderr, second.stderr
    assert first.returncode == 130, err
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert epochs == list(range(1, load_checkpoint(ck).epoch + 1))  # every line whole


def test_a_closed_stdout_costs_no_log_line(mnist_dir: str, tmp_path: Path) -> None:
    log = tmp_path / "p.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    proc = subprocess.Popen([*gdkit_cmd(), "train", "--data", mnist_dir, "--epochs", "30",
                             "--n-train", "2000", "--sizes", "784", "8", "10", "-q", "--log",
                             str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    wait_for_output(proc.stdout, r"Epoch 2: ")
    proc.stdout.close()  # as `| head -3` does
    _, err = proc.communicate(timeout=300)
    done = int(re.search(r"stopped \(stdout closed\) after (\d+) complete epoch", err)[1])
    assert len(log.read_text().splitlines()) == done


@pytest.mark.parametrize("gradient", ["analytic", "central"])
def test_a_float16_run_that_reaches_zero_cost_has_converged(gradient: str) -> None:
    # Issue 28 item 18: armijo on the valley in float16 reaches C = 0 exactly,
    # then found "no step among 60 trials" from there and called the run failed.
    res = gdkit.minimize("valley", step="armijo", gradient=gradient, max_iter=300,
                         options=gdkit.RunOptions(dtype=np.float16))
    assert res.success and res.fun == 0.0 and res.x.dtype == np.float16, res.message
    assert res.message.startswith("converged")
