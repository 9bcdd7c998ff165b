/* Data sets in memory: allocation, class names, and "kind:path" specs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

void lg_dataset_free(lg_dataset *ds) {
    if (!ds) return;
    for (int i = 0; ds->class_names && i < ds->nclasses; i++) free(ds->class_names[i]);
    free(ds->class_names);
    lg_free(ds->pixels);
    lg_free(ds->labels);
    lg_stream_release(ds->stream);
    free(ds);
}

lg_status lg_ds_alloc(lg_dataset **out, int n, int c, int h, int w, const char *source) {
    *out = NULL;
    size_t plane, img, total;
    LG_CHECK(n > 0 && c > 0 && h > 0 && w > 0, LG_ERR_FORMAT, "%s: empty data set (%d images)",
             source, n);
    LG_CHECK(!lg_mul_overflow((size_t)h, (size_t)w, &plane) &&
                 !lg_mul_overflow(plane, (size_t)c, &img) &&
                 !lg_mul_overflow(img, (size_t)n, &total),
             LG_ERR_NOMEM, "%s: %d images of %dx%dx%d overflow size_t", source, n, c, h, w);
    lg_dataset *ds = calloc(1, sizeof *ds);
    LG_CHECK(ds, LG_ERR_NOMEM, "%s: out of memory", source);
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    snprintf(ds->source, sizeof ds->source, "%s", source);
    ds->pixels = lg_alloc(total);
    ds->labels = lg_alloc((size_t)n * sizeof(int));
    if (!ds->pixels || !ds->labels) {
        lg_dataset_free(ds);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory for %d images of %dx%dx%d", source, n,
                        c, h, w);
    }
    for (int i = 0; i < n; i++) ds->labels[i] = -1;
    *out = ds;
    return LG_OK;
}

lg_status lg_ds_read_class_names(lg_dataset *ds, const char *path, const char *const *defaults) {
    char *names[10] = {0};
    unsigned char *buf;
    size_t len;
    if (lg_read_file(path, 1 << 16, &buf, &len) != LG_OK) {
        lg_error_clear();
        return lg_ds_set_classes(ds, 10, defaults);
    }
    /* lg_alloc zero-pads to 64 bytes, but a file of a multiple of 64 has no NUL. */
    char *copy = strndup((const char *)buf, len), *save = NULL;
    lg_free(buf);
    LG_CHECK(copy, LG_ERR_NOMEM, "%s: out of memory", path);
    int k = 0;
    for (char *line = strtok_r(copy, "\r\n", &save); line && k < 10;
         line = strtok_r(NULL, "\r\n", &save))
        if (line[strspn(line, " \t")]) names[k++] = line;
    lg_status st = k == 10 ? lg_ds_set_classes(ds, 10, (const char *const *)names)
                           : lg_error(LG_ERR_FORMAT, "%s: %d class names (expected 10)", path, k);
    free(copy);
    return st;
}

lg_status lg_ds_set_classes(lg_dataset *ds, int nclasses, const char *const *names) {
    LG_CHECK(nclasses > 0 && nclasses <= LG_MAX_CLASSES, LG_ERR_FORMAT,
             "%s: %d classes (expected 1..%d)", ds->source, nclasses, LG_MAX_CLASSES);
    ds->class_names = calloc((size_t)nclasses, sizeof(char *));
    LG_CHECK(ds->class_names, LG_ERR_NOMEM, "%s: out of memory", ds->source);
    ds->nclasses = nclasses;
    for (int i = 0; i < nclasses; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        ds->class_names[i] = strdup(names && names[i] ? names[i] : num);
        LG_CHECK(ds->class_names[i], LG_ERR_NOMEM, "%s: out of memory", ds->source);
    }
    return LG_OK;
}

int lg_ds_empty_class(const lg_dataset *ds) {
    if (ds->nclasses <= 0) return -1;
    char *seen = calloc((size_t)ds->nclasses, 1);
    if (!seen) return -1; /* the check is advisory; out of memory fails elsewhere */
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] >= 0 && ds->labels[i] < ds->nclasses) seen[ds->labels[i]] = 1;
    int k = 0;
    while (k < ds->nclasses && seen[k]) k++;
    free(seen);
    return k < ds->nclasses ? k : -1;
}

/* Splits "kind:rest" into kind (bounded copy) and rest (NULL when absent). */
static void split_spec(const char *spec, char *kind, size_t cap, const char **rest) {
    const char *colon = strchr(spec, ':');
    size_t k = colon ? (size_t)(colon - spec) : strlen(spec);
    if (k >= cap) k = cap - 1;
    memcpy(kind, spec, k);
    kind[k] = 0;
    *rest = colon ? colon + 1 : NULL;
}

static lg_status open_idx(lg_dataset **out, const char *rest, const char *spec) {
    LG_CHECK(rest && rest[0], LG_ERR_ARG, "data set '%s': idx needs IMAGES[,LABELS]", spec);
    char *dup = strdup(rest);
    LG_CHECK(dup, LG_ERR_NOMEM, "out of memory");
    char *comma = strchr(dup, ',');
    if (comma) *comma = 0;
    lg_status st = lg_dataset_load_idx(out, dup, comma && comma[1] ? comma + 1 : NULL);
    free(dup);
    return st;
}

static lg_status open_npy(lg_dataset **out, const char *rest, const char *spec) {
    LG_CHECK(rest && rest[0], LG_ERR_ARG, "data set '%s': npy needs IMAGES.npy[,LABELS.npy]",
             spec);
    char *dup = strdup(rest);
    LG_CHECK(dup, LG_ERR_NOMEM, "out of memory");
    char *comma = strchr(dup, ',');
    if (comma) *comma = 0;
    lg_status st = lg_dataset_load_npy(out, dup, comma && comma[1] ? comma + 1 : NULL);
    free(dup);
    return st;
}

static const char *const spec_kinds[] = {
    "fashion", "fashion-test", "cifar10", "cifar10-test", "stl10", "stl10-test", "stl10-unlabeled",
    "idx",     "npy",          "npz",     "zip",          "folder", "lsun"};

int lg_dataset_spec_known(const char *spec) {
    if (!spec) return 0;
    size_t k = strcspn(spec, ":");
    for (size_t i = 0; i < sizeof spec_kinds / sizeof spec_kinds[0]; i++)
        if (strlen(spec_kinds[i]) == k && !strncmp(spec, spec_kinds[i], k)) return 1;
    return 0;
}

lg_status lg_dataset_open(lg_dataset **out, const char *spec, int c, int size) {
    LG_CHECK(out, LG_ERR_ARG, "lg_dataset_open: out is NULL");
    *out = NULL;
    LG_CHECK(spec && spec[0], LG_ERR_ARG, "empty data set spec");
    char kind[32];
    const char *rest;
    split_spec(spec, kind, sizeof kind, &rest);
    int has_dir = rest && rest[0];
    if (!strcmp(kind, "fashion") || !strcmp(kind, "fashion-test"))
        return lg_dataset_load_fashion(out, has_dir ? rest : NULL, !strcmp(kind, "fashion"));
    if (!strcmp(kind, "cifar10") || !strcmp(kind, "cifar10-test")) {
        LG_CHECK(has_dir, LG_ERR_ARG, "data set '%s': cifar10 needs a directory (cifar10:DIR)",
                 spec);
        return lg_dataset_load_cifar10(out, rest, !strcmp(kind, "cifar10"));
    }
    if (!strcmp(kind, "stl10") || !strcmp(kind, "stl10-test") ||
        !strcmp(kind, "stl10-unlabeled")) {
        LG_CHECK(has_dir, LG_ERR_ARG, "data set '%s': %s needs a directory (%s:DIR)", spec,
                 kind, kind);
        return lg_dataset_load_stl10(out, rest,
                                     !strcmp(kind, "stl10")        ? LG_STL10_TRAIN
                                     : !strcmp(kind, "stl10-test") ? LG_STL10_TEST
                                                                   : LG_STL10_UNLABELED);
    }
    if (!strcmp(kind, "idx")) return open_idx(out, rest, spec);
    if (!strcmp(kind, "npy")) return open_npy(out, rest, spec);
    if (!strcmp(kind, "npz") || !strcmp(kind, "zip")) {
        LG_CHECK(has_dir, LG_ERR_ARG, "data set '%s': %s needs a file (%s:FILE.%s)", spec, kind,
                 kind, kind);
        return !strcmp(kind, "npz") ? lg_dataset_load_npz(out, rest)
                                    : lg_dataset_load_zip(out, rest, c, size);
    }
    if (!strcmp(kind, "lsun")) {
        LG_CHECK(has_dir, LG_ERR_ARG,
                 "data set '%s': lsun needs LMDB directories (lsun:DIR[,DIR...])", spec);
        return lg_dataset_load_lsun(out, rest, c, size);
    }
    if (!strcmp(kind, "folder")) {
        LG_CHECK(has_dir, LG_ERR_ARG, "data set '%s': folder needs a directory (folder:DIR)",
                 spec);
        return lg_dataset_load_folder(out, rest, c, size, 1);
    }
    return lg_error(LG_ERR_ARG,
                    "unknown data set '%s' (fashion[:DIR], fashion-test[:DIR], cifar10:DIR, "
                    "cifar10-test:DIR, stl10:DIR, stl10-test:DIR, stl10-unlabeled:DIR, "
                    "idx:IMAGES[,LABELS], npy:IMAGES.npy[,LABELS.npy], npz:FILE.npz, "
                    "zip:FILE.zip, folder:DIR, lsun:DIR[,DIR...])",
                    spec);
}
