"""Where the parts of a training group run on the CPU: forked worker processes, or worker threads.

The engine splits a large CPU group into parts (:func:`vaebench.engine.train`) and trains them at once,
one per core. Each part spends about a third of its step in Python (the variant's loss, the draws, the
calls into the kernel); worker threads share one GIL there, worker processes do not. Measured on 2 cores
(M = 128, B = 128, d = 2, bench/RESULTS.md): two processes reached 1.2× the model-steps/s of two threads.
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

import multiprocessing
import multiprocessing.connection
import os
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
    procs, conns, results = [], {}, {}
    try:
        for share in shares:
            recv, send = ctx.Pipe(duplex=False)
            args = (send, [jobs[i] for i in share], run, progress is not None)
            proc = ctx.Process(target=_worker, args=args, daemon=True)
            with warnings.catch_warnings():
                # Python >= 3.12 warns on fork when the process has other threads (PyTorch's idle intra-op
                # pool): the child runs only the training code below, with one intra-op thread, as
                # PyTorch's own DataLoader workers do
                warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks",
                                        category=DeprecationWarning)
                proc.start()
            send.close()
            procs.append(proc)
            conns[recv] = share
        while conns:
            for conn in multiprocessing.connection.wait(list(conns)):
                share = conns[conn]
                try:
                    kind_, payload = conn.recv()
                except EOFError:
                    proc = procs[shares.index(share)]
                    proc.join()
                    raise RuntimeError(f"a training worker process (parts {share}) ended with exit code "
                                       f"{proc.exitcode} before sending its results") from None
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
            proc.join()
    return [results[i] for i in range(len(jobs))]


def _worker(conn, jobs, run, report: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it ends the workers
    import torch

    torch.set_num_threads(1)

    def send_progress(n: int) -> None:
        conn.send(("progress", n))

    try:
        out = [run(job, send_progress if report else None) for job in jobs]
        conn.send(("done", out))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the caller
        err.add_note(f"in a vaebench training worker process:\n{traceback.format_exc()}")
        try:
            conn.send(("error", err))
        except Exception:  # an exception that does not pickle: its text
            conn.send(("error", RuntimeError(f"{type(err).__name__}: {err}\n{traceback.format_exc()}")))
    finally:
        conn.close()
