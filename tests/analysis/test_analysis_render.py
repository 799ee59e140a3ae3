"""Rendering: the html is self-contained and escapes every string; tables sort; Markdown stays inert."""

import base64
import math
import re

import pandas as pd

from analysis.document import Cell, FigureEntry, Report, Table, split_wide, table_from_frame, value_cell
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


FINDING_COLUMNS = ["seed's words", "cells", "metric", "estimate (95% CI)", "n", "verdict"]


def _finding(words=EVIL):
    rows = [[Cell(words, ""), Cell("d = 2", ""), Cell("mse", "mse"), Cell("0.5 [0.4, 0.6]", 0.5),
             Cell("16", 16), Cell("supported", "supported")],
            [Cell("", ""), Cell("d = 1", ""), Cell("mse", "mse"), Cell("0.7 [0.6, 0.8]", 0.7),
             Cell("16", 16), Cell("", "")]]
    return Finding("k", "claim", "supported", "sentence", [], "fig1", table=Table(FINDING_COLUMNS, rows))


def test_findings_lead_with_verdict_and_estimate_and_fold_the_seeds_words():
    report = _report("plain")
    report.findings = [_finding()]
    page = render_html(report)
    table = page.split('<details class="quote">', 1)[1]
    quote, rest = table.split("</details>", 1)
    assert "&lt;script&gt;alert" in quote and "<script>alert" not in quote  # the words, escaped, folded
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", rest).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == ["verdict", "estimate (95% CI)", "cells", "metric", "n"]
    first_row = re.search(r"<tbody><tr>(.*?)</tr>", rest).group(1)
    assert re.findall(r">([^<]*)</td>", first_row)[:2] == ["supported", "0.5 [0.4, 0.6]"]
    md = render_markdown(report)
    assert "> The seed: \\<script\\>" in md
    assert "| verdict | estimate (95% CI) | cells | metric | n |" in md


def test_wide_tables_are_shown_in_parts_that_repeat_their_keys():
    columns = ["d", "β", "n seeds"] + [f"m{i} (95% CI)" for i in range(20)]
    wide = Table(columns, [[Cell(str(i * 100 + j), i) for j in range(len(columns))] for i in range(3)],
                 "wide")
    parts = split_wide(wide, max_columns=12)
    assert [len(p.columns) for p in parts] == [12, 12, 5]  # 3 keys + 9, 9 and 2 of the 20 others
    assert all(p.columns[:3] == ["d", "β", "n seeds"] for p in parts)
    shown = [c for p in parts for c in p.columns[3:]]
    assert shown == columns[3:]  # every column once, in order
    assert parts[1].rows[2][3].text == "212" and parts[1].caption == "wide (part 2 of 3)"
    assert split_wide(Table(columns[:5], [], ""))[0].columns == columns[:5]
    report = _report("plain")
    report.tables = [wide]
    assert render_html(report).count("<caption>wide (part") == 3
