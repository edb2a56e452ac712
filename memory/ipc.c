/*
 * ipc.c — sharing device memory with other processes (CUDA IPC).
 *
 * A process exports the allocation that holds a device address as a
 * 64-byte handle (cuIpcGetMemHandle); another process opens the handle and
 * gets its own address for the same memory (cuIpcOpenMemHandle) until it
 * closes it. Only device kinds with the optional ipc_* slots can do this:
 * the cpu device's memory is private to its process (anonymous mappings),
 * so there EMBER_ERR_NOT_SUPPORTED says that IPC needs a CUDA GPU.
 */
#include "memory/memory_impl.h"

static ember_status unsupported(ember_device_t dev, const char *what)
{
    return em_error(EMBER_ERR_NOT_SUPPORTED,
                    "%s: the %s device cannot share memory with other processes (CUDA IPC "
                    "needs a CUDA GPU)", what, dev->info.kind == EMBER_DEVICE_CPU ? "cpu" : "this");
}

ember_status ember_ipc_get_handle(ember_device_t dev, uint64_t ptr, unsigned char handle[64],
                                  uint64_t *base, size_t *size)
{
    if (!dev || !handle || !base || !size)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_ipc_get_handle: NULL argument");
    if (!dev->iface->ipc_get_handle)
        return unsupported(dev, "ember_ipc_get_handle");
    if (!ptr)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_ipc_get_handle: NULL device address "
                        "(an empty array has no memory to share)");
    return dev->iface->ipc_get_handle(dev->ctx, ptr, handle, base, size);
}

ember_status ember_ipc_open(ember_device_t dev, const unsigned char handle[64], uint64_t *ptr)
{
    if (!dev || !handle || !ptr)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_ipc_open: NULL argument");
    if (!dev->iface->ipc_open)
        return unsupported(dev, "ember_ipc_open");
    return dev->iface->ipc_open(dev->ctx, handle, ptr);
}

ember_status ember_ipc_close(ember_device_t dev, uint64_t ptr)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_ipc_close: NULL device");
    if (!dev->iface->ipc_close)
        return unsupported(dev, "ember_ipc_close");
    return dev->iface->ipc_close(dev->ctx, ptr);
}
