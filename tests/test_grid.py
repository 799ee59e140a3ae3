"""Grid files and vaebench.Grid: the issue's example as written, sub-grids, run ids, and a table of bad
files (tests/grids_bad/), each with the message it must give."""

import hashlib
import itertools
import json
import tomllib
from pathlib import Path

import pytest

import vaebench
from vaebench import Grid, RunConfig
from vaebench.cli import main
from vaebench.grid import MAX_RUNS, run_id

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "grids_bad"

ISSUE_EXAMPLE = """
[study]
name = "smoke"
dataset = "uniform"
n_train = 2000
steps = 300
batch_size = 128
lr = 1e-3
hidden = [30, 30]

[grid]
variant = ["vae"]
latent_dim = [2, 1]
beta = [0.01, 0.1]
l2 = [0.0, 0.01]
schedule = ["constant", "linear"]
seed = [0, 1]
"""


def test_the_issue_example_works_as_written_and_is_grids_smoke(tmp_path):
    path = tmp_path / "example.toml"
    path.write_text(ISSUE_EXAMPLE)
    grid = Grid.from_toml(path)
    cfgs = grid.configs()
    assert grid.name == "smoke" and grid.n_eval == 5000 and len(cfgs) == 32
    expected = {(d, b, l2, s, seed) for d, b, l2, s, seed in itertools.product(
        [2, 1], [0.01, 0.1], [0.0, 0.01], ["constant", "linear"], [0, 1])}
    assert {(c.latent_dim, c.beta, c.l2, c.schedule, c.seed) for c in cfgs} == expected
    assert {(c.n_train, c.steps, c.batch_size, c.lr, c.hidden, c.variant) for c in cfgs} == \
        {(2000, 300, 128, 1e-3, (30, 30), "vae")}
    smoke = Grid.from_toml(ROOT / "grids" / "smoke.toml")
    assert [run_id(c) for c in smoke.configs()] == [run_id(c) for c in cfgs]


def test_seed_figures_grid_is_the_reports_study():
    # the confirmatory study of protocol v2 (its seeds and cells: tests/analysis/test_analysis_protocol.py)
    grid = Grid.from_toml(ROOT / "grids" / "seed-figures.toml")
    cfgs = grid.configs()
    assert {c.variant for c in cfgs} == {"vae"}
    fixed = [c for c in cfgs if c.schedule == "constant"]
    assert {c.l2 for c in fixed} == {0.0, 1e-4, 3e-4, 5e-4} and {c.latent_dim for c in fixed} == {1, 2}
    assert {c.beta for c in fixed} == {0.01, 0.1}
    assert {c.schedule for c in cfgs} == {"constant", "linear", "cyclical", "sigmoid"}
    assert {c.steps for c in cfgs} == {3000, 30000}
    assert all((c.n_train, c.batch_size, c.lr) == (10000, 128, 1e-3) for c in cfgs)


def test_python_grid_equals_the_toml_grid():
    data = tomllib.loads(ISSUE_EXAMPLE)
    from_python = Grid(study=data["study"], axes=data["grid"])
    from_file = Grid.from_dict(data)
    assert [run_id(c) for c in from_python.configs()] == [run_id(c) for c in from_file.configs()]
    assert Grid.from_dict(from_python.to_dict()).configs() == from_python.configs()


def test_run_id_is_the_sha256_of_the_canonical_config_and_version(monkeypatch):
    cfg = RunConfig(beta=0.1, seed=3)
    text = json.dumps({"config": cfg.to_dict(), "results_version": vaebench.RESULTS_VERSION},
                      sort_keys=True, separators=(",", ":"))
    assert run_id(cfg) == hashlib.sha256(text.encode()).hexdigest()[:16]
    # equal configs however written; any field, the variant's resolved params, the version change it
    assert run_id(RunConfig(beta=1, hidden=[30, 30])) == run_id(RunConfig(beta=1.0, hidden=(30, 30)))
    capacity = RunConfig(variant="capacity")
    assert run_id(capacity) == run_id(RunConfig(variant="capacity", params={"c_max": 5.0}))
    assert run_id(cfg) != run_id(cfg.replace(seed=4)) != run_id(cfg.replace(device="auto"))
    before = run_id(cfg)
    monkeypatch.setattr(vaebench.version, "RESULTS_VERSION", vaebench.RESULTS_VERSION + 1)
    assert run_id(cfg) != before


def test_run_id_is_stable_across_releases():
    # pinned ids: if this fails, every stored study would be trained again; bump RESULTS_VERSION
    # deliberately (and update these) only when trained numbers change
    pinned = {1: ("dc1846395f0cfeb1", "e52d4b02c1bf5cd2"), 4: ("6a725af35a80a0ef", "0969418a34f5fe88"),
              5: ("ed6e90d2fd4dce79", "6ea6c3ca4f32663a"), 6: ("920e6c0d2fc27c14", "9919d4cbae8a5dea")}
    assert vaebench.RESULTS_VERSION in pinned, "pin the ids of the new RESULTS_VERSION here"
    default, capacity = pinned[vaebench.RESULTS_VERSION]
    assert run_id(RunConfig()) == default
    assert run_id(RunConfig(variant="capacity", beta=0.1, seed=7, hidden=[8])) == capacity


def test_subgrids_cross_study_only_override_it_and_deduplicate():
    grid = Grid(study={"steps": 50, "beta": 0.5},
                axes={"latent_dim": [1, 2], "seed": [0, 1]},
                subgrids={"wae": {"variant": ["wae"], "beta": [10.0]},
                          "again": {"seed": [1, 2]},  # latent_dim 2 (default), seed 1 is also in [grid]
                          "cap": {"variant": ["capacity"], "params": {"c_max": [1.0, 5.0]}}})
    cfgs = grid.configs()
    assert [(c.variant, c.latent_dim, c.seed, c.beta) for c in cfgs[:4]] == \
        [("vae", d, s, 0.5) for d in (1, 2) for s in (0, 1)]
    assert [(c.variant, c.beta, c.seed, c.latent_dim) for c in cfgs[4:5]] == [("wae", 10.0, 0, 2)]
    assert [(c.variant, c.seed) for c in cfgs[5:6]] == [("vae", 2)]  # (2, 1) was a duplicate
    assert [(c.variant, c.params["c_max"]) for c in cfgs[6:]] == [("capacity", 1.0), ("capacity", 5.0)]
    assert len({run_id(c) for c in cfgs}) == len(cfgs) == grid.size == 8


def test_without_a_grid_table_the_study_is_one_run_or_just_its_subgrids():
    assert len(Grid(study={"beta": 0.2}).configs()) == 1
    only_sub = Grid(study={"beta": 0.2}, subgrids={"s": {"seed": [5, 6]}}).configs()
    assert [c.seed for c in only_sub] == [5, 6]


def test_params_axes_as_table_of_lists_or_list_of_tables_merge_with_study_params():
    a = Grid(study={"variant": "capacity", "params": {"c_warmup": 0.25}}, subgrids={
        "x": {"params": {"c_max": [1.0, 2.0]}}}).configs()
    b = Grid(study={"variant": "capacity", "params": {"c_warmup": 0.25}}, subgrids={
        "x": {"params": [{"c_max": 1.0}, {"c_max": 2.0}]}}).configs()
    assert a == b and [dict(c.params) for c in a] == [{"c_max": 1.0, "c_warmup": 0.25},
                                                      {"c_max": 2.0, "c_warmup": 0.25}]


def test_hidden_axis_and_device_override():
    grid = Grid(study={"device": "auto"}, axes={"hidden": [[30, 30], [8]]})
    assert [c.hidden for c in grid.configs()] == [(30, 30), (8,)]
    assert {c.device for c in grid.configs(device="cpu")} == {"cpu"}


def test_a_huge_grid_is_refused_with_its_count_before_any_run_is_built(monkeypatch):
    built = []
    monkeypatch.setattr("vaebench.grid.RunConfig", lambda **kw: built.append(kw))
    expected = rf"grid size = {MAX_RUNS + 3} runs: more than the limit of {MAX_RUNS} \(grid: {MAX_RUNS + 1}; "
    with pytest.raises(ValueError, match=expected + r"grids.x: 1; grids.y: 1\)"):
        Grid(axes={"seed": list(range(MAX_RUNS + 1))}, subgrids={"x": {"beta": [1.0]}, "y": {"beta": [2.0]}})
    assert built == []


# Each malformed file of tests/grids_bad/ and (a fragment of) the one line it must give.
BAD_FILES = {
    "syntax_error.toml": "syntax_error.toml': invalid TOML: Expected ']' at the end of a table declaration",
    "missing_equals.toml": "invalid TOML: Expected '=' after a key",
    "not_utf8.toml": "not UTF-8 text",
    "empty_file.toml": "grid file is empty",
    "unknown_table.toml": "gird: unknown table (allowed: study, grid, grids); did you mean [grid]?",
    "unknown_study_key.toml": "study.betta: unknown key (allowed: batch_size, beta,",
    "unknown_axis.toml": "grid.sead: unknown key (allowed: dataset,",
    "study_not_table.toml": "study = 5: must be a table",
    "grids_not_table.toml": "grids.extra = 1: a sub-grid must be a table",
    "subgrid_scalar.toml": "grids.wae.variant = 'wae': an axis must be a list of values",
    "wrong_type_beta.toml": "grid.beta = 'high': must be a finite number >= 0",
    "wrong_type_steps.toml": "study.steps = 'many': must be an integer >= 1",
    "bool_as_number.toml": "grid.beta = True: must be a finite number",
    "negative_beta.toml": "grid.beta = -1.0: must be a finite number >= 0",
    "nan_beta.toml": "grid.beta = nan: must be a finite number >= 0",
    "inf_lr.toml": "study.lr = inf: must be a finite number > 0",
    "negative_l2.toml": "grid.l2 = -0.01: must be a finite number >= 0",
    "latent_dim_zero.toml": "grid.latent_dim = 0: must be an integer >= 1",
    "steps_zero.toml": "study.steps = 0: must be an integer >= 1",
    "fractional_steps.toml": "study.steps = 1.5: must be an integer",
    "negative_seed.toml": "grid.seed = -1: must be an integer >= 0",
    "datetime_value.toml": "grid.seed = datetime.date(1979, 5, 27): must be an integer",
    "empty_axis.toml": "grid.seed = []: an axis needs at least one value",
    "non_list_axis.toml": "grid.beta = 0.1: an axis must be a list of values",
    "list_in_study.toml": "study.beta = [0.1, 1.0]: [study] takes one value",
    "study_and_grid.toml": "grid.beta: also set in [study]",
    "setting_as_axis.toml": "grid.n_eval: a study setting, not an axis",
    "flat_hidden_axis.toml": "grid.hidden = [30, 30]: an axis of hidden must be a list of lists",
    "bad_hidden.toml": "study.hidden = 0: must be an integer >= 1",
    "unknown_variant.toml": "grid.variant = 'vqvae': must be one of ['ae', 'capacity',",
    "unknown_schedule.toml": "grid.schedule = 'cosine': must be one of ['constant', 'cyclical', 'linear'",
    "unknown_device.toml": "study.device = 'tpu': must be one of ['cpu', 'cuda', 'auto']",
    "unknown_dataset.toml": "study.dataset = 'mnist': must be one of",
    "unknown_param.toml": "grids.cap.params.c_maxx = 5.0: unknown parameter of variant 'capacity'",
    "negative_param.toml": "grids.cap.params.c_max = -5.0: must be a number >= 0",
    "param_for_other_variant.toml": "study.params.c_max = 5.0: unknown parameter of variant 'vae'",
    "params_not_table.toml": "study.params = 5.0: must be a table of the variant's parameters",
    "probit_1d.toml": "grids.ref.latent_dim = 1: variant 'probit' needs latent_dim = 2",
    "mmd_batch_one.toml": "grids.mmd.batch_size = 1: variant 'wae' estimates MMD² from the batch and needs "
                          "batch_size >= 2",
    "bad_n_eval.toml": "study.n_eval = 0: must be an integer >= 10",
    "name_not_string.toml": "study.name = 5: must be a string",
    "recon_var_zero.toml": "grid.recon_var = 0.0: must be a finite number > 0",  # open: σ² = 0 is no density
    "lr_zero.toml": "study.lr = 0.0: must be a finite number > 0",
    "warmup_zero.toml": "study.warmup = 0.0: must be a finite number > 0 and <= 1",
    # deep nesting: tomllib's recursion and the walk over the tables both end in one line
    "deep_inline_tables.toml": "deep_inline_tables.toml': tables or lists nested too deeply",
    "deep_arrays.toml": "deep_arrays.toml': tables or lists nested too deeply",
    "deep_headers.toml": "study.params.a.a.a.a.a.a.a.a: tables or lists nested more than 8 levels deep",
    "huge_grid.toml": f"grid size = 125000 runs: more than the limit of {MAX_RUNS} "
                      f"(grid: 50 × 50 × 50 = 125000)",
}


def test_the_bad_file_table_covers_the_corpus():
    assert sorted(BAD_FILES) == sorted(p.name for p in BAD.glob("*.toml"))


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_grid_file_gives_its_one_line_message(name):
    with pytest.raises(ValueError) as err:
        Grid.from_toml(BAD / name)
    assert BAD_FILES[name] in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_or_directory_grid_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="grid file = '.*nope.toml': no such file"):
        Grid.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="is a directory"):
        Grid.from_toml(tmp_path)


@pytest.mark.reliability
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_cli_rejects_each_bad_file_in_one_line_and_writes_nothing(name, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["run", str(BAD / name), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and BAD_FILES[name] in err
    assert not out.exists()


def test_keys_longer_than_the_limit_are_refused_by_length_and_shorter_ones_by_name():
    at_limit, over = "k" * 100, "k" * 101
    with pytest.raises(ValueError, match=r"^study\.k{77}\.\.\.: unknown key"):
        Grid.from_dict({"study": {at_limit: 1}})
    with pytest.raises(ValueError, match=r"^study\.k{37}\.\.\.: a key of 101 characters; keys have at most"):
        Grid.from_dict({"study": {over: 1}})
    with pytest.raises(ValueError, match="^grid.params.k{37}...: a key of 101 characters"):
        Grid.from_dict({"grid": {"params": {over: [1.0]}}})


def test_nesting_up_to_the_limit_is_walked_and_one_level_more_is_refused():
    def nested(levels):
        value = 1.0
        for _ in range(levels):
            value = [value]
        return value

    # [grid] beta = [[...]]: the axis is level 1 below "grid", its innermost number at levels + 1
    with pytest.raises(ValueError, match=r"^grid.beta = \[\[\[\[\[\[1.0\]\]\]\]\]\]: must be a finite"):
        Grid.from_dict({"grid": {"beta": nested(7)}})
    with pytest.raises(ValueError, match=r"^grid.beta(\[0\]){8}: tables or lists nested more than 8 levels"):
        Grid.from_dict({"grid": {"beta": nested(8)}})


def test_study_params_with_params_axes_in_several_subgrids_give_each_run_its_own_params():
    """[study] params crossed with two sub-grids that have a params axis and a third after them: each run
    has [study]'s params updated by its own axis value only (a dict shared between runs would carry one
    run's c_max into the next run and into the later sub-grids)."""
    grid = Grid.from_dict({
        "study": {"variant": "capacity", "steps": 50, "params": {"c_warmup": 0.25}},
        "grids": {"a": {"params": [{"c_max": 1.0}, {"c_warmup": 0.75}]},
                  "b": {"params": {"c_max": [2.0, 3.0]}, "seed": [0, 1]},
                  "c": {"seed": [7]}}})
    got = [(c.seed, dict(c.params)) for c in grid.configs()]
    default_c_max = 5.0  # vaebench.variants.capacity.CapacityParams
    assert got == [(0, {"c_max": 1.0, "c_warmup": 0.25}),
                   (0, {"c_max": default_c_max, "c_warmup": 0.75}),
                   (0, {"c_max": 2.0, "c_warmup": 0.25}), (1, {"c_max": 2.0, "c_warmup": 0.25}),
                   (0, {"c_max": 3.0, "c_warmup": 0.25}), (1, {"c_max": 3.0, "c_warmup": 0.25}),
                   (7, {"c_max": default_c_max, "c_warmup": 0.25})]
    assert grid.study["params"] == {"c_warmup": 0.25} and grid.size == 7
    # and the runs are those of each sub-grid built alone
    alone = [c for name in ("a", "b", "c") for c in Grid.from_dict({
        "study": {"variant": "capacity", "steps": 50, "params": {"c_warmup": 0.25}},
        "grids": {name: grid.subgrids[name]}}).configs()]
    assert [run_id(c) for c in alone] == [run_id(c) for c in grid.configs()]


PARTLY_VALID_AXES = {
    # axis: (values with the bad one last, the message that names the bad one)
    "hidden": ([[8], [16, 16], 8],
               "grid.hidden = [[8], [16, 16], 8]: an axis of hidden must be a list of lists"),
    "params": ([{"c_max": 1.0}, 5.0], "grid.params = [{'c_max': 1.0}, 5.0]: an axis of params must be a list "
                                      "of tables"),
    "beta": ([0.01, 0.1, -1.0], "grid.beta = -1.0: must be a finite number >= 0"),
    "seed": ([0, 1, "2"], "grid.seed = '2': must be an integer"),
    "latent_dim": ([2, 1, 0], "grid.latent_dim = 0: must be an integer >= 1"),
}


@pytest.mark.parametrize("axis", sorted(PARTLY_VALID_AXES))
def test_an_axis_partly_valid_is_refused_naming_the_bad_value(axis):
    """Every element of an axis is checked, not the first: the bad value is last, after valid ones."""
    values, message = PARTLY_VALID_AXES[axis]
    study = {"variant": "capacity"} if axis == "params" else {}
    with pytest.raises(ValueError) as err:
        Grid.from_dict({"study": study, "grid": {axis: values, "seed": [0]} if axis != "seed" else
                        {axis: values}})
    assert str(err.value).startswith(message), str(err.value)
    # the same axis without its bad value is accepted: the message is about that value alone
    Grid.from_dict({"study": study, "grid": {axis: values[:-1]}})
