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

/* For loops whose time is these functions' arithmetic (GELU): gcc
 * vectorises with 256-bit registers by default even where AVX-512 has
 * 512; elementwise results do not depend on the width. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define FM_WIDE __attribute__((target("prefer-vector-width=512")))
#else
#define FM_WIDE
#endif

static inline float fm_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round to nearest by the 1.5*2^23 trick: floorf would not vectorise
     * (it may raise FP exceptions, so gcc keeps it scalar) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f; /* ln2 split hi/lo: hi has few bits, */
    r = r - n * -2.12194440e-4f;    /* so n*hi is exact */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* NaN must still come out as NaN (through p) so a diverged run is
     * caught; only the integer exponent is kept defined. */
    float nn = n == n ? n : 0.0f;
    union {
        uint32_t u;
        float f;
    } scale = {.u = (uint32_t)((int32_t)nn + 127) << 23}; /* 2^n; union punning is defined in C11 */
    return p * scale.f;
}

static inline float fm_tanhf(float u) {
    float a = fabsf(u);
    float e = fm_expf(2.0f * a);
    float t = 1.0f - 2.0f / (e + 1.0f);
    return u < 0.0f ? -t : t;
}

#endif
