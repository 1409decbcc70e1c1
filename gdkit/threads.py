"""How many threads the BLAS library may use during a run: a policy, not an accident.

numpy's matrix products run on a BLAS library (OpenBLAS, MKL) that starts as
many threads as the machine has cores. For the small matrices of a
mini-batch step (10 × 784 times 784 × 30 for the book's network) a second
thread gains nothing, and on a machine shared with other work the threads
wait for each other: measured on a 2-core machine, 1 thread is as fast as 2
at batch 10 and up to 3.9× faster beside a competing process (see the docs'
benchmarks page). Thread counts also change how sums are rounded,
so fixing the count at 1 for small work makes the same seed give the same
numbers on machines with different numbers of cores.

:func:`decide` picks the count from the work of one step (the rows a step
processes times the number of parameters, about the multiply-adds of one
forward pass); :func:`limit` applies a count for the duration of a run and
restores the library's setting afterwards (threadpoolctl).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Final, Literal

from .errors import ConfigError

__all__ = ["MAX_THREADS", "SMALL_WORK", "THREADS_HELP", "Threads", "decide", "limit", "parse"]

MAX_THREADS: Final = 4096
"""The most BLAS threads ``--threads`` takes (more than any machine gdkit runs on)."""

Threads = int | Literal["auto"] | None
"""A thread setting: a count, ``"auto"`` (:func:`decide`), or None (leave the
BLAS library as it is)."""

SMALL_WORK: Final = 10_000_000
"""Steps whose rows × parameters are below this run on one BLAS thread under
``"auto"``: every mini-batch step of the book's networks up to batch 100
with 100 hidden neurons (8 × 10⁶). Measured by ``benchmarks/speed.py`` on 2
cores: one thread is as fast as two at batch 10, up to 3.9× faster beside a
competing process, and up to 1.3× slower at batch 100 on an idle machine, a
cost taken for numbers that do not depend on the machine's cores."""


THREADS_HELP: Final = ("BLAS threads: auto (default: one thread when a step's work is small, "
                       "where more threads cost time and change the rounding) or a count N")


def parse(text: str) -> int | Literal["auto"]:
    """A ``--threads`` value: ``"auto"`` or an integer >= 1."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or an integer from 1 to {MAX_THREADS:,}, got {shown!r} (this "
            f"machine has {os.cpu_count() or 1} CPU(s)).")
    return n


def decide(threads: Threads, rows: int, dim: int) -> int | None:
    """The BLAS thread count for steps over ``rows`` inputs of a ``dim``-parameter model.

    Parameters
    ----------
    threads : int, "auto" or None
        A count (>= 1) is kept; None leaves the library alone; ``"auto"`` is 1
        when ``rows * dim < SMALL_WORK`` and None (the library's default)
        otherwise.
    rows : int
        Inputs one step processes (the mini-batch size, or the rows of a
        full-batch chunk).
    dim : int
        The number of parameters m.

    Returns
    -------
    int or None
    """
    if threads is None:
        return None
    if threads == "auto":
        return 1 if rows * dim < SMALL_WORK else None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, 'auto' or None, got {threads!r}.")
    return threads


@contextlib.contextmanager
def limit(threads: int | None) -> Iterator[None]:
    """Run the body with the BLAS library limited to ``threads`` (None: unchanged)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
