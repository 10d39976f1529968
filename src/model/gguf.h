/* gguf.h: writing GGUF v3 files, the format of llama.cpp and ollama
 * (ggml's docs/gguf.md).
 *
 * A file is: magic "GGUF", version 3 (u32), tensor count and key count
 * (u64), the key/value pairs, the tensor infos (name, dims with the
 * fastest-varying first, ggml type, offset into the data section), zero
 * padding to the alignment (general.alignment, 32 here), then the tensor
 * data, each tensor at a multiple of the alignment. Everything is
 * little-endian; a string is a u64 length and its bytes, no NUL.
 *
 * The writer collects keys and tensors, then writes the file atomically.
 * Tensor data is copied in when added, converted to the tensor's type:
 * f32, f16 (IEEE half, rounded to nearest even), bf16 (compute/bf16.h) or q8_0 (blocks of 32
 * values: an f16 scale d = max|x| / 127, then 32 int8 round(x / d)). */
#ifndef CHIRP_MODEL_GGUF_H
#define CHIRP_MODEL_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* ggml tensor types this writer produces. */
typedef enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_BF16 = 30 } GgmlType;

/* GGUF value types (the spec's numbering). */
enum {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12
};

#define GGUF_ALIGNMENT 32

typedef struct GgufWriter GgufWriter;

GgufWriter *gguf_writer_new(void);
void gguf_writer_free(GgufWriter *w);

void gguf_add_u32(GgufWriter *w, const char *key, uint32_t v);
void gguf_add_f32(GgufWriter *w, const char *key, float v);
void gguf_add_bool(GgufWriter *w, const char *key, int v);
void gguf_add_string(GgufWriter *w, const char *key, const char *v);
void gguf_add_string_array(GgufWriter *w, const char *key, char *const *v, size_t n);
void gguf_add_i32_array(GgufWriter *w, const char *key, const int32_t *v, size_t n);

/* A tensor of shape ne[0..n_dims) (ne[0] the fastest-varying dimension)
 * from row-major float data, stored as type. q8_0 needs ne[0] to be a
 * multiple of 32. Returns 0, or -1 with the error set. */
int gguf_add_tensor(GgufWriter *w, const char *name, int n_dims, const uint64_t *ne, GgmlType type, const float *data);

/* Writes the file atomically. Returns 0 or -1 with the error set. */
int gguf_write(const GgufWriter *w, const char *path);

/* Conversions, exposed for tests. */
uint16_t gguf_f32_to_f16(float f);
float gguf_f16_to_f32(uint16_t h);
/* n values (a multiple of 32) into n / 32 blocks of 34 bytes. */
void gguf_quantize_q8_0(const float *x, size_t n, uint8_t *out);

#endif
