/* trainer.c: the training loop (see trainer.h).
 *
 * Resume is exact because everything a step depends on is restored
 * bit for bit: parameters, AdamW moments and step count, and the data
 * position (batches drawn), from which the loader rebuilds any shuffle
 * order. With the same thread count every kernel reduces in the same
 * order, so the losses after a resume equal those of an unbroken run. */
#include "train/trainer.h"

#include "text/tokenizer.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compute/cpu.h"
#include "compute/gemm.h"
#include "dist/comm.h"
#include "model/gpt2_compute.h"
#include "model/ops.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/dataloader.h"
#include "train/run_manifest.h"
#include "train/sft.h"
#include "util/sha256.h"
#include "util/error.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/progress.h"
#include "util/timer.h"

void train_options_defaults(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    o->B = 4;
    o->T = 64;
    o->grad_accum = 1;
    o->steps = 100;
    o->lr = 6e-4;
    o->min_lr = -1;
    o->schedule = SCHED_CONSTANT;
    o->weight_decay = 0.1;
    o->beta1 = 0.9;
    o->beta2 = 0.95;
    o->eps = 1e-8;
    o->grad_clip = 1.0;
    o->seed = 1337;
    o->eval_batches = 20;
    o->dist_timeout = 120;
}

void train_set_threads(int n) {
    omp_set_num_threads(n);
    gemm_set_threads(n);
}

/* Run state only the --sft mode has: the data, the tokenizer and the
 * template that rendered it, and their manifest entries. */
typedef struct SftRun {
    SftData train, val;
    Tokenizer *tok;
    ChatTemplate tmpl;
    bool have_tmpl;
    char *tok_path;    /* tokenizer.json copied into checkpoints */
    json_t *info;      /* data.sft of the manifest */
    json_t *tmpl_json; /* chat_template of the manifest */
} SftRun;

/* The template as chat_template_load reads it back from chirp.json (same
 * keys as chat_template_store), so generate and chat use what trained. */
static json_t *template_json(const ChatTemplate *t) {
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:b, s:b}", "prefix", t->prefix, "end", t->end,
                     "separator", t->separator, "generation_prompt", t->generation_prompt, "roles", "system",
                     t->roles[0], "user", t->roles[1], "assistant", t->roles[2], "content_space", (int)t->content_space,
                     "plain", (int)t->plain);
}

static json_t *sft_info_json(const SftData *d, const char *sha) {
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", d->path, "sha256", sha, "conversations",
                     (json_int_t)d->conversations, "skipped_no_assistant", (json_int_t)d->skipped, "tokens",
                     (json_int_t)d->n, "assistant_tokens", (json_int_t)d->masked_on, "windows",
                     (json_int_t)d->nwindows);
}

static void sft_run_free(SftRun *s) {
    sft_close(&s->train);
    sft_close(&s->val);
    if (s->tok) tokenizer_free(s->tok);
    if (s->have_tmpl) chat_template_destroy(&s->tmpl);
    free(s->tok_path);
    if (s->info) json_decref(s->info);
    if (s->tmpl_json) json_decref(s->tmpl_json);
}

/* Rank 0 writes step_N (the full optimizer state, gathered under
 * ZeRO-1); every rank learns whether it worked. */
static int save_checkpoint(const TrainOptions *o, const Gpt2Model *m, const AdamW *opt, DataParallel *dp,
                           long long step, long long position, json_t *train_sh, json_t *val_sh, double loss,
                           const SftRun *sft) {
    AdamW full;
    memset(&full, 0, sizeof full);
    const AdamW *to_write = opt;
    int rc = 0;
    if (dp->zero) {
        if (dp->rank == 0) adamw_init(&full, m->num_params, opt->beta1, opt->beta2, opt->eps, opt->weight_decay);
        rc = dp_gather_moments(dp, opt, &full);
        to_write = &full;
    }
    if (rc == 0 && dp->rank == 0) {
        char *man = train_manifest(o, m, step, to_write, position, train_sh, val_sh, loss, sft ? sft->info : NULL,
                                   sft ? sft->tmpl_json : NULL, dp->size, dp->zero);
        rc = checkpoint_write(o->out_dir, step, m, to_write, man, sft ? sft->tok_path : o->tokenizer);
        free(man);
        if (rc == 0 && o->keep > 0) rc = checkpoint_prune(o->out_dir, o->keep);
        if (rc == 0 && o->on_checkpoint) {
            char name[64];
            snprintf(name, sizeof name, "step_%lld", step);
            char *dir = path_join(o->out_dir, name);
            o->on_checkpoint(o->on_checkpoint_ctx, dir);
            free(dir);
        }
    }
    double failed = rc != 0;
    if (dp_sum_f64(dp, &failed, 1) != 0) rc = -1;
    else if (failed > 0 && rc == 0) rc = chirp_fail("rank 0 could not write checkpoint step_%lld", step);
    if (dp->zero && dp->rank == 0) adamw_destroy(&full);
    return rc;
}

/* Mean loss of the first n batches of the loader (from its start). Rank r
 * evaluates batches r, r + N, ...; the per-batch losses are then summed in
 * batch order, as one process does. */
static int eval_batches(const Gpt2Model *m, Gpt2Acts *a, DataLoader *dl, int n, DataParallel *dp, double *out) {
    float *losses = xcalloc((size_t)n + 1, sizeof(float));
    int rc = 0;
    for (int i = dp->rank; rc == 0 && i < n; i += dp->size) {
        dataloader_seek(dl, i);
        if (dataloader_next(dl) != 0) rc = -1;
        else losses[i] = gpt2_forward(m, a, dl->inputs, dl->targets);
    }
    /* Everyone reaches the sum, even a rank that failed to read: a rank
     * that left the collective early would hang the others. */
    int bad = rc != 0;
    double flag = bad;
    if (dp_sum_f64(dp, &flag, 1) != 0 || dp_sum_f32(dp, losses, (size_t)n) != 0) rc = -1;
    else if (flag > 0 && !bad) rc = chirp_fail("another rank could not read the validation data");
    double s = 0;
    for (int i = 0; i < n; i++) s += losses[i];
    free(losses);
    *out = s / n;
    return rc;
}

/* Mean loss over the unmasked targets of the first n windows (file order). */
static double sft_eval(const Gpt2Model *m, Gpt2Acts *a, SftData *d, int n) {
    double s = 0;
    long long cnt = 0;
    for (size_t w = 0; w < d->nwindows && w < (size_t)n; w++) {
        sft_window(d, w);
        s += (double)gpt2_forward(m, a, d->inputs, d->targets) * d->count;
        cnt += d->count;
    }
    return cnt > 0 ? s / (double)cnt : 0;
}

/* Loads the tokenizer and template for --sft and renders the data. The
 * template comes from the checkpoint being resumed, else the --init
 * directory, else the tokenizer's default (chat_template_load). */
static int sft_setup(const TrainOptions *o, const Gpt2Model *m, const char *resume_dir, SftRun *s) {
    const char *src = resume_dir[0] ? resume_dir : o->init_dir;
    if (o->tokenizer) {
        s->tok = tokenizer_load(o->tokenizer); /* tokenizer.json, or GPT-2's encoder.json + vocab.bpe */
        if (!s->tok) return -1;
        s->tok_path = path_is_dir(o->tokenizer) ? path_join(o->tokenizer, "tokenizer.json") : xstrdup(o->tokenizer);
        if (!path_exists(s->tok_path)) {
            /* a vocabulary-files directory: checkpoints get a tokenizer.json
             * written once into the run directory, so chat can load them */
            free(s->tok_path);
            s->tok_path = path_join(o->out_dir, "tokenizer.json");
            if (tokenizer_save(s->tok, s->tok_path) != 0) return -1;
        }
    } else if (src) {
        s->tok_path = path_join(src, "tokenizer.json");
        if (!path_exists(s->tok_path))
            return chirp_fail("--sft needs a tokenizer: %s has no tokenizer.json; give --tokenizer", src);
    } else {
        return chirp_fail("--sft needs a tokenizer: give --tokenizer T (or --init a directory holding one)");
    }
    if (!s->tok) s->tok = tokenizer_load(s->tok_path);
    if (!s->tok) return -1;
    if (chat_template_load(&s->tmpl, src, s->tok) != 0) return -1;
    s->have_tmpl = true;
    s->tmpl_json = template_json(&s->tmpl);
    if (sft_open(&s->train, o->sft_path, &s->tmpl, s->tok, o->B, o->T, m->cfg.vocab_size, o->shuffle, o->seed) != 0)
        return -1;
    if (o->val_pattern && sft_open(&s->val, o->val_pattern, &s->tmpl, s->tok, o->B, o->T, m->cfg.vocab_size, 0, 0) != 0)
        return -1;
    char sha[65];
    if (sha256_file_hex(o->sft_path, sha) != 0) return -1;
    s->info = sft_info_json(&s->train, sha);
    fprintf(stderr,
            "chirp train: --sft %s: %lld conversations (%lld skipped: no assistant turn), %zu tokens, %zu on "
            "assistant turns, %zu of %zu windows used; template: %s\n",
            o->sft_path, s->train.conversations, s->train.skipped, s->train.n, s->train.masked_on, s->train.nwindows,
            (s->train.n - 1) / ((size_t)o->B * o->T), s->tmpl.source);
    return 0;
}

/* Keeps only log.jsonl records with step <= upto (resume rewinds the log). */
static int log_rewind(const char *path, long long upto) {
    if (!path_exists(path)) return 0;
    size_t len;
    char *data = file_read_all(path, &len);
    if (!data) return -1;
    char *out = xmalloc(len + 1);
    size_t on = 0;
    for (char *line = data; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line + 1) : strlen(line);
        const char *sp = strstr(line, "\"step\":");
        long long st = sp && sp < line + ll ? strtoll(sp + 7, NULL, 10) : 0;
        if (st <= upto) {
            memcpy(out + on, line, ll);
            on += ll;
        }
        line += ll;
    }
    int rc = file_write_atomic(path, out, on);
    free(out);
    free(data);
    return rc;
}

static int build_model(const TrainOptions *o, Gpt2Model *m) {
    if (o->init_dir) return gpt2_load(m, o->init_dir);
    Gpt2Config cfg = o->arch;
    if (o->preset && gpt2_preset(o->preset, &cfg) != 0) return -1;
    if (o->vocab_override > 0) cfg.vocab_size = o->vocab_override;
    if (o->ctx_override > 0) cfg.n_ctx = o->ctx_override;
    if (cfg.ln_eps == 0) cfg.ln_eps = 1e-5f;
    return gpt2_init_random(m, &cfg, o->seed);
}

/* Fails now, not at the first checkpoint, on a tokenizer that cannot be
 * loaded or that has more ids than the model has embeddings. */
static int check_tokenizer(const char *path, const Gpt2Config *cfg) {
    Tokenizer *tok = tokenizer_load(path);
    if (!tok) return -1;
    int n = tokenizer_vocab_size(tok);
    tokenizer_free(tok);
    if (n > cfg->vocab_size)
        return chirp_fail("%s: tokenizer has %d ids but the model's vocabulary is %d", path, n, cfg->vocab_size);
    return 0;
}

int train_run(const TrainOptions *o) {
    if (o->threads > 0) train_set_threads(o->threads);
    Gpt2Model m;
    memset(&m, 0, sizeof m);
    DataLoader train, val;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    Gpt2Acts acts;
    memset(&acts, 0, sizeof acts);
    AdamW opt;
    memset(&opt, 0, sizeof opt);
    float *grads = NULL, *micro = NULL;
    Comm *own_comm = o->comm ? NULL : comm_single_new();
    Comm *comm = o->comm ? o->comm : own_comm;
    const bool rank0 = comm->rank == 0;
    DataParallel dp;
    memset(&dp, 0, sizeof dp);
    SftRun sft;
    memset(&sft, 0, sizeof sft);
    const bool is_sft = o->sft_path != NULL;
    json_t *train_sh = NULL, *val_sh = NULL;
    FILE *logf = NULL;
    char *log_path = NULL;
    int rc = -1;
    long long start = 0;
    double min_lr = o->min_lr >= 0 ? o->min_lr : (o->schedule == SCHED_CONSTANT ? o->lr : o->lr / 10);

    ComputePrecision prec;
    char prec_why[192];
    if (compute_precision_choose(o->precision, &prec, prec_why, sizeof prec_why) != 0) goto out;
    if (comm->size > 1) {
        /* auto may time the units; every rank must run rank 0's choice. */
        int p = (int)prec;
        if (comm->ops->broadcast(comm, &p, sizeof p, 0) != 0 ||
            comm->ops->broadcast(comm, prec_why, sizeof prec_why, 0) != 0)
            goto out;
        prec = (ComputePrecision)p;
    }
    if (dir_create(o->out_dir) != 0) goto out;
    char resume_dir[4200] = "";
    if (o->resume) {
        start = checkpoint_latest(o->out_dir);
        if (start > 0) {
            snprintf(resume_dir, sizeof resume_dir, "%s/step_%lld", o->out_dir, start);
            if (gpt2_load(&m, resume_dir) != 0) goto out;
            if (rank0) fprintf(stderr, "chirp train: resuming from %s\n", resume_dir);
        } else {
            if (rank0) fprintf(stderr, "chirp train: no checkpoint in %s, starting from scratch\n", o->out_dir);
        }
    }
    if (start == 0 && build_model(o, &m) != 0) goto out;
    if (dp_init(&dp, comm, &m.cfg, o->zero, o->dist_timeout) != 0) goto out;
    if (is_sft && dp.size > 1) {
        chirp_fail("--sft with more than one rank is not supported yet; run it in one process");
        goto out;
    }
    if (o->T > m.cfg.n_ctx) {
        chirp_fail("--seq %d exceeds the model's context length %d", o->T, m.cfg.n_ctx);
        goto out;
    }
    if (o->tokenizer && check_tokenizer(o->tokenizer, &m.cfg) != 0) goto out;
    if (is_sft) {
        if (sft_setup(o, &m, resume_dir, &sft) != 0) goto out;
    } else if (dataloader_open(&train, o->train_pattern, o->B, o->T, m.cfg.vocab_size, o->shuffle, o->seed) != 0) {
        goto out;
    }
    if (!is_sft && o->val_pattern && dataloader_open(&val, o->val_pattern, o->B, o->T, m.cfg.vocab_size, 0, 0) != 0)
        goto out;
    if (gpt2_acts_init(&acts, &m.cfg, o->B, o->T) != 0) goto out;
    adamw_init_range(&opt, m.num_params, dp.lo, dp.hi, o->beta1, o->beta2, o->eps, o->weight_decay);
    gpt2_acts_set_precision(&acts, &m.cfg, prec);
    if (prec == COMPUTE_BF16) {
        /* The bf16 weights follow from the fp32 ones, so a resumed run (in
         * either precision) picks up exactly where it stopped. Under ZeRO-1
         * a rank updates only its slice; the copy is refreshed after the
         * parameters are shared instead. */
        gpt2_bf16_refresh(&m);
        if (!dp.zero) opt.bf16_copy = m.param_bf16;
    }
    grads = xmalloc(m.num_params * sizeof(float));
    if (o->grad_accum > 1) micro = xmalloc(m.num_params * sizeof(float));
    long long base = 0; /* global micro-batches drawn before this run's first step */
    if (start > 0) {
        if (checkpoint_load_optimizer(resume_dir, &opt) != 0) goto out;
        char *mp = path_join(resume_dir, "chirp.json");
        json_error_t jerr;
        json_t *mj = json_load_file(mp, 0, &jerr);
        free(mp);
        json_t *pos = mj ? json_object_get(json_object_get(mj, "data"), "position_batches") : NULL;
        json_t *ot = mj ? json_object_get(json_object_get(mj, "optimizer"), "step") : NULL;
        if (!json_is_integer(pos) || !json_is_integer(ot)) {
            if (mj) json_decref(mj);
            chirp_fail("%s/chirp.json: missing data position or optimizer step", resume_dir);
            goto out;
        }
        /* The data position counts batches, so it only means the same
         * tokens under the same batch shape and order: refuse a mismatch.
         * A different thread count still resumes, but not bit for bit. */
        json_t *hp = json_object_get(mj, "hyperparameters");
        const struct {
            const char *key;
            long long want;
        } same[] = {{"batch", o->B}, {"seq", o->T}, {"shuffle", o->shuffle}, {"seed", (long long)o->seed}};
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            json_t *v = json_object_get(hp, same[i].key);
            long long have = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
            if (v && have != same[i].want) {
                chirp_fail("--resume: %s/chirp.json has %s %lld but this run asks for %lld; resume with the "
                           "same data settings",
                           resume_dir, same[i].key, have, same[i].want);
                json_decref(mj);
                goto out;
            }
        }
        /* Another number of ranks (or accumulation) resumes from the same
         * data position; only the global batch changes if their product
         * does (docs/scaling.md). */
        json_t *ws = json_object_get(hp, "world_size"), *ga = json_object_get(hp, "grad_accum");
        long long old_global = (json_is_integer(ws) ? json_integer_value(ws) : 1) *
                               (json_is_integer(ga) ? json_integer_value(ga) : o->grad_accum);
        long long new_global = (long long)dp.size * o->grad_accum;
        if (rank0 && old_global != new_global)
            fprintf(stderr,
                    "chirp train: note: the checkpoint took %lld micro-batches per step (ranks x --grad-accum), "
                    "this run takes %lld: the global batch changes from here on\n",
                    old_global, new_global);
        json_t *th = json_object_get(hp, "threads");
        if (rank0 && json_is_integer(th) && json_integer_value(th) != omp_get_max_threads())
            fprintf(stderr,
                    "chirp train: note: checkpoint was trained with %lld threads, now %d: losses will "
                    "differ from an unbroken run in the last bits\n",
                    (long long)json_integer_value(th), omp_get_max_threads());
        /* The position indexes windows of the rendered file: another file
         * (or template) would make it point at other tokens. */
        json_t *old_sha = json_object_get(json_object_get(json_object_get(mj, "data"), "sft"), "sha256");
        if (is_sft &&
            (!json_is_string(old_sha) ||
             strcmp(json_string_value(old_sha), json_string_value(json_object_get(sft.info, "sha256"))) != 0)) {
            chirp_fail("--resume: %s was not trained on this --sft file (sha256 differs or missing)", resume_dir);
            json_decref(mj);
            goto out;
        }
        base = json_integer_value(pos);
        if (is_sft) sft_seek(&sft.train, base);
        else dataloader_seek(&train, base);
        opt.t = json_integer_value(ot);
        json_decref(mj);
        if (rank0 && start >= o->steps) {
            fprintf(stderr, "chirp train: checkpoint step %lld already reaches --steps %lld\n", start, o->steps);
        }
    }
    if (dp.size > 1) {
        char *setup =
            train_setup_lines(o, &m.cfg, is_sft ? NULL : &train, o->val_pattern && !is_sft ? &val : NULL, start);
        int same = dp_check_same_setup(&dp, setup);
        free(setup);
        if (same != 0) goto out;
    }
    /* Rank 0 writes the log and the checkpoints (whose manifest hashes
     * the shards); the other ranks only compute. */
    if (rank0 && !is_sft) train_sh = train_shards_json(&train);
    if (rank0 && !is_sft && o->val_pattern) val_sh = train_shards_json(&val);
    log_path = path_join(o->out_dir, "log.jsonl");
    if (rank0) {
        if (o->resume) {
            if (log_rewind(log_path, start) != 0) goto out;
        } else if (path_exists(log_path) && unlink(log_path) != 0) {
            chirp_fail_errno("%s", log_path);
            goto out;
        }
        logf = fopen(log_path, "a");
        if (!logf) {
            chirp_fail_errno("%s", log_path);
            goto out;
        }
    }
    char source[128];
    if (is_sft) snprintf(source, sizeof source, "from --sft conversations");
    else snprintf(source, sizeof source, "in %d shard(s)", train.nshards);
    if (rank0) {
        fprintf(
            stderr,
            "chirp train: %zu parameters (L=%d H=%d C=%d T=%d V=%d), %zu train tokens %s, B=%d T=%d x%d, %d threads",
            m.num_params, m.cfg.n_layer, m.cfg.n_head, m.cfg.n_embd, m.cfg.n_ctx, m.cfg.vocab_size,
            is_sft ? sft.train.n : train.total, source, o->B, o->T, o->grad_accum, omp_get_max_threads());
        if (dp.size > 1)
            fprintf(stderr, " per rank; %d ranks (%s), global batch %d x %d tokens%s", dp.size, comm->name,
                    dp.size * o->grad_accum * o->B, o->T, dp.zero ? ", ZeRO-1" : "");
        fputc('\n', stderr);
        /* The memory formula bench/train checks peak RSS against. */
        double opt_mb = 8.0 * (double)(dp.hi - dp.lo) / 1e6;
        char bf16_mb[160];
        double bt = (double)o->B * o->T, C = m.cfg.n_embd, V = m.cfg.vocab_size;
        /* bf16 scratch: with a bf16 unit, per-thread operand buffers for
         * attention (about its [T, T] and [T, hs] per thread); without one,
         * the largest pair of operands widened back to floats (the LM head's
         * 256-row chunk and wte, or fc's). */
        double rows = bt < 256 ? bt : 256, hs = C / m.cfg.n_head, T = o->T;
        double widen = 4.0 * (rows * V + V * C > 2 * bt * 4 * C ? rows * V + V * C : 2 * bt * 4 * C);
        double scratch = gemm_bf16_is_native() ? 2.0 * omp_get_max_threads() * (T * T + T * hs) : widen;
        snprintf(bf16_mb, sizeof bf16_mb, ", bf16 weights 2 B x %zu = %.1f MB, bf16 scratch %.1f MB", m.num_params,
                 2.0 * m.num_params / 1e6, scratch / 1e6);
        fprintf(stderr,
                "chirp train: memory: params+grads = 8 B x %zu = %.1f MB, AdamW m,v = %.1f MB%s; "
                "activations %.1f MB%s; sgemm: %s\n",
                m.num_params, 8.0 * m.num_params / 1e6, opt_mb, dp.zero ? " (this rank's 1/N: ZeRO-1)" : "",
                gpt2_acts_bytes(&m.cfg, o->B, o->T, prec) / 1e6, prec == COMPUTE_BF16 ? bf16_mb : "",
                gemm_backend_name());
        fprintf(stderr, "chirp train: precision %s (%s)%s%s; CPU %s: %s\n", compute_precision_name(prec), prec_why,
                prec == COMPUTE_BF16 ? "; bf16 products: " : "", prec == COMPUTE_BF16 ? gemm_bf16_backend_name() : "",
                cpu_features()->name, cpu_units());
    }

    Progress prog;
    progress_init(&prog, "train", "steps", (double)o->steps);
    prog.quiet = prog.quiet || o->quiet || !rank0;
    long long last_saved = start;
    for (long long step = start + 1; step <= o->steps; step++) {
        double t0 = time_now();
        double lr = schedule_lr(o->schedule, step - 1, o->steps, o->warmup, o->lr, min_lr);
        memset(grads, 0, m.num_params * sizeof(float));
        double loss_sum = 0;
        float loss;
        if (is_sft) {
            /* The step's loss is the mean over all its unmasked targets:
             * micro-batches hold different numbers of them, so each one's
             * gradient is weighted by its share (count_k / total; the
             * forward divides by count_k). One extra pass counts them. */
            long long b0 = sft.train.batches, total = 0;
            for (int k = 0; k < o->grad_accum; k++) {
                sft_next(&sft.train);
                total += sft.train.count;
            }
            sft_seek(&sft.train, b0);
            for (int k = 0; k < o->grad_accum; k++) {
                sft_next(&sft.train);
                float w = (float)sft.train.count / (float)total;
                loss_sum += (double)gpt2_forward_backward(&m, &acts, sft.train.inputs, sft.train.targets, w, grads,
                                                          NULL, NULL) *
                            sft.train.count;
            }
            loss = (float)(loss_sum / (double)total);
        } else {
            /* Every rank's micro-batches together are the step's; each
             * one's loss is scaled by 1 / all of them (data_parallel.h). */
            int micro_total = o->grad_accum * dp.size;
            for (int k = 0; k < o->grad_accum; k++) {
                dataloader_seek(&train, dp_batch_index(&dp, base, step - start - 1, k, o->grad_accum));
                if (dataloader_next(&train) != 0) goto out;
                float *target = dp_backward_target(&dp, grads, micro, k, o->grad_accum, m.num_params);
                loss_sum += gpt2_forward_backward(&m, &acts, train.inputs, train.targets, 1.0f / (float)micro_total,
                                                  target, dp_group_ready, &dp);
            }
            if (dp_finish_grads(&dp) != 0 || dp_sum_f64(&dp, &loss_sum, 1) != 0) goto out;
            loss = (float)(loss_sum / micro_total);
        }
        float norm;
        if (dp_grad_norm(&dp, grads, &norm) != 0) goto out;
        if (!isfinite(loss) || !isfinite(norm)) {
            if (prog.drew) fprintf(stderr, "\r\033[K");
            if (last_saved > 0)
                chirp_fail("%s at step %lld (loss %g, grad norm %g); stopped, the last good checkpoint is %s/step_%lld",
                           isfinite(loss) ? "gradient is not finite" : "loss is not finite", step, loss, norm,
                           o->out_dir, last_saved);
            else
                chirp_fail("%s at step %lld (loss %g, grad norm %g); stopped, no checkpoint was written yet",
                           isfinite(loss) ? "gradient is not finite" : "loss is not finite", step, loss, norm);
            goto out;
        }
        adamw_step_scaled(&opt, &m.cfg, m.param_buf, grads, grad_clip_coef(norm, o->grad_clip), lr);
        if (dp_share_params(&dp, m.param_buf) != 0) goto out;
        if (prec == COMPUTE_BF16 && dp.zero) gpt2_bf16_refresh(&m);
        double ms = (time_now() - t0) * 1000.0;
        double toks = (double)o->grad_accum * dp.size * o->B * o->T / (ms / 1000.0);
        if (prog.drew) {
            fprintf(stderr, "\r\033[K");
            prog.drew = false;
        }
        if (rank0) {
            /* Communication: time in the gradient collectives, and the
             * share of it the backward hid (not waited for at the end). */
            char comm_part[96] = "";
            if (dp.size > 1) {
                double hidden = dp.comm_s > 0 ? 1.0 - dp.waited_s / dp.comm_s : 1.0;
                snprintf(comm_part, sizeof comm_part, " comm %.1f ms hidden %.0f%%", dp.comm_s * 1000.0,
                         100.0 * (hidden < 0 ? 0 : hidden));
            }
            printf("step %lld loss %.6f lr %.6e norm %.4f ms %.1f tok/s %.0f%s\n", step, loss, lr, norm, ms, toks,
                   comm_part);
            fflush(stdout);
            fprintf(logf,
                    "{\"step\":%lld,\"loss\":%.9g,\"lr\":%.9g,\"norm\":%.9g,\"ms\":%.3f,\"tok_s\":%.1f,"
                    "\"comm_ms\":%.3f,\"waited_ms\":%.3f}\n",
                    step, loss, lr, norm, ms, toks, dp.comm_s * 1000.0, dp.waited_s * 1000.0);
        }
        bool last = step == o->steps;
        if (o->val_pattern && ((o->eval_every > 0 && step % o->eval_every == 0) || last)) {
            double vl;
            if (is_sft) vl = sft_eval(&m, &acts, &sft.val, o->eval_batches);
            else if (eval_batches(&m, &acts, &val, o->eval_batches, &dp, &vl) != 0) goto out;
            if (rank0) {
                printf("val step %lld loss %.6f\n", step, vl);
                fflush(stdout);
                fprintf(logf, "{\"step\":%lld,\"val_loss\":%.9g}\n", step, vl);
            }
        }
        if (logf) fflush(logf);
        if ((o->save_every > 0 && step % o->save_every == 0) || last) {
            long long position =
                is_sft ? sft.train.batches : base + (step - start) * (long long)o->grad_accum * dp.size;
            if (save_checkpoint(o, &m, &opt, &dp, step, position, train_sh, val_sh, loss, is_sft ? &sft : NULL) != 0)
                goto out;
            last_saved = step;
        }
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f, %.0f tok/s", loss, toks);
        progress_update(&prog, (double)step, extra);
    }
    if (prog.drew) fprintf(stderr, "\r\033[K");
    rc = 0;
out:
    if (logf) fclose(logf);
    free(log_path);
    if (train_sh) json_decref(train_sh);
    if (val_sh) json_decref(val_sh);
    free(grads);
    free(micro);
    dp_destroy(&dp);
    if (own_comm) own_comm->ops->free(own_comm);
    adamw_destroy(&opt);
    gpt2_acts_destroy(&acts);
    if (!is_sft) dataloader_close(&train);
    if (!is_sft && o->val_pattern) dataloader_close(&val);
    sft_run_free(&sft);
    gpt2_free(&m);
    return rc;
}

int eval_dataset(const Gpt2Model *m, const char *pattern, int B, int T, double *mean_loss, long long *count) {
    if (T > m->cfg.n_ctx) return chirp_fail("--seq %d exceeds the model's context length %d", T, m->cfg.n_ctx);
    DataLoader dl;
    /* opened with B=T=1 only to validate the shards; windows are read directly */
    if (dataloader_open(&dl, pattern, 1, 1, m->cfg.vocab_size, 0, 0) != 0) return -1;
    Gpt2Acts a;
    if (gpt2_acts_init(&a, &m->cfg, B, T) != 0) {
        dataloader_close(&dl);
        return -1;
    }
    size_t predict = dl.total - 1; /* every token but the first is a target */
    size_t bt = (size_t)B * T;
    int32_t *in = xmalloc(bt * sizeof(int32_t)), *tg = xmalloc(bt * sizeof(int32_t));
    uint32_t *raw = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
    int rc = 0;
    double sum = 0;
    long long n = 0;
    /* Row b of a batch predicts targets pos+b*T+1 .. +T: rows tile the
     * stream without overlap, and the last batch masks what is past the end. */
    for (size_t pos = 0; rc == 0 && pos < predict; pos += bt) {
        for (size_t i = 0; i < bt; i++) {
            in[i] = 0;
            tg[i] = -1;
        }
        int cnt = 0;
        for (int b = 0; b < B && rc == 0; b++) {
            size_t s = pos + (size_t)b * T;
            if (s >= predict) break;
            size_t len = predict - s < (size_t)T ? predict - s : (size_t)T;
            rc = dataloader_read(&dl, s, len + 1, raw);
            for (size_t i = 0; rc == 0 && i < len; i++) {
                in[(size_t)b * T + i] = (int32_t)raw[i];
                tg[(size_t)b * T + i] = (int32_t)raw[i + 1];
                cnt++;
            }
        }
        if (rc) break;
        float l = gpt2_forward(m, &a, in, tg);
        sum += (double)l * cnt;
        n += cnt;
    }
    free(raw);
    free(in);
    free(tg);
    gpt2_acts_destroy(&a);
    dataloader_close(&dl);
    if (rc == 0) {
        *mean_loss = n > 0 ? sum / n : 0;
        *count = n;
    }
    return rc;
}
