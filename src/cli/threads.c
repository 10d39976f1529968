/* threads.c: see threads.h. */
#include "cli/threads.h"

#include <stdlib.h>
#include <unistd.h>

void cli_prefer_passive_omp(char **cmd_argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", cmd_argv - 1); /* main() passes argv + 1; argv is NULL-terminated */
    /* exec failed (no /proc?): carry on with the default policy */
}
