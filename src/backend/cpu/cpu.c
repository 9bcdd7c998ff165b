#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"
#include "backend/cpu/winograd.h"

/* OpenBLAS reads op(A) and op(B) through the transpose flags, so callers
 * never materialise a transposed copy. */
void lg_cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- which convolution runs ---------------------------------------------- */

static const char *const algo_names[] = {"auto", "dnnl", "winograd", "winograd2", "winograd4",
                                         "im2col"};
static int forced = -1; /* -1: LG_CONV_ALGO not read yet */

int lg_cpu_conv_algo_parse(const char *s) {
    for (int a = 0; a < (int)(sizeof algo_names / sizeof *algo_names); a++)
        if (s && !strcmp(s, algo_names[a])) return a;
    return -1;
}

void lg_cpu_conv_set_algo(lg_cpu_conv_algo a) {
    if (a == LG_CONV_ALGO_AUTO) {
        int e = lg_cpu_conv_algo_parse(getenv("LG_CONV_ALGO"));
        forced = e < 0 ? LG_CONV_ALGO_AUTO : e;
    } else {
        forced = a;
    }
}

static lg_cpu_conv_algo current(void) {
    if (forced < 0) lg_cpu_conv_set_algo(LG_CONV_ALGO_AUTO);
    return (lg_cpu_conv_algo)forced;
}

/* The automatic rule measured in bench/README.md ("Winograd"): F(4x4) wins
 * 2-2.4x wherever both channel counts are wide; with few output channels
 * (128 -> 3) oneDNN's forward is faster but its backward-data is 2.5x
 * slower than Winograd's; with few input channels oneDNN wins both. */
int lg_cpu_conv_wino_tile(const lg_conv_desc *d, int bwd_data) {
    if (!lg_wino_supported(d)) return 0;
    switch (current()) {
    case LG_CONV_ALGO_WINOGRAD2: return 2;
    case LG_CONV_ALGO_WINOGRAD4: return 4;
    case LG_CONV_ALGO_WINOGRAD: return 4;
    case LG_CONV_ALGO_AUTO: return d->ci >= 32 && (bwd_data || d->co >= 32) ? 4 : 0;
    default: return 0;
    }
}

static size_t cpu_conv_workspace(const lg_conv_desc *d) {
    size_t a = lg_cpu_im2col_conv_workspace(d), b = lg_wino_conv_workspace(d);
    return a > b ? a : b;
}

static void cpu_conv_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                         float *y, float *ws) {
    int m = lg_cpu_conv_wino_tile(d, 0);
    if (m)
        lg_wino_conv_fwd(d, m, x, w, b, y, ws);
    else if (current() == LG_CONV_ALGO_IM2COL)
        lg_cpu_im2col_conv_fwd(d, x, w, b, y, ws);
    else
        lg_cpu_dnnl_conv_fwd(d, x, w, b, y, ws);
}

static void cpu_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w, float *dx,
                              float *ws) {
    int m = lg_cpu_conv_wino_tile(d, 1);
    if (m)
        lg_wino_conv_bwd_data(d, m, dy, w, dx, ws);
    else if (current() == LG_CONV_ALGO_IM2COL)
        lg_cpu_im2col_conv_bwd_data(d, dy, w, dx, ws);
    else
        lg_cpu_dnnl_conv_bwd_data(d, dy, w, dx, ws);
}

static void cpu_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                float *dw, float *db, float *ws) {
    if (current() == LG_CONV_ALGO_IM2COL)
        lg_cpu_im2col_conv_bwd_filter(d, x, dy, dw, db, ws);
    else
        lg_cpu_dnnl_conv_bwd_filter(d, x, dy, dw, db, ws);
}

const lg_backend lg_backend_cpu_table = {
    .kind = LG_BACKEND_CPU,
    .name = "cpu",
    .gemm = lg_cpu_gemm,
    /* oneDNN for every convolution (2-3.6x im2col + OpenBLAS on the 5x5
     * layers) except the forward and backward-data passes of the wide
     * stride-1 5x5 ones, which go to Winograd (bench/README.md); im2col,
     * with this workspace, is oneDNN's fallback. */
    .conv_workspace = cpu_conv_workspace,
    .conv_fwd = cpu_conv_fwd,
    .conv_bwd_data = cpu_conv_bwd_data,
    .conv_bwd_filter = cpu_conv_bwd_filter,
};
