"""Worker processes and threads for a group's parts (vaebench/workers.py)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading

import pytest
import torch

import vaebench.variants as variants_mod
import vaebench.variants.vae as vaebench_vae
from vaebench import RunConfig, train, workers
from vaebench.losses import gaussian_recon

forks = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="worker processes are forked on Linux only")


@pytest.fixture(autouse=True)
def _default_workers(monkeypatch):
    """Each test starts from the default (processes), whatever the suite runs under; tests that want
    threads say so."""
    monkeypatch.delenv(workers.ENV, raising=False)


def _square(job, report):
    if report is not None:
        report(job)
    return job * job, os.getpid()


@forks
def test_parts_run_in_other_processes_in_order_with_progress_in_the_caller(monkeypatch):
    monkeypatch.delenv(workers.ENV, raising=False)
    assert workers.kind() == "processes"
    seen = []
    caller = threading.get_ident()

    def progress(n):
        seen.append((n, threading.get_ident()))

    out = workers.run_parts(list(range(7)), _square, 3, progress)
    assert [v for v, _ in out] == [j * j for j in range(7)]
    assert len({pid for _, pid in out}) == 3 and os.getpid() not in {pid for _, pid in out}
    assert sorted(n for n, _ in seen) == list(range(7)) and {t for _, t in seen} == {caller}
    assert not multiprocessing.active_children()


def test_threads_on_request_and_one_worker_in_the_caller(monkeypatch):
    monkeypatch.setenv(workers.ENV, "threads")
    out = workers.run_parts(list(range(5)), _square, 2)
    assert [v for v, _ in out] == [0, 1, 4, 9, 16] and {pid for _, pid in out} == {os.getpid()}
    monkeypatch.delenv(workers.ENV)
    assert workers.run_parts([3], _square, 4) == [(9, os.getpid())]  # one job: no worker at all


def test_a_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv(workers.ENV, "fork")
    with pytest.raises(ValueError, match=r"VAEBENCH_CPU_WORKERS = 'fork': must be one of \['processes', "
                                         r"'threads'\]"):
        workers.mode()


def test_a_daemonic_process_uses_threads(monkeypatch):
    class Daemon:
        daemon = True

    monkeypatch.delenv(workers.ENV, raising=False)
    monkeypatch.setattr(workers.multiprocessing, "current_process", lambda: Daemon())
    assert workers.kind() == "threads"


def _fails_on_two(job, report):
    if job == 2:
        raise ValueError(f"job {job} is bad")
    return job


def _dies_on_one(job, report):
    if job == 1:
        os._exit(3)
    return job


@forks
def test_a_failing_worker_raises_its_error_in_the_caller():
    with pytest.raises(ValueError, match="job 2 is bad") as info:
        workers.run_parts([0, 1, 2, 3], _fails_on_two, 2)
    assert any("training worker process" in note for note in info.value.__notes__)
    assert not multiprocessing.active_children()


@forks
def test_a_worker_that_dies_is_reported():
    with pytest.raises(RuntimeError, match=r"ended with exit code 3 before sending its results"):
        workers.run_parts([0, 1, 2, 3], _dies_on_one, 2)
    assert not multiprocessing.active_children()


def _slow(job, report):
    import time

    report(1)
    time.sleep(30)
    return job


@forks
def test_an_interrupt_in_the_caller_ends_the_workers():
    def progress(n):
        raise KeyboardInterrupt  # as Ctrl-C would, while the workers run

    with pytest.raises(KeyboardInterrupt):
        workers.run_parts([0, 1], _slow, 2, progress)
    assert not multiprocessing.active_children()


class _RuntimeVariant(vaebench_vae.VAE):
    """Registered while the test runs: forked workers inherit it."""

    name = "runtime_vae"

    def loss(self, inp):
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        return {"recon": recon, "total": recon}


@forks
@pytest.mark.parametrize("variant", ["vae", "runtime_vae"])
def test_processes_threads_and_one_thread_train_identical_numbers(monkeypatch, variant):
    monkeypatch.setitem(variants_mod.VARIANTS, "runtime_vae", _RuntimeVariant())
    cfgs = [RunConfig(variant=variant, beta=0.2, seed=s, n_train=300, steps=20, batch_size=16)
            for s in range(34)]  # ≥ 2 × MIN_PART: two workers
    forked = []
    in_processes = workers._in_processes
    monkeypatch.setattr(workers, "_in_processes", lambda *a: forked.append(1) or in_processes(*a))
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setenv(workers.ENV, "processes")
        procs = train(cfgs)
        assert forked == [1]  # the processes really trained it
        monkeypatch.setenv(workers.ENV, "threads")
        threads = train(cfgs)
        torch.set_num_threads(1)
        alone = train(cfgs)
    finally:
        torch.set_num_threads(saved)
    for a, b, c in zip(procs, threads, alone, strict=True):
        assert a.history.equals(b.history) and a.history.equals(c.history)
        for p, q, r in zip(a.model.parameters(), b.model.parameters(), c.model.parameters(), strict=True):
            assert torch.equal(p, q) and torch.equal(p, r)


class _TwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def _raises_two_args(job, report):
    raise _TwoArgs("left", "right")  # pickles, but unpickling calls __init__ with one argument


@forks
def test_an_error_that_does_not_unpickle_arrives_as_its_text():
    # where an imported library has taught pickle to rebuild exceptions without __init__ (tblib, as
    # dask.distributed installs), the error itself arrives; else its text, never unpickling's TypeError
    with pytest.raises((RuntimeError, _TwoArgs), match=r"left and right") as info:
        workers.run_parts([0, 1], _raises_two_args, 2)
    assert info.type is _TwoArgs or "_TwoArgs: left and right" in str(info.value)


def _lock_is_free(job, report):
    from vaebench import cpu_kernel

    ok = cpu_kernel._lock.acquire(timeout=5)
    if ok:
        cpu_kernel._lock.release()
    return ok


@forks
def test_a_lock_held_by_another_thread_at_fork_is_free_in_the_worker():
    from vaebench import cpu_kernel

    held, release = threading.Event(), threading.Event()

    def hold():
        with cpu_kernel._lock:  # as a first load() does while it compiles
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        assert workers.run_parts([0, 1], _lock_is_free, 2) == [True, True]
    finally:
        release.set()
        t.join()


ORPHAN = """
import os, sys, time
sys.path.insert(0, {root!r})
from vaebench import workers

def job(j, report):
    with open(os.path.join({tmp!r}, f"worker-{{j}}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)

workers.run_parts([0, 1], job, 2)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\tZ" not in next(line for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return False


@forks
def test_workers_die_with_a_killed_caller(tmp_path):
    import signal
    import subprocess
    import time
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    caller = subprocess.Popen([sys.executable, "-c", ORPHAN.format(root=root, tmp=str(tmp_path))])
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        pids = [int(p.read_text()) for p in tmp_path.glob("worker-*")]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        caller.send_signal(signal.SIGKILL)  # no clean-up code runs in the caller
        caller.wait()
        deadline = time.time() + 10
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)
    finally:
        caller.kill()
