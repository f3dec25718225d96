/*
 * aq-mpi — the quantization-format table (include/aq/qformat.h): one row per format,
 * designated initializers, and the functions that read it.
 */
#include <stdio.h>
#include <string.h>

#include "aq/dq.h"
#include "quant_impl.h"

/* Weights per block of ggml's legacy formats, the fallback of the k-quants. */
#define AQ_GGML_BLOCK_32 32

size_t aq_elem_size(aq_elem e) {
    return e == AQ_ELEM_U8 ? 1 : e == AQ_ELEM_F16 ? 2 : 4;
}

/*-*********************************************
 *  Parameter checks
 ***********************************************/

static int is_valid_group_size(int g) {
    return g == 16 || g == 32 || g == 64 || g == 128 || g == 256;
}

static aq_status check_group_and_method(const aq_quant_params *p, aq_err *err) {
    if (!is_valid_group_size(p->group_size))
        return aq_err_set(err, AQ_E_CONFIG, "quant.group_size = %d: must be 16, 32, 64, 128 or 256",
                          p->group_size);
    if (p->method != AQ_METHOD_RTN && p->method != AQ_METHOD_MSE)
        return aq_err_set(err, AQ_E_CONFIG, "quant.method = %d: must be rtn or mse",
                          (int)p->method);
    return AQ_OK;
}

static aq_status plain_check(const aq_quant_params *p, aq_err *err) {
    if (p->bits == 3)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.bits = 3 needs quant.scale_dtype = dq (3-bit codes exist only "
                          "in the double-quantized layout)");
    if (p->bits != 2 && p->bits != 4 && p->bits != 8)
        return aq_err_set(err, AQ_E_CONFIG, "quant.bits = %d: must be 2, 4 or 8 (3 with dq)",
                          p->bits);
    return check_group_and_method(p, err);
}

static aq_status dq_check(const aq_quant_params *p, aq_err *err) {
    if (p->bits != 2 && p->bits != 3 && p->bits != 4 && p->bits != 8)
        return aq_err_set(err, AQ_E_CONFIG, "quant.bits = %d: must be 2, 4 or 8 (3 with dq)",
                          p->bits);
    aq_status st = check_group_and_method(p, err);
    if (st != AQ_OK) return st;
    if (p->method != AQ_METHOD_MSE)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.scale_dtype = dq searches its own parameters by weighted mse: "
                          "set quant.method = mse");
    /* Every valid bits / group_size above is a valid dq layout (aq_dq_layout_check); only
     * the width of the group codes is left. */
    if (p->dq_bits != 0 && (p->dq_bits < 4 || p->dq_bits > 8))
        return aq_err_set(err, AQ_E_CONFIG, "quant.dq_bits = %d: must be 0 (default) or 4..8",
                          p->dq_bits);
    return AQ_OK;
}

/*-*********************************************
 *  Arrays and attributes
 ***********************************************/

static int plain_arrays(const aq_qformat *f, const aq_quant_params *p, int64_t cols,
                        aq_qarray *out) {
    (void)f;
    const int64_t groups = aq_groups_per_row(cols, p->group_size);
    const aq_elem e = p->scale_dtype == AQ_SCALE_F32 ? AQ_ELEM_F32 : AQ_ELEM_F16;
    out[0] = (aq_qarray){"codes", AQ_ELEM_U8, (int64_t)aq_packed_row_bytes(cols, p->bits),
                         cols * p->bits};
    out[1] = (aq_qarray){"scale", e, groups, 0};
    out[2] = (aq_qarray){"min", e, groups, 0};
    return 3;
}

static int dq_arrays(const aq_qformat *f, const aq_quant_params *p, int64_t cols, aq_qarray *out) {
    (void)f;
    const aq_dq_layout L = aq_quant_dq_layout(p);
    const int64_t supers = aq_dq_supers(cols);
    out[0] = (aq_qarray){"codes", AQ_ELEM_U8, (int64_t)aq_packed_row_bytes(cols, p->bits),
                         cols * p->bits};
    out[1] = (aq_qarray){"sub", AQ_ELEM_U8, (int64_t)aq_dq_sub_row_bytes(cols, &L),
                         2 * aq_dq_groups(cols, &L) * L.sub_bits};
    out[2] = (aq_qarray){"super_scale", AQ_ELEM_F16, supers, 0};
    out[3] = (aq_qarray){"super_min", AQ_ELEM_F16, supers, 0};
    return 4;
}

/* The attributes of the plain layouts, in the order files have always had them. */
static int plain_attrs(const aq_qformat *f, const aq_quant_params *p, aq_qattr *out) {
    out[0] = (aq_qattr){"bits", NULL, p->bits};
    out[1] = (aq_qattr){"group_size", NULL, p->group_size};
    out[2] = (aq_qattr){"method", aq_method_name(p->method), 0};
    out[3] = (aq_qattr){f->id_attr, f->id_value, 0};
    out[4] = (aq_qattr){"packing", "lsb-first-row-aligned", 0};
    return 5;
}

static int dq_attrs(const aq_qformat *f, const aq_quant_params *p, aq_qattr *out) {
    const int n = plain_attrs(f, p, out);
    out[n] = (aq_qattr){"dq_bits", NULL, aq_quant_dq_layout(p).sub_bits};
    out[n + 1] = (aq_qattr){"super_size", NULL, AQ_DQ_SUPER};
    return n + 2;
}

static aq_status missing(aq_err *err, const char *what) {
    return aq_err_set(err, AQ_E_FORMAT, "attribute %s missing or invalid", what);
}

static aq_status plain_read_params(const aq_qformat *f, const aq_qattr_source *src,
                                   aq_quant_params *p, aq_err *err) {
    char buf[64];
    int32_t v = 0;
    *p = (aq_quant_params){0};
    p->scale_dtype = f == aq_qformat_get(AQ_QFMT_F32) ? AQ_SCALE_F32 : AQ_SCALE_F16;
    if (src->num(src->ctx, "bits", &v) != 0) return missing(err, "bits");
    p->bits = v;
    if (src->num(src->ctx, "group_size", &v) != 0) return missing(err, "group_size");
    p->group_size = v;
    /* method does not change the decode; rtn when absent or unknown (aq-inspect says so) */
    p->method = src->str(src->ctx, "method", buf, sizeof buf) == 0 && !strcmp(buf, "mse")
                    ? AQ_METHOD_MSE
                    : AQ_METHOD_RTN;
    if (src->str(src->ctx, "packing", buf, sizeof buf) != 0 ||
        strcmp(buf, "lsb-first-row-aligned") != 0)
        return missing(err, "packing (lsb-first-row-aligned)");
    return AQ_OK;
}

static aq_status dq_read_params(const aq_qformat *f, const aq_qattr_source *src, aq_quant_params *p,
                                aq_err *err) {
    aq_status st = plain_read_params(f, src, p, err);
    if (st != AQ_OK) return st;
    p->scale_dtype = AQ_SCALE_DQ;
    p->method = AQ_METHOD_MSE;
    int32_t v = 0;
    if (src->num(src->ctx, "dq_bits", &v) != 0 || v < 4 || v > 8) return missing(err, "dq_bits");
    p->dq_bits = v;
    if (src->num(src->ctx, "super_size", &v) != 0 || v != AQ_DQ_SUPER)
        return missing(err, "super_size (256)");
    return AQ_OK;
}

/*-*********************************************
 *  Block formats (ggml's layouts): one uint8 array "blocks" [rows, cols / E * B]
 ***********************************************/

int aq_qf_blocks_arrays(const aq_qformat *f, const aq_quant_params *p, int64_t cols,
                        aq_qarray *out) {
    (void)p;
    const aq_qf_blocks *b = f->blocks;
    out[0] = (aq_qarray){"blocks", AQ_ELEM_U8, cols / b->block_elems * (int64_t)b->block_bytes, 0};
    return 1;
}

/* bits: the format's nominal code width (what aq-eval and the summary print). */
int aq_qf_blocks_attrs(const aq_qformat *f, const aq_quant_params *p, aq_qattr *out) {
    (void)p;
    out[0] = (aq_qattr){"bits", NULL, f->widths[0]};
    out[1] = (aq_qattr){f->id_attr, f->id_value, 0};
    out[2] = (aq_qattr){"block_size", NULL, (int32_t)f->blocks->block_elems};
    return 3;
}

aq_status aq_qf_blocks_read_params(const aq_qformat *f, const aq_qattr_source *src,
                                   aq_quant_params *p, aq_err *err) {
    int32_t v = 0;
    *p = (aq_quant_params){0};
    p->format = aq_qformat_by_name(f->id_value);
    p->bits = f->widths[0];
    if (src->num(src->ctx, "block_size", &v) != 0 || v != f->blocks->block_elems)
        return missing(err, "block_size");
    return AQ_OK;
}

aq_status aq_qf_blocks_check(const aq_quant_params *p, aq_err *err) {
    (void)p;
    (void)err;
    return AQ_OK; /* the row length is checked per tensor (row_multiple) */
}

size_t aq_qf_blocks_scratch_bytes(const aq_quant_params *p, int64_t cols) {
    (void)p;
    return (size_t)cols * sizeof(float);
}

void aq_qf_blocks_dequantize_row(const aq_qformat *f, const aq_quant_params *p,
                                 const void *const *arr, int64_t cols, float *out) {
    (void)p;
    f->blocks->dequantize(arr[0], cols, out);
}

void aq_qf_blocks_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size) {
    (void)p;
    snprintf(buf, size, "block at column %lld: its scales do not fit float16", (long long)col);
}

/* A table row for block kernels K (an aq_qf_blocks of ELEMS weights per block, ggml_rows.c)
 * named NAME ("q4_k"), nominal code width BITS, GPTQ operations GQ (ggml/ggml_gptq.c); the
 * file names it with the attribute format = NAME.
 */
#define AQ_QF_BLOCK_ROW(NAME, BITS, ELEMS, K, GQ)                                                  \
    {                                                                                              \
        .name = NAME, .id_attr = "format", .id_value = NAME, .tag = " " NAME,                      \
        .widths = (const int[]){BITS}, .n_widths = 1, .row_multiple = (ELEMS),                     \
        .arrays = aq_qf_blocks_arrays, .attrs = aq_qf_blocks_attrs,                                \
        .read_params = aq_qf_blocks_read_params, .check = aq_qf_blocks_check,                      \
        .scratch_bytes = aq_qf_blocks_scratch_bytes, .quantize_row = aq_qf_blocks_quantize_row,    \
        .dequantize_row = aq_qf_blocks_dequantize_row, .overflow_msg = aq_qf_blocks_overflow_msg,  \
        .blocks = (K), .gptq = (GQ)                                                                \
    }

/*-*********************************************
 *  The table
 ***********************************************/

static const int PLAIN_WIDTHS[] = {2, 4, 8}, DQ_WIDTHS[] = {2, 3, 4, 8};

static const aq_qformat k_formats[AQ_QFMT_N] = {
    [AQ_QFMT_F16] = {.name = "f16",
                     .id_attr = "scale_dtype",
                     .id_value = "f16",
                     .tag = "",
                     .widths = PLAIN_WIDTHS,
                     .n_widths = 3,
                     .row_multiple = 1,
                     .arrays = plain_arrays,
                     .attrs = plain_attrs,
                     .read_params = plain_read_params,
                     .check = plain_check,
                     .scratch_bytes = aq_plain_scratch_bytes,
                     .quantize_row = aq_plain_quantize_row_qf,
                     .dequantize_row = aq_plain_dequantize_row_qf,
                     .overflow_msg = aq_plain_overflow_msg,
                     .gptq = &aq_plain_gptq},
    [AQ_QFMT_F32] = {.name = "f32",
                     .id_attr = "scale_dtype",
                     .id_value = "f32",
                     .tag = "",
                     .widths = PLAIN_WIDTHS,
                     .n_widths = 3,
                     .row_multiple = 1,
                     .arrays = plain_arrays,
                     .attrs = plain_attrs,
                     .read_params = plain_read_params,
                     .check = plain_check,
                     .scratch_bytes = aq_plain_scratch_bytes,
                     .quantize_row = aq_plain_quantize_row_qf,
                     .dequantize_row = aq_plain_dequantize_row_qf,
                     .overflow_msg = aq_plain_overflow_msg,
                     .gptq = &aq_plain_gptq},
    [AQ_QFMT_DQ] = {.name = "dq",
                    .id_attr = "scale_dtype",
                    .id_value = "dq",
                    .tag = " dq",
                    .widths = DQ_WIDTHS,
                    .n_widths = 4,
                    .row_multiple = 1,
                    .arrays = dq_arrays,
                    .attrs = dq_attrs,
                    .read_params = dq_read_params,
                    .check = dq_check,
                    .scratch_bytes = aq_dq_scratch_bytes,
                    .quantize_row = aq_dq_quantize_row_qf,
                    .dequantize_row = aq_dq_dequantize_row_qf,
                    .overflow_msg = aq_dq_overflow_msg,
                    .gptq = &aq_dq_gptq},
    [AQ_QFMT_Q8_0] = AQ_QF_BLOCK_ROW("q8_0", 8, 32, &aq_qf_q8_0, &aq_ggml_legacy_gptq),
    [AQ_QFMT_Q4_0] = AQ_QF_BLOCK_ROW("q4_0", 4, 32, &aq_qf_q4_0, &aq_ggml_legacy_gptq),
    [AQ_QFMT_Q4_1] = AQ_QF_BLOCK_ROW("q4_1", 4, 32, &aq_qf_q4_1, &aq_ggml_legacy_gptq),
    [AQ_QFMT_Q5_0] = AQ_QF_BLOCK_ROW("q5_0", 5, 32, &aq_qf_q5_0, &aq_ggml_legacy_gptq),
    [AQ_QFMT_Q5_1] = AQ_QF_BLOCK_ROW("q5_1", 5, 32, &aq_qf_q5_1, &aq_ggml_legacy_gptq),
    [AQ_QFMT_Q2_K] = AQ_QF_BLOCK_ROW("q2_k", 2, 256, &aq_qf_q2_k, &aq_ggml_kquant_gptq),
    [AQ_QFMT_Q3_K] = AQ_QF_BLOCK_ROW("q3_k", 3, 256, &aq_qf_q3_k, &aq_ggml_kquant_gptq),
    [AQ_QFMT_Q4_K] = AQ_QF_BLOCK_ROW("q4_k", 4, 256, &aq_qf_q4_k, &aq_ggml_kquant_gptq),
    [AQ_QFMT_Q5_K] = AQ_QF_BLOCK_ROW("q5_k", 5, 256, &aq_qf_q5_k, &aq_ggml_kquant_gptq),
    [AQ_QFMT_Q6_K] = AQ_QF_BLOCK_ROW("q6_k", 6, 256, &aq_qf_q6_k, &aq_ggml_kquant_gptq),
};

const aq_qformat *aq_qformat_get(int id) {
    return id > AQ_QFMT_AUTO && id < AQ_QFMT_N && k_formats[id].name ? &k_formats[id] : NULL;
}

/* The only place that maps params (quant.format, else quant.scale_dtype) to a row. */
const aq_qformat *aq_qformat_of(const aq_quant_params *p) {
    if (!p) return NULL;
    if (p->format) {
        const aq_qformat *f = aq_qformat_get(p->format);
        return f && f->blocks ? f : NULL;
    }
    switch (p->scale_dtype) {
    case AQ_SCALE_F16:
        return aq_qformat_get(AQ_QFMT_F16);
    case AQ_SCALE_F32:
        return aq_qformat_get(AQ_QFMT_F32);
    case AQ_SCALE_DQ:
        return aq_qformat_get(AQ_QFMT_DQ);
    }
    return NULL;
}

int aq_qformat_by_name(const char *name) {
    for (int id = AQ_QFMT_AUTO + 1; name && id < AQ_QFMT_N; ++id)
        if (k_formats[id].blocks && !strcmp(k_formats[id].id_value, name)) return id;
    return 0;
}

int aq_qformat_fallback(int id, int64_t cols) {
    const aq_qformat *f = aq_qformat_get(id);
    if (!f || !f->blocks) return 0;
    if (cols > 0 && cols % f->row_multiple == 0) return id;
    if (cols <= 0 || cols % AQ_GGML_BLOCK_32 != 0) return 0;
    switch (id) {
    case AQ_QFMT_Q2_K:
    case AQ_QFMT_Q3_K:
        return AQ_QFMT_Q4_0;
    case AQ_QFMT_Q4_K:
        return AQ_QFMT_Q5_0;
    case AQ_QFMT_Q5_K:
        return AQ_QFMT_Q5_1;
    case AQ_QFMT_Q6_K:
        return AQ_QFMT_Q8_0;
    default:
        return 0; /* not reached: every legacy format has 32-weight blocks */
    }
}

int aq_qformat_budget_candidates(int id, int64_t cols, int out[AQ_QF_MAX_CANDIDATES]) {
    static const int kchain[] = {AQ_QFMT_Q2_K, AQ_QFMT_Q3_K, AQ_QFMT_Q4_K,
                                 AQ_QFMT_Q5_K, AQ_QFMT_Q6_K, AQ_QFMT_Q8_0};
    static const int lchain[] = {AQ_QFMT_Q4_0, AQ_QFMT_Q4_1, AQ_QFMT_Q5_0, AQ_QFMT_Q5_1,
                                 AQ_QFMT_Q8_0};
    const int base = aq_qformat_fallback(id, cols);
    if (!base) return 0;
    const int kquant = base >= AQ_QFMT_Q2_K && base <= AQ_QFMT_Q6_K;
    const int *chain = kquant ? kchain : lchain;
    const int len =
        kquant ? (int)(sizeof kchain / sizeof *kchain) : (int)(sizeof lchain / sizeof *lchain);
    int n = 0, on = 0;
    for (int i = 0; i < len; ++i) {
        on |= chain[i] == base;
        if (on) out[n++] = chain[i];
    }
    return n;
}

aq_status aq_quant_params_check(const aq_quant_params *p, aq_err *err) {
    if (!p) return aq_err_set(err, AQ_E_CONFIG, "quant: no parameters given");
    const aq_qformat *f = aq_qformat_of(p);
    if (!f && p->format)
        return aq_err_set(err, AQ_E_CONFIG, "quant.format = %d: not a block format", p->format);
    if (!f)
        return aq_err_set(err, AQ_E_CONFIG, "quant.scale_dtype = %d: must be f16, f32 or dq",
                          (int)p->scale_dtype);
    return f->check(p, err);
}

int aq_qformat_arrays(const aq_quant_params *p, int64_t cols, aq_qarray out[AQ_QF_MAX_ARRAYS]) {
    const aq_qformat *f = aq_qformat_of(p);
    return f ? f->arrays(f, p, cols, out) : 0;
}

int aq_qformat_attrs(const aq_quant_params *p, aq_qattr out[AQ_QF_MAX_ATTRS]) {
    const aq_qformat *f = aq_qformat_of(p);
    return f ? f->attrs(f, p, out) : 0;
}

uint64_t aq_qformat_tensor_bytes(const aq_quant_params *p, int64_t rows, int64_t cols) {
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    const int n = aq_qformat_arrays(p, cols, a);
    uint64_t row = 0;
    for (int i = 0; i < n; ++i)
        row += (uint64_t)a[i].row_elems * aq_elem_size(a[i].elem);
    return (uint64_t)rows * row;
}

const char *aq_qformat_widths_text(const aq_qformat *f, const char *sep, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; f && i < f->n_widths && len < size; ++i) {
        const char *s = i == 0 ? "" : sep ? sep : i + 1 == f->n_widths ? " and " : ", ";
        len += (size_t)snprintf(buf + len, size - len, "%s%d", s, f->widths[i]);
    }
    return buf;
}

aq_status aq_qformat_read_params(const aq_qattr_source *src, const aq_qformat **f,
                                 aq_quant_params *p, aq_err *err) {
    char v[64];
    *f = NULL;
    for (int id = AQ_QFMT_AUTO + 1; id < AQ_QFMT_N && !*f; ++id) {
        const aq_qformat *r = aq_qformat_get(id);
        if (r && src->str(src->ctx, r->id_attr, v, sizeof v) == 0 && !strcmp(v, r->id_value))
            *f = r;
    }
    if (!*f)
        return aq_err_set(err, AQ_E_FORMAT,
                          "no known format (attribute scale_dtype missing or not f16/f32/dq, "
                          "attribute format missing or not a ggml block format)");
    aq_status st = (*f)->read_params(*f, src, p, err);
    aq_err e = {0};
    if (st == AQ_OK && aq_quant_params_check(p, &e) != AQ_OK)
        st = aq_err_set(err, AQ_E_FORMAT, "format %s: %s", (*f)->name, e.msg);
    return st;
}

int64_t aq_qf_blocks_quantize_row(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                                  void *const *arr, aq_qf_sums *s) {
    const aq_qf_blocks *b = e->f->blocks;
    const aq_kernels_t *k = e->k;
    aq_qf_block_quantize_fn q =
        k->simd > AQ_SIMD_SCALAR && k->simd < AQ_SIMD_N && (!b->isa || b->isa(k->simd))
            ? b->quantize[k->simd]
            : NULL;
    (q ? q : b->quantize[AQ_SIMD_SCALAR])(w, h, cols, arr[0]);
    float *wh = e->scratch; /* cols floats */
    b->dequantize(arr[0], cols, wh);
    const int64_t bad = k->first_nonfinite(wh, cols);
    if (bad >= 0) return bad - bad % b->block_elems;
    k->err_sums(w, wh, h, cols, s->lanes);
    return -1;
}
