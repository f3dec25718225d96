/*
 * aq-mpi bench — our re-implementation of llama.cpp's k-quant quantizer algorithm
 * (ggml-quants.c quantize_q2_K .. quantize_q6_K as llama-quantize calls them: the *_ref
 * path without an importance matrix, the *_impl path with one), written from the
 * algorithm for comparison only; it writes ggml's block layouts, so our decoders read it.
 */
#ifndef AQ_BENCH_KQUANT_LLAMA_REF_H
#define AQ_BENCH_KQUANT_LLAMA_REF_H

#include <stdint.h>

/*! llref_quantize() : fmt 2..6 (Q2_K..Q6_K); n % 256 == 0; imatrix NULL or n entries
 *  (llama-quantize passes the imatrix column statistics per element of the row). */
void llref_quantize(int fmt, const float *x, const float *imatrix, int64_t n, void *blocks);

#endif
