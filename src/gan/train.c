/* The trainer: every selected level steps in turn on its own data stream,
 * logs, checkpoints atomically and writes sample grids. Levels share
 * nothing, so training them here together or in separate processes gives
 * the same weights.
 *
 * Several processes (src/dist/): lg_train_plan gives each rank its levels.
 * Ranks sharing a level each draw the whole batch from identical batchers,
 * train on their slice of it and sum gradients (level.c); the level's
 * first rank writes its log, figures and checkpoint, the others check that
 * they hold the same weights whenever it does. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"
#include "level_internal.h"
#include "rundir.h"

typedef struct {
    lg_level *lv;
    lg_batcher *data;
    float *x;   /* one minibatch of images */
    int *y;     /* its labels */
    uint64_t seed;
    int log_fd;   /* its JSONL log, open when log_open (the writer only) */
    int log_open;
    double t_sum; /* seconds in steps since the last log line */
    double wall0; /* wall clock at the last log line */
    lg_level_stats sum;
    int nsum;
    int64_t saved_step; /* step of its last good checkpoint, -1: none yet */
    int failed;         /* stopped on a numeric fault */
    lg_dist_comm *comm; /* the other ranks training this level (NULL: none) */
    int writer;         /* this rank writes the level's files */
    int has_best;       /* best-model selection: best criterion so far, and its step */
    double best_value;
    int64_t best_step;
} lg_slot;

typedef struct {
    const lg_model_desc *m;
    const lg_dataset *ds;
    const lg_train_cfg *cfg;
    int batch;
    int nfailed;
    char failure[8400]; /* the first stopped level's message */
    lg_slot slot[LG_PYR_MAX_LEVELS];
    lg_dist_comm *comm;   /* this rank's level group, when it shares one */
    lg_level *shared;     /* that level */
    lg_rundir *rd;        /* the run directory's level locks this process holds */
    float *val_x;         /* the validation images for lg_level_validate ([-1, 1]) */
    int *val_y, val_n;
} lg_trainer;

/* Each level draws its own minibatches: a seed per level. */
static uint64_t data_seed(uint64_t seed, int k) {
    return seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(k + 1));
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
    struct stat sb;
    if (lstat(path, &sb) != 0) return LG_OK; /* no log yet: nothing to keep */
    int fd; /* lg_open_regular: a FIFO here used to block the resume in open() */
    LG_TRY(lg_open_regular(path, &fd, NULL));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory", path);
    }
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

/* A resumed level keeps its validation split (the images it never saw
 * must stay unseen) and its best criterion so far. */
static lg_status resume_val(const lg_trainer *t, lg_slot *s, const lg_level_extra *ex,
                            const char *path) {
    const int64_t now = t->cfg->val ? t->cfg->val->n : 0;
    LG_CHECK(ex->val_images < 0 || ex->val_images == now, LG_ERR_ARG,
             "%s: the run holds out the last %lld images for validation, this resume %lld "
             "(give --val %lld)", path, (long long)ex->val_images, (long long)now,
             (long long)ex->val_images);
    s->has_best = ex->has_best;
    s->best_value = ex->best_value;
    s->best_step = ex->best_step;
    return LG_OK;
}

/* A resume continues the run the checkpoint holds: same seed, same data. */
static lg_status check_resumed(const lg_trainer *t, const lg_level_extra *ex, const char *path) {
    LG_CHECK(ex->seed == t->cfg->seed, LG_ERR_IO,
             "%s: seed is %llu in the checkpoint, %llu given (a resumed run keeps its settings)",
             path, (unsigned long long)ex->seed, (unsigned long long)t->cfg->seed);
    LG_CHECK(!ex->data_source[0] || !strcmp(ex->data_source, t->ds->source), LG_ERR_IO,
             "%s: data source is '%s' in the checkpoint, '%s' given (a resumed run keeps its "
             "settings)", path, ex->data_source, t->ds->source);
    return LG_OK;
}

static lg_status open_slot(lg_trainer *t, int k, lg_dist_comm *comm) {
    const lg_train_cfg *cfg = t->cfg;
    lg_slot *s = &t->slot[k];
    char path[4096];
    s->seed = cfg->seed;
    s->saved_step = -1;
    s->comm = comm;
    s->writer = lg_dist_comm_rank(comm) == 0;
    LG_TRY(lg_level_new(&s->lv, t->m, k, t->batch, cfg->seed, cfg->backend));
    LG_TRY(lg_level_share(s->lv, comm, cfg->stop));
    lg_level_extra ex = {0};
    lg_level_path(path, sizeof path, cfg->run_dir, k);
    /* lg_rundir_prepare checked that every level to resume has its file. */
    const int resumed = cfg->resume;
    if (resumed) {
        LG_TRY(lg_level_load(s->lv, &ex, path));
        LG_TRY(check_resumed(t, &ex, path));
        s->saved_step = lg_level_step_count(s->lv);
        LG_TRY(resume_val(t, s, &ex, path));
    }
    LG_TRY(lg_batcher_new(&s->data, t->ds, t->batch, t->m->crop, data_seed(s->seed, k)));
    LG_TRY(lg_batcher_set_augment(s->data, t->m->flip, 0));
    if (resumed) LG_TRY(lg_batcher_set_state(s->data, ex.data_epoch, ex.data_cursor));
    const int s0 = t->m->level[0].size;
    s->x = lg_alloc_floats((size_t)t->batch * t->m->c * s0 * s0);
    s->y = lg_alloc(sizeof(int) * (size_t)t->batch);
    if (!s->x || !s->y) return LG_ERR_NOMEM;
    s->wall0 = lg_time_s();
    if (!s->writer) return LG_OK;
    snprintf(path, sizeof path, "%s/log_level_%d.jsonl", cfg->run_dir, k);
    if (resumed) LG_TRY(trim_log(path, lg_level_step_count(s->lv)));
    s->log_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                              (resumed ? O_APPEND : O_TRUNC), 0644);
    LG_CHECK(s->log_fd >= 0, LG_ERR_IO, "%s: cannot open for writing (%s)", path, strerror(errno));
    s->log_open = 1;
    return LG_OK;
}

static void close_slot(lg_slot *s) {
    lg_level_free(s->lv);
    lg_batcher_free(s->data);
    lg_free(s->x);
    lg_free(s->y);
    if (s->log_open) close(s->log_fd);
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
    if (s->writer && t->cfg->level_stopped)
        t->cfg->level_stopped(t->cfg->progress_ud, k, lg_level_step_count(s->lv), msg);
    return LG_OK;
}

/* FNV-1a over the bytes of n floats. */
static uint64_t hash_floats(uint64_t h, const float *x, size_t n) {
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

/* Before level k's group checkpoints: batch-norm running statistics (each
 * rank's from its own rows) become the group's mean, and every rank must
 * hold the same weights and optimiser state, or the sums went wrong. */
static lg_status agree(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    const int R = lg_dist_comm_size(s->comm);
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < LG_PART_COUNT; i++) {
        lg_part *p = &s->lv->part[i];
        if (!p->net) continue;
        size_t n;
        float *b = lg_net_buffers(p->net, &n);
        LG_TRY(lg_dist_allreduce_sum(s->comm, b, n));
        for (size_t j = 0; j < n; j++) b[j] /= (float)R;
        const float *w = lg_net_params(p->net, &n);
        h = hash_floats(h, w, n);
        w = lg_optim_state(p->opt, &n);
        h = hash_floats(h, w, n);
    }
    int same;
    LG_TRY(lg_dist_all_same(s->comm, h, &same));
    LG_CHECK(same, LG_ERR_IO, "level %d step %lld: the %d ranks training it hold different "
             "weights (their gradient sums differ)", k, (long long)lg_level_step_count(s->lv), R);
    return LG_OK;
}

/* What a checkpoint of slot s records beside the weights. */
static void slot_extra(const lg_trainer *t, const lg_slot *s, lg_level_extra *ex) {
    *ex = (lg_level_extra){.seed = s->seed, .val_images = t->cfg->val ? t->cfg->val->n : 0,
                           .has_best = s->has_best, .best_value = s->best_value,
                           .best_step = s->best_step};
    lg_batcher_get_state(s->data, &ex->data_epoch, &ex->data_cursor);
    snprintf(ex->data_source, sizeof ex->data_source, "%s", t->ds->source);
}

static lg_status save_slot(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    lg_level_extra ex;
    slot_extra(t, s, &ex);
    char path[4096];
    lg_level_path(path, sizeof path, t->cfg->run_dir, k);
    if (s->comm) LG_TRY(agree(t, k));
    /* The log holds every line up to the checkpoint before it is written. */
    LG_CHECK(!s->log_open || fdatasync(s->log_fd) == 0 || errno == EINVAL, LG_ERR_IO,
             "%s/log_level_%d.jsonl: sync failed (%s)", t->cfg->run_dir, k, strerror(errno));
    lg_status st = s->writer ? lg_level_save(s->lv, &ex, path) : lg_level_check_finite(s->lv, path);
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
    /* The last step held lv->nloc images here: never read past them. */
    const int n = lv->nloc < 8 ? lv->nloc : 8, c = t->m->c, sz = lv->s;
    const size_t img = lv->img;
    float *buf = lg_alloc_floats(3 * n * img);
    if (!buf) return LG_ERR_NOMEM;
    lg_rng r;
    lg_rng_init(&r, s->seed, 777);
    const float *coarse = k < lv->K ? lv->chain[k + 1] : NULL;
    const float *real = k == 0 ? lv->cur_x : lv->chain[k];
    lg_status st = lg_level_generate(lv, coarse, lv->cur_y ? lv->cur_y : s->y, n, &r, buf,
                                     buf + 2 * n * img, buf + n * img);
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

/* The whole model's samples from mod. */
static lg_status draw_model(lg_trainer *t, int64_t step, lg_model *mod) {
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
    return st;
}

/* The whole model's samples, when every level trains in this process. */
static lg_status model_figure(lg_trainer *t, int64_t step) {
    lg_level *lv[LG_PYR_MAX_LEVELS];
    for (int k = 0; k < t->m->levels; k++)
        if (!(lv[k] = t->slot[k].lv) || t->slot[k].failed) return LG_OK;
    lg_model *mod;
    LG_TRY(lg_model_wrap(&mod, t->m, lv));
    lg_status st = draw_model(t, step, mod);
    lg_model_free(mod);
    return st;
}

/* Rank 0's final samples when the levels trained in other processes: from
 * their checkpoints, when every one can be read here (a run directory on a
 * file system every machine shares). */
static lg_status model_figure_from_files(lg_trainer *t) {
    char path[4096];
    for (int k = 0; k < t->m->levels; k++) {
        lg_level_path(path, sizeof path, t->cfg->run_dir, k);
        if (access(path, R_OK) != 0) return LG_OK;
    }
    lg_model *mod;
    LG_TRY(lg_model_load(&mod, t->cfg->run_dir, t->cfg->backend));
    lg_status st = draw_model(t, t->cfg->steps, mod);
    lg_model_free(mod);
    return st;
}

/* Appends one record to level k's log with a single write. A failed or
 * short write (a full disk) cuts the file back to where the record began,
 * so no torn line is left, and stops training: nothing after it would be
 * logged, and the last checkpoint stays the one to resume from. */
static lg_status log_record(lg_trainer *t, int k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static lg_status log_record(lg_trainer *t, int k, const char *fmt, ...) {
    lg_slot *s = &t->slot[k];
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    LG_CHECK(n > 0 && n < (int)sizeof line, LG_ERR_ARG, "level %d: log record too long", k);
    struct stat sb;
    const off_t start = fstat(s->log_fd, &sb) == 0 ? sb.st_size : -1;
    ssize_t done = 0, w = 0;
    while (done < n && ((w = write(s->log_fd, line + done, (size_t)(n - done))) > 0 ||
                        (w < 0 && errno == EINTR)))
        done += w > 0 ? w : 0;
    if (done == n) return LG_OK;
    const int e = w < 0 ? errno : ENOSPC; /* no progress: the disk is full */
    if (start >= 0 && ftruncate(s->log_fd, start) != 0) (void)0; /* the error below says enough */
    return lg_error(LG_ERR_IO, "%s/log_level_%d.jsonl: write failed at step %lld (%s): training "
                    "stopped; level %d's last checkpoint (step %lld) is kept", t->cfg->run_dir, k,
                    (long long)lg_level_step_count(s->lv), strerror(e), k,
                    (long long)s->saved_step);
}

static lg_status log_line(lg_trainer *t, int k, double epoch) {
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
    LG_TRY(log_record(t, k,
            "{\"level\":%d,\"size\":%d,\"step\":%lld,\"epoch\":%.4f,\"d_loss\":%.6g,\"g_loss\":%.6g,"
            "\"d_real_acc\":%.4f,\"d_fake_acc\":%.4f,\"img_per_s\":%.1f,\"lr\":%.6g,"
            "\"momentum\":%.6g}\n",
            k, t->m->level[k].size, (long long)p.step, epoch, p.stats.d_loss, p.stats.g_loss,
            p.stats.d_real_acc, p.stats.d_fake_acc, p.img_per_s, lr, mom));
    if (t->cfg->progress) t->cfg->progress(t->cfg->progress_ud, &p);
    memset(&s->sum, 0, sizeof s->sum);
    s->nsum = 0;
    s->t_sum = 0;
    return LG_OK;
}

/* Best-model selection: scores the validation split and, when it beats
 * the best so far, writes the weights to run_dir/best/level_<k>.safetensors
 * (atomically, like the latest). One JSONL record per check. */
static lg_status validate_slot(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    const lg_train_cfg *cfg = t->cfg;
    lg_level_val v;
    const int64_t step = lg_level_step_count(s->lv);
    lg_status st = lg_level_validate(s->lv, t->val_x, t->m->nclasses ? t->val_y : NULL, t->val_n,
                                     cfg->val_samples, s->seed ^ 0x7A1DA7Eull, &v);
    if (st == LG_ERR_NUMERIC) return stop_level(t, k);
    LG_TRY(st);
    const int better = !s->has_best || v.parzen > s->best_value;
    if (better) {
        char path[4096];
        lg_level_extra ex;
        s->has_best = 1, s->best_value = v.parzen, s->best_step = step;
        snprintf(path, sizeof path, "%s/best", cfg->run_dir);
        LG_TRY(lg_make_dirs(path));
        slot_extra(t, s, &ex);
        snprintf(path, sizeof path, "%s/best/level_%d.safetensors", cfg->run_dir, k);
        st = lg_level_save(s->lv, &ex, path);
        if (st == LG_ERR_NUMERIC) return stop_level(t, k);
        LG_TRY(st);
    }
    LG_TRY(log_record(t, k,
            "{\"level\":%d,\"size\":%d,\"step\":%lld,\"val_parzen\":%.6f,\"val_sigma\":%.6g,"
            "\"val_min_dist\":%.6f,\"val_images\":%d,\"val_samples\":%d,\"val_seconds\":%.2f,"
            "\"best_step\":%lld,\"best_parzen\":%.6f}\n",
            k, t->m->level[k].size, (long long)step, v.parzen, v.sigma, v.min_dist, v.images,
            v.samples, v.seconds, (long long)s->best_step, s->best_value));
    if (cfg->validated) cfg->validated(cfg->progress_ud, k, step, &v, better);
    return LG_OK;
}

static lg_status step_slot(lg_trainer *t, int k) {
    lg_slot *s = &t->slot[k];
    lg_level_stats st;
    double t0 = lg_time_s();
    LG_TRY(lg_batcher_next(s->data, s->x, s->y));
    /* The schedule's epoch counts passes of the real half (the authors'). */
    const double before = lg_train_epoch(lg_level_step_count(s->lv), t->ds->n, t->batch);
    lg_status e = lg_level_train_step(s->lv, s->x, t->m->nclasses ? s->y : NULL, t->batch,
                                      floor(before), &st);
    if (e == LG_ERR_NUMERIC) return stop_level(t, k);
    LG_TRY(e);
    s->t_sum += lg_time_s() - t0;
    s->sum.d_loss += st.d_loss, s->sum.g_loss += st.g_loss;
    s->sum.d_real_acc += st.d_real_acc, s->sum.d_fake_acc += st.d_fake_acc;
    s->nsum++;
    const int64_t step = lg_level_step_count(s->lv);
    const lg_train_cfg *cfg = t->cfg;
    const int last = step == cfg->steps;
    if (s->writer && (last || (cfg->log_every > 0 && step % cfg->log_every == 0)))
        LG_TRY(log_line(t, k, lg_train_epoch(step, t->ds->n, t->batch)));
    if (!last && cfg->ckpt_every > 0 && step % cfg->ckpt_every == 0) LG_TRY(save_slot(t, k));
    if (s->failed || !s->writer) return LG_OK;
    if (last || (cfg->sample_every > 0 && step % cfg->sample_every == 0))
        LG_TRY(level_figure(t, k));
    if (t->val_n && cfg->val_every > 0 && step % cfg->val_every == 0)
        LG_TRY(validate_slot(t, k));
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
        lg_dist_poll();
        if (!active) return LG_OK;
        if (cfg->sample_every > 0 && common > 0 && common % cfg->sample_every == 0 &&
            common < cfg->steps)
            LG_TRY(model_figure(t, common));
        /* A shared level stops where its group voted to; a level of its own
         * as soon as this process is asked to. */
        int stop = t->shared ? t->shared->stop_vote : cfg->stop && *cfg->stop;
        if (stop) {
            for (int k = 0; k < t->m->levels; k++)
                if (mask >> k & 1 && !t->slot[k].failed) LG_TRY(save_slot(t, k));
            return lg_error(LG_ERR_INTERRUPTED, "interrupted: checkpoints saved in %s (resume "
                            "with --resume)", cfg->run_dir);
        }
    }
}

/* Work of one training step per sample: G runs on 1.5 batches (the
 * generated half of D's, then G's own), D on two; backward costs the same
 * multiple of forward everywhere. */
static lg_status level_cost(const lg_model_desc *m, int k, double *cost) {
    lg_level *lv;
    LG_TRY(lg_level_new(&lv, m, k, 2, 1, LG_BACKEND_CPU));
    *cost = 0;
    for (int i = 0; i < LG_PART_COUNT; i++)
        if (lv->part[i].net)
            *cost += (i == LG_PART_G || i == LG_PART_GL ? 1.5 : 2.0) *
                     lg_net_forward_flops(lv->part[i].net);
    lg_level_free(lv);
    return LG_OK;
}

int64_t lg_train_steps_per_epoch(int64_t n, int batch) {
    const int64_t half = batch >= 2 ? batch / 2 : 1;
    return n > 0 ? (n + half - 1) / half : 1;
}

double lg_train_epoch(int64_t step, int64_t n, int batch) {
    return (double)step / (double)lg_train_steps_per_epoch(n, batch);
}

lg_status lg_train_plan(const lg_model_desc *m, unsigned mask, int nranks, int batch,
                        int first[LG_PYR_MAX_LEVELS], int count[LG_PYR_MAX_LEVELS]) {
    LG_CHECK(m && first && count, LG_ERR_ARG, "lg_train_plan: NULL argument");
    LG_CHECK(nranks >= 1, LG_ERR_ARG, "lg_train_plan: %d processes", nranks);
    unsigned all = (1u << m->levels) - 1;
    mask = mask ? mask : all;
    LG_CHECK(!(mask & ~all), LG_ERR_ARG, "model '%s' has levels 0 to %d only", m->name,
             m->levels - 1);
    double cost[LG_PYR_MAX_LEVELS] = {0}, load[LG_PYR_MAX_LEVELS] = {0};
    int L = 0;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) first[k] = count[k] = 0;
    for (int k = 0; k < m->levels; k++)
        if (mask >> k & 1) {
            L++;
            if (nranks > 1) LG_TRY(level_cost(m, k, &cost[k]));
        }
    if (nranks <= L) {
        /* Most expensive level first, each to the least loaded rank. */
        for (int done = 0; done < L; done++) {
            int k = -1, r = 0;
            for (int j = 0; j < m->levels; j++)
                if (mask >> j & 1 && !count[j] && (k < 0 || cost[j] > cost[k])) k = j;
            for (int q = 1; q < nranks; q++)
                if (load[q] < load[r]) r = q;
            first[k] = r;
            count[k] = 1;
            load[r] += cost[k];
        }
        return LG_OK;
    }
    /* One rank each, then every extra rank to the level with the most work
     * per rank; a rank needs a real and a generated row of each batch. */
    for (int k = 0; k < m->levels; k++) count[k] = mask >> k & 1;
    for (int extra = nranks - L; extra > 0; extra--) {
        int k = -1;
        for (int j = 0; j < m->levels; j++)
            if (count[j] && count[j] < batch / 2 &&
                (k < 0 || cost[j] / count[j] > cost[k] / count[k]))
                k = j;
        LG_CHECK(k >= 0, LG_ERR_ARG, "%d processes are more than %d levels with a batch of %d "
                 "can use (at most %d per level)", nranks, L, batch, batch / 2);
        count[k]++;
    }
    for (int k = 0, r = 0; k < m->levels; k++) {
        first[k] = r;
        r += count[k];
    }
    return LG_OK;
}

/* This rank's levels (bit k) under the plan, and its level group. */
static lg_status my_levels(lg_trainer *t, unsigned mask, unsigned *mine, lg_dist_comm **comm) {
    const int R = lg_dist_size(), me = lg_dist_rank();
    int first[LG_PYR_MAX_LEVELS], count[LG_PYR_MAX_LEVELS], L = 0;
    *mine = 0;
    *comm = NULL;
    if (R == 1) {
        *mine = mask;
        return LG_OK;
    }
    LG_TRY(lg_train_plan(t->m, mask, R, t->batch, first, count));
    for (int k = 0; k < t->m->levels; k++) {
        L += count[k] > 0;
        if (count[k] && me >= first[k] && me < first[k] + count[k]) *mine |= 1u << k;
    }
    /* More ranks than levels: each rank has one level, shared in a group. */
    if (R > L) return lg_dist_split(__builtin_ctz(*mine), comm);
    return LG_OK;
}

/* The first val_images of the validation split as floats in [-1, 1], each
 * the centre s0 x s0 window (crop presets train on random windows). */
static lg_status load_val(lg_trainer *t) {
    const lg_dataset *v = t->cfg->val;
    if (!v || t->cfg->val_every <= 0) return LG_OK;
    const int s0 = t->m->level[0].size;
    LG_CHECK(v->c == t->m->c && v->h >= s0 && v->w >= s0, LG_ERR_ARG,
             "%s: images are %dx%dx%d, the model needs %dx%dx%d", v->source, v->c, v->h, v->w,
             t->m->c, s0, s0);
    LG_CHECK(t->cfg->val_images >= 1 && t->cfg->val_samples >= 2, LG_ERR_ARG,
             "validation: %d images and %d samples each (need >= 1 and >= 2)",
             t->cfg->val_images, t->cfg->val_samples);
    const int n = v->n < t->cfg->val_images ? v->n : t->cfg->val_images;
    const int oy = (v->h - s0) / 2, ox = (v->w - s0) / 2;
    const size_t d = (size_t)v->c * s0 * s0;
    t->val_x = lg_alloc_floats((size_t)n * d);
    t->val_y = lg_alloc(sizeof(int) * (size_t)n);
    uint8_t *buf = malloc(lg_dataset_image_bytes(v));
    LG_CHECK(t->val_x && t->val_y && buf, LG_ERR_NOMEM, "validation: out of memory for %d images",
             n);
    for (int i = 0; i < n; i++) {
        const uint8_t *src;
        lg_status st = lg_dataset_image(v, i, buf, &src);
        if (st != LG_OK) {
            free(buf);
            return st;
        }
        float *dst = t->val_x + (size_t)i * d;
        for (int ch = 0; ch < v->c; ch++)
            for (int y = 0; y < s0; y++)
                for (int x = 0; x < s0; x++)
                    *dst++ = src[((size_t)ch * v->h + y + oy) * v->w + x + ox] / 127.5f - 1.f;
        t->val_y[i] = v->labels ? v->labels[i] : -1;
    }
    free(buf);
    t->val_n = n;
    return LG_OK;
}

/* Rank 0 prepares the run directory (the checks, --force, run.json) holding
 * the locks of every level the job trains; then each level's writing rank
 * takes its lock (one process keeps the locks it prepared with). */
static lg_status own_levels(lg_trainer *t, unsigned mask, unsigned mine) {
    LG_TRY(lg_rundir_new(&t->rd, t->cfg->run_dir));
    const int R = lg_dist_size();
    if (lg_dist_rank() == 0) LG_TRY(lg_rundir_prepare(t->rd, t->m, t->ds, t->cfg, mask, R == 1));
    if (R == 1) return LG_OK;
    double none = 0;
    LG_TRY(lg_dist_world_sum(&none)); /* the directory is ready before any rank writes in it */
    for (int k = 0; k < t->m->levels; k++)
        if (mine >> k & 1 && lg_dist_comm_rank(t->comm) == 0) LG_TRY(lg_rundir_lock(t->rd, k));
    return LG_OK;
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
    unsigned mine;
    LG_TRY(my_levels(&t, mask, &mine, &t.comm));
    LG_TRY(load_val(&t));
    lg_status st = own_levels(&t, mask, mine);
    for (int k = 0; k < m->levels && st == LG_OK; k++)
        if (mine >> k & 1) st = open_slot(&t, k, t.comm);
    /* A level has a checkpoint from its first moment: --resume finds every
     * level that started, and the last good checkpoint of a level that
     * fails early is its start. */
    for (int k = 0; k < m->levels && st == LG_OK && !cfg->resume; k++)
        if (mine >> k & 1) st = save_slot(&t, k);
    if (st == LG_OK && t.comm) t.shared = t.slot[__builtin_ctz(mine)].lv;
    if (st == LG_OK) st = run(&t, mine);
    for (int k = 0; k < m->levels && st == LG_OK; k++)
        if (mine >> k & 1 && !t.slot[k].failed) st = save_slot(&t, k);
    /* Every rank that stopped cleanly meets the others here: rank 0 then
     * knows whether every level finished. */
    double failed = t.nfailed;
    if (st == LG_OK || st == LG_ERR_INTERRUPTED) {
        lg_status w = lg_dist_world_sum(&failed);
        if (st == LG_OK) st = w;
    }
    if (st == LG_OK && mask == all && !failed && lg_dist_rank() == 0)
        st = mine == all ? model_figure(&t, cfg->steps) : model_figure_from_files(&t);
    if (st == LG_OK && t.nfailed)
        st = t.nfailed == 1 ? lg_error(LG_ERR_NUMERIC, "%s", t.failure)
                            : lg_error(LG_ERR_NUMERIC, "%s (and %d more levels stopped)",
                                       t.failure, t.nfailed - 1);
    for (int k = 0; k < m->levels; k++) close_slot(&t.slot[k]);
    lg_rundir_free(t.rd);
    lg_dist_comm_free(t.comm);
    lg_free(t.val_x);
    lg_free(t.val_y);
    return st;
}
