/* test_dist.c: data-parallel training.
 *
 * In-process (a group of threads standing in for ranks): the collectives,
 * ZeRO-1 shards, the data order, gradient groups, the communication
 * thread's deadline. Then `mpirun` (Open MPI; skipped with a message when
 * it is missing) on a tiny model: 2 ranks bit-identical to one process
 * with --grad-accum 2, 4 oversubscribed ranks within 1e-6, --zero 1 equal
 * to without, reruns identical, resume with the same and another number of
 * ranks, a killed rank, and ranks started with different flags. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>

#include "dist/comm.h"
#include "dist/comm_worker.h"
#include "model/gpt2_compute.h"
#include "train/data_parallel.h"
#include "util/error.h"
#include "util/file.h"
#include "util/timer.h"

/* ---- in-process ---- */

typedef struct RankArg {
    Comm *c;
    int n;
    float *buf;
    size_t len;
    int rc;
} RankArg;

static void *allreduce_rank(void *p) {
    RankArg *a = p;
    a->rc = a->c->ops->allreduce_sum(a->c, a->buf, a->len);
    return NULL;
}

static void test_local_allreduce_rank_order(void **state) {
    (void)state;
    enum { N = 3, LEN = 1000 };
    Comm **cs = comm_local_group_new(N);
    RankArg args[N];
    pthread_t th[N];
    float in[N][LEN];
    for (int r = 0; r < N; r++) {
        for (int i = 0; i < LEN; i++) in[r][i] = (float)((i * 7 + r * 13) % 101) * 0.37f - 5.0f + (float)r * 1e-7f;
        args[r] = (RankArg){cs[r], N, malloc(LEN * sizeof(float)), LEN, -1};
        memcpy(args[r].buf, in[r], sizeof in[r]);
        pthread_create(&th[r], NULL, allreduce_rank, &args[r]);
    }
    for (int r = 0; r < N; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < N; r++) {
        assert_int_equal(args[r].rc, 0);
        for (int i = 0; i < LEN; i++) {
            float want = (in[0][i] + in[1][i]) + in[2][i]; /* rank order */
            assert_memory_equal(&args[r].buf[i], &want, sizeof want);
        }
        free(args[r].buf);
        cs[r]->ops->free(cs[r]);
    }
    free(cs);
}

/* Shards are whole norm chunks, disjoint, and cover every parameter. */
static void test_zero_shards(void **state) {
    (void)state;
    Gpt2Config cfg = {.n_layer = 3, .n_head = 2, .n_embd = 64, .n_ctx = 32, .vocab_size = 500, .ln_eps = 1e-5f};
    size_t n = gpt2_num_params(&cfg);
    for (int size = 1; size <= 5; size++) {
        Comm **cs = comm_local_group_new(size);
        size_t next = 0;
        for (int r = 0; r < size; r++) {
            DataParallel dp;
            Comm *c = cs[r];
            /* dp_init on one rank at a time: it only computes ranges
             * (the worker thread makes no call until asked). */
            assert_int_equal(dp_init(&dp, c, &cfg, true, 5), 0);
            if (size > 1) {
                assert_int_equal(dp.lo, next);
                assert_int_equal(dp.lo % GRAD_NORM_CHUNK, 0);
                assert_true(dp.hi == n || dp.hi % GRAD_NORM_CHUNK == 0);
                next = dp.hi;
            }
            size_t total = 0;
            for (int q = 0; q < size; q++) total += dp.counts[q];
            assert_int_equal(total, n);
            dp_destroy(&dp);
        }
        if (size > 1) assert_int_equal(next, n);
        for (int r = 0; r < size; r++) cs[r]->ops->free(cs[r]);
        free(cs);
    }
}

/* Micro-step k of step i on rank r reads global micro-batch
 * base + (i * A + k) * N + r: all ranks together read a contiguous run,
 * in the order one process with A * N micro-batches would. */
static void test_data_order(void **state) {
    (void)state;
    Gpt2Config cfg = {.n_layer = 1, .n_head = 1, .n_embd = 8, .n_ctx = 8, .vocab_size = 20, .ln_eps = 1e-5f};
    enum { N = 3, A = 2 };
    Comm **cs = comm_local_group_new(N);
    DataParallel dp[N];
    for (int r = 0; r < N; r++) assert_int_equal(dp_init(&dp[r], cs[r], &cfg, false, 5), 0);
    long long base = 40;
    for (long long i = 0; i < 3; i++) {
        int seen[A * N] = {0};
        for (int k = 0; k < A; k++)
            for (int r = 0; r < N; r++) {
                long long idx = dp_batch_index(&dp[r], base, i, k, A);
                long long rel = idx - base - i * A * N;
                assert_true(rel >= 0 && rel < A * N);
                assert_int_equal(rel, k * N + r);
                seen[rel]++;
            }
        for (int j = 0; j < A * N; j++) assert_int_equal(seen[j], 1);
    }
    for (int r = 0; r < N; r++) {
        dp_destroy(&dp[r]);
        cs[r]->ops->free(cs[r]);
    }
    free(cs);
}

/* The gradient groups the backward reports cover every parameter once,
 * and arrive in the order the backward finishes them. */
static int order[64], n_order;
static void record(void *ctx, int g) {
    (void)ctx;
    order[n_order++] = g;
}

static void test_grad_groups(void **state) {
    (void)state;
    Gpt2Config cfg = {.n_layer = 3, .n_head = 2, .n_embd = 16, .n_ctx = 16, .vocab_size = 50, .ln_eps = 1e-5f};
    size_t n = gpt2_num_params(&cfg);
    unsigned char *hit = calloc(n, 1);
    int groups = gpt2_grad_groups(&cfg);
    assert_int_equal(groups, 5);
    for (int g = 0; g < groups; g++) {
        size_t off[12], len[12];
        int k = gpt2_grad_group_ranges(&cfg, g, off, len);
        for (int i = 0; i < k; i++)
            for (size_t j = 0; j < len[i]; j++) hit[off[i] + j]++;
    }
    for (size_t i = 0; i < n; i++) assert_int_equal(hit[i], 1);
    free(hit);
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &cfg, 3), 0);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &cfg, 2, 8), 0);
    int32_t in[16], tg[16];
    for (int i = 0; i < 16; i++) in[i] = i % 50, tg[i] = (i * 3) % 50;
    float *grads = calloc(n, sizeof(float)), *plain = calloc(n, sizeof(float));
    n_order = 0;
    gpt2_forward_backward(&m, &a, in, tg, 1.0f, grads, record, NULL);
    assert_int_equal(n_order, groups);
    for (int g = 0; g < groups; g++) assert_int_equal(order[g], g);
    gpt2_forward_backward(&m, &a, in, tg, 1.0f, plain, NULL, NULL);
    assert_memory_equal(grads, plain, n * sizeof(float));
    free(grads);
    free(plain);
    gpt2_acts_destroy(&a);
    gpt2_free(&m);
}

static int slow_job(Comm *c, void *arg) {
    (void)c;
    usleep((useconds_t)(*(int *)arg) * 1000);
    return 0;
}

/* A collective that makes no progress fails the wait after the deadline
 * instead of hanging. */
static void test_worker_deadline(void **state) {
    (void)state;
    Comm *c = comm_single_new();
    CommWorker *w = comm_worker_new(c, 1.0);
    int quick = 10, slow = 2500;
    assert_int_equal(comm_worker_run(w, slow_job, &quick), 0);
    double t0 = time_now();
    assert_int_equal(comm_worker_run(w, slow_job, &slow), -1);
    double took = time_now() - t0;
    assert_true(took >= 1.0 && took < 2.0);
    assert_non_null(strstr(chirp_error(), "no answer from the other ranks"));
    usleep(2000 * 1000); /* let the slow job end before the worker goes */
    comm_worker_free(w);
    c->ops->free(c);
}

/* ---- mpirun ---- */

static char dir[512], bin[4096];
static bool have_mpi;

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char p[700];
    snprintf(p, sizeof p, "%s/train.bin", dir);
    test_random_shard(p, 30000, 300, 1);
    snprintf(p, sizeof p, "%s/val.bin", dir);
    test_random_shard(p, 5000, 300, 2);
    have_mpi = run_capture("command -v mpirun >/dev/null 2>&1", NULL) == 0;
    /* Absolute: some commands below run from the data directory. */
    if (!realpath(chirp_bin(), bin)) snprintf(bin, sizeof bin, "%s", chirp_bin());
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* Under ASan: full stacks, so tests/lsan.supp can name Open MPI's own
     * never-freed allocations (fast unwinding stops inside libmpi). */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sfast_unwind_on_malloc=0", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    return 0;
}

/* Runs `[mpirun -np N --oversubscribe] chirp train <common> extra`;
 * stdout lines without timings into *out. */
static int train(int np, const char *extra, const char *out_dir, char **out) {
    char cmd[8192], launcher[128] = "";
    if (np > 0) snprintf(launcher, sizeof launcher, "timeout 300 mpirun -np %d --oversubscribe --bind-to none", np);
    snprintf(cmd, sizeof cmd,
             "%s %s train --train %s/train.bin --val %s/val.bin --layers 2 --heads 2 --embd 64 --ctx 32 --vocab 300 "
             "--batch 4 --seq 32 --lr 1e-3 --eval-every 4 --eval-batches 5 --threads 1 --out %s/%s %s 2>%s/%s.err"
             " | sed 's/ ms .*//'",
             launcher, bin, dir, dir, dir, out_dir, extra, dir, out_dir);
    return run_capture(cmd, out);
}

static bool same_file(const char *a, const char *b) {
    size_t la, lb;
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/%s", dir, a);
    snprintf(pb, sizeof pb, "%s/%s", dir, b);
    char *x = file_read_all(pa, &la), *y = file_read_all(pb, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

#define NEED_MPI()                                                  \
    do {                                                            \
        if (!have_mpi) {                                            \
            printf("  skipping: mpirun not found (openmpi-bin)\n"); \
            skip();                                                 \
        }                                                           \
    } while (0)

static void test_two_ranks_bit_identical(void **state) {
    (void)state;
    NEED_MPI();
    char *one = NULL, *two = NULL, *again = NULL, *zero = NULL;
    assert_int_equal(train(0, "--steps 8 --grad-accum 2", "one", &one), 0);
    assert_int_equal(train(2, "--steps 8", "two", &two), 0);
    assert_int_equal(train(2, "--steps 8", "again", &again), 0);
    assert_int_equal(train(2, "--steps 8 --zero 1", "zero", &zero), 0);
    assert_non_null(strstr(one, "val step 8 loss"));
    assert_string_equal(one, two);   /* losses, norms and val losses, every step */
    assert_string_equal(two, again); /* a rerun with the same N */
    assert_string_equal(two, zero);  /* ZeRO-1: the same numbers */
    assert_true(same_file("one/step_8/model.safetensors", "two/step_8/model.safetensors"));
    assert_true(same_file("two/step_8/model.safetensors", "zero/step_8/model.safetensors"));
    assert_true(same_file("two/step_8/optimizer.safetensors", "zero/step_8/optimizer.safetensors"));
    char p[700];
    snprintf(p, sizeof p, "%s/two/step_8/chirp.json", dir);
    char *man = file_read_all(p, NULL);
    assert_non_null(strstr(man, "\"world_size\": 2"));
    assert_non_null(strstr(man, "\"position_batches\": 16"));
    free(man);
    snprintf(p, sizeof p, "%s/zero.err", dir);
    char *err = file_read_all(p, NULL);
    assert_non_null(strstr(err, "ZeRO-1"));
    free(err);
    free(one), free(two), free(again), free(zero);
}

static double loss_of(const char *line) {
    const char *l = strstr(line, "loss ");
    return l ? atof(l + 5) : NAN;
}

/* Four ranks on two cores against --grad-accum 4: the ranks' sums go in
 * another order, so within 1e-6 relative rather than identical. fp32:
 * under bf16 such a difference can flip a weight's rounding, and the
 * bound would be bf16's, not the reduction order's. */
static void test_four_ranks_close(void **state) {
    (void)state;
    NEED_MPI();
    char *one = NULL, *four = NULL;
    assert_int_equal(train(0, "--steps 6 --grad-accum 4 --precision fp32", "one4", &one), 0);
    assert_int_equal(train(4, "--steps 6 --precision fp32", "four", &four), 0);
    char *a = one, *b = four;
    int lines = 0;
    while (*a && *b) {
        double la = loss_of(a), lb = loss_of(b);
        assert_true(fabs(la - lb) <= 1e-6 * fabs(la) + 1e-6);
        lines++;
        a = strchr(a, '\n');
        b = strchr(b, '\n');
        if (!a || !b) break;
        a++, b++;
    }
    assert_true(lines >= 7);
    free(one), free(four);
}

/* Resume with the same N continues bit for bit; with another N and the
 * same global batch (4 ranks x 1 = 2 ranks x --grad-accum 2) it continues
 * from the same data position with the same losses (within the order of
 * the sums); another global batch resumes too, with a note. */
static void test_resume(void **state) {
    (void)state;
    NEED_MPI();
    char *full = NULL, *part = NULL, *rest = NULL, *other = NULL, *acc = NULL;
    assert_int_equal(train(4, "--steps 8 --save-every 4", "full", &full), 0);
    assert_int_equal(train(4, "--steps 4 --save-every 4", "res", &part), 0);
    assert_int_equal(train(4, "--steps 8 --save-every 4 --resume", "res", &rest), 0);
    assert_true(same_file("full/step_8/model.safetensors", "res/step_8/model.safetensors"));
    char *tail = strstr(full, "step 5 ");
    assert_non_null(tail);
    assert_string_equal(tail, rest);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s/other && mkdir -p %s/other && cp -r %s/res/step_4 %s/other/", dir, dir, dir,
             dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    assert_int_equal(train(2, "--steps 8 --save-every 4 --resume --grad-accum 2", "other", &other), 0);
    char *a = tail, *b = other;
    for (int i = 0; i < 4 && a && b; i++) {
        assert_true(fabs(loss_of(a) - loss_of(b)) <= 1e-6 * fabs(loss_of(a)) + 1e-6);
        a = strstr(a + 1, "\nstep ");
        b = strstr(b + 1, "\nstep ");
    }
    /* One process with no accumulation: 1 micro-batch per step, not 4. */
    snprintf(cmd, sizeof cmd, "rm -rf %s/acc && mkdir -p %s/acc && cp -r %s/res/step_4 %s/acc/", dir, dir, dir, dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    assert_int_equal(train(0, "--steps 6 --save-every 6 --resume", "acc", &acc), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/acc.err", dir);
    char *err = file_read_all(p, NULL);
    assert_non_null(strstr(err, "the global batch changes"));
    assert_non_null(strstr(acc, "step 6 loss"));
    free(err);
    free(full), free(part), free(rest), free(other), free(acc);
}

/* A rank killed mid-run stops the job within a bounded time, rank 0 names
 * the last complete checkpoint, that checkpoint resumes. */
static void test_killed_rank(void **state) {
    (void)state;
    NEED_MPI();
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "cd %s && (timeout 120 mpirun -np 2 --oversubscribe --bind-to none %s train --train train.bin --layers 2 "
             "--heads 2 --embd 64 --ctx 32 --vocab 300 --batch 4 --seq 32 --steps 100000 --save-every 5 --keep 2 "
             "--threads 1 --out killed > killed.out 2> killed.err & echo $! > mpirun.pid) && "
             "for i in $(seq 1 200); do [ -d killed/step_10 ] && break; sleep 0.1; done && "
             "victim=$(pgrep -f '^%s train --train train.bin' | sort -n | tail -n 1) && kill -9 $victim && "
             "start=$(date +%%s.%%N) && while kill -0 $(cat mpirun.pid) 2>/dev/null; do sleep 0.1; done && "
             "echo $(echo \"$(date +%%s.%%N) - $start\" | bc)",
             dir, bin, bin);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 0);
    double took = atof(out);
    printf("  job stopped %.1f s after a rank was killed\n", took);
    assert_true(took < 30);
    free(out);
    char p[700];
    snprintf(p, sizeof p, "%s/killed.err", dir);
    char *err = file_read_all(p, NULL);
    assert_non_null(err);
    assert_true(strstr(err, "rank 0: stopped by the launcher") || strstr(err, "exited on signal 9"));
    free(err);
    /* Every checkpoint left is complete, and the newest resumes. */
    snprintf(cmd, sizeof cmd, "cd %s/killed && ls -d step_* | sort -t_ -k2 -n | tail -n 1", dir);
    assert_int_equal(run_capture(cmd, &out), 0);
    out[strcspn(out, "\n")] = '\0';
    snprintf(p, sizeof p, "%s/killed/%s/chirp.json", dir, out);
    assert_true(path_exists(p));
    long long step = atoll(out + 5);
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd %s && timeout 120 mpirun -np 2 --oversubscribe --bind-to none %s train --train train.bin --layers 2 "
             "--heads 2 --embd 64 --ctx 32 --vocab 300 --batch 4 --seq 32 --steps %lld --save-every 5 --keep 2 "
             "--threads 1 --out killed --resume 2>/dev/null | tail -n 1",
             dir, bin, step + 2);
    assert_int_equal(run_capture(cmd, &out), 0);
    char want[64];
    snprintf(want, sizeof want, "step %lld loss", step + 2);
    assert_non_null(strstr(out, want));
    free(out);
}

/* Ranks started with different flags are refused at the start, naming
 * the difference. */
static void test_mismatched_ranks(void **state) {
    (void)state;
    NEED_MPI();
    char cmd[16384], *out = NULL;
    const char *common = "train --train train.bin --layers 2 --heads 2 --embd 64 --ctx 32 --vocab 300 --batch 4 "
                         "--seq 32 --steps 2 --threads 1 --out mism";
    snprintf(cmd, sizeof cmd,
             "cd %s && timeout 120 mpirun --oversubscribe --bind-to none -np 1 %s %s --lr 1e-3 : -np 1 %s %s --lr 2e-3 "
             "2>&1",
             dir, bin, common, bin, common);
    assert_int_not_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "rank 1 was started differently from rank 0"));
    assert_non_null(strstr(out, "lr=0.002"));
    free(out);
}

/* Two "hosts" (network namespaces with their own hostnames, joined by a
 * veth pair) over TCP: the same losses as 2 ranks on one machine. Then the
 * link goes down mid-run: the job stops within seconds, naming the last
 * complete checkpoint. Skipped where namespaces cannot be made. */
static void test_two_hosts(void **state) {
    (void)state;
    NEED_MPI();
    char cmd[16384], *out = NULL, *local = NULL;
    const char *args = "train --train train.bin --val val.bin --layers 2 --heads 2 --embd 64 --ctx 32 --vocab 300 "
                       "--batch 4 --seq 32 --lr 1e-3 --eval-every 4 --eval-batches 5 --threads 1 --steps 8";
    snprintf(cmd, sizeof cmd,
             "cd %s && OMP_NUM_THREADS=1 timeout -k 5 120 %s/tests/dist/two_hosts.sh -- %s %s --out hosts "
             "2>hosts.err | sed 's/ ms .*//'",
             dir, getenv("CHIRP_ROOT") ? getenv("CHIRP_ROOT") : ".", bin, args);
    int rc = run_capture(cmd, &out);
    if (rc == 77) {
        printf("  %s", out);
        free(out);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(train(2, "--steps 8", "local2", &local), 0);
    assert_string_equal(out, local);
    free(out);
    free(local);
    snprintf(
        cmd, sizeof cmd,
        "cd %s && start=$(date +%%s.%%N) && OMP_NUM_THREADS=1 timeout -k 5 120 %s/tests/dist/two_hosts.sh "
        "--drop-after 3 -- %s train --train train.bin --layers 2 --heads 2 --embd 64 --ctx 32 --vocab 300 --batch 4 "
        "--seq 32 --steps 1000000 --save-every 50 --keep 2 --threads 1 --dist-timeout 5 --out dropped "
        ">/dev/null 2>dropped.err; echo \"$(date +%%s.%%N) - $start\" | bc",
        dir, getenv("CHIRP_ROOT") ? getenv("CHIRP_ROOT") : ".", bin);
    assert_int_equal(run_capture(cmd, &out), 0);
    double took = atof(out);
    free(out);
    printf("  the link went down 3 s in; the job ended after %.1f s\n", took);
    assert_true(took < 40);
    char p[700];
    snprintf(p, sizeof p, "%s/dropped.err", dir);
    char *err = file_read_all(p, NULL);
    assert_non_null(err);
    assert_true(strstr(err, "last complete checkpoint is") || strstr(err, "no answer from the other ranks") ||
                strstr(err, "lost communication"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_allreduce_rank_order),
        cmocka_unit_test(test_zero_shards),
        cmocka_unit_test(test_data_order),
        cmocka_unit_test(test_grad_groups),
        cmocka_unit_test(test_worker_deadline),
        cmocka_unit_test(test_two_ranks_bit_identical),
        cmocka_unit_test(test_four_ranks_close),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_killed_rank),
        cmocka_unit_test(test_mismatched_ranks),
        cmocka_unit_test(test_two_hosts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
