/* http_internal.h: what the server's three files share: server.c (the
 * daemon, routing, auth, limits, the watchdog), handlers.c (one function
 * per endpoint) and relay.c (moving a request's events to the client,
 * streamed or whole). Not part of the library's interface. */
#ifndef CHIRP_SERVE_HTTP_INTERNAL_H
#define CHIRP_SERVE_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>

#include "serve/api_request.h"
#include "serve/api_response.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/scheduler.h"
#include "serve/server.h"
#include "util/buf.h"

/* One TCP connection, tracked so that one that is slow to send its
 * request can be cut off (libmicrohttpd only times out idle ones). */
typedef struct ConnInfo {
    int fd;
    double since;   /* when the request now arriving began */
    bool receiving; /* between requests or mid-request: the deadline applies */
    bool cut;       /* already shut down by the watchdog */
    struct ConnInfo *prev, *next;
} ConnInfo;

/* What the relay keeps per choice of a request. */
typedef struct ChoiceOut {
    Buf text; /* non-streamed: the whole completion */
    ApiLogprob *logprobs;
    int n_logprobs, cap_logprobs;
    int text_offset; /* streamed completions' logprobs offsets */
    const char *finish;
    const char *error;
    bool done;
} ChoiceOut;

typedef struct HttpReq {
    struct Server *srv;
    struct MHD_Connection *conn;
    ConnInfo *ci;
    char method[8];
    char path[64];     /* for the access log (truncated) */
    const char *route; /* the endpoint's name for metrics */
    double t_start;
    int status; /* what was answered */
    Buf body;
    bool body_too_big, handled;

    /* Generation. */
    ServeRequest *sr;
    ApiRequest api; /* owned by sr once submitted (sr->owner) */
    ApiMeta meta;
    char id[64];
    ChoiceOut *out;
    int n_choices;
    int prompt_tokens; /* distinct prompts' tokens (usage) */
    int completion_tokens;
    bool stream, include_usage;
    /* Under sr->mu: */
    bool alive;     /* the connection exists (until the completed callback) */
    bool suspended; /* we suspended it and nobody resumed it yet */
    /* Stream state (the libmicrohttpd thread only). */
    Buf wire; /* formatted bytes not yet handed to libmicrohttpd */
    size_t wire_off;
    double last_write;
    bool stream_over; /* [DONE] or the error event is in `wire` */
    /* The server's list of live generation requests. */
    struct HttpReq *live_prev, *live_next;
    bool in_live;
} HttpReq;

struct Server {
    ServeConfig cfg;
    const InferModel *m;
    const Tokenizer *tok;
    const ChatTemplate *tpl;
    int32_t eot;
    int32_t chat_stop_ids[2];
    int n_chat_stop_ids;
    unsigned char (*key_hash)[32];
    int n_keys;
    struct MHD_Daemon *daemon;
    int port;
    Scheduler *sched;
    Metrics *metrics;
    char *info_json; /* GET /info: what the model is and what trained it */
    long long created;
    pthread_t watchdog;
    bool watchdog_running;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    bool wd_stop;
    pthread_mutex_t conn_mu;
    ConnInfo *conns;
    pthread_mutex_t live_mu; /* taken before any request's mu */
    HttpReq *live;
    int n_live;
    _Atomic bool stopping; /* read by every HTTP thread */
};

/* server.c */
enum MHD_Result http_respond(HttpReq *hr, int status, const char *content_type, char *body, size_t len,
                             bool take_ownership);
enum MHD_Result http_respond_json(HttpReq *hr, int status, char *json);
enum MHD_Result http_respond_error(HttpReq *hr, const ApiError *e);
void http_add_cors(const struct Server *s, struct MHD_Response *resp);
bool http_client_gone(HttpReq *hr);
void http_live_add(HttpReq *hr);

/* handlers.c */
enum MHD_Result handle_health(HttpReq *hr);
enum MHD_Result handle_metrics(HttpReq *hr);
enum MHD_Result handle_models(HttpReq *hr, const char *id);
enum MHD_Result handle_info(HttpReq *hr);
enum MHD_Result handle_web(HttpReq *hr, const char *path);
enum MHD_Result handle_tokenize(HttpReq *hr, ApiKind kind);
enum MHD_Result handle_generation(HttpReq *hr, ApiKind kind);
char *build_info_json(const struct Server *s);

/* relay.c */
enum MHD_Result relay_start_stream(HttpReq *hr);
enum MHD_Result relay_whole(HttpReq *hr);
void relay_wake(void *hr);
void relay_free(HttpReq *hr);

#endif
