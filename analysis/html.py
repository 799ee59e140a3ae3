"""Render a :class:`analysis.document.Report` as one self-contained HTML page (``report.html``).

The page needs nothing else: figures are PNGs embedded as base64 data URIs, the style sheet and a small
script (click a table header to sort by it, numerically where the cells carry numbers) are inline, and
nothing is fetched from a network. Every string that goes into the page, including those from the grid
file (study name, description, variant names), is escaped with ``html.escape``, so markup stays text.
"""

from __future__ import annotations

import base64
import html
import math

from analysis.document import Report, Table, finding_layout, split_wide
from analysis.explorer import explorer_html

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1340px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{font-size:1.1em}
img{max-width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0 1.5em;display:block;overflow-x:auto;
max-width:100%}
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:right;white-space:nowrap}
table.wrap td,table.wrap th{white-space:normal;max-width:22em}
details.quote{margin:.2em 0 .4em;color:#444}details.quote summary{cursor:pointer;font-style:italic}
blockquote{margin:.3em 1em;padding-left:.8em;border-left:3px solid #ccc}
#explorer .ex-controls{display:flex;flex-wrap:wrap;gap:.6em 1.2em;margin:.5em 0}
#explorer select{font-size:1em}#explorer .ex-run{font-family:monospace;font-size:.9em}
#explorer .ex-body{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
#explorer .ex-canvases{display:flex;flex-wrap:wrap;gap:.5em}#explorer figure{margin:0}
#explorer canvas{border:1px solid #ccc}#explorer figcaption{font-size:.8em;color:#444;max-width:300px}
#explorer table{display:table}#explorer th{cursor:default;text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none}th:hover{background:#e6e6e6}
td:first-child,th:first-child{text-align:left}caption{caption-side:top;text-align:left;font-style:italic;
padding:.3em 0}
.verdict{font-weight:600;padding:.1em .5em;border-radius:.3em;color:#fff}
.supported{background:#0072B2}.refuted,.not-supported{background:#D55E00}.inconclusive{background:#777}
.meta td{text-align:left}.caption{color:#444;font-size:.92em}
"""

SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th){
  th.addEventListener('click',function(){
    var table=th.closest('table'),body=table.tBodies[0];
    var i=Array.prototype.indexOf.call(th.parentNode.children,th);
    var asc=th.getAttribute('data-dir')!=='asc';
    table.querySelectorAll('th').forEach(function(h){h.removeAttribute('data-dir');});
    th.setAttribute('data-dir',asc?'asc':'desc');
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[i].getAttribute('data-key'),y=b.cells[i].getAttribute('data-key');
      var nx=parseFloat(x),ny=parseFloat(y),c;
      if(!isNaN(nx)&&!isNaN(ny)){c=nx-ny;}else{c=String(x).localeCompare(String(y));}
      return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});
  });
});
"""


def esc(text: object) -> str:
    """``text`` escaped for HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def _key(key: float | str) -> str:
    if isinstance(key, float):
        return "-1e308" if key == -math.inf else "1e308" if key == math.inf else repr(key)
    return esc(key)


def table_html(table: Table, wrap: bool = False) -> str:
    """A sortable HTML table; each cell carries its sort key in ``data-key``; ``wrap``: long cells wrap
    (tables of text)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f'<td data-key="{_key(c.key)}">{esc(c.text)}</td>' for c in row) + "</tr>"
                   for row in table.rows)
    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    kind = "sortable wrap" if wrap else "sortable"
    return f'<table class="{kind}">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _verdict(v: str) -> str:
    return f'<span class="verdict {esc(v.replace(" ", "-"))}">{esc(v)}</span>'


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document."""
    parts = [f"<h1>{esc(report.title)}</h1>", '<table class="meta">']
    parts += [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in report.meta]
    parts += ["</table>", "<h2>Findings</h2>",
              "<p>Each claim of the seed report is tested against this study's numbers with cells, metric, "
              "threshold and test fixed in advance in a frozen protocol (the table below, "
              "analysis/protocols/); a claim is supported when every "
              "part holds (intersection–union), refuted when a part is shown to fail; both p-values of "
              "every claim are Holm-corrected together.</p>"]
    if report.protocol is not None:
        parts.append(table_html(report.protocol, wrap=True))
    figure_no = {f.key: i + 1 for i, f in enumerate(report.figures)}
    for i, f in enumerate(report.findings, 1):
        see = (f' <a href="#{esc(f.figure)}">(see Fig. {figure_no[f.figure]})</a>'
               if f.figure in figure_no else "")
        title = getattr(f, "title", "") or f.claim
        parts += [f"<h3>{i}. {esc(title)} {_verdict(f.verdict)}</h3>", f"<p>{esc(f.sentence)}{see}</p>"]
        if getattr(f, "table", None) is not None:
            table, words = finding_layout(f.table)
            if words:
                quotes = "".join(f"<blockquote>{esc(w)}</blockquote>" for w in words)
                parts.append(f'<details class="quote"><summary>The seed\'s words</summary>{quotes}</details>')
            parts.append(table_html(table, wrap=True))
    if report.explorer is not None:
        parts += ['<h2 id="explore">Explorer: every run</h2>', explorer_html(report.explorer)]
    parts.append("<h2>Figures</h2>")
    for i, fig in enumerate(report.figures, 1):
        data = base64.b64encode(fig.png).decode("ascii")
        parts += [f'<h3 id="{esc(fig.key)}">Fig. {i}. {esc(fig.title)}</h3>',
                  f'<img alt="{esc(fig.title)}" src="data:image/png;base64,{data}">',
                  f'<p class="caption">{esc(fig.caption)}</p>']
        if fig.table is not None:
            parts.append(table_html(fig.table))
    if report.skipped:
        parts += ["<h3>Figures not drawn</h3>", "<ul>"]
        parts += [f"<li>{esc(n)}: {esc(w)}</li>" for n, w in report.skipped] + ["</ul>"]
    parts.append("<h2>Tables</h2>")
    parts += [table_html(part, wrap=True) for t in report.tables for part in split_wide(t)]
    parts.append("<h2>Diverged runs</h2>")
    parts.append(table_html(report.diverged) if report.diverged is not None else
                 "<p>None: every run finished.</p>")
    if report.notes:
        parts += ["<h2>Methods</h2>", "<ul>"] + [f"<li>{esc(n)}</li>" for n in report.notes] + ["</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(report.title)}</title><style>{STYLE}</style></head><body>\n" + "\n".join(parts) +
            f"\n<script>{SCRIPT}</script>\n</body></html>\n")
