/* shard_set.c: see shard_set.h. */
#include "data/shard_set.h"

#include "data/shards.h"
#include "util/crashpoint.h"
#include "util/error.h"
#include "util/file.h"
#include "util/token_shard.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shard_set_switch(const char *dir, const char *split, int count, unsigned long long generation) {
    char name[96];
    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%s_%03d.bin", split, i);
        char *to = path_join(dir, name);
        size_t n = strlen(to) + sizeof SHARD_NEXT_SUFFIX;
        char *from = xmalloc(n);
        snprintf(from, n, "%s%s", to, SHARD_NEXT_SUFFIX);
        int rc = 0;
        if (path_exists(from)) {
            if (rename(from, to) != 0) rc = chirp_fail_errno("rename %s -> %s", from, to);
            crashpoint("prepare:switching");
        } else {
            /* Renamed by an earlier, interrupted switch: it must be ours. */
            ShardHeader h = {0};
            rc = shard_read_header(to, &h);
            unsigned long long g = h.generation;
            if (rc == 0 && g != generation)
                rc = chirp_fail("%s: neither the new shard nor its .next file is there (generation %llx, expected "
                                "%llx); run chirp prepare again",
                                to, g, generation);
        }
        free(from);
        free(to);
        if (rc != 0) return -1;
    }
    for (int i = count; i < 100000; i++) {
        snprintf(name, sizeof name, "%s_%03d.bin", split, i);
        char *path = path_join(dir, name);
        int gone = unlink(path) != 0;
        free(path);
        if (gone) break;
    }
    return dir_sync(dir);
}

static int is_leftover(const char *name) {
    if (strncmp(name, "train_", 6) != 0 && strncmp(name, "val_", 4) != 0) return 0;
    const char *bin = strstr(name, ".bin");
    if (!bin) return 0;
    return strcmp(bin, ".bin" SHARD_NEXT_SUFFIX) == 0 || strncmp(bin, ".bin.tmp.", 9) == 0 ||
           strncmp(bin, ".bin" SHARD_NEXT_SUFFIX ".tmp.", 14) == 0;
}

void shard_set_discard_next(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_leftover(e->d_name)) continue;
        char *path = path_join(dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
}
