"""The threads that train and evaluate: how many there are, and their floating-point environment.

Two pieces of CPU state are per thread and change numbers or speed:

- Denormal flushing (x86 MXCSR: flush-to-zero and denormals-are-zero, ``torch.set_flush_denormal``).
  Training flushes them: after ≈ 1 500 steps a quarter of the weights and Adam moments are denormal and
  steps slow down 1.7-10× (FACTS.md, "Speed"). Evaluation does not: it runs in the IEEE default that
  every fresh thread starts in, so a stored run's metrics are the same whichever thread computes them
  (a thread that trained, a fresh one, a Dask worker, a user's session reloading the weights). Before this
  was stated here, a local study and a Dask one differed in one value: a KS p-value of 1.98e-321
  (evaluated in a fresh thread) against 0.0 (in the thread that had trained).
- torch's intra-op thread count (OpenMP's setting is per thread, and a new thread starts from the last
  value set anywhere). Every thread that trains or evaluates runs with one intra-op thread; parallelism
  comes from running several such threads (:mod:`vaebench.engine`, :mod:`vaebench.execution`).

:func:`training` and :func:`evaluating` set the floating-point environment and restore the caller's;
:func:`one_intra_op_thread` is the only place torch's thread count is set. :func:`usable_cores` counts
the cores, portably.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch

_TINY = np.float32(1e-39)  # a float32 denormal: flushed to zero where denormals are flushed


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one (Linux), else
    ``os.cpu_count()`` (macOS, Windows); at least 1."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def flushing_denormals() -> bool:
    """Whether this thread flushes denormals to zero (reads the state by computing with one)."""
    return bool(np.multiply(_TINY, np.float32(1.0)) == 0)


@contextlib.contextmanager
def _flush(on: bool) -> Iterator[None]:
    before = flushing_denormals()
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def training() -> contextlib.AbstractContextManager[None]:
    """The floating-point environment of a thread while it trains: denormals flushed (the caller's
    state restored after)."""
    return _flush(True)


def evaluating() -> contextlib.AbstractContextManager[None]:
    """The floating-point environment of a thread while it evaluates: IEEE denormals, as in a fresh
    thread (the caller's state restored after)."""
    return _flush(False)


@contextlib.contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """torch ops of this thread, and of threads started meanwhile, on one intra-op thread; the caller's
    count restored after. A pool's owner holds it while its worker threads train or evaluate."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
