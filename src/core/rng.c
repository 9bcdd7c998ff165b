/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011). Counter = (block offset, stream), key = seed. Element i of a fill
 * comes from block offset + i/4, so results do not depend on thread count. */
#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "lapgan/core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void lg_philox(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void lg_rng_init(lg_rng *r, uint64_t seed, uint64_t stream) {
    r->seed = seed;
    r->stream = stream;
    r->offset = 0;
}

/* 24 random bits -> [0, 1) and (0, 1]. */
static inline float u01(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }
static inline float u01_open0(uint32_t u) { return ((float)(u >> 8) + 1.0f) * (1.0f / 16777216.0f); }

#define LG_RNG_PAR_MIN 65536 /* below this, threads cost more than they save */

/* lo + (hi - lo) u as one fused multiply-add, written out so that every
 * compiler and the vector path below round it alike. */
static inline float affine(float lo, float scale, uint32_t u) { return fmaf(scale, u01(u), lo); }

#ifdef __AVX512F__
/* The high 32 bits of each lane's 32 x 32-bit product with m. */
static inline __m512i mulhi_epu32(__m512i a, __m512i m) {
    const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a, m), 32);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

/* Blocks counter .. counter + 15 of lg_philox side by side: lane i of
 * x[k] is word k of block counter + i, the same arithmetic lane by lane. */
static void philox16(uint64_t seed, uint64_t stream, uint64_t counter, __m512i x[4]) {
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lo = _mm512_set1_epi32((int)(uint32_t)counter);
    __m512i c0 = _mm512_add_epi32(lo, lanes);
    __m512i c1 = _mm512_set1_epi32((int)(uint32_t)(counter >> 32));
    c1 = _mm512_mask_add_epi32(c1, _mm512_cmplt_epu32_mask(c0, lo), c1, _mm512_set1_epi32(1));
    __m512i c2 = _mm512_set1_epi32((int)(uint32_t)stream);
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)(stream >> 32));
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        const __m512i h0 = mulhi_epu32(c0, m0), l0 = _mm512_mullo_epi32(c0, m0);
        const __m512i h1 = mulhi_epu32(c2, m1), l1 = _mm512_mullo_epi32(c2, m1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)k0));
        c2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)k1));
        c1 = l1;
        c3 = l0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    x[0] = c0, x[1] = c1, x[2] = c2, x[3] = c3;
}

/* out[0..64) = the uniforms of blocks counter .. counter + 15. */
static void uniform64(const lg_rng *r, uint64_t counter, float lo, float scale, float *out) {
    __m512i x[4];
    philox16(r->seed, r->stream, counter, x);
    float f[4][16];
    for (int k = 0; k < 4; k++) {
        const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x[k], 8)),
                                       _mm512_set1_ps(1.0f / 16777216.0f));
        _mm512_storeu_ps(f[k], _mm512_fmadd_ps(_mm512_set1_ps(scale), u, _mm512_set1_ps(lo)));
    }
    for (int b = 0; b < 16; b++)
        for (int k = 0; k < 4; k++) out[4 * b + k] = f[k][b];
}
#endif

void lg_rng_uniform(lg_rng *r, float *out, size_t n, float lo, float hi) {
    const size_t blocks = (n + 3) / 4;
    const float scale = hi - lo;
    size_t done = 0; /* blocks filled 16 at a time */
#ifdef __AVX512F__
    const size_t groups = n / 64;
#pragma omp parallel for schedule(static) if (n >= LG_RNG_PAR_MIN)
    for (size_t g = 0; g < groups; g++) uniform64(r, r->offset + 16 * g, lo, scale, out + 64 * g);
    done = 16 * groups;
#endif
#pragma omp parallel for schedule(static) if (n >= LG_RNG_PAR_MIN)
    for (size_t b = done; b < blocks; b++) {
        uint32_t x[4];
        lg_philox(r->seed, r->stream, r->offset + b, x);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = affine(lo, scale, x[j]);
    }
    r->offset += blocks;
}

void lg_rng_normal(lg_rng *r, float *out, size_t n, float mean, float std) {
    const size_t blocks = (n + 3) / 4;
    const float two_pi = 6.28318530717958647692f;
#pragma omp parallel for schedule(static) if (n >= LG_RNG_PAR_MIN)
    for (size_t b = 0; b < blocks; b++) {
        uint32_t x[4];
        float z[4];
        lg_philox(r->seed, r->stream, r->offset + b, x);
        for (int p = 0; p < 2; p++) {
            float rad = sqrtf(-2.0f * logf(u01_open0(x[2 * p])));
            float th = two_pi * u01(x[2 * p + 1]);
            z[2 * p] = rad * cosf(th);
            z[2 * p + 1] = rad * sinf(th);
        }
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = mean + std * z[j];
    }
    r->offset += blocks;
}

uint32_t lg_rng_u32(lg_rng *r) {
    uint32_t x[4];
    lg_philox(r->seed, r->stream, r->offset++, x);
    return x[0];
}

uint64_t lg_rng_below(lg_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    /* Rejection sampling on 64-bit draws: no modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint32_t x[4];
        lg_philox(r->seed, r->stream, r->offset++, x);
        uint64_t v = ((uint64_t)x[0] << 32) | x[1];
        if (v < limit) return v % n;
        v = ((uint64_t)x[2] << 32) | x[3];
        if (v < limit) return v % n;
    }
}

void lg_rng_shuffle(lg_rng *r, int *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lg_rng_below(r, i);
        int t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* splitmix64's finaliser: a bijection that scatters nearby inputs. */
static uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

lg_rng lg_rng_keyed(uint64_t seed, uint64_t stream, uint64_t draw, uint64_t row) {
    lg_rng r = {seed, mix64(stream ^ mix64(draw + 0x9E3779B97F4A7C15ull)), row << 32};
    return r;
}
