/*
 * aq-mpi — config.json of a Llama / Qwen2 model -> aq_llm_config.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aq/model.h"

static int64_t get_int(json_t *o, const char *key, int64_t dflt) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    return dflt;
}

static double get_num(json_t *o, const char *key, double dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static void get_arch(json_t *o, char *buf, size_t size, char *type, size_t tsize) {
    json_t *a = json_array_get(json_object_get(o, "architectures"), 0);
    json_t *mt = json_object_get(o, "model_type");
    const char *mts = json_is_string(mt) ? json_string_value(mt) : "";
    snprintf(type, tsize, "%s", mts);
    snprintf(buf, size, "%s", json_is_string(a) ? json_string_value(a) : mts);
}

/* Masked-diffusion LMs attend both ways; everything else in this family is autoregressive.
 * Dream keeps the next-token convention of the Qwen2.5 model it was adapted from. */
static void set_mode(json_t *o, const char *type, aq_llm_config *c) {
    int diffusion = strcasecmp(type, "dream") == 0 || strcasecmp(type, "llada") == 0 ||
                    strcmp(c->arch, "DreamModel") == 0 || strncmp(c->arch, "LLaDA", 5) == 0;
    json_t *ic = json_object_get(o, "is_causal");
    c->causal = json_is_boolean(ic) ? json_is_true(ic) : !diffusion;
    c->logits_shift =
        c->causal || strcasecmp(type, "dream") == 0 || strcmp(c->arch, "DreamModel") == 0;
}

static aq_status check(const aq_llm_config *c, const char *label, aq_err *err) {
    struct {
        const char *key;
        int64_t v;
    } need[] = {{"hidden_size", c->hidden},
                {"num_hidden_layers", c->n_layers},
                {"num_attention_heads", c->n_heads},
                {"num_key_value_heads", c->n_kv_heads},
                {"intermediate_size", c->ffn},
                {"vocab_size", c->vocab},
                {"head_dim", c->head_dim}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i].v <= 0)
            return aq_err_set(err, AQ_E_FORMAT, "%s: %s missing or not positive", label,
                              need[i].key);
    if (c->n_heads % c->n_kv_heads)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: num_attention_heads %lld is not a multiple "
                          "of num_key_value_heads %lld",
                          label, (long long)c->n_heads, (long long)c->n_kv_heads);
    if (c->head_dim % 2)
        return aq_err_set(err, AQ_E_FORMAT, "%s: head_dim %lld is odd (RoPE needs pairs)", label,
                          (long long)c->head_dim);
    if (!(c->rope_theta > 0) || !(c->eps > 0))
        return aq_err_set(err, AQ_E_FORMAT, "%s: rope_theta and rms_norm_eps must be > 0", label);
    return AQ_OK;
}

aq_status aq_llm_config_parse(const char *json, const char *label, aq_llm_config *c, aq_err *err) {
    memset(c, 0, sizeof *c);
    if (!json) return aq_err_set(err, AQ_E_FORMAT, "%s: no config.json", label);
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return aq_err_set(err, AQ_E_FORMAT, "%s: config.json line %d: %s", label, je.line, je.text);
    }
    char type[64];
    get_arch(o, c->arch, sizeof c->arch, type, sizeof type);
    c->hidden = get_int(o, "hidden_size", 0);
    c->n_layers = get_int(o, "num_hidden_layers", 0);
    c->n_heads = get_int(o, "num_attention_heads", 0);
    c->n_kv_heads = get_int(o, "num_key_value_heads", c->n_heads);
    c->ffn = get_int(o, "intermediate_size", 0);
    c->vocab = get_int(o, "vocab_size", 0);
    c->head_dim = get_int(o, "head_dim", c->n_heads > 0 ? c->hidden / c->n_heads : 0);
    c->rope_theta = get_num(o, "rope_theta", 10000.0);
    c->eps = get_num(o, "rms_norm_eps", 1e-6);
    c->mask_token = get_int(o, "mask_token_id", -1);
    c->bos = get_int(o, "bos_token_id", -1);
    c->eos = get_int(o, "eos_token_id", -1);
    set_mode(o, type, c);
    json_decref(o);
    return check(c, label, err);
}
