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

/* Inverted dropout's masked copy of n rows of `per` values: out = in /
 * (1 - p) where kept, 0 where dropped (p = 1 drops all). Row i's uniforms
 * come from lg_rng_keyed(seed, stream, draw, rows ? rows[i] : i) in order,
 * U[0, 1) from lg_rng_uniform, and a value is kept when its uniform is >= p:
 * uniform j decides value j, or with maps > 0 (spatial dropout) map j of
 * the row's maps equal planes. Forward and backward are the same copy. out
 * may be in. */
typedef struct {
    int n;
    size_t per;
    int maps; /* 0: one uniform per value; else per = maps * plane */
    float p;
    uint64_t seed, stream, draw;
    const uint64_t *rows;
} lg_dropout_desc;

/* The optimiser updates over n parameters p with gradients g (g' = g + wd p):
 * SGD: v = a v + b g', p -= lr v (v NULL: p -= lr g');
 * Adam: m = b1 m + (1 - b1) g', v = b2 v + (1 - b2) g'^2,
 *       p -= step m / (sqrt(v) / bc2 + eps). */
typedef struct {
    size_t n;
    float lr, wd, a, b;                 /* SGD */
    float step, bc2, beta1, beta2, eps; /* Adam */
} lg_update_desc;

/* Separable resampling of `planes` planes h x w into rows.out x cols.out
 * (the pyramid's d(.) and u(.), src/pyramid/resample.c builds the taps):
 * y[o][q] = alpha sum_t sum_s ry(o, t) cx(q, s) x[iy(o, t)][ix(q, s)] + beta
 * y[o][q], an axis's taps for output i at [i T, i T + T) of idx and w
 * (unused taps weigh 0). beta = 0 ignores y's old contents. */
typedef struct {
    int out, T;
    const int *idx;
    const float *w;
} lg_taps;
typedef struct {
    long planes;
    int h, w;
    lg_taps rows, cols; /* rows: h -> rows.out; cols: w -> cols.out */
    float alpha, beta;
} lg_resample_desc;

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
    /* Scratch floats a resampling needs (lg_resample_desc); the caller
     * allocates it and may keep it for later calls of the same size. */
    size_t (*resample_workspace)(const lg_resample_desc *d);
    lg_status (*resample)(const lg_resample_desc *d, const float *x, float *y, float *ws);
    /* out = a + b over n values (b NULL: a copy); out may be a or b. */
    lg_status (*add)(size_t n, const float *a, const float *b, float *out);
    /* U[lo, hi) noise as lg_rng_uniform draws it: n values from r (which
     * moves on ceil(n / 4) blocks), or per rows, row i's `per` values from
     * lg_rng_keyed(seed, stream, draw, rows[i]). */
    lg_status (*uniform)(lg_rng *r, size_t n, float lo, float hi, float *out);
    lg_status (*uniform_rows)(int n, size_t per, uint64_t seed, uint64_t stream, uint64_t draw,
                              const uint64_t *rows, float lo, float hi, float *out);
    /* Dropout's masked copy (lg_dropout_desc). */
    lg_status (*dropout)(const lg_dropout_desc *d, const float *in, float *out);
    /* L2 pooling of n samples' k*co maps of `plane` values into co maps:
     * y[c] = sqrt(sum_j x[c k + j]^2); backward dx[c k + j] = dy[c] x[c k +
     * j] / y[c], 0 where y[c] = 0. */
    lg_status (*featpool_fwd)(int n, int co, int k, size_t plane, const float *x, float *y);
    lg_status (*featpool_bwd)(int n, int co, int k, size_t plane, const float *x, const float *y,
                              const float *dy, float *dx);
    /* out [n, ca + cb, plane] = a [n, ca, plane] then b [n, cb, plane] per
     * sample (channels as blocks of `plane` floats); split is its adjoint,
     * a or b NULL: that part not wanted. */
    lg_status (*concat)(int n, size_t na, size_t nb, const float *a, const float *b, float *out);
    lg_status (*split)(int n, size_t na, size_t nb, const float *g, float *a, float *b);
    /* Binary cross-entropy on n logits: *sum = sum_i max(x,0) - x t +
     * log(1 + e^-|x|) (in double), dlogits (NULL: not wanted) = (sigmoid(x)
     * - t) scale / n. */
    lg_status (*bce_logits)(int n, const float *logits, const float *targets, float scale,
                            double *sum, float *dlogits);
    lg_status (*sgd_update)(const lg_update_desc *d, float *p, const float *g, float *v);
    lg_status (*adam_update)(const lg_update_desc *d, float *p, const float *g, float *m,
                             float *v);
} lg_backend;

/* The table of kind k, or NULL for an unknown kind or one this CPU cannot
 * run (lg_backend_check says why). */
const lg_backend *lg_backend_get(lg_backend_kind k);
#endif
