#include <cblas.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"

/* OpenBLAS reads op(A) and op(B) through the transpose flags, so callers
 * never materialise a transposed copy. */
void lg_cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const lg_backend lg_backend_cpu_table = {
    .kind = LG_BACKEND_CPU,
    .name = "cpu",
    .gemm = lg_cpu_gemm,
    /* oneDNN for every convolution: 2-3.6x im2col + OpenBLAS on the 5x5
     * layers (bench/README.md); im2col, with this workspace, is its fallback. */
    .conv_workspace = lg_cpu_im2col_conv_workspace,
    .conv_fwd = lg_cpu_dnnl_conv_fwd,
    .conv_bwd_data = lg_cpu_dnnl_conv_bwd_data,
    .conv_bwd_filter = lg_cpu_dnnl_conv_bwd_filter,
};
