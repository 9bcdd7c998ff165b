/* Batch normalisation over (n, h, w) per channel, PyTorch semantics:
 * training normalises with the batch mean and biased variance and moves the
 * running statistics by `momentum` towards the batch mean and the UNBIASED
 * variance; eval normalises with the running statistics. 1d and 2d are the
 * same loop with h = w = 1. Each channel is one OpenMP iteration summed in a
 * fixed order, so results do not depend on the thread count. */
#include <math.h>

#include "core/check.h"
#include "nn/layer.h"

lg_status lg_batchnorm_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const int n = c->batch, ch = l->ci;
    const size_t s = (size_t)l->hi * l->wi, m = (size_t)n * s;
    const int batch_stats = c->train != 0;
    LG_CHECK(!batch_stats || m > 1, LG_ERR_SHAPE,
             "layer %d (batchnorm): training needs more than one value per channel, got "
             "batch %d of %dx%d",
             l->index, n, l->hi, l->wi);
    const float eps = l->s.eps, mom = l->s.momentum;
    float *mean = l->aux, *invstd = l->aux + ch;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < ch; k++) {
        float mu, var;
        if (batch_stats) {
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
            l->rmean[k] = (1 - mom) * l->rmean[k] + mom * mu;
            l->rvar[k] = (1 - mom) * l->rvar[k] + mom * (float)(sq / (double)(m - 1));
        } else {
            mu = l->rmean[k];
            var = l->rvar[k];
        }
        const float is = 1.0f / sqrtf(var + eps);
        mean[k] = mu;
        invstd[k] = is;
        const float scale = (l->w ? l->w[k] : 1.0f) * is;
        const float shift = (l->b ? l->b[k] : 0.0f) - mu * scale;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * ch + k) * s;
            float *yp = l->y + ((size_t)i * ch + k) * s;
#pragma omp simd
            for (size_t j = 0; j < s; j++) yp[j] = xp[j] * scale + shift;
        }
    }
    l->train_mode = batch_stats;
    return LG_OK;
}

/* With xh = (x - mean) * invstd and m values per channel:
 *   dbeta = sum dy, dgamma = sum dy xh,
 *   dx = gamma invstd (dy - dbeta/m - xh dgamma/m)   (batch statistics)
 *   dx = gamma invstd dy                              (running statistics) */
void lg_batchnorm_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                           float *dx) {
    const int n = c->batch, ch = l->ci;
    const size_t s = (size_t)l->hi * l->wi, m = (size_t)n * s;
    const float *mean = l->aux, *invstd = l->aux + ch;
    const int grads = c->param_grads && l->w;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < ch; k++) {
        const float mu = mean[k], is = invstd[k];
        double sdy = 0, sdyx = 0;
        if (grads || l->train_mode) {
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
            l->dw[k] += (float)sdyx;
            l->db[k] += (float)sdy;
        }
        if (!dx) continue;
        const float g = (l->w ? l->w[k] : 1.0f) * is;
        const float cdy = l->train_mode ? (float)(sdy / (double)m) : 0.0f;
        const float cx = l->train_mode ? (float)(sdyx / (double)m) * is : 0.0f;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * ch + k) * s;
            const float *gp = dy + ((size_t)i * ch + k) * s;
            float *dp = dx + ((size_t)i * ch + k) * s;
#pragma omp simd
            for (size_t j = 0; j < s; j++) dp[j] = g * (gp[j] - cdy - (xp[j] - mu) * cx);
        }
    }
}
