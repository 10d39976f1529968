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

static const char HELP[] = "usage: chirp plot RUN_DIR [--out FILE.svg]\n"
                           "\n"
                           "Draw the train and val loss curves of a run (RUN_DIR/log.jsonl) as an SVG\n"
                           "(default RUN_DIR/loss.svg) that any browser opens.\n";

typedef struct Pt {
    double x, y;
} Pt;

static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static int run(int argc, char **argv) {
    const char *out = NULL;
    StrList pos = {0};
    const ArgSpec specs[] = {{"out", ARG_STR, &out, 0, -1}};
    int rc = args_parse("plot", argc, argv, 1, specs, 1, &pos);
    if (rc != EXIT_OK) {
        strlist_free(&pos);
        return rc;
    }
    if (pos.count != 1) {
        strlist_free(&pos);
        return args_usage_error("plot", "expected one RUN_DIR");
    }
    char *log = path_join(pos.items[0], "log.jsonl");
    char *svg_path = out ? xstrdup(out) : path_join(pos.items[0], "loss.svg");
    strlist_free(&pos);
    size_t len;
    char *data = file_read_all(log, &len);
    if (!data) {
        free(log);
        free(svg_path);
        return cli_fail();
    }
    Pt *tr = xmalloc(sizeof(Pt) * (len / 10 + 1)), *va = xmalloc(sizeof(Pt) * (len / 10 + 1));
    int ntr = 0, nva = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        json_t *s = json_object_get(j, "step"), *l = json_object_get(j, "loss"), *v = json_object_get(j, "val_loss");
        if (json_is_integer(s) && json_is_number(l) && isfinite(json_number_value(l)))
            tr[ntr++] = (Pt){(double)json_integer_value(s), json_number_value(l)};
        if (json_is_integer(s) && json_is_number(v))
            va[nva++] = (Pt){(double)json_integer_value(s), json_number_value(v)};
        json_decref(j);
    }
    free(data);
    if (ntr == 0) {
        chirp_fail("%s: no training records", log);
        free(log);
        free(svg_path);
        free(tr);
        free(va);
        return cli_fail();
    }
    double x0 = 0, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < ntr; i++) {
        x1 = fmax(x1, tr[i].x);
        y0 = fmin(y0, tr[i].y);
        y1 = fmax(y1, tr[i].y);
    }
    for (int i = 0; i < nva; i++) {
        y0 = fmin(y0, va[i].y);
        y1 = fmax(y1, va[i].y);
    }
    if (y1 - y0 < 1e-6) y1 = y0 + 1;
    double ys = nice_step(y1 - y0), xs = nice_step(x1 - x0);
    y0 = floor(y0 / ys) * ys;
    y1 = ceil(y1 / ys) * ys;
    const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 50;
#define PX(x) (L + ((x)-x0) / (x1 - x0) * (W - L - R))
#define PY(y) (H - B - ((y)-y0) / (y1 - y0) * (H - T - B))
    size_t cap = 4096 + (size_t)(ntr + nva) * 48, n = 0;
    char *svg = xmalloc(cap);
#define OUT(...) (n += (size_t)snprintf(svg + n, cap - n, __VA_ARGS__))
    OUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
        "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
        W, H);
    OUT("<text x=\"%.0f\" y=\"24\" font-size=\"16\">loss: %s</text>\n", L, log);
    for (double y = y0; y <= y1 + ys / 2 && n + 512 < cap; y += ys)
        OUT("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"end\">%g</text>\n",
            L, W - R, PY(y), PY(y), L - 6, PY(y) + 4, y);
    for (double x = x0; x <= x1 + xs / 2 && n + 512 < cap; x += xs)
        OUT("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\">%g</text>\n",
            PX(x), PX(x), T, H - B, PX(x), H - B + 18, x);
    OUT("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", (L + W - R) / 2, H - 12);
    OUT("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
    for (int i = 0; i < ntr; i++) OUT("%.1f,%.1f ", PX(tr[i].x), PY(tr[i].y));
    OUT("\"/>\n");
    for (int i = 0; i < nva; i++)
        OUT("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#d62728\"/>\n", PX(va[i].x), PY(va[i].y));
    OUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">train</text>", W - R - 90, T + 14);
    if (nva) OUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">val</text>", W - R - 40, T + 14);
    OUT("\n</svg>\n");
    rc = file_write_atomic(svg_path, svg, n);
    if (rc == 0) printf("wrote %s (%d train points, %d val points)\n", svg_path, ntr, nva);
    free(svg);
    free(tr);
    free(va);
    free(log);
    free(svg_path);
    return rc == 0 ? EXIT_OK : cli_fail();
}

const Command cmd_plot = {
    .name = "plot",
    .summary = "draw a run's loss curves",
    .help = HELP,
    .run = run,
};
