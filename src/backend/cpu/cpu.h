/* The fast CPU backend: OpenBLAS sgemm and OpenMP loops. Convolutions have
 * more than one implementation (im2col + sgemm here; oneDNN may join), so
 * each is exported under its own prefix and the table in cpu.c picks. */
#ifndef LG_BACKEND_CPU_H
#define LG_BACKEND_CPU_H
#include "backend/ops.h"

extern const lg_backend lg_backend_cpu_table;

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
#endif
