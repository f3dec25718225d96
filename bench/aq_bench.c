/*
 * aq-bench — measurements behind the numbers the project quotes (docs/DESIGN.md §7).
 * One file per subcommand (bench_<name>.c, entry point aq_bench_<name>() in bench.h); this
 * file holds the usage text and the dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

void aq_bench_usage(FILE *f) {
    fputs(
        "usage: aq-bench quality [--seed S] [--threads N] [--scale F] [--json OUT]\n"
        "       aq-bench kernels [--threads N] [--simd all|auto|scalar|avx2|avx512] [--min-seconds "
        "S] [--json OUT]\n"
        "       mpirun -n R aq-bench scaling [--threads T] [--mweights M] [--weak] [--repeat N] "
        "[--bits B]\n"
        "                                     [--method rtn|mse] [--group-size G] [--simd S] "
        "[--json OUT (appends)]\n"
        "       mpirun -n R aq-bench memory --model DIR [--set key=value]... [--repeat N] "
        "[--allowance-mb A]\n"
        "                                    [--out-dir DIR] [--json OUT (appends)]\n"
        "       aq-bench phases --model DIR [--out-dir DIR] [--repeat N] [--bits B] [--calib "
        "FILE]\n"
        "\n"
        "  kernels   Mweights/s per thread of every bits x method x group size per kernel set\n"
        "            (SIMD vs scalar ratio) and the read bandwidth measured in the same run\n"
        "  scaling   in-memory model quantized over ranks x threads, gathered to rank 0\n"
        "  memory    the real job on a model: peak RSS per rank vs the streaming bound, wall time\n"
        "  quality   pooled SQNR and quantization speed of bits {2,4,8} x method {rtn,mse}\n"
        "            x group size {32,64,128} (f16 scale/min) on the docs/DESIGN.md §7 test\n"
        "            tensors (Dream-7B shapes q, k, gate, down; Student-t nu=5 weights,\n"
        "            std 0.02, 1e-3 outliers), with ggml's reference figures beside\n"
        "\n"
        "  --seed S      weight generator seed (default 42)\n"
        "  --threads N   OpenMP threads (default: all); speed is reported per thread\n"
        "  --scale F     0 < F <= 1: multiply the row counts by F for a quick run (default 1)\n"
        "  --json OUT    also write the results as JSON to OUT\n"
        "  -h, --help    this text\n",
        f);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        aq_bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } k_subcommands[] = {
        {"phases", aq_bench_phases}, {"memory", aq_bench_memory},   {"scaling", aq_bench_scaling},
        {"dq", aq_bench_dq},         {"kernels", aq_bench_kernels}, {"quality", aq_bench_quality},
    };
    for (size_t i = 0; i < sizeof k_subcommands / sizeof k_subcommands[0]; ++i)
        if (strcmp(argv[1], k_subcommands[i].name) == 0)
            return k_subcommands[i].run(argc - 1, argv + 1); /* argv[0]: the subcommand */
    fprintf(stderr, "aq-bench: unknown subcommand '%s' (try --help)\n", argv[1]);
    return 2;
}
