"""The Dask executor against the local one, end to end through the command line (issue 22's target:
Dask at ≥ 0.9× the local executor's speed on one machine).

``python -m vaebench run bench/grids/seed-figures-264.toml --executor dask`` (a LocalCluster of 2 workers,
its start and close included: a fresh process each time) against ``--executor local``, in turn, local
first, best of two each; ``dask_vs_local`` is the local executor's best wall time over Dask's (above 1:
Dask is faster). With ``--benchmark-disable`` each runs the smoke grid once. Skips without dask.
"""

from __future__ import annotations

import time

import pytest

from bench.common import machine_info, measure, require_entry, run_python
from bench.test_end_to_end import STUDY_264


def test_dask_vs_local(benchmark, quick, tmp_path):
    require_entry("vaebench.cli", STUDY_264, "grids/smoke.toml")
    pytest.importorskip("dask.distributed")
    grid = "grids/smoke.toml" if quick else STUDY_264
    rounds = iter(range(100))
    seconds: dict[str, list[float]] = {"local": [], "dask": []}

    def run_pair() -> None:
        for executor in ("local", "dask"):
            start = time.perf_counter()
            run_python(["-m", "vaebench", "run", grid, "--out", str(tmp_path / f"{executor}{next(rounds)}"),
                  "--executor", executor, "--workers", "2", "--quiet"])
            seconds[executor].append(time.perf_counter() - start)

    benchmark.group = "executors"
    measure(benchmark, run_pair, rounds=1 if quick else 2, quick=quick)
    benchmark.extra_info.update({"command": f"python -m vaebench run {grid} --out DIR --executor "
                                            f"local|dask --workers 2 --quiet", **machine_info()})
    if not quick:  # measure's warm-up pair is not counted: the last two pairs are
        local, dask = min(seconds["local"][-2:]), min(seconds["dask"][-2:])
        benchmark.extra_info.update(local_seconds=local, dask_seconds=dask, dask_vs_local=local / dask,
                                    summary=f"Dask {dask:.1f} s, local {local:.1f} s: "
                                            f"Dask at {local / dask:.2f}× the local executor's speed")
