"""lapgan from Python: Laplacian pyramid GANs (Denton et al. 2015), bound to
the C library liblapgan with cffi.

    import lapgan
    m = lapgan.Model.load("runs/f")
    x = m.sample(16, seed=7, labels=[0] * 16)   # float32 numpy [16, c, s, s] in [-1, 1]

Errors raise lapgan.Error with the library's one-line message.
"""
import os as _os

# OpenMP threads that sleep at barriers instead of spinning keep a shared
# machine usable (src/cli/main.c measured 6x under load). libgomp reads the
# policy once, when it loads, which is with liblapgan just below unless
# something imported earlier loaded it. A user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def _blas_coretype_for_cpu():
    """lg_blas_coretype_for_cpu (src/core/blas.c) read from /proc/cpuinfo:
    OpenBLAS gives CPUs newer than its table slow generic kernels and reads
    OPENBLAS_CORETYPE only while it loads, which is just below."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read(1 << 16)
    except OSError:
        return None
    cpu0 = info.split("\n\n")[0].splitlines()
    fields = {k.strip(): v for k, v in (l.split(":", 1) for l in cpu0 if ":" in l)}
    vendor = fields.get("vendor_id", "").strip()
    flags = set(fields.get("flags", "").split())
    if not {"avx2", "fma"} <= flags:
        return None
    if vendor == "AuthenticAMD":
        return "Zen"
    if vendor == "GenuineIntel":
        return "SkylakeX" if "avx512f" in flags else "Haswell"
    return None


_blas_wanted = None
if "OPENBLAS_CORETYPE" not in _os.environ and _blas_coretype_for_cpu():
    _blas_wanted = _os.environ["OPENBLAS_CORETYPE"] = _blas_coretype_for_cpu()

from ._core import Error, Model, blas_core, save_grid, train, version  # noqa: E402
from . import eval  # noqa: F401,E402  (lapgan.eval.parzen)

__version__ = version()

# Too late where something loaded the same OpenBLAS first (Debian's numpy
# does): say so, since the kernels it fell back to are several times slower
# and multiply in another order than the CLI's.
_AVX2_CORES = ("skylakex", "cooperlake", "sapphirerapids", "haswell", "zen", "excavator")
if _blas_wanted and blas_core().lower() not in _AVX2_CORES:
    import warnings as _warnings
    _warnings.warn(f"lapgan: OpenBLAS was loaded before lapgan (by numpy?) and runs its generic "
                   f"'{blas_core()}' kernels on this CPU; start Python with "
                   f"OPENBLAS_CORETYPE={_blas_wanted} for its own (several times faster matrix "
                   f"products, the same bits as the lapgan CLI)", RuntimeWarning, stacklevel=2)
__all__ = ["Error", "Model", "train", "save_grid", "eval", "blas_core", "__version__"]
