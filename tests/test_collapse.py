"""The phase diagram of posterior collapse (vaebench.collapse) and its `collapse` subcommand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from vaebench import store
from vaebench.cli import main
from vaebench.closed_forms import linear_vae_critical_beta
from vaebench.collapse import CollapseSearch, refinement, search, summarise, transitions


def _runs(counts: dict[float, list[int]], latent_dim: int = 2, l2: float = 0.0) -> pd.DataFrame:
    """Synthetic runs: β -> active directions per seed."""
    return pd.DataFrame([{"latent_dim": latent_dim, "l2": l2, "beta": b, "seed": s, "active": a,
                          "status": "ok"} for b, per_seed in counts.items() for s, a in enumerate(per_seed)])


def test_transitions_bracket_each_level_per_seed():
    runs = _runs({0.01: [2, 2], 0.1: [1, 2], 1.0: [0, 1], 10.0: [0, 1]})
    t = transitions(runs).set_index(["seed", "level"])
    assert (t.loc[(0, 2), "beta_below"], t.loc[(0, 2), "beta_above"]) == (0.01, 0.1)
    assert (t.loc[(0, 1), "beta_below"], t.loc[(0, 1), "beta_above"]) == (0.1, 1.0)
    assert t.loc[(0, 1), "beta_c"] == pytest.approx(math.sqrt(0.1))
    assert (t.loc[(1, 2), "beta_below"], t.loc[(1, 2), "beta_above"]) == (0.1, 1.0)
    # seed 1 keeps one direction to the ladder's top: outside, no estimate
    assert t.loc[(1, 1), "beta_below"] == 10.0 and math.isnan(t.loc[(1, 1), "beta_c"])


def test_a_run_left_on_the_collapsed_saddle_below_the_bracket_is_an_inversion():
    # seed 0 stayed collapsed at β = 0.1 but kept its direction at 0.2: the bracket is (0.2, 0.4)
    t = transitions(_runs({0.05: [1, 1], 0.1: [0, 1], 0.2: [1, 1], 0.4: [0, 0]}, latent_dim=1))
    assert list(t["beta_below"]) == [0.2, 0.2] and list(t["beta_above"]) == [0.4, 0.4]
    assert list(t["inversions"]) == [1, 0]
    assert summarise(t)["inversions"].item() == 1


def test_a_transition_below_the_ladder_has_no_lower_end():
    t = transitions(_runs({0.1: [0, 0], 1.0: [0, 0]}, latent_dim=1))
    assert t["beta_below"].isna().all() and (t["beta_above"] == 0.1).all()


def test_refinement_fills_the_brackets_and_steps_beyond_the_ladder():
    runs = pd.concat([_runs({0.01: [2, 2], 0.1: [1, 2], 1.0: [0, 1]}),
                      _runs({0.1: [0, 0], 1.0: [0, 0]}, latent_dim=1)])
    new = refinement(transitions(runs), points=1)
    # d = 2: level 2 spans [0.01, 1.0] (its one point, 0.1, lies inside neither seed's bracket, (0.01, 0.1)
    # and (0.1, 1.0): their mid-points too), level 1 [0.1, 1.0] (seed 1 outside: 3.0 beyond the top)
    assert new[(2, 0.0)] == pytest.approx(sorted([math.sqrt(0.001), 0.1, math.sqrt(0.1), 3.0]))
    assert new[(1, 0.0)] == pytest.approx([0.1 / 3])


def test_summary_interval_is_a_t_interval_on_log_beta_widened_by_the_bracket():
    trans = pd.DataFrame({"latent_dim": 1, "l2": 0.0, "seed": [0, 1, 2], "level": 1,
                          "beta_below": [0.1, 0.12, 0.09], "beta_above": [0.11, 0.13, 0.1], "inversions": 0})
    trans["beta_c"] = np.sqrt(trans["beta_below"] * trans["beta_above"])
    (row,) = summarise(trans).itertuples()
    logs = np.log(trans["beta_c"])
    ratio = max(0.11 / 0.1, 0.13 / 0.12, 0.1 / 0.09)
    half = 4.302653 * logs.std(ddof=1) / math.sqrt(3) + 0.5 * math.log(ratio)
    assert row.n == 3 and row.n_below == row.n_above == 0
    assert row.beta_c == pytest.approx(math.exp(logs.mean()))
    assert (row.beta_c_lo, row.beta_c_hi) == pytest.approx((math.exp(logs.mean() - half),
                                                            math.exp(logs.mean() + half)), rel=1e-5)


@pytest.mark.parametrize(("changes", "field"), [({"ladder": []}, "betas"), ({"ladder": [0.1, 0.0]}, "betas"),
                                                 ({"ladder": [-1.0]}, "betas"), ({"seeds": [3]}, "seeds"),
                                                 ({"seeds": [1, 1]}, "seeds"), ({"lambdas": [-1e-3]}, "l2"),
                                                 ({"latent_dims": [3]}, "latent_dims"),
                                                 ({"run": {"beta": 1.0}}, "run")])
def test_bad_searches_are_refused_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        CollapseSearch(**changes)


@pytest.mark.parametrize("argv", [["--betas"], ["--betas", "0.1", "-0.5"], ["--betas", "0"], ["--seeds", "1"],
                                  ["--l2", "-1"], ["--steps", "0"], ["--workers", "0"],
                                  ["--scheduler", "tcp://127.0.0.1:8786"], ["--executor", "spark"]])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv):
    assert main(["collapse", "--out", str(tmp_path / "c"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def _count_trained(monkeypatch, fail_on_call: int | None = None) -> list[int]:
    """Count the runs the engine trains (one entry per training call); with ``fail_on_call``, that call
    is interrupted (as a Ctrl-C would) before it trains, once."""
    import vaebench.execution.tasks as tasks

    calls, real, armed = [], tasks.train, [fail_on_call]

    def train(cfgs, **kwargs):
        if armed[0] is not None and len(calls) + 1 == armed[0]:
            armed[0] = None
            raise KeyboardInterrupt
        calls.append(len(cfgs))
        return real(cfgs, **kwargs)

    monkeypatch.setattr(tasks, "train", train)
    return calls


CLI_SEARCH = ["--latent-dims", "1", "--l2", "0", "--betas", "0.05", "2", "--seeds", "2", "--rounds", "1",
              "--points", "1", "--steps", "100", "--hidden", "4", "--n-eval", "200"]


def test_cli_writes_runs_summary_and_a_study_per_round_and_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "c"
    argv = ["collapse", "--out", str(out), *CLI_SEARCH]
    trained = _count_trained(monkeypatch)
    assert main(argv) == 0
    runs, summary = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "summary.csv")
    assert set(runs["round"]) == {0, 1} and len(runs[runs["round"] == 0]) == 2 * 2
    assert (runs.groupby("beta")["seed"].nunique() == 2).all()  # every β for every seed
    assert list(summary["level"]) == [1]
    assert "d = 1, λ = 0" in capsys.readouterr().out
    assert sum(trained) == len(runs) and runs["run_id"].is_unique
    for rnd, rows in runs.groupby("round"):  # each round is a study holding exactly its runs
        stored = store.load_results(out / f"round-{rnd}")
        assert list(stored["run_id"]) == list(rows["run_id"])
        assert list(stored["active_units"]) == list(rows["active"])
        assert list(stored["kl_total"]) == list(rows["kl_total"])
        # from the stored arrays: the KL per dimension adds up to the stored total; the error of decode(z)
        # is twice the stored per-coordinate one (recon_var_fitted, the suite's own computation)
        assert rows["kl_dim_0"].to_numpy() == pytest.approx(stored["kl_total"].to_numpy(), rel=1e-5)
        assert rows["error"].to_numpy() == pytest.approx(2 * stored["recon_var_fitted"].to_numpy(), rel=1e-6)
        assert (rows["error_se"] > 0).all() and (rows["error_se"] < 0.1 * rows["error"]).all()
    # the same search again trains nothing and writes the same tables
    before = [(out / n).read_bytes() for n in ("runs.csv", "summary.csv")]
    trained.clear()
    assert main(argv) == 0
    assert trained == [] and [(out / n).read_bytes() for n in ("runs.csv", "summary.csv")] == before


def test_an_interrupted_search_resumes_losing_only_the_runs_in_flight(tmp_path, monkeypatch):
    spec = CollapseSearch(latent_dims=(1,), lambdas=(0.0,), ladder=(0.05, 0.5, 5.0), seeds=(0, 1), rounds=2,
                          points=1, n_eval=200, run={"steps": 60, "hidden": [], "n_train": 300})
    whole = search(spec, tmp_path / "whole", shard_size=2, threads=1)  # one shard of 2 runs a unit
    # interrupted in round 0's third shard: its first two shards stay stored, the one in flight is lost
    calls = _count_trained(monkeypatch, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        search(spec, tmp_path / "cut", shard_size=2, threads=1)
    stored = sum(len(store.load_results(d)) for d in (tmp_path / "cut").glob("round-*"))
    assert stored == sum(calls) == 4 < len(whole[whole["round"] == 0])
    calls.clear()
    resumed = search(spec, tmp_path / "cut", shard_size=2, threads=1)
    assert sum(calls) == len(whole) - stored  # nothing stored trains again
    pd.testing.assert_frame_equal(resumed, whole)
    pd.testing.assert_frame_equal(summarise(transitions(resumed)), summarise(transitions(whole)))


@pytest.mark.slow
def test_a_search_on_dask_writes_the_local_search_tables(tmp_path):
    search_args = ["--latent-dims", "2", "1", "--l2", "0", "--betas", "0.05", "0.5", "--seeds", "2",
                   "--rounds", "1", "--points", "1", "--steps", "60", "--hidden", "--n-eval", "200",
                   "--quiet"]
    assert main(["collapse", "--out", str(tmp_path / "local"), *search_args]) == 0
    assert main(["collapse", "--out", str(tmp_path / "dask"), *search_args, "--executor", "dask",
                 "--workers", "2"]) == 0
    runs = pd.read_csv(tmp_path / "local" / "runs.csv")
    assert set(runs["round"]) == {0, 1} and len(runs) > 2 * 2 * 2
    for rnd in (0, 1):  # each round trained on its executor
        for executor in ("local", "dask"):
            timings = json.loads((tmp_path / executor / f"round-{rnd}" / "timings.json").read_text())
            assert timings["executor"] == executor and timings["runs"] == (runs["round"] == rnd).sum()
    for name in ("runs.csv", "summary.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_linear_vae_collapses_at_the_closed_form_beta_all_directions_at_once(tmp_path):
    # ladder chosen so that no trained β lies within 20 % of β_c = 1/6, where convergence slows down
    spec = CollapseSearch(latent_dims=(2, 1), lambdas=(0.0,), ladder=(0.04, 0.12, 0.36), seeds=(0, 1),
                          rounds=1, points=1, n_eval=2000,
                          run={"hidden": [], "lr": 2e-2, "steps": 3000, "batch_size": 256, "n_train": 5000})
    trans = transitions(search(spec, tmp_path))
    bc = linear_vae_critical_beta(0.5)
    assert len(trans) == 2 * 2 + 2 * 1
    assert (trans["beta_below"] < bc).all() and (trans["beta_above"] > bc).all()
    d2 = trans[trans["latent_dim"] == 2].pivot(index="seed", columns="level", values="beta_c")
    assert (d2[1] == d2[2]).all()  # both directions of the square collapse at once
    summary = summarise(trans)
    assert ((summary["beta_c_lo"] < bc) & (bc < summary["beta_c_hi"])).all()


def _simulated_search(monkeypatch, critical: dict[int, float], **spec) -> pd.DataFrame:
    """search() where a run keeps its one direction iff β < its seed's critical β (each round's study and
    measuring replaced by that rule): the refinement alone decides which β are tried."""
    import vaebench.collapse

    def measure(results, study_dir):
        return pd.DataFrame([{"latent_dim": c.latent_dim, "l2": c.l2, "beta": c.beta, "seed": c.seed,
                              "status": "ok", "active": float(c.beta < critical[c.seed])} for c in results])

    monkeypatch.setattr(vaebench.collapse, "run_study", lambda grid, out, **kw: grid.configs())
    monkeypatch.setattr(vaebench.collapse, "measure", measure)
    return search(CollapseSearch(latent_dims=(1,), lambdas=(0.0,), seeds=tuple(critical), run={"steps": 10},
                                 **spec), "unused")


@pytest.mark.parametrize("critical", [{0: 0.02, 1: 0.5}, {0: 0.5, 1: 0.02, 2: 0.05}, {0: 0.3, 1: 0.3}])
def test_every_seeds_bracket_narrows_every_round_when_seeds_have_different_brackets(monkeypatch, critical):
    """Seeds whose transitions lie in different brackets of the ladder: each round must train a β inside
    each seed's bracket, so each bracket narrows round after round and keeps the seed's critical β."""
    rounds = 4
    runs = _simulated_search(monkeypatch, critical, ladder=(0.01, 0.1, 1.0), rounds=rounds, points=2)
    assert sorted(runs["round"].unique()) == list(range(rounds + 1))  # no round found nothing to try
    assert not runs.duplicated(["beta", "seed"]).any()  # a β tried once is not tried again
    ratios = []
    for rnd in range(rounds + 1):
        t = transitions(runs[runs["round"] <= rnd]).set_index("seed")
        for seed, beta_c in critical.items():
            assert t.loc[seed, "beta_below"] < beta_c <= t.loc[seed, "beta_above"], (rnd, seed)
        ratios.append((t["beta_above"] / t["beta_below"]).to_numpy())
    for before, after in zip(ratios[:-1], ratios[1:], strict=True):  # every seed's bracket, every round
        assert (np.log(after) <= 0.7 * np.log(before)).all(), (before, after)
    assert max(ratios[-1]) < 1.25
