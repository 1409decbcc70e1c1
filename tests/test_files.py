"""gdkit.files: atomic writes, output paths checked up front, one writer a file."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdkit
from gdkit.checkpoint import load_checkpoint
from gdkit.errors import CheckpointError, ConfigError, StaleLockWarning
from gdkit.files import atomic_write, check_target, claim, leftovers


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def write_half() -> None:
        with atomic_write(target) as fh:
            fh.write(b"new, half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left"):
        write_half()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


@pytest.mark.parametrize(("make", "said"), [
    (lambda d: (d / "ck").mkdir() or d / "ck", "is a directory"),
    (lambda d: (d / "f").write_text("x") and d / "f" / "sub" / "ck.npz", "lies under"),
    (lambda d: d / "no" / "such" / "ck.npz", "does not exist"),
])
def test_an_output_path_that_cannot_be_written_is_refused_up_front(tmp_path: Path, make: object,
                                                                   said: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=said) as info:
        check_target(path, "--checkpoint")
    assert str(info.value).startswith("--checkpoint: ")


def test_an_unwritable_directory_is_found_by_trying(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(".probe"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(ConfigError, match=r"cannot write in the directory .*Read-only file"):
        check_target(tmp_path / "ck.npz", "checkpoint")
    assert list(tmp_path.iterdir()) == []


def test_minimize_checks_the_checkpoint_path_before_the_first_step(tmp_path: Path) -> None:
    calls = []

    def cost(v: np.ndarray) -> float:
        calls.append(1)
        return float(v @ v)

    with pytest.raises(ConfigError, match="is a directory"):
        gdkit.minimize(cost, [1.0, 2.0], gradient="central", checkpoint=tmp_path)
    assert calls == []


def test_a_second_writer_of_one_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ck.npz"
    with claim(path):
        with pytest.raises(CheckpointError, match=rf"in use by process {os.getpid()}"):
            gdkit.minimize("valley", max_iter=3, checkpoint=path)
        assert not path.exists()
    res = gdkit.minimize("valley", max_iter=3, checkpoint=path)  # free again
    assert load_checkpoint(path).iteration == res.nit
    assert not (tmp_path / ".ck.npz.lock").exists()


def test_a_stale_lock_and_leftover_temporaries_of_a_killed_run_are_cleared(
        tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    path = tmp_path / "ck.npz"
    (tmp_path / ".ck.npz.lock").write_text(f"{pid} {socket.gethostname()}\n")
    stray = tmp_path / ".ck.npz.0123456789ab.tmp"
    stray.write_bytes(b"half a checkpoint")
    (tmp_path / ".other.npz.0123456789ab.tmp").write_bytes(b"not ours")
    assert leftovers(path) == [stray]
    with pytest.warns(StaleLockWarning, match=f"left by process {pid}, which no longer runs"):
        gdkit.minimize("valley", max_iter=2, checkpoint=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.npz.0123456789ab.tmp",
                                                          "ck.npz"]


def test_a_full_disk_while_checkpointing_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ck.npz"
    gdkit.minimize("valley", step="fixed", max_iter=4,
                   checkpoint=gdkit.Checkpointing(path, every=2))

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(CheckpointError, match=r"cannot write the checkpoint .*No space left on "
                                              r"device.* at iteration 2; the previous"):
        gdkit.minimize("valley", step="fixed", max_iter=6,
                       checkpoint=gdkit.Checkpointing(path, every=2))
    monkeypatch.undo()
    assert load_checkpoint(path).iteration == 4  # the earlier run's, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


def test_sigint_on_a_full_disk_is_one_clear_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt_at_3(intermediate_result: gdkit.Result) -> None:
        if intermediate_result.nit == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the handler asks the loop to save and stop

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(CheckpointError, match=r"cannot write the checkpoint .*No space left on "
                                              r"device\) at iteration 3"):
        gdkit.minimize("valley", step="fixed", max_iter=50, observers=[interrupt_at_3],
                       checkpoint=gdkit.Checkpointing(tmp_path / "ck.npz", every=100))
    assert list(tmp_path.iterdir()) == []
