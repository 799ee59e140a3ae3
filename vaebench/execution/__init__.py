"""Where a study's units train and are evaluated: the plan (:mod:`~vaebench.execution.plan`), the tasks
(:mod:`~vaebench.execution.tasks`) and the executors, registry :data:`EXECUTORS`.

Both executors run the same units (waves of shards) and give the same table: a run's numbers depend only
on its config and seed, never on the runs trained or evaluated beside it, the shard size, the threads or
the executor. An executor states its :class:`~vaebench.execution.plan.Layout` (``layout(threads,
workers)``), checks its options (``check(scheduler)``), and maps units to (shard index, records).
"""

from vaebench.execution.dask import DASK_EXTRA, DASK_RETRIES, DaskExecutor, ShardFailed
from vaebench.execution.local import LocalExecutor
from vaebench.execution.plan import IN_FLIGHT, Layout, plan_shards, plan_units, plan_waves, wave_runs
from vaebench.execution.tasks import Unit
from vaebench.store import RunRecord
from vaebench.threads import usable_cores

EXECUTORS: dict[str, type] = {"local": LocalExecutor, "dask": DaskExecutor}

__all__ = ["DASK_EXTRA", "DASK_RETRIES", "EXECUTORS", "IN_FLIGHT", "DaskExecutor", "Layout", "LocalExecutor",
           "RunRecord", "ShardFailed", "Unit", "plan_shards", "plan_units", "plan_waves", "usable_cores",
           "wave_runs"]
