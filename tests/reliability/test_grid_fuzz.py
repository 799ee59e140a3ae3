"""Property-based fuzzing of the grid-file schema (hypothesis): whatever the file says, the command line
either accepts it or ends in one line naming a key (or the file), with exit status 2, no traceback, and
nothing trained or written."""

import contextlib
import io
import json
import math
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaebench.cli import main
from vaebench.config import config_fields
from vaebench.grid import SETTINGS

pytestmark = pytest.mark.reliability

KEYS = config_fields() + list(SETTINGS) + ["betta", "Seed", "foo"]
WORDS = ["vae", "wae", "probit", "capacity", "vqvae", "linear", "cyclical", "cosine", "cpu", "cuda", "auto",
         "tpu", "uniform", "moons", "mnist", "c_max", ""]
scalars = st.one_of(
    st.integers(-2, 70), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.sampled_from(WORDS),
    # no subnormals: the engine sets flush-to-zero in this process once anything has trained
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS + ["c_max", "target"]), inner, max_size=2),
                      max_leaves=6)
tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
documents = st.fixed_dictionaries({}, optional={
    "study": tables | values, "grid": tables | values,
    "grids": st.dictionaries(st.text(min_size=1, max_size=4), tables | values, max_size=2),
    "gird": tables})


def toml_value(v) -> str:
    """A value as TOML text (inline tables and arrays, so a whole document fits on key = value lines)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")  # TOML escapes DEL too
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def names_in(doc) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {n for v in doc.values() for n in names_in(v)}
    if isinstance(doc, list):
        return {n for v in doc for n in names_in(v)}
    return set()


def check_cli(text: str, names: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "fuzz.toml", Path(tmp) / "out"
        path.write_text(text)
        err, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
            status = main(["run", str(path), "--out", str(out), "--dry-run"])
        message = err.getvalue()
        assert not out.exists()  # nothing written (and nothing trained: a dry run stops before)
        if status == 0:
            assert message == "" and "runs" in stdout.getvalue()
            return
        assert status == 2, message
        assert message.startswith("error: ") and message.count("\n") == 1 and "Traceback" not in message
        body = message[len("error: "):]
        named = body.startswith("grid file") or body.startswith("shard_size = ") or \
            body.startswith("device = 'cuda'") or any(n and n in body for n in names)
        assert named, message


@settings(max_examples=250, deadline=None, database=None)
@given(documents)
def test_any_grid_document_is_accepted_or_refused_in_one_line_naming_a_key(doc):
    text = "\n".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in doc.items()) + "\n"
    parsed = tomllib.loads(text)
    assert parsed.keys() == doc.keys()  # the emitter wrote valid TOML
    check_cli(text, names_in(doc))


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=60))
def test_any_text_is_accepted_or_refused_in_one_line(text):
    check_cli(text, set())
