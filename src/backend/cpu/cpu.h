/* The fast CPU backend: OpenBLAS sgemm and OpenMP loops. Convolutions have
 * more than one implementation (im2col + sgemm here; oneDNN may join), so
 * each is exported under its own prefix and the table in cpu.c picks. */
#ifndef LG_BACKEND_CPU_H
#define LG_BACKEND_CPU_H
#include "backend/ops.h"

extern const lg_backend lg_backend_cpu_table;
extern const lg_backend lg_backend_cpu_bf16_table;

/* Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX-BF16); the
 * environment variable LG_NO_BF16=1 makes it answer no (tests of the
 * refusal on machines that have it). */
int lg_cpu_has_bf16(void);
/* The activation and upsampling ops of both cpu tables (backend/ops.h),
 * elementwise.c. */
lg_status lg_cpu_act_fwd(lg_layer_kind act, float slope, size_t n, const float *x, float *y);
lg_status lg_cpu_act_bwd(lg_layer_kind act, float slope, size_t n, const float *x,
                         const float *y, const float *dy, float *dx);
lg_status lg_cpu_bias_rows(int n, int k, const float *b, float *y);
lg_status lg_cpu_bias_rows_grad(int n, int k, const float *dy, float *db);
lg_status lg_cpu_up2_fwd(int bilinear, int planes, int hi, int wi, const float *x, float *y);
lg_status lg_cpu_up2_bwd(int bilinear, int planes, int hi, int wi, const float *dy, float *dx);
/* Batch norm of both cpu tables (batchnorm.c). */
lg_status lg_cpu_bn_fwd(const lg_bn_desc *d, const float *gamma, const float *beta, float *rmean,
                        float *rvar, const float *x, float *y, float *mean, float *invstd);
lg_status lg_cpu_bn_bwd(const lg_bn_desc *d, const float *gamma, const float *mean,
                        const float *invstd, const float *x, const float *dy, float *dx,
                        float *dgamma, float *dbeta);
/* Sums and noise (elementwise.c), the pyramid's resampling (resample.c), dropout (dropout.c), L2 feature pooling (featpool.c), concatenation
 * (concat.c), the loss (loss.c) and the optimiser updates (update.c) of
 * both cpu tables. */
lg_status lg_cpu_add(size_t n, const float *a, const float *b, float *out);
lg_status lg_cpu_uniform(lg_rng *r, size_t n, float lo, float hi, float *out);
lg_status lg_cpu_uniform_rows(int n, size_t per, uint64_t seed, uint64_t stream, uint64_t draw,
                              const uint64_t *rows, float lo, float hi, float *out);
lg_status lg_cpu_dropout(const lg_dropout_desc *d, const float *in, float *out);
size_t lg_cpu_resample_workspace(const lg_resample_desc *d);
lg_status lg_cpu_resample(const lg_resample_desc *d, const float *x, float *y, float *ws);
lg_status lg_cpu_featpool_fwd(int n, int co, int k, size_t plane, const float *x, float *y);
lg_status lg_cpu_featpool_bwd(int n, int co, int k, size_t plane, const float *x, const float *y,
                              const float *dy, float *dx);
lg_status lg_cpu_concat(int n, size_t na, size_t nb, const float *a, const float *b, float *out);
lg_status lg_cpu_split(int n, size_t na, size_t nb, const float *g, float *a, float *b);
lg_status lg_cpu_bce_logits(int n, const float *logits, const float *targets, float scale,
                            double *sum, float *dlogits);
lg_status lg_cpu_sgd_update(const lg_update_desc *d, float *p, const float *g, float *v);
lg_status lg_cpu_adam_update(const lg_update_desc *d, float *p, const float *g, float *m,
                             float *v);
/* LG_OK, or the error that a meaningless LG_BF16_WINOGRAD value gives. */
lg_status lg_cpu_bf16_settings_check(void);

void lg_cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* im2col + sgemm convolution, one chunk of images per GEMM. The chunk is as
 * many images as fit a bounded workspace, so small feature maps still give
 * OpenBLAS a wide GEMM while large ones never need more than one image's
 * column matrix. */
int lg_cpu_im2col_chunk(const lg_conv_desc *d);
size_t lg_cpu_im2col_conv_workspace(const lg_conv_desc *d);
void lg_cpu_im2col_conv_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                            float *y, float *ws);
void lg_cpu_im2col_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w,
                                 float *dx, float *ws);
void lg_cpu_im2col_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                   float *dw, float *db, float *ws);

/* The convolution algorithm of the cpu table. AUTO (the default) takes
 * LG_CONV_ALGO from the environment (auto, dnnl, winograd, winograd2,
 * winograd4, im2col) and otherwise the measured rule: Winograd F(4x4,5x5)
 * for stride-1 5x5 convolutions with ci >= 32, in the forward pass only
 * when co >= 32 too, and in backward-data; oneDNN for everything else. A forced Winograd applies where it is
 * supported (winograd.h); other shapes keep oneDNN. Backward-filter is
 * never Winograd. For benches and tests; set it before timing, not while
 * another thread runs convolutions. */
typedef enum {
    LG_CONV_ALGO_AUTO = 0,
    LG_CONV_ALGO_DNNL,
    LG_CONV_ALGO_WINOGRAD,
    LG_CONV_ALGO_WINOGRAD2,
    LG_CONV_ALGO_WINOGRAD4,
    LG_CONV_ALGO_IM2COL
} lg_cpu_conv_algo;
void lg_cpu_conv_set_algo(lg_cpu_conv_algo a);
/* The algorithm named s (as in LG_CONV_ALGO), or -1. */
int lg_cpu_conv_algo_parse(const char *s);
/* The Winograd tile edge the table uses now for d's forward pass
 * (bwd_data 0) or backward-data pass (1): 2 or 4, 0 for none. */
int lg_cpu_conv_wino_tile(const lg_conv_desc *d, int bwd_data);
/* Whether the table runs d's backward-weights pass through Winograd
 * F(4x4) now (only in builds with AVX-512 code). */
int lg_cpu_conv_wino_wgrad(const lg_conv_desc *d);
#endif
