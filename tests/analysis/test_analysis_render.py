"""Rendering: the html is self-contained and escapes every string; tables sort; Markdown stays inert."""

import base64
import math
import re

import pandas as pd

from analysis.document import Cell, FigureEntry, Report, Table, table_from_frame, value_cell
from analysis.findings import Finding
from analysis.html import render_html, table_html
from analysis.markdown import render_markdown

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)> a|b & co'
PNG = b"\x89PNG\r\n\x1a\nnot really a png"


def _report(name=EVIL):
    table = Table(["variant", "coverage"], [[Cell(name, name), Cell("0.9", 0.9)], [Cell("vae", "vae"),
                                                                                 Cell("n/a", -math.inf)]],
                  caption=f"caption {name}")
    return Report(title=f"vaebench report: {name}", meta=[("study", name), ("description", name)],
                  findings=[Finding("k", f"claim {name}", "supported", f"sentence {name}", [], "fig1")],
                  figures=[FigureEntry("fig1", "fig1_x.png", f"title {name}", f"caption {name}", PNG, table)],
                  skipped=[("Fig. 7", f"why {name}")], tables=[table], diverged=table, notes=[name])


def test_html_escapes_every_grid_string():
    page = render_html(_report())
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # the only script is the page's own sorter; the only images are embedded PNGs
    assert page.count("<script>") == 1
    assert re.findall(r'<img [^>]*src="([^":]*):', page) == ["data"]


def test_html_is_self_contained():
    page = render_html(_report("plain"))
    assert "http://" not in page and "https://" not in page and "<link" not in page
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data) == PNG
    assert '<span class="verdict supported">supported</span>' in page
    assert 'href="#fig1"' in page and 'id="fig1"' in page


def test_table_cells_carry_sort_keys():
    html = table_html(table_from_frame(pd.DataFrame({"variant": ["vae", "ae"], "mse": [0.5, float("nan")],
                                                     "mse_lo": [0.4, float("nan")],
                                                     "mse_hi": [0.6, float("nan")]}), intervals=["mse"]))
    assert 'class="sortable"' in html
    assert '<td data-key="0.5">0.5 [0.4, 0.6]</td>' in html
    assert '<td data-key="-1e308">n/a</td>' in html  # NaN sorts first
    assert "<th>MSE (95% CI)</th>" in html


def test_value_cell():
    assert value_cell(3) == Cell("3", 3.0)
    assert value_cell(float("nan")).text == "n/a"
    assert value_cell("vae") == Cell("vae", "vae")
    assert value_cell(None).text == "n/a"


def test_markdown_is_inert_and_links_figures():
    md = render_markdown(_report())
    assert "<script>" not in md and "\\<script\\>" in md
    assert "](fig1_x.png)" in md
    assert "## Findings" in md and "**supported**" in md
    row = [line for line in md.splitlines() if line.startswith("| \\<script")][0]
    assert row.count(" | ") == 1  # one separator between two cells: no stray pipes from the content
