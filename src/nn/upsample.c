/* 2x upsampling layers, nearest and bilinear (PyTorch's F.interpolate with
 * scale_factor=2, align_corners=False for bilinear): the backend's up2 ops
 * over every (sample, channel) plane of the batch. */
#include "nn/layer.h"

lg_status lg_upsample_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    return c->be->up2_fwd(l->s.kind == LG_LAYER_UPSAMPLE_BILINEAR, c->batch * l->ci, l->hi, l->wi,
                          x, l->y);
}

lg_status lg_upsample_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                               float *dx) {
    if (!dx) return LG_OK;
    return c->be->up2_bwd(l->s.kind == LG_LAYER_UPSAMPLE_BILINEAR, c->batch * l->ci, l->hi, l->wi,
                          dy, dx);
}
