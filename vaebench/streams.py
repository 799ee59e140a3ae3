"""The per-step random draws of a group of runs: minibatch indices, reparameterisation noise, prior samples.

Each run draws from its own generators (:func:`vaebench.seeding.stream_generator`), in chunks of
:data:`CHUNK` steps, so its numbers are the same whatever runs are trained beside it.
"""

from __future__ import annotations

import torch

from vaebench.config import RunConfig
from vaebench.seeding import stream_generator

CHUNK = 64  # steps of minibatch indices and noise drawn at once per model


class Streams:
    """Per-model minibatch indices (a fresh permutation each epoch), noise and prior draws, by chunk."""

    def __init__(self, cfgs: list[RunConfig], noise: bool, prior: bool):
        self.n, self.b, self.d = cfgs[0].n_train, cfgs[0].batch_size, cfgs[0].latent_dim
        self.idx_rng = [stream_generator(c.seed, "batches") for c in cfgs]
        self.noise_rng = [stream_generator(c.seed, "noise") for c in cfgs] if noise else None
        self.prior_rng = [stream_generator(c.seed, "prior") for c in cfgs] if prior else None
        self.pending = [torch.empty(0, dtype=torch.int64) for _ in cfgs]
        self.buffers: dict[tuple, torch.Tensor] = {}  # reused chunk to chunk: fresh MBs cost page faults

    def _buffer(self, name: str, shape: tuple, dtype) -> torch.Tensor:
        key = (name, shape)
        if key not in self.buffers:
            self.buffers[key] = torch.empty(shape, dtype=dtype)
        return self.buffers[key]

    def _indices(self, m: int, count: int) -> torch.Tensor:
        buf = self.pending[m]
        while len(buf) < count:  # a fresh permutation of the training set each epoch
            buf = torch.cat([buf, torch.randperm(self.n, generator=self.idx_rng[m])])
        self.pending[m] = buf[count:]
        return buf[:count]

    def chunk(self, steps: int, device: str, feature_major: bool):
        """Indices [M, steps, B], noise and prior samples [M, steps, B, d], model-major: each model's
        draws fill its own contiguous block, the same whatever M is. Where ``feature_major`` (the operator
        path) step-major instead: indices [steps, M, B], noise [steps, M, d, B], prior [steps, M, B, d].
        The arrays are reused by the next call: a chunk is used up before the next one is drawn."""
        m_models = len(self.pending)
        idx = self._buffer("idx", (m_models, steps, self.b), torch.int64)
        for m in range(m_models):
            idx[m] = self._indices(m, steps * self.b).view(steps, self.b)

        def normal(rngs, name):
            if rngs is None:
                return None
            out = self._buffer(name, (m_models, steps, self.b, self.d), torch.float32)
            for m, r in enumerate(rngs):
                torch.randn(steps, self.b, self.d, generator=r, out=out[m])
            return out

        noise, prior = normal(self.noise_rng, "noise"), normal(self.prior_rng, "prior")
        if feature_major:
            idx = idx.transpose(0, 1).contiguous()
            noise = None if noise is None else noise.permute(1, 0, 3, 2).contiguous()
            prior = None if prior is None else prior.transpose(0, 1).contiguous()
        return tuple(None if a is None else a.to(device) for a in (idx, noise, prior))
