"""Replay the mutation check of tests/MUTATIONS.md: plant each bug, run the tests that should catch it,
put the code back.

    python tests/mutate.py                 # every mutation (about 25 min on 2 busy cores)
    python tests/mutate.py store-checksum grid-depth   # some, by id
    python tests/mutate.py --list          # ids, files and tests
    python tests/mutate.py --baseline      # each mutation's tests on the code as it is: must pass
    python tests/mutate.py --markdown [LOG]   # the table of tests/MUTATIONS.md (results from LOG,
                                              # the saved output of a replay)

Each mutation replaces one exact snippet in one file (it must occur exactly once, else the mutation is
reported ``stale``: the code moved, update the snippet) and runs ``pytest`` on its tests with ``-x``. A
mutation is ``caught`` when pytest fails, ``MISSED`` when it passes. The file is restored whatever
happens (Ctrl-C included). Run it from the repository root of a clean checkout, with nothing else
running the tests in that checkout. Exit status 1 if any mutation is missed or stale.

To add a mutation: append a ``Mutation`` to MUTATIONS (a short id, the file, the exact snippet, its
replacement, what bug it plants, the tests that catch it), run ``python tests/mutate.py ID``, then
regenerate the table with ``--markdown``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 900


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    bug: str
    tests: tuple[str, ...]  # pytest arguments: node ids, or a path and "-k EXPR"


M = Mutation
T_TAMPER = "tests/reliability/test_tampered_study.py"
T_HOSTILE = "tests/reliability/test_hostile_cli.py"
T_NEIGHBOURS = "tests/metrics/test_metrics_neighbours.py"
T_EDGES = "tests/reliability/test_integrity_edges.py"
T_SEEDS = "tests/test_seeding_pinned.py"
T_EXEC = "tests/test_executors_behaviour.py"
T_EXACT = "tests/metrics/test_exact.py"
MUTATIONS = [
    # --- the two of issue 16 that no test caught before ---
    M("likelihood-no-max-shift", "vaebench/metrics/likelihood.py",
      "top = log_w.max(axis=0)", "top = 0 * log_w.max(axis=0)",
      "IWAE log-sum-exp without the max shift (−inf for a decoder far from the data)",
      ("tests/metrics/test_metrics_likelihood_extreme.py",)),
    M("config-recon-var-closed", "vaebench/config.py",
      'check_float("recon_var", self.recon_var, 0.0, open_low=True)',
      'check_float("recon_var", self.recon_var, 0.0)',
      "recon_var = 0 accepted (closed lower bound)",
      ("tests/test_config.py", "-k", "open_lower_bounds")),
    M("likelihood-recon-var-closed", "vaebench/metrics/likelihood.py",
      'check_fraction("recon_var", recon_var, high=np.inf)',
      'check_fraction("recon_var", recon_var, open_low=False, high=np.inf)',
      "likelihood_bounds accepts recon_var = 0", ("tests/metrics/test_metrics_likelihood_extreme.py",)),
    # --- config ---
    M("config-int-low-off-by-one", "vaebench/config.py",
      "    if value < low or (high", "    if value < low - 1 or (high",
      "check_int accepts low − 1 (latent_dim = 0, steps = 0)",
      ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("config-float-no-finite", "vaebench/config.py",
      "if not math.isfinite(value) or value < low", "if value < low",
      "check_float accepts NaN and inf", ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("config-bool-as-number", "vaebench/config.py",
      "if isinstance(value, bool) or not isinstance(value, int | float):",
      "if not isinstance(value, int | float):",
      "check_float takes True for 1.0", ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("config-show-uncut", "vaebench/config.py",
      "def show(value: Any, width: int = SHOW_WIDTH)", "def show(value: Any, width: int = 10**9)",
      "echoed values not cut (a 5 MB error line)", ("tests/test_config.py", "-k", "echoed")),
    # --- grid ---
    M("grid-depth-limit", "vaebench/grid.py",
      "if depth > MAX_DEPTH:", "if depth > 100 * MAX_DEPTH:",
      "no nesting limit (3 000 nested headers: RecursionError)",
      ("tests/test_grid.py", "-k", "bad_grid_file_gives or nesting_up")),
    M("grid-key-length-off-by-one", "vaebench/grid.py",
      "len(key) > MAX_KEY:", "len(key) > MAX_KEY + 1:",
      "a key of MAX_KEY + 1 characters accepted", ("tests/test_grid.py", "-k", "keys_longer")),
    M("grid-toml-recursion", "vaebench/grid.py",
      "        except RecursionError:  # tomllib", "        except ZeroDivisionError:  # tomllib",
      "tomllib's RecursionError on 1 000 nested inline tables not turned into a message",
      ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("grid-max-runs", "vaebench/grid.py",
      "if total > MAX_RUNS:", "if total > 2 * MAX_RUNS:",
      "the run limit doubled", ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("grid-size-sum", "vaebench/grid_axes.py",
      "return math.prod(len(v) for _, v in self.paths)", "return sum(len(v) for _, v in self.paths)",
      "grid size as the sum of the axes, not their product",
      ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    M("grid-study-and-axis", "vaebench/grid_axes.py",
      "if is_main and key in study:", "if False:",
      "a key both in [study] and [grid] accepted", ("tests/test_grid.py", "-k", "bad_grid_file_gives")),
    # --- integrity (store checks) ---
    M("integrity-run-id-unchecked", "vaebench/integrity.py",
      "bad_ids = [v for v in ids if not (isinstance(v, str) and RUN_ID.fullmatch(v))]", "bad_ids = []",
      "run ids not checked (a part may name ../../etc)", (T_TAMPER, "-k", "wrong_types_is_named")),
    M("integrity-integer-fraction", "vaebench/integrity.py",
      "(as_float != np.round(as_float))", "(as_float != as_float)",
      "an integer column may hold 0.5", (T_TAMPER, "-k", "wrong_types_is_named")),
    M("integrity-no-json-check", "vaebench/integrity.py",
      "                    json.loads(v)\n", "                    pass\n",
      "hidden/params not parsed as JSON", (T_TAMPER, "-k", "wrong_types_is_named")),
    M("integrity-text-numbers", "vaebench/integrity.py",
      "elif not pd.api.types.is_numeric_dtype(values.dtype) or",
      "elif False and not pd.api.types.is_numeric_dtype(values.dtype) or",
      "a metric or number column may hold text (diverged_step = 'n/a')",
      (T_TAMPER, "-k", "wrong_types")),
    M("integrity-status-unchecked", "vaebench/integrity.py",
      'bad_status = [v for v in df["status"] if v not in STATUSES]', "bad_status = []",
      "any status accepted", (T_TAMPER, "-k", "wrong_types_is_named")),
    M("integrity-object-arrays", "vaebench/integrity.py",
      'if dtype.kind not in "fiu":', 'if dtype.kind not in "fiuO":',
      "object arrays pass the header check", (T_TAMPER, "-k", "broken_arrays_files")),
    M("integrity-rows-unchecked", "vaebench/integrity.py",
      "if shape != want or n < 1", "if shape[1:] != want[1:] or n < 1",
      "arrays of too few rows accepted", (T_TAMPER, "-k", "broken_arrays_files")),
    M("integrity-n-eval-unchecked", "vaebench/integrity.py",
      "if n_eval is not None and n != n_eval:", "if n_eval is not None and n > n_eval:",
      "arrays of fewer points than n_eval accepted", (T_TAMPER, "-k", "another_evaluation")),
    M("integrity-study-not-object", "vaebench/integrity.py",
      "    if not isinstance(data, dict):\n", "    if False:\n",
      "study.json of 5 accepted", (T_TAMPER, "-k", "study_json")),
    M("integrity-runs-unchecked", "vaebench/integrity.py",
      "if not (isinstance(rid, str) and RUN_ID.fullmatch(rid)", "if False and not (isinstance(rid, str)",
      "study.json runs of any shape accepted", (T_TAMPER, "-k", "study_json")),
    # --- store ---
    M("store-checksum-skipped", "vaebench/store.py",
      'if path.name != f"{PART_PREFIX}{digest}{PART_SUFFIX}":', "if False:",
      "a part's bytes not compared with its name", ("tests/test_store.py", "-k", "damaged_part")),
    M("store-schema-skipped", "vaebench/store.py",
      "    integrity.check_part_table(df, BASE_COLUMNS)\n", "",
      "a part's schema and dtypes not checked", (T_TAMPER, "-k", "wrong_types_is_named")),
    M("store-last-wins", "vaebench/store.py",
      'drop_duplicates("run_id", keep="first")', 'drop_duplicates("run_id", keep="last")',
      "a later duplicate row replaces the first stored", ("tests/test_store.py", "-k", "union")),
    M("store-quarantine-in-place", "vaebench/store.py",
      "    os.replace(path, target)\n    return target", "    return target",
      "a corrupted part is not moved aside", (T_TAMPER, "-k", "reported_around")),
    M("store-empty-out", "vaebench/files.py",
      "    if not str(out_dir).strip():\n", "    if False:\n",
      "run_study('') writes the study into the working directory",
      ("tests/test_store.py", "-k", "empty_out")),
    M("store-artifacts-unchecked", "vaebench/artifacts.py",
      "        integrity.check_arrays_file(path)\n        with np.load", "        with np.load",
      "arrays.npz loaded without the checks (an object array passes as a pickle error)",
      ("tests/reliability/test_faults_store.py", "-k", "unpickled")),
    M("store-weights-pickle", "vaebench/artifacts.py",
      "weights_only=True, map_location", "weights_only=False, map_location",
      "weights.pt unpickled (runs code)", ("tests/reliability/test_faults_store.py", "-k", "unpickled")),
    M("store-broken-not-ok-only", "vaebench/store.py",
      'ok = stored.loc[stored["status"] == "ok", "run_id"]',
      'ok = stored.loc[stored["status"] != "ok", "run_id"]',
      "artifacts of the wrong runs checked (broken ok runs never retrained)",
      (T_TAMPER, "-k", "retrains_runs")),
    # --- runner (retrain broken runs) ---
    M("runner-broken-kept", "vaebench/store.py",
      "done -= {rid for rid, _ in self.broken}", "done -= set()",
      "runs with broken artifacts count as done", (T_TAMPER, "-k", "retrains_runs")),
    # --- memory ---
    M("memory-one-layer", "vaebench/memory.py",
      "return 4 * rows * 2 * width", "return 4 * rows * width",
      "one layer's output counted, not two", ("tests/test_memory.py",)),
    M("memory-no-eval-peak", "vaebench/memory.py",
      "working = min(eval_threads, len(configs)) * max(",
      "working = 0 * max(",
      "evaluation's working set left out of the estimate",
      ("tests/test_memory.py", "-k", "dry_run or will_not")),
    M("memory-cuda-on-host", "vaebench/memory.py",
      'if configs[0].device == "cuda":', 'if configs[0].device == "gpu":',
      "training on CUDA counted on the host, GPU memory never checked",
      ("tests/test_memory.py", "-k", "cuda")),
    M("memory-fraction", "vaebench/memory.py",
      "MEMORY_FRACTION = 0.8", "MEMORY_FRACTION = 8.0",
      "the budget ten times the memory", ("tests/test_memory.py", "-k", "budget")),
    # --- command lines ---
    M("cli-no-line-limit", "vaebench/shell.py",
      'return text if len(text) <= limit else', 'return text if True else',
      "error lines not cut", (T_HOSTILE, "-k", "one_line_cuts")),
    M("cli-traceback", "vaebench/shell.py",
      '        print(crash_line(err, log_dir(), prog), file=sys.stderr)\n'
      '        return 1',
      "        raise",
      "an unexpected exception prints a traceback", (T_HOSTILE, "-k", "unexpected_exception_in_run")),
    M("cli-empty-out", "vaebench/cli.py",
      '    _check_dir("--out", args.out)\n', "",
      "--out '' accepted by the command line", (T_HOSTILE, "-k", "empty_out")),
    M("cli-quiet-warnings", "vaebench/cli.py",
      '        warnings.simplefilter("ignore", RuntimeWarning)\n', "",
      "--quiet lets numpy's overflow warnings through", (T_HOSTILE, "-k", "quiet")),
    M("report-foreign-rows", "vaebench/store.py",
      'grid_ids = [r["run_id"] for r in meta.get("runs", [])] or None', "grid_ids = None",
      "rows of no grid run reported", (T_TAMPER, "-k", "no_grid_run")),
    M("report-empty-paths", "analysis/report.py",
      "        if value is not None and not value.strip():", "        if False:",
      "the report accepts --from '' (and --out '', which would train the default study)",
      (T_HOSTILE, "-k", "report_refuses and from")),
    M("assemble-broken-stops", "analysis/assemble.py",
      "        except Exception as err:  # noqa: BLE001\n            broken[rid]",
      "        except ZeroDivisionError as err:  # noqa: BLE001\n            broken[rid]",
      "one broken arrays.npz stops the whole report", (T_TAMPER, "-k", "broken_arrays_files")),
    M("assemble-broken-plotted", "analysis/assemble.py",
      'out.loc[hit, "status"] = BROKEN', 'out.loc[hit, "status"] = "ok"',
      "a broken run stays ok (plotted, averaged, not listed)", (T_TAMPER, "-k", "broken_arrays_files")),
    # --- issue 13: the metrics kernel (C, rebuilt automatically: its build is named by the source's hash)
    # and the neighbour structures it reads ---
    M("kernel-knn-gap-side", "vaebench/_metrics_kernel.c",
      "if (cx - r > 0) g = fmin(", "if (cx - r > 1) g = fmin(",
      "k-NN stops early: the cells left of the scanned block are taken as the grid's edge one ring too soon",
      (T_NEIGHBOURS, "-k", "query_and_knn")),
    M("kernel-knn-tie-order", "vaebench/_metrics_kernel.c",
      "(bd[p - 1] == s && bi[p - 1] > j)", "(bd[p - 1] == s && bi[p - 1] < j)",
      "equal distances in reverse index order", (T_NEIGHBOURS, "-k", "query_and_knn")),
    M("kernel-count-not-strict", "vaebench/_metrics_kernel.c",
      "count += sqrt(sq_dist(gr, i, centres, m, row)) < r;",
      "count += sqrt(sq_dist(gr, i, centres, m, row)) <= r;",
      "a point on the ball's sphere counts as inside (coverage's balls not open)",
      (T_NEIGHBOURS, "-k", "count_within")),
    M("kernel-rank-ball-strict", "vaebench/_metrics_kernel.c",
      "total += sq_dist(gr, i, centres, n_groups, g) <= t;",
      "total += sq_dist(gr, i, centres, n_groups, g) < t;",
      "trustworthiness ranks (cells of the ball) miss the intruder itself",
      ("tests/metrics/test_metrics_structure.py", "-k", "trustworthiness_equals_brute_force")),
    M("kernel-rank-full-strict", "vaebench/_metrics_kernel.c",
      "for (int64_t i = 0; i < gr->n; i++) count += scratch[i] <= t;",
      "for (int64_t i = 0; i < gr->n; i++) count += scratch[i] < t;",
      "trustworthiness ranks (full pass) miss the intruder itself",
      ("tests/metrics/test_metrics_structure.py", "-k", "trustworthiness_equals_brute_force")),
    M("kernel-pair-sum-diagonal", "vaebench/_metrics_kernel.c",
      "const double diagonal = kind == 0 ? (double)n : 0.0;", "const double diagonal = 0.0;",
      "the Gaussian pair sum without its n diagonal terms (Henze–Zirkler off)",
      ("tests/metrics/test_metrics_multivariate.py", "-k", "naive_n_squared")),
    M("kernel-exp-exponent", "vaebench/_metrics_kernel.c",
      "v4d scale = (v4d)((ki + 1023) << 52);", "v4d scale = (v4d)((ki + 1022) << 52);",
      "exp off by a factor 2 (exponent bias)",
      ("tests/metrics/test_metrics_multivariate.py", "-k", "naive_n_squared")),
    M("grid-cell-overflow", "vaebench/metrics/_neighbours.py",
      "np.clip(np.floor((points[:, a] - lo[i]) * inv[i]), 0, g[i] - 1)",
      "np.clip(np.floor((points[:, a] - lo[i]) * inv[i]), 0, g[i])",
      "points on the box's upper edge binned one cell past the grid (into the next row)",
      (T_NEIGHBOURS, "-k", "query_and_knn")),
    M("trust-positions-not-inverted", "vaebench/metrics/_neighbours.py",
      "self.position[self.order] = np.arange(n)", "self.position[:] = self.order",
      "intruders looked up by the grid's order instead of its inverse",
      ("tests/metrics/test_metrics_structure.py", "-k", "trustworthiness_equals_brute_force")),
    M("shared-points-key-no-shape", "vaebench/metrics/_neighbours.py",
      "key = (arr.shape, hashlib.blake2b", "key = ((), hashlib.blake2b",
      "two point sets with the same bytes in other shapes share one PointSet",
      (T_NEIGHBOURS, "-k", "shared_points")),
    # --- issue 24: the classes an audit found uncovered (tests written from behaviour, then these) ---
    M("integrity-run-id-prefix", "vaebench/integrity.py",
      "bad_ids = [v for v in ids if not (isinstance(v, str) and RUN_ID.fullmatch(v))]",
      "bad_ids = [v for v in ids if not (isinstance(v, str) and RUN_ID.match(v))]",
      "a part's run id that begins with 16 hex digits and goes on ('…/../../etc') accepted",
      (T_EDGES, "-k", "part_with_a_run_id")),
    M("integrity-study-run-id-prefix", "vaebench/integrity.py",
      "if not (isinstance(rid, str) and RUN_ID.fullmatch(rid) and",
      "if not (isinstance(rid, str) and RUN_ID.match(rid) and",
      "study.json's run ids checked at their start only", (T_EDGES, "-k", "study_json_runs")),
    M("integrity-bool-column", "vaebench/integrity.py",
      " or pd.api.types.is_bool_dtype(values.dtype):", ":",
      "a boolean column passes as numbers (seed = True)",
      (T_EDGES, "-k", "booleans_in_a_number or stored_part")),
    M("integrity-study-bool", "vaebench/integrity.py",
      "if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):",
      "if key in data and not isinstance(data[key], kind):",
      "study.json's n_eval = true accepted (bool is an int in Python)", (T_EDGES, "-k", "study_json")),
    M("integrity-one-point-refused", "vaebench/integrity.py",
      "if shape != want or n < 1 or min(want) < 1:", "if shape != want or n < 2 or min(want) < 1:",
      "arrays of exactly one point refused (boundary off by one)", (T_EDGES, "-k", "one_point")),
    M("integrity-zero-latent", "vaebench/integrity.py",
      "if shape != want or n < 1 or min(want) < 1:", "if shape != want or n < 1 or min(want) < 0:",
      "arrays of a 0-dimensional latent accepted", (T_EDGES, "-k", "one_point")),
    M("integrity-integer-inf", "vaebench/integrity.py",
      "bad = values[~np.isfinite(as_float) | (as_float != np.round(as_float))]",
      "bad = values[as_float != np.round(as_float)]",
      "an integer column may hold inf (round(inf) == inf)", (T_EDGES, "-k", "integer_columns")),
    M("integrity-bool-arrays", "vaebench/integrity.py",
      'if dtype.kind not in "fiu":', 'if dtype.kind not in "fiub":',
      "boolean arrays pass as numbers", (T_EDGES, "-k", "booleans_and_objects")),
    M("integrity-members-unchecked", "vaebench/integrity.py",
      'if not info.filename.endswith(".npy"):', "if False:",
      "a zip member that is not a .npy array is read as one", (T_EDGES, "-k", "member")),
    M("integrity-first-column-unchecked", "vaebench/integrity.py",
      "missing = [c for c in required if c not in df.columns]",
      "missing = [c for c in required[1:] if c not in df.columns]",
      "a part without run_id fails with a KeyError, not the message", (T_EDGES, "-k", "required_columns")),
    M("grid-params-shared", "vaebench/grid_axes.py",
      'params = dict(study.get("params", {}))', 'params = study.get("params", {})',
      "[study]'s params dict shared between runs: one run's axis value leaks into the next runs and grids",
      ("tests/test_grid.py", "-k", "several_subgrids")),
    M("grid-study-params-win", "vaebench/grid_axes.py",
      "                    params.update(value)\n", "                    params = {**value, **params}\n",
      "[study]'s params override the axis's values", ("tests/test_grid.py", "-k", "several_subgrids")),
    M("grid-axis-first-element", "vaebench/grid_axes.py",
      "if element is not None and not all(isinstance(v, ELEMENT_TYPES[element]) for v in values):",
      "if element is not None and not isinstance(values[0], ELEMENT_TYPES[element]):",
      "a compound axis checked by its first element only", ("tests/test_grid.py", "-k", "partly_valid")),
    M("store-clean-results-only", "vaebench/files.py",
      ' + list((out / "runs").glob(f"*/{TMP_PREFIX}*"))',
      "",
      "a killed writer's temporary files in runs/<id>/ never removed",
      ("tests/test_store.py", "-k", "leftovers")),
    M("store-interrupt-leaves-temp", "vaebench/files.py",
      "    except BaseException:\n        tmp.unlink(missing_ok=True)\n        raise",
      "    except ZeroDivisionError:\n        tmp.unlink(missing_ok=True)\n        raise",
      "Ctrl-C during an artifact write leaves its temporary file",
      ("tests/test_store.py", "-k", "interrupted")),
    M("collapse-span-only", "vaebench/collapse.py",
      "            if not any(below < b < above for b in betas):\n", "            if False:\n",
      "refinement inside the span only: seeds with different brackets stop narrowing (the bug fixed here)",
      ("tests/test_collapse.py", "-k", "narrows or refinement")),
    M("collapse-first-seed-bracket", "vaebench/collapse.py",
      'lo, hi = g["beta_below"].min(), g["beta_above"].max()',
      'lo, hi = g["beta_below"].iloc[0], g["beta_above"].iloc[0]',
      "the new β span the first seed's bracket only",
      ("tests/test_collapse.py", "-k", "narrows or refinement")),
    M("tables-rep-not-by-seed", "analysis/tables.py",
      'return ok.sort_values([*cell, "seed"])', 'return ok.sort_values(list(cell), kind="stable")',
      "the representative run is the cell's first row, not its smallest seed",
      ("tests/analysis/test_analysis_tables.py", "-k", "representative")),
    M("tables-rep-any-status", "analysis/tables.py",
      'return ok.sort_values([*cell, "seed"])', 'return results.sort_values([*cell, "seed"])',
      "a diverged run may represent its cell",
      ("tests/analysis/test_analysis_tables.py", "-k", "representative")),
    M("neighbours-grid-unlocked", "vaebench/metrics/_neighbours.py",
      "        with self._lock:  # evaluation threads share x's PointSet: one grid, never replaced\n",
      "        if True:\n",
      "the grid built without the lock: two threads build (and replace) it",
      (T_NEIGHBOURS, "-k", "builds_its")),
    M("neighbours-tree-unlocked", "vaebench/metrics/_neighbours.py",
      "        with self._lock:\n            if self._tree is None:",
      "        if True:\n            if self._tree is None:",
      "the KD-tree built without the lock", (T_NEIGHBOURS, "-k", "builds_its")),
    M("neighbours-balanced-tree", "vaebench/metrics/_neighbours.py",
      "self._tree = cKDTree(self.points, balanced_tree=False)", "self._tree = cKDTree(self.points)",
      "the KD-tree's median splits again: a segfault on many duplicates in a thread that flushes denormals",
      (T_NEIGHBOURS, "-k", "flushes")),
    M("kernel-knn-kth-tie", "vaebench/_metrics_kernel.c",
      "if (*cnt == k && (s > bd[k - 1] || (s == bd[k - 1] && j > bi[k - 1]))) return;",
      "if (*cnt == k && s >= bd[k - 1]) return;",
      "a tie with the k-th never replaces it: the k-th place among equal distances goes to the first scanned",
      (T_NEIGHBOURS, "-k", "many_duplicates")),
    M("seed-init-from-data", "vaebench/group.py",
      'init_flat(self.layout, stream_rng(c.seed, "init"))',
      'init_flat(self.layout, stream_rng(c.seed, "data"))',
      "initial weights drawn from the data stream", (T_SEEDS, "-k", "initial_weights")),
    M("seed-eval-from-data", "vaebench/data.py",
      'return sample(dataset, n_eval, stream_seed(seed, "eval"))',
      'return sample(dataset, n_eval, stream_seed(seed, "data"))',
      "the evaluation set is the training data", (T_SEEDS, "-k", "evaluation_set")),
    M("seed-key-order", "vaebench/seeding.py",
      "return np.random.default_rng(np.random.SeedSequence([seed, STREAMS[stream]]))",
      "return np.random.default_rng(np.random.SeedSequence([STREAMS[stream], seed]))",
      "a stream keyed (stream, seed): seed 1's init stream is seed 0's data stream", (T_SEEDS,)),
    M("seed-streams-swapped", "vaebench/seeding.py",
      'STREAMS = {"init": 0, "data": 1,', 'STREAMS = {"init": 1, "data": 0,',
      "the init and data streams swapped", (T_SEEDS,)),
    M("seed-generator-offset", "vaebench/seeding.py",
      "offset = (STREAMS[stream] * 0x9E3779B9) & 0xFFFFFFFF", "offset = STREAMS[stream]",
      "generator seeds offset by the stream index: seed s's noise is seed s + 1's batches",
      (T_SEEDS, "-k", "pinned")),
    M("seed-int-shift", "vaebench/seeding.py",
      "generate_state(1, np.uint64)[0] >> 1)", "generate_state(1, np.uint64)[0] >> 2)",
      "stream_seed keeps 62 bits, not 63", (T_SEEDS,)),
    M("exec-stop-ignored", "vaebench/execution/local.py",
      "            if stop.is_set():\n                raise _Stopped\n            progress(n)",
      "            progress(n)",
      "an interrupt stops training at the wave's end, not at its next chunk", (T_EXEC, "-k", "long_wave")),
    M("exec-tasks-reversed", "vaebench/execution/local.py",
      "yield index, [rec for task in futures for rec in task.result()]",
      "yield index, [rec for task in reversed(futures) for rec in task.result()]",
      "a shard's evaluation tasks' rows come back out of run order", (T_EXEC, "-k", "several_tasks")),
    M("exec-wave-offset", "vaebench/execution/tasks.py",
      "out.append((index, trained[at:at + len(ids)], ids))",
      "out.append((index, trained[:len(ids)], ids))",
      "every shard of a wave takes the wave's first trained runs (rows stored under other runs' ids)",
      (T_EXEC, "-k", "several_evaluation_tasks")),
    # --- exact inference (issue 21) ---
    M("exact-no-log-cell", "vaebench/metrics/exact.py", "est = fine + d * math.log(h)", "est = fine",
      "log p(x) without the trapezoid weight log ΔA", (T_EXACT, "-k", "closed_forms")),
    M("exact-grid-off-by-one", "vaebench/metrics/_quadrature.py", "np.linspace(lo, hi, m + 1)",
      "np.linspace(lo, hi, m)", "m nodes where the spacing assumes m + 1", (T_EXACT, "-k", "closed_forms")),
    M("exact-cross-sign", "vaebench/metrics/exact.py", "marginal_kl = -entropy - cross",
      "marginal_kl = -entropy + cross", "E_q log p(z) added instead of subtracted",
      (T_EXACT, "-k", "surgery")),
    M("exact-scale-constant", "vaebench/metrics/exact.py", "scale = 1.0 / (2.0 * recon_var)",
      "scale = 1.0 / recon_var", "decoder exponent without its ½", (T_EXACT, "-k", "closed_forms")),
    M("exact-no-refine", "vaebench/metrics/exact.py",
      "if (lik_err <= tol and ent_err <= tol) or m >= MAX_INTERVALS:", "if True:",
      "the posterior grid never refined", (T_EXACT, "-k", "relu_model")),
    M("exact-no-mass-check", "vaebench/metrics/exact.py",
      "resolved = bool(np.max(np.abs(mass * cell - 1.0)) <= MASS_TOL)", "resolved = True",
      "a q(z|x) between the nodes reported with a small error", (T_EXACT, "-k", "between_the_nodes")),
    M("exact-kernel-no-max", "vaebench/_metrics_kernel.c",
      "out[i] = m + log(acc[0] + acc[1] + acc[2] + acc[3]);",
      "out[i] = log(acc[0] + acc[1] + acc[2] + acc[3]);",
      "the mixture's log-sum without its factored maximum", (T_EXACT, "-k", "closed_forms")),
    M("suite-fit-ignored", "vaebench/metrics/suite.py",
      "return self.recon_var_fitted() if self.fit_recon_var else self.recon_var", "return self.recon_var",
      "fits_recon_var variants scored with the configured σ²", ("tests/metrics/test_exact_suite.py",)),
    M("conformance-containment", "analysis/conformance_table.py",
      "    if band_lo <= lo and hi <= band_hi:\n        return \"equivalent\"",
      "    if lo <= (band_lo + band_hi) / 2 <= hi:\n        return \"equivalent\"",
      "a row agrees when its interval contains the closed form (not an equivalence)",
      ("tests/analysis/test_conformance.py", "-k", "equivalence")),
]


def _pytest(m: Mutation) -> int | None:
    """pytest's exit status on the mutation's tests (None: it ran past TIMEOUT)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "--benchmark-disable", *m.tests], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        return None


def run_one(m: Mutation, baseline: bool = False) -> tuple[str, float]:
    """Plant ``m``, run its tests, restore the file. With ``baseline``: run its tests on the code as it
    is (they must pass, else a "caught" would prove nothing)."""
    path = ROOT / m.file
    original = path.read_text()
    if original.count(m.old) != 1:
        return f"stale ({original.count(m.old)} matches)", 0.0
    start = time.monotonic()
    if baseline:
        rc = _pytest(m)
        return ("baseline ok" if rc == 0 else f"BASELINE FAILS (exit {rc})"), \
            time.monotonic() - start
    try:
        path.write_text(original.replace(m.old, m.new))
        rc = _pytest(m)
    finally:
        path.write_text(original)
    status = "caught (timeout)" if rc is None else "caught" if rc == 1 else "MISSED" if rc == 0 else \
        f"error (pytest exit {rc})"
    return status, time.monotonic() - start


def markdown(log: str | None = None) -> str:
    """The table of tests/MUTATIONS.md; with ``log`` (the output of a replay), a result column."""
    results = {}
    for line in Path(log).read_text().splitlines() if log else []:
        status, _, rest = line.partition("  ")
        mid = rest.split(" s  ", 1)[-1].split(":", 1)[0]
        results[mid] = status.strip()
    rows = ["| id | module | mutation | caught by | result |", "|---|---|---|---|---|"]
    for m in MUTATIONS:
        rows.append(f"| `{m.id}` | `{m.file}` | {m.bug} | `{' '.join(m.tests)}` | {results.get(m.id, '')} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--markdown"]:
        print(markdown(argv[1] if len(argv) > 1 else None))
        return 0
    if "--list" in argv:
        for m in MUTATIONS:
            print(f"{m.id:32} {m.file:34} {' '.join(m.tests)}")
        return 0
    baseline = "--baseline" in argv
    argv = [a for a in argv if a != "--baseline"]
    chosen = [m for m in MUTATIONS if not argv or m.id in argv]
    unknown = set(argv) - {m.id for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation ids: {sorted(unknown)} (see --list)", file=sys.stderr)
        return 2
    bad = 0
    for m in chosen:
        status, seconds = run_one(m, baseline)
        bad += not status.startswith("baseline ok" if baseline else "caught")
        print(f"{status:24} {seconds:6.1f} s  {m.id}: {m.bug}", flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} " + ("test selections pass unmutated" if baseline
                                                       else "mutations caught"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
