/* cmd_eval.c: `chirp eval`: mean loss and perplexity of a model on shards. */
#include <math.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "model/gpt2.h"
#include "train/trainer.h"

static const char HELP[] = "usage: chirp eval --model DIR --data 'FILES' [--batch B] [--seq T] [--threads N]\n"
                           "\n"
                           "Mean cross-entropy loss (nats/token) and perplexity of a model over every\n"
                           "token of the data: the stream is cut into rows of T predictions, B rows per\n"
                           "batch; the last batch is partly masked. Deterministic. Defaults: B 4, T the\n"
                           "model's context length (at most 1024).\n";

static int run(int argc, char **argv) {
    cli_prefer_passive_omp(argv);
    const char *model = NULL, *data = NULL;
    long batch = 4, seq = 0, threads = 0;
    const ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, -1},       {"data", ARG_STR, &data, 0, -1},
        {"batch", ARG_INT, &batch, 1, 1 << 20},  {"seq", ARG_INT, &seq, 1, 1 << 20},
        {"threads", ARG_INT, &threads, 1, 1024},
    };
    int rc = args_parse("eval", argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), NULL);
    if (rc != EXIT_OK) return rc;
    if (!model) return args_missing("eval", "model");
    if (!data) return args_missing("eval", "data");
    if (threads > 0) train_set_threads((int)threads);
    Gpt2Model m;
    if (gpt2_load(&m, model) != 0) return cli_fail();
    int T = seq > 0 ? (int)seq : (m.cfg.n_ctx < 1024 ? m.cfg.n_ctx : 1024);
    double loss;
    long long n;
    rc = eval_dataset(&m, data, (int)batch, T, &loss, &n);
    gpt2_free(&m);
    if (rc != 0) return cli_fail();
    printf("loss %.6f perplexity %.4f tokens %lld\n", loss, exp(loss), n);
    return EXIT_OK;
}

const Command cmd_eval = {
    .name = "eval",
    .summary = "measure a model's loss on token shards",
    .help = HELP,
    .run = run,
};
