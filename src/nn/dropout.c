/* Inverted dropout: in training each value is kept with probability 1-p and
 * scaled by 1/(1-p), so eval is the identity. The keep decisions come from
 * Philox (one uniform per element) keyed by (net stream, forward, layer,
 * row id), hence are the same for any thread count, reproducible from the
 * saved RNG state, and the same for a row whichever slice of a batch holds
 * it. The scaled mask is stored so backward is dx = dy * mask. */
#include <string.h>

#include "nn/layer.h"

#define LG_ELEM_PAR_MIN 32768

lg_status lg_dropout_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const long n = (long)(c->batch * lg_layer_out_numel(l));
    const float p = l->s.p;
    l->train_mode = c->train && p > 0;
    if (!l->train_mode) {
        if (l->y != x) memcpy(l->y, x, sizeof(float) * (size_t)n);
        return LG_OK;
    }
    float *restrict mask = l->aux, *y = l->y; /* y may be x: run in place (net.c) */
    const float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    const size_t per = lg_layer_out_numel(l);
    const uint64_t draw = c->draw0 + (uint64_t)l->index;
#pragma omp parallel for schedule(static) if (n >= LG_ELEM_PAR_MIN && per < LG_ELEM_PAR_MIN)
    for (int i = 0; i < c->batch; i++) {
        lg_rng r = lg_rng_keyed(c->rng->seed, c->rng->stream, draw, c->rows ? c->rows[i] : (uint64_t)i);
        lg_rng_uniform(&r, mask + (size_t)i * per, per, 0.0f, 1.0f);
    }
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
    for (long i = 0; i < n; i++) {
        mask[i] = mask[i] >= p ? scale : 0.0f;
        y[i] = x[i] * mask[i];
    }
    return LG_OK;
}

void lg_dropout_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                         float *dx) {
    if (!dx) return;
    const long n = (long)(c->batch * lg_layer_out_numel(l));
    if (!l->train_mode) {
        memcpy(dx, dy, sizeof(float) * (size_t)n);
        return;
    }
    const float *restrict mask = l->aux;
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
    for (long i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}
