/*
 * ggml_legacy_blocks OUTDIR — writes, for each ggml legacy format, blocks made by our encoder
 * and our decoder's output, for tests/integration/ggml_decode_check.py to decode with gguf-py
 * and compare bit for bit.
 *
 * Input (deterministic): ROWS x COLS weights of the project's Student-t recipe (aq/synth.h,
 * seed 13), rows scaled over 10^-6..10^3, every third row encoded with log-normal importance,
 * row 0 holding special blocks (zeros, a constant, float denormals, a huge outlier); then
 * RAND_ROWS rows of random bytes whose fp16 d / m fields are forced finite, so every code
 * pattern (all 5-bit combinations of Q5_0 / Q5_1 included) reaches the decoders.
 * Output per format NAME: OUTDIR/NAME.blocks (raw blocks, rows back to back), OUTDIR/NAME.f32
 * (our decode, little-endian float32), and one line "NAME GGML_TYPE ROWS COLS" in
 * OUTDIR/manifest.txt.  Exit 0, or 1 with a message on a write error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/ggml_legacy.h"
#include "aq/synth.h"

#define ROWS 24
#define RAND_ROWS 8
#define COLS 512
#define QK AQ_GGML_LEGACY_QK

static void make_input(float *x, float *h) {
    aq_synth_weights_f32(13, "ggml_decode_check", x, (size_t)ROWS * COLS, 0.02f);
    for (int i = 0; i < ROWS; ++i)
        for (int j = 0; j < COLS; ++j)
            x[i * COLS + j] *= (float)pow(10.0, (i % 10) - 4) * 50.0f;
    for (int j = 0; j < QK; ++j) {
        x[j] = 0.0f;
        x[QK + j] = -0.7f;
        x[2 * QK + j] = (float)(j % 3 - 1) * 1e-39f;
        x[3 * QK + j] = j == 9 ? 300.0f : 0.01f * (float)(j % 5 - 2);
    }
    aq_rng r;
    aq_rng_seed(&r, 13);
    for (int j = 0; j < COLS; ++j)
        h[j] = (float)exp(1.5 * aq_rng_normal(&r));
}

/* Random block bytes; the fp16 fields (d at 0; m at 2 for Q4_1 / Q5_1) get a random finite
 * value, subnormals included. */
static void random_blocks(aq_rng *r, int fmt, int bytes, unsigned char *p, int nblocks) {
    for (int b = 0; b < nblocks; ++b, p += bytes) {
        for (int k = 0; k < bytes; ++k)
            p[k] = (unsigned char)(aq_rng_next(r) >> 56);
        const int fields = fmt == AQ_GGML_LEGACY_Q4_1 || fmt == AQ_GGML_LEGACY_Q5_1 ? 2 : 1;
        for (int f = 0; f < fields; ++f) {
            uint16_t v = (uint16_t)(aq_rng_next(r) >> 48);
            if ((v & 0x7c00) == 0x7c00) v &= 0xbfff; /* Inf / NaN -> a finite value */
            p[2 * f] = (unsigned char)(v & 0xff);
            p[2 * f + 1] = (unsigned char)(v >> 8);
        }
    }
}

static int write_file(const char *dir, const char *name, const char *ext, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "ggml_legacy_blocks: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ggml_legacy_blocks OUTDIR\n");
        return 2;
    }
    static float x[ROWS * COLS], h[COLS], y[(ROWS + RAND_ROWS) * COLS];
    static unsigned char blk[(ROWS + RAND_ROWS) * (COLS / QK) * AQ_GGML_Q8_0_BYTES];
    make_input(x, h);
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/manifest.txt", argv[1]);
    FILE *man = fopen(mpath, "w");
    if (!man) {
        fprintf(stderr, "ggml_legacy_blocks: cannot write %s\n", mpath);
        return 1;
    }
    aq_rng r;
    aq_rng_seed(&r, 17);
    for (int f = 0; f < AQ_GGML_LEGACY_COUNT; ++f) {
        const aq_ggml_legacy_info *fi = aq_ggml_legacy_get((aq_ggml_legacy_fmt)f);
        const size_t rb = aq_ggml_legacy_row_bytes((aq_ggml_legacy_fmt)f, COLS);
        const int rows = ROWS + RAND_ROWS;
        for (int i = 0; i < ROWS; ++i)
            if (fi->quantize_ref(x + i * COLS, i % 3 == 2 ? h : NULL, COLS, blk + i * rb) != 0)
                return 1;
        random_blocks(&r, f, fi->block_bytes, blk + ROWS * rb, RAND_ROWS * (COLS / QK));
        if (fi->dequantize(blk, (int64_t)rows * COLS, y) != 0) return 1;
        if (write_file(argv[1], fi->name, "blocks", blk, rows * rb) != 0 ||
            write_file(argv[1], fi->name, "f32", y, sizeof(float) * rows * COLS) != 0)
            return 1;
        fprintf(man, "%s %d %d %d\n", fi->name, fi->ggml_type, rows, COLS);
    }
    return fclose(man) == 0 ? 0 : 1;
}
