/* args.h: declarative flag parsing for subcommands.
 *
 * Each subcommand lists its flags in an ArgSpec table; args_parse() fills
 * the destinations and prints one clear line on a usage error. Flags take
 * "--name value" or "--name=value". A list flag takes every following
 * argument up to the next one starting with "--", and may repeat. */
#ifndef CHIRP_CLI_ARGS_H
#define CHIRP_CLI_ARGS_H

#include <stdbool.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef enum { ARG_STR, ARG_INT, ARG_DOUBLE, ARG_BOOL, ARG_LIST } ArgType;

typedef struct StrList {
    const char **items;
    int count;
} StrList;

typedef struct ArgSpec {
    const char *name; /* without the leading "--" */
    ArgType type;
    void *dest;      /* const char **, long *, double *, bool *, StrList * */
    double min, max; /* range for ARG_INT / ARG_DOUBLE (ignored if min > max) */
} ArgSpec;

/* Parses argv[first..argc). Positional arguments are not allowed unless
 * `positional` is non-NULL, in which case they are collected there.
 * Returns EXIT_OK, or EXIT_USAGE after printing "chirp CMD: problem". */
int args_parse(const char *cmd, int argc, char **argv, int first, const ArgSpec *specs, int nspecs,
               StrList *positional);

/* Prints "chirp CMD: missing required flag --NAME" and returns EXIT_USAGE. */
int args_missing(const char *cmd, const char *flag);

/* Prints "chirp CMD: <message>" on stderr and returns EXIT_USAGE. */
int args_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "chirp: <current error>" and returns EXIT_FAIL. */
int cli_fail(void);

void strlist_free(StrList *list);

#endif
