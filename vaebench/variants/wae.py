"""`wae`: Wasserstein autoencoder, WAE-MMD (Tolstikhin et al. 2018, Algorithm 2).

Deterministic encoder z = μ(x); loss = recon + β(t)·MMD²(q(z), N(0, I)), β playing the paper's λ, with
the inverse multiquadratic kernel C/(C + ‖a−b‖²), C = 2d, and an unbiased MMD² estimate against as many
prior samples as the batch has points.
"""

from vaebench.losses import gaussian_recon, mmd
from vaebench.variants import register_variant
from vaebench.variants.base import LossInputs, Variant, require_mmd_batch


@register_variant
class WAE(Variant):
    name = "wae"
    stochastic = False
    needs_prior = True
    reference = "Tolstikhin et al. 2018"

    def check_config(self, cfg) -> None:
        require_mmd_batch(cfg)

    def loss(self, inp: LossInputs) -> dict:
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        m = mmd(inp.z, inp.prior, kernel="imq")
        return {"recon": recon, "mmd": m, "total": recon + inp.beta * m}
