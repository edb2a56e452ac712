/*
 * test_cuda_nodriver.c — ember on a machine without a CUDA driver.
 *
 * ctest runs it with EMBER_CUDA_DRIVER=/nonexistent/libcuda.so.1, the only
 * place then tried. The runtime must still come up with the cpu device, the
 * cuda kind must be absent with a reason that names where it looked, and
 * asking for a CUDA device must be a clean NOT_FOUND, also after a restart.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void check_absent(void)
{
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 0);
    CHECK(ember_device_count(EMBER_DEVICE_CPU) == 1);

    const char *reason = ember_device_kind_unavailable_reason(EMBER_DEVICE_CUDA);
    fprintf(stderr, "cuda kind unavailable: %s\n", reason);
    CHECK(strncmp(reason, "no CUDA driver found (looked in:", 32) == 0);
    CHECK(strstr(reason, "/nonexistent/libcuda.so.1") != NULL);
    /* Only the override is tried, not the system's places. */
    CHECK(strstr(reason, "/usr/lib64/libcuda.so.1") == NULL);
    CHECK(ember_device_kind_unavailable_reason(EMBER_DEVICE_CPU)[0] == '\0');

    ember_device_t def = NULL, cpu = NULL;
    CHECK_OK(ember_device_default(&def));
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK(def == cpu && ember_device_get_kind(def) == EMBER_DEVICE_CPU);

    ember_device_t cuda = NULL;
    ember_clear_error();
    CHECK_STATUS(ember_device_get(EMBER_DEVICE_CUDA, 0, &cuda), EMBER_ERR_NOT_FOUND);
    CHECK(cuda == NULL);
    CHECK(ember_last_error()[0] != '\0');
    CHECK(strstr(ember_last_error(), "no CUDA driver found") != NULL);
    CHECK(ember_last_driver_error() == 0);
}

int main(void)
{
    const char *env = getenv("EMBER_CUDA_DRIVER");
    CHECK(env && strcmp(env, "/nonexistent/libcuda.so.1") == 0);
    check_absent();

    /* The cpu device works as usual. */
    ember_device_t cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    ember_array a = {0};
    int64_t shape[1] = {16};
    CHECK_OK(ember_array_create(&a, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT32, 1, shape, 'C'));
    ember_array_fini(&a);

    /* A restart looks again and finds nothing again. */
    ember_shutdown();
    check_absent();
    ember_shutdown();
    return check_report("test_cuda_nodriver");
}
