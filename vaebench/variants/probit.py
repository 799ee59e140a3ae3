"""`probit`: the analytic reference. Encoder z = Φ⁻¹(x), decoder x = Φ(z), coordinate-wise.

It maps U[0, 1]² exactly onto N(0, I) and back, so it scores the best any model can on uniform data:
scored by the same metrics, trained by nobody. It is modelled as what it is, a model with no parameters
(an empty :meth:`~vaebench.variants.base.Variant.layout`) and no objective (no terms): the engine's route
for a model with nothing to train (:class:`vaebench.routes.analytic.AnalyticRoute`) takes no steps, and
the memory estimate counts no parameters, without a case for it anywhere. Its posterior is a point mass
(σ = 0), so its encoder reports log σ² = −inf.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vaebench.model import Layout
from vaebench.variants import register_variant
from vaebench.variants.base import Variant


class ProbitVAE(nn.Module):
    """z = Φ⁻¹(x) and x = Φ(z) per coordinate; ``encode`` clamps x into (0, 1) by float32's resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.normal = torch.distributions.Normal(0.0, 1.0)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        eps = torch.finfo(x.dtype).eps
        mu = self.normal.icdf(x.clamp(eps, 1 - eps))
        return mu, torch.full_like(mu, -torch.inf)

    def decode(self, z: Tensor) -> Tensor:
        return self.normal.cdf(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)[0])


@register_variant
class Probit(Variant):
    name = "probit"
    stochastic = False
    reference = "analytic: Φ⁻¹ / Φ"

    def check_config(self, cfg) -> None:
        if cfg.latent_dim != 2:
            raise ValueError(f"latent_dim = {cfg.latent_dim!r}: variant 'probit' needs latent_dim = 2")
        if cfg.dataset != "uniform":
            raise ValueError(f"dataset = {cfg.dataset!r}: variant 'probit' needs dataset = 'uniform'")

    def terms(self, c) -> list:
        return []  # nothing to optimise

    def layout(self, cfg) -> Layout:
        return Layout((), (), 0, 0)  # nothing to train

    def module(self, cfg, flat) -> nn.Module:
        return ProbitVAE()
