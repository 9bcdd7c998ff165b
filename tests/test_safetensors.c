/* Safetensors reader and writer: bitwise round trips, a table of hostile
 * headers, truncated and corrupted files, and (when Python's safetensors is
 * importable) interop both ways with tests/cli/safetensors_interop.py. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char g_dir[64];

static const char *tmp_path(const char *leaf) {
    static char p[8][128];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, leaf);
    return p[k];
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static void spill(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* "8-byte length, header, data_len zero bytes" in a malloc'd buffer. */
static unsigned char *make_file(const char *header, size_t data_len, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    return b;
}

/* The tensors of the round trip, with awkward bit patterns included. */
#define RT_N 5
static float rt_a[6], rt_w[4 * 1 * 5 * 5], rt_s[1], rt_v[7];
static const char *rt_names[RT_N] = {"a", "0.conv2d.weight", "scalar", "empty", "v"};
static const int rt_ndim[RT_N] = {2, 4, 0, 2, 1};
static const int64_t rt_shape[RT_N][4] = {{2, 3}, {4, 1, 5, 5}, {0}, {0, 3}, {7}};
static const float *rt_data[RT_N] = {rt_a, rt_w, rt_s, NULL, rt_v};
static const size_t rt_numel[RT_N] = {6, 100, 1, 0, 7};

static void rt_fill(void) {
    lg_rng r;
    lg_rng_init(&r, 7, 0);
    lg_rng_normal(&r, rt_a, 6, 0, 1);
    lg_rng_normal(&r, rt_w, 100, 0, 1e-3f);
    rt_s[0] = 3.25f;
    lg_rng_uniform(&r, rt_v, 7, -1, 1);
    rt_v[0] = -0.0f;
    rt_v[1] = INFINITY;
    rt_v[2] = NAN;
    rt_v[3] = 1e-45f; /* denormal */
}

static lg_status rt_write(const char *path) {
    lg_st_writer *w;
    lg_status s = lg_st_writer_new(&w);
    if (s != LG_OK) return s;
    for (int i = 0; i < RT_N && s == LG_OK; i++)
        s = lg_st_writer_add(w, rt_names[i], rt_data[i], rt_ndim[i], rt_shape[i]);
    if (s == LG_OK) s = lg_st_writer_meta(w, "format", "lapgan-test");
    if (s == LG_OK) s = lg_st_writer_meta(w, "note", "\xce\xbb = 0.5, \"quoted\"\\");
    if (s == LG_OK) s = lg_st_writer_write(w, path);
    lg_st_writer_free(w);
    return s;
}

static void rt_verify(const lg_safetensors *st) {
    CHECK(lg_st_count(st) == RT_N);
    for (int i = 0; i < RT_N && i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_at(st, i);
        CHECK(strcmp(t->name, rt_names[i]) == 0); /* insertion order kept */
        CHECK(t->ndim == rt_ndim[i] && t->numel == rt_numel[i]);
        for (int d = 0; d < t->ndim; d++) CHECK(t->shape[d] == rt_shape[i][d]);
        CHECK(((uintptr_t)t->data & 3) == 0);
        if (rt_numel[i]) CHECK(memcmp(t->data, rt_data[i], rt_numel[i] * 4) == 0);
        CHECK(lg_st_find(st, rt_names[i]) == t);
    }
    CHECK(lg_st_meta_count(st) == 2);
    const char *k, *v;
    lg_st_meta_at(st, 1, &k, &v);
    CHECK(k && strcmp(k, "note") == 0 && strcmp(v, "\xce\xbb = 0.5, \"quoted\"\\") == 0);
    CHECK(lg_st_meta(st, "format") && strcmp(lg_st_meta(st, "format"), "lapgan-test") == 0);
    CHECK(lg_st_meta(st, "absent") == NULL);
    lg_st_meta_at(st, 2, &k, &v);
    CHECK(k == NULL && v == NULL);
    CHECK(lg_st_at(st, RT_N) == NULL && lg_st_at(st, -1) == NULL);
}

static void test_round_trip(void) {
    rt_fill();
    const char *path = tmp_path("rt.safetensors");
    CHECK_OK(rt_write(path));
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, path));
    if (!st) return;
    rt_verify(st);
    lg_st_free(st);

    /* Layout: header padded to 8 bytes, data area exactly the tensors. */
    size_t len = 0;
    unsigned char *b = slurp(path, &len);
    CHECK(b && len >= 8);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | b[i];
    CHECK(h % 8 == 0 && len == 8 + h + (6 + 100 + 1 + 0 + 7) * 4);
    CHECK(b[8] == '{' && b[8 + h - 1] != 0);
    CHECK_OK(lg_st_parse(&st, b, len, "memory-copy"));
    if (st) rt_verify(st);
    lg_st_free(st);
    free(b);

    /* The atomic writer leaves no temporary file behind. */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
}

static void test_missing_tensor_message(void) {
    rt_fill();
    const char *path = tmp_path("find.safetensors");
    CHECK_OK(rt_write(path));
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, path));
    if (!st) return;
    lg_error_clear();
    CHECK(lg_st_find(st, "nope.weight") == NULL);
    CHECK(strstr(lg_errmsg(), "find.safetensors") && strstr(lg_errmsg(), "nope.weight"));
    lg_st_free(st);
}

static void test_writer_rejects_bad_arguments(void) {
    lg_st_writer *w = NULL;
    CHECK_OK(lg_st_writer_new(&w));
    if (!w) return;
    float x[4] = {1, 2, 3, 4};
    int64_t s4[1] = {4}, neg[2] = {2, -2}, big[3] = {INT64_MAX, INT64_MAX, 2};
    CHECK_OK(lg_st_writer_add(w, "x", x, 1, s4));
    CHECK_ERR(lg_st_writer_add(w, "x", x, 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "", x, 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "__metadata__", x, 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "bad\xff", x, 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "n", x, 2, neg), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "o", x, 3, big), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "d", x, LG_ST_MAX_DIMS + 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(w, "z", NULL, 1, s4), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_add(NULL, "y", x, 1, s4), LG_ERR_ARG);
    CHECK_OK(lg_st_writer_meta(w, "k", "v"));
    CHECK_ERR(lg_st_writer_meta(w, "k", "again"), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_meta(w, "k2", "\xc3"), LG_ERR_ARG);
    CHECK_ERR(lg_st_writer_write(w, "/nonexistent-dir/x.safetensors"), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "/nonexistent-dir/x.safetensors") != NULL);
    /* The failed calls left the writer usable: exactly x and k are written. */
    const char *path = tmp_path("args.safetensors");
    CHECK_OK(lg_st_writer_write(w, path));
    lg_st_writer_free(w);
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, path));
    CHECK(lg_st_count(st) == 1 && lg_st_meta_count(st) == 1);
    lg_st_free(st);
}

typedef struct {
    const char *what, *header;
    size_t data_len;
    lg_status want;
    const char *in_msg; /* a word the message must contain besides the name */
} hostile_case;

static const hostile_case hostile[] = {
    {"invalid JSON", "{\"a\": {", 0, LG_ERR_FORMAT, "line"},
    {"trailing garbage", "{} x", 0, LG_ERR_FORMAT, "line"},
    {"not an object", "[1, 2]", 0, LG_ERR_FORMAT, "object"},
    {"empty header", "", 0, LG_ERR_FORMAT, "JSON"},
    {"non-object entry", "{\"a\": 5}", 0, LG_ERR_FORMAT, "'a'"},
    {"F16 dtype", "{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_UNSUPPORTED, "tensor 'x' has dtype F16; lapgan reads F32 only"},
    {"unknown dtype", "{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "F33"},
    {"dtype not a string", "{\"x\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "dtype"},
    {"missing shape", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, LG_ERR_FORMAT,
     "shape"},
    {"fractional dim", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "dim 0"},
    {"negative dim", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "dim 1"},
    {"shape overflow",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0,
     LG_ERR_FORMAT, "overflow"},
    {"huge integer", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1e30],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "dim 0"},
    {"too big for jansson",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "line"},
    {"nine dims",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "9 dims"},
    {"offsets not a pair", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     LG_ERR_FORMAT, "data_offsets"},
    {"offsets strings", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}",
     4, LG_ERR_FORMAT, "data_offsets"},
    {"negative offset", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
     LG_ERR_FORMAT, "data_offsets"},
    {"begin after end", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
     LG_ERR_FORMAT, "before begin"},
    {"end beyond data", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
     LG_ERR_FORMAT, "beyond"},
    {"end far beyond data",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,"
     "9223372036854775804]}}",
     4, LG_ERR_FORMAT, "beyond"},
    {"size/shape mismatch", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
     LG_ERR_FORMAT, "3 F32 elements"},
    {"overlapping",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, LG_ERR_FORMAT, "overlaps"},
    {"same range twice",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, LG_ERR_FORMAT, "overlaps"},
    {"misaligned gap", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}", 5,
     LG_ERR_FORMAT, "unused"},
    {"trailing bytes", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6,
     LG_ERR_FORMAT, "trailing"},
    {"duplicate name",
     "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, LG_ERR_FORMAT, "duplicate"},
    {"NUL in name", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "line"},
    {"metadata not an object", "{\"__metadata__\": [\"a\"]}", 0, LG_ERR_FORMAT, "__metadata__"},
    {"metadata value number", "{\"__metadata__\": {\"epoch\": 3}}", 0, LG_ERR_FORMAT, "epoch"},
    {"invalid UTF-8", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LG_ERR_FORMAT, "line"},
    /* Valid edge cases: no tensors, padding, metadata only, zero-size tensor. */
    {"empty object", "{}", 0, LG_OK, NULL},
    {"space padded", "{\"__metadata__\":{\"a\":\"b\"}}       ", 0, LG_OK, NULL},
    {"zero-size tensor", "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]}}", 0,
     LG_OK, NULL},
};

static void test_hostile_headers(void) {
    for (int i = 0; i < NELEM(hostile); i++) {
        const hostile_case *c = &hostile[i];
        char name[64];
        snprintf(name, sizeof name, "hostile-%02d.safetensors", i);
        size_t len;
        unsigned char *b = make_file(c->header, c->data_len, &len);
        lg_safetensors *st = NULL;
        lg_error_clear();
        lg_status s = lg_st_parse(&st, b, len, name);
        const char *m = lg_errmsg();
        CHECK_MSG(s == c->want, "%s: got %s (%s), want %s", c->what, lg_status_name(s), m,
                  lg_status_name(c->want));
        if (c->want != LG_OK) {
            CHECK_MSG(st == NULL, "%s: output set on error", c->what);
            CHECK_MSG(strstr(m, name) != NULL, "%s: message \"%s\" lacks the name", c->what, m);
            CHECK_MSG(strstr(m, c->in_msg) != NULL, "%s: message \"%s\" lacks \"%s\"", c->what, m,
                      c->in_msg);
        }
        lg_st_free(st);
        free(b);
    }
}

/* The 8-byte length prefix itself. */
static void test_hostile_lengths(void) {
    unsigned char b[16] = {0};
    lg_safetensors *st = NULL;
    CHECK_ERR(lg_st_parse(&st, b, 5, "short.st"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "short.st") != NULL);
    b[0] = 9; /* 9 > 16 - 8 */
    CHECK_ERR(lg_st_parse(&st, b, 16, "long.st"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "long.st") && strstr(lg_errmsg(), "exceeds"));
    memset(b, 0xff, 8); /* 2^64 - 1: must not wrap around in 8 + n */
    CHECK_ERR(lg_st_parse(&st, b, 16, "wrap.st"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "wrap.st") && strstr(lg_errmsg(), "absurd"));
    CHECK(st == NULL);
    CHECK_ERR(lg_st_parse(NULL, b, 16, "x"), LG_ERR_ARG);
    CHECK_ERR(lg_st_parse(&st, NULL, 16, "x"), LG_ERR_ARG);
}

static void test_hostile_files(void) {
    lg_safetensors *st = NULL;
    CHECK_ERR(lg_st_read(&st, tmp_path("does-not-exist.safetensors")), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "does-not-exist.safetensors") != NULL);
    CHECK_ERR(lg_st_read(&st, g_dir), LG_ERR_IO);
    CHECK_ERR(lg_st_read(&st, NULL), LG_ERR_ARG);
    const char *p = tmp_path("short.safetensors");
    spill(p, "\x10\0\0", 3);
    CHECK_ERR(lg_st_read(&st, p), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "short.safetensors") != NULL);
    size_t len = 0;
    unsigned char *b = make_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                 8, &len);
    b[0] += 1; /* header length one byte longer than the JSON: eats a data byte */
    p = tmp_path("offbyone.safetensors");
    spill(p, b, len);
    CHECK_ERR(lg_st_read(&st, p), LG_ERR_FORMAT);
    b[0] = 200; /* header length beyond the file */
    spill(p, b, 40);
    CHECK_ERR(lg_st_read(&st, p), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "offbyone.safetensors") && strstr(lg_errmsg(), "exceeds"));
    CHECK(st == NULL);
    free(b);
}

/* Every proper prefix of a valid file is rejected, and arbitrary single-byte
 * corruptions never crash or yield an out-of-range tensor (the sanitizer
 * build is the real judge here). */
static void test_truncations_and_corruptions(void) {
    rt_fill();
    const char *path = tmp_path("trunc.safetensors");
    CHECK_OK(rt_write(path));
    size_t len = 0;
    unsigned char *b = slurp(path, &len);
    if (!b) return;
    lg_safetensors *st;
    for (size_t n = 0; n < len; n++) {
        st = NULL;
        lg_status s = lg_st_parse(&st, b, n, "prefix");
        CHECK_MSG(s == LG_ERR_FORMAT && st == NULL, "prefix of %zu bytes: %s", n,
                  lg_status_name(s));
        lg_st_free(st);
    }
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | b[i];
    static const unsigned char subst[] = {'"', '}', ']', ',', '0', '9', '-', ' ', 0, 0xff};
    for (size_t i = 0; i < 8 + h; i++) {
        unsigned char keep = b[i];
        for (int k = 0; k < NELEM(subst); k++) {
            b[i] = subst[k];
            st = NULL;
            if (lg_st_parse(&st, b, len, "corrupt") == LG_OK) {
                for (int t = 0; t < lg_st_count(st); t++) {
                    const lg_st_tensor *x = lg_st_at(st, t);
                    volatile float sink = 0;
                    for (size_t j = 0; j < x->numel; j++) sink += x->data[j];
                    (void)sink;
                }
            }
            lg_st_free(st);
        }
        b[i] = keep;
    }
    free(b);
}

/* ---- Python interop ------------------------------------------------------ */

static const char *interop_python(void) {
    const char *py = getenv("LG_ST_PYTHON");
    return py && py[0] ? py : "/usr/bin/python3";
}

static int run_cmd(const char *fmt, const char *a, const char *b) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    return rc;
}

/* Fills the tensors both sides agree on (tests/cli/safetensors_interop.py). */
static void interop_values(float *w, float *b) {
    for (int i = 0; i < 12; i++) w[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 5; i++) b[i] = 1.0f / (float)(i + 1);
}

static void test_python_interop(void) {
    const char *py = interop_python();
    const char *script = "tests/cli/safetensors_interop.py";
    if (access(script, R_OK) != 0) SKIP("%s not found (run from the repository root)", script);
    if (run_cmd("'%s' -c 'import safetensors.numpy' >/dev/null 2>&1%s", py, "") != 0)
        SKIP("%s cannot import safetensors (tests/cli/safetensors_interop.sh provides it)", py);
    float w[12], b[5];
    interop_values(w, b);
    lg_st_writer *wr = NULL;
    CHECK_OK(lg_st_writer_new(&wr));
    if (!wr) return;
    int64_t sw[2] = {3, 4}, sb[1] = {5};
    CHECK_OK(lg_st_writer_add(wr, "layer.weight", w, 2, sw));
    CHECK_OK(lg_st_writer_add(wr, "layer.bias", b, 1, sb));
    CHECK_OK(lg_st_writer_meta(wr, "format", "lapgan-test"));
    CHECK_OK(lg_st_writer_meta(wr, "note", "\xc3\xbc" "n\xc3\xaf" "code"));
    const char *ours = tmp_path("ours.safetensors"), *theirs = tmp_path("theirs.safetensors");
    CHECK_OK(lg_st_writer_write(wr, ours));
    lg_st_writer_free(wr);
    CHECK_MSG(run_cmd("'%s' tests/cli/safetensors_interop.py check '%s'", py, ours) == 0,
              "Python's safetensors rejected or misread our file");
    CHECK(run_cmd("'%s' tests/cli/safetensors_interop.py write '%s'", py, theirs) == 0);
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, theirs));
    if (!st) return;
    CHECK(lg_st_count(st) == 3);
    const lg_st_tensor *x = lg_st_find(st, "x"), *s = lg_st_find(st, "s"),
                       *e = lg_st_find(st, "e");
    CHECK(x && x->ndim == 3 && x->shape[0] == 2 && x->shape[1] == 3 && x->shape[2] == 4);
    for (int i = 0; x && i < 24; i++) CHECK(x->data[i] == (float)i * 0.5f);
    CHECK(s && s->ndim == 0 && s->numel == 1 && s->data[0] == -2.5f);
    CHECK(e && e->numel == 0);
    CHECK(lg_st_meta(st, "writer") && strcmp(lg_st_meta(st, "writer"), "python") == 0);
    lg_st_free(st);
    /* A file with a float16 tensor is refused by dtype name. */
    CHECK(run_cmd("'%s' tests/cli/safetensors_interop.py write-f16 '%s'", py, theirs) == 0);
    CHECK_ERR(lg_st_read(&st, theirs), LG_ERR_UNSUPPORTED);
    CHECK(strstr(lg_errmsg(), "F16") != NULL);
}

static void cleanup_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lg_st_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_missing_tensor_message);
    RUN(test_writer_rejects_bad_arguments);
    RUN(test_hostile_headers);
    RUN(test_hostile_lengths);
    RUN(test_hostile_files);
    RUN(test_truncations_and_corruptions);
    /* Needs Python's safetensors, which tests/cli/safetensors_interop.sh sets
     * up and names in LG_ST_PYTHON: run from there only, not a line here. */
    if (getenv("LG_ST_PYTHON")) RUN(test_python_interop);
    cleanup_dir();
    return TEST_END();
}
