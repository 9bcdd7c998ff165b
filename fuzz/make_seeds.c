/* Writes the seed corpus of every fuzz harness: small valid inputs (and a
 * few near misses) under DIR/<harness>/. Run by `make fuzz-seeds`; the
 * output is committed in fuzz/corpus/, so this only reruns when a format
 * changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h>
#include <zip.h>

#include "fuzz_common.h"

static const char *root;

static void put(const char *harness, const char *name, const void *data, size_t size) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", root, harness);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) exit(1);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, f) != *n) exit(1);
    fclose(f);
    return b;
}

/* Seeds that are two files: 2-byte length of the first, then both. */
static void put2(const char *harness, const char *name, const void *a, size_t na, const void *b,
                 size_t nb) {
    unsigned char *buf = malloc(2 + na + nb);
    buf[0] = (unsigned char)na, buf[1] = (unsigned char)(na >> 8);
    memcpy(buf + 2, a, na);
    memcpy(buf + 2 + na, b, nb);
    put(harness, name, buf, 2 + na + nb);
    free(buf);
}

static size_t gzip_bytes(const void *in, size_t n, unsigned char *out, size_t cap) {
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY); /* gzip wrapper */
    z.next_in = (unsigned char *)in, z.avail_in = (unsigned)n;
    z.next_out = out, z.avail_out = (unsigned)cap;
    deflate(&z, Z_FINISH);
    size_t len = z.total_out;
    deflateEnd(&z);
    return len;
}

static void idx_seeds(void) {
    unsigned char img[16 + 3 * 4 * 5], lab[8 + 3], gz[512], gzl[256];
    static const unsigned char ih[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    static const unsigned char lh[8] = {0, 0, 8, 1, 0, 0, 0, 3};
    memcpy(img, ih, 16);
    for (int i = 16; i < (int)sizeof img; i++) img[i] = (unsigned char)(i * 37);
    memcpy(lab, lh, 8);
    lab[8] = 0, lab[9] = 2, lab[10] = 9;
    put2("idx", "raw_with_labels", img, sizeof img, lab, sizeof lab);
    put2("idx", "raw_images_only", img, sizeof img, NULL, 0);
    size_t n = gzip_bytes(img, sizeof img, gz, sizeof gz), nl = gzip_bytes(lab, sizeof lab, gzl, sizeof gzl);
    put2("idx", "gzip_with_labels", gz, n, gzl, nl);
    put2("idx", "gzip_truncated", gz, n / 2, lab, sizeof lab);
}

static void cifar_seeds(void) {
    const char *meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    unsigned char *rec = malloc(2 * 3073);
    for (int i = 0; i < 2 * 3073; i++) rec[i] = (unsigned char)(i * 7);
    rec[0] = 3, rec[3073] = 9;
    put2("cifar", "two_records_meta", meta, strlen(meta), rec, 2 * 3073);
    put2("cifar", "one_record", NULL, 0, rec, 3073);
    free(rec);
}

/* A version 1.0 .npy of the given dtype and shape text. */
static size_t npy_bytes(unsigned char *out, const char *descr, const char *shape, const void *data,
                        size_t len) {
    char head[128];
    int k = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    while ((10 + k + 1) % 64) head[k++] = ' ';
    head[k++] = '\n';
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)k, out[9] = 0;
    memcpy(out + 10, head, (size_t)k);
    memcpy(out + 10 + k, data, len);
    return 10 + (size_t)k + len;
}

static unsigned char npy_img[512], npy_lab[512]; /* headers pad to 128 bytes */
static size_t npy_nimg, npy_nlab;

static void npy_seeds(void) {
    unsigned char px[3 * 4 * 5 * 3], grey[2 * 3 * 3], buf[512];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(i * 13);
    for (int i = 0; i < (int)sizeof grey; i++) grey[i] = (unsigned char)(i * 31);
    const int64_t lab[3] = {1, 0, 2};
    const unsigned char lab8[2] = {0, 1};
    npy_nimg = npy_bytes(npy_img, "|u1", "(3, 4, 5, 3)", px, sizeof px); /* NHWC */
    npy_nlab = npy_bytes(npy_lab, "<i8", "(3,)", lab, sizeof lab);
    put2("npy", "nhwc_labels", npy_img, npy_nimg, npy_lab, npy_nlab);
    size_t n = npy_bytes(buf, "|u1", "(3, 3, 4, 5)", px, sizeof px); /* NCHW */
    put2("npy", "nchw_only", buf, n, NULL, 0);
    unsigned char b2[512];
    size_t n2 = npy_bytes(b2, "|u1", "(2,)", lab8, sizeof lab8);
    n = npy_bytes(buf, "|u1", "(2, 3, 3)", grey, sizeof grey);
    put2("npy", "grey_labels_u8", buf, n, b2, n2);
}

static void stl10_seeds(void) {
    enum { REC = 3 * 96 * 96 };
    unsigned char *x = malloc(2 * REC), y[2] = {3, 10};
    for (int i = 0; i < 2 * REC; i++) x[i] = (unsigned char)(i * 7 + i / 96);
    put2("stl10", "two_records", y, 2, x, 2 * REC);
    put2("stl10", "one_record", y, 1, x, REC);
    free(x);
}

/* A zip of n entries (deflated where deflate[i]), dated 1980 so that the
 * seed bytes do not change from run to run. */
static void zip_seed(const char *name, int n, const char *const *names, const void *const *data,
                     const size_t *lens, const int *deflate) {
    char path[] = "/tmp/lapgan-seed-zip-XXXXXX";
    close(mkstemp(path));
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) exit(1);
    for (int i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, data[i], lens[i], 0);
        zip_int64_t at = s ? zip_file_add(za, names[i], s, ZIP_FL_ENC_UTF_8) : -1;
        if (at < 0 ||
            zip_set_file_compression(za, (zip_uint64_t)at, deflate[i] ? ZIP_CM_DEFLATE
                                                                      : ZIP_CM_STORE, 0) ||
            zip_file_set_mtime(za, (zip_uint64_t)at, 315532800, 0))
            exit(1);
    }
    if (zip_close(za)) exit(1);
    size_t len;
    unsigned char *b = slurp(path, &len);
    put("zip", name, b, len);
    free(b);
    unlink(path);
}

static void zip_seeds(void) {
    void *png[2];
    size_t plen[2];
    for (int k = 0; k < 2; k++) {
        lg_image im = {4, 4, 3, malloc(48)};
        for (int i = 0; i < 48; i++) im.px[i] = (unsigned char)(i * 5 + k * 100);
        if (lg_png_encode(&im, &png[k], &plen[k], "seed")) exit(1);
        free(im.px);
    }
    static const char json[] = "{\"labels\": [[\"00000/img00000000.png\", 1], "
                               "[\"00000/img00000001.png\", 0]]}";
    const char *names[3] = {"00000/img00000001.png", "00000/img00000000.png", "dataset.json"};
    const void *data[3] = {png[1], png[0], json};
    const size_t lens[3] = {plen[1], plen[0], sizeof json - 1};
    const int defl[3] = {1, 0, 1};
    zip_seed("pngs_labelled", 3, names, data, lens, defl);
    zip_seed("png_unlabelled", 1, names, data, lens, defl);
    const char *npz[2] = {"x.npy", "y.npy"};
    const void *arrays[2] = {npy_img, npy_lab};
    const size_t alen[2] = {npy_nimg, npy_nlab};
    const int adefl[2] = {0, 1};
    zip_seed("npz_xy", 2, npz, arrays, alen, adefl);
    lg_free(png[0]);
    lg_free(png[1]);
}

static void png_seed(const char *name, int w, int h, int c) {
    lg_image im = {w, h, c, malloc((size_t)w * h * c)};
    for (int i = 0; i < w * h * c; i++) im.px[i] = (unsigned char)(i * 29);
    char path[] = "/tmp/lapgan-seed-png-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    if (lg_png_write(path, &im) != LG_OK) exit(1);
    size_t n;
    unsigned char *b = slurp(path, &n);
    put("image", name, b, n);
    free(b);
    free(im.px);
    unlink(path);
}

static void jpeg_seed(const char *name, int w, int h, int c, int progressive) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    unsigned char *out = NULL;
    unsigned long len = 0;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &out, &len);
    ci.image_width = (JDIMENSION)w, ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 75, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char row[64 * 3];
    while (ci.next_scanline < ci.image_height) {
        for (int i = 0; i < w * c; i++) row[i] = (unsigned char)(i * 11 + ci.next_scanline * 5);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    put("image", name, out, len);
    free(out);
}

static void safetensors_seeds(void) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1, 0.5f};
    int64_t sa[2] = {2, 3}, sb[1] = {2};
    lg_st_writer *w;
    char path[] = "/tmp/lapgan-seed-st-XXXXXX";
    close(mkstemp(path));
    if (lg_st_writer_new(&w) || lg_st_writer_add(w, "a.weight", a, 2, sa) ||
        lg_st_writer_add(w, "b", b, 1, sb) || lg_st_writer_meta(w, "format", "test") ||
        lg_st_writer_write(w, path))
        exit(1);
    lg_st_writer_free(w);
    size_t n;
    unsigned char *buf = slurp(path, &n);
    put("safetensors", "two_tensors_meta", buf, n);
    free(buf);
    static const char empty[] = "\x08\0\0\0\0\0\0\0{}      ";
    put("safetensors", "empty", empty, 16);
    unlink(path);
}

/* The small fuzz model's three levels as checkpoints, and its JSON. */
static void checkpoint_seeds(void) {
    lg_model_desc m;
    fz_small_model(&m);
    char dir[] = "/tmp/lapgan-seed-ckpt-XXXXXX", path[600], name[32];
    if (!mkdtemp(dir)) exit(1);
    for (int k = 0; k < 3; k++) {
        lg_level *lv;
        lg_level_extra ex = {.seed = 3, .data_epoch = 1, .data_cursor = 2};
        snprintf(ex.data_source, sizeof ex.data_source, "seed");
        snprintf(path, sizeof path, "%s/level_%d.safetensors", dir, k);
        if (lg_level_new(&lv, &m, k, m.batch, 3, LG_BACKEND_CPU) || lg_level_save(lv, &ex, path))
            exit(1);
        lg_level_free(lv);
        size_t n;
        unsigned char *b = slurp(path, &n);
        snprintf(name, sizeof name, "small_level_%d", k);
        put("checkpoint", name, b, n);
        free(b);
        unlink(path);
    }
    rmdir(dir);
    char *json;
    if (lg_model_desc_to_json(&m, &json)) exit(1);
    put("model_json", "small", json, strlen(json));
    free(json);
    lg_preset("tiny", &m);
    lg_model_desc_dcgan(&m);
    lg_model_desc_class_conditional(&m, 10);
    if (lg_model_desc_to_json(&m, &json)) exit(1);
    put("model_json", "tiny_dcgan_cc", json, strlen(json));
    free(json);
}

static void cli_seeds(void) {
    static const char train[] = "\0--preset\0tiny\0--steps\00020\0--levels\0000,2\0--batch\0008"
                                "\0--resume\0--seed\0007\0--backend\0ref\0--out\0/tmp/x";
    static const char train2[] = "\0--epochs\0001.5\0--class-conditional\0--dcgan\0--filter\0"
                                 "binomial\0--ckpt-every\0001\0--quiet\0--print-model";
    static const char sample[] = "\1--model\0run\0-n\0004\0--seed\0003\0--class\0002\0-o\0x.png"
                                 "\0--chain\0c.png\0--chain-rows\0002\0--per-row\0005";
    put("cli", "train", train, sizeof train - 1);
    put("cli", "train_flags", train2, sizeof train2 - 1);
    put("cli", "sample", sample, sizeof sample - 1);
}

int main(int argc, char **argv) {
    root = argc > 1 ? argv[1] : "fuzz/corpus";
    mkdir(root, 0777);
    idx_seeds();
    cifar_seeds();
    stl10_seeds();
    npy_seeds();
    zip_seeds();
    png_seed("grey_5x3.png", 5, 3, 1);
    png_seed("rgb_4x4.png", 4, 4, 3);
    png_seed("rgba_3x2.png", 3, 2, 4);
    jpeg_seed("grey_9x7.jpg", 9, 7, 1, 0);
    jpeg_seed("rgb_16x8.jpg", 16, 8, 3, 0);
    jpeg_seed("rgb_progressive_8x8.jpg", 8, 8, 3, 1);
    safetensors_seeds();
    checkpoint_seeds();
    cli_seeds();
    return 0;
}
