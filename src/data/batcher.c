/* Seeded minibatches. The state is (seed, epoch, cursor): epoch e's order
 * is a Fisher-Yates shuffle drawn from Philox stream e, and the crop of the
 * image at position p of epoch e comes from counter p of a second stream
 * family, so any state can be re-entered without replaying earlier draws.
 * Everything is allocated in lg_batcher_new; next() allocates nothing. */
#include <stdlib.h>

#include "core/check.h"
#include "lapgan/data.h"

#define CROP_STREAM_BASE 0x8000000000000000ull

struct lg_batcher {
    const lg_dataset *ds;
    int batch, crop;
    int flip, shift; /* augmentation; 0 off */
    uint64_t seed, epoch, cursor;
    int *perm; /* [ds->n], order of the current epoch */
    float value[256]; /* px / 127.5 - 1 */
};

static void shuffle_epoch(lg_batcher *b) {
    for (int i = 0; i < b->ds->n; i++) b->perm[i] = i;
    lg_rng r;
    lg_rng_init(&r, b->seed, b->epoch);
    lg_rng_shuffle(&r, b->perm, (size_t)b->ds->n);
}

lg_status lg_batcher_new(lg_batcher **out, const lg_dataset *ds, int batch, int crop,
                         uint64_t seed) {
    LG_CHECK(out && ds, LG_ERR_ARG, "lg_batcher_new: NULL argument");
    *out = NULL;
    LG_CHECK(ds->n > 0 && ds->pixels, LG_ERR_ARG, "%s: empty data set", ds->source);
    LG_CHECK(batch > 0, LG_ERR_ARG, "batch size must be positive, got %d", batch);
    LG_CHECK(crop >= 0 && crop <= ds->h && crop <= ds->w, LG_ERR_ARG,
             "crop %d does not fit %dx%d images of %s", crop, ds->h, ds->w, ds->source);
    lg_batcher *b = calloc(1, sizeof *b);
    LG_CHECK(b, LG_ERR_NOMEM, "lg_batcher_new: out of memory");
    b->perm = malloc((size_t)ds->n * sizeof(int));
    if (!b->perm) {
        free(b);
        return lg_error(LG_ERR_NOMEM, "lg_batcher_new: out of memory for %d indices", ds->n);
    }
    b->ds = ds;
    b->batch = batch;
    b->crop = crop == ds->h && crop == ds->w ? 0 : crop;
    b->seed = seed;
    for (int v = 0; v < 256; v++) b->value[v] = v / 127.5f - 1.f;
    shuffle_epoch(b);
    *out = b;
    return LG_OK;
}

void lg_batcher_free(lg_batcher *b) {
    if (!b) return;
    free(b->perm);
    free(b);
}

lg_status lg_batcher_set_augment(lg_batcher *b, int flip, int shift) {
    LG_CHECK(b, LG_ERR_ARG, "lg_batcher_set_augment: NULL batcher");
    LG_CHECK(shift >= 0 && shift < b->ds->h && shift < b->ds->w && shift <= 0x7fff, LG_ERR_ARG,
             "shift %d does not fit %dx%d images of %s", shift, b->ds->h, b->ds->w,
             b->ds->source);
    b->flip = flip != 0;
    b->shift = shift;
    return LG_OK;
}

/* The augmented copy: output pixel (y, q) reads source row y0 + y + dy and
 * column x0 + (flip ? ow - 1 - q : q) + dx; outside the image it is 0, the
 * middle of [-1, 1]. */
static void copy_augmented(const lg_batcher *b, int idx, int y0, int x0, int oh, int ow,
                           int flip, int dy, int dx, float *x) {
    const lg_dataset *ds = b->ds;
    const uint8_t *src = ds->pixels + (size_t)idx * ds->c * ds->h * ds->w;
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

/* Copies image idx (window at y0,x0 of oh x ow) as floats in [-1, 1]. */
static void copy_image(const lg_batcher *b, int idx, int y0, int x0, int oh, int ow, float *x) {
    const lg_dataset *ds = b->ds;
    const uint8_t *src = ds->pixels + (size_t)idx * ds->c * ds->h * ds->w;
    for (int ch = 0; ch < ds->c; ch++)
        for (int y = 0; y < oh; y++) {
            const uint8_t *row = src + ((size_t)ch * ds->h + y0 + y) * ds->w + x0;
            float *dst = x + ((size_t)ch * oh + y) * ow;
            for (int q = 0; q < ow; q++) dst[q] = b->value[row[q]];
        }
}

lg_status lg_batcher_next(lg_batcher *b, float *x, int *labels) {
    LG_CHECK(b && x, LG_ERR_ARG, "lg_batcher_next: NULL argument");
    const lg_dataset *ds = b->ds;
    int oh = b->crop ? b->crop : ds->h, ow = b->crop ? b->crop : ds->w;
    size_t isz = (size_t)ds->c * oh * ow;
    for (int i = 0; i < b->batch; i++) {
        int idx = b->perm[b->cursor];
        int y0 = 0, x0 = 0;
        uint32_t r[4] = {0, 0, 0, 0};
        if (b->crop || b->flip || b->shift)
            lg_philox(b->seed, CROP_STREAM_BASE + b->epoch, b->cursor, r);
        if (b->crop) {
            y0 = (int)(r[0] % (uint32_t)(ds->h - oh + 1));
            x0 = (int)(r[1] % (uint32_t)(ds->w - ow + 1));
        }
        if (b->flip || b->shift) {
            /* r[2] and r[3] are unused by the crop, so turning augmentation
             * on leaves the crops of a run as they were. */
            uint32_t span = 2u * (uint32_t)b->shift + 1u;
            int dy = (int)((r[3] & 0xffffu) % span) - b->shift;
            int dx = (int)((r[3] >> 16) % span) - b->shift;
            copy_augmented(b, idx, y0, x0, oh, ow, b->flip && (r[2] & 1u), dy, dx,
                           x + (size_t)i * isz);
        } else {
            copy_image(b, idx, y0, x0, oh, ow, x + (size_t)i * isz);
        }
        if (labels) labels[i] = ds->labels ? ds->labels[idx] : -1;
        if (++b->cursor == (uint64_t)ds->n) {
            b->cursor = 0;
            b->epoch++;
            shuffle_epoch(b);
        }
    }
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
    b->cursor = cursor;
    if (epoch != b->epoch) {
        b->epoch = epoch;
        shuffle_epoch(b);
    }
    return LG_OK;
}

double lg_batcher_epoch(const lg_batcher *b) {
    return b ? (double)b->epoch + (double)b->cursor / b->ds->n : 0.0;
}
