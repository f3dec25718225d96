/*
 * aq-mpi — GGUF export: the tensor source (a result file or a safetensors model).
 * Not installed.
 */
#ifndef AQ_INSPECT_GGUF_SRC_H
#define AQ_INSPECT_GGUF_SRC_H

#include <hdf5.h>

#include "aq/dtype.h"
#include "aq/h5in.h"
#include "aq/safetensors.h"
#include "inspect_internal.h"

typedef struct {
    const char *label; /* path for messages */
    aq_h5in *h;        /* result file, or */
    aq_checkpoint *ck; /* safetensors model */
    hid_t f, tg;       /* result: file and /tensors (aliases are hard links) */
    aq_h5_quiet quiet;
    int quiet_on;
} gs_source;

typedef struct {
    int ndim;
    int64_t shape[8];
    int64_t numel;
    aq_dtype dtype; /* source dtype (orig_dtype of a result tensor) */
    int quantized;  /* an aq-mpi layout (docs/FORMAT.md), not a ggml one */
    int bits, group_size;
    char format[16]; /* quantized: the format's name attribute (scale_dtype or format) */
    int ggml_type;   /* quantized in a ggml block format (quant.format): its aq_ggml_type,
                        the blocks exported byte for byte; else -1 */
} gs_info_t;

/*! gs_open_result() : opens result `path`; refuses a result without /run (unfinished).
 *  On error call gs_close() all the same. */
aq_status gs_open_result(const char *path, gs_source *s, aq_err *err);
/*! gs_open_model() : opens the safetensors model in `dir` (aq_checkpoint_open). */
aq_status gs_open_model(const char *dir, gs_source *s, aq_err *err);
void gs_close(gs_source *s);

/*! gs_count() / gs_name() : every tensor name, aliases included. */
size_t gs_count(const gs_source *s);
const char *gs_name(const gs_source *s, size_t i);
int gs_has(const gs_source *s, const char *name);
/*! gs_same() : 1 when names a and b are the same stored tensor (tied weights). */
int gs_same(const gs_source *s, const char *a, const char *b);
aq_status gs_info(const gs_source *s, const char *name, gs_info_t *o, aq_err *err);
/*! gs_f32() : the tensor as float32 (dequantized when quantized), row-major. */
aq_status gs_f32(const gs_source *s, const char *name, float *dst, int64_t numel, aq_err *err);
/*! gs_blocks() : the uint8 dataset "blocks" of a result tensor stored in a ggml block format
 *  (gs_info_t.ggml_type >= 0) into dst[bytes] ([rows, row bytes] row-major, ggml's bytes).
 *  @return : AQ_OK; AQ_E_FORMAT (not a result, no such dataset, another size); AQ_E_HDF5. */
aq_status gs_blocks(const gs_source *s, const char *name, void *dst, int64_t bytes, aq_err *err);
/*! gs_source_model() : the result's source_model attribute into buf, or NULL. */
const char *gs_source_model(const gs_source *s, char *buf, size_t size);

#endif /* AQ_INSPECT_GGUF_SRC_H */
