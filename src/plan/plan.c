/* Tensors -> units in network order -> ranks. */
#include "aq/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLASS_EMBED = 0, CLASS_BLOCK = 1, CLASS_OTHER = 2, CLASS_HEAD = 3 };

typedef struct {
    int cls;
    long block;     /* block number for CLASS_BLOCK, else -1 */
    char unit[256]; /* unit name */
    size_t tensor;  /* model index */
    uint64_t bytes, work_bytes;
} entry;

/* "<prefix>.layers.<N>.rest" or "<prefix>.h.<N>.rest" -> N and the unit name. */
static long block_number(const char *name, char *unit, size_t n) {
    static const char *const MARKS[] = {".layers.", ".h.", ".blocks."};
    for (size_t m = 0; m < sizeof MARKS / sizeof MARKS[0]; ++m) {
        const char *p = strstr(name, MARKS[m]);
        if (!p) continue;
        const char *digits = p + strlen(MARKS[m]);
        char *end;
        long b = strtol(digits, &end, 10);
        if (end == digits || (*end != '.' && *end != '\0')) continue;
        snprintf(unit, n, "%.*s", (int)(end - name), name);
        return b;
    }
    return -1;
}

static void classify(const aq_tensor *t, size_t index, int work, entry *e) {
    e->tensor = index;
    e->bytes = t->nbytes;
    e->work_bytes = work ? t->nbytes : 0;
    e->block = block_number(t->name, e->unit, sizeof e->unit);
    if (e->block >= 0) {
        e->cls = CLASS_BLOCK;
        return;
    }
    snprintf(e->unit, sizeof e->unit, "%s", t->name);
    if (strstr(t->name, "embed") || strstr(t->name, "wte") || strstr(t->name, "wpe"))
        e->cls = CLASS_EMBED;
    else if (strncmp(t->name, "lm_head", 7) == 0)
        e->cls = CLASS_HEAD;
    else
        e->cls = CLASS_OTHER;
}

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->cls != y->cls) return x->cls - y->cls;
    if (x->block != y->block) return x->block < y->block ? -1 : 1;
    int c = strcmp(x->unit, y->unit);
    return c ? c : (x->tensor < y->tensor ? -1 : x->tensor > y->tensor);
}

static aq_status fill_units(aq_plan *p, const entry *e, size_t n, aq_err *err) {
    p->units = calloc(n ? n : 1, sizeof *p->units);
    p->tensor_order = malloc((n ? n : 1) * sizeof *p->tensor_order);
    if (!p->units || !p->tensor_order) return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    for (size_t i = 0; i < n; ++i) {
        p->tensor_order[i] = e[i].tensor;
        if (i == 0 || strcmp(e[i].unit, e[i - 1].unit) != 0) {
            aq_unit *u = &p->units[p->n_units++];
            snprintf(u->name, sizeof u->name, "%s", e[i].unit);
            u->first = i;
        }
        aq_unit *u = &p->units[p->n_units - 1];
        u->count++;
        u->bytes += e[i].bytes;
        u->work_bytes += e[i].work_bytes;
    }
    p->n_tensors = n;
    /* One item per unit until aq_plan_shard() splits the large ones. */
    p->items = calloc(p->n_units ? p->n_units : 1, sizeof *p->items);
    if (!p->items) return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    p->n_items = p->n_units;
    for (size_t u = 0; u < p->n_units; ++u) {
        const aq_unit *un = &p->units[u];
        p->items[u] = (aq_plan_item){u, un->first, un->count,     0, 0, 0, 1, un->work_bytes,
                                     0, 0,         un->work_bytes};
    }
    return AQ_OK;
}

aq_status aq_plan_assign(aq_plan *p, const int *owner, aq_err *err) {
    memset(p->rank_bytes, 0, (size_t)p->n_ranks * sizeof *p->rank_bytes);
    memset(p->rank_units, 0, (size_t)p->n_ranks * sizeof *p->rank_units);
    for (size_t i = 0; i < p->n_units; ++i) {
        if (owner[i] < 0 || owner[i] >= p->n_ranks)
            return aq_err_set(err, AQ_E_MPI, "plan: unit %zu assigned to rank %d of %d", i,
                              owner[i], p->n_ranks);
        p->units[i].rank = owner[i];
        p->rank_units[owner[i]]++;
    }
    /* Until aq_plan_shard(), item i is unit i. */
    return p->sharded ? AQ_OK : aq_plan_assign_items(p, owner, err);
}

static aq_status partition(aq_plan *p, aq_err *err) {
    uint64_t *bytes = malloc((p->n_units + 1) * sizeof *bytes);
    int *owner = malloc((p->n_units + 1) * sizeof *owner);
    aq_status st = AQ_OK;
    if (!bytes || !owner) {
        st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    } else {
        for (size_t i = 0; i < p->n_units; ++i)
            bytes[i] = p->units[i].work_bytes;
        aq_plan_partition(bytes, p->n_units, p->n_ranks, owner);
        st = aq_plan_assign(p, owner, err);
    }
    free(bytes);
    free(owner);
    return st;
}

aq_status aq_plan_build(const aq_checkpoint *m, int ranks, aq_plan_is_work is_work, const void *ctx,
                        aq_plan **out, aq_err *err) {
    *out = NULL;
    if (ranks < 1) return aq_err_set(err, AQ_E_CONFIG, "plan: %d ranks", ranks);
    size_t n = aq_checkpoint_count(m);
    entry *e = malloc((n ? n : 1) * sizeof *e);
    aq_plan *p = calloc(1, sizeof *p);
    if (p) {
        p->n_ranks = ranks;
        p->rank_bytes = calloc((size_t)ranks, sizeof *p->rank_bytes);
        p->rank_units = calloc((size_t)ranks, sizeof *p->rank_units);
    }
    if (!e || !p || !p->rank_bytes || !p->rank_units) {
        free(e);
        aq_plan_free(p);
        return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    }
    for (size_t i = 0; i < n; ++i) {
        const aq_tensor *t = aq_checkpoint_tensor(m, i);
        classify(t, i, is_work ? is_work(t, ctx) : 1, &e[i]);
    }
    qsort(e, n, sizeof *e, entry_cmp);
    aq_status st = fill_units(p, e, n, err);
    free(e);
    if (st == AQ_OK) st = partition(p, err);
    if (st != AQ_OK) {
        aq_plan_free(p);
        return st;
    }
    *out = p;
    return AQ_OK;
}

void aq_plan_free(aq_plan *p) {
    if (!p) return;
    free(p->units);
    free(p->items);
    free(p->tensor_order);
    free(p->rank_bytes);
    free(p->rank_units);
    free(p);
}
