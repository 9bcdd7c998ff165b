/* Winograd F(2x2,5x5) and F(4x4,5x5) (src/backend/cpu/winograd.c) against
 * the ref backend's direct convolution (double accumulation), forward and
 * backward-data, on shapes that exercise partial tiles, partial tile blocks,
 * zero padding of every width, tiny and wide channel counts; the workspace
 * bound; thread-count independence; and a whole conv layer's gradients with
 * the cpu table forced onto Winograd.
 *
 * Error measure: max |wino - ref| / max |ref| over the tensor. Tolerances,
 * from the fp32 error analysis of the transforms (Barabasz et al. 2020):
 * each output is a sum of alpha^2 * ci products of transformed values whose
 * magnitudes are bounded by ||B||^2 |d| and ||G||^2 |g|, so the rounding
 * error is a small multiple of eps32 * (growth factor) * sqrt(terms) relative
 * to max |ref|. Simulated in numpy (uniform data, ci = 128) the worst errors
 * are ~1e-5 for both tile sizes against ~1e-6 for direct fp32 convolution.
 * Measured here (printed as "# worst", normal and sanitizer builds): up to
 * 8e-6 for m = 2 and 1.1e-5 for m = 4. The bounds asserted, 3e-5 and 5e-5,
 * sit 4x above that and 100x below the error of a single misplaced term
 * (a wrong transform entry, a dropped tile or edge pixel is O(1e-2) or
 * more of max |ref| on these shapes). */
#include <omp.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/winograd.h"
#include "test.h"

#ifdef __SANITIZE_ADDRESS__
#define SMALL 1
#else
#define SMALL 0
#endif

static const double tol[5] = {0, 0, 3e-5, 0, 5e-5};
static double worst[5][3]; /* [m][fwd, bwd_data, bwd_weights] */

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    lg_rng r;
    lg_rng_init(&r, seed, 77);
    lg_rng_uniform(&r, x, n, lo, hi);
}

static double rel_inf(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return d / (s > 1e-30 ? s : 1e-30);
}

typedef struct {
    int n, ci, co, h, w, pad;
} shape;

static lg_conv_desc desc_of(shape s) {
    return (lg_conv_desc){.n = s.n, .ci = s.ci, .hi = s.h, .wi = s.w, .co = s.co, .kh = 5,
                          .kw = 5, .stride = 1, .pad = s.pad, .ho = s.h + 2 * s.pad - 4,
                          .wo = s.w + 2 * s.pad - 4};
}

/* Backward-weights (F(4x4) only), added onto what dw and db held: the
 * increments against ref's. The sum runs over tiles instead of channels,
 * through the same transforms, so the forward's tolerance applies. */
static void check_wgrad(const lg_conv_desc *d, const float *x, const float *dy, float *ws,
                        int pad) {
#ifdef __AVX512F__
    const size_t nw = (size_t)d->co * d->ci * 25;
    float *dw = lg_alloc_floats(nw), *dwr = lg_alloc_floats(nw), *db = lg_alloc_floats(d->co);
    float *dbr = lg_alloc_floats(d->co), *w0 = lg_alloc_floats(nw);
    if (!dw || !dwr || !db || !dbr || !w0) {
        CHECK(!"allocation failed");
    } else {
        fill(w0, nw, 7, -1, 1);
        memcpy(dw, w0, sizeof(float) * nw);
        memcpy(dwr, w0, sizeof(float) * nw);
        fill(db, d->co, 8, -1, 1);
        memcpy(dbr, db, sizeof(float) * d->co);
        lg_wino_conv_bwd_filter_p(d, 0, x, dy, dw, db, ws);
        lg_backend_get(LG_BACKEND_REF)->conv_bwd_filter(d, x, dy, dwr, dbr, NULL);
        for (size_t i = 0; i < nw; i++) dw[i] -= w0[i], dwr[i] -= w0[i];
        const double ew = rel_inf(dw, dwr, nw), eb = rel_inf(db, dbr, d->co);
        CHECK_MSG(ew < tol[4], "F(4) bwd_weights %dx%dx%dx%d>%d pad %d: error %.3g", d->n, d->ci,
                  d->hi, d->wi, d->co, pad, ew);
        CHECK_MSG(eb < 1e-5, "F(4) bwd bias error %.3g", eb);
        if (!(ew <= worst[4][2])) worst[4][2] = ew;
    }
    lg_free(dw), lg_free(dwr), lg_free(db), lg_free(dbr), lg_free(w0);
#else
    (void)d, (void)x, (void)dy, (void)ws, (void)pad;
#endif
}

/* Both directions of one shape with tile m, bias or not; the workspace is
 * exactly what lg_wino_conv_workspace asks for plus a guard band that must
 * stay untouched. */
static void check_shape(shape s, int m, int bias) {
    const lg_conv_desc d = desc_of(s);
    CHECK(lg_wino_supported(&d));
    const size_t nx = (size_t)d.n * d.ci * d.hi * d.wi, ny = (size_t)d.n * d.co * d.ho * d.wo;
    const size_t nw = (size_t)d.co * d.ci * 25, nws = lg_wino_conv_workspace(&d), guard = 64;
    float *x = lg_alloc_floats(nx), *w = lg_alloc_floats(nw), *b = lg_alloc_floats(d.co);
    float *y = lg_alloc_floats(ny), *yr = lg_alloc_floats(ny), *dy = lg_alloc_floats(ny);
    float *dx = lg_alloc_floats(nx), *dxr = lg_alloc_floats(nx);
    float *ws = lg_alloc_floats(nws + guard);
    if (!x || !w || !b || !y || !yr || !dy || !dx || !dxr || !ws) {
        CHECK(!"allocation failed");
        goto done;
    }
    fill(x, nx, 1 + s.ci, -1, 1);
    fill(w, nw, 2 + s.co, -0.2f, 0.2f);
    fill(b, d.co, 3, -1, 1);
    fill(dy, ny, 4, -1, 1);
    for (size_t i = 0; i < guard; i++) ws[nws + i] = 1234.5f;
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);

    ref->conv_fwd(&d, x, w, bias ? b : NULL, yr, NULL);
    fill(y, ny, 5, 1e30f, 1e30f); /* every output must be written */
    lg_wino_conv_fwd(&d, m, x, w, bias ? b : NULL, y, ws);
    double ef = rel_inf(y, yr, ny);
    CHECK_MSG(ef < tol[m], "F(%d) fwd %dx%dx%dx%d>%d pad %d: error %.3g", m, s.n, s.ci, s.h, s.w,
              s.co, s.pad, ef);
    if (!(ef <= worst[m][0])) worst[m][0] = ef;

    ref->conv_bwd_data(&d, dy, w, dxr, NULL);
    fill(dx, nx, 6, 1e30f, 1e30f);
    lg_wino_conv_bwd_data(&d, m, dy, w, dx, ws);
    double eb = rel_inf(dx, dxr, nx);
    CHECK_MSG(eb < tol[m], "F(%d) bwd_data %dx%dx%dx%d>%d pad %d: error %.3g", m, s.n, s.ci, s.h,
              s.w, s.co, s.pad, eb);
    if (!(eb <= worst[m][1])) worst[m][1] = eb;
    if (m == 4 && lg_wino_wgrad_available()) check_wgrad(&d, x, dy, ws, s.pad);

    int intact = 1;
    for (size_t i = 0; i < guard; i++) intact &= ws[nws + i] == 1234.5f;
    CHECK_MSG(intact, "workspace overrun");
done:
    lg_free(x), lg_free(w), lg_free(b), lg_free(y), lg_free(yr), lg_free(dy);
    lg_free(dx), lg_free(dxr), lg_free(ws);
}

static const shape shapes[] = {
    {1, 1, 1, 5, 5, 2},    {1, 1, 1, 1, 1, 2},   {2, 3, 5, 7, 9, 2},   {1, 5, 3, 6, 6, 2},
    {3, 4, 7, 13, 11, 2},  {1, 2, 2, 8, 8, 0},   {2, 3, 4, 9, 6, 1},   {1, 2, 3, 5, 7, 3},
    {1, 3, 2, 4, 6, 4},    {2, 16, 9, 14, 14, 2}, {5, 7, 6, 10, 10, 2}, {1, 33, 17, 3, 17, 2},
};
static const shape wide[] = {
    {2, 128, 128, 14, 14, 2}, {1, 128, 3, 28, 28, 2}, {3, 4, 128, 16, 16, 2},
    {2, 128, 128, 28, 28, 2}, {1, 64, 40, 32, 30, 2},
};

static void test_small_shapes(void) {
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int m = 2; m <= 4; m += 2) check_shape(shapes[i], m, (int)i % 2);
}

static void test_wide_shapes(void) {
    size_t n = SMALL ? 1 : sizeof wide / sizeof *wide;
    for (size_t i = 0; i < n; i++)
        for (int m = 2; m <= 4; m += 2) check_shape(wide[i], m, 1);
}

static void test_supported(void) {
    lg_conv_desc d = desc_of((shape){1, 2, 3, 8, 8, 2});
    CHECK(lg_wino_supported(&d) && lg_wino_conv_workspace(&d) > 0);
    d.stride = 2, d.ho = d.wo = 4;
    CHECK(!lg_wino_supported(&d) && lg_wino_conv_workspace(&d) == 0);
    d = desc_of((shape){1, 2, 3, 8, 8, 5});
    CHECK(!lg_wino_supported(&d));
    d = desc_of((shape){1, 2, 3, 8, 8, 2});
    d.kh = d.kw = 3;
    CHECK(!lg_wino_supported(&d));
    CHECK(!lg_wino_supported(NULL));
}

/* Each tile block is computed whole by one thread, so 1 and 2 threads give
 * the same bits. */
static void test_thread_count_invariant(void) {
    const lg_conv_desc d = desc_of((shape){3, 24, 20, 15, 13, 2});
    const size_t nx = (size_t)d.n * d.ci * d.hi * d.wi, ny = (size_t)d.n * d.co * d.ho * d.wo;
    float *x = lg_alloc_floats(nx), *w = lg_alloc_floats((size_t)d.co * d.ci * 25);
    float *y1 = lg_alloc_floats(ny), *y2 = lg_alloc_floats(ny);
    float *ws = lg_alloc_floats(lg_wino_conv_workspace(&d));
    if (x && w && y1 && y2 && ws) {
        fill(x, nx, 8, -1, 1);
        fill(w, (size_t)d.co * d.ci * 25, 9, -1, 1);
        const int keep = omp_get_max_threads();
        omp_set_num_threads(1);
        lg_wino_conv_fwd(&d, 4, x, w, NULL, y1, ws);
        omp_set_num_threads(2);
        lg_wino_conv_fwd(&d, 4, x, w, NULL, y2, ws);
        omp_set_num_threads(keep);
        CHECK(memcmp(y1, y2, sizeof(float) * ny) == 0);
    }
    lg_free(x), lg_free(w), lg_free(y1), lg_free(y2), lg_free(ws);
}

/* LG_CONV_ALGO names and the table's choice. */
static void test_algo_selection(void) {
    CHECK(lg_cpu_conv_algo_parse("winograd4") == LG_CONV_ALGO_WINOGRAD4);
    CHECK(lg_cpu_conv_algo_parse("im2col") == LG_CONV_ALGO_IM2COL);
    CHECK(lg_cpu_conv_algo_parse("fft") == -1 && lg_cpu_conv_algo_parse(NULL) == -1);
    lg_conv_desc wide5 = desc_of((shape){8, 128, 128, 14, 14, 2});
    lg_conv_desc thin = desc_of((shape){8, 4, 128, 14, 14, 2});
    lg_conv_desc s2 = wide5;
    s2.stride = 2, s2.ho = s2.wo = 7;
    lg_conv_desc to3 = desc_of((shape){8, 128, 3, 14, 14, 2});
    lg_cpu_conv_set_algo(LG_CONV_ALGO_DNNL);
    CHECK(lg_cpu_conv_wino_tile(&wide5, 0) == 0 && lg_cpu_conv_wino_tile(&wide5, 1) == 0);
    lg_cpu_conv_set_algo(LG_CONV_ALGO_WINOGRAD2);
    CHECK(lg_cpu_conv_wino_tile(&thin, 0) == 2 && lg_cpu_conv_wino_tile(&s2, 1) == 0);
    lg_cpu_conv_set_algo(LG_CONV_ALGO_WINOGRAD);
    CHECK(lg_cpu_conv_wino_tile(&thin, 0) != 0);
    setenv("LG_CONV_ALGO", "im2col", 1);
    lg_cpu_conv_set_algo(LG_CONV_ALGO_AUTO);
    CHECK(lg_cpu_conv_wino_tile(&wide5, 0) == 0);
    unsetenv("LG_CONV_ALGO");
    lg_cpu_conv_set_algo(LG_CONV_ALGO_AUTO);
    CHECK(lg_cpu_conv_wino_tile(&wide5, 0) == 4 && lg_cpu_conv_wino_tile(&wide5, 1) == 4);
    CHECK(lg_cpu_conv_wino_tile(&thin, 0) == 0 && lg_cpu_conv_wino_tile(&thin, 1) == 0);
    CHECK(lg_cpu_conv_wino_tile(&to3, 0) == 0 && lg_cpu_conv_wino_tile(&to3, 1) == 4);
    CHECK(lg_cpu_conv_wino_tile(&s2, 0) == 0);
    /* backward-weights: wide inputs (any output count), AVX-512 builds only */
    const int wg = lg_wino_wgrad_available();
    CHECK(lg_cpu_conv_wino_wgrad(&wide5) == wg && lg_cpu_conv_wino_wgrad(&to3) == wg);
    CHECK(!lg_cpu_conv_wino_wgrad(&thin) && !lg_cpu_conv_wino_wgrad(&s2));
    lg_cpu_conv_set_algo(LG_CONV_ALGO_DNNL);
    CHECK(!lg_cpu_conv_wino_wgrad(&wide5));
    lg_cpu_conv_set_algo(LG_CONV_ALGO_WINOGRAD4);
    CHECK(lg_cpu_conv_wino_wgrad(&thin) == wg);
    lg_cpu_conv_set_algo(LG_CONV_ALGO_AUTO);
}

/* A conv layer through the cpu table forced onto Winograd: input and weight
 * gradients by central differences (the layer is linear, so the difference
 * quotient is exact up to float rounding of the loss), and the table's
 * answer against the ref backend's. */
static double probe(lg_net *net, const float *x, const float *r, size_t ny) {
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 2, 1, &y));
    double l = 0;
    for (size_t i = 0; i < ny; i++) l += (double)y[i] * r[i];
    return l;
}

/* Central differences of probe() for every stride-th entry of v (the input
 * or the parameters), against the analytic gradient grad. */
static void fd_sweep(lg_net *net, const float *x, const float *r, size_t ny, float *v,
                     const float *grad, size_t n, size_t stride, float eps, double *err,
                     double *scale) {
    for (size_t i = 0; i < n; i += stride) {
        float keep = v[i];
        v[i] = keep + eps;
        double lp = probe(net, x, r, ny);
        v[i] = keep - eps;
        double lm = probe(net, x, r, ny);
        v[i] = keep;
        *err = fmax(*err, fabs((lp - lm) / (2 * eps) - grad[i]));
        *scale = fmax(*scale, fabs(grad[i]));
    }
}

static void test_layer_gradients(void) {
    for (int m = 2; m <= 4; m += 2) {
        lg_cpu_conv_set_algo(m == 2 ? LG_CONV_ALGO_WINOGRAD2 : LG_CONV_ALGO_WINOGRAD4);
        lg_layer_spec s[] = {{.kind = LG_LAYER_CONV2D, .out = 5, .k = 5, .pad = 2}};
        lg_net_cfg cfg = {.c = 3, .h = 9, .w = 7, .max_batch = 2, .seed = 3,
                          .backend = LG_BACKEND_CPU};
        lg_net *net = NULL, *ref = NULL;
        CHECK_OK(lg_net_new(&net, s, 1, &cfg));
        cfg.backend = LG_BACKEND_REF;
        CHECK_OK(lg_net_new(&ref, s, 1, &cfg));
        const size_t nx = 2 * 3 * 9 * 7, ny = 2 * 5 * 9 * 7;
        float *x = lg_alloc_floats(nx), *r = lg_alloc_floats(ny), *dx = lg_alloc_floats(nx);
        float *dxr = lg_alloc_floats(nx);
        if (net && ref && x && r && dx && dxr) {
            fill(x, nx, 10, -1, 1);
            fill(r, ny, 11, -1, 1);
            size_t np;
            float *p = lg_net_params(net, &np);
            memcpy(lg_net_params(ref, NULL), p, sizeof(float) * np);
            probe(net, x, r, ny);
            lg_net_zero_grad(net);
            CHECK_OK(lg_net_backward(net, r, dx, 1));
            const float *g = lg_net_grads(net, NULL);
            probe(ref, x, r, ny);
            lg_net_zero_grad(ref);
            CHECK_OK(lg_net_backward(ref, r, dxr, 1));
            CHECK_MSG(rel_inf(dx, dxr, nx) < tol[m], "F(%d) layer dx vs ref %.3g", m,
                      rel_inf(dx, dxr, nx));
            const float eps = 1e-2f;
            double err = 0, scale = 0;
            fd_sweep(net, x, r, ny, x, dx, nx, 7, eps, &err, &scale);
            fd_sweep(net, x, r, ny, p, g, np, 11, eps, &err, &scale);
            /* Linear in x and w: only the loss's float rounding (~1e-7 of
             * sum |y r| over 630 terms, divided by 2 eps) is left. */
            CHECK_MSG(scale > 0.1 && err / scale < 1e-3, "F(%d) gradient error %.3g", m,
                      err / scale);
        }
        lg_free(x), lg_free(r), lg_free(dx), lg_free(dxr);
        lg_net_free(net);
        lg_net_free(ref);
    }
    lg_cpu_conv_set_algo(LG_CONV_ALGO_AUTO);
}

static void test_report(void) {
    printf("# worst rel error F(2x2,5x5): fwd %.3g bwd_data %.3g; F(4x4,5x5): fwd %.3g "
           "bwd_data %.3g bwd_weights %.3g\n",
           worst[2][0], worst[2][1], worst[4][0], worst[4][1], worst[4][2]);
    CHECK(worst[2][0] > 0 && worst[4][0] > 0);
    CHECK(!lg_wino_wgrad_available() || worst[4][2] > 0);
}

int main(void) {
    RUN(test_supported);
    RUN(test_small_shapes);
    RUN(test_wide_shapes);
    RUN(test_thread_count_invariant);
    RUN(test_algo_selection);
    RUN(test_layer_gradients);
    RUN(test_report);
    return TEST_END();
}
