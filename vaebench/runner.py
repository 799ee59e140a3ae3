"""Run a study: validate it, split the runs not yet stored into shards, train them, store the results.

:func:`run_study` is the whole pipeline. Everything is checked before anything is written or trained:
the grid (every run's config), the device, the executor and the memory a shard needs. Then, holding the
study's lock (:class:`vaebench.store.StudyLock`), it reads which runs are stored, trains only the others
and commits each finished shard (artifacts, then its Parquet part). A shard is a list of at most
``shard_size`` runs of one engine group (:func:`vaebench.engine.group_key`), so it trains as one
batch; the engine makes a run's numbers independent of its neighbours, so the table is the same for any
shard size and executor. An interrupted study loses at most the shards in flight.

Executors (registry :data:`EXECUTORS`): ``local`` trains shard after shard in this process and evaluates
each in a background thread while the next one trains (:class:`LocalExecutor`); ``dask``
sends each shard to a dask.distributed cluster as a task (retried when it fails or its worker dies); the
client alone writes results. Both pin torch to ``threads`` threads per process, default 1: on the 2-core
development machine, with other processes busy (load ≈ 3), the smoke grid took 13.8 s with 1 thread and
97 s with torch's default of 2, and 32 seed VAEs trained at 5 000-5 600 model-steps/s with 1 thread and
940-1 100 with 2 (oversubscription; FACTS.md saw 2-100x). A second thread's gain on an idle machine was
not measured. To use more cores, use more processes (``dask``, ``workers``), or pass ``threads``.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vaebench import cpu_kernel, memory, store
from vaebench.config import RunConfig, check_int
from vaebench.engine import TrainResult, group_key, resolve_device, train
from vaebench.grid import Grid, run_id
from vaebench.timings import StudyClock, write_timings

DEFAULT_SHARD_SIZE = 64
DASK_RETRIES = 3
DASK_EXTRA = "the dask executor needs the optional extra: pip install 'vaebench[dask]'"


class ShardFailed(RuntimeError):
    """A shard failed on the cluster even after its retries."""


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
    if threads:
        torch.set_num_threads(threads)
    cfgs = [RunConfig(**d) for d in configs]
    for cfg, rid in zip(cfgs, run_ids, strict=True):
        if run_id(cfg) != rid:
            raise RuntimeError(f"run {rid}: this process computes id {run_id(cfg)}; the vaebench versions of "
                               f"client and worker differ")
    return train(cfgs, progress=progress)


def evaluate_shard(results: list[TrainResult], run_ids: list[str], n_eval: int) -> list[RunRecord]:
    """Evaluate a trained shard: one record per run. Rows carry ``engine`` (the path that trained the run:
    "fused", "operators" or "analytic") and timings in seconds: ``train_seconds`` (the group's
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


def plan_shards(cfgs: list[RunConfig], shard_size: int) -> list[list[int]]:
    """Indices of ``cfgs`` split into shards: runs of one engine group, at most ``shard_size`` each,
    groups in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cfgs):
        groups.setdefault(group_key(c), []).append(i)
    return [idx[i:i + shard_size] for idx in groups.values() for i in range(0, len(idx), shard_size)]


@dataclass
class StudyPlan:
    """A validated study, before anything is written: its runs (devices resolved), their ids, the
    evaluation size, the shard size and the estimated peak memory of its largest shard (host bytes;
    ``device_bytes``: GPU bytes on CUDA, else 0; see :mod:`vaebench.memory`)."""

    grid: Grid
    configs: list[RunConfig]
    run_ids: list[str]
    n_eval: int
    shard_size: int
    executor: str
    shard_bytes: int
    options: dict[str, Any] = field(default_factory=dict)
    device_bytes: int = 0

    def meta(self) -> dict[str, Any]:
        import vaebench

        return {"name": self.grid.name, "n_eval": self.n_eval, "results_version": vaebench.RESULTS_VERSION,
                "vaebench_version": vaebench.__version__, "grid": self.grid.to_dict(),
                "runs": [{"run_id": r, "config": c.to_dict()} for r, c in zip(self.run_ids, self.configs,
                                                                            strict=True)]}


def plan_study(grid_or_path: Grid | str | Path, executor: str = "local", scheduler: str | None = None,
               device: str | None = None, shard_size: int = DEFAULT_SHARD_SIZE, n_eval: int | None = None,
               workers: int | None = None, threads: int | None = None) -> StudyPlan:
    """Validate a study without writing or training anything (see :func:`run_study` for the arguments);
    ValueError naming the argument or key, its value and what is allowed."""
    grid = grid_or_path if isinstance(grid_or_path, Grid) else Grid.from_toml(grid_or_path)
    # a bad VAEBENCH_CPU_KERNEL stops here, before anything is written
    cpu_kernel.mode()
    shard_size = check_int("shard_size", shard_size, 1, 1_000_000)
    n_eval = grid.n_eval if n_eval is None else check_int("n_eval", n_eval, 10, 1_000_000)
    if workers is not None:
        check_int("workers", workers, 1, 4096)
    if threads is not None:
        check_int("threads", threads, 1, 4096)
    if executor not in EXECUTORS:
        raise ValueError(f"executor = {executor!r}: must be one of {sorted(EXECUTORS)}")
    EXECUTORS[executor].check(scheduler)
    resolved = {dev: resolve_device(dev) for dev in {device or c.device for c in grid.configs()}}
    configs = [c.replace(device=resolved[device or c.device]) for c in grid.configs()]
    shards = plan_shards(configs, shard_size)
    # the local executor evaluates a shard while the next one trains: two shards alive in one process
    need = memory.check_fits([[configs[i] for i in s] for s in shards], n_eval, shard_size,
                             in_flight=2 if executor == "local" else 1)
    return StudyPlan(grid, configs, [run_id(c) for c in configs], n_eval, shard_size, executor, need.host,
                     {"scheduler": scheduler, "workers": workers, "threads": threads}, need.device)


Job = tuple[int, list[dict[str, Any]], list[str], int]  # (shard index, config dicts, run ids, n_eval)


class LocalExecutor:
    """Shards in this process, with torch pinned to ``threads`` threads (default 1, see the module
    docstring); the caller's thread count is restored on close.

    Evaluation runs beside training: while shard k+1 trains (in this thread, or in the engine's worker
    processes), shard k is evaluated in one background thread, so a second core works where training
    alone would leave it idle. Both use torch's one intra-op thread setting, so no two things ever each
    run several threads. Each run's numbers depend only on its own config and seed, never on what ran
    beside it. When a shard's training fails, the shard being evaluated is stored before the error
    propagates; an interrupt (Ctrl-C) loses the shard in training and the one in evaluation."""

    @staticmethod
    def check(scheduler: str | None) -> None:
        if scheduler:
            raise ValueError(f"scheduler = {scheduler!r}: only the dask executor takes a scheduler")

    def __init__(self, scheduler: str | None = None, workers: int | None = None, threads: int | None = None):
        self.threads, self.saved = threads or 1, torch.get_num_threads()

    def map(self, jobs: list[Job], progress: Callable[[int], None]) -> Iterator[tuple[int, list[RunRecord]]]:
        pool = ThreadPoolExecutor(1, thread_name_prefix="vaebench-evaluation")
        evaluating = None  # (shard index, future of its records)
        try:
            for index, cfgs, ids, n_eval in jobs:
                try:
                    trained = train_shard(cfgs, ids, self.threads, progress)
                except Exception:  # a failing shard: store the one already trained first
                    if evaluating is not None:
                        done, evaluating = evaluating, None
                        yield done[0], done[1].result()
                    raise
                previous, evaluating = evaluating, (index, pool.submit(evaluate_shard, trained, ids, n_eval))
                if previous is not None:
                    yield previous[0], previous[1].result()
            if evaluating is not None:
                yield evaluating[0], evaluating[1].result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        torch.set_num_threads(self.saved)


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

    def __init__(self, scheduler: str | None = None, workers: int | None = None, threads: int | None = None):
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


class _Progress:
    """A tqdm bar (model-steps, model-steps/s, ETA, runs done) on a terminal; plain lines otherwise."""

    def __init__(self, enabled: bool, name: str, total_runs: int, total_steps: int, done_runs: int):
        self.enabled, self.total_runs, self.runs = enabled, total_runs, done_runs
        self.total, self.committed, self.partial = total_steps, 0, 0
        self.start = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, unit="model-step", unit_scale=True, desc=name, file=sys.stderr,
                            dynamic_ncols=True)
            self.bar.set_postfix_str(f"runs {done_runs}/{total_runs}")

    def log(self, message: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(f"vaebench: {message}", file=sys.stderr)
        else:
            print(f"vaebench: {message}", file=sys.stderr, flush=True)

    def steps(self, n: int) -> None:
        self.partial += n
        self._draw()

    def shard(self, n_runs: int, n_steps: int) -> None:
        self.committed += n_steps
        self.partial, self.runs = 0, self.runs + n_runs
        self._draw()
        if self.bar is None:
            elapsed = time.perf_counter() - self.start
            rate = self.committed / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.committed) / rate if rate > 0 else 0.0
            self.log(f"{self.runs}/{self.total_runs} runs stored, {rate:,.0f} model-steps/s, "
                     f"ETA {time.strftime('%H:%M:%S', time.gmtime(eta))}")

    def _draw(self) -> None:
        if self.bar is not None:
            self.bar.update(min(self.committed + self.partial, self.total) - self.bar.n)
            self.bar.set_postfix_str(f"runs {self.runs}/{self.total_runs}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_study(grid_or_path: Grid | str | Path, out_dir: str | Path, executor: str = "local",
              scheduler: str | None = None, device: str | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
              progress: bool = True, n_eval: int | None = None, workers: int | None = None,
              threads: int | None = None) -> pd.DataFrame:
    """Run a study (a :class:`Grid` or a grid file) into ``out_dir`` and return its results table
    (:func:`vaebench.store.load_results`, the grid's runs in grid order).

    Runs already stored there are not trained again, so the same call resumes an interrupted study or
    extends a grown one. ``executor``: "local" or "dask" (``scheduler`` "tcp://HOST:PORT" for an existing
    cluster, else a LocalCluster of ``workers`` processes). ``device`` ("cpu", "cuda", "auto") overrides
    the grid's. ``shard_size``: runs per shard (one engine batch). ``n_eval``: evaluation points per run
    (default: the grid's, else 5000). ``threads``: torch threads per process (default 1). ``progress``: a
    bar or log lines on stderr. Raises ValueError/OSError with a one-line message for bad input, a busy or
    unwritable directory; KeyboardInterrupt keeps every shard already stored. Where runs were trained,
    this call's timings (:class:`vaebench.timings.StudyClock`) are in ``DIR/timings.json`` and in the
    table's ``attrs["timings"]``.
    """
    clock = StudyClock(executor)
    plan = plan_study(grid_or_path, executor, scheduler, device, shard_size, n_eval, workers, threads)
    out = store.prepare_dir(out_dir)
    with store.StudyLock(out):
        before = store.read_study(out)
        scan = store.scan_parts(out)
        if before is not None and before.get("n_eval") != plan.n_eval and scan.good:
            raise store.StudyError(f"n_eval = {plan.n_eval}: the runs stored in {str(out)!r} were evaluated "
                                   f"with n_eval = {before.get('n_eval')}; use that or another output "
                                   f"directory")
        store.clean_temp(out)
        done = {rid for _, df in scan.good for rid in df["run_id"]}
        broken = store.broken_runs(out, scan, dict(zip(plan.run_ids, plan.configs, strict=True)), plan.n_eval)
        done -= {rid for rid, _ in broken}  # artifacts damaged since: train the run again
        pending = [i for i, rid in enumerate(plan.run_ids) if rid not in done]
        n_runs, n_stored = len(plan.run_ids), len(plan.run_ids) - len(pending)
        report = _Progress(progress, plan.grid.name, n_runs, sum(plan.configs[i].steps for i in pending),
                           n_stored)
        for rid, why in broken:
            report.log(f"run {rid}: broken artifacts ({why}); it will train again")
        for path, why in scan.corrupt:
            moved = store.quarantine(path)
            report.log(f"{path} is corrupted ({why}); moved to {moved.name}, its runs will train again")
        store.write_study(out, plan.meta(), plan.grid.source)
        shards = [[pending[j] for j in s]
                  for s in plan_shards([plan.configs[i] for i in pending], plan.shard_size)]
        report.log(f"study {plan.grid.name!r}: {n_runs} runs, {n_stored} stored, {len(pending)} to train in "
                   f"{len(shards)} shards ({executor}, at most {plan.shard_size} runs each)")
        try:
            if shards:
                _execute(plan, out, shards, report, clock)
        finally:
            report.close()
            if shards:
                write_timings(out, clock)
        results = store.load_results(out, plan.run_ids)
    results.attrs["timings"] = clock.to_dict() if shards else None
    failed = int((results["status"] != "ok").sum())
    report.log(f"study {plan.grid.name!r} complete: {len(results)} runs in {out} ({failed} diverged or "
               f"failed evaluation)")
    return results


def _execute(plan: StudyPlan, out: Path, shards: list[list[int]], report: _Progress,
             clock: StudyClock) -> None:
    jobs = [(k, [plan.configs[i].to_dict() for i in s], [plan.run_ids[i] for i in s], plan.n_eval)
            for k, s in enumerate(shards)]
    by_id = dict(zip(plan.run_ids, plan.configs, strict=True))
    ex = EXECUTORS[plan.executor](**plan.options)
    try:
        for k, records in ex.map(jobs, report.steps):
            start = time.perf_counter()
            for rec in records:
                store.write_run(out, rec.run_id, by_id[rec.run_id], rec.arrays, rec.history, rec.state_dict)
            store.write_part(out, [rec.row for rec in records])
            steps = sum(plan.configs[i].steps for i in shards[k])
            clock.shard([rec.row for rec in records], time.perf_counter() - start)
            report.shard(len(records), steps)
    finally:
        ex.close()
