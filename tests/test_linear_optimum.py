"""A linear VAE (``hidden = []``) trained by vaebench reaches the closed-form β-VAE optimum on every route.

Closed form (vaebench.closed_forms.linear_vae_optimum): per direction of U[0, 1]² (ξ² = 1/12), σ² = 0.5,
the expected squared error of decode(z), z ~ q(z|x), is βσ² and the KL ½ ln(ξ²/(βσ²)) below the critical
β = 1/6; above it the direction collapses (error ξ², KL 0). Measured as vaebench measures every run: on
the run's held-out evaluation set (vaebench.evaluation.eval_arrays), KL by metrics.kl_per_dimension.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaebench import RunConfig, cpu_kernel, train
from vaebench.closed_forms import linear_vae_critical_beta, linear_vae_optimum
from vaebench.evaluation import eval_arrays
from vaebench.metrics import active_units, kl_per_dimension
from vaebench.variants import VARIANTS
from vaebench.variants.vae import VAE

BETAS = (0.05, 0.1, 0.25, 0.5)  # two below the critical β = 1/6, two above
# lr 2e-2 leaves the saddle of a collapsed second direction within the steps; B = 256 keeps Adam's
# jitter around the optimum at about 1-2 % of the error
LINEAR = dict(hidden=[], latent_dim=2, lr=2e-2, steps=3000, batch_size=256, n_train=20_000, seed=0)


class _AutogradVAE(VAE):
    """vae's loss, overridden alone, so it does not inherit vae's one statement of its terms: the general
    route (a user's PyTorch loss, autograd) even where the C kernel is built."""

    name = "vae_autograd_linear_test"

    def loss(self, inp):
        return super().loss(inp)


def _measure(result) -> tuple[float, float, int]:
    arrays = eval_arrays(result, n_eval=50_000)
    error = float(np.mean(np.sum((arrays["x"].astype(np.float64) - arrays["recon"]) ** 2, axis=1)))
    return error, float(np.sum(kl_per_dimension(arrays["mu"], arrays["logvar"]))), active_units(arrays["mu"])


def _check(results) -> None:
    assert linear_vae_critical_beta(0.5) == pytest.approx(1 / 6)
    for r in results:
        assert r.status == "ok"
        truth = linear_vae_optimum(r.config.beta, r.config.recon_var)
        error, kl, active = _measure(r)
        assert error == pytest.approx(truth["error"], rel=0.04), r.config.beta
        if truth["active"]:
            assert kl == pytest.approx(truth["kl"], rel=0.04), r.config.beta
        else:
            assert kl < 0.005, r.config.beta
        assert active == truth["active"]


@pytest.mark.parametrize(("route", "env", "own_loss"), [("fused", "auto", False), ("operators", "auto", True),
                                                        ("operators", "torch", False)])
def test_linear_vae_reaches_the_closed_form_optimum(monkeypatch, route, env, own_loss):
    if env == "auto" and cpu_kernel.load() is None:
        pytest.skip("no C compiler: the CPU kernel is not built")
    monkeypatch.setenv(cpu_kernel.ENV, env)
    variant = "vae"
    if own_loss:
        monkeypatch.setitem(VARIANTS, _AutogradVAE.name, _AutogradVAE())
        variant = _AutogradVAE.name
    results = train([RunConfig(variant=variant, beta=b, **LINEAR) for b in BETAS])
    assert {r.engine for r in results} == {route}
    _check(results)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_linear_vae_reaches_the_closed_form_optimum_on_cuda():
    _check(train([RunConfig(beta=b, device="cuda", **LINEAR) for b in BETAS]))


def test_a_one_dimensional_linear_latent_keeps_one_direction():
    results = train([RunConfig(beta=b, **{**LINEAR, "latent_dim": 1}) for b in (0.05, 0.5)])
    for r in results:
        truth = linear_vae_optimum(r.config.beta, latent_dim=1)
        error, kl, active = _measure(r)
        assert error == pytest.approx(truth["error"], rel=0.04)
        assert kl == pytest.approx(truth["kl"], rel=0.04, abs=0.005)
        assert active == truth["active"]
