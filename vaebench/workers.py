"""Where the parts of a training group run on the CPU: forked worker processes, or worker threads.

The engine splits a large CPU group into parts (:func:`vaebench.engine.train`) and trains them at once,
one per core. Where the variant's loss runs in PyTorch, a part spends about a third of its step in Python
(the loss, the draws, the calls into the kernel); worker threads share one GIL there, worker processes
do not. Measured on 2 cores (M = 128, B = 128, d = 2, bench/RESULTS.md): two processes reached 1.19× the
model-steps/s of two threads there; the fused step (the whole step in C) gains nothing (1.00×).
So where the platform forks cheaply (Linux) parts train in worker processes forked from the caller: they
inherit its state (data, registered variants, the loaded kernel) and send back their parameters and
histories through a pipe, and their progress as it happens. A part's numbers are the same in a process
as in a thread (the same code on the same inputs), so the choice never changes a result.

``$VAEBENCH_CPU_WORKERS``: "processes" (default; threads where fork is not available, or inside a
daemonic process such as a multiprocessing pool worker, which may not have children) or "threads".
Ctrl-C reaches the caller alone (the workers ignore SIGINT); it ends the workers and raises
KeyboardInterrupt. A worker that fails sends its exception, which is raised in the caller with the
worker's traceback as a note; a worker that dies (killed, or a crash in C) raises RuntimeError.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

ENV = "VAEBENCH_CPU_WORKERS"
MODES = ("processes", "threads")

T = TypeVar("T")
Progress = Callable[[int], None]


def mode() -> str:
    """``$VAEBENCH_CPU_WORKERS``: "processes" (default) or "threads"; ValueError naming the variable
    otherwise."""
    value = os.environ.get(ENV, "processes")
    if value not in MODES:
        raise ValueError(f"{ENV} = {value!r}: must be one of {list(MODES)}")
    return value


def kind() -> str:
    """What :func:`run_parts` uses in this process: "processes" or "threads"."""
    if mode() == "threads" or not sys.platform.startswith("linux"):
        return "threads"  # fork is Linux's cheap, safe default; elsewhere spawning would re-import torch
    if multiprocessing.current_process().daemon:
        return "threads"  # daemonic processes may not start children
    return "processes"


def run_parts(jobs: Sequence[T], run: Callable[[T, Progress | None], Any], workers: int,
              progress: Progress | None = None) -> list[Any]:
    """``[run(job, report) for job in jobs]`` on ``workers`` workers at once, results in the order of
    ``jobs``. ``report(n)`` forwards a part's progress to ``progress`` (called in the calling thread for
    processes, under a lock for threads; None where ``progress`` is None). With processes, ``run`` must
    return something picklable (arrays, not tensors: PyTorch would move them through shared memory)."""
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        return [run(job, progress) for job in jobs]
    if kind() == "threads":
        return _in_threads(jobs, run, workers, progress)
    return _in_processes(jobs, run, workers, progress)


def _in_threads(jobs, run, workers: int, progress: Progress | None) -> list[Any]:
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)  # type: ignore[misc]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: run(job, None if progress is None else report), jobs))


def _in_processes(jobs, run, workers: int, progress: Progress | None) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    shares = [list(range(w, len(jobs), workers)) for w in range(workers)]  # job indices per worker
    procs, conns, results = [], {}, {}  # conns: read end → (its worker's job indices, the worker)
    try:
        for share in shares:
            recv, send = ctx.Pipe(duplex=False)
            # the child closes every read end it inherits, so it gets EPIPE, not a block, if we die
            args = (send, [*conns, recv], os.getpid(), [jobs[i] for i in share], run, progress is not None)
            proc = ctx.Process(target=_worker, args=args, daemon=True)
            procs.append(proc)  # before start: an interrupt from here on ends it
            conns[recv] = share, proc
            with warnings.catch_warnings():
                # Python >= 3.12 warns on fork when the process has other threads (PyTorch's idle intra-op
                # pool): the child runs only the training code, with one intra-op thread, as PyTorch's
                # own DataLoader workers do; the one lock of ours it takes is re-made after fork
                # (cpu_kernel._lock)
                warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks",
                                        category=DeprecationWarning)
                proc.start()
            send.close()
        while conns:
            for conn in multiprocessing.connection.wait(list(conns)):
                share, proc = conns[conn]
                try:
                    kind_, payload = conn.recv()
                except EOFError:
                    proc.join()
                    raise RuntimeError(f"a training worker process (parts {share}) ended with exit code "
                                       f"{proc.exitcode} before sending its results") from None
                except Exception as err:  # a message that does not unpickle here
                    raise RuntimeError(f"a training worker process (parts {share}) sent a message that "
                                       f"cannot be read: {type(err).__name__}: {err}") from None
                if kind_ == "progress":
                    progress(payload)  # type: ignore[misc]
                elif kind_ == "error":
                    raise payload
                else:
                    results.update(zip(share, payload, strict=True))
                    del conns[conn]
                    conn.close()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join()
    return [results[i] for i in range(len(jobs))]


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when its parent (pid ``parent``) dies (SIGKILL, a scheduler's
    timeout): it would otherwise train on, orphaned. Linux's prctl; then re-check, in case the parent died
    before it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _worker(conn, inherited, parent: int, jobs, run, report: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it ends the workers
    _die_with_parent(parent)
    for other in inherited:  # the caller's read ends: held here, they would hide the caller's death
        other.close()
    import torch

    torch.set_num_threads(1)

    def send_progress(n: int) -> None:
        conn.send(("progress", n))

    try:
        out = [run(job, send_progress if report else None) for job in jobs]
        conn.send(("done", out))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the caller
        text = traceback.format_exc()
        err.add_note(f"in a vaebench training worker process:\n{text}")
        try:
            pickle.loads(pickle.dumps(err))  # some exceptions pickle but do not unpickle
        except Exception:
            err = RuntimeError(f"{type(err).__name__}: {err}\n{text}")
        conn.send(("error", err))
    finally:
        conn.close()
