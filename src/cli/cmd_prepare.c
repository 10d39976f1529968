/* cmd_prepare.c: `chirp prepare`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp prepare: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_prepare = {
    .name = "prepare",
    .summary = "tokenize a dataset into training shards",
    .help = "usage: chirp prepare\n\ntokenize a dataset into training shards.\n(not implemented yet)\n",
    .run = run,
};
