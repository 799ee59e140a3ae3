"""An objective stated once: a sum of terms of named per-model statistics.

A variant states its objective as :class:`Term` s, ``w · f(s)``, of the batch statistics of
:mod:`vaebench.losses` (:data:`STATS`): the reconstruction, the KL (summed, or per latent dimension) and
MMD² against prior samples, with ``f(s)`` = ``s``, ``|s − c|``, ``max(s, c)`` or ``ln max(s, c)`` and
``w``, ``c`` per model and step (β(t), a capacity schedule, a floor). Every route derives what it needs
from that one statement:

- the PyTorch route computes the statistics from [M, B, …] tensors and the terms with :func:`evaluate`,
  and differentiates them with autograd (:meth:`vaebench.variants.base.Variant.loss` is that);
- the CPU kernel computes the same statistics in C, the slope ``w · f′(s)`` of each term, and applies it
  to the statistics' gradients (``vb_fused_step``): the whole step without PyTorch.

Both read one :class:`Table`, built once per group for every step, so they cannot disagree about the
weights. A variant whose loss is not of this form overrides ``loss`` instead and trains on the PyTorch
route (:func:`stated_by_terms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vaebench.losses import gaussian_kl, gaussian_recon, kl_per_dim, mmd

STATS = ("recon", "kl", "kl_dim", "mmd_rbf", "mmd_imq")  # the order of the C kernel's enums
SHAPES = ("linear", "abs", "floor", "log")  # the order of the C kernel's FN_ enum
OUTPUTS = ("recon", "kl", "mmd", "total", "l2")  # what the fused step writes per model, in this order
_STOCHASTIC = ("kl", "kl_dim")  # statistics of q(z|x)'s variance: stochastic encoders only


@dataclass(frozen=True)
class Term:
    """``weight · f(stat)``, with ``f`` by ``shape``: "linear" ``s``, "abs" ``|s − at|``, "floor"
    ``max(s, at)``, "log" ``ln max(s, at)`` (``at`` > 0 is then the floor of the statistic inside the
    logarithm, on the statistic's own scale: below it the term is constant and has no gradient). ``stat``
    is one of :data:`STATS`: "recon" (:func:`~vaebench.losses.gaussian_recon`), "kl"
    (:func:`~vaebench.losses.gaussian_kl`), "kl_dim" (:func:`~vaebench.losses.kl_per_dim`, ``f`` applied
    per dimension and summed), "mmd_rbf" / "mmd_imq" (:func:`~vaebench.losses.mmd` with that
    kernel, against as many prior samples as the batch has points). ``weight`` and ``at``: numbers or
    tensors broadcastable to [steps, M]."""

    stat: str
    weight: Tensor | float = 1.0
    shape: str = "linear"
    at: Tensor | float = 0.0


@dataclass(frozen=True)
class Coefficients:
    """What a variant's terms may depend on: ``beta`` [S, M] (β(t) of S steps), ``params`` (each [M]),
    ``step`` [S, 1] (the steps' 0-based indices, as floats), ``steps`` (the run length) and ``recon_var``
    [M] (σ² of the Gaussian decoder, which scales the "recon" statistic; None where the caller gave
    none)."""

    beta: Tensor
    params: dict[str, Tensor]
    step: Tensor
    steps: int
    recon_var: Tensor | None = None


@dataclass(frozen=True)
class Table:
    """A variant's terms for S steps and M models: ``stats`` and ``shapes`` per term, ``weight`` and ``at``
    [n_terms, S, M] contiguous. ``logged``: the statistics the history records ("recon", "kl" where the
    encoder is stochastic, "mmd" where a term uses one)."""

    stats: tuple[str, ...]
    shapes: tuple[str, ...]
    weight: Tensor
    at: Tensor
    logged: tuple[str, ...]

    @property
    def mmd_kernel(self) -> str | None:
        found = [s.split("_")[1] for s in self.stats if s.startswith("mmd")]
        return found[0] if found else None

    def row(self, t: int) -> Table:
        """The table of step ``t`` alone (S = 1)."""
        return Table(self.stats, self.shapes, self.weight[:, t:t + 1], self.at[:, t:t + 1], self.logged)


def stated_by_terms(cls: type) -> bool:
    """True where ``terms`` is defined at or below the class that defines the ``loss`` in use: a subclass
    that overrides ``loss`` trains that loss (on the PyTorch route), never its parent's terms."""
    def owner(attr: str) -> type:
        return next(c for c in cls.__mro__ if attr in vars(c))

    return issubclass(owner("terms"), owner("loss"))


def table(variant, beta: Tensor, params: dict[str, Tensor], steps: int, step: Tensor | None = None,
          recon_var: Tensor | None = None) -> Table:
    """Build the :class:`Table` of ``variant``'s terms for β(t) ``beta`` [S, M] (``step`` [S, 1] their
    indices; default 0 … S−1; ``recon_var`` [M] the decoder's σ²), in ``beta``'s dtype. ValueError naming
    the variant on a malformed term."""
    if step is None:
        step = torch.arange(beta.shape[0], dtype=beta.dtype, device=beta.device).unsqueeze(-1)
    if recon_var is not None:
        recon_var = recon_var.to(beta.dtype)
    terms = list(variant.terms(Coefficients(beta, params, step.to(beta.dtype), steps, recon_var)))
    where = f"variant {variant.name!r}: terms"
    for term in terms:
        if term.stat not in STATS or term.shape not in SHAPES:
            raise ValueError(f"{where}: {term.stat!r}/{term.shape!r}; allowed statistics {list(STATS)}, "
                             f"shapes {list(SHAPES)}")
        if term.shape == "log" and not bool((torch.as_tensor(term.at) > 0).all()):
            low = torch.as_tensor(term.at, dtype=torch.float64).min().item()
            raise ValueError(f"{where}: a 'log' term of {term.stat!r} needs its floor at > 0; "
                             f"got at = {low!r}")
        if term.stat in _STOCHASTIC and not variant.stochastic:
            raise ValueError(f"{where}: {term.stat!r} needs a stochastic encoder (stochastic = True)")
    kernels = {t.stat for t in terms if t.stat.startswith("mmd")}
    if len(kernels) > 1:
        raise ValueError(f"{where}: MMD with one kernel per objective; got {sorted(kernels)}")
    if kernels and not variant.needs_prior:
        raise ValueError(f"{where}: an MMD term needs prior samples (needs_prior = True)")

    def full(v) -> Tensor:
        return torch.as_tensor(v, dtype=beta.dtype, device=beta.device).expand(beta.shape)

    logged = ("recon",) + (("kl",) if variant.stochastic else ()) + (("mmd",) if kernels else ())
    def stack(values) -> Tensor:  # [n_terms, S, M]; no terms (a reference: nothing to optimise) is n = 0
        return torch.stack(values).contiguous() if values else beta.new_zeros((0, *beta.shape))

    return Table(tuple(t.stat for t in terms), tuple(t.shape for t in terms),
                 stack([full(t.weight) for t in terms]), stack([full(t.at) for t in terms]), logged)


def statistics(tab: Table, x: Tensor, recon: Tensor, mu: Tensor, logvar: Tensor | None, z: Tensor,
               prior: Tensor | None, recon_var: Tensor) -> dict[str, Tensor]:
    """The statistics ``tab`` uses, from [M, B, …] tensors (differentiable): "recon" [M], "kl" [M] and
    "kl_dim" [M, d] (stochastic encoders), "mmd" [M] (where a term uses it)."""
    out = {"recon": gaussian_recon(x, recon, recon_var)}
    if logvar is not None:
        out["kl"] = gaussian_kl(mu, logvar)
        if "kl_dim" in tab.stats:
            out["kl_dim"] = kl_per_dim(mu, logvar)
    if tab.mmd_kernel is not None:
        out["mmd"] = mmd(z, prior, kernel=tab.mmd_kernel)
    return out


def _shape(name: str, s: Tensor, at: Tensor) -> Tensor:
    if name == "abs":
        return (s - at).abs()
    if name == "floor":
        return torch.maximum(s, at)
    if name == "log":
        return torch.log(torch.maximum(s, at))
    return s


def evaluate(tab: Table, stats: dict[str, Tensor], t: int = 0) -> dict[str, Tensor]:
    """The logged statistics and ``total`` = Σ terms at step ``t`` of ``tab``, each [M]."""
    total = None
    for i, (stat, shape) in enumerate(zip(tab.stats, tab.shapes, strict=True)):
        w, at = tab.weight[i, t], tab.at[i, t]
        if stat == "kl_dim":
            value = w * _shape(shape, stats["kl_dim"], at.unsqueeze(-1)).sum(-1)
        else:
            value = w * _shape(shape, stats["mmd" if stat.startswith("mmd") else stat], at)
        total = value if total is None else total + value
    return {**{k: stats[k] for k in tab.logged}, "total": total}
