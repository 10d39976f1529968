/* cmd_plot.c: `chirp plot`. */
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "chirp plot: not implemented yet\n");
    return EXIT_FAIL;
}

const Command cmd_plot = {
    .name = "plot",
    .summary = "draw a run's loss curves",
    .help = "usage: chirp plot\n\ndraw a run's loss curves.\n(not implemented yet)\n",
    .run = run,
};
