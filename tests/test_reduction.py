"""Loss reduction: a batch-summed objective with weight λ trains as the batch mean with λ/B (Adam is
invariant to the objective's scale up to its ε), stated in vaebench.losses and honoured by the engine."""

import pytest
import torch

import vaebench
from vaebench import RunConfig
from vaebench.losses import batch_mean_l2, gaussian_kl, gaussian_recon


def test_bad_reduction_is_one_clear_line():
    with pytest.raises(ValueError, match=r"^reduction = 'total': must be one of \['mean', 'sum'\]$"):
        RunConfig(reduction="total")
    with pytest.raises(ValueError, match="reduction"):
        batch_mean_l2(0.1, "Sum", 128)


def test_sum_and_mean_objectives_give_the_same_adam_trajectory():
    # an independent check of the statement in vaebench.losses: a tiny linear VAE, trained by torch's Adam
    # once on the batch-summed loss with λ and once on the batch mean with λ/B
    torch.manual_seed(0)
    x = torch.rand(40, 32, 2)
    eps = torch.randn(40, 32, 2)
    init = [torch.randn(2, 4) * 0.5, torch.randn(2, 2) * 0.5]
    lam, beta, b = 0.25, 0.1, 32

    def train(reduction):
        w = [p.clone().requires_grad_(True) for p in init]
        opt = torch.optim.Adam(w, lr=1e-2)
        for xb, e in zip(x, eps, strict=True):
            h = xb @ w[0]
            mu, logvar = h[:, :2], h[:, 2:]
            recon = (mu + torch.exp(0.5 * logvar) * e) @ w[1]
            per_batch = (gaussian_recon(xb[None], recon[None], torch.tensor(0.5))
                         + beta * gaussian_kl(mu[None], logvar[None]))[0]
            penalty = sum((p ** 2).sum() for p in w)
            if reduction == "sum":  # the batch-summed objective as a notebook writes it, weight λ
                loss = b * per_batch + lam * penalty
            else:  # the batch mean with the coefficient vaebench.losses states
                loss = per_batch + batch_mean_l2(lam, "sum", b) * penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
        return w

    for a, m in zip(train("sum"), train("mean"), strict=True):
        assert torch.allclose(a, m, atol=1e-5, rtol=0)  # equal up to Adam's ε


def test_engine_honours_reduction():
    base = dict(beta=0.01, batch_size=64, steps=60, n_train=500, seed=3)
    summed, mean = vaebench.train([RunConfig(l2=0.25, reduction="sum", **base),
                                   RunConfig(l2=0.25 / 64, **base)])
    other = vaebench.train([RunConfig(l2=0.25, **base)])[0]
    for a, m in zip(summed.model.parameters(), mean.model.parameters(), strict=True):
        assert torch.equal(a, m)
    assert not all(torch.equal(a, o) for a, o in zip(summed.model.parameters(), other.model.parameters(),
                                                       strict=True))
