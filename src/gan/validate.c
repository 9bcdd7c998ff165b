/* Best-model selection's criterion: a per-level Parzen window on held-out
 * validation images (gan.h, lg_level_val). The paper "monitors a Parzen
 * window estimate on a validation set and keeps the best model"; the
 * authors' code does it with approxParzen (the smallest L2 distance of 128
 * draws from a validation image's own coarse image to its true fine image,
 * over 200 images). We draw the same way but score with a real Parzen
 * log-likelihood, which also penalises draws that are all far away, and
 * report approxParzen beside it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/eval.h"
#include "lapgan/io.h"
#include "level_internal.h"
#include "pyramid/resample.h"

/* Bandwidths 10^-2 ... 10^0, 13 values: levels are small (8x8 to 32x32),
 * so their best sigma sits below parzen_ll.py's grid floor of 0.1. */
#define VAL_NSIGMA 13

static void val_grid(double *g) {
    for (int i = 0; i < VAL_NSIGMA; i++) g[i] = pow(10.0, -2.0 + 2.0 * i / (VAL_NSIGMA - 1));
}

/* [-1, 1] -> [0, 1], clamped as `lapgan eval` clamps samples. */
static void to_unit(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < -1 ? -1 : x[i] > 1 ? 1 : x[i];
        x[i] = (v + 1) * 0.5f;
    }
}

/* The validation images at levels k and (k < K) k + 1, along the level's
 * own chain of d(.). */
static lg_status level_images(const lg_level *lv, const float *images, int n, float **ik,
                              float **ik1) {
    const int last = lv->k < lv->K ? lv->k + 1 : lv->k, s0 = lg_level_size(lv, 0);
    float *keep[2] = {NULL, NULL}, *owned = NULL;
    const float *prev = images;
    *ik = *ik1 = NULL;
    if (lv->k == 0) {
        const size_t len = (size_t)n * lv->c * s0 * s0;
        if (!(keep[0] = lg_alloc_floats(len))) return LG_ERR_NOMEM;
        memcpy(keep[0], images, sizeof(float) * len);
    }
    for (int j = 1; j <= last; j++) {
        const int a = lg_level_size(lv, j - 1), b = lg_level_size(lv, j);
        float *next = lg_alloc_floats((size_t)n * lv->c * b * b);
        lg_status st = next ? lg_pyr_resample_on(lv->be, lv->m.filter, 1, prev, n, lv->c, a, a,
                                                 next, b, b, 1, 0)
                            : LG_ERR_NOMEM;
        if (owned != keep[0]) lg_free(owned);
        if (st != LG_OK) {
            lg_free(next), lg_free(keep[0]);
            return st;
        }
        prev = owned = next;
        if (j == lv->k) keep[0] = next;
        if (j == lv->k + 1) keep[1] = next;
    }
    *ik = keep[0];
    *ik1 = keep[1];
    return LG_OK;
}

typedef struct {
    double ll[VAL_NSIGMA], dist;
    int count;
} val_acc;

/* Scores m target rows (unit scale) against n draws (unit scale). */
static lg_status score(const float *draws, int n, const float *targets, int m, int d,
                       const double *grid, val_acc *acc) {
    double *ll = lg_alloc(sizeof(double) * (size_t)m * VAL_NSIGMA);
    int *idx = lg_alloc(sizeof(int) * (size_t)m);
    float *dist = lg_alloc_floats((size_t)m);
    lg_status st = ll && idx && dist ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK) st = lg_parzen_ll_multi(draws, n, targets, m, d, grid, VAL_NSIGMA, ll);
    if (st == LG_OK) st = lg_knn(draws, n, targets, m, d, 1, idx, dist);
    for (int i = 0; st == LG_OK && i < m; i++) {
        for (int q = 0; q < VAL_NSIGMA; q++) acc->ll[q] += ll[(size_t)q * m + i];
        acc->dist += dist[i];
        acc->count++;
    }
    lg_free(ll), lg_free(idx), lg_free(dist);
    return st;
}

/* Level K: `samples` draws per class, each image scored against its class's. */
static lg_status validate_top(lg_level *lv, const float *ik, const int *labels, int n,
                              int samples, uint64_t seed, const double *grid, val_acc *acc) {
    const int groups = lv->ncls ? lv->ncls : 1, d = (int)lv->img;
    float *draws = lg_alloc_floats((size_t)samples * lv->img);
    float *tg = lg_alloc_floats((size_t)n * lv->img);
    int *lab = lg_alloc(sizeof(int) * (size_t)samples);
    lg_status st = draws && tg && lab ? LG_OK : LG_ERR_NOMEM;
    for (int g = 0; st == LG_OK && g < groups; g++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (!lv->ncls || labels[i] == g)
                memcpy(tg + (size_t)m++ * lv->img, ik + (size_t)i * lv->img,
                       sizeof(float) * lv->img);
        if (!m) continue;
        for (int i = 0; i < samples; i++) lab[i] = g;
        lg_rng r;
        lg_rng_init(&r, seed, 900u + (uint64_t)g);
        st = lg_level_generate(lv, NULL, lv->ncls ? lab : NULL, samples, &r, NULL, NULL, draws);
        if (st != LG_OK) break;
        to_unit(draws, (size_t)samples * lv->img);
        to_unit(tg, (size_t)m * lv->img);
        st = score(draws, samples, tg, m, d, grid, acc);
    }
    lg_free(draws), lg_free(tg), lg_free(lab);
    return st;
}

/* Level k < K: `samples` draws from each image's own coarse image, for
 * VAL_CHUNK_ROWS draws at a time. */
#define VAL_CHUNK_ROWS 2048
static lg_status validate_cond(lg_level *lv, const float *ik, const float *ik1, const int *labels,
                               int n, int samples, uint64_t seed, const double *grid,
                               val_acc *acc) {
    const size_t img = lv->img, cimg = (size_t)lv->c * lv->sc * lv->sc;
    const int per = samples < VAL_CHUNK_ROWS ? VAL_CHUNK_ROWS / samples : 1;
    const size_t rows = (size_t)per * samples;
    float *coarse = lg_alloc_floats(rows * cimg), *draws = lg_alloc_floats(rows * img);
    float *tg = lg_alloc_floats((size_t)per * img);
    int *lab = lg_alloc(sizeof(int) * rows);
    double *ll = lg_alloc(sizeof(double) * (size_t)per * VAL_NSIGMA);
    double *dmin = lg_alloc(sizeof(double) * (size_t)per);
    lg_status st = coarse && draws && tg && lab && ll && dmin ? LG_OK : LG_ERR_NOMEM;
    for (int i0 = 0, chunk = 0; st == LG_OK && i0 < n; i0 += per, chunk++) {
        const int m = n - i0 < per ? n - i0 : per;
        for (size_t r = 0; r < (size_t)m * samples; r++) {
            const int i = i0 + (int)(r / samples);
            memcpy(coarse + r * cimg, ik1 + i * cimg, sizeof(float) * cimg);
            lab[r] = labels ? labels[i] : 0;
        }
        lg_rng r;
        lg_rng_init(&r, seed, 900u + (uint64_t)chunk);
        st = lg_level_generate(lv, coarse, lv->ncls ? lab : NULL, m * samples, &r, NULL, NULL,
                               draws);
        if (st != LG_OK) break;
        memcpy(tg, ik + (size_t)i0 * img, sizeof(float) * m * img);
        to_unit(draws, (size_t)m * samples * img);
        to_unit(tg, (size_t)m * img);
        st = lg_parzen_ll_grouped(draws, samples, tg, m, (int)img, grid, VAL_NSIGMA, ll, dmin);
        for (int i = 0; st == LG_OK && i < m; i++) {
            for (int q = 0; q < VAL_NSIGMA; q++) acc->ll[q] += ll[(size_t)q * m + i];
            acc->dist += dmin[i];
            acc->count++;
        }
    }
    lg_free(coarse), lg_free(draws), lg_free(tg), lg_free(lab), lg_free(ll), lg_free(dmin);
    return st;
}

lg_status lg_level_validate(lg_level *lv, const float *images, const int *labels, int n,
                            int samples, uint64_t seed, lg_level_val *out) {
    LG_CHECK(lv && images && out, LG_ERR_ARG, "lg_level_validate: NULL argument");
    LG_CHECK(n >= 1 && samples >= 2, LG_ERR_ARG,
             "validation: %d images and %d samples each (need >= 1 and >= 2)", n, samples);
    LG_CHECK(!lv->ncls || labels, LG_ERR_ARG,
             "validation: level %d is class-conditional and needs labels", lv->k);
    for (int i = 0; lv->ncls && i < n; i++)
        LG_CHECK(labels[i] >= 0 && labels[i] < lv->ncls, LG_ERR_ARG,
                 "validation: image %d has label %d, the model classes 0 to %d", i, labels[i],
                 lv->ncls - 1);
    const double t0 = lg_time_s();
    double grid[VAL_NSIGMA];
    val_grid(grid);
    float *ik, *ik1;
    LG_TRY(level_images(lv, images, n, &ik, &ik1));
    val_acc acc = {{0}, 0, 0};
    lg_status st = lv->k == lv->K
                       ? validate_top(lv, ik, labels, n, samples, seed, grid, &acc)
                       : validate_cond(lv, ik, ik1, labels, n, samples, seed, grid, &acc);
    lg_free(ik), lg_free(ik1);
    LG_TRY(st);
    int best = 0;
    for (int q = 1; q < VAL_NSIGMA; q++)
        if (acc.ll[q] > acc.ll[best]) best = q;
    *out = (lg_level_val){.parzen = acc.ll[best] / acc.count, .sigma = grid[best],
                          .min_dist = acc.dist / acc.count, .images = n, .samples = samples,
                          .seconds = lg_time_s() - t0};
    LG_CHECK(isfinite(out->parzen), LG_ERR_NUMERIC, "level %d step %lld: validation "
             "log-likelihood is not finite", lv->k, (long long)lv->step);
    return LG_OK;
}

lg_status lg_checkpoint_val_split(const char *path, int64_t *nval) {
    LG_CHECK(path && nval, LG_ERR_ARG, "lg_checkpoint_val_split: NULL argument");
    lg_safetensors *st;
    LG_TRY(lg_st_read(&st, path));
    const char *v = lg_st_meta(st, "val_images");
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : -1;
    int ok = !v || (*v && !*end && x >= 0);
    lg_st_free(st);
    LG_CHECK(ok, LG_ERR_FORMAT, "%s: 'val_images' is not a count ('%s')", path, v);
    *nval = x;
    return LG_OK;
}
