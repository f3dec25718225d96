/*
 * aq-mpi — /tensors/<name> groups: quantized, passthrough, alias (hard link).
 */
#include "h5_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Tensor names become link names under /tensors: a '/' would silently nest groups. */
static aq_status check_name(const aq_h5_writer *w, const char *name, aq_err *err) {
    if (!w || !name || !name[0])
        return aq_err_set(err, AQ_E_VALUE, "HDF5 writer: missing writer or tensor name");
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: name not usable as an HDF5 link", name);
    return AQ_OK;
}

static aq_status fail_tensor(aq_err *err, const char *name, const char *part) {
    char what[AQ_ERR_MSG_MAX / 2];
    snprintf(what, sizeof what, "tensor %s: %s", name, part);
    return aq_h5_fail(err, what);
}

/* Writes a dataset and closes it; on failure names it in err. */
static aq_status put_dataset(hid_t g, const char *tname, const char *dname, hid_t type, int ndim,
                             const hsize_t *dims, const void *buf, int level, aq_err *err) {
    hid_t ds = type < 0 ? -1 : aq_h5_write_dataset(g, dname, type, ndim, dims, buf, level);
    if (ds < 0 || H5Dclose(ds) < 0) {
        char part[128];
        snprintf(part, sizeof part, "dataset %s", dname);
        return fail_tensor(err, tname, part);
    }
    return AQ_OK;
}

/* put_dataset() for chunks filtered elsewhere (aq_h5_prefilter_2d()). */
static aq_status put_prefiltered(hid_t g, const char *tname, const char *dname, hid_t type,
                                 const hsize_t dims[2], const void *blob, uint64_t blob_bytes,
                                 int level, aq_err *err) {
    hid_t ds =
        type < 0 ? -1 : aq_h5_write_prefiltered(g, dname, type, dims, blob, blob_bytes, level);
    if (ds < 0 || H5Dclose(ds) < 0) {
        char part[160];
        snprintf(part, sizeof part, "dataset %s (pre-filtered chunks)", dname);
        return fail_tensor(err, tname, part);
    }
    return AQ_OK;
}

/*-*********************************************
 *  Quantized
 ***********************************************/

static aq_status check_quantized(const char *name, const aq_h5_quantized *t, aq_err *err) {
    int bad = t->rows < 0 || t->cols < 0 || t->ndim < 0 || (t->ndim > 0 && !t->shape) ||
              !aq_h5_dtype_name(t->orig_dtype) || t->n_arrays < 1 ||
              t->n_arrays > AQ_QF_MAX_ARRAYS || t->n_attrs < 0 || t->n_attrs > AQ_QF_MAX_ATTRS;
    for (int i = 0; !bad && i < t->n_arrays; ++i)
        bad = !t->arrays[i].name || t->arrays[i].row_elems < 0 || t->arrays[i].elem < AQ_ELEM_U8 ||
              t->arrays[i].elem > AQ_ELEM_F32;
    for (int i = 0; !bad && i < t->n_attrs; ++i)
        bad = !t->attrs[i].name;
    if (bad)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: invalid quantized tensor description", name);
    for (int i = 0; i < t->n_arrays; ++i)
        if (t->rows * t->arrays[i].row_elems > 0 && !t->data[i])
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: missing array %s", name,
                              t->arrays[i].name);
    return AQ_OK;
}

static hid_t elem_type(aq_elem e) {
    switch (e) {
    case AQ_ELEM_U8:
        return H5Tcopy(H5T_STD_U8LE);
    case AQ_ELEM_F16:
        return aq_h5_f16_type();
    case AQ_ELEM_F32:
        return H5Tcopy(H5T_IEEE_F32LE);
    }
    return -1;
}

static aq_status quantized_datasets(hid_t g, const char *name, const aq_h5_quantized *t, int level,
                                    aq_err *err) {
    aq_status st = AQ_OK;
    for (int i = 0; st == AQ_OK && i < t->n_arrays; ++i) {
        const aq_qarray *a = &t->arrays[i];
        hsize_t dims[2] = {(hsize_t)t->rows, (hsize_t)a->row_elems};
        hid_t type = elem_type(a->elem);
        if (t->prefiltered)
            st = put_prefiltered(g, name, a->name, type, dims, t->data[i], t->data_bytes[i], level,
                                 err);
        else
            st = put_dataset(g, name, a->name, type, 2, dims, t->data[i], level, err);
        aq_h5_close_id(type);
    }
    return st;
}

static int quantized_attrs(hid_t g, const aq_h5_quantized *t) {
    int rc = aq_h5_attr_str(g, "kind", "quantized");
    if (rc == 0) rc = aq_h5_attr_i64_array(g, "shape", t->shape, t->ndim);
    if (rc == 0) rc = aq_h5_attr_str(g, "orig_dtype", aq_h5_dtype_name(t->orig_dtype));
    for (int i = 0; rc == 0 && i < t->n_attrs; ++i) {
        const aq_qattr *a = &t->attrs[i];
        rc = a->str ? aq_h5_attr_str(g, a->name, a->str) : aq_h5_attr_i32(g, a->name, a->num);
    }
    if (rc == 0) rc = aq_h5_attr_f64(g, "rel_mse", t->metrics.rel_mse);
    if (rc == 0) rc = aq_h5_attr_f64(g, "sqnr_db", t->metrics.sqnr_db);
    if (rc == 0) rc = aq_h5_attr_f64(g, "cosine", t->metrics.cosine);
    if (rc == 0) rc = aq_h5_attr_f64(g, "weighted_rel_err", t->metrics.weighted_rel_err);
    if (rc == 0 && t->gptq) {
        rc = aq_h5_attr_str(g, "optimizer", "gptq");
        if (rc == 0) rc = aq_h5_attr_f64(g, "gptq_damp", t->gptq_damp);
        if (rc == 0) rc = aq_h5_attr_i32(g, "gptq_block", t->gptq_block);
        if (rc == 0) rc = aq_h5_attr_i32(g, "gptq_act_order", t->gptq_act_order);
    }
    if (rc == 0 && t->fallback_from_bits > 0) {
        rc = aq_h5_attr_i32(g, "fallback_from_bits", t->fallback_from_bits);
        if (rc == 0) rc = aq_h5_attr_f64(g, "fallback_from_err", t->fallback_from_err);
        if (rc == 0 && isfinite(t->fallback_from_kl))
            rc = aq_h5_attr_f64(g, "fallback_from_kl", t->fallback_from_kl);
    }
    return rc;
}

/* `complete` is written last and flushed with the group: a reader (resume) that finds it
 * may trust everything else in the group. */
static aq_status finish_group(hid_t g, const char *name, aq_err *err) {
    if (aq_h5_attr_i32(g, "complete", 1) < 0) return fail_tensor(err, name, "attribute complete");
    return AQ_OK;
}

/* Tensor groups track the creation order of their attributes: in the 1.10 format more than
 * 8 attributes move to dense (name-indexed) storage, and readers must still be able to see
 * that `complete` came last. */
static hid_t create_group(hid_t tensors, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl < 0) return -1;
    hid_t g = H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0
                  ? -1
                  : H5Gcreate2(tensors, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    aq_h5_close_id(gcpl);
    return g;
}

static aq_status quantized_impl(aq_h5_writer *w, const char *name, const aq_h5_quantized *t,
                                aq_err *err) {
    hid_t g = create_group(w->tensors, name);
    if (g < 0) return fail_tensor(err, name, "cannot create group (duplicate name?)");
    aq_status st = quantized_datasets(g, name, t, w->level, err);
    if (st == AQ_OK && quantized_attrs(g, t) < 0) st = fail_tensor(err, name, "attributes");
    if (st == AQ_OK) st = finish_group(g, name, err);
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = fail_tensor(err, name, "closing group");
    return st;
}

aq_status aq_h5_write_quantized(aq_h5_writer *w, const char *name, const aq_h5_quantized *t,
                                aq_err *err) {
    aq_status st = check_name(w, name, err);
    if (st == AQ_OK && !t) st = aq_err_set(err, AQ_E_VALUE, "tensor %s: no data", name);
    if (st == AQ_OK) st = check_quantized(name, t, err);
    if (st != AQ_OK) return st;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = quantized_impl(w, name, t, err);
    aq_h5_quiet_end(&q);
    return st;
}

/*-*********************************************
 *  Passthrough
 ***********************************************/

/* F32 as float32, F16 as IEEE half, BF16 as raw uint16 (HDF5 1.10 has no bfloat16). */
static hid_t passthrough_type(aq_dtype dt) {
    switch (dt) {
    case AQ_DT_F32:
        return H5Tcopy(H5T_IEEE_F32LE);
    case AQ_DT_F16:
        return aq_h5_f16_type();
    case AQ_DT_BF16:
        return H5Tcopy(H5T_STD_U16LE);
    }
    return -1;
}

/* The dataset `data`: from the bytes, or with blob (ndim 2) from pre-filtered chunks. */
static aq_status passthrough_data(hid_t g, const char *name, aq_dtype dt, int ndim,
                                  const int64_t *shape, const void *data, const void *blob,
                                  uint64_t blob_bytes, int level, aq_err *err) {
    hsize_t dims[H5S_MAX_RANK];
    int rank = ndim > 0 ? ndim : 1; /* 0-d: one element, dataset shape [1] */
    dims[0] = 1;
    for (int i = 0; i < ndim; ++i)
        dims[i] = (hsize_t)shape[i];
    hid_t type = passthrough_type(dt);
    hid_t ds = type < 0 ? -1
               : blob   ? aq_h5_write_prefiltered(g, "data", type, dims, blob, blob_bytes, level)
                        : aq_h5_write_dataset(g, "data", type, rank, dims, data, level);
    aq_h5_close_id(type);
    int rc = ds < 0 ? -1 : 0;
    if (rc == 0 && dt == AQ_DT_BF16) rc = aq_h5_attr_str(ds, "dtype", "bf16");
    if (aq_h5_close_id(ds) < 0) rc = -1;
    return rc == 0 ? AQ_OK : fail_tensor(err, name, "dataset data");
}

static aq_status passthrough_impl(aq_h5_writer *w, const char *name, aq_dtype dt, int ndim,
                                  const int64_t *shape, const void *data, const void *blob,
                                  uint64_t blob_bytes, const aq_qattr *attrs, int n_attrs,
                                  aq_err *err) {
    hid_t g = create_group(w->tensors, name);
    if (g < 0) return fail_tensor(err, name, "cannot create group (duplicate name?)");
    aq_status st =
        passthrough_data(g, name, dt, ndim, shape, data, blob, blob_bytes, w->level, err);
    int rc = st == AQ_OK ? aq_h5_attr_str(g, "kind", "passthrough") : 0;
    if (rc == 0 && st == AQ_OK) rc = aq_h5_attr_i64_array(g, "shape", shape, ndim);
    if (rc == 0 && st == AQ_OK) rc = aq_h5_attr_str(g, "orig_dtype", aq_h5_dtype_name(dt));
    for (int i = 0; rc == 0 && st == AQ_OK && i < n_attrs; ++i)
        rc = attrs[i].str ? aq_h5_attr_str(g, attrs[i].name, attrs[i].str)
                          : aq_h5_attr_i32(g, attrs[i].name, attrs[i].num);
    if (rc < 0) st = fail_tensor(err, name, "attributes");
    if (st == AQ_OK) st = finish_group(g, name, err);
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = fail_tensor(err, name, "closing group");
    return st;
}

static int64_t element_count(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i)
        n *= shape[i];
    return n;
}

aq_status aq_h5_write_passthrough(aq_h5_writer *w, const char *name, aq_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data, aq_err *err) {
    return aq_h5_write_passthrough_ex(w, name, dtype, ndim, shape, data, NULL, 0, err);
}

aq_status aq_h5_write_passthrough_ex(aq_h5_writer *w, const char *name, aq_dtype dtype, int ndim,
                                     const int64_t *shape, const void *data, const aq_qattr *attrs,
                                     int n_attrs, aq_err *err) {
    aq_status st = check_name(w, name, err);
    if (st != AQ_OK) return st;
    int bad = ndim < 0 || ndim > H5S_MAX_RANK || (ndim > 0 && !shape) || !aq_h5_dtype_name(dtype);
    for (int i = 0; !bad && i < ndim; ++i)
        bad = shape[i] < 0;
    if (!bad && !data && element_count(ndim, shape) > 0) bad = 1;
    if (bad) return aq_err_set(err, AQ_E_VALUE, "tensor %s: invalid passthrough tensor", name);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = passthrough_impl(w, name, dtype, ndim, shape, data, NULL, 0, attrs, n_attrs, err);
    aq_h5_quiet_end(&q);
    return st;
}

aq_status aq_h5_write_passthrough_prefiltered(aq_h5_writer *w, const char *name, aq_dtype dtype,
                                              int ndim, const int64_t *shape, const void *blob,
                                              uint64_t blob_bytes, const aq_qattr *attrs,
                                              int n_attrs, aq_err *err) {
    aq_status st = check_name(w, name, err);
    if (st != AQ_OK) return st;
    if (ndim != 2 || !shape || shape[0] < 0 || shape[1] < 0 || !aq_h5_dtype_name(dtype) || !blob ||
        (n_attrs > 0 && !attrs))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: invalid pre-filtered passthrough tensor",
                          name);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = passthrough_impl(w, name, dtype, ndim, shape, NULL, blob, blob_bytes, attrs, n_attrs, err);
    aq_h5_quiet_end(&q);
    return st;
}

/*-*********************************************
 *  Alias
 ***********************************************/

aq_status aq_h5_write_alias(aq_h5_writer *w, const char *alias, const char *target, aq_err *err) {
    aq_status st = check_name(w, alias, err);
    if (st == AQ_OK) st = check_name(w, target, err);
    if (st != AQ_OK) return st;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    /* A hard link: both names are the same object, stored once, and HDF5 refuses a link
     * to a target that does not exist. */
    if (H5Lcreate_hard(w->tensors, target, w->tensors, alias, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        char what[AQ_ERR_MSG_MAX / 2];
        snprintf(what, sizeof what, "tensor %s: cannot alias to %s", alias, target);
        st = aq_h5_fail(err, what);
    }
    aq_h5_quiet_end(&q);
    return st;
}
