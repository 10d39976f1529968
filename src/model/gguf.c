/* gguf.c: the GGUF v3 writer (see gguf.h). */
#include "compute/bf16.h"
#include "model/gguf.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Tensor {
    char *name;
    int n_dims;
    uint64_t ne[4];
    GgmlType type;
    uint8_t *data;
    size_t nbytes;
} Tensor;

struct GgufWriter {
    Buf kv; /* the key/value section, already serialised */
    uint64_t n_kv;
    Tensor *tensors;
    size_t n_tensors, cap;
};

/* ---- little-endian serialisation ---- */

static void put_u32(Buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_push(b, x, 4);
}

static void put_u64(Buf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(Buf *b, const char *s) {
    size_t n = strlen(s);
    put_u64(b, n);
    buf_push(b, s, n);
}

static void put_key(GgufWriter *w, const char *key, uint32_t type) {
    put_str(&w->kv, key);
    put_u32(&w->kv, type);
    w->n_kv++;
}

GgufWriter *gguf_writer_new(void) { return xcalloc(1, sizeof(GgufWriter)); }

void gguf_writer_free(GgufWriter *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    buf_free(&w->kv);
    free(w);
}

void gguf_add_u32(GgufWriter *w, const char *key, uint32_t v) {
    put_key(w, key, GGUF_UINT32);
    put_u32(&w->kv, v);
}

void gguf_add_f32(GgufWriter *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_key(w, key, GGUF_FLOAT32);
    put_u32(&w->kv, u);
}

void gguf_add_bool(GgufWriter *w, const char *key, int v) {
    put_key(w, key, GGUF_BOOL);
    buf_putc(&w->kv, v ? 1 : 0);
}

void gguf_add_string(GgufWriter *w, const char *key, const char *v) {
    put_key(w, key, GGUF_STRING);
    put_str(&w->kv, v);
}

void gguf_add_string_array(GgufWriter *w, const char *key, char *const *v, size_t n) {
    put_key(w, key, GGUF_ARRAY);
    put_u32(&w->kv, GGUF_STRING);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) put_str(&w->kv, v[i]);
}

void gguf_add_i32_array(GgufWriter *w, const char *key, const int32_t *v, size_t n) {
    put_key(w, key, GGUF_ARRAY);
    put_u32(&w->kv, GGUF_INT32);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) put_u32(&w->kv, (uint32_t)v[i]);
}

/* ---- conversions ---- */

uint16_t gguf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0)); /* inf, nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow: inf */
    if (e <= 0) {                                   /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) half++; /* may carry into the exponent: right */
    return (uint16_t)(sign | half);
}

float gguf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    uint32_t x = exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp - 15 + 127) << 23) | (man << 13);
    memcpy(&f, &x, 4);
    return f;
}

void gguf_quantize_q8_0(const float *x, size_t n, uint8_t *out) {
    for (size_t b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t *blk = out + 34 * b;
        uint16_t dh = gguf_f32_to_f16(d);
        blk[0] = (uint8_t)dh;
        blk[1] = (uint8_t)(dh >> 8);
        for (int i = 0; i < 32; i++) blk[2 + i] = (uint8_t)(int8_t)roundf(v[i] * id);
    }
}

/* ---- tensors and the file ---- */

int gguf_add_tensor(GgufWriter *w, const char *name, int n_dims, const uint64_t *ne, GgmlType type, const float *data) {
    if (n_dims < 1 || n_dims > 4) return chirp_fail("gguf: tensor %s has %d dimensions", name, n_dims);
    size_t n = 1;
    for (int i = 0; i < n_dims; i++) n *= (size_t)ne[i];
    if (type == GGML_Q8_0 && ne[0] % 32 != 0)
        return chirp_fail("gguf: q8_0 needs rows of a multiple of 32 values; %s has %llu", name,
                          (unsigned long long)ne[0]);
    if (w->n_tensors == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->tensors = xrealloc(w->tensors, w->cap * sizeof(Tensor));
    }
    Tensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->n_dims = n_dims;
    memcpy(t->ne, ne, (size_t)n_dims * sizeof(uint64_t));
    t->type = type;
    t->nbytes = type == GGML_F32 ? 4 * n : type == GGML_F16 || type == GGML_BF16 ? 2 * n : n / 32 * 34;
    t->data = xmalloc(t->nbytes + 1);
    if (type == GGML_F32) {
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            uint8_t *p = t->data + 4 * i;
            p[0] = (uint8_t)u, p[1] = (uint8_t)(u >> 8), p[2] = (uint8_t)(u >> 16), p[3] = (uint8_t)(u >> 24);
        }
    } else if (type == GGML_F16 || type == GGML_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = type == GGML_F16 ? gguf_f32_to_f16(data[i]) : bf16_from_f32(data[i]);
            t->data[2 * i] = (uint8_t)h;
            t->data[2 * i + 1] = (uint8_t)(h >> 8);
        }
    } else {
        gguf_quantize_q8_0(data, n, t->data);
    }
    return 0;
}

static size_t align_up(size_t x) { return (x + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT; }

int gguf_write(const GgufWriter *w, const char *path) {
    Buf head = {0};
    buf_push(&head, "GGUF", 4);
    put_u32(&head, 3);
    put_u64(&head, w->n_tensors);
    put_u64(&head, w->n_kv);
    buf_push(&head, w->kv.data, w->kv.len);
    size_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const Tensor *t = &w->tensors[i];
        put_str(&head, t->name);
        put_u32(&head, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&head, t->ne[d]);
        put_u32(&head, (uint32_t)t->type);
        put_u64(&head, offset);
        offset = align_up(offset + t->nbytes);
    }
    static const uint8_t zeros[GGUF_ALIGNMENT] = {0};
    buf_push(&head, zeros, align_up(head.len) - head.len);
    AtomicFile af;
    int rc = file_begin(&af, path);
    if (rc == 0 && fwrite(head.data, 1, head.len, af.fp) != head.len) rc = chirp_fail_errno("%s", path);
    for (size_t i = 0; rc == 0 && i < w->n_tensors; i++) {
        const Tensor *t = &w->tensors[i];
        size_t pad = align_up(t->nbytes) - t->nbytes;
        if (fwrite(t->data, 1, t->nbytes, af.fp) != t->nbytes ||
            (i + 1 < w->n_tensors && pad > 0 && fwrite(zeros, 1, pad, af.fp) != pad))
            rc = chirp_fail_errno("%s", path);
    }
    if (rc == 0) rc = file_commit(&af);
    else if (af.fp) file_abort(&af);
    buf_free(&head);
    return rc;
}
