/* temporary */
#include "cli/audit_cmds.h"
int audit_cmd_memorization(int argc, char **argv) { (void)argc; (void)argv; return 2; }
