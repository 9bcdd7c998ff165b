/* IDX files (MNIST, Fashion-MNIST): big-endian header, then unsigned bytes.
 * zlib's gzread reads gzip (magic 1f 8b) and passes other files through,
 * so one path serves .gz and raw files. The header gives the exact payload
 * size; a short payload or trailing bytes are errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u
#define IDX_MAX_SIDE 4096u
#define IDX_MAX_COUNT 0x7fffffffu

static const char *const fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Reads up to len bytes; returns how many (fewer only at end of data).
 * base is the offset of buf in the uncompressed stream, for messages. */
static lg_status gz_read_all(gzFile f, void *buf, size_t len, size_t *got, size_t base,
                             const char *path) {
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int k = gzread(f, p + *got, chunk);
        if (k < 0) {
            int err;
            const char *msg = gzerror(f, &err);
            return lg_error(LG_ERR_FORMAT,
                            "%s: truncated or corrupt gzip data: the stream broke after %zu "
                            "bytes (uncompressed): %s",
                            path, base + *got, msg);
        }
        if (k == 0) break;
        *got += (size_t)k;
    }
    return LG_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens path, checks the magic and reads the ndim dimensions. */
static lg_status idx_open(gzFile *out, const char *path, uint32_t magic, uint32_t *dims,
                          int ndim) {
    *out = NULL;
    int fd;
    LG_TRY(lg_open_regular(path, &fd, NULL));
    gzFile f = gzdopen(fd, "rb"); /* owns fd from here */
    if (!f) close(fd);
    LG_CHECK(f, LG_ERR_NOMEM, "%s: cannot open: out of memory", path);
    gzbuffer(f, 1u << 18);
    unsigned char hdr[16];
    size_t want = 4 + 4 * (size_t)ndim, got = 0;
    lg_status st = gz_read_all(f, hdr, 4, &got, 0, path);
    if (st == LG_OK && got == 4 && be32(hdr) != magic)
        st = lg_error(LG_ERR_FORMAT, "%s: bad magic 0x%08x (expected 0x%08x, an IDX %s file)",
                      path, be32(hdr), magic, magic == IDX_IMAGES ? "image" : "label");
    if (st == LG_OK && got == 4) {
        st = gz_read_all(f, hdr + 4, want - 4, &got, 4, path);
        got += 4;
    }
    if (st == LG_OK && got < want)
        st = lg_error(LG_ERR_FORMAT, "%s: truncated header: %zu of %zu bytes", path, got, want);
    if (st != LG_OK) {
        gzclose(f);
        return st;
    }
    for (int i = 0; i < ndim; i++) dims[i] = be32(hdr + 4 + 4 * i);
    *out = f;
    return LG_OK;
}

/* Reads exactly len payload bytes into *out (malloc'd) and checks nothing
 * follows. The buffer grows with the bytes that actually arrive, so a
 * 16-byte file whose header claims gigabytes costs nothing. */
static lg_status idx_payload(gzFile f, unsigned char **out, size_t len, size_t header,
                             const char *path) {
    size_t cap = len < ((size_t)1 << 20) ? len : (size_t)1 << 20, got = 0, k;
    unsigned char *buf = malloc(cap ? cap : 1);
    LG_CHECK(buf, LG_ERR_NOMEM, "%s: out of memory", path);
    lg_status st;
    for (;;) {
        st = gz_read_all(f, buf + got, cap - got, &k, header + got, path);
        got += k;
        if (st != LG_OK || got < cap || cap == len) break;
        cap = len - cap > cap ? 2 * cap : len;
        unsigned char *grown = realloc(buf, cap);
        if (!grown) {
            st = lg_error(LG_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
            break;
        }
        buf = grown;
    }
    if (st == LG_OK && got != len)
        st = lg_error(LG_ERR_FORMAT, "%s: truncated: expected %zu bytes (uncompressed), found %zu",
                      path, len + header, got + header);
    unsigned char extra;
    if (st == LG_OK) st = gz_read_all(f, &extra, 1, &k, header + len, path);
    if (st == LG_OK && k != 0)
        st = lg_error(LG_ERR_FORMAT, "%s: trailing bytes after the %zu bytes the header describes",
                      path, len + header);
    if (st != LG_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return LG_OK;
}

static lg_status load_images(lg_dataset **out, const char *path) {
    gzFile f;
    uint32_t d[3];
    LG_TRY(idx_open(&f, path, IDX_IMAGES, d, 3));
    lg_status st = LG_OK;
    if (d[0] == 0 || d[0] > IDX_MAX_COUNT || d[1] == 0 || d[1] > IDX_MAX_SIDE || d[2] == 0 ||
        d[2] > IDX_MAX_SIDE)
        st = lg_error(LG_ERR_FORMAT, "%s: bad dimensions %u x %u x %u", path, d[0], d[1], d[2]);
    unsigned char *px = NULL;
    const size_t len = (size_t)d[0] * d[1] * d[2];
    if (st == LG_OK) st = idx_payload(f, &px, len, 16, path);
    gzclose(f);
    if (st == LG_OK) st = lg_ds_alloc(out, (int)d[0], 1, (int)d[1], (int)d[2], path);
    if (st == LG_OK) memcpy((*out)->pixels, px, len);
    free(px);
    return st;
}

static lg_status load_labels(lg_dataset *ds, const char *path) {
    gzFile f;
    uint32_t n = 0;
    LG_TRY(idx_open(&f, path, IDX_LABELS, &n, 1));
    lg_status st = LG_OK;
    if (n != (uint32_t)ds->n)
        st = lg_error(LG_ERR_FORMAT, "%s: %u labels for %d images in %s", path, n, ds->n,
                      ds->source);
    unsigned char *lab = NULL;
    if (st == LG_OK) st = idx_payload(f, &lab, n, 8, path);
    gzclose(f);
    int maxl = 0;
    for (uint32_t i = 0; st == LG_OK && i < n; i++) {
        ds->labels[i] = lab[i];
        if (lab[i] > maxl) maxl = lab[i];
    }
    free(lab);
    if (st == LG_OK) st = lg_ds_set_classes(ds, maxl + 1, NULL);
    /* Labels are bytes, so up to 256 classes; but one stray 255 among 0..9
     * would make a 256-class model whose classes 10..254 never train. */
    int empty = st == LG_OK ? lg_ds_empty_class(ds) : -1;
    if (empty >= 0)
        st = lg_error(LG_ERR_FORMAT, "%s: the largest label, %d, makes %d classes, but no image "
                      "has label %d (labels must be 0..N-1, each used; give idx:IMAGES alone for "
                      "an unlabelled set)", path, maxl, maxl + 1, empty);
    return st;
}

lg_status lg_dataset_load_idx(lg_dataset **out, const char *images, const char *labels) {
    LG_CHECK(out && images, LG_ERR_ARG, "lg_dataset_load_idx: NULL argument");
    *out = NULL;
    lg_dataset *ds;
    LG_TRY(load_images(&ds, images));
    if (labels) {
        lg_status st = load_labels(ds, labels);
        if (st != LG_OK) {
            lg_dataset_free(ds);
            return st;
        }
    }
    *out = ds;
    return LG_OK;
}

lg_status lg_dataset_load_fashion(lg_dataset **out, const char *dir, int train) {
    LG_CHECK(out, LG_ERR_ARG, "lg_dataset_load_fashion: out is NULL");
    *out = NULL;
    if (!dir) dir = LG_FASHION_MNIST_DIR;
    const char *split = train ? "train" : "t10k";
    char img[4096], lab[4096];
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, split);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    lg_dataset *ds;
    LG_TRY(lg_dataset_load_idx(&ds, img, lab));
    lg_status st = LG_OK;
    if (ds->h != 28 || ds->w != 28)
        st = lg_error(LG_ERR_FORMAT, "%s: %dx%d images, Fashion-MNIST has 28x28", img, ds->h,
                      ds->w);
    if (st == LG_OK && ds->nclasses > 10)
        st = lg_error(LG_ERR_FORMAT, "%s: label %d out of range 0..9", lab, ds->nclasses - 1);
    if (st == LG_OK) {
        for (int i = 0; i < ds->nclasses; i++) free(ds->class_names[i]);
        free(ds->class_names);
        ds->class_names = NULL;
        st = lg_ds_set_classes(ds, 10, fashion_classes);
    }
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    snprintf(ds->source, sizeof ds->source, "fashion-mnist:%s/%s", dir, split);
    *out = ds;
    return LG_OK;
}
