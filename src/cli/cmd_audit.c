/* cmd_audit.c: `chirp audit`: provenance questions about a dataset. */
#include "cli/args.h"
#include "cli/commands.h"
#include "audit/catalog_audit.h"
#include "audit/audit_data.h"
#include "audit/optout_index.h"
#include "cli/audit_cmds.h"
#include "data/catalog.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: chirp audit --dataset DATASET (--post-id ID | --text TEXT | --optout-check FILE)\n"
    "                   [--tokenizer T] [--data DIR]\n"
    "   or: chirp audit index --dataset DATASET [--data DIR]\n"
    "       chirp audit find --dataset DATASET (--text TEXT | --ids 'ID ID ...') [--max-hits N] [--json]\n"
    "       chirp audit sketch --dataset DATASET --model DIR [--fpr P]\n"
    "       chirp audit member --model DIR --text TEXT [--json]\n"
    "       chirp audit prove --dataset DATASET --model DIR --post-id ID [--out PROOF.json]\n"
    "       chirp audit verify --model DIR --proof PROOF.json\n"
    "       chirp audit memorization --model DIR --dataset DATASET [--samples N] [--untargeted M]\n"
    "                   [--sample-tokens N] [--batch N] [--seed S] [--quant none|bf16|int8] [--tokenizer T]\n"
    "                   [--out REPORT_DIR]\n"
    "\n"
    "What went into a model, and does the model give it back (docs/audit.md).\n"
    "\n"
    "  index         an exact index (suffix array) of the training tokens, in DATASET/audit_index/\n"
    "  find          occurrences of a text in the training data, the posts holding it, and the\n"
    "                longest part of it that is there (needs the index)\n"
    "  sketch        write a membership sketch into the model directory (holds no text) and the\n"
    "                Merkle root of the trained posts into its chirp.json\n"
    "  member        was this text trained on? yes / partly / no, from the sketch alone\n"
    "  prove/verify  an inclusion proof of a trained post, or a non-inclusion proof of another,\n"
    "                against the model's Merkle root\n"
    "  memorization  the release report: extraction of trained posts, verbatim spans in samples,\n"
    "                leaks of opted-out or dropped posts (exit 1), membership inference;\n"
    "                --samples trained and held-out posts each (200), --untargeted samples (100)\n"
    "                of --sample-tokens (128), --batch sequences per forward (16); writes\n"
    "                REPORT_DIR (default DIR/memorization)/report.json and report.html\n"
    "\n"
    "  --post-id ID         where did this post go: kept or dropped (and why), split, shard, offset\n"
    "  --text TEXT          the same, for a text (cleaned as ingest cleaned, then looked up by hash)\n"
    "  --optout-check FILE  prove that no post covered by the opt-out list FILE (post:ID,\n"
    "                       author:ID, author:@handle) is in the training data: checks the catalog,\n"
    "                       then decodes every shard and compares each document's text hash with\n"
    "                       the opted-out posts'. With the exact index (chirp audit index), also\n"
    "                       looks each opted-out text up in it: as a whole post under any id\n"
    "                       (HIT) and as any 50-character stretch inside a trained post, such as a\n"
    "                       quote (NEAR). Prints what it checked; exits 1 on any HIT or NEAR.\n"
    "  --tokenizer T, --data DIR   override the tokenizer and shard folder recorded by prepare\n"
    "\n"
    "Exit codes: 0 done (and, for --optout-check, no hit), 1 failure or hit, 2 usage error.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} SUBCOMMANDS[] = {
    {"index", audit_cmd_index},
    {"find", audit_cmd_find},
    {"sketch", audit_cmd_sketch},
    {"member", audit_cmd_member},
    {"prove", audit_cmd_prove},
    {"verify", audit_cmd_verify},
    {"memorization", audit_cmd_memorization},
};

/* The index pass of --optout-check: 1 when it ran, 0 when the dataset has
 * no index, -1 on failure. */
static int index_check(const char *dataset, const char *tokenizer, const char *optout, OptoutIndexReport *r) {
    char *dir = audit_index_dir(dataset);
    char *json = path_join(dir, "index.json");
    int have = access(json, R_OK) == 0;
    free(json);
    free(dir);
    if (!have) return 0;
    AuditData a;
    if (audit_data_open(&a, dataset, tokenizer, true) != 0) return -1;
    int rc = audit_optout_index(&a, optout, stdout, r);
    audit_data_close(&a);
    return rc == 0 ? 1 : -1;
}

static int run(int argc, char **argv) {
    for (size_t i = 0; argc > 1 && i < sizeof SUBCOMMANDS / sizeof *SUBCOMMANDS; i++)
        if (strcmp(argv[1], SUBCOMMANDS[i].name) == 0) return SUBCOMMANDS[i].run(argc - 1, argv + 1);
    const char *dataset = NULL, *post_id = NULL, *text = NULL, *optout = NULL, *tokenizer = NULL, *data = NULL;
    ArgSpec specs[] = {
        {"dataset", ARG_STR, &dataset, 0, -1},     {"post-id", ARG_STR, &post_id, 0, -1},
        {"text", ARG_STR, &text, 0, -1},           {"optout-check", ARG_STR, &optout, 0, -1},
        {"tokenizer", ARG_STR, &tokenizer, 0, -1}, {"data", ARG_STR, &data, 0, -1},
    };
    int rc = args_parse("audit", argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("audit", "dataset");
    if ((post_id != NULL) + (text != NULL) + (optout != NULL) != 1)
        return args_usage_error("audit", "give exactly one of --post-id, --text, --optout-check");
    sqlite3 *db = catalog_open(dataset, false);
    if (!db) return cli_fail();
    if (post_id || text) {
        long n = post_id ? audit_post_id(db, post_id, stdout) : audit_text(db, text, stdout);
        sqlite3_close(db);
        return n < 0 ? cli_fail() : EXIT_OK;
    }
    OptoutReport r;
    rc = audit_optout(db, optout, tokenizer, data, stdout, &r);
    sqlite3_close(db);
    if (rc != 0) return cli_fail();
    OptoutIndexReport ir;
    int indexed = index_check(dataset, tokenizer, optout, &ir);
    if (indexed < 0) return cli_fail();
    printf("opt-out check: %ld entries in %s cover %ld catalog posts (%ld distinct texts)\n", r.entries, optout,
           r.matched_posts, r.texts);
    printf("  catalog: %ld of them kept or in a shard\n", r.catalog_hits);
    printf("  shards: %ld decoded, %ld documents, %llu tokens; %ld documents match an opted-out text\n", r.shards,
           r.documents, (unsigned long long)r.tokens, r.shard_hits);
    if (indexed)
        printf("  index: %ld opted-out texts looked up (%ld long enough for %ld 50-character windows) in %.0f ms; "
               "%ld trained as whole posts, %ld with a stretch inside a trained post\n",
               ir.posts, ir.searched, ir.windows, ir.ms, ir.exact_hits, ir.near_hits);
    else printf("  index: none (chirp audit index adds the search for quotes and copies under other ids)\n");
    long index_hits = indexed ? ir.exact_hits + ir.near_hits : 0;
    if (r.catalog_hits || r.shard_hits || index_hits) {
        fprintf(stderr, "chirp: opt-out check FAILED: %ld catalog hit(s), %ld shard hit(s), %ld index hit(s)\n",
                r.catalog_hits, r.shard_hits, index_hits);
        return EXIT_FAIL;
    }
    printf("  OK: no opted-out post reaches the training data\n");
    return EXIT_OK;
}

const Command cmd_audit = {
    .name = "audit",
    .summary = "trace a post or an opt-out list through the data",
    .help = help,
    .run = run,
};
