"""`ae`: a deterministic autoencoder baseline, z = μ(x), loss = reconstruction only (β is unused)."""

from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import Variant


@register_variant
class AE(Variant):
    name = "ae"
    stochastic = False
    reference = "deterministic baseline"

    def terms(self, c):
        return [Term("recon")]
