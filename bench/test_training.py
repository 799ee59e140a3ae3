"""Training throughput: the engine against the obvious loop and torch.func ensembling, in one run.

For every (device, latent dimension d, batch size B, models M) the implementations run one after
another, the baselines first, so each engine row stores its ratios to figures measured minutes earlier
on the same machine in the same process: ``ratio_vs_obvious_loop``, ``ratio_vs_torch_func`` and a
``summary`` string ("engine / obvious loop = 29.8×, …"). On the CPU, for d = 2 and B = 128, the engine
also runs with ``VAEBENCH_CPU_KERNEL=torch`` (``engine_operators``: its PyTorch-operator path, the one
CUDA uses), so ``ratio_vs_engine_operators`` says what the C kernel gains; ``cpu_path`` records which
path the ``engine`` row took. All train the seed VAE (2→30→30→2d,
d→30→30→2, ReLU) with the ``vae`` loss and Adam; times are end to end (setup, data, results).

The obvious loop trains one model after another, so its rate does not depend on M: it is timed on
min(M, 2) models. The engine trains 1 024 steps at M = 32 and 128 (a study runs 3 000): its set-up
and result building (about 0.3 ms per model) then weigh a few percent, as in a study. Rates come
from the fastest of 3 rounds (after a warm-up round), which on a shared machine is the least disturbed;
``model_steps_per_s_median`` keeps the median's.

Compute efficiency: ``flops_per_sample`` counts the matrix-multiply FLOPs of a step from the layer
shapes, ``fraction_of_bmm_limit`` divides the achieved FLOP/s by the best FLOP/s of a
large ``torch.bmm`` measured in the same session (:func:`bench.common.attainable_flops`).
"""

from __future__ import annotations

import pytest

import vaebench
from bench.baselines import obvious_loop, torch_func_ensemble
from bench.common import attainable_flops, machine_info, measure, sync, training_flops_per_sample
from vaebench import cpu_kernel

IMPLS = ("obvious_loop", "torch_func", "engine_operators", "engine")
CPU_SHAPES = ([(2, 128, m) for m in (1, 8, 32, 128, 512)] + [(1, 128, m) for m in (1, 8, 32, 128, 512)]
              + [(2, 512, m) for m in (1, 128)])
CUDA_SHAPES = [(2, 128, m) for m in (1, 128, 512, 4096)] + [(2, 512, m) for m in (128, 4096)]
ENGINE_STEPS = {1: 512, 8: 512, 32: 1024, 128: 1024, 512: 512, 4096: 64}  # at B = 128; fewer at larger B
OBVIOUS_STEPS = 200


def _cases():
    import torch

    out = []
    for device, shapes in (("cpu", CPU_SHAPES), ("cuda", CUDA_SHAPES)):
        marks = [] if device == "cpu" or torch.cuda.is_available() else [
            pytest.mark.skip(reason="needs a CUDA device")]
        for d, b, m in shapes:
            for impl in IMPLS:  # baselines first: the engine row reads their rates
                if impl == "engine_operators" and not (device == "cpu" and d == 2 and b == 128):
                    continue
                out.append(pytest.param(device, d, b, m, impl, id=f"{device}-d{d}-B{b}-M{m}-{impl}",
                                        marks=marks))
    return out


def _workload(impl: str, m: int, b: int, quick: bool) -> tuple[int, int]:
    """(models actually trained, steps per model) of one benchmark round."""
    if quick:
        return (min(m, 2) if impl == "obvious_loop" else m), 2
    if impl == "obvious_loop":
        return min(m, 2), OBVIOUS_STEPS
    steps = max(32, ENGINE_STEPS[m] * 128 // b)
    return m, (steps if impl.startswith("engine") else max(8, steps // 4))


@pytest.mark.parametrize(("device", "latent_dim", "batch_size", "models", "impl"), _cases())
def test_training_throughput(benchmark, quick, rates, monkeypatch, device, latent_dim, batch_size, models,
                             impl):
    n_models, steps = _workload(impl, models, batch_size, quick)
    if impl == "engine_operators":
        monkeypatch.setenv(cpu_kernel.ENV, "torch")
    if impl.startswith("engine"):
        cfgs = [vaebench.RunConfig(beta=0.1, seed=s, steps=steps, batch_size=batch_size,
                                   latent_dim=latent_dim, device=device) for s in range(n_models)]

        def run():
            vaebench.train(cfgs)
            sync(device)
    elif impl == "torch_func":
        def run():
            torch_func_ensemble(n_models, steps, batch_size, latent_dim, device=device)
    else:
        def run():
            obvious_loop(n_models, steps, batch_size, latent_dim, device=device)

    benchmark.group = f"train {device} d={latent_dim} B={batch_size}"
    best = measure(benchmark, run, rounds=3, quick=quick)
    flops = training_flops_per_sample(latent_dim)
    info = {"impl": impl, "device": device, "latent_dim": latent_dim, "batch_size": batch_size,
            "models": models, "models_timed": n_models, "steps": steps,
            "flops_per_sample": flops["total"], "flops_per_step_per_model": flops["total"] * batch_size,
            **machine_info()}
    if impl.startswith("engine") and device == "cpu":
        info["cpu_path"] = cpu_kernel.active()
        if impl == "engine_operators":
            assert info["cpu_path"] == "operators", "engine_operators must run the PyTorch-operator path"
    if best is None:  # --benchmark-disable: the code ran once, nothing to report
        benchmark.extra_info.update(info)
        return
    rate = n_models * steps / best  # the fastest round: the least disturbed by other processes
    limit = attainable_flops(device)["limit"]
    achieved = rate * batch_size * flops["total"]
    info.update(model_steps_per_s=rate, samples_per_s=rate * batch_size, gflops_per_s=achieved / 1e9,
                model_steps_per_s_median=n_models * steps / benchmark.stats.stats.median,
                bmm_limit_gflops_per_s=limit / 1e9, fraction_of_bmm_limit=achieved / limit)
    rates[(impl, device, latent_dim, batch_size, models)] = rate
    if impl == "engine":
        info.update(engine_ratios(rates, (device, latent_dim, batch_size, models), rate, achieved / limit))
    benchmark.extra_info.update(info)


BASELINES = (("obvious_loop", "obvious loop"), ("torch_func", "torch.func"),
             ("engine_operators", "engine operators"))


def engine_ratios(rates: dict, key: tuple, rate: float, fraction: float) -> dict:
    """``ratio_vs_<baseline>`` for every baseline measured in this session at ``key`` = (device, d, B, M),
    and a ``summary`` sentence with them and the fraction of the bmm limit."""
    out, parts = {}, []
    for base, label in BASELINES:
        base_rate = rates.get((base, *key))
        if base_rate:
            out[f"ratio_vs_{base}"] = rate / base_rate
            parts.append(f"engine / {label} = {rate / base_rate:.1f}×")
    out["summary"] = ", ".join(parts + [f"{100 * fraction:.1f}% of the bmm limit"])
    return out


def test_engine_ratios_use_the_rates_of_the_same_key():
    rates = {("obvious_loop", "cpu", 2, 128, 128): 1000.0, ("torch_func", "cpu", 2, 128, 128): 10_000.0,
             ("torch_func", "cpu", 2, 128, 32): 1.0}  # another M: must not be used
    out = engine_ratios(rates, ("cpu", 2, 128, 128), 50_000.0, 0.21)
    assert out["ratio_vs_obvious_loop"] == 50.0 and out["ratio_vs_torch_func"] == 5.0
    assert "ratio_vs_engine_operators" not in out
    assert out["summary"] == ("engine / obvious loop = 50.0×, engine / torch.func = 5.0×, "
                              "21.0% of the bmm limit")


# Every shipped variant against vae at the same M, in one run (vae first at each M: the others read its
# rate). B = 128, d = 2, the seed's MLP; on CUDA the operators route up to M = 4 096.
VARIANTS = ("vae", "ae", "capacity", "free_bits", "infovae", "wae", "sigma_vae")
VARIANT_MODELS = {"cpu": (3, 32, 128), "cuda": (3, 128, 4096)}
VARIANT_STEPS = {3: 512, 32: 256, 128: 128, 4096: 64}


def _variant_cases():
    import torch

    out = []
    for device, models in VARIANT_MODELS.items():
        marks = [] if device == "cpu" or torch.cuda.is_available() else [
            pytest.mark.skip(reason="needs a CUDA device")]
        for m in models:
            for v in VARIANTS:
                out.append(pytest.param(device, m, v, id=f"{device}-M{m}-{v}", marks=marks))
    return out


@pytest.mark.parametrize(("device", "models", "variant"), _variant_cases())
def test_variant_throughput(benchmark, quick, rates, device, models, variant):
    steps = 2 if quick else VARIANT_STEPS[models]
    cfgs = [vaebench.RunConfig(variant=variant, beta=0.1, seed=s, steps=steps, batch_size=128, latent_dim=2,
                               device=device) for s in range(models)]
    engines = set()

    def run():
        engines.update(r.engine for r in vaebench.train(cfgs))
        sync(device)

    benchmark.group = f"variants {device} B=128 d=2 M={models}"
    best = measure(benchmark, run, rounds=3, quick=quick)
    info = {"variant": variant, "device": device, "models": models, "steps": steps, "batch_size": 128,
            "latent_dim": 2, "engine": ",".join(sorted(engines)), **machine_info()}
    if device == "cuda":
        info["device_name"] = __import__("torch").cuda.get_device_name()
    if best is not None:
        rate = models * steps / best
        rates[("variant", variant, device, models)] = rate
        vae = rates.get(("variant", "vae", device, models))
        info.update(model_steps_per_s=rate, ratio_vs_vae=None if vae is None else rate / vae)
    benchmark.extra_info.update(info)
