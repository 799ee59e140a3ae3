"""The whole metrics suite for one run's evaluation arrays: one flat dict of named floats.

Input: the arrays of :func:`vaebench.evaluation.eval_arrays` — ``x`` [n, 2] held-out inputs, ``quadrant``
[n], encoder means ``mu`` and log-variances ``logvar`` [n, d], one sample ``z`` ~ q(z|x) per point,
``recon`` = decode(z), ``recon_mean`` = decode(μ), ``generated`` = decode(z'), z' ~ N(0, I). Output keys:

- reconstruction (``recon`` against ``x``): ``mse`` (x vs decode(μ)), ``recon_coverage``,
  ``recon_density`` (Naeem et al. 2020, k = 5), ``recon_occupancy`` (20×20 grid), ``recon_boundary_coverage``
  (5 % band), ``recon_corner_coverage`` (10 % corners), ``recon_sliced_wasserstein`` (p = 2, 32 angles);
- generation (``generated`` against ``x``): the same six with prefix ``gen_``;
- latent Gaussianity of the aggregate posterior, :func:`~vaebench.metrics.gaussianity.gaussianity` on the
  encoder means (prefix ``mu_``) and on the samples z ~ q(z|x) (prefix ``z_``);
- structure and collapse: ``quadrant_knn_accuracy`` (k = 10, leave-one-out, on z ~ q(z|x)),
  ``trustworthiness`` (k = 10, x vs z, 1 000 query points), ``active_units``, ``kl_total``,
  ``kl_dim_min``, ``kl_dim_max`` (nats, mean over points);
- likelihood (needs the model): ``elbo`` and ``iwae`` (k = 64) on 1 000 of the points, nats per point;
- ``recon_var_fitted``: the per-coordinate mean squared error of decode(z) (``recon`` against ``x``),
  floored at :data:`RECON_VAR_FLOOR` = 1e-6: the decoder variance that maximises the likelihood (σ-VAE,
  Rybkin, Daniilidis & Levine 2021). With ``fit_recon_var`` (a variant whose class sets
  ``fits_recon_var = True``) the ELBO, IWAE and exact numbers use it instead of the configured σ²;
- exact inference (needs the model, latent dimension ≤ 2; :func:`~vaebench.metrics.exact.exact_inference`)
  on the same 1 000 points: ``exact_log_px``, ``exact_elbo``, ``exact_posterior_gap``,
  ``exact_marginal_kl`` (KL of the aggregate posterior to N(0, I)), ``exact_mi`` (I(x; z), ≤ ln n),
  ``exact_quadrature_error``, ``exact_n`` (n), and ``exact_data_kl`` = KL(p_data ‖ p_θ) =
  −H(p_data) − E log p_θ(x) for data sets of known entropy (:data:`vaebench.data.ENTROPY`: −exact_log_px
  on U[0, 1]²; NaN otherwise). NaN for d > 2; for deterministic encoders everything but ``exact_log_px``,
  ``exact_data_kl``, ``exact_n`` and the error (their KL to the prior is infinite).

Every value is a float; NaN where undefined: KL, ELBO and IWAE for deterministic encoders (logvar = −inf,
infinite KL), likelihood bounds and exact numbers without a model, multivariate tests for d = 1, a group
whose input arrays hold NaN or inf (a broken decoder) or that needs more points than given, and the
degenerate cases of :func:`gaussianity`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaebench.data import ENTROPY
from vaebench.defaults import RECON_VAR
from vaebench.metrics._arrays import as_labels, as_points, check_count, check_fraction, subsample, to_numpy
from vaebench.metrics._neighbours import PointSet, shared_points
from vaebench.metrics.collapse import active_units, kl_per_dimension
from vaebench.metrics.coverage import coverage_and_density
from vaebench.metrics.distances import mse, sliced_wasserstein
from vaebench.metrics.exact import exact_inference
from vaebench.metrics.gaussianity import GAUSSIANITY_KEYS, gaussianity
from vaebench.metrics.likelihood import likelihood_bounds
from vaebench.metrics.occupancy import corner_region, edge_band, grid_occupancy, region_coverage, support_box
from vaebench.metrics.seed_claims import CLAIM_KEYS, CLAIM_MIN_N, CLAIM_NEEDS, claim_metrics
from vaebench.metrics.structure import knn_label_accuracy, trustworthiness
from vaebench.metrics.univariate import DAGOSTINO_MIN_N
from vaebench.seeding import derive_seed

NAEEM_K = 5
LABEL_K = 10
TRUST_K = 10
GRID_CELLS = 20
EDGE_WIDTH = 0.05
CORNER_WIDTH = 0.1
IWAE_K = 64
LIKELIHOOD_N = 1000
RECON_VAR_FLOOR = 1e-6
EXACT_KEYS = {"exact_log_px": "log_px", "exact_elbo": "elbo", "exact_posterior_gap": "posterior_gap",
              "exact_marginal_kl": "marginal_kl", "exact_mi": "mutual_information",
              "exact_quadrature_error": "quadrature_error", "exact_n": "exact_n"}
LATENTS = {"mu": "encoder means μ(x)", "z": "samples z ~ q(z|x)"}
SAMPLE_KEYS = ("coverage", "density", "occupancy", "boundary_coverage", "corner_coverage",
               "sliced_wasserstein")


@dataclass
class Context:
    """What the metric groups see: validated float64 arrays, the model (or None), σ², the seed, whether the
    likelihoods use the fitted σ², and the data set's name (or None)."""

    arrays: dict[str, np.ndarray]
    model: Any
    recon_var: float
    seed: int
    fit_recon_var: bool = False
    dataset: str | None = None
    cache: dict = field(default_factory=dict)

    def recon_var_fitted(self) -> float:
        """Per-coordinate MSE of decode(z), floored at RECON_VAR_FLOOR; NaN if ``recon`` is not finite."""
        x, recon = self.arrays["x"], self.arrays["recon"]
        mse_z = float(np.mean((x - recon) ** 2))
        return max(mse_z, RECON_VAR_FLOOR) if np.isfinite(mse_z) else float("nan")

    def likelihood_var(self) -> float:
        """The σ² of the likelihoods: the fitted one for variants that fit it, else the configured one."""
        return self.recon_var_fitted() if self.fit_recon_var else self.recon_var

    def likelihood_points(self) -> np.ndarray:
        """The points of the likelihood groups: LIKELIHOOD_N of x, the same for ELBO, IWAE and exact."""
        return subsample(self.arrays["x"], LIKELIHOOD_N, self.seed_for(5))

    def seed_for(self, stream: int) -> int:
        return derive_seed(self.seed, stream)

    def points(self, key: str) -> PointSet:
        """The array ``key`` as a PointSet, one per array: its neighbour structures, k-NN queries and sorted
        projections are shared by every group that uses it. The inputs x are shared across runs too
        (:func:`~vaebench.metrics._neighbours.shared_points`: runs with one seed have the same x)."""
        if ("points", key) not in self.cache:
            make = shared_points if key == "x" else PointSet
            self.cache[("points", key)] = make(self.arrays[key], key)
        return self.cache[("points", key)]


@dataclass(frozen=True)
class Group:
    """A set of metrics computed together from the arrays in ``needs``; NaN if any of those is not finite
    or there are fewer than ``min_n`` points."""

    needs: tuple[str, ...]
    keys: tuple[str, ...]
    compute: Callable[[Context], dict[str, float]]
    min_n: int = 1


def _sample_quality(prefix: str, fake_key: str) -> Callable[[Context], dict[str, float]]:
    def compute(ctx: Context) -> dict[str, float]:
        x, fake, real = ctx.arrays["x"], ctx.arrays[fake_key], ctx.points("x")
        covered, dens = coverage_and_density(real, ctx.points(fake_key), NAEEM_K)
        lo, hi = support_box(real)
        return {
            f"{prefix}_coverage": float(np.mean(covered)),
            f"{prefix}_density": dens,
            f"{prefix}_occupancy": grid_occupancy(real, fake, cells=GRID_CELLS),
            f"{prefix}_boundary_coverage": region_coverage(covered, edge_band(x, lo, hi, EDGE_WIDTH)),
            f"{prefix}_corner_coverage": region_coverage(covered, corner_region(x, lo, hi, CORNER_WIDTH)),
            f"{prefix}_sliced_wasserstein": sliced_wasserstein(real, fake, seed=ctx.seed_for(2)),
        }

    return compute


def _latent_gaussianity(prefix: str) -> Callable[[Context], dict[str, float]]:
    def compute(ctx: Context) -> dict[str, float]:
        latent = ctx.arrays[prefix]
        key = latent.tobytes()  # a deterministic encoder has z = μ: test once
        if key not in ctx.cache:
            ctx.cache[key] = gaussianity(latent, seed=ctx.seed_for(3))
        return {f"{prefix}_{name}": value for name, value in ctx.cache[key].items()}

    return compute


def _structure(ctx: Context) -> dict[str, float]:
    # On samples z ~ q(z|x), what the decoder sees: k-NN ranks ignore scale, so on the means a collapsed
    # encoder whose tiny μ(x) still keeps the inputs' order would score as well as a good one.
    x, z = ctx.points("x"), ctx.points("z")
    return {"quadrant_knn_accuracy": knn_label_accuracy(z, ctx.arrays["quadrant"], LABEL_K),
            "trustworthiness": trustworthiness(x, z, TRUST_K, seed=ctx.seed_for(4))}


def _collapse(ctx: Context) -> dict[str, float]:
    kl = kl_per_dimension(ctx.arrays["mu"], ctx.arrays["logvar"])
    kl = np.where(np.isfinite(kl), kl, np.nan)  # infinite KL (point-mass q) reported as NaN
    return {"active_units": float(active_units(ctx.arrays["mu"])), "kl_total": float(np.sum(kl)),
            "kl_dim_min": float(np.min(kl)), "kl_dim_max": float(np.max(kl))}


EXACT_GROUP_KEYS = (*EXACT_KEYS, "exact_data_kl")


def _likelihood(ctx: Context) -> dict[str, float]:
    recon_var = ctx.likelihood_var()
    if ctx.model is None or not np.isfinite(recon_var):
        return {"elbo": float("nan"), "iwae": float("nan")}
    bounds = likelihood_bounds(ctx.model, ctx.likelihood_points(), k=IWAE_K, recon_var=recon_var,
                               seed=ctx.seed_for(6))
    return {"elbo": bounds.elbo, "iwae": bounds.iwae}


def _exact(ctx: Context) -> dict[str, float]:
    recon_var = ctx.likelihood_var()
    if ctx.model is None or ctx.arrays["mu"].shape[1] > 2 or not np.isfinite(recon_var):
        return dict.fromkeys(EXACT_GROUP_KEYS, float("nan"))
    out = exact_inference(ctx.model, ctx.likelihood_points(), recon_var)
    values = {key: float(out[name]) for key, name in EXACT_KEYS.items()}
    entropy = ENTROPY.get(ctx.dataset, float("nan")) if ctx.dataset is not None else float("nan")
    values["exact_data_kl"] = -entropy - values["exact_log_px"]
    return values


GROUPS: tuple[Group, ...] = (
    Group(("x", "recon_mean"), ("mse",),
          lambda ctx: {"mse": mse(ctx.arrays["x"], ctx.arrays["recon_mean"])}),
    Group(("x", "recon"), tuple(f"recon_{k}" for k in SAMPLE_KEYS), _sample_quality("recon", "recon"),
          NAEEM_K + 1),
    Group(("x", "generated"), tuple(f"gen_{k}" for k in SAMPLE_KEYS), _sample_quality("gen", "generated"),
          NAEEM_K + 1),
    *[Group((p,), tuple(f"{p}_{k}" for k in GAUSSIANITY_KEYS), _latent_gaussianity(p), DAGOSTINO_MIN_N)
      for p in LATENTS],
    Group(("x", "z"), ("quadrant_knn_accuracy", "trustworthiness"), _structure, 2 * TRUST_K + 1),
    Group(("mu", "logvar"), ("active_units", "kl_total", "kl_dim_min", "kl_dim_max"), _collapse, 2),
    Group(("x", "mu", "logvar"), ("elbo", "iwae"), _likelihood),
    Group(CLAIM_NEEDS, CLAIM_KEYS, lambda ctx: claim_metrics(ctx.arrays, ctx.model, ctx.points), CLAIM_MIN_N),
    # added after the frozen outputs (tests/metrics/test_metrics_frozen.py), so their order is kept
    Group(("x", "recon"), ("recon_var_fitted",), lambda ctx: {"recon_var_fitted": ctx.recon_var_fitted()}),
    Group(("x", "mu", "logvar"), EXACT_GROUP_KEYS, _exact),
)
REQUIRED = ("x", "quadrant", "mu", "logvar", "z", "recon", "recon_mean", "generated")


def metric_names() -> list[str]:
    """Every key :func:`evaluate` returns, in order."""
    return [key for group in GROUPS for key in group.keys]


def nan_metrics() -> dict[str, float]:
    """Every metric key with NaN (for runs that have nothing to evaluate, e.g. diverged ones)."""
    return dict.fromkeys(metric_names(), float("nan"))


def _read_arrays(arrays: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, bool]]:
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise ValueError(f"arrays = dict with keys {sorted(arrays)}: missing {missing} "
                         f"(as returned by vaebench.evaluation.eval_arrays)")
    out, finite = {}, {}
    for key in REQUIRED:
        if key == "quadrant":
            continue
        arr = to_numpy(arrays[key], key)
        out[key] = arr[:, None] if arr.ndim == 1 else arr
        ok = np.isfinite(arr) | (np.isneginf(arr) if key == "logvar" else False)
        finite[key] = bool(ok.all())
    n = len(out["x"])
    for key in REQUIRED[1:]:
        if key != "quadrant" and len(out[key]) != n:
            raise ValueError(f"arrays['{key}'] = array of {len(out[key])} points: must have as many as "
                             f"x ({n})")
    as_points(out["x"], "x")
    out["quadrant"] = as_labels(arrays["quadrant"], "quadrant", n)
    finite["quadrant"] = True
    return out, finite


def evaluate(arrays: dict[str, Any], *, model: Any = None, recon_var: float = RECON_VAR, seed: int = 0,
             fit_recon_var: bool = False, dataset: str | None = None) -> dict[str, float]:
    """Every metric of the suite (see the module docstring) for one run, as a flat dict of floats.

    ``arrays``: the dict of :func:`vaebench.evaluation.eval_arrays` (NumPy arrays or tensors). Groups
    that need more points than there are give NaN: Gaussianity needs n ≥ 20, structure n ≥ 21.
    ``model``: the trained model (``encode``/``decode``) for ``elbo``/``iwae``, or None (then NaN).
    ``recon_var``: the decoder's σ² (the run's ``recon_var``). ``seed``: every random choice inside the
    suite (subsamples, importance samples) derives from it, so equal inputs give equal numbers.
    ``fit_recon_var``: the likelihoods (ELBO, IWAE, exact) use ``recon_var_fitted`` instead of
    ``recon_var`` (σ-VAE). ``dataset``: the data set's name, for ``exact_data_kl`` (None: NaN).
    """
    recon_var = check_fraction("recon_var", recon_var, high=np.inf)
    seed = check_count("seed", seed, 0)
    values, finite = _read_arrays(arrays)
    ctx = Context(values, model, recon_var, seed, bool(fit_recon_var), dataset)
    out: dict[str, float] = {}
    n = len(values["x"])
    for group in GROUPS:
        if n >= group.min_n and all(finite[key] for key in group.needs):
            out.update(group.compute(ctx))
        else:
            out.update(dict.fromkeys(group.keys, float("nan")))
    return {key: float(out[key]) for key in metric_names()}
