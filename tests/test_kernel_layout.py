"""The C kernel's interface and its Python bindings agree: every struct's size, field offsets and sizes, every
enum's names in order (objective.STATS, SHAPES, OUTPUTS), the metrics kernel's Grid, and the rule that
no entry point takes more than 10 parameters.

The C side is the built library's own table (``vb_layout``: sizeof/offsetof computed by the compiler that
built it); the Python side is ctypes (``ctypes.sizeof``, each field's ``offset``)."""

import ctypes
import re
from pathlib import Path

import pytest

from vaebench import cpu_kernel, kernel, objective
from vaebench.metrics._neighbours import _GridSpec

lib = cpu_kernel.load()
needs_kernel = pytest.mark.skipif(lib is None, reason="no C compiler: the CPU kernel is not built here")


@needs_kernel
def test_structs_and_enums_agree_with_the_c_side():
    c, py = kernel.c_layout(lib), kernel.python_layout()
    grid = {k: v for k, v in c.items() if k[0] == "Grid"}
    c = {k: v for k, v in c.items() if k[0] != "Grid"}
    missing, extra = sorted(set(c) - set(py)), sorted(set(py) - set(c))
    assert not missing and not extra, f"C only: {missing}; Python only: {extra}"
    wrong = {k: (c[k], py[k]) for k in c if c[k] != py[k]}
    assert not wrong, f"(C, Python) differ: {wrong}"
    assert {k[0] for k in c} >= {s.__name__ for s in kernel.STRUCTS} | {"Stat", "Shape", "Out"}
    # the metrics kernel's Grid against its binding in vaebench.metrics._neighbours
    assert grid == kernel.struct_layout(_GridSpec, "Grid")


@needs_kernel
def test_the_enums_follow_the_objectives_names():
    c = kernel.c_layout(lib)
    for group, names in (("Stat", objective.STATS), ("Shape", objective.SHAPES), ("Out", objective.OUTPUTS)):
        got = sorted((v, n) for (g, n), (v, _) in c.items() if g == group)
        assert [n for _, n in got] == list(names) and [v for v, _ in got] == list(range(len(names)))


def test_python_layout_sees_a_changed_struct(monkeypatch):
    """The comparison above can fail: a field inserted on the Python side moves every later offset."""
    class Drifted(ctypes.Structure):
        _fields_ = [("at", kernel.ptr), ("extra", kernel.i64), ("model", kernel.i64), ("step", kernel.i64)]

    Drifted.__name__ = "Draws"
    before = kernel.python_layout()
    monkeypatch.setattr(kernel, "STRUCTS", tuple(Drifted if s is kernel.Draws else s for s in kernel.STRUCTS))
    after = kernel.python_layout()
    assert after[("Draws", "model")] != before[("Draws", "model")] and ("Draws", "extra") in after


def test_python_layout_sees_a_narrower_field(monkeypatch):
    """A last field bound as int32 keeps every offset and (padded) the struct's size: its size differs."""
    class Narrow(ctypes.Structure):
        _fields_ = [("beta1", kernel.f64), ("beta2", kernel.f64), ("eps", kernel.f64), ("t", ctypes.c_int32)]

    assert ctypes.sizeof(Narrow) == ctypes.sizeof(kernel.Adam)
    assert kernel.struct_layout(Narrow, "Adam")[("Adam", "t")] != kernel.python_layout()[("Adam", "t")]


def _prototypes(text: str) -> dict[str, int]:
    """Exported (non-static) C function definitions and declarations: name → number of parameters."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for m in re.finditer(r"^(?!static)[A-Za-z_][\w \t\*]*?\b(vb_\w+)\s*\(([^)]*)\)", text, flags=re.M):
        params = [p for p in m.group(2).split(",") if p.strip() and p.strip() != "void"]
        found[m.group(1)] = len(params)
    return found


def test_no_entry_point_takes_more_than_ten_parameters():
    root = Path(cpu_kernel.__file__).parent
    found = {}
    for src in cpu_kernel.SOURCES:
        found.update(_prototypes(src.read_text()))
    assert set(kernel.SIGNATURES) <= set(found)  # every bound entry point is seen here
    assert {k: n for k, n in found.items() if n > 10} == {}
    for name, (args, _) in kernel.SIGNATURES.items():
        assert len(args) == found[name], name  # the binding's arity is the C arity
    assert (root / "kernel" / "kernel.h").exists()


def test_integers_are_int64_t_in_the_training_kernel():
    for src in cpu_kernel.SOURCES:
        if src.parent.name == "kernel":
            assert not re.search(r"\blong\b", re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)), src.name
