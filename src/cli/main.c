/* main.c: chirp's entry point; dispatches to subcommands. */
#include "cli/args.h"
#include "cli/commands.h"
#include "compute/gemm.h"

#include <stdio.h>
#include <string.h>

#define CHIRP_VERSION "0.1.0"

static const Command *const commands[] = {
    &cmd_ingest, &cmd_catalog,  &cmd_audit, &cmd_tokenizer, &cmd_prepare,  &cmd_train,  &cmd_eval,
    &cmd_plot,   &cmd_generate, &cmd_chat,  &cmd_serve,     &cmd_quantize, &cmd_export, &cmd_card,
};
static const int command_count = (int)(sizeof commands / sizeof commands[0]);

static void print_usage(FILE *out) {
    fprintf(out, "chirp: build a platform's own language model from its posts, with provenance.\n"
                 "\n"
                 "usage: chirp COMMAND [flags]\n"
                 "       chirp help COMMAND      (or chirp COMMAND --help)\n"
                 "\n"
                 "commands:\n");
    for (int i = 0; i < command_count; i++) fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n"
                 "Errors print one line on stderr. Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static const Command *find_command(const char *name) {
    for (int i = 0; i < command_count; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    /* OpenBLAS on a CPU newer than its table: see compute/gemm.h. */
    gemm_restart_for_fast_kernels(argv);
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("chirp %s\n", CHIRP_VERSION);
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_usage(stdout);
            return EXIT_OK;
        }
        const Command *cmd = find_command(argv[2]);
        if (!cmd) {
            fprintf(stderr, "chirp: unknown command '%s' (see 'chirp --help')\n", argv[2]);
            return EXIT_USAGE;
        }
        fputs(cmd->help, stdout);
        return EXIT_OK;
    }
    const Command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "chirp: unknown command '%s' (see 'chirp --help')\n", name);
        return EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        fputs(cmd->help, stdout);
        return EXIT_OK;
    }
    return cmd->run(argc - 1, argv + 1);
}
