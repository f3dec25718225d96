/* Shared runner for the Check unit tests: runs a suite, prints Check's summary line and
 * turns failures into the exit status CTest reads. */
#ifndef AQ_CHECK_H
#define AQ_CHECK_H

#include <check.h>
#include <stdlib.h>

static inline int aq_check_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* AQ_CHECK_H */
