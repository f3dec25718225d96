/*
 * aq-mpi — GGUF v3 writer (the file format of llama.cpp / ggml).
 *
 * Format (llama.cpp: gguf-py/gguf/constants.py, ggml/src/gguf.cpp; all little-endian):
 *   uint32 magic 0x46554747 ("GGUF"), uint32 version 3, uint64 n_tensors, uint64 n_kv
 *   n_kv key/value pairs:   string key, uint32 value type, value
 *   n_tensors tensor infos: string name, uint32 n_dims, uint64 ne[n_dims], uint32 ggml type,
 *                           uint64 offset (from the start of the data section)
 *   zero padding to a multiple of the alignment (key "general.alignment", uint32, default 32)
 *   data section: the tensors in info order, each starting at a multiple of the alignment
 *                 (zero padding between them and after the last one)
 * A string is uint64 length + bytes (UTF-8, no NUL).  An array value is uint32 element type,
 * uint64 count, then the elements (strings as above; arrays of arrays are not written).
 * ne[0] is the innermost (contiguous) dimension: a row-major PyTorch tensor of shape
 * [rows, cols] is ne = {cols, rows}.  llama.cpp requires the tensor offsets to be exactly the
 * running sum of the padded sizes, names shorter than 64 bytes, 1..4 dimensions and ne[0] a
 * multiple of the type's block size; this writer enforces all of it.
 *
 * Tensor data is taken as opaque bytes of the declared ggml type: F32/F16/BF16 elements, or
 * the blocks of a quantized type exactly as ggml stores them (ggml/src/ggml-common.h), one
 * row after the other.  A quantized tensor is therefore written by giving its type, its shape
 * and its row blocks byte for byte.
 *
 * Use: aq_gguf_writer_create(); any aq_gguf_kv_*() and aq_gguf_add_tensor() calls; then the
 * data of each tensor in declaration order with aq_gguf_write() (any number of calls, any
 * split); aq_gguf_writer_finish().  The first aq_gguf_write() (or finish) writes the header:
 * no key or tensor can be added after it.  The file is written to "<path>.partial" and renamed
 * to `path` only by a successful finish; every failure removes the partial file, so no
 * half-written file ever carries the final name.
 */
#ifndef AQ_GGUF_H
#define AQ_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"

#define AQ_GGUF_VERSION 3
#define AQ_GGUF_DEFAULT_ALIGNMENT 32
#define AQ_GGUF_MAX_NAME 63 /* bytes; ggml's GGML_MAX_NAME (64) includes the NUL */
#define AQ_GGUF_MAX_DIMS 4

/*! aq_gguf_vtype : GGUF metadata value types (gguf-py GGUFValueType). */
typedef enum {
    AQ_GGUF_U8 = 0,
    AQ_GGUF_I8 = 1,
    AQ_GGUF_U16 = 2,
    AQ_GGUF_I16 = 3,
    AQ_GGUF_U32 = 4,
    AQ_GGUF_I32 = 5,
    AQ_GGUF_F32 = 6,
    AQ_GGUF_BOOL = 7,
    AQ_GGUF_STRING = 8,
    AQ_GGUF_ARRAY = 9,
    AQ_GGUF_U64 = 10,
    AQ_GGUF_I64 = 11,
    AQ_GGUF_F64 = 12
} aq_gguf_vtype;

/*! aq_ggml_type : ggml tensor types this project writes (gguf-py GGMLQuantizationType ids). */
typedef enum {
    AQ_GGML_F32 = 0,
    AQ_GGML_F16 = 1,
    AQ_GGML_Q4_0 = 2,
    AQ_GGML_Q4_1 = 3,
    AQ_GGML_Q5_0 = 6,
    AQ_GGML_Q5_1 = 7,
    AQ_GGML_Q8_0 = 8,
    AQ_GGML_Q2_K = 10,
    AQ_GGML_Q3_K = 11,
    AQ_GGML_Q4_K = 12,
    AQ_GGML_Q5_K = 13,
    AQ_GGML_Q6_K = 14,
    AQ_GGML_BF16 = 30
} aq_ggml_type;

/*! aq_ggml_type_info() :
 *  Elements per block and bytes per block of ggml type `t` (ggml-common.h: F32 1/4, F16 and
 *  BF16 1/2, Q4_0 32/18, Q4_1 32/20, Q5_0 32/22, Q5_1 32/24, Q8_0 32/34, Q2_K 256/84,
 *  Q3_K 256/110, Q4_K 256/144, Q5_K 256/176, Q6_K 256/210) and its ggml name ("Q4_K").
 *  Any output pointer may be NULL.  @return : 0, or -1 for a type not in aq_ggml_type. */
int aq_ggml_type_info(int t, int64_t *block_elems, size_t *block_bytes, const char **name);

/*! aq_ggml_row_bytes() : bytes of one row of `ne0` elements of type `t`.
 *  @return : the size, or 0 when `t` is unknown or ne0 is not a positive multiple of the
 *            type's block size. */
size_t aq_ggml_row_bytes(int t, int64_t ne0);

typedef struct aq_gguf_writer aq_gguf_writer;

/*! aq_gguf_writer_create() :
 *  Opens "<path>.partial" for writing (truncating it) and records key "general.alignment"
 *  (uint32) = `alignment` as the first key/value pair; 0 means AQ_GGUF_DEFAULT_ALIGNMENT.
 *  @return : AQ_OK and *out; AQ_E_VALUE (alignment not a power of two); AQ_E_IO naming the
 *            file; AQ_E_NOMEM. */
aq_status aq_gguf_writer_create(const char *path, uint32_t alignment, aq_gguf_writer **out,
                                aq_err *err);

/*! aq_gguf_kv_*() : one key/value pair of a scalar type.  Keys are unique, non-empty,
 *  at most 65535 bytes (llama.cpp reads keys into std::string; the limit is ours).
 *  @return : AQ_OK; AQ_E_VALUE (duplicate or bad key, header already written) naming the key;
 *            AQ_E_NOMEM. */
aq_status aq_gguf_kv_u8(aq_gguf_writer *w, const char *key, uint8_t v, aq_err *err);
aq_status aq_gguf_kv_i8(aq_gguf_writer *w, const char *key, int8_t v, aq_err *err);
aq_status aq_gguf_kv_u16(aq_gguf_writer *w, const char *key, uint16_t v, aq_err *err);
aq_status aq_gguf_kv_i16(aq_gguf_writer *w, const char *key, int16_t v, aq_err *err);
aq_status aq_gguf_kv_u32(aq_gguf_writer *w, const char *key, uint32_t v, aq_err *err);
aq_status aq_gguf_kv_i32(aq_gguf_writer *w, const char *key, int32_t v, aq_err *err);
aq_status aq_gguf_kv_u64(aq_gguf_writer *w, const char *key, uint64_t v, aq_err *err);
aq_status aq_gguf_kv_i64(aq_gguf_writer *w, const char *key, int64_t v, aq_err *err);
aq_status aq_gguf_kv_f32(aq_gguf_writer *w, const char *key, float v, aq_err *err);
aq_status aq_gguf_kv_f64(aq_gguf_writer *w, const char *key, double v, aq_err *err);
/*! aq_gguf_kv_bool() : stored as one byte, 0 or 1. */
aq_status aq_gguf_kv_bool(aq_gguf_writer *w, const char *key, int v, aq_err *err);
/*! aq_gguf_kv_str() : a NUL-terminated UTF-8 string (not checked for UTF-8 validity). */
aq_status aq_gguf_kv_str(aq_gguf_writer *w, const char *key, const char *v, aq_err *err);

/*! aq_gguf_kv_array() :
 *  An array of `n` numeric or bool elements of type `elem` (not STRING or ARRAY) read from
 *  `data` (host order, packed: n * element size bytes; bool elements one byte each).
 *  @return : as aq_gguf_kv_u8(); AQ_E_VALUE for elem STRING / ARRAY / unknown. */
aq_status aq_gguf_kv_array(aq_gguf_writer *w, const char *key, aq_gguf_vtype elem, const void *data,
                           uint64_t n, aq_err *err);

/*! aq_gguf_kv_str_array() : an array of `n` NUL-terminated strings v[0..n) (e.g. the tokens
 *  of a vocabulary).  @return : as aq_gguf_kv_u8(). */
aq_status aq_gguf_kv_str_array(aq_gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                               aq_err *err);

/*! aq_gguf_add_tensor() :
 *  Declares tensor `name` of ggml type `type` with `n_dims` (1..4) dimensions ne[0..n_dims)
 *  in ggml order (ne[0] innermost, see banner).  Its data (aq_ggml_row_bytes(type, ne[0]) *
 *  ne[1] * ... bytes) must follow in declaration order.
 *  @return : AQ_OK; AQ_E_VALUE (name empty, too long or duplicate; bad n_dims; ne not
 *            positive; ne[0] not a multiple of the block size; unknown type; header already
 *            written), naming the tensor; AQ_E_NOMEM. */
aq_status aq_gguf_add_tensor(aq_gguf_writer *w, const char *name, aq_ggml_type type, int n_dims,
                             const int64_t *ne, aq_err *err);

/*! aq_gguf_write() :
 *  Appends `n` bytes of tensor data.  Writes the header first when it has not been written;
 *  inserts the alignment padding whenever a tensor's bytes are complete, so the caller only
 *  ever passes tensor bytes.  @return : AQ_OK; AQ_E_VALUE (more bytes than declared);
 *  AQ_E_IO naming the partial file.  After an error the writer only accepts abort(). */
aq_status aq_gguf_write(aq_gguf_writer *w, const void *data, size_t n, aq_err *err);

/*! aq_gguf_writer_finish() :
 *  Checks that every declared byte was written, flushes, closes and renames
 *  "<path>.partial" to `path`; frees `w` in every case.  On any error the partial file is
 *  removed and nothing exists under `path` that was not there before.
 *  @return : AQ_OK; AQ_E_VALUE (bytes missing, naming the first incomplete tensor); AQ_E_IO. */
aq_status aq_gguf_writer_finish(aq_gguf_writer *w, aq_err *err);

/*! aq_gguf_writer_abort() : closes and removes the partial file, frees `w`; NULL is a no-op. */
void aq_gguf_writer_abort(aq_gguf_writer *w);

#endif /* AQ_GGUF_H */
