/*
 * aq-mpi — libFuzzer harness: the job configuration parser.  The input is written to a
 * file and loaded with aq_config_load(); when that succeeds, aq_config_check() and
 * aq_config_to_ini() run and the INI text must load again (round trip).  The first line of
 * the input is also tried as a --set override.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/config.h"
#include "fuzz_util.h"

static void check_failure(aq_status st, const aq_err *err) {
    if (st != AQ_OK && (err->msg[0] == '\0' || strchr(err->msg, '\n'))) abort();
}

static void round_trip(const aq_config *c, const char *dir) {
    char *ini = aq_config_to_ini(c);
    if (!ini) return;
    if (fuzz_write(dir, "again.ini", ini, strlen(ini)) != 0) abort();
    free(ini);
    char p[512];
    fuzz_path(p, sizeof p, dir, "again.ini");
    aq_config d;
    aq_config_defaults(&d);
    aq_err err = {0};
    if (aq_config_load(&d, p, &err) != AQ_OK) {
        fprintf(stderr, "round trip failed: %s\n", err.msg);
        abort();
    }
}

static void try_set(const uint8_t *data, size_t size) {
    size_t n = 0;
    while (n < size && n < 512 && data[n] != '\n' && data[n] != 0)
        ++n;
    char line[513];
    memcpy(line, data, n);
    line[n] = '\0';
    aq_config c;
    aq_config_defaults(&c);
    aq_err err = {0};
    check_failure(aq_config_set(&c, line, &err), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_tmpdir();
    if (fuzz_write(dir, "job.ini", data, size) != 0) abort();
    char p[512];
    fuzz_path(p, sizeof p, dir, "job.ini");
    aq_config c;
    aq_config_defaults(&c);
    aq_err err = {0};
    aq_status st = aq_config_load(&c, p, &err);
    check_failure(st, &err);
    if (st == AQ_OK) {
        aq_err e2 = {0};
        check_failure(aq_config_check(&c, &e2), &e2);
        round_trip(&c, dir);
    }
    try_set(data, size);
    return 0;
}
