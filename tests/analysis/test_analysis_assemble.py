"""Assembling a report from a synthetic study: diverged runs listed and never plotted, figures the study
cannot draw skipped with a reason, tables one row per configuration."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.assemble import assemble
from analysis.findings import CLAIMS
from analysis.tables import METRICS

N = 300
pytestmark = pytest.mark.slow  # each assemble draws six figures (about 5 s)


def _study(latent_dims=(2, 1)):
    rng = np.random.default_rng(0)
    rows = []
    for d in latent_dims:
        for lam in (0.0, 0.01):
            for beta in (0.01, 0.1):
                for seed in (0, 1):
                    rows.append({"run_id": f"r{len(rows)}", "status": "ok", "diverged_step": np.nan,
                                 "reason": "", "variant": "vae", "latent_dim": d, "l2": lam, "beta": beta,
                                 "schedule": "constant", "steps": 100, "seed": seed, "hidden": "[30, 30]",
                                 **{METRICS[r]: rng.random() for r in ("mse", "coverage", "boundary", "kl",
                                                                      "gauss_effect", "gen_coverage")}})
    bad = {**rows[0], "run_id": "diverged-run", "status": "diverged", "diverged_step": 17,
           "reason": "non-finite loss", "seed": 7, **{METRICS[r]: np.nan for r in ("mse", "coverage")}}
    return pd.DataFrame([*rows, bad])


class Loader:
    """Synthetic per-run arrays and histories; records which runs were loaded."""

    def __init__(self, results):
        self.dims = dict(zip(results["run_id"], results["latent_dim"], strict=True))
        self.loaded = set()

    def artifacts(self, rid):
        self.loaded.add(rid)
        rng = np.random.default_rng(len(rid))
        x = rng.random((N, 2))
        mu = stats.norm.ppf(x)[:, :self.dims[rid]]
        return {"x": x, "quadrant": (x[:, 0] >= 0.5) + 2 * (x[:, 1] >= 0.5), "mu": mu, "z": mu,
                "recon": x, "generated": rng.random((N, 2))}

    def history(self, rid):
        self.loaded.add(rid)
        steps = np.arange(0, 100, 5)
        return pd.DataFrame({"step": steps, "recon": 1 / (steps + 1), "kl": 0.1 + steps / 100, "l2": 0.0,
                             "beta": 0.01, "total": 1.0})


@pytest.fixture(scope="module")
def built():
    results = _study()
    loader = Loader(results)
    rep = assemble(results, artifacts=loader.artifacts, history=loader.history, title="t")
    return results, loader, rep


def test_diverged_runs_listed_never_loaded_or_plotted(built):
    _, loader, rep = built
    assert "diverged-run" not in loader.loaded
    texts = [[c.text for c in row] for row in rep.diverged.rows]
    assert texts and texts[0][0] == "diverged-run" and "non-finite loss" in texts[0]
    assert all("diverged-run" not in c.text for fig in rep.figures if fig.table for row in fig.table.rows
               for c in row)


def test_figures_drawn_and_skipped_with_reasons(built):
    _, _, rep = built
    assert [f.key for f in rep.figures] == ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6"]
    assert [name for name, _ in rep.skipped] == [
        "The other cells", "exact: rate and information", "exact: distance from the prior",
        "exact: log p(x) and its bounds", "Fig. 7 (throughput)"]
    reasons = [why for _, why in rep.skipped]
    assert "draw every fixed-β cell" in reasons[0] and "benchmark" in reasons[4]
    assert all("no run with exact-inference numbers" in why for why in reasons[1:4])  # not stored here
    assert all(f.png[:4] == b"\x89PNG" for f in rep.figures)


def test_configuration_table_and_findings(built):
    results, _, rep = built
    table = rep.tables[0]
    assert table.columns[:4] == ["d", "β", "λ", "n seeds"]
    assert len(table.rows) == 8 and all(row[3].text == "2" for row in table.rows)
    assert len(rep.findings) == len(CLAIMS)


def test_a_study_without_1d_runs_skips_fig2():
    results = _study(latent_dims=(2,))
    loader = Loader(results)
    rep = assemble(results, artifacts=loader.artifacts, history=loader.history, title="t")
    reasons = dict(rep.skipped)
    assert "no 1-D fixed-β vae runs" in reasons["Fig. 2 (1-D latent)"]
    snake = next(f for f in rep.findings if f.key == "snake")
    assert snake.verdict == "inconclusive" and "Not testable" in snake.sentence
