"""The interface every variant implements: a params dataclass plus its objective, stated once.

A variant never trains anything itself. It states its objective as terms of the standard per-model
statistics (:meth:`Variant.terms`, :mod:`vaebench.objective`), from which every route of the engine
derives what it needs; or, for an objective of another form, as a PyTorch loss on the [M, B, …] tensors
of a :class:`LossInputs` (:meth:`Variant.loss`). The engine adds the L2 term.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from vaebench.model import Layout
    from vaebench.objective import Coefficients, Term


class RunConfig(Protocol):
    """What a variant reads of a run's config: :class:`vaebench.config.RunConfig` has these fields. A
    Protocol, not an import: the config validates a run by asking its variant, so the variants must not
    import the config back."""

    dataset: str
    variant: str
    latent_dim: int
    hidden: tuple[int, ...]
    batch_size: int


DATA_DIM = 2  # D: the coordinates of a data point x, the encoder's inputs and the decoder's outputs


@dataclass(frozen=True)
class NoParams:
    """A variant without parameters of its own."""


@dataclass
class LossInputs:
    """What a variant's loss sees at one step, for M models at once.

    ``x``, ``recon``: [M, B, 2] data batch and decoder mean. ``mu``, ``logvar``, ``z``: [M, B, d] encoder
    mean, log-variance (None for deterministic variants) and the latent fed to the decoder. ``prior``:
    [M, B, d] samples of N(0, I), present when the variant sets ``needs_prior``. ``beta``: [M], β(t) at
    this step. ``recon_var``: [M], σ² of the Gaussian decoder. ``params``: the variant's parameters, each
    a tensor [M]. ``step``/``steps``: this step (0-based) and the run length.
    """

    x: Tensor
    recon: Tensor
    mu: Tensor
    logvar: Tensor | None
    z: Tensor
    prior: Tensor | None
    beta: Tensor
    recon_var: Tensor
    params: dict[str, Tensor]
    step: int
    steps: int


class Variant:
    """Base class: subclass, set ``name`` and ``Params``, implement :meth:`terms` (or :meth:`loss`),
    decorate with ``@register_variant``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    stochastic: ClassVar[bool] = True  # encoder gives (μ, log σ²) and z is sampled; else z = μ
    needs_prior: ClassVar[bool] = False  # engine passes N(0, I) samples in LossInputs.prior
    reference: ClassVar[str] = ""
    fits_recon_var: ClassVar[bool] = False
    """True where the decoder's variance σ² is fitted to the data rather than fixed by
    ``RunConfig.recon_var`` (σ-VAE): the evaluation then uses the fitted σ², the per-coordinate MSE of
    decode(z) on the evaluation points (``recon_var_fitted``, :mod:`vaebench.metrics.suite`), for the
    stored ELBO, IWAE and exact likelihoods. Training is unaffected (the objective states its own σ²)."""

    def terms(self, c: Coefficients) -> list[Term]:
        """The objective, stated once: its terms (:class:`vaebench.objective.Term`) of the standard
        per-model statistics, from the coefficients ``c`` (β(t) [S, M], ``params``, the step). The engine
        adds the L2 term. Every route trains from this (:mod:`vaebench.objective`); the CPU kernel
        computes the whole step from it, with no PyTorch in the step."""
        raise NotImplementedError(f"variant {self.name!r} states neither terms nor a loss")

    def loss(self, inp: LossInputs) -> dict[str, Tensor]:
        """Loss terms per model, each a tensor [M], with ``"total"`` (without the L2 term): by default
        :meth:`terms` evaluated on ``inp``. Override it instead of :meth:`terms` for an objective that is
        not a sum of terms of the standard statistics: any differentiable PyTorch on the [M, B, …]
        tensors. The engine then trains it on the PyTorch route (``TrainResult.engine`` "operators")."""
        from vaebench import objective

        step = torch.full((1, 1), float(inp.step), dtype=inp.beta.dtype, device=inp.beta.device)
        tab = objective.table(self, inp.beta.unsqueeze(0), inp.params, inp.steps, step, inp.recon_var)
        stats = objective.statistics(tab, inp.x, inp.recon, inp.mu, inp.logvar, inp.z, inp.prior,
                                     inp.recon_var)
        return objective.evaluate(tab, stats)

    def resolve_params(self, given: dict[str, Any]) -> dict[str, float]:
        """Validate ``given`` against ``Params`` and fill in its defaults; errors name ``params.KEY``."""
        fields = {f.name: f for f in dataclasses.fields(self.Params)}
        for key, value in given.items():
            if key not in fields:
                allowed = sorted(fields) or "none"
                raise ValueError(f"params.{key} = {value!r}: unknown parameter of variant {self.name!r} "
                                 f"(allowed: {allowed})")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"params.{key} = {value!r}: must be a finite number")
        p = self.Params(**{k: float(v) for k, v in given.items()})
        resolved = {k: float(v) for k, v in dataclasses.asdict(p).items()}
        self.check_params(resolved)
        return resolved

    def check_params(self, params: dict[str, float]) -> None:
        """Range checks of the variant's parameters (raise ValueError naming ``params.KEY``)."""

    def check_config(self, cfg: RunConfig) -> None:
        """Checks that tie the variant to other fields of the run (e.g. probit needs a 2-D latent)."""

    def layout(self, cfg: RunConfig) -> Layout:
        """Where the model's parameters sit in one flat row (:class:`vaebench.model.Layout`): the MLP
        encoder and decoder of ``cfg``'s shape. A reference with nothing to train has none."""
        from vaebench.model import Layout

        return Layout.build(DATA_DIM, cfg.latent_dim, cfg.hidden, self.stochastic)

    def module(self, cfg: RunConfig, flat: Tensor | None) -> nn.Module:
        """The trained model as a plain ``nn.Module`` built from one row of stacked parameters."""
        from vaebench.model import MLPVAE

        return MLPVAE.from_flat(cfg.latent_dim, cfg.hidden, self.stochastic, flat)


def require_mmd_batch(cfg: RunConfig) -> None:
    """The unbiased MMD² estimate divides by B(B − 1): it needs a batch of at least 2 points."""
    if cfg.batch_size < 2:
        raise ValueError(f"batch_size = {cfg.batch_size!r}: variant {cfg.variant!r} estimates MMD² from the "
                         f"batch and needs batch_size >= 2")


def require_nonneg(params: dict[str, float], *names: str) -> None:
    """Raise a ValueError for any ``params[name] < 0``."""
    for n in names:
        if params[n] < 0:
            raise ValueError(f"params.{n} = {params[n]!r}: must be a number >= 0")
