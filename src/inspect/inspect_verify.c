/*
 * aq-mpi — aq-inspect --verify: file-level checks (every dataset readable, digests of the
 * variable-length strings, run finished); the per-tensor checks are in inspect_tensor.c.
 */
#include <stdlib.h>
#include <string.h>

#include "inspect_read.h"
#include "inspect_verify.h"

/* Every dataset outside /tensors (whose datasets inspect_tensor.c reads with checks). */
static herr_t visit(hid_t root, const char *name, const H5O_info_t *info, void *data) {
    ins_verify *v = data;
    if (info->type != H5O_TYPE_DATASET || strncmp(name, "tensors/", 8) == 0) return 0;
    hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
    char desc[200];
    if (d < 0 || ins_read_all(d, -1, NULL, NULL) < 0)
        ins_problem(v, name, "cannot read: %s", aq_h5_error_desc(desc, sizeof desc));
    aq_h5_close_id(d);
    return 0;
}

static void check_root_digest(ins_verify *v, hid_t f) {
    static const char *const keys[] = {"format", "producer", "created", "config", "source_model"};
    char *vals[5] = {NULL};
    char want[80], have[65];
    int ok = 1;
    for (int i = 0; i < 5; ++i) {
        vals[i] = malloc(1 << 20);
        if (!vals[i] || ins_attr_str(f, keys[i], vals[i], 1 << 20) != 0) {
            ins_problem(v, "/", "root attribute %s missing or unreadable", keys[i]);
            ok = 0;
        }
    }
    if (ok && ins_attr_str(f, "root_sha256", want, sizeof want) != 0) {
        ins_problem(v, "/", "root attribute root_sha256 missing (cannot check the strings)");
    } else if (ok) {
        ins_sha256_strings((const char *const *)vals, 5, have);
        if (strcmp(want, have) != 0)
            ins_problem(v, "/", "root string attributes do not match root_sha256 (damaged)");
    }
    for (int i = 0; i < 5; ++i)
        free(vals[i]);
}

static void check_unit_names(ins_verify *v, hid_t f) {
    hid_t d = H5Dopen2(f, "run/unit_names", H5P_DEFAULT);
    hid_t ft = d >= 0 ? H5Dget_type(d) : -1;
    hsize_t dims[8] = {0};
    char want[80], have[65], desc[200];
    if (d < 0 || ft < 0 || ins_dims(d, dims) != 1 || H5Tis_variable_str(ft) <= 0) {
        ins_problem(v, "/run/unit_names", "missing or not a 1-D string dataset");
    } else {
        char **names = calloc(dims[0] ? dims[0] : 1, sizeof *names);
        hid_t s = H5Dget_space(d);
        if (!names || (dims[0] && H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) < 0)) {
            ins_problem(v, "/run/unit_names", "cannot read: %s",
                        aq_h5_error_desc(desc, sizeof desc));
        } else {
            ins_sha256_strings((const char *const *)names, dims[0], have);
            if (ins_attr_str(d, "sha256", want, sizeof want) != 0 || strcmp(want, have) != 0)
                ins_problem(v, "/run/unit_names", "names do not match their sha256 attribute");
            if (dims[0]) H5Dvlen_reclaim(ft, s, H5P_DEFAULT, names);
        }
        aq_h5_close_id(s);
        free(names);
    }
    aq_h5_close_id(ft);
    aq_h5_close_id(d);
}

static void check_file(ins_verify *v, hid_t f) {
    char desc[200];
    check_root_digest(v, f);
    if (H5Lexists(f, "run", H5P_DEFAULT) <= 0)
        ins_problem(v, "/run", "missing: the run did not finish (a .partial file?)");
    else
        check_unit_names(v, f);
    if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, visit, v, H5O_INFO_BASIC) < 0)
        ins_problem(v, "/", "cannot walk the file's objects: %s",
                    aq_h5_error_desc(desc, sizeof desc));
    if (H5Lexists(f, "tensors", H5P_DEFAULT) <= 0)
        ins_problem(v, "/tensors", "missing");
    else
        ins_check_tensors(v, f);
}

aq_status aq_inspect_verify(const char *path, FILE *out, size_t *problems, aq_err *err) {
    ins_verify v = {path, out, 0, NULL, 0, 0};
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_err oe = {0};
    hid_t f = ins_open(path, &oe);
    aq_status st = AQ_OK;
    if (f < 0) {
        fprintf(out, "%s\n", oe.msg);
        v.problems = 1;
        if (oe.code == AQ_E_IO) st = aq_err_set(err, AQ_E_IO, "%s", oe.msg);
    } else {
        check_file(&v, f);
        aq_h5_close_id(f);
    }
    free(v.seen);
    aq_h5_quiet_end(&q);
    *problems = v.problems;
    return st;
}
