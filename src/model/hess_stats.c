/*
 * aq-mpi — time-weighted layer-input Hessians during calibration (aq-calib --hessian): one
 * accumulator per quantized linear input of this rank's blocks (q/k/v share q_proj's,
 * gate/up share gate_proj's), plus the untied lm_head's on the rank holding it, filled by
 * the forward hook, then stored rank by rank through
 * rank 0 (include/aq/hessian.h).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/hessian.h"
#include "aq/model.h"
#include "aq/mpi_tags.h"
#include "aq/mpi_util.h"

/* OpenBLAS's thread setting (cblas.h of Debian's OpenBLAS declares it; declared here so that
 * any cblas.h works). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

enum { TAG_N = AQ_TAG_HESS_COUNT, TAG_HDR = AQ_TAG_HESS_LAYER, TAG_DATA = AQ_TAG_HESS_DATA };

/* The inputs that own a Hessian, in block order: q (shared by k, v), o, gate (shared by
 * up), down. */
static const aq_linear OWNERS[] = {AQ_LIN_Q, AQ_LIN_O, AQ_LIN_GATE, AQ_LIN_DOWN};
#define N_OWNERS (sizeof OWNERS / sizeof OWNERS[0])

typedef struct {
    char name[256];
    int64_t n;
    double *Hp; /* packed upper triangle, w_t-weighted sums */
} hentry;

struct aq_act_hess {
    int T, t, l0, n_layers;
    double *w;      /* [T] */
    double *rows;   /* [T] tokens seen per bin by the first entry (all entries alike) */
    float *scratch; /* [n_max * n_max] */
    size_t n;
    int has_head; /* 1: e[n - 1] is the untied lm_head's input */
    hentry *e;    /* (layer - l0) * N_OWNERS + owner index, then the head */
};

static int64_t input_width(const aq_llm_config *c, aq_linear lin) {
    if (lin == AQ_LIN_O) return c->n_heads * c->head_dim;
    if (lin == AQ_LIN_DOWN) return c->ffn;
    return c->hidden;
}

static int owner_index(aq_linear lin) {
    for (size_t k = 0; k < N_OWNERS; k++)
        if (OWNERS[k] == lin) return (int)k;
    return -1;
}

aq_status aq_act_hess_create(const aq_llm *m, int T, const double *w, int head, aq_act_hess **out,
                             aq_err *err) {
    aq_act_hess *s = calloc(1, sizeof *s);
    if (!s) return aq_err_set(err, AQ_E_NOMEM, "Hessians: out of memory");
    s->T = T;
    s->l0 = m->l0;
    s->n_layers = m->l1 - m->l0;
    s->has_head = head && m->lm_head != NULL;
    s->n = (size_t)s->n_layers * N_OWNERS + (size_t)s->has_head;
    s->w = malloc((size_t)T * sizeof *s->w);
    s->rows = calloc((size_t)T, sizeof *s->rows);
    s->e = calloc(s->n + 1, sizeof *s->e);
    int ok = s->w && s->rows && s->e;
    int64_t nmax = 0;
    for (size_t i = 0; ok && i < s->n; i++) {
        const int is_head = s->has_head && i == s->n - 1;
        aq_linear lin = is_head ? AQ_LIN_HEAD : OWNERS[i % N_OWNERS];
        hentry *e = &s->e[i];
        aq_llm_weight_name(is_head ? (int)m->cfg.n_layers : s->l0 + (int)(i / N_OWNERS), lin,
                           e->name, sizeof e->name);
        e->n = input_width(&m->cfg, lin);
        e->Hp = calloc((size_t)aq_hessian_packed_size(e->n), sizeof *e->Hp);
        ok = e->Hp != NULL;
        nmax = e->n > nmax ? e->n : nmax;
    }
    if (ok && nmax > 0) ok = (s->scratch = malloc((size_t)(nmax * nmax) * sizeof(float))) != NULL;
    if (!ok) {
        aq_act_hess_free(s);
        return aq_err_set(err, AQ_E_NOMEM, "Hessians: out of memory");
    }
    memcpy(s->w, w, (size_t)T * sizeof *s->w);
    *out = s;
    return AQ_OK;
}

void aq_act_hess_set_step(aq_act_hess *s, int t) {
    s->t = t;
}

size_t aq_act_hess_count(const aq_act_hess *s) {
    return s->n;
}

/* ssyrk on one OpenBLAS thread, so the sums do not depend on the thread setting of a rank
 * (the same reason as aq_gptq_opts.threads). */
static void record(void *ctx, int layer, aq_linear lin, float *x, int64_t rows, int64_t cols) {
    aq_act_hess *s = ctx;
    hentry *e = NULL;
    if (lin == AQ_LIN_HEAD) {
        if (!s->has_head) return;
        e = &s->e[s->n - 1];
    } else {
        int k = owner_index(lin);
        if (k < 0 || layer < s->l0 || layer >= s->l0 + s->n_layers) return;
        e = &s->e[(size_t)(layer - s->l0) * N_OWNERS + (size_t)k];
    }
    if (e->n != cols) return;
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    aq_hessian_accumulate(e->Hp, s->scratch, cols, x, rows, s->w[s->t]);
    openblas_set_num_threads(saved);
    if (e == &s->e[0]) s->rows[s->t] += (double)rows;
}

aq_llm_hook aq_act_hess_hook(aq_act_hess *s) {
    aq_llm_hook h = {s, record};
    return h;
}

void aq_act_hess_free(aq_act_hess *s) {
    if (!s) return;
    for (size_t i = 0; s->e && i < s->n; i++)
        free(s->e[i].Hp);
    free(s->e);
    free(s->w);
    free(s->rows);
    free(s->scratch);
    free(s);
}

/*-*********************************************
 *  Storing: rank 0 writes its own layers, then every other rank's, in rank order (= layer
 *  order), one layer in flight at a time.
 ***********************************************/
typedef struct {
    char name[256];
    int64_t n; /* -1: the sender failed (its message comes through the final agreement) */
} hess_hdr;

/* A triangle travels in pieces of at most 2^30 floats (MPI counts are int; n > 65535 would
 * overflow one message). */
#define PIECE ((int64_t)1 << 30)

static void send_floats(const float *buf, int64_t count, MPI_Comm comm) {
    for (int64_t off = 0; off < count; off += PIECE)
        MPI_Send(buf + off, (int)(count - off < PIECE ? count - off : PIECE), MPI_FLOAT, 0,
                 TAG_DATA, comm);
}

static void recv_floats(float *buf, int64_t count, int src, MPI_Comm comm) {
    for (int64_t off = 0; off < count; off += PIECE)
        MPI_Recv(buf + off, (int)(count - off < PIECE ? count - off : PIECE), MPI_FLOAT, src,
                 TAG_DATA, comm, MPI_STATUS_IGNORE);
}

/* The bins must have seen the same number of tokens (aq-calib runs every sequence through
 * every bin); tokens_per_bin is that number. */
static aq_status check_rows(const aq_act_hess *s, double tokens_per_bin, aq_err *err) {
    for (int t = 0; s->n > 0 && t < s->T; t++)
        if (s->rows[t] != tokens_per_bin)
            return aq_err_set(err, AQ_E_VALUE,
                              "Hessians: bin %d saw %.0f tokens, expected %.0f (every sequence "
                              "in every bin)",
                              t, s->rows[t], tokens_per_bin);
    return AQ_OK;
}

static aq_status send_all(const aq_act_hess *s, double tokens_per_bin, MPI_Comm comm, aq_err *err) {
    uint64_t n = s->n;
    MPI_Send(&n, 1, MPI_UINT64_T, 0, TAG_N, comm);
    aq_status st = check_rows(s, tokens_per_bin, err);
    float *buf = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const hentry *e = &s->e[i];
        hess_hdr h;
        memset(&h, 0, sizeof h);
        memcpy(h.name, e->name, sizeof h.name);
        int64_t np = aq_hessian_packed_size(e->n);
        if (st == AQ_OK) {
            float *nb = realloc(buf, (size_t)np * sizeof *buf);
            if (nb)
                buf = nb;
            else
                st = aq_err_set(err, AQ_E_NOMEM, "Hessians: out of memory");
        }
        if (st == AQ_OK) st = aq_hessian_finish(e->Hp, e->n, tokens_per_bin, e->name, buf, err);
        h.n = st == AQ_OK ? e->n : -1;
        MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HDR, comm);
        if (st != AQ_OK) break;
        send_floats(buf, np, comm);
    }
    free(buf);
    return st;
}

static aq_status put_own(const aq_act_hess *s, aq_hessian_store *store, double tokens_per_bin,
                         aq_err *err) {
    aq_status st = check_rows(s, tokens_per_bin, err);
    for (size_t i = 0; i < s->n && st == AQ_OK; i++) {
        const hentry *e = &s->e[i];
        float *buf = malloc((size_t)aq_hessian_packed_size(e->n) * sizeof *buf);
        st = buf ? aq_hessian_finish(e->Hp, e->n, tokens_per_bin, e->name, buf, err)
                 : aq_err_set(err, AQ_E_NOMEM, "Hessians: out of memory");
        if (st == AQ_OK) st = aq_hessian_store_put(store, e->name, e->n, buf, err);
        free(buf);
    }
    return st;
}

/* Receives rank src's layers; after a failure (here or there) the rest is drained. */
static aq_status recv_rank(int src, aq_hessian_store *store, MPI_Comm comm, aq_status st,
                           aq_err *err) {
    uint64_t n = 0;
    MPI_Recv(&n, 1, MPI_UINT64_T, src, TAG_N, comm, MPI_STATUS_IGNORE);
    for (uint64_t i = 0; i < n; i++) {
        hess_hdr h;
        MPI_Recv(&h, (int)sizeof h, MPI_BYTE, src, TAG_HDR, comm, MPI_STATUS_IGNORE);
        h.name[sizeof h.name - 1] = '\0';
        if (h.n < 0) break; /* the sender stops; its error arrives through the agreement */
        int64_t np = aq_hessian_packed_size(h.n);
        float *buf = malloc((size_t)np * sizeof *buf);
        if (!buf) {
            /* cannot drain without memory: abort the run, as stats_gather does */
            aq_err_set(err, AQ_E_NOMEM, "Hessians: out of memory receiving %s", h.name);
            MPI_Abort(comm, 1);
        }
        recv_floats(buf, np, src, comm);
        if (st == AQ_OK) st = aq_hessian_store_put(store, h.name, h.n, buf, err);
        free(buf);
    }
    return st;
}

aq_status aq_act_hess_store(const aq_act_hess *s, MPI_Comm comm, const char *path,
                            const aq_hessian_schedule *sch, double tokens_per_bin, aq_err *err) {
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    aq_hessian_store *store = NULL;
    aq_status st = AQ_OK;
    if (rank == 0) st = aq_hessian_store_open(path, sch, tokens_per_bin, &store, err);
    st = aq_mpi_agree(comm, st, err);
    if (st != AQ_OK) return st;
    if (rank == 0) {
        st = put_own(s, store, tokens_per_bin, err);
        for (int r = 1; r < size; r++)
            st = recv_rank(r, store, comm, st, err);
    } else {
        st = send_all(s, tokens_per_bin, comm, err);
    }
    st = aq_mpi_agree(comm, st, err);
    if (rank == 0) {
        if (st == AQ_OK)
            st = aq_hessian_store_close(store, err);
        else
            aq_hessian_store_abort(store);
    }
    return aq_mpi_agree(comm, st, err);
}
