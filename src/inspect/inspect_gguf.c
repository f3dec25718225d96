/*
 * aq-mpi — aq-inspect --export OUT.gguf: a result file (or a safetensors model) as a GGUF v3
 * file llama.cpp loads.  What is written and why: docs/GGUF.md.
 *
 * Checked before the output is created: model directory, config.json, architecture,
 * missing or misshapen tensors, tensors llama.cpp has no place for, tensors in an aq-mpi
 * layout ggml cannot hold.  The tokenizer is read while the header is built.  The writer
 * streams row by row to "<out>.partial" and renames it when complete; any failure removes
 * the partial file (include/aq/gguf.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aq/dtype.h"
#include "aq/gguf.h"
#include "aq/inspect.h"
#include "inspect_gguf.h"
#include "inspect_gguf_src.h"

typedef struct {
    const gx_tensor *t;
    int present;
    aq_ggml_type type;
    int64_t rows, cols; /* [rows, cols] row-major; 1-D: rows = 1, cols = n */
} gx_plan;

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* --model, else the result's source_model (a directory or a .safetensors file in one). */
static aq_status model_dir(const char *given, const gs_source *s, char *dir, size_t size,
                           aq_err *err) {
    char sm[4096];
    if (given) {
        snprintf(dir, size, "%s", given);
    } else if (gs_source_model(s, sm, sizeof sm)) {
        snprintf(dir, size, "%s", sm);
        char *slash = strrchr(dir, '/');
        if (!is_dir(dir) && slash) *slash = '\0'; /* a .safetensors file: its directory */
        if (!is_dir(dir))
            return aq_err_set(err, AQ_E_IO,
                              "%s: the result's source model %s is not a directory here; give "
                              "--model DIR (config.json + tokenizer.json)",
                              s->label, sm);
    } else {
        return aq_err_set(err, AQ_E_CONFIG, "no model directory: give --model DIR");
    }
    if (!is_dir(dir))
        return aq_err_set(err, AQ_E_IO,
                          "%s: not a model directory (config.json + "
                          "tokenizer.json)",
                          dir);
    return AQ_OK;
}

static aq_ggml_type ggml_of(aq_dtype d) {
    return d == AQ_DT_F16 ? AQ_GGML_F16 : d == AQ_DT_BF16 ? AQ_GGML_BF16 : AQ_GGML_F32;
}

/* Type of one tensor: 1-D tensors are F32 (as the reference converter writes norms and
 * biases); 2-D ones keep their dtype unless `dtype` >= 0 (a ggml block format: its ggml type,
 * the blocks copied); aq-mpi quantized layouts are refused unless dequantize_unsupported. */
static aq_status choose_type(const gs_info_t *in, const gx_tensor *t, const aq_gguf_export_opts *o,
                             const char *label, aq_ggml_type *ty, aq_err *err) {
    if (t->ndim == 1) {
        *ty = AQ_GGML_F32;
        return AQ_OK;
    }
    if (in->quantized && in->ggml_type >= 0) {
        *ty = o->dtype >= 0 ? ggml_of((aq_dtype)o->dtype) : (aq_ggml_type)in->ggml_type;
        return AQ_OK;
    }
    if (in->quantized && !o->dequantize_unsupported)
        return aq_err_set(err, AQ_E_UNSUPPORTED,
                          "%s: tensor %s: aq-mpi layout (%d-bit, group %d, %s) has no ggml type; "
                          "quantize with quant.format, or export with --dequantize-unsupported",
                          label, t->hf, in->bits, in->group_size, in->format);
    if (o->dtype >= 0)
        *ty = ggml_of((aq_dtype)o->dtype);
    else
        *ty = in->quantized ? AQ_GGML_F16 : ggml_of(in->dtype);
    return AQ_OK;
}

static aq_status plan_one(const gs_source *s, const gx_tensor *t, const aq_gguf_export_opts *o,
                          gx_plan *p, aq_err *err) {
    p->t = t;
    p->present = gs_has(s, t->hf);
    if (!p->present) {
        if (t->optional) return AQ_OK;
        return aq_err_set(err, AQ_E_FORMAT, "%s: incomplete: tensor %s missing", s->label, t->hf);
    }
    gs_info_t in;
    aq_status st = gs_info(s, t->hf, &in, err);
    if (st != AQ_OK) return st;
    int ok = in.ndim == t->ndim && in.shape[0] == t->shape[0] &&
             (t->ndim == 1 || in.shape[1] == t->shape[1]);
    if (!ok)
        return aq_err_set(
            err, AQ_E_FORMAT,
            "%s: tensor %s: shape [%lld%s%lld] (%d-D), config.json implies [%lld%s%lld]", s->label,
            t->hf, (long long)in.shape[0], in.ndim > 1 ? ", " : "",
            in.ndim > 1 ? (long long)in.shape[1] : 0LL, in.ndim, (long long)t->shape[0],
            t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)t->shape[1] : 0LL);
    p->rows = t->ndim == 1 ? 1 : t->shape[0];
    p->cols = t->ndim == 1 ? t->shape[0] : t->shape[1];
    return choose_type(&in, t, o, s->label, &p->type, err);
}

/* A tensor of the source that the list does not place would be dropped: refuse. */
static aq_status check_unplaced(const gs_source *s, const gx_tensor *t, size_t n, int tied,
                                aq_err *err) {
    for (size_t i = 0; i < gs_count(s); ++i) {
        const char *name = gs_name(s, i);
        int placed = gx_known_unexported(name) || (tied && strcmp(name, "lm_head.weight") == 0);
        for (size_t j = 0; !placed && j < n; ++j)
            placed = strcmp(t[j].hf, name) == 0;
        if (!placed)
            return aq_err_set(err, AQ_E_UNSUPPORTED,
                              "%s: tensor %s has no place in llama.cpp's model; not exported",
                              s->label, name);
    }
    return AQ_OK;
}

/* llama_ftype (llama.h; the _S variant of a k-quant) of ggml type t. */
static uint32_t ftype_of(int t) {
    switch (t) {
    case AQ_GGML_F16:
        return 1;
    case AQ_GGML_BF16:
        return 32;
    case AQ_GGML_Q4_0:
    case AQ_GGML_Q4_1:
        return (uint32_t)t; /* 2, 3 */
    case AQ_GGML_Q8_0:
        return 7;
    case AQ_GGML_Q5_0:
    case AQ_GGML_Q5_1:
        return (uint32_t)t + 2; /* 8, 9 */
    case AQ_GGML_Q2_K:
    case AQ_GGML_Q3_K:
        return (uint32_t)t; /* 10, 11 (Q3_K_S) */
    case AQ_GGML_Q4_K:
        return 14; /* Q4_K_S */
    case AQ_GGML_Q5_K:
        return 16; /* Q5_K_S */
    case AQ_GGML_Q6_K:
        return 18;
    default:
        return 0; /* F32 */
    }
}

/* llama_ftype of the type holding most 2-D weights (general.file_type; ties: the first in
 * aq_ggml_type order). */
static uint32_t file_type(const gx_plan *p, size_t n) {
    int64_t by[AQ_GGML_BF16 + 1] = {0};
    for (size_t i = 0; i < n; ++i)
        if (p[i].present && p[i].t->ndim == 2 && p[i].type <= AQ_GGML_BF16)
            by[p[i].type] += p[i].rows * p[i].cols;
    int best = AQ_GGML_F32;
    for (int t = 0; t <= AQ_GGML_BF16; ++t)
        if (by[t] > by[best]) best = t;
    return ftype_of(best);
}

static aq_status declare(aq_gguf_writer *w, const gx_plan *p, size_t n, aq_err *err) {
    aq_status st = AQ_OK;
    for (size_t i = 0; st == AQ_OK && i < n; ++i) {
        if (!p[i].present) continue;
        int64_t ne[2] = {p[i].cols, p[i].rows}; /* ggml order: innermost first */
        st = aq_gguf_add_tensor(w, p[i].t->gguf, p[i].type, p[i].t->ndim, ne, err);
    }
    return st;
}

/* Converts n floats to the GGUF type into out. */
static size_t convert(const float *x, int64_t n, aq_ggml_type t, void *out) {
    uint16_t *h = out;
    if (t == AQ_GGML_F32) memcpy(out, x, (size_t)n * sizeof *x);
    for (int64_t c = 0; t == AQ_GGML_F16 && c < n; ++c)
        h[c] = aq_f32_to_f16(x[c]);
    for (int64_t c = 0; t == AQ_GGML_BF16 && c < n; ++c)
        h[c] = aq_f32_to_bf16(x[c]);
    return (size_t)n * (t == AQ_GGML_F32 ? 4 : 2);
}

/* A tensor stored in a ggml block format, exported as that type: its blocks byte for byte,
 * whole rows in llama.cpp's rotary order (a row of blocks is self-contained, so the
 * permutation is exact).  Memory: the tensor's blocks. */
static aq_status write_blocks(aq_gguf_writer *w, const gs_source *s, const gx_plan *p,
                              aq_err *err) {
    const size_t rb = aq_ggml_row_bytes(p->type, p->cols);
    const int64_t hd = p->t->rope_head_dim;
    if (rb == 0)
        return aq_err_set(err, AQ_E_FORMAT, "tensor %s: rows of %lld do not fit its ggml type",
                          p->t->hf, (long long)p->cols);
    uint8_t *b = malloc((size_t)p->rows * rb);
    aq_status st = b ? gs_blocks(s, p->t->hf, b, p->rows * (int64_t)rb, err)
                     : aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory", p->t->hf);
    for (int64_t r = 0; st == AQ_OK && r < p->rows; ++r)
        st = aq_gguf_write(w, b + (size_t)(hd > 0 ? gx_permute_row(r, hd) : r) * rb, rb, err);
    free(b);
    return st;
}

/* Rows in llama.cpp's rotary order (a 1-D q/k bias: its elements), converted.  Memory: the
 * float32 tensor plus one row. */
static aq_status write_one(aq_gguf_writer *w, const gs_source *s, const gx_plan *p, aq_err *err) {
    if (p->type != AQ_GGML_F32 && p->type != AQ_GGML_F16 && p->type != AQ_GGML_BF16)
        return write_blocks(w, s, p, err);
    int64_t n = p->rows * p->cols, hd = p->t->rope_head_dim;
    float *f = malloc((size_t)n * sizeof *f);
    float *tmp = malloc((size_t)p->cols * sizeof *tmp);
    void *row = malloc((size_t)p->cols * 4);
    aq_status st = f && tmp && row
                       ? gs_f32(s, p->t->hf, f, n, err)
                       : aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory", p->t->hf);
    for (int64_t r = 0; st == AQ_OK && r < p->rows; ++r) {
        const float *x = f + (hd > 0 && p->t->ndim == 2 ? gx_permute_row(r, hd) : r) * p->cols;
        if (hd > 0 && p->t->ndim == 1) { /* the bias of a permuted projection */
            for (int64_t c = 0; c < p->cols; ++c)
                tmp[c] = f[gx_permute_row(c, hd)];
            x = tmp;
        }
        st = aq_gguf_write(w, row, convert(x, p->cols, p->type, row), err);
    }
    free(row);
    free(tmp);
    free(f);
    return st;
}

static const char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        --n;
    const char *b = dir + n;
    while (b > dir && b[-1] != '/')
        --b;
    return b;
}

static aq_status write_file(const char *out, const gx_model *m, const char *dir, const gs_source *s,
                            const gx_plan *p, size_t n, aq_err *err) {
    aq_gguf_writer *w = NULL;
    char name[256];
    snprintf(name, sizeof name, "%.200s", base_name(dir));
    char *slash = strchr(name, '/');
    if (slash) *slash = '\0';
    aq_status st = aq_gguf_writer_create(out, AQ_GGUF_DEFAULT_ALIGNMENT, &w, err);
    if (st == AQ_OK) st = gx_write_arch_kv(w, m, name, file_type(p, n), err);
    if (st == AQ_OK) st = gx_write_vocab(w, dir, m, err);
    if (st == AQ_OK) st = declare(w, p, n, err);
    for (size_t i = 0; st == AQ_OK && i < n; ++i)
        if (p[i].present) st = write_one(w, s, &p[i], err);
    if (st == AQ_OK) return aq_gguf_writer_finish(w, err);
    aq_gguf_writer_abort(w);
    return st;
}

static aq_status export_from(const gs_source *s, const char *dir, const char *out,
                             const aq_gguf_export_opts *o, aq_err *err) {
    gx_model m;
    aq_status st = gx_model_read(dir, &m, err);
    if (st != AQ_OK) return st;
    int tied =
        !gs_has(s, "lm_head.weight") || gs_same(s, "lm_head.weight", "model.embed_tokens.weight");
    gx_tensor *t = NULL;
    size_t n = 0;
    st = gx_tensor_list(&m, tied, &t, &n, err);
    gx_plan *p = st == AQ_OK ? calloc(n, sizeof *p) : NULL;
    if (st == AQ_OK && !p) st = aq_err_set(err, AQ_E_NOMEM, "GGUF export: out of memory");
    for (size_t i = 0; st == AQ_OK && i < n; ++i)
        st = plan_one(s, &t[i], o, &p[i], err);
    if (st == AQ_OK) st = check_unplaced(s, t, n, tied, err);
    if (st == AQ_OK) st = write_file(out, &m, dir, s, p, n, err);
    free(p);
    free(t);
    return st;
}

aq_status aq_inspect_export_gguf(const char *result, const char *out_path,
                                 const aq_gguf_export_opts *o, aq_err *err) {
    aq_gguf_export_opts dflt = {.model_dir = NULL, .dtype = -1, .dequantize_unsupported = 0};
    if (!o) o = &dflt;
    if (!result && !o->model_dir)
        return aq_err_set(err, AQ_E_CONFIG, "GGUF export: give a result file or --model DIR");
    if (o->dtype > AQ_DT_BF16)
        return aq_err_set(err, AQ_E_VALUE, "GGUF export: dtype must be f32, f16 or bf16");
    gs_source s;
    char dir[4096];
    aq_status st;
    if (result) {
        st = gs_open_result(result, &s, err);
        if (st == AQ_OK) st = model_dir(o->model_dir, &s, dir, sizeof dir, err);
    } else {
        memset(&s, 0, sizeof s);
        s.f = s.tg = -1;
        st = model_dir(o->model_dir, &s, dir, sizeof dir, err);
        if (st == AQ_OK) st = gs_open_model(dir, &s, err);
    }
    if (st == AQ_OK) st = export_from(&s, dir, out_path, o, err);
    gs_close(&s);
    return st;
}
