"""Checkpoint, resume and interruption: an interrupted run loses nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdkit
import gdkit.checkpoint
from gdkit.checkpoint import atomic_savez, load_checkpoint
from gdkit.errors import CheckpointError, ConfigError


def sgd(**kw: object) -> gdkit.Result:
    q = gdkit.objective("quadratic", n_samples=64, seed=3)
    args: dict[str, object] = {"step": gdkit.step_rule("fixed", eta=0.05), "batch_size": 5,
                               "epochs": 4, "seed": 11}
    args.update(kw)
    return gdkit.minimize(q, **args)  # type: ignore[arg-type]


def same_run(a: gdkit.Result, b: gdkit.Result) -> None:
    np.testing.assert_array_equal(a.x, b.x)
    assert a.nit == b.nit and a.epochs == b.epochs
    for key in a.history:
        if key != "seconds":  # timing is the one thing a resume cannot repeat
            np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)


def test_checkpoint_holds_the_whole_state(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    res = sgd(checkpoint=gdkit.Checkpointing(path, run_info={"who": "test"}))
    ck = load_checkpoint(path)
    np.testing.assert_array_equal(ck.v, res.x)
    assert (ck.mode, ck.epoch, ck.iteration, ck.position, ck.perm) == ("epoch", 4, res.nit, 0,
                                                                       None)
    assert ck.history["cost"] == res.history.cost.tolist()
    # a chain, part by part: by configuration (compared), with the repr (shown)
    assert ck.config["step"] == [{"type": "Fixed", "fields": {"eta": 0.05, "schedule": None}}]
    assert ck.config["step_repr"] == ["Fixed(eta=0.05, schedule=None)"]
    assert ck.config["batch_size"] == 5
    assert ck.extra == {"who": "test"}
    assert ck.rng_state is not None and ck.rng_state["bit_generator"] == "PCG64"


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_resume_from_every_epoch_boundary_is_bit_for_bit(tmp_path: Path, stop_after: int) -> None:
    full = sgd()
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=stop_after)
    resumed = sgd(checkpoint=gdkit.Checkpointing(None, resume=path), epochs=4)
    same_run(full, resumed)


@pytest.mark.parametrize("rule", ["armijo", "bold-driver", "barzilai-borwein",
                                  "momentum,armijo", "clip,momentum,fixed"])
def test_resume_keeps_an_adaptive_rules_state(tmp_path: Path, rule: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Momentum's restart (on by default in full batch) zeroes the velocity
    # whenever it turns uphill, which on this run happens at the resumed step
    # itself, so the state that must survive the checkpoint is not tested
    # there: the plain heavy ball is.
    options = {"momentum.restart": False} if rule == "clip,momentum,fixed" else {}

    def run(**kw: object) -> gdkit.Result:
        return gdkit.minimize("rosenbrock", v0=kw.pop("v0", None),
                              step=gdkit.parse_step(rule, options),
                              gtol=0.0, seed=2, **kw)  # type: ignore[arg-type]

    full = run(max_iter=60)
    path = tmp_path / "fb.npz"
    run(max_iter=30, checkpoint=gdkit.Checkpointing(path, every=30))
    assert load_checkpoint(path).rule_state  # something to restore
    resumed = run(max_iter=60, checkpoint=gdkit.Checkpointing(None, resume=path))
    # η of the very first step after the resume, then every later one
    assert resumed.history["eta"][30] == full.history["eta"][30]
    np.testing.assert_array_equal(resumed.history["eta"], full.history["eta"])
    np.testing.assert_array_equal(resumed.x, full.x)
    # Without its state the rule would have stepped differently right there:
    monkeypatch.setattr(gdkit.Chain, "load_state", lambda self, v, saved: self.init(v))
    forgetful = run(max_iter=60, checkpoint=gdkit.Checkpointing(None, resume=path))
    assert forgetful.x.tobytes() != full.x.tobytes()


def test_a_run_shorter_than_checkpoint_every_still_leaves_its_final_state(
        tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    res = gdkit.minimize("valley", step="armijo", max_iter=7,
                         checkpoint=gdkit.Checkpointing(path, every=100))
    saved = load_checkpoint(path)
    assert saved.iteration == res.nit == 7
    np.testing.assert_array_equal(saved.v, res.x)
    assert len(saved.history["cost"]) == 7  # rows of v_0 .. v_6; v_7's is recomputed


def test_full_batch_resume_is_bit_for_bit(tmp_path: Path) -> None:
    def run(**kw: object) -> gdkit.Result:
        return gdkit.minimize("rosenbrock", step=gdkit.step_rule("armijo"), gtol=0.0,
                              **kw)  # type: ignore[arg-type]

    full = run(max_iter=250)
    path = tmp_path / "fb.npz"
    run(max_iter=137, checkpoint=gdkit.Checkpointing(path, every=20))
    assert load_checkpoint(path).iteration == 137  # the final state, not the last multiple
    resumed = run(max_iter=250, checkpoint=gdkit.Checkpointing(None, resume=path))
    np.testing.assert_array_equal(full.x, resumed.x)
    for key in ("cost", "grad_norm", "eta"):
        np.testing.assert_array_equal(full.history[key], resumed.history[key])


def test_resume_with_another_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    with pytest.raises(CheckpointError, match=r"step part 1: saved Fixed\(eta=0.05, "
                                              r"schedule=None\), now Fixed\(eta=0.1, "
                                              r"schedule=None\).*allow_config_change"):
        sgd(checkpoint=gdkit.Checkpointing(None, resume=path),
            step=gdkit.step_rule("fixed", eta=0.1))
    with pytest.raises(CheckpointError, match="batch_size: saved 5, now 8"):
        sgd(checkpoint=gdkit.Checkpointing(None, resume=path), batch_size=8)
    with pytest.raises(CheckpointError, match="holds 8 parameters"):
        gdkit.minimize(gdkit.objective("quadratic", n_features=5),
                       checkpoint=gdkit.Checkpointing(None, resume=path), batch_size=5)
    res = sgd(checkpoint=gdkit.Checkpointing(None, resume=path, allow_config_change=True),
              step=gdkit.step_rule("fixed", eta=0.1))
    assert res.epochs == 4


def test_resume_on_other_data_with_the_same_repr_is_refused(tmp_path: Path) -> None:
    # Another seed draws another synthetic problem; the repr (the sizes) is the
    # same, so only the probe cost at the saved parameters tells them apart.
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    other = gdkit.objective("quadratic", n_samples=64, seed=4)
    assert repr(other) == repr(gdkit.objective("quadratic", n_samples=64, seed=3))
    args = {"step": gdkit.step_rule("fixed", eta=0.05), "batch_size": 5, "epochs": 4,
            "seed": 11}
    with pytest.raises(CheckpointError, match=r"not the one the run was saved with.*probe "
                                              r"batch.*allow_config_change"):
        gdkit.minimize(other, checkpoint=gdkit.Checkpointing(None, resume=path),
                       **args)  # type: ignore[arg-type]
    res = gdkit.minimize(other, checkpoint=gdkit.Checkpointing(None, resume=path,
                                                               allow_config_change=True),
                         **args)  # type: ignore[arg-type]
    assert res.epochs == 4
    # the same objective still resumes, bit for bit
    same_run(sgd(checkpoint=gdkit.Checkpointing(None, resume=path)), sgd())


def test_a_changed_callable_objective_is_caught_on_full_batch_resume(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    gdkit.minimize(lambda v: float(v @ v), [3.0, 4.0], gradient="central", step="fixed",
                   max_iter=10, checkpoint=gdkit.Checkpointing(path, every=5))
    with pytest.raises(CheckpointError, match="not the one the run was saved with"):
        gdkit.minimize(lambda v: float(2 * v @ v), gradient="central", step="fixed", max_iter=20,
                       checkpoint=gdkit.Checkpointing(None, resume=path))
    res = gdkit.minimize(lambda v: float(v @ v), gradient="central", step="fixed", max_iter=20,
                         checkpoint=gdkit.Checkpointing(None, resume=path))
    assert res.nit == 20


def test_resume_and_v0_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    with pytest.raises(ConfigError, match="either v0 or a checkpoint to resume"):
        sgd(checkpoint=gdkit.Checkpointing(None, resume=path), v0=np.zeros(8))


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    before = path.read_bytes()

    class Boom(BaseException):
        pass

    class Exploding:
        def __array__(self, *a: object, **k: object) -> np.ndarray:
            raise Boom

    with pytest.raises(Boom):
        atomic_savez(path, {"v": Exploding()}, {})  # type: ignore[dict-item]
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # no temporary left


def test_an_interrupt_just_after_the_temporary_is_created_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second Ctrl-C can land between the open() that creates the temporary
    # and the code that would remove it (this once stranded a .tmp file).
    path = tmp_path / "run.npz"
    real_open = os.open

    def open_then_interrupt(*args: Any, **kwargs: Any) -> int:
        fd = real_open(*args, **kwargs)
        os.close(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_savez(path, {"v": np.zeros(3)}, {})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[: len(b) // 2], "unreadable or corrupt"),
    (lambda b: b"PK\x03\x04" + bytes(100), "unreadable or corrupt"),
    (lambda b: b"", "not a gdkit checkpoint: it is an empty file"),
])
def test_damaged_checkpoints_raise_checkpoint_error(tmp_path: Path, damage: object,
                                                    message: str) -> None:
    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(CheckpointError, match=rf"run\.npz.*{message}"):
        load_checkpoint(path)


def test_foreign_and_future_npz_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(CheckpointError, match=r"foreign\.npz.*not a gdkit checkpoint"):
        load_checkpoint(foreign)
    future = tmp_path / "future.npz"
    atomic_savez(future, {"v": np.zeros(2)}, {"format": "gdkit.checkpoint", "version": 99})
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(future)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.npz")


def test_no_pickle_anywhere_in_gdkit() -> None:
    import gdkit_plugins

    roots = [Path(gdkit.__file__).parent, Path(gdkit_plugins.__file__).parent]
    for root in roots:
        for path in root.rglob("*.py"):
            text = path.read_text()
            assert "import pickle" not in text, path
            assert "allow_pickle=True" not in text, path


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_checkpoints_only_raise_checkpoint_error(tmp_path_factory: pytest.TempPathFactory,
                                                        data: st.DataObject) -> None:
    base = tmp_path_factory.getbasetemp() / "fuzz-base.npz"
    if not base.exists():
        sgd(checkpoint=base, epochs=1)
    good = base.read_bytes()
    kind = data.draw(st.sampled_from(["truncate", "flip", "random"]))
    if kind == "truncate":
        blob = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(0, len(good) - 1))
        blob = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1:]
    else:
        blob = data.draw(st.binary(max_size=2000))
    path = tmp_path_factory.mktemp("fuzz") / "ck.npz"
    path.write_bytes(blob)
    try:
        ck = load_checkpoint(path)
    except CheckpointError:
        return
    assert ck.v.ndim == 1  # a flip that leaves the file valid (e.g. in a timestamp)


SCRIPT = """
import sys
from types import SimpleNamespace
import gdkit
import gdkit.checkpoint
q = gdkit.objective("quadratic", n_samples=200_000, n_features=20, seed=3)
step = gdkit.step_rule("fixed", eta=0.01)

def progress(epoch, done, total):
    if epoch == 1 and done == 30 * total // 100:
        print("midway", flush=True)

try:
    gdkit.minimize(q, step=step, batch_size=4, epochs=2, seed=5, checkpoint=sys.argv[1],
                   observers=[SimpleNamespace(on_progress=progress)])
except gdkit.errors.Interrupted as exc:
    print(exc, file=sys.stderr)
    sys.exit(128 + exc.signum)
print("finished", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_epoch_saves_and_resume_matches_an_uninterrupted_run(
        tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    path = tmp_path / "ck.npz"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "midway", proc.stderr.read() if proc.stderr else ""
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (out, err)
    assert f"interrupted by {sig.name} in epoch 1" in err and "resume=" in err
    ck = load_checkpoint(path)
    assert ck.epoch == 0 and 0 < ck.position < 200_000 and ck.perm is not None

    q = gdkit.objective("quadratic", n_samples=200_000, n_features=20, seed=3)
    step = gdkit.step_rule("fixed", eta=0.01)
    resumed = gdkit.minimize(q, step=step, batch_size=4, epochs=2, seed=5,
                             checkpoint=gdkit.Checkpointing(None, resume=path))
    full = gdkit.minimize(q, step=step, batch_size=4, epochs=2, seed=5)
    same_run(full, resumed)


def test_a_second_signal_leaves_at_once_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    path = tmp_path / "ck.npz"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "midway"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.001)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    if path.exists():  # the first signal's checkpoint, complete, or none at all
        load_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fuzzed_saved_models_only_raise_checkpoint_error(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    from gdkit.checkpoint import load_model, save_model

    base = tmp_path_factory.getbasetemp() / "model-base.npz"
    if not base.exists():
        save_model(base, np.linspace(0, 1, 50), {"sizes": [4, 5, 2]},
                   sizes=np.array([4, 5, 2]))
    good = base.read_bytes()
    cut = data.draw(st.integers(0, len(good) - 1))
    flip = data.draw(st.integers(0, 255))
    blob = bytearray(good[:cut] if data.draw(st.booleans()) else good)
    if blob:
        blob[cut % len(blob)] ^= flip
    path = tmp_path_factory.mktemp("model") / "m.npz"
    path.write_bytes(bytes(blob))
    try:
        params, meta, _ = load_model(path)
    except CheckpointError as exc:
        message = str(exc)
    else:
        assert params.ndim == 1 and meta["format"] == "gdkit.model"
        return
    assert "m.npz" in message


def test_a_checkpoint_is_not_a_model(tmp_path: Path) -> None:
    from gdkit.checkpoint import load_model

    path = tmp_path / "run.npz"
    sgd(checkpoint=path, epochs=1)
    with pytest.raises(CheckpointError, match="not a gdkit saved model"):
        load_model(path)


class AdaptiveRule:
    """A third-party step rule of the monolithic kind, with Stateful methods."""

    def __init__(self) -> None:
        self.eta = 1e-4

    def __repr__(self) -> str:
        return "AdaptiveRule()"

    def reset(self) -> None:
        self.eta = 1e-4

    def get_state(self) -> dict[str, float]:
        return {"eta": self.eta}

    def set_state(self, state: dict[str, float]) -> None:
        self.eta = float(state["eta"])

    def step(self, v: np.ndarray, grad: np.ndarray, ctx: object) -> float:
        eta, self.eta = self.eta, min(self.eta * 1.05, 1e-3)
        v -= eta * grad
        return eta


def test_a_third_party_stateful_step_rule_still_resumes(tmp_path: Path) -> None:
    def run(**kw: object) -> gdkit.Result:
        return gdkit.minimize("rosenbrock", step=AdaptiveRule(), gtol=0.0,
                              **kw)  # type: ignore[arg-type]

    full = run(max_iter=80)
    path = tmp_path / "tp.npz"
    run(max_iter=40, checkpoint=gdkit.Checkpointing(path, every=40))
    assert load_checkpoint(path).rule_state == {"eta": pytest.approx(1e-4 * 1.05**40)}
    resumed = run(max_iter=80, checkpoint=gdkit.Checkpointing(None, resume=path))
    assert resumed.x.tobytes() == full.x.tobytes()
    np.testing.assert_array_equal(resumed.history["eta"], full.history["eta"])


def _small_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ck.npz"
    gdkit.minimize("valley", step="momentum,fixed", max_iter=5, checkpoint=path)
    return path


def test_members_gdkit_does_not_know_are_never_read(tmp_path: Path) -> None:
    path = _small_checkpoint(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:  # not even a valid .npy: reading it would fail
        zf.writestr("junk.npy", b"\x93NUMPY garbage" * 1000)
    assert load_checkpoint(path).iteration == 5


def test_a_member_larger_than_the_memory_is_refused_before_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _small_checkpoint(tmp_path)
    monkeypatch.setattr(gdkit.checkpoint, "available_memory", lambda: 16)  # v: 2 x 8 bytes
    with pytest.raises(CheckpointError, match=r"its array 'v' declares \d+ bytes, more than "
                                              r"this machine's available memory"):
        load_checkpoint(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_parameters_are_refused_at_load(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "net.npz"
    gdkit.checkpoint.save_model(path, np.array([1.0, bad, 3.0]), {"kind": "test"})
    with pytest.raises(CheckpointError, match=r"1 of its 3 parameters are NaN or infinite"):
        gdkit.checkpoint.load_model(path)
    ck = _small_checkpoint(tmp_path)
    saved = load_checkpoint(ck)
    saved.v[0] = bad
    gdkit.checkpoint.save_checkpoint(ck, saved)
    with pytest.raises(CheckpointError, match=f"checkpoint '{ck}': 1 of its 2 parameters"):
        gdkit.minimize("valley", step="momentum,fixed", max_iter=9,
                       checkpoint=gdkit.Checkpointing(None, resume=ck))


def test_pickled_data_gets_gdkits_advice_not_numpys(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, __meta__=np.array([{"format": "gdkit.checkpoint"}], dtype=object))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "pickled Python objects, which gdkit never writes and never loads" in str(info.value)
    assert "allow_pickle" not in str(info.value)


@pytest.mark.parametrize(("content", "said"), [
    (b'{"epoch": 1, "cost": 0.07522, "accuracy": 0.908}\n',
     """it is JSON text (it starts with '{"epoch": 1, "cost": 0.07522, "accuracy"'), such as a """
     "training log, not a saved array"),
    (b"", "it is an empty file"),
    (b"epoch cost\n1 0.5\n", "it is text (it starts with 'epoch cost'), not a saved array"),
    (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'", "it is a single numpy array (.npy)"),
    (b"\x80\x04\x95\x0b\x00\x00\x00", "it is a pickle of Python objects, which gdkit never"),
    (bytes(range(40)), "it is binary data of some other kind (it starts with b'\\x00\\x01"),
])
def test_a_file_that_is_no_npz_is_called_what_it_is(tmp_path: Path, content: bytes,
                                                     said: str) -> None:
    """numpy calls every file that is neither .npz nor .npy "pickled data"; gdkit says what
    the file is (a log given where a model was expected is JSON text, not a pickle)."""
    path = tmp_path / "run.jsonl"
    path.write_bytes(content)
    for load, what in ((gdkit.checkpoint.load_model, "saved model"),
                       (load_checkpoint, "checkpoint")):
        with pytest.raises(CheckpointError) as info:
            load(path)
        assert str(info.value).startswith(f"{what} '{path}': not a gdkit {what}: {said}")
        assert str(info.value).endswith(f"Give a {what} that gdkit wrote (an .npz file, a zip "
                                        "archive).")
        if b"\x80" not in content[:1]:
            assert "pickle" not in str(info.value)


def _mini_batch_checkpoint(tmp_path: Path) -> tuple[Path, Any]:
    path = tmp_path / "mb.npz"

    def run(**kw: Any) -> gdkit.Result:
        return gdkit.minimize("network", step=gdkit.step_rule("fixed", eta=3.0), batch_size=5,
                              seed=1, **kw)

    run(epochs=1, checkpoint=path)
    return path, run


@pytest.mark.parametrize(("edit", "said"), [
    (lambda ck: ck.rng_state.update(state="garbage"), "rng_state) is damaged"),
    (lambda ck: ck.rng_state.update(bit_generator="MT19937"), "rng_state) is damaged"),
    (lambda ck: setattr(ck, "perm", np.zeros(20, dtype=np.int64)), "permutation of the training"),
    (lambda ck: setattr(ck, "perm", np.arange(20) + 5), "permutation of the training"),
    (lambda ck: setattr(ck, "position", 999), "position 999 in its epoch is outside 0..20"),
])
def test_an_edited_checkpoint_is_refused_with_what_was_edited(
        tmp_path: Path, edit: Any, said: str) -> None:
    path, run = _mini_batch_checkpoint(tmp_path)
    saved = load_checkpoint(path)
    if saved.perm is None:  # saved at an epoch's end: give it a mid-epoch permutation
        saved.perm, saved.position = np.arange(20, dtype=np.int64)[::-1].copy(), 5
    edit(saved)
    gdkit.checkpoint.save_checkpoint(path, saved)
    with pytest.raises(CheckpointError, match=re.escape(said)):
        run(epochs=2, checkpoint=gdkit.Checkpointing(None, resume=path))


def _edit_meta(path: Path, **changes: Any) -> None:
    """Rewrite the JSON metadata of the checkpoint at ``path`` as a hand edit would."""
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    meta = json.loads(str(members["__meta__"]))
    meta.update(changes)
    members["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **members)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "edit", "said"), [
    ("epoch", {"epoch": 1e30}, "position epoch: 1e+30 is not a whole number"),
    ("epoch", {"epoch": 10**30}, "position epoch: 1000000000000000000000000000000 is not a "
                                 "whole number in 0..9,007,199,254,740,992"),
    ("epoch", {"epoch": 1.7}, "position epoch: 1.7 is not a whole number"),
    ("epoch", {"epoch": True}, "position epoch: True is not a whole number"),
    ("epoch", {"epoch": "1"}, "position epoch: '1' is not a whole number"),
    ("epoch", {"epoch": -1}, "position epoch: -1 is not a whole number"),
    ("epoch", {"epoch": 3}, "its epoch is 3 but its history holds 1 row(s), one per completed"),
    ("epoch", {"position": 4}, "position 4 in its epoch is outside 0..0"),
    ("epoch", {"iteration": 1e6}, "position iteration: 1000000.0 is not a whole number"),
    ("iteration", {"iteration": 1e6}, "position iteration: 1000000.0 is not a whole number"),
    ("iteration", {"iteration": 10**6}, "its iteration is 1,000,000 but its history holds 5"),
    ("iteration", {"epoch": 2}, "a full-batch run (mode 'iteration') at epoch 2"),
])
def test_an_edited_position_is_refused_where_the_checkpoint_is_read(
        tmp_path: Path, mode: str, edit: dict[str, Any], said: str) -> None:
    path = _mini_batch_checkpoint(tmp_path)[0] if mode == "epoch" else _small_checkpoint(
        tmp_path)
    _edit_meta(path, **edit)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert said in str(info.value)
    assert "edited or damaged" in str(info.value) or "outside" in str(info.value)
