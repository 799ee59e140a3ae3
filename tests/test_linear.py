"""``hidden = []``: no hidden layer, a linear encoder (μ, log σ²) and a linear decoder.

The linear VAE is the model whose β-VAE optimum has a closed form (probabilistic PCA); these tests make
sure it is a first-class config: it validates, round-trips through grids, store rows and run ids, its
module is exactly the affine maps its parameters say, the kernel's gradients match autograd, and it
trains on every CPU route to the same function.
"""

import numpy as np
import pytest
import torch
from route_helpers import assert_same_trajectory

from vaebench import RunConfig, cpu_kernel, train
from vaebench.grid import Grid, run_id
from vaebench.model import MLPVAE, Layout, init_flat
from vaebench.store import config_from_row, config_row

lib = cpu_kernel.load()
needs_kernel = pytest.mark.skipif(lib is None, reason="no C compiler: the CPU kernel is not built here")
SMALL = dict(n_train=400, steps=60, batch_size=16, hidden=[])


def test_empty_hidden_is_valid_and_round_trips(tmp_path):
    cfg = RunConfig(hidden=[], beta=0.5)
    assert cfg.hidden == ()
    assert cfg.to_dict()["hidden"] == []
    assert RunConfig(**cfg.to_dict()) == cfg
    assert config_from_row(config_row(cfg)) == cfg
    assert run_id(cfg) == run_id(RunConfig(hidden=(), beta=0.5)) != run_id(RunConfig(hidden=[2], beta=0.5))
    path = tmp_path / "g.toml"
    path.write_text('[study]\nname = "lin"\nsteps = 10\nhidden = []\n[grid]\nbeta = [0.1, 1.0]\n')
    assert [c.hidden for c in Grid.from_toml(path).configs()] == [(), ()]
    path.write_text('[study]\nname = "lin"\nsteps = 10\n[grid]\nhidden = [[], [8]]\n')
    assert [c.hidden for c in Grid.from_toml(path).configs()] == [(), (8,)]


@pytest.mark.parametrize("bad", [[0], 3, "30", {"a": 1}])
def test_hidden_still_refuses_what_is_not_a_list_of_widths(bad):
    with pytest.raises(ValueError, match="hidden = "):
        RunConfig(hidden=bad)


@pytest.mark.parametrize(("latent_dim", "stochastic"), [(2, True), (1, True), (3, False)])
def test_linear_module_is_the_affine_maps_of_its_parameters(latent_dim, stochastic):
    layout = Layout.build(2, latent_dim, (), stochastic)
    assert len(layout.encoder) == len(layout.decoder) == 1
    n_enc = latent_dim * (2 if stochastic else 1)
    assert layout.n_params == (2 + 1) * n_enc + (latent_dim + 1) * 2  # weights and biases of the two maps
    flat = torch.from_numpy(init_flat(layout, np.random.default_rng(0)))
    module = MLPVAE.from_flat(latent_dim, (), stochastic, flat)
    enc, dec = layout.encoder[0], layout.decoder[0]
    w_enc = flat[enc.w_at:enc.w_at + enc.n_in * enc.n_out].view(enc.n_in, enc.n_out)
    w_dec = flat[dec.w_at:dec.w_at + dec.n_in * dec.n_out].view(dec.n_in, dec.n_out)
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(1))
    out = x @ w_enc + flat[enc.b_at:enc.b_at + enc.n_out]
    mu, logvar = module.encode(x)
    torch.testing.assert_close(mu, out[:, :latent_dim])
    if stochastic:
        torch.testing.assert_close(logvar, out[:, latent_dim:])
    else:
        assert torch.isneginf(logvar).all()
    z = torch.randn(50, latent_dim)
    torch.testing.assert_close(module.decode(z), z @ w_dec + flat[dec.b_at:dec.b_at + dec.n_out])
    # affine: the decoder of a mixture is the mixture of the decoders
    z2 = torch.randn(50, latent_dim)
    torch.testing.assert_close(module.decode(0.3 * z + 0.7 * z2),
                               0.3 * module.decode(z) + 0.7 * module.decode(z2), atol=1e-6, rtol=1e-6)


@needs_kernel
@pytest.mark.parametrize(("latent_dim", "stochastic", "batch"), [(2, True, 32), (1, True, 7), (3, False, 5),
                                                                 (5, True, 19)])
def test_kernel_linear_layers_match_autograd(latent_dim, stochastic, batch):
    layout = Layout.build(2, latent_dim, (), stochastic)
    m = 3
    flat = torch.from_numpy(np.stack([init_flat(layout, np.random.default_rng(s)) for s in range(m)]))
    flat = torch.cat([flat, torch.zeros(m, 3)], 1).contiguous()
    l2 = torch.tensor([0.0, 0.2, 1e-3])
    gen = torch.Generator().manual_seed(2)
    for layers in (layout.encoder, layout.decoder):
        (ly,) = layers
        split = 2 if layers is layout.encoder and stochastic else 1
        net = cpu_kernel.KernelMLP(lib, flat, layers, batch, split)
        x = torch.randn(m, batch, ly.n_in, generator=gen)
        weight = torch.randn(m, batch, ly.n_out, generator=gen)
        out = torch.cat(list(net.forward(x)), -1)
        grad = torch.full_like(flat, 7.0)
        g_in = net.backward(x, torch.stack(weight.chunk(split, -1)).contiguous(), grad, l2, input_grad=True)
        w = flat[:, ly.w_at:ly.w_at + ly.n_in * ly.n_out].view(m, ly.n_in, ly.n_out).clone().requires_grad_()
        b = flat[:, ly.b_at:ly.b_at + ly.n_out].clone().requires_grad_()
        xr = x.clone().requires_grad_()
        ref = xr @ w + b[:, None]
        ((ref * weight).sum() + (l2[:, None, None] * w.square()).sum()).backward()
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(g_in, xr.grad, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad[:, ly.w_at:ly.w_at + ly.n_in * ly.n_out], w.grad.view(m, -1),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad[:, ly.b_at:ly.b_at + ly.n_out], b.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", ["vae", "ae", "capacity", "free_bits", "infovae", "wae"])
def test_linear_models_train_to_the_same_function_on_every_cpu_route(monkeypatch, variant):
    cfgs = [RunConfig(variant=variant, beta=0.3, seed=s, latent_dim=2, **SMALL) for s in range(2)]
    results = {}
    for path in (["auto"] if lib is not None else []) + ["torch"]:
        monkeypatch.setenv(cpu_kernel.ENV, path)
        results[path] = train(cfgs)
        for r in results[path]:
            assert r.status == "ok"
            first, last = r.history["recon"].iloc[0], r.history["recon"].iloc[-1]
            assert np.isfinite(last) and last < first  # it learns
            (layer,) = [m for m in r.model.decoder if isinstance(m, torch.nn.Linear)]  # one affine map
            assert tuple(layer.weight.shape) == (2, 2)
    if "auto" in results:
        for a, b in zip(results["auto"], results["torch"], strict=True):
            assert a.engine != b.engine == "operators"
            assert_same_trajectory(a, b)


@pytest.mark.parametrize("path", ["auto", "torch"])
def test_linear_model_alone_equals_batched(monkeypatch, path):
    monkeypatch.setenv(cpu_kernel.ENV, path)
    target = RunConfig(beta=0.2, seed=5, **SMALL)
    (alone,) = train([target])
    batched = train([RunConfig(beta=1.0, seed=1, **SMALL), target])[1]
    assert alone.history.equals(batched.history)
    for p, q in zip(alone.model.parameters(), batched.model.parameters(), strict=True):
        assert torch.equal(p, q)
