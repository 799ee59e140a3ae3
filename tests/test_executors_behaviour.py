"""The local executor through its public behaviour (run_study, LocalExecutor.map/close): an interrupt is
honoured inside a long wave, not at its end (counting the model-steps trained and the runs evaluated and
stored), and a shard evaluated in several tasks (more runs than one task takes) comes back in run order,
each row and artifact with its own run."""

import threading
import time

import numpy as np
import pandas as pd
import pytest

import vaebench.execution.plan
import vaebench.store
from vaebench import Grid, RunConfig, load_results, run_study
from vaebench.data import sample
from vaebench.execution import LocalExecutor
from vaebench.execution.plan import local_layout
from vaebench.execution.tasks import Unit
from vaebench.grid import run_id
from vaebench.seeding import stream_seed
from vaebench.store import TIMING_COLUMNS, config_from_row, load_artifacts

SMALL = {"n_train": 100, "batch_size": 16, "hidden": [8]}


def _units(groups: list[list[RunConfig]], n_eval: int = 32) -> list[Unit]:
    """One unit (one engine call) per group, each of one shard: (shard index, config dicts, run ids)."""
    return [Unit([(k, [c.to_dict() for c in cfgs], [run_id(c) for c in cfgs])], n_eval)
            for k, cfgs in enumerate(groups)]


def _wait_until(condition, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {limit} s"
        time.sleep(0.002)


def test_an_interrupt_inside_a_long_wave_stops_its_training_there_and_evaluates_nothing_more():
    """Wave 1: one short run; wave 2: 16 runs of 400 000 steps (6.4 M model-steps, seconds of training).
    Once wave 2 has trained some steps the caller stops (what Ctrl-C while storing does): training must
    stop within a chunk of steps, not at the wave's end, and no run of wave 2 is evaluated."""
    short = [RunConfig(**SMALL, steps=20, seed=0)]
    long = [RunConfig(**SMALL, steps=400_000, seed=s) for s in range(1, 17)]
    wave2 = sum(c.steps for c in long)
    lock, trained = threading.Lock(), [0]

    def progress(n: int) -> None:
        with lock:
            trained[0] += n

    ex = LocalExecutor(layout=local_layout(1, None))
    stream = ex.map(_units([short, long]), progress)  # two waves: the short run, then the long ones
    index, records = next(stream)
    assert index == 0 and [r.run_id for r in records] == [run_id(short[0])]
    _wait_until(lambda: trained[0] > 20)  # wave 2 is training: the interrupt falls inside it
    stream.close()
    ex.close()
    at_close = trained[0]
    assert at_close - 20 < 0.25 * wave2, f"{at_close - 20} of wave 2's {wave2} model-steps trained"
    with pytest.raises(StopIteration):  # nothing more comes back, evaluated or not
        next(stream)
    assert trained[0] == at_close  # and nothing trains after close returned


def test_an_interrupt_while_storing_keeps_the_stored_shard_only_and_the_study_resumes(tmp_path, monkeypatch):
    """run_study interrupted (KeyboardInterrupt) right after its first part is stored, while the next,
    long wave trains: the interrupt comes out, exactly that shard's runs are stored (parts and runs/<id>/),
    no wave is evaluated or stored after it, and the same call later completes the table."""
    grid = Grid(study={"name": "i", **SMALL, "steps": 20, "n_eval": 32},
                subgrids={"short": {"seed": [0]}, "long": {"seed": list(range(1, 9)), "steps": [100_000]}})
    real, stored = vaebench.store.write_part, []

    def write_part(out, rows):
        real(out, rows)
        stored.append([r["run_id"] for r in rows])
        raise KeyboardInterrupt

    monkeypatch.setattr(vaebench.store, "write_part", write_part)
    monkeypatch.setattr(vaebench.execution.plan, "run_cost", lambda cfg: 0)  # grid order: the long wave 2nd
    out = tmp_path / "s"
    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        run_study(grid, out, shard_size=8, threads=1, progress=False)
    assert len(stored) == 1
    _wait_until(lambda: threading.active_count() <= before, 30)  # idle evaluation threads end on their own
    ids = [run_id(c) for c in grid.configs()]
    assert stored == [ids[:1]]
    assert sorted(load_results(out)["run_id"]) == ids[:1]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ids[:1]
    monkeypatch.setattr(vaebench.store, "write_part", real)
    table = run_study(grid, out, shard_size=8, threads=1, progress=False)
    assert list(table["run_id"]) == ids and (table["status"] == "ok").all()


def test_a_shard_evaluated_in_several_tasks_comes_back_in_run_order_each_record_its_own_run():
    """20 runs in one shard: evaluated in several tasks (more than one task takes) on 2 threads. The
    records come back in the shard's run order, each with its own run's config and evaluation set."""
    cfgs = [RunConfig(**SMALL, steps=30, seed=s) for s in (7, 3, 11, 0, 19, 5, 2, 13, 8, 1, 17, 4, 9, 6, 15,
                                                                  10, 12, 14, 16, 18)]
    ex = LocalExecutor(layout=local_layout(2, None))
    try:
        ((index, records),) = list(ex.map(_units([cfgs], n_eval=40), lambda n: None))
    finally:
        ex.close()
    assert index == 0 and [r.run_id for r in records] == [run_id(c) for c in cfgs]
    for rec, cfg in zip(records, cfgs, strict=True):
        assert rec.row["run_id"] == rec.run_id and config_from_row(rec.row) == cfg
        assert np.array_equal(rec.arrays["x"], sample(cfg.dataset, 40, stream_seed(cfg.seed, "eval")))


@pytest.mark.parametrize("shard_size", [20, 10])
def test_a_study_with_shards_of_several_evaluation_tasks_equals_one_run_per_shard(tmp_path, shard_size):
    """20 runs: one shard of 20, or one wave of two shards of 10 (2 threads), each evaluated in several
    tasks. Every stored row and arrays.npz belongs to its own run; the table equals shards of one run."""
    grid = Grid(study={"name": "o", **SMALL, "steps": 30, "n_eval": 40},
                axes={"seed": [5, 0, 17, 3, 12, 9, 1, 14, 7, 19, 2, 11, 16, 4, 8, 13, 18, 6, 10, 15]})
    big = run_study(grid, tmp_path / "big", shard_size=shard_size, threads=2, progress=False)
    one = run_study(grid, tmp_path / "one", shard_size=1, threads=1, progress=False)
    assert list(big["run_id"]) == [run_id(c) for c in grid.configs()]
    pd.testing.assert_frame_equal(big.drop(columns=TIMING_COLUMNS), one.drop(columns=TIMING_COLUMNS),
                                  check_exact=True)
    parts = [pd.read_parquet(p) for p in (tmp_path / "big" / "results").glob("part-*.parquet")]
    assert sorted(len(p) for p in parts) == [shard_size] * (20 // shard_size)
    for part in parts:  # a part's rows: its runs' own configs, in the shard's run order
        assert [run_id(config_from_row(r)) for r in part.to_dict("records")] == list(part["run_id"])
        assert list(part["run_id"]) == [i for i in big["run_id"] if i in set(part["run_id"])]
    for row in big.itertuples():
        x = load_artifacts(tmp_path / "big", row.run_id)["x"]
        assert np.array_equal(x, sample("uniform", 40, stream_seed(row.seed, "eval")))
