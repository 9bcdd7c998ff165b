/* bfloat16: the top half of an IEEE float32 (8 exponent bits, 7 stored
 * mantissa bits). Rounding is to nearest, ties to even, as oneDNN's reorders
 * and the AVX512-BF16 conversions do; NaN stays NaN. The unit roundoff is
 * u = 2^-8: |bf16(x) - x| <= u |x| for every normal x, the figure the error
 * bounds of the bf16 ops (and their tests) are built from. */
#ifndef LG_BACKEND_BF16_H
#define LG_BACKEND_BF16_H
#include <stdint.h>
#include <string.h>

#define LG_BF16_UNIT_ROUNDOFF 0x1p-8

static inline uint16_t lg_bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float lg_bf16_round(float f) {
    const uint32_t u = (uint32_t)lg_bf16_bits(f) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}
#endif
