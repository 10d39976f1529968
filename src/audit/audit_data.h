/* audit_data.h: what the audit commands open together: a dataset's
 * catalog, the tokenizer prepare used, the exact index of its train
 * shards (DATASET/audit_index/), and the map from stream positions to the
 * posts that hold them. */
#ifndef CHIRP_AUDIT_AUDIT_DATA_H
#define CHIRP_AUDIT_AUDIT_DATA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/suffix_index.h"
#include "text/tokenizer.h"

/* One trained post's tokens in the stream: [start, start + count), then
 * its <|endoftext|>. */
typedef struct PostSpan {
    uint64_t start;
    uint32_t count;
    int64_t row; /* catalog posts.id */
} PostSpan;

typedef struct AuditData {
    sqlite3 *db;
    Tokenizer *tok;
    SuffixIndex ix;
    bool have_index;
    PostSpan *spans; /* sorted by start */
    size_t nspans;
} AuditData;

/* The index directory of a dataset (malloc'd). */
char *audit_index_dir(const char *dataset);

/* Opens the catalog and the tokenizer (tokenizer NULL: the one prepare
 * recorded); with need_index, the index and the post map too. */
int audit_data_open(AuditData *a, const char *dataset, const char *tokenizer, bool need_index);
void audit_data_close(AuditData *a);

/* The post whose tokens (or its final <|endoftext|>) hold stream position
 * pos, or NULL. */
const PostSpan *audit_post_at(const AuditData *a, uint64_t pos);

/* The train shard paths of the dataset (sorted, NULL-terminated;
 * path_list_free) from the catalog's data_dir, or from data_dir. */
int audit_train_shards(sqlite3 *db, const char *data_dir, char ***paths);

#endif
