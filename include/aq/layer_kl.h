/*
 * aq-mpi — the per-layer KL file: written by `aq-eval --layer-kl`, read by aq-mpi for the
 * KL fallback (quant.fallback_kl_path) and the KL budget (quant.budget_kl_path).
 *
 * Schema "aq-eval/layer-kl/2", one JSON object (docs/BITS.md):
 *
 *   {
 *     "format":    "aq-eval/layer-kl/2",
 *     "model":     string,     model directory aq-eval ran
 *     "results":   [string],   the result files measured, in command-line order
 *     "sequences": integer,    number of evaluation sequences
 *     "length":    integer,    tokens per sequence
 *     "timesteps": integer,    T, mask-ratio bins (1 with "clean")
 *     "seed":      integer,    sampling and masking seed
 *     "clean":     boolean,    true: scored on clean text (no token masked, aq-eval --clean)
 *     "layers": [              one entry per quantized weight and result: the block linears,
 *                              and the embedding and lm_head when the result quantizes them
 *       { "name":   string,    tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
 *         "bits":   integer,   code width of that tensor in that result
 *         "format": string,    only for a ggml-format tensor: its format, e.g. "q3_k"
 *         "kl":     number,    KL(p_fp || p_q) in nats, mean over the T bins, with ONLY this
 *                              weight quantized (the rest full precision); >= 0
 *         "result": string }   the result file it came from
 *     ]
 *   }
 *
 * A reader needs "format" and layers[].name/bits/kl (and layers[].format to look a tensor up by
 * ggml format, quant.budget_kl_path with quant.format); the other keys document the
 * measurement.  One (name, bits) pair may appear once per result; the reader takes the first.
 * Version 1 (no "clean", no layers[].format, block linears only) is read as well: its entries
 * have no format.
 */
#ifndef AQ_LAYER_KL_H
#define AQ_LAYER_KL_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"

#define AQ_LAYER_KL_FORMAT "aq-eval/layer-kl/2"
#define AQ_LAYER_KL_FORMAT_V1 "aq-eval/layer-kl/1"

/*-*********************************************
 *  Reading (aq-mpi)
 ***********************************************/

/*! aq_kl_table : the layers[] of one file, parallel arrays of n entries (owned). */
typedef struct {
    size_t n;
    char **names;
    int *bits;      /* width the KL was measured at */
    char **formats; /* ggml format name ("q3_k") or NULL (not a ggml-format tensor, or v1) */
    double *kl;     /* nats, mean over t */
} aq_kl_table;

/*! aq_kl_table_load() : reads `path` into *t (free with aq_kl_table_free).
 *  @return : AQ_OK; AQ_E_IO (unreadable or not JSON, with "path:line: reason"), AQ_E_FORMAT
 *            (not this format, or an entry without name/bits/kl or with kl < 0, naming
 *            layers[i]), AQ_E_NOMEM.  On error t is empty. */
aq_status aq_kl_table_load(const char *path, aq_kl_table *t, aq_err *err);

/*! aq_kl_table_find() : @return : 1 and *kl for tensor `name` measured at `bits` (the first
 *  such entry), else 0 and *kl unchanged.  t may be NULL or empty. */
int aq_kl_table_find(const aq_kl_table *t, const char *name, int bits, double *kl);

/*! aq_kl_table_find_format() : @return : 1 and *kl for tensor `name` measured in ggml format
 *  `format` (a name such as "q3_k", compared exactly; the first such entry), else 0 and *kl
 *  unchanged.  Entries without a format never match.  t may be NULL or empty. */
int aq_kl_table_find_format(const aq_kl_table *t, const char *name, const char *format, double *kl);

/*! aq_kl_table_free() : frees the arrays and empties t; NULL and empty tables are no-ops. */
void aq_kl_table_free(aq_kl_table *t);

/*-*********************************************
 *  Writing (aq-eval --layer-kl)
 ***********************************************/

/*! aq_layer_kl_meta : the measurement's description (the top-level keys). */
typedef struct {
    const char *model;
    const char *const *results;
    int n_results;
    int sequences, length, timesteps;
    uint64_t seed;
    int clean; /* 1: clean text, no token masked */
} aq_layer_kl_meta;

typedef struct aq_layer_kl_writer_s aq_layer_kl_writer;

/*! aq_layer_kl_writer_create() : an empty list of layers.  @return : NULL when out of memory,
 *  which the other writer functions accept (save then reports AQ_E_NOMEM), so that a program
 *  whose ranks agree on the status only at the end has one place to check. */
aq_layer_kl_writer *aq_layer_kl_writer_create(void);

/*! aq_layer_kl_writer_add() : appends one layers[] entry; `format` is the ggml format name
 *  of the tensor in that result, or NULL (no "format" key).  JSON has no NaN or infinity: an
 *  entry whose kl is not finite (a weight that could not be measured) is left out.  Running
 *  out of memory is remembered and reported by aq_layer_kl_writer_save(). */
void aq_layer_kl_writer_add(aq_layer_kl_writer *w, const char *name, int bits, const char *format,
                            double kl, const char *result);

/*! aq_layer_kl_writer_save() : writes the file (2-space indented, keys in schema order).
 *  @return : AQ_OK, AQ_E_NOMEM (an earlier create or add ran out of memory), AQ_E_IO
 *            ("cannot write <path>"). */
aq_status aq_layer_kl_writer_save(const aq_layer_kl_writer *w, const char *path,
                                  const aq_layer_kl_meta *m, aq_err *err);

/*! aq_layer_kl_writer_free() : NULL is a no-op. */
void aq_layer_kl_writer_free(aq_layer_kl_writer *w);

#endif /* AQ_LAYER_KL_H */
