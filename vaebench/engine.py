"""The training engine: M models of one shape trained at once as stacked parameters.

``train(configs)`` groups runs by shape (variant, latent_dim, hidden, batch_size, steps, n_train, device)
and trains each group with one loop whose step is a fixed sequence of tensor ops on [M, …] tensors: no
Python loop over models inside a step. One model is the case M = 1. Per-model randomness comes from each
run's own streams (:mod:`vaebench.streams`), drawn in chunks of ``CHUNK`` steps, so a run's numbers do
not depend on the runs beside it. A model whose loss or gradient turns non-finite is frozen at its last
finite parameters and reported as diverged; the others are untouched.

How a step runs (measurements in bench/RESULTS.md). On the CPU, the C kernel
(:mod:`vaebench.cpu_kernel`) computes each model's encoder and decoder forward, then, after the
variant's loss, in one call each model's decoder and encoder backward and its Adam step, model by model
while its data sit in cache; activations are batch-major [M, B, features]. Elsewhere (CUDA, or a CPU
without a C compiler) PyTorch operators do it: hand-written batched matrix products
(:class:`vaebench.model.StackedMLP`) on feature-major activations [M, features, B] and PyTorch's fused
Adam. On both paths only the variant's loss is differentiated by autograd, on a few small [M, B, d]
tensors, unless the variant states its gradients in closed form (:meth:`Variant.gradients`). Where it
states its loss as weights of the standard terms (:meth:`Variant.term_weights`), the CPU kernel computes
the whole step in one call, with no PyTorch operator in it (:func:`vaebench.cpu_kernel.fused_step`). On
the CPU a group is split into parts trained at once by worker processes or threads with one intra-op
thread each (:mod:`vaebench.workers`, :func:`train`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from vaebench import cpu_kernel
from vaebench import workers as workers_
from vaebench.config import RunConfig
from vaebench.data import sample
from vaebench.losses import batch_mean_l2
from vaebench.model import Layout, StackedMLP, init_flat, pad_index, padded_hidden
from vaebench.schedules import beta_table
from vaebench.seeding import stream_rng, stream_seed
from vaebench.streams import CHUNK, Streams
from vaebench.variants import LossInputs, get_variant

# CPU workers: a worker with fewer than MIN_PART models spends its time in Python (2 threads × 8 models
# ran slower than 1 × 16); PART bounds a part's activations (the kernel route's) to a few MB
MIN_PART, PART = 16, 64
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


@dataclass
class TrainResult:
    """One trained run. ``status`` is "ok" or "diverged" (then ``diverged_step`` and ``reason`` say
    when and why); ``history`` has one row per logged step with the loss terms, β(t), l2 and total;
    ``model`` is a plain nn.Module (``encode``, ``decode``, ``forward``); ``seconds`` is the wall time of
    its group divided by the group's size; ``engine`` the path that trained it: "fused" (the whole
    step in the CPU kernel, for variants that state :meth:`~vaebench.variants.base.Variant.term_weights`),
    "kernel" (the CPU kernel's MLPs, the variant's loss in PyTorch), "operators" (PyTorch operators:
    CUDA, or a CPU without the kernel) or "analytic"."""

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
          progress: Callable[[int], None] | None = None) -> list[TrainResult]:
    """Train every config and return one :class:`TrainResult` per config, in order.

    ``device`` ("cpu", "cuda", "auto") overrides each config's own; results carry the resolved device.
    ``log_every`` is the history interval in steps (default steps // 100). ``progress`` is called with the
    number of model-steps done after each chunk, in the calling thread (or from worker threads, one call
    at a time).

    Workers, set deliberately: on the CPU a group's models are split into ``torch.get_num_threads()``
    parts at once, each trained by its own worker with one intra-op thread: a forked worker process on
    Linux, else a worker thread (:mod:`vaebench.workers`; ``VAEBENCH_CPU_WORKERS=threads`` asks for
    threads). PyTorch's thread count is 1 while training and restored afterwards. Compared with one
    process using 2 OpenMP threads per op this is faster alone and does not collapse when another process
    takes a core (bench/RESULTS.md). A model's numbers do not depend on the split or on the kind of
    worker. Call ``torch.set_num_threads(1)`` first to train in the calling thread only, as a parallel
    runner does in each worker process.
    """
    configs = [c.replace(device=resolve_device(device or c.device)) for c in configs]
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(group_key(c), []).append(i)
    results: list[TrainResult | None] = [None] * len(configs)
    workers = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for idx in groups.values():
            trained = _train_group([configs[i] for i in idx], log_every, progress, workers)
            for i, r in zip(idx, trained, strict=True):
                results[i] = r
    finally:
        torch.set_num_threads(workers)
    return results  # type: ignore[return-value]


class _Group:
    """The training state of one group of M same-shaped models and its step.

    Parameters live in one flat buffer [M, P]. Three routes (:attr:`path`), chosen from the device, the
    machine and the variant, never from the runs beside it: on the CPU the kernel
    (:mod:`vaebench.cpu_kernel`) computes the whole step in C where the variant states
    :meth:`~vaebench.variants.base.Variant.term_weights` ("fused"), else each model's forward, backward
    and Adam step in C around the variant's loss in PyTorch ("kernel"; batch-major activations
    [M, B, features]); elsewhere, or where no C compiler is found, PyTorch operators ("operators":
    :class:`StackedMLP`, feature-major [M, features, B], hidden widths padded to a multiple of 8,
    PyTorch's fused Adam). Outside the fused step only the variant's loss, a few small [M, B, d] tensors,
    goes through autograd (or its closed-form gradients).
    """

    def __init__(self, cfgs: list[RunConfig], variant):
        c0, dev = cfgs[0], cfgs[0].device
        self.variant, self.m, self.d, self.steps = variant, len(cfgs), c0.latent_dim, c0.steps
        # the path depends on the device and this run's shape only, never on the runs beside it
        deep = len(c0.hidden) + 1 > cpu_kernel.MAX_LAYERS
        self.lib = cpu_kernel.load() if dev == "cpu" and not deep else None
        self.layout = Layout.build(2, self.d, c0.hidden, variant.stochastic)
        # the kernel pads inside its own buffers (padding the layout to 16 was no faster: K grows); the
        # operator path trains in a layout with hidden widths padded by zero units that stay zero
        wide = (self.layout if self.lib
                else Layout.build(2, self.d, padded_hidden(c0.hidden), variant.stochastic))
        self.index = torch.from_numpy(pad_index(self.layout, wide)).to(dev)
        init = np.stack([init_flat(self.layout, stream_rng(c.seed, "init")) for c in cfgs])
        # a row length that is a multiple of 64 floats puts every model's parameters at the same offset
        # from the vector/thread chunk boundaries of elementwise kernels (fused Adam's vector path and
        # scalar tail round differently): model m's numbers then do not depend on M
        self.flat = torch.zeros(self.m, -(-wide.n_params // 64) * 64, device=dev)
        self.tail = torch.zeros(self.m, self.flat.shape[1] - wide.n_params, device=dev)
        self.flat[:, self.index] = torch.from_numpy(init).to(dev)
        self.n_weights = wide.n_weights
        self.weights = self.flat[:, :wide.n_weights]
        self.grad = torch.zeros_like(self.flat)
        self.exp1, self.exp2 = torch.zeros_like(self.flat), torch.zeros_like(self.flat)  # Adam's moments
        if self.lib:
            split = 2 if variant.stochastic else 1  # μ and log σ² as two contiguous arrays
            self.encoder = cpu_kernel.KernelMLP(self.lib, self.flat, wide.encoder, c0.batch_size, split)
            self.decoder = cpu_kernel.KernelMLP(self.lib, self.flat, wide.decoder, c0.batch_size)
            self.scratch = torch.empty(self.lib.vb_step_scratch_floats(self.encoder.spec.data_ptr(),
                                                                       self.decoder.spec.data_ptr(),
                                                                       c0.batch_size))
        else:
            self.encoder = StackedMLP(self.flat, wide.encoder)
            self.decoder = StackedMLP(self.flat, wide.decoder)
            self.delta = torch.zeros_like(self.flat)
            self.step_count = torch.zeros((), device=dev)
        data = np.stack([sample(c.dataset, c.n_train, stream_seed(c.seed, "data")) for c in cfgs])
        self.data = torch.from_numpy(data.reshape(-1, 2)).to(dev)  # [M·n_train, 2]: model m's rows at m·n
        self.row0 = torch.arange(self.m, device=dev).unsqueeze(-1) * c0.n_train  # [M, 1]
        self._rows: torch.Tensor | None = None

        def per_model(values) -> torch.Tensor:
            return torch.tensor(np.asarray(values, dtype=np.float32), device=dev)

        self.betas = per_model(np.stack([beta_table(c) for c in cfgs], axis=1))  # [steps, M]
        self.closed_form = _stated_with_its_loss(type(variant), "gradients")
        self.lr, self.recon_var = (per_model([getattr(c, f) for c in cfgs]) for f in ("lr", "recon_var"))
        self.l2 = per_model([batch_mean_l2(c.l2, c.reduction, c.batch_size) for c in cfgs])
        self.two_l2 = (2 * self.l2).unsqueeze(-1)
        self.params = {k: per_model([c.params[k] for c in cfgs]) for k in c0.params}
        self.alive = torch.ones(self.m, dtype=torch.bool, device=dev)
        self.died_at = torch.full((self.m,), -1, dtype=torch.long, device=dev)
        # a loss stated as weights of the standard terms: the kernel computes the whole step in C
        self.term_weights = _term_weights(variant, self.betas, self.params) if self.lib else None
        if self.term_weights is not None:
            specs = self.encoder.spec.data_ptr(), self.decoder.spec.data_ptr()
            self.fused_scratch = torch.empty(self.lib.vb_fused_scratch_floats(*specs, c0.batch_size,
                                                                              self.flat.shape[1]))

    @property
    def path(self) -> str:
        """What trains this group (``TrainResult.engine``): "fused", "kernel" or "operators"."""
        return "fused" if self.term_weights is not None else ("kernel" if self.lib else "operators")

    @property
    def feature_major(self) -> bool:
        """Layout of the minibatches and noise this group's step takes (see :meth:`step`)."""
        return self.lib is None

    def batches(self, idx: torch.Tensor) -> torch.Tensor:
        """The minibatches of a chunk (see :meth:`vaebench.streams.Streams.chunk`): indices [M, steps, B]
        → data [M, steps, B, 2]; where :attr:`feature_major`, [steps, M, B] → [steps, M, 2, B]."""
        row0 = self.row0 if self.feature_major else self.row0.unsqueeze(-1)
        # one gather for the whole chunk, of 8-byte words (a row of 2 floats each): 2× faster than rows
        index = (idx + row0).view(-1)
        if self._rows is None or self._rows.shape != index.shape:
            self._rows = torch.empty_like(index)  # reused chunk to chunk, as the streams' buffers
        words = torch.index_select(self.data.view(torch.int64).view(-1), 0, index, out=self._rows)
        rows = words.view(torch.float32).view(*idx.shape, 2)
        return rows.transpose(2, 3).contiguous() if self.feature_major else rows

    def at(self, chunk: torch.Tensor | None, j: int) -> torch.Tensor | None:
        """Step ``j`` of a chunk from :meth:`batches` or :meth:`vaebench.streams.Streams.chunk`: [M, …]."""
        if chunk is None:
            return None
        return chunk[j] if self.feature_major else chunk[:, j]

    def _inputs(self, t: int, x, recon, mu, logvar, z, prior) -> LossInputs:
        """What the variant's loss sees at step ``t``: batch-major [M, B, ·] tensors or views."""
        return LossInputs(x, recon, mu, logvar, z, prior, self.betas[t], self.recon_var, self.params, t,
                          self.steps)

    def _loss(self, inp: LossInputs, leaves) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        """The variant's loss terms [M] and, by autograd, the gradients of the alive models' summed
        ``total`` with respect to ``leaves`` (tensors that ``inp``'s are, or are views of)."""
        terms = self.variant.loss(inp)
        objective = torch.where(self.alive, terms["total"], 0.0).sum()
        grads = torch.autograd.grad(objective, leaves, allow_unused=True, materialize_grads=True)
        return terms, grads

    def step(self, t: int, x: torch.Tensor, noise: torch.Tensor | None, prior: torch.Tensor | None
             ) -> dict[str, torch.Tensor]:
        """One training step at step ``t``: minibatch x [M, B, 2] and noise [M, B, d] (or None); where
        :attr:`feature_major`, x [M, 2, B] and noise [M, d, B]; prior samples [M, B, d] (or None).
        Returns the loss terms [M] (``total`` includes the L2 term)."""
        if self.term_weights is not None:
            return self._step_fused(t, x, noise)
        if self.lib:
            return self._step_kernel(t, x, noise, prior)
        return self._step_operators(t, x, noise, prior)

    def _step_fused(self, t: int, x, noise) -> dict[str, torch.Tensor]:
        out = torch.empty(4, self.m)  # recon, kl, total (with the L2 term), L2 term
        w = {k: v[t] for k, v in self.term_weights.items()}
        cpu_kernel.fused_step(self.lib, self.encoder, self.decoder, self.fused_scratch, x, noise,
                              w.get("recon"), w.get("kl"), self.recon_var, self.exp1, self.exp2, self.lr,
                              self.l2, out, self.alive, self.died_at, self.n_weights, t + 1, ADAM_BETAS,
                              ADAM_EPS)
        terms = {k: out[cpu_kernel.FUSED_TERMS.index(k)] for k in self.term_weights}  # the loss's order
        terms["total"], terms["l2"] = out[2], out[3]
        return terms

    def _step_kernel(self, t: int, x, noise, prior) -> dict[str, torch.Tensor]:
        # three calls into C and the variant's loss, few PyTorch operators between them: each operator
        # hands the GIL over, and the worker threads share it
        enc = self.encoder.forward(x)  # [2, M, B, d]: μ, log σ² (or [1, M, B, d]: z = μ)
        mu = enc[0]
        if self.variant.stochastic:
            logvar = enc[1]
            spread = torch.exp(0.5 * logvar).mul_(noise)  # σ·ε
            z = mu + spread
        else:
            logvar, spread, z = None, None, mu
        recon = self.decoder.forward(z)[0]
        inp = self._inputs(t, x, recon, mu, logvar, z, prior)
        closed = self.variant.gradients(inp) if self.closed_form else None
        if closed is not None:
            terms, grads = closed
        else:  # autograd, with μ, log σ², z and the reconstruction as separate leaves
            names = ("mu", "logvar", "z", "recon") if self.variant.stochastic else ("mu", "recon")
            leaves = [getattr(inp, n).requires_grad_(True) if n != "z" else z.detach().requires_grad_(True)
                      for n in names]
            inp = dataclasses.replace(inp, **dict(zip(names, leaves, strict=True)))
            if not self.variant.stochastic:
                inp.z = inp.mu
            terms, found = self._loss(inp, leaves)
            grads = dict(zip(names, found, strict=True))
        if not self.variant.stochastic and grads.get("z") is not None:  # z is μ
            g_z = grads.pop("z")
            grads["mu"] = g_z if grads.get("mu") is None else grads["mu"] + g_z
        stochastic = self.variant.stochastic
        g_recon, g_mu = _as_array(grads.get("recon"), recon), _as_array(grads.get("mu"), mu)
        g_logvar = _as_array(grads.get("logvar"), mu, zero=False) if stochastic else None
        g_z = _as_array(grads.get("z"), mu, zero=False) if stochastic else None
        total = terms["total"].detach().clone()
        l2 = torch.empty_like(total)
        with torch.no_grad():
            cpu_kernel.step_backward(self.lib, self.encoder, self.decoder, self.scratch, x, z, g_recon, g_mu,
                                     g_logvar, g_z, spread,
                                     self.grad, self.exp1, self.exp2, self.lr, self.l2, total, l2, self.alive,
                                     self.died_at, self.n_weights, t + 1, ADAM_BETAS, ADAM_EPS)
        terms = {k: v.detach() for k, v in terms.items()}
        terms["l2"], terms["total"] = l2, total
        return terms

    def _step_operators(self, t: int, x, noise, prior) -> dict[str, torch.Tensor]:
        d, variant = self.d, self.variant
        enc, enc_inputs = self.encoder.forward(x)
        if variant.stochastic:  # μ and log σ² as two leaves: their gradients need no slicing back
            mu_t, logvar_t = enc[:, :d].requires_grad_(True), enc[:, d:].requires_grad_(True)
            mu, logvar = mu_t.transpose(1, 2), logvar_t.transpose(1, 2)
            spread = torch.exp(0.5 * logvar) * noise.transpose(1, 2)
            z = mu + spread
            leaves = (mu_t, logvar_t)
        else:
            enc.requires_grad_(True)
            mu, logvar, z = enc.transpose(1, 2), None, enc.transpose(1, 2)
            leaves = (enc,)
        recon, dec_inputs = self.decoder.forward(z.detach().transpose(1, 2))
        recon.requires_grad_(True)
        inp = self._inputs(t, x.transpose(1, 2), recon.transpose(1, 2), mu, logvar, z, prior)
        terms, (*g_enc, g_recon) = self._loss(inp, (*leaves, recon))
        with torch.no_grad():
            g_z, dec_w, dec_b = self.decoder.backward(dec_inputs, g_recon, input_grad=True)
            if variant.stochastic:  # through z = μ + exp(½ log σ²)·ε
                g_enc = torch.cat([g_enc[0] + g_z, g_enc[1] + 0.5 * g_z * spread.transpose(1, 2)], 1)
            else:
                g_enc = g_enc[0] + g_z
            _, enc_w, enc_b = self.encoder.backward(enc_inputs, g_enc, input_grad=False)
            torch.cat([w.view(self.m, -1) for w in enc_w + dec_w] + enc_b + dec_b + [self.tail], 1,
                      out=self.grad)
            self.grad[:, :self.weights.shape[1]].addcmul_(self.weights, self.two_l2)  # ∂(λ·Σw²)/∂w
            terms["l2"] = self.l2 * torch.linalg.vecdot(self.weights, self.weights)
            total = terms["total"] + terms["l2"]
            ok = torch.isfinite(total) & torch.isfinite((self.grad * 0).sum(-1))  # exact: finite·0 = 0
            self.died_at = torch.where(self.alive & ~ok, t, self.died_at)
            self.alive = self.alive & ok
            self.grad.nan_to_num_(0.0, 0.0, 0.0)  # a dead model's update is multiplied by lr = 0 below
            _adam(self.flat, self.grad, self.exp1, self.exp2, self.delta, self.step_count,
                  self.lr * self.alive, t + 1)
        terms["total"] = total
        return terms

    def unpadded(self) -> torch.Tensor:
        """The trained parameters in the public :class:`Layout`, [M, P], on the CPU."""
        return self.flat[:, self.index].cpu()


def _stated_with_its_loss(cls: type, name: str) -> bool:
    """True where the optional ``name`` (``gradients``, ``term_weights``) is defined at or below the class
    that defines the ``loss`` the engine calls: a subclass that overrides only ``loss`` must not inherit
    its parent's closed form (it would train the parent's objective while logging its own); one that adds
    a closed form for an inherited loss may."""
    def owner(attr: str) -> type:
        return next(c for c in cls.__mro__ if attr in vars(c))

    return issubclass(owner(name), owner("loss"))


def _term_weights(variant, betas: torch.Tensor,
                  params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """The variant's :meth:`~vaebench.variants.base.Variant.term_weights` for every step, each [steps, M]
    float32 contiguous, or None where it states none (or inherits them with another loss)."""
    if not _stated_with_its_loss(type(variant), "term_weights"):
        return None
    weights = variant.term_weights(betas, params)
    if weights is None:
        return None
    allowed = cpu_kernel.FUSED_TERMS if variant.stochastic else cpu_kernel.FUSED_TERMS[:1]
    if not weights or set(weights) - set(allowed):
        raise ValueError(f"variant {variant.name!r}: term_weights gives {sorted(weights)}; allowed terms: "
                         f"{list(allowed)} (at least one)")
    return {k: torch.as_tensor(v, dtype=torch.float32).expand(betas.shape).contiguous()
            for k, v in weights.items()}


def _as_array(g: torch.Tensor | None, like: torch.Tensor, zero: bool = True) -> torch.Tensor | None:
    """A gradient as the kernel reads it: ``like``'s shape (a broadcastable one expanded), float32,
    contiguous, detached. A missing one (None) is zeros, or stays None where ``zero`` is False (the
    kernel reads None as zero and skips it)."""
    if g is None:
        return torch.zeros_like(like) if zero else None
    return g.detach().expand(like.shape).to(torch.float32).contiguous()


@dataclass
class _Trained:
    """What one worker returns for its part of a group (arrays only: it may come from a worker process):
    parameters [m, P] (public layout), logged terms [n_logged, n_terms, m], their names and steps, the step
    each model died at (−1: never) and the path that trained it."""

    flat: np.ndarray
    history: np.ndarray
    names: list[str]
    steps: list[int]
    died: np.ndarray
    engine: str


def _train_part(cfgs: list[RunConfig], variant, every: int,
                progress: Callable[[int], None] | None) -> _Trained:
    torch.set_flush_denormal(True)  # per thread: denormal weights slow steps down up to 10× (FACTS.md)
    dev, steps = cfgs[0].device, cfgs[0].steps
    group = _Group(cfgs, variant)
    streams = Streams(cfgs, variant.stochastic, variant.needs_prior)
    logged_steps, logged, names = [], [], None
    for t0 in range(0, steps, CHUNK):
        n_chunk = min(CHUNK, steps - t0)
        idx, noise, prior = streams.chunk(n_chunk, dev, group.feature_major)
        xs = group.batches(idx)
        for j in range(n_chunk):
            t = t0 + j
            terms = group.step(t, group.at(xs, j), group.at(noise, j), group.at(prior, j))
            if t % every == 0 or t == steps - 1:
                terms["beta"] = group.betas[t]
                terms["total"] = terms.pop("total")
                names = names or list(terms)
                logged.append(torch.stack([terms[k].detach() for k in names]))
                logged_steps.append(t)
        if progress is not None:
            progress(n_chunk * len(cfgs))
    return _Trained(group.unpadded().numpy(), torch.stack(logged).cpu().numpy(), names, logged_steps,
                    group.died_at.cpu().numpy(), group.path)


def _train_group(cfgs: list[RunConfig], log_every: int | None, progress: Callable[[int], None] | None,
                 workers: int) -> list[TrainResult]:
    start = time.perf_counter()
    c0, variant = cfgs[0], get_variant(cfgs[0].variant)
    if not variant.trainable:
        return [TrainResult(c, "ok", pd.DataFrame({"step": []}), variant.module(c, None), 0.0,
                            engine="analytic") for c in cfgs]
    m_models = len(cfgs)
    every = log_every or max(1, c0.steps // 100)
    if c0.device == "cpu":  # ≥ MIN_PART models per worker, ≤ PART per part, parts a multiple of workers
        n_workers = max(1, min(workers, m_models // MIN_PART))
        n_parts = n_workers * -(-m_models // (PART * n_workers))
    else:
        n_workers = n_parts = 1
    bounds = np.linspace(0, m_models, n_parts + 1).astype(int)

    def run(part: tuple[int, int], report: Callable[[int], None] | None) -> _Trained:
        return _train_part(cfgs[part[0]:part[1]], variant, every, report)

    parts = workers_.run_parts(list(zip(bounds[:-1], bounds[1:], strict=True)), run, n_workers, progress)
    flat = torch.from_numpy(np.concatenate([p.flat for p in parts]))
    history = np.concatenate([p.history for p in parts], axis=2)
    died = np.concatenate([p.died for p in parts])
    names, logged_steps = parts[0].names, parts[0].steps
    seconds = (time.perf_counter() - start) / m_models
    with _gc_paused():  # ~600 small objects per module: collections cost 3× the building here
        return _results(cfgs, variant, flat, history, names, logged_steps, died, seconds, parts[0].engine)


@contextlib.contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _results(cfgs, variant, flat, history, names, logged_steps, died, seconds, engine) -> list[TrainResult]:
    results = []
    for m, c in enumerate(cfgs):
        hist = pd.DataFrame(history[:, :, m], columns=names)
        hist.insert(0, "step", logged_steps)
        model = variant.module(c, flat[m])
        if died[m] >= 0:
            results.append(TrainResult(c, "diverged", hist, model, seconds, int(died[m]),
                                       f"loss or gradient became non-finite at step {int(died[m])}", engine))
        else:
            results.append(TrainResult(c, "ok", hist, model, seconds, engine=engine))
    return results


def _adam_fused(p: torch.Tensor, g: torch.Tensor, exp1: torch.Tensor, exp2: torch.Tensor,
                delta: torch.Tensor, step_count: torch.Tensor, lr: torch.Tensor, t: int) -> None:
    """One Adam step (Kingma & Ba 2015) on [M, P] parameters with a per-model learning rate ``lr`` [M]:
    PyTorch's fused Adam kernel computes the unit-rate update into ``delta``, then p += lr·delta."""
    b1, b2 = ADAM_BETAS
    delta.zero_()
    step_count.fill_(t)
    torch._fused_adam_([delta], [g], [exp1], [exp2], [], [step_count], lr=1.0, beta1=b1, beta2=b2,
                       weight_decay=0.0, eps=ADAM_EPS, amsgrad=False, maximize=False)
    p.addcmul_(delta, lr.unsqueeze(-1))


_adam = _adam_fused  # torch._fused_adam_ exists in every torch the project admits (>= 2.3)
