"""Helpers of the reliability suite: small grid files, the CLI as a subprocess, table comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from vaebench.store import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def grid_toml(steps: int = 20, seeds: tuple[int, ...] = (0, 1, 2), extra: str = "") -> str:
    """A study of 2 × len(seeds) small VAE runs (2-D and 1-D latent)."""
    return f"""
[study]
name = "reliability"
n_train = 300
steps = {steps}
batch_size = 32
hidden = [16]
n_eval = 64

[grid]
latent_dim = [2, 1]
seed = {list(seeds)}
{extra}"""


def cli(*args: str) -> list[str]:
    """The command line of ``python -m vaebench ARGS``."""
    return [sys.executable, "-m", "vaebench", *args]


def start(*args: str) -> subprocess.Popen:
    """Start the CLI in a subprocess (repository root as working directory, one torch thread)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cli(*args), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def part_count(out: Path) -> int:
    return len(list((out / "results").glob("part-*.parquet"))) if (out / "results").is_dir() else 0


def wait_for_parts(out: Path, more_than: int, proc: subprocess.Popen | None = None,
                   limit: float = 120) -> bool:
    """Poll until ``out`` holds more than ``more_than`` parts; False if ``proc`` ended first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if part_count(out) > more_than:
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError(f"no new part in {out} within {limit} s")


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    """A results table without timings, in run-id order."""
    return df.drop(columns=TIMING_COLUMNS).sort_values("run_id").reset_index(drop=True)
