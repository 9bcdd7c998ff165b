/* Conv2d: weights [co, ci / groups, k, k] (PyTorch layout), zero padding,
 * one stride for both axes. The arithmetic lives in the backend. */
#include "core/check.h"
#include "nn/layer.h"

void lg_conv_desc_of(const lg_layer *l, int batch, lg_conv_desc *d) {
    d->n = batch;
    d->ci = l->ci;
    d->hi = l->hi;
    d->wi = l->wi;
    d->co = l->co;
    d->kh = d->kw = l->s.k;
    d->stride = l->s.stride;
    d->pad = l->s.pad;
    d->ho = l->ho;
    d->wo = l->wo;
    d->groups = l->s.groups;
}

lg_status lg_conv2d_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    lg_conv_desc d;
    lg_conv_desc_of(l, c->batch, &d);
    return c->be->conv_fwd(&d, x, l->w, l->b, l->y, c->ws);
}

lg_status lg_conv2d_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                             float *dx) {
    lg_conv_desc d;
    lg_conv_desc_of(l, c->batch, &d);
    if (dx) LG_TRY(c->be->conv_bwd_data(&d, dy, l->w, dx, c->ws));
    if (c->param_grads) LG_TRY(c->be->conv_bwd_filter(&d, x, dy, l->dw, l->db, c->ws));
    return LG_OK;
}
