/*
 * aq-mpi — the quantization-format table (in the spirit of ggml's type traits).
 *
 * A format says how a quantized [rows, cols] weight tensor is stored: up to
 * AQ_QF_MAX_ARRAYS arrays, each [rows, per-row elements] of one element type, the
 * attributes that name the format and its parameters in a result file, and how one row is
 * quantized into the arrays and decoded back.  Everything outside src/quant (the job, the
 * MPI protocol, the HDF5 writer, aq-inspect, the budget) asks this table and never names a
 * format's arrays; a result file is read back through aq_qread_tensor() (src/quant/qread.c).
 *
 * Rows (aq_qformat_id; the job picks one with aq_qformat_of(&quant params)):
 *   AQ_QFMT_F16  "f16"  quant.scale_dtype = f16 (include/aq/quant.h)
 *       codes uint8 [rows, aq_packed_row_bytes(cols, bits)]
 *       scale f16   [rows, groups]      min f16 [rows, groups]      groups = ceil(cols / G)
 *   AQ_QFMT_F32  "f32"  quant.scale_dtype = f32: the same with f32 scale and min
 *   AQ_QFMT_DQ   "dq"   quant.scale_dtype = dq (include/aq/dq.h)
 *       codes       uint8 [rows, aq_packed_row_bytes(cols, bits)]
 *       sub         uint8 [rows, aq_dq_sub_row_bytes(cols, L)]   packed group scale/min codes
 *       super_scale f16   [rows, ceil(cols / 256)]              the super-block scales d
 *       super_min   f16   [rows, ceil(cols / 256)]              the super-block mins dmin
 *   ggml's block formats (src/quant/ggml_rows.c; job key quant.format, p->format = the id):
 *     AQ_QFMT_Q8_0 "q8_0", AQ_QFMT_Q4_0 "q4_0", AQ_QFMT_Q4_1 "q4_1", AQ_QFMT_Q5_0 "q5_0",
 *     AQ_QFMT_Q5_1 "q5_1" (32 weights per block, include/aq/ggml_legacy.h) and
 *     AQ_QFMT_Q2_K "q2_k", AQ_QFMT_Q3_K "q3_k", AQ_QFMT_Q4_K "q4_k", AQ_QFMT_Q5_K "q5_k",
 *     AQ_QFMT_Q6_K "q6_k" (256 weights per super-block, include/aq/ggml_kquants.h):
 *       blocks uint8 [rows, cols / E * B]   E weights, B bytes per block, ggml's bytes
 *     attributes format = "<name>", bits = the nominal width (8 4 4 5 5 2 3 4 5 6),
 *     block_size = E; cols must be a multiple of E (the job falls back before: quant.format
 *     in docs/CONFIG.md).  widths = {the nominal width}.  Layouts: docs/FORMAT.md.
 * Arrays are listed in the order they are computed, sent (MPI tags AQ_TAG_ARRAY0 + i) and
 * written.  A file names its format by one string attribute (id_attr = id_value:
 * scale_dtype = "f16" | "f32" | "dq" for the plain rows, format = "q4_k" ... for the block
 * rows).
 *
 * How to add a format (e.g. another ggml block format, one byte array of blocks per row):
 *   1. Its kernels in src/quant, one file per family: the scalar reference
 *        void aq_ggml_quantize_row_q4_K_ref(const float *x, const float *h, int64_t n,
 *                                           void *blocks);   h: importance per column or NULL
 *        void aq_ggml_dequantize_row_q4_K(const void *blocks, int64_t n, float *y);
 *      beside its _avx2 / _avx512 twins (bit-identical, tested like test_quant_simd.c).
 *   2. An id before AQ_QFMT_N, its aq_qf_blocks {block_elems, block_bytes, {[AQ_SIMD_SCALAR]
 *      = ..._ref, [AQ_SIMD_AVX2] = ..._avx2, [AQ_SIMD_AVX512] = ..._avx512}, dequantize,
 *      isa} in src/quant/ggml_rows.c, and a row in src/quant/qformat.c built by
 *      AQ_QF_BLOCK_ROW():
 *        [AQ_QFMT_Q4_K] = AQ_QF_BLOCK_ROW("q4_k", 4, 256, &aq_qf_q4_k, &aq_ggml_kquant_gptq),
 *      The block row stores one array "blocks" uint8 [rows, cols / 256 * 144], names itself
 *      with the attribute format = "q4_k", checks cols % 256 == 0, and gets its error
 *      metrics by decoding what it stored (aq_qf_blocks_quantize_row()).  The last argument
 *      is its GPTQ operations (aq_qf_gptq below; NULL: none), src/quant/ggml/ggml_gptq.c.
 *   3. Its name in the job key quant.format: src/config/config.c parses it with
 *      aq_qformat_by_name() and lists it in QFORMATS (its error message and docs/CONFIG.md);
 *      its llama-quantize fallback in aq_qformat_fallback(); its numpy decoder in
 *      tests/integration/ggml_rows_check.py (docs/FORMAT.md).
 *   The driver, the job, the protocol, the writer, the reader and aq-inspect --verify then
 *   handle it unchanged: they iterate over aq_qformat_arrays() and aq_qformat_attrs().
 */
#ifndef AQ_QFORMAT_H
#define AQ_QFORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/quant.h"

#define AQ_QF_MAX_ARRAYS 4
#define AQ_QF_MAX_ATTRS 8

/* Element type of a stored array: bytes, IEEE binary16 bits (uint16), or float32. */
typedef enum { AQ_ELEM_U8 = 0, AQ_ELEM_F16 = 1, AQ_ELEM_F32 = 2 } aq_elem;

/*! aq_elem_size() : 1, 2 or 4. */
size_t aq_elem_size(aq_elem e);

/* One stored array for given params and row length. */
typedef struct {
    const char *name;  /* dataset name under /tensors/<tensor>/ */
    aq_elem elem;      /* element type */
    int64_t row_elems; /* elements per row: the array is [rows, row_elems] */
    int64_t used_bits; /* uint8 bit-packed arrays: bits used per row, the rest of the last
                          byte is 0 (aq-inspect checks it); 0: no such rule */
} aq_qarray;

/* One attribute written with a quantized tensor: a string, or an int32 when str is NULL. */
typedef struct {
    const char *name;
    const char *str;
    int32_t num;
} aq_qattr;

/* Where the reader gets attributes from (a result file, aq-inspect's open group). */
typedef struct {
    void *ctx;
    /* 0 and the value when the attribute exists (and, str, fits `size`), else -1 */
    int (*str)(void *ctx, const char *name, char *buf, size_t size);
    int (*num)(void *ctx, const char *name, int32_t *v);
} aq_qattr_source;

/* Error sums of a row's stored result against its weights: AQ_ES_N = 6 sums (|W-W^|^2,
 * |W|^2, <W,W^>, |W^|^2, sum h (W-W^)^2, sum h W^2) as 8 interleaved lanes each (element j
 * adds to lane j % 8); the tensor metrics are computed from them (src/quant/quant_impl.h). */
typedef struct {
    double lanes[6][8];
} aq_qf_sums;

typedef struct aq_qformat_s aq_qformat;

/* What a row function gets besides the row. */
typedef struct {
    const aq_qformat *f;
    const aq_quant_params *p;
    const aq_kernels *k; /* never NULL */
    void *scratch;       /* f->scratch_bytes(p, cols) bytes of this thread (NULL when 0) */
} aq_qf_env;

/* Quantizes one finite row w[0..cols) (importance h per column, NULL: all 1) into its slices
 * arr[i] of the format's arrays, and adds the error sums of what was stored to *s.
 * @return : -1, or the first column of a block whose stored parameters are not finite
 *           (the tensor driver reports it with f->overflow_msg). */
typedef int64_t (*aq_qf_quantize_row_fn)(const aq_qf_env *e, const float *w, const float *h,
                                         int64_t cols, void *const *arr, aq_qf_sums *s);
/* Decodes one row from its slices arr[i] into out[0..cols). */
typedef void (*aq_qf_dequantize_row_fn)(const aq_qformat *f, const aq_quant_params *p,
                                        const void *const *arr, int64_t cols, float *out);

/* Kernels of a block format (ggml's layouts): one byte array of blocks per row. */
typedef void (*aq_qf_block_quantize_fn)(const float *x, const float *h, int64_t n, void *blocks);
typedef void (*aq_qf_block_dequantize_fn)(const void *blocks, int64_t n, float *y);
typedef struct {
    int64_t block_elems;                         /* weights per block (32, 256) */
    size_t block_bytes;                          /* bytes per block */
    aq_qf_block_quantize_fn quantize[AQ_SIMD_N]; /* [AQ_SIMD_SCALAR] required; NULL: scalar */
    aq_qf_block_dequantize_fn dequantize;
    /* 1 when quantize[simd] may run on this CPU (NULL: whenever the kernel set exists) */
    int (*isa)(int simd);
    int ggml_type; /* ggml_type / GGUF tensor type id (ggml/include/ggml.h) */
} aq_qf_blocks;

/* GPTQ operations of a format (include/aq/gptq.h), optional per row (NULL: the format has no
 * GPTQ).  A row is cut into parameter blocks of block_cols(p) consecutive columns (the last
 * may be short): the unit whose parameters are fitted together and then held FIXED while
 * GPTQ rounds its columns one at a time.  Plain layouts: a group (group_size columns; params
 * scale, min).  dq: a super-block (256 columns; d, dmin and its groups' scale/min codes).
 * ggml's formats (src/quant/ggml/ggml_gptq.c): Q8_0/Q4_0/Q4_1/Q5_0/Q5_1: the 32-column
 * block (params: its stored d, and m for *_1); Q2_K..Q6_K: the 256-column super-block
 * (params: d, dmin and the sub-block scale/min codes, i.e. the result of the k-quant's own
 * scale search); round() is the encoder's code rule with those, emit() the encoder's packer,
 * exactly as the format's dequantize decodes them.
 * Contract (tested for every row that has it): emit(codes, params) decodes through the
 * format's dequantize_row to the values round() returned, bit for bit; fitting and rounding
 * every column of an unchanged row reproduces quantize_row's arrays (then GPTQ with H = I is
 * the format's own quantization). */
typedef struct {
    /* columns per parameter block for params p */
    int64_t (*block_cols)(const aq_quant_params *p);
    /* bytes of one block's fixed parameters (opaque to the driver, <= 256) */
    size_t (*param_bytes)(const aq_quant_params *p);
    /* the parameters of block x[0..n) (n <= block_cols; h: importance, NULL all 1) by the
     * format's own search into par; @return : 0, or -1 when they overflow their storage */
    int (*fit)(const aq_qf_env *e, const float *x, const float *h, int64_t n, void *par);
    /* element j (0 <= j < block_cols) of a block with parameters par: *code and the value
     * the format decodes for it */
    float (*round)(const aq_quant_params *p, const void *par, int64_t j, float x, uint8_t *code);
    /* the row's slices arr[i] of the stored arrays from all its codes (cols, original column
     * order) and the parameters of its blocks (back to back, param_bytes each) */
    void (*emit)(const aq_qf_env *e, const uint8_t *codes, const void *par, int64_t cols,
                 void *const *arr);
} aq_qf_gptq;

/* The traits of one format (one row of the table). */
struct aq_qformat_s {
    const char *name;     /* "f16", "f32", "dq" (messages) */
    const char *id_attr;  /* attribute that names the format in a file ... */
    const char *id_value; /* ... and its value */
    const char *tag;      /* appended to per-tensor progress lines: "" or " dq" */
    const int *widths;    /* code widths the format supports (fallback, budget), narrowest
                             first, n_widths of them */
    int n_widths;
    int64_t row_multiple; /* cols must be a multiple of this (1: any) */
    /* the stored arrays for params p and row length cols, into out; @return : their count */
    int (*arrays)(const aq_qformat *f, const aq_quant_params *p, int64_t cols, aq_qarray *out);
    /* the attributes that identify the format and its parameters; @return : their count */
    int (*attrs)(const aq_qformat *f, const aq_quant_params *p, aq_qattr *out);
    /* params from those attributes (inverse of attrs); AQ_E_FORMAT naming what is bad */
    aq_status (*read_params)(const aq_qformat *f, const aq_qattr_source *src, aq_quant_params *p,
                             aq_err *err);
    /* AQ_OK or AQ_E_CONFIG naming the bad field (format-specific part of the check) */
    aq_status (*check)(const aq_quant_params *p, aq_err *err);
    /* scratch of one row for one thread (0: none) */
    size_t (*scratch_bytes)(const aq_quant_params *p, int64_t cols);
    aq_qf_quantize_row_fn quantize_row;
    aq_qf_dequantize_row_fn dequantize_row;
    /* "row R, <what>" message for a quantize_row overflow at column col */
    void (*overflow_msg)(const aq_quant_params *p, int64_t col, char *buf, size_t size);
    const aq_qf_blocks *blocks; /* block formats only (kernel-set entries), else NULL */
    const aq_qf_gptq *gptq;     /* GPTQ operations (include/aq/gptq.h), NULL: none */
};

typedef enum {
    AQ_QFMT_AUTO = 0, /* no row: "the row of scale_dtype" */
    AQ_QFMT_F16 = 1,
    AQ_QFMT_F32 = 2,
    AQ_QFMT_DQ = 3,
    AQ_QFMT_Q8_0, /* ggml's block formats (src/quant/ggml_rows.c) */
    AQ_QFMT_Q4_0,
    AQ_QFMT_Q4_1,
    AQ_QFMT_Q5_0,
    AQ_QFMT_Q5_1,
    AQ_QFMT_Q2_K,
    AQ_QFMT_Q3_K,
    AQ_QFMT_Q4_K,
    AQ_QFMT_Q5_K,
    AQ_QFMT_Q6_K,
    AQ_QFMT_N
} aq_qformat_id;

/*! aq_qformat_get() : the row of `id` (AQ_QFMT_F16 .. AQ_QFMT_N - 1), NULL otherwise. */
const aq_qformat *aq_qformat_get(int id);

/*! aq_qformat_of() : the row of params p: the row p->format when it is not 0 (a block
 *  format), else the row of p->scale_dtype (f16, f32, dq); NULL for an unknown format or
 *  scale dtype.  The only place that maps params to a row. */
const aq_qformat *aq_qformat_of(const aq_quant_params *p);

/*! aq_qformat_by_name() : the id of the block format named `name` ("q4_k", the values of
 *  quant.format), 0 when none is. */
int aq_qformat_by_name(const char *name);

/*! aq_qformat_fallback() :
 *  The format a tensor with rows of `cols` weights gets when quant.format = `id` and cols is
 *  not a multiple of its block, the way llama-quantize falls back: Q2_K, Q3_K -> Q4_0; Q4_K
 *  -> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0 (32-weight blocks); a legacy format stays.
 *  @return : id itself when cols fits it; the fallback id when cols % 32 == 0; 0 when no
 *            block format fits (the job stores the tensor unquantized, as passthrough). */
int aq_qformat_fallback(int id, int64_t cols);

/* Most candidate formats of one tensor under a size budget (aq_qformat_budget_candidates). */
#define AQ_QF_MAX_CANDIDATES 6

/*! aq_qformat_budget_candidates() :
 *  The ggml formats quant.budget_bits chooses among for a tensor with rows of `cols` weights
 *  when quant.format = `id` (the lowest format): base = aq_qformat_fallback(id, cols), then
 *  the formats of base's chain from base upwards, in increasing stored size:
 *    k-quant chain (rows a multiple of 256): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0
 *      (2.625, 3.4375, 4.5, 5.5, 6.5625, 8.5 bits/weight);
 *    legacy chain (base a 32-weight format): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
 *      (4.5, 5.0, 5.5, 6.0, 8.5 bits/weight).
 *  E.g. id = Q2_K: cols = 4096 gives Q2_K..Q8_0 (6), cols = 128 gives Q4_0..Q8_0 (5); id =
 *  Q4_K gives Q4_K..Q8_0; id = Q8_0 only Q8_0.
 *  @return : the count (1..AQ_QF_MAX_CANDIDATES) written to out[], narrowest first; 0 when
 *            no block format fits cols (the tensor stays unquantized) or id is not a block
 *            format. */
int aq_qformat_budget_candidates(int id, int64_t cols, int out[AQ_QF_MAX_CANDIDATES]);

/*! aq_qformat_arrays() / aq_qformat_attrs() : f->arrays / f->attrs (f = aq_qformat_of(p)),
 *  0 for unknown params. */
int aq_qformat_arrays(const aq_quant_params *p, int64_t cols, aq_qarray out[AQ_QF_MAX_ARRAYS]);
int aq_qformat_attrs(const aq_quant_params *p, aq_qattr out[AQ_QF_MAX_ATTRS]);

/*! aq_qformat_tensor_bytes() : stored bytes of a [rows, cols] tensor (all arrays) before
 *  compression; 0 for unknown params.  Bits per weight = 8 * this / (rows * cols). */
uint64_t aq_qformat_tensor_bytes(const aq_quant_params *p, int64_t rows, int64_t cols);

/*! aq_qformat_widths_text() : the format's widths as "2/4/8" (sep "/") or "2, 4 and 8"
 *  (sep NULL) into buf; @return : buf. */
const char *aq_qformat_widths_text(const aq_qformat *f, const char *sep, char *buf, size_t size);

/*! aq_qformat_read_params() :
 *  The format and params of a quantized tensor from its attributes: the row whose id_attr
 *  has its id_value, then its read_params and aq_quant_params_check().
 *  @return : AQ_OK, *f and *p; AQ_E_FORMAT naming the missing/unknown attribute or the bad
 *            parameter. */
aq_status aq_qformat_read_params(const aq_qattr_source *src, const aq_qformat **f,
                                 aq_quant_params *p, aq_err *err);

/*! aq_qformat_quantize_tensor() :
 *  The tensor driver of every format.  Quantizes a [rows, cols] tensor stored as `src_dtype`
 *  at `src` (rows widened one at a time) with importance h (cols entries >= 0, NULL: all 1)
 *  into the caller-allocated arrays arr[i] ([rows, row_elems] of aq_qformat_arrays(p, cols)),
 *  with kernel set k (NULL: aq_kernels_select(0)).  OpenMP over rows; arrays and metrics
 *  (may be NULL) are bit-identical for any thread count and kernel set (per-row partial sums
 *  added in row order).  Checks, in this order: params (aq_quant_params_check), shape and
 *  row multiple, h, buffers (only when rows * cols > 0), then the rows: the first (lowest
 *  flat index) non-finite weight over the tensor, else the first row whose stored
 *  parameters overflow.
 *  @return : AQ_OK; AQ_E_CONFIG "tensor <name>: <check message>"; AQ_E_VALUE "tensor <name>:
 *            non-finite weight <v> at [r, c]", "tensor <name>: row r, <overflow>", bad shape,
 *            h or missing buffer; AQ_E_NOMEM.  Nothing meaningful is written on error. */
aq_status aq_qformat_quantize_tensor(const aq_quant_params *p, const aq_kernels *k,
                                     aq_dtype src_dtype, const void *src, int64_t rows,
                                     int64_t cols, const float *h, const char *name,
                                     void *const *arr, aq_quant_metrics *metrics, aq_err *err);

/* Error sums per row: AQ_QF_ROW_SUMS doubles (|W-W^|^2, |W|^2, <W,W^>, |W^|^2,
 * sum h (W-W^)^2, sum h W^2, each the row's aq_qf_sums lanes added by the fixed lane tree). */
#define AQ_QF_ROW_SUMS 6

/*! aq_qformat_quantize_rows() :
 *  The row-range driver under aq_qformat_quantize_tensor() (row-sharding, issue 16; GPTQ
 *  may drive row ranges the same way): quantizes rows [row0, row1) of the [rows, cols]
 *  tensor at `src` (row 0 of the whole tensor) into arr[i], which hold those rows only
 *  ([row1 - row0, row_elems]), and writes each row's error sums to row_sums[(r - row0) *
 *  AQ_QF_ROW_SUMS + e] (NULL: not wanted).  Blocks of one tensor quantized separately give
 *  the whole tensor's arrays and row sums byte for byte (rows are independent); metrics come
 *  from all rows' sums by aq_qf_metrics_from_row_sums().  Checks as
 *  aq_qformat_quantize_tensor() (rows in messages are the tensor's); the first problem is the
 *  lowest flat index within the range.
 *  @return : as aq_qformat_quantize_tensor(); AQ_E_VALUE for a bad row range. */
aq_status aq_qformat_quantize_rows(const aq_quant_params *p, const aq_kernels *k,
                                   aq_dtype src_dtype, const void *src, int64_t rows, int64_t row0,
                                   int64_t row1, int64_t cols, const float *h, const char *name,
                                   void *const *arr, double *row_sums, aq_err *err);

/*! aq_qf_metrics_from_row_sums() : the tensor metrics (aq_quant_metrics conventions) from
 *  the row sums of `rows` rows ([rows, AQ_QF_ROW_SUMS], row order), added in row order from
 *  0: the one reduction of every driver, so whole and row-sharded tensors agree bit for bit. */
void aq_qf_metrics_from_row_sums(const double *row_sums, int64_t rows, aq_quant_metrics *m);

/*! aq_qformat_dequantize_rows() : w^ of rows [0, rows) into dst [rows, cols] from the
 *  arrays arr[i] (whole tensor, [rows, row_elems]); OpenMP over rows.  Params must be valid. */
void aq_qformat_dequantize_rows(const aq_quant_params *p, const void *const *arr, int64_t rows,
                                int64_t cols, float *dst);

/*! aq_qf_blocks_quantize_row() : the quantize_row of every block format: the kernel of the
 *  set's simd (scalar when it has none), then the decode of the stored blocks for the error
 *  sums; a non-finite decoded value is reported as an overflow of its block. */
int64_t aq_qf_blocks_quantize_row(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                                  void *const *arr, aq_qf_sums *s);

/*-*********************************************
 *  Reading a result file (src/quant/qread.c)
 ***********************************************/
struct aq_h5in;

/*! aq_qread_tensor() :
 *  Tensor `name` of an open result file (include/aq/h5in.h) as float32 into dst[numel]
 *  (row-major [rows, cols]; numel must be its element count): a quantized tensor is decoded
 *  through its format's dequantize_row, a passthrough tensor widened from its dtype.
 *  @return : AQ_OK; AQ_E_FORMAT (missing, incomplete, unknown format, size mismatch);
 *            AQ_E_HDF5; AQ_E_NOMEM. */
aq_status aq_qread_tensor(const struct aq_h5in *h, const char *name, float *dst, int64_t numel,
                          aq_err *err);

#endif /* AQ_QFORMAT_H */
