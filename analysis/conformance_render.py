"""The conformance report's figures' data, its tables and its rendering as Markdown and self-contained HTML
(``report.md``, ``report.html``, the figures as PNG and every table as CSV)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.conformance_figures import phase_diagram_figure, rd_conformance_figure
from analysis.conformance_table import NOTES, conformance_table, gaussian_gap_sentence
from analysis.document import Table, png_bytes, table_from_frame
from analysis.html import SCRIPT, STYLE, table_html
from analysis.html import esc as html_esc
from analysis.markdown import esc as md_esc
from analysis.markdown import table_md
from vaebench import closed_forms
from vaebench.defaults import RECON_VAR
from vaebench.files import atomic_write


def rd_curves(ba_curve: pd.DataFrame, recon_var: float = RECON_VAR) -> pd.DataFrame:
    """The figure's lines, long format (curve, distortion, rate), D the total over both coordinates."""
    xi2 = closed_forms.UNIFORM_VAR
    d1 = np.geomspace(ba_curve["distortion"].min(), xi2, 200)
    beta = np.geomspace(1e-4, closed_forms.linear_vae_critical_beta(recon_var), 200)
    parts = [
        (
            "exact R(D) (Blahut–Arimoto)",
            2 * np.append(ba_curve["distortion"], xi2),
            2 * np.append(ba_curve["rate"], 0.0),
        ),
        ("Shannon lower bound", 2 * d1, np.maximum(0.0, 2 * closed_forms.shannon_lower_bound(d1))),
        ("Gaussian upper bound = linear VAE, d = 2", 2 * d1, 2 * closed_forms.gaussian_upper_bound(d1)),
        ("linear VAE, d = 1", beta * recon_var + xi2, 0.5 * np.log(xi2 / (beta * recon_var))),
    ]
    return pd.concat(
        [pd.DataFrame({"curve": n, "distortion": d, "rate": r}) for n, d, r in parts], ignore_index=True
    )


def linear_lines(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The phase diagram's linear-VAE rows: the closed form, then the searched transition (d = 2, λ = 0)."""
    bc = closed_forms.linear_vae_critical_beta()
    rows = [
        {
            "label": f"linear VAE, closed form ξ²/σ² = {bc:.4g}",
            "beta_c": bc,
            "beta_c_lo": np.nan,
            "beta_c_hi": np.nan,
        }
    ]
    lt = tables["linear_transitions"]
    for r in lt[(lt["latent_dim"] == lt["latent_dim"].max()) & (lt["level"] == 1)].itertuples():
        rows.append(
            {
                "label": f"linear VAE, trained (d = {r.latent_dim}, 95% CI)",
                "beta_c": r.beta_c,
                "beta_c_lo": r.beta_c_lo,
                "beta_c_hi": r.beta_c_hi,
            }
        )
    return pd.DataFrame(rows)


def figures(t: dict[str, pd.DataFrame]) -> list[tuple[str, str, str, bytes]]:
    """(file name, title, caption, PNG) of the two figures."""
    rd = t["rate_distortion"]
    fig_rd = rd_conformance_figure(rd_curves(t["ba_curve"]), rd)
    fig_phase = phase_diagram_figure(t["phase"], linear_lines(t))
    return [
        (
            "fig1_rate_distortion.png",
            "Rate–distortion of the uniform square",
            "Exact R(D) of U[0, 1]² by Blahut–Arimoto between the Shannon lower bound and the Gaussian upper "
            "bound, which is also the linear VAE's curve for d = 2; every run's (D, E[KL]). "
            + gaussian_gap_sentence(rd),
            png_bytes(fig_rd),
        ),
        (
            "fig2_phase_diagram.png",
            "Phase diagram of posterior collapse",
            "Regions of (λ, β) with 2, 1 and 0 active latent directions of the ReLU VAE (seed architecture), "
            "boundaries with 95% intervals over seeds, beside the linear VAE's critical β (closed form and "
            "trained).",
            png_bytes(fig_phase),
        ),
    ]


def _tables(t: dict[str, pd.DataFrame]) -> list[Table]:
    return [
        table_from_frame(conformance_table(t), "Each closed form beside what vaebench measures"),
        table_from_frame(t["phase"], "Critical β of the ReLU VAE: fewer than `level` active directions"),
        table_from_frame(t["linear_transitions"], "Critical β of the linear VAE (closed form ξ²/σ² = 1/6)"),
        table_from_frame(t["probit"], "Gaussianity tests on the probit latent, exactly N(0, I)"),
    ]


def render(title: str, meta: list[tuple[str, str]], tables: list[Table], figs: list) -> tuple[str, str]:
    """(Markdown, self-contained HTML) of the report."""
    md = [f"# {md_esc(title)}", ""] + [f"- **{md_esc(k)}**: {md_esc(v)}" for k, v in meta] + [""]
    page = [f"<h1>{html_esc(title)}</h1>", '<table class="meta">']
    page += [f"<tr><th>{html_esc(k)}</th><td>{html_esc(v)}</td></tr>" for k, v in meta] + ["</table>"]
    md += ["## Checked against closed forms", "", table_md(tables[0]), "## Figures", ""]
    page += ["<h2>Checked against closed forms</h2>", table_html(tables[0]), "<h2>Figures</h2>"]
    for i, (name, fig_title, caption, png) in enumerate(figs, 1):
        md += [
            f"### Fig. {i}. {md_esc(fig_title)}",
            "",
            f"![{md_esc(fig_title)}]({name})",
            "",
            md_esc(caption),
            "",
        ]
        data = base64.b64encode(png).decode("ascii")
        page += [
            f"<h3>Fig. {i}. {html_esc(fig_title)}</h3>",
            f'<img alt="{html_esc(fig_title)}" src="data:image/png;base64,{data}">',
            f'<p class="caption">{html_esc(caption)}</p>',
        ]
    md += ["## Tables", ""] + [table_md(tb) for tb in tables[1:]]
    page += ["<h2>Tables</h2>"] + [table_html(tb) for tb in tables[1:]]
    md += ["## Methods", ""] + [f"- {md_esc(n)}" for n in NOTES] + [""]
    page += ["<h2>Methods</h2>", "<ul>"] + [f"<li>{html_esc(n)}</li>" for n in NOTES] + ["</ul>"]
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_esc(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(page)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
    return "\n".join(md), html


def write(out: Path, t: dict[str, pd.DataFrame], meta: list[tuple[str, str]]) -> list[Path]:
    """Write report.md, report.html, the figures and every table as CSV into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    figs = figures(t)
    md, html = render("vaebench: checked against closed forms", meta, _tables(t), figs)
    files = {name: png for name, _, _, png in figs}
    files.update({f"{name}.csv": frame.to_csv(index=False).encode() for name, frame in t.items()})
    files["conformance.csv"] = conformance_table(t).to_csv(index=False).encode()
    files["report.md"], files["report.html"] = md.encode(), html.encode()
    for name, data in files.items():
        atomic_write(out / name, data)
    return [out / n for n in files]


