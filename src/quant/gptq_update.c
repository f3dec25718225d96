/*
 * aq-mpi — GPTQ's update kernel (aq_gptq_update(), include/aq/gptq.h):
 *     W[r, j] = fmaf(-E[r, k], U[k, j], W[r, j])   for k = 0..K-1 in ascending order.
 * The scalar reference and its AVX2 / AVX-512 twins evaluate exactly this: one fused
 * multiply-add per (r, j, k), k ascending, so they agree bit for bit and a row's result does
 * not depend on how rows and columns are tiled (no BLAS: its summation order is not specified
 * and differs between its small-matrix and blocked paths).  Storing an accumulator to W and
 * loading it again does not change its bits, so K may be cut into chunks too.
 *
 * AVX2 twin, blocked like a GEMM (K. Goto, R. van de Geijn, "Anatomy of high-performance
 * matrix multiplication", ACM TOMS 34(3), 2008), k ascending kept everywhere:
 *   for each chunk of AQ_GPTQ_KC k's:  pack E's rows in tiles of 6, k-major ([k][6]: the
 *     broadcasts read contiguous memory);
 *     for each chunk of AQ_GPTQ_NC columns:  pack U's [kc, nc] panel in strips of 16 columns
 *       ([strip][k][16], zero-padded: U is read in rows of nc contiguous floats, which the
 *       hardware prefetcher streams, instead of 16-float pieces of K rows far apart);
 *       for each strip (kc x 16, in L1) and each tile of 6 rows: a 6 x 16 register tile
 *       (12 accumulators), k innermost; the last strip's columns masked.
 * Without a workspace, or for K < AQ_GPTQ_KMIN (the rank-1 updates inside a block), the
 * unpacked 4 x 16 tiles (the earlier kernel, masked tail).  The AVX-512 twin is the earlier
 * unpacked 4 x 32 kernel (not re-blocked: no AVX-512 host to measure or test it on here;
 * its accumulators now unrolled into registers, a compiler hint that changes no arithmetic).
 * The twins are compiled for their ISA with function target attributes and only called when
 * the kernel set says the CPU has it.
 */
#include <math.h>
#include <stdlib.h>

#include "aq/gptq.h"
#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AQ_GPTQ_X86 1
#endif

enum {
    AQ_GPTQ_KC = 128,  /* k's per packed chunk */
    AQ_GPTQ_NC = 256,  /* columns per packed U panel (KC x NC floats = 128 KB: L2) */
    AQ_GPTQ_MR = 6,    /* rows of the register tile */
    AQ_GPTQ_KMIN = 4,  /* below this K the unpacked kernel */
    AQ_GPTQ_ALIGN = 64 /* workspace alignment (bytes) */
};

size_t aq_gptq_update_ws_floats(int R) {
    const size_t r = R > 0 ? (size_t)R : 0;
    return r * AQ_GPTQ_KC + (size_t)AQ_GPTQ_KC * AQ_GPTQ_NC + AQ_GPTQ_ALIGN / sizeof(float);
}

static void update_ref(int R, int K, int64_t ncols, const float *E, int64_t lde, const float *U,
                       int64_t ldu, float *W, int64_t ldw) {
    for (int r = 0; r < R; ++r) {
        float *w = W + r * ldw;
        const float *e = E + r * lde;
        for (int64_t j = 0; j < ncols; ++j) {
            float acc = w[j];
            for (int k = 0; k < K; ++k)
                acc = fmaf(-e[k], U[k * ldu + j], acc);
            w[j] = acc;
        }
    }
}

#ifdef AQ_GPTQ_X86

#define AQ_AVX2 __attribute__((target("avx2,fma")))
#define AQ_AVX2_INLINE __attribute__((always_inline, target("avx2,fma"))) static inline

/* Masks of the first n (0..16) of 16 lanes, as two 8-lane halves. */
AQ_AVX2_INLINE void lane_masks(int n, __m256i *m0, __m256i *m1) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    *m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), idx);
}

/* The unpacked kernel: rows [0, R) x columns [0, ncols), 4 x 16 tiles, masked tail. */
AQ_AVX2 static void update_avx2_direct(int R, int K, int64_t ncols, const float *E, int64_t lde,
                                       const float *U, int64_t ldu, float *W, int64_t ldw) {
    for (int64_t j = 0; j < ncols; j += 16) {
        const int wn = ncols - j < 16 ? (int)(ncols - j) : 16;
        __m256i m0, m1;
        lane_masks(wn, &m0, &m1);
        int r = 0;
        for (; r + 4 <= R; r += 4) {
            float *w0 = W + r * ldw + j;
            __m256 a[4][2];
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                a[i][0] = _mm256_maskload_ps(w0 + i * ldw, m0);
                a[i][1] = _mm256_maskload_ps(w0 + i * ldw + 8, m1);
            }
            const float *e = E + r * lde;
            for (int k = 0; k < K; ++k) {
                const __m256 u0 = _mm256_maskload_ps(U + k * ldu + j, m0);
                const __m256 u1 = _mm256_maskload_ps(U + k * ldu + j + 8, m1);
#pragma GCC unroll 4
                for (int i = 0; i < 4; ++i) {
                    const __m256 ek = _mm256_broadcast_ss(e + i * lde + k);
                    a[i][0] = _mm256_fnmadd_ps(ek, u0, a[i][0]);
                    a[i][1] = _mm256_fnmadd_ps(ek, u1, a[i][1]);
                }
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                _mm256_maskstore_ps(w0 + i * ldw, m0, a[i][0]);
                _mm256_maskstore_ps(w0 + i * ldw + 8, m1, a[i][1]);
            }
        }
        for (; r < R; ++r) {
            float *w0 = W + r * ldw + j;
            __m256 a0 = _mm256_maskload_ps(w0, m0), a1 = _mm256_maskload_ps(w0 + 8, m1);
            for (int k = 0; k < K; ++k) {
                const __m256 ek = _mm256_broadcast_ss(E + r * lde + k);
                a0 = _mm256_fnmadd_ps(ek, _mm256_maskload_ps(U + k * ldu + j, m0), a0);
                a1 = _mm256_fnmadd_ps(ek, _mm256_maskload_ps(U + k * ldu + j + 8, m1), a1);
            }
            _mm256_maskstore_ps(w0, m0, a0);
            _mm256_maskstore_ps(w0 + 8, m1, a1);
        }
    }
}

/* One MR x 16 register tile over kc packed k's: ep [kc][MR], up [kc][16], W rows at ldw;
 * `full`: all 16 columns, else the masked ones. */
AQ_AVX2_INLINE void tile_avx2(const int MR, const int full, int kc, const float *ep,
                              const float *up, float *w, int64_t ldw, __m256i m0, __m256i m1) {
    __m256 a[AQ_GPTQ_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
        a[i][0] = full ? _mm256_loadu_ps(w + i * ldw) : _mm256_maskload_ps(w + i * ldw, m0);
        a[i][1] = full ? _mm256_loadu_ps(w + i * ldw + 8) : _mm256_maskload_ps(w + i * ldw + 8, m1);
    }
    for (int k = 0; k < kc; ++k) {
        const __m256 u0 = _mm256_load_ps(up + 16 * k), u1 = _mm256_load_ps(up + 16 * k + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
            const __m256 ek = _mm256_broadcast_ss(ep + k * MR + i);
            a[i][0] = _mm256_fnmadd_ps(ek, u0, a[i][0]);
            a[i][1] = _mm256_fnmadd_ps(ek, u1, a[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
        if (full) {
            _mm256_storeu_ps(w + i * ldw, a[i][0]);
            _mm256_storeu_ps(w + i * ldw + 8, a[i][1]);
        } else {
            _mm256_maskstore_ps(w + i * ldw, m0, a[i][0]);
            _mm256_maskstore_ps(w + i * ldw + 8, m1, a[i][1]);
        }
    }
}

/* Dispatch on the tile's rows (1..MR) so that each variant has constant bounds. */
AQ_AVX2 static void tile_full(int mr, int kc, const float *ep, const float *up, float *w,
                              int64_t ldw) {
    const __m256i z = _mm256_setzero_si256();
    switch (mr) {
    case 6:
        tile_avx2(6, 1, kc, ep, up, w, ldw, z, z);
        break;
    case 5:
        tile_avx2(5, 1, kc, ep, up, w, ldw, z, z);
        break;
    case 4:
        tile_avx2(4, 1, kc, ep, up, w, ldw, z, z);
        break;
    case 3:
        tile_avx2(3, 1, kc, ep, up, w, ldw, z, z);
        break;
    case 2:
        tile_avx2(2, 1, kc, ep, up, w, ldw, z, z);
        break;
    default:
        tile_avx2(1, 1, kc, ep, up, w, ldw, z, z);
        break;
    }
}

AQ_AVX2 static void tile_masked(int mr, int kc, const float *ep, const float *up, float *w,
                                int64_t ldw, int wn) {
    __m256i m0, m1;
    lane_masks(wn, &m0, &m1);
    switch (mr) {
    case 6:
        tile_avx2(6, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    case 5:
        tile_avx2(5, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    case 4:
        tile_avx2(4, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    case 3:
        tile_avx2(3, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    case 2:
        tile_avx2(2, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    default:
        tile_avx2(1, 0, kc, ep, up, w, ldw, m0, m1);
        break;
    }
}

/* E[0:R, k0:k0+kc] into ep: tiles of MR rows (the last one shorter), each [kc][mr]. */
static void pack_e(int R, int kc, const float *E, int64_t lde, float *ep) {
    for (int r0 = 0; r0 < R; r0 += AQ_GPTQ_MR) {
        const int mr = R - r0 < AQ_GPTQ_MR ? R - r0 : AQ_GPTQ_MR;
        float *d = ep + (size_t)r0 * (size_t)kc;
        for (int i = 0; i < mr; ++i) {
            const float *e = E + (r0 + i) * lde;
            for (int k = 0; k < kc; ++k)
                d[k * mr + i] = e[k];
        }
    }
}

/* U[0:kc, 0:nc] into up: strips of 16 columns, each [kc][16], zero-padded. */
AQ_AVX2 static void pack_u(int kc, int nc, const float *U, int64_t ldu, float *up) {
    for (int k = 0; k < kc; ++k) {
        const float *u = U + k * ldu;
        int j = 0;
        for (; j + 16 <= nc; j += 16) {
            float *d = up + (size_t)(j / 16) * (size_t)kc * 16 + (size_t)k * 16;
            _mm256_store_ps(d, _mm256_loadu_ps(u + j));
            _mm256_store_ps(d + 8, _mm256_loadu_ps(u + j + 8));
        }
        if (j < nc) {
            float *d = up + (size_t)(j / 16) * (size_t)kc * 16 + (size_t)k * 16;
            for (int c = 0; c < 16; ++c)
                d[c] = j + c < nc ? u[j + c] : 0.0f;
        }
    }
}

AQ_AVX2 static void update_avx2_packed(int R, int K, int64_t ncols, const float *E, int64_t lde,
                                       const float *U, int64_t ldu, float *W, int64_t ldw,
                                       float *ws) {
    float *up = (float *)(((uintptr_t)ws + AQ_GPTQ_ALIGN - 1) & ~(uintptr_t)(AQ_GPTQ_ALIGN - 1));
    float *ep = up + (size_t)AQ_GPTQ_KC * AQ_GPTQ_NC;
    for (int k0 = 0; k0 < K; k0 += AQ_GPTQ_KC) {
        const int kc = K - k0 < AQ_GPTQ_KC ? K - k0 : AQ_GPTQ_KC;
        pack_e(R, kc, E + k0, lde, ep);
        for (int64_t j0 = 0; j0 < ncols; j0 += AQ_GPTQ_NC) {
            const int nc = ncols - j0 < AQ_GPTQ_NC ? (int)(ncols - j0) : AQ_GPTQ_NC;
            pack_u(kc, nc, U + k0 * ldu + j0, ldu, up);
            for (int s = 0; s * 16 < nc; ++s) {
                const float *us = up + (size_t)s * (size_t)kc * 16;
                const int wn = nc - s * 16 < 16 ? nc - s * 16 : 16;
                for (int r0 = 0; r0 < R; r0 += AQ_GPTQ_MR) {
                    const int mr = R - r0 < AQ_GPTQ_MR ? R - r0 : AQ_GPTQ_MR;
                    const float *et = ep + (size_t)r0 * (size_t)kc;
                    float *w = W + r0 * ldw + j0 + s * 16;
                    if (wn == 16)
                        tile_full(mr, kc, et, us, w, ldw);
                    else
                        tile_masked(mr, kc, et, us, w, ldw, wn);
                }
            }
        }
    }
}

__attribute__((target("avx512f,fma"))) static void update_avx512(int R, int K, int64_t ncols,
                                                                 const float *E, int64_t lde,
                                                                 const float *U, int64_t ldu,
                                                                 float *W, int64_t ldw) {
    const int64_t jv = ncols - ncols % 32;
    for (int64_t j = 0; j < jv; j += 32) {
        int r = 0;
        for (; r + 4 <= R; r += 4) {
            float *w0 = W + r * ldw + j;
            __m512 a[4][2];
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                a[i][0] = _mm512_loadu_ps(w0 + i * ldw);
                a[i][1] = _mm512_loadu_ps(w0 + i * ldw + 16);
            }
            const float *e = E + r * lde;
            for (int k = 0; k < K; ++k) {
                const __m512 u0 = _mm512_loadu_ps(U + k * ldu + j);
                const __m512 u1 = _mm512_loadu_ps(U + k * ldu + j + 16);
#pragma GCC unroll 4
                for (int i = 0; i < 4; ++i) {
                    const __m512 ek = _mm512_set1_ps(e[i * lde + k]);
                    a[i][0] = _mm512_fnmadd_ps(ek, u0, a[i][0]);
                    a[i][1] = _mm512_fnmadd_ps(ek, u1, a[i][1]);
                }
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                _mm512_storeu_ps(w0 + i * ldw, a[i][0]);
                _mm512_storeu_ps(w0 + i * ldw + 16, a[i][1]);
            }
        }
        for (; r < R; ++r) {
            float *w0 = W + r * ldw + j;
            __m512 a0 = _mm512_loadu_ps(w0), a1 = _mm512_loadu_ps(w0 + 16);
            for (int k = 0; k < K; ++k) {
                const __m512 ek = _mm512_set1_ps(E[r * lde + k]);
                a0 = _mm512_fnmadd_ps(ek, _mm512_loadu_ps(U + k * ldu + j), a0);
                a1 = _mm512_fnmadd_ps(ek, _mm512_loadu_ps(U + k * ldu + j + 16), a1);
            }
            _mm512_storeu_ps(w0, a0);
            _mm512_storeu_ps(w0 + 16, a1);
        }
    }
    if (jv < ncols) update_ref(R, K, ncols - jv, E, lde, U + jv, ldu, W + jv, ldw);
}
#endif

void aq_gptq_update_ws(const aq_kernels *k, int R, int K, int64_t ncols, const float *E,
                       int64_t lde, const float *U, int64_t ldu, float *W, int64_t ldw, float *ws) {
    const aq_kernels_t *kt = k ? k : aq_kernels_select(0);
    if (R <= 0 || K <= 0 || ncols <= 0) return;
#ifdef AQ_GPTQ_X86
    if (kt && kt->simd == AQ_SIMD_AVX512) {
        update_avx512(R, K, ncols, E, lde, U, ldu, W, ldw);
        return;
    }
    if (kt && kt->simd == AQ_SIMD_AVX2) {
        if (ws && K >= AQ_GPTQ_KMIN)
            update_avx2_packed(R, K, ncols, E, lde, U, ldu, W, ldw, ws);
        else
            update_avx2_direct(R, K, ncols, E, lde, U, ldu, W, ldw);
        return;
    }
#else
    (void)kt;
    (void)ws;
#endif
    update_ref(R, K, ncols, E, lde, U, ldu, W, ldw);
}

void aq_gptq_update(const aq_kernels *k, int R, int K, int64_t ncols, const float *E, int64_t lde,
                    const float *U, int64_t ldu, float *W, int64_t ldw) {
    if (R <= 0 || K <= 0 || ncols <= 0) return;
    /* no workspace (out of memory): the unpacked kernels, same bits */
    float *ws = K >= AQ_GPTQ_KMIN ? malloc(aq_gptq_update_ws_floats(R) * sizeof *ws) : NULL;
    aq_gptq_update_ws(k, R, K, ncols, E, lde, U, ldu, W, ldw, ws);
    free(ws);
}
