/* commands.h: the table of chirp subcommands.
 *
 * Each subcommand lives in its own cli/cmd_NAME.c and defines one Command.
 * run() gets argv with argv[0] = the subcommand name. */
#ifndef CHIRP_CLI_COMMANDS_H
#define CHIRP_CLI_COMMANDS_H

typedef struct Command {
    const char *name;
    const char *summary; /* one line for `chirp --help` */
    const char *help;    /* full text for `chirp help NAME` */
    int (*run)(int argc, char **argv);
} Command;

extern const Command cmd_tokenizer;
extern const Command cmd_ingest;
extern const Command cmd_catalog;
extern const Command cmd_prepare;
extern const Command cmd_audit;
extern const Command cmd_train;
extern const Command cmd_eval;
extern const Command cmd_plot;
extern const Command cmd_generate;
extern const Command cmd_chat;
extern const Command cmd_quantize;
extern const Command cmd_export;
extern const Command cmd_serve;
extern const Command cmd_card;

#endif
