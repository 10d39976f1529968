/* cmd_generate.c: `chirp generate`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp generate: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_generate = {
    .name = "generate",
    .summary = "generate text from a model",
    .help = "usage: chirp generate\n\ngenerate text from a model.\n(not implemented yet)\n",
    .run = run,
};
