/* The pyramid's separable resampling, float32 in both cpu tables: per
 * plane, rows into a thread's h x cols.out buffer, then columns as scaled
 * row additions (contiguous, so they vectorise). Planes in parallel; each
 * output's sums run in tap order, so the bits do not depend on threads. */
#include <omp.h>

#include "backend/cpu/cpu.h"

size_t lg_cpu_resample_workspace(const lg_resample_desc *d) {
    return (size_t)omp_get_max_threads() * d->h * d->cols.out;
}

static void row_pass(const lg_taps *ax, const float *src, int h, int w, float *tmp) {
    for (int r = 0; r < h; r++) {
        const float *sr = src + (size_t)r * w;
        float *tr = tmp + (size_t)r * ax->out;
        for (int o = 0; o < ax->out; o++) {
            const int *ix = ax->idx + (size_t)o * ax->T;
            const float *wx = ax->w + (size_t)o * ax->T;
            float s = 0;
            for (int t = 0; t < ax->T; t++) s += wx[t] * sr[ix[t]];
            tr[o] = s;
        }
    }
}

static void col_pass(const lg_taps *ay, int ow, float alpha, float beta, const float *tmp,
                     float *dst) {
    for (int o = 0; o < ay->out; o++) {
        float *dr = dst + (size_t)o * ow;
        const int *iy = ay->idx + (size_t)o * ay->T;
        const float *wy = ay->w + (size_t)o * ay->T;
        for (int q = 0; q < ow; q++) dr[q] = beta == 0 ? 0.f : beta * dr[q];
        for (int t = 0; t < ay->T; t++) {
            const float *tr = tmp + (size_t)iy[t] * ow;
            const float wt = alpha * wy[t];
            for (int q = 0; q < ow; q++) dr[q] += wt * tr[q];
        }
    }
}

lg_status lg_cpu_resample(const lg_resample_desc *d, const float *x, float *y, float *ws) {
    const int h = d->h, w = d->w, oh = d->rows.out, ow = d->cols.out;
    const size_t tmpn = (size_t)h * ow;
#pragma omp parallel
    {
        float *tmp = ws + (size_t)omp_get_thread_num() * tmpn;
#pragma omp for schedule(static)
        for (long p = 0; p < d->planes; p++) {
            row_pass(&d->cols, x + (size_t)p * h * w, h, w, tmp);
            col_pass(&d->rows, ow, d->alpha, d->beta, tmp, y + (size_t)p * oh * ow);
        }
    }
    return LG_OK;
}
