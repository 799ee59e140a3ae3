"""Summary figures over many runs: metric heatmaps over (λ, β), the rate–distortion plane, training
curves and engine throughput.

Every function takes a tidy DataFrame prepared by the report (seed summaries from
:func:`analysis.tables.seed_summary`, histories, a benchmark table) and returns a matplotlib Figure; none
reads files. Seed spreads are Student-t 95% intervals (heatmaps, error bars) or ±1 sd bands (curves).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, NullLocator

from analysis.style import (
    MARKERS,
    REFERENCE_COLOR,
    SEQUENTIAL_CMAP,
    apply_theme,
    categorical_palette,
    fmt,
    fmt_short,
    greek,
)
from analysis.tables import label


def _need(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: columns {missing} missing (have {list(frame.columns)})")
    if frame.empty:
        raise ValueError(f"{name}: empty table; nothing to draw")


def _annotation(mean: float, half: float, n: int) -> str:
    if not np.isfinite(mean):
        return ""
    return f"{fmt_short(mean, 2)}\n" + (f"±{fmt_short(half, 1)}" if np.isfinite(half) else f"n = {n}")


def heatmap_figure(summary: pd.DataFrame, metrics: Sequence[str], *, row: str = "l2", col: str = "beta",
                   facet: str = "latent_dim", title: str = "") -> Figure:
    """Heatmaps of seed-averaged ``metrics`` over (``row``, ``col``): one column of panels per metric,
    one row per value of ``facet`` (largest first), each panel as tall as its number of ``row`` values.
    ``row`` and ``col`` are categories: evenly spaced, only the values the facet has. ``summary`` is tidy
    (:func:`analysis.tables.seed_summary`: the keys, ``metric``, ``mean``, ``lo``, ``hi``, ``n``); each
    cell shows the mean (2 significant digits) over ± the half-width of its 95% t-interval (1 digit;
    "n = 1" where only one seed has a value; blank where none has). A metric's panels share one colour
    scale (viridis) and one horizontal colour bar below them. Returns a Figure with len(metrics) ×
    n_facets heatmap axes plus one colour-bar axis per metric."""
    apply_theme()
    _need(summary, [row, col, facet, "metric", "mean", "lo", "hi"], "summary")
    metrics = [m for m in metrics if (summary["metric"] == m).any()]
    if not metrics:
        raise ValueError("metrics: none of them is in the summary")
    facets = sorted(summary[facet].unique(), reverse=True)
    heights = [summary.loc[summary[facet] == v, row].nunique() for v in facets]
    widths = max(summary.loc[summary[facet] == v, col].nunique() for v in facets)
    fig = Figure(figsize=(len(metrics) * (0.47 * widths + 0.55) + 0.3, 0.3 * sum(heights) + 1.2 * len(facets)
                          + 0.9), layout="constrained")
    axes = fig.subplots(len(facets), len(metrics), squeeze=False,
                        gridspec_kw={"height_ratios": [h + 2.5 for h in heights]})
    for j, metric in enumerate(metrics):
        part = summary[summary["metric"] == metric]
        finite = part["mean"][np.isfinite(part["mean"])]
        vmin, vmax = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
        for i, value in enumerate(facets):
            cell = part[part[facet] == value]
            means = cell.pivot_table(index=row, columns=col, values="mean", dropna=False)
            text = cell.assign(text=[_annotation(m, (h - lo) / 2, n) for m, lo, h, n in
                                     zip(cell["mean"], cell["lo"], cell["hi"], cell["n"], strict=True)])
            annot = text.pivot_table(index=row, columns=col, values="text", aggfunc="first").reindex(
                index=means.index, columns=means.columns).fillna("")
            ax = axes[i, j]
            last = i == len(facets) - 1
            sns.heatmap(means, ax=ax, cmap=SEQUENTIAL_CMAP, vmin=vmin, vmax=vmax, annot=annot.to_numpy(),
                        fmt="", annot_kws={"fontsize": 6}, cbar=last, linewidths=0.5, square=False,
                        cbar_kws={"orientation": "horizontal", "shrink": 0.8, "pad": 0.12} if last else None)
            ax.set(xlabel=greek(col), ylabel=greek(row) if j == 0 else "",
                   title=f"{label(metric)}, {greek(facet)} = {value}")
            ax.set_xticklabels([fmt(float(t.get_text())) for t in ax.get_xticklabels()], fontsize=6.5)
            ax.set_yticklabels([fmt(float(t.get_text())) for t in ax.get_yticklabels()], rotation=0,
                               fontsize=6.5)
    if title:
        fig.suptitle(title)
    return fig


def _rd_panel(ax, part: pd.DataFrame, hue: str, style: str, text: str, legend_hollow: tuple[str, str],
              floor: float) -> None:
    hues = list(dict.fromkeys(part.loc[~part["reference"], hue]))
    styles = list(dict.fromkeys(part.loc[~part["reference"], style]))
    colours = dict(zip(hues, categorical_palette(len(hues)), strict=True))
    markers = {st: MARKERS[i % len(MARKERS)] for i, st in enumerate(styles)}
    finite = part["kl"][np.isfinite(part["kl"])]
    strip = (finite.max() if len(finite) else 1.0) * 1.15 + 0.3  # the height of "KL = ∞"
    infinite = ~np.isfinite(part["kl"].to_numpy(dtype=float))
    for _, p in part.iterrows():
        ref, hollow = bool(p["reference"]), bool(p["hollow"])
        x, y = max(float(p["mse"]), floor), float(p["kl"]) if np.isfinite(p["kl"]) else strip
        marker = "*" if ref else markers[p[style]]
        colour = REFERENCE_COLOR if ref else colours[p[hue]]
        if not ref and "kl_min" in p and np.isfinite(p["kl_min"]) and np.isfinite(p["kl"]):
            ax.errorbar(x, y, xerr=[[x - max(p["mse_min"], floor)], [max(p["mse_max"], floor) - x]],
                        yerr=[[y - p["kl_min"]], [p["kl_max"] - y]], color=colour, lw=0.6, capsize=1.5,
                        zorder=2)
        ax.scatter([x], [y], marker=marker, s=150 if ref else 34, facecolor="none" if hollow else colour,
                   edgecolor=colour if hollow else "k", linewidths=1.2 if hollow else 0.4, zorder=3)
        if isinstance(p.get(text), str) and p[text]:  # above the point: clear of the axes and the strip
            ax.annotate(p[text], (x, y), xytext=(0, 9), textcoords="offset points", fontsize=6.5,
                        ha="left", va="bottom", color=REFERENCE_COLOR if ref else "0.2")
    top = strip * 1.12 if infinite.any() else strip
    if infinite.any():
        ax.axhspan(strip * 0.96, strip * 1.04, color="0.9", zorder=0)
        ax.axhline(strip, color="0.6", lw=0.6, ls="--", zorder=1)
        ax.text(0.99, strip * 0.95, "KL = ∞ (deterministic encoder)", transform=ax.get_yaxis_transform(),
                fontsize=6.5, va="top", ha="right", color="0.35")
    ax.set_xscale("log")
    xs = np.maximum(part["mse"].to_numpy(dtype=float), floor)
    if np.isfinite(xs).any():  # a margin either side: no marker or label sits on the frame
        ax.set_xlim(np.nanmin(xs) / 3, np.nanmax(xs) * 3)
    ax.set_ylim(bottom=-0.05 * strip, top=top)
    handles = [Line2D([], [], ls="", marker="o", color=colours[h], label=str(h)) for h in hues]
    if len(styles) > 1:  # one style says nothing: no legend entry without a distinction
        handles += [Line2D([], [], ls="", marker=markers[st], color="0.45", label=str(st)) for st in styles]
    if part["hollow"].any() and not part["hollow"].all():
        handles += [Line2D([], [], ls="", marker="o", mfc=c, mec="0.3", label=lab)
                    for c, lab in zip(("0.3", "white"), legend_hollow, strict=True)]
    if part["reference"].any():
        handles.append(Line2D([], [], ls="", marker="*", ms=9, color=REFERENCE_COLOR,
                              label="probit reference"))
    ax.legend(handles=handles, fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def rate_distortion_figure(points: pd.DataFrame, *, panel: str = "panel", hue: str = "hue",
                           style: str = "style", text: str = "text",
                           legend_hollow: tuple[str, str] = ("filled", "hollow"), title: str = "") -> Figure:
    """The rate–distortion plane: KL (nats, the rate) against MSE (the distortion, log scale), one panel
    per value of ``panel``. ``points`` has one row per configuration with ``mse`` and ``kl`` (seed means)
    and, when present, ``mse_min``, ``mse_max``, ``kl_min``, ``kl_max`` (the range over seeds, drawn as
    bars: with 2–3 seeds a t-interval is too wide to read here); colour by ``hue`` and marker by
    ``style`` (both per panel, with a legend); optional columns: ``hollow`` (bool: an open marker,
    labelled by ``legend_hollow`` = (filled, open) in the legend), ``text`` (an annotation) and
    ``reference`` (bool: a reference point, drawn as a large black star). Points whose KL is not
    finite (deterministic encoders: the rate is infinite) are drawn on a dashed strip at the top; MSE
    below 1e-6 is drawn at 1e-6. One axis per panel."""
    apply_theme()
    _need(points, [panel, hue, style, "mse", "kl"], "points")
    points = points.copy()
    for flag in ("reference", "hollow"):
        points[flag] = points[flag].fillna(False).astype(bool) if flag in points else False
    panels = list(dict.fromkeys(points[panel]))
    fig = Figure(figsize=(6.0 * len(panels), 4.3), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels, strict=True):
        _rd_panel(ax, points[points[panel] == name], hue, style, text, legend_hollow, floor=1e-6)
        ax.set(xlabel="distortion: MSE of decode(μ(x)) (log scale)",
               ylabel="rate: KL(q(z|x) ‖ N(0, I)) (nats)", title=str(name))
    if title:
        fig.suptitle(title)
    return fig


def training_curves_figure(history: pd.DataFrame, *, terms: Sequence[str] = ("recon", "kl"),
                           row: str = "panel", hue: str = "l2", style: str = "schedule",
                           title: str = "", max_points: int = 80) -> Figure:
    """Training curves: each loss term of ``terms`` (columns of ``history``) against ``step``, log scale,
    one column per term and one row per value of ``row``; colour by ``hue`` (colour-blind palette, in
    order of value), line style by ``style``; each line the geometric mean over the runs (seeds) with
    equal keys, with a ×/÷ one geometric sd band (the axes are logarithmic), at most ``max_points``
    logged steps per line. ``history`` is tidy: one row per (run, logged step). More than three rows are
    laid out two groups of ``terms`` panels side by side. Returns len(rows) × len(terms) axes."""
    apply_theme()
    _need(history, ["step", row, hue, style, *terms], "history")
    rows = list(dict.fromkeys(history[row]))
    hues, styles = sorted(history[hue].unique()), list(dict.fromkeys(history[style]))
    colours = dict(zip(hues, categorical_palette(len(hues)), strict=True))
    dashes = dict(zip(styles, ["-", "--", ":", "-."] * (len(styles) // 4 + 1), strict=False))
    steps = np.sort(history["step"].unique())
    if len(steps) > max_points:
        steps = steps[np.linspace(0, len(steps) - 1, max_points).round().astype(int)]
    data = history[history["step"].isin(steps)].copy()
    for term in terms:  # geometric statistics: the axes are logarithmic
        data[term] = np.log10(np.clip(data[term].to_numpy(dtype=float), 1e-12, None))
    stats_ = data.groupby([row, hue, style, "step"], sort=True)[list(terms)].agg(["mean", "std"])
    per_line = 2 if len(rows) > 3 else 1  # panel groups side by side: a long list of rows stays short
    n_lines = -(-len(rows) // per_line)
    fig = Figure(figsize=(3.1 * len(terms) * per_line + 1.5, 2.0 * n_lines + 0.5), layout="constrained")
    grid = fig.subplots(n_lines, len(terms) * per_line, squeeze=False)
    axes = np.array([[grid[i // per_line, (i % per_line) * len(terms) + j] for j in range(len(terms))]
                     for i in range(len(rows))])
    for extra in grid.ravel()[len(rows) * len(terms):] if len(rows) % per_line else []:
        extra.remove()
    for (r, h, st), part in stats_.groupby(level=[0, 1, 2], sort=False):
        i, x = rows.index(r), part.index.get_level_values("step")
        for j, term in enumerate(terms):
            mean, sd = part[(term, "mean")].to_numpy(), part[(term, "std")].fillna(0).to_numpy()
            ax = axes[i, j]
            ax.plot(x, 10 ** mean, color=colours[h], ls=dashes[st], lw=0.9)
            ax.fill_between(x, 10 ** (mean - sd), 10 ** (mean + sd), color=colours[h], alpha=0.15, lw=0)
    for i, r in enumerate(rows):
        for j, term in enumerate(terms):
            ax = axes[i, j]
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(numticks=6))
            ax.yaxis.set_minor_locator(NullLocator())  # minor ticks on long log ranges cost seconds
            ax.set(title=f"{r}: {term}", xlabel="step" if i >= len(rows) - per_line else "", ylabel=term)
    names = {h: f"{greek(hue)} = {fmt(h) if isinstance(h, float) else h}" for h in hues}
    handles = [Line2D([], [], color=colours[h], label=names[h]) for h in hues]
    handles += [Line2D([], [], color="0.3", ls=dashes[s], label=str(s)) for s in styles]
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def throughput_figure(bench: pd.DataFrame, *, value: str = "model_steps_per_s", by: str = "name",
                      title: str = "") -> Figure:
    """Horizontal bars of ``value`` (e.g. model-steps/s, from each benchmark's ``extra_info``) per
    benchmark ``by`` (log scale), for the rows where it is finite; each bar labelled with its value.
    ``bench`` is :func:`analysis.tables.benchmark_table`'s output. One axis."""
    apply_theme()
    _need(bench, [by, value], "bench")
    part = bench[np.isfinite(bench[value])].sort_values(value)
    if part.empty:
        raise ValueError(f"bench: no finite {value!r} values")
    fig = Figure(figsize=(7.5, 0.28 * len(part) + 1.3), layout="constrained")
    ax = fig.subplots()
    colours = categorical_palette(part["group"].nunique() if "group" in part else 1)
    groups = list(dict.fromkeys(part["group"])) if "group" in part else [""]
    col = [colours[groups.index(g)] for g in (part["group"] if "group" in part else [""] * len(part))]
    ax.barh(part[by].astype(str), part[value], color=col)
    for y, v in enumerate(part[value]):
        ax.text(v, y, f" {fmt(v)}", va="center", fontsize=6.5)
    ax.set_xscale("log")
    ax.set(xlabel=value.replace("_", " "), ylabel="")
    ax.tick_params(axis="y", labelsize=6.5)
    if title:
        ax.set_title(title)
    return fig
