/* chat_template.c: chat templates: loading, storing, rendering with a loss
 * mask (see chat_template.h). */
#include "text/chat_template.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_keys[3] = {"system", "user", "assistant"};

void chat_template_destroy(ChatTemplate *t) {
    free(t->prefix);
    free(t->end);
    free(t->separator);
    free(t->generation_prompt);
    for (int i = 0; i < 3; i++) free(t->roles[i]);
    memset(t, 0, sizeof *t);
}

void chat_template_default(ChatTemplate *t, const Tokenizer *tok) {
    memset(t, 0, sizeof *t);
    if (tok && tokenizer_special_id(tok, "<|im_start|>") >= 0 && tokenizer_special_id(tok, "<|im_end|>") >= 0) {
        t->prefix = xstrdup("<|im_start|>{role}\n");
        t->end = xstrdup("<|im_end|>");
        t->separator = xstrdup("\n");
        t->generation_prompt = xstrdup("<|im_start|>assistant\n");
        for (int i = 0; i < 3; i++) t->roles[i] = xstrdup(role_keys[i]);
        t->source = "default ChatML";
        return;
    }
    t->prefix = xstrdup("{role}:");
    t->end = xstrdup("\n");
    t->separator = xstrdup("");
    t->generation_prompt = xstrdup("Assistant:");
    t->roles[0] = xstrdup("System");
    t->roles[1] = xstrdup("User");
    t->roles[2] = xstrdup("Assistant");
    t->plain = true;
    t->content_space = true;
    t->source = "plain-text fallback";
}

static char *json_str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* Reads "chat_template" from a JSON file; 1 if absent, 0 if read, -1 if
 * present but malformed. */
static int load_from(ChatTemplate *t, const char *path) {
    if (!path_exists(path)) return 1;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return chirp_fail("%s:%d: bad JSON: %s", path, jerr.line, jerr.text);
    json_t *ct = json_object_get(root, "chat_template");
    if (!ct || !json_is_object(ct)) {
        json_decref(root);
        return 1;
    }
    memset(t, 0, sizeof *t);
    t->prefix = json_str(ct, "prefix");
    t->end = json_str(ct, "end");
    t->separator = json_str(ct, "separator");
    t->generation_prompt = json_str(ct, "generation_prompt");
    json_t *roles = json_object_get(ct, "roles");
    for (int i = 0; i < 3; i++) {
        t->roles[i] = roles ? json_str(roles, role_keys[i]) : NULL;
        if (!t->roles[i]) t->roles[i] = xstrdup(role_keys[i]);
    }
    json_t *cs = json_object_get(ct, "content_space");
    t->content_space = cs && json_is_true(cs);
    json_t *pl = json_object_get(ct, "plain");
    t->plain = pl && json_is_true(pl);
    json_decref(root);
    if (!t->prefix || !t->end || !t->generation_prompt || !strstr(t->prefix, "{role}")) {
        chat_template_destroy(t);
        return chirp_fail("%s: chat_template needs string \"prefix\" (with {role}), \"end\" and "
                          "\"generation_prompt\"",
                          path);
    }
    if (!t->separator) t->separator = xstrdup("");
    return 0;
}

int chat_template_load(ChatTemplate *t, const char *model_dir, const Tokenizer *tok) {
    if (model_dir) {
        static const char *const files[2] = {"chirp.json", "tokenizer.json"};
        for (int i = 0; i < 2; i++) {
            char *p = path_join(model_dir, files[i]);
            int rc = load_from(t, p);
            free(p);
            if (rc < 0) return -1;
            if (rc == 0) {
                t->source = files[i];
                return 0;
            }
        }
    }
    chat_template_default(t, tok);
    return 0;
}

int chat_template_store(const ChatTemplate *t, const char *model_dir) {
    char *path = path_join(model_dir, "chirp.json");
    json_t *root = NULL;
    if (path_exists(path)) {
        json_error_t jerr;
        root = json_load_file(path, 0, &jerr);
        if (!root) {
            chirp_fail("%s:%d: bad JSON: %s", path, jerr.line, jerr.text);
            free(path);
            return -1;
        }
    } else {
        root = json_object();
    }
    json_t *ct = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:b, s:b}", "prefix", t->prefix, "end", t->end,
                           "separator", t->separator, "generation_prompt", t->generation_prompt, "roles", "system",
                           t->roles[0], "user", t->roles[1], "assistant", t->roles[2], "content_space",
                           (int)t->content_space, "plain", (int)t->plain);
    json_object_set_new(root, "chat_template", ct);
    char *js = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    int rc = file_write_atomic(path, js, strlen(js));
    free(js);
    free(path);
    return rc;
}

static void push(ChatTokens *c, const int32_t *ids, size_t n, uint8_t m) {
    if (c->n + n > c->cap) {
        while (c->n + n > c->cap) c->cap = c->cap ? c->cap * 2 : 256;
        c->ids = xrealloc(c->ids, c->cap * sizeof(int32_t));
        c->mask = xrealloc(c->mask, c->cap);
    }
    memcpy(c->ids + c->n, ids, n * sizeof(int32_t));
    memset(c->mask + c->n, m, n);
    c->n += n;
}

static int push_text(ChatTokens *c, const Tokenizer *tok, const char *text, size_t len, bool special, uint8_t m) {
    if (len == 0) return 0;
    int32_t stackbuf[256];
    int32_t *ids = len <= 256 ? stackbuf : xmalloc(len * sizeof(int32_t));
    long n = tokenizer_encode(tok, text, len, special, ids, len);
    if (n >= 0) push(c, ids, (size_t)n, m);
    if (ids != stackbuf) free(ids);
    return n < 0 ? -1 : 0;
}

static int role_index(const char *role) {
    for (int i = 0; i < 3; i++)
        if (strcmp(role, role_keys[i]) == 0) return i;
    return -1;
}

/* The prefix with {role} replaced. */
static char *render_prefix(const ChatTemplate *t, int role) {
    const char *at = strstr(t->prefix, "{role}");
    size_t a = (size_t)(at - t->prefix), rl = strlen(t->roles[role]), tl = strlen(at + 6);
    char *s = xmalloc(a + rl + tl + 1);
    memcpy(s, t->prefix, a);
    memcpy(s + a, t->roles[role], rl);
    memcpy(s + a + rl, at + 6, tl + 1);
    return s;
}

static int render_one(const ChatTemplate *t, const Tokenizer *tok, const char *role, const char *content,
                      ChatTokens *out) {
    int r = role_index(role);
    if (r < 0) return chirp_fail("unknown chat role \"%s\" (system, user or assistant)", role);
    uint8_t m = r == 2;
    char *prefix = render_prefix(t, r);
    int rc = push_text(out, tok, prefix, strlen(prefix), true, 0);
    free(prefix);
    if (rc == 0) {
        /* The fallback's space goes with the content so that it tokenizes
         * as the model would generate it after "Assistant:" (" hello" is
         * one GPT-2 token). */
        if (t->content_space && content[0] != ' ' && content[0] != '\0') {
            size_t cl = strlen(content);
            char *sp = xmalloc(cl + 2);
            sp[0] = ' ';
            memcpy(sp + 1, content, cl + 1);
            rc = push_text(out, tok, sp, cl + 1, false, m);
            free(sp);
        } else {
            rc = push_text(out, tok, content, strlen(content), false, m);
        }
    }
    if (rc == 0) rc = push_text(out, tok, t->end, strlen(t->end), true, m);
    if (rc == 0) rc = push_text(out, tok, t->separator, strlen(t->separator), true, 0);
    return rc;
}

int chat_render(const ChatTemplate *t, const Tokenizer *tok, const ChatMessage *msgs, int n, bool add_generation_prompt,
                ChatTokens *out) {
    for (int i = 0; i < n; i++)
        if (render_one(t, tok, msgs[i].role, msgs[i].content, out) != 0) return -1;
    if (add_generation_prompt) return chat_render_generation_prompt(t, tok, out);
    return 0;
}

int chat_render_generation_prompt(const ChatTemplate *t, const Tokenizer *tok, ChatTokens *out) {
    return push_text(out, tok, t->generation_prompt, strlen(t->generation_prompt), true, 0);
}

int chat_render_close(const ChatTemplate *t, const Tokenizer *tok, ChatTokens *out) {
    if (push_text(out, tok, t->end, strlen(t->end), true, 0) != 0) return -1;
    return push_text(out, tok, t->separator, strlen(t->separator), true, 0);
}

int chat_render_json(const ChatTemplate *t, const Tokenizer *tok, const char *json_line, ChatTokens *out) {
    json_error_t jerr;
    json_t *root = json_loads(json_line, 0, &jerr);
    if (!root) return chirp_fail("bad JSON at column %d: %s", jerr.column, jerr.text);
    json_t *msgs = json_object_get(root, "messages");
    int rc = 0;
    if (!msgs || !json_is_array(msgs) || json_array_size(msgs) == 0) {
        rc = chirp_fail("expected {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}");
    } else {
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) {
            json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
            if (!json_is_string(role) || !json_is_string(content)) {
                rc = chirp_fail("message %zu: needs string \"role\" and \"content\"", i + 1);
                break;
            }
            if (render_one(t, tok, json_string_value(role), json_string_value(content), out) != 0) {
                chirp_error_prefix("message %zu: ", i + 1);
                rc = -1;
                break;
            }
        }
    }
    json_decref(root);
    return rc;
}

void chat_tokens_clear(ChatTokens *c) { c->n = 0; }

void chat_tokens_free(ChatTokens *c) {
    free(c->ids);
    free(c->mask);
    memset(c, 0, sizeof *c);
}

/* ---- as a Jinja template (for GGUF's tokenizer.chat_template) ---- */

/* Literal text as a quoted string expression: chat templates are run
 * with trim_blocks (Hugging Face's apply_chat_template, llama.cpp), which
 * would eat a newline written after a tag, and a brace in the text could
 * read as a tag. */
static void jinja_literal(Buf *b, const char *text) {
    if (!*text) return;
    buf_push(b, "{{ '", 4);
    for (const char *c = text; *c; c++) {
        if (*c == '\\' || *c == '\'') buf_putc(b, '\\');
        if (*c == '\n') buf_push(b, "\\n", 2);
        else buf_putc(b, *c);
    }
    buf_push(b, "' }}", 4);
}

char *chat_template_jinja(const ChatTemplate *t) {
    Buf b = {0};
    const char *at = strstr(t->prefix, "{role}");
    char *before = xstrdup(t->prefix);
    before[at - t->prefix] = '\0';
    buf_push(&b, "{% for message in messages %}", 29);
    jinja_literal(&b, before);
    for (int r = 0; r < 3; r++) {
        buf_printf(&b, "{%% %s message['role'] == '%s' %%}", r == 0 ? "if" : "elif", role_keys[r]);
        jinja_literal(&b, t->roles[r]);
    }
    buf_push(&b, "{% endif %}", 11);
    jinja_literal(&b, at + 6);
    if (t->content_space)
        buf_printf(&b, "{%% if message['content'] and message['content'][0] != ' ' %%} {%% endif %%}");
    buf_printf(&b, "{{ message['content'] }}");
    jinja_literal(&b, t->end);
    jinja_literal(&b, t->separator);
    buf_printf(&b, "{%% endfor %%}{%% if add_generation_prompt %%}");
    jinja_literal(&b, t->generation_prompt);
    buf_printf(&b, "{%% endif %%}");
    free(before);
    buf_terminate(&b);
    return b.data;
}
