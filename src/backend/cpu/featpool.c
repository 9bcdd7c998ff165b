/* L2 pooling across feature maps, float32 in both cpu tables: one task per
 * (sample, output map). */
#include <math.h>

#include "backend/cpu/cpu.h"

lg_status lg_cpu_featpool_fwd(int n, int co, int k, size_t plane, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int s = 0; s < n; s++)
        for (int o = 0; o < co; o++) {
            const float *xp = x + ((size_t)s * co * k + (size_t)o * k) * plane;
            float *yp = y + ((size_t)s * co + o) * plane;
            for (size_t q = 0; q < plane; q++) {
                float a = 0;
                for (int j = 0; j < k; j++) a += xp[j * plane + q] * xp[j * plane + q];
                yp[q] = sqrtf(a);
            }
        }
    return LG_OK;
}

lg_status lg_cpu_featpool_bwd(int n, int co, int k, size_t plane, const float *x, const float *y,
                              const float *dy, float *dx) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int s = 0; s < n; s++)
        for (int o = 0; o < co; o++) {
            const size_t in0 = ((size_t)s * co * k + (size_t)o * k) * plane;
            const float *yp = y + ((size_t)s * co + o) * plane;
            const float *gp = dy + ((size_t)s * co + o) * plane;
            for (size_t q = 0; q < plane; q++) {
                const float r = yp[q] > 0 ? gp[q] / yp[q] : 0.0f;
                for (int j = 0; j < k; j++) dx[in0 + j * plane + q] = r * x[in0 + j * plane + q];
            }
        }
    return LG_OK;
}
