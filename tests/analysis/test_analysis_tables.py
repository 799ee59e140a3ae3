"""Seed-averaged tables: intervals against scipy.stats.t, summaries and configuration tables."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.tables import (
    METRICS,
    benchmark_table,
    config_table,
    lambda_beta_runs,
    modal_filter,
    representative_runs,
    seed_summary,
    t_interval,
)


@pytest.mark.parametrize("values", [[0.1, 0.4, 0.35], [1.0, 2.0], [3.0, 3.5, 2.5, 4.0, 10.0]])
def test_t_interval_equals_scipy(values):
    iv = t_interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert iv.n == len(values)
    assert iv.mean == pytest.approx(np.mean(values))
    assert (iv.lo, iv.hi) == pytest.approx((lo, hi), rel=1e-12)


def test_t_interval_other_confidence_and_nan_dropped():
    v = [1.0, 2.0, 4.0, float("nan"), float("inf")]
    iv = t_interval(v, confidence=0.9)
    lo, hi = stats.t.interval(0.9, 2, loc=7 / 3, scale=stats.sem([1.0, 2.0, 4.0]))
    assert iv.n == 3 and (iv.lo, iv.hi) == pytest.approx((lo, hi))


def test_t_interval_small_samples_and_bad_confidence():
    one = t_interval([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.lo) and math.isnan(one.hi)
    none = t_interval([])
    assert none.n == 0 and math.isnan(none.mean)
    with pytest.raises(ValueError, match="confidence = 1.5"):
        t_interval([1.0, 2.0], confidence=1.5)


def _study():
    rng = np.random.default_rng(0)
    rows = []
    for d in (2, 1):
        for lam in (0.0, 0.01):
            for beta in (0.01, 0.1):
                for seed in (0, 1, 2):
                    rows.append({"run_id": f"r{len(rows)}", "status": "ok", "variant": "vae", "latent_dim": d,
                                 "l2": lam, "beta": beta, "schedule": "constant", "steps": 300, "seed": seed,
                                 "hidden": "[30, 30]", METRICS["coverage"]: rng.random(),
                                 METRICS["mse"]: rng.random()})
    rows.append({**rows[0], "run_id": "bad", "status": "diverged", "seed": 9, METRICS["coverage"]: 1e9})
    return pd.DataFrame(rows)


def test_seed_summary_matches_groupwise_intervals_and_skips_diverged():
    df = _study()
    s = seed_summary(df, [METRICS["coverage"]], by=["latent_dim", "l2", "beta"])
    assert len(s) == 8 and set(s["n"]) == {3}
    cell = df[(df.latent_dim == 2) & (df.l2 == 0.0) & (df.beta == 0.1) & (df.status == "ok")]
    row = s[(s.latent_dim == 2) & (s.l2 == 0.0) & (s.beta == 0.1)].iloc[0]
    lo, hi = stats.t.interval(0.95, 2, loc=cell.recon_coverage.mean(), scale=stats.sem(cell.recon_coverage))
    assert (row["lo"], row["hi"]) == pytest.approx((lo, hi))
    with pytest.raises(ValueError, match="not in the results table"):
        seed_summary(df, ["no_such_metric"])


def test_config_table_one_row_per_configuration():
    t = config_table(_study())
    assert len(t) == 8
    # the varying config columns, n, then mean/lo/hi per metric present; constant columns left out
    assert list(t.columns[:4]) == ["latent_dim", "beta", "l2", "n"]
    assert "steps" not in t.columns and "variant" not in t.columns
    assert {"mse", "mse_lo", "mse_hi", "recon_coverage", "recon_coverage_lo"} <= set(t.columns)
    assert (t["n"] == 3).all()
    assert (t["recon_coverage_lo"] <= t["recon_coverage"]).all()


def test_modal_filter_and_representatives():
    df = _study()
    extra = df.iloc[:3].assign(run_id=["x1", "x2", "x3"], steps=999)
    grid = lambda_beta_runs(pd.concat([df, extra]), latent_dim=2)
    assert set(grid["steps"]) == {300} and len(grid) == 12  # the odd steps value is not the mode
    reps = representative_runs(grid, ["l2", "beta"])
    assert len(reps) == 4 and set(reps["seed"]) == {0}
    assert modal_filter(df, {"no_such_column": 1}, free=[]).empty


def test_benchmark_table_reads_extra_info():
    doc = {"benchmarks": [
        {"name": "test_engine[128]", "group": "train", "fullname": "bench/x.py::test_engine[128]",
         "param": "128", "stats": {"median": 0.5, "ops": 2.0},
         "extra_info": {"model_steps_per_s": 25000.0, "ratio": 31.0, "note": "text is dropped"}},
        {"name": "test_loop", "stats": {"median": 1.0, "ops": 1.0}}]}
    t = benchmark_table(doc)
    assert list(t["name"]) == ["test_engine[128]", "test_loop"]
    assert t.loc[0, "model_steps_per_s"] == 25000.0 and math.isnan(t.loc[1, "model_steps_per_s"])
    assert "note" not in t.columns
    assert benchmark_table({}).empty


def test_config_table_prints_lambda_times_batch_beside_lambda():
    t = config_table(_study().assign(batch_size=128))
    assert list(t.columns[:5]) == ["latent_dim", "beta", "l2", "l2_times_batch", "n"]
    assert (t["l2_times_batch"] == t["l2"] * 128).all() and t["l2_times_batch"].max() == pytest.approx(1.28)


@pytest.mark.parametrize("order_seed", [0, 1, 2])
def test_representative_run_is_the_ok_run_with_the_smallest_seed_whatever_the_row_order(order_seed):
    """Rows shuffled (not in seed order), seeds whose text order differs from their numeric order (10 < 9
    as text), a diverged run with the cell's smallest seed, and a cell without seed 0: each cell's
    representative is its ok run of the smallest seed, found here by brute force."""
    rows = []
    for lam in (0.0, 1e-3):
        for beta in (0.01, 0.1, 1.0):
            for seed in (10, 9, 3, 2, 0) if beta != 1.0 else (12, 5, 30):
                rows.append({"run_id": f"r{len(rows)}", "status": "ok", "variant": "vae", "latent_dim": 2,
                             "l2": lam, "beta": beta, "seed": seed, "mse": float(len(rows))})
    rows.append({**rows[0], "run_id": "dead", "status": "diverged", "seed": -1, "beta": 0.1})  # smallest
    rows.append({**rows[0], "run_id": "dead2", "status": "diverged", "seed": 1, "beta": 1.0})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=order_seed).reset_index(drop=True)
    assert not df["seed"].is_monotonic_increasing

    reps = representative_runs(df, ["l2", "beta"])
    expected = {}
    for r in df[df["status"] == "ok"].itertuples():
        key = (r.l2, r.beta)
        if key not in expected or r.seed < expected[key][0]:
            expected[key] = (r.seed, r.run_id)
    assert [(r.l2, r.beta) for r in reps.itertuples()] == sorted(expected)  # sorted by the cell columns
    assert {(r.l2, r.beta): (r.seed, r.run_id) for r in reps.itertuples()} == expected
    assert set(reps["seed"]) == {0, 5}
