/* Streamed data sets: the pixels stay in their files and each image is
 * decoded when read, so a set's memory is its labels and its reader's
 * index, whatever its size. A reader is shared by the data sets made from
 * it (the training part and the validation split), counted so that the
 * last one to go closes it. Sets in memory answer the same calls from
 * ds->pixels, so callers never ask which kind they hold. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "data/dataset.h"

struct lg_stream {
    const lg_stream_ops *ops;
    void *ctx;
    atomic_int refs;
};

void lg_stream_release(lg_stream *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    s->ops->close(s->ctx);
    free(s);
}

/* A data set of n images without pixels: labels all -1. */
static lg_status alloc_header(lg_dataset **out, int n, int c, int h, int w, const char *source) {
    *out = NULL;
    LG_CHECK(n > 0 && c > 0 && h > 0 && w > 0, LG_ERR_FORMAT, "%s: empty data set (%d images)",
             source, n);
    lg_dataset *ds = calloc(1, sizeof *ds);
    LG_CHECK(ds, LG_ERR_NOMEM, "%s: out of memory", source);
    ds->labels = lg_alloc((size_t)n * sizeof(int));
    if (!ds->labels) {
        free(ds);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory for %d labels", source, n);
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    snprintf(ds->source, sizeof ds->source, "%s", source);
    for (int i = 0; i < n; i++) ds->labels[i] = -1;
    *out = ds;
    return LG_OK;
}

lg_status lg_ds_alloc_streamed(lg_dataset **out, int n, int c, int h, int w,
                               const char *source, const lg_stream_ops *ops, void *ctx) {
    *out = NULL;
    lg_stream *s = calloc(1, sizeof *s);
    lg_status st = s ? alloc_header(out, n, c, h, w, source)
                     : lg_error(LG_ERR_NOMEM, "%s: out of memory", source);
    if (st != LG_OK) {
        free(s);
        ops->close(ctx);
        return st;
    }
    s->ops = ops;
    s->ctx = ctx;
    atomic_init(&s->refs, 1);
    (*out)->stream = s;
    return LG_OK;
}

lg_status lg_ds_view(lg_dataset **out, const lg_dataset *ds, int first, int n,
                     const char *source) {
    LG_CHECK(ds->stream && first >= 0 && n >= 1 && first <= ds->n - n, LG_ERR_ARG,
             "%s: no view of images %d..%d", ds->source, first, first + n - 1);
    LG_TRY(alloc_header(out, n, ds->c, ds->h, ds->w, source));
    memcpy((*out)->labels, ds->labels + first, sizeof(int) * (size_t)n);
    atomic_fetch_add(&ds->stream->refs, 1);
    (*out)->stream = ds->stream;
    (*out)->first = ds->first + first;
    return LG_OK;
}

int lg_dataset_streamed(const lg_dataset *ds) { return ds && ds->stream; }

size_t lg_dataset_image_bytes(const lg_dataset *ds) {
    return ds ? (size_t)ds->c * ds->h * ds->w : 0;
}

lg_status lg_dataset_image(const lg_dataset *ds, int i, uint8_t *buf, const uint8_t **px) {
    LG_CHECK(ds && px, LG_ERR_ARG, "lg_dataset_image: NULL argument");
    LG_CHECK(i >= 0 && i < ds->n, LG_ERR_ARG, "%s: image %d of %d", ds->source, i, ds->n);
    if (!ds->stream) {
        *px = ds->pixels + (size_t)i * lg_dataset_image_bytes(ds);
        return LG_OK;
    }
    LG_CHECK(buf, LG_ERR_ARG, "%s: a streamed image needs a buffer", ds->source);
    LG_TRY(ds->stream->ops->read(ds->stream->ctx, ds->first + i, buf));
    *px = buf;
    return LG_OK;
}

lg_status lg_dataset_images(const lg_dataset *ds, int first, int count, uint8_t *dst) {
    LG_CHECK(ds && dst && first >= 0 && count >= 0 && first <= ds->n - count, LG_ERR_ARG,
             "lg_dataset_images: images %d..%d of %s", first, first + count - 1,
             ds ? ds->source : "(null)");
    const size_t img = lg_dataset_image_bytes(ds);
    for (int i = 0; i < count; i++) {
        const uint8_t *px = NULL;
        uint8_t *to = dst + (size_t)i * img;
        LG_TRY(lg_dataset_image(ds, first + i, to, &px));
        if (px != to) memcpy(to, px, img);
    }
    return LG_OK;
}
