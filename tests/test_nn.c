/* Layers, networks, losses and optimisers: finite-difference gradients for
 * every layer kind (REF backend), CPU against REF, determinism, optimiser
 * arithmetic and the error paths. */
#include <omp.h>

#include "backend/cpu/cpu.h"
#include "pyramid/resample.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    lg_rng r;
    lg_rng_init(&r, seed, 1234);
    lg_rng_uniform(&r, x, n, lo, hi);
}

/* Values with |x| in [0.2, 1] and random sign: ReLU kinks stay far beyond
 * the finite-difference step. */
static void fill_away_from_zero(float *x, size_t n, uint64_t seed) {
    fill(x, n, seed, -0.8f, 0.8f);
    for (size_t i = 0; i < n; i++) x[i] += x[i] >= 0 ? 0.2f : -0.2f;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i]) <= m)) m = fabs(a[i]);
    return m;
}

/* max |a - b| / max |b|: error relative to the tensor's scale, NaN-safe. */
static double rel_inf(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e;
    }
    double s = max_abs(b, n);
    return d / (s > 1e-12 ? s : 1e-12);
}

static size_t out_numel(const lg_net *net, int batch) {
    int c, h, w;
    lg_net_out_shape(net, &c, &h, &w);
    return (size_t)batch * c * h * w;
}

static lg_net *make_net(const lg_layer_spec *s, int nl, int c, int h, int w, int batch,
                        lg_backend_kind be) {
    lg_net_cfg cfg = {.c = c, .h = h, .w = w, .max_batch = batch, .seed = 7, .backend = be};
    lg_net *net = NULL;
    CHECK_OK(lg_net_new(&net, s, nl, &cfg));
    return net;
}

/* L = sum(y * r) in double, with the RNG rewound so dropout redraws the same
 * mask on every probe. */
static double probe_loss(lg_net *net, const float *x, int batch, int train, const float *r,
                         lg_rng rng) {
    *lg_net_rng(net) = rng;
    const float *y;
    CHECK_OK(lg_net_forward(net, x, batch, train, &y));
    double l = 0;
    for (size_t i = 0; i < out_numel(net, batch); i++) l += (double)y[i] * r[i];
    return l;
}

/* Central differences on up to 24 entries of v (the input or the parameters),
 * compared with the analytical gradient g. The step is 1e-2: the loss is a
 * float32 sum with relative rounding ~1e-7 per term, so a smaller step would
 * turn rounding into gradient noise, while the truncation error of a central
 * difference (~eps^2 * f''') stays near 1e-4 of the gradient for these smooth,
 * O(1) functions. The error is normalised by the largest analytical entry:
 * 1e-3 catches any wrong term (a missing factor or sign is O(1), a 1% scale
 * error is 1e-2) yet sits well above the ~3e-5 that correct layers show. */
static double fd_error(lg_net *net, float *x, int batch, int train, const float *r, lg_rng rng,
                       float *v, size_t n, const float *g) {
    const float eps = 1e-2f;
    const size_t probes = n < 24 ? n : 24, stride = n / probes;
    double worst = 0, scale = max_abs(g, n);
    for (size_t k = 0; k < probes; k++) {
        size_t i = k * n / probes + (k * 7) % stride; /* spread over the whole tensor */
        float keep = v[i];
        v[i] = keep + eps;
        double lp = probe_loss(net, x, batch, train, r, rng);
        v[i] = keep - eps;
        double lm = probe_loss(net, x, batch, train, r, rng);
        v[i] = keep;
        double num = (lp - lm) / (2.0 * eps), e = fabs(num - g[i]) / (scale > 1e-6 ? scale : 1e-6);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

typedef struct {
    const char *what;
    const lg_layer_spec *specs;
    int nl, c, h, w, batch, train, away_from_zero;
} grad_case;

/* Makes a square linear layer 0 pass its input through, so the layer above
 * sees the (away-from-zero) input values themselves: a finite-difference
 * step of a weight moves them by at most 1e-2 and no ReLU kink is crossed. */
static void set_identity_first(lg_net *net) {
    lg_net_tensor_info ti;
    float *p = lg_net_params(net, NULL);
    for (int t = 0; t < lg_net_tensor_count(net); t++) {
        CHECK_OK(lg_net_tensor_info_at(net, t, &ti));
        if (strncmp(ti.name, "0.", 2) != 0) continue;
        memset(p + ti.offset, 0, sizeof(float) * ti.numel);
        if (ti.ndim == 2)
            for (int i = 0; i < ti.shape[0] && i < ti.shape[1]; i++)
                p[ti.offset + (size_t)i * ti.shape[1] + i] = 1.0f;
    }
}

/* One gradient check: REF analytical vs finite differences for the input and
 * every parameter, then CPU forward/backward against REF. identity_first:
 * layer 0 is a square bias-free linear, set to the identity. */
static void check_case_on(const grad_case *gc, int identity_first) {
    lg_net *ref = make_net(gc->specs, gc->nl, gc->c, gc->h, gc->w, gc->batch, LG_BACKEND_REF);
    lg_net *cpu = make_net(gc->specs, gc->nl, gc->c, gc->h, gc->w, gc->batch, LG_BACKEND_CPU);
    if (!ref || !cpu) goto done;
    if (identity_first) {
        set_identity_first(ref);
        set_identity_first(cpu);
    }
    const size_t nx = (size_t)gc->batch * gc->c * gc->h * gc->w, ny = out_numel(ref, gc->batch);
    size_t np;
    float *params = lg_net_params(ref, &np);
    float *x = lg_alloc_floats(nx), *r = lg_alloc_floats(ny), *dx = lg_alloc_floats(nx);
    float *dx_cpu = lg_alloc_floats(nx), *g = lg_alloc_floats(np + 1);
    if (gc->away_from_zero)
        fill_away_from_zero(x, nx, 11);
    else
        fill(x, nx, 11, -1.5f, 1.5f);
    fill(r, ny, 12, -1, 1);
    const lg_rng rng = *lg_net_rng(ref);

    const float *y;
    *lg_net_rng(ref) = rng;
    CHECK_OK(lg_net_forward(ref, x, gc->batch, gc->train, &y));
    lg_net_zero_grad(ref);
    CHECK_OK(lg_net_backward(ref, r, dx, 1));
    memcpy(g, lg_net_grads(ref, NULL), sizeof(float) * np);
    CHECK(max_abs(dx, nx) > 0 || np > 0);

    double ex = fd_error(ref, x, gc->batch, gc->train, r, rng, x, nx, dx);
    CHECK_MSG(ex < 1e-3, "%s: input gradient error %.3g", gc->what, ex);
    for (int t = 0; t < lg_net_tensor_count(ref); t++) {
        lg_net_tensor_info ti;
        CHECK_OK(lg_net_tensor_info_at(ref, t, &ti));
        if (ti.kind != 0) continue;
        double ep = fd_error(ref, x, gc->batch, gc->train, r, rng, params + ti.offset, ti.numel,
                             g + ti.offset);
        CHECK_MSG(ep < 1e-3, "%s: gradient error %.3g in %s", gc->what, ep, ti.name);
    }

    /* CPU against REF on the same weights, input and dropout stream. */
    float *y_ref = lg_alloc_floats(ny);
    *lg_net_rng(ref) = rng;
    CHECK_OK(lg_net_forward(ref, x, gc->batch, gc->train, &y));
    memcpy(y_ref, y, sizeof(float) * ny);
    lg_net_zero_grad(ref);
    CHECK_OK(lg_net_backward(ref, r, dx, 1));
    *lg_net_rng(cpu) = rng;
    CHECK_OK(lg_net_forward(cpu, x, gc->batch, gc->train, &y));
    CHECK_MSG(rel_inf(y, y_ref, ny) < 1e-5, "%s: cpu forward differs by %.3g", gc->what,
              rel_inf(y, y_ref, ny));
    lg_net_zero_grad(cpu);
    CHECK_OK(lg_net_backward(cpu, r, dx_cpu, 1));
    CHECK_MSG(rel_inf(dx_cpu, dx, nx) < 1e-4, "%s: cpu dx differs by %.3g", gc->what,
              rel_inf(dx_cpu, dx, nx));
    if (np)
        CHECK_MSG(rel_inf(lg_net_grads(cpu, NULL), lg_net_grads(ref, NULL), np) < 1e-4,
                  "%s: cpu parameter gradients differ", gc->what);
    lg_free(y_ref);
    lg_free(x);
    lg_free(r);
    lg_free(dx);
    lg_free(dx_cpu);
    lg_free(g);
done:
    lg_net_free(ref);
    lg_net_free(cpu);
}

static void check_case(const grad_case *gc) { check_case_on(gc, 0); }

/* ---- gradient checks, one case per layer kind and configuration ---------- */

static void test_grad_linear(void) {
    lg_layer_spec a[] = {{.kind = LG_LAYER_LINEAR, .out = 5}};
    lg_layer_spec b[] = {{.kind = LG_LAYER_LINEAR, .out = 4, .no_bias = 1}};
    check_case(&(grad_case){"linear on 2x3x2", a, 1, 2, 3, 2, 3, 1, 0});
    check_case(&(grad_case){"linear no bias", b, 1, 7, 1, 1, 2, 1, 0});
}

static void test_grad_conv2d(void) {
    lg_layer_spec k5p2[] = {{.kind = LG_LAYER_CONV2D, .out = 3, .k = 5, .pad = 2}};
    lg_layer_spec k3s2[] = {{.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .stride = 2}};
    lg_layer_spec k5s2p2[] = {{.kind = LG_LAYER_CONV2D, .out = 3, .k = 5, .stride = 2, .pad = 2}};
    lg_layer_spec k3p1[] = {{.kind = LG_LAYER_CONV2D, .out = 2, .k = 3, .pad = 1, .no_bias = 1}};
    lg_layer_spec k5p0[] = {{.kind = LG_LAYER_CONV2D, .out = 2, .k = 5}};
    check_case(&(grad_case){"conv k5 s1 p2 6x7", k5p2, 1, 2, 6, 7, 2, 1, 0});
    check_case(&(grad_case){"conv k3 s2 p0 9x7", k3s2, 1, 3, 9, 7, 2, 1, 0});
    check_case(&(grad_case){"conv k5 s2 p2 8x9", k5s2p2, 1, 2, 8, 9, 2, 1, 0});
    check_case(&(grad_case){"conv k3 s1 p1 5x4 no bias", k3p1, 1, 2, 5, 4, 3, 1, 0});
    check_case(&(grad_case){"conv k5 s1 p0 7x6", k5p0, 1, 1, 7, 6, 2, 1, 0});
    /* grouped: two blocks of 2 -> 3 maps; one map per group, strided */
    lg_layer_spec g2[] = {{.kind = LG_LAYER_CONV2D, .out = 6, .k = 3, .pad = 1, .groups = 2}};
    lg_layer_spec g4[] = {{.kind = LG_LAYER_CONV2D, .out = 8, .k = 3, .stride = 2, .groups = 4}};
    check_case(&(grad_case){"conv k3 p1 groups 2", g2, 1, 4, 5, 6, 2, 1, 0});
    check_case(&(grad_case){"conv k3 s2 groups 4", g4, 1, 4, 7, 7, 2, 1, 0});
}

/* Grouped weights are [co, ci / groups, k, k]: group g's outputs read only
 * its inputs. Input channels of the other group changed, outputs of this
 * group stay bit-identical. */
static void test_conv_groups_isolated(void) {
    lg_layer_spec s[] = {{.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .pad = 1, .groups = 2}};
    for (int be = 0; be < 2; be++) {
        lg_net *net = make_net(s, 1, 6, 5, 5, 2, be ? LG_BACKEND_CPU : LG_BACKEND_REF);
        if (!net) return;
        lg_net_tensor_info ti;
        CHECK_OK(lg_net_tensor_info_at(net, 0, &ti));
        CHECK(ti.ndim == 4 && ti.shape[0] == 4 && ti.shape[1] == 3 && ti.numel == 4 * 3 * 9);
        size_t np;
        lg_net_params(net, &np);
        CHECK(np == 4 * 3 * 9 + 4);
        float x[2 * 6 * 25], y0[2 * 4 * 25];
        fill(x, 2 * 6 * 25, 41, -1, 1);
        const float *y;
        CHECK_OK(lg_net_forward(net, x, 2, 0, &y));
        memcpy(y0, y, sizeof y0);
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 75; i++) x[n * 150 + 75 + i] += 1.0f; /* group 1's inputs */
        CHECK_OK(lg_net_forward(net, x, 2, 0, &y));
        int same0 = 1, diff1 = 0;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 50; i++) {
                same0 &= y[n * 100 + i] == y0[n * 100 + i];
                diff1 |= y[n * 100 + 50 + i] != y0[n * 100 + 50 + i];
            }
        CHECK_MSG(same0 && diff1, "%s: group 0 same %d, group 1 changed %d", be ? "cpu" : "ref",
                  same0, diff1);
        lg_net_free(net);
    }
}

/* L2 pooling across maps: sqrt(3^2 + 4^2) = 5; an all-zero pair gives 0
 * and a zero (not NaN) gradient. */
static void test_featpool_values(void) {
    lg_layer_spec s[] = {{.kind = LG_LAYER_FEATURE_L2POOL, .k = 2}};
    lg_net *net = make_net(s, 1, 4, 1, 1, 1, LG_BACKEND_CPU);
    if (!net) return;
    int c, h, w;
    lg_net_out_shape(net, &c, &h, &w);
    CHECK(c == 2 && h == 1 && w == 1);
    const float x[4] = {3, -4, 0, 0}, dy[2] = {10, 1};
    float dx[4];
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    CHECK(y[0] == 5.0f && y[1] == 0.0f);
    CHECK_OK(lg_net_backward(net, dy, dx, 1));
    CHECK_NEAR(dx[0], 6.0, 1e-6);
    CHECK_NEAR(dx[1], -8.0, 1e-6);
    CHECK(dx[2] == 0 && dx[3] == 0);
    lg_net_free(net);
}

static void test_grad_activations(void) {
    lg_layer_spec relu[] = {{.kind = LG_LAYER_RELU}};
    lg_layer_spec leaky[] = {{.kind = LG_LAYER_LEAKY_RELU, .slope = LG_LEAKY_RELU_SLOPE}};
    lg_layer_spec leaky1[] = {{.kind = LG_LAYER_LEAKY_RELU, .slope = 0.1f}};
    lg_layer_spec sig[] = {{.kind = LG_LAYER_SIGMOID}};
    lg_layer_spec th[] = {{.kind = LG_LAYER_TANH}};
    check_case(&(grad_case){"relu", relu, 1, 3, 4, 4, 2, 1, 1});
    check_case(&(grad_case){"leaky relu default slope", leaky, 1, 3, 4, 4, 2, 1, 1});
    check_case(&(grad_case){"leaky relu 0.1", leaky1, 1, 2, 3, 3, 2, 1, 1});
    check_case(&(grad_case){"sigmoid", sig, 1, 3, 4, 4, 2, 1, 0});
    check_case(&(grad_case){"tanh", th, 1, 3, 4, 4, 2, 1, 0});
}

/* Each activation above a linear layer, where the net runs it in place
 * over the linear's output when its backward allows (net.c in_place):
 * a negative slope must not, and a dropout above it still may. */
static void test_grad_activations_in_place(void) {
    const lg_layer_spec lin = {.kind = LG_LAYER_LINEAR, .out = 12, .no_bias = 1};
    const struct {
        const char *what;
        lg_layer_spec act;
        float drop;
    } cases[] = {
        {"linear-relu", {.kind = LG_LAYER_RELU}, 0},
        {"linear-leaky relu default slope", {.kind = LG_LAYER_LEAKY_RELU, .slope = LG_LEAKY_RELU_SLOPE}, 0},
        {"linear-leaky relu 0.3", {.kind = LG_LAYER_LEAKY_RELU, .slope = 0.3f}, 0},
        {"linear-leaky relu -0.5", {.kind = LG_LAYER_LEAKY_RELU, .slope = -0.5f}, 0},
        {"linear-leaky relu 0", {.kind = LG_LAYER_LEAKY_RELU, .slope = 0.0f}, 0},
        {"linear-leaky relu -0.5-dropout", {.kind = LG_LAYER_LEAKY_RELU, .slope = -0.5f}, 0.25f},
        {"linear-leaky relu 0.3-dropout", {.kind = LG_LAYER_LEAKY_RELU, .slope = 0.3f}, 0.25f},
        {"linear-relu-dropout", {.kind = LG_LAYER_RELU}, 0.25f},
        {"linear-sigmoid", {.kind = LG_LAYER_SIGMOID}, 0},
        {"linear-tanh", {.kind = LG_LAYER_TANH}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lg_layer_spec s[3] = {lin, cases[i].act, {.kind = LG_LAYER_DROPOUT, .p = cases[i].drop}};
        const int nl = cases[i].drop > 0 ? 3 : 2;
        check_case_on(&(grad_case){cases[i].what, s, nl, 12, 1, 1, 3, 1, 1}, 1);
    }
}

static void test_grad_batchnorm(void) {
    lg_layer_spec bn[] = {{.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM}};
    lg_layer_spec bn_plain[] = {
        {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM, .no_affine = 1}};
    /* Non-trivial gamma/beta so their gradients are exercised off the identity. */
    lg_layer_spec bn_dcgan[] = {{.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM,
                                 .init = LG_INIT_NORMAL, .init_std = 0.3f}};
    check_case(&(grad_case){"batchnorm2d train", bn, 1, 3, 4, 5, 3, 1, 0});
    check_case(&(grad_case){"batchnorm1d train", bn_dcgan, 1, 6, 1, 1, 5, 1, 0});
    check_case(&(grad_case){"batchnorm2d no affine", bn_plain, 1, 2, 3, 3, 2, 1, 0});
    check_case(&(grad_case){"batchnorm2d eval", bn_dcgan, 1, 3, 2, 3, 2, 0, 0});
}

static void test_grad_dropout_shape_upsample(void) {
    lg_layer_spec drop[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.4f}};
    lg_layer_spec flat[] = {{.kind = LG_LAYER_FLATTEN}};
    lg_layer_spec resh[] = {{.kind = LG_LAYER_RESHAPE, .c = 4, .h = 3, .w = 2}};
    lg_layer_spec near[] = {{.kind = LG_LAYER_UPSAMPLE_NEAREST}};
    lg_layer_spec bil[] = {{.kind = LG_LAYER_UPSAMPLE_BILINEAR}};
    check_case(&(grad_case){"dropout 0.4", drop, 1, 4, 3, 3, 2, 1, 0});
    lg_layer_spec sdrop[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.4f, .spatial = 1}};
    check_case(&(grad_case){"spatial dropout 0.4", sdrop, 1, 5, 3, 3, 2, 1, 0});
    lg_layer_spec pool2[] = {{.kind = LG_LAYER_FEATURE_L2POOL, .k = 2}};
    lg_layer_spec pool3[] = {{.kind = LG_LAYER_FEATURE_L2POOL, .k = 3}};
    check_case(&(grad_case){"feature l2 pool 2", pool2, 1, 4, 3, 2, 2, 1, 1});
    check_case(&(grad_case){"feature l2 pool 3", pool3, 1, 6, 2, 3, 2, 1, 1});
    check_case(&(grad_case){"flatten", flat, 1, 2, 3, 3, 2, 1, 0});
    check_case(&(grad_case){"reshape", resh, 1, 2, 3, 4, 2, 1, 0});
    check_case(&(grad_case){"upsample nearest", near, 1, 2, 3, 4, 2, 1, 0});
    check_case(&(grad_case){"upsample bilinear", bil, 1, 2, 3, 5, 2, 1, 0});
}

/* A chain exercising aliasing (flatten/reshape), ping-pong gradient buffers
 * and a pass-through first layer. Smooth activations only: a shift of a BN
 * beta moves a whole channel, which would push some value across a ReLU kink
 * (the per-layer cases cover ReLU with inputs kept away from 0). The conv
 * before BN has no bias: BN cancels it, its gradient is exactly zero and a
 * normalised error of zero-vs-rounding-noise would be meaningless. */
static void test_grad_chain(void) {
    lg_layer_spec d[] = {
        {.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .pad = 1, .no_bias = 1},
        {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM},
        {.kind = LG_LAYER_TANH},
        {.kind = LG_LAYER_CONV2D, .out = 3, .k = 3, .stride = 2},
        {.kind = LG_LAYER_DROPOUT, .p = 0.25f},
        {.kind = LG_LAYER_FLATTEN},
        {.kind = LG_LAYER_LINEAR, .out = 3},
        {.kind = LG_LAYER_SIGMOID},
    };
    lg_layer_spec g[] = {
        {.kind = LG_LAYER_FLATTEN},
        {.kind = LG_LAYER_LINEAR, .out = 12},
        {.kind = LG_LAYER_TANH},
        {.kind = LG_LAYER_RESHAPE, .c = 3, .h = 2, .w = 2},
        {.kind = LG_LAYER_UPSAMPLE_BILINEAR},
        {.kind = LG_LAYER_CONV2D, .out = 2, .k = 3, .pad = 1},
    };
    check_case(&(grad_case){"conv-bn-tanh-conv-drop-fc-sigmoid", d, 8, 2, 6, 5, 3, 1, 0});
    check_case(&(grad_case){"fc-tanh-reshape-upsample-conv", g, 6, 5, 1, 1, 3, 1, 0});
}

static void test_grad_bce(void) {
    const int n = 9;
    float x[9], t[9], d[9], loss, lp, lm;
    fill(x, n, 3, -4, 4);
    fill(t, n, 4, 0, 1);
    t[0] = 0;
    t[1] = 1;
    CHECK_OK(lg_bce_logits(x, t, n, 2.0f, &loss, d));
    double want = 0;
    for (int i = 0; i < n; i++) want -= t[i] * log(1 / (1 + exp(-x[i]))) + (1 - t[i]) * log(1 - 1 / (1 + exp(-x[i])));
    CHECK_NEAR(loss, want / n, 1e-5);
    /* Same step reasoning as fd_error; the loss is a double sum of 9 terms. */
    for (int i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + 1e-2f;
        CHECK_OK(lg_bce_logits(x, t, n, 1, &lp, NULL));
        x[i] = keep - 1e-2f;
        CHECK_OK(lg_bce_logits(x, t, n, 1, &lm, NULL));
        x[i] = keep;
        CHECK_NEAR(2.0 * (lp - lm) / 2e-2, d[i], 1e-3);
    }
    /* Huge logits stay finite: l(100, 0) = 100, l(-100, 0) = log(1+e^-100). */
    float big[2] = {100, -100}, zero[2] = {0, 0}, db[2];
    CHECK_OK(lg_bce_logits(big, zero, 2, 1, &loss, db));
    CHECK_NEAR(loss, 50.0, 1e-4);
    CHECK_NEAR(db[0], 0.5, 1e-6);
    CHECK_NEAR(db[1], 0.0, 1e-6);
}

/* ---- layer semantics ----------------------------------------------------- */

static void test_batchnorm_running_stats(void) {
    lg_layer_spec s[] = {{.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = 0.25f}};
    lg_net *net = make_net(s, 1, 2, 2, 2, 3, LG_BACKEND_CPU);
    if (!net) return;
    float x[24];
    fill(x, 24, 5, -2, 3);
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 3, 1, &y));
    size_t nb;
    float *buf = lg_net_buffers(net, &nb);
    CHECK(nb == 4);
    for (int c = 0; c < 2; c++) {
        double m = 0, v = 0, vy = 0, my = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) m += x[i * 8 + c * 4 + j] / 12.0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                double e = x[i * 8 + c * 4 + j] - m;
                v += e * e;
                my += y[i * 8 + c * 4 + j] / 12.0;
                vy += (double)y[i * 8 + c * 4 + j] * y[i * 8 + c * 4 + j] / 12.0;
            }
        CHECK_NEAR(buf[c], 0.25 * m, 1e-6);                  /* 0.75 * 0 + 0.25 * mean */
        CHECK_NEAR(buf[2 + c], 0.75 + 0.25 * v / 11.0, 1e-5); /* unbiased variance */
        CHECK_NEAR(my, 0.0, 1e-5);
        CHECK_NEAR(vy, v / 12.0 / (v / 12.0 + 1e-5), 1e-4); /* biased variance normalises */
    }
    /* Eval uses the running statistics: set them and compare with the formula. */
    float *p = lg_net_params(net, NULL);
    p[0] = 2.0f, p[1] = 0.5f, p[2] = 0.1f, p[3] = -1.0f; /* gamma then beta */
    buf[0] = 0.5f, buf[1] = -1.0f, buf[2] = 4.0f, buf[3] = 0.25f;
    CHECK_OK(lg_net_forward(net, x, 3, 0, &y));
    for (int i = 0; i < 24; i++) {
        int c = (i / 4) % 2;
        double want = (x[i] - buf[c]) / sqrt(buf[2 + c] + 1e-5) * p[c] + p[2 + c];
        CHECK_NEAR(y[i], want, 1e-5);
    }
    CHECK(buf[0] == 0.5f && buf[3] == 0.25f); /* eval leaves them alone */
    lg_net_free(net);
}

/* SGD's and Adam's updates of be against ref (test_train_ops_match_ref's
 * bounds); returns how many values fall outside. */
static size_t update_ops_match_ref(const lg_backend *be, const lg_backend *ref) {
    const double u = 0x1p-24;
    const size_t n = 40000; /* over the threads' threshold */
    float *buf = lg_alloc_floats(10 * n);
    float *p = buf, *pr = p + n, *p0 = pr + n, *v = p0 + n, *vr = v + n, *v0 = vr + n;
    float *m = v0 + n, *mr = m + n, *m0 = mr + n, *g = m0 + n;
    fill(g, n, 62, -2, 2);
    size_t bad = 0;
    const float sgd[][3] = {{0, 1, 0}, {0, 1, 1}, {0.9f, 0.1f, 1}}; /* a, b, has a buffer */
    for (size_t c = 0; c < 3; c++) {
        fill(p0, n, 65, -1, 1), fill(v0, n, 66, -0.5f, 0.5f);
        memcpy(p, p0, sizeof(float) * n), memcpy(pr, p0, sizeof(float) * n);
        memcpy(v, v0, sizeof(float) * n), memcpy(vr, v0, sizeof(float) * n);
        const lg_update_desc d = {.n = n, .lr = 0.02f, .wd = 1e-3f, .a = sgd[c][0], .b = sgd[c][1]};
        const int has = sgd[c][2] != 0;
        CHECK_OK(be->sgd_update(&d, p, g, has ? v : NULL));
        CHECK_OK(ref->sgd_update(&d, pr, g, has ? vr : NULL));
        for (size_t i = 0; i < n; i++) {
            /* g' = g + wd p: the product and the sum, 2u; v = a v0 + b g': the
             * two products and the sum, 3u, plus b's share of g''s error;
             * p - lr v: the product and the difference, plus lr v's error */
            const double gp = fabs((double)g[i]) + fabs(d.wd * (double)p0[i]), eg = 2 * u * gp;
            const double ev = has ? fabs((double)d.b) * eg +
                                        3 * u * (fabs((double)d.a * v0[i]) + fabs((double)d.b) * gp)
                                  : eg;
            const double vv = has ? fabs((double)vr[i]) : gp;
            const double ep = d.lr * ev + u * (d.lr * vv + fabs((double)pr[i]));
            bad += !(fabs((double)p[i] - pr[i]) <= ep + u * fabs(pr[i]));
            if (has) bad += !(fabs((double)v[i] - vr[i]) <= ev + u * fabs(vr[i]));
        }
    }
    fill(p0, n, 67, -1, 1), fill(m0, n, 68, -0.1f, 0.1f), fill(v0, n, 69, 0, 0.01f);
    memcpy(p, p0, sizeof(float) * n), memcpy(pr, p0, sizeof(float) * n);
    memcpy(m, m0, sizeof(float) * n), memcpy(mr, m0, sizeof(float) * n);
    memcpy(v, v0, sizeof(float) * n), memcpy(vr, v0, sizeof(float) * n);
    const lg_update_desc d = {.n = n, .wd = 1e-3f, .step = 2e-4f / (1 - 0.9f * 0.9f),
                              .bc2 = 0.03f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    CHECK_OK(be->adam_update(&d, p, g, m, v));
    CHECK_OK(ref->adam_update(&d, pr, g, mr, vr));
    /* 1 - b1 and 1 - b2 are exact in float32 here (Sterbenz) */
    const double b1 = d.beta1, b2 = d.beta2, c1 = 1 - b1, c2 = 1 - b2;
    for (size_t i = 0; i < n; i++) {
        const double gp = (double)g[i] + (double)d.wd * p0[i];
        const double eg = 2 * u * (fabs((double)g[i]) + fabs(d.wd * (double)p0[i]));
        const double mi = b1 * m0[i] + c1 * gp, vi = b2 * v0[i] + c2 * gp * gp;
        /* m: two products and a sum; v: g'^2, two products and a sum */
        const double em = c1 * eg + 3 * u * (fabs(b1 * m0[i]) + c1 * fabs(gp));
        const double ev = c2 * (2 * fabs(gp) * eg + eg * eg) + 4 * u * (b2 * v0[i] + c2 * gp * gp);
        /* sqrt of an input ev off, then rounded; / bc2 and + eps; m / den; step *; p - */
        const double sq = sqrt(vi), es = ev / (sq + sqrt(fmax(vi - ev, 0))) + u * sq;
        const double den = sq / d.bc2 + d.eps, eden = es / d.bc2 + 2 * u * den, lo = den - eden;
        const double er = (em + fabs(mi) * eden / lo) / lo + u * fabs(mi) / den;
        const double upd = d.step * mi / den, eu = d.step * er + u * fabs(upd);
        bad += !(fabs((double)p[i] - pr[i]) <= eu + 2 * u * fabs(pr[i]));
        bad += !(fabs((double)m[i] - mr[i]) <= em + u * fabs(mr[i]));
        bad += !(fabs((double)v[i] - vr[i]) <= ev + u * vr[i]);
    }
    lg_free(buf);
    return bad;
}

/* The tables that a level step also runs through (dropout's mask, L2
 * pooling, concatenation, the loss and the optimiser updates), each against
 * ref (double, from the definitions) within bounds derived from float32
 * rounding, u = 2^-24, one u per rounded float32 operation:
 * - dropout: the same values kept, bit for bit (the uniforms are exact
 *   24-bit fractions in both), kept values in * fl(1 / fl(1 - p)) within 3u;
 * - L2 pooling: forward sums k positive squares (k roundings, 1 each
 *   square) then sqrtf: within ((k + 1) / 2 + 1)u of y; backward from the
 *   same y: dy / y then * x, 2u of dx;
 * - concatenation and split: copies, bit for bit;
 * - loss: each term's only float32 step is expf (glibc: under 1 ulp, 2u
 *   relative), which log1p turns into at most 2u e / (1 + e); dlogits =
 *   fl(fl(sig - t) fl(scale / n)) with sig within 4u (expf, the 1 + e and
 *   the division): |g| (4u sig + 3u |sig - t|);
 * - SGD and Adam: the error of each intermediate from its own roundings
 *   and its inputs' errors, written out below. */
static void test_train_ops_match_ref(void) {
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    const double u = 0x1p-24;
    enum { ROWS = 5, PER = 2 * 1024 + 37, MAPS = 7 * 3 };
    const size_t N = (size_t)ROWS * PER;
    float *x = lg_alloc_floats(N), *y = lg_alloc_floats(N), *yr = lg_alloc_floats(N);
    float *dy = lg_alloc_floats(N), *dx = lg_alloc_floats(N), *dxr = lg_alloc_floats(N);
    fill_away_from_zero(x, N, 61);
    fill(dy, N, 62, -2, 2);
    const uint64_t rows[ROWS] = {9, 3, 1ull << 40, 0, 77};
    int tables = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue;
        tables++;
        /* dropout: elementwise over chunks, spatial, explicit row ids, p 0 and 1 */
        const float ps[] = {0.3f, 0.5f, 0.0f, 1.0f};
        for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++)
            for (int spatial = 0; spatial < 2; spatial++) {
                const int per = spatial ? MAPS * 11 : PER;
                lg_dropout_desc d = {.n = ROWS, .per = (size_t)per, .maps = spatial ? MAPS : 0,
                                     .p = ps[pi], .seed = 5, .stream = 17, .draw = 3,
                                     .rows = pi & 1 ? rows : NULL};
                CHECK_OK(be->dropout(&d, x, y));
                CHECK_OK(ref->dropout(&d, x, yr));
                size_t bad = 0, kept = 0;
                for (size_t i = 0; i < (size_t)ROWS * per; i++) {
                    kept += yr[i] != 0;
                    bad += (y[i] == 0) != (yr[i] == 0) ||
                           !(fabs((double)y[i] - yr[i]) <= 3 * u * fabs(yr[i]));
                }
                CHECK_MSG(bad == 0, "%s dropout p %g spatial %d: %zu values off ref", be->name,
                          ps[pi], spatial, bad);
                const double share = (double)kept / ((double)ROWS * per);
                CHECK_MSG(ps[pi] == 0 ? share == 1 : ps[pi] == 1 ? share == 0
                                                              : fabs(share - (1 - ps[pi])) < 0.1,
                          "%s dropout p %g: kept %.3f", be->name, ps[pi], share);
                memcpy(dx, x, sizeof(float) * N); /* in place, as nets run it */
                CHECK_OK(be->dropout(&d, dx, dx));
                CHECK(memcmp(dx, y, sizeof(float) * (size_t)ROWS * per) == 0);
            }
        lg_dropout_desc bad_maps = {.n = 1, .per = 10, .maps = 3, .p = 0.5f};
        CHECK_ERR(be->dropout(&bad_maps, x, y), LG_ERR_ARG);
        /* L2 pooling: 3 samples, 4 output maps of 2 or 3 inputs, 5x7 planes; some all-zero */
        for (int kk = 2; kk <= 3; kk++) {
            const int n = 3, co = 4;
            const size_t plane = 35, nin = (size_t)n * co * kk * plane, nout = (size_t)n * co * plane;
            memcpy(dx, x, sizeof(float) * nin);
            for (int j = 0; j < kk; j++) dx[j * plane + 4] = 0; /* y[0][4] = 0 */
            CHECK_OK(be->featpool_fwd(n, co, kk, plane, dx, y));
            CHECK_OK(ref->featpool_fwd(n, co, kk, plane, dx, yr));
            size_t bad = 0;
            for (size_t i = 0; i < nout; i++)
                bad += !(fabs((double)y[i] - yr[i]) <= ((kk + 1) / 2.0 + 1) * u * yr[i]);
            CHECK(yr[4] == 0 && y[4] == 0);
            float *g = y + nout, *gr = yr + nout;
            CHECK_OK(be->featpool_bwd(n, co, kk, plane, dx, yr, dy, g));
            CHECK_OK(ref->featpool_bwd(n, co, kk, plane, dx, yr, dy, gr));
            for (size_t i = 0; i < nin; i++) bad += !(fabs((double)g[i] - gr[i]) <= 2 * u * fabs(gr[i]));
            CHECK(g[4] == 0 && gr[4] == 0);
            CHECK_MSG(bad == 0, "%s L2 pooling k %d: %zu values off ref", be->name, kk, bad);
        }
        /* concatenation and its adjoint, either half left out */
        {
            const int n = 4;
            const size_t na = 300, nb = 1;
            CHECK_OK(be->concat(n, na, nb, x, dy, y));
            CHECK_OK(ref->concat(n, na, nb, x, dy, yr));
            CHECK(memcmp(y, yr, sizeof(float) * n * (na + nb)) == 0);
            CHECK(y[na] == dy[0] && y[na + nb] == x[na]);
            memset(dx, 0, sizeof(float) * N), memset(dxr, 0, sizeof(float) * N);
            CHECK_OK(be->split(n, na, nb, x, dx, NULL));
            CHECK_OK(ref->split(n, na, nb, x, dxr, NULL));
            CHECK_OK(be->split(n, na, nb, x, NULL, dx + n * na));
            CHECK_OK(ref->split(n, na, nb, x, NULL, dxr + n * na));
            CHECK(memcmp(dx, dxr, sizeof(float) * n * (na + nb)) == 0);
            CHECK(dx[na] == x[na + nb] && dx[n * na] == x[na]);
        }
        /* the loss, logits up to +-40 and soft targets */
        {
            const int n = 999;
            const float scale = 0.75f;
            float *t = y + n;
            fill(y, n, 63, -40, 40);
            fill(t, n, 64, 0, 1);
            double sum, sumr;
            CHECK_OK(be->bce_logits(n, y, t, scale, &sum, dx));
            CHECK_OK(ref->bce_logits(n, y, t, scale, &sumr, dxr));
            double bs = 1e-12 * fabs(sumr);
            size_t bad = 0;
            const double g = (double)scale / n;
            for (int i = 0; i < n; i++) {
                const double e = exp(-fabs(y[i])), sig = 1 / (1 + exp(-(double)y[i]));
                bs += 2 * u * e / (1 + e);
                bad += !(fabs((double)dx[i] - dxr[i]) <=
                         1.01 * g * (4 * u * sig + 3 * u * fabs(sig - t[i])) + u * fabs(dxr[i]));
            }
            CHECK_MSG(fabs(sum - sumr) <= bs && bad == 0, "%s loss: sum off %.3g (bound %.3g), "
                      "%zu gradients off ref", be->name, fabs(sum - sumr), bs, bad);
            CHECK_OK(be->bce_logits(n, y, t, scale, &sum, NULL)); /* no gradient wanted */
            CHECK(fabs(sum - sumr) <= bs);
        }
        /* SGD (no buffer, the buffer's first write, momentum with dampening) and Adam */
        CHECK_MSG(update_ops_match_ref(be, ref) == 0, "%s optimiser updates off ref", be->name);
    }
    CHECK(tables >= 1);
    lg_free(x), lg_free(y), lg_free(yr), lg_free(dy), lg_free(dx), lg_free(dxr);
}

/* The rest of a level step's ops against ref: the pyramid's resampling for
 * both filters, down and up, beta 0 and not (each output a weighted sum of
 * at most Tx Ty inputs, weights >= 0 summing to 1 per axis, Tx, Ty <= 8
 * for these shapes: the row and column sums and their products round at
 * most Tx + Ty + 4 times, so |cpu - ref| <= 20u (|alpha| max|x| + |beta|
 * max|y0|)); the sum x = h + l (one rounding, as ref: bit for bit); the
 * noise: ref's values from lg_philox directly, within the one rounding of
 * lo + (hi - lo) u (2u for [-1, 1)). */
static void test_step_ops_match_ref(void) {
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    const double u = 0x1p-24;
    const int shapes[][3] = {{28, 14, 1}, {14, 8, 1}, {8, 14, 0}, {14, 28, 0}, {32, 8, 1}, {5, 5, 0}};
    const size_t N = 70001; /* over the threads' thresholds; resampling uses the first 6144 */
    float *x = lg_alloc_floats(N), *y = lg_alloc_floats(N), *yr = lg_alloc_floats(N);
    fill(x, N, 71, -1, 1);
    int tables = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue;
        tables++;
        for (int f = 0; f < LG_PYR_FILTER_COUNT; f++)
            for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
                for (int b = 0; b < 2; b++) {
                    const int h = shapes[si][0], o = shapes[si][1], down = shapes[si][2];
                    const size_t ny = (size_t)3 * 2 * o * o;
                    const float alpha = b ? -0.5f : 1.0f, beta = b ? 0.25f : 0.0f;
                    fill(y, ny, 72, -1, 1), memcpy(yr, y, sizeof(float) * ny);
                    CHECK_OK(lg_pyr_resample_on(be, (lg_pyr_filter)f, down, x, 3, 2, h, h, y, o,
                                                o, alpha, beta));
                    CHECK_OK(lg_pyr_resample_on(ref, (lg_pyr_filter)f, down, x, 3, 2, h, h, yr,
                                                o, o, alpha, beta));
                    const double bound = 20 * u * (fabs(alpha) + fabs(beta)); /* max|x|, |y0| <= 1 */
                    double e = 0;
                    for (size_t i = 0; i < ny; i++) e = fmax(e, fabs((double)y[i] - yr[i]));
                    CHECK_MSG(e <= bound, "%s resample %s %d -> %d beta %g: off %.3g (bound %.3g)",
                              be->name, lg_pyr_filter_name((lg_pyr_filter)f), h, o, beta, e, bound);
                }
        /* sum and copy */
        CHECK_OK(be->add(N / 2, x, x + N / 2, y));
        CHECK_OK(ref->add(N / 2, x, x + N / 2, yr));
        CHECK(memcmp(y, yr, sizeof(float) * (N / 2)) == 0);
        CHECK_OK(be->add(N, x, NULL, y));
        CHECK(memcmp(y, x, sizeof(float) * N) == 0);
        /* noise: one generator moving on, and keyed rows */
        lg_rng r1 = {0}, r2 = {0};
        lg_rng_init(&r1, 3, 44), lg_rng_init(&r2, 3, 44);
        const float lo = -1, hi = 1;
        double e = 0;
        for (int rep = 0; rep < 2; rep++) { /* the second draw starts where the first ended */
            CHECK_OK(be->uniform(&r1, N, lo, hi, y));
            CHECK_OK(ref->uniform(&r2, N, lo, hi, yr));
            CHECK(r1.offset == r2.offset && r1.offset == (uint64_t)(rep + 1) * 17501);
            for (size_t i = 0; i < N; i++) e = fmax(e, fabs((double)y[i] - yr[i]));
        }
        const uint64_t rows[3] = {5, 0, 1ull << 33};
        CHECK_OK(be->uniform_rows(3, 999, 3, 44, 12, rows, lo, hi, y));
        CHECK_OK(ref->uniform_rows(3, 999, 3, 44, 12, rows, lo, hi, yr));
        for (size_t i = 0; i < 3 * 999; i++) e = fmax(e, fabs((double)y[i] - yr[i]));
        CHECK_MSG(e <= 2 * u, "%s noise: off ref by %.3g", be->name, e);
    }
    CHECK(tables >= 1);
    lg_free(x), lg_free(y), lg_free(yr);
}

static void test_dropout_mask(void) {
    const int n = 20000;
    lg_layer_spec s[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.5f}};
    lg_layer_spec s0[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.0f}};
    lg_net *net = make_net(s, 1, n, 1, 1, 1, LG_BACKEND_CPU);
    lg_net *net0 = make_net(s0, 1, n, 1, 1, 1, LG_BACKEND_CPU);
    float *x = lg_alloc_floats(n), *a = lg_alloc_floats(n);
    if (!net || !net0 || !x || !a) goto done;
    fill(x, n, 6, 0.5f, 1.5f);
    const float *y;
    lg_rng saved = *lg_net_rng(net);
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    memcpy(a, y, sizeof(float) * n);
    int zeros = 0, scaled = 1;
    for (int i = 0; i < n; i++) {
        zeros += a[i] == 0;
        if (a[i] != 0 && a[i] != x[i] * 2.0f) scaled = 0;
    }
    CHECK(scaled);
    CHECK_NEAR((double)zeros / n, 0.5, 0.02);
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y)); /* the stream moved on: a new mask */
    CHECK(memcmp(a, y, sizeof(float) * n) != 0);
    *lg_net_rng(net) = saved; /* same state, same mask */
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    CHECK(memcmp(a, y, sizeof(float) * n) == 0);
    CHECK_OK(lg_net_forward(net, x, 1, 0, &y)); /* eval: identity */
    CHECK(memcmp(x, y, sizeof(float) * n) == 0);
    CHECK_OK(lg_net_forward(net0, x, 1, 1, &y)); /* p = 0: identity in training too */
    CHECK(memcmp(x, y, sizeof(float) * n) == 0);
    CHECK_OK(lg_net_backward(net0, x, a, 1));
    CHECK(memcmp(x, a, sizeof(float) * n) == 0);
done:
    lg_free(x);
    lg_free(a);
    lg_net_free(net);
    lg_net_free(net0);
}

/* Spatial dropout keeps or drops whole maps: every plane is all zero or all
 * scaled, half of them dropped at p = 0.5; rows draw independently. */
static void test_spatial_dropout_mask(void) {
    const int ch = 4000, plane = 6;
    lg_layer_spec s[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.5f, .spatial = 1}};
    lg_net *net = make_net(s, 1, ch, 2, 3, 2, LG_BACKEND_CPU);
    float *x = lg_alloc_floats(2 * (size_t)ch * plane);
    if (!net || !x) goto done;
    fill(x, 2 * (size_t)ch * plane, 7, 0.5f, 1.5f);
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 2, 1, &y));
    int whole = 1, dropped = 0, rows_differ = 0;
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < ch; c++) {
            const size_t o = ((size_t)r * ch + c) * plane;
            const int z = y[o] == 0;
            dropped += z && r == 0;
            if (r == 1) rows_differ |= z != (y[(size_t)c * plane] == 0);
            for (int q = 0; q < plane; q++) whole &= z ? y[o + q] == 0 : y[o + q] == 2 * x[o + q];
        }
    CHECK(whole);
    CHECK_NEAR((double)dropped / ch, 0.5, 0.03);
    CHECK(rows_differ);
done:
    lg_free(x);
    lg_net_free(net);
}

static void test_upsample_values(void) {
    lg_layer_spec bil[] = {{.kind = LG_LAYER_UPSAMPLE_BILINEAR}};
    lg_layer_spec near[] = {{.kind = LG_LAYER_UPSAMPLE_NEAREST}};
    lg_net *b = make_net(bil, 1, 1, 2, 2, 1, LG_BACKEND_CPU);
    lg_net *nn = make_net(near, 1, 1, 2, 2, 1, LG_BACKEND_CPU);
    if (!b || !nn) goto done;
    const float x[4] = {1, 2, 3, 4};
    /* align_corners=False: taps 1/4, 3/4 from the nearer pixel, edges clamp.
     * Row [1 2] -> [1, 1.25, 1.75, 2]; column [1 3] -> [1, 1.5, 2.5, 3]. */
    const float want[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    const float *y;
    CHECK_OK(lg_net_forward(b, x, 1, 0, &y));
    for (int i = 0; i < 16; i++) CHECK_NEAR(y[i], want[i], 1e-6);
    CHECK_OK(lg_net_forward(nn, x, 1, 0, &y));
    for (int i = 0; i < 16; i++) CHECK(y[i] == x[(i / 8) * 2 + (i % 4) / 2]);
    /* Each input pixel feeds total weight 4 in both modes. */
    float ones[16], dx[4];
    for (int i = 0; i < 16; i++) ones[i] = 1;
    CHECK_OK(lg_net_backward(b, ones, dx, 0));
    for (int i = 0; i < 4; i++) CHECK_NEAR(dx[i], 4.0, 1e-6);
done:
    lg_net_free(b);
    lg_net_free(nn);
}

static void test_concat(void) {
    float a[2 * 1 * 2 * 2], b[2 * 2 * 2 * 2], o[2 * 3 * 4], da[8], db[16];
    for (int i = 0; i < 8; i++) a[i] = (float)i;
    for (int i = 0; i < 16; i++) b[i] = 100.0f + i;
    lg_tensor ta = lg_tensor4(a, 2, 1, 2, 2), tb = lg_tensor4(b, 2, 2, 2, 2);
    lg_tensor to = lg_tensor4(o, 2, 3, 2, 2);
    CHECK_OK(lg_concat_forward(&ta, &tb, &to));
    CHECK(o[0] == 0 && o[3] == 3 && o[4] == 100 && o[11] == 107 && o[12] == 4 && o[16] == 108);
    lg_tensor tda = lg_tensor4(da, 2, 1, 2, 2), tdb = lg_tensor4(db, 2, 2, 2, 2);
    CHECK_OK(lg_concat_backward(&to, &tda, &tdb));
    CHECK(memcmp(da, a, sizeof a) == 0 && memcmp(db, b, sizeof b) == 0);
    lg_tensor skip = lg_tensor4(NULL, 2, 1, 2, 2);
    memset(db, 0, sizeof db);
    CHECK_OK(lg_concat_backward(&to, &skip, &tdb));
    CHECK(memcmp(db, b, sizeof b) == 0);
    lg_tensor bad = lg_tensor4(o, 2, 4, 2, 2);
    CHECK_ERR(lg_concat_forward(&ta, &tb, &bad), LG_ERR_SHAPE);
    lg_tensor bad_h = lg_tensor4(b, 2, 2, 1, 4);
    CHECK_ERR(lg_concat_forward(&ta, &bad_h, &to), LG_ERR_SHAPE);
    CHECK_ERR(lg_concat_forward(NULL, &tb, &to), LG_ERR_ARG);
}

/* ---- CPU against REF at realistic sizes ---------------------------------- */

/* The activation ops of every table against ref's (double) definitions,
 * over a batch above the threading threshold and the special values.
 * Bounds, u = 2^-24: ReLU and LeakyReLU are one compare and at most one
 * multiply, so exact. Sigmoid: expf (glibc: <= 1 ulp = 2u), the add and
 * the division (u each), ref's final rounding (u): 5u |ref|. Tanh: tanhf
 * (glibc: <= 2 ulp), ref's rounding: 5u |ref|. Backward, from the same
 * y: Sigmoid rounds dy y, y (1 - y) and 1 - y (exact for y >= 1/2):
 * 4u |ref|. Tanh rounds y y, whose u y^2 the subtraction from 1 can leave
 * as all there is, then one multiply: |dy| u y^2 + 3u |ref|. */
static void test_act_ops_match_ref(void) {
    enum { N = 70001 };
    const lg_layer_kind acts[] = {LG_LAYER_RELU, LG_LAYER_LEAKY_RELU, LG_LAYER_SIGMOID,
                                  LG_LAYER_TANH};
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    const double u = 0x1p-24;
    float *x = lg_alloc_floats(N), *dy = lg_alloc_floats(N), *y = lg_alloc_floats(N);
    float *yr = lg_alloc_floats(N), *dx = lg_alloc_floats(N), *dxr = lg_alloc_floats(N);
    fill(x, N, 31, -9, 9);
    fill(dy, N, 32, -2, 2);
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 1e30f, -1e30f, 0.5f};
    memcpy(x, special, sizeof special);
    int tables = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue; /* cpu-bf16 where the CPU has no bf16 */
        tables++;
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
            const lg_layer_kind act = acts[a];
            const int smooth = act == LG_LAYER_SIGMOID || act == LG_LAYER_TANH;
            CHECK_OK(be->act_fwd(act, 0.2f, N, x, y));
            CHECK_OK(ref->act_fwd(act, 0.2f, N, x, yr));
            CHECK_OK(be->act_bwd(act, 0.2f, N, x, yr, dy, dx));
            CHECK_OK(ref->act_bwd(act, 0.2f, N, x, yr, dy, dxr));
            size_t bad_f = 0, bad_b = 0;
            for (size_t i = 0; i < N; i++) {
                const double ef = fabs((double)y[i] - yr[i]), eb = fabs((double)dx[i] - dxr[i]);
                const double y2 = (double)yr[i] * yr[i];
                const double bf = smooth ? 5 * u * fabs(yr[i]) : 0;
                const double bb = act == LG_LAYER_SIGMOID ? 4 * u * fabs(dxr[i])
                                  : act == LG_LAYER_TANH  ? fabs(dy[i]) * u * y2 + 3 * u * fabs(dxr[i])
                                                          : 0;
                bad_f += !(ef <= bf);
                bad_b += !(eb <= bb);
            }
            CHECK_MSG(bad_f == 0 && bad_b == 0, "%s activation %d: %zu forward, %zu backward values "
                      "off ref beyond the bound", be->name, (int)act, bad_f, bad_b);
        }
        /* in place, as nets run them */
        memcpy(y, x, sizeof(float) * N);
        CHECK_OK(be->act_fwd(LG_LAYER_RELU, 0, N, y, y));
        CHECK_OK(ref->act_fwd(LG_LAYER_RELU, 0, N, x, yr));
        CHECK(memcmp(y, yr, sizeof(float) * N) == 0);
        CHECK_ERR(be->act_fwd(LG_LAYER_CONV2D, 0, N, x, y), LG_ERR_ARG);
        CHECK(strstr(lg_errmsg(), "not an activation") != NULL);
    }
    CHECK(tables >= 1);
    CHECK_ERR(ref->act_bwd(LG_LAYER_LINEAR, 0, N, x, yr, dy, dx), LG_ERR_ARG);
    lg_free(x), lg_free(dy), lg_free(y), lg_free(yr), lg_free(dx), lg_free(dxr);
}

/* The 2x upsampling ops of every table against ref, which derives its taps
 * from the source coordinate o/2 - 1/4 (the cpu tables hard-code 1/4, 3/4):
 * nearest is copies and sums of copies, so exact forward and within 4u of
 * the sum of |dy| backward (four outputs per input, u = 2^-24); bilinear
 * rounds each of its products and sums (weights in [0, 1]), so within
 * 6u sum w |x| forward and (16 + 6)u sum w |dy| backward, bounded by
 * 6u max|x| and 22u * 4 max|dy|. Odd and even sizes, 1 x 1 planes. */
static void test_up2_ops_match_ref(void) {
    const int shapes[][3] = {{3, 7, 5}, {2, 1, 1}, {4, 8, 8}, {1, 2, 9}};
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    const double u = 0x1p-24;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int bil = 0; bil < 2; bil++) {
                const int pl = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
                const size_t nx = (size_t)pl * h * w, ny = 4 * nx;
                float *x = lg_alloc_floats(nx), *y = lg_alloc_floats(ny), *yr = lg_alloc_floats(ny);
                float *dy = lg_alloc_floats(ny), *dx = lg_alloc_floats(nx), *dxr = lg_alloc_floats(nx);
                fill(x, nx, 41 + s, -3, 3);
                fill(dy, ny, 51 + s, -3, 3);
                CHECK_OK(be->up2_fwd(bil, pl, h, w, x, y));
                CHECK_OK(ref->up2_fwd(bil, pl, h, w, x, yr));
                CHECK_OK(be->up2_bwd(bil, pl, h, w, dy, dx));
                CHECK_OK(ref->up2_bwd(bil, pl, h, w, dy, dxr));
                const double bf = bil ? 6 * u * max_abs(x, nx) : 0;
                const double bb = (bil ? 22 : 4) * u * 4 * max_abs(dy, ny);
                double ef = 0, eb = 0;
                for (size_t i = 0; i < ny; i++) ef = fmax(ef, fabs((double)y[i] - yr[i]));
                for (size_t i = 0; i < nx; i++) eb = fmax(eb, fabs((double)dx[i] - dxr[i]));
                CHECK_MSG(ef <= bf && eb <= bb, "%s %s up2 %dx%dx%d: fwd off %.3g (bound %.3g), "
                          "bwd off %.3g (bound %.3g)", be->name, bil ? "bilinear" : "nearest", pl,
                          h, w, ef, bf, eb, bb);
                lg_free(x), lg_free(y), lg_free(yr), lg_free(dy), lg_free(dx), lg_free(dxr);
            }
    }
}

/* Batch norm of every table against ref (double), both statistics modes,
 * affine or not, per element within bounds from float32 rounding (u =
 * 2^-24), for the cpu's float32 steps:
 * forward: mean and variance come from double sums (u each when rounded),
 *   invstd = 1/sqrtf(var + eps) picks up 4u, scale = gamma invstd and
 *   shift = beta - mean scale u each, y = x scale + shift 2u: within
 *   8u (|x - mean| |scale| + |mean scale| + |beta|); running statistics
 *   (1 - mom) r + mom v within 4u (|r| + |v|);
 * backward: per (sample, channel) row the cpu sums s float32 terms (the
 *   sum's error at most s u of the sum of |terms|, each term 2u off), then
 *   adds the rows in double: dgamma within (s + 4)u sum |dy (x - mean)|
 *   invstd, dbeta within (s + 1)u sum |dy|; dx = g (dy - cdy - (x -
 *   mean) cx) within |g| (6u (|dy| + |cdy| + |x - mean| |cx|) + the sums'
 *   errors divided by m). */
static void test_bn_ops_match_ref(void) {
    enum { N = 5, CH = 3, S = 7 * 6 };
    const size_t nx = (size_t)N * CH * S, m = (size_t)N * S;
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    const double u = 0x1p-24;
    float x[N * CH * S], dy[N * CH * S], y[N * CH * S], yr[N * CH * S], dx[N * CH * S],
        dxr[N * CH * S];
    fill(x, nx, 61, -2, 3); /* a mean away from 0 */
    fill(dy, nx, 62, -1, 1);
    const float gamma[CH] = {1.5f, -0.7f, 0.2f}, beta[CH] = {0.3f, -1.1f, 0.0f};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue;
        for (int mode = 0; mode < 4; mode++) {
            const int batch = mode & 1, affine = mode >> 1;
            const lg_bn_desc d = {.n = N, .ch = CH, .s = S, .batch_stats = batch, .eps = 1e-5f,
                                  .momentum = 0.1f};
            float rm[CH] = {0.2f, -0.4f, 1.0f}, rv[CH] = {1.3f, 0.8f, 2.0f};
            float rmr[CH], rvr[CH], mean[CH], is[CH], meanr[CH], isr[CH];
            memcpy(rmr, rm, sizeof rm), memcpy(rvr, rv, sizeof rv);
            const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;
            CHECK_OK(be->bn_fwd(&d, g, b, rm, rv, x, y, mean, is));
            CHECK_OK(ref->bn_fwd(&d, g, b, rmr, rvr, x, yr, meanr, isr));
            int bad = 0;
            for (int c = 0; c < CH; c++) {
                const double sc = fabs((affine ? gamma[c] : 1.0) * isr[c]);
                bad += !(fabs((double)mean[c] - meanr[c]) <= 2 * u * fabs(meanr[c]));
                bad += !(fabs((double)is[c] - isr[c]) <= 5 * u * isr[c]);
                /* the unbiased variance the running one moved towards */
                const double vu = (1.0 / ((double)isr[c] * isr[c]) - 1e-5) * m / (m - 1.0);
                bad += !(fabs((double)rm[c] - rmr[c]) <= 4 * u * (fabs(rmr[c]) + fabs(meanr[c])));
                bad += !(fabs((double)rv[c] - rvr[c]) <= 4 * u * (fabs(rvr[c]) + vu));
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < S; j++) {
                        const size_t q = ((size_t)i * CH + c) * S + j;
                        const double bound = 8 * u * (fabs(x[q] - meanr[c]) * sc +
                                                      fabs(meanr[c]) * sc + (affine ? fabs(beta[c]) : 0));
                        bad += !(fabs((double)y[q] - yr[q]) <= bound);
                    }
            }
            CHECK_MSG(bad == 0, "%s bn forward (batch %d, affine %d): %d values off ref", be->name,
                      batch, affine, bad);
            /* backward from the same statistics */
            float dg[CH] = {0.5f, 0, -0.25f}, db[CH] = {0, 1, 0}, dgr[CH], dbr[CH];
            memcpy(dgr, dg, sizeof dg), memcpy(dbr, db, sizeof db);
            CHECK_OK(be->bn_bwd(&d, g, meanr, isr, x, dy, dx, affine ? dg : NULL, affine ? db : NULL));
            CHECK_OK(ref->bn_bwd(&d, g, meanr, isr, x, dy, dxr, affine ? dgr : NULL,
                                 affine ? dbr : NULL));
            bad = 0;
            for (int c = 0; c < CH; c++) {
                double a1 = 0, a2 = 0;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < S; j++) {
                        const size_t q = ((size_t)i * CH + c) * S + j;
                        a1 += fabs(dy[q]);
                        a2 += fabs(dy[q] * (x[q] - meanr[c])) * isr[c];
                    }
                if (affine) {
                    bad += !(fabs((double)dg[c] - dgr[c]) <= (S + 4) * u * a2 + u * fabs(dgr[c]));
                    bad += !(fabs((double)db[c] - dbr[c]) <= (S + 1) * u * a1 + u * fabs(dbr[c]));
                }
                const double gg = fabs((affine ? gamma[c] : 1.0) * isr[c]);
                const double cdy = batch ? a1 / m : 0, cx = batch ? a2 / m * isr[c] : 0;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < S; j++) {
                        const size_t q = ((size_t)i * CH + c) * S + j;
                        const double xm = fabs(x[q] - meanr[c]);
                        const double bound = gg * (6 * u * (fabs(dy[q]) + cdy + xm * cx) +
                                                   (S + 4) * u * (cdy + xm * cx)) + u * fabs(dxr[q]);
                        bad += !(fabs((double)dx[q] - dxr[q]) <= bound);
                    }
            }
            CHECK_MSG(bad == 0, "%s bn backward (batch %d, affine %d): %d values off ref", be->name,
                      batch, affine, bad);
        }
    }
}

/* The bias broadcast is copies (exact); its gradient sums n float32 values
 * onto db: within n u (|db| + sum |dy|) of ref's double sum. */
static void test_bias_rows_ops_match_ref(void) {
    enum { N = 300, K = 257 };
    const lg_backend_kind kinds[] = {LG_BACKEND_CPU, LG_BACKEND_CPU_BF16};
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    float *b = lg_alloc_floats(K), *y = lg_alloc_floats((size_t)N * K);
    float *yr = lg_alloc_floats((size_t)N * K), *dy = lg_alloc_floats((size_t)N * K);
    float db[K], dbr[K];
    fill(b, K, 71, -1, 1);
    fill(dy, (size_t)N * K, 72, -1, 1);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const lg_backend *be = lg_backend_get(kinds[k]);
        if (!be) continue;
        CHECK_OK(be->bias_rows(N, K, b, y));
        CHECK_OK(ref->bias_rows(N, K, b, yr));
        CHECK(memcmp(y, yr, sizeof(float) * N * K) == 0);
        for (int j = 0; j < K; j++) db[j] = dbr[j] = (float)j / K;
        CHECK_OK(be->bias_rows_grad(N, K, dy, db));
        CHECK_OK(ref->bias_rows_grad(N, K, dy, dbr));
        int bad = 0;
        for (int j = 0; j < K; j++) {
            double a = (double)j / K;
            for (int i = 0; i < N; i++) a += fabs(dy[(size_t)i * K + j]);
            bad += !(fabs((double)db[j] - dbr[j]) <= (N + 1) * 0x1p-24 * a);
        }
        CHECK_MSG(bad == 0, "%s bias gradient: %d values off ref", be->name, bad);
    }
    lg_free(b), lg_free(y), lg_free(yr), lg_free(dy);
}

static void test_cpu_matches_ref_conv5x5(void) {
    lg_layer_spec s[] = {{.kind = LG_LAYER_CONV2D, .out = 32, .k = 5, .pad = 2}};
    const int n = 4, nx = n * 16 * 14 * 14, ny = n * 32 * 14 * 14;
    lg_net *ref = make_net(s, 1, 16, 14, 14, n, LG_BACKEND_REF);
    lg_net *cpu = make_net(s, 1, 16, 14, 14, n, LG_BACKEND_CPU);
    float *x = lg_alloc_floats(nx), *dy = lg_alloc_floats(ny), *yr = lg_alloc_floats(ny);
    float *dxr = lg_alloc_floats(nx), *dxc = lg_alloc_floats(nx);
    if (!ref || !cpu || !x || !dy || !yr || !dxr || !dxc) goto done;
    fill(x, nx, 21, -1, 1);
    fill(dy, ny, 22, -1, 1);
    const float *y;
    size_t np;
    CHECK_OK(lg_net_forward(ref, x, n, 1, &y));
    memcpy(yr, y, sizeof(float) * ny);
    CHECK_OK(lg_net_backward(ref, dy, dxr, 1));
    CHECK_OK(lg_net_forward(cpu, x, n, 1, &y));
    CHECK(rel_inf(y, yr, ny) < 1e-5);
    CHECK_OK(lg_net_backward(cpu, dy, dxc, 1));
    CHECK(rel_inf(dxc, dxr, nx) < 1e-5);
    float *gr = lg_net_grads(ref, &np), *gc = lg_net_grads(cpu, NULL);
    CHECK(np == 32 * 16 * 25 + 32);
    CHECK_MSG(rel_inf(gc, gr, np - 32) < 1e-5, "dw %.3g", rel_inf(gc, gr, np - 32));
    CHECK_MSG(rel_inf(gc + np - 32, gr + np - 32, 32) < 1e-5, "db");
    CHECK(max_abs(gr, np) > 1);
done:
    lg_free(x);
    lg_free(dy);
    lg_free(yr);
    lg_free(dxr);
    lg_free(dxc);
    lg_net_free(ref);
    lg_net_free(cpu);
}

/* The im2col kernels directly (the CPU table may route convs elsewhere), on a
 * batch one image longer than a chunk: both the multi-image and the
 * single-image GEMM paths run. */
static void im2col_case(int groups) {
    lg_conv_desc d = {.n = 1, .ci = 8, .hi = 28, .wi = 28, .co = 8, .kh = 5, .kw = 5,
                      .stride = 1, .pad = 2, .ho = 28, .wo = 28, .groups = groups};
    d.n = 1 << 20;
    const int chunk = lg_cpu_im2col_chunk(&d);
    CHECK(chunk > 1 && chunk < 100);
    d.n = chunk + 1;
    const lg_backend *ref = lg_backend_get(LG_BACKEND_REF);
    size_t nx = (size_t)d.n * 8 * 28 * 28, nw = 8 * 8 / groups * 25, ny = nx;
    float *x = lg_alloc_floats(nx), *w = lg_alloc_floats(nw), *b = lg_alloc_floats(8);
    float *y1 = lg_alloc_floats(ny), *y2 = lg_alloc_floats(ny), *dx1 = lg_alloc_floats(nx);
    float *dx2 = lg_alloc_floats(nx), *dw1 = lg_alloc_floats(nw + 8), *dw2 = lg_alloc_floats(nw + 8);
    float *ws = lg_alloc_floats(lg_cpu_im2col_conv_workspace(&d));
    if (!x || !w || !b || !y1 || !y2 || !dx1 || !dx2 || !dw1 || !dw2 || !ws) goto done;
    fill(x, nx, 31, -1, 1);
    fill(w, nw, 32, -0.1f, 0.1f);
    fill(b, 8, 33, -1, 1);
    ref->conv_fwd(&d, x, w, b, y1, NULL);
    lg_cpu_im2col_conv_fwd(&d, x, w, b, y2, ws);
    CHECK(rel_inf(y2, y1, ny) < 1e-5);
    ref->conv_bwd_data(&d, y1, w, dx1, NULL);
    lg_cpu_im2col_conv_bwd_data(&d, y1, w, dx2, ws);
    CHECK(rel_inf(dx2, dx1, nx) < 1e-5);
    ref->conv_bwd_filter(&d, x, y1, dw1, dw1 + nw, NULL);
    lg_cpu_im2col_conv_bwd_filter(&d, x, y1, dw2, dw2 + nw, ws);
    CHECK(rel_inf(dw2, dw1, nw) < 1e-5 && rel_inf(dw2 + nw, dw1 + nw, 8) < 1e-5);
done:
    lg_free(x), lg_free(w), lg_free(b), lg_free(y1), lg_free(y2);
    lg_free(dx1), lg_free(dx2), lg_free(dw1), lg_free(dw2), lg_free(ws);
}

static void test_im2col_chunks(void) {
    im2col_case(1);
    im2col_case(4); /* one GEMM per group on its blocks of rows */
}

/* ---- networks: naming, flags, determinism -------------------------------- */

static const lg_layer_spec mlp[] = {
    {.kind = LG_LAYER_FLATTEN},
    {.kind = LG_LAYER_LINEAR, .out = 6},
    {.kind = LG_LAYER_RELU},
    {.kind = LG_LAYER_DROPOUT, .p = 0.5f},
    {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM},
    {.kind = LG_LAYER_LINEAR, .out = 1},
};

static void test_tensor_table(void) {
    lg_net *net = make_net(mlp, 6, 3, 2, 2, 4, LG_BACKEND_CPU);
    if (!net) return;
    CHECK(lg_net_tensor_count(net) == 8);
    lg_net_tensor_info t;
    CHECK_OK(lg_net_tensor_info_at(net, 0, &t));
    CHECK(!strcmp(t.name, "1.linear.weight") && t.kind == 0 && t.offset == 0 && t.numel == 72 &&
          t.ndim == 2 && t.shape[0] == 6 && t.shape[1] == 12);
    CHECK_OK(lg_net_tensor_info_at(net, 1, &t));
    CHECK(!strcmp(t.name, "1.linear.bias") && t.offset == 72 && t.ndim == 1 && t.shape[0] == 6);
    CHECK_OK(lg_net_tensor_info_at(net, 4, &t));
    CHECK(!strcmp(t.name, "4.batchnorm.running_mean") && t.kind == 1 && t.offset == 0);
    CHECK_OK(lg_net_tensor_info_at(net, 5, &t));
    CHECK(!strcmp(t.name, "4.batchnorm.running_var") && t.kind == 1 && t.offset == 6);
    CHECK_OK(lg_net_tensor_info_at(net, 7, &t));
    CHECK(!strcmp(t.name, "5.linear.bias") && t.offset + t.numel == 72 + 6 + 12 + 6 + 1);
    size_t np, nb;
    lg_net_params(net, &np);
    lg_net_buffers(net, &nb);
    CHECK(np == 97 && nb == 12);
    CHECK_ERR(lg_net_tensor_info_at(net, 8, &t), LG_ERR_ARG);
    CHECK_NEAR(lg_net_forward_flops(net), 2.0 * (72 + 6), 0);
    lg_layer_spec conv[] = {{.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .stride = 2}};
    lg_net *c = make_net(conv, 1, 2, 7, 7, 1, LG_BACKEND_CPU);
    CHECK_NEAR(lg_net_forward_flops(c), 2.0 * 4 * 2 * 9 * 3 * 3, 0);
    int oc, oh, ow;
    lg_net_out_shape(c, &oc, &oh, &ow);
    CHECK(oc == 4 && oh == 3 && ow == 3);
    lg_net_free(c);
    lg_net_free(net);
}

static void test_init_distributions(void) {
    lg_layer_spec t[] = {{.kind = LG_LAYER_LINEAR, .out = 400}};
    lg_layer_spec nrm[] = {{.kind = LG_LAYER_CONV2D, .out = 64, .k = 5, .init = LG_INIT_NORMAL},
                           {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM,
                            .init = LG_INIT_NORMAL}};
    lg_net *a = make_net(t, 1, 25, 1, 1, 1, LG_BACKEND_CPU);
    lg_net *b = make_net(nrm, 2, 3, 8, 8, 2, LG_BACKEND_CPU);
    if (!a || !b) goto done;
    size_t n;
    float *p = lg_net_params(a, &n);
    double lo = 1, hi = -1;
    for (size_t i = 0; i < n; i++) lo = p[i] < lo ? p[i] : lo, hi = p[i] > hi ? p[i] : hi;
    CHECK(lo >= -0.2 && hi <= 0.2 && lo < -0.19 && hi > 0.19); /* U(-1/sqrt 25, 1/sqrt 25) */
    p = lg_net_params(b, &n);
    const size_t nw = 64 * 3 * 25;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < nw; i++) s += p[i], s2 += (double)p[i] * p[i];
    CHECK_NEAR(s / nw, 0, 0.002);
    CHECK_NEAR(sqrt(s2 / nw), 0.02, 0.002);
    CHECK(max_abs(p + nw, 64) == 0); /* conv bias */
    double gm = 0;
    for (int i = 0; i < 64; i++) gm += p[nw + 64 + i] / 64.0;
    CHECK_NEAR(gm, 1.0, 0.01); /* gamma ~ N(1, 0.02) */
    CHECK(p[nw + 64] != 1.0f && max_abs(p + nw + 128, 64) == 0);
done:
    lg_net_free(a);
    lg_net_free(b);
}

static void test_grad_flags(void) {
    lg_net *net = make_net(mlp, 6, 3, 2, 2, 4, LG_BACKEND_CPU);
    float x[48], dy[4], dx1[48], dx2[48], g1[97];
    if (!net) return;
    fill(x, 48, 41, -1, 1);
    fill(dy, 4, 42, -1, 1);
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 4, 1, &y));
    CHECK_OK(lg_net_backward(net, dy, dx1, 1));
    memcpy(g1, lg_net_grads(net, NULL), sizeof g1);
    CHECK(max_abs(g1, 97) > 0);
    CHECK_OK(lg_net_backward(net, dy, dx2, 0)); /* input gradient only: grads untouched */
    CHECK(memcmp(dx1, dx2, sizeof dx1) == 0 && memcmp(g1, lg_net_grads(net, NULL), sizeof g1) == 0);
    lg_net_zero_grad(net);
    CHECK(max_abs(lg_net_grads(net, NULL), 97) == 0);
    CHECK_OK(lg_net_backward(net, dy, NULL, 1)); /* parameter gradients only */
    CHECK(memcmp(g1, lg_net_grads(net, NULL), sizeof g1) == 0);
    CHECK_OK(lg_net_backward(net, dy, NULL, 1)); /* gradients accumulate */
    float *g = lg_net_grads(net, NULL);
    for (int i = 0; i < 97; i++) CHECK_NEAR(g[i], 2 * g1[i], 1e-6 * (1 + fabs(g1[i])));
    lg_net_free(net);
}

static void test_determinism(void) {
    lg_layer_spec s[] = {
        {.kind = LG_LAYER_CONV2D, .out = 16, .k = 5, .pad = 2},
        {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM},
        {.kind = LG_LAYER_RELU},
        {.kind = LG_LAYER_DROPOUT, .p = 0.5f},
        {.kind = LG_LAYER_CONV2D, .out = 8, .k = 5, .stride = 2},
        {.kind = LG_LAYER_FLATTEN},
        {.kind = LG_LAYER_LINEAR, .out = 1},
    };
    const int n = 8, nx = n * 3 * 14 * 14;
    lg_net *a = make_net(s, 7, 3, 14, 14, n, LG_BACKEND_CPU);
    lg_net *b = make_net(s, 7, 3, 14, 14, n, LG_BACKEND_CPU);
    lg_net_cfg other = {.c = 3, .h = 14, .w = 14, .max_batch = n, .seed = 8};
    lg_net *c = NULL;
    CHECK_OK(lg_net_new(&c, s, 7, &other));
    float *x = lg_alloc_floats(nx), *dx1 = lg_alloc_floats(nx), *dx2 = lg_alloc_floats(nx);
    float y1[8], dy[8];
    if (!a || !b || !c || !x || !dx1 || !dx2) goto done;
    size_t np;
    float *pa = lg_net_params(a, &np);
    CHECK(memcmp(pa, lg_net_params(b, NULL), sizeof(float) * np) == 0);
    CHECK(memcmp(pa, lg_net_params(c, NULL), sizeof(float) * np) != 0);
    fill(x, nx, 51, -1, 1);
    fill(dy, n, 52, -1, 1);
    const float *y;
    lg_rng rng = *lg_net_rng(a);
    CHECK_OK(lg_net_forward(a, x, n, 1, &y));
    memcpy(y1, y, sizeof y1);
    CHECK_OK(lg_net_backward(a, dy, dx1, 1));
    float *g1 = lg_alloc_floats(np);
    if (!g1) goto done;
    memcpy(g1, lg_net_grads(a, NULL), sizeof(float) * np);
    /* Same state again: identical bits everywhere. */
    lg_net_zero_grad(a);
    memcpy(lg_net_buffers(a, NULL), lg_net_buffers(b, NULL), sizeof(float) * 32);
    *lg_net_rng(a) = rng;
    CHECK_OK(lg_net_forward(a, x, n, 1, &y));
    CHECK(memcmp(y1, y, sizeof y1) == 0);
    CHECK_OK(lg_net_backward(a, dy, dx2, 1));
    CHECK(memcmp(dx1, dx2, sizeof(float) * nx) == 0);
    CHECK(memcmp(g1, lg_net_grads(a, NULL), sizeof(float) * np) == 0);
    /* The twin net, fed the same, agrees bit for bit. */
    CHECK_OK(lg_net_forward(b, x, n, 1, &y));
    CHECK(memcmp(y1, y, sizeof y1) == 0);
    lg_free(g1);
done:
    lg_free(x);
    lg_free(dx1);
    lg_free(dx2);
    lg_net_free(a);
    lg_net_free(b);
    lg_net_free(c);
}

/* Dropout masks come from Philox by element index: the thread count must not
 * change them (the fill is parallel above 65536 elements). */
static void test_dropout_thread_independent(void) {
    const int n = 100000;
    lg_layer_spec s[] = {{.kind = LG_LAYER_DROPOUT, .p = 0.3f}};
    lg_net *net = make_net(s, 1, n, 1, 1, 1, LG_BACKEND_CPU);
    float *x = lg_alloc_floats(n), *a = lg_alloc_floats(n);
    if (!net || !x || !a) goto done;
    fill(x, n, 61, 1, 2);
    const int threads = lg_get_threads();
    lg_rng rng = *lg_net_rng(net);
    const float *y;
    lg_set_threads(1);
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    memcpy(a, y, sizeof(float) * n);
    lg_set_threads(2);
    *lg_net_rng(net) = rng;
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    CHECK(memcmp(a, y, sizeof(float) * n) == 0);
    lg_set_threads(threads);
done:
    lg_free(x);
    lg_free(a);
    lg_net_free(net);
}

/* ---- optimisers ---------------------------------------------------------- */

static void test_sgd_momentum(void) {
    lg_optim_cfg cfg = lg_optim_defaults(LG_OPT_SGD, 0.1f);
    cfg.momentum = 0.9f;
    lg_optim *o;
    CHECK_OK(lg_optim_new(&o, &cfg, 2));
    if (!o) return;
    float p[2] = {1, -2}, g[2] = {0.5f, 0.25f};
    /* v1 = g; v2 = 0.9 g + g; v3 = 0.9 v2 + g; p -= 0.1 v each step:
     * p[0]: 1 - .05 = .95, - .095 = .855, - .1355 = .7195
     * p[1]: -2 - .025 = -2.025, - .0475 = -2.0725, - .06775 = -2.14025 */
    const float want[3][2] = {{0.95f, -2.025f}, {0.855f, -2.0725f}, {0.7195f, -2.14025f}};
    for (int s = 0; s < 3; s++) {
        CHECK_OK(lg_optim_step(o, p, g, 0));
        CHECK_NEAR(p[0], want[s][0], 1e-6);
        CHECK_NEAR(p[1], want[s][1], 1e-6);
    }
    size_t n;
    float *st = lg_optim_state(o, &n);
    CHECK(n == 2 && fabs(st[0] - 1.355) < 1e-6 && *lg_optim_t(o) == 3);
    lg_optim_free(o);
    /* Weight decay without momentum: p -= lr (g + wd p). 1 -> .95 -> .9025 */
    lg_optim_cfg wd = lg_optim_defaults(LG_OPT_SGD, 0.1f);
    wd.weight_decay = 0.5f;
    CHECK_OK(lg_optim_new(&o, &wd, 1));
    float q = 1, zero = 0;
    CHECK_OK(lg_optim_step(o, &q, &zero, 0));
    CHECK_NEAR(q, 0.95, 1e-7);
    CHECK_OK(lg_optim_step(o, &q, &zero, 0));
    CHECK_NEAR(q, 0.9025, 1e-7);
    lg_optim_free(o);
}

static void test_adam(void) {
    lg_optim_cfg cfg = lg_optim_defaults(LG_OPT_ADAM, 0.1f);
    lg_optim *o;
    CHECK_OK(lg_optim_new(&o, &cfg, 2));
    if (!o) return;
    float p[2] = {1, -2};
    const float g[3][2] = {{0.5f, 0.1f}, {-0.25f, 0.3f}, {0.125f, -0.2f}};
    /* Step 1: m = .05, v = .00025, m/(1-.9) = .5, sqrt(v/(1-.999)) = .5, so
     * p[0] = 1 - .1 = .9. Step 2: m = .02, v = .00031225; m^ = .02/.19 =
     * .1052632, v^ = .00031225/.001999 = .1562031, p[0] = .9 - .1 * .1052632 /
     * .3952254 = .8733664. Step 3 and p[1] from the same recurrences; all three
     * agree with torch.optim.Adam (1.13) to 1e-7. */
    const float want[3][2] = {{0.900000036f, -2.0999999f},
                              {0.873366356f, -2.19177794f},
                              {0.839323461f, -2.2175684f}};
    for (int s = 0; s < 3; s++) {
        CHECK_OK(lg_optim_step(o, p, g[s], 0));
        CHECK_NEAR(p[0], want[s][0], 2e-6);
        CHECK_NEAR(p[1], want[s][1], 2e-6);
    }
    size_t n;
    lg_optim_state(o, &n);
    CHECK(n == 4 && *lg_optim_t(o) == 3);
    lg_optim_free(o);
    /* L2 weight decay and custom betas (torch: lr .01, betas (.5, .99), wd .1). */
    lg_optim_cfg wd = lg_optim_defaults(LG_OPT_ADAM, 0.01f);
    wd.beta1 = 0.5f, wd.beta2 = 0.99f, wd.weight_decay = 0.1f;
    CHECK_OK(lg_optim_new(&o, &wd, 2));
    float q[2] = {1, -2};
    CHECK_OK(lg_optim_step(o, q, g[0], 0));
    CHECK_OK(lg_optim_step(o, q, g[1], 0));
    CHECK_NEAR(q[0], 0.987724483, 2e-6);
    CHECK_NEAR(q[1], -1.99338293, 2e-6);
    lg_optim_free(o);
}

/* 0 is a setting, not "the default": Adam with beta1 = 0 keeps no first
 * moment (m = g), and each field of lg_optim_defaults is the library's. */
static void test_optim_zero_settings(void) {
    lg_optim_cfg d = lg_optim_defaults(LG_OPT_ADAM, 0.1f);
    CHECK(d.beta1 == 0.9f && d.beta2 == 0.999f && d.eps == 1e-8f && d.momentum == 0 &&
          d.mom_max == 1 && d.sgd_style == LG_SGD_PYTORCH);
    lg_optim_cfg cfg = d;
    cfg.beta1 = 0;
    float lr, mom;
    lg_optim_schedule(&cfg, 0, &lr, &mom);
    CHECK(mom == 0);
    lg_optim *o;
    CHECK_OK(lg_optim_new(&o, &cfg, 1));
    if (!o) return;
    const double g[2] = {0.5, -0.25}, b2 = 0.999, eps = 1e-8;
    double v = 0, want = 1;
    float p = 1;
    for (int t = 1; t <= 2; t++) {
        float gf = (float)g[t - 1];
        CHECK_OK(lg_optim_step(o, &p, &gf, 0));
        v = b2 * v + (1 - b2) * g[t - 1] * g[t - 1];
        want -= 0.1 * g[t - 1] / (sqrt(v) / sqrt(1 - pow(b2, t)) + eps); /* m = g */
    }
    CHECK_NEAR(p, want, 2e-6); /* 0.963255; beta1 0.9 would give 0.873366 */
    CHECK(fabs(p - 0.873366) > 0.05);
    size_t n;
    const float *st = lg_optim_state(o, &n);
    CHECK(n == 2 && st[0] == -0.25f); /* m is the last gradient */
    lg_optim_free(o);
}

static void test_schedule(void) {
    lg_optim_cfg cfg = {.kind = LG_OPT_SGD, .lr = 0.1f, .momentum = 0.5f, .lr_decay = 0.1f,
                        .lr_min = 0.01f, .mom_step = 0.01f, .mom_max = 0.7f};
    float lr, mom;
    lg_optim_schedule(&cfg, 0, &lr, &mom);
    CHECK_NEAR(lr, 0.1, 1e-7);
    CHECK_NEAR(mom, 0.5, 1e-7);
    lg_optim_schedule(&cfg, 10, &lr, &mom);
    CHECK_NEAR(lr, 0.1 / pow(1.1, 10), 1e-7); /* 0.0385543 */
    CHECK_NEAR(mom, 0.6, 1e-6);
    lg_optim_schedule(&cfg, 1000, &lr, &mom);
    CHECK_NEAR(lr, 0.01, 1e-9); /* floor */
    CHECK_NEAR(mom, 0.7, 1e-7); /* cap */
    cfg.mom_max = 1; /* no cap below 1 */
    lg_optim_schedule(&cfg, 30, &lr, &mom);
    CHECK_NEAR(mom, 0.8, 1e-6);
    cfg.mom_max = 0; /* a cap of 0 is a cap: no momentum at all */
    lg_optim_schedule(&cfg, 30, &lr, &mom);
    CHECK(mom == 0);
    /* The step uses the schedule: at epoch 1000, v = g, p -= 0.01 g. */
    cfg.mom_max = 0.7f;
    lg_optim *o;
    CHECK_OK(lg_optim_new(&o, &cfg, 1));
    float p = 1, g = 1;
    CHECK_OK(lg_optim_step(o, &p, &g, 1000));
    CHECK_NEAR(p, 0.99, 1e-7);
    lg_optim_free(o);
}

/* ---- bad input ----------------------------------------------------------- */

static void test_bad_input(void) {
    lg_net *net = NULL;
    lg_net_cfg cfg = {.c = 1, .h = 6, .w = 6, .max_batch = 2};
    lg_layer_spec ok[] = {{.kind = LG_LAYER_RELU}};
    CHECK_ERR(lg_net_new(NULL, ok, 1, &cfg), LG_ERR_ARG);
    CHECK_ERR(lg_net_new(&net, NULL, 1, &cfg), LG_ERR_ARG);
    CHECK_ERR(lg_net_new(&net, ok, 1, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_net_new(&net, ok, 0, &cfg), LG_ERR_ARG);
    lg_net_cfg nob = cfg;
    nob.max_batch = 0;
    CHECK_ERR(lg_net_new(&net, ok, 1, &nob), LG_ERR_ARG);
    lg_net_cfg noc = cfg;
    noc.c = 0;
    CHECK_ERR(lg_net_new(&net, ok, 1, &noc), LG_ERR_ARG);

    lg_layer_spec big[] = {{.kind = LG_LAYER_RELU},
                           {.kind = LG_LAYER_CONV2D, .out = 2, .k = 3},
                           {.kind = LG_LAYER_CONV2D, .out = 2, .k = 5}};
    CHECK_ERR(lg_net_new(&net, big, 3, &cfg), LG_ERR_SHAPE);
    CHECK_MSG(strstr(lg_errmsg(), "layer 2 (conv2d): input 4x4 smaller than kernel 5"), "%s",
              lg_errmsg());
    CHECK(net == NULL);
    lg_layer_spec resh[] = {{.kind = LG_LAYER_RESHAPE, .c = 5, .h = 7, .w = 1}};
    CHECK_ERR(lg_net_new(&net, resh, 1, &cfg), LG_ERR_SHAPE);
    CHECK(strstr(lg_errmsg(), "layer 0 (reshape)") != NULL);
    lg_layer_spec lin0[] = {{.kind = LG_LAYER_FLATTEN}, {.kind = LG_LAYER_LINEAR, .out = 0}};
    CHECK_ERR(lg_net_new(&net, lin0, 2, &cfg), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "layer 1 (linear)") != NULL);
    lg_layer_spec grp[] = {{.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .groups = 3}};
    lg_net_cfg c6 = cfg;
    c6.c = 6;
    CHECK_ERR(lg_net_new(&net, grp, 1, &c6), LG_ERR_SHAPE);
    CHECK_MSG(strstr(lg_errmsg(), "layer 0 (conv2d): 3 groups do not divide 6 input and 4 output"),
              "%s", lg_errmsg());
    lg_layer_spec pool[] = {{.kind = LG_LAYER_FEATURE_L2POOL, .k = 4}};
    CHECK_ERR(lg_net_new(&net, pool, 1, &c6), LG_ERR_SHAPE);
    CHECK_MSG(strstr(lg_errmsg(), "layer 0 (feature_l2pool): pool width 4 does not divide 6 maps"),
              "%s", lg_errmsg());
    lg_layer_spec kind[] = {{.kind = (lg_layer_kind)99}};
    CHECK_ERR(lg_net_new(&net, kind, 1, &cfg), LG_ERR_ARG);
    lg_layer_spec drop[] = {{.kind = LG_LAYER_DROPOUT, .p = 1.5f}};
    CHECK_ERR(lg_net_new(&net, drop, 1, &cfg), LG_ERR_ARG);
    lg_layer_spec k0[] = {{.kind = LG_LAYER_CONV2D, .out = 2, .k = 0}};
    CHECK_ERR(lg_net_new(&net, k0, 1, &cfg), LG_ERR_ARG);

    CHECK_OK(lg_net_new(&net, ok, 1, &cfg));
    if (!net) return;
    float x[72] = {0}, dx[72];
    const float *y;
    CHECK_ERR(lg_net_backward(net, x, dx, 1), LG_ERR_ARG); /* no forward yet */
    CHECK_ERR(lg_net_forward(net, x, 3, 1, &y), LG_ERR_ARG);
    CHECK_ERR(lg_net_forward(net, x, 0, 1, &y), LG_ERR_ARG);
    CHECK_ERR(lg_net_forward(net, NULL, 1, 1, &y), LG_ERR_ARG);
    CHECK_ERR(lg_net_forward(NULL, x, 1, 1, &y), LG_ERR_ARG);
    CHECK_OK(lg_net_forward(net, x, 2, 1, &y));
    CHECK_ERR(lg_net_backward(net, NULL, dx, 1), LG_ERR_ARG);
    lg_net_free(net);

    lg_layer_spec bn[] = {{.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM}};
    lg_net_cfg vec = {.c = 4, .h = 1, .w = 1, .max_batch = 2};
    CHECK_OK(lg_net_new(&net, bn, 1, &vec));
    if (net) {
        CHECK_ERR(lg_net_forward(net, x, 1, 1, &y), LG_ERR_SHAPE); /* one value per channel */
        CHECK_OK(lg_net_forward(net, x, 1, 0, &y));                /* fine in eval */
        lg_net_free(net);
    }

    float loss, t = 1;
    CHECK_ERR(lg_bce_logits(NULL, &t, 1, 1, &loss, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_bce_logits(&t, &t, 0, 1, &loss, NULL), LG_ERR_ARG);
    lg_optim *o;
    lg_optim_cfg oc = {.kind = LG_OPT_SGD, .lr = 0.1f};
    CHECK_ERR(lg_optim_new(&o, NULL, 4), LG_ERR_ARG);
    CHECK_ERR(lg_optim_new(&o, &oc, 0), LG_ERR_ARG);
    oc.lr = -1;
    CHECK_ERR(lg_optim_new(&o, &oc, 4), LG_ERR_ARG);
    CHECK_ERR(lg_optim_step(NULL, x, x, 0), LG_ERR_ARG);
    CHECK(lg_backend_get(LG_BACKEND_COUNT) == NULL);
    CHECK(!strcmp(lg_backend_name(LG_BACKEND_REF), "ref"));
    CHECK(!strcmp(lg_layer_kind_name(LG_LAYER_CONV2D), "conv2d"));
    lg_net_free(NULL);
    lg_optim_free(NULL);
}

int main(void) {
    RUN(test_grad_linear);
    RUN(test_grad_conv2d);
    RUN(test_conv_groups_isolated);
    RUN(test_featpool_values);
    RUN(test_spatial_dropout_mask);
    RUN(test_grad_activations);
    RUN(test_act_ops_match_ref);
    RUN(test_up2_ops_match_ref);
    RUN(test_bn_ops_match_ref);
    RUN(test_bias_rows_ops_match_ref);
    RUN(test_train_ops_match_ref);
    RUN(test_step_ops_match_ref);
    RUN(test_grad_activations_in_place);
    RUN(test_grad_batchnorm);
    RUN(test_grad_dropout_shape_upsample);
    RUN(test_grad_chain);
    RUN(test_grad_bce);
    RUN(test_batchnorm_running_stats);
    RUN(test_dropout_mask);
    RUN(test_upsample_values);
    RUN(test_concat);
    RUN(test_cpu_matches_ref_conv5x5);
    RUN(test_im2col_chunks);
    RUN(test_tensor_table);
    RUN(test_init_distributions);
    RUN(test_grad_flags);
    RUN(test_determinism);
    RUN(test_dropout_thread_independent);
    RUN(test_sgd_momentum);
    RUN(test_adam);
    RUN(test_optim_zero_settings);
    RUN(test_schedule);
    RUN(test_bad_input);
    return TEST_END();
}
