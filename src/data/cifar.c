/* CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes
 * (1024 R, 1024 G, 1024 B, each 32x32 row-major), i.e. already CHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_MAX_FILE ((size_t)1 << 31)

static const char *const cifar_classes[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

typedef struct {
    char path[4096];
    unsigned char *bytes;
    size_t len;
} cifar_file;

static lg_status read_batch(cifar_file *f) {
    LG_TRY(lg_read_file(f->path, CIFAR_MAX_FILE, &f->bytes, &f->len));
    LG_CHECK(f->len > 0 && f->len % CIFAR_RECORD == 0, LG_ERR_FORMAT,
             "%s: wrong record size: %zu bytes is not a multiple of %d (1 label + 3072 pixels)",
             f->path, f->len, CIFAR_RECORD);
    size_t n = f->len / CIFAR_RECORD;
    for (size_t i = 0; i < n; i++) {
        unsigned lab = f->bytes[i * CIFAR_RECORD];
        LG_CHECK(lab < 10, LG_ERR_FORMAT, "%s: record %zu has label %u (expected 0..9)", f->path,
                 i, lab);
    }
    return LG_OK;
}

/* Class names, one per line, from batches.meta.txt; defaults otherwise. */
static lg_status read_meta(lg_dataset *ds, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    return lg_ds_read_class_names(ds, path, cifar_classes);
}

lg_status lg_dataset_load_cifar10(lg_dataset **out, const char *dir, int train) {
    LG_CHECK(out && dir, LG_ERR_ARG, "lg_dataset_load_cifar10: NULL argument");
    *out = NULL;
    cifar_file files[5];
    int nf = 0;
    memset(files, 0, sizeof files);
    for (int b = 1; b <= (train ? 5 : 1); b++) {
        cifar_file *f = &files[nf];
        if (train)
            snprintf(f->path, sizeof f->path, "%s/data_batch_%d.bin", dir, b);
        else
            snprintf(f->path, sizeof f->path, "%s/test_batch.bin", dir);
        if (access(f->path, F_OK) == 0) nf++;
    }
    lg_status st = LG_OK;
    if (nf == 0)
        st = lg_error(LG_ERR_IO, "%s: no CIFAR-10 %s found", dir,
                      train ? "training batches (data_batch_1..5.bin)" : "test_batch.bin");
    size_t total = 0;
    for (int i = 0; st == LG_OK && i < nf; i++) {
        st = read_batch(&files[i]);
        total += files[i].len / CIFAR_RECORD;
    }
    lg_dataset *ds = NULL;
    char source[4200];
    snprintf(source, sizeof source, "cifar10:%s/%s", dir, train ? "train" : "test");
    if (st == LG_OK && total > 0x7fffffff)
        st = lg_error(LG_ERR_FORMAT, "%s: %zu records is too many", dir, total);
    if (st == LG_OK) st = lg_ds_alloc(&ds, (int)total, 3, 32, 32, source);
    for (int i = 0, at = 0; st == LG_OK && i < nf; i++) {
        size_t n = files[i].len / CIFAR_RECORD;
        for (size_t r = 0; r < n; r++, at++) {
            const unsigned char *rec = files[i].bytes + r * CIFAR_RECORD;
            ds->labels[at] = rec[0];
            memcpy(ds->pixels + (size_t)at * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        }
    }
    for (int i = 0; i < nf; i++) lg_free(files[i].bytes);
    if (st == LG_OK) st = read_meta(ds, dir);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
