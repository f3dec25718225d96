/*
 * aq-bench-ggml — quality and speed of the ggml legacy-format encoders
 * (include/aq/ggml_legacy.h) against a re-implementation of what ggml's own quantizers compute.
 *
 *   aq-bench-ggml [--rows R] [--cols C] [--seed S] [--fmt NAME]
 *
 * Weights: the project's synthetic recipe (aq/synth.h: Student-t nu = 5, std 0.02, 1e-3
 * outliers), R x C (default 1024 x 4096).  Importance: synthetic, per input column,
 * h_c = exp(1.5 N(0,1)) (log-normal: channel energies spread over orders of magnitude, as
 * mean squared activations do) — a stand-in, not measured activations.
 *
 * Baseline "ggml" (re-implemented here from reading ggml-quants.c, snapshot 0253fb21):
 *   no importance : quantize_row_<fmt>_ref — Q8_0 d = amax / 127, codes roundf(x / d);
 *                   Q4_0 / Q5_0 d = max / -8 / -16 (max = signed largest magnitude), codes
 *                   trunc(x / d + 8.5 / 16.5) capped at 15 / 31; Q4_1 / Q5_1 d = (max - min) /
 *                   15 / 31, m = min, codes trunc((x - min) / d + 0.5) (Q4_1 capped at 15,
 *                   Q5_1 keeps 5 bits);
 *   importance    : quantize_q<fmt> with quant_weights: weight_j = h_j sqrt(sigma2 + x_j^2),
 *                   sigma2 = mean x^2 of the row; Q4_0 / Q5_0 make_qx_quants (19 scales
 *                   -(N + 0.1 k) / max, k = -9..9, weighted least-squares scale); Q4_1 / Q5_1
 *                   make_qkx3_quants (nmax 15 / 31, rmin -0.9, rdelta 0.05, 37 steps,
 *                   min <= 0); Q8_0 ignores importance (the _ref rule).
 * Every result is decoded with the exact ggml decode (fp16 d, m) and scored by SQNR =
 * 10 log10(sum h x^2 / sum h (x - y)^2) (h = 1 without importance).
 * Speed: Mweights/s of one thread (thread CPU time of the encode calls only) for our _ref,
 * _avx2, _avx512 (bit-identity is checked on the way) and for the baseline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/dtype.h"
#include "aq/ggml_legacy.h"
#include "aq/synth.h"

#define QK AQ_GGML_LEGACY_QK

typedef struct {
    int64_t rows, cols;
    uint64_t seed;
    const char *fmt;
} opts;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float f16r(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

static int nearest(float v) { /* ggml's nearest_int: round half to even via 1.5 * 2^23 */
    return (int)((v + 12582912.0f) - 12582912.0f);
}

/*---------------- baseline: ggml's reference rules, decoded in place ----------------*/

static void base_ref_block(aq_ggml_legacy_fmt f, const float *x, float *y) {
    float amax = 0.0f, max = 0.0f, mn = x[0], mx = x[0];
    for (int j = 0; j < QK; ++j) {
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        mn = x[j] < mn ? x[j] : mn;
        mx = x[j] > mx ? x[j] : mx;
    }
    if (f == AQ_GGML_LEGACY_Q8_0) {
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f, d16 = f16r(d);
        for (int j = 0; j < QK; ++j)
            y[j] = (float)(int)roundf(x[j] * id) * d16;
    } else if (f == AQ_GGML_LEGACY_Q4_0 || f == AQ_GGML_LEGACY_Q5_0) {
        const int nh = f == AQ_GGML_LEGACY_Q4_0 ? 8 : 16;
        const float d = max / (float)-nh, id = d != 0.0f ? 1.0f / d : 0.0f, d16 = f16r(d);
        for (int j = 0; j < QK; ++j) {
            int q = (int)(int8_t)(x[j] * id + ((float)nh + 0.5f));
            q = q < 2 * nh - 1 ? q : 2 * nh - 1;
            y[j] = (float)(q - nh) * d16;
        }
    } else {
        const int nmax = f == AQ_GGML_LEGACY_Q4_1 ? 15 : 31;
        const float d = (mx - mn) / (float)nmax, id = d != 0.0f ? 1.0f / d : 0.0f;
        const float d16 = f16r(d), m16 = f16r(mn);
        for (int j = 0; j < QK; ++j) {
            int q = (int)(uint8_t)((x[j] - mn) * id + 0.5f);
            q = nmax == 15 ? (q < 15 ? q : 15) : (q & 31);
            y[j] = (float)q * d16 + m16;
        }
    }
}

/* make_qx_quants(n = 32, nmax, rmse_type 1, weights): returns the scale, codes l + nmax. */
static float base_qx(int nmax, const float *x, const float *w, int *L) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < QK; ++j)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    if (amax < 1e-15f) { /* ggml GROUP_MAX_EPS */
        for (int j = 0; j < QK; ++j)
            L[j] = 0;
        return 0.0f;
    }
    float best = 0.0f, scale = 0.0f;
    for (int k = -9; k <= 9; ++k) { /* k = 0 first in ggml; same result, same tie order */
        const int kk = k == -9 ? 0 : (k <= 0 ? k - 1 : k);
        const float is = -((float)nmax + 0.1f * (float)kk) / max;
        float sxl = 0.0f, sll = 0.0f;
        for (int j = 0; j < QK; ++j) {
            int l = nearest(is * x[j]);
            l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
            sxl += w[j] * x[j] * (float)l;
            sll += w[j] * (float)l * (float)l;
        }
        const int take = kk == 0 ? 1 : (sll > 0.0f && sxl * sxl > best * sll);
        if (take) {
            for (int j = 0; j < QK; ++j) {
                int l = nearest(is * x[j]);
                L[j] = nmax + (l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sll != 0.0f ? sxl / sll : 0.0f;
            best = scale * sxl;
        }
    }
    return scale;
}

/* make_qkx3_quants(n = 32, nmax, weights, rmin -0.9, rdelta 0.05, nstep 36, squared error). */
static float base_qkx3(int nmax, const float *x, const float *w, int *L, float *the_min) {
    float mn = x[0], mx = x[0], sw = w[0], sx = w[0] * x[0];
    for (int j = 1; j < QK; ++j) {
        mn = x[j] < mn ? x[j] : mn;
        mx = x[j] > mx ? x[j] : mx;
        sw += w[j];
        sx += w[j] * x[j];
    }
    if (mn > 0.0f) mn = 0.0f;
    if (mx <= mn) {
        for (int j = 0; j < QK; ++j)
            L[j] = 0;
        *the_min = -mn;
        return 0.0f;
    }
    float is = (float)nmax / (mx - mn), scale = 1.0f / is, best = 0.0f;
    for (int j = 0; j < QK; ++j) {
        int l = nearest(is * (x[j] - mn));
        L[j] = l < 0 ? 0 : (l > nmax ? nmax : l);
        const float diff = scale * (float)L[j] + mn - x[j];
        best += w[j] * diff * diff;
    }
    int aux[QK];
    for (int s = 0; s <= 36; ++s) {
        is = (-0.9f + 0.05f * (float)s + (float)nmax) / (mx - mn);
        float sl = 0.0f, sl2 = 0.0f, sxl = 0.0f;
        for (int j = 0; j < QK; ++j) {
            int l = nearest(is * (x[j] - mn));
            aux[j] = l < 0 ? 0 : (l > nmax ? nmax : l);
            sl += w[j] * (float)aux[j];
            sl2 += w[j] * (float)(aux[j] * aux[j]);
            sxl += w[j] * (float)aux[j] * x[j];
        }
        const float D = sw * sl2 - sl * sl;
        if (D > 0.0f) {
            float ts = (sw * sxl - sx * sl) / D, tm = (sl2 * sx - sl * sxl) / D;
            if (tm > 0.0f) tm = 0.0f, ts = sxl / sl2;
            float e = 0.0f;
            for (int j = 0; j < QK; ++j) {
                const float diff = ts * (float)aux[j] + tm - x[j];
                e += w[j] * diff * diff;
            }
            if (e < best) {
                memcpy(L, aux, sizeof aux);
                best = e, scale = ts, mn = tm;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

/* One row with importance, as quantize_q<fmt>(..., quant_weights) does it. */
static void base_imp_row(aq_ggml_legacy_fmt f, const float *x, const float *h, int64_t n,
                         float *y) {
    if (f == AQ_GGML_LEGACY_Q8_0) {
        for (int64_t b = 0; b < n / QK; ++b)
            base_ref_block(f, x + b * QK, y + b * QK);
        return;
    }
    float s2 = 0.0f;
    for (int64_t j = 0; j < n; ++j)
        s2 += x[j] * x[j];
    const float sigma2 = s2 / (float)n;
    for (int64_t b = 0; b < n / QK; ++b) {
        const float *xb = x + b * QK;
        float w[QK];
        int L[QK];
        for (int j = 0; j < QK; ++j)
            w[j] = h[b * QK + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        if (f == AQ_GGML_LEGACY_Q4_0 || f == AQ_GGML_LEGACY_Q5_0) {
            const int nh = f == AQ_GGML_LEGACY_Q4_0 ? 8 : 16;
            const float d16 = f16r(base_qx(nh, xb, w, L));
            for (int j = 0; j < QK; ++j)
                y[b * QK + j] = (float)(L[j] - nh) * d16;
        } else {
            float the_min;
            const int nmax = f == AQ_GGML_LEGACY_Q4_1 ? 15 : 31;
            const float d16 = f16r(base_qkx3(nmax, xb, w, L, &the_min)), m16 = f16r(-the_min);
            for (int j = 0; j < QK; ++j)
                y[b * QK + j] = (float)L[j] * d16 + m16;
        }
    }
}

/*---------------------------------- driver ----------------------------------*/

typedef struct {
    double num, den;
} sqnr_acc;

static void sqnr_add(sqnr_acc *a, const float *x, const float *y, const float *h, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
        const double w = h ? h[j] : 1.0, e = (double)x[j] - y[j];
        a->num += w * (double)x[j] * x[j];
        a->den += w * e * e;
    }
}

static double sqnr_db(const sqnr_acc *a) {
    return 10.0 * log10(a->num / a->den);
}

typedef struct {
    const float *w, *himp; /* weights [rows, cols]; importance per column [cols] */
    int64_t rows, cols;
} bench_data;

/* Encodes every row with `fn` (importance or NULL), decodes, scores; returns Mw/s. */
static double run_ours(const aq_ggml_legacy_info *fi, aq_ggml_quantize_row_fn fn,
                       const bench_data *d, int use_h, unsigned char *blk, float *y,
                       sqnr_acc *acc) {
    const size_t rb = (size_t)(d->cols / QK) * (size_t)fi->block_bytes;
    double t = 0.0;
    for (int64_t r = 0; r < d->rows; ++r) {
        const double t0 = cpu_now();
        fn(d->w + r * d->cols, use_h ? d->himp : NULL, d->cols, blk + (size_t)r * rb);
        t += cpu_now() - t0;
    }
    for (int64_t r = 0; r < d->rows && acc; ++r) {
        fi->dequantize(blk + (size_t)r * rb, d->cols, y);
        sqnr_add(acc, d->w + r * d->cols, y, d->himp, d->cols);
    }
    return (double)(d->rows * d->cols) / t / 1e6;
}

static double run_base(aq_ggml_legacy_fmt f, const bench_data *d, int use_h, float *y,
                       sqnr_acc *acc) {
    double t = 0.0;
    for (int64_t r = 0; r < d->rows; ++r) {
        const float *x = d->w + r * d->cols;
        const double t0 = cpu_now();
        if (use_h)
            base_imp_row(f, x, d->himp, d->cols, y);
        else
            for (int64_t b = 0; b < d->cols / QK; ++b)
                base_ref_block(f, x + b * QK, y + b * QK);
        t += cpu_now() - t0;
        sqnr_add(acc, x, y, d->himp, d->cols);
    }
    return (double)(d->rows * d->cols) / t / 1e6;
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){1024, 4096, 42, NULL};
    for (int i = 1; i < argc; ++i) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--rows") && v)
            o->rows = strtoll(v, NULL, 10), ++i;
        else if (!strcmp(argv[i], "--cols") && v)
            o->cols = strtoll(v, NULL, 10), ++i;
        else if (!strcmp(argv[i], "--seed") && v)
            o->seed = strtoull(v, NULL, 10), ++i;
        else if (!strcmp(argv[i], "--fmt") && v)
            o->fmt = v, ++i;
        else
            return -1;
    }
    return o->rows > 0 && o->cols > 0 && o->cols % QK == 0 ? 0 : -1;
}

static void bench_format(aq_ggml_legacy_fmt f, const bench_data *d, unsigned char *blk,
                         unsigned char *blk2, float *y) {
    const aq_ggml_legacy_info *fi = aq_ggml_legacy_get(f);
    const size_t bytes = aq_ggml_legacy_row_bytes(f, d->cols) * (size_t)d->rows;
    for (int use_h = 0; use_h < 2; ++use_h) {
        sqnr_acc ours = {0, 0}, base = {0, 0}, other = {0, 0};
        const double ref = run_ours(fi, fi->quantize_ref, d, use_h, blk, y, &ours);
        double v2 = NAN, v512 = NAN;
        int same = 1;
        if (aq_ggml_legacy_isa_supported(2)) {
            v2 = run_ours(fi, fi->quantize_avx2, d, use_h, blk2, y, NULL);
            same &= memcmp(blk, blk2, bytes) == 0;
        }
        if (aq_ggml_legacy_isa_supported(3)) {
            v512 = run_ours(fi, fi->quantize_avx512, d, use_h, blk2, y, NULL);
            same &= memcmp(blk, blk2, bytes) == 0;
        }
        /* The h-weighted score of the encoder run without importance (h = NULL row). */
        if (!use_h) {
            for (int64_t r = 0; r < d->rows; ++r) {
                fi->dequantize(blk + (size_t)r * (bytes / (size_t)d->rows), d->cols, y);
                sqnr_add(&other, d->w + r * d->cols, y, d->himp, d->cols);
            }
        }
        const double vb = run_base(f, d, use_h, y, &base);
        printf("%-5s %-4s  ours %6.2f dB  ggml %6.2f dB  gain %+5.2f dB", fi->name,
               use_h ? "imp" : "none", sqnr_db(&ours), sqnr_db(&base),
               sqnr_db(&ours) - sqnr_db(&base));
        if (!use_h) printf("  (h-weighted: %6.2f dB)", sqnr_db(&other));
        printf("\n      Mw/s/thread: ref %7.1f  avx2 %7.1f  avx512 %7.1f  ggml-rule %7.1f  %s\n",
               ref, v2, v512, vb, same ? "twins bit-identical" : "TWINS DIFFER");
    }
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: aq-bench-ggml [--rows R] [--cols C (multiple of 32)] [--seed S] "
                        "[--fmt q8_0|q4_0|q4_1|q5_0|q5_1]\n");
        return 2;
    }
    const size_t n = (size_t)(o.rows * o.cols);
    float *w = malloc(n * sizeof *w), *h = malloc((size_t)o.cols * sizeof *h);
    float *y = malloc((size_t)o.cols * sizeof *y);
    unsigned char *blk = malloc(n / QK * AQ_GGML_Q8_0_BYTES);
    unsigned char *blk2 = malloc(n / QK * AQ_GGML_Q8_0_BYTES);
    if (!w || !h || !y || !blk || !blk2) {
        fprintf(stderr, "aq-bench-ggml: out of memory\n");
        return 1;
    }
    aq_synth_weights_f32(o.seed, "ggml_legacy.bench", w, n, 0.02f);
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(o.seed, "ggml_legacy.importance"));
    for (int64_t c = 0; c < o.cols; ++c)
        h[c] = (float)exp(1.5 * aq_rng_normal(&r));
    const bench_data d = {w, h, o.rows, o.cols};
    printf("aq-bench-ggml: %lld x %lld Student-t(5) weights, seed %llu; SQNR h-weighted for "
           "'imp' rows\n",
           (long long)o.rows, (long long)o.cols, (unsigned long long)o.seed);
    for (int f = 0; f < AQ_GGML_LEGACY_COUNT; ++f)
        if (!o.fmt || !strcmp(o.fmt, aq_ggml_legacy_get((aq_ggml_legacy_fmt)f)->name))
            bench_format((aq_ggml_legacy_fmt)f, &d, blk, blk2, y);
    free(w), free(h), free(y), free(blk), free(blk2);
    return 0;
}
