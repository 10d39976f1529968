/* cmd_train.c: `chirp train`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp train: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_train = {
    .name = "train",
    .summary = "train a GPT-2 model",
    .help = "usage: chirp train\n\ntrain a GPT-2 model.\n(not implemented yet)\n",
    .run = run,
};
