/* The feature cache of src/eval/feature_cache.h: keys, paths, and a reader
 * that trusts nothing it did not check (shape, key, payload checksum). */
#include "eval/feature_cache.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"

static const char MAGIC[8] = {'L', 'G', 'F', 'E', 'A', 'T', '0', '1'};

static void to_hex(const unsigned char md[32], char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static lg_status sha256(const void *buf, size_t len, unsigned char md[32]) {
    unsigned int mdlen = 0;
    LG_CHECK(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32,
             LG_ERR_UNSUPPORTED, "feature cache: OpenSSL could not compute a sha256");
    return LG_OK;
}

lg_status lg_feature_cache_key(const uint8_t *px, int n, int c, int h, int w, const char *resize,
                               const char *weights_sha256, char key[65]) {
    LG_CHECK(px && resize && weights_sha256 && key && n > 0 && c > 0 && h > 0 && w > 0,
             LG_ERR_ARG, "lg_feature_cache_key: bad argument");
    char text[256];
    int len = snprintf(text, sizeof text, "n=%d c=%d h=%d w=%d resize=%s weights=%s", n, c, h, w,
                       resize, weights_sha256);
    LG_CHECK(len > 0 && (size_t)len < sizeof text, LG_ERR_ARG, "feature cache: key text too long");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, px, (size_t)n * c * h * w) == 1 &&
             EVP_DigestUpdate(ctx, text, (size_t)len) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    LG_CHECK(ok, LG_ERR_UNSUPPORTED, "feature cache: OpenSSL could not compute a sha256");
    to_hex(md, key);
    return LG_OK;
}

lg_status lg_cache_dir(char *buf, size_t len) {
    LG_CHECK(buf && len, LG_ERR_ARG, "lg_cache_dir: no buffer");
    const char *cache = getenv("LAPGAN_CACHE"), *home = getenv("HOME");
    int n;
    if (cache && *cache) n = snprintf(buf, len, "%s", cache);
    else if (home && *home) n = snprintf(buf, len, "%s/.cache/lapgan", home);
    else return lg_error(LG_ERR_ARG, "feature cache: neither LAPGAN_CACHE nor HOME is set");
    LG_CHECK(n > 0 && (size_t)n < len, LG_ERR_ARG, "feature cache: cache path too long");
    return LG_OK;
}

lg_status lg_feature_cache_path(const char *space, const char *key, char *buf, size_t len) {
    LG_CHECK(space && key && strlen(key) == 64, LG_ERR_ARG, "lg_feature_cache_path: bad key");
    char dir[4096];
    LG_TRY(lg_cache_dir(dir, sizeof dir));
    int n = snprintf(buf, len, "%s/features-%s-%s.f32", dir, space, key);
    LG_CHECK(n > 0 && (size_t)n < len, LG_ERR_ARG, "feature cache: cache path too long");
    return LG_OK;
}

/* The header for n x d features under key with the payload's digest. */
static void make_header(unsigned char h[LG_FEATURE_CACHE_HEADER], const char *key, uint32_t n,
                        uint32_t d, const unsigned char md[32]) {
    memcpy(h, MAGIC, 8);
    memcpy(h + 8, &n, 4);
    memcpy(h + 12, &d, 4);
    memcpy(h + 16, key, 64);
    memcpy(h + 80, md, 32);
}

lg_status lg_feature_cache_write(const char *path, const char *key, const float *feats, int n,
                                 int d) {
    LG_CHECK(path && key && strlen(key) == 64 && feats && n > 0 && d > 0, LG_ERR_ARG,
             "lg_feature_cache_write: bad argument");
    const size_t bytes = sizeof(float) * (size_t)n * d;
    unsigned char md[32], h[LG_FEATURE_CACHE_HEADER];
    LG_TRY(sha256(feats, bytes, md));
    make_header(h, key, (uint32_t)n, (uint32_t)d, md);
    lg_atomic_file *f;
    LG_TRY(lg_atomic_open(&f, path));
    lg_status st = lg_atomic_write(f, h, sizeof h);
    if (st == LG_OK) st = lg_atomic_write(f, feats, bytes);
    if (st != LG_OK) {
        lg_atomic_abort(f);
        return st;
    }
    return lg_atomic_commit(f);
}

static lg_status read_all(int fd, const char *path, void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t k = read(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        LG_CHECK(k > 0, LG_ERR_IO, "%s: read failed: %s", path, k < 0 ? strerror(errno)
                                                                       : "unexpected end of file");
        p += k;
        len -= (size_t)k;
    }
    return LG_OK;
}

/* The header against what the caller expects. */
static lg_status check_header(const unsigned char *h, const char *path, const char *key, int n,
                              int d) {
    uint32_t fn, fd;
    memcpy(&fn, h + 8, 4);
    memcpy(&fd, h + 12, 4);
    LG_CHECK(!memcmp(h, MAGIC, 8), LG_ERR_FORMAT, "%s: not a lapgan feature cache (bad magic)",
             path);
    LG_CHECK(fn == (uint32_t)n && fd == (uint32_t)d, LG_ERR_FORMAT,
             "%s: holds %u x %u features, expected %d x %d", path, fn, fd, n, d);
    LG_CHECK(!memcmp(h + 16, key, 64), LG_ERR_FORMAT, "%s: made for other images (its key "
             "differs from its name)", path);
    return LG_OK;
}

lg_status lg_feature_cache_read(const char *path, const char *key, int n, int d, float *out) {
    LG_CHECK(path && key && strlen(key) == 64 && out && n > 0 && d > 0, LG_ERR_ARG,
             "lg_feature_cache_read: bad argument");
    const size_t bytes = sizeof(float) * (size_t)n * d;
    int fd;
    uint64_t size;
    LG_TRY(lg_open_regular(path, &fd, &size));
    unsigned char h[LG_FEATURE_CACHE_HEADER], md[32];
    lg_status st = LG_OK;
    if (size != LG_FEATURE_CACHE_HEADER + bytes)
        st = lg_error(LG_ERR_FORMAT, "%s: %llu bytes, expected %zu for %d x %d features "
                      "(truncated or not this cache's file)", path, (unsigned long long)size,
                      LG_FEATURE_CACHE_HEADER + bytes, n, d);
    if (st == LG_OK) st = read_all(fd, path, h, sizeof h);
    if (st == LG_OK) st = check_header(h, path, key, n, d);
    if (st == LG_OK) st = read_all(fd, path, out, bytes);
    close(fd);
    if (st == LG_OK) st = sha256(out, bytes, md);
    if (st == LG_OK && memcmp(md, h + 80, 32))
        st = lg_error(LG_ERR_FORMAT, "%s: features do not match their checksum (corrupted)", path);
    return st;
}
