/* Masking for diffusion time steps: exact counts, seeded, eligible positions only. */
#include <math.h>
#include <string.h>

#include "aq/model.h"
#include "aq_check.h"

START_TEST(mask_counts_and_seed) {
    enum { L = 33, T = 8 };
    int32_t tok[L], a[L], b[L];
    uint8_t ma[L], mb[L];
    for (int i = 0; i < L; i++)
        tok[i] = 100 + i;
    for (int t = 0; t < T; t++) {
        int n = aq_mask_sequence(tok, L, t, T, 7, 3, 9, 1, a, ma);
        ck_assert_int_eq(n, (int)lround((t + 0.5) / T * (L - 1)));
        ck_assert_int_eq(ma[0], 0); /* with logits shift position 0 is never masked */
        ck_assert_int_eq(a[0], tok[0]);
        int cnt = 0;
        for (int i = 0; i < L; i++) {
            cnt += ma[i];
            ck_assert_int_eq(a[i], ma[i] ? 9 : tok[i]);
        }
        ck_assert_int_eq(cnt, n);
        aq_mask_sequence(tok, L, t, T, 7, 3, 9, 1, b, mb);
        ck_assert_mem_eq(a, b, sizeof a); /* same seed, same sequence index: same mask */
    }
    aq_mask_sequence(tok, L, 4, T, 7, 4, 9, 0, b, mb);
    aq_mask_sequence(tok, L, 4, T, 7, 3, 9, 0, a, ma);
    ck_assert_int_ne(memcmp(ma, mb, L), 0); /* another sequence index: another draw */
    ck_assert_double_eq(aq_mask_ratio(0, 4), 0.125);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("model_mask");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, mask_counts_and_seed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
