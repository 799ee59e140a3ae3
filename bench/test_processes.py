"""Two processes sharing the cores must not collapse.

Each case starts P processes at once; each sets ``torch.set_num_threads(T)``, waits for a common start
time (so interpreter start-up is not timed), trains M = 32 models and reports when it finished.
``model_steps_per_s`` is the aggregate over all processes. The engine splits its models across T workers
(threads: vaebench/engine.py) with one intra-op thread each; the
torch.func baseline runs PyTorch's OpenMP operators with T threads, which is what collapses when two
such processes share two cores (shared/FACTS.md). ``vs_one_process`` compares each case with one
process of T = cores measured in the same session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import machine_info, measure

ROOT = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 2
SCRIPT = """
import json, sys, time, torch
sys.path.insert(0, {root!r})
impl, threads, models, steps, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
    float(sys.argv[5])
torch.set_num_threads(threads)
import vaebench
from bench.baselines import torch_func_ensemble
cfgs = [vaebench.RunConfig(beta=0.1, seed=s, steps=steps, batch_size=128) for s in range(models)]
while time.time() < start:
    time.sleep(0.01)
if impl == "engine":
    vaebench.train(cfgs)
else:
    torch_func_ensemble(models, steps, 128)
print(json.dumps({{"end": time.time()}}))
"""
CASES = [(1, CORES), (2, 1), (2, CORES)]  # (processes, threads per process)


@pytest.fixture(scope="module")
def single_rates() -> dict[str, float]:
    return {}


@pytest.mark.parametrize("impl", ["engine", "torch_func"])
@pytest.mark.parametrize(("processes", "threads"), CASES, ids=[f"P{p}-T{t}" for p, t in CASES])
def test_processes_sharing_cores(benchmark, quick, single_rates, impl, processes, threads):
    models, steps = (4, 4) if quick else ((32, 512) if impl == "engine" else (32, 64))
    script = SCRIPT.format(root=str(ROOT))
    result: dict[str, float] = {}

    def run():
        start = time.time() + 6.0  # after every interpreter has imported torch
        procs = [subprocess.Popen([sys.executable, "-c", script, impl, str(threads), str(models), str(steps),
                                   str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        ends = []
        for p in procs:
            out, err = p.communicate(timeout=600)
            if p.returncode != 0:
                raise AssertionError(f"worker failed: {err[-2000:]}")
            ends.append(json.loads(out.strip().splitlines()[-1])["end"])
        result["seconds"] = max(ends) - start

    benchmark.group = f"processes sharing {CORES} cores"
    measure(benchmark, run, rounds=1, quick=True)  # one timed round each: start-up is excluded inside
    info = {"impl": impl, "processes": processes, "threads_per_process": threads, "models": models,
            "steps": steps, **machine_info()}
    if not quick:
        rate = processes * models * steps / result["seconds"]
        info.update(seconds=result["seconds"], model_steps_per_s=rate)
        if processes == 1:
            single_rates[impl] = rate
        elif impl in single_rates:
            info["vs_one_process"] = rate / single_rates[impl]
    benchmark.extra_info.update(info)
