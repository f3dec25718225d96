/* The SIMD kernel set a unit test compares against the scalar reference, named by the test
 * program's first argument ("avx2", "avx512"); CTest runs one test per set (CMakeLists.txt).
 *
 *   AQ_REQUIRE_SIMD   sets the suite must test here (e.g. "avx2;avx512", from CMake's
 *                     -DAQ_REQUIRE_SIMD or the environment; scripts/test.sh sets it to what
 *                     the CPU has): a named set this host cannot run FAILS instead of skipping.
 *   AQ_TEST_HIDE_SIMD sets to treat as absent (same syntax), to exercise the two paths above
 *                     on a CPU that has them.  Test-only: the library never reads it. */
#ifndef AQ_CHECK_SIMD_H
#define AQ_CHECK_SIMD_H

#include "aq/quant.h"
#include "aq_check.h"

/* The kernel sets besides the scalar reference, by aq_kernels_select() number. */
static const struct {
    const char *name;
    int simd;
} aq_check_simd_sets[] = {{"avx2", 2}, {"avx512", 3}};
enum { AQ_CHECK_N_SIMD = (int)(sizeof aq_check_simd_sets / sizeof aq_check_simd_sets[0]) };

/* aq_check_listed() : does `list` (names separated by ';', ',' or spaces) hold `name`? */
static inline int aq_check_listed(const char *list, const char *name) {
    const size_t n = strlen(name);
    for (const char *p = list ? list : ""; *p;) {
        const size_t len = strcspn(p, ";, ");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len;
        p += strspn(p, ";, ");
    }
    return 0;
}

/* aq_check_require_valid() : every name in AQ_REQUIRE_SIMD is a kernel set (a misspelt
 * requirement would otherwise require nothing).  @return : 1, or 0 after printing the name. */
static inline int aq_check_require_valid(const char *list) {
    for (const char *p = list ? list : ""; *p;) {
        const size_t len = strcspn(p, ";, ");
        int known = 0;
        for (int i = 0; i < AQ_CHECK_N_SIMD; ++i)
            known |= strlen(aq_check_simd_sets[i].name) == len &&
                     strncmp(p, aq_check_simd_sets[i].name, len) == 0;
        if (len && !known) {
            fprintf(stderr, "AQ_REQUIRE_SIMD: unknown kernel set '%.*s' (avx2, avx512)\n", (int)len,
                    p);
            return 0;
        }
        p += len;
        p += strspn(p, ";, ");
    }
    return 1;
}

/* aq_check_simd_set() : the kernel set named `name`, checked against the CPU.
 * @return : 0 with *k set when it runs here; otherwise the status main() must return, after
 *           printing why: AQ_CHECK_SKIP (77) when the set is absent, EXIT_FAILURE when it is
 *           absent but AQ_REQUIRE_SIMD names it, when the name is unknown, or when
 *           AQ_REQUIRE_SIMD is malformed. */
static inline int aq_check_simd_set(const char *prog, const char *name, const aq_kernels **k) {
    const char *require = getenv("AQ_REQUIRE_SIMD");
    if (!aq_check_require_valid(require)) return EXIT_FAILURE;
    int simd = -1;
    for (int i = 0; i < AQ_CHECK_N_SIMD; ++i)
        if (strcmp(name, aq_check_simd_sets[i].name) == 0) simd = aq_check_simd_sets[i].simd;
    if (simd < 0) return aq_check_unknown_case(prog, name);
    const int hidden = aq_check_listed(getenv("AQ_TEST_HIDE_SIMD"), name);
    *k = hidden ? NULL : aq_kernels_select(simd);
    if (*k) return 0;
    const char *why = hidden ? "hidden by AQ_TEST_HIDE_SIMD" : "this CPU lacks it";
    if (aq_check_listed(require, name)) {
        printf("FAILED %s %s: kernel set %s cannot be tested (%s) but AQ_REQUIRE_SIMD='%s' "
               "requires it\n",
               prog, name, name, why, require);
        return EXIT_FAILURE;
    }
    char what[128];
    snprintf(what, sizeof what, "%s %s", prog, name);
    char reason[160];
    snprintf(reason, sizeof reason, "kernel set %s not testable: %s", name, why);
    return aq_check_skip(what, reason);
}

#endif /* AQ_CHECK_SIMD_H */
