/* The optimiser updates, float32 in both cpu tables (master weights and
 * optimiser state stay float32 whatever the precision): one vectorised
 * elementwise loop each, split across threads for large nets. */
#include <math.h>

#include "backend/cpu/cpu.h"

#define LG_OPT_PAR_MIN 16384

lg_status lg_cpu_sgd_update(const lg_update_desc *d, float *restrict p, const float *restrict g,
                            float *restrict v) {
    const long n = (long)d->n;
    const float lr = d->lr, wd = d->wd, a = d->a, b = d->b;
    if (!v) {
#pragma omp parallel for simd schedule(static) if (n >= LG_OPT_PAR_MIN)
        for (long i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
        return LG_OK;
    }
#pragma omp parallel for simd schedule(static) if (n >= LG_OPT_PAR_MIN)
    for (long i = 0; i < n; i++) {
        v[i] = a * v[i] + b * (g[i] + wd * p[i]);
        p[i] -= lr * v[i];
    }
    return LG_OK;
}

lg_status lg_cpu_adam_update(const lg_update_desc *d, float *restrict p, const float *restrict g,
                             float *restrict m, float *restrict v) {
    const long n = (long)d->n;
    const float wd = d->wd, b1 = d->beta1, b2 = d->beta2, eps = d->eps, step = d->step,
                bc2 = d->bc2;
#pragma omp parallel for simd schedule(static) if (n >= LG_OPT_PAR_MIN)
    for (long i = 0; i < n; i++) {
        const float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= step * (m[i] / (sqrtf(v[i]) / bc2 + eps));
    }
    return LG_OK;
}
