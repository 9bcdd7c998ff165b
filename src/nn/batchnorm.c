/* Batch normalisation over (n, h, w) per channel, PyTorch semantics:
 * training normalises with the batch mean and biased variance and moves the
 * running statistics by `momentum` towards the batch mean and the UNBIASED
 * variance; eval normalises with the running statistics. 1d and 2d are the
 * same op with h = w = 1; the arithmetic is the backend's (bn_fwd, bn_bwd). */
#include "core/check.h"
#include "nn/layer.h"

static lg_bn_desc desc_of(const lg_layer *l, const lg_layer_ctx *c, int batch_stats) {
    return (lg_bn_desc){.n = c->batch, .ch = l->ci, .s = (size_t)l->hi * l->wi,
                        .batch_stats = batch_stats, .eps = l->s.eps, .momentum = l->s.momentum};
}

lg_status lg_batchnorm_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const int batch_stats = c->train != 0;
    LG_CHECK(!batch_stats || (size_t)c->batch * l->hi * l->wi > 1, LG_ERR_SHAPE,
             "layer %d (batchnorm): training needs more than one value per channel, got "
             "batch %d of %dx%d",
             l->index, c->batch, l->hi, l->wi);
    const lg_bn_desc d = desc_of(l, c, batch_stats);
    LG_TRY(c->be->bn_fwd(&d, l->w, l->b, l->rmean, l->rvar, x, l->y, l->aux, l->aux + l->ci));
    l->train_mode = batch_stats;
    return LG_OK;
}

/* Backward of the last forward: its statistics (l->train_mode), its mean
 * and invstd (l->aux). */
lg_status lg_batchnorm_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                                const float *dy, float *dx) {
    const lg_bn_desc d = desc_of(l, c, l->train_mode);
    const int grads = c->param_grads && l->w;
    return c->be->bn_bwd(&d, l->w, l->aux, l->aux + l->ci, x, dy, dx, grads ? l->dw : NULL,
                         grads ? l->db : NULL);
}
