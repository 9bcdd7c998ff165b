/* Image pools of a study: real test images and model samples, enlarged and
 * encoded once at start-up so that serving any image is the same memcpy-free
 * lookup whatever its source. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/check.h"
#include "lapgan/gan.h"
#include "study/study.h"

#define SAMPLE_CHUNK 64

lg_status lg_study_token(char hex[33]) {
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        LG_CHECK(r > 0, LG_ERR_IO, "getrandom failed");
        got += (size_t)r;
    }
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return LG_OK;
}

void lg_study_enlarge(const uint8_t *chw, int c, int s, int scale, lg_interp interp,
                      uint8_t *hwc) {
    const int S = s * scale;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int ch = 0; ch < c; ch++) {
                const uint8_t *p = chw + (size_t)ch * s * s;
                float v;
                if (interp == LG_INTERP_NEAREST) {
                    v = p[(y / scale) * s + x / scale];
                } else { /* bilinear, pixel centres aligned, edges clamped */
                    float fy = (y + 0.5f) / scale - 0.5f, fx = (x + 0.5f) / scale - 0.5f;
                    fy = fy < 0 ? 0 : fy > s - 1 ? s - 1 : fy;
                    fx = fx < 0 ? 0 : fx > s - 1 ? s - 1 : fx;
                    int y0 = (int)fy, x0 = (int)fx;
                    int y1 = y0 + 1 < s ? y0 + 1 : y0, x1 = x0 + 1 < s ? x0 + 1 : x0;
                    float wy = fy - y0, wx = fx - x0;
                    v = (1 - wy) * ((1 - wx) * p[y0 * s + x0] + wx * p[y0 * s + x1]) +
                        wy * ((1 - wx) * p[y1 * s + x0] + wx * p[y1 * s + x1]);
                }
                hwc[((size_t)y * S + x) * c + ch] = (uint8_t)(v + 0.5f);
            }
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int oom;
} membuf;

static void png_mem_write(png_structp p, png_bytep data, png_size_t n) {
    membuf *m = png_get_io_ptr(p);
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 4096) + n;
        uint8_t *b = realloc(m->buf, cap);
        if (!b) {
            m->oom = 1;
            return;
        }
        m->buf = b, m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void png_mem_flush(png_structp p) { (void)p; }

/* Stored (level 0) deflate and no filtering: the length depends only on
 * the dimensions, so no image's size tells its source. */
lg_status lg_study_png_encode(const uint8_t *px, int w, int h, int c, uint8_t **out,
                              size_t *len) {
    LG_CHECK(px && out && len && w > 0 && h > 0 && (c == 1 || c == 3), LG_ERR_ARG,
             "lg_study_png_encode: bad argument");
    membuf m = {0};
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_write_struct(&p, NULL);
        return lg_error(LG_ERR_NOMEM, "out of memory for PNG encoding");
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        free(m.buf);
        return lg_error(LG_ERR_FORMAT, "PNG encoding failed");
    }
    png_set_write_fn(p, &m, png_mem_write, png_mem_flush);
    png_set_compression_level(p, 0);
    png_set_filter(p, 0, PNG_FILTER_NONE);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++) png_write_row(p, (png_const_bytep)(px + (size_t)y * w * c));
    png_write_end(p, info);
    png_destroy_write_struct(&p, &info);
    if (m.oom) {
        free(m.buf);
        return lg_error(LG_ERR_NOMEM, "out of memory for PNG encoding");
    }
    *out = m.buf;
    *len = m.len;
    return LG_OK;
}

/* Enlarges, encodes and names one CHW image. */
static lg_status add_image(lg_study_cfg *cfg, const uint8_t *chw, uint8_t *hwc,
                           lg_study_image *im) {
    lg_study_enlarge(chw, cfg->c, cfg->size, cfg->scale, cfg->interp, hwc);
    LG_TRY(lg_study_png_encode(hwc, cfg->display, cfg->display, cfg->c, &im->png, &im->len));
    LG_CHECK(!cfg->png_len || im->len == cfg->png_len, LG_ERR_FORMAT,
             "PNG lengths differ (%zu, %zu)", im->len, cfg->png_len);
    cfg->png_len = im->len;
    return lg_study_token(im->id);
}

static lg_status pool_real(lg_study_cfg *cfg, const lg_dataset *ds, const char *spec) {
    lg_study_source *src = &cfg->src[0];
    const int n = cfg->nclasses * src->per_class;
    int *order = malloc(sizeof(int) * (size_t)ds->n), *filled = calloc((size_t)cfg->nclasses, sizeof(int));
    uint8_t *hwc = malloc((size_t)cfg->display * cfg->display * cfg->c);
    uint8_t *buf = malloc(lg_dataset_image_bytes(ds));
    src->img = calloc((size_t)n, sizeof *src->img);
    lg_status st = order && filled && hwc && buf && src->img ? LG_OK
                                                      : lg_error(LG_ERR_NOMEM, "out of memory");
    if (st == LG_OK) {
        lg_rng r;
        lg_rng_init(&r, cfg->seed, 0x7265616cu); /* "real" */
        for (int i = 0; i < ds->n; i++) order[i] = i;
        lg_rng_shuffle(&r, order, (size_t)ds->n);
    }
    for (int i = 0; i < ds->n && st == LG_OK; i++) {
        const int k = order[i], cls = cfg->labelled ? ds->labels[k] : 0;
        if (cls < 0 || cls >= cfg->nclasses || filled[cls] == src->per_class) continue;
        lg_study_image *im = &src->img[cls * src->per_class + filled[cls]++];
        snprintf(im->ref, sizeof im->ref, "%s#%d", spec, k);
        const uint8_t *px;
        st = lg_dataset_image(ds, k, buf, &px);
        if (st == LG_OK) st = add_image(cfg, px, hwc, im);
    }
    for (int c = 0; c < cfg->nclasses && st == LG_OK; c++)
        if (filled[c] < src->per_class)
            st = lg_error(LG_ERR_ARG, "%s has %d images of class %d, fewer than --pool %d", spec,
                          filled[c], c, src->per_class);
    free(order);
    free(buf);
    free(filled);
    free(hwc);
    return st;
}

static lg_status pool_model(lg_study_cfg *cfg, int si, lg_model *m) {
    lg_study_source *src = &cfg->src[si];
    const int n = cfg->nclasses * src->per_class, img = cfg->c * cfg->size * cfg->size;
    float *x = lg_alloc_floats((size_t)SAMPLE_CHUNK * img);
    int *labels = lg_alloc(sizeof(int) * SAMPLE_CHUNK);
    uint8_t *chw = malloc((size_t)img), *hwc = malloc((size_t)cfg->display * cfg->display * cfg->c);
    src->img = calloc((size_t)n, sizeof *src->img);
    lg_status st = x && labels && chw && hwc && src->img
                       ? LG_OK
                       : lg_error(LG_ERR_NOMEM, "out of memory");
    for (int i0 = 0; i0 < n && st == LG_OK; i0 += SAMPLE_CHUNK) {
        const int b = n - i0 < SAMPLE_CHUNK ? n - i0 : SAMPLE_CHUNK;
        const uint64_t seed = cfg->seed * 1000003u + (uint64_t)si * 7919u + (uint64_t)i0;
        for (int j = 0; j < b; j++) labels[j] = (i0 + j) / src->per_class;
        st = lg_model_sample(m, b, seed, src->conditional ? labels : NULL, x, NULL);
        for (int j = 0; j < b && st == LG_OK; j++) {
            for (int q = 0; q < img; q++) {
                float v = (x[(size_t)j * img + q] + 1.0f) * 127.5f + 0.5f;
                chw[q] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            lg_study_image *im = &src->img[i0 + j];
            snprintf(im->ref, sizeof im->ref, "%s seed=%llu i=%d", src->name,
                     (unsigned long long)seed, j);
            st = add_image(cfg, chw, hwc, im);
        }
    }
    lg_free(x);
    lg_free(labels);
    free(chw);
    free(hwc);
    return st;
}

/* Prefixes this thread's error message with the model's name. */
static lg_status model_error(lg_status st, const char *name) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", lg_errmsg());
    return lg_error(st, "model '%s': %s", name, msg);
}

static lg_status check_model(lg_study_cfg *cfg, const char *name, const lg_model_desc *d) {
    const int s = d->level[0].size;
    LG_CHECK(d->c == cfg->c && s == cfg->size, LG_ERR_ARG,
             "model '%s' makes %dx%dx%d images but the data set has %dx%dx%d", name, s, s, d->c,
             cfg->size, cfg->size, cfg->c);
    LG_CHECK(!d->nclasses || (cfg->labelled && d->nclasses == cfg->nclasses), LG_ERR_ARG,
             "model '%s' is conditioned on %d classes but the data set has %d", name,
             d->nclasses, cfg->labelled ? cfg->nclasses : 0);
    return LG_OK;
}

static lg_status set_classes(lg_study_cfg *cfg, const lg_dataset *ds) {
    cfg->labelled = ds->nclasses > 0;
    for (int i = 0; i < ds->n && cfg->labelled; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= ds->nclasses) cfg->labelled = 0;
    cfg->nclasses = cfg->labelled ? ds->nclasses : 1;
    for (int k = 0; k < cfg->nclasses && k < 64; k++) {
        const char *nm = cfg->labelled && ds->class_names ? ds->class_names[k] : NULL;
        if (nm) snprintf(cfg->class_names[k], sizeof cfg->class_names[k], "%s", nm);
        else snprintf(cfg->class_names[k], sizeof cfg->class_names[k], "%d", k);
    }
    cfg->c = ds->c;
    cfg->size = ds->h;
    LG_CHECK(ds->h == ds->w, LG_ERR_ARG, "%s: images are %dx%d, not square", ds->source, ds->w,
             ds->h);
    return LG_OK;
}

lg_status lg_study_pools_build(lg_study_cfg *cfg, const char *data_spec,
                               const lg_study_model_arg *models, int nmodels, int per_class) {
    LG_CHECK(cfg && data_spec && models && nmodels >= 1 && nmodels < LG_STUDY_MAX_SOURCES &&
                 per_class >= 1,
             LG_ERR_ARG, "lg_study_pools_build: bad argument");
    LG_CHECK(cfg->scale >= 0 && cfg->trials >= 1 && cfg->nexposure >= 1, LG_ERR_ARG,
             "lg_study_pools_build: bad configuration");
    lg_model **m = calloc((size_t)nmodels, sizeof *m);
    LG_CHECK(m, LG_ERR_NOMEM, "out of memory");
    lg_dataset *ds = NULL;
    lg_status st = LG_OK;
    for (int i = 0; i < nmodels && st == LG_OK; i++) {
        st = lg_model_load(&m[i], models[i].run_dir, LG_BACKEND_CPU);
        if (st != LG_OK) st = model_error(st, models[i].name);
    }
    if (st == LG_OK) {
        const lg_model_desc *d = lg_model_desc_of(m[0]);
        st = lg_dataset_open(&ds, data_spec, d->c, d->level[0].size);
    }
    if (st == LG_OK) st = set_classes(cfg, ds);
    if (st == LG_OK && !cfg->scale) cfg->scale = cfg->size < 224 ? 224 / cfg->size : 1;
    cfg->display = cfg->size * cfg->scale;
    if (st == LG_OK && cfg->display > 1024)
        st = lg_error(LG_ERR_ARG, "--scale %d makes %d px images (at most 1024)", cfg->scale,
                      cfg->display);
    cfg->nsources = 1 + nmodels;
    lg_study_source *real = &cfg->src[0];
    snprintf(real->name, sizeof real->name, "real");
    snprintf(real->path, sizeof real->path, "%s", data_spec);
    real->conditional = 1;
    real->per_class = per_class;
    for (int i = 0; i < nmodels && st == LG_OK; i++) {
        lg_study_source *s = &cfg->src[1 + i];
        snprintf(s->name, sizeof s->name, "%s", models[i].name);
        snprintf(s->path, sizeof s->path, "%s", models[i].run_dir);
        s->conditional = lg_model_desc_of(m[i])->nclasses > 0;
        s->per_class = per_class;
        st = check_model(cfg, models[i].name, lg_model_desc_of(m[i]));
    }
    if (st == LG_OK) st = pool_real(cfg, ds, data_spec);
    for (int i = 0; i < nmodels && st == LG_OK; i++) {
        st = pool_model(cfg, 1 + i, m[i]);
        if (st != LG_OK) st = model_error(st, models[i].name);
    }
    for (int i = 0; i < nmodels; i++) lg_model_free(m[i]);
    free(m);
    lg_dataset_free(ds);
    if (st != LG_OK) lg_study_pools_free(cfg);
    return st;
}

void lg_study_pools_free(lg_study_cfg *cfg) {
    if (!cfg) return;
    for (int s = 0; s < cfg->nsources; s++) {
        lg_study_source *src = &cfg->src[s];
        for (int i = 0; src->img && i < cfg->nclasses * src->per_class; i++) free(src->img[i].png);
        free(src->img);
        src->img = NULL;
    }
}
