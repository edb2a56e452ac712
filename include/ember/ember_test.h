/*
 * ember_test.h — fault injection hooks compiled into libember.
 *
 * SQLite-style failure testing: a test tells ember to fail the Nth host
 * allocation or the Nth CUDA driver call, runs a scenario, and checks that
 * the scenario failed cleanly (a status, no leak, runtime still usable).
 * Looping N = 1, 2, ... until the scenario succeeds covers every failure
 * point. The hooks cost one relaxed atomic load per call when disarmed.
 */
#ifndef EMBER_EMBER_TEST_H
#define EMBER_EMBER_TEST_H

#include "ember.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ember_fault_site {
    EMBER_FAULT_ALLOC = 0,   /* every host allocation ember makes */
    EMBER_FAULT_DRIVER,      /* every CUDA driver call (fails as CUDA_ERROR_OUT_OF_MEMORY)
                                and each libNVVM call of a compilation (as
                                NVVM_ERROR_OUT_OF_MEMORY) */
    EMBER_FAULT_SITE_COUNT
} ember_fault_site;

/* Arms `site` to fail its `n`-th call from now (n >= 1), once. n = 0 disarms. */
EMBER_API void ember_fault_fail_at(ember_fault_site site, long n);

/* How many calls `site` has seen since it was last armed. */
EMBER_API long ember_fault_calls(ember_fault_site site);

/* True once the armed failure has been delivered. */
EMBER_API bool ember_fault_fired(ember_fault_site site);

#ifdef __cplusplus
}
#endif
#endif /* EMBER_EMBER_TEST_H */
