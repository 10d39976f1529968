/* report_html.c: the memorization report as one self-contained HTML page
 * (see memorization.h): no scripts, no outside resources, an inline SVG. */
#include "audit/memorization.h"

#include "util/buf.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void add(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        buf_push(b, tmp, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_push(b, big, (size_t)n);
    free(big);
}

static void esc(Buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': buf_push(b, "&lt;", 4); break;
        case '>': buf_push(b, "&gt;", 4); break;
        case '&': buf_push(b, "&amp;", 5); break;
        case '"': buf_push(b, "&quot;", 6); break;
        default: buf_putc(b, *s);
        }
    }
}

static double num(const json_t *o, const char *path) {
    /* "a.b.c" */
    char key[64];
    const json_t *v = o;
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        v = json_object_get(v, key);
        path += n + (dot ? 1 : 0);
    }
    return json_number_value(v);
}

static const char *str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *const CASES[4][2] = {{"k8_isolated", "first 8 tokens, post alone"},
                                        {"k16_isolated", "first 16 tokens, post alone"},
                                        {"k8_in_context", "first 8 tokens, in its training row"},
                                        {"k16_in_context", "first 16 tokens, in its training row"}};
static const char *const BUCKETS[4] = {"1", "2", "3-5", "6+"};

/* Bars of the exact-extraction rate by copies, one group per bucket. */
static void svg_by_copies(Buf *b, const json_t *targeted) {
    const int W = 520, H = 220, left = 50, bottom = 180, bw = 26;
    add(b,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
        "aria-label=\"exact extraction rate by copies\">\n",
        W, H);
    add(b, "<line x1=\"%d\" y1=\"20\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", left, left, bottom);
    add(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", left, bottom, W - 10, bottom);
    for (int t = 0; t <= 4; t++) {
        int y = bottom - t * 40;
        add(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d%%</text>\n", left - 5, y + 4, t * 25);
    }
    const char *colors[2] = {"#1f6feb", "#f0883e"};
    const char *series[2] = {"k16_isolated", "k16_in_context"};
    for (int g = 0; g < 4; g++) {
        int x0 = left + 20 + g * 110;
        for (int s = 0; s < 2; s++) {
            const json_t *e =
                json_object_get(json_object_get(json_object_get(targeted, series[s]), "trained_by_copies"), BUCKETS[g]);
            if (!e) continue;
            double r = json_number_value(json_object_get(e, "exact_rate"));
            int h = (int)(r * 160 + 0.5);
            add(b,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%s, %s copies: %.1f%% of %lld"
                "</title></rect>\n",
                x0 + s * (bw + 4), bottom - h, bw, h, colors[s], series[s], BUCKETS[g], 100 * r,
                (long long)json_integer_value(json_object_get(e, "posts")));
        }
        add(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>\n", x0 + bw, bottom + 16,
            BUCKETS[g]);
    }
    add(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">copies the catalog saw</text>\n",
        left + 220, bottom + 34);
    for (int s = 0; s < 2; s++)
        add(b,
            "<rect x=\"%d\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"15\" font-size=\"11\">"
            "%s</text>\n",
            W - 250 + s * 125, colors[s], W - 236 + s * 125, series[s] + 4);
    add(b, "</svg>\n");
}

char *memorization_html(const json_t *r) {
    Buf b = {0};
    const json_t *targeted = json_object_get(r, "targeted"), *unt = json_object_get(r, "untargeted");
    const json_t *leaks = json_object_get(r, "leaks"), *mi = json_object_get(r, "membership_inference");
    long long found = (long long)json_integer_value(json_object_get(leaks, "found"));
    add(&b,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Memorization report</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}"
        "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;padding:.3rem .6rem;"
        "text-align:right}th:first-child,td:first-child{text-align:left}.bad{color:#b42318;font-weight:bold}"
        ".ok{color:#1a7f37;font-weight:bold}code{background:#f4f4f4;padding:0 .2rem}</style></head><body>\n");
    add(&b, "<h1>Memorization report</h1>\n<p>Model <code>");
    esc(&b, str(r, "model"));
    add(&b, "</code>, dataset <code>");
    esc(&b, str(r, "dataset"));
    add(&b, "</code>.</p>\n");
    if (found > 0)
        add(&b,
            "<p class=\"bad\">Release blocked: %lld verbatim window(s) of posts that were not trained on (opted "
            "out or dropped) appear in the model's samples.</p>\n",
            found);
    else
        add(&b,
            "<p class=\"ok\">No leak of a post that was not trained on (%lld such posts checked against %d "
            "samples).</p>\n",
            (long long)json_integer_value(json_object_get(leaks, "posts_checked")), (int)num(unt, "samples"));
    add(&b,
        "<h2>Targeted extraction</h2>\n<p>Trained posts of at least %d tokens, prompted with their first tokens "
        "and decoded greedily; the continuation is compared with the rest of the post (at most %d tokens). "
        "Held-out posts are the baseline.</p>\n<table><tr><th>prompt</th><th>trained: exact</th><th>trained: "
        "tokens matching</th><th>held-out: exact</th><th>held-out: tokens matching</th></tr>\n",
        (int)num(r, "settings.min_tokens"), (int)num(r, "settings.max_continuation"));
    for (int i = 0; i < 4; i++) {
        const json_t *c = json_object_get(targeted, CASES[i][0]);
        add(&b, "<tr><td>%s</td><td>%.1f%% of %d</td><td>%.1f%%</td><td>%.1f%% of %d</td><td>%.1f%%</td></tr>\n",
            CASES[i][1], 100 * num(c, "trained.exact_rate"), (int)num(c, "trained.posts"),
            100 * num(c, "trained.token_match"), 100 * num(c, "held_out.exact_rate"), (int)num(c, "held_out.posts"),
            100 * num(c, "held_out.token_match"));
    }
    add(&b, "</table>\n<h3>By copies</h3>\n<p>Exact extraction of trained posts (first 16 tokens) by how many copies "
            "of the post the catalog saw.</p>\n");
    svg_by_copies(&b, targeted);
    add(&b,
        "<h2>Verbatim spans in samples</h2>\n<p>%d samples (%s) searched in the exact index for spans of at "
        "least %d characters: <b>%lld</b> found.</p>\n",
        (int)num(unt, "samples"), str(unt, "sampling"), (int)num(unt, "min_chars"),
        (long long)json_integer_value(json_object_get(unt, "verbatim_spans")));
    const json_t *spans = json_object_get(unt, "spans");
    if (json_array_size(spans) > 0) {
        add(&b, "<table><tr><th>span</th><th>tokens</th><th>occurrences</th><th>posts</th></tr>\n");
        for (size_t i = 0; i < json_array_size(spans) && i < 50; i++) {
            const json_t *s = json_array_get(spans, i);
            add(&b, "<tr><td>");
            esc(&b, str(s, "text"));
            add(&b, "</td><td>%lld</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(s, "tokens")),
                (long long)json_integer_value(json_object_get(s, "occurrences")));
            const json_t *posts = json_object_get(s, "posts");
            for (size_t k = 0; k < json_array_size(posts); k++) {
                esc(&b, str(json_array_get(posts, k), "post_id"));
                add(&b, k + 1 < json_array_size(posts) ? ", " : "");
            }
            add(&b, "</td></tr>\n");
        }
        add(&b, "</table>\n");
    }
    add(&b, "<h2>Leaks</h2>\n");
    const json_t *hits = json_object_get(leaks, "hits");
    if (json_array_size(hits) == 0) add(&b, "<p>None.</p>\n");
    else {
        add(&b, "<table><tr><th>window</th><th>post</th><th>decision</th></tr>\n");
        for (size_t i = 0; i < json_array_size(hits); i++) {
            const json_t *h = json_array_get(hits, i);
            add(&b, "<tr><td>");
            esc(&b, str(h, "window"));
            add(&b, "</td><td>");
            esc(&b, str(h, "post_id"));
            add(&b, "</td><td>");
            esc(&b, str(h, "decision"));
            add(&b, "</td></tr>\n");
        }
        add(&b, "</table>\n");
    }
    add(&b,
        "<h2>Membership inference</h2>\n<p>%s over %d trained and %d held-out posts: AUROC <b>%.3f</b>, true "
        "positives at 1%% false positives <b>%.1f%%</b>. This measures how much the model leaks about its "
        "training set as a whole, not evidence about any single post.</p>\n</body></html>\n",
        str(mi, "method"), (int)num(mi, "trained"), (int)num(mi, "held_out"), num(mi, "auroc"),
        100 * num(mi, "tpr_at_1pct_fpr"));
    buf_terminate(&b);
    return b.data;
}
