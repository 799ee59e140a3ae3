"""`vae`: reconstruction + β(t)·KL (Kingma & Welling 2014 for β = 1; Higgins et al. 2017, β-VAE, else)."""

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant


@register_variant
class VAE(Variant):
    name = "vae"
    reference = "Kingma & Welling 2014; Higgins et al. 2017"

    def terms(self, c):
        return [Term("recon"), Term("kl", c.beta)]
