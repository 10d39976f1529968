/* test_serve_api.c: the server's request parsing and validation, its
 * OpenAI-shaped responses and its SSE framing, without a network. */
#include "testutil.h"

#include <jansson.h>

#include "serve/api_request.h"
#include "serve/api_response.h"
#include "serve/sse.h"

static const ApiLimits LIM = {.max_n = 4, .vocab_size = 400, .n_ctx = 128};

static int parse(ApiKind kind, const char *body, ApiRequest *r, ApiError *e) {
    return api_request_parse(kind, body, strlen(body), &LIM, r, e);
}

/* Expects a 400 naming param. */
static void expect_bad(ApiKind kind, const char *body, const char *param) {
    ApiRequest r;
    ApiError e;
    if (parse(kind, body, &r, &e) == 0) {
        fprintf(stderr, "accepted: %s\n", body);
        api_request_free(&r);
        fail();
    }
    assert_int_equal(e.status, 400);
    assert_string_equal(e.type, "invalid_request_error");
    if (param) {
        if (strcmp(e.param, param) != 0) fprintf(stderr, "%s: param '%s', message %s\n", body, e.param, e.message);
        assert_string_equal(e.param, param);
    }
}

static void test_chat_fields(void **state) {
    (void)state;
    ApiRequest r;
    ApiError e;
    const char *body =
        "{\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"be brief\"},"
        " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi \"}, {\"type\": \"text\", \"text\": "
        "\"there\"}]},"
        " {\"role\": \"assistant\", \"content\": null}, {\"role\": \"developer\", \"content\": \"x\"}],"
        " \"max_completion_tokens\": 9, \"temperature\": 0.5, \"top_p\": 0.9, \"top_k\": 40, \"min_p\": 0.05,"
        " \"frequency_penalty\": 0.1, \"presence_penalty\": -0.2, \"repetition_penalty\": 1.1, \"seed\": 42,"
        " \"n\": 2, \"stream\": true, \"stream_options\": {\"include_usage\": true}, \"stop\": [\"\\n\", \"END\", "
        "\"\"],"
        " \"logprobs\": true, \"top_logprobs\": 3, \"logit_bias\": {\"7\": -100, \"12\": 2.5}, \"user\": \"u1\","
        " \"unknown_field\": {\"ignored\": [1, 2]}}";
    assert_int_equal(parse(API_CHAT, body, &r, &e), 0);
    assert_int_equal(r.n_messages, 4);
    assert_string_equal(r.messages[0].role, "system");
    assert_string_equal(r.messages[1].content, "hi there");
    assert_string_equal(r.messages[2].content, "");
    assert_string_equal(r.messages[3].role, "system");
    assert_int_equal(r.max_tokens, 9);
    assert_float_equal(r.sampler.temperature, 0.5, 1e-6);
    assert_float_equal(r.sampler.top_p, 0.9, 1e-6);
    assert_int_equal(r.sampler.top_k, 40);
    assert_float_equal(r.sampler.repetition_penalty, 1.1, 1e-6);
    assert_true(r.seed_given);
    assert_int_equal(r.sampler.seed, 42);
    assert_int_equal(r.n, 2);
    assert_true(r.stream && r.include_usage && r.logprobs);
    assert_int_equal(r.top_logprobs, 3);
    assert_int_equal(r.n_stops, 2); /* the empty string is dropped */
    assert_string_equal(r.stops[1], "END");
    assert_int_equal(r.n_bias, 2);
    assert_string_equal(r.user, "u1");
    api_request_free(&r);
}

static void test_defaults_and_clamping(void **state) {
    (void)state;
    ApiRequest r;
    ApiError e;
    assert_int_equal(parse(API_COMPLETION, "{\"prompt\": \"hi\"}", &r, &e), 0);
    assert_int_equal(r.max_tokens, 16); /* OpenAI's default for completions */
    assert_float_equal(r.sampler.temperature, 1.0, 0);
    assert_false(r.seed_given);
    assert_int_equal(r.n, 1);
    api_request_free(&r);
    /* Chat runs to the end of the context unless told; a huge max_tokens
     * is clamped to the context rather than refused. */
    assert_int_equal(
        parse(API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": null}", &r, &e), 0);
    assert_int_equal(r.max_tokens, -1);
    api_request_free(&r);
    assert_int_equal(parse(API_CHAT,
                           "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 1000000000000}",
                           &r, &e),
                     0);
    assert_int_equal(r.max_tokens, 128);
    api_request_free(&r);
}

static void test_prompt_forms(void **state) {
    (void)state;
    ApiRequest r;
    ApiError e;
    assert_int_equal(
        parse(API_COMPLETION, "{\"prompt\": [\"a\", \"b\", [1, 2, 3]], \"echo\": true, \"logprobs\": 2}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 3);
    assert_string_equal(r.prompts[1].text, "b");
    assert_int_equal(r.prompts[2].n_ids, 3);
    assert_true(r.echo && r.logprobs);
    assert_int_equal(r.top_logprobs, 2);
    api_request_free(&r);
    assert_int_equal(parse(API_COMPLETION, "{\"prompt\": [5, 6]}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_int_equal(r.prompts[0].ids[1], 6);
    api_request_free(&r);
}

static void test_wrong_types_and_ranges(void **state) {
    (void)state;
    const char *msg = "\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]";
    char body[512];
#define CHAT_BAD(extra, param)                           \
    snprintf(body, sizeof body, "{%s, %s}", msg, extra); \
    expect_bad(API_CHAT, body, param)
    CHAT_BAD("\"temperature\": \"hot\"", "temperature");
    CHAT_BAD("\"temperature\": 2.5", "temperature");
    CHAT_BAD("\"top_p\": -0.1", "top_p");
    CHAT_BAD("\"max_tokens\": 0", "max_tokens");
    CHAT_BAD("\"max_tokens\": 1.5", "max_tokens");
    CHAT_BAD("\"max_completion_tokens\": -3", "max_completion_tokens");
    CHAT_BAD("\"n\": 5", "n");
    CHAT_BAD("\"n\": 0", "n");
    CHAT_BAD("\"stream\": \"yes\"", "stream");
    CHAT_BAD("\"stop\": 7", "stop");
    CHAT_BAD("\"stop\": [\"a\", 1]", "stop");
    CHAT_BAD("\"seed\": 1.5", "seed");
    CHAT_BAD("\"logit_bias\": {\"400\": 1}", "logit_bias");
    CHAT_BAD("\"logit_bias\": {\"abc\": 1}", "logit_bias");
    CHAT_BAD("\"logit_bias\": {\"3\": 101}", "logit_bias");
    CHAT_BAD("\"top_logprobs\": 3", "top_logprobs");
    CHAT_BAD("\"logprobs\": true, \"top_logprobs\": 21", "top_logprobs");
    CHAT_BAD("\"frequency_penalty\": 3", "frequency_penalty");
    CHAT_BAD("\"model\": 5", "model");
    CHAT_BAD("\"stream_options\": []", "stream_options");
    expect_bad(API_CHAT, "{\"messages\": []}", "messages");
    expect_bad(API_CHAT, "{}", "messages");
    expect_bad(API_CHAT, "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", "messages");
    expect_bad(API_CHAT, "{\"messages\": [{\"content\": \"x\"}]}", "messages");
    expect_bad(API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
               "messages");
    expect_bad(API_COMPLETION, "{\"prompt\": 5}", "prompt");
    expect_bad(API_COMPLETION, "{\"prompt\": [1, 400]}", "prompt");
    expect_bad(API_COMPLETION, "{\"prompt\": []}", "prompt");
    expect_bad(API_COMPLETION, "{\"prompt\": \"x\", \"logprobs\": 6}", "logprobs");
    expect_bad(API_TOKENIZE, "{\"content\": 3}", "content");
    expect_bad(API_DETOKENIZE, "{\"tokens\": [1, -1]}", "tokens");
}

/* Bodies that are not JSON objects: a 400 with no param, never a crash. */
static void test_hostile_bodies(void **state) {
    (void)state;
    const char *bodies[] = {"",
                            "{",
                            "[]",
                            "null",
                            "\"x\"",
                            "{\"messages\": [",
                            "\xff\xfe{}",
                            "{\"prompt\": \"\xc3\x28\"}",
                            "{\"prompt\": \"\\u0000\"}",
                            "{\"a\":1}garbage"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) expect_bad(API_COMPLETION, bodies[i], NULL);
    /* Deep nesting is refused by the parser's depth limit, not the stack. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 32);
    size_t n = (size_t)sprintf(deep, "{\"prompt\": ");
    for (size_t i = 0; i < depth; i++) deep[n++] = '[';
    for (size_t i = 0; i < depth; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    expect_bad(API_COMPLETION, deep, NULL);
    free(deep);
}

static void test_error_json(void **state) {
    (void)state;
    ApiError e;
    api_error(&e, 400, "invalid_request_error", "temperature", NULL, "bad \"value\" %d", 3);
    char *s = api_error_json(&e);
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    json_t *err = json_object_get(o, "error");
    assert_string_equal(json_string_value(json_object_get(err, "message")), "bad \"value\" 3");
    assert_string_equal(json_string_value(json_object_get(err, "param")), "temperature");
    assert_true(json_is_null(json_object_get(err, "code")));
    json_decref(o);
    free(s);
}

/* Responses carry OpenAI's fields; invalid UTF-8 from the model becomes
 * U+FFFD so the JSON stays valid. */
static void test_response_shapes(void **state) {
    (void)state;
    ApiMeta m = {.kind = API_CHAT, .id = "chatcmpl-1", .created = 1700000000, .model = "tiny", .tok = NULL};
    ApiChoice c = {.index = 0, .text = "ok \xff!", .len = 5, .finish_reason = "stop"};
    ApiUsage u = {3, 2};
    char *s = api_response_json(&m, &c, 1, &u);
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "object")), "chat.completion");
    json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "message"), "content")),
                        "ok \xef\xbf\xbd!");
    assert_string_equal(json_string_value(json_object_get(ch, "finish_reason")), "stop");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "usage"), "total_tokens")), 5);
    json_decref(o);
    free(s);

    c = (ApiChoice){.index = 1, .text = "", .len = 0};
    s = api_chunk_json(&m, &c, true, true);
    o = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "object")), "chat.completion.chunk");
    ch = json_array_get(json_object_get(o, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "delta"), "role")), "assistant");
    assert_true(json_is_null(json_object_get(ch, "finish_reason")));
    assert_true(json_is_null(json_object_get(o, "usage")));
    assert_null(strchr(s, '\n'));
    json_decref(o);
    free(s);

    m.kind = API_COMPLETION;
    s = api_usage_chunk_json(&m, &u);
    o = json_loads(s, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "choices")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "usage"), "completion_tokens")), 2);
    json_decref(o);
    free(s);
}

static void test_sse_framing(void **state) {
    (void)state;
    Buf b = {0};
    sse_data(&b, "{\"a\":1}");
    sse_comment(&b, "ping");
    sse_data(&b, "two\nlines");
    sse_done(&b);
    buf_terminate(&b);
    assert_string_equal(b.data, "data: {\"a\":1}\n\n: ping\n\ndata: two\ndata: lines\n\ndata: [DONE]\n\n");
    buf_free(&b);
}

static void test_ids(void **state) {
    (void)state;
    char a[64], b[64];
    api_new_id(a, sizeof a, "chatcmpl-");
    api_new_id(b, sizeof b, "chatcmpl-");
    assert_int_equal(strlen(a), 9 + 24);
    assert_string_not_equal(a, b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_fields),
        cmocka_unit_test(test_defaults_and_clamping),
        cmocka_unit_test(test_prompt_forms),
        cmocka_unit_test(test_wrong_types_and_ranges),
        cmocka_unit_test(test_hostile_bodies),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_response_shapes),
        cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
