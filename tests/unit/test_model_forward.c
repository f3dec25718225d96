/* Forward pass of the Llama family: layer identities and the real TinyStories model
 * end to end (greedy from BOS must tell the story of Lily). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq_check.h"

/* The real model's directory (main() checks it is there before running its cases). */
static char model_dir[1024];

static const char *real_model(void) {
    return model_dir;
}

START_TEST(rmsnorm_unit_rms) {
    float x[4] = {1, -2, 3, -4}, w[4] = {1, 1, 1, 2};
    aq_rmsnorm(x, 1, 4, w, 0.0);
    double rms = sqrt((1 + 4 + 9 + 16) / 4.0);
    ck_assert_double_eq_tol(x[0], 1 / rms, 1e-6);
    ck_assert_double_eq_tol(x[3], -8 / rms, 1e-6);
}
END_TEST

/* Rotate-half pairs (i, i + d/2); position 0 is the identity; the norm of each pair stays. */
START_TEST(rope_rotate_half) {
    float x[2 * 4] = {1, 2, 3, 4, 1, 2, 3, 4};
    aq_rope(x, 2, 1, 4, 10000.0);
    ck_assert_float_eq(x[0], 1);
    ck_assert_float_eq(x[2], 3);
    /* pos 1, i = 0: angle 1 rad on the pair (x0, x2) = (1, 3) */
    ck_assert_double_eq_tol(x[4], cos(1.0) - 3 * sin(1.0), 1e-6);
    ck_assert_double_eq_tol(x[6], 3 * cos(1.0) + sin(1.0), 1e-6);
    /* i = 1: angle 1 * 10000^(-1/2) = 0.01 on (x1, x3) = (2, 4) */
    ck_assert_double_eq_tol(x[5], 2 * cos(0.01) - 4 * sin(0.01), 1e-6);
}
END_TEST

START_TEST(linear_with_bias) {
    float x[2] = {1, 2}, W[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0.5f, 0, -1}, y[3];
    aq_linear_fwd(x, 1, 2, W, b, 3, y);
    ck_assert_float_eq(y[0], 1.5f);
    ck_assert_float_eq(y[1], 2);
    ck_assert_float_eq(y[2], 2);
}
END_TEST

START_TEST(config_of_tinystories) {
    aq_checkpoint *m = NULL;
    aq_err e = {0};
    ck_assert_int_eq(aq_checkpoint_open(real_model(), &m, &e), AQ_OK);
    aq_llm_config c;
    ck_assert_msg(aq_llm_config_parse(aq_checkpoint_config_json(m), "ts", &c, &e) == AQ_OK, "%s",
                  e.msg);
    ck_assert_int_eq(c.hidden, 128);
    ck_assert_int_eq(c.n_kv_heads, 4);
    ck_assert_int_eq(c.head_dim, 16);
    ck_assert_int_eq(c.causal, 1);
    ck_assert_int_eq(c.logits_shift, 1);
    ck_assert_int_eq(c.bos, 1);
    ck_assert_int_eq(c.mask_token, -1);
    ck_assert_int_eq(aq_llm_config_parse("{\"hidden_size\": 8}", "x", &c, &e), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "num_hidden_layers"));
    aq_checkpoint_close(m);
}
END_TEST

static int argmax(const float *v, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int)b;
}

START_TEST(greedy_story_of_lily) {
    aq_checkpoint *m = NULL;
    aq_err e = {0};
    ck_assert_int_eq(aq_checkpoint_open(real_model(), &m, &e), AQ_OK);
    aq_llm_config c;
    ck_assert_int_eq(aq_llm_config_parse(aq_checkpoint_config_json(m), "ts", &c, &e), AQ_OK);
    aq_llm_source src = aq_llm_source_safetensors(m);
    aq_llm llm;
    ck_assert_msg(aq_llm_load(&c, &src, 0, (int)c.n_layers, 1, 1, &llm, &e) == AQ_OK, "%s", e.msg);
    enum { N = 48 };
    int32_t tok[N] = {1};
    float *logits = malloc((size_t)N * (size_t)c.vocab * sizeof *logits);
    for (int i = 1; i < N; i++) {
        ck_assert_int_eq(aq_llm_forward(&llm, tok, i, logits, NULL, &e), AQ_OK);
        tok[i] = argmax(logits + (int64_t)(i - 1) * c.vocab, c.vocab);
    }
    char tkpath[1100], text[4096];
    snprintf(tkpath, sizeof tkpath, "%s/tokenizer.json", real_model());
    aq_tokenizer *tk = NULL;
    ck_assert_msg(aq_tokenizer_open(tkpath, &tk, &e) == AQ_OK, "%s", e.msg);
    aq_tokenizer_decode(tk, tok, N, 0, text, sizeof text);
    printf("greedy from BOS: %s\n", text);
    ck_assert_msg(strncmp(text, "Once upon a time, there was a little girl named Lily.", 53) == 0,
                  "got: %s", text);
    aq_tokenizer_close(tk);
    free(logits);
    aq_llm_free(&llm);
    aq_checkpoint_close(m);
}
END_TEST

/* Without an argument the layer identities; "real_model" (its own CTest test) the real
 * model, skipped (77) when it is not there. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "real_model") != 0)
        return aq_check_unknown_case("test_model_forward", argv[1]);
    if (argc > 1 && !aq_check_real_model(model_dir, sizeof model_dir))
        return aq_check_skip("test_model_forward real_model", "the real model is missing");
    Suite *s = suite_create("model_forward");
    TCase *tc = tcase_create(argc > 1 ? "real_model" : "core");
    if (argc > 1) {
        tcase_add_test(tc, config_of_tinystories);
        tcase_add_test(tc, greedy_story_of_lily);
    } else {
        tcase_add_test(tc, rmsnorm_unit_rms);
        tcase_add_test(tc, rope_rotate_half);
        tcase_add_test(tc, linear_with_bias);
    }
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
