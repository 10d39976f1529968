/* cmd_chat.c: `chirp chat`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp chat: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_chat = {
    .name = "chat",
    .summary = "chat with a model in the terminal",
    .help = "usage: chirp chat\n\nchat with a model in the terminal.\n(not implemented yet)\n",
    .run = run,
};
