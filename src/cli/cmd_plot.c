/* cmd_plot.c: `chirp plot RUN_DIR`: loss curves from log.jsonl as an SVG.
 *
 * SVG because any browser opens it and writing it needs no library: train
 * loss as a polyline, val loss as dots, axes with a few round ticks. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"
#include "util/file.h"

static const char HELP[] = "usage: chirp plot RUN_DIR... [--out FILE.svg]\n"
                           "\n"
                           "Draw the train and val loss curves of a run (RUN_DIR/log.jsonl) as an SVG\n"
                           "(default RUN_DIR/loss.svg) that any browser opens. Several runs are drawn\n"
                           "over each other, one colour each, named by their folder (--out is then\n"
                           "required): fp32 against bf16, one learning rate against another.\n";

typedef struct Pt {
    double x, y;
} Pt;

/* One run's curves. */
typedef struct Series {
    const char *name; /* its folder's last component */
    Pt *tr, *va;
    int ntr, nva;
} Series;

static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *s = path + n;
    while (s > path && s[-1] != '/') s--;
    return s;
}

/* Reads dir/log.jsonl into *se. Returns 0, or -1 with the error set. */
static int read_series(const char *dir, Series *se) {
    memset(se, 0, sizeof *se);
    se->name = base_name(dir);
    char *log = path_join(dir, "log.jsonl");
    size_t len;
    char *data = file_read_all(log, &len);
    if (!data) {
        free(log);
        return -1;
    }
    se->tr = xmalloc(sizeof(Pt) * (len / 10 + 1));
    se->va = xmalloc(sizeof(Pt) * (len / 10 + 1));
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        json_t *s = json_object_get(j, "step"), *l = json_object_get(j, "loss"), *v = json_object_get(j, "val_loss");
        if (json_is_integer(s) && json_is_number(l) && isfinite(json_number_value(l)))
            se->tr[se->ntr++] = (Pt){(double)json_integer_value(s), json_number_value(l)};
        if (json_is_integer(s) && json_is_number(v))
            se->va[se->nva++] = (Pt){(double)json_integer_value(s), json_number_value(v)};
        json_decref(j);
    }
    free(data);
    int rc = se->ntr == 0 ? chirp_fail("%s: no training records", log) : 0;
    free(log);
    return rc;
}

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

static int run(int argc, char **argv) {
    const char *out = NULL;
    StrList pos = {0};
    const ArgSpec specs[] = {{"out", ARG_STR, &out, 0, -1}};
    int rc = args_parse("plot", argc, argv, 1, specs, 1, &pos);
    if (rc != EXIT_OK) {
        strlist_free(&pos);
        return rc;
    }
    int ns = pos.count;
    if (ns < 1 || (ns > 1 && !out)) {
        strlist_free(&pos);
        return args_usage_error("plot", ns < 1 ? "expected a RUN_DIR" : "several runs need --out FILE.svg");
    }
    Series *se = xcalloc((size_t)ns, sizeof *se);
    int npts = 0;
    rc = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        rc = read_series(pos.items[i], &se[i]);
        npts += se[i].ntr + se[i].nva;
    }
    char *svg_path = out ? xstrdup(out) : path_join(pos.items[0], "loss.svg");
    char title[512];
    snprintf(title, sizeof title, "%s", ns == 1 ? pos.items[0] : "runs");
    double x0 = 0, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < ns && rc == 0; k++) {
        for (int i = 0; i < se[k].ntr; i++) {
            x1 = fmax(x1, se[k].tr[i].x);
            y0 = fmin(y0, se[k].tr[i].y);
            y1 = fmax(y1, se[k].tr[i].y);
        }
        for (int i = 0; i < se[k].nva; i++) {
            y0 = fmin(y0, se[k].va[i].y);
            y1 = fmax(y1, se[k].va[i].y);
        }
    }
    char *svg = NULL;
    size_t n = 0;
    if (rc == 0) {
        if (y1 - y0 < 1e-6) y1 = y0 + 1;
        double ys = nice_step(y1 - y0), xs = nice_step(x1 - x0);
        y0 = floor(y0 / ys) * ys;
        y1 = ceil(y1 / ys) * ys;
        const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 50;
#define PX(x) (L + ((x)-x0) / (x1 - x0) * (W - L - R))
#define PY(y) (H - B - ((y)-y0) / (y1 - y0) * (H - T - B))
        size_t cap = 4096 + (size_t)npts * 48 + (size_t)ns * 256;
        svg = xmalloc(cap);
#define OUT(...) (n += (size_t)snprintf(svg + n, cap - n, __VA_ARGS__))
        OUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
        OUT("<text x=\"%.0f\" y=\"24\" font-size=\"16\">loss: %s</text>\n", L, title);
        for (double y = y0; y <= y1 + ys / 2 && n + 512 < cap; y += ys)
            OUT("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"end\">%g</text>\n",
                L, W - R, PY(y), PY(y), L - 6, PY(y) + 4, y);
        for (double x = x0; x <= x1 + xs / 2 && n + 512 < cap; x += xs)
            OUT("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"middle\">%g</text>\n",
                PX(x), PX(x), T, H - B, PX(x), H - B + 18, x);
        OUT("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", (L + W - R) / 2, H - 12);
        for (int k = 0; k < ns; k++) {
            /* One run: blue train line, red val dots. Several: a colour per run. */
            const char *ct = COLORS[ns == 1 ? 0 : k % 6], *cv = COLORS[ns == 1 ? 1 : k % 6];
            OUT("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" stroke-opacity=\"0.8\" points=\"", ct);
            for (int i = 0; i < se[k].ntr; i++) OUT("%.1f,%.1f ", PX(se[k].tr[i].x), PY(se[k].tr[i].y));
            OUT("\"/>\n");
            for (int i = 0; i < se[k].nva; i++)
                OUT("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", PX(se[k].va[i].x), PY(se[k].va[i].y),
                    cv);
            if (ns > 1)
                OUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%.60s (line: train, dots: val)</text>\n", W - R - 300,
                    T + 14 + 16.0 * k, ct, se[k].name);
        }
        if (ns == 1) {
            OUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">train</text>", W - R - 90, T + 14, COLORS[0]);
            if (se[0].nva) OUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">val</text>", W - R - 40, T + 14, COLORS[1]);
        }
        OUT("\n</svg>\n");
#undef OUT
#undef PX
#undef PY
        rc = file_write_atomic(svg_path, svg, n);
    }
    if (rc == 0) {
        int tp = 0, vp = 0;
        for (int k = 0; k < ns; k++) tp += se[k].ntr, vp += se[k].nva;
        printf("wrote %s (%d run%s, %d train points, %d val points)\n", svg_path, ns, ns == 1 ? "" : "s", tp, vp);
    }
    for (int k = 0; k < ns; k++) free(se[k].tr), free(se[k].va);
    free(se);
    free(svg);
    free(svg_path);
    strlist_free(&pos);
    return rc == 0 ? EXIT_OK : cli_fail();
}

const Command cmd_plot = {
    .name = "plot",
    .summary = "draw a run's loss curves",
    .help = HELP,
    .run = run,
};
