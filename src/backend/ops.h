/* The one op table. Layers call their arithmetic through it and never
 * know which implementation runs: ref/ is naive loops (the test oracle),
 * cpu/ is OpenBLAS/oneDNN + OpenMP in two precisions (cpu: fp32; cpu-bf16:
 * convolutions multiply bf16-rounded operands and accumulate in fp32); a
 * cuda/ table can join later without a single #ifdef in src/nn. Buffers
 * the caller passes are float32, row-major / NCHW, whatever the table
 * computes in. Every op returns a status: a failure is an error with a
 * message (lg_errmsg), never a silent switch to another implementation. */
#ifndef LG_BACKEND_OPS_H
#define LG_BACKEND_OPS_H
#include "lapgan/nn.h"

typedef struct {
    int n, ci, hi, wi; /* input */
    int co, kh, kw;    /* weights [co, ci / groups, kh, kw] */
    int stride, pad;   /* same in both directions; zero padding */
    int ho, wo;        /* output (planned by the caller) */
    int groups;        /* ci and co split into this many independent blocks;
                          0 or 1: ungrouped (so a desc written before groups
                          existed keeps its meaning) */
} lg_conv_desc;

/* The group count of d, 1 for an ungrouped convolution. */
static inline int lg_conv_groups(const lg_conv_desc *d) { return d->groups > 1 ? d->groups : 1; }

/* Batch normalisation of x [n, ch, s] per channel over its n s values
 * (PyTorch semantics; src/nn/batchnorm.c). */
typedef struct {
    int n, ch;
    size_t s;
    int batch_stats;      /* 1: normalise with the batch's mean and biased
                             variance and move the running statistics;
                             0: normalise with the running statistics */
    float eps, momentum;
} lg_bn_desc;

typedef struct lg_backend {
    lg_backend_kind kind;
    const char *name;
    /* C[M,N] = alpha * op(A) op(B) + beta * C, row-major (cblas semantics). */
    lg_status (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
    /* Scratch floats a convolution needs; the caller allocates the max once. */
    size_t (*conv_workspace)(const lg_conv_desc *d);
    /* y = conv(x, w) + b (b may be NULL). */
    lg_status (*conv_fwd)(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                     float *y, float *ws);
    /* dx = conv_transpose(dy, w) (overwrites dx). */
    lg_status (*conv_bwd_data)(const lg_conv_desc *d, const float *dy, const float *w, float *dx,
                          float *ws);
    /* dw += x (*) dy; db += sum(dy) (db may be NULL). */
    lg_status (*conv_bwd_filter)(const lg_conv_desc *d, const float *x, const float *dy, float *dw,
                            float *db, float *ws);
    /* y = act(x) over n values, act one of LG_LAYER_RELU, LEAKY_RELU (slope
     * for x <= 0), SIGMOID, TANH; y may be x. */
    lg_status (*act_fwd)(lg_layer_kind act, float slope, size_t n, const float *x, float *y);
    /* dx = dy * act'(x): ReLU and LeakyReLU read the sign of x (or of y,
     * which has the same sign when slope >= 0), Sigmoid and Tanh read y;
     * dx may be dy. */
    lg_status (*act_bwd)(lg_layer_kind act, float slope, size_t n, const float *x, const float *y,
                         const float *dy, float *dx);
    /* y[i][j] = b[j] for the n rows of y [n, k] (a bias broadcast before a
     * GEMM adds on top), and db[j] += sum_i dy[i][j] (its gradient). */
    lg_status (*bias_rows)(int n, int k, const float *b, float *y);
    lg_status (*bias_rows_grad)(int n, int k, const float *dy, float *db);
    /* 2x upsampling of `planes` planes of hi x wi into 2hi x 2wi: nearest,
     * or bilinear as PyTorch's align_corners=False (source o/2 - 1/4, taps
     * 1/4 and 3/4, clamped at the edges). */
    lg_status (*up2_fwd)(int bilinear, int planes, int hi, int wi, const float *x, float *y);
    /* Its adjoint: dx (overwritten) = the sum of dy through the same taps. */
    lg_status (*up2_bwd)(int bilinear, int planes, int hi, int wi, const float *dy, float *dx);
    /* y = gamma (x - mean) invstd + beta per channel (gamma, beta NULL: 1,
     * 0); writes mean[ch] and invstd[ch] (what backward reads) and, with
     * batch statistics, rmean += momentum (mean - rmean), rvar likewise
     * towards the unbiased variance. y may be x. */
    lg_status (*bn_fwd)(const lg_bn_desc *d, const float *gamma, const float *beta, float *rmean,
                        float *rvar, const float *x, float *y, float *mean, float *invstd);
    /* dgamma += sum dy xh, dbeta += sum dy (both NULL: not wanted); dx
     * (NULL: not wanted) = gamma invstd (dy - dbeta/m - xh dgamma/m) with
     * batch statistics, gamma invstd dy without; xh = (x - mean) invstd. */
    lg_status (*bn_bwd)(const lg_bn_desc *d, const float *gamma, const float *mean,
                        const float *invstd, const float *x, const float *dy, float *dx,
                        float *dgamma, float *dbeta);
} lg_backend;

/* The table of kind k, or NULL for an unknown kind or one this CPU cannot
 * run (lg_backend_check says why). */
const lg_backend *lg_backend_get(lg_backend_kind k);
#endif
