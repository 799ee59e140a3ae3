"""`ae`: a deterministic autoencoder baseline, z = μ(x), loss = reconstruction only (β is unused)."""

import torch

from vaebench.losses import gaussian_recon
from vaebench.variants import register_variant
from vaebench.variants.base import LossInputs, Variant


@register_variant
class AE(Variant):
    name = "ae"
    stochastic = False
    reference = "deterministic baseline"

    def loss(self, inp: LossInputs) -> dict:
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        return {"recon": recon, "total": recon}

    def term_weights(self, beta, params):
        return {"recon": torch.ones_like(beta)}
