/* fastmath.h: exp and tanh that vectorise.
 *
 * libm's expf/tanhf are scalar calls that gcc will not vectorise without
 * -ffast-math; GELU and softmax call them tens of millions of times per
 * step. These versions are branch-free (range reduction by ln 2, degree-7
 * polynomial, exponent built from bits), accurate to about 1-2 ulp, and
 * inline into the caller's loops, which the compiler turns into AVX-512. */
#ifndef CHIRP_MODEL_FASTMATH_H
#define CHIRP_MODEL_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float fm_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;          /* ln2 split hi/lo: hi has few bits, */
    r = r - n * -2.12194440e-4f;             /* so n*hi is exact */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fm_tanhf(float u) {
    float a = fabsf(u);
    float e = fm_expf(2.0f * a);
    float t = 1.0f - 2.0f / (e + 1.0f);
    return u < 0.0f ? -t : t;
}

#endif
