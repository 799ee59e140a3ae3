"""The state every route trains: M same-shaped models' parameters, Adam moments, alive/died-at, the
per-model coefficients and the objective's table, and their data.

A route (:mod:`vaebench.routes`) owns only its own buffers and layouts on top of a :class:`GroupState`.
Per-model coefficients are read from the configs in one place, :func:`coefficients`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vaebench import objective
from vaebench.config import RunConfig
from vaebench.data import training_points
from vaebench.losses import batch_mean_l2
from vaebench.model import Layout, init_flat, pad_index
from vaebench.schedules import beta_table
from vaebench.seeding import stream_rng


@dataclass(frozen=True)
class Coefs:
    """Per-model coefficients of a group, float32 on its device: ``lr``, ``l2``, ``recon_var`` [M],
    ``betas`` [steps, M] (β(t)), ``params`` (each [M])."""

    lr: Tensor
    l2: Tensor
    recon_var: Tensor
    betas: Tensor
    params: dict[str, Tensor]


def coefficients(cfgs: list[RunConfig], device: str) -> Coefs:
    """Every per-model number the objective and the optimiser read, in one place."""
    def per_model(values) -> Tensor:
        return torch.tensor(np.asarray(values, dtype=np.float32), device=device)

    # λ as the batch-mean objective weighs it, whatever the run's reduction (vaebench.losses)
    l2 = [batch_mean_l2(c.l2, c.reduction, c.batch_size) for c in cfgs]
    return Coefs(lr=per_model([c.lr for c in cfgs]), l2=per_model(l2),
                 recon_var=per_model([c.recon_var for c in cfgs]),
                 betas=per_model(np.stack([beta_table(c) for c in cfgs], axis=1)),
                 params={k: per_model([c.params[k] for c in cfgs]) for k in cfgs[0].params})


class GroupState:
    """What every route shares. ``flat`` [M, row]: the parameters in the route's training layout
    ``wide`` (rows a multiple of 64 floats: model m's numbers then do not depend on M in elementwise
    kernels' vector/tail split); ``exp1``, ``exp2`` Adam's moments; ``alive`` [M] bool and ``died_at``
    [M] (−1: alive); ``coefs``; ``table`` (the variant's :class:`~vaebench.objective.Table` for every
    step, or None for a variant that states a loss); ``data`` [M·n_train, 2]."""

    def __init__(self, cfgs: list[RunConfig], variant, wide: Layout):
        c0, dev = cfgs[0], cfgs[0].device
        self.cfgs, self.variant, self.m, self.d = cfgs, variant, len(cfgs), c0.latent_dim
        self.steps = c0.steps
        self.batch, self.device, self.wide = c0.batch_size, dev, wide
        self.layout = variant.layout(c0)
        self.index = torch.from_numpy(pad_index(self.layout, wide)).to(dev)
        init = np.stack([init_flat(self.layout, stream_rng(c.seed, "init")) for c in cfgs])
        self.flat = torch.zeros(self.m, -(-wide.n_params // 64) * 64, device=dev)
        self.flat[:, self.index] = torch.from_numpy(init).to(dev)
        self.exp1, self.exp2 = torch.zeros_like(self.flat), torch.zeros_like(self.flat)
        self.alive = torch.ones(self.m, dtype=torch.bool, device=dev)
        self.died_at = torch.full((self.m,), -1, dtype=torch.long, device=dev)
        self.coefs = coefficients(cfgs, dev)
        self.table = (objective.table(variant, self.coefs.betas, self.coefs.params, self.steps,
                                      recon_var=self.coefs.recon_var)
                      if objective.stated_by_terms(type(variant)) else None)
        data = np.stack([training_points(c.dataset, c.n_train, c.seed) for c in cfgs])
        self.data = torch.from_numpy(data.reshape(-1, 2)).to(dev)  # model m's rows at m·n_train
        self.row0 = torch.arange(self.m, device=dev).unsqueeze(-1) * c0.n_train  # [M, 1]
        self._rows: Tensor | None = None

    def batches(self, idx: Tensor, feature_major: bool) -> Tensor:
        """The minibatches of a chunk: indices [M, steps, B] → data [M, steps, B, 2]; where
        ``feature_major``, [steps, M, B] → [steps, M, 2, B]."""
        row0 = self.row0 if feature_major else self.row0.unsqueeze(-1)
        # one gather for the whole chunk, of 8-byte words (a row of 2 floats each): 2× faster than rows
        index = (idx + row0).view(-1)
        if self._rows is None or self._rows.shape != index.shape:
            self._rows = torch.empty_like(index)  # reused chunk to chunk, as the streams' buffers
        words = torch.index_select(self.data.view(torch.int64).view(-1), 0, index, out=self._rows)
        rows = words.view(torch.float32).view(*idx.shape, 2)
        return rows.transpose(2, 3).contiguous() if feature_major else rows

    def unpadded(self) -> Tensor:
        """The trained parameters in the public :class:`Layout`, [M, P], on the CPU."""
        return self.flat[:, self.index].cpu()
