/*
 * device_impl.h — the device interface: what a device kind implements.
 *
 * A device kind is a struct of function pointers plus a `void *ctx` per
 * device (ggml-backend style). The registry (registry.c) owns one
 * `struct ember_device` per device; memory/ and launch/ call through the
 * interface and never know which kind they talk to.
 *
 * Conventions for every slot: `ctx` is the device's context; a `stream` or
 * `event` argument is the kind's native handle (void *), and a NULL stream is
 * the device's default stream. Slots return an ember_status and set the
 * last-error message on failure. Slots marked (optional) may be NULL; the
 * comment says what the public wrapper does then.
 */
#ifndef EMBER_DEVICE_IMPL_H
#define EMBER_DEVICE_IMPL_H

#include "core/core.h"

struct device_launch_limits;
struct device_kernel_limits;

struct ember_device_i {
    /* Memory. Returns the host address (NULL when the memory is not
     * host-accessible) and the device address of `nbytes` of `kind`. */
    ember_status (*alloc)(void *ctx, ember_mem_kind kind, size_t nbytes, void **host,
                          uint64_t *device);
    void (*free)(void *ctx, ember_mem_kind kind, void *host, uint64_t device);
    ember_status (*memory_info)(void *ctx, uint64_t *free_bytes, uint64_t *total_bytes);
    /* (optional) page-lock / unlock host memory the caller owns; NULL: the
     * kind's host memory needs no locking and the wrappers do nothing (the
     * device address of mapped memory is then the host address). With
     * `mapped` the range is also mapped for the device and *device is its
     * device address (else *device is left alone). */
    ember_status (*host_register)(void *ctx, void *ptr, size_t nbytes, bool mapped,
                                  uint64_t *device);
    ember_status (*host_unregister)(void *ctx, void *ptr);

    /* Copies `nbytes` from `src` to `dst`. An address is a device address of
     * this device when its `*_dev` flag is set, else a host pointer (cast to
     * uint64_t). Queued on `stream`; the host side must stay valid until the
     * stream reaches the copy. */
    ember_status (*copy)(void *ctx, uint64_t dst, bool dst_dev, uint64_t src, bool src_dev,
                         size_t nbytes, void *stream);
    /* Sets `nbytes` bytes from device address `dst` of this device to
     * `value`, queued on `stream` (CUDA: cuMemsetD8). */
    ember_status (*memset)(void *ctx, uint64_t dst, uint8_t value, size_t nbytes, void *stream);

    ember_status (*synchronize)(void *ctx);
    /* (optional) starts (on) or stops the profiler's collection; NULL: the
     * kind has no profiler and the wrapper does nothing. */
    ember_status (*profiler)(void *ctx, bool on);

    ember_status (*stream_create)(void *ctx, void **out);
    void (*stream_destroy)(void *ctx, void *stream);
    ember_status (*stream_synchronize)(void *ctx, void *stream);
    ember_status (*stream_query)(void *ctx, void *stream); /* SUCCESS or ERR_NOT_READY */

    ember_status (*event_create)(void *ctx, bool timing, void **out);
    void (*event_destroy)(void *ctx, void *event);
    ember_status (*event_record)(void *ctx, void *event, void *stream);
    ember_status (*event_synchronize)(void *ctx, void *event);
    ember_status (*event_query)(void *ctx, void *event);
    /* (optional) makes `stream` wait for `event`; NULL: the wrapper
     * synchronizes the event on the host instead. */
    ember_status (*event_wait)(void *ctx, void *event, void *stream);
    ember_status (*event_elapsed_ms)(void *ctx, void *start, void *end, float *ms);

    /* ---- modules and kernel launches ----
     * (optional, all seven together) NULL on a kind whose kernels are not
     * loaded as device code (the cpu kind runs compiled kernels through
     * cpu/launch_host.c): ember_module_load_ptx then returns
     * EMBER_ERR_NOT_SUPPORTED. Handles are the kind's own (CUmodule,
     * CUfunction). */

    /* Loads NUL-terminated PTX text as a module; on a JIT failure the last
     * error carries the JIT's log. Caller owns *module (module_unload). */
    ember_status (*module_load)(void *ctx, const char *ptx, void **module);
    /* (optional) Links PTX with foreign inputs and loads the result
     * (ember_module_load_linked); NULL: a kind that links nothing, and
     * ember_module_load_linked returns EMBER_ERR_NOT_SUPPORTED. */
    ember_status (*module_link)(void *ctx, const char *ptx, const ember_link_input *inputs,
                                size_t ninputs, void **module);
    /* (optional, with module_link) Links `inputs` alone into a device image
     * (ember_link_image): *image em_malloc'd, the caller's. */
    ember_status (*link_image)(void *ctx, const ember_link_input *inputs, size_t ninputs,
                               void **image, size_t *size);
    /* Releases a module and its functions. Never fails (a release). */
    void (*module_unload)(void *ctx, void *module);
    /* The kernel `name` of `module` (borrowed: lives as long as the module)
     * and its limits; EMBER_ERR_NOT_FOUND naming it when there is none. */
    ember_status (*module_get_function)(void *ctx, void *module, const char *name,
                                        void **function, struct device_kernel_limits *limits);
    /* Device address and size of the global `name` of `module`;
     * EMBER_ERR_NOT_FOUND when the module has none, without touching the
     * last error (an absent global is an answer, not a failure). */
    ember_status (*module_get_global)(void *ctx, void *module, const char *name,
                                      uint64_t *device, size_t *size);
    /* Queues `function` on `stream` with the packed argument buffer `args`
     * (`args_size` bytes, a multiple of 8: one 8-byte kernel parameter per
     * slot; copied by the call). The configuration has been validated
     * against launch_limits and the kernel's limits. */
    ember_status (*launch)(void *ctx, void *function, const uint32_t grid[3],
                           const uint32_t block[3], size_t shared_bytes, void *stream,
                           const void *args, size_t args_size);
    /* The block size with the highest occupancy for `function` with
     * `shared_bytes` of dynamic shared memory per block, and the smallest
     * grid that fills the device with it. */
    ember_status (*max_block_size)(void *ctx, void *function, size_t shared_bytes,
                                   int *block_size, int *min_grid_size);
    /* The device's launch limits (asked once per module). */
    ember_status (*launch_limits)(void *ctx, struct device_launch_limits *out);
    /* (optional) lets `function` use up to `bytes` of dynamic shared memory,
     * above max_shared_bytes (CUDA: the function attribute
     * MAX_DYNAMIC_SHARED_SIZE_BYTES); NULL: optin_shared_bytes is
     * max_shared_bytes or the kind needs no opt-in. */
    ember_status (*set_dynamic_shared)(void *ctx, void *function, size_t bytes);
    /* (optional, both or neither) `launch` with every block resident at once,
     * for the kernels that call grid.sync() (CUDA: cuLaunchCooperativeKernel),
     * and the most blocks of `threads` threads with `shared_bytes` of dynamic
     * shared memory that can be (*per_sm per multiprocessor times *sms
     * multiprocessors). NULL: the kind has no cooperative launch, and
     * launching such a kernel is EMBER_ERR_NOT_SUPPORTED. */
    ember_status (*launch_cooperative)(void *ctx, void *function, const uint32_t grid[3],
                                       const uint32_t block[3], size_t shared_bytes,
                                       void *stream, const void *args, size_t args_size);
    ember_status (*max_cooperative_blocks)(void *ctx, void *function, uint32_t threads,
                                           size_t shared_bytes, int64_t *blocks, int *per_sm,
                                           int *sms);

    /* ---- graphs (launch/graph.c) ----
     * (optional, all four together) NULL: capture is not supported
     * (EMBER_ERR_NOT_SUPPORTED). Only non-default streams are captured. */

    /* From now on the work queued on `stream` is recorded, not run. */
    ember_status (*capture_begin)(void *ctx, void *stream);
    /* Ends the capture (also on failure); *graph is the kind's executable
     * graph, owned by the caller (graph_destroy), *nodes the number of
     * operations it holds. */
    ember_status (*capture_end)(void *ctx, void *stream, void **graph, size_t *nodes);
    /* Queues the graph's operations on `stream`, in capture order. */
    ember_status (*graph_launch)(void *ctx, void *graph, void *stream);
    void (*graph_destroy)(void *ctx, void *graph);

    /* (optional) CUDA IPC: the 64-byte handle of the allocation holding
     * device address `ptr`, with that allocation's base and size; opening a
     * handle of another process's memory (*ptr: its address here); closing
     * what open returned. NULL: the kind cannot share its memory with other
     * processes and the wrappers return EMBER_ERR_NOT_SUPPORTED. */
    ember_status (*ipc_get_handle)(void *ctx, uint64_t ptr, unsigned char handle[64],
                                   uint64_t *base, size_t *size);
    ember_status (*ipc_open)(void *ctx, const unsigned char handle[64], uint64_t *ptr);
    ember_status (*ipc_close)(void *ctx, uint64_t ptr);

    /* Frees the context; the device has no live buffers, streams or events. */
    void (*destroy)(void *ctx);
};

/* What a launch on a device may ask for: CUDA's per-device limits. */
struct device_launch_limits {
    uint32_t max_block[3];   /* blockDim.x, .y, .z */
    uint32_t max_grid[3];    /* gridDim.x, .y, .z */
    uint32_t max_threads;    /* threads per block, all dimensions together */
    size_t max_shared_bytes; /* shared memory per block without opting in */
    size_t optin_shared_bytes; /* ... with the kernel opted in (>= max_shared_bytes) */
    size_t max_param_bytes;  /* kernel parameter space */
};

/* What one kernel allows (its registers and directives may lower the
 * device's limits). */
struct device_kernel_limits {
    uint32_t max_threads;      /* threads per block for this kernel */
    size_t static_shared_bytes; /* shared memory the kernel declares itself */
};

struct ember_device {
    const struct ember_device_i *iface;
    void *ctx;               /* owned; freed by iface->destroy */
    ember_device_info info;  /* filled by the kind when it opens the device */
    struct mempool *pool;    /* owned; memory/pool.c makes it at the first allocation */
    int captures;            /* atomic: graph captures open on its streams */
};

/* ---- registry.c ------------------------------------------------------ */

/* Initialises the runtime if needed; returns its status. */
EM_HIDDEN ember_status registry_ensure(void);
/* Whether the devices are open (registry_ensure has succeeded). */
EM_HIDDEN bool registry_is_ready(void);

/* ---- cpu/cpu_device.c ------------------------------------------------ */

/* Opens the cpu device (hwloc topology, worker pool). Caller owns *out and
 * frees it with device_close. */
EM_HIDDEN ember_status cpu_device_open(struct ember_device **out);
/* Topology summary of the open cpu device. */
EM_HIDDEN void cpu_device_topology(struct ember_device *dev, ember_cpu_topology *out);

/* ---- cuda/cuda_device.c ---------------------------------------------- */

/* Loads the driver and opens every CUDA device. On success *out is an
 * array of *count devices (caller owns array and devices). When the kind is
 * absent it returns EMBER_ERR_NO_DRIVER or EMBER_ERR_NOT_FOUND and writes why
 * into `reason`. `hwloc_topology` (may be NULL) places each device's CPU set. */
EM_HIDDEN ember_status cuda_devices_open(void *hwloc_topology, struct ember_device ***out,
                                         int *count, char *reason, size_t reason_cap);
/* ---- cuda/cuda_driver.c ---------------------------------------------- */

/* Forgets the driver table once every CUDA device is closed (the library
 * itself stays mapped: see cuda_driver.c). */
EM_HIDDEN void cuda_driver_unload(void);

/* ---- memory/pool.c ---------------------------------------------------- */

/* Gives the cached blocks back and frees `pool`; device_close calls it
 * before the kind's destroy (the blocks need the device's context). NULL
 * does nothing. */
EM_HIDDEN void mempool_destroy(struct mempool *pool);

/* ---- device.c -------------------------------------------------------- */

/* Destroys a device opened by a kind. NULL does nothing. */
EM_HIDDEN void device_close(struct ember_device *dev);

/* The hwloc topology the cpu device loaded (an hwloc_topology_t), or NULL. */
EM_HIDDEN void *cpu_device_hwloc(struct ember_device *dev);

#endif /* EMBER_DEVICE_IMPL_H */
