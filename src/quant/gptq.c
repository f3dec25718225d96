/*
 * aq-mpi — GPTQ's factorized Hessian (include/aq/gptq.h): damping, dead columns, activation
 * order, and U (upper, Hd^-1 = U^T U) from R^-1 of the reversed matrix, by the tiled
 * factorization (include/aq/gptq_factor.h) or LAPACK spotrf + strtri (opts.factor).
 */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq.h"
#include "aq/gptq_factor.h"
#include "quant_impl.h"

/* OpenBLAS's thread control (libopenblas, which provides LAPACK here). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

struct aq_gptq_hinv_s {
    int64_t n, dead;
    int form;
    double lambda;
    int64_t *perm;          /* [n] original column processed i-th */
    unsigned char *is_dead; /* [n] by original column */
    float *u;               /* [n, n] row-major, upper triangle, processing order */
};

aq_gptq_opts aq_gptq_opts_default(void) {
    return (aq_gptq_opts){.damp = 0.01,
                          .block = 128,
                          .act_order = 0,
                          .threads = 1,
                          .panel = 96,
                          .factor = AQ_GPTQ_FACTOR_TILED,
                          .form = AQ_GPTQ_FORM_LDL};
}

aq_status aq_gptq_opts_check(const aq_gptq_opts *o, aq_err *err) {
    if (!o) return aq_err_set(err, AQ_E_CONFIG, "gptq: no options given");
    if (!(o->damp > 0.0) || !(o->damp <= 1e3))
        return aq_err_set(err, AQ_E_CONFIG, "quant.gptq_damp = %g: must be in (0, 1000]", o->damp);
    if (o->block < 1 || o->block > 65536)
        return aq_err_set(err, AQ_E_CONFIG, "quant.gptq_block = %d: must be 1..65536", o->block);
    if (o->act_order != 0 && o->act_order != 1)
        return aq_err_set(err, AQ_E_CONFIG, "quant.gptq_act_order = %d: must be 0 or 1",
                          o->act_order);
    if (o->threads < 1)
        return aq_err_set(err, AQ_E_CONFIG, "gptq: threads = %d: must be >= 1", o->threads);
    if (o->panel < 1 || o->panel > 4096)
        return aq_err_set(err, AQ_E_CONFIG, "gptq: panel = %d: must be 1..4096", o->panel);
    if (o->factor != AQ_GPTQ_FACTOR_TILED && o->factor != AQ_GPTQ_FACTOR_LAPACK)
        return aq_err_set(err, AQ_E_CONFIG, "gptq: factor = %d: must be 0 (tiled) or 1 (lapack)",
                          o->factor);
    if (o->form != AQ_GPTQ_FORM_U && o->form != AQ_GPTQ_FORM_LDL)
        return aq_err_set(err, AQ_E_CONFIG, "gptq: form = %d: must be 0 (U) or 1 (LDL)", o->form);
    return AQ_OK;
}

void aq_gptq_hinv_free(aq_gptq_hinv *hv) {
    if (!hv) return;
    free(hv->perm);
    free(hv->is_dead);
    free(hv->u);
    free(hv);
}

int64_t aq_gptq_hinv_cols(const aq_gptq_hinv *hv) {
    return hv->n;
}
int64_t aq_gptq_hinv_dead(const aq_gptq_hinv *hv) {
    return hv->dead;
}
double aq_gptq_hinv_lambda(const aq_gptq_hinv *hv) {
    return hv->lambda;
}
const int64_t *aq_gptq_hinv_perm(const aq_gptq_hinv *hv) {
    return hv->perm;
}
const float *aq_gptq_hinv_u(const aq_gptq_hinv *hv) {
    return hv->u;
}
int aq_gptq_hinv_form(const aq_gptq_hinv *hv) {
    return hv->form;
}
const unsigned char *aq_gptq_hinv_dead_mask(const aq_gptq_hinv *hv) {
    return hv->is_dead;
}

/* The record of aq_gptq_hinv_meta_pack(): a fixed head, then perm [n] and the dead mask [n]. */
typedef struct {
    int64_t n, dead;
    int64_t form;
    double lambda;
} meta_head;

size_t aq_gptq_hinv_meta_bytes(int64_t n) {
    return sizeof(meta_head) + (size_t)n * (sizeof(int64_t) + 1);
}

void aq_gptq_hinv_meta_pack(const aq_gptq_hinv *hv, void *buf) {
    const meta_head h = {hv->n, hv->dead, hv->form, hv->lambda};
    unsigned char *b = buf;
    memcpy(b, &h, sizeof h);
    memcpy(b + sizeof h, hv->perm, (size_t)hv->n * sizeof *hv->perm);
    memcpy(b + sizeof h + (size_t)hv->n * sizeof *hv->perm, hv->is_dead, (size_t)hv->n);
}

static aq_status bad_record(const char *what, size_t bytes, const char *why, aq_err *err) {
    return aq_err_set(err, AQ_E_VALUE, "%s: factorization record of %zu bytes: %s", what, bytes,
                      why);
}

aq_status aq_gptq_hinv_meta_unpack(const void *buf, size_t bytes, const char *what,
                                   aq_gptq_hinv **out, aq_err *err) {
    *out = NULL;
    meta_head h;
    if (bytes < sizeof h) return bad_record(what, bytes, "shorter than its head", err);
    memcpy(&h, buf, sizeof h);
    if (h.n < 1 || h.n > (int64_t)1 << 24 || bytes != aq_gptq_hinv_meta_bytes(h.n))
        return bad_record(what, bytes, "does not hold the n it states", err);
    if (h.form != AQ_GPTQ_FORM_U && h.form != AQ_GPTQ_FORM_LDL)
        return bad_record(what, bytes, "unknown form", err);
    aq_gptq_hinv *hv = calloc(1, sizeof *hv);
    if (hv) {
        hv->perm = malloc((size_t)h.n * sizeof *hv->perm);
        hv->is_dead = malloc((size_t)h.n);
        hv->u = malloc((size_t)h.n * (size_t)h.n * sizeof *hv->u);
    }
    if (!hv || !hv->perm || !hv->is_dead || !hv->u) {
        aq_gptq_hinv_free(hv);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory for a %lld^2 factorization", what,
                          (long long)h.n);
    }
    hv->n = h.n, hv->dead = h.dead, hv->form = (int)h.form, hv->lambda = h.lambda;
    const unsigned char *b = (const unsigned char *)buf + sizeof h;
    memcpy(hv->perm, b, (size_t)h.n * sizeof *hv->perm);
    memcpy(hv->is_dead, b + (size_t)h.n * sizeof *hv->perm, (size_t)h.n);
    unsigned char *seen = calloc((size_t)h.n, 1); /* perm must be a permutation */
    int ok = seen != NULL;
    for (int64_t i = 0; ok && i < h.n; ++i) {
        ok = hv->perm[i] >= 0 && hv->perm[i] < h.n && !seen[hv->perm[i]];
        if (ok) seen[hv->perm[i]] = 1;
    }
    free(seen);
    if (!ok) {
        aq_gptq_hinv_free(hv);
        return bad_record(what, bytes, "perm is not a permutation", err);
    }
    *out = hv;
    return AQ_OK;
}

float *aq_gptq_hinv_u_mut(aq_gptq_hinv *hv) {
    return hv->u;
}

/* Finite upper triangle, non-negative diagonal; dead columns; lambda from the live diagonal
 * as the reference code does (mean over all columns after dead ones are set to 1). */
static aq_status scan(const float *H, aq_gptq_hinv *hv, double damp, const char *name,
                      aq_err *err) {
    const int64_t n = hv->n;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j)
            if (!isfinite(H[i * n + j]))
                return aq_err_set(err, AQ_E_VALUE,
                                  "Hessian of %s: non-finite value %g at [%lld, %lld]", name,
                                  (double)H[i * n + j], (long long)i, (long long)j);
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const float d = H[j * n + j];
        if (d < 0.0f)
            return aq_err_set(err, AQ_E_VALUE,
                              "Hessian of %s: negative diagonal H[%lld, %lld] = %g (not a second "
                              "moment)",
                              name, (long long)j, (long long)j, (double)d);
        hv->is_dead[j] = d == 0.0f;
        hv->dead += hv->is_dead[j];
        sum += hv->is_dead[j] ? 1.0 : (double)d;
    }
    hv->lambda = damp * sum / (double)n;
    return AQ_OK;
}

/* Descending diag H, ties by index (a stable order: the result must not depend on qsort). */
typedef struct {
    float d;
    int64_t j;
} diag_key;

static int cmp_diag(const void *a, const void *b) {
    const diag_key *x = a, *y = b;
    if (x->d != y->d) return x->d > y->d ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

static int order_columns(const float *H, aq_gptq_hinv *hv, int act_order) {
    const int64_t n = hv->n;
    for (int64_t i = 0; i < n; ++i)
        hv->perm[i] = i;
    if (!act_order) return 0;
    diag_key *k = malloc((size_t)n * sizeof *k);
    if (!k) return -1;
    for (int64_t j = 0; j < n; ++j)
        k[j] = (diag_key){hv->is_dead[j] ? 1.0f : H[j * n + j], j};
    qsort(k, (size_t)n, sizeof *k, cmp_diag); /* total order: same result for any qsort */
    for (int64_t i = 0; i < n; ++i)
        hv->perm[i] = k[i].j;
    free(k);
    return 0;
}

/* A = J P^T Hd P J: its lower triangle row-major (= the upper triangle column-major, all that
 * LAPACK's 'U' and the tiled factorization read), in 64 x 64 tiles so that the reads of H's
 * upper triangle (a column of it per row of A) stay in cache; the strictly upper part
 * row-major is zeroed (the factorizations zero or ignore it). */
static void fill_reversed(const float *H, const aq_gptq_hinv *hv, float *A) {
    const int64_t n = hv->n, T = 64;
    for (int64_t a0 = 0; a0 < n; a0 += T) {
        const int64_t a1 = n - a0 < T ? n : a0 + T;
        for (int64_t b0 = 0; b0 <= a0; b0 += T)
            for (int64_t a = a0; a < a1; ++a) {
                const int64_t i = hv->perm[n - 1 - a], b1 = a + 1 < b0 + T ? a + 1 : b0 + T;
                for (int64_t b = b0; b < b1; ++b) {
                    const int64_t j = hv->perm[n - 1 - b];
                    float v;
                    if (i == j)
                        v = (float)((hv->is_dead[i] ? 1.0 : (double)H[i * n + i]) + hv->lambda);
                    else
                        v = i < j ? H[i * n + j] : H[j * n + i];
                    A[a * n + b] = v;
                }
            }
    }
    for (int64_t a = 0; a + 1 < n; ++a)
        memset(A + a * n + a + 1, 0, (size_t)(n - a - 1) * sizeof *A);
}

/* R^-1 (column-major, upper) -> U row-major: the flat reversal (gptq.h); the strictly lower
 * triangle of U then holds the reversed lower part of A: zero it. */
static void reverse_to_u(float *A, int64_t n) {
    const size_t nn = (size_t)n * (size_t)n;
    for (size_t a = 0, b = nn - 1; a < b; ++a, --b) {
        const float t = A[a];
        A[a] = A[b];
        A[b] = t;
    }
    for (int64_t i = 1; i < n; ++i)
        memset(A + i * n, 0, (size_t)i * sizeof *A);
}

/* LDL form: V = J R^T J (upper, Hd = V V^T) -> I + A, A_ij = V_ij / V_jj (i < j), row by
 * row; -1 out of memory. */
static int scale_to_unit(float *V, int64_t n) {
    float *d = malloc((size_t)n * sizeof *d);
    if (!d) return -1;
    for (int64_t j = 0; j < n; ++j)
        d[j] = V[j * n + j];
    for (int64_t i = 0; i < n; ++i) {
        float *v = V + i * n;
        for (int64_t j = i + 1; j < n; ++j)
            v[j] /= d[j];
        v[i] = 1.0f;
    }
    free(d);
    return 0;
}

/* In place: A (= J Hd' J, column-major) -> R^-1 with J Hd' J = R^T R, then U (form U); or R,
 * then V = J R^T J and I + A (form LDL); 0, the order of the failing leading minor, or < 0
 * (out of memory / internal). */
static int64_t factor(float *A, int64_t n, const aq_gptq_opts *o) {
    int64_t info;
    if (o->form == AQ_GPTQ_FORM_LDL) {
        if (o->factor == AQ_GPTQ_FACTOR_TILED) {
            info = aq_chol_tiled(A, n, AQ_GPTQ_TILE, o->threads);
        } else {
            const int saved = openblas_get_num_threads();
            openblas_set_num_threads(o->threads);
            info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n);
            openblas_set_num_threads(saved);
        }
        if (info == 0) {
            reverse_to_u(A, n);
            if (scale_to_unit(A, n) != 0) info = -1;
        }
        return info;
    }
    if (o->factor == AQ_GPTQ_FACTOR_TILED) {
        info = aq_chol_inverse_tiled(A, n, AQ_GPTQ_TILE, o->threads);
    } else {
        const int saved = openblas_get_num_threads();
        openblas_set_num_threads(o->threads);
        info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n);
        if (info == 0 &&
            LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)n, A, (lapack_int)n) != 0)
            info = -3; /* singular R: cannot follow a successful potrf */
        openblas_set_num_threads(saved);
    }
    if (info == 0) reverse_to_u(A, n);
    return info;
}

aq_status aq_gptq_hinv_create(const float *H, int64_t n, const aq_gptq_opts *o, const char *name,
                              aq_gptq_hinv **out, aq_err *err) {
    *out = NULL;
    if (!name) name = "(unnamed)";
    aq_status st = aq_gptq_opts_check(o, err);
    if (st != AQ_OK) return st;
    if (n < 1 || n > (int64_t)1 << 20 || !H)
        return aq_err_set(err, AQ_E_VALUE, "Hessian of %s: bad size %lld or no data", name,
                          (long long)n);
    aq_gptq_hinv *hv = calloc(1, sizeof *hv);
    if (hv) {
        hv->n = n;
        hv->form = o->form;
        hv->perm = malloc((size_t)n * sizeof *hv->perm);
        hv->is_dead = malloc((size_t)n);
        hv->u = malloc((size_t)n * (size_t)n * sizeof *hv->u);
    }
    if (!hv || !hv->perm || !hv->is_dead || !hv->u) {
        aq_gptq_hinv_free(hv);
        return aq_err_set(err, AQ_E_NOMEM, "Hessian of %s: out of memory for %lld x %lld", name,
                          (long long)n, (long long)n);
    }
    st = scan(H, hv, o->damp, name, err);
    if (st == AQ_OK && order_columns(H, hv, o->act_order) != 0)
        st = aq_err_set(err, AQ_E_NOMEM, "Hessian of %s: out of memory", name);
    if (st != AQ_OK) {
        aq_gptq_hinv_free(hv);
        return st;
    }
    fill_reversed(H, hv, hv->u);
    const int64_t info = factor(hv->u, n, o);
    if (info == -1) {
        aq_gptq_hinv_free(hv);
        return aq_err_set(err, AQ_E_NOMEM, "Hessian of %s: out of memory for the factorization",
                          name);
    }
    if (info != 0) {
        /* leading minor a of the reversed matrix: processing position n - a */
        const int64_t col = info > 0 ? hv->perm[n - info] : -1;
        st = aq_err_set(err, AQ_E_VALUE,
                        "Hessian of %s: not positive definite after damping (lambda = %g): the "
                        "Cholesky factorization failed at column %lld; raise quant.gptq_damp",
                        name, hv->lambda, (long long)col);
        aq_gptq_hinv_free(hv);
        return st;
    }
    *out = hv;
    return AQ_OK;
}
