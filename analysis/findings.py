"""The seed report's claims decided on a study: every claim, its parts, cells, thresholds, tests and seeds
come from the frozen protocol (:mod:`analysis.protocol`, analysis/protocols/v2.toml); the study's
numbers only fill them in.

A part reads the study's ok runs in its cells, only on the claim's confirmatory seeds (a pilot seed or a
seed earlier rounds looked at never enters a test, whatever the study holds), optionally only the runs
with a guard event (``where``: e.g. "the latent is still 2-D"), and computes the per-seed quantity of its
mode (a paired difference, one cell's values, an event rate, a dose–response) and its test
(:mod:`analysis.stats`). A closed-form part is decided without data (:func:`closed_form_part`); such a
claim is reported as decided by the closed form and stays out of the Holm family.

Verdicts: supported / refuted / inconclusive (with the seeds per cell that would decide it), from both
one-sided p-values of every empirical claim, Holm-adjusted together (:func:`analysis.stats.holm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis import protocol as protocol_module
from analysis.document import Cell, Table, interval_cell, value_cell
from analysis.protocol import Claim, Spec
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
from vaebench.closed_forms import linear_vae_critical_beta

PROTOCOL = protocol_module.load()
CLAIMS: tuple[Claim, ...] = PROTOCOL.claims

# Per-run events (names used by the protocol's ``event`` and ``where``), from stored columns.
EVENTS = {
    "two_d": ("active_units", lambda r: r["active_units"] == 2),           # both latent units active
    "bands": ("latent_bands", lambda r: r["latent_bands"] == 1),           # one encodes, one is noise
    "one_direction": ("z_directions_kept", lambda r: r["z_directions_kept"] == 1),  # one input direction
    "lost": ("z_directions_kept", lambda r: r["z_directions_kept"] < 2),   # fewer than 2 kept
}
assert set(EVENTS) == set(protocol_module.EVENTS)


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
    source: str = "seed"


def _runs(ok: pd.DataFrame, cell: dict, seeds, where: str | None, columns: list[str]) -> pd.DataFrame:
    """The runs of ``cell`` on ``seeds`` (first run per seed), with the guard event ``where`` and finite
    ``columns``."""
    runs = modal_filter(ok, cell, free=[])
    needed = [*columns, *([EVENTS[where][0]] if where else [])]
    if runs.empty or any(c not in runs for c in needed):
        return pd.DataFrame(columns=["seed", *needed], dtype=float)
    runs = runs[runs["seed"].isin(list(seeds))].drop_duplicates("seed")
    runs = runs[np.isfinite(runs[needed].to_numpy(dtype=float)).all(1)]
    return runs[EVENTS[where][1](runs)] if where else runs


def cell_values(ok: pd.DataFrame, cell: dict, metric: str, seeds=None, where: str | None = None) -> pd.Series:
    """The per-seed values of ``metric`` in ``cell`` on ``seeds`` (all if None), indexed by seed."""
    seeds = ok["seed"].unique() if seeds is None and "seed" in ok else (seeds or ())
    runs = _runs(ok, cell, seeds, where, [metric])
    return runs.set_index("seed")[metric].astype(float) if not runs.empty else pd.Series(dtype=float)


def closed_form_part(spec: Spec) -> Part:
    """The linear β-VAE's closed form (:func:`vaebench.closed_forms.linear_vae_critical_beta`): a final β
    above β_c = ξ²/σ² collapses every direction, so annealing to it cannot end well, whatever the
    schedule. ``p_for`` = 0 when the cell's final β exceeds β_c (decided), else NaN (not decided)."""
    bc = linear_vae_critical_beta()
    beta = spec.a["beta"]
    decided = beta > bc
    return Part("closed_form", bc, beta, math.nan, math.nan, 0,
                f"closed form: β = {fmt(beta)} {'>' if decided else '≤'} β_c = {fmt(bc)}",
                0.0 if decided else math.nan, 1.0 if decided else math.nan)


def run_part(ok: pd.DataFrame, spec: Spec, seeds, seed: int = 0) -> Part:
    """The test of one part on the study's ok runs, on the confirmatory ``seeds`` only."""
    if spec.mode == "closed_form":
        return closed_form_part(spec)
    if spec.mode == "rate":
        runs = _runs(ok, spec.a, seeds, spec.where, [EVENTS[spec.event][0]])
        return rate_part(EVENTS[spec.event][1](runs).to_numpy(), spec.threshold)
    if spec.mode == "trend":
        dose, events = [], []
        for cell in spec.doses:
            runs = _runs(ok, cell, seeds, spec.where, [EVENTS[spec.event][0]])
            dose += [cell["l2"]] * len(runs)
            events += list(EVENTS[spec.event][1](runs))
        return trend_part(dose, events, seed=seed)
    a = cell_values(ok, spec.a, spec.metric, seeds, spec.where)
    if spec.mode == "paired":
        b = cell_values(ok, spec.b, spec.metric, seeds, spec.where)
        common = a.index.intersection(b.index)
        a = a.loc[common] - b.loc[common]
    return location_part(a.to_numpy(), spec.threshold, spec.kind, bounds=spec.bounds, seed=seed)


def _cells(spec: Spec, batch: int | None) -> str:
    def one(c: dict) -> str:
        lb = f" (λ·B = {fmt(c['l2'] * batch)})" if batch and c["l2"] else ""
        sched = "" if c["schedule"] == "constant" else f", {c['schedule']} β"
        return (f"d = {c['latent_dim']}, β = {fmt(c['beta'])}{sched}, λ = {fmt(c['l2'])}{lb}, "
                f"{c['steps']} steps")
    if spec.mode == "trend":
        c = spec.doses[0]
        doses = ", ".join(fmt(d["l2"]) for d in spec.doses)
        return f"d = {c['latent_dim']}, β = {fmt(c['beta'])}, λ ∈ {{{doses}}}, {c['steps']} steps"
    guard = f"; only runs with {spec.where}" if spec.where else ""
    return one(spec.a) + (f" vs {one(spec.b)}" if spec.b else "") + guard


def _claimed(spec: Spec) -> str:
    t = fmt(spec.threshold)
    return {"rate_above": f"share > {t}", "trend_up": "ρ > 0", "closed_form": "β > β_c",
            "equivalent": f"|mean difference| < {t}",
            "below": f"{'mean difference' if spec.mode == 'paired' else 'mean'} < {t}"}.get(
        spec.kind, f"{'mean difference' if spec.mode == 'paired' else 'mean'} > {t}")


def _sentence(claim: Claim, verdict: str, p_for: float, p_against: float, need: int | None, n: int) -> str:
    ps = f"{fmt_p(p_for, 'Holm-adjusted p')} for the claim, {fmt_p(p_against, 'p')} against it"
    own = "The project's own claim, not the seed's. " if claim.source == "project" else ""
    if verdict == SUPPORTED:
        head = "Supported: every part holds beyond its pre-registered threshold"
    elif verdict == REFUTED:
        head = "Refuted: a part is shown to fall short of its pre-registered threshold"
    elif need is None:
        head = (f"Inconclusive at n = {n} seeds per cell; the observed effects lie too close to the "
                "thresholds to say how many seeds would decide it")
    else:
        head = (f"Inconclusive at n = {n} seeds per cell; about {need} seeds per cell would decide it at "
                f"80 % power if the observed effects are the true ones")
    return f"{own}{head} ({ps}). The panel: {claim.panel}."


def _closed_form_finding(claim: Claim, parts: list) -> tuple[str, str]:
    decided = all(p.p_for == 0.0 for _, p in parts)
    tests = "; ".join(p.test for _, p in parts)
    if decided:
        return SUPPORTED, (f"Decided by the closed form, not by an experiment ({tests}): the linear β-VAE "
                           f"collapses every direction above β_c, so annealing to that β cannot end well "
                           f"whatever its schedule. Outside the Holm family. The panel: {claim.panel}.")
    return INCONCLUSIVE, (f"Not supported: the closed form does not decide it ({tests}); no experiment was "
                          "registered.")


def compute_findings(results: pd.DataFrame, alpha: float | None = None,
                     claims: tuple[Claim, ...] | None = None, seeds: dict | None = None) -> list[Finding]:
    """Every claim (default: the frozen protocol's) tested on the results table (one row per run;
    diverged runs ignored), on each claim's confirmatory seeds (``seeds``: key → seeds, to override,
    e.g. with the pilot's); both p-values of every empirical claim Holm-adjusted together at α."""
    alpha = PROTOCOL.meta["alpha"] if alpha is None else alpha
    claims = CLAIMS if claims is None else claims
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: must be a number in (0, 1)")
    ok, _ = split_status(results)
    batch = int(ok["batch_size"].mode().iloc[0]) if "batch_size" in ok and not ok.empty else None
    tested = [[(spec, run_part(ok, spec, (seeds or {}).get(c.key, c.seeds), seed=i)) for spec in c.parts]
              for i, c in enumerate(claims)]
    empirical = [i for i, c in enumerate(claims) if c.source != "closed_form"]
    decided = dict(zip(empirical, decide_family([[p for _, p in tested[i]] for i in empirical], alpha),
                       strict=True))
    level = alpha / max(1, 2 * sum(math.isfinite(pf) for _, pf, _ in decided.values()))
    out = []
    for i, (claim, parts) in enumerate(zip(claims, tested, strict=True)):
        p_for, p_against = intersection_union([p for _, p in parts])
        n = min((p.n for _, p in parts), default=0)
        need = None
        if claim.source == "closed_form":
            verdict, sentence = _closed_form_finding(claim, parts)
            pf_adj, pa_adj = p_for, p_against
        else:
            verdict, pf_adj, pa_adj = decided[i]
            untestable = [s.label for s, p in parts if p.n == 0 or math.isnan(p.p_for)]
            if verdict == INCONCLUSIVE and not untestable:
                needs_for = [seeds_needed(p, level, "for") for _, p in parts]
                needs_against = [x for x in (seeds_needed(p, level, "against") for _, p in parts) if x]
                need = max(needs_for) if all(needs_for) else (min(needs_against) if needs_against else None)
            if untestable:
                sentence = f"Not testable on this study: no runs for {'; '.join(untestable)}."
            else:
                sentence = _sentence(claim, verdict, pf_adj, pa_adj, need, n)
        f = Finding(claim.key, claim.words, verdict, sentence, parts, claim.figure, claim.panel, p_for,
                    p_against, pf_adj, pa_adj, need, source=claim.source)
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
        closed = s.mode == "closed_form"  # no data, no p-value: decided by the formula
        adj = "outside Holm" if closed else f"{fmt(f.p_for_holm)} / {fmt(f.p_against_holm)}"
        ps = "none (closed form)" if closed else f"{fmt(p.p_for)} / {fmt(p.p_against)}"
        rows.append([Cell(f.claim if first else "", ""), Cell(_cells(s, batch), ""), Cell(s.metric, s.metric),
                     Cell(_claimed(s), ""), interval_cell(p.estimate, p.lo, p.hi), value_cell(p.n),
                     Cell(p.test, p.test), Cell(ps, p.p_for),
                     Cell(adj if first else "", f.p_for_holm), Cell(f.verdict if first else "", f.verdict)])
    return Table(FINDING_COLUMNS, rows)  # the sentence stands above it in the report


def findings_frame(findings: list[Finding], batch: int | None = None) -> pd.DataFrame:
    """The parts of ``findings`` as a tidy table: one row per part, with the claim's verdict and p-values
    (the columns of the report's findings tables)."""
    rows = [{"finding": f.key, "source": f.source, "seed's words": f.claim, "part": s.label,
             "cells": _cells(s, batch), "metric": s.metric, "claimed": _claimed(s), "estimate": p.estimate,
             "lo": p.lo, "hi": p.hi, "n": p.n, "test": p.test, "p_for": p.p_for, "p_against": p.p_against,
             "claim_p_holm": f.p_for_holm, "claim_p_against_holm": f.p_against_holm, "verdict": f.verdict,
             "seeds_needed": f.seeds_needed}
            for f in findings for s, p in f.parts]
    return pd.DataFrame(rows)
