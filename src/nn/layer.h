/* Internal layer interface. A layer knows its per-sample input and output
 * shapes (planned by net.c), holds views into the net's flat parameter,
 * gradient and buffer arrays, and runs forward/backward over a batch through
 * the backend table. Nothing here allocates. */
#ifndef LG_NN_LAYER_H
#define LG_NN_LAYER_H
#include "backend/ops.h"

typedef struct {
    lg_layer_spec s; /* defaults filled in */
    int index;
    int ci, hi, wi;  /* input of one sample */
    int co, ho, wo;  /* output of one sample */
    float *w, *b;    /* weight/bias (BN: gamma/beta); NULL when absent */
    float *dw, *db;
    float *rmean, *rvar; /* BN running statistics (net buffers) */
    float *y;            /* output activations; aliases the input for FLATTEN/RESHAPE */
    float *aux;          /* BN: mean, invstd per channel */
    int train_mode;      /* last forward: BN used batch statistics; DROPOUT applied a mask */
    uint64_t draw;       /* DROPOUT: the last training forward's Philox draw */
} lg_layer;

/* Per-sample sizes. */
static inline size_t lg_layer_in_numel(const lg_layer *l) {
    return (size_t)l->ci * l->hi * l->wi;
}
static inline size_t lg_layer_out_numel(const lg_layer *l) {
    return (size_t)l->co * l->ho * l->wo;
}

/* What a layer's forward and backward see. dx == NULL: no input gradient
 * wanted; param_grads == 0: leave dw/db alone. */
typedef struct {
    const lg_backend *be;
    int batch, train, param_grads;
    float *ws; /* conv workspace */
    lg_rng *rng;
    const uint64_t *rows; /* dropout: row ids (NULL: row i is i) */
    uint64_t draw0;       /* dropout: this forward's first draw number */
} lg_layer_ctx;

void lg_conv_desc_of(const lg_layer *l, int batch, lg_conv_desc *d);

lg_status lg_linear_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_linear_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                             float *dx);
lg_status lg_conv2d_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_conv2d_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                             float *dx);
lg_status lg_act_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_act_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                          float *dx);
lg_status lg_batchnorm_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_batchnorm_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                                const float *dy, float *dx);
lg_status lg_dropout_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_dropout_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                              const float *dy, float *dx);
lg_status lg_upsample_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_upsample_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                               float *dx);

lg_status lg_featpool_forward(lg_layer *l, const lg_layer_ctx *c, const float *x);
lg_status lg_featpool_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                               const float *dy, float *dx);

/* lg_bce_logits on backend be (loss.c). */
lg_status lg_bce_logits_on(const lg_backend *be, const float *logits, const float *targets, int n,
                           float scale, float *loss, float *dlogits);

/* lg_concat_forward / lg_concat_backward on backend be (shape.c). */
lg_status lg_concat_forward_on(const lg_backend *be, const lg_tensor *a, const lg_tensor *b,
                               lg_tensor *out);
lg_status lg_concat_backward_on(const lg_backend *be, const lg_tensor *dout, lg_tensor *da,
                                lg_tensor *db);

/* Weight initialisation of one layer (init.c). */
void lg_layer_init(lg_layer *l, lg_rng *rng);
#endif
