"""End to end: ``gdkit train``, the installed command, on the real MNIST files."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gdkit_plugins.network import Network

import gdkit
import gdkit.checkpoint
from gdkit.checkpoint import load_checkpoint, load_model

from .helpers import QUICK_TRAIN, wait_for_output

MNIST_DIR = Path(os.environ.get(
    "GDKIT_TEST_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))

EPOCH_LINE = re.compile(
    r"^Epoch (\d+): (\d{1,3}(?:,\d{3})*) / (\d{1,3}(?:,\d{3})*) \((\d+\.\d\d)%\)"
    r"(?:  validation \d+\.\d\d%)?  cost (\d\.\d+(?:e-\d+)?)  (\d+\.\d\d) s$")

QUICK = QUICK_TRAIN  # small and quick, and it learns every digit (see tests/helpers.py)


def gdkit_cmd() -> list[str]:
    here = Path(sys.executable).parent / "gdkit"
    found = str(here) if here.exists() else shutil.which("gdkit")
    return [found] if found else [sys.executable, "-m", "gdkit.cli"]


def train(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run([*gdkit_cmd(), "train", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False, cwd=cwd)


@pytest.fixture(scope="module")
def mnist_dir() -> str:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    return str(MNIST_DIR)


@pytest.fixture(scope="module")
def quick_run(mnist_dir: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("train")
    out = train("--data", mnist_dir, *QUICK, "--seed", "3", "--log", str(tmp / "log.jsonl"),
                "--save", str(tmp / "net.npz"))
    return {"proc": out, "log": tmp / "log.jsonl", "save": tmp / "net.npz"}


def epoch_lines(stdout: str) -> list[re.Match[str]]:
    return [m for m in map(EPOCH_LINE.match, stdout.splitlines()) if m]


def test_prints_one_book_style_line_per_epoch(quick_run: dict[str, Any]) -> None:
    proc = quick_run["proc"]
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 2, proc.stdout
    matches = epoch_lines(proc.stdout)
    assert len(matches) == 2, lines
    assert [int(m[1]) for m in matches] == [1, 2]
    for m in matches:
        correct, total = int(m[2].replace(",", "")), int(m[3].replace(",", ""))
        assert total == 10_000 and 0 < correct <= total
        assert float(m[4]) == pytest.approx(100 * correct / total, abs=0.005)
    # Not a terminal: no progress bar, nothing on stderr.
    assert proc.stderr == ""


def test_log_has_one_json_line_per_epoch(quick_run: dict[str, Any]) -> None:
    records = [json.loads(ln) for ln in quick_run["log"].read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    matches = epoch_lines(quick_run["proc"].stdout)
    for rec, m in zip(records, matches, strict=True):
        assert {"epoch", "cost", "accuracy", "seconds", "correct", "total"} <= set(rec)
        assert rec["accuracy"] == rec["correct"] / rec["total"]
        assert f"{rec['correct']:,}" == m[2]
        assert rec["seconds"] > 0 and rec["cost"] > 0


def test_saved_npz_loads_without_pickle_and_reproduces_the_accuracy(
        quick_run: dict[str, Any], mnist_dir: str) -> None:
    params, meta, arrays = load_model(quick_run["save"])
    sizes = arrays["sizes"]
    with np.load(quick_run["save"], allow_pickle=False) as f:  # plain numpy reads it too
        assert set(f.files) == {"parameters", "sizes", "__meta__"}
    assert sizes.tolist() == [784, 16, 10]
    assert params.dtype == np.float64 and params.shape == (784 * 16 + 16 + 16 * 10 + 10,)
    assert meta["sizes"] == [784, 16, 10] and meta["dtype"] == "float64"
    assert meta["epochs_done"] == 2 and meta["seed"] == 3
    # The saved vector is the trained network: it scores what the last epoch printed.
    net = gdkit.objective("mnist-network", data=mnist_dir, sizes=[784, 16, 10], n_train=10)
    assert isinstance(net, Network)
    last = json.loads(quick_run["log"].read_text().splitlines()[-1])
    assert net.evaluate(params)["correct"] == last["correct"]


def test_same_seed_same_numbers(quick_run: dict[str, Any], mnist_dir: str,
                                tmp_path: Path) -> None:
    again = train("--data", mnist_dir, *QUICK, "--seed", "3", "--save", str(tmp_path / "b.npz"))
    assert again.returncode == 0, again.stderr

    def numbers(stdout: str) -> list[tuple[str, ...]]:
        return [m.groups()[:5] for m in epoch_lines(stdout)]  # all but the seconds

    assert numbers(again.stdout) == numbers(quick_run["proc"].stdout)
    with np.load(quick_run["save"]) as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_array_equal(a["parameters"], b["parameters"])


def test_float32_and_another_step_rule(mnist_dir: str, tmp_path: Path) -> None:
    out = train("--data", mnist_dir, *QUICK, "--epochs", "1", "--dtype", "float32",
                "--step", "normalized", "--step-option", "epsilon=0.5",
                "--save", str(tmp_path / "f.npz"))
    assert out.returncode == 0, out.stderr
    assert "Normalized(epsilon=0.5)" in out.stdout and len(epoch_lines(out.stdout)) == 1
    with np.load(tmp_path / "f.npz", allow_pickle=False) as f:
        assert f["parameters"].dtype == np.float32
        assert json.loads(str(f["__meta__"]))["dtype"] == "float32"


CHAIN = ("--step", "momentum,fixed", "--step-option", "momentum.beta=0.5",
         "--step-option", "fixed.eta=3.0", "--step-option", "fixed.schedule=cosine(steps=500)")


def test_a_chain_with_a_schedule_resumes_bit_for_bit_from_every_epoch_boundary(
        mnist_dir: str, tmp_path: Path) -> None:
    # 2,000 images in batches of 10: 200 steps an epoch, so the cosine
    # schedule (500 steps) is mid-way at each boundary and the momentum
    # buffer is never zero: both must come back exactly.
    run = ("--data", mnist_dir, "--epochs", "3", "--n-train", "2000", "--sizes", "784", "16",
           "10", "--seed", "5", "--init", "scaled", "-q", *CHAIN)
    full = train(*run, "--save", str(tmp_path / "full.npz"), "--log", str(tmp_path / "full.log"))
    assert full.returncode == 0, full.stderr
    assert "chain(Momentum(beta=0.5, nesterov=False), Fixed(eta=3.0, schedule=Cosine(" \
        in full.stdout
    want = load_model(tmp_path / "full.npz")[0]
    full_log = (tmp_path / "full.log").read_text().splitlines()
    for stop in (1, 2):
        ck, log = tmp_path / f"ck{stop}.npz", tmp_path / f"part{stop}.log"
        first = train(*run[:2], "--epochs", str(stop), *run[4:], "--checkpoint", str(ck),
                      "--log", str(log))
        assert first.returncode == 0, first.stderr
        again = train("--resume", str(ck), "--epochs", "3", "--allow-config-change", "--log",
                      str(log), "--save", str(tmp_path / f"part{stop}.npz"), "-q")
        assert again.returncode == 0, again.stderr
        got = load_model(tmp_path / f"part{stop}.npz")[0]
        assert got.tobytes() == want.tobytes(), f"resumed after epoch {stop}"
        strip = [json.loads(x) for x in log.read_text().splitlines()]
        assert [{k: r[k] for k in r if k != "seconds"} for r in strip] == [
            {k: r[k] for k in r if k != "seconds"} for r in map(json.loads, full_log)]


def test_missing_data_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    out = train("--data", str(missing), "--epochs", "1")
    assert out.returncode != 0
    assert out.stderr.startswith("gdkit train: error:")
    assert str(missing) in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(("args", "match"), [
    (("--step", "armijo", "--eta", "1"), "--step 'armijo(KEY=VALUE)'"),
    (("--eta", "1", "--step-option", "eta=2"), "not both"),
    (("--eta", "1", "--step", "fixed(eta=2)"), "--eta or fixed(eta=...), not both"),
    (("--step", "momentum(beta=0.5),fixd"), "Did you mean 'fixed'?"),
    (("--step", "momentum(beta=0.5"), "the '(' of 'momentum' is never closed at character 9"),
    (("--step", "no-such-rule"), "no step size named 'no-such-rule'. Known step sizes: armijo"),
    (("--step", "momentum"), "ends with the transform 'momentum'"),
    (("--step", "momentum,fixed", "--step-option", "momentm.beta=0.5"), "names the part"),
    (("--download",), "--download fetches"),
    (("--sizes", "784", "30", "9"), "start with 784"),
    (("--batch-size", "0"), "--batch-size: must be an integer >= 1, got 0."),
    (("--save", "/nonexistent-dir/x.npz"), "does not exist"),
])
def test_bad_options_fail_fast_with_a_message(args: tuple[str, ...], match: str,
                                              mnist_dir: str) -> None:
    out = train("--data", mnist_dir, *args)
    assert out.returncode in (1, 2), out.stdout + out.stderr
    assert match in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("with_tqdm", [True, False], ids=["tqdm", "plain"])
def test_progress_bar_on_a_terminal_only(with_tqdm: bool, mnist_dir: str) -> None:
    pytest.importorskip("termios")  # pseudo-terminals: POSIX only
    import fcntl
    import pty
    import struct
    import termios

    code = ("import sys\n"
            + ("" if with_tqdm else "sys.modules['tqdm'] = None  # as if not installed\n")
            + "from gdkit.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "train", "--data", mnist_dir, *QUICK],
        stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout, _ = proc.communicate(timeout=120)
    os.close(master)
    err = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert len(epoch_lines(stdout)) == 2  # stdout stays clean
    assert "\r" in err and "Epoch 1" in err and "Epoch 2" in err
    assert ("batch" in err) if with_tqdm else ("200 / 200 mini-batches" in err)


def test_sigint_mid_epoch_then_resume_matches_an_uninterrupted_run(mnist_dir: str,
                                                                   tmp_path: Path) -> None:
    # Batch size 1: an epoch of 30,000 steps lasts over a second, so the signal
    # lands mid-epoch.
    run = ("--data", mnist_dir, "--epochs", "3", "--n-train", "30000", "--sizes", "784", "16",
           "10", "--seed", "4", "--batch-size", "1", "--eta", "0.3")
    full = train(*run, "-q", "--save", str(tmp_path / "full.npz"),
                 "--log", str(tmp_path / "full.log"))
    assert full.returncode == 0, full.stderr

    ck, log, save = tmp_path / "ck.npz", tmp_path / "part.log", tmp_path / "part.npz"
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    proc = subprocess.Popen([*gdkit_cmd(), "train", *run, "--progress", "--checkpoint", str(ck),
                             "--log", str(log), "--save", str(save)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    # Epoch 1 done and saved, and epoch 2's bar past 1% (tqdm's or the plain one)
    wait_for_output(proc.stderr, r"Epoch 2:\s+[1-9]\d*%")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    where = re.search(r"interrupted by SIGINT in epoch (\d), after mini-batch ([\d,]+)", err)
    assert where, err
    resume = err.split("Resume it with:\n")[1].strip()
    assert resume == f"gdkit train --resume {ck} --log {log} --save {save}"
    saved = load_checkpoint(ck)
    assert saved.epoch == int(where[1]) - 1 and 0 < saved.position < 30000
    assert int(where[2].replace(",", "")) == saved.position  # batches of 1: the one reached
    assert not save.exists()  # --save is written when the run completes

    again = subprocess.run([*gdkit_cmd(), *resume.split()[1:]], capture_output=True, text=True,
                           env=env, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert [ln.split()[1] for ln in again.stdout.splitlines() if ln.startswith("Epoch")] == [
        f"{e}:" for e in range(int(where[1]), 4)]
    np.testing.assert_array_equal(load_model(save)[0], load_model(tmp_path / "full.npz")[0])

    def rows(path: Path) -> list[tuple[float, float]]:
        recs = [json.loads(x) for x in path.read_text().splitlines()]
        return [(r["cost"], r["accuracy"]) for r in recs]

    assert rows(log) == rows(tmp_path / "full.log")  # epochs 1-3, bit for bit


def test_resume_refuses_flags_that_change_the_run(mnist_dir: str, tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    first = train("--data", mnist_dir, *QUICK, "--epochs", "1", "-q", "--checkpoint", str(ck))
    assert first.returncode == 0, first.stderr
    out = train("--resume", str(ck), "--sizes", "784", "9", "10", "--epochs", "2")
    assert out.returncode == 1
    assert "--sizes: checkpoint [784, 16, 10], command line [784, 9, 10]" in out.stderr
    assert "--allow-config-change" in out.stderr and "Traceback" not in out.stderr
    more = train("--resume", str(ck), "--epochs", "2", "--allow-config-change", "-q")
    assert more.returncode == 0, more.stderr
    assert "Epoch 2:" in more.stdout and "Epoch 1:" not in more.stdout
    bad = train("--resume", str(tmp_path / "nope.npz"))
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_resuming_a_finished_run_says_so_and_reports_the_best_epoch_of_the_whole_run(
        mnist_dir: str, tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    first = train("--data", mnist_dir, *QUICK, "--seed", "3", "--checkpoint", str(ck))
    assert first.returncode == 0, first.stderr
    best = [ln for ln in first.stdout.splitlines() if ln.startswith("Best validation: ")]
    assert len(best) == 1
    again = train("--resume", str(ck))
    assert again.returncode == 0, again.stderr
    assert not epoch_lines(again.stdout)
    assert f"the run in {ck} is already complete (2 of 2 epochs): nothing to train" \
        in again.stderr
    assert "--allow-config-change" in again.stderr
    assert [ln for ln in again.stdout.splitlines() if ln.startswith("Best validation: ")] == best


@pytest.mark.parametrize(("extra", "said"), [
    (("--checkpoint", "{d}"), "--checkpoint: {d} is a directory"),
    (("--checkpoint", "{d}/file.txt/ck.npz"), "lies under {d}/file.txt, which is a file"),
    (("--log", "{d}/nowhere/run.log"), "the directory {d}/nowhere does not exist"),
    (("--save", "{d}/same.npz", "--checkpoint", "{d}/same.npz"),
     "--save and --checkpoint both name {d}/same.npz"),
    (("--save", "{d}/same.npz", "--log", "{d}/./same.npz"), "--save and --log both name"),
    (("--epochs", "0"), "argument --epochs: must be an integer >= 1, got 0."),
])
def test_outputs_are_checked_before_the_data_is_even_read(extra: tuple[str, ...], said: str,
                                                          tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("a file")
    missing = tmp_path / "no-mnist-here"  # reading the data would fail: it is never reached
    out = train("--data", str(missing), *(e.format(d=tmp_path) for e in extra))
    assert out.returncode == 2, out.stderr
    assert said.format(d=tmp_path) in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.splitlines()[-1].startswith("gdkit train: error: ")  # after argparse's usage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # nothing written


def test_a_log_on_a_full_disk_stops_the_run_with_one_line(mnist_dir: str,
                                                          tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.fail("this test needs /dev/full (Linux)")
    ck = tmp_path / "ck.npz"
    out = train("--data", mnist_dir, *QUICK, "--checkpoint", str(ck), "--log", "/dev/full", "-q")
    assert out.returncode == 1, out.stderr
    assert out.stderr == (f"gdkit train: error: --log: cannot write /dev/full (No space left on "
                          f"device) after epoch 1; the run stopped, its state after epoch 1 is "
                          f"in {ck}.\n")
    assert load_checkpoint(ck).epoch == 1


@pytest.mark.parametrize("how", ["SIGTERM", "closed stdout"])
def test_sigterm_or_a_closed_pipe_keeps_the_last_epoch_in_save(how: str, mnist_dir: str,
                                                               tmp_path: Path) -> None:
    save = tmp_path / "net.npz"
    args = [*gdkit_cmd(), "train", "--data", mnist_dir, "--epochs", "30", "--n-train", "3000",
            "--sizes", "784", "8", "10", "--save", str(save), "-q"]
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    wait_for_output(proc.stdout, r"Epoch 1: ")
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        proc.stdout.close()  # as `gdkit train ... | head -2` does after the first epoch
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == (143 if how == "SIGTERM" else 141), err
    # The last line (a stuck-neuron warning may come before it): the parameters of the
    # best validation epoch so far are kept.
    done = re.fullmatch(r"gdkit train: stopped \((SIGTERM|stdout closed)\) after (\d+) complete "
                        r"epoch\(s\); saved the parameters after epoch (\d+) to .*\.",
                        err.splitlines()[-1])
    assert done, err
    _, meta, _ = load_model(save)
    assert meta["epochs_done"] == int(done[2]) >= 1 and meta["interrupted"] is True
    assert 1 <= meta["epoch"] == int(done[3]) <= int(done[2])
    assert all(ln.startswith("gdkit train: warning: stuck") for ln in err.splitlines()[:-1])


def test_a_checkpoint_with_an_edited_train_setting_is_refused(mnist_dir: str,
                                                              tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    assert train("--data", mnist_dir, *QUICK, "--epochs", "1", "--checkpoint", str(ck),
                 "-q").returncode == 0
    saved = load_checkpoint(ck)
    saved.extra["train"]["seed"] = -5
    gdkit.checkpoint.save_checkpoint(ck, saved)
    out = train("--resume", str(ck))
    assert out.returncode == 1, out.stderr
    assert out.stderr == (f"gdkit train: error: checkpoint {str(ck)!r} holds a damaged train "
                          "setting (checkpoint: seed must be an integer >= 0, got -5.) Use an "
                          "earlier copy, or start afresh.\n")


def test_a_network_that_learned_nothing_is_no_success(mnist_dir: str) -> None:
    out = train("--data", mnist_dir, "--n-train", "2000", "--epochs", "1", "--step", "armijo",
                "--step-option", "c=1e-4", "-q")  # η grows until every output reads 0
    assert out.returncode == 1, out.stdout + out.stderr
    assert re.fullmatch(r"gdkit train: no success: the test accuracy \d+\.\d\d% is no better than "
                        r"guessing one of 10 classes: the network learned nothing\. Try another "
                        r"η or step rule, more epochs or more training images\.\n", out.stderr)


@pytest.mark.parametrize("after", [1, 3])
def test_an_interrupted_and_resumed_train_logs_and_prints_every_epoch_once(
        after: int, mnist_dir: str, tmp_path: Path) -> None:
    # SIGINT as soon as epoch `after`'s line is out: the signal lands at an epoch's end
    # or early in the next one; either way each epoch is printed and logged once.
    ck, log = tmp_path / "ck.npz", tmp_path / "run.jsonl"
    args = ["--data", mnist_dir, "--epochs", "5", "--n-train", "3000", "--sizes", "784", "16",
            "10", "--init", "scaled", "-q", "--checkpoint", str(ck), "--log", str(log)]
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    proc = subprocess.Popen([*gdkit_cmd(), "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    seen = wait_for_output(proc.stdout, rf"Epoch {after}: ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    first = seen + out
    again = train("--resume", str(ck), "--log", str(log), "-q")
    assert again.returncode == 0, again.stderr
    printed = [int(m) for m in re.findall(r"^Epoch (\d+):", first + again.stdout, re.M)]
    assert printed == [1, 2, 3, 4, 5]
    logged = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert logged == [1, 2, 3, 4, 5]
    assert load_checkpoint(ck).epoch == 5
