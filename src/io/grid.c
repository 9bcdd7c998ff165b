/* Sample sheets: float CHW images tiled into one 8-bit image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/io.h"

typedef struct {
    float lo, scale, bias;
} byte_map;

static uint8_t to_byte(float v, byte_map m) {
    float u = (v - m.lo) * m.scale + m.bias;
    if (!(u > 0)) return 0; /* also NaN */
    if (u >= 255.f) return 255;
    return (uint8_t)(u + 0.5f);
}

/* The mapping of one image: fixed range, or its own min-max. */
static byte_map image_map(const float *x, size_t n, const lg_grid_opts *o) {
    float a = o->lo, b = o->hi;
    if (a == b) {
        a = INFINITY;
        b = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (isfinite(x[i])) {
                a = x[i] < a ? x[i] : a;
                b = x[i] > b ? x[i] : b;
            }
    }
    if (!(b > a)) return (byte_map){0.f, 0.f, 128.f}; /* flat or empty: mid grey */
    return (byte_map){a, 255.f / (b - a), 0.f};
}

/* Pixels along one side for count images of side px (scaled) with padding. */
static long grid_side(long count, int px, int scale, int pad) {
    return count * ((long)px * scale + pad) + pad;
}

long lg_grid_max_items(const lg_grid_opts *opts, int h, int w, int cols) {
    lg_grid_opts o = opts ? *opts : (lg_grid_opts){0, 2, 0, -1.f, 1.f, 1};
    int s = o.scale > 1 ? o.scale : 1;
    if (h <= 0 || w <= 0 || cols <= 0 || o.pad < 0) return 0;
    if (grid_side(cols, w, s, o.pad) > LG_GRID_MAX_SIDE) return 0;
    long rows = (LG_GRID_MAX_SIDE - o.pad) / ((long)h * s + o.pad);
    return rows * cols;
}

lg_status lg_grid_make(lg_image **out, const float *x, int n, int c, int h, int w,
                       const lg_grid_opts *opts) {
    LG_CHECK(out && x, LG_ERR_ARG, "lg_grid_make: NULL argument");
    *out = NULL;
    LG_CHECK(n > 0 && (c == 1 || c == 3) && h > 0 && w > 0, LG_ERR_SHAPE,
             "lg_grid_make: bad shape [%d,%d,%d,%d] (c must be 1 or 3)", n, c, h, w);
    lg_grid_opts o = opts ? *opts : (lg_grid_opts){0, 2, 0, -1.f, 1.f, 1};
    LG_CHECK(o.pad >= 0 && o.pad <= 1024 && o.scale >= 0 && o.scale <= 64 && o.nrow_items >= 0,
             LG_ERR_ARG, "lg_grid_make: bad options (pad %d, scale %d, items per row %d)", o.pad,
             o.scale, o.nrow_items);
    int s = o.scale > 1 ? o.scale : 1;
    int cols = o.nrow_items > 0 ? o.nrow_items : (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    long gw = grid_side(cols, w, s, o.pad), gh = grid_side(rows, h, s, o.pad);
    LG_CHECK(gw <= LG_GRID_MAX_SIDE && gh <= LG_GRID_MAX_SIDE, LG_ERR_SHAPE,
             "a grid of %d images of %dx%d, %d per row, would be %ldx%ld pixels; a PNG side "
             "may have at most %d (at most %ld images)", n, w * s, h * s, cols, gw, gh,
             LG_GRID_MAX_SIDE, lg_grid_max_items(&o, h, w, cols));
    lg_image *im = calloc(1, sizeof *im);
    LG_CHECK(im, LG_ERR_NOMEM, "lg_grid_make: out of memory");
    im->w = (int)gw;
    im->h = (int)gh;
    im->c = c;
    im->px = lg_alloc((size_t)gw * gh * c);
    if (!im->px) {
        free(im);
        return LG_ERR_NOMEM;
    }
    memset(im->px, o.pad_value, (size_t)gw * gh * c);
    size_t plane = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c * plane;
        byte_map m = image_map(xi, (size_t)c * plane, &o);
        long x0 = o.pad + (long)(i % cols) * (w * s + o.pad);
        long y0 = o.pad + (long)(i / cols) * (h * s + o.pad);
        for (long yy = 0; yy < (long)h * s; yy++)
            for (long xx = 0; xx < (long)w * s; xx++) {
                uint8_t *p = im->px + ((size_t)(y0 + yy) * gw + (size_t)(x0 + xx)) * c;
                size_t src = (size_t)(yy / s) * w + (size_t)(xx / s);
                for (int ch = 0; ch < c; ch++) p[ch] = to_byte(xi[ch * plane + src], m);
            }
    }
    *out = im;
    return LG_OK;
}
