"""Save and restore the whole state of a run: ``.npz`` + JSON, never pickle.

A checkpoint holds the parameters, the step rule's state, the shuffling
generator's state, the position in the run (epoch, iteration, position inside
the epoch's permutation, and that permutation), the history so far, and the
run's configuration. Files are written atomically
(:func:`gdkit.files.atomic_write`), so a crash during a write leaves the
previous checkpoint intact. Every reader uses ``allow_pickle=False`` and turns
any problem into :class:`~gdkit.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .errors import CheckpointError, ConfigError
from .files import atomic_write
from .validate import available_memory

__all__ = ["FORMAT", "MODEL_FORMAT", "VERSION", "Checkpoint", "atomic_savez", "check_meta",
           "load_checkpoint", "load_model", "read_npz", "save_checkpoint", "save_model"]

FORMAT: Final = "gdkit.checkpoint"
MODEL_FORMAT: Final = "gdkit.model"
VERSION: Final = 1
_META: Final = "__meta__"
_MAX_META: Final = 1 << 24  # 16 MiB of JSON is far beyond any honest checkpoint
_MAX_COUNT: Final = 1 << 53  # steps, epochs, positions: exact in a float, beyond any run
_MAX_ITEMSIZE: Final = 16  # bytes of one parameter, at most (complex128)
_LIST_FACTOR: Final = 5  # a history column becomes a list of floats: ~32 bytes a row, not 8
RULE_STATE_VECTORS: Final = 1024
"""A step rule's saved state holds at most this many vectors of the
parameters' size in one array, or 1 MiB: momentum holds one, L-BFGS with
memory k holds k in each of its s and y (scipy's default k is 10)."""
MEMORY_MARGIN: Final = 2.0
"""Everything a reader reads must fit in the available memory divided by this."""


@dataclass
class Checkpoint:
    """The saved state of a run (see :class:`gdkit.Checkpointing`'s ``resume``)."""

    v: npt.NDArray[Any]
    mode: str  # "epoch" (mini-batch) or "iteration" (full batch)
    epoch: int
    iteration: int
    position: int  # next mini-batch start inside the epoch's permutation
    perm: npt.NDArray[np.int64] | None
    rng_state: dict[str, Any] | None
    history: dict[str, list[float]]
    rule_state: dict[str, Any]
    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    epoch_seconds: float = 0.0  # training time already spent in the current epoch


def check_meta(meta: Mapping[str, Any], what: str) -> None:
    """Refuse, before a run, metadata a checkpoint could not hold: not JSON, or
    more than a gdkit file may hold (the reader's limit, with room to grow)."""
    try:
        size = 4 * len(json.dumps(meta))  # stored as UCS-4 text
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be JSON (numbers, text, lists, mappings): {exc}."
                          ) from None
    if size > _MAX_META // 2:
        raise ConfigError(f"{what} would take {size:,} bytes in each checkpoint, more than "
                          f"the {_MAX_META // 2:,} allowed: keep it small.")


def atomic_savez(path: str | os.PathLike[str], arrays: Mapping[str, npt.ArrayLike],
                 meta: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and the JSON ``meta`` to ``path`` (a ``.npz``) atomically.

    The metadata is stored as a 0-d unicode array (``np.savez`` would pickle a
    dict). Returns the final path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.asarray(a) for k, a in arrays.items()}
    payload[_META] = np.array(json.dumps(meta))
    if payload[_META].nbytes > _MAX_META:  # never write what the reader will refuse
        raise CheckpointError(f"refusing to write {os.fspath(path)!r}: its metadata would take "
                              f"{payload[_META].nbytes:,} bytes, more than the {_MAX_META:,} "
                              "a gdkit file may hold (too much run_info, or a part whose "
                              "configuration is that large).")
    for key, arr in payload.items():
        if arr.dtype == object:
            raise TypeError(f"refusing to write {key!r}: object arrays would need pickle")
    with atomic_write(path) as fh:
        np.savez(fh, **payload)  # type: ignore[arg-type]
    return path


Limit = tuple[int, str] | None
"""The most bytes a member may hold and why (``"a network of its sizes needs"``);
None: only the machine's memory bounds it."""


def read_npz(path: str | os.PathLike[str], fmt: str, what: str = "checkpoint",
             members: Callable[[dict[str, Any], list[str]],
                               Iterable[str] | Mapping[str, Limit]] | None = None,
             ) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Read a gdkit ``.npz`` of format ``fmt``: (meta, arrays), or CheckpointError.

    Only the metadata and the arrays ``members(meta, names)`` names (default:
    every array) are read. ``members`` may map each name to a :data:`Limit`,
    the most bytes what reads it can need. Before any array is read, the
    shape and dtype its ``.npy`` header declares are checked against the size
    the zip directory declares, against that limit and, all together, against
    the memory available (:data:`MEMORY_MARGIN`): a file padded with a huge
    extra member costs nothing, and a forged or bombed size is refused before
    it is allocated. ``members`` may raise :class:`_Refused` to refuse the
    file from its metadata.
    """
    path = Path(path)

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{what} {str(path)!r}: {problem}")

    if not path.is_file():
        raise fail("no such file" if not path.exists() else "not a regular file")
    kind = _not_an_npz(path)
    if kind is not None:  # numpy would call any such file "pickled data"
        raise fail(f"not a gdkit {what}: it is {kind}. Give a {what} that gdkit wrote (an "
                   ".npz file, a zip archive).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if _META not in names:
                raise fail(f"not a gdkit {what} (no metadata: a foreign .npz?). Give a {what} "
                           "that gdkit wrote.")
            if _declared_size(npz, _META) > _MAX_META + 4096:
                raise fail(f"its metadata declares {_declared_size(npz, _META):,} bytes, more "
                           f"than the {_MAX_META:,} any gdkit {what} holds")
            raw = npz[_META]
            if raw.dtype.kind != "U" or raw.ndim != 0 or raw.nbytes > _MAX_META:
                raise fail("its metadata is not a JSON string")
            meta = json.loads(str(raw))
            if not isinstance(meta, dict) or meta.get("format") != fmt:
                raise fail(f"not a gdkit {what} (format {meta.get('format')!r} "
                           f"where {fmt!r} was expected)"
                           if isinstance(meta, dict) else "its metadata is not a JSON object")
            if meta.get("version") != VERSION:
                raise fail(f"format version {meta.get('version')!r}; this gdkit reads "
                           f"version {VERSION}. Use the gdkit version that wrote it.")
            others = [k for k in names if k != _META]
            chosen = others if members is None else members(meta, others)
            limits: Mapping[str, Limit] = (
                chosen if isinstance(chosen, Mapping) else dict.fromkeys(chosen))
            wanted = list(limits)
            missing = [k for k in wanted if k not in others]
            if missing:
                raise fail(f"the array(s) {', '.join(missing)} named by its metadata are "
                           "missing: the file is damaged")
            _check_declared(npz, limits, fail)
            arrays = {k: npz[k] for k in wanted}
    except _Refused as exc:
        raise fail(str(exc)) from None
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, RuntimeError,
            UnicodeDecodeError, NotImplementedError, MemoryError, OverflowError) as exc:
        if "pickle" in str(exc):  # numpy's advice to allow_pickle is not for gdkit users
            raise fail("it holds pickled Python objects, which gdkit never writes and never "
                       "loads: it is damaged or not a gdkit file. Use an earlier copy or start "
                       "afresh.") from exc
        raise fail(f"unreadable or corrupt ({type(exc).__name__}: {exc}). "
                   "It may be truncated; use an earlier copy or start afresh.") from exc
    return meta, arrays


def _check_declared(npz: Any, limits: Mapping[str, Limit],
                    fail: Callable[[str], CheckpointError]) -> None:
    """Each array's size as its ``.npy`` header declares it, checked against its zip
    member, its limit and, all together, the memory available: before any is read."""
    budget = available_memory() / MEMORY_MARGIN
    for k, limit in limits.items():
        declared, holds = _declared_size(npz, k), _header_size(npz, k)
        if holds > declared:
            raise fail(f"its array {k!r} declares {holds:,} bytes of data in a member of "
                       f"{declared:,}: the file is damaged or forged")
        if limit is not None and holds > limit[0]:
            raise fail(f"its array {k!r} declares {holds:,} bytes, more than the "
                       f"{limit[0]:,} that {limit[1]}: the file is damaged or forged")
        budget -= holds * (_LIST_FACTOR if k.startswith("history/") else 1)
        if budget < 0:
            raise fail(f"its array {k!r} declares {holds:,} bytes, more than this "
                       "machine's available memory allows: the file is damaged or not "
                       "a gdkit file")


def _not_an_npz(path: Path) -> str | None:
    """What the file at ``path`` is, in a phrase, when it is not a zip archive (as every
    .npz is); None when it is one, or cannot be read (``np.load`` then says why)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError:
        return None
    if head.startswith(_ZIP):
        return None
    if not head:
        return "an empty file"
    if head.startswith(b"\x93NUMPY"):
        return "a single numpy array (.npy), not an .npz archive of them"
    if head[:1] == b"\x80":  # the PROTO opcode every pickle since protocol 2 starts with
        return "a pickle of Python objects, which gdkit never writes and never loads"
    text = head.decode("utf-8", errors="replace")
    if "\ufffd" in text[:-4] or any(c < " " and c not in "\t\r\n" for c in text):
        return f"binary data of some other kind (it starts with {head[:16]!r})"
    first = text.lstrip()[:40]
    shown = first.splitlines()[0] if first.strip() else "blank lines"
    if first[:1] in ("{", "["):
        return (f"JSON text (it starts with {shown!r}), such as a training log, not a "
                "saved array")
    return f"text (it starts with {shown!r}), not a saved array"


_SNIFF: Final = 64
_ZIP: Final = b"PK"  # a zip archive's local header or (empty) end record
class _Refused(ValueError):
    """Raised by a ``members`` function of :func:`read_npz`: the metadata alone
    shows the file cannot be used (the message says why)."""


def _declared_size(npz: Any, key: str) -> int:
    """The uncompressed size the zip directory declares for member ``key``."""
    return int(npz.zip.getinfo(f"{key}.npy").file_size)


def _header_size(npz: Any, key: str) -> int:
    """Bytes of data the ``.npy`` header of member ``key`` declares (its shape
    times its dtype's size), read without reading the data."""
    with npz.zip.open(f"{key}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return math.prod(int(n) for n in shape) * int(dtype.itemsize)


def _checkpoint_members(meta: dict[str, Any], names: list[str]) -> dict[str, Limit]:
    """The members a checkpoint's reader needs, each bounded by what the run
    it records needs: v by its dim, each history column by its position, each
    part of the step rule's state by :data:`RULE_STATE_VECTORS` vectors."""
    try:
        rows = _count(meta, "epoch" if meta.get("mode") == "epoch" else "iteration")
    except (KeyError, ValueError) as exc:
        raise _Refused(_position_message(exc)) from None
    config = meta.get("config")
    dim = config.get("dim") if isinstance(config, dict) else None
    per_vector = dim * _MAX_ITEMSIZE if type(dim) is int and dim >= 0 else None
    known: dict[str, Limit] = {
        "v": None if per_vector is None else (
            per_vector, f"its {dim:,} parameters (dim in its configuration) can hold"),
    }
    if "perm" in names:
        known["perm"] = None
    for k in _names(meta, "history"):
        known[f"history/{k}"] = (rows * 8, f"{rows:,} row(s) of history take (one per "
                                           "completed epoch or step, as its position says)")
    rule = max(RULE_STATE_VECTORS * (per_vector or 0), 1 << 20)
    for k in _names(meta, "rule_state"):
        known[f"rule/{k}"] = (rule, f"a step rule's state may hold ({RULE_STATE_VECTORS} "
                                    "vectors of the parameters' size, or 1 MiB)")
    return known


def _names(meta: dict[str, Any], key: str) -> list[str]:
    listed = meta.get(key, [])
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        raise _Refused(f"its metadata's {key!r} is not a list of names: the file is damaged")
    return listed


def _model_members(meta: dict[str, Any], names: list[str]) -> list[str]:
    listed = meta.get("arrays")
    if isinstance(listed, list) and all(isinstance(k, str) for k in listed):
        return ["parameters", *listed]
    return names  # written before models listed their arrays: every member, size-checked


def _count(meta: Mapping[str, Any], key: str) -> int:
    """The position ``meta[key]``: a JSON integer in 0 .. ``_MAX_COUNT`` (not
    ``1.7``, ``1e6`` or ``true``)."""
    value = meta[key]
    if type(value) is not int or not 0 <= value <= _MAX_COUNT:
        raise ValueError(f"its position {key}: {value!r} is not a whole number in "
                         f"0..{_MAX_COUNT:,}")
    return value


def _position_message(exc: KeyError | ValueError) -> str:
    problem = exc.args[0] if isinstance(exc, ValueError) else f"no position {exc}"
    return (f"{problem}: it was edited or damaged, and the run cannot continue from it. Use an "
            "earlier copy, or start afresh.")


def _position_problem(mode: str, epoch: int, iteration: int, position: int,
                      perm: npt.NDArray[Any] | None, history: Mapping[str, list[float]],
                      ) -> str | None:
    """What makes a run's position impossible, or None.

    The history has one row per completed epoch (mini-batches) or per step
    taken (full batch), so its length must agree with the position; a
    position inside an epoch lies within that epoch's permutation.
    """
    rows = {len(col) for col in history.values()}
    done, unit = (epoch, "epoch") if mode == "epoch" else (iteration, "iteration")
    if mode == "iteration" and (epoch or position or perm is not None):
        return (f"a full-batch run (mode 'iteration') at epoch {epoch}, position {position}"
                f"{' with a permutation' if perm is not None else ''}; it has neither")
    if rows and rows != {done}:
        shown = ", ".join(f"{r:,}" for r in sorted(rows))
        return (f"its {unit} is {done:,} but its history holds {shown} row(s), one per "
                f"{'completed epoch' if mode == 'epoch' else 'step'}")
    if mode == "epoch" and position > (0 if perm is None else perm.size):
        return (f"the checkpoint's position {position} in its epoch is outside "
                f"0..{0 if perm is None else perm.size}")
    return None


def _finite(path: Any, what: str, v: npt.NDArray[Any]) -> None:
    if not np.all(np.isfinite(v)):
        bad = int(np.count_nonzero(~np.isfinite(v)))
        raise CheckpointError(
            f"{what} {os.fspath(path)!r}: {bad:,} of its {v.size:,} parameters are NaN or "
            "infinite (saved from a run that diverged, or damaged); it cannot be resumed or "
            "used. Use an earlier copy or start afresh.")


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically."""
    arrays: dict[str, npt.ArrayLike] = {"v": ckpt.v}
    if ckpt.perm is not None:
        arrays["perm"] = ckpt.perm
    for k, col in ckpt.history.items():
        arrays[f"history/{k}"] = np.asarray(col, dtype=float)
    for k, val in ckpt.rule_state.items():
        arrays[f"rule/{k}"] = np.asarray(val)
    meta = {"format": FORMAT, "version": VERSION, "mode": ckpt.mode, "epoch": ckpt.epoch,
            "iteration": ckpt.iteration, "position": ckpt.position,
            "rng_state": ckpt.rng_state, "history": list(ckpt.history),
            "rule_state": list(ckpt.rule_state), "config": ckpt.config, "extra": ckpt.extra,
            "epoch_seconds": ckpt.epoch_seconds}
    return atomic_savez(path, arrays, meta)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    CheckpointError
        The file is missing, truncated, corrupt, of another format or version,
        or inconsistent; the message names the file and the problem.
    """
    meta, arrays = read_npz(path, FORMAT, members=_checkpoint_members)

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {str(path)!r}: {problem}")

    try:
        epoch, iteration, position = (_count(meta, k) for k in ("epoch", "iteration", "position"))
    except (KeyError, ValueError) as exc:
        raise fail(_position_message(exc)) from None
    try:
        mode = meta["mode"]
        if mode not in ("epoch", "iteration"):
            raise ValueError(f"mode {mode!r}")
        v = arrays["v"]
        if v.ndim != 1 or v.dtype.kind != "f":
            raise ValueError(f"parameters of shape {v.shape} and dtype {v.dtype}")
        perm = arrays.get("perm")
        if perm is not None and (perm.ndim != 1 or perm.dtype.kind not in "iu"):
            raise ValueError("bad permutation")
        history = {k: arrays[f"history/{k}"].astype(float).tolist() for k in meta["history"]}
        rule_state = {k: (a.item() if (a := arrays[f"rule/{k}"]).ndim == 0 else a)
                      for k in meta["rule_state"]}
        config, rng_state, extra = meta["config"], meta["rng_state"], meta.get("extra", {})
        epoch_seconds = float(meta.get("epoch_seconds", 0.0))
        if not isinstance(config, dict) or not isinstance(extra, dict):
            raise ValueError("bad configuration")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise fail(f"inconsistent contents ({type(exc).__name__}: {exc})") from exc
    problem = _position_problem(mode, epoch, iteration, position, perm, history)
    if problem:
        raise fail(f"{problem}: it was edited or damaged, and the run cannot continue from it. "
                   "Use an earlier copy, or start afresh.")
    _finite(path, "checkpoint", v)
    return Checkpoint(v=v, mode=mode, epoch=epoch, iteration=iteration, position=position,
                      perm=None if perm is None else perm.astype(np.int64), rng_state=rng_state,
                      history=history, rule_state=rule_state, config=config, extra=extra,
                      epoch_seconds=epoch_seconds)



def save_model(path: str | os.PathLike[str], parameters: npt.ArrayLike,
               meta: Mapping[str, Any], **arrays: npt.ArrayLike) -> Path:
    """Save trained ``parameters`` (the flat v), JSON-able ``meta`` and any
    further named arrays to ``path`` atomically, without pickle."""
    full = {"format": MODEL_FORMAT, "version": VERSION, **meta, "arrays": sorted(arrays)}
    return atomic_savez(path, {"parameters": parameters, **arrays}, full)


def load_model(path: str | os.PathLike[str], *, arrays: Iterable[str] | None = None,
               limits: Callable[[dict[str, Any]], Mapping[str, Limit]] | None = None,
               ) -> tuple[npt.NDArray[Any], dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Read a model saved by :func:`save_model`: (parameters, meta, other arrays).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    arrays : iterable of str, optional
        The arrays besides the parameters the caller uses; no other member is
        read (default: every array the file lists).
    limits : callable, optional
        Given the metadata, the most bytes each array (``"parameters"``
        included) may hold and why, checked from its header before it is read.

    Raises
    ------
    CheckpointError
        Missing, truncated, corrupt, foreign or of another version; an array
        larger than its limit or than the memory available.
    """
    wanted = None if arrays is None else ["parameters", *arrays]

    def members(meta: dict[str, Any], names: list[str]) -> dict[str, Limit]:
        chosen = _model_members(meta, names) if wanted is None else wanted
        bounds = {} if limits is None else limits(meta)
        return {k: bounds.get(k) for k in chosen}

    meta, read = read_npz(path, MODEL_FORMAT, what="saved model", members=members)
    params = read.pop("parameters", None)
    if params is None or params.ndim != 1 or params.dtype.kind != "f":
        raise CheckpointError(f"saved model {os.fspath(path)!r}: no 1-D floating 'parameters' "
                              "array; the file is damaged or not a gdkit model.")
    _finite(path, "saved model", params)
    return params, meta, read
