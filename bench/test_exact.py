"""Exact inference (vaebench.metrics.exact) per run, one thread.

``test_exact_inference``: :func:`~vaebench.metrics.exact.exact_inference` on n = 1 000 U[0, 1]² points of
seed VAEs (2×30 ReLU, σ² = 0.5, 3 000 steps) at β = 0.003, 0.01, 0.03 and 0.1, d = 2 and d = 1, torch
pinned to one thread; issue 21's target: ≤ 30 ms per run at d = 2 on the kernel route. ``extra_info``:
``ms_per_run`` by β (fastest round), the largest of them, the quadrature error estimate, and (benchmarks
enabled) the largest difference of each number from a 1 024² reference grid (1 024 intervals per dimension
on both grids).
"""

from __future__ import annotations

import pytest
import torch

from bench.common import machine_info

exact = pytest.importorskip("vaebench.metrics.exact", reason="vaebench.metrics.exact not available")

BETAS = (0.003, 0.01, 0.03, 0.1)
KEYS = ("log_px", "elbo", "posterior_gap", "marginal_kl", "mutual_information")


@pytest.fixture(scope="module")
def models(quick):
    import vaebench

    steps = 100 if quick else 3000
    cfgs = [vaebench.RunConfig(beta=b, latent_dim=d, steps=steps, seed=0) for d in (2, 1) for b in BETAS]
    return {(c.latent_dim, c.beta): r.model.cpu() for c, r in zip(cfgs, vaebench.train(cfgs), strict=True)}


def _reference(model, x) -> dict:
    saved = exact.LOGPX_INTERVALS, exact.NODES_PER_SIGMA
    exact.LOGPX_INTERVALS, exact.NODES_PER_SIGMA = (1024,), 1e9  # both grids at 1 024 intervals
    try:
        return exact.exact_inference(model, x, 0.5)
    finally:
        exact.LOGPX_INTERVALS, exact.NODES_PER_SIGMA = saved


@pytest.mark.parametrize("latent_dim", [2, 1])
def test_exact_inference(benchmark, quick, models, latent_dim):
    import time

    from vaebench import cpu_kernel
    from vaebench.data import sample

    x = sample("uniform", 1000, 12345)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {b: models[(latent_dim, b)] for b in BETAS}
        rounds = 1 if quick else 7
        ms, errors, worst = {}, {}, dict.fromkeys(KEYS, 0.0)
        for beta, model in runs.items():
            out = exact.exact_inference(model, x, 0.5)  # warm-up (and the kernel's build)
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                exact.exact_inference(model, x, 0.5)
                times.append(time.perf_counter() - t0)
            ms[beta] = 1e3 * min(times)
            errors[beta] = out["quadrature_error"]
            if not quick:
                ref = _reference(model, x)
                for key in KEYS:
                    worst[key] = max(worst[key], abs(out[key] - ref[key]))
        benchmark.group = "exact"
        benchmark.pedantic(lambda: exact.exact_inference(runs[0.003], x, 0.5), rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    benchmark.extra_info.update({
        **machine_info(), "latent_dim": latent_dim, "n": len(x), "route": cpu_kernel.active(), "threads": 1,
        "ms_per_run": {str(b): round(v, 2) for b, v in ms.items()},
        "ms_per_run_max": round(max(ms.values()), 2),
        "quadrature_error_estimate": {str(b): v for b, v in errors.items()},
        **({} if quick else {"max_abs_diff_from_1024_grid": worst})})
