"""Speed over a long run must stay flat: denormal weights and Adam moments appear after about 1 500
steps and slowed steps 1.7–10× before the engine flushed them (shared/FACTS.md). The engine's progress
callback time-stamps the run; ``late_over_early`` is the model-step rate in the last fifth of the wall
time over the rate in the first fifth (1.0 = flat)."""

from __future__ import annotations

import threading
import time

import pytest

import vaebench
from bench.common import DEVICES, machine_info, measure, sync


@pytest.mark.parametrize("device", DEVICES)
def test_long_run_speed_is_flat(benchmark, quick, device):
    models, steps = (2, 128) if quick else (32, 6000)
    cfgs = [vaebench.RunConfig(beta=0.01, l2=1e-3, seed=s, steps=steps, batch_size=128, device=device)
            for s in range(models)]
    stamps: list[tuple[float, int]] = []
    lock = threading.Lock()

    def progress(n: int) -> None:
        with lock:
            stamps.append((time.perf_counter(), n))

    def run():
        stamps.clear()
        vaebench.train(cfgs, progress=progress)
        sync(device)

    benchmark.group = f"long run {device}"
    best = measure(benchmark, run, rounds=1, quick=quick)
    info = {"device": device, "models": models, "steps": steps, **machine_info()}
    if best is not None:
        t0, t1 = stamps[0][0], stamps[-1][0]  # from the first chunk's end: setup is not training
        fifth = (t1 - t0) / 5

        def rate(lo: float, hi: float) -> float:
            done = sum(n for t, n in stamps if lo < t <= hi)
            return done / (hi - lo)

        early, late = rate(t0, t0 + fifth), rate(t1 - fifth, t1)
        info.update(model_steps_per_s=models * steps / best, early_model_steps_per_s=early,
                    late_model_steps_per_s=late, late_over_early=late / early)
    benchmark.extra_info.update(info)
