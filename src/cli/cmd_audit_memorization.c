/* cmd_audit_memorization.c: `chirp audit memorization`: the release
 * report (report.json and report.html); exits 1 on a release-blocking leak. */
#include "audit/memorization.h"
#include "cli/args.h"
#include "cli/audit_cmds.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_cmd_memorization(int argc, char **argv) {
    MemOptions o;
    mem_options_default(&o);
    const char *out = NULL, *quant = "none";
    long samples = o.samples, untargeted = o.untargeted, tokens = o.sample_tokens, group = o.group, seed = (long)o.seed;
    ArgSpec specs[] = {
        {"model", ARG_STR, &o.model_dir, 0, -1},
        {"dataset", ARG_STR, &o.dataset, 0, -1},
        {"tokenizer", ARG_STR, &o.tokenizer, 0, -1},
        {"samples", ARG_INT, &samples, 1, 1e6},
        {"untargeted", ARG_INT, &untargeted, 0, 1e6},
        {"sample-tokens", ARG_INT, &tokens, 1, 1 << 20},
        {"batch", ARG_INT, &group, 1, 256},
        {"seed", ARG_INT, &seed, 0, 9e18},
        {"quant", ARG_STR, &quant, 0, -1},
        {"out", ARG_STR, &out, 0, -1},
    };
    int rc = args_parse("audit memorization", argc, argv, 1, specs, (int)(sizeof specs / sizeof *specs), NULL);
    if (rc != EXIT_OK) return rc;
    if (!o.model_dir) return args_missing("audit memorization", "model");
    if (!o.dataset) return args_missing("audit memorization", "dataset");
    if (strcmp(quant, "none") && strcmp(quant, "int8") && strcmp(quant, "bf16"))
        return args_usage_error("audit memorization", "--quant must be none, bf16 or int8");
    o.quant = strcmp(quant, "int8") == 0 ? INFER_INT8 : strcmp(quant, "bf16") == 0 ? INFER_BF16 : INFER_F32;
    o.samples = (int)samples;
    o.untargeted = (int)untargeted;
    o.sample_tokens = (int)tokens;
    o.group = (int)group;
    o.seed = (uint64_t)seed;
    json_t *report;
    long leaks;
    if (memorization_run(&o, &report, &leaks) != 0) return cli_fail();
    char *dir = out ? xstrdup(out) : path_join(o.model_dir, "memorization");
    char *json_path = path_join(dir, "report.json"), *html_path = path_join(dir, "report.html");
    char *json = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    char *html = memorization_html(report);
    rc = dir_create(dir);
    if (rc == 0) rc = file_write_atomic(json_path, json, strlen(json));
    if (rc == 0) rc = file_write_atomic(html_path, html, strlen(html));
    if (rc == 0) {
        const json_t *t = json_object_get(json_object_get(report, "targeted"), "k16_in_context");
        const json_t *mi = json_object_get(report, "membership_inference");
        printf("extraction (first 16 tokens, in context): trained %.1f%% exact, %.1f%% of tokens; held-out %.1f%% "
               "exact, %.1f%% of tokens\n",
               100 * json_number_value(json_object_get(json_object_get(t, "trained"), "exact_rate")),
               100 * json_number_value(json_object_get(json_object_get(t, "trained"), "token_match")),
               100 * json_number_value(json_object_get(json_object_get(t, "held_out"), "exact_rate")),
               100 * json_number_value(json_object_get(json_object_get(t, "held_out"), "token_match")));
        printf("verbatim spans of >= 50 characters in %d samples: %lld\n", o.untargeted,
               (long long)json_integer_value(json_object_get(json_object_get(report, "untargeted"), "verbatim_spans")));
        printf("membership inference (Min-K%%++): AUROC %.3f, TPR at 1%% FPR %.1f%%\n",
               json_number_value(json_object_get(mi, "auroc")),
               100 * json_number_value(json_object_get(mi, "tpr_at_1pct_fpr")));
        printf("report: %s, %s\n", json_path, html_path);
        if (leaks > 0) {
            fprintf(stderr,
                    "chirp: release blocked: %ld window(s) of posts that were not trained on (opted out or "
                    "dropped) appear in the samples; see %s\n",
                    leaks, html_path);
            rc = 1;
        } else {
            printf("leaks: none\n");
        }
    }
    free(json);
    free(html);
    free(json_path);
    free(html_path);
    free(dir);
    json_decref(report);
    if (rc < 0) return cli_fail();
    return rc == 1 ? EXIT_FAIL : EXIT_OK;
}
