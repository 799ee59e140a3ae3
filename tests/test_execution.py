"""The execution layer (vaebench.execution): one plan of shards and units for every executor, Dask
submitting units (waves), not single shards; the store opened once per study (vaebench.store.open_study)
from plain data; the CLI error shell (vaebench.shell)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import vaebench.execution.plan as plan_mod
from vaebench import Grid, RunConfig, store
from vaebench.execution import EXECUTORS, Layout, plan_units
from vaebench.grid import run_id
from vaebench.runner import run_study
from vaebench.shell import ERROR_LOG, guarded

TINY = {"name": "tiny", "n_train": 100, "steps": 20, "batch_size": 16, "hidden": [8], "n_eval": 64}


def tiny_grid() -> Grid:
    """10 runs: 4 + 4 VAE runs (d = 2, 1), one WAE, the probit reference."""
    return Grid(study=TINY, axes={"latent_dim": [2, 1], "beta": [0.01, 0.1], "seed": [0, 1]},
                subgrids={"wae": {"variant": ["wae"], "beta": [10.0], "seed": [0]},
                          "probit": {"variant": ["probit"], "seed": [0]}})


def test_each_executor_states_its_layout_and_the_plan_resolves_the_defaults(monkeypatch):
    monkeypatch.setattr(plan_mod, "threads_default", lambda: 6)
    assert EXECUTORS["local"].layout(None, None) == Layout(6, 6, plan_mod.IN_FLIGHT, 0)
    assert EXECUTORS["local"].layout(3, None) == Layout(3, 3, plan_mod.IN_FLIGHT, 0)
    assert EXECUTORS["dask"].layout(None, None) == Layout(1, 1, 1, 6)  # one thread per worker process
    assert EXECUTORS["dask"].layout(2, 4) == Layout(2, 1, 1, 4)


def test_units_are_consecutive_shards_of_at_most_32_runs_per_thread():
    cfgs = tiny_grid().configs()
    # shards of 2: [vae d2 ×2, ×2, vae d1 ×2, ×2, wae, probit]; 2 threads: units of ≥ 2·min(2, 32) = 4 runs
    units = plan_units(cfgs, 2, Layout(2, 2, 2))
    assert [[len(s) for s in u] for u in units] == [[2, 2], [2, 2], [1, 1]]
    assert [i for u in units for s in u for i in s] == list(range(len(cfgs)))  # every run once, in order
    assert [[len(s) for s in u] for u in plan_units(cfgs, 2, Layout(1, 1, 1))] == [[2], [2], [2], [2], [1, 1]]
    # a large group is cut into units of a unit's size, not of the shard size: even work for the workers
    big = [RunConfig(n_train=100, steps=20, batch_size=16, hidden=[8], seed=s) for s in range(70)]
    assert [[len(s) for s in u] for u in plan_units(big, 64, Layout(1, 1, 1))] == [[32], [32], [6]]
    assert [[len(s) for s in u] for u in plan_units(big, 64, Layout(2, 2, 2))] == [[64], [6]]


def test_units_run_the_largest_work_first_so_a_study_ends_on_its_smallest_units():
    """Units ordered by their runs' steps plus evaluation (plan.run_cost), largest first, whatever the grid
    order: the workers that finish first wait for a small unit, not a long one (ties keep grid order)."""
    short = [RunConfig(n_train=100, steps=20, batch_size=16, hidden=[8], seed=s) for s in range(40)]
    long = [RunConfig(n_train=100, steps=6000, batch_size=16, hidden=[8], seed=s) for s in range(40)]
    cfgs = [*short, *long]
    units = plan_units(cfgs, 64, Layout(1, 1, 1))
    # shards [32, 8] of each group; 32 long runs, 32 short (64 640 steps), 8 long (64 000), 8 short
    assert units == [[list(range(40, 72))], [list(range(32))], [list(range(72, 80))], [list(range(32, 40))]]
    cost = [sum(plan_mod.run_cost(cfgs[i]) for s in u for i in s) for u in units]
    assert cost == sorted(cost, reverse=True)
    assert plan_mod.run_cost(long[0]) == 6000 + plan_mod.EVAL_COST_STEPS
    # the runner keeps the order, numbering shards as they run: every run once
    assert sorted(i for u in units for s in u for i in s) == list(range(len(cfgs)))


@pytest.mark.slow
def test_dask_submits_one_task_per_unit_and_stores_one_part_per_shard(tmp_path, monkeypatch):
    from dask.distributed import Client

    submitted, real = [], Client.submit

    def spy(self, fn, *args, **kwargs):
        submitted.append([index for index, _, _ in args[0].shards])
        return real(self, fn, *args, **kwargs)

    monkeypatch.setattr(Client, "submit", spy)
    local = run_study(tiny_grid(), tmp_path / "local", shard_size=2, threads=2, progress=False)
    dask = run_study(tiny_grid(), tmp_path / "dask", executor="dask", workers=2, threads=2, shard_size=2,
                     progress=False)
    assert submitted == [[0, 1], [2, 3], [4, 5]]  # 3 tasks for 6 shards
    assert len(list((tmp_path / "dask" / "results").glob("part-*.parquet"))) == 6
    timings = list(store.TIMING_COLUMNS)
    pd.testing.assert_frame_equal(dask.drop(columns=timings), local.drop(columns=timings), check_exact=True)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_the_local_cluster_forks_its_workers_without_dasks_malloc_trim_threshold():
    """A LocalCluster worker starts from this process (vaebench already imported: no 2-3 s import per
    worker) and without MALLOC_TRIM_THRESHOLD_ (1.4× slower evaluation, execution/dask.py)."""
    pytest.importorskip("dask.distributed")
    import vaebench.execution.tasks  # noqa: F401  (the client imports it before the cluster starts)
    from vaebench.execution import dask as dask_mod

    ex = EXECUTORS["dask"](None, Layout(1, 1, 1, 2))
    try:
        seen = ex.client.run(lambda: ("vaebench.execution.tasks" in sys.modules,
                                      os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.getppid()))
    finally:
        ex.close()
    assert len(seen) == 2 and set(seen.values()) == {(True, None, os.getpid())}
    assert dask_mod.local_cluster_config()["distributed.worker.multiprocessing-method"] == "fork"
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # nor set in the client (dask's nannies set it there)


def _record(cfg: RunConfig) -> store.RunRecord:
    """A diverged run's record (a stored ok run would need whole evaluation arrays)."""
    rid = run_id(cfg)
    row = {"run_id": rid, "status": "diverged", "diverged_step": 5, "reason": "non-finite",
           **store.config_row(cfg),
           "mse": 0.5, "engine": "fused", "train_seconds": 1.0, "eval_seconds": 0.1}
    arrays = {"x": torch.zeros(64, 2).numpy()}
    return store.RunRecord(rid, row, arrays, pd.DataFrame({"step": [0]}), {"w": torch.ones(2)})


def test_open_study_holds_the_lock_finds_what_is_stored_and_commits_plain_records(tmp_path):
    cfgs = [RunConfig(seed=s) for s in range(3)]
    ids = [run_id(c) for c in cfgs]
    meta = {"name": "s", "n_eval": 64, "runs": [{"run_id": r, "config": c.to_dict()} for r, c in
                                                 zip(ids, cfgs, strict=True)]}
    with store.open_study(tmp_path / "s", ids, meta, source="[study]\n") as study:
        assert study.pending == ids and study.broken == [] and study.corrupt == []
        with pytest.raises(store.StudyError, match="the study is in use by vaebench pid"):
            store.open_study(tmp_path / "s", ids, meta)
        study.commit([_record(cfgs[1])])
        assert list(study.results()["run_id"]) == [ids[1]]
    out = tmp_path / "s"
    assert json.loads((out / "study.json").read_text()) == meta
    assert (out / "grid.toml").read_text() == "[study]\n"
    assert json.loads((out / "runs" / ids[1] / "config.json").read_text()) == cfgs[1].to_dict()
    with store.open_study(out, ids, meta) as again:  # the lock was released; run 1 is stored
        assert again.pending == [ids[0], ids[2]]
    with pytest.raises(store.StudyError, match="n_eval = 100: the runs stored in .* n_eval = 64"):
        store.open_study(out, ids, {**meta, "n_eval": 100})
    contents = store.study_contents(out)
    assert contents.grid_ids == ids and contents.pending == [ids[0], ids[2]] and contents.foreign == []
    store.write_study(out, {**meta, "runs": meta["runs"][:1]}, None)  # the grid shrank: run 1 is foreign
    contents = store.study_contents(out)
    assert len(contents.results) == 0 and len(contents.stored) == 1
    assert [ids_ for _, ids_ in contents.foreign] == [[ids[1]]]


def test_the_error_shell_gives_one_line_and_an_exit_status_per_kind_of_failure(tmp_path, capsys):
    class Expected(RuntimeError):
        pass

    def raising(err):
        def body():
            raise err
        return body

    def shell(body):
        return guarded(body, "prog", interrupted=lambda: "interrupted: kept", log_dir=lambda: tmp_path,
                       failures=(Expected,))

    assert shell(lambda: None) == 0 and shell(lambda: 3) == 3
    assert shell(raising(ValueError("x = 1: bad"))) == 2
    assert capsys.readouterr().err == "error: x = 1: bad\n"
    assert shell(raising(KeyboardInterrupt())) == 130 and capsys.readouterr().err == "interrupted: kept\n"
    assert shell(raising(Expected("shard 3 failed"))) == 1
    assert capsys.readouterr().err == "error: shard 3 failed\n" and not (tmp_path / ERROR_LOG).exists()
    assert shell(raising(ZeroDivisionError("boom"))) == 1
    line = capsys.readouterr().err
    assert line.startswith("error: internal error: ZeroDivisionError: boom; the full traceback is in")
    assert "ZeroDivisionError: boom" in (tmp_path / ERROR_LOG).read_text()


@pytest.mark.slow
def test_a_real_dask_scheduler_and_workers_on_loopback_run_a_study_as_a_cluster_user_does(tmp_path):
    """`dask scheduler` and `dask worker --nworkers 2 --nthreads 1` as separate processes on 127.0.0.1
    (the workers import vaebench from their own environment: PYTHONPATH here), addressed by tcp://, with
    the README's dask configuration file that leaves MALLOC_TRIM_THRESHOLD_ unset in the workers."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client

    root = str(Path(__file__).resolve().parents[1])
    readme = (Path(root) / "README.md").read_text()
    config = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "MALLOC_TRIM_THRESHOLD_: null" in config
    (tmp_path / "dask-config").mkdir()
    (tmp_path / "dask-config" / "vaebench.yaml").write_text(config)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
           "DASK_CONFIG": str(tmp_path / "dask-config")}
    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                               "0", "--scheduler-file", str(info), *common], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers", "2",
                                       "--nthreads", "1", "--host", "127.0.0.1", *common], **quiet))
        assert address.startswith("tcp://127.0.0.1:")
        local = run_study(tiny_grid(), tmp_path / "local", shard_size=3, threads=1, progress=False)
        dask = run_study(tiny_grid(), tmp_path / "dask", executor="dask", scheduler=address, shard_size=3,
                         progress=False)
        timings = list(store.TIMING_COLUMNS)
        pd.testing.assert_frame_equal(dask.drop(columns=timings), local.drop(columns=timings),
                                      check_exact=True)
        with Client(address, timeout="10s") as client:
            seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert len(seen) == 2 and set(seen.values()) == {None}
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
