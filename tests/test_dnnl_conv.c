/* oneDNN convolution against a direct convolution written here in double:
 * forward (with and without bias), backward data (overwrites dx), backward
 * weights (adds into dw and db), every layout, thread counts, cache
 * eviction, and bad descriptors returning errors. */
#include <omp.h>

#include "backend/cpu/dnnl_conv.h"
#include "core/check.h"
#include "test.h"

static const double TOL = 1e-4;

static lg_conv_desc desc(int n, int ci, int h, int w, int co, int k, int stride, int pad) {
    lg_conv_desc d = {.n = n, .ci = ci, .hi = h, .wi = w, .co = co, .kh = k, .kw = k,
                      .stride = stride, .pad = pad};
    d.ho = (h + 2 * pad - k) / stride + 1;
    d.wo = (w + 2 * pad - k) / stride + 1;
    return d;
}

static size_t xsize(const lg_conv_desc *d) { return (size_t)d->n * d->ci * d->hi * d->wi; }
static size_t wsize(const lg_conv_desc *d) { return (size_t)d->co * d->ci * d->kh * d->kw; }
static size_t ysize(const lg_conv_desc *d) { return (size_t)d->n * d->co * d->ho * d->wo; }

/* Calls f(x index, w index, y index) for every multiply of the convolution. */
#define FOR_TAPS(d, body)                                                                     \
    for (int n = 0; n < (d)->n; n++)                                                          \
        for (int o = 0; o < (d)->co; o++)                                                     \
            for (int oy = 0; oy < (d)->ho; oy++)                                              \
                for (int ox = 0; ox < (d)->wo; ox++)                                          \
                    for (int c = 0; c < (d)->ci; c++)                                         \
                        for (int ky = 0; ky < (d)->kh; ky++)                                  \
                            for (int kx = 0; kx < (d)->kw; kx++) {                            \
                                int iy = oy * (d)->stride - (d)->pad + ky;                    \
                                int ix = ox * (d)->stride - (d)->pad + kx;                    \
                                if (iy < 0 || iy >= (d)->hi || ix < 0 || ix >= (d)->wi) continue; \
                                size_t xi = (((size_t)n * (d)->ci + c) * (d)->hi + iy) * (d)->wi + ix; \
                                size_t wi_ = (((size_t)o * (d)->ci + c) * (d)->kh + ky) * (d)->kw + kx; \
                                size_t yi = (((size_t)n * (d)->co + o) * (d)->ho + oy) * (d)->wo + ox; \
                                body;                                                         \
                            }

static void naive_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                      float *y) {
    double *acc = calloc(ysize(d), sizeof *acc);
    FOR_TAPS(d, acc[yi] += (double)x[xi] * w[wi_]);
    size_t hw = (size_t)d->ho * d->wo;
    for (size_t i = 0; i < ysize(d); i++) y[i] = (float)(acc[i] + (b ? b[i / hw % d->co] : 0));
    free(acc);
}

static void naive_bwd_data(const lg_conv_desc *d, const float *dy, const float *w, float *dx) {
    double *acc = calloc(xsize(d), sizeof *acc);
    FOR_TAPS(d, acc[xi] += (double)dy[yi] * w[wi_]);
    for (size_t i = 0; i < xsize(d); i++) dx[i] = (float)acc[i];
    free(acc);
}

/* The gradients alone (no accumulation): dw = x (*) dy, db = sum dy. */
static void naive_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy, float *dw,
                             float *db) {
    double *acc = calloc(wsize(d), sizeof *acc);
    FOR_TAPS(d, acc[wi_] += (double)x[xi] * dy[yi]);
    for (size_t i = 0; i < wsize(d); i++) dw[i] = (float)acc[i];
    free(acc);
    size_t hw = (size_t)d->ho * d->wo;
    for (int o = 0; o < d->co; o++) {
        double s = 0;
        for (int n = 0; n < d->n; n++)
            for (size_t i = 0; i < hw; i++) s += dy[((size_t)n * d->co + o) * hw + i];
        db[o] = (float)s;
    }
}

/* Relative error with a floor of 1% of the reference's largest magnitude, so
 * that values that cancel to ~0 do not demand impossible digits. */
static double rel_err(const float *got, const float *want, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
    return t_max_rel_err(got, want, n, 1e-2 * m + 1e-30);
}

static float *rand_buf(lg_rng *r, size_t n) {
    float *p = lg_alloc_floats(n);
    lg_rng_uniform(r, p, n, -1.f, 1.f);
    return p;
}

/* Runs all three directions on d and compares with the naive versions. */
static void check_shape(const lg_conv_desc *d, uint64_t seed) {
    lg_rng r;
    lg_rng_init(&r, seed, 0);
    float *x = rand_buf(&r, xsize(d)), *w = rand_buf(&r, wsize(d)), *b = rand_buf(&r, d->co);
    float *dy = rand_buf(&r, ysize(d));
    float *y = lg_alloc_floats(ysize(d)), *yref = lg_alloc_floats(ysize(d));
    float *dx = rand_buf(&r, xsize(d)), *dxref = lg_alloc_floats(xsize(d));
    float *dw0 = rand_buf(&r, wsize(d)), *db0 = rand_buf(&r, d->co);
    float *dw = lg_alloc_floats(wsize(d)), *db = lg_alloc_floats(d->co);
    float *gw = lg_alloc_floats(wsize(d)), *gb = lg_alloc_floats(d->co);
    char tag[96];
    snprintf(tag, sizeof tag, "n%d %d->%d %dx%d k%d s%d p%d", d->n, d->ci, d->co, d->hi, d->wi,
             d->kh, d->stride, d->pad);

    CHECK_OK(lg_dnnl_conv_fwd(d, x, w, b, y));
    naive_fwd(d, x, w, b, yref);
    double e = rel_err(y, yref, ysize(d));
    CHECK_MSG(e < TOL, "%s: fwd rel err %g", tag, e);

    CHECK_OK(lg_dnnl_conv_fwd(d, x, w, NULL, y));
    naive_fwd(d, x, w, NULL, yref);
    e = rel_err(y, yref, ysize(d));
    CHECK_MSG(e < TOL, "%s: fwd (no bias) rel err %g", tag, e);

    CHECK_OK(lg_dnnl_conv_bwd_data(d, dy, w, dx)); /* dx held random values: overwritten */
    naive_bwd_data(d, dy, w, dxref);
    e = rel_err(dx, dxref, xsize(d));
    CHECK_MSG(e < TOL, "%s: bwd-data rel err %g", tag, e);

    /* Accumulation: two calls on top of dw0/db0 give dw0 + 2 g. */
    memcpy(dw, dw0, wsize(d) * sizeof *dw);
    memcpy(db, db0, d->co * sizeof *db);
    CHECK_OK(lg_dnnl_conv_bwd_filter(d, x, dy, dw, db));
    CHECK_OK(lg_dnnl_conv_bwd_filter(d, x, dy, dw, db));
    naive_bwd_filter(d, x, dy, gw, gb);
    for (size_t i = 0; i < wsize(d); i++) gw[i] = dw0[i] + 2 * gw[i];
    for (int i = 0; i < d->co; i++) gb[i] = db0[i] + 2 * gb[i];
    e = rel_err(dw, gw, wsize(d));
    CHECK_MSG(e < TOL, "%s: bwd-weights (accumulated) rel err %g", tag, e);
    e = rel_err(db, gb, d->co);
    CHECK_MSG(e < TOL, "%s: bias grad (accumulated) rel err %g", tag, e);

    /* db may be NULL: dw still accumulates. */
    memcpy(dw, dw0, wsize(d) * sizeof *dw);
    CHECK_OK(lg_dnnl_conv_bwd_filter(d, x, dy, dw, NULL));
    naive_bwd_filter(d, x, dy, gw, gb);
    for (size_t i = 0; i < wsize(d); i++) gw[i] += dw0[i];
    e = rel_err(dw, gw, wsize(d));
    CHECK_MSG(e < TOL, "%s: bwd-weights (db NULL) rel err %g", tag, e);

    float *bufs[] = {x, w, b, dy, y, yref, dx, dxref, dw0, db0, dw, db, gw, gb};
    for (int i = 0; i < LG_ARRAY_LEN(bufs); i++) lg_free(bufs[i]);
}

static const lg_conv_desc *shapes(int *count) {
    static lg_conv_desc s[7];
    s[0] = desc(2, 4, 8, 8, 8, 5, 1, 2);     /* 5x5 pad 2 */
    s[1] = desc(3, 3, 9, 9, 16, 3, 2, 0);    /* 3x3 stride 2 pad 0 */
    s[2] = desc(2, 4, 10, 9, 8, 7, 1, 3);    /* 7x7 pad 3, non-square */
    s[3] = desc(3, 3, 8, 8, 16, 5, 1, 2);    /* D's first layer */
    s[4] = desc(2, 16, 8, 8, 3, 5, 1, 2);    /* G's last layer: few outputs */
    s[5] = desc(2, 32, 6, 6, 48, 3, 1, 1);   /* wide enough for blocked layouts */
    s[6] = desc(2, 4, 8, 8, 8, 3, 2, 1);     /* stride does not divide: right pad < left */
    *count = LG_ARRAY_LEN(s);
    return s;
}

static void test_blocked_matches_naive(void) {
    int n;
    const lg_conv_desc *s = shapes(&n);
    for (int i = 0; i < n; i++) check_shape(&s[i], 100 + i);
}

static void test_other_layouts_match_naive(void) {
    int n;
    const lg_conv_desc *s = shapes(&n);
    lg_dnnl_conv_set_layout(LG_DNNL_LAYOUT_NCHW);
    for (int i = 0; i < n; i++) check_shape(&s[i], 200 + i);
    lg_dnnl_conv_set_layout(LG_DNNL_LAYOUT_NHWC);
    for (int i = 0; i < n; i++) check_shape(&s[i], 250 + i);
    lg_dnnl_conv_set_layout(LG_DNNL_LAYOUT_ANY);
}

/* Primitives are cached per thread count; each count must be right. */
static void test_thread_counts(void) {
    int saved = omp_get_max_threads();
    lg_conv_desc d = desc(2, 32, 6, 6, 48, 3, 1, 1);
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        check_shape(&d, 300 + t);
    }
    omp_set_num_threads(saved);
}

/* More shapes than cache slots (64): the first ones are evicted, then
 * rebuilt correctly when they come back. */
static void fwd_vs_naive(int h) {
    lg_conv_desc d = desc(1, 2, h, 3, 2, 3, 1, 1);
    lg_rng r;
    lg_rng_init(&r, 400 + h, 0);
    float *x = rand_buf(&r, xsize(&d)), *w = rand_buf(&r, wsize(&d));
    float *y = lg_alloc_floats(ysize(&d)), *yref = lg_alloc_floats(ysize(&d));
    CHECK_OK(lg_dnnl_conv_fwd(&d, x, w, NULL, y));
    naive_fwd(&d, x, w, NULL, yref);
    double e = rel_err(y, yref, ysize(&d));
    CHECK_MSG(e < TOL, "h %d: rel err %g", h, e);
    lg_free(x), lg_free(w), lg_free(y), lg_free(yref);
}

static void test_cache_eviction(void) {
    for (int h = 3; h < 3 + 70; h++) fwd_vs_naive(h);
    for (int h = 3; h < 8; h++) fwd_vs_naive(h);
}

static void test_prepare_then_release(void) {
    lg_conv_desc d = desc(2, 4, 8, 8, 8, 5, 1, 2);
    CHECK_OK(lg_dnnl_conv_prepare(&d));
    check_shape(&d, 500);
    lg_dnnl_conv_release();
    check_shape(&d, 501); /* everything is rebuilt lazily after a release */
}

static void test_bad_descriptors(void) {
    float buf[4096] = {0};
    lg_conv_desc good = desc(1, 2, 8, 8, 2, 3, 1, 1);
    CHECK_OK(lg_dnnl_conv_fwd(&good, buf, buf, NULL, buf + 2048));

    lg_conv_desc d = good;
    d.ho = 9; /* not the floor formula */
    CHECK_ERR(lg_dnnl_conv_fwd(&d, buf, buf, NULL, buf + 2048), LG_ERR_SHAPE);
    d = good;
    d.stride = 0;
    CHECK_ERR(lg_dnnl_conv_bwd_data(&d, buf, buf, buf + 2048), LG_ERR_SHAPE);
    d = good;
    d.ci = 0;
    CHECK_ERR(lg_dnnl_conv_bwd_filter(&d, buf, buf, buf + 2048, NULL), LG_ERR_SHAPE);
    d = desc(1, 2, 2, 2, 2, 5, 1, 0); /* kernel larger than the input */
    CHECK_ERR(lg_dnnl_conv_fwd(&d, buf, buf, NULL, buf + 2048), LG_ERR_SHAPE);
    d = good;
    d.pad = -1;
    CHECK_ERR(lg_dnnl_conv_prepare(&d), LG_ERR_SHAPE);
    d = desc(1 << 20, 1 << 10, 1 << 10, 1 << 10, 2, 1, 1, 0);
    CHECK_ERR(lg_dnnl_conv_fwd(&d, buf, buf, NULL, buf), LG_ERR_SHAPE);
    CHECK_ERR(lg_dnnl_conv_fwd(NULL, buf, buf, NULL, buf), LG_ERR_ARG);
    CHECK_ERR(lg_dnnl_conv_fwd(&good, NULL, buf, NULL, buf), LG_ERR_ARG);
    CHECK_ERR(lg_dnnl_conv_bwd_data(&good, buf, NULL, buf), LG_ERR_ARG);
    CHECK_ERR(lg_dnnl_conv_bwd_filter(&good, buf, buf, NULL, buf), LG_ERR_ARG);
}

int main(void) {
    RUN(test_blocked_matches_naive);
    RUN(test_other_layouts_match_naive);
    RUN(test_thread_counts);
    RUN(test_cache_eviction);
    RUN(test_prepare_then_release);
    RUN(test_bad_descriptors);
    lg_dnnl_conv_release();
    return TEST_END();
}
