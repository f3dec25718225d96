/* aq-bench: one file per subcommand (bench_<name>.c), helpers they share (bench_common.c),
 * usage and dispatch (aq_bench.c). */
#ifndef AQ_BENCH_H
#define AQ_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "aq/quant.h"

/* Every subcommand: argv[0] is its name; the options follow.
 * @return : process exit status (0 ok, 1 a run failed, 2 usage). */

/*! aq_bench_quality() : `aq-bench quality ...`; see bench_quality.c. */
int aq_bench_quality(int argc, char **argv);

/*! aq_bench_kernels() : `aq-bench kernels ...`; see bench_kernels.c. */
int aq_bench_kernels(int argc, char **argv);

/*! aq_bench_scaling() : `mpirun -n R aq-bench scaling ...`; see bench_scaling.c. */
int aq_bench_scaling(int argc, char **argv);

/*! aq_bench_memory() : `mpirun -n R aq-bench memory ...`; see bench_memory.c. */
int aq_bench_memory(int argc, char **argv);

/*! aq_bench_phases() : `aq-bench phases ...`; see bench_phases.c. */
int aq_bench_phases(int argc, char **argv);

/*! aq_bench_dq() : `aq-bench dq ...`; see bench_dq.c. */
int aq_bench_dq(int argc, char **argv);

/*! aq_bench_usage() : the help text of every subcommand, written to `f`. */
void aq_bench_usage(FILE *f);

/* ---- shared by the subcommands (bench_common.c) ---- */

/* The configuration grid of quality and kernels: bits {2,4,8} x method {rtn,mse} x group
 * size {32,64,128}. */
extern const int k_bits[3];
extern const aq_method k_methods[2];
extern const int k_groups[3];

/* Kernel-set names by aq_kernels_select() number: auto, scalar, avx2, avx512. */

/* Monotonic wall-clock seconds. */
double now_s(void);
/* Process CPU seconds (all threads). */
double cpu_s(void);

/* Output buffers sized for the largest configuration (8 bits, g 32). */
typedef struct {
    uint8_t *codes;
    uint16_t *scale, *min;
} out_bufs;
/* @return : 0, or -1 when out of memory (free_bufs() is still safe). */
int alloc_bufs(out_bufs *b, int64_t rows, int64_t cols);
void free_bufs(out_bufs *b);

/* Bits per weight of a plain layout with f16 scale and min per group. */
double bits_per_weight(const aq_quant_params *p);

/* Read bandwidth (GB/s) of `threads` threads over a 512 MiB buffer; *sink defeats the
 * optimiser. */
double read_gbps(int threads, uint64_t *sink);

#endif /* AQ_BENCH_H */
