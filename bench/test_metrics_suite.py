"""The metric suite on one trained run.

``test_metric_suite``: ``vaebench.evaluation.evaluate_run`` (evaluation arrays plus every metric of
:mod:`vaebench.metrics.suite`) at n = 10 000 and 100 000 evaluation points (2 000 with
``--benchmark-disable``); issue 6's target: under 1 s at n = 10 000.

``test_evaluation_per_metric_group``: one run's evaluation at n_eval = 5 000 on one core (torch pinned to
one thread), in ms per metric group of the suite and for ``evaluate_run`` as a whole (issue 13's target:
≤ 60 ms per run). ``ms_per_run`` is a run whose inputs x are new to the process (the shared PointSets
cleared before each round: the first run of a seed); ``ms_per_run_shared_x`` a later run of the same
seed, whose x's neighbour queries, sorted projections and grid cells are kept
(:func:`vaebench.metrics._neighbours.shared_points`). Each group is timed on its own with fresh state
(the structures a group shares with the next are built by the first that needs them, in the suite's
order).
"""

from __future__ import annotations

import time

import pytest
import torch

from bench.common import machine_info, measure

evaluation = pytest.importorskip("vaebench.evaluation", reason="vaebench.evaluation not available")
suite = pytest.importorskip("vaebench.metrics.suite", reason="the metrics suite is not available")


@pytest.fixture(scope="module")
def trained():
    import vaebench

    (result,) = vaebench.train([vaebench.RunConfig(beta=0.1, steps=300, n_train=2000, batch_size=128)])
    return result


@pytest.mark.parametrize("n_eval", [10_000, 100_000])
def test_metric_suite(benchmark, quick, trained, n_eval):
    if quick and n_eval > 10_000:
        pytest.skip("100 000 points only with benchmarks enabled")
    n = 2_000 if quick else n_eval
    benchmark.group = "metrics"
    best = measure(benchmark, lambda: evaluation.evaluate_run(trained, n), rounds=3, quick=quick)
    benchmark.extra_info.update({"n_eval": n, **machine_info()})
    if best is not None:
        benchmark.extra_info["points_per_s"] = n / best


def _clear_shared() -> None:
    try:
        from vaebench.metrics._neighbours import clear_shared
    except ImportError:  # a version without shared point sets
        return
    clear_shared()


def _group_ms(trained, n: int, rounds: int) -> dict[str, float]:
    """Fastest of ``rounds`` per group, ms; groups run in the suite's order on a fresh context each round
    (and with x new to the process)."""
    arrays = evaluation.eval_arrays(trained, n)
    values, _ = suite._read_arrays(arrays)
    cfg = trained.config
    best: dict[str, float] = {}
    for _ in range(rounds):
        _clear_shared()
        ctx = suite.Context(values, trained.model, cfg.recon_var, 0)
        for group in suite.GROUPS:
            start = time.perf_counter()
            group.compute(ctx)
            name = group.keys[0].split("_n")[0] if group.keys[0].endswith("_n") else group.keys[0]
            best[name] = min(best.get(name, float("inf")), 1000 * (time.perf_counter() - start))
    return best


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_evaluation_per_metric_group(benchmark, quick, trained):
    n = 1_000 if quick else 5_000
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        benchmark.group = "metrics"

        def fresh():
            _clear_shared()
            evaluation.evaluate_run(trained, n)

        best = measure(benchmark, fresh, rounds=5, quick=quick)
        evaluation.evaluate_run(trained, n)
        shared = min(_seconds(lambda: evaluation.evaluate_run(trained, n)) for _ in range(1 if quick else 5))
        groups = _group_ms(trained, n, 1 if quick else 5)
    finally:
        torch.set_num_threads(saved)
    benchmark.extra_info.update({"n_eval": n, "threads": 1, "ms_per_group": groups,
                                 "ms_per_run_shared_x": 1000 * shared,
                                 "summary": ", ".join(f"{k} {v:.1f} ms" for k, v in groups.items())})
    if best is not None:
        benchmark.extra_info["ms_per_run"] = 1000 * best
    assert set(groups) and all(v > 0 for v in groups.values())
