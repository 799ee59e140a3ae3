"""The threads that train and evaluate (vaebench.threads): their floating-point environment is set in one
place, so a run's metrics do not depend on which thread computes them, and the cores are counted portably.

The case that showed the break: the seed-figures study's infovae run, whose ``mu_ks_pvalue_min`` is a
denormal (1.986e-321) evaluated in a fresh thread and was 0.0 on a Dask worker, which evaluated in the
thread that had trained (denormals flushed)."""

import functools
import os
import threading

import numpy as np
import pytest
import torch

from vaebench import RunConfig, threads, train
from vaebench.evaluation import evaluate_run

INFOVAE = RunConfig(variant="infovae", dataset="uniform", n_train=10000, batch_size=128, steps=3000, lr=1e-3,
                    hidden=[30, 30], latent_dim=2, beta=0.01, l2=0.0, seed=0)


def in_thread(fn, flush: bool):
    """``fn()`` in a new thread that first sets denormal flushing to ``flush``; its result."""
    out = {}

    def body():
        torch.set_flush_denormal(flush)
        out["flushing"] = threads.flushing_denormals()
        out["value"] = fn()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert out["flushing"] is flush
    return out["value"]


def bits(metrics: dict[str, float]) -> dict[str, int]:
    """Each value's bit pattern: compares denormals exactly whatever this thread's state."""
    return {k: int(np.float64(v).view(np.int64)) for k, v in metrics.items()}


def test_training_flushes_denormals_and_evaluating_does_not_and_both_restore_the_callers_state():
    def check(flush_before):
        seen = [threads.flushing_denormals()]
        with threads.training():
            seen.append(threads.flushing_denormals())
            with threads.evaluating():
                seen.append(threads.flushing_denormals())
            seen.append(threads.flushing_denormals())
        seen.append(threads.flushing_denormals())
        return seen

    assert in_thread(lambda: check(False), False) == [False, True, False, True, False]
    assert in_thread(lambda: check(True), True) == [True, True, False, True, True]


def test_training_flushes_denormals_and_leaves_the_callers_floating_point_state_and_thread_count():
    def go(n_threads):
        seen = set()  # the engine reports progress from the threads that train, between chunks of steps

        def progress(n):
            seen.add((threads.flushing_denormals(), torch.get_num_threads()))

        torch.set_num_threads(2)
        cfgs = [RunConfig(n_train=100, steps=20, batch_size=16, hidden=[8], seed=s) for s in range(16)]
        train(cfgs, threads=n_threads, progress=progress)
        return seen, threads.flushing_denormals(), torch.get_num_threads()

    for n_threads in (1, 2):  # in this thread; in two worker threads (two parts of 8)
        assert in_thread(functools.partial(go, n_threads), False) == ({(True, 1)}, False, 2)


def test_a_run_evaluates_to_the_same_bits_in_a_fresh_thread_and_in_one_that_flushes_denormals():
    (res,) = train([INFOVAE], threads=1)
    fresh = in_thread(lambda: evaluate_run(res, 2000)[0], False)
    flushed = in_thread(lambda: evaluate_run(res, 2000)[0], True)
    assert bits(fresh) == bits(flushed)
    # the value that differed: a denormal p-value (Stephens' KS tail), kept, not flushed to zero
    assert 0 < bits(fresh)["mu_ks_pvalue_min"] < int(np.float64(np.finfo(np.float64).tiny).view(np.int64))


def test_usable_cores_is_the_affinity_where_there_is_one_else_the_cpu_count(monkeypatch):
    if hasattr(os, "sched_getaffinity"):
        assert threads.usable_cores() == len(os.sched_getaffinity(0))
        monkeypatch.delattr(os, "sched_getaffinity")  # as on macOS
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert threads.usable_cores() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # the system does not say
    assert threads.usable_cores() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_train_refuses_a_bad_thread_count(bad):
    with pytest.raises(ValueError, match=f"threads = {bad!r}: must be an integer >= 1"):
        train([RunConfig(n_train=100, steps=2, batch_size=16, hidden=[8])], threads=bad)
