#include "util/file.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        chirp_fail_errno("%s", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        chirp_fail_errno("%s: read error", path);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static char *parent_dir(const char *path) {
    char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    if (!slash) {
        free(copy);
        return xstrdup(".");
    }
    if (slash == copy) slash[1] = '\0';
    else *slash = '\0';
    return copy;
}

int dir_sync(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return chirp_fail_errno("%s", path);
    int rc = fsync(fd);
    close(fd);
    /* Some file systems refuse fsync on directories; that is not an error. */
    if (rc != 0 && errno != EINVAL && errno != EBADF) return chirp_fail_errno("fsync %s", path);
    return 0;
}

int file_begin(AtomicFile *af, const char *path) {
    af->path = xstrdup(path);
    size_t n = strlen(path) + 16;
    af->tmp_path = xmalloc(n);
    snprintf(af->tmp_path, n, "%s.tmp.%d", path, (int)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        chirp_fail_errno("%s", af->tmp_path);
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return -1;
    }
    return 0;
}

int file_commit(AtomicFile *af) {
    FILE *f = af->fp;
    int rc = 0;
    if (fflush(f) != 0 || ferror(f)) rc = chirp_fail_errno("%s: write error", af->tmp_path);
    if (rc == 0 && fsync(fileno(f)) != 0) rc = chirp_fail_errno("%s: fsync", af->tmp_path);
    if (fclose(f) != 0 && rc == 0) rc = chirp_fail_errno("%s: close", af->tmp_path);
    af->fp = NULL;
    if (rc == 0 && rename(af->tmp_path, af->path) != 0)
        rc = chirp_fail_errno("rename %s -> %s", af->tmp_path, af->path);
    if (rc == 0) {
        char *dir = parent_dir(af->path);
        rc = dir_sync(dir);
        free(dir);
    } else {
        unlink(af->tmp_path);
    }
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    return rc;
}

void file_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    af->fp = NULL;
    af->path = af->tmp_path = NULL;
}

int file_write_atomic(const char *path, const void *data, size_t len) {
    AtomicFile af;
    if (file_begin(&af, path) != 0) return -1;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        chirp_fail_errno("%s: write error", path);
        file_abort(&af);
        return -1;
    }
    return file_commit(&af);
}

bool path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int dir_create(const char *path) {
    char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            chirp_fail_errno("mkdir %s", copy);
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int rc = 0;
    if (mkdir(copy, 0777) != 0 && errno != EEXIST) rc = chirp_fail_errno("mkdir %s", copy);
    else if (!path_is_dir(copy)) rc = chirp_fail("%s exists and is not a directory", copy);
    free(copy);
    return rc;
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *out = xmalloc(a + b + 2);
    memcpy(out, dir, a);
    size_t n = a;
    if (a > 0 && dir[a - 1] != '/') out[n++] = '/';
    memcpy(out + n, name, b + 1);
    return out;
}

int path_glob(const char *pattern, char ***out) {
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return chirp_fail("%s: no such file", pattern);
    }
    if (rc != 0) {
        globfree(&g);
        return chirp_fail("%s: glob failed", pattern);
    }
    char **list = xcalloc(g.gl_pathc + 1, sizeof *list);
    for (size_t i = 0; i < g.gl_pathc; i++) list[i] = xstrdup(g.gl_pathv[i]);
    int count = (int)g.gl_pathc;
    globfree(&g);
    *out = list;
    return count;
}

void path_list_free(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}

bool path_has_suffix(const char *path, const char *suffix) {
    size_t a = strlen(path), b = strlen(suffix);
    return a >= b && strcasecmp(path + a - b, suffix) == 0;
}
