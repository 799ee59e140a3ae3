"""σ-VAE (Rybkin, Daniilidis & Levine 2021) against independent truths: its objective computed by hand
(NumPy), and the linear σ-VAE's optimum in closed form.

The closed form. σ-VAE's objective of a model is the β-VAE loss Σⱼ(xⱼ − x̂ⱼ)²/(2σ²) + (D/2)·ln σ² + β·KL
(D = 2) minimised over σ² (at σ² = MSE), so its optimum over models is min over σ² of the linear β-VAE's
optimum at that σ² (vaebench.closed_forms.linear_vae_optimum). With a 1-D latent on U[0, 1]² (ξ² = 1/12
per direction) one direction is kept, with error βσ², and the other costs ξ²: the loss is
(βσ² + ξ²)/(2σ²) + ln σ² + (β/2)·ln(ξ²/(βσ²)), stationary at σ² = ξ²/(2 − β), where the MSE per coordinate,
(βσ² + ξ²)/2, is σ² itself, and KL = ½ ln((2 − β)/β); the direction is kept for β < 1. (A 2-D latent has no
such interior optimum below β = 1: the loss falls without bound as σ² → 0, and the floor stops it.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from vaebench import RunConfig, cpu_kernel, train
from vaebench.closed_forms import UNIFORM_VAR, linear_vae_optimum
from vaebench.evaluation import eval_arrays
from vaebench.losses import gaussian_recon, recon_of_mse
from vaebench.metrics import kl_per_dimension
from vaebench.variants import LossInputs, get_variant

RNG = np.random.default_rng(7)
X = RNG.random((3, 9, 2))
MU = RNG.normal(size=(3, 9, 2))
LOGVAR = RNG.normal(size=(3, 9, 2)) * 0.5
EPS = RNG.normal(size=(3, 9, 2))
BETA = np.array([0.1, 1.0, 3.0])
RECON_VAR = np.array([0.5, 0.2, 2.0])


def _loss(recon: np.ndarray) -> dict:
    t = torch.tensor
    z = MU + np.exp(0.5 * LOGVAR) * EPS
    return get_variant("sigma_vae").loss(LossInputs(t(X), t(recon), t(MU), t(LOGVAR), t(z), None, t(BETA),
                                                    t(RECON_VAR), {}, 0, 10))


def _by_hand(recon: np.ndarray) -> np.ndarray:
    """(D/2)·ln max(MSE, 10⁻⁶) + β·KL, from the formulas; D = 2, MSE per coordinate, batch mean."""
    mse = ((X - recon) ** 2).mean((1, 2))
    kl = (0.5 * (MU**2 + np.exp(LOGVAR) - 1 - LOGVAR)).sum(-1).mean(-1)
    return np.log(np.maximum(mse, 1e-6)) + BETA * kl


@pytest.mark.parametrize("scale", [0.3, 1e-5])  # MSE about 0.03, and about 10⁻¹¹: below the floor
def test_the_objective_is_half_d_log_mse_plus_beta_kl_up_to_a_constant(scale):
    recon = X + scale * RNG.normal(size=X.shape)
    got = _loss(recon)["total"].numpy()
    # the constant: (D/2)·ln(D/(2σ²)), from recon = D·MSE/(2σ²); it depends on σ² only, never on the model
    np.testing.assert_allclose(got, _by_hand(recon) + np.log(1.0 / RECON_VAR), rtol=1e-12, atol=1e-12)
    if scale < 1e-3:
        assert (((X - recon) ** 2).mean((1, 2)) < 1e-6).all()  # the case exercises the floor


def test_recon_of_mse_is_the_scale_of_the_recon_statistic():
    x, r = torch.tensor(X), torch.tensor(X + 0.1 * RNG.normal(size=X.shape))
    var = torch.tensor(RECON_VAR)
    mse = (x - r).square().mean((1, 2))
    torch.testing.assert_close(recon_of_mse(mse, 2, var), gaussian_recon(x, r, var), rtol=1e-13, atol=0)


def test_it_fits_its_recon_var_and_no_other_shipped_variant_does():
    from vaebench import list_variants

    assert [n for n in list_variants() if get_variant(n).fits_recon_var] == ["sigma_vae"]


def _linear_sigma_optimum(beta: float) -> float:
    """min over σ² of the linear β-VAE optimum's σ-VAE loss, 1-D latent, found numerically (no algebra)."""
    def loss(log_var: float) -> float:
        var = math.exp(log_var)
        opt = linear_vae_optimum(beta, var, latent_dim=1)
        return opt["error"] / (2 * var) + math.log(var) + beta * opt["kl"]

    found = minimize_scalar(loss, bounds=(math.log(1e-4), math.log(1.0)), method="bounded",
                            options={"xatol": 1e-10})
    return math.exp(found.x)


@pytest.mark.parametrize("beta", [0.1, 0.3, 0.5, 0.9])
def test_the_linear_sigma_vae_optimum_is_a_fixed_point_of_the_beta_vae(beta):
    """The closed form σ² = ξ²/(2 − β): the numerical minimum, and the β-VAE optimum at that σ² has an MSE
    per coordinate equal to σ² (σ-VAE's σ² is the MSE)."""
    var = UNIFORM_VAR / (2 - beta)
    assert _linear_sigma_optimum(beta) == pytest.approx(var, rel=1e-5)
    opt = linear_vae_optimum(beta, var, latent_dim=1)
    assert opt["active"] == 1 and opt["error"] / 2 == pytest.approx(var, rel=1e-12)
    assert opt["kl"] == pytest.approx(0.5 * math.log((2 - beta) / beta), rel=1e-12)


# the linear runs of tests/test_linear_optimum.py, with a 1-D latent: about 0.2 s for all
LINEAR = dict(hidden=[], latent_dim=1, lr=2e-2, steps=3000, batch_size=256, n_train=20_000)


@pytest.mark.parametrize("path", ["auto", "torch"])
def test_a_trained_linear_sigma_vae_reaches_the_closed_form(monkeypatch, path):
    """Its MSE of decode(z), z ~ q(z|x), on held-out points (the fitted σ²) is ξ²/(2 − β) within 2 %, and
    its KL ½ ln((2 − β)/β) within 5 %, on both CPU routes. A fixed-σ² vae (σ² = 0.5) at the same β
    reaches a different MSE (its own closed form), so the check tells the two objectives apart."""
    if path == "auto" and cpu_kernel.load() is None:
        pytest.skip("no C compiler: the CPU kernel is not built")
    monkeypatch.setenv(cpu_kernel.ENV, path)
    betas = (0.1, 0.3, 0.5)
    runs = train([RunConfig(variant=v, beta=b, seed=s, **LINEAR)
                  for v in ("sigma_vae", "vae") for b in betas for s in (0, 1)])
    for r in runs:
        assert r.status == "ok" and r.engine == ("fused" if path == "auto" else "operators")
        a = eval_arrays(r, n_eval=50_000)
        mse = float(np.mean((a["x"].astype(np.float64) - a["recon"]) ** 2))
        kl = float(np.sum(kl_per_dimension(a["mu"], a["logvar"])))
        b = r.config.beta
        if r.config.variant == "sigma_vae":
            want_mse, want_kl = UNIFORM_VAR / (2 - b), 0.5 * math.log((2 - b) / b)
        else:
            opt = linear_vae_optimum(b, r.config.recon_var, latent_dim=1)
            want_mse, want_kl = opt["error"] / 2, opt["kl"]
        assert mse == pytest.approx(want_mse, rel=0.02), r.config
        assert kl == pytest.approx(want_kl, rel=0.05, abs=5e-3), r.config
    for b in betas:  # the two objectives' optima differ by more than the tolerance
        sigma = UNIFORM_VAR / (2 - b)
        fixed = linear_vae_optimum(b, 0.5, latent_dim=1)["error"] / 2
        assert abs(sigma - fixed) > 0.1 * sigma


def test_the_history_logs_the_sigma_vae_total():
    """The logged total is the objective at the logged statistics (plus L2): ln recon + β·KL, D = 2."""
    (r,) = train([RunConfig(variant="sigma_vae", beta=0.2, l2=1e-3, steps=40, n_train=500, batch_size=32)])
    h = r.history
    np.testing.assert_allclose(h["total"], np.log(h["recon"]) + h["beta"] * h["kl"] + h["l2"], rtol=1e-5,
                               atol=1e-6)
