/*
 * aq-mpi — helpers shared by the libFuzzer harnesses (tests/fuzz).  Not installed.
 */
#ifndef AQ_FUZZ_UTIL_H
#define AQ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*! fuzz_tmpdir() : a private directory made once per process (mkdtemp under TMPDIR or
 *  /tmp) and removed at exit.  @return : its path; aborts when it cannot be made. */
const char *fuzz_tmpdir(void);

/*! fuzz_write() : writes buf[0..n) to dir/name (truncating).  @return : 0 or -1. */
int fuzz_write(const char *dir, const char *name, const void *buf, size_t n);

/*! fuzz_path() : dir/name into out[cap]. */
void fuzz_path(char *out, size_t cap, const char *dir, const char *name);

#endif /* AQ_FUZZ_UTIL_H */
