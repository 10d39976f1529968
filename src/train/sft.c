/* sft.c: conversations file -> packed, masked batches (see sft.h). */
#include "train/sft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/window_order.h"
#include "util/error.h"
#include "util/file.h"

void sft_close(SftData *d) {
    free(d->path);
    free(d->ids);
    free(d->mask);
    free(d->windows);
    free(d->perm);
    free(d->inputs);
    free(d->targets);
    memset(d, 0, sizeof *d);
}

/* Renders every line into d->ids / d->mask. */
static int render_file(SftData *d, const char *path, const ChatTemplate *t, const Tokenizer *tok, int vocab) {
    size_t len;
    char *data = file_read_all(path, &len);
    if (!data) return -1;
    ChatTokens all = {0}, one = {0};
    int rc = 0;
    long long lineno = 0;
    for (char *line = data; rc == 0 && line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        if (nl) *nl = '\0';
        lineno++;
        char *next = nl ? nl + 1 : data + len;
        if (strspn(line, " \t\r") == strlen(line)) {
            line = next;
            continue;
        }
        chat_tokens_clear(&one);
        if (chat_render_json(t, tok, line, &one) != 0) {
            chirp_error_prefix("%s:%lld: ", path, lineno);
            rc = -1;
            break;
        }
        size_t on = 0;
        for (size_t i = 0; i < one.n; i++) {
            on += one.mask[i];
            if (one.ids[i] < 0 || one.ids[i] >= vocab) {
                rc = chirp_fail("%s:%lld: token %d >= the model's vocabulary %d (tokenizer and model disagree)", path,
                                lineno, one.ids[i], vocab);
                break;
            }
        }
        if (rc) break;
        if (on == 0) { /* nothing to learn from: no assistant turn */
            d->skipped++;
            line = next;
            continue;
        }
        if (all.n + one.n > all.cap) {
            while (all.n + one.n > all.cap) all.cap = all.cap ? all.cap * 2 : 4096;
            all.ids = xrealloc(all.ids, all.cap * sizeof(int32_t));
            all.mask = xrealloc(all.mask, all.cap);
        }
        memcpy(all.ids + all.n, one.ids, one.n * sizeof(int32_t));
        memcpy(all.mask + all.n, one.mask, one.n);
        all.n += one.n;
        d->masked_on += on;
        d->conversations++;
        line = next;
    }
    chat_tokens_free(&one);
    free(data);
    d->ids = all.ids;
    d->mask = all.mask;
    d->n = all.n;
    return rc;
}

int sft_open(SftData *d, const char *path, const ChatTemplate *t, const Tokenizer *tok, int B, int T, int vocab,
             int shuffle, unsigned long long seed) {
    memset(d, 0, sizeof *d);
    d->path = xstrdup(path);
    d->B = B;
    d->T = T;
    d->shuffle = shuffle;
    d->seed = seed;
    d->perm_pass = -1;
    if (render_file(d, path, t, tok, vocab) != 0) goto fail;
    size_t bt = (size_t)B * T;
    if (d->conversations == 0) {
        chirp_fail("%s: no conversation with an assistant turn (%lld skipped)", path, d->skipped);
        goto fail;
    }
    if (d->n < bt + 1) {
        chirp_fail("%s: %zu tokens from %lld conversations, fewer than one batch needs (B*T+1 = %zu); lower --batch "
                   "or --seq",
                   path, d->n, d->conversations, bt + 1);
        goto fail;
    }
    size_t all = (d->n - 1) / bt;
    d->windows = xmalloc(all * sizeof(size_t));
    for (size_t w = 0; w < all; w++) {
        size_t c = w * bt;
        int any = 0;
        for (size_t i = 1; i <= bt && !any; i++) any = d->mask[c + i];
        if (any) d->windows[d->nwindows++] = c;
    }
    if (d->nwindows == 0) {
        chirp_fail("%s: every B*T window is all masked (no assistant token lands in any batch)", path);
        goto fail;
    }
    d->inputs = xmalloc(bt * sizeof(int32_t));
    d->targets = xmalloc(bt * sizeof(int32_t));
    return 0;
fail:
    sft_close(d);
    return -1;
}

static void fill(SftData *d, size_t c) {
    size_t bt = (size_t)d->B * d->T;
    int cnt = 0;
    for (size_t i = 0; i < bt; i++) {
        d->inputs[i] = d->ids[c + i];
        int on = d->mask[c + i + 1];
        d->targets[i] = on ? d->ids[c + i + 1] : -1;
        cnt += on;
    }
    d->count = cnt;
}

void sft_window(SftData *d, size_t w) { fill(d, d->windows[w]); }

static size_t window_index(SftData *d, long long batch) {
    return window_order(d->nwindows, d->shuffle, d->seed, batch, &d->perm, &d->perm_pass);
}

void sft_next(SftData *d) {
    sft_window(d, window_index(d, d->batches));
    d->batches++;
}

void sft_seek(SftData *d, long long batches) { d->batches = batches; }
