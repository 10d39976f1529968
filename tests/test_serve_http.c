/* test_serve_http.c: the real `chirp serve` (CHIRP_BIN, so the ASan pass
 * tests the ASan server) on a free loopback port, driven over raw
 * sockets: status codes, the queue's 503, slow-loris clients, a flood of
 * hostile requests with flat memory, disconnects, SIGTERM; then the
 * official OpenAI Node client and a headless Chromium on the chat page
 * (the scripts in tests/serve/), skipped with a message when npm packages or
 * Chromium are missing. Every loop is bounded in count and time. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "util/buf.h"
#include "util/timer.h"

#define KEY "test-key-123"

static char model_dir[512];
static TestServer srv;
static char no_eot[64]; /* a logit_bias that keeps <|endoftext|> from ending a reply */

static int setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* A long context, so a reply can outlast the checks made on it. */
    if (test_tiny_model_ctx(model_dir, sizeof model_dir, 33, 2048) != 0) return -1;
    char tj[700];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", model_dir);
    Tokenizer *tok = tokenizer_load(tj);
    if (!tok) return -1;
    snprintf(no_eot, sizeof no_eot, "\"logit_bias\": {\"%d\": -100}", (int)tokenizer_eot_id(tok));
    tokenizer_free(tok);
    char args[1024];
    snprintf(args, sizeof args, "--model %s --parallel 16 --api-key " KEY " --max-body 65536 --timeout 2 --threads 2",
             model_dir);
    return test_server_start(&srv, args);
}

static int teardown(void **state) {
    (void)state;
    if (srv.pid > 0) test_server_stop(&srv);
    return 0;
}

/* A loopback connection; rcvbuf > 0 sets a small receive buffer first
 * (a client that reads slowly). */
static int connect_with(int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_to(int port) { return connect_with(port, 0); }

/* Sends req and reads the whole answer (the requests say Connection:
 * close). Returns the status code, or -1; the response into *out if asked. */
static int exchange(int port, const char *req, size_t len, char **out) {
    int fd = connect_to(port);
    if (fd < 0) return -1;
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server may answer (413) and close before the body is in */
        sent += (size_t)n;
    }
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (got + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    int status = -1;
    if (strncmp(buf, "HTTP/1.", 7) == 0) status = atoi(buf + 9);
    if (out) *out = buf;
    else free(buf);
    return status;
}

static int post(int port, const char *path, const char *auth, const char *body, char **out) {
    char req[70000];
    int n =
        snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%sContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 path, auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "", strlen(body), body);
    return exchange(port, req, (size_t)n, out);
}

static int get(int port, const char *path, const char *auth, char **out) {
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n", path,
                     auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "");
    return exchange(port, req, (size_t)n, out);
}

/* A streaming request whose client then stops reading: the reply fills
 * the socket and the server's backlog, and the slot stays busy (paused)
 * until the client reads or goes away. */
static int held_stream(int port, const char *auth) {
    int fd = connect_with(port, 4096);
    if (fd < 0) return -1;
    char body[256], req[1024];
    snprintf(body, sizeof body, "{\"prompt\": \"Once\", \"max_tokens\": 100000, \"stream\": true, %s}", no_eot);
    int n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: x\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
                     auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "", strlen(body), body);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Polls /health until its JSON contains want (at most seconds). Returns
 * the time it took, or -1. */
static double wait_health(int port, const char *want, double seconds) {
    double t0 = time_now();
    while (time_now() - t0 < seconds) {
        char *out = NULL;
        get(port, "/health", NULL, &out);
        bool hit = out && strstr(out, want);
        free(out);
        if (hit) return time_now() - t0;
        usleep(10 * 1000);
    }
    return -1;
}

static void test_status_codes(void **state) {
    (void)state;
    char *out = NULL;
    int p = srv.port;
    assert_int_equal(get(p, "/health", NULL, NULL), 200);
    assert_int_equal(get(p, "/", NULL, &out), 200);
    assert_non_null(strstr(out, "text/html"));
    free(out);
    const char *chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 5}";
    assert_int_equal(post(p, "/v1/chat/completions", NULL, chat, &out), 401);
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(out, "\"authentication_error\""));
    free(out);
    assert_int_equal(post(p, "/v1/chat/completions", "nope", chat, NULL), 401);
    assert_int_equal(post(p, "/v1/chat/completions", KEY "4", chat, NULL), 401);
    assert_int_equal(post(p, "/v1/chat/completions", KEY, chat, &out), 200);
    assert_non_null(strstr(out, "\"chat.completion\""));
    free(out);
    assert_int_equal(get(p, "/v1/nothing", KEY, NULL), 404);
    assert_int_equal(get(p, "/v1/completions", KEY, &out), 405);
    assert_non_null(strstr(out, "Allow: POST"));
    free(out);
    assert_int_equal(post(p, "/v1/completions", KEY, "{\"prompt\": ", &out), 400);
    assert_non_null(strstr(out, "not valid JSON"));
    free(out);
    assert_int_equal(post(p, "/v1/completions", KEY, "{\"prompt\": \"x\", \"top_k\": -1}", &out), 400);
    assert_non_null(strstr(out, "\"param\":\"top_k\""));
    free(out);
    /* More choices than slots and queue together can ever hold. */
    assert_int_equal(
        post(p, "/v1/completions", KEY, "{\"prompt\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"], \"n\": 16}", &out), 400);
    assert_non_null(strstr(out, "96 choices"));
    free(out);
    /* A prompt longer than the context: both token counts. */
    char body[30000];
    int n = snprintf(body, sizeof body, "{\"prompt\": \"");
    for (int i = 0; i < 2500; i++) n += snprintf(body + n, sizeof body - (size_t)n, "bird %d ", i);
    snprintf(body + n, sizeof body - (size_t)n, "\"}");
    assert_int_equal(post(p, "/v1/completions", KEY, body, &out), 400);
    assert_non_null(strstr(out, "maximum context length is 2048 tokens, but the prompt is"));
    assert_non_null(strstr(out, "context_length_exceeded"));
    free(out);
    /* 413: by Content-Length before the body is read, and for a chunked
     * body that grows past the limit. */
    const char *big = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
                      "\r\nConnection: close\r\nContent-Length: 70000\r\n\r\n{";
    assert_int_equal(exchange(p, big, strlen(big), NULL), 413);
    Buf chunked = {0};
    const char *head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
                       "\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    buf_push(&chunked, head, strlen(head));
    char piece[4200];
    memset(piece, 'a', sizeof piece);
    for (int i = 0; i < 20; i++) {
        char len[16];
        int l = snprintf(len, sizeof len, "%x\r\n", 4096);
        buf_push(&chunked, len, (size_t)l);
        buf_push(&chunked, piece, 4096);
        buf_push(&chunked, "\r\n", 2);
    }
    buf_push(&chunked, "0\r\n\r\n", 5);
    assert_int_equal(exchange(p, chunked.data, chunked.len, NULL), 413);
    buf_free(&chunked);
}

/* Usage errors exit 2 with one line; a port in use, a bad key file or a
 * missing model exit 1 with the reason. */
static void test_cli_errors(void **state) {
    (void)state;
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s serve 2>&1", chirp_bin());
    assert_int_equal(run_capture(cmd, &out), 2);
    assert_non_null(strstr(out, "--model"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve --model %s --port 70000 2>&1", chirp_bin(), model_dir);
    assert_int_equal(run_capture(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s serve --model %s --port %d 2>&1", chirp_bin(), model_dir, srv.port);
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "cannot listen on 127.0.0.1"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve --model %s --api-key-file /nonexistent/keys 2>&1", chirp_bin(), model_dir);
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "/nonexistent/keys"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve --model /nonexistent/model 2>&1", chirp_bin());
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "chirp: "));
    free(out);
}

/* A server with one slot and a queue of one: with one request generating
 * and one waiting, the next gets 503 with Retry-After. */
static void test_queue_full_is_503(void **state) {
    (void)state;
    TestServer small;
    char args[1024];
    snprintf(args, sizeof args, "--model %s --parallel 1 --max-queue 1 --threads 1 --quiet", model_dir);
    assert_int_equal(test_server_start(&small, args), 0);
    int held[2];
    for (int i = 0; i < 2; i++) assert_true((held[i] = held_stream(small.port, NULL)) >= 0);
    assert_true(wait_health(small.port, "\"slots_processing\":1,\"queued\":1", 5) >= 0);
    char *out = NULL;
    assert_int_equal(post(small.port, "/v1/completions", NULL, "{\"prompt\": \"x\", \"max_tokens\": 2}", &out), 503);
    assert_non_null(strstr(out, "Retry-After: 1"));
    assert_non_null(strstr(out, "server_busy"));
    free(out);
    for (int i = 0; i < 2; i++) close(held[i]);
    /* Both clients left: the server takes work again. */
    assert_true(wait_health(small.port, "\"slots_processing\":0,\"queued\":0", 3) >= 0);
    assert_int_equal(post(small.port, "/v1/completions", NULL, "{\"prompt\": \"x\", \"max_tokens\": 2}", NULL), 200);
    assert_int_equal(test_server_stop(&small), 0);
}

/* Slow-loris: connections that trickle a request byte by byte are cut
 * after --timeout (2 s) while ordinary requests are served meanwhile. */
static void test_slow_loris(void **state) {
    (void)state;
    enum { N = 24 };
    int fds[N];
    const char *partial = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < N; i++) {
        fds[i] = connect_to(srv.port);
        assert_true(fds[i] >= 0);
        send(fds[i], partial, strlen(partial), MSG_NOSIGNAL);
    }
    double t0 = time_now();
    int served = 0, closed = 0;
    while (time_now() - t0 < 8.0 && closed < N) {
        for (int i = 0; i < N; i++) {
            if (fds[i] < 0) continue;
            if (send(fds[i], "a", 1, MSG_NOSIGNAL) < 0) {
                close(fds[i]);
                fds[i] = -1;
                closed++;
                continue;
            }
            struct pollfd pf = {.fd = fds[i], .events = POLLIN};
            char c;
            if (poll(&pf, 1, 0) > 0 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0) {
                close(fds[i]);
                fds[i] = -1;
                closed++;
            }
        }
        if (get(srv.port, "/health", NULL, NULL) == 200) served++;
        usleep(200 * 1000);
    }
    double took = time_now() - t0;
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0) close(fds[i]);
    printf("  %d slow connections cut after %.1f s; %d normal requests served meanwhile\n", closed, took, served);
    assert_int_equal(closed, N);
    assert_true(took < 6.0);
    assert_true(served >= 5);
}

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* One hostile request of kind k (deterministic from i). */
static size_t hostile(int i, char *buf, size_t cap) {
    static const char *bodies[] = {
        "{\"messages\": 5}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"warm\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 1000}",
        "{\"prompt\": \"\xc3\x28\xff\"}",
        "{\"prompt\": [1, 2, 99999]}",
        "{\"prompt\": \"x\", \"max_tokens\": -1}",
        "{\"prompt\": \"x\", \"logit_bias\": {\"-5\": 3}}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "{\"prompt\": \"x\", \"stop\": [[[]]]}",
        "null",
    };
    int kind = i % 14;
    if (kind < 10) {
        const char *b = bodies[kind];
        const char *path = kind < 3 ? "/v1/chat/completions" : "/v1/completions";
        return (size_t)snprintf(buf, cap,
                                "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
                                "\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                                path, strlen(b), b);
    }
    if (kind == 10) return (size_t)snprintf(buf, cap, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le");
    if (kind == 11) { /* binary garbage */
        unsigned s = (unsigned)i * 2654435761u;
        size_t n = 200;
        for (size_t j = 0; j < n; j++) buf[j] = (char)((s = s * 1103515245u + 12345u) >> 16);
        return n;
    }
    if (kind == 12) /* a body shorter than its Content-Length, then close */
        return (size_t)snprintf(buf, cap,
                                "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
                                "\r\nContent-Length: 500\r\n\r\n{\"prompt\":");
    /* huge max_tokens on a valid request, but with a wrong key */
    return (size_t)snprintf(
        buf, cap,
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n"
        "Connection: close\r\nContent-Length: 40\r\n\r\n{\"prompt\":\"x\",\"max_tokens\":9999999999}");
}

/* 10,000 malformed or hostile requests: no crash, every one answered or
 * closed, memory flat, and the server still works. */
static void test_hostile_flood(void **state) {
    (void)state;
    char req[1024];
    int answered = 0, dropped = 0;
    double t0 = time_now();
    long rss_warm = 0, rss_mid = 0;
    int total = 10000, done = 0;
    for (int i = 0; i < total && time_now() - t0 < 120; i++, done++) {
        if (done == 2000) rss_warm = rss_kb(srv.pid);
        if (done == 6000) rss_mid = rss_kb(srv.pid);
        size_t n = hostile(i, req, sizeof req);
        int kind = i % 14;
        if (kind >= 10 && kind <= 12) {
            /* Half a request, then the client vanishes. */
            int fd = connect_to(srv.port);
            if (fd >= 0) {
                send(fd, req, n, MSG_NOSIGNAL);
                close(fd);
            }
            dropped++;
            continue;
        }
        int st = exchange(srv.port, req, n, NULL);
        if (st >= 400 && st < 500) answered++;
        else dropped++;
    }
    long rss_end = rss_kb(srv.pid);
    printf("  %d hostile requests in %.1f s: %d answered with 4xx, %d closed; RSS %ld -> %ld -> %ld KB "
           "(after 2,000, 6,000, 10,000)\n",
           done, time_now() - t0, answered, dropped, rss_warm, rss_mid, rss_end);
    assert_int_equal(done, total);
    assert_int_equal(kill(srv.pid, 0), 0);
    assert_int_equal(answered, total - dropped); /* every complete request got its 4xx */
    /* Flat: allocator caches fill early; the last 4,000 requests may not
     * grow memory by more than ~1 KB each. */
    assert_true(rss_end - rss_mid < 4 * 1024);
    char *out = NULL;
    assert_int_equal(post(srv.port, "/v1/completions", KEY, "{\"prompt\": \"Once\", \"max_tokens\": 4}", &out), 200);
    free(out);
}

/* A streaming client that goes away mid-reply frees its slot within a
 * second. The client first stops reading for a second, which shows the
 * slot stays busy for as long as the client is there. */
static void test_disconnect_frees_slot(void **state) {
    (void)state;
    int fd = held_stream(srv.port, KEY);
    assert_true(fd >= 0);
    assert_true(wait_health(srv.port, "\"slots_processing\":1", 5) >= 0);
    usleep(1000 * 1000);
    assert_true(wait_health(srv.port, "\"slots_processing\":1", 0.5) >= 0);
    close(fd);
    double took = wait_health(srv.port, "\"slots_processing\":0", 3);
    printf("  slot free %.0f ms after the client closed\n", took * 1000);
    assert_true(took >= 0 && took <= 1.0);
}

/* Runs a tests/serve script against the server; 77 means skip. */
static void run_node(const char *script, const char *what) {
    if (!test_have_node()) {
        printf("  (so %s are skipped)\n", what);
        skip();
    }
    char env[2048], path[256];
    snprintf(env, sizeof env, "PORT=%d API_KEY=%s MODEL_DIR=%s CHIRP_BIN=%s", srv.port, KEY, model_dir, chirp_bin());
    snprintf(path, sizeof path, "tests/serve/%s", script);
    int rc = test_node_script(env, path);
    if (rc == 77) skip();
    assert_int_equal(rc, 0);
}

static void test_openai_client(void **state) {
    (void)state;
    run_node("openai_client.mjs", "the OpenAI client checks");
}

static void test_web_page(void **state) {
    (void)state;
    run_node("web_page.mjs", "the web page checks");
}

/* SIGTERM with two streams in flight: one client keeps reading and gets
 * a proper end (the rest of its reply and [DONE], or the shutdown error
 * event); the other does not read at all, so its reply cannot finish and
 * is cancelled after the grace period. The server exits 0 within a few
 * seconds either way. */
static void test_sigterm_exits_zero(void **state) {
    (void)state;
    int reader = held_stream(srv.port, KEY), stuck = held_stream(srv.port, KEY);
    assert_true(reader >= 0 && stuck >= 0);
    assert_true(wait_health(srv.port, "\"slots_processing\":2", 5) >= 0);
    double t0 = time_now();
    kill(srv.pid, SIGTERM);
    Buf all = {0};
    char buf[1 << 16];
    ssize_t got;
    while ((got = recv(reader, buf, sizeof buf, 0)) > 0 && time_now() - t0 < 20) buf_push(&all, buf, (size_t)got);
    buf_terminate(&all);
    int status = 0;
    waitpid(srv.pid, &status, 0);
    srv.pid = 0;
    double took = time_now() - t0;
    close(reader);
    close(stuck);
    bool ended = all.data && (strstr(all.data, "data: [DONE]") || strstr(all.data, "shutting down"));
    printf("  stopped in %.1f s; the reading client's stream ended with %s\n", took,
           !ended                       ? "nothing"
           : strstr(all.data, "[DONE]") ? "[DONE]"
                                        : "the shutdown error");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(took < 10.0);
    assert_true(ended);
    buf_free(&all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_queue_full_is_503),
        cmocka_unit_test(test_slow_loris),
        cmocka_unit_test(test_disconnect_frees_slot),
        cmocka_unit_test(test_openai_client),
        cmocka_unit_test(test_web_page),
        cmocka_unit_test(test_hostile_flood),
        cmocka_unit_test(test_sigterm_exits_zero),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
