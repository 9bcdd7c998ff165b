#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

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

/* Backward-weights through Winograd F(4x4) (AVX-512 builds): measured in
 * bench/README.md ("Winograd backward-weights"), 2.9x oneDNN's fp32 kernel
 * and 1.4x its bf16 one on 128 -> 128 maps, still ahead with 3 output
 * maps, behind both with a handful of input maps. Forcing any Winograd
 * algorithm forces it here too. */
int lg_cpu_conv_wino_wgrad(const lg_conv_desc *d) {
    if (!lg_wino_supported(d) || !lg_wino_wgrad_available()) return 0;
    switch (current()) {
    case LG_CONV_ALGO_WINOGRAD2:
    case LG_CONV_ALGO_WINOGRAD4:
    case LG_CONV_ALGO_WINOGRAD: return 1;
    case LG_CONV_ALGO_AUTO: return d->ci >= 32;
    default: return 0;
    }
}

/* ---- bf16 ----------------------------------------------------------------- */

/* AMX-BF16 from CPUID (leaf 7: EDX bit 22) with the OS saving the tile
 * state (XCR0 bits 17-18); clang's __builtin_cpu_supports knows no
 * "amx-bf16". oneDNN asks the kernel for tile permission itself. */
static int has_amx_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22))) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & (3u << 17)) == (3u << 17);
}

/* AVX512-BF16 (Zen 4/5, Cooper Lake, Sapphire Rapids) or AMX-BF16 tiles. */
int lg_cpu_has_bf16(void) {
    const char *hide = getenv("LG_NO_BF16");
    if (hide && *hide && strcmp(hide, "0")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") || has_amx_bf16();
}

/* What the bf16 table does with the layers the fp32 rule gives to Winograd
 * (LG_BF16_WINOGRAD, read once):
 *   fp32  the float32 Winograd kernels, all three directions: on AVX512-BF16
 *         without AMX they beat oneDNN's bf16 direct kernels there (1.4-2x,
 *         bench/README.md "bf16") with float32-sized error;
 *   bf16  Winograd multiplying in bf16: faster still, but F(4x4,5x5)'s
 *         transforms amplify the rounding to a 4.5% relative error
 *         (docs/nn.md; one of two quality runs in docs/eval.md fell outside
 *         the fp32 seeds' FD spread);
 *   dnnl  oneDNN's bf16 primitives, like every other layer.
 * Unset: fp32 on every CPU. With AMX-BF16 (Xeon family 6 model 207,
 * 2026-12-06) oneDNN 2.6's AMX primitives ran these layers no faster
 * than the fp32 kernels (128 -> 128 at 28x28, batch 128, three passes:
 * 435 vs 414 ms) and the whole bf16 step slower (51.0 vs 58.5 img/s,
 * bench/README.md "bf16 on AMX"). */
typedef enum { WINO_BF16_BAD = -1, WINO_BF16_DNNL, WINO_BF16_FP32, WINO_BF16_MULT } wino_bf16_mode;

static wino_bf16_mode wino_bf16(void) {
    static int v = -2;
    if (v == -2) {
        const char *e = getenv("LG_BF16_WINOGRAD");
        v = !e || !*e               ? WINO_BF16_FP32
            : !strcmp(e, "bf16")    ? WINO_BF16_MULT
            : !strcmp(e, "fp32")    ? WINO_BF16_FP32
            : !strcmp(e, "dnnl")    ? WINO_BF16_DNNL
                                    : WINO_BF16_BAD;
    }
    return (wino_bf16_mode)v;
}

/* A value of LG_BF16_WINOGRAD that means nothing is an error (from
 * lg_backend_check, and on every bf16 convolution), not a silent default. */
lg_status lg_cpu_bf16_settings_check(void) {
    LG_CHECK(wino_bf16() != WINO_BF16_BAD, LG_ERR_ARG,
             "LG_BF16_WINOGRAD=%s: expected fp32, bf16 or dnnl", getenv("LG_BF16_WINOGRAD"));
    LG_CHECK(wino_bf16() != WINO_BF16_MULT || lg_wino_bf16_available(), LG_ERR_UNSUPPORTED,
             "LG_BF16_WINOGRAD=bf16: this build has no AVX512-BF16 Winograd kernel (compiled "
             "without -mavx512bf16); use fp32 or dnnl");
    return LG_OK;
}

/* Whether a Winograd layer runs as Winograd in this precision, and whether
 * it multiplies in bf16 (asked for only where this build has the AVX512-BF16
 * kernel: lg_cpu_bf16_settings_check refuses it elsewhere). */
static int wino_runs(int bf16) { return !bf16 || wino_bf16() != WINO_BF16_DNNL; }
static int wino_mult(int bf16) { return bf16 && wino_bf16() == WINO_BF16_MULT; }

/* ---- the tables ------------------------------------------------------------ */

static lg_status cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta, float *c,
                          int ldc) {
    lg_cpu_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return LG_OK;
}

static size_t conv_workspace(const lg_conv_desc *d, int bf16) {
    size_t a = bf16 ? 0 : lg_cpu_im2col_conv_workspace(d), b = lg_wino_conv_workspace_p(d, bf16);
    return a > b ? a : b;
}

static lg_status no_im2col_bf16(void) {
    return lg_error(LG_ERR_UNSUPPORTED,
                    "LG_CONV_ALGO=im2col has no bf16 path (use auto, dnnl or winograd)");
}

/* One rule for both precisions: Winograd where lg_cpu_conv_wino_tile says
 * (in bf16 as wino_bf16 says), im2col when forced, oneDNN for everything
 * else. */
static lg_status conv_fwd(const lg_conv_desc *d, int bf16, const float *x, const float *w,
                          const float *b, float *y, float *ws) {
    if (bf16) LG_TRY(lg_cpu_bf16_settings_check());
    int m = lg_cpu_conv_wino_tile(d, 0);
    if (m && wino_runs(bf16)) {
        lg_wino_conv_fwd_p(d, m, wino_mult(bf16), x, w, b, y, ws);
        return LG_OK;
    }
    if (current() == LG_CONV_ALGO_IM2COL) {
        if (bf16) return no_im2col_bf16();
        lg_cpu_im2col_conv_fwd(d, x, w, b, y, ws);
        return LG_OK;
    }
    return lg_dnnl_conv_fwd_p(d, bf16, x, w, b, y);
}

static lg_status conv_bwd_data(const lg_conv_desc *d, int bf16, const float *dy, const float *w,
                               float *dx, float *ws) {
    if (bf16) LG_TRY(lg_cpu_bf16_settings_check());
    int m = lg_cpu_conv_wino_tile(d, 1);
    if (m && wino_runs(bf16)) {
        lg_wino_conv_bwd_data_p(d, m, wino_mult(bf16), dy, w, dx, ws);
        return LG_OK;
    }
    if (current() == LG_CONV_ALGO_IM2COL) {
        if (bf16) return no_im2col_bf16();
        lg_cpu_im2col_conv_bwd_data(d, dy, w, dx, ws);
        return LG_OK;
    }
    return lg_dnnl_conv_bwd_data_p(d, bf16, dy, w, dx);
}

static lg_status conv_bwd_filter(const lg_conv_desc *d, int bf16, const float *x,
                                 const float *dy, float *dw, float *db, float *ws) {
    if (bf16) LG_TRY(lg_cpu_bf16_settings_check());
    if (current() == LG_CONV_ALGO_IM2COL) {
        if (bf16) return no_im2col_bf16();
        lg_cpu_im2col_conv_bwd_filter(d, x, dy, dw, db, ws);
        return LG_OK;
    }
#ifdef __AVX512F__
    if (lg_cpu_conv_wino_wgrad(d) && wino_runs(bf16)) {
        lg_wino_conv_bwd_filter_p(d, wino_mult(bf16), x, dy, dw, db, ws);
        return LG_OK;
    }
#endif
    return lg_dnnl_conv_bwd_filter_p(d, bf16, x, dy, dw, db);
}

static size_t f32_workspace(const lg_conv_desc *d) { return conv_workspace(d, 0); }
static lg_status f32_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                         float *y, float *ws) {
    return conv_fwd(d, 0, x, w, b, y, ws);
}
static lg_status f32_bwd_data(const lg_conv_desc *d, const float *dy, const float *w, float *dx,
                              float *ws) {
    return conv_bwd_data(d, 0, dy, w, dx, ws);
}
static lg_status f32_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                float *dw, float *db, float *ws) {
    return conv_bwd_filter(d, 0, x, dy, dw, db, ws);
}

static size_t bf16_workspace(const lg_conv_desc *d) { return conv_workspace(d, 1); }
static lg_status bf16_fwd(const lg_conv_desc *d, const float *x, const float *w, const float *b,
                          float *y, float *ws) {
    return conv_fwd(d, 1, x, w, b, y, ws);
}
static lg_status bf16_bwd_data(const lg_conv_desc *d, const float *dy, const float *w,
                               float *dx, float *ws) {
    return conv_bwd_data(d, 1, dy, w, dx, ws);
}
static lg_status bf16_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                 float *dw, float *db, float *ws) {
    return conv_bwd_filter(d, 1, x, dy, dw, db, ws);
}

/* The ops both tables run in float32 whatever the precision. */
#define LG_CPU_FLOAT32_OPS                                                              \
    .act_fwd = lg_cpu_act_fwd, .act_bwd = lg_cpu_act_bwd, .bias_rows = lg_cpu_bias_rows, \
    .bias_rows_grad = lg_cpu_bias_rows_grad, .up2_fwd = lg_cpu_up2_fwd,                 \
    .up2_bwd = lg_cpu_up2_bwd, .bn_fwd = lg_cpu_bn_fwd, .bn_bwd = lg_cpu_bn_bwd,          \
    .dropout = lg_cpu_dropout, .featpool_fwd = lg_cpu_featpool_fwd,                     \
    .featpool_bwd = lg_cpu_featpool_bwd, .concat = lg_cpu_concat, .split = lg_cpu_split, \
    .bce_logits = lg_cpu_bce_logits, .sgd_update = lg_cpu_sgd_update,                   \
    .adam_update = lg_cpu_adam_update, .resample_workspace = lg_cpu_resample_workspace,   \
    .resample = lg_cpu_resample, .add = lg_cpu_add, .uniform = lg_cpu_uniform,             \
    .uniform_rows = lg_cpu_uniform_rows,

const lg_backend lg_backend_cpu_table = {
    .kind = LG_BACKEND_CPU,
    .name = "cpu",
    .gemm = cpu_gemm,
    /* oneDNN for every convolution (2-3.6x im2col + OpenBLAS on the 5x5
     * layers) except the wide stride-1 5x5 ones, which go to Winograd
     * (bench/README.md). */
    .conv_workspace = f32_workspace,
    .conv_fwd = f32_fwd,
    .conv_bwd_data = f32_bwd_data,
    .conv_bwd_filter = f32_bwd_filter,
    LG_CPU_FLOAT32_OPS
};

/* Mixed precision: oneDNN's bf16 primitives (bf16 operands, float32 sums)
 * for every convolution the fp32 rule gives to oneDNN; the Winograd layers
 * as wino_bf16 says (by default the fp32 kernels, oneDNN bf16 with AMX).
 * GEMMs (linear layers, a few percent of a step) stay float32; every
 * buffer a net holds stays float32. */
const lg_backend lg_backend_cpu_bf16_table = {
    .kind = LG_BACKEND_CPU_BF16,
    .name = "cpu-bf16",
    .gemm = cpu_gemm,
    .conv_workspace = bf16_workspace,
    .conv_fwd = bf16_fwd,
    .conv_bwd_data = bf16_bwd_data,
    .conv_bwd_filter = bf16_bwd_filter,
    LG_CPU_FLOAT32_OPS
};
