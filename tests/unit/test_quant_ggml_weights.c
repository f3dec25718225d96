/*
 * Unit test of the error weights of the ggml-format encoders (docs/FORMAT.md "Error
 * weights", src/quant/ggml/ggml_weights.h): with importance h the encoders minimise
 * sum_j h_j sqrt(2 + u_j) (x_j - y_j)^2, without it sum_j (2 + u_j) (x_j - y_j)^2, where
 * u_j = x_j^2 / ms and ms is the mean square of the region (a legacy block of 32, a k-quant
 * super-block of 256).  Checked through the public encoders only: an importance h' chosen so
 * that the encoder's weights become the competing formula (h' = h / sqrt(2 + u): weights h;
 * h' = 1 / sqrt(2 + u): weights 1) must give a lower error in that formula and a higher one
 * in the documented formula, pooled over many regions, for every format.  If the encoders
 * weighed by h alone (or by 1 without h), the inequalities would flip.
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

/* sum_j (h_j or 1) * (sqrt(2 + u_j) when root, 2 + u_j when !root and !h, else 1)
 * * (x_j - y_j)^2 — kind 0: h; 1: h sqrt(2 + u); 2: 1; 3: 2 + u. */
static double err(int kind, const float *x, const float *y, const float *h, const double *u,
                  int64_t n) {
    double e = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double d = (double)x[j] - y[j];
        const double w = kind == 0   ? h[j]
                         : kind == 1 ? h[j] * sqrt(2.0 + u[j])
                         : kind == 2 ? 1.0
                                     : 2.0 + u[j];
        e += w * d * d;
    }
    return e;
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

        /* calibrated: documented h sqrt(2 + u) against h alone */
        for (int64_t j = 0; j < n; ++j)
            h2[j] = (float)(h[j] / sqrt(2.0 + u[j]));
        round_trip(f, x, h, n, y1);
        round_trip(f, x, h2, n, y2);
        const double d1 = err(1, x, y1, h, u, n), d2 = err(1, x, y2, h, u, n);
        const double a1 = err(0, x, y1, h, u, n), a2 = err(0, x, y2, h, u, n);
        ck_assert_msg(d1 < d2, "%s calibrated: h sqrt(2+u) error %g (ours) vs %g", f->name, d1, d2);
        ck_assert_msg(a2 < a1, "%s calibrated: h error %g (h alone) vs %g", f->name, a2, a1);

        /* uncalibrated: documented 2 + u against 1 */
        for (int64_t j = 0; j < n; ++j)
            h2[j] = (float)(1.0 / sqrt(2.0 + u[j]));
        round_trip(f, x, NULL, n, y1);
        round_trip(f, x, h2, n, y2);
        const double e1 = err(3, x, y1, h, u, n), e2 = err(3, x, y2, h, u, n);
        const double b1 = err(2, x, y1, h, u, n), b2 = err(2, x, y2, h, u, n);
        ck_assert_msg(e1 < e2, "%s uncalibrated: (2+u) error %g (ours) vs %g", f->name, e1, e2);
        ck_assert_msg(b2 < b1, "%s uncalibrated: plain error %g (weights 1) vs %g", f->name, b2,
                      b1);
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
