/*
 * aq-mpi — pieces shared by the GGUF writer files (src/io/gguf).  Not installed.
 */
#ifndef AQ_GGUF_INTERNAL_H
#define AQ_GGUF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aq/gguf.h"

/*! gg_buf : a growable byte buffer (the serialized key/value section). */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} gg_buf;

/*! gg_buf_put() : appends n bytes.  @return : 0, -1 out of memory (buffer unchanged). */
int gg_buf_put(gg_buf *b, const void *data, size_t n);
/*! gg_buf_u32() / gg_buf_u64() / gg_buf_str() : little-endian integers, GGUF strings. */
int gg_buf_u32(gg_buf *b, uint32_t v);
int gg_buf_u64(gg_buf *b, uint64_t v);
int gg_buf_str(gg_buf *b, const char *s);

typedef struct {
    char *name;
    aq_ggml_type type;
    int n_dims;
    int64_t ne[AQ_GGUF_MAX_DIMS];
    uint64_t nbytes; /* unpadded */
    uint64_t offset; /* in the data section */
} gg_tensor;

struct aq_gguf_writer {
    char *path, *tmp;
    FILE *fp;
    uint32_t alignment;
    gg_buf kv;
    uint64_t n_kv;
    char **keys;
    size_t nkeys, capkeys;
    gg_tensor *t;
    size_t nt, capt;
    int header_done, failed;
    size_t cur;         /* tensor receiving data */
    uint64_t cur_bytes; /* bytes of it written so far */
};

/*! gg_check_open() : AQ_E_VALUE when the header is written or the writer failed.
 *  `what` names the key or tensor in the message. */
aq_status gg_check_open(const aq_gguf_writer *w, const char *what, aq_err *err);

#endif /* AQ_GGUF_INTERNAL_H */
