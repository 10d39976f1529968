/* safetensors.c: safetensors reader/writer (see safetensors.h). */
#include "model/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/file.h"

static size_t dtype_size(const char *dt) {
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32") || !strcmp(dt, "U32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16") || !strcmp(dt, "U16")) return 2;
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64") || !strcmp(dt, "U64")) return 8;
    if (!strcmp(dt, "U8") || !strcmp(dt, "I8") || !strcmp(dt, "BOOL")) return 1;
    return 0;
}

static int parse_tensor(StTensor *t, const char *name, json_t *v, const unsigned char *data, size_t data_len,
                        const char *path) {
    if (!json_is_object(v)) return chirp_fail("%s: tensor %s: header entry is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype");
    json_t *shape = json_object_get(v, "shape");
    json_t *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) || json_array_size(offs) != 2)
        return chirp_fail("%s: tensor %s: needs dtype, shape and data_offsets", path, name);
    size_t es = dtype_size(json_string_value(dt));
    if (es == 0) return chirp_fail("%s: tensor %s: unknown dtype %s", path, name, json_string_value(dt));
    snprintf(t->dtype, sizeof t->dtype, "%s", json_string_value(dt));
    if (json_array_size(shape) > ST_MAX_DIMS) return chirp_fail("%s: tensor %s: too many dimensions", path, name);
    t->ndim = (int)json_array_size(shape);
    size_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) return chirp_fail("%s: tensor %s: bad shape", path, name);
        t->shape[i] = json_integer_value(d);
        if (t->shape[i] != 0 && numel > SIZE_MAX / 16 / (size_t)t->shape[i])
            return chirp_fail("%s: tensor %s: shape too large", path, name);
        numel *= (size_t)t->shape[i];
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return chirp_fail("%s: tensor %s: bad data_offsets", path, name);
    size_t begin = (size_t)json_integer_value(b), end = (size_t)json_integer_value(e);
    if (end > data_len)
        return chirp_fail("%s: tensor %s: data ends at byte %zu but the file holds only %zu (truncated?)", path, name,
                          end, data_len);
    if (end - begin != numel * es)
        return chirp_fail("%s: tensor %s: %zu bytes for %zu elements of %s", path, name, end - begin, numel, t->dtype);
    t->nbytes = end - begin;
    t->data = data + begin;
    t->name = xstrdup(name);
    return 0;
}

int st_open(StFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    size_t len = 0;
    unsigned char *buf = (unsigned char *)file_read_all(path, &len);
    if (!buf) return -1;
    return st_parse(f, buf, len, path);
}

int st_parse(StFile *f, unsigned char *buf, size_t len, const char *path) {
    memset(f, 0, sizeof *f);
    if (len < 8) {
        free(buf);
        return chirp_fail("%s: not a safetensors file (shorter than 8 bytes)", path);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > len - 8) {
        free(buf);
        return chirp_fail("%s: header length %llu exceeds the file size %zu (truncated or not safetensors)", path,
                          (unsigned long long)hlen, len);
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, 0, &jerr);
    if (!root || !json_is_object(root)) {
        if (root) json_decref(root);
        free(buf);
        return chirp_fail("%s: bad safetensors header: %s", path, root ? "not an object" : jerr.text);
    }
    const unsigned char *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    size_t n = json_object_size(root);
    f->tensors = xcalloc(n ? n : 1, sizeof(StTensor));
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) continue;
        StTensor *t = &f->tensors[f->count];
        if (parse_tensor(t, key, val, data, data_len, path) != 0) {
            json_decref(root);
            f->buf = buf;
            st_close(f);
            return -1;
        }
        f->count++;
    }
    json_decref(root);
    f->buf = buf;
    f->len = len;
    return 0;
}

void st_close(StFile *f) {
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

size_t st_numel(const StTensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

int st_write(const char *path, const StWriteTensor *tensors, int count) {
    /* Header built by hand (not jansson) so tensor order is preserved. */
    size_t cap = 256 + (size_t)count * 256, hl = 0;
    char *hdr = xmalloc(cap);
    hl += (size_t)snprintf(hdr + hl, cap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = 0; i < count; i++) {
        const StWriteTensor *t = &tensors[i];
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        if (cap - hl < 512 + strlen(t->name)) hdr = xrealloc(hdr, cap = cap * 2 + strlen(t->name) + 512);
        size_t es = t->bf16 ? 2 : 4;
        hl += (size_t)snprintf(hdr + hl, cap - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                               t->bf16 ? "BF16" : "F32");
        for (int d = 0; d < t->ndim; d++)
            hl += (size_t)snprintf(hdr + hl, cap - hl, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        hl += (size_t)snprintf(hdr + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + numel * es);
        off += numel * es;
    }
    if (cap - hl < 16) hdr = xrealloc(hdr, cap += 16);
    hdr[hl++] = '}';
    while (hl % 8) hdr[hl++] = ' ';
    AtomicFile af;
    if (file_begin(&af, path) != 0) {
        free(hdr);
        return -1;
    }
    FILE *fp = af.fp;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    int ok = fwrite(lenb, 1, 8, fp) == 8 && fwrite(hdr, 1, hl, fp) == hl;
    for (int i = 0; ok && i < count; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
        ok = tensors[i].bf16 ? fwrite(tensors[i].bf16, 2, numel, fp) == numel
                             : fwrite(tensors[i].data, sizeof(float), numel, fp) == numel;
    }
    free(hdr);
    if (!ok) {
        file_abort(&af);
        return chirp_fail_errno("%s: write failed", path);
    }
    return file_commit(&af);
}
