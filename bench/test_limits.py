"""The machine's attainable FLOP/s: large ``torch.bmm`` calls, the denominator of every
``fraction_of_bmm_limit`` in :mod:`bench.test_training`.

``bmm_2048`` is one 2048³ product, ``bmm_large`` a batch of 16 512³ ones, ``bmm_layer`` the engine's
own layer shape at a large batch ([128, 512, 30] × [128, 30, 30], the shape shared/FACTS.md quotes). The
limit is the best of the three.
"""

from __future__ import annotations

import pytest
import torch

from bench.common import DEVICES, LIMIT_SHAPES, attainable_flops, machine_info, measure, sync


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape_name", list(LIMIT_SHAPES))
def test_bmm_flops(benchmark, quick, device, shape_name):
    b, n, k, m = LIMIT_SHAPES[shape_name]
    if quick:
        b, n = max(1, b // 8), min(n, 512)
    x, y = torch.randn(b, n, k, device=device), torch.randn(b, k, m, device=device)

    def run():
        for _ in range(5):
            torch.bmm(x, y)
        sync(device)

    benchmark.group = f"limits {device}"
    best = measure(benchmark, run, rounds=10, quick=quick)
    info = {"device": device, "shape": f"[{b},{n},{k}]x[{b},{k},{m}]", **machine_info()}
    if best is not None:
        info["gflops_per_s"] = 5 * 2.0 * b * n * k * m / best / 1e9
        info["session_limit_gflops_per_s"] = attainable_flops(device)["limit"] / 1e9
    benchmark.extra_info.update(info)
