"""Encode and decode throughput of a trained model (the plain ``nn.Module`` every run returns), in
samples per second, on 100 000 points (1 000 with ``--benchmark-disable``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.common import DEVICES, machine_info, measure, sync
from vaebench.model import MLPVAE, Layout, init_flat


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("latent_dim", [1, 2])
@pytest.mark.parametrize("op", ["encode", "decode"])
def test_encode_decode_throughput(benchmark, quick, device, latent_dim, op):
    n = 1_000 if quick else 100_000
    layout = Layout.build(2, latent_dim, (30, 30), stochastic=True)
    flat = torch.from_numpy(init_flat(layout, np.random.default_rng(0)))
    model = MLPVAE.from_flat(latent_dim, (30, 30), True, flat).to(device)
    inputs = torch.rand(n, 2 if op == "encode" else latent_dim, device=device)
    fn = getattr(model, op)

    def run():
        with torch.no_grad():
            fn(inputs)
        sync(device)

    benchmark.group = f"inference {device}"
    best = measure(benchmark, run, rounds=10, quick=quick)
    benchmark.extra_info.update({"op": op, "device": device, "latent_dim": latent_dim, "n": n,
                                 **machine_info()})
    if best is not None:
        benchmark.extra_info["samples_per_s"] = n / best
