"""The fused CPU step against autograd of the one statement of each objective, and the frozen-model rule.

The reference is independent of the kernel: the public batch-major :func:`vaebench.model.mlp` in float64,
the statistics of :mod:`vaebench.losses` and the variant's terms evaluated by PyTorch
(:func:`vaebench.objective.evaluate`), differentiated by autograd. The kernel's gradient is read from
Adam's first moment after one step with β₁ = 0 (m = g exactly).
"""

import pytest
import torch

from vaebench import RunConfig, cpu_kernel, objective, train
from vaebench.group import GroupState
from vaebench.model import mlp
from vaebench.routes import FusedRoute
from vaebench.variants import get_variant

lib = cpu_kernel.load()
needs_kernel = pytest.mark.skipif(lib is None, reason="no C compiler: the CPU kernel is not built here")
SHIPPED = ["vae", "ae", "capacity", "free_bits", "infovae", "wae", "sigma_vae"]


def _state(variant: str, m: int, d: int, batch: int, hidden=(7, 5), **kw) -> GroupState:
    settings = [dict(beta=0.3), dict(beta=2.0, l2=1e-2, recon_var=0.2), dict(beta=0.05, l2=1e-3)]
    cfgs = [RunConfig(variant=variant, latent_dim=d, batch_size=batch, hidden=hidden, n_train=200, steps=50,
                      seed=s, **{**settings[s % 3], **kw}) for s in range(m)]
    v = get_variant(variant)
    return GroupState(cfgs, v, FusedRoute.train_layout(v, cfgs[0]))


def _draws(state: GroupState, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    m, b, d = state.m, state.batch, state.d
    x = torch.rand(m, b, 2, generator=gen)
    noise = torch.randn(m, b, d, generator=gen) if state.variant.stochastic else None
    prior = torch.randn(m, b, d, generator=gen) if state.variant.needs_prior else None
    return x, noise, prior


def _reference(state: GroupState, x, noise, prior, t: int):
    """Autograd, in float64, of Σ_models (the variant's terms + λ·Σw²) at step ``t``: the gradient [M, P]
    and the logged values."""
    lay, v, d = state.layout, state.variant, state.d
    flat = state.flat[:, :lay.n_params].double().requires_grad_(True)
    enc = mlp(flat, lay.encoder, x.double())
    mu, logvar = (enc[..., :d], enc[..., d:]) if v.stochastic else (enc, None)
    z = mu + torch.exp(0.5 * logvar) * noise.double() if v.stochastic else mu
    recon = mlp(flat, lay.decoder, z)
    c = state.coefs
    tab = objective.table(v, c.betas.double(), {k: p.double() for k, p in c.params.items()}, state.steps,
                          recon_var=c.recon_var.double())
    stats = objective.statistics(tab, x.double(), recon, mu, logvar, z,
                                 None if prior is None else prior.double(), c.recon_var.double())
    terms = objective.evaluate(tab, stats, t)
    layers = lay.encoder + lay.decoder
    weights = torch.cat([flat[:, ly.w_at:ly.w_at + ly.n_in * ly.n_out] for ly in layers], 1)
    terms["l2"] = c.l2.double() * weights.square().sum(-1)
    terms["total"] = terms["total"] + terms["l2"]
    terms["total"].sum().backward()
    return flat.grad, {k: val.detach() for k, val in terms.items()}, stats


def _fused(monkeypatch, state: GroupState, x, noise, prior, t: int):
    monkeypatch.setattr("vaebench.routes.fused.ADAM_BETAS", (0.0, 0.999))  # Adam's m is then g
    route = FusedRoute(state)
    route.load(*(None if a is None else a[:, None] for a in (x, noise, prior)))
    route.step(t, 0, True)
    return state.exp1[:, :state.layout.n_params].double(), {k: v.double() for k, v in route.logged().items()}


def _check(monkeypatch, state, t=7, seed=0):
    x, noise, prior = _draws(state, seed)
    want_grad, want, stats = _reference(state, x, noise, prior, t)
    got_grad, got = _fused(monkeypatch, state, x, noise, prior, t)
    assert set(got) == set(want)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=2e-4, atol=1e-5, msg=k)
    scale = want_grad.abs().amax(-1, keepdim=True)  # per model: float32 against float64
    torch.testing.assert_close(got_grad / scale, want_grad / scale, rtol=0, atol=3e-5)
    return stats


@needs_kernel
@pytest.mark.parametrize("variant", SHIPPED)
@pytest.mark.parametrize(("d", "batch"), [(2, 32), (1, 13), (3, 37)])
def test_fused_gradient_is_autograd_of_the_one_statement(monkeypatch, variant, d, batch):
    _check(monkeypatch, _state(variant, 3, d, batch))


@needs_kernel
@pytest.mark.parametrize("variant", ["infovae", "wae"])
@pytest.mark.parametrize(("d", "batch"), [(2, 2), (1, 3), (2, 16), (2, 17), (4, 40), (2, 128)])
def test_fused_mmd_gradient_at_small_and_odd_batches(monkeypatch, variant, d, batch):
    """MMD² over B×B pairs: B = 2 (one pair), whole and partial 16-lane blocks, the seed's B = 128."""
    stats = _check(monkeypatch, _state(variant, 2, d, batch, hidden=(6,)))
    assert (stats["mmd"].abs() > 0).all()


def _straddle(monkeypatch, variant: str, d: int, key: str, place):
    """Set ``params[key]`` per model from the models' own KL (before the step) by ``place``, rebuild the
    table and check the fused step against autograd."""
    state = _state(variant, 3, d, 64)
    x, noise, prior = _draws(state)
    _, _, stats = _reference(state, x, noise, prior, 40)
    state.coefs.params[key] = place(stats).float()
    state.table = objective.table(state.variant, state.coefs.betas, state.coefs.params, state.steps,
                                  recon_var=state.coefs.recon_var)
    _check(monkeypatch, state, t=40)
    return stats


@needs_kernel
@pytest.mark.parametrize("d", [2, 3])  # the KL per dimension by vector lanes (d divides 16), and by rows
def test_free_bits_with_the_floor_crossed_inside_a_model(monkeypatch, d):
    """Each model's target between its dimensions' KLs: some dimensions above the floor (gradient β),
    some below (none)."""
    def between(stats):
        kl = stats["kl_dim"].detach().sort(-1).values
        return 0.5 * (kl[:, 0] + kl[:, 1])

    stats = _straddle(monkeypatch, "free_bits", d, "target", between)
    kl = stats["kl_dim"].detach()
    target = between(stats)[:, None]
    assert ((kl > target).any(-1) & (kl < target).any(-1)).all()


@needs_kernel
def test_capacity_on_both_sides_of_its_target(monkeypatch):
    """C(t) above the KL in one model (slope −β) and below it in the others (+β)."""
    def sides(stats):
        kl = stats["kl"].detach()
        return kl + torch.tensor([0.3, -0.2, -0.05], dtype=kl.dtype)

    _straddle(monkeypatch, "capacity", 2, "c_max", sides)  # t = 40 of 50 > c_warmup·steps: C = c_max


@needs_kernel
@pytest.mark.parametrize(("d", "batch"), [(1, 13), (2, 32), (3, 37)])
def test_sigma_vae_with_the_mse_below_its_floor_in_some_models(monkeypatch, d, batch):
    """σ-VAE's (D/2)·ln max(MSE, floor): the floor set per model from the models' own batch MSE, above it
    in models 0 and 2 (no reconstruction gradient: KL and L2 alone) and below it in model 1 (slope
    (D/2)/recon)."""
    from vaebench.variants import sigma_vae

    state = _state("sigma_vae", 3, d, batch)
    x, noise, prior = _draws(state)
    _, _, stats = _reference(state, x, noise, prior, 7)
    mse = stats["recon"].detach() * 2 * state.coefs.recon_var.double() / 2  # recon = D·MSE/(2σ²), D = 2
    monkeypatch.setattr(sigma_vae, "MSE_FLOOR", mse * torch.tensor([1.5, 0.5, 3.0], dtype=mse.dtype))
    state.table = objective.table(state.variant, state.coefs.betas, state.coefs.params, state.steps,
                                  recon_var=state.coefs.recon_var)
    floor = state.table.at[0, 7].double()
    assert (stats["recon"][[0, 2]] < floor[[0, 2]]).all() and stats["recon"][1] > floor[1]
    _check(monkeypatch, state)


SMALL = dict(n_train=300, steps=30, batch_size=16)


@pytest.mark.parametrize("path", ["auto", "torch"])
@pytest.mark.parametrize("variant", SHIPPED)
def test_a_diverged_model_is_frozen_from_its_death_step(monkeypatch, path, variant):
    """A model that dies at step t ends with the parameters it had before step t: those of the same run
    trained for t steps; the model trained beside it is untouched."""
    monkeypatch.setenv(cpu_kernel.ENV, path)
    params = {"c_max": 0.0} if variant == "capacity" else {}  # C(t) then does not depend on steps
    bad = RunConfig(variant=variant, lr=1e30, seed=1, params=params, **SMALL)
    good = RunConfig(variant=variant, seed=2, params=params, **SMALL)
    died, alive = train([bad, good])
    (alone,) = train([good])
    assert died.status == "diverged" and died.diverged_step >= 1 and alive.status == "ok"
    (before,) = train([bad.replace(steps=died.diverged_step)])
    assert before.status == "ok"
    for p, q in zip(died.model.parameters(), before.model.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(alive.model.parameters(), alone.model.parameters(), strict=True):
        assert torch.equal(p, q)
