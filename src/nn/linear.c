/* Linear: y[n, out] = x[n, in] W^T + b with W [out, in] (PyTorch layout). */
#include "core/check.h"
#include "nn/layer.h"

lg_status lg_linear_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const int n = c->batch, in = (int)lg_layer_in_numel(l), out = l->co;
    /* Broadcast the bias, then let the GEMM accumulate on top (beta = 1). */
    if (l->b) LG_TRY(c->be->bias_rows(n, out, l->b, l->y));
    return c->be->gemm(0, 1, n, out, in, 1.0f, x, in, l->w, in, l->b ? 1.0f : 0.0f, l->y, out);
}

/* dx = dy W;  dW += dy^T x;  db += sum_n dy. */
lg_status lg_linear_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                             float *dx) {
    const int n = c->batch, in = (int)lg_layer_in_numel(l), out = l->co;
    if (dx) LG_TRY(c->be->gemm(0, 0, n, in, out, 1.0f, dy, out, l->w, in, 0.0f, dx, in));
    if (!c->param_grads) return LG_OK;
    LG_TRY(c->be->gemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, l->dw, in));
    return l->db ? c->be->bias_rows_grad(n, out, dy, l->db) : LG_OK;
}
