"""Independent random streams per run, derived from the run's seed alone.

Every run draws its training data, initial weights, minibatch order, reparameterisation noise, prior
samples and evaluation set from its own streams, keyed by (seed, stream): NumPy PCG64 generators for the
data, the initial weights and the evaluation; for the per-step draws (minibatch permutations, noise,
prior samples) ``torch.Generator`` s (mt19937) with a 32-bit seed derived injectively from the key, whose
``randn``/``randperm`` are 2–3× faster on the CPU at the engine's sizes. Nothing depends on which other
runs are trained beside it, nor on the device (the per-step draws are made on the CPU).
"""

from __future__ import annotations

import numpy as np
import torch

STREAMS = {"init": 0, "data": 1, "batches": 2, "noise": 3, "prior": 4, "eval": 5, "metrics": 6}


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """A Generator for ``stream`` (one of STREAMS) of run ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, STREAMS[stream]]))


def derive_seed(seed: int, key: int, *, wide: bool = False) -> int:
    """An integer seed derived from (``seed``, ``key``) by NumPy's SeedSequence: the first 32-bit word of
    its state, or with ``wide`` the first 64-bit word shifted to 63 bits. The one derivation of seeds from
    seeds: run streams (:func:`stream_seed`) and the metrics' sub-streams (the suite's and
    :mod:`~vaebench.metrics.gaussianity`'s) call it."""
    state = np.random.SeedSequence([seed, key])
    return int(state.generate_state(1, np.uint64)[0] >> 1) if wide else int(state.generate_state(1)[0])


def stream_seed(seed: int, stream: str) -> int:
    """An integer seed for ``stream`` of run ``seed`` (for functions that take a seed, like data.sample)."""
    return derive_seed(seed, STREAMS[stream], wide=True)


def _fmix32(h: int) -> int:
    """MurmurHash3's finaliser: a bijection of 32-bit integers that spreads nearby inputs apart."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def stream_generator_seed(seed: int, stream: str) -> int:
    """The 32-bit seed of :func:`stream_generator`. PyTorch's CPU generator (mt19937) keeps only 32 bits of
    its seed, so a hash of (seed, stream) would let two runs share a stream by chance (birthday odds: about
    one pair among 10⁵ runs). Instead a bijection of (seed + a per-stream offset) mod 2³²: within a stream,
    seeds that differ modulo 2³² never share a generator; two streams (noise of one run, prior samples of
    another) share one only if their seeds differ by about 2.6·10⁹ (the offsets' spacing)."""
    offset = (STREAMS[stream] * 0x9E3779B9) & 0xFFFFFFFF  # golden-ratio spacing
    return _fmix32((seed + offset) & 0xFFFFFFFF)


def stream_generator(seed: int, stream: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for ``stream`` of run ``seed`` (see :func:`stream_generator_seed`)."""
    return torch.Generator().manual_seed(stream_generator_seed(seed, stream))
