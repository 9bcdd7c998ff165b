/* STL-10 binary files (stl10_binary/): <split>_X.bin holds 96x96x3 uint8
 * images, each as three planes (R, G, B) of 96x96 stored column-major;
 * <split>_y.bin holds one label byte 1..10 per image (stored here as
 * 0..9); the unlabeled split has no label file. Images are read in chunks
 * straight into the data set (transposed to row-major CHW), so the 2.7 GB
 * unlabeled split does not need twice its size in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

#define STL_SIDE 96
#define STL_PLANE (STL_SIDE * STL_SIDE)
#define STL_RECORD (3 * STL_PLANE)
#define STL_CHUNK 256 /* records per read */

static const char *const stl_classes[10] = {"airplane", "bird", "car",   "cat",  "deer",
                                            "dog",      "horse", "monkey", "ship", "truck"};

static const char *split_name(lg_stl10_split split) {
    return split == LG_STL10_TRAIN ? "train" : split == LG_STL10_TEST ? "test" : "unlabeled";
}

/* Reads exactly len bytes at the current offset of fd. */
static lg_status read_exact(int fd, void *buf, size_t len, const char *path) {
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, (unsigned char *)buf + got, len - got);
        if (k < 0 && errno == EINTR) continue;
        LG_CHECK(k > 0, LG_ERR_IO, "%s: read failed: %s", path,
                 k < 0 ? strerror(errno) : "file shrank");
        got += (size_t)k;
    }
    return LG_OK;
}

/* Column-major planes -> row-major CHW. */
static void transpose_record(const unsigned char *src, uint8_t *dst) {
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < STL_SIDE; x++)
            for (int y = 0; y < STL_SIDE; y++)
                dst[c * STL_PLANE + y * STL_SIDE + x] = src[c * STL_PLANE + x * STL_SIDE + y];
}

static lg_status read_images(lg_dataset **out, const char *path, const char *source) {
    *out = NULL;
    int fd;
    uint64_t size;
    LG_TRY(lg_open_regular(path, &fd, &size));
    lg_status st = LG_OK;
    if (size == 0 || size % STL_RECORD)
        st = lg_error(LG_ERR_FORMAT,
                      "%s: wrong size: %llu bytes is not a positive multiple of %d (one 96x96x3 "
                      "image)", path, (unsigned long long)size, STL_RECORD);
    else if (size / STL_RECORD > 0x7fffffff)
        st = lg_error(LG_ERR_FORMAT, "%s: %llu images is too many", path,
                      (unsigned long long)(size / STL_RECORD));
    int n = st == LG_OK ? (int)(size / STL_RECORD) : 0;
    if (st == LG_OK) st = lg_ds_alloc(out, n, 3, STL_SIDE, STL_SIDE, source);
    unsigned char *chunk = st == LG_OK ? malloc((size_t)STL_CHUNK * STL_RECORD) : NULL;
    if (st == LG_OK && !chunk) st = lg_error(LG_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; st == LG_OK && i < n; i += STL_CHUNK) {
        int k = n - i < STL_CHUNK ? n - i : STL_CHUNK;
        st = read_exact(fd, chunk, (size_t)k * STL_RECORD, path);
        for (int r = 0; st == LG_OK && r < k; r++)
            transpose_record(chunk + (size_t)r * STL_RECORD,
                             (*out)->pixels + (size_t)(i + r) * STL_RECORD);
    }
    free(chunk);
    close(fd);
    if (st != LG_OK) {
        lg_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

static lg_status read_labels(lg_dataset *ds, const char *path) {
    unsigned char *lab;
    size_t len;
    LG_TRY(lg_read_file(path, (size_t)ds->n + 1, &lab, &len));
    lg_status st = LG_OK;
    if (len != (size_t)ds->n)
        st = lg_error(LG_ERR_FORMAT, "%s: %zu labels for %d images in %s", path, len, ds->n,
                      ds->source);
    for (int i = 0; st == LG_OK && i < ds->n; i++) {
        if (lab[i] < 1 || lab[i] > 10)
            st = lg_error(LG_ERR_FORMAT, "%s: label %d is %u (expected 1..10)", path, i, lab[i]);
        else
            ds->labels[i] = lab[i] - 1;
    }
    lg_free(lab);
    return st;
}

/* Class names, one per line, from class_names.txt; defaults otherwise. */
static lg_status read_class_names(lg_dataset *ds, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/class_names.txt", dir);
    return lg_ds_read_class_names(ds, path, stl_classes);
}

lg_status lg_dataset_load_stl10(lg_dataset **out, const char *dir, lg_stl10_split split) {
    LG_CHECK(out && dir, LG_ERR_ARG, "lg_dataset_load_stl10: NULL argument");
    *out = NULL;
    LG_CHECK(split == LG_STL10_TRAIN || split == LG_STL10_TEST || split == LG_STL10_UNLABELED,
             LG_ERR_ARG, "%s: unknown STL-10 split %d", dir, (int)split);
    const char *s = split_name(split);
    char xpath[4200], ypath[4200], source[4300];
    snprintf(xpath, sizeof xpath, "%s/%s_X.bin", dir, s);
    snprintf(ypath, sizeof ypath, "%s/%s_y.bin", dir, s);
    snprintf(source, sizeof source, "stl10:%s/%s", dir, s);
    lg_dataset *ds;
    LG_TRY(read_images(&ds, xpath, source));
    lg_status st = split == LG_STL10_UNLABELED ? LG_OK : read_labels(ds, ypath);
    if (st == LG_OK && split != LG_STL10_UNLABELED) st = read_class_names(ds, dir);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
