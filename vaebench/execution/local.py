"""The local executor: units trained in this process while the previous unit is evaluated.

Each unit (a wave of shards, :mod:`vaebench.execution.plan`) is trained by one
:func:`~vaebench.execution.tasks.train_unit` call in a training thread of its own, on ``threads`` engine
worker threads; its runs are evaluated by ``threads`` evaluation threads (one intra-op thread each) in
tasks of at most :data:`EVAL_CHUNK` runs, while the next unit trains, and its shards are yielded one by
one to be stored. So every core works whichever of training and evaluation is the larger; the last
unit's evaluation, with nothing left to train, is split over all of them. At most
:data:`~vaebench.execution.plan.IN_FLIGHT` units are trained and not yet stored. Training and evaluation
threads together may outnumber the cores: the engine's workers spend their time in the C kernel without
the GIL (taking it once per ~30 steps), so the operating system shares the cores between them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from vaebench.execution import tasks
from vaebench.execution.plan import IN_FLIGHT, Layout, local_layout
from vaebench.store import RunRecord

EVAL_CHUNK = 8  # runs per evaluation task: the last unit's evaluation spreads evenly over the threads
STOP_SECONDS = 60  # at most this long to wait, after an interrupt, for training to reach its next chunk


class _Stopped(Exception):
    """Raised in the engine's progress callback to stop a unit's training (the study was interrupted)."""


class LocalExecutor:
    """Units trained in this process on ``layout.threads`` engine worker threads and evaluated by as many
    background threads while the next unit trains. When a unit's training fails, the shards of the unit
    in evaluation are stored before the error propagates; when the caller stops (an interrupt),
    training stops at its next chunk of steps, and the units in training and in evaluation are lost."""

    layout = staticmethod(local_layout)

    @staticmethod
    def check(scheduler: str | None) -> None:
        if scheduler:
            raise ValueError(f"scheduler = {scheduler!r}: only the dask executor takes a scheduler")

    def __init__(self, scheduler: str | None = None, layout: Layout | None = None):
        self.threads = (layout or local_layout(None, None)).threads

    def map(self, units: list[tasks.Unit],
            progress: Callable[[int], None]) -> Iterator[tuple[int, list[RunRecord]]]:
        """(shard index, records) for every shard of ``units``, each shard as soon as it is evaluated."""
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="vaebench-evaluation")
        done: queue.Queue = queue.Queue()  # per unit: its shards' evaluation tasks, or the training error
        room = threading.Semaphore(IN_FLIGHT)  # units trained and not yet stored, at most IN_FLIGHT
        stop = threading.Event()

        def report(n: int) -> None:  # called after every chunk of steps: where training stops
            if stop.is_set():
                raise _Stopped
            progress(n)

        def train_units() -> None:
            for unit in units:
                room.acquire()
                if stop.is_set():
                    return
                try:
                    trained = tasks.train_unit(unit, self.threads, report)
                except _Stopped:
                    return
                except BaseException as err:  # to the caller, after the unit in evaluation is stored
                    done.put(err)
                    return
                try:
                    shards = [(index, [pool.submit(tasks.evaluate_runs, res[i:i + EVAL_CHUNK],
                                                   ids[i:i + EVAL_CHUNK], unit.n_eval)
                                       for i in range(0, len(ids), EVAL_CHUNK)])
                              for index, res, ids in tasks.split(unit, trained)]
                except RuntimeError:  # the pool shut down: the caller stopped (an interrupt)
                    return
                done.put(shards)

        trainer = threading.Thread(target=train_units, name="vaebench-training", daemon=True)
        trainer.start()
        try:
            for _ in units:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                yield from _results(item)  # the caller stores each shard while the next unit trains
                room.release()
        finally:  # an interrupt or an error: training stops at its next chunk of steps
            stop.set()
            room.release()
            pool.shutdown(wait=False, cancel_futures=True)
            trainer.join(timeout=STOP_SECONDS)

    def close(self) -> None:
        pass


def _results(shards: list[tuple[int, list[Future]]]) -> Iterator[tuple[int, list[RunRecord]]]:
    """Each shard's records in run order, as soon as its evaluation tasks are done."""
    for index, futures in shards:
        yield index, [rec for task in futures for rec in task.result()]
