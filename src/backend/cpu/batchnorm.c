/* Batch norm of the cpu tables (both precisions: float32): each channel is
 * one OpenMP iteration summed in a fixed order (double for the statistics),
 * so results do not depend on the thread count. */
#include <math.h>

#include "backend/cpu/cpu.h"

lg_status lg_cpu_bn_fwd(const lg_bn_desc *d, const float *gamma, const float *beta, float *rmean,
                        float *rvar, const float *x, float *y, float *mean, float *invstd) {
    const int n = d->n, ch = d->ch;
    const size_t s = d->s, m = (size_t)n * s;
    const float eps = d->eps, mom = d->momentum;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < ch; k++) {
        float mu, var;
        if (d->batch_stats) {
            double sum = 0, sq = 0;
            for (int i = 0; i < n; i++) {
                const float *xp = x + ((size_t)i * ch + k) * s;
                for (size_t j = 0; j < s; j++) sum += xp[j];
            }
            const double dmu = sum / (double)m;
            for (int i = 0; i < n; i++) {
                const float *xp = x + ((size_t)i * ch + k) * s;
                for (size_t j = 0; j < s; j++) sq += (xp[j] - dmu) * (xp[j] - dmu);
            }
            mu = (float)dmu;
            var = (float)(sq / (double)m);
            rmean[k] = (1 - mom) * rmean[k] + mom * mu;
            rvar[k] = (1 - mom) * rvar[k] + mom * (float)(sq / (double)(m - 1));
        } else {
            mu = rmean[k];
            var = rvar[k];
        }
        const float is = 1.0f / sqrtf(var + eps);
        mean[k] = mu;
        invstd[k] = is;
        const float scale = (gamma ? gamma[k] : 1.0f) * is;
        const float shift = (beta ? beta[k] : 0.0f) - mu * scale;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * ch + k) * s;
            float *yp = y + ((size_t)i * ch + k) * s;
#pragma omp simd
            for (size_t j = 0; j < s; j++) yp[j] = xp[j] * scale + shift;
        }
    }
    return LG_OK;
}

lg_status lg_cpu_bn_bwd(const lg_bn_desc *d, const float *gamma, const float *mean,
                        const float *invstd, const float *x, const float *dy, float *dx,
                        float *dgamma, float *dbeta) {
    const int n = d->n, ch = d->ch;
    const size_t s = d->s, m = (size_t)n * s;
    const int grads = dgamma != NULL;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < ch; k++) {
        const float mu = mean[k], is = invstd[k];
        double sdy = 0, sdyx = 0;
        if (grads || d->batch_stats) {
            for (int i = 0; i < n; i++) {
                const float *xp = x + ((size_t)i * ch + k) * s;
                const float *gp = dy + ((size_t)i * ch + k) * s;
                float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
                for (size_t j = 0; j < s; j++) {
                    a += gp[j];
                    b += gp[j] * (xp[j] - mu);
                }
                sdy += a;
                sdyx += b;
            }
            sdyx *= is;
        }
        if (grads) {
            dgamma[k] += (float)sdyx;
            dbeta[k] += (float)sdy;
        }
        if (!dx) continue;
        const float g = (gamma ? gamma[k] : 1.0f) * is;
        const float cdy = d->batch_stats ? (float)(sdy / (double)m) : 0.0f;
        const float cx = d->batch_stats ? (float)(sdyx / (double)m) * is : 0.0f;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * ch + k) * s;
            const float *gp = dy + ((size_t)i * ch + k) * s;
            float *dp = dx + ((size_t)i * ch + k) * s;
#pragma omp simd
            for (size_t j = 0; j < s; j++) dp[j] = g * (gp[j] - cdy - (xp[j] - mu) * cx);
        }
    }
    return LG_OK;
}
