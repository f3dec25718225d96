/*
 * aq-mpi — safetensors reader (single file and sharded index).
 *
 * Format: https://github.com/huggingface/safetensors (README, "Format"):
 *   8 bytes   N, unsigned little-endian 64-bit header length
 *   N bytes   JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
 *             optional "__metadata__": string -> string
 *   rest      byte buffer; offsets are relative to its start
 * Validation (docs/DESIGN.md §6.1): N >= 2 and N <= AQ_ST_MAX_HEADER and 8+N <= file size; the
 * header is valid UTF-8 JSON whose top level is an object starting with '{'; no duplicate names;
 * every entry has a supported dtype, a shape of at most AQ_ST_MAX_DIMS non-negative integers
 * whose product times the dtype size does not overflow 64 bits and equals end-begin;
 * begin <= end; the tensors, sorted by begin, tile the byte buffer exactly (no gap, no
 * overlap, nothing out of bounds, nothing left over).
 *
 * Aliases: a "__metadata__" entry k -> v, where v names a stored tensor and k does not,
 * makes k an alias of v (how tied weights are saved: the TinyStories model stores only
 * "lm_head.weight" and maps "model.embed_tokens.weight" onto it).
 *
 * Memory: files are mmap'ed read-only; tensor data pointers stay valid until close.
 */
#ifndef AQ_SAFETENSORS_H
#define AQ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"

#define AQ_ST_MAX_DIMS 8
#define AQ_ST_MAX_HEADER (100u * 1024u * 1024u) /* 100 MB, as the safetensors crate */

/*! aq_tensor : one stored tensor.  All pointers are owned by the file/model object. */
typedef struct {
    const char *name; /* exactly as in the header */
    aq_dtype dtype;
    int ndim; /* 0..AQ_ST_MAX_DIMS */
    int64_t shape[AQ_ST_MAX_DIMS];
    uint64_t numel;   /* product of shape (1 for ndim 0) */
    uint64_t nbytes;  /* numel * aq_dtype_size(dtype) */
    const void *data; /* first byte, inside the mapping; may be unaligned */
    const char *file; /* path (or label) of the file holding it */
} aq_tensor;

/*-*********************************************
 *  One file
 ***********************************************/
typedef struct aq_st_file aq_st_file;

/*! aq_st_parse() :
 *  Parses and validates a complete safetensors file image `buf[0..size)` without copying
 *  it: `buf` must outlive the returned object.  `label` names the file in messages.
 *  @return : AQ_OK and *out, or AQ_E_FORMAT / AQ_E_UNSUPPORTED (dtype) / AQ_E_NOMEM with
 *            a message "<label>: <what>" naming the tensor where there is one. */
aq_status aq_st_parse(const void *buf, size_t size, const char *label, aq_st_file **out,
                      aq_err *err);

/*! aq_st_open() : mmaps `path` read-only and parses it as aq_st_parse().
 *  @return : AQ_OK, AQ_E_IO (open/stat/mmap failed, message has strerror), or as parse. */
aq_status aq_st_open(const char *path, aq_st_file **out, aq_err *err);

/*! aq_st_count() / aq_st_tensor() : stored tensors, in header (begin offset) order. */
size_t aq_st_count(const aq_st_file *f);
const aq_tensor *aq_st_tensor(const aq_st_file *f, size_t i);

/*! aq_st_alias_count() / aq_st_alias() : alias i as (name, target); see banner. */
size_t aq_st_alias_count(const aq_st_file *f);
void aq_st_alias(const aq_st_file *f, size_t i, const char **name, const char **target);

/*! aq_st_close() : unmaps (when opened by aq_st_open) and frees. NULL is a no-op. */
void aq_st_close(aq_st_file *f);

/*-*********************************************
 *  A model: directory or single file
 ***********************************************/
typedef struct aq_checkpoint aq_checkpoint;

/*! aq_checkpoint_open() :
 *  `path` is a .safetensors file, or a directory holding either
 *  `model.safetensors.index.json` (sharded: its "weight_map" name -> shard file) or
 *  `model.safetensors`; `config.json` in the directory is read when present.
 *  Index checks: every shard named exists and parses; each tensor of weight_map is stored
 *  in exactly the shard named; a tensor stored in two shards, or stored but absent from
 *  weight_map, is an error.
 *  @return : AQ_OK and *out; AQ_E_IO for a missing file (message names it), AQ_E_FORMAT for
 *            bad JSON or index inconsistencies (naming file and tensor), or as aq_st_open. */
aq_status aq_checkpoint_open(const char *path, aq_checkpoint **out, aq_err *err);

/*! aq_checkpoint_count() / aq_checkpoint_tensor() :
 *  Stored tensors of all shards, sorted by name (strcmp order), aliases excluded. */
size_t aq_checkpoint_count(const aq_checkpoint *m);
const aq_tensor *aq_checkpoint_tensor(const aq_checkpoint *m, size_t i);

/*! aq_tensor_release() :
 *  Tells the kernel this process is done with `t`'s bytes: madvise(MADV_DONTNEED) on the whole
 *  pages inside [data, data + nbytes).  The mapping is private and read-only, so a later read
 *  simply faults the bytes in again from the file; the point is that resident memory (and the
 *  peak RSS a job reports) stays near one tensor instead of growing to the whole model.
 *  Advisory: failures are ignored. */
void aq_tensor_release(const aq_tensor *t);

/*! aq_checkpoint_find() : a stored tensor by name, following an alias; NULL when absent. */
const aq_tensor *aq_checkpoint_find(const aq_checkpoint *m, const char *name);

/*! aq_checkpoint_alias_count() / aq_checkpoint_alias() : aliases of all shards, sorted by name. */
size_t aq_checkpoint_alias_count(const aq_checkpoint *m);
void aq_checkpoint_alias(const aq_checkpoint *m, size_t i, const char **name, const char **target);

/*! aq_checkpoint_config_json() : text of config.json, or NULL when the model has none. */
const char *aq_checkpoint_config_json(const aq_checkpoint *m);

/*! aq_checkpoint_architecture() : config.json "architectures"[0] or "model_type", or "" . */
const char *aq_checkpoint_architecture(const aq_checkpoint *m);

/*! aq_checkpoint_close() : closes every shard; NULL is a no-op. */
void aq_checkpoint_close(aq_checkpoint *m);

/*-*********************************************
 *  Source digests (SHA-256, via nettle)
 ***********************************************/

/*! aq_sha256_file() : SHA-256 of the whole file `path` as 64 lowercase hex digits + NUL.
 *  @return : AQ_OK; AQ_E_IO "<path>: <strerror>"; AQ_E_NOMEM. */
aq_status aq_sha256_file(const char *path, char hex[65], aq_err *err);

/*! aq_checkpoint_file_digests() :
 *  Digests every file model `m` (opened from `path` by aq_checkpoint_open) was read from: each
 *  shard, plus model.safetensors.index.json and config.json when `path` is a directory
 *  holding them.  *files gets the names relative to `path` (the basename for a single
 *  file), *sha256hex the matching 64-digit hex digests, both sorted by name, *n entries;
 *  the caller frees them with aq_checkpoint_file_digests_free().  `parts` processes share the
 *  work: the files in order of decreasing size (ties: by name) go round-robin to
 *  order[0], order[1], ..., order[parts - 1] (order NULL: 0, 1, ...); only the files of `part`
 *  are read and digested, the others get an empty string, so the callers merge (the list is the
 *  same for every caller).  Put the processes that finish their other work first at the front
 *  of `order`: they take the largest files.  parts = 1, part = 0: all.
 *  @return : AQ_OK; AQ_E_IO naming the file; AQ_E_NOMEM. */
aq_status aq_checkpoint_file_digests(const char *path, const aq_checkpoint *m, int part,
                                     const int *order, int parts, size_t *n, char ***files,
                                     char ***sha256hex, aq_err *err);

/*! aq_checkpoint_file_digests_free() : frees what aq_checkpoint_file_digests() returned; NULLs ok.
 */
void aq_checkpoint_file_digests_free(size_t n, char **files, char **sha256hex);

/*-*********************************************
 *  Writer (used by aq-synth and tests)
 ***********************************************/
typedef struct aq_st_writer aq_st_writer;

/*! aq_st_writer_create() : starts a file at `path` (created/truncated on finish).
 *  Tensors are declared first, then their data is streamed in declaration order. */
aq_status aq_st_writer_create(const char *path, aq_st_writer **out, aq_err *err);

/*! aq_st_writer_declare() : adds tensor `name` with `dtype` and `shape[ndim]`. */
aq_status aq_st_writer_declare(aq_st_writer *w, const char *name, aq_dtype dtype, int ndim,
                               const int64_t *shape, aq_err *err);

/*! aq_st_writer_metadata() : adds a "__metadata__" string entry (e.g. an alias). */
aq_status aq_st_writer_metadata(aq_st_writer *w, const char *key, const char *value, aq_err *err);

/*! aq_st_writer_data() :
 *  Appends `nbytes` of tensor data.  The first call writes the header (padded with spaces
 *  to a multiple of 8 bytes, as the reference implementation does); the total appended must
 *  equal the sum of the declared tensors' sizes by aq_st_writer_finish(). */
aq_status aq_st_writer_data(aq_st_writer *w, const void *data, size_t nbytes, aq_err *err);

/*! aq_st_writer_finish() : checks the byte count, flushes, closes and frees `w`.
 *  On any error the partial file is removed.  @return : AQ_OK, AQ_E_IO, AQ_E_VALUE. */
aq_status aq_st_writer_finish(aq_st_writer *w, aq_err *err);

/*! aq_st_writer_abort() : closes, removes the file and frees `w`; NULL is a no-op. */
void aq_st_writer_abort(aq_st_writer *w);

#endif /* AQ_SAFETENSORS_H */
