/* server.h: `chirp serve`: an OpenAI-compatible HTTP API and a web chat
 * page over one model.
 *
 * HTTP is libmicrohttpd with a small pool of threads that parse,
 * validate, tokenize and relay; they never run the model. One scheduler
 * thread (scheduler.h) owns the model and its slots. A streamed reply is
 * pulled by libmicrohttpd from the request's event queue; when the queue
 * is empty the connection is suspended, and the scheduler resumes it when
 * it has news. A watchdog resumes every suspended connection twice a
 * second, which is how a client that went away is noticed (a suspended
 * connection is not polled), and closes connections that take longer
 * than --timeout to send their request (slow clients). */
#ifndef CHIRP_SERVE_SERVER_H
#define CHIRP_SERVE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "infer/infer.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

typedef struct ServeConfig {
    const char *host; /* default 127.0.0.1 */
    int port;         /* 0 = any free port */
    int parallel;     /* slots */
    int threads;      /* OpenMP threads of the forward */
    int http_threads; /* libmicrohttpd's pool */
    const char *const *api_keys;
    int n_api_keys;
    const char *alias;     /* the model's name in the API */
    const char *model_dir; /* for /v1/models and the page's "about" panel */
    int max_queue;
    size_t max_body;
    double timeout_s;        /* a whole request must arrive within this; idle connections close */
    const char *cors_origin; /* NULL: no CORS headers */
    int prefill_chunk;
    bool access_log;
} ServeConfig;

/* Defaults for everything but the model. */
void serve_config_default(ServeConfig *c);

typedef struct Server Server;

/* Starts listening. m, tok and tpl must outlive the server. Returns NULL
 * with the error set (port taken, bad host, ...). */
Server *server_start(const ServeConfig *cfg, const InferModel *m, const Tokenizer *tok, const ChatTemplate *tpl);

/* The port actually bound (useful with port 0). */
int server_port(const Server *s);

/* Stops accepting, lets in-flight requests finish for up to grace_s
 * seconds (then ends them with an error), and closes everything. */
void server_stop(Server *s, double grace_s);

void server_free(Server *s);

#endif
