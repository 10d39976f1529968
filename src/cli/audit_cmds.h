/* audit_cmds.h: the subcommands of `chirp audit` (one file each in cli/),
 * dispatched by cmd_audit.c. Each takes argv with argv[0] = its name. */
#ifndef CHIRP_CLI_AUDIT_CMDS_H
#define CHIRP_CLI_AUDIT_CMDS_H

int audit_cmd_index(int argc, char **argv);
int audit_cmd_find(int argc, char **argv);
int audit_cmd_sketch(int argc, char **argv);
int audit_cmd_member(int argc, char **argv);
int audit_cmd_prove(int argc, char **argv);
int audit_cmd_verify(int argc, char **argv);
int audit_cmd_memorization(int argc, char **argv);

#endif
