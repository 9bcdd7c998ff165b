#include <omp.h>

#include "test.h"

/* Known-answer vectors of Random123's kat_vectors for philox4x32-10. */
static void test_philox_known_answers(void) {
    uint32_t x[4];
    lg_philox(0, 0, 0, x);
    CHECK(x[0] == 0x6627e8d5u && x[1] == 0xe169c58du && x[2] == 0xbc57ac4cu && x[3] == 0x9b00dbd8u);
    lg_philox(UINT64_MAX, UINT64_MAX, UINT64_MAX, x);
    CHECK(x[0] == 0x408f276du && x[1] == 0x41c83b0eu && x[2] == 0xa20bc7c6u && x[3] == 0x6d5451fdu);
    lg_philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, x);
    CHECK(x[0] == 0xd16cfe09u && x[1] == 0x94fdccebu && x[2] == 0x5001e420u && x[3] == 0x24126ea1u);
}

static void test_rng_same_for_any_thread_count(void) {
    const size_t n = 300001; /* above the parallel threshold, not a multiple of 4 */
    float *a = lg_alloc_floats(n), *b = lg_alloc_floats(n);
    for (int kind = 0; kind < 2; kind++) {
        lg_rng r;
        omp_set_num_threads(1);
        lg_rng_init(&r, 42, 7);
        kind ? lg_rng_normal(&r, a, n, 0, 1) : lg_rng_uniform(&r, a, n, -1, 1);
        uint64_t off1 = r.offset;
        omp_set_num_threads(2);
        lg_rng_init(&r, 42, 7);
        kind ? lg_rng_normal(&r, b, n, 0, 1) : lg_rng_uniform(&r, b, n, -1, 1);
        CHECK(memcmp(a, b, n * sizeof(float)) == 0);
        CHECK(off1 == r.offset && r.offset == (n + 3) / 4);
    }
    free(a);
    free(b);
}

/* A fill is element i = lo + (hi - lo) u01(word i % 4 of block offset + i / 4),
 * fused, whichever path (16 blocks per vector or one at a time) made it;
 * offsets straddle a carry into the counter's high word. */
static void test_rng_uniform_is_philox(void) {
    const uint64_t offsets[] = {0, 5, 0xFFFFFFF8ull, 0x1FFFFFFFFull - 3, UINT64_MAX - 40};
    const size_t sizes[] = {1, 63, 64, 65, 130, 1027};
    float out[1027];
    int bad = 0;
    for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            lg_rng r;
            lg_rng_init(&r, 0x9E3779B97F4A7C15ull, 3);
            r.offset = offsets[o];
            lg_rng_uniform(&r, out, sizes[k], -0.5f, 2.0f);
            CHECK(r.offset == offsets[o] + (sizes[k] + 3) / 4);
            for (size_t i = 0; i < sizes[k]; i++) {
                uint32_t x[4];
                lg_philox(0x9E3779B97F4A7C15ull, 3, offsets[o] + i / 4, x);
                const float u = (float)(x[i % 4] >> 8) * (1.0f / 16777216.0f);
                bad += out[i] != fmaf(2.5f, u, -0.5f);
            }
        }
    CHECK_MSG(bad == 0, "%d uniforms differ from Philox", bad);
}

static void test_rng_moments(void) {
    const size_t n = 1 << 20;
    float *a = lg_alloc_floats(n);
    lg_rng r;
    lg_rng_init(&r, 1, 0);
    lg_rng_uniform(&r, a, n, -1, 1);
    double s = 0, s2 = 0, mn = 1, mx = -1;
    for (size_t i = 0; i < n; i++) {
        s += a[i];
        s2 += a[i] * a[i];
        mn = a[i] < mn ? a[i] : mn;
        mx = a[i] > mx ? a[i] : mx;
    }
    CHECK_NEAR(s / n, 0.0, 0.005);
    CHECK_NEAR(s2 / n, 1.0 / 3.0, 0.005);
    CHECK(mn >= -1 && mx < 1);
    lg_rng_normal(&r, a, n, 2, 3);
    s = s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += a[i];
        s2 += (a[i] - 2.0) * (a[i] - 2.0);
    }
    CHECK_NEAR(s / n, 2.0, 0.02);
    CHECK_NEAR(sqrt(s2 / n), 3.0, 0.02);
    free(a);
}

static void test_rng_streams_and_resume(void) {
    float a[10], b[10], c[10];
    lg_rng r1, r2;
    lg_rng_init(&r1, 5, 0);
    lg_rng_init(&r2, 5, 1);
    lg_rng_uniform(&r1, a, 10, 0, 1);
    lg_rng_uniform(&r2, b, 10, 0, 1);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* Resume: a copy of the state continues the same sequence. */
    lg_rng saved = r1;
    lg_rng_uniform(&r1, a, 10, 0, 1);
    lg_rng_uniform(&saved, c, 10, 0, 1);
    CHECK(memcmp(a, c, sizeof a) == 0);
}

static void test_rng_below_and_shuffle(void) {
    lg_rng r;
    lg_rng_init(&r, 3, 0);
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) hist[lg_rng_below(&r, 7)]++;
    for (int i = 0; i < 7; i++) CHECK(abs(hist[i] - 10000) < 500);
    int idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) idx[i] = i;
    lg_rng_shuffle(&r, idx, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1);
    CHECK(moved > 80);
}

static void test_errors_and_names(void) {
    CHECK(!strcmp(lg_status_name(LG_OK), "ok"));
    CHECK(!strcmp(lg_status_name(LG_ERR_FORMAT), "bad-format"));
    CHECK(!strcmp(lg_status_name((lg_status)999), "unknown-status"));
    lg_status s = lg_error(LG_ERR_IO, "%s: line\nbreak", "file.bin");
    CHECK(s == LG_ERR_IO);
    CHECK(!strcmp(lg_errmsg(), "file.bin: line break"));
    /* Prefixing the current message with its own text is allowed. */
    lg_error(LG_ERR_FORMAT, "%s: %s", "model.json", lg_errmsg());
    CHECK(!strcmp(lg_errmsg(), "model.json: file.bin: line break"));
    lg_error_clear();
    CHECK(lg_errmsg()[0] == 0);
}

static void test_arena(void) {
    lg_arena *a;
    CHECK_OK(lg_arena_new(&a, 1000));
    float *p = lg_arena_alloc(a, 100);
    CHECK(p && ((uintptr_t)p % 64) == 0);
    size_t m = lg_arena_mark(a);
    CHECK(lg_arena_alloc(a, 500) != NULL);
    lg_error_clear();
    CHECK(lg_arena_alloc(a, 900) == NULL && strstr(lg_errmsg(), "arena full"));
    lg_arena_reset(a, m);
    CHECK(lg_arena_used(a) == m);
    CHECK(lg_arena_alloc(a, 800) != NULL);
    lg_arena_free(a);
    lg_arena_free(NULL);
    CHECK_ERR(lg_arena_new(NULL, 10), LG_ERR_ARG);
}

static void test_tensor_checks(void) {
    float d[4];
    lg_tensor t = lg_tensor4(d, 1, 1, 2, 2), u = lg_tensor4(d, 1, 2, 1, 2);
    CHECK_OK(lg_tensor_check(&t, "t"));
    CHECK_ERR(lg_tensor_same_shape(&t, &u, "t vs u"), LG_ERR_SHAPE);
    lg_tensor z = lg_tensor4(NULL, 1, 1, 1, 1);
    CHECK_ERR(lg_tensor_check(&z, "z"), LG_ERR_ARG);
    lg_tensor neg = lg_tensor4(d, 1, -1, 1, 1);
    CHECK_ERR(lg_tensor_check(&neg, "neg"), LG_ERR_SHAPE);
    CHECK_ERR(lg_tensor_check(NULL, "null"), LG_ERR_ARG);
    size_t out;
    CHECK(lg_mul_overflow(SIZE_MAX / 2, 3, &out) == 1);
    CHECK(lg_mul_overflow(6, 7, &out) == 0 && out == 42);
    lg_error_clear();
    CHECK(lg_alloc_floats(SIZE_MAX / 2) == NULL && lg_errmsg()[0]);
}

int main(void) {
    RUN(test_philox_known_answers);
    RUN(test_rng_same_for_any_thread_count);
    RUN(test_rng_uniform_is_philox);
    RUN(test_rng_moments);
    RUN(test_rng_streams_and_resume);
    RUN(test_rng_below_and_shuffle);
    RUN(test_errors_and_names);
    RUN(test_arena);
    RUN(test_tensor_checks);
    return TEST_END();
}
