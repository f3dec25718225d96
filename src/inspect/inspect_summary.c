/*
 * aq-mpi — aq-inspect FILE: a human-readable summary of a result file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inspect_internal.h"
#include "inspect_summary.h"

static void print_root(FILE *out, const char *path, hid_t f) {
    static const char *const keys[] = {"format", "producer", "created", "source_model"};
    char buf[1024];
    fprintf(out, "file          %s\n", path);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i)
        fprintf(out, "%-13s %s\n", keys[i],
                ins_attr_str(f, keys[i], buf, sizeof buf) == 0 ? buf : "?");
    int ranks = 0, threads = 0;
    ins_attr_num(f, "ranks", H5T_NATIVE_INT, &ranks);
    ins_attr_num(f, "threads", H5T_NATIVE_INT, &threads);
    fprintf(out, "ranks         %d x %d threads\n", ranks, threads);
}

/* Sum of the stored (compressed) bytes of every dataset in group g. */
static herr_t add_storage(hid_t g, const char *name, const H5L_info_t *li, void *data) {
    (void)li;
    hid_t d = H5Oopen(g, name, H5P_DEFAULT);
    if (d >= 0 && H5Iget_type(d) == H5I_DATASET) *(hsize_t *)data += H5Dget_storage_size(d);
    aq_h5_close_id(d);
    return 0;
}

static size_t dtype_bytes(const char *dt) {
    return strcmp(dt, "F32") == 0 ? 4 : 2;
}

static herr_t tensor_line(hid_t tensors, const char *name, const H5L_info_t *li, void *data) {
    (void)li;
    ins_totals *t = data;
    hid_t g = H5Gopen2(tensors, name, H5P_DEFAULT);
    H5O_info_t oi;
    if (g < 0 || H5Oget_info2(g, &oi, H5O_INFO_BASIC) < 0) {
        fprintf(t->out, "  %-48s (unreadable)\n", name);
        aq_h5_close_id(g);
        return 0;
    }
    if (oi.rc > 1 && ins_totals_seen(t, oi.addr)) {
        fprintf(t->out, "  %-48s alias (same group as an earlier name)\n", name);
        aq_h5_close_id(g);
        return 0;
    }
    int64_t shape[8] = {0};
    int nd = 0, bits = 0, gs = 0, complete = 0;
    char kind[32] = "?", dt[16] = "?", method[16] = "", sdt[16] = "", sh[128] = "";
    double sqnr = NAN;
    ins_attr_shape(g, "shape", shape, 8, &nd);
    ins_attr_str(g, "kind", kind, sizeof kind);
    ins_attr_str(g, "orig_dtype", dt, sizeof dt);
    ins_attr_num(g, "complete", H5T_NATIVE_INT, &complete);
    int64_t numel = 1;
    for (int i = 0; i < nd; ++i) {
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%s%lld", i ? "x" : "",
                 (long long)shape[i]);
        numel *= shape[i];
    }
    hsize_t stored = 0, idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_storage, &stored);
    char desc[96] = ""; /* "<fmt> (from <fmt>)" with 31-byte names fits */
    if (strcmp(kind, "quantized") == 0) {
        ins_attr_num(g, "bits", H5T_NATIVE_INT, &bits);
        ins_attr_num(g, "group_size", H5T_NATIVE_INT, &gs);
        ins_attr_str(g, "method", method, sizeof method);
        ins_attr_str(g, "scale_dtype", sdt, sizeof sdt);
        ins_attr_num(g, "sqnr_db", H5T_NATIVE_DOUBLE, &sqnr);
        char fmt[32] = "", from[32] = "";
        if (ins_attr_str(g, "format", fmt, sizeof fmt) == 0) { /* a ggml block format */
            if (ins_attr_str(g, "fallback_from_format", from, sizeof from) == 0)
                snprintf(desc, sizeof desc, "%s (from %s)", fmt, from);
            else
                snprintf(desc, sizeof desc, "%s", fmt);
        } else {
            snprintf(desc, sizeof desc, "int%d g%d %s %s", bits, gs, method, sdt);
        }
        t->quantized++;
        t->weights += numel;
        t->weight_bits += (double)stored * 8.0;
        if (isfinite(sqnr)) t->sqnr_sum += sqnr, t->sqnr_n++;
    } else {
        snprintf(desc, sizeof desc, "%s copy", dt);
    }
    t->tensors++;
    t->src_bytes += (double)numel * (double)dtype_bytes(dt);
    t->stored_bytes += (double)stored;
    char q[32] = "";
    if (!isnan(sqnr)) snprintf(q, sizeof q, "SQNR %.2f dB", sqnr);
    fprintf(t->out, "  %-48s %-11s %-14s %-18s %10llu B  %s%s\n", name, kind, sh[0] ? sh : "[]",
            desc, (unsigned long long)stored, q, complete == 1 ? "" : "  INCOMPLETE");
    aq_h5_close_id(g);
    return 0;
}

aq_status aq_inspect_summary(const char *path, FILE *out, aq_err *err) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t f = ins_open(path, err);
    if (f < 0) {
        aq_h5_quiet_end(&q);
        return err ? err->code : AQ_E_FORMAT;
    }
    print_root(out, path, f);
    ins_totals t = {.out = out};
    hid_t g = H5Gopen2(f, "tensors", H5P_DEFAULT);
    hsize_t idx = 0;
    fprintf(out, "\ntensors\n");
    if (g >= 0) H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, tensor_line, &t);
    aq_h5_close_id(g);
    ins_print_totals(&t);
    ins_print_timegroups(out, f);
    ins_print_act(out, f);
    ins_print_run(out, f);
    ins_print_source(out, f);
    free(t.seen);
    aq_h5_close_id(f);
    aq_h5_quiet_end(&q);
    return AQ_OK;
}
