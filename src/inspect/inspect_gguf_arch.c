/*
 * aq-mpi — GGUF export: config.json -> architecture, llama.cpp hyperparameters, tensor names.
 *
 * Facts (llama.cpp 0253fb2): keys and tensor names from gguf-py/gguf/constants.py; what the
 * loader reads from src/llama-model.cpp (llama_model_base::load_hparams) and
 * src/models/{llama,qwen2,dream}.cpp; the metadata each architecture gets from
 * conversion/{base,llama,qwen,dream}.py.  Every listed tensor must be present in the file
 * (the loader fails on a count mismatch, so nothing else may be), except the q/k/v biases,
 * which are optional, and output.weight, which the loader replaces by token_embd.weight when
 * absent (tied embeddings).
 *
 * Rotary pairs: Hugging Face applies RoPE with rotate_half, pairing head dimension i with
 * i + d/2.  llama.cpp runs Llama with "normal" RoPE (pairs 2i, 2i+1, LLAMA_ROPE_TYPE_NORM)
 * and Qwen2/Dream with NeoX RoPE (pairs i, i + d/2, as HF).  So for Llama only, the rows of
 * q_proj and k_proj (and their biases) are permuted within each head, as
 * conversion/llama.py's permute() does: GGUF row 2i + j of a head is source row j*d/2 + i.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect_gguf.h"

static int64_t jint(const json_t *o, const char *k, int64_t dflt) {
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static double jnum(const json_t *o, const char *k, double dflt) {
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

typedef struct {
    const char *hf; /* architectures[0] or model_type */
    gx_arch arch;
    const char *name;
} arch_row;

static const arch_row ARCHS[] = {
    {"LlamaForCausalLM", GX_LLAMA, "llama"},
    {"llama", GX_LLAMA, "llama"},
    {"Qwen2ForCausalLM", GX_QWEN2, "qwen2"},
    {"qwen2", GX_QWEN2, "qwen2"},
    {"DreamModel", GX_DREAM, "dream"},
    {"Dream", GX_DREAM, "dream"},
    {"dream", GX_DREAM, "dream"},
};

static const arch_row *find_arch(const char *s) {
    for (size_t i = 0; s && i < sizeof ARCHS / sizeof ARCHS[0]; ++i)
        if (strcmp(ARCHS[i].hf, s) == 0) return &ARCHS[i];
    return NULL;
}

static aq_status arch_of(const json_t *cfg, const char *path, gx_model *m, aq_err *err) {
    const json_t *a = json_array_get(json_object_get(cfg, "architectures"), 0);
    const char *first = json_string_value(a);
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    const arch_row *r = find_arch(first);
    if (!r && !first) r = find_arch(mt);
    if (!r)
        return aq_err_set(err, AQ_E_UNSUPPORTED,
                          "%s: architecture %s is not exported to GGUF (known: LlamaForCausalLM, "
                          "Qwen2ForCausalLM, DreamModel)",
                          path,
                          first ? first
                          : mt  ? mt
                                : "(none given)");
    m->arch = r->arch;
    m->arch_name = r->name;
    return AQ_OK;
}

static aq_status sizes_of(const json_t *cfg, const char *path, gx_model *m, aq_err *err) {
    m->hidden = jint(cfg, "hidden_size", -1);
    m->n_layers = jint(cfg, "num_hidden_layers", -1);
    m->n_heads = jint(cfg, "num_attention_heads", -1);
    m->n_kv_heads = jint(cfg, "num_key_value_heads", m->n_heads);
    m->ffn = jint(cfg, "intermediate_size", -1);
    m->vocab = jint(cfg, "vocab_size", -1);
    m->ctx = jint(cfg, "max_position_embeddings", -1);
    m->head_dim_given = json_is_integer(json_object_get(cfg, "head_dim"));
    m->head_dim = jint(cfg, "head_dim", m->n_heads > 0 ? m->hidden / m->n_heads : -1);
    m->rope_theta = jnum(cfg, "rope_theta", 10000.0);
    m->eps = jnum(cfg, "rms_norm_eps", 1e-6);
    m->mask_token = jint(cfg, "mask_token_id", -1);
    m->bos = jint(cfg, "bos_token_id", -1);
    m->eos = jint(cfg, "eos_token_id", -1);
    m->pad = jint(cfg, "pad_token_id", -1);
    const struct {
        const char *key;
        int64_t v;
    } need[] = {{"hidden_size", m->hidden},          {"num_hidden_layers", m->n_layers},
                {"num_attention_heads", m->n_heads}, {"num_key_value_heads", m->n_kv_heads},
                {"intermediate_size", m->ffn},       {"vocab_size", m->vocab},
                {"max_position_embeddings", m->ctx}, {"head_dim", m->head_dim}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; ++i)
        if (need[i].v <= 0 || need[i].v > UINT32_MAX)
            return aq_err_set(err, AQ_E_FORMAT, "%s: %s missing or not a positive 32-bit integer",
                              path, need[i].key);
    if (m->n_heads % m->n_kv_heads != 0 || m->head_dim % 2 != 0)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: num_attention_heads %lld not a multiple of num_key_value_heads "
                          "%lld, or odd head_dim %lld",
                          path, (long long)m->n_heads, (long long)m->n_kv_heads,
                          (long long)m->head_dim);
    return AQ_OK;
}

/* What this exporter does not translate: refuse rather than write a model that runs wrong. */
static aq_status unsupported(const json_t *cfg, const char *path, aq_err *err) {
    const json_t *rs = json_object_get(cfg, "rope_scaling");
    if (rs && !json_is_null(rs))
        return aq_err_set(err, AQ_E_UNSUPPORTED, "%s: rope_scaling is not exported to GGUF", path);
    if (json_is_true(json_object_get(cfg, "use_sliding_window")))
        return aq_err_set(err, AQ_E_UNSUPPORTED, "%s: sliding-window attention is not exported",
                          path);
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    if (act && strcmp(act, "silu") != 0)
        return aq_err_set(err, AQ_E_UNSUPPORTED, "%s: hidden_act %s (llama.cpp uses SiLU)", path,
                          act);
    return AQ_OK;
}

aq_status gx_model_read(const char *dir, gx_model *m, aq_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return aq_err_set(err, AQ_E_IO, "%s: cannot open (is %s a model directory?)", path, dir);
    fclose(f);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        return aq_err_set(err, AQ_E_FORMAT, "%s: line %d: %s", path, je.line, je.text);
    }
    aq_status st = arch_of(cfg, path, m, err);
    if (st == AQ_OK) st = sizes_of(cfg, path, m, err);
    if (st == AQ_OK) st = unsupported(cfg, path, err);
    json_decref(cfg);
    return st;
}

/* llama_ftype of general.file_type is informative for llama.cpp; llama-quantize and the
 * loader's log print it. */
aq_status gx_write_arch_kv(aq_gguf_writer *w, const gx_model *m, const char *name,
                           uint32_t file_type, aq_err *err) {
    char k[128];
    const char *a = m->arch_name;
    aq_status st = aq_gguf_kv_str(w, "general.architecture", a, err);
    if (st == AQ_OK) st = aq_gguf_kv_str(w, "general.type", "model", err);
    if (st == AQ_OK) st = aq_gguf_kv_str(w, "general.name", name, err);
    if (st == AQ_OK) st = aq_gguf_kv_u32(w, "general.file_type", file_type, err);
    if (st == AQ_OK) st = aq_gguf_kv_u32(w, "general.quantization_version", 2, err);
    const struct {
        const char *key;
        int64_t v;
    } u32s[] = {{"context_length", m->ctx},           {"embedding_length", m->hidden},
                {"feed_forward_length", m->ffn},      {"block_count", m->n_layers},
                {"attention.head_count", m->n_heads}, {"attention.head_count_kv", m->n_kv_heads}};
    for (size_t i = 0; st == AQ_OK && i < sizeof u32s / sizeof u32s[0]; ++i) {
        snprintf(k, sizeof k, "%s.%s", a, u32s[i].key);
        st = aq_gguf_kv_u32(w, k, (uint32_t)u32s[i].v, err);
    }
    snprintf(k, sizeof k, "%s.rope.freq_base", a);
    if (st == AQ_OK) st = aq_gguf_kv_f32(w, k, (float)m->rope_theta, err);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", a);
    if (st == AQ_OK) st = aq_gguf_kv_f32(w, k, (float)m->eps, err);
    if (st == AQ_OK && m->head_dim_given) {
        snprintf(k, sizeof k, "%s.attention.key_length", a);
        st = aq_gguf_kv_u32(w, k, (uint32_t)m->head_dim, err);
        snprintf(k, sizeof k, "%s.attention.value_length", a);
        if (st == AQ_OK) st = aq_gguf_kv_u32(w, k, (uint32_t)m->head_dim, err);
    }
    if (st == AQ_OK && m->arch == GX_LLAMA) { /* conversion/llama.py adds these two */
        st = aq_gguf_kv_u32(w, "llama.vocab_size", (uint32_t)m->vocab, err);
        if (st == AQ_OK)
            st = aq_gguf_kv_u32(w, "llama.rope.dimension_count", (uint32_t)m->head_dim, err);
    }
    if (st == AQ_OK && m->arch == GX_DREAM) {
        /* conversion/dream.py: non-causal attention; the mask token follows with the vocab.
         * Dream predicts token i from the logits at i-1; llama-diffusion-cli defaults to that
         * when diffusion.shift_logits is absent; we say it explicitly. */
        st = aq_gguf_kv_bool(w, "dream.attention.causal", 0, err);
        if (st == AQ_OK) st = aq_gguf_kv_bool(w, "diffusion.shift_logits", 1, err);
    }
    return st;
}

int gx_known_unexported(const char *hf) {
    const char *s = strstr(hf, "rotary_emb.inv_freq");
    return s && s[strlen("rotary_emb.inv_freq")] == '\0';
}

int64_t gx_permute_row(int64_t r, int64_t head_dim) {
    int64_t h = r / head_dim, w = r % head_dim;
    return h * head_dim + (w % 2) * (head_dim / 2) + w / 2;
}

static void add(gx_tensor *t, size_t *n, const char *hf, const char *gguf, int ndim, int64_t r,
                int64_t c, int optional, int64_t rope_head_dim) {
    gx_tensor *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->hf, sizeof x->hf, "%s", hf);
    snprintf(x->gguf, sizeof x->gguf, "%s", gguf);
    x->ndim = ndim;
    x->shape[0] = r;
    x->shape[1] = c;
    x->optional = optional;
    x->rope_head_dim = rope_head_dim;
}

static void add_block(const gx_model *m, int64_t l, gx_tensor *t, size_t *n) {
    static const struct {
        const char *hf, *gguf;
        int rows, cols; /* 0 hidden, 1 q (heads*hd), 2 kv (kv_heads*hd), 3 ffn, -1 none */
        int bias, rope;
    } B[] = {
        {"input_layernorm", "attn_norm", 0, -1, 0, 0},
        {"self_attn.q_proj", "attn_q", 1, 0, 1, 1},
        {"self_attn.k_proj", "attn_k", 2, 0, 1, 1},
        {"self_attn.v_proj", "attn_v", 2, 0, 1, 0},
        {"self_attn.o_proj", "attn_output", 0, 1, 0, 0},
        {"post_attention_layernorm", "ffn_norm", 0, -1, 0, 0},
        {"mlp.gate_proj", "ffn_gate", 3, 0, 0, 0},
        {"mlp.up_proj", "ffn_up", 3, 0, 0, 0},
        {"mlp.down_proj", "ffn_down", 0, 3, 0, 0},
    };
    const int64_t dim[4] = {m->hidden, m->n_heads * m->head_dim, m->n_kv_heads * m->head_dim,
                            m->ffn};
    char hf[160], gg[64];
    for (size_t i = 0; i < sizeof B / sizeof B[0]; ++i) {
        int64_t rope = m->arch == GX_LLAMA && B[i].rope ? m->head_dim : 0;
        int64_t r = dim[B[i].rows];
        snprintf(hf, sizeof hf, "model.layers.%lld.%s.weight", (long long)l, B[i].hf);
        snprintf(gg, sizeof gg, "blk.%lld.%s.weight", (long long)l, B[i].gguf);
        if (B[i].cols < 0)
            add(t, n, hf, gg, 1, r, 0, 0, 0);
        else
            add(t, n, hf, gg, 2, r, dim[B[i].cols], 0, rope);
        if (!B[i].bias) continue;
        snprintf(hf, sizeof hf, "model.layers.%lld.%s.bias", (long long)l, B[i].hf);
        snprintf(gg, sizeof gg, "blk.%lld.%s.bias", (long long)l, B[i].gguf);
        add(t, n, hf, gg, 1, r, 0, 1, rope);
    }
}

aq_status gx_tensor_list(const gx_model *m, int tied, gx_tensor **out, size_t *n, aq_err *err) {
    size_t cap = 3 + (size_t)m->n_layers * 12;
    gx_tensor *t = calloc(cap, sizeof *t);
    if (!t) return aq_err_set(err, AQ_E_NOMEM, "GGUF export: out of memory");
    *n = 0;
    add(t, n, "model.embed_tokens.weight", "token_embd.weight", 2, m->vocab, m->hidden, 0, 0);
    add(t, n, "model.norm.weight", "output_norm.weight", 1, m->hidden, 0, 0, 0);
    if (!tied) add(t, n, "lm_head.weight", "output.weight", 2, m->vocab, m->hidden, 0, 0);
    for (int64_t l = 0; l < m->n_layers; ++l)
        add_block(m, l, t, n);
    *out = t;
    return AQ_OK;
}
