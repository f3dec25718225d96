/*
 * aq-mpi — GGUF export: where the tensors come from, a result file (aq_h5in) or directly a
 * safetensors model (aq_checkpoint), behind one small interface (inspect_gguf_src.h).
 */
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/qformat.h"
#include "inspect_gguf_src.h"
#include "inspect_internal.h"

aq_status gs_open_result(const char *path, gs_source *s, aq_err *err) {
    memset(s, 0, sizeof *s);
    s->label = path;
    s->f = s->tg = -1;
    aq_status st = aq_h5in_open(path, &s->h, err);
    if (st != AQ_OK) return st;
    aq_h5_quiet_begin(&s->quiet);
    s->quiet_on = 1;
    s->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->f >= 0) s->tg = H5Gopen2(s->f, "tensors", H5P_DEFAULT);
    if (s->tg < 0) return aq_err_set(err, AQ_E_FORMAT, "%s: cannot open /tensors", path);
    /* /run is written after every tensor, just before the rename (docs/FORMAT.md). */
    if (H5Lexists(s->f, "run", H5P_DEFAULT) <= 0)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: incomplete result (no /run: the run did not finish)", path);
    return AQ_OK;
}

aq_status gs_open_model(const char *dir, gs_source *s, aq_err *err) {
    memset(s, 0, sizeof *s);
    s->label = dir;
    s->f = s->tg = -1;
    return aq_checkpoint_open(dir, &s->ck, err);
}

void gs_close(gs_source *s) {
    aq_h5_close_id(s->tg);
    aq_h5_close_id(s->f);
    if (s->quiet_on) aq_h5_quiet_end(&s->quiet);
    aq_h5in_close(s->h);
    aq_checkpoint_close(s->ck);
    memset(s, 0, sizeof *s);
}

size_t gs_count(const gs_source *s) {
    return s->h ? aq_h5in_count(s->h)
                : aq_checkpoint_count(s->ck) + aq_checkpoint_alias_count(s->ck);
}

const char *gs_name(const gs_source *s, size_t i) {
    if (s->h) return aq_h5in_name(s->h, i);
    size_t n = aq_checkpoint_count(s->ck);
    if (i < n) return aq_checkpoint_tensor(s->ck, i)->name;
    const char *name, *target;
    aq_checkpoint_alias(s->ck, i - n, &name, &target);
    return name;
}

int gs_has(const gs_source *s, const char *name) {
    return s->h ? aq_h5in_has(s->h, name) : aq_checkpoint_find(s->ck, name) != NULL;
}

static int object_addr(const gs_source *s, const char *name, haddr_t *a) {
    H5O_info_t oi;
    if (H5Oget_info_by_name2(s->tg, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
    *a = oi.addr;
    return 0;
}

int gs_same(const gs_source *s, const char *a, const char *b) {
    if (!gs_has(s, a) || !gs_has(s, b)) return 0;
    if (!s->h) return aq_checkpoint_find(s->ck, a) == aq_checkpoint_find(s->ck, b);
    haddr_t x, y;
    return object_addr(s, a, &x) == 0 && object_addr(s, b, &y) == 0 && x == y;
}

aq_status gs_info(const gs_source *s, const char *name, gs_info_t *o, aq_err *err) {
    memset(o, 0, sizeof *o);
    if (!s->h) {
        const aq_tensor *t = aq_checkpoint_find(s->ck, name);
        if (!t) return aq_err_set(err, AQ_E_FORMAT, "%s: no tensor %s", s->label, name);
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof o->shape);
        o->numel = (int64_t)t->numel;
        o->dtype = t->dtype;
        o->ggml_type = -1;
        return AQ_OK;
    }
    aq_h5in_info hi;
    aq_status st = aq_h5in_tensor_info(s->h, name, &hi, err);
    if (st != AQ_OK) return st;
    o->ndim = hi.ndim;
    memcpy(o->shape, hi.shape, sizeof o->shape);
    o->numel = hi.numel;
    o->quantized = hi.quantized;
    o->bits = hi.bits;
    o->group_size = hi.group_size;
    char dt[16] = "F32";
    hid_t g = H5Gopen2(s->tg, name, H5P_DEFAULT);
    if (g < 0 || ins_attr_str(g, "orig_dtype", dt, sizeof dt) != 0 ||
        aq_dtype_parse(dt, &o->dtype) != 0) {
        aq_h5_close_id(g);
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: no valid orig_dtype", s->label, name);
    }
    o->format[0] = 0;
    o->ggml_type = -1;
    if (o->quantized && ins_attr_str(g, "format", o->format, sizeof o->format) == 0) {
        const aq_qformat *f = aq_qformat_get(aq_qformat_by_name(o->format));
        if (f) o->ggml_type = f->blocks->ggml_type;
    } else if (o->quantized && ins_attr_str(g, "scale_dtype", o->format, sizeof o->format) != 0) {
        o->format[0] = 0;
    }
    aq_h5_close_id(g);
    return AQ_OK;
}

aq_status gs_f32(const gs_source *s, const char *name, float *dst, int64_t numel, aq_err *err) {
    if (s->h) return aq_qread_tensor(s->h, name, dst, numel, err);
    const aq_tensor *t = aq_checkpoint_find(s->ck, name);
    if (!t || (int64_t)t->numel != numel)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s missing or of another size", s->label,
                          name);
    aq_convert_to_f32(t->dtype, t->data, (size_t)numel, dst);
    return AQ_OK;
}

aq_status gs_blocks(const gs_source *s, const char *name, void *dst, int64_t bytes, aq_err *err) {
    if (!s->h) return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: no blocks", s->label, name);
    return aq_h5in_array(s->h, name, "blocks", AQ_ELEM_U8, dst, bytes, err);
}

const char *gs_source_model(const gs_source *s, char *buf, size_t size) {
    hid_t f = s->f;
    return s->h && ins_attr_str(f, "source_model", buf, size) == 0 ? buf : NULL;
}
