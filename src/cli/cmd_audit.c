/* cmd_audit.c: `chirp audit`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp audit: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_audit = {
    .name = "audit",
    .summary = "trace a post or an opt-out list through the data",
    .help = "usage: chirp audit\n\ntrace a post or an opt-out list through the data.\n(not implemented yet)\n",
    .run = run,
};
