"""Figures of exact inference (the suite's ``exact_*`` columns, :mod:`vaebench.metrics.exact`).

Each function takes the tidy results table (one row per run: config columns, ``status`` and the metric
columns) and returns a matplotlib Figure; none reads files. Only ok runs are drawn; seed spreads are
Student-t 95% intervals (:func:`analysis.tables.seed_summary`).

- :func:`rate_information_figure`: the rate–distortion plane with the mutual information I(x; z) beside the
  rate E KL(q(z|x) ‖ p) of each run; the segment between them is the aggregate posterior's KL to the
  prior (ELBO surgery, Hoffman & Johnson 2016);
- :func:`marginal_kl_figure`: KL(q(z) ‖ N(0, I)) over (λ, β), one heatmap per latent size;
- :func:`likelihood_figure`: exact log p(x) against the ELBO (exact and sampled) and IWAE₆₄ over β.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from analysis.document import FigureEntry, png_bytes
from analysis.figures import Inputs, Skip
from analysis.style import MARKERS, REFERENCE_COLOR, apply_theme, categorical_palette, fmt
from analysis.summary_figures import _need, heatmap_figure
from analysis.tables import seed_summary, split_status

BOUNDS = {  # column -> (legend label, colour index, marker index, line style)
    "exact_log_px": ("exact log p(x)", 0, 0, "-"),
    "iwae": ("IWAE₆₄ (sampled)", 1, 1, "--"),
    "elbo": ("ELBO (sampled)", 2, 2, ":"),
    "exact_elbo": ("ELBO (exact)", 3, 3, "-."),
}


def _ok(results: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    _need(results, ["status", *columns], name)
    ok, _ = split_status(results)
    ok = ok[np.isfinite(ok[columns].to_numpy(dtype=float)).all(axis=1)]
    if ok.empty:
        raise ValueError(f"{name}: no ok run with finite {columns}; nothing to draw")
    return ok


def rate_information_figure(results: pd.DataFrame) -> Figure:
    """Per run, distortion D = E‖x − decode(z)‖² = 2·``recon_var_fitted`` (x-axis, log) against the rate
    ``kl_total`` (hollow marker) and I(x; z) = ``exact_mi`` (filled), joined by a segment whose length is
    ``exact_marginal_kl``; colour by β, one panel per latent size."""
    apply_theme()
    ok = _ok(results, ["latent_dim", "beta", "recon_var_fitted", "kl_total", "exact_mi"], "results")
    dims = sorted(ok["latent_dim"].unique(), reverse=True)
    betas = sorted(ok["beta"].unique())
    colours = dict(zip(betas, categorical_palette(len(betas)), strict=True))
    fig = Figure(figsize=(3.6 * len(dims) + 0.4, 3.4), layout="constrained")
    axes = fig.subplots(1, len(dims), squeeze=False, sharey=True)[0]
    for ax, d in zip(axes, dims, strict=True):
        part = ok[ok["latent_dim"] == d]
        dist = 2 * part["recon_var_fitted"].to_numpy(dtype=float)
        ax.vlines(dist, part["exact_mi"], part["kl_total"], colors="#BBBBBB", lw=0.8, zorder=1)
        for beta in betas:
            sel = (part["beta"] == beta).to_numpy()
            if not sel.any():
                continue
            c = colours[beta]
            ax.scatter(dist[sel], part["kl_total"][sel], s=16, facecolor="white", edgecolor=c, lw=1.0,
                       zorder=2)
            ax.scatter(dist[sel], part["exact_mi"][sel], s=16, color=c, zorder=3, label=f"β = {fmt(beta)}")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks of a short decade overlap
        ax.set(xlabel="D = E‖x − decode(z)‖²", title=f"d = {d}: hollow E KL, filled I(x; z)")
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("nats")
    axes[0].legend(loc="upper right", frameon=False)
    return fig


def marginal_kl_figure(results: pd.DataFrame) -> Figure:
    """Seed means of ``exact_marginal_kl`` over (λ, β), evenly spaced categorical axes, each cell
    annotated with its mean ± the half-width of its 95% interval; one panel per latent size."""
    ok = _ok(results, ["latent_dim", "l2", "beta", "exact_marginal_kl"], "results")
    summary = seed_summary(ok, ["exact_marginal_kl"], by=["latent_dim", "l2", "beta"])
    return heatmap_figure(summary, ["exact_marginal_kl"],
                          title="Aggregate posterior's distance from the prior: KL(q(z) ‖ N(0, I)), nats")


def likelihood_figure(results: pd.DataFrame) -> Figure:
    """Seed means (95% intervals) of exact log p(x), IWAE₆₄ and the ELBO (sampled and exact) over β
    (evenly spaced), one panel per latent size. Pass the runs to compare (e.g. ``vae`` at λ = 0). On
    U[0, 1]² with one decoder variance σ², a dashed line marks the decoder that ignores z and outputs
    (½, ½): log p(x) = −ln(2πσ²) − 1/(12σ²)."""
    apply_theme()
    bounds = [c for c in BOUNDS if c in results.columns]
    ok = _ok(results, ["latent_dim", "beta", "exact_log_px"], "results")
    summary = seed_summary(ok, bounds, by=["latent_dim", "beta"])
    dims = sorted(summary["latent_dim"].unique(), reverse=True)
    betas = sorted(summary["beta"].unique())
    pos = {b: i for i, b in enumerate(betas)}
    palette = categorical_palette(len(BOUNDS))
    fig = Figure(figsize=(3.6 * len(dims) + 0.4, 3.4), layout="constrained")
    axes = fig.subplots(1, len(dims), squeeze=False, sharey=True)[0]
    for ax, d in zip(axes, dims, strict=True):
        for col in bounds:
            text, ci, mi, ls = BOUNDS[col]
            s = summary[(summary["latent_dim"] == d) & (summary["metric"] == col)].sort_values("beta")
            s = s[np.isfinite(s["mean"])]
            if s.empty:
                continue
            x = s["beta"].map(pos).to_numpy(dtype=float)
            err = np.vstack([s["mean"] - s["lo"], s["hi"] - s["mean"]])
            ax.errorbar(x, s["mean"], yerr=np.where(np.isfinite(err), err, 0.0), fmt=MARKERS[mi], ls=ls,
                        ms=4, lw=1.2, capsize=2, color=palette[ci], label=text)
        reference = _ignore_z_log_px(ok)
        if reference is not None:
            ax.axhline(reference, color=REFERENCE_COLOR, ls="--", lw=0.9,
                       label=f"decoder ignoring z: {fmt(reference, 4)}")
        ax.set_xticks(range(len(betas)), [fmt(b) for b in betas])
        ax.set(xlabel="β", title=f"d = {d}")
    axes[0].set_ylabel("nats per point")
    axes[0].legend(loc="lower right", frameon=False)
    return fig


def _ignore_z_log_px(ok: pd.DataFrame) -> float | None:
    """E log N(x; (½, ½), σ²I) over U[0, 1]² when the table holds one data set (uniform) and one σ²."""
    if not {"dataset", "recon_var"} <= set(ok.columns):
        return None
    if set(ok["dataset"]) != {"uniform"} or ok["recon_var"].nunique() != 1:
        return None
    var = float(ok["recon_var"].iloc[0])
    return -math.log(2 * math.pi * var) - 1.0 / (12.0 * var)


def _entry(inp: Inputs, key: str, title: str, caption: str, draw, results: pd.DataFrame) -> FigureEntry:
    """A report entry (:class:`analysis.document.FigureEntry`) of one of the figures above, or
    :class:`analysis.figures.Skip` with the reason when the study has no exact numbers to draw."""
    if "exact_log_px" not in inp.ok or not np.isfinite(inp.ok["exact_log_px"].to_numpy(dtype=float)).any():
        raise Skip("no run with exact-inference numbers (latent dimension ≤ 2, stochastic encoder)")
    try:
        fig = draw(results)
    except ValueError as err:
        raise Skip(str(err)) from None
    return FigureEntry(key, f"{key}.png", title, caption, png_bytes(fig))


def fig_exact_rate(inp: Inputs) -> FigureEntry:
    """The rate–distortion plane with I(x; z) beside E KL: the fixed-β vae runs at λ = 0."""
    runs = inp.ok[(inp.ok["variant"] == "vae") & (inp.ok["schedule"] == "constant") & (inp.ok["l2"] == 0)]
    return _entry(inp, "fig_exact_rate", "Rate, mutual information and distortion (exact)",
                  "Each vae run at λ = 0 (fixed β): hollow the rate E KL(q(z|x) ‖ p), filled the mutual "
                  "information I(x; z) of the evaluation points' aggregate posterior (exact quadrature, "
                  "vaebench.metrics.exact); the segment between them is KL(q(z) ‖ N(0, I)) (ELBO surgery, "
                  "Hoffman & Johnson 2016). D = 2·recon_var_fitted.", rate_information_figure, runs)


def fig_exact_marginal_kl(inp: Inputs) -> FigureEntry:
    """KL(q(z) ‖ N(0, I)) over (λ, β): the latent's distance from the prior in nats."""
    runs = inp.ok[(inp.ok["variant"] == "vae") & (inp.ok["schedule"] == "constant")]
    runs = runs[runs["steps"] == runs["steps"].mode().iloc[0]] if len(runs) else runs
    return _entry(inp, "fig_exact_marginal_kl", "The latent's distance from the prior (exact, nats)",
                  "Seed means ± 95% half-widths of KL(q(z) ‖ N(0, I)), q(z) the aggregate posterior of the "
                  "evaluation points (exact quadrature); 0 is the prior itself. Unlike a moment-matched "
                  "Gaussian's KL it sees shape: a square with the prior's moments is not 0.",
                  marginal_kl_figure, runs)


def fig_exact_likelihood(inp: Inputs) -> FigureEntry:
    """Exact log p(x) against the ELBO and IWAE over β: how loose the bounds are."""
    runs = inp.ok[(inp.ok["variant"] == "vae") & (inp.ok["schedule"] == "constant") & (inp.ok["l2"] == 0)]
    return _entry(inp, "fig_exact_likelihood", "Exact log p(x) against its bounds",
                  "Seed means (95% intervals) at λ = 0: exact log p(x) by quadrature, the ELBO (exact and "
                  "sampled) and IWAE with k = 64 (Burda et al. 2016); the gap between log p(x) and the ELBO "
                  "is KL(q(z|x) ‖ p(z|x)) (Cremer, Li & Duvenaud 2018).", likelihood_figure, runs)
