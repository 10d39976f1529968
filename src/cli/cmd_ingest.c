/* cmd_ingest.c: `chirp ingest`: post exports -> dataset with a catalog. */
#include "cli/args.h"
#include "cli/commands.h"
#include "data/ingest.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: chirp ingest --input PATH... [--format FMT] [field options] [--optout FILE]...\n"
    "                    [--min-chars N] [--keep-retweets] [--urls keep|mask|drop]\n"
    "                    [--mentions keep|mask|drop] [--near-dup T] [--val-fraction F] --out DATASET\n"
    "\n"
    "Reads post exports, cleans them, drops duplicates, retweets and opted-out posts, and writes\n"
    "DATASET/catalog.sqlite (one row per input record with its decision) and\n"
    "DATASET/conversations.jsonl (reply chains among kept posts). An existing dataset is replaced\n"
    "only when the whole ingest succeeds.\n"
    "\n"
    "  --input PATH...        files, X archives (folder or .zip), or folders of such files\n"
    "                         (read in sorted order; entries of no known format are skipped\n"
    "                         and listed); repeatable\n"
    "  --format FMT           auto (default), csv, jsonl, x-archive, trump-archive, fortune, text\n"
    "  --text-field NAME      column (CSV) or dotted path (JSON) of the text; likewise\n"
    "  --id-field, --author-field, --handle-field, --time-field, --reply-to-field\n"
    "                         (defaults fit tweets: text, tweet_id/id_str, author_id, username,\n"
    "                         created_at, replied_to/in_reply_to_status_id_str)\n"
    "  --optout FILE          lines post:ID, author:ID or author:@handle; repeatable\n"
    "  --min-chars N          drop posts shorter than N characters after cleaning (default 1)\n"
    "  --keep-retweets        keep 'RT @user:' posts (dropped by default)\n"
    "  --urls MODE            keep (default), mask (<url>) or drop URLs\n"
    "  --mentions MODE        keep (default), mask (@user) or drop @mentions\n"
    "  --near-dup T           MinHash near-duplicate threshold (default 0.8; 0 disables)\n"
    "  --val-fraction F       share of kept posts in the val split (default 0.05)\n"
    "  --max-record-bytes N   longer records are dropped as malformed (default 1048576)\n"
    "  --out DATASET          dataset folder (created)\n"
    "\n"
    "Malformed records are reported (first 10) and recorded as dropped:malformed; an unreadable\n"
    "input is fatal and leaves the dataset as it was.\n";

static int run(int argc, char **argv) {
    StrList inputs = {0}, optouts = {0};
    const char *format = "auto", *urls = "keep", *mentions = "keep", *out = NULL;
    IngestOptions opt;
    ingest_options_init(&opt);
    long max_record = (long)READER_DEFAULT_MAX_RECORD;
    ArgSpec specs[] = {
        {"input", ARG_LIST, &inputs, 0, -1},
        {"format", ARG_STR, &format, 0, -1},
        {"text-field", ARG_STR, &opt.reader.text_field, 0, -1},
        {"id-field", ARG_STR, &opt.reader.id_field, 0, -1},
        {"author-field", ARG_STR, &opt.reader.author_field, 0, -1},
        {"handle-field", ARG_STR, &opt.reader.handle_field, 0, -1},
        {"time-field", ARG_STR, &opt.reader.time_field, 0, -1},
        {"reply-to-field", ARG_STR, &opt.reader.reply_to_field, 0, -1},
        {"optout", ARG_LIST, &optouts, 0, -1},
        {"min-chars", ARG_INT, &opt.min_chars, 0, 1e9},
        {"keep-retweets", ARG_BOOL, &opt.keep_retweets, 0, -1},
        {"urls", ARG_STR, &urls, 0, -1},
        {"mentions", ARG_STR, &mentions, 0, -1},
        {"near-dup", ARG_DOUBLE, &opt.near_dup, 0, 1},
        {"val-fraction", ARG_DOUBLE, &opt.val_fraction, 0, 1},
        {"max-record-bytes", ARG_INT, &max_record, 1, 1e10},
        {"out", ARG_STR, &out, 0, -1},
    };
    int rc = args_parse("ingest", argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), NULL);
    if (rc == EXIT_OK && inputs.count == 0) rc = args_missing("ingest", "input");
    if (rc == EXIT_OK && !out) rc = args_missing("ingest", "out");
    int u = clean_mode_parse(urls), m = clean_mode_parse(mentions);
    if (rc == EXIT_OK && u < 0) rc = args_usage_error("ingest", "--urls must be keep, mask or drop, got '%s'", urls);
    if (rc == EXIT_OK && m < 0)
        rc = args_usage_error("ingest", "--mentions must be keep, mask or drop, got '%s'", mentions);
    static const char *const formats[] = {"auto", "csv", "jsonl", "x-archive", "trump-archive", "fortune", "text"};
    int known = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) known |= strcmp(format, formats[i]) == 0;
    if (rc == EXIT_OK && !known)
        rc = args_usage_error("ingest",
                              "unknown --format '%s' (auto, csv, jsonl, x-archive, trump-archive, "
                              "fortune, text)",
                              format);
    if (rc != EXIT_OK) {
        strlist_free(&inputs);
        strlist_free(&optouts);
        return rc;
    }
    opt.inputs = inputs.items;
    opt.ninputs = inputs.count;
    opt.optout_files = optouts.items;
    opt.noptout = optouts.count;
    opt.format = format;
    opt.clean.urls = (CleanMode)u;
    opt.clean.mentions = (CleanMode)m;
    opt.reader.max_record = (size_t)max_record;
    opt.out = out;
    IngestStats st;
    rc = ingest_run(&opt, &st);
    strlist_free(&inputs);
    strlist_free(&optouts);
    if (rc != 0) return cli_fail();
    printf("ingested %ld posts from %d file(s) in %.2fs (%.0f posts/s) -> %s\n", st.posts, st.files, st.seconds,
           st.seconds > 0 ? st.posts / st.seconds : 0.0, out);
    if (st.files_skipped)
        printf("  skipped %d folder entr%s (listed above)\n", st.files_skipped, st.files_skipped == 1 ? "y" : "ies");
    printf("  kept %ld (train %ld, val %ld)\n", st.decisions[DECISION_KEPT], st.train, st.val);
    for (int d = 1; d < DECISION_COUNT; d++)
        if (st.decisions[d]) printf("  %-24s %ld\n", decision_name(d), st.decisions[d]);
    printf("  conversations            %ld\n", st.conversations);
    return EXIT_OK;
}

const Command cmd_ingest = {
    .name = "ingest",
    .summary = "read post exports into a dataset with a provenance catalog",
    .help = help,
    .run = run,
};
