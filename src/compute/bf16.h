/* bf16.h: bfloat16, the top 16 bits of an IEEE float (8-bit exponent,
 * 7-bit stored mantissa, so about 2-3 significant decimal digits).
 *
 * Conversion from float rounds to nearest, ties to even, as PyTorch and
 * the CPUs' bf16 instructions do; NaN stays NaN. Conversion to float is
 * exact, and so is the product of two bf16 values in float (8 + 8
 * significant bits fit in float's 24): a float GEMM over operands that
 * hold bf16 values computes what a bf16 matrix unit accumulating in float
 * computes, up to the order of the additions. */
#ifndef CHIRP_COMPUTE_BF16_H
#define CHIRP_COMPUTE_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f rounded to the nearest bf16 value, kept as a float. */
static inline float bf16_round(float f) { return bf16_to_f32(bf16_from_f32(f)); }

/* Array forms, split over the OpenMP team when large. dst may equal src
 * in bf16_round_array. */
void bf16_round_array(float *dst, const float *src, size_t n);
void bf16_from_f32_array(uint16_t *dst, const float *src, size_t n);
void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n);

#endif
