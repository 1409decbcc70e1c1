"""The ``dask`` gradient source: C and ∇C of a sampled objective as a
reduction over shards of its training data held on a Dask cluster.

The cost of eq. (6) is a mean over the n training inputs, so C and ∇C are
sums over any split of them. The source splits the objective's data
(:meth:`~gdkit.protocols.Shardable.shard_data`) into shards of rows along the
chunks of its dask arrays, builds the objective on each shard on a worker
(:meth:`~gdkit.protocols.Shardable.shard_builder`) once per run, and keeps
it there. Each step then sends v once (one task holding it; the shards' tasks
fetch it from there), runs one task per shard computing that shard's partial
sums with the objective's own vectorized code, adds them on the cluster in a
fixed order and brings back one number and one vector.

The shards are persisted from their task graph, never scattered: a worker
that dies takes its shards with it and the scheduler recomputes them on the
survivors from their lineage (the arrays' own chunks). Every wait has a
timeout, so a lost cluster is an error, never a hang.

Dask is imported when a run first asks for this source (``gdkit[dask]``),
never when gdkit or its plugins load.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import socket
import types
import uuid
import weakref
from typing import Any

import numpy as np

import gdkit
from gdkit.errors import ConfigError, GdkitError, MissingExtraError
from gdkit.protocols import Batch, FloatArray, Objective, Sampled, Shardable
from gdkit.validate import integer, number

from . import _dask_tasks as tasks
from .lazy import is_lazy

__all__ = ["ClusterError", "DaskGradient"]

DEFAULT_TIMEOUT = 60.0
DEFAULT_LOAD_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
_NETWORK_SCHEMES = ("tcp", "tls", "ws", "wss")
FAN_IN = 8
"""Partial sums added per reduction task (a tree of them over many shards)."""


class ClusterError(GdkitError):
    """The cluster could not finish a step: a timeout, workers lost beyond
    recovery, no scheduler to reach, or a task that failed there."""


class _Shards:
    """One objective's shards on the cluster, for the runs of one source."""

    def __init__(self, objective: Objective, futures: list[Any], bounds: Any) -> None:
        self.objective = objective
        self.futures = futures
        self.bounds = bounds  # row offsets: shard k holds rows bounds[k]:bounds[k + 1]

    @property
    def n(self) -> int:
        return int(self.bounds[-1])


class DaskGradient:
    """∇C (and C) of a sampled objective, computed on a Dask cluster where
    its data lives.

    Parameters
    ----------
    client : distributed.Client, optional
        The cluster to run on. Default: ``address`` if given, else the
        current default client (the last one made in this process).
    address : str, optional
        A scheduler address (``"tcp://10.0.0.5:8786"``) to connect to; the
        source then owns that connection and :meth:`close` ends it.
    timeout : float, default 60
        Seconds a step may take (sending v, the shards' tasks, the
        reduction); beyond that the step fails with :class:`ClusterError`.
    load_timeout : float, default 600
        Seconds for building the shards at the start of a run (reading or
        generating the data on the workers).
    connect_timeout : float, default 10
        Seconds to reach the scheduler at ``address`` (a refused connection
        fails at once); also the most that closing that connection waits.
    rows : int, optional
        Rows per shard. Default: dask arrays keep their row chunks; numpy
        data are split into one shard per worker thread.

    Notes
    -----
    The shards stay on the workers while the source lives, so a second run
    of the same objective reuses them; :meth:`close` (or the source's end)
    frees them. One task per shard per step, so a step costs at least one round trip to
    the scheduler (10-20 ms on one machine): worth it only when a step's
    local gradient costs much more, i.e. for full-batch steps over large
    data, never for mini-batches of 10. Results agree with the local path to
    the rounding of a differently ordered sum, and are the same bits run
    after run for the same chunking.
    """

    def __init__(self, client: Any = None, *, address: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT,
                 load_timeout: float = DEFAULT_LOAD_TIMEOUT,
                 rows: int | None = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        if client is not None and address is not None:
            raise ConfigError("dask: pass client= or address=, not both.")
        if address is not None and not isinstance(address, str):
            raise ConfigError(f"dask: address must be a scheduler address such as "
                              f"'tcp://127.0.0.1:8786', got {address!r}.")
        self.timeout = number("dask", "timeout", timeout, low=0.0)
        self.load_timeout = number("dask", "load_timeout", load_timeout, low=0.0)
        self.connect_timeout = number("dask", "connect_timeout", connect_timeout, low=0.0)
        self._where = None if address is None else _parse_address(address)
        self.rows = None if rows is None else integer("dask", "rows", rows, minimum=1)
        self._client = client
        self._address = address
        self._owns_client = False
        self._shards: _Shards | None = None
        self._token = uuid.uuid4().hex[:12]
        self._steps = itertools.count()

    def __repr__(self) -> str:
        shown = [f"{k}={v!r}" for k, v, default in (
            ("client", self._client, None), ("address", self._address, None),
            ("timeout", self.timeout, DEFAULT_TIMEOUT),
            ("load_timeout", self.load_timeout, DEFAULT_LOAD_TIMEOUT),
            ("connect_timeout", self.connect_timeout, DEFAULT_CONNECT_TIMEOUT),
            ("rows", self.rows, None)) if v != default]
        return f"DaskGradient({', '.join(shown)})"

    def configuration(self) -> dict[str, Any]:
        """What a resume compares: the chunking, which changes the sums' rounding.
        Where a run computes and how long it waits change no number, so a
        checkpointed run may resume on another cluster, with other timeouts."""
        return {"rows": self.rows}

    # -- the protocols ---------------------------------------------------------
    def validate(self, objective: Objective) -> None:
        """Check the objective, connect, and build its shards on the workers
        (once per objective: a second run of the same one reuses them)."""
        self._shards_of(objective)

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C(v) over all inputs or ``batch``, written into ``out`` if given."""
        return self.value_and_gradient(objective, v, batch, out)[1]

    def cost(self, objective: Objective, v: FloatArray, batch: Batch | None = None) -> float:
        """C(v) over all inputs or ``batch``."""
        return self._step(objective, v, batch, None)[0]

    def value_and_gradient(self, objective: Objective, v: FloatArray,
                           batch: Batch | None = None, out: FloatArray | None = None
                           ) -> tuple[float, FloatArray]:
        """(C(v), ∇C(v)) from one task per shard."""
        if out is None:
            out = np.empty_like(v)
        cost, _ = self._step(objective, v, batch, out)
        return cost, out

    def close(self) -> None:
        """Forget the shards (the workers free them) and close a connection
        this source opened from ``address``."""
        self._shards = None
        if self._owns_client and self._client is not None:
            _close_quietly(self._client, self.connect_timeout)
            self._client = None
            self._owns_client = False

    def __enter__(self) -> DaskGradient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- a step ----------------------------------------------------------------
    def _step(self, objective: Objective, v: FloatArray, batch: Batch | None,
              out: FloatArray | None) -> tuple[float, FloatArray | None]:
        shards = self._shards_of(objective)
        client = self._client
        key = f"gdkit-{self._token}-{next(self._steps)}"
        assigned = self._assign(shards, batch)
        futures: list[Any] = []
        try:
            # v travels once: one task holds it, the shards' tasks fetch it
            # from there. A task, not a scatter: if its worker dies, the
            # scheduler recomputes it from the graph.
            held = client.submit(_hold, np.array(v, copy=True), key=f"{key}-v", pure=False)
            futures.append(held)
            parts = [client.submit(tasks.partial_sums, shards.futures[k], held, local,
                                   out is not None, key=f"{key}-shard-{k}", pure=False)
                     for k, local in assigned]
            futures += parts
            total = self._reduce(client, parts, key)
            futures.append(total)
            cost, g, count = total.result(timeout=self.timeout)
        except GdkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever failed there, one line here
            _cancel(*futures)
            raise self._failure(exc) from None
        except BaseException:  # Ctrl-C: leave nothing running on the cluster
            _cancel(*futures)
            raise
        if out is not None:
            assert g is not None
            np.divide(g, count, out=out, casting="unsafe")
        return cost / count, out

    def _assign(self, shards: _Shards, batch: Batch | None) -> list[tuple[int, Batch | None]]:
        """Which shards a step visits, each with its local row indices
        (None: all its rows)."""
        if batch is None:
            return [(k, None) for k in range(len(shards.futures))]
        idx = np.asarray(batch, dtype=np.intp)
        if idx.ndim != 1 or idx.size == 0:
            raise ConfigError(f"dask: a batch must be a non-empty 1-D array of indices, got "
                              f"shape {idx.shape}.")
        if idx.min() < 0 or idx.max() >= shards.n:
            raise ConfigError(f"dask: batch indices must lie in 0..{shards.n - 1}.")
        which = np.searchsorted(shards.bounds, idx, side="right") - 1
        order = np.argsort(which, kind="stable")
        ks, starts = np.unique(which[order], return_index=True)
        groups = np.split(idx[order], starts[1:])
        return [(int(k), g - shards.bounds[k]) for k, g in zip(ks, groups, strict=True)]

    def _reduce(self, client: Any, parts: list[Any], key: str) -> Any:
        """A tree of :func:`~gdkit_plugins._dask_tasks.add_sums` tasks, fixed
        by the number of parts, so the sums are the same bits every run."""
        level = 0
        while True:
            groups = [parts[i:i + FAN_IN] for i in range(0, len(parts), FAN_IN)]
            parts = [client.submit(tasks.add_sums, *g, key=f"{key}-sum-{level}-{j}",
                                   pure=False) for j, g in enumerate(groups)]
            if len(parts) == 1:
                return parts[0]
            level += 1

    def _failure(self, exc: BaseException) -> ClusterError:
        """One line saying why a step could not finish, and what to do."""
        dd = _dask().distributed
        alive = self._workers()
        if isinstance(exc, TimeoutError):
            return ClusterError(
                f"dask: a step did not finish within timeout={self.timeout:g} s ({alive}). "
                "The cluster is too busy or has lost its workers: check it (its dashboard), "
                "or raise the timeout (gdkit.gradient_source('dask', timeout=...)).")
        if isinstance(exc, dd.KilledWorker):
            return ClusterError(
                f"dask: workers died while running a step ({alive}): {exc}. The shards' "
                "tasks were retried on other workers until Dask gave up; the workers may "
                "be running out of memory (a shard too large: rechunk the data smaller).")
        if _closed(self._client) or "closed" in type(exc).__name__.lower():
            return ClusterError(_CLOSED)
        if isinstance(exc, Exception) and "cancel" in type(exc).__name__.lower():
            return ClusterError(f"dask: the step was cancelled by the cluster ({alive}): the "
                                "client lost its scheduler or was closed.")
        return ClusterError(f"dask: a shard's task failed on the cluster: "
                            f"{type(exc).__name__}: {exc}"[:600])

    def _workers(self) -> str:
        try:
            n = len(self._client.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception:  # noqa: BLE001 - only for the message
            return "workers: unknown"
        return f"{n} worker{'s' * (n != 1)} alive"

    # -- the shards --------------------------------------------------------------
    def _shards_of(self, objective: Objective) -> _Shards:
        shards = self._shards
        if shards is not None and shards.objective is objective:
            return shards
        if not isinstance(objective, Sampled) or not isinstance(objective, Shardable):
            raise ConfigError(
                f"dask: {objective!r} cannot be split over a cluster: the 'dask' gradient "
                "source needs a sampled objective whose data are rows it can shard "
                "(shard_data() and shard_builder(), gdkit.protocols.Shardable), such as "
                "'quadratic' or 'network'.")
        client = self._connect()
        self._shards = None  # the previous objective's shards are released
        self._shards = self._build(client, objective)
        return self._shards

    def _connect(self) -> Any:
        if self._client is not None:
            if _closed(self._client):
                raise ClusterError(_CLOSED)
            return self._client
        dd = _dask().distributed
        if self._address is not None:
            self._probe()
            try:
                self._client = dd.Client(self._address, timeout=self.connect_timeout,
                                         set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - any failure to connect is the cluster's
                _close_half_built(exc, dd.Client, self.connect_timeout)
                raise ClusterError(f"dask: cannot reach the scheduler at {self._address!r} "
                                   f"({type(exc).__name__}: {exc}); start it, or check the "
                                   "address.") from None
            self._owns_client = True
            # closed with a timeout when the source goes (or the program ends), never
            # by the client's own __del__, which can wait without end for a lost scheduler
            weakref.finalize(self, _close_quietly, self._client, self.connect_timeout)
            return self._client
        try:
            self._client = dd.default_client()
        except ValueError:
            raise ConfigError("dask: no Dask cluster to run on: pass client= (a "
                              "distributed.Client) or address= (a scheduler address), or make "
                              "a Client first.") from None
        return self._client

    def _probe(self) -> None:
        """Reach the scheduler's port before Dask does: a refused connection is an
        error at once, and nothing answering within ``connect_timeout`` one then
        (Dask itself retries until its timeout)."""
        if self._where is None:
            return
        _, host, port = self._where
        try:
            with socket.create_connection((host, port), timeout=self.connect_timeout):
                pass
        except OSError as exc:
            why = (f"no answer within connect_timeout={self.connect_timeout:g} s"
                   if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower())
            raise ClusterError(f"dask: cannot reach the scheduler at {self._address!r} ({why}); "
                               "start it, or check the address.") from None

    def _build(self, client: Any, objective: Any) -> _Shards:
        """Persist the objective's shards on the workers and wait for them."""
        n = int(objective.n_samples)
        blocks, sizes = self._blocks(client, objective.shard_data(), n)
        builder = objective.shard_builder()
        build = _dask().dask.delayed(tasks.build_shard, pure=True)
        name = f"gdkit-shard-{self._token}-{next(self._steps)}"
        shards = [build(builder, *(b[k] for b in blocks), dask_key_name=f"{name}-{k}")
                  for k in range(len(sizes))]
        futures = self._persist(client, shards)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        if int(bounds[-1]) != n:
            raise ConfigError(f"dask: the objective's data have {int(bounds[-1])} rows but it "
                              f"has n_samples = {n}.")
        return _Shards(objective, futures, bounds)

    def _blocks(self, client: Any, arrays: tuple[Any, ...], n: int
                ) -> tuple[list[Any], tuple[int, ...]]:
        """Each array's row blocks (delayed), all split alike, and their sizes:
        along a dask array's own row chunks, or ``rows=``, or (numpy data)
        one block per worker thread."""
        da = _dask().array
        chunks: Any = self.rows
        if chunks is None:
            lazy = [a for a in arrays if is_lazy(a)]
            threads = 1 if lazy else max(1, sum(client.nthreads().values()))
            chunks = lazy[0].chunks[0] if lazy else max(1, math.ceil(n / threads))
        blocks = []
        for a in arrays:
            whole = (chunks, *(-1 for _ in np.shape(a)[1:]))  # rows split, the rest whole
            arr = a.rechunk(whole) if is_lazy(a) else da.from_array(np.asarray(a), chunks=whole)
            blocks.append(arr.to_delayed().reshape(-1))
        return blocks, tuple(arr.chunks[0])

    def _persist(self, client: Any, shards: list[Any]) -> list[Any]:
        """Compute the shards' objectives on the workers (kept there, with
        their lineage) and wait for them, within ``load_timeout``."""
        dd = _dask().distributed
        futures: list[Any] = []
        try:
            futures = client.compute(shards)
            with client.as_current():  # wait() asks for the current client
                dd.wait(futures, timeout=self.load_timeout)
            for f in futures:
                if f.status != "finished":
                    f.result(timeout=self.load_timeout)  # raises the task's error
        except GdkitError:
            raise
        except BaseException as exc:
            _cancel(*futures)
            if not isinstance(exc, Exception):
                raise
            if isinstance(exc, TimeoutError):
                raise ClusterError(
                    f"dask: building the {len(futures)} shards on the workers did not finish "
                    f"within load_timeout={self.load_timeout:g} s ({self._workers()}); raise "
                    "it for large data.") from None
            raise ClusterError(f"dask: building the shards on the workers failed: "
                               f"{type(exc).__name__}: {exc}"[:600]) from None
        return futures


def _parse_address(address: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a network scheduler address, None for another
    transport (inproc://, ucx://); ConfigError for no address at all. Checked
    before any connection is made, so a typo opens nothing that must be closed."""
    comm = _dask().distributed.comm
    try:
        scheme, location = comm.parse_address(address)
        if scheme not in _NETWORK_SCHEMES:
            return None
        host, port = comm.parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"dask: {address!r} is not a scheduler address ({exc}); give one "
                          "such as 'tcp://127.0.0.1:8786'.") from None
    return str(scheme), str(host), int(port)


def _close_half_built(exc: BaseException, kind: Any, timeout: float) -> None:
    """Close the client whose constructor raised ``exc`` (found on its
    traceback), so that its ``__del__`` does not wait on a connection that never
    was, at garbage collection or at exit, with a traceback."""
    tb = exc.__traceback__
    while tb is not None:
        client: Any = tb.tb_frame.f_locals.get("self")
        if isinstance(client, kind):
            _close_quietly(client, timeout)
            with contextlib.suppress(Exception):
                client.status = "closed"  # what Client.close() checks first
            return
        tb = tb.tb_next


def _close_quietly(client: Any, timeout: float) -> None:
    """Close a client this source opened, waiting at most ``timeout`` seconds."""
    with contextlib.suppress(Exception):
        client.close(timeout=timeout)


_CLOSED = ("dask: the Dask client this source runs on is closed; pass an open one "
           "(client=distributed.Client(...)) or a scheduler address.")


def _closed(client: Any) -> bool:
    return getattr(client, "status", "running") in ("closing", "closed")


def _cancel(*futures: Any) -> None:
    for f in futures:
        f.cancel()


def _hold(v: FloatArray) -> FloatArray:
    """The step's parameters, held by one worker for the shards' tasks."""
    return v


def _dask() -> types.SimpleNamespace:
    """dask, dask.array and distributed, imported when first asked for."""
    try:
        import dask
        import dask.array
        import distributed
    except ImportError:
        raise MissingExtraError("the gradient source 'dask'", "dask",
                                "dask and distributed") from None
    return types.SimpleNamespace(dask=dask, array=dask.array, distributed=distributed)


@gdkit.hookimpl
def gdkit_gradient_sources() -> dict[str, Any]:
    return {"dask": DaskGradient}

