"""Metrics: pure functions from arrays (and a seed where random) to named numbers.

Usable on any NumPy arrays, lists or torch tensors, not only vaebench's. One concern per module:

- latent Gaussianity — :func:`gaussianity` (the suite, Holm-corrected), :func:`henze_zirkler`,
  :func:`mardia`, the per-dimension tests of :mod:`~vaebench.metrics.univariate`, and the effect sizes
  :func:`moment_kl` and :func:`energy_distance` to N(0, I);
- reconstruction and generation — :func:`coverage`, :func:`density` (Naeem et al. 2020),
  :func:`grid_occupancy`, :func:`boundary_coverage`, :func:`corner_coverage`, :func:`sliced_wasserstein`,
  :func:`mse`;
- structure and collapse — :func:`knn_label_accuracy`, :func:`trustworthiness`, :func:`active_units`,
  :func:`kl_per_dimension`, :func:`likelihood_bounds` (ELBO and IWAE);
- exact inference for latents of dimension 1 or 2 — :func:`exact_inference` (log p(x), the ELBO, the
  posterior gap, the aggregate posterior's KL to the prior and I(x; z), by quadrature);
- :func:`evaluate` — all of them for one run's evaluation arrays, one flat dict of floats.
"""

from vaebench.metrics.collapse import active_units, kl_per_dimension
from vaebench.metrics.coverage import coverage, coverage_and_density, density, expected_coverage
from vaebench.metrics.distances import mse, sliced_wasserstein
from vaebench.metrics.exact import exact_inference
from vaebench.metrics.gaussianity import gaussianity, holm
from vaebench.metrics.henze_zirkler import henze_zirkler
from vaebench.metrics.likelihood import LikelihoodBounds, likelihood_bounds
from vaebench.metrics.mardia import mardia
from vaebench.metrics.occupancy import boundary_coverage, corner_coverage, grid_occupancy
from vaebench.metrics.prior_distance import energy_distance, expected_distance_to_standard_normal, moment_kl
from vaebench.metrics.results import MardiaResult, TestResult
from vaebench.metrics.structure import knn_label_accuracy, trustworthiness
from vaebench.metrics.suite import evaluate, metric_names, nan_metrics
from vaebench.metrics.univariate import anderson_darling, dagostino_pearson, ks_standard_normal, shapiro_wilk

__all__ = [
    "LikelihoodBounds", "MardiaResult", "TestResult", "active_units", "anderson_darling", "boundary_coverage",
    "corner_coverage", "coverage", "coverage_and_density", "dagostino_pearson", "density", "energy_distance",
    "evaluate", "exact_inference", "expected_coverage", "expected_distance_to_standard_normal", "gaussianity",
    "grid_occupancy",
    "henze_zirkler", "holm", "kl_per_dimension", "knn_label_accuracy", "ks_standard_normal",
    "likelihood_bounds", "mardia", "metric_names", "moment_kl", "mse", "nan_metrics", "shapiro_wilk",
    "sliced_wasserstein", "trustworthiness",
]
