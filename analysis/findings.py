"""The seed report's claims, pre-registered: cells, metric, threshold, test and direction fixed here, in
code, before any data are seen; the study's numbers only fill them in.

Each :class:`Claim` quotes the seed report and lists its parts (:class:`Spec`): which cells of the study
(every config field that matters is fixed; the others are held at their modal value), which stored
metric (:mod:`vaebench.metrics`), the per-seed quantity (a paired difference between two cells, one
cell's values, an event rate or a dose–response), the threshold, and the kind of test
(:mod:`analysis.stats`). The λ values come from the seed report and the regime measured before this
study (FACTS: at the batch mean, B = 128, 3 000 steps, β = 0.01 keeps both input directions up to
λ ≈ 3·10⁻⁴ and loses one in every seed by 2·10⁻³; at β = 0.1 one direction (bands) at 4–8·10⁻⁴ and
collapse from 10⁻³); the seed's λ = 0.25 summed over a batch of 128 is λ = 0.25/128 ≈ 2·10⁻³ here.

Verdicts: supported / refuted / inconclusive (with the seeds per cell that would decide it), from both
one-sided p-values of every claim, Holm-adjusted together (:func:`analysis.stats.holm`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.document import Cell, Table, interval_cell, value_cell
from analysis.stats import (
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    Part,
    decide_family,
    intersection_union,
    location_part,
    rate_part,
    seeds_needed,
    trend_part,
)
from analysis.style import fmt, fmt_p
from analysis.tables import modal_filter, split_status
from vaebench.metrics.directions import KEPT_AT

# Thresholds, in each metric's units, fixed before the study was run.
EDGE_DROP = 0.10       # an edge band's coverage (share of its real points reached) must fall by 0.10
EDGE_EMPTY = 0.25      # "no values close to zero": at most a quarter of the band near 0 still reached
SHAPE_SHIFT = 0.20     # kurtosis contrast (axes − diagonals); square −0.6, Gaussian 0, diamond +0.6
BAND_RATE = 0.5        # bands in most seeds: the share of seeds keeping exactly one direction > 1/2
CURVE_EXCESS = 0.5     # a snake is longer than the straight diagonal (√2 ≈ 1.41) by 0.5 or more
CURVE_DROP = 0.5       # straightening: the curve shortens by 0.5 or more from β = 0.003 to β = 0.1
COVERAGE_MARGIN = 0.05  # coverage of the inputs by the reconstructions (Naeem et al. 2020)
THRESHOLDS = {"EDGE_DROP": EDGE_DROP, "EDGE_EMPTY": EDGE_EMPTY, "SHAPE_SHIFT": SHAPE_SHIFT,
              "BAND_RATE": BAND_RATE, "CURVE_EXCESS": CURVE_EXCESS, "CURVE_DROP": CURVE_DROP,
              "COVERAGE_MARGIN": COVERAGE_MARGIN}
DIAMOND_L2, SEED_L2, BAND_L2 = 3e-4, 2e-3, 6e-4
BAND_DOSES = (0.0, 2e-4, 4e-4, 6e-4)
BETA_PAIRS = ((0.003, 0.03), (0.01, 0.1))  # β and 10β, over two decades
UNIT = (0.0, 1.0)
DIFF_UNIT = (-1.0, 1.0)


def vae(d: int, beta: float, l2: float, schedule: str = "constant") -> dict:
    """A cell of the study: the vae with latent size d, final β, λ and β schedule."""
    return {"variant": "vae", "latent_dim": d, "beta": beta, "l2": l2, "schedule": schedule}


@dataclass(frozen=True)
class Spec:
    """One pre-registered part. ``mode``: "paired" (a − b per seed), "level" (a's values), "rate" (the
    share of a's seeds with ``event``) or "trend" (``event`` against ``dose`` over the cells ``doses``).
    ``kind`` and ``threshold``: the test (:mod:`analysis.stats`); ``bounds``: the estimand's range."""

    label: str
    metric: str
    mode: str
    kind: str
    threshold: float
    a: dict
    b: dict | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)
    event: Callable[[pd.DataFrame], pd.Series] | None = None
    doses: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A claim of the seed report: its ``words``, the ``parts`` that must all hold, and the figure
    panel that shows it."""

    key: str
    title: str
    words: str
    parts: tuple[Spec, ...]
    figure: str
    panel: str


def _kept(runs: pd.DataFrame) -> pd.Series:
    # from the stored shares, so the event follows KEPT_AT even in a study stored before it changed
    if runs.empty:
        return pd.Series(dtype=int)
    return (runs["z_explained_major"] >= KEPT_AT).astype(int) + (runs["z_explained_minor"] >= KEPT_AT)


def _one_kept(runs: pd.DataFrame) -> pd.Series:
    return _kept(runs) == 1


def _lost(runs: pd.DataFrame) -> pd.Series:
    return _kept(runs) < 2


CLAIMS: tuple[Claim, ...] = (
    Claim("beta_edges", "β × 10 empties the reconstruction near 0 and near 1",
          "increase the weight of the KL regularisation (β) by one order of magnitude, the "
          "reconstruction is already \"severely\" affected with values close to one or zero being absent",
          tuple(Spec(f"edge near {'0' if side == 'low' else '1'}: β = {fmt(lo)} − β = {fmt(hi)}",
                     f"recon_edge_{side}", "paired", "above", EDGE_DROP, vae(2, lo, 0.0), vae(2, hi, 0.0),
                     DIFF_UNIT)
                for lo, hi in BETA_PAIRS for side in ("low", "high")),
          "fig1", "reconstructions at λ = 0, columns β and 10β"),
    Claim("diamond", "λ turns the latent into a diamond",
          "increasing the L2 weight regularisation [...] a distribution that is half way between "
          "a uniform and a Gaussian is turned into a \"diamond-shaped\" one",
          (Spec(f"kurtosis contrast: λ = {fmt(DIAMOND_L2)} − λ = 0 (β = 0.01)", "mu_kurtosis_contrast",
                "paired", "above_or_equivalent", SHAPE_SHIFT, vae(2, 0.01, DIAMOND_L2), vae(2, 0.01, 0.0)),),
          "fig1", "latents at β = 0.01 down the λ rows"),
    Claim("bands", "larger λ at larger β: bands over one latent dimension",
          "If one also increases the weight of the L2 weight penalty [...] points that belong to "
          "quadrants [...] now belong to bands over one dimension of the latent",
          (Spec(f"seeds with bands (one input direction kept), λ = {fmt(BAND_L2)}, β = 0.1",
                "z_explained_minor", "rate", "rate_above", BAND_RATE, vae(2, 0.1, BAND_L2), event=_one_kept),
           Spec("a direction lost (< 2 kept) rises with log λ, β = 0.1", "z_explained_minor", "trend",
                "trend_up", 0.0, vae(2, 0.1, 0.0), event=_lost,
                doses=tuple(vae(2, 0.1, lam) for lam in BAND_DOSES))),
          "fig1", "latents at β = 0.1 down the λ rows"),
    Claim("no_zero", "large λ: no values near zero",
          "from λ = 0.25 the uniform distribution doesn't contain any values close to zero "
          "anymore", (
              Spec(f"edge near 0: λ = 0 − λ = {fmt(SEED_L2)} (β = 0.01)", "recon_edge_low", "paired", "above",
                   EDGE_DROP, vae(2, 0.01, 0.0), vae(2, 0.01, SEED_L2), DIFF_UNIT),
              Spec(f"edge near 0 at λ = {fmt(SEED_L2)}, β = 0.01", "recon_edge_low", "level", "below",
                   EDGE_EMPTY, vae(2, 0.01, SEED_L2), bounds=UNIT)),
          "fig1", f"reconstruction at β = 0.01, λ = {fmt(SEED_L2)}"),
    Claim("snake", "a 1-D latent snakes at low β and straightens as β grows",
          "for low weights of the KL term the autoencoder tries to traverse the 2D space in a "
          "\"snake fashion\"", (
              Spec("decoded curve length at β = 0.003 (1-D latent)", "curve_length", "level", "above",
                   math.sqrt(2) + CURVE_EXCESS, vae(1, 0.003, 0.0), bounds=(0.0, math.inf)),
              Spec("curve length: β = 0.003 − β = 0.1 (1-D latent)", "curve_length", "paired", "above",
                   CURVE_DROP, vae(1, 0.003, 0.0), vae(1, 0.1, 0.0))),
          "fig2", "1-D reconstructions at λ = 0 across β"),
    Claim("anneal_to_one", "annealing β from 0 to 1 is worse than a fixed β < 1",
          "an annealing approach [...] initially zero weight on the KL factor [...] quickly "
          "increasing β to one [...] didn't lead to satisfactory results, so I stuck with a fixed β",
          (Spec("coverage: fixed β = 0.01 − β annealed 0 → 1 (linear)", "recon_coverage", "paired", "above",
                COVERAGE_MARGIN, vae(2, 0.01, 0.0), vae(2, 1.0, 0.0, "linear"), DIFF_UNIT),),
          "fig4", "rate–distortion: fixed against annealed β"),
    Claim("schedules", "no β schedule beats fixed β",
          "(implied) annealing β does not improve on a fixed β: no schedule ending at β = 0.01 "
          "beats fixed β = 0.01 by the margin",
          tuple(Spec(f"coverage: {s} − fixed β = 0.01", "recon_coverage", "paired", "below", COVERAGE_MARGIN,
                     vae(2, 0.01, 0.0, s), vae(2, 0.01, 0.0), DIFF_UNIT)
                for s in ("linear", "sigmoid", "cyclical")),
          "fig4", "rate–distortion: β schedules at equal budget"),
)


@dataclass(frozen=True)
class Finding:
    """One claim's outcome: the seed's words (``claim``), ``verdict``, a computed ``sentence``, its
    ``parts`` as (spec, result) pairs, the figure it links, both p-values (raw and Holm-adjusted) and
    the seeds per cell that would decide an inconclusive claim."""

    key: str
    claim: str
    verdict: str
    sentence: str
    parts: list = field(default_factory=list)
    figure: str = ""
    panel: str = ""
    p_for: float = math.nan
    p_against: float = math.nan
    p_for_holm: float = math.nan
    p_against_holm: float = math.nan
    seeds_needed: int | None = None
    table: Table | None = None
    title: str = ""


def cell_values(ok: pd.DataFrame, cell: dict, metric: str) -> pd.Series:
    """The per-seed values of ``metric`` in ``cell`` (mean over duplicates), indexed by seed; empty when
    the study has no such runs or no such column."""
    runs = modal_filter(ok, cell, free=[])
    if runs.empty or metric not in runs:
        return pd.Series(dtype=float)
    return runs.groupby("seed")[metric].mean()


def cell_runs(ok: pd.DataFrame, cell: dict, columns: list[str]) -> pd.DataFrame:
    """The per-seed rows (first run of each seed) of ``cell`` with finite ``columns``."""
    runs = modal_filter(ok, cell, free=[])
    if runs.empty or any(c not in runs for c in columns):
        return pd.DataFrame(columns=columns)
    runs = runs.drop_duplicates("seed")
    return runs[np.isfinite(runs[columns].to_numpy(dtype=float)).all(1)]


EVENT_COLUMNS = ["z_explained_major", "z_explained_minor"]


def run_part(ok: pd.DataFrame, spec: Spec, seed: int = 0) -> Part:
    """The test of one pre-registered part on the study's ok runs."""
    if spec.mode == "rate":
        return rate_part(spec.event(cell_runs(ok, spec.a, EVENT_COLUMNS)).to_numpy(), spec.threshold)
    if spec.mode == "trend":
        dose, events = [], []
        for cell in spec.doses:
            runs = cell_runs(ok, cell, EVENT_COLUMNS)
            dose += [cell["l2"]] * len(runs)
            events += list(spec.event(runs))
        return trend_part(dose, events, seed=seed)
    a = cell_values(ok, spec.a, spec.metric)
    if spec.mode == "paired":
        b = cell_values(ok, spec.b, spec.metric)
        seeds = a.index.intersection(b.index)
        values = a.loc[seeds] - b.loc[seeds]
        return location_part(values.to_numpy(), spec.threshold, spec.kind, bounds=spec.bounds, seed=seed)
    if spec.mode == "level":
        return location_part(a.to_numpy(), spec.threshold, spec.kind, bounds=spec.bounds, seed=seed)
    raise ValueError(f"mode = {spec.mode!r}: must be one of ['paired', 'level', 'rate', 'trend']")


def _cells(spec: Spec, batch: int | None) -> str:
    def one(c: dict) -> str:
        lb = f" (λ·B = {fmt(c['l2'] * batch)})" if batch and c["l2"] else ""
        sched = "" if c["schedule"] == "constant" else f", {c['schedule']} β"
        return f"d = {c['latent_dim']}, β = {fmt(c['beta'])}{sched}, λ = {fmt(c['l2'])}{lb}"
    if spec.mode == "trend":
        return f"d = 2, β = 0.1, λ ∈ {{{', '.join(fmt(c['l2']) for c in spec.doses)}}}"
    return one(spec.a) + (f" vs {one(spec.b)}" if spec.b else "")


def _claimed(spec: Spec, part: Part) -> str:
    if spec.kind == "rate_above":
        return f"share > {fmt(spec.threshold)}"
    if spec.kind == "trend_up":
        return "ρ > 0"
    op = "<" if spec.kind == "below" else ">"
    return f"{'mean difference' if spec.mode == 'paired' else 'mean'} {op} {fmt(spec.threshold)}"


def _sentence(claim: Claim, verdict: str, p_for: float, p_against: float, need: int | None, n: int) -> str:
    ps = f"{fmt_p(p_for, 'Holm-adjusted p')} for the claim, {fmt_p(p_against, 'p')} against it"
    if verdict == SUPPORTED:
        head = "Supported: every part holds beyond its pre-registered threshold"
    elif verdict == REFUTED:
        head = "Refuted: a part is shown to fall short of its pre-registered threshold"
    elif need is None:
        head = ("Inconclusive; the observed effects lie too close to the thresholds to say how many seeds "
                "would decide it")
    else:
        head = (f"Inconclusive at n = {n} seeds per cell; about {need} seeds per cell would decide it at "
                f"80 % power if the observed effects are the true ones")
    return f"{head} ({ps}). The panel: {claim.panel}."


def compute_findings(results: pd.DataFrame, alpha: float = 0.05,
                     claims: tuple[Claim, ...] = CLAIMS) -> list[Finding]:
    """Every claim of ``claims`` tested on the results table (one row per run; diverged runs ignored),
    both p-values of every claim Holm-adjusted together at family-wise level ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: must be a number in (0, 1)")
    ok, _ = split_status(results)
    batch = int(ok["batch_size"].mode().iloc[0]) if "batch_size" in ok and not ok.empty else None
    tested = [[(spec, run_part(ok, spec, seed=i)) for spec in claim.parts] for i, claim in enumerate(claims)]
    decided = decide_family([[p for _, p in parts] for parts in tested], alpha)
    level = alpha / max(1, 2 * sum(math.isfinite(pf) for _, pf, _ in decided))
    out = []
    for claim, parts, (verdict, pf_adj, pa_adj) in zip(claims, tested, decided, strict=True):
        p_for, p_against = intersection_union([p for _, p in parts])
        untestable = [s.label for s, p in parts if p.n == 0 or math.isnan(p.p_for)]
        n = min((p.n for _, p in parts), default=0)
        need = None
        if verdict == INCONCLUSIVE and not untestable:
            needs_for = [seeds_needed(p, level, "for") for _, p in parts]
            needs_against = [x for x in (seeds_needed(p, level, "against") for _, p in parts) if x]
            need = max(needs_for) if all(needs_for) else (min(needs_against) if needs_against else None)
        if untestable:
            sentence = f"Not testable on this study: no runs for {'; '.join(untestable)}."
        else:
            sentence = _sentence(claim, verdict, pf_adj, pa_adj, need, n)
        f = Finding(claim.key, claim.words, verdict, sentence, parts, claim.figure, claim.panel, p_for,
                    p_against, pf_adj, pa_adj, need)
        out.append(replace(f, table=finding_table(f, batch), title=claim.title))
    return out


FINDING_COLUMNS = ["seed's words", "cells", "metric", "claimed", "estimate (95% CI)", "n", "test",
                   "p for / against", "claim's Holm-adjusted p for / against", "verdict"]


def finding_table(f: Finding, batch: int | None = None) -> Table:
    """A finding as a small table: one row per part; the seed's words, the claim's adjusted p-values
    and its verdict on the first row."""
    rows = []
    for i, (s, p) in enumerate(f.parts):
        first = i == 0
        adj = f"{fmt(f.p_for_holm)} / {fmt(f.p_against_holm)}" if first else ""
        rows.append([Cell(f.claim if first else "", ""), Cell(_cells(s, batch), ""), Cell(s.metric, s.metric),
                     Cell(_claimed(s, p), ""), interval_cell(p.estimate, p.lo, p.hi), value_cell(p.n),
                     Cell(p.test, p.test), Cell(f"{fmt(p.p_for)} / {fmt(p.p_against)}", p.p_for),
                     Cell(adj, f.p_for_holm), Cell(f.verdict if first else "", f.verdict)])
    return Table(FINDING_COLUMNS, rows)  # the sentence stands above it in the report


def findings_frame(findings: list[Finding], batch: int | None = None) -> pd.DataFrame:
    """The parts of ``findings`` as a tidy table: one row per part, with the claim's verdict and p-values
    (the columns of the report's findings tables)."""
    rows = [{"finding": f.key, "seed's words": f.claim, "part": s.label, "cells": _cells(s, batch),
             "metric": s.metric, "claimed": _claimed(s, p), "estimate": p.estimate, "lo": p.lo, "hi": p.hi,
             "n": p.n, "test": p.test, "p_for": p.p_for, "p_against": p.p_against,
             "claim_p_holm": f.p_for_holm, "claim_p_against_holm": f.p_against_holm, "verdict": f.verdict,
             "seeds_needed": f.seeds_needed}
            for f in findings for s, p in f.parts]
    return pd.DataFrame(rows)
