/* Seeded minibatches. The state is (seed, epoch, cursor): epoch e's order
 * is a Fisher-Yates shuffle drawn from Philox stream e, and the crop of the
 * image at position p of epoch e comes from counter p of a second stream
 * family, so any state can be re-entered without replaying earlier draws.
 *
 * A batch is a pure function of the state, which is what makes prefetching
 * safe: for a streamed data set a worker thread decodes the batch of the
 * next state while the caller trains on this one, and next() hands it over
 * (or, after set_state, waits for the batch of the new state). The bits are
 * the same with or without the worker. Everything is allocated in
 * lg_batcher_new; next() allocates nothing. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/data.h"

#define CROP_STREAM_BASE 0x8000000000000000ull

/* The shuffled order of one epoch (the producer's: the caller's thread for a
 * set in memory, the worker's for a streamed one). */
typedef struct {
    int *perm;
    uint64_t epoch; /* whose order perm holds */
} order;

typedef enum { JOB_NONE = 0, JOB_PENDING, JOB_RUNNING, JOB_DONE } job_state;

/* The prefetch worker and its one batch: buffers filled for (epoch, cursor). */
typedef struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int quit;
    job_state state;
    uint64_t epoch, cursor;
    float *x;
    int *labels;
    lg_status status;
    char msg[1024];
} prefetch;

struct lg_batcher {
    const lg_dataset *ds;
    int batch, crop;
    int flip, shift; /* augmentation; 0 off */
    uint64_t seed, epoch, cursor;
    order ord;
    uint8_t *scratch; /* one decoded image of a streamed set */
    prefetch *pf;     /* streamed sets only */
    float value[256]; /* px / 127.5 - 1 */
};

static void shuffle_to(const lg_batcher *b, order *o, uint64_t epoch) {
    for (int i = 0; i < b->ds->n; i++) o->perm[i] = i;
    lg_rng r;
    lg_rng_init(&r, b->seed, epoch);
    lg_rng_shuffle(&r, o->perm, (size_t)b->ds->n);
    o->epoch = epoch;
}

static int out_h(const lg_batcher *b) { return b->crop ? b->crop : b->ds->h; }
static int out_w(const lg_batcher *b) { return b->crop ? b->crop : b->ds->w; }
static size_t out_floats(const lg_batcher *b) {
    return (size_t)b->batch * b->ds->c * out_h(b) * out_w(b);
}

/* The augmented copy: output pixel (y, q) reads source row y0 + y + dy and
 * column x0 + (flip ? ow - 1 - q : q) + dx; outside the image it is 0, the
 * middle of [-1, 1]. */
static void copy_augmented(const lg_batcher *b, const uint8_t *src, int y0, int x0, int oh,
                           int ow, int flip, int dy, int dx, float *x) {
    const lg_dataset *ds = b->ds;
    for (int ch = 0; ch < ds->c; ch++)
        for (int y = 0; y < oh; y++) {
            int sy = y0 + y + dy;
            float *dst = x + ((size_t)ch * oh + y) * ow;
            if (sy < 0 || sy >= ds->h) {
                for (int q = 0; q < ow; q++) dst[q] = 0.f;
                continue;
            }
            const uint8_t *row = src + ((size_t)ch * ds->h + sy) * ds->w;
            for (int q = 0; q < ow; q++) {
                int sx = x0 + (flip ? ow - 1 - q : q) + dx;
                dst[q] = sx >= 0 && sx < ds->w ? b->value[row[sx]] : 0.f;
            }
        }
}

/* Copies the oh x ow window at y0,x0 of src as floats in [-1, 1]. */
static void copy_image(const lg_batcher *b, const uint8_t *src, int y0, int x0, int oh, int ow,
                       float *x) {
    const lg_dataset *ds = b->ds;
    for (int ch = 0; ch < ds->c; ch++)
        for (int y = 0; y < oh; y++) {
            const uint8_t *row = src + ((size_t)ch * ds->h + y0 + y) * ds->w + x0;
            float *dst = x + ((size_t)ch * oh + y) * ow;
            for (int q = 0; q < ow; q++) dst[q] = b->value[row[q]];
        }
}

/* The image at position cursor of epoch (idx in the data set) into x. */
static lg_status fill_one(const lg_batcher *b, int idx, uint64_t epoch, uint64_t cursor,
                          uint8_t *scratch, float *x) {
    const lg_dataset *ds = b->ds;
    const int oh = out_h(b), ow = out_w(b);
    const uint8_t *src;
    LG_TRY(lg_dataset_image(ds, idx, scratch, &src));
    int y0 = 0, x0 = 0;
    uint32_t r[4] = {0, 0, 0, 0};
    if (b->crop || b->flip || b->shift) lg_philox(b->seed, CROP_STREAM_BASE + epoch, cursor, r);
    if (b->crop) {
        y0 = (int)(r[0] % (uint32_t)(ds->h - oh + 1));
        x0 = (int)(r[1] % (uint32_t)(ds->w - ow + 1));
    }
    if (b->flip || b->shift) {
        /* r[2] and r[3] are unused by the crop, so turning augmentation on
         * leaves the crops of a run as they were. */
        uint32_t span = 2u * (uint32_t)b->shift + 1u;
        int dy = (int)((r[3] & 0xffffu) % span) - b->shift;
        int dx = (int)((r[3] >> 16) % span) - b->shift;
        copy_augmented(b, src, y0, x0, oh, ow, b->flip && (r[2] & 1u), dy, dx, x);
    } else {
        copy_image(b, src, y0, x0, oh, ow, x);
    }
    return LG_OK;
}

/* The batch that starts at state (epoch, cursor), with o's order. */
static lg_status fill_batch(const lg_batcher *b, order *o, uint64_t epoch, uint64_t cursor,
                            uint8_t *scratch, float *x, int *labels) {
    const lg_dataset *ds = b->ds;
    const size_t isz = (size_t)ds->c * out_h(b) * out_w(b);
    for (int i = 0; i < b->batch; i++) {
        if (o->epoch != epoch) shuffle_to(b, o, epoch);
        const int idx = o->perm[cursor];
        LG_TRY(fill_one(b, idx, epoch, cursor, scratch, x + (size_t)i * isz));
        if (labels) labels[i] = ds->labels ? ds->labels[idx] : -1;
        if (++cursor == (uint64_t)ds->n) {
            cursor = 0;
            epoch++;
        }
    }
    return LG_OK;
}

/* The state one batch on. */
static void advance(const lg_batcher *b, uint64_t *epoch, uint64_t *cursor) {
    const uint64_t n = (uint64_t)b->ds->n, at = *cursor + (uint64_t)b->batch;
    *epoch += at / n;
    *cursor = at % n;
}

/* ---- the prefetch worker ------------------------------------------------ */

static void *worker(void *arg) {
    lg_batcher *b = arg;
    prefetch *p = b->pf;
    /* Decoding (and any resize in it) runs on this thread alone: an OpenMP
     * region here would start a second team beside the training's. */
    omp_set_num_threads(1);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->state != JOB_PENDING) pthread_cond_wait(&p->cond, &p->lock);
        if (p->quit) break;
        p->state = JOB_RUNNING;
        const uint64_t e = p->epoch, c = p->cursor;
        pthread_mutex_unlock(&p->lock);
        lg_status st = fill_batch(b, &b->ord, e, c, b->scratch, p->x, p->labels);
        pthread_mutex_lock(&p->lock);
        p->status = st;
        if (st != LG_OK) snprintf(p->msg, sizeof p->msg, "%s", lg_errmsg());
        p->state = JOB_DONE;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Waits (lock held) until no batch is being made. */
static void wait_idle(prefetch *p) {
    while (p->state == JOB_PENDING || p->state == JOB_RUNNING)
        pthread_cond_wait(&p->cond, &p->lock);
}

/* Asks (lock held) for the batch of state (epoch, cursor). */
static void post(prefetch *p, uint64_t epoch, uint64_t cursor) {
    p->epoch = epoch;
    p->cursor = cursor;
    p->state = JOB_PENDING;
    pthread_cond_broadcast(&p->cond);
}

static lg_status prefetch_new(lg_batcher *b) {
    prefetch *p = calloc(1, sizeof *p);
    LG_CHECK(p, LG_ERR_NOMEM, "lg_batcher_new: out of memory");
    p->x = lg_alloc_floats(out_floats(b));
    p->labels = lg_alloc(sizeof(int) * (size_t)b->batch);
    if (!p->x || !p->labels) {
        lg_free(p->x);
        lg_free(p->labels);
        free(p);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory for the prefetched batch",
                        b->ds->source);
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    b->pf = p;
    if (pthread_create(&p->thread, NULL, worker, b) != 0) {
        b->pf = NULL;
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        lg_free(p->x);
        lg_free(p->labels);
        free(p);
        return lg_error(LG_ERR_IO, "%s: cannot start the prefetch thread", b->ds->source);
    }
    return LG_OK;
}

static void prefetch_free(prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    lg_free(p->x);
    lg_free(p->labels);
    free(p);
}

/* The batch of the current state from the worker, and the next one asked. */
static lg_status next_prefetched(lg_batcher *b, float *x, int *labels) {
    prefetch *p = b->pf;
    pthread_mutex_lock(&p->lock);
    if (p->state == JOB_NONE || p->epoch != b->epoch || p->cursor != b->cursor) {
        wait_idle(p);
        post(p, b->epoch, b->cursor);
    }
    while (p->state != JOB_DONE) pthread_cond_wait(&p->cond, &p->lock);
    lg_status st = p->status;
    if (st != LG_OK) {
        p->state = JOB_NONE;
        pthread_mutex_unlock(&p->lock);
        return lg_error(st, "%s", p->msg);
    }
    memcpy(x, p->x, sizeof(float) * out_floats(b));
    if (labels) memcpy(labels, p->labels, sizeof(int) * (size_t)b->batch);
    advance(b, &b->epoch, &b->cursor);
    post(p, b->epoch, b->cursor);
    pthread_mutex_unlock(&p->lock);
    return LG_OK;
}

/* ---- the iterator ------------------------------------------------------- */

lg_status lg_batcher_new(lg_batcher **out, const lg_dataset *ds, int batch, int crop,
                         uint64_t seed) {
    LG_CHECK(out && ds, LG_ERR_ARG, "lg_batcher_new: NULL argument");
    *out = NULL;
    LG_CHECK(ds->n > 0 && (ds->pixels || ds->stream), LG_ERR_ARG, "%s: empty data set",
             ds->source);
    LG_CHECK(batch > 0, LG_ERR_ARG, "batch size must be positive, got %d", batch);
    LG_CHECK(crop >= 0 && crop <= ds->h && crop <= ds->w, LG_ERR_ARG,
             "crop %d does not fit %dx%d images of %s", crop, ds->h, ds->w, ds->source);
    lg_batcher *b = calloc(1, sizeof *b);
    LG_CHECK(b, LG_ERR_NOMEM, "lg_batcher_new: out of memory");
    b->ds = ds;
    b->batch = batch;
    b->crop = crop == ds->h && crop == ds->w ? 0 : crop;
    b->seed = seed;
    for (int v = 0; v < 256; v++) b->value[v] = v / 127.5f - 1.f;
    b->ord.perm = malloc((size_t)ds->n * sizeof(int));
    b->scratch = ds->stream ? malloc(lg_dataset_image_bytes(ds)) : NULL;
    lg_status st = b->ord.perm && (!ds->stream || b->scratch)
                       ? LG_OK
                       : lg_error(LG_ERR_NOMEM, "lg_batcher_new: out of memory for %d indices",
                                  ds->n);
    if (st == LG_OK) shuffle_to(b, &b->ord, 0);
    if (st == LG_OK && ds->stream) st = prefetch_new(b);
    if (st != LG_OK) {
        lg_batcher_free(b);
        return st;
    }
    *out = b;
    return LG_OK;
}

void lg_batcher_free(lg_batcher *b) {
    if (!b) return;
    prefetch_free(b->pf);
    free(b->ord.perm);
    free(b->scratch);
    free(b);
}

/* Stops the worker's batch (it may read settings this call changes). */
static void quiesce(lg_batcher *b) {
    if (!b->pf) return;
    pthread_mutex_lock(&b->pf->lock);
    wait_idle(b->pf);
    b->pf->state = JOB_NONE;
    pthread_mutex_unlock(&b->pf->lock);
}

lg_status lg_batcher_set_augment(lg_batcher *b, int flip, int shift) {
    LG_CHECK(b, LG_ERR_ARG, "lg_batcher_set_augment: NULL batcher");
    LG_CHECK(shift >= 0 && shift < b->ds->h && shift < b->ds->w && shift <= 0x7fff, LG_ERR_ARG,
             "shift %d does not fit %dx%d images of %s", shift, b->ds->h, b->ds->w,
             b->ds->source);
    quiesce(b);
    b->flip = flip != 0;
    b->shift = shift;
    return LG_OK;
}

lg_status lg_batcher_next(lg_batcher *b, float *x, int *labels) {
    LG_CHECK(b && x, LG_ERR_ARG, "lg_batcher_next: NULL argument");
    if (b->pf) return next_prefetched(b, x, labels);
    LG_TRY(fill_batch(b, &b->ord, b->epoch, b->cursor, b->scratch, x, labels));
    advance(b, &b->epoch, &b->cursor);
    return LG_OK;
}

void lg_batcher_get_state(const lg_batcher *b, uint64_t *epoch, uint64_t *cursor) {
    if (epoch) *epoch = b ? b->epoch : 0;
    if (cursor) *cursor = b ? b->cursor : 0;
}

lg_status lg_batcher_set_state(lg_batcher *b, uint64_t epoch, uint64_t cursor) {
    LG_CHECK(b, LG_ERR_ARG, "lg_batcher_set_state: NULL batcher");
    LG_CHECK(cursor < (uint64_t)b->ds->n, LG_ERR_ARG,
             "batcher state: cursor %llu is past the %d images of %s",
             (unsigned long long)cursor, b->ds->n, b->ds->source);
    quiesce(b);
    b->epoch = epoch;
    b->cursor = cursor;
    return LG_OK;
}

double lg_batcher_epoch(const lg_batcher *b) {
    return b ? (double)b->epoch + (double)b->cursor / b->ds->n : 0.0;
}
