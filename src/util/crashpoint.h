/* crashpoint.h: a test hook for crash consistency. When the environment
 * variable CHIRP_CRASH_AT equals a point's name, the process sends itself
 * SIGKILL there, as kill -9 or a power cut would; otherwise it costs one
 * getenv. Tests use it to stop a multi-step commit between any two steps. */
#ifndef CHIRP_UTIL_CRASHPOINT_H
#define CHIRP_UTIL_CRASHPOINT_H

void crashpoint(const char *name);

#endif
