/* llmc.c: see llmc.h. */
#include "model/llmc.h"

#include "util/error.h"
#include "util/file.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_INTS 256

bool llmc_is_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    int32_t magic = 0;
    bool yes = fread(&magic, sizeof magic, 1, f) == 1 && magic == LLMC_MODEL_MAGIC;
    fclose(f);
    return yes;
}

/* Whether tensor kind k (Gpt2Params order) is a linear weight, and its
 * per-layer [in, out] shape in chirp's layout. */
static bool linear_shape(int k, size_t C, size_t *in, size_t *out) {
    switch (k) {
    case 4: *in = C, *out = 3 * C; return true;  /* qkvw */
    case 6: *in = C, *out = C; return true;      /* attprojw */
    case 10: *in = C, *out = 4 * C; return true; /* fcw */
    case 12: *in = 4 * C, *out = C; return true; /* fcprojw */
    default: return false;
    }
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Element i of the file's tensor data (fp32 or bf16 at p). */
static float file_value(const unsigned char *p, int bf16, size_t i) {
    if (bf16) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return bf16_to_f32(h);
    }
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

int llmc_parse(Gpt2Model *m, const unsigned char *data, size_t len, const char *name) {
    memset(m, 0, sizeof *m);
    int32_t h[HEADER_INTS];
    if (len < sizeof h) return chirp_fail("%s: too short for an llm.c model header", name);
    memcpy(h, data, sizeof h);
    if (h[0] != LLMC_MODEL_MAGIC) return chirp_fail("%s: not an llm.c model file (magic %d)", name, h[0]);
    if (h[1] != LLMC_VERSION_F32 && h[1] != LLMC_VERSION_BF16)
        return chirp_fail("%s: llm.c model version %d is not supported (3: fp32, 5: bf16)", name, h[1]);
    int bf16 = h[1] == LLMC_VERSION_BF16;
    Gpt2Config cfg = {
        .n_ctx = h[2], .vocab_size = h[3], .n_layer = h[4], .n_head = h[5], .n_embd = h[6], .ln_eps = 1e-5f};
    int vp = h[7];
    /* Bounds first, so that no size below can overflow. */
    if (cfg.n_ctx <= 0 || cfg.n_ctx > (1 << 20) || cfg.vocab_size <= 0 || cfg.vocab_size > (1 << 24) ||
        cfg.n_layer <= 0 || cfg.n_layer > 1024 || cfg.n_embd <= 0 || cfg.n_embd > (1 << 16) || cfg.n_head <= 0 ||
        vp < cfg.vocab_size || vp > (1 << 24))
        return chirp_fail("%s: implausible llm.c header (T %d, V %d, L %d, H %d, C %d, Vp %d)", name, h[2], h[3], h[4],
                          h[5], h[6], h[7]);
    if (gpt2_config_check(&cfg) != 0) {
        chirp_error_prefix("%s: ", name);
        return -1;
    }
    size_t sizes[GPT2_NUM_PARAM_TENSORS], total = 0;
    gpt2_param_sizes(&cfg, sizes);
    size_t C = (size_t)cfg.n_embd, L = (size_t)cfg.n_layer;
    size_t file_sizes[GPT2_NUM_PARAM_TENSORS];
    memcpy(file_sizes, sizes, sizeof sizes);
    file_sizes[0] = (size_t)vp * C;
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) total += file_sizes[k];
    size_t width = bf16 ? 2 : 4;
    if (len != sizeof h + total * width)
        return chirp_fail("%s: %zu bytes, but its header (L %d, C %d, Vp %d, T %d, %s) needs %zu", name, len,
                          cfg.n_layer, cfg.n_embd, vp, cfg.n_ctx, bf16 ? "bf16" : "fp32", sizeof h + total * width);
    if (gpt2_alloc(m, &cfg) != 0) return -1;
    const unsigned char *p = data + sizeof h;
    float *dst = m->param_buf;
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        size_t in, out;
        if (linear_shape(k, C, &in, &out)) {
            /* file [L, out, in] -> chirp [L, in, out] */
            for (size_t l = 0; l < L; l++)
                for (size_t o = 0; o < out; o++)
                    for (size_t i = 0; i < in; i++)
                        dst[l * in * out + i * out + o] = file_value(p, bf16, l * in * out + o * in + i);
        } else {
            for (size_t i = 0; i < sizes[k]; i++) dst[i] = file_value(p, bf16, i); /* wte: the first V rows */
        }
        dst += sizes[k];
        p += file_sizes[k] * width;
    }
    return 0;
}

int llmc_load(Gpt2Model *m, const char *path) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return chirp_fail_errno("%s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return chirp_fail_errno("%s", path);
    }
    size_t len = (size_t)st.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED) return len ? chirp_fail_errno("%s: mmap", path) : chirp_fail("%s: empty file", path);
    int rc = llmc_parse(m, map, len, path);
    munmap(map, len);
    return rc;
}

static int write_floats(FILE *f, const float *x, size_t n) { return fwrite(x, sizeof *x, n, f) == n ? 0 : -1; }

int llmc_save(const Gpt2Model *m, const char *path) {
    const Gpt2Config *cfg = &m->cfg;
    size_t C = (size_t)cfg->n_embd, L = (size_t)cfg->n_layer, V = (size_t)cfg->vocab_size;
    size_t vp = (V + 127) / 128 * 128;
    int32_t h[HEADER_INTS] = {0};
    h[0] = LLMC_MODEL_MAGIC;
    h[1] = LLMC_VERSION_F32;
    h[2] = cfg->n_ctx;
    h[3] = cfg->vocab_size;
    h[4] = cfg->n_layer;
    h[5] = cfg->n_head;
    h[6] = cfg->n_embd;
    h[7] = (int32_t)vp;
    AtomicFile af;
    if (file_begin(&af, path) != 0) return -1;
    FILE *f = af.fp;
    int rc = fwrite(h, sizeof h, 1, f) == 1 ? 0 : -1;
    size_t sizes[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, sizes);
    const float *src = m->param_buf;
    float *row = xmalloc(4 * C * sizeof *row);
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS && rc == 0; k++) {
        size_t in, out;
        if (linear_shape(k, C, &in, &out)) {
            /* chirp [L, in, out] -> file [L, out, in], one output row at a time */
            for (size_t l = 0; l < L && rc == 0; l++)
                for (size_t o = 0; o < out && rc == 0; o++) {
                    for (size_t i = 0; i < in; i++) row[i] = src[l * in * out + i * out + o];
                    rc = write_floats(f, row, in);
                }
        } else {
            rc = write_floats(f, src, sizes[k]);
            if (rc == 0 && k == 0) { /* the padding rows of wte */
                memset(row, 0, C * sizeof *row);
                for (size_t r = V; r < vp && rc == 0; r++) rc = write_floats(f, row, C);
            }
        }
        src += sizes[k];
    }
    free(row);
    if (rc != 0) {
        chirp_fail_errno("%s: write error", path);
        file_abort(&af);
        return -1;
    }
    return file_commit(&af);
}
