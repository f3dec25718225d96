/*
 * Unit tests: the mse method never loses to rtn (and wins clearly at 2 bits), and the
 * tensor driver is thread-count invariant with metrics that match a recomputation.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "aq/quant.h"
#include "aq/synth.h"

#define N_GROUPS 10000

/* Independent reference: sum h (x - (min + q*scale))^2 with q from nearbyintf. */
static double ref_wsse(const float *x, const float *h, int n, int bits, float s, float m) {
    const float qmax = (float)((1 << bits) - 1);
    double e = 0.0;
    for (int j = 0; j < n; ++j) {
        float q = 0.0f;
        if (s != 0.0f) {
            q = nearbyintf((x[j] - m) / s);
            q = q < 0.0f ? 0.0f : (q > qmax ? qmax : q);
        }
        double d = (double)x[j] - (double)(m + q * s);
        e += (h ? (double)h[j] : 1.0) * d * d;
    }
    return e;
}

/* _i = ((bits index * 5) + group size index) * 2 + (with importance); the scale dtype
 * alternates with the group size index so both storage precisions are covered. */
START_TEST(mse_never_worse_than_rtn) {
    static const int gsz[5] = {16, 32, 64, 128, 256};
    const int with_h = _i % 2, gs = gsz[(_i / 2) % 5], bits = 2 << (_i / 10);
    const aq_scale_dtype d = (_i / 2) % 2 ? AQ_SCALE_F32 : AQ_SCALE_F16;
    float *w = malloc(sizeof *w * (size_t)N_GROUPS * gs);
    float h[256];
    ck_assert_ptr_nonnull(w);
    aq_synth_weights_f32(1000 + (uint64_t)_i, "mse-groups", w, (size_t)N_GROUPS * gs, 0.02f);
    aq_rng rng;
    aq_rng_seed(&rng, 77 + (uint64_t)_i);
    double sum_rtn = 0.0, sum_mse = 0.0;
    for (int g = 0; g < N_GROUPS; ++g) {
        const float *x = w + (size_t)g * gs;
        for (int j = 0; with_h && j < gs; ++j)
            h[j] = (float)exp(aq_rng_normal(&rng));
        const float *hp = with_h ? h : NULL;
        float rs, rm, ms, mm;
        aq_group_params_rtn(x, gs, bits, d, &rs, &rm);
        aq_group_params_mse(x, hp, gs, bits, d, &ms, &mm);
        ck_assert(aq_round_param(ms, d) == ms && aq_round_param(mm, d) == mm);
        double er = ref_wsse(x, hp, gs, bits, rs, rm), em = ref_wsse(x, hp, gs, bits, ms, mm);
        ck_assert_msg(em <= er, "group %d bits %d g %d: mse %.17g > rtn %.17g", g, bits, gs, em,
                      er);
        sum_rtn += er;
        sum_mse += em;
    }
    if (bits == 2) /* the point of mse: clearly better on heavy-tailed 2-bit groups */
        ck_assert_msg(sum_mse < 0.8 * sum_rtn, "2-bit g %d: mse %g vs rtn %g", gs, sum_mse,
                      sum_rtn);
    free(w);
}
END_TEST

/* A 37 x 1000 bf16 tensor (short last group) with importance. */
typedef struct {
    uint8_t *codes;
    uint16_t *scale, *min;
    aq_quant_metrics m;
} qresult;

enum { TR = 37, TC = 1000 };

static void run_tensor(const aq_quant_params *p, const uint16_t *w, const float *h, int threads,
                       qresult *out) {
    const size_t nb = aq_packed_row_bytes(TC, p->bits);
    const size_t ng = (size_t)aq_groups_per_row(TC, p->group_size);
    out->codes = calloc(TR, nb);
    out->scale = calloc(TR * ng, sizeof(uint16_t));
    out->min = calloc(TR * ng, sizeof(uint16_t));
    ck_assert(out->codes && out->scale && out->min);
    omp_set_num_threads(threads);
    aq_err e = {0};
    ck_assert_int_eq(aq_quantize_tensor(p, AQ_DT_BF16, w, TR, TC, h, "inv", out->codes, out->scale,
                                        out->min, &out->m, &e),
                     AQ_OK);
}

static void free_result(qresult *r) {
    free(r->codes);
    free(r->scale);
    free(r->min);
}

static void make_tensor(uint16_t *w, float *h) {
    float tmp[TR * TC];
    aq_synth_weights_f32(5, "inv", tmp, TR * TC, 0.02f);
    for (int i = 0; i < TR * TC; ++i)
        w[i] = aq_f32_to_bf16(tmp[i]);
    aq_rng rng;
    aq_rng_seed(&rng, 9);
    for (int j = 0; j < TC; ++j)
        h[j] = (float)(0.1 + 3.0 * aq_rng_uniform(&rng));
}

START_TEST(thread_count_invariance) {
    static uint16_t w[TR * TC];
    static float h[TC];
    make_tensor(w, h);
    aq_quant_params p = {2 << (_i % 3),
                         _i < 3 ? 64 : 128,
                         _i < 3 ? AQ_METHOD_MSE : AQ_METHOD_RTN,
                         AQ_SCALE_F16,
                         0,
                         0};
    qresult a, b;
    run_tensor(&p, w, h, 1, &a);
    run_tensor(&p, w, h, 2, &b);
    const size_t ng = (size_t)aq_groups_per_row(TC, p.group_size);
    ck_assert_mem_eq(a.codes, b.codes, TR * aq_packed_row_bytes(TC, p.bits));
    ck_assert_mem_eq(a.scale, b.scale, TR * ng * sizeof(uint16_t));
    ck_assert_mem_eq(a.min, b.min, TR * ng * sizeof(uint16_t));
    ck_assert_mem_eq(&a.m, &b.m, sizeof a.m);
    free_result(&a);
    free_result(&b);
}
END_TEST

static void assert_close(double got, double want, const char *what) {
    ck_assert_msg(fabs(got - want) <= 1e-12 * fabs(want), "%s: %.17g vs %.17g", what, got, want);
}

/* Metrics recomputed here from the dequantized rows. */
START_TEST(metrics_match_recomputation) {
    static uint16_t w[TR * TC];
    static float h[TC];
    make_tensor(w, h);
    aq_quant_params p = {2 << _i, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    qresult a;
    run_tensor(&p, w, h, 2, &a);
    const size_t nb = aq_packed_row_bytes(TC, p.bits);
    const size_t ng = (size_t)aq_groups_per_row(TC, p.group_size);
    double e2 = 0, w2 = 0, wv = 0, v2 = 0, he2 = 0, hw2 = 0;
    float out[TC];
    for (int r = 0; r < TR; ++r) {
        aq_dequantize_row(&p, a.codes + r * nb, a.scale + r * ng, a.min + r * ng, TC, out);
        for (int j = 0; j < TC; ++j) {
            double x = aq_bf16_to_f32(w[r * TC + j]), y = out[j];
            e2 += (x - y) * (x - y);
            w2 += x * x;
            wv += x * y;
            v2 += y * y;
            he2 += h[j] * (x - y) * (x - y);
            hw2 += h[j] * x * x;
        }
    }
    assert_close(a.m.rel_mse, e2 / w2, "rel_mse");
    assert_close(a.m.sqnr_db, -10.0 * log10(e2 / w2), "sqnr_db");
    assert_close(a.m.cosine, wv / sqrt(w2 * v2), "cosine");
    assert_close(a.m.weighted_rel_err, he2 / hw2, "weighted_rel_err");
    free_result(&a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_mse");
    TCase *tc = tcase_create("mse");
    tcase_add_loop_test(tc, mse_never_worse_than_rtn, 0, 30);
    tcase_add_loop_test(tc, thread_count_invariance, 0, 6);
    tcase_add_loop_test(tc, metrics_match_recomputation, 0, 3);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
