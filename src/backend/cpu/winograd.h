/* Winograd convolution F(m x m, 5 x 5) (Lavin & Gray 2016) for stride-1 5x5
 * convolutions, forward and backward-data, with the op-table semantics of
 * src/backend/ops.h (NCHW, weights [co, ci, 5, 5], dx overwritten).
 *
 * Each m x m output tile is computed from an alpha x alpha input tile
 * (alpha = m + 4) as Y = A^T [ sum_c (G g G^T) .* (B^T d B) ] A: the
 * channel sum becomes, for each of the alpha^2 transform points, a GEMM
 * [co x ci] x [ci x tiles], with alpha^2 multiplies per m^2 outputs instead
 * of 25 per output (2.78x fewer for m = 2, 6.25x for m = 4). Backward-data
 * of a stride-1 convolution is the same computation on dy with the flipped,
 * transposed kernel and padding 4 - pad.
 *
 * Work is split into blocks of tiles, each transformed, multiplied and
 * transformed back by one thread in its own slot of the workspace, so
 * nothing but the caller's workspace is touched and the result does not
 * depend on the thread count. Never call from inside an OpenMP region. */
#ifndef LG_BACKEND_CPU_WINOGRAD_H
#define LG_BACKEND_CPU_WINOGRAD_H
#include "backend/ops.h"

/* Whether d is a convolution these kernels compute: 5x5, stride 1, pad 0-4. */
int lg_wino_supported(const lg_conv_desc *d);

/* Workspace floats for lg_wino_conv_fwd and lg_wino_conv_bwd_data with
 * either tile size (0 when d is not supported). */
size_t lg_wino_conv_workspace(const lg_conv_desc *d);

/* m is the output tile edge: 2 (F(2x2,5x5)) or 4 (F(4x4,5x5)). d must be
 * supported and ws hold lg_wino_conv_workspace(d) floats. */
void lg_wino_conv_fwd(const lg_conv_desc *d, int m, const float *x, const float *w,
                      const float *b, float *y, float *ws);
void lg_wino_conv_bwd_data(const lg_conv_desc *d, int m, const float *dy, const float *w,
                           float *dx, float *ws);

/* bf16 != 0: the transformed operands are multiplied as bf16 pairs on
 * AVX512-BF16 dot products with float32 sums (winograd.c derives the error
 * bound); ws holds lg_wino_conv_workspace_p(d, 1) floats. A build without
 * AVX512-BF16 code (lg_wino_bf16_available() == 0) computes in fp32. */
int lg_wino_bf16_available(void);
size_t lg_wino_conv_workspace_p(const lg_conv_desc *d, int bf16);
void lg_wino_conv_fwd_p(const lg_conv_desc *d, int m, int bf16, const float *x, const float *w,
                        const float *b, float *y, float *ws);
void lg_wino_conv_bwd_data_p(const lg_conv_desc *d, int m, int bf16, const float *dy,
                             const float *w, float *dx, float *ws);

/* Backward-weights of a supported d (F(4x4,5x5)): dw += x (*) dy,
 * db += sum(dy) (db may be NULL), through the transposed transforms; the
 * tile sum runs as float32 FMAs, or with bf16 != 0 (and AVX512-BF16 code)
 * on bf16 pairs of tiles with float32 sums. Deterministic for a given
 * thread count. Only in builds with AVX-512 code (lg_wino_wgrad_available());
 * ws holds lg_wino_conv_workspace_p(d, bf16) floats. */
int lg_wino_wgrad_available(void);
#ifdef __AVX512F__
void lg_wino_conv_bwd_filter_p(const lg_conv_desc *d, int bf16, const float *x, const float *dy,
                               float *dw, float *db, float *ws);
#endif

/* The transform matrices of tile m (row-major): A^T [m x alpha], G [alpha x
 * 5], B^T [alpha x alpha], alpha = m + 4. For error bounds in tests. */
void lg_wino_matrices(int m, const float **at, const float **g, const float **bt);
#endif
