/* L2 pooling across feature maps (Torch's FeatureLPPooling with p = 2, as
 * the authors' LSUN generator uses it): every k consecutive input maps
 * become one output map, y[c] = sqrt(sum_j x[c*k + j]^2) pixel by pixel.
 * The gradient dy[c] x[c*k + j] / y[c] is taken as 0 where y[c] = 0 (all
 * k inputs zero, e.g. after a ReLU), the subgradient that keeps it finite. */
#include <math.h>

#include "nn/layer.h"

lg_status lg_featpool_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const int k = l->s.k, co = l->co;
    const size_t plane = (size_t)l->hi * l->wi;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < c->batch; n++)
        for (int o = 0; o < co; o++) {
            const float *xp = x + ((size_t)n * l->ci + (size_t)o * k) * plane;
            float *yp = l->y + ((size_t)n * co + o) * plane;
            for (size_t q = 0; q < plane; q++) {
                float s = 0;
                for (int j = 0; j < k; j++) s += xp[j * plane + q] * xp[j * plane + q];
                yp[q] = sqrtf(s);
            }
        }
    return LG_OK;
}

void lg_featpool_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                          float *dx) {
    if (!dx) return;
    const int k = l->s.k, co = l->co;
    const size_t plane = (size_t)l->hi * l->wi;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < c->batch; n++)
        for (int o = 0; o < co; o++) {
            const size_t in0 = ((size_t)n * l->ci + (size_t)o * k) * plane;
            const float *yp = l->y + ((size_t)n * co + o) * plane;
            const float *gp = dy + ((size_t)n * co + o) * plane;
            for (size_t q = 0; q < plane; q++) {
                const float r = yp[q] > 0 ? gp[q] / yp[q] : 0.0f;
                for (int j = 0; j < k; j++) dx[in0 + j * plane + q] = r * x[in0 + j * plane + q];
            }
        }
}
