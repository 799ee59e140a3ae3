"""The whole suite on runs: the probit reference passes and covers the square, collapse is visible,
broken arrays give NaN instead of crashes, and evaluate_run carries every column."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vaebench import RunConfig, TrainResult, train
from vaebench.data import quadrant
from vaebench.evaluation import eval_arrays, evaluate_run
from vaebench.metrics import evaluate, expected_coverage, metric_names, nan_metrics

CONTRACT = [
    "mse", "recon_coverage", "recon_density", "recon_occupancy", "recon_boundary_coverage",
    "recon_corner_coverage", "recon_sliced_wasserstein", "gen_coverage", "gen_density", "gen_occupancy",
    "gen_boundary_coverage", "gen_corner_coverage", "gen_sliced_wasserstein",
    *[f"{p}_{k}" for p in ("mu", "z") for k in (
        "n", "rejected", "moment_kl", "energy_distance", "hz_statistic", "hz_pvalue", "mardia_skew_statistic",
        "mardia_skew_pvalue", "mardia_kurt_statistic", "mardia_kurt_pvalue", "shapiro_pvalue_min",
        "ks_statistic_max")],
    "quadrant_knn_accuracy", "trustworthiness", "active_units", "kl_total", "kl_dim_min", "kl_dim_max",
    "elbo", "iwae",
]


@pytest.fixture(scope="module")
def probit():
    (res,) = train([RunConfig(variant="probit")])
    metrics, arrays = evaluate_run(res, 5000)
    return res, metrics, arrays


def test_probit_reference_passes_and_covers_the_square(probit):
    _, m, _ = probit
    assert m["z_rejected"] == 0.0 and m["mu_rejected"] == 0.0  # Φ⁻¹ of uniform points is N(0, I)
    assert abs(m["z_energy_distance"]) < 0.01 and m["z_moment_kl"] < 0.01
    # decode(z') for z' ~ N(0, I) is a fresh uniform sample: coverage as for two samples of the square
    assert m["gen_coverage"] == pytest.approx(expected_coverage(5000, 5000, 5), abs=0.015)
    assert m["recon_coverage"] > 0.999 and m["mse"] < 1e-10  # Φ(Φ⁻¹(x)) = x
    for key in ("recon_boundary_coverage", "recon_corner_coverage", "recon_occupancy", "gen_occupancy"):
        assert m[key] > 0.99, key
    assert m["gen_boundary_coverage"] > 0.9 and m["gen_corner_coverage"] > 0.85
    assert m["quadrant_knn_accuracy"] > 0.97 and m["trustworthiness"] > 0.99
    assert m["active_units"] == 2.0
    for key in ("kl_total", "kl_dim_max", "elbo", "iwae"):  # point-mass posterior: infinite KL
        assert math.isnan(m[key]), key


def test_evaluate_run_returns_every_contract_column_as_float(probit):
    _, m, arrays = probit
    assert set(CONTRACT) <= set(m)
    assert {"n_eval", "train_recon", "train_kl", "train_mmd", "train_total"} <= set(m)
    assert set(metric_names()) <= set(m)
    assert all(isinstance(v, float) for v in m.values())
    assert set(arrays) == {"x", "quadrant", "mu", "logvar", "z", "recon", "recon_mean", "generated"}


def test_diverged_run_gets_nan_metrics_without_evaluating(probit):
    res = probit[0]
    diverged = TrainResult(res.config, "diverged", pd.DataFrame(), res.model, 0.0, 10, "loss is NaN")
    m, _ = evaluate_run(diverged, 100)
    assert all(math.isnan(m[k]) for k in metric_names())
    assert m["n_eval"] == 100.0


def _synthetic_arrays(n=2000, seed=0, collapsed=False):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2)).astype(np.float32)
    mu = np.full((n, 2), 0.01) if collapsed else norm.ppf(x) * 0.9
    logvar = np.zeros((n, 2)) if collapsed else np.full((n, 2), np.log(0.19))
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((n, 2))
    return {"x": x, "quadrant": quadrant(x), "mu": mu, "logvar": logvar, "z": z,
            "recon": np.clip(x + 0.01 * rng.standard_normal((n, 2)), 0, 1), "recon_mean": x,
            "generated": rng.random((n, 2))}


def test_collapsed_latent_is_rejected_and_shows_no_active_units():
    # q(z|x) = N(0.01, 1) for every x: the means are one point, the samples are (almost) the prior
    m = evaluate(_synthetic_arrays(collapsed=True))
    assert m["mu_rejected"] == 1.0 and m["mu_singular"] == 1.0 and math.isnan(m["mu_hz_pvalue"])
    assert m["z_moment_kl"] < 0.01 and m["z_singular"] == 0.0
    assert m["active_units"] == 0.0
    assert m["kl_total"] == pytest.approx(2 * 0.5 * 0.01**2, rel=1e-6)  # ½μ² per dimension
    assert m["quadrant_knn_accuracy"] < 0.4  # the latent says nothing about x


def test_non_finite_arrays_blank_only_the_metrics_that_use_them():
    arrays = _synthetic_arrays()
    arrays["recon"][3, 0] = np.nan
    arrays["z"][5, 1] = np.inf
    m = evaluate(arrays)
    assert all(math.isnan(m[k]) for k in metric_names() if k.startswith(("recon_", "z_")))
    assert all(not math.isnan(m[k]) for k in ("mse", "gen_coverage", "mu_n", "mu_hz_pvalue", "kl_total"))


def test_small_evaluation_sets_leave_groups_that_need_more_points_nan():
    m = evaluate(_synthetic_arrays(n=15))
    assert math.isnan(m["mu_hz_pvalue"]) and math.isnan(m["trustworthiness"])
    assert not math.isnan(m["recon_coverage"]) and not math.isnan(m["kl_total"])


def test_same_inputs_and_seed_give_identical_numbers_tensors_accepted():
    import torch

    arrays = _synthetic_arrays()
    first = evaluate(arrays, seed=3)
    second = evaluate({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}, seed=3)
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] or (math.isnan(first[k]) and math.isnan(second[k])) for k in first)
    assert set(nan_metrics()) == set(first)


def test_missing_arrays_are_a_clear_error():
    arrays = _synthetic_arrays()
    del arrays["generated"]
    with pytest.raises(ValueError, match="generated"):
        evaluate(arrays)


@pytest.mark.slow
def test_a_trained_collapsed_vae_is_visible_in_the_metrics():
    # β = 20 nats per unit of squared error: encoding anything costs more than it saves, so q(z|x) → prior
    (res,) = train([RunConfig(beta=20.0, steps=300, n_train=2000)])
    m, arrays = evaluate_run(res, 2000)
    assert m["active_units"] == 0.0 and m["kl_total"] < 0.01
    assert m["mu_rejected"] == 1.0  # the means hardly move: far from N(0, I), whatever their shape
    assert m["mu_moment_kl"] > 5.0
    assert m["quadrant_knn_accuracy"] < 0.9 and m["recon_boundary_coverage"] < 0.2
    assert np.all(np.var(arrays["mu"], axis=0) < 0.01)


def test_eval_arrays_are_unchanged_by_the_suite(probit):
    res, _, arrays = probit
    again = eval_arrays(res, 5000)
    for key, value in arrays.items():
        np.testing.assert_array_equal(value, again[key])
