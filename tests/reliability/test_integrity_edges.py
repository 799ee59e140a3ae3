"""vaebench.integrity at its edges: booleans where numbers belong (a part's columns, study.json's fields),
run ids that begin like a valid id and go on with path characters, and each check's boundary (exactly
what is allowed passes, one past it fails with a message naming the field and the value)."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from vaebench import RunConfig
from vaebench.grid import run_id
from vaebench.integrity import STATUSES, check_arrays, check_arrays_file, check_part_table, check_study_record
from vaebench.store import BASE_COLUMNS, config_row

pytestmark = pytest.mark.reliability
RID = run_id(RunConfig(seed=0))
RIDS = [RID, run_id(RunConfig(seed=1))]


def part(**columns) -> pd.DataFrame:
    """A valid two-row part (two runs' rows as the store writes them), with ``columns`` replaced."""
    rows = [{"run_id": rid, "status": "ok", "diverged_step": None, "reason": "",
             **config_row(RunConfig(seed=s)), "mse": 0.05 + s, "engine": "fused",
             "train_seconds": 1.0, "eval_seconds": 0.5}
            for s, rid in enumerate(RIDS)]
    df = pd.DataFrame(rows)
    df["diverged_step"] = df["diverged_step"].astype("Int64")
    for name, values in columns.items():
        df[name] = pd.Series(values, dtype=object if any(isinstance(v, bool) for v in values) and
                             not all(isinstance(v, bool) for v in values) else None)
    return df


def test_the_valid_part_passes():
    check_part_table(part(), BASE_COLUMNS)


# ---- booleans where numbers belong ------------------------------------------------------------------

BOOL_COLUMNS = {  # column: (expected kind in the message); each as an all-bool column and mixed in
    "mse": "numbers", "beta": "numbers", "lr": "numbers", "train_seconds": "numbers",
    "seed": "integers", "steps": "integers", "latent_dim": "integers", "diverged_step": "integers",
}


@pytest.mark.parametrize("column", sorted(BOOL_COLUMNS))
@pytest.mark.parametrize("values", [[True, False], [False, 1]], ids=["all-bool", "mixed"])
def test_booleans_in_a_number_column_are_refused_naming_the_column(column, values):
    check_part_table(part(**{column: [1, 2]}), BASE_COLUMNS)  # the same column of numbers passes
    with pytest.raises(ValueError) as err:
        check_part_table(part(**{column: values}), BASE_COLUMNS)
    assert str(err.value) == f"column {column!r} holds {values[0]!r}, expected {BOOL_COLUMNS[column]}"


def test_a_stored_part_with_a_boolean_column_is_corrupted_and_named(tmp_path):
    """Through the store: a part whose checksum name is right but whose seed column is boolean."""
    from vaebench.store import prepare_dir, scan_parts, write_part

    out = prepare_dir(tmp_path / "s")
    df = part()
    write_part(out, df.to_dict("records"))
    bad = write_part(out, part(seed=[True, False], run_id=[RIDS[1], RIDS[0]]).to_dict("records"))
    scan = scan_parts(out)
    assert len(scan.good) == 1 and scan.corrupt == [(bad, "column 'seed' holds True, expected integers")]


def test_booleans_in_text_and_json_columns_are_refused():
    for column, kind in (("reason", "text"), ("engine", "text"), ("hidden", "JSON text"),
                         ("variant", "text")):
        with pytest.raises(ValueError, match=f"^column '{column}' holds True, expected {kind}$"):
            check_part_table(part(**{column: [True, True]}), BASE_COLUMNS)


@pytest.mark.parametrize("key", ["n_eval", "results_version"])
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_integer_field_of_study_json_is_refused(key, value):
    check_study_record({key: 7})  # an integer passes
    with pytest.raises(ValueError, match=f"^{key} = {value}: must be a JSON int$"):
        check_study_record({key: value})


def test_study_json_fields_of_each_type_accept_their_type_and_refuse_booleans():
    good = {"name": "s", "n_eval": 64, "grid": {}, "runs": [{"run_id": RID, "config": {}}],
            "results_version": 3, "vaebench_version": "0.1"}
    check_study_record(good)
    for key in good:
        with pytest.raises(ValueError, match=f"^{key} = True: must be a JSON"):
            check_study_record({**good, key: True})


# ---- run ids that begin like a valid id -------------------------------------------------------------

BAD_IDS = [RID + "/../../etc", RID + "/x", RID + "\n", RID + "0", RID[:-1], RID.upper(), " " + RID,
           RID[:15] + "g", "../" + RID, ""]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_part_with_a_run_id_that_only_begins_like_one_is_refused(bad):
    with pytest.raises(ValueError, match=r"^run_id .* is not 16 hex digits$"):
        check_part_table(part(run_id=[RIDS[0], bad]), BASE_COLUMNS)


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_study_json_runs_with_a_run_id_that_only_begins_like_one_are_refused(bad):
    check_study_record({"runs": [{"run_id": RID, "config": {}}]})
    with pytest.raises(ValueError, match=r"^runs\[1\] = .*: must be an object with a run_id of 16 hex"):
        check_study_record({"runs": [{"run_id": RID, "config": {}}, {"run_id": bad, "config": {}}]})


def test_a_run_id_of_exactly_16_hex_digits_passes_at_both_ends_of_the_alphabet():
    for rid in ("0" * 16, "f" * 16, "0123456789abcdef"):
        check_part_table(part(run_id=[rid, RIDS[1]]), BASE_COLUMNS)
        check_study_record({"runs": [{"run_id": rid, "config": {"seed": 0}}]})


# ---- the part table's other boundaries --------------------------------------------------------------

def test_every_status_passes_and_nothing_else():
    for status in STATUSES:
        check_part_table(part(status=[status, "ok"]), BASE_COLUMNS)
    for bad in ("OK", "ok ", "", None, True):
        with pytest.raises(ValueError, match=r"^status .* is not one of \['ok', 'diverged', 'eval_failed'\]"):
            check_part_table(part(status=["ok", bad]), BASE_COLUMNS)


def test_integer_columns_take_whole_floats_and_refuse_fractions_and_infinities():
    check_part_table(part(seed=[0.0, 2.0], diverged_step=[None, 17]), BASE_COLUMNS)  # NaN: "not set"
    for bad in (2.5, 1e-9 + 3, np.inf, -np.inf):
        with pytest.raises(ValueError, match=r"^column 'seed' holds .*, expected integers$"):
            check_part_table(part(seed=[0.0, bad]), BASE_COLUMNS)


def test_required_columns_exactly_present_pass_one_missing_or_repeated_fails():
    df = part()
    check_part_table(df, BASE_COLUMNS)
    for name in BASE_COLUMNS:
        with pytest.raises(ValueError, match=rf"^columns \['{name}'\] are missing$"):
            check_part_table(df.drop(columns=[name]), BASE_COLUMNS)
    twice = pd.concat([df, df[["mse"]]], axis=1)
    with pytest.raises(ValueError, match="^a column name is repeated$"):
        check_part_table(twice, BASE_COLUMNS)


def test_json_columns_take_json_text_and_refuse_broken_json():
    check_part_table(part(hidden=["[8]", "[]"], params=["{}", '{"c_max": 1.0}']), BASE_COLUMNS)
    for bad in ("[8", "{", "nan nan"):
        with pytest.raises(ValueError, match=r"^column 'hidden' holds .*, expected JSON text$"):
            check_part_table(part(hidden=["[8]", bad]), BASE_COLUMNS)


# ---- the arrays' boundaries -------------------------------------------------------------------------

def arrays(n: int = 3, D: int = 2, d: int = 1, **replace) -> dict[str, np.ndarray]:
    out = {"x": np.zeros((n, D)), "quadrant": np.zeros(n, dtype=np.int64), "mu": np.zeros((n, d)),
           "logvar": np.zeros((n, d)), "z": np.zeros((n, d)), "recon": np.zeros((n, D)),
           "recon_mean": np.zeros((n, D)), "generated": np.zeros((n, D))}
    out.update(replace)
    return out


def npz(tmp_path, values) -> object:
    buf = io.BytesIO()
    np.savez(buf, **values)
    path = tmp_path / "arrays.npz"
    path.write_bytes(buf.getvalue())
    return path


def test_one_point_and_one_latent_dimension_pass_none_fails():
    check_arrays(arrays(n=1, D=1, d=1))
    with pytest.raises(ValueError, match=r"^array 'x' has shape \(0, 2\), expected \[n, \.\.\.\]$"):
        check_arrays(arrays(n=0))
    with pytest.raises(ValueError, match=r"^array 'mu' has shape \(3, 0\), expected \(3, 0\)$|"
                                         r"^array 'mu' has shape \(3, 0\)"):
        check_arrays(arrays(d=0))


@pytest.mark.parametrize("name", ["quadrant", "mu", "logvar", "z", "recon", "recon_mean", "generated"])
def test_every_array_with_one_row_too_many_or_too_few_is_refused(name):
    good = arrays(n=5, D=2, d=2)
    check_arrays(good)
    for rows in (4, 6):
        bad = np.zeros((rows,) + good[name].shape[1:], dtype=good[name].dtype)
        with pytest.raises(ValueError, match=f"^array '{name}' has shape \\({rows}"):
            check_arrays(dict(good, **{name: bad}))


@pytest.mark.parametrize("name", ["x", "mu", "recon", "generated"])
def test_every_matrix_with_one_column_too_many_is_refused(name):
    good = arrays(n=4, D=2, d=2)
    cols = good[name].shape[1] + 1
    with pytest.raises(ValueError, match="^array '(x|recon|mu|logvar|z|recon_mean|generated)' has shape"):
        check_arrays(dict(good, **{name: np.zeros((4, cols))}))


def test_a_quadrant_of_one_column_is_not_a_vector():
    with pytest.raises(ValueError, match=r"^array 'quadrant' has shape \(3, 1\), expected \(3,\)$"):
        check_arrays(arrays(quadrant=np.zeros((3, 1))))


def test_n_eval_and_latent_dim_exactly_pass_one_off_fails(tmp_path):
    path = npz(tmp_path, arrays(n=10, D=2, d=2))
    check_arrays_file(path, latent_dim=2, n_eval=10)
    for n_eval in (9, 11):
        with pytest.raises(ValueError, match=f"^holds 10 evaluation points, the study's n_eval is {n_eval}$"):
            check_arrays_file(path, latent_dim=2, n_eval=n_eval)
    for d in (1, 3):
        with pytest.raises(ValueError, match=rf"^array 'mu' has shape \(10, 2\), expected \(10, {d}\)$"):
            check_arrays_file(path, latent_dim=d, n_eval=10)


def test_booleans_and_objects_are_not_numbers_in_arrays(tmp_path):
    for dtype in (bool, object, "U3", complex):
        with pytest.raises(ValueError, match=rf"^array 'mu' has dtype {np.dtype(dtype)}, not numbers$"):
            check_arrays(arrays(mu=np.zeros((3, 1), dtype=dtype)))


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    path = npz(tmp_path, arrays())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(ValueError, match=r"^member '\.\./evil\.txt' is not a \.npy array$"):
        check_arrays_file(path)
