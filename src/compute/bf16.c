/* bf16.c: array conversions (see bf16.h). */
#include "compute/bf16.h"

#define PAR_MIN 65536

void bf16_round_array(float *dst, const float *src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = bf16_round(src[i]);
}

void bf16_from_f32_array(uint16_t *dst, const float *src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = bf16_from_f32(src[i]);
}

void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}
