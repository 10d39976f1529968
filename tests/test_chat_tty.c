/* test_chat_tty.c: chirp chat on a real terminal (a pseudo-terminal this
 * test opens): Ctrl-C typed during a long reply stops that reply with
 * "(stopped)" and the program goes on to answer the next message; Ctrl-C at
 * the prompt, however soon after it appears, does not quit but says how to;
 * Ctrl-D does, with exit status 0. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <time.h>

#include "util/buf.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads from the terminal into b until want appears after b's byte `from`
 * (returns its offset) or seconds pass (-1). */
static long read_until(int fd, Buf *b, size_t from, const char *want, double seconds) {
    double end = now_s() + seconds;
    for (;;) {
        buf_terminate(b);
        const char *hit = b->len > from ? strstr(b->data + from, want) : NULL;
        if (hit) return hit - b->data;
        double left = end - now_s();
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) return -1; /* the child closed the terminal */
        buf_push(b, chunk, (size_t)n);
    }
}

/* Reads until b holds at least n bytes (or seconds pass). */
static void read_at_least(int fd, Buf *b, size_t n, double seconds) {
    double end = now_s() + seconds;
    while (b->len < n && now_s() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        char chunk[4096];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got <= 0) return;
        buf_push(b, chunk, (size_t)got);
    }
}

static void type(int fd, const char *s) { assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s)); }

static void test_ctrl_c_stops_the_reply(void **state) {
    (void)state;
    char dir[512];
    /* A long context, so the reply is long enough to interrupt (greedy:
     * this model never picks a stop token, so replies run 2,000 tokens). */
    assert_int_equal(test_tiny_model_ctx(dir, sizeof dir, 7, 2048), 0);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    char slave_name[128];
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
        ptsname_r(master, slave_name, sizeof slave_name) != 0) {
        /* A container without /dev/pts cannot give us a terminal. */
        printf("  skipping: no pseudo-terminal here (%s)\n", strerror(errno));
        if (master >= 0) close(master);
        skip();
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid(); /* the terminal becomes the child's controlling terminal, so ^C sends SIGINT */
        int slave = open(slave_name, O_RDWR);
        if (slave < 0) _exit(126);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        close(master);
        execl(chirp_bin(), chirp_bin(), "chat", "--model", dir, "--max-tokens", "2000", "--temperature", "0",
              "--threads", "1", (char *)NULL);
        _exit(127);
    }
    Buf out = {0};
    assert_true(read_until(master, &out, 0, "> ", 60) >= 0);
    size_t mark = out.len;
    type(master, "tell me a long story\r");
    /* Wait for the reply to start: the echoed line, then generated text. */
    long echo = read_until(master, &out, mark, "story\r\n", 30);
    assert_true(echo >= 0);
    size_t reply_from = (size_t)echo + 7;
    read_at_least(master, &out, reply_from + 8, 30);
    assert_true(out.len >= reply_from + 8);
    type(master, "\x03"); /* Ctrl-C, through the terminal's line discipline */
    long stopped = read_until(master, &out, reply_from, "(stopped)", 30);
    if (stopped < 0) {
        int st = 0;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == 0) kill(pid, SIGKILL), waitpid(pid, &st, 0);
        fail_msg("no (stopped) after Ctrl-C (chat %s, status %d/%d); the terminal showed:\n%s",
                 w == 0 ? "still running" : "exited", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0, out.data);
    }
    long prompt = read_until(master, &out, (size_t)stopped, "> ", 30);
    assert_true(prompt >= 0);
    printf("  reply interrupted after %ld bytes\n", stopped - (long)reply_from);

    /* The next message is answered (and stopped the same way). */
    mark = out.len;
    type(master, "and another\r");
    echo = read_until(master, &out, mark, "another\r\n", 30);
    assert_true(echo >= 0);
    reply_from = (size_t)echo + 9;
    read_at_least(master, &out, reply_from + 8, 30);
    assert_true(out.len >= reply_from + 8);
    type(master, "\x03");
    stopped = read_until(master, &out, reply_from, "(stopped)", 30);
    assert_true(stopped >= 0);
    assert_true(read_until(master, &out, (size_t)stopped, "> ", 30) >= 0);
    /* Ctrl-C at the prompt says how to quit instead of quitting: one ^C,
     * typed the moment the prompt shows (before chat may be waiting in
     * read), is enough. Twice, to catch a lucky first one. */
    for (int twice = 0; twice < 2; twice++) {
        mark = out.len;
        type(master, "\x03");
        assert_true(read_until(master, &out, mark, "Ctrl-D to quit", 10) >= 0);
        assert_true(read_until(master, &out, mark, "> ", 10) >= 0);
    }
    type(master, "\x04"); /* Ctrl-D at the start of a line: end of input */
    int status = 0;
    for (int i = 0; i < 3000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        char sink[4096];
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, 10) > 0 && read(master, sink, sizeof sink) <= 0) usleep(10000);
    }
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("chat did not exit after Ctrl-D");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(master);
    buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_c_stops_the_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
