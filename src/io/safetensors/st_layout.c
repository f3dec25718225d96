/*
 * aq-mpi — the safetensors byte buffer must be tiled exactly by the tensors: sorted by
 * offset, each one starts where the previous one ended and the last ends at the buffer end.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

static int by_offset(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name); /* deterministic order for equal (empty) ranges */
}

aq_status st_layout_check(const char *label, st_entry *e, size_t n, uint64_t data_size,
                          aq_err *err) {
    qsort(e, n, sizeof *e, by_offset);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
        if (e[i].begin < pos)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor "
                              "'%s' ending at %llu",
                              label, e[i].name, (unsigned long long)e[i].begin,
                              (unsigned long long)e[i].end, e[i - 1].name, (unsigned long long)pos);
        if (e[i].begin > pos)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s': gap of %llu unused bytes before its "
                              "data_offsets [%llu, %llu]",
                              label, e[i].name, (unsigned long long)(e[i].begin - pos),
                              (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
        pos = e[i].end;
    }
    if (pos != data_size) {
        if (n == 0)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: %llu data bytes but the header declares no tensor", label,
                              (unsigned long long)data_size);
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: %llu trailing bytes after tensor '%s' are not covered by any "
                          "tensor",
                          label, (unsigned long long)(data_size - pos), e[n - 1].name);
    }
    return AQ_OK;
}
