/* Job configuration: one table drives parsing, validation and INI output, so a key is
 * declared once with its type, range and default. */
#include "aq/config.h"
#include "aq/qformat.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { K_STR, K_INT, K_DBL, K_BOOL, K_ENUM, K_INTSET, K_QFMT } key_type;

typedef struct {
    const char *section, *key;
    key_type type;
    size_t offset;
    double lo, hi;            /* K_INT, K_DBL range (inclusive) */
    const char *const *names; /* K_ENUM names (index = value), K_INTSET allowed values */
} key_def;

static const char *const METHODS[] = {"rtn", "mse", NULL};
static const char *const SCALE_DT[] = {"f16", "f32", "dq", NULL};
static const char *const BOUNDS[] = {"uniform", "optimized", NULL};
static const char *const SCHEDS[] = {"linear", "cosine", "mask", NULL};
static const char *const TWEIGHTS[] = {"alphabar", "uniform", NULL};
static const char *const ERRMODELS[] = {"gaussian", "mixture", NULL};
static const char *const INTERPS[] = {"linear", "cubic", "sigmoid", NULL};
static const char *const MISSING[] = {"error", "skip", NULL};
static const char *const BITS[] = {"2", "3", "4", "8", NULL};
static const char *const GROUPS[] = {"16", "32", "64", "128", "256", NULL};
/* K_QFMT: "none" = 0, else a block row of the format table (aq_qformat_by_name). */
static const char *const QFORMATS[] = {"none", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",
                                       "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", NULL};

#define F(m) offsetof(aq_config, m)
static const key_def KEYS[] = {
    {"model", "path", K_STR, F(model_path), 0, 0, NULL},
    {"quant", "bits", K_INTSET, F(quant.bits), 0, 0, BITS},
    {"quant", "group_size", K_INTSET, F(quant.group_size), 0, 0, GROUPS},
    {"quant", "method", K_ENUM, F(quant.method), 0, 0, METHODS},
    {"quant", "scale_dtype", K_ENUM, F(quant.scale_dtype), 0, 0, SCALE_DT},
    {"quant", "dq_bits", K_INT, F(quant.dq_bits), 0, 8, NULL},
    {"quant", "format", K_QFMT, F(quant.format), 0, 0, QFORMATS},
    {"quant", "embeddings", K_BOOL, F(quant_embeddings), 0, 0, NULL},
    {"quant", "fallback", K_BOOL, F(fallback), 0, 0, NULL},
    {"quant", "fallback_2bit", K_DBL, F(fallback_2bit), 0.0, 1e6, NULL},
    {"quant", "fallback_4bit", K_DBL, F(fallback_4bit), 0.0, 1e6, NULL},
    {"quant", "fallback_kl_path", K_STR, F(fallback_kl_path), 0, 0, NULL},
    {"quant", "fallback_kl", K_DBL, F(fallback_kl), 0.0, 1e6, NULL},
    {"quant", "budget_bits", K_DBL, F(budget_bits), 0.0, 64.0, NULL},
    {"quant", "budget_kl_path", K_STR, F(budget_kl_path), 0, 0, NULL},
    {"quant", "gptq", K_BOOL, F(gptq), 0, 0, NULL},
    {"quant", "gptq_damp", K_DBL, F(gptq_damp), 1e-9, 1e3, NULL},
    {"quant", "gptq_block", K_INT, F(gptq_block), 1, 65536, NULL},
    {"quant", "gptq_act_order", K_BOOL, F(gptq_act_order), 0, 0, NULL},
    {"quant", "hessian_path", K_STR, F(hessian_path), 0, 0, NULL},
    {"calib", "path", K_STR, F(calib_path), 0, 0, NULL},
    {"calib", "synthetic", K_BOOL, F(calib_synthetic), 0, 0, NULL},
    {"calib", "timesteps", K_INT, F(calib_timesteps), 1, 4096, NULL},
    {"calib", "seed", K_INT, F(calib_seed), 0, 2147483647, NULL},
    {"calib", "missing", K_ENUM, F(calib_skip_missing), 0, 0, MISSING},
    {"timegroups", "count", K_INT, F(tg_count), 1, 64, NULL},
    {"timegroups", "boundaries", K_ENUM, F(tg_boundaries), 0, 0, BOUNDS},
    {"timegroups", "min_steps", K_INT, F(tg_min_steps), 1, 4096, NULL},
    {"timegroups", "act_bits", K_INT, F(tg_act_bits), 2, 16, NULL},
    {"timegroups", "schedule", K_ENUM, F(tg_schedule), 0, 0, SCHEDS},
    {"timegroups", "time_weight", K_ENUM, F(tg_time_weight), 0, 0, TWEIGHTS},
    {"timegroups", "t_ref", K_INT, F(tg_t_ref), 1, 1000000, NULL},
    {"timegroups", "error_model", K_ENUM, F(tg_error_model), 0, 0, ERRMODELS},
    {"phase1", "enabled", K_BOOL, F(p1_enabled), 0, 0, NULL},
    {"phase1", "threshold", K_DBL, F(p1_threshold), 0.0, 1.0, NULL},
    {"phase2", "enabled", K_BOOL, F(p2_enabled), 0, 0, NULL},
    {"phase2", "method", K_ENUM, F(p2_method), 0, 0, INTERPS},
    {"phase2", "window", K_INT, F(p2_window), 1, 10000, NULL},
    {"phase3", "enabled", K_BOOL, F(p3_enabled), 0, 0, NULL},
    {"phase3", "markov_weight", K_DBL, F(p3_markov_weight), 0.0, 1e6, NULL},
    {"phase3", "entropy_weight", K_DBL, F(p3_entropy_weight), 0.0, 1e6, NULL},
    {"phase3", "learning_rate", K_DBL, F(p3_learning_rate), 1e-9, 10.0, NULL},
    {"phase3", "max_iterations", K_INT, F(p3_max_iterations), 1, 1000000, NULL},
    {"phase3", "convergence", K_DBL, F(p3_convergence), 0.0, 1.0, NULL},
    {"phase3", "grad_clip", K_DBL, F(p3_grad_clip), 1e-9, 1e9, NULL},
    {"output", "path", K_STR, F(output_path), 0, 0, NULL},
    {"output", "compression_level", K_INT, F(compression_level), 1, 22, NULL},
    {"run", "threads", K_INT, F(threads), 0, 4096, NULL},
    {"run", "simd", K_ENUM, F(simd), 0, 0, aq_simd_names},
    {"run", "trace", K_STR, F(trace_prefix), 0, 0, NULL},
};
#undef F
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

void aq_config_defaults(aq_config *c) {
    memset(c, 0, sizeof *c);
    c->compression_level = 3;
    c->quant = (aq_quant_params){
        .bits = 4, .group_size = 64, .method = AQ_METHOD_MSE, .scale_dtype = AQ_SCALE_F16};
    c->fallback_2bit = 0.15;  /* ~8.2 dB; the test tensors reach ~9.5 at g32 */
    c->fallback_4bit = 0.012; /* ~19.2 dB; the test tensors reach ~21 at g32 */
    c->fallback_kl = 0.1;     /* nats; one 2-bit g64 layer of TinyStories costs 0.02-0.23 */
    c->gptq_damp = 0.01;      /* GPTQ paper's 1 % of the mean diagonal */
    c->gptq_block = 128;
    c->calib_timesteps = 32;
    c->calib_seed = 1;
    c->tg_count = 4;
    c->tg_min_steps = 1;
    c->tg_t_ref = 1000;
    c->tg_act_bits = 8;
    c->tg_schedule = AQ_SCHED_MASK;
    c->tg_error_model = AQ_ERRMODEL_MIXTURE; /* measured with aq-eval: docs/PHASES.md */
    c->p1_threshold = 0.3;
    c->p2_method = AQ_INTERP_CUBIC;
    c->p2_window = 2;
    c->p3_markov_weight = 0.1;
    c->p3_entropy_weight = 0.01;
    c->p3_learning_rate = 0.01;
    c->p3_max_iterations = 100;
    c->p3_convergence = 1e-4;
    c->p3_grad_clip = 1.0;
}

static const key_def *find_key(const char *section, const char *key, int *section_known) {
    *section_known = 0;
    for (size_t i = 0; i < N_KEYS; ++i) {
        if (strcmp(KEYS[i].section, section) != 0) continue;
        *section_known = 1;
        if (strcmp(KEYS[i].key, key) == 0) return &KEYS[i];
    }
    return NULL;
}

static int parse_bool(const char *v, int *out) {
    static const char *const T[] = {"true", "yes", "on", "1"}, *const N[] = {"false", "no", "off",
                                                                             "0"};
    for (int i = 0; i < 4; ++i) {
        if (strcasecmp(v, T[i]) == 0) return *out = 1, 0;
        if (strcasecmp(v, N[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

static int name_index(const char *const *names, const char *v) {
    for (int i = 0; names[i]; ++i)
        if (strcmp(names[i], v) == 0) return i;
    return -1;
}

static void list_names(const char *const *names, char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; names[i]; ++i) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", i ? ", " : "", names[i]);
    }
}

/* Parses `v` for key `k` into `c`; on failure writes the reason into why[0..n). */
static int set_value(aq_config *c, const key_def *k, const char *v, char *why, size_t n) {
    char *dst = (char *)c + k->offset, *end = NULL, names[256];
    switch (k->type) {
    case K_STR:
        if (strlen(v) >= AQ_PATH_MAX) return snprintf(why, n, "path too long"), -1;
        strcpy(dst, v);
        return 0;
    case K_BOOL:
        if (parse_bool(v, (int *)dst) == 0) return 0;
        return snprintf(why, n, "'%s' is not a boolean (true/false)", v), -1;
    case K_ENUM:
    case K_INTSET: {
        int i = name_index(k->names, v);
        list_names(k->names, names, sizeof names);
        if (i < 0) return snprintf(why, n, "'%s' is not one of: %s", v, names), -1;
        *(int *)dst = k->type == K_ENUM ? i : atoi(v);
        return 0;
    }
    case K_QFMT: {
        const int id = strcmp(v, "none") ? aq_qformat_by_name(v) : 0;
        list_names(k->names, names, sizeof names);
        if (id == 0 && strcmp(v, "none"))
            return snprintf(why, n, "'%s' is not one of: %s", v, names), -1;
        *(int *)dst = id;
        return 0;
    }
    case K_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) return snprintf(why, n, "'%s' is not an integer", v), -1;
        if (x < k->lo || x > k->hi)
            return snprintf(why, n, "%ld is out of range [%.0f, %.0f]", x, k->lo, k->hi), -1;
        *(int *)dst = (int)x;
        return 0;
    }
    case K_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return snprintf(why, n, "'%s' is not a number", v), -1;
        if (x < k->lo || x > k->hi)
            return snprintf(why, n, "%g is out of range [%g, %g]", x, k->lo, k->hi), -1;
        *(double *)dst = x;
        return 0;
    }
    }
    return -1;
}

/* Validates and stores one section/key/value; the reason goes to why[0..n). */
static int assign(aq_config *c, const char *section, const char *key, const char *value, char *why,
                  size_t n) {
    int section_known;
    const key_def *k = find_key(section, key, &section_known);
    if (!section_known) return snprintf(why, n, "unknown section [%s]", section), -1;
    if (!k) return snprintf(why, n, "unknown key '%s' in section [%s]", key, section), -1;
    char reason[400];
    if (set_value(c, k, value, reason, sizeof reason) == 0) return 0;
    snprintf(why, n, "%s.%s: %s", section, key, reason);
    return -1;
}

typedef struct {
    aq_config *c;
    char why[512]; /* reason for the first error only: inih reports its line */
} parse_state;

static int on_ini_key(void *user, const char *section, const char *key, const char *value) {
    parse_state *st = user;
    char why[512];
    if (assign(st->c, section, key, value, why, sizeof why) == 0) return 1;
    if (!st->why[0]) snprintf(st->why, sizeof st->why, "%s", why);
    return 0;
}

aq_status aq_config_load(aq_config *c, const char *path, aq_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    parse_state st = {.c = c, .why = ""};
    int line = ini_parse_file(f, on_ini_key, &st);
    fclose(f);
    if (line == 0) return AQ_OK;
    if (line < 0) return aq_err_set(err, AQ_E_IO, "%s: cannot parse (error %d)", path, line);
    return aq_err_set(err, AQ_E_CONFIG, "%s:%d: %s", path, line,
                      st.why[0] ? st.why : "syntax error: expected '[section]' or 'key = value'");
}

aq_status aq_config_set(aq_config *c, const char *assignment, aq_err *err) {
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1)
        return aq_err_set(err, AQ_E_CONFIG, "--set %s: expected section.key=value", assignment);
    char section[64], key[64], why[512];
    if ((size_t)(dot - assignment) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key)
        return aq_err_set(err, AQ_E_CONFIG, "--set %s: section or key too long", assignment);
    snprintf(section, sizeof section, "%.*s", (int)(dot - assignment), assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    if (assign(c, section, key, eq + 1, why, sizeof why) != 0)
        return aq_err_set(err, AQ_E_CONFIG, "--set %s: %s", assignment, why);
    return AQ_OK;
}

aq_status aq_config_check(const aq_config *c, aq_err *err) {
    if (!c->model_path[0])
        return aq_err_set(err, AQ_E_CONFIG,
                          "model.path is not set (config or --set model.path=DIR)");
    if (!c->output_path[0])
        return aq_err_set(err, AQ_E_CONFIG,
                          "output.path is not set (config or --set output.path=FILE.h5)");
    aq_status st = aq_quant_params_check(&c->quant, err);
    if (st != AQ_OK) return st;
    if (c->quant.format && c->fallback)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.fallback with quant.format = %s: the per-layer width fallback "
                          "works on quant.bits; a ggml format has one width (its row-length "
                          "fallback is automatic)",
                          aq_qformat_get(c->quant.format)->name);
    int calib = c->calib_path[0] || c->calib_synthetic;
    if (!calib && (c->p1_enabled || c->p2_enabled || c->p3_enabled))
        return aq_err_set(err, AQ_E_CONFIG,
                          "phase1/2/3 need activation statistics: set calib.path = STATS.h5 "
                          "or calib.synthetic = true");
    if (c->budget_bits > 0 && c->fallback)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.budget_bits and quant.fallback exclude each "
                          "other: the budget already chooses every layer's width");
    if (c->budget_kl_path[0] && !(c->budget_bits > 0))
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.budget_kl_path is the sensitivity of the "
                          "size budget: set quant.budget_bits");
    if (c->fallback_kl_path[0] && !c->fallback)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.fallback_kl_path is used by the per-layer "
                          "fallback: set quant.fallback = true");
    if (c->gptq && !aq_qformat_of(&c->quant)->gptq)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.gptq: format %s has no GPTQ operations (every row of the "
                          "format table has them: f16/f32, dq and ggml's q8_0 .. q6_k)",
                          aq_qformat_of(&c->quant)->tag);
    if (c->gptq && !c->hessian_path[0] && !c->calib_path[0])
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.gptq needs layer-input Hessians: set quant.hessian_path = "
                          "FILE.h5 (written by aq-calib --hessian) or calib.path to that file");
    if (c->calib_path[0] && c->calib_synthetic)
        return aq_err_set(err, AQ_E_CONFIG,
                          "calib.path and calib.synthetic = true exclude each other");
    return AQ_OK;
}

static void format_value(const aq_config *c, const key_def *k, char *buf, size_t n) {
    const char *src = (const char *)c + k->offset;
    switch (k->type) {
    case K_STR:
        snprintf(buf, n, "%s", src);
        break;
    case K_BOOL:
        snprintf(buf, n, "%s", *(const int *)src ? "true" : "false");
        break;
    case K_ENUM:
        snprintf(buf, n, "%s", k->names[*(const int *)src]);
        break;
    case K_QFMT: {
        const aq_qformat *f = aq_qformat_get(*(const int *)src);
        snprintf(buf, n, "%s", f ? f->name : "none");
        break;
    }
    case K_INTSET:
    case K_INT:
        snprintf(buf, n, "%d", *(const int *)src);
        break;
    case K_DBL:
        snprintf(buf, n, "%.17g", *(const double *)src);
        break;
    }
}

char *aq_config_to_ini(const aq_config *c) {
    size_t cap = 1024 + N_KEYS * (AQ_PATH_MAX + 64), len = 0;
    char *out = malloc(cap), value[AQ_PATH_MAX + 32];
    if (!out) return NULL;
    out[0] = '\0';
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; ++i) {
        if (strcmp(section, KEYS[i].section) != 0) {
            section = KEYS[i].section;
            len += snprintf(out + len, cap - len, "%s[%s]\n", len ? "\n" : "", section);
        }
        format_value(c, &KEYS[i], value, sizeof value);
        len += snprintf(out + len, cap - len, "%s = %s\n", KEYS[i].key, value);
    }
    return out;
}
