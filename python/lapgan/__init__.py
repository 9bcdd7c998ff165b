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

from ._core import Error, Model, save_grid, train, version  # noqa: E402
from . import eval  # noqa: F401,E402  (lapgan.eval.parzen)

__version__ = version()
__all__ = ["Error", "Model", "train", "save_grid", "eval", "__version__"]
