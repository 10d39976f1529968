/* cmd_tokenizer.c: `chirp tokenizer`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp tokenizer: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_tokenizer = {
    .name = "tokenizer",
    .summary = "train, encode and decode byte-level BPE tokenizers",
    .help = "usage: chirp tokenizer\n\ntrain, encode and decode byte-level BPE tokenizers.\n(not implemented yet)\n",
    .run = run,
};
