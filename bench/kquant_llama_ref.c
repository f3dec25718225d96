/*
 * aq-mpi bench — llama.cpp's k-quant quantizers re-implemented from their algorithm
 * (source of the algorithm: llama.cpp ggml/src/ggml-quants.c, make_qx_quants,
 * make_q3_quants, make_qkx2_quants, make_qkx3_quants, make_qp_quants and the per-format
 * quantize_row_q*_K_ref / quantize_row_q*_K_impl).  Same float operations in the same
 * order, so the blocks match llama-quantize's (checked against libggml, see
 * docs in the bench's report).  Baseline of bench/bench_kquant.c only.
 */
#include <math.h>
#include <string.h>

#include "aq/dtype.h"
#include "kquant_llama_ref.h"

#define QK 256
#define EPS 1e-15f

/* Round to nearest, ties to even, by the 1.5 * 2^23 trick (|v| < 2^22). */
static int nint(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int imin(int a, int b) {
    return a < b ? a : b;
}
static int imax(int a, int b) {
    return a > b ? a : b;
}

static void f16_put(uint8_t *p, float v) {
    const uint16_t u = aq_f32_to_f16(v);
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
}
static float f16_get(const uint8_t *p) {
    return aq_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* Weight of element i in make_qx_quants for a given rmse type when no qw. */
static float qx_w(const float *qw, const float *x, int i, int type) {
    if (qw) return qw[i];
    switch (type) {
    case 1:
        return x[i] * x[i];
    case 2:
        return 1.0f;
    case 3:
        return fabsf(x[i]);
    default:
        return sqrtf(fabsf(x[i]));
    }
}

/* Symmetric codes L in 0..2 nmax - 1 (value L - nmax); scale grid of 19 candidates. */
static float qx_quants(int n, int nmax, const float *x, int8_t *L, int type, const float *qw) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max, sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = imax(-nmax, imin(nmax - 1, nint(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        const float w = qx_w(qw, x, i, type);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = imax(-nmax, imin(nmax - 1, nint(iscale * x[i])));
            const float w = qx_w(qw, x, i, type);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, nint(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K without imatrix: x^2-weighted coordinate descent on the codes. */
static float q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = imax(-nmax, imin(nmax - 1, nint(iscale * x[i])));
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int it = 0; it < 5; ++it) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int nl = imax(-nmax, imin(nmax - 1, nint(x[i] * sl2 / slx)));
                if (nl != L[i]) {
                    slx += w * x[i] * nl;
                    sl2 += w * nl * nl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)nl;
                        sumlx = slx;
                        suml2 = sl2;
                        ++changed;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Min-offset group fit (make_qkx2_quants with weights, make_qkx3_quants with weights or,
 * when NULL, x^2): returns the scale, *the_min = -min (>= 0). */
static float qkx_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                        float *the_min, float rmin, float rdelta, int nstep, int use_mad, int v3) {
    uint8_t Laux[32];
#define WT(i) (weights ? weights[i] : x[i] * x[i])
    float min = x[0], max = x[0], sum_w = WT(0), sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = WT(i);
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (v3 ? max <= min : max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best = 0.0f;
    for (int i = 0; i < n; ++i) {
        L[i] = (uint8_t)imax(0, imin(nmax, nint(iscale * (x[i] - min))));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best += WT(i) * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = imax(0, imin(nmax, nint(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            const float w = WT(i);
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float ts = (sum_w * sum_xl - sum_x * sum_l) / D;
            float tm = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (tm > 0) {
                tm = 0;
                ts = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; ++i) {
                float diff = ts * Laux[i] + tm - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                err += WT(i) * diff;
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = ts;
                min = tm;
            }
        }
    }
#undef WT
    *the_min = -min;
    return scale;
}

/* Non-negative codes 0..nmax for the group scales/mins, weighted by qw. */
static float qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = max > x[i] ? max : x[i];
    if (max < EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)nint(iscale * x[i]);
    float scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; ++i) {
        const float diff = x[i] - scale * L[i];
        best += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const float isc = (0.1f * is + nmax) / max, sc = 1 / isc;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            const int l = imin(nmax, nint(isc * x[i]));
            const float diff = x[i] - sc * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best) {
            best = mse;
            iscale = isc;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = imin(nmax, nint(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int it = 0; it < 5; ++it) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = qw[i];
            float slx = sumlx - w * x[i] * L[i], sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                const int nl = imin(nmax, nint(x[i] * sl2 / slx));
                if (nl != L[i]) {
                    slx += w * x[i] * nl;
                    sl2 += w * nl * nl;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)nl;
                        sumlx = slx;
                        suml2 = sl2;
                        ++changed;
                    }
                }
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/*-------------------------------- Q2_K --------------------------------*/

static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] =
                (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

static void q2_block(const float *x, const float *qw, uint8_t *b) {
    uint8_t L[QK], Ls[16], Lm[16];
    float scales[16], mins[16], w[16], sw[16];
    if (!qw) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l)
                w[l] = fabsf(x[16 * j + l]);
            scales[j] =
                qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1, 0);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        memset(b, 0, 16);
        if (max_scale > 0) {
            const float is = 15.f / max_scale;
            for (int j = 0; j < 16; ++j)
                b[j] = (uint8_t)nint(is * scales[j]);
            f16_put(b + 80, max_scale / 15.f);
        } else
            f16_put(b + 80, 0.f);
        if (max_min > 0) {
            const float is = 15.f / max_min;
            for (int j = 0; j < 16; ++j)
                b[j] |= (uint8_t)(nint(is * mins[j]) << 4);
            f16_put(b + 82, max_min / 15.f);
        } else
            f16_put(b + 82, 0.f);
    } else {
        float sumx2 = 0;
        for (int j = 0; j < QK; ++j)
            sumx2 += x[j] * x[j];
        const float sigma2 = sumx2 / QK;
        for (int j = 0; j < 16; ++j) {
            sw[j] = 0;
            for (int l = 0; l < 16; ++l)
                w[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            for (int l = 0; l < 16; ++l)
                sw[j] += w[l];
            scales[j] =
                qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, 0, 1);
        }
        const float dm = qp_quants(16, 15, scales, Ls, sw), mm = qp_quants(16, 15, mins, Lm, sw);
        f16_put(b + 80, dm);
        f16_put(b + 82, mm);
        for (int j = 0; j < 16; ++j)
            b[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
    }
    const float d = f16_get(b + 80), dmin = f16_get(b + 82);
    for (int j = 0; j < 16; ++j) {
        const float dd = d * (b[j] & 0xF);
        if (!dd) continue;
        const float m = dmin * (b[j] >> 4);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = (uint8_t)imax(0, imin(3, nint((x[16 * j + i] + m) / dd)));
    }
    pack_2bit(L, b + 16);
}

/*-------------------------------- Q3_K --------------------------------*/

static void q3_block(const float *x, const float *qw, uint8_t *b) {
    int8_t L[QK], Ls[16];
    float scales[16], w[16], sw[16];
    uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    memset(b, 0, 110);
    if (!qw) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            scales[j] = q3_quants(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (max_scale) {
            const float is = -32.f / max_scale;
            for (int j = 0; j < 16; ++j) {
                Ls[j] = (int8_t)(imax(-32, imin(31, (int8_t)nint(is * scales[j]))) + 32);
            }
            f16_put(b + 108, 1 / is);
        } else {
            memset(Ls, 0, sizeof Ls);
            f16_put(b + 108, 0.f);
        }
    } else {
        float sumx2 = 0;
        for (int j = 0; j < QK; ++j)
            sumx2 += x[j] * x[j];
        const float sigma2 = 2 * sumx2 / QK;
        for (int j = 0; j < 16; ++j) {
            float s = 0;
            for (int l = 0; l < 16; ++l)
                w[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            for (int l = 0; l < 16; ++l)
                s += w[l];
            sw[j] = s;
            scales[j] = qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, w);
        }
        f16_put(b + 108, qx_quants(16, 32, scales, Ls, 1, sw));
    }
    for (int j = 0; j < 16; ++j) {
        const int l = (uint8_t)Ls[j];
        if (j < 8)
            sc[j] = (uint8_t)(l & 0xF);
        else
            sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
        sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
    const float d = f16_get(b + 108);
    for (int j = 0; j < 16; ++j) {
        const int s =
            ((j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4) | ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) -
            32;
        const float dd = d * s;
        if (!dd) continue;
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = (int8_t)(imax(-4, imin(3, nint(x[16 * j + i] / dd))) + 4);
    }
    uint8_t U[QK];
    for (int j = 0, m = 0, bit = 1; j < QK; ++j) {
        U[j] = (uint8_t)L[j];
        if (U[j] > 3) {
            hm[m] |= (uint8_t)bit;
            U[j] -= 4;
        }
        if (++m == 32) {
            m = 0;
            bit <<= 1;
        }
    }
    pack_2bit(U, qs);
}

/*-------------------------------- Q4_K / Q5_K --------------------------------*/

static void pack_k4(const uint8_t *Ls, const uint8_t *Lm, uint8_t *s) {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = Ls[j];
            s[j + 4] = Lm[j];
        } else {
            s[j + 4] = (uint8_t)((Ls[j] & 0xF) | (Lm[j] & 0xF) << 4);
            s[j - 4] |= (uint8_t)((Ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((Lm[j] >> 4) << 6);
        }
    }
}

static void get_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void q45_block(const float *x, const float *qw, uint8_t *b, int five) {
    const int nmax = five ? 31 : 15;
    uint8_t L[QK], Ls[8], Lm[8];
    float scales[8], mins[8], w[32], sw[8];
    if (!qw) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l)
                sum_x2 += x[32 * j + l] * x[32 * j + l];
            const float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; ++l)
                w[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] =
                five
                    ? qkx_quants(32, 31, x + 32 * j, w, L + 32 * j, &mins[j], -0.5f, 0.1f, 15, 0, 0)
                    : qkx_quants(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], -1.f, 0.1f, 20, 0, 0);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_s = max_scale > 0 ? 63.f / max_scale : 0.f;
        const float inv_m = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < 8; ++j) {
            const uint8_t ls = (uint8_t)nint(inv_s * scales[j]),
                          lm = (uint8_t)nint(inv_m * mins[j]);
            Ls[j] = ls < 63 ? ls : 63;
            Lm[j] = lm < 63 ? lm : 63;
        }
        f16_put(b, max_scale / 63.f);
        f16_put(b + 2, max_min / 63.f);
    } else {
        float sum_x2 = 0;
        for (int l = 0; l < QK; ++l)
            sum_x2 += x[l] * x[l];
        const float sigma2 = 2 * sum_x2 / QK;
        for (int j = 0; j < 8; ++j) {
            for (int l = 0; l < 32; ++l)
                w[l] = qw[32 * j + l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float s = 0;
            for (int l = 0; l < 32; ++l)
                s += w[l];
            sw[j] = s;
            scales[j] =
                qkx_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -0.9f, 0.05f, 36, 0, 1);
        }
        const float db = qp_quants(8, 63, scales, Ls, sw), mb = qp_quants(8, 63, mins, Lm, sw);
        for (int j = 0; j < 8; ++j) {
            Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
            Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
        }
        f16_put(b, db);
        f16_put(b + 2, mb);
    }
    memset(b + 4, 0, 12);
    pack_k4(Ls, Lm, b + 4);
    const float d = f16_get(b), dmin = f16_get(b + 2);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        get_k4(j, b + 4, &sc, &m);
        const float dd = d * sc;
        if (!dd) continue;
        const float dm = dmin * m;
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = (uint8_t)imax(0, imin(nmax, nint((x[32 * j + i] + dm) / dd)));
    }
    uint8_t *qh = five ? b + 16 : NULL, *qs = b + (five ? 48 : 16);
    if (qh) memset(qh, 0, 32);
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
            int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
            if (qh) {
                if (l1 > 15) {
                    l1 -= 16;
                    qh[l] |= (uint8_t)(1 << (2 * c));
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[l] |= (uint8_t)(2 << (2 * c));
                }
            }
            qs[32 * c + l] = (uint8_t)(l1 | l2 << 4);
        }
}

/*-------------------------------- Q6_K --------------------------------*/

static void q6_block(const float *x, const float *qw, uint8_t *b) {
    int8_t L[QK];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int ib = 0; ib < 16; ++ib) {
        scales[ib] = qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw ? qw + 16 * ib : NULL);
        if (fabsf(scales[ib]) > max_abs) {
            max_abs = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    memset(b, 0, 210);
    if (max_abs < EPS) return;
    const float is = -128.f / max_scale;
    f16_put(b + 208, 1 / is);
    for (int ib = 0; ib < 16; ++ib)
        b[192 + ib] = (uint8_t)(int8_t)imin(127, nint(is * scales[ib]));
    const float d = f16_get(b + 208);
    for (int j = 0; j < 16; ++j) {
        const float dd = d * (int8_t)b[192 + j];
        if (!dd) continue;
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = (int8_t)(imax(-32, imin(31, nint(x[16 * j + i] / dd))) + 32);
    }
    uint8_t *ql = b, *qh = b + 128;
    for (int j = 0; j < QK; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const int a = L[j + l], c = L[j + l + 32], e = L[j + l + 64], f = L[j + l + 96];
            ql[l] = (uint8_t)((a & 0xF) | (e & 0xF) << 4);
            ql[l + 32] = (uint8_t)((c & 0xF) | (f & 0xF) << 4);
            qh[l] = (uint8_t)(a >> 4 | (c >> 4) << 2 | (e >> 4) << 4 | (f >> 4) << 6);
        }
        ql += 64;
        qh += 32;
    }
}

void llref_quantize(int fmt, const float *x, const float *imatrix, int64_t n, void *blocks) {
    static const int bytes[7] = {0, 0, 84, 110, 144, 176, 210};
    uint8_t *b = blocks;
    for (int64_t i = 0; i < n / QK; ++i, b += bytes[fmt]) {
        const float *xs = x + i * QK, *qw = imatrix ? imatrix + i * QK : NULL;
        switch (fmt) {
        case 2:
            q2_block(xs, qw, b);
            break;
        case 3:
            q3_block(xs, qw, b);
            break;
        case 4:
        case 5:
            q45_block(xs, qw, b, fmt == 5);
            break;
        default:
            q6_block(xs, qw, b);
        }
    }
}
