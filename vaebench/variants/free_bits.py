"""`free_bits`: KL of each latent dimension floored at a target (Kingma et al. 2016, IAF, eq. 15).

loss = recon + β(t)·Σ_k max(target, KL_k), with KL_k the minibatch mean KL of latent dimension k: a
dimension that pays less than ``target`` nats gets no gradient from the KL term, which keeps it from
collapsing onto the prior.
"""

from dataclasses import dataclass

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant, require_nonneg


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

    def terms(self, c):
        return [Term("recon"), Term("kl_dim", c.beta, "floor", c.params["target"])]
