/* rng.h: a small deterministic random generator (splitmix64 + Box-Muller).
 *
 * Used for weight initialisation and shuffled data order. Deterministic
 * across platforms so a seed names the same model everywhere; it does not
 * try to reproduce PyTorch's generator (goldens load weights from files). */
#ifndef CHIRP_MODEL_RNG_H
#define CHIRP_MODEL_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t state;
} Rng;

static inline void rng_seed(Rng *r, uint64_t seed) { r->state = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL; }

static inline uint64_t rng_u64(Rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Uniform integer in [0, n), n > 0 (tiny modulo bias is irrelevant here). */
static inline uint64_t rng_below(Rng *r, uint64_t n) { return rng_u64(r) % n; }

static inline double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
