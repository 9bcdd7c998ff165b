/* Elementwise and resampling ops of the cpu tables (both precisions: these
 * stay float32): OpenMP loops over the whole batch, threaded only where
 * waking the threads pays. */
#include <math.h>
#include <string.h>

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

lg_status lg_cpu_bias_rows(int n, int k, const float *b, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)n * k >= 65536)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) y[(size_t)i * k + j] = b[j];
    return LG_OK;
}

/* Rows in order, so the sum does not depend on the thread count (there is
 * none: a bias gradient is a few hundred values). */
lg_status lg_cpu_bias_rows_grad(int n, int k, const float *dy, float *db) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) db[j] += dy[(size_t)i * k + j];
    return LG_OK;
}

/* Taps of output index o on an axis of n inputs: x[i0] w0 + x[i1] w1 (the
 * source coordinate o/2 - 1/4, clamped at 0, gives the fixed 1/4 and 3/4). */
static inline void taps(int o, int n, int *i0, int *i1, float *w0, float *w1) {
    int i = o >> 1;
    if (o & 1) {
        *i0 = i;
        *i1 = i + 1 < n ? i + 1 : i;
        *w0 = 0.75f;
        *w1 = 0.25f;
    } else {
        *i0 = i > 0 ? i - 1 : 0;
        *i1 = i;
        *w0 = 0.25f;
        *w1 = 0.75f;
    }
}

/* Each (sample, channel) plane is one OpenMP iteration, so sums are
 * deterministic. */
lg_status lg_cpu_up2_fwd(int bilinear, int planes, int hi, int wi, const float *x, float *y) {
    const int ho = 2 * hi, wo = 2 * wi;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * hi * wi;
        float *yp = y + (size_t)pl * ho * wo;
        for (int oh = 0; oh < ho; oh++) {
            float *yr = yp + (size_t)oh * wo;
            if (!bilinear) {
                const float *xr = xp + (size_t)(oh >> 1) * wi;
                for (int ow = 0; ow < wo; ow++) yr[ow] = xr[ow >> 1];
                continue;
            }
            int h0, h1;
            float a0, a1;
            taps(oh, hi, &h0, &h1, &a0, &a1);
            const float *r0 = xp + (size_t)h0 * wi, *r1 = xp + (size_t)h1 * wi;
            for (int ow = 0; ow < wo; ow++) {
                int w0, w1;
                float b0, b1;
                taps(ow, wi, &w0, &w1, &b0, &b1);
                yr[ow] = a0 * (b0 * r0[w0] + b1 * r0[w1]) + a1 * (b0 * r1[w0] + b1 * r1[w1]);
            }
        }
    }
    return LG_OK;
}

lg_status lg_cpu_up2_bwd(int bilinear, int planes, int hi, int wi, const float *dy, float *dx) {
    const int ho = 2 * hi, wo = 2 * wi;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *xp = dx + (size_t)pl * hi * wi;
        const float *gp = dy + (size_t)pl * ho * wo;
        memset(xp, 0, sizeof(float) * hi * wi);
        for (int oh = 0; oh < ho; oh++) {
            const float *gr = gp + (size_t)oh * wo;
            if (!bilinear) {
                float *xr = xp + (size_t)(oh >> 1) * wi;
                for (int ow = 0; ow < wo; ow++) xr[ow >> 1] += gr[ow];
                continue;
            }
            int h0, h1;
            float a0, a1;
            taps(oh, hi, &h0, &h1, &a0, &a1);
            float *r0 = xp + (size_t)h0 * wi, *r1 = xp + (size_t)h1 * wi;
            for (int ow = 0; ow < wo; ow++) {
                int w0, w1;
                float b0, b1;
                taps(ow, wi, &w0, &w1, &b0, &b1);
                r0[w0] += a0 * b0 * gr[ow];
                r0[w1] += a0 * b1 * gr[ow];
                r1[w0] += a1 * b0 * gr[ow];
                r1[w1] += a1 * b1 * gr[ow];
            }
        }
    }
    return LG_OK;
}

lg_status lg_cpu_add(size_t n, const float *a, const float *b, float *out) {
    if (!b) {
        if (out != a) memcpy(out, a, sizeof(float) * n);
        return LG_OK;
    }
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    return LG_OK;
}

lg_status lg_cpu_uniform(lg_rng *r, size_t n, float lo, float hi, float *out) {
    lg_rng_uniform(r, out, n, lo, hi);
    return LG_OK;
}

/* Rows in parallel unless a row alone is big enough for lg_rng_uniform's
 * own threads. */
lg_status lg_cpu_uniform_rows(int n, size_t per, uint64_t seed, uint64_t stream, uint64_t draw,
                              const uint64_t *rows, float lo, float hi, float *out) {
#pragma omp parallel for schedule(static) if ((size_t)n * per >= 65536 && per < 65536)
    for (int i = 0; i < n; i++) {
        lg_rng r = lg_rng_keyed(seed, stream, draw, rows[i]);
        lg_rng_uniform(&r, out + (size_t)i * per, per, lo, hi);
    }
    return LG_OK;
}
