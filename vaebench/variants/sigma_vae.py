"""`sigma_vae`: the decoder's variance fitted with the model (Rybkin, Daniilidis & Levine 2021, "Simple and
Effective VAE Training with Calibrated Decoders", ICML; the analytic optimal σ).

For a Gaussian decoder N(x̂, σ²I) the negative log-likelihood of a batch, Σⱼ(xⱼ − x̂ⱼ)²/(2σ²) +
(D/2)·ln(2πσ²) per point, is smallest at σ² = MSE, the batch's mean squared error per coordinate; there it
is (D/2)·ln MSE + (D/2)·(1 + ln 2π). So with σ² fitted analytically at every step:

    loss = (D/2)·ln max(MSE, 10⁻⁶) + β(t)·KL        (D = 2 data coordinates)

up to a constant. The run's ``recon_var`` only scales the "recon" statistic, recon = D·MSE/(2σ²)
(:func:`vaebench.losses.recon_of_mse`), so ln recon = ln MSE + const and the term is
``(D/2)·ln max(recon, D·10⁻⁶/(2σ²))``: the floor :data:`MSE_FLOOR`, translated to recon's scale, keeps the
logarithm finite when a batch is reconstructed (nearly) exactly; below it the reconstruction gets no
gradient. The evaluation uses the fitted σ² (``fits_recon_var``).
"""

from vaebench.losses import recon_of_mse
from vaebench.objective import Term
from vaebench.variants import register_variant
from vaebench.variants.base import DATA_DIM, Variant

MSE_FLOOR = 1e-6  # per coordinate, inside the logarithm


@register_variant
class SigmaVAE(Variant):
    name = "sigma_vae"
    reference = "Rybkin, Daniilidis & Levine 2021"
    fits_recon_var = True

    def terms(self, c):
        if c.recon_var is None:
            raise ValueError(f"variant {self.name!r}: its floor needs the decoder's recon_var")
        floor = recon_of_mse(MSE_FLOOR, DATA_DIM, c.recon_var)
        return [Term("recon", DATA_DIM / 2, "log", floor), Term("kl", c.beta)]
