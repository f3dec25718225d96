/*
 * aq-mpi — private kernels of src/quant (not installed, not part of the API).
 *
 * The scalar functions here are the reference for SIMD twins added later beside them
 * (same names with an _avx2 / _avx512 suffix); a twin must give bit-identical codes, so
 * the rounding rule lives in exactly one inline function, aq_code_of().
 */
#ifndef AQ_QUANT_IMPL_H
#define AQ_QUANT_IMPL_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "aq/dq.h"
#include "aq/qformat.h"
#include "aq/quant.h"

#if FLT_EVAL_METHOD != 0
#error "aq_code_of() relies on float arithmetic being evaluated in float (FLT_EVAL_METHOD 0)"
#endif

/* Largest group size, so group-level scratch can live on the stack. */
#define AQ_MAX_GROUP 256

/*! aq_code_of() :
 *  clamp(nearbyintf(v), 0, qmaxf) for the default rounding mode, without a libm call.
 *  Clamping first does not change the result (rounding is monotonic and 0, qmaxf are
 *  integers) and maps NaN to 0, so the float->int conversion is always defined.  Adding
 *  1.5*2^23 moves v (now in [0, 255]) into a binade whose ulp is 1, so the addition itself
 *  rounds to nearest, ties to even, exactly as nearbyintf() would; without -ffast-math the
 *  compiler may not fold the pair away. */
static inline uint8_t aq_code_of(float v, float qmaxf) {
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    v = v > 0.0f ? v : 0.0f;
    v = v < qmaxf ? v : qmaxf;
    return (uint8_t)((v + magic) - magic);
}

/*! aq_qmax() : 2^bits - 1. */
static inline int aq_qmax(int bits) {
    return (1 << bits) - 1;
}

/*! aq_minmax_f32() : smallest and largest of x[0..n) (both 0 when n == 0). */
void aq_minmax_f32(const float *x, int n, float *lo, float *hi);

/*! aq_params_from_range() :
 *  scale = (hi - lo) / qmax and min = lo, both rounded to `d`; scale 0 when hi <= lo or
 *  when the scale rounds to 0 (min is then lo rounded). */
void aq_params_from_range(float lo, float hi, int bits, aq_scale_dtype d, float *scale, float *min);

/*! aq_group_wsse() :
 *  sum_j h_j (x_j - x^_j)^2 (h NULL: all 1) for stored `scale`/`min`, codes by the exact
 *  encoding rule and x^ = min + q * scale in float, as aq_dequantize_row() decodes it. */
double aq_group_wsse(const float *x, const float *h, int n, int bits, float scale, float min);

/*! aq_store_param() / aq_load_param() : element `i` of a scale/min array of dtype `d`
 *  (memcpy, so the caller's array needs no particular alignment). */
void aq_store_param(void *arr, int64_t i, aq_scale_dtype d, float v);
float aq_load_param(const void *arr, int64_t i, aq_scale_dtype d);

/*-*********************************************
 *  Kernel table (runtime dispatch, src/quant/dispatch.c)
 ***********************************************/

/* Double accumulations are split into AQ_LANES interleaved partial sums (element j of a
 * row or group adds to lane j % AQ_LANES, lanes in j order) and the lanes are then added by
 * aq_lanes_sum()'s fixed tree.  This order is the definition; the scalar reference follows
 * it literally and every SIMD twin reproduces it, so results do not depend on the ISA. */
#define AQ_LANES 8

/*! aq_lanes_sum() : ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
static inline double aq_lanes_sum(const double l[AQ_LANES]) {
    double t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
    return (t0 + t2) + (t1 + t3);
}

/* Row error sums, each as AQ_LANES lanes: |W-W^|^2, |W|^2, <W,W^>, |W^|^2, sum h (W-W^)^2,
 * sum h W^2, with a = w, b = w^, d = a - b in double and terms d*d, a*a, a*b, b*b, (h*d)*d,
 * (h*a)*a. */
enum { AQ_ES_E2, AQ_ES_W2, AQ_ES_WV, AQ_ES_V2, AQ_ES_HE2, AQ_ES_HW2, AQ_ES_N };
_Static_assert(sizeof(((aq_qf_sums *)0)->lanes) == AQ_ES_N * AQ_LANES * sizeof(double),
               "aq_qf_sums (aq/qformat.h) holds the AQ_ES_N x AQ_LANES error sums");

/* Code-independent sums of an mse group (double, lane order). */
typedef struct {
    double sh, shx, shxx;
} aq_wconst;

/* The mse candidate evaluation, per candidate c (the reference, aq_mse_eval_ref):
 *   l_j = aq_code_of((x_j - lo_c) * inv_c, qmaxf) as float;
 *   float sums in j order: hl = h_j*l_j (l_j when h is NULL); shl += hl; shll += hl*l_j;
 *   shxl += hl*x_j; then aq_mse_fit() in double. */
typedef struct {
    double s, m, err;
} aq_fit;

/*! aq_mse_fit() : least-squares (s, m) for the candidate's code sums and its closed-form
 *  error; the candidate's own (1/inv, lo) when the fit is degenerate.  Shared by every ISA
 *  (vector twins must evaluate exactly these operations in this order). */
static inline aq_fit aq_mse_fit(const aq_wconst *c, float lo, float inv, float fshl, float fshll,
                                float fshxl) {
    const double shl = fshl, shll = fshll, shxl = fshxl;
    aq_fit f = {(double)(1.0f / inv), (double)lo, 0.0};
    const double det = c->sh * shll - shl * shl;
    if (det > 1e-9 * c->sh * shll) {
        const double rdet = 1.0 / det; /* one division for both unknowns */
        const double s = (c->sh * shxl - shl * c->shx) * rdet;
        if (s > 0.0 && s < (double)INFINITY) {
            f.s = s;
            f.m = (shll * c->shx - shl * shxl) * rdet;
        }
    }
    const double m = f.m, s = f.s;
    const double e = c->shxx - 2.0 * m * c->shx - 2.0 * s * shxl + m * m * c->sh +
                     2.0 * m * s * shl + s * s * shll;
    f.err = e > 0.0 ? e : 0.0;
    return f;
}

/*-*********************************************
 *  Double-quantized ("dq") search kernels (src/quant/dq.c, include/aq/dq.h)
 ***********************************************/

/* Code-independent statistics of one dq group: min and max (each + 0.0f, as
 * aq_minmax_f32()), and the double sums in j order (hj = h_j, or 1.0 without h):
 * sh += hj; shx += hj * xj; shxx += (hj * xj) * xj. */
typedef struct {
    double sh, shx, shxx;
    float lo, hi;
} aq_dq_gstat;

/* Sums of one group for codes l_j (float, j order; hl = h_j * l_j, or l_j without h):
 * shl += hl; shll += hl * l; shxl += hl * x_j. */
typedef struct {
    float shl, shll, shxl;
} aq_dq_csums;

/*! aq_dq_cerr() : sum h (x - m - s l)^2 for the codes of `c`, closed form in double (0 when
 *  rounding makes it negative), written out so that every ISA evaluates the same tree. */
static inline double aq_dq_cerr(const aq_dq_gstat *g, const aq_dq_csums *c, double s, double m) {
    const double e = g->shxx - 2.0 * m * g->shx - 2.0 * s * (double)c->shxl + m * m * g->sh +
                     2.0 * m * s * (double)c->shl + s * s * (double)c->shll;
    return e > 0.0 ? e : 0.0;
}

/*! aq_dq_clampq() : trunc(clamp(v, 0, q)) as an int (NaN -> 0). */
static inline int aq_dq_clampq(float v, int q) {
    v = v > 0.0f ? v : 0.0f;
    v = v < (float)q ? v : (float)q;
    return (int)v;
}

/* Number of sub-code trials of the dq pick for radius r: (2 r + 1)^2. */
#define AQ_DQ_MAX_RADIUS 1

/* Arguments of the dq kernels.  The kernels work on `ng` consecutive groups of exactly `G`
 * weights each (x, h at stride G); per group g they do what the reference (dq.c) does for
 * that group alone, so SIMD twins vectorise across groups (lane = group) and agree bit for
 * bit.  A short last group of a row is passed alone with G = its length. */
typedef struct {
    const float *x, *h; /* h NULL: all 1 */
    int G, ng;
    float qmaxf; /* 2^bits - 1 */
} aq_dq_batch;

/* dq_targets, per group: statistics st[g]; then, unless the group is degenerate
 * (!(hi > lo) or !(sh > 0): s = 0, m = lo, cs = 0), the candidates c = 0..3 with pull factors
 * a = (c & 2 ? 1 - step : 1) at the low end and b = (c & 1 ? 1 - step : 1) at the high end:
 *   mu = (float)(shx / sh) clamped into [lo, hi]; clo = mu + a (lo - mu),
 *   chi = mu + b (hi - mu), inv = qmaxf / (chi - clo),
 *   codes aq_code_of((x - clo) * inv), their csums, aq_mse_fit() -> (s, m, err);
 * the first smallest err wins (c = 0 always taken), then one assign/refit step:
 * clo = (float)best.m, inv = (float)(1.0 / best.s), taken when its err is smaller.
 * Output s[g] = (float)best.s, m[g] = (float)best.m, cs[g] = the winner's code sums. */
typedef void (*aq_dq_targets_fn)(const aq_dq_batch *b, float step, aq_dq_gstat *st, float *s,
                                 float *m, aq_dq_csums *cs);

/* dq_pick, per group, with the group's stored (already float16) d[g], dmin[g]:
 *   id = d > 0 ? 1 / d : 0, im = dmin != 0 ? 1 / dmin : 0 (float);
 *   s0 = trunc(clamp(s * id, 0, subq)), m0 likewise from m * im;
 *   (sc0, mc0) = the first best of (s0 + a, m0 + c) (a, c in {0, 1}, clamped to subq) by
 *     aq_dq_cerr(st, cs_in, d * sc, dmin * mc) (the codes of cs_in held fixed);
 *   trials (sc0 + a, mc0 + c), a outer and c inner in -radius..radius, those in [0, subq]:
 *     scale = d * sc, min = dmin * mc (float), inv = scale > 0 ? 1 / scale : 0, codes
 *     aq_code_of((x - min) * inv), their csums and aq_dq_cerr(st, csums, scale, min); the
 *     first valid trial is taken, later ones when strictly better.
 * Output sc[g], mc[g], the winner's csums cs[g] and error err[g].  (The trials multiply by
 * the inverse: a search step; the stored codes come from the exact rule afterwards.) */
typedef void (*aq_dq_pick_fn)(const aq_dq_batch *b, int subq, int radius, const aq_dq_gstat *st,
                              const float *s, const float *m, const aq_dq_csums *cs_in,
                              const float *d, const float *dmin, uint8_t *sc, uint8_t *mc,
                              aq_dq_csums *cs, double *err);

typedef struct aq_kernels_s {
    const char *name; /* "scalar", "avx2", "avx512" */
    int simd;         /* its aq_simd: AQ_SIMD_SCALAR, AQ_SIMD_AVX2, AQ_SIMD_AVX512 */
    /* aq_convert_to_f32() */
    void (*convert)(aq_dtype dt, const void *src, size_t n, float *dst);
    /* aq_minmax_f32() */
    void (*minmax)(const float *x, int n, float *lo, float *hi);
    /* aq_encode_group() then aq_pack_codes() of the n codes (n <= AQ_MAX_GROUP) */
    void (*encode_pack)(const float *x, int n, int bits, float scale, float min, uint8_t *packed);
    /* out[j] = min + (float)q_j * scale for the n packed codes */
    void (*dequant)(const uint8_t *packed, int n, int bits, float scale, float min, float *out);
    /* adds row elements [j0, j0+n) to lanes (element j0+k to lane (j0+k) % AQ_LANES);
     * j0 % AQ_LANES == 0; h may be NULL (all 1) */
    void (*err_sums)(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]);
    /* aq_group_wsse() with lane order */
    double (*group_wsse)(const float *x, const float *h, int n, int bits, float scale, float min);
    /* aq_round_param() of *s and *m in place */
    void (*round2)(float *s, float *m, aq_scale_dtype d);
    /* the group's aq_wconst: sums of h, h x, (h x) x in the AQ_LANES lane order (h NULL:
     * all 1) */
    void (*wconst)(const float *x, const float *h, int n, aq_wconst *out);
    /* k candidates (lo[c], inv[c]) -> fit[c] as described above */
    void (*mse_eval)(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit);
    /* Row level (the tensor driver):
     * index of the first non-finite w[j], -1 if none */
    int64_t (*first_nonfinite)(const float *w, int64_t n);
    /* aq_group_params_rtn() of every group of the row into s[g], m[g] */
    void (*rtn_params)(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m);
    /* aq_store_param() of s[g], m[g], g < groups, into the scale/min arrays */
    void (*store_params)(const float *s, const float *m, int64_t groups, aq_scale_dtype d,
                         void *scale, void *min);
    /* per group encode_pack with (s[g], m[g]), then the decoded row w^ added to the error
     * sum lanes (err_sums of w and w^, h may be NULL) */
    void (*encode_row)(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]);
    /* The dq search (described above the typedefs) */
    aq_dq_targets_fn dq_targets;
    aq_dq_pick_fn dq_pick;
} aq_kernels_t;

extern const aq_kernels_t aq_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const aq_kernels_t aq_kernels_avx2;
extern const aq_kernels_t aq_kernels_avx512;
#endif

/* Scalar references (simd_ref.c; also the tails of the SIMD twins). */
void aq_encode_pack_ref(const float *x, int n, int bits, float scale, float min, uint8_t *packed);
void aq_dequant_ref(const uint8_t *packed, int n, int bits, float scale, float min, float *out);
void aq_err_sums_ref(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]);
int64_t aq_first_nonfinite_ref(const float *w, int64_t n);
void aq_rtn_params_ref(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m);
void aq_store_params_ref(const float *s, const float *m, int64_t groups, aq_scale_dtype d,
                         void *scale, void *min);
void aq_encode_row_ref(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]);
void aq_wconst_ref(const float *x, const float *h, int n, aq_wconst *out);
void aq_mse_eval_ref(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit);
void aq_dq_targets_ref(const aq_dq_batch *b, float step, aq_dq_gstat *st, float *s, float *m,
                       aq_dq_csums *cs);
void aq_dq_pick_ref(const aq_dq_batch *b, int subq, int radius, const aq_dq_gstat *st,
                    const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                    const float *dmin, uint8_t *sc, uint8_t *mc, aq_dq_csums *cs, double *err);

/*! aq_group_params_mse_k() / aq_quantize_row_k() : the method drivers with kernel table. */
void aq_group_params_mse_k(const aq_kernels_t *k, const float *x, const float *h, int n, int bits,
                           aq_scale_dtype d, float *scale, float *min);
/* The same when *scale / *min already hold the group's rtn parameters (tensor driver). */
void aq_group_params_mse_from_rtn(const aq_kernels_t *k, const float *x, const float *h, int n,
                                  int bits, aq_scale_dtype d, float *scale, float *min);
/* aq_round_param() of both values (reference). */
void aq_round2_ref(float *s, float *m, aq_scale_dtype d);
void aq_quantize_row_k(const aq_kernels_t *k, const aq_quant_params *p, const float *w,
                       int64_t cols, const float *h, uint8_t *codes, void *scale, void *min);
void aq_dequantize_row_k(const aq_kernels_t *k, const aq_quant_params *p, const uint8_t *codes,
                         const void *scale, const void *min, int64_t cols, float *out);

/*-*********************************************
 *  Rows of the format table (qformat.c): plain.c, dq.c, block formats
 ***********************************************/
size_t aq_plain_scratch_bytes(const aq_quant_params *p, int64_t cols);
int64_t aq_plain_quantize_row_qf(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                                 void *const *arr, aq_qf_sums *sums);
void aq_plain_dequantize_row_qf(const aq_qformat *f, const aq_quant_params *p,
                                const void *const *arr, int64_t cols, float *out);
void aq_plain_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size);

size_t aq_dq_scratch_bytes(const aq_quant_params *p, int64_t cols);
int64_t aq_dq_quantize_row_qf(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                              void *const *arr, aq_qf_sums *s);
void aq_dq_dequantize_row_qf(const aq_qformat *f, const aq_quant_params *p, const void *const *arr,
                             int64_t cols, float *out);
void aq_dq_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size);

/*! aq_qf_metrics_from_sums() : the tensor metrics (aq_quant_metrics conventions) from the
 *  AQ_ES_N error sums added over all rows (tensor.c; also GPTQ's driver). */
void aq_qf_metrics_from_sums(const double s[AQ_ES_N], aq_quant_metrics *m);

/*! aq_gptq_hinv_dead_mask() : [n] 1 for a dead column (H_jj = 0), by original column. */
struct aq_gptq_hinv_s;
const unsigned char *aq_gptq_hinv_dead_mask(const struct aq_gptq_hinv_s *hv);

/* GPTQ operations of the rows (gptq_formats.c; aq_qf_gptq in aq/qformat.h). */
extern const aq_qf_gptq aq_plain_gptq, aq_dq_gptq;
/* ... of ggml's block formats (ggml/ggml_gptq.c): the legacy rows, the k-quant rows. */
extern const aq_qf_gptq aq_ggml_legacy_gptq, aq_ggml_kquant_gptq;

/*! aq_dq_fit_super() : the dq search (dq.h) of ONE super-block x[0..n) (n <= 256; a row's
 *  last super-block may be short) with layout L: its stored (float16-rounded) d, dmin and
 *  the scale/min codes sc[g], mc[g] of its ceil(n / G) groups, exactly as aq_dq_quantize_row()
 *  chooses them for that super-block.  @return : 0, or -1 when d/dmin do not fit float16. */
int aq_dq_fit_super(const aq_kernels_t *k, const aq_dq_layout *L, const float *x, const float *h,
                    int n, float *d, float *dmin, uint8_t *sc, uint8_t *mc);
/*! aq_dq_sub_put() : ORs sub code i (sc_0, mc_0, sc_1, ...) of S bits into a zeroed sub row. */
void aq_dq_sub_put(uint8_t *sub, int64_t i, int S, unsigned v);

/* The entries of every block row (AQ_QF_BLOCK_ROW in qformat.c); f->blocks describes it. */
int aq_qf_blocks_arrays(const aq_qformat *f, const aq_quant_params *p, int64_t cols,
                        aq_qarray *out);
int aq_qf_blocks_attrs(const aq_qformat *f, const aq_quant_params *p, aq_qattr *out);
aq_status aq_qf_blocks_read_params(const aq_qformat *f, const aq_qattr_source *src,
                                   aq_quant_params *p, aq_err *err);
aq_status aq_qf_blocks_check(const aq_quant_params *p, aq_err *err);
size_t aq_qf_blocks_scratch_bytes(const aq_quant_params *p, int64_t cols);
void aq_qf_blocks_dequantize_row(const aq_qformat *f, const aq_quant_params *p,
                                 const void *const *arr, int64_t cols, float *out);
void aq_qf_blocks_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size);

/* The kernel tables of ggml's block formats (ggml_rows.c). */
extern const aq_qf_blocks aq_qf_q8_0, aq_qf_q4_0, aq_qf_q4_1, aq_qf_q5_0, aq_qf_q5_1;
extern const aq_qf_blocks aq_qf_q2_k, aq_qf_q3_k, aq_qf_q4_k, aq_qf_q5_k, aq_qf_q6_k;

#endif /* AQ_QUANT_IMPL_H */
