/* Activation layers: the backend's elementwise op over the whole batch.
 * Backward of ReLU/LeakyReLU reads the sign of the input x; with a slope
 * >= 0 the output has the same sign, so x may be the output when the net
 * runs them in place (net.c runs a negative slope out of place). Sigmoid
 * and Tanh read their output y. */
#include "core/check.h"
#include "nn/layer.h"

lg_status lg_act_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    /* l->y may be x: nets run activations in place (net.c) */
    return c->be->act_fwd(l->s.kind, l->s.slope, (size_t)c->batch * lg_layer_out_numel(l), x,
                          l->y);
}

lg_status lg_act_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                          float *dx) {
    if (!dx) return LG_OK;
    return c->be->act_bwd(l->s.kind, l->s.slope, (size_t)c->batch * lg_layer_out_numel(l), x,
                          l->y, dy, dx);
}
