"""Tests of gdkit_plugins.mnist: IDX reading, the split, lookup, downloads.

All but one test use small fixture IDX files written here; downloads go to a
local HTTP server on 127.0.0.1, never to the network. The last test reads the
real MNIST files from ``$GDKIT_TEST_MNIST`` (default
``<project>/../shared/data/mnist``) and fails if they are missing.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from gdkit_plugins import mnist
from gdkit_plugins.mnist import (
    FILES,
    IMAGE_MAGIC,
    MIRRORS,
    MnistData,
    cache_dir,
    download_mnist,
    find_mnist_dir,
    load_mnist,
    read_idx,
)
from gdkit_plugins.mnist.advice import CORRUPT, OFFLINE, command_line_words
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdkit
import gdkit.errors
from gdkit.errors import ConfigError, DataError

N_TRAIN = 12
N_TEST = 5
N_VAL = 4
NAMES = mnist.MNIST_FILE_NAMES


def _cli(err: DataError) -> str:
    """What a gdkit command prints for ``err``: a data error's advice in its flags
    (the network plugin's ``gdkit_advice``; the library's message names none)."""
    assert err.setting == "data" and "--data" not in str(err)
    return command_line_words(str(err))


# --------------------------------------------------------------------------
# Fixture files
# --------------------------------------------------------------------------


def idx_bytes(array: npt.NDArray[np.uint8]) -> bytes:
    """Encode a uint8 array as an IDX file."""
    magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_images(n: int, seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 0
    images[0, 0, 1] = 255  # both ends of the range present
    return images


def make_labels(n: int, seed: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


class Fixture:
    """A directory holding small MNIST-format files, and their contents."""

    def __init__(
        self, directory: Path, *, gz: bool, n_train: int = N_TRAIN, n_test: int = N_TEST
    ) -> None:
        self.dir = directory
        self.train_images = make_images(n_train, 1)
        self.train_labels = make_labels(n_train, 2)
        self.test_images = make_images(n_test, 3)
        self.test_labels = make_labels(n_test, 4)
        directory.mkdir(parents=True, exist_ok=True)
        suffix = ".gz" if gz else ""
        contents = {
            mnist.TRAIN_IMAGES: self.train_images,
            mnist.TRAIN_LABELS: self.train_labels,
            mnist.TEST_IMAGES: self.test_images,
            mnist.TEST_LABELS: self.test_labels,
        }
        self.paths = {
            name: write(directory / (name + suffix), idx_bytes(arr), gz=gz)
            for name, arr in contents.items()
        }


@pytest.fixture(params=[False, True], ids=["plain", "gz"])
def fixture_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Fixture:
    return Fixture(tmp_path / "mnist", gz=request.param)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's GDKIT_DATA or real cache directory."""
    monkeypatch.delenv("GDKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# --------------------------------------------------------------------------
# read_idx and load_mnist on valid files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_read_idx_round_trips_exact_values(tmp_path: Path, gz: bool) -> None:
    images = make_images(7, 10)
    labels = make_labels(7, 11)
    ip = write(tmp_path / "i", idx_bytes(images), gz=gz)
    lp = write(tmp_path / "l", idx_bytes(labels), gz=gz)

    got_images = read_idx(ip, expected_magic=2051)
    got_labels = read_idx(str(lp), expected_magic=2049)

    assert got_images.dtype == np.uint8
    assert got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.uint8
    np.testing.assert_array_equal(got_labels, labels)
    # Without expected_magic any unsigned-byte IDX file is accepted.
    np.testing.assert_array_equal(read_idx(ip), images)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path: Path) -> None:
    labels = make_labels(9, 12)
    gz_without_suffix = write(tmp_path / "labels", idx_bytes(labels), gz=True)
    plain_with_suffix = write(tmp_path / "labels.gz", idx_bytes(labels))

    np.testing.assert_array_equal(read_idx(gz_without_suffix), labels)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_load_mnist_scales_and_splits(fixture_dir: Fixture, dtype: object) -> None:
    fx = fixture_dir
    data = load_mnist(fx.dir, dtype=dtype, n_validation=N_VAL)  # type: ignore[arg-type]
    want = np.dtype(dtype)  # type: ignore[call-overload]
    cut = N_TRAIN - N_VAL

    assert isinstance(data, MnistData)
    assert data.train_images.shape == (cut, 784)
    assert data.validation_images.shape == (N_VAL, 784)
    assert data.test_images.shape == (N_TEST, 784)
    for arr in (data.train_images, data.validation_images, data.test_images):
        assert arr.dtype == want
        assert arr.flags.c_contiguous
        assert arr.min() >= 0.0
        assert arr.max() <= 1.0
    assert data.train_images.min() == 0.0
    assert data.train_images.max() == 1.0

    flat = fx.train_images.reshape(N_TRAIN, 784)
    expected = (flat / 255.0).astype(want)
    np.testing.assert_allclose(data.train_images, expected[:cut], rtol=0, atol=1e-7)
    np.testing.assert_allclose(data.validation_images, expected[cut:], rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        data.test_images,
        (fx.test_images.reshape(N_TEST, 784) / 255.0).astype(want),
        rtol=0,
        atol=1e-7,
    )
    # Exact round trip back to the bytes.
    np.testing.assert_array_equal(
        np.rint(data.validation_images.astype(np.float64) * 255), flat[cut:]
    )

    for got, raw in (
        (data.train_labels, fx.train_labels[:cut]),
        (data.validation_labels, fx.train_labels[cut:]),
        (data.test_labels, fx.test_labels),
    ):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, raw)


def test_load_mnist_defaults_to_float64_and_zero_validation(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=True)
    data = load_mnist(fx.dir, n_validation=0)
    assert data.train_images.dtype == np.float64
    assert data.train_images.shape == (N_TRAIN, 784)
    assert data.validation_images.shape == (0, 784)
    assert data.validation_labels.shape == (0,)
    assert "train=12" in repr(data)


def test_load_mnist_rejects_bad_arguments(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=False)
    with pytest.raises(TypeError, match="floating"):
        load_mnist(fx.dir, dtype=np.int32)
    with pytest.raises(ConfigError, match="n_validation must be an integer >= 0"):
        load_mnist(fx.dir, n_validation=-1)


# --------------------------------------------------------------------------
# Corrupt files: only DataError, naming the file
# --------------------------------------------------------------------------


def _valid_images(n: int = 3) -> bytes:
    return idx_bytes(make_images(n, 20))


def _valid_labels(n: int = 3) -> bytes:
    return idx_bytes(make_labels(n, 21))


def _assert_data_error(path: Path, match: str, *, expected_magic: int | None = 2051) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        read_idx(path, expected_magic=expected_magic)
    message = str(info.value)
    assert str(path) in message
    assert "Expected an IDX" in message
    return info.value


def test_wrong_magic(tmp_path: Path) -> None:
    data = bytearray(_valid_images())
    data[0:4] = b"\x12\x34\x56\x78"
    path = write(tmp_path / "bad-magic", bytes(data))
    err = _assert_data_error(path, "magic")
    assert "not an IDX file" in str(err)


def test_labels_file_given_as_images(tmp_path: Path) -> None:
    path = write(tmp_path / "train-labels-idx1-ubyte", _valid_labels())
    err = _assert_data_error(path, "2049")
    message = str(err)
    assert "2051" in message
    # The expected format and what to do are spelled out.
    assert "IDX image file: magic 2051, then 3 big-endian uint32 dims n, 28, 28" in message
    assert "load_mnist(data_dir=DIR)" in message and "--data" not in message
    assert _cli(err) == message.replace(CORRUPT.python, CORRUPT.cli)  # the command's words
    assert "--data DIR" in _cli(err) and "load_mnist" not in _cli(err)


def test_non_ubyte_element_type(tmp_path: Path) -> None:
    data = bytearray(_valid_labels())
    data[2] = 0x0D  # float
    path = write(tmp_path / "floats", bytes(data))
    _assert_data_error(path, "unsigned bytes", expected_magic=None)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_truncated_payload(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "short", _valid_images()[:-10], gz=gz)
    err = _assert_data_error(path, "truncated")
    assert "n*784 bytes" in str(err)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    compressed = gzip.compress(_valid_images())
    path = write(tmp_path / "cut.gz", compressed[: len(compressed) // 2])
    _assert_data_error(path, "truncated")


def test_truncated_header(tmp_path: Path) -> None:
    path = write(tmp_path / "hdr", _valid_images()[:9])
    _assert_data_error(path, "header")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_trailing_bytes(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "long", _valid_images() + b"\x00\x01", gz=gz)
    _assert_data_error(path, "trailing")


def test_bad_gzip(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.gz", b"\x1f\x8b" + b"not really gzip data at all")
    _assert_data_error(path, "gzip")


def test_corrupt_deflate_data(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(_valid_images()))
    for i in range(12, len(compressed) - 8):
        compressed[i] ^= 0x55
    path = write(tmp_path / "flipped.gz", bytes(compressed))
    _assert_data_error(path, "gzip|truncated|trailing|checksum|CRC")


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty", b"")
    _assert_data_error(path, "too short")


def _assert_rejected_cheaply(path: Path, match: str) -> None:
    """DataError without allocating anything like the claimed size (memory is
    measured, not time: no timed assertions in the tests)."""
    tracemalloc.start()
    try:
        _assert_data_error(path, match)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # numpy reports its allocations to tracemalloc


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_huge_header_rejected_without_allocating(tmp_path: Path, gz: bool) -> None:
    # 10**6 x 10**3 x 10**3 = 10**12 bytes claimed.
    header = struct.pack(">IIII", 2051, 10**6, 10**3, 10**3)
    path = write(tmp_path / "huge", header + bytes(100), gz=gz)
    _assert_rejected_cheaply(path, "1000000000000 data bytes, more than the 2147483648 bytes")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_large_but_capped_header_is_rejected_before_allocating(tmp_path: Path, gz: bool) -> None:
    # Under the 2**31 cap, but far more than this small file can hold: must be
    # caught by comparing with the file size, not by allocating 1.5 GB.
    header = struct.pack(">IIII", 2051, 2_000_000, 28, 28)
    path = write(tmp_path / "big", header + bytes(1000), gz=gz)
    _assert_rejected_cheaply(
        path, "more than a [0-9]+-byte gzip file can hold" if gz else "truncated"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    _assert_data_error(path, "no such file")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    _assert_data_error(tmp_path, "cannot read")


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=False)
    write(fx.paths[mnist.TEST_LABELS], _valid_labels(N_TEST + 1))
    with pytest.raises(DataError) as info:
        load_mnist(fx.dir, n_validation=N_VAL)
    message = str(info.value)
    assert str(fx.paths[mnist.TEST_IMAGES]) in message
    assert str(fx.paths[mnist.TEST_LABELS]) in message
    assert f"{N_TEST} images" in message
    assert f"{N_TEST + 1} labels" in message


def test_images_not_28_by_28(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=False)
    small = np.zeros((N_TRAIN, 14, 14), dtype=np.uint8)
    write(fx.paths[mnist.TRAIN_IMAGES], idx_bytes(small))
    with pytest.raises(DataError, match="not 28 x 28") as info:
        load_mnist(fx.dir, n_validation=N_VAL)
    assert str(fx.paths[mnist.TRAIN_IMAGES]) in str(info.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=True)
    labels = fx.test_labels.copy()
    labels[3] = 10
    write(fx.paths[mnist.TEST_LABELS], idx_bytes(labels), gz=True)
    with pytest.raises(DataError, match="label 10 at index 3") as info:
        load_mnist(fx.dir, n_validation=N_VAL)
    assert str(fx.paths[mnist.TEST_LABELS]) in str(info.value)


def test_training_set_not_larger_than_validation(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=False)
    with pytest.raises(DataError, match="n_validation=12") as info:
        load_mnist(fx.dir, n_validation=N_TRAIN)
    assert str(fx.paths[mnist.TRAIN_IMAGES]) in str(info.value)


def test_missing_file_lists_places_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    monkeypatch.setenv("GDKIT_DATA", str(env_dir))
    with pytest.raises(DataError) as info:
        load_mnist()
    message = str(info.value)
    assert str(env_dir) in message
    assert str(env_dir / "mnist") in message
    assert str(cache_dir()) in message
    assert "train-images-idx3-ubyte" in message
    assert "GDKIT_DATA" in message
    assert "download=True" in message and "--download" not in message
    said = _cli(info.value)
    assert "--data DIR" in said and "--download" in said
    assert "load_mnist" not in said and "download=True" not in said


def test_explicit_dir_with_a_missing_file(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=True)
    fx.paths[mnist.TEST_IMAGES].unlink()
    with pytest.raises(DataError) as info:
        load_mnist(fx.dir)
    message = str(info.value)
    assert str(fx.dir) in message
    assert "t10k-images-idx3-ubyte" in message
    assert "t10k-labels" not in message.split("Looked in:")[1].split("\n")[1]


# --------------------------------------------------------------------------
# Fuzz: only DataError escapes read_idx
# --------------------------------------------------------------------------

_VALID_SMALL = idx_bytes(make_images(2, 30))
_VALID_SMALL_LABELS = idx_bytes(make_labels(5, 31))


@st.composite
def _mangled(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from([_VALID_SMALL, _VALID_SMALL_LABELS]))
    kind = draw(st.sampled_from(["random", "truncate", "flip", "extend"]))
    if kind == "random":
        return draw(st.binary(max_size=2000))
    if kind == "truncate":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "extend":
        return base + draw(st.binary(min_size=1, max_size=50))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, min(15, len(data) - 1)))
        data[i] = draw(st.integers(0, 255))
    return bytes(data)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    payload=_mangled(),
    gz=st.booleans(),
    cut_gz=st.one_of(st.none(), st.integers(0, 400)),
    magic=st.sampled_from([None, 2049, 2051]),
)
def test_fuzz_only_data_error_escapes(
    tmp_path: Path, payload: bytes, gz: bool, cut_gz: int | None, magic: int | None
) -> None:
    data = gzip.compress(payload) if gz else payload
    if gz and cut_gz is not None:
        data = data[:cut_gz]
    path = tmp_path / "fuzz.idx"
    path.write_bytes(data)
    error: DataError | None = None
    try:
        result = read_idx(path, expected_magic=magic)
    except DataError as exc:  # anything else escaping fails the test
        error = exc
    if error is not None:
        assert str(path) in str(error)
    else:
        # Anything accepted really is a consistent IDX file.
        assert result.dtype == np.uint8
        assert idx_bytes(result) == payload


# --------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------


def test_cache_dir_follows_xdg_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.name == "nt":
        pytest.skip("POSIX cache layout")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "gdkit" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h" / ".cache" / "gdkit" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == tmp_path / "h" / ".cache" / "gdkit" / "mnist"


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = Fixture(tmp_path / "explicit", gz=False).dir
    env = Fixture(tmp_path / "env", gz=True).dir
    cache = Fixture(cache_dir(), gz=True).dir
    assert cache == tmp_path / "xdg-cache" / "gdkit" / "mnist"

    # Nothing in the environment: the cache directory.
    assert find_mnist_dir() == cache
    # GDKIT_DATA comes before the cache.
    monkeypatch.setenv("GDKIT_DATA", str(env))
    assert find_mnist_dir() == env
    # An explicit directory comes first, and is the only place looked.
    assert find_mnist_dir(explicit) == explicit
    assert find_mnist_dir(tmp_path / "empty") is None


def test_lookup_accepts_gdkit_data_parent_and_skips_partial_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "data"
    nested = Fixture(parent / "mnist", gz=False).dir
    monkeypatch.setenv("GDKIT_DATA", str(parent))
    assert find_mnist_dir() == nested

    # A partial set directly in $GDKIT_DATA is passed over.
    write(parent / (mnist.TRAIN_IMAGES + ".gz"), _valid_images(), gz=True)
    assert find_mnist_dir() == nested

    # Nothing complete anywhere: None, although the cache is partly filled.
    monkeypatch.setenv("GDKIT_DATA", str(tmp_path / "nowhere"))
    cache = cache_dir()
    cache.mkdir(parents=True)
    write(cache / mnist.TEST_LABELS, _valid_labels())
    assert find_mnist_dir() is None
    # And the cache is found once complete.
    Fixture(cache, gz=True)
    assert find_mnist_dir() == cache


def test_gz_and_plain_mixed_and_gz_preferred(tmp_path: Path) -> None:
    fx = Fixture(tmp_path / "d", gz=False)
    # Gzip two of the files; keep a corrupt plain copy next to one of them.
    for name in (mnist.TRAIN_LABELS, mnist.TEST_IMAGES):
        raw = fx.paths[name].read_bytes()
        write(fx.dir / (name + ".gz"), raw, gz=True)
    fx.paths[mnist.TRAIN_LABELS].unlink()
    fx.paths[mnist.TEST_IMAGES].write_bytes(b"corrupt, but never read")
    data = load_mnist(fx.dir, n_validation=N_VAL)
    np.testing.assert_array_equal(data.test_labels, fx.test_labels)
    assert data.test_images.shape == (N_TEST, 784)


def test_load_mnist_finds_gdkit_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx = Fixture(tmp_path / "env", gz=True)
    monkeypatch.setenv("GDKIT_DATA", str(fx.dir))
    data = load_mnist(n_validation=N_VAL)
    np.testing.assert_array_equal(data.test_labels, fx.test_labels)


# --------------------------------------------------------------------------
# Download, against a local HTTP server
# --------------------------------------------------------------------------


class _Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                log.append(self.path)

            def do_GET(self) -> None:
                if self.path.startswith("/short/"):
                    # Announce 100000 bytes, send 10, hang up: an interrupted
                    # download.
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                super().do_GET()

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[_Server, Fixture, dict[str, str]]]:
    """A server with gzipped fixture files under /mnist/, and their md5s."""
    fx = Fixture(tmp_path / "www" / "mnist", gz=True)
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in fx.paths.values()}
    server = _Server(tmp_path / "www")
    try:
        yield server, fx, md5s
    finally:
        server.close()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A URL whose port refuses connections (bound, never listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mnist/"
    finally:
        sock.close()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_default_files_and_mirrors() -> None:
    assert FILES["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert FILES["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert {name.removesuffix(".gz") for name in FILES} == set(NAMES)
    assert MIRRORS[0].startswith("https://ossci-datasets.s3.amazonaws.com/")


def test_download_verifies_and_loads(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path
) -> None:
    server, fx, md5s = served
    dest = tmp_path / "dl"
    got = download_mnist(dest, mirrors=(server.url,), files=md5s, progress=False)
    assert got == dest
    for name, digest in md5s.items():
        assert hashlib.md5((dest / name).read_bytes()).hexdigest() == digest
    assert _leftovers(dest) == []
    data = load_mnist(dest, n_validation=N_VAL)
    np.testing.assert_array_equal(data.test_labels, fx.test_labels)

    # Files already present and verified are not fetched again.
    before = len(server.requests)
    download_mnist(dest, mirrors=(server.url,), files=md5s, progress=False)
    assert len(server.requests) == before

    # A file present with the wrong content is replaced.
    (dest / "t10k-labels-idx1-ubyte.gz").write_bytes(b"stale")
    download_mnist(dest, mirrors=(server.url,), files=md5s, progress=False)
    assert len(server.requests) == before + 1
    assert read_idx(dest / "t10k-labels-idx1-ubyte.gz").shape == (N_TEST,)


def test_download_falls_back_to_second_mirror(
    served: tuple[_Server, Fixture, dict[str, str]], dead_url: str, tmp_path: Path
) -> None:
    server, _, md5s = served
    dest = tmp_path / "dl"
    download_mnist(dest, mirrors=(dead_url, server.url), files=md5s, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5s)
    assert len(server.requests) == len(md5s)


def test_download_falls_back_after_http_404(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path
) -> None:
    server, _, md5s = served
    missing = server.url.replace("/mnist/", "/elsewhere/")
    dest = tmp_path / "dl"
    download_mnist(dest, mirrors=(missing, server.url), files=md5s, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5s)


def test_download_checksum_mismatch(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path
) -> None:
    server, _, md5s = served
    name = "t10k-labels-idx1-ubyte.gz"
    wrong = "0" * 32
    dest = tmp_path / "dl"
    with pytest.raises(DataError) as info:
        download_mnist(dest, mirrors=(server.url,), files={name: wrong}, progress=False)
    message = str(info.value)
    assert "checksum" in message
    assert server.url in message
    assert wrong in message
    assert md5s[name] in message
    assert "data_dir=DIR" in message and "--data DIR" in _cli(info.value)
    assert not dest.exists()  # no final file, no temporary file, no empty folder


def test_download_all_mirrors_down(
    served: tuple[_Server, Fixture, dict[str, str]], dead_url: str, tmp_path: Path
) -> None:
    _, _, md5s = served
    missing = served[0].url.replace("/mnist/", "/gone/")
    dest = tmp_path / "dl"
    with pytest.raises(DataError) as info:
        download_mnist(dest, mirrors=(dead_url, missing), files=md5s, progress=False, timeout=5)
    message = str(info.value)
    assert "data_dir=DIR" in message and "--data DIR" in _cli(info.value)
    assert dead_url in message
    assert missing in message
    assert "404" in message
    assert "\n" not in message and "\n" not in _cli(info.value)  # one line
    assert not dest.exists()  # no empty folder left behind (nor its new parents)
    nested = tmp_path / "cache" / "gdkit" / "mnist"
    with pytest.raises(DataError):
        download_mnist(nested, mirrors=(missing,), files=md5s, progress=False, timeout=5)
    assert not (tmp_path / "cache").exists()


def test_offline_a_failed_download_is_one_line(dead_url: str, tmp_path: Path) -> None:
    """Every mirror failing alike (as offline) is said once, with the mirrors tried."""
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind(("127.0.0.1", 0))
    second = f"http://127.0.0.1:{other.getsockname()[1]}/mnist/"
    try:
        with pytest.raises(DataError) as info:
            download_mnist(tmp_path / "dl", mirrors=(dead_url, second),
                           files={"t10k-labels-idx1-ubyte.gz": "0" * 32}, progress=False,
                           timeout=5)
    finally:
        other.close()
    message = str(info.value)
    head = (f"Could not download t10k-labels-idx1-ubyte.gz into {tmp_path / 'dl'}: cannot "
            "connect (")
    assert message.startswith(head), message
    assert message.endswith(f") at {dead_url} and {second}. {OFFLINE.python}")
    assert _cli(info.value) == message.replace(OFFLINE.python, OFFLINE.cli)
    assert "\n" not in message


def test_download_progress_callable(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path
) -> None:
    server, _, md5s = served
    name = "train-images-idx3-ubyte.gz"
    calls: list[tuple[int, int | None]] = []
    download_mnist(
        tmp_path / "dl",
        mirrors=(server.url,),
        files={name: md5s[name]},
        progress=lambda done, total: calls.append((done, total)),
    )
    size = (tmp_path / "dl" / name).stat().st_size
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)
    counts = [done for done, _ in calls]
    assert counts == sorted(counts)
    assert len(counts) >= 2


@pytest.mark.parametrize("with_tqdm", [True, False], ids=["tqdm", "plain-line"])
def test_download_progress_display_when_forced(
    served: tuple[_Server, Fixture, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    with_tqdm: bool,
) -> None:
    server, _, md5s = served
    if not with_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import fails
    name = "t10k-labels-idx1-ubyte.gz"
    download_mnist(tmp_path / "dl", mirrors=(server.url,), files={name: md5s[name]}, progress=True)
    err = capsys.readouterr().err
    assert name in err
    if not with_tqdm:
        assert "\r" in err
        assert "(100%)" in err
    # None with a non-terminal stderr is silent.
    (tmp_path / "dl" / name).unlink()
    download_mnist(tmp_path / "dl", mirrors=(server.url,), files={name: md5s[name]})
    assert capsys.readouterr().err == ""
    assert (tmp_path / "dl" / name).is_file()


def test_interrupted_download_leaves_nothing(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path
) -> None:
    server, _, md5s = served
    short = server.url.replace("/mnist/", "/short/")
    dest = tmp_path / "dl"
    with pytest.raises(DataError) as info:
        download_mnist(dest, mirrors=(short,), files=md5s, progress=False)
    assert short in str(info.value)
    assert "connection closed after 10 of 100000 bytes" in str(info.value)
    assert not dest.exists()


def test_a_ctrl_c_just_after_the_part_file_is_created_leaves_nothing(
    served: tuple[_Server, Fixture, dict[str, str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, _, md5s = served
    dest = tmp_path / "dl"
    real_open = os.open

    def open_then_interrupt(path: Any, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, *args, **kwargs)
        if str(path).endswith(".part"):
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        download_mnist(dest, mirrors=(server.url,), files=md5s, progress=False)
    monkeypatch.undo()
    assert list(dest.iterdir()) == []


def test_load_mnist_download_into_cache(
    served: tuple[_Server, Fixture, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, fx, md5s = served
    monkeypatch.setattr(mnist.download, "MIRRORS", (server.url,))
    monkeypatch.setattr(mnist.download, "FILES", md5s)
    assert find_mnist_dir() is None
    data = load_mnist(download=True, n_validation=N_VAL, progress=False)
    np.testing.assert_array_equal(data.test_labels, fx.test_labels)
    assert find_mnist_dir() == cache_dir()
    assert sorted(p.name for p in cache_dir().iterdir()) == sorted(md5s)

    # Found in the cache now: no further requests.
    before = len(server.requests)
    load_mnist(download=True, n_validation=N_VAL, progress=False)
    assert len(server.requests) == before


def test_explicit_data_dir_is_never_downloaded_into(
    served: tuple[_Server, Fixture, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, _, md5s = served
    monkeypatch.setattr(mnist.download, "MIRRORS", (server.url,))
    monkeypatch.setattr(mnist.download, "FILES", md5s)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="never downloaded into") as info:
        load_mnist(empty, download=True, progress=False)
    assert str(empty) in str(info.value)
    assert server.requests == []
    assert list(empty.iterdir()) == []
    assert not cache_dir().exists()


# --------------------------------------------------------------------------
# The real data
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory holding the real MNIST files; the test fails without it.

    ``$GDKIT_TEST_MNIST`` if set, else ``<project>/../shared/data/mnist``.
    """
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    directory = Path(os.environ.get("GDKIT_TEST_MNIST") or default)
    if not directory.is_dir():
        pytest.fail(
            f"The real MNIST data directory {directory} does not exist. Put the "
            "four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-"
            "ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
            "there, or set GDKIT_TEST_MNIST to a directory holding them.",
            pytrace=False,
        )
    return directory


def test_real_mnist(mnist_dir: Path) -> None:
    data = load_mnist(mnist_dir)
    assert data.train_images.shape == (50_000, 784)
    assert data.validation_images.shape == (10_000, 784)
    assert data.test_images.shape == (10_000, 784)
    assert data.train_labels.shape == (50_000,)
    assert data.validation_labels.shape == (10_000,)
    assert data.test_labels.shape == (10_000,)
    assert data.train_images.dtype == np.float64
    for labels in (data.train_labels, data.validation_labels, data.test_labels):
        assert labels.min() == 0
        assert labels.max() == 9
    total = data.train_images.sum() + data.validation_images.sum()
    assert total / (60_000 * 784) == pytest.approx(0.1307, abs=1e-3)
    assert data.test_labels[:5].tolist() == [7, 2, 1, 0, 4]


# --------------------------------------------------------------------------
# Memory follows what is asked for
# --------------------------------------------------------------------------


def _inflating(directory: Path, n_images: int, n_labels: int) -> Path:
    """Gzipped files whose headers declare ``n_images`` zero images (small on
    disk, large when inflated) and ``n_labels`` labels; a tiny test set."""
    directory.mkdir()
    zero = struct.pack(">IIII", IMAGE_MAGIC, n_images, 28, 28)
    with gzip.open(directory / (mnist.TRAIN_IMAGES + ".gz"), "wb", compresslevel=1) as fh:
        fh.write(zero)
        block = bytes(784 * 1000)
        for start in range(0, n_images, 1000):
            fh.write(block[: 784 * min(1000, n_images - start)])
    labels = (np.arange(n_labels) % 10).astype(np.uint8)
    (directory / (mnist.TRAIN_LABELS + ".gz")).write_bytes(gzip.compress(idx_bytes(labels)))
    (directory / mnist.TEST_IMAGES).write_bytes(idx_bytes(make_images(5, 3)))
    (directory / mnist.TEST_LABELS).write_bytes(idx_bytes(make_labels(5, 4)))
    return directory


def _peak_bytes(fn: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_max_train_keeps_memory_to_the_rows_used(tmp_path: Path) -> None:
    d = _inflating(tmp_path / "big", 200_000, 200_000)  # 157 MB of pixels inflated
    data, peak = _peak_bytes(lambda: load_mnist(d, max_train=100, n_validation=1000))
    assert isinstance(data, MnistData)
    assert data.train_images.shape == (100, 784) and data.validation_images.shape == (1000, 784)
    np.testing.assert_array_equal(data.validation_labels, np.arange(199_000, 200_000) % 10)
    assert peak < 20e6, peak  # float64 of all rows would be 1.25 GB, the raw bytes 157 MB


def test_an_image_count_that_disagrees_is_refused_before_the_data_is_read(
        tmp_path: Path) -> None:
    d = _inflating(tmp_path / "bomb", 200_000, 60)

    def refused() -> str:
        with pytest.raises(DataError) as info:
            load_mnist(d, n_validation=10)
        return str(info.value)

    message, peak = _peak_bytes(refused)
    assert "holds 200000 images but" in str(message) and "holds 60 labels" in str(message)
    assert peak < 5e6, peak  # the header was enough: 157 MB were never allocated


def test_images_beyond_the_memory_are_refused_from_the_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _inflating(tmp_path / "big", 200_000, 200_000)  # 157 MB of pixels, 1.4 GB as floats
    monkeypatch.setattr("gdkit.validate.available_memory", lambda: 500_000_000)

    def refused() -> str:
        with pytest.raises(gdkit.errors.ConfigError) as info:
            load_mnist(d, n_validation=10)
        return str(info.value)

    message, peak = _peak_bytes(refused)
    assert "load_mnist: 200,000 images as float64 would need 1.4 GB of memory" in message
    assert peak < 5e6, peak  # the header was enough: the 157 MB of bytes were never read
