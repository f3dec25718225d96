/*
 * Unit test of the error weights of the ggml-format encoders (docs/FORMAT.md "Error
 * weights", src/quant/ggml/ggml_weights.h).  With u_j = x_j^2 / ms (ms the mean square of
 * the region: a legacy block of 32, a k-quant super-block of 256) the encoders minimise
 * sum_j W_j (x_j - y_j)^2 with W_j = h_j sqrt(1 + u_j) (k-quants) or h_j (legacy formats)
 * given an importance h, and W_j = sqrt(1 + u_j) without one.  Checked through the public
 * encoders only: for h and a competing h2 (h / sqrt(1 + u), whose k-quant weights are h
 * alone; 1 / sqrt(1 + u) against NULL, whose k-quant weights are 1), encoding with h must
 * give the lower error in W(h) and encoding with h2 the lower one in W(h2), pooled over many
 * regions, for every format.  Were the weights another formula (h alone for the k-quants, the
 * k-quant formula for the legacy formats, 1 without h), an inequality would flip.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>

#include "aq/ggml_kquants.h"
#include "aq/ggml_legacy.h"
#include "aq/synth.h"

enum { NREG = 128 }; /* regions per format */

typedef struct {
    const char *name;
    int region; /* weights per region: 32 or 256 */
    int legacy; /* index into aq_ggml_legacy_get(), or -1 */
    void (*kq)(const float *, const float *, int64_t, void *);
    void (*kdq)(const void *, int64_t, float *);
} wfmt;

/* Q8_0 is left out: at 255 levels the formulas pick nearly the same scales and the pooled
 * difference is below the search's own slack (measured: 0.05% the wrong way round). */
static const wfmt k_fmts[] = {
    {"q4_0", 32, AQ_GGML_LEGACY_Q4_0, NULL, NULL},
    {"q4_1", 32, AQ_GGML_LEGACY_Q4_1, NULL, NULL},
    {"q5_0", 32, AQ_GGML_LEGACY_Q5_0, NULL, NULL},
    {"q5_1", 32, AQ_GGML_LEGACY_Q5_1, NULL, NULL},
    {"q2_k", 256, -1, aq_ggml_quantize_row_q2_k_ref, aq_ggml_dequantize_row_q2_k},
    {"q3_k", 256, -1, aq_ggml_quantize_row_q3_k_ref, aq_ggml_dequantize_row_q3_k},
    {"q4_k", 256, -1, aq_ggml_quantize_row_q4_k_ref, aq_ggml_dequantize_row_q4_k},
    {"q5_k", 256, -1, aq_ggml_quantize_row_q5_k_ref, aq_ggml_dequantize_row_q5_k},
    {"q6_k", 256, -1, aq_ggml_quantize_row_q6_k_ref, aq_ggml_dequantize_row_q6_k},
};
#define NF ((int)(sizeof k_fmts / sizeof k_fmts[0]))

/* Encode x[0..n) with importance h (NULL: none) and decode into y. */
static void round_trip(const wfmt *f, const float *x, const float *h, int64_t n, float *y) {
    void *b = malloc((size_t)n * 2); /* >= 8.5 bits per weight */
    ck_assert_ptr_nonnull(b);
    if (f->legacy >= 0) {
        const aq_ggml_legacy_info *l = aq_ggml_legacy_get((aq_ggml_legacy_fmt)f->legacy);
        ck_assert_int_eq(l->quantize_ref(x, h, n, b), 0);
        ck_assert_int_eq(l->dequantize(b, n, y), 0);
    } else {
        f->kq(x, h, n, b);
        f->kdq(b, n, y);
    }
    free(b);
}

/* u_j = x_j^2 / (mean square of x_j's region), in double. */
static void rel_sq(const float *x, int64_t n, int region, double *u) {
    for (int64_t r = 0; r < n; r += region) {
        double ss = 0.0;
        for (int j = 0; j < region; ++j)
            ss += (double)x[r + j] * x[r + j];
        for (int j = 0; j < region; ++j)
            u[r + j] = ss > 0.0 ? (double)x[r + j] * x[r + j] * region / ss : 0.0;
    }
}

/* The documented weight of element j for importance h (NULL: none). */
static double doc_w(const wfmt *f, const float *h, const double *u, int64_t j) {
    if (!h) return sqrt(1.0 + u[j]);
    return f->legacy >= 0 ? h[j] : h[j] * sqrt(1.0 + u[j]);
}

/* sum_j W_j(h) (x_j - y_j)^2. */
static double err(const wfmt *f, const float *x, const float *y, const float *h, const double *u,
                  int64_t n) {
    double e = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double d = (double)x[j] - y[j];
        e += doc_w(f, h, u, j) * d * d;
    }
    return e;
}

/* Encodes with h and with h2; each must win in its own documented error. */
static void duel(const wfmt *f, const float *x, const float *h, const float *h2, const double *u,
                 int64_t n, float *y1, float *y2) {
    round_trip(f, x, h, n, y1);
    round_trip(f, x, h2, n, y2);
    const double a1 = err(f, x, y1, h, u, n), a2 = err(f, x, y2, h, u, n);
    const double b1 = err(f, x, y1, h2, u, n), b2 = err(f, x, y2, h2, u, n);
    ck_assert_msg(a1 < a2, "%s (%s): W(h) error %g (encoded with h) vs %g", f->name,
                  h ? "calibrated" : "uncalibrated", a1, a2);
    ck_assert_msg(b2 < b1, "%s (%s): W(h2) error %g (encoded with h2) vs %g", f->name,
                  h ? "calibrated" : "uncalibrated", b2, b1);
}

START_TEST(weights_as_documented) {
    for (int fi = 0; fi < NF; ++fi) {
        const wfmt *f = &k_fmts[fi];
        const int64_t n = (int64_t)NREG * f->region;
        float *x = malloc((size_t)n * sizeof *x), *h = malloc((size_t)n * sizeof *h);
        float *h2 = malloc((size_t)n * sizeof *h2), *y1 = malloc((size_t)n * sizeof *y1);
        float *y2 = malloc((size_t)n * sizeof *y2);
        double *u = malloc((size_t)n * sizeof *u);
        ck_assert(x && h && h2 && y1 && y2 && u);
        aq_synth_weights_f32(5, "gw", x, (size_t)n, 0.02f); /* Student-t nu = 5 */
        aq_rng r;
        aq_rng_seed(&r, 77);
        for (int64_t j = 0; j < n; ++j)
            h[j] = (float)exp(1.5 * aq_rng_normal(&r));
        rel_sq(x, n, f->region, u);
        for (int64_t j = 0; j < n; ++j)
            h2[j] = (float)(h[j] / sqrt(1.0 + u[j]));
        duel(f, x, h, h2, u, n, y1, y2);
        for (int64_t j = 0; j < n; ++j)
            h2[j] = (float)(1.0 / sqrt(1.0 + u[j]));
        duel(f, x, NULL, h2, u, n, y1, y2);
        free(x), free(h), free(h2), free(y1), free(y2), free(u);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_ggml_weights");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, weights_as_documented);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
