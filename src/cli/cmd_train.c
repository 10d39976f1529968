/* cmd_train.c: `chirp train`: parse flags into TrainOptions, run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "dist/comm.h"
#include "train/trainer.h"
#include "util/error.h"

static const char HELP[] =
    "usage: chirp train --train 'DATA/train_*.bin' [--val 'DATA/val_*.bin']\n"
    "         (--init MODEL_DIR | --model PRESET | --layers L --heads H --embd C --ctx T --vocab V)\n"
    "         [--tokenizer T] --batch B --seq T [--grad-accum K] --steps N --lr LR\n"
    "         [--warmup W] [--schedule constant|cosine|linear|wsd] [--min-lr R]\n"
    "         [--weight-decay WD] [--beta1 0.9] [--beta2 0.95] [--eps 1e-8] [--grad-clip G]\n"
    "         [--seed S] [--shuffle] [--eval-every E] [--eval-batches K] [--save-every S]\n"
    "         [--keep K] --out RUN_DIR [--resume] [--threads N] [--precision P] [--zero 0|1] [--dist-timeout S]\n"
    "   or: chirp train --sft CONVERSATIONS.jsonl [--val CONV.jsonl] (--init MODEL_DIR | ...)\n"
    "         [--tokenizer T] --batch B --seq T ... (the same flags)\n"
    "\n"
    "Train a GPT-2 model on llm.c token shards (globs are expanded and read in\n"
    "sorted order as one stream) with AdamW.\n"
    "\n"
    "  --sft FILE        chat fine-tuning: {\"messages\": [...]} per line, rendered\n"
    "                    with the model's chat template, loss on assistant tokens\n"
    "                    only, conversations packed into rows (docs/training.md);\n"
    "                    --val is then a conversations file too\n"
    "  --init DIR        start from a Hugging Face GPT-2 model directory, or an llm.c\n"
    "                    model file (gpt2_124M.bin: version 3 fp32 or 5 bf16)\n"
    "  --model PRESET    gpt2 (124M), gpt2-medium, small (L6 H6 C384 V8192), tiny;\n"
    "                    --vocab and --ctx override the preset's\n"
    "  --tokenizer T     tokenizer.json (or a directory holding one) copied into checkpoints\n"
    "  --batch B --seq T rows and sequence length per micro-batch (default 4, 64)\n"
    "  --grad-accum K    micro-batches per step (default 1)\n"
    "  --steps N --lr LR optimizer steps (default 100) and peak learning rate (6e-4)\n"
    "  --warmup W        linear warmup steps (default 0)\n"
    "  --schedule S      constant (default), cosine, linear, or wsd (stable, then\n"
    "                    linear decay over the last 20%)\n"
    "  --min-lr R        final learning rate of decaying schedules (default lr/10)\n"
    "  --weight-decay WD decoupled, on rank>=2 tensors only (default 0.1)\n"
    "  --grad-clip G     clip to global norm G (default 1.0; 0 disables)\n"
    "  --seed S          init and shuffle seed (default 1337)\n"
    "  --shuffle         seeded random order of B*T windows (default: sequential)\n"
    "  --eval-every E    val loss every E steps (default: after the last step)\n"
    "  --eval-batches K  val batches per evaluation (default 20)\n"
    "  --save-every S    checkpoint every S steps (default: after the last step)\n"
    "  --keep K          keep only the newest K checkpoints (default all)\n"
    "  --out RUN_DIR     run directory: log.jsonl and step_N/ checkpoints\n"
    "  --resume          continue from the newest complete checkpoint in RUN_DIR\n"
    "  --threads N       OpenMP/OpenBLAS threads (default: all cores; per rank)\n"
    "  --precision P     matrix products in auto (default: bf16 where this CPU and\n"
    "                    build run it faster than fp32, else fp32), fp32 (exact\n"
    "                    against PyTorch) or bf16 (mixed precision: bf16 operands,\n"
    "                    fp32 accumulation, weights and optimizer; docs/training.md)\n"
    "\n"
    "Under mpirun (mpirun -np N chirp train ...) N ranks train one model: rank r\n"
    "reads micro-batch r of every N, gradients are summed over ranks (overlapped\n"
    "with the backward), rank 0 prints and writes checkpoints (docs/scaling.md).\n"
    "  --zero 1          ZeRO-1: each rank keeps 1/N of the AdamW state\n"
    "  --dist-timeout S  give up when the other ranks do not answer for S seconds\n"
    "                    (a rank died, the network dropped; default 120)\n"
    "\n"
    "stdout, one line per step:  step K loss X lr Y norm Z ms M tok/s R [comm C ms hidden H%]\n"
    "and on eval steps:           val step K loss X\n";

/* What the launcher's SIGTERM handler says: the last complete checkpoint
 * (the CLI owns this state; the trainer reports each save). */
static char last_checkpoint[4096] = "(none yet)";
static int my_rank;

static void note_checkpoint(void *ctx, const char *dir) {
    (void)ctx;
    snprintf(last_checkpoint, sizeof last_checkpoint, "%s", dir);
}

/* mpirun ends every rank with SIGTERM when one of them fails: rank 0 says
 * so and where to resume from (write(2) only: this is a signal handler). */
static void on_launcher_term(int sig) {
    (void)sig;
    if (my_rank == 0) {
        static const char a[] = "chirp train: rank 0: stopped by the launcher (another rank failed or was killed); "
                                "the last complete checkpoint is ";
        ssize_t w = write(2, a, sizeof a - 1);
        w = write(2, last_checkpoint, strlen(last_checkpoint));
        w = write(2, "; resume with --resume\n", 23);
        (void)w;
    }
    _exit(1);
}

/* One process, or one rank of an MPI job. */
static int run_ranks(TrainOptions *o) {
    if (!comm_mpi_launched()) return train_run(o) == 0 ? EXIT_OK : cli_fail();
    Comm *comm = comm_mpi_new();
    if (!comm) return cli_fail();
    my_rank = comm->rank;
    o->comm = comm;
    o->on_checkpoint = note_checkpoint;
    signal(SIGTERM, on_launcher_term);
    int rc = train_run(o);
    if (rc != 0) {
        fprintf(stderr, "chirp: rank %d: %s\n", comm->rank, chirp_error());
        /* The other ranks may be waiting in a collective: end them all. */
        comm->ops->abort(comm, EXIT_FAIL);
    }
    comm->ops->free(comm);
    return EXIT_OK;
}

static int run(int argc, char **argv) {
    cli_prefer_passive_omp(argv);
    TrainOptions o;
    train_options_defaults(&o);
    const char *train = NULL, *sft = NULL, *val = NULL, *init = NULL, *preset = NULL, *tok = NULL, *out = NULL,
               *sched = "constant", *precision = "auto";
    long layers = 0, heads = 0, embd = 0, ctx = 0, vocab = 0, batch = o.B, seq = o.T, accum = 1, steps = o.steps,
         warmup = 0, seed = (long)o.seed, eval_every = 0, eval_batches = o.eval_batches, save_every = 0, keep = 0,
         threads = 0, zero = 0;
    double dist_timeout = o.dist_timeout;
    double lr = o.lr, min_lr = -1, wd = o.weight_decay, b1 = o.beta1, b2 = o.beta2, eps = o.eps, clip = o.grad_clip;
    bool shuffle = false, resume = false;
    const ArgSpec specs[] = {
        {"train", ARG_STR, &train, 0, -1},
        {"sft", ARG_STR, &sft, 0, -1},
        {"val", ARG_STR, &val, 0, -1},
        {"init", ARG_STR, &init, 0, -1},
        {"model", ARG_STR, &preset, 0, -1},
        {"layers", ARG_INT, &layers, 1, 1000},
        {"heads", ARG_INT, &heads, 1, 1024},
        {"embd", ARG_INT, &embd, 1, 65536},
        {"ctx", ARG_INT, &ctx, 1, 1 << 20},
        {"vocab", ARG_INT, &vocab, 1, 10000000},
        {"tokenizer", ARG_STR, &tok, 0, -1},
        {"batch", ARG_INT, &batch, 1, 1 << 20},
        {"seq", ARG_INT, &seq, 1, 1 << 20},
        {"grad-accum", ARG_INT, &accum, 1, 1 << 20},
        {"steps", ARG_INT, &steps, 1, 1e12},
        {"lr", ARG_DOUBLE, &lr, 0, 10},
        {"warmup", ARG_INT, &warmup, 0, 1e12},
        {"schedule", ARG_STR, &sched, 0, -1},
        {"min-lr", ARG_DOUBLE, &min_lr, 0, 10},
        {"weight-decay", ARG_DOUBLE, &wd, 0, 10},
        {"beta1", ARG_DOUBLE, &b1, 0, 0.999999},
        {"beta2", ARG_DOUBLE, &b2, 0, 0.999999},
        {"eps", ARG_DOUBLE, &eps, 0, 1},
        {"grad-clip", ARG_DOUBLE, &clip, 0, 1e9},
        {"seed", ARG_INT, &seed, 0, 9.2e18},
        {"shuffle", ARG_BOOL, &shuffle, 0, -1},
        {"eval-every", ARG_INT, &eval_every, 0, 1e12},
        {"eval-batches", ARG_INT, &eval_batches, 1, 1 << 20},
        {"save-every", ARG_INT, &save_every, 0, 1e12},
        {"keep", ARG_INT, &keep, 0, 1 << 20},
        {"out", ARG_STR, &out, 0, -1},
        {"resume", ARG_BOOL, &resume, 0, -1},
        {"threads", ARG_INT, &threads, 1, 1024},
        {"precision", ARG_STR, &precision, 0, -1},
        {"zero", ARG_INT, &zero, 0, 1},
        {"dist-timeout", ARG_DOUBLE, &dist_timeout, 1, 1e6},
    };
    int rc = args_parse("train", argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), NULL);
    if (rc != EXIT_OK) return rc;
    if (train && sft)
        return args_usage_error("train", "give --train (token shards) or --sft (conversations), not both");
    if (!train && !sft) return args_missing("train", "train");
    if (!out) return args_missing("train", "out");
    int arch_flags = (layers > 0) + (heads > 0) + (embd > 0);
    if ((init != NULL) + (preset != NULL) + (arch_flags > 0) > 1)
        return args_usage_error("train", "give one of --init, --model, or --layers/--heads/--embd/--ctx/--vocab");
    if (init && (vocab || ctx)) return args_usage_error("train", "--vocab/--ctx cannot change an --init model");
    if (!init && !preset) {
        if (arch_flags == 0 && !resume)
            return args_usage_error("train",
                                    "give --init MODEL_DIR, --model PRESET, or --layers/--heads/--embd/--ctx/--vocab");
        if (arch_flags > 0 && (arch_flags < 3 || !ctx || !vocab))
            return args_usage_error("train", "--layers, --heads, --embd, --ctx and --vocab go together");
        if (arch_flags > 0 && embd % heads != 0)
            return args_usage_error("train", "--embd %ld is not divisible by --heads %ld", embd, heads);
    }
    if (schedule_parse(sched, &o.schedule) != 0) return args_usage_error("train", "unknown --schedule '%s'", sched);
    o.train_pattern = train;
    o.sft_path = sft;
    o.val_pattern = val;
    o.init_dir = init;
    o.preset = preset;
    o.arch.n_layer = (int)layers;
    o.arch.n_head = (int)heads;
    o.arch.n_embd = (int)embd;
    o.arch.n_ctx = (int)ctx;
    o.arch.vocab_size = (int)vocab;
    o.arch.ln_eps = 1e-5f;
    if (preset) {
        o.vocab_override = (int)vocab;
        o.ctx_override = (int)ctx;
    }
    o.tokenizer = tok;
    o.B = (int)batch;
    o.T = (int)seq;
    o.grad_accum = (int)accum;
    o.steps = steps;
    if (min_lr > lr)
        return args_usage_error("train", "--min-lr %g is above --lr %g (it is the final learning rate, not a ratio)",
                                min_lr, lr);
    o.lr = lr;
    o.min_lr = min_lr;
    o.warmup = warmup;
    o.weight_decay = wd;
    o.beta1 = b1;
    o.beta2 = b2;
    o.eps = eps;
    o.grad_clip = clip;
    o.seed = (unsigned long long)seed;
    o.shuffle = shuffle;
    o.eval_every = eval_every;
    o.eval_batches = (int)eval_batches;
    o.save_every = save_every;
    o.keep = (int)keep;
    o.out_dir = out;
    o.resume = resume;
    o.threads = (int)threads;
    o.precision = precision;
    o.zero = zero == 1;
    o.dist_timeout = dist_timeout;
    return run_ranks(&o);
}

const Command cmd_train = {
    .name = "train",
    .summary = "train a GPT-2 model",
    .help = HELP,
    .run = run,
};
