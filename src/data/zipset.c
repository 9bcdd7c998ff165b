/* Dataset zips as StyleGAN2-ADA's dataset_tool.py writes them: PNG (or
 * JPEG) entries, taken in sorted name order as its loader does, and an
 * optional dataset.json {"labels": [["path", class], ...]} (or null). Each
 * image goes through lg_image_fit like a folder's (shorter side to size,
 * centre crop, c channels); size 0 keeps the first image's shorter side.
 * The set is streamed: the archive's directory, labels and sizes are read
 * on opening, each image when it is read. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/check.h"
#include "data/dataset.h"
#include "lapgan/io.h"

#define ZIPSET_MAX_IMAGE ((size_t)1 << 28) /* one encoded image, as decoded ones */
#define ZIPSET_MAX_JSON ((size_t)1 << 28)
#define ZIPSET_MAX_SIZE 4096

typedef struct {
    const char *name; /* owned by the archive */
    int index;        /* entry number */
} zs_entry;

static int is_image_entry(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && !strchr(dot, '/') &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const zs_entry *)a)->name, ((const zs_entry *)b)->name);
}

/* Image entries sorted by name, and the index of dataset.json (-1: none). */
static lg_status list_images(lg_zip *z, zs_entry **out, int *n, int *json) {
    *out = NULL;
    *n = 0;
    *json = -1;
    int cap = lg_zip_count(z);
    zs_entry *v = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *v);
    LG_CHECK(v, LG_ERR_NOMEM, "%s: out of memory", lg_zip_path(z));
    for (int i = 0; i < cap; i++) {
        const char *nm = lg_zip_name(z, i);
        if (!nm) continue;
        if (!strcmp(nm, "dataset.json")) *json = i;
        else if (is_image_entry(nm)) v[(*n)++] = (zs_entry){nm, i};
    }
    qsort(v, (size_t)*n, sizeof *v, cmp_entry);
    *out = v;
    return LG_OK;
}

static int find_entry(const zs_entry *v, int n, const char *name) {
    zs_entry key = {name, 0};
    const zs_entry *e = bsearch(&key, v, (size_t)n, sizeof *v, cmp_entry);
    return e ? (int)(e - v) : -1;
}

/* One [path, class] pair of dataset.json into lab[] (by sorted position). */
static lg_status json_pair(json_t *pair, size_t k, const zs_entry *v, int n, int *lab,
                           const char *where) {
    json_t *p = json_array_get(pair, 0), *c = json_array_get(pair, 1);
    LG_CHECK(json_is_array(pair) && json_array_size(pair) == 2 && json_is_string(p),
             LG_ERR_FORMAT, "%s: labels[%zu] is not a [\"path\", class] pair", where, k);
    const char *name = json_string_value(p);
    LG_CHECK(json_is_integer(c) && json_integer_value(c) >= 0 &&
                 json_integer_value(c) < LG_MAX_CLASSES,
             LG_ERR_FORMAT, "%s: label of '%s' is not a class index 0..%d", where, name,
             LG_MAX_CLASSES - 1);
    int at = find_entry(v, n, name);
    LG_CHECK(at >= 0, LG_ERR_FORMAT, "%s: labels name '%s', which is not an image in the zip",
             where, name);
    LG_CHECK(lab[at] < 0, LG_ERR_FORMAT, "%s: '%s' is labelled twice", where, name);
    lab[at] = (int)json_integer_value(c);
    return LG_OK;
}

static lg_status parse_labels(json_t *root, const zs_entry *v, int n, int *lab,
                              const char *where) {
    LG_CHECK(json_is_object(root), LG_ERR_FORMAT, "%s: not a JSON object", where);
    json_t *labels = json_object_get(root, "labels");
    if (!labels || json_is_null(labels)) return LG_OK;
    LG_CHECK(json_is_array(labels), LG_ERR_FORMAT, "%s: \"labels\" is not a list or null",
             where);
    for (size_t k = 0; k < json_array_size(labels); k++)
        LG_TRY(json_pair(json_array_get(labels, k), k, v, n, lab, where));
    return LG_OK;
}

/* Labels from dataset.json: every image labelled, or none (lab all -1). */
static lg_status read_labels(lg_zip *z, int json, const zs_entry *v, int n, int *lab) {
    for (int i = 0; i < n; i++) lab[i] = -1;
    if (json < 0) return LG_OK;
    unsigned char *buf;
    size_t len;
    LG_TRY(lg_zip_read(z, json, ZIPSET_MAX_JSON, &buf, &len));
    char where[4200];
    snprintf(where, sizeof where, "%s: entry 'dataset.json'", lg_zip_path(z));
    json_error_t je;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    lg_free(buf);
    LG_CHECK(root, LG_ERR_FORMAT, "%s: line %d: %s", where, je.line, je.text);
    lg_status st = parse_labels(root, v, n, lab, where);
    json_decref(root);
    int labelled = 0;
    for (int i = 0; i < n; i++) labelled += lab[i] >= 0;
    for (int i = 0; st == LG_OK && labelled && i < n; i++)
        if (lab[i] < 0)
            st = lg_error(LG_ERR_FORMAT, "%s: image '%s' has no label (label every image or none)",
                          where, v[i].name);
    return st;
}

/* Decodes image entry e; *im for the caller to fit and free. */
static lg_status decode_entry(lg_zip *z, const zs_entry *e, lg_image **im, char *name,
                              size_t cap) {
    snprintf(name, cap, "%s: entry '%s'", lg_zip_path(z), e->name);
    unsigned char *buf;
    size_t len;
    LG_TRY(lg_zip_read(z, e->index, ZIPSET_MAX_IMAGE, &buf, &len));
    lg_status st = lg_image_decode(im, buf, len, name);
    lg_free(buf);
    return st;
}

/* The streamed set: the archive stays open and each image is inflated and
 * decoded when read. libzip's archive is one thread's at a time, so the
 * inflating holds the lock; decoding runs outside it. */
typedef struct {
    lg_zip *z;
    zs_entry *v; /* [n] in sorted name order */
    int n, c, size;
    pthread_mutex_t lock;
} zip_set;

static void zip_set_close(void *ctx) {
    zip_set *s = ctx;
    lg_zip_close(s->z);
    free(s->v);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static lg_status zip_set_read(void *ctx, int i, uint8_t *dst) {
    zip_set *s = ctx;
    char name[4400];
    snprintf(name, sizeof name, "%s: entry '%s'", lg_zip_path(s->z), s->v[i].name);
    unsigned char *buf;
    size_t len;
    pthread_mutex_lock(&s->lock);
    lg_status st = lg_zip_read(s->z, s->v[i].index, ZIPSET_MAX_IMAGE, &buf, &len);
    pthread_mutex_unlock(&s->lock);
    LG_TRY(st);
    lg_image *im = NULL;
    st = lg_image_decode(&im, buf, len, name);
    lg_free(buf);
    if (st == LG_OK) st = lg_image_fit(im, s->c, s->size, dst, name);
    lg_image_free(im);
    return st;
}

static const lg_stream_ops zip_ops = {zip_set_read, zip_set_close};

/* Every image entry's declared sizes are checked now (a zip bomb is refused
 * on opening), and the first image decoded: it fixes the size when size is
 * 0, and a set whose images do not decode fails at once. */
static lg_status first_size(lg_zip *z, const zs_entry *v, int n, int size, int *out) {
    for (int i = 0; i < n; i++) LG_TRY(lg_zip_check_size(z, v[i].index, ZIPSET_MAX_IMAGE));
    char name[4400];
    lg_image *im;
    LG_TRY(decode_entry(z, &v[0], &im, name, sizeof name));
    int s = size > 0 ? size : im->w < im->h ? im->w : im->h;
    lg_image_free(im);
    LG_CHECK(s <= ZIPSET_MAX_SIZE, LG_ERR_FORMAT, "%s: image size %d not in [1, %d]", name, s,
             ZIPSET_MAX_SIZE);
    *out = s;
    return LG_OK;
}

static lg_status set_labels(lg_dataset *ds, const int *lab, const char *path) {
    if (ds->n == 0 || lab[0] < 0) return LG_OK;
    int maxl = 0;
    for (int i = 0; i < ds->n; i++) {
        ds->labels[i] = lab[i];
        if (lab[i] > maxl) maxl = lab[i];
    }
    LG_TRY(lg_ds_set_classes(ds, maxl + 1, NULL));
    int empty = lg_ds_empty_class(ds);
    LG_CHECK(empty < 0, LG_ERR_FORMAT,
             "%s: entry 'dataset.json': the largest label, %d, makes %d classes, but no image "
             "has label %d (labels must be 0..K-1, each used)", path, maxl, maxl + 1, empty);
    return LG_OK;
}

lg_status lg_dataset_load_zip(lg_dataset **out, const char *path, int c, int size) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_dataset_load_zip: NULL argument");
    *out = NULL;
    LG_CHECK(c == 1 || c == 3, LG_ERR_ARG, "%s: channels must be 1 or 3, got %d", path, c);
    LG_CHECK(size >= 0 && size <= ZIPSET_MAX_SIZE, LG_ERR_ARG,
             "%s: image size %d not in [0, %d]", path, size, ZIPSET_MAX_SIZE);
    zip_set *s = calloc(1, sizeof *s);
    LG_CHECK(s, LG_ERR_NOMEM, "%s: out of memory", path);
    pthread_mutex_init(&s->lock, NULL);
    s->c = c;
    int json = -1, *lab = NULL;
    lg_status st = lg_zip_open(&s->z, path);
    if (st == LG_OK) st = list_images(s->z, &s->v, &s->n, &json);
    if (st == LG_OK && s->n == 0)
        st = lg_error(LG_ERR_FORMAT, "%s: no images (*.png, *.jpg, *.jpeg) in the zip", path);
    if (st == LG_OK && !(lab = malloc((size_t)s->n * sizeof *lab)))
        st = lg_error(LG_ERR_NOMEM, "%s: out of memory", path);
    /* Labels first: a bad dataset.json fails before any image is decoded. */
    if (st == LG_OK) st = read_labels(s->z, json, s->v, s->n, lab);
    if (st == LG_OK) st = first_size(s->z, s->v, s->n, size, &s->size);
    if (st != LG_OK) {
        free(lab);
        zip_set_close(s);
        return st;
    }
    char source[300];
    snprintf(source, sizeof source, "zip:%s", path);
    lg_dataset *ds = NULL;
    st = lg_ds_alloc_streamed(&ds, s->n, c, s->size, s->size, source, &zip_ops, s);
    if (st == LG_OK) st = set_labels(ds, lab, path);
    free(lab);
    if (st != LG_OK) {
        if (ds) lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
