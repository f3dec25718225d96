/*
 * aq-bench-kquant — quality and speed of our ggml k-quant encoders (include/aq/ggml_kquants.h)
 * against llama.cpp's quantizer algorithm (bench/kquant_llama_ref.c, re-implemented; it
 * reproduces libggml's blocks byte for byte).
 *
 * Quality, per format, on (a) Student-t nu = 5 weights with outliers (src/common/synth.c)
 * and (b) every 2-D tensor of a real checkpoint whose rows are a multiple of 256:
 *   SQNR (dB) of the plain encode (no importance; llama.cpp's *_ref path), and the
 *   importance-weighted relative error sum h (x - y)^2 / sum h x^2 of the encode with
 *   importance h (llama.cpp's *_impl path with h as the imatrix).  h_j is per column, drawn
 *   as E[a_j^2] of a heavy-tailed activation: t_5^2 times a log-normal(0, 1) factor.
 * Speed: Mweights per CPU-second of one thread (thread CPU time, robust on a shared machine)
 *   for our ref / AVX2 / AVX-512 and llama.cpp's algorithm,
 *   measured in this run (with importance).
 *
 * Usage: aq-bench-kquant [--model DIR] [--rows R] [--cols C]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/dtype.h"
#include "aq/ggml_kquants.h"
#include "aq/safetensors.h"
#include "aq/synth.h"
#include "kquant_llama_ref.h"

typedef void (*quant_fn)(const float *, const float *, int64_t, void *);

typedef struct {
    const char *name;
    int id, bytes;
    quant_fn q[3]; /* ref, avx2, avx512 */
    void (*dq)(const void *, int64_t, float *);
} fmt;

static const fmt k_fmts[] = {
    {"Q2_K",
     2,
     AQ_GGML_Q2_K_BYTES,
     {aq_ggml_quantize_row_q2_k_ref, aq_ggml_quantize_row_q2_k_avx2,
      aq_ggml_quantize_row_q2_k_avx512},
     aq_ggml_dequantize_row_q2_k},
    {"Q3_K",
     3,
     AQ_GGML_Q3_K_BYTES,
     {aq_ggml_quantize_row_q3_k_ref, aq_ggml_quantize_row_q3_k_avx2,
      aq_ggml_quantize_row_q3_k_avx512},
     aq_ggml_dequantize_row_q3_k},
    {"Q4_K",
     4,
     AQ_GGML_Q4_K_BYTES,
     {aq_ggml_quantize_row_q4_k_ref, aq_ggml_quantize_row_q4_k_avx2,
      aq_ggml_quantize_row_q4_k_avx512},
     aq_ggml_dequantize_row_q4_k},
    {"Q5_K",
     5,
     AQ_GGML_Q5_K_BYTES,
     {aq_ggml_quantize_row_q5_k_ref, aq_ggml_quantize_row_q5_k_avx2,
      aq_ggml_quantize_row_q5_k_avx512},
     aq_ggml_dequantize_row_q5_k},
    {"Q6_K",
     6,
     AQ_GGML_Q6_K_BYTES,
     {aq_ggml_quantize_row_q6_k_ref, aq_ggml_quantize_row_q6_k_avx2,
      aq_ggml_quantize_row_q6_k_avx512},
     aq_ggml_dequantize_row_q6_k},
};
#define N_FMTS 5

/* Error sums over many rows: plain (e, w) and weighted (he, hw), ours and llama's. */
typedef struct {
    double e[2], w, he[2], hw;
} sums;

static void importance_row(const char *name, int64_t cols, float *h) {
    aq_synth_weights_f32(aq_synth_seed_for(99, name), "imp", h, (size_t)cols, 1.0f);
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(98, name));
    for (int64_t j = 0; j < cols; ++j)
        h[j] = h[j] * h[j] * (float)exp(aq_rng_normal(&r)) + 1e-4f;
}

/* Adds row x's errors under both encoders to s. */
static void measure_row(const fmt *f, const float *x, const float *h, int64_t n, uint8_t *b,
                        float *y, sums *s) {
    for (int who = 0; who < 2; ++who)
        for (int imp = 0; imp < 2; ++imp) {
            if (who == 0)
                f->q[0](x, imp ? h : NULL, n, b);
            else
                llref_quantize(f->id, x, imp ? h : NULL, n, b);
            f->dq(b, n, y);
            for (int64_t j = 0; j < n; ++j) {
                const double d = (double)x[j] - y[j];
                if (imp)
                    s->he[who] += h[j] * d * d;
                else
                    s->e[who] += d * d;
            }
        }
    for (int64_t j = 0; j < n; ++j) {
        s->w += (double)x[j] * x[j];
        s->hw += h[j] * (double)x[j] * x[j];
    }
}

static void print_row(const char *set, const fmt *f, const sums *s) {
    const double q0 = -10 * log10(s->e[0] / s->w), q1 = -10 * log10(s->e[1] / s->w);
    const double w0 = s->he[0] / s->hw, w1 = s->he[1] / s->hw;
    printf("| %s | %s | %.2f | %.2f | %.3f | %.4e | %.4e | %.3f |\n", set, f->name, q0, q1,
           s->e[0] / s->e[1], w0, w1, w0 / w1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Mweights/s of one encoder on rows x (rows * cols), best of 3. */
static double speed(const fmt *f, int which, const float *x, const float *h, int64_t rows,
                    int64_t cols, uint8_t *b) {
    double best = INFINITY;
    for (int rep = 0; rep < 3; ++rep) {
        const double t0 = now();
        for (int64_t r = 0; r < rows; ++r) {
            if (which < 3)
                f->q[which](x + r * cols, h, cols, b);
            else
                llref_quantize(f->id, x + r * cols, h, cols, b);
        }
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    return (double)(rows * cols) / best * 1e-6;
}

static int bench_model(const char *dir, uint8_t *b, int64_t maxcols) {
    aq_checkpoint *m = NULL;
    aq_err err = {0};
    if (aq_checkpoint_open(dir, &m, &err) != AQ_OK) {
        fprintf(stderr, "aq-bench-kquant: %s\n", err.msg);
        return 1;
    }
    float *x = malloc((size_t)maxcols * sizeof *x), *y = malloc((size_t)maxcols * sizeof *y);
    float *h = malloc((size_t)maxcols * sizeof *h);
    sums s[N_FMTS];
    memset(s, 0, sizeof s);
    int64_t nw = 0, nt = 0;
    for (size_t i = 0; i < aq_checkpoint_count(m); ++i) {
        const aq_tensor *t = aq_checkpoint_tensor(m, i);
        if (t->ndim != 2 || t->shape[1] % 256 != 0 || t->shape[1] > maxcols) continue;
        const int64_t rows = t->shape[0], cols = t->shape[1];
        importance_row(t->name, cols, h);
        for (int64_t r = 0; r < rows; ++r) {
            aq_convert_to_f32(t->dtype,
                              (const unsigned char *)t->data +
                                  (size_t)(r * cols) * aq_dtype_size(t->dtype),
                              (size_t)cols, x);
            for (int f = 0; f < N_FMTS; ++f)
                measure_row(&k_fmts[f], x, h, cols, b, y, &s[f]);
        }
        nw += rows * cols;
        ++nt;
    }
    printf("\n(real: %lld tensors, %lld weights of %s)\n\n", (long long)nt, (long long)nw, dir);
    for (int f = 0; f < N_FMTS; ++f)
        print_row("real", &k_fmts[f], &s[f]);
    free(x);
    free(y);
    free(h);
    aq_checkpoint_close(m);
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int64_t rows = 64, cols = 4096;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc)
            cols = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: aq-bench-kquant [--model DIR] [--rows R] [--cols C]\n");
            return 2;
        }
    }
    if (rows < 1 || cols < 256 || cols % 256 != 0 || cols > (1 << 20)) {
        fprintf(stderr, "aq-bench-kquant: --cols must be a multiple of 256 (<= 2^20), rows >= 1\n");
        return 2;
    }
    const int64_t maxcols = 1 << 20;
    float *x = malloc((size_t)(rows * cols) * sizeof *x), *h = malloc((size_t)cols * sizeof *h);
    float *y = malloc((size_t)cols * sizeof *y);
    uint8_t *b = malloc((size_t)(maxcols / 256) * 256);
    if (!x || !h || !y || !b) return 1;
    aq_synth_weights_f32(7, "bench_kquant", x, (size_t)(rows * cols), 0.02f);
    importance_row("bench_kquant", cols, h);
    printf("| set | format | SQNR ours dB | SQNR llama dB | MSE ours/llama | w.err ours (h) | "
           "w.err llama (imatrix h) | ours/llama |\n|---|---|---|---|---|---|---|---|\n");
    for (int f = 0; f < N_FMTS; ++f) {
        sums s;
        memset(&s, 0, sizeof s);
        for (int64_t r = 0; r < rows; ++r)
            measure_row(&k_fmts[f], x + r * cols, h, cols, b, y, &s);
        print_row("t5", &k_fmts[f], &s);
    }
    if (model && bench_model(model, b, maxcols) != 0) return 1;
    printf("\n| format | ours ref Mw/s | ours AVX2 | ours AVX-512 | llama.cpp algorithm | "
           "AVX-512/llama |\n|---|---|---|---|---|---|\n");
    for (int f = 0; f < N_FMTS; ++f) {
        double v[4];
        for (int w = 0; w < 4; ++w)
            v[w] = (w == 0 || w == 3 || aq_ggml_kquant_isa(w + 1))
                       ? speed(&k_fmts[f], w, x, h, rows, cols, b)
                       : NAN;
        printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", k_fmts[f].name, v[0], v[1], v[2],
               v[3], v[2] / v[3]);
    }
    free(x);
    free(h);
    free(y);
    free(b);
    return 0;
}
