"""Loss terms, batched over M models. The one place where the scaling of each term is stated.

Shapes: ``x``, ``recon`` are [M, B, D] (D = 2 data dims), ``mu``, ``logvar``, ``z`` are [M, B, d].
Every term returns one number per model, shape [M], and is a **mean over the B samples of the batch and
a sum over dimensions**:

- reconstruction: ``Σ_j (x_j − x̂_j)² / (2σ²)`` with σ² = ``recon_var`` — the negative log-likelihood of a
  Gaussian decoder N(x̂, σ²I) without its constant ``(D/2)·log(2πσ²)``. The default σ² = 0.5 makes it
  the plain sum of squared errors over the two coordinates (2 × the per-coordinate MSE). In general
  recon = D·MSE/(2σ²), MSE the batch's mean squared error per coordinate (:func:`recon_of_mse`).
- KL: ``Σ_k ½(μ_k² + σ_k² − 1 − ln σ_k²)``, the closed form of KL(N(μ, σ²) ‖ N(0, 1)) summed over
  latent dimensions, in nats.
- L2: ``λ·Σ w²`` over the weight matrices of encoder and decoder (added by the engine, not here). Biases
  are excluded, as in standard weight decay: they do not shape the map's smoothness, and penalising them
  would pull outputs towards 0 and bias the reconstruction of the uniform square.

So with β = 1 and σ² = 0.5 the objective is a negative ELBO per sample (up to a constant), and β is the
weight of nats of KL against the sum of squared errors of one sample.

**Batch sum against batch mean** (``RunConfig.reduction``). Many notebooks (and, likely, the seed
report's) sum the reconstruction and KL terms over the batch instead: recon_sum + β·KL_sum + λ_sum·Σw²
= B·(recon + β·KL + (λ_sum/B)·Σw²), B the batch size. The gradient is B times the batch-mean one with
λ = λ_sum/B, and Adam's step is invariant to a constant factor of the gradient (up to its ε = 1e-8 in
the denominator). So ``reduction = "sum"`` with weight λ trains as ``"mean"`` with λ/B, β unchanged:
:func:`batch_mean_l2` gives that coefficient, and the engine always trains the batch-mean form. The
seed's λ = 0.25 at B = 128 is λ ≈ 2·10⁻³ here; reports print λ·B beside λ.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

REDUCTIONS = ("mean", "sum")


def batch_mean_l2(l2: float, reduction: str, batch_size: int) -> float:
    """The batch-mean weight of λ·Σw² equivalent to weight ``l2`` under ``reduction`` ("mean": itself;
    "sum": ``l2 / batch_size``, see the module docstring); β needs no translation."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction = {reduction!r}: must be one of {list(REDUCTIONS)}")
    return l2 / batch_size if reduction == "sum" else l2


def gaussian_recon(x: Tensor, recon: Tensor, recon_var: Tensor) -> Tensor:
    """Gaussian reconstruction NLL without its constant, per model: [M, B, D] × 2, [M] → [M]."""
    # one reduction over (B, D), then the batch mean: a reduction over a 2-wide last dimension and
    # another over B cost 1.5× as much, with autograd, at the engine's sizes
    sse = (x - recon).square().sum((-2, -1))
    return sse / (x.shape[-2] * 2.0 * recon_var)


def recon_of_mse(mse: Tensor | float, dim: int, recon_var: Tensor | float) -> Tensor | float:
    """The reconstruction statistic (:func:`gaussian_recon`) of a mean squared error per coordinate
    ``mse``: ``D·MSE/(2σ²)``, D = ``dim`` data coordinates, σ² = ``recon_var``."""
    return dim * mse / (2.0 * recon_var)


def gaussian_nll_constant(dim: int, recon_var: float) -> float:
    """The constant ``(D/2)·log(2πσ²)`` that :func:`gaussian_recon` leaves out, in nats."""
    return 0.5 * dim * math.log(2 * math.pi * recon_var)


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per latent dimension, batch mean: [M, B, d] × 2 → [M, d] nats."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).mean(-2)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) summed over latent dimensions, batch mean: → [M] nats."""
    return (mu.square() + logvar.exp() - 1.0 - logvar).sum((-2, -1)) * (0.5 / mu.shape[-2])


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    # [M, n, d] × [M, m, d] → [M, n, m]; the expanded form is exact enough and one bmm. For d = 1 the
    # product is an outer product, written as one: a batched matmul whose gradient has N = 1 takes another
    # MKL route at M = 1 than at M > 1, and a run alone would differ from the same run batched
    cross = a * b.transpose(-1, -2) if a.shape[-1] == 1 else a @ b.transpose(-1, -2)
    d = a.square().sum(-1, keepdim=True) + b.square().sum(-1).unsqueeze(-2) - 2 * cross
    return d.clamp_min(0.0)


def rbf_kernel(sq: Tensor, dim: int) -> Tensor:
    """Gaussian kernel exp(−‖a−b‖² / (2h²)) with h² = d, the latent dimension (InfoVAE, Zhao et al. 2017)."""
    return torch.exp(-sq / (2.0 * dim))


def imq_kernel(sq: Tensor, dim: int) -> Tensor:
    """Inverse multiquadratic kernel C / (C + ‖a−b‖²) with C = 2·d·σ_z², σ_z = 1 (WAE, Tolstikhin et al.
    2018, §4)."""
    c = 2.0 * dim
    return c / (c + sq)


KERNELS = {"rbf": rbf_kernel, "imq": imq_kernel}


def mmd(z: Tensor, prior: Tensor, kernel: str = "imq") -> Tensor:
    """Unbiased estimate of MMD²(q, p) from z ~ q and prior ~ p (Gretton et al. 2012, eq. 3), per model.

    ``z``: [M, n, d], ``prior``: [M, m, d] → [M]. The U-statistic leaves out the diagonal terms, so two
    samples of one distribution give 0 in expectation (and can give a small negative number).
    """
    k = KERNELS[kernel]
    dim = z.shape[-1]
    n, m = z.shape[-2], prior.shape[-2]
    kzz = k(_sq_dists(z, z), dim)
    kpp = k(_sq_dists(prior, prior), dim)
    kzp = k(_sq_dists(z, prior), dim)
    diag_z = kzz.diagonal(dim1=-2, dim2=-1).sum(-1)
    diag_p = kpp.diagonal(dim1=-2, dim2=-1).sum(-1)
    return (
        (kzz.sum((-1, -2)) - diag_z) / (n * (n - 1))
        + (kpp.sum((-1, -2)) - diag_p) / (m * (m - 1))
        - 2.0 * kzp.mean((-1, -2))
    )
