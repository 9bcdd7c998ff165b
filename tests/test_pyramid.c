/* Pyramid: d(.)/u(.) against stored OpenCV/PyTorch outputs, exact
 * reconstruction on random and real images, argument checks. */
#include "test.h"

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static void fill_uniform(float *x, size_t n, uint64_t seed) {
    lg_rng r;
    lg_rng_init(&r, seed, 0);
    lg_rng_uniform(&r, x, n, -1.f, 1.f);
}

static uint32_t rd_u32(FILE *f, int *ok) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) *ok = 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int rd_f32(FILE *f, float *x, size_t n) { /* the fixture is little-endian, as is x86 */
    return fread(x, sizeof(float), n, f) == n;
}

/* tools/make_pyramid_fixture.py: cv2.pyrDown/pyrUp, cv2 INTER_AREA, torch bilinear. */
static void test_fixture(void) {
    FILE *f = fopen("tests/fixtures/pyramid_ref.bin", "rb");
    CHECK(f != NULL);
    if (!f) return;
    char magic[4] = {0};
    int ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "LGPF", 4);
    CHECK(ok);
    CHECK(rd_u32(f, &ok) == 1);
    uint32_t ncases = rd_u32(f, &ok);
    CHECK(ok && ncases >= 20);
    int checked[2][2] = {{0}};
    for (uint32_t i = 0; ok && i < ncases; i++) {
        uint32_t v[8];
        for (int j = 0; j < 8; j++) v[j] = rd_u32(f, &ok);
        CHECK(ok && v[0] < 2 && v[1] < 2 && v[2] * v[3] * v[4] * v[5] <= 4096);
        if (!ok || v[0] >= 2 || v[2] * v[3] * v[4] * v[5] > 4096) break;
        size_t nx = (size_t)v[2] * v[3] * v[4] * v[5], ny = (size_t)v[2] * v[3] * v[6] * v[7];
        float *x = lg_alloc_floats(nx), *want = lg_alloc_floats(ny), *got = lg_alloc_floats(ny);
        ok = rd_f32(f, x, nx) && rd_f32(f, want, ny);
        CHECK(ok);
        lg_pyr_filter flt = (lg_pyr_filter)v[0];
        if (v[1] == 0)
            CHECK_OK(lg_pyr_down(flt, x, v[2], v[3], v[4], v[5], got, v[6], v[7]));
        else
            CHECK_OK(lg_pyr_up(flt, x, v[2], v[3], v[4], v[5], got, v[6], v[7]));
        float err = max_abs_diff(got, want, ny);
        CHECK_MSG(err < 1e-5f, "%s %s %ux%u -> %ux%u: max abs err %g", lg_pyr_filter_name(flt),
                  v[1] ? "up" : "down", v[4], v[5], v[6], v[7], err);
        checked[v[0]][v[1]]++;
        lg_free(x);
        lg_free(want);
        lg_free(got);
    }
    CHECK(checked[0][0] >= 4 && checked[0][1] >= 4 && checked[1][0] >= 4 && checked[1][1] >= 4);
    fclose(f);
}

/* Every output weight set sums to 1, so a constant image stays constant. */
static void test_constant_preserved(void) {
    static const int pairs[][2] = {{28, 14}, {14, 7}, {7, 4}, {14, 8}, {64, 5}, {30, 29},
                                   {5, 1},   {3, 2},  {2, 1}, {1, 1}, {13, 13}};
    for (int f = 0; f < LG_PYR_FILTER_COUNT; f++)
        for (int i = 0; i < LEN(pairs); i++) {
            int big = pairs[i][0], small = pairs[i][1];
            float *a = lg_alloc_floats((size_t)big * big), *b = lg_alloc_floats((size_t)big * big);
            for (int j = 0; j < big * big; j++) a[j] = 0.37f;
            CHECK_OK(lg_pyr_down((lg_pyr_filter)f, a, 1, 1, big, big, b, small, small));
            for (int j = 0; j < small * small; j++) CHECK_NEAR(b[j], 0.37f, 1e-6);
            CHECK_OK(lg_pyr_up((lg_pyr_filter)f, b, 1, 1, small, small, a, big, big));
            for (int j = 0; j < big * big; j++) CHECK_NEAR(a[j], 0.37f, 1e-6);
            lg_free(a);
            lg_free(b);
        }
}

/* Builds, then checks I_k = reconstruct(k) against the direct chain of d(.). */
static void check_roundtrip(lg_pyr_filter f, int n, int c, const int *sizes, int levels,
                            const float *img) {
    lg_pyramid *p = NULL;
    CHECK_OK(lg_pyramid_new(&p, f, n, c, sizes, levels));
    if (!p) return;
    CHECK_OK(lg_pyramid_build(p, img));
    size_t n0 = (size_t)n * c * sizes[0] * sizes[0];
    float *ik = lg_alloc_floats(n0), *next = lg_alloc_floats(n0), *rec = lg_alloc_floats(n0);
    memcpy(ik, img, n0 * sizeof(float));
    for (int k = 0; k < levels; k++) {
        size_t nk = (size_t)n * c * sizes[k] * sizes[k];
        CHECK_OK(lg_pyramid_reconstruct(p, k, rec));
        float err = max_abs_diff(rec, ik, nk);
        CHECK_MSG(err < 1e-5f, "%s size[0]=%d levels=%d k=%d: max abs err %g",
                  lg_pyr_filter_name(f), sizes[0], levels, k, err);
        if (k + 1 < levels) {
            CHECK_OK(lg_pyr_down(f, ik, n, c, sizes[k], sizes[k], next, sizes[k + 1],
                                 sizes[k + 1]));
            memcpy(ik, next, (size_t)n * c * sizes[k + 1] * sizes[k + 1] * sizeof(float));
        }
    }
    lg_free(ik);
    lg_free(next);
    lg_free(rec);
    lg_pyramid_free(p);
}

static void test_reconstruct_random(void) {
    static const int chains[][LG_PYR_MAX_LEVELS + 1] = {
        /* levels, sizes... */
        {3, 28, 14, 7}, {3, 28, 14, 8}, {4, 32, 16, 8, 4}, {5, 64, 32, 16, 8, 4},
        {3, 28, 16, 8}, {1, 9}, {2, 2, 1}, {8, 200, 100, 50, 25, 13, 7, 4, 1}, {3, 31, 17, 5},
    };
    for (int f = 0; f < LG_PYR_FILTER_COUNT; f++)
        for (int i = 0; i < LEN(chains); i++)
            for (int c = 1; c <= 3; c += 2) {
                int levels = chains[i][0], n = 2;
                const int *sizes = chains[i] + 1;
                size_t n0 = (size_t)n * c * sizes[0] * sizes[0];
                float *img = lg_alloc_floats(n0);
                fill_uniform(img, n0, 100 + i);
                check_roundtrip((lg_pyr_filter)f, n, c, sizes, levels, img);
                lg_free(img);
            }
}

static void test_reconstruct_real(void) {
    lg_dataset *ds = NULL;
    if (lg_dataset_load_fashion(&ds, NULL, 0) != LG_OK) SKIP("Fashion-MNIST: %s", lg_errmsg());
    int n = 16, sizes[3] = {28, 14, 7}, sizes8[3] = {28, 14, 8};
    size_t np = (size_t)n * 28 * 28;
    float *img = lg_alloc_floats(np);
    for (size_t i = 0; i < np; i++) img[i] = ds->pixels[i] / 127.5f - 1.f;
    for (int f = 0; f < LG_PYR_FILTER_COUNT; f++) {
        check_roundtrip((lg_pyr_filter)f, n, 1, sizes, 3, img);
        check_roundtrip((lg_pyr_filter)f, n, 1, sizes8, 3, img);
    }
    /* Band-pass images of a real picture carry energy: h_0 is not ~0. */
    lg_pyramid *p = NULL;
    CHECK_OK(lg_pyramid_new(&p, LG_PYR_BINOMIAL, n, 1, sizes, 3));
    CHECK_OK(lg_pyramid_build(p, img));
    double e = 0;
    for (size_t i = 0; i < np; i++) e += fabsf(p->band[0][i]);
    CHECK(e / np > 0.01);
    lg_pyramid_free(p);
    lg_free(img);
    lg_dataset_free(ds);
}

/* Same bits whatever the thread count (planes are independent). */
static void test_thread_independent(void) {
    int n = 3, c = 3, s = 37, t = 19;
    size_t nx = (size_t)n * c * s * s, ny = (size_t)n * c * t * t;
    float *x = lg_alloc_floats(nx), *y1 = lg_alloc_floats(ny), *y2 = lg_alloc_floats(ny);
    fill_uniform(x, nx, 7);
    int old = lg_get_threads();
    lg_set_threads(1);
    CHECK_OK(lg_pyr_down(LG_PYR_BINOMIAL, x, n, c, s, s, y1, t, t));
    lg_set_threads(2);
    CHECK_OK(lg_pyr_down(LG_PYR_BINOMIAL, x, n, c, s, s, y2, t, t));
    lg_set_threads(old);
    CHECK(memcmp(y1, y2, ny * sizeof(float)) == 0);
    lg_free(x);
    lg_free(y1);
    lg_free(y2);
}

static void test_bad_args(void) {
    float a[64] = {0}, b[64];
    CHECK_ERR(lg_pyr_down(LG_PYR_BINOMIAL, NULL, 1, 1, 4, 4, b, 2, 2), LG_ERR_ARG);
    CHECK_ERR(lg_pyr_down(LG_PYR_BINOMIAL, a, 1, 1, 4, 4, b, 5, 5), LG_ERR_SHAPE);
    CHECK_ERR(lg_pyr_up(LG_PYR_BINOMIAL, a, 1, 1, 4, 4, b, 2, 2), LG_ERR_SHAPE);
    CHECK_ERR(lg_pyr_up(LG_PYR_BINOMIAL, a, 0, 1, 4, 4, b, 8, 8), LG_ERR_SHAPE);
    CHECK_ERR(lg_pyr_down(LG_PYR_FILTER_COUNT, a, 1, 1, 4, 4, b, 2, 2), LG_ERR_ARG);
    lg_pyr_filter f;
    CHECK_OK(lg_pyr_filter_parse("area-bilinear", &f));
    CHECK(f == LG_PYR_AREA_BILINEAR);
    CHECK_OK(lg_pyr_filter_parse(lg_pyr_filter_name(LG_PYR_BINOMIAL), &f));
    CHECK(f == LG_PYR_BINOMIAL);
    CHECK_ERR(lg_pyr_filter_parse("gaussian", &f), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "gaussian") != NULL);
    lg_pyramid *p = NULL;
    int up[3] = {8, 16, 4}, ok[2] = {8, 4};
    CHECK_ERR(lg_pyramid_new(&p, LG_PYR_BINOMIAL, 1, 1, up, 3), LG_ERR_SHAPE);
    CHECK(p == NULL);
    CHECK_ERR(lg_pyramid_new(&p, LG_PYR_BINOMIAL, 1, 1, ok, 0), LG_ERR_ARG);
    CHECK_ERR(lg_pyramid_new(&p, LG_PYR_BINOMIAL, 1, 1, ok, LG_PYR_MAX_LEVELS + 1), LG_ERR_ARG);
    CHECK_OK(lg_pyramid_new(&p, LG_PYR_BINOMIAL, 1, 1, ok, 2));
    CHECK_ERR(lg_pyramid_reconstruct(p, 2, b), LG_ERR_ARG);
    CHECK_ERR(lg_pyramid_build(p, NULL), LG_ERR_ARG);
    lg_pyramid_free(p);
    lg_pyramid_free(NULL);
}

int main(void) {
    RUN(test_fixture);
    RUN(test_constant_preserved);
    RUN(test_reconstruct_random);
    RUN(test_reconstruct_real);
    RUN(test_thread_independent);
    RUN(test_bad_args);
    return TEST_END();
}
