"""The explorer in a real browser (headless Chromium over the DevTools protocol; skipped without one):
moving a control changes the run shown, controls offer only what the study has, the canvases are
drawn, and the page fits a 1400 px window."""

import numpy as np
import pandas as pd
import pytest
from cdp import Browser, chromium

from analysis.document import Report
from analysis.explorer import explorer_data
from analysis.html import render_html

pytestmark = pytest.mark.skipif(chromium() is None, reason="no chromium on PATH")


def _study():
    rng = np.random.default_rng(0)
    rows, arrays = [], {}
    configs = [("vae", "constant", l2, beta, seed) for l2 in (0.0, 1e-3) for beta in (0.01, 0.1)
               for seed in (0, 1)] + [("ae", "constant", 0.0, 0.01, 0)]
    for i, (variant, schedule, l2, beta, seed) in enumerate(configs):
        x = rng.random((400, 2)).astype(np.float32)
        rid = f"{variant}-{l2}-{beta}-{seed}"
        arrays[rid] = {"x": x, "quadrant": (x[:, 0] >= 0.5) + 2 * (x[:, 1] >= 0.5),
                       "mu": (1 + i) * (x - 0.5), "recon": x, "generated": rng.random((400, 2))}
        rows.append({"run_id": rid, "status": "ok", "variant": variant, "schedule": schedule, "latent_dim": 2,
                     "l2": l2, "beta": beta, "seed": seed, "mse": 0.001 * (i + 1)})
    return pd.DataFrame(rows), arrays


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    results, arrays = _study()
    report = Report(title="explorer test", explorer=explorer_data(results, arrays.__getitem__, n_points=200))
    path = tmp_path_factory.mktemp("explorer") / "report.html"
    path.write_text(render_html(report))
    with Browser(1400, 900) as browser:
        browser.open(path)
        yield browser


def _shown(b):
    return b.evaluate("document.getElementById('explorer-run').getAttribute('data-run')")


def _options(b, key):
    return b.evaluate(f"Array.from(document.getElementById('ex-{key}').options).map(o => o.value)")


def _choose(b, key, value):
    b.evaluate(f"(function(){{var s=document.getElementById('ex-{key}'); s.value={value!r};"
               "s.dispatchEvent(new Event('change'));})()")


def test_moving_a_control_changes_the_run_shown(page):
    assert _shown(page) == "vae-0.0-0.01-0"  # the plain vae, smallest β, λ and seed first
    _choose(page, "l2", "0.001")
    assert _shown(page) == "vae-0.001-0.01-0"
    _choose(page, "seed", "1")
    assert _shown(page) == "vae-0.001-0.01-1"
    _choose(page, "beta", "0.1")  # later controls keep their values where the study has them
    assert _shown(page) == "vae-0.001-0.1-1"
    text = page.evaluate("document.getElementById('ex-metrics').textContent")
    assert "MSE" in text


def test_controls_offer_only_what_the_study_has(page):
    assert _options(page, "config") == ["vae", "ae"]
    _choose(page, "config", "ae")
    assert _options(page, "beta") == ["0.01"]
    assert _options(page, "l2") == ["0"] and _options(page, "seed") == ["0"]
    assert _shown(page) == "ae-0.0-0.01-0"
    _choose(page, "config", "vae")
    assert _options(page, "l2") == ["0", "0.001"] and _options(page, "seed") == ["0", "1"]


def test_canvases_are_drawn_in_the_quadrant_colours(page):
    count = ("(function(){var c=document.getElementById('ex-recon-canvas').getContext('2d');"
             "var d=c.getImageData(0,0,300,300).data,n=0;"
             "for(var i=0;i<d.length;i+=4){if(d[i]===0&&d[i+1]===114&&d[i+2]===178)n++;}return n;})()")
    assert page.evaluate(count) > 100  # #0072B2, the lower-left quadrant's colour


def test_page_fits_a_1400_px_window(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
