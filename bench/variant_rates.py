"""Per-variant training rates from CPU time, for a shared machine: ``python -m bench.variant_rates``.

On a machine that other jobs share, wall-clock rates swing with their load; the CPU time of one
single-threaded process does not (much). This script trains every shipped variant at M = 3, 32 and 128
(B = 128, d = 2, the seed's MLP) in one process with one thread, rounds interleaved across variants, and
prints model-steps per CPU-second (the fastest round) and the ratio to vae at the same M: the per-variant
table of bench/RESULTS.md. ``bench/test_training.py::test_variant_throughput`` measures the same in wall
time (pytest-benchmark), for a quiet machine.
"""

from __future__ import annotations

import sys
import time

import torch

import vaebench

VARIANTS = ("vae", "ae", "capacity", "free_bits", "infovae", "wae", "sigma_vae")
STEPS = {3: 512, 32: 128, 128: 64}


def rates(models: int, steps: int, rounds: int = 3) -> dict[str, tuple[float, str]]:
    """Model-steps per CPU-second (best of ``rounds``, after a warm-up) and the route, per variant."""
    cfgs = {v: [vaebench.RunConfig(variant=v, beta=0.1, seed=s, steps=steps, batch_size=128, latent_dim=2)
                for s in range(models)] for v in VARIANTS}
    best: dict[str, float] = {}
    route: dict[str, str] = {}
    for r in range(rounds + 1):
        for v in VARIANTS:
            start = time.process_time()
            route[v] = vaebench.train(cfgs[v])[0].engine
            seconds = time.process_time() - start
            if r > 0:
                best[v] = min(best.get(v, float("inf")), seconds)
    return {v: (models * steps / best[v], route[v]) for v in VARIANTS}


def main() -> int:
    torch.set_num_threads(1)
    print("| M | " + " | ".join(VARIANTS) + " | route |")
    print("|---:|" + "---:|" * len(VARIANTS) + "---|")
    for m, steps in STEPS.items():
        found = rates(m, steps)
        vae = found["vae"][0]
        cells = [f"{found[v][0]:,.0f}" + ("" if v == "vae" else f" ({found[v][0] / vae:.2f}×)")
                 for v in VARIANTS]
        print(f"| {m} | " + " | ".join(cells) + f" | {', '.join(sorted({r for _, r in found.values()}))} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
