"""The Dask executor: units as dask.distributed tasks, results gathered (and stored) by the client alone.

The units are the local executor's (:mod:`vaebench.execution.plan`), sized for ``layout.threads``
threads per task: each task trains a unit, evaluates it shard by shard and returns every shard's
records (:func:`vaebench.execution.tasks.run_unit`), so small groups share one task rather than each
paying a task's overhead. Without a ``scheduler`` address: a LocalCluster of ``layout.workers``
processes with one thread each, on 127.0.0.1 and without a dashboard (:func:`local_cluster_config`):

- On Linux its workers are forked from this process, which has imported vaebench and torch already:
  a worker is ready in 0.1 s, where a spawned one spends 2-3 s importing them (on 2 cores, 2.5 s of a
  20 s study). Forking is safe here because nothing in a worker runs an OpenMP team: every thread that
  trains or evaluates runs torch on one intra-op thread (:func:`vaebench.threads.one_intra_op_thread`),
  the engine's threads are its own, and the kernel's build lock is renewed in a forked child. Elsewhere
  (macOS, Windows) workers are spawned, as dask does by default.
- Without the ``MALLOC_TRIM_THRESHOLD_`` that dask's nannies set by default: glibc then stops raising
  its mmap threshold, every tensor above 128 KiB is mapped and unmapped afresh, and evaluation took 1.4×
  as long (2.3 against 1.6 s for 32 runs; unset it for a cluster's workers too, README "Dask").

Tasks are retried :data:`DASK_RETRIES` times; a task whose worker dies is rescheduled by dask itself.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator

from vaebench.execution import tasks
from vaebench.execution.plan import Layout, dask_layout
from vaebench.store import RunRecord

DASK_RETRIES = 3
DASK_EXTRA = "the dask executor needs the optional extra: pip install 'vaebench[dask]'"


def local_cluster_config() -> dict[str, object]:
    """The dask settings of this executor's LocalCluster (see the module's docstring): the workers'
    ``MALLOC_TRIM_THRESHOLD_`` unset; on Linux, workers forked from this process."""
    config: dict[str, object] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    if sys.platform.startswith("linux"):
        config["distributed.worker.multiprocessing-method"] = "fork"
    return config


class ShardFailed(RuntimeError):
    """A unit of shards failed on the cluster even after its retries."""


class DaskExecutor:
    """Units as tasks on a dask.distributed cluster (see the module's docstring)."""

    layout = staticmethod(dask_layout)

    @staticmethod
    def check(scheduler: str | None) -> None:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ValueError(f"executor = 'dask': {DASK_EXTRA}") from None
        if scheduler and (not isinstance(scheduler, str) or "://" not in scheduler
                          or not scheduler.rsplit(":", 1)[-1].isdigit()):
            raise ValueError(f"scheduler = {scheduler!r}: must be an address like tcp://HOST:PORT")

    def __init__(self, scheduler: str | None = None, layout: Layout | None = None):
        import logging

        import dask
        from dask.distributed import Client, LocalCluster

        layout = layout or dask_layout(None, None)
        self.threads, self.cluster, self.futures = layout.threads, None, {}
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="10s")
            else:
                with dask.config.set(local_cluster_config()):  # see the module's docstring
                    self.cluster = LocalCluster(n_workers=layout.workers, threads_per_worker=1,
                                                processes=True, host="127.0.0.1", dashboard_address=None,
                                                silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as err:
            self.close()
            raise OSError(f"scheduler = {scheduler!r}: cannot start or reach the dask cluster "
                          f"({err})") from None

    def map(self, units: list[tasks.Unit],
            progress: Callable[[int], None]) -> Iterator[tuple[int, list[RunRecord]]]:
        """(shard index, records) for every shard of ``units``, a unit's shards when its task is done."""
        from dask.distributed import as_completed

        tag = uuid.uuid4().hex[:8]
        for k, unit in enumerate(units):
            fut = self.client.submit(tasks.run_unit, unit, self.threads, key=f"vaebench-{tag}-{k}",
                                     retries=DASK_RETRIES, pure=False)
            self.futures[fut] = unit
        for fut in as_completed(list(self.futures)):
            unit = self.futures.pop(fut)
            try:
                shards = fut.result()
            except Exception as err:
                indices = [index for index, _, _ in unit.shards]
                raise ShardFailed(f"shards {indices} failed on the cluster after {DASK_RETRIES} retries: "
                                  f"{type(err).__name__}: {err}") from err
            fut.release()
            yield from shards  # the bar counts their steps as they are stored

    def close(self) -> None:
        for fut in self.futures:
            fut.cancel()
        self.futures = {}
        if getattr(self, "client", None) is not None:
            self.client.close(timeout=10)
        if self.cluster is not None:
            self.cluster.close(timeout=10)
