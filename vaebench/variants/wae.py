"""`wae`: Wasserstein autoencoder, WAE-MMD (Tolstikhin et al. 2018, Algorithm 2).

Deterministic encoder z = μ(x); loss = recon + β(t)·MMD²(q(z), N(0, I)), β playing the paper's λ, with
the inverse multiquadratic kernel C/(C + ‖a−b‖²), C = 2d, and an unbiased MMD² estimate against as many
prior samples as the batch has points.
"""

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant, require_mmd_batch


@register_variant
class WAE(Variant):
    name = "wae"
    stochastic = False
    needs_prior = True
    reference = "Tolstikhin et al. 2018"

    def check_config(self, cfg) -> None:
        require_mmd_batch(cfg)

    def terms(self, c):
        return [Term("recon"), Term("mmd_imq", c.beta)]
