/* Data sets: Fashion-MNIST (Debian package), CIFAR-10 (../shared, exact
 * subset), synthetic IDX/CIFAR/folder files written here, bad inputs, and
 * the batcher's determinism and resume. */
#include <zlib.h>

#include "test.h"
#include "tmpfiles.h"

static char dir[64];

/* Position-weighted pixel sum mod 2^64: sum px[i] * (i % 65521 + 1). The
 * expected values were computed independently with numpy from the raw
 * files (gzip for Fashion-MNIST, the .bin records for CIFAR-10). */
static uint64_t weighted_sum(const uint8_t *px, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += (uint64_t)px[i] * (i % 65521 + 1);
    return s;
}

static uint64_t plain_sum(const uint8_t *px, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += px[i];
    return s;
}

static size_t ds_bytes(const lg_dataset *ds) { return (size_t)ds->n * ds->c * ds->h * ds->w; }

static void test_fashion_train(void) {
    lg_dataset *ds = NULL;
    double t0 = lg_time_s();
    lg_status st = lg_dataset_load_fashion(&ds, NULL, 1);
    double dt = lg_time_s() - t0;
    if (st != LG_OK && access(LG_FASHION_MNIST_DIR, F_OK) != 0)
        SKIP("%s absent (Debian package dataset-fashion-mnist)", LG_FASHION_MNIST_DIR);
    CHECK_OK(st);
    if (!ds) return;
    /* Reported, not asserted: the machine is shared and timing is bench/'s job. */
    printf("# Fashion-MNIST train: 60000 images loaded in %.3f s\n", dt);
    CHECK(ds->n == 60000 && ds->c == 1 && ds->h == 28 && ds->w == 28);
    CHECK(ds->nclasses == 10);
    int hist[10] = {0}, bad = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= 0 && ds->labels[i] < 10) hist[ds->labels[i]]++;
        else bad++;
    }
    CHECK(bad == 0);
    for (int k = 0; k < 10; k++) CHECK_MSG(hist[k] == 6000, "class %d: %d", k, hist[k]);
    static const int first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (int i = 0; i < 10; i++) CHECK(ds->labels[i] == first[i]);
    CHECK(!strcmp(ds->class_names[0], "T-shirt/top") && !strcmp(ds->class_names[9], "Ankle boot"));
    CHECK(plain_sum(ds->pixels, ds_bytes(ds)) == 3431114169ull);
    CHECK(weighted_sum(ds->pixels, ds_bytes(ds)) == 112463966970509ull);
    lg_dataset_free(ds);
}

static void test_fashion_test_split(void) {
    lg_dataset *ds = NULL;
    if (lg_dataset_open(&ds, "fashion-test", 1, 28) != LG_OK) SKIP("%s", lg_errmsg());
    CHECK(ds->n == 10000 && ds->h == 28);
    CHECK(plain_sum(ds->pixels, ds_bytes(ds)) == 573469082ull);
    lg_dataset_free(ds);
}

static void cifar_dir(char *out) { snprintf(out, 4096, "%s/data/cifar10", t_shared_dir()); }

static void test_cifar_real(void) {
    char cdir[4096];
    cifar_dir(cdir);
    if (access(cdir, F_OK) != 0) SKIP_ABSENT("%s absent (the shared data folder is not part of a clone)", cdir);
    lg_dataset *ds = NULL;
    CHECK_OK(lg_dataset_load_cifar10(&ds, cdir, 1));
    if (!ds) return;
    /* README: 1017 + 1017 + 1017 + 1101 + 1017 records; per class summed over the files. */
    CHECK(ds->n == 5169 && ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->nclasses == 10);
    static const int per_class[10] = {524, 529, 502, 499, 547, 488, 508, 523, 540, 509};
    int hist[10] = {0};
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] >= 0 && ds->labels[i] < 10) hist[ds->labels[i]]++;
    for (int k = 0; k < 10; k++) CHECK_MSG(hist[k] == per_class[k], "class %d: %d", k, hist[k]);
    static const int first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
    for (int i = 0; i < 10; i++) CHECK(ds->labels[i] == first[i]);
    static const int red0[5] = {59, 43, 50, 68, 98};
    for (int i = 0; i < 5; i++) CHECK(ds->pixels[i] == red0[i]);
    /* Image 1017 is the first record of data_batch_2: files are concatenated in order. */
    CHECK(!strcmp(ds->class_names[0], "airplane") && !strcmp(ds->class_names[9], "truck"));
    CHECK(plain_sum(ds->pixels, ds_bytes(ds)) == 1924856977ull);
    CHECK(weighted_sum(ds->pixels, ds_bytes(ds)) == 62948449645435ull);
    lg_dataset_free(ds);

    CHECK_OK(lg_dataset_load_cifar10(&ds, cdir, 0));
    if (!ds) return;
    CHECK(ds->n == 1017);
    static const int tfirst[10] = {3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
    for (int i = 0; i < 10; i++) CHECK(ds->labels[i] == tfirst[i]);
    static const int tred0[5] = {158, 159, 165, 166, 160};
    for (int i = 0; i < 5; i++) CHECK(ds->pixels[i] == tred0[i]);
    CHECK(weighted_sum(ds->pixels, ds_bytes(ds)) == 12411841009366ull);
    lg_dataset_free(ds);
}

/* n CIFAR records: label (base + i) % 10, pixel j = (base * 7 + i + j) & 255. */
static int write_cifar(const char *path, int n, int base, int extra_bytes) {
    size_t len = (size_t)n * 3073 + extra_bytes;
    unsigned char *b = calloc(len ? len : 1, 1);
    for (int i = 0; i < n; i++) {
        b[(size_t)i * 3073] = (unsigned char)((base + i) % 10);
        for (int j = 0; j < 3072; j++) b[(size_t)i * 3073 + 1 + j] = (unsigned char)(base * 7 + i + j);
    }
    int ok = t_write(path, b, len);
    free(b);
    return ok;
}

static void test_cifar_synthetic(void) {
    char d[4096], p[4096];
    t_path(d, dir, "cifar");
    CHECK(mkdir(d, 0755) == 0);
    CHECK(write_cifar(t_path(p, d, "data_batch_1.bin"), 3, 0, 0));
    CHECK(write_cifar(t_path(p, d, "data_batch_3.bin"), 2, 5, 0)); /* 2 missing: skipped */
    CHECK(write_cifar(t_path(p, d, "test_batch.bin"), 4, 2, 0));
    lg_dataset *ds = NULL;
    CHECK_ERR(lg_dataset_open(&ds, "cifar10:/nonexistent-cifar", 3, 32), LG_ERR_IO);
    char spec[4200];
    snprintf(spec, sizeof spec, "cifar10:%s", d);
    CHECK_OK(lg_dataset_open(&ds, spec, 3, 32));
    CHECK(ds && ds->n == 5);
    if (ds) {
        static const int labels[5] = {0, 1, 2, 5, 6};
        for (int i = 0; i < 5; i++) CHECK(ds->labels[i] == labels[i]);
        CHECK(ds->pixels[3 * 3072 + 10] == (uint8_t)(35 + 0 + 10)); /* batch 3, record 0 */
        CHECK(ds->pixels[2 * 3072 + 3071] == (uint8_t)(2 + 3071));
        CHECK(!strcmp(ds->class_names[3], "cat")); /* no meta file: defaults */
    }
    lg_dataset_free(ds);
    snprintf(spec, sizeof spec, "cifar10-test:%s", d);
    CHECK_OK(lg_dataset_open(&ds, spec, 3, 32));
    CHECK(ds && ds->n == 4 && ds->labels[0] == 2);
    lg_dataset_free(ds);

    const char *meta = "a0\nb1\nc2\nd3\ne4\nf5\ng6\nh7\ni8\nj9\n";
    CHECK(t_write(t_path(p, d, "batches.meta.txt"), meta, strlen(meta)));
    CHECK_OK(lg_dataset_load_cifar10(&ds, d, 1));
    CHECK(ds && !strcmp(ds->class_names[0], "a0") && !strcmp(ds->class_names[9], "j9"));
    lg_dataset_free(ds);
    CHECK(t_write(p, "only\ntwo\n", 9));
    CHECK_ERR(lg_dataset_load_cifar10(&ds, d, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "batches.meta.txt") != NULL);
    remove(p);

    /* Wrong record size: one stray byte. */
    CHECK(write_cifar(t_path(p, d, "data_batch_1.bin"), 3, 0, 1));
    CHECK_ERR(lg_dataset_load_cifar10(&ds, d, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "wrong record size") && strstr(lg_errmsg(), p));
    /* Label out of range. */
    CHECK(write_cifar(p, 3, 0, 0));
    FILE *f = fopen(p, "r+b");
    fseek(f, 3073, SEEK_SET);
    fputc(10, f);
    fclose(f);
    CHECK_ERR(lg_dataset_load_cifar10(&ds, d, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "label 10") && strstr(lg_errmsg(), p));
    CHECK(ds == NULL);
    /* Empty file and missing directory. */
    CHECK(t_write(p, "", 0));
    CHECK_ERR(lg_dataset_load_cifar10(&ds, d, 1), LG_ERR_FORMAT);
    CHECK_ERR(lg_dataset_load_cifar10(&ds, t_path(p, dir, "nope"), 1), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "nope") != NULL);
}

static void be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

/* IDX images n x h x w (pixel i = i*3) and labels (i % 4); gz or raw. */
static void write_idx(const char *img, const char *lab, int n, int h, int w, int gz,
                      size_t cut) {
    size_t len = 16 + (size_t)n * h * w;
    unsigned char *b = malloc(len);
    be32(b, 0x803), be32(b + 4, n), be32(b + 8, h), be32(b + 12, w);
    for (size_t i = 16; i < len; i++) b[i] = (unsigned char)((i - 16) * 3);
    len -= cut;
    if (gz) {
        gzFile f = gzopen(img, "wb");
        gzwrite(f, b, (unsigned)len);
        gzclose(f);
    } else {
        t_write(img, b, len);
    }
    free(b);
    if (!lab) return;
    unsigned char l[8 + 64];
    be32(l, 0x801), be32(l + 4, n);
    for (int i = 0; i < n && i < 64; i++) l[8 + i] = (unsigned char)(i % 4);
    t_write(lab, l, 8 + (size_t)n);
}

static void test_idx(void) {
    char img[4096], lab[4096], gz[4096];
    t_path(img, dir, "img.idx");
    t_path(lab, dir, "lab.idx");
    t_path(gz, dir, "img.idx.gz");
    lg_dataset *ds = NULL;
    for (int g = 0; g < 2; g++) {
        write_idx(g ? gz : img, lab, 5, 3, 4, g, 0);
        CHECK_OK(lg_dataset_load_idx(&ds, g ? gz : img, lab));
        CHECK(ds && ds->n == 5 && ds->c == 1 && ds->h == 3 && ds->w == 4 && ds->nclasses == 4);
        if (ds) CHECK(ds->pixels[13] == 39 && ds->labels[4] == 0 && ds->labels[3] == 3);
        lg_dataset_free(ds);
    }
    FILE *gf = fopen(gz, "rb"); /* really gzip */
    CHECK(gf && fgetc(gf) == 0x1f && fgetc(gf) == 0x8b);
    if (gf) fclose(gf);
    char spec[4200];
    snprintf(spec, sizeof spec, "idx:%s", img);
    CHECK_OK(lg_dataset_open(&ds, spec, 1, 0));
    CHECK(ds && ds->nclasses == 0 && ds->labels[0] == -1);
    lg_dataset_free(ds);

    /* Truncated raw file: message has the path and expected vs actual size. */
    write_idx(img, NULL, 5, 3, 4, 0, 7);
    CHECK_ERR(lg_dataset_load_idx(&ds, img, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), img) && strstr(lg_errmsg(), "76") && strstr(lg_errmsg(), "69"));
    CHECK(ds == NULL);
    /* Truncated gzip payload (a valid stream holding too few bytes). */
    write_idx(gz, NULL, 5, 3, 4, 1, 7);
    CHECK_ERR(lg_dataset_load_idx(&ds, gz, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), gz) && strstr(lg_errmsg(), "truncated"));
    /* Truncated gzip stream (file cut mid-stream). */
    write_idx(gz, NULL, 40, 16, 16, 1, 0);
    size_t gzlen = t_file_size(gz);
    CHECK(truncate(gz, (off_t)(gzlen / 2)) == 0);
    CHECK_ERR(lg_dataset_load_idx(&ds, gz, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), gz) != NULL);
    /* Trailing bytes. */
    write_idx(img, NULL, 5, 3, 4, 0, 0);
    FILE *f = fopen(img, "ab");
    fputc(0, f);
    fclose(f);
    CHECK_ERR(lg_dataset_load_idx(&ds, img, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "trailing") != NULL);
    /* Wrong magic: a label file given as images, and the reverse. */
    write_idx(img, lab, 5, 3, 4, 0, 0);
    CHECK_ERR(lg_dataset_load_idx(&ds, lab, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "magic") && strstr(lg_errmsg(), lab));
    CHECK_ERR(lg_dataset_load_idx(&ds, img, img), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "magic") != NULL);
    /* Label count mismatch. */
    write_idx(img, NULL, 6, 3, 4, 0, 0);
    CHECK_ERR(lg_dataset_load_idx(&ds, img, lab), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), lab) && strstr(lg_errmsg(), "5 labels"));
    /* Zero and absurd dimensions. */
    write_idx(img, NULL, 0, 3, 4, 0, 0);
    CHECK_ERR(lg_dataset_load_idx(&ds, img, NULL), LG_ERR_FORMAT);
    unsigned char hdr[16];
    be32(hdr, 0x803), be32(hdr + 4, 1), be32(hdr + 8, 0x10000000), be32(hdr + 12, 0x10000000);
    CHECK(t_write(img, hdr, 16));
    CHECK_ERR(lg_dataset_load_idx(&ds, img, NULL), LG_ERR_FORMAT);
    CHECK(t_write(img, hdr, 10));
    CHECK_ERR(lg_dataset_load_idx(&ds, img, NULL), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "header") != NULL);
    /* Missing file. */
    CHECK_ERR(lg_dataset_load_idx(&ds, t_path(img, dir, "absent.idx"), NULL), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "absent.idx") != NULL);
    CHECK_ERR(lg_dataset_load_fashion(&ds, dir, 1), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "train-images-idx3-ubyte.gz") != NULL);
}

static void test_folder(void) {
    char root[4096], p[4096], q[4200];
    t_path(root, dir, "folder");
    CHECK(mkdir(root, 0755) == 0);
    /* Empty directory. */
    lg_dataset *ds = NULL;
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 8, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "no images") && strstr(lg_errmsg(), root));
    CHECK(t_write(t_path(p, root, "notes.txt"), "hi", 2));
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 8, 1), LG_ERR_FORMAT);

    /* Classes: cat (a PNG and a JPEG), dog (a PNG); sorted by name. */
    CHECK(mkdir(t_path(p, root, "dog"), 0755) == 0);
    CHECK(mkdir(t_path(p, root, "cat"), 0755) == 0);
    uint8_t red[3] = {250, 10, 20}, blue[3] = {0, 0, 200};
    snprintf(q, sizeof q, "%s/cat/b.png", root);
    CHECK(t_write_png_solid(q, 24, 16, 3, red)); /* shrink 16 -> 8, crop */
    snprintf(q, sizeof q, "%s/dog/z.png", root);
    CHECK(t_write_png_solid(q, 4, 4, 3, blue)); /* enlarge 4 -> 8 */
    unsigned char grey[16 * 16];
    memset(grey, 100, sizeof grey);
    snprintf(q, sizeof q, "%s/cat/a.jpg", root);
    CHECK(t_write_jpeg(q, grey, 16, 16, 1, 95));
    CHECK_OK(lg_dataset_load_folder(&ds, root, 3, 8, 1));
    CHECK(ds && ds->n == 3 && ds->nclasses == 2 && ds->c == 3 && ds->h == 8 && ds->w == 8);
    if (ds) {
        CHECK(!strcmp(ds->class_names[0], "cat") && !strcmp(ds->class_names[1], "dog"));
        CHECK(ds->labels[0] == 0 && ds->labels[1] == 0 && ds->labels[2] == 1);
        size_t is = 3 * 64;
        CHECK(abs(ds->pixels[0] - 100) <= 1 && abs(ds->pixels[2 * 64 + 63] - 100) <= 1);
        CHECK(ds->pixels[is + 0] == 250 && ds->pixels[is + 64 + 9] == 10);
        CHECK(ds->pixels[is + 2 * 64 + 63] == 20);
        CHECK(ds->pixels[2 * is + 0] == 0 && ds->pixels[2 * is + 2 * 64 + 35] == 200);
    }
    lg_dataset_free(ds);
    /* Grey output: ITU-R 601 luma of the red image. */
    CHECK_OK(lg_dataset_load_folder(&ds, root, 1, 8, 1));
    CHECK(ds && ds->c == 1 && ds->pixels[64] == 83); /* .299*250 + .587*10 + .114*20 = 82.9 */
    lg_dataset_free(ds);
    /* Unlabelled: top-level images only. */
    snprintf(q, sizeof q, "%s/dog", root);
    CHECK_OK(lg_dataset_load_folder(&ds, q, 3, 4, 0));
    CHECK(ds && ds->n == 1 && ds->nclasses == 0 && ds->labels[0] == -1);
    lg_dataset_free(ds);
    /* Images next to class folders are refused. */
    snprintf(q, sizeof q, "%s/stray.png", root);
    CHECK(t_write_png_solid(q, 4, 4, 3, blue));
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 8, 1), LG_ERR_FORMAT);
    remove(q);
    /* Corrupt PNG and JPEG inside a class: the error names the file. */
    snprintf(q, sizeof q, "%s/dog/y.png", root);
    static const char bad_png[] = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR garbage";
    CHECK(t_write(q, bad_png, sizeof bad_png - 1));
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 8, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), q) != NULL);
    CHECK(ds == NULL);
    remove(q);
    snprintf(q, sizeof q, "%s/cat/c.jpeg", root);
    static const char bad_jpg[] = "\xff\xd8\xff\xe0 not really a jpeg at all";
    CHECK(t_write(q, bad_jpg, sizeof bad_jpg - 1));
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 8, 1), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), q) != NULL);
    remove(q);
    /* Missing directory; bad arguments. */
    CHECK_ERR(lg_dataset_load_folder(&ds, t_path(p, dir, "absent"), 3, 8, 1), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "absent") != NULL);
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 2, 8, 1), LG_ERR_ARG);
    CHECK_ERR(lg_dataset_load_folder(&ds, root, 3, 0, 1), LG_ERR_ARG);
}

static void test_open_specs(void) {
    lg_dataset *ds = NULL;
    CHECK_ERR(lg_dataset_open(&ds, "bogus:x", 3, 32), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "bogus") != NULL);
    CHECK_ERR(lg_dataset_open(&ds, "cifar10", 3, 32), LG_ERR_ARG);
    CHECK_ERR(lg_dataset_open(&ds, "idx:", 3, 32), LG_ERR_ARG);
    CHECK_ERR(lg_dataset_open(&ds, "", 3, 32), LG_ERR_ARG);
    CHECK_ERR(lg_dataset_open(&ds, "fashion:/nonexistent/dir", 1, 28), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "/nonexistent/dir") != NULL);
    lg_dataset_free(NULL);
}

/* A small labelled data set: image i is filled with value i*20. */
static lg_dataset *toy_set(int n, int h, int w) {
    lg_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n, ds->c = 1, ds->h = h, ds->w = w;
    ds->pixels = lg_alloc((size_t)n * h * w);
    ds->labels = lg_alloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        ds->labels[i] = i;
        for (int j = 0; j < h * w; j++) ds->pixels[(size_t)i * h * w + j] = (uint8_t)(i * 20 + j);
    }
    return ds;
}

static void test_batcher(void) {
    enum { N = 10, B = 3, H = 6, W = 5 };
    lg_dataset *ds = toy_set(N, H, W);
    lg_batcher *a = NULL, *b = NULL;
    CHECK_OK(lg_batcher_new(&a, ds, B, 0, 42));
    CHECK_OK(lg_batcher_new(&b, ds, B, 0, 42));
    float xa[B * H * W], xb[B * H * W];
    int la[B], lb[B];
    /* One epoch (plus the wrap) visits every image once, in a shuffled order. */
    int seen[N] = {0}, order_is_identity = 1;
    for (int step = 0; step < 4; step++) {
        CHECK_OK(lg_batcher_next(a, xa, la));
        CHECK_OK(lg_batcher_next(b, xb, lb));
        CHECK(memcmp(xa, xb, sizeof xa) == 0 && memcmp(la, lb, sizeof la) == 0);
        for (int i = 0; i < B; i++) {
            int pos = step * B + i;
            if (pos < N) seen[la[i]]++;
            if (pos < N && la[i] != pos) order_is_identity = 0;
            CHECK(xa[i * H * W + 7] == (la[i] * 20 + 7) / 127.5f - 1.f);
        }
    }
    for (int i = 0; i < N; i++) CHECK(seen[i] == 1);
    CHECK(!order_is_identity);
    uint64_t e, c;
    lg_batcher_get_state(a, &e, &c);
    CHECK(e == 1 && c == 2);
    CHECK_NEAR(lg_batcher_epoch(a), 1.2, 1e-12);

    /* Resume: a fresh batcher set to the saved state yields the same next batch. */
    lg_batcher *r = NULL;
    CHECK_OK(lg_batcher_new(&r, ds, B, 0, 42));
    CHECK_OK(lg_batcher_set_state(r, e, c));
    CHECK_OK(lg_batcher_next(a, xa, la));
    CHECK_OK(lg_batcher_next(r, xb, lb));
    CHECK(memcmp(xa, xb, sizeof xa) == 0 && memcmp(la, lb, sizeof la) == 0);
    CHECK_ERR(lg_batcher_set_state(r, 0, N), LG_ERR_ARG);
    lg_batcher_free(r);

    /* Another seed gives another order. */
    lg_batcher *s = NULL;
    CHECK_OK(lg_batcher_new(&s, ds, N, 0, 43));
    int ls[N], l42[N];
    float big[N * H * W];
    CHECK_OK(lg_batcher_next(s, big, ls));
    lg_batcher_free(b);
    CHECK_OK(lg_batcher_new(&b, ds, N, 0, 42));
    CHECK_OK(lg_batcher_next(b, big, l42));
    CHECK(memcmp(ls, l42, sizeof ls) != 0);
    lg_batcher_free(s);
    lg_batcher_free(b);
    lg_batcher_free(a);

    /* Random crops: deterministic, inside the image, resumable, not all at one offset. */
    enum { CR = 3 };
    float ca[B * CR * CR], cb[B * CR * CR];
    CHECK_OK(lg_batcher_new(&a, ds, B, CR, 7));
    CHECK_OK(lg_batcher_new(&b, ds, B, CR, 7));
    int offsets = 0, first_off = -1;
    for (int step = 0; step < 5; step++) {
        if (step == 3) { /* b skips one batch, then jumps back to a's state */
            CHECK_OK(lg_batcher_next(b, cb, lb));
            lg_batcher_get_state(a, &e, &c);
            CHECK_OK(lg_batcher_set_state(b, e, c));
        }
        CHECK_OK(lg_batcher_next(a, ca, la));
        CHECK_OK(lg_batcher_next(b, cb, lb));
        CHECK(memcmp(ca, cb, sizeof ca) == 0);
        for (int i = 0; i < B; i++) {
            int v0 = (int)lrintf((ca[i * CR * CR] + 1.f) * 127.5f) - la[i] * 20;
            int y0 = v0 / W, x0 = v0 % W;
            CHECK(v0 >= 0 && y0 + CR <= H && x0 + CR <= W);
            int off = y0 * W + x0;
            if (first_off < 0) first_off = off;
            if (off != first_off) offsets++;
        }
    }
    CHECK(offsets > 0);
    lg_batcher_free(a);
    lg_batcher_free(b);
    CHECK_ERR(lg_batcher_new(&a, ds, 0, 0, 1), LG_ERR_ARG);
    CHECK_ERR(lg_batcher_new(&a, ds, 4, H + 1, 1), LG_ERR_ARG);
    lg_dataset_free(ds);
}

/* Whether out (h x w floats) is image idx of the toy set mirrored (flip) and
 * moved by (dy, dx), zeros where the source is outside. */
static int is_augmented(const float *out, int idx, int h, int w, int flip, int dy, int dx) {
    for (int y = 0; y < h; y++)
        for (int q = 0; q < w; q++) {
            int sy = y + dy, sx = (flip ? w - 1 - q : q) + dx;
            float want = sy >= 0 && sy < h && sx >= 0 && sx < w
                             ? (uint8_t)(idx * 20 + sy * w + sx) / 127.5f - 1.f
                             : 0.f;
            if (out[y * w + q] != want) return 0;
        }
    return 1;
}

/* Flip and shift: every image is its source mirrored or not and moved by at
 * most shift, both outcomes occur, and a resumed state draws the same. */
static void test_batcher_augment(void) {
    enum { N = 10, B = 5, H = 6, W = 5, S = 2, STEPS = 8 };
    lg_dataset *ds = toy_set(N, H, W);
    lg_batcher *a = NULL, *b = NULL;
    CHECK_OK(lg_batcher_new(&a, ds, B, 0, 9));
    CHECK_OK(lg_batcher_new(&b, ds, B, 0, 9));
    CHECK_OK(lg_batcher_set_augment(a, 1, S));
    CHECK_ERR(lg_batcher_set_augment(b, 0, H), LG_ERR_ARG);
    CHECK_ERR(lg_batcher_set_augment(b, 0, -1), LG_ERR_ARG);
    float xa[B * H * W], xb[B * H * W];
    int la[B], lb[B], flips = 0, moved = 0, matched = 0;
    for (int step = 0; step < STEPS; step++) {
        CHECK_OK(lg_batcher_next(a, xa, la));
        CHECK_OK(lg_batcher_next(b, xb, lb));
        CHECK(memcmp(la, lb, sizeof la) == 0); /* augmentation leaves the order alone */
        for (int i = 0; i < B; i++) {
            int found = 0;
            for (int f = 0; f < 2 && !found; f++)
                for (int dy = -S; dy <= S && !found; dy++)
                    for (int dx = -S; dx <= S && !found; dx++)
                        if (is_augmented(xa + i * H * W, la[i], H, W, f, dy, dx)) {
                            found = 1;
                            flips += f;
                            moved += dy || dx;
                        }
            matched += found;
        }
    }
    CHECK_MSG(matched == STEPS * B, "%d of %d images are a flip/shift of their source", matched,
              STEPS * B);
    CHECK_MSG(flips > 0 && flips < STEPS * B, "%d of %d flipped", flips, STEPS * B);
    CHECK_MSG(moved > 0, "no image was shifted");
    /* Resume mid-epoch draws the same augmented batch. */
    uint64_t e, c;
    lg_batcher_get_state(a, &e, &c);
    lg_batcher *r = NULL;
    CHECK_OK(lg_batcher_new(&r, ds, B, 0, 9));
    CHECK_OK(lg_batcher_set_augment(r, 1, S));
    CHECK_OK(lg_batcher_set_state(r, e, c));
    CHECK_OK(lg_batcher_next(a, xa, la));
    CHECK_OK(lg_batcher_next(r, xb, lb));
    CHECK(memcmp(xa, xb, sizeof xa) == 0);
    /* Off again: the plain copy. */
    CHECK_OK(lg_batcher_set_augment(r, 0, 0));
    CHECK_OK(lg_batcher_next(r, xb, lb));
    for (int i = 0; i < B; i++) CHECK(is_augmented(xb + i * H * W, lb[i], H, W, 0, 0, 0));
    lg_batcher_free(r);
    lg_batcher_free(a);
    lg_batcher_free(b);
    lg_dataset_free(ds);
}

int main(void) {
    if (!t_mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    RUN(test_fashion_train);
    RUN(test_fashion_test_split);
    RUN(test_cifar_real);
    RUN(test_cifar_synthetic);
    RUN(test_idx);
    RUN(test_folder);
    RUN(test_open_specs);
    RUN(test_batcher);
    RUN(test_batcher_augment);
    t_rmtree(dir);
    return TEST_END();
}
