/*
 * ember.h — the public C API of libember: status codes, devices, buffers,
 * array descriptors, copies, streams and events, modules and kernel
 * launches.
 *
 * libember is usable from C without Python. Every object is an opaque handle
 * created with `ember_<object>_create` and released with `_destroy` (or, for
 * reference-counted buffers, `_release`); passing NULL to a destructor does
 * nothing. Every function returns an `ember_status`; on failure the message is
 * in `ember_last_error()` (thread-local, valid until the next ember call on
 * the same thread) and out-parameters are left untouched.
 *
 * Ownership is stated on every declaration. "borrowed" means ember keeps no
 * reference beyond the call; "caller owns" means the caller must release it.
 */
#ifndef EMBER_EMBER_H
#define EMBER_EMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EMBER_API __attribute__((visibility("default")))
#else
#define EMBER_API
#endif

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */
/* ------------------------------------------------------------------------ */

typedef enum ember_status {
    EMBER_SUCCESS = 0,
    EMBER_ERR_INVALID_ARG,        /* misuse of the API or bad user input */
    EMBER_ERR_OUT_OF_MEMORY,      /* host allocation failed */
    EMBER_ERR_DEVICE_OUT_OF_MEMORY, /* device allocation failed */
    EMBER_ERR_NOT_FOUND,          /* no such device / kind not present */
    EMBER_ERR_NOT_SUPPORTED,      /* valid request this device cannot do */
    EMBER_ERR_NO_DRIVER,          /* the CUDA driver library is absent */
    EMBER_ERR_DRIVER,             /* a CUDA driver call failed: see ember_last_driver_error */
    EMBER_ERR_DEVICE_MISMATCH,    /* objects of two different devices mixed */
    EMBER_ERR_OUT_OF_BOUNDS,      /* a view or copy would leave its buffer */
    EMBER_ERR_NOT_READY,          /* stream/event query: work still pending */
    EMBER_ERR_SYSTEM,             /* the OS, hwloc or pthreads failed */
    EMBER_ERR_INTERNAL,           /* a bug in ember: please report */
    EMBER_ERR_KERNEL_FAULT,       /* a kernel stopped early (e.g. recursion too deep) */
    EMBER_ERR_INDEX,              /* a kernel indexed outside an array (bounds checking on) */
    EMBER_ERR_INTERRUPTED,        /* a cpu-device launch stopped early, as its caller asked */
    EMBER_STATUS_COUNT
} ember_status;

/* A short constant English name for `status` ("out of host memory"). */
EMBER_API const char *ember_status_string(ember_status status);

/* The message of the last failed call on this thread ("" if none). The
 * string is owned by ember and valid until the next ember call on the thread. */
EMBER_API const char *ember_last_error(void);

/* The CUresult of the last failed CUDA driver call on this thread (0 if the
 * last error did not come from the driver), and its name ("CUDA_ERROR_..."). */
EMBER_API int ember_last_driver_error(void);
EMBER_API const char *ember_last_driver_error_name(void);

EMBER_API void ember_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Runtime lifetime                                                         */
/* ------------------------------------------------------------------------ */

/* Discovers the device kinds (cpu always; cuda when a driver and a device
 * exist). Idempotent and thread-safe; every other call performs it lazily. */
EMBER_API ember_status ember_init(void);

/* Releases every device, worker and cached allocation. Buffers still alive
 * become invalid. After it, ember_init may be called again. */
EMBER_API void ember_shutdown(void);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */
/* ------------------------------------------------------------------------ */

/* Devices are owned by the registry and valid until ember_shutdown. */
typedef struct ember_device *ember_device_t;

typedef enum ember_device_kind {
    EMBER_DEVICE_CPU = 0,
    EMBER_DEVICE_CUDA = 1,
    EMBER_DEVICE_KIND_COUNT
} ember_device_kind;

#define EMBER_NAME_MAX 256

typedef struct ember_device_info {
    ember_device_kind kind;
    int ordinal;                    /* index among devices of the same kind */
    char name[EMBER_NAME_MAX];      /* "NVIDIA H100 80GB HBM3", CPU model */
    int cc_major, cc_minor;         /* compute capability (0.0 for cpu) */
    uint64_t total_memory;          /* bytes */
    int multiprocessors;            /* SMs; for cpu: worker threads */
    int max_threads_per_block;      /* 1024 on both kinds */
    int warp_size;                  /* 32 on both kinds */
    size_t max_shared_memory_per_block; /* bytes */
    size_t max_shared_memory_per_block_optin; /* bytes, a kernel opted in (cpu: 9.0's) */
    char pci_bus_id[32];            /* "0000:65:00.0"; "" for cpu */
    char near_cpus[EMBER_NAME_MAX]; /* CPU list near the device ("0-15"); "" if unknown */
} ember_device_info;

/* Number of devices of `kind` (0 when the kind is absent). */
EMBER_API int ember_device_count(ember_device_kind kind);

/* Why `kind` is absent ("no CUDA driver found (looked in ...)"), or "" when
 * present. Owned by ember, valid until ember_shutdown. */
EMBER_API const char *ember_device_kind_unavailable_reason(ember_device_kind kind);

/* The `ordinal`-th device of `kind`. Borrowed (owned by the registry). */
EMBER_API ember_status ember_device_get(ember_device_kind kind, int ordinal,
                                        ember_device_t *out);

/* The default device: the first CUDA device if there is one, else the cpu
 * device; EMBER_DEVICE=cpu in the environment forces the cpu device. */
EMBER_API ember_status ember_device_default(ember_device_t *out);

/* Fills `*info` (caller-provided). */
EMBER_API ember_status ember_device_get_info(ember_device_t dev, ember_device_info *info);
EMBER_API ember_device_kind ember_device_get_kind(ember_device_t dev);

/* Free and total memory of the device, in bytes. */
EMBER_API ember_status ember_device_memory_info(ember_device_t dev, uint64_t *free_bytes,
                                                uint64_t *total_bytes);

/* Waits until all work queued on every stream of the device has finished. */
EMBER_API ember_status ember_device_synchronize(ember_device_t dev);

/* Starts (on) or stops a profiler's collection on the device (CUDA:
 * cuProfilerStart / cuProfilerStop, for Nsight and nvprof); does nothing on
 * a kind without one (the cpu device). */
EMBER_API ember_status ember_device_profiler(ember_device_t dev, bool on);

/* The host's topology as hwloc sees it (all fields 0 where unknown). */
typedef struct ember_cpu_topology {
    int packages, cores, pus, numa_nodes;
    uint64_t l1d_bytes, l2_bytes, l3_bytes; /* per-instance size of the first cache of each level */
    int workers;                            /* threads in ember's worker pool */
    char model[EMBER_NAME_MAX];             /* CPU model string */
    char blas[EMBER_NAME_MAX];              /* the BLAS library np.dot / @ of ember.jit
                                             * functions call ("" when none) */
} ember_cpu_topology;

EMBER_API ember_status ember_cpu_topology_get(ember_cpu_topology *out);

/* ------------------------------------------------------------------------ */
/* Streams and events                                                       */
/* ------------------------------------------------------------------------ */

/* A stream is an in-order queue of work on one device. NULL means the
 * device's default stream wherever a stream is taken. */
typedef struct ember_stream *ember_stream_t;
typedef struct ember_event *ember_event_t;

/* Caller owns *out; destroy it with ember_stream_destroy. */
EMBER_API ember_status ember_stream_create(ember_device_t dev, ember_stream_t *out);
/* Waits for the stream's work, then frees it. NULL does nothing. */
EMBER_API void ember_stream_destroy(ember_stream_t stream);

/* A stream of someone else's (CUstream on a cuda device: CuPy's, PyTorch's,
 * numba's) used by ember as its own; the caller keeps owning it, and
 * ember_stream_destroy frees only ember's wrapper, without waiting. The cpu
 * device has none to wrap: EMBER_ERR_NOT_SUPPORTED for a non-NULL handle. */
EMBER_API ember_status ember_stream_wrap(ember_device_t dev, void *native, ember_stream_t *out);

/* The kind's handle of `stream` (its CUstream), NULL for the default stream. */
EMBER_API void *ember_stream_native(ember_stream_t stream);
EMBER_API ember_status ember_stream_synchronize(ember_device_t dev, ember_stream_t stream);
/* EMBER_SUCCESS when idle, EMBER_ERR_NOT_READY when work is pending. */
EMBER_API ember_status ember_stream_query(ember_device_t dev, ember_stream_t stream);
EMBER_API ember_device_t ember_stream_device(ember_stream_t stream);

/* Graphs: the work queued on a stream between begin and end of a capture
 * (kernel launches and copies), recorded instead of run, and replayed as
 * one unit. CUDA: cuStreamBeginCapture / cuStreamEndCapture and an
 * instantiated CUgraphExec; the cpu device records the operations itself.
 * Replay uses the arguments as captured (the same device addresses, the
 * scalars' values then). `stream` must be a stream of ember_stream_create
 * or a wrapped one (not the default stream). While a capture is open,
 * synchronizing that stream or the device, and default-stream work on that
 * device, are refused with EMBER_ERR_INVALID_ARG (CUDA forbids them). */
typedef struct ember_graph *ember_graph_t;

EMBER_API ember_status ember_stream_begin_capture(ember_stream_t stream);
/* Ends the capture; caller owns *out (ember_graph_destroy). On failure
 * the capture is over all the same and nothing is returned. */
EMBER_API ember_status ember_stream_end_capture(ember_stream_t stream, ember_graph_t *out);
/* Whether a capture is open on `stream` (false for NULL). */
EMBER_API bool ember_stream_is_capturing(ember_stream_t stream);
/* Queues the graph's work on `stream` (NULL: the default stream) of the
 * graph's device; the cpu device runs it before returning. */
EMBER_API ember_status ember_graph_launch(ember_graph_t graph, ember_stream_t stream);
/* EMBER_ERR_INVALID_ARG, naming `what` ("launch a kernel"), when work on
 * `stream` of `dev` now would break an open capture's rules (see above);
 * for launch paths that do not go through ember_kernel_launch. */
EMBER_API ember_status ember_stream_check_capture(ember_device_t dev, ember_stream_t stream,
                                                  const char *what);
/* Number of operations (launches and copies) the capture recorded. */
EMBER_API size_t ember_graph_size(ember_graph_t graph);
/* Frees the graph (queued replays finish first on a GPU). NULL does nothing. */
EMBER_API void ember_graph_destroy(ember_graph_t graph);

/* Caller owns *out. `timing` enables elapsed-time measurement. */
EMBER_API ember_status ember_event_create(ember_device_t dev, bool timing, ember_event_t *out);
EMBER_API void ember_event_destroy(ember_event_t event);
/* Records the event on `stream` (NULL: default stream of the event's device). */
EMBER_API ember_status ember_event_record(ember_event_t event, ember_stream_t stream);
EMBER_API ember_status ember_event_synchronize(ember_event_t event);
EMBER_API ember_status ember_event_query(ember_event_t event);
/* Makes `stream` wait for `event` before running later work. */
EMBER_API ember_status ember_event_wait(ember_event_t event, ember_stream_t stream);
/* Milliseconds between two recorded events of the same device. */
EMBER_API ember_status ember_event_elapsed_ms(ember_event_t start, ember_event_t end,
                                              float *ms);

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */
/* ------------------------------------------------------------------------ */

/* A reference-counted allocation of one device. */
typedef struct ember_buffer *ember_buffer_t;

typedef enum ember_mem_kind {
    EMBER_MEM_DEVICE = 0, /* device memory (host memory on the cpu device) */
    EMBER_MEM_PINNED,     /* page-locked host memory, fast to copy */
    EMBER_MEM_MAPPED,     /* pinned host memory also mapped into the device */
    EMBER_MEM_HOST,       /* ordinary host memory wrapped by ember_buffer_wrap_host */
    EMBER_MEM_FOREIGN,    /* device memory owned by someone else (wrap_device) */
    EMBER_MEM_MANAGED,    /* unified memory: one address on host and device */
    EMBER_MEM_MANAGED_HOST /* managed memory attached to the host at first
                            * (CU_MEM_ATTACH_HOST, numba's attach_global=False) */
} ember_mem_kind;

/* Allocates `nbytes` (0 allowed) of `kind` on `dev`. Caller owns *out
 * (reference count 1). Device memory is 256-byte aligned. */
EMBER_API ember_status ember_buffer_create(ember_device_t dev, ember_mem_kind kind,
                                           size_t nbytes, ember_buffer_t *out);

/* Wraps host memory ember does not own (a NumPy array's data) as a buffer of
 * the cpu device. `release(release_ctx)` is called when the last reference
 * goes, if non-NULL. The buffer does not own `ptr`. Caller owns *out; on
 * failure `release` is not called. */
EMBER_API ember_status ember_buffer_wrap_host(void *ptr, size_t nbytes,
                                              void (*release)(void *), void *release_ctx,
                                              ember_buffer_t *out);

/* Wraps device memory of `dev` owned by someone else (another library's
 * array). Same ownership rules as ember_buffer_wrap_host. */
EMBER_API ember_status ember_buffer_wrap_device(ember_device_t dev, uint64_t device_ptr,
                                                size_t nbytes, void (*release)(void *),
                                                void *release_ctx, ember_buffer_t *out);

EMBER_API void ember_buffer_retain(ember_buffer_t buf);
/* Drops one reference; frees the memory with the last. NULL does nothing. */
EMBER_API void ember_buffer_release(ember_buffer_t buf);

EMBER_API size_t ember_buffer_size(ember_buffer_t buf);
EMBER_API ember_mem_kind ember_buffer_kind(ember_buffer_t buf);
EMBER_API ember_device_t ember_buffer_device(ember_buffer_t buf);
/* Host address of the memory, or NULL when it is not host-accessible. */
EMBER_API void *ember_buffer_host_ptr(ember_buffer_t buf);
/* Address the device uses (equals the host address on the cpu device). */
EMBER_API uint64_t ember_buffer_device_ptr(ember_buffer_t buf);

/* Allocates like ember_buffer_create, for first use on `stream` (NULL: the
 * device's default stream). On a CUDA device the caching pool may hand out
 * a block freed on that stream at once, as the stream orders the new work
 * after the old (cudaMallocAsync semantics). */
EMBER_API ember_status ember_buffer_create_on_stream(ember_device_t dev, ember_mem_kind kind,
                                                     size_t nbytes, ember_stream_t stream,
                                                     ember_buffer_t *out);

/* Tells ember that work queued on `stream` uses the buffer (PyTorch's
 * recordStream). When the buffer is freed, its memory is not reused by
 * another stream before that work has finished. Copies record their
 * stream themselves; code that queues its own work (kernel launches) calls
 * this. Wrapped buffers need no record: ember does not reuse their memory.
 * Both arguments are borrowed. */
EMBER_API ember_status ember_buffer_record_stream(ember_buffer_t buf, ember_stream_t stream);

/* Sets the `nbytes` bytes of `buf` from byte `offset` to `value`, run by
 * the buffer's device at its device address (CUDA: cuMemsetD8, also for
 * pinned and mapped memory; the cpu device: memset), queued on `stream`
 * (NULL: the device's default stream; it must be a stream of that device,
 * else EMBER_ERR_DEVICE_MISMATCH). The range must lie inside the buffer
 * (EMBER_ERR_OUT_OF_BOUNDS). Both arguments are borrowed. */
EMBER_API ember_status ember_buffer_memset(ember_buffer_t buf, size_t offset, uint8_t value,
                                           size_t nbytes, ember_stream_t stream);

/* ------------------------------------------------------------------------ */
/* Memory pools                                                             */
/* ------------------------------------------------------------------------ */

/* Device, pinned and mapped memory of a CUDA device comes from a caching
 * pool: freed blocks are kept by size class and handed out again without a
 * driver call, on the stream that last used them at once, on another stream
 * once the work queued before the free has finished (an event, never a
 * synchronisation). On out-of-memory the pool frees its cache, calls the
 * out-of-memory callback (Python: a garbage collection) and retries once.
 * EMBER_CUDA_POOL=0 in the environment turns caching off (every free goes
 * to the driver) for debugging. The cpu device does not cache (its memory
 * is the host allocator's) but counts the same statistics. */
typedef struct ember_pool_stats {
    uint64_t bytes_in_use;   /* bytes of the blocks live buffers hold (size-class bytes) */
    uint64_t bytes_cached;   /* bytes of the free blocks kept for reuse */
    uint64_t blocks_in_use, blocks_cached;
    uint64_t driver_allocs;  /* blocks allocated from the driver (cuMemAlloc, cuMemHostAlloc) */
    uint64_t driver_frees;   /* blocks given back to the driver */
    uint64_t hits;           /* allocations served from the cache */
    uint64_t misses;         /* allocations that went to the driver */
    uint64_t oom_recoveries; /* out-of-memory answered by trimming, collecting and retrying */
    uint64_t oom_failures;   /* allocations that failed even after that */
} ember_pool_stats;

/* The statistics of `dev`'s pool for memory of `kind` (device, pinned or
 * mapped). Fills `*out` (caller-provided). */
EMBER_API ember_status ember_pool_get_stats(ember_device_t dev, ember_mem_kind kind,
                                            ember_pool_stats *out);

/* Gives every cached block of `dev` (all kinds) back to the driver, after
 * waiting for the work that last used each one. Buffers in use stay. */
EMBER_API ember_status ember_pool_trim(ember_device_t dev);

/* Sets the function the pools call on out-of-memory, after freeing their
 * cache and before the one retry: it should free what it can (the Python
 * extension runs a garbage collection). It is called on the allocating
 * thread, with no ember lock held, and may release buffers. NULL removes
 * it. `ctx` is borrowed and passed back. */
EMBER_API void ember_pool_set_oom_callback(void (*callback)(void *ctx), void *ctx);

/* Page-locks `nbytes` of host memory at `ptr` (memory ember does not own,
 * such as a NumPy array's) for fast, asynchronous copies with `dev`
 * (cuMemHostRegister). A no-op on the cpu device. Undo it with
 * ember_host_unregister before the memory is freed. */
EMBER_API ember_status ember_host_register(ember_device_t dev, void *ptr, size_t nbytes);
/* Like ember_host_register, and also maps the range into the device's
 * address space (CU_MEMHOSTREGISTER_DEVICEMAP): *device is the address
 * kernels use for `ptr` (on the cpu device, `ptr` itself). */
EMBER_API ember_status ember_host_register_mapped(ember_device_t dev, void *ptr, size_t nbytes,
                                                  uint64_t *device);
EMBER_API ember_status ember_host_unregister(ember_device_t dev, void *ptr);

/* CUDA IPC (memory/ipc.c). ember_ipc_get_handle writes the 64-byte handle
 * of the allocation holding device address `ptr`, and that allocation's
 * base address and size (the importer adds ptr - base). ember_ipc_open, in
 * another process, maps a handle and gives the allocation's address there;
 * ember_ipc_close(dev, that address) unmaps it. Devices that cannot share
 * memory (the cpu device) return EMBER_ERR_NOT_SUPPORTED. */
EMBER_API ember_status ember_ipc_get_handle(ember_device_t dev, uint64_t ptr,
                                            unsigned char handle[64], uint64_t *base,
                                            size_t *size);
EMBER_API ember_status ember_ipc_open(ember_device_t dev, const unsigned char handle[64],
                                      uint64_t *ptr);
EMBER_API ember_status ember_ipc_close(ember_device_t dev, uint64_t ptr);

/* ------------------------------------------------------------------------ */
/* Array descriptors                                                        */
/* ------------------------------------------------------------------------ */

typedef enum ember_dtype {
    EMBER_BOOL = 0,
    EMBER_INT8, EMBER_INT16, EMBER_INT32, EMBER_INT64,
    EMBER_UINT8, EMBER_UINT16, EMBER_UINT32, EMBER_UINT64,
    EMBER_FLOAT16, EMBER_FLOAT32, EMBER_FLOAT64,
    EMBER_COMPLEX64, EMBER_COMPLEX128,
    EMBER_RECORD, /* a NumPy structured dtype's item: bytes the runtime copies and never
                   * reads; its size is the array's itemsize (ember_array_init_record) */
    EMBER_DTYPE_COUNT
} ember_dtype;

/* 0 for an invalid dtype and for EMBER_RECORD, whose size each array gives. */
EMBER_API size_t ember_dtype_size(ember_dtype dtype);
EMBER_API const char *ember_dtype_name(ember_dtype dtype); /* "float32"; "?" if invalid */

#define EMBER_MAX_NDIM 32

/* An n-dimensional view of a buffer. A plain struct the caller stores; it
 * holds one reference to `buffer` between ember_array_init and
 * ember_array_fini. Strides are in bytes and may be negative or zero. */
typedef struct ember_array {
    ember_buffer_t buffer;          /* owned reference */
    ember_dtype dtype;
    int64_t itemsize;               /* bytes per element: ember_dtype_size(dtype), or the
                                     * record's size for EMBER_RECORD */
    int ndim;                       /* 0 ... EMBER_MAX_NDIM */
    int64_t shape[EMBER_MAX_NDIM];
    int64_t strides[EMBER_MAX_NDIM];
    int64_t offset;                 /* bytes from the buffer start to element [0,...,0] */
} ember_array;

/* Sets up `*a` as a view of `buffer` (retained) after checking that every
 * element lies inside the buffer. `strides` NULL means C-contiguous. On
 * failure `*a` is untouched and nothing is retained. `dtype` may not be
 * EMBER_RECORD (ember_array_init_record gives the records' size). */
EMBER_API ember_status ember_array_init(ember_array *a, ember_buffer_t buffer, ember_dtype dtype,
                                        int ndim, const int64_t *shape, const int64_t *strides,
                                        int64_t offset);

/* ember_array_init for an array of EMBER_RECORD items of `itemsize` (> 0)
 * bytes each. */
EMBER_API ember_status ember_array_init_record(ember_array *a, ember_buffer_t buffer,
                                               int64_t itemsize, int ndim, const int64_t *shape,
                                               const int64_t *strides, int64_t offset);

/* Allocates a new buffer on `dev` and views it as a C- (order 'C') or
 * Fortran- (order 'F') contiguous array (`dtype` not EMBER_RECORD). */
EMBER_API ember_status ember_array_create(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                                          ember_dtype dtype, int ndim, const int64_t *shape,
                                          char order);

/* ember_array_create for EMBER_RECORD items of `itemsize` (> 0) bytes. */
EMBER_API ember_status ember_array_create_record(ember_array *a, ember_device_t dev,
                                                 ember_mem_kind kind, int64_t itemsize, int ndim,
                                                 const int64_t *shape, char order);

/* Releases the buffer reference and zeroes `*a`. Safe on a zeroed struct. */
EMBER_API void ember_array_fini(ember_array *a);

EMBER_API int64_t ember_array_size(const ember_array *a);     /* number of elements */
EMBER_API int64_t ember_array_nbytes(const ember_array *a);   /* size * itemsize */
EMBER_API bool ember_array_is_c_contiguous(const ember_array *a);
EMBER_API bool ember_array_is_f_contiguous(const ember_array *a);

/* Copies `src` into `dst` element by element. Shapes and dtypes (records:
 * their sizes) must be equal; the two may live on any devices (host ↔ device ↔ device) and have
 * any strides. On a non-NULL `stream` the copy is queued; a strided copy that
 * must be staged through host memory synchronises the stream first. Both
 * arrays are borrowed. */
EMBER_API ember_status ember_array_copy(const ember_array *dst, const ember_array *src,
                                        ember_stream_t stream);

/* ------------------------------------------------------------------------ */
/* Modules and kernels (device code loaded on a GPU)                        */
/* ------------------------------------------------------------------------ */

/* A module is device code loaded on one device (today: PTX on a CUDA
 * device); a kernel is one of its entry points. Kernels are owned by their
 * module: a kernel handle is valid until its module is destroyed.
 *
 * Kernel ABI (the one ember's compiler emits): the arguments are packed into
 * one byte buffer, each at an 8-aligned offset (a scalar in an 8-byte slot,
 * an array as {data pointer, shape[ndim], strides[ndim]}, tuples flattened),
 * and the kernel takes the buffer's 8-byte slots as its parameters, in
 * order. A module may define the global `ember_fault` ({int32 fault, int32
 * site}, zero-initialised) that kernels with bounds checks or recursion
 * write when they stop early; ember_module_take_fault reads it. */
typedef struct ember_module *ember_module_t;
typedef struct ember_kernel *ember_kernel_t;

/* The largest argument buffer any device takes: CUDA's kernel parameter
 * space from Volta (cc 7.0) with a CUDA 12.1+ driver. Older devices or
 * drivers take 4096 bytes; ember_kernel_launch checks the device's own. */
#define EMBER_MAX_ARGS_BYTES 32764

/* Loads the NUL-terminated PTX text `ptx` (borrowed; not needed after the
 * call) on `dev` with the driver's JIT. Caller owns *out (destroy it with
 * ember_module_destroy). When the JIT rejects the PTX: EMBER_ERR_DRIVER,
 * the driver's error (CUDA_ERROR_INVALID_PTX, ...) as the last driver error
 * and the JIT's log in ember_last_error(). EMBER_ERR_NOT_SUPPORTED on a
 * device kind that does not load device code (the cpu device). On failure
 * *out is untouched and nothing is held. */
EMBER_API ember_status ember_module_load_ptx(ember_device_t dev, const char *ptx,
                                             ember_module_t *out);

/* What one input of ember_module_load_linked holds (the values of the
 * driver's CUjitInputType). */
typedef enum ember_link_kind {
    EMBER_LINK_CUBIN = 0,
    EMBER_LINK_PTX = 1,
    EMBER_LINK_FATBIN = 2,
    EMBER_LINK_OBJECT = 3,  /* a relocatable device object (.o) */
    EMBER_LINK_LIBRARY = 4, /* an archive of them (.a) */
    EMBER_LINK_LTOIR = 5,   /* NVVM LTO-IR (.ltoir): the whole link goes through nvJitLink
                             * with -lto (devices/cuda/nvjitlink.c), not the driver */
} ember_link_kind;

/* One input of ember_module_load_linked: `size` bytes at `data`, named
 * `name` in the linker's messages; or, with data NULL, the file at path
 * `name`. All borrowed for the call. */
typedef struct ember_link_input {
    ember_link_kind kind;
    const void *data;
    size_t size;
    const char *name;
} ember_link_input;

/* As ember_module_load_ptx, but the PTX is first linked with `inputs` (the
 * foreign code its `.extern .func` declarations call) by the driver's
 * linker (cuLinkCreate, cuLinkAddData/cuLinkAddFile, cuLinkComplete); the
 * module is the linked image. A failed link is EMBER_ERR_DRIVER with the
 * linker's error log in ember_last_error() and the input that failed named.
 * ninputs 0 is ember_module_load_ptx through the linker. */
EMBER_API ember_status ember_module_load_linked(ember_device_t dev, const char *ptx,
                                                const ember_link_input *inputs, size_t ninputs,
                                                ember_module_t *out);

/* Links `inputs` with the driver's linker for `dev` (its compute
 * capability) without loading the result: *image (the linked cubin, *size
 * bytes) is the caller's, to free with ember_link_image_free. Errors as
 * ember_module_load_linked; on failure *image is NULL. */
EMBER_API ember_status ember_link_image(ember_device_t dev, const ember_link_input *inputs,
                                        size_t ninputs, void **image, size_t *size);
/* Frees an image of ember_link_image; NULL does nothing. */
EMBER_API void ember_link_image_free(void *image);

/* Waits for the device's queued work (its kernels may still be running),
 * then unloads the module; every kernel handle of it becomes invalid. NULL
 * does nothing. Like buffers, modules must be destroyed before
 * ember_shutdown. */
EMBER_API void ember_module_destroy(ember_module_t module);

/* The device the module is loaded on (borrowed from the registry). */
EMBER_API ember_device_t ember_module_device(ember_module_t module);

/* The kernel (PTX `.entry`) named `name` (borrowed; copied). *out is owned
 * by the module: valid until ember_module_destroy, the same handle for the
 * same name. EMBER_ERR_NOT_FOUND, naming it, when the module has none.
 * Thread-safe. */
EMBER_API ember_status ember_module_get_kernel(ember_module_t module, const char *name,
                                               ember_kernel_t *out);

/* The kernel's name (owned by the module) and the most threads per block it
 * can be launched with (its registers and .maxntid may make this less than
 * the device's limit). */
EMBER_API const char *ember_kernel_name(ember_kernel_t kernel);
EMBER_API int ember_kernel_max_threads(ember_kernel_t kernel);

/* Queues `kernel` on `stream` (NULL: the default stream of the module's
 * device; else a stream of that device) with a grid of grid[0] x grid[1] x
 * grid[2] blocks of block[0] x block[1] x block[2] threads, `shared_bytes`
 * of dynamic shared memory per block and the packed argument buffer `args`
 * of `args_size` bytes (borrowed: copied before the call returns; NULL when
 * args_size is 0). Asynchronous: a fault inside the kernel shows at the next
 * synchronisation (and in ember_module_take_fault).
 *
 * Rejected with EMBER_ERR_INVALID_ARG before the driver is called, saying
 * which limit: a dimension of 0 or above the device's limit per dimension
 * (block 1024 x 1024 x 64, grid 2^31-1 x 65535 x 65535 on current GPUs);
 * more threads per block than the device (1024) or the kernel allows;
 * dynamic plus the kernel's static shared memory above the device's
 * per-block limit (48 KiB without opting in); args_size not a multiple of 8
 * (the kernel takes 8-byte parameters) or above the device's parameter
 * space (EMBER_MAX_ARGS_BYTES, 4096 on pre-Volta devices or pre-12.1
 * drivers). A failed driver call returns EMBER_ERR_DRIVER with the
 * CUresult's name and the call (ember_last_driver_error_name). */
EMBER_API ember_status ember_kernel_launch(ember_kernel_t kernel, const uint32_t grid[3],
                                           const uint32_t block[3], size_t shared_bytes,
                                           ember_stream_t stream, const void *args,
                                           size_t args_size);

/* Whether the kernel's module calls grid.sync() (cuda.cg.this_grid().sync()):
 * ember_kernel_launch then launches it cooperatively (cuLaunchCooperativeKernel)
 * and refuses, with EMBER_ERR_INVALID_ARG naming the limit, a grid of more
 * blocks than can be resident on the device at once. */
EMBER_API bool ember_kernel_cooperative(ember_kernel_t kernel);
/* That limit for blocks of block[0] x [1] x [2] threads with `shared_bytes`
 * of dynamic shared memory: the kernel's active blocks per multiprocessor
 * (the driver's occupancy calculator) times the device's multiprocessors. */
EMBER_API ember_status ember_kernel_max_cooperative_blocks(ember_kernel_t kernel,
                                                           const uint32_t block[3],
                                                           size_t shared_bytes,
                                                           int64_t *blocks);

/* The block size that gives `kernel` the highest occupancy with
 * `shared_bytes` of dynamic shared memory per block, and the smallest grid
 * that keeps the whole device busy with it (min_grid_size may be NULL). */
EMBER_API ember_status ember_kernel_max_block_size(ember_kernel_t kernel, size_t shared_bytes,
                                                   int *block_size, int *min_grid_size);

/* Reads the module's fault record and clears it: *fault is 0 when no kernel
 * stopped early, else a fault code (1: recursion too deep, 2: an index out
 * of bounds) and *site where (the compiler's numbering of its bounds
 * checks). Both are 0 when the module has no `ember_fault` global. Call it
 * after synchronising the streams its kernels ran on. The record is shared
 * by every launch of the module's kernels: it holds a fault that one of
 * them reported since the last call (concurrent reports overwrite). */
EMBER_API ember_status ember_module_take_fault(ember_module_t module, int32_t *fault,
                                               int32_t *site);
/* ember_module_take_fault, plus where the fault happened when the kernels
 * record it (ember's do): where[0..2] threadIdx, where[3..5] blockIdx;
 * zeros otherwise. `where` may be NULL. */
EMBER_API ember_status ember_module_take_fault_where(ember_module_t module, int32_t *fault,
                                                     int32_t *site, int32_t where[6]);

/* ------------------------------------------------------------------------ */
/* Transfer counters                                                        */
/* ------------------------------------------------------------------------ */

/* Direction is decided by the memory kinds: HOST/PINNED/MAPPED memory is the
 * host side; DEVICE/FOREIGN memory (of any device, the cpu device included)
 * is the device side. */
typedef enum ember_copy_dir {
    EMBER_COPY_HTOD = 0,
    EMBER_COPY_DTOH,
    EMBER_COPY_DTOD,
    EMBER_COPY_HTOH,
    EMBER_COPY_DIR_COUNT
} ember_copy_dir;

typedef struct ember_transfer_stats {
    uint64_t bytes[EMBER_COPY_DIR_COUNT];  /* payload bytes moved */
    uint64_t copies[EMBER_COPY_DIR_COUNT]; /* ember_array_copy calls */
    uint64_t allocations, frees;           /* buffers ember allocated (device, pinned, mapped) */
    uint64_t bytes_allocated;              /* live bytes of those buffers */
} ember_transfer_stats;

EMBER_API void ember_stats_get(ember_transfer_stats *out);
EMBER_API void ember_stats_reset(void);

#ifdef __cplusplus
}
#endif
#endif /* EMBER_EMBER_H */
