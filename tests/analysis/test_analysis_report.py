"""`python -m analysis.report` end to end on the quick (smoke) grid, and its command-line errors."""

import json
import re

import pandas as pd
import pytest

from analysis import report
from analysis.findings import CLAIMS
from analysis.tables import METRICS

FIGURES = ["fig1_latent_2d.png", "fig2_latent_1d.png", "fig3_heatmaps.png", "fig4_rate_distortion.png",
           "fig5_generation.png", "fig6_training_curves.png", "fig7_throughput.png"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    bench = out / "bench.json"
    bench.write_text(json.dumps({"benchmarks": [
        {"name": "engine M=128", "group": "train", "stats": {"median": 0.1, "ops": 10.0},
         "extra_info": {"model_steps_per_s": 25000.0}},
        {"name": "obvious loop", "group": "train", "stats": {"median": 1.0, "ops": 1.0},
         "extra_info": {"model_steps_per_s": 800.0}}]}))
    status = report.main(["--quick", "--out", str(out), "--bench-json", str(bench)])
    return out, status


@pytest.mark.slow
def test_quick_report_files(quick):
    out, status = quick
    assert status == 0
    for name in ["report.md", "report.html", "results.parquet", "results.csv", *FIGURES]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "study" / "results").is_dir()  # the study lives in OUT/study
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_report_results_table(quick):
    out, _ = quick
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 32 and df["run_id"].is_unique  # the smoke grid: 32 runs, one row each
    expected = {"status", "seed", "beta", "l2", "latent_dim", METRICS["coverage"], METRICS["directions"]}
    assert expected <= set(df)
    csv = pd.read_csv(out / "results.csv")
    assert list(csv.columns) == list(df.columns) and len(csv) == 32


@pytest.mark.slow
def test_quick_report_tables_structure(quick):
    out, _ = quick
    md = (out / "report.md").read_text()
    for section in ["## Findings", "## Figures", "## Tables", "## Diverged runs"]:
        assert section in md
    verdicts = re.findall(r"^### \d+\. .* — \*\*(supported|refuted|inconclusive)\*\*$", md, re.M)
    assert len(verdicts) == len(CLAIMS)
    # the per-configuration table: varying config columns, n seeds, metric means with 95% intervals
    tables = md.split("## Tables")[1]
    header = next(line for line in tables.splitlines() if line.startswith("| d |"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[:6] == ["d", "β", "λ", "λ·B", "schedule", "n seeds"] and "coverage (95% CI)" in cols
    start = tables.splitlines().index(header)
    rows = [line for line in tables.splitlines()[start + 2:] if line.startswith("|")]
    rows = rows[:next((i for i, r in enumerate(rows) if not re.match(r"\| [12] \|", r)), len(rows))]
    assert len(rows) == 16  # 32 runs = 16 configurations × 2 seeds
    assert all(r.split("|")[6].strip() == "2" for r in rows)
    html = (out / "report.html").read_text()
    assert html.count('<table class="sortable') >= 8 and html.count("data:image/png;base64,") == 10
    for key in ("fig_exact_rate", "fig_exact_marginal_kl", "fig_exact_likelihood"):  # exact inference
        assert f'id="{key}"' in html
    # self-contained: no link to fetch (the figures' base64 may spell "http" by chance: left out)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    text = re.sub(r'"q":"[A-Za-z0-9+/=]*"', "", text)  # and the explorer's packed arrays
    assert "<script>" in html and "http" not in text
    # the explorer embeds every ok run of the study
    data = json.loads(html.split('id="explorer-data">', 1)[1].split("</script>", 1)[0])
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(r["id"] for r in data["runs"]) == sorted(df.loc[df["status"] == "ok", "run_id"])


@pytest.mark.slow
def test_from_reports_without_training(quick):
    out, _ = quick
    target = out / "again"
    before = sorted(p.name for p in (out / "study" / "results").iterdir())
    assert report.main(["--from", str(out / "study"), "--out", str(target), "--bench-json",
                        str(out / "bench.json")]) == 0
    assert (target / "report.html").is_file() and (target / "fig7_throughput.png").is_file()
    assert sorted(p.name for p in (out / "study" / "results").iterdir()) == before  # nothing trained
    assert pd.read_parquet(target / "results.parquet").equals(pd.read_parquet(out / "results.parquet"))


@pytest.mark.parametrize("argv, fragment", [
    (["--from", "/nonexistent/study"], "--from = '/nonexistent/study': no such directory"),
    (["--quick", "--grid", "x.toml"], "--quick runs the shipped smoke grid"),
    (["--from", "/tmp", "--device", "cpu"], "takes no --device"),
    (["--grid", "/nonexistent.toml"], "no such file"),
    (["--no-such-option"], "unrecognized arguments"),
    (["--n-eval", "many"], "invalid int value"),
])
def test_user_errors_one_line_exit_2(argv, fragment, capsys):
    assert report.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err
    assert "Traceback" not in err


def test_bad_grid_file_one_line(tmp_path, capsys):
    grid = tmp_path / "bad.toml"
    grid.write_text('[study]\nname = "bad"\n[grid]\nbeta = [-1.0]\n')
    assert report.main(["--grid", str(grid), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "beta" in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "report.html").exists()


def test_bad_bench_json_named_by_user(tmp_path, capsys):
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    assert report.main(["--from", str(tmp_path), "--bench-json", str(bad)]) == 2
    assert "--bench-json" in capsys.readouterr().err


def test_shipped_grids_are_found():
    assert report.shipped_grid("seed-figures.toml").is_file()
    assert report.shipped_grid("smoke.toml").is_file()
    with pytest.raises(ValueError, match="not found"):
        report.shipped_grid("nope.toml")
