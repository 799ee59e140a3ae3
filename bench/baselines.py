"""The two ways a user would train many small VAEs without vaebench, for side-by-side benchmarks.

Both train the seed architecture (MLP encoder 2→h→h→2d and decoder d→h→h→2, ReLU) with the ``vae``
variant's loss as :mod:`vaebench.losses` states it, ``Σ_j (x_j − x̂_j)² / (2σ²) + β·KL`` (batch mean,
σ² = 0.5), Adam with PyTorch's defaults, on U[0, 1]² data; minibatches and noise come from torch's own
generator (as a user would write it). Neither is a reference for numbers, only for speed.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

RECON_VAR = 0.5


class SeedVAE(nn.Module):
    """The seed architecture as a plain module: ``forward(x, eps)`` returns the loss of one minibatch."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (30, 30), beta: float = 0.1):
        super().__init__()
        self.latent_dim, self.beta = latent_dim, beta

        def stack(sizes: list[int]) -> nn.Sequential:
            mods: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                mods += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
            return nn.Sequential(*mods)

        self.encoder = stack([2, *hidden, 2 * latent_dim])
        self.decoder = stack([latent_dim, *hidden, 2])

    def forward(self, x: Tensor, eps: Tensor) -> Tensor:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = ((x - self.decoder(z)) ** 2).sum(-1).mean() / (2 * RECON_VAR)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1).mean()
        return recon + self.beta * kl


def obvious_loop(n_models: int, steps: int, batch_size: int, latent_dim: int = 2,
                 hidden: tuple[int, ...] = (30, 30), n_train: int = 10_000, device: str = "cpu") -> float:
    """Train ``n_models`` models one after another, each an ``nn.Module`` with its own
    ``torch.optim.Adam``: the loop a user writes first. Returns the wall time in seconds."""
    gen = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    for _ in range(n_models):
        model = SeedVAE(latent_dim, hidden).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        data = torch.rand(n_train, 2, generator=gen, device=device)
        for _ in range(steps):
            x = data[torch.randint(0, n_train, (batch_size,), generator=gen, device=device)]
            eps = torch.randn(batch_size, latent_dim, generator=gen, device=device)
            loss = model(x, eps)
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def torch_func_ensemble(n_models: int, steps: int, batch_size: int, latent_dim: int = 2,
                        hidden: tuple[int, ...] = (30, 30), n_train: int = 10_000,
                        device: str = "cpu") -> float:
    """Train ``n_models`` models at once with PyTorch's ensembling recipe: ``stack_module_state`` +
    ``functional_call`` under ``vmap`` (``randomness="different"``, each model draws its own noise),
    ``grad`` of the loss, Adam on the stacked parameters. Returns the wall time in seconds."""
    gen = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    models = [SeedVAE(latent_dim, hidden).to(device) for _ in range(n_models)]
    params, buffers = stack_module_state(models)
    base = SeedVAE(latent_dim, hidden).to("meta")

    def loss_of(p, b, x):
        eps = torch.randn(x.shape[0], latent_dim, device=x.device)
        return functional_call(base, (p, b), (x, eps))

    step_grads = vmap(grad_and_value(loss_of), randomness="different")
    opt = torch.optim.Adam(params.values(), lr=1e-3)
    data = torch.rand(n_models, n_train, 2, generator=gen, device=device)
    for _ in range(steps):
        idx = torch.randint(0, n_train, (n_models, batch_size, 1), generator=gen, device=device)
        x = torch.gather(data, 1, idx.expand(-1, -1, 2))
        grads, _ = step_grads(params, buffers, x)
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
