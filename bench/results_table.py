"""Markdown tables of a pytest-benchmark JSON written by ``pytest bench/ --benchmark-only``.

``python -m bench.results_table FILE.json`` prints the training table (engine against the obvious loop
and torch.func, with ratios and the fraction of the bmm limit) and the other benchmarks' figures, as
pasted into bench/RESULTS.md and the README.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

IMPLS = ("obvious_loop", "torch_func", "engine_operators", "engine")
RATIOS = ("late_over_early", "vs_one_process")


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def training_table(benchmarks: list[dict]) -> str:
    """One row per (device, d, B, M): model-steps/s of each implementation and the engine's ratios."""
    rows: dict[tuple, dict[str, dict]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if b.get("name", "").startswith("test_training_throughput") and "model_steps_per_s" in info:
            key = (info["device"], info["latent_dim"], info["batch_size"], info["models"])
            rows.setdefault(key, {})[info["impl"]] = info
    lines = ["| device | d | B | M | obvious loop | torch.func | engine, operators | engine "
             "| engine / obvious | engine / torch.func | engine GFLOP/s | % of bmm limit |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (dev, d, bs, m), impls in sorted(rows.items()):
        eng = impls.get("engine", {})
        rate = {k: impls.get(k, {}).get("model_steps_per_s") for k in IMPLS}
        frac = eng.get("fraction_of_bmm_limit")
        lines.append(f"| {dev} | {d} | {bs} | {m} | {_fmt(rate['obvious_loop'])} "
                     f"| {_fmt(rate['torch_func'])} | {_fmt(rate['engine_operators'])} "
                     f"| {_fmt(rate['engine'])} "
                     f"| {_fmt(eng.get('ratio_vs_obvious_loop'), 1)}× "
                     f"| {_fmt(eng.get('ratio_vs_torch_func'), 1)}× | {_fmt(eng.get('gflops_per_s'), 1)} "
                     f"| {_fmt(None if frac is None else 100 * frac, 1)} |")
    return "\n".join(lines)


def variant_table(benchmarks: list[dict]) -> str:
    """One row per (device, M): model-steps/s of each variant and its ratio to vae, measured in one run."""
    rows: dict[tuple, dict[str, dict]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if b.get("name", "").startswith("test_variant_throughput") and "model_steps_per_s" in info:
            rows.setdefault((info["device"], info["models"]), {})[info["variant"]] = info
    names = sorted({v for r in rows.values() for v in r}, key=lambda v: (v != "vae", v))
    lines = ["| device | M | " + " | ".join(names) + " | route |",
             "|---|---|" + "---:|" * len(names) + "---|"]
    for (dev, m), by in sorted(rows.items()):
        cells = []
        for v in names:
            info = by.get(v, {})
            ratio = info.get("ratio_vs_vae")
            cells.append(f"{_fmt(info.get('model_steps_per_s'))}"
                         + ("" if ratio is None or v == "vae" else f" ({ratio:.2f}×)"))
        engines = sorted({i.get("engine", "") for i in by.values()})
        lines.append(f"| {dev} | {m} | " + " | ".join(cells) + f" | {', '.join(engines)} |")
    return "\n".join(lines)


def other_table(benchmarks: list[dict]) -> str:
    """Every other benchmark: its name, its minimum and median seconds and its main figure."""
    keys = ("gflops_per_s", "samples_per_s", "points_per_s", "runs_per_s", "late_over_early",
            "model_steps_per_s", "vs_one_process")
    lines = ["| benchmark | min s | median s | figures |", "|---|---:|---:|---|"]
    for b in benchmarks:
        if b.get("name", "").startswith(("test_training_throughput", "test_variant_throughput")):
            continue
        info, stats = b.get("extra_info") or {}, b.get("stats") or {}
        figures = ", ".join(f"{k} = {_fmt(float(info[k]), 2 if k in RATIOS else 0)}"
                            for k in keys if k in info)
        lines.append(f"| {b.get('name')} | {_fmt(stats.get('min'), 3)} | {_fmt(stats.get('median'), 3)} "
                     f"| {figures} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print both tables of the JSON file named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.results_table FILE.json", file=sys.stderr)
        return 2
    doc = json.loads(Path(args[0]).read_text())
    machine = doc.get("machine_info") or {}
    print(f"machine: {machine.get('cpu', {}).get('brand_raw', machine.get('processor', '?'))}, "
          f"{machine.get('cpu', {}).get('count', '?')} cores, python {machine.get('python_version', '?')}\n")
    print(training_table(doc.get("benchmarks", [])))
    print()
    print(variant_table(doc.get("benchmarks", [])))
    print()
    print(other_table(doc.get("benchmarks", [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
