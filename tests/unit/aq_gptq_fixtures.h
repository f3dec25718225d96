/* Fixtures shared by the GPTQ unit tests (test_quant_gptq.c, test_quant_gptq_ggml.c): a
 * deterministic xorshift RNG, heavy-tailed weights, correlated-input Hessians H = X^T X / N,
 * the format's arrays with guard bytes, and the output error tr((W - Q) H (W - Q)^T).
 * Header-only (static inline) like aq_check.h: each test program includes it once. */
#ifndef AQ_GPTQ_FIXTURES_H
#define AQ_GPTQ_FIXTURES_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/qformat.h"
#include "aq/quant.h"

static inline uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline double rng_unif(uint64_t *s) {
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double rng_gauss(uint64_t *s) {
    return sqrt(-2.0 * log(rng_unif(s))) * cos(6.283185307179586 * rng_unif(s));
}

/* Weights with a few outliers (heavy tail, as real layers). */
static inline float *make_weights(int64_t rows, int64_t cols, uint64_t seed) {
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (int64_t i = 0; i < rows * cols; ++i) {
        const double g = rng_gauss(&seed);
        w[i] = (float)(0.02 * g * (rng_unif(&seed) < 0.01 ? 6.0 : 1.0));
    }
    return w;
}

/* H = X^T X / N for X [N, cols], x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j, scaled by s_j
 * (log-normal); full symmetric, double accumulation. */
static inline float *make_hessian(int64_t cols, int64_t N, double rho, uint64_t seed) {
    double *acc = calloc((size_t)(cols * cols), sizeof *acc);
    double *x = malloc((size_t)cols * sizeof *x), *sc = malloc((size_t)cols * sizeof *sc);
    ck_assert(acc && x && sc);
    for (int64_t j = 0; j < cols; ++j)
        sc[j] = exp(0.8 * rng_gauss(&seed));
    for (int64_t t = 0; t < N; ++t) {
        double prev = rng_gauss(&seed);
        for (int64_t j = 0; j < cols; ++j) {
            prev = rho * prev + sqrt(1.0 - rho * rho) * rng_gauss(&seed);
            x[j] = prev * sc[j];
        }
        for (int64_t i = 0; i < cols; ++i)
            for (int64_t j = i; j < cols; ++j)
                acc[i * cols + j] += x[i] * x[j];
    }
    float *H = malloc((size_t)(cols * cols) * sizeof *H);
    ck_assert_ptr_nonnull(H);
    for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = i; j < cols; ++j)
            H[i * cols + j] = H[j * cols + i] = (float)(acc[i * cols + j] / (double)N);
    free(acc);
    free(x);
    free(sc);
    return H;
}

static inline float *identity(int64_t n) {
    float *H = calloc((size_t)(n * n), sizeof *H);
    ck_assert_ptr_nonnull(H);
    for (int64_t i = 0; i < n; ++i)
        H[i * n + i] = 1.0f;
    return H;
}

/* The format's arrays for a [rows, cols] tensor. */
typedef struct {
    int n;
    size_t bytes[AQ_QF_MAX_ARRAYS];
    void *arr[AQ_QF_MAX_ARRAYS];
} arrays;

static inline arrays arrays_alloc(const aq_quant_params *p, int64_t rows, int64_t cols) {
    arrays a = {0};
    aq_qarray q[AQ_QF_MAX_ARRAYS];
    a.n = aq_qformat_arrays(p, cols, q);
    ck_assert_int_gt(a.n, 0);
    for (int i = 0; i < a.n; ++i) {
        a.bytes[i] = (size_t)rows * (size_t)q[i].row_elems * aq_elem_size(q[i].elem);
        a.arr[i] = malloc(a.bytes[i] + 1);
        ck_assert_ptr_nonnull(a.arr[i]);
        memset(a.arr[i], 0x5A, a.bytes[i] + 1);
    }
    return a;
}

static inline void arrays_free(arrays *a) {
    for (int i = 0; i < a->n; ++i)
        free(a->arr[i]);
}

static inline int arrays_equal(const arrays *a, const arrays *b) {
    for (int i = 0; i < a->n; ++i)
        if (a->bytes[i] != b->bytes[i] || memcmp(a->arr[i], b->arr[i], a->bytes[i]) != 0) return 0;
    return 1;
}

static inline void guards_intact(const arrays *a) {
    for (int i = 0; i < a->n; ++i)
        ck_assert_uint_eq(((unsigned char *)a->arr[i])[a->bytes[i]], 0x5A);
}

/* tr((W - Q) H (W - Q)^T) with Q decoded from the arrays (double). */
static inline double output_error(const aq_quant_params *p, const arrays *a, const float *W,
                                  const float *H, int64_t rows, int64_t cols) {
    float *q = malloc((size_t)(rows * cols) * sizeof *q);
    double *d = malloc((size_t)cols * sizeof *d);
    ck_assert(q && d);
    aq_qformat_dequantize_rows(p, (const void *const *)a->arr, rows, cols, q);
    double tot = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < cols; ++j)
            d[j] = (double)W[r * cols + j] - (double)q[r * cols + j];
        for (int64_t i = 0; i < cols; ++i) {
            double s = 0.0;
            for (int64_t j = 0; j < cols; ++j)
                s += (double)H[i * cols + j] * d[j];
            tot += d[i] * s;
        }
    }
    free(q);
    free(d);
    return tot;
}

static inline float *diag_of(const float *H, int64_t n) {
    float *h = malloc((size_t)n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (int64_t j = 0; j < n; ++j)
        h[j] = H[j * n + j];
    return h;
}

#endif /* AQ_GPTQ_FIXTURES_H */
