/* The per-layer KL file, writing side (schema in include/aq/layer_kl.h). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "aq/layer_kl.h"

struct aq_layer_kl_writer_s {
    json_t *layers; /* the layers[] array, in order of aq_layer_kl_writer_add */
    int nomem;      /* an add ran out of memory */
};

aq_layer_kl_writer *aq_layer_kl_writer_create(void) {
    aq_layer_kl_writer *w = malloc(sizeof *w);
    if (w && !(w->layers = json_array())) free(w), w = NULL;
    if (w) w->nomem = 0;
    return w;
}

void aq_layer_kl_writer_add(aq_layer_kl_writer *w, const char *name, int bits, const char *format,
                            double kl, const char *result) {
    if (!w || !isfinite(kl)) return; /* no JSON number for it: left out (see the header) */
    json_t *e = format ? json_pack("{s:s, s:i, s:s, s:f, s:s}", "name", name, "bits", bits,
                                   "format", format, "kl", kl, "result", result)
                       : json_pack("{s:s, s:i, s:f, s:s}", "name", name, "bits", bits, "kl", kl,
                                   "result", result);
    if (!e || json_array_append_new(w->layers, e) != 0) w->nomem = 1;
}

aq_status aq_layer_kl_writer_save(const aq_layer_kl_writer *w, const char *path,
                                  const aq_layer_kl_meta *m, aq_err *err) {
    if (!w || w->nomem) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    json_t *res = json_array();
    for (int k = 0; res && k < m->n_results; k++)
        json_array_append_new(res, json_string(m->results[k]));
    json_t *root = json_pack("{s:s, s:s, s:o, s:i, s:i, s:i, s:I, s:b, s:O}", "format",
                             AQ_LAYER_KL_FORMAT, "model", m->model, "results", res, "sequences",
                             m->sequences, "length", m->length, "timesteps", m->timesteps, "seed",
                             (json_int_t)m->seed, "clean", m->clean, "layers", w->layers);
    int rc = root ? json_dump_file(root, path, JSON_INDENT(2)) : -1;
    json_decref(root);
    return rc == 0 ? AQ_OK : aq_err_set(err, AQ_E_IO, "cannot write %s", path);
}

void aq_layer_kl_writer_free(aq_layer_kl_writer *w) {
    if (!w) return;
    json_decref(w->layers);
    free(w);
}
