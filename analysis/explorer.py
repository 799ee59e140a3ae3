"""An explorer of every run of the study inside report.html: plain JavaScript over data embedded in the
page, drawn on canvases; no network, no Python dependency beyond the report's own.

:func:`explorer_data` packs each ok run's configuration, a few metrics (already formatted) and, per
array, ``n_points`` points subsampled without replacement (seeded, the same rows for μ, the
reconstruction and the quadrant so colours match; generation its own rows), quantised to uint16 between
the array's own minimum and maximum (error ≤ (max − min)/131 070 per coordinate) and base64-encoded.
:func:`explorer_html` renders the controls (variant and schedule, latent size, β, λ, seed; each offers
only the values the study has with the controls before it), three canvases (latent coloured by input
quadrant, reconstruction, generation) and the run's metrics. The drawing code is ``explorer.js`` beside
this module (package data).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.style import QUADRANT_COLORS, fmt
from analysis.tables import label, split_status

N_POINTS = 500
METRIC_COLUMNS = ["mse", "recon_coverage", "recon_boundary_coverage", "gen_coverage", "exact_marginal_kl",
                  "z_energy_distance", "kl_total", "active_units", "z_directions_kept", "mu_squareness",
                  "quadrant_knn_accuracy"]
SCRIPT = Path(__file__).with_name("explorer.js")


def quantise(values: np.ndarray) -> dict:
    """``values`` [n, k] as {"lo": [k], "hi": [k], "k": k, "q": base64 of uint16 little-endian, row-major}:
    each column mapped linearly from [lo, hi] to 0..65535 and rounded; non-finite values become lo."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    finite = np.where(np.isfinite(v), v, np.nan)
    lo = np.nan_to_num(np.nanmin(finite, axis=0), nan=0.0) if len(v) else np.zeros(v.shape[1])
    hi = np.nan_to_num(np.nanmax(finite, axis=0), nan=0.0) if len(v) else np.zeros(v.shape[1])
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((np.nan_to_num(finite - lo, nan=0.0)) / span * 65535).clip(0, 65535).astype("<u2")
    return {"lo": lo.tolist(), "hi": hi.tolist(), "k": int(v.shape[1]),
            "q": base64.b64encode(q.tobytes()).decode("ascii")}


def dequantise(packed: Mapping) -> np.ndarray:
    """The inverse of :func:`quantise` (what the page's script computes): [n, k] float64."""
    q = np.frombuffer(base64.b64decode(packed["q"]), dtype="<u2").astype(np.float64)
    q = q.reshape(-1, packed["k"])
    lo, hi = np.asarray(packed["lo"]), np.asarray(packed["hi"])
    return lo + q / 65535 * np.where(hi > lo, hi - lo, 0.0)


def _config_name(row: pd.Series) -> str:
    variant = str(row.get("variant", "vae"))
    schedule = row.get("schedule")
    return variant if not isinstance(schedule, str) or schedule == "constant" else f"{variant}, {schedule} β"


def _number(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def explorer_data(results: pd.DataFrame, artifacts: Callable[[str], Mapping[str, np.ndarray]],
                  n_points: int = N_POINTS, seed: int = 0) -> dict:
    """The explorer's data: {"runs": [...], "n_points": n_points, "colours": quadrant colours}. Each run:
    its ``id``, ``config`` (variant and schedule), ``d``, ``beta``, ``l2``, ``seed``, ``metrics`` as
    [label, formatted value] pairs, and the packed arrays ``mu``, ``recon``, ``generated`` (see
    :func:`quantise`) and ``quadrant`` (a string of digits). Only ok runs; ``artifacts`` loads a run's
    arrays (the study's store)."""
    if n_points < 1:
        raise ValueError(f"n_points = {n_points}: must be at least 1")
    ok, _ = split_status(results)
    runs = []
    order = ok.assign(_first=ok.apply(_config_name, axis=1).ne("vae"))  # the plain vae first
    for _, row in order.sort_values(["_first"] + [c for c in ("variant", "schedule", "latent_dim", "beta",
                                                              "l2", "seed") if c in ok]).iterrows():
        a = artifacts(row["run_id"])
        rng = np.random.default_rng([seed, len(runs)])
        n = len(a["mu"])
        rows = np.sort(rng.choice(n, size=min(n_points, n), replace=False))
        gen_rows = np.sort(rng.choice(len(a["generated"]), size=min(n_points, len(a["generated"])),
                                      replace=False))
        metrics = [[label(c), fmt(row[c])] for c in METRIC_COLUMNS
                   if c in row and _number(row[c]) is not None]
        runs.append({"id": str(row["run_id"]), "config": _config_name(row), "d": int(row["latent_dim"]),
                     "beta": _number(row.get("beta")), "l2": _number(row.get("l2")), "seed": int(row["seed"]),
                     "metrics": metrics, "mu": quantise(np.asarray(a["mu"])[rows]),
                     "recon": quantise(np.asarray(a["recon"])[rows]),
                     "generated": quantise(np.asarray(a["generated"])[gen_rows]),
                     "quadrant": "".join(str(int(q)) for q in np.asarray(a["quadrant"])[rows])})
    return {"runs": runs, "n_points": n_points, "colours": QUADRANT_COLORS}


def explorer_html(data: dict) -> str:
    """The explorer's section of report.html: controls, canvases, the metrics table, the data as JSON
    (with "</" escaped so no string closes the script element) and the script."""
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    n = data["n_points"]
    controls = "".join(f'<label>{html.escape(text)} <select id="ex-{key}" data-key="{key}"></select></label>'
                       for key, text in (("config", "variant"), ("d", "latent size d"), ("beta", "β"),
                                         ("l2", "λ"), ("seed", "seed")))
    canvases = "".join(f'<figure><canvas id="ex-{key}-canvas" width="300" height="300"></canvas>'
                       f'<figcaption id="ex-{key}-caption">{html.escape(text)}</figcaption></figure>'
                       for key, text in (("latent", "latent μ(x), coloured by input quadrant"),
                                         ("recon", "reconstruction decode(z), z ~ q(z|x)"),
                                         ("generated", "generation decode(z'), z' ~ N(0, I)")))
    return (f'<section id="explorer"><p>Every run of the study ({len(data["runs"])} runs). Each control '
            "offers only the values the study has given the controls before it. Embedded per run: "
            f"{n} points per array (subsampled without replacement, seeded), each coordinate quantised to "
            "16 bits between the array's minimum and maximum.</p>"
            f'<div class="ex-controls">{controls}</div>'
            '<p id="explorer-run" class="ex-run"></p>'
            f'<div class="ex-body"><div class="ex-canvases">{canvases}</div>'
            '<table class="ex-metrics"><tbody id="ex-metrics"></tbody></table></div>'
            f'<script type="application/json" id="explorer-data">{blob}</script>'
            f"<script>{SCRIPT.read_text()}</script></section>")
