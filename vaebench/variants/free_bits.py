"""`free_bits`: KL of each latent dimension floored at a target (Kingma et al. 2016, IAF, eq. 15).

loss = recon + β(t)·Σ_k max(target, KL_k), with KL_k the minibatch mean KL of latent dimension k: a
dimension that pays less than ``target`` nats gets no gradient from the KL term, which keeps it from
collapsing onto the prior.
"""

from dataclasses import dataclass

import torch

from vaebench.losses import gaussian_recon, kl_per_dim
from vaebench.variants import register_variant
from vaebench.variants.base import LossInputs, Variant, require_nonneg


@dataclass(frozen=True)
class FreeBitsParams:
    target: float = 0.5  # nats per latent dimension (λ in Kingma et al. 2016)


@register_variant
class FreeBits(Variant):
    name = "free_bits"
    Params = FreeBitsParams
    reference = "Kingma et al. 2016"

    def check_params(self, params: dict) -> None:
        require_nonneg(params, "target")

    def loss(self, inp: LossInputs) -> dict:
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        kl_k = kl_per_dim(inp.mu, inp.logvar)  # [M, d]
        floored = torch.maximum(kl_k, inp.params["target"][:, None]).sum(-1)
        return {"recon": recon, "kl": kl_k.sum(-1), "total": recon + inp.beta * floored}
