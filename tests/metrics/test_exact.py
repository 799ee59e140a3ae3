"""Exact inference (vaebench.metrics.exact) against closed forms, on both metric routes, d = 1 and 2.

References: the linear-Gaussian decoder's p(x) = N(b, WWᵀ + σ²I) and posterior (scipy's multivariate
normal), the linear VAE's ELBO in closed form, the aggregate posterior's KL by an independent Monte Carlo
estimate with its standard error, IWAE_k (Burda et al. 2016) of vaebench.metrics.likelihood_bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.conftest import requires_cuda
from vaebench import closed_forms
from vaebench.closed_forms import LinearGaussianVAE, linear_decoder_log_px, orthogonal_decoder
from vaebench.metrics import exact as exact_mod
from vaebench.metrics import likelihood_bounds
from vaebench.metrics._quadrature import mixture_logsum
from vaebench.metrics.exact import exact_inference

B = np.array([0.5, 0.5])
TOL = 1e-4  # nats: the closed forms' agreement the issue asks for


def points(n: int = 300, seed: int = 0) -> np.ndarray:
    # float32-representable points: the model sees float32 tensors, the closed forms these same numbers
    return np.random.default_rng(seed).random((n, 2)).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("recon_var", [0.5, 0.05])
def test_log_px_and_a_true_posterior_match_the_linear_gaussian_closed_forms(d, recon_var, metrics_route):
    w = orthogonal_decoder(d)
    x = points()
    vae = LinearGaussianVAE.true_posterior(w, B, recon_var)
    out = exact_inference(vae, x, recon_var)
    truth = float(np.mean(linear_decoder_log_px(w, B, recon_var, x)))
    assert out["log_px"] == pytest.approx(truth, abs=TOL)
    # q(z|x) = p(z|x): the ELBO is log p(x), the posterior gap KL(q ‖ p(z|x)) is 0
    assert out["elbo"] == pytest.approx(truth, abs=TOL)
    assert abs(out["posterior_gap"]) < TOL
    assert out["elbo"] == pytest.approx(float(np.mean(vae.elbo(x, recon_var))), abs=1e-6)
    assert out["quadrature_error"] < 1e-3 and out["exact_n"] == len(x) and out["reason"] == ""


@pytest.mark.parametrize("d", [1, 2])
def test_elbo_of_a_mismatched_encoder_matches_its_closed_form(d, metrics_route):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.4, (2, d))  # columns not orthogonal: the posterior is not diagonal
    vae = LinearGaussianVAE(w, B, rng.normal(0, 2.0, (d, 2)), rng.normal(0, 0.3, d), np.log([0.05, 0.3][:d]))
    x = points(seed=2)
    out = exact_inference(vae, x, 0.5)
    assert out["elbo"] == pytest.approx(float(np.mean(vae.elbo(x, 0.5))), abs=1e-5)
    assert out["log_px"] == pytest.approx(float(np.mean(linear_decoder_log_px(w, B, 0.5, x))), abs=TOL)
    assert out["posterior_gap"] > 0.01  # a KL to a non-diagonal posterior: strictly positive


def _mixture_kl_monte_carlo(mu: np.ndarray, std: np.ndarray, draws: int, seed: int) -> tuple[float, float]:
    """KL(q ‖ N(0, I)) of q = (1/n) Σ N(μᵢ, diag σᵢ²) by sampling q, log q(z) by logsumexp: (mean, s.e.)."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    comp = rng.integers(len(mu), size=draws)
    z = mu[comp] + std[comp] * rng.standard_normal((draws, mu.shape[1]))
    log_q = logsumexp(norm.logpdf(z[:, None, :], mu[None], std[None]).sum(-1), axis=1) - math.log(len(mu))
    terms = log_q - norm.logpdf(z).sum(-1)
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(draws))


@pytest.mark.parametrize("d", [1, 2])
def test_elbo_surgery_against_an_independent_monte_carlo_kl(d, metrics_route):
    # E KL(q(z|x) ‖ p) = I(x; z) + KL(q(z) ‖ p) (Hoffman & Johnson 2016): the marginal KL by sampling q(z)
    rng = np.random.default_rng(3)
    w = orthogonal_decoder(d)
    vae = LinearGaussianVAE(w, B, rng.normal(0, 2.5, (d, 2)), np.zeros(d), np.log([0.02, 0.1][:d]))
    x = points(200, seed=4)
    out = exact_inference(vae, x, 0.5)
    mu, logvar = (t.double().numpy() for t in vae.encode(torch.from_numpy(x.astype(np.float32))))
    mc, se = _mixture_kl_monte_carlo(mu, np.exp(0.5 * logvar), 100_000, seed=5)
    assert abs(out["marginal_kl"] - mc) < 4 * se + 1e-4, (out["marginal_kl"], mc, se)
    rate = float(np.mean(0.5 * np.sum(mu ** 2 + np.exp(logvar) - 1 - logvar, axis=1)))
    assert out["kl"] == pytest.approx(rate, rel=1e-6)
    assert out["mutual_information"] + out["marginal_kl"] == pytest.approx(rate, abs=1e-12)
    assert 0 < out["mutual_information"] <= math.log(len(x))


def test_mutual_information_reaches_ln_n_for_separated_components(metrics_route):
    # n narrow components far apart: q(z) has n disjoint bumps, I(x; z) = ln n exactly
    centres = np.linspace(-4, 4, 9)
    x = np.column_stack([centres / 8 + 0.5, np.full(9, 0.5)])
    vae = LinearGaussianVAE(np.zeros((2, 1)), B, np.array([[8.0, 0.0]]), np.zeros(1), np.log([0.01 ** 2]))
    out = exact_inference(vae, x, 0.5)
    assert out["mutual_information"] == pytest.approx(math.log(9), abs=1e-4)


@pytest.mark.parametrize("d", [1, 2])
def test_a_collapsed_linear_vae_has_zero_marginal_kl_and_mutual_information(d, metrics_route):
    vae = LinearGaussianVAE.collapsed(B, d)  # above β_c: W = 0, q(z|x) = N(0, I) for every x
    x = points(seed=6)
    out = exact_inference(vae, x, 0.5)
    assert abs(out["marginal_kl"]) < 1e-6 and abs(out["mutual_information"]) < 1e-6
    assert out["kl"] == 0.0 and abs(out["posterior_gap"]) < 1e-6
    truth = -math.log(2 * math.pi * 0.5) - float(np.mean(np.sum((x - B) ** 2, axis=1)))
    assert out["log_px"] == pytest.approx(truth, abs=1e-6)


@pytest.mark.parametrize("d", [1, 2])
def test_iwae_rises_towards_the_exact_log_px_and_never_above_it(d):
    w = orthogonal_decoder(d, scales=(0.4, 0.25))
    s, k = closed_forms.linear_decoder_posterior(w, 0.5)
    # the posterior's mean, a quarter of its variance: IWAE's gap closes as k grows
    vae = LinearGaussianVAE(w, B, k, np.zeros(d), np.log(np.diag(s) / 4))
    x = points(500, seed=7)
    exact = exact_inference(vae, x, 0.5)["log_px"]
    assert exact == pytest.approx(float(np.mean(linear_decoder_log_px(w, B, 0.5, x))), abs=TOL)
    iwae = {k: np.array([likelihood_bounds(vae, x, k=k, seed=seed).iwae for seed in range(3)])
            for k in (1, 8, 64, 1024)}
    means = [v.mean() for v in iwae.values()]
    assert all(a < b for a, b in zip(means, means[1:], strict=False)), means
    for k, v in iwae.items():  # Monte Carlo error: spread over three seeds, plus a floor
        assert v.mean() <= exact + 4 * v.std(ddof=1) + 1e-3, (k, v, exact)
    assert exact - means[-1] < 0.2 * (exact - means[0])


@pytest.mark.parametrize("d", [1, 2])
def test_a_planted_narrow_posterior_refines_or_raises_the_error_estimate(d, metrics_route, monkeypatch):
    w = orthogonal_decoder(d)
    x = points(100, seed=8)
    wide = exact_inference(LinearGaussianVAE(w, B, 2.0 * w.T, np.zeros(d), np.full(d, math.log(0.1))), x, 0.5)
    narrow_vae = LinearGaussianVAE(w, B, 2.0 * w.T, np.zeros(d), np.full(d, math.log(1e-5)))
    narrow = exact_inference(narrow_vae, x, 0.5)
    assert narrow["posterior_nodes"] > wide["posterior_nodes"]  # refined
    assert narrow["elbo"] == pytest.approx(float(np.mean(narrow_vae.elbo(x, 0.5))), abs=1e-4)
    # with the grid capped far too coarse, the estimate must say so: never silently wrong
    monkeypatch.setattr(exact_mod, "MAX_INTERVALS", 16)
    capped = exact_inference(narrow_vae, x, 0.5)
    actual = max(abs(capped["elbo"] - narrow["elbo"]), abs(capped["marginal_kl"] - narrow["marginal_kl"]))
    assert capped["quadrature_error"] > 1e-2 and capped["quadrature_error"] >= actual


def test_a_sharp_decoder_refines_the_prior_grid(metrics_route):
    w = orthogonal_decoder(2, scales=(0.3, 0.3))
    x = points(100, seed=9)
    smooth = exact_inference(LinearGaussianVAE.true_posterior(w, B, 0.5), x, 0.5)
    sharp_var = 2e-3
    sharp = exact_inference(LinearGaussianVAE.true_posterior(w, B, sharp_var), x, sharp_var)
    assert sharp["log_px_nodes"] > smooth["log_px_nodes"]
    truth = float(np.mean(linear_decoder_log_px(w, B, sharp_var, x)))
    assert abs(sharp["log_px"] - truth) <= max(sharp["log_px_error"], TOL)


def test_a_deterministic_encoder_gives_nan_with_a_reason_and_still_log_px():
    w = orthogonal_decoder(2)
    vae = LinearGaussianVAE(w, B, w.T, np.zeros(2), np.full(2, -np.inf))
    x = points(100, seed=10)
    out = exact_inference(vae, x, 0.5)
    for key in ("elbo", "posterior_gap", "kl", "marginal_kl", "mutual_information"):
        assert math.isnan(out[key]), key
    assert "deterministic" in out["reason"]
    assert out["log_px"] == pytest.approx(float(np.mean(linear_decoder_log_px(w, B, 0.5, x))), abs=TOL)


def test_bad_input_is_a_short_error():
    vae = LinearGaussianVAE(np.zeros((2, 3)), B, np.zeros((3, 2)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="latent dimension 1 or 2"):
        exact_inference(vae, points(10), 0.5)
    with pytest.raises(ValueError, match="recon_var"):
        exact_inference(LinearGaussianVAE.collapsed(B, 2), points(10), -1.0)
    with pytest.raises(ValueError, match="model"):
        exact_inference(object(), points(10), 0.5)


def test_mixture_logsum_routes_agree_with_a_direct_sum(monkeypatch):
    from scipy.special import logsumexp

    from vaebench import cpu_kernel

    rng = np.random.default_rng(11)
    x, c, lw = rng.random((50, 2)), rng.random((103, 2)), rng.normal(size=103)
    direct = logsumexp(lw[None] - 3.0 * ((x[:, None] - c[None]) ** 2).sum(-1), axis=1)
    far = mixture_logsum(x + 100.0, c, lw, 3.0)  # every term underflows alone: the maximum is factored out
    assert np.all(np.isfinite(far))
    if cpu_kernel.load() is not None:
        np.testing.assert_allclose(mixture_logsum(x, c, lw, 3.0), direct, rtol=1e-13)
    monkeypatch.setenv(cpu_kernel.ENV, "torch")
    np.testing.assert_allclose(mixture_logsum(x, c, lw, 3.0), direct, rtol=1e-13)
    np.testing.assert_allclose(mixture_logsum(x + 100.0, c, lw, 3.0), far, rtol=1e-13)


def test_closed_form_helpers_agree_with_each_other():
    # the posterior of the closed form and Bayes' rule on a grid agree (d = 1): S, K of N(K(x − b), S)
    w = np.array([[0.6], [0.2]])
    s, k = closed_forms.linear_decoder_posterior(w, 0.5)
    x = np.array([0.9, 0.1])
    z = np.linspace(-8, 8, 20001)
    log_post = -0.5 * z ** 2 - ((x[None] - z[:, None] * w[:, 0] - B) ** 2).sum(1) / (2 * 0.5)
    p = np.exp(log_post - log_post.max())
    p /= p.sum()
    mean = float(np.sum(p * z))
    assert mean == pytest.approx(float((k @ (x - B))[0]), rel=1e-8)
    assert float(np.sum(p * (z - mean) ** 2)) == pytest.approx(float(s[0, 0]), rel=1e-8)


def test_a_posterior_between_the_nodes_is_flagged_by_the_grid_mass(monkeypatch):
    # two components 2 apart, σ = 0.01, on 16 intervals: every node lies ≥ 8σ from both means, so the
    # fine and the coarse grid both see q ≈ 0 and agree; only the grid's mass (≈ 0, not 1) shows the miss
    vae = LinearGaussianVAE(np.zeros((2, 1)), B, np.array([[4.0, 0.0]]), np.zeros(1), np.log([1e-4]))
    x = np.array([[0.25, 0.5], [0.75, 0.5]])
    resolved = exact_inference(vae, x, 0.5)
    assert resolved["mutual_information"] == pytest.approx(math.log(2), abs=1e-6)
    monkeypatch.setattr(exact_mod, "MAX_INTERVALS", 16)
    capped = exact_inference(vae, x, 0.5)
    actual = abs(capped["marginal_kl"] - resolved["marginal_kl"])
    assert actual > 0.1 and capped["marginal_kl_error"] >= actual


def _relu_vae(d: int, seed: int = 0) -> torch.nn.Module:
    """A small random ReLU encoder and decoder: kinks in x̂(z), so the grids' convergence is algebraic."""
    torch.manual_seed(seed)
    enc = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2 * d))
    dec = torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = enc, dec

        def encode(self, x):
            out = self.enc(x)
            return 3.0 * out[:, :d], out[:, d:] - 2.0  # means spread over the prior, σ ≈ 0.37

        def decode(self, z):
            return self.dec(z)

    return Model()


@pytest.mark.parametrize("d", [1, 2])
def test_on_a_relu_model_each_estimate_meets_its_tolerance_and_bounds_the_actual_error(d, metrics_route,
                                                                                      monkeypatch):
    model, x = _relu_vae(d), points(200, seed=12)
    out = exact_inference(model, x, 0.5, tol=1e-5)
    assert out["log_px_error"] <= 1e-5 + 1e-6 and out["elbo_error"] <= 1e-5
    assert out["marginal_kl_error"] <= 1e-5
    # the reference: 1024 intervals per dimension on both grids
    monkeypatch.setattr(exact_mod, "LOGPX_INTERVALS", (1024,))
    monkeypatch.setattr(exact_mod, "NODES_PER_SIGMA", 1e9)
    ref = exact_inference(model, x, 0.5)
    for key in ("log_px", "elbo", "marginal_kl"):
        err = f"{key}_error"
        assert abs(out[key] - ref[key]) <= out[err] + 1e-7, key


@requires_cuda
def test_a_model_on_cuda_gives_the_cpu_numbers():
    model, x = _relu_vae(2), points(200, seed=13)
    cpu = exact_inference(model, x, 0.5)
    gpu = exact_inference(model.cuda(), x, 0.5)
    for key in ("log_px", "elbo", "marginal_kl", "mutual_information"):
        assert gpu[key] == pytest.approx(cpu[key], abs=1e-5), key  # float32 decoders on two devices
