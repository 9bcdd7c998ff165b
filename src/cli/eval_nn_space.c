/* eval nn --space: the feature space nearest neighbours are found in.
 * pixel is the images themselves; inception the 2048 pool features of the
 * FID Inception (as eval fid feeds it: 8-bit pixels, resized to 299);
 * classifier the penultimate features of an evaluation classifier (as eval
 * fd). Training-set Inception features are cached (src/eval/feature_cache.h):
 * at ~13 images/s on 2 cores a whole training set costs tens of minutes,
 * and nn is rerun for every model of the same data. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/check.h"
#include "eval/feature_cache.h"

#define CMD "eval"

static const char *const names[LG_NN_SPACE_COUNT] = {"pixel", "inception", "classifier"};

int lg_cli_nn_space_parse(const char *s) {
    for (int i = 0; i < LG_NN_SPACE_COUNT; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *lg_cli_nn_space_name(lg_nn_space s) { return names[s]; }

const char *lg_cli_nn_space_label(const lg_nn_embed *e, char *buf, size_t len) {
    if (e->space == LG_NN_PIXEL) snprintf(buf, len, "pixels in [0, 1]");
    else if (e->space == LG_NN_INCEPTION)
        snprintf(buf, len, "Inception-v3 pool features (2048, resize %s)",
                 lg_resize_name(e->resize));
    else snprintf(buf, len, "classifier penultimate features (%d, %s)", LG_CLASSIFIER_FEATURES,
                  e->classifier);
    return buf;
}

lg_status lg_cli_nn_embed_open(lg_nn_embed *e, int c, int size) {
    e->c = c, e->size = size;
    if (e->space == LG_NN_PIXEL) {
        e->dim = c * size * size;
        return LG_OK;
    }
    if (e->space == LG_NN_CLASSIFIER) {
        e->dim = LG_CLASSIFIER_FEATURES;
        lg_status st = lg_classifier_load(&e->clf, e->classifier);
        if (st != LG_OK) return st;
        int cc = 0, h = 0, w = 0, ncls = 0;
        lg_classifier_shape(e->clf, &cc, &h, &w, &ncls);
        if (cc != c || h != size || w != size)
            return lg_error(LG_ERR_SHAPE, "%s: classifier takes %dx%dx%d images, the model makes "
                            "%dx%dx%d", e->classifier, cc, h, w, c, size, size);
        return LG_OK;
    }
    e->dim = LG_INCEPTION_FEATURES;
    char path[4096];
    if (!e->weights) {
        lg_status st = lg_inception_default_path(path, sizeof path);
        if (st != LG_OK) return st;
        e->weights = path;
    }
    lg_status st = lg_inception_load(&e->net, e->weights);
    if (e->weights == path) e->weights = NULL; /* not kept: path is on this stack */
    return st;
}

void lg_cli_nn_embed_close(lg_nn_embed *e) {
    lg_inception_free(e->net);
    lg_classifier_free(e->clf);
    e->net = NULL;
    e->clf = NULL;
}

/* ---- Inception ---------------------------------------------------------- */

typedef struct {
    const char *what;
    double t0, last;
} progress;

/* A line every 5 s and at the end, as eval fid prints. */
static int on_batch(void *user, int done, int total) {
    progress *p = user;
    const double now = lg_time_s();
    if (now - p->last < 5 && done != total) return 0;
    p->last = now;
    const double el = now - p->t0, rate = done / (el > 0 ? el : 1e-9),
                 eta = (total - done) / (rate > 0 ? rate : 1e-9);
    printf("  %s: %d/%d images, %.1f images/s, ETA %dm%02ds\n", p->what, done, total, rate,
           (int)eta / 60, (int)eta % 60);
    fflush(stdout);
    return 0;
}

/* Rows in [0, 1] as the 8-bit pixels Inception takes (what a saved PNG of
 * a sample holds; training rows come back exactly as they were read). */
static uint8_t *to_bytes(const float *x, size_t count) {
    uint8_t *px = lg_alloc(count ? count : 1);
    if (!px) return NULL;
    for (size_t i = 0; i < count; i++) {
        const float v = x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i];
        px[i] = (uint8_t)lrintf(v * 255);
    }
    return px;
}

static lg_status inception_rows(lg_nn_embed *e, const uint8_t *px, int n, const char *what,
                                float *out) {
    progress p = {what, lg_time_s(), 0};
    return lg_inception_features(e->net, px, n, e->c, e->size, e->size, e->resize, on_batch, &p,
                                 out);
}

/* Training features from the cache, else computed and stored there. A
 * cache file that fails its checks is reported and recomputed over: it is
 * derived data, and the recomputation gives the right numbers. A cache
 * that cannot be written costs the next run time, not this one's result. */
static lg_status cached_train(lg_nn_embed *e, const uint8_t *px, int n, float *out) {
    char key[65], path[4096];
    lg_status st = lg_feature_cache_key(px, n, e->c, e->size, e->size, lg_resize_name(e->resize),
                                        LG_INCEPTION_SHA256, key);
    if (st == LG_OK) st = lg_feature_cache_path("inception", key, path, sizeof path);
    if (st != LG_OK) return st;
    if (access(path, F_OK) == 0) {
        if (lg_feature_cache_read(path, key, n, e->dim, out) == LG_OK) {
            printf("inception features of the %d training images: cache hit, %s\n", n, path);
            return LG_OK;
        }
        fprintf(stderr, "lapgan eval: warning: %s; recomputing the features\n", lg_errmsg());
    }
    const double t0 = lg_time_s();
    LG_TRY(inception_rows(e, px, n, "training images", out));
    if (lg_feature_cache_write(path, key, out, n, e->dim) == LG_OK)
        printf("inception features of the %d training images: cache miss, computed in %.1f s, "
               "saved to %s\n", n, lg_time_s() - t0, path);
    else
        fprintf(stderr, "lapgan eval: warning: %s; the features were not cached\n", lg_errmsg());
    return LG_OK;
}

/* ---- any space ---------------------------------------------------------- */

lg_status lg_cli_nn_embed(lg_nn_embed *e, const float *x, int n, const char *what, int train,
                          float **out) {
    *out = NULL;
    if (e->space == LG_NN_PIXEL) return LG_OK;
    const size_t count = (size_t)n * e->c * e->size * e->size;
    float *f = lg_alloc_floats((size_t)n * e->dim);
    if (!f) return lg_error(LG_ERR_NOMEM, "out of memory for the features of %d %s", n, what);
    lg_status st = LG_OK;
    if (e->space == LG_NN_INCEPTION) {
        uint8_t *px = to_bytes(x, count);
        st = !px ? lg_error(LG_ERR_NOMEM, "out of memory for %d %s", n, what)
             : train ? cached_train(e, px, n, f) : inception_rows(e, px, n, what, f);
        lg_free(px);
    } else {
        float *y = lg_alloc_floats(count); /* the classifier takes [-1, 1] */
        for (size_t i = 0; y && i < count; i++) y[i] = x[i] * 2 - 1;
        st = y ? lg_classifier_features(e->clf, y, n, f)
               : lg_error(LG_ERR_NOMEM, "out of memory for %d %s", n, what);
        lg_free(y);
    }
    if (st != LG_OK) lg_free(f);
    else *out = f;
    return st;
}
