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
    M("kernel-knn-gap-side", "vaebench/kernel/metric_loops.c",
      "if (cx - r > 0) g = fmin(", "if (cx - r > 1) g = fmin(",
      "k-NN stops early: the cells left of the scanned block are taken as the grid's edge one ring too soon",
      (T_NEIGHBOURS, "-k", "query_and_knn")),
    M("kernel-knn-tie-order", "vaebench/kernel/metric_loops.c",
      "(bd[p - 1] == s && bi[p - 1] > j)", "(bd[p - 1] == s && bi[p - 1] < j)",
      "equal distances in reverse index order", (T_NEIGHBOURS, "-k", "query_and_knn")),
    M("kernel-count-not-strict", "vaebench/kernel/metric_loops.c",
      "count += sqrt(sq_dist(gr, i, centres, m, row)) < r;",
      "count += sqrt(sq_dist(gr, i, centres, m, row)) <= r;",
      "a point on the ball's sphere counts as inside (coverage's balls not open)",
      (T_NEIGHBOURS, "-k", "count_within")),
    M("kernel-rank-ball-strict", "vaebench/kernel/metric_loops.c",
      "total += sq_dist(gr, i, centres, n_groups, g) <= t;",
      "total += sq_dist(gr, i, centres, n_groups, g) < t;",
      "trustworthiness ranks (cells of the ball) miss the intruder itself",
      ("tests/metrics/test_metrics_structure.py", "-k", "trustworthiness_equals_brute_force")),
    M("kernel-rank-full-strict", "vaebench/kernel/metric_loops.c",
      "for (int64_t i = 0; i < gr->n; i++) count += scratch[i] <= t;",
      "for (int64_t i = 0; i < gr->n; i++) count += scratch[i] < t;",
      "trustworthiness ranks (full pass) miss the intruder itself",
      ("tests/metrics/test_metrics_structure.py", "-k", "trustworthiness_equals_brute_force")),
    M("kernel-pair-sum-diagonal", "vaebench/kernel/metric_loops.c",
      "const double diagonal = kind == 0 ? (double)n : 0.0;", "const double diagonal = 0.0;",
      "the Gaussian pair sum without its n diagonal terms (Henze–Zirkler off)",
      ("tests/metrics/test_metrics_multivariate.py", "-k", "naive_n_squared")),
    M("kernel-exp-exponent", "vaebench/kernel/metric_loops.c",
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
    M("kernel-knn-kth-tie", "vaebench/kernel/metric_loops.c",
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
    M("exact-kernel-no-max", "vaebench/kernel/metric_loops.c",
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

# --- this round's new code (sigma_vae, the kernel's struct interface in vaebench/kernel/, the report's seed
# figures and explorer, the findings protocol, a user's own data): the bugs planted by hand by their
# engineers, made replayable, and more in the new modules (affine, continuity, latent_signal, protocol, data,
# explorer). C sources rebuild on the next import (the build's name hashes them). ---
T_FUSED = "tests/test_fused.py"
T_SIGMA = "tests/test_sigma_vae.py"
T_LAYOUT = "tests/test_kernel_layout.py"
T_CPU = "tests/test_cpu_kernel.py"
T_SEEDFIG = "tests/analysis/test_seed_figures.py"
T_EXPLORER = "tests/analysis/test_explorer.py"
T_BROWSER = "tests/analysis/test_explorer_browser.py"  # needs chromium on PATH (else skipped: MISSED)
T_FINDINGS = "tests/analysis/test_analysis_findings.py"
T_SHAPES = "tests/metrics/test_metrics_claim_shapes.py"
T_OWN = "tests/test_own_data.py"
T_PROTO = "tests/analysis/test_analysis_protocol.py"
GRAD = T_FUSED + "::test_fused_gradient_is_autograd_of_the_one_statement"
SIGMA_FLOOR = T_FUSED + "::test_sigma_vae_with_the_mse_below_its_floor_in_some_models[1-13]"
SIGMA_OBJECTIVE = T_SIGMA + "::test_the_objective_is_half_d_log_mse_plus_beta_kl_up_to_a_constant"
MUTATIONS += [
    # sigma_vae
    M("sigma-log-slope-sign", "vaebench/kernel/stats.c",
      "return s > c ? 1.f / s : (s == c ? 0.5f / c : 0.f);",
      "return s > c ? -1.f / s : (s == c ? 0.5f / c : 0.f);",
      "the C slope of ln max(s, c) with the wrong sign", (GRAD + "[2-32-sigma_vae]",)),
    M("sigma-log-slope-no-floor", "vaebench/kernel/stats.c",
      "return s > c ? 1.f / s : (s == c ? 0.5f / c : 0.f);", "return 1.f / s;",
      "the C slope of ln max(s, c) ignores the floor (1/s below it)", (SIGMA_FLOOR,)),
    M("sigma-log-value-no-floor", "vaebench/kernel/stats.c",
      "return logf(s != s || s > c ? s : c);", "return logf(s);",
      "the C value of ln max(s, c) ignores the floor", (SIGMA_FLOOR,)),
    M("sigma-torch-log-no-floor", "vaebench/objective.py",
      "return torch.log(torch.maximum(s, at))", "return torch.log(s)",
      "the operators' log shape without its floor", (SIGMA_OBJECTIVE + "[1e-05]",)),
    M("objective-shapes-order", "vaebench/objective.py",
      'SHAPES = ("linear", "abs", "floor", "log")', 'SHAPES = ("linear", "abs", "log", "floor")',
      "Python's shape names out of the C enum's order (a log term computed as a floor)",
      (GRAD + "[2-32-sigma_vae]",)),
    M("sigma-recon-weight-d", "vaebench/variants/sigma_vae.py",
      'Term("recon", DATA_DIM / 2, "log", floor)', 'Term("recon", DATA_DIM, "log", floor)',
      "σ-VAE's log-MSE term weighted D, not D/2", (SIGMA_OBJECTIVE + "[0.3]",)),
    M("sigma-floor-unscaled", "vaebench/variants/sigma_vae.py",
      "floor = recon_of_mse(MSE_FLOOR, DATA_DIM, c.recon_var)", "floor = MSE_FLOOR + 0 * c.recon_var",
      "the MSE floor not put on the recon statistic's scale", (SIGMA_OBJECTIVE + "[1e-05]",)),
    M("losses-recon-of-mse-no-dim", "vaebench/losses.py",
      "return dim * mse / (2.0 * recon_var)", "return mse / (2.0 * recon_var)",
      "recon_of_mse without the data dimension",
      (T_SIGMA + "::test_recon_of_mse_is_the_scale_of_the_recon_statistic",)),
    M("objective-log-floor-zero", "vaebench/objective.py",
      "(torch.as_tensor(term.at) > 0).all()", "(torch.as_tensor(term.at) >= 0).all()",
      "a 'log' term with its floor at 0 accepted (ln 0)",
      ("tests/test_variants.py::test_malformed_terms_are_refused_naming_the_variant[log_without_floor]",)),
    M("sigma-kl-unweighted", "vaebench/variants/sigma_vae.py",
      'Term("kl", c.beta)]', 'Term("kl")]',
      "σ-VAE's KL without β", (SIGMA_OBJECTIVE + "[0.3]",)),
    # the training kernel (vaebench/kernel/)
    M("kernel-kl-lanes-dim0", "vaebench/kernel/stats.c",
      "cv[j] = ck[j % d];", "cv[j] = ck[0];",
      "KL gradient by vector lanes: every lane takes dimension 0's slope",
      (T_FUSED + "::test_free_bits_with_the_floor_crossed_inside_a_model[2]",)),
    M("kernel-recon-grad-half", "vaebench/kernel/stats.c",
      "const float cg = slope * c_rec;", "const float cg = slope * c_rec * 0.5f;",
      "the reconstruction's gradient halved", (GRAD + "[2-32-vae]",)),
    M("kernel-mmd-grad-sign", "vaebench/kernel/stats.c",
      "gz[i] += slope * gm[i];", "gz[i] -= slope * gm[i];",
      "the MMD term's gradient into z with the wrong sign", (GRAD + "[2-32-wae]",)),
    M("kernel-kl-slope-dropped", "vaebench/kernel/fused.c",
      "if (stat == ST_KL)", "if (stat == ST_KL && 0)",
      "a kl term's slope never reaches the KL's gradient (kept in slope[ST_KL], unread)",
      (T_FUSED + "::test_capacity_on_both_sides_of_its_target",)),
    M("kernel-shapes-swapped", "vaebench/kernel/kernel.h",
      'X(FN_FLOOR, "floor") X(FN_LOG, "log")', 'X(FN_LOG, "log") X(FN_FLOOR, "floor")',
      "the C shape enum's floor and log swapped", (T_LAYOUT,)),
    M("kernel-adam-t-int32", "vaebench/kernel/__init__.py",
      '("eps", f64), ("t", i64)]', '("eps", f64), ("t", ctypes.c_int32)]',
      "Adam.t bound as a 32-bit int (kernel.h: int64_t)", (T_LAYOUT,)),
    M("kernel-gemm-no-single-rows", "vaebench/kernel/simd.h",
      "X(2) X(1)\n#else\n#define GEMM_ROW_TILES(X) X(TR) X(2) X(1)",
      "X(2)\n#else\n#define GEMM_ROW_TILES(X) X(TR) X(2)",
      "gemm's single-row tiles dropped: an odd number of rows leaves its last row unwritten",
      (T_CPU, "-k", "forward_and_backward")),
    M("kernel-adam-died-at", "vaebench/kernel/adam.c",
      "*died_at = a->t - 1;", "*died_at = a->t;",
      "a dead model's died_at 1-based (one step late)", (T_CPU, "-k", "adam")),
    M("fused-route-adam-t", "vaebench/routes/fused.py",
      "ADAM_EPS, t + 1, log", "ADAM_EPS, t + 2, log",
      "the fused route's Adam count one step ahead (bias corrections of the next step)",
      (T_CPU, "-k", "same_function")),
    # the report: seed figures, explorer, tables, heatmaps
    M("seed-figure-letters-transposed", "analysis/seed_figures.py",
      'letter = chr(ord("a") + 2 * i + j)\n            lam_text',
      'letter = chr(ord("a") + i + 2 * j)\n            lam_text',
      "seed figure's panel titles lettered down the columns, not along the rows as the seed's Fig. 2",
      (T_SEEDFIG + "::test_seed_figure_letters_rows_and_columns_as_the_seed",)),
    M("seed-cells-letters-transposed", "analysis/seed_figures.py",
      'letter = chr(ord("a") + 2 * i + j)\n                out.append',
      'letter = chr(ord("a") + i + 2 * j)\n                out.append',
      "seed_cells' panel letters down the columns (the drawn runs' table disagrees with the figure)",
      (T_SEEDFIG, "-k", "default_rows")),
    M("seed-default-rows-no-tenfold", "analysis/seed_figures.py",
      '_same(runs["beta"], 10 * beta)', '_same(runs["beta"], beta)',
      "the default rows' β chosen without its 10β",
      (T_SEEDFIG + "::test_default_rows_take_a_beta_with_its_tenfold_and_at_most_four_lambdas",)),
    M("explorer-quantise-scale", "analysis/explorer.py",
      "/ span * 65535).clip", "/ span * 65534).clip",
      "quantised to 0..65534 but read back over 0..65535",
      (T_EXPLORER + "::test_quantise_round_trip_within_half_a_step",)),
    M("explorer-recon-rows", "analysis/explorer.py",
      'quantise(np.asarray(a["recon"])[rows])', 'quantise(np.asarray(a["recon"])[gen_rows])',
      "the reconstructions subsampled on the generated points' rows (not x's)",
      (T_EXPLORER + "::test_explorer_data_subsamples_the_same_rows_for_every_array",)),
    M("explorer-script-close", "analysis/explorer.py",
      '.replace("</", "<\\\\/")', "",
      "a '</script>' in the data closes the script element",
      (T_EXPLORER + "::test_explorer_html_embeds_inert_json_and_stays_small",)),
    M("explorer-js-no-filter", "analysis/explorer.js",
      "for (var j = 0; j < i; j++)", "for (var j = 0; j < 0; j++)",
      "a control offers values that no run with the controls before it has",
      (T_BROWSER + "::test_controls_offer_only_what_the_study_has",)),
    M("explorer-js-no-draw", "analysis/explorer.js",
      "    draw(current());\n", "",
      "moving a control does not redraw the run",
      (T_BROWSER + "::test_moving_a_control_changes_the_run_shown",)),
    M("document-wide-no-keys", "analysis/document.py",
      "keys = list(range(min(first, max_columns // 2)))", "keys = []",
      "a wide table's parts do not repeat its key columns",
      ("tests/analysis/test_analysis_render.py::test_wide_tables_are_shown_in_parts_that_repeat_their_keys",)),
    M("heatmap-annotation-long", "analysis/summary_figures.py",
      "fmt_short(mean, 2)", "fmt(mean)",
      "heatmap cells annotated with the long number format",
      ("tests/analysis/test_analysis_figures.py::test_heatmap_figure_axes_and_annotations",)),
    # the findings protocol
    M("findings-seeds-unfiltered", "analysis/findings.py",
      'runs = runs[runs["seed"].isin(list(seeds))].drop_duplicates("seed")',
      'runs = runs.drop_duplicates("seed")',
      "pilot and looked-at seeds enter the confirmatory tests",
      (T_FINDINGS + "::test_pilot_and_looked_at_seeds_never_enter_a_test",)),
    M("findings-guard-event-ignored", "analysis/findings.py",
      "return runs[EVENTS[where][1](runs)] if where else runs", "return runs",
      "a claim's guard event (runs where it can be judged) ignored",
      (T_FINDINGS + "::test_collapse_cannot_support_no_values_near_zero",)),
    M("findings-closed-form-always", "analysis/findings.py",
      "decided = beta > bc", "decided = beta >= 0",
      "annealing decided by the closed form at any β, not only above β_c",
      (T_FINDINGS + "::test_annealing_to_one_is_decided_by_the_closed_form_and_only_above_beta_c",)),
    M("stats-tost-power-one-side", "analysis/stats.py",
      "max(0.0, up + down - 1.0)", "max(up, down)",
      "TOST's power from its better side only (too few seeds asked for)",
      ("tests/analysis/test_analysis_stats.py::test_equivalence_part_is_tost_and_its_power_needs_both_sides",)),
    M("curve-turns-net", "vaebench/metrics/curve.py",
      "np.abs(turn).sum()", "abs(turn.sum())",
      "curve turns as the net turning (an S counts 0)", (T_SHAPES + "::test_turns_of_closed_form_curves",)),
    M("continuity-is-trustworthiness", "vaebench/metrics/continuity.py",
      "return trustworthiness(latent, inputs, k,", "return trustworthiness(inputs, latent, k,",
      "continuity computed as trustworthiness (the two spaces not swapped)",
      (T_SHAPES + "::test_continuity_equals_its_definition[projection]",)),
    M("calibrate-share-strict", "analysis/calibrate.py",
      "s >= TWO_D_SHARE", "s > TWO_D_SHARE",
      "panel g's λ needs more than, not at least, three quarters of the seeds 2-D",
      ("tests/analysis/test_analysis_calibrate.py::test_panel_g_is_the_largest_lambda_with_three_quarters_two_d",)),
    # a user's own data
    M("data-split-overlap", "vaebench/data.py",
      "order[start:start + n]", "order[0:n]",
      "the evaluation rows are the training rows (no split)", (T_OWN, "-k", "without_replacement")),
    M("data-id-shape-only", "vaebench/data.py",
      "repr(arr.shape).encode() + arr.tobytes()", "repr(arr.shape).encode()",
      "a file's content id from its shape only: an edited file reuses stored results",
      (T_OWN, "-k", "edited_file")),
    M("grid-points-exact-refused", "vaebench/grid.py",
      "cfg.n_train + self.n_eval > len", "cfg.n_train + self.n_eval >= len",
      "a file of exactly n_train + n_eval rows refused", (T_OWN + "::test_exactly_enough_rows_is_enough",)),
    M("data-non-finite-accepted", "vaebench/data.py",
      "    if not np.isfinite(points).all():", "    if False:",
      "a file with NaN or inf rows accepted", (T_OWN, "-k", "bad_npy_file")),
    M("eval-quadrant-unit-square", "vaebench/evaluation.py",
      "quadrant(x, centre(cfg.dataset))", "quadrant(x)",
      "quadrants of a file's points around (0.5, 0.5), not its own centre", (T_OWN, "-k", "trains_stores")),
    M("data-pickle-loaded", "vaebench/data.py",
      "allow_pickle=False)", "allow_pickle=True)",
      "a .npy pickle is loaded (runs code)", (T_OWN + "::test_a_pickle_is_never_loaded",)),
    # more in the new modules (planted for this block)
    M("affine-latent-not-centred", "vaebench/metrics/affine.py",
      "mc = m - m.mean(0)", "mc = m",
      "affine R²'s total variance about 0, not the latent's mean (a shifted latent scores higher)",
      (T_SHAPES, "-k", "affine_r2")),
    M("affine-r2-per-coordinate", "vaebench/metrics/affine.py",
      "return float(1.0 - np.sum(resid * resid) / total)",
      "return float(np.mean(1.0 - np.sum(resid * resid, 0) / np.sum(mc * mc, 0)))",
      "affine R² as the mean of per-coordinate R² (not the trace ratio: a fold scores 0.5, not 0.8)",
      (T_SHAPES, "-k", "affine_r2")),
    M("signal-noise-log-mean", "vaebench/metrics/latent_signal.py",
      "noise = np.diag(np.exp(lv).mean(0))", "noise = np.diag(np.exp(lv.mean(0)))",
      "E[σ²] taken as exp E[ln σ²] (Jensen: too little noise where σ² varies between points)",
      (T_SHAPES, "-k", "not_its_log")),
    M("signal-shares-ascending", "vaebench/metrics/latent_signal.py",
      "shares = np.linalg.eigvalsh(inv_sqrt @ signal @ inv_sqrt)[::-1]",
      "shares = np.linalg.eigvalsh(inv_sqrt @ signal @ inv_sqrt)",
      "shares in eigvalsh's ascending order: 'major' is the smallest", (T_SHAPES, "-k", "bands_one")),
    M("signal-whitening-sqrt", "vaebench/metrics/latent_signal.py",
      "inv_sqrt = (v / np.sqrt(w)) @ v.T", "inv_sqrt = (v / w) @ v.T",
      "Cov(z) whitened by its inverse, not its inverse square root", (T_SHAPES, "-k", "signal_shares")),
    M("signal-deterministic-not-nan", "vaebench/metrics/latent_signal.py",
      " or noise.max() <= 0:", ":",
      "a deterministic encoder (no noise) scores every direction 1, not NaN", (T_SHAPES, "-k", "bands_one")),
    M("protocol-pilot-last-seed", "analysis/protocol.py",
      'lo, hi = self.meta["pilot_seeds"]\n        return tuple(range(lo, hi + 1))',
      'lo, hi = self.meta["pilot_seeds"]\n        return tuple(range(lo, hi))',
      "the pilot's last seed left out of the pilot seeds (and free to be confirmatory)",
      (T_PROTO, "-k", "sha256 or pilot_seed")),
    M("protocol-confirmatory-shifted", "analysis/protocol.py",
      "tuple(range(first, first + n))", "tuple(range(first + 1, first + n + 1))",
      "a claim's confirmatory seeds start one after confirmatory_first (the grid's first seed unread)",
      (T_PROTO, "-k", "pilot_seed or every_cell")),
    M("protocol-seed-clash-unchecked", "analysis/protocol.py",
      "if clash or set(proto.pilot_seeds) & set(proto.looked_at):", "if False:",
      "confirmatory seeds that overlap the pilot's or the looked-at ones accepted",
      (T_PROTO, "-k", "bad_field")),
    M("protocol-calibrated-name-unchecked", "analysis/protocol.py",
      'v = calibration.get(_text(f"{where}.{key}", v, tuple(calibration)))', "v = calibration.get(v)",
      "an unknown calibrated name (l2 = 'lambda_z') reported as None, not by its name",
      (T_PROTO, "-k", "bad_field")),
    M("protocol-cell-unknown-key", "analysis/protocol.py",
      "unknown = sorted(set(value) - set(CELL_KEYS))", "unknown = []",
      "a cell's unknown key (a typo) silently ignored", (T_PROTO, "-k", "bad_field")),
    M("protocol-bool-number", "analysis/protocol.py",
      "    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:",
      "    if not isinstance(value, int | float) or not low <= value <= high:",
      "a protocol number may be true (β = 1)", (T_PROTO, "-k", "bad_field")),
    M("protocol-header-lambda-b", "analysis/protocol.py",
      'f" (λ·B = {v * batch:g})"', 'f" (λ·B = {v:g})"',
      "the header's λ·B without B", (T_PROTO, "-k", "sha256")),
    M("data-centre-mean", "vaebench/data.py",
      "return (points.min(axis=0).astype(np.float64) + points.max(axis=0)) / 2",
      "return points.mean(axis=0).astype(np.float64)",
      "a file's quadrants around its mean, not the middle of its box", (T_OWN, "-k", "trains_stores")),
    M("data-split-bound-off-by-one", "vaebench/data.py",
      "if start + n > len(points):", "if start + n > len(points) + 1:",
      "one row too many asked of a file: a short evaluation set drawn silently",
      (T_OWN, "-k", "without_replacement")),
    M("data-one-permutation", "vaebench/data.py",
      'order = stream_rng(seed, "data").permutation(len(points))',
      'order = stream_rng(0, "data").permutation(len(points))',
      "every seed draws the same rows of a file", (T_OWN, "-k", "without_replacement")),
    M("explorer-quadrant-rows", "analysis/explorer.py",
      'np.asarray(a["quadrant"])[rows]', 'np.asarray(a["quadrant"])[gen_rows]',
      "the quadrant colours subsampled on other rows than the points they colour",
      (T_EXPLORER + "::test_explorer_data_subsamples_the_same_rows_for_every_array",)),
    M("explorer-non-finite-raw", "analysis/explorer.py",
      "finite = np.where(np.isfinite(v), v, np.nan)", "finite = v",
      "a non-finite value spoils its column's range (inf: every value quantised to lo)",
      (T_EXPLORER + "::test_quantise_round_trip_within_half_a_step",)),
    M("explorer-more-points-than-rows", "analysis/explorer.py",
      "size=min(n_points, n), replace=False", "size=n_points, replace=False",
      "a run with fewer points than n_points fails the whole explorer",
      (T_EXPLORER + "::test_explorer_data_subsamples_the_same_rows_for_every_array",)),
    M("explorer-any-status", "analysis/explorer.py",
      "ok, _ = split_status(results)", "ok = results",
      "diverged runs offered in the explorer",
      (T_EXPLORER + "::test_explorer_leaves_out_runs_that_are_not_ok",)),
    # the kernel rows of MUTATIONS.md's hand-checked table (planted in _cpu_kernel.c before the split),
    # now replayable
    M("kernel-floor-slope-one", "vaebench/kernel/stats.c",
      "return s > c ? 1.f : (s == c ? 0.5f : 0.f);", "return 1.f;",
      "free-bits slope of max(s, c) always 1 (no floor)",
      (T_FUSED + "::test_free_bits_with_the_floor_crossed_inside_a_model",)),
    M("kernel-abs-slope-sign", "vaebench/kernel/stats.c",
      "return s > c ? 1.f : (s < c ? -1.f : 0.f);", "return s > c ? 1.f : (s < c ? 1.f : 0.f);",
      "capacity slope's sign +1 below the target",
      (T_FUSED + "::test_capacity_on_both_sides_of_its_target",)),
    M("kernel-mmd-no-j-side", "vaebench/kernel/stats.c",
      "            if (gt)\n                st(gt + k * Bp + j, ld(gt + k * Bp + j) - g);\n", "",
      "MMD gradient without the j-side (symmetric half) contribution", (GRAD + "[2-32-wae]",)),
    M("kernel-mmd-diagonal-pairs", "vaebench/kernel/stats.c",
      "ok &= idx > (int32_t)i;", "ok &= idx >= (int32_t)i;",
      "MMD rows: the pair j = i counted in a row's first block",
      (T_FUSED + "::test_fused_mmd_gradient_at_small_and_odd_batches",)),
    M("kernel-kl-value-lanes-dim0", "vaebench/kernel/stats.c",
      "kl_k[j % d] += s[j];", "kl_k[0] += s[j];",
      "KL per dimension, vector lanes: every lane to dimension 0",
      (T_FUSED + "::test_free_bits_with_the_floor_crossed_inside_a_model[2]",)),
    M("kernel-kl-value-rows-dim0", "vaebench/kernel/stats.c",
      "kl_k[i % d] += mu[i] * mu[i]", "kl_k[0] += mu[i] * mu[i]",
      "KL per dimension, scalar path: every row to dimension 0",
      (T_FUSED + "::test_free_bits_with_the_floor_crossed_inside_a_model[3]",)),
    M("kernel-adam-updates-the-dying", "vaebench/kernel/adam.c",
      "*died_at = a->t - 1;\n        return;\n", "*died_at = a->t - 1;\n",
      "a dying model still updated by Adam at its death step", (T_FUSED, "-k", "frozen and auto")),
    M("kernel-adam-updates-the-dead", "vaebench/kernel/adam.c",
      "    if (!*alive)\n        return;\n", "",
      "dead models not skipped on later steps (moves on Adam's momentum)",
      (T_FUSED, "-k", "frozen and auto")),
]

# --- the execution layer (issue 22) and the collapse search through run_study ---
T_THREADS = "tests/test_threads.py"
T_STATS = "tests/test_statistics.py"
T_COLLAPSE = "tests/test_collapse.py"
MUTATIONS += [
    M("threads-eval-flushes", "vaebench/threads.py", "return _flush(False)", "return _flush(True)",
      "evaluation runs with denormals flushed: its numbers depend on the evaluating thread",
      (T_THREADS, "-k", "flushes_denormals_and_evaluating_does_not")),
    M("threads-state-not-restored", "vaebench/threads.py", "        torch.set_flush_denormal(before)",
      "        pass", "the caller's floating-point state is not restored after training or evaluating",
      (T_THREADS, "-k", "restore")),
    M("plan-units-one-thread", "vaebench/execution/plan.py", "runs = wave_runs(layout.threads, shard_size)",
      "runs = wave_runs(1, shard_size)", "units sized for one thread whatever the layout",
      ("tests/test_execution.py", "-k", "units_are_consecutive")),
    M("plan-units-grid-order", "vaebench/execution/plan.py",
      "return sorted(units, key=lambda unit: -sum(", "return sorted(units, key=lambda unit: 0 * sum(",
      "units run in grid order: a long unit last keeps one worker busy while the others wait",
      ("tests/test_execution.py", "-k", "largest_work_first")),
    M("plan-waves-overshoot", "vaebench/execution/plan.py", "if not waves or count + n > runs:",
      "if not waves or count >= runs:",
      "waves of at least the wave size (60 runs where 32 were meant): uneven units",
      ("tests/test_runner.py", "-k", "plan_waves")),
    M("dask-malloc-trim", "vaebench/execution/dask.py",
      '{"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}', "{}",
      "LocalCluster workers with dask's MALLOC_TRIM_THRESHOLD_ (evaluation 1.4× slower)",
      ("tests/test_execution.py", "-k", "forks_its_workers")),
    M("dask-spawn", "vaebench/execution/dask.py",
      'config["distributed.worker.multiprocessing-method"] = "fork"', "pass",
      "LocalCluster workers spawned: each imports torch and vaebench again (2-3 s of a 20 s study)",
      ("tests/test_execution.py", "-k", "forks_its_workers")),
    M("tasks-eval-threads-unpinned", "vaebench/execution/tasks.py",
      "    with threads.one_intra_op_thread():", "    if True:",
      "evaluation threads keep torch's intra-op threads (cores oversubscribed)",
      ("tests/test_runner.py", "-k", "usable_cores")),
    M("holm-off-by-one", "vaebench/statistics.py", "(m - np.arange(m)) * p[order]",
      "(m - np.arange(m) - 1) * p[order]", "Holm's multipliers one too small (m − i instead of m − i + 1)",
      (T_STATS, "-k", "holm")),
    M("holm-nan-kept", "vaebench/statistics.py", "keep = np.flatnonzero(np.isfinite(p))",
      "keep = np.arange(len(p))", "Holm counts NaN p-values in the family where the caller skips them",
      (T_STATS, "-k", "holm")),
    M("shell-failures-as-crashes", "vaebench/shell.py", "if isinstance(err, failures):", "if False:",
      "a known failure (a shard that failed) is reported as a crash with a traceback log",
      ("tests/test_execution.py", "-k", "error_shell")),
    M("collapse-refine-this-round", "vaebench/collapse.py",
      "ladders = refinement(transitions(runs), spec.points)",
      "ladders = refinement(transitions(rows), spec.points)",
      "brackets refined from this round's runs only, not every round's",
      (T_COLLAPSE, "-k", "bracket_narrows")),
    M("collapse-error-of-mean", "vaebench/collapse.py", 'a["x"].astype(np.float64) - a["recon"]',
      'a["x"].astype(np.float64) - a["recon_mean"]', "the distortion of decode(μ), not of decode(z)",
      (T_COLLAPSE, "-k", "cli_writes_runs")),
    M("collapse-retries-betas", "vaebench/collapse.py", "[b for b in betas if (*key, b) not in done]",
      "list(betas)", "a round trains β values an earlier round already trained",
      (T_COLLAPSE, "-k", "bracket_narrows")),
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
