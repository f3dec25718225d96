/*
 * aq-synth — writes a deterministic synthetic model in the Hugging Face Qwen2 layout
 * (the architecture of Dream 7B): config.json, bf16 safetensors shards and
 * model.safetensors.index.json.  Values follow docs/DESIGN.md §7 (aq/synth.h), so the
 * quantizer can be tested and benchmarked at full scale without downloading weights.
 *
 * Streaming: one tensor is generated, converted and written at a time.  The index is written
 * last, and every file goes through a temporary name, so a reader that finds the index finds
 * a complete model.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/safetensors.h"
#include "aq/synth.h"

#define NAME_MAX_LEN 128
#define CHUNK (1u << 20) /* elements converted to bf16 per write */

typedef struct {
    const char *name;
    int layers, hidden, inter, heads, kv_heads, vocab, max_pos;
    uint64_t shard_limit; /* a new shard starts when the next tensor would exceed it */
} preset;

static const preset PRESETS[] = {
    {"dream-7b", 28, 3584, 18944, 28, 4, 152064, 131072, 4900000000ull},
    {"tiny", 4, 256, 704, 4, 2, 2048, 4096, 3000000ull},
    {"medium", 16, 1536, 4096, 12, 2, 32000, 4096, 500000000ull},
};

typedef enum { K_LINEAR, K_BIAS, K_NORM } tensor_kind;

typedef struct {
    char name[NAME_MAX_LEN];
    tensor_kind kind;
    int ndim;
    int64_t shape[2];
    uint64_t nbytes;
    int shard; /* 0-based */
} plan_tensor;

typedef struct {
    plan_tensor *t;
    size_t n, cap;
    int nshards;
    uint64_t params, bytes;
} plan;

/* The tensor name is printf(fmt, ...): names are templates over the layer index. */
__attribute__((format(printf, 5, 6))) static int plan_add(plan *p, tensor_kind kind, int64_t rows,
                                                          int64_t cols, const char *fmt, ...) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        plan_tensor *t = realloc(p->t, cap * sizeof *t);
        if (!t) return -1;
        p->t = t;
        p->cap = cap;
    }
    plan_tensor *t = &p->t[p->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->kind = kind;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->nbytes = (uint64_t)rows * (uint64_t)(cols > 0 ? cols : 1) * 2u;
    p->params += t->nbytes / 2;
    p->bytes += t->nbytes;
    return 0;
}

/* Tensor list in Hugging Face Qwen2 order and names. */
static int plan_build(const preset *ps, plan *p) {
    int64_t h = ps->hidden, hd = ps->hidden / ps->heads, q = ps->heads * hd, kv = ps->kv_heads * hd,
            in = ps->inter;
    int rc = plan_add(p, K_LINEAR, ps->vocab, h, "model.embed_tokens.weight");
    for (int l = 0; l < ps->layers && rc == 0; ++l) {
        rc |= plan_add(p, K_NORM, h, 0, "model.layers.%d.input_layernorm.weight", l);
        rc |= plan_add(p, K_LINEAR, q, h, "model.layers.%d.self_attn.q_proj.weight", l);
        rc |= plan_add(p, K_BIAS, q, 0, "model.layers.%d.self_attn.q_proj.bias", l);
        rc |= plan_add(p, K_LINEAR, kv, h, "model.layers.%d.self_attn.k_proj.weight", l);
        rc |= plan_add(p, K_BIAS, kv, 0, "model.layers.%d.self_attn.k_proj.bias", l);
        rc |= plan_add(p, K_LINEAR, kv, h, "model.layers.%d.self_attn.v_proj.weight", l);
        rc |= plan_add(p, K_BIAS, kv, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        rc |= plan_add(p, K_LINEAR, h, q, "model.layers.%d.self_attn.o_proj.weight", l);
        rc |= plan_add(p, K_NORM, h, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        rc |= plan_add(p, K_LINEAR, in, h, "model.layers.%d.mlp.gate_proj.weight", l);
        rc |= plan_add(p, K_LINEAR, in, h, "model.layers.%d.mlp.up_proj.weight", l);
        rc |= plan_add(p, K_LINEAR, h, in, "model.layers.%d.mlp.down_proj.weight", l);
    }
    if (rc == 0) rc = plan_add(p, K_NORM, h, 0, "model.norm.weight");
    if (rc == 0) rc = plan_add(p, K_LINEAR, ps->vocab, h, "lm_head.weight");
    /* Greedy filling in tensor order, as transformers' save_pretrained does. */
    uint64_t used = 0;
    p->nshards = 1;
    for (size_t i = 0; rc == 0 && i < p->n; ++i) {
        if (used > 0 && used + p->t[i].nbytes > ps->shard_limit) {
            p->nshards++;
            used = 0;
        }
        used += p->t[i].nbytes;
        p->t[i].shard = p->nshards - 1;
    }
    return rc;
}

static void shard_name(const plan *p, int shard, char *buf, size_t cap) {
    snprintf(buf, cap, "model-%05d-of-%05d.safetensors", shard + 1, p->nshards);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s) snprintf(s, a + b + 2, "%s/%s", dir, name);
    return s;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes `text` to dir/name through a temporary file and a rename. */
static aq_status write_text(const char *dir, const char *name, const char *text, aq_err *err) {
    char *path = join(dir, name), *tmp = path ? join(dir, ".aq-synth.tmp") : NULL;
    if (!tmp) {
        free(path);
        return aq_err_set(err, AQ_E_NOMEM, "%s/%s: out of memory", dir, name);
    }
    aq_status st = AQ_OK;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        st = aq_err_set(err, AQ_E_IO, "%s: %s", tmp, strerror(errno));
    } else {
        int ok = fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
        ok = (fclose(fp) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            st = aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    free(path);
    return st;
}

static aq_status write_json(const char *dir, const char *name, json_t *j, aq_err *err) {
    char *text =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (!text) return aq_err_set(err, AQ_E_NOMEM, "%s/%s: cannot build JSON", dir, name);
    aq_status st = write_text(dir, name, text, err);
    free(text);
    return st;
}

static aq_status write_config(const char *dir, const preset *ps, int layers, aq_err *err) {
    json_t *j = json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:b, s:s, s:i, s:s}", "architectures",
        "Qwen2ForCausalLM", "model_type", "qwen2", "hidden_size", ps->hidden, "intermediate_size",
        ps->inter, "num_hidden_layers", layers, "num_attention_heads", ps->heads,
        "num_key_value_heads", ps->kv_heads, "vocab_size", ps->vocab, "rms_norm_eps", 1e-6,
        "rope_theta", 1000000.0, "tie_word_embeddings", 0, "torch_dtype", "bfloat16",
        "max_position_embeddings", ps->max_pos, "hidden_act", "silu");
    return write_json(dir, "config.json", j, err);
}

static aq_status write_index(const char *dir, const plan *p, aq_err *err) {
    json_t *wm = json_object();
    char sn[64];
    for (size_t i = 0; wm && i < p->n; ++i) {
        shard_name(p, p->t[i].shard, sn, sizeof sn);
        json_object_set_new(wm, p->t[i].name, json_string(sn));
    }
    json_t *j = wm ? json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)p->bytes,
                               "weight_map", wm)
                   : NULL;
    return write_json(dir, "model.safetensors.index.json", j, err);
}

/* Fills f[0..n) with elements [off, off+n) of tensor t: the docs/DESIGN.md §7 recipe, or 1 + 0.05 N
 * for norms (small enough to draw sequentially from the start every time). */
static void generate(uint64_t seed, const plan_tensor *t, size_t off, float *f, size_t n) {
    if (t->kind != K_NORM) {
        aq_synth_weights_f32_range(seed, t->name, off, f, n, 0.02f);
        return;
    }
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(seed, t->name));
    for (size_t i = 0; i < off + n; ++i) {
        float v = (float)(1.0 + 0.05 * aq_rng_normal(&r));
        if (i >= off) f[i - off] = v;
    }
}

/* Streams one tensor in CHUNK pieces: memory stays a few MB whatever the tensor size. */
static aq_status stream_tensor(aq_st_writer *w, uint64_t seed, const plan_tensor *t, uint16_t *bf,
                               aq_err *err) {
    size_t n = (size_t)(t->nbytes / 2);
    float *f = malloc((n < CHUNK ? (n ? n : 1) : CHUNK) * sizeof *f);
    if (!f) return aq_err_set(err, AQ_E_NOMEM, "tensor '%s': out of memory", t->name);
    aq_status st = AQ_OK;
    for (size_t off = 0; off < n && st == AQ_OK; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        generate(seed, t, off, f, m);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; ++i)
            bf[i] = aq_f32_to_bf16(f[i]);
        /* safetensors is little-endian; so is every host this tool targets (x86-64, arm64). */
        st = aq_st_writer_data(w, bf, m * sizeof *bf, err);
    }
    free(f);
    return st;
}

static aq_status write_shard(const char *dir, const plan *p, int shard, uint64_t seed, uint16_t *bf,
                             aq_err *err) {
    char sn[64];
    shard_name(p, shard, sn, sizeof sn);
    char *path = join(dir, sn);
    if (!path) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", sn);
    aq_st_writer *w = NULL;
    aq_status st = aq_st_writer_create(path, &w, err);
    free(path);
    for (size_t i = 0; st == AQ_OK && i < p->n; ++i)
        if (p->t[i].shard == shard)
            st =
                aq_st_writer_declare(w, p->t[i].name, AQ_DT_BF16, p->t[i].ndim, p->t[i].shape, err);
    if (st == AQ_OK) st = aq_st_writer_metadata(w, "format", "pt", err);
    for (size_t i = 0; st == AQ_OK && i < p->n; ++i)
        if (p->t[i].shard == shard) st = stream_tensor(w, seed, &p->t[i], bf, err);
    if (st == AQ_OK) return aq_st_writer_finish(w, err);
    aq_st_writer_abort(w);
    return st;
}

/* mkdir -p: creates `dir` and its missing parents. */
static int make_dirs(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return errno = ENAMETOOLONG, -1;
    for (char *p = path + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static aq_status run(const preset *ps, int layers, const char *dir, uint64_t seed, aq_err *err) {
    double t0 = now_s();
    preset eff = *ps;
    eff.layers = layers;
    plan p = {0};
    uint16_t *bf = malloc(CHUNK * sizeof *bf);
    aq_status st = AQ_OK;
    if (!bf || plan_build(&eff, &p) != 0) st = aq_err_set(err, AQ_E_NOMEM, "out of memory");
    if (st == AQ_OK && make_dirs(dir) != 0)
        st = aq_err_set(err, AQ_E_IO, "%s: %s", dir, strerror(errno));
    if (st == AQ_OK) st = write_config(dir, ps, layers, err);
    for (int s = 0; st == AQ_OK && s < p.nshards; ++s) {
        double ts = now_s();
        st = write_shard(dir, &p, s, seed, bf, err);
        char sn[64];
        shard_name(&p, s, sn, sizeof sn);
        if (st == AQ_OK) printf("aq-synth: wrote %s/%s (%.1f s)\n", dir, sn, now_s() - ts);
        fflush(stdout);
    }
    if (st == AQ_OK) st = write_index(dir, &p, err);
    if (st == AQ_OK)
        printf("aq-synth: %s preset, %d layers, seed %" PRIu64 ": %" PRIu64 " parameters, %" PRIu64
               " bytes in %d shards, %.1f s\n",
               ps->name, layers, seed, p.params, p.bytes, p.nshards, now_s() - t0);
    free(p.t);
    free(bf);
    return st;
}

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: aq-synth --preset NAME --out DIR [--seed S] [--layers N] [--help]\n"
        "Writes a deterministic synthetic bf16 model in the Hugging Face Qwen2 layout\n"
        "(config.json, model-XXXXX-of-YYYYY.safetensors, model.safetensors.index.json).\n"
        "  --preset NAME  dream-7b (28 layers, ~15 GB), medium (~500M params), tiny (3 shards)\n"
        "  --out DIR      output directory (created if missing; files are replaced)\n"
        "  --seed S       64-bit seed (default 1); same seed, same bytes\n"
        "  --layers N     override the preset's layer count (1..1024)\n"
        "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-') return -1;
    *v = x;
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"preset", required_argument, 0, 'p'}, {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},   {"layers", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *pname = NULL, *out = NULL;
    uint64_t seed = 1, layers = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        int bad = c == '?' || (c == 's' && parse_u64(optarg, &seed) != 0) ||
                  (c == 'l' && (parse_u64(optarg, &layers) != 0 || layers < 1 || layers > 1024));
        if (bad) {
            if (c != '?') fprintf(stderr, "aq-synth: bad value '%s'\n", optarg);
            usage(stderr);
            return 2;
        }
        if (c == 'p') pname = optarg;
        if (c == 'o') out = optarg;
    }
    const preset *ps = NULL;
    for (size_t i = 0; pname && i < sizeof PRESETS / sizeof PRESETS[0]; ++i)
        if (strcmp(pname, PRESETS[i].name) == 0) ps = &PRESETS[i];
    if (!ps || !out || !*out || optind != argc) {
        fprintf(stderr, "aq-synth: %s\n",
                !ps ? (pname ? "unknown preset (dream-7b, medium, tiny)" : "--preset is required")
                : optind != argc ? "unexpected argument"
                                 : "--out is required");
        usage(stderr);
        return 2;
    }
    aq_err err = {0};
    if (run(ps, layers ? (int)layers : ps->layers, out, seed, &err) != AQ_OK) {
        fprintf(stderr, "aq-synth: %s\n", err.msg);
        return 1;
    }
    return 0;
}
