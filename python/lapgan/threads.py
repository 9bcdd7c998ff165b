"""Threads: lapgan runs on OpenMP and OpenBLAS, the same pools numpy's BLAS
and torch may use in this process. The package never changes them unless a
call is given threads=N, and then puts both counts back when it returns."""
import contextlib

from ._lapgan import lib


@contextlib.contextmanager
def threads_for_call(threads):
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads={threads}: give 1 or more (None: leave the pools as they are)")
    omp, blas = lib.lgpy_omp_threads(), lib.lgpy_blas_threads()
    lib.lg_set_threads(threads)
    try:
        yield
    finally:
        # OpenBLAS's OpenMP build sets OpenMP's count too: BLAS first
        lib.lgpy_set_blas_threads(blas)
        lib.lgpy_set_omp_threads(omp)
