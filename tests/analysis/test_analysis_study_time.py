"""The report's "where this study's time went" tables, from the stored per-run columns and timings.json."""

import pandas as pd
import pytest

from analysis.study_time import route_table, study_table


@pytest.fixture
def results():
    return pd.DataFrame({
        "variant": ["vae", "vae", "wae", "probit"], "latent_dim": [2, 2, 2, 2],
        "engine": ["fused", "fused", "operators", "analytic"], "steps": [3000, 3000, 3000, 3000],
        "train_seconds": [0.5, 0.5, 3.0, 0.0], "eval_seconds": [0.05, 0.07, 0.06, 0.04]})


def _cells(table):
    return {row[0].text: row[1:] for row in table.rows}


def test_route_table_gives_training_throughput_per_route_and_skips_untrained_steps(results):
    table = route_table(results)
    assert table.columns[:3] == ["variant", "latent_dim", "engine"]
    rows = {(r[0].text, r[2].text): r for r in table.rows}
    vae = rows[("vae", "fused")]
    assert [c.key for c in vae[3:]] == pytest.approx([2, 6000, 1.0, 6000.0, 60.0])
    assert rows[("wae", "operators")][6].key == pytest.approx(1000.0)
    assert rows[("probit", "analytic")][4].key == 0  # a closed-form reference trains nothing


def test_study_table_reads_the_timings_and_falls_back_to_the_run_columns(results):
    timings = {"executor": "local", "wall_seconds": 10.0, "train_seconds": 4.0, "eval_seconds": 0.22,
               "store_seconds": 0.5, "runs": 4, "model_steps": 9000, "model_steps_per_s": 900.0,
               "train_share": 0.4}
    cells = _cells(study_table(results, timings))
    assert cells["model-steps/s, whole study"][0].key == 900.0
    assert cells["training share of wall time"][0].key == 0.4 and cells["wall time (s)"][0].key == 10.0
    assert cells["executor"][0].text == "local"
    fallback = _cells(study_table(results, None))
    assert fallback["model-steps/s while training"][0].key == pytest.approx(9000 / 4.0)
    assert "wall time (s)" not in fallback
