"""The command line: run, status, --help, one-line errors with exit status 2, interrupts."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import vaebench.runner
from vaebench import load_results
from vaebench.cli import main
from vaebench.runner import ShardFailed

ROOT = Path(__file__).resolve().parents[1]

TINY_TOML = """
[study]
name = "cli"
n_train = 100
steps = 20
batch_size = 16
hidden = [8]
n_eval = 64
device = "auto"

[grid]
latent_dim = [2, 1]
seed = [0, 1]
"""


@pytest.fixture
def grid_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


def one_error_line(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_help_reads_well(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "run" in text and "status" in text and "python -m vaebench run grids/smoke.toml --out" in text
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--out DIR", "--executor {dask,local}", "--scheduler ADDR", "--device {cpu,cuda,auto}",
                   "--shard-size N", "--dry-run"):
        assert option in text


def test_run_then_status(grid_file, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["run", str(grid_file), "--out", str(out), "--threads", "1", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert f"4 runs stored in {out} (4 ok, 0 diverged)" in captured.out
    assert "vaebench: study 'cli': 4 runs, 0 stored, 4 to train" in captured.err
    df = load_results(out)
    assert len(df) == 4 and set(df["device"]) == {"cpu"}  # --device overrides the grid's "auto"
    assert (out / "grid.toml").read_text() == TINY_TOML
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "study 'cli'" in text and "4 runs in its grid" in text
    assert "done      4 (4 ok, 0 diverged or failed evaluation)" in text and "pending   0" in text
    # a lost part: its runs are pending again, and `run` trains exactly those
    lost = sorted((out / "results").glob("part-*.parquet"))[0]
    n_lost = len(pd.read_parquet(lost))
    lost.unlink()
    assert main(["status", str(out)]) == 0
    assert f"pending   {n_lost}" in capsys.readouterr().out
    assert main(["run", str(grid_file), "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    assert "4 runs stored" in capsys.readouterr().out and len(load_results(out)) == 4


def test_dry_run_validates_and_writes_nothing(grid_file, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", str(grid_file), "--out", str(out), "--dry-run"]) == 0
    assert "study 'cli': 4 runs, 0 stored" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.parametrize(("var", "message"), [
    ("VAEBENCH_CPU_KERNEL", "must be 'auto' or 'torch'")])
def test_a_bad_engine_switch_is_one_line_and_writes_nothing(grid_file, tmp_path, capsys, monkeypatch, var,
                                                            message):
    monkeypatch.setenv(var, "fast")
    out = tmp_path / "never"
    assert main(["run", str(grid_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {var} = 'fast': {message}"]
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required"),
    (["train"], "invalid choice: 'train'"),
    (["run", "GRID"], "the following arguments are required: --out"),
    (["run", "GRID", "--out", "OUT", "--shard-size", "0"], "shard_size = 0: must be an integer >= 1"),
    (["run", "GRID", "--out", "OUT", "--shard-size", "many"], "argument --shard-size: invalid int value"),
    (["run", "GRID", "--out", "OUT", "--executor", "spark"], "argument --executor: invalid choice: 'spark'"),
    (["run", "GRID", "--out", "OUT", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["run", "GRID", "--out", "OUT", "--scheduler", "tcp://x:1"], "scheduler = 'tcp://x:1': only the dask"),
    (["run", "GRID", "--out", "OUT", "--executor", "dask", "--scheduler", "notaurl"],
     "scheduler = 'notaurl': must be an address like tcp://HOST:PORT"),
    (["run", "missing.toml", "--out", "OUT"], "grid file = 'missing.toml': no such file"),
    (["status", "OUT"], "not a vaebench study directory"),
])
def test_user_errors_are_one_line_with_exit_status_2(argv, message, grid_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(grid_file) if a == "GRID" else a for a in argv]
    assert main(argv) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "OUT").exists()


def test_an_unwritable_output_is_one_line(grid_file, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["run", str(grid_file), "--out", str(tmp_path / "file" / "study")]) == 2
    assert "cannot write the study there" in one_error_line(capsys.readouterr().err)


def test_interrupt_says_what_was_kept_and_exits_130(grid_file, tmp_path, capsys, monkeypatch):
    real = vaebench.runner.run_study

    def interrupted(grid, out, **kwargs):
        one_run = vaebench.Grid(study={"n_train": 100, "steps": 20, "batch_size": 16, "hidden": [8],
                                       "n_eval": 64})
        real(one_run, out, progress=False, threads=1)
        raise KeyboardInterrupt

    monkeypatch.setattr(vaebench.runner, "run_study", interrupted)
    out = tmp_path / "study"
    assert main(["run", str(grid_file), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted: 1 finished runs are kept in {out}" in err and "run the same command again" in err


def test_a_failed_shard_exits_1_in_one_line(grid_file, tmp_path, capsys, monkeypatch):
    def failing(*args, **kwargs):
        raise ShardFailed("shard 3 failed on the cluster after 3 retries: KilledWorker: ...")

    monkeypatch.setattr(vaebench.runner, "run_study", failing)
    assert main(["run", str(grid_file), "--out", str(tmp_path / "s")]) == 1
    assert "shard 3 failed on the cluster" in one_error_line(capsys.readouterr().err)


def test_python_dash_m_vaebench_bad_file_end_to_end(tmp_path):
    bad = ROOT / "tests" / "grids_bad" / "nan_beta.toml"
    proc = subprocess.run([sys.executable, "-m", "vaebench", "run", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_error_line(proc.stderr) == "error: grid.beta = nan: must be a finite number >= 0\n"
    assert not (tmp_path / "out").exists()
