/* BPE encoding of tokenizer.json against the corpus: the stories of ../shared/corpus are
 * samples of the 656K model, so their ids are not always the canonical BPE split of their text
 * (a model may emit "sp" "e" "ed" where BPE merges "spe" "ed"); what must hold is that the
 * encoding decodes back to the text, and that it agrees with the sampled ids where the model
 * chose the canonical pieces -- every story's first 8 tokens, checked here.  Exit 77 when
 * the tokenizer or the corpus is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/model.h"
#include "aq_check.h"

static char tok_path[1024], txt_path[1024], ids_path[1024];

static void set_paths(void) {
    const char *shared = getenv("AQ_SHARED");
    if (!shared) shared = "/work/shared";
    snprintf(tok_path, sizeof tok_path, "%s/models/tinystories-dream-4m/tokenizer.json", shared);
    snprintf(txt_path, sizeof txt_path, "%s/corpus/val.txt", shared);
    snprintf(ids_path, sizeof ids_path, "%s/corpus/val.ids.txt", shared);
}

START_TEST(encode_matches_corpus) {
    enum { STORIES = 200, L = 128 };
    aq_tokenizer *tk = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_tokenizer_open(tok_path, &tk, &e) == AQ_OK, "%s", e.msg);
    int32_t *ids = malloc((size_t)STORIES * L * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    ck_assert_msg(aq_tokens_read(ids_path, STORIES, L, 2049, ids, &e) == AQ_OK, "%s", e.msg);
    FILE *f = fopen(txt_path, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    int32_t enc[4096];
    long compared = 0, agree = 0;
    for (int s = 0; s < STORIES && getline(&line, &cap, f) > 0; s++) {
        line[strcspn(line, "\n")] = '\0';
        int n = aq_tokenizer_encode(tk, line, enc, 4096);
        ck_assert_int_gt(n, 0);
        const int32_t *w = ids + (int64_t)s * L;
        ck_assert_int_eq(w[0], 1); /* windows start at BOS; the text does not */
        /* The window runs on into the next story when this one is shorter. */
        for (int i = 0; i < 8; i++, compared++)
            agree += enc[i] == w[i + 1];
        char *back = malloc(strlen(line) + 64);
        ck_assert_ptr_nonnull(back);
        aq_tokenizer_decode(tk, enc, n, 1, back, strlen(line) + 64);
        ck_assert_str_eq(back, line); /* specials kept: "<|end_story|>" is in the text */
        free(back);
    }
    printf("first 8 tokens: %ld of %ld agree with the sampled ids\n", agree, compared);
    ck_assert_int_eq(compared, STORIES * 8);
    ck_assert_msg(agree >= compared * 95 / 100, "%ld of %ld", agree, compared);
    free(line);
    fclose(f);
    free(ids);
    aq_tokenizer_close(tk);
}
END_TEST

START_TEST(round_trip_and_fallback) {
    aq_tokenizer *tk = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_tokenizer_open(tok_path, &tk, &e) == AQ_OK, "%s", e.msg);
    const char *texts[] = {"Once upon a time, there was a little girl named Lily.",
                           "Tom said, \"Let's play!\"  Two  spaces."};
    int32_t enc[256];
    char back[1024];
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int n = aq_tokenizer_encode(tk, texts[k], enc, 256);
        ck_assert_int_gt(n, 0);
        ck_assert_int_le(n, 256);
        aq_tokenizer_decode(tk, enc, n, 0, back, sizeof back);
        ck_assert_str_eq(back, texts[k]);
    }
    /* This vocabulary has no byte pieces: a character outside it is <unk> (id 0). */
    ck_assert_int_eq(aq_tokenizer_encode(tk, "\xE2\x98\x83", enc, 256), 1);
    ck_assert_int_eq(enc[0], 0);
    /* A special token inside the text is its id, not characters. */
    int n = aq_tokenizer_encode(tk, "<|start_story|>Once", enc, 256);
    ck_assert_int_ge(n, 2);
    ck_assert_int_eq(enc[0], 1);
    /* A short buffer gets the first ids, the return value says how many are needed. */
    int32_t few[2];
    ck_assert_int_gt(aq_tokenizer_encode(tk, texts[0], few, 2), 2);
    aq_tokenizer_close(tk);
}
END_TEST

int main(void) {
    set_paths();
    if (access(tok_path, R_OK) || access(txt_path, R_OK) || access(ids_path, R_OK)) {
        printf("SKIP: %s or the corpus (%s) is missing\n", tok_path, txt_path);
        return 77;
    }
    Suite *s = suite_create("model_tokenizer");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, encode_matches_corpus);
    tcase_add_test(tc, round_trip_and_fallback);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
