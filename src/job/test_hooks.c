/* Test hooks of the job: delays that let tests catch a run mid-way (declared in
 * job_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "job_internal.h"

void aq_job_test_delay(const char *var, long max_ms) {
    const char *ms = getenv(var);
    const long n = ms ? strtol(ms, NULL, 10) : 0;
    struct timespec left = {n / 1000, (n % 1000) * 1000000L};
    while (n > 0 && n < max_ms && nanosleep(&left, &left) != 0 && errno == EINTR)
        ; /* the whole delay, signals or not */
}
