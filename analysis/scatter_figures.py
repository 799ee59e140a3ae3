"""Scatter figures of single runs: latent beside reconstruction (the seed report's Figs. 2 and 3) and
decoded prior samples against the unit square.

Each function takes a tidy table with one row per cell (``run_id``, the row/column keys and the metric
columns for the titles) and the runs' evaluation arrays (run id -> dict from
``vaebench.evaluation.eval_arrays`` or ``vaebench.store.load_artifacts``); it returns a matplotlib
Figure and reads no files. Points are coloured by input quadrant with one colour per quadrant
(:data:`analysis.style.QUADRANTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle

from analysis.style import (
    GENERATED_COLOR,
    POINT_SIZE,
    QUADRANT_COLORS,
    QUADRANTS,
    apply_theme,
    fmt,
    greek,
)
from analysis.tables import SHORT, col, label

Arrays = Mapping[str, Mapping[str, np.ndarray]]
ZOOM_BELOW = 0.25  # a latent whose spread (99.5th percentile of |μ − median|) is below this is zoomed in


def _spread(mu: np.ndarray) -> float:
    """99.5th percentile of |μ − median(μ)|: how far a latent spreads, wherever it sits."""
    if not np.isfinite(mu).any():
        return 0.0
    return float(np.nanpercentile(np.abs(mu - np.nanmedian(mu, axis=0)), 99.5))
SQUARE_LIM = (-0.08, 1.08)


def _cell_title(row: pd.Series, keys: Sequence[str]) -> str:
    parts = []
    for k in keys:
        v = row[k]
        text = fmt(v) if isinstance(v, float) else str(v)
        parts.append(text if "=" in text else f"{greek(k)} = {text}")
    return ", ".join(parts)


def _levels(values: pd.Series) -> list:
    """Distinct values: sorted when numeric, in order of appearance when text (already ordered labels)."""
    unique = list(dict.fromkeys(values))
    return unique if any(isinstance(v, str) for v in unique) else sorted(unique)


def _numbers(row: pd.Series, roles: Sequence[str]) -> str:
    parts = []
    for role in roles:
        name = col(role)
        parts.append(f"{SHORT.get(role, label(name))} {fmt(row[name]) if name in row else 'n/a'}")
    return " · ".join(parts)


def quadrant_legend(fig: Figure) -> None:
    handles = [Line2D([], [], ls="", marker="o", ms=5, color=c, label=QUADRANTS[q][0])
               for q, c in enumerate(QUADRANT_COLORS)]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False,
               title="input quadrant (colour in every figure)")


def _square(ax, filled: bool = False) -> None:
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=filled, lw=0.8, ec="0.35", fc="0.92", zorder=0))
    ax.set(xlim=SQUARE_LIM, ylim=SQUARE_LIM, aspect="equal", xticks=[0, 0.5, 1], yticks=[0, 0.5, 1])


def _latent_panel(ax, mu: np.ndarray, colours: np.ndarray, lim: float, jitter: np.ndarray | None) -> None:
    spread = _spread(mu)
    names = ["μ"] if jitter is not None else ["μ₁", "μ₂"]
    if spread < ZOOM_BELOW:  # a (nearly) collapsed latent: centre and rescale it, and say so
        centre = np.nanmedian(mu, axis=0)
        scale = float(np.nanmax(np.abs(mu - centre)))
        mu = (mu - centre) / (scale or 1.0)
        note = f"zoomed: ±{fmt(scale, 2)}" if scale > 0 else "all μ equal"
        ax.text(0.03, 0.03, note, transform=ax.transAxes, fontsize=6.5, color="0.25",
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        ax.set(xticklabels=[], yticklabels=[])
    x, y = mu[:, 0], (jitter if jitter is not None else mu[:, 1])
    ax.scatter(x, y, s=POINT_SIZE, c=colours, linewidths=0, rasterized=True)
    if jitter is not None:
        ax.set(xlabel=names[0], ylabel="jitter", yticks=[], ylim=(-1.6, 1.6))
        if spread >= ZOOM_BELOW:
            ax.set_xlim(-lim, lim)
        return
    if spread >= ZOOM_BELOW:
        for radius in (1, 2):
            ax.add_patch(Circle((0, 0), radius, fill=False, ls=":", lw=0.6, ec="0.5"))
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
    else:
        ax.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1))
    ax.set_aspect("equal")
    ax.set(xlabel=names[0], ylabel=names[1])


def latent_limit(runs: Sequence[Mapping[str, np.ndarray]]) -> float:
    """Shared half-width of latent axes: ±max(3, 1.05 × the largest 99.5th percentile of |μ|) over the
    runs whose latent is not collapsed (collapsed ones are zoomed on their own)."""
    reach = [float(np.nanpercentile(np.abs(a["mu"]), 99.5)) for a in runs
             if _spread(np.asarray(a["mu"], dtype=float)) >= ZOOM_BELOW]
    return max([3.0] + [v * 1.05 for v in reach if np.isfinite(v)])


def draw_pair(sub, a: Mapping[str, np.ndarray], lim: float, rng: np.random.Generator,
              labels: bool = True) -> list:
    """Draw one run into subfigure ``sub``: its encoder means μ(x) coloured by input quadrant (1-D: μ
    against uniform jitter from ``rng``) beside its reconstruction decode(z) on the unit square. Returns
    the two axes."""
    colours = np.asarray(QUADRANT_COLORS)[np.asarray(a["quadrant"], dtype=int)]
    mu = np.asarray(a["mu"], dtype=float)
    jitter = rng.uniform(-1, 1, len(mu)) if mu.shape[1] == 1 else None
    ax_latent, ax_recon = sub.subplots(1, 2)
    _latent_panel(ax_latent, mu, colours, lim, jitter)
    recon = np.asarray(a["recon"], dtype=float)
    ax_recon.scatter(recon[:, 0], recon[:, 1], s=POINT_SIZE, c=colours, linewidths=0, rasterized=True)
    _square(ax_recon)
    ax_recon.set(xlabel="x̂₁", ylabel="x̂₂")
    if not labels:
        for ax in (ax_latent, ax_recon):
            ax.set(xlabel="", ylabel="")
    return [ax_latent, ax_recon]


def latent_grid_figure(cells: pd.DataFrame, arrays: Arrays, *, row: str = "l2", col_key: str = "beta",
                       title: str = "", numbers: Sequence[str] = ("gauss_effect", "coverage", "boundary"),
                       jitter_seed: int = 0) -> Figure:
    """The seed report's Fig. 2 (2-D latent) and Fig. 3 (1-D latent, with jitter): one cell per row of
    ``cells`` at (``row`` value, ``col_key`` value), each a pair of panels: the encoder means μ(x)
    coloured by input quadrant (1-D: μ against uniform jitter in [−1, 1]) beside the reconstruction
    decode(z), z ~ q(z|x), on the unit square. The cell's title gives its keys, seed and the metric
    ``numbers`` (roles of :data:`analysis.tables.METRICS`). Latents spread on the prior's scale share
    axes (±max(3, largest reach)), with the prior's 1σ and 2σ circles dotted; tiny latents are zoomed.
    Returns a Figure with 2 axes per cell."""
    apply_theme()
    if cells.empty:
        raise ValueError("cells: empty table; need at least one run to draw")
    rows, cols = _levels(cells[row]), _levels(cells[col_key])
    fig = Figure(figsize=(3.3 * len(cols), 1.9 * len(rows) + 0.9), layout="constrained")
    subfigs = np.atleast_2d(fig.subfigures(len(rows), len(cols), wspace=0.04, hspace=0.02))
    lim = latent_limit([arrays[r] for r in cells["run_id"]])
    rng = np.random.default_rng(jitter_seed)
    for _, cell in cells.iterrows():
        sub = subfigs[rows.index(cell[row]), cols.index(cell[col_key])]
        draw_pair(sub, arrays[cell["run_id"]], lim, rng)
        seed = f", seed {int(cell['seed'])}" if "seed" in cell else ""
        sub.suptitle(f"{_cell_title(cell, [row, col_key])}{seed}\n{_numbers(cell, numbers)}", fontsize=7.5)
    quadrant_legend(fig)
    if title:
        fig.suptitle(title)
    return fig


def wrap_columns(n: int, widest: int = 7, narrowest: int = 3) -> int:
    """Columns of a wrapped facet layout of ``n`` panels with no empty position where one exists: the
    widest count in [narrowest, widest] that divides ``n``, else the one that leaves the fewest empty."""
    if n <= widest:
        return max(n, 1)
    return min(range(widest, narrowest - 1, -1), key=lambda c: (-n % c, -c))


def generation_figure(cells: pd.DataFrame, arrays: Arrays, *, keys: Sequence[str] = ("l2", "beta"),
                      title: str = "", numbers: Sequence[str] = ("gen_coverage", "gen_boundary"),
                      ncols: int | None = None) -> Figure:
    """Decoded prior samples decode(z'), z' ~ N(0, I), against the unit square (the data's support,
    shaded): one panel per row of ``cells`` in their order, wrapped into ``ncols`` columns (default
    :func:`wrap_columns`: no empty position where the count allows), titled with the ``keys`` and the
    metric ``numbers``. Generation, not reconstruction: no input, so no quadrant colours. One axis per
    cell."""
    apply_theme()
    if cells.empty:
        raise ValueError("cells: empty table; need at least one run to draw")
    ncols = ncols or wrap_columns(len(cells))
    nrows = -(-len(cells) // ncols)
    fig = Figure(figsize=(1.75 * ncols + 0.3, 2.0 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (_, cell) in zip(axes, cells.iterrows(), strict=False):
        gen = np.asarray(arrays[cell["run_id"]]["generated"], dtype=float)
        _square(ax, filled=True)
        ax.scatter(gen[:, 0], gen[:, 1], s=POINT_SIZE, c=GENERATED_COLOR, linewidths=0, rasterized=True)
        ax.set(xticklabels=[], yticklabels=[])
        ax.set_title(f"{_cell_title(cell, keys)}\n{_numbers(cell, numbers)}", fontsize=6.5)
    for ax in axes[len(cells):]:
        ax.remove()
    if title:
        fig.suptitle(title)
    return fig
