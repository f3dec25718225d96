/*
 * aq-mpi — pieces of the GGUF export (aq-inspect --export OUT.gguf) shared by its files:
 * the model description from config.json (inspect_gguf_arch.c), the architecture's
 * metadata and tensor names, and the tokenizer (inspect_gguf_vocab.c).  Not installed.
 */
#ifndef AQ_INSPECT_GGUF_H
#define AQ_INSPECT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"
#include "aq/gguf.h"

typedef enum { GX_LLAMA, GX_QWEN2, GX_DREAM } gx_arch;

/*! gx_model : what the export needs from config.json. */
typedef struct {
    gx_arch arch;
    const char *arch_name; /* GGUF general.architecture: "llama", "qwen2", "dream" */
    int64_t hidden, n_layers, n_heads, n_kv_heads, head_dim, ffn, vocab, ctx;
    int head_dim_given;    /* config has "head_dim" */
    double rope_theta;     /* default 10000 */
    double eps;            /* rms_norm_eps, default 1e-6 */
    int64_t mask_token;    /* mask_token_id or -1 */
    int64_t bos, eos, pad; /* *_token_id or -1 */
} gx_model;

/*! gx_model_read() : parses `dir`/config.json.  Architecture from "architectures"[0]
 *  (LlamaForCausalLM, Qwen2ForCausalLM, DreamModel), else "model_type" (llama, qwen2, dream).
 *  @return : AQ_OK; AQ_E_IO (no config.json); AQ_E_FORMAT (bad JSON, missing/invalid size);
 *            AQ_E_UNSUPPORTED (unknown architecture, rope_scaling, sliding window). */
aq_status gx_model_read(const char *dir, gx_model *m, aq_err *err);

/*! gx_write_arch_kv() : general.* and "<arch>.*" keys llama.cpp's loader reads. */
aq_status gx_write_arch_kv(aq_gguf_writer *w, const gx_model *m, const char *name,
                           uint32_t file_type, aq_err *err);

/*! gx_write_vocab() : tokenizer.ggml.* from `dir`/tokenizer.json (+ tokenizer_config.json,
 *  special_tokens_map.json, config.json ids) for a vocabulary of m->vocab tokens.
 *  @return : AQ_OK; AQ_E_IO (no tokenizer.json); AQ_E_FORMAT; AQ_E_UNSUPPORTED (tokenizer
 *            kind); writer errors. */
aq_status gx_write_vocab(aq_gguf_writer *w, const char *dir, const gx_model *m, aq_err *err);

/*! gx_tensor : one tensor of the export, in the order written. */
typedef struct {
    char hf[160];          /* source name (Hugging Face) */
    char gguf[64];         /* GGUF name */
    int ndim;              /* 1 or 2 */
    int64_t shape[2];      /* expected source shape [rows(, cols)] */
    int optional;          /* a bias: exported when the source has it */
    int64_t rope_head_dim; /* > 0: head_dim; rows permuted for llama.cpp rotary pairs (arch.c) */
} gx_tensor;

/*! gx_tensor_list() : the tensors llama.cpp's loader takes for m's architecture, in order:
 *  token_embd, output_norm, output (unless `tied`), then per block attn_norm, attn_q/k/v
 *  (+ bias), attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down.  *out is malloc'ed.
 *  @return : AQ_OK, AQ_E_NOMEM. */
aq_status gx_tensor_list(const gx_model *m, int tied, gx_tensor **out, size_t *n, aq_err *err);

/*! gx_known_unexported() : source tensors with no GGUF counterpart that llama.cpp recomputes
 *  (rotary inv_freq buffers).  @return : 1 for those. */
int gx_known_unexported(const char *hf);

/*! gx_permute_row() : for Llama's q/k projection with `heads` heads of `head_dim` rows:
 *  the source row that GGUF row r comes from (see arch.c).  */
int64_t gx_permute_row(int64_t r, int64_t head_dim);

#endif /* AQ_INSPECT_GGUF_H */
