"""The C kernel's interface in Python: ctypes mirrors of the structs in ``kernel.h``, the entry points'
signatures, and the enums' names (from :mod:`vaebench.objective`, which states them once).

The C sources live beside this file (``kernel.h``, ``simd.h``, ``mlp.c``, ``adam.c``, ``stats.c``,
``fused.c``, ``layout.c``, compiled as one unit by ``library.c``; the metrics suite's loops,
``metric_loops.c``, compiled by ``metrics.c``). :mod:`vaebench.cpu_kernel` builds and loads them. Every
integer is ``int64_t`` in C and :class:`ctypes.c_int64` here; ``tests/test_kernel_layout.py`` compares
every struct's size and field offsets, and every enum's names, with the C side (``vb_layout``).

Adding a statistic to the objective (say ``"tc"``):

1. C, ``vaebench/kernel/stats.c``: ``tc_value`` and ``tc_grad``, side by side; ``kernel.h``:
   ``X(ST_TC, "tc")`` appended to ``VB_STATS``; ``fused.c``: ``value[ST_TC] = tc_value(...)`` and
   ``tc_grad(..., slope[ST_TC], ...)`` into the gradient of what it reads (the reconstruction, z, or μ and
   log σ²). A statistic fused.c does not compute is NaN, so a term of it diverges at once.
2. Python, ``vaebench/objective.py``: ``"tc"`` appended to ``STATS`` (``tests/test_kernel_layout.py``
   fails until the C and Python names agree), computed in ``statistics`` from its PyTorch formula in
   ``vaebench/losses.py`` (the operators route, and the autograd reference ``tests/test_fused.py`` checks
   the C gradient against).
"""

from __future__ import annotations

import ctypes

from vaebench.objective import OUTPUTS, SHAPES, STATS

i64, f32, f64, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_double, ctypes.c_void_p
MAX_LAYERS = 64  # kernel.h: a Net's table
MAX_LATENT = 64
# the C enums' names in order (kernel.h: VB_STATS, VB_SHAPES, VB_OUTPUTS)
ENUMS: dict[str, tuple[str, ...]] = {"Stat": STATS, "Shape": SHAPES, "Out": OUTPUTS}


class Layer(ctypes.Structure):
    _fields_ = [("n_in", i64), ("n_out", i64), ("w_at", i64), ("b_at", i64)]


class Net(ctypes.Structure):
    """An MLP (ReLU between layers): ``n_layers`` and each layer's shape and place in a parameter row."""

    _fields_ = [("n_layers", i64), ("layer", Layer * MAX_LAYERS)]


class Models(ctypes.Structure):
    """M models' parameters and Adam's moments (rows of P floats), per model lr, l2, alive, died_at."""

    _fields_ = [("M", i64), ("P", i64), ("n_weights", i64), ("flat", ptr), ("exp1", ptr), ("exp2", ptr),
                ("lr", ptr), ("l2", ptr), ("alive", ptr), ("died_at", ptr)]


class Adam(ctypes.Structure):
    """torch.optim.Adam's betas and eps, and ``t``: the 1-based count of the (first) step."""

    _fields_ = [("beta1", f64), ("beta2", f64), ("eps", f64), ("t", i64)]


class Mlp(ctypes.Structure):
    """One MLP of M models for ``vb_forward`` / ``vb_backward`` (kernel.h says each field)."""

    _fields_ = [("net", ptr), ("M", i64), ("P", i64), ("B", i64), ("flat", ptr), ("x", ptr), ("xs", i64),
                ("acts", ptr), ("as_", i64), ("dd", i64), ("ss", i64), ("scratch", ptr)]


class Draws(ctypes.Structure):
    """Per-model draws of a chunk: model m's first step at ``at`` + m·``model`` floats, then + ``step``."""

    _fields_ = [("at", ptr), ("model", i64), ("step", i64)]


class Terms(ctypes.Structure):
    """The objective's terms: statistic and shape per term (int64 [n_terms] each), weight and coefficient
    of term i, model m at ``weight``/``at`` + i·``ts`` + m (floats)."""

    _fields_ = [("n_terms", i64), ("stat", ptr), ("shape", ptr), ("weight", ptr), ("at", ptr), ("ts", i64)]


class Step(ctypes.Structure):
    """Everything ``vb_fused_steps`` reads and writes (kernel.h)."""

    _fields_ = [("enc", ptr), ("dec", ptr), ("B", i64), ("models", Models), ("adam", Adam), ("terms", Terms),
                ("x", Draws), ("noise", Draws), ("prior", Draws), ("recon_var", ptr), ("out", ptr),
                ("values", i64), ("scratch", ptr)]


class LayoutEntry(ctypes.Structure):
    _fields_ = [("group", ctypes.c_char_p), ("name", ctypes.c_char_p), ("value", i64), ("size", i64)]


STRUCTS: tuple[type[ctypes.Structure], ...] = (Layer, Net, Models, Adam, Mlp, Draws, Terms, Step, LayoutEntry)

# the entry points: (argument types, result type); none takes more than 10
SIGNATURES: dict[str, tuple[list, object]] = {
    "vb_scratch_floats": ([ctypes.POINTER(Net), i64], i64),
    "vb_acts_floats": ([ctypes.POINTER(Net), i64], i64),
    "vb_forward": ([ctypes.POINTER(Mlp), ptr, i64], None),
    "vb_backward": ([ctypes.POINTER(Mlp), ptr, i64, ptr, ptr, ptr, i64], None),
    "vb_adam": ([ctypes.POINTER(Models), ctypes.POINTER(Adam), ptr, ptr, ptr], None),
    "vb_exp": ([i64, ptr, f32, ptr], None),
    "vb_fused_scratch_floats": ([ctypes.POINTER(Net), ctypes.POINTER(Net), i64, i64], i64),
    "vb_fused_steps": ([ctypes.POINTER(Step), i64], None),
    "vb_layout": ([i64, ctypes.POINTER(LayoutEntry)], i64),
    # the metrics suite's (metric_loops.c; its Grid, in kernel.h, is bound in vaebench.metrics._neighbours)
    "vb_pair_sum": ([i64, i64, ptr, i64, f64], f64),
    "vb_rank_counts": ([ptr, i64, ptr, ptr, ptr, ptr], i64),
    "vb_knn": ([ptr, i64, ptr, i64, ptr, ptr], None),
    "vb_count_within": ([ptr, i64, ptr, ptr, ptr], None),
    "vb_mixture_logsum": ([i64, i64, ptr, i64, ptr, ptr, f64, ptr, ptr], None),
}


Table = dict[tuple[str, str], tuple[int, int]]  # (struct or enum, field or name) → (offset or value, size)


def c_field_name(name: str) -> str:
    """The C name of a ctypes field (``as`` is a Python keyword: ``as_`` here)."""
    return name.rstrip("_")


def struct_layout(s: type[ctypes.Structure], name: str | None = None) -> Table:
    """A ctypes struct as ``vb_layout`` states one: (struct, "") → (0, size); (struct, field) → (offset,
    size)."""
    name = name or s.__name__
    out = {(name, ""): (0, ctypes.sizeof(s))}
    for field, *_ in s._fields_:
        desc = getattr(s, field)
        out[(name, c_field_name(field))] = (desc.offset, desc.size)
    return out


def python_layout() -> Table:
    """What ``vb_layout`` should return, from the ctypes side: sizes and offsets, enum values (names from
    :mod:`vaebench.objective`), constants; each as (value, size)."""
    out: Table = {}
    for s in STRUCTS:
        out.update(struct_layout(s))
    for group, names in ENUMS.items():
        out.update({(group, n): (i, 0) for i, n in enumerate(names)})
    out[("MAX_LAYERS", "")], out[("MAX_LATENT", "")] = (MAX_LAYERS, 0), (MAX_LATENT, 0)
    return out


def c_layout(lib) -> Table:
    """The same table from the built library (``vb_layout``)."""
    out: Table = {}
    entry, i = LayoutEntry(), 0
    while lib.vb_layout(i, ctypes.byref(entry)):
        out[(entry.group.decode(), entry.name.decode())] = (entry.value, entry.size)
        i += 1
    return out


def bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Set every entry point's argument and result types."""
    for name, (args, res) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib
