/*
 * aq-mpi — /act/<name> (per-layer activation parameters and phase figures) and
 * /timegroups (docs/DESIGN.md §6.2, docs/FORMAT.md).
 */
#include "h5_internal.h"

#include <stdio.h>
#include <string.h>

static aq_status fail_act(aq_err *err, const char *name, const char *part) {
    char what[AQ_ERR_MSG_MAX / 2];
    snprintf(what, sizeof what, "act %s: %s", name, part);
    return aq_h5_fail(err, what);
}

/* Layer names become link names under /act: a '/' would silently nest groups. */
static aq_status check_act(const aq_h5_writer *w, const char *name, const aq_h5_act *a,
                           aq_err *err) {
    if (!w || !name || !name[0] || !a)
        return aq_err_set(err, AQ_E_VALUE, "HDF5 writer: missing writer, layer name or data");
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return aq_err_set(err, AQ_E_VALUE, "act %s: name not usable as an HDF5 link", name);
    if (a->K < 1 || a->T < 1 || a->act_bits < 1 || a->act_bits > 16 || !a->lo || !a->hi ||
        !a->scale || !a->zero || !a->schedule_scale || !a->schedule_zero)
        return aq_err_set(err, AQ_E_VALUE,
                          "act %s: invalid sizes or missing arrays (K=%d, "
                          "T=%d, act_bits=%d)",
                          name, a->K, a->T, a->act_bits);
    if (!a->stats_source ||
        (strcmp(a->stats_source, "calibration") && strcmp(a->stats_source, "synthetic")))
        return aq_err_set(err, AQ_E_VALUE,
                          "act %s: stats_source must be \"calibration\" or "
                          "\"synthetic\"",
                          name);
    return AQ_OK;
}

/* /act is created by the first layer written; later calls open it. */
static hid_t act_root(hid_t file) {
    htri_t e = H5Lexists(file, "act", H5P_DEFAULT);
    if (e < 0) return -1;
    return e ? H5Gopen2(file, "act", H5P_DEFAULT)
             : H5Gcreate2(file, "act", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

static aq_status act_datasets(hid_t g, const char *name, const aq_h5_act *a, int level,
                              aq_err *err) {
    const struct {
        const char *dname;
        hid_t type;
        size_t n;
        const void *buf;
    } cols[] = {
        {"lo", H5T_IEEE_F32LE, (size_t)a->K, a->lo},
        {"hi", H5T_IEEE_F32LE, (size_t)a->K, a->hi},
        {"scale", H5T_IEEE_F32LE, (size_t)a->K, a->scale},
        {"zero", H5T_STD_I32LE, (size_t)a->K, a->zero},
        {"schedule_scale", H5T_IEEE_F32LE, (size_t)a->T, a->schedule_scale},
        {"schedule_zero", H5T_IEEE_F32LE, (size_t)a->T, a->schedule_zero},
    };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; ++i)
        if (aq_h5_write_dataset_1d(g, cols[i].dname, cols[i].type, cols[i].n, cols[i].buf, level) <
            0) {
            char part[64];
            snprintf(part, sizeof part, "dataset %s", cols[i].dname);
            return fail_act(err, name, part);
        }
    return AQ_OK;
}

static int act_attrs(hid_t g, const aq_h5_act *a) {
    int rc = aq_h5_attr_i32(g, "act_bits", a->act_bits);
    if (rc == 0) rc = aq_h5_attr_f64(g, "smoothness_before", a->smoothness_before);
    if (rc == 0) rc = aq_h5_attr_f64(g, "smoothness_after", a->smoothness_after);
    if (rc == 0) rc = aq_h5_attr_i32(g, "violations", a->violations);
    if (rc == 0) rc = aq_h5_attr_i32(g, "violations_high", a->violations_high);
    if (rc == 0) rc = aq_h5_attr_i32(g, "violations_medium", a->violations_medium);
    if (rc == 0) rc = aq_h5_attr_i32(g, "violations_low", a->violations_low);
    if (rc == 0) rc = aq_h5_attr_f64(g, "max_jump_before", a->max_jump_before);
    if (rc == 0) rc = aq_h5_attr_f64(g, "max_jump_after", a->max_jump_after);
    if (rc == 0) rc = aq_h5_attr_f64(g, "expected_err_before", a->expected_err_before);
    if (rc == 0) rc = aq_h5_attr_f64(g, "expected_err_after", a->expected_err_after);
    if (rc == 0) rc = aq_h5_attr_i32(g, "opt_iterations", a->opt_iterations);
    if (rc == 0) rc = aq_h5_attr_i32(g, "opt_converged", a->opt_converged);
    if (rc == 0) rc = aq_h5_attr_f64(g, "opt_initial_loss", a->opt_initial_loss);
    if (rc == 0) rc = aq_h5_attr_f64(g, "opt_final_loss", a->opt_final_loss);
    if (rc == 0) rc = aq_h5_attr_str(g, "stats_source", a->stats_source);
    return rc;
}

static aq_status act_impl(aq_h5_writer *w, const char *name, const aq_h5_act *a, aq_err *err) {
    hid_t root = act_root(w->file);
    if (root < 0) return aq_h5_fail(err, "group /act");
    hid_t g = H5Gcreate2(root, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    aq_status st = g < 0 ? fail_act(err, name, "cannot create group (duplicate name?)")
                         : act_datasets(g, name, a, w->level, err);
    if (st == AQ_OK && act_attrs(g, a) < 0) st = fail_act(err, name, "attributes");
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = fail_act(err, name, "closing group");
    if (aq_h5_close_id(root) < 0 && st == AQ_OK) st = aq_h5_fail(err, "closing /act");
    return st;
}

aq_status aq_h5_write_act(aq_h5_writer *w, const char *name, const aq_h5_act *a, aq_err *err) {
    aq_status st = check_act(w, name, a, err);
    if (st != AQ_OK) return st;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = act_impl(w, name, a, err);
    aq_h5_quiet_end(&q);
    return st;
}

/*-*********************************************
 *  /timegroups
 ***********************************************/

/* Boundaries must cut 0..T into K non-empty segments: 0 = b_0 < b_1 < ... < b_K = T. */
static int boundaries_valid(int K, const int32_t *b, int T) {
    if (b[0] != 0 || b[K] != T) return 0;
    for (int k = 0; k < K; ++k)
        if (b[k + 1] <= b[k]) return 0;
    return 1;
}

typedef struct {
    int K, T;
    const int32_t *boundaries;
    const float *time_weight, *alphabar;
    const char *schedule, *time_weight_mode, *boundaries_mode;
} timegroups_in;

static aq_status timegroups_impl(aq_h5_writer *w, const timegroups_in *in, aq_err *err) {
    hid_t g = H5Gcreate2(w->file, "timegroups", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return aq_h5_fail(err, "group /timegroups (written twice?)");
    const char *failed = NULL;
    if (aq_h5_write_dataset_1d(g, "boundaries", H5T_STD_I32LE, (size_t)in->K + 1, in->boundaries,
                               w->level) < 0)
        failed = "/timegroups/boundaries";
    else if (aq_h5_write_dataset_1d(g, "time_weight", H5T_IEEE_F32LE, (size_t)in->T,
                                    in->time_weight, w->level) < 0)
        failed = "/timegroups/time_weight";
    else if (aq_h5_write_dataset_1d(g, "alphabar", H5T_IEEE_F32LE, (size_t)in->T, in->alphabar,
                                    w->level) < 0)
        failed = "/timegroups/alphabar";
    else if (aq_h5_attr_str(g, "schedule", in->schedule) < 0 ||
             aq_h5_attr_str(g, "time_weight_mode", in->time_weight_mode) < 0 ||
             aq_h5_attr_str(g, "boundaries_mode", in->boundaries_mode) < 0 ||
             aq_h5_attr_i32(g, "K", in->K) < 0 || aq_h5_attr_i32(g, "T", in->T) < 0)
        failed = "/timegroups attributes";
    aq_status st = failed ? aq_h5_fail(err, failed) : AQ_OK;
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = aq_h5_fail(err, "closing /timegroups");
    return st;
}

aq_status aq_h5_write_timegroups(aq_h5_writer *w, int K, const int32_t *boundaries, int T,
                                 const float *time_weight, const float *alphabar,
                                 const char *schedule, const char *time_weight_mode,
                                 const char *boundaries_mode, aq_err *err) {
    if (!w || K < 1 || T < 1 || K > T || !boundaries || !time_weight || !alphabar || !schedule ||
        !time_weight_mode || !boundaries_mode)
        return aq_err_set(err, AQ_E_VALUE,
                          "/timegroups: missing data or invalid sizes "
                          "(K=%d, T=%d)",
                          K, T);
    if (!boundaries_valid(K, boundaries, T))
        return aq_err_set(err, AQ_E_VALUE,
                          "/timegroups: boundaries must rise strictly from "
                          "0 to T=%d in K=%d steps",
                          T, K);
    timegroups_in in = {K,        T,        boundaries,       time_weight,
                        alphabar, schedule, time_weight_mode, boundaries_mode};
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = timegroups_impl(w, &in, err);
    aq_h5_quiet_end(&q);
    return st;
}
