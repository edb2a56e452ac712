/*
 * registry.c — the list of devices, by kind.
 *
 * The cpu kind is always present. The cuda kind appears when the driver
 * library loads and reports at least one device; otherwise the registry
 * keeps the reason, which `cuda.detect()` prints. Initialisation is lazy,
 * thread-safe and can be repeated after ember_shutdown.
 */
#include <pthread.h>
#include <string.h>

#include <stdio.h>

#include "devices/cpu/host_jit.h"
#include "devices/device_impl.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static bool registry_ready;
static struct ember_device *cpu_dev;
static struct ember_device **cuda_devs;
static int cuda_count;
static char cuda_reason[1024];

ember_status ember_init(void) { return registry_ensure(); }

bool registry_is_ready(void) { return __atomic_load_n(&registry_ready, __ATOMIC_ACQUIRE); }

ember_status registry_ensure(void)
{
    if (__atomic_load_n(&registry_ready, __ATOMIC_ACQUIRE))
        return EMBER_SUCCESS;
    em_mutex_lock(&registry_lock);
    ember_status st = EMBER_SUCCESS;
    if (!registry_ready) {
        st = cpu_device_open(&cpu_dev);
        if (st == EMBER_SUCCESS) {
            cuda_reason[0] = '\0';
            ember_status cst = cuda_devices_open(cpu_device_hwloc(cpu_dev), &cuda_devs,
                                                 &cuda_count, cuda_reason, sizeof cuda_reason);
            if (cst != EMBER_SUCCESS) {
                cuda_devs = NULL;
                cuda_count = 0;
                if (cuda_reason[0] == '\0')
                    snprintf(cuda_reason, sizeof cuda_reason, "%s", ember_last_error());
                if (cst == EMBER_ERR_OUT_OF_MEMORY) { /* not an absent kind: report it */
                    device_close(cpu_dev);
                    cpu_dev = NULL;
                    st = cst;
                }
            }
        }
        if (st == EMBER_SUCCESS) {
            ember_clear_error();
            __atomic_store_n(&registry_ready, true, __ATOMIC_RELEASE);
        }
    }
    em_mutex_unlock(&registry_lock);
    return st;
}

void ember_shutdown(void)
{
    em_mutex_lock(&registry_lock);
    if (registry_ready) {
        for (int i = 0; i < cuda_count; i++)
            device_close(cuda_devs[i]);
        em_free(cuda_devs);
        cuda_devs = NULL;
        cuda_count = 0;
        cuda_driver_unload();
        device_close(cpu_dev);
        cpu_dev = NULL;
        __atomic_store_n(&registry_ready, false, __ATOMIC_RELEASE);
    }
    em_mutex_unlock(&registry_lock);
}

int ember_device_count(ember_device_kind kind)
{
    if (registry_ensure() != EMBER_SUCCESS)
        return 0;
    switch (kind) {
    case EMBER_DEVICE_CPU: return 1;
    case EMBER_DEVICE_CUDA: return cuda_count;
    default: return 0;
    }
}

const char *ember_device_kind_unavailable_reason(ember_device_kind kind)
{
    if (registry_ensure() != EMBER_SUCCESS)
        return "ember failed to initialise";
    if (kind == EMBER_DEVICE_CUDA && cuda_count == 0)
        return cuda_reason;
    if ((unsigned)kind >= EMBER_DEVICE_KIND_COUNT)
        return "unknown device kind";
    return "";
}

ember_status ember_device_get(ember_device_kind kind, int ordinal, ember_device_t *out)
{
    if (!out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_device_get: out is NULL");
    ember_status st = registry_ensure();
    if (st != EMBER_SUCCESS)
        return st;
    if (kind == EMBER_DEVICE_CPU) {
        if (ordinal != 0)
            return em_error(EMBER_ERR_NOT_FOUND, "there is one cpu device (ordinal 0), not %d",
                            ordinal);
        *out = cpu_dev;
        return EMBER_SUCCESS;
    }
    if (kind == EMBER_DEVICE_CUDA) {
        if (cuda_count == 0)
            return em_error(EMBER_ERR_NOT_FOUND, "no CUDA device: %s", cuda_reason);
        if (ordinal < 0 || ordinal >= cuda_count)
            return em_error(EMBER_ERR_NOT_FOUND, "CUDA device %d does not exist (%d found)",
                            ordinal, cuda_count);
        *out = cuda_devs[ordinal];
        return EMBER_SUCCESS;
    }
    return em_error(EMBER_ERR_INVALID_ARG, "unknown device kind %d", (int)kind);
}

ember_status ember_device_default(ember_device_t *out)
{
    const char *force = getenv("EMBER_DEVICE");
    if (force && strcmp(force, "cpu") == 0)
        return ember_device_get(EMBER_DEVICE_CPU, 0, out);
    if (ember_device_count(EMBER_DEVICE_CUDA) > 0)
        return ember_device_get(EMBER_DEVICE_CUDA, 0, out);
    return ember_device_get(EMBER_DEVICE_CPU, 0, out);
}

ember_status ember_cpu_topology_get(ember_cpu_topology *out)
{
    if (!out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_cpu_topology_get: out is NULL");
    ember_status st = registry_ensure();
    if (st != EMBER_SUCCESS)
        return st;
    cpu_device_topology(cpu_dev, out);
    const char *blas = host_blas_name();
    snprintf(out->blas, sizeof out->blas, "%s", blas ? blas : "");
    return EMBER_SUCCESS;
}
