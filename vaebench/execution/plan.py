"""How a study's runs are cut into work, for any executor: shards, waves, cores, units in flight, memory.

- A **shard** is at most ``shard_size`` runs of one engine group (:func:`vaebench.engine.group_key`); it
  is stored as one Parquet part, so an interrupted study loses at most the shards in flight.
- A **unit** (a *wave*) is consecutive shards holding at least :func:`wave_runs` runs (the last: the
  rest). A unit is what an executor trains and evaluates at once: one :func:`vaebench.engine.train` call
  on ``threads`` worker threads, so small groups share the cores. The local executor and the Dask one run
  the same units (:mod:`vaebench.execution.tasks`).
- The **layout** says where units run: ``threads`` training threads per unit, ``eval_threads`` threads
  evaluating at once, ``in_flight`` units alive at once in one process, and the Dask ``workers``. Each
  executor states its layout (``layout``); this module is the one place that resolves the defaults
  (the usable cores, :func:`vaebench.threads.usable_cores`).

A run's numbers depend only on its config and seed, never on the shard, the unit, the threads or the
executor, so the cuts only decide speed and memory (:func:`check_memory`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vaebench import memory, threads
from vaebench.config import RunConfig
from vaebench.engine import group_key

WAVE_RUNS_PER_THREAD = 32  # see wave_runs
EVAL_COST_STEPS = 2000  # see run_cost
IN_FLIGHT = 2  # local: a wave trained beside the one in evaluation (vaebench.memory counts them)


@dataclass(frozen=True)
class Layout:
    """Where units run (resolved: no None). ``threads``: the engine's worker threads per unit;
    ``eval_threads``: units' runs evaluated at once in one process; ``in_flight``: units alive at once in
    one process; ``workers``: Dask worker processes (0 for the local executor)."""

    threads: int
    eval_threads: int
    in_flight: int
    workers: int = 0


def local_layout(threads: int | None, workers: int | None) -> Layout:
    """This process: ``threads`` (default: the usable cores) training workers and as many evaluation
    threads; a wave trains while the previous one is evaluated (:data:`IN_FLIGHT`)."""
    n = threads or threads_default()
    return Layout(n, n, IN_FLIGHT)


def dask_layout(threads: int | None, workers: int | None) -> Layout:
    """Worker processes (default: the usable cores), each running one unit at a time on ``threads``
    threads (default 1: two processes with 2 threads each ran 2-100× slower than with 1, FACTS.md)."""
    return Layout(threads or 1, 1, 1, workers or threads_default())


def threads_default() -> int:
    """The default number of threads or worker processes: the usable cores."""
    return threads.usable_cores()


def wave_runs(threads: int, shard_size: int) -> int:
    """The runs a wave collects before it trains: :data:`WAVE_RUNS_PER_THREAD` per training thread (at
    most a shard each). Smaller waves keep evaluation closer behind training (the study's tail after the
    last wave trains is that wave's evaluation); larger ones give the engine larger parts. On the 2-core
    CI machine the seed-figures study took 16.2 s with 32 per thread and 17.4 s with 64."""
    return threads * min(shard_size, WAVE_RUNS_PER_THREAD)


def plan_shards(cfgs: list[RunConfig], shard_size: int) -> list[list[int]]:
    """Indices of ``cfgs`` split into shards: runs of one engine group, at most ``shard_size`` each,
    groups in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cfgs):
        groups.setdefault(group_key(c), []).append(i)
    return [idx[i:i + shard_size] for idx in groups.values() for i in range(0, len(idx), shard_size)]


def plan_waves(sizes: list[int], runs: int) -> list[list[int]]:
    """Indices of consecutive shards (of ``sizes`` runs each) collected into waves of at most ``runs``
    runs (a shard larger than ``runs`` is a wave of its own): no wave overshoots, so the units are about
    equal and the small ones are small (run last, :func:`plan_units`)."""
    waves: list[list[int]] = []
    count = 0
    for k, n in enumerate(sizes):
        if not waves or count + n > runs:
            waves.append([])
            count = 0
        waves[-1].append(k)
        count += n
    return waves


def run_cost(cfg: RunConfig) -> int:
    """A run's work in training steps: its steps plus its evaluation, which costs about as much as
    :data:`EVAL_COST_STEPS` steps (one thread, this suite's default sizes: 32 runs of 3 000 steps
    trained in 2.4 s and evaluated in 1.6 s)."""
    return cfg.steps + EVAL_COST_STEPS


def plan_units(cfgs: list[RunConfig], shard_size: int, layout: Layout) -> list[list[list[int]]]:
    """The units of ``cfgs``, the largest work first: each a list of shards, each a list of indices into
    ``cfgs``. A shard holds at most a unit's runs (:func:`wave_runs`), so a large group is cut into
    units of about equal size: on one thread per task (Dask), 32-run units where shards of 64 would
    leave, e.g., the seed-figures study's 5 large units unevenly spread over 2 workers (measured: one
    worker busy 111 s, the other 79 s). Largest first (by :func:`run_cost`; ties in the grid's order),
    so the study ends on its smallest units: the cores that finish first wait for the least (a Dask
    worker for the other's last task; the local executor for the last unit's evaluation)."""
    runs = wave_runs(layout.threads, shard_size)
    shards = plan_shards(cfgs, min(shard_size, runs))
    units = [[shards[k] for k in w] for w in plan_waves([len(s) for s in shards], runs)]
    return sorted(units, key=lambda unit: -sum(run_cost(cfgs[i]) for shard in unit for i in shard))


def check_memory(cfgs: list[RunConfig], n_eval: int, shard_size: int, layout: Layout) -> memory.ShardMemory:
    """The estimate of the largest unit (:func:`vaebench.memory.check_fits`, ``layout.in_flight`` of
    them alive at once, evaluated by ``layout.eval_threads`` threads); ValueError where it does not fit."""
    units = [[cfgs[i] for shard in unit for i in shard] for unit in plan_units(cfgs, shard_size, layout)]
    return memory.check_fits(units, n_eval, shard_size, in_flight=layout.in_flight,
                             eval_threads=layout.eval_threads, unit="wave")
