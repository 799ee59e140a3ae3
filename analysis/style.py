"""Colours, markers and number formats shared by every figure and table of the report.

Palettes are colour-blind safe: the four input quadrants take four Okabe–Ito colours (Okabe & Ito 2008,
"Color Universal Design"), the same in every figure; categorical series (variants, schedules) take
seaborn's "colorblind" palette; sequential maps use viridis. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import seaborn as sns  # noqa: E402

# Quadrant label (vaebench.data.quadrant) -> (name, colour). One colour per quadrant in every figure.
QUADRANTS: dict[int, tuple[str, str]] = {
    0: ("lower left", "#0072B2"),   # blue
    1: ("lower right", "#E69F00"),  # orange
    2: ("upper left", "#009E73"),   # bluish green
    3: ("upper right", "#CC79A7"),  # reddish purple
}
QUADRANT_COLORS = [QUADRANTS[q][1] for q in sorted(QUADRANTS)]
GENERATED_COLOR = "#555555"  # decoded prior samples: no input, so no quadrant
REFERENCE_COLOR = "black"  # the probit reference and other marked references
SEQUENTIAL_CMAP = "viridis"
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
POINT_SIZE = 1.5  # scatter marker area (points²) for clouds of ~5 000 points


def categorical_palette(n: int) -> list:
    """``n`` colour-blind-safe colours (seaborn "colorblind", repeated beyond 10)."""
    base = sns.color_palette("colorblind", 10)
    return [base[i % len(base)] for i in range(n)]


def apply_theme() -> None:
    """seaborn's ticks style with a readable font size; called before each figure is built."""
    sns.set_theme(style="ticks", context="paper", font_scale=1.0,
                  rc={"axes.titlesize": 8.5, "axes.labelsize": 8.5, "xtick.labelsize": 7.5,
                      "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "figure.titlesize": 10})


def fmt(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits; "n/a" for NaN, "∞"/"−∞" for infinities."""
    if value is None:
        return "n/a"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** -(digits + 1):
        return f"{value:.{max(digits - 1, 0)}e}"
    return f"{value:.{digits}g}"


def fmt_short(value: float, digits: int = 2) -> str:
    """``value`` in as few characters as ``digits`` significant digits allow: "0.93", "12", "1.3e-4"
    (scientific below 0.01 and from 10⁴, exponent without padding); "" for NaN."""
    value = float(value)
    if math.isnan(value):
        return ""
    if value == 0 or math.isinf(value):
        return fmt(value)
    if 0.01 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.{max(digits - 1, 0)}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def fmt_p(p: float, name: str = "p") -> str:
    """A p-value as an expression: "p = 0.032", "p < 1e-4" (below 1e-4), "p = n/a" for NaN."""
    if p is None or math.isnan(float(p)):
        return f"{name} = n/a"
    return f"{name} < 1e-4" if p < 1e-4 else f"{name} = {p:.2g}"


def greek(column: str) -> str:
    """Display name of a config column: beta -> β, l2 -> λ, latent_dim -> d; others unchanged."""
    return {"beta": "β", "l2": "λ", "latent_dim": "d"}.get(column, column)
