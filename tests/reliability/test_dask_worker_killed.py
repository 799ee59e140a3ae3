"""A Dask worker killed (SIGKILL) mid-study: the shard is retried elsewhere and the study completes with
the same table as an uninterrupted local run.

No timing is assumed: the test waits (bounded) for a worker that is running a shard, kills it, and asks
the scheduler whether that shard was really taken back from the dead worker (its story shows processing →
released on the worker's cleanup); if the shard had finished just before the kill, it tries the next busy
worker, as long as the study runs."""

import logging
import os
import signal
import threading
import time

import pytest
from reliability_helpers import comparable, grid_toml

from vaebench import Grid, run_study

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
LIMIT = 240  # seconds for any one awaited state; the study itself takes a few seconds


def _until(condition, what: str, limit: float = LIMIT):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"not within {limit} s: {what}")


def _taken_back(client, key: str) -> bool:
    """Whether the scheduler took ``key`` back from a dead worker (processing → released on cleanup)."""
    return any(event[1] == key and event[2] == "processing" and event[3] == "released"
               and str(event[5]).startswith(("handle-worker-cleanup", "remove-worker"))
               for event in client.story(key))


def test_a_worker_killed_mid_study_still_completes_with_the_same_table(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml(steps=20_000))  # shards of a fraction of a second: the kill lands in one
    grid = Grid.from_toml(path)
    reference = run_study(grid, tmp_path / "reference", shard_size=1, threads=1, progress=False)
    out, outcome = tmp_path / "dask", {}

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        def study():
            try:
                outcome["table"] = run_study(grid, out, executor="dask", scheduler=cluster.scheduler_address,
                                             shard_size=1, progress=False)
            except BaseException as err:  # noqa: BLE001 - reported by the main thread
                outcome["error"] = err

        def busy():  # a worker running a shard right now, or True once the study has ended
            found = [(w, keys[0]) for w, keys in client.processing().items() if keys]
            return found[0] if found else not thread.is_alive()

        thread = threading.Thread(target=study)
        thread.start()
        killed, tries = None, 0
        while killed is None and tries < 3:
            found = _until(busy, "a worker running a shard")
            if found is True:  # the study ended: nothing left to kill
                break
            worker, key = found
            try:
                pid = client.run(os.getpid, workers=[worker])[worker]
            except Exception:  # noqa: BLE001 - the worker went away meanwhile: look again
                continue
            os.kill(pid, signal.SIGKILL)
            tries += 1
            _until(lambda w=worker: w not in client.scheduler_info()["workers"], "the killed worker removed")
            if _taken_back(client, key):  # else the shard had just finished: try the next busy worker
                killed = (worker, key)
        thread.join(timeout=LIMIT)
        assert not thread.is_alive(), "the study did not finish"
        assert killed is not None, f"{tries} workers killed, none while running a shard (each had just ended)"
    assert "error" not in outcome, outcome.get("error")
    table = outcome["table"]
    assert len(table) == 6 and table["run_id"].is_unique
    assert comparable(table).equals(comparable(reference))
