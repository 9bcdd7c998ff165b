/* L2 pooling across feature maps (Torch's FeatureLPPooling with p = 2, as
 * the authors' LSUN generator uses it): every k consecutive input maps
 * become one output map, y[c] = sqrt(sum_j x[c*k + j]^2) pixel by pixel.
 * The gradient dy[c] x[c*k + j] / y[c] is taken as 0 where y[c] = 0 (all
 * k inputs zero, e.g. after a ReLU), the subgradient that keeps it finite.
 * Both directions are the backend's featpool ops. */
#include "nn/layer.h"

lg_status lg_featpool_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    return c->be->featpool_fwd(c->batch, l->co, l->s.k, (size_t)l->hi * l->wi, x, l->y);
}

lg_status lg_featpool_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                               const float *dy, float *dx) {
    if (!dx) return LG_OK;
    return c->be->featpool_bwd(c->batch, l->co, l->s.k, (size_t)l->hi * l->wi, x, l->y, dy, dx);
}
