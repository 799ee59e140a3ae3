"""Tables of the report, computed from the tidy results table (one row per run).

Every metric column the analysis reads is named once, in :data:`METRICS` (role -> column), so names can
be aligned with the metric suite in one place. Seed averages carry Student-t 95% intervals over seeds:
mean ± t_{0.975, n−1} · s / √n, with n the number of seeds with a finite value (no interval for n < 2).
Diverged runs are never averaged or plotted: :func:`split_status` sets them apart for listing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from vaebench.statistics import Interval, t_interval  # noqa: F401  (part of this module's interface)

# role -> column of the results table. Contract names of the metric suite, then the report's own
# derived columns (analysis.derived, computed from each run's stored arrays).
METRICS: dict[str, str] = {
    "mse": "mse",
    "coverage": "recon_coverage",
    "density": "recon_density",
    "occupancy": "recon_occupancy",
    "boundary": "recon_boundary_coverage",
    "corner": "recon_corner_coverage",
    "recon_swd": "recon_sliced_wasserstein",
    "gen_coverage": "gen_coverage",
    "gen_density": "gen_density",
    "gen_boundary": "gen_boundary_coverage",
    "gen_corner": "gen_corner_coverage",
    "gen_swd": "gen_sliced_wasserstein",
    "gauss_effect": "mu_moment_kl",
    "gauss_rejected": "mu_rejected",
    "z_gauss_effect": "z_moment_kl",
    "z_rejected": "z_rejected",
    "quadrant": "quadrant_knn_accuracy",
    "trust": "trustworthiness",
    "active": "active_units",
    "kl": "kl_total",
    "elbo": "elbo",
    "iwae": "iwae",
    # the seed report's claims (vaebench.metrics.seed_claims)
    "directions": "z_directions_kept",
    "explained_minor": "z_explained_minor",
    "explained_major": "z_explained_major",
    "squareness": "mu_squareness",
    "orientation": "mu_orientation_deg",
    "contrast": "mu_kurtosis_contrast",
    "edge_low": "recon_edge_low",
    "edge_high": "recon_edge_high",
    "curve": "curve_length",
}

# Human labels of the columns above (and of the config columns the report shows).
LABELS: dict[str, str] = {
    "mse": "MSE",
    "recon_coverage": "coverage",
    "recon_density": "density",
    "recon_occupancy": "occupancy",
    "recon_boundary_coverage": "boundary cov.",
    "recon_corner_coverage": "corner cov.",
    "recon_sliced_wasserstein": "sliced W₂",
    "gen_coverage": "gen. coverage",
    "gen_density": "gen. density",
    "gen_boundary_coverage": "gen. boundary cov.",
    "gen_corner_coverage": "gen. corner cov.",
    "gen_sliced_wasserstein": "gen. sliced W₂",
    "mu_moment_kl": "Gauss. effect (KL)",
    "mu_rejected": "normality rejected",
    "z_moment_kl": "z Gauss. effect (KL)",
    "z_rejected": "z normality rejected",
    "quadrant_knn_accuracy": "quadrant acc.",
    "trustworthiness": "trustworthiness",
    "active_units": "active units",
    "kl_total": "KL (nats)",
    "elbo": "ELBO",
    "iwae": "IWAE bound",
    "z_directions_kept": "input directions kept",
    "z_explained_minor": "worst direction kept",
    "z_explained_major": "best direction kept",
    "mu_squareness": "squareness",
    "mu_orientation_deg": "orientation (°)",
    "mu_kurtosis_contrast": "kurtosis contrast",
    "recon_edge_low": "edge cov. near 0",
    "recon_edge_high": "edge cov. near 1",
    "curve_length": "curve length",
    "z_energy_distance": "ℰ(q(z), N(0, I))",
    "exact_marginal_kl": "KL(q(z) ‖ N(0, I))",
    "beta": "β", "l2": "λ", "l2_times_batch": "λ·B", "latent_dim": "d", "n": "n seeds",
}

# Short labels for figure titles (role -> text).
SHORT: dict[str, str] = {"gauss_effect": "KL_G", "coverage": "cov", "boundary": "bnd", "corner": "crn",
                         "gen_coverage": "cov", "gen_boundary": "bnd", "mse": "MSE", "quadrant": "quad",
                         "directions": "dirs", "kl": "KL", "contrast": "κ±", "curve": "len", "edge_low": "e0"}

# The metrics of the per-configuration table, in order.
TABLE_METRICS = ["mse", "coverage", "boundary", "edge_low", "edge_high", "gen_coverage", "gauss_effect",
                 "quadrant", "directions", "contrast", "curve", "kl", "elbo", "active"]
# Config fields that identify a configuration (a run is a configuration plus a seed).
CONFIG_COLUMNS = ["dataset", "n_train", "variant", "latent_dim", "hidden", "beta", "l2", "reduction",
                  "schedule", "warmup", "cycles", "cycle_ratio", "recon_var", "lr", "steps", "batch_size",
                  "params"]
RUN_COLUMNS = ["run_id", "status", "diverged_step", "reason", "seed"]


def col(role: str) -> str:
    """The results-table column of metric ``role`` (a key of :data:`METRICS`)."""
    if role not in METRICS:
        raise ValueError(f"metric role = {role!r}: must be one of {sorted(METRICS)}")
    return METRICS[role]


def label(column: str) -> str:
    """Human label of a column name."""
    return LABELS.get(column, column)


def split_status(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ok runs, diverged runs). Runs without a ``status`` column count as ok."""
    if "status" not in results:
        return results, results.iloc[0:0]
    ok = results["status"].eq("ok")
    return results[ok], results[~ok]


def config_columns(results: pd.DataFrame) -> list[str]:
    """The configuration columns present in ``results`` (config fields except seed and device)."""
    return [c for c in CONFIG_COLUMNS if c in results.columns]


def varying_columns(results: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The columns among ``columns`` (default: the config columns) that take more than one value."""
    columns = config_columns(results) if columns is None else columns
    return [c for c in columns if c in results and results[c].astype(str).nunique() > 1]


def present(results: pd.DataFrame, roles: Iterable[str]) -> list[str]:
    """Columns of the metric ``roles`` that ``results`` has, in the given order."""
    return [col(r) for r in roles if col(r) in results.columns]


def seed_summary(results: pd.DataFrame, metrics: Sequence[str], by: Sequence[str] | None = None,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Seed averages of ``metrics`` (column names) per configuration, tidy: one row per (configuration,
    metric) with the ``by`` columns (default: every config column present), ``metric``, ``n`` (seeds with
    a finite value), ``mean``, ``sd``, ``lo``, ``hi`` (t-interval at ``confidence``). Only ok runs."""
    ok, _ = split_status(results)
    by = list(config_columns(ok) if by is None else by)
    missing = [c for c in [*by, *metrics] if c not in ok.columns]
    if missing:
        raise ValueError(f"columns = {missing}: not in the results table (have {list(ok.columns)})")
    rows = []
    for key, group in ok.groupby(by, dropna=False, sort=True) if by else [((), ok)]:
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            iv = t_interval(group[m].to_numpy(dtype=float), confidence)
            rows.append({**dict(zip(by, key, strict=True)), "metric": m, "n": iv.n, "mean": iv.mean,
                         "sd": iv.sd, "lo": iv.lo, "hi": iv.hi})
    return pd.DataFrame(rows, columns=[*by, "metric", "n", "mean", "sd", "lo", "hi"])


def widen(long: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """A :func:`seed_summary` table made wide: one row per ``by`` key with ``n`` (the most seeds of any
    metric) and for each metric ``<m>``, ``<m>_lo``, ``<m>_hi``."""
    by = list(by)
    metrics = list(dict.fromkeys(long["metric"]))
    wide = long.groupby(by, dropna=False, sort=True)["n"].max().reset_index()
    for m in metrics:
        part = long[long["metric"] == m].set_index(by)[["mean", "lo", "hi"]]
        part.columns = [m, f"{m}_lo", f"{m}_hi"]
        wide = wide.join(part, on=by)
    return wide.reset_index(drop=True)


def config_table(results: pd.DataFrame, roles: Sequence[str] = TABLE_METRICS,
                 confidence: float = 0.95) -> pd.DataFrame:
    """One row per configuration (ok runs): the config columns that vary across the study, ``n`` (seeds),
    and for each metric present ``<m>`` (seed mean), ``<m>_lo`` and ``<m>_hi`` (t-interval)."""
    ok, _ = split_status(results)
    metrics = present(ok, roles)
    by = config_columns(ok)
    shown = varying_columns(ok, by) or by[:1]
    wide = widen(seed_summary(ok, metrics, by=by, confidence=confidence), by)
    seeds = ok.groupby(by, dropna=False).size().rename("n_runs")
    wide["n"] = wide.join(seeds, on=by)["n_runs"].to_numpy()
    if "l2" in shown and "batch_size" in wide:  # λ as the seed's batch-summed loss would state it
        wide["l2_times_batch"] = wide["l2"] * wide["batch_size"]
        shown.insert(shown.index("l2") + 1, "l2_times_batch")
    columns = shown + ["n"] + [c for m in metrics for c in (m, f"{m}_lo", f"{m}_hi")]
    return wide[columns].reset_index(drop=True)


def modal_filter(results: pd.DataFrame, fixed: Mapping[str, Any], free: Sequence[str]) -> pd.DataFrame:
    """Rows of ``results`` equal to ``fixed`` (column -> value); every other config column not in ``free``
    is held at its most common value among those rows, so a slice of a larger study is one clean grid."""
    sel = results
    for column, value in fixed.items():
        if column not in sel:
            return sel.iloc[0:0]
        sel = sel[sel[column] == value]
    for column in config_columns(sel):
        if column in fixed or column in free or sel.empty:
            continue
        mode = sel[column].astype(str).mode().iloc[0]
        sel = sel[sel[column].astype(str) == mode]
    return sel


def representative_runs(results: pd.DataFrame, cell: Sequence[str]) -> pd.DataFrame:
    """One run per ``cell`` (a list of columns, e.g. ["l2", "beta"]): the ok run with the smallest seed.
    Sorted by the cell columns."""
    ok, _ = split_status(results)
    if ok.empty:
        return ok
    return ok.sort_values([*cell, "seed"]).groupby(list(cell), sort=True).head(1).reset_index(drop=True)


def lambda_beta_runs(results: pd.DataFrame, latent_dim: int, variant: str = "vae",
                     schedule: str = "constant") -> pd.DataFrame:
    """All ok runs of the (λ, β) grid of ``variant`` with ``latent_dim`` and fixed (``schedule``) β,
    other config columns held at their modal values."""
    ok, _ = split_status(results)
    return modal_filter(ok, {"variant": variant, "latent_dim": latent_dim, "schedule": schedule},
                        free=["l2", "beta"])


def benchmark_table(bench: Mapping[str, Any]) -> pd.DataFrame:
    """Tidy table of a pytest-benchmark JSON document (already parsed): one row per benchmark with
    ``name``, ``group``, ``fullname``, the ``param`` string, ``median_s`` (seconds per call), ``ops``
    (calls per second) and every numeric ``extra_info`` entry as its own column."""
    rows = []
    for b in bench.get("benchmarks", []) or []:
        st = b.get("stats") or {}
        row = {"name": str(b.get("name", "")), "group": str(b.get("group") or ""),
               "fullname": str(b.get("fullname", "")), "param": str(b.get("param") or ""),
               "median_s": float(st.get("median", math.nan)), "ops": float(st.get("ops", math.nan))}
        for key, value in (b.get("extra_info") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                row[str(key)] = float(value)
        rows.append(row)
    return pd.DataFrame(rows)
