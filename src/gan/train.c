/* The trainer: every selected level steps in turn on its own data stream,
 * logs, checkpoints atomically and writes sample grids. Levels share
 * nothing, so training them here together or in separate processes gives
 * the same weights. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "lapgan/io.h"
#include "level_internal.h"

typedef struct {
    lg_level *lv;
    lg_batcher *data;
    float *x;   /* one minibatch of images */
    int *y;     /* its labels */
    uint64_t seed;
    FILE *log;
    double t_sum; /* seconds in steps since the last log line */
    double wall0; /* wall clock at the last log line */
    lg_level_stats sum;
    int nsum;
    int64_t saved_step; /* step of its last good checkpoint, -1: none yet */
    int failed;         /* stopped on a numeric fault */
} lg_slot;

typedef struct {
    const lg_model_desc *m;
    const lg_dataset *ds;
    const lg_train_cfg *cfg;
    int batch;
    int nfailed;
    char failure[8400]; /* the first stopped level's message */
    lg_slot slot[LG_PYR_MAX_LEVELS];
} lg_trainer;

/* Each level draws its own minibatches: a seed per level. */
static uint64_t data_seed(uint64_t seed, int k) {
    return seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(k + 1));
}

static int mkdir_one(const char *path) {
    struct stat sb;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
    if (stat(path, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* mkdir -p: a run directory may be several levels deep and new. */
static lg_status make_dir(const char *path) {
    char buf[4096];
    LG_CHECK(strlen(path) < sizeof buf, LG_ERR_ARG, "%.64s...: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int bad = mkdir_one(buf);
        *p = '/';
        if (bad) return lg_error(LG_ERR_IO, "%s: cannot create directory (%s)", buf, strerror(errno));
    }
    LG_CHECK(mkdir_one(buf) == 0, LG_ERR_IO, "%s: cannot create directory (%s)", path,
             strerror(errno));
    return LG_OK;
}

static lg_status check_data(const lg_model_desc *m, const lg_dataset *ds) {
    const int s0 = m->level[0].size;
    LG_CHECK(ds->c == m->c, LG_ERR_ARG, "%s: images have %d channels, model '%s' wants %d",
             ds->source, ds->c, m->name, m->c);
    if (m->crop)
        LG_CHECK(ds->h >= m->crop && ds->w >= m->crop, LG_ERR_ARG,
                 "%s: images are %dx%d, smaller than the %dx%d crop", ds->source, ds->h, ds->w,
                 m->crop, m->crop);
    else
        LG_CHECK(ds->h == s0 && ds->w == s0, LG_ERR_ARG,
                 "%s: images are %dx%d, model '%s' wants %dx%d", ds->source, ds->h, ds->w,
                 m->name, s0, s0);
    if (m->nclasses)
        LG_CHECK(ds->nclasses == m->nclasses, LG_ERR_ARG,
                 "%s: class-conditional model wants %d classes, data set has %d", ds->source,
                 m->nclasses, ds->nclasses);
    return LG_OK;
}

/* Keeps the lines of a level's log up to `step`, so a resumed run's log
 * reads as if it had never stopped. */
static lg_status trim_log(const char *path, int64_t step) {
    FILE *f = fopen(path, "rb");
    if (!f) return LG_OK;
    char *keep = NULL, line[1024];
    size_t len = 0, cap = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"step\":");
        if (!p || strtoll(p + 7, NULL, 10) > step) continue;
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            cap = 2 * (len + l + 1);
            char *k = realloc(keep, cap);
            if (!k) break;
            keep = k;
        }
        memcpy(keep + len, line, l);
        len += l;
    }
    fclose(f);
    lg_status st = lg_atomic_write_file(path, keep ? keep : "", len);
    free(keep);
    return st;
}

static lg_status open_slot(lg_trainer *t, int k) {
    const lg_train_cfg *cfg = t->cfg;
    lg_slot *s = &t->slot[k];
    char path[4096];
    s->seed = cfg->seed;
    s->saved_step = -1;
    LG_TRY(lg_level_new(&s->lv, t->m, k, t->batch, cfg->seed, cfg->backend));
    lg_level_extra ex = {0};
    lg_level_path(path, sizeof path, cfg->run_dir, k);
    int resumed = cfg->resume && access(path, F_OK) == 0;
    if (resumed) {
        LG_TRY(lg_level_load(s->lv, &ex, path));
        s->seed = ex.seed; /* the run keeps the seed it started with */
        s->saved_step = lg_level_step_count(s->lv);
    }
    LG_TRY(lg_batcher_new(&s->data, t->ds, t->batch, t->m->crop, data_seed(s->seed, k)));
    if (resumed) LG_TRY(lg_batcher_set_state(s->data, ex.data_epoch, ex.data_cursor));
    const int s0 = t->m->level[0].size;
    s->x = lg_alloc_floats((size_t)t->batch * t->m->c * s0 * s0);
    s->y = lg_alloc(sizeof(int) * (size_t)t->batch);
    if (!s->x || !s->y) return LG_ERR_NOMEM;
    snprintf(path, sizeof path, "%s/log_level_%d.jsonl", cfg->run_dir, k);
    if (resumed) LG_TRY(trim_log(path, lg_level_step_count(s->lv)));
    s->log = fopen(path, resumed ? "ab" : "wb");
    LG_CHECK(s->log, LG_ERR_IO, "%s: cannot open for writing (%s)", path, strerror(errno));
    s->wall0 = lg_time_s();
    return LG_OK;
}

static void close_slot(lg_slot *s) {
    lg_level_free(s->lv);
    lg_batcher_free(s->data);
    lg_free(s->x);
    lg_free(s->y);
    if (s->log) fclose(s->log);
    memset(s, 0, sizeof *s);
}

/* A numeric fault (lg_errmsg() says which) stops level k alone. Nothing of
 * it is saved from now on, so its last good checkpoint stays as it was. */
static lg_status stop_level(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    char path[4096], msg[sizeof t->failure];
    lg_level_path(path, sizeof path, t->cfg->run_dir, k);
    if (s->saved_step >= 0)
        snprintf(msg, sizeof msg, "%s; level %d stopped, its last good checkpoint (step %lld, "
                 "%s) is kept: resume with --resume", lg_errmsg(), k,
                 (long long)s->saved_step, path);
    else
        snprintf(msg, sizeof msg, "%s; level %d stopped before its first checkpoint: "
                 "--resume restarts it from step 0", lg_errmsg(), k);
    s->failed = 1;
    if (!t->nfailed++) snprintf(t->failure, sizeof t->failure, "%s", msg);
    if (t->cfg->level_stopped)
        t->cfg->level_stopped(t->cfg->progress_ud, k, lg_level_step_count(s->lv), msg);
    return LG_OK;
}

static lg_status save_slot(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    lg_level_extra ex = {.seed = s->seed};
    lg_batcher_get_state(s->data, &ex.data_epoch, &ex.data_cursor);
    snprintf(ex.data_source, sizeof ex.data_source, "%s", t->ds->source);
    char path[4096];
    lg_level_path(path, sizeof path, t->cfg->run_dir, k);
    LG_CHECK(fflush(s->log) == 0, LG_ERR_IO, "%s/log_level_%d.jsonl: write failed (%s)",
             t->cfg->run_dir, k, strerror(errno));
    lg_status st = lg_level_save(s->lv, &ex, path);
    if (st == LG_ERR_NUMERIC) return stop_level(t, k);
    if (st == LG_OK) s->saved_step = lg_level_step_count(s->lv);
    return st;
}

static lg_status write_grid(const char *path, const float *x, int n, int c, int s, int per_row) {
    lg_grid_opts o = {.nrow_items = per_row, .pad = 2, .pad_value = 255, .lo = -1, .hi = 1,
                      .scale = s < 32 ? 64 / s : 1};
    lg_image *im;
    LG_TRY(lg_grid_make(&im, x, n, c, s, s, &o));
    lg_status st = lg_png_write(path, im);
    lg_image_free(im);
    return st;
}

/* Level k's progress figure from the last batch: for 8 of its coarse
 * images, rows of u(I_{k+1}), the generated I_k and the real I_k. Uses its
 * own noise stream, so figures never change what training computes. */
static lg_status level_figure(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    lg_level *lv = s->lv;
    /* The last batch holds t->batch images: never read past it. */
    const int n = t->batch < 8 ? t->batch : 8, c = t->m->c, sz = lv->s;
    const size_t img = lv->img;
    float *buf = lg_alloc_floats(3 * n * img);
    if (!buf) return LG_ERR_NOMEM;
    lg_rng r;
    lg_rng_init(&r, s->seed, 777);
    const float *coarse = k < lv->K ? lv->chain[k + 1] : NULL;
    const float *real = k == 0 ? s->x : lv->chain[k];
    lg_status st = lg_level_generate(lv, coarse, s->y, n, &r, buf, buf + 2 * n * img, buf + n * img);
    if (st == LG_OK) {
        if (k < lv->K) memcpy(buf + 2 * n * img, real, sizeof(float) * n * img);
        else memcpy(buf, real, sizeof(float) * n * img); /* level K: real row, then samples */
        char path[4096];
        snprintf(path, sizeof path, "%s/samples/level_%d_step_%06lld.png", t->cfg->run_dir, k,
                 (long long)lv->step);
        st = write_grid(path, buf, k < lv->K ? 3 * n : 2 * n, c, sz, n);
    }
    lg_free(buf);
    return st;
}

/* The whole model's samples, when every level trains in this process. */
static lg_status model_figure(lg_trainer *t, int64_t step) {
    lg_level *lv[LG_PYR_MAX_LEVELS];
    for (int k = 0; k < t->m->levels; k++)
        if (!(lv[k] = t->slot[k].lv) || t->slot[k].failed) return LG_OK;
    lg_model *mod;
    LG_TRY(lg_model_wrap(&mod, t->m, lv));
    const int per_row = 10, n = t->m->nclasses ? t->m->nclasses * per_row : 100;
    const int s0 = t->m->level[0].size;
    float *out = lg_alloc_floats((size_t)n * t->m->c * s0 * s0);
    int *labels = lg_alloc(sizeof(int) * n);
    lg_status st = out && labels ? LG_OK : LG_ERR_NOMEM;
    for (int i = 0; i < n && labels; i++) labels[i] = t->m->nclasses ? i / per_row : 0;
    if (st == LG_OK) st = lg_model_sample(mod, n, t->cfg->seed ^ 0x5A5A, labels, out, NULL);
    if (st == LG_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/samples/model_step_%06lld.png", t->cfg->run_dir,
                 (long long)step);
        st = write_grid(path, out, n, t->m->c, s0, per_row);
    }
    lg_free(out);
    lg_free(labels);
    lg_model_free(mod);
    return st;
}

static void log_line(lg_trainer *t, int k, double epoch) {
    lg_slot *s = &t->slot[k];
    const int n = s->nsum ? s->nsum : 1;
    lg_progress p = {.level = k, .step = lg_level_step_count(s->lv), .total = t->cfg->steps,
                     .img_per_s = s->t_sum > 0 ? t->batch * n / s->t_sum : 0, .epoch = epoch};
    p.stats.d_loss = s->sum.d_loss / n;
    p.stats.g_loss = s->sum.g_loss / n;
    p.stats.d_real_acc = s->sum.d_real_acc / n;
    p.stats.d_fake_acc = s->sum.d_fake_acc / n;
    const double now = lg_time_s();
    p.eta_s = s->wall0 > 0 ? (double)(t->cfg->steps - p.step) * (now - s->wall0) / n : -1;
    s->wall0 = now;
    float lr, mom;
    lg_optim_schedule(&t->m->opt, floor(epoch), &lr, &mom);
    fprintf(s->log,
            "{\"level\":%d,\"size\":%d,\"step\":%lld,\"epoch\":%.4f,\"d_loss\":%.6g,\"g_loss\":%.6g,"
            "\"d_real_acc\":%.4f,\"d_fake_acc\":%.4f,\"img_per_s\":%.1f,\"lr\":%.6g,"
            "\"momentum\":%.6g}\n",
            k, t->m->level[k].size, (long long)p.step, epoch, p.stats.d_loss, p.stats.g_loss,
            p.stats.d_real_acc, p.stats.d_fake_acc, p.img_per_s, lr, mom);
    if (t->cfg->progress) t->cfg->progress(t->cfg->progress_ud, &p);
    memset(&s->sum, 0, sizeof s->sum);
    s->nsum = 0;
    s->t_sum = 0;
}

static lg_status step_slot(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    lg_level_stats st;
    double t0 = lg_time_s();
    LG_TRY(lg_batcher_next(s->data, s->x, s->y));
    double epoch = lg_batcher_epoch(s->data);
    lg_status e = lg_level_train_step(s->lv, s->x, t->m->nclasses ? s->y : NULL, t->batch,
                                      floor(epoch), &st);
    if (e == LG_ERR_NUMERIC) return stop_level(t, k);
    LG_TRY(e);
    s->t_sum += lg_time_s() - t0;
    s->sum.d_loss += st.d_loss, s->sum.g_loss += st.g_loss;
    s->sum.d_real_acc += st.d_real_acc, s->sum.d_fake_acc += st.d_fake_acc;
    s->nsum++;
    const int64_t step = lg_level_step_count(s->lv);
    const lg_train_cfg *cfg = t->cfg;
    const int last = step == cfg->steps;
    if (last || (cfg->log_every > 0 && step % cfg->log_every == 0)) log_line(t, k, epoch);
    if (!last && cfg->ckpt_every > 0 && step % cfg->ckpt_every == 0) LG_TRY(save_slot(t, k));
    if (s->failed) return LG_OK;
    if (last || (cfg->sample_every > 0 && step % cfg->sample_every == 0))
        LG_TRY(level_figure(t, k));
    return LG_OK;
}

static lg_status run(lg_trainer *t, unsigned mask) {
    const lg_train_cfg *cfg = t->cfg;
    for (;;) {
        int active = 0;
        int64_t common = -1; /* step all levels reached, for the model figure */
        for (int k = 0; k < t->m->levels; k++) {
            lg_slot *s = &t->slot[k];
            if (!(mask >> k & 1) || s->failed) continue;
            if (lg_level_step_count(s->lv) < cfg->steps) {
                active = 1;
                LG_TRY(step_slot(t, k));
            }
            int64_t st = lg_level_step_count(s->lv);
            common = common < 0 || st < common ? st : common;
        }
        if (!active) return LG_OK;
        if (cfg->sample_every > 0 && common > 0 && common % cfg->sample_every == 0 &&
            common < cfg->steps)
            LG_TRY(model_figure(t, common));
        if (cfg->stop && *cfg->stop) {
            for (int k = 0; k < t->m->levels; k++)
                if (mask >> k & 1 && !t->slot[k].failed) LG_TRY(save_slot(t, k));
            return lg_error(LG_ERR_INTERRUPTED, "interrupted: checkpoints saved in %s (resume "
                            "with --resume)", cfg->run_dir);
        }
    }
}

lg_status lg_train(const lg_model_desc *m, const lg_dataset *ds, const lg_train_cfg *cfg) {
    LG_CHECK(m && ds && cfg && cfg->run_dir, LG_ERR_ARG, "lg_train: NULL argument");
    LG_TRY(lg_model_desc_validate(m));
    LG_TRY(check_data(m, ds));
    LG_CHECK(cfg->steps >= 1, LG_ERR_ARG, "steps must be >= 1, got %lld", (long long)cfg->steps);
    lg_trainer t = {.m = m, .ds = ds, .cfg = cfg, .batch = cfg->batch ? cfg->batch : m->batch};
    LG_CHECK(t.batch >= 2 && t.batch % 2 == 0, LG_ERR_ARG,
             "batch must be even and >= 2 (half real, half generated), got %d", t.batch);
    unsigned all = (1u << m->levels) - 1, mask = cfg->levels_mask ? cfg->levels_mask : all;
    LG_CHECK(!(mask & ~all), LG_ERR_ARG, "model '%s' has levels 0 to %d only", m->name,
             m->levels - 1);
    char dir[4096];
    LG_TRY(make_dir(cfg->run_dir));
    snprintf(dir, sizeof dir, "%s/samples", cfg->run_dir);
    LG_TRY(make_dir(dir));
    lg_status st = LG_OK;
    for (int k = 0; k < m->levels && st == LG_OK; k++)
        if (mask >> k & 1) st = open_slot(&t, k);
    if (st == LG_OK) st = run(&t, mask);
    for (int k = 0; k < m->levels && st == LG_OK; k++)
        if (mask >> k & 1 && !t.slot[k].failed) st = save_slot(&t, k);
    if (st == LG_OK && mask == all && !t.nfailed) st = model_figure(&t, cfg->steps);
    if (st == LG_OK && t.nfailed)
        st = t.nfailed == 1 ? lg_error(LG_ERR_NUMERIC, "%s", t.failure)
                            : lg_error(LG_ERR_NUMERIC, "%s (and %d more levels stopped)",
                                       t.failure, t.nfailed - 1);
    for (int k = 0; k < m->levels; k++) close_slot(&t.slot[k]);
    return st;
}
