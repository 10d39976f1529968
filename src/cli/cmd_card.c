/* cmd_card.c: `chirp card`: write a model's Hugging Face model card. */
#include "audit/card.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: chirp card --model DIR --dataset DATASET [--license ID] [--language CODE] [--out FILE]\n"
    "\n"
    "Writes DIR/README.md (or FILE): a Hugging Face model card with YAML front matter (license, tags,\n"
    "datasets, language, library_name) and what trained the model: sources, posts read / kept /\n"
    "dropped by reason, opt-outs and the posts they removed, the Merkle root of the trained posts,\n"
    "the training configuration and losses, the memorization summary (when chirp audit memorization\n"
    "has run) and how to query the membership sketch. Every figure comes from the catalog, config.json,\n"
    "chirp.json, the run's log.jsonl and the report; none is typed by hand.\n"
    "\n"
    "  --license ID      the front matter's license (default other)\n"
    "  --language CODE   the front matter's language (default en)\n";

static int run(int argc, char **argv) {
    CardOptions o = {0};
    const char *out = NULL;
    ArgSpec specs[] = {{"model", ARG_STR, &o.model_dir, 0, -1},
                       {"dataset", ARG_STR, &o.dataset, 0, -1},
                       {"license", ARG_STR, &o.license, 0, -1},
                       {"language", ARG_STR, &o.language, 0, -1},
                       {"out", ARG_STR, &out, 0, -1}};
    int rc = args_parse("card", argc, argv, 1, specs, 5, NULL);
    if (rc != EXIT_OK) return rc;
    if (!o.model_dir) return args_missing("card", "model");
    if (!o.dataset) return args_missing("card", "dataset");
    char *card = card_build(&o);
    if (!card) return cli_fail();
    char *path = out ? xstrdup(out) : path_join(o.model_dir, "README.md");
    rc = file_write_atomic(path, card, strlen(card));
    if (rc == 0) printf("card: %s\n", path);
    free(card);
    free(path);
    return rc == 0 ? EXIT_OK : cli_fail();
}

const Command cmd_card = {
    .name = "card",
    .summary = "write a model card from the catalog and the model's own files",
    .help = HELP,
    .run = run,
};
