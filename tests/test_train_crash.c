/* test_train_crash.c: crash consistency of checkpoints. A training run
 * that saves (and prunes) a checkpoint every step is killed with SIGKILL
 * at 100 random moments; after every kill each step_N directory left is
 * complete (it loads, optimizer included) or absent, and --resume goes on
 * from the newest. The run pieced together from those 101 starts ends with
 * the same weights, bit for bit, as one run that was never interrupted. */
#include "testutil.h"

#include <dirent.h>
#include <time.h>

#include "model/gpt2.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "util/error.h"
#include "util/file.h"

#define KILLS 100

static pid_t start_train(const char *shard, const char *run, long steps) {
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "exec %s train --train %s --layers 1 --heads 2 --embd 32 --ctx 32 --vocab 300 --batch 2 --seq 16"
                 " --steps %ld --save-every 1 --keep 3 --seed 5 --threads 1 --out %s --resume >/dev/null 2>&1",
                 chirp_bin(), shard, steps, run);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Every step_N in run loads (model and optimizer) and has a manifest. */
static int check_checkpoints(const char *run) {
    DIR *d = opendir(run);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "step_", 5) != 0) continue;
        char *dir = path_join(run, e->d_name);
        char *man = path_join(dir, "chirp.json");
        if (!path_exists(man)) fail_msg("%s has no chirp.json: an incomplete checkpoint", dir);
        Gpt2Model m;
        if (gpt2_load(&m, dir) != 0) fail_msg("%s does not load: %s", dir, chirp_error());
        AdamW opt;
        adamw_init(&opt, m.num_params, 0.9, 0.95, 1e-8, 0.1);
        if (checkpoint_load_optimizer(dir, &opt) != 0) fail_msg("%s: optimizer: %s", dir, chirp_error());
        adamw_destroy(&opt);
        gpt2_free(&m);
        free(man);
        free(dir);
        n++;
    }
    closedir(d);
    return n;
}

static void test_kill_at_random_moments(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char shard[600], run[600], ref[600];
    snprintf(shard, sizeof shard, "%s/train_000.bin", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ref, sizeof ref, "%s/ref", dir);
    test_random_shard(shard, 5000, 300, 7);
    srand((unsigned)time(NULL));
    int status, finished_early = 0;
    /* How long startup and 5 steps take here (an ASan build is many
     * times slower): the kills land anywhere from 0.2 to 1.5 times that. */
    char calib[700];
    snprintf(calib, sizeof calib, "%s/calibrate", dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t cal = start_train(shard, calib, 5);
    waitpid(cal, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    long span_us = (long)((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000);
    printf("  startup and 5 checkpointed steps: %.0f ms\n", span_us / 1e3);
    long long last = 0;
    for (int k = 0; k < KILLS; k++) {
        pid_t pid = start_train(shard, run, 1000000);
        usleep((useconds_t)(span_us / 5 + rand() % (span_us + span_us / 3)));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) finished_early++;
        check_checkpoints(run);
        long long now = checkpoint_latest(run);
        if (now < last) fail_msg("after kill %d the newest checkpoint went back from step %lld to %lld", k, last, now);
        last = now;
    }
    printf("  %d kills; the run reached step %lld\n", KILLS, last);
    assert_int_equal(finished_early, 0);
    assert_true(last > 0);
    /* Finish a few steps past where the kills left it, and compare with a
     * run that went straight there. */
    long target = (long)last + 3;
    pid_t pid = start_train(shard, run, target);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = start_train(shard, ref, target);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char a_dir[700], b_dir[700];
    snprintf(a_dir, sizeof a_dir, "%s/step_%ld", run, target);
    snprintf(b_dir, sizeof b_dir, "%s/step_%ld", ref, target);
    Gpt2Model a, b;
    assert_int_equal(gpt2_load(&a, a_dir), 0);
    assert_int_equal(gpt2_load(&b, b_dir), 0);
    assert_int_equal(a.num_params, b.num_params);
    assert_memory_equal(a.param_buf, b.param_buf, a.num_params * sizeof(float));
    gpt2_free(&a);
    gpt2_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
