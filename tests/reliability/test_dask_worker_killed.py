"""A Dask worker killed (SIGKILL) mid-study: the shard is retried elsewhere and the study completes with
the same table as an uninterrupted local run."""

import logging
import os
import signal
import threading
import time

import pytest
from reliability_helpers import comparable, grid_toml, wait_for_parts

from vaebench import Grid, run_study

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_worker_killed_mid_study_still_completes_with_the_same_table(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml(steps=200))
    grid = Grid.from_toml(path)
    reference = run_study(grid, tmp_path / "reference", shard_size=1, threads=1, progress=False)
    out, outcome = tmp_path / "dask", {}

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(os.getpid)

        def study():
            try:
                outcome["table"] = run_study(grid, out, executor="dask", scheduler=cluster.scheduler_address,
                                             shard_size=1, progress=False)
            except BaseException as err:  # noqa: BLE001 - reported by the main thread
                outcome["error"] = err

        thread = threading.Thread(target=study)
        thread.start()
        wait_for_parts(out, 0)
        busy = []
        for _ in range(500):  # a worker that is running a shard right now
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if busy:
                break
            time.sleep(0.01)
        assert busy, "no worker was busy after the first shard"
        os.kill(pids[busy[0]], signal.SIGKILL)
        thread.join(timeout=300)
        assert busy[0] not in client.scheduler_info()["workers"]  # it really died (its nanny starts anew)
    assert "error" not in outcome, outcome.get("error")
    table = outcome["table"]
    assert len(table) == 6 and table["run_id"].is_unique
    assert comparable(table).equals(comparable(reference))
