/* cmd_eval.c: `chirp eval`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp eval: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_eval = {
    .name = "eval",
    .summary = "measure a model's loss on token shards",
    .help = "usage: chirp eval\n\nmeasure a model's loss on token shards.\n(not implemented yet)\n",
    .run = run,
};
