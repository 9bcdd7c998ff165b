/* Winograd F(m x m, 5 x 5), m = 2 or 4; see winograd.h for the contract.
 *
 * Layout. Tiles are numbered over the batch (image, tile row, tile column)
 * and processed in blocks of T. For one block, one thread
 *   1. transforms the input tiles of every channel: V[p][c][t] (p the
 *      transform point, t the tile within the block, contiguous),
 *   2. for each point p multiplies U[p] [co x ci] by V[p] [ci x T] into
 *      M[p][o][t] with a register-blocked kernel (RB rows of co by T),
 *   3. transforms M back into m x m output tiles, adds the bias and writes
 *      them into y.
 * V and M of one block stay in that thread's slot (a few hundred KiB to a
 * few MiB), so the batch-sized transformed tensors are never materialised.
 * U (the transformed weights, [p][co/RB][ci][RB]) is computed once per call
 * by all threads: weights change every optimiser step, and it costs
 * co * ci * (25 alpha + 5 alpha^2) flops, about 2% of a call at batch 64.
 * co is padded to a multiple of RB with zero rows.
 *
 * bf16 (lg_wino_conv_*_p with bf16 != 0): steps 1 and 3 stay float32; U
 * and V are rounded to bf16, two input channels per 32-bit word, and step 2
 * runs on AVX512-BF16 dot products (vdpbf16ps: two bf16 products added into
 * each float32 lane), which do twice the multiplications per instruction of
 * the FMA kernel and accumulate in float32. Error: each product U V picks
 * up at most (2u + u^2)|U||V| (u = 2^-8), so an output is off by at most
 * (2u + u^2) |A^T| (sum_c |U_c| .* |V_c|) |A| plus the float32 error of the
 * transforms; tests/test_winograd.c computes that bound tile by tile, with
 * |U| <= |G||g||G^T| and |V| <= |B^T||d||B|.
 *
 * Transform matrices: Toom-Cook points 0, +-1, +-2 (m = 2) and 0, +-1, +-2,
 * +-1/2 (m = 4), plus infinity, derived exactly (rationals) so that
 * A^T [(G g) .* (B^T d)] is the 1-D correlation of d with g; each row of
 * B^T is scaled to max |entry| 1 with G's row scaled inversely, which keeps
 * the transformed inputs the size of the inputs. */
#include <omp.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
/* Patches are read with masked vector gathers (AVX-512 or AVX2). */
#define WINO_GATHER 1
#endif

#include "backend/bf16.h"
#include "backend/cpu/winograd.h"

enum {
    KS = 5,        /* kernel edge */
    VL = 16,       /* tiles per vector */
    NV = 2,        /* vectors per block */
    T = VL * NV,   /* tiles per block */
    RB = 8,        /* rows of co per kernel call */
    MAX_SLOTS = 64 /* threads that may work at once */
};

static const float AT2[2 * 6] = {
    1, 1, 1, 1, 1, 0,
    0, 1, -1, 2, -2, 1};
static const float G2[6 * 5] = {
    1.25f, 0, 0, 0, 0,
    -2.f / 3, -2.f / 3, -2.f / 3, -2.f / 3, -2.f / 3,
    -2.f / 3, 2.f / 3, -2.f / 3, 2.f / 3, -2.f / 3,
    1.f / 12, 1.f / 6, 1.f / 3, 2.f / 3, 4.f / 3,
    1.f / 12, -1.f / 6, 1.f / 3, -2.f / 3, 4.f / 3,
    0, 0, 0, 0, 5};
static const float BT2[6 * 6] = {
    0.8f, 0, -1, 0, 0.2f, 0,
    0, -1, -1, 0.25f, 0.25f, 0,
    0, 1, -1, -0.25f, 0.25f, 0,
    0, -1, -0.5f, 1, 0.5f, 0,
    0, 1, -0.5f, -1, 0.5f, 0,
    0, 0.8f, 0, -1, 0, 0.2f};

static const float AT4[4 * 8] = {
    1, 1, 1, 1, 1, 1, 1, 0,
    0, 1, -1, 2, -2, 0.5f, -0.5f, 0,
    0, 1, 1, 4, 4, 0.25f, 0.25f, 0,
    0, 1, -1, 8, -8, 0.125f, -0.125f, 1};
static const float G4[8 * 5] = {
    -5.25f, 0, 0, 0, 0,
    -17.f / 18, -17.f / 18, -17.f / 18, -17.f / 18, -17.f / 18,
    -17.f / 18, 17.f / 18, -17.f / 18, 17.f / 18, -17.f / 18,
    1.f / 36, 1.f / 18, 1.f / 9, 2.f / 9, 4.f / 9,
    1.f / 36, -1.f / 18, 1.f / 9, -2.f / 9, 4.f / 9,
    32.f / 9, 16.f / 9, 8.f / 9, 4.f / 9, 2.f / 9,
    32.f / 9, -16.f / 9, 8.f / 9, -4.f / 9, 2.f / 9,
    0, 0, 0, 0, 5.25f};
static const float BT4[8 * 8] = {
    -4.f / 21, 0, 1, 0, -1, 0, 4.f / 21, 0,
    0, 4.f / 17, 4.f / 17, -1, -1, 4.f / 17, 4.f / 17, 0,
    0, -4.f / 17, 4.f / 17, 1, -1, -4.f / 17, 4.f / 17, 0,
    0, 0.2f, 0.1f, -1, -0.5f, 0.8f, 0.4f, 0,
    0, -0.2f, 0.1f, 1, -0.5f, -0.8f, 0.4f, 0,
    0, 0.4f, 0.8f, -0.5f, -1, 0.1f, 0.2f, 0,
    0, -0.4f, 0.8f, 0.5f, -1, -0.1f, 0.2f, 0,
    0, -4.f / 21, 0, 1, 0, -1, 0, 4.f / 21};

/* One convolution as computed: for backward-data, the transposed one. */
typedef struct {
    lg_conv_desc d;
    int m, alpha, th, tw, ntiles, copad;
    const float *x, *bias;
    float *y;
    const float *u;
    int gather; /* every input offset fits the 32-bit indices of a gather */
    int bf16;   /* step 2 on bf16 pairs (ub, and vb in each slot) */
    int cpairs; /* ci rounded up to pairs (the odd channel pairs with a 0) */
    uint32_t *ub;
    float *slots;
    size_t slot_floats;
} plan;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Slots in a workspace: one per processor, read once so that a workspace
 * sized earlier always has as many slots as a later call uses. */
static int slots_max(void) {
    static int n;
    if (!n) {
        int p = omp_get_num_procs();
        n = p < 1 ? 1 : p > MAX_SLOTS ? MAX_SLOTS : p;
    }
    return n;
}

static int copad_of(int co) { return (co + RB - 1) / RB * RB; }

static size_t u_floats(const lg_conv_desc *d, int m) {
    return round16((size_t)(m + 4) * (m + 4) * copad_of(d->co) * d->ci);
}

static int cpairs_of(int ci) { return (ci + 1) / 2; }

/* bf16 U: [p][co/RB][ci/2][RB] words, each two channels' bf16 values. */
static size_t ub_words(const lg_conv_desc *d, int m, int bf16) {
    return bf16 ? round16((size_t)(m + 4) * (m + 4) * copad_of(d->co) * cpairs_of(d->ci)) : 0;
}

/* A slot: V (float), M, and in bf16 mode V again as [p][ci/2][T] words. */
static size_t slot_floats(const lg_conv_desc *d, int m, int bf16) {
    const size_t p2 = (size_t)(m + 4) * (m + 4);
    return round16(p2 * d->ci * T) + round16(p2 * copad_of(d->co) * T) +
           (bf16 ? round16(p2 * cpairs_of(d->ci) * T) : 0);
}

/* The stride-1 convolution whose forward pass is d's backward-data. */
static lg_conv_desc transposed(const lg_conv_desc *d) {
    return (lg_conv_desc){.n = d->n, .ci = d->co, .hi = d->ho, .wi = d->wo, .co = d->ci,
                          .kh = KS, .kw = KS, .stride = 1, .pad = KS - 1 - d->pad,
                          .ho = d->hi, .wo = d->wi};
}

int lg_wino_supported(const lg_conv_desc *d) {
    return d && lg_conv_groups(d) == 1 && d->kh == KS && d->kw == KS && d->stride == 1 && d->pad >= 0 &&
           d->pad <= KS - 1 && d->n > 0 && d->ci > 0 && d->co > 0 && d->hi > 0 && d->wi > 0 &&
           d->ho == d->hi + 2 * d->pad - (KS - 1) && d->wo == d->wi + 2 * d->pad - (KS - 1) &&
           d->ho > 0 && d->wo > 0;
}

#ifdef __AVX512F__
static size_t wg_workspace(const lg_conv_desc *d, int bf16);
#endif

int lg_wino_bf16_available(void) {
#ifdef __AVX512BF16__
    return 1;
#else
    return 0;
#endif
}

size_t lg_wino_conv_workspace_p(const lg_conv_desc *d, int bf16) {
    if (!lg_wino_supported(d)) return 0;
    bf16 = bf16 && lg_wino_bf16_available();
    const lg_conv_desc t = transposed(d);
    size_t need = 0;
    for (int m = 2; m <= 4; m += 2)
        for (int k = 0; k < 2; k++) {
            const lg_conv_desc *e = k ? &t : d;
            size_t n = u_floats(e, m) + ub_words(e, m, bf16) +
                       (size_t)slots_max() * slot_floats(e, m, bf16);
            if (n > need) need = n;
        }
#ifdef __AVX512F__
    if (wg_workspace(d, bf16) > need) need = wg_workspace(d, bf16);
#endif
    return need;
}

size_t lg_wino_conv_workspace(const lg_conv_desc *d) { return lg_wino_conv_workspace_p(d, 0); }

void lg_wino_matrices(int m, const float **at, const float **g, const float **bt) {
    *at = m == 2 ? AT2 : AT4;
    *g = m == 2 ? G2 : G4;
    *bt = m == 2 ? BT2 : BT4;
}

/* ---- transforms (inlined with constant matrices, so zeros fold away) ---- */

#define INLINE static inline __attribute__((always_inline))
/* Full unrolling lets gcc fold the constant matrices; clang (the fuzz
 * build) takes minutes over the unrolled code with sanitizers, so it gets
 * plain loops. */
#ifdef __clang__
#define UNROLL(n)
#else
#define UNROLL_PRAGMA(x) _Pragma(#x)
#define UNROLL(n) UNROLL_PRAGMA(GCC unroll n)
#endif

/* out[(i*a+j)*os] = (B^T d B)[i][j], 16 tiles at once; d is [a*a][VL]. */
INLINE void tf_input(const int a, const float *bt, const float *d, float *out, size_t os) {
    float tmp[64 * VL];
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(8)
        for (int j = 0; j < a; j++) {
            float s[VL] = {0};
            UNROLL(8)
            for (int k = 0; k < a; k++) {
                const float c = bt[i * a + k];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * d[(k * a + j) * VL + v];
            }
            memcpy(tmp + (i * a + j) * VL, s, sizeof s);
        }
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(8)
        for (int j = 0; j < a; j++) {
            float s[VL] = {0};
            UNROLL(8)
            for (int k = 0; k < a; k++) {
                const float c = bt[j * a + k];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * tmp[(i * a + k) * VL + v];
            }
            memcpy(out + (i * a + j) * os, s, sizeof s);
        }
}

/* y[u][w] = (A^T M A)[u][w] + bias, 16 tiles at once; M[i][j] is at
 * mm + (i*a+j)*ms, y is [m*m][VL]. */
INLINE void tf_output(const int m, const int a, const float *at, const float *mm, size_t ms,
                      float bias, float *y) {
    float tmp[4 * 8 * VL];
    UNROLL(4)
    for (int u = 0; u < m; u++)
        UNROLL(8)
        for (int j = 0; j < a; j++) {
            float s[VL] = {0};
            UNROLL(8)
            for (int i = 0; i < a; i++) {
                const float c = at[u * a + i];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * mm[(i * a + j) * ms + v];
            }
            memcpy(tmp + (u * a + j) * VL, s, sizeof s);
        }
    UNROLL(4)
    for (int u = 0; u < m; u++)
        UNROLL(4)
        for (int w = 0; w < m; w++) {
            float s[VL];
            for (int v = 0; v < VL; v++) s[v] = bias;
            UNROLL(8)
            for (int j = 0; j < a; j++) {
                const float c = at[w * a + j];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * tmp[(u * a + j) * VL + v];
            }
            memcpy(y + (u * m + w) * VL, s, sizeof s);
        }
}

/* ---- weights ------------------------------------------------------------ */

/* U[p][o/RB][c][o%RB] = (G g G^T)[p] for g = w[o][c] (forward) or the
 * flipped w[c][o] (backward-data, pl->d being the transposed convolution),
 * the RB rows of a panel at once. */
INLINE void weight_tf_panel(const int a, const float *G, const float *w, int flip, int ci, int co,
                            int o0, int c, float *u, size_t pstride) {
    float g[KS * KS][RB], t[8 * KS][RB];
    for (int r = 0; r < RB; r++) {
        const int o = o0 + r;
        for (int e = 0; e < KS * KS; e++)
            g[e][r] = o >= co  ? 0.0f
                      : flip ? w[((size_t)c * co + o) * KS * KS + KS * KS - 1 - e]
                             : w[((size_t)o * ci + c) * KS * KS + e];
    }
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(5)
        for (int j = 0; j < KS; j++) {
            float s[RB] = {0};
            UNROLL(5)
            for (int k = 0; k < KS; k++)
                for (int r = 0; r < RB; r++) s[r] += G[i * KS + k] * g[k * KS + j][r];
            memcpy(t[i * KS + j], s, sizeof s);
        }
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(8)
        for (int j = 0; j < a; j++) {
            float s[RB] = {0};
            UNROLL(5)
            for (int k = 0; k < KS; k++)
                for (int r = 0; r < RB; r++) s[r] += G[j * KS + k] * t[i * KS + k][r];
            memcpy(u + (size_t)(i * a + j) * pstride + (size_t)c * RB, s, sizeof s);
        }
}

static inline uint32_t pack_bf16(float lo, float hi) {
    return (uint32_t)lg_bf16_bits(lo) | (uint32_t)lg_bf16_bits(hi) << 16;
}

static void weight_tf(const plan *pl, const float *w, int flip, float *u) {
    const int ci = pl->d.ci, co = pl->d.co, copad = pl->copad;
    const size_t pstride = (size_t)copad * ci;
#pragma omp parallel for collapse(2) schedule(static)
    for (int o0 = 0; o0 < copad; o0 += RB)
        for (int c = 0; c < ci; c++) {
            float *dst = u + (size_t)o0 * ci;
            if (pl->m == 2)
                weight_tf_panel(6, G2, w, flip, ci, co, o0, c, dst, pstride);
            else
                weight_tf_panel(8, G4, w, flip, ci, co, o0, c, dst, pstride);
        }
    if (!pl->bf16) return;
    /* U[p][o/RB][c][r] -> ub[p][o/RB][c/2][r] = (U[..][c][r], U[..][c+1][r]). */
    const int cp = pl->cpairs, npanels = pl->alpha * pl->alpha * (copad / RB);
#pragma omp parallel for schedule(static)
    for (int q = 0; q < npanels; q++) {
        const float *src = u + (size_t)q * RB * ci;
        uint32_t *dst = pl->ub + (size_t)q * RB * cp;
        for (int c2 = 0; c2 < cp; c2++)
            for (int r = 0; r < RB; r++) {
                const int c = 2 * c2;
                const float hi = c + 1 < ci ? src[(size_t)(c + 1) * RB + r] : 0.0f;
                dst[(size_t)c2 * RB + r] = pack_bf16(src[(size_t)c * RB + r], hi);
            }
    }
}

/* ---- the multiply ------------------------------------------------------- */

/* out[RB][T] = u[ci][RB]^T v[ci][T]: RB x NV vectors of accumulators. */
static void kernel(int ci, const float *restrict u, const float *restrict v, float *restrict out) {
#ifdef __AVX512F__
    __m512 acc[RB][NV];
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) acc[r][k] = _mm512_setzero_ps();
    for (int c = 0; c < ci; c++) {
        __m512 vv[NV];
        for (int k = 0; k < NV; k++) vv[k] = _mm512_loadu_ps(v + (size_t)c * T + k * VL);
        for (int r = 0; r < RB; r++) {
            const __m512 ur = _mm512_set1_ps(u[(size_t)c * RB + r]);
            for (int k = 0; k < NV; k++) acc[r][k] = _mm512_fmadd_ps(ur, vv[k], acc[r][k]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) _mm512_storeu_ps(out + r * T + k * VL, acc[r][k]);
#elif defined(__AVX2__) && defined(__FMA__)
    /* 16 ymm registers hold 4 rows x 16 tiles of accumulators (8 chains,
     * enough to cover the FMA latency) with room for the operands; the four
     * passes reread u and v from L1. Each sum runs over c in the same order
     * as the AVX-512 kernel, so the bits do not depend on the ISA. */
    for (int r0 = 0; r0 < RB; r0 += 4)
        for (int t0 = 0; t0 < T; t0 += 16) {
            __m256 acc[4][2];
            for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
            for (int c = 0; c < ci; c++) {
                const float *vc = v + (size_t)c * T + t0;
                const __m256 v0 = _mm256_loadu_ps(vc), v1 = _mm256_loadu_ps(vc + 8);
                for (int r = 0; r < 4; r++) {
                    const __m256 ur = _mm256_broadcast_ss(u + (size_t)c * RB + r0 + r);
                    acc[r][0] = _mm256_fmadd_ps(ur, v0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(ur, v1, acc[r][1]);
                }
            }
            for (int r = 0; r < 4; r++) {
                _mm256_storeu_ps(out + (r0 + r) * T + t0, acc[r][0]);
                _mm256_storeu_ps(out + (r0 + r) * T + t0 + 8, acc[r][1]);
            }
        }
#else
    float acc[RB][T];
    memset(acc, 0, sizeof acc);
    for (int c = 0; c < ci; c++)
        for (int r = 0; r < RB; r++) {
            const float ur = u[(size_t)c * RB + r];
            for (int t = 0; t < T; t++) acc[r][t] += ur * v[(size_t)c * T + t];
        }
    memcpy(out, acc, sizeof acc);
#endif
}

#ifdef __AVX512BF16__
/* The same on bf16 pairs: u[cp][RB] and v[cp][T] words, float32 sums. */
static void kernel_bf16(int cp, const uint32_t *restrict u, const uint32_t *restrict v,
                        float *restrict out) {
    __m512 acc[RB][NV];
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) acc[r][k] = _mm512_setzero_ps();
    for (int c = 0; c < cp; c++) {
        __m512bh vv[NV];
        for (int k = 0; k < NV; k++)
            vv[k] = (__m512bh)_mm512_loadu_si512(v + (size_t)c * T + k * VL);
        for (int r = 0; r < RB; r++) {
            const __m512bh ur = (__m512bh)_mm512_set1_epi32((int)u[(size_t)c * RB + r]);
            for (int k = 0; k < NV; k++) acc[r][k] = _mm512_dpbf16_ps(acc[r][k], ur, vv[k]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) _mm512_storeu_ps(out + r * T + k * VL, acc[r][k]);
}

/* V[p][c][t] -> vb[p][c/2][t] = (V[p][c][t], V[p][c+1][t]) for one block:
 * vcvtne2ps2bf16 rounds 16 + 16 values to nearest even (as pack_bf16 does,
 * except that it flushes float32 denormals, an absolute error below
 * 2^-126), and one word permutation interleaves the two channels. */
static void pack_v(int p2, int ci, int cp, const float *v, uint32_t *vb) {
    const __m512i ilv = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    for (int p = 0; p < p2; p++)
        for (int c2 = 0; c2 < cp; c2++) {
            const float *lo = v + ((size_t)p * ci + 2 * c2) * T;
            const int has_hi = 2 * c2 + 1 < ci;
            uint32_t *dst = vb + ((size_t)p * cp + c2) * T;
            for (int k = 0; k < NV; k++) {
                const __m512 l = _mm512_loadu_ps(lo + k * VL);
                const __m512 h = has_hi ? _mm512_loadu_ps(lo + T + k * VL) : _mm512_setzero_ps();
                const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(h, l);
                _mm512_storeu_si512(dst + k * VL, _mm512_permutexvar_epi16(ilv, both));
            }
        }
}
#endif

/* Step 2 for one block: M[p] = U[p] V[p] at every transform point; vb is
 * the slot's room for the bf16 V. */
static void multiply(const plan *pl, int p2, const float *v, float *vb, float *mo) {
    const int ci = pl->d.ci, copad = pl->copad;
#ifdef __AVX512BF16__
    if (pl->bf16) {
        const int cp = pl->cpairs;
        uint32_t *vw = (uint32_t *)vb;
        pack_v(p2, ci, cp, v, vw);
        for (int p = 0; p < p2; p++)
            for (int o = 0; o < copad; o += RB)
                kernel_bf16(cp, pl->ub + ((size_t)p * copad + o) * cp, vw + (size_t)p * cp * T,
                            mo + ((size_t)p * copad + o) * T);
        return;
    }
#endif
    (void)vb;
    for (int p = 0; p < p2; p++)
        for (int o = 0; o < copad; o += RB)
            kernel(ci, pl->u + ((size_t)p * copad + o) * ci, v + (size_t)p * ci * T,
                   mo + ((size_t)p * copad + o) * T);
}

/* ---- one block of tiles -------------------------------------------------- */

typedef struct {
    size_t img; /* image index */
    int y0, x0; /* top-left output pixel */
} tile_pos;

/* dd[(i*a+j)*VL + q] = input patch pixel (i, j) of channel c for tile tp[q],
 * 0 in the padding and for q >= nt. */
INLINE void gather_scalar(const plan *pl, const int a, int c, const tile_pos *tp, int nt,
                          float *dd) {
    const lg_conv_desc *d = &pl->d;
    for (int q = 0; q < VL; q++) {
        if (q >= nt) {
            for (int e = 0; e < a * a; e++) dd[e * VL + q] = 0;
            continue;
        }
        const float *src = pl->x + (tp[q].img * d->ci + c) * d->hi * d->wi;
        const int y0 = tp[q].y0 - d->pad, x0 = tp[q].x0 - d->pad;
        for (int i = 0; i < a; i++) {
            const int yy = y0 + i;
            for (int j = 0; j < a; j++) {
                const int xx = x0 + j;
                dd[(i * a + j) * VL + q] = yy >= 0 && yy < d->hi && xx >= 0 && xx < d->wi
                                               ? src[(size_t)yy * d->wi + xx]
                                               : 0.0f;
            }
        }
    }
}

#ifdef __AVX512F__
/* The same with one masked gather per patch pixel: off[q] is tile q's patch
 * origin relative to base, rowm[i] / colm[j] the lanes whose patch row i /
 * column j lies inside the image. */
INLINE void gather_avx512(const int a, const float *base, int wi, const int32_t *off,
                          const __mmask16 *rowm, const __mmask16 *colm, float *dd) {
    const __m512i idx = _mm512_loadu_si512(off);
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            const __m512i at = _mm512_add_epi32(idx, _mm512_set1_epi32(i * wi + j));
            _mm512_storeu_ps(dd + (i * a + j) * VL,
                             _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rowm[i] & colm[j], at,
                                                      base, 4));
        }
}
#elif defined(WINO_GATHER)
/* The AVX2 form: each 16-tile vector as two 8-lane gathers, the lane bits
 * of rowm & colm turned into a vector mask. Masked lanes read nothing. */
static inline __m256 lane_mask8(unsigned bits) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane));
}

INLINE void gather_avx2(const int a, const float *base, int wi, const int32_t *off,
                        const uint16_t *rowm, const uint16_t *colm, float *dd) {
    const __m256i idx[2] = {_mm256_loadu_si256((const __m256i *)off),
                            _mm256_loadu_si256((const __m256i *)(off + 8))};
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            const unsigned mk = (unsigned)(rowm[i] & colm[j]);
            for (int h = 0; h < 2; h++) {
                const __m256i at = _mm256_add_epi32(idx[h], _mm256_set1_epi32(i * wi + j));
                _mm256_storeu_ps(dd + (i * a + j) * VL + 8 * h,
                                 _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, at,
                                                          lane_mask8(mk >> 8 * h & 0xffu), 4));
            }
        }
}
#endif

/* Step 1 for block blk: its tiles' positions (tp, *ntp of them) and
 * V[p][c][t] = B^T d B of every channel's patch. */
INLINE void block_inputs(const plan *pl, const int m, const int a, const float *bt, int blk,
                         tile_pos *tp, int *ntp, float *v) {
    const lg_conv_desc *d = &pl->d;
    const int ci = d->ci;
    const int t0 = blk * T, nt = pl->ntiles - t0 < T ? pl->ntiles - t0 : T;
    *ntp = nt;
    for (int t = 0; t < nt; t++) {
        const int g = t0 + t, r = g % (pl->th * pl->tw);
        tp[t].img = (size_t)(g / (pl->th * pl->tw));
        tp[t].y0 = r / pl->tw * m;
        tp[t].x0 = r % pl->tw * m;
    }

#ifdef WINO_GATHER
    const size_t plane_in = (size_t)d->hi * d->wi;
    /* Lane q of vector k reads tile k*VL+q: its patch origin as an offset
     * from channel c's plane of image 0, and which patch rows and columns
     * lie inside the image as lane masks (padding and missing tiles read
     * nothing and give 0). */
    int32_t off[T];
    uint16_t rowm[NV][8] = {{0}}, colm[NV][8] = {{0}};
    if (pl->gather)
        for (int t = 0; t < T; t++) {
            off[t] = 0;
            if (t >= nt) continue;
            const int y0 = tp[t].y0 - d->pad, x0 = tp[t].x0 - d->pad;
            off[t] = (int32_t)(tp[t].img * ci * plane_in) + y0 * d->wi + x0;
            for (int i = 0; i < a; i++) {
                if (y0 + i >= 0 && y0 + i < d->hi) rowm[t / VL][i] |= (uint16_t)(1u << t % VL);
                if (x0 + i >= 0 && x0 + i < d->wi) colm[t / VL][i] |= (uint16_t)(1u << t % VL);
            }
        }
#endif
    for (int c = 0; c < ci; c++)
        for (int k = 0; k < NV; k++) {
            float dd[64 * VL];
#if defined(__AVX512F__)
            if (pl->gather)
                gather_avx512(a, pl->x + c * plane_in, d->wi, off + k * VL, rowm[k], colm[k], dd);
            else
#elif defined(WINO_GATHER)
            if (pl->gather)
                gather_avx2(a, pl->x + c * plane_in, d->wi, off + k * VL, rowm[k], colm[k], dd);
            else
#endif
                gather_scalar(pl, a, c, tp + k * VL, nt - k * VL, dd);
            tf_input(a, bt, dd, v + (size_t)c * T + k * VL, (size_t)ci * T);
        }
}

INLINE void block(const plan *pl, const int m, const int a, const float *at, const float *bt,
                  int blk, float *slot) {
    const lg_conv_desc *d = &pl->d;
    const int ci = d->ci, co = d->co, copad = pl->copad, p2 = a * a;
    float *v = slot, *mo = slot + round16((size_t)p2 * ci * T);
    tile_pos tp[T];
    int nt;
    block_inputs(pl, m, a, bt, blk, tp, &nt, v);
    multiply(pl, p2, v, mo + round16((size_t)p2 * copad * T), mo);

    const size_t plane_out = (size_t)d->ho * d->wo;
    for (int o = 0; o < co; o++)
        for (int k = 0; k < NV && k * VL < nt; k++) {
            float yt[16 * VL];
            tf_output(m, a, at, mo + (size_t)o * T + k * VL, (size_t)copad * T,
                      pl->bias ? pl->bias[o] : 0.0f, yt);
            for (int q = 0; q < VL && k * VL + q < nt; q++) {
                const tile_pos *t = &tp[k * VL + q];
                float *dst = pl->y + (t->img * co + o) * plane_out;
                const int uh = d->ho - t->y0 < m ? d->ho - t->y0 : m;
                const int uw = d->wo - t->x0 < m ? d->wo - t->x0 : m;
                for (int i = 0; i < uh; i++)
                    for (int j = 0; j < uw; j++)
                        dst[(size_t)(t->y0 + i) * d->wo + t->x0 + j] = yt[(i * m + j) * VL + q];
            }
        }
}

static void block2(const plan *pl, int blk, float *slot) { block(pl, 2, 6, AT2, BT2, blk, slot); }
static void block4(const plan *pl, int blk, float *slot) { block(pl, 4, 8, AT4, BT4, blk, slot); }

/* ---- backward-weights ---------------------------------------------------- */
#ifdef __AVX512F__
/* F(4x4,5x5) only. dU[p][o][c] = sum over tiles of dX[p][o][t] V[p][c][t]
 * (dX = A dY A^T, the gradient of a tile's A^T X A), then
 * dw[o][c] += G^T dU[o][c] G. Each thread sums its statically assigned
 * blocks into its own dU and the threads' dU are added in thread order, so
 * the result depends on the thread count only, as oneDNN's does. V is
 * transformed with the channels in the vector lanes ([p][t][c]) and dX
 * with the tiles in the lanes ([p][o][t]), so the tile sum is a GEMM whose
 * long dimension is the block's tiles. float32: an FMA per tile. bf16: the
 * tile sum runs on vdpbf16ps over pairs of tiles, V's rows paired up as
 * vt[p][t/2][c] words and dX rounded to gx[p][o][t/2] in pair order. */
enum { CV = NV * VL }; /* input channels per kernel call: its NV vectors */

static int cipad_of(int ci) { return (ci + CV - 1) / CV * CV; }

static size_t wg_slot_floats(const lg_conv_desc *d, int bf16) {
    const size_t p2 = 64, cp = (size_t)cipad_of(d->ci), op = (size_t)copad_of(d->co);
    return round16(p2 * T * cp) + round16(p2 * op * T) +
           (bf16 ? round16(p2 * (T / 2) * cp) + round16(p2 * op * (T / 2)) : 0);
}
static size_t wg_du_floats(const lg_conv_desc *d) {
    return round16((size_t)64 * copad_of(d->co) * cipad_of(d->ci));
}
static size_t wg_workspace(const lg_conv_desc *d, int bf16) {
    return (size_t)slots_max() * (wg_slot_floats(d, bf16) + wg_du_floats(d));
}

/* dX[(i*a+j)*os] = (A dY A^T)[i][j] for 16 tiles; dy is [m*m][VL]. */
INLINE void tf_grad(const int m, const int a, const float *at, const float *dy, float *out,
                    size_t os) {
    float tmp[8 * 4 * VL];
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(4)
        for (int w = 0; w < m; w++) {
            float s[VL] = {0};
            UNROLL(4)
            for (int u = 0; u < m; u++) {
                const float c = at[u * a + i];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * dy[(u * m + w) * VL + v];
            }
            memcpy(tmp + (i * m + w) * VL, s, sizeof s);
        }
    UNROLL(8)
    for (int i = 0; i < a; i++)
        UNROLL(8)
        for (int j = 0; j < a; j++) {
            float s[VL] = {0};
            UNROLL(4)
            for (int w = 0; w < m; w++) {
                const float c = at[w * a + j];
                if (c == 0.0f) continue;
                for (int v = 0; v < VL; v++) s[v] += c * tmp[(i * m + w) * VL + v];
            }
            memcpy(out + (i * a + j) * os, s, sizeof s);
        }
}

/* du[r][0..CV) += sum_t gm[r][t] vf[t][0..CV), RB rows, float32. */
static void kernel_wgrad(const float *restrict gm, const float *restrict vf, size_t vstride,
                         float *restrict du, size_t dstride) {
    __m512 acc[RB][NV];
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) acc[r][k] = _mm512_loadu_ps(du + r * dstride + k * VL);
    for (int t = 0; t < T; t++) {
        __m512 vv[NV];
        for (int k = 0; k < NV; k++) vv[k] = _mm512_loadu_ps(vf + (size_t)t * vstride + k * VL);
        for (int r = 0; r < RB; r++) {
            const __m512 g = _mm512_set1_ps(gm[r * T + t]);
            for (int k = 0; k < NV; k++) acc[r][k] = _mm512_fmadd_ps(g, vv[k], acc[r][k]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) _mm512_storeu_ps(du + r * dstride + k * VL, acc[r][k]);
}

#ifdef __AVX512BF16__
/* The same on bf16 pairs of tiles: gx[r][t2] and vt[t2][c] words. */
static void kernel_wgrad_bf16(const uint32_t *restrict gx, const uint32_t *restrict vt,
                              size_t vstride, float *restrict du, size_t dstride) {
    __m512 acc[RB][NV];
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) acc[r][k] = _mm512_loadu_ps(du + r * dstride + k * VL);
    for (int t2 = 0; t2 < T / 2; t2++) {
        __m512bh vv[NV];
        for (int k = 0; k < NV; k++)
            vv[k] = (__m512bh)_mm512_loadu_si512(vt + (size_t)t2 * vstride + k * VL);
        for (int r = 0; r < RB; r++) {
            const __m512bh g = (__m512bh)_mm512_set1_epi32((int)gx[r * (T / 2) + t2]);
            for (int k = 0; k < NV; k++) acc[r][k] = _mm512_dpbf16_ps(acc[r][k], g, vv[k]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < NV; k++) _mm512_storeu_ps(du + r * dstride + k * VL, acc[r][k]);
}

/* vf and gm of one block as bf16 pairs of tiles, then the tile sums. */
static void wgrad_multiply_bf16(const plan *pl, const float *vf, const float *gm, uint32_t *vt,
                                uint32_t *gx, float *du) {
    enum { P2 = 64 };
    const int copad = pl->copad, cipad = cipad_of(pl->d.ci);
    const __m512i ilv = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    for (int p = 0; p < P2; p++) {
        for (int t2 = 0; t2 < T / 2; t2++)
            for (int g = 0; g < cipad / VL; g++) {
                const float *lo = vf + ((size_t)p * T + 2 * t2) * cipad + g * VL;
                const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(lo + cipad),
                                                                  _mm512_loadu_ps(lo));
                _mm512_storeu_si512(vt + ((size_t)p * (T / 2) + t2) * cipad + g * VL,
                                    _mm512_permutexvar_epi16(ilv, both));
            }
        for (int o = 0; o < copad; o++) {
            const float *src = gm + ((size_t)p * copad + o) * T;
            _mm512_storeu_si512(gx + ((size_t)p * copad + o) * (T / 2),
                                (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + VL),
                                                             _mm512_loadu_ps(src)));
        }
    }
    for (int p = 0; p < P2; p++)
        for (int o = 0; o < copad; o += RB)
            for (int c = 0; c < cipad; c += CV)
                kernel_wgrad_bf16(gx + ((size_t)p * copad + o) * (T / 2),
                                  vt + (size_t)p * (T / 2) * cipad + c, (size_t)cipad,
                                  du + ((size_t)p * copad + o) * cipad + c, (size_t)cipad);
}
#endif

/* One block of T tiles into this thread's dU. pl->x is x, pl->y holds dy. */
static void block_wgrad(const plan *pl, int blk, float *slot, float *du) {
    enum { M = 4, A = 8, P2 = 64 };
    const lg_conv_desc *d = &pl->d;
    const int ci = d->ci, co = d->co, copad = pl->copad, cipad = cipad_of(ci);
    const int t0 = blk * T, nt = pl->ntiles - t0 < T ? pl->ntiles - t0 : T;
    float *vf = slot, *gm = vf + round16((size_t)P2 * T * cipad);
    const size_t plane_in = (size_t)d->hi * d->wi, plane_out = (size_t)d->ho * d->wo;
    tile_pos tp[T];
    for (int t = 0; t < nt; t++) {
        const int g = t0 + t, r = g % (pl->th * pl->tw);
        tp[t].img = (size_t)(g / (pl->th * pl->tw));
        tp[t].y0 = r / pl->tw * M;
        tp[t].x0 = r % pl->tw * M;
    }
    /* V with the channels in the lanes: one gather per patch pixel reads 16
     * channels of one tile */
    const __m512i lanes = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32((int)plane_in));
    for (int t = 0; t < T; t++)
        for (int g = 0; g < cipad / VL; g++) {
            const int left = ci - g * VL;
            const __mmask16 cm = left >= VL ? (__mmask16)0xffff
                                 : left > 0 ? (__mmask16)((1u << left) - 1)
                                            : (__mmask16)0;
            const __m512i cidx = _mm512_add_epi32(lanes, _mm512_set1_epi32((int)(g * VL * plane_in)));
            float dd[64 * VL];
            if (t >= nt) {
                memset(dd, 0, sizeof dd);
            } else {
                const float *base = pl->x + tp[t].img * ci * plane_in;
                const int y0 = tp[t].y0 - d->pad, x0 = tp[t].x0 - d->pad;
                for (int i = 0; i < A; i++)
                    for (int j = 0; j < A; j++) {
                        const int yy = y0 + i, xx = x0 + j;
                        __m512 val = _mm512_setzero_ps();
                        if (yy >= 0 && yy < d->hi && xx >= 0 && xx < d->wi && cm)
                            val = _mm512_mask_i32gather_ps(val, cm, cidx,
                                                           base + (size_t)yy * d->wi + xx, 4);
                        _mm512_storeu_ps(dd + (i * A + j) * VL, val);
                    }
            }
            tf_input(A, BT4, dd, vf + (size_t)t * cipad + g * VL, (size_t)T * cipad);
        }
    /* dX with the tiles in the lanes; 0 for missing tiles, rows past co and
     * outputs past the edge */
    for (int o = 0; o < copad; o++)
        for (int k = 0; k < NV; k++) {
            float dt[16 * VL];
            for (int q = 0; q < VL; q++) {
                const int t = k * VL + q;
                const int ok = t < nt && o < co;
                const float *src = ok ? pl->y + (tp[t].img * co + o) * plane_out : NULL;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < M; j++) {
                        const int yy = ok ? tp[t].y0 + i : 0, xx = ok ? tp[t].x0 + j : 0;
                        dt[(i * M + j) * VL + q] = ok && yy < d->ho && xx < d->wo
                                                       ? src[(size_t)yy * d->wo + xx]
                                                       : 0.0f;
                    }
            }
            tf_grad(M, A, AT4, dt, gm + (size_t)o * T + k * VL, (size_t)copad * T);
        }
#ifdef __AVX512BF16__
    if (pl->bf16) {
        uint32_t *vt = (uint32_t *)(gm + round16((size_t)P2 * copad * T));
        uint32_t *gx = vt + round16((size_t)P2 * (T / 2) * cipad);
        wgrad_multiply_bf16(pl, vf, gm, vt, gx, du);
        return;
    }
#endif
    for (int p = 0; p < P2; p++)
        for (int o = 0; o < copad; o += RB)
            for (int c = 0; c < cipad; c += CV)
                kernel_wgrad(gm + ((size_t)p * copad + o) * T, vf + (size_t)p * T * cipad + c,
                             (size_t)cipad, du + ((size_t)p * copad + o) * cipad + c,
                             (size_t)cipad);
}

int lg_wino_wgrad_available(void) { return 1; }

void lg_wino_conv_bwd_filter_p(const lg_conv_desc *d, int bf16, const float *x, const float *dy,
                               float *dw, float *db, float *ws) {
    bf16 = bf16 && lg_wino_bf16_available();
    plan pl = {.d = *d, .m = 4, .alpha = 8, .x = x, .y = (float *)dy, .bf16 = bf16};
    pl.th = (d->ho + 3) / 4;
    pl.tw = (d->wo + 3) / 4;
    pl.ntiles = d->n * pl.th * pl.tw;
    pl.copad = copad_of(d->co);
    const int cipad = cipad_of(d->ci), nblocks = (pl.ntiles + T - 1) / T;
    const size_t sf = wg_slot_floats(d, bf16), df = wg_du_floats(d);
    int nthr = omp_get_max_threads();
    if (nthr > slots_max()) nthr = slots_max();
    if (nthr > nblocks) nthr = nblocks;
    float *dus = ws + (size_t)slots_max() * sf;
    memset(dus, 0, sizeof(float) * df * (size_t)nthr);
#pragma omp parallel num_threads(nthr)
    {
        const int me = omp_get_thread_num();
        float *slot = ws + (size_t)me * sf, *du = dus + (size_t)me * df;
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) block_wgrad(&pl, blk, slot, du);
    }
    /* the threads' sums in thread order, then dw += G^T dU G */
    const size_t n = (size_t)64 * pl.copad * cipad;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (int t = 1; t < nthr; t++) dus[i] += dus[(size_t)t * df + i];
    const int ci = d->ci, co = d->co;
#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < co; o++)
        for (int c = 0; c < ci; c++) {
            float du8[64], t5[8][KS];
            for (int p = 0; p < 64; p++) du8[p] = dus[((size_t)p * pl.copad + o) * cipad + c];
            for (int i = 0; i < 8; i++)
                for (int l = 0; l < KS; l++) {
                    float s = 0;
                    for (int j = 0; j < 8; j++) s += du8[i * 8 + j] * G4[j * KS + l];
                    t5[i][l] = s;
                }
            float *dst = dw + ((size_t)o * ci + c) * KS * KS;
            for (int k = 0; k < KS; k++)
                for (int l = 0; l < KS; l++) {
                    float s = 0;
                    for (int i = 0; i < 8; i++) s += G4[i * KS + k] * t5[i][l];
                    dst[k * KS + l] += s;
                }
        }
    if (!db) return;
    /* one channel per iteration, images in order: a fixed summation order */
    const size_t plane = (size_t)d->ho * d->wo;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < co; o++) {
        double acc = 0;
        for (int i = 0; i < d->n; i++) {
            const float *r = dy + ((size_t)i * co + o) * plane;
            float s = 0;
            for (size_t q = 0; q < plane; q++) s += r[q];
            acc += s;
        }
        db[o] += (float)acc;
    }
}
#else
int lg_wino_wgrad_available(void) { return 0; }
#endif

/* ---- driver ------------------------------------------------------------- */

static void run(const lg_conv_desc *d, int m, int bf16, const float *x, const float *w, int flip,
                const float *b, float *y, float *ws) {
    bf16 = bf16 && lg_wino_bf16_available();
    plan pl = {.d = *d, .m = m, .alpha = m + 4, .x = x, .bias = b, .y = y, .bf16 = bf16,
               .cpairs = cpairs_of(d->ci)};
    pl.th = (d->ho + m - 1) / m;
    pl.tw = (d->wo + m - 1) / m;
    pl.ntiles = d->n * pl.th * pl.tw;
    pl.copad = copad_of(d->co);
    pl.gather = (double)d->n * d->ci * d->hi * d->wi < 0x1p31;
    pl.u = ws;
    pl.ub = (uint32_t *)(ws + u_floats(d, m));
    pl.slots = ws + u_floats(d, m) + ub_words(d, m, bf16);
    pl.slot_floats = slot_floats(d, m, bf16);
    weight_tf(&pl, w, flip, ws);

    const int nblocks = (pl.ntiles + T - 1) / T;
    int nthr = omp_get_max_threads();
    if (nthr > slots_max()) nthr = slots_max();
    if (nthr > nblocks) nthr = nblocks;
#pragma omp parallel num_threads(nthr)
    {
        float *slot = pl.slots + (size_t)omp_get_thread_num() * pl.slot_floats;
        /* Blocks are independent, so handing them out on demand changes
         * nothing in the result and keeps both cores busy when one of them
         * is also serving another process. */
#pragma omp for schedule(dynamic, 1)
        for (int blk = 0; blk < nblocks; blk++) {
            if (m == 2)
                block2(&pl, blk, slot);
            else
                block4(&pl, blk, slot);
        }
    }
}

void lg_wino_conv_fwd_p(const lg_conv_desc *d, int m, int bf16, const float *x, const float *w,
                        const float *b, float *y, float *ws) {
    run(d, m, bf16, x, w, 0, b, y, ws);
}

void lg_wino_conv_bwd_data_p(const lg_conv_desc *d, int m, int bf16, const float *dy,
                             const float *w, float *dx, float *ws) {
    const lg_conv_desc t = transposed(d);
    run(&t, m, bf16, dy, w, 1, NULL, dx, ws);
}

void lg_wino_conv_fwd(const lg_conv_desc *d, int m, const float *x, const float *w,
                      const float *b, float *y, float *ws) {
    lg_wino_conv_fwd_p(d, m, 0, x, w, b, y, ws);
}

void lg_wino_conv_bwd_data(const lg_conv_desc *d, int m, const float *dy, const float *w,
                           float *dx, float *ws) {
    lg_wino_conv_bwd_data_p(d, m, 0, dy, w, dx, ws);
}
