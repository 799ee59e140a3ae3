"""Every claim of the frozen protocol can fail: for each, a synthetic results table in which it is true
(supported) and one in which it is false (refuted or not supported)."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.findings import CLAIMS, FINDING_COLUMNS, PROTOCOL, compute_findings, findings_frame
from analysis.stats import INCONCLUSIVE, REFUTED, SUPPORTED

CAL, SHORT, LONG = PROTOCOL.calibration, PROTOCOL.steps["short"], PROTOCOL.steps["long"]
B, B10, LC, LE, LG = CAL["beta"], CAL["beta_right"], CAL["lambda_c"], CAL["lambda_e"], CAL["lambda_g"]
SEEDS = PROTOCOL.confirmatory_seeds
N = len(SEEDS)


def share(p, n=N):
    """A per-seed 0/1 list with a share p of ones."""
    k = round(p * n)
    return [1.0] * k + [0.0] * (n - k)


def tilts(n=N):
    """−cos 4θ for tilts spread evenly over (−45°, 45°]: a square at a random tilt (mean 0)."""
    theta = np.linspace(-45, 45, n, endpoint=False) + 90 / n
    return list(-np.cos(np.radians(4 * theta)))


def true_cells():
    """(d, β, λ, schedule, steps) -> {metric: mean or per-seed list}: every claim holds."""
    c = {
        (2, B10, 0.0, "constant", SHORT): {"recon_edge_low": 0.02, "recon_edge_high": 0.02,
                                           "z_mardia_b2p": 7.5, "latent_bands": share(0.0),
                                           "recon_coverage": 0.45},
        (2, B10, LC, "constant", SHORT): {"latent_bands": share(0.5)},
        (2, B10, LE, "constant", SHORT): {"latent_bands": share(0.9), "z_mardia_b2p": 7.9,
                                          "recon_coverage": 0.3},
        (2, B, 0.0, "constant", SHORT): {"quadrant_knn_accuracy": 0.88, "mu_affine_r2": 0.999,
                                         "continuity": 0.95, "z_mardia_b2p": 6.8, "recon_coverage": 0.93},
        (2, B, LG, "constant", SHORT): {"recon_edge_low": 0.1, "active_units": [2.0] * N},
        (1, B, 0.0, "constant", SHORT): {"curve_turns": 2.5, "curve_fill": 0.6},
        (1, B, LC, "constant", SHORT): {"z_directions_kept": share(0.9)},
        (2, B, 0.0, "constant", LONG): {"mu_squareness": 0.36},
        (2, B, LE, "constant", LONG): {"mu_squareness": 0.43, "mu_diagonal_alignment": 0.9},
    }
    for s in ("linear", "sigmoid", "cyclical"):
        c[(2, B, 0.0, s, SHORT)] = {"recon_coverage": 0.932}
    return c


# each claim made false by one change: cell -> {metric: value}
FALSE = {
    "beta_edges": {(2, B10, 0.0, "constant", SHORT): {"recon_edge_low": 0.6}},
    "diamond": {(2, B, LE, "constant", LONG): {"mu_diagonal_alignment": tilts()}},  # random tilt
    "bands": {(2, B10, LE, "constant", SHORT): {"latent_bands": share(0.2)}},
    # everything collapsed: edges empty, but the latent is not 2-D (the guard refuses the support)
    "no_zero": {(2, B, LG, "constant", SHORT): {"recon_edge_low": 0.02, "active_units": [1.0] * N}},
    "snake": {(1, B, 0.0, "constant", SHORT): {"curve_turns": 1.0, "curve_fill": 0.3}},  # a U
    "schedules": {(2, B, 0.0, "linear", SHORT): {"recon_coverage": 0.98}},
    "quadrants": {(2, B, 0.0, "constant", SHORT): {"mu_affine_r2": 0.8}},  # a fold
    "continuity": {(2, B, 0.0, "constant", SHORT): {"continuity": 0.6}},
    "halfway": {(2, B, 0.0, "constant", SHORT): {"z_mardia_b2p": 5.7}},  # near the uniform square's 5.6
    "more_gaussian": {(2, B10, LE, "constant", SHORT): {"z_mardia_b2p": 7.5}},
    "breaks_down": {(2, B10, LE, "constant", SHORT): {"recon_coverage": 0.9}},
    "one_d_bands": {(1, B, LC, "constant", SHORT): {"z_directions_kept": [2.0] * N}},
}


def table(cells, seeds=SEEDS, noise=0.005, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for (d, beta, lam, sched, steps), means in cells.items():
        for i, s in enumerate(seeds):
            row = {"run_id": f"r{len(rows)}", "status": "ok", "variant": "vae", "latent_dim": d, "beta": beta,
                   "l2": lam, "schedule": sched, "steps": steps, "batch_size": 128, "seed": s}
            for metric, value in means.items():
                per_seed = isinstance(value, list)
                row[metric] = float(value[i % len(value)]) if per_seed else value + rng.normal(0, noise)
            rows.append(row)
    return pd.DataFrame(rows)


def world(false_for=None):
    cells = true_cells()
    for cell, change in FALSE.get(false_for, {}).items():
        cells[cell] = {**cells[cell], **change}
    return table(cells)


@pytest.fixture(scope="module")
def true_verdicts():
    return {f.key: f for f in compute_findings(world())}


def test_the_protocol_has_twelve_empirical_claims_on_at_least_16_seeds():
    empirical = [c for c in CLAIMS if c.source != "closed_form"]
    assert len(empirical) >= 12 and all(len(c.seeds) >= 16 for c in empirical)
    assert set(FALSE) == {c.key for c in empirical}


@pytest.mark.parametrize("key", sorted(FALSE))
def test_each_claim_is_supported_where_true(true_verdicts, key):
    f = true_verdicts[key]
    assert f.verdict == SUPPORTED, f.sentence
    claim = next(c for c in CLAIMS if c.key == key)
    assert all(p.n == len(claim.seeds) or s.mode == "trend" for s, p in f.parts)  # n as the protocol fixed it


@pytest.mark.parametrize("key", sorted(FALSE))
def test_each_claim_is_not_supported_where_false(key):
    found = {f.key: f for f in compute_findings(world(false_for=key))}
    assert found[key].verdict in (REFUTED, INCONCLUSIVE), found[key].sentence
    others = {k: f.verdict for k, f in found.items() if k not in (key, "anneal_to_one")}
    # one change breaks one claim (more_gaussian shares halfway's cell, but not its verdict)
    assert set(others.values()) == {SUPPORTED}, others


def test_collapse_cannot_support_no_values_near_zero():
    f = {f.key: f for f in compute_findings(world(false_for="no_zero"))}["no_zero"]
    edge, two_d = (p for _, p in f.parts)
    assert edge.n == 0 and two_d.estimate == 0.0 and f.verdict != SUPPORTED


def test_annealing_to_one_is_decided_by_the_closed_form_and_only_above_beta_c():
    f = {f.key: f for f in compute_findings(world())}["anneal_to_one"]
    assert f.verdict == SUPPORTED and "closed form" in f.sentence and f.source == "closed_form"
    claim = next(c for c in CLAIMS if c.key == "anneal_to_one")
    below = replace(claim, parts=tuple(replace(s, a={**s.a, "beta": 0.1}) for s in claim.parts))
    (g,) = compute_findings(world(), claims=(below,))
    assert g.verdict == INCONCLUSIVE and g.sentence.startswith("Not supported")


def test_pilot_and_looked_at_seeds_never_enter_a_test():
    # the same cells on seeds 0–15 and on pilot seeds, every claim false there: verdicts unchanged
    extra = []
    for change in FALSE.values():
        cells = {cell: {**true_cells()[cell], **change[cell]} for cell in change}
        extra.append(table(cells, seeds=[*PROTOCOL.looked_at, *PROTOCOL.pilot_seeds]))
    results = pd.concat([world(), *extra], ignore_index=True)
    results["run_id"] = [f"r{i}" for i in range(len(results))]
    verdicts = {f.key: f.verdict for f in compute_findings(results)}
    assert verdicts == {c.key: SUPPORTED for c in CLAIMS}


def test_a_noisy_claim_is_inconclusive_with_the_seeds_that_would_decide_it():
    cells = true_cells()
    rng = np.random.default_rng(1)
    cells[(2, B, 0.0, "constant", SHORT)]["continuity"] = list(0.93 + rng.normal(0, 0.2, N))
    f = {f.key: f for f in compute_findings(table(cells))}["continuity"]
    assert f.verdict == INCONCLUSIVE and f.seeds_needed is not None and f.seeds_needed > 16
    assert f"about {f.seeds_needed} seeds" in f.sentence


def test_tables_show_each_part_with_lambda_times_batch_and_the_source():
    found = compute_findings(world())
    f = next(f for f in found if f.key == "no_zero")
    assert f.table.columns == FINDING_COLUMNS and len(f.table.rows) == 2
    cells = f.table.rows[0][1].text
    assert f"λ·B = {LG * 128:g}" in cells and "only runs with two_d" in cells
    frame = findings_frame(found)
    assert len(frame) == sum(len(c.parts) for c in CLAIMS)
    assert set(frame.loc[frame["finding"] == "schedules", "source"]) == {"project"}
    assert all(0 <= p <= 1 for p in frame["claim_p_holm"].dropna()) and not math.isnan(frame["p_for"].iloc[0])
    s = next(f for f in found if f.key == "schedules")
    assert s.sentence.startswith("The project's own claim")


def test_missing_cells_or_columns_are_not_testable_and_diverged_runs_are_ignored():
    results = world().drop(columns=["latent_bands"])
    results = results[results["latent_dim"] == 2]
    found = {f.key: f for f in compute_findings(results)}
    for key in ("bands", "snake", "one_d_bands"):
        assert found[key].verdict == INCONCLUSIVE and "Not testable" in found[key].sentence
    broken = world()
    snake = broken["latent_dim"] == 1
    broken.loc[snake, "status"] = "diverged"
    assert {f.key: f for f in compute_findings(broken)}["snake"].verdict == INCONCLUSIVE
