/*
 * Unit tests: every SIMD kernel set the CPU supports is bit-identical to the scalar
 * reference, kernel by kernel and through aq_quantize_tensor_ex() (codes, scale/min and
 * metrics), on random and edge-case inputs: ties at .5, constant groups, short last groups,
 * signed zeros, denormals, every f16/bf16 bit pattern.  One run tests one set, named by the
 * first argument ("avx2", "avx512"; one CTest test each); a set the CPU lacks exits 77
 * (skipped, reason printed) unless AQ_REQUIRE_SIMD names it (aq_check_simd.h).  Without an
 * argument only the selection and names are tested.
 */
#include <check.h>

#include "aq_check_simd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/quant/quant_impl.h"
#include "aq/quant.h"
#include "aq/synth.h"

/* The set under test (main() sets it from argv[1]); the loops below run over it. */
static const aq_kernels_t *sets[1];
static int n_sets;

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float frnd(void) { /* roughly N(0, 0.02)-sized with occasional outliers */
    float v = (float)(rnd() % 2000001) / 1e6f - 1.0f;
    return (rnd() % 500 == 0) ? 0.3f * v : 0.02f * v;
}

/* Fill a group with one of several patterns. */
static void fill_group(float *x, int n, int pattern) {
    switch (pattern % 8) {
    case 0: /* random */
        for (int j = 0; j < n; ++j)
            x[j] = frnd();
        break;
    case 1: /* constant */
        for (int j = 0; j < n; ++j)
            x[j] = 0.0123f;
        break;
    case 2: /* ties at .5 for min 0, scale 1 grid: values k + 0.5 */
        for (int j = 0; j < n; ++j)
            x[j] = (float)(rnd() % 16) + 0.5f;
        x[0] = 0.0f;
        x[n - 1] = n > 1 ? 15.0f : x[n - 1];
        break;
    case 3: /* signed zeros and small values */
        for (int j = 0; j < n; ++j)
            x[j] = (rnd() & 1) ? -0.0f : 0.0f;
        if (n > 2) x[n / 2] = 1e-3f;
        break;
    case 4: /* denormals */
        for (int j = 0; j < n; ++j)
            x[j] = (float)((int)(rnd() % 2001) - 1000) * 1e-42f;
        break;
    case 5: /* all zeros with both signs -> constant */
        for (int j = 0; j < n; ++j)
            x[j] = (j & 1) ? -0.0f : 0.0f;
        break;
    case 6: /* two values */
        for (int j = 0; j < n; ++j)
            x[j] = (rnd() & 1) ? 1.0f : -1.0f;
        break;
    default: /* large dynamic range */
        for (int j = 0; j < n; ++j)
            x[j] = frnd() * (float)(1 << (rnd() % 20));
        break;
    }
}

START_TEST(convert_all_patterns) {
    enum { N = 65536 + 37 };
    unsigned char *src = malloc(2 * N + 1);
    float *a = malloc(sizeof *a * N), *b = malloc(sizeof *b * N);
    ck_assert(src && a && b);
    for (int i = 0; i < N; ++i) { /* every 16-bit pattern once, then some random */
        uint16_t v = i < 65536 ? (uint16_t)i : (uint16_t)rnd();
        src[1 + 2 * i] = (unsigned char)(v & 0xff);
        src[2 + 2 * i] = (unsigned char)(v >> 8);
    }
    for (int s = 0; s < n_sets; ++s)
        for (int dt = AQ_DT_F16; dt <= AQ_DT_BF16; ++dt)
            for (int len = 0; len < 40; ++len) { /* short and odd lengths, unaligned */
                size_t n = len < 39 ? (size_t)len : (size_t)N;
                memset(a, 0xa5, sizeof *a * N);
                memset(b, 0x5a, sizeof *b * N);
                aq_convert_to_f32((aq_dtype)dt, src + 1, n, a);
                sets[s]->convert((aq_dtype)dt, src + 1, n, b);
                ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s convert %s n %zu",
                              sets[s]->name, aq_dtype_name((aq_dtype)dt), n);
            }
    /* f32: random bits including NaN/Inf patterns are copied */
    unsigned char *s32 = malloc(4 * 1000 + 3);
    for (int i = 0; i < 4 * 1000 + 3; ++i)
        s32[i] = (unsigned char)rnd();
    for (int s = 0; s < n_sets; ++s) {
        aq_convert_to_f32(AQ_DT_F32, s32 + 3, 1000, a);
        sets[s]->convert(AQ_DT_F32, s32 + 3, 1000, b);
        ck_assert(memcmp(a, b, 4000) == 0);
    }
    free(s32);
    free(src);
    free(a);
    free(b);
}
END_TEST

START_TEST(group_kernels) {
    float x[AQ_MAX_GROUP], h[AQ_MAX_GROUP], ya[AQ_MAX_GROUP], yb[AQ_MAX_GROUP];
    uint8_t pa[AQ_MAX_GROUP], pb[AQ_MAX_GROUP];
    for (int s = 0; s < n_sets; ++s) {
        const aq_kernels_t *k = sets[s];
        for (int trial = 0; trial < 4000; ++trial) {
            const int n = 1 + (int)(rnd() % AQ_MAX_GROUP);
            const int bits = 2 << (rnd() % 3);
            const aq_scale_dtype d = (aq_scale_dtype)(rnd() % 2);
            fill_group(x, n, trial);
            for (int j = 0; j < n; ++j)
                h[j] = (rnd() % 7 == 0) ? 0.0f : (float)(rnd() % 1000) / 97.0f;
            const float *hp = (trial & 1) ? h : NULL;
            float lo_a, hi_a, lo_b, hi_b;
            aq_minmax_f32(x, n, &lo_a, &hi_a);
            k->minmax(x, n, &lo_b, &hi_b);
            ck_assert(memcmp(&lo_a, &lo_b, 4) == 0 && memcmp(&hi_a, &hi_b, 4) == 0);
            float sc, mn;
            aq_params_from_range(lo_a, hi_a, bits, d, &sc, &mn);
            if (trial % 8 == 2) {
                sc = 1.0f;
                mn = 0.0f;
            }                                 /* exact ties */
            if (trial % 16 == 4) sc = 1e-40f; /* denormal scale */
            const size_t nb = aq_packed_row_bytes(n, bits);
            memset(pa, 0x11, sizeof pa);
            memset(pb, 0x22, sizeof pb);
            aq_encode_pack_ref(x, n, bits, sc, mn, pa);
            k->encode_pack(x, n, bits, sc, mn, pb);
            ck_assert_msg(memcmp(pa, pb, nb) == 0, "%s encode_pack n %d bits %d trial %d", k->name,
                          n, bits, trial);
            for (size_t i = 0; i < nb; ++i)
                pa[i] = (uint8_t)rnd(); /* any byte string */
            aq_dequant_ref(pa, n, bits, sc, mn, ya);
            k->dequant(pa, n, bits, sc, mn, yb);
            ck_assert_msg(memcmp(ya, yb, (size_t)n * 4) == 0, "%s dequant n %d bits %d", k->name, n,
                          bits);
            double wa = aq_group_wsse(x, hp, n, bits, sc, mn);
            double wb = k->group_wsse(x, hp, n, bits, sc, mn);
            ck_assert_msg(memcmp(&wa, &wb, 8) == 0, "%s wsse %.17g vs %.17g", k->name, wa, wb);
            double la[AQ_ES_N][AQ_LANES] = {{0}}, lb[AQ_ES_N][AQ_LANES] = {{0}};
            aq_err_sums_ref(x, ya, hp, n, la);
            k->err_sums(x, ya, hp, n, lb);
            ck_assert_msg(memcmp(la, lb, sizeof la) == 0, "%s err_sums n %d", k->name, n);
            float ms_a, mm_a, ms_b, mm_b;
            aq_group_params_mse_k(&aq_kernels_scalar, x, hp, n, bits, d, &ms_a, &mm_a);
            aq_group_params_mse_k(k, x, hp, n, bits, d, &ms_b, &mm_b);
            ck_assert_msg(memcmp(&ms_a, &ms_b, 4) == 0 && memcmp(&mm_a, &mm_b, 4) == 0,
                          "%s mse params n %d bits %d trial %d", k->name, n, bits, trial);
        }
    }
}
END_TEST

START_TEST(mse_eval_kernel) {
    float x[AQ_MAX_GROUP], h[AQ_MAX_GROUP], lo[37], inv[37];
    aq_fit fa[37], fb[37];
    for (int s = 0; s < n_sets; ++s)
        for (int trial = 0; trial < 500; ++trial) {
            const int n = 1 + (int)(rnd() % AQ_MAX_GROUP), k = 1 + (int)(rnd() % 37);
            fill_group(x, n, trial);
            for (int j = 0; j < n; ++j)
                h[j] = (float)(1 + rnd() % 100) / 10.0f;
            aq_wconst c = {0, 0, 0};
            for (int j = 0; j < n; ++j) {
                c.sh += h[j];
                c.shx += (double)h[j] * x[j];
                c.shxx += (double)h[j] * x[j] * x[j];
            }
            for (int i = 0; i < k; ++i) {
                lo[i] = x[rnd() % n] - 0.01f * (float)(rnd() % 3);
                inv[i] = (float)(1 + rnd() % 1000);
            }
            memset(fa, 0, sizeof fa);
            memset(fb, 0, sizeof fb);
            const float qm = (trial % 3 == 0) ? 3.0f : (trial % 3 == 1) ? 15.0f : 255.0f;
            const float *hp = trial % 2 ? h : NULL;
            aq_mse_eval_ref(x, hp, n, qm, &c, lo, inv, k, fa);
            sets[s]->mse_eval(x, hp, n, qm, &c, lo, inv, k, fb);
            ck_assert_msg(memcmp(fa, fb, sizeof(aq_fit) * (size_t)k) == 0, "%s mse_eval n %d k %d",
                          sets[s]->name, n, k);
        }
}
END_TEST

/* Whole tensors through aq_quantize_tensor_ex: every bits x method x group size x scale
 * dtype x source dtype, with and without importance, a short last group (cols 1000). */
START_TEST(tensor_identical) {
    enum { R = 23, C = 1000 };
    float *w = malloc(sizeof *w * R * C), h[C];
    uint16_t *wb = malloc(2 * R * C), *wf = malloc(2 * R * C);
    ck_assert(w && wb && wf);
    aq_synth_weights_f32(5, "simd", w, R * C, 0.02f);
    for (int r = 0; r < R; ++r)
        fill_group(w + r * C + 100, 64, r); /* edge rows pieces */
    for (int j = 0; j < 200; ++j)
        w[3 * C + j] = 0.5f; /* constant groups */
    for (int j = 0; j < C; ++j)
        h[j] = (float)(1 + (j * 7919) % 113) / 13.0f;
    for (int i = 0; i < R * C; ++i) {
        wb[i] = aq_f32_to_bf16(w[i]);
        wf[i] = aq_f32_to_f16(w[i]);
    }
    static const int gsz[5] = {16, 32, 64, 128, 256};
    const size_t maxb = (size_t)R * aq_packed_row_bytes(C, 8), maxg = (size_t)R * 63;
    uint8_t *ca = malloc(maxb), *cb = malloc(maxb);
    float *sa = malloc(4 * maxg), *sb = malloc(4 * maxg), *ma = malloc(4 * maxg),
          *mb = malloc(4 * maxg);
    for (int s = 0; s < n_sets; ++s)
        for (int bits = 2; bits <= 8; bits *= 2)
            for (int m = 0; m < 2; ++m)
                for (int gi = 0; gi < 5; ++gi)
                    for (int dt = 0; dt < 3; ++dt) {
                        const aq_quant_params p = {
                            bits, gsz[gi], (aq_method)m, (aq_scale_dtype)((gi + dt) % 2), 0, 0};
                        const void *src = dt == AQ_DT_F32    ? (const void *)w
                                          : dt == AQ_DT_BF16 ? (const void *)wb
                                                             : (const void *)wf;
                        const float *hp = (gi + bits) % 2 ? NULL : h;
                        aq_quant_metrics qa, qb;
                        aq_err err = {0};
                        memset(ca, 1, maxb);
                        memset(cb, 2, maxb);
                        memset(sa, 3, 4 * maxg);
                        memset(sb, 4, 4 * maxg);
                        memset(ma, 5, 4 * maxg);
                        memset(mb, 6, 4 * maxg);
                        ck_assert_int_eq(aq_quantize_tensor_ex(&p, aq_kernels_select(1),
                                                               (aq_dtype)dt, src, R, C, hp, "t", ca,
                                                               sa, ma, &qa, &err),
                                         AQ_OK);
                        ck_assert_int_eq(aq_quantize_tensor_ex(&p, sets[s], (aq_dtype)dt, src, R, C,
                                                               hp, "t", cb, sb, mb, &qb, &err),
                                         AQ_OK);
                        const size_t nb = (size_t)R * aq_packed_row_bytes(C, bits);
                        const size_t ng = (size_t)R * (size_t)aq_groups_per_row(C, p.group_size) *
                                          aq_scale_dtype_size(p.scale_dtype);
                        ck_assert_msg(memcmp(ca, cb, nb) == 0 && memcmp(sa, sb, ng) == 0 &&
                                          memcmp(ma, mb, ng) == 0 &&
                                          memcmp(&qa, &qb, sizeof qa) == 0,
                                      "%s: bits %d %s g %d dtype %d differs", sets[s]->name, bits,
                                      aq_method_name(p.method), p.group_size, dt);
                    }
    free(w);
    free(wb);
    free(wf);
    free(ca);
    free(cb);
    free(sa);
    free(sb);
    free(ma);
    free(mb);
}
END_TEST

/* Row kernels on their own: non-finite search, rtn parameters of every group (including
 * values that overflow f16 and denormal ranges), parameter storage, group sums. */
START_TEST(row_kernels) {
    enum { C = 1000 };
    float w[C], sa[C], ma[C], sb[C], mb[C];
    uint16_t pa[2 * C], pb[2 * C];
    static const int gsz[5] = {16, 32, 64, 128, 256};
    for (int s = 0; s < n_sets; ++s) {
        const aq_kernels_t *k = sets[s];
        for (int trial = 0; trial < 400; ++trial) {
            const int64_t cols = 1 + (int64_t)(rnd() % C);
            for (int64_t j = 0; j < cols; j += 64)
                fill_group(w + j, (int)(cols - j < 64 ? cols - j : 64), (int)(rnd() % 8));
            if (trial % 5 == 0) w[rnd() % cols] = 1e5f * (float)(1 + rnd() % 9); /* f16 overflow */
            if (trial % 7 == 0) w[rnd() % cols] = -7e4f;
            ck_assert(aq_first_nonfinite_ref(w, cols) == k->first_nonfinite(w, cols));
            const int gs = gsz[rnd() % 5], bits = 2 << (rnd() % 3);
            const aq_scale_dtype d = (aq_scale_dtype)(rnd() % 2);
            const int64_t groups = aq_groups_per_row(cols, gs);
            aq_rtn_params_ref(w, cols, gs, bits, d, sa, ma);
            k->rtn_params(w, cols, gs, bits, d, sb, mb);
            ck_assert_msg(
                memcmp(sa, sb, 4 * (size_t)groups) == 0 && memcmp(ma, mb, 4 * (size_t)groups) == 0,
                "%s rtn_params cols %lld g %d bits %d", k->name, (long long)cols, gs, bits);
            memset(pa, 1, sizeof pa);
            memset(pb, 1, sizeof pb);
            aq_store_params_ref(sa, ma, groups, d, pa, pa + C);
            k->store_params(sa, ma, groups, d, pb, pb + C);
            ck_assert(memcmp(pa, pb, sizeof pa) == 0);
            const int64_t at = (int64_t)(rnd() % cols);
            const float bad[3] = {NAN, INFINITY, -INFINITY};
            const float keep = w[at];
            w[at] = bad[trial % 3];
            ck_assert(k->first_nonfinite(w, cols) == at && aq_first_nonfinite_ref(w, cols) == at);
            w[at] = keep;
            for (int i = 0; i < 64; ++i) { /* f16 rounding of any magnitude, incl. overflow */
                uint32_t u = rnd();
                float v, v2;
                memcpy(&v, &u, 4);
                if (!isfinite(v)) continue;
                float a1 = v, a2 = -v * 0.5f, b1 = v, b2 = -v * 0.5f;
                aq_round2_ref(&a1, &a2, AQ_SCALE_F16);
                k->round2(&b1, &b2, AQ_SCALE_F16);
                ck_assert(memcmp(&a1, &b1, 4) == 0 && memcmp(&a2, &b2, 4) == 0);
                v2 = v;
                k->round2(&v2, &b2, AQ_SCALE_F32);
                ck_assert(memcmp(&v2, &v, 4) == 0);
            }
            aq_wconst ca, cb;
            const int n = (int)(cols < AQ_MAX_GROUP ? cols : AQ_MAX_GROUP);
            aq_wconst_ref(w, trial % 2 ? sa : NULL, n < groups ? n : (int)groups, &ca);
            k->wconst(w, trial % 2 ? sa : NULL, n < groups ? n : (int)groups, &cb);
            ck_assert(memcmp(&ca, &cb, sizeof ca) == 0);
        }
    }
}
END_TEST

/* 3-bit codes (the dq layout's width) through the group and row encoders of every set. */
START_TEST(three_bit_kernels) {
    enum { C = 1000 };
    float x[C], h[C], ya[AQ_MAX_GROUP], yb[AQ_MAX_GROUP], s[C], m[C];
    uint8_t pa[C], pb[C];
    static const int gsz[5] = {16, 32, 64, 128, 256};
    for (int si = 0; si < n_sets; ++si) {
        const aq_kernels_t *k = sets[si];
        for (int trial = 0; trial < 2000; ++trial) {
            const int n = 1 + (int)(rnd() % AQ_MAX_GROUP);
            fill_group(x, n, trial);
            float sc, mn, lo, hi;
            aq_minmax_f32(x, n, &lo, &hi);
            aq_params_from_range(lo, hi, 3, AQ_SCALE_F32, &sc, &mn);
            if (trial % 8 == 2) {
                sc = 1.0f;
                mn = 0.0f;
            } /* exact ties */
            const size_t nb = aq_packed_row_bytes(n, 3);
            memset(pa, 0x11, sizeof pa);
            memset(pb, 0x22, sizeof pb);
            aq_encode_pack_ref(x, n, 3, sc, mn, pa);
            k->encode_pack(x, n, 3, sc, mn, pb);
            ck_assert(pa[nb] == 0x11 && pb[nb] == 0x22); /* nothing past the packed bytes */
            ck_assert_msg(memcmp(pa, pb, nb) == 0, "%s encode_pack 3-bit n %d trial %d", k->name, n,
                          trial);
            for (size_t i = 0; i < nb; ++i)
                pa[i] = (uint8_t)rnd();
            aq_dequant_ref(pa, n, 3, sc, mn, ya);
            k->dequant(pa, n, 3, sc, mn, yb);
            ck_assert_msg(memcmp(ya, yb, (size_t)n * 4) == 0, "%s dequant 3-bit n %d", k->name, n);
        }
        for (int trial = 0; trial < 200; ++trial) {
            const int64_t cols = 1 + (int64_t)(rnd() % C);
            const int gs = gsz[rnd() % 5];
            for (int64_t j = 0; j < cols; j += 64)
                fill_group(x + j, (int)(cols - j < 64 ? cols - j : 64), (int)(rnd() % 8));
            for (int64_t j = 0; j < cols; ++j)
                h[j] = (float)(rnd() % 100) / 7.0f;
            const int64_t groups = aq_groups_per_row(cols, gs);
            aq_rtn_params_ref(x, cols, gs, 3, AQ_SCALE_F32, s, m);
            double la[AQ_ES_N][AQ_LANES] = {{0}}, lb[AQ_ES_N][AQ_LANES] = {{0}};
            memset(pa, 0x33, sizeof pa);
            memset(pb, 0x44, sizeof pb);
            aq_encode_row_ref(x, cols, gs, 3, trial % 2 ? h : NULL, s, m, pa, la);
            k->encode_row(x, cols, gs, 3, trial % 2 ? h : NULL, s, m, pb, lb);
            ck_assert_msg(memcmp(pa, pb, aq_packed_row_bytes(cols, 3)) == 0 &&
                              memcmp(la, lb, sizeof la) == 0,
                          "%s encode_row 3-bit cols %lld g %d (%lld groups)", k->name,
                          (long long)cols, gs, (long long)groups);
        }
    }
}
END_TEST

/* The dq search kernels (quant_impl.h): statistics, targets, picks with and without
 * importance, every group size and code width, batches with and without a remainder of
 * fewer than a vector of groups, edge-case groups (constant, zeros, denormals, ties, huge
 * range), zero and either-sign dmin, cs_in aliasing cs as dq.c calls it. */
START_TEST(dq_kernels) {
    enum { NGMAX = 40 };
    static float x[NGMAX * AQ_MAX_GROUP], h[NGMAX * AQ_MAX_GROUP];
    static const int gsz[5] = {16, 32, 64, 128, 256}, bw[4] = {2, 3, 4, 8};
    aq_dq_gstat sta[NGMAX], stb[NGMAX];
    float sa[NGMAX], sb[NGMAX], ma[NGMAX], mb[NGMAX], d[NGMAX], dm[NGMAX];
    aq_dq_csums ca[NGMAX], cb[NGMAX], ca2[NGMAX], cb2[NGMAX];
    uint8_t sca[NGMAX], scb[NGMAX], mca[NGMAX], mcb[NGMAX];
    double ea[NGMAX], eb[NGMAX];
    for (int si = 0; si < n_sets; ++si) {
        const aq_kernels_t *k = sets[si];
        for (int trial = 0; trial < 300; ++trial) {
            const int G = gsz[trial % 5], ng = 1 + (int)(rnd() % NGMAX), bits = bw[(trial / 5) % 4];
            for (int g = 0; g < ng; ++g) {
                if (rnd() % 3)
                    aq_synth_weights_f32(trial, "dqk", x + g * G, (size_t)G, 0.02f);
                else
                    fill_group(x + g * G, G, (int)(rnd() % 8));
            }
            for (int j = 0; j < ng * G; ++j)
                h[j] = (rnd() % 5 == 0) ? 0.0f : (float)(rnd() % 1000) / 97.0f;
            if (ng > 2) memset(h + G, 0, sizeof(float) * (size_t)G); /* a group without weight */
            const aq_dq_batch b = {x, trial % 2 ? h : NULL, G, ng, (float)((1 << bits) - 1)};
            const float step = (trial % 7 == 0) ? (float)(rnd() % 50) / 100.0f : 0.35f;
            memset(sta, 1, sizeof sta);
            memset(stb, 2, sizeof stb);
            aq_dq_targets_ref(&b, step, sta, sa, ma, ca);
            k->dq_targets(&b, step, stb, sb, mb, cb);
            for (int g = 0; g < ng; ++g)
                ck_assert_msg(memcmp(&sta[g], &stb[g], sizeof sta[g]) == 0 &&
                                  memcmp(&sa[g], &sb[g], 4) == 0 &&
                                  memcmp(&ma[g], &mb[g], 4) == 0 &&
                                  memcmp(&ca[g], &cb[g], sizeof ca[g]) == 0,
                              "%s dq_targets G %d ng %d bits %d group %d trial %d", k->name, G, ng,
                              bits, g, trial);
            const int S = 4 + (int)(rnd() % 5), q = (1 << S) - 1;
            float smax = 0.0f, mext = 0.0f;
            for (int g = 0; g < ng; ++g) {
                smax = sa[g] > smax ? sa[g] : smax;
                mext = fabsf(ma[g]) > fabsf(mext) ? ma[g] : mext;
            }
            for (int g = 0; g < ng; ++g) {
                const float f = (float)(8 + rnd() % 8) / 15.0f; /* some clipping */
                d[g] = aq_f16_to_f32(aq_f32_to_f16(smax / (float)q * f));
                dm[g] = aq_f16_to_f32(aq_f32_to_f16(mext / (float)q));
                if (trial % 11 == 3) dm[g] = -dm[g]; /* the other sign */
                if (trial % 13 == 5) dm[g] = 0.0f;
                if (trial % 17 == 7 && g % 3 == 0) d[g] = 0.0f;
            }
            for (int radius = 0; radius <= AQ_DQ_MAX_RADIUS; ++radius) {
                memset(cb2, 3, sizeof cb2);
                aq_dq_pick_ref(&b, q, radius, sta, sa, ma, ca, d, dm, sca, mca, ca2, ea);
                k->dq_pick(&b, q, radius, sta, sa, ma, ca, d, dm, scb, mcb, cb2, eb);
                ck_assert_msg(memcmp(sca, scb, (size_t)ng) == 0 &&
                                  memcmp(mca, mcb, (size_t)ng) == 0 &&
                                  memcmp(ca2, cb2, sizeof ca2[0] * (size_t)ng) == 0 &&
                                  memcmp(ea, eb, sizeof ea[0] * (size_t)ng) == 0,
                              "%s dq_pick G %d ng %d bits %d S %d radius %d trial %d", k->name, G,
                              ng, bits, S, radius, trial);
                /* in place: cs_in is also the output (dq.c's first pick) */
                memcpy(cb2, ca, sizeof ca);
                k->dq_pick(&b, q, radius, sta, sa, ma, cb2, d, dm, scb, mcb, cb2, eb);
                ck_assert(memcmp(ca2, cb2, sizeof ca2[0] * (size_t)ng) == 0);
                for (int g = 0; g < ng; ++g)
                    ck_assert(sca[g] <= q && mca[g] <= q);
            }
        }
    }
}
END_TEST

START_TEST(select_and_names) {
    const aq_kernels *a = aq_kernels_select(0);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(aq_kernels_name(aq_kernels_select(1)), "scalar");
    ck_assert_str_eq(aq_kernels_name(NULL), "none");
    ck_assert_ptr_null(aq_kernels_select(7));
    if (aq_kernels_select(3)) ck_assert_str_eq(aq_kernels_name(a), "avx512");
}
END_TEST

int main(int argc, char **argv) {
    if (argc > 1) {
        const int status = aq_check_simd_set("test_quant_simd", argv[1], &sets[0]);
        if (status) return status;
        n_sets = 1;
    }
    Suite *s = suite_create("quant_simd");
    TCase *tc = tcase_create(argc > 1 ? argv[1] : "select");
    tcase_set_timeout(tc, 300);
    if (argc < 2) {
        tcase_add_test(tc, select_and_names);
    } else {
        tcase_add_test(tc, convert_all_patterns);
        tcase_add_test(tc, group_kernels);
        tcase_add_test(tc, mse_eval_kernel);
        tcase_add_test(tc, tensor_identical);
        tcase_add_test(tc, row_kernels);
        tcase_add_test(tc, three_bit_kernels);
        tcase_add_test(tc, dq_kernels);
    }
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
