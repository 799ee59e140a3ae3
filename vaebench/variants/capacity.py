"""`capacity`: controlled KL capacity (Burgess et al. 2018, "Understanding disentangling in β-VAE", eq. 8).

loss = recon + β(t)·|KL − C(t)|, where β plays the paper's γ and the capacity C(t) rises linearly from 0
to ``c_max`` nats over the first ``c_warmup`` fraction of the steps, then stays there.
"""

from dataclasses import dataclass

import torch

from vaebench.losses import gaussian_kl, gaussian_recon
from vaebench.variants import register_variant
from vaebench.variants.base import LossInputs, Variant, require_nonneg


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

    def loss(self, inp: LossInputs) -> dict:
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        kl = gaussian_kl(inp.mu, inp.logvar)
        ramp = torch.clamp(inp.step / (inp.params["c_warmup"] * inp.steps), max=1.0)
        capacity = inp.params["c_max"] * ramp
        return {"recon": recon, "kl": kl, "capacity": capacity,
                "total": recon + inp.beta * (kl - capacity).abs()}
