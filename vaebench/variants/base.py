"""The interface every variant implements: a params dataclass plus its loss terms.

A variant never trains anything itself: the engine (:mod:`vaebench.engine`) computes the encoder and
decoder outputs of M models at once and hands them over in a :class:`LossInputs`; the variant returns its
loss terms, one number per model. The engine adds the L2 term and differentiates ``total``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

if TYPE_CHECKING:
    from vaebench.config import RunConfig


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
    """Base class: subclass, set ``name`` and ``Params``, implement :meth:`loss`, decorate with
    ``@register_variant``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    stochastic: ClassVar[bool] = True  # encoder gives (μ, log σ²) and z is sampled; else z = μ
    needs_prior: ClassVar[bool] = False  # engine passes N(0, I) samples in LossInputs.prior
    trainable: ClassVar[bool] = True  # False: an analytic model, nothing to train
    reference: ClassVar[str] = ""

    def loss(self, inp: LossInputs) -> dict[str, Tensor]:
        """Loss terms per model, each a tensor [M]; must contain ``"total"`` (without the L2 term)."""
        raise NotImplementedError

    def gradients(self, inp: LossInputs) -> tuple[dict[str, Tensor], dict[str, Tensor]] | None:
        """Optional, for speed only: ``(terms, grads)``, the terms of :meth:`loss` and the gradients of
        ``terms["total"].sum()`` with respect to ``inp.mu``, ``inp.logvar``, ``inp.z`` and ``inp.recon``
        (keys ``mu``, ``logvar``, ``z``, ``recon``; a missing key is a zero gradient), treating them as
        independent inputs. The default, None, has the engine differentiate :meth:`loss` with autograd.
        Used by the CPU kernel path (the operator path always uses autograd, so both paths check each
        other); a variant that defines it is checked against autograd in tests/test_variants.py."""
        return None

    def term_weights(self, beta: Tensor, params: dict[str, Tensor]) -> dict[str, Tensor] | None:
        """Optional, for speed only: where :meth:`loss` is a weighted sum of the standard terms
        ``"recon"`` (:func:`vaebench.losses.gaussian_recon`) and ``"kl"``
        (:func:`vaebench.losses.gaussian_kl`), their weights, so the CPU kernel computes the whole step in C
        (:func:`vaebench.cpu_kernel.fused_step`).
        ``beta``: β(t) of every step at once, [steps, M]; ``params`` each [M]. Returns the weights,
        broadcastable to [steps, M], keyed and ordered as :meth:`loss` returns these terms (its keys must be
        exactly these plus ``"total"``). The default, None, keeps the loss in PyTorch. A variant that
        defines it is checked against its :meth:`loss` in tests/test_variants.py."""
        return None

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
