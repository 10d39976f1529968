/* crashpoint.c: see crashpoint.h. */
#include "util/crashpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void crashpoint(const char *name) {
    const char *at = getenv("CHIRP_CRASH_AT");
    if (at && strcmp(at, name) == 0) raise(SIGKILL);
}
