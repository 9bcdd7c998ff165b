/* The bf16 convolutions of the cpu-bf16 table against bounds derived from
 * bf16 rounding (u = 2^-8, backend/bf16.h), never a guessed tolerance:
 *
 * - oneDNN's bf16 primitives round their operands to bf16 and accumulate in
 *   float32, so each direction must equal the ref backend's direct loops
 *   (double sums) run on the same bf16-rounded operands, up to float32
 *   accumulation: |got - ref(bf16(a), bf16(b))| <= gamma_K (|bf16(a)| * |bf16(b)|)
 *   with K the length of each sum and gamma_K = K 2^-24 / (1 - K 2^-24).
 * - Winograd's bf16 kernel rounds the transformed operands instead, so its
 *   bound is (2u + u^2) |A^T| (sum_c |U_c| .* |V_c|) |A| per output, with
 *   |U| <= |G||g||G^T| and |V| <= |B^T||d||B| computed here tile by tile
 *   from the transform matrices, plus the float32 Winograd tolerance that
 *   tests/test_winograd.c asserts for the same transforms.
 *
 * Those worst-case bounds are loose by the transforms' growth, so Winograd
 * is also run against the same algorithm emulated in double with bf16
 * rounding at the same points (U, V; V and dX for backward-weights): the
 * kernels must sit far closer to it than to the exact result, which a
 * dropped tile or a wrong index breaks (checked by hand: dropping one tile
 * of the backward-weights blocks puts it at 0.93-0.97 of the distance).
 *
 * Each case also checks that bf16 really ran (the error is well above what
 * float32 gives), the rounding helper, the net-level table and the refusal
 * on a CPU without bf16 (LG_NO_BF16=1 plays that CPU). On a CPU without
 * bf16 instructions the cases that compute are SKIPs that cannot be
 * FAILs: the hardware is absent, not the set-up. */
#include <omp.h>

#include "backend/bf16.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"
#include "backend/cpu/winograd.h"
#include "test.h"

static const double U = LG_BF16_UNIT_ROUNDOFF;
static const double WINO_F32_TOL = 5e-5; /* tests/test_winograd.c, F(4x4,5x5) */
static double worst_fro;      /* Winograd backward-weights: relative error in norm */
static double worst_emul;     /* Winograd bf16: distance to the emulation / to exact */
static double worst_ratio[3]; /* [dnnl, winograd fwd/bwd-data, winograd bwd-weights]: error / bound */

#define NEED_BF16()                                                          \
    do {                                                                     \
        if (!lg_cpu_has_bf16()) {                                            \
            SKIP_ABSENT("this CPU has no AVX512-BF16 or AMX-BF16 (lscpu flags)"); \
            return;                                                          \
        }                                                                    \
    } while (0)

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    lg_rng r;
    lg_rng_init(&r, seed, 31);
    lg_rng_uniform(&r, x, n, lo, hi);
}

static void round_all(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = lg_bf16_round(x[i]);
}

static void abs_all(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
}

static double gamma_of(double k) { return k * 0x1p-24 / (1 - k * 0x1p-24); }

/* max |got - want| / bound over the tensor; > 1 fails. Also the largest
 * |got - want| relative to max |want|, to show bf16 ran. */
static double ratio(const float *got, const float *want, const double *bound, size_t n,
                    double *rel) {
    double r = 0, e = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double q = d / (bound[i] + 1e-30);
        if (!(q <= r)) r = q;
        if (d > e) e = d;
        if (fabs(want[i]) > s) s = fabs(want[i]);
    }
    *rel = e / (s > 0 ? s : 1);
    return r;
}

static void test_rounding(void) {
    CHECK(lg_bf16_round(1.0f) == 1.0f);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to even (1). */
    CHECK(lg_bf16_round(1.0f + 0x1p-8f) == 1.0f);
    CHECK(lg_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    CHECK(lg_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f); /* tie, odd below: up */
    CHECK(isnan(lg_bf16_round(NAN)));
    CHECK(isinf(lg_bf16_round(INFINITY)));
    float worst = 0;
    lg_rng r;
    lg_rng_init(&r, 5, 0);
    float v[4096];
    lg_rng_uniform(&r, v, 4096, -100, 100);
    for (int i = 0; i < 4096; i++) {
        float e = fabsf(lg_bf16_round(v[i]) - v[i]) / fabsf(v[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst <= U && worst > U / 2, "worst relative rounding error %g (u = %g)", worst, U);
}

/* ---- oneDNN bf16 against ref on rounded operands ------------------------- */

static void check_dnnl(lg_conv_desc d) {
    const size_t nx = (size_t)d.n * d.ci * d.hi * d.wi, ny = (size_t)d.n * d.co * d.ho * d.wo;
    const int ng = lg_conv_groups(&d);
    const size_t nw = (size_t)d.co * (d.ci / ng) * d.kh * d.kw;
    const size_t big = nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw);
    float *x = lg_alloc_floats(nx), *w = lg_alloc_floats(nw), *b = lg_alloc_floats(d.co);
    float *dy = lg_alloc_floats(ny), *xr = lg_alloc_floats(nx), *wr = lg_alloc_floats(nw);
    float *dyr = lg_alloc_floats(ny), *got = lg_alloc_floats(big), *want = lg_alloc_floats(big);
    float *mag = lg_alloc_floats(big), *gb = lg_alloc_floats(d.co), *wb = lg_alloc_floats(d.co);
    float *mb = lg_alloc_floats(d.co);
    double *bound = malloc(sizeof(double) * big);
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    fill(x, nx, 1, -1, 1);
    fill(w, nw, 2, -0.3f, 0.3f);
    fill(b, d.co, 3, -1, 1);
    fill(dy, ny, 4, -1, 1);
    round_all(x, xr, nx), round_all(w, wr, nw), round_all(dy, dyr, ny);
    double rel, q;

    /* forward: K = (ci / groups) kh kw products plus the bias */
    CHECK_OK(lg_dnnl_conv_fwd_p(&d, 1, x, w, b, got));
    ref->conv_fwd(&d, xr, wr, b, want, NULL);
    float *ax = lg_alloc_floats(nx), *aw = lg_alloc_floats(nw), *ady = lg_alloc_floats(ny);
    abs_all(xr, ax, nx), abs_all(wr, aw, nw), abs_all(dyr, ady, ny), abs_all(b, mb, d.co);
    ref->conv_fwd(&d, ax, aw, mb, mag, NULL);
    double g = gamma_of((double)(d.ci / ng) * d.kh * d.kw + 1);
    for (size_t i = 0; i < ny; i++) bound[i] = g * mag[i];
    q = ratio(got, want, bound, ny, &rel);
    CHECK_MSG(q <= 1, "fwd error %.3g of its bound", q);
    if (q > worst_ratio[0]) worst_ratio[0] = q;
    /* against the unrounded operands the error is bf16-sized, not float32 */
    ref->conv_fwd(&d, x, w, b, want, NULL);
    ratio(got, want, bound, ny, &rel);
    CHECK_MSG(rel > 1e-4, "fwd differs from fp32 by only %.3g: bf16 did not run", rel);

    /* backward-data: K = (co / groups) kh kw */
    CHECK_OK(lg_dnnl_conv_bwd_data_p(&d, 1, dy, w, got));
    ref->conv_bwd_data(&d, dyr, wr, want, NULL);
    ref->conv_bwd_data(&d, ady, aw, mag, NULL);
    g = gamma_of((double)(d.co / ng) * d.kh * d.kw);
    for (size_t i = 0; i < nx; i++) bound[i] = g * mag[i];
    q = ratio(got, want, bound, nx, &rel);
    CHECK_MSG(q <= 1, "bwd_data error %.3g of its bound", q);
    if (q > worst_ratio[0]) worst_ratio[0] = q;

    /* backward-weights, accumulated onto what dw/db held: K = n ho wo + 1 */
    fill(got, nw, 9, -1, 1);
    memcpy(want, got, sizeof(float) * nw);
    memset(mag, 0, sizeof(float) * nw);
    fill(gb, d.co, 10, -1, 1);
    memcpy(wb, gb, sizeof(float) * d.co);
    memset(mb, 0, sizeof(float) * d.co);
    CHECK_OK(lg_dnnl_conv_bwd_filter_p(&d, 1, x, dy, got, gb));
    ref->conv_bwd_filter(&d, xr, dyr, want, wb, NULL);
    ref->conv_bwd_filter(&d, ax, ady, mag, mb, NULL);
    g = gamma_of((double)d.n * d.ho * d.wo + 1);
    for (size_t i = 0; i < nw; i++) bound[i] = g * (mag[i] + fabs(want[i]));
    q = ratio(got, want, bound, nw, &rel);
    CHECK_MSG(q <= 1, "bwd_weights error %.3g of its bound", q);
    if (q > worst_ratio[0]) worst_ratio[0] = q;
    double qb = 0;
    for (int o = 0; o < d.co; o++) {
        double e = fabs((double)gb[o] - wb[o]) / (g * (mb[o] + fabs(wb[o])) + 1e-30);
        if (e > qb) qb = e;
    }
    CHECK_MSG(qb <= 1, "bwd bias error %.3g of its bound", qb);

    lg_free(x), lg_free(w), lg_free(b), lg_free(dy), lg_free(xr), lg_free(wr), lg_free(dyr);
    lg_free(got), lg_free(want), lg_free(mag), lg_free(gb), lg_free(wb), lg_free(mb);
    lg_free(ax), lg_free(aw), lg_free(ady);
    free(bound);
}

static lg_conv_desc conv(int n, int ci, int h, int co, int k, int stride, int pad) {
    int ho = (h + 2 * pad - k) / stride + 1;
    return (lg_conv_desc){.n = n, .ci = ci, .hi = h, .wi = h, .co = co, .kh = k, .kw = k,
                          .stride = stride, .pad = pad, .ho = ho, .wo = ho};
}

static void test_dnnl_bf16(void) {
    NEED_BF16();
    check_dnnl(conv(3, 5, 9, 7, 5, 1, 2));   /* odd channel counts */
    check_dnnl(conv(2, 32, 12, 16, 5, 1, 2)); /* the 5x5 layers' kind */
    check_dnnl(conv(2, 16, 11, 8, 3, 2, 1));  /* strided, 3x3 */
    check_dnnl(conv(4, 3, 8, 64, 5, 1, 0));   /* a 3-channel input, no padding */
    lg_conv_desc grouped = conv(2, 48, 10, 64, 5, 1, 0); /* the lsun64 D's 5x5 kind */
    grouped.groups = 4;
    check_dnnl(grouped);
    grouped = conv(2, 32, 9, 16, 3, 1, 1);
    grouped.groups = 16;
    check_dnnl(grouped);
}

/* ---- Winograd bf16 against its derived bound ------------------------------ */

/* bound[n][o][y][x] for y = conv(x, w) with pad (5x5, stride 1), tile m. */
static void wino_bound(const lg_conv_desc *d, int m, const float *x, const float *w,
                       double *bound) {
    const float *at, *gm, *bt;
    lg_wino_matrices(m, &at, &gm, &bt);
    const int a = m + 4, th = (d->ho + m - 1) / m, tw = (d->wo + m - 1) / m;
    double *ua = malloc(sizeof(double) * d->co * d->ci * a * a), *va = malloc(sizeof(double) * d->ci * a * a);
    /* |U| <= |G| |g| |G^T| */
    for (int o = 0; o < d->co; o++)
        for (int c = 0; c < d->ci; c++) {
            const float *g = w + ((size_t)o * d->ci + c) * 25;
            double t[8][5];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < 5; j++) {
                    t[i][j] = 0;
                    for (int k = 0; k < 5; k++) t[i][j] += fabs(gm[i * 5 + k]) * fabs(g[k * 5 + j]);
                }
            double *u = ua + ((size_t)o * d->ci + c) * a * a;
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    double s = 0;
                    for (int k = 0; k < 5; k++) s += t[i][k] * fabs(gm[j * 5 + k]);
                    u[i * a + j] = s;
                }
        }
    for (int n = 0; n < d->n; n++)
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                /* |V| <= |B^T| |d| |B| for every channel's patch */
                for (int c = 0; c < d->ci; c++) {
                    double p[8][8], t[8][8];
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            int yy = ty * m - d->pad + i, xx = tx * m - d->pad + j;
                            p[i][j] = yy >= 0 && yy < d->hi && xx >= 0 && xx < d->wi
                                          ? fabs(x[(((size_t)n * d->ci + c) * d->hi + yy) * d->wi + xx])
                                          : 0;
                        }
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            t[i][j] = 0;
                            for (int k = 0; k < a; k++) t[i][j] += fabs(bt[i * a + k]) * p[k][j];
                        }
                    double *v = va + (size_t)c * a * a;
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            double s = 0;
                            for (int k = 0; k < a; k++) s += t[i][k] * fabs(bt[j * a + k]);
                            v[i * a + j] = s;
                        }
                }
                for (int o = 0; o < d->co; o++) {
                    double s[64] = {0};
                    for (int c = 0; c < d->ci; c++) {
                        const double *u = ua + ((size_t)o * d->ci + c) * a * a, *v = va + (size_t)c * a * a;
                        for (int e = 0; e < a * a; e++) s[e] += u[e] * v[e];
                    }
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < m; j++) {
                            int yy = ty * m + i, xx = tx * m + j;
                            if (yy >= d->ho || xx >= d->wo) continue;
                            double r = 0;
                            for (int p = 0; p < a; p++)
                                for (int q = 0; q < a; q++)
                                    r += fabs(at[i * a + p]) * s[p * a + q] * fabs(at[j * a + q]);
                            bound[(((size_t)n * d->co + o) * d->ho + yy) * d->wo + xx] =
                                (2 * U + U * U) * r;
                        }
                }
            }
    free(ua);
    free(va);
}

#ifdef __AVX512BF16__
/* Backward-weights: dw[o][c] gets G^T (sum_t dX_t[o] .* V_t[c]) G with
 * dX_t = A dY_t A^T. With Q[o][c][k][l] = sum_ij |G_ik| (sum_t |dX_t| .* |V_t|)_ij |G_jl|
 * (|dX| <= |A||dY||A^T|, |V| <= |B^T||d||B|), bf16 rounding of both factors
 * costs (2u + u^2) Q, and float32 costs at most gamma_K Q for K the longest
 * chain of float32 operations an output passes through: the two 8-term
 * stages of V, the two 4-term stages of dX, the tile sum (ntiles terms) and
 * the two 8-term stages of G^T dU G. */
static void wino_wgrad_bound(const lg_conv_desc *d, const float *x, const float *dy,
                             double *bound) {
    const float *at, *gm, *bt;
    lg_wino_matrices(4, &at, &gm, &bt);
    const int m = 4, a = 8, th = (d->ho + 3) / 4, tw = (d->wo + 3) / 4;
    const size_t pc = (size_t)d->ci * 64, po = (size_t)d->co * 64;
    double *du = calloc((size_t)d->co * pc, sizeof(double));
    double *va = malloc(sizeof(double) * pc), *ga = malloc(sizeof(double) * po);
    for (int n = 0; n < d->n; n++)
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                for (int c = 0; c < d->ci; c++) {
                    double p[8][8], t[8][8];
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            int yy = ty * m - d->pad + i, xx = tx * m - d->pad + j;
                            p[i][j] = yy >= 0 && yy < d->hi && xx >= 0 && xx < d->wi
                                          ? fabs(x[(((size_t)n * d->ci + c) * d->hi + yy) * d->wi + xx])
                                          : 0;
                        }
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            t[i][j] = 0;
                            for (int k = 0; k < a; k++) t[i][j] += fabs(bt[i * a + k]) * p[k][j];
                        }
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            double sum = 0;
                            for (int k = 0; k < a; k++) sum += t[i][k] * fabs(bt[j * a + k]);
                            va[(size_t)c * 64 + i * a + j] = sum;
                        }
                }
                for (int o = 0; o < d->co; o++) {
                    double g[4][4], t[8][4];
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < m; j++) {
                            int yy = ty * m + i, xx = tx * m + j;
                            g[i][j] = yy < d->ho && xx < d->wo
                                          ? fabs(dy[(((size_t)n * d->co + o) * d->ho + yy) * d->wo + xx])
                                          : 0;
                        }
                    for (int i = 0; i < a; i++)
                        for (int w = 0; w < m; w++) {
                            t[i][w] = 0;
                            for (int u = 0; u < m; u++) t[i][w] += fabs(at[u * a + i]) * g[u][w];
                        }
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++) {
                            double sum = 0;
                            for (int w = 0; w < m; w++) sum += t[i][w] * fabs(at[w * a + j]);
                            ga[(size_t)o * 64 + i * a + j] = sum;
                        }
                }
                for (int o = 0; o < d->co; o++)
                    for (int c = 0; c < d->ci; c++)
                        for (int e = 0; e < 64; e++)
                            du[((size_t)o * d->ci + c) * 64 + e] += ga[(size_t)o * 64 + e] * va[(size_t)c * 64 + e];
            }
    const double k = gamma_of(8 + 8 + 4 + 4 + (double)d->n * th * tw + 8 + 8);
    for (int o = 0; o < d->co; o++)
        for (int c = 0; c < d->ci; c++) {
            const double *u = du + ((size_t)o * d->ci + c) * 64;
            for (int kk = 0; kk < 5; kk++)
                for (int l = 0; l < 5; l++) {
                    double q = 0;
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++)
                            q += fabs(gm[i * 5 + kk]) * u[i * a + j] * fabs(gm[j * 5 + l]);
                    bound[((size_t)o * d->ci + c) * 25 + kk * 5 + l] = (2 * U + U * U + k) * q;
                }
        }
    free(du);
    free(va);
    free(ga);
}
#endif

/* ---- the bf16 Winograd algorithm emulated in double ----------------------
 * The same transforms in double precision, with bf16 rounding exactly where
 * the kernels round (U, V forward; V and dX backward-weights). The kernels
 * must match this far better than they match the exact convolution: that
 * proves every tile, index and rounding point, which the worst-case bounds
 * above (loose by the transforms' growth) cannot. */
static float r16(double v) { return lg_bf16_round((float)v); }

/* out[a x a] = L in[.] R^T with L [a x k] (row-major, stride k) applied to
 * in [k x k2] and R [a x k2]: out[i][j] = sum L[i][p] in[p][q] R[j][q]. */
static void sandwich(int a, int k, int k2, const double *l, const double *in, const double *r,
                    double *out) {
    double t[8 * 8];
    for (int i = 0; i < a; i++)
        for (int q = 0; q < k2; q++) {
            double sum = 0;
            for (int p = 0; p < k; p++) sum += l[i * k + p] * in[p * k2 + q];
            t[i * k2 + q] = sum;
        }
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            double sum = 0;
            for (int q = 0; q < k2; q++) sum += t[i * k2 + q] * r[j * k2 + q];
            out[i * a + j] = sum;
        }
}

static void emul_matrices(double *g, double *bt, double *a_m /* A = AT^T: [8 x 4] */,
                          double *at_m) {
    const float *at, *gm, *b;
    lg_wino_matrices(4, &at, &gm, &b);
    for (int i = 0; i < 40; i++) g[i] = gm[i];
    for (int i = 0; i < 64; i++) bt[i] = b[i];
    for (int i = 0; i < 32; i++) at_m[i] = at[i];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) a_m[i * 4 + j] = at[j * 8 + i];
}

/* V_c of a tile (rounded to bf16) */
static void emul_v(const lg_conv_desc *d, const float *x, int n, int ty, int tx, int c,
                   const double *bt, double *v) {
    double p[64], o[64];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            int yy = ty * 4 - d->pad + i, xx = tx * 4 - d->pad + j;
            p[i * 8 + j] = yy >= 0 && yy < d->hi && xx >= 0 && xx < d->wi
                               ? x[(((size_t)n * d->ci + c) * d->hi + yy) * d->wi + xx]
                               : 0;
        }
    sandwich(8, 8, 8, bt, p, bt, o);
    for (int e = 0; e < 64; e++) v[e] = r16(o[e]);
}

static void emul_fwd(const lg_conv_desc *d, const float *x, const float *w, float *y) {
    double g[40], bt[64], am[32], at[32];
    emul_matrices(g, bt, am, at);
    double *u = malloc(sizeof(double) * d->co * d->ci * 64), *v = malloc(sizeof(double) * d->ci * 64);
    for (size_t oc = 0; oc < (size_t)d->co * d->ci; oc++) {
        double gg[25], o[64];
        for (int e = 0; e < 25; e++) gg[e] = w[oc * 25 + e];
        sandwich(8, 5, 5, g, gg, g, o);
        for (int e = 0; e < 64; e++) u[oc * 64 + e] = r16(o[e]);
    }
    const int th = (d->ho + 3) / 4, tw = (d->wo + 3) / 4;
    for (int n = 0; n < d->n; n++)
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                for (int c = 0; c < d->ci; c++) emul_v(d, x, n, ty, tx, c, bt, v + (size_t)c * 64);
                for (int o = 0; o < d->co; o++) {
                    double m8[64] = {0}, yt[16];
                    for (int c = 0; c < d->ci; c++)
                        for (int e = 0; e < 64; e++)
                            m8[e] += u[((size_t)o * d->ci + c) * 64 + e] * v[(size_t)c * 64 + e];
                    sandwich(4, 8, 8, at, m8, at, yt);
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            int yy = ty * 4 + i, xx = tx * 4 + j;
                            if (yy < d->ho && xx < d->wo)
                                y[(((size_t)n * d->co + o) * d->ho + yy) * d->wo + xx] = (float)yt[i * 4 + j];
                        }
                }
            }
    free(u);
    free(v);
}

#ifdef __AVX512BF16__
/* dw += G^T (sum_t bf16(dX_t) .* bf16(V_t)) G */
static void emul_wgrad(const lg_conv_desc *d, const float *x, const float *dy, float *dw) {
    double g[40], bt[64], am[32], at[32], gt[40];
    emul_matrices(g, bt, am, at);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 5; k++) gt[k * 8 + i] = g[i * 5 + k];
    double *du = calloc((size_t)d->co * d->ci * 64, sizeof(double));
    double *v = malloc(sizeof(double) * d->ci * 64), *gx = malloc(sizeof(double) * d->co * 64);
    const int th = (d->ho + 3) / 4, tw = (d->wo + 3) / 4;
    for (int n = 0; n < d->n; n++)
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                for (int c = 0; c < d->ci; c++) emul_v(d, x, n, ty, tx, c, bt, v + (size_t)c * 64);
                for (int o = 0; o < d->co; o++) {
                    double t16[16], o64[64];
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            int yy = ty * 4 + i, xx = tx * 4 + j;
                            t16[i * 4 + j] = yy < d->ho && xx < d->wo
                                                 ? dy[(((size_t)n * d->co + o) * d->ho + yy) * d->wo + xx]
                                                 : 0;
                        }
                    sandwich(8, 4, 4, am, t16, am, o64);
                    for (int e = 0; e < 64; e++) gx[(size_t)o * 64 + e] = r16(o64[e]);
                }
                for (int o = 0; o < d->co; o++)
                    for (int c = 0; c < d->ci; c++)
                        for (int e = 0; e < 64; e++)
                            du[((size_t)o * d->ci + c) * 64 + e] += gx[(size_t)o * 64 + e] * v[(size_t)c * 64 + e];
            }
    for (size_t oc = 0; oc < (size_t)d->co * d->ci; oc++) {
        double o25[25];
        sandwich(5, 8, 8, gt, du + oc * 64, gt, o25);
        for (int e = 0; e < 25; e++) dw[oc * 25 + e] += (float)o25[e];
    }
    free(du);
    free(v);
    free(gx);
}
#endif

/* ||got - emul|| must be a small part of ||got - exact||: 1/4 leaves room
 * for the float32 transforms rounding the odd value to the other bf16 */
static void check_emulated(const char *what, const float *got, const float *emul,
                           const float *exact, size_t n) {
    double e = 0, f = 0;
    for (size_t i = 0; i < n; i++) {
        e += ((double)got[i] - emul[i]) * ((double)got[i] - emul[i]);
        f += ((double)got[i] - exact[i]) * ((double)got[i] - exact[i]);
    }
    CHECK_MSG(f > 0 && sqrt(e / f) < 0.25,
              "%s: off the emulated bf16 algorithm by %.3g of its distance to exact", what,
              sqrt(e / f));
    if (f > 0 && sqrt(e / f) > worst_emul) worst_emul = sqrt(e / f);
}

static void check_wino(int n, int ci, int h, int co, int pad) {
    const int m = 4;
    lg_conv_desc d = conv(n, ci, h, co, 5, 1, pad);
    /* backward-data is the forward pass of the transposed convolution with
     * the flipped kernel; its bound is that pass's bound */
    lg_conv_desc t = conv(n, co, d.ho, ci, 5, 1, 4 - pad);
    const size_t nx = (size_t)n * ci * h * h, ny = (size_t)n * co * d.ho * d.wo, nw = (size_t)co * ci * 25;
    float *x = lg_alloc_floats(nx), *w = lg_alloc_floats(nw), *wt = lg_alloc_floats(nw);
    float *dy = lg_alloc_floats(ny), *y = lg_alloc_floats(ny), *yr = lg_alloc_floats(ny);
    float *dx = lg_alloc_floats(nx), *dxr = lg_alloc_floats(nx);
    float *ws = lg_alloc_floats(lg_wino_conv_workspace_p(&d, 1));
    double *bound = malloc(sizeof(double) * (nx > ny ? nx : ny));
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    fill(x, nx, 11, -1, 1);
    fill(w, nw, 12, -0.2f, 0.2f);
    fill(dy, ny, 13, -1, 1);
    for (int o = 0; o < co; o++)
        for (int c = 0; c < ci; c++)
            for (int e = 0; e < 25; e++)
                wt[((size_t)c * co + o) * 25 + e] = w[((size_t)o * ci + c) * 25 + 24 - e];
    double rel, q;

    lg_wino_conv_fwd_p(&d, m, 1, x, w, NULL, y, ws);
    ref->conv_fwd(&d, x, w, NULL, yr, NULL);
    wino_bound(&d, m, x, w, bound);
    double s = 0;
    for (size_t i = 0; i < ny; i++) s = fabs(yr[i]) > s ? fabs(yr[i]) : s;
    for (size_t i = 0; i < ny; i++) bound[i] += WINO_F32_TOL * s;
    q = ratio(y, yr, bound, ny, &rel);
    CHECK_MSG(q <= 1, "wino bf16 fwd %dx%dx%d>%d: error %.3g of its bound", n, ci, h, co, q);
    CHECK_MSG(rel > 4 * WINO_F32_TOL, "wino bf16 fwd error only %.3g: bf16 did not run", rel);
    if (q > worst_ratio[1]) worst_ratio[1] = q;
    {
        float *ye = lg_alloc_floats(ny);
        emul_fwd(&d, x, w, ye);
        check_emulated("wino bf16 fwd", y, ye, yr, ny);
        lg_free(ye);
    }

    lg_wino_conv_bwd_data_p(&d, m, 1, dy, w, dx, ws);
    ref->conv_bwd_data(&d, dy, w, dxr, NULL);
    wino_bound(&t, m, dy, wt, bound);
    s = 0;
    for (size_t i = 0; i < nx; i++) s = fabs(dxr[i]) > s ? fabs(dxr[i]) : s;
    for (size_t i = 0; i < nx; i++) bound[i] += WINO_F32_TOL * s;
    q = ratio(dx, dxr, bound, nx, &rel);
    CHECK_MSG(q <= 1, "wino bf16 bwd_data %dx%dx%d>%d: error %.3g of its bound", n, ci, h, co, q);
    if (q > worst_ratio[1]) worst_ratio[1] = q;
    {
        float *xe = lg_alloc_floats(nx);
        emul_fwd(&t, dy, wt, xe);
        check_emulated("wino bf16 bwd_data", dx, xe, dxr, nx);
        lg_free(xe);
    }

#ifdef __AVX512BF16__ /* the kernel exists only in builds with AVX512-BF16 code */
    /* backward-weights, accumulated onto what dw and db held */
    float *dw = lg_alloc_floats(nw), *dwr = lg_alloc_floats(nw);
    float db[128], dbr[128];
    double *wb = malloc(sizeof(double) * nw);
    fill(dw, nw, 14, -1, 1);
    memcpy(dwr, dw, sizeof(float) * nw);
    fill(db, (size_t)co, 15, -1, 1);
    memcpy(dbr, db, sizeof(float) * co);
    lg_wino_conv_bwd_filter_p(&d, 1, x, dy, dw, db, ws);
    ref->conv_bwd_filter(&d, x, dy, dwr, dbr, NULL);
    wino_wgrad_bound(&d, x, dy, wb);
    for (size_t i = 0; i < nw; i++) wb[i] += 0x1p-23 * fabs(dwr[i]); /* the final add and ref's rounding */
    q = ratio(dw, dwr, wb, nw, &rel);
    CHECK_MSG(q <= 1, "wino bf16 bwd_weights %dx%dx%d>%d: error %.3g of its bound", n, ci, h, co, q);
    CHECK_MSG(rel > 1e-4, "wino bf16 bwd_weights error only %.3g: bf16 did not run", rel);
    if (q > worst_ratio[2]) worst_ratio[2] = q;
    {
        float *we = lg_alloc_floats(nw);
        fill(we, nw, 14, -1, 1);
        emul_wgrad(&d, x, dy, we);
        check_emulated("wino bf16 bwd_weights", dw, we, dwr, nw);
        lg_free(we);
    }
    /* The increments' relative error in norm, reported (F(4x4,5x5)'s
     * transforms amplify bf16 rounding to a few percent; the element bound
     * above is what is asserted: on these shapes, of 9 to 50 tiles, one
     * dropped tile or a wrong index exceeds it several times over). */
    double e2 = 0, r2 = 0;
    {
        float *w0 = lg_alloc_floats(nw);
        fill(w0, nw, 14, -1, 1);
        for (size_t i = 0; i < nw; i++) {
            double gi = (double)dw[i] - w0[i], ri = (double)dwr[i] - w0[i];
            e2 += (gi - ri) * (gi - ri);
            r2 += ri * ri;
        }
        lg_free(w0);
    }
    if (sqrt(e2 / r2) > worst_fro) worst_fro = sqrt(e2 / r2);
    double eb = 0;
    for (int o = 0; o < co; o++) eb = fmax(eb, fabs((double)db[o] - dbr[o]) / (fabs(dbr[o]) + 1));
    CHECK_MSG(eb < 1e-5, "wino bwd bias error %.3g", eb);
    lg_free(dw), lg_free(dwr);
    free(wb);

#endif
    lg_free(x), lg_free(w), lg_free(wt), lg_free(dy), lg_free(y), lg_free(yr), lg_free(dx);
    lg_free(dxr), lg_free(ws);
    free(bound);
}

static void test_winograd_bf16(void) {
    NEED_BF16();
    if (!lg_wino_bf16_available()) {
        SKIP_ABSENT("this build has no AVX512-BF16 Winograd kernel (compiled without -mavx512bf16)");
        return;
    }
    check_wino(2, 33, 11, 20, 2); /* odd ci (a half pair), co not a multiple of 8, partial tiles */
    check_wino(1, 64, 14, 32, 2);
    check_wino(2, 32, 9, 9, 0);
    check_wino(1, 40, 8, 16, 4);
}

/* ---- the table and nets --------------------------------------------------- */

static const lg_layer_spec specs_of[] = {
    {.kind = LG_LAYER_CONV2D, .out = 32, .k = 5, .pad = 2},
    {.kind = LG_LAYER_RELU},
    {.kind = LG_LAYER_CONV2D, .out = 32, .k = 5, .pad = 2},
    {.kind = LG_LAYER_RELU},
    {.kind = LG_LAYER_CONV2D, .out = 3, .k = 5, .pad = 2},
};

static void test_net_bf16(void) {
    NEED_BF16();
    lg_net_cfg cfg = {.c = 3, .h = 12, .w = 12, .max_batch = 4, .seed = 7};
    lg_net *a = NULL, *b = NULL;
    CHECK_OK(lg_net_new(&a, specs_of, 5, &cfg));
    cfg.backend = LG_BACKEND_CPU_BF16;
    CHECK_OK(lg_net_new(&b, specs_of, 5, &cfg));
    if (!a || !b) goto done;
    float x[4 * 3 * 12 * 12], dy[4 * 3 * 12 * 12];
    fill(x, sizeof x / sizeof *x, 1, -1, 1);
    fill(dy, sizeof dy / sizeof *dy, 2, -1, 1);
    const float *ya, *yb;
    CHECK_OK(lg_net_forward(a, x, 4, 1, &ya));
    CHECK_OK(lg_net_forward(b, x, 4, 1, &yb));
    double e = 0, s = 0;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) {
        e = fmax(e, fabs((double)ya[i] - yb[i]));
        s = fmax(s, fabs(ya[i]));
    }
    /* Same weights (same seed); three bf16 layers deep the outputs differ by
     * bf16-sized amounts: more than float32 could, far less than a bug. */
    CHECK_MSG(e / s > 1e-5 && e / s < 0.05, "bf16 vs fp32 net output: relative %.3g", e / s);
    CHECK_OK(lg_net_backward(b, dy, NULL, 1));
    size_t n;
    const float *g = lg_net_grads(b, &n);
    int finite = 1, nonzero = 0;
    for (size_t i = 0; i < n; i++) finite &= isfinite(g[i]), nonzero |= g[i] != 0;
    CHECK(finite && nonzero);
done:
    lg_net_free(a);
    lg_net_free(b);
}

static void test_refusal_without_bf16(void) {
    setenv("LG_NO_BF16", "1", 1);
    lg_net_cfg cfg = {.c = 3, .h = 12, .w = 12, .max_batch = 4, .seed = 7,
                      .backend = LG_BACKEND_CPU_BF16};
    lg_net *net = NULL;
    CHECK_ERR(lg_net_new(&net, specs_of, 5, &cfg), LG_ERR_UNSUPPORTED);
    CHECK(net == NULL);
    CHECK(strstr(lg_errmsg(), "bf16") != NULL);
    CHECK(lg_backend_get(LG_BACKEND_CPU_BF16) == NULL);
    CHECK_ERR(lg_backend_check(LG_BACKEND_CPU_BF16), LG_ERR_UNSUPPORTED);
    CHECK_OK(lg_backend_check(LG_BACKEND_CPU));
    unsetenv("LG_NO_BF16");
}

static int ran_bf16; /* the CPU had bf16 when the cases above ran */

static void test_report(void) {
    if (!ran_bf16) {
        SKIP_ABSENT("this CPU has no AVX512-BF16 or AMX-BF16 (lscpu flags)");
        return;
    }
    printf("# worst error / derived bound: oneDNN bf16 %.3g, Winograd bf16 %.3g, Winograd bf16 "
           "backward-weights %.3g (in norm %.3g of the increment); Winograd off its double "
           "emulation by %.3g of its distance to exact\n", worst_ratio[0], worst_ratio[1],
           worst_ratio[2], worst_fro, worst_emul);
    CHECK(worst_ratio[0] > 0);
    if (lg_wino_bf16_available()) CHECK(worst_ratio[1] > 0 && worst_ratio[2] > 0);
}

int main(void) {
    lg_set_threads(2);
    ran_bf16 = lg_cpu_has_bf16();
    RUN(test_rounding);
    RUN(test_dnnl_bf16);
    RUN(test_winograd_bf16);
    RUN(test_net_bf16);
    RUN(test_refusal_without_bf16);
    RUN(test_report);
    return TEST_END();
}
