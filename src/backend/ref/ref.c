#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ref/ref.h"
#include "core/check.h"

/* Element (i, j) of op(A) for a row-major A with leading dimension ld. */
static inline float at(const float *a, int trans, int ld, int i, int j) {
    return trans ? a[(size_t)j * ld + i] : a[(size_t)i * ld + j];
}

static lg_status ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)at(a, ta, lda, i, p) * at(b, tb, ldb, p, j);
            float *cij = &c[(size_t)i * ldc + j];
            /* beta == 0 ignores C entirely (it may hold garbage), as BLAS does. */
            *cij = (float)(alpha * s + (beta == 0 ? 0.0 : (double)beta * *cij));
        }
    return LG_OK;
}

static size_t ref_conv_workspace(const lg_conv_desc *d) { return 0; }

/* Index of x[n, c, ih, iw], or -1 when (ih, iw) falls in the zero padding. */
static inline long x_index(const lg_conv_desc *d, int n, int c, int ih, int iw) {
    if (ih < 0 || ih >= d->hi || iw < 0 || iw >= d->wi) return -1;
    return (((long)n * d->ci + c) * d->hi + ih) * d->wi + iw;
}

/* Weight of output channel co and input channel ci, which must lie in co's
 * group: weights hold ci / groups input channels per output channel. */
static inline size_t w_index(const lg_conv_desc *d, int co, int ci, int i, int j) {
    const int cig = d->ci / lg_conv_groups(d);
    return (((size_t)co * cig + ci % cig) * d->kh + i) * d->kw + j;
}

/* Input channels [*c0, *c1) that output channel o reads. */
static inline void in_range(const lg_conv_desc *d, int o, int *c0, int *c1) {
    const int g = lg_conv_groups(d), cig = d->ci / g, cog = d->co / g;
    *c0 = o / cog * cig;
    *c1 = *c0 + cig;
}

static inline size_t y_index(const lg_conv_desc *d, int n, int co, int oh, int ow) {
    return (((size_t)n * d->co + co) * d->ho + oh) * d->wo + ow;
}

/* y[n,o,oh,ow] = b[o] + sum_{c,i,j} w[o,c,i,j] x[n,c,oh*s-p+i,ow*s-p+j],
 * c over o's group */
static lg_status ref_conv_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                         float *y, float *ws) {
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < d->co; o++)
            for (int oh = 0; oh < d->ho; oh++)
                for (int ow = 0; ow < d->wo; ow++) {
                    double s = b ? b[o] : 0;
                    int c0, c1;
                    in_range(d, o, &c0, &c1);
                    for (int c = c0; c < c1; c++)
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                long xi = x_index(d, n, c, oh * d->stride - d->pad + i,
                                                  ow * d->stride - d->pad + j);
                                if (xi >= 0) s += (double)w[w_index(d, o, c, i, j)] * x[xi];
                            }
                    y[y_index(d, n, o, oh, ow)] = (float)s;
                }
    return LG_OK;
}

/* dx = sum over every output position of dy * w, scattered back to the input
 * pixel it read: the transpose of the forward map. */
static lg_status ref_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w, float *dx,
                              float *ws) {
    memset(dx, 0, sizeof(float) * (size_t)d->n * d->ci * d->hi * d->wi);
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < d->co; o++)
            for (int oh = 0; oh < d->ho; oh++)
                for (int ow = 0; ow < d->wo; ow++) {
                    float g = dy[y_index(d, n, o, oh, ow)];
                    int c0, c1;
                    in_range(d, o, &c0, &c1);
                    for (int c = c0; c < c1; c++)
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                long xi = x_index(d, n, c, oh * d->stride - d->pad + i,
                                                  ow * d->stride - d->pad + j);
                                if (xi >= 0) dx[xi] += g * w[w_index(d, o, c, i, j)];
                            }
                }
    return LG_OK;
}

/* dw[o,c,i,j] += sum_{n,oh,ow} dy[n,o,oh,ow] x[n,c,oh*s-p+i,ow*s-p+j]; db[o] += sum dy */
static lg_status ref_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy, float *dw,
                                float *db, float *ws) {
    for (int o = 0; o < d->co; o++) {
        int c0, c1;
        in_range(d, o, &c0, &c1);
        for (int c = c0; c < c1; c++)
            for (int i = 0; i < d->kh; i++)
                for (int j = 0; j < d->kw; j++) {
                    double s = 0;
                    for (int n = 0; n < d->n; n++)
                        for (int oh = 0; oh < d->ho; oh++)
                            for (int ow = 0; ow < d->wo; ow++) {
                                long xi = x_index(d, n, c, oh * d->stride - d->pad + i,
                                                  ow * d->stride - d->pad + j);
                                if (xi >= 0) s += (double)dy[y_index(d, n, o, oh, ow)] * x[xi];
                            }
                    dw[w_index(d, o, c, i, j)] += (float)s;
                }
        if (db) {
            double s = 0;
            for (int n = 0; n < d->n; n++)
                for (int p = 0; p < d->ho * d->wo; p++) s += dy[y_index(d, n, o, 0, 0) + p];
            db[o] += (float)s;
        }
    }
    return LG_OK;
}

static lg_status act_kind_ok(lg_layer_kind act) {
    if (act == LG_LAYER_RELU || act == LG_LAYER_LEAKY_RELU || act == LG_LAYER_SIGMOID ||
        act == LG_LAYER_TANH)
        return LG_OK;
    return lg_error(LG_ERR_ARG, "activation op: layer kind %d is not an activation", (int)act);
}

/* The definitions, one value at a time, in double. */
static lg_status ref_act_fwd(lg_layer_kind act, float slope, size_t n, const float *x, float *y) {
    LG_TRY(act_kind_ok(act));
    for (size_t i = 0; i < n; i++) {
        const double v = x[i];
        y[i] = (float)(act == LG_LAYER_RELU         ? (v > 0 ? v : 0.0)
                       : act == LG_LAYER_LEAKY_RELU ? (v > 0 ? v : (double)slope * v)
                       : act == LG_LAYER_SIGMOID    ? 1.0 / (1.0 + exp(-v))
                                                    : tanh(v));
    }
    return LG_OK;
}

static lg_status ref_act_bwd(lg_layer_kind act, float slope, size_t n, const float *x,
                             const float *y, const float *dy, float *dx) {
    LG_TRY(act_kind_ok(act));
    for (size_t i = 0; i < n; i++) {
        const double g = dy[i], v = act == LG_LAYER_SIGMOID || act == LG_LAYER_TANH ? y[i] : x[i];
        dx[i] = (float)(act == LG_LAYER_RELU         ? (v > 0 ? g : 0.0)
                        : act == LG_LAYER_LEAKY_RELU ? (v > 0 ? g : (double)slope * g)
                        : act == LG_LAYER_SIGMOID    ? g * v * (1.0 - v)
                                                     : g * (1.0 - v * v));
    }
    return LG_OK;
}

static lg_status ref_bias_rows(int n, int k, const float *b, float *y) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) y[(size_t)i * k + j] = b[j];
    return LG_OK;
}

static lg_status ref_bias_rows_grad(int n, int k, const float *dy, float *db) {
    for (int j = 0; j < k; j++) {
        double s = db[j];
        for (int i = 0; i < n; i++) s += dy[(size_t)i * k + j];
        db[j] = (float)s;
    }
    return LG_OK;
}

/* Source rows/columns and weights of output index o on an axis of n. */
static void up2_taps(int bilinear, int o, int n, int i[2], double w[2]) {
    if (!bilinear) {
        i[0] = i[1] = o / 2;
        w[0] = 1, w[1] = 0;
        return;
    }
    const double s = o / 2.0 - 0.25; /* source coordinate, align_corners=False */
    const double c = s < 0 ? 0 : s;
    i[0] = (int)floor(c);
    i[1] = i[0] + 1 < n ? i[0] + 1 : i[0];
    w[1] = c - i[0];
    w[0] = 1 - w[1];
}

static lg_status ref_up2_fwd(int bilinear, int planes, int hi, int wi, const float *x, float *y) {
    const int ho = 2 * hi, wo = 2 * wi;
    for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                int r[2], c[2];
                double a[2], b[2], s = 0;
                up2_taps(bilinear, oh, hi, r, a);
                up2_taps(bilinear, ow, wi, c, b);
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        s += a[u] * b[v] * x[((size_t)p * hi + r[u]) * wi + c[v]];
                y[((size_t)p * ho + oh) * wo + ow] = (float)s;
            }
    return LG_OK;
}

static lg_status ref_up2_bwd(int bilinear, int planes, int hi, int wi, const float *dy, float *dx) {
    const int ho = 2 * hi, wo = 2 * wi;
    double *acc = malloc(sizeof(double) * (size_t)hi * wi);
    LG_CHECK(acc, LG_ERR_NOMEM, "ref upsample backward: out of memory");
    for (int p = 0; p < planes; p++) {
        memset(acc, 0, sizeof(double) * (size_t)hi * wi);
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                int r[2], c[2];
                double a[2], b[2];
                up2_taps(bilinear, oh, hi, r, a);
                up2_taps(bilinear, ow, wi, c, b);
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        acc[(size_t)r[u] * wi + c[v]] +=
                            a[u] * b[v] * dy[((size_t)p * ho + oh) * wo + ow];
            }
        for (size_t q = 0; q < (size_t)hi * wi; q++) dx[(size_t)p * hi * wi + q] = (float)acc[q];
    }
    free(acc);
    return LG_OK;
}

/* Batch norm in double from the definitions: statistics, normalisation,
 * and backward through xh = (x - mean) invstd with the given mean and
 * invstd (what the forward wrote, as the layer passes them). */
static lg_status ref_bn_fwd(const lg_bn_desc *d, const float *gamma, const float *beta,
                            float *rmean, float *rvar, const float *x, float *y, float *mean,
                            float *invstd) {
    const size_t s = d->s, m = (size_t)d->n * s;
    for (int k = 0; k < d->ch; k++) {
        double mu = rmean[k], var = rvar[k];
        if (d->batch_stats) {
            double sum = 0, sq = 0;
            for (int i = 0; i < d->n; i++)
                for (size_t j = 0; j < s; j++) sum += x[((size_t)i * d->ch + k) * s + j];
            mu = sum / (double)m;
            for (int i = 0; i < d->n; i++)
                for (size_t j = 0; j < s; j++) {
                    const double v = x[((size_t)i * d->ch + k) * s + j] - mu;
                    sq += v * v;
                }
            var = sq / (double)m;
            rmean[k] = (float)((1.0 - d->momentum) * rmean[k] + (double)d->momentum * mu);
            rvar[k] = (float)((1.0 - d->momentum) * rvar[k] +
                              (double)d->momentum * (sq / (double)(m - 1)));
        }
        const double is = 1.0 / sqrt(var + (double)d->eps);
        const double g = gamma ? gamma[k] : 1.0, b = beta ? beta[k] : 0.0;
        mean[k] = (float)mu;
        invstd[k] = (float)is;
        for (int i = 0; i < d->n; i++)
            for (size_t j = 0; j < s; j++) {
                const size_t q = ((size_t)i * d->ch + k) * s + j;
                y[q] = (float)(g * (x[q] - mu) * is + b);
            }
    }
    return LG_OK;
}

static lg_status ref_bn_bwd(const lg_bn_desc *d, const float *gamma, const float *mean,
                            const float *invstd, const float *x, const float *dy, float *dx,
                            float *dgamma, float *dbeta) {
    const size_t s = d->s, m = (size_t)d->n * s;
    for (int k = 0; k < d->ch; k++) {
        const double mu = mean[k], is = invstd[k], g = gamma ? gamma[k] : 1.0;
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < d->n; i++)
            for (size_t j = 0; j < s; j++) {
                const size_t q = ((size_t)i * d->ch + k) * s + j;
                sdy += dy[q];
                sdyx += dy[q] * (x[q] - mu) * is;
            }
        if (dgamma) {
            dgamma[k] = (float)(dgamma[k] + sdyx);
            dbeta[k] = (float)(dbeta[k] + sdy);
        }
        if (!dx) continue;
        for (int i = 0; i < d->n; i++)
            for (size_t j = 0; j < s; j++) {
                const size_t q = ((size_t)i * d->ch + k) * s + j;
                const double xh = (x[q] - mu) * is;
                dx[q] = (float)(d->batch_stats ? g * is * (dy[q] - sdy / m - xh * sdyx / m)
                                               : g * is * dy[q]);
            }
    }
    return LG_OK;
}

/* Uniform j of a row's generator r, from lg_philox directly: block j / 4,
 * word j % 4, its top 24 bits over 2^24 (lg_rng_uniform's U[0, 1)). */
static double ref_u01(const lg_rng *r, size_t j) {
    uint32_t x[4];
    lg_philox(r->seed, r->stream, r->offset + j / 4, x);
    return (double)(x[j % 4] >> 8) / 16777216.0;
}

static lg_status ref_add(size_t n, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = b ? (float)((double)a[i] + b[i]) : a[i];
    return LG_OK;
}

static lg_status ref_uniform(lg_rng *r, size_t n, float lo, float hi, float *out) {
    for (size_t j = 0; j < n; j++)
        out[j] = (float)(lo + ((double)hi - lo) * ref_u01(r, j));
    r->offset += (n + 3) / 4;
    return LG_OK;
}

static lg_status ref_uniform_rows(int n, size_t per, uint64_t seed, uint64_t stream,
                                  uint64_t draw, const uint64_t *rows, float lo, float hi,
                                  float *out) {
    for (int i = 0; i < n; i++) {
        lg_rng r = lg_rng_keyed(seed, stream, draw, rows[i]);
        LG_TRY(ref_uniform(&r, per, lo, hi, out + (size_t)i * per));
    }
    return LG_OK;
}

static lg_status ref_dropout(const lg_dropout_desc *d, const float *in, float *out) {
    LG_CHECK(d->n >= 0 && d->maps >= 0 && (!d->maps || d->per % (size_t)d->maps == 0),
             LG_ERR_ARG, "dropout: %zu values per row do not split into %d maps", d->per,
             d->maps);
    const size_t plane = d->maps ? d->per / (size_t)d->maps : 1;
    for (int i = 0; i < d->n; i++) {
        const lg_rng r =
            lg_rng_keyed(d->seed, d->stream, d->draw, d->rows ? d->rows[i] : (uint64_t)i);
        for (size_t j = 0; j < d->per; j++) {
            const size_t at = (size_t)i * d->per + j;
            const int keep = ref_u01(&r, d->maps ? j / plane : j) >= d->p;
            out[at] = (float)(keep ? (double)in[at] / (1.0 - d->p) : 0.0 * in[at]);
        }
    }
    return LG_OK;
}

static lg_status ref_featpool_fwd(int n, int co, int k, size_t plane, const float *x, float *y) {
    for (size_t o = 0; o < (size_t)n * co; o++)
        for (size_t q = 0; q < plane; q++) {
            double s = 0;
            for (int j = 0; j < k; j++) {
                const double v = x[(o * k + j) * plane + q];
                s += v * v;
            }
            y[o * plane + q] = (float)sqrt(s);
        }
    return LG_OK;
}

static lg_status ref_featpool_bwd(int n, int co, int k, size_t plane, const float *x,
                                  const float *y, const float *dy, float *dx) {
    for (size_t o = 0; o < (size_t)n * co; o++)
        for (size_t q = 0; q < plane; q++) {
            const double yv = y[o * plane + q], g = dy[o * plane + q];
            for (int j = 0; j < k; j++) {
                const size_t at = (o * k + j) * plane + q;
                dx[at] = (float)(yv > 0 ? g * x[at] / yv : 0.0);
            }
        }
    return LG_OK;
}

static lg_status ref_concat(int n, size_t na, size_t nb, const float *a, const float *b,
                            float *out) {
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < na + nb; j++)
            out[(size_t)i * (na + nb) + j] = j < na ? a[(size_t)i * na + j] : b[(size_t)i * nb + j - na];
    return LG_OK;
}

static lg_status ref_split(int n, size_t na, size_t nb, const float *g, float *a, float *b) {
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < na + nb; j++) {
            const float v = g[(size_t)i * (na + nb) + j];
            if (j < na && a) a[(size_t)i * na + j] = v;
            if (j >= na && b) b[(size_t)i * nb + j - na] = v;
        }
    return LG_OK;
}

static lg_status ref_bce_logits(int n, const float *logits, const float *targets, float scale,
                                double *sum, float *dlogits) {
    double acc = 0;
    for (int i = 0; i < n; i++) {
        const double x = logits[i], t = targets[i];
        acc += (x > 0 ? x : 0.0) - x * t + log1p(exp(-fabs(x)));
        if (dlogits) dlogits[i] = (float)((1.0 / (1.0 + exp(-x)) - t) * scale / n);
    }
    *sum = acc;
    return LG_OK;
}

static lg_status ref_sgd_update(const lg_update_desc *d, float *p, const float *g, float *v) {
    for (size_t i = 0; i < d->n; i++) {
        const double gi = (double)g[i] + (double)d->wd * p[i];
        const double vi = v ? (double)d->a * v[i] + (double)d->b * gi : gi;
        if (v) v[i] = (float)vi;
        p[i] = (float)(p[i] - (double)d->lr * vi);
    }
    return LG_OK;
}

static lg_status ref_adam_update(const lg_update_desc *d, float *p, const float *g, float *m,
                                 float *v) {
    for (size_t i = 0; i < d->n; i++) {
        const double gi = (double)g[i] + (double)d->wd * p[i];
        const double mi = (double)d->beta1 * m[i] + (1.0 - d->beta1) * gi;
        const double vi = (double)d->beta2 * v[i] + (1.0 - d->beta2) * gi * gi;
        m[i] = (float)mi, v[i] = (float)vi;
        p[i] = (float)(p[i] - (double)d->step * mi / (sqrt(vi) / d->bc2 + d->eps));
    }
    return LG_OK;
}

static size_t ref_resample_workspace(const lg_resample_desc *d) { return 0; }

/* Both axes' taps at once, in double, from the definition. */
static lg_status ref_resample(const lg_resample_desc *d, const float *x, float *y, float *ws) {
    const lg_taps *ry = &d->rows, *cx = &d->cols;
    for (long p = 0; p < d->planes; p++)
        for (int o = 0; o < ry->out; o++)
            for (int q = 0; q < cx->out; q++) {
                double s = 0;
                for (int t = 0; t < ry->T; t++)
                    for (int u = 0; u < cx->T; u++)
                        s += (double)ry->w[(size_t)o * ry->T + t] * cx->w[(size_t)q * cx->T + u] *
                             x[((size_t)p * d->h + ry->idx[(size_t)o * ry->T + t]) * d->w +
                               cx->idx[(size_t)q * cx->T + u]];
                float *yo = &y[((size_t)p * ry->out + o) * cx->out + q];
                *yo = (float)((double)d->alpha * s + (d->beta == 0 ? 0.0 : (double)d->beta * *yo));
            }
    return LG_OK;
}

const lg_backend lg_backend_ref_table = {
    .kind = LG_BACKEND_REF,
    .name = "ref",
    .gemm = ref_gemm,
    .conv_workspace = ref_conv_workspace,
    .conv_fwd = ref_conv_fwd,
    .conv_bwd_data = ref_conv_bwd_data,
    .conv_bwd_filter = ref_conv_bwd_filter,
    .act_fwd = ref_act_fwd,
    .act_bwd = ref_act_bwd,
    .bias_rows = ref_bias_rows,
    .bias_rows_grad = ref_bias_rows_grad,
    .up2_fwd = ref_up2_fwd,
    .up2_bwd = ref_up2_bwd,
    .bn_fwd = ref_bn_fwd,
    .bn_bwd = ref_bn_bwd,
    .dropout = ref_dropout,
    .featpool_fwd = ref_featpool_fwd,
    .featpool_bwd = ref_featpool_bwd,
    .concat = ref_concat,
    .split = ref_split,
    .bce_logits = ref_bce_logits,
    .sgd_update = ref_sgd_update,
    .adam_update = ref_adam_update,
    .resample_workspace = ref_resample_workspace,
    .resample = ref_resample,
    .add = ref_add,
    .uniform = ref_uniform,
    .uniform_rows = ref_uniform_rows,
};
