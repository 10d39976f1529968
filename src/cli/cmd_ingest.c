/* cmd_ingest.c: `chirp ingest`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp ingest: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_ingest = {
    .name = "ingest",
    .summary = "read post exports into a dataset with a provenance catalog",
    .help = "usage: chirp ingest\n\nread post exports into a dataset with a provenance catalog.\n(not implemented yet)\n",
    .run = run,
};
