"""The metric suite on one trained run: ``vaebench.evaluation.evaluate_run`` (evaluation arrays plus
every metric of :mod:`vaebench.metrics.suite`) at n = 10 000 and 100 000 evaluation points (2 000 with
``--benchmark-disable``). Target of issue 6: under 1 s at n = 10 000."""

from __future__ import annotations

import pytest

from bench.common import machine_info, measure

evaluation = pytest.importorskip("vaebench.evaluation", reason="vaebench.evaluation not available")
pytest.importorskip("vaebench.metrics.suite", reason="the metrics suite is not available")


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
