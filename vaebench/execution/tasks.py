"""What an executor runs: train a unit, evaluate its runs, build their rows.

A unit is a list of shards, each ``(index, config dicts, run ids)``, with the study's ``n_eval`` and the
points of any file data set its runs train on (:class:`Unit`, plain data, so it travels to a Dask worker
as it is: a worker never needs the user's path). :func:`train_unit` trains all its
runs in one :func:`vaebench.engine.train` call; :func:`evaluate_runs` evaluates trained runs, one
:class:`~vaebench.store.RunRecord` each; :func:`run_unit` does both, shard by shard (a Dask task).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaebench import data, evaluation, store, threads
from vaebench.config import RunConfig
from vaebench.engine import TrainResult, train
from vaebench.grid import run_id
from vaebench.store import RunRecord

Shard = tuple[int, list[dict[str, Any]], list[str]]  # (shard index, config dicts, run ids)


@dataclass
class Unit:
    """Consecutive shards trained at once, evaluated on ``n_eval`` points per run; ``points``: content id
    -> [N, 2] of the file data sets its runs use (:mod:`vaebench.data`)."""

    shards: list[Shard]
    n_eval: int
    points: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return [r for _, _, ids in self.shards for r in ids]

    @property
    def configs(self) -> list[dict[str, Any]]:
        return [c for _, cfgs, _ in self.shards for c in cfgs]


def train_unit(unit: Unit, n_threads: int,
               progress: Callable[[int], None] | None = None) -> list[TrainResult]:
    """Train every run of ``unit`` on ``n_threads`` engine worker threads. The run ids are checked against
    this process's vaebench (a worker with another RESULTS_VERSION fails loudly). Results carry ``engine``
    (the route that trained the run: "fused", "operators" or "analytic")."""
    for pid, arr in unit.points.items():
        if data.register_points(arr) != pid:
            raise RuntimeError(f"dataset {pid!r}: the points sent with the task do not match their id")
    cfgs = [RunConfig(**d) for d in unit.configs]
    for cfg, rid in zip(cfgs, unit.run_ids, strict=True):
        if run_id(cfg) != rid:
            raise RuntimeError(f"run {rid}: this process computes id {run_id(cfg)}; the vaebench versions of "
                               f"client and worker differ")
    return train(cfgs, progress=progress, threads=n_threads)


def run_row(rid: str, res: TrainResult, metrics: dict[str, float], status: str, reason: str,
            eval_seconds: float) -> dict[str, Any]:
    """A run's table row: id, status, config columns, metrics, engine and timings."""
    config = store.config_row(res.config)
    clash = set(metrics) & (set(store.BASE_COLUMNS) | set(store.RUN_COLUMNS) | set(store.TIMING_COLUMNS)
                            | set(config))
    if clash:
        raise RuntimeError(f"metric names {sorted(clash)} clash with result columns")
    return {"run_id": rid, "status": status, "diverged_step": res.diverged_step, "reason": reason,
            **config, **{k: float(v) for k, v in metrics.items()},
            "engine": res.engine, "train_seconds": res.seconds, "eval_seconds": eval_seconds}


def evaluate_runs(results: list[TrainResult], run_ids: list[str], n_eval: int) -> list[RunRecord]:
    """Evaluate trained runs: one record per run. Rows carry ``engine`` and timings in seconds:
    ``train_seconds`` (the training call's wall time per run) and ``eval_seconds`` (this run's
    evaluation). A run whose evaluation fails keeps its weights and history, with status
    "eval_failed". The floating-point environment is the evaluation's whatever the calling thread's
    (:func:`vaebench.evaluation.evaluate_run`), and torch runs on one intra-op thread: an executor runs
    as many evaluating threads as it has cores."""
    with threads.one_intra_op_thread():
        return [_evaluate(rid, res, n_eval) for rid, res in zip(run_ids, results, strict=True)]


def _evaluate(rid: str, res: TrainResult, n_eval: int) -> RunRecord:
    start = time.perf_counter()
    reason, status = res.reason, res.status
    try:
        metrics, arrays = evaluation.evaluate_run(res, n_eval=n_eval)
    except Exception as err:  # keep the trained run (weights, history) and the rest of the shard
        metrics, arrays = {}, {}
        failed = f"evaluation failed: {type(err).__name__}: {err}"
        reason = f"{reason}; {failed}" if reason else failed
        status = status if status != "ok" else "eval_failed"
    row = run_row(rid, res, metrics, status, reason, time.perf_counter() - start)
    return RunRecord(rid, row, arrays, res.history, res.model.state_dict())


def split(unit: Unit, trained: list[TrainResult]) -> list[tuple[int, list[TrainResult], list[str]]]:
    """A unit's trained runs cut back into its shards: (index, results, run ids) each."""
    out, at = [], 0
    for index, _, ids in unit.shards:
        out.append((index, trained[at:at + len(ids)], ids))
        at += len(ids)
    return out


def run_unit(unit: Unit, n_threads: int) -> list[tuple[int, list[RunRecord]]]:
    """Train a unit, then evaluate it shard by shard: the task a Dask worker runs. Returns (shard index,
    records) per shard."""
    trained = train_unit(unit, n_threads)
    return [(index, evaluate_runs(res, ids, unit.n_eval)) for index, res, ids in split(unit, trained)]
