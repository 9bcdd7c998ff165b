/* The one op table. Layers call the heavy arithmetic through it and never
 * know which implementation runs: ref/ is naive loops (the test oracle),
 * cpu/ is OpenBLAS/oneDNN + OpenMP; a cuda/ table can join later without a
 * single #ifdef in src/nn. All buffers are float32, row-major / NCHW. */
#ifndef LG_BACKEND_OPS_H
#define LG_BACKEND_OPS_H
#include "lapgan/nn.h"

typedef struct {
    int n, ci, hi, wi; /* input */
    int co, kh, kw;    /* weights [co, ci, kh, kw] */
    int stride, pad;   /* same in both directions; zero padding */
    int ho, wo;        /* output (planned by the caller) */
} lg_conv_desc;

typedef struct lg_backend {
    lg_backend_kind kind;
    const char *name;
    /* C[M,N] = alpha * op(A) op(B) + beta * C, row-major (cblas semantics). */
    void (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
    /* Scratch floats a convolution needs; the caller allocates the max once. */
    size_t (*conv_workspace)(const lg_conv_desc *d);
    /* y = conv(x, w) + b (b may be NULL). */
    void (*conv_fwd)(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                     float *y, float *ws);
    /* dx = conv_transpose(dy, w) (overwrites dx). */
    void (*conv_bwd_data)(const lg_conv_desc *d, const float *dy, const float *w, float *dx,
                          float *ws);
    /* dw += x (*) dy; db += sum(dy) (db may be NULL). */
    void (*conv_bwd_filter)(const lg_conv_desc *d, const float *x, const float *dy, float *dw,
                            float *db, float *ws);
} lg_backend;

const lg_backend *lg_backend_get(lg_backend_kind k);
#endif
