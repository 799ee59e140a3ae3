"""The report's claims, tested against the study's numbers: computed sentences with a verdict.

Each finding states one claim of the seed report, picks the cells of the study that test it (seed
pairs of the vae with fixed β unless said otherwise, other config fields at their modal values), runs
paired comparisons (:mod:`analysis.stats`) and writes its sentence from the numbers. All comparisons of
one report are Holm-corrected together. A claim the study cannot test (no such runs) is inconclusive,
and its sentence says what is missing. Margins are the smallest effect the report counts as real, in the
metric's own units (:data:`MARGINS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analysis.stats import INCONCLUSIVE, Comparison, adjust, combine, compare
from analysis.style import fmt, fmt_p
from analysis.tables import col, label, lambda_beta_runs, modal_filter, split_status

# Smallest effects that count, in metric units: coverages are shares of points (0–1); the explained
# share of the worst-kept input direction is 0–1; the kurtosis ratio is 0.70 (uniform) to 1 (Gaussian).
MARGINS = {"coverage": 0.05, "explained_minor": 0.5, "kurtosis": 0.1}
ANNEALED = ("linear", "sigmoid", "cyclical")


@dataclass(frozen=True)
class Finding:
    """One tested claim: ``claim`` (the seed report's words), ``verdict``, the computed ``sentence``,
    its ``comparisons`` (with Holm-adjusted p-values), and the ``figure`` that shows it."""

    key: str
    claim: str
    verdict: str
    sentence: str
    comparisons: list[Comparison] = field(default_factory=list)
    figure: str = ""


@dataclass(frozen=True)
class Draft:
    """A finding before the report-wide correction: its comparisons, a computed lead-in ``context`` and,
    when the study cannot test the claim, ``missing`` (why)."""

    key: str
    claim: str
    figure: str
    context: str
    comparisons: list[Comparison] = field(default_factory=list)
    missing: str = ""


def paired(runs_a: pd.DataFrame, runs_b: pd.DataFrame, metric: str, **kwargs) -> Comparison:
    """:func:`analysis.stats.compare` of ``metric`` between two sets of runs, paired by seed."""
    a = runs_a.groupby("seed")[metric].mean() if metric in runs_a else pd.Series(dtype=float)
    b = runs_b.groupby("seed")[metric].mean() if metric in runs_b else pd.Series(dtype=float)
    seeds = a.index.intersection(b.index)
    return compare(a.loc[seeds].to_numpy(), b.loc[seeds].to_numpy(), metric=metric, **kwargs)


def _need(results: pd.DataFrame, roles: list[str]) -> str:
    absent = [col(r) for r in roles if col(r) not in results]
    return f"the results table has no column {', '.join(absent)}" if absent else ""


def beta_tenfold(results: pd.DataFrame) -> Draft:
    """Raising β tenfold (d = 2, smallest λ, fixed β) lowers the boundary coverage by >= the margin."""
    claim = "Raising β tenfold empties the reconstruction near 0 and 1."
    grid = lambda_beta_runs(results, latent_dim=2)
    missing = _need(results, ["boundary"])
    betas = sorted(grid["beta"].unique()) if not grid.empty else []
    pairs = [(b, c) for b in betas for c in betas if b > 0 and math.isclose(c, 10 * b, rel_tol=1e-6)]
    if missing or not pairs:
        why = missing or "no pair of β values a factor 10 apart in the 2-D fixed-β vae grid"
        return Draft("beta_tenfold", claim, "fig1", "", missing=why)
    lam = grid["l2"].min()
    at = grid[grid["l2"] == lam]
    comps = [paired(at[at["beta"] == lo], at[at["beta"] == hi], col("boundary"),
                    a_label=f"β = {fmt(lo)}", b_label=f"β = {fmt(hi)}", claim="greater",
                    margin=MARGINS["coverage"]) for lo, hi in pairs]
    context = (f"Boundary coverage (the share of the band within ε of the square's edges that the "
               f"reconstructions still reach), 2-D latent, λ = {fmt(lam)}, fixed β")
    return Draft("beta_tenfold", claim, "fig1", context, comps)


def lambda_shape_then_direction(results: pd.DataFrame) -> Draft:
    """Along λ (d = 2, smallest β): the first λ at which the latent keeps one input direction (seed
    median) loses the worst-kept direction's share by >= the margin; the largest λ before it changes the
    kurtosis ratio by >= the margin."""
    claim = "Large λ changes the latent's shape, and then the latent loses one input direction."
    grid = lambda_beta_runs(results, latent_dim=2)
    missing = _need(results, ["directions", "explained_minor", "kurtosis"])
    if missing or grid["l2"].nunique() < 2:
        why = missing or "fewer than two λ values in the 2-D fixed-β vae grid"
        return Draft("lambda_direction", claim, "fig1", "", missing=why)
    beta = grid["beta"].min()
    grid = grid[grid["beta"] == beta]
    kept = grid.groupby("l2")[col("directions")].median().sort_index()
    lam0 = kept.index[0]
    trail = ", ".join(f"λ = {fmt(k)}: {fmt(v)}" for k, v in kept.items())
    context = (f"Input directions a latent sample keeps (seed median), 2-D latent, fixed β = {fmt(beta)}: "
               f"{trail}")
    if kept.iloc[0] < 2:
        return Draft("lambda_direction", claim, "fig1", context,
                     missing="at the smallest λ the latent already keeps fewer than two input directions, "
                             "so there is nothing to lose (undertrained runs, or β too large)")
    one = kept[(kept.index > lam0) & (kept == 1)]
    if one.empty:
        if (kept >= 2).all():
            why = "no λ of the grid loses an input direction"
            comp = paired(grid[grid["l2"] == lam0], grid[grid["l2"] == kept.index[-1]],
                          col("explained_minor"), a_label=f"λ = {fmt(lam0)}",
                          b_label=f"λ = {fmt(kept.index[-1])}", claim="greater",
                          margin=MARGINS["explained_minor"])
            return Draft("lambda_direction", claim, "fig1", context + f"; {why}", [comp])
        return Draft("lambda_direction", claim, "fig1", context,
                     missing="no λ of the grid keeps exactly one direction (a finer λ grid may)")
    lam_loss = one.index[0]
    comps = [paired(grid[grid["l2"] == lam0], grid[grid["l2"] == lam_loss], col("explained_minor"),
                    a_label=f"λ = {fmt(lam0)}", b_label=f"λ = {fmt(lam_loss)}", claim="greater",
                    margin=MARGINS["explained_minor"])]
    before = kept[(kept.index > lam0) & (kept.index < lam_loss) & (kept >= 2)]
    shape_gap = "" if not before.empty else (
        f"the shape change (no λ between {fmt(lam0)} and {fmt(lam_loss)} keeps both directions)")
    if not before.empty:
        comps.insert(0, paired(grid[grid["l2"] == before.index[-1]], grid[grid["l2"] == lam0],
                               col("kurtosis"), a_label=f"λ = {fmt(before.index[-1])}",
                               b_label=f"λ = {fmt(lam0)}", claim="differs", margin=MARGINS["kurtosis"]))
    return Draft("lambda_direction", claim, "fig1", context, comps, missing=shape_gap)


def one_d_vs_two_d(results: pd.DataFrame) -> Draft:
    """A 2-D latent's reconstruction covers the square better than a 1-D one's, by >= the margin
    (smallest λ and β, fixed β, paired by seed)."""
    claim = "A 1-D latent covers the square worse than a 2-D one."
    two, one = lambda_beta_runs(results, 2), lambda_beta_runs(results, 1)
    missing = _need(results, ["coverage"])
    if missing or two.empty or one.empty:
        why = missing or f"the study has no {'2-D' if two.empty else '1-D'} fixed-β vae runs"
        return Draft("one_d", claim, "fig2", "", missing=why)
    lam, beta = two["l2"].min(), two["beta"].min()
    def cell(runs: pd.DataFrame) -> pd.DataFrame:
        return runs[(runs["l2"] == lam) & (runs["beta"] == beta)]

    comp = paired(cell(two), cell(one), col("coverage"), a_label="d = 2", b_label="d = 1", claim="greater",
                  margin=MARGINS["coverage"])
    context = (f"Coverage of the inputs by the reconstructions (Naeem et al. 2020), λ = {fmt(lam)}, "
               f"fixed β = {fmt(beta)}")
    return Draft("one_d", claim, "fig2", context, [comp])


def annealed_vs_fixed(results: pd.DataFrame) -> Draft:
    """An annealed β (each annealed schedule in the study) does not improve the reconstruction's coverage
    over fixed β by the margin (d = 2, smallest λ and β; non-superiority)."""
    claim = "Annealing β does not improve on a fixed β (the seed report's early experiments)."
    ok, _ = split_status(results)
    missing = _need(results, ["coverage"])
    base = lambda_beta_runs(results, 2)
    if missing or base.empty:
        return Draft("annealed", claim, "fig4", "", missing=missing or "no 2-D fixed-β vae runs")
    lam, beta = base["l2"].min(), base["beta"].min()
    cell = modal_filter(ok, {"variant": "vae", "latent_dim": 2, "l2": lam, "beta": beta},
                        free=["schedule", "warmup", "cycles", "cycle_ratio"])
    fixed = cell[cell["schedule"] == "constant"]
    comps = [paired(cell[cell["schedule"] == s], fixed, col("coverage"), a_label=f"{s} β",
                    b_label="fixed β", claim="not_greater", margin=MARGINS["coverage"])
             for s in ANNEALED if (cell["schedule"] == s).any()]
    if not comps:
        return Draft("annealed", claim, "fig4", "", missing="no annealed-β vae runs at the fixed runs' λ, β")
    context = (f"Coverage of the inputs by the reconstructions, 2-D latent, λ = {fmt(lam)}, final "
               f"β = {fmt(beta)}, each annealed schedule against fixed β")
    return Draft("annealed", claim, "fig4", context, comps)


# The findings of a report, in order. Add one by appending a function results -> Draft.
FINDINGS: list[Callable[[pd.DataFrame], Draft]] = [
    beta_tenfold, lambda_shape_then_direction, one_d_vs_two_d, annealed_vs_fixed]

_TESTS = {"greater": "one-sided paired t-test", "differs": "two-sided paired t-test",
          "not_greater": "one-sided paired t-test against the margin (non-superiority)"}
_CLAIMED = {"greater": "{a} above {b} by at least {m}", "differs": "a change of at least {m}",
            "not_greater": "{a} not above {b} by {m} or more"}


def describe(c: Comparison) -> str:
    """One computed sentence for a comparison: both seed means, the paired difference with its interval
    and n, the test, raw and Holm-adjusted p, and the verdict."""
    d = c.diff
    ci = f"95% CI [{fmt(d.lo)}, {fmt(d.hi)}]" if d.n >= 2 else "no interval"
    claimed = _CLAIMED[c.claim].format(a=c.a_label, b=c.b_label, m=fmt(c.margin))
    return (f"{label(c.metric)} {fmt(c.a_mean)} at {c.a_label} against {fmt(c.b_mean)} at {c.b_label}: "
            f"paired difference {fmt(d.mean)} ({ci}, n = {d.n} seed pairs; claimed: {claimed}); "
            f"{_TESTS[c.claim]} t = {fmt(c.t)}, {fmt_p(c.pvalue)}, {fmt_p(c.p_holm, 'Holm-adjusted p')} "
            f"→ {c.verdict}.")


def compute_findings(results: pd.DataFrame, alpha: float = 0.05) -> list[Finding]:
    """Every finding of :data:`FINDINGS` on the results table (one row per run; diverged runs ignored),
    with all comparisons Holm-corrected together at family-wise level ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: must be a number in (0, 1)")
    drafts = [make(results) for make in FINDINGS]
    flat = adjust([c for d in drafts for c in d.comparisons], alpha)
    out, i = [], 0
    for d in drafts:
        comps, i = flat[i:i + len(d.comparisons)], i + len(d.comparisons)
        if d.missing and not comps:
            lead = d.context + ". " if d.context else ""
            sentence = f"{lead}Not testable on this study: {d.missing}."
            out.append(Finding(d.key, d.claim, INCONCLUSIVE, sentence, [], d.figure))
            continue
        verdicts = [c.verdict for c in comps] + ([INCONCLUSIVE] if d.missing else [])
        parts = [describe(c) for c in comps] + ([f"Not tested: {d.missing}."] if d.missing else [])
        sentence = (d.context + ". " if d.context else "") + " ".join(parts)
        out.append(Finding(d.key, d.claim, combine(verdicts), sentence, comps, d.figure))
    return out


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """The comparisons of ``findings`` as a tidy table (one row per comparison)."""
    rows = [{"finding": f.key, "verdict": f.verdict, "metric": c.metric, "a": c.a_label, "b": c.b_label,
             "claim": c.claim, "margin": c.margin, "a_mean": c.a_mean, "b_mean": c.b_mean,
             "diff": c.diff.mean, "lo": c.diff.lo, "hi": c.diff.hi, "n": c.diff.n, "t": c.t,
             "p": c.pvalue, "p_holm": c.p_holm, "comparison_verdict": c.verdict}
            for f in findings for c in f.comparisons]
    return pd.DataFrame(rows)
