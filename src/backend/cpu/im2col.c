/* Convolution as GEMM (Chellapilla et al. 2006). For a chunk of nb images the
 * column matrix col[K, nb*P] holds, in row (c, i, j) and column (b, oh, ow),
 * the input pixel x[b, c, oh*s-p+i, ow*s-p+j] (0 in the padding), with
 * K = ci*kh*kw and P = ho*wo. Then
 *   forward      y[:, b]  = W[co, K] col            (one GEMM per chunk)
 *   bwd data     col      = W^T dy,  dx = col2im(col)
 *   bwd filter   dW      += dy[co, nb*P] col^T      (accumulated over chunks)
 * A grouped convolution runs these GEMMs once per group on the group's block
 * of rows: its output channels, its weights and the column rows of its input
 * channels, which are contiguous because c is col's outermost row index.
 * All loops outside BLAS write disjoint planes per (image, channel), so the
 * result does not depend on the OpenMP thread count. */
#include <string.h>

#include "backend/cpu/cpu.h"

/* Column floats per chunk; 4M floats (16 MiB) keeps GEMMs wide at 14x14
 * without holding a whole batch's column matrix at 28x28. */
#define LG_IM2COL_WS_FLOATS ((size_t)1 << 22)

int lg_cpu_im2col_chunk(const lg_conv_desc *d) {
    size_t k = (size_t)d->ci * d->kh * d->kw, p = (size_t)d->ho * d->wo;
    size_t b = LG_IM2COL_WS_FLOATS / ((k + (size_t)d->co) * p);
    if (b < 1) b = 1;
    if (b > (size_t)d->n) b = (size_t)d->n;
    return (int)b;
}

size_t lg_cpu_im2col_conv_workspace(const lg_conv_desc *d) {
    size_t k = (size_t)d->ci * d->kh * d->kw, p = (size_t)d->ho * d->wo;
    size_t b = (size_t)lg_cpu_im2col_chunk(d);
    /* col, plus a [co, b*P] staging matrix when a chunk spans several images */
    return k * b * p + (b > 1 ? (size_t)d->co * b * p : 0);
}

/* Output columns [lo, hi) whose input column ow*s-p+j lies inside the image. */
static void valid_cols(const lg_conv_desc *d, int j, int *lo, int *hi) {
    int first = d->pad - j, last = d->wi - 1 + d->pad - j;
    *lo = first > 0 ? (first + d->stride - 1) / d->stride : 0;
    *hi = last >= 0 ? last / d->stride + 1 : 0;
    if (*hi > d->wo) *hi = d->wo;
    if (*hi < *lo) *hi = *lo;
}

static void im2col(const lg_conv_desc *d, const float *x, int nb, float *col) {
    const size_t p = (size_t)d->ho * d->wo, ld = (size_t)nb * p;
    const int s = d->stride;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < d->ci; c++) {
            const float *xp = x + ((size_t)b * d->ci + c) * d->hi * d->wi;
            for (int i = 0; i < d->kh; i++)
                for (int j = 0; j < d->kw; j++) {
                    float *row = col + ((size_t)(c * d->kh + i) * d->kw + j) * ld + (size_t)b * p;
                    int lo, hi;
                    valid_cols(d, j, &lo, &hi);
                    for (int oh = 0; oh < d->ho; oh++) {
                        float *r = row + (size_t)oh * d->wo;
                        int ih = oh * s - d->pad + i;
                        if (ih < 0 || ih >= d->hi) {
                            memset(r, 0, sizeof(float) * d->wo);
                            continue;
                        }
                        const float *xr = xp + (size_t)ih * d->wi;
                        const int off = j - d->pad; /* input column of ow is ow*s + off */
                        for (int ow = 0; ow < lo; ow++) r[ow] = 0;
                        if (s == 1)
                            memcpy(r + lo, xr + lo + off, sizeof(float) * (hi - lo));
                        else
                            for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow * s + off];
                        for (int ow = hi; ow < d->wo; ow++) r[ow] = 0;
                    }
                }
        }
}

/* The transpose of im2col: every column entry is added back to the input
 * pixel it was read from. dx is overwritten. */
static void col2im(const lg_conv_desc *d, const float *col, int nb, float *dx) {
    const size_t p = (size_t)d->ho * d->wo, ld = (size_t)nb * p;
    const int s = d->stride;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < d->ci; c++) {
            float *xp = dx + ((size_t)b * d->ci + c) * d->hi * d->wi;
            memset(xp, 0, sizeof(float) * d->hi * d->wi);
            for (int i = 0; i < d->kh; i++)
                for (int j = 0; j < d->kw; j++) {
                    const float *row =
                        col + ((size_t)(c * d->kh + i) * d->kw + j) * ld + (size_t)b * p;
                    int lo, hi;
                    valid_cols(d, j, &lo, &hi);
                    const int off = j - d->pad;
                    for (int oh = 0; oh < d->ho; oh++) {
                        int ih = oh * s - d->pad + i;
                        if (ih < 0 || ih >= d->hi) continue;
                        const float *r = row + (size_t)oh * d->wo;
                        float *xr = xp + (size_t)ih * d->wi;
                        for (int ow = lo; ow < hi; ow++) xr[ow * s + off] += r[ow];
                    }
                }
        }
}

/* stage[o, b*P + q] = y[b, o, q]: the chunk's NCHW planes side by side. */
static void gather(const lg_conv_desc *d, const float *y, int nb, float *stage) {
    const size_t p = (size_t)d->ho * d->wo;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int o = 0; o < d->co; o++)
            memcpy(stage + ((size_t)o * nb + b) * p, y + ((size_t)b * d->co + o) * p,
                   sizeof(float) * p);
}

/* The chunk's GEMMs, one per group g on its blocks (cog = co/G output rows,
 * kg = K/G column rows, weights [cog, kg] per group):
 *   dir 0 (forward)      out[cog, nb*P] = W_g a_g          (a = col)
 *   dir 1 (bwd data)     out[kg,  nb*P] = W_g^T a_g        (a = dy rows)
 *   dir 2 (bwd filter)   out[cog, kg]  += a_g col_g^T      (w = dy rows, a = col)
 * beta: what the output keeps (1 adds). */
static void group_gemms(const lg_conv_desc *d, int dir, int nb, const float *w, const float *a,
                        float *out, float beta) {
    const int ng = lg_conv_groups(d), cog = d->co / ng;
    const int kg = d->ci / ng * d->kh * d->kw, cols = nb * d->ho * d->wo;
    for (int g = 0; g < ng; g++) {
        const size_t wo = (size_t)g * cog * kg, yo = (size_t)g * cog * cols,
                     co = (size_t)g * kg * cols;
        if (dir == 0)
            lg_cpu_gemm(0, 0, cog, cols, kg, 1.0f, w + wo, kg, a + co, cols, beta, out + yo, cols);
        else if (dir == 1)
            lg_cpu_gemm(1, 0, kg, cols, cog, 1.0f, w + wo, kg, a + yo, cols, beta, out + co, cols);
        else
            lg_cpu_gemm(0, 1, cog, kg, cols, 1.0f, w + yo, cols, a + co, cols, beta, out + wo, kg);
    }
}

void lg_cpu_im2col_conv_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                            float *y, float *ws) {
    const int k = d->ci * d->kh * d->kw, p = d->ho * d->wo, chunk = lg_cpu_im2col_chunk(d);
    float *col = ws, *stage = ws + (size_t)k * chunk * p;
    for (int n0 = 0; n0 < d->n; n0 += chunk) {
        const int nb = d->n - n0 < chunk ? d->n - n0 : chunk;
        float *yc = y + (size_t)n0 * d->co * p;
        im2col(d, x + (size_t)n0 * d->ci * d->hi * d->wi, nb, col);
        if (nb == 1) {
            /* One image: GEMM straight into y on top of the broadcast bias. */
            if (b) {
#pragma omp parallel for schedule(static)
                for (int o = 0; o < d->co; o++)
                    for (int q = 0; q < p; q++) yc[(size_t)o * p + q] = b[o];
            }
            group_gemms(d, 0, nb, w, col, yc, b ? 1.0f : 0.0f);
            continue;
        }
        group_gemms(d, 0, nb, w, col, stage, 0.0f);
#pragma omp parallel for collapse(2) schedule(static)
        for (int i = 0; i < nb; i++)
            for (int o = 0; o < d->co; o++) {
                const float *src = stage + ((size_t)o * nb + i) * p;
                float *dst = yc + ((size_t)i * d->co + o) * p;
                const float bias = b ? b[o] : 0.0f;
                for (int q = 0; q < p; q++) dst[q] = src[q] + bias;
            }
    }
}

void lg_cpu_im2col_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w,
                                 float *dx, float *ws) {
    const int k = d->ci * d->kh * d->kw, p = d->ho * d->wo, chunk = lg_cpu_im2col_chunk(d);
    float *col = ws, *stage = ws + (size_t)k * chunk * p;
    for (int n0 = 0; n0 < d->n; n0 += chunk) {
        const int nb = d->n - n0 < chunk ? d->n - n0 : chunk;
        const float *g = dy + (size_t)n0 * d->co * p;
        if (nb > 1) {
            gather(d, g, nb, stage);
            g = stage;
        }
        group_gemms(d, 1, nb, w, g, col, 0.0f);
        col2im(d, col, nb, dx + (size_t)n0 * d->ci * d->hi * d->wi);
    }
}

void lg_cpu_im2col_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                   float *dw, float *db, float *ws) {
    const int k = d->ci * d->kh * d->kw, p = d->ho * d->wo, chunk = lg_cpu_im2col_chunk(d);
    float *col = ws, *stage = ws + (size_t)k * chunk * p;
    for (int n0 = 0; n0 < d->n; n0 += chunk) {
        const int nb = d->n - n0 < chunk ? d->n - n0 : chunk;
        const float *g = dy + (size_t)n0 * d->co * p;
        if (nb > 1) {
            gather(d, g, nb, stage);
            g = stage;
        }
        im2col(d, x + (size_t)n0 * d->ci * d->hi * d->wi, nb, col);
        group_gemms(d, 2, nb, g, col, dw, 1.0f);
    }
    if (!db) return;
    /* One channel per iteration, images in order: fixed summation order. */
#pragma omp parallel for schedule(static)
    for (int o = 0; o < d->co; o++) {
        double acc = 0;
        for (int n = 0; n < d->n; n++) {
            const float *r = dy + ((size_t)n * d->co + o) * p;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int q = 0; q < p; q++) s += r[q];
            acc += s;
        }
        db[o] += (float)acc;
    }
}
