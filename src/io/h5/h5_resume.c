/*
 * aq-mpi — flushing the partial file and reopening it to resume an interrupted run.
 */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

aq_status aq_h5_flush(aq_h5_writer *w, aq_err *err) {
    if (!w) return aq_err_set(err, AQ_E_VALUE, "aq_h5_flush: no writer");
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0
                       ? aq_h5_fail(err, "flushing the result file")
                       : AQ_OK;
    aq_h5_quiet_end(&q);
    return st;
}

static int read_i32_attr(hid_t loc, const char *name, int32_t *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int rc = a >= 0 && H5Aread(a, H5T_NATIVE_INT32, v) >= 0 ? 0 : -1;
    aq_h5_close_id(a);
    return rc;
}

/* Length of a config text without its trailing [run] section: ranks and threads may change
 * between a run and its resumption, since the result does not depend on them. */
static size_t without_run(const char *s) {
    const char *r = strstr(s, "[run]\n");
    return r ? (size_t)(r - s) : strlen(s);
}

/* Equal configs, or AQ_E_CONFIG naming the first line that differs. */
static aq_status check_config(hid_t f, const char *partial, const char *want, aq_err *err) {
    char *have = aq_h5_attr_read_str(f, "config");
    if (!have)
        return aq_err_set(err, AQ_E_FORMAT, "%s: no config attribute; cannot resume", partial);
    aq_status st = AQ_OK;
    size_t nh = without_run(have), nw = without_run(want);
    if (nh != nw || strncmp(have, want, nh) != 0) {
        const char *a = have, *b = want;
        int line = 1;
        while (*a && *a == *b)
            line += *a++ == '\n', ++b;
        while (a > have && a[-1] != '\n')
            --a;
        const char *end = strchr(a, '\n');
        st = aq_err_set(err, AQ_E_CONFIG,
                        "%s was written with another configuration (line %d: '%.*s'); resume "
                        "with the same job and overrides, or delete it to start afresh",
                        partial, line, end ? (int)(end - a) : (int)strlen(a), a);
    }
    free(have);
    return st;
}

typedef struct {
    char **v;
    size_t n, cap;
} names;

static int names_push(names *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

void aq_h5_names_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; ++i)
        free(v[i]);
    free(v);
}

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    return names_push(data, name) == 0 ? 0 : -1;
}

static void drop(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) H5Ldelete(loc, name, H5P_DEFAULT);
}

/* Keeps complete tensors (their names go to `done`), deletes the rest. */
static aq_status sort_tensors(aq_h5_writer *w, names *done, aq_err *err) {
    names all = {NULL, 0, 0};
    if (H5Literate(w->tensors, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &all) < 0) {
        aq_h5_names_free(all.v, all.n);
        return aq_h5_fail(err, "listing /tensors");
    }
    aq_status st = AQ_OK;
    for (size_t i = 0; i < all.n && st == AQ_OK; ++i) {
        hid_t g = H5Gopen2(w->tensors, all.v[i], H5P_DEFAULT);
        int32_t c = 0;
        int complete = g >= 0 && read_i32_attr(g, "complete", &c) == 0 && c == 1;
        aq_h5_close_id(g);
        if (complete) {
            if (names_push(done, all.v[i]) != 0)
                st = aq_err_set(err, AQ_E_NOMEM, "resume: out of memory");
        } else if (H5Ldelete(w->tensors, all.v[i], H5P_DEFAULT) < 0) {
            st = aq_h5_fail(err, "removing an incomplete tensor");
        }
    }
    aq_h5_names_free(all.v, all.n);
    return st;
}

static aq_status reopen(aq_h5_writer *w, const char *config_text, const char *const *dropped,
                        size_t n_drop, names *done, aq_err *err) {
    if (access(w->partial, F_OK) != 0)
        return aq_err_set(err, AQ_E_IO, "%s: no partial result to resume", w->partial);
    /* New objects get checksummed metadata too.  A writer killed with SIGKILL leaves the
     * 1.10 superblock's "open for write" flag set; clear it as h5clear -s does (the
     * library's fapl property "clear_status_flags"): the partial's writer is gone, and
     * HDF5's file lock still refuses a partial that another process has open. */
    hid_t fapl = aq_h5_fapl_checksummed();
    hbool_t clear = 1;
    if (fapl >= 0 && H5Pexist(fapl, "clear_status_flags") > 0)
        H5Pset(fapl, "clear_status_flags", &clear);
    w->file = fapl < 0 ? -1 : H5Fopen(w->partial, H5F_ACC_RDWR, fapl);
    aq_h5_close_id(fapl);
    if (w->file < 0) {
        char what[AQ_ERR_MSG_MAX / 2];
        snprintf(what, sizeof what, "cannot reopen %s", w->partial);
        return aq_h5_fail(err, what);
    }
    char *fmt = aq_h5_attr_read_str(w->file, "format");
    int ok = fmt && strcmp(fmt, AQ_FORMAT_NAME) == 0;
    free(fmt);
    if (!ok) return aq_err_set(err, AQ_E_FORMAT, "%s: not an %s file", w->partial, AQ_FORMAT_NAME);
    aq_status st = check_config(w->file, w->partial, config_text, err);
    if (st != AQ_OK) return st;
    static const char *const END_OF_RUN[] = {"act", "timegroups", "run", "source"};
    for (size_t i = 0; i < sizeof END_OF_RUN / sizeof END_OF_RUN[0]; ++i)
        drop(w->file, END_OF_RUN[i]);
    w->tensors = H5Gopen2(w->file, "tensors", H5P_DEFAULT);
    if (w->tensors < 0) return aq_h5_fail(err, "group /tensors");
    for (size_t i = 0; i < n_drop; ++i)
        drop(w->tensors, dropped[i]);
    return sort_tensors(w, done, err);
}

aq_status aq_h5_resume(const char *path, int level, const char *config_text,
                       const char *const *dropped, size_t n_drop, aq_h5_writer **out,
                       char ***completed, size_t *n_completed, aq_err *err) {
    *out = NULL;
    *completed = NULL;
    *n_completed = 0;
    aq_h5_writer *w = NULL;
    names done = {NULL, 0, 0};
    aq_status st = aq_h5z_zstd_register(err);
    if (st == AQ_OK) st = aq_h5_writer_alloc(path, level, &w, err);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    if (st == AQ_OK) st = reopen(w, config_text, dropped, n_drop, &done, err);
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) {
        aq_h5_names_free(done.v, done.n);
        aq_h5_abort(w, 1); /* never delete what an earlier run left */
        return st;
    }
    *out = w;
    *completed = done.v;
    *n_completed = done.n;
    return AQ_OK;
}
