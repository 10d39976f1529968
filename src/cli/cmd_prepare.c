/* cmd_prepare.c: `chirp prepare`: dataset -> llm.c token shards + manifest. */
#include "cli/args.h"
#include "cli/commands.h"
#include "data/prepare.h"

#include <stdio.h>

static const char help[] = "usage: chirp prepare --dataset DATASET --tokenizer T --out DATA [--shard-tokens N]\n"
                           "                     [--train-tokenizer --vocab-size N]\n"
                           "\n"
                           "Tokenizes the kept posts of DATASET into DATA/train_000.bin, DATA/val_000.bin, ... (llm.c\n"
                           "format: 256 x int32 header with magic 20240520, version 1, token count; uint16 tokens;\n"
                           "over 65,536 ids, llm.c's uint32 variant: magic 20240801, version 7), each post followed\n"
                           "by <|endoftext|>, and records in the catalog which shard and token offset holds each\n"
                           "post. The new shards replace the old ones together with the catalog's record, so a\n"
                           "crash leaves one or the other; the next run finishes or undoes an interrupted one.\n"
                           "\n"
                           "  --dataset DATASET    made by chirp ingest\n"
                           "  --tokenizer T        tokenizer.json, or a folder with tokenizer.json or GPT-2's\n"
                           "                       encoder.json + vocab.bpe\n"
                           "  --out DATA           shard folder (created; older shards there are replaced)\n"
                           "  --shard-tokens N     at most N tokens per shard (default 100000000)\n"
                           "  --train-tokenizer    first train a byte-level BPE tokenizer on the kept train posts and\n"
                           "                       save it to T (T/tokenizer.json, or T itself if it ends in .json)\n"
                           "  --vocab-size N       vocabulary size for --train-tokenizer\n";

static int run(int argc, char **argv) {
    const char *dataset = NULL, *tokenizer = NULL, *out = NULL;
    long shard_tokens = 100000000, vocab = 0;
    bool train = false;
    ArgSpec specs[] = {
        {"dataset", ARG_STR, &dataset, 0, -1},
        {"tokenizer", ARG_STR, &tokenizer, 0, -1},
        {"out", ARG_STR, &out, 0, -1},
        {"shard-tokens", ARG_INT, &shard_tokens, 1, 2147483647.0},
        {"train-tokenizer", ARG_BOOL, &train, 0, -1},
        {"vocab-size", ARG_INT, &vocab, 259, 65536},
    };
    int rc = args_parse("prepare", argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("prepare", "dataset");
    if (!tokenizer) return args_missing("prepare", "tokenizer");
    if (!out) return args_missing("prepare", "out");
    if (train && vocab == 0) return args_usage_error("prepare", "--train-tokenizer needs --vocab-size");
    if (!train && vocab != 0) return args_usage_error("prepare", "--vocab-size only goes with --train-tokenizer");
    Tokenizer *tok = train ? prepare_train_tokenizer(dataset, (int)vocab, tokenizer) : tokenizer_load(tokenizer);
    if (!tok) return cli_fail();
    PrepareOptions opt = {
        .dataset = dataset, .out = out, .tokenizer_path = tokenizer, .shard_tokens = (uint64_t)shard_tokens};
    PrepareStats st;
    rc = prepare_run(&opt, tok, &st);
    tokenizer_free(tok);
    if (rc != 0) return cli_fail();
    double tokens = (double)(st.train_tokens + st.val_tokens);
    printf("prepared %ld posts in %.2fs (%.0f tokens/s) -> %s\n", st.posts, st.seconds,
           st.seconds > 0 ? tokens / st.seconds : 0.0, out);
    printf("  train: %llu tokens in %d shard(s)\n", (unsigned long long)st.train_tokens, st.train_shards);
    printf("  val:   %llu tokens in %d shard(s)\n", (unsigned long long)st.val_tokens, st.val_shards);
    return EXIT_OK;
}

const Command cmd_prepare = {
    .name = "prepare",
    .summary = "tokenize a dataset into training shards",
    .help = help,
    .run = run,
};
