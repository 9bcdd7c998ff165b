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
 * the same key and keeps or drops the whole map. The masked copy is the
 * backend's dropout op. */
#include <string.h>

#include "nn/layer.h"

static lg_dropout_desc desc_of(const lg_layer *l, const lg_layer_ctx *c) {
    lg_dropout_desc d = {.n = c->batch, .per = lg_layer_out_numel(l),
                         .maps = l->s.spatial ? l->co : 0, .p = l->s.p, .seed = c->rng->seed,
                         .stream = c->rng->stream, .draw = l->draw, .rows = c->rows};
    return d;
}

lg_status lg_dropout_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const size_t n = (size_t)c->batch * lg_layer_out_numel(l);
    l->train_mode = c->train && l->s.p > 0;
    if (!l->train_mode) {
        if (l->y != x) memcpy(l->y, x, sizeof(float) * n);
        return LG_OK;
    }
    l->draw = c->draw0 + (uint64_t)l->index;
    const lg_dropout_desc d = desc_of(l, c);
    return c->be->dropout(&d, x, l->y); /* y may be x: run in place (net.c) */
}

/* c->rows: the row ids of the forward being differentiated (net.c keeps a
 * copy), l->draw its key. */
lg_status lg_dropout_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                              const float *dy, float *dx) {
    (void)x;
    if (!dx) return LG_OK;
    if (!l->train_mode) {
        if (dx != dy) memcpy(dx, dy, sizeof(float) * (size_t)c->batch * lg_layer_out_numel(l));
        return LG_OK;
    }
    const lg_dropout_desc d = desc_of(l, c);
    return c->be->dropout(&d, dy, dx);
}
