/* Channel concatenation and its adjoint, float32 in both cpu tables: two
 * copies per sample, samples in parallel once the copy is large. */
#include <string.h>

#include "backend/cpu/cpu.h"

#define LG_CONCAT_PAR_MIN 65536

lg_status lg_cpu_concat(int n, size_t na, size_t nb, const float *a, const float *b, float *out) {
#pragma omp parallel for schedule(static) if ((size_t)n * (na + nb) >= LG_CONCAT_PAR_MIN)
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * (na + nb);
        memcpy(o, a + (size_t)i * na, sizeof(float) * na);
        memcpy(o + na, b + (size_t)i * nb, sizeof(float) * nb);
    }
    return LG_OK;
}

lg_status lg_cpu_split(int n, size_t na, size_t nb, const float *g, float *a, float *b) {
#pragma omp parallel for schedule(static) if ((size_t)n * (na + nb) >= LG_CONCAT_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *gi = g + (size_t)i * (na + nb);
        if (a) memcpy(a + (size_t)i * na, gi, sizeof(float) * na);
        if (b) memcpy(b + (size_t)i * nb, gi + na, sizeof(float) * nb);
    }
    return LG_OK;
}
