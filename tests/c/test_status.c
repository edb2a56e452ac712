/*
 * test_status.c — status names, the thread-local last error, fault hooks.
 */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

static void *other_thread(void *arg)
{
    /* A fresh thread starts with no error, whatever the main thread has. */
    *(int *)arg = ember_last_error()[0] == '\0';
    em_error(EMBER_ERR_INTERNAL, "set on the other thread");
    return NULL;
}

int main(void)
{
    for (int s = 0; s < EMBER_STATUS_COUNT; s++)
        CHECK(ember_status_string((ember_status)s) != NULL &&
              strlen(ember_status_string((ember_status)s)) > 0);
    CHECK(strcmp(ember_status_string(EMBER_ERR_OUT_OF_MEMORY), "out of host memory") == 0);
    CHECK(strcmp(ember_status_string((ember_status)999), "unknown status") == 0);

    ember_clear_error();
    CHECK(ember_last_error()[0] == '\0');
    CHECK(em_error(EMBER_ERR_INVALID_ARG, "bad %s %d", "shape", 3) == EMBER_ERR_INVALID_ARG);
    CHECK(strcmp(ember_last_error(), "bad shape 3") == 0);
    em_error_prefix(EMBER_ERR_INVALID_ARG, "to_device: ");
    CHECK(strcmp(ember_last_error(), "to_device: bad shape 3") == 0);

    CHECK(em_driver_error(2, "CUDA_ERROR_OUT_OF_MEMORY", "cuMemAlloc failed") == EMBER_ERR_DRIVER);
    CHECK(ember_last_driver_error() == 2);
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_OUT_OF_MEMORY") == 0);
    em_error(EMBER_ERR_INVALID_ARG, "plain");
    CHECK(ember_last_driver_error() == 0); /* a non-driver error clears the code */

    int clean = 0;
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &clean);
    pthread_join(t, NULL);
    CHECK(clean == 1);
    CHECK(strcmp(ember_last_error(), "plain") == 0); /* untouched by the other thread */

    /* Fault hook: the 3rd allocation fails, once. */
    ember_fault_fail_at(EMBER_FAULT_ALLOC, 3);
    void *a = em_malloc(8), *b = em_malloc(8), *c = em_malloc(8), *d = em_malloc(8);
    CHECK(a && b && !c && d);
    CHECK(ember_fault_fired(EMBER_FAULT_ALLOC));
    CHECK(ember_fault_calls(EMBER_FAULT_ALLOC) == 3);
    CHECK(strstr(ember_last_error(), "out of host memory") != NULL);
    em_free(a);
    em_free(b);
    em_free(d);
    ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
    void *e = em_malloc(8);
    CHECK(e != NULL);
    em_free(e);
    return check_report("test_status");
}
