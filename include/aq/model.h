/*
 * aq-mpi — forward pass of the Llama / Qwen2 family, for calibration (aq-calib) and
 * accuracy measurement (aq-eval).  Dream 7B is Qwen2-shaped.
 *
 * Network (Hugging Face transformers, modeling_llama.py / modeling_qwen2.py):
 *   x = embed[tok]                                                   [L, hidden]
 *   per block l:  h = rmsnorm(x) * input_layernorm
 *                 q = h Wq^T (+bq), k = h Wk^T (+bk), v = h Wv^T (+bv)
 *                 q, k = rope(q), rope(k)               rotate-half convention (below)
 *                 a = softmax(q k^T / sqrt(head_dim) [+ causal mask]) v   grouped-query:
 *                     query head i reads kv head i / (n_heads / n_kv_heads)
 *                 x = x + a Wo^T
 *                 h = rmsnorm(x) * post_attention_layernorm
 *                 x = x + (silu(h Wg^T) * (h Wu^T)) Wd^T            SwiGLU
 *   logits = (rmsnorm(x) * norm) Wlm^T                                [L, vocab]
 * rmsnorm(x) = x / sqrt(mean(x^2) + eps) (eps = rms_norm_eps), computed in float32.
 * RoPE (Su et al., "RoFormer", arXiv:2104.09864) as HF's apply_rotary_pos_emb with
 * rotate_half: for a head vector x[0..d), i < d/2, angle = pos * theta^(-2i/d):
 *   x'[i]       = x[i] cos - x[i + d/2] sin
 *   x'[i + d/2] = x[i + d/2] cos + x[i] sin
 * (pairs (i, i + d/2), NOT interleaved (2i, 2i+1) as in the original paper / Meta's code;
 * HF checkpoints have q/k rows permuted for this).  theta = config rope_theta.
 *
 * Layouts: activations are row-major [tokens, channels] float32; linear weights
 * [out, in] row-major (as stored by HF), y = x W^T + b through cblas_sgemm.
 * Attention is causal for autoregressive models and bidirectional for diffusion models
 * (config; aq_llm_config.causal may be overridden before use).
 *
 * Prediction convention ("logits shift"): with shift, the token at position i is predicted
 * by the logits at position i-1 (autoregressive models, and Dream, which keeps its AR
 * parent's convention: Dream's generate shifts logits by one).  Without shift (LLaDA-style
 * diffusion models), position i is predicted by the logits at i.
 *
 * No global state; every function is reentrant.  OpenMP inside (attention heads,
 * element-wise loops); OpenBLAS for matrix products.
 */
#ifndef AQ_MODEL_H
#define AQ_MODEL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"
#include "aq/h5in.h"
#include "aq/safetensors.h"

/*-*********************************************
 *  Configuration (config.json)
 ***********************************************/
typedef struct {
    char arch[128]; /* architectures[0] or model_type */
    int64_t hidden, n_layers, n_heads, n_kv_heads, head_dim, ffn, vocab;
    double rope_theta;  /* default 10000 */
    double eps;         /* rms_norm_eps, default 1e-6 */
    int causal;         /* 1: causal attention (default for *ForCausalLM), 0: bidirectional */
    int logits_shift;   /* 1: position i predicted from logits at i-1 (see banner) */
    int64_t mask_token; /* config mask_token_id, -1 when absent */
    int64_t bos, eos;   /* bos_token_id / eos_token_id, -1 when absent */
} aq_llm_config;

/*! aq_llm_config_parse() :
 *  Reads hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads (default
 *  n_heads), intermediate_size, vocab_size, head_dim (default hidden/n_heads), rope_theta,
 *  rms_norm_eps, bos/eos/mask_token_id.  causal: config "is_causal" when present, else 0
 *  for diffusion architectures (model_type "Dream" / "llada", architectures "DreamModel",
 *  "LLaDAModelLM"), else 1.  logits_shift: 1 for causal and Dream, else 0.
 *  @return : AQ_OK; AQ_E_FORMAT (bad JSON, missing or non-positive size, n_heads not a
 *            multiple of n_kv_heads, odd head_dim) naming `label` and the key. */
aq_status aq_llm_config_parse(const char *json, const char *label, aq_llm_config *c, aq_err *err);

/*-*********************************************
 *  Weights
 ***********************************************/

/*! aq_linear : the linear layers of a block, plus the lm_head (layer index n_layers). */
typedef enum {
    AQ_LIN_Q = 0,
    AQ_LIN_K,
    AQ_LIN_V,
    AQ_LIN_O,
    AQ_LIN_GATE,
    AQ_LIN_UP,
    AQ_LIN_DOWN,
    AQ_LIN_HEAD,
    AQ_LIN_COUNT
} aq_linear;

/*! aq_llm_weight_name() : HF name of linear `lin` of block `layer` into buf, e.g.
 *  "model.layers.3.mlp.down_proj.weight"; AQ_LIN_HEAD gives "lm_head.weight". */
void aq_llm_weight_name(int layer, aq_linear lin, char *buf, size_t size);

/*! aq_llm_source : where tensors come from (a safetensors model, a result file).
 *  get() fills dst[0..numel) with tensor `name` as float32 and fails (AQ_E_FORMAT) when it
 *  is absent or has another element count; has() tells whether it exists. */
typedef struct {
    const void *ctx;
    aq_status (*get)(const void *ctx, const char *name, int64_t numel, float *dst, aq_err *err);
    int (*has)(const void *ctx, const char *name);
} aq_llm_source;

/*! aq_llm_source_safetensors() : a source reading `m` (borrowed; must outlive its use). */
aq_llm_source aq_llm_source_safetensors(const aq_checkpoint *m);

/*! aq_llm_source_result() : a source reading an aq-mpi result file `h` (borrowed): the
 *  weights as the quantized model sees them (quantized tensors dequantized). */
aq_llm_source aq_llm_source_result(const aq_h5in *h);

typedef struct {
    float *w[AQ_LIN_HEAD];      /* q,k,v,o,gate,up,down: [out, in] */
    float *bq, *bk, *bv;        /* q/k/v biases or NULL (Llama) */
    float *in_norm, *post_norm; /* [hidden] */
} aq_llm_layer;

/*! aq_llm : the weights one rank holds: blocks [l0, l1), and optionally the embedding (the
 *  first pipeline stage) and final norm + lm_head (the last).  Owns all arrays. */
typedef struct {
    aq_llm_config cfg;
    int l0, l1;
    aq_llm_layer *layers;        /* [l1 - l0], layers[i] is block l0 + i */
    float *embed;                /* [vocab, hidden] or NULL */
    float *final_norm, *lm_head; /* [hidden], [vocab, hidden] or NULL */
} aq_llm;

/*! aq_llm_load() :
 *  Loads blocks [l0, l1) (0 <= l0 <= l1 <= n_layers), the embedding when `with_embed`,
 *  final norm and lm_head when `with_head`, all as float32.  q/k/v biases are loaded when
 *  the source has them.  The lm_head is "lm_head.weight", or the embedding when that is
 *  absent (tied weights saved without lm_head).
 *  @return : AQ_OK and *out (free with aq_llm_free); errors of the source; AQ_E_NOMEM. */
aq_status aq_llm_load(const aq_llm_config *cfg, const aq_llm_source *src, int l0, int l1,
                      int with_embed, int with_head, aq_llm *out, aq_err *err);

/*! aq_llm_free() : frees the arrays of `m` (not m itself); safe on a zeroed struct. */
void aq_llm_free(aq_llm *m);

/*-*********************************************
 *  Forward pass (one process)
 ***********************************************/

/*! aq_llm_hook : called with the input of every linear layer, just before the product:
 *  x [rows, cols] is a private copy the hook may modify (fake quantization) or only read
 *  (statistics).  q, k and v are called separately with the same input values; the
 *  lm_head is layer n_layers, lin AQ_LIN_HEAD.  NULL hook: no call, no copy. */
typedef struct {
    void *ctx;
    void (*linear_input)(void *ctx, int layer, aq_linear lin, float *x, int64_t rows, int64_t cols);
} aq_llm_hook;

/*! aq_llm_embed() : x[L, hidden] = embed[tok[i]].  @return : AQ_E_VALUE for a token
 *  outside [0, vocab), AQ_E_UNSUPPORTED when `m` holds no embedding. */
aq_status aq_llm_embed(const aq_llm *m, const int32_t *tok, int L, float *x, aq_err *err);

/*! aq_llm_blocks() : applies blocks [l0, l1) of `m` to x[L, hidden] in place.
 *  @return : AQ_OK or AQ_E_NOMEM. */
aq_status aq_llm_blocks(const aq_llm *m, float *x, int L, const aq_llm_hook *hook, aq_err *err);

/*! aq_llm_head() : logits[L, vocab] from x[L, hidden] (x is overwritten by the normed
 *  values).  @return : AQ_OK, AQ_E_UNSUPPORTED when `m` holds no head, AQ_E_NOMEM. */
aq_status aq_llm_head(const aq_llm *m, float *x, int L, float *logits, const aq_llm_hook *hook,
                      aq_err *err);

/*! aq_llm_forward() : embed + blocks + head for a model holding all of them. */
aq_status aq_llm_forward(const aq_llm *m, const int32_t *tok, int L, float *logits,
                         const aq_llm_hook *hook, aq_err *err);

/* Building blocks, exposed for tests. */
void aq_rmsnorm(float *x, int64_t rows, int64_t n, const float *w, double eps);
void aq_rope(float *x, int L, int64_t heads, int64_t head_dim, double theta);
/*! aq_linear_fwd() : y[rows, out] = x[rows, in] W[out, in]^T (+ b[out] when not NULL).
 *  OpenBLAS sgemm on one OpenBLAS thread (it sets that, process-wide) per slice of 256 output
 *  features; the slices are shared over the OpenMP threads, so a result does not depend on the
 *  thread count. */
void aq_linear_fwd(const float *x, int64_t rows, int64_t in, const float *W, const float *b,
                   int64_t out, float *y);

/*-*********************************************
 *  Pipeline across MPI ranks
 ***********************************************/

/*! aq_pipe : the rank's place in the pipeline over communicator `comm`.  Blocks (all of one
 *  size) are split contiguously: every rank takes ceil(n_layers / size) blocks in rank order,
 *  except that a rank closes early when each later rank would otherwise get none -- the split
 *  aq-mpi's byte-balanced linear partition (aq_plan_partition) gives for equal units.  Rank 0
 *  embeds, the last rank applies the head; activations [L, hidden] pass from rank r to r+1.
 *  With more ranks than blocks, the extra ranks only forward activations. */
typedef struct {
    MPI_Comm comm; /* borrowed: the caller's communicator, used by every collective here */
    int rank, size;
    int l0, l1;      /* this rank's blocks */
    int first, last; /* rank 0 / rank size-1 */
} aq_pipe;

/*! aq_pipe_init() : partition for `cfg` over `comm` (collective-free: every rank computes the
 *  same partition; `comm` is borrowed and must outlive `p`).  @return : AQ_OK or AQ_E_MPI. */
aq_status aq_pipe_init(const aq_llm_config *cfg, MPI_Comm comm, aq_pipe *p, aq_err *err);

/*! aq_pipe_load() : aq_llm_load() of this rank's part. */
aq_status aq_pipe_load(const aq_pipe *p, const aq_llm_config *cfg, const aq_llm_source *src,
                       aq_llm *out, aq_err *err);

/*! aq_pipe_forward() :
 *  Collective over p->comm.  tok[L] is read on the first rank; logits[L, vocab] are
 *  written on the last rank only (other ranks may pass NULL).  A failure on one rank is
 *  reported on every rank as AQ_E_MPI (or the local error on the failing rank). */
aq_status aq_pipe_forward(const aq_pipe *p, const aq_llm *m, const int32_t *tok, int L,
                          float *logits, const aq_llm_hook *hook, aq_err *err);

/*-*********************************************
 *  Diffusion time steps: masking
 ***********************************************/

/*! aq_mask_ratio() : u_t = (t + 1/2) / T, the centre of mask-ratio bin t. */
double aq_mask_ratio(int t, int T);

/*! aq_mask_sequence() :
 *  Corrupts a copy of tok[L] for time step t of T: among the eligible positions
 *  [first, L) (first = 1 with logits shift, since position 0 is never predicted, else 0),
 *  exactly n = round(u_t * (L - first)) (half away from zero) are replaced by `mask_token`:
 *  the first n of a Fisher-Yates shuffle of the eligible positions driven by xoshiro256**
 *  seeded with aq_synth_seed_for(seed, "mask") + 0x9E3779B97F4A7C15 * (seq * T + t + 1).
 *  out[L] receives the corrupted tokens, is_masked[L] 1/0.  @return : n, -1 out of memory. */
int aq_mask_sequence(const int32_t *tok, int L, int t, int T, uint64_t seed, int64_t seq,
                     int32_t mask_token, int logits_shift, int32_t *out, uint8_t *is_masked);

/*-*********************************************
 *  Token sequences
 ***********************************************/

/*! aq_tokens_read() :
 *  Reads `n` sequences of `L` ids from a text file: one sequence per line, ids separated by
 *  white space or commas; the first L ids of each line are used; '#' starts a comment line.
 *  @return : AQ_OK and out[n * L]; AQ_E_IO; AQ_E_FORMAT (line too short, bad number, id
 *            outside [0, vocab), fewer than n lines) naming file and line. */
aq_status aq_tokens_read(const char *path, int n, int L, int64_t vocab, int32_t *out, aq_err *err);

/*! aq_sample_sequences() :
 *  Collective over p->comm.  Generates `n` sequences of `L` tokens from the model itself: position
 * 0 is BOS (token 0 when the config has none); then left to right, position i is drawn from
 *  softmax(logits) at the predicting position of i (i-1 with logits shift, else i), with
 *  positions > i (or >= i without shift) set to `mask_token` — the decoding order of a
 *  masked-diffusion LM, and plain sampling for a causal one.  temperature 0 = greedy.
 *  Randomness: xoshiro256** seeded from (seed, "sample", sequence index); the draw is made on
 *  the last rank and broadcast.  out[n * L] on every rank. */
aq_status aq_sample_sequences(const aq_pipe *p, const aq_llm *m, int n, int L, uint64_t seed,
                              double temperature, int32_t mask_token, int32_t *out, aq_err *err);

/*-*********************************************
 *  Tokenizer
 ***********************************************/
typedef struct aq_tokenizer aq_tokenizer;

/*! aq_tokenizer_open() : reads model.vocab (piece -> id), model.merges and added_tokens of
 *  tokenizer.json.
 *  @return : AQ_OK; AQ_E_IO; AQ_E_FORMAT naming the file. */
aq_status aq_tokenizer_open(const char *path, aq_tokenizer **out, aq_err *err);

/*! aq_tokenizer_decode() :
 *  SentencePiece-style decoding: pieces concatenated, '▁' (U+2581) -> ' ', byte-fallback
 *  pieces "<0xNN>" -> byte NN, one leading space stripped, special (added) tokens skipped
 *  unless `specials`.  Writes at most size-1 bytes and a NUL.  @return : bytes needed. */
size_t aq_tokenizer_decode(const aq_tokenizer *tk, const int32_t *tok, int n, int specials,
                           char *buf, size_t size);

/*! aq_tokenizer_encode() :
 *  BPE encoding of the NUL-terminated UTF-8 `text` as Hugging Face's BPE model with byte
 *  fallback (src/model/tokenizer_encode.c has the steps): special tokens matched verbatim,
 *  spaces replaced by "▁" (no "▁" prepended, as in the corpus the models were trained on),
 *  lowest-rank merges first.  No BOS is added.  Writes at most `cap` ids to out.
 *  @return : the number of ids the text needs (more than cap: out holds the first cap),
 *            -1 out of memory. */
int aq_tokenizer_encode(const aq_tokenizer *tk, const char *text, int32_t *out, int cap);

void aq_tokenizer_close(aq_tokenizer *tk);

/*-*********************************************
 *  Activation statistics (aq-calib; docs/DESIGN.md §4 and §6.3)
 ***********************************************/
#include "aq/calib.h"

/*! aq_act_stats : accumulates, per linear layer of one rank's part (blocks [l0, l1) and the
 *  lm_head when held) and per time step, statistics of the layer's input over every token
 *  of every sequence (masked or not).  Per (t, channel) double sums, so the result does not
 *  depend on the thread count, and each layer is seen by exactly one rank in sequence
 *  order, so it does not depend on the rank count either. */
typedef struct aq_act_stats aq_act_stats;

/*! aq_act_stats_create() : @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_act_stats_create(const aq_llm *m, int T, aq_act_stats **out, aq_err *err);
/*! aq_act_stats_hook() : the forward hook that records into `s` at the current step. */
aq_llm_hook aq_act_stats_hook(aq_act_stats *s);
/*! aq_act_stats_set_step() : the time step the next forward passes belong to. */
void aq_act_stats_set_step(aq_act_stats *s, int t);
/*! aq_act_stats_count() : the number of layers recorded. */
size_t aq_act_stats_count(const aq_act_stats *s);
/*! aq_act_stats_export() : layer i as docs/DESIGN.md §6.3 statistics (min, max, mean, std, count
 * [T]; sq_mean, absmax [T, in]; std = sqrt(max(0, E[x^2] - mean^2)) in double).  `out` is allocated
 * with aq_layer_stats_alloc() (no histogram).  @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_act_stats_export(const aq_act_stats *s, size_t i, aq_layer_stats *out, aq_err *err);
void aq_act_stats_free(aq_act_stats *s);

/*! aq_act_stats_gather() :
 *  Collective over `comm`: rank 0 receives every rank's exported layers (in rank order, which is
 * layer order) into *out[*n] (free each with aq_layer_stats_free, then the array); other ranks get
 * *out = NULL, *n = 0.  @return : AQ_OK, AQ_E_NOMEM, AQ_E_MPI. */
aq_status aq_act_stats_gather(const aq_act_stats *s, int T, MPI_Comm comm, aq_layer_stats **out,
                              size_t *n, aq_err *err);

/*-*********************************************
 *  Layer-input Hessians (aq-calib --hessian; include/aq/hessian.h)
 ***********************************************/
#include "aq/hessian.h"

/*! aq_act_hess : per quantized linear input of one rank's blocks [l0, l1) — q_proj's (shared
 *  by k_proj, v_proj), o_proj's, gate_proj's (shared by up_proj), down_proj's; named after
 *  that first weight — the time-weighted sum sum_t w_t sum_{x in bin t} x x^T (double packed
 *  upper triangle, aq_hessian_accumulate, ssyrk on one OpenBLAS thread).  Each layer is seen
 *  by exactly one rank in sequence order, so the sums do not depend on the rank count or the
 *  thread counts.  The lm_head's input (hidden wide, named "lm_head.weight") gets one on the
 *  rank holding it when the caller asks (`head` of aq_act_hess_create: only for an untied
 *  head — a tied one is also the embedding lookup and is left to the normal search).  Memory per
 *  input: 8 n (n + 1) / 2 bytes, plus one float scratch of n_max^2. */
typedef struct aq_act_hess aq_act_hess;

/*! aq_act_hess_create() : for the blocks `m` holds, T bins with time weights w[T] (copied);
 *  head != 0 and m->lm_head != NULL: also the lm_head's input (pass 1 only when the head is
 *  not tied to the embedding).
 *  @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_act_hess_create(const aq_llm *m, int T, const double *w, int head, aq_act_hess **out,
                             aq_err *err);
/*! aq_act_hess_hook() : the forward hook that accumulates into `s` at the current step. */
aq_llm_hook aq_act_hess_hook(aq_act_hess *s);
/*! aq_act_hess_set_step() : the time step (bin) of the next forward passes. */
void aq_act_hess_set_step(aq_act_hess *s, int t);
/*! aq_act_hess_count() : the number of Hessians this rank holds (4 per block, + 1 head). */
size_t aq_act_hess_count(const aq_act_hess *s);
void aq_act_hess_free(aq_act_hess *s);

/*! aq_act_hess_store() :
 *  Collective over `comm`: rank 0 opens the calibration file `path` (aq_hessian_store_open,
 *  with schedule `sch` and tokens_per_bin), stores its Hessians, then every other rank's in
 *  rank order (point to point, one layer in flight), each divided by tokens_per_bin
 *  (aq_hessian_finish), and marks /hessian complete.  Every bin must have seen
 *  tokens_per_bin tokens.
 *  @return : the agreed status: AQ_OK; AQ_E_VALUE (token count, non-finite value, naming the
 *            layer); the errors of aq_hessian_store_*; AQ_E_NOMEM. */
aq_status aq_act_hess_store(const aq_act_hess *s, MPI_Comm comm, const char *path,
                            const aq_hessian_schedule *sch, double tokens_per_bin, aq_err *err);

/*-*********************************************
 *  Activation fake quantization (aq-eval, result files with /act)
 ***********************************************/

/*! aq_actq : per linear layer of one rank's part, the /act schedule of a result file.
 *  At time step t the layer input x becomes, with s = schedule_scale[t],
 *  z = schedule_zero[t] (real valued, as Phase 2 interpolates it), qmax = 2^act_bits - 1:
 *      c = clamp(nearbyint(x / s + z), 0, qmax),   x^ = (c - z) * s
 *  i.e. asymmetric codes over [-z s, (qmax - z) s] (docs/DESIGN.md §4).  Layers without /act and
 *  steps with s <= 0 are left in float. */
typedef struct aq_actq aq_actq;

/*! aq_actq_load() : reads /act for the linear layers `m` holds; *out = NULL when the file
 *  has no /act.  T <= 0: the T of the first layer read (aq_actq_timesteps() tells it), which
 *  every other layer must have.  @return : AQ_OK; AQ_E_CONFIG when a layer's T differs;
 *  AQ_E_FORMAT / AQ_E_HDF5 from the reader; AQ_E_NOMEM. */
aq_status aq_actq_load(const aq_h5in *h, const aq_llm *m, int T, aq_actq **out, aq_err *err);
/*! aq_actq_timesteps() : T of the loaded schedule; 0 for q = NULL or when this rank holds no
 *  layer with /act. */
int aq_actq_timesteps(const aq_actq *q);
/*! aq_actq_hook() : the forward hook (a no-op hook for q = NULL). */
aq_llm_hook aq_actq_hook(aq_actq *q);
/*! aq_actq_set_step() : the time step of the next forward passes; NULL is a no-op. */
void aq_actq_set_step(aq_actq *q, int t);
void aq_actq_free(aq_actq *q);

/*-*********************************************
 *  Front-end session (aq-calib, aq-eval): model, pipeline, sequences
 ***********************************************/
typedef struct {
    const char *model;  /* model directory (config.json + safetensors) */
    const char *tokens; /* token-id file (aq_tokens_read) or NULL: sample from the model */
    int n_seq, L;       /* sequences and their length; n_seq 0: none (aq-generate) */
    uint64_t seed;      /* sampling and masking */
    double temperature; /* sampling temperature (1 = the model's distribution) */
    int64_t mask_token; /* -1: config mask_token_id, else 0 (see aq_run_open) */
    int causal;         /* -1: from config; 0/1 override */
} aq_run_opts;

typedef struct {
    aq_checkpoint *st;
    aq_llm_config cfg;
    aq_pipe pipe;
    aq_llm fp; /* this rank's full-precision part */
    int32_t mask_token;
    int mask_from_config; /* 0 when the default token 0 was used */
    int32_t *seqs;        /* [n_seq * L] on every rank */
} aq_run;

/*! aq_run_open() :
 *  Collective over `comm` (borrowed; kept in r->pipe.comm for every later collective).  Opens the
 * model on every rank, parses its config (applying the causal override), partitions the blocks,
 * loads this rank's full-precision part, resolves the mask token (option, else config
 * mask_token_id, else token 0: a model without a mask token never saw one, so any id is as good;
 * say so in the output) and reads or samples the sequences. A failure on any rank fails every rank
 * (AQ_E_MPI on the others).  aq_run_close() after. */
aq_status aq_run_open(const aq_run_opts *o, MPI_Comm comm, aq_run *r, aq_err *err);
void aq_run_close(aq_run *r);

/*! aq_agree() : collective over `comm`; aq_mpi_agree(): every rank gets the status and
 *  message of the lowest failing rank ("rank N: " prefixed), or AQ_OK.  `what` labels a
 *  failure whose message is empty. */
aq_status aq_agree(MPI_Comm comm, aq_status st, const char *what, aq_err *err);

/*-*********************************************
 *  Generation by iterative unmasking (aq-generate)
 ***********************************************/
typedef struct {
    int n_new;          /* masks after the prompt */
    int steps;          /* denoising steps; step s unmasks ceil(masked / (steps - s)) */
    double temperature; /* 0: argmax */
    uint64_t seed;      /* xoshiro256** seeded with aq_synth_seed_for(seed, "generate") */
    int timesteps;      /* T of the /act schedule when actq is given, else 0 */
} aq_gen_opts;

/*! aq_generate() :
 *  Collective over p->comm.  out[1 + n_prompt + n_new] (every rank) starts as BOS (config
 *  bos_token_id, else 0) + prompt[n_prompt] + n_new mask tokens; each step runs the model
 *  (with `actq` fake quantization when not NULL, at the /act time step t = floor(u T) of the
 *  current mask ratio u = masked / (length - 1)), then on the last rank every masked position
 *  i draws a token from the logits row predicting it (i-1 with logits shift, else i):
 *  softmax(logits / temperature) without the mask token, one uniform per masked position
 *  left to right, or the argmax at temperature 0; its confidence is that token's
 *  probability (at temperature 1 for the argmax).  The k = ceil(masked / steps left) most
 *  confident (ties: leftmost) are unmasked, the choice broadcast from the last rank.  Same
 *  seed, same model: same tokens, at any rank count.  Two models run with one seed share
 *  the random stream, so their texts differ only through their logits.
 *  @return : AQ_OK; AQ_E_VALUE (n_new or steps < 1); AQ_E_NOMEM; errors of the forward pass. */
aq_status aq_generate(const aq_pipe *p, const aq_llm *m, aq_actq *actq, const int32_t *prompt,
                      int n_prompt, const aq_gen_opts *o, int32_t mask_token, int32_t *out,
                      aq_err *err);

/*-*********************************************
 *  Accuracy metrics (aq-eval)
 ***********************************************/

/*! aq_eval_acc : sums over predicted positions of one time step (all doubles, so arrays of
 *  it reduce as MPI_DOUBLE; aq_eval_acc_reduce()). */
typedef struct {
    double kl, nll_fp, nll_q, top1; /* sums */
    double n_kl;                    /* positions in kl and top1 */
    double n_nll;                   /* masked positions in nll_*, acc_* */
    double acc_fp, acc_q;           /* masked positions whose argmax is the original token */
    double nll_fp_sq;               /* sum of squares of the full-precision NLL terms */
} aq_eval_acc;

/*! aq_eval_position() :
 *  Adds one predicted position: logits_fp, logits_q [vocab]; KL(p_fp || p_q) in nats and
 *  top-1 agreement (first index of the maximum) when `in_kl`; -log p(target) and whether
 *  the argmax is `target` for both models when `in_nll`.  logits_q NULL: the full-precision
 *  terms only (nll_fp, acc_fp, n_nll).  Softmaxes in double with the max subtracted. */
void aq_eval_position(const float *logits_fp, const float *logits_q, int64_t vocab, int32_t target,
                      int in_kl, int in_nll, aq_eval_acc *acc);

/*! aq_eval_score() :
 *  Adds one (sequence, time step) to `acc`: orig[L] the uncorrupted tokens, masked[L] the
 *  mask, lf / lq [L, vocab] the logits of both models (lq NULL: full precision only).  The
 *  prediction for position i is logits row i-1 with c->logits_shift (position 0 is never
 *  predicted), else row i.  KL / top-1 over the masked positions, or over every predicted
 *  position for a causal model; NLL and accuracy over the masked positions. */
void aq_eval_score(const aq_llm_config *c, const int32_t *orig, const uint8_t *masked, int L,
                   const float *lf, const float *lq, aq_eval_acc *acc);

/*! aq_eval_metrics : means of one aq_eval_acc; NaN where no position contributed. */
typedef struct {
    double kl, nll_fp, nll_q, top1, acc_fp, acc_q;
    double nll_fp_se; /* standard error of nll_fp: sqrt(sample variance / n_nll), positions
                         taken as independent (they are not quite: same window) */
} aq_eval_metrics;

/*! aq_eval_finish() : kl, top1 per n_kl; nll_*, acc_*, nll_fp_se per n_nll. */
aq_eval_metrics aq_eval_finish(const aq_eval_acc *a);

/*! aq_eval_overall() : each metric averaged over the time steps of acc[0..T) that have it
 *  (uniform weight per mask-ratio bin, not per position).  NaN when no step has it;
 *  nll_fp_se is NaN (not defined for the mean over steps). */
aq_eval_metrics aq_eval_overall(const aq_eval_acc *acc, int T);

/*! aq_eval_acc_reduce() : collective over `comm`: tot[0..n) on rank 0 = the sums of every
 *  rank's acc[0..n).  @return : AQ_OK or AQ_E_MPI. */
aq_status aq_eval_acc_reduce(MPI_Comm comm, const aq_eval_acc *acc, aq_eval_acc *tot, size_t n,
                             aq_err *err);

/*! aq_eval_bufs : per-(sequence, step) buffers: logits of both models (the last rank
 *  [L, vocab], other ranks one float), the corrupted tokens and the mask [L]. */
typedef struct {
    float *lf, *lq;
    int32_t *tok;
    uint8_t *masked;
    size_t nl; /* logits floats per model */
} aq_eval_bufs;

/*! aq_eval_bufs_alloc() : collective over r->pipe.comm (aq_agree).  @return : AQ_OK,
 *  AQ_E_NOMEM (on every rank).  aq_eval_bufs_free() is safe after a failed alloc. */
aq_status aq_eval_bufs_alloc(const aq_run *r, int L, aq_eval_bufs *b, aq_err *err);
void aq_eval_bufs_free(aq_eval_bufs *b);

#endif /* AQ_MODEL_H */
