/*
 * Unit tests of the tiled factorization (include/aq/gptq_factor.h) and of GPTQ's U through it:
 *   - aq_chol_inverse_tiled() equals LAPACK spotrf + strtri (1 OpenBLAS thread) within a tight
 *     relative tolerance, for tile sizes 1, 7, 16, 64 and n that are not multiples of them;
 *   - GPTQ's U from the tiled path (AQ_GPTQ_TILE) equals the LAPACK path's U, for n = 1, 300,
 *     700 (not multiples of the tile; 700 = 2 tiles), act_order on and off, with dead columns;
 *   - bit-identical results for 1, 2 and 3 threads (direct and through aq_gptq_hinv_create);
 *   - the order of the failing leading minor equals LAPACK's; bad arguments.
 */
#include <check.h>

#include "aq_check.h"
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq.h"
#include "aq/gptq_factor.h"

#include "aq_gptq_fixtures.h"

void openblas_set_num_threads(int n);

/* max |a - b| / max |b| over n entries */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double e = fabs((double)a[i] - (double)b[i]), v = fabs((double)b[i]);
        d = e > d ? e : d;
        m = v > m ? v : m;
    }
    return d / m;
}

/* H + lambda I of make_hessian, as a column-major matrix (symmetric: either order). */
static float *damped(int64_t n, uint64_t seed) {
    float *H = make_hessian(n, 2 * n + 50, 0.9, seed);
    double mean = 0.0;
    for (int64_t j = 0; j < n; ++j)
        mean += H[j * n + j] / (double)n;
    for (int64_t j = 0; j < n; ++j)
        H[j * n + j] += (float)(0.01 * mean);
    return H;
}

/* LAPACK reference on one OpenBLAS thread: upper triangle R^-1, strictly lower zeroed. */
static lapack_int lapack_ref(float *A, int64_t n) {
    openblas_set_num_threads(1);
    lapack_int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n);
    if (info == 0)
        ck_assert_int_eq(
            LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)n, A, (lapack_int)n), 0);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t i = j + 1; i < n; ++i)
            A[j * n + i] = 0.0f;
    return info;
}

static const int64_t k_sizes[] = {1, 5, 16, 63, 130};
static const int64_t k_tiles[] = {1, 7, 16, 64};

START_TEST(tiled_equals_lapack) {
    for (int si = 0; si < 5; ++si)
        for (int ti = 0; ti < 4; ++ti) {
            const int64_t n = k_sizes[si], nb = k_tiles[ti];
            const size_t nn = (size_t)(n * n);
            float *A = damped(n, 11 + (uint64_t)si), *B = malloc(nn * sizeof *B);
            ck_assert_ptr_nonnull(B);
            memcpy(B, A, nn * sizeof *A);
            for (int64_t j = 0; j < n; ++j) /* garbage below: must be ignored */
                for (int64_t i = j + 1; i < n; ++i)
                    A[j * n + i] = 1e30f;
            ck_assert_int_eq(aq_chol_inverse_tiled(A, n, nb, 2), 0);
            ck_assert_int_eq(lapack_ref(B, n), 0);
            const double d = rel_diff(A, B, nn);
            ck_assert_msg(d < 1e-5, "n %lld tile %lld: max|dX|/max|X| = %g", (long long)n,
                          (long long)nb, d);
            free(A);
            free(B);
        }
}
END_TEST

START_TEST(threads_give_same_bits) {
    const int64_t n = 150, nb = 16;
    const size_t nn = (size_t)(n * n);
    float *H = damped(n, 5), *ref = malloc(nn * sizeof *ref), *A = malloc(nn * sizeof *A);
    ck_assert(ref && A);
    memcpy(ref, H, nn * sizeof *H);
    ck_assert_int_eq(aq_chol_inverse_tiled(ref, n, nb, 1), 0);
    for (int th = 2; th <= 3; ++th) {
        memcpy(A, H, nn * sizeof *H);
        ck_assert_int_eq(aq_chol_inverse_tiled(A, n, nb, th), 0);
        ck_assert_msg(memcmp(A, ref, nn * sizeof *A) == 0, "%d threads: other bits", th);
    }
    free(H);
    free(ref);
    free(A);
}
END_TEST

/* GPTQ's U: tiled (AQ_GPTQ_TILE) against LAPACK, and 1 / 2 / 3 threads bit for bit. */
START_TEST(gptq_u_tiled_vs_lapack) {
    const int64_t sizes[] = {1, 300, 700};
    for (int si = 0; si < 3; ++si)
        for (int af = 0; af < 4; ++af) { /* act_order x form (U, LDL) */
            const int act = af & 1;
            const int64_t n = sizes[si];
            const size_t nn = (size_t)(n * n);
            float *H = make_hessian(n, 2 * n + 50, 0.9, 17 + (uint64_t)si);
            for (int64_t j = 0; n > 40 && j < n; ++j) /* dead columns 3 and 260 */
                H[3 * n + j] = H[j * n + 3] = H[(n > 260 ? 260 : 4) * n + j] =
                    H[j * n + (n > 260 ? 260 : 4)] = 0.0f;
            aq_gptq_opts o = aq_gptq_opts_default();
            o.act_order = act;
            o.form = af >> 1;
            o.factor = AQ_GPTQ_FACTOR_LAPACK;
            aq_err err = {0};
            aq_gptq_hinv *hl = NULL, *h1 = NULL, *h = NULL;
            ck_assert_int_eq(aq_gptq_hinv_create(H, n, &o, "t", &hl, &err), AQ_OK);
            o.factor = AQ_GPTQ_FACTOR_TILED;
            ck_assert_int_eq(aq_gptq_hinv_create(H, n, &o, "t", &h1, &err), AQ_OK);
            ck_assert_int_eq(aq_gptq_hinv_dead(h1), n > 40 ? 2 : 0);
            ck_assert(memcmp(aq_gptq_hinv_perm(h1), aq_gptq_hinv_perm(hl),
                             (size_t)n * sizeof(int64_t)) == 0);
            const double d = rel_diff(aq_gptq_hinv_u(h1), aq_gptq_hinv_u(hl), nn);
            ck_assert_msg(d < 1e-5, "n %lld act %d: max|dU|/max|U| = %g", (long long)n, act, d);
            for (int th = 2; th <= 3; ++th) {
                o.threads = th;
                ck_assert_int_eq(aq_gptq_hinv_create(H, n, &o, "t", &h, &err), AQ_OK);
                ck_assert_msg(
                    memcmp(aq_gptq_hinv_u(h), aq_gptq_hinv_u(h1), nn * sizeof(float)) == 0,
                    "n %lld act %d: U of %d threads differs from 1 thread", (long long)n, act, th);
                aq_gptq_hinv_free(h);
            }
            aq_gptq_hinv_free(hl);
            aq_gptq_hinv_free(h1);
            free(H);
        }
}
END_TEST

/* I with [[1, 2], [2, 1]] at (k, k+1): the leading minor of order k + 2 is not PD. */
static void indefinite(float *A, int64_t n, int64_t k) {
    memset(A, 0, (size_t)(n * n) * sizeof *A);
    for (int64_t j = 0; j < n; ++j)
        A[j * n + j] = 1.0f;
    A[(k + 1) * n + k] = A[k * n + k + 1] = 2.0f;
}

/* Not positive definite at order k: the tiled path reports LAPACK's k, across tile edges. */
START_TEST(failing_minor_as_lapack) {
    const int64_t n = 40;
    const int64_t at[] = {0, 14, 15, 31, 38};
    float *A = malloc((size_t)(n * n) * sizeof *A);
    ck_assert_ptr_nonnull(A);
    for (int ai = 0; ai < 5; ++ai) {
        indefinite(A, n, at[ai]);
        const lapack_int want = lapack_ref(A, n);
        ck_assert_int_eq(want, at[ai] + 2);
        for (int th = 1; th <= 2; ++th) {
            indefinite(A, n, at[ai]);
            ck_assert_int_eq(aq_chol_inverse_tiled(A, n, 16, th), want);
        }
    }
    free(A);
    float x = 1.0f;
    ck_assert_int_eq(aq_chol_inverse_tiled(NULL, 1, 16, 1), -2);
    ck_assert_int_eq(aq_chol_inverse_tiled(&x, 0, 16, 1), -2);
    ck_assert_int_eq(aq_chol_inverse_tiled(&x, 1, 0, 1), -2);
    ck_assert_int_eq(aq_chol_inverse_tiled(&x, 1, 16, 0), -2);
    ck_assert_int_eq(aq_chol_inverse_tiled(&x, 1, 16, 1), 0);
    ck_assert(x == 1.0f);
    aq_gptq_opts o = aq_gptq_opts_default();
    o.factor = 2;
    aq_err err = {0};
    ck_assert_int_eq(aq_gptq_opts_check(&o, &err), AQ_E_CONFIG);
    ck_assert(strstr(err.msg, "factor") != NULL);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("gptq_factor");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tiled_equals_lapack);
    tcase_add_test(tc, threads_give_same_bits);
    tcase_add_test(tc, gptq_u_tiled_vs_lapack);
    tcase_add_test(tc, failing_minor_as_lapack);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
