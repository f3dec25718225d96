/*
 * The AVX2 and AVX-512 twins of the ggml legacy encoders (include/aq/ggml_legacy.h) against
 * the scalar reference: byte-identical blocks for every format, with and without importance,
 * on Gaussian, heavy-tailed (the project's Student-t recipe with outliers), wide-range,
 * tiny/denormal, constant and partly-zero data.  A twin the CPU lacks is skipped with its
 * reason printed; when the CPU has neither, the test exits 77 (CTest: skipped).
 * The candidate evaluators themselves (legacy_impl.h) are compared too, bit for bit on every
 * returned (d, m, err), since a small deviation in err changes the bytes only on near-ties.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/quant/ggml/legacy_impl.h"
#include "aq/ggml_legacy.h"
#include "aq/synth.h"
#include "aq_check.h"

#define QK AQ_GGML_LEGACY_QK
#define ROWS 48
#define COLS 1024

static float g_x[ROWS * COLS], g_h[ROWS * COLS];

/* Row i of the test data: kinds cycle through the cases named above. */
static void make_data(void) {
    aq_rng r;
    aq_rng_seed(&r, 99);
    aq_synth_weights_f32(99, "simd.heavy", g_x, ROWS * COLS, 0.02f);
    for (int i = 0; i < ROWS; ++i) {
        float *x = g_x + i * COLS;
        switch (i % 6) {
        case 0: /* Gaussian */
            for (int j = 0; j < COLS; ++j)
                x[j] = (float)aq_rng_normal(&r);
            break;
        case 1: /* heavy-tailed: the synth recipe as generated */
            break;
        case 2: /* wide dynamic range across blocks, incl. beyond fp16 */
            for (int j = 0; j < COLS; ++j)
                x[j] = (float)(aq_rng_normal(&r) * pow(10.0, (j / QK) % 16 - 10));
            break;
        case 3: /* tiny: fp16-subnormal scales and float denormals */
            for (int j = 0; j < COLS; ++j)
                x[j] = (float)aq_rng_normal(&r) * ((j / QK) % 2 ? 1e-6f : 1e-39f);
            break;
        case 4: /* constant blocks and blocks with a few distinct values */
            for (int j = 0; j < COLS; ++j)
                x[j] = (j / QK) % 2 ? 0.25f * (float)((j / QK) % 7 - 3) : (float)(j % 3) * 0.1f;
            break;
        default: /* heavy-tailed with half of the values zeroed */
            for (int j = 0; j < COLS; ++j)
                if (j % 2) x[j] = 0.0f;
            break;
        }
    }
    for (int j = 0; j < ROWS * COLS; ++j) /* log-normal importance, some exact zeros */
        g_h[j] = (j / QK) % 9 == 4 ? 0.0f : (float)exp(1.5 * aq_rng_normal(&r));
}

static int check_twin(int simd, const char *isa) {
    if (!aq_ggml_legacy_isa_supported(simd)) {
        printf("test_quant_ggml_simd: %s not supported by this CPU, skipped\n", isa);
        return 0;
    }
    const size_t max_row = (COLS / QK) * AQ_GGML_Q8_0_BYTES;
    unsigned char *a = malloc(max_row), *b = malloc(max_row);
    ck_assert(a && b);
    for (int f = 0; f < AQ_GGML_LEGACY_COUNT; ++f) {
        const aq_ggml_legacy_info *fi = aq_ggml_legacy_get((aq_ggml_legacy_fmt)f);
        const aq_ggml_quantize_row_fn twin = simd == 2 ? fi->quantize_avx2 : fi->quantize_avx512;
        const size_t rb = aq_ggml_legacy_row_bytes((aq_ggml_legacy_fmt)f, COLS);
        for (int i = 0; i < ROWS; ++i) {
            for (int use_h = 0; use_h < 2; ++use_h) {
                const float *x = g_x + i * COLS, *h = use_h ? g_h + i * COLS : NULL;
                memset(a, 0, rb);
                memset(b, 0xff, rb);
                ck_assert_int_eq(fi->quantize_ref(x, h, COLS, a), 0);
                ck_assert_int_eq(twin(x, h, COLS, b), 0);
                for (size_t k = 0; k < rb; ++k)
                    ck_assert_msg(a[k] == b[k], "%s %s row %d h=%d: byte %zu (block %zu) differs",
                                  isa, fi->name, i, use_h, k, k / (size_t)fi->block_bytes);
            }
        }
    }
    free(a);
    free(b);
    return 1;
}

/* Random blocks and candidate sets, including degenerate ones (is = 0, negative, huge; lo
 * outside the data), through the evaluators with every candidate count 1..48. */
static void check_kernels(int simd, const char *isa) {
    if (!aq_ggml_legacy_isa_supported(simd)) return;
    const lg_kernels *k = simd == 2 ? &lg_kernels_avx2 : &lg_kernels_avx512;
    aq_rng r;
    aq_rng_seed(&r, 1234);
    for (int it = 0; it < 400; ++it) {
        lg_block b;
        const float *x = g_x + (size_t)(it % (ROWS * COLS / QK)) * QK;
        memcpy(b.x, x, sizeof b.x);
        b.sw = b.sx = 0.0f;
        for (int j = 0; j < QK; ++j) {
            b.w[j] = it % 3 ? g_h[(size_t)it * QK % (ROWS * COLS) + j] : 1.0f;
            b.sw = b.sw + b.w[j];
            b.sx = b.sx + b.w[j] * b.x[j];
        }
        float amax = 0.0f;
        for (int j = 0; j < QK; ++j)
            amax = fmaxf(amax, fabsf(b.x[j]));
        float is[48], lo[48];
        for (int c = 0; c < 48; ++c) {
            const double u = aq_rng_uniform(&r);
            is[c] = (float)((u * 40.0 - 8.0) / (amax > 0 ? amax : 1.0));
            lo[c] = (float)(aq_rng_normal(&r) * amax);
        }
        is[3] = 0.0f, is[7] = 1e30f, lo[9] = 1e30f;
        const int nc = 1 + it % 48;
        lg_fit fr[48], ft[48];
        lg_eval_sym_ref(&b, -8.0f, 7.0f, is, nc, fr);
        k->sym(&b, -8.0f, 7.0f, is, nc, ft);
        ck_assert_msg(!memcmp(fr, ft, (size_t)nc * sizeof *fr), "%s sym kernel, case %d", isa, it);
        lg_eval_asym_ref(&b, 31.0f, lo, is, nc, fr);
        k->asym(&b, 31.0f, lo, is, nc, ft);
        ck_assert_msg(!memcmp(fr, ft, (size_t)nc * sizeof *fr), "%s asym kernel, case %d", isa, it);
    }
}

START_TEST(avx2_bit_identical) {
    check_kernels(2, "AVX2+F16C");
    check_twin(2, "AVX2+F16C");
}
END_TEST

START_TEST(avx512_bit_identical) {
    check_kernels(3, "AVX-512");
    check_twin(3, "AVX-512");
}
END_TEST

int main(void) {
    if (!aq_ggml_legacy_isa_supported(2) && !aq_ggml_legacy_isa_supported(3)) {
        printf("test_quant_ggml_simd: neither AVX2+F16C nor AVX-512 on this CPU: skipped\n");
        return 77;
    }
    make_data();
    Suite *s = suite_create("quant_ggml_simd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, avx2_bit_identical);
    tcase_add_test(tc, avx512_bit_identical);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
