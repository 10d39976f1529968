/* cmd_catalog.c: `chirp catalog`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp catalog: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_catalog = {
    .name = "catalog",
    .summary = "show what a dataset's catalog holds",
    .help = "usage: chirp catalog\n\nshow what a dataset's catalog holds.\n(not implemented yet)\n",
    .run = run,
};
