/* Helpers shared by the aq-bench subcommands: clocks, output buffers, the configuration
 * grid, kernel-set names and the read bandwidth. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aq/quant.h"
#include "bench.h"

const int k_bits[] = {2, 4, 8};
const aq_method k_methods[] = {AQ_METHOD_RTN, AQ_METHOD_MSE};
const int k_groups[] = {32, 64, 128};

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Process CPU seconds (all threads).  On a shared machine the rates are computed from CPU
 * time, which time spent waiting for a core does not inflate; wall time is kept beside. */
double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int alloc_bufs(out_bufs *b, int64_t rows, int64_t cols) {
    size_t ng = (size_t)rows * (size_t)aq_groups_per_row(cols, 32);
    b->codes = malloc((size_t)rows * aq_packed_row_bytes(cols, 8));
    b->scale = malloc(ng * sizeof *b->scale);
    b->min = malloc(ng * sizeof *b->min);
    return b->codes && b->scale && b->min ? 0 : -1;
}

void free_bufs(out_bufs *b) {
    free(b->codes);
    free(b->scale);
    free(b->min);
}

double bits_per_weight(const aq_quant_params *p) {
    return p->bits + 32.0 / p->group_size; /* f16 scale + f16 min per group */
}

/* Read bandwidth (GB/s) of `threads` threads each summing its part of a 512 MiB buffer;
 * best of 5 passes, timed by CPU time per thread.  The sum is returned through *sink so it cannot
 * be optimised away. */
double read_gbps(int threads, uint64_t *sink) {
    const size_t n = (size_t)512 << 20 >> 3;
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return 0.0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; ++i)
        buf[i] = i * 0x9e3779b97f4a7c15ull;
    double best = 0.0;
    for (int pass = 0; pass < 5; ++pass) {
        uint64_t total = 0;
        double t0 = cpu_s();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
#pragma omp for schedule(static) nowait
            for (size_t i = 0; i < n; i += 8) {
                a0 += buf[i];
                a1 += buf[i + 1];
                a2 += buf[i + 2];
                a3 += buf[i + 3];
                a4 += buf[i + 4];
                a5 += buf[i + 5];
                a6 += buf[i + 6];
                a7 += buf[i + 7];
            }
            total += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
        }
        double dt = (cpu_s() - t0) / threads, g = (double)(n * sizeof *buf) / dt / 1e9;
        *sink += total;
        if (g > best) best = g;
    }
    free(buf);
    return best;
}
