/* simd.h: the few vector operations the fp32 inference kernels need, for
 * the widest unit the compiler targets: AVX-512 (16 floats), AVX2 + FMA
 * (8 floats), or plain C (1 float). kernels.c is written once against
 * these, so every machine runs the same algorithm and only the width
 * changes.
 *
 * Every multiply-add is fused (vector FMA, or fmaf in plain C): the
 * kernels promise that each output is the same single rounding chain in
 * every code path, which only holds if no path splits a multiply-add. */
#ifndef CHIRP_COMPUTE_SIMD_H
#define CHIRP_COMPUTE_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SIMD_NAME "AVX-512"
#define VW 16
typedef __m512 vf;
typedef __mmask16 vmask;
static inline vmask vmask_first(int n) { return (vmask)((1u << n) - 1); }
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vload_m(m, p) _mm512_maskz_loadu_ps(m, p)
#define vstore_m(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define vset1(x) _mm512_set1_ps(x)
#define vzero() _mm512_setzero_ps()
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vadd(a, b) _mm512_add_ps(a, b)
#define vsum(v) _mm512_reduce_add_ps(v)
/* VW bf16 values widened to floats (exact: a bf16 is a float's top half). */
static inline vf vload_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SIMD_NAME "AVX2+FMA"
#define VW 8
typedef __m256 vf;
typedef __m256i vmask;
static inline vmask vmask_first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vload_m(m, p) _mm256_maskload_ps(p, m)
#define vstore_m(p, m, v) _mm256_maskstore_ps(p, m, v)
#define vset1(x) _mm256_set1_ps(x)
#define vzero() _mm256_setzero_ps()
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vadd(a, b) _mm256_add_ps(a, b)
static inline float vsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline vf vload_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

#else
#define SIMD_NAME "scalar"
#define VW 1
typedef float vf;
typedef int vmask;
static inline vmask vmask_first(int n) { return n > 0; }
#define vload(p) (*(p))
#define vstore(p, v) (*(p) = (v))
#define vload_m(m, p) ((m) ? *(p) : 0.0f)
#define vstore_m(p, m, v) ((m) ? (void)(*(p) = (v)) : (void)0)
#define vset1(x) (x)
#define vzero() 0.0f
#define vfma(a, b, c) fmaf(a, b, c)
#define vadd(a, b) ((a) + (b))
#define vsum(v) (v)
static inline vf vload_bf16(const uint16_t *p) {
    uint32_t u = (uint32_t)*p << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
#endif

#endif
