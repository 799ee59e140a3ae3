"""The report's figures in one place: the drawing functions (each takes tidy DataFrames, and arrays for
scatter panels, and returns a matplotlib Figure; none reads files) and the builders that choose each
figure's runs from the study (:class:`Inputs`, through its loaders) and write its caption and table.

Keys (anchors, file names; the report numbers figures in this order):
fig1, fig2. :func:`seed_figure`: the seed report's Figs. 2 (d = 2) and 3 (d = 1) in its layout.
overview. :func:`overview_figure`: every other fixed-β (λ, β, d) cell, wrapped with no empty position.
fig3. :func:`heatmap_figure`: seed-averaged metrics over (λ, β) with their 95% intervals.
fig4. :func:`rate_distortion_figure`: KL against MSE; fixed against annealed β, variants, probit.
fig5. :func:`generation_figure`: decoded prior samples against the unit square.
fig6, fig7. training curves and throughput (built in :mod:`analysis.assemble`).

How far the latent is from the prior is, in titles, the exact KL(q(z) ‖ N(0, I)) of the aggregate
posterior where the study stored it (``exact_marginal_kl``), else the energy distance of z ~ q(z) to
N(0, I) (``z_energy_distance``, Székely & Rizzo 2013): both see shape, where the KL of the moment-matched
Gaussian scores a square with the prior's moments 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.document import FigureEntry, Table, png_bytes, table_from_frame
from analysis.scatter_figures import generation_figure, latent_grid_figure
from analysis.seed_figures import default_rows, overview_figure, seed_cells, seed_figure
from analysis.style import fmt
from analysis.summary_figures import (
    heatmap_figure,
    rate_distortion_figure,
    throughput_figure,
    training_curves_figure,
)
from analysis.tables import (
    col,
    lambda_beta_runs,
    modal_filter,
    present,
    representative_runs,
    seed_summary,
    widen,
)

__all__ = ["generation_figure", "heatmap_figure", "latent_grid_figure", "overview_figure",
           "rate_distortion_figure", "seed_figure", "throughput_figure", "training_curves_figure"]

Artifacts = Callable[[str], Mapping[str, np.ndarray]]
History = Callable[[str], pd.DataFrame]
HEATMAP_METRICS = ["mse", "coverage", "boundary", "directions"]
PRIOR_MEASURES = [("exact_marginal_kl", "KL(q‖p)", "exact KL(q(z) ‖ N(0, I)) of the aggregate posterior "
                                                    "(nats)"),
                  ("z_energy_distance", "ℰ", "energy distance ℰ of z ~ q(z) to N(0, I) (Székely & Rizzo "
                                              "2013; 0 iff equal in distribution)")]


class Skip(Exception):
    """A figure the study cannot draw; the message says why."""


@dataclass
class Inputs:
    """What the figure builders read: the results with derived columns, the ok runs, the loaders and
    the benchmark table (or None)."""

    results: pd.DataFrame
    ok: pd.DataFrame
    artifacts: Artifacts
    history: History
    bench: pd.DataFrame | None
    # rows of Figs. 1 and 2 by latent size: (λ values, left-column β), e.g. a protocol's calibrated panels;
    # a latent size not given takes the study's own (analysis.seed_figures.default_rows)
    seed_rows: Mapping[int, tuple[Sequence[float], float]] | None = None


def prior_measure(frame: pd.DataFrame) -> tuple[str, str, str]:
    """(column, short label, description) of the shape-aware distance of the latent to the prior that
    ``frame`` has: the exact aggregate-posterior KL where it has finite values, else the energy
    distance. Skip when neither is there."""
    for column, short, text in PRIOR_MEASURES:
        if column in frame and np.isfinite(pd.to_numeric(frame[column], errors="coerce")).any():
            return column, short, text
    raise Skip(f"the results have none of {[c for c, _, _ in PRIOR_MEASURES]}")


def _numbers(frame: pd.DataFrame) -> tuple[list[tuple[str, str]], str]:
    """The (column, short label) pairs of the scatter titles and the words that explain them."""
    shown = [(col(r), s) for r, s in (("coverage", "cov"), ("boundary", "bnd")) if col(r) in frame]
    try:
        column, short, text = prior_measure(frame)
    except Skip:
        return shown, "no distance of the latent to the prior stored"
    return [(column, short)] + shown, f"{short} = {text}"


def _table(cells: pd.DataFrame, keys: list[str], columns: Sequence[str], caption: str) -> Table:
    shown = keys + ["seed"] + [c for c in dict.fromkeys(columns) if c in cells]
    return table_from_frame(cells[shown], caption)


def fig_seed(inp: Inputs, d: int, rows: tuple[Sequence[float], float] | None = None) -> FigureEntry:
    """Figs. 1 (d = 2) and 2 (d = 1): the seed's layout, rows ``(λ values, β)`` or the study's own."""
    runs = lambda_beta_runs(inp.ok, d)
    if runs.empty:
        raise Skip(f"no {d}-D fixed-β vae runs in the study")
    rows = rows if rows is not None else (inp.seed_rows or {}).get(d)
    try:
        lambdas, beta = rows if rows is not None else default_rows(runs)
    except ValueError as err:
        raise Skip(str(err)) from None
    cells = seed_cells(runs, lambdas, beta)
    if cells.empty:
        raise Skip(f"no {d}-D run at the rows' λ {list(lambdas)} and β {fmt(beta)}")
    arrays = {rid: inp.artifacts(rid) for rid in cells["run_id"]}
    numbers, measure = _numbers(runs)
    batch = int(runs["batch_size"].iloc[0]) if "batch_size" in runs else None
    seed_no = "Fig. 2" if d == 2 else "Fig. 3"
    fig = seed_figure(runs, arrays, lambdas=lambdas, beta=beta, numbers=numbers, batch=batch,
                      title=f"{d}-D latent μ(x) | reconstruction decode(z): the seed report's {seed_no}")
    caption = (f"The seed report's {seed_no} in its layout: λ down the rows (ascending), β = {fmt(beta)} "
               f"(left: a, c, e, …) and 10β = {fmt(10 * beta)} (right: b, d, f, …); one run per panel (the "
               "smallest seed; every seed is in the explorer). Left of each pair the encoder means coloured "
               "by input quadrant" + (" against uniform jitter" if d == 1 else ", dotted circles the "
                                      "prior's 1σ and 2σ") + "; right the reconstructions on the unit "
               f"square. Titles: {measure}; cov and bnd: coverage and boundary coverage of the inputs by "
               "the reconstructions.")
    table = _table(cells, ["panel", "l2", "beta"], [c for c, _ in numbers] + [col("directions")],
                   "The plotted runs' numbers.")
    key = "fig1" if d == 2 else "fig2"
    return FigureEntry(key, f"{key}_latent_{d}d.png", f"{d}-D latent and reconstruction (the seed's "
                                                      f"{seed_no})", caption, png_bytes(fig), table)


def fig_overview(inp: Inputs) -> FigureEntry:
    """Fig. 2b: the fixed-β (λ, β, d) cells that Figs. 1 and 2 do not draw, wrapped."""
    shown, rest = set(), []
    for d in sorted(inp.ok["latent_dim"].unique(), reverse=True) if "latent_dim" in inp.ok else []:
        runs = lambda_beta_runs(inp.ok, d)
        if runs.empty:
            continue
        try:
            rows = (inp.seed_rows or {}).get(d) or default_rows(runs)
            shown |= set(seed_cells(runs, *rows)["run_id"])
        except ValueError:
            pass
        first = representative_runs(runs, ["l2", "beta"])
        rest.append(first[~first["run_id"].isin(shown)].sort_values(["beta", "l2"]))
    cells = pd.concat(rest, ignore_index=True) if rest else pd.DataFrame()
    if cells.empty:
        raise Skip("Figs. 1 and 2 draw every fixed-β cell of the study")
    cells["label"] = [f"d = {d}, λ = {fmt(v)}, β = {fmt(b)}, seed {s}" for d, v, b, s in
                      zip(cells["latent_dim"], cells["l2"], cells["beta"], cells["seed"], strict=True)]
    arrays = {rid: inp.artifacts(rid) for rid in cells["run_id"]}
    numbers, measure = _numbers(cells)
    fig = overview_figure(cells, arrays, numbers=numbers, title="The other (λ, β, d) cells: latent μ(x) | "
                                                                  "reconstruction")
    caption = ("Every fixed-β cell of the study that Figs. 1 and 2 do not draw, one run each (the smallest "
               f"seed), ordered by β then λ; axes as in Fig. 1. Titles: {measure}; cov, bnd as in Fig. 1.")
    table = _table(cells, ["latent_dim", "l2", "beta"], [c for c, _ in numbers] + [col("directions")],
                   "The plotted runs' numbers.")
    return FigureEntry("overview", "fig2b_overview.png", "The other cells", caption, png_bytes(fig), table)


def _rd_points(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    metrics = present(runs, ["mse", "kl"])
    if len(metrics) < 2:
        raise Skip("the results have no mse or kl_total column")
    wide = widen(seed_summary(runs, metrics, by=by), by)
    spread = runs.groupby(by, dropna=False)[metrics].agg(["min", "max"])
    spread.columns = [f"{m}_{s}" for m, s in spread.columns]
    wide = wide.join(spread, on=by)
    names = {"mse": col("mse"), "kl": col("kl")}
    return wide.rename(columns={f"{v}{s}": f"{k}{s}" for k, v in names.items()
                                for s in ("", "_lo", "_hi", "_min", "_max")})


def fig_rate_distortion(inp: Inputs) -> FigureEntry:
    """Fig. 4: rate against distortion: fixed vs annealed β; variants at equal budget; probit."""
    grid = lambda_beta_runs(inp.ok, 2)
    main = modal_filter(inp.ok, {"variant": "vae", "latent_dim": 2},
                        free=["l2", "beta", "schedule", "warmup", "cycles", "cycle_ratio"])
    if grid.empty or main.empty:
        raise Skip("no 2-D vae runs in the study")
    lam = grid["l2"].min()
    others = inp.ok[(inp.ok["latent_dim"] == 2) & (inp.ok["l2"] == lam)
                    & ~inp.ok["variant"].isin(["vae", "probit"])]["beta"]
    beta = others.mode().min() if len(others) else grid["beta"].min()  # the variants' working point
    main = main[main["schedule"].isin(["constant", "linear"])]
    a = _rd_points(main, ["schedule", "beta", "l2"]).sort_values(["l2", "beta"])  # colours in λ order
    a = a.assign(panel="fixed against annealed β (vae, d = 2)", hue=[f"λ = {fmt(v)}" for v in a["l2"]],
                 style=[f"β = {fmt(b)}" for b in a["beta"]], hollow=a["schedule"].ne("constant"),
                 reference=False,
                 label=[f"vae, {s}, β = {fmt(b)}, λ = {fmt(v)}" for s, b, v in
                        zip(a["schedule"], a["beta"], a["l2"], strict=True)])
    same = inp.ok[(inp.ok["latent_dim"] == 2) & (inp.ok["l2"] == lam)]
    same = same[(same["variant"] != "vae") | (same["beta"] == beta)]
    b = _rd_points(same, ["variant", "schedule", "beta"])
    hue = [v if bb == beta or v == "probit" else f"{v}, β = {fmt(bb)}"
           for v, bb in zip(b["variant"], b["beta"], strict=True)]
    b = b.assign(panel=f"variants and β schedules at equal budget (d = 2, λ = {fmt(lam)}, β = {fmt(beta)})",
                 hue=hue, style=[f"{s} β" for s in b["schedule"]], hollow=False, text="",
                 label=[f"{h}, {s} β" for h, s in zip(hue, b["schedule"], strict=True)],
                 reference=b["variant"].eq("probit"))
    b.loc[b["reference"], "text"] = "probit: exact, MSE ≈ 0"
    points = pd.concat([a, b], ignore_index=True)
    fig = rate_distortion_figure(points, legend_hollow=("fixed β", "annealed β (linear)"),
                                 title="Rate–distortion plane: seed means; bars: range over seeds")
    caption = ("Rate (KL of q(z|x) to N(0, I), nats) against distortion (MSE of decode(μ(x)), log scale). "
               "Left: fixed (filled) against linearly annealed (open) β over the (λ, β) grid, colour λ, "
               "marker β. Right: the other variants "
               "and the vae's β schedules at the variants' β and the same training budget (marker: the "
               "schedule); the probit reference (z = Φ⁻¹(x), exact, "
               "deterministic so its rate is infinite) is the star. Points on the shaded strip at the "
               "top (KL = ∞) have deterministic encoders (ae, wae, probit); their height means nothing. "
               "Bars: the range over seeds; the table gives 95% t-intervals.")
    table = table_from_frame(points[["label", "n", "mse", "mse_lo", "mse_hi", "kl", "kl_lo", "kl_hi"]],
                             "Seed means [95% CI].", ["mse", "kl"])
    return FigureEntry("fig4", "fig4_rate_distortion.png", "Rate–distortion: fixed, annealed, variants",
                       caption, png_bytes(fig), table)


def fixed_beta_grid(ok: pd.DataFrame) -> pd.DataFrame:
    """The (λ, β) grids of the fixed-β vae for every latent size in ``ok``, largest d first."""
    if ok.empty or "latent_dim" not in ok:
        return ok.iloc[0:0]
    return pd.concat([lambda_beta_runs(ok, d) for d in sorted(ok["latent_dim"].unique(), reverse=True)])


def fig_heatmaps(inp: Inputs) -> FigureEntry:
    """Fig. 3: seed-averaged metrics over (λ, β) per latent size, with 95% t-intervals."""
    runs = fixed_beta_grid(inp.ok)
    metrics = present(runs, HEATMAP_METRICS)
    try:
        metrics.insert(1, prior_measure(runs)[0])
    except Skip:
        pass
    if runs.empty or not metrics:
        raise Skip("no fixed-β vae runs with the heatmap metrics")
    summary = seed_summary(runs, metrics, by=["latent_dim", "l2", "beta"])
    fig = heatmap_figure(summary, metrics, title="Seed means over (λ, β), fixed β; ± half-width of the "
                                                 "95% t-interval over seeds")
    caption = ("Seed-averaged metrics of the fixed-β vae over the (λ, β) grid, one row of panels per latent "
               "size; λ and β are categories (evenly spaced, only the values the study has). Each cell: "
               "the mean (2 significant digits) over ± the half-width of its 95% t-interval over seeds (n in "
               "the table; 'n = 1': one seed); blank: not in the study or undefined for every seed.")
    table = table_from_frame(widen(summary, ["latent_dim", "l2", "beta"]), "Seed means [95% CI].", metrics)
    return FigureEntry("fig3", "fig3_heatmaps.png", "Metrics over (λ, β)", caption, png_bytes(fig), table)


def fig_generation(inp: Inputs) -> FigureEntry:
    """Fig. 5: decoded prior samples per (d, β, λ) cell, smallest seed, wrapped."""
    runs = fixed_beta_grid(inp.ok)
    if runs.empty:
        raise Skip("no fixed-β vae runs in the study")
    cells = representative_runs(runs, ["latent_dim", "beta", "l2"]).sort_values(
        ["latent_dim", "beta", "l2"], ascending=[False, True, True])
    arrays = {rid: inp.artifacts(rid) for rid in cells["run_id"]}
    fig = generation_figure(cells, arrays, keys=("latent_dim", "beta", "l2"),
                            title="Generation: decoded prior samples decode(z'), z' ~ N(0, I), against "
                                  "U[0, 1]²")
    caption = ("Decoded samples of the prior (not reconstructions) over the shaded unit square, one run per "
               "(d, β, λ) cell (smallest seed), by d, then β, then λ. cov and bnd: coverage and boundary "
               "coverage of the inputs by the generated points.")
    table = _table(cells, ["latent_dim", "beta", "l2"], present(cells, ["gen_coverage", "gen_density",
                                                                        "gen_boundary", "gen_swd"]),
                   "The plotted runs' numbers.")
    return FigureEntry("fig5", "fig5_generation.png", "Generation from the prior", caption, png_bytes(fig),
                       table)
