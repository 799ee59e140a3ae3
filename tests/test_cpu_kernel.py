"""The CPU kernel (vaebench/kernel/): its numbers against PyTorch's, its build and its fallbacks.

References are independent of the kernel: autograd through the public batch-major
:func:`vaebench.model.mlp` for forward and backward, ``torch.optim.Adam`` for the optimiser step.
"""

import os

import numpy as np
import pytest
import torch
from route_helpers import assert_same_trajectory

import vaebench.variants as variants_mod
import vaebench.variants.vae as vaebench_vae
from vaebench import RunConfig, cpu_kernel, train
from vaebench.losses import gaussian_recon
from vaebench.model import Layout, init_flat, mlp
from vaebench.variants import Variant

lib = cpu_kernel.load()
needs_kernel = pytest.mark.skipif(lib is None, reason="no C compiler: the CPU kernel is not built here")


def _flat(layout: Layout, m: int, extra: int = 5) -> torch.Tensor:
    rows = np.stack([init_flat(layout, np.random.default_rng(s)) for s in range(m)])
    return torch.cat([torch.from_numpy(rows), torch.zeros(m, extra)], 1).contiguous()  # rows longer than P


@needs_kernel
@pytest.mark.parametrize(("latent_dim", "hidden", "stochastic", "batch"),
                         [(2, (30, 30), True, 128), (1, (30, 30), True, 100), (2, (7, 5), True, 11),
                          (3, (6, 6, 6), False, 37), (2, (33, 17), True, 5), (1, (1,), True, 3),
                          (2, (64, 48), True, 1), (1, (7,), False, 5)])
def test_forward_and_backward_match_autograd(latent_dim, hidden, stochastic, batch):
    layout = Layout.build(2, latent_dim, hidden, stochastic)
    m = 3
    flat = _flat(layout, m)
    gen = torch.Generator().manual_seed(1)
    l2 = torch.tensor([0.0, 0.1, 1e-3])
    for layers in (layout.encoder, layout.decoder):
        split = 2 if (layers is layout.encoder and stochastic) else 1
        net = cpu_kernel.KernelMLP(lib, flat, layers, batch, split)
        x = torch.randn(m, batch, layers[0].n_in, generator=gen)
        weight = torch.randn(m, batch, layers[-1].n_out, generator=gen)
        out = net.forward(x)  # [split, m, B, n_out / split]
        grad = torch.full_like(flat, 7.0)  # every entry the kernel owns must be overwritten
        g_out = torch.stack(weight.chunk(split, -1)).contiguous()
        g_in = net.backward(x, g_out, grad, l2, input_grad=True)

        flat_ref, x_ref = flat.clone().requires_grad_(True), x.clone().requires_grad_(True)
        out_ref = mlp(flat_ref, layers, x_ref)
        penalty = sum((l2[:, None] * flat_ref[:, ly.w_at:ly.w_at + ly.n_in * ly.n_out].square()).sum()
                      for ly in layers)
        ((out_ref * weight).sum() + penalty).backward()
        torch.testing.assert_close(torch.cat(list(out), -1), out_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(g_in, x_ref.grad, atol=1e-5, rtol=1e-5)
        for ly in layers:
            for at, n in ((ly.w_at, ly.n_in * ly.n_out), (ly.b_at, ly.n_out)):
                torch.testing.assert_close(grad[:, at:at + n], flat_ref.grad[:, at:at + n],
                                           atol=1e-5, rtol=1e-5)
        assert (grad[:, layout.n_params:] == 7.0).all()  # nothing written past the layout


@needs_kernel
def test_relu_keeps_nan_as_pytorch_does():
    layout = Layout.build(2, 2, (4,), True)
    flat = _flat(layout, 1)
    net = cpu_kernel.KernelMLP(lib, flat, layout.encoder, 2)
    x = torch.tensor([[[float("nan"), 0.0], [0.5, 0.5]]])
    out = torch.cat(list(net.forward(x)), -1)
    ref = mlp(flat, layout.encoder, x)
    assert torch.isnan(out[0, 0]).all() and torch.isnan(ref[0, 0]).all()
    torch.testing.assert_close(out[0, 1], ref[0, 1])


def _adam(flat, grad, exp1, exp2, lr, l2, total, alive, died, t, n_weights):
    return cpu_kernel.adam(lib, flat, grad, exp1, exp2, lr, l2, total, alive, died, t, n_weights)


@needs_kernel
def test_adam_is_bit_identical_to_torch_fused_adam():
    gen = torch.Generator().manual_seed(3)
    flat = torch.randn(2, 4096, generator=gen)
    exp1, exp2 = torch.zeros_like(flat), torch.zeros_like(flat)
    lr = torch.tensor([1e-3, 3e-3])
    alive, died = torch.ones(2, dtype=torch.bool), torch.full((2,), -1, dtype=torch.long)
    refs = [flat[i].clone().requires_grad_(True) for i in range(2)]
    opts = [torch.optim.Adam([r], lr=float(lr[i]), fused=True) for i, r in enumerate(refs)]
    for t in range(1, 201):
        grad = torch.randn(2, 4096, generator=gen)
        _adam(flat, grad, exp1, exp2, lr, torch.zeros(2), torch.zeros(2), alive, died, t, 100)
        for i in range(2):
            refs[i].grad = grad[i].clone()
            opts[i].step()
    for i in range(2):
        assert torch.equal(flat[i], refs[i].detach())
        assert torch.equal(exp2[i], opts[i].state[refs[i]]["exp_avg_sq"])


@needs_kernel
def test_adam_matches_torch_optim_adam_and_freezes_non_finite_models():
    gen = torch.Generator().manual_seed(0)
    m, p, n_weights = 3, 37, 30
    flat = torch.randn(m, p, generator=gen)
    exp1, exp2 = torch.zeros_like(flat), torch.zeros_like(flat)
    lr, l2 = torch.tensor([1e-3, 1e-2, 1e-3]), torch.tensor([0.0, 0.5, 0.0])
    alive, died = torch.ones(m, dtype=torch.bool), torch.full((m,), -1, dtype=torch.long)
    refs = [flat[i].clone().requires_grad_(True) for i in range(m)]
    opts = [torch.optim.Adam([r], lr=float(lr[i])) for i, r in enumerate(refs)]
    for t in range(1, 21):
        grad = torch.randn(m, p, generator=gen)
        if t == 7:
            grad[2, 5] = float("inf")  # model 2 dies at step index 6 (the 7th step)
        total = torch.ones(m)
        wsq = (flat[:, :n_weights] ** 2).sum(-1)
        l2_out = _adam(flat, grad, exp1, exp2, lr, l2, total, alive, died, t, n_weights)
        torch.testing.assert_close(l2_out, l2 * wsq, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(total, 1 + l2 * wsq, rtol=1e-5, atol=1e-6)
        for i in range(m):
            if i == 2 and t >= 7:
                continue
            refs[i].grad = grad[i].clone()
            opts[i].step()
    for i in range(2):
        torch.testing.assert_close(flat[i], refs[i].detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(flat[2], refs[2].detach(), rtol=1e-5, atol=1e-6)  # frozen before step 7
    assert alive.tolist() == [True, True, False] and died.tolist() == [-1, -1, 6]


@needs_kernel
def test_adam_marks_a_non_finite_loss_dead():
    flat, grad = torch.ones(2, 16), torch.zeros(2, 16)
    alive, died = torch.ones(2, dtype=torch.bool), torch.full((2,), -1, dtype=torch.long)
    total = torch.tensor([float("nan"), 1.0])
    _adam(flat, grad, torch.zeros_like(flat), torch.zeros_like(flat), torch.full((2,), 0.1), torch.zeros(2),
          total, alive, died, 3, 8)
    assert alive.tolist() == [False, True] and died.tolist() == [2, -1]


@needs_kernel
def test_kernel_refuses_tensors_it_cannot_read():
    layout = Layout.build(2, 2, (4,), True)
    net = cpu_kernel.KernelMLP(lib, _flat(layout, 2), layout.encoder, 8)
    for bad in (torch.zeros(2, 8, 2, dtype=torch.float64), torch.zeros(2, 8, 3), torch.zeros(2, 2, 8).mT):
        with pytest.raises(ValueError, match="kernel input"):
            net.forward(bad)


def test_env_switch_selects_the_operator_path(monkeypatch):
    monkeypatch.setenv(cpu_kernel.ENV, "torch")
    assert cpu_kernel.load() is None and cpu_kernel.active() == "operators"
    monkeypatch.setenv(cpu_kernel.ENV, "fast")
    with pytest.raises(ValueError, match="VAEBENCH_CPU_KERNEL = 'fast': must be 'auto' or 'torch'"):
        cpu_kernel.load()


def test_missing_compiler_falls_back_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv(cpu_kernel.ENV, "auto")  # also under tox -e cpu-operators
    monkeypatch.setattr(cpu_kernel, "_state", {})
    monkeypatch.setenv("VAEBENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.warns(RuntimeWarning, match="CPU kernel unavailable"):
        assert cpu_kernel.load() is None
    assert list(tmp_path.iterdir()) == []  # no partial build left behind


def test_a_failing_compiler_leaves_no_partial_file(monkeypatch, tmp_path):
    fake = tmp_path / "cc"
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && echo fake-cc 1.0 && exit 0\n'
                    'echo broken >&2\nexit 1\n')
    fake.chmod(0o755)
    cache = tmp_path / "cache"
    monkeypatch.setenv(cpu_kernel.ENV, "auto")
    monkeypatch.setattr(cpu_kernel, "_state", {})
    monkeypatch.setenv("VAEBENCH_CACHE", str(cache))
    monkeypatch.setenv("CC", str(fake))
    with pytest.warns(RuntimeWarning, match="broken"):
        assert cpu_kernel.load() is None
    assert list(cache.iterdir()) == []


@needs_kernel
def test_build_is_cached_per_source_and_machine(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu_kernel, "_state", {})
    monkeypatch.setenv("VAEBENCH_CACHE", str(tmp_path))
    assert cpu_kernel.load() is not None
    (built,) = tmp_path.glob("cpu_kernel-*.so")
    stamp = built.stat().st_mtime_ns
    monkeypatch.setattr(cpu_kernel, "_state", {})
    assert cpu_kernel.load() is not None
    assert built.stat().st_mtime_ns == stamp  # reused, not rebuilt


SMALL = dict(n_train=500, steps=40, batch_size=32)


@needs_kernel
@pytest.mark.parametrize("variant", ["vae", "wae", "infovae", "capacity", "free_bits", "ae", "sigma_vae"])
def test_kernel_and_operator_paths_train_the_same_function(monkeypatch, variant):
    """Not bit-identical (other summation orders), but the same trajectory to float precision over the
    first steps, for every variant: the two paths compute one objective and one Adam."""
    cfgs = [RunConfig(variant=variant, beta=0.1, seed=s, **SMALL) for s in range(3)]
    kernel = train(cfgs)
    monkeypatch.setenv(cpu_kernel.ENV, "torch")
    operators = train(cfgs)
    for a, b in zip(kernel, operators, strict=True):
        assert_same_trajectory(a, b)


@pytest.mark.parametrize("path", ["auto", "torch"])
@pytest.mark.parametrize("variant", ["vae", "ae", "capacity", "free_bits", "infovae", "wae", "sigma_vae"])
def test_alone_versus_batched_on_both_cpu_paths(monkeypatch, path, variant):
    monkeypatch.setenv(cpu_kernel.ENV, path)
    target = RunConfig(variant=variant, beta=0.05, seed=3, l2=1e-3, **SMALL)
    others = [RunConfig(variant=variant, beta=b, seed=s, lr=1e-3, **SMALL)
              for b, s in ((0.5, 0), (0.01, 9), (1.0, 4))]
    (alone,) = train([target])
    batched = train(others[:2] + [target] + others[2:])[2]
    assert alone.history.equals(batched.history)
    for p, q in zip(alone.model.parameters(), batched.model.parameters(), strict=True):
        assert torch.equal(p, q)


class _ReconOnly(Variant):
    """A stochastic variant whose loss ignores μ and log σ² directly (a test fixture, not registered)."""

    name = "recon_only"

    def loss(self, inp):
        return {"recon": gaussian_recon(inp.x, inp.recon, inp.recon_var),
                "total": gaussian_recon(inp.x, inp.recon, inp.recon_var)}


@pytest.mark.parametrize("path", ["auto", "torch"])
@pytest.mark.parametrize("variant", ["vae", "ae", "wae", "infovae", "sigma_vae"])
def test_alone_versus_batched_with_a_1d_latent(monkeypatch, path, variant):
    """d = 1 makes products with a dimension of 1 (the decoder's first layer, the MMD's cross term),
    which MKL computes differently at M = 1 than at M > 1 unless written as broadcast products."""
    monkeypatch.setenv(cpu_kernel.ENV, path)
    cfg = dict(variant=variant, latent_dim=1, n_train=300, steps=30, batch_size=33)
    target = RunConfig(seed=2, **cfg)
    (alone,) = train([target])
    batched = train([RunConfig(seed=s, **cfg) for s in (0, 1)] + [target])[2]
    assert alone.history.equals(batched.history)


def test_old_builds_are_pruned(tmp_path):
    for i in range(12):
        f = tmp_path / f"cpu_kernel-{i:016x}.so"
        f.write_bytes(b"")
        os.utime(f, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "other.txt").write_text("kept")
    cpu_kernel._prune(tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"cpu_kernel-{i:016x}.so" for i in range(4, 12)] + ["other.txt"])


class _ReconOnlyVAE(vaebench_vae.VAE):
    """Subclasses ``vae`` and overrides only its loss: must not inherit the parent's closed form."""

    name = "recon_only_vae"

    def loss(self, inp):
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        return {"recon": recon, "total": recon}


def test_a_loss_override_trains_its_own_loss_never_the_parents_terms(monkeypatch):
    from vaebench.objective import stated_by_terms

    assert stated_by_terms(vaebench_vae.VAE)
    assert not stated_by_terms(_ReconOnlyVAE)  # inheriting vae's terms would train vae's objective
    assert not stated_by_terms(_ReconOnly)
    monkeypatch.setitem(variants_mod.VARIANTS, "recon_only_vae", _ReconOnlyVAE())
    (res,) = train([RunConfig(variant="recon_only_vae", **SMALL)])
    assert res.engine == "operators" and list(res.history.columns) == ["step", "recon", "l2", "beta", "total"]
    np.testing.assert_allclose(res.history["total"], res.history["recon"], rtol=1e-6)


@pytest.mark.parametrize("path", ["auto", "torch"])
def test_each_result_says_which_path_trained_it(monkeypatch, path):
    monkeypatch.setenv(cpu_kernel.ENV, path)
    res, ref, wae = train([RunConfig(**SMALL), RunConfig(variant="probit"),
                           RunConfig(variant="wae", **SMALL)])
    fused = "fused" if cpu_kernel.load() is not None else "operators"
    assert res.engine == wae.engine == fused  # every shipped variant states terms the kernel computes
    assert ref.engine == "analytic"


@needs_kernel
def test_kernel_exp_is_within_two_ulp_of_torch():
    """The fused step's exp (σ = exp(½ log σ²), exp(log σ²) in the KL): a polynomial in C, checked
    against torch.exp (in float64, rounded) over the whole finite range and at the special values."""
    x = torch.cat([torch.linspace(-87.3, 88.7, 200_001), torch.linspace(-1, 1, 10_001),
                   torch.tensor([0.0, -0.0, 1e-8, -1e-8, 88.72, -87.33])])
    out = torch.empty_like(x)
    lib.vb_exp(x.numel(), x.data_ptr(), 1.0, out.data_ptr())
    ref = torch.exp(x.double())
    # one ulp of the float result, in float64 (near FLT_MIN it is denormal: flushed in float32 arithmetic)
    ulp = torch.nextafter(ref.float(), torch.tensor(float("inf"))).double() - ref.float().double()
    assert ((out.double() - ref).abs() / ulp).max() <= 2.0
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 89.0, 1e4, -88.0, -1e4, 0.5])
    got = torch.empty_like(special)
    lib.vb_exp(special.numel(), special.data_ptr(), 2.0, got.data_ptr())  # exp(2x), a tail of 8 lanes
    assert torch.isnan(got[0]) and got[1] == float("inf") and got[2] == 0 and got[3] == float("inf")
    assert got[4] == float("inf") and got[5] == 0 and got[6] == 0
    torch.testing.assert_close(got[7], torch.exp(torch.tensor(1.0)), rtol=2.5e-7, atol=0)


