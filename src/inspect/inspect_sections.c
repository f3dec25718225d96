/*
 * aq-mpi — aq-inspect summary: totals, /timegroups, /act (phase figures), /run, /source.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inspect_summary.h"

int ins_totals_seen(ins_totals *t, haddr_t addr) {
    for (size_t i = 0; i < t->nseen; ++i)
        if (t->seen[i] == addr) return 1;
    if (t->nseen == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        haddr_t *p = realloc(t->seen, cap * sizeof *p);
        if (!p) return 0;
        t->seen = p;
        t->cap = cap;
    }
    t->seen[t->nseen++] = addr;
    return 0;
}

void ins_print_totals(const ins_totals *t) {
    FILE *o = t->out;
    fprintf(o, "\ntotals        %zu tensors (%zu quantized)\n", t->tensors, t->quantized);
    fprintf(o, "bytes         source %.0f, stored %.0f, ratio %.2fx\n", t->src_bytes,
            t->stored_bytes, t->stored_bytes > 0 ? t->src_bytes / t->stored_bytes : 0.0);
    if (t->weights > 0)
        fprintf(o, "bits/weight   %.3f (stored bytes of quantized tensors, incl. scale/min)\n",
                t->weight_bits / t->weights);
    if (t->sqnr_n) fprintf(o, "mean SQNR     %.2f dB\n", t->sqnr_sum / (double)t->sqnr_n);
}

/* A 1-D dataset read as double into a malloc'ed array; *n its length.  NULL when absent. */
static double *read_1d(hid_t loc, const char *name, size_t *n) {
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hsize_t dims[8];
    double *v = NULL;
    if (d >= 0 && ins_dims(d, dims) == 1 && (v = malloc((dims[0] ? dims[0] : 1) * sizeof *v)) &&
        (dims[0] == 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)) {
        *n = (size_t)dims[0];
    } else {
        free(v);
        v = NULL;
    }
    aq_h5_close_id(d);
    return v;
}

void ins_print_timegroups(FILE *out, hid_t f) {
    if (H5Lexists(f, "timegroups", H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(f, "timegroups", H5P_DEFAULT);
    int K = 0, T = 0;
    char sched[32] = "?", mode[32] = "?";
    ins_attr_num(g, "K", H5T_NATIVE_INT, &K);
    ins_attr_num(g, "T", H5T_NATIVE_INT, &T);
    ins_attr_str(g, "schedule", sched, sizeof sched);
    ins_attr_str(g, "boundaries_mode", mode, sizeof mode);
    size_t n = 0;
    double *b = read_1d(g, "boundaries", &n);
    fprintf(out, "\ntimegroups    K=%d T=%d schedule %s, boundaries %s:", K, T, sched, mode);
    for (size_t i = 0; b && i < n; ++i)
        fprintf(out, " %.0f", b[i]);
    fprintf(out, "\n");
    free(b);
    aq_h5_close_id(g);
}

typedef struct {
    size_t layers, ran3, conv3;
    double sm_before, sm_after, err_before, err_after;
    long violations;
} act_sum;

static herr_t act_one(hid_t act, const char *name, const H5L_info_t *li, void *data) {
    (void)li;
    act_sum *s = data;
    hid_t g = H5Gopen2(act, name, H5P_DEFAULT);
    double v[4] = {0, 0, 0, 0};
    int viol = 0, it = 0, conv = 0;
    ins_attr_num(g, "smoothness_before", H5T_NATIVE_DOUBLE, &v[0]);
    ins_attr_num(g, "smoothness_after", H5T_NATIVE_DOUBLE, &v[1]);
    ins_attr_num(g, "expected_err_before", H5T_NATIVE_DOUBLE, &v[2]);
    ins_attr_num(g, "expected_err_after", H5T_NATIVE_DOUBLE, &v[3]);
    ins_attr_num(g, "violations", H5T_NATIVE_INT, &viol);
    ins_attr_num(g, "opt_iterations", H5T_NATIVE_INT, &it);
    ins_attr_num(g, "opt_converged", H5T_NATIVE_INT, &conv);
    s->layers++;
    s->sm_before += v[0];
    s->sm_after += v[1];
    s->err_before += v[2];
    s->err_after += v[3];
    s->violations += viol;
    s->ran3 += it > 0;
    s->conv3 += conv != 0;
    aq_h5_close_id(g);
    return 0;
}

void ins_print_act(FILE *out, hid_t f) {
    if (H5Lexists(f, "act", H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(f, "act", H5P_DEFAULT);
    act_sum s = {0};
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, act_one, &s);
    aq_h5_close_id(g);
    if (!s.layers) return;
    double n = (double)s.layers;
    fprintf(out, "act           %zu layers\n", s.layers);
    fprintf(out, "  phase 1     mean smoothness %.4f -> %.4f, %ld boundary violations\n",
            s.sm_before / n, s.sm_after / n, s.violations);
    fprintf(out, "  phase 2     mean expected error %.6g -> %.6g\n", s.err_before / n,
            s.err_after / n);
    fprintf(out, "  phase 3     ran on %zu layers, converged on %zu\n", s.ran3, s.conv3);
}

void ins_print_run(FILE *out, hid_t f) {
    if (H5Lexists(f, "run", H5P_DEFAULT) <= 0) {
        fprintf(out, "\nrun           (no /run: the run did not finish)\n");
        return;
    }
    hid_t g = H5Gopen2(f, "run", H5P_DEFAULT);
    size_t n = 0, nb = 0, nt = 0, nr = 0;
    double *units = read_1d(g, "units", &n), *bytes = read_1d(g, "bytes", &nb);
    double *tot = read_1d(g, "seconds_total", &nt), *rss = read_1d(g, "peak_rss_bytes", &nr);
    fprintf(out, "\nrun           rank  units        bytes   seconds   peak RSS MB\n");
    for (size_t r = 0; r < n; ++r)
        fprintf(out, "              %4zu %6.0f %12.0f %9.3f %13.1f\n", r, units[r],
                r < nb ? bytes[r] : NAN, r < nt ? tot[r] : NAN, r < nr ? rss[r] / 1048576.0 : NAN);
    free(units);
    free(bytes);
    free(tot);
    free(rss);
    aq_h5_close_id(g);
}

void ins_print_source(FILE *out, hid_t f) {
    if (H5Lexists(f, "source", H5P_DEFAULT) <= 0) return;
    hid_t fd = H5Dopen2(f, "source/file", H5P_DEFAULT),
          hd = H5Dopen2(f, "source/sha256", H5P_DEFAULT);
    hid_t ft = fd >= 0 ? H5Dget_type(fd) : -1, ht = hd >= 0 ? H5Dget_type(hd) : -1;
    hsize_t dims[8] = {0};
    size_t fw = ft >= 0 ? H5Tget_size(ft) : 0, hw = ht >= 0 ? H5Tget_size(ht) : 0;
    size_t n = fd >= 0 && ins_dims(fd, dims) == 1 ? (size_t)dims[0] : 0;
    char *fb = calloc(n * fw + 1, 1), *hb = calloc(n * hw + 1, 1);
    int ok = n > 0 && fb && hb && fw && hw &&
             H5Dread(fd, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, fb) >= 0 &&
             H5Dread(hd, ht, H5S_ALL, H5S_ALL, H5P_DEFAULT, hb) >= 0;
    fprintf(out, "\nsource files  (sha256)\n");
    for (size_t i = 0; ok && i < n; ++i)
        fprintf(out, "  %.*s  %.*s\n", (int)hw, hb + i * hw, (int)fw, fb + i * fw);
    free(fb);
    free(hb);
    aq_h5_close_id(ft);
    aq_h5_close_id(ht);
    aq_h5_close_id(fd);
    aq_h5_close_id(hd);
}
