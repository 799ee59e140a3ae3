"""The conformance report's figures. Each takes tidy DataFrames and returns a matplotlib Figure; none reads
files.

- :func:`rd_conformance_figure`: R(D) of U[0, 1]² (exact, Shannon lower and Gaussian upper bounds), the
  linear VAE's curves and every run's (D, E[KL]) on them;
- :func:`phase_diagram_figure`: regions of (λ, β) with 2, 1 and 0 active directions for each latent
  size, the boundaries with their intervals over seeds, and the linear VAE's critical β beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.style import MARKERS, REFERENCE_COLOR, apply_theme, categorical_palette

CURVE_STYLE = {  # curve name -> (colour, line style)
    "exact R(D) (Blahut–Arimoto)": (REFERENCE_COLOR, "-"),
    "Shannon lower bound": ("#0072B2", "--"),
    "Gaussian upper bound = linear VAE, d = 2": ("#D55E00", ":"),
    "linear VAE, d = 1": ("#009E73", "-."),
}
REGION_COLORS = {2: "#CFE8F3", 1: "#FCE5C5", 0: "#E6E6E6"}


def rd_conformance_figure(curves: pd.DataFrame, runs: pd.DataFrame) -> Figure:
    """``curves``: long table (``curve``, ``distortion``, ``rate``), one line each, names as in
    :data:`CURVE_STYLE` (others drawn in grey); ``runs``: one point per run (``distortion``, ``rate``,
    ``group``), one marker and colour per group. Log-scaled D."""
    apply_theme()
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for name, g in curves.groupby("curve", sort=False):
        colour, style = CURVE_STYLE.get(name, ("#999999", "-"))
        g = g.sort_values("distortion")
        ax.plot(g["distortion"], g["rate"], style, color=colour, lw=1.4, label=name, zorder=2)
    groups = list(dict.fromkeys(runs["group"]))
    for i, (group, colour) in enumerate(zip(groups, categorical_palette(len(groups)), strict=True)):
        g = runs[runs["group"] == group]
        ax.scatter(g["distortion"], g["rate"], s=14, marker=MARKERS[i % len(MARKERS)], color=colour,
                   edgecolor="white", linewidth=0.3, label=f"{group} ({len(g)} runs)", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("D = E‖x − decode(z)‖², z ~ q(z|x)")
    ax.set_ylabel("rate: E[KL(q(z|x) ‖ N(0, I))], nats")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", frameon=False)
    ax.set_title("Rate–distortion of U[0, 1]²: every VAE lies on or above R(D)")
    return fig


def phase_diagram_figure(summary: pd.DataFrame, linear: pd.DataFrame) -> Figure:
    """``summary``: per (latent_dim, l2, level) the critical β of "fewer than ``level`` active
    directions" (``beta_c``, ``beta_c_lo``, ``beta_c_hi``; NaN where the transition lies outside the β
    tried, then ``n_below``/``n_above`` say on which side) (:func:`vaebench.collapse.summarise`);
    ``linear``: rows (``label``, ``beta_c``, ``beta_c_lo``, ``beta_c_hi``) of the linear VAE, its
    closed form first (a dashed line), then trained values (a marker with its interval left of λ = 0).
    One panel per latent size, λ on evenly spaced positions."""
    apply_theme()
    dims = sorted(summary["latent_dim"].unique(), reverse=True)
    fig = Figure(figsize=(4.4 * len(dims), 4.0), layout="constrained")
    axes = fig.subplots(1, len(dims), sharey=True, squeeze=False)[0]
    values = np.concatenate([summary[["beta_c_lo", "beta_c", "beta_c_hi"]].to_numpy().ravel(),
                             linear[["beta_c", "beta_c_lo", "beta_c_hi"]].to_numpy().ravel()])
    lo_all, hi_all = np.nanmin(values) / 3, np.nanmax(values) * 3
    for ax, d in zip(axes, dims, strict=True):
        s = summary[summary["latent_dim"] == d]
        lambdas = sorted(s["l2"].unique())
        pos = np.arange(len(lambdas), dtype=float)
        floor = np.full(len(pos), lo_all)
        for k in range(d, -1, -1):  # regions bottom-up: k active between the level-(k+1) and level-k lines
            if k >= 1:
                b = s[s["level"] == k].set_index("l2").reindex(lambdas)
                outside = np.where(b["n_below"] > b["n_above"], lo_all, hi_all)
                top = np.where(np.isfinite(b["beta_c"]), b["beta_c"], outside)
            else:
                top = np.full(len(pos), hi_all)
            top = np.maximum(top, floor)
            ax.fill_between(pos, floor, top, color=REGION_COLORS[k], lw=0, label=f"{k} active")
            if k >= 1:
                err = np.vstack([b["beta_c"] - b["beta_c_lo"], b["beta_c_hi"] - b["beta_c"]])
                ax.errorbar(pos, b["beta_c"], yerr=err, fmt="o-", ms=4, lw=1.2, capsize=3,
                            color="#333333" if k == d else "#8C2D04",
                            label=f"ReLU VAE: fewer than {k} active (95% CI)")
            floor = top
        for i, r in enumerate(linear.itertuples()):
            if i == 0:
                ax.axhline(r.beta_c, color="#D55E00", ls="--", lw=1.2, label=r.label)
            else:
                known = np.isfinite(r.beta_c_lo)
                err = [[r.beta_c - r.beta_c_lo], [r.beta_c_hi - r.beta_c]] if known else None
                ax.errorbar([-0.6], [r.beta_c], yerr=err, fmt="s", ms=5, capsize=3, color="#009E73",
                            label=r.label)
        ax.set_xticks([-0.6, *pos], ["linear", *[f"{v:g}" for v in lambdas]])
        ax.set_xlim(-1.0, len(pos) - 0.6)
        ax.set_xlabel("λ (weight decay)")
        ax.set_yscale("log")
        ax.set_ylim(lo_all, hi_all)
        ax.set_title(f"d = {d}: active latent directions")
    axes[0].set_ylabel("β")
    axes[0].legend(loc="lower left", frameon=True, fontsize=6.5)
    return fig
