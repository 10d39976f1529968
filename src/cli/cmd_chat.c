/* cmd_chat.c: `chirp chat`: a multi-turn conversation in the terminal (or
 * one message per line from a pipe).
 *
 * The KV cache is kept across turns: a new user message costs only its
 * own prefill. When the conversation outgrows the context the oldest turns
 * are dropped (the system prompt is kept) and the rest is prefilled again.
 * Ctrl-C sets a flag the generation loop polls, so it ends the reply, not
 * the program. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "text/chat_template.h"
#include "infer/generate.h"
#include "util/error.h"

#include <errno.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELP                                                                                                     \
    "usage: chirp chat --model DIR [--system TEXT] [--max-tokens N] [sampling flags] [--quant none|bf16|int8]\n" \
    "                  [--threads N] [--tokenizer T]\n"                                                          \
    "\n"                                                                                                         \
    "Chats with a model. Type a message and press Enter; the reply streams back.\n"                              \
    "  /reset   start a new conversation (the system prompt is kept)\n"                                          \
    "  /exit    quit (Ctrl-D too)\n"                                                                             \
    "Ctrl-C stops the current reply, not the program. When stdin is not a terminal each line is one\n"           \
    "user message and each reply is printed on one line of stdout.\n"                                            \
    "\n"                                                                                                         \
    "The template comes from the model directory (\"chat_template\" in chirp.json or tokenizer.json),\n"         \
    "else ChatML (<|im_start|>role ... <|im_end|>) when the tokenizer has those tokens, else a\n"                \
    "plain-text fallback (User: ... / Assistant: ...). When the conversation outgrows the context,\n"            \
    "the oldest turns are dropped (the system prompt is kept) and a notice goes to stderr.\n"                    \
    "\n"                                                                                                         \
    "  --system TEXT          system prompt\n"                                                                   \
    "  --max-tokens N         longest reply in tokens (default 256)\n" INFER_FLAGS_HELP "\n"                     \
    "example:\n"                                                                                                 \
    "  chirp chat --model out/model --system 'You are a friendly bird.' --temperature 0.7\n"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Waits at the prompt until a line can be read (1) or Ctrl-C is pressed
 * (0). SIGINT stays blocked except inside ppoll, which unblocks it
 * atomically, so a ^C typed just before the wait starts is not lost.
 * For a terminal only: in canonical mode a readable terminal holds a whole
 * line, so the getline that follows does not block. */
static int wait_for_line(void) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    int got = 0;
    while (!interrupted && !got) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        sigset_t wait_mask = old;
        sigdelset(&wait_mask, SIGINT);
        int n = ppoll(&p, 1, NULL, &wait_mask);
        if (n > 0) got = 1;
        else if (n < 0 && errno != EINTR) got = 1; /* let getline report it */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return got;
}

typedef struct Chat {
    ChatMessage *msgs; /* msgs[i].content is owned (malloc'd) */
    int n, cap;
    int in_cache; /* messages whose tokens the cache holds, exactly */
} Chat;

static void chat_push(Chat *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->msgs = xrealloc(c->msgs, (size_t)c->cap * sizeof(ChatMessage));
    }
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = xstrdup(content);
    c->n++;
}

static void chat_drop(Chat *c, int i) {
    free((char *)c->msgs[i].content);
    memmove(c->msgs + i, c->msgs + i + 1, (size_t)(c->n - i - 1) * sizeof(ChatMessage));
    c->n--;
}

static void chat_clear(Chat *c, int keep) {
    while (c->n > keep) chat_drop(c, c->n - 1);
}

static int run(int argc, char **argv) {
    InferFlags f;
    infer_flags_default(&f);
    f.max_tokens = 256;
    const char *system_prompt = NULL;
    ArgSpec specs[32];
    int ns = infer_flags_specs(&f, specs, 0);
    specs[ns++] = (ArgSpec){"system", ARG_STR, &system_prompt, 0, -1};
    int rc = args_parse("chat", argc, argv, 1, specs, ns, NULL);
    InferQuant quant = INFER_F32;
    if (rc == EXIT_OK) rc = infer_flags_check("chat", &f, &quant);
    if (rc != EXIT_OK) return rc;

    InferModel m;
    Tokenizer *tok = NULL;
    if (infer_open(&f, quant, &m, &tok) != 0) return cli_fail();
    ChatTemplate tpl;
    if (chat_template_load(&tpl, f.model, tok) != 0) {
        infer_model_destroy(&m);
        tokenizer_free(tok);
        return cli_fail();
    }
    if (tpl.plain)
        fprintf(stderr, "chirp chat: the tokenizer has no <|im_start|>/<|im_end|> tokens; using the plain-text "
                        "template (User: ... / Assistant: ...)\n");
    int tty = isatty(STDIN_FILENO);
    int n_ctx = m.cfg.n_ctx;
    /* Room kept free for a reply when deciding whether turns must go. */
    int reserve = (int)(f.max_tokens < n_ctx / 4 ? f.max_tokens : n_ctx / 4);

    /* Stop at the template's end marker: as a token if it is one special
     * token, and as text either way; <|endoftext|> ends a reply too. */
    int32_t stop_ids[2];
    int n_stop_ids = 0;
    int32_t end_id = tokenizer_special_id(tok, tpl.end);
    if (end_id >= 0) stop_ids[n_stop_ids++] = end_id;
    int32_t eot = tokenizer_eot_id(tok);
    if (eot >= 0 && eot != end_id) stop_ids[n_stop_ids++] = eot;
    const char *stop_strs[1] = {tpl.end};
    GenOptions go = {.max_tokens = (int)f.max_tokens,
                     .stop_strings = stop_strs,
                     .n_stop_strings = 1,
                     .stop_ids = stop_ids,
                     .n_stop_ids = n_stop_ids};

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: Ctrl-C at the prompt interrupts the read */
    sigaction(SIGINT, &sa, NULL);

    InferState *st = infer_state_new(&m);
    SamplerConfig sc;
    infer_sampler_config(&f, &sc);
    Sampler *sm = sampler_new(&sc, m.cfg.vocab_size);
    Chat chat = {0};
    int keep = 0;
    if (system_prompt) {
        chat_push(&chat, "system", system_prompt);
        keep = 1;
    }
    ChatTokens ct = {0};
    char *line = NULL;
    size_t line_cap = 0;
    long total_tokens = 0;
    double total_s = 0;
    if (tty) fprintf(stderr, "chirp chat: /reset starts over, /exit quits, Ctrl-C stops a reply.\n");
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        if (tty && !wait_for_line()) {
            interrupted = 0;
            fputs("\n(Ctrl-C: type /exit or press Ctrl-D to quit)\n", stderr);
            continue;
        }
        errno = 0;
        ssize_t len = getline(&line, &line_cap, stdin);
        if (len < 0) {
            if (errno == EINTR && interrupted) {
                interrupted = 0;
                clearerr(stdin);
                fputs("\n(Ctrl-C: type /exit or press Ctrl-D to quit)\n", stderr);
                continue;
            }
            if (tty) fputc('\n', stdout);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            chat_clear(&chat, keep);
            chat.in_cache = 0;
            infer_state_reset(st);
            fputs("(new conversation)\n", stderr);
            continue;
        }
        chat_push(&chat, "user", line);

        /* Tokens to add: just the new message if the cache holds the rest,
         * else the whole conversation. */
        int dropped = 0, ok = 1;
        for (;;) {
            chat_tokens_clear(&ct);
            int from = chat.in_cache;
            if (from == 0) infer_state_reset(st);
            if (chat_render(&tpl, tok, chat.msgs + from, chat.n - from, true, &ct) != 0) {
                rc = cli_fail();
                ok = -1;
                break;
            }
            if (st->pos + (int)ct.n + reserve <= n_ctx) break;
            /* Too long: drop the oldest turn after the system prompt. */
            if (chat.n - keep <= 1) {
                if (st->pos + (int)ct.n + 1 > n_ctx) {
                    fprintf(stderr,
                            "chirp chat: that message is too long for the model's context (%d tokens); "
                            "not sent\n",
                            n_ctx);
                    chat_drop(&chat, chat.n - 1);
                    ok = 0;
                }
                break;
            }
            chat_drop(&chat, keep);
            dropped++;
            /* Keep turns whole: a dropped user message takes its reply along. */
            if (chat.n - keep > 1 && strcmp(chat.msgs[keep].role, "assistant") == 0) {
                chat_drop(&chat, keep);
                dropped++;
            }
            chat.in_cache = 0;
        }
        if (ok < 0) break;
        if (ok == 0) continue;
        if (dropped)
            fprintf(stderr, "(context full: dropped the %d oldest message%s%s)\n", dropped, dropped > 1 ? "s" : "",
                    keep ? ", kept the system prompt" : "");

        interrupted = 0;
        sampler_reset_history(sm);
        GenResult r;
        GenOptions g = go;
        if (g.max_tokens > n_ctx - st->pos - (int)ct.n) g.max_tokens = n_ctx - st->pos - (int)ct.n;
        if (generate(st, sm, tok, ct.ids, (int)ct.n, &g, &interrupted, infer_write_stdout, NULL, &r) != 0) {
            rc = cli_fail();
            break;
        }
        fputc('\n', stdout);
        fflush(stdout);
        if (strcmp(r.stopped, "interrupted") == 0) fputs("(stopped)\n", stderr);
        interrupted = 0; /* that ^C was for this reply, not the next prompt */
        total_tokens += r.new_tokens;
        total_s += r.decode_s;
        const char *reply = r.text;
        if (tpl.content_space && reply[0] == ' ') reply++;
        chat_push(&chat, "assistant", reply);
        /* The cache now holds the prompt and the reply's tokens. Close the
         * reply as the template does, unless generation stopped inside a
         * text stop string (then its tokens overlap the marker; re-render
         * next turn instead). */
        chat.in_cache = 0;
        if (strcmp(r.stopped, "stop-string") != 0 && strcmp(r.stopped, "context") != 0) {
            chat_tokens_clear(&ct);
            if (chat_render_close(&tpl, tok, &ct) == 0 && st->pos + (int)ct.n < n_ctx &&
                (ct.n == 0 || infer_prefill(st, ct.ids, (int)ct.n, NULL)))
                chat.in_cache = chat.n;
        }
        gen_result_destroy(&r);
    }
    if (total_tokens > 0)
        fprintf(stderr, "chat: %ld tokens generated, %.1f tok/s (%s, %d threads)\n", total_tokens,
                total_s > 0 ? total_tokens / total_s : 0.0, infer_model_kernel(&m), omp_get_max_threads());
    free(line);
    chat_clear(&chat, 0);
    free(chat.msgs);
    chat_tokens_free(&ct);
    sampler_free(sm);
    infer_state_free(st);
    chat_template_destroy(&tpl);
    infer_model_destroy(&m);
    tokenizer_free(tok);
    return rc;
}

const Command cmd_chat = {
    .name = "chat",
    .summary = "chat with a model in the terminal",
    .help = HELP,
    .run = run,
};
