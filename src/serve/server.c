/* server.c: the HTTP daemon around the scheduler: routing, API keys,
 * CORS, body limits, the access log, the watchdog, and shutdown (see
 * server.h). Endpoints live in handlers.c, the relay of generated text in
 * relay.c. */
#include "serve/http_internal.h"

#include "util/error.h"
#include "util/sha256.h"
#include "util/timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void serve_config_default(ServeConfig *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->parallel = 4;
    c->threads = 0;
    c->http_threads = 4;
    c->max_queue = 64;
    c->max_body = 1 << 20;
    c->timeout_s = 30;
    c->prefill_chunk = 256;
    c->access_log = true;
}

/* Kernel send buffer per connection, and the unsent stream bytes at
 * which a slot pauses (see connection_notify and relay.c). */
#define SEND_BUFFER_BYTES (64 * 1024)
#define STREAM_BACKLOG_BYTES (32 * 1024)

/* ---- routes ---- */

typedef enum {
    R_WEB,
    R_HEALTH,
    R_METRICS,
    R_MODELS,
    R_MODEL,
    R_INFO,
    R_CHAT,
    R_COMPLETIONS,
    R_TOKENIZE,
    R_DETOKENIZE
} RouteId;

typedef struct Route {
    const char *path;
    const char *method;
    RouteId id;
    bool public_; /* no API key needed */
    bool prefix;  /* path is a prefix (/v1/models/{id}) */
} Route;

static const Route ROUTES[] = {
    {"/", "GET", R_WEB, true, false},
    {"/index.html", "GET", R_WEB, true, false},
    {"/chat.css", "GET", R_WEB, true, false},
    {"/chat.js", "GET", R_WEB, true, false},
    {"/health", "GET", R_HEALTH, true, false},
    {"/metrics", "GET", R_METRICS, false, false},
    {"/info", "GET", R_INFO, false, false},
    {"/v1/models", "GET", R_MODELS, false, false},
    {"/v1/models/", "GET", R_MODEL, false, true},
    {"/v1/chat/completions", "POST", R_CHAT, false, false},
    {"/v1/completions", "POST", R_COMPLETIONS, false, false},
    {"/tokenize", "POST", R_TOKENIZE, false, false},
    {"/detokenize", "POST", R_DETOKENIZE, false, false},
};
#define N_ROUTES ((int)(sizeof ROUTES / sizeof *ROUTES))

static const Route *find_route(const char *url) {
    for (int i = 0; i < N_ROUTES; i++) {
        const Route *r = &ROUTES[i];
        if (r->prefix ? strncmp(url, r->path, strlen(r->path)) == 0 && url[strlen(r->path)] : strcmp(url, r->path) == 0)
            return r;
    }
    return NULL;
}

/* ---- responses ---- */

void http_add_cors(const Server *s, struct MHD_Response *resp) {
    if (!s->cfg.cors_origin) return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cfg.cors_origin);
    MHD_add_response_header(resp, "Vary", "Origin");
}

enum MHD_Result http_respond(HttpReq *hr, int status, const char *content_type, char *body, size_t len,
                             bool take_ownership) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, take_ownership ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (take_ownership) free(body);
        return MHD_NO;
    }
    if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
    http_add_cors(hr->srv, resp);
    if (status == 503) MHD_add_response_header(resp, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (status == 405) {
        const Route *r = find_route(hr->path);
        MHD_add_response_header(resp, "Allow", r ? r->method : "GET, POST");
    }
    enum MHD_Result rc = MHD_queue_response(hr->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    hr->status = status;
    hr->handled = true;
    return rc;
}

enum MHD_Result http_respond_json(HttpReq *hr, int status, char *json) {
    return http_respond(hr, status, "application/json", json, strlen(json), true);
}

enum MHD_Result http_respond_error(HttpReq *hr, const ApiError *e) {
    return http_respond_json(hr, e->status, api_error_json(e));
}

static enum MHD_Result respond_simple_error(HttpReq *hr, int status, const char *type, const char *code,
                                            const char *message) {
    ApiError e;
    api_error(&e, status, type, NULL, code, "%s", message);
    return http_respond_error(hr, &e);
}

/* ---- API keys ---- */

/* Keys are compared as SHA-256 digests, every byte and every key: the
 * time taken does not depend on how much of a guess was right, nor on
 * the key's length. */
static bool key_ok(const Server *s, const char *presented, size_t len) {
    unsigned char h[32];
    Sha256 c;
    sha256_init(&c);
    sha256_update(&c, presented, len);
    sha256_final(&c, h);
    unsigned ok = 0;
    for (int k = 0; k < s->n_keys; k++) {
        unsigned diff = 0;
        for (int i = 0; i < 32; i++) diff |= (unsigned)(h[i] ^ s->key_hash[k][i]);
        ok |= diff == 0;
    }
    return ok != 0;
}

static bool authorized(const Server *s, struct MHD_Connection *conn) {
    if (s->n_keys == 0) return true;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return false;
    const char *key = auth + 7;
    while (*key == ' ') key++;
    size_t len = strlen(key);
    while (len > 0 && key[len - 1] == ' ') len--;
    return key_ok(s, key, len);
}

/* ---- connections and the watchdog ---- */

bool http_client_gone(HttpReq *hr) {
    if (!hr->ci) return false;
    struct pollfd p = {.fd = hr->ci->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
    Server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        ConnInfo *ci = xcalloc(1, sizeof *ci);
        ci->fd = info ? info->connect_fd : -1;
        /* A fixed send buffer: the kernel would otherwise grow it to
         * megabytes for a client that does not read, and that is buffering
         * without bound too. With it, a slow reader's stream backs up into
         * the request's backlog within ~100 KB and its slot pauses. */
        int sndbuf = SEND_BUFFER_BYTES;
        if (ci->fd >= 0) setsockopt(ci->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        ci->since = time_now();
        ci->receiving = true;
        pthread_mutex_lock(&s->conn_mu);
        ci->next = s->conns;
        if (s->conns) s->conns->prev = ci;
        s->conns = ci;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = ci;
    } else {
        /* Called before libmicrohttpd closes the socket: once the entry is
         * gone, the watchdog can no longer touch the (reusable) fd. */
        ConnInfo *ci = *socket_context;
        if (!ci) return;
        pthread_mutex_lock(&s->conn_mu);
        if (ci->prev) ci->prev->next = ci->next;
        else s->conns = ci->next;
        if (ci->next) ci->next->prev = ci->prev;
        pthread_mutex_unlock(&s->conn_mu);
        free(ci);
        *socket_context = NULL;
    }
}

void http_live_add(HttpReq *hr) {
    Server *s = hr->srv;
    pthread_mutex_lock(&s->live_mu);
    hr->live_next = s->live;
    hr->live_prev = NULL;
    if (s->live) s->live->live_prev = hr;
    s->live = hr;
    hr->in_live = true;
    s->n_live++;
    pthread_mutex_unlock(&s->live_mu);
}

static void live_remove(HttpReq *hr) {
    Server *s = hr->srv;
    pthread_mutex_lock(&s->live_mu);
    if (hr->in_live) {
        if (hr->live_prev) hr->live_prev->live_next = hr->live_next;
        else s->live = hr->live_next;
        if (hr->live_next) hr->live_next->live_prev = hr->live_prev;
        hr->in_live = false;
        s->n_live--;
    }
    pthread_mutex_unlock(&s->live_mu);
}

/* Resumes every suspended generation request, so each one looks at its
 * socket (a suspended connection is not polled: this is how a client that
 * went away is noticed) and sends a keep-alive during long prefills. */
static void resume_all(Server *s) {
    pthread_mutex_lock(&s->live_mu);
    for (HttpReq *hr = s->live; hr; hr = hr->live_next) {
        pthread_mutex_lock(&hr->sr->mu);
        if (hr->alive && hr->suspended) {
            hr->suspended = false;
            MHD_resume_connection(hr->conn);
        }
        pthread_mutex_unlock(&hr->sr->mu);
    }
    pthread_mutex_unlock(&s->live_mu);
}

/* Cuts connections that have been sending one request for longer than
 * the timeout (slow-loris clients trickling bytes to hold a connection). */
static void cut_slow_senders(Server *s) {
    double now = time_now();
    pthread_mutex_lock(&s->conn_mu);
    for (ConnInfo *ci = s->conns; ci; ci = ci->next) {
        if (ci->receiving && !ci->cut && ci->fd >= 0 && now - ci->since > s->cfg.timeout_s) {
            shutdown(ci->fd, SHUT_RDWR);
            ci->cut = true;
        }
    }
    pthread_mutex_unlock(&s->conn_mu);
}

static void *watchdog_main(void *arg) {
    Server *s = arg;
    pthread_mutex_lock(&s->wd_mu);
    while (!s->wd_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 400 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->wd_cv, &s->wd_mu, &ts);
        if (s->wd_stop) break;
        pthread_mutex_unlock(&s->wd_mu);
        resume_all(s);
        cut_slow_senders(s);
        pthread_mutex_lock(&s->wd_mu);
    }
    pthread_mutex_unlock(&s->wd_mu);
    return NULL;
}

/* ---- the access handler ---- */

static enum MHD_Result dispatch(HttpReq *hr, const Route *rt, const char *url) {
    switch (rt->id) {
    case R_WEB: return handle_web(hr, url);
    case R_HEALTH: return handle_health(hr);
    case R_METRICS: return handle_metrics(hr);
    case R_INFO: return handle_info(hr);
    case R_MODELS: return handle_models(hr, NULL);
    case R_MODEL: return handle_models(hr, url + strlen(rt->path));
    case R_CHAT: return handle_generation(hr, API_CHAT);
    case R_COMPLETIONS: return handle_generation(hr, API_COMPLETION);
    case R_TOKENIZE: return handle_tokenize(hr, API_TOKENIZE);
    case R_DETOKENIZE: return handle_tokenize(hr, API_DETOKENIZE);
    }
    return MHD_NO;
}

/* The first call for a request: everything decided by the headers alone
 * is answered before the body is read. Returns MHD_YES with hr->handled
 * set when it answered. */
static enum MHD_Result check_headers(HttpReq *hr, const Route *rt, const char *method) {
    Server *s = hr->srv;
    if (!rt) return respond_simple_error(hr, 404, "invalid_request_error", "not_found", "no such endpoint");
    if (!strcmp(method, "OPTIONS") && s->cfg.cors_origin) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        http_add_cors(s, resp);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        enum MHD_Result rc = MHD_queue_response(hr->conn, 204, resp);
        MHD_destroy_response(resp);
        hr->status = 204;
        hr->handled = true;
        return rc;
    }
    if (strcmp(method, rt->method) != 0 && !(strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s is not allowed here; use %s", method, rt->method);
        return respond_simple_error(hr, 405, "invalid_request_error", "method_not_allowed", msg);
    }
    if (!rt->public_ && !authorized(s, hr->conn))
        return respond_simple_error(hr, 401, "authentication_error", "invalid_api_key",
                                    "missing or wrong API key (send 'Authorization: Bearer KEY')");
    const char *cl = MHD_lookup_connection_value(hr->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > s->cfg.max_body) {
            char msg[128];
            snprintf(msg, sizeof msg, "the body is larger than the server's limit of %zu bytes", s->cfg.max_body);
            return respond_simple_error(hr, 413, "invalid_request_error", "request_too_large", msg);
        }
    }
    return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    Server *s = cls;
    HttpReq *hr = *con_cls;
    const Route *rt = find_route(url);
    if (!hr) {
        hr = xcalloc(1, sizeof *hr);
        hr->srv = s;
        hr->conn = conn;
        hr->t_start = time_now();
        snprintf(hr->method, sizeof hr->method, "%s", method);
        snprintf(hr->path, sizeof hr->path, "%s", url);
        hr->route = rt ? rt->path : "other";
        if (rt && rt->id == R_WEB) hr->route = "/";
        if (rt && rt->id == R_MODEL) hr->route = "/v1/models";
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        hr->ci = info ? info->socket_context : NULL;
        *con_cls = hr;
        if (s->stopping)
            return respond_simple_error(hr, 503, "server_error", "shutting_down", "the server is shutting down");
        return check_headers(hr, rt, method);
    }
    if (hr->handled) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!hr->body_too_big) {
            if (hr->body.len + *upload_data_size > s->cfg.max_body) {
                hr->body_too_big = true;
                buf_free(&hr->body);
            } else {
                buf_push(&hr->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole request is here. */
    if (hr->ci) {
        pthread_mutex_lock(&s->conn_mu);
        hr->ci->receiving = false;
        pthread_mutex_unlock(&s->conn_mu);
    }
    if (hr->body_too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than the server's limit of %zu bytes", s->cfg.max_body);
        return respond_simple_error(hr, 413, "invalid_request_error", "request_too_large", msg);
    }
    buf_terminate(&hr->body);
    return dispatch(hr, rt, url);
}

static void log_request(const HttpReq *hr, enum MHD_RequestTerminationCode toe) {
    const Server *s = hr->srv;
    double ms = (time_now() - hr->t_start) * 1000.0;
    int status = hr->status ? hr->status : 499; /* 499: the client left before an answer (nginx's code) */
    metrics_request(s->metrics, hr->route, status);
    if (!s->cfg.access_log) return;
    const char *note = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? ""
                       : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? " (client went away)"
                       : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)"
                       : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? " (shutdown)"
                                                                       : " (closed)";
    fprintf(stderr, "%s %s %d prompt=%d completion=%d %.0f ms%s\n", hr->method, hr->path, status, hr->prompt_tokens,
            hr->completion_tokens, ms, note);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    (void)conn;
    Server *s = cls;
    HttpReq *hr = *con_cls;
    if (!hr) return;
    if (hr->sr) {
        live_remove(hr);
        ServeRequest *sr = hr->sr;
        pthread_mutex_lock(&sr->mu);
        hr->alive = false;
        sr->wake = NULL; /* the scheduler must not touch hr from now on */
        if (sr->finished < sr->n_choices) sr->cancelled = true;
        hr->completion_tokens = sr->completion_tokens;
        pthread_mutex_unlock(&sr->mu);
        if (hr->status == 200) metrics_tokens(s->metrics, hr->prompt_tokens, hr->completion_tokens);
    }
    log_request(hr, toe);
    if (hr->ci) {
        /* The next request on a kept-alive connection gets its own deadline. */
        pthread_mutex_lock(&s->conn_mu);
        hr->ci->receiving = true;
        hr->ci->since = time_now();
        pthread_mutex_unlock(&s->conn_mu);
    }
    relay_free(hr);
    serve_request_release(hr->sr);
    api_request_free(&hr->api);
    buf_free(&hr->body);
    free(hr);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
    fprintf(stderr, "chirp serve: http: %s\n", msg);
}

/* ---- start and stop ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *addr, bool *v6) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) return chirp_fail("cannot resolve --host %s: %s", host, gai_strerror(rc));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static void hash_keys(Server *s) {
    s->n_keys = s->cfg.n_api_keys;
    s->key_hash = xcalloc((size_t)(s->n_keys + 1), 32);
    for (int k = 0; k < s->n_keys; k++) {
        Sha256 c;
        sha256_init(&c);
        sha256_update(&c, s->cfg.api_keys[k], strlen(s->cfg.api_keys[k]));
        sha256_final(&c, s->key_hash[k]);
    }
}

Server *server_start(const ServeConfig *cfg, const InferModel *m, const Tokenizer *tok, const ChatTemplate *tpl) {
    Server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->m = m;
    s->tok = tok;
    s->tpl = tpl;
    s->eot = tokenizer_eot_id(tok);
    /* A chat reply ends at the template's end marker or <|endoftext|>,
     * as in chirp chat. */
    int32_t end_id = tokenizer_special_id(tok, tpl->end);
    if (end_id >= 0) s->chat_stop_ids[s->n_chat_stop_ids++] = end_id;
    if (s->eot >= 0 && s->eot != end_id) s->chat_stop_ids[s->n_chat_stop_ids++] = s->eot;
    s->created = (long long)time(NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_mutex_init(&s->wd_mu, NULL);
    pthread_cond_init(&s->wd_cv, NULL);
    hash_keys(s);
    s->metrics = metrics_new();
    s->info_json = build_info_json(s);

    SchedConfig sc = {.slots = cfg->parallel,
                      .max_queue = cfg->max_queue,
                      .prefill_chunk = cfg->prefill_chunk,
                      .threads = cfg->threads,
                      .max_backlog = STREAM_BACKLOG_BYTES};
    s->sched = sched_new(m, tok, s->metrics, &sc);
    if (!s->sched) {
        server_free(s);
        return NULL;
    }
    struct sockaddr_storage addr;
    bool v6 = false;
    if (resolve(cfg->host, cfg->port, &addr, &v6) != 0) {
        server_free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6) flags |= MHD_USE_IPv6;
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s + 0.999),
                         MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
                         MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s, MHD_OPTION_END);
    if (!s->daemon) {
        chirp_fail("cannot listen on %s:%d (is the port in use?)", cfg->host, cfg->port);
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0) s->watchdog_running = true;
    return s;
}

int server_port(const Server *s) { return s->port; }

void server_stop(Server *s, double grace_s) {
    if (!s->daemon) return;
    s->stopping = true;
    int listen_fd = MHD_quiesce_daemon(s->daemon);
    sched_stop(s->sched, grace_s);
    /* Every choice has ended now; give the relays a moment to send their
     * last bytes (the watchdog keeps resuming them). */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&s->live_mu);
        int n = s->n_live;
        pthread_mutex_unlock(&s->live_mu);
        if (n == 0) break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->wd_mu);
        s->wd_stop = true;
        pthread_cond_signal(&s->wd_cv);
        pthread_mutex_unlock(&s->wd_mu);
        pthread_join(s->watchdog, NULL);
        s->watchdog_running = false;
    }
    /* libmicrohttpd must not be stopped with suspended connections. */
    resume_all(s);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (listen_fd >= 0) close(listen_fd);
}

void server_free(Server *s) {
    if (!s) return;
    if (s->daemon) server_stop(s, 0);
    sched_free(s->sched);
    metrics_free(s->metrics);
    free(s->info_json);
    free(s->key_hash);
    pthread_mutex_destroy(&s->conn_mu);
    pthread_mutex_destroy(&s->live_mu);
    pthread_mutex_destroy(&s->wd_mu);
    pthread_cond_destroy(&s->wd_cv);
    free(s);
}
