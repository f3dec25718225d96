/*
 * aq-mpi — libFuzzer harness: aq_st_parse() on an arbitrary file image, then every
 * accessor on what it accepted (each tensor's bytes are touched, so a layout bug that
 * lets a tensor point outside the buffer shows up under ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/safetensors.h"

static void touch(const aq_tensor *t) {
    volatile uint8_t sink = 0;
    const uint8_t *p = t->data;
    if (t->nbytes) sink ^= p[0] ^ p[t->nbytes - 1];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so reading one past the end is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    aq_err err = {0};
    aq_st_file *f = NULL;
    if (aq_st_parse(buf, size, "fuzz.safetensors", &f, &err) == AQ_OK) {
        for (size_t i = 0; i < aq_st_count(f); ++i)
            touch(aq_st_tensor(f, i));
        for (size_t i = 0; i < aq_st_alias_count(f); ++i) {
            const char *n, *t;
            aq_st_alias(f, i, &n, &t);
            if (!n || !t) abort();
        }
        aq_st_close(f);
    } else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
        abort(); /* every failure carries a one-line message */
    }
    free(buf);
    return 0;
}
