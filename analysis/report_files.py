"""The report's files: reading a pytest-benchmark JSON and writing the report's outputs atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.document import Report
from analysis.html import render_html
from analysis.markdown import render_markdown
from analysis.tables import benchmark_table
from vaebench.files import atomic_write as _atomic_write


class UserError(ValueError):
    """A mistake in the command line: reported as one line, exit status 2."""


def latest_bench_json(roots: list[Path]) -> Path | None:
    """The newest ``.benchmarks/**/*.json`` under any of ``roots``, or None."""
    found = [p for r in roots for p in (r / ".benchmarks").glob("**/*.json") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def read_bench(path: Path | None, explicit: bool) -> tuple[pd.DataFrame | None, str]:
    """(benchmark table, where it came from) from a pytest-benchmark JSON file; a broken file the user
    named is an error, a broken file found on its own is skipped with the reason."""
    if path is None:
        return None, "none found"
    try:
        return benchmark_table(json.loads(Path(path).read_text())), str(path)
    except (OSError, ValueError, AttributeError, TypeError) as err:
        if explicit:
            raise UserError(f"--bench-json = {str(path)!r}: not a readable pytest-benchmark JSON "
                            f"({err})") from None
        return None, f"{path} unreadable ({err})"


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write the report's files into ``out_dir`` (created if needed) and return their paths. PNGs of
    figures from an earlier report that this one does not draw are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fig in report.figures:
        _atomic_write(out_dir / fig.filename, fig.png)
        written.append(out_dir / fig.filename)
    for stale in out_dir.glob("fig[0-9]*_*.png"):
        if stale not in written:
            stale.unlink()
    results = report.results if report.results is not None else pd.DataFrame()
    _atomic_write(out_dir / "results.parquet", results.to_parquet(index=False))
    _atomic_write(out_dir / "results.csv", results.to_csv(index=False).encode())
    _atomic_write(out_dir / "report.md", render_markdown(report).encode())
    _atomic_write(out_dir / "report.html", render_html(report).encode())
    return written + [out_dir / n for n in ("results.parquet", "results.csv", "report.md", "report.html")]
