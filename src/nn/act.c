/* Elementwise activations. Backward of ReLU/LeakyReLU reads the sign of the
 * input x; with a slope >= 0 the output has the same sign, so x may be the
 * output when the net runs them in place (net.c runs a negative slope out
 * of place). Sigmoid and Tanh read their output y. */
#include <math.h>

#include "nn/layer.h"

#define LG_ELEM_PAR_MIN 32768 /* below this, waking threads costs more than it saves */

lg_status lg_act_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const long n = (long)(c->batch * lg_layer_out_numel(l));
    float *y = l->y; /* may be x: nets run activations in place (net.c) */
    const float a = l->s.slope;
    switch (l->s.kind) {
    case LG_LAYER_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    case LG_LAYER_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a * x[i];
        break;
    case LG_LAYER_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    default: /* LG_LAYER_TANH */
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    }
    return LG_OK;
}

void lg_act_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                     float *dx) {
    if (!dx) return;
    const long n = (long)(c->batch * lg_layer_out_numel(l));
    const float *restrict y = l->y;
    const float a = l->s.slope;
    switch (l->s.kind) {
    case LG_LAYER_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f;
        break;
    case LG_LAYER_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : a * dy[i];
        break;
    case LG_LAYER_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    default: /* LG_LAYER_TANH */
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    }
}
