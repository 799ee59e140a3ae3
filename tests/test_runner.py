"""run_study: one table per study whatever the shard size or executor, resume, extension, planning."""

import shutil
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import vaebench.evaluation
import vaebench.execution.plan
import vaebench.execution.tasks as tasks
from vaebench import Grid, RunConfig, load_results
from vaebench.engine import group_key
from vaebench.grid import run_id
from vaebench.runner import EXECUTORS, plan_shards, plan_study, run_study
from vaebench.store import TIMING_COLUMNS, StudyError, load_artifacts, load_history, load_model

TINY = {"name": "tiny", "n_train": 100, "steps": 20, "batch_size": 16, "hidden": [8], "n_eval": 64}


def tiny_grid(seeds=(0, 1)) -> Grid:
    """10 runs: a 2-D and a 1-D VAE at two β and two seeds, one WAE, the probit reference."""
    return Grid(study=TINY, axes={"latent_dim": [2, 1], "beta": [0.01, 0.1], "seed": list(seeds)},
                subgrids={"wae": {"variant": ["wae"], "beta": [10.0], "seed": [0]},
                          "probit": {"variant": ["probit"], "seed": [0]}})


def without_timings(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=TIMING_COLUMNS).sort_values("run_id").reset_index(drop=True)


def parts(out) -> set:
    return {p.name for p in (out / "results").glob("part-*.parquet")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return out, run_study(tiny_grid(), out, shard_size=64, progress=False, threads=1)


def test_one_row_per_run_with_config_metrics_and_timings(reference):
    out, df = reference
    grid = tiny_grid()
    assert list(df["run_id"]) == [run_id(c) for c in grid.configs()]  # grid order
    assert (df["status"] == "ok").all() and df["diverged_step"].isna().all()
    by_id = df.set_index("run_id")
    for cfg in grid.configs():
        row = by_id.loc[run_id(cfg)]
        assert (row["variant"], row["latent_dim"], row["beta"], row["seed"], row["hidden"]) == \
            (cfg.variant, cfg.latent_dim, cfg.beta, cfg.seed, "[8]")
    assert "mse" in df.columns and (df["train_seconds"] >= 0).all() and (df["eval_seconds"] > 0).all()
    assert df.set_index("variant").loc["probit", "mse"] < 1e-10  # Φ(Φ⁻¹(x)) = x
    pd.testing.assert_frame_equal(load_results(out), df)


def test_stored_weights_reproduce_the_stored_evaluation_arrays(reference):
    out, df = reference
    for rid in df["run_id"]:
        arrays = load_artifacts(out, rid)
        assert set(arrays) == {"x", "quadrant", "mu", "logvar", "z", "recon", "recon_mean", "generated"}
        assert len(arrays["x"]) == TINY["n_eval"]
        with torch.no_grad():
            model = load_model(out, rid)
            mu, _ = model.encode(torch.from_numpy(arrays["x"]))
            recon_mean = model.decode(mu)
        np.testing.assert_array_equal(mu.numpy(), arrays["mu"])
        np.testing.assert_array_equal(recon_mean.numpy(), arrays["recon_mean"])
    trained = df[df["variant"] == "vae"]["run_id"].iloc[0]
    history = load_history(out, trained)
    assert history["step"].iloc[-1] == TINY["steps"] - 1 and {"recon", "kl", "total"} <= set(history.columns)


def test_running_the_same_study_again_trains_nothing(reference, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(reference[0], out)
    before = parts(out)
    again = run_study(tiny_grid(), out, progress=False)
    assert parts(out) == before
    pd.testing.assert_frame_equal(again, reference[1])  # timings included: nothing was retrained


def test_extending_the_grid_trains_only_the_new_runs(reference, tmp_path):
    out = tmp_path / "grown"
    shutil.copytree(reference[0], out)
    before = parts(out)
    grown = run_study(tiny_grid(seeds=(0, 1, 2)), out, progress=False, threads=1)
    assert len(grown) == len(reference[1]) + 4
    assert len(parts(out) - before) == 2  # the new seed's runs: one shard per latent size
    old = grown.set_index("run_id").loc[reference[1]["run_id"]].reset_index()
    pd.testing.assert_frame_equal(old, reference[1])  # stored rows, timings included, untouched


def test_shard_size_does_not_change_the_table(reference, tmp_path):
    small = run_study(tiny_grid(), tmp_path / "small", shard_size=1, progress=False, threads=1)
    assert len(parts(tmp_path / "small")) == len(small)
    pd.testing.assert_frame_equal(without_timings(small), without_timings(reference[1]), check_exact=True)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_table(reference, tmp_path):
    table = run_study(tiny_grid(), tmp_path / "dask", executor="dask", workers=2, shard_size=3,
                      progress=False)
    pd.testing.assert_frame_equal(without_timings(table), without_timings(reference[1]), check_exact=True)


@pytest.mark.slow
def test_dask_and_local_give_the_same_bits_for_the_run_whose_metric_is_a_denormal(tmp_path):
    """The seed-figures infovae run: ``mu_ks_pvalue_min`` is 1.986e-321 wherever it is evaluated (it was
    0.0 on Dask, which evaluated in the thread that had trained, denormals flushed)."""
    study = {"name": "denormal", "dataset": "uniform", "n_train": 10000, "batch_size": 128, "steps": 3000,
             "hidden": [30, 30], "n_eval": 2000, "latent_dim": 2, "beta": 0.01, "seed": 0}
    grid = Grid(study=study, axes={"variant": ["infovae", "vae"]})
    local = run_study(grid, tmp_path / "local", progress=False, threads=2)
    dask = run_study(grid, tmp_path / "dask", executor="dask", workers=2, progress=False)
    pd.testing.assert_frame_equal(without_timings(dask), without_timings(local), check_exact=True)
    p = local.set_index("variant").loc["infovae", "mu_ks_pvalue_min"]
    assert 0 < p < np.finfo(np.float64).tiny  # a denormal, kept


def test_plan_shards_keeps_groups_apart_and_caps_their_size():
    cfgs = tiny_grid(seeds=range(5)).configs()
    shards = plan_shards(cfgs, 4)
    assert sorted(i for s in shards for i in s) == list(range(len(cfgs)))
    assert all(1 <= len(s) <= 4 and len({group_key(cfgs[i]) for i in s}) == 1 for s in shards)
    # 10 runs per latent size in shards of 4 -> 3 + 3, plus wae and probit
    assert sorted(len(s) for s in shards) == [1, 1, 2, 2, 4, 4, 4, 4]


def test_a_shard_too_large_for_memory_is_refused_with_the_estimate(tmp_path):
    grid = Grid(study={"n_train": 10_000_000, "batch_size": 1_000_000, "hidden": [4096, 4096]},
                axes={"seed": [0, 1]})
    with pytest.raises(ValueError, match=r"shard_size = 64: 2 of the largest wave in flight need about "
                                         r"[\d.]+ GiB, more than the [\d.]+ GiB this machine allows"):
        run_study(grid, tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    assert plan_study(tiny_grid(), shard_size=4).shard_bytes < 2**30


def test_a_different_n_eval_on_stored_runs_is_refused(reference, tmp_path):
    out = tmp_path / "n_eval"
    shutil.copytree(reference[0], out)
    with pytest.raises(StudyError, match=r"n_eval = 100: the runs stored in .* evaluated with n_eval = 64"):
        run_study(tiny_grid(), out, n_eval=100, progress=False)


def test_options_are_validated_before_anything_is_written(tmp_path, monkeypatch):
    cases = [(dict(shard_size=0), "shard_size = 0: must be an integer >= 1"),
             (dict(executor="spark"), "executor = 'spark': must be one of ['dask', 'local']"),
             (dict(scheduler="tcp://127.0.0.1:1"), "scheduler = 'tcp://127.0.0.1:1': only the dask executor"),
             (dict(n_eval=2), "n_eval = 2: must be an integer >= 10"),
             (dict(device="tpu"), "device = 'tpu': must be one of")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            run_study(tiny_grid(), tmp_path / "s", progress=False, **kwargs)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the extra were not installed
    extra = r"the dask executor needs the optional extra: pip install 'vaebench\[dask\]'"
    with pytest.raises(ValueError, match=extra):
        run_study(tiny_grid(), tmp_path / "s", executor="dask", progress=False)
    assert not (tmp_path / "s").exists()


def test_device_override_and_auto_are_resolved_into_the_run_ids():
    grid = Grid(study={**TINY, "device": "auto"}, axes={"seed": [0]})
    plan = plan_study(grid, device="cpu")
    assert [c.device for c in plan.configs] == ["cpu"]
    assert plan.run_ids == [run_id(grid.configs()[0].replace(device="cpu"))]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert plan_study(grid).configs[0].device == expected


def test_local_executor_trains_on_the_usable_cores_by_default_restores_torch_threads(tmp_path, monkeypatch):
    seen, evaluating, real, real_eval = [], set(), tasks.train, vaebench.evaluation.evaluate_run

    def spy(cfgs, **kwargs):
        seen.append(kwargs["threads"])
        return real(cfgs, **kwargs)

    def spy_eval(result, n_eval):
        evaluating.add(torch.get_num_threads())  # each evaluation thread: one intra-op thread
        return real_eval(result, n_eval=n_eval)

    monkeypatch.setattr(tasks, "train", spy)
    monkeypatch.setattr(vaebench.evaluation, "evaluate_run", spy_eval)
    monkeypatch.setattr(vaebench.execution.plan, "threads_default", lambda: 5)  # not the caller's 2
    caller = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run_study(Grid(study=TINY, axes={"seed": [3]}), tmp_path / "default", progress=False)
        run_study(Grid(study=TINY, axes={"seed": [3]}), tmp_path / "three", threads=3, progress=False)
        assert seen == [5, 3] and evaluating == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(caller)
    assert set(EXECUTORS) == {"local", "dask"}


def test_progress_is_log_lines_off_a_terminal_and_a_bar_on_one(tmp_path, capsys, monkeypatch):
    grid = Grid(study=TINY, axes={"seed": [0, 1]})
    run_study(grid, tmp_path / "lines", shard_size=1, threads=1)
    err = capsys.readouterr().err
    assert "2 to train in 2 shards" in err and "1/2 runs stored" in err and "model-steps/s, ETA" in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run_study(grid, tmp_path / "bar", shard_size=1, threads=1)
    err = capsys.readouterr().err
    assert "model-step" in err and "runs 2/2" in err and "\r" in err
    run_study(grid, tmp_path / "quiet", shard_size=1, threads=1, progress=False)
    assert capsys.readouterr().err == ""


def test_a_run_config_survives_the_table(reference):
    from vaebench.store import config_from_row

    df = reference[1]
    for row in df.to_dict("records"):
        assert run_id(config_from_row(row)) == row["run_id"]
    assert isinstance(config_from_row(df.to_dict("records")[0]), RunConfig)


def test_an_evaluation_that_fails_keeps_the_trained_run_and_the_rest_of_the_shard(tmp_path, monkeypatch):
    import vaebench.evaluation

    real = vaebench.evaluation.evaluate_run

    def flaky(res, n_eval):
        if res.config.seed == 1 and res.config.latent_dim == 2 and res.config.beta == 0.1:
            raise FloatingPointError("injected")
        return real(res, n_eval=n_eval)

    monkeypatch.setattr(vaebench.evaluation, "evaluate_run", flaky)
    df = run_study(tiny_grid(), tmp_path, progress=False, threads=1).set_index("run_id")
    assert len(df) == len(tiny_grid().configs())
    bad = df[df["status"] != "ok"]
    assert list(bad["status"]) == ["eval_failed"]
    assert "evaluation failed: FloatingPointError: injected" in bad["reason"].iloc[0]
    assert isinstance(load_model(tmp_path, bad.index[0]), torch.nn.Module)  # weights kept
    assert (df.drop(index=bad.index)["status"] == "ok").all()


def test_study_timings_are_stored_and_add_up_to_the_runs_columns(reference):
    import json

    out, df = reference
    stored = json.loads((out / "timings.json").read_text())
    assert stored == df.attrs["timings"]
    steps = sum(c.steps for c in tiny_grid().configs() if c.variant != "probit")  # probit trains nothing
    assert stored["runs"] == len(df) and stored["model_steps"] == steps and stored["executor"] == "local"
    assert stored["train_seconds"] == pytest.approx(df["train_seconds"].sum(), rel=1e-9)
    assert stored["eval_seconds"] == pytest.approx(df["eval_seconds"].sum(), rel=1e-9)
    assert 0 < stored["store_seconds"] < stored["wall_seconds"]
    assert stored["model_steps_per_s"] == pytest.approx(steps / stored["wall_seconds"], rel=1e-9)
    assert stored["train_share"] == pytest.approx(stored["train_seconds"] / stored["wall_seconds"], rel=1e-9)
    assert set(df["engine"]) <= {"fused", "kernel", "operators", "analytic"}


def test_a_wave_is_evaluated_while_the_next_one_trains(tmp_path, monkeypatch):
    import threading

    second_started, overlapped, real_train = threading.Event(), [], tasks.train
    real_eval = tasks.evaluate_runs

    def train(cfgs, **kwargs):
        if any(c.seed == 2 for c in cfgs):
            second_started.set()
        return real_train(cfgs, **kwargs)

    def evaluate(results, ids, n_eval):
        if results[0].config.seed == 0:  # sequential execution would never start seed 2's training
            overlapped.append(second_started.wait(timeout=60))
            overlapped.append(threading.current_thread() is not threading.main_thread())
        return real_eval(results, ids, n_eval)

    monkeypatch.setattr(tasks, "train", train)
    monkeypatch.setattr(tasks, "evaluate_runs", evaluate)
    # 2 threads × shard_size 1: waves of 2 one-run shards, seeds {0, 1} then {2, 3}
    df = run_study(Grid(study=TINY, axes={"seed": [0, 1, 2, 3]}), tmp_path, shard_size=1, threads=2,
                   progress=False)
    assert overlapped == [True, True] and len(df) == 4


def test_cli_run_ends_with_throughput_and_training_share(tmp_path, capsys):
    from vaebench.cli import main

    grid = tmp_path / "g.toml"
    grid.write_text('[study]\nname = "t"\nn_train = 100\nsteps = 20\nbatch_size = 16\nhidden = [8]\n'
                    'n_eval = 64\n\n[grid]\nseed = [0, 1]\n')
    assert main(["run", str(grid), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "trained 2 runs, 40 model-steps in" in last and "model-steps/s including evaluation" in last
    assert "of the wall time" in last
    assert main(["run", str(grid), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    assert "nothing to train" in capsys.readouterr().out


def test_a_failing_wave_still_lets_the_one_in_evaluation_be_stored(tmp_path, monkeypatch):
    real, calls = tasks.train, []

    def train(cfgs, **kwargs):
        calls.append(sorted(c.seed for c in cfgs))
        if any(c.seed == 2 for c in cfgs):
            raise FloatingPointError("injected")
        return real(cfgs, **kwargs)

    monkeypatch.setattr(tasks, "train", train)
    with pytest.raises(FloatingPointError, match="injected"):  # waves {0, 1}, then {2, 3} fails
        run_study(Grid(study=TINY, axes={"seed": [0, 1, 2, 3]}), tmp_path, shard_size=1, threads=2,
                  progress=False)
    assert calls == [[0, 1], [2, 3]]
    assert sorted(load_results(tmp_path)["seed"]) == [0, 1] and len(parts(tmp_path)) == 2  # a part per shard


def test_waves_store_every_shard_as_its_own_part_and_give_the_same_table(reference, tmp_path, monkeypatch):
    """tiny_grid: 4 + 4 VAE runs (d = 2, 1), a WAE, the probit reference. With shard_size 2 and 2 threads,
    waves of 4 runs: the 2-D group, then the 1-D group, then the WAE and probit together."""
    real, calls = tasks.train, []

    def spy(cfgs, **kwargs):
        calls.append([(c.variant, c.latent_dim) for c in cfgs])
        return real(cfgs, **kwargs)

    monkeypatch.setattr(tasks, "train", spy)
    table = run_study(tiny_grid(), tmp_path / "waves", shard_size=2, threads=2, progress=False)
    assert [len(c) for c in calls] == [4, 4, 2] and calls[2] == [("wae", 2), ("probit", 2)]
    assert len(parts(tmp_path / "waves")) == len(plan_shards(tiny_grid().configs(), 2)) == 6
    for p in (tmp_path / "waves" / "results").glob("part-*.parquet"):  # one shard: one group, ≤ 2 runs
        part = pd.read_parquet(p)
        assert len(part) <= 2 and part[["variant", "latent_dim"]].drop_duplicates().shape[0] == 1
    pd.testing.assert_frame_equal(without_timings(table), without_timings(reference[1]), check_exact=True)
    calls.clear()
    other = run_study(tiny_grid(), tmp_path / "wide", shard_size=3, threads=3, progress=False)
    assert [len(c) for c in calls] == [9, 1]  # waves of ≥ 9 runs: 3 + 1 + 3 + 1 + 1, then probit
    pd.testing.assert_frame_equal(without_timings(other), without_timings(reference[1]), check_exact=True)


def test_plan_waves_collects_consecutive_shards_up_to_the_wave_size():
    from vaebench.execution import plan_waves

    # no wave overshoots: 64 + 28 + 38 = 130 > 128 starts a new wave at 38
    assert plan_waves([64, 64, 64, 28, 38, 1, 1], 128) == [[0, 1], [2, 3], [4, 5, 6]]
    assert plan_waves([200, 3, 130, 128], 128) == [[0], [1], [2], [3]]  # a shard above the size: its own
    assert plan_waves([1, 1, 1], 1) == [[0], [1], [2]]
    assert plan_waves([5], 100) == [[0]] and plan_waves([], 4) == []


def test_a_study_stopped_by_its_caller_stops_training_and_leaves_no_training_thread(tmp_path, monkeypatch):
    """An interrupt (the consumer of LocalExecutor.map stops) stops training at the next chunk of steps:
    at most IN_FLIGHT waves are trained, and the training thread is gone when map's generator closes."""
    import threading

    from vaebench.execution import IN_FLIGHT, Layout, LocalExecutor, Unit

    real, calls = tasks.train, []

    def train(cfgs, **kwargs):
        calls.append(sorted(c.seed for c in cfgs))
        return real(cfgs, **kwargs)

    monkeypatch.setattr(tasks, "train", train)
    cfgs = [RunConfig(n_train=100, steps=20, batch_size=16, hidden=[8], seed=s) for s in range(6)]
    units = [Unit([(k, [c.to_dict()], [run_id(c)])], 64) for k, c in enumerate(cfgs)]  # one one-run shard
    ex = LocalExecutor(layout=Layout(threads=1, eval_threads=1, in_flight=IN_FLIGHT))
    stream = ex.map(units, lambda n: None)
    first, records = next(stream)
    stream.close()  # what an interrupt while storing the first shard does
    ex.close()
    assert first == 0 and len(records) == 1
    assert 1 <= len(calls) <= IN_FLIGHT
    assert not any(t.name == "vaebench-training" and t.is_alive() for t in threading.enumerate())
