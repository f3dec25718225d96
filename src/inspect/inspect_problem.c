/*
 * aq-mpi — aq-inspect --verify: reporting one problem (shared by the file-level checks of
 * inspect_verify.c and the per-tensor checks of inspect_tensor.c).
 */
#include <stdarg.h>
#include <stdio.h>

#include "inspect_verify.h"

void ins_problem(ins_verify *v, const char *obj, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(v->out, "%s: %s: %s\n", v->path, obj, what);
    v->problems++;
}
