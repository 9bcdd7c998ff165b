#include <stddef.h>

#include "lapgan/core.h"

/* OpenBLAS (Debian's 0.3.21, DYNAMIC_ARCH) picks its kernels once, while it
 * loads, from a table of CPU models, and a model newer than the table gets
 * generic SSE3 kernels: on a Xeon of family 6 model 207 it chose
 * "Prescott", and the cifar10 preset's fully connected 8x8 level trained at
 * 1,535 img/s against 5,523 with OPENBLAS_CORETYPE=SkylakeX (2026-12-06,
 * `lapgan bench --threads 2`). The kernel family follows from the CPU's
 * features alone, and on every CPU the table does know these names are
 * what it picks itself (Intel AVX-512: SkylakeX, or Cooperlake with the
 * same float kernels; Intel AVX2: Haswell; AMD: Zen), so naming them
 * changes nothing where detection works and repairs it where it fails.
 * OpenBLAS reads OPENBLAS_CORETYPE only at load time: the CLI sets it in a
 * pre-initialiser (src/cli/main.c), the Python package before it loads the
 * library (python/lapgan/__init__.py, the same rule). */
const char *lg_blas_coretype_for_cpu(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    if (__builtin_cpu_is("amd")) return "Zen";
    if (__builtin_cpu_is("intel")) return __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell";
#endif
    return NULL;
}

const char *openblas_get_corename(void);

const char *lg_blas_core(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}
