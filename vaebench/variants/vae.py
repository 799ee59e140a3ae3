"""`vae`: reconstruction + β(t)·KL (Kingma & Welling 2014 for β = 1; Higgins et al. 2017, β-VAE, else)."""

import torch

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

    def term_weights(self, beta, params):
        return {"recon": torch.ones_like(beta), "kl": beta}

    def gradients(self, inp: LossInputs):
        # closed forms of the two terms' derivatives (losses.py states the scaling): a third of the
        # operators autograd runs, and the default variant is most of every study
        terms = self.loss(inp)
        per_model = (inp.beta / inp.x.shape[-2]).view(-1, 1, 1)  # β / B
        grads = {"recon": (inp.recon - inp.x) * (1.0 / (inp.x.shape[-2] * inp.recon_var)).view(-1, 1, 1),
                 "mu": inp.mu * per_model,
                 "logvar": (inp.logvar.exp() - 1.0) * (0.5 * per_model)}
        return terms, grads
