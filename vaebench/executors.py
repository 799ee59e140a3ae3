"""Where a study's shards train and are evaluated: the executors (registry :data:`EXECUTORS`).

A shard is at most ``shard_size`` runs of one engine group; each is stored as its own Parquet part.
Both executors give the same table: a run's numbers depend only on its config and seed, never on the
runs trained or evaluated beside it, the shard size or the executor.

``local`` (:class:`LocalExecutor`) trains *waves* of consecutive shards in this process (32 runs per
thread: :func:`wave_runs`), one :func:`vaebench.engine.train` call per wave, with torch set to
``threads`` threads (default: the usable cores), so the engine spreads the parts of all the wave's groups
over its worker threads (small groups share the cores). While wave k+1 trains, wave k is evaluated by
``threads`` evaluation threads (one intra-op thread each) and its shards are stored, so every core works
whichever of training and evaluation is the larger; the last wave's evaluation, with nothing left to
train, is split over all of them. ``dask`` sends each shard
to a dask.distributed cluster as a task (retried when it fails or its worker dies); the client alone
writes results.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from vaebench import store
from vaebench.config import RunConfig
from vaebench.engine import TrainResult, train
from vaebench.grid import run_id

DASK_RETRIES = 3
DASK_EXTRA = "the dask executor needs the optional extra: pip install 'vaebench[dask]'"
EVAL_CHUNK = 8  # runs per evaluation task: the last wave's evaluation spreads evenly over the threads
IN_FLIGHT = 2  # waves trained but not yet stored (vaebench.memory counts them)
WAVE_RUNS_PER_THREAD = 32  # see wave_runs
STOP_SECONDS = 60  # at most this long to wait, after an interrupt, for training to reach its next chunk


class ShardFailed(RuntimeError):
    """A shard failed on the cluster even after its retries."""


class _Stopped(Exception):
    """Raised in the engine's progress callback to stop a wave's training (the study was interrupted)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


def wave_runs(threads: int, shard_size: int) -> int:
    """The runs a wave collects before it trains: :data:`WAVE_RUNS_PER_THREAD` per training thread (at
    most a shard each). Smaller waves keep evaluation closer behind training (the study's tail after the
    last wave trains is that wave's evaluation); larger ones give the engine larger parts. On the 2-core
    CI machine the seed-figures study took 16.2 s with 32 per thread and 17.4 s with 64."""
    return threads * min(shard_size, WAVE_RUNS_PER_THREAD)


def plan_waves(sizes: list[int], runs: int) -> list[list[int]]:
    """Indices of consecutive shards (of ``sizes`` runs each) collected into waves of at least ``runs``
    runs (the last wave: the rest)."""
    waves: list[list[int]] = [[]]
    count = 0
    for k, n in enumerate(sizes):
        if count >= runs:
            waves.append([])
            count = 0
        waves[-1].append(k)
        count += n
    return [w for w in waves if w]


@dataclass
class RunRecord:
    """What a shard returns per run: its table row, evaluation arrays, history and weights."""

    run_id: str
    row: dict[str, Any]
    arrays: dict[str, np.ndarray]
    history: pd.DataFrame
    state_dict: dict[str, torch.Tensor]


def train_shard(configs: list[dict[str, Any]], run_ids: list[str], threads: int | None = None,
                progress: Callable[[int], None] | None = None) -> list[TrainResult]:
    """Train one shard (runs of one engine group) with torch pinned to ``threads`` threads.

    ``configs``: RunConfig dicts (devices resolved); ``run_ids``: their ids, checked against this
    process's vaebench (a worker with another RESULTS_VERSION fails loudly). Results carry ``engine``
    (the route that trained the run: "fused", "operators" or "analytic")."""
    cfgs = [RunConfig(**d) for d in configs]
    for cfg, rid in zip(cfgs, run_ids, strict=True):
        if run_id(cfg) != rid:
            raise RuntimeError(f"run {rid}: this process computes id {run_id(cfg)}; the vaebench versions of "
                               f"client and worker differ")
    return train(cfgs, progress=progress, threads=threads or 1)


def evaluate_shard(results: list[TrainResult], run_ids: list[str], n_eval: int) -> list[RunRecord]:
    """Evaluate a trained shard: one record per run. Rows carry ``engine`` (the path that trained the run:
    "fused", "operators" or "analytic") and timings in seconds: ``train_seconds`` (the training call's
    wall time per run) and ``eval_seconds`` (this run's evaluation). A run whose evaluation fails keeps
    its weights and history, with status "eval_failed"."""
    from vaebench.evaluation import evaluate_run

    records = []
    for rid, res in zip(run_ids, results, strict=True):
        start = time.perf_counter()
        reason, status = res.reason, res.status
        try:
            metrics, arrays = evaluate_run(res, n_eval=n_eval)
        except Exception as err:  # keep the trained run (weights, history) and the rest of the shard
            metrics, arrays = {}, {}
            failed = f"evaluation failed: {type(err).__name__}: {err}"
            reason = f"{reason}; {failed}" if reason else failed
            status = status if status != "ok" else "eval_failed"
        config = store.config_row(res.config)
        clash = set(metrics) & (set(store.BASE_COLUMNS) | set(store.RUN_COLUMNS) | set(store.TIMING_COLUMNS)
                                | set(config))
        if clash:
            raise RuntimeError(f"metric names {sorted(clash)} clash with result columns")
        row = {"run_id": rid, "status": status, "diverged_step": res.diverged_step, "reason": reason,
               **config, **{k: float(v) for k, v in metrics.items()},
               "engine": res.engine, "train_seconds": res.seconds,
               "eval_seconds": time.perf_counter() - start}
        records.append(RunRecord(rid, row, arrays, res.history, res.model.state_dict()))
    return records


def run_shard(configs: list[dict[str, Any]], run_ids: list[str], n_eval: int, threads: int | None = None,
              progress: Callable[[int], None] | None = None) -> list[RunRecord]:
    """Train and evaluate one shard (:func:`train_shard`, then :func:`evaluate_shard`): the task a
    cluster worker runs."""
    return evaluate_shard(train_shard(configs, run_ids, threads, progress), run_ids, n_eval)


Job = tuple[int, list[dict[str, Any]], list[str], int]  # (shard index, config dicts, run ids, n_eval)


def _one_intra_op_thread() -> None:
    """An evaluation thread's torch ops run on this thread alone (the OpenMP setting is per thread):
    ``threads`` evaluation threads beside ``threads`` training workers, never threads²."""
    torch.set_num_threads(1)


class LocalExecutor:
    """Waves of shards trained in this process by the engine's ``threads`` worker threads (default: the
    usable cores), evaluated by ``threads`` background threads while the next wave trains; the caller's
    torch thread count is restored on close.

    A wave is consecutive shards holding at least :func:`wave_runs` runs (the last: the rest),
    trained by one :func:`train_shard` call in a training thread of its own, so its groups share the
    workers and the caller stores finished shards meanwhile; its shards are evaluated in tasks of at most
    :data:`EVAL_CHUNK` runs and yielded one by one, each to be stored as its own part. At most
    :data:`IN_FLIGHT` waves are trained and not yet stored. Training and evaluation threads together may
    outnumber the cores: the engine's workers spend their time in the C kernel without the GIL (taking it
    once per ~30 steps), so the operating system shares the cores between them and nothing idles while
    anything is left to do. When a wave's training fails, the shards of the wave in evaluation are
    stored before the error propagates; when the caller stops (an interrupt), training stops at its next
    chunk of steps, and the waves in training and in evaluation are lost."""

    @staticmethod
    def check(scheduler: str | None) -> None:
        if scheduler:
            raise ValueError(f"scheduler = {scheduler!r}: only the dask executor takes a scheduler")

    def __init__(self, scheduler: str | None = None, workers: int | None = None, threads: int | None = None,
                 shard_size: int = 64):
        self.threads, self.saved = threads or usable_cores(), torch.get_num_threads()
        self.wave_runs = wave_runs(self.threads, shard_size)

    def map(self, jobs: list[Job], progress: Callable[[int], None]) -> Iterator[tuple[int, list[RunRecord]]]:
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="vaebench-evaluation",
                                  initializer=_one_intra_op_thread)
        waves = plan_waves([len(job[2]) for job in jobs], self.wave_runs)
        done: queue.Queue = queue.Queue()  # per wave: its shards' evaluation tasks, or the training error
        room = threading.Semaphore(IN_FLIGHT)  # waves trained and not yet stored, at most IN_FLIGHT
        stop = threading.Event()

        def report(n: int) -> None:  # called after every chunk of steps: where training stops
            if stop.is_set():
                raise _Stopped
            progress(n)

        def train_waves() -> None:
            for wave in waves:
                room.acquire()
                if stop.is_set():
                    return
                wave_jobs = [jobs[k] for k in wave]
                try:
                    trained = train_shard([c for job in wave_jobs for c in job[1]],
                                          [r for job in wave_jobs for r in job[2]], self.threads, report)
                except _Stopped:
                    return
                except BaseException as err:  # to the caller, after the wave in evaluation is stored
                    done.put(err)
                    return
                shards, at = [], 0
                try:
                    for index, _, rids, n_eval in wave_jobs:
                        shard, at = trained[at:at + len(rids)], at + len(rids)
                        shards.append((index, [pool.submit(evaluate_shard, shard[i:i + EVAL_CHUNK],
                                                           rids[i:i + EVAL_CHUNK], n_eval)
                                               for i in range(0, len(rids), EVAL_CHUNK)]))
                except RuntimeError:  # the pool shut down: the caller stopped (an interrupt)
                    return
                done.put(shards)

        trainer = threading.Thread(target=train_waves, name="vaebench-training", daemon=True)
        trainer.start()
        try:
            for _ in waves:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                yield from _results(item)  # the caller stores each shard while the next wave trains
                room.release()
        finally:  # an interrupt or an error: training stops at its next chunk of steps
            stop.set()
            room.release()
            pool.shutdown(wait=False, cancel_futures=True)
            trainer.join(timeout=STOP_SECONDS)

    def close(self) -> None:
        torch.set_num_threads(self.saved)


def _results(shards: list[tuple[int, list[Future]]]) -> Iterator[tuple[int, list[RunRecord]]]:
    """Each shard's records in run order, as soon as its evaluation tasks are done."""
    for index, tasks in shards:
        yield index, [rec for task in tasks for rec in task.result()]


class DaskExecutor:
    """Shards as dask.distributed tasks, results gathered (and written) by the client alone. Without a
    ``scheduler`` address: a LocalCluster of ``workers`` processes (default: the usable cores) with one
    thread each, on 127.0.0.1 and without a dashboard. Each task pins torch to ``threads`` threads (default
    1: two processes with 2 threads each ran 2-100x slower than with 1). Tasks are retried
    ``DASK_RETRIES`` times; a task whose worker dies is rescheduled by dask itself."""

    @staticmethod
    def check(scheduler: str | None) -> None:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ValueError(f"executor = 'dask': {DASK_EXTRA}") from None
        if scheduler and (not isinstance(scheduler, str) or "://" not in scheduler
                          or not scheduler.rsplit(":", 1)[-1].isdigit()):
            raise ValueError(f"scheduler = {scheduler!r}: must be an address like tcp://HOST:PORT")

    def __init__(self, scheduler: str | None = None, workers: int | None = None, threads: int | None = None,
                 shard_size: int = 64):
        import logging

        from dask.distributed import Client, LocalCluster

        self.threads, self.cluster, self.futures = threads or 1, None, {}
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="10s")
            else:
                n = workers or len(os.sched_getaffinity(0))
                self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None,
                                            silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as err:
            self.close()
            raise OSError(f"scheduler = {scheduler!r}: cannot start or reach the dask cluster "
                          f"({err})") from None

    def map(self, jobs: list[Job], progress: Callable[[int], None]) -> Iterator[tuple[int, list[RunRecord]]]:
        from dask.distributed import as_completed

        tag = uuid.uuid4().hex[:8]
        for index, cfgs, ids, n_eval in jobs:
            fut = self.client.submit(run_shard, cfgs, ids, n_eval, self.threads,
                                     key=f"vaebench-{tag}-{index}", retries=DASK_RETRIES, pure=False)
            self.futures[fut] = index
        for fut in as_completed(list(self.futures)):
            index = self.futures.pop(fut)
            try:
                records = fut.result()
            except Exception as err:
                raise ShardFailed(f"shard {index} failed on the cluster after {DASK_RETRIES} retries: "
                                  f"{type(err).__name__}: {err}") from err
            fut.release()
            yield index, records

    def close(self) -> None:
        for fut in self.futures:
            fut.cancel()
        self.futures = {}
        if getattr(self, "client", None) is not None:
            self.client.close(timeout=10)
        if self.cluster is not None:
            self.cluster.close(timeout=10)


EXECUTORS: dict[str, type] = {"local": LocalExecutor, "dask": DaskExecutor}
