/* cmd_quantize.c: `chirp quantize`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp quantize: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_quantize = {
    .name = "quantize",
    .summary = "write an int8 copy of a model",
    .help = "usage: chirp quantize\n\nwrite an int8 copy of a model.\n(not implemented yet)\n",
    .run = run,
};
