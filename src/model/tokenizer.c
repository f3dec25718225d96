/*
 * aq-mpi — tokenizer.json (SentencePiece-style BPE with byte fallback): loading and decoding,
 * so that sequences can be printed for humans.  Encoding (prompts of aq-generate) is
 * tokenizer_encode.c.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "tokenizer_internal.h"

static int64_t max_id(json_t *vocab, json_t *added) {
    int64_t mx = -1;
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v) if (json_integer_value(v) > mx) mx = json_integer_value(v);
    size_t i;
    json_array_foreach(added, i, v) {
        int64_t id = json_integer_value(json_object_get(v, "id"));
        if (id > mx) mx = id;
    }
    return mx;
}

static int set_piece(aq_tokenizer *tk, int64_t id, const char *s) {
    if (id < 0 || id >= tk->n) return 0;
    free(tk->piece[id]);
    tk->piece[id] = strdup(s);
    return tk->piece[id] != NULL;
}

static aq_status fill(aq_tokenizer *tk, json_t *vocab, json_t *added, const char *path,
                      aq_err *err) {
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v) if (!set_piece(tk, json_integer_value(v), k)) goto nomem;
    size_t i;
    json_array_foreach(added, i, v) {
        int64_t id = json_integer_value(json_object_get(v, "id"));
        const char *s = json_string_value(json_object_get(v, "content"));
        if (!s || id < 0) return aq_err_set(err, AQ_E_FORMAT, "%s: bad added_tokens[%zu]", path, i);
        if (!set_piece(tk, id, s)) goto nomem;
        tk->special[id] = json_is_true(json_object_get(v, "special"));
    }
    return AQ_OK;
nomem:
    return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
}

aq_status aq_tokenizer_open(const char *path, aq_tokenizer **out, aq_err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return aq_err_set(err, AQ_E_IO, "%s: %s (line %d)", path, je.text, je.line);
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *added = json_object_get(root, "added_tokens");
    json_t *merges = json_object_get(json_object_get(root, "model"), "merges");
    aq_status st = AQ_OK;
    aq_tokenizer *tk = NULL;
    if (!json_is_object(vocab)) {
        st = aq_err_set(err, AQ_E_FORMAT, "%s: no model.vocab object", path);
    } else {
        tk = calloc(1, sizeof *tk);
        if (tk) tk->n = max_id(vocab, added) + 1;
        if (tk) tk->piece = calloc((size_t)tk->n, sizeof *tk->piece);
        if (tk) tk->special = calloc((size_t)tk->n, 1);
        st = tk && tk->piece && tk->special
                 ? fill(tk, vocab, added, path, err)
                 : aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
        if (st == AQ_OK) st = aq_tokenizer_index(tk, merges, path, err);
    }
    json_decref(root);
    if (st != AQ_OK) {
        aq_tokenizer_close(tk);
        return st;
    }
    *out = tk;
    return AQ_OK;
}

/* Appends the bytes of one piece: "<0xNN>" is one raw byte, U+2581 is a space. */
static size_t emit_piece(const char *p, char *buf, size_t size, size_t pos) {
    unsigned byte;
    if (strlen(p) == 6 && sscanf(p, "<0x%2X>", &byte) == 1) {
        if (pos + 1 < size) buf[pos] = (char)byte;
        return pos + 1;
    }
    for (; *p; p++) {
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x96 &&
            (unsigned char)p[2] == 0x81) {
            if (pos + 1 < size) buf[pos] = ' ';
            pos++;
            p += 2;
            continue;
        }
        if (pos + 1 < size) buf[pos] = *p;
        pos++;
    }
    return pos;
}

size_t aq_tokenizer_decode(const aq_tokenizer *tk, const int32_t *tok, int n, int specials,
                           char *buf, size_t size) {
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (tok[i] < 0 || tok[i] >= tk->n || !tk->piece[tok[i]]) continue;
        if (tk->special[tok[i]] && !specials) continue;
        pos = emit_piece(tk->piece[tok[i]], buf, size, pos);
    }
    if (size) buf[pos < size ? pos : size - 1] = '\0';
    /* The normalizer prepended one '▁' to the text: the decoder strips one leading space. */
    if (size && buf[0] == ' ') memmove(buf, buf + 1, strlen(buf));
    return pos;
}

void aq_tokenizer_close(aq_tokenizer *tk) {
    if (!tk) return;
    for (int64_t i = 0; tk->piece && i < tk->n; i++)
        free(tk->piece[i]);
    free(tk->piece);
    free(tk->special);
    for (size_t i = 0; tk->merge && i < tk->n_merges; i++)
        free(tk->merge[i].key);
    free(tk->merge);
    free(tk->by_piece);
    free(tk);
}
