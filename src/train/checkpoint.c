/* checkpoint.c: atomic checkpoint directories (see checkpoint.h). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"

int dir_remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 0 : chirp_fail_errno("%s", path);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = path_join(path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rc |= dir_remove_tree(p);
        else if (unlink(p) != 0) rc = chirp_fail_errno("%s", p);
        free(p);
    }
    closedir(d);
    if (rmdir(path) != 0) rc = chirp_fail_errno("%s", path);
    return rc ? -1 : 0;
}

/* Takes RUN_DIR/name out of view in one rename (to .name.old), then
 * deletes it: a kill during the deletion leaves a hidden .old folder
 * (removed by the next call or checkpoint_prune), never a step_N with
 * some of its files missing. */
static int retire_dir(const char *run_dir, const char *name) {
    char *p = path_join(run_dir, name);
    if (!path_exists(p)) {
        free(p);
        return 0;
    }
    size_t n = strlen(run_dir) + strlen(name) + 8;
    char *old = xmalloc(n);
    snprintf(old, n, "%s/.%s.old", run_dir, name);
    int rc = dir_remove_tree(old);
    if (rc == 0 && rename(p, old) != 0) rc = chirp_fail_errno("rename %s -> %s", p, old);
    if (rc == 0) rc = dir_sync(run_dir);
    if (rc == 0) rc = dir_remove_tree(old);
    free(old);
    free(p);
    return rc;
}

int checkpoint_write(const char *run_dir, long long step, const Gpt2Model *m, const AdamW *opt,
                     const char *manifest_json, const char *tokenizer_path) {
    char name[64], tmpname[64];
    snprintf(name, sizeof name, "step_%lld", step);
    snprintf(tmpname, sizeof tmpname, ".step_%lld.tmp", step);
    char *final_dir = path_join(run_dir, name), *tmp = path_join(run_dir, tmpname);
    char *p = NULL;
    int rc = -1;
    if (dir_remove_tree(tmp) != 0 || dir_create(tmp) != 0) goto out;
    if (gpt2_save(m, tmp) != 0) goto out;
    StWriteTensor ts[2] = {
        {.name = "exp_avg", .ndim = 1, .shape = {(int64_t)opt->num_params}, .data = opt->m},
        {.name = "exp_avg_sq", .ndim = 1, .shape = {(int64_t)opt->num_params}, .data = opt->v},
    };
    p = path_join(tmp, "optimizer.safetensors");
    if (st_write(p, ts, 2) != 0) goto out;
    free(p);
    p = NULL;
    if (tokenizer_path) {
        /* Load and re-save rather than copy a file, so every form the
         * tokenizer loader accepts (GPT-2's encoder.json + vocab.bpe too)
         * becomes the checkpoint's tokenizer.json. */
        Tokenizer *tok = tokenizer_load(tokenizer_path);
        if (!tok) goto out;
        p = path_join(tmp, "tokenizer.json");
        int w = tokenizer_save(tok, p);
        tokenizer_free(tok);
        if (w != 0) goto out;
        free(p);
        p = NULL;
    }
    /* chirp.json last: its presence marks a complete checkpoint */
    p = path_join(tmp, "chirp.json");
    if (file_write_atomic(p, manifest_json, strlen(manifest_json)) != 0) goto out;
    if (dir_sync(tmp) != 0) goto out;
    if (retire_dir(run_dir, name) != 0) goto out;
    if (rename(tmp, final_dir) != 0) {
        chirp_fail_errno("rename %s -> %s", tmp, final_dir);
        goto out;
    }
    rc = dir_sync(run_dir);
out:
    if (rc != 0) {
        chirp_error_prefix("checkpoint %s: ", final_dir);
    }
    free(p);
    free(final_dir);
    free(tmp);
    return rc;
}

/* Parses "step_N" names; -1 otherwise. */
static long long step_of(const char *name) {
    if (strncmp(name, "step_", 5) != 0 || !name[5]) return -1;
    char *end;
    long long n = strtoll(name + 5, &end, 10);
    return *end == '\0' && n >= 0 ? n : -1;
}

static int list_steps(const char *run_dir, long long **out) {
    DIR *d = opendir(run_dir);
    *out = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long s = step_of(e->d_name);
        if (s < 0) continue;
        char *m = path_join(run_dir, e->d_name);
        char *c = path_join(m, "chirp.json");
        int ok = path_exists(c);
        free(c);
        free(m);
        if (!ok) continue;
        if (n == cap) *out = xrealloc(*out, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(long long));
        (*out)[n++] = s;
    }
    closedir(d);
    /* sort ascending (insertion sort: a handful of entries) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
            long long t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return n;
}

long long checkpoint_latest(const char *run_dir) {
    long long *steps;
    int n = list_steps(run_dir, &steps);
    long long best = n > 0 ? steps[n - 1] : 0;
    free(steps);
    return best;
}

int checkpoint_load_optimizer(const char *ckpt_dir, AdamW *opt) {
    char *p = path_join(ckpt_dir, "optimizer.safetensors");
    StFile f;
    int rc = st_open(&f, p);
    if (rc == 0) {
        const StTensor *m = st_find(&f, "exp_avg"), *v = st_find(&f, "exp_avg_sq");
        if (!m || !v || strcmp(m->dtype, "F32") || strcmp(v->dtype, "F32") || st_numel(m) != opt->num_params ||
            st_numel(v) != opt->num_params) {
            rc = chirp_fail("%s: optimizer state does not match the model (%zu parameters)", p, opt->num_params);
        } else {
            /* The optimizer's slice [lo, hi): all of it, or a ZeRO-1 shard. */
            size_t n = opt->hi - opt->lo;
            memcpy(opt->m, m->data + opt->lo * sizeof(float), n * sizeof(float));
            memcpy(opt->v, v->data + opt->lo * sizeof(float), n * sizeof(float));
        }
        st_close(&f);
    }
    free(p);
    return rc;
}

/* Removes what killed runs leave: .step_N.old folders (a deletion cut
 * short) and step_N folders without chirp.json (from versions that
 * deleted in place). .step_N.tmp folders are left to the writer of step N,
 * which clears its own before starting. */
static int remove_leftovers(const char *run_dir) {
    DIR *d = opendir(run_dir);
    if (!d) return 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char *p = path_join(run_dir, e->d_name);
        char *c = path_join(p, "chirp.json");
        if (strncmp(e->d_name, ".step_", 6) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".old") == 0)
            rc |= dir_remove_tree(p);
        else if (step_of(e->d_name) >= 0 && !path_exists(c)) rc |= retire_dir(run_dir, e->d_name);
        free(c);
        free(p);
    }
    closedir(d);
    return rc ? -1 : 0;
}

int checkpoint_prune(const char *run_dir, int keep) {
    int rc = remove_leftovers(run_dir);
    long long *steps;
    int n = list_steps(run_dir, &steps);
    for (int i = 0; i + keep < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "step_%lld", steps[i]);
        if (retire_dir(run_dir, name) != 0) rc = -1;
    }
    free(steps);
    return rc;
}
