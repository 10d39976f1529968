/* chat_template.h: rendering conversations into tokens, for chat and for
 * supervised fine-tuning (chirp train --sft), the same way in both.
 *
 * A template is four strings, kept in the model directory as the
 * "chat_template" object of chirp.json (or, failing that, of
 * tokenizer.json):
 *
 *   "chat_template": {
 *     "prefix": "<|im_start|>{role}\n",   before each message; {role} is
 *                                          replaced by the role's name
 *     "end": "<|im_end|>",                 closes a message; generation
 *                                          stops when the model writes it
 *     "separator": "\n",                   after "end"
 *     "generation_prompt": "<|im_start|>assistant\n",
 *     "roles": {"system": "system", "user": "user", "assistant": "assistant"}
 *   }
 *
 * With neither file holding one, chat_template_load picks ChatML (above)
 * when the tokenizer has <|im_start|> and <|im_end|> special tokens, else a
 * plain-text fallback for tokenizers without chat tokens (plain GPT-2):
 * prefix "{role}:", end "\n", separator "", generation prompt
 * "Assistant:", roles System / User / Assistant, and content rendered
 * with a leading space ("User: hi\nAssistant: hello\n"): the generation
 * prompt ends at the colon and GPT-2 tokens carry their leading space.
 *
 * Rendering tokenizes piece by piece: prefix, end and separator with
 * special tokens allowed; message content never (a user typing
 * "<|im_end|>" gets ordinary text). The loss mask is 1 on the tokens of
 * an assistant message's content and its "end" (so the model learns to
 * stop), 0 elsewhere. */
#ifndef CHIRP_TEXT_CHAT_TEMPLATE_H
#define CHIRP_TEXT_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

typedef struct ChatTemplate {
    char *prefix; /* contains "{role}" */
    char *end;
    char *separator;
    char *generation_prompt;
    char *roles[3];     /* names for system, user, assistant */
    bool plain;         /* the plain-text fallback */
    bool content_space; /* prepend " " to content (the fallback) */
    const char *source; /* "chirp.json", "tokenizer.json", "default ChatML", "plain-text fallback" */
} ChatTemplate;

typedef struct ChatMessage {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} ChatMessage;

typedef struct ChatTokens {
    int32_t *ids;
    uint8_t *mask; /* 1 where the loss applies (assistant content + end) */
    size_t n, cap;
} ChatTokens;

/* Reads the template of model_dir (chirp.json, then tokenizer.json), or
 * picks the default for tok. model_dir may be NULL. Returns 0 or -1. */
int chat_template_load(ChatTemplate *t, const char *model_dir, const Tokenizer *tok);

/* The default for tok: ChatML if it has the chat tokens, else plain. */
void chat_template_default(ChatTemplate *t, const Tokenizer *tok);

void chat_template_destroy(ChatTemplate *t);

/* Writes t as "chat_template" into model_dir/chirp.json (keeping its other
 * keys; created if missing), atomically. Training calls this so that chat
 * later uses the template the model was tuned with. */
int chat_template_store(const ChatTemplate *t, const char *model_dir);

/* Appends the rendering of msgs to out (ids and mask), and the generation
 * prompt if add_generation_prompt. Returns 0, or -1 with the error set
 * (unknown role, tokenizer failure). */
int chat_render(const ChatTemplate *t, const Tokenizer *tok, const ChatMessage *msgs, int n, bool add_generation_prompt,
                ChatTokens *out);

/* Renders one line of a conversations file, {"messages": [{"role": ...,
 * "content": ...}, ...]}, into out (appended; no generation prompt). For
 * chirp train --sft. Returns 0, or -1 with the error set. */
int chat_render_json(const ChatTemplate *t, const Tokenizer *tok, const char *json_line, ChatTokens *out);

/* Renders just the generation prompt (no mask). */
int chat_render_generation_prompt(const ChatTemplate *t, const Tokenizer *tok, ChatTokens *out);

/* Appends the tokens of "end" + "separator" (what closes an assistant
 * reply in the cache after generation stopped at "end"). */
int chat_render_close(const ChatTemplate *t, const Tokenizer *tok, ChatTokens *out);

/* The template as a Jinja string (malloc'd) over messages[].role/content
 * and add_generation_prompt, rendering the same text as chat_render (for
 * GGUF's tokenizer.chat_template and HF's tokenizer_config). */
char *chat_template_jinja(const ChatTemplate *t);

void chat_tokens_clear(ChatTokens *c);
void chat_tokens_free(ChatTokens *c);

#endif
