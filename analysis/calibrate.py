"""What the pilot found: the seed's panels located by phenomena, the training length, the schedules'
headroom, and the seeds per confirmatory cell for 80 % power. Reads a pilot study (grids/pilot.toml,
pilot seeds only) and prints the values protocol v2 records in its [calibration] table and its
``seeds`` per claim; it decides nothing.

    python -m analysis.calibrate /tmp/pilot

- panel g: the largest λ of the pilot's ladder at which at least :data:`TWO_D_SHARE` of the pilot seeds
  still have two active units at the left column's β; panels e and c: the ladder λ nearest λ_g/2 and
  λ_g/4 on a log scale (the seed's rows read as a halving ladder ending at g);
- training length: converged when at least 3/4 of the λ = 0 runs at the long length have their square
  within :data:`ALIGNED_DEG` of the latent axes (λ = 0 aligns, FACTS);
- the schedules' margin: :data:`HEADROOM_SHARE` of the headroom 1 − coverage at fixed β;
- seeds per claim: every part's pilot effect and spread, the seeds its test needs for 80 % power in the
  direction the pilot points (for or against; TOST with both sides) at the worst-case Holm level
  α/(2m), m the number of empirical claims; combined as the verdict combines parts (supported: every
  part, the largest n; refuted: one part, the smallest n), within [min_seeds, max_seeds].
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import pandas as pd

from analysis.findings import PROTOCOL, compute_findings
from analysis.protocol import Protocol
from analysis.stats import seeds_needed
from analysis.tables import split_status

TWO_D_SHARE = 0.75
ALIGNED_DEG = 10.0
HEADROOM_SHARE = 0.25


def _nearest_log(ladder: list[float], target: float) -> float:
    positive = [x for x in ladder if x > 0]
    return min(positive, key=lambda x: abs(math.log(x / target)))


def locate_panels(ok: pd.DataFrame, beta: float, steps: int) -> dict[str, float]:
    """λ_g, λ_e, λ_c from the ladder at ``beta`` (module docstring); NaN when no λ > 0 keeps 2-D."""
    cell = ok[(ok["latent_dim"] == 2) & (ok["beta"] == beta) & (ok["steps"] == steps)
              & (ok["schedule"] == "constant")]
    share = cell.groupby("l2")["active_units"].apply(lambda s: float((s == 2).mean()))
    kept = [lam for lam, s in share.items() if lam > 0 and s >= TWO_D_SHARE]
    if not kept:
        return {"lambda_g": math.nan, "lambda_e": math.nan, "lambda_c": math.nan}
    g = max(kept)
    ladder = sorted(share.index)
    return {"lambda_g": g, "lambda_e": _nearest_log(ladder, g / 2), "lambda_c": _nearest_log(ladder, g / 4)}


def tilt_converged(ok: pd.DataFrame, beta: float, steps: int) -> tuple[bool, float]:
    """(converged, share of λ = 0 runs at ``steps`` within ALIGNED_DEG of the axes)."""
    cell = ok[(ok["latent_dim"] == 2) & (ok["beta"] == beta) & (ok["l2"] == 0) & (ok["steps"] == steps)]
    share = float((cell["mu_orientation_deg"].abs() <= ALIGNED_DEG).mean()) if len(cell) else math.nan
    return share >= 0.75, share


def seeds_per_claim(pilot: pd.DataFrame, protocol: Protocol = PROTOCOL) -> dict[str, int]:
    """Seeds per cell of every empirical claim from the pilot's effects (module docstring)."""
    found = compute_findings(pilot, seeds={c.key: protocol.pilot_seeds for c in protocol.claims})
    m = sum(c.source != "closed_form" for c in protocol.claims)
    level = protocol.meta["alpha"] / (2 * m)
    lo, hi = protocol.meta["min_seeds"], protocol.meta["max_seeds"]
    out = {}
    for f in found:
        if f.source == "closed_form":
            continue
        # as the verdict: supported needs every part (the largest n "for"), refuted one part (the
        # smallest n "against"); a part the pilot puts on neither side needs the cap
        parts = [p for _, p in f.parts if p.kind != "trend_up"]
        needs_for = [seeds_needed(p, level, "for") for p in parts]
        needs_against = [n for n in (seeds_needed(p, level, "against") for p in parts) if n]
        need = max(needs_for) if all(needs_for) else (min(needs_against) if needs_against else hi)
        out[f.key] = int(min(hi, max(lo, need)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("pilot", help="the pilot study's directory (python -m vaebench run grids/pilot.toml)")
    args = p.parse_args(argv)
    from vaebench import store

    ok, _ = split_status(store.load_results(args.pilot))
    if ok.empty:
        print(f"pilot = {args.pilot!r}: no ok runs there", file=sys.stderr)
        return 2
    seeds = set(ok["seed"])
    if not seeds <= set(PROTOCOL.pilot_seeds):
        print(f"pilot = {args.pilot!r}: holds seeds {sorted(seeds - set(PROTOCOL.pilot_seeds))[:5]}, "
              f"not pilot seeds {PROTOCOL.pilot_seeds[0]}–{PROTOCOL.pilot_seeds[-1]}", file=sys.stderr)
        return 2
    cal, steps = PROTOCOL.calibration, PROTOCOL.steps
    panels = locate_panels(ok, cal["beta"], steps["short"])
    conv, share = tilt_converged(ok, cal["beta"], steps["long"])
    fixed = ok[(ok["latent_dim"] == 2) & (ok["beta"] == cal["beta"]) & (ok["l2"] == 0)
               & (ok["schedule"] == "constant") & (ok["steps"] == steps["short"])]["recon_coverage"]
    margin = HEADROOM_SHARE * (1 - float(np.mean(fixed)))
    print(f"panels at β = {cal['beta']}: " + ", ".join(f"{k} = {v:g}" for k, v in panels.items()))
    print(f"tilt at {steps['long']} steps, λ = 0: {share:.3f} of runs within {ALIGNED_DEG:g}° "
          f"({'converged' if conv else 'NOT converged'})")
    print(f"fixed β coverage {np.mean(fixed):.4f}: schedule margin {margin:.4f}")
    for key, n in seeds_per_claim(ok).items():
        print(f"seeds[{key}] = {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
