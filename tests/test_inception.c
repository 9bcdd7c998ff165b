/* The FID Inception in C against the TorchScript run in PyTorch
 * (tests/fixtures/inception_features.safetensors, made by
 * tools/make_inception_fixtures.py), the KID and precision/recall maths
 * against direct double loops, the .npz statistics files, and bad inputs.
 *
 * The weights are not in the repository (87 MB): scripts/setup-inception.sh
 * puts them in $LAPGAN_CACHE. Without them the cases that need them SKIP,
 * which under CI=true is a FAIL (the set-up must install them). */
#include <unistd.h>

#include "fixture_agree.h"
#include "tmpfiles.h"

#define FIX "tests/fixtures/inception_features.safetensors"

static lg_inception *g_net;
static int g_tried;

static lg_inception *net(void) {
    if (!g_tried) {
        char path[4096];
        g_tried = 1;
        if (lg_inception_default_path(path, sizeof path) == LG_OK && access(path, R_OK) == 0 &&
            lg_inception_load(&g_net, path) != LG_OK)
            fprintf(stderr, "inception: %s\n", lg_errmsg());
    }
    return g_net;
}

#define NEED_NET()                                                                         \
    do {                                                                                   \
        if (!net()) SKIP("no FID Inception weights in $LAPGAN_CACHE: run "                 \
                         "scripts/setup-inception.sh");                                    \
    } while (0)

/* Pixels stored as floats 0..255 in the fixture -> uint8. */
static uint8_t *pixels(const lg_safetensors *st, const char *name, int *n, int *c, int *h, int *w) {
    const lg_st_tensor *t = lg_st_find(st, name);
    if (!t || t->ndim != 4) return NULL;
    *n = (int)t->shape[0], *c = (int)t->shape[1], *h = (int)t->shape[2], *w = (int)t->shape[3];
    uint8_t *px = malloc(t->numel);
    for (size_t i = 0; i < t->numel; i++) px[i] = (uint8_t)t->data[i];
    return px;
}

static void check_set(const char *pix, const char *feat, int count, lg_resize_kind r) {
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, FIX));
    if (!st) return;
    int n, c, h, w;
    uint8_t *px = pixels(st, pix, &n, &c, &h, &w);
    CHECK(px != NULL);
    if (px) {
        if (count < n) n = count;
        float *f = malloc(sizeof(float) * (size_t)n * LG_INCEPTION_FEATURES);
        CHECK_OK(lg_inception_features(net(), px, n, c, h, w, r, NULL, NULL, f));
        g_fix = FIX, g_backend = lg_resize_name(r);
        agree(st, feat, f, (size_t)n * LG_INCEPTION_FEATURES);
        free(f);
    }
    free(px);
    lg_st_free(st);
}

static void test_features_cifar(void) {
    NEED_NET();
    check_set("cifar_pixels", "cifar_nv_bilinear_float", 12, LG_RESIZE_NV_BILINEAR);
}

static void test_features_fashion_grey(void) {
    NEED_NET();
    check_set("fashion_pixels", "fashion_nv_bilinear_float", 12, LG_RESIZE_NV_BILINEAR);
}

static void test_features_torch_bilinear(void) {
    NEED_NET();
    check_set("cifar_pixels", "cifar_torch_bilinear_float", 4, LG_RESIZE_TORCH_BILINEAR);
}

static void test_features_pil_bicubic(void) {
    NEED_NET();
    check_set("cifar_pixels", "cifar_pil_bicubic_float", 4, LG_RESIZE_PIL_BICUBIC);
}

/* Worst |a - b| relative to (|b| + 1e-2 max|b|), the fixtures' measure. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double mx = 0, worst = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]) / (fabs(b[i]) + 1e-2 * mx));
    return worst;
}

/* The forward is recorded once per batch size and thread count (a plan): an
 * image's features must not depend on which plan ran it, on plans evicted
 * and recorded again, or on the batch's other images. */
static void test_forward_plans(void) {
    NEED_NET();
    enum { N = 3, F = LG_INCEPTION_FEATURES };
    const size_t img = 3 * LG_INCEPTION_SIZE * LG_INCEPTION_SIZE;
    float *x = lg_alloc_floats(N * img), *f3 = lg_alloc_floats(N * F);
    float *g = lg_alloc_floats(5 * F), *junk = lg_alloc_floats(5 * img);
    lg_rng r;
    lg_rng_init(&r, 3, 0);
    lg_rng_uniform(&r, x, N * img, -1, 1);
    lg_rng_uniform(&r, junk, 5 * img, -1, 1);
    const int threads = lg_get_threads();
    lg_set_threads(1);
    CHECK_OK(lg_inception_forward(net(), x, N, f3));
    CHECK_OK(lg_inception_forward(net(), x + img, 1, g)); /* the middle image alone */
    CHECK_MSG(rel_diff(g, f3 + F, F) < 1e-5, "alone vs in a batch: %.3g", rel_diff(g, f3 + F, F));
    lg_set_threads(2);
    CHECK_OK(lg_inception_forward(net(), x, N, g));
    CHECK_MSG(rel_diff(g, f3, N * F) < 1e-5, "2 threads vs 1: %.3g", rel_diff(g, f3, N * F));
    lg_set_threads(1);
    for (int n = 1; n <= 5; n++) CHECK_OK(lg_inception_forward(net(), junk, n, g)); /* evicts */
    memcpy(junk, x, N * img * sizeof(float)); /* the same images from another buffer */
    CHECK_OK(lg_inception_forward(net(), junk, N, g));
    CHECK_MSG(memcmp(g, f3, N * F * sizeof(float)) == 0, "a re-recorded plan gives other features");
    lg_set_threads(threads);
    lg_free(x), lg_free(f3), lg_free(g), lg_free(junk);
}

/* A truncated copy and a foreign safetensors file are refused by name. */
static void test_bad_weights(void) {
    NEED_NET();
    char src[4096], dir[64], trunc[128];
    CHECK_OK(lg_inception_default_path(src, sizeof src));
    CHECK(t_mkdtemp(dir));
    snprintf(trunc, sizeof trunc, "%s/trunc.safetensors", dir);
    FILE *in = fopen(src, "rb"), *out = fopen(trunc, "wb");
    CHECK(in && out);
    if (!in || !out) return;
    static char buf[1 << 20];
    size_t got = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, got, out);
    fclose(in), fclose(out);
    lg_inception *x = NULL;
    CHECK_ERR(lg_inception_load(&x, trunc), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), trunc) && strstr(lg_errmsg(), "sha256"));
    CHECK_ERR(lg_inception_load(&x, FIX), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), FIX) != NULL);
    CHECK(lg_inception_load(&x, "/nonexistent/inception.safetensors") != LG_OK);
    CHECK(strstr(lg_errmsg(), "/nonexistent/inception.safetensors") != NULL);
    CHECK(x == NULL);
    unlink(trunc);
    rmdir(dir);
}

static float frand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (1 << 24);
}

/* KID over one subset of all rows equals the direct double sum. */
static void test_kid_matches_direct_sum(void) {
    enum { N = 40, D = 16 };
    static float a[N * D], b[N * D];
    uint32_t s = 7;
    for (int i = 0; i < N * D; i++) a[i] = frand(&s), b[i] = frand(&s) * 1.2f + 0.1f;
    double kxx = 0, kyy = 0, kxy = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double xx = 0, yy = 0, xy = 0;
            for (int k = 0; k < D; k++) {
                xx += (double)a[i * D + k] * a[j * D + k];
                yy += (double)b[i * D + k] * b[j * D + k];
                xy += (double)a[i * D + k] * b[j * D + k];
            }
            if (i != j) kxx += pow(xx / D + 1, 3), kyy += pow(yy / D + 1, 3);
            kxy += pow(xy / D + 1, 3);
        }
    double want = (kxx + kyy) / (N * (N - 1.0)) - 2 * kxy / ((double)N * N), kid, sd;
    CHECK_OK(lg_kid(a, N, b, N, D, 100, 1000, 1, &kid, &sd));
    CHECK_NEAR(kid, want, 1e-5 * fabs(want) + 1e-9);
    CHECK(sd == 0);
    /* Subsets: deterministic for a seed, and near the full estimate. */
    double k1, k2, s1, s2;
    CHECK_OK(lg_kid(a, N, b, N, D, 50, 30, 3, &k1, &s1));
    CHECK_OK(lg_kid(a, N, b, N, D, 50, 30, 3, &k2, &s2));
    CHECK(k1 == k2 && s1 == s2 && s1 > 0);
    CHECK_NEAR(k1, want, 4 * s1);
}

/* Precision/recall against brute force, with k = 3. */
static void test_precision_recall_brute(void) {
    enum { N = 60, M = 50, D = 5, K = 3 };
    static float r[N * D], f[M * D];
    uint32_t s = 11;
    for (int i = 0; i < N * D; i++) r[i] = frand(&s);
    for (int i = 0; i < M * D; i++) f[i] = frand(&s) * 0.6f + 0.3f;
    double p, rc;
    CHECK_OK(lg_precision_recall(r, N, f, M, D, K, &p, &rc));
    double want[2];
    for (int side = 0; side < 2; side++) {
        const float *x = side ? f : r, *q = side ? r : f;
        int nx = side ? M : N, nq = side ? N : M, in = 0;
        double rad[N];
        for (int i = 0; i < nx; i++) {
            double d[N];
            for (int j = 0; j < nx; j++) {
                d[j] = 0;
                for (int k = 0; k < D; k++) d[j] += pow((double)x[i * D + k] - x[j * D + k], 2);
            }
            for (int a = 0; a <= K; a++) /* partial selection sort: d[K] is the K-th other */
                for (int b = a + 1; b < nx; b++)
                    if (d[b] < d[a]) {
                        double t = d[a];
                        d[a] = d[b], d[b] = t;
                    }
            rad[i] = d[K];
        }
        for (int j = 0; j < nq; j++) {
            int hit = 0;
            for (int i = 0; i < nx && !hit; i++) {
                double dd = 0;
                for (int k = 0; k < D; k++) dd += pow((double)q[j * D + k] - x[i * D + k], 2);
                hit = dd <= rad[i];
            }
            in += hit;
        }
        want[side] = (double)in / nq;
    }
    CHECK_NEAR(p, want[0], 1e-12);
    CHECK_NEAR(rc, want[1], 1e-12);
    CHECK(p > 0 && p <= 1 && rc > 0 && rc < 1);
}

/* .npz statistics: written, read back bit for bit; wrong shapes refused. */
static void test_stats_roundtrip_and_shapes(void) {
    enum { D = 6 };
    double mu[D], sigma[D * D], *m2 = NULL, *s2 = NULL;
    for (int i = 0; i < D; i++) mu[i] = i * 0.25 - 1;
    for (int i = 0; i < D * D; i++) sigma[i] = (i % 7) * 0.1 + (i / D == i % D);
    char dir[64], path[128];
    CHECK(t_mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.npz", dir);
    CHECK_OK(lg_fid_stats_save(path, mu, sigma, D));
    CHECK_OK(lg_fid_stats_load(path, D, &m2, &s2));
    CHECK(m2 && s2 && !memcmp(mu, m2, sizeof mu) && !memcmp(sigma, s2, sizeof sigma));
    lg_free(m2), lg_free(s2);
    CHECK_ERR(lg_fid_stats_load(path, 2048, &m2, &s2), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), path) && strstr(lg_errmsg(), "shape"));
    CHECK(m2 == NULL && s2 == NULL);
    /* Truncated: the zip directory is at the end, so it is gone. */
    FILE *f = fopen(path, "r+b");
    CHECK(f && ftruncate(fileno(f), 100) == 0);
    if (f) fclose(f);
    CHECK_ERR(lg_fid_stats_load(path, D, &m2, &s2), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), path) != NULL);
    unlink(path);
    rmdir(dir);
}

/* The matrix square root survives rank-deficient covariances (fewer rows
 * than dimensions, the < 2048 images case): finite, >= 0, and FD(S, S) ~ 0. */
static void test_frechet_rank_deficient(void) {
    enum { N = 10, D = 32 };
    static float x[N * D], y[N * D];
    uint32_t s = 5;
    for (int i = 0; i < N * D; i++) x[i] = frand(&s), y[i] = frand(&s) + 0.05f;
    double *mx = malloc(sizeof(double) * D), *cx = malloc(sizeof(double) * D * D);
    double *my = malloc(sizeof(double) * D), *cy = malloc(sizeof(double) * D * D), fd, same;
    CHECK_OK(lg_frechet_stats(x, N, D, mx, cx));
    CHECK_OK(lg_frechet_stats(y, N, D, my, cy));
    CHECK_OK(lg_frechet_distance(mx, cx, my, cy, D, &fd));
    CHECK_OK(lg_frechet_distance(mx, cx, mx, cx, D, &same));
    CHECK(isfinite(fd) && fd > 0);
    CHECK_NEAR(same, 0, 1e-6);
    free(mx), free(cx), free(my), free(cy);
}

static void test_resize_names(void) {
    CHECK(lg_resize_parse("nv_bilinear_float") == LG_RESIZE_NV_BILINEAR);
    CHECK(lg_resize_parse("pil_bicubic_float") == LG_RESIZE_PIL_BICUBIC);
    CHECK(lg_resize_parse("bilinear") == -1);
    CHECK(!strcmp(lg_resize_name(LG_RESIZE_TORCH_BILINEAR), "torch_bilinear_float"));
}

int main(void) {
    RUN(test_resize_names);
    RUN(test_kid_matches_direct_sum);
    RUN(test_precision_recall_brute);
    RUN(test_stats_roundtrip_and_shapes);
    RUN(test_frechet_rank_deficient);
    RUN(test_bad_weights);
    RUN(test_features_cifar);
    RUN(test_features_fashion_grey);
    RUN(test_features_torch_bilinear);
    RUN(test_features_pil_bicubic);
    RUN(test_forward_plans);
    lg_inception_free(g_net);
    return TEST_END();
}
