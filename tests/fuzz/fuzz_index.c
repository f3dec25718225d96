/*
 * aq-mpi — libFuzzer harness: aq_checkpoint_open() on a sharded model directory.
 *
 * The input is split at its first two NUL bytes into
 *   [model.safetensors.index.json] \0 [config.json] \0 [model-00002-of-00002.safetensors]
 * (a missing part gets a fixed default: no config.json, a valid second shard).  The first
 * shard, model-00001-of-00002.safetensors, is fixed: "a.weight" F32 [2, 2] and the alias
 * "tied.weight" -> "a.weight".  Everything the model hands out is then touched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/safetensors.h"
#include "fuzz_util.h"

#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"

/* Little-endian header length + JSON header + data, as written by the reference. */
static const char SHARD1_HDR[] =
    "{\"__metadata__\":{\"tied.weight\":\"a.weight\"},"
    "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
static const char SHARD2_HDR[] =
    "{\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
    "\"c.bias\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[6,8]}}";

static int write_shard(const char *dir, const char *name, const char *hdr, size_t data_bytes) {
    size_t n = strlen(hdr), total = 8 + n + data_bytes;
    uint8_t *b = calloc(total, 1);
    if (!b) return -1;
    for (int i = 0; i < 8; ++i)
        b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, hdr, n);
    int rc = fuzz_write(dir, name, b, total);
    free(b);
    return rc;
}

static const char *setup(void) {
    static int done; /* once per process; the harness is single-threaded */
    const char *dir = fuzz_tmpdir();
    if (!done && write_shard(dir, SHARD1, SHARD1_HDR, 16) != 0) abort();
    done = 1;
    return dir;
}

/* Splits at the next NUL: *part and *n get the piece, returns what follows (NULL at the end). */
static const uint8_t *next_part(const uint8_t *p, const uint8_t *end, const uint8_t **part,
                                size_t *n) {
    *part = p;
    if (!p) {
        *n = 0;
        return NULL;
    }
    const uint8_t *z = memchr(p, 0, (size_t)(end - p));
    *n = (size_t)((z ? z : end) - p);
    return z ? z + 1 : NULL;
}

static void touch_model(const aq_checkpoint *m) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < aq_checkpoint_count(m); ++i) {
        const aq_tensor *t = aq_checkpoint_tensor(m, i);
        if (aq_checkpoint_find(m, t->name) != t) abort();
        if (t->nbytes) sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    for (size_t i = 0; i < aq_checkpoint_alias_count(m); ++i) {
        const char *n, *tg;
        aq_checkpoint_alias(m, i, &n, &tg);
        (void)aq_checkpoint_find(m, n);
    }
    (void)aq_checkpoint_config_json(m);
    (void)aq_checkpoint_architecture(m);
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = setup();
    const uint8_t *end = data + size, *idx, *cfg, *sh2;
    size_t nidx, ncfg, nsh2;
    const uint8_t *rest = next_part(data, end, &idx, &nidx);
    rest = next_part(rest, end, &cfg, &ncfg);
    sh2 = rest;
    nsh2 = rest ? (size_t)(end - rest) : 0;
    char p[512];
    fuzz_path(p, sizeof p, dir, "config.json");
    unlink(p);
    if (fuzz_write(dir, "model.safetensors.index.json", idx, nidx) != 0) abort();
    if (cfg && fuzz_write(dir, "config.json", cfg, ncfg) != 0) abort();
    if (sh2 ? fuzz_write(dir, SHARD2, sh2, nsh2) : write_shard(dir, SHARD2, SHARD2_HDR, 8)) abort();
    aq_err err = {0};
    aq_checkpoint *m = NULL;
    if (aq_checkpoint_open(dir, &m, &err) == AQ_OK) {
        touch_model(m);
        aq_checkpoint_close(m);
    } else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
