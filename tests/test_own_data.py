"""A user's own points as a data set: `dataset = "points.npy"` or `"points.csv"` in a grid file."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vaebench
from vaebench import data, store
from vaebench.grid import Grid, run_id

STUDY = """[study]
name = "own"
n_eval = {n_eval}
n_train = {n_train}
steps = 40
batch_size = 32
dataset = "{dataset}"
[grid]
beta = [0.01]
seed = [0, 1]
"""


def _grid_file(folder: Path, dataset: str, n_train: int = 200, n_eval: int = 100) -> Path:
    path = folder / "grid.toml"
    path.write_text(STUDY.format(dataset=dataset, n_train=n_train, n_eval=n_eval))
    return path


@pytest.fixture
def points(tmp_path):
    pts = np.random.default_rng(7).normal(loc=(3.0, -2.0), scale=(2.0, 0.5), size=(400, 2))
    np.save(tmp_path / "points.npy", pts)
    np.savetxt(tmp_path / "points.csv", pts, delimiter=",", header="x,y")
    return pts.astype(np.float32)


def test_npy_and_csv_give_the_same_content_id(tmp_path, points):
    ids = {Grid.from_toml(_grid_file(tmp_path, name)).configs()[0].dataset
           for name in ("points.npy", "points.csv")}
    assert ids == {data.points_id(points)}
    assert len(ids.pop()) == len("points:") + 16


def test_rows_are_drawn_without_replacement_per_seed(tmp_path, points):
    pid = Grid.from_toml(_grid_file(tmp_path, "points.npy")).configs()[0].dataset
    rows = {tuple(p) for p in points}
    for seed in (0, 1):
        train = data.training_points(pid, 200, seed)
        held = data.evaluation_points(pid, 200, 100, seed)
        assert train.shape == (200, 2) and held.shape == (100, 2)
        both = np.concatenate([train, held])
        assert {tuple(p) for p in both} <= rows  # every row comes from the file
        assert len({tuple(p) for p in both}) == 300  # no row twice: training and evaluation disjoint
        np.testing.assert_array_equal(train, data.training_points(pid, 200, seed))  # seeded
    assert not np.array_equal(data.training_points(pid, 200, 0), data.training_points(pid, 200, 1))
    with pytest.raises(ValueError, match="400 rows, fewer than the 401"):
        data.evaluation_points(pid, 300, 101, 0)


def test_a_study_on_own_points_trains_stores_and_keeps_a_copy(tmp_path, points):
    out = tmp_path / "out"
    df = vaebench.run_study(_grid_file(tmp_path, "points.npy"), out, progress=False)
    assert list(df["status"]) == ["ok", "ok"]
    assert set(df["dataset"]) == {data.points_id(points)}
    np.testing.assert_array_equal(store.read_points(out, data.points_id(points)), points)
    arrays = store.load_artifacts(out, df["run_id"].iloc[0])
    # evaluation points are rows of the file, coloured by quadrant around the middle of its box
    assert {tuple(p) for p in arrays["x"]} <= {tuple(p) for p in points}
    middle = (points.min(axis=0) + points.max(axis=0)) / 2
    np.testing.assert_array_equal(arrays["quadrant"], data.quadrant(arrays["x"], middle))
    assert len(set(arrays["quadrant"])) == 4


def test_an_edited_file_never_reuses_stored_results(tmp_path, points):
    out = tmp_path / "out"
    grid = _grid_file(tmp_path, "points.npy")
    first = vaebench.run_study(grid, out, progress=False)
    edited = points.copy()
    edited[0, 0] += 1.0
    np.save(tmp_path / "points.npy", edited)
    second = vaebench.run_study(grid, out, progress=False)
    assert set(second["run_id"]).isdisjoint(first["run_id"])  # new identity: trained again
    assert set(second["dataset"]) == {data.points_id(edited)}
    assert list(second["status"]) == ["ok", "ok"]
    assert (out / "data").is_dir() and len(list((out / "data").iterdir())) == 2  # both copies kept


def test_the_content_not_the_path_is_the_identity(tmp_path, points):
    a = Grid.from_toml(_grid_file(tmp_path, "points.npy")).configs()
    (tmp_path / "moved").mkdir()
    np.save(tmp_path / "moved" / "other-name.npy", points)
    b = Grid.from_toml(_grid_file(tmp_path, "moved/other-name.npy")).configs()
    assert [run_id(c) for c in a] == [run_id(c) for c in b]


@pytest.mark.parametrize("content, message", [
    (np.zeros((500, 3)), r"grid\.toml|shape \(500, 3\); expected \[N, 2\]"),
    (np.zeros(500), r"shape \(500,\); expected \[N, 2\]"),
    (np.array([[0.0, 1.0]] * 299 + [[np.nan, 0.0]]), r"row 299 is not finite"),
    (np.array([[0.0, np.inf]] * 300), r"row 0 is not finite"),
    (np.zeros((299, 2)), r"299 rows, fewer than n_train \+ n_eval = 200 \+ 100"),
    (np.array([["a", "b"]] * 300), r"holds <U1 values; expected numbers"),
])
def test_a_bad_npy_file_is_one_line_naming_it(tmp_path, content, message):
    np.save(tmp_path / "bad.npy", content)
    with pytest.raises(ValueError, match=message) as err:
        Grid.from_toml(_grid_file(tmp_path, "bad.npy"))
    assert "'bad.npy'" in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("study.dataset = ")


def test_exactly_enough_rows_is_enough(tmp_path):
    np.save(tmp_path / "edge.npy", np.random.default_rng(0).random((300, 2)))
    assert Grid.from_toml(_grid_file(tmp_path, "edge.npy")).size == 2


@pytest.mark.parametrize("name, text, message", [
    ("missing.csv", None, "no such file"),
    ("ragged.csv", "0,1\n2\n", "not a readable .csv file"),
    ("words.csv", "a,b\nc,d\n", "not a readable .csv file"),
])
def test_a_bad_csv_file_is_one_line_naming_it(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        Grid.from_toml(_grid_file(tmp_path, name))
    assert f"'{name}'" in str(err.value) and "\n" not in str(err.value)


def test_a_pickle_is_never_loaded(tmp_path):
    (tmp_path / "evil.npy").write_bytes(pickle.dumps([[0.0, 1.0]] * 400))
    with pytest.raises(ValueError, match="not a readable .npy file"):
        Grid.from_toml(_grid_file(tmp_path, "evil.npy"))
    np.save(tmp_path / "objects.npy", np.array([[0.0, 1.0]] * 400, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a readable .npy file"):
        Grid.from_toml(_grid_file(tmp_path, "objects.npy"))


def test_a_damaged_copy_is_named(tmp_path, points):
    out = tmp_path / "out"
    vaebench.run_study(_grid_file(tmp_path, "points.npy"), out, progress=False)
    pid = data.points_id(points)
    copy = out / "data" / f"{pid.removeprefix('points:')}.npy"
    np.save(copy, points[:-1])
    with pytest.raises(store.StudyError, match="do not match their content id"):
        store.read_points(out, pid)


def test_an_unknown_points_id_is_refused_where_it_is_used():
    with pytest.raises(ValueError, match="not loaded in this process"):
        data.training_points("points:" + "0" * 16, 10, 0)
    with pytest.raises(ValueError, match=r"must be one of \[.*\] or a .npy or .csv file"):
        vaebench.RunConfig(dataset="points:xyz")


def test_the_cli_prints_one_line_for_a_bad_file(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((10, 3)))
    proc = subprocess.run([sys.executable, "-m", "vaebench", "run", str(_grid_file(tmp_path, "bad.npy")),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.npy" in lines[0] and "expected [N, 2]" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dask_workers_get_the_points_with_their_task_not_the_path(tmp_path, points):
    """Workers are other processes that never read the file (it is gone before the study runs): the
    points travel with each task, and the table equals the local one."""
    import pandas as pd

    pytest.importorskip("distributed")
    grid = Grid.from_toml(_grid_file(tmp_path, "points.npy"))
    (tmp_path / "points.npy").unlink()
    local = vaebench.run_study(grid, tmp_path / "local", progress=False, threads=1)
    dask = vaebench.run_study(grid, tmp_path / "dask", executor="dask", workers=2, progress=False)
    drop = [c for c in local if c.endswith("_seconds")]
    pd.testing.assert_frame_equal(dask.drop(columns=drop), local.drop(columns=drop), check_exact=True)
    assert list(dask["status"]) == ["ok", "ok"]
