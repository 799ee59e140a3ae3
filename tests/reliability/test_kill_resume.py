"""The study process killed (SIGKILL) at random points, several times in a row, then resumed; and
interrupted with Ctrl-C (SIGINT)."""

import os
import random
import signal
import time

import pytest
from reliability_helpers import comparable, grid_toml, part_count, start, wait_for_parts

from vaebench import Grid, load_results, run_study
from vaebench.store import scan_parts

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture
def grid_file(tmp_path):
    """A grid of 3 runs (2-D and 1-D VAE, a WAE), trained in shards of one run (under a second each)."""
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml(steps=150, seeds=(0,), extra='[grids.wae]\nvariant = ["wae"]\nbeta = [1.0]\n'))
    return path


def test_sigkill_several_times_then_resume_equals_an_uninterrupted_run(grid_file, tmp_path):
    path = grid_file
    reference = run_study(Grid.from_toml(path), tmp_path / "reference", shard_size=1, threads=1,
                          progress=False)
    out = tmp_path / "killed"
    args = ("run", str(path), "--out", str(out), "--shard-size", "1", "--threads", "1", "--quiet")
    rng = random.Random(7)
    kills, stored = 0, []
    for _ in range(12):
        before = part_count(out)
        proc = start(*args)
        if wait_for_parts(out, before, proc):
            time.sleep(rng.uniform(0.0, 0.1))  # a random point inside the next shard (or its commit)
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        scan = scan_parts(out)  # after each kill: only whole, valid parts, no run twice
        assert scan.corrupt == []
        rows = load_results(out)
        assert rows["run_id"].is_unique
        stored.append(len(rows))
    assert proc.returncode == 0, proc.stderr.read()
    assert kills >= 2 and stored == sorted(stored)  # killed several times, never lost a stored run
    final = load_results(out)
    assert len(final) == len(reference) and final["run_id"].is_unique
    assert comparable(final).equals(comparable(reference))
    assert not list(out.rglob(".tmp-*"))  # the last run removed what killed writers left


def test_ctrl_c_keeps_finished_shards_and_says_so(grid_file, tmp_path):
    path = grid_file
    out = tmp_path / "interrupted"
    proc = start("run", str(path), "--out", str(out), "--shard-size", "1", "--threads", "1")
    assert wait_for_parts(out, 0, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the study finished before the interrupt arrived")
    assert proc.returncode == 130
    kept = len(load_results(out))
    assert f"interrupted: {kept} finished runs are kept in {out}" in err and "Traceback" not in err
    assert run_study(Grid.from_toml(path), out, shard_size=1, threads=1, progress=False).shape[0] == 3
