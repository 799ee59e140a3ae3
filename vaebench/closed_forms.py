"""Known answers on vaebench's own problem, to check training and metrics against.

- **The linear β-VAE** (``hidden = []``: linear encoder mean and log-variance, linear decoder), loss
  Σⱼ(xⱼ − x̂ⱼ)²/(2σ²) + β·KL on data with variance ξ² per direction (1/12 for U[0, 1]²). Per direction,
  with encoder μ = a·x, variance s², decoder x̂ = w·z: E(x − wz)² = (1 − wa)²ξ² + w²s². Setting the
  derivatives in w, a and s² to zero gives v + s² = 1 (v = a²ξ² = Var μ: the aggregate posterior has unit
  variance) and s² = βσ²/ξ²; then the expected squared error of decode(z), z ~ q(z|x), is ξ²s² = βσ², and
  the KL is ½(v + s² − 1 − ln s²) = ½ ln(ξ²/(βσ²)). This needs s² < 1, i.e. βσ² < ξ²; otherwise the
  direction collapses (a = w = 0: error ξ², KL 0), and with u = ξ²/(βσ²) > 1 the active solution's loss
  β(1 + ln u)/2 is below the collapsed one's ξ²/(2σ²) = βu/2 since u > 1 + ln u. So the critical β is
  ξ²/σ² (1/6 at σ² = 0.5), the same for both directions of the square; a d-dimensional latent keeps
  min(d, 2) directions below it (for β = 1 this is Lucas et al. 2019, via probabilistic PCA).
- **Rate–distortion of the uniform source** under squared error. Every VAE satisfies
  E[KL] ≥ I(X; Z) ≥ I(X; X̂) ≥ R(D), D the expected total squared error of decode(z). For U[0, 1] per
  coordinate, the Shannon lower bound −½ ln(2πe·D₁) (h(X) = 0) and the Gaussian upper bound
  ½ ln(1/(12·D₁)) (a Gaussian test channel) bracket R₁(D₁); two independent coordinates give
  R(D) = 2·R₁(D/2) (Cover & Thomas 2006, §10.3–10.4). R₁ itself is computed by the Blahut–Arimoto
  algorithm (Blahut 1972) on a fine grid, each point with its certified gap (Blahut's lower bound).
- **The linear-Gaussian decoder** x̂ = Wz + b with prior N(0, I) and decoder variance σ²: p(x) =
  N(b, WWᵀ + σ²I) and p(z|x) = N(m, S), S = (I + WᵀW/σ²)⁻¹, m = S Wᵀ(x − b)/σ² (Tipping & Bishop 1999);
  :class:`LinearGaussianVAE` is such a model with an affine encoder, to check exact inference against.
- **Same-distribution coverage** (Naeem et al. 2020): :func:`vaebench.metrics.expected_coverage`, stated
  once there and re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaebench.defaults import RECON_VAR
from vaebench.metrics.coverage import expected_coverage

UNIFORM_VAR = 1.0 / 12.0  # variance of U[0, 1]: ξ² of every direction of the unit square
DATA_DIM = 2

__all__ = ["UNIFORM_VAR", "BlahutArimotoPoint", "LinearGaussianVAE", "linear_decoder_log_px",
           "linear_decoder_posterior", "orthogonal_decoder", "blahut_arimoto_uniform", "expected_coverage",
           "gaussian_upper_bound", "linear_vae_critical_beta", "linear_vae_optimum", "shannon_lower_bound",
           "uniform_rd_curve", "uniform_square_rate"]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} = {value!r}: must be a finite number > 0")
    return value


def linear_vae_critical_beta(recon_var: float = RECON_VAR, data_var: float = UNIFORM_VAR) -> float:
    """β above which a direction of variance ξ² collapses in the linear β-VAE: ξ²/σ² (1/6 by default)."""
    return _positive("data_var", data_var) / _positive("recon_var", recon_var)


def linear_vae_optimum(beta: float, recon_var: float = RECON_VAR, data_var: float = UNIFORM_VAR,
                       latent_dim: int = DATA_DIM, data_dim: int = DATA_DIM) -> dict[str, float]:
    """The linear β-VAE's optimum on isotropic data (variance ``data_var`` = ξ² per direction).

    Returns ``active`` (directions kept: min(latent_dim, data_dim) below the critical β, else 0),
    ``error_per_direction`` (βσ² for a kept direction), ``kl_per_direction`` (½ ln(ξ²/(βσ²)) nats),
    ``encoder_var`` (βσ²/ξ², the posterior variance of a kept direction), ``error`` (expected total
    squared error of decode(z), z ~ q(z|x): kept directions βσ², the others ξ²) and ``kl`` (total nats).
    """
    beta = _positive("beta", beta)
    bc = linear_vae_critical_beta(recon_var, data_var)
    noise = beta * recon_var
    active = min(latent_dim, data_dim) if beta < bc else 0
    err_dir = noise if active else data_var
    kl_dir = 0.5 * math.log(data_var / noise) if active else 0.0
    return {"active": float(active), "error_per_direction": err_dir, "kl_per_direction": kl_dir,
            "encoder_var": noise / data_var if active else 1.0,
            "error": active * noise + (data_dim - active) * data_var, "kl": active * kl_dir}


def shannon_lower_bound(d1: np.ndarray | float) -> np.ndarray:
    """Shannon's lower bound on R₁(D₁) of U[0, 1], nats: −½ ln(2πe·D₁) (may be negative; R ≥ 0 too)."""
    return -0.5 * np.log(2 * np.pi * np.e * np.asarray(d1, dtype=float))


def gaussian_upper_bound(d1: np.ndarray | float) -> np.ndarray:
    """The Gaussian-channel upper bound on R₁(D₁) of U[0, 1], nats: max(0, ½ ln(1/(12·D₁)))."""
    return np.maximum(0.0, 0.5 * np.log(UNIFORM_VAR / np.asarray(d1, dtype=float)))


@dataclass(frozen=True)
class BlahutArimotoPoint:
    """One point of R₁(D₁) at slope ``slope`` < 0: the achieved distortion ``distortion`` and mutual
    information ``rate`` (an achievable pair, so ``rate`` ≥ R₁(distortion)), Blahut's lower bound
    ``rate_lower`` ≤ R₁(distortion), the iterations used and whether the gap fell below the tolerance."""

    slope: float
    distortion: float
    rate: float
    rate_lower: float
    iterations: int
    converged: bool


def blahut_arimoto_uniform(slope: float, n: int = 600, tol: float = 1e-4,
                           max_iter: int = 100_000) -> tuple[BlahutArimotoPoint, np.ndarray]:
    """R₁(D₁) of U[0, 1] under squared error at one slope ``slope`` < 0, by Blahut–Arimoto (Blahut 1972).

    Source and reproduction alphabets are the ``n`` cell midpoints of [0, 1] (the grid must be fine:
    D₁ ≫ 1/n²). For a reproduction law q, Q(y|x) = q(y)e^{s·d(x,y)}/Z(x) gives an achievable pair
    (D_s, I) and Blahut's bound R(D) ≥ sD − E ln Z(X) − maxᵧ ln c(y), c(y) = Σₓ p(x)e^{s·d}/Z(x), for
    every D; the iteration q ← q·c stops when I minus that bound is below ``tol`` nats. The kernel is
    Toeplitz, so each product is an FFT convolution (no BLAS: fast whatever the load). It starts from the
    uniform q: starting from a neighbouring slope's q took up to 30 times more iterations (that q has
    nearly lost the mass the new optimum needs). Returns the point and the final q.
    """
    if not (math.isfinite(slope) and slope < 0):
        raise ValueError(f"slope = {slope!r}: must be a finite number < 0")
    h = 1.0 / n
    lag = h * np.arange(-(n - 1), n)
    kernel = np.exp(slope * lag**2)
    size = 1 << int(math.ceil(math.log2(3 * n)))
    k_f, kd_f = np.fft.rfft(kernel, size), np.fft.rfft(kernel * lag**2, size)

    def conv(v: np.ndarray, f: np.ndarray) -> np.ndarray:
        return np.fft.irfft(np.fft.rfft(v, size) * f, size)[n - 1:2 * n - 1]

    p = np.full(n, 1.0 / n)
    q = np.full(n, 1.0 / n)
    rate = lower = dist = math.nan
    for it in range(1, max_iter + 1):
        z = np.maximum(conv(q, k_f), 1e-300)
        c = np.maximum(conv(p / z, k_f), 1e-300)
        q_next = q * c
        if it % 25 == 0 or it == max_iter:
            dist = float((p / z) @ conv(q, kd_f))
            log_c = np.log(c)
            base = slope * dist - float(p @ np.log(z))
            rate, lower = base - float(q_next @ log_c), base - float(log_c.max())
            if rate - lower < tol:
                break
        q = q_next / q_next.sum()
    point = BlahutArimotoPoint(slope, dist, max(rate, 0.0), lower, it, bool(rate - lower < tol))
    return point, q


def uniform_rd_curve(slopes: np.ndarray | None = None, n: int = 600,
                     tol: float = 2e-4) -> list[BlahutArimotoPoint]:
    """R₁(D₁) of U[0, 1] at each slope (default: 20 slopes from −7 to −3 000, D₁ from about 0.065 to
    1.7·10⁻⁴, where n = 600 grid points still resolve √D₁ by 8 cells). Rates at slopes above
    −6 = −1/(2ξ²) are 0."""
    slopes = -np.geomspace(7.0, 3000.0, 20) if slopes is None else np.asarray(slopes, dtype=float)
    return [blahut_arimoto_uniform(float(s), n=n, tol=tol)[0] for s in slopes]


def uniform_square_rate(distortion: np.ndarray | float, curve: list[BlahutArimotoPoint]) -> np.ndarray:
    """R(D) = 2·R₁(D/2) of U[0, 1]², D the total squared error, interpolated (in log D₁) on ``curve``
    (:func:`uniform_rd_curve`); 0 for D ≥ 2/12; NaN below the curve's smallest distortion."""
    d1 = np.asarray(distortion, dtype=float) / 2
    pts = sorted(curve, key=lambda p: p.distortion)
    xs = np.log([p.distortion for p in pts] + [UNIFORM_VAR])
    ys = np.array([p.rate for p in pts] + [0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.interp(np.log(d1), xs, ys, left=np.nan, right=0.0)
    return 2 * r1


def linear_decoder_log_px(w: np.ndarray, b: np.ndarray, recon_var: float, x: np.ndarray) -> np.ndarray:
    """log p(x) per point [n] of the decoder x̂ = Wz + b (``w`` [D, d]) with prior N(0, I):
    log N(x; b, WWᵀ + σ²I)."""
    from scipy import stats

    cov = w @ w.T + _positive("recon_var", recon_var) * np.eye(len(b))
    return np.atleast_1d(stats.multivariate_normal(mean=b, cov=cov).logpdf(x))


def linear_decoder_posterior(w: np.ndarray, recon_var: float) -> tuple[np.ndarray, np.ndarray]:
    """(S, K) of the posterior p(z|x) = N(K(x − b), S) of the decoder x̂ = Wz + b: S = (I + WᵀW/σ²)⁻¹,
    K = S Wᵀ/σ²."""
    recon_var = _positive("recon_var", recon_var)
    s = np.linalg.inv(np.eye(w.shape[1]) + w.T @ w / recon_var)
    return s, s @ w.T / recon_var


def orthogonal_decoder(latent_dim: int, scales: tuple[float, ...] = (0.3, 0.15), angle: float = 0.4
                       ) -> np.ndarray:
    """A decoder matrix W [2, d] with orthogonal columns of lengths ``scales`` (a rotation by ``angle``)."""
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return rot[:, :latent_dim] * np.asarray(scales[:latent_dim], dtype=float)


class LinearGaussianVAE:
    """Decoder x̂ = Wz + b (``w`` [D, d], ``b`` [D]); encoder μ(x) = A(x − b) + c (``a`` [d, D]) with a
    fixed log-variance per latent dimension (``logvar`` [d]; −inf: deterministic). ``encode``/``decode``
    take and return torch tensors, as a trained model's do.

    :meth:`true_posterior` sets q(z|x) = p(z|x) exactly, which a diagonal q can when W's columns are
    orthogonal (then S is diagonal); :meth:`collapsed` is the linear VAE above β_c: W = 0, q(z|x) = N(0, I).
    """

    def __init__(self, w, b, a, c, logvar):
        import torch

        self.w, self.b, self.a, self.c, self.logvar = (torch.as_tensor(np.asarray(v, dtype=np.float64))
                                                       for v in (w, b, a, c, logvar))

    def encode(self, x):
        mu = (x.double() - self.b) @ self.a.T + self.c
        return mu.to(x.dtype), self.logvar.expand_as(mu).to(x.dtype)

    def decode(self, z):
        return (z.double() @ self.w.T + self.b).to(z.dtype)

    @classmethod
    def true_posterior(cls, w: np.ndarray, b: np.ndarray, recon_var: float) -> LinearGaussianVAE:
        s, k = linear_decoder_posterior(w, recon_var)
        if not np.allclose(s, np.diag(np.diag(s)), rtol=0, atol=1e-12):
            raise ValueError("w = matrix with non-orthogonal columns: the posterior is not diagonal")
        return cls(w, b, k, np.zeros(w.shape[1]), np.log(np.diag(s)))

    @classmethod
    def collapsed(cls, b: np.ndarray, latent_dim: int) -> LinearGaussianVAE:
        d = latent_dim
        return cls(np.zeros((len(b), d)), b, np.zeros((d, len(b))), np.zeros(d), np.zeros(d))

    def elbo(self, x: np.ndarray, recon_var: float) -> np.ndarray:
        """The ELBO per point [n] in closed form: E_q‖x − Wz − b‖² = ‖x − Wμ − b‖² + Σ_k (WᵀW)_kk σ_k²,
        the KL of diagonal Gaussians (x as float64)."""
        w, b, lv = (t.numpy() for t in (self.w, self.b, self.logvar))
        mu = (x - b) @ self.a.numpy().T + self.c.numpy()
        var = np.exp(lv) * np.ones_like(mu)
        sq = np.sum((x - mu @ w.T - b) ** 2, axis=1) + var @ np.diag(w.T @ w)
        log_lik = -0.5 * x.shape[1] * math.log(2 * math.pi * recon_var) - sq / (2 * recon_var)
        return log_lik - 0.5 * np.sum(mu ** 2 + var - 1 - lv, axis=1)
