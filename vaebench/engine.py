"""The training engine: M models of one shape trained at once as stacked parameters.

``train(configs)`` groups runs by shape (variant, latent_dim, hidden, batch_size, steps, n_train, device),
splits the groups into parts and trains every part on a route (:mod:`vaebench.routes`) over a shared
:class:`~vaebench.group.GroupState`: no Python loop over models inside a step. One model is the case
M = 1. Per-model randomness comes from each run's own streams (:mod:`vaebench.streams`), drawn in chunks
of ``CHUNK`` steps, so a run's numbers do not depend on the runs beside it, nor on the parts. A model
whose loss or gradient turns non-finite is frozen at its last finite parameters and reported as
diverged; the others are untouched.

Parallelism in training lives here alone (:func:`_run_parts`): on the CPU the parts of all groups go to
``threads`` worker threads (an argument: the caller decides, :mod:`vaebench.execution.plan` for a
study), each with one intra-op thread and denormals flushed (:mod:`vaebench.threads`). The fused
route's step is one call into C, which releases the GIL, so threads keep every core busy, whether the
study is one large group or many small ones.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from vaebench import routes
from vaebench import threads as thread_env
from vaebench.config import RunConfig
from vaebench.group import GroupState
from vaebench.streams import CHUNK, Streams
from vaebench.variants import get_variant

# a part holds at most PART models (its activations stay a few MB); a group is split into parts of at
# least MIN_PART models where workers would otherwise idle
MIN_PART, PART = 8, 64


@dataclass
class TrainResult:
    """One trained run. ``status`` is "ok" or "diverged" (then ``diverged_step`` and ``reason`` say
    when and why); ``history`` has one row per logged step with the objective's statistics, the L2 term,
    β(t) and the total; ``model`` is a plain nn.Module (``encode``, ``decode``, ``forward``); ``seconds``
    is the wall time of the :func:`train` call divided by its number of runs (its groups train at once);
    ``engine`` the route that trained it:
    "fused" (the whole step in the CPU kernel) or "operators" (PyTorch: CUDA, a CPU without the kernel,
    or a variant that states its own loss); "analytic" for a reference with nothing to train."""

    config: RunConfig
    status: str
    history: pd.DataFrame
    model: nn.Module
    seconds: float
    diverged_step: int | None = None
    reason: str = ""
    engine: str = ""


def resolve_device(device: str) -> str:
    """'cpu' → 'cpu'; 'cuda' → 'cuda' if available (else ValueError); 'auto' → 'cuda' if available."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda': CUDA is not available on this machine; use 'cpu' or 'auto'")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device = {device!r}: must be one of ['cpu', 'cuda', 'auto']")
    return device


def group_key(cfg: RunConfig) -> tuple:
    """Runs with equal keys have equal tensor shapes and train together."""
    return (cfg.variant, cfg.latent_dim, cfg.hidden, cfg.batch_size, cfg.steps, cfg.n_train, cfg.device)


def train(configs: Sequence[RunConfig], device: str | None = None, log_every: int | None = None,
          progress: Callable[[int], None] | None = None, threads: int | None = None) -> list[TrainResult]:
    """Train every config and return one :class:`TrainResult` per config, in order.

    ``device`` ("cpu", "cuda", "auto") overrides each config's own; results carry the resolved device.
    ``log_every`` is the history interval in steps (default steps // 100). ``progress`` is called with the
    number of model-steps done after each chunk (from worker threads, one call at a time).

    ``threads``: on the CPU, parts are trained by that many worker threads at once (default: the usable
    cores, :func:`vaebench.threads.usable_cores`; 1: in the calling thread only, as a Dask task does),
    each with one intra-op thread and denormals flushed; the caller's torch thread count and
    floating-point state are restored afterwards. A model's numbers do not depend on the parts or on
    the workers.
    """
    configs = [c.replace(device=resolve_device(device or c.device)) for c in configs]
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(group_key(c), []).append(i)
    workers = thread_env.usable_cores() if threads is None else threads
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"threads = {threads!r}: must be an integer >= 1")
    parts: list[list[int]] = []
    for idx in groups.values():
        parts += _split(idx, workers if configs[idx[0]].device == "cpu" else 1)
    with thread_env.one_intra_op_thread():
        start = time.perf_counter()
        trained = _run_parts([[configs[i] for i in p] for p in parts], log_every, progress, workers)
        seconds = (time.perf_counter() - start) / max(1, len(configs))
    results: list[TrainResult | None] = [None] * len(configs)
    with _gc_paused():  # ~600 small objects per module: collections cost 3× the building here
        for idx, part in zip(parts, trained, strict=True):
            for i, r in zip(idx, _results([configs[i] for i in idx], part, seconds), strict=True):
                results[i] = r
    return results  # type: ignore[return-value]


def _split(idx: list[int], workers: int) -> list[list[int]]:
    """A group's runs in parts of at most PART, and in at least ``workers`` parts where each keeps
    MIN_PART models: a large group alone keeps every worker busy."""
    n_parts = max(-(-len(idx) // PART), min(workers, len(idx) // MIN_PART), 1)
    bounds = np.linspace(0, len(idx), n_parts + 1).astype(int)
    return [idx[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _run_parts(parts: list[list[RunConfig]], log_every: int | None, progress: Callable[[int], None] | None,
               workers: int) -> list[_Trained]:
    """Train every part, on ``workers`` threads where there is more than one part (largest first, so the
    last to start are the shortest); results in the order of ``parts``."""
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)  # type: ignore[misc]

    def run(part: list[RunConfig]) -> _Trained:
        with thread_env.training():
            return _train_part(part, log_every, None if progress is None else report)

    n = max(1, min(workers, len(parts)))
    if n == 1:
        return [run(p) for p in parts]
    order = sorted(range(len(parts)), key=lambda i: -len(parts[i]) * parts[i][0].steps)
    with ThreadPoolExecutor(n) as pool:
        done = dict(zip(order, pool.map(lambda i: run(parts[i]), order), strict=True))
    return [done[i] for i in range(len(parts))]


@dataclass
class _Trained:
    """One part's outcome: parameters [m, P] (public layout), logged values [n_logged, n_names, m], their
    names and steps, the step each model died at (−1: never) and the route that trained it."""

    flat: torch.Tensor
    history: np.ndarray
    names: list[str]
    steps: list[int]
    died: np.ndarray
    engine: str


def _train_part(cfgs: list[RunConfig], log_every: int | None,
                progress: Callable[[int], None] | None) -> _Trained:
    c0, variant = cfgs[0], get_variant(cfgs[0].variant)
    route_cls = routes.select(variant, c0)
    state = GroupState(cfgs, variant, route_cls.train_layout(variant, c0))
    route = route_cls(state)
    streams = Streams(cfgs, variant.stochastic, variant.needs_prior)
    every = log_every or max(1, c0.steps // 100)
    logged_steps, logged, names = [], [], []
    for t0 in range(0, route.steps, CHUNK):
        n_chunk = min(CHUNK, route.steps - t0)
        idx, noise, prior = streams.chunk(n_chunk, c0.device, route.feature_major)
        route.load(state.batches(idx, route.feature_major), noise, prior)
        j = 0
        while j < n_chunk:  # the steps up to the next logged one (or the chunk's end) in one call
            t = t0 + j
            last = min(-(-t // every) * every, route.steps - 1, t0 + n_chunk - 1)
            log = last % every == 0 or last == route.steps - 1
            route.run(t, j, last - t + 1, log)
            j += last - t + 1
            t = last
            if log:
                values = route.logged()
                values["beta"] = state.coefs.betas[t]
                values["total"] = values.pop("total")
                names = names or list(values)
                logged.append(torch.stack([values[k] for k in names]).cpu())
                logged_steps.append(t)
        if progress is not None:
            progress(n_chunk * len(cfgs))
    if progress is not None and route.steps < c0.steps:  # what a route does not take counts as done
        progress((c0.steps - route.steps) * len(cfgs))
    history = torch.stack(logged).numpy() if logged else np.zeros((0, 0, len(cfgs)), dtype=np.float32)
    return _Trained(state.unpadded(), history, names, logged_steps, state.died_at.cpu().numpy(), route.name)


@contextlib.contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _results(cfgs: list[RunConfig], part: _Trained, seconds: float) -> list[TrainResult]:
    variant = get_variant(cfgs[0].variant)
    results = []
    for m, c in enumerate(cfgs):
        hist = pd.DataFrame(part.history[:, :, m], columns=part.names)
        hist.insert(0, "step", part.steps)
        model = variant.module(c, part.flat[m])
        died = int(part.died[m])
        if died >= 0:
            results.append(TrainResult(c, "diverged", hist, model, seconds, died,
                                       f"loss or gradient became non-finite at step {died}", part.engine))
        else:
            results.append(TrainResult(c, "ok", hist, model, seconds, engine=part.engine))
    return results
