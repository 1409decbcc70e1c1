"""gdkit train --tensorboard DIR: each epoch's record as TensorBoard scalars, read back."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from gdkit.errors import MissingExtraError
from gdkit.observers import RunStart

from .test_train_cli import MNIST_DIR, QUICK, train


@pytest.fixture(scope="module")
def mnist_dir() -> str:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    return str(MNIST_DIR)


def _scalars(logdir: Path) -> dict[str, dict[int, float]]:
    """Every scalar in the event files of ``logdir``: tag -> {step: value}.

    The files are TFRecords (length, its CRC, an ``Event`` protobuf, its CRC);
    the protobuf classes are tensorboardX's own.
    """
    from tensorboardX.proto import event_pb2

    out: dict[str, dict[int, float]] = {}
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, {})[int(event.step)] = float(value.simple_value)
    return out


def test_train_writes_each_epochs_record_as_scalars(mnist_dir: str, tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    board, log = tmp_path / "board", tmp_path / "run.jsonl"
    out = train("--data", mnist_dir, *QUICK, "-q", "--tensorboard", str(board), "--log", str(log))
    assert out.returncode == 0, out.stderr
    scalars = _scalars(board)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        epoch = row["epoch"]
        for key in ("cost", "eta", "accuracy", "val_accuracy"):
            assert scalars[key][epoch] == pytest.approx(row[key], rel=1e-6)  # float32 in events
        for group in ("recall", "saturated"):  # one chart a group, a curve a digit
            got = [scalars[f"{group}/{k}"][epoch] for k in range(10)]
            np.testing.assert_allclose(got, [row[f"{group}_{k}"] for k in range(10)], rtol=1e-6)
    assert "saturated" in scalars and "saturated_0" not in scalars  # the network's, apart


def test_a_missing_tensorboardx_is_one_line_naming_the_extra(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gdkit_plugins.tensorboard import TensorBoard

    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'gdkit\[tensorboard\]'"):
        TensorBoard(tmp_path).on_start(RunStart("epoch", 0, 0, {}, False))
