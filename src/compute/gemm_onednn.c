/* gemm_onednn.c: bf16 matrix products on oneDNN, the only file that names
 * it. oneDNN picks its kernel at run time: AMX tiles, AVX512_BF16 dot
 * products, or an emulation through AVX-512 fp32. Only the first two count
 * as a bf16 unit (onednn_bf16_kernel); elsewhere gemm.c keeps bf16 products
 * on OpenBLAS.
 *
 * The API used is oneDNN 2.6's C API (Debian's libdnnl-dev), kept to one
 * primitive: matmul, with output scales for alpha, a sum post-op for
 * beta and its bias input for a linear layer's bias. A move to 3.x
 * touches this file only.
 *
 * Operands come as bf16 bits (gemm_bf16: the model's weights and the
 * activations it stores in bf16), read where they are, or as floats that
 * hold bf16 values (gemm(COMPUTE_BF16), which the model no longer calls),
 * which oneDNN's bf16 matmul cannot read: those are packed into
 * per-thread 16-bit buffers first. For a bf16-valued float the top 16 bits are its value
 * exactly, so the packing is a truncation, one pass over the operand.
 *
 * Primitives are created once per shape and kept (a small table under a
 * lock). They are executed concurrently by the attention's threads, so
 * the scratchpad is the caller's (user mode), per thread, never shared. */
#include "compute/gemm_backend.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* oneDNN splits a product's work among the threads when it creates the
 * primitive, so the thread count is part of the key: 1 inside a parallel
 * region (the attention's threads), else the team's size. */
typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, threads, bias, c_bf16;
    float alpha, beta;
} ShapeKey;

typedef struct {
    ShapeKey key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, bias_md, c_md, scratch_md;
    size_t scratch_bytes;
} CachedMatmul;

#define MAX_CACHED 256

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static CachedMatmul cache[MAX_CACHED];
static int n_cached;
static char kernel_name[96]; /* empty: no bf16 unit behind oneDNN here */

typedef struct {
    void *p;
    size_t cap;
} ThreadBuf;

static _Thread_local ThreadBuf buf_a, buf_b, buf_scratch;
static _Thread_local dnnl_stream_t thread_stream;

static void *buf_reserve(ThreadBuf *b, size_t bytes) {
    if (bytes > b->cap) {
        void *p = realloc(b->p, bytes);
        if (!p) return NULL;
        b->p = p;
        b->cap = bytes;
    }
    return b->p;
}

/* The operand as the product sees it, [rows, cols] row-major, stored
 * transposed when trans is set (then lda strides the other way). */
static void md_init(dnnl_memory_desc_t *md, int rows, int cols, int trans, int ld, dnnl_data_type_t type) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}

/* Creates the primitive for key into out. Returns 0, or -1 where oneDNN
 * has no bf16 matmul for it. *impl_out names the kernel chosen. */
static int matmul_create(const ShapeKey *key, CachedMatmul *out, const char **impl_out) {
    memset(out, 0, sizeof *out);
    out->key = *key;
    md_init(&out->a_md, key->M, key->K, key->ta, key->lda, dnnl_bf16);
    md_init(&out->b_md, key->K, key->N, key->tb, key->ldb, dnnl_bf16);
    md_init(&out->c_md, key->M, key->N, 0, key->ldc, key->c_bf16 ? dnnl_bf16 : dnnl_f32);
    md_init(&out->bias_md, 1, key->N, 0, key->N, dnnl_f32);
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &out->a_md, &out->b_md, key->bias ? &out->bias_md : NULL, &out->c_md) !=
        dnnl_success)
        return -1;
    dnnl_primitive_attr_t attr;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return -1;
    dnnl_post_ops_t post = NULL;
    int ok = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    if (ok && key->alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &key->alpha) == dnnl_success;
    if (ok && key->beta != 0.0f) {
        ok = dnnl_post_ops_create(&post) == dnnl_success && dnnl_post_ops_append_sum(post, key->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, post) == dnnl_success;
    }
    dnnl_primitive_desc_t pd = NULL;
    if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) == dnnl_success;
    if (post) dnnl_post_ops_destroy(post);
    dnnl_primitive_attr_destroy(attr);
    if (!ok) return -1;
    const char *impl = "";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    if (impl_out) *impl_out = impl;
    out->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    out->scratch_bytes = dnnl_memory_desc_get_size(&out->scratch_md);
    ok = dnnl_primitive_create(&out->prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok ? 0 : -1;
}

/* A kernel counts as a bf16 unit when oneDNN names AMX or AVX512_BF16 in
 * it ("brg:avx512_core_amx", "brg:avx512_core_bf16"); its other bf16
 * kernels emulate through fp32 and are slower than OpenBLAS. */
static void init(void) {
    if (getenv("CHIRP_NO_ONEDNN")) return;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return;
    ShapeKey probe = {0, 0, 64, 64, 64, 64, 64, 64, 1, 0, 0, 1.0f, 0.0f};
    CachedMatmul m;
    const char *impl = NULL;
    if (matmul_create(&probe, &m, &impl) != 0) return;
    if (strstr(impl, "amx") || strstr(impl, "bf16")) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(kernel_name, sizeof kernel_name, "oneDNN %d.%d.%d %s", v->major, v->minor, v->patch, impl);
    }
    dnnl_primitive_destroy(m.prim);
}

const char *onednn_bf16_kernel(void) {
    pthread_once(&init_once, init);
    return kernel_name[0] ? kernel_name : NULL;
}

static const CachedMatmul *cache_find_or_create(const ShapeKey *key) {
    const CachedMatmul *found = NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < n_cached && !found; i++)
        if (memcmp(&cache[i].key, key, sizeof *key) == 0) found = &cache[i];
    if (!found && n_cached < MAX_CACHED && matmul_create(key, &cache[n_cached], NULL) == 0) found = &cache[n_cached++];
    pthread_mutex_unlock(&cache_lock);
    return found;
}

/* dst [rows, cols] dense from src with row stride ld: the top 16 bits of
 * each float, which for a bf16-valued float is its value exactly. */
static void pack_bf16(uint16_t *dst, const float *src, int rows, int cols, int ld) {
    size_t work = (size_t)rows * (size_t)cols;
#pragma omp parallel for schedule(static) if (work > (1u << 16))
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
        for (int c = 0; c < cols; c++) {
            uint32_t bits;
            memcpy(&bits, &s[c], sizeof bits);
            d[c] = (uint16_t)(bits >> 16);
        }
    }
}

/* The operand as oneDNN reads it: bits where they were given, else a
 * dense packed copy in buf. *ld becomes the packed copy's row stride. */
static const uint16_t *operand_bits(ThreadBuf *buf, const float *f, const uint16_t *bits, int rows, int cols, int *ld) {
    if (bits) return bits;
    uint16_t *packed = buf_reserve(buf, (size_t)rows * cols * sizeof(uint16_t));
    if (!packed) return NULL;
    pack_bf16(packed, f, rows, cols, *ld);
    *ld = cols;
    return packed;
}

int onednn_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, const uint16_t *A16,
                     int lda, const float *B, const uint16_t *B16, int ldb, const float *bias, float beta, void *C,
                     int ldc, int c_bf16) {
    if (!onednn_bf16_kernel() || M <= 0 || N <= 0 || K <= 0) return -1;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    /* As stored: A is [M, K], or [K, M] when transposed; B likewise. */
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    const uint16_t *a16 = operand_bits(&buf_a, A, A16, a_rows, a_cols, &lda);
    const uint16_t *b16 = operand_bits(&buf_b, B, B16, b_rows, b_cols, &ldb);
    if (!a16 || !b16) return -1;
    ShapeKey key = {trans_a != 0, trans_b != 0, M,           N,     K,   lda, ldb, ldc,
                    threads,      bias != NULL, c_bf16 != 0, alpha, beta};
    const CachedMatmul *mm = cache_find_or_create(&key);
    if (!mm) return -1;
    if (!thread_stream && dnnl_stream_create(&thread_stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        thread_stream = NULL;
        return -1;
    }
    void *scratch = buf_reserve(&buf_scratch, mm->scratch_bytes ? mm->scratch_bytes : 1);
    if (!scratch) return -1;

    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, ms = NULL, mbias = NULL;
    int ok = dnnl_memory_create(&ma, &mm->a_md, engine, (void *)a16) == dnnl_success &&
             dnnl_memory_create(&mb, &mm->b_md, engine, (void *)b16) == dnnl_success &&
             dnnl_memory_create(&mc, &mm->c_md, engine, C) == dnnl_success &&
             dnnl_memory_create(&ms, &mm->scratch_md, engine, scratch) == dnnl_success &&
             (!bias || dnnl_memory_create(&mbias, &mm->bias_md, engine, (void *)bias) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, ma},
                                   {DNNL_ARG_WEIGHTS, mb},
                                   {DNNL_ARG_DST, mc},
                                   {DNNL_ARG_SCRATCHPAD, ms},
                                   {DNNL_ARG_BIAS, mbias}};
        ok = dnnl_primitive_execute(mm->prim, thread_stream, bias ? 5 : 4, args) == dnnl_success &&
             dnnl_stream_wait(thread_stream) == dnnl_success;
    }
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
    if (ms) dnnl_memory_destroy(ms);
    if (mbias) dnnl_memory_destroy(mbias);
    return ok ? 0 : -1;
}
