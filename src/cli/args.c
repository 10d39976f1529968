#include "cli/args.h"

#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "chirp %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'chirp help %s')\n", cmd);
    return EXIT_USAGE;
}

int args_missing(const char *cmd, const char *flag) {
    return args_usage_error(cmd, "missing required flag --%s", flag);
}

int cli_fail(void) {
    const char *msg = chirp_error();
    fprintf(stderr, "chirp: %s\n", msg[0] ? msg : "unknown error");
    return EXIT_FAIL;
}

static void strlist_push(StrList *list, const char *s) {
    list->items = xrealloc(list->items, sizeof(char *) * (size_t)(list->count + 1));
    list->items[list->count++] = s;
}

void strlist_free(StrList *list) {
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int parse_number(const char *cmd, const ArgSpec *spec, const char *value) {
    char *end = NULL;
    errno = 0;
    if (spec->type == ARG_INT) {
        long v = strtol(value, &end, 10);
        /* Accept 1e6-style integers too, as people type them. */
        if (end && (*end == 'e' || *end == 'E')) {
            double d = strtod(value, &end);
            if (*end == '\0' && d == floor(d) && fabs(d) < 9e18) v = (long)d;
        }
        if (errno || end == value || *end != '\0')
            return args_usage_error(cmd, "--%s expects an integer, got '%s'", spec->name, value);
        if (spec->min <= spec->max && (v < spec->min || v > spec->max))
            return args_usage_error(cmd, "--%s must be between %.0f and %.0f, got %ld", spec->name, spec->min,
                                    spec->max, v);
        *(long *)spec->dest = v;
    } else {
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v))
            return args_usage_error(cmd, "--%s expects a number, got '%s'", spec->name, value);
        if (spec->min <= spec->max && (v < spec->min || v > spec->max))
            return args_usage_error(cmd, "--%s must be between %g and %g, got %g", spec->name, spec->min, spec->max, v);
        *(double *)spec->dest = v;
    }
    return EXIT_OK;
}

int args_parse(const char *cmd, int argc, char **argv, int first, const ArgSpec *specs, int nspecs,
               StrList *positional) {
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (positional) {
                strlist_push(positional, arg);
                continue;
            }
            return args_usage_error(cmd, "unexpected argument '%s'", arg);
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const ArgSpec *spec = NULL;
        for (int k = 0; k < nspecs; k++) {
            if (strlen(specs[k].name) == name_len && strncmp(specs[k].name, name, name_len) == 0) {
                spec = &specs[k];
                break;
            }
        }
        if (!spec) return args_usage_error(cmd, "unknown flag '--%.*s'", (int)name_len, name);
        if (spec->type == ARG_BOOL) {
            if (eq) return args_usage_error(cmd, "--%s takes no value", spec->name);
            *(bool *)spec->dest = true;
            continue;
        }
        if (spec->type == ARG_LIST) {
            StrList *list = spec->dest;
            int before = list->count;
            if (eq) strlist_push(list, eq + 1);
            while (!eq && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) strlist_push(list, argv[++i]);
            if (list->count == before) return args_usage_error(cmd, "--%s needs a value", spec->name);
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return args_usage_error(cmd, "--%s needs a value", spec->name);
            value = argv[++i];
        }
        if (spec->type == ARG_STR) {
            *(const char **)spec->dest = value;
        } else {
            int rc = parse_number(cmd, spec, value);
            if (rc != EXIT_OK) return rc;
        }
    }
    return EXIT_OK;
}
