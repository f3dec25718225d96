/*
 * Writes, for each ggml k-quant, the blocks our encoder makes of a deterministic row set
 * (Student-t weights with zero, constant, negative-only and outlier super-blocks, with and
 * without importance) and our decoder's floats: DIR/<fmt>.bin and DIR/<fmt>.f32 (raw little
 * endian).  tests/integration/kquant_decode_check.py decodes the .bin with gguf-py and
 * requires bit equality with the .f32.
 * Usage: kquant_write_blocks DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/ggml_kquants.h"
#include "aq/synth.h"

#define ROWS 6
#define COLS 1024

typedef struct {
    const char *name;
    void (*q)(const float *, const float *, int64_t, void *);
    void (*dq)(const void *, int64_t, float *);
    int bytes;
} fmt;

static const fmt k_fmts[] = {
    {"q2_k", aq_ggml_quantize_row_q2_k_ref, aq_ggml_dequantize_row_q2_k, AQ_GGML_Q2_K_BYTES},
    {"q3_k", aq_ggml_quantize_row_q3_k_ref, aq_ggml_dequantize_row_q3_k, AQ_GGML_Q3_K_BYTES},
    {"q4_k", aq_ggml_quantize_row_q4_k_ref, aq_ggml_dequantize_row_q4_k, AQ_GGML_Q4_K_BYTES},
    {"q5_k", aq_ggml_quantize_row_q5_k_ref, aq_ggml_dequantize_row_q5_k, AQ_GGML_Q5_K_BYTES},
    {"q6_k", aq_ggml_quantize_row_q6_k_ref, aq_ggml_dequantize_row_q6_k, AQ_GGML_Q6_K_BYTES},
};

static int write_file(const char *dir, const char *name, const char *ext, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "kquant_write_blocks: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kquant_write_blocks DIR\n");
        return 2;
    }
    static float x[ROWS * COLS], h[COLS], y[ROWS * COLS];
    aq_synth_weights_f32(13, "kquant_gguf", x, ROWS * COLS, 0.02f);
    aq_synth_weights_f32(14, "kquant_imp", h, COLS, 1.0f);
    for (int j = 0; j < COLS; ++j)
        h[j] = h[j] * h[j] + 1e-3f;
    for (int j = 0; j < 256; ++j) {
        x[COLS + j] = 0.0f;                            /* row 1, block 0: zero */
        x[COLS + 256 + j] = -0.031f;                   /* row 1, block 1: constant */
        x[COLS + 512 + j] = -fabsf(x[COLS + 512 + j]); /* negative only */
    }
    x[2 * COLS + 5] = 3.0f; /* row 2: an outlier */
    for (size_t f = 0; f < sizeof k_fmts / sizeof k_fmts[0]; ++f) {
        const size_t rb = (size_t)(COLS / 256) * (size_t)k_fmts[f].bytes;
        unsigned char *b = malloc(ROWS * rb);
        if (!b) return 1;
        for (int r = 0; r < ROWS; ++r) {
            k_fmts[f].q(x + r * COLS, r % 2 ? h : NULL, COLS, b + r * rb);
            k_fmts[f].dq(b + r * rb, COLS, y + r * COLS);
        }
        const int bad = write_file(argv[1], k_fmts[f].name, "bin", b, ROWS * rb) ||
                        write_file(argv[1], k_fmts[f].name, "f32", y, sizeof y);
        free(b);
        if (bad) return 1;
    }
    printf("kquant_write_blocks: %d rows x %d of 5 formats in %s\n", ROWS, COLS, argv[1]);
    return 0;
}
