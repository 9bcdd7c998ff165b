/* The STL-10, .npy/.npz and dataset-zip loaders against the same 12 images
 * read by the CIFAR-10 loader (or, for JPEGs, the folder loader): count,
 * labels and every pixel. tests/cli/data_formats.py writes the files (from
 * the shared CIFAR-10 test batch when present, else generated images);
 * tests/cli/data_formats.sh checks the hostile ones through the CLI. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <webp/encode.h>
#include <zlib.h>

#include "test.h"
#include "tmpfiles.h"

static char dir[64];
static int have_files;
static lg_dataset *ref; /* cifar10-test:DIR/ref */

static lg_dataset *open_ds(const char *kind, const char *file, int c, int size) {
    char spec[4200];
    snprintf(spec, sizeof spec, "%s:%s/%s", kind, dir, file);
    lg_dataset *ds = NULL;
    CHECK_OK(lg_dataset_open(&ds, spec, c, size));
    return ds;
}

/* ds holds ref's images (channel ch0 only when grey), labels when labelled. */
static void check_same(const lg_dataset *ds, int labelled, const char *what) {
    CHECK_MSG(ds && ds->n == ref->n && ds->h == 32 && ds->w == 32, "%s: %d images of %dx%d", what,
              ds ? ds->n : -1, ds ? ds->h : -1, ds ? ds->w : -1);
    if (!ds || ds->n != ref->n || ds->h != 32 || ds->w != 32) return;
    size_t plane = 32 * 32, bad = 0;
    uint8_t *px = t_pixels(ds);
    CHECK_MSG(px, "%s: its images cannot be read", what);
    for (int i = 0; px && i < ds->n; i++)
        for (int c = 0; c < ds->c; c++)
            bad += memcmp(px + ((size_t)i * ds->c + c) * plane,
                          ref->pixels + ((size_t)i * 3 + c) * plane, plane) != 0;
    free(px);
    CHECK_MSG(bad == 0, "%s: %zu image planes differ from the CIFAR-10 loader's", what, bad);
    CHECK_MSG(labelled ? ds->nclasses == ref->nclasses : ds->nclasses == 0,
              "%s: %d classes, want %d", what, ds->nclasses, labelled ? ref->nclasses : 0);
    for (int i = 0; i < ds->n; i++)
        CHECK_MSG(ds->labels[i] == (labelled ? ref->labels[i] : -1), "%s: label %d is %d", what,
                  i, ds->labels[i]);
}

static const char *cifar_batch(char *buf, size_t cap) {
    const char *sub[2] = {"data/cifar10/test_batch.bin", "data/cifar10/jpeg/test_batch.bin"};
    for (int k = 0; k < 2; k++) {
        snprintf(buf, cap, "%s/%s", t_shared_dir(), sub[k]);
        if (access(buf, R_OK) == 0) return buf;
    }
    return "";
}

static void test_generate(void) {
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        SKIP("/usr/bin/python3 with numpy absent (scripts/deps.sh test installs python3-numpy)");
    CHECK(t_mkdtemp(dir));
    char batch[4096], cmd[8400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/cli/data_formats.py %s '%s'", dir,
             cifar_batch(batch, sizeof batch));
    CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    ref = open_ds("cifar10-test", "ref", 3, 32);
    have_files = ref && ref->n == 12 && ref->nclasses == 10;
    CHECK(have_files);
    if (!have_files) return;
    /* The generator keeps 4 classes; the CIFAR-10 loader always says 10. */
    for (int i = 0; i < ref->nclasses; i++) free(ref->class_names[i]);
    free(ref->class_names);
    ref->class_names = NULL;
    ref->nclasses = 4;
}

static void test_stl10(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *tr = open_ds("stl10", "stl", 3, 0), *te = open_ds("stl10-test", "stl", 3, 0),
               *un = open_ds("stl10-unlabeled", "stl", 3, 0);
    if (!tr || !te || !un) goto done;
    CHECK(tr->n == 12 && te->n == 12 && un->n == 5 && tr->c == 3 && tr->h == 96 && tr->w == 96);
    CHECK(tr->nclasses == 10 && !strcmp(tr->class_names[2], "car") && un->nclasses == 0);
    size_t bad = 0;
    for (int i = 0; i < 12; i++) {
        CHECK(tr->labels[i] == ref->labels[i] && te->labels[i] == ref->labels[11 - i]);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 96; y++)
                for (int x = 0; x < 96; x++) {
                    uint8_t want = ref->pixels[((size_t)i * 3 + c) * 1024 + y / 3 * 32 + x / 3];
                    size_t at = (((size_t)i * 3 + c) * 96 + y) * 96 + x;
                    bad += tr->pixels[at] != want;
                    if (i < 5) bad += un->pixels[at] != want;
                }
    }
    CHECK_MSG(bad == 0, "%zu STL-10 pixels differ from the CIFAR-10 images enlarged 3x", bad);
    for (int i = 0; i < 5; i++) CHECK(un->labels[i] == -1);
done:
    lg_dataset_free(tr);
    lg_dataset_free(te);
    lg_dataset_free(un);
}

static void test_npy(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("npy", "nhwc.npy,", 3, 0), *b = NULL, *g = NULL, *l = NULL;
    check_same(a, 0, "nhwc.npy");
    char spec[4300];
    snprintf(spec, sizeof spec, "npy:%s/nchw.npy,%s/labels_u8.npy", dir, dir);
    CHECK_OK(lg_dataset_open(&b, spec, 3, 0));
    check_same(b, 1, "nchw.npy + labels_u8.npy");
    snprintf(spec, sizeof spec, "npy:%s/nhwc.npy,%s/labels.npy", dir, dir);
    CHECK_OK(lg_dataset_open(&l, spec, 3, 0));
    check_same(l, 1, "nhwc.npy + labels.npy (int64)");
    g = open_ds("npy", "grey.npy", 1, 0);
    CHECK(g && g->c == 1);
    if (g && g->c == 1) check_same(g, 0, "grey.npy (N, H, W)");
    lg_dataset_free(a);
    lg_dataset_free(b);
    lg_dataset_free(g);
    lg_dataset_free(l);
}

static void test_npz(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("npz", "xy.npz", 3, 0), *b = open_ds("npz", "first_two.npz", 3, 0);
    check_same(a, 1, "xy.npz (x, y; stored)");
    check_same(b, 1, "first_two.npz (arr_0, arr_1; deflated)");
    /* np.savez stores, so its images stay in the file; a deflated entry
     * cannot be read at random and is inflated into memory. */
    CHECK_MSG(a && lg_dataset_streamed(a), "xy.npz (stored) is not streamed");
    CHECK_MSG(b && !lg_dataset_streamed(b), "first_two.npz (deflated) is not in memory");
    lg_dataset_free(a);
    lg_dataset_free(b);
}

/* A .npy header (version 1.0) for uint8 of the given shape text, padded
 * to 64 bytes as numpy pads it; returns its length. */
static size_t npy_header(char *out, size_t cap, const char *shape) {
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }",
                     shape);
    size_t hl = (size_t)k + 1;
    while ((10 + hl) % 64) hl++;
    if (10 + hl > cap) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(hl & 255);
    out[9] = (char)(hl >> 8);
    memset(out + 10, ' ', hl);
    memcpy(out + 10, dict, (size_t)k);
    out[10 + hl - 1] = '\n';
    return 10 + hl;
}

/* Streamed arrays are not bound by the 2 GiB that an array read into
 * memory may have: a sparse 7.4 GB NHWC .npy reads its last image (at an
 * offset past 2^32) correctly, and an array of 2^31 images is refused by
 * name rather than wrapped into a negative count of images. */
static void test_npy_huge(void) {
    char d[64], path[4200], head[128], spec[4300];
    CHECK(t_mkdtemp(d));
    enum { N = 600000, S = 64 * 64 * 3 };
    snprintf(path, sizeof path, "%s/huge.npy", d);
    size_t hl = npy_header(head, sizeof head, "(600000, 64, 64, 3)");
    uint8_t img[S];
    for (int k = 0; k < S; k++) img[k] = (uint8_t)(k * 7 + 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && hl > 0);
    if (fd < 0) return;
    const off_t last = (off_t)hl + (off_t)(N - 1) * S;
    CHECK(pwrite(fd, head, hl, 0) == (ssize_t)hl && pwrite(fd, img, S, last) == S);
    close(fd);
    snprintf(spec, sizeof spec, "npy:%s", path);
    lg_dataset *ds = NULL;
    CHECK_OK(lg_dataset_open(&ds, spec, 3, 0));
    if (ds) {
        CHECK(ds->n == N && ds->c == 3 && ds->h == 64 && ds->w == 64 && lg_dataset_streamed(ds));
        uint8_t buf[S];
        const uint8_t *px = NULL;
        CHECK_OK(lg_dataset_image(ds, N - 1, buf, &px));
        size_t bad = 0;
        for (int c = 0; px && c < 3; c++)
            for (int p = 0; p < 64 * 64; p++) bad += px[c * 64 * 64 + p] != img[p * 3 + c];
        CHECK_MSG(px && bad == 0, "%zu pixels of the last image differ", bad);
        CHECK_OK(lg_dataset_image(ds, 0, buf, &px));
        for (int k = 0; px && k < S; k++) bad += px[k] != 0;
        CHECK(px && bad == 0);
    }
    lg_dataset_free(ds);

    snprintf(path, sizeof path, "%s/many.npy", d);
    hl = npy_header(head, sizeof head, "(2147483648, 1, 1)");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && pwrite(fd, head, hl, 0) == (ssize_t)hl &&
          ftruncate(fd, (off_t)hl + ((off_t)1 << 31)) == 0);
    if (fd >= 0) close(fd);
    snprintf(spec, sizeof spec, "npy:%s", path);
    ds = NULL;
    CHECK(lg_dataset_open(&ds, spec, 1, 0) == LG_ERR_FORMAT && !ds);
    CHECK_MSG(strstr(lg_errmsg(), "many.npy: bad .npy header: shape entries must be integers "
                                  "below 2^31"), "got: %s", lg_errmsg());
    t_rmtree(d);
}

static void test_zip(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("zip", "set.zip", 3, 32), *b = open_ds("zip", "set.zip", 3, 0),
               *s = open_ds("zip", "set_stored.zip", 3, 32);
    check_same(a, 1, "set.zip (PNG, dataset.json)");
    check_same(b, 1, "set.zip at size 0 (the images' own)");
    check_same(s, 0, "set_stored.zip (no dataset.json)");
    lg_dataset_free(a);
    lg_dataset_free(b);
    lg_dataset_free(s);
}

static void test_zip_jpeg(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    char path[4200];
    snprintf(path, sizeof path, "%s/set_jpeg.zip", dir);
    if (access(path, R_OK) != 0)
        SKIP("no JPEGs written: python3-opencv absent (scripts/deps.sh test installs it)");
    lg_dataset *z = open_ds("zip", "set_jpeg.zip", 3, 32), *f = open_ds("folder", "jpeg_ref", 3, 32);
    CHECK(z && f && z->n == 12 && f->n == 12);
    if (z && f && z->n == f->n) {
        uint8_t *zp = t_pixels(z);
        CHECK_MSG(zp && !memcmp(zp, f->pixels, (size_t)12 * 3 * 32 * 32),
                  "JPEG zip pixels differ from the folder loader's");
        free(zp);
        for (int i = 0; i < 12; i++) CHECK(z->labels[i] == ref->labels[i]);
    }
    lg_dataset_free(z);
    lg_dataset_free(f);
}

/* ---- LSUN's LMDB: environments written here with liblmdb ---------------- */

typedef struct {
    const char *key;
    const void *val;
    size_t len;
} kv;

/* Writes an LMDB environment directory dir/name with the pairs, in the
 * order given (LMDB keeps them sorted by key). */
static int write_lmdb(const char *name, const kv *v, int n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mkdir(path, 0755) != 0) return -1;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0) rc = mdb_env_set_mapsize(env, (size_t)64 << 20);
    if (rc == 0) rc = mdb_env_open(env, path, 0, 0644);
    if (rc == 0) rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    for (int i = 0; i < n && rc == 0; i++) {
        MDB_val k = {strlen(v[i].key), (void *)v[i].key}, d = {v[i].len, (void *)v[i].val};
        rc = mdb_put(txn, dbi, &k, &d, 0);
    }
    if (rc == 0) rc = mdb_txn_commit(txn);
    mdb_env_close(env);
    return rc;
}

static lg_dataset *open_lsun(const char *names, int expect) {
    char spec[4200] = "lsun:";
    for (const char *p = names; *p;) { /* "a,b" -> "lsun:DIR/a,DIR/b" */
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        size_t at = strlen(spec);
        snprintf(spec + at, sizeof spec - at, "%s%s/%.*s", at > 5 ? "," : "", dir, (int)n, p);
        p += n + (comma != NULL);
    }
    lg_dataset *ds = NULL;
    lg_status st = lg_dataset_open(&ds, spec, 3, 32);
    CHECK_MSG(st == (lg_status)expect, "%s: status %d, want %d (%s)", spec, st, expect,
              st ? lg_errmsg() : "");
    if (st != LG_OK) CHECK(ds == NULL && strstr(lg_errmsg(), dir) != NULL);
    return ds;
}

/* A PNG that claims w x h (IHDR patched, its CRC recomputed). */
static size_t huge_png(const lg_image *one, uint32_t w, uint32_t h, unsigned char **out) {
    void *buf;
    size_t len;
    if (lg_png_encode(one, &buf, &len, "huge") != LG_OK) return 0;
    unsigned char *b = buf; /* signature (8), length (4), "IHDR", w, h, ... */
    for (int i = 0; i < 4; i++) b[16 + i] = (unsigned char)(w >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) b[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    uint32_t crc = (uint32_t)crc32(0, b + 12, 17);
    for (int i = 0; i < 4; i++) b[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    *out = buf;
    return len;
}

/* PNG and WebP (lossless) values give the CIFAR-10 loader's pixels exactly;
 * JPEG values the folder loader's; two environments are two classes; keys
 * are read in key order whatever order they were written in. */
static void test_lsun(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    enum { N = 12, IMG = 3 * 32 * 32 };
    kv v[N];
    char keys[N][16];
    void *enc[N] = {0};
    size_t enc_len[N] = {0};
    for (int i = 0; i < N; i++) {
        int j = N - 1 - i; /* written in reverse key order */
        lg_image im = {.w = 32, .h = 32, .c = 3, .px = malloc(IMG)};
        for (int p = 0; p < 32 * 32; p++)
            for (int c = 0; c < 3; c++)
                im.px[p * 3 + c] = ref->pixels[(size_t)j * IMG + (size_t)c * 1024 + p];
        size_t len = 0;
        if (j % 2) {
            uint8_t *w = NULL;
            len = WebPEncodeLosslessRGB(im.px, 32, 32, 96, &w);
            enc[i] = lg_alloc(len);
            if (enc[i]) memcpy(enc[i], w, len);
            WebPFree(w);
        } else {
            CHECK_OK(lg_png_encode(&im, &enc[i], &len, "png"));
        }
        free(im.px);
        snprintf(keys[i], sizeof keys[i], "%08d", j);
        enc_len[i] = len;
        v[i] = (kv){keys[i], enc[i], len};
        CHECK(enc[i] && len > 0);
    }
    CHECK(write_lmdb("mixed_lmdb", v, N) == 0);
    lg_dataset *a = open_lsun("mixed_lmdb", LG_OK);
    CHECK(a && a->n == N && a->nclasses == 1 && !strcmp(a->class_names[0], "mixed"));
    if (a && a->n == N) {
        uint8_t *ap = t_pixels(a);
        CHECK_MSG(ap && !memcmp(ap, ref->pixels, (size_t)N * IMG),
                  "PNG/WebP values differ from the CIFAR-10 loader's pixels");
        free(ap);
        for (int i = 0; i < N; i++) CHECK(a->labels[i] == 0);
    }
    lg_dataset_free(a);

    /* JPEG values: the files the folder test reads, as an environment. */
    char path[4200];
    snprintf(path, sizeof path, "%s/jpeg_ref/img%08d.jpg", dir, 0);
    if (access(path, R_OK) == 0) {
        unsigned char *jb[N] = {0};
        size_t jl[N];
        for (int i = 0; i < N; i++) {
            snprintf(path, sizeof path, "%s/jpeg_ref/img%08d.jpg", dir, i);
            FILE *f = fopen(path, "rb");
            jb[i] = malloc(1 << 16);
            jl[i] = f && jb[i] ? fread(jb[i], 1, 1 << 16, f) : 0;
            if (f) fclose(f);
            snprintf(keys[i], sizeof keys[i], "img%08d", i);
            v[i] = (kv){keys[i], jb[i], jl[i]};
        }
        CHECK(write_lmdb("jpeg_lmdb", v, N) == 0);
        lg_dataset *two = open_lsun("mixed_lmdb,jpeg_lmdb", LG_OK),
                   *f = open_ds("folder", "jpeg_ref", 3, 32);
        CHECK(two && f && two->n == 2 * N && two->nclasses == 2 && f->n == N);
        if (two && f && two->n == 2 * N && f->n == N) {
            CHECK(!strcmp(two->class_names[1], "jpeg"));
            uint8_t *tp = t_pixels(two);
            CHECK_MSG(tp && !memcmp(tp + (size_t)N * IMG, f->pixels, (size_t)N * IMG),
                      "JPEG values differ from the folder loader's pixels");
            free(tp);
            for (int i = 0; i < 2 * N; i++) CHECK(two->labels[i] == (i >= N));
        }
        lg_dataset_free(two);
        lg_dataset_free(f);
        for (int i = 0; i < N; i++) free(jb[i]);
    }

    /* Hostile environments. */
    unsigned char *huge = NULL;
    lg_image one = {.w = 1, .h = 1, .c = 3, .px = (uint8_t[3]){1, 2, 3}};
    size_t hl = huge_png(&one, 60000, 60000, &huge);
    kv bad_value[2] = {{"a", enc[0], enc_len[0]}, {"b", "not an image", 12}};
    kv huge_value[1] = {{"big", huge, hl}};
    CHECK(write_lmdb("notimage_lmdb", bad_value, 2) == 0);
    CHECK(hl > 0 && write_lmdb("huge_lmdb", huge_value, 1) == 0);
    CHECK(write_lmdb("empty_lmdb", NULL, 0) == 0);
    /* Streamed: the first value decodes on opening, the others when read. */
    lg_dataset *ni = open_lsun("notimage_lmdb", LG_OK);
    uint8_t buf[IMG];
    const uint8_t *px;
    CHECK(ni && ni->n == 2 && lg_dataset_image(ni, 0, buf, &px) == LG_OK);
    if (ni) CHECK_ERR(lg_dataset_image(ni, 1, buf, &px), LG_ERR_FORMAT);
    CHECK_MSG(strstr(lg_errmsg(), "notimage_lmdb: entry b: not a PNG, JPEG or WebP image"),
              "message: %s", lg_errmsg());
    lg_dataset_free(ni);
    kv bad_first[2] = {{"a", "not an image", 12}, {"b", enc[0], enc_len[0]}};
    CHECK(write_lmdb("badfirst_lmdb", bad_first, 2) == 0);
    open_lsun("badfirst_lmdb", LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "entry a") != NULL);
    open_lsun("huge_lmdb", LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "entry big") != NULL);
    open_lsun("empty_lmdb", LG_ERR_FORMAT);
    open_lsun("absent_lmdb", LG_ERR_IO);
    open_lsun("mixed_lmdb,absent_lmdb", LG_ERR_IO);
    /* A truncated copy and a file of garbage. */
    char src[4300], cmd[9000];
    snprintf(src, sizeof src, "%s/mixed_lmdb/data.mdb", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/trunc_lmdb %s/garbage_lmdb && head -c 12288 %s > %s/trunc_lmdb/data.mdb"
             " && head -c 65536 /dev/urandom > %s/garbage_lmdb/data.mdb",
             dir, dir, src, dir, dir);
    CHECK(system(cmd) == 0);
    open_lsun("trunc_lmdb", LG_ERR_FORMAT);
    open_lsun("garbage_lmdb", LG_ERR_FORMAT);
    lg_free(huge);
    for (int i = 0; i < N; i++) lg_free(enc[i]);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* Loads and refusals leave nothing open (libzip takes the descriptor only
 * on success). */
static void test_refusals_leak_nothing(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    const char *bad[] = {"zip:%s/bad/not_a.zip", "zip:%s/bad/dotdot.zip", "npz:%s/bad/bomb.npz",
                         "zip:%s/bad/bomb_expand.zip", "stl10:%s/bad/stl",
                         "npy:%s/bad/truncated_header.npy", "npy:%s/bad/truncated_data.npy"};
    int before = open_fds();
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char spec[4200];
        snprintf(spec, sizeof spec, bad[k], dir);
        lg_dataset *ds = NULL;
        CHECK_ERR(lg_dataset_open(&ds, spec, 3, 32), LG_ERR_FORMAT);
        CHECK(ds == NULL);
    }
    lg_dataset_free(open_ds("zip", "set.zip", 3, 32));
    lg_dataset_free(open_ds("npz", "first_two.npz", 3, 0));
    lg_dataset_free(open_ds("npy", "nhwc.npy", 3, 0)); /* streamed: holds its file until freed */
    CHECK_MSG(open_fds() == before, "%d descriptors open before, %d after", before, open_fds());
}

/* ---- streaming: the batcher's prefetch gives the in-memory bits -------- */

/* n batches of a batcher over ds and one over ref (the same images, in
 * memory) agree exactly: crops, flips, shifts and labels, across epoch ends
 * (batch 5 of 12 images), and again after jumping to another state. */
static void same_batches(lg_dataset *ds, const char *what) {
    enum { B = 5, CROP = 28, D = 3 * CROP * CROP };
    lg_batcher *a = NULL, *b = NULL;
    CHECK_OK(lg_batcher_new(&a, ds, B, CROP, 77));
    CHECK_OK(lg_batcher_new(&b, ref, B, CROP, 77));
    if (!a || !b) goto done;
    CHECK_OK(lg_batcher_set_augment(a, 1, 2));
    CHECK_OK(lg_batcher_set_augment(b, 1, 2));
    static float xa[B * D], xb[B * D];
    int la[B], lb[B], bad = 0;
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 9; k++) {
            CHECK_OK(lg_batcher_next(a, xa, la));
            CHECK_OK(lg_batcher_next(b, xb, lb));
            bad += memcmp(xa, xb, sizeof xa) != 0 || memcmp(la, lb, sizeof la) != 0;
        }
        /* A resume: the state of a run elsewhere; the prefetched batch is dropped. */
        CHECK_OK(lg_batcher_set_state(a, 7, 3));
        CHECK_OK(lg_batcher_set_state(b, 7, 3));
    }
    uint64_t ea, ca, eb, cb;
    lg_batcher_get_state(a, &ea, &ca);
    lg_batcher_get_state(b, &eb, &cb);
    CHECK_MSG(bad == 0 && ea == eb && ca == cb, "%s: %d of 18 batches differ from the in-memory "
              "set's (state %llu/%llu vs %llu/%llu)", what, bad, (unsigned long long)ea,
              (unsigned long long)ca, (unsigned long long)eb, (unsigned long long)cb);
done:
    lg_batcher_free(a);
    lg_batcher_free(b);
}

static void test_stream_batches(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *z = open_ds("zip", "set.zip", 3, 32);
    CHECK(z && lg_dataset_streamed(z) && !lg_dataset_streamed(ref));
    if (z) same_batches(z, "set.zip");
    /* The validation split of a streamed set is a view of the same reader. */
    lg_dataset *val = NULL;
    if (z) CHECK_OK(lg_dataset_split_tail(z, 4, &val));
    if (val) {
        uint8_t *px = t_pixels(val);
        CHECK(val->n == 4 && z->n == 8 && lg_dataset_streamed(val));
        CHECK_MSG(px && !memcmp(px, ref->pixels + (size_t)8 * 3 * 32 * 32, (size_t)4 * 3 * 32 * 32),
                  "the streamed validation split's pixels are not images 8..11");
        for (int i = 0; i < 4; i++) CHECK(val->labels[i] == ref->labels[8 + i]);
        free(px);
    }
    lg_dataset_free(z); /* the split keeps the reader open */
    if (val) {
        uint8_t buf[3 * 32 * 32];
        const uint8_t *px;
        CHECK_OK(lg_dataset_image(val, 3, buf, &px));
        CHECK(!memcmp(px, ref->pixels + (size_t)11 * 3 * 32 * 32, sizeof buf));
    }
    lg_dataset_free(val);
}

int main(void) {
    RUN(test_generate);
    RUN(test_stl10);
    RUN(test_npy);
    RUN(test_npz);
    RUN(test_npy_huge);
    RUN(test_zip);
    RUN(test_zip_jpeg);
    RUN(test_lsun);
    RUN(test_stream_batches);
    RUN(test_refusals_leak_nothing);
    lg_dataset_free(ref);
    if (dir[0]) t_rmtree(dir);
    return TEST_END();
}
