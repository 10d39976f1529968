/* cmd_serve.c: `chirp serve`: the OpenAI-compatible server and web page. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "compute/kernels.h"
#include "serve/server.h"
#include "text/chat_template.h"
#include "util/error.h"
#include "util/file.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP                                                                                               \
    "usage: chirp serve --model DIR [--tokenizer T] [--host 127.0.0.1] [--port 8080] [--parallel N]\n"     \
    "                   [--quant none|bf16|int8] [--threads N] [--api-key KEY]... [--api-key-file F]\n"    \
    "                   [--alias NAME] [--max-queue N] [--max-body BYTES] [--timeout S] [--cors ORIGIN]\n" \
    "\n"                                                                                                   \
    "Serves the model over HTTP with OpenAI's API (POST /v1/chat/completions, /v1/completions,\n"          \
    "GET /v1/models), plus /health, /metrics (Prometheus), /tokenize, /detokenize and a chat page\n"       \
    "at /. Up to --parallel requests generate at once, batched into one forward per token\n"               \
    "(continuous batching); the rest wait in a queue of --max-queue, beyond which the answer is\n"         \
    "503. A request's output does not depend on what runs beside it: with the same seed it is\n"           \
    "the same as `chirp generate`. Prints 'listening on http://HOST:PORT' when ready and one\n"            \
    "access-log line per request on stderr. SIGINT or SIGTERM stops it (in-flight requests get a\n"        \
    "few seconds to finish).\n"                                                                            \
    "\n"                                                                                                   \
    "  --model DIR            model directory (config.json, model.safetensors, tokenizer.json)\n"          \
    "  --tokenizer T          tokenizer.json or a directory with one (default: the model's)\n"             \
    "  --host H               address to bind (default 127.0.0.1: this machine only)\n"                    \
    "  --port P               port (default 8080; 0 picks a free one)\n"                                   \
    "  --parallel N           slots: requests generating at once (default 4)\n"                            \
    "  --quant none|bf16|int8 round (bf16) or quantize (int8) the weights at load\n"                       \
    "  --threads N            threads of the model (default: OMP_NUM_THREADS or all cores)\n"              \
    "  --api-key KEY          require 'Authorization: Bearer KEY' (repeatable); / and /health stay open\n" \
    "  --api-key-file F       keys, one per line ('#' starts a comment)\n"                                 \
    "  --alias NAME           the model's name in the API (default: the directory's name)\n"               \
    "  --max-queue N          requests' choices that may wait for a slot (default 64)\n"                   \
    "  --max-body BYTES       largest request body (default 1048576; more gets 413)\n"                     \
    "  --timeout S            a request must arrive within S seconds, and idle connections\n"              \
    "                         close after S seconds (default 30)\n"                                        \
    "  --cors ORIGIN          allow browsers from ORIGIN (or '*') to call the API\n"                       \
    "  --prefill-chunk N      prompt tokens run per step beside the decoding ones (default 256)\n"         \
    "  --http-threads N       HTTP threads (default 4)\n"                                                  \
    "  --quiet                no access log\n"                                                             \
    "\n"                                                                                                   \
    "examples:\n"                                                                                          \
    "  chirp serve --model out/model --parallel 8\n"                                                       \
    "  curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n"            \
    "       -d '{\"model\": \"chirp\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}'\n"

/* Adds the keys of an --api-key-file to keys. */
static int read_key_file(const char *path, StrList *keys, char **store) {
    size_t len;
    char *text = file_read_all(path, &len);
    if (!text) return -1;
    int before = keys->count;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        keys->items = xrealloc(keys->items, (size_t)(keys->count + 1) * sizeof(char *));
        keys->items[keys->count++] = line;
    }
    if (keys->count == before) {
        free(text);
        return chirp_fail("%s: no API keys in the file", path);
    }
    *store = text;
    return 0;
}

/* The model is loaded (and int8-quantized, which runs OpenMP) on a thread
 * of its own that then exits, taking its OpenMP team with it: libgomp
 * stops spinning between parallel regions, and sleeps instead, when it
 * manages more threads than there are CPUs, and a second idle team (the
 * main thread's) would make every forward of the scheduler's team pay
 * futex wake-ups. Measured: int8 decoding ran at ~60% of chirp generate's
 * speed with the load on the main thread. */
typedef struct Loader {
    const InferFlags *f;
    InferQuant quant;
    InferModel *m;
    Tokenizer **tok;
    int rc;
    char error[512];
} Loader;

static void *load_model(void *arg) {
    Loader *l = arg;
    l->rc = infer_open(l->f, l->quant, l->m, l->tok);
    if (l->rc != 0) snprintf(l->error, sizeof l->error, "%s", chirp_error());
    return NULL;
}

static int open_model(const InferFlags *f, InferQuant quant, InferModel *m, Tokenizer **tok) {
    Loader l = {f, quant, m, tok, -1, ""};
    pthread_t t;
    if (pthread_create(&t, NULL, load_model, &l) != 0) return infer_open(f, quant, m, tok);
    pthread_join(t, NULL);
    if (l.rc != 0) chirp_fail("%s", l.error);
    return l.rc;
}

static char *default_alias(const char *dir) {
    char *d = xstrdup(dir);
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/') d[--n] = '\0';
    const char *slash = strrchr(d, '/');
    char *alias = xstrdup(slash && slash[1] ? slash + 1 : d);
    free(d);
    return alias;
}

static int run(int argc, char **argv) {
    InferFlags f;
    infer_flags_default(&f);
    ServeConfig cfg;
    serve_config_default(&cfg);
    const char *key_file = NULL, *alias = NULL;
    long port = cfg.port, parallel = cfg.parallel, max_queue = cfg.max_queue, max_body = (long)cfg.max_body;
    long prefill_chunk = cfg.prefill_chunk, http_threads = cfg.http_threads;
    double timeout = cfg.timeout_s;
    bool quiet = false;
    StrList keys = {0};
    ArgSpec specs[32];
    int ns = 0;
    specs[ns++] = (ArgSpec){"model", ARG_STR, &f.model, 0, -1};
    specs[ns++] = (ArgSpec){"tokenizer", ARG_STR, &f.tokenizer, 0, -1};
    specs[ns++] = (ArgSpec){"quant", ARG_STR, &f.quant, 0, -1};
    specs[ns++] = (ArgSpec){"threads", ARG_INT, &f.threads, 1, 1024};
    specs[ns++] = (ArgSpec){"host", ARG_STR, &cfg.host, 0, -1};
    specs[ns++] = (ArgSpec){"port", ARG_INT, &port, 0, 65535};
    specs[ns++] = (ArgSpec){"parallel", ARG_INT, &parallel, 1, 256};
    specs[ns++] = (ArgSpec){"api-key", ARG_LIST, &keys, 0, -1};
    specs[ns++] = (ArgSpec){"api-key-file", ARG_STR, &key_file, 0, -1};
    specs[ns++] = (ArgSpec){"alias", ARG_STR, &alias, 0, -1};
    specs[ns++] = (ArgSpec){"max-queue", ARG_INT, &max_queue, 1, 100000};
    specs[ns++] = (ArgSpec){"max-body", ARG_INT, &max_body, 1024, 1 << 30};
    specs[ns++] = (ArgSpec){"timeout", ARG_DOUBLE, &timeout, 1, 86400};
    specs[ns++] = (ArgSpec){"cors", ARG_STR, &cfg.cors_origin, 0, -1};
    specs[ns++] = (ArgSpec){"prefill-chunk", ARG_INT, &prefill_chunk, 1, 1 << 20};
    specs[ns++] = (ArgSpec){"http-threads", ARG_INT, &http_threads, 1, 64};
    specs[ns++] = (ArgSpec){"quiet", ARG_BOOL, &quiet, 0, -1};
    int rc = args_parse("serve", argc, argv, 1, specs, ns, NULL);
    InferQuant quant = INFER_F32;
    if (rc == EXIT_OK) rc = infer_flags_check("serve", &f, &quant);
    if (rc != EXIT_OK) {
        strlist_free(&keys);
        return rc;
    }
    char *key_store = NULL, *alias_store = NULL;
    InferModel m;
    Tokenizer *tok = NULL;
    ChatTemplate tpl = {0};
    Server *srv = NULL;
    if (key_file && read_key_file(key_file, &keys, &key_store) != 0) {
        rc = cli_fail();
        goto done;
    }
    if (open_model(&f, quant, &m, &tok) != 0) {
        rc = cli_fail();
        goto done;
    }
    if (chat_template_load(&tpl, f.model, tok) != 0) {
        rc = cli_fail();
        goto done;
    }
    if (!alias) alias = alias_store = default_alias(f.model);
    cfg.port = (int)port;
    cfg.parallel = (int)parallel;
    cfg.threads = f.threads > 0 ? (int)f.threads : omp_get_max_threads();
    cfg.http_threads = (int)http_threads;
    cfg.api_keys = keys.items;
    cfg.n_api_keys = keys.count;
    cfg.alias = alias;
    cfg.model_dir = f.model;
    cfg.max_queue = (int)max_queue;
    cfg.max_body = (size_t)max_body;
    cfg.timeout_s = timeout;
    cfg.prefill_chunk = (int)prefill_chunk;
    cfg.access_log = !quiet;

    /* Signals go to this thread only (sigwait below): every thread the
     * server starts inherits the blocked mask. A client that hangs up
     * must not kill the process. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv = server_start(&cfg, &m, tok, &tpl);
    if (!srv) {
        rc = cli_fail();
        goto done;
    }
    fprintf(stderr, "chirp serve: %s (%d layers, %d context, %s), %d slots, %d threads (%s kernels), template: %s%s\n",
            alias, m.cfg.n_layer, m.cfg.n_ctx, infer_model_kernel(&m), cfg.parallel, cfg.threads, kern_simd_name(),
            tpl.source, cfg.n_api_keys ? ", API keys required" : "");
    const char *shown = strchr(cfg.host, ':') ? "[%s]" : "%s";
    char host[300];
    snprintf(host, sizeof host, shown, cfg.host);
    printf("listening on http://%s:%d\n", host, server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "chirp serve: %s: stopping (in-flight requests get 3 s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(srv, 3.0);
    fprintf(stderr, "chirp serve: stopped\n");
done:
    server_free(srv);
    if (tok) {
        chat_template_destroy(&tpl);
        infer_model_destroy(&m);
        tokenizer_free(tok);
    }
    free(alias_store);
    free(key_store);
    strlist_free(&keys);
    return rc;
}

const Command cmd_serve = {
    .name = "serve",
    .summary = "serve the model: OpenAI-compatible HTTP API and a chat page",
    .help = HELP,
    .run = run,
};
