"""The CPU kernel (``_cpu_kernel.c``): built once per machine with the system C compiler, loaded by ctypes.

A training step of the seed VAE on the CPU spends its time streaming small activations through memory
between PyTorch operators; the kernel computes one model's whole MLP forward or backward (and its Adam
step) while its data sit in L1/L2, model after model. It is plain C with GCC vector extensions, compiled
with ``cc -O3 -march=native`` (no PyTorch or Python headers, no ninja) into a cache directory the first
time it is needed, then reused: ``$VAEBENCH_CACHE``, else ``$XDG_CACHE_HOME/vaebench``, else
``~/.cache/vaebench``. The file name hashes the source, the compiler's version, its flags and the CPU's
feature flags, so a shared home directory across different machines never loads a foreign build.

:func:`load` returns the library, or None where there is no working C compiler (or where
``VAEBENCH_CPU_KERNEL=torch`` asks for the PyTorch operators); the engine then trains with PyTorch's
operators, a second path that computes the same function but not bit-identical numbers. Which path a run
takes depends on the machine and on the run's own shape (MLPs deeper than :data:`MAX_LAYERS` take the
operators), never on the runs beside it. The engine calls :meth:`KernelMLP.forward` and
:func:`step_backward` (the variant's loss in PyTorch between them), or :func:`fused_step` alone (the whole
step, for a loss stated as weights of the standard terms); :meth:`KernelMLP.backward`, ``vb_adam`` and
``vb_exp`` expose C pieces one at a time, for the tests that check them against autograd,
``torch.optim.Adam`` and ``torch.exp``.
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

SOURCE = Path(__file__).with_name("_cpu_kernel.c")
FLAGS = ["-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-fno-math-errno"]
ENV = "VAEBENCH_CPU_KERNEL"  # "auto" (default): the kernel if it builds; "torch": PyTorch operators only
MAX_LAYERS = 64  # per MLP, the kernel's fixed table size

_lock = threading.Lock()
_state: dict[str, object] = {}


def _new_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a forked child gets the lock as it was: held, if a thread was building


os.register_at_fork(after_in_child=_new_lock)

_p, _i64 = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {
    "vb_scratch_floats": ([_p, _i64], _i64),
    "vb_acts_floats": ([_p, _i64], _i64),
    "vb_forward": ([_i64, _p, _p, _i64, _p, _i64, _p, _i64, _i64, _i64, _p, _i64, _p, _i64], None),
    "vb_backward": ([_i64, _p, _p, _i64, _p, _i64, _p, _i64, _p, _i64, _i64, _i64, _p, _p, _p, _i64, _p,
                     _i64], None),
    "vb_adam": ([_i64, _i64, _i64, _p, _p, _p, _p, _p, _p, _p, _p, _p, _p, _i64,
                 ctypes.c_double, ctypes.c_double, ctypes.c_double], None),
    "vb_step_scratch_floats": ([_p, _p, _i64], _i64),
    "vb_exp": ([_i64, _p, ctypes.c_float, _p], None),
    "vb_fused_scratch_floats": ([_p, _p, _i64, _i64], _i64),
    "vb_fused_step": ([_i64, _p, _p, _p, _i64, _i64, _p, _i64, _p, _i64, _p, _p, _p, _p, _p, _p, _p, _p, _p,
                       _p, _p, _p, _p, _i64, ctypes.c_double, ctypes.c_double, ctypes.c_double, _p, _i64],
                      None),
    "vb_step_backward": ([_i64, _p, _p, _p, _i64, _i64, _p, _i64, _p, _p, _i64, _p, _i64, _p, _p, _p, _p, _p,
                          _p, _p, _p, _p, _p, _p, _p, _p, _p, _i64, ctypes.c_double, ctypes.c_double,
                          ctypes.c_double, _p, _i64], None),
}


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
    key = hashlib.sha256("\0".join([SOURCE.read_text(), version, " ".join(FLAGS), _cpu_flags(),
                                    platform.machine()]).encode()).hexdigest()[:16]
    target = cache_dir() / f"cpu_kernel-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target, then rename: concurrent processes (Dask workers) never load a partial file
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        done = subprocess.run([*cc, *FLAGS, str(SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True,
                              timeout=300)
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
    lib = ctypes.CDLL(str(path))  # CDLL, not PyDLL: calls release the GIL, so worker threads overlap
    for name, (args, res) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


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
                              f"(slower): {err}", RuntimeWarning, stacklevel=2)
            _state["done"] = True
        return _state["lib"]  # type: ignore[return-value]


def active() -> str:
    """Whether this process trains CPU runs with the kernel ("kernel": ``TrainResult.engine`` is then
    "fused" or "kernel", by variant) or with PyTorch operators ("operators")."""
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

        if len(layers) > MAX_LAYERS:
            raise ValueError(f"hidden = {len(layers) - 1} layers: the CPU kernel takes at most "
                             f"{MAX_LAYERS - 1}")
        self.lib, self.flat, self.batch, self.split = lib, flat, batch, split
        self.m, self.p = flat.shape
        self.n_in, self.n_out = layers[0].n_in, layers[-1].n_out
        self.block = self.n_out // split
        self.spec = torch.tensor([len(layers)] + [v for ly in layers for v in (ly.n_in, ly.n_out, ly.w_at,
                                                                                 ly.b_at)],
                                 dtype=torch.int64)
        spec = self.spec.data_ptr()
        self.acts = torch.empty(self.m, max(1, lib.vb_acts_floats(spec, batch)))
        self.scratch = torch.empty(lib.vb_scratch_floats(spec, batch))

    def forward(self, x):
        """``x`` [M, B, n_in] (each model's [B, n_in] contiguous) → output [split, M, B, n_out / split]
        (a new tensor)."""
        import torch

        _check_input(x, self.m, self.batch, self.n_in)
        out = torch.empty(self.split, self.m, self.batch, self.block)
        self.lib.vb_forward(self.m, self.spec.data_ptr(), self.flat.data_ptr(), self.p, x.data_ptr(),
                            x.stride(0), out.data_ptr(), self.batch * self.block, self.block,
                            self.m * self.batch * self.block, self.acts.data_ptr(), self.acts.shape[1],
                            self.scratch.data_ptr(), self.batch)
        return out

    def backward(self, x, g_out, grad, l2, input_grad: bool):
        """From ``g_out`` = ∂L/∂output [split, M, B, n_out / split], contiguous: writes this MLP's weight
        gradients (plus 2λ·W, λ = ``l2`` [M]) and bias gradients into ``grad`` [M, P]; returns ∂L/∂x
        [M, B, n_in] if ``input_grad``. ``x`` is the input of the matching forward."""
        import torch

        _check_input(x, self.m, self.batch, self.n_in)
        _check_input(g_out.view(-1, self.batch, self.block), self.split * self.m, self.batch, self.block)
        g_in = torch.empty(self.m, self.batch, self.n_in) if input_grad else None
        self.lib.vb_backward(self.m, self.spec.data_ptr(), self.flat.data_ptr(), self.p, x.data_ptr(),
                             x.stride(0), self.acts.data_ptr(), self.acts.shape[1],
                             g_out.data_ptr(), self.batch * self.block, self.block,
                             self.m * self.batch * self.block, grad.data_ptr(), l2.data_ptr(),
                             None if g_in is None else g_in.data_ptr(), self.batch * self.n_in,
                             self.scratch.data_ptr(), self.batch)
        return g_in


def _ptr(a) -> int | None:
    return None if a is None else a.data_ptr()


def _check_input(x, m: int, batch: int, width: int) -> None:
    """The kernel reads raw memory: refuse anything but float32 CPU [m, batch, width] with contiguous rows."""
    import torch

    if (x.dtype != torch.float32 or x.device.type != "cpu" or tuple(x.shape) != (m, batch, width)
            or x.stride(2) != 1 or x.stride(1) != width):
        raise ValueError(f"kernel input: got {x.dtype} {tuple(x.shape)} strides {x.stride()} on {x.device}; "
                         f"expected float32 [{m}, {batch}, {width}] with contiguous rows on the CPU")


def step_backward(lib: ctypes.CDLL, encoder: KernelMLP, decoder: KernelMLP, scratch, x, z, g_recon, g_mu,
                  g_logvar, g_z, spread, grad, exp1, exp2, lr, l2, total, l2_out, alive, died_at,
                  n_weights: int, t: int, betas: tuple[float, float], eps: float) -> None:
    """The backward half of a step for M models in one call (``vb_step_backward``): decoder backward, the
    chain rule through z = μ + σ·ε, encoder backward, Adam. Gradients come from a loss that saw μ, log σ²,
    z and the reconstruction as separate leaves (``g_logvar``, ``g_z``, ``spread`` = σ·ε are None for a
    deterministic encoder). Updates ``encoder.flat`` and the Adam moments in place, writes ``total`` (+ the
    L2 term), ``l2_out``, ``alive`` and ``died_at``; ``x`` and ``z`` are the inputs of the forward calls."""
    flat = encoder.flat

    import torch

    m, b, d = encoder.m, encoder.batch, decoder.n_in
    expected = {"z": (z, (m, b, d)), "g_recon": (g_recon, (m, b, decoder.n_out)), "g_mu": (g_mu, (m, b, d)),
                "g_logvar": (g_logvar, (m, b, d)), "g_z": (g_z, (m, b, d)), "spread": (spread, (m, b, d))}
    for name, (a, shape) in expected.items():  # C reads raw memory: exactly these arrays or nothing
        if a is None and name in ("z", "g_recon", "g_mu"):
            raise ValueError(f"step_backward: {name} is required")
        if a is not None and (tuple(a.shape) != shape or a.dtype != torch.float32 or not a.is_contiguous()
                              or a.device.type != "cpu"):
            raise ValueError(f"step_backward: {name} is {a.dtype} {tuple(a.shape)} on {a.device}"
                             f"{'' if a.is_contiguous() else ', not contiguous'}; expected contiguous "
                             f"float32 {list(shape)} on the CPU")
    _check_input(x, encoder.m, encoder.batch, encoder.n_in)
    lib.vb_step_backward(encoder.m, encoder.spec.data_ptr(), decoder.spec.data_ptr(), flat.data_ptr(),
                         encoder.p, n_weights, x.data_ptr(), x.stride(0), z.data_ptr(),
                         encoder.acts.data_ptr(), encoder.acts.shape[1], decoder.acts.data_ptr(),
                         decoder.acts.shape[1], g_recon.data_ptr(), g_mu.data_ptr(), _ptr(g_logvar),
                         _ptr(g_z), _ptr(spread), grad.data_ptr(), exp1.data_ptr(), exp2.data_ptr(),
                         lr.data_ptr(), l2.data_ptr(), total.data_ptr(), l2_out.data_ptr(), alive.data_ptr(),
                         died_at.data_ptr(), t, betas[0], betas[1], eps, scratch.data_ptr(), encoder.batch)


FUSED_TERMS = ("recon", "kl")  # the standard terms vb_fused_step computes (vaebench/losses.py)


def fused_step(lib: ctypes.CDLL, encoder: KernelMLP, decoder: KernelMLP, scratch, x, noise, w_recon, w_kl,
               recon_var, exp1, exp2, lr, l2, out, alive, died_at, n_weights: int, t: int,
               betas: tuple[float, float], eps: float) -> None:
    """A whole training step of M models in one call (``vb_fused_step``), for a loss that is
    ``w_recon·recon + w_kl·kl`` (:func:`vaebench.losses.gaussian_recon`, :func:`~vaebench.losses.gaussian_kl`)
    plus the L2 term: each model's forward, z = μ + σ·ε, the terms and their gradients, backward and Adam,
    while its activations sit in cache. ``x`` [M, B, 2] and ``noise`` [M, B, d] (None: z = μ, and
    ``w_kl`` is ignored) with contiguous rows; ``w_recon``, ``w_kl``, ``recon_var``, ``lr``, ``l2`` [M];
    writes ``out`` [4, M] = (recon, kl, total with the L2 term, L2 term), updates ``encoder.flat``, the
    Adam moments, ``alive`` and ``died_at`` (as :func:`step_backward`)."""
    import torch

    m, b = encoder.m, encoder.batch
    _check_input(x, m, b, encoder.n_in)
    if (noise is None) != (encoder.split == 1):  # C reads log σ² and ε exactly when the encoder gives both
        raise ValueError(f"fused_step: noise is {'None' if noise is None else 'given'} for an encoder with "
                         f"{encoder.split} output block(s); noise is needed exactly when it gives log σ²")
    if noise is not None:
        _check_input(noise, m, b, decoder.n_in)
    need = lib.vb_fused_scratch_floats(encoder.spec.data_ptr(), decoder.spec.data_ptr(), b, encoder.p)
    if scratch.dtype != torch.float32 or not scratch.is_contiguous() or scratch.numel() < need:
        raise ValueError(f"fused_step: scratch is {scratch.dtype} with {scratch.numel()} floats; "
                         f"needs {need}")
    for name, a in (("exp1", exp1), ("exp2", exp2)):
        if tuple(a.shape) != tuple(encoder.flat.shape) or a.dtype != torch.float32 or not a.is_contiguous():
            raise ValueError(f"fused_step: {name} is {a.dtype} {tuple(a.shape)}; expected contiguous float32 "
                             f"{list(encoder.flat.shape)}")
    for name, a in (("w_recon", w_recon), ("w_kl", w_kl), ("recon_var", recon_var), ("lr", lr), ("l2", l2)):
        if a is not None and (tuple(a.shape) != (m,) or a.dtype != torch.float32 or not a.is_contiguous()
                              or a.device.type != "cpu"):
            raise ValueError(f"fused_step: {name} is {a.dtype} {tuple(a.shape)}; expected contiguous float32 "
                             f"[{m}] on the CPU")
    if tuple(out.shape) != (4, m) or out.dtype != torch.float32 or not out.is_contiguous():
        raise ValueError(f"fused_step: out is {out.dtype} {tuple(out.shape)}; expected contiguous float32 "
                         f"[4, {m}]")
    o, es = out.data_ptr(), 0 if noise is None else noise.stride(0)
    lib.vb_fused_step(m, encoder.spec.data_ptr(), decoder.spec.data_ptr(), encoder.flat.data_ptr(), encoder.p,
                      n_weights, x.data_ptr(), x.stride(0), _ptr(noise), es,
                      _ptr(w_recon), _ptr(w_kl), recon_var.data_ptr(), exp1.data_ptr(), exp2.data_ptr(),
                      lr.data_ptr(), l2.data_ptr(), o, o + 4 * m, o + 8 * m, o + 12 * m, alive.data_ptr(),
                      died_at.data_ptr(), t, betas[0], betas[1], eps, scratch.data_ptr(), b)
