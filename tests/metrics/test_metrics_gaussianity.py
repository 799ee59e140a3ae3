"""The Gaussianity suite: nominal rejection rate on N(0, I), power, Holm, degenerate latents."""

import math

import numpy as np
import pytest

from vaebench.metrics import gaussianity, holm
from vaebench.metrics.gaussianity import GAUSSIANITY_KEYS

ALPHA = 0.05
SEEDS = 300


def _band(rate, trials=SEEDS, sigmas=3.5):
    half = sigmas * math.sqrt(rate * (1 - rate) / trials)
    return rate - half, rate + half


@pytest.fixture(scope="module")
def null_results():
    return [gaussianity(np.random.default_rng(s).standard_normal((200, 2)), ALPHA, seed=s)
            for s in range(SEEDS)]


def test_each_test_rejects_samples_of_the_prior_at_its_nominal_rate(null_results):
    def rate(key):
        return np.mean([r[key] <= ALPHA for r in null_results])

    # per-dimension tests: the minimum over 2 independent dimensions, so 1 − (1 − α)² nominally
    lo, hi = _band(1 - (1 - ALPHA) ** 2)
    for test in ("shapiro", "dagostino", "anderson", "ks"):
        assert lo <= rate(f"{test}_pvalue_min") <= hi, test
    lo, hi = _band(ALPHA)
    for key in ("mardia_skew_pvalue", "mardia_kurt_pvalue", "hz_pvalue"):
        assert lo <= rate(key) <= hi, key


def test_holm_verdict_rejects_the_prior_at_about_alpha_and_never_above(null_results):
    # Holm controls the family-wise rate at α under any dependence; the 11 tests are correlated, so the
    # rate lies a little below α (measured: 0.044 over 1 000 seeds)
    rejected = np.mean([r["rejected"] for r in null_results])
    assert 0.015 <= rejected <= _band(ALPHA)[1]
    assert all(r["n_tests"] == 11 for r in null_results)


def test_uniform_latent_is_rejected_with_a_large_effect():
    res = gaussianity(np.random.default_rng(1).random((2000, 2)))
    assert res["rejected"] == 1.0 and res["pvalue_holm"] < 1e-10
    assert res["hz_pvalue"] < 1e-10 and res["ks_pvalue_min"] < 1e-10
    assert res["energy_distance"] > 0.3


def test_gaussian_but_not_the_prior_is_rejected_only_by_ks_and_the_effect_sizes():
    z = 3.0 + 0.1 * np.random.default_rng(2).standard_normal((1000, 2))
    res = gaussianity(z)
    assert res["rejected"] == 1.0
    assert res["ks_pvalue_min"] < 1e-100
    assert min(res["shapiro_pvalue_min"], res["hz_pvalue"], res["mardia_kurt_pvalue"]) > 0.001
    # KL(N(3, 0.01) ‖ N(0, 1)) per dimension = ½(0.01 + 9 − 1 − ln 0.01) = 6.307
    assert res["moment_kl"] == pytest.approx(2 * 0.5 * (0.01 + 9 - 1 - math.log(0.01)), rel=0.02)


def test_collapsed_latent_constant_means_is_rejected_with_nan_for_the_undefined_tests():
    mu = np.full((1000, 2), 0.02)  # a collapsed encoder: μ(x) the same for every x
    res = gaussianity(mu)
    assert res["rejected"] == 1.0 and res["singular"] == 1.0
    assert res["ks_pvalue_min"] < 1e-100
    for key in ("shapiro_pvalue_min", "hz_pvalue", "mardia_skew_pvalue", "moment_kl"):
        assert math.isnan(res[key])
    assert res["n_tests"] == 2  # KS on both dimensions
    # float32 rounding jitter around a constant counts as constant too
    jitter = (0.3 + 1e-8 * np.random.default_rng(3).standard_normal((500, 2))).astype(np.float32)
    assert gaussianity(jitter)["singular"] == 1.0


def test_one_dimensional_latent_has_nan_multivariate_tests():
    res = gaussianity(np.random.default_rng(4).standard_normal(300))
    assert res["n_tests"] == 4
    for key in ("hz_statistic", "hz_pvalue", "mardia_skew_pvalue", "mardia_kurt_statistic"):
        assert math.isnan(res[key])
    assert not math.isnan(res["moment_kl"]) and not math.isnan(res["energy_distance"])


def test_keys_are_fixed_floats_and_pairwise_subsample_is_stated():
    res = gaussianity(np.random.default_rng(5).standard_normal((3000, 2)), max_pairwise_n=500)
    assert tuple(res) == GAUSSIANITY_KEYS
    assert all(isinstance(v, float) for v in res.values())
    assert res["n"] == 3000 and res["hz_n"] == 500 and res["energy_n"] == 500


def test_holm_adjusted_pvalues_by_hand():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, max(0.03·2, 0.03) = 0.06, max(0.04·1, 0.06) = 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.9, 0.01]) == pytest.approx([0.9, 0.02])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8·2 capped at 1, then monotone
    with pytest.raises(ValueError, match="pvalues"):
        holm([0.1, float("nan")])
