"""The suite's exact-inference columns and the fitted decoder variance (vaebench.metrics.suite)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaebench import RunConfig, train
from vaebench.closed_forms import LinearGaussianVAE, linear_decoder_log_px, orthogonal_decoder
from vaebench.data import quadrant
from vaebench.evaluation import eval_arrays, evaluate_run
from vaebench.metrics import evaluate, metric_names
from vaebench.metrics.exact import exact_inference
from vaebench.metrics.suite import EXACT_GROUP_KEYS, RECON_VAR_FLOOR
from vaebench.variants import get_variant

B = np.array([0.5, 0.5])


def arrays_of(model, n: int = 600, seed: int = 0) -> dict[str, np.ndarray]:
    """The suite's input arrays for ``model`` on n U[0, 1]² points (z = μ + σ·ε, recon = decode(z))."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2)).astype(np.float32)
    xt = torch.from_numpy(x)
    mu, logvar = model.encode(xt)
    z = mu + torch.exp(0.5 * logvar) * torch.from_numpy(rng.standard_normal(mu.shape).astype(np.float32))
    if not torch.isfinite(z).all():
        z = mu
    prior = torch.from_numpy(rng.standard_normal(mu.shape).astype(np.float32))
    out = {"x": x, "quadrant": quadrant(x), "mu": mu, "logvar": logvar, "z": z, "recon": model.decode(z),
           "recon_mean": model.decode(mu), "generated": model.decode(prior)}
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def linear():
    w = orthogonal_decoder(2)
    return w, LinearGaussianVAE.true_posterior(w, B, 0.5)


def test_exact_columns_follow_the_frozen_ones_and_match_the_closed_form(linear):
    w, vae = linear
    arrays = arrays_of(vae)
    m = evaluate(arrays, model=vae, recon_var=0.5, dataset="uniform")
    names = metric_names()
    assert names[-len(EXACT_GROUP_KEYS) - 1:] == ["recon_var_fitted", *EXACT_GROUP_KEYS]
    x = arrays["x"].astype(np.float64)  # 600 ≤ 1 000 points: all of them
    truth = float(np.mean(linear_decoder_log_px(w, B, 0.5, x)))
    assert m["exact_log_px"] == pytest.approx(truth, abs=1e-4)
    assert abs(m["exact_posterior_gap"]) < 1e-4 and m["exact_n"] == 600.0
    assert m["exact_data_kl"] == -m["exact_log_px"]  # the entropy of U[0, 1]² is 0
    assert m["exact_mi"] + m["exact_marginal_kl"] == pytest.approx(m["kl_total"], rel=1e-6)
    assert 0 < m["exact_quadrature_error"] < 1e-3
    # the ELBO by sampling (64 samples a point) agrees with the exact one to its Monte Carlo error
    assert m["elbo"] == pytest.approx(m["exact_elbo"], abs=0.02)
    assert m["exact_elbo"] <= m["iwae"] + 0.02 and m["iwae"] <= m["exact_log_px"] + 0.02


def test_exact_data_kl_needs_a_known_entropy(linear):
    _, vae = linear
    arrays = arrays_of(vae, 200)
    for dataset in (None, "ring", "gaussian_mixture"):
        assert math.isnan(evaluate(arrays, model=vae, dataset=dataset)["exact_data_kl"]), dataset
    m = evaluate(arrays, model=vae, dataset="checkerboard")  # area ½: entropy ln ½
    assert m["exact_data_kl"] == pytest.approx(math.log(2) - m["exact_log_px"], abs=1e-12)


def test_exact_columns_are_nan_without_a_model_or_for_d_above_2():
    vae3 = LinearGaussianVAE(np.full((2, 3), 0.1), B, np.full((3, 2), 0.5), np.zeros(3), np.zeros(3))
    arrays = arrays_of(vae3, 200)
    for model in (None, vae3):
        m = evaluate(arrays, model=model, dataset="uniform")
        assert all(math.isnan(m[k]) for k in EXACT_GROUP_KEYS), model
    assert np.isfinite(evaluate(arrays, model=vae3)["elbo"])


def test_a_deterministic_encoder_keeps_log_px_and_nans_the_rest():
    w = orthogonal_decoder(2)
    vae = LinearGaussianVAE(w, B, w.T, np.zeros(2), np.full(2, -np.inf))
    m = evaluate(arrays_of(vae, 200), model=vae, dataset="uniform")
    for key in ("exact_elbo", "exact_posterior_gap", "exact_marginal_kl", "exact_mi"):
        assert math.isnan(m[key]), key
    assert np.isfinite(m["exact_log_px"]) and m["exact_data_kl"] == -m["exact_log_px"]


def test_recon_var_fitted_is_the_floored_per_coordinate_mse_and_used_when_fitting(linear):
    w, vae = linear
    arrays = arrays_of(vae)
    x, recon = arrays["x"].astype(np.float64), arrays["recon"].astype(np.float64)
    fitted = float(np.mean((x - recon) ** 2))
    plain = evaluate(arrays, model=vae, recon_var=0.5)
    assert plain["recon_var_fitted"] == pytest.approx(fitted, rel=1e-12)
    fit = evaluate(arrays, model=vae, recon_var=0.5, fit_recon_var=True)
    assert fit["recon_var_fitted"] == plain["recon_var_fitted"]
    assert fit["exact_log_px"] == pytest.approx(exact_inference(vae, x, fitted)["log_px"], abs=1e-12)
    assert fit["exact_log_px"] == pytest.approx(float(np.mean(linear_decoder_log_px(w, B, fitted, x))),
                                                abs=1e-3)
    assert fit["elbo"] != plain["elbo"] and fit["iwae"] != plain["iwae"]
    for key in set(plain) - {"elbo", "iwae", *EXACT_GROUP_KEYS}:  # nothing else changes
        assert plain[key] == fit[key] or (math.isnan(plain[key]) and math.isnan(fit[key])), key
    exact = dict(arrays, recon=arrays["x"])  # a perfect reconstruction: the floor
    assert evaluate(exact, model=vae)["recon_var_fitted"] == RECON_VAR_FLOOR


def test_evaluate_run_fits_the_variance_for_variants_that_say_so(monkeypatch):
    (res,) = train([RunConfig(steps=60, n_train=500, hidden=(8,))])
    plain, _ = evaluate_run(res, 400)
    monkeypatch.setattr(type(get_variant("vae")), "fits_recon_var", True, raising=False)
    fitted, arrays = evaluate_run(res, 400)
    again = evaluate(eval_arrays(res, 400), model=res.model, recon_var=res.config.recon_var,
                     seed=fitted_seed(res), fit_recon_var=True, dataset="uniform")
    for key in again:
        assert fitted[key] == again[key] or (math.isnan(fitted[key]) and math.isnan(again[key])), key
    assert fitted["exact_log_px"] != plain["exact_log_px"]
    assert plain["exact_data_kl"] == -plain["exact_log_px"]


def fitted_seed(res) -> int:
    from vaebench.seeding import stream_seed

    return stream_seed(res.config.seed, "metrics")
