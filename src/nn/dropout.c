/* Inverted dropout: in training each value is kept with probability 1-p and
 * scaled by 1/(1-p), so eval is the identity. The keep decisions come from
 * Philox (one uniform per element) keyed by (net stream, forward, layer,
 * row id), hence are the same for any thread count, reproducible from the
 * saved RNG state, and the same for a row whichever slice of a batch holds
 * it. Nothing is stored: backward draws the same uniforms again from the
 * forward's key (l->draw and the net's copy of the row ids), which costs one
 * Philox block per four elements and saves a batch-sized mask per layer.
 * Spatial dropout (Torch's SpatialDropout, PyTorch's Dropout2d, which the
 * authors' LSUN generator uses) draws one uniform per (row, channel) from
 * the same key and keeps or drops the whole map. */
#include <string.h>

#include "nn/layer.h"

#define LG_ELEM_PAR_MIN 32768
enum { CHUNK = 1024 }; /* uniforms per draw: a multiple of 4 (one Philox block each) */

/* out[j] = in[j] * (keep ? scale : 0) for elements [c0, c0 + len) of row i. */
static void apply_row_chunk(const lg_layer *l, const lg_layer_ctx *c, const uint64_t *rows, int i,
                            size_t c0, size_t len, const float *in, float *out) {
    const float p = l->s.p, scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    float u[CHUNK];
    lg_rng r = lg_rng_keyed(c->rng->seed, c->rng->stream, l->draw, rows ? rows[i] : (uint64_t)i);
    r.offset += c0 / 4;
    lg_rng_uniform(&r, u, len, 0.0f, 1.0f);
    for (size_t j = 0; j < len; j++) out[j] = u[j] >= p ? in[j] * scale : 0.0f * in[j];
}

/* Spatial: out plane ch = in plane ch * (keep ? scale : 0), for every channel
 * of row i; uniform ch of the row's stream decides channel ch. */
static void apply_row_maps(const lg_layer *l, const lg_layer_ctx *c, const uint64_t *rows, int i,
                           const float *in, float *out) {
    const float p = l->s.p, scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    const size_t plane = (size_t)l->ho * l->wo;
    float u[CHUNK];
    lg_rng r = lg_rng_keyed(c->rng->seed, c->rng->stream, l->draw, rows ? rows[i] : (uint64_t)i);
    for (int c0 = 0; c0 < l->co; c0 += CHUNK) {
        const int len = l->co - c0 < CHUNK ? l->co - c0 : CHUNK;
        lg_rng_uniform(&r, u, (size_t)len, 0.0f, 1.0f);
        for (int ch = 0; ch < len; ch++) {
            const float f = u[ch] >= p ? scale : 0.0f;
            const size_t off = (size_t)(c0 + ch) * plane;
            for (size_t q = 0; q < plane; q++) out[off + q] = in[off + q] * f;
        }
    }
}

/* The masked copy of a whole batch, rows x chunks in parallel. */
static void apply(const lg_layer *l, const lg_layer_ctx *c, const uint64_t *rows, const float *in,
                  float *out) {
    const size_t per = lg_layer_out_numel(l), nch = (per + CHUNK - 1) / CHUNK;
    const long n = (long)(c->batch * per), tasks = (long)c->batch * (long)nch;
    if (l->s.spatial) {
#pragma omp parallel for schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (int i = 0; i < c->batch; i++)
            apply_row_maps(l, c, rows, i, in + (size_t)i * per, out + (size_t)i * per);
        return;
    }
#pragma omp parallel for schedule(static) if (n >= LG_ELEM_PAR_MIN)
    for (long t = 0; t < tasks; t++) {
        const int i = (int)(t / (long)nch);
        const size_t c0 = (size_t)(t % (long)nch) * CHUNK;
        const size_t len = per - c0 < CHUNK ? per - c0 : CHUNK;
        const size_t off = (size_t)i * per + c0;
        apply_row_chunk(l, c, rows, i, c0, len, in + off, out + off);
    }
}

lg_status lg_dropout_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const size_t n = (size_t)c->batch * lg_layer_out_numel(l);
    l->train_mode = c->train && l->s.p > 0;
    if (!l->train_mode) {
        if (l->y != x) memcpy(l->y, x, sizeof(float) * n);
        return LG_OK;
    }
    l->draw = c->draw0 + (uint64_t)l->index;
    apply(l, c, c->rows, x, l->y); /* y may be x: run in place (net.c) */
    return LG_OK;
}

/* c->rows: the row ids of the forward being differentiated (net.c keeps a
 * copy), l->draw its key. */
void lg_dropout_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                         float *dx) {
    if (!dx) return;
    if (!l->train_mode) {
        if (dx != dy) memcpy(dx, dy, sizeof(float) * (size_t)c->batch * lg_layer_out_numel(l));
        return;
    }
    apply(l, c, c->rows, dy, dx);
}
