/* safetensors.h: reading and writing the safetensors format.
 *
 * A file is an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and [begin, end) byte range in the data
 * section, then the raw little-endian data. We read the whole file into
 * memory (models here are at most a few hundred MB) and validate every
 * offset against the file size, so truncated or hostile files are rejected
 * with a clear message instead of being read out of bounds. */
#ifndef CHIRP_MODEL_SAFETENSORS_H
#define CHIRP_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    char dtype[8]; /* "F32", "F16", "BF16", "I64", ... */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const unsigned char *data; /* points into the file buffer */
} StTensor;

typedef struct StFile {
    unsigned char *buf; /* whole file */
    size_t len;
    StTensor *tensors;
    int count;
} StFile;

/* Reads and validates path. Returns 0, or -1 with the error set
 * ("path: what is wrong"). */
int st_open(StFile *f, const char *path);
void st_close(StFile *f);

/* Same on a buffer already in memory (malloc'd; the StFile takes
 * ownership, also on failure). path only names it in errors. */
int st_parse(StFile *f, unsigned char *buf, size_t len, const char *path);

/* The tensor with this exact name, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);

/* Number of elements (product of the shape). */
size_t st_numel(const StTensor *t);

/* One tensor to write: F32 from data, or BF16 from bf16 when that is set. */
typedef struct StWriteTensor {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
    const uint16_t *bf16;
} StWriteTensor;

/* Writes the tensors (in the given order) to path atomically, with
 * {"__metadata__":{"format":"pt"}} and the header padded to 8 bytes. */
int st_write(const char *path, const StWriteTensor *tensors, int count);

#endif
