"""The up-front memory estimate of a study: what its largest shard (or wave of shards) needs, on the host
and on a GPU.

A unit (a wave of shards, :mod:`vaebench.execution.plan`) trains its runs as one batch, then evaluates
them, keeping every run's evaluation arrays until its shard is stored
(:mod:`vaebench.execution.tasks`). So its peak on the host is the training state of all its runs, plus
the kept arrays of all its runs, plus the transient working set of evaluating one run per evaluation
thread, plus the interpreter and torch runtime. The local executor trains a wave while the previous
one is evaluated by several threads (:mod:`vaebench.execution.local`): two waves' state and kept
arrays, and one working set per evaluation thread, are alive at once; a Dask worker process holds one.
Evaluation runs on the CPU (:mod:`vaebench.evaluation` moves the model there), so on CUDA the GPU holds
the training state and the CUDA context. Numbers are float32 words (4 bytes) unless said otherwise; the
estimate is rough, an upper bound for the large terms, and :func:`check_fits` refuses a plan above
:data:`MEMORY_FRACTION` of the memory there is, with the estimate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vaebench.config import RunConfig
from vaebench.engine import CHUNK
from vaebench.variants import get_variant

MEMORY_FRACTION = 0.8  # a shard may use at most this share of the memory there is (host: physical; GPU: free)
# torch runtime and interpreter, per process (FACTS: ≈ 220-400 MB), and the evaluation inputs' neighbour
# structures kept across runs (vaebench.metrics._neighbours.SHARED_POINTS points, ≤ 512 bytes each)
PROCESS_BYTES = 400 * 2**20 + 32 * 2**20
CUDA_CONTEXT_BYTES = 500 * 2**20  # the CUDA context and the caching allocator's slack, per process
DECODER_ROWS = 1 << 16  # rows per decoder call of the likelihood bounds (vaebench.metrics.likelihood)
# the metric suite's working set per evaluation point: 1 090 bytes measured (resident memory, d = 2,
# hidden [30, 30], 100 000 and 400 000 points; tests/test_memory.py measures it again)
METRICS_BYTES_PER_POINT = 1200


def train_bytes(cfg: RunConfig) -> int:
    """One run's training state: training data, parameters with gradient and Adam moments, one step's
    activations forward and backward, the pre-drawn chunk of minibatch indices and noise."""
    d, b = cfg.latent_dim, cfg.batch_size
    layout = get_variant(cfg.variant).layout(cfg)  # an analytic reference's has no layers
    widths = sum(ly.n_out for ly in layout.encoder + layout.decoder)
    words = (2 * cfg.n_train + 6 * layout.n_params + 8 * b * (widths + 2 * d + 2)
             + CHUNK * b * (2 + 2 * d))
    return 4 * words


def kept_eval_bytes(cfg: RunConfig, n_eval: int) -> int:
    """One run's evaluation arrays, kept until its shard is stored: x, recon, recon_mean, generated
    (2 words a point each), quadrant (int64: 2), mu, logvar, z (d each)."""
    return 4 * n_eval * (10 + 3 * cfg.latent_dim)


def forward_bytes(cfg: RunConfig, rows: int) -> int:
    """The network run on ``rows`` points at once, without gradients: two layers' outputs alive (a layer
    and its ReLU), max(hidden) wide."""
    layout = get_variant(cfg.variant).layout(cfg)  # an analytic reference's has no layers
    width = max((ly.n_out for ly in layout.encoder + layout.decoder), default=0)
    return 4 * rows * 2 * width


def eval_peak_bytes(cfg: RunConfig, n_eval: int) -> int:
    """The transient working set of evaluating one run, the larger of its two phases: the evaluation
    arrays, the encoder and decoder on all ``n_eval`` points at once; then the metrics, about
    METRICS_BYTES_PER_POINT a point, while the likelihood bounds run the decoder on DECODER_ROWS samples
    at a time."""
    metrics = METRICS_BYTES_PER_POINT * n_eval + forward_bytes(cfg, DECODER_ROWS)
    return max(forward_bytes(cfg, n_eval), metrics)


@dataclass(frozen=True)
class ShardMemory:
    """Estimated peak bytes of a shard or wave: ``host`` (training on the CPU included) and ``device`` (the
    GPU's share on CUDA, else 0); ``train`` and ``evaluation`` split the total (GPU and host together);
    ``working``: the part of ``evaluation`` that is the transient working set of the runs evaluated at
    once (the rest is the kept arrays)."""

    host: int
    device: int
    train: int
    evaluation: int
    working: int = 0


def shard_memory(configs: list[RunConfig], n_eval: int, eval_threads: int = 1) -> ShardMemory:
    """The estimate of one shard (runs of one engine group, so one device), or of a wave of shards on
    one device evaluated by ``eval_threads`` threads at once."""
    if not configs:
        return ShardMemory(PROCESS_BYTES, 0, 0, 0)
    train = sum(train_bytes(c) for c in configs)
    working = min(eval_threads, len(configs)) * max(eval_peak_bytes(c, n_eval) for c in configs)
    evaluation = sum(kept_eval_bytes(c, n_eval) for c in configs) + working
    if configs[0].device == "cuda":
        return ShardMemory(PROCESS_BYTES + evaluation, CUDA_CONTEXT_BYTES + train, train, evaluation, working)
    return ShardMemory(PROCESS_BYTES + train + evaluation, 0, train, evaluation, working)


def host_budget() -> int | None:
    """MEMORY_FRACTION of the machine's physical memory (None where the system does not say)."""
    try:
        return int(MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def device_budget() -> int | None:
    """MEMORY_FRACTION of the free memory of the current CUDA device (None without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info()
    return int(MEMORY_FRACTION * free)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(shards: list[list[RunConfig]], n_eval: int, shard_size: int, in_flight: int = 1,
               eval_threads: int = 1, unit: str = "shard") -> ShardMemory:
    """The largest estimate over ``shards`` (host and device each their own maximum; ``unit``: what they
    are, "shard" or "wave", for the message); ValueError with the estimate when ``in_flight`` of them
    alive at once in one process need more than the host allows (the local executor trains a wave while
    the previous one is evaluated by ``eval_threads`` threads: 2, their state and kept arrays each, the
    working sets once), or one more than the GPU allows."""
    estimates = [shard_memory(s, n_eval, eval_threads) for s in shards] or [shard_memory([], n_eval)]
    host = max(estimates, key=lambda e: e.host)
    # one runtime and one set of evaluation working sets; n units' training state and kept arrays
    needed = host.host + (in_flight - 1) * (host.train + host.evaluation - host.working)
    device = max(estimates, key=lambda e: e.device)
    budget = host_budget()
    if budget is not None and needed > budget:
        what = (f"the largest {unit} needs" if in_flight == 1
                else f"{in_flight} of the largest {unit} in flight need")
        raise ValueError(f"shard_size = {shard_size}: {what} about {_gib(needed)}, more "
                         f"than the {_gib(budget)} this machine allows ({MEMORY_FRACTION:.0%} of its memory; "
                         f"a {unit}: training {_gib(host.train)}, evaluation {_gib(host.evaluation)}); lower "
                         f"the shard size, n_train, batch_size, hidden or n_eval"
                         + (", or the threads" if unit == "wave" else ""))
    budget = device_budget() if device.device else None
    if budget is not None and device.device > budget:
        raise ValueError(f"shard_size = {shard_size}: the largest {unit} needs about {_gib(device.device)} "
                         f"of GPU memory, more than the {_gib(budget)} the GPU allows ({MEMORY_FRACTION:.0%} "
                         f"of its free memory; training {_gib(device.train)}); lower the shard size, "
                         f"n_train, batch_size or hidden, or use device = 'cpu'")
    return ShardMemory(host.host, device.device, host.train, host.evaluation, host.working)
