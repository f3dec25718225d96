/*
 * Unit tests: safetensors parsing/validation (malformed images built in memory), writer round
 * trip, sharded models with an index, and the real TinyStories model when available.
 */
#include <check.h>

#include "aq_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/safetensors.h"

#define LABEL "bad.safetensors"

/* A file image: 8-byte LE length of `json`, `json`, then `data` zero bytes. */
static unsigned char *image(const char *json, size_t data, size_t *size) {
    size_t n = strlen(json);
    *size = 8 + n + data;
    unsigned char *b = calloc(1, *size);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; ++i)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    return b;
}

/* Parses `json` + data and expects `code` with a one-line message naming LABEL and `needle`. */
static void expect_fail(const char *json, size_t data, aq_status code, const char *needle) {
    size_t size;
    unsigned char *b = image(json, data, &size);
    aq_st_file *f = (aq_st_file *)b; /* poison: must be reset to NULL */
    aq_err err = {0};
    aq_status st = aq_st_parse(b, size, LABEL, &f, &err);
    if (getenv("AQ_TEST_VERBOSE")) printf("  [%s] %s\n", aq_status_name(st), err.msg);
    ck_assert_msg(st == code, "status %s for %s: %s", aq_status_name(st), json, err.msg);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strncmp(err.msg, LABEL ": ", strlen(LABEL) + 2) == 0, "msg: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
    ck_assert(strchr(err.msg, '\n') == NULL);
    free(b);
}

static aq_st_file *parse_ok(const char *json, size_t data, unsigned char **keep) {
    size_t size;
    *keep = image(json, data, &size);
    aq_st_file *f = NULL;
    aq_err err = {0};
    aq_status st = aq_st_parse(*keep, size, "ok.safetensors", &f, &err);
    ck_assert_msg(st == AQ_OK, "%s", err.msg);
    return f;
}

START_TEST(test_prefix_errors) {
    aq_err err = {0};
    aq_st_file *f = NULL;
    unsigned char tiny[5] = {0};
    ck_assert_int_eq(aq_st_parse(tiny, 5, LABEL, &f, &err), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, LABEL ": "));
    ck_assert_int_eq(aq_st_parse(NULL, 0, LABEL, &f, &err), AQ_E_FORMAT);
    /* Header length claims more than the file holds / more than 100 MB / less than 2. */
    unsigned char b[16] = {0};
    memcpy(b + 8, "{}      ", 8);
    b[0] = 0xff;
    b[1] = 0x03;
    ck_assert_int_eq(aq_st_parse(b, sizeof b, LABEL, &f, &err), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "past the end"));
    memset(b, 0, 8);
    uint64_t big = AQ_ST_MAX_HEADER + 1ull;
    for (int i = 0; i < 8; ++i)
        b[i] = (unsigned char)(big >> (8 * i));
    ck_assert_int_eq(aq_st_parse(b, sizeof b, LABEL, &f, &err), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "limit"));
    memset(b, 0xff, 8); /* 2^64-1: no overflow in 8 + N */
    ck_assert_int_eq(aq_st_parse(b, sizeof b, LABEL, &f, &err), AQ_E_FORMAT);
    memset(b, 0, 8);
    b[0] = 1;
    ck_assert_int_eq(aq_st_parse(b, sizeof b, LABEL, &f, &err), AQ_E_FORMAT);
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(test_json_errors) {
    expect_fail("{\"a\": ", 0, AQ_E_FORMAT, "invalid header JSON");
    expect_fail("{\"w\xff\": 1}", 0, AQ_E_FORMAT, "invalid header JSON");
    expect_fail("[1, 2]", 0, AQ_E_FORMAT, "'{'");
    expect_fail(" {}", 0, AQ_E_FORMAT, "'{'");
    expect_fail("{} x", 0, AQ_E_FORMAT, "invalid header JSON");
    expect_fail("{\"dup.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"dup.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, AQ_E_FORMAT, "dup.w");
    expect_fail("{\"__metadata__\":{\"k\":1}}", 0, AQ_E_FORMAT, "__metadata__");
    expect_fail("{\"__metadata__\":[]}", 0, AQ_E_FORMAT, "__metadata__");
    expect_fail("{\"t.notobj\": 3}", 0, AQ_E_FORMAT, "t.notobj");
}
END_TEST

#define ENTRY(name, dtype, shape, offs)                                                            \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

START_TEST(test_entry_errors) {
    expect_fail("{" ENTRY("t.i64", "I64", "[2]", "[0,16]") "}", 16, AQ_E_UNSUPPORTED, "t.i64");
    expect_fail("{" ENTRY("t.q9", "Q9", "[2]", "[0,16]") "}", 16, AQ_E_FORMAT, "t.q9");
    expect_fail("{\"t.nodt\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AQ_E_FORMAT, "t.nodt");
    expect_fail("{" ENTRY("t.neg", "F32", "[-1]", "[0,4]") "}", 4, AQ_E_FORMAT, "t.neg");
    expect_fail("{" ENTRY("t.real", "F32", "[1.5]", "[0,4]") "}", 4, AQ_E_FORMAT, "t.real");
    expect_fail("{" ENTRY("t.str", "F32", "[\"1\"]", "[0,4]") "}", 4, AQ_E_FORMAT, "t.str");
    expect_fail("{" ENTRY("t.shp", "F32", "3", "[0,4]") "}", 4, AQ_E_FORMAT, "t.shp");
    expect_fail("{" ENTRY("t.dims", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, AQ_E_UNSUPPORTED,
                "t.dims");
    expect_fail("{" ENTRY("t.ovf", "F32", "[4294967296,4294967296]", "[0,4]") "}", 4, AQ_E_FORMAT,
                "t.ovf");
    expect_fail("{" ENTRY("t.ovf2", "F32", "[4611686018427387904]", "[0,4]") "}", 4, AQ_E_FORMAT,
                "t.ovf2");
    expect_fail("{" ENTRY("t.back", "F32", "[1]", "[100,50]") "}", 100, AQ_E_FORMAT,
                "'t.back': data_offsets [100, 50] end before begin");
    expect_fail("{" ENTRY("t.oob", "F32", "[2]", "[0,8]") "}", 4, AQ_E_FORMAT, "t.oob");
    expect_fail("{" ENTRY("t.size", "F32", "[3]", "[0,8]") "}", 8, AQ_E_FORMAT, "t.size");
    expect_fail("{" ENTRY("t.offs", "F32", "[1]", "[0]") "}", 4, AQ_E_FORMAT, "t.offs");
    expect_fail("{" ENTRY("t.offn", "F32", "[1]", "[-4,0]") "}", 4, AQ_E_FORMAT, "t.offn");
}
END_TEST

START_TEST(test_layout_errors) {
    expect_fail(
        "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("t.overlap", "F32", "[1]", "[4,8]") "}", 8,
        AQ_E_FORMAT, "t.overlap");
    expect_fail(
        "{" ENTRY("a", "F32", "[1]", "[0,4]") "," ENTRY("t.gap", "F32", "[1]", "[8,12]") "}", 12,
        AQ_E_FORMAT, "t.gap");
    expect_fail("{" ENTRY("t.first", "F32", "[1]", "[4,8]") "}", 8, AQ_E_FORMAT, "t.first");
    expect_fail("{" ENTRY("t.tail", "F32", "[1]", "[0,4]") "}", 6, AQ_E_FORMAT, "t.tail");
    expect_fail("{}", 4, AQ_E_FORMAT, "no tensor");
    /* A valid layout with one unsupported dtype: layout errors take precedence. */
    expect_fail(
        "{" ENTRY("x", "I64", "[1]", "[0,8]") "," ENTRY("t.gap2", "F32", "[1]", "[12,16]") "}", 16,
        AQ_E_FORMAT, "t.gap2");
}
END_TEST

START_TEST(test_valid_cases) {
    unsigned char *b;
    /* Header order differs from offset order; 0-d, 0-sized and padded header. */
    aq_st_file *f = parse_ok(
        "{\"__metadata__\":{\"format\":\"pt\",\"tied\":\"w\",\"w\":\"s\"}," ENTRY(
            "w", "BF16", "[2,3]",
            "[4,16]") "," ENTRY("s", "F32", "[]",
                                "[0,4]") "," ENTRY("e", "F16", "[0,7]",
                                                   "[16,16]") "," ENTRY("e2", "F32", "[5,0]",
                                                                        "[16,16]") "}      ",
        16, &b);
    ck_assert_uint_eq(aq_st_count(f), 4);
    const aq_tensor *t0 = aq_st_tensor(f, 0), *t1 = aq_st_tensor(f, 1);
    ck_assert_str_eq(t0->name, "s");
    ck_assert_int_eq(t0->ndim, 0);
    ck_assert_uint_eq(t0->numel, 1);
    ck_assert_uint_eq(t0->nbytes, 4);
    ck_assert_str_eq(t1->name, "w");
    ck_assert_int_eq(t1->dtype, AQ_DT_BF16);
    ck_assert_int_eq(t1->ndim, 2);
    ck_assert_int_eq(t1->shape[1], 3);
    ck_assert_uint_eq(t1->numel, 6);
    uint64_t hlen;
    memcpy(&hlen, b, 8); /* little-endian host */
    ck_assert_ptr_eq(t1->data, b + 8 + hlen + 4);
    ck_assert_str_eq(t1->file, "ok.safetensors");
    ck_assert_uint_eq(aq_st_tensor(f, 2)->numel, 0);
    ck_assert_ptr_null(aq_st_tensor(f, 4));
    /* Only "tied" -> "w" is an alias: "format" names nothing, "w" is stored. */
    ck_assert_uint_eq(aq_st_alias_count(f), 1);
    const char *n, *tg;
    aq_st_alias(f, 0, &n, &tg);
    ck_assert_str_eq(n, "tied");
    ck_assert_str_eq(tg, "w");
    aq_st_close(f);
    free(b);
    f = parse_ok("{}", 0, &b);
    ck_assert_uint_eq(aq_st_count(f), 0);
    aq_st_close(f);
    free(b);
    aq_st_close(NULL);
}
END_TEST

/* ---- files ------------------------------------------------------------------------ */

static char *tmpdir(void) {
    char tmpl[] = "/tmp/aq-st-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

static char *path_in(const char *dir, const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes dir/file with F32 tensors names[i] of shape [i+1], values i*10+k. */
static void write_shard(const char *dir, const char *file, const char **names, int n) {
    char *p = path_in(dir, file);
    aq_err err = {0};
    aq_st_writer *w = NULL;
    ck_assert_int_eq(aq_st_writer_create(p, &w, &err), AQ_OK);
    for (int i = 0; i < n; ++i) {
        int64_t shape[1] = {i + 1};
        ck_assert_int_eq(aq_st_writer_declare(w, names[i], AQ_DT_F32, 1, shape, &err), AQ_OK);
    }
    for (int i = 0; i < n; ++i)
        for (int k = 0; k <= i; ++k) {
            float v = (float)(i * 10 + k);
            ck_assert_int_eq(aq_st_writer_data(w, &v, sizeof v, &err), AQ_OK);
        }
    ck_assert_msg(aq_st_writer_finish(w, &err) == AQ_OK, "%s", err.msg);
    free(p);
}

static void write_file(const char *dir, const char *file, const char *text) {
    char *p = path_in(dir, file);
    FILE *fp = fopen(p, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    free(p);
}

START_TEST(test_writer_round_trip) {
    char *dir = tmpdir();
    char *p = path_in(dir, "model.safetensors");
    aq_err err = {0};
    aq_st_writer *w = NULL;
    ck_assert_int_eq(aq_st_writer_create(p, &w, &err), AQ_OK);
    int64_t s2[2] = {2, 3}, s0[1] = {0};
    ck_assert_int_eq(aq_st_writer_declare(w, "lm_head.weight", AQ_DT_BF16, 2, s2, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_declare(w, "scalar", AQ_DT_F32, 0, NULL, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_declare(w, "empty", AQ_DT_F16, 1, s0, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_declare(w, "scalar", AQ_DT_F32, 0, NULL, &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_st_writer_metadata(w, "model.embed_tokens.weight", "lm_head.weight", &err),
                     AQ_OK);
    const uint16_t bf[6] = {0x3f80, 0x4000, 0xbf80, 0, 0x8000, 0x7f80};
    const float sc = 3.5f;
    ck_assert_int_eq(aq_st_writer_data(w, bf, 5, &err), AQ_OK); /* split writes are fine */
    ck_assert_int_eq(aq_st_writer_data(w, (const char *)bf + 5, 7, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_data(w, &sc, 4, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_finish(w, &err), AQ_OK);

    aq_st_file *f = NULL;
    ck_assert_msg(aq_st_open(p, &f, &err) == AQ_OK, "%s", err.msg);
    ck_assert_uint_eq(aq_st_count(f), 3);
    const aq_tensor *t = aq_st_tensor(f, 0);
    ck_assert_str_eq(t->name, "lm_head.weight");
    ck_assert_str_eq(t->file, p);
    ck_assert(memcmp(t->data, bf, sizeof bf) == 0);
    ck_assert_uint_eq((uintptr_t)t->data % 8, 0); /* header padded to 8 bytes */
    ck_assert_uint_eq(aq_st_alias_count(f), 1);
    aq_st_close(f);

    aq_checkpoint *m = NULL;
    ck_assert_msg(aq_checkpoint_open(dir, &m, &err) == AQ_OK, "%s", err.msg);
    ck_assert_uint_eq(aq_checkpoint_count(m), 3);
    ck_assert_str_eq(aq_checkpoint_tensor(m, 0)->name, "empty"); /* sorted by name */
    ck_assert_str_eq(aq_checkpoint_find(m, "model.embed_tokens.weight")->name, "lm_head.weight");
    ck_assert_ptr_null(aq_checkpoint_find(m, "nope"));
    ck_assert_ptr_null(aq_checkpoint_config_json(m));
    ck_assert_str_eq(aq_checkpoint_architecture(m), "");
    float v;
    memcpy(&v, aq_checkpoint_find(m, "scalar")->data, 4);
    ck_assert(v == 3.5f);
    aq_checkpoint_close(m);

    /* Short data: finish fails and leaves neither the file nor its temporary. */
    char *q = path_in(dir, "short.safetensors");
    ck_assert_int_eq(aq_st_writer_create(q, &w, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_declare(w, "x", AQ_DT_F32, 1, s2, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_data(w, bf, 4, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_finish(w, &err), AQ_E_VALUE);
    ck_assert_int_eq(access(q, F_OK), -1);
    /* Too much data is refused at once. */
    ck_assert_int_eq(aq_st_writer_create(q, &w, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_declare(w, "x", AQ_DT_F32, 0, NULL, &err), AQ_OK);
    ck_assert_int_eq(aq_st_writer_data(w, bf, 8, &err), AQ_E_VALUE);
    aq_st_writer_abort(w);
    ck_assert_int_eq(access(q, F_OK), -1);
    free(q);
    free(p);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_open_errors) {
    aq_err err = {0};
    aq_st_file *f = NULL;
    aq_checkpoint *m = NULL;
    ck_assert_int_eq(aq_st_open("/nonexistent/x.safetensors", &f, &err), AQ_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.safetensors: No such file"));
    ck_assert_int_eq(aq_checkpoint_open("/nonexistent", &m, &err), AQ_E_IO);
    char *dir = tmpdir();
    ck_assert_int_eq(aq_st_open(dir, &f, &err), AQ_E_IO);
    ck_assert_int_eq(aq_checkpoint_open(dir, &m, &err), AQ_E_IO); /* empty directory */
    ck_assert_ptr_nonnull(strstr(err.msg, "model.safetensors"));
    write_file(dir, "model.safetensors", "");
    ck_assert_int_eq(aq_checkpoint_open(dir, &m, &err), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "model.safetensors: "));
    const char *names[] = {"a"};
    write_shard(dir, "model.safetensors", names, 1);
    write_file(dir, "config.json", "{\"architectures\": [");
    ck_assert_int_eq(aq_checkpoint_open(dir, &m, &err), AQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "config.json"));
    write_file(dir, "config.json", "{\"model_type\": \"qwen2\"}");
    ck_assert_int_eq(aq_checkpoint_open(dir, &m, &err), AQ_OK);
    ck_assert_str_eq(aq_checkpoint_architecture(m), "qwen2");
    aq_checkpoint_close(m);
    ck_assert_ptr_null(m = NULL);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- sharded models ----------------------------------------------------------------- */

#define S1 "model-00001-of-00003.safetensors"
#define S2 "model-00002-of-00003.safetensors"
#define S3 "model-00003-of-00003.safetensors"

static aq_status open_sharded(const char *index, const char **n1, int c1, const char **n2, int c2,
                              aq_err *err, aq_checkpoint **m, char **dir) {
    *dir = tmpdir();
    write_shard(*dir, S1, n1, c1);
    if (n2) write_shard(*dir, S2, n2, c2);
    write_file(*dir, "model.safetensors.index.json", index);
    write_file(*dir, "config.json", "{\"architectures\": [\"Qwen2ForCausalLM\"]}");
    return aq_checkpoint_open(*dir, m, err);
}

START_TEST(test_sharded_ok) {
    const char *a[] = {"model.layers.0.w", "model.embed_tokens.weight"}, *b[] = {"lm_head.weight"};
    aq_err err = {0};
    aq_checkpoint *m = NULL;
    char *dir;
    aq_status st =
        open_sharded("{\"metadata\":{\"total_size\":12},\"weight_map\":{"
                     "\"model.layers.0.w\":\"" S1 "\",\"model.embed_tokens.weight\":\"" S1
                     "\",\"lm_head.weight\":\"" S2 "\"}}",
                     a, 2, b, 1, &err, &m, &dir);
    ck_assert_msg(st == AQ_OK, "%s", err.msg);
    ck_assert_uint_eq(aq_checkpoint_count(m), 3);
    ck_assert_str_eq(aq_checkpoint_tensor(m, 0)->name, "lm_head.weight");
    ck_assert_str_eq(aq_checkpoint_tensor(m, 2)->name, "model.layers.0.w");
    const aq_tensor *t = aq_checkpoint_find(m, "lm_head.weight");
    ck_assert_ptr_nonnull(strstr(t->file, S2));
    float v;
    memcpy(&v, (const char *)aq_checkpoint_find(m, "model.embed_tokens.weight")->data + 4, 4);
    ck_assert(v == 11.0f);
    ck_assert_str_eq(aq_checkpoint_architecture(m), "Qwen2ForCausalLM");
    ck_assert_ptr_nonnull(aq_checkpoint_config_json(m));
    aq_checkpoint_close(m);
    rm_rf(dir);
    free(dir);
}
END_TEST

static void expect_sharded_fail(const char *index, const char **n1, int c1, const char **n2, int c2,
                                aq_status code, const char *needle) {
    aq_err err = {0};
    aq_checkpoint *m = (aq_checkpoint *)&err;
    char *dir;
    aq_status st = open_sharded(index, n1, c1, n2, c2, &err, &m, &dir);
    if (getenv("AQ_TEST_VERBOSE")) printf("  [%s] %s\n", aq_status_name(st), err.msg);
    ck_assert_msg(st == code, "status %s: %s", aq_status_name(st), err.msg);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
    ck_assert_msg(strstr(err.msg, "model.safetensors.index.json: ") != NULL, "%s", err.msg);
    rm_rf(dir);
    free(dir);
}

START_TEST(test_sharded_errors) {
    const char *a[] = {"x", "y"}, *b[] = {"z"}, *dup[] = {"y", "z"};
    expect_sharded_fail(
        "{\"weight_map\":{\"x\":\"" S1 "\",\"y\":\"" S1 "\",\"z\":\"" S2 "\",\"w\":\"" S3 "\"}}", a,
        2, b, 1, AQ_E_IO,
        "model.safetensors.index.json: shard '" S3 "' (tensor 'w'): No such file or directory");
    expect_sharded_fail("{\"weight_map\":{\"x\":\"" S1 "\",\"y\":\"" S1 "\",\"z\":\"" S2 "\"}}", a,
                        2, dup, 2, AQ_E_FORMAT, "tensor 'y' is stored in two shards");
    expect_sharded_fail("{\"weight_map\":{\"x\":\"" S1 "\",\"z\":\"" S2 "\"}}", a, 2, b, 1,
                        AQ_E_FORMAT,
                        "tensor 'y' stored in shard '" S1 "' is absent from weight_map");
    expect_sharded_fail("{\"weight_map\":{\"x\":\"" S1 "\",\"y\":\"" S2 "\",\"z\":\"" S2 "\"}}", a,
                        2, b, 1, AQ_E_FORMAT, "tensor 'y'");
    expect_sharded_fail("{\"weight_map\":{\"x\":\"" S1 "\",\"y\":\"" S1 "\",\"z\":\"" S2
                        "\",\"q\":\"" S2 "\"}}",
                        a, 2, b, 1, AQ_E_FORMAT, "tensor 'q'");
    expect_sharded_fail("{\"weight_map\":{\"x\":\"../" S1 "\"}}", a, 2, NULL, 0, AQ_E_FORMAT,
                        "tensor 'x'");
    expect_sharded_fail("{\"weight_map\":[]}", a, 2, NULL, 0, AQ_E_FORMAT, "weight_map");
    expect_sharded_fail("{\"weight_map\":", a, 2, NULL, 0, AQ_E_FORMAT, "invalid JSON");
}
END_TEST

/* ---- the real model ----------------------------------------------------------------- */

/* The real model's directory (main() checks it is there before running this case). */
static char g_model[1024];

START_TEST(test_real_model) {
    char file[1100];
    snprintf(file, sizeof file, "%s/model.safetensors", g_model);
    const char *paths[2] = {g_model, file};
    for (int k = 0; k < 2; ++k) {
        aq_err err = {0};
        aq_checkpoint *m = NULL;
        ck_assert_msg(aq_checkpoint_open(paths[k], &m, &err) == AQ_OK, "%s", err.msg);
        ck_assert_uint_eq(aq_checkpoint_count(m), 20);
        for (size_t i = 1; i < aq_checkpoint_count(m); ++i)
            ck_assert(
                strcmp(aq_checkpoint_tensor(m, i - 1)->name, aq_checkpoint_tensor(m, i)->name) < 0);
        const aq_tensor *e = aq_checkpoint_find(m, "model.embed_tokens.weight");
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->name, "lm_head.weight");
        ck_assert_int_eq(e->dtype, AQ_DT_F32);
        ck_assert_int_eq(e->shape[0], 2048);
        ck_assert_int_eq(e->shape[1], 128);
        ck_assert_uint_eq(aq_checkpoint_alias_count(m), 1);
        ck_assert_str_eq(aq_checkpoint_architecture(m), "LlamaForCausalLM");
        ck_assert_ptr_nonnull(aq_checkpoint_config_json(m));
        aq_checkpoint_close(m);
    }
}
END_TEST

/* Without an argument the cases on generated files; "real_model" (its own CTest test) the
 * real model, skipped (77) when it is not there. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "real_model") != 0)
        return aq_check_unknown_case("test_io_safetensors", argv[1]);
    if (argc > 1 && !aq_check_real_model(g_model, sizeof g_model))
        return aq_check_skip("test_io_safetensors real_model", "the real model is missing");
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create(argc > 1 ? "real_model" : "core");
    if (argc > 1) {
        tcase_add_test(tc, test_real_model);
    } else {
        tcase_add_test(tc, test_prefix_errors);
        tcase_add_test(tc, test_json_errors);
        tcase_add_test(tc, test_entry_errors);
        tcase_add_test(tc, test_layout_errors);
        tcase_add_test(tc, test_valid_cases);
        tcase_add_test(tc, test_writer_round_trip);
        tcase_add_test(tc, test_open_errors);
        tcase_add_test(tc, test_sharded_ok);
        tcase_add_test(tc, test_sharded_errors);
    }
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
