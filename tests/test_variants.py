"""Each variant's loss against a case computed by hand (NumPy, from the papers' formulas)."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import vaebench
from vaebench.losses import gaussian_kl, gaussian_recon
from vaebench.variants import LossInputs, Variant, get_variant, list_variants, register_variant

RNG = np.random.default_rng(0)
X = RNG.random((2, 6, 2))
R = RNG.random((2, 6, 2))
MU = RNG.normal(size=(2, 6, 2))
LOGVAR = RNG.normal(size=(2, 6, 2)) * 0.5
Z = RNG.normal(size=(2, 6, 2))
PRIOR = RNG.normal(size=(2, 6, 2))
BETA = np.array([0.1, 2.0])


def inputs(params=None, step=0, steps=100, stochastic=True):
    t = lambda a: torch.tensor(a)  # noqa: E731
    z = t(Z) if stochastic else t(MU)
    return LossInputs(t(X), t(R), t(MU), t(LOGVAR) if stochastic else None, z,
                      t(PRIOR), t(BETA), torch.tensor([0.5, 0.5], dtype=torch.float64),
                      {k: torch.tensor(v, dtype=torch.float64) for k, v in (params or {}).items()},
                      step, steps)


SSE = ((X - R) ** 2).sum(-1).mean(-1)  # recon with σ² = 0.5
KL_DIM = (0.5 * (MU**2 + np.exp(LOGVAR) - 1 - LOGVAR)).mean(1)  # [M, d]
KL = KL_DIM.sum(-1)


def mmd_ref(a, b, kernel):
    out = []
    for m in range(a.shape[0]):
        x, y = a[m], b[m]
        n = len(x)
        kxx = kernel(((x[:, None] - x[None]) ** 2).sum(-1))
        kyy = kernel(((y[:, None] - y[None]) ** 2).sum(-1))
        kxy = kernel(((x[:, None] - y[None]) ** 2).sum(-1))
        out.append((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                   - 2 * kxy.mean())
    return np.array(out)


def close(got, want):
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_registry_names():
    builtin = {"ae", "capacity", "free_bits", "infovae", "probit", "vae", "wae"}
    assert builtin <= set(list_variants())


def test_vae():
    out = get_variant("vae").loss(inputs())
    close(out["recon"], SSE)
    close(out["kl"], KL)
    close(out["total"], SSE + BETA * KL)


def test_ae_is_reconstruction_only():
    close(get_variant("ae").loss(inputs(stochastic=False))["total"], SSE)


@pytest.mark.parametrize("step,capacity", [(0, 0.0), (25, 2.5), (50, 5.0), (90, 5.0)])
def test_capacity_follows_burgess(step, capacity):
    p = {"c_max": np.array([5.0, 5.0]), "c_warmup": np.array([0.5, 0.5])}
    out = get_variant("capacity").loss(inputs(p, step=step, steps=100))
    close(out["total"], SSE + BETA * np.abs(KL - capacity))


def test_free_bits_floors_each_dimension():
    target = 0.8
    out = get_variant("free_bits").loss(inputs({"target": np.array([target, target])}))
    close(out["total"], SSE + BETA * np.maximum(KL_DIM, target).sum(-1))
    assert np.any(KL_DIM < target)  # the case exercises the floor


def test_infovae_adds_rbf_mmd():
    w = np.array([3.0, 10.0])
    out = get_variant("infovae").loss(inputs({"mmd_weight": w}))
    m = mmd_ref(Z, PRIOR, lambda s: np.exp(-s / (2 * 2)))
    close(out["mmd"], m)
    close(out["total"], SSE + BETA * KL + w * m)


def test_wae_uses_imq_mmd_on_the_means():
    out = get_variant("wae").loss(inputs(stochastic=False))
    m = mmd_ref(MU, PRIOR, lambda s: 4.0 / (4.0 + s))
    close(out["total"], SSE + BETA * m)


def test_probit_is_analytic_and_exact():
    (res,) = vaebench.train([vaebench.RunConfig(variant="probit")])
    x = torch.rand(1000, 2, generator=torch.Generator().manual_seed(0))
    mu, logvar = res.model.encode(x)
    torch.testing.assert_close(mu, torch.special.ndtri(x))
    assert torch.all(torch.isneginf(logvar))
    torch.testing.assert_close(res.model(x), x, atol=1e-6, rtol=0)


@dataclass(frozen=True)
class _L1Params:
    scale: float = 1.0


@register_variant
class _L1VAE(Variant):
    """A user's variant in one small class: L1 reconstruction. No change to the engine."""

    name = "test_l1vae"
    Params = _L1Params

    def loss(self, inp):
        recon = inp.params["scale"] * (inp.x - inp.recon).abs().sum(-1).mean(-1)
        kl = 0.5 * (inp.mu.square() + inp.logvar.exp() - 1 - inp.logvar).sum(-1).mean(-1)
        return {"recon": recon, "kl": kl, "total": recon + inp.beta * kl}


def test_a_new_variant_is_one_class_and_trains_by_name():
    assert "test_l1vae" in vaebench.list_variants()
    (res,) = vaebench.train([vaebench.RunConfig(variant="test_l1vae", steps=300, n_train=500, beta=0.01,
                                                params={"scale": 2.0})])
    h = res.history
    assert res.status == "ok" and h["recon"].iloc[-1] < h["recon"].iloc[0]


@pytest.mark.slow
def test_infovae_default_mmd_weight_keeps_both_latent_dimensions():
    # Zhao et al.'s weights were set against a 784-D reconstruction; at 2-D, weights of 10 or more
    # collapse the latent onto the prior (0 active units, Burda et al. 2016's 0.01 threshold).
    from vaebench.evaluation import eval_arrays
    from vaebench.metrics import active_units

    (res,) = vaebench.train([vaebench.RunConfig(variant="infovae", beta=0.01, steps=1500, batch_size=128)])
    assert res.config.params["mmd_weight"] == 1.0
    assert active_units(eval_arrays(res, 2000)["mu"]) == 2


@pytest.mark.parametrize("name", list_variants())
def test_closed_form_gradients_equal_autograd(name):
    """A variant that defines ``gradients`` (for speed) must give autograd's gradients of its ``loss``
    and the same terms; the others return None and are differentiated by the engine."""
    variant = get_variant(name)
    if not variant.trainable:
        return
    params = {k: 0.5 for k in variant.resolve_params({})}
    inp = inputs(params, step=10, steps=100, stochastic=variant.stochastic)
    recon_var = torch.tensor([0.5, 0.2], dtype=torch.float64)  # per-model σ² ≠ 0.5 exercises the scale
    inp.recon_var = recon_var
    closed = variant.gradients(inp)
    if closed is None:
        return
    terms, grads = closed
    names = ["mu", "z", "recon"] + (["logvar"] if variant.stochastic else [])
    leaves = {n: getattr(inp, n).clone().requires_grad_(True) for n in names}
    ref_terms = variant.loss(LossInputs(inp.x, leaves["recon"], leaves["mu"], leaves.get("logvar"),
                                        leaves["z"], inp.prior, inp.beta, recon_var, inp.params, inp.step,
                                        inp.steps))
    ref = torch.autograd.grad(ref_terms["total"].sum(), list(leaves.values()), allow_unused=True,
                              materialize_grads=True)
    for key in ref_terms:
        torch.testing.assert_close(terms[key], ref_terms[key].detach(), rtol=1e-12, atol=1e-12)
    for n, g in zip(leaves, ref, strict=True):
        got = grads.get(n)
        torch.testing.assert_close(torch.zeros_like(g) if got is None else got, g, rtol=1e-10, atol=1e-12)


def test_the_default_variant_has_closed_form_gradients():
    # the speed of every study rests on it (bench/RESULTS.md); losing it silently would be a regression
    assert get_variant("vae").gradients(inputs()) is not None


@pytest.mark.parametrize("name", list_variants())
def test_term_weights_restate_the_loss(name):
    """A variant that states its loss as weights of the standard terms (for the CPU kernel's fused step)
    must return those terms, in that order, and a total equal to their weighted sum, at every β."""
    variant = get_variant(name)
    if not variant.trainable:
        return
    params = {k: 0.5 for k in variant.resolve_params({})}
    inp = inputs(params, step=10, steps=100, stochastic=variant.stochastic)
    inp.recon_var = torch.tensor([0.5, 0.2], dtype=torch.float64)
    inp.beta = torch.tensor([0.3, 2.0], dtype=torch.float64)
    weights = variant.term_weights(inp.beta.unsqueeze(0), inp.params)  # the engine passes [steps, M]
    if weights is None:
        return
    terms = variant.loss(inp)
    assert list(terms) == [*weights, "total"]
    standard = {"recon": gaussian_recon(inp.x, inp.recon, inp.recon_var)}
    if variant.stochastic:
        standard["kl"] = gaussian_kl(inp.mu, inp.logvar)
    total = 0.0
    for key, w in weights.items():
        torch.testing.assert_close(terms[key], standard[key], rtol=1e-12, atol=1e-12)
        total = total + w.squeeze(0) * standard[key]
    torch.testing.assert_close(terms["total"], total, rtol=1e-12, atol=1e-12)


def test_the_default_variants_state_term_weights():
    # the fused CPU step (bench/RESULTS.md) rests on them; losing them silently would be a regression
    beta = torch.tensor([[0.1, 1.0]])
    assert list(get_variant("vae").term_weights(beta, {})) == ["recon", "kl"]
    assert list(get_variant("ae").term_weights(beta, {})) == ["recon"]
