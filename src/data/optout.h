/* optout.h: the opt-out list: posts and authors that must never reach a
 * shard. File format, one entry a line ('#' comments and blank lines are
 * ignored):
 *     post:ID          one post, by id
 *     author:ID        every post by this author id
 *     author:@handle   every post by this handle (case-insensitive)
 * Any other line is an error naming file and line. */
#ifndef CHIRP_DATA_OPTOUT_H
#define CHIRP_DATA_OPTOUT_H

#include <stdbool.h>

typedef struct OptOut OptOut;

OptOut *optout_new(void);
void optout_free(OptOut *o);
int optout_load(OptOut *o, const char *path); /* -1 with the error set */
int optout_add(OptOut *o, const char *entry); /* one "kind:value" entry */
long optout_count(const OptOut *o);

/* Does the list cover a post with these fields (any may be NULL)? */
bool optout_match(const OptOut *o, const char *post_id, const char *author, const char *handle);

#endif
