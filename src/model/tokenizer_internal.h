/*
 * aq-mpi — the tokenizer's private state, shared by tokenizer.c (loading, decoding) and
 * tokenizer_encode.c (BPE encoding).
 */
#ifndef AQ_MODEL_TOKENIZER_INTERNAL_H
#define AQ_MODEL_TOKENIZER_INTERNAL_H

#include <jansson.h>

#include "aq/model.h"

/* One BPE merge: key "left right" (the tokenizer.json string form), rank = its index. */
typedef struct {
    char *key;
    int rank;
} aq_bpe_merge;

/* A piece (borrowed from aq_tokenizer.piece) and its id, for the sorted lookup. */
typedef struct {
    const char *piece;
    int32_t id;
} aq_piece_id;

struct aq_tokenizer {
    int64_t n;
    char **piece;        /* [n], NULL for unused ids */
    uint8_t *special;    /* [n] */
    aq_bpe_merge *merge; /* [n_merges], sorted by key */
    size_t n_merges;
    aq_piece_id *by_piece; /* [n_pieces] every id with a piece, sorted by piece */
    size_t n_pieces;
};

/*! aq_tokenizer_index() : builds the merge table (from model.merges, strings "a b" or pairs
 *  ["a", "b"]; absent = no merges) and the piece lookup.  @return : AQ_OK, AQ_E_FORMAT,
 *  AQ_E_NOMEM. */
aq_status aq_tokenizer_index(aq_tokenizer *tk, json_t *merges, const char *path, aq_err *err);

#endif
