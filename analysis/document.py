"""The report as data: sections of text, tables (cells with a display text and a sort key) and figures
(PNG bytes with a caption and the numbers beside them). Rendered to Markdown by
:mod:`analysis.markdown` and to self-contained HTML by :mod:`analysis.html`; both escape every string.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from analysis.style import fmt
from analysis.tables import label


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` as shown, ``key`` for sorting (a number, or the text itself)."""

    text: str
    key: float | str


@dataclass(frozen=True)
class Table:
    """A table: ``columns`` (header texts) and ``rows`` of :class:`Cell`; ``caption`` says what it is."""

    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass(frozen=True)
class FigureEntry:
    """A figure of the report: ``key`` (e.g. "fig1"), ``filename`` of its PNG, ``caption``, the PNG
    ``png`` bytes and a ``table`` of its numbers (or None)."""

    key: str
    filename: str
    title: str
    caption: str
    png: bytes
    table: Table | None = None


@dataclass
class Report:
    """Everything the report shows. ``meta``: (label, value) pairs about the study; ``findings``: list of
    :class:`analysis.findings.Finding`; ``figures``; ``skipped``: (figure, why) for figures not drawn;
    ``tables``: further tables (the per-configuration table first); ``diverged``: the diverged runs;
    ``notes``: method notes; ``results``: the results table the report was computed from; ``explorer``: the
    embedded data of the HTML page's explorer (:func:`analysis.explorer.explorer_data`) or None."""

    title: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    findings: list = field(default_factory=list)
    figures: list[FigureEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    diverged: Table | None = None
    notes: list[str] = field(default_factory=list)
    results: pd.DataFrame | None = None  # the results table with the derived columns
    explorer: dict | None = None  # analysis.explorer.explorer_data: every run, for the HTML page
    protocol: Table | None = None  # the findings' protocol (analysis.protocol.protocol_header)


QUOTE_COLUMN = "seed's words"  # moved out of a finding's table into a caption
LEADING_COLUMNS = ["verdict", "estimate (95% CI)"]  # what a reader looks for first


def finding_layout(table: Table) -> tuple[Table, list[str]]:
    """A finding's table as the report shows it: the verdict and the estimate first, the seed's words
    taken out (returned apart, each once, for a caption) so that the table fits a page."""
    cols = table.columns
    keep = [c for c in LEADING_COLUMNS if c in cols] + [c for c in cols
                                                        if c not in LEADING_COLUMNS and c != QUOTE_COLUMN]
    index = [cols.index(c) for c in keep]
    words = []
    if QUOTE_COLUMN in cols:
        q = cols.index(QUOTE_COLUMN)
        words = list(dict.fromkeys(r[q].text for r in table.rows if r[q].text))
    return Table(keep, [[r[i] for i in index] for r in table.rows], table.caption), words


MAX_COLUMNS = 12  # wider tables are shown in parts that fit a 1400 px window


def split_wide(table: Table, max_columns: int = MAX_COLUMNS) -> list[Table]:
    """``table`` as parts of at most ``max_columns`` columns, each repeating its key columns (those before
    the first "(95% CI)" column, else the first two), with the seed's words left out (each finding shows
    them); a table that fits is returned whole."""
    cols = [c for c in table.columns if c != QUOTE_COLUMN]
    if len(cols) < len(table.columns):
        table = Table(cols, [[r[table.columns.index(c)] for c in cols] for r in table.rows], table.caption)
    if len(cols) <= max_columns:
        return [table]
    first = next((i for i, c in enumerate(cols) if "95% CI" in c), 2)
    keys = list(range(min(first, max_columns // 2)))
    rest = [i for i in range(len(cols)) if i not in keys]
    step = max_columns - len(keys)
    parts = []
    for k in range(0, len(rest), step):
        index = keys + rest[k:k + step]
        caption = table.caption + (f" (part {k // step + 1} of {-(-len(rest) // step)})" if table.caption
                                   else "")
        parts.append(Table([cols[i] for i in index], [[r[i] for i in index] for r in table.rows], caption))
    return parts


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (Agg, white background)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def value_cell(value) -> Cell:
    """A cell for one plain value: numbers formatted by :func:`analysis.style.fmt` and sorted by value
    (NaN shown as "n/a" and sorted first); anything else shown and sorted as text."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # NumPy scalars
    if isinstance(value, bool) or value is None:
        return Cell("n/a" if value is None else str(value), str(value))
    if isinstance(value, int | float):
        v = float(value)
        return Cell(fmt(v), -math.inf if math.isnan(v) else v)
    return Cell(str(value), str(value))


def interval_cell(mean: float, lo: float, hi: float) -> Cell:
    """"mean [lo, hi]" (or just the mean when there is no interval), sorted by the mean."""
    base = value_cell(mean)
    if math.isnan(float(lo)) or math.isnan(float(hi)):
        return base
    return Cell(f"{base.text} [{fmt(lo)}, {fmt(hi)}]", base.key)


def table_from_frame(frame: pd.DataFrame, caption: str = "", intervals: Sequence[str] = ()) -> Table:
    """A :class:`Table` from a DataFrame. For each name in ``intervals`` the columns ``name``,
    ``name_lo`` and ``name_hi`` become one cell "mean [lo, hi]"; other columns are shown as they are.
    Headers are the columns' human labels (:func:`analysis.tables.label`)."""
    hidden = {f"{m}_{s}" for m in intervals for s in ("lo", "hi")}
    columns = [c for c in frame.columns if c not in hidden]
    rows = []
    for _, r in frame.iterrows():
        rows.append([interval_cell(r[c], r[f"{c}_lo"], r[f"{c}_hi"]) if c in intervals else value_cell(r[c])
                     for c in columns])
    headers = [f"{label(c)} (95% CI)" if c in intervals else label(c) for c in columns]
    return Table(headers, rows, caption)
