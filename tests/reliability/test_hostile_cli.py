"""Hostile command lines: an empty --out, values and keys of megabytes, nesting deep enough to exhaust
the interpreter's stack, a diverging run under --quiet, and any unexpected exception: each ends in one
bounded line (never a traceback), the traceback of a bug in a log file the line points to."""

import os
import subprocess
import sys

import pytest
from reliability_helpers import ROOT, cli, grid_toml

import analysis.report
import vaebench.cli
import vaebench.runner
import vaebench.shell
import vaebench.store
from analysis.report import main as report_main
from vaebench import load_results
from vaebench.cli import ERROR_LOG, MAX_LINE, main

pytestmark = pytest.mark.reliability


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(grid_toml(steps=5, seeds=(0,)))
    return path


def one_line(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err[:2000]
    assert len(err) <= MAX_LINE + len("error: \n"), len(err)
    return err


@pytest.mark.parametrize("argv", [["run", "GRID", "--out", ""], ["run", "GRID", "--out", "  "],
                                  ["status", ""], ["run", "GRID", "--out", "", "--dry-run"]])
def test_an_empty_out_is_refused_and_nothing_is_written(argv, grid_file, tmp_path, monkeypatch, capsys):
    """`--out "$UNSET"` once wrote .lock, grid.toml, results/, runs/ and study.json into the working
    directory."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = [str(grid_file) if a == "GRID" else a for a in argv]
    assert main(argv) == 2
    err = one_line(capsys.readouterr().err)
    assert "an empty path (an unset shell variable?)" in err
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("option", ["--out", "--from", "--grid", "--bench-json"])
def test_the_report_refuses_an_empty_path(option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert report_main([option, ""]) == 2
    assert f"error: {option} = '': an empty path" in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


BIG = 5_000_000
HUGE = {
    "value": f'[study]\ndataset = "{"x" * BIG}"\n',
    "key": f"[study]\n{'k' * BIG} = 1\n",
    "params key": f"[study.params]\n{'k' * BIG} = 1.0\n",
    "axis value": f'[grid]\nvariant = ["{"v" * BIG}"]\n',
    "table": f"[{'t' * BIG}]\n",
    "name": f'[study]\nname = "{"n" * BIG}"\n',
    "hidden": f"[study]\nhidden = [{', '.join(['1'] * 100_000)}, 0]\n",
}


@pytest.mark.parametrize("what", sorted(HUGE))
def test_error_lines_are_bounded_whatever_the_size_of_the_value(what, tmp_path, capsys):
    path = tmp_path / "huge.toml"
    path.write_text(HUGE[what])
    assert main(["run", str(path), "--out", str(tmp_path / "s")]) == 2
    err = one_line(capsys.readouterr().err)
    assert len(err) < 400 and ("..." in err or what == "hidden")
    assert not (tmp_path / "s").exists()


def test_one_line_cuts_any_message_and_says_how_long_it_was():
    text = vaebench.cli.one_line(ValueError("a\nb " + "x" * 10_000))
    assert len(text) <= MAX_LINE and text.startswith("a b xxx")
    assert text.endswith("(10,004 characters in all)")
    assert vaebench.cli.one_line(ValueError("short\n line")) == "short line"
    assert vaebench.cli.one_line(RecursionError("maximum recursion depth exceeded")) == \
        "input nested too deeply to process"


def test_the_report_bounds_its_error_lines_and_deep_nesting_too(tmp_path, capsys):
    for i, text in enumerate([HUGE["key"], "[study]\nparams = " + "{a = " * 1000 + "1" + "}" * 1000,
                              "[study.params." + ".".join(["a"] * 3000) + "]\nx = 1\n"]):
        path = tmp_path / f"g{i}.toml"
        path.write_text(text)
        assert report_main(["--grid", str(path), "--out", str(tmp_path / "r")]) == 2
        one_line(capsys.readouterr().err)


def test_quiet_silences_numpy_warnings_of_a_diverging_run_and_records_it(tmp_path):
    """lr = 1e300 overflows float32 (numpy warns) and the run diverges at its first step."""
    grid = tmp_path / "div.toml"
    grid.write_text(grid_toml(steps=5, seeds=(0,), extra="lr = [1e300]"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    loud = subprocess.run(cli("run", str(grid), "--out", str(tmp_path / "loud")), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0 and "RuntimeWarning" in loud.stderr  # what --quiet must silence
    quiet = subprocess.run(cli("run", str(grid), "--out", str(tmp_path / "quiet"), "--quiet"), cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)
    before = os.environ.get("PYTHONWARNINGS")
    assert main(["run", str(grid), "--out", str(tmp_path / "in-process"), "--quiet"]) == 0
    assert os.environ.get("PYTHONWARNINGS") == before  # nothing leaks into the calling process
    assert quiet.returncode == 0 and quiet.stderr == ""
    summary, timing = quiet.stdout.splitlines()  # the summary and the study's throughput, nothing else
    assert summary == f"2 runs stored in {tmp_path / 'quiet'} (0 ok, 2 diverged)"
    assert timing.startswith("trained 2 runs, 10 model-steps in ")
    table = load_results(tmp_path / "quiet")
    assert (table["status"] == "diverged").all() and (table["diverged_step"] == 1).all()
    assert table["reason"].str.contains("non-finite").all()


def _boom(*args, **kwargs):
    raise ZeroDivisionError("a bug deep inside")


def _check_crash(err: str, log_dir):
    log = log_dir / ERROR_LOG
    assert err == (f"error: internal error: ZeroDivisionError: a bug deep inside; the full traceback is in "
                   f"{log}; please report it\n")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: a bug deep inside" in text
    assert "_boom" in text


def test_an_unexpected_exception_in_run_is_one_line_and_its_traceback_is_logged(grid_file, tmp_path,
                                                                                   monkeypatch, capsys):
    out = tmp_path / "study"
    monkeypatch.setattr(vaebench.runner, "_execute", _boom)
    assert main(["run", str(grid_file), "--out", str(out)]) == 1
    _check_crash(capsys.readouterr().err.split("\n", 1)[1], out)  # after the progress line


def test_an_unexpected_exception_in_status_is_one_line(grid_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "study"
    assert main(["run", str(grid_file), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(vaebench.store, "scan_parts", _boom)
    assert main(["status", str(out)]) == 1
    _check_crash(capsys.readouterr().err, out)


def test_without_a_study_directory_the_log_goes_to_the_temporary_directory(grid_file, tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(vaebench.shell.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(vaebench.runner, "plan_study", _boom)
    assert main(["run", str(grid_file), "--out", str(tmp_path / "never")]) == 1
    _check_crash(capsys.readouterr().err, tmp_path)
    assert not (tmp_path / "never").exists()


def test_an_unexpected_exception_in_the_report_is_one_line_and_logged(grid_file, tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "study"
    assert main(["run", str(grid_file), "--out", str(out), "--quiet"]) == 0
    monkeypatch.setattr(analysis.report, "assemble", _boom)
    capsys.readouterr()
    assert report_main(["--from", str(out), "--out", str(tmp_path / "r")]) == 1
    _check_crash(capsys.readouterr().err.split("\n", 1)[1], out)  # after the "building the report" line


def test_a_bug_in_a_subprocess_never_prints_a_traceback(tmp_path):
    """End to end: a status over a study whose study.json is fine but whose part scan raises a bug."""
    out = tmp_path / "study"
    (out / "results").mkdir(parents=True)
    code = ("import sys, vaebench.store, vaebench.cli\n"
            "vaebench.store.scan_parts = lambda out: 1 / 0\n"
            f"sys.exit(vaebench.cli.main(['status', {str(out)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert f"the full traceback is in {out / ERROR_LOG}" in proc.stderr
