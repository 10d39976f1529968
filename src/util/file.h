/* file.h: whole-file reads, atomic writes and directory helpers. */
#ifndef CHIRP_UTIL_FILE_H
#define CHIRP_UTIL_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Reads a whole file into a NUL-terminated buffer (the NUL is not counted
 * in *len). Returns NULL and sets the error on failure. Caller frees. */
char *file_read_all(const char *path, size_t *len);

/* Writes data to path atomically: path.tmp, fsync, rename, fsync of the
 * directory. A crash leaves either the old file or the complete new one. */
int file_write_atomic(const char *path, const void *data, size_t len);

/* Opens path.tmp for writing; file_commit() fsyncs, closes and renames it
 * over path. file_abort() closes and removes the temp file. */
typedef struct AtomicFile {
    void *fp; /* FILE* */
    char *path;
    char *tmp_path;
} AtomicFile;
int file_begin(AtomicFile *af, const char *path);
int file_commit(AtomicFile *af);
void file_abort(AtomicFile *af);

/* mkdir -p. */
int dir_create(const char *path);
bool path_is_dir(const char *path);
bool path_exists(const char *path);

/* fsync a directory so a rename inside it is durable. */
int dir_sync(const char *path);

/* Whether path ends with suffix, ignoring ASCII case (".CSV" is ".csv"). */
bool path_has_suffix(const char *path, const char *suffix);

/* Joins a directory and a name into a new string. Caller frees. */
char *path_join(const char *dir, const char *name);

/* Expands a glob pattern (sorted). Returns the count, or -1 with the error
 * set when nothing matches. *out is a NULL-terminated array; free it with
 * path_list_free(). */
int path_glob(const char *pattern, char ***out);
void path_list_free(char **list);

#endif
