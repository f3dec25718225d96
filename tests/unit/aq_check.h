/* Shared runner for the Check unit tests: runs a suite, prints Check's summary line and
 * turns failures into the exit status CTest reads.
 *
 * A case that needs something a host may lack (a SIMD kernel set, the real model in
 * $AQ_SHARED) lives in a suite of its own that the test program runs when its first argument
 * names it ("test_quant_simd avx2"); CMakeLists.txt registers each such run as its own CTest
 * test (unit.<file>.<case>, SKIP_RETURN_CODE 77).  When the thing is missing the program
 * prints why and exits AQ_CHECK_SKIP, which CTest reports as "skipped", never as passed. */
#ifndef AQ_CHECK_H
#define AQ_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CTest's SKIP_RETURN_CODE for every unit test (CMakeLists.txt). */
enum { AQ_CHECK_SKIP = 77 };

static inline int aq_check_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* aq_check_skip() : says why `what` cannot be tested on this host.
 * @return : AQ_CHECK_SKIP, the exit status of a test that did not run. */
static inline int aq_check_skip(const char *what, const char *why) {
    printf("SKIPPED %s: %s\n", what, why);
    fflush(stdout);
    return AQ_CHECK_SKIP;
}

/* aq_check_unknown_case() : a test program was given a case name it does not have.
 * @return : EXIT_FAILURE (a misspelt case in CMakeLists.txt must not look skipped). */
static inline int aq_check_unknown_case(const char *prog, const char *name) {
    fprintf(stderr, "%s: unknown case '%s'\n", prog, name);
    return EXIT_FAILURE;
}

/* aq_check_real_model() : writes the directory of the real TinyStories Llama model,
 * $AQ_SHARED/models/tinystories-656k-llama, into `dir` (`cap` bytes).  AQ_SHARED is set by
 * CTest (CMakeLists.txt); without it, AQ_SHARED_DEFAULT (the source tree's ../shared, a
 * compile definition of the unit tests).
 * @return : 1 when its model.safetensors is readable, else 0 after printing which file is
 *           missing (the caller then returns aq_check_skip()'s status). */
static inline int aq_check_real_model(char *dir, size_t cap) {
    const char *shared = getenv("AQ_SHARED");
#ifdef AQ_SHARED_DEFAULT
    if (!shared || !*shared) shared = AQ_SHARED_DEFAULT;
#endif
    if (!shared || !*shared) {
        printf("real model: AQ_SHARED is not set\n");
        return 0;
    }
    snprintf(dir, cap, "%s/models/tinystories-656k-llama", shared);
    char file[1200];
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    if (access(file, R_OK) != 0) {
        printf("real model: %s is not readable (set AQ_SHARED to the shared directory)\n", file);
        return 0;
    }
    return 1;
}

#endif /* AQ_CHECK_H */
