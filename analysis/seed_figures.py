"""The seed report's Figs. 2 and 3 in its own layout, and a compact overview of the other cells.

:func:`seed_figure` draws a compact grid: λ down the rows (ascending), β and 10β across, each panel a
latent (coloured by input quadrant) beside its reconstruction, lettered as the seed letters them: a), c),
e), g) down the left column (β), b), d), f), h) down the right (10β). Which λ and which β are passed in
(``lambdas``, ``beta``), so a protocol that calibrates the seed's panels can hand over its cells;
:func:`default_rows` picks them from whatever the study has. :func:`overview_figure` wraps any other
cells into a grid with no empty position where the count allows. Both take the tidy results table and
the runs' arrays (a mapping run id -> arrays); neither reads files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.scatter_figures import Arrays, draw_pair, latent_limit, quadrant_legend, wrap_columns
from analysis.style import apply_theme, fmt

ROWS_BY_DEFAULT = 4  # the seed's Fig. 2 has four rows (a–h)


def _same(values: pd.Series, value: float) -> np.ndarray:
    return np.isclose(values.to_numpy(dtype=float), value, rtol=1e-9, atol=0.0)


def default_rows(runs: pd.DataFrame, max_rows: int = ROWS_BY_DEFAULT) -> tuple[list[float], float]:
    """(λ values, left-column β) for :func:`seed_figure` from the study itself: the smallest β whose 10β
    the study also has at some common λ (the most common λ on ties), and the ``max_rows`` smallest λ
    present at both. ``runs``: one latent size's fixed-β runs. ValueError when no such pair exists."""
    betas = sorted(runs["beta"].unique())
    best: tuple[list[float], float] | None = None
    for beta in betas:
        left = set(runs.loc[_same(runs["beta"], beta), "l2"])
        right = set(runs.loc[_same(runs["beta"], 10 * beta), "l2"])
        common = sorted(left & right)
        if common and (best is None or len(common) > len(best[0])):
            best = (common[:max_rows], float(beta))
    if best is None:
        raise ValueError(f"runs: no β with 10β at a common λ (β values {[fmt(b) for b in betas]})")
    return best


def seed_cells(runs: pd.DataFrame, lambdas: Sequence[float], beta: float) -> pd.DataFrame:
    """The run drawn in each panel of :func:`seed_figure`: for each λ of ``lambdas`` (ascending) at β and
    at 10β, the run with the smallest seed, with ``panel`` (its letter), ``row`` and ``column`` (0: β,
    1: 10β). A panel the study has no run for is left out."""
    out = []
    for i, lam in enumerate(sorted(lambdas)):
        for j, b in enumerate((beta, 10 * beta)):
            hit = runs[_same(runs["l2"], lam) & _same(runs["beta"], b)].sort_values("seed")
            if len(hit):
                letter = chr(ord("a") + 2 * i + j)
                out.append(hit.iloc[0].to_dict() | {"panel": letter, "row": i, "column": j})
    return pd.DataFrame(out)


def _subtitle(cell: Mapping, numbers: Sequence[tuple[str, str]]) -> str:
    parts = [f"{short} {fmt(cell[column], 2)}" for column, short in numbers if column in cell]
    return " · ".join(parts)


def seed_figure(runs: pd.DataFrame, arrays: Arrays, *, lambdas: Sequence[float], beta: float,
                numbers: Sequence[tuple[str, str]] = (), title: str = "", batch: int | None = None,
                jitter_seed: int = 0) -> Figure:
    """The seed report's layout: one row per λ of ``lambdas`` (ascending), columns β = ``beta`` and 10β;
    each panel the smallest seed's latent μ(x) (1-D: against jitter) beside its reconstruction, titled
    "a) λ = …, β = …" with the metric ``numbers`` ((column, short label) pairs) below. ``runs``: one
    latent size's fixed-β runs (the tidy results table); ``arrays`` maps the drawn runs' ids to their
    arrays. A panel with no run says so. ``batch``: also state λ·B. Returns a Figure with 2 axes per
    panel drawn."""
    apply_theme()
    if not len(lambdas):
        raise ValueError("lambdas: empty; need at least one row")
    cells = seed_cells(runs, lambdas, beta)
    if cells.empty:
        raise ValueError(f"runs: no run at λ in {[fmt(v) for v in lambdas]} with β = {fmt(beta)} or "
                         f"10β = {fmt(10 * beta)}")
    n_rows = len(lambdas)
    fig = Figure(figsize=(7.6, 2.05 * n_rows + 0.7), layout="constrained")
    subfigs = np.atleast_2d(fig.subfigures(n_rows, 2, wspace=0.05, hspace=0.03))
    lim = latent_limit([arrays[r] for r in cells["run_id"]])
    rng = np.random.default_rng(jitter_seed)
    for i, lam in enumerate(sorted(lambdas)):
        for j, b in enumerate((beta, 10 * beta)):
            sub = subfigs[i, j]
            letter = chr(ord("a") + 2 * i + j)
            lam_text = f"λ = {fmt(lam)}" + (f" (λ·B = {fmt(lam * batch)})" if batch else "")
            head = f"{letter}) {lam_text}, β = {fmt(b)}"
            hit = cells[(cells["row"] == i) & (cells["column"] == j)]
            if hit.empty:
                sub.suptitle(f"{head}\nnot in the study", fontsize=8, ha="left", x=0.02)
                continue
            cell = hit.iloc[0]
            draw_pair(sub, arrays[cell["run_id"]], lim, rng, labels=i == n_rows - 1)
            sub.suptitle(f"{head}, seed {int(cell['seed'])}\n{_subtitle(cell, numbers)}", fontsize=8,
                         ha="left", x=0.02)
    quadrant_legend(fig)
    if title:
        fig.suptitle(title)
    return fig


def overview_figure(cells: pd.DataFrame, arrays: Arrays, *, label: str = "label",
                    numbers: Sequence[tuple[str, str]] = (), title: str = "", ncols: int | None = None,
                    jitter_seed: int = 0) -> Figure:
    """Every row of ``cells`` (in order) as a latent–reconstruction pair titled by its ``label`` column
    and the metric ``numbers``, wrapped into ``ncols`` pairs per row (default: no empty position where
    the count allows, :func:`analysis.scatter_figures.wrap_columns`). Returns 2 axes per cell."""
    apply_theme()
    if cells.empty:
        raise ValueError("cells: empty table; need at least one run to draw")
    ncols = ncols or wrap_columns(len(cells), widest=4, narrowest=2)
    nrows = -(-len(cells) // ncols)
    fig = Figure(figsize=(3.4 * ncols, 1.95 * nrows + 0.7), layout="constrained")
    subfigs = np.atleast_2d(fig.subfigures(nrows, ncols, wspace=0.04, hspace=0.03)).ravel()
    lim = latent_limit([arrays[r] for r in cells["run_id"]])
    rng = np.random.default_rng(jitter_seed)
    for sub, (_, cell) in zip(subfigs, cells.iterrows(), strict=False):
        draw_pair(sub, arrays[cell["run_id"]], lim, rng, labels=False)
        sub.suptitle(f"{cell[label]}\n{_subtitle(cell, numbers)}", fontsize=7.5)
    quadrant_legend(fig)
    if title:
        fig.suptitle(title)
    return fig
