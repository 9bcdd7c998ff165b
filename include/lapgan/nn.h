/* lapgan nn: layers with explicit forward and backward, sequential networks
 * over flat parameter/gradient buffers, losses and optimisers.
 *
 * Conventions (after llm.c):
 * - Tensors are float32 NCHW; a vector batch is [n, features, 1, 1].
 * - Every *_backward ADDS into parameter gradients (dw, db) so that several
 *   backward passes accumulate; lg_net_zero_grad() clears them. Input
 *   gradients (dx) are OVERWRITTEN.
 * - Parameters, gradients and optimiser state live in one flat buffer each;
 *   layers hold named views into them. A checkpoint is a table of
 *   (name, offset, shape); an all-reduce is one call.
 * - All shapes are planned and checked when a network is built; the training
 *   step itself allocates nothing.
 *
 * Example: a 2-layer MLP discriminator on 8x8x3 images.
 *   lg_layer_spec d[] = {
 *       {.kind = LG_LAYER_FLATTEN},
 *       {.kind = LG_LAYER_LINEAR, .out = 600}, {.kind = LG_LAYER_RELU},
 *       {.kind = LG_LAYER_DROPOUT, .p = 0.5f},
 *       {.kind = LG_LAYER_LINEAR, .out = 1},
 *   };
 *   lg_net *net;
 *   lg_net_cfg cfg = {.c = 3, .h = 8, .w = 8, .max_batch = 128, .seed = 1};
 *   if (lg_net_new(&net, d, 5, &cfg) != LG_OK) puts(lg_errmsg());
 */
#ifndef LAPGAN_NN_H
#define LAPGAN_NN_H

#include "lapgan/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- backends ---------------------------------------------------------- */

/* Which implementation runs the heavy ops (GEMM, convolution). REF is naive
 * loops, the oracle for tests; CPU is OpenBLAS/oneDNN + OpenMP in float32;
 * CPU_BF16 is CPU with mixed-precision convolutions (bf16 operands, float32
 * sums, float32 weights and activations in memory: `--precision bf16`),
 * available on CPUs with AVX512-BF16 or AMX-BF16. */
typedef enum {
    LG_BACKEND_CPU = 0,
    LG_BACKEND_REF,
    LG_BACKEND_CPU_BF16,
    LG_BACKEND_COUNT
} lg_backend_kind;
const char *lg_backend_name(lg_backend_kind k); /* "cpu", "ref", "cpu-bf16" */
/* LG_OK when this machine can run backend k; otherwise an error whose
 * message says why (a CPU without bf16 instructions for CPU_BF16). */
lg_status lg_backend_check(lg_backend_kind k);

/* ---- layer specifications ---------------------------------------------- */

typedef enum {
    LG_LAYER_LINEAR = 0,        /* .out features; input is flattened per sample */
    LG_LAYER_CONV2D,            /* .out channels, .k kernel, .stride, .pad (zero), .groups */
    LG_LAYER_RELU,
    LG_LAYER_LEAKY_RELU,        /* .slope (0 is ReLU) */
    LG_LAYER_SIGMOID,
    LG_LAYER_TANH,
    LG_LAYER_BATCHNORM,         /* 1d on [n,c,1,1], 2d on [n,c,h,w]; .eps, .momentum, .no_affine */
    LG_LAYER_DROPOUT,           /* .p drop probability; inverted scaling; identity in eval;
                                   .spatial: whole maps (PyTorch's Dropout2d) */
    LG_LAYER_FLATTEN,           /* [n,c,h,w] -> [n,c*h*w,1,1] */
    LG_LAYER_RESHAPE,           /* -> [n,.c,.h,.w]; element count must match */
    LG_LAYER_UPSAMPLE_NEAREST,  /* 2x */
    LG_LAYER_UPSAMPLE_BILINEAR, /* 2x, align_corners = false (PyTorch's default) */
    LG_LAYER_FEATURE_L2POOL,    /* every .k consecutive maps -> sqrt(sum of squares) */
    LG_LAYER_KIND_COUNT
} lg_layer_kind;

typedef enum {
    LG_INIT_TORCH = 0, /* PyTorch defaults: kaiming_uniform(a=sqrt 5) weights, U(+-1/sqrt fan_in) bias */
    LG_INIT_NORMAL,    /* weights N(0, .init_std^2) (0.02 if 0, the DCGAN recipe), bias 0 */
} lg_init_kind;

typedef struct {
    lg_layer_kind kind;
    int out;             /* LINEAR: features; CONV2D: channels */
    int k, stride, pad;  /* CONV2D (stride 1 if 0) */
    int groups;          /* CONV2D: channels split into independent blocks (1 if 0) */
    int c, h, w;         /* RESHAPE target */
    int no_bias;         /* LINEAR, CONV2D: no bias term */
    float slope;         /* LEAKY_RELU */
    float p;             /* DROPOUT */
    int spatial;         /* DROPOUT: one keep decision per (sample, channel) */
    float eps, momentum; /* BATCHNORM (PyTorch's meaning; momentum 0 freezes the running stats) */
    int no_affine;       /* BATCHNORM without gamma/beta */
    lg_init_kind init;
    float init_std;
} lg_layer_spec;

const char *lg_layer_kind_name(lg_layer_kind k);

/* Every spec field means what it says, 0 included (a LeakyReLU slope of 0,
 * a batch-norm momentum or eps of 0). lg_layer_defaults(kind) is a spec
 * with the usual values to start from: LeakyReLU slope LG_LEAKY_RELU_SLOPE
 * (DCGAN's), batch norm eps LG_BN_EPS and momentum LG_BN_MOMENTUM
 * (PyTorch's), conv stride 1, everything else 0. */
#define LG_LEAKY_RELU_SLOPE 0.2f
#define LG_BN_EPS 1e-5f
#define LG_BN_MOMENTUM 0.1f
lg_layer_spec lg_layer_defaults(lg_layer_kind kind);

/* ---- sequential networks ----------------------------------------------- */

typedef struct lg_net lg_net;

typedef struct {
    int c, h, w;       /* input shape of one sample */
    int max_batch;     /* activations are sized for this many samples */
    uint64_t seed;     /* weight initialisation and dropout masks */
    uint64_t stream;   /* RNG stream (keep nets under one seed independent) */
    lg_backend_kind backend;
} lg_net_cfg;

/* Plans every shape (an error names the bad layer), allocates parameters,
 * gradients and activations once, and initialises the weights. */
lg_status lg_net_new(lg_net **out, const lg_layer_spec *specs, int nlayers, const lg_net_cfg *cfg);
void lg_net_free(lg_net *net); /* accepts NULL */

/* Output shape of one sample. */
void lg_net_out_shape(const lg_net *net, int *c, int *h, int *w);
int lg_net_layer_count(const lg_net *net);
/* Bytes the net holds for the activations of max_batch samples (its
 * parameters, gradients and the shared scratch not counted). */
size_t lg_net_activation_bytes(const lg_net *net);
/* Layer i as planned (defaults filled in) and its per-sample input shape,
 * for code that rebuilds the net elsewhere (lapgan/export.h). */
lg_status lg_net_layer_at(const lg_net *net, int i, lg_layer_spec *spec, int *c, int *h, int *w);

/* Forward pass on x [batch, c, h, w]; *y points at the net's own output
 * buffer, valid until the next forward. train != 0: dropout active, batch
 * norm uses batch statistics and updates its running ones (LG_ERR_SHAPE when
 * a channel then has a single value, as in PyTorch). */
lg_status lg_net_forward(lg_net *net, const float *x, int batch, int train, const float **y);

/* Backward from dy (same shape as the last output). Adds parameter gradients
 * unless param_grads == 0 (e.g. D's backward during G's step, which only
 * needs dx). dx may be NULL when the input gradient is not needed. Uses the
 * state of the last forward (LG_ERR_ARG if there was none). */
lg_status lg_net_backward(lg_net *net, const float *dy, float *dx, int param_grads);

void lg_net_zero_grad(lg_net *net);

/* Flat buffers. Parameters and gradients share one layout. */
float *lg_net_params(lg_net *net, size_t *n);
float *lg_net_grads(lg_net *net, size_t *n);
/* Non-trained state that a checkpoint must keep (batch-norm running stats). */
float *lg_net_buffers(lg_net *net, size_t *n);

/* Named tensors for checkpoints: i in [0, count). kind 0 = parameter
 * (offset into params), 1 = buffer (offset into buffers). Names look like
 * "3.conv2d.weight" (index, lg_layer_kind_name, then weight, bias,
 * running_mean or running_var). shape has up to 4 dims. */
typedef struct {
    char name[48];
    int kind;
    size_t offset, numel;
    int ndim, shape[4];
} lg_net_tensor_info;
int lg_net_tensor_count(const lg_net *net);
lg_status lg_net_tensor_info_at(const lg_net *net, int i, lg_net_tensor_info *info);

/* Dropout mask RNG; saved with checkpoints so resumes are bit-identical.
 * Its offset counts training forwards: the mask of row i in forward f is
 * drawn from lg_rng_keyed(seed, stream, f * layers + layer, row id of i). */
lg_rng *lg_net_rng(lg_net *net);
/* Row ids of the following forwards' batch rows (caller-owned, max_batch
 * entries; NULL: row i is i). A process training on a slice of a larger
 * batch passes the rows' places in that batch, so its dropout masks are
 * the ones a single process would draw for those rows. */
void lg_net_set_rows(lg_net *net, const uint64_t *rows);
/* Moves the gradients into the caller's buffer g (lg_net_grads' count of
 * floats, alive as long as the net), so several nets' gradients form one
 * flat array that a single all-reduce sums. The old values are copied. */
void lg_net_bind_grads(lg_net *net, float *g);

/* Multiply-add count of one forward pass per sample (for GFLOP/s reports). */
double lg_net_forward_flops(const lg_net *net);

/* ---- standalone ops used between networks ------------------------------- */

/* out[n, ca+cb, h, w] = concat(a[n,ca,h,w], b[n,cb,h,w]) along channels. */
lg_status lg_concat_forward(const lg_tensor *a, const lg_tensor *b, lg_tensor *out);
/* Splits dout into da and db (either may have NULL data: skipped). */
lg_status lg_concat_backward(const lg_tensor *dout, lg_tensor *da, lg_tensor *db);

/* Binary cross-entropy on logits, mean over n, numerically stable:
 * l = max(x,0) - x*t + log(1 + exp(-|x|)). dlogits (may be NULL) gets
 * d(mean loss)/dx = (sigmoid(x) - t) / n, scaled by `scale`. Returns the loss
 * in *loss. */
lg_status lg_bce_logits(const float *logits, const float *targets, int n, float scale,
                        float *loss, float *dlogits);

/* ---- optimisers --------------------------------------------------------- */

typedef enum { LG_OPT_SGD = 0, LG_OPT_ADAM } lg_opt_kind;

/* How SGD's momentum buffer takes the gradient g' = g + wd p:
 * TORCH7 is Torch7's optim.sgd as the LAPGAN authors call it (dampening
 * equal to the momentum): v = mu v + (1 - mu) g'. PYTORCH is
 * torch.optim.SGD's default (dampening 0): v = mu v + g'. Both then take
 * p -= lr v, set v = g' on the first step with mu != 0 (as both libraries
 * do) and leave v alone while mu == 0 (p -= lr g'). */
typedef enum { LG_SGD_PYTORCH = 0, LG_SGD_TORCH7, LG_SGD_STYLE_COUNT } lg_sgd_style;
const char *lg_sgd_style_name(lg_sgd_style s); /* "pytorch", "torch7" */
/* Parses a name as lg_sgd_style_name writes it; an error lists the names. */
lg_status lg_sgd_style_parse(const char *name, lg_sgd_style *out);

/* The schedule is the paper's, a step function of whole epochs (the
 * authors change lr and momentum after each epoch):
 * lr(epoch) = max(lr_min, lr / (1 + lr_decay)^epoch) and
 * mu(epoch) = min(mom_max, momentum + mom_step * epoch). Adam follows
 * PyTorch's torch.optim.Adam (L2 weight decay added to the gradient). Every
 * field means what it says, 0 included (beta1 = 0 is Adam without a first
 * moment): start from lg_optim_defaults() and set what differs. */
typedef struct {
    lg_opt_kind kind;
    lg_sgd_style sgd_style;
    float lr, momentum, weight_decay;
    float beta1, beta2, eps; /* Adam */
    float lr_decay, lr_min, mom_step, mom_max;
} lg_optim_cfg;

/* torch.optim.Adam's defaults. */
#define LG_ADAM_BETA1 0.9f
#define LG_ADAM_BETA2 0.999f
#define LG_ADAM_EPS 1e-8f
/* kind at learning rate lr with the libraries' defaults: no momentum, no
 * weight decay, Adam's betas and eps above, a constant lr (lr_decay 0,
 * lr_min 0), constant momentum (mom_step 0, mom_max 1) and PyTorch's SGD
 * momentum style. */
lg_optim_cfg lg_optim_defaults(lg_opt_kind kind, float lr);

typedef struct lg_optim lg_optim;
lg_status lg_optim_new(lg_optim **out, const lg_optim_cfg *cfg, size_t nparams);
void lg_optim_free(lg_optim *o);
/* Runs o's updates on backend k from now on (lg_optim_new: cpu); the
 * state and its bits do not depend on it beyond the backend's rounding. */
lg_status lg_optim_use_backend(lg_optim *o, lg_backend_kind k);
/* Learning rate and momentum (beta1 for Adam) at an epoch (the step
 * function of whole epochs is the caller's: it passes floor(epoch)). */
void lg_optim_schedule(const lg_optim_cfg *cfg, double epoch, float *lr, float *mom);
/* One update of params from grads at the given epoch (for the schedule). */
lg_status lg_optim_step(lg_optim *o, float *params, const float *grads, double epoch);
/* Flat state (momentum, or Adam's m then v) and step count, for checkpoints.
 * SGD's count is the number of steps that wrote the momentum buffer (0: the
 * next step with mu != 0 sets it to g'); Adam's is every step. */
float *lg_optim_state(lg_optim *o, size_t *n);
int64_t *lg_optim_t(lg_optim *o);

#ifdef __cplusplus
}
#endif
#endif
