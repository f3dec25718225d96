/* aq-inspect: summary, verification and safetensors / GGUF export of aq-mpi result files. */
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
           "       aq-inspect --export OUT.gguf [--model DIR] [--dtype f32|f16|bf16]\n"
           "                  [--dequantize-unsupported] [FILE]\n"
           "\n"
           "--verify prints one line per problem and exits 1 when there is any.\n"
           "--export dequantizes every tensor (or NAME) to bf16 (default) or f32 safetensors.\n"
           "--export OUT.gguf writes a GGUF file for llama.cpp (architectures llama, qwen2,\n"
           "  dream): config.json and tokenizer.json from --model DIR (default: the result's\n"
           "  source model).  Without FILE, the unquantized model in DIR is exported.\n"
           "  --dtype sets the type of every 2-D tensor (default: as stored); tensors in an\n"
           "  aq-mpi layout ggml cannot hold are refused unless --dequantize-unsupported\n"
           "  (then F16, or --dtype).  1-D tensors are F32.  See docs/GGUF.md.\n"
           "Exit status: 0 success; 1 a problem or failure; 2 bad command line.\n");
}

typedef struct {
    int verify, help, dequantize_unsupported;
    const char *export_path, *dtype, *tensor, *file, *model;
} args;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int is_gguf(const args *a) {
    return a->export_path && ends_with(a->export_path, ".gguf");
}

/* Option combinations, once the options are read. */
static int check(args *a, int argc, char **argv) {
    int files = argc - optind;
    if (files == 0 && is_gguf(a) && a->model) return 0; /* unquantized model export */
    if (files != 1) {
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
    if ((a->model || a->dequantize_unsupported) && !is_gguf(a)) {
        fprintf(stderr, "aq-inspect: error: --model and --dequantize-unsupported go with "
                        "--export OUT.gguf\n");
        return -1;
    }
    if (is_gguf(a) && a->tensor) {
        fprintf(stderr, "aq-inspect: error: --tensor does not go with a GGUF export\n");
        return -1;
    }
    return 0;
}

static int parse(int argc, char **argv, args *a) {
    static const struct option LONG[] = {{"verify", no_argument, 0, 'v'},
                                         {"export", required_argument, 0, 'e'},
                                         {"dtype", required_argument, 0, 'd'},
                                         {"tensor", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {"model", required_argument, 0, 'm'},
                                         {"dequantize-unsupported", no_argument, 0, 'u'},
                                         {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ve:d:t:hm:u", LONG, NULL)) != -1) {
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
        case 'm':
            a->model = optarg;
            break;
        case 'u':
            a->dequantize_unsupported = 1;
            break;
        default:
            fprintf(stderr, "aq-inspect: error: %s %s (see --help)\n",
                    c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            return -1;
        }
    }
    if (a->help) return 0;
    if (check(a, argc, argv) != 0) return -1;
    int gguf = is_gguf(a);
    if (a->dtype && strcmp(a->dtype, "bf16") && strcmp(a->dtype, "f32") &&
        (!gguf || strcmp(a->dtype, "f16"))) {
        fprintf(stderr, "aq-inspect: error: --dtype %s: must be bf16 or f32%s\n", a->dtype,
                gguf ? " or f16" : "");
        return -1;
    }
    return 0;
}

static aq_status export_gguf(const args *a, aq_err *err) {
    aq_gguf_export_opts o = {
        .model_dir = a->model, .dtype = -1, .dequantize_unsupported = a->dequantize_unsupported};
    if (a->dtype)
        o.dtype = !strcmp(a->dtype, "f32")   ? AQ_DT_F32
                  : !strcmp(a->dtype, "f16") ? AQ_DT_F16
                                             : AQ_DT_BF16;
    return aq_inspect_export_gguf(a->file, a->export_path, &o, err);
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
    if (is_gguf(a)) {
        st = export_gguf(a, &err);
        if (st == AQ_OK) printf("wrote %s\n", a->export_path);
    } else if (a->export_path) {
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
