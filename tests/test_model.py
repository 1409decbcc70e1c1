"""Using a trained network: gdkit_plugins.model, ``gdkit evaluate`` and ``gdkit predict``."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gdkit_plugins.model import Evaluation, load, read_images, test_set
from gdkit_plugins.network import Network, network, save_network

from gdkit.cli import main
from gdkit.errors import CheckpointError, DataError, MissingExtraError, ShapeError

from .test_train_cli import MNIST_DIR, QUICK, epoch_lines, gdkit_cmd, train

SIZES = (784, 12, 10)


def saved(tmp_path: Path, sizes: tuple[int, ...] = SIZES, dtype: Any = np.float64,
          seed: int = 0) -> tuple[Path, np.ndarray]:
    v = np.random.default_rng(seed).standard_normal(
        sum((a + 1) * b for a, b in itertools.pairwise(sizes))).astype(dtype)
    path = tmp_path / "net.npz"
    save_network(path, v, sizes, {"note": "test"})
    return path, v


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("trained")
    proc = train("--data", str(MNIST_DIR), *QUICK, "--save", str(tmp / "net.npz"), "-q")
    assert proc.returncode == 0, proc.stderr
    saved = re.search(r"^Saved the parameters of epoch (\d+) to", proc.stdout, re.M)
    assert saved, proc.stdout
    # "last": the line of the epoch whose parameters --save kept (the best validation one)
    return {"model": tmp / "net.npz", "last": epoch_lines(proc.stdout)[int(saved[1]) - 1]}


def idx_images(path: Path, images: np.ndarray, *, gz: bool = False) -> Path:
    raw = struct.pack(">HBBIII", 0, 8, 3, images.shape[0], 28, 28) + images.astype(
        np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


# -- the API ----------------------------------------------------------------------------

def test_load_gives_back_what_was_saved(tmp_path: Path) -> None:
    path, v = saved(tmp_path, dtype=np.float32)
    net = load(path)
    assert net.sizes == SIZES and net.dtype == np.float32 and net.metadata["note"] == "test"
    np.testing.assert_array_equal(net.parameters, v)
    assert not net.parameters.flags.writeable
    assert [w.shape for w in net.weights] == [(12, 784), (10, 12)]
    np.testing.assert_array_equal(net.weights[0].ravel(), v[:12 * 784])
    np.testing.assert_array_equal(net.biases[0], v[12 * 784:12 * 785])


def test_predict_is_the_networks_own_arithmetic(tmp_path: Path) -> None:
    path, v = saved(tmp_path)
    images = np.random.default_rng(1).random((50, 784))
    ref = Network(SIZES, images, np.zeros(50, np.int64))
    np.testing.assert_array_equal(load(path).predict(images), ref.predict(v, images))
    np.testing.assert_array_equal(load(path).feedforward(images.reshape(50, 28, 28)),
                                  ref.feedforward(v, images))


def test_evaluate_counts_a_confusion_matrix_and_the_mistakes(tmp_path: Path) -> None:
    path, _ = saved(tmp_path)
    net = load(path)
    rng = np.random.default_rng(2)
    images, labels = rng.random((200, 784)), rng.integers(0, 10, 200)
    ev = net.evaluate(images, labels)
    predicted = net.predict(images)
    assert isinstance(ev, Evaluation) and ev.total == 200
    assert ev.correct == int(np.count_nonzero(predicted == labels)) == np.trace(ev.confusion)
    assert ev.confusion.sum() == 200 and ev.accuracy == ev.correct / 200
    for i, j in zip(labels, predicted, strict=True):
        assert ev.confusion[i, j] >= 1
    np.testing.assert_array_equal(ev.misclassified, np.flatnonzero(predicted != labels))
    rows = ev.confusion.sum(axis=1)
    np.testing.assert_allclose(ev.recall[rows > 0],
                               (np.diagonal(ev.confusion) / np.maximum(rows, 1))[rows > 0])


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((3, 100)), "shape"),
    (np.full((3, 784), 255.0), r"\[0, 1\]"),
    (np.array([["a"] * 784]), "numbers"),
])
def test_bad_images_are_one_clear_error(tmp_path: Path, images: np.ndarray,
                                        message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        load(saved(tmp_path)[0]).predict(images)


def test_a_file_that_is_not_a_network_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match=r"junk\.npz"):
        load(junk)
    with pytest.raises(CheckpointError):
        load(tmp_path / "missing.npz")


def test_the_test_set_is_mnists_ten_thousand() -> None:
    images, labels = test_set(MNIST_DIR, dtype=np.float32)
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.shape == (10_000,) and set(np.unique(labels)) == set(range(10))
    assert images.min() >= 0.0 and images.max() <= 1.0


# -- reading images ---------------------------------------------------------------------

def test_png_greyscale_rgb_and_invert(tmp_path: Path) -> None:
    image_mod = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    image_mod.fromarray(pixels, mode="L").save(tmp_path / "g.png")
    np.testing.assert_allclose(read_images(tmp_path / "g.png"), pixels.reshape(1, -1) / 255)
    np.testing.assert_allclose(read_images(tmp_path / "g.png", invert=True),
                               1 - pixels.reshape(1, -1) / 255)
    rgb = np.repeat(pixels[:, :, None], 3, axis=2)
    image_mod.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    np.testing.assert_allclose(read_images(tmp_path / "c.png"), pixels.reshape(1, -1) / 255)


def test_png_of_the_wrong_size_names_the_size(tmp_path: Path) -> None:
    image_mod = pytest.importorskip("PIL.Image")
    image_mod.fromarray(np.zeros((32, 30), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(DataError, match=r"big\.png: the image is 30 x 32 pixels"):
        read_images(tmp_path / "big.png")


def test_png_without_pillow_names_the_extra(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'gdkit\[images\]'"):
        read_images(png)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_are_read_as_rows(tmp_path: Path, gz: bool) -> None:
    images = np.random.default_rng(4).integers(0, 256, (3, 28, 28))
    rows = read_images(idx_images(tmp_path / "x.idx", images, gz=gz))
    np.testing.assert_allclose(rows, images.reshape(3, -1) / 255)


def test_neither_png_nor_idx_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("hello, world")
    with pytest.raises(DataError, match="not a PNG or an IDX image file"):
        read_images(tmp_path / "t.txt")
    with pytest.raises(DataError, match="no such file"):
        read_images(tmp_path / "nope.png")


# -- the commands, as a user runs them --------------------------------------------------

def test_evaluate_prints_the_accuracy_of_the_saved_epoch(trained: dict[str, Any]) -> None:
    out = subprocess.run([*gdkit_cmd(), "evaluate", str(trained["model"]), "--data",
                          str(MNIST_DIR)], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    last = trained["last"]
    assert f"Test set: {last.group(2)} / {last.group(3)} ({last.group(4)}%)" in out.stdout
    rows = [ln for ln in out.stdout.splitlines() if ln.strip()[:1].isdigit()
            and ln.rstrip().endswith("%") and "/" not in ln]
    assert len(rows) == 10
    counts = np.array([[int(c.replace(",", "")) for c in ln.split()[1:11]] for ln in rows])
    assert counts.sum() == 10_000
    assert np.trace(counts) == int(last.group(2).replace(",", ""))


def test_evaluate_json(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(trained["model"]), "--data", str(MNIST_DIR), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["total"] == 10_000 and np.trace(got["confusion"]) == got["correct"]
    assert got["sizes"] == [784, 16, 10]


def test_predict_idx_and_png_as_the_network_reads_them(
        trained: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, _ = test_set(MNIST_DIR)
    first = np.rint(images[:3] * 255).reshape(3, 28, 28)
    idx = idx_images(tmp_path / "three.idx", first)
    assert main(["predict", str(trained["model"]), str(idx)]) == 0
    expected = load(trained["model"]).predict(first.reshape(3, -1) / 255)
    assert capsys.readouterr().out == "".join(f"{idx}[{i}]: {d}\n"
                                              for i, d in enumerate(expected))
    image_mod = pytest.importorskip("PIL.Image")
    png = tmp_path / "zero.png"
    image_mod.fromarray(first[0].astype(np.uint8), mode="L").save(png)
    assert main(["predict", str(trained["model"]), str(png), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["predictions"] == [{"file": str(png), "index": None, "digit": int(expected[0])}]


@pytest.mark.parametrize(("command", "make", "message"), [
    ("predict", lambda t: [str(t / "nope.png")], "no such file"),
    ("predict", lambda t: [str(t)], "a directory"),
    ("evaluate", lambda t: [], "the MNIST test set needs [784, ..., 10]"),
])
def test_command_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     command: str, make: Any, message: str) -> None:
    path, _ = saved(tmp_path, sizes=(784, 5, 3) if command == "evaluate" else SIZES)
    status = main([command, str(path), *make(tmp_path), "--data", str(MNIST_DIR)]
                  if command == "evaluate" else [command, str(path), *make(tmp_path)])
    err = capsys.readouterr().err
    assert status != 0 and err.startswith(f"gdkit {command}: error: ") and message in err, err
    assert err.count("\n") == 1


def test_a_model_that_is_not_gdkits_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    obj = network()
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, parameters=np.zeros(obj.dim))
    assert main(["evaluate", str(foreign), "--data", str(MNIST_DIR)]) == 1
    err = capsys.readouterr().err
    assert "foreign.npz" in err and err.count("\n") == 1
