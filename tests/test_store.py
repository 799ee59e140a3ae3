"""The study store: atomic writes, checksummed Parquet parts, the results table, artifacts, the lock."""

import errno
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import vaebench
from vaebench import RunConfig
from vaebench.config import config_fields
from vaebench.evaluation import eval_arrays
from vaebench.grid import run_id
from vaebench.store import (
    StudyError,
    StudyLock,
    atomic_write,
    check_run,
    config_from_row,
    config_row,
    load_artifacts,
    load_config,
    load_history,
    load_model,
    load_results,
    prepare_dir,
    scan_parts,
    write_part,
    write_run,
)


def _row(cfg: RunConfig, **metrics) -> dict:
    return {"run_id": run_id(cfg), "status": "ok", "diverged_step": None, "reason": "", **config_row(cfg),
            **metrics, "train_seconds": 1.0, "eval_seconds": 0.5}


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write(target, b"old")
    assert target.read_bytes() == b"old"

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match=r"could not write .*f.bin: No space left on device; files stored"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left behind


def test_config_columns_round_trip_with_json_hidden_and_params():
    cfg = RunConfig(variant="capacity", hidden=[30, 30], params={"c_max": 5.0}, beta=0.1)
    row = config_row(cfg)
    assert row["hidden"] == "[30, 30]" and row["params"] == '{"c_max": 5.0, "c_warmup": 0.5}'
    assert config_from_row(row) == cfg


def test_parts_are_named_by_their_sha256_and_readable_by_pandas(tmp_path):
    out = prepare_dir(tmp_path / "s")
    cfgs = [RunConfig(beta=b) for b in (0.1, 0.2)]
    path = write_part(out, [_row(c, mse=0.5 * i) for i, c in enumerate(cfgs)])
    assert path.name == f"part-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}.parquet"
    plain = pd.read_parquet(path)  # plain pandas + pyarrow, nothing of vaebench
    assert list(plain["run_id"]) == [run_id(c) for c in cfgs] and list(plain["mse"]) == [0.0, 0.5]
    assert list(plain.columns[:4]) == ["run_id", "status", "diverged_step", "reason"]
    assert list(plain.columns[4:4 + len(config_fields())]) == config_fields()
    assert list(plain.columns[-2:]) == ["train_seconds", "eval_seconds"]


def test_results_are_the_union_of_parts_one_row_per_run(tmp_path):
    out = prepare_dir(tmp_path / "s")
    a, b, c = (RunConfig(seed=s) for s in range(3))
    write_part(out, [_row(a, mse=1.0), _row(b, mse=2.0)])
    write_part(out, [_row(c, mse=3.0, gen_coverage=0.9)])  # a later metric suite: more keys
    write_part(out, [_row(a, mse=1.5)])  # a duplicate commit (a retrained run) never duplicates rows
    df = load_results(out)
    assert df.set_index("run_id").loc[run_id(a), "mse"] == 1.0  # the first stored wins
    assert sorted(df["run_id"]) == sorted(run_id(x) for x in (a, b, c)) and df["run_id"].is_unique
    assert df.set_index("run_id").loc[run_id(c), "gen_coverage"] == 0.9
    assert df.set_index("run_id")["gen_coverage"].isna().sum() == 2
    ordered = load_results(out, run_ids=[run_id(c), run_id(a), "0000000000000000"])
    assert list(ordered["run_id"]) == [run_id(c), run_id(a)]


def test_an_empty_study_has_the_columns_and_no_rows(tmp_path):
    df = load_results(prepare_dir(tmp_path / "s"))
    assert len(df) == 0 and {"run_id", "status", "beta", "train_seconds"} <= set(df.columns)


@pytest.mark.parametrize("damage", ["truncate", "flip", "rename"])
def test_a_damaged_part_is_detected_and_named(tmp_path, damage):
    out = prepare_dir(tmp_path / "s")
    good = write_part(out, [_row(RunConfig(seed=1))])
    bad = write_part(out, [_row(RunConfig(seed=2))])
    data = bad.read_bytes()
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        bad.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    else:
        bad = bad.rename(bad.with_name("part-0123456789abcdef.parquet"))
    scan = scan_parts(out)
    assert [p for p, _ in scan.good] == [good] and [p for p, _ in scan.corrupt] == [bad]
    assert "checksum" in scan.corrupt[0][1]
    with pytest.raises(StudyError, match=rf"{bad.name}: corrupted part file"):
        load_results(out)
    assert list(load_results(out, on_corrupt="skip")["run_id"]) == [run_id(RunConfig(seed=1))]


def test_not_a_study_directory(tmp_path):
    with pytest.raises(StudyError, match="not a vaebench study directory"):
        load_results(tmp_path)


def test_artifacts_round_trip_without_pickles(tmp_path):
    out = prepare_dir(tmp_path / "s")
    cfg = RunConfig(n_train=64, steps=5, batch_size=16, hidden=[8], seed=4)
    (res,) = vaebench.train([cfg])
    x = torch.rand(50, 2)
    arrays = eval_arrays(res, 50)
    rid = run_id(cfg)
    write_run(out, rid, cfg, arrays, res.history, res.model.state_dict())
    loaded = load_artifacts(out, rid)
    assert set(loaded) == set(arrays) and all(np.array_equal(loaded[k], arrays[k]) for k in arrays)
    with np.load(out / "runs" / rid / "arrays.npz", allow_pickle=False) as npz:
        assert np.array_equal(npz["mu"], arrays["mu"])
    assert check_run(out, rid, cfg.latent_dim, 50) is None
    pd.testing.assert_frame_equal(load_history(out, rid), res.history)
    state = torch.load(out / "runs" / rid / "weights.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in res.model.state_dict().items())
    assert load_config(out, rid) == cfg
    with torch.no_grad():
        assert torch.equal(load_model(out, rid)(x), res.model(x))
    assert json.loads((out / "runs" / rid / "config.json").read_text())["seed"] == 4
    with pytest.raises(StudyError, match="run_id = 'nope': no arrays.npz"):
        load_artifacts(out, "nope")


def test_the_lock_admits_one_holder_and_names_it(tmp_path):
    out = prepare_dir(tmp_path / "s")
    with StudyLock(out):
        with pytest.raises(StudyError, match=rf"the study is in use by vaebench pid {os.getpid()} on "):
            with StudyLock(out):
                pass
    with StudyLock(out):  # released on exit
        pass


def test_an_unusable_output_directory_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match=r"out = '.*file/study': cannot write the study there"):
        prepare_dir(tmp_path / "file" / "study")


@pytest.mark.parametrize("out", ["", " "])
def test_an_empty_out_is_refused_not_taken_for_the_working_directory(out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"^out = {out!r}: an empty path"):
        prepare_dir(out)
    with pytest.raises(ValueError, match=f"^out = {out!r}: an empty path"):
        vaebench.run_study(vaebench.Grid(study={"steps": 1}), out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_artifact_write_leaves_no_temporary_file_in_the_run_directory(tmp_path, monkeypatch):
    """Ctrl-C (or any exception) while weights.pt is being written: the files of the run written before it
    are whole, weights.pt is absent, and runs/<id>/ holds no temporary file."""
    out = prepare_dir(tmp_path / "s")
    cfg = RunConfig(n_train=64, steps=5, batch_size=16, hidden=[8], seed=4)
    (res,) = vaebench.train([cfg])
    arrays, rid, real = eval_arrays(res, 50), run_id(cfg), os.fsync
    calls = []

    def interrupted(fd):
        calls.append(fd)
        if len(calls) == 3:  # arrays.npz, history.parquet, then weights.pt
            raise KeyboardInterrupt
        real(fd)

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_run(out, rid, cfg, arrays, res.history, res.model.state_dict())
    monkeypatch.setattr(os, "fsync", real)
    run_dir = out / "runs" / rid
    assert sorted(p.name for p in run_dir.iterdir()) == ["arrays.npz", "history.parquet"]
    assert check_run(out, rid) == f"{run_dir / 'weights.pt'}: missing"
    assert np.array_equal(load_artifacts(out, rid)["mu"], arrays["mu"])


def test_leftovers_of_a_killed_writer_in_runs_and_results_are_removed_by_the_next_run(tmp_path):
    """A killed writer leaves temporary files in results/ and in runs/<id>/ (of a stored run and of a run
    whose part was never written); the next `run` removes every one, keeps the stored run and trains the
    other again."""
    from vaebench import Grid, run_study
    from vaebench.store import TMP_PREFIX

    grid = Grid(study={"name": "t", "n_train": 64, "steps": 5, "batch_size": 16, "hidden": [8], "n_eval": 20},
                axes={"seed": [0, 1]})
    out = tmp_path / "s"
    first = run_study(grid, out, shard_size=1, threads=1, progress=False)
    stored, unstored = first["run_id"]
    for part in (out / "results").glob("part-*.parquet"):  # uncommit seed 1's run: as if killed before
        if unstored in set(pd.read_parquet(part)["run_id"]):
            part.unlink()
    leftovers = [out / "results" / f"{TMP_PREFIX}0123abcd-part-x.parquet",
                 out / "runs" / stored / f"{TMP_PREFIX}0123abcd-weights.pt",
                 out / "runs" / stored / f"{TMP_PREFIX}4567abcd-arrays.npz",
                 out / "runs" / unstored / f"{TMP_PREFIX}89abcdef-history.parquet"]
    for p in leftovers:
        p.write_bytes(b"half a file")
    before = (out / "runs" / stored / "weights.pt").read_bytes()
    again = run_study(grid, out, shard_size=1, threads=1, progress=False)
    assert [p for p in leftovers if p.exists()] == []
    assert not list(out.rglob(f"{TMP_PREFIX}*"))
    assert (out / "runs" / stored / "weights.pt").read_bytes() == before  # not trained again
    assert check_run(out, stored) is None and check_run(out, unstored) is None
    assert list(again["run_id"]) == [stored, unstored] and (again["status"] == "ok").all()
