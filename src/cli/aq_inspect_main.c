/* aq-inspect: summary, verification and safetensors export of aq-mpi result files. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "aq/inspect.h"

enum { EXIT_PROBLEM = 1, EXIT_USAGE = 2 };

static void usage(FILE *f) {
    fprintf(
        f, "Usage: aq-inspect FILE                       summary (tensors, bits, sizes, SQNR, "
           "phases)\n"
           "       aq-inspect --verify FILE              checksums, completeness, shapes, packing\n"
           "       aq-inspect --export OUT.safetensors [--dtype bf16|f32] [--tensor NAME] FILE\n"
           "\n"
           "--verify prints one line per problem and exits 1 when there is any.\n"
           "--export dequantizes every tensor (or NAME) to bf16 (default) or f32 safetensors.\n"
           "Exit status: 0 success; 1 a problem or failure; 2 bad command line.\n");
}

typedef struct {
    int verify, help;
    const char *export_path, *dtype, *tensor, *file;
} args;

static int parse(int argc, char **argv, args *a) {
    static const struct option LONG[] = {
        {"verify", no_argument, 0, 'v'},      {"export", required_argument, 0, 'e'},
        {"dtype", required_argument, 0, 'd'}, {"tensor", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ve:d:t:h", LONG, NULL)) != -1) {
        switch (c) {
        case 'v':
            a->verify = 1;
            break;
        case 'e':
            a->export_path = optarg;
            break;
        case 'd':
            a->dtype = optarg;
            break;
        case 't':
            a->tensor = optarg;
            break;
        case 'h':
            a->help = 1;
            break;
        default:
            fprintf(stderr, "aq-inspect: error: %s %s (see --help)\n",
                    c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            return -1;
        }
    }
    if (a->help) return 0;
    if (optind != argc - 1) {
        fprintf(stderr, "aq-inspect: error: expected exactly one result FILE (see --help)\n");
        return -1;
    }
    a->file = argv[optind];
    if (a->verify && a->export_path) {
        fprintf(stderr, "aq-inspect: error: --verify and --export are exclusive\n");
        return -1;
    }
    if ((a->dtype || a->tensor) && !a->export_path) {
        fprintf(stderr, "aq-inspect: error: --dtype and --tensor go with --export\n");
        return -1;
    }
    if (a->dtype && strcmp(a->dtype, "bf16") && strcmp(a->dtype, "f32")) {
        fprintf(stderr, "aq-inspect: error: --dtype %s: must be bf16 or f32\n", a->dtype);
        return -1;
    }
    return 0;
}

static int run(const args *a) {
    aq_err err = {0};
    if (a->verify) {
        size_t problems = 0;
        aq_inspect_verify(a->file, stdout, &problems, &err);
        if (problems)
            fprintf(stderr, "aq-inspect: %s: %zu problem(s)\n", a->file, problems);
        else
            printf("%s: ok\n", a->file);
        return problems ? EXIT_PROBLEM : 0;
    }
    aq_status st;
    if (a->export_path) {
        aq_dtype dt = a->dtype && strcmp(a->dtype, "f32") == 0 ? AQ_DT_F32 : AQ_DT_BF16;
        st = aq_inspect_export(a->file, a->export_path, dt, a->tensor, &err);
        if (st == AQ_OK) printf("wrote %s\n", a->export_path);
    } else {
        st = aq_inspect_summary(a->file, stdout, &err);
    }
    if (st != AQ_OK) fprintf(stderr, "aq-inspect: error: %s\n", err.msg);
    return st == AQ_OK ? 0 : EXIT_PROBLEM;
}

int main(int argc, char **argv) {
    args a = {0};
    if (parse(argc, argv, &a) != 0) return EXIT_USAGE;
    if (a.help) {
        usage(stdout);
        return 0;
    }
    return run(&a);
}
