/* Data sets from the caller's memory: a copy of its pixels (8-bit or
 * floats in [0, 1], NCHW or NHWC) and labels, so bindings such as the
 * Python package hand numpy arrays to the trainer without files. */
#include <math.h>
#include <string.h>

#include "core/check.h"
#include "data/dataset.h"

/* Pixel value v in [0, 1] to a byte; returns 0 when v is outside or NaN. */
static int to_byte(float v, uint8_t *b) {
    if (!(v >= 0.0f && v <= 1.0f)) return 0;
    *b = (uint8_t)lrintf(v * 255.0f);
    return 1;
}

/* Source element of image i, channel ch, pixel p (row-major y*w + x). */
static size_t src_index(lg_layout layout, size_t i, int c, size_t hw, int ch, size_t p) {
    return layout == LG_LAYOUT_NCHW ? (i * c + ch) * hw + p : (i * hw + p) * c + ch;
}

static lg_status copy_pixels(lg_dataset *ds, const void *pixels, lg_dtype dtype,
                             lg_layout layout) {
    const size_t hw = (size_t)ds->h * ds->w;
    for (size_t i = 0; i < (size_t)ds->n; i++)
        for (int ch = 0; ch < ds->c; ch++) {
            uint8_t *dst = ds->pixels + (i * ds->c + ch) * hw;
            for (size_t p = 0; p < hw; p++) {
                size_t at = src_index(layout, i, ds->c, hw, ch, p);
                if (dtype == LG_DTYPE_U8) {
                    dst[p] = ((const uint8_t *)pixels)[at];
                } else if (!to_byte(((const float *)pixels)[at], &dst[p])) {
                    return lg_error(LG_ERR_ARG, "%s: pixel %zu of image %zu is %g, outside "
                                    "[0, 1] (float pixels are in [0, 1])", ds->source, p, i,
                                    ((const float *)pixels)[at]);
                }
            }
        }
    return LG_OK;
}

static lg_status copy_labels(lg_dataset *ds, const int *labels, int nclasses) {
    LG_TRY(lg_ds_set_classes(ds, nclasses, NULL));
    for (int i = 0; i < ds->n; i++) {
        LG_CHECK(labels[i] >= 0 && labels[i] < nclasses, LG_ERR_ARG,
                 "%s: label %d of image %d outside [0, %d)", ds->source, labels[i], i, nclasses);
        ds->labels[i] = labels[i];
    }
    return LG_OK;
}

lg_status lg_dataset_from_memory(lg_dataset **out, const void *pixels, lg_dtype dtype,
                                 lg_layout layout, int n, int c, int h, int w,
                                 const int *labels, int nclasses, const char *source) {
    LG_CHECK(out, LG_ERR_ARG, "lg_dataset_from_memory: out is NULL");
    *out = NULL;
    const char *src = source ? source : "memory";
    LG_CHECK(pixels, LG_ERR_ARG, "%s: no pixels (NULL)", src);
    LG_CHECK(dtype == LG_DTYPE_U8 || dtype == LG_DTYPE_F32, LG_ERR_ARG,
             "%s: unknown pixel type %d (uint8 or float32)", src, (int)dtype);
    LG_CHECK(layout == LG_LAYOUT_NCHW || layout == LG_LAYOUT_NHWC, LG_ERR_ARG,
             "%s: unknown layout %d (NCHW or NHWC)", src, (int)layout);
    LG_CHECK(c == 1 || c == 3, LG_ERR_ARG, "%s: %d channels (1 grey or 3 RGB)", src, c);
    LG_CHECK(labels ? nclasses >= 1 : nclasses == 0, LG_ERR_ARG,
             labels ? "%s: labels given but %d classes (give at least 1)"
                    : "%s: %d classes but no labels", src, nclasses);
    lg_dataset *ds;
    LG_TRY(lg_ds_alloc(&ds, n, c, h, w, src));
    lg_status st = copy_pixels(ds, pixels, dtype, layout);
    if (st == LG_OK && labels) st = copy_labels(ds, labels, nclasses);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
