/*
 * The AVX2 and AVX-512 encoders of ggml's k-quants (include/aq/ggml_kquants.h) give the
 * reference's blocks byte for byte: Student-t rows with and without importance, zero,
 * constant, tiny and huge super-blocks, several row lengths.  Exits 77 (skipped) with the
 * reason when the CPU has neither ISA; an ISA the CPU lacks is reported and left out.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/ggml_kquants.h"
#include "aq/synth.h"

typedef void (*quant_fn)(const float *, const float *, int64_t, void *);

typedef struct {
    const char *name;
    quant_fn q[3];
    int bytes;
} kq_fmt;

static const kq_fmt k_fmts[] = {
    {"q2_k",
     {aq_ggml_quantize_row_q2_k_ref, aq_ggml_quantize_row_q2_k_avx2,
      aq_ggml_quantize_row_q2_k_avx512},
     AQ_GGML_Q2_K_BYTES},
    {"q3_k",
     {aq_ggml_quantize_row_q3_k_ref, aq_ggml_quantize_row_q3_k_avx2,
      aq_ggml_quantize_row_q3_k_avx512},
     AQ_GGML_Q3_K_BYTES},
    {"q4_k",
     {aq_ggml_quantize_row_q4_k_ref, aq_ggml_quantize_row_q4_k_avx2,
      aq_ggml_quantize_row_q4_k_avx512},
     AQ_GGML_Q4_K_BYTES},
    {"q5_k",
     {aq_ggml_quantize_row_q5_k_ref, aq_ggml_quantize_row_q5_k_avx2,
      aq_ggml_quantize_row_q5_k_avx512},
     AQ_GGML_Q5_K_BYTES},
    {"q6_k",
     {aq_ggml_quantize_row_q6_k_ref, aq_ggml_quantize_row_q6_k_avx2,
      aq_ggml_quantize_row_q6_k_avx512},
     AQ_GGML_Q6_K_BYTES},
};
#define N_FMTS ((int)(sizeof k_fmts / sizeof k_fmts[0]))

static const char *const k_isa[3] = {"ref", "AVX2", "AVX-512"};

/* Rows of a case: c 0 plain t5, 1 with special super-blocks, 2 tiny, 3 huge. */
static void fill(int c, float *x, int64_t n) {
    const float std[4] = {0.02f, 0.02f, 1e-5f, 500.0f};
    aq_synth_weights_f32(100 + (uint64_t)c, "kq_simd", x, (size_t)n, std[c]);
    if (c == 1 && n >= 1024)
        for (int j = 0; j < 256; ++j) {
            x[j] = 0.0f;
            x[256 + j] = 0.5f;
            x[512 + j] = -fabsf(x[512 + j]);
            x[768 + j] = j == 3 ? 9.0f : x[768 + j];
        }
}

START_TEST(test_twins_bit_identical) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t lens[3] = {256, 1024, 256 * 21};
    int compared = 0;
    for (int c = 0; c < 4; ++c)
        for (int li = 0; li < 3; ++li)
            for (int imp = 0; imp < 2; ++imp) {
                const int64_t n = lens[li];
                float *x = malloc((size_t)n * sizeof *x), *h = malloc((size_t)n * sizeof *h);
                const size_t B = (size_t)(n / 256) * (size_t)f->bytes;
                uint8_t *ref = malloc(B), *tw = malloc(B);
                ck_assert(x && h && ref && tw);
                fill(c, x, n);
                aq_synth_weights_f32(7, "kq_simd_h", h, (size_t)n, 1.0f);
                for (int64_t j = 0; j < n; ++j)
                    h[j] = h[j] * h[j] + 1e-3f;
                f->q[0](x, imp ? h : NULL, n, ref);
                for (int isa = 1; isa < 3; ++isa) {
                    if (!aq_ggml_kquant_isa(isa + 1)) continue;
                    memset(tw, 0x5A, B);
                    f->q[isa](x, imp ? h : NULL, n, tw);
                    size_t first = B;
                    for (size_t i = 0; i < B && first == B; ++i)
                        if (ref[i] != tw[i]) first = i;
                    ck_assert_msg(
                        first == B, "%s %s case %d n %lld imp %d: byte %zu differs (ref %u, %u)",
                        f->name, k_isa[isa], c, (long long)n, imp, first, ref[first], tw[first]);
                    ++compared;
                }
                free(x);
                free(h);
                free(ref);
                free(tw);
            }
    ck_assert_int_gt(compared, 0);
}
END_TEST

int main(void) {
    const int a2 = aq_ggml_kquant_isa(2), a5 = aq_ggml_kquant_isa(3);
    if (!a2 && !a5) {
        printf("SKIP: this CPU has neither AVX2+FMA nor AVX-512 (F/BW/DQ/VL + F16C): no twin to "
               "compare\n");
        return 77;
    }
    if (!a2) printf("note: no AVX2 on this CPU, AVX2 twins not compared\n");
    if (!a5) printf("note: no AVX-512 on this CPU, AVX-512 twins not compared\n");
    Suite *s = suite_create("quant_ggml_kquants_simd");
    TCase *t = tcase_create("twins");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, test_twins_bit_identical, 0, N_FMTS);
    suite_add_tcase(s, t);
    return aq_check_run(s);
}
