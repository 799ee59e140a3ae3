"""Assemble the report from a study's results table: derived columns, findings, figures and tables.

Data flows one way: the results table (one row per run) and the stored per-run arrays and histories go
in through two loader callables; tables, findings and figures are computed from them; a
:class:`analysis.document.Report` comes out, which the renderers turn into Markdown and HTML. Diverged
runs, and runs whose stored files cannot be loaded (``broken``, with the file and the reason), are
listed, never plotted or averaged. A figure the study has no data for is skipped with the
reason, never drawn empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.document import FigureEntry, Report, png_bytes, table_from_frame
from analysis.exact_figures import fig_exact_likelihood, fig_exact_marginal_kl, fig_exact_rate
from analysis.figures import (
    Inputs,
    Skip,
    fig_generation,
    fig_heatmaps,
    fig_overview,
    fig_rate_distortion,
    fig_seed,
)
from analysis.findings import PROTOCOL, compute_findings, findings_frame
from analysis.protocol import protocol_header, seed_rows_of
from analysis.style import fmt
from analysis.summary_figures import throughput_figure
from analysis.summary_figures import training_curves_figure as curves_figure
from analysis.tables import (
    TABLE_METRICS,
    config_table,
    modal_filter,
    present,
    seed_summary,
    split_status,
    varying_columns,
    widen,
)

Artifacts = Callable[[str], Mapping[str, np.ndarray]]
History = Callable[[str], pd.DataFrame]
THROUGHPUT_VALUES = ["model_steps_per_s", "ops"]


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
    ("Fig. 1 (2-D latent)", lambda inp: fig_seed(inp, 2)),
    ("Fig. 2 (1-D latent)", lambda inp: fig_seed(inp, 1)),
    ("The other cells", fig_overview),
    ("Fig. 3 (heatmaps)", fig_heatmaps),
    ("Fig. 4 (rate–distortion)", fig_rate_distortion),
    ("exact: rate and information", fig_exact_rate),
    ("exact: distance from the prior", fig_exact_marginal_kl),
    ("exact: log p(x) and its bounds", fig_exact_likelihood),
    ("Fig. 5 (generation)", fig_generation),
    ("Fig. 6 (training curves)", fig_curves),
    ("Fig. 7 (throughput)", fig_throughput),
]


def assemble(results: pd.DataFrame, *, artifacts: Artifacts, history: History, title: str,
             meta: list[tuple[str, str]] | None = None, bench: pd.DataFrame | None = None,
             notes: list[str] | None = None,
             seed_rows: Mapping[int, tuple[Sequence[float], float]] | None = None) -> Report:
    """The whole report from ``results`` (one row per run, every metric stored by the study) and the loaders
    ``artifacts(run_id)`` and ``history(run_id)``; ``bench`` is a benchmark table or None; ``seed_rows``: the
    rows of Figs. 1 and 2 by latent size, (λ values, left-column β), else the study's own."""
    results = mark_broken(results, artifacts, history)
    ok, diverged = split_status(results)
    if seed_rows is None:  # the seed's panels as the protocol calibrated them, where the study has them
        seed_rows = seed_rows_of(PROTOCOL, ok)
    inp = Inputs(results, ok, artifacts, history, bench, seed_rows)
    report = Report(title=title, meta=list(meta or []), notes=list(notes or []))
    batch = int(ok["batch_size"].mode().iloc[0]) if "batch_size" in ok and not ok.empty else None
    report.protocol = protocol_header(PROTOCOL, batch)
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
