/*
 * Unit tests of ggml's k-quant encoders and decoders (include/aq/ggml_kquants.h): round-trip
 * error bounds on Student-t weights, block fields decoded by hand (an independent reading
 * of the layout), zero / constant / outlier / negative-only super-blocks, rows whose length
 * is not a multiple of 256 (only the full super-blocks are touched), importance lowering the
 * weighted error, and determinism.  The ISA twins are compared in
 * test_quant_ggml_kquants_simd.c; gguf-py decodes our blocks in
 * tests/integration/kquant_decode_check.py.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/ggml_kquants.h"
#include "aq/synth.h"

typedef void (*quant_fn)(const float *, const float *, int64_t, void *);
typedef void (*dequant_fn)(const void *, int64_t, float *);

typedef struct {
    const char *name;
    quant_fn q;
    dequant_fn dq;
    int bytes;
    double max_rel_mse; /* bound on Student-t nu = 5 weights (measured ~0.6-0.9x of it) */
} kq_fmt;

static const kq_fmt k_fmts[] = {
    {"q2_k", aq_ggml_quantize_row_q2_k_ref, aq_ggml_dequantize_row_q2_k, AQ_GGML_Q2_K_BYTES, 0.10},
    {"q3_k", aq_ggml_quantize_row_q3_k_ref, aq_ggml_dequantize_row_q3_k, AQ_GGML_Q3_K_BYTES, 0.035},
    {"q4_k", aq_ggml_quantize_row_q4_k_ref, aq_ggml_dequantize_row_q4_k, AQ_GGML_Q4_K_BYTES, 0.008},
    {"q5_k", aq_ggml_quantize_row_q5_k_ref, aq_ggml_dequantize_row_q5_k, AQ_GGML_Q5_K_BYTES,
     0.0022},
    {"q6_k", aq_ggml_quantize_row_q6_k_ref, aq_ggml_dequantize_row_q6_k, AQ_GGML_Q6_K_BYTES,
     0.0006},
};
#define N_FMTS ((int)(sizeof k_fmts / sizeof k_fmts[0]))

static float *tdist(int64_t n, uint64_t seed, float std) {
    float *x = malloc((size_t)n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    aq_synth_weights_f32(seed, "kquant", x, (size_t)n, std);
    return x;
}

/* Heavy-tailed importance h_j = E[a_j^2] (squared Student-t times a log-normal spread). */
static float *importance(int64_t n, uint64_t seed) {
    float *h = tdist(n, seed, 1.0f);
    aq_rng r;
    aq_rng_seed(&r, seed + 1);
    for (int64_t j = 0; j < n; ++j)
        h[j] = h[j] * h[j] * (float)exp(aq_rng_normal(&r)) + 1e-3f;
    return h;
}

static double wrel(const float *x, const float *y, const float *h, int64_t n) {
    double e = 0.0, w = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double hj = h ? h[j] : 1.0, d = (double)x[j] - y[j];
        e += hj * d * d;
        w += hj * (double)x[j] * x[j];
    }
    return w > 0.0 ? e / w : e;
}

static uint8_t *blocks_for(const kq_fmt *f, int64_t n) {
    const size_t b = (size_t)(n / 256) * (size_t)f->bytes;
    uint8_t *p = malloc(b + 16);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xA5, b + 16);
    return p;
}

/* Round trip within the bound; every byte written (guard intact, no 0xA5 pattern left where
 * a field must be deterministic is not checkable, so the output is compared across two
 * differently pre-filled buffers). */
START_TEST(test_round_trip) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t n = 256 * 32;
    float *x = tdist(n, 11, 0.02f), *y = malloc((size_t)n * sizeof *y);
    uint8_t *a = blocks_for(f, n), *b = blocks_for(f, n);
    const size_t B = (size_t)(n / 256) * (size_t)f->bytes;
    memset(b, 0x5A, B);
    f->q(x, NULL, n, a);
    f->q(x, NULL, n, b);
    ck_assert_msg(memcmp(a, b, B) == 0, "%s: output depends on the buffer's prior content",
                  f->name);
    ck_assert_uint_eq(a[B], 0xA5);
    f->dq(a, n, y);
    const double r = wrel(x, y, NULL, n);
    ck_assert_msg(r < f->max_rel_mse, "%s: rel mse %g >= %g", f->name, r, f->max_rel_mse);
    ck_assert_msg(r > 0.0, "%s: lossless on random data is impossible", f->name);
    free(x);
    free(y);
    free(a);
    free(b);
}
END_TEST

/* Independent reading of the Q4_K and Q2_K fields: decode by hand from the bytes. */
static float f16_at(const uint8_t *p) {
    return aq_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

START_TEST(test_q4_k_fields) {
    const int64_t n = 256;
    float *x = tdist(n, 5, 1.0f), y[256];
    uint8_t b[AQ_GGML_Q4_K_BYTES];
    aq_ggml_quantize_row_q4_k_ref(x, NULL, n, b);
    aq_ggml_dequantize_row_q4_k(b, n, y);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    for (int e = 0; e < 256; ++e) {
        const int g = e / 32;
        int sc, m; /* 6-bit codes: low groups in the low 6 bits, high groups split */
        if (g < 4) {
            sc = b[4 + g] & 63;
            m = b[8 + g] & 63;
        } else {
            sc = (b[8 + g] & 15) + 16 * (b[4 + g - 4] >> 6);
            m = (b[8 + g] >> 4) + 16 * (b[4 + g] >> 6);
        }
        const int q = (b[16 + 32 * (e / 64) + e % 32] >> (4 * (g % 2))) & 15;
        ck_assert_float_eq(y[e], (d * (float)sc) * (float)q - dmin * (float)m);
    }
    free(x);
}
END_TEST

START_TEST(test_q2_k_fields) {
    const int64_t n = 256;
    float *x = tdist(n, 6, 1.0f), y[256];
    uint8_t b[AQ_GGML_Q2_K_BYTES];
    aq_ggml_quantize_row_q2_k_ref(x, NULL, n, b);
    aq_ggml_dequantize_row_q2_k(b, n, y);
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    for (int e = 0; e < 256; ++e) {
        const int g = e / 16;
        const int q = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
        ck_assert_float_eq(y[e], (d * (float)(b[g] & 15)) * (float)q - dmin * (float)(b[g] >> 4));
    }
    free(x);
}
END_TEST

/* Zero block decodes to exact zeros; constant block close; negative-only and outlier blocks
 * within bounds; the outlier itself kept to within 5 % (every format can place it on a
 * code end). */
START_TEST(test_special_blocks) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t n = 256 * 4;
    float *x = tdist(n, 21, 0.02f), *y = malloc((size_t)n * sizeof *y);
    for (int j = 0; j < 256; ++j) {
        x[j] = 0.0f;                     /* block 0: zero */
        x[256 + j] = 0.0123f;            /* block 1: constant */
        x[512 + j] = -fabsf(x[512 + j]); /* block 2: negative only */
    }
    x[768 + 77] = 2.0f; /* block 3: an outlier 100 std away */
    uint8_t *b = blocks_for(f, n);
    f->q(x, NULL, n, b);
    f->dq(b, n, y);
    for (int j = 0; j < 256; ++j)
        ck_assert_msg(y[j] == 0.0f, "%s: zero block decodes to %g at %d", f->name, (double)y[j], j);
    ck_assert_msg(wrel(x + 256, y + 256, NULL, 256) < 1e-4, "%s: constant block rel err %g",
                  f->name, wrel(x + 256, y + 256, NULL, 256));
    ck_assert_msg(wrel(x + 512, y + 512, NULL, 256) < 4 * f->max_rel_mse,
                  "%s: negative-only block rel err %g", f->name, wrel(x + 512, y + 512, NULL, 256));
    ck_assert_msg(fabsf(y[768 + 77] - 2.0f) < 0.1f, "%s: outlier 2.0 decodes to %g", f->name,
                  (double)y[768 + 77]);
    for (int j = 0; j < n; ++j)
        ck_assert(isfinite(y[j]));
    free(x);
    free(y);
    free(b);
}
END_TEST

/* n % 256 != 0: only floor(n / 256) blocks are written, the tail of y is untouched. */
START_TEST(test_partial_row) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t n = 256 * 2 + 100;
    float *x = tdist(n, 31, 0.02f), *y = malloc((size_t)n * sizeof *y);
    uint8_t *b = blocks_for(f, 256 * 3);
    f->q(x, NULL, n, b);
    for (int i = 0; i < f->bytes; ++i)
        ck_assert_uint_eq(b[2 * f->bytes + i], 0xA5);
    for (int64_t j = 0; j < n; ++j)
        y[j] = -7.0f;
    f->dq(b, n, y);
    for (int64_t j = 512; j < n; ++j)
        ck_assert(y[j] == -7.0f);
    ck_assert(wrel(x, y, NULL, 512) < f->max_rel_mse);
    free(x);
    free(y);
    free(b);
}
END_TEST

/* Encoding with the importance lowers the importance-weighted error against encoding
 * without it, and the weights decide: the most important element is reproduced better. */
START_TEST(test_importance) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t n = 256 * 32;
    float *x = tdist(n, 41, 0.02f), *h = importance(n, 42);
    float *y0 = malloc((size_t)n * sizeof *y0), *y1 = malloc((size_t)n * sizeof *y1);
    uint8_t *b = blocks_for(f, n);
    f->q(x, NULL, n, b);
    f->dq(b, n, y0);
    f->q(x, h, n, b);
    f->dq(b, n, y1);
    const double e0 = wrel(x, y0, h, n), e1 = wrel(x, y1, h, n);
    ck_assert_msg(e1 < 0.9 * e0, "%s: weighted err with h %g, without %g", f->name, e1, e0);
    free(x);
    free(h);
    free(y0);
    free(y1);
    free(b);
}
END_TEST

/* Scaled input: the search is scale-covariant up to fp16 rounding, so the relative error
 * stays in range for small and large weights alike.  (Below std ~1e-3 Q6_K's d = s / 128
 * becomes an fp16 subnormal and loses precision: a limit of the format, ggml's too.) */
START_TEST(test_scales) {
    const kq_fmt *f = &k_fmts[_i];
    const int64_t n = 256 * 8;
    const float stds[] = {0.01f, 1.0f, 300.0f};
    for (int s = 0; s < 3; ++s) {
        float *x = tdist(n, 51, stds[s]), *y = malloc((size_t)n * sizeof *y);
        uint8_t *b = blocks_for(f, n);
        f->q(x, NULL, n, b);
        f->dq(b, n, y);
        const double r = wrel(x, y, NULL, n);
        ck_assert_msg(r < 1.3 * f->max_rel_mse, "%s std %g: rel mse %g", f->name, (double)stds[s],
                      r);
        free(x);
        free(y);
        free(b);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("quant_ggml_kquants");
    TCase *t = tcase_create("kquants");
    tcase_add_loop_test(t, test_round_trip, 0, N_FMTS);
    tcase_add_test(t, test_q4_k_fields);
    tcase_add_test(t, test_q2_k_fields);
    tcase_add_loop_test(t, test_special_blocks, 0, N_FMTS);
    tcase_add_loop_test(t, test_partial_row, 0, N_FMTS);
    tcase_add_loop_test(t, test_importance, 0, N_FMTS);
    tcase_add_loop_test(t, test_scales, 0, N_FMTS);
    suite_add_tcase(s, t);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
