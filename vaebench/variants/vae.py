"""`vae`: reconstruction + β(t)·KL (Kingma & Welling 2014 for β = 1; Higgins et al. 2017, β-VAE, else)."""

from vaebench.losses import gaussian_kl, gaussian_recon
from vaebench.variants import register_variant
from vaebench.variants.base import LossInputs, Variant


@register_variant
class VAE(Variant):
    name = "vae"
    reference = "Kingma & Welling 2014; Higgins et al. 2017"

    def loss(self, inp: LossInputs) -> dict:
        recon = gaussian_recon(inp.x, inp.recon, inp.recon_var)
        kl = gaussian_kl(inp.mu, inp.logvar)
        return {"recon": recon, "kl": kl, "total": recon + inp.beta * kl}
