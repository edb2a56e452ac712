/*
 * cuda_device.c — the cuda device kind: one ember device per GPU the driver
 * reports, implemented with driver API calls.
 *
 * Each device works in its primary context (the one the CUDA runtime, numba
 * and CuPy use too, so memory and streams can be shared with them), retained
 * when the device opens and released when it closes. The driver keeps a
 * current context per host thread, and ember may be called from any thread,
 * so every slot first makes its device's context current.
 *
 * Memory kinds map onto the driver as: device memory → cuMemAlloc (not
 * host-accessible); pinned → cuMemHostAlloc(PORTABLE), page-locked for
 * every context; mapped → cuMemHostAlloc(PORTABLE | DEVICEMAP), whose device
 * address comes from cuMemHostGetDevicePointer. These slots are the raw
 * allocator: buffers get their memory through the caching pool
 * (memory/pool.c), which calls them on a miss and on trimming. Host memory
 * the caller owns is page-locked with cuMemHostRegister(PORTABLE). Streams
 * and events are the driver's own. Failures carry the driver's error name
 * (cuda_driver.c).
 */
#include <hwloc.h>
#include <string.h>

#include "devices/cuda/cuda_impl.h" /* struct cuda_ctx, the module slots */

/* Makes the device's primary context current on this thread. CUDA
 * semantics: "cuCtxSetCurrent binds the specified CUDA context to the
 * calling CPU thread"; allocations, copies and streams belong to it. */
static ember_status bind(const struct cuda_ctx *c)
{
    return CUDA_CALL(cuCtxSetCurrent, c->primary);
}

/* The same for a release path, which cannot fail (see cuda_gate). */
static void bind_release(const struct cuda_ctx *c)
{
    CUDA_RELEASE(cuCtxSetCurrent, c->primary);
}

static const char *mem_kind_name(ember_mem_kind kind)
{
    switch (kind) {
    case EMBER_MEM_DEVICE: return "device";
    case EMBER_MEM_PINNED: return "pinned host";
    case EMBER_MEM_MAPPED: return "mapped host";
    case EMBER_MEM_MANAGED: return "managed";
    case EMBER_MEM_MANAGED_HOST: return "host-attached managed";
    default: return "unknown";
    }
}

/* cuMemAlloc: "allocated memory is suitably aligned for any kind of
 * variable" (256 bytes at least), which ember promises for device memory.
 * Zero-byte requests get one byte: the driver rejects 0 for cuMemAlloc, and
 * host-accessible kinds must have a non-NULL host address. */
static ember_status cuda_alloc(void *ctx, ember_mem_kind kind, size_t nbytes, void **host,
                               uint64_t *device)
{
    struct cuda_ctx *c = ctx;
    size_t n = nbytes ? nbytes : 1;
    ember_status st = bind(c);
    if (st != EMBER_SUCCESS)
        goto fail;
    switch (kind) {
    case EMBER_MEM_DEVICE: {
        CUdeviceptr d = 0;
        if ((st = CUDA_CALL(cuMemAlloc, &d, n)) != EMBER_SUCCESS)
            goto fail;
        *host = NULL;
        *device = d;
        return EMBER_SUCCESS;
    }
    case EMBER_MEM_PINNED: {
        void *p = NULL;
        if ((st = CUDA_CALL(cuMemHostAlloc, &p, n, CU_MEMHOSTALLOC_PORTABLE)) != EMBER_SUCCESS)
            goto fail;
        *host = p;
        *device = (uint64_t)(uintptr_t)p; /* unified addressing: the same address */
        return EMBER_SUCCESS;
    }
    case EMBER_MEM_MAPPED: {
        void *p = NULL;
        CUdeviceptr d = 0;
        if ((st = CUDA_CALL(cuMemHostAlloc, &p, n,
                            CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP)) != EMBER_SUCCESS)
            goto fail;
        if ((st = CUDA_CALL(cuMemHostGetDevicePointer, &d, p, 0)) != EMBER_SUCCESS) {
            CUDA_RELEASE(cuMemFreeHost, p);
            goto fail;
        }
        *host = p;
        *device = d;
        return EMBER_SUCCESS;
    }
    case EMBER_MEM_MANAGED: {
        /* CUDA semantics: cuMemAllocManaged memory "is accessible from any
         * stream on any device" and from the host at the same address;
         * CU_MEM_ATTACH_GLOBAL, as numba's managed_array default. */
        CUdeviceptr d = 0;
        if ((st = CUDA_CALL(cuMemAllocManaged, &d, n, CU_MEM_ATTACH_GLOBAL)) != EMBER_SUCCESS)
            goto fail;
        *host = (void *)(uintptr_t)d;
        *device = d;
        return EMBER_SUCCESS;
    }
    case EMBER_MEM_MANAGED_HOST: {
        /* CU_MEM_ATTACH_HOST: "the memory is initially not accessible
         * from any stream on the device" until a stream attaches it
         * (numba's managed_array(attach_global=False)). */
        CUdeviceptr d = 0;
        if ((st = CUDA_CALL(cuMemAllocManaged, &d, n, CU_MEM_ATTACH_HOST)) != EMBER_SUCCESS)
            goto fail;
        *host = (void *)(uintptr_t)d;
        *device = d;
        return EMBER_SUCCESS;
    }
    default:
        return em_error(EMBER_ERR_INVALID_ARG, "cuda:%d cannot allocate memory of kind %d",
                        c->ordinal, (int)kind);
    }
fail:
    return em_error_prefix(st, "cuda:%d: allocating %zu bytes of %s memory: ", c->ordinal,
                           nbytes, mem_kind_name(kind));
}

static void cuda_free(void *ctx, ember_mem_kind kind, void *host, uint64_t device)
{
    struct cuda_ctx *c = ctx;
    bind_release(c);
    if (kind == EMBER_MEM_DEVICE || kind == EMBER_MEM_MANAGED || kind == EMBER_MEM_MANAGED_HOST)
        CUDA_RELEASE(cuMemFree, (CUdeviceptr)device);
    else
        CUDA_RELEASE(cuMemFreeHost, host);
}

static ember_status cuda_memory_info(void *ctx, uint64_t *free_bytes, uint64_t *total_bytes)
{
    struct cuda_ctx *c = ctx;
    size_t fr = 0, tot = 0;
    ember_status st = bind(c);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuMemGetInfo, &fr, &tot);
    if (st != EMBER_SUCCESS)
        return st;
    *free_bytes = fr;
    *total_bytes = tot;
    return EMBER_SUCCESS;
}

/* CUDA semantics: cuMemHostRegister "page-locks the memory range specified
 * by p and bytesize and maps it for the device(s)"; PORTABLE makes it
 * pinned for every context, DEVICEMAP maps it into the device's address
 * space, "the device pointer to the memory may be obtained by calling
 * cuMemHostGetDevicePointer". Unregister before the memory is freed. */
static ember_status cuda_host_register(void *ctx, void *ptr, size_t nbytes, bool mapped,
                                       uint64_t *device)
{
    struct cuda_ctx *c = ctx;
    ember_status st = bind(c);
    unsigned flags = CU_MEMHOSTREGISTER_PORTABLE | (mapped ? CU_MEMHOSTREGISTER_DEVICEMAP : 0);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuMemHostRegister, ptr, nbytes, flags);
    if (st == EMBER_SUCCESS && mapped) {
        CUdeviceptr d = 0;
        st = CUDA_CALL(cuMemHostGetDevicePointer, &d, ptr, 0);
        if (st != EMBER_SUCCESS)
            CUDA_RELEASE(cuMemHostUnregister, ptr);
        else
            *device = d;
    }
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: page-locking %zu bytes of host memory: ",
                               c->ordinal, nbytes);
    return EMBER_SUCCESS;
}

static ember_status cuda_host_unregister(void *ctx, void *ptr)
{
    struct cuda_ctx *c = ctx;
    ember_status st = bind(c);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuMemHostUnregister, ptr);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: unlocking host memory: ", c->ordinal);
    return EMBER_SUCCESS;
}

/* Host ↔ device and device ↔ device copies are the driver's. CUDA
 * semantics: the *Async variants are ordered on `stream`; the plain ones
 * run on the legacy default stream (NULL), which waits for every other
 * blocking stream of the context. Host ↔ host needs no driver copy, but must
 * still come after the work already queued on the stream. */
static ember_status cuda_copy(void *ctx, uint64_t dst, bool dst_dev, uint64_t src, bool src_dev,
                              size_t nbytes, void *stream)
{
    struct cuda_ctx *c = ctx;
    CUstream s = stream;
    ember_status st = bind(c);
    if (st != EMBER_SUCCESS)
        return st;
    void *dst_host = (void *)(uintptr_t)dst;
    const void *src_host = (const void *)(uintptr_t)src;
    if (dst_dev && src_dev)
        st = s ? CUDA_CALL(cuMemcpyDtoDAsync, dst, src, nbytes, s)
               : CUDA_CALL(cuMemcpyDtoD, dst, src, nbytes);
    else if (dst_dev)
        st = s ? CUDA_CALL(cuMemcpyHtoDAsync, dst, src_host, nbytes, s)
               : CUDA_CALL(cuMemcpyHtoD, dst, src_host, nbytes);
    else if (src_dev)
        st = s ? CUDA_CALL(cuMemcpyDtoHAsync, dst_host, src, nbytes, s)
               : CUDA_CALL(cuMemcpyDtoH, dst_host, src, nbytes);
    else {
        st = CUDA_CALL(cuStreamSynchronize, s);
        if (st == EMBER_SUCCESS)
            memmove(dst_host, src_host, nbytes);
    }
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: copying %zu bytes: ", c->ordinal, nbytes);
    return EMBER_SUCCESS;
}

/* CUDA semantics (cuMemsetD8): sets `n` bytes from device address `dst`;
 * with unified addressing that may be pinned or mapped host memory too. */
static ember_status cuda_memset(void *ctx, uint64_t dst, uint8_t value, size_t nbytes,
                                void *stream)
{
    struct cuda_ctx *c = ctx;
    CUstream s = stream;
    ember_status st = bind(c);
    if (st != EMBER_SUCCESS)
        return st;
    st = s ? CUDA_CALL(cuMemsetD8Async, dst, value, nbytes, s)
           : CUDA_CALL(cuMemsetD8, dst, value, nbytes);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: setting %zu bytes: ", c->ordinal, nbytes);
    return EMBER_SUCCESS;
}

static ember_status cuda_synchronize(void *ctx)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st : CUDA_CALL(cuCtxSynchronize);
}

static ember_status cuda_profiler(void *ctx, bool on)
{
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    return on ? CUDA_CALL(cuProfilerStart) : CUDA_CALL(cuProfilerStop);
}

static ember_status cuda_stream_create(void *ctx, void **out)
{
    CUstream s = NULL;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuStreamCreate, &s, CU_STREAM_DEFAULT);
    if (st != EMBER_SUCCESS)
        return st;
    *out = s;
    return EMBER_SUCCESS;
}

/* CUDA semantics: "in case the device is still doing work in the stream
 * when cuStreamDestroy() is called, the function will return immediately
 * and the resources ... will be released automatically once the device has
 * completed all work in the stream". */
static void cuda_stream_destroy(void *ctx, void *stream)
{
    if (!stream)
        return;
    bind_release(ctx);
    CUDA_RELEASE(cuStreamDestroy, (CUstream)stream);
}

static ember_status cuda_stream_synchronize(void *ctx, void *stream)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st : CUDA_CALL(cuStreamSynchronize, (CUstream)stream);
}

/* CUDA_ERROR_NOT_READY from a query is an answer, not a failure: it maps to
 * EMBER_ERR_NOT_READY and leaves the last error alone. */
static ember_status query_result(CUresult r, const char *call)
{
    return r == CUDA_ERROR_NOT_READY ? EMBER_ERR_NOT_READY : cuda_check(r, call);
}

static ember_status cuda_stream_query(void *ctx, void *stream)
{
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    return query_result(CUDA_RESULT(cuStreamQuery, (CUstream)stream), "cuStreamQuery");
}

static ember_status cuda_event_create(void *ctx, bool timing, void **out)
{
    CUevent e = NULL;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuEventCreate, &e, timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING);
    if (st != EMBER_SUCCESS)
        return st;
    *out = e;
    return EMBER_SUCCESS;
}

static void cuda_event_destroy(void *ctx, void *event)
{
    if (!event)
        return;
    bind_release(ctx);
    CUDA_RELEASE(cuEventDestroy, (CUevent)event);
}

static ember_status cuda_event_record(void *ctx, void *event, void *stream)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st : CUDA_CALL(cuEventRecord, (CUevent)event, (CUstream)stream);
}

static ember_status cuda_event_synchronize(void *ctx, void *event)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st : CUDA_CALL(cuEventSynchronize, (CUevent)event);
}

static ember_status cuda_event_query(void *ctx, void *event)
{
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    return query_result(CUDA_RESULT(cuEventQuery, (CUevent)event), "cuEventQuery");
}

/* CUDA semantics: "makes all future work submitted to hStream wait for all
 * work captured in hEvent", on the device, without blocking the host. */
static ember_status cuda_event_wait(void *ctx, void *event, void *stream)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st
                               : CUDA_CALL(cuStreamWaitEvent, (CUstream)stream, (CUevent)event, 0);
}

/* CUDA semantics: the time is in milliseconds, "with a resolution of around
 * 0.5 microseconds"; CUDA_ERROR_NOT_READY while either event is pending. */
static ember_status cuda_event_elapsed(void *ctx, void *start, void *end, float *ms)
{
    float t = 0;
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    CUresult r = CUDA_RESULT(cuEventElapsedTime, &t, (CUevent)start, (CUevent)end);
    if (r == CUDA_ERROR_NOT_READY)
        return em_error(EMBER_ERR_NOT_READY,
                        "elapsed time: an event has not completed yet (synchronize it first)");
    if ((st = cuda_check(r, "cuEventElapsedTime")) != EMBER_SUCCESS)
        return st;
    *ms = t;
    return EMBER_SUCCESS;
}

/* CUDA semantics: cuIpcGetMemHandle "takes a pointer to the base of an
 * existing device memory allocation"; ember gives it the base that
 * cuMemGetAddressRange finds, so an array inside a pool block or a view
 * shares the whole allocation and the importer adds the offset. */
static ember_status cuda_ipc_get_handle(void *ctx, uint64_t ptr, unsigned char handle[64],
                                        uint64_t *base, size_t *size)
{
    struct cuda_ctx *c = ctx;
    CUdeviceptr b = 0;
    size_t n = 0;
    CUipcMemHandle h;
    ember_status st = bind(c);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuMemGetAddressRange, &b, &n, (CUdeviceptr)ptr);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuIpcGetMemHandle, &h, b);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: IPC handle of device address 0x%llx: ",
                               c->ordinal, (unsigned long long)ptr);
    memcpy(handle, h.reserved, 64);
    *base = b;
    *size = n;
    return EMBER_SUCCESS;
}

/* CUDA semantics: cuIpcOpenMemHandle maps another process's allocation;
 * "cannot be opened in the process that created it", and each opening is
 * undone with cuIpcCloseMemHandle. */
static ember_status cuda_ipc_open(void *ctx, const unsigned char handle[64], uint64_t *ptr)
{
    struct cuda_ctx *c = ctx;
    CUipcMemHandle h;
    CUdeviceptr d = 0;
    memcpy(h.reserved, handle, 64);
    ember_status st = bind(c);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuIpcOpenMemHandle, &d, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: opening an IPC handle: ", c->ordinal);
    *ptr = d;
    return EMBER_SUCCESS;
}

static ember_status cuda_ipc_close(void *ctx, uint64_t ptr)
{
    struct cuda_ctx *c = ctx;
    ember_status st = bind(c);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuIpcCloseMemHandle, (CUdeviceptr)ptr);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: closing an IPC handle: ", c->ordinal);
    return EMBER_SUCCESS;
}

static void cuda_destroy(void *ctx)
{
    struct cuda_ctx *c = ctx;
    if (!c)
        return;
    CUDA_RELEASE(cuDevicePrimaryCtxRelease, c->device);
    em_free(c);
}

static const struct ember_device_i cuda_iface = {
    .alloc = cuda_alloc,
    .free = cuda_free,
    .memory_info = cuda_memory_info,
    .host_register = cuda_host_register,
    .host_unregister = cuda_host_unregister,
    .copy = cuda_copy,
    .memset = cuda_memset,
    .synchronize = cuda_synchronize,
    .profiler = cuda_profiler,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .stream_synchronize = cuda_stream_synchronize,
    .stream_query = cuda_stream_query,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .event_synchronize = cuda_event_synchronize,
    .event_query = cuda_event_query,
    .event_wait = cuda_event_wait,
    .event_elapsed_ms = cuda_event_elapsed,
    CUDA_MODULE_SLOTS, /* cuda_module.c */
    .ipc_get_handle = cuda_ipc_get_handle,
    .ipc_open = cuda_ipc_open,
    .ipc_close = cuda_ipc_close,
    .destroy = cuda_destroy,
};

/* The CPUs closest to the GPU at `bus_id`: those of the first non-I/O
 * object above its PCI device in hwloc's tree (its NUMA node or package).
 * Left "" when hwloc has no such PCI device (no PCI discovery, a VM). */
static void near_cpus(hwloc_topology_t topo, const char *bus_id, char *out, size_t cap)
{
    out[0] = '\0';
    if (!topo || !bus_id[0])
        return;
    hwloc_obj_t pci = hwloc_get_pcidev_by_busidstring(topo, bus_id);
    if (!pci)
        return;
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, pci);
    if (anc && anc->cpuset && hwloc_bitmap_list_snprintf(out, cap, anc->cpuset) < 0)
        out[0] = '\0';
}

static ember_status attribute(CUdevice dev, CUdevice_attribute attr, int *out)
{
    return CUDA_CALL(cuDeviceGetAttribute, out, attr, dev);
}

/* Opens device `ordinal`: its properties, then its primary context. On
 * success *out is a device the caller closes with device_close. */
static ember_status open_device(int ordinal, hwloc_topology_t topo, struct ember_device **out)
{
    struct ember_device *dev = em_calloc(1, sizeof *dev);
    if (!dev)
        return EMBER_ERR_OUT_OF_MEMORY;
    struct cuda_ctx *c = em_calloc(1, sizeof *c);
    if (!c) {
        em_free(dev);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    c->ordinal = ordinal;
    ember_device_info *info = &dev->info;
    info->kind = EMBER_DEVICE_CUDA;
    info->ordinal = ordinal;
    int smem = 0, smem_optin = 0;
    size_t total = 0;
    ember_status st;
    if ((st = CUDA_CALL(cuDeviceGet, &c->device, ordinal)) != EMBER_SUCCESS ||
        (st = CUDA_CALL(cuDeviceGetName, info->name, (int)sizeof info->name, c->device)) !=
            EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                        &info->cc_major)) != EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                        &info->cc_minor)) != EMBER_SUCCESS ||
        (st = CUDA_CALL(cuDeviceTotalMem, &total, c->device)) != EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                        &info->multiprocessors)) != EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                        &info->max_threads_per_block)) != EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_WARP_SIZE, &info->warp_size)) !=
            EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &smem)) !=
            EMBER_SUCCESS ||
        (st = attribute(c->device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                        &smem_optin)) != EMBER_SUCCESS ||
        (st = CUDA_CALL(cuDeviceGetPCIBusId, info->pci_bus_id, (int)sizeof info->pci_bus_id,
                        c->device)) != EMBER_SUCCESS)
        goto fail_ctx;
    info->name[sizeof info->name - 1] = '\0';
    info->pci_bus_id[sizeof info->pci_bus_id - 1] = '\0';
    info->total_memory = total;
    c->cc_major = info->cc_major;
    c->cc_minor = info->cc_minor;
    info->max_shared_memory_per_block = smem > 0 ? (size_t)smem : 0;
    info->max_shared_memory_per_block_optin =
        smem_optin > smem ? (size_t)smem_optin : info->max_shared_memory_per_block;
    near_cpus(topo, info->pci_bus_id, info->near_cpus, sizeof info->near_cpus);

    /* Last, so that nothing after it can fail and need a release. */
    if ((st = CUDA_CALL(cuDevicePrimaryCtxRetain, &c->primary, c->device)) != EMBER_SUCCESS)
        goto fail_ctx;
    dev->iface = &cuda_iface;
    dev->ctx = c;
    *out = dev;
    return EMBER_SUCCESS;

fail_ctx:
    em_free(c);
    em_free(dev);
    return st;
}

/* Writes the reason the kind is absent and returns `st`. */
static ember_status absent(ember_status st, char *reason, size_t cap, const char *fmt, ...)
    EM_PRINTF(4, 5);
static ember_status absent(ember_status st, char *reason, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, cap, fmt, ap);
    va_end(ap);
    return st;
}

ember_status cuda_devices_open(void *hwloc_topology, struct ember_device ***out, int *count,
                               char *reason, size_t reason_cap)
{
    ember_status st = cuda_driver_load(reason, reason_cap);
    if (st != EMBER_SUCCESS)
        return st;
    struct ember_device **devs = NULL;
    int n = 0, opened = 0;

    CUresult r = CUDA_RESULT(cuInit, 0);
    if (r != CUDA_SUCCESS) {
        cuda_check(r, "cuInit");
        st = absent(EMBER_ERR_NOT_FOUND, reason, reason_cap,
                    "CUDA driver %s loaded but cuInit failed: %s", cuda_drv.path,
                    cuda_error_name(r));
        goto fail_unload;
    }
    if ((st = CUDA_CALL(cuDriverGetVersion, &cuda_drv.version)) != EMBER_SUCCESS ||
        (st = CUDA_CALL(cuDeviceGetCount, &n)) != EMBER_SUCCESS) {
        st = absent(EMBER_ERR_NOT_FOUND, reason, reason_cap, "CUDA driver %s: %s",
                    cuda_drv.path, ember_last_error());
        goto fail_unload;
    }
    if (n <= 0) {
        st = absent(EMBER_ERR_NOT_FOUND, reason, reason_cap, "no CUDA devices");
        em_error(st, "%s", reason);
        goto fail_unload;
    }
    devs = em_calloc((size_t)n, sizeof *devs);
    if (!devs) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto fail_unload;
    }
    for (; opened < n; opened++) {
        st = open_device(opened, hwloc_topology, &devs[opened]);
        if (st == EMBER_ERR_OUT_OF_MEMORY)
            goto fail_devices; /* a real failure, not an absent kind: the registry reports it */
        if (st != EMBER_SUCCESS) {
            st = absent(EMBER_ERR_NOT_FOUND, reason, reason_cap,
                        "CUDA device %d could not be opened: %s", opened, ember_last_error());
            goto fail_devices;
        }
    }
    *out = devs;
    *count = n;
    return EMBER_SUCCESS;

fail_devices:
    for (int i = 0; i < opened; i++)
        device_close(devs[i]);
    em_free(devs);
fail_unload:
    cuda_driver_unload();
    return st;
}
