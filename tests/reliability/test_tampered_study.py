"""A tampered study never stops the report: each damage is injected into a stored study, and `status`,
`run`, `report --from` and load_results are checked to name it, set it aside and carry on.

Damage injected: one run's arrays.npz (empty, missing keys, wrong shapes, an object array, a bare pickle)
or history.parquet; a part whose checksum name is right but whose values have the wrong types; a part
holding runs of no grid run; a study.json of the wrong shape.
"""

import hashlib
import io
import pickle
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_helpers import comparable, grid_toml

from analysis.report import main as report_main
from vaebench import Grid, RunConfig, load_results, run_study
from vaebench.cli import main
from vaebench.grid import run_id
from vaebench.store import StudyError, check_run, load_artifacts, scan_parts

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A finished study of 4 runs in shards of one (so 4 parts), and its table."""
    root = tmp_path_factory.mktemp("pristine")
    grid = root / "grid.toml"
    grid.write_text(grid_toml(seeds=(0, 1)))
    out = root / "study"
    return grid, out, run_study(Grid.from_toml(grid), out, shard_size=1, threads=1, progress=False)


@pytest.fixture
def study(pristine, tmp_path):
    """A fresh copy of the pristine study to damage: (grid file, study dir, reference table)."""
    grid, out, reference = pristine
    copy = tmp_path / "study"
    shutil.copytree(out, copy)
    return grid, copy, reference


def _save(path, **arrays):
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _damage_arrays(path, kind):
    good = dict(np.load(path, allow_pickle=False))
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "missing keys":
        _save(path, **{k: v for k, v in good.items() if k not in ("z", "mu")})
    elif kind == "wrong shapes":
        _save(path, **dict(good, mu=good["mu"][:-3]))
    elif kind == "object array":
        _save(path, **dict(good, recon=np.array([{"a": 1}] * len(good["recon"]), dtype=object)))
    elif kind == "bare pickle":
        path.write_bytes(pickle.dumps(good))
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    return {"empty": "not a zip archive", "missing keys": "arrays ['mu', 'z'] are missing",
            "wrong shapes": f"array 'mu' has shape {good['mu'][:-3].shape}, expected {good['mu'].shape}",
            "object array": "array 'recon' has dtype object, not numbers",
            "bare pickle": "not a zip archive", "truncated": "not a zip archive"}[kind]


ARRAY_DAMAGE = [("empty", "missing keys", "wrong shapes"), ("object array", "bare pickle", "truncated")]


@pytest.mark.parametrize("kinds", ARRAY_DAMAGE, ids=", ".join)
def test_broken_arrays_files_are_named_by_the_report_and_the_other_runs_reported(study, tmp_path, kinds,
                                                                                  capsys):
    _, out, reference = study
    hurt = {}
    runs = reference[["run_id", "latent_dim"]].itertuples(index=False)
    for (rid, d), kind in zip(runs, kinds, strict=False):
        path = out / "runs" / rid / "arrays.npz"
        hurt[rid] = (path, _damage_arrays(path, kind))
        with pytest.raises(StudyError) as err:
            load_artifacts(out, rid)
        assert str(err.value).startswith(f"{path}: broken artifacts (") and hurt[rid][1] in str(err.value)
        assert check_run(out, rid, d, 64).startswith(f"{path}: {hurt[rid][1]}")

    report = tmp_path / "report"
    assert report_main(["--from", str(out), "--out", str(report)]) == 0
    log = capsys.readouterr().err
    table = pd.read_parquet(report / "results.parquet").set_index("run_id")
    md = (report / "report.md").read_text()
    for rid, (path, why) in hurt.items():
        assert f"report: run {rid} left out: {path}: broken artifacts" in log and why in log
        assert table.loc[rid, "status"] == "broken" and str(path) in table.loc[rid, "reason"]
        assert rid in md and why in md
    assert f"4 (1 ok, {len(hurt)} diverged, failed or broken)" in md
    others = table.drop(index=list(hurt))
    assert len(others) == 1 and (others["status"] == "ok").all()
    assert others["z_directions_kept"].notna().all()  # the other run's stored shape metrics are there
    assert len(list(report.glob("fig*.png"))) >= 3  # figures are drawn from the run that is whole


@pytest.mark.parametrize("kinds", ARRAY_DAMAGE, ids=", ".join)
def test_run_retrains_runs_whose_arrays_are_broken(study, kinds, capsys):
    grid, out, reference = study
    rids = list(reference["run_id"].iloc[1:])
    for rid, kind in zip(rids, kinds, strict=True):
        _damage_arrays(out / "runs" / rid / "arrays.npz", kind)
    assert main(["run", str(grid), "--out", str(out), "--shard-size", "1"]) == 0
    err = capsys.readouterr().err
    assert "4 runs, 1 stored, 3 to train" in err
    for rid, d in reference[["run_id", "latent_dim"]].itertuples(index=False):
        if rid in rids:
            assert f"run {rid}: broken artifacts ({out / 'runs' / rid / 'arrays.npz'}: " in err
        assert check_run(out, rid, d, 64) is None
        assert load_artifacts(out, rid)["mu"].shape == (64, d)
    stored = load_results(out, list(reference["run_id"]))
    pd.testing.assert_frame_equal(comparable(stored), comparable(reference))


def test_arrays_of_another_evaluation_size_or_latent_are_broken(study):
    _, out, reference = study
    rid, d = reference["run_id"].iloc[0], int(reference["latent_dim"].iloc[0])
    path = out / "runs" / rid / "arrays.npz"
    assert check_run(out, rid, d, 64) is None and check_run(out, rid) is None
    assert check_run(out, rid, d, 65) == f"{path}: holds 64 evaluation points, the study's n_eval is 65"
    assert check_run(out, rid, d + 1, 64) == f"{path}: array 'mu' has shape (64, {d}), expected (64, {d + 1})"
    (out / "runs" / rid / "weights.pt").write_bytes(b"")
    assert check_run(out, rid, d, 64) == f"{out / 'runs' / rid / 'weights.pt'}: not a torch.save archive " \
                                         f"(empty, truncated or another format)"
    (out / "runs" / rid / "config.json").unlink()
    (out / "runs" / rid / "weights.pt").unlink()
    assert check_run(out, rid, d, 64) == f"{out / 'runs' / rid / 'weights.pt'}: missing"


def test_a_broken_history_file_is_named_and_retrained(study, tmp_path, capsys):
    grid, out, reference = study
    rid = reference["run_id"].iloc[0]
    path = out / "runs" / rid / "history.parquet"
    path.write_bytes(b"PAR1 not really")
    assert report_main(["--from", str(out), "--out", str(tmp_path / "r")]) == 0
    assert f"report: run {rid} left out: {path}: broken artifacts (not a readable Parquet table" in \
        capsys.readouterr().err
    assert run_study(Grid.from_toml(grid), out, shard_size=1, progress=False)["status"].eq("ok").all()
    assert check_run(out, rid) is None


def _write_part_bytes(out, df):
    """A part whose checksum name is right for its (tampered) bytes."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    data = buf.getvalue()
    path = out / "results" / f"part-{hashlib.sha256(data).hexdigest()[:16]}.parquet"
    path.write_bytes(data)
    return path


TYPE_DAMAGE = {
    "diverged_step": ("n/a", "column 'diverged_step' holds 'n/a', expected integers"),
    "beta": ("high", "column 'beta' holds 'high', expected numbers"),
    "seed": (0.5, "column 'seed' holds 0.5, expected integers"),
    "hidden": ("[30,", "column 'hidden' holds '[30,', expected JSON text"),
    "mse": ("low", "column 'mse' holds 'low', expected numbers"),
    "status": ("fine", "status 'fine' is not one of ['ok', 'diverged', 'eval_failed']"),
    "run_id": ("../../etc", "run_id '../../etc' is not 16 hex digits"),
}


def _tamper_part(out, column, value):
    part = sorted((out / "results").glob("part-*.parquet"))[0]
    df = pq.read_table(part).to_pandas()
    df[column] = df[column].astype(object)
    df.loc[0, column] = value
    part.unlink()
    return _write_part_bytes(out, df)


@pytest.mark.parametrize("column", sorted(TYPE_DAMAGE))
def test_a_part_of_the_right_checksum_but_wrong_types_is_named_and_skipped(study, column, capsys):
    _, out, _ = study
    value, why = TYPE_DAMAGE[column]
    bad = _tamper_part(out, column, value)
    assert scan_parts(out).corrupt == [(bad, why)]
    assert len(load_results(out, on_corrupt="skip")) == 3
    with pytest.raises(StudyError, match=f"{bad}: corrupted part file"):
        load_results(out)
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"corrupted part {bad}: {why}" in text and "pending   1" in text


def test_a_part_of_wrong_types_is_reported_around_then_set_aside_and_its_runs_retrained(study, capsys):
    grid, out, reference = study
    bad = _tamper_part(out, "diverged_step", "n/a")
    why = TYPE_DAMAGE["diverged_step"][1]
    assert report_main(["--from", str(out), "--out", str(out.parent / "report")]) == 0
    assert f"corrupted part, left out: {bad} ({why})" in capsys.readouterr().err
    assert len(pd.read_parquet(out.parent / "report" / "results.parquet")) == 3
    assert main(["run", str(grid), "--out", str(out), "--shard-size", "1"]) == 0
    assert f"{bad} is corrupted ({why}); moved to {bad.name}.corrupt" in capsys.readouterr().err
    assert (out / "results" / f"{bad.name}.corrupt").exists()
    pd.testing.assert_frame_equal(comparable(load_results(out)), comparable(reference))


def test_rows_of_runs_of_no_grid_run_are_ignored_and_named_once(study, tmp_path, capsys):
    grid, out, reference = study
    stranger = RunConfig(n_train=300, steps=20, batch_size=32, hidden=[16], seed=99)
    row = pq.read_table(sorted((out / "results").glob("part-*.parquet"))[0]).to_pandas()
    row["run_id"] = run_id(stranger)
    row["seed"] = 99
    foreign = _write_part_bytes(out, row)  # copied in from another study: no runs/<id>/ here

    assert report_main(["--from", str(out), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert err.count("runs of no grid run, ignored") == 1
    assert f"runs of no grid run, ignored: 1 in {foreign} (e.g. {run_id(stranger)})" in err
    table = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert sorted(table["run_id"]) == sorted(reference["run_id"]) and (table["status"] == "ok").all()
    assert main(["status", str(out)]) == 0
    assert "stored runs not in the current grid: 1" in capsys.readouterr().out
    assert main(["run", str(grid), "--out", str(out)]) == 0
    assert "4 runs stored" in capsys.readouterr().out


STUDY_SHAPES = {
    "5": "holds 5, not a JSON object",
    "[]": "holds [], not a JSON object",
    '{"runs": 5}': "runs = 5: must be a JSON list",
    '{"runs": [5]}': "runs[0] = 5: must be an object with a run_id of 16 hex digits",
    '{"runs": [{"run_id": "../x", "config": {}}]}': "runs[0] = {'run_id': '../x', 'config': {}}: must be",
    '{"name": ["x"]}': "name = ['x']: must be a JSON str",
    '{"n_eval": "many"}': "n_eval = 'many': must be a JSON int",
    "[" * 100_000: "nested too deeply",
}


@pytest.mark.parametrize("text", sorted(STUDY_SHAPES), ids=lambda t: t[:20])
def test_a_study_json_of_the_wrong_shape_is_one_line_naming_the_file(study, text, capsys):
    grid, out, _ = study
    (out / "study.json").write_text(text)
    expected = f"error: {out / 'study.json'}: not a valid study record ("
    for argv, entry in [(["status", str(out)], main), (["run", str(grid), "--out", str(out)], main),
                        (["--from", str(out), "--out", str(out.parent / "r")], report_main)]:
        assert entry(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(expected) and STUDY_SHAPES[text] in err and err.count("\n") == 1, (argv, err)
        assert len(err) < 600
