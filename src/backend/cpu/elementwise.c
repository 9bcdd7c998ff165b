/* Elementwise ops of the cpu tables (both precisions: activations stay
 * float32): OpenMP SIMD loops over the whole batch, threaded only where
 * waking the threads pays. */
#include <math.h>

#include "backend/cpu/cpu.h"
#include "core/check.h"

#define LG_ELEM_PAR_MIN 32768 /* below this, waking threads costs more than it saves */

lg_status lg_cpu_act_fwd(lg_layer_kind act, float slope, size_t n_, const float *x, float *y) {
    const long n = (long)n_;
    const float a = slope;
    switch (act) {
    case LG_LAYER_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        return LG_OK;
    case LG_LAYER_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a * x[i];
        return LG_OK;
    case LG_LAYER_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        return LG_OK;
    case LG_LAYER_TANH:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
        return LG_OK;
    default: return lg_error(LG_ERR_ARG, "activation op: layer kind %d is not an activation", (int)act);
    }
}

lg_status lg_cpu_act_bwd(lg_layer_kind act, float slope, size_t n_, const float *x,
                         const float *y, const float *dy, float *dx) {
    const long n = (long)n_;
    const float a = slope;
    switch (act) {
    case LG_LAYER_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f;
        return LG_OK;
    case LG_LAYER_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : a * dy[i];
        return LG_OK;
    case LG_LAYER_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        return LG_OK;
    case LG_LAYER_TANH:
#pragma omp parallel for simd schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        return LG_OK;
    default: return lg_error(LG_ERR_ARG, "activation op: layer kind %d is not an activation", (int)act);
    }
}
