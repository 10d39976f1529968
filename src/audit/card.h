/* card.h: `chirp card`: a Hugging Face model card (README.md with YAML
 * front matter) for a model directory, every figure in it read from the
 * dataset's catalog, the model's config.json and chirp.json, its run's
 * log.jsonl, and the memorization report when there is one; nothing typed
 * by hand. */
#ifndef CHIRP_AUDIT_CARD_H
#define CHIRP_AUDIT_CARD_H

typedef struct CardOptions {
    const char *model_dir, *dataset;
    const char *license;  /* front matter (default "other") */
    const char *language; /* default "en" */
} CardOptions;

/* The card's text (malloc'd), or NULL with the error set. */
char *card_build(const CardOptions *o);

#endif
