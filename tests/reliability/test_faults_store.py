"""Store faults: two processes on one study, corrupted or truncated parts, disk full, an unwritable
directory, a diverged run, grids too large for the machine, untrusted files."""

import errno
import os
import pickle
import subprocess

import numpy as np
import pytest
from reliability_helpers import ROOT, cli, comparable, grid_toml

from vaebench import Grid, load_results, run_study
from vaebench.cli import main
from vaebench.store import StudyError, StudyLock, load_artifacts, load_model, scan_parts

pytestmark = pytest.mark.reliability


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml())
    return path


@pytest.fixture
def stored(grid_file, tmp_path):
    """A finished study of 6 runs in shards of one, and its table."""
    out = tmp_path / "study"
    return out, run_study(Grid.from_toml(grid_file), out, shard_size=1, threads=1, progress=False)


def test_a_second_process_on_a_busy_study_stops_with_a_clear_message(grid_file, tmp_path):
    """Design: a lock (flock on DIR/.lock). The holder proceeds; any other process stops at once."""
    out = tmp_path / "study"
    out.mkdir()
    with StudyLock(out):  # this test process holds the study, as a running `vaebench run` would
        proc = subprocess.run(cli("run", str(grid_file), "--out", str(out)), cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2
        holder = (out / ".lock").read_text().strip()
        assert holder.startswith(f"vaebench pid {os.getpid()} on {os.uname().nodename} since ")
        assert proc.stderr == (f"error: out = '{out}': the study is in use by {holder}; wait for it to "
                               f"finish or stop it, then run again\n")
        assert not list((out / "results").glob("*"))  # it trained and stored nothing
        with pytest.raises(StudyError, match="the study is in use by vaebench pid"):
            run_study(Grid.from_toml(grid_file), out, progress=False)
    assert len(run_study(Grid.from_toml(grid_file), out, threads=1, progress=False)) == 6  # free again


def test_corrupted_and_truncated_parts_are_named_and_their_runs_trained_again(stored, grid_file, capsys):
    out, reference = stored
    parts = sorted((out / "results").glob("part-*.parquet"))
    truncated, flipped = parts[0], parts[1]
    truncated.write_bytes(truncated.read_bytes()[:-40])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x55
    flipped.write_bytes(bytes(data))
    assert main(["status", str(out)]) == 0
    status = capsys.readouterr().out
    assert f"corrupted part {truncated}" in status and f"corrupted part {flipped}" in status
    assert "pending   2" in status
    with pytest.raises(StudyError, match="corrupted part file"):
        load_results(out)
    again = run_study(Grid.from_toml(grid_file), out, shard_size=1, threads=1)
    err = capsys.readouterr().err
    assert f"{truncated} is corrupted" in err and f"{flipped} is corrupted" in err
    assert "its runs will train again" in err and "6 runs, 4 stored, 2 to train" in err
    assert sorted(p.name for p in (out / "results").glob("*.corrupt")) == sorted(
        [truncated.name + ".corrupt", flipped.name + ".corrupt"])  # kept aside for inspection
    assert again["run_id"].is_unique
    assert comparable(again).equals(comparable(reference))


def test_disk_full_mid_study_is_a_clear_error_and_damages_nothing(grid_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "study"
    real_fsync, calls = os.fsync, []

    def fsync_until_full(fd):
        calls.append(fd)
        if len(calls) > 12:  # study.json, grid.toml, then 2 shards (5 files each), then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_until_full)
    argv = ["run", str(grid_file), "--out", str(out), "--shard-size", "1", "--threads", "1", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not write ") and "No space left on device" in err
    assert err.count("\n") == 1 and "files stored before are intact" in err
    monkeypatch.setattr(os, "fsync", real_fsync)
    scan = scan_parts(out)
    assert scan.corrupt == [] and len(scan.good) == 2 and not list(out.rglob(".tmp-*"))
    assert len(load_results(out)) == 2
    assert len(run_study(Grid.from_toml(grid_file), out, shard_size=1, threads=1, progress=False)) == 6


def test_an_unwritable_output_directory_is_a_clear_error(grid_file, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main(["run", str(grid_file), "--out", str(tmp_path / "a_file" / "study")]) == 2
    target = tmp_path / "a_file" / "study"
    expected = f"error: out = '{target}': cannot write the study there (Not a directory)\n"
    assert capsys.readouterr().err == expected


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_a_read_only_study_is_refused_and_left_intact(stored, grid_file, capsys):
    out, reference = stored
    before = sorted(p.name for p in (out / "results").iterdir())
    os.chmod(out, 0o500)
    try:
        assert main(["run", str(grid_file), "--out", str(out)]) == 2
        assert "cannot write the study there (Permission denied)" in capsys.readouterr().err
    finally:
        os.chmod(out, 0o700)
    assert sorted(p.name for p in (out / "results").iterdir()) == before
    assert comparable(load_results(out)).equals(comparable(reference))


def test_a_diverged_run_is_recorded_and_the_study_completes(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml(seeds=(0,)) + "lr = [1e-3, 1e30]\n")
    out = tmp_path / "study"
    assert main(["run", str(path), "--out", str(out), "--threads", "1", "--quiet"]) == 0
    assert "4 runs stored" in capsys.readouterr().out
    df = load_results(out)
    bad, good = df[df["lr"] == 1e30], df[df["lr"] == 1e-3]
    assert (bad["status"] == "diverged").all() and (good["status"] == "ok").all()
    assert (bad["diverged_step"] >= 0).all() and bad["reason"].str.contains("non-finite").all()
    assert bad["mse"].isna().all() and good["mse"].notna().all()
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "done      4 (2 ok, 2 diverged or failed evaluation)" in text
    assert text.count("  diverged ") == 2 and "lr 1e+30" in text and "non-finite" in text


def test_grids_too_large_are_refused_up_front_with_the_estimate(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", str(ROOT / "tests" / "grids_bad" / "huge_grid.toml"), "--out", str(out)]) == 2
    assert "grid size = 125000 runs: more than the limit of 100000" in capsys.readouterr().err
    path = tmp_path / "big.toml"
    path.write_text("[study]\nn_train = 10000000\nbatch_size = 1000000\nhidden = [4096, 4096]\n"
                    "[grid]\nseed = [0, 1]\n")
    assert main(["run", str(path), "--out", str(out), "--shard-size", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: shard_size = 1: 2 of the largest wave in flight need about ")
    assert " GiB, more than the " in err and "lower the shard size, n_train, batch_size" in err
    assert not out.exists()


def test_stored_files_are_never_unpickled(stored, tmp_path):
    out, reference = stored
    rid = reference["run_id"].iloc[0]
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(out / "runs" / rid / "weights.pt", "wb") as fh:
        pickle.dump(Exploit(), fh, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        load_model(out, rid)
    arrays = dict(load_artifacts(out, rid), x=np.array([Exploit()], dtype=object))
    np.savez(out / "runs" / rid / "arrays.npz", **arrays)
    with pytest.raises(StudyError, match="array 'x' has dtype object, not numbers"):
        load_artifacts(out, rid)
    with open(out / "runs" / rid / "arrays.npz", "wb") as fh:
        pickle.dump(Exploit(), fh, protocol=2)
    with pytest.raises(StudyError, match="arrays.npz: broken artifacts .not a zip archive"):
        load_artifacts(out, rid)
    assert not marker.exists()
