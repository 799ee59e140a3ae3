"""The CPU kernel (the C sources in ``vaebench/kernel/``: the training kernel and the metrics suite's
O(n²) loops): built once per machine with the system C compiler into one library, loaded by ctypes.

A training step of the seed VAE on the CPU spends its time streaming small activations through memory
between PyTorch operators; the kernel computes one model's whole MLP forward or backward (and its Adam
step) while its data sit in L1/L2, model after model. It is plain C with GCC vector extensions, compiled
with ``cc -O3 -march=native`` (no PyTorch or Python headers, no ninja) into a cache directory the first
time it is needed, then reused: ``$VAEBENCH_CACHE``, else ``$XDG_CACHE_HOME/vaebench``, else
``~/.cache/vaebench``. The file name hashes the sources, the compiler's version, its flags and the CPU's
feature flags, so a shared home directory across different machines never loads a foreign build.

:func:`load` returns the library, or None where there is no working C compiler (or where
``VAEBENCH_CPU_KERNEL=torch`` asks for the PyTorch operators); the engine then trains with PyTorch's
operators, a second route that computes the same function but not bit-identical numbers. Which route a
run takes depends on the machine, the variant and the run's own shape (MLPs deeper than
:data:`MAX_LAYERS` take the operators), never on the runs beside it. The fused route
(:mod:`vaebench.routes.fused`) calls ``vb_fused_steps``: whole steps, all those between two logged ones
in one call, described by one ``Step`` struct. :class:`KernelMLP` (``vb_forward``, ``vb_backward``),
:func:`adam` (``vb_adam``) and ``vb_exp`` expose C pieces one at a time, for the tests that check them
against autograd, ``torch.optim.Adam`` and ``torch.exp``. ``vb_pair_sum``, ``vb_rank_counts``, ``vb_knn``,
``vb_count_within`` and ``vb_mixture_logsum`` serve :mod:`vaebench.metrics._pairwise`,
:mod:`vaebench.metrics.structure`, :mod:`vaebench.metrics._neighbours` and :mod:`vaebench.metrics.exact`,
which fall back to NumPy and PyTorch (the same numbers to rounding) where the library is not there. The
structs and signatures are bound in :mod:`vaebench.kernel`.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

from vaebench import kernel

# the training kernel (one unit, library.c) and the metrics suite's O(n²) loops (metrics.c, which includes
# metric_loops.c), built into one library; the build's name hashes every source
KERNEL_DIR = Path(__file__).with_name("kernel")
UNITS = (KERNEL_DIR / "library.c", KERNEL_DIR / "metrics.c")
SOURCES = tuple(sorted([*KERNEL_DIR.glob("*.c"), *KERNEL_DIR.glob("*.h")]))
FLAGS = ["-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-fno-math-errno"]
ENV = "VAEBENCH_CPU_KERNEL"  # "auto" (default): the kernel if it builds; "torch": PyTorch operators only
MAX_LAYERS = kernel.MAX_LAYERS  # per MLP, the kernel's fixed table size (a Net)

_lock = threading.Lock()
_state: dict[str, object] = {}


def _new_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a forked child gets the lock as it was: held, if a thread was building


os.register_at_fork(after_in_child=_new_lock)

def cache_dir() -> Path:
    """Where built kernels are kept (created on demand)."""
    if os.environ.get("VAEBENCH_CACHE"):
        return Path(os.environ["VAEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaebench"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compiler() -> list[str] | None:
    """The C compiler command: ``$CC`` (split as a shell would: "ccache gcc" works), else cc, gcc, clang."""
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    return [found] if found else None


def _build(cc: list[str]) -> Path:
    version = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    texts = [f"{src.name}\0{src.read_text()}" for src in SOURCES]
    key = hashlib.sha256("\0".join([*texts, version, " ".join(FLAGS), _cpu_flags(),
                                    platform.machine()]).encode()).hexdigest()[:16]
    target = cache_dir() / f"cpu_kernel-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target, then rename: concurrent processes (Dask workers) never load a partial file
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        done = subprocess.run([*cc, *FLAGS, *map(str, UNITS), "-o", tmp, "-lm"], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cc)} failed: {done.stderr.strip()[:2000]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _prune(target.parent)
    return target


def _prune(folder: Path, keep: int = 8) -> None:
    """Remove all but the ``keep`` newest builds (one per source version, compiler and CPU kind). A
    process that has one loaded keeps its mapping; one that needs it again rebuilds it in about a second."""
    builds = sorted(folder.glob("cpu_kernel-*.so"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[keep:]:
        try:
            old.unlink()
        except OSError:
            pass  # another process pruned it first


def _open(path: Path) -> ctypes.CDLL:
    return kernel.bind(ctypes.CDLL(str(path)))  # CDLL, not PyDLL: calls release the GIL, so threads overlap


def mode() -> str:
    """``$VAEBENCH_CPU_KERNEL``: "auto" (default) or "torch"; ValueError naming the variable otherwise."""
    value = os.environ.get(ENV, "auto")
    if value not in ("auto", "torch"):
        raise ValueError(f"{ENV} = {value!r}: must be 'auto' or 'torch'")
    return value


def load() -> ctypes.CDLL | None:
    """The kernel library, built on first use; None if disabled (``VAEBENCH_CPU_KERNEL=torch``) or if no C
    compiler can build it (a warning says why, once per process)."""
    if mode() == "torch":
        return None
    if "done" in _state:  # without the lock: a forked worker must not wait on a copy held elsewhere
        return _state["lib"]  # type: ignore[return-value]
    with _lock:
        if "done" not in _state:
            _state["lib"] = None
            cc = _compiler()
            try:
                if cc is None:
                    raise RuntimeError("no C compiler found (set CC, or install gcc)")
                _state["lib"] = _open(_build(cc))
            except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                warnings.warn(f"vaebench: CPU kernel unavailable, training with PyTorch operators "
                              f"and evaluating with NumPy (slower): {err}", RuntimeWarning, stacklevel=2)
            _state["done"] = True
        return _state["lib"]  # type: ignore[return-value]


def active() -> str:
    """Whether this process trains CPU runs with the kernel ("kernel": ``TrainResult.engine`` is then
    "fused" for variants that state terms) or with PyTorch operators ("operators")."""
    return "kernel" if load() is not None else "operators"


class KernelMLP:
    """One MLP (ReLU between layers) of M models, forward and backward by the kernel.

    ``flat`` [M, P] float32 holds the parameters (``layers`` says where, :class:`vaebench.model.Layout`);
    inputs are batch-major, ``[M, B, n_in]``, contiguous. The output comes as ``split`` contiguous blocks
    [split, M, B, n_out / split] (the encoder's mean and log-variance: two arrays, no strided views);
    the output gradient of :meth:`backward` in the same layout. ``forward`` keeps the hidden activations
    its ``backward`` needs: call them in pairs (forward, then backward of the same input)."""

    def __init__(self, lib: ctypes.CDLL, flat, layers, batch: int, split: int = 1):
        import torch

        self.lib, self.flat, self.batch, self.split = lib, flat, batch, split
        self.m, self.p = flat.shape
        self.n_in, self.n_out = layers[0].n_in, layers[-1].n_out
        self.block = self.n_out // split
        self.net = net(layers)
        self.acts = torch.empty(self.m, max(1, lib.vb_acts_floats(self.net, batch)))
        self.scratch = torch.empty(lib.vb_scratch_floats(self.net, batch))

    def _call(self, x) -> kernel.Mlp:
        return kernel.Mlp(ctypes.addressof(self.net), self.m, self.p, self.batch, self.flat.data_ptr(),
                          x.data_ptr(), x.stride(0), self.acts.data_ptr(), self.acts.shape[1], self.block,
                          self.m * self.batch * self.block, self.scratch.data_ptr())

    def forward(self, x):
        """``x`` [M, B, n_in] (each model's [B, n_in] contiguous) → output [split, M, B, n_out / split]
        (a new tensor)."""
        import torch

        _check_input(x, self.m, self.batch, self.n_in)
        out = torch.empty(self.split, self.m, self.batch, self.block)
        self.lib.vb_forward(self._call(x), out.data_ptr(), self.batch * self.block)
        return out

    def backward(self, x, g_out, grad, l2, input_grad: bool):
        """From ``g_out`` = ∂L/∂output [split, M, B, n_out / split], contiguous: writes this MLP's weight
        gradients (plus 2λ·W, λ = ``l2`` [M]) and bias gradients into ``grad`` [M, P]; returns ∂L/∂x
        [M, B, n_in] if ``input_grad``. ``x`` is the input of the matching forward."""
        import torch

        _check_input(x, self.m, self.batch, self.n_in)
        _check_input(g_out.view(-1, self.batch, self.block), self.split * self.m, self.batch, self.block)
        g_in = torch.empty(self.m, self.batch, self.n_in) if input_grad else None
        self.lib.vb_backward(self._call(x), g_out.data_ptr(), self.batch * self.block, grad.data_ptr(),
                             l2.data_ptr(), None if g_in is None else g_in.data_ptr(), self.batch * self.n_in)
        return g_in


def models(flat, exp1, exp2, lr, l2, alive, died_at, n_weights: int) -> kernel.Models:
    """The kernel's view of M models: ``flat``, ``exp1``, ``exp2`` [M, P] float32 contiguous; ``lr``,
    ``l2`` [M] float32; ``alive`` [M] bool; ``died_at`` [M] int64 (the caller keeps them alive)."""
    m, p = flat.shape
    return kernel.Models(m, p, n_weights, flat.data_ptr(), exp1.data_ptr(), exp2.data_ptr(), lr.data_ptr(),
                         l2.data_ptr(), alive.data_ptr(), died_at.data_ptr())


def adam(lib: ctypes.CDLL, flat, grad, exp1, exp2, lr, l2, total, alive, died_at, t: int, n_weights: int,
         betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
    """One Adam step of every model (``vb_adam``; the tensors as :func:`models` says, ``grad`` as
    ``flat``), ``t`` the 1-based step count; adds each model's L2 term to ``total`` [M] and returns it."""
    import torch

    l2_out = torch.empty_like(total)
    lib.vb_adam(models(flat, exp1, exp2, lr, l2, alive, died_at, n_weights), kernel.Adam(*betas, eps, t),
                grad.data_ptr(), total.data_ptr(), l2_out.data_ptr())
    return l2_out


def _check_input(x, m: int, batch: int, width: int) -> None:
    """The kernel reads raw memory: refuse anything but float32 CPU [m, batch, width] with contiguous rows."""
    import torch

    if (x.dtype != torch.float32 or x.device.type != "cpu" or tuple(x.shape) != (m, batch, width)
            or x.stride(2) != 1 or x.stride(1) != width):
        raise ValueError(f"kernel input: got {x.dtype} {tuple(x.shape)} strides {x.stride()} on {x.device}; "
                         f"expected float32 [{m}, {batch}, {width}] with contiguous rows on the CPU")


def net(layers) -> kernel.Net:
    """The kernel's description of an MLP (a ``Net``); ValueError past :data:`MAX_LAYERS` layers."""
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"hidden = {len(layers) - 1} layers: the CPU kernel takes at most {MAX_LAYERS - 1}")
    out = kernel.Net(len(layers))
    for i, ly in enumerate(layers):
        out.layer[i] = kernel.Layer(ly.n_in, ly.n_out, ly.w_at, ly.b_at)
    return out


def check_chunk(a, m: int, batch: int, width: int) -> None:
    """A chunk the fused step reads step by step: float32 CPU [m, steps, batch, width], each step's
    [batch, width] contiguous."""
    import torch

    if (a.dtype != torch.float32 or a.device.type != "cpu" or a.dim() != 4
            or (a.shape[0], a.shape[2], a.shape[3]) != (m, batch, width) or a.stride(3) != 1
            or a.stride(2) != width):
        raise ValueError(f"kernel chunk: got {a.dtype} {tuple(a.shape)} strides {a.stride()} on {a.device}; "
                         f"expected float32 [{m}, steps, {batch}, {width}] with contiguous rows on the CPU")
