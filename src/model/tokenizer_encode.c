/*
 * aq-mpi — BPE encoding as Hugging Face tokenizers' "BPE" model with byte fallback and the
 * SentencePiece-style normalizer of the Llama tokenizers (tokenizer.json: normalizer
 * Prepend "▁" + Replace " " -> "▁", no pre-tokenizer):
 *   1. added (special) tokens are matched verbatim in the text first; in the text between
 *      them every ' ' becomes "▁".  tokenizer.json's Prepend("▁") normalizer is NOT applied:
 *      these models' training ids (../shared/corpus, samples of the 656K model) start a story
 *      with "On", never with a lone "▁", which is what Prepend would put first;
 *   2. the normalized text is split into UTF-8 characters; a character that is not a piece
 *      becomes one "<0xNN>" piece per byte (byte fallback), or <unk> (id 0) when the
 *      vocabulary has no byte pieces, a run of unknowns fused into one <unk> (fuse_unk);
 *   3. repeatedly, the adjacent pair whose merge has the lowest rank (index in model.merges)
 *      is merged, leftmost first among equal ranks, until no adjacent pair has a merge
 *      (Sennrich et al., "Neural Machine Translation of Rare Words with Subword Units",
 *      arXiv:1508.07909; the merge order is the file's).
 * Quadratic in the text length per merge: meant for prompts, not corpora.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "tokenizer_internal.h"

static int cmp_merge(const void *a, const void *b) {
    return strcmp(((const aq_bpe_merge *)a)->key, ((const aq_bpe_merge *)b)->key);
}

static int cmp_piece(const void *a, const void *b) {
    return strcmp(((const aq_piece_id *)a)->piece, ((const aq_piece_id *)b)->piece);
}

static char *merge_key(json_t *m) {
    if (json_is_string(m)) return strdup(json_string_value(m));
    const char *a = json_string_value(json_array_get(m, 0));
    const char *b = json_string_value(json_array_get(m, 1));
    if (!a || !b) return NULL;
    size_t n = strlen(a) + strlen(b) + 2;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s %s", a, b);
    return k;
}

aq_status aq_tokenizer_index(aq_tokenizer *tk, json_t *merges, const char *path, aq_err *err) {
    size_t nm = json_is_array(merges) ? json_array_size(merges) : 0;
    tk->merge = calloc(nm + 1, sizeof *tk->merge);
    tk->by_piece = malloc(((size_t)tk->n + 1) * sizeof *tk->by_piece);
    if (!tk->merge || !tk->by_piece) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < nm; i++) {
        tk->merge[i].key = merge_key(json_array_get(merges, i));
        tk->merge[i].rank = (int)i;
        tk->n_merges = i + 1;
        if (!tk->merge[i].key) return aq_err_set(err, AQ_E_FORMAT, "%s: bad merges[%zu]", path, i);
    }
    qsort(tk->merge, tk->n_merges, sizeof *tk->merge, cmp_merge);
    for (int64_t id = 0; id < tk->n; id++)
        if (tk->piece[id]) tk->by_piece[tk->n_pieces++] = (aq_piece_id){tk->piece[id], (int32_t)id};
    qsort(tk->by_piece, tk->n_pieces, sizeof *tk->by_piece, cmp_piece);
    return AQ_OK;
}

/* id of piece s (length n, not NUL-terminated), -1 when absent. */
static int32_t find_piece(const aq_tokenizer *tk, const char *s, size_t n) {
    size_t lo = 0, hi = tk->n_pieces;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *p = tk->by_piece[mid].piece;
        int c = strncmp(p, s, n);
        if (c == 0) c = p[n] ? 1 : 0;
        if (c == 0) return tk->by_piece[mid].id;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* rank of merging pieces a, b; -1 when no merge. */
static int merge_rank(const aq_tokenizer *tk, const char *a, const char *b) {
    char key[512];
    if ((size_t)snprintf(key, sizeof key, "%s %s", a, b) >= sizeof key) return -1;
    aq_bpe_merge probe = {key, 0};
    const aq_bpe_merge *m = bsearch(&probe, tk->merge, tk->n_merges, sizeof *tk->merge, cmp_merge);
    return m ? m->rank : -1;
}

/* Symbols being merged: pieces as owned strings. */
typedef struct {
    char **s;
    int n, cap;
} symbols;

static int push(symbols *y, const char *p, size_t n) {
    if (y->n == y->cap) {
        int cap = y->cap ? 2 * y->cap : 64;
        char **s = realloc(y->s, (size_t)cap * sizeof *s);
        if (!s) return 0;
        y->s = s, y->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return 0;
    memcpy(c, p, n);
    c[n] = '\0';
    y->s[y->n++] = c;
    return 1;
}

static size_t utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* Step 2: characters, with byte fallback for those that are not pieces. */
static int split_chars(const aq_tokenizer *tk, const char *t, size_t len, symbols *y) {
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len((unsigned char)t[i]);
        if (i + k > len) k = len - i;
        if (find_piece(tk, t + i, k) >= 0) {
            if (!push(y, t + i, k)) return 0;
        } else {
            for (size_t b = 0; b < k; b++) {
                char hex[8];
                snprintf(hex, sizeof hex, "<0x%02X>", (unsigned char)t[i + b]);
                if (!push(y, hex, strlen(hex))) return 0;
            }
        }
        i += k;
    }
    return 1;
}

/* Step 3: lowest-rank merges until none applies.  rank[i] caches the merge rank of the pair
 * (i, i+1); a merge changes only its two neighbours' pairs. */
static int merge_all(const aq_tokenizer *tk, symbols *y) {
    int *rank = malloc((size_t)(y->n > 0 ? y->n : 1) * sizeof *rank);
    if (!rank) return 0;
    for (int i = 0; i + 1 < y->n; i++)
        rank[i] = merge_rank(tk, y->s[i], y->s[i + 1]);
    for (;;) {
        int at = -1;
        for (int i = 0; i + 1 < y->n; i++)
            if (rank[i] >= 0 && (at < 0 || rank[i] < rank[at])) at = i;
        if (at < 0) break;
        size_t la = strlen(y->s[at]), lb = strlen(y->s[at + 1]);
        char *c = realloc(y->s[at], la + lb + 1);
        if (!c) return free(rank), 0;
        memcpy(c + la, y->s[at + 1], lb + 1);
        y->s[at] = c;
        free(y->s[at + 1]);
        memmove(&y->s[at + 1], &y->s[at + 2], (size_t)(y->n - at - 2) * sizeof *y->s);
        if (y->n - at - 2 > 0)
            memmove(&rank[at + 1], &rank[at + 2], (size_t)(y->n - at - 2) * sizeof *rank);
        y->n--;
        if (at > 0) rank[at - 1] = merge_rank(tk, y->s[at - 1], y->s[at]);
        if (at + 1 < y->n) rank[at] = merge_rank(tk, y->s[at], y->s[at + 1]);
    }
    free(rank);
    return 1;
}

/* Steps 1b-3 for one stretch of plain text; ids appended at out[*n]. */
static int encode_plain(const aq_tokenizer *tk, const char *t, size_t len, int32_t *out, int cap,
                        int *n) {
    static const char sp[] = "\xE2\x96\x81"; /* U+2581 */
    char *norm = malloc(3 * len + 4);
    if (!norm) return 0;
    size_t m = 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] == ' ')
            memcpy(norm + m, sp, 3), m += 3;
        else
            norm[m++] = t[i];
    symbols y = {0};
    int ok = split_chars(tk, norm, m, &y) && merge_all(tk, &y);
    for (int i = 0, prev_unk = 0; ok && i < y.n; i++) {
        int32_t id = find_piece(tk, y.s[i], strlen(y.s[i]));
        if (id < 0 && prev_unk) continue; /* fuse_unk: a run of unknowns is one <unk> */
        prev_unk = id < 0;
        if (*n < cap) out[*n] = id >= 0 ? id : 0;
        (*n)++;
    }
    for (int i = 0; i < y.n; i++)
        free(y.s[i]);
    free(y.s);
    free(norm);
    return ok;
}

/* The special token starting at t, if any: its id and length. */
static int32_t match_special(const aq_tokenizer *tk, const char *t, size_t *len) {
    for (int64_t id = 0; id < tk->n; id++) {
        if (!tk->special[id] || !tk->piece[id]) continue;
        size_t k = strlen(tk->piece[id]);
        if (k && strncmp(t, tk->piece[id], k) == 0) return *len = k, (int32_t)id;
    }
    return -1;
}

int aq_tokenizer_encode(const aq_tokenizer *tk, const char *text, int32_t *out, int cap) {
    int n = 0;
    size_t start = 0, i = 0, len = strlen(text);
    while (i <= len) {
        size_t k = 0;
        int32_t sp = i < len ? match_special(tk, text + i, &k) : -1;
        if (sp < 0 && i < len) {
            i++;
            continue;
        }
        if (i > start && !encode_plain(tk, text + start, i - start, out, cap, &n)) return -1;
        if (sp < 0) break;
        if (n < cap) out[n] = sp;
        n++;
        i += k;
        start = i;
    }
    return n;
}
