"""Run a study: validate it, split the runs not yet stored into shards, train them, store the results.

:func:`run_study` is the whole pipeline. Everything is checked before anything is written or trained:
the grid (every run's config), the device, the executor and the memory a shard needs. Then, holding the
study's lock (:class:`vaebench.store.StudyLock`), it reads which runs are stored, trains only the others
and commits each finished shard (artifacts, then its Parquet part). A shard is a list of at most
``shard_size`` runs of one engine group (:func:`vaebench.engine.group_key`), so it trains as one
batch; the engine makes a run's numbers independent of its neighbours, so the table is the same for any
shard size and executor. An interrupted study loses at most the shards in flight.

Executors (:mod:`vaebench.executors`, registry :data:`EXECUTORS`): ``local`` trains waves of shards in
this process on ``threads`` engine worker threads (default: the usable cores) and evaluates each wave on
``threads`` background threads while the next one trains; ``dask`` sends each shard to a
dask.distributed cluster as a task, one thread per worker process. Parallelism in training is the
engine's alone (:func:`vaebench.engine.train`).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vaebench import cpu_kernel, memory, store
from vaebench.config import RunConfig, check_int
from vaebench.engine import group_key, resolve_device
from vaebench.executors import (  # noqa: F401  (ShardFailed, RunRecord: part of this module's interface)
    EXECUTORS,
    IN_FLIGHT,
    RunRecord,
    ShardFailed,
    plan_waves,
    usable_cores,
    wave_runs,
)
from vaebench.grid import Grid, run_id
from vaebench.timings import StudyClock, write_timings

DEFAULT_SHARD_SIZE = 64


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
    shards = [[configs[i] for i in s] for s in plan_shards(configs, shard_size)]
    if executor == "local":  # a wave in training beside the one in evaluation, on `threads` threads each
        n = threads or usable_cores()
        waves = plan_waves([len(s) for s in shards], wave_runs(n, shard_size))
        waves = [[c for k in w for c in shards[k]] for w in waves]
        need = memory.check_fits(waves, n_eval, shard_size, in_flight=IN_FLIGHT, eval_threads=n, unit="wave")
    else:  # one shard per worker process
        need = memory.check_fits(shards, n_eval, shard_size)
    return StudyPlan(grid, configs, [run_id(c) for c in configs], n_eval, shard_size, executor, need.host,
                     {"scheduler": scheduler, "workers": workers, "threads": threads,
                      "shard_size": shard_size}, need.device)


class _Progress:
    """A tqdm bar (model-steps, model-steps/s, ETA, runs done) on a terminal; plain lines otherwise."""

    def __init__(self, enabled: bool, name: str, total_runs: int, total_steps: int, done_runs: int):
        self.enabled, self.total_runs, self.runs = enabled, total_runs, done_runs
        self.total, self.trained, self.committed = total_steps, 0, 0
        self.start = time.perf_counter()
        self.lock = threading.Lock()  # the engine reports steps from the training thread
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
        """Model-steps trained (the bar), whether or not their runs are stored yet."""
        with self.lock:
            self.trained += n
            self._draw()

    def shard(self, n_runs: int, n_steps: int) -> None:
        """A shard stored: its runs, and its model-steps for the rate of the log lines."""
        with self.lock:
            self.committed += n_steps
            self.runs += n_runs
            self._draw()
        if self.bar is None:
            elapsed = time.perf_counter() - self.start
            rate = self.committed / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.committed) / rate if rate > 0 else 0.0
            self.log(f"{self.runs}/{self.total_runs} runs stored, {rate:,.0f} model-steps/s, "
                     f"ETA {time.strftime('%H:%M:%S', time.gmtime(eta))}")

    def _draw(self) -> None:
        if self.bar is not None:
            self.bar.update(min(self.trained, self.total) - self.bar.n)
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
    (default: the grid's, else 5000). ``threads``: the local executor's training workers and evaluation
    threads (default: the usable cores), the dask tasks' torch threads (default 1). ``progress``: a
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
        store.write_points(out, plan.grid.points)
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
