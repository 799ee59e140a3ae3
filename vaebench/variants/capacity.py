"""`capacity`: controlled KL capacity (Burgess et al. 2018, "Understanding disentangling in β-VAE", eq. 8).

loss = recon + β(t)·|KL − C(t)|, where β plays the paper's γ and the capacity C(t) rises linearly from 0
to ``c_max`` nats over the first ``c_warmup`` fraction of the steps, then stays there.
"""

from dataclasses import dataclass

import torch

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant, require_nonneg


@dataclass(frozen=True)
class CapacityParams:
    c_max: float = 5.0  # nats; about what an encoder with σ ≈ 0.3 pays in 2-D
    c_warmup: float = 0.5  # fraction of the steps over which C rises to c_max


@register_variant
class Capacity(Variant):
    name = "capacity"
    Params = CapacityParams
    reference = "Burgess et al. 2018"

    def check_params(self, params: dict) -> None:
        require_nonneg(params, "c_max")
        if not 0 < params["c_warmup"] <= 1:
            raise ValueError(f"params.c_warmup = {params['c_warmup']!r}: must be in (0, 1]")

    def terms(self, c):
        capacity = c.params["c_max"] * torch.clamp(c.step / (c.params["c_warmup"] * c.steps), max=1.0)
        return [Term("recon"), Term("kl", c.beta, "abs", capacity)]
