/* The whole pyramid: loading a run directory and sampling coarse to fine. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "level_internal.h"
#include "rundir.h"

/* Levels generate in chunks of up to LG_SAMPLE_BATCH samples, fewer where
 * that many would hold more than LG_SAMPLE_BYTES of activations: an lsun64
 * 64x64 level needs 38 MB per sample (256 would be 10 GB; 4 are 153 MB),
 * cifar10-32's 32x32 level 2.1 MB (chunks of 120), fashion's 28x28 level
 * 0.4 MB (256). A sample's pixels do not depend on its chunk. Chunks are
 * multiples of 4 samples, so every chunk's noise is whole Philox blocks. */
#define LG_SAMPLE_BATCH 256
#define LG_SAMPLE_BYTES ((size_t)256 << 20)

struct lg_model {
    lg_model_desc d;
    lg_level *lv[LG_PYR_MAX_LEVELS];
    int owns_levels;
    int cap; /* samples the buffers below hold */
    float *img[LG_PYR_MAX_LEVELS], *up[LG_PYR_MAX_LEVELS], *h[LG_PYR_MAX_LEVELS];
};

void lg_level_path(char *buf, size_t n, const char *run_dir, int k) {
    snprintf(buf, n, "%s/level_%d.safetensors", run_dir, k);
}

lg_status lg_model_wrap(lg_model **out, const lg_model_desc *d, lg_level *const *levels) {
    lg_model *m = lg_alloc(sizeof *m);
    if (!m) return LG_ERR_NOMEM;
    m->d = *d;
    for (int k = 0; k < d->levels; k++) m->lv[k] = levels[k];
    *out = m;
    return LG_OK;
}

/* Level k > 0 did not load. The model comes from level_0's file, so a
 * foreign level_0 used to be reported as an error in level k's file: when
 * the two files describe different models, name both. */
static lg_status blame_levels(const lg_model *m, const char *run_dir, int k, lg_status st) {
    char first[4096], path[4096], where[4100], msg[1024], diff[600];
    snprintf(msg, sizeof msg, "%s", lg_errmsg());
    lg_level_path(first, sizeof first, run_dir, 0);
    lg_level_path(path, sizeof path, run_dir, k);
    lg_model_desc dk;
    int level;
    int64_t step;
    if (lg_checkpoint_peek(path, &dk, &level, &step) != LG_OK) return st;
    snprintf(where, sizeof where, "in %s", first);
    if (lg_model_desc_diff(&dk, path, &m->d, where, diff, sizeof diff) == LG_OK)
        return lg_error(st, "%s", msg);
    return lg_error(LG_ERR_FORMAT, "%s and %s are levels of different models (%s): one of them "
                    "comes from another run", path, first, diff);
}

/* A level file past the model's last level (a one-level level_0 beside an
 * old run's level_1) would be silently ignored: refuse it. */
static lg_status check_no_extra_level(const lg_model *m, const char *run_dir) {
    char first[4096], path[4096];
    struct stat sb;
    lg_level_path(path, sizeof path, run_dir, m->d.levels);
    if (lstat(path, &sb) != 0) return LG_OK;
    lg_level_path(first, sizeof first, run_dir, 0);
    return lg_error(LG_ERR_FORMAT, "%s: not a level of the %d-level model in %s; the directory "
                    "mixes two runs", path, m->d.levels, first);
}

/* Level k sized for the largest chunk within LG_SAMPLE_BYTES: measured on a
 * level built for 4 samples. */
static lg_status new_sampling_level(lg_level **out, const lg_model_desc *d, int k,
                                    lg_backend_kind be) {
    LG_TRY(lg_level_new(out, d, k, 4, 0, be));
    const size_t per = lg_level_activation_bytes(*out) / 4 + 1;
    size_t chunk = LG_SAMPLE_BYTES / per / 4 * 4;
    if (chunk > LG_SAMPLE_BATCH) chunk = LG_SAMPLE_BATCH;
    if (chunk <= 4) return LG_OK;
    lg_level_free(*out);
    *out = NULL;
    return lg_level_new(out, d, k, (int)chunk, 0, be);
}

static lg_status load_levels(lg_model *m, const char *run_dir, lg_backend_kind be) {
    char path[4096];
    LG_TRY(check_no_extra_level(m, run_dir));
    for (int k = 0; k < m->d.levels; k++) {
        lg_level_path(path, sizeof path, run_dir, k);
        LG_TRY(new_sampling_level(&m->lv[k], &m->d, k, be));
        lg_status st = lg_level_load(m->lv[k], NULL, path);
        if (st != LG_OK) return k > 0 && st == LG_ERR_FORMAT ? blame_levels(m, run_dir, k, st) : st;
    }
    return LG_OK;
}

lg_status lg_model_load(lg_model **out, const char *run_dir, lg_backend_kind backend) {
    LG_CHECK(out && run_dir, LG_ERR_ARG, "lg_model_load: NULL argument");
    *out = NULL;
    char path[4096];
    lg_model_desc d;
    int level;
    int64_t step;
    lg_level_path(path, sizeof path, run_dir, 0);
    LG_TRY(lg_checkpoint_peek(path, &d, &level, &step));
    lg_model *m = lg_alloc(sizeof *m);
    if (!m) return LG_ERR_NOMEM;
    m->d = d;
    m->owns_levels = 1;
    lg_status st = load_levels(m, run_dir, backend);
    if (st != LG_OK) {
        lg_model_free(m);
        return st;
    }
    *out = m;
    return LG_OK;
}

void lg_model_free(lg_model *m) {
    if (!m) return;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) {
        if (m->owns_levels) lg_level_free(m->lv[k]);
        lg_free(m->img[k]);
        lg_free(m->up[k]);
        lg_free(m->h[k]);
    }
    lg_free(m);
}

const lg_model_desc *lg_model_desc_of(const lg_model *m) { return m ? &m->d : NULL; }

static lg_status reserve(lg_model *m, int n) {
    if (n <= m->cap) return LG_OK;
    for (int k = 0; k < m->d.levels; k++) {
        size_t len = (size_t)n * m->d.c * m->d.level[k].size * m->d.level[k].size;
        float **bufs[3] = {&m->img[k], &m->up[k], &m->h[k]};
        for (int i = 0; i < 3; i++) {
            lg_free(*bufs[i]);
            if (!(*bufs[i] = lg_alloc_floats(len))) {
                m->cap = 0;
                return LG_ERR_NOMEM;
            }
        }
    }
    m->cap = n;
    return LG_OK;
}

/* One noise stream per level: a level's draws do not depend on how many
 * the others took. */
static void noise_rng(lg_rng *r, uint64_t seed, int k) { lg_rng_init(r, seed, 500u + (uint64_t)k); }

static size_t noise_per_sample(const lg_level_desc *l) {
    return l->fc ? (size_t)l->zdim : (size_t)l->zdim * l->size * l->size;
}

lg_status lg_model_noise(const lg_model *m, int n, uint64_t seed, int k, float *z, size_t *len) {
    LG_CHECK(m && len, LG_ERR_ARG, "lg_model_noise: NULL argument");
    LG_CHECK(n >= 1 && n <= (1 << 20), LG_ERR_ARG, "sample count %d outside [1, 1048576]", n);
    LG_CHECK(k >= 0 && k < m->d.levels, LG_ERR_ARG, "level %d does not exist (model '%s' has %d)",
             k, m->d.name, m->d.levels);
    *len = (size_t)n * noise_per_sample(&m->d.level[k]);
    if (!z) return LG_OK;
    /* lg_level_generate draws chunk after chunk from this one stream; every
     * chunk but the last is a multiple of 4 floats (one Philox block), so a
     * single fill gives the same numbers. */
    lg_rng r;
    noise_rng(&r, seed, k);
    lg_rng_uniform(&r, z, *len, m->d.noise_lo, m->d.noise_hi);
    return LG_OK;
}

lg_status lg_model_sample(lg_model *m, int n, uint64_t seed, const int *labels, float *out,
                          lg_chain *chain) {
    LG_CHECK(m && out, LG_ERR_ARG, "lg_model_sample: NULL argument");
    LG_CHECK(n >= 1 && n <= (1 << 20), LG_ERR_ARG, "sample count %d outside [1, 1048576]", n);
    LG_CHECK(!m->d.nclasses || labels, LG_ERR_ARG,
             "model '%s' is class-conditional: give a class for each sample", m->d.name);
    LG_TRY(reserve(m, n));
    const int K = m->d.levels - 1;
    for (int k = K; k >= 0; k--) {
        LG_CHECK(m->lv[k], LG_ERR_ARG, "model '%s': level %d is not loaded", m->d.name, k);
        lg_rng r;
        noise_rng(&r, seed, k);
        LG_TRY(lg_level_generate(m->lv[k], k < K ? m->img[k + 1] : NULL, labels, n, &r,
                                 m->up[k], m->h[k], m->img[k]));
    }
    memcpy(out, m->img[0], sizeof(float) * (size_t)n * m->d.c * m->d.level[0].size *
                               m->d.level[0].size);
    if (chain) {
        memset(chain, 0, sizeof *chain);
        for (int k = 0; k <= K; k++) {
            chain->img[k] = m->img[k];
            if (k < K) chain->up[k] = m->up[k], chain->h[k] = m->h[k];
        }
    }
    return LG_OK;
}

lg_status lg_model_sample_from(lg_model *m, int n, uint64_t seed, const int *labels,
                               const float *coarse, float *out) {
    LG_CHECK(m && coarse && out, LG_ERR_ARG, "lg_model_sample_from: NULL argument");
    LG_CHECK(n >= 1 && n <= (1 << 20), LG_ERR_ARG, "sample count %d outside [1, 1048576]", n);
    LG_CHECK(!m->d.nclasses || labels, LG_ERR_ARG,
             "model '%s' is class-conditional: give a class for each sample", m->d.name);
    LG_TRY(reserve(m, n));
    const int K = m->d.levels - 1;
    const size_t nK = (size_t)n * m->d.c * m->d.level[K].size * m->d.level[K].size;
    memcpy(m->img[K], coarse, sizeof(float) * nK);
    for (int k = K - 1; k >= 0; k--) {
        LG_CHECK(m->lv[k], LG_ERR_ARG, "model '%s': level %d is not loaded", m->d.name, k);
        lg_rng r;
        noise_rng(&r, seed, k); /* the same streams as lg_model_sample */
        LG_TRY(lg_level_generate(m->lv[k], m->img[k + 1], labels, n, &r, m->up[k], m->h[k],
                                 m->img[k]));
    }
    memcpy(out, m->img[0], sizeof(float) * (size_t)n * m->d.c * m->d.level[0].size *
                               m->d.level[0].size);
    return LG_OK;
}
