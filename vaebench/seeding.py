"""Independent random streams per run, derived from the run's seed alone.

Every run draws its training data, initial weights, minibatch order, reparameterisation noise, prior
samples and evaluation set from its own streams, keyed by (seed, stream): NumPy PCG64 generators for the
data, the initial weights and the evaluation; for the per-step draws (minibatch permutations, noise,
prior samples) ``torch.Generator`` s seeded from the same key, whose ``randn``/``randperm`` are 2–3×
faster on the CPU at the engine's sizes. Nothing depends on which other runs are trained beside it, nor
on the device (the per-step draws are made on the CPU).
"""

from __future__ import annotations

import numpy as np
import torch

STREAMS = {"init": 0, "data": 1, "batches": 2, "noise": 3, "prior": 4, "eval": 5, "metrics": 6}


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """A Generator for ``stream`` (one of STREAMS) of run ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, STREAMS[stream]]))


def stream_seed(seed: int, stream: str) -> int:
    """An integer seed for ``stream`` of run ``seed`` (for functions that take a seed, like data.sample)."""
    return int(np.random.SeedSequence([seed, STREAMS[stream]]).generate_state(1, np.uint64)[0] >> 1)


def stream_generator(seed: int, stream: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for ``stream`` of run ``seed``, seeded with :func:`stream_seed`."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))
