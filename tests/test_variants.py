"""Each variant's loss against a case computed by hand (NumPy, from the papers' formulas)."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import vaebench
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
    builtin = {"ae", "capacity", "free_bits", "infovae", "probit", "sigma_vae", "vae", "wae"}
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


@pytest.mark.parametrize("name", [n for n in list_variants() if not n.startswith("test_")])
def test_every_shipped_variant_states_its_objective_once_as_terms(name):
    """The fused CPU step (bench/RESULTS.md) rests on it: a shipped variant that fell back to a PyTorch
    loss would silently train at a twentieth of the speed."""
    from vaebench.objective import stated_by_terms

    variant = get_variant(name)
    assert stated_by_terms(type(variant))


def test_a_variant_with_its_own_loss_trains_on_the_general_route():
    (res,) = vaebench.train([vaebench.RunConfig(variant="test_l1vae", steps=20, n_train=100, batch_size=8)])
    assert res.engine == "operators"


@pytest.mark.parametrize("bad", ["entropy", "kl_on_a_deterministic_encoder", "two_mmd_kernels", "floor",
                                 "log_without_floor", "log_with_a_negative_floor"])
def test_malformed_terms_are_refused_naming_the_variant(bad):
    from vaebench import objective
    from vaebench.objective import Term

    class Bad(Variant):
        name = "bad"
        stochastic = bad != "kl_on_a_deterministic_encoder"
        needs_prior = True

        def terms(self, c):
            return {"entropy": [Term("entropy", c.beta)], "kl_on_a_deterministic_encoder": [Term("kl")],
                    "two_mmd_kernels": [Term("mmd_rbf"), Term("mmd_imq")],
                    "floor": [Term("recon", shape="ceiling")],
                    "log_without_floor": [Term("recon", 1.0, "log")],
                    "log_with_a_negative_floor": [Term("recon", 1.0, "log", torch.tensor([1e-6, -1.0]))]}[bad]

    with pytest.raises(ValueError, match="variant 'bad': terms"):
        objective.table(Bad(), torch.ones(3, 2), {}, 3)
