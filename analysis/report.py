"""``python -m analysis.report``: run (or resume) a study and write its report, from one command.

With no arguments it runs the shipped ``grids/seed-figures.toml`` study into ``reports/seed-figures/``.
Layout of the output directory ``OUT`` (``--out``, default ``reports/<grid name>``):

- ``OUT/study/``: the study itself (the grid runner's store: results parts, per-run arrays, histories
  and weights); running the command again resumes it and trains only what is missing;
- ``OUT/report.md``, ``OUT/report.html`` (self-contained: figures embedded, no network), the figures as
  ``OUT/fig*.png``, and the tidy results table (one row per run, the report's derived columns included)
  as ``OUT/results.parquet`` and ``OUT/results.csv``.

``--from DIR`` reports a study directory that was already run, training nothing; the report goes to
``--out`` if given, else to DIR's parent when DIR is named ``study`` (the layout above), else to DIR.
``--quick`` runs the small smoke grid (``grids/smoke.toml``, 1 000 evaluation points per run) into
``reports/smoke`` in seconds. Shipped grids are looked up in the repository's ``grids/`` beside this
package first, then in the installed wheel's ``vaebench/_grids``. The throughput figure reads
``--bench-json FILE`` or else the newest ``.benchmarks/**/*.json`` (pytest-benchmark) under the
repository root or the working directory, and is skipped with a note when there is none.

User errors (a bad grid, a missing directory, a busy study, a damaged study record) print one line
``error: ...`` on stderr and exit with status 2; Ctrl-C keeps every finished shard of the study and exits
with 130; any other exception prints one line, exit 1, with the traceback in ``vaebench-error.log`` of the
study directory. A damaged study is reported as far as it can be: a corrupted part, runs of no grid run
and runs whose stored arrays or history cannot be read are left out and named (file and reason).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.resources
import os
import platform
import sys
from pathlib import Path

import pandas as pd

from analysis.assemble import assemble
from analysis.explorer import explorer_data
from analysis.report_files import UserError, latest_bench_json, read_bench, write_report
from analysis.study_time import route_table, study_table
from analysis.tables import split_status
from vaebench.timings import read_timings

DEFAULT_GRID, QUICK_GRID, QUICK_N_EVAL = "seed-figures.toml", "smoke.toml", 1000
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
NOTES = [
    "Seed averages: mean over seeds with a Student-t 95% interval, mean ± t(0.975, n−1)·s/√n; n = seeds "
    "with a finite value; no interval for n = 1.",
    "Findings (protocol analysis/protocols/v2.toml, frozen before the confirmatory study ran; decided on "
    "confirmatory seeds only, never on the pilot's or on seeds 0–15): each claim of the seed report has "
    "parts with fixed cells, metric, threshold and direction; paired differences by seed are tested "
    "against the threshold with exact sign-flip permutation tests, event rates with exact binomial tests, "
    "dose–response with a permutation test of Spearman's ρ. A claim is supported when every part is "
    "(intersection–union), refuted when a part is shown to fail (non-superiority or TOST), else "
    "inconclusive with the seeds that would decide it; both p-values of every claim Holm-corrected "
    "together (α = 0.05). λ·B: λ as a loss summed over the batch would state it (vaebench/losses.py).",
    "Input directions kept (vaebench.metrics.directions): x is predicted from a latent sample z ~ q(z|x) "
    "by leave-one-out 10-nearest-neighbour regression; the share of each whitened input direction's "
    "variance it explains, corrected for the k-NN noise floor (1 + 1/k); a direction with a share of at "
    "least 0.2 is kept.",
    "Latent shape (vaebench.metrics.shape): squareness |E y⁴|/E|y|⁴ of the whitened μ (3/7 for a square "
    "or diamond, 0 for a Gaussian) and the kurtosis contrast, axes minus diagonals (square −0.6, "
    "diamond +0.6, Gaussian 0).",
    "Diverged runs are listed, never plotted or averaged.",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 2 (argparse prints usage too)
        raise UserError(message)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m analysis.report``."""
    p = _Parser(prog="python -m analysis.report", formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Run (or resume) a vaebench study and write its report: report.md, a "
                            "self-contained report.html, PNG figures, results.parquet and results.csv.",
                epilog="examples:\n"
                       "  python -m analysis.report           # seed-figures study -> reports/seed-figures/\n"
                       "  python -m analysis.report --quick   # smoke grid, seconds -> reports/smoke/\n"
                       "  python -m analysis.report --grid my.toml --executor dask\n"
                       "  python -m analysis.report --from reports/seed-figures/study   # no training\n\n"
                       "Running the same command again resumes the study: finished runs are never trained "
                       "twice.")
    p.add_argument("--grid", metavar="FILE", help=f"grid file to run (default: the shipped {DEFAULT_GRID})")
    p.add_argument("--out", metavar="DIR", help="report directory (default: reports/<grid name>); the study "
                                                "runs into DIR/study")
    p.add_argument("--from", dest="from_dir", metavar="DIR", help="report a study directory already run; "
                                                                  "trains nothing")
    p.add_argument("--quick", action="store_true", help=f"the small smoke grid ({QUICK_GRID}, "
                                                        f"n_eval {QUICK_N_EVAL}): seconds")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the grid's device")
    p.add_argument("--executor", choices=["local", "dask"], help="grid runner executor (default: local)")
    p.add_argument("--scheduler", metavar="ADDR", help="dask scheduler address tcp://HOST:PORT")
    p.add_argument("--n-eval", type=int, metavar="N", help="evaluation points per run (default: the grid's)")
    p.add_argument("--bench-json", metavar="FILE", help="pytest-benchmark JSON for the throughput figure")
    return p


def shipped_grid(name: str) -> Path:
    """Path of a shipped grid file: the repository's ``grids/`` first, else the wheel's vaebench/_grids."""
    repo = PACKAGE_ROOT / "grids" / name
    if repo.is_file():
        return repo
    installed = importlib.resources.files("vaebench") / "_grids" / name
    if installed.is_file():
        return Path(str(installed))
    raise UserError(f"grid {name!r}: not found in {repo.parent} nor in the installed vaebench/_grids")


def _meta(results: pd.DataFrame, study: dict, study_dir: Path, grid: str, bench_from: str) -> list:
    import torch

    import vaebench

    ok, diverged = split_status(results)
    seconds = pd.to_numeric(results.get("train_seconds", pd.Series(dtype=float)), errors="coerce").sum()
    described = study.get("description") or (study.get("grid") or {}).get("study", {}).get("description", "")
    meta = [("study", study.get("name", study_dir.name)), ("description", described),
            ("grid file", grid), ("study directory", str(study_dir)),
            ("runs", f"{len(results)} ({len(ok)} ok, {len(diverged)} diverged, failed or broken)"),
            ("seeds", ", ".join(str(s) for s in sorted(results["seed"].unique())) if "seed" in results
             else ""),
            ("evaluation points per run", str(study.get("n_eval", "n/a"))),
            ("training time, sum over runs", f"{seconds:.1f} s"),
            ("software", f"vaebench {vaebench.__version__}, torch {torch.__version__}, "
                         f"Python {platform.python_version()}"),
            ("machine", f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"),
            ("benchmark JSON", bench_from),
            ("generated", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    return [(k, v) for k, v in meta if v != ""]


def _log(message: str) -> None:
    print(f"report: {message}", file=sys.stderr, flush=True)


def load_study(study_dir: Path) -> tuple[pd.DataFrame, dict, list[tuple[str, str]]]:
    """(results of the study's grid runs, its study.json, report lines on what was left out). A
    corrupted part is left out and named (``vaebench run`` sets it aside and trains its runs again);
    rows of runs that belong to no run of the study's grid (copied in from another study) are ignored and
    named once, by part."""
    from vaebench import store

    if not (study_dir / "results").is_dir():
        raise UserError(f"{str(study_dir)!r}: not a vaebench study directory (no results/)")
    contents = store.study_contents(study_dir)
    study, results = contents.meta, contents.results
    damage = [("corrupted part, left out", f"{path} ({why}); `vaebench run` sets it aside and trains its "
                                           f"runs again") for path, why in contents.corrupt]
    damage += [("runs of no grid run, ignored", f"{len(foreign)} in {path} (e.g. {foreign[0]})")
               for path, foreign in contents.foreign]
    for key, value in damage:
        _log(f"{key}: {value}")
    if results.empty:
        raise UserError(f"{str(study_dir)!r}: the study has no stored runs yet")
    return results, study, damage


def run(args: argparse.Namespace) -> Path:
    """Run (or resume) the study the arguments name, build its report and write it; returns the report
    directory."""
    from vaebench import store

    for option, value in (("--out", args.out), ("--from", args.from_dir), ("--grid", args.grid),
                          ("--bench-json", args.bench_json)):
        if value is not None and not value.strip():
            raise UserError(f"{option} = {value!r}: an empty path (an unset shell variable?)")
    explicit = args.bench_json is not None  # checked first: a bad file the user named stops before training
    bench_path = Path(args.bench_json) if explicit else latest_bench_json([PACKAGE_ROOT, Path.cwd()])
    bench, bench_from = read_bench(bench_path, explicit)
    if args.from_dir is not None:
        clash = [f"--{n}" for n in ("grid", "quick", "device", "executor", "scheduler", "n_eval")
                 if getattr(args, n) not in (None, False)]
        if clash:
            raise UserError(f"--from = {args.from_dir!r}: reports a study already run; it takes no "
                            f"{', '.join(o.replace('_', '-') for o in clash)}")
        study_dir = Path(args.from_dir)
        if not study_dir.is_dir():
            raise UserError(f"--from = {args.from_dir!r}: no such directory")
        out = Path(args.out) if args.out else study_dir.parent if study_dir.name == "study" else study_dir
        grid = str(study_dir / "grid.toml")
    else:
        if args.grid and args.quick:
            raise UserError(f"--grid = {args.grid!r}: --quick runs the shipped smoke grid; give one of them")
        grid_path = Path(args.grid) if args.grid else shipped_grid(QUICK_GRID if args.quick else DEFAULT_GRID)
        if not grid_path.is_file():
            raise UserError(f"--grid = {str(grid_path)!r}: no such file")
        out = Path(args.out) if args.out else Path("reports") / grid_path.stem
        study_dir, grid = out / "study", str(grid_path)
        from vaebench.runner import run_study

        run_study(grid_path, study_dir, executor=args.executor or "local", scheduler=args.scheduler,
                  device=args.device, progress=True,
                  n_eval=args.n_eval if args.n_eval is not None else QUICK_N_EVAL if args.quick else None)
    results, study, damage = load_study(study_dir)
    _log(f"building the report of {len(results)} runs")
    report = assemble(results, artifacts=lambda rid: store.load_artifacts(study_dir, rid),
                      history=lambda rid: store.load_history(study_dir, rid),
                      title=f"vaebench report: {study.get('name', study_dir.name)}",
                      meta=[], bench=bench, notes=NOTES)
    report.meta = _meta(report.results, study, study_dir, grid, bench_from) + damage  # broken runs known now
    for row in report.results[report.results["status"] == "broken"].itertuples():
        _log(f"run {row.run_id} left out: {row.reason}")
    report.tables += [study_table(results, read_timings(study_dir)), route_table(results)]
    report.explorer = explorer_data(report.results, lambda rid: store.load_artifacts(study_dir, rid))
    write_report(report, out)
    _log(f"written to {out}/ (report.html, report.md, {len(report.figures)} figures, results.parquet, "
         f"results.csv)")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` (default: sys.argv[1:]), run, and return the exit status (0 ok, 2 user
    error, 130 interrupted)."""
    from vaebench.shell import guarded

    args = None

    def body() -> None:
        nonlocal args
        args = parser().parse_args(argv)
        run(args)

    return guarded(body, "python -m analysis.report",
                   interrupted=lambda: "interrupted: every finished shard of the study is kept; run the same "
                                       "command again to resume",
                   log_dir=lambda: getattr(args, "from_dir", None) or getattr(args, "out", None))


if __name__ == "__main__":
    sys.exit(main())
