"""Render a :class:`analysis.document.Report` as Markdown (``report.md``), figures as relative PNG links.

Every string is escaped: "<" and ">" get a backslash (CommonMark's escape), so markup from a grid file,
e.g. in a study name, stays text where Markdown renders inline HTML; "&" becomes "&amp;" so nothing
reads as an entity; table cells also escape "|".
"""

from __future__ import annotations

from analysis.document import Report, Table, finding_layout


def esc(text: object) -> str:
    """``text`` as inert Markdown text: "&", "<", ">" escaped, newlines as spaces."""
    return str(text).replace("&", "&amp;").replace("<", "\\<").replace(">", "\\>").replace("\n", " ")


def _cell(text: str) -> str:
    return esc(text).replace("|", "\\|")


def table_md(table: Table) -> str:
    """A Markdown pipe table with its caption in italics above it."""
    lines = [f"*{esc(table.caption)}*", ""] if table.caption else []
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(_cell(c.text) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    """The report as one Markdown document."""
    out = [f"# {esc(report.title)}", ""]
    out += [f"- **{esc(k)}**: {esc(v)}" for k, v in report.meta] + [""]
    figure_no = {f.key: i + 1 for i, f in enumerate(report.figures)}
    out += ["## Findings", "",
            "Each claim of the seed report is tested against this study's numbers with cells, metric, "
            "threshold and test fixed in advance in a frozen protocol (the table below, "
            "analysis/protocols/); a claim is supported when every "
            "part holds (intersection–union), refuted when a part is shown to fail; both p-values of "
            "every claim are Holm-corrected together.", ""]
    if report.protocol is not None:
        out += [table_md(report.protocol), ""]
    for i, f in enumerate(report.findings, 1):
        see = f" (see Fig. {figure_no[f.figure]})" if f.figure in figure_no else ""
        title = getattr(f, "title", "") or f.claim
        out += [f"### {i}. {esc(title)} — **{esc(f.verdict)}**", "", esc(f.sentence) + esc(see), ""]
        if getattr(f, "table", None) is not None:
            table, words = finding_layout(f.table)
            out += [f"> The seed: {esc(w)}" for w in words] + ([""] if words else []) + [table_md(table)]
    if report.explorer is not None:
        out += ["## Explorer", "", f"Every run ({len(report.explorer['runs'])}) can be explored in "
                "report.html (open it in a browser; it needs no network): choose variant, latent size, β, λ "
                "and seed, and see the run's latent, reconstruction, generation and metrics.", ""]
    out += ["## Figures", ""]
    for i, fig in enumerate(report.figures, 1):
        out += [f"### Fig. {i}. {esc(fig.title)}", "", f"![{esc(fig.title)}]({fig.filename})", "",
                esc(fig.caption), ""]
        if fig.table is not None:
            out += [table_md(fig.table)]
    if report.skipped:
        out += ["### Figures not drawn", ""] + [f"- {esc(n)}: {esc(w)}" for n, w in report.skipped] + [""]
    out += ["## Tables", ""]
    for table in report.tables:
        out += [table_md(table)]
    out += ["## Diverged runs", ""]
    out += [table_md(report.diverged)] if report.diverged is not None else ["None: every run finished.", ""]
    if report.notes:
        out += ["## Methods", ""] + [f"- {esc(n)}" for n in report.notes] + [""]
    return "\n".join(out)
