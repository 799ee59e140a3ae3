"""Exact-inference figures: each takes a tidy results table and returns a Figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.exact_figures import likelihood_figure, marginal_kl_figure, rate_information_figure


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for d in (2, 1):
        for l2 in (0.0, 3e-4):
            for beta in (0.003, 0.01, 0.1):
                for seed in range(3):
                    kl = 0.5 * d * math.log(1 / (12 * beta * 0.5)) + rng.normal(0, 0.05)
                    mkl = 0.05 / beta ** 0.3 * rng.uniform(0.8, 1.2)
                    rows.append({"variant": "vae", "dataset": "uniform", "recon_var": 0.5, "latent_dim": d,
                                 "l2": l2, "beta": beta, "seed": seed, "status": "ok",
                                 "recon_var_fitted": beta * 0.5, "kl_total": kl, "exact_marginal_kl": mkl,
                                 "exact_mi": kl - mkl, "exact_log_px": -1.4 + rng.normal(0, 0.01),
                                 "iwae": -1.4 - kl / 3, "elbo": -1.4 - kl, "exact_elbo": -1.4 - kl + 0.01})
    rows.append({**rows[0], "status": "diverged", "kl_total": math.nan})
    return pd.DataFrame(rows)


def test_rate_information_figure(results):
    fig = rate_information_figure(results)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # per panel: the segments, then hollow and filled markers per β
    assert len(fig.axes[0].collections) == 1 + 2 * 3


def test_marginal_kl_figure_is_a_heatmap_per_latent_size(results):
    fig = marginal_kl_figure(results)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2
    texts = [t.get_text() for t in panels[0].texts]
    assert len(texts) == 2 * 3 and all("±" in t for t in texts)  # (λ, β) cells with mean ± half-width


def test_likelihood_figure_draws_each_bound_and_the_ignore_z_reference(results):
    fig = likelihood_figure(results[results["l2"] == 0.0])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert {"exact log p(x)", "IWAE₆₄ (sampled)", "ELBO (sampled)", "ELBO (exact)"} <= set(labels)
    assert any(lb.startswith("decoder ignoring z: -1.311") for lb in labels)  # −ln π − 1/6


def test_a_table_without_the_columns_is_a_short_error(results):
    with pytest.raises(ValueError, match="exact_mi"):
        rate_information_figure(results.drop(columns="exact_mi"))
    with pytest.raises(ValueError, match="nothing to draw"):
        marginal_kl_figure(results.assign(status="diverged"))
