"""End to end, through the command line: the smoke study (``python -m vaebench run grids/smoke.toml``,
32 runs of 300 steps with their metrics) and the default report (``python -m analysis.report``: the
seed-figures study, its metrics and figures; issue 6's target is under 2 minutes). With
``--benchmark-disable`` the report runs its ``--quick`` grid instead. Each skips if its entry point is
not there."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import machine_info, measure

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def _require(module: str, *files: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not available")
    for f in files:
        if not (ROOT / f).is_file():
            pytest.skip(f"{f} is missing")


def test_smoke_study_cli(benchmark, quick, tmp_path):
    _require("vaebench.cli", "grids/smoke.toml")
    rounds = iter(range(100))

    def run():
        _run(["-m", "vaebench", "run", "grids/smoke.toml", "--out", str(tmp_path / f"s{next(rounds)}"),
              "--quiet"])

    benchmark.group = "end to end"
    best = measure(benchmark, run, rounds=1 if quick else 3, quick=quick)
    benchmark.extra_info.update({"command": "python -m vaebench run grids/smoke.toml --out DIR",
                                 "runs": 32, "steps_per_run": 300, **machine_info()})
    if best is not None:
        benchmark.extra_info.update(seconds=best, runs_per_s=32 / best)


def test_default_report(benchmark, quick, tmp_path):
    _require("analysis.report", "grids/seed-figures.toml", "grids/smoke.toml")
    args = ["-m", "analysis.report", "--out", str(tmp_path / "report")] + (["--quick"] if quick else [])

    def run():  # a fresh directory each time: the report resumes finished studies otherwise
        import shutil

        shutil.rmtree(tmp_path / "report", ignore_errors=True)
        _run(args)

    benchmark.group = "end to end"
    best = measure(benchmark, run, rounds=1, quick=True)  # one round: minutes of work
    benchmark.extra_info.update({"command": "python -m analysis.report" + (" --quick" if quick else ""),
                                 **machine_info()})
    if best is not None:
        benchmark.extra_info["seconds"] = best
