/* hash.h: fast non-cryptographic 64-bit hashing.
 *
 * Used for text fingerprints (exact dedup, catalog text_hash, train/val
 * split) and hash tables. Not for security: an adversary can build
 * collisions. 64 bits keep accidental collisions negligible (about 1 in
 * 10^7 for a billion distinct posts). */
#ifndef CHIRP_UTIL_HASH_H
#define CHIRP_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *data, size_t len, uint64_t seed);

/* Finalizer with full avalanche (splitmix64's): mixes one word. */
static inline uint64_t hash_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* 16 lowercase hex digits plus NUL. */
void hash_hex(uint64_t h, char out[17]);

#endif
