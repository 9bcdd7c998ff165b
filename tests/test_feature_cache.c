/* The feature cache of eval nn --space inception (src/eval/feature_cache.c):
 * round trip, keys that change with every input they cover, and a reader
 * that refuses every damaged or foreign file with a message naming it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/feature_cache.h"
#include "test.h"
#include "tmpfiles.h"

enum { N = 5, D = 7 };
static char g_dir[64];

static void feats(float *f) {
    for (int i = 0; i < N * D; i++) f[i] = (float)(i * 0.37 - 3.1);
}

static void key_of(char key[65]) {
    uint8_t px[N * 3 * 4 * 4];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 11);
    CHECK_OK(lg_feature_cache_key(px, N, 3, 4, 4, "nv_bilinear_float", LG_INCEPTION_SHA256, key));
}

static void test_round_trip(void) {
    char key[65], path[4096];
    float f[N * D], g[N * D];
    key_of(key);
    feats(f);
    t_path(path, g_dir, "rt.f32");
    CHECK_OK(lg_feature_cache_write(path, key, f, N, D));
    CHECK(t_file_size(path) == LG_FEATURE_CACHE_HEADER + sizeof f);
    memset(g, 0, sizeof g);
    CHECK_OK(lg_feature_cache_read(path, key, N, D, g));
    CHECK(!memcmp(f, g, sizeof f));
    /* No temp file left beside it. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
}

/* Each input the key covers changes it; the same inputs give the same key. */
static void test_key(void) {
    uint8_t px[2 * 1 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    char k0[65], k1[65];
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 2, 2, "a", "w", k0));
    CHECK(strlen(k0) == 64 && strspn(k0, "0123456789abcdef") == 64);
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 2, 2, "a", "w", k1));
    CHECK(!strcmp(k0, k1));
    px[7] ^= 1;
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 2, 2, "a", "w", k1));
    CHECK(strcmp(k0, k1));
    px[7] ^= 1;
    CHECK_OK(lg_feature_cache_key(px, 1, 1, 2, 2, "a", "w", k1)); /* fewer images */
    CHECK(strcmp(k0, k1));
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 4, 1, "a", "w", k1)); /* same bytes, other shape */
    CHECK(strcmp(k0, k1));
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 2, 2, "b", "w", k1));
    CHECK(strcmp(k0, k1));
    CHECK_OK(lg_feature_cache_key(px, 2, 1, 2, 2, "a", "v", k1));
    CHECK(strcmp(k0, k1));
    CHECK_ERR(lg_feature_cache_key(NULL, 2, 1, 2, 2, "a", "w", k1), LG_ERR_ARG);
}

static void test_path(void) {
    char key[65], p[4096], want[4096];
    key_of(key);
    setenv("LAPGAN_CACHE", g_dir, 1);
    CHECK_OK(lg_feature_cache_path("inception", key, p, sizeof p));
    snprintf(want, sizeof want, "%s/features-inception-%s.f32", g_dir, key);
    CHECK(!strcmp(p, want));
    unsetenv("LAPGAN_CACHE");
    setenv("HOME", "/nonexistent-home", 1);
    CHECK_OK(lg_feature_cache_path("inception", key, p, sizeof p));
    CHECK(!strncmp(p, "/nonexistent-home/.cache/lapgan/features-inception-", 51));
    CHECK_ERR(lg_feature_cache_path("inception", "short", p, sizeof p), LG_ERR_ARG);
    CHECK_ERR(lg_feature_cache_path("inception", key, p, 20), LG_ERR_ARG);
}

/* Reads path expecting a LG_ERR_FORMAT whose message names it and says what. */
static void expect_refused(const char *path, const char *key, int n, int d, const char *what) {
    float g[N * D * 2];
    CHECK_ERR(lg_feature_cache_read(path, key, n, d, g), LG_ERR_FORMAT);
    CHECK_MSG(strstr(lg_errmsg(), path) && strstr(lg_errmsg(), what), "%s", lg_errmsg());
}

static void test_damaged(void) {
    char key[65], path[4096], other[65];
    float f[N * D], g[N * D];
    key_of(key);
    feats(f);
    t_path(path, g_dir, "bad.f32");
    CHECK_OK(lg_feature_cache_write(path, key, f, N, D));
    unsigned char *buf = NULL;
    size_t len = 0;
    FILE *fp = fopen(path, "rb");
    CHECK(fp);
    if (!fp) return;
    buf = malloc(LG_FEATURE_CACHE_HEADER + sizeof f);
    len = fread(buf, 1, LG_FEATURE_CACHE_HEADER + sizeof f, fp);
    fclose(fp);
    CHECK(len == LG_FEATURE_CACHE_HEADER + sizeof f);
    /* Truncated anywhere: in the header, in the payload, one byte short. */
    const size_t cuts[] = {0, 10, LG_FEATURE_CACHE_HEADER, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(t_write(path, buf, cuts[i]));
        expect_refused(path, key, N, D, "truncated");
    }
    /* Padded with a byte. */
    unsigned char *pad = malloc(len + 1);
    memcpy(pad, buf, len);
    pad[len] = 0;
    CHECK(t_write(path, pad, len + 1));
    expect_refused(path, key, N, D, "expected");
    free(pad);
    /* One flipped bit in the payload, in the magic, in the stored key. */
    const size_t flips[][2] = {{LG_FEATURE_CACHE_HEADER + 13, 0}, {2, 1}, {20, 2}};
    const char *what[] = {"checksum", "magic", "key"};
    for (int i = 0; i < 3; i++) {
        buf[flips[i][0]] ^= 4;
        CHECK(t_write(path, buf, len));
        expect_refused(path, key, N, D, what[i]);
        buf[flips[i][0]] ^= 4;
    }
    /* Intact, but asked for another shape or under another key. */
    CHECK(t_write(path, buf, len));
    expect_refused(path, key, D, N, "features");     /* same byte count, other shape */
    memcpy(other, key, 65);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    expect_refused(path, other, N, D, "key");
    CHECK_OK(lg_feature_cache_read(path, key, N, D, g));
    /* Absent, or not a regular file: LG_ERR_IO naming it. */
    char missing[4096];
    t_path(missing, g_dir, "none.f32");
    CHECK_ERR(lg_feature_cache_read(missing, key, N, D, g), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), missing) != NULL);
    CHECK_ERR(lg_feature_cache_read(g_dir, key, N, D, g), LG_ERR_IO);
    free(buf);
}

int main(void) {
    if (!t_mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_key);
    RUN(test_path);
    RUN(test_damaged);
    t_rmtree(g_dir);
    return TEST_END();
}
