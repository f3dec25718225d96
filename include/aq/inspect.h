/*
 * aq-mpi — inspecting result files (aq-inspect): summary, verification, export.
 *
 * Works on any "aq-mpi/1" file (docs/FORMAT.md), including a "<path>.partial" left by an
 * interrupted run (verification then reports what is missing).  Output goes to the FILE
 * given by the caller; errors that stop the work are returned as values.
 */
#ifndef AQ_INSPECT_H
#define AQ_INSPECT_H

#include <stddef.h>
#include <stdio.h>

#include "aq/dtype.h"
#include "aq/error.h"

/*! aq_inspect_summary() :
 *  Prints the root attributes, one line per tensor (kind, shape, bits/group/method or
 *  dtype, stored bytes, SQNR), totals (tensors, bytes source/stored, ratio, bits per
 *  weight, mean SQNR), /timegroups and /act figures (Phases 1-3), /run per rank and the
 *  /source digests.  @return : AQ_OK; AQ_E_IO / AQ_E_FORMAT when the file cannot be read. */
aq_status aq_inspect_summary(const char *path, FILE *out, aq_err *err);

/*! aq_inspect_verify() :
 *  Reads every byte of every dataset (Fletcher32 and the 1.8 format's metadata checksums
 *  reject damage), checks the string digests (root_sha256, /run/unit_names sha256), and
 *  per tensor: complete = 1, known kind/dtype/method/packing, shapes against attributes,
 *  codes [rows, packed] with zero padding bits, scale/min [rows, groups] finite and of the
 *  stored scale_dtype, passthrough data shape and size; /run present (run finished).
 *  Prints one line per problem to `out` ("<path>: <object>: <what>") and sets *problems.
 *  @return : AQ_OK when the file could be examined (problems may be > 0); AQ_E_IO when it
 *            cannot be opened at all (also counted as a problem). */
aq_status aq_inspect_verify(const char *path, FILE *out, size_t *problems, aq_err *err);

/*! aq_inspect_export() :
 *  Dequantizes tensor `only` (NULL: every tensor) of result file `path` and writes it as
 *  safetensors to `out_path` in `dtype` (AQ_DT_BF16 or AQ_DT_F32) with the original names
 *  and shapes; hard-linked aliases become "__metadata__" alias entries, as in the source.
 *  The file is written via a temporary name and renamed when complete.
 *  @return : AQ_OK; AQ_E_FORMAT (tensor missing, damaged file); AQ_E_IO; AQ_E_NOMEM. */
aq_status aq_inspect_export(const char *path, const char *out_path, aq_dtype dtype,
                            const char *only, aq_err *err);

/*! aq_gguf_export_opts : options of aq_inspect_export_gguf(). */
typedef struct {
    const char *model_dir;      /* config.json + tokenizer.json (+ safetensors for a model-only
                                   export); NULL: the result's source_model attribute */
    int dtype;                  /* -1: each 2-D tensor keeps its dtype (passthrough) or F16
                                   (dequantized); else an aq_dtype for every 2-D tensor */
    int dequantize_unsupported; /* 1: aq-mpi layouts ggml cannot hold are dequantized (to
                                   `dtype`, default F16); 0: refused, naming the tensor */
} aq_gguf_export_opts;

/*! aq_inspect_export_gguf() :
 *  Writes `out_path` as a GGUF v3 file that llama.cpp loads (docs/GGUF.md): architecture
 *  llama, qwen2 or dream from `model_dir`/config.json with the hyperparameters llama.cpp's
 *  loader reads, the tokenizer from tokenizer.json, and the tensors of result file `result`
 *  under their GGUF names (Llama's q/k rows permuted for llama.cpp's rotary pairs; tied
 *  embeddings as token_embd.weight alone).  1-D tensors are written as F32.
 *  `result` NULL: the tensors come from the safetensors model in o->model_dir itself (an
 *  unquantized export).  Everything is checked before the output is created; the file is
 *  written as "<out_path>.partial" and renamed when complete, so on error nothing exists
 *  under `out_path`.
 *  @return : AQ_OK; AQ_E_CONFIG (neither result nor model); AQ_E_IO (no model directory,
 *            config.json or tokenizer.json; write failure); AQ_E_FORMAT (damaged, truncated or
 *            incomplete result: missing tensor, no /run; shape against config.json);
 *            AQ_E_UNSUPPORTED (unknown architecture or tokenizer, tensor llama.cpp has no place
 *            for, aq-mpi layout without --dequantize-unsupported); AQ_E_NOMEM. */
aq_status aq_inspect_export_gguf(const char *result, const char *out_path,
                                 const aq_gguf_export_opts *o, aq_err *err);

#endif /* AQ_INSPECT_H */
