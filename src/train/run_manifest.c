/* run_manifest.c: a training run's manifest and setup identity (see
 * run_manifest.h). */
#include "train/run_manifest.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/provenance.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

json_t *train_shards_json(const DataLoader *dl) {
    json_t *arr = json_array();
    char(*hex)[65] = xcalloc((size_t)dl->nshards, 65);
    int ok = dataloader_hash_shards(dl, hex) == 0;
    for (int i = 0; i < dl->nshards; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "path", json_string(dl->shards[i].path));
        json_object_set_new(s, "tokens", json_integer((json_int_t)dl->shards[i].count));
        json_object_set_new(s, "sha256", ok ? json_string(hex[i]) : json_null());
        json_array_append_new(arr, s);
    }
    free(hex);
    return arr;
}

char *train_manifest(const TrainOptions *o, const Gpt2Model *m, long long step, const AdamW *opt, long long position,
                     json_t *train_shards, json_t *val_shards, double last_loss, json_t *sft_info,
                     json_t *chat_template, int world_size, bool zero) {
    json_t *r = json_object();
    json_object_set_new(r, "format", json_string("chirp-checkpoint"));
    json_object_set_new(r, "version", json_integer(1));
    json_object_set_new(r, "step", json_integer(step));
    json_object_set_new(r, "steps", json_integer(o->steps));
    json_object_set_new(r, "tokens_seen", json_integer((json_int_t)position * o->B * o->T));
    json_object_set_new(r, "train_loss", json_real(last_loss));
    json_object_set_new(r, "num_params", json_integer((json_int_t)m->num_params));
    json_t *h = json_object();
    json_object_set_new(h, "batch", json_integer(o->B));
    json_object_set_new(h, "seq", json_integer(o->T));
    json_object_set_new(h, "grad_accum", json_integer(o->grad_accum));
    json_object_set_new(h, "lr", json_real(o->lr));
    json_object_set_new(h, "min_lr",
                        json_real(o->min_lr >= 0 ? o->min_lr : (o->schedule == SCHED_CONSTANT ? o->lr : o->lr / 10)));
    json_object_set_new(h, "warmup", json_integer(o->warmup));
    json_object_set_new(h, "schedule", json_string(schedule_name(o->schedule)));
    json_object_set_new(h, "weight_decay", json_real(o->weight_decay));
    json_object_set_new(h, "beta1", json_real(o->beta1));
    json_object_set_new(h, "beta2", json_real(o->beta2));
    json_object_set_new(h, "eps", json_real(o->eps));
    json_object_set_new(h, "grad_clip", json_real(o->grad_clip));
    json_object_set_new(h, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(h, "shuffle", json_boolean(o->shuffle));
    json_object_set_new(h, "threads", json_integer(omp_get_max_threads()));
    json_object_set_new(h, "world_size", json_integer(world_size));
    json_object_set_new(h, "zero", json_integer(zero ? 1 : 0));
    /* The precision the products ran in (the bf16 weight copy exists only then). */
    json_object_set_new(h, "precision", json_string(m->param_bf16 ? "bf16" : "fp32"));
    if (o->init_dir) json_object_set_new(h, "init", json_string(o->init_dir));
    if (o->preset) json_object_set_new(h, "model", json_string(o->preset));
    json_object_set_new(r, "hyperparameters", h);
    json_t *opt_j = json_object();
    json_object_set_new(opt_j, "type", json_string("adamw"));
    json_object_set_new(opt_j, "step", json_integer(opt->t));
    json_object_set_new(opt_j, "state_file", json_string("optimizer.safetensors"));
    json_object_set_new(r, "optimizer", opt_j);
    json_t *d = json_object();
    if (train_shards) json_object_set_new(d, "train", json_incref(train_shards));
    if (sft_info) json_object_set_new(d, "sft", json_incref(sft_info));
    if (val_shards) json_object_set_new(d, "val", json_incref(val_shards));
    /* Micro-batches of B x T drawn by all ranks together; rank r reads
     * position + r next (data_parallel.h). */
    json_object_set_new(d, "position_batches", json_integer(position));
    json_t *ranks = json_array();
    for (int r = 0; r < world_size; r++)
        json_array_append_new(ranks, json_pack("{s:i, s:I}", "rank", r, "next_batch", (json_int_t)(position + r)));
    json_object_set_new(d, "ranks", ranks);
    json_object_set_new(d, "order", json_string(o->shuffle ? "shuffle" : "sequential"));
    /* What prepare recorded about the posts behind the shards. */
    json_t *prov =
        train_shards ? provenance_for_shard(json_string_value(json_object_get(json_array_get(train_shards, 0), "path")))
                     : NULL;
    if (prov) json_object_set_new(d, "provenance", prov);
    json_object_set_new(r, "data", d);
    if (chat_template) json_object_set_new(r, "chat_template", json_incref(chat_template));
    char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(r);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = '\0';
    return s;
}

/* hash64 of tokens as the shard stores them (so a uint16 shard's hash
 * stays what it was before uint32 shards existed). */
static uint64_t hash_tokens(const uint32_t *tok, size_t n, int token_bytes, uint64_t seed) {
    if (token_bytes == 4) return hash64(tok, n * 4, seed);
    uint16_t narrow[4096];
    for (size_t i = 0; i < n; i++) narrow[i] = (uint16_t)tok[i];
    return hash64(narrow, n * 2, seed);
}

/* A shard set's identity: each shard's name and size, and a hash of its
 * first and last 4096 tokens (cheap, and enough to tell files apart). */
static void shards_lines(Buf *b, const char *what, DataLoader *dl) {
    uint32_t tok[4096];
    for (int i = 0; i < dl->nshards; i++) {
        const DataShard *sh = &dl->shards[i];
        size_t n = sh->count < 4096 ? sh->count : 4096;
        uint64_t h = 0;
        if (n > 0 && dataloader_read(dl, sh->start, n, tok) == 0) h = hash_tokens(tok, n, sh->token_bytes, 1);
        if (n > 0 && dataloader_read(dl, sh->start + sh->count - n, n, tok) == 0)
            h = hash_tokens(tok, n, sh->token_bytes, h);
        const char *slash = strrchr(sh->path, '/');
        buf_printf(b, "%s shard %d=%s %zu tokens %016llx\n", what, i, slash ? slash + 1 : sh->path, sh->count,
                   (unsigned long long)h);
    }
}

char *train_setup_lines(const TrainOptions *o, const Gpt2Config *c, DataLoader *train, DataLoader *val,
                        long long start) {
    Buf b = {0};
    buf_printf(&b, "model=L%d H%d C%d T%d V%d\ninit=%s\npreset=%s\n", c->n_layer, c->n_head, c->n_embd, c->n_ctx,
               c->vocab_size, o->init_dir ? o->init_dir : "-", o->preset ? o->preset : "-");
    buf_printf(&b, "batch=%d\nseq=%d\ngrad_accum=%d\nsteps=%lld\nlr=%.9g\nmin_lr=%.9g\nwarmup=%lld\nschedule=%d\n",
               o->B, o->T, o->grad_accum, o->steps, o->lr, o->min_lr, o->warmup, (int)o->schedule);
    buf_printf(&b, "weight_decay=%.9g\nbetas=%.9g %.9g\neps=%.9g\ngrad_clip=%.9g\nseed=%llu\nshuffle=%d\nzero=%d\n",
               o->weight_decay, o->beta1, o->beta2, o->eps, o->grad_clip, o->seed, o->shuffle, o->zero);
    buf_printf(&b, "precision=%s\n", o->precision ? o->precision : "auto");
    buf_printf(&b, "eval_every=%lld\neval_batches=%d\nsave_every=%lld\nkeep=%d\nout=%s\nresumed_at=%lld\n",
               o->eval_every, o->eval_batches, o->save_every, o->keep, o->out_dir, start);
    struct stat st;
    buf_printf(&b, "tokenizer=%s %lld bytes\n", o->tokenizer ? o->tokenizer : "-",
               o->tokenizer && stat(o->tokenizer, &st) == 0 ? (long long)st.st_size : -1LL);
    if (train) shards_lines(&b, "train", train);
    if (val) shards_lines(&b, "val", val);
    buf_terminate(&b);
    return b.data;
}
