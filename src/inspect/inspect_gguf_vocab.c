/*
 * aq-mpi — GGUF export: tokenizer.json -> tokenizer.ggml.* (llama.cpp src/llama-vocab.cpp,
 * llama_vocab::impl::load; gguf-py/gguf/vocab.py and conversion/base.py for what the
 * reference converter writes).
 *
 * Two kinds of Hugging Face BPE tokenizers are translated:
 *  - SentencePiece-style BPE ('▁' for spaces, byte fallback; the TinyStories models, Llama 2):
 *    tokenizer.ggml.model "llama", which llama.cpp runs as its SentencePiece tokenizer: it
 *    merges the adjacent pair whose concatenation is the vocabulary entry of highest score.
 *    The scores come from the merge order, so that this reproduces BPE: the token made by
 *    merge r (0-based) scores -(r + 1); single characters 0 (never the result of a merge);
 *    special, added and unreachable tokens -(n_merges + 1), below every merge.  (The
 *    reference converter, gguf-py LlamaHfVocab, gives every token -1000, which leaves llama.cpp
 *    merging left to right instead.)  The merges are written as well (ignored by "llama").
 *  - byte-level BPE (GPT-2 byte-to-unicode alphabet; Qwen2, Dream 7B): tokenizer.ggml.model
 *    "gpt2" with the merges and the pre-tokenizer "qwen2" for the Qwen2 and Dream
 *    architectures; for other architectures the pre-tokenizer is not known here: refused.
 * Token types (llama_token_type): 1 normal, 2 unknown (the unk token), 3 control (added tokens
 * marked special), 4 user-defined (other added tokens), 5 unused (ids with no token, written as
 * "[PAD<id>]" as the converter does), 6 byte ("<0xNN>" pieces).
 * Special ids bos/eos/unk/pad/mask: tokenizer_config.json "<x>_token", else
 * special_tokens_map.json, else config.json "<x>_token_id" (mask: also "mask_token_id").
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect_gguf.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    const char *dir;
    char path[4096]; /* tokenizer.json */
    json_t *tok, *tcfg, *smap;
    int64_t n;
    const char **text; /* [n], borrowed from tok or pads */
    char **pads;       /* [n], owned "[PAD<i>]" strings */
    float *score;
    int32_t *type;
    char **merges; /* [n_merges] "a b", owned */
    size_t n_merges;
    int byte_level;
} vocab;

static int64_t jint_or(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* An optional JSON file: *out NULL when absent; an error when present but not JSON.  Integers
 * are read as reals: tokenizer_config.json's model_max_length (1e30) overflows int64. */
static aq_status load_opt(const char *dir, const char *file, json_t **out, aq_err *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "rb");
    *out = NULL;
    if (!f) return AQ_OK;
    fclose(f);
    json_error_t je;
    *out = json_load_file(p, JSON_DECODE_INT_AS_REAL, &je);
    return *out ? AQ_OK : aq_err_set(err, AQ_E_FORMAT, "%s: line %d: %s", p, je.line, je.text);
}

static void vocab_free(vocab *v) {
    for (int64_t i = 0; v->pads && i < v->n; ++i)
        free(v->pads[i]);
    for (size_t i = 0; v->merges && i < v->n_merges; ++i)
        free(v->merges[i]);
    free(v->pads);
    free(v->merges);
    free(v->text);
    free(v->score);
    free(v->type);
    json_decref(v->tok);
    json_decref(v->tcfg);
    json_decref(v->smap);
}

/* Does a JSON tree mention a component of type `type` (e.g. "ByteLevel") anywhere? */
static int has_type(json_t *j, const char *type) {
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "type"));
        if (t && strcmp(t, type) == 0) return 1;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (has_type(v, type)) return 1;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            if (has_type(v, type)) return 1;
        }
    }
    return 0;
}

static int is_byte_piece(const char *s) {
    return strlen(s) == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>' &&
           strchr("0123456789ABCDEFabcdef", s[3]) && strchr("0123456789ABCDEFabcdef", s[4]);
}

/* The base vocabulary and the added tokens into text/type. */
static aq_status fill_tokens(vocab *v, aq_err *err) {
    const json_t *model = json_object_get(v->tok, "model");
    const char *mt = json_string_value(json_object_get(model, "type"));
    if (!mt || strcmp(mt, "BPE") != 0)
        return aq_err_set(err, AQ_E_UNSUPPORTED, "%s: model type %s: only BPE is exported", v->path,
                          mt ? mt : "(none)");
    json_t *vv = json_object_get(model, "vocab");
    if (!json_is_object(vv)) return aq_err_set(err, AQ_E_FORMAT, "%s: no model.vocab", v->path);
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    const char *k;
    json_t *id;
    json_object_foreach(vv, k, id) {
        int64_t i = json_is_integer(id) ? (int64_t)json_integer_value(id) : -1;
        if (i < 0 || i >= v->n)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: token '%s' has id %lld, outside the model's vocab_size %lld",
                              v->path, k, (long long)i, (long long)v->n);
        v->text[i] = k;
        v->type[i] = unk && strcmp(k, unk) == 0 ? TT_UNKNOWN
                     : is_byte_piece(k)         ? TT_BYTE
                                                : TT_NORMAL;
    }
    size_t j;
    json_t *a;
    json_array_foreach(json_object_get(v->tok, "added_tokens"), j, a) {
        int64_t i = jint_or(a, "id");
        const char *c = json_string_value(json_object_get(a, "content"));
        if (i < 0 || i >= v->n || !c)
            return aq_err_set(err, AQ_E_FORMAT, "%s: added token %zu: bad id or content", v->path,
                              j);
        v->text[i] = c;
        if (v->type[i] != TT_UNKNOWN)
            v->type[i] = json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER;
    }
    return AQ_OK;
}

/*-*********************************************
 *  token text -> id (FNV-1a, linear probing)
 ***********************************************/
typedef struct {
    int64_t *slot; /* id + 1, 0 empty */
    size_t cap;
    const char *const *text;
} tmap;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int tmap_init(tmap *m, const char *const *text, int64_t n) {
    m->cap = 16;
    while (m->cap < 2 * (size_t)n)
        m->cap *= 2;
    m->slot = calloc(m->cap, sizeof *m->slot);
    m->text = text;
    if (!m->slot) return -1;
    for (int64_t i = 0; i < n; ++i) {
        size_t h = fnv(text[i], strlen(text[i])) & (m->cap - 1);
        while (m->slot[h])
            h = (h + 1) & (m->cap - 1);
        m->slot[h] = i + 1;
    }
    return 0;
}

/* The lowest id whose text is s[0..n), or -1. */
static int64_t tmap_find(const tmap *m, const char *s, size_t n) {
    int64_t best = -1;
    for (size_t h = fnv(s, n) & (m->cap - 1); m->slot[h]; h = (h + 1) & (m->cap - 1)) {
        const char *t = m->text[m->slot[h] - 1];
        if (strlen(t) == n && memcmp(t, s, n) == 0 && (best < 0 || m->slot[h] - 1 < best))
            best = m->slot[h] - 1;
    }
    return best;
}

/*-*********************************************
 *  merges, scores, special ids
 ***********************************************/
static aq_status read_merges(vocab *v, aq_err *err) {
    const json_t *ms = json_object_get(json_object_get(v->tok, "model"), "merges");
    if (!json_is_array(ms)) return aq_err_set(err, AQ_E_FORMAT, "%s: no model.merges", v->path);
    v->merges = calloc(json_array_size(ms) + 1, sizeof *v->merges);
    if (!v->merges) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
    size_t i;
    json_t *x;
    json_array_foreach(ms, i, x) {
        const char *a = json_string_value(x), *b = NULL;
        if (json_is_array(x)) { /* newer tokenizers: ["a", "b"] */
            a = json_string_value(json_array_get(x, 0));
            b = json_string_value(json_array_get(x, 1));
            if (!b) a = NULL;
        }
        if (!a || (!b && !strchr(a + (a[0] != '\0'), ' ')))
            return aq_err_set(err, AQ_E_FORMAT, "%s: merge %zu is not \"a b\" or [a, b]", v->path,
                              i);
        size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
        char *m = malloc(n);
        if (!m) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
        if (b)
            snprintf(m, n, "%s %s", a, b);
        else
            memcpy(m, a, n);
        v->merges[v->n_merges++] = m;
    }
    return AQ_OK;
}

static size_t utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* See the banner: merge order -> scores for llama.cpp's SentencePiece-style merging. */
static aq_status spm_scores(vocab *v, const tmap *map, aq_err *err) {
    float low = -(float)(v->n_merges + 1);
    for (int64_t i = 0; i < v->n; ++i) {
        const char *t = v->text[i];
        int single = t[0] && utf8_len((unsigned char)t[0]) == strlen(t);
        v->score[i] = v->type[i] == TT_NORMAL && single ? 0.0f : low;
    }
    char *buf = NULL;
    size_t cap = 0;
    for (size_t r = 0; r < v->n_merges; ++r) {
        const char *m = v->merges[r];
        const char *sp = strchr(m + 1, ' ');
        size_t la = (size_t)(sp - m), n = strlen(m) - 1;
        if (n + 1 > cap) {
            char *p = realloc(buf, n + 1);
            if (!p) {
                free(buf);
                return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
            }
            buf = p;
            cap = n + 1;
        }
        memcpy(buf, m, la);
        memcpy(buf + la, sp + 1, n - la);
        int64_t id = tmap_find(map, buf, n);
        if (id >= 0 && v->type[id] == TT_NORMAL && v->score[id] == low)
            v->score[id] = -(float)(r + 1);
    }
    free(buf);
    return AQ_OK;
}

/* "<x>_token" of a tokenizer_config / special_tokens_map: a string or {"content": ...}. */
static const char *special_text(const json_t *j, const char *key) {
    const json_t *x = json_object_get(j, key);
    if (json_is_object(x)) x = json_object_get(x, "content");
    return json_string_value(x);
}

static aq_status special_ids(aq_gguf_writer *w, const vocab *v, const tmap *map, const gx_model *m,
                             aq_err *err) {
    const struct {
        const char *name, *gguf;
        int64_t cfg;
    } S[] = {{"bos", "tokenizer.ggml.bos_token_id", m->bos},
             {"eos", "tokenizer.ggml.eos_token_id", m->eos},
             {"unk", "tokenizer.ggml.unknown_token_id", -1},
             {"pad", "tokenizer.ggml.padding_token_id", m->pad},
             {"mask", "tokenizer.ggml.mask_token_id", m->mask_token}};
    aq_status st = AQ_OK;
    for (size_t i = 0; st == AQ_OK && i < sizeof S / sizeof S[0]; ++i) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", S[i].name);
        const char *t = special_text(v->tcfg, key);
        if (!t) t = special_text(v->smap, key);
        if (!t && strcmp(S[i].name, "unk") == 0)
            t = json_string_value(json_object_get(json_object_get(v->tok, "model"), "unk_token"));
        int64_t id = t ? tmap_find(map, t, strlen(t)) : S[i].cfg;
        if (t && id < 0)
            return aq_err_set(err, AQ_E_FORMAT, "%s/tokenizer_config.json: %s '%s' is not a token",
                              v->dir, key, t);
        if (id >= v->n)
            return aq_err_set(err, AQ_E_FORMAT, "%s/config.json: %s_token_id %lld >= vocab %lld",
                              v->dir, S[i].name, (long long)id, (long long)v->n);
        if (id >= 0) st = aq_gguf_kv_u32(w, S[i].gguf, (uint32_t)id, err);
    }
    const char *flags[][2] = {{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                              {"add_eos_token", "tokenizer.ggml.add_eos_token"}};
    for (size_t i = 0; st == AQ_OK && i < 2; ++i) {
        const json_t *b = json_object_get(v->tcfg, flags[i][0]);
        if (json_is_boolean(b)) st = aq_gguf_kv_bool(w, flags[i][1], json_is_true(b), err);
    }
    return st;
}

/* SentencePiece style: is a '▁' prepended to the text (normalizer Prepend, or a Metaspace
 * pre-tokenizer whose prepend_scheme is not "never")? */
static int adds_space_prefix(const json_t *tok) {
    json_t *n = json_object_get(tok, "normalizer");
    if (has_type(n, "Prepend")) return 1;
    json_t *p = json_object_get(tok, "pre_tokenizer");
    if (!has_type(p, "Metaspace")) return 0;
    const char *scheme = json_string_value(json_object_get(p, "prepend_scheme"));
    const json_t *aps = json_object_get(p, "add_prefix_space");
    return scheme ? strcmp(scheme, "never") != 0 : !json_is_false(aps);
}

static aq_status write_all(aq_gguf_writer *w, vocab *v, const gx_model *m, aq_err *err) {
    tmap map = {0};
    if (tmap_init(&map, v->text, v->n) != 0)
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
    aq_status st = AQ_OK;
    if (!v->byte_level) st = spm_scores(v, &map, err);
    const char *pre = v->byte_level ? "qwen2" : "default";
    if (st == AQ_OK)
        st = aq_gguf_kv_str(w, "tokenizer.ggml.model", v->byte_level ? "gpt2" : "llama", err);
    if (st == AQ_OK) st = aq_gguf_kv_str(w, "tokenizer.ggml.pre", pre, err);
    if (st == AQ_OK)
        st = aq_gguf_kv_str_array(w, "tokenizer.ggml.tokens", v->text, (uint64_t)v->n, err);
    if (st == AQ_OK && !v->byte_level)
        st = aq_gguf_kv_array(w, "tokenizer.ggml.scores", AQ_GGUF_F32, v->score, (uint64_t)v->n,
                              err);
    if (st == AQ_OK)
        st = aq_gguf_kv_array(w, "tokenizer.ggml.token_type", AQ_GGUF_I32, v->type, (uint64_t)v->n,
                              err);
    if (st == AQ_OK)
        st = aq_gguf_kv_str_array(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                  v->n_merges, err);
    if (st == AQ_OK && !v->byte_level)
        st = aq_gguf_kv_bool(w, "tokenizer.ggml.add_space_prefix", adds_space_prefix(v->tok), err);
    if (st == AQ_OK) st = special_ids(w, v, &map, m, err);
    free(map.slot);
    return st;
}

static aq_status kind_of(vocab *v, const gx_model *m, aq_err *err) {
    const json_t *model = json_object_get(v->tok, "model");
    v->byte_level = has_type(json_object_get(v->tok, "pre_tokenizer"), "ByteLevel") ||
                    has_type(json_object_get(v->tok, "decoder"), "ByteLevel");
    if (v->byte_level && m->arch == GX_LLAMA)
        return aq_err_set(err, AQ_E_UNSUPPORTED,
                          "%s: byte-level BPE with architecture llama: the llama.cpp "
                          "pre-tokenizer is not known here (exported: Qwen2 and Dream)",
                          v->path);
    int spm = json_is_true(json_object_get(model, "byte_fallback")) ||
              has_type(json_object_get(v->tok, "normalizer"), "Prepend") ||
              has_type(json_object_get(v->tok, "pre_tokenizer"), "Metaspace");
    if (!v->byte_level && !spm)
        return aq_err_set(err, AQ_E_UNSUPPORTED,
                          "%s: BPE that is neither byte-level nor SentencePiece-style ('▁', "
                          "byte fallback): no llama.cpp tokenizer to map it to",
                          v->path);
    return AQ_OK;
}

static aq_status prepare(vocab *v, const gx_model *m, aq_err *err) {
    json_error_t je;
    v->tok = json_load_file(v->path, 0, &je);
    if (!v->tok) {
        FILE *f = fopen(v->path, "rb");
        if (!f) return aq_err_set(err, AQ_E_IO, "%s: no tokenizer (cannot open)", v->path);
        fclose(f);
        return aq_err_set(err, AQ_E_FORMAT, "%s: line %d: %s", v->path, je.line, je.text);
    }
    aq_status st = load_opt(v->dir, "tokenizer_config.json", &v->tcfg, err);
    if (st == AQ_OK) st = load_opt(v->dir, "special_tokens_map.json", &v->smap, err);
    if (st != AQ_OK) return st;
    v->n = m->vocab;
    v->text = calloc((size_t)v->n, sizeof *v->text);
    v->pads = calloc((size_t)v->n, sizeof *v->pads);
    v->score = calloc((size_t)v->n, sizeof *v->score);
    v->type = calloc((size_t)v->n, sizeof *v->type);
    if (!v->text || !v->pads || !v->score || !v->type)
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
    st = kind_of(v, m, err);
    if (st == AQ_OK) st = fill_tokens(v, err);
    for (int64_t i = 0; st == AQ_OK && i < v->n; ++i) {
        if (v->text[i]) continue;
        v->pads[i] = malloc(32);
        if (!v->pads[i]) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", v->path);
        snprintf(v->pads[i], 32, "[PAD%lld]", (long long)i);
        v->text[i] = v->pads[i];
        v->type[i] = TT_UNUSED;
    }
    if (st == AQ_OK) st = read_merges(v, err);
    return st;
}

aq_status gx_write_vocab(aq_gguf_writer *w, const char *dir, const gx_model *m, aq_err *err) {
    vocab v = {.dir = dir};
    snprintf(v.path, sizeof v.path, "%s/tokenizer.json", dir);
    aq_status st = prepare(&v, m, err);
    if (st == AQ_OK) st = write_all(w, &v, m, err);
    vocab_free(&v);
    return st;
}
