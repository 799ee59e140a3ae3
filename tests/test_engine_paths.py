"""The engine's execution paths: worker-thread split, hand-written backward, padded layout.

The engine trains a group's models in ``threads`` parts, one worker thread each, in a
layout whose hidden widths are padded to a multiple of 8, with a hand-written backward for the MLPs.
None of that may change a model's numbers: checked against the split itself (any thread count gives
bit-identical results) and against autograd through the public :func:`vaebench.model.mlp`.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from vaebench import RunConfig, train
from vaebench.model import Layout, StackedMLP, init_flat, mlp, pad_index, padded_hidden

SMALL = dict(n_train=500, steps=100, batch_size=32)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _configs(n: int = 48):
    """n runs of one shape with different β, λ, learning rates and seeds (48: 1, 2 or 3 parts)."""
    settings = [(0.1, 1e-3, 0.0), (0.01, 3e-3, 1e-3), (1.0, 1e-3, 0.0), (0.05, 1e-4, 1e-4)]
    return [RunConfig(beta=settings[i % 4][0], lr=settings[i % 4][1], l2=settings[i % 4][2], seed=i, **SMALL)
            for i in range(n)]


def test_results_do_not_depend_on_the_number_of_worker_threads(restore_threads):
    runs = {}
    for threads in (1, 2, 3):  # 48 models: one part of 48, two of 24, three of 16 (MIN_PART = 16)
        runs[threads] = train(_configs(), threads=threads)
    for threads in (2, 3):
        for a, b in zip(runs[1], runs[threads], strict=True):
            pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)
            for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
                assert torch.equal(p, q)


def test_torch_thread_count_is_restored_even_after_an_error(restore_threads):
    torch.set_num_threads(2)
    train([RunConfig(**SMALL)], threads=1)
    assert torch.get_num_threads() == 2

    def failing(n: int) -> None:
        raise RuntimeError("progress callback failed")

    with pytest.raises(RuntimeError, match="progress callback failed"):
        train(_configs(32), progress=failing, threads=2)
    assert torch.get_num_threads() == 2


def test_progress_counts_every_model_step_across_workers(restore_threads):
    calls = []
    train(_configs(32), progress=calls.append, threads=2)
    assert sum(calls) == 32 * SMALL["steps"]
    assert len(calls) == 2 * 2  # two workers, two chunks of CHUNK = 64 steps each


@pytest.mark.parametrize(("latent_dim", "hidden", "stochastic"), [(2, (7, 5), True), (1, (4,), True),
                                                                   (3, (6, 6, 6), False)])
def test_hand_written_backward_matches_autograd(latent_dim, hidden, stochastic):
    layout = Layout.build(2, latent_dim, hidden, stochastic)
    m, b = 3, 11
    gen = torch.Generator().manual_seed(0)
    flat = torch.from_numpy(np.stack([init_flat(layout, np.random.default_rng(s)) for s in range(m)]))
    for layers in (layout.encoder, layout.decoder):
        h = torch.randn(m, layers[0].n_in, b, generator=gen, dtype=torch.float32)
        weight = torch.randn(m, layers[-1].n_out, b, generator=gen)
        net = StackedMLP(flat, layers)
        out, inputs = net.forward(h)
        g_in, w_grads, b_grads = net.backward(inputs, weight, input_grad=True)
        # the reference: autograd through the public batch-major mlp
        flat_ref, h_ref = flat.clone().requires_grad_(True), h.transpose(1, 2).clone().requires_grad_(True)
        out_ref = mlp(flat_ref, layers, h_ref)
        torch.testing.assert_close(out, out_ref.transpose(1, 2), atol=1e-6, rtol=1e-5)
        (out_ref * weight.transpose(1, 2)).sum().backward()
        for layer, gw, gb in zip(layers, w_grads, b_grads, strict=True):
            n_w = layer.n_in * layer.n_out
            ref_w = flat_ref.grad[:, layer.w_at:layer.w_at + n_w].view(m, layer.n_in, layer.n_out)
            torch.testing.assert_close(gw, ref_w, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(gb, flat_ref.grad[:, layer.b_at:layer.b_at + layer.n_out],
                                       atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(g_in, h_ref.grad.transpose(1, 2), atol=1e-5, rtol=1e-5)


def test_padded_hidden_widths():
    assert padded_hidden((30, 30)) == (32, 32)
    assert padded_hidden((7, 5, 8)) == (8, 8, 8)
    assert padded_hidden((1,), multiple=16) == (16,)


def test_padding_with_zeros_computes_the_same_function():
    layout = Layout.build(2, 2, (30, 30), stochastic=True)
    wide = Layout.build(2, 2, padded_hidden((30, 30)), stochastic=True)
    index = pad_index(layout, wide)
    assert len(set(index.tolist())) == layout.n_params and index.max() < wide.n_params
    flat = torch.from_numpy(np.stack([init_flat(layout, np.random.default_rng(s)) for s in range(2)]))
    padded = torch.zeros(2, wide.n_params)
    padded[:, torch.from_numpy(index)] = flat
    torch.testing.assert_close(padded[:, torch.from_numpy(index)], flat, atol=0, rtol=0)
    x = torch.rand(2, 40, 2)
    for small, big in ((layout.encoder, wide.encoder), (layout.decoder, wide.decoder)):
        h = x if small[0].n_in == 2 else torch.randn(2, 40, small[0].n_in)
        out, _ = StackedMLP(padded, big).forward(h.transpose(1, 2).contiguous())
        torch.testing.assert_close(out.transpose(1, 2), mlp(flat, small, h), atol=1e-5, rtol=1e-5)


def test_many_small_groups_train_on_all_threads_with_the_same_numbers(restore_threads):
    """Groups of 3 runs (one per variant) go to the worker threads together; a run's numbers do not
    depend on which thread or beside which group it trained."""
    cfgs = [RunConfig(variant=v, beta=0.2, seed=s, **SMALL)
            for v in ("vae", "capacity", "free_bits", "infovae", "wae", "ae") for s in range(3)]
    runs = {}
    for threads in (1, 2):
        calls = []
        runs[threads] = train(cfgs, progress=calls.append, threads=threads)
        assert sum(calls) == len(cfgs) * SMALL["steps"]
    for a, b in zip(runs[1], runs[2], strict=True):
        pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(p, q)
