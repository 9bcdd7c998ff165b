/* lapgan sample --from LIST --variants N: the paper's variability figure
 * (the talk's "LSUN variability" slide): start from the coarsest level I_K
 * of real images and draw the finer levels several times. Each row: the
 * real image, its I_K (enlarged), then the draws. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/check.h"

#define CMD "sample"
#define MAX_ROWS 64

typedef struct {
    int n;
    float *x;    /* [n, c, S, S] real images in [-1, 1] */
    int *labels; /* [n] (-1: none) */
    char desc[600];
} start_set;

/* Row i (centre S x S window) of ds as floats in [-1, 1]. */
static lg_status row_of(const lg_dataset *ds, int i, int S, float *dst) {
    const int oy = (ds->h - S) / 2, ox = (ds->w - S) / 2;
    uint8_t *buf = malloc(lg_dataset_image_bytes(ds));
    LG_CHECK(buf, LG_ERR_NOMEM, "out of memory");
    const uint8_t *src;
    lg_status st = lg_dataset_image(ds, i, buf, &src);
    for (int ch = 0; st == LG_OK && ch < ds->c; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                *dst++ = src[((size_t)ch * ds->h + y + oy) * ds->w + x + ox] / 127.5f - 1.f;
    free(buf);
    return st;
}

static lg_status image_file(const char *path, const lg_model_desc *d, float *dst) {
    const int S = d->level[0].size;
    const size_t n = (size_t)d->c * S * S;
    lg_image *im = NULL;
    uint8_t *u8 = malloc(n);
    if (!u8) return lg_error(LG_ERR_NOMEM, "out of memory");
    lg_status st = lg_image_load(&im, path);
    if (st == LG_OK) st = lg_image_fit(im, d->c, S, u8, path);
    lg_image_free(im);
    for (size_t i = 0; st == LG_OK && i < n; i++) dst[i] = u8[i] / 127.5f - 1.f;
    free(u8);
    return st;
}

/* The set indices address: the run's held-out validation split of --data,
 * or (a run without one) the test split. */
static lg_status open_index_set(const lg_sample_opts *o, const lg_model_desc *d,
                                const char *weights, lg_dataset **ds, int *first, int *count,
                                char *what, size_t wlen) {
    char path[4096], tbuf[512];
    int64_t nval = 0;
    const char *spec = o->data ? o->data : "fashion";
    snprintf(path, sizeof path, "%s/level_0.safetensors", weights);
    lg_status st = lg_checkpoint_val_split(path, &nval);
    if (st != LG_OK) return st;
    if (nval <= 0) {
        if (!lg_cli_test_spec(spec, tbuf, sizeof tbuf))
            return lg_error(LG_ERR_ARG, "--from: the run holds out no validation images and "
                            "--data %s has no test split; give image files", spec);
        spec = tbuf;
    }
    if ((st = lg_dataset_open(ds, spec, d->c, d->crop ? 0 : d->level[0].size)) != LG_OK)
        return st;
    const lg_dataset *s = *ds;
    if (s->c != d->c || s->h < d->level[0].size || s->w < d->level[0].size)
        return lg_error(LG_ERR_SHAPE, "%s: images are %dx%dx%d, the model needs %dx%dx%d",
                        s->source, s->c, s->h, s->w, d->c, d->level[0].size, d->level[0].size);
    if (nval >= s->n)
        return lg_error(LG_ERR_ARG, "%s: the run held out %lld images, the set has only %d (is "
                        "--data the set it trained on?)", s->source, (long long)nval, s->n);
    *first = nval > 0 ? s->n - (int)nval : 0;
    *count = nval > 0 ? (int)nval : s->n;
    snprintf(what, wlen, nval > 0 ? "held-out validation images of %s" : "test images of %s",
             s->source);
    return LG_OK;
}

/* Parses --from: indices and image files, in order. */
static lg_status read_starts(const lg_sample_opts *o, const lg_model_desc *d,
                             const char *weights, start_set *ss) {
    const int S = d->level[0].size;
    const size_t img = (size_t)d->c * S * S;
    char buf[4096], what[400] = "";
    lg_dataset *ds = NULL;
    int first = 0, count = 0;
    snprintf(buf, sizeof buf, "%s", o->from);
    ss->x = lg_alloc_floats(MAX_ROWS * img);
    ss->labels = lg_alloc(sizeof(int) * MAX_ROWS);
    lg_status st = ss->x && ss->labels ? LG_OK : LG_ERR_NOMEM;
    for (char *tok = strtok(buf, ","); st == LG_OK && tok; tok = strtok(NULL, ",")) {
        if (ss->n == MAX_ROWS) {
            st = lg_error(LG_ERR_ARG, "--from: at most %d images", MAX_ROWS);
            break;
        }
        char *end;
        long idx = strtol(tok, &end, 10);
        int label = -1;
        if (*tok && !*end) { /* an index */
            if (!ds) st = open_index_set(o, d, weights, &ds, &first, &count, what, sizeof what);
            if (st == LG_OK && (idx < 0 || idx >= count))
                st = lg_error(LG_ERR_ARG, "--from %ld: there are %d %s (indices 0 to %d)", idx,
                              count, what, count - 1);
            if (st != LG_OK) break;
            st = row_of(ds, first + (int)idx, S, ss->x + (size_t)ss->n * img);
            if (st != LG_OK) break;
            label = ds->labels ? ds->labels[first + idx] : -1;
        } else {
            st = image_file(tok, d, ss->x + (size_t)ss->n * img);
        }
        if (o->cls >= 0) label = (int)o->cls;
        if (st == LG_OK && d->nclasses && (label < 0 || label >= d->nclasses))
            st = lg_error(LG_ERR_ARG, "--from %s: the model is class-conditional; give --class "
                          "(0 to %d) for image files", tok, d->nclasses - 1);
        ss->labels[ss->n++] = label < 0 ? 0 : label;
    }
    if (st == LG_OK && !ss->n) st = lg_error(LG_ERR_ARG, "--from needs indices or image files");
    snprintf(ss->desc, sizeof ss->desc, "%s", what[0] ? what : "image files");
    lg_dataset_free(ds);
    return st;
}

/* I_K of the starting images along the model's own chain of d(.). */
static lg_status coarsest(const lg_model_desc *d, const float *x, int n, float *out) {
    const int K = d->levels - 1;
    float *a = lg_alloc_floats((size_t)n * d->c * d->level[0].size * d->level[0].size);
    float *b = lg_alloc_floats((size_t)n * d->c * d->level[0].size * d->level[0].size);
    lg_status st = a && b ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK) memcpy(a, x, sizeof(float) * (size_t)n * d->c * d->level[0].size * d->level[0].size);
    for (int k = 1; st == LG_OK && k <= K; k++) {
        const int s = d->level[k - 1].size, t = d->level[k].size;
        st = lg_pyr_down(d->filter, a, n, d->c, s, s, b, t, t);
        float *tmp = a;
        a = b, b = tmp;
    }
    if (st == LG_OK)
        memcpy(out, a, sizeof(float) * (size_t)n * d->c * d->level[K].size * d->level[K].size);
    lg_free(a), lg_free(b);
    return st;
}

/* Nearest-neighbour enlargement of one [c, s, s] image to [c, S, S]. */
static void enlarge(const float *src, int c, int s, float *dst, int S) {
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                dst[((size_t)ch * S + y) * S + x] = src[((size_t)ch * s + y * s / S) * s + x * s / S];
}

int lg_cli_sample_variants(const lg_sample_opts *o, lg_model *m, const char *weights,
                           const char *out) {
    const lg_model_desc *d = lg_model_desc_of(m);
    const int K = d->levels - 1, S = d->level[0].size, sK = d->level[K].size, V = (int)o->variants;
    if (K == 0)
        return lg_cli_usage_error(CMD, "--from: model '%s' has one level; there are no finer "
                                  "levels to draw", d->name);
    char path[4096];
    if (!out) snprintf(path, sizeof path, "%s/variants.png", o->model), out = path;
    start_set ss = {0};
    const size_t img = (size_t)d->c * S * S, imgK = (size_t)d->c * sK * sK;
    float *ik = NULL, *rep = NULL, *draws = NULL, *grid = NULL;
    int *lab = NULL;
    lg_status st = lg_output_check(out);
    if (st == LG_OK) st = read_starts(o, d, weights, &ss);
    const int n = ss.n, cols = 2 + V;
    if (st == LG_OK) {
        ik = lg_alloc_floats((size_t)n * imgK);
        rep = lg_alloc_floats((size_t)n * V * imgK);
        draws = lg_alloc_floats((size_t)n * V * img);
        grid = lg_alloc_floats((size_t)n * cols * img);
        lab = lg_alloc(sizeof(int) * (size_t)n * V);
        st = ik && rep && draws && grid && lab ? coarsest(d, ss.x, n, ik) : LG_ERR_NOMEM;
    }
    for (int i = 0; st == LG_OK && i < n * V; i++) {
        memcpy(rep + (size_t)i * imgK, ik + (size_t)(i / V) * imgK, sizeof(float) * imgK);
        lab[i] = ss.labels[i / V];
    }
    if (st == LG_OK) st = lg_model_sample_from(m, n * V, (uint64_t)o->seed, lab, rep, draws);
    for (int r = 0; st == LG_OK && r < n; r++) {
        float *row = grid + (size_t)r * cols * img;
        memcpy(row, ss.x + (size_t)r * img, sizeof(float) * img);
        enlarge(ik + (size_t)r * imgK, d->c, sK, row + img, S);
        memcpy(row + 2 * img, draws + (size_t)r * V * img, sizeof(float) * V * img);
    }
    if (st == LG_OK) {
        lg_grid_opts go = {.nrow_items = cols, .pad = 2, .pad_value = 255, .lo = -1, .hi = 1,
                           .scale = S < 32 ? 64 / S : 1};
        lg_image *im = NULL;
        st = lg_grid_make(&im, grid, n * cols, d->c, S, S, &go);
        if (st == LG_OK) st = lg_output_png(out, im);
        lg_image_free(im);
    }
    if (st == LG_OK)
        printf("variants: %d rows (%s: real image, its %dx%d I_K, %d draws of the finer levels, "
               "seed %ld) -> %s\n", n, ss.desc, sK, sK, V, o->seed, out);
    lg_free(ss.x), lg_free(ss.labels), lg_free(ik), lg_free(rep), lg_free(draws), lg_free(grid);
    lg_free(lab);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}
