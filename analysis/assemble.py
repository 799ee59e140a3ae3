"""Assemble the report from a study's results table: derived columns, findings, figures and tables.

Data flows one way: the results table (one row per run) and the stored per-run arrays and histories go
in through two loader callables; tables, findings and figures are computed from them; a
:class:`analysis.document.Report` comes out, which the renderers turn into Markdown and HTML. Diverged
runs, and runs whose stored files cannot be loaded (``broken``, with the file and the reason), are
listed, never plotted or averaged. A figure the study has no data for is skipped with the
reason, never drawn empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.document import FigureEntry, Report, Table, png_bytes, table_from_frame
from analysis.findings import compute_findings, findings_frame
from analysis.scatter_figures import generation_figure, latent_grid_figure
from analysis.style import fmt
from analysis.summary_figures import heatmap_figure, rate_distortion_figure, throughput_figure
from analysis.summary_figures import training_curves_figure as curves_figure
from analysis.tables import (
    TABLE_METRICS,
    col,
    config_table,
    lambda_beta_runs,
    modal_filter,
    present,
    representative_runs,
    seed_summary,
    split_status,
    varying_columns,
    widen,
)

Artifacts = Callable[[str], Mapping[str, np.ndarray]]
History = Callable[[str], pd.DataFrame]
HEATMAP_METRICS = ["mse", "coverage", "boundary", "gauss_effect", "directions"]
THROUGHPUT_VALUES = ["model_steps_per_s", "ops"]


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


BROKEN = "broken"  # the status of an ok run whose stored artifacts cannot be read


def mark_broken(results: pd.DataFrame, artifacts: Artifacts, history: History | None = None) -> pd.DataFrame:
    """``results`` where every ok run whose arrays (or history, when ``history`` is given) cannot be
    loaded has status ``broken`` and the loader's message (its path and why) as reason: it is listed,
    never plotted or averaged, and the other runs are reported."""
    ok, _ = split_status(results)
    broken = {}
    for rid in ok["run_id"]:
        try:  # stored files are untrusted: whatever a damaged one raises, report it and go on
            artifacts(rid)
            if history is not None:
                history(rid)
        except Exception as err:  # noqa: BLE001
            broken[rid] = " ".join(str(err).split()) or type(err).__name__
    out = results.copy()
    if broken:
        hit = out["run_id"].isin(list(broken))
        out.loc[hit, "status"] = BROKEN
        out.loc[hit, "reason"] = out.loc[hit, "run_id"].map(broken)
    return out


def fixed_beta_grid(ok: pd.DataFrame) -> pd.DataFrame:
    """The (λ, β) grids of the fixed-β vae for every latent size in ``ok``, largest d first."""
    if ok.empty or "latent_dim" not in ok:
        return ok.iloc[0:0]
    return pd.concat([lambda_beta_runs(ok, d) for d in sorted(ok["latent_dim"].unique(), reverse=True)])


def _cells_table(cells: pd.DataFrame, keys: list[str], roles: list[str], caption: str) -> Table:
    return table_from_frame(cells[keys + ["seed"] + present(cells, roles)], caption)


def fig_latent(inp: Inputs, d: int) -> FigureEntry:
    """Fig. 1 (d = 2) / Fig. 2 (d = 1): latent beside reconstruction per (λ, β) cell, smallest seed."""
    cells = representative_runs(lambda_beta_runs(inp.ok, d), ["l2", "beta"])
    if cells.empty:
        raise Skip(f"no {d}-D fixed-β vae runs in the study")
    arrays = {rid: inp.artifacts(rid) for rid in cells["run_id"]}
    key, fig_no = ("fig1", "Fig. 2") if d == 2 else ("fig2", "Fig. 3")
    fig = latent_grid_figure(cells, arrays, title=f"{d}-D latent: encoder means μ(x) | reconstructions "
                                                  f"decode(z) (seed report's {fig_no})")
    caption = (f"{d}-D latent, fixed β, one run per (λ, β) cell (smallest seed). Left of each pair: the "
               "encoder means coloured by input quadrant" + (" against uniform jitter" if d == 1 else
                                                             ", dotted circles the prior's 1σ and 2σ")
               + "; right: the reconstructions on the unit square. Titles: KL_G = KL of the "
               "moment-matched Gaussian to N(0, I) (Gaussianity effect size, 0 = Gaussian with the prior's "
               "moments), cov = coverage and bnd = boundary coverage of the inputs by the reconstructions.")
    table = _cells_table(cells, ["l2", "beta"], ["gauss_effect", "coverage", "boundary", "corner",
                                                  "quadrant", "directions"], "The plotted runs' numbers.")
    return FigureEntry(key, f"{key}_latent_{d}d.png", f"{d}-D latent and reconstruction over (λ, β)",
                       caption, png_bytes(fig), table)


def fig_heatmaps(inp: Inputs) -> FigureEntry:
    """Fig. 3: seed-averaged metrics over (λ, β) per latent size, with 95% t-intervals."""
    runs = fixed_beta_grid(inp.ok)
    metrics = present(runs, HEATMAP_METRICS)
    if runs.empty or not metrics:
        raise Skip("no fixed-β vae runs with the heatmap metrics")
    summary = seed_summary(runs, metrics, by=["latent_dim", "l2", "beta"])
    fig = heatmap_figure(summary, metrics, title="Seed means over (λ, β), fixed β; ± half-width of the "
                                                 "95% t-interval over seeds")
    caption = ("Seed-averaged metrics of the fixed-β vae over the (λ, β) grid, per latent size. Each "
               "cell: mean and ± the half-width of its 95% t-interval over seeds (n in the table); blank: "
               "undefined for every seed (e.g. the Gaussianity effect of a latent collapsed to a point).")
    table = table_from_frame(widen(summary, ["latent_dim", "l2", "beta"]), "Seed means [95% CI].", metrics)
    return FigureEntry("fig3", "fig3_heatmaps.png", "Metrics over (λ, β)", caption, png_bytes(fig), table)


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
    lam, beta = grid["l2"].min(), grid["beta"].min()
    main = main[main["schedule"].isin(["constant", "linear"])]
    a = _rd_points(main, ["schedule", "beta", "l2"])
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
    b.loc[b["reference"], "text"] = "probit reference: MSE ≈ 0, KL = ∞"
    points = pd.concat([a, b], ignore_index=True)
    fig = rate_distortion_figure(points, legend_hollow=("fixed β", "annealed β (linear)"),
                                 title="Rate–distortion plane: seed means; bars: range over seeds")
    caption = ("Rate (KL of q(z|x) to N(0, I), nats) against distortion (MSE of decode(μ(x)), log scale). "
               "Left: fixed (filled) against linearly annealed (open) β over the (λ, β) grid, colour λ, "
               "marker β. Right: the other variants "
               "and β schedules at the same training budget; the probit reference (z = Φ⁻¹(x), exact, "
               "deterministic so its rate is infinite) is the star. Points on the dashed strip have "
               "deterministic encoders. Bars: the range over seeds; the table gives 95% t-intervals.")
    table = table_from_frame(points[["label", "n", "mse", "mse_lo", "mse_hi", "kl", "kl_lo", "kl_hi"]],
                             "Seed means [95% CI].", ["mse", "kl"])
    return FigureEntry("fig4", "fig4_rate_distortion.png", "Rate–distortion: fixed, annealed, variants",
                       caption, png_bytes(fig), table)


def fig_generation(inp: Inputs) -> FigureEntry:
    """Fig. 5: decoded prior samples per (λ, d, β) cell, smallest seed."""
    runs = fixed_beta_grid(inp.ok)
    if runs.empty:
        raise Skip("no fixed-β vae runs in the study")
    runs = runs.assign(cell=[f"d = {d}, β = {fmt(b)}" for d, b in zip(runs["latent_dim"], runs["beta"],
                                                                       strict=True)])
    cells = representative_runs(runs, ["cell", "l2"]).sort_values(["latent_dim", "beta", "l2"],
                                                                   ascending=[False, True, True])
    arrays = {rid: inp.artifacts(rid) for rid in cells["run_id"]}
    fig = generation_figure(cells, arrays, col_key="cell",
                            title="Generation: decoded prior samples decode(z'), z' ~ N(0, I), "
                                  "against U[0, 1]²")
    caption = ("Decoded samples of the prior (not reconstructions) over the shaded unit square, one run per "
               "cell (smallest seed). cov and bnd: coverage and boundary coverage of the inputs by the "
               "generated points.")
    table = _cells_table(cells, ["latent_dim", "beta", "l2"], ["gen_coverage", "gen_density", "gen_boundary",
                                                                "gen_swd"], "The plotted runs' numbers.")
    return FigureEntry("fig5", "fig5_generation.png", "Generation from the prior", caption, png_bytes(fig),
                       table)


def fig_curves(inp: Inputs) -> FigureEntry:
    """Fig. 6: training curves of the vae runs, per latent size and β; table of final losses."""
    runs = modal_filter(inp.ok, {"variant": "vae"},
                        free=["latent_dim", "l2", "beta", "schedule", "warmup", "cycles", "cycle_ratio"])
    if runs.empty:
        raise Skip("no vae runs in the study")
    frames = []
    for _, r in runs.iterrows():
        h = inp.history(r["run_id"]).rename(columns={"l2": "l2_penalty", "beta": "beta_t"})
        frames.append(h.assign(run_id=r["run_id"], seed=r["seed"], l2=r["l2"], schedule=r["schedule"],
                               panel=f"d = {r['latent_dim']}, β = {fmt(r['beta'])}"))
    hist = pd.concat(frames, ignore_index=True)
    terms = [t for t in ("recon", "kl") if t in hist]
    if not terms:
        raise Skip("the histories have no recon or kl column")
    fig = curves_figure(hist, terms=terms, title="Training curves: geometric seed means, ×/÷ 1 geometric sd")
    caption = ("Loss terms per training step (recon: per-sample squared error / 2σ²; kl: nats per sample), "
               "vae runs, per latent size and final β; colour λ, line style the β schedule; geometric "
               "means over seeds with a ×/÷ one geometric sd band (log axes).")
    last = hist.sort_values("step").groupby("run_id").tail(1).merge(
        runs[["run_id", "latent_dim", "beta"]], on="run_id")
    summary = seed_summary(last.assign(status="ok"), terms, by=["latent_dim", "beta", "l2", "schedule"])
    table = table_from_frame(widen(summary, ["latent_dim", "beta", "l2", "schedule"]),
                             "Final-step losses, seed means [95% CI].", terms)
    return FigureEntry("fig6", "fig6_training_curves.png", "Training curves", caption, png_bytes(fig), table)


def fig_throughput(inp: Inputs) -> FigureEntry:
    """Fig. 7: throughput from the benchmark table (model-steps/s, else calls/s)."""
    if inp.bench is None or inp.bench.empty:
        raise Skip("no pytest-benchmark JSON found (run: tox -e bench, or pass --bench-json FILE)")
    value = next((v for v in THROUGHPUT_VALUES if v in inp.bench and np.isfinite(inp.bench[v]).any()), None)
    if value is None:
        raise Skip("the benchmark JSON has no model_steps_per_s or ops values")
    bench = inp.bench[np.isfinite(inp.bench[value])]
    fig = throughput_figure(bench, value=value, title=f"Throughput from the latest benchmark run ({value})")
    caption = (f"{value.replace('_', ' ')} per benchmark, from the pytest-benchmark JSON (its extra_info); "
               "log scale. Same machine and run for every bar.")
    columns = [c for c in ["name", "group", value, "median_s"] if c in bench] + [
        c for c in bench.columns if "ratio" in c or c.endswith("_x")]
    table = table_from_frame(bench[list(dict.fromkeys(columns))], "Benchmarks.")
    return FigureEntry("fig7", "fig7_throughput.png", "Throughput", caption, png_bytes(fig), table)


FIGURES: list[tuple[str, Callable[[Inputs], FigureEntry]]] = [
    ("Fig. 1 (2-D latent)", lambda inp: fig_latent(inp, 2)),
    ("Fig. 2 (1-D latent)", lambda inp: fig_latent(inp, 1)),
    ("Fig. 3 (heatmaps)", fig_heatmaps),
    ("Fig. 4 (rate–distortion)", fig_rate_distortion),
    ("Fig. 5 (generation)", fig_generation),
    ("Fig. 6 (training curves)", fig_curves),
    ("Fig. 7 (throughput)", fig_throughput),
]


def assemble(results: pd.DataFrame, *, artifacts: Artifacts, history: History, title: str,
             meta: list[tuple[str, str]] | None = None, bench: pd.DataFrame | None = None,
             notes: list[str] | None = None) -> Report:
    """The whole report from ``results`` (one row per run, every metric stored by the study) and the loaders
    ``artifacts(run_id)`` and ``history(run_id)``; ``bench`` is a benchmark table or None."""
    results = mark_broken(results, artifacts, history)
    ok, diverged = split_status(results)
    inp = Inputs(results, ok, artifacts, history, bench)
    report = Report(title=title, meta=list(meta or []), notes=list(notes or []))
    report.findings = compute_findings(results)
    report.results = results
    for name, build in FIGURES:
        try:
            report.figures.append(build(inp))
        except Skip as why:
            report.skipped.append((name, str(why)))
    if not ok.empty:
        report.tables.append(table_from_frame(
            config_table(ok), "One row per configuration: seed means with 95% t-intervals over seeds "
                              "(n = seeds); click a header to sort.",
            intervals=present(ok, TABLE_METRICS)))
    frame = findings_frame(report.findings)
    if not frame.empty:
        report.tables.append(table_from_frame(frame, "Every comparison behind the findings (Holm over all)."))
    if not diverged.empty:
        shown = [c for c in ["run_id", *varying_columns(results), "seed", "diverged_step", "reason"]
                 if c in diverged]
        caption = ("Runs not plotted, not averaged: diverged, failed evaluation, or broken (stored artifacts "
                   "that cannot be read; the reason names the file).")
        report.diverged = table_from_frame(diverged[shown], caption)
    return report
