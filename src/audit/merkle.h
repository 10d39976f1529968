/* merkle.h: a commitment to exactly which posts trained a model.
 *
 * Leaves are the trained posts (kept, train split, in a shard), one per
 * post, as (post id, SHA-256 of the cleaned text), sorted by post id
 * bytewise (then by text hash). A post without an id in its source gets
 * "row:N" (its catalog row). Hashing, so that anyone can check a proof
 * with their own code:
 *
 *   leaf = SHA-256( 0x00 || u32be(len(id)) || id || text_sha256 )   (32 raw bytes)
 *   node = SHA-256( 0x01 || left || right )
 *
 * Level 0 is the leaves in order; each level pairs neighbours, and an odd
 * node at the end moves up unchanged. The root of no leaves is
 * SHA-256(0x02). An inclusion proof is the leaf, its index, the leaf
 * count and the sibling hashes from the bottom; a non-inclusion proof for
 * an id is the inclusion proofs of its neighbours: two consecutive leaves
 * with ids below and above it (or the first or last leaf alone, when the
 * id sorts before or after every leaf). */
#ifndef CHIRP_AUDIT_MERKLE_H
#define CHIRP_AUDIT_MERKLE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct MerkleLeaf {
    char *id;
    uint8_t text_sha256[32];
} MerkleLeaf;

typedef struct MerkleTree {
    MerkleLeaf *leaves;
    size_t n;
    uint8_t root[32];
} MerkleTree;

/* The leaves of a dataset's trained posts, sorted, and their root. */
int merkle_build(MerkleTree *t, sqlite3 *db);
void merkle_free(MerkleTree *t);

void merkle_leaf_hash(const char *id, const uint8_t text_sha256[32], uint8_t out[32]);
void merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

/* The sibling path of leaf i (at most 64 hashes); returns its length. */
int merkle_path(const MerkleTree *t, size_t i, uint8_t path[][32]);

/* The root implied by a leaf hash at index i of n and its path. */
void merkle_root_from_path(const uint8_t leaf[32], size_t i, size_t n, const uint8_t (*path)[32], int len,
                           uint8_t root[32]);

/* The index of id's first leaf, or where it would go (then *found false). */
size_t merkle_find(const MerkleTree *t, const char *id, bool *found);

/* A proof for post id as JSON text (malloc'd): inclusion if the post is a
 * leaf, else non-inclusion. */
char *merkle_prove(const MerkleTree *t, const char *id);

/* Checks a proof (JSON text) against root. Returns 1 valid, 0 invalid
 * (why in the error), -1 when it cannot be read. *inclusion tells which
 * kind it was. */
int merkle_verify(const char *proof_json, const uint8_t root[32], bool *inclusion);

void merkle_hex(const uint8_t h[32], char out[65]);
int merkle_unhex(const char *hex, uint8_t out[32]);

#endif
