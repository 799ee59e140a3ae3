"""`infovae`: InfoVAE / MMD-VAE (Zhao et al. 2017, eq. 6), Gaussian kernel.

loss = recon + β(t)·KL + ``mmd_weight``·MMD²(q(z), N(0, I)): the paper's weights reparameterised as
(1 − α) = β(t) and (α + λ − 1) = mmd_weight. MMD² (unbiased) compares the batch's sampled latents with as
many prior samples, kernel exp(−‖a−b‖²/(2d)). Matching the aggregate posterior to the prior is the direct
answer to the report's failure mode: the KL term alone pushes every q(z|x) towards N(0, I).
"""

from dataclasses import dataclass

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant, require_mmd_batch, require_nonneg


@dataclass(frozen=True)
class InfoVAEParams:
    mmd_weight: float = 1.0  # Zhao et al. weighed MMD against a 784-D reconstruction; here 2-D: 10+ collapses


@register_variant
class InfoVAE(Variant):
    name = "infovae"
    Params = InfoVAEParams
    needs_prior = True
    reference = "Zhao et al. 2017"

    def check_params(self, params: dict) -> None:
        require_nonneg(params, "mmd_weight")

    def check_config(self, cfg) -> None:
        require_mmd_batch(cfg)

    def terms(self, c):
        return [Term("recon"), Term("kl", c.beta), Term("mmd_rbf", c.params["mmd_weight"])]
