"""The training engine: M models of one shape trained at once as stacked parameters.

``train(configs)`` groups runs by shape (variant, latent_dim, hidden, batch_size, steps, n_train, device)
and trains each group with one loop whose step is a fixed sequence of tensor ops on [M, …] tensors: no
Python loop over models inside a step. One model is the case M = 1. Per-model randomness comes from each
run's own streams (:mod:`vaebench.seeding`), drawn in chunks of ``CHUNK`` steps, so a run's numbers do
not depend on the runs beside it. A model whose loss or gradient turns non-finite is frozen at its last
finite parameters and reported as diverged; the others are untouched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from vaebench.config import RunConfig
from vaebench.data import sample
from vaebench.model import Layout, init_flat, mlp
from vaebench.schedules import beta_table
from vaebench.seeding import stream_rng, stream_seed
from vaebench.variants import LossInputs, get_variant

CHUNK = 64  # steps of minibatch indices and noise drawn at once per model
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


@dataclass
class TrainResult:
    """One trained run. ``status`` is "ok" or "diverged" (then ``diverged_step`` and ``reason`` say
    when and why); ``history`` has one row per logged step with the loss terms, β(t), l2 and total;
    ``model`` is a plain nn.Module (``encode``, ``decode``, ``forward``); ``seconds`` is the wall time of
    its group divided by the group's size."""

    config: RunConfig
    status: str
    history: pd.DataFrame
    model: nn.Module
    seconds: float
    diverged_step: int | None = None
    reason: str = ""


def resolve_device(device: str) -> str:
    """'cpu' → 'cpu'; 'cuda' → 'cuda' if available (else ValueError); 'auto' → 'cuda' if available."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda': CUDA is not available on this machine; use 'cpu' or 'auto'")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device = {device!r}: must be one of ['cpu', 'cuda', 'auto']")
    return device


def group_key(cfg: RunConfig) -> tuple:
    """Runs with equal keys have equal tensor shapes and train together."""
    return (cfg.variant, cfg.latent_dim, cfg.hidden, cfg.batch_size, cfg.steps, cfg.n_train, cfg.device)


def train(configs: Sequence[RunConfig], device: str | None = None, log_every: int | None = None,
          progress: Callable[[int], None] | None = None) -> list[TrainResult]:
    """Train every config and return one :class:`TrainResult` per config, in order.

    ``device`` ("cpu", "cuda", "auto") overrides each config's own; results carry the resolved device.
    ``log_every`` is the history interval in steps (default steps // 100). ``progress`` is called with the
    number of model-steps done after each chunk.
    """
    configs = [c.replace(device=resolve_device(device or c.device)) for c in configs]
    torch.set_flush_denormal(True)  # denormal weights slow training down up to 10× (shared/FACTS.md)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(group_key(c), []).append(i)
    results: list[TrainResult | None] = [None] * len(configs)
    for idx in groups.values():
        for i, r in zip(idx, _train_group([configs[i] for i in idx], log_every, progress), strict=True):
            results[i] = r
    return results  # type: ignore[return-value]


class _Streams:
    """Per-model minibatch indices (a fresh permutation each epoch), noise and prior draws, by chunk."""

    def __init__(self, cfgs: list[RunConfig], shape: tuple[int, int], noise: bool, prior: bool):
        self.n, self.b, self.d = cfgs[0].n_train, cfgs[0].batch_size, cfgs[0].latent_dim
        self.idx_rng = [stream_rng(c.seed, "batches") for c in cfgs]
        self.noise_rng = [stream_rng(c.seed, "noise") for c in cfgs] if noise else None
        self.prior_rng = [stream_rng(c.seed, "prior") for c in cfgs] if prior else None
        self.pending = [np.empty(0, dtype=np.int64) for _ in cfgs]

    def _indices(self, m: int, count: int) -> np.ndarray:
        buf = self.pending[m]
        while len(buf) < count:
            buf = np.concatenate([buf, self.idx_rng[m].permutation(self.n)])
        self.pending[m] = buf[count:]
        return buf[:count]

    def chunk(self, steps: int, device: str):
        shape = (steps, self.b, self.d)
        idx = np.stack([self._indices(m, steps * self.b).reshape(steps, self.b)
                        for m in range(len(self.pending))], axis=1)  # [steps, M, B]

        def normal(rngs):
            if rngs is None:
                return None
            z = np.stack([r.standard_normal(shape, dtype=np.float32) for r in rngs], axis=1)
            return torch.from_numpy(z).to(device)

        return torch.from_numpy(idx).to(device), normal(self.noise_rng), normal(self.prior_rng)


def _train_group(cfgs: list[RunConfig], log_every: int | None,
                 progress: Callable[[int], None] | None) -> list[TrainResult]:
    start = time.perf_counter()
    c0, variant = cfgs[0], get_variant(cfgs[0].variant)
    if not variant.trainable:
        return [TrainResult(c, "ok", pd.DataFrame({"step": []}), variant.module(c, None), 0.0) for c in cfgs]
    dev, m_models, steps, d = c0.device, len(cfgs), c0.steps, c0.latent_dim
    layout = Layout.build(2, d, c0.hidden, variant.stochastic)
    flat = torch.from_numpy(np.stack([init_flat(layout, stream_rng(c.seed, "init")) for c in cfgs])).to(dev)
    data = torch.from_numpy(np.stack([sample(c.dataset, c.n_train, stream_seed(c.seed, "data"))
                                      for c in cfgs])).to(dev)

    def per_model(values) -> torch.Tensor:
        return torch.tensor(np.asarray(values, dtype=np.float32), device=dev)

    betas = per_model(np.stack([beta_table(c) for c in cfgs], axis=1))  # [steps, M]
    lr, l2, recon_var = (per_model([getattr(c, f) for c in cfgs]) for f in ("lr", "l2", "recon_var"))
    params = {k: per_model([c.params[k] for c in cfgs]) for k in c0.params}
    exp1, exp2 = torch.zeros_like(flat), torch.zeros_like(flat)  # Adam's moment estimates
    alive = torch.ones(m_models, dtype=torch.bool, device=dev)
    died_at = torch.full((m_models,), -1, dtype=torch.long, device=dev)
    every = log_every or max(1, steps // 100)
    logged_steps, logged, names = [], [], None
    streams = _Streams(cfgs, (c0.batch_size, d), variant.stochastic, variant.needs_prior)
    flat.requires_grad_(True)
    for t0 in range(0, steps, CHUNK):
        n_chunk = min(CHUNK, steps - t0)
        idx, noise, prior = streams.chunk(n_chunk, dev)
        for j in range(n_chunk):
            t = t0 + j
            x = torch.gather(data, 1, idx[j].unsqueeze(-1).expand(-1, -1, 2))
            enc = mlp(flat, layout.encoder, x)
            if variant.stochastic:
                mu, logvar = enc[..., :d], enc[..., d:]
                z = mu + torch.exp(0.5 * logvar) * noise[j]
            else:
                mu, logvar, z = enc, None, enc
            recon = mlp(flat, layout.decoder, z)
            terms = variant.loss(LossInputs(x, recon, mu, logvar, z, None if prior is None else prior[j],
                                            betas[t], recon_var, params, t, steps))
            terms["l2"] = l2 * flat[:, :layout.n_weights].square().sum(-1)
            total = terms["total"] + terms["l2"]
            (grad,) = torch.autograd.grad(torch.where(alive, total, 0.0).sum(), flat)
            with torch.no_grad():
                ok = torch.isfinite(total) & torch.isfinite(grad).all(-1)
                died_at = torch.where(alive & ~ok, t, died_at)
                alive = alive & ok
                grad = torch.where(alive.unsqueeze(-1), grad, 0.0)
                _adam(flat, grad, exp1, exp2, lr * alive, t + 1)
                if t % every == 0 or t == steps - 1:
                    terms["total"], terms["beta"] = total, betas[t]
                    names = names or [k for k in terms if k != "total"] + ["total"]
                    logged.append(torch.stack([terms[k].detach() for k in names]))
                    logged_steps.append(t)
        if progress is not None:
            progress(n_chunk * m_models)
    flat = flat.detach().cpu()
    history = torch.stack(logged).cpu().numpy()  # [n_logged, n_terms, M]
    died = died_at.cpu().numpy()
    seconds = (time.perf_counter() - start) / m_models
    results = []
    for m, c in enumerate(cfgs):
        hist = pd.DataFrame(history[:, :, m], columns=names)
        hist.insert(0, "step", logged_steps)
        model = variant.module(c, flat[m])
        if died[m] >= 0:
            results.append(TrainResult(c, "diverged", hist, model, seconds, int(died[m]),
                                       f"loss or gradient became non-finite at step {int(died[m])}"))
        else:
            results.append(TrainResult(c, "ok", hist, model, seconds))
    return results


def _adam(p: torch.Tensor, g: torch.Tensor, exp1: torch.Tensor, exp2: torch.Tensor,
          lr: torch.Tensor, t: int) -> None:
    """One Adam step (Kingma & Ba 2015) on [M, P] parameters with a per-model learning rate ``lr`` [M]."""
    b1, b2 = ADAM_BETAS
    exp1.lerp_(g, 1 - b1)
    exp2.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = (exp2 / (1 - b2**t)).sqrt_().add_(ADAM_EPS)
    p.sub_((lr / (1 - b1**t)).unsqueeze(-1) * exp1 / denom)


