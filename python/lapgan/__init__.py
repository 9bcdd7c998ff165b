"""lapgan from Python: Laplacian pyramid GANs (Denton et al. 2015), bound to
the C library liblapgan with cffi.

    import lapgan
    m = lapgan.Model.load("runs/f")
    x = m.sample(16, seed=7, labels=[0] * 16)   # float32 numpy [16, c, s, s] in [-1, 1]

Errors raise lapgan.Error with the library's one-line message.
"""
from ._core import Error, Model, save_grid, train, version
from . import eval  # noqa: F401  (lapgan.eval.parzen)

__version__ = version()
__all__ = ["Error", "Model", "train", "save_grid", "eval", "__version__"]
