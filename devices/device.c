/*
 * device.c — the public device calls, applied through the interface.
 */
#include <string.h>

#include "devices/device_impl.h"

void device_close(struct ember_device *dev)
{
    if (!dev)
        return;
    mempool_destroy(dev->pool);
    if (dev->iface && dev->iface->destroy)
        dev->iface->destroy(dev->ctx);
    em_free(dev);
}

ember_status ember_device_get_info(ember_device_t dev, ember_device_info *info)
{
    if (!dev || !info)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_device_get_info: NULL argument");
    *info = dev->info;
    return EMBER_SUCCESS;
}

ember_device_kind ember_device_get_kind(ember_device_t dev)
{
    return dev ? dev->info.kind : EMBER_DEVICE_CPU;
}

ember_status ember_device_memory_info(ember_device_t dev, uint64_t *free_bytes,
                                      uint64_t *total_bytes)
{
    if (!dev || !free_bytes || !total_bytes)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_device_memory_info: NULL argument");
    return dev->iface->memory_info(dev->ctx, free_bytes, total_bytes);
}

ember_status ember_device_profiler(ember_device_t dev, bool on)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_device_profiler: NULL device");
    return dev->iface->profiler ? dev->iface->profiler(dev->ctx, on) : EMBER_SUCCESS;
}

ember_status ember_device_synchronize(ember_device_t dev)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_device_synchronize: NULL device");
    if (__atomic_load_n(&dev->captures, __ATOMIC_RELAXED) > 0)
        return em_error(EMBER_ERR_INVALID_ARG, "cannot synchronize the device while a graph "
                        "capture is open on one of its streams (CUDA refuses synchronous "
                        "operations during a capture); end the capture first");
    return dev->iface->synchronize(dev->ctx);
}
