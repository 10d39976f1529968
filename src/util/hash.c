/* hash.c: a word-at-a-time multiply-rotate hash with a splitmix finalizer.
 * Reads 8 bytes per step (memcpy keeps it alignment- and UB-safe), so
 * hashing a tweet costs a few dozen cycles. */
#include "util/hash.h"

#include <string.h>

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= hash_mix64(w + 0x9e3779b97f4a7c15ULL);
        h = rotl(h, 27) * 0x87c37b91114253d5ULL + 0x52dce729;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
    h ^= hash_mix64(w ^ 0xc2b2ae3d27d4eb4fULL);
    return hash_mix64(h);
}

void hash_hex(uint64_t h, char out[17]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[h & 15];
        h >>= 4;
    }
    out[16] = '\0';
}
