/* sampler.h: choosing the next token from the logits.
 *
 * Order of operations (the usual one, Hugging Face's and llama.cpp's):
 *   1. penalties over the tokens seen so far (prompt and generated):
 *      repetition (CTRL: a seen token's logit is divided by r if positive,
 *      multiplied by r if negative), then frequency and presence
 *      (OpenAI: logit -= count * frequency + (count > 0) * presence);
 *   2. temperature 0: argmax (greedy; ties go to the lowest id);
 *   3. otherwise logits / temperature, softmax, then the filters, each on
 *      the distribution left by the previous one: top-k (keep the k most
 *      likely), top-p (keep the smallest set of most likely tokens whose
 *      mass reaches p), min-p (keep tokens with p >= min_p * p_max);
 *   4. draw from what is left with a seeded generator: the same seed and
 *      the same logits give the same tokens on every run. */
#ifndef CHIRP_INFER_SAMPLER_H
#define CHIRP_INFER_SAMPLER_H

#include <stdint.h>

typedef struct SamplerConfig {
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    float min_p;              /* 0 = off */
    float repetition_penalty; /* 1 = off */
    float frequency_penalty;  /* 0 = off */
    float presence_penalty;   /* 0 = off */
    uint64_t seed;
} SamplerConfig;

/* The defaults above: temperature 1, every filter and penalty off. */
void sampler_config_default(SamplerConfig *c);

typedef struct Sampler Sampler;

Sampler *sampler_new(const SamplerConfig *cfg, int vocab_size);
void sampler_free(Sampler *s);

/* Forgets the seen tokens (the generator is not reseeded). */
void sampler_reset_history(Sampler *s);

/* Records a token as seen, for the penalties. */
void sampler_observe(Sampler *s, int32_t token);

/* Picks the next token. logits is not modified. */
int32_t sampler_sample(Sampler *s, const float *logits);

/* log(sum_i exp(z[i])) over V logits, computed stably (max first); the
 * log-probability of token t is z[t] minus this. -INFINITY when V < 1. */
double log_sum_exp(const float *z, int V);

#endif
