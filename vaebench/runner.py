"""Run a study: plan it, open its directory, map its units over an executor, commit each finished shard.

:func:`run_study` is the whole pipeline, four steps:

1. **plan** (:func:`plan_study`): everything is checked before anything is written or trained: the grid
   (every run's config), the device, the executor, the layout of threads and workers
   (:mod:`vaebench.execution.plan`) and the memory a unit needs;
2. **open** (:func:`vaebench.store.open_study`): the study's lock, what is stored, what must train again;
3. **map**: the executor (:data:`vaebench.execution.EXECUTORS`) trains and evaluates the pending runs'
   units (waves of shards) and yields each shard's records;
4. **commit** (:meth:`vaebench.store.OpenStudy.commit`): a shard's artifacts, then its Parquet part.

A shard is a list of at most ``shard_size`` runs of one engine group; the engine makes a run's numbers
independent of its neighbours, so the table is the same for any shard size, thread count and executor.
An interrupted study loses at most the shards in flight.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vaebench import cpu_kernel, store, version
from vaebench.config import RunConfig, check_int
from vaebench.defaults import SHARD_SIZE
from vaebench.engine import resolve_device
from vaebench.execution import (  # noqa: F401  (ShardFailed, RunRecord, plan_shards: this module's interface)
    EXECUTORS,
    Layout,
    RunRecord,
    ShardFailed,
    Unit,
    plan_shards,
    plan_units,
)
from vaebench.execution.plan import check_memory
from vaebench.grid import Grid, run_id
from vaebench.timings import StudyClock, write_timings

DEFAULT_SHARD_SIZE = SHARD_SIZE


@dataclass
class StudyPlan:
    """A validated study, before anything is written: its runs (devices resolved), their ids, the
    evaluation size, the shard size, the executor and its resolved :class:`~vaebench.execution.Layout`,
    and the estimated peak memory of its largest unit (host bytes; ``device_bytes``: GPU bytes on CUDA,
    else 0; see :mod:`vaebench.memory`)."""

    grid: Grid
    configs: list[RunConfig]
    run_ids: list[str]
    n_eval: int
    shard_size: int
    executor: str
    shard_bytes: int
    layout: Layout
    scheduler: str | None = None
    device_bytes: int = 0

    def meta(self) -> dict[str, Any]:
        return {"name": self.grid.name, "n_eval": self.n_eval, "results_version": version.RESULTS_VERSION,
                "vaebench_version": version.__version__, "grid": self.grid.to_dict(),
                "runs": [{"run_id": r, "config": c.to_dict()} for r, c in zip(self.run_ids, self.configs,
                                                                            strict=True)]}

    def units(self, indices: list[int]) -> list[Unit]:
        """The units of the runs ``indices`` (into :attr:`configs`), shard indices counted from 0."""
        cfgs = [self.configs[i] for i in indices]
        out, k = [], 0
        for unit in plan_units(cfgs, self.shard_size, self.layout):
            shards = []
            for shard in unit:
                runs = [indices[j] for j in shard]
                shards.append((k, [self.configs[i].to_dict() for i in runs], [self.run_ids[i] for i in runs]))
                k += 1
            used = {c["dataset"] for _, cfgs, _ in shards for c in cfgs}
            out.append(Unit(shards, self.n_eval, {p: a for p, a in self.grid.points.items() if p in used}))
        return out


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
    layout = EXECUTORS[executor].layout(threads, workers)
    resolved = {dev: resolve_device(dev) for dev in {device or c.device for c in grid.configs()}}
    configs = [c.replace(device=resolved[device or c.device]) for c in grid.configs()]
    need = check_memory(configs, n_eval, shard_size, layout)
    return StudyPlan(grid, configs, [run_id(c) for c in configs], n_eval, shard_size, executor, need.host,
                     layout, scheduler, need.device)


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
    cluster, else a LocalCluster of ``workers`` processes, default: the usable cores). ``device`` ("cpu",
    "cuda", "auto") overrides the grid's. ``shard_size``: runs per shard (stored as one part).
    ``n_eval``: evaluation points per run (default: the grid's, else 5000). ``threads``: the local
    executor's training workers and evaluation threads (default: the usable cores), the Dask tasks'
    training threads (default 1). ``progress``: a bar or log lines on stderr. Raises ValueError/OSError
    with a one-line message for bad input, a busy or unwritable directory; KeyboardInterrupt keeps every
    shard already stored. Where runs were trained, this call's timings
    (:class:`vaebench.timings.StudyClock`) are in ``DIR/timings.json`` and in the table's
    ``attrs["timings"]``.
    """
    clock = StudyClock(executor)
    plan = plan_study(grid_or_path, executor, scheduler, device, shard_size, n_eval, workers, threads)
    with store.open_study(out_dir, plan.run_ids, plan.meta(), plan.grid.source, plan.grid.points) as study:
        index = {rid: i for i, rid in enumerate(plan.run_ids)}
        pending = [index[rid] for rid in study.pending]
        n_runs, n_stored = len(plan.run_ids), len(plan.run_ids) - len(pending)
        report = _Progress(progress, plan.grid.name, n_runs, sum(plan.configs[i].steps for i in pending),
                           n_stored)
        for rid, why in study.broken:
            report.log(f"run {rid}: broken artifacts ({why}); it will train again")
        for path, why, moved in study.corrupt:
            report.log(f"{path} is corrupted ({why}); moved to {moved.name}, its runs will train again")
        units = plan.units(pending)
        n_shards = sum(len(u.shards) for u in units)
        report.log(f"study {plan.grid.name!r}: {n_runs} runs, {n_stored} stored, {len(pending)} to train in "
                   f"{n_shards} shards ({executor}, at most {plan.shard_size} runs each)")
        try:
            if units:
                _execute(plan, study, units, report, clock)
        finally:
            report.close()
            if units:
                write_timings(study.out, clock)
        results = study.results()
    results.attrs["timings"] = clock.to_dict() if units else None
    failed = int((results["status"] != "ok").sum())
    report.log(f"study {plan.grid.name!r} complete: {len(results)} runs in {study.out} ({failed} diverged "
               f"or failed evaluation)")
    return results


def _execute(plan: StudyPlan, study: store.OpenStudy, units: list[Unit], report: _Progress,
             clock: StudyClock) -> None:
    """Map the units over the plan's executor and commit each shard as it comes."""
    ex = EXECUTORS[plan.executor](plan.scheduler, plan.layout)
    try:
        for _, records in ex.map(units, report.steps):
            start = time.perf_counter()
            study.commit(records)
            clock.shard([rec.row for rec in records], time.perf_counter() - start)
            report.shard(len(records), sum(int(rec.row["steps"]) for rec in records))
    finally:
        ex.close()


def add_executor_arguments(parser: Any, what: str) -> None:
    """The command-line options that choose where ``what`` trains (``--executor``, ``--scheduler``,
    ``--workers``), stated once for every command that runs studies."""
    parser.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                        help=f"where {what} train: in this process (local, default) or on a dask cluster")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="dask scheduler, e.g. tcp://10.0.0.5:8786 "
                             "(default: a LocalCluster on 127.0.0.1)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="LocalCluster worker processes (dask; default: the usable cores)")
