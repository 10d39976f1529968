/* decode_batch.c: grouped decoding (see decode_batch.h). */
#include "audit/decode_batch.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static int run_group(const InferModel *m, DecodeJob *jobs, int n, InferState **st, Sampler **sm, InferScratch *sc) {
    int n_ctx = m->cfg.n_ctx;
    InferSeq *seqs = xcalloc((size_t)n, sizeof(InferSeq));
    int *idx = xcalloc((size_t)n, sizeof(int));
    int32_t *feed = xcalloc((size_t)n, sizeof(int32_t));
    int rc = 0, ns = 0;
    for (int i = 0; i < n; i++) {
        DecodeJob *j = &jobs[i];
        j->n_out = 0;
        if (j->max_new > n_ctx - j->n_prompt) j->max_new = n_ctx - j->n_prompt;
        infer_state_reset(st[i]);
        sampler_free(sm[i]);
        sm[i] = sampler_new(&j->sampler, m->cfg.vocab_size);
        for (int t = 0; t < j->n_prompt; t++) sampler_observe(sm[i], j->prompt[t]);
        if (j->n_prompt <= 0 || j->max_new <= 0) continue;
        seqs[ns] = (InferSeq){.st = st[i], .tokens = j->prompt, .n = j->n_prompt, .want_logits = 1};
        idx[ns++] = i;
    }
    while (ns > 0 && rc == 0) {
        if (infer_forward(sc, seqs, ns) != 0) {
            rc = -1;
            break;
        }
        int next = 0;
        for (int k = 0; k < ns; k++) {
            int i = idx[k];
            DecodeJob *j = &jobs[i];
            int32_t t = sampler_sample(sm[i], st[i]->logits);
            if (t == j->stop) continue;
            sampler_observe(sm[i], t);
            j->out[j->n_out++] = t;
            if (j->n_out >= j->max_new) continue;
            feed[i] = t;
            seqs[next] = (InferSeq){.st = st[i], .tokens = &feed[i], .n = 1, .want_logits = 1};
            idx[next++] = i;
        }
        ns = next;
    }
    free(seqs);
    free(idx);
    free(feed);
    return rc;
}

int decode_batch(const InferModel *m, DecodeJob *jobs, int n, int group) {
    if (group < 1) group = 1;
    InferState **st = xcalloc((size_t)group, sizeof(InferState *));
    Sampler **sm = xcalloc((size_t)group, sizeof(Sampler *));
    for (int i = 0; i < group; i++) st[i] = infer_state_new(m);
    InferScratch *sc = infer_scratch_new(m);
    int rc = 0;
    for (int g = 0; g < n && rc == 0; g += group)
        rc = run_group(m, jobs + g, n - g < group ? n - g : group, st, sm, sc);
    for (int i = 0; i < group; i++) {
        infer_state_free(st[i]);
        sampler_free(sm[i]);
    }
    free(st);
    free(sm);
    infer_scratch_free(sc);
    return rc;
}
