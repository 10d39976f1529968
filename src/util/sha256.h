/* sha256.h: SHA-256 (FIPS 180-4): data shard hashes in the manifest, API key checks. */
#ifndef CHIRP_UTIL_SHA256_H
#define CHIRP_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct Sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char block[64];
    size_t fill;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, unsigned char out[32]);
/* Hex digest of a whole file (65 chars with NUL); -1 with error on I/O failure. */
int sha256_file_hex(const char *path, char out[65]);

#endif
