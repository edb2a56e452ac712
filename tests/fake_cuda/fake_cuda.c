/*
 * fake_cuda.c — a TEST DOUBLE of libcuda.so.1. It is not a GPU and runs no
 * kernels.
 *
 * It exports, with C linkage, the driver entry points ember loads (same
 * symbol names, same signatures as CUDA 13's cuda.h) and implements them
 * over host memory, so that ember's cuda device kind — enumeration, memory,
 * copies, streams, events, error paths — runs in CI on machines without a
 * GPU. Tests select it with EMBER_CUDA_DRIVER=<path of this library>.
 *
 * What it models, and how honestly:
 *   - FAKE_CUDA_DEVICES (default 1, at most 16) devices named
 *     "Fake CUDA Device N" with compute capability 9.0, 132 SMs, 80 GiB,
 *     PCI bus id "0000:0N:00.0" (N = ordinal, in hex), 1024 threads per
 *     block, warp 32, 48 KiB shared memory per block.
 *   - Device memory is host memory behind addresses that are NOT host
 *     pointers: allocation k lives at 0x7e0000000000 plus a running offset
 *     in 4 GiB steps, with an unmapped gap after each. ember code that
 *     dereferences a device address crashes instead of passing; a copy that
 *     leaves its allocation returns CUDA_ERROR_INVALID_VALUE. Fresh device
 *     memory is filled with 0xCD (the driver does not zero it either).
 *     Allocating beyond 80 GiB per device (FAKE_CUDA_MEMORY bytes when set)
 *     returns CUDA_ERROR_OUT_OF_MEMORY.
 *   - Mapped host memory (CU_MEMHOSTALLOC_DEVICEMAP) gets a device alias in
 *     the same fake range, so host and device addresses differ.
 *   - Calls other than cuInit, cuDriverGetVersion and cuGetError* return
 *     CUDA_ERROR_NOT_INITIALIZED before cuInit; calls that need a context
 *     return CUDA_ERROR_INVALID_CONTEXT when the thread has no current,
 *     retained one (this is how the tests see that ember binds contexts).
 *   - Streams execute each operation when it is submitted, so everything is
 *     always complete; events record a CLOCK_MONOTONIC timestamp and
 *     cuEventElapsedTime returns the difference in ms. A test can hold
 *     recorded events "pending" (below) to play work still in flight.
 *   - cuMemHostRegister/Unregister keep a list of registered ranges and
 *     refuse overlapping or unknown ones as the driver does; a range
 *     registered with DEVICEMAP gets a device alias in the fake range
 *     (cuMemHostGetDevicePointer), dropped at unregister.
 *   - IPC: cuIpcGetMemHandle takes the base of a cuMemAlloc allocation
 *     (else CUDA_ERROR_INVALID_VALUE) and writes "FAKEIPC", the address, the
 *     size and the process id into the 64 bytes. A test double cannot share
 *     memory with another process, so cuIpcOpenMemHandle plays the importer
 *     in the same process (the real driver refuses that): it maps the same
 *     bytes at a NEW device address, until cuIpcCloseMemHandle of that
 *     address; a handle of another process answers CUDA_ERROR_INVALID_HANDLE.
 *     cuMemGetAddressRange finds the allocation holding an address.
 *   - cuDeviceGetAttribute knows only the attributes ember asks for and
 *     returns CUDA_ERROR_INVALID_VALUE for the others.
 *   - Modules are the PTX text they were loaded from. cuModuleLoadDataEx
 *     accepts text containing ".entry", else returns CUDA_ERROR_INVALID_PTX
 *     with a ptxas-like line in the CU_JIT_ERROR_LOG_BUFFER.
 *     cuModuleGetFunction finds ".entry <name>" (else CUDA_ERROR_NOT_FOUND);
 *     its parameter count is the number of ".param" in the entry's list,
 *     its thread limit the entry's ".maxntid" (else 1024) and its static
 *     shared memory the sum of the module's ".shared ... name[N]".
 *     cuModuleGetGlobal finds a ".global ... name[N]" declaration, backed by
 *     N zeroed bytes of fake device memory. cuLaunchKernel checks the
 *     configuration as the driver does and records it; no kernel runs.
 *     cuOccupancyMaxPotentialBlockSize answers for 2048 threads per SM.
 *     cuOccupancyMaxActiveBlocksPerMultiprocessor: 2048 threads and 228
 *     KiB of shared memory per SM, at most 32 blocks. cuLaunchCooperativeKernel
 *     refuses more blocks than that times the 132 SMs
 *     (CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE), else is cuLaunchKernel
 *     with kernel_params, recorded as cooperative.
 *
 * Test controls (not part of the CUDA API; tests reach them with dlsym):
 *   FAKE_CUDA_INIT_ERROR=<code>  makes cuInit fail with that CUresult.
 *   fake_cuda_live(what)         live "mem" (device allocations), "host"
 *                                (pinned allocations), "stream", "event",
 *                                "ctx" (primary-context retains), so tests
 *                                can see that ember released everything.
 *   fake_cuda_set_busy(n)        the next n stream/event queries answer
 *                                CUDA_ERROR_NOT_READY.
 *   fake_cuda_hold_events(on)    while on, events recorded stay pending:
 *                                cuEventQuery answers CUDA_ERROR_NOT_READY
 *                                until cuEventSynchronize, or until
 *                                hold_events(0) completes them all.
 *   fake_cuda_count(what)        calls made so far: "cuMemAlloc",
 *                                "cuMemFree", "cuMemHostAlloc",
 *                                "cuEventRecord", "cuCtxSynchronize",
 *                                "cuStreamSynchronize", "cuEventSynchronize",
 *                                "cuProfilerStart", "cuProfilerStop",
 *                                "cuIpcGetMemHandle", "cuIpcOpenMemHandle",
 *                                "cuIpcCloseMemHandle",
 *                                "cuMemAllocManaged(ATTACH_HOST)" (those
 *                                with flags CU_MEM_ATTACH_HOST).
 *   fake_live("registered")      host ranges registered now.
 *   fake_cuda_live("ipc")        IPC handles open now.
 *   fake_cuda_live("module")     loaded modules.
 *   fake_cuda_live("link")       link states not destroyed (cuLinkCreate,
 *                                the section at the end of this file).
 *   fake_cuda_last_launch(...)   the last launch's grid, block, shared
 *                                bytes, stream, parameter bytes and name.
 *   fake_cuda_fault_next_launch(fault, site)  the next launch writes them
 *                                into its module's ember_fault.
 *   fake_cuda_crash_next_launch(code)  the next launch "faults" as a kernel
 *                                would: cuCtxSynchronize (and stream syncs)
 *                                answer that CUresult from then on, as a
 *                                sticky error does.
 *   - Stream capture (cuStreamBeginCapture .. cuStreamEndCapture) records
 *     the copies, memsets and launches queued on the stream instead of running
 *     them; cuGraphInstantiateWithFlags copies the record and cuGraphLaunch
 *     replays it in order on its stream. While a capture is open,
 *     synchronizing the capturing stream or the context answers
 *     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and default-stream copies,
 *     launches and syncs CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, as the driver.
 *     fake_cuda_live("graph") / ("graphexec") count live graphs.
 *   fake_cuda_log(on)            from now on (1) record the copies, launches
 *                                and stream synchronisations in order, one
 *                                line each ("htod <stream> <bytes> pinned|
 *                                pageable", "dtoh ...", "launch <stream>",
 *                                "memset <stream> <bytes>", "sync <stream>";
 *                                during a capture
 *                                "capture htod|dtoh|memset|launch ...", and
 *                                "func_attribute <attr> <value>" for
 *                                cuFuncSetAttribute;
 *                                "begin_capture <stream>", "end_capture
 *                                <stream> <ops>", "graph_launch <stream>
 *                                <ops>" around them; streams numbered in the
 *                                order first seen, 0 the default stream);
 *                                fake_cuda_log_text(buf, cap) copies them.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_UNKNOWN = 999,
};

#define MAX_DEVICES 16
#define DEVICE_MEMORY (80ull << 30)
#define DEV_BASE 0x7e0000000000ull
#define DEV_STEP (1ull << 32)
#define MEMHOSTALLOC_PORTABLE 0x01
#define MEMHOSTALLOC_DEVICEMAP 0x02
#define MEMHOSTALLOC_WRITECOMBINED 0x04
#define EVENT_DISABLE_TIMING 0x02

/* ---- state --------------------------------------------------------------- */

struct ctx {             /* a primary context (handed out as CUcontext) */
    int device;
    int refs;            /* cuDevicePrimaryCtxRetain - Release */
};

struct alloc {           /* one allocation, device or host */
    CUdeviceptr dev;     /* device address; 0 for pinned memory without DEVICEMAP */
    char *host;          /* backing (device memory) or the pinned memory itself */
    size_t size;
    int device;          /* owning device */
    int is_host;         /* from cuMemHostAlloc */
    int is_global;       /* a module's global variable (freed with its module) */
    int is_registered;   /* the device alias of a DEVICEMAP cuMemHostRegister range */
    int is_ipc;          /* a cuIpcOpenMemHandle mapping of another allocation's bytes */
    int owns_backing;    /* is_ipc: the exporter freed its allocation, free host at close */
    struct alloc *next;
};

struct graph;

struct stream {
    unsigned magic;
    int device;
    struct graph *capture; /* open stream capture, or NULL */
    struct stream *next;
};

struct event {
    unsigned magic;
    unsigned flags;
    int recorded;
    int pending;         /* recorded while events were held: not complete */
    uint64_t ns;
    struct event *next;
};

#define STREAM_MAGIC 0x57AEA41u
#define EVENT_MAGIC 0xE7E47u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static struct ctx contexts[MAX_DEVICES];
static struct alloc *allocs;
static struct stream *streams;
static struct event *events;
static CUdeviceptr next_dev = DEV_BASE;
static uint64_t used[MAX_DEVICES]; /* device bytes in use */
static int busy;                   /* queries left that answer NOT_READY */
static int hold;                   /* events recorded now stay pending */
struct range {                     /* a cuMemHostRegister'ed host range */
    char *p;
    size_t n;
    struct range *next;
};
static struct range *registered;
enum { N_MEMALLOC, N_MEMFREE, N_HOSTALLOC, N_EVRECORD, N_CTXSYNC, N_STREAMSYNC, N_EVSYNC,
       N_PROFSTART, N_PROFSTOP, N_IPCGET, N_IPCOPEN, N_IPCCLOSE, N_MANAGEDHOST, N_COUNT };
static long counts[N_COUNT];
static const char *const count_names[N_COUNT] = {
    "cuMemAlloc", "cuMemFree", "cuMemHostAlloc", "cuEventRecord", "cuCtxSynchronize",
    "cuStreamSynchronize", "cuEventSynchronize", "cuProfilerStart", "cuProfilerStop",
    "cuIpcGetMemHandle", "cuIpcOpenMemHandle", "cuIpcCloseMemHandle",
    "cuMemAllocManaged(ATTACH_HOST)"};

static void count(int what)
{
    pthread_mutex_lock(&lock);
    counts[what]++;
    pthread_mutex_unlock(&lock);
}

/* Device memory size: FAKE_CUDA_MEMORY bytes, else 80 GiB. */
static uint64_t device_memory(void)
{
    const char *env = getenv("FAKE_CUDA_MEMORY");
    if (env && env[0]) {
        unsigned long long v = strtoull(env, NULL, 10);
        if (v > 0)
            return v;
    }
    return DEVICE_MEMORY;
}
static _Thread_local struct ctx *current;

static int device_count(void)
{
    const char *env = getenv("FAKE_CUDA_DEVICES");
    if (!env || !env[0])
        return 1;
    int n = atoi(env);
    return n < 0 ? 0 : n > MAX_DEVICES ? MAX_DEVICES : n;
}

static int valid_device(CUdevice d) { return d >= 0 && d < device_count(); }

/* The context calls run in: current, retained, initialised. */
static CUresult need_ctx(void)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!current || current->refs <= 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    return CUDA_SUCCESS;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Host bytes behind [addr, addr + n) of one device allocation, or NULL when
 * the range is not wholly inside one. Caller holds the lock. */
static char *translate(CUdeviceptr addr, size_t n)
{
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->dev && addr >= a->dev && addr - a->dev <= a->size && n <= a->size - (addr - a->dev))
            return a->host + (addr - a->dev);
    return NULL;
}

/* translate, or (unified addressing) the host address of pinned or
 * registered host memory, which the device may use as is. */
static char *translate_uva(CUdeviceptr addr, size_t n)
{
    char *p = translate(addr, n);
    if (p)
        return p;
    for (struct alloc *a = allocs; a; a = a->next) {
        uintptr_t h = (uintptr_t)a->host;
        if (a->is_host && a->host && addr >= h && addr - h <= a->size && n <= a->size - (addr - h))
            return (char *)(uintptr_t)addr;
    }
    return NULL;
}

static CUdeviceptr take_device_range(size_t size)
{
    CUdeviceptr d = next_dev;
    next_dev += ((size + DEV_STEP - 1) / DEV_STEP + 1) * DEV_STEP; /* and an unmapped gap */
    return d;
}

static int stream_ok(void *s)
{
    if (!s)
        return 1; /* the legacy default stream */
    for (struct stream *p = streams; p; p = p->next)
        if (p == s)
            return p->magic == STREAM_MAGIC;
    return 0;
}

static struct event *event_find(void *e)
{
    for (struct event *p = events; p; p = p->next)
        if (p == e && p->magic == EVENT_MAGIC)
            return p;
    return NULL;
}

/* ---- errors --------------------------------------------------------------- */

static const struct {
    CUresult code;
    const char *name, *text;
} errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
     "too many resources requested for launch"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed "
     "in the present state"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT",
     "operation would make the legacy stream depend on a capturing blocking stream"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

EXPORT CUresult cuGetErrorName(CUresult error, const char **str)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == error) {
            *str = errors[i].name;
            return CUDA_SUCCESS;
        }
    *str = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **str)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == error) {
            *str = errors[i].text;
            return CUDA_SUCCESS;
        }
    *str = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

/* ---- initialisation and devices --------------------------------------- */

EXPORT CUresult cuInit(unsigned int flags)
{
    const char *fail = getenv("FAKE_CUDA_INIT_ERROR");
    if (fail && fail[0] && atoi(fail) != 0)
        return atoi(fail);
    if (flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    initialized = 1;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *version)
{
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    *version = 13000;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *count)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = device_count();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(ordinal))
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "Fake CUDA Device %d", dev);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    switch (attrib) {
    case 1: *value = 1024; break;         /* MAX_THREADS_PER_BLOCK */
    case 2: *value = 1024; break;         /* MAX_BLOCK_DIM_X */
    case 3: *value = 1024; break;         /* MAX_BLOCK_DIM_Y */
    case 4: *value = 64; break;           /* MAX_BLOCK_DIM_Z */
    case 5: *value = 2147483647; break;   /* MAX_GRID_DIM_X */
    case 6: *value = 65535; break;        /* MAX_GRID_DIM_Y */
    case 7: *value = 65535; break;        /* MAX_GRID_DIM_Z */
    case 8: *value = 48 * 1024; break;    /* MAX_SHARED_MEMORY_PER_BLOCK */
    case 10: *value = 32; break;          /* WARP_SIZE */
    case 16: *value = 132; break;         /* MULTIPROCESSOR_COUNT */
    case 19: *value = 1; break;           /* CAN_MAP_HOST_MEMORY */
    case 33: *value = dev; break;         /* PCI_BUS_ID */
    case 34: *value = 0; break;           /* PCI_DEVICE_ID */
    case 41: *value = 1; break;           /* UNIFIED_ADDRESSING */
    case 50: *value = 0; break;           /* PCI_DOMAIN_ID */
    case 75: *value = 9; break;           /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; break;           /* COMPUTE_CAPABILITY_MINOR */
    case 97: *value = 227 * 1024; break;  /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetPCIBusId(char *bus_id, int len, CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!bus_id || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(bus_id, (size_t)len, "0000:%02x:00.0", dev);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    *bytes = (size_t)device_memory();
    return CUDA_SUCCESS;
}

/* ---- contexts ------------------------------------------------------------- */

EXPORT CUresult cuDevicePrimaryCtxRetain(void **pctx, CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    contexts[dev].device = dev;
    contexts[dev].refs++;
    pthread_mutex_unlock(&lock);
    *pctx = &contexts[dev];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (dev < 0 || dev >= MAX_DEVICES)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&lock);
    CUresult r = contexts[dev].refs > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
    if (r == CUDA_SUCCESS)
        contexts[dev].refs--;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuCtxSetCurrent(void *ctx)
{
    if (!initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    struct ctx *c = ctx;
    if (c && (c < contexts || c >= contexts + MAX_DEVICES || c->refs <= 0))
        return CUDA_ERROR_INVALID_CONTEXT;
    current = c;
    return CUDA_SUCCESS;
}

static int crash_next, sticky_error; /* fake_cuda_crash_next_launch */

EXPORT void fake_cuda_crash_next_launch(int code)
{
    pthread_mutex_lock(&lock);
    crash_next = code;
    pthread_mutex_unlock(&lock);
}

static int capturing; /* streams with an open capture */

EXPORT CUresult cuCtxSynchronize(void)
{
    count(N_CTXSYNC);
    if (capturing)
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (sticky_error)
        return (CUresult)sticky_error;
    return need_ctx();
}

/* ---- memory --------------------------------------------------------------- */

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!free_bytes || !total_bytes)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *free_bytes = (size_t)(device_memory() - used[current->device]);
    *total_bytes = (size_t)device_memory();
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!dptr || bytes == 0)
        return CUDA_ERROR_INVALID_VALUE;
    int dev = current->device;
    pthread_mutex_lock(&lock);
    counts[N_MEMALLOC]++;
    if (used[dev] > device_memory() || bytes > device_memory() - used[dev]) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct alloc *a = calloc(1, sizeof *a);
    char *backing = a ? malloc(bytes) : NULL;
    if (!backing) {
        free(a);
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memset(backing, 0xCD, bytes < (64u << 20) ? bytes : (64u << 20));
    a->host = backing;
    a->size = bytes;
    a->device = dev;
    a->dev = take_device_range(bytes);
    a->next = allocs;
    allocs = a;
    used[dev] += bytes;
    *dptr = a->dev;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuProfilerStart(void)
{
    CUresult r = need_ctx();
    if (r == CUDA_SUCCESS)
        count(N_PROFSTART);
    return r;
}

EXPORT CUresult cuProfilerStop(void)
{
    CUresult r = need_ctx();
    if (r == CUDA_SUCCESS)
        count(N_PROFSTOP);
    return r;
}

/* Managed memory: host memory whose device address is its host address,
 * freed with cuMemFree as device memory is. */
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!dptr || bytes == 0 || (flags != 1 && flags != 2))
        return CUDA_ERROR_INVALID_VALUE;
    int dev = current->device;
    struct alloc *a = calloc(1, sizeof *a);
    void *p = NULL;
    if (!a || posix_memalign(&p, 4096, bytes) != 0) {
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&lock);
    counts[N_MEMALLOC]++;
    if (flags == 2)
        counts[N_MANAGEDHOST]++;
    a->host = p;
    a->size = bytes;
    a->device = dev;
    a->dev = (CUdeviceptr)(uintptr_t)p;
    a->next = allocs;
    allocs = a;
    used[dev] += bytes;
    *dptr = a->dev;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (dptr == 0)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    counts[N_MEMFREE]++;
    for (struct alloc **pp = &allocs; *pp; pp = &(*pp)->next) {
        struct alloc *a = *pp;
        if (!a->is_host && !a->is_global && !a->is_ipc && a->dev == dptr) {
            *pp = a->next;
            used[a->device] -= a->size;
            int kept = 0; /* an open IPC mapping keeps the bytes, as the driver does */
            for (struct alloc *m = allocs; m; m = m->next)
                if (m->is_ipc && m->host == a->host && !kept)
                    kept = m->owns_backing = 1;
            pthread_mutex_unlock(&lock);
            if (!kept)
                free(a->host);
            free(a);
            return CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!pp || bytes == 0 ||
        (flags & ~(unsigned)(MEMHOSTALLOC_PORTABLE | MEMHOSTALLOC_DEVICEMAP |
                             MEMHOSTALLOC_WRITECOMBINED)))
        return CUDA_ERROR_INVALID_VALUE;
    count(N_HOSTALLOC);
    struct alloc *a = calloc(1, sizeof *a);
    void *p = NULL;
    if (!a || posix_memalign(&p, 4096, bytes) != 0) {
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&lock);
    a->host = p;
    a->size = bytes;
    a->device = current->device;
    a->is_host = 1;
    if (flags & MEMHOSTALLOC_DEVICEMAP)
        a->dev = take_device_range(bytes);
    a->next = allocs;
    allocs = a;
    pthread_mutex_unlock(&lock);
    *pp = p;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFreeHost(void *p)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    for (struct alloc **pp = &allocs; *pp; pp = &(*pp)->next) {
        struct alloc *a = *pp;
        if (a->is_host && !a->is_registered && a->host == p) {
            *pp = a->next;
            pthread_mutex_unlock(&lock);
            free(a->host);
            free(a);
            return CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *dptr, void *p, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!dptr || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->is_host && a->dev && (char *)p >= a->host && (char *)p < a->host + a->size) {
            *dptr = a->dev + (CUdeviceptr)((char *)p - a->host);
            pthread_mutex_unlock(&lock);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_VALUE; /* not mapped memory */
}

EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytes, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!p || bytes == 0 || (flags & ~0xfu))
        return CUDA_ERROR_INVALID_VALUE;
    char *lo = p;
    pthread_mutex_lock(&lock);
    for (struct range *g = registered; g; g = g->next)
        if (lo < g->p + g->n && g->p < lo + bytes) {
            pthread_mutex_unlock(&lock);
            return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
        }
    struct range *g = calloc(1, sizeof *g);
    if (!g) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    g->p = lo;
    g->n = bytes;
    g->next = registered;
    registered = g;
    if (flags & 0x02) { /* CU_MEMHOSTREGISTER_DEVICEMAP: a device alias */
        struct alloc *a = calloc(1, sizeof *a);
        if (!a) {
            registered = g->next;
            free(g);
            pthread_mutex_unlock(&lock);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        a->host = lo;
        a->size = bytes;
        a->device = current->device;
        a->is_host = a->is_registered = 1;
        a->dev = take_device_range(bytes);
        a->next = allocs;
        allocs = a;
    }
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostUnregister(void *p)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    for (struct range **pp = &registered; *pp; pp = &(*pp)->next)
        if ((*pp)->p == p) {
            struct range *g = *pp;
            *pp = g->next;
            for (struct alloc **ap = &allocs; *ap; ap = &(*ap)->next)
                if ((*ap)->is_registered && (*ap)->host == (char *)p) {
                    struct alloc *a = *ap;
                    *ap = a->next;
                    free(a);
                    break;
                }
            pthread_mutex_unlock(&lock);
            free(g);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

/* ---- interprocess memory (see the header: the importer is this process) ---- */

typedef struct {
    char reserved[64];
} CUipcMemHandle;

struct ipc_payload {     /* what the 64 bytes hold */
    char magic[8];       /* "FAKEIPC" */
    CUdeviceptr dev;     /* the exported allocation */
    unsigned long long size;
    long long pid;
};

EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr dptr)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->dev && dptr >= a->dev && dptr - a->dev < a->size) {
            if (base)
                *base = a->dev;
            if (size)
                *size = a->size;
            pthread_mutex_unlock(&lock);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *handle, CUdeviceptr dptr)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    counts[N_IPCGET]++;
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->dev == dptr && !a->is_host && !a->is_global && !a->is_ipc &&
            a->dev != (CUdeviceptr)(uintptr_t)a->host /* managed memory */) {
            struct ipc_payload p = {"FAKEIPC", a->dev, a->size, (long long)getpid()};
            memset(handle, 0, sizeof *handle);
            memcpy(handle->reserved, &p, sizeof p);
            pthread_mutex_unlock(&lock);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, CUipcMemHandle handle,
                                      unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    struct ipc_payload p;
    memcpy(&p, handle.reserved, sizeof p);
    if (!dptr || flags > 1)
        return CUDA_ERROR_INVALID_VALUE;
    if (memcmp(p.magic, "FAKEIPC", 8) != 0 || p.pid != (long long)getpid())
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&lock);
    counts[N_IPCOPEN]++;
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->dev == p.dev && !a->is_host && !a->is_ipc && a->size == p.size) {
            struct alloc *m = calloc(1, sizeof *m);
            if (!m) {
                pthread_mutex_unlock(&lock);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            m->host = a->host;
            m->size = a->size;
            m->device = current->device;
            m->is_ipc = 1;
            m->dev = take_device_range(a->size);
            m->next = allocs;
            allocs = m;
            *dptr = m->dev;
            pthread_mutex_unlock(&lock);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_HANDLE; /* the exporter freed it */
}

EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    counts[N_IPCCLOSE]++;
    for (struct alloc **pp = &allocs; *pp; pp = &(*pp)->next)
        if ((*pp)->is_ipc && (*pp)->dev == dptr) {
            struct alloc *m = *pp;
            *pp = m->next;
            pthread_mutex_unlock(&lock);
            if (m->owns_backing)
                free(m->host);
            free(m);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_VALUE;
}

/* ---- copies: executed at once, on any stream ---------------------------- */

/* ---- the call log (fake_cuda_log) ---------------------------------------- */

static int logging;
static char *log_text;
static size_t log_len, log_cap;
static void *log_streams[64];
static int log_nstreams;

/* The log's number for a stream (caller holds the lock). */
static int log_stream_id(void *stream)
{
    if (!stream)
        return 0;
    for (int i = 0; i < log_nstreams; i++)
        if (log_streams[i] == stream)
            return i + 1;
    if (log_nstreams < 64)
        log_streams[log_nstreams++] = stream;
    return log_nstreams;
}

/* Whether host pointer p lies in pinned memory (caller holds the lock). */
static int log_pinned(const void *p)
{
    for (struct alloc *a = allocs; a; a = a->next)
        if (a->is_host && (const char *)p >= a->host && (const char *)p < a->host + a->size)
            return 1;
    return 0;
}

/* Appends one line (caller holds the lock). */
static void log_line(const char *fmt, ...)
{
    if (!logging)
        return;
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    if (log_len + (size_t)n + 2 > log_cap) {
        size_t cap = log_cap ? log_cap * 2 : 4096;
        char *t = realloc(log_text, cap);
        if (!t)
            return;
        log_text = t;
        log_cap = cap;
    }
    memcpy(log_text + log_len, line, (size_t)n);
    log_len += (size_t)n;
    log_text[log_len++] = '\n';
    log_text[log_len] = '\0';
}

EXPORT void fake_cuda_log(int on)
{
    pthread_mutex_lock(&lock);
    logging = on;
    log_len = 0;
    log_nstreams = 0;
    if (log_text)
        log_text[0] = '\0';
    pthread_mutex_unlock(&lock);
}

/* Copies the log (NUL-terminated, cut at cap - 1); returns its length. */
EXPORT long fake_cuda_log_text(char *buf, size_t cap)
{
    pthread_mutex_lock(&lock);
    size_t n = log_len < cap ? log_len : (cap ? cap - 1 : 0);
    if (cap) {
        if (n)
            memcpy(buf, log_text, n);
        buf[n] = '\0';
    }
    long len = (long)log_len;
    pthread_mutex_unlock(&lock);
    return len;
}

/* ---- graphs (stream capture) -------------------------------------------- */

struct function;

struct gop {               /* one captured operation */
    int launch;            /* 1: a launch, 0: a copy or (fill) a memset */
    int fill;              /* 1: cuMemsetD8 of n bytes at dst_dev to `value` */
    unsigned char value;
    CUdeviceptr dst_dev, src_dev;
    void *dst_host;
    const void *src_host;
    size_t n;              /* copy bytes */
    struct function *f;    /* launch */
    unsigned dims[7];
    unsigned char *params; /* owned */
    size_t params_size;
};

#define GRAPH_MAGIC 0x6A4A9u

struct graph {             /* a CUgraph (exec 0) or CUgraphExec (exec 1) */
    unsigned magic;
    int exec;
    struct gop *ops;       /* owned */
    size_t n, cap;
    struct graph *next;
};

static struct graph *graphs;

static struct graph *graph_find(void *g, int exec)
{
    for (struct graph *p = graphs; p; p = p->next)
        if (p == g && p->magic == GRAPH_MAGIC && p->exec == exec)
            return p;
    return NULL;
}

/* Appends an op (caller holds the lock). */
static CUresult graph_push(struct graph *g, const struct gop *op)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        struct gop *ops = realloc(g->ops, cap * sizeof *ops);
        if (!ops)
            return CUDA_ERROR_OUT_OF_MEMORY;
        g->ops = ops;
        g->cap = cap;
    }
    g->ops[g->n++] = *op;
    return CUDA_SUCCESS;
}

static CUresult capture_copy(struct graph *g, CUdeviceptr dst_dev, void *dst_host,
                             CUdeviceptr src_dev, const void *src_host, size_t n)
{
    struct gop op = {.dst_dev = dst_dev, .dst_host = dst_host, .src_dev = src_dev,
                     .src_host = src_host, .n = n};
    return graph_push(g, &op);
}

static CUresult capture_memset(struct graph *g, CUdeviceptr dst, unsigned char value, size_t n)
{
    struct gop op = {.fill = 1, .value = value, .dst_dev = dst, .n = n};
    return graph_push(g, &op);
}

static struct graph *graph_new(int exec)
{
    struct graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->magic = GRAPH_MAGIC;
    g->exec = exec;
    g->next = graphs;
    graphs = g;
    return g;
}

/* Unlinks and frees g (caller holds the lock). */
static void graph_free(struct graph *g)
{
    for (struct graph **pp = &graphs; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    for (size_t i = 0; i < g->n; i++)
        free(g->ops[i].params);
    free(g->ops);
    g->magic = 0;
    free(g);
}

static CUresult copy(CUdeviceptr dst_dev, void *dst_host, CUdeviceptr src_dev,
                     const void *src_host, size_t n, void *stream)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    if (!stream_ok(stream)) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    char *d = dst_host ? dst_host : translate(dst_dev, n);
    const char *s = src_host ? src_host : translate(src_dev, n);
    if (!stream && capturing) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    if (stream && ((struct stream *)stream)->capture) {
        r = (!d || !s) ? CUDA_ERROR_INVALID_VALUE
                       : capture_copy(((struct stream *)stream)->capture, dst_dev, dst_host,
                                      src_dev, src_host, n);
        log_line("capture %s %d %zu", src_host ? "htod" : dst_host ? "dtoh" : "dtod",
                 log_stream_id(stream), n);
        pthread_mutex_unlock(&lock);
        return r;
    }
    if (src_host || dst_host)
        log_line("%s %d %zu %s", src_host ? "htod" : "dtoh", log_stream_id(stream), n,
                 log_pinned(src_host ? src_host : dst_host) ? "pinned" : "pageable");
    pthread_mutex_unlock(&lock);
    if (n == 0)
        return CUDA_SUCCESS;
    if (!d || !s)
        return CUDA_ERROR_INVALID_VALUE;
    memmove(d, s, n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    return src ? copy(dst, NULL, 0, src, n, NULL) : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
    return dst ? copy(0, dst, src, NULL, n, NULL) : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return copy(dst, NULL, src, NULL, n, NULL);
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream)
{
    return src ? copy(dst, NULL, 0, src, n, stream) : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream)
{
    return dst ? copy(0, dst, src, NULL, n, stream) : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream)
{
    return copy(dst, NULL, src, NULL, n, stream);
}

/* cuMemsetD8: `n` bytes from device address `dst` (or, with unified
 * addressing, pinned host memory) set to `value`, on `stream`. */
static CUresult fill(CUdeviceptr dst, unsigned char value, size_t n, void *stream)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    if (!stream_ok(stream)) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (!stream && capturing) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    char *d = translate_uva(dst, n);
    if (stream && ((struct stream *)stream)->capture) {
        r = !d ? CUDA_ERROR_INVALID_VALUE
               : capture_memset(((struct stream *)stream)->capture, dst, value, n);
        log_line("capture memset %d %zu", log_stream_id(stream), n);
        pthread_mutex_unlock(&lock);
        return r;
    }
    log_line("memset %d %zu", log_stream_id(stream), n);
    pthread_mutex_unlock(&lock);
    if (!d)
        return CUDA_ERROR_INVALID_VALUE;
    memset(d, value, n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n)
{
    return fill(dst, value, n, NULL);
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, void *stream)
{
    return fill(dst, value, n, stream);
}

/* ---- streams ------------------------------------------------------------- */

EXPORT CUresult cuStreamCreate(void **out, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out || flags > 1)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&lock);
    s->magic = STREAM_MAGIC;
    s->device = current->device;
    s->next = streams;
    streams = s;
    pthread_mutex_unlock(&lock);
    *out = s;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    for (struct stream **pp = &streams; *pp; pp = &(*pp)->next)
        if (*pp == stream) {
            struct stream *s = *pp;
            *pp = s->next;
            if (s->capture) { /* the driver invalidates an open capture */
                graph_free(s->capture);
                capturing--;
            }
            pthread_mutex_unlock(&lock);
            s->magic = 0;
            free(s);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_HANDLE;
}

static CUresult stream_check(void *stream)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    int ok = stream_ok(stream);
    pthread_mutex_unlock(&lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* One busy answer used up, if any are left. */
static int take_busy(void)
{
    pthread_mutex_lock(&lock);
    int b = busy > 0;
    if (b)
        busy--;
    pthread_mutex_unlock(&lock);
    return b;
}

EXPORT CUresult cuStreamSynchronize(void *stream)
{
    count(N_STREAMSYNC);
    pthread_mutex_lock(&lock);
    log_line("sync %d", log_stream_id(stream));
    int refused = !stream ? (capturing ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : 0)
                  : stream_ok(stream) && ((struct stream *)stream)->capture
                      ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : 0;
    pthread_mutex_unlock(&lock);
    if (refused)
        return refused;
    if (sticky_error)
        return (CUresult)sticky_error;
    return stream_check(stream);
}

EXPORT CUresult cuStreamQuery(void *stream)
{
    CUresult r = stream_check(stream);
    if (r == CUDA_SUCCESS && take_busy())
        return CUDA_ERROR_NOT_READY;
    return r;
}

EXPORT CUresult cuStreamWaitEvent(void *stream, void *event, unsigned int flags)
{
    CUresult r = stream_check(stream);
    if (r != CUDA_SUCCESS)
        return r;
    if (flags > 1)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    int ok = event_find(event) != NULL;
    pthread_mutex_unlock(&lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ---- events ------------------------------------------------------------------- */

EXPORT CUresult cuEventCreate(void **out, unsigned int flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out || (flags & ~0x7u))
        return CUDA_ERROR_INVALID_VALUE;
    struct event *e = calloc(1, sizeof *e);
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&lock);
    e->magic = EVENT_MAGIC;
    e->flags = flags;
    e->next = events;
    events = e;
    pthread_mutex_unlock(&lock);
    *out = e;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(void *event)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    for (struct event **pp = &events; *pp; pp = &(*pp)->next)
        if (*pp == event) {
            struct event *e = *pp;
            *pp = e->next;
            pthread_mutex_unlock(&lock);
            e->magic = 0;
            free(e);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuEventRecord(void *event, void *stream)
{
    CUresult r = stream_check(stream);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    struct event *e = event_find(event);
    counts[N_EVRECORD]++;
    if (e) {
        e->recorded = 1;
        e->pending = hold;
        e->ns = now_ns();
    }
    pthread_mutex_unlock(&lock);
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult event_check(void *event)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    int ok = event_find(event) != NULL;
    pthread_mutex_unlock(&lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* Waiting for a held event plays the work finishing. */
EXPORT CUresult cuEventSynchronize(void *event)
{
    CUresult r = event_check(event);
    pthread_mutex_lock(&lock);
    counts[N_EVSYNC]++;
    struct event *e = r == CUDA_SUCCESS ? event_find(event) : NULL;
    if (e)
        e->pending = 0;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuEventQuery(void *event)
{
    CUresult r = event_check(event);
    if (r == CUDA_SUCCESS && take_busy())
        return CUDA_ERROR_NOT_READY;
    if (r == CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        struct event *e = event_find(event);
        if (e && e->pending)
            r = CUDA_ERROR_NOT_READY;
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* As the driver: both events recorded and created with timing, else
 * CUDA_ERROR_INVALID_HANDLE. */
EXPORT CUresult cuEventElapsedTime(float *ms, void *start, void *end)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!ms)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct event *a = event_find(start), *b = event_find(end);
    if (!a || !b || !a->recorded || !b->recorded || (a->flags & EVENT_DISABLE_TIMING) ||
        (b->flags & EVENT_DISABLE_TIMING))
        r = CUDA_ERROR_INVALID_HANDLE;
    else
        *ms = (float)((double)(int64_t)(b->ns - a->ns) / 1e6);
    pthread_mutex_unlock(&lock);
    return r;
}

/* ---- modules and launches ---------------------------------------------------- */

/* A module is the PTX text it was loaded from; functions and globals are
 * found in that text by name. Nothing is compiled or run. */

#define MODULE_MAGIC 0x30D01Eu
#define FUNCTION_MAGIC 0xF00C7u
#define JIT_INFO_LOG_BUFFER 3
#define JIT_INFO_LOG_BUFFER_SIZE_BYTES 4
#define JIT_ERROR_LOG_BUFFER 5
#define JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6
#define LAUNCH_PARAM_END ((void *)0x00)
#define LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)
#define MAX_PARAM_BYTES 32764

struct function {
    unsigned magic;
    struct module *module;
    int nparams;        /* .param entries of the .entry, each taken as 8 bytes */
    int max_threads;    /* 1024, or the product of the entry's .maxntid */
    int shared_bytes;   /* static shared memory: every `.shared ... name[N]` of the module */
    int max_dynamic;    /* MAX_DYNAMIC_SHARED_SIZE_BYTES if set, else 0 (48 KiB - static) */
    struct function *next;
    char name[];
};

struct global {
    struct alloc *mem;  /* in `allocs`, is_global set */
    struct global *next;
    char name[];
};

struct module {
    unsigned magic;
    int device;
    char *text;         /* a copy of the PTX */
    struct function *functions;
    struct global *globals;
    struct module *next;
};

static struct module *modules;
static long live_links; /* cuLinkCreate minus cuLinkDestroy (under `lock`) */

static struct {           /* the last successful cuLaunchKernel */
    long count;           /* launches so far */
    unsigned dims[7];     /* grid x y z, block x y z, shared bytes */
    void *stream;
    unsigned char params[MAX_PARAM_BYTES];
    size_t params_size;
    char name[256];
    int cooperative;      /* through cuLaunchCooperativeKernel */
} last_launch;

static int32_t pending_fault[2]; /* written into ember_fault by the next launch */
static int fault_pending;

static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c == '.';
}

/* The character after `.entry <name>` in `text`, or NULL. */
static const char *find_entry(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(text, ".entry"); p; p = strstr(p + 6, ".entry")) {
        const char *q = p + 6;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, name, len) == 0 && !is_ident(q[len]))
            return q + len;
    }
    return NULL;
}

/* Bytes of the global `name` declared on a `.global` line as `name[N]`
 * (N) or `name;` (8); 0 when there is none. */
static size_t find_global(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        if ((p > text && is_ident(p[-1])) || is_ident(p[len]))
            continue;
        const char *line = p;
        while (line > text && line[-1] != '\n')
            line--;
        const char *g = strstr(line, ".global");
        if (!g || g > p)
            continue;
        if (p[len] == '[')
            return (size_t)strtoul(p + len + 1, NULL, 10);
        if (p[len] == ';')
            return 8;
    }
    return 0;
}

/* The bytes of every `.shared ... name[N];` declaration in `text`: the
 * fake's stand-in for a kernel's static shared memory (the driver counts
 * only what the kernel uses). */
static int shared_bytes(const char *text)
{
    long total = 0;
    for (const char *p = strstr(text, ".shared"); p; p = strstr(p + 7, ".shared")) {
        const char *end = strchr(p, ';'), *open = strchr(p, '[');
        if (end && open && open < end && (p == text || !is_ident(p[-1]))) /* not ld.shared */
            total += strtol(open + 1, NULL, 10);
    }
    return total > 1 << 30 ? 1 << 30 : (int)total;
}

static struct module *module_find(void *m)
{
    for (struct module *p = modules; p; p = p->next)
        if (p == m && p->magic == MODULE_MAGIC)
            return p;
    return NULL;
}

static struct function *function_find(void *f)
{
    for (struct module *m = modules; m; m = m->next)
        for (struct function *p = m->functions; p; p = p->next)
            if (p == f && p->magic == FUNCTION_MAGIC)
                return p;
    return NULL;
}

/* Writes `msg` into a JIT log buffer and its size into the size slot. */
static void jit_log(void *buf, void **size_slot, const char *msg)
{
    if (!buf || !size_slot)
        return;
    size_t cap = (size_t)(uintptr_t)*size_slot;
    if (cap == 0)
        return;
    snprintf(buf, cap, "%s", msg);
    size_t n = strlen(buf);
    *size_slot = (void *)(uintptr_t)(n + 1);
}

EXPORT CUresult cuModuleLoadDataEx(void **out, const void *image, unsigned int num_options,
                                   int *options, void **values)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out || !image || (num_options && (!options || !values)))
        return CUDA_ERROR_INVALID_VALUE;
    void *err_buf = NULL, *info_buf = NULL, **err_size = NULL, **info_size = NULL;
    for (unsigned i = 0; i < num_options; i++) {
        switch (options[i]) {
        case JIT_INFO_LOG_BUFFER: info_buf = values[i]; break;
        case JIT_INFO_LOG_BUFFER_SIZE_BYTES: info_size = &values[i]; break;
        case JIT_ERROR_LOG_BUFFER: err_buf = values[i]; break;
        case JIT_ERROR_LOG_BUFFER_SIZE_BYTES: err_size = &values[i]; break;
        default:
            if (options[i] < 0 || options[i] > 32)
                return CUDA_ERROR_INVALID_VALUE;
        }
    }
    const char *text = image;
    if (!strstr(text, ".entry")) {
        jit_log(err_buf, err_size,
                "ptxas application ptx input, line 1; fatal   : fake_cuda JIT: no .entry "
                "directive in this PTX\n");
        jit_log(info_buf, info_size, "");
        return CUDA_ERROR_INVALID_PTX;
    }
    struct module *m = calloc(1, sizeof *m);
    char *copy = m ? strdup(text) : NULL;
    if (!copy) {
        free(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    m->magic = MODULE_MAGIC;
    m->device = current->device;
    m->text = copy;
    jit_log(err_buf, err_size, "");
    jit_log(info_buf, info_size, "fake_cuda JIT: module loaded\n");
    pthread_mutex_lock(&lock);
    m->next = modules;
    modules = m;
    pthread_mutex_unlock(&lock);
    *out = m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(void *module)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    struct module *m = NULL;
    for (struct module **pp = &modules; *pp; pp = &(*pp)->next)
        if (*pp == module && (*pp)->magic == MODULE_MAGIC) {
            m = *pp;
            *pp = m->next;
            break;
        }
    if (!m) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    for (struct global *g = m->globals, *next; g; g = next) {
        next = g->next;
        for (struct alloc **pp = &allocs; *pp; pp = &(*pp)->next)
            if (*pp == g->mem) {
                *pp = g->mem->next;
                break;
            }
        free(g->mem->host);
        free(g->mem);
        free(g);
    }
    for (struct function *f = m->functions, *next; f; f = next) {
        next = f->next;
        f->magic = 0;
        free(f);
    }
    pthread_mutex_unlock(&lock);
    m->magic = 0;
    free(m->text);
    free(m);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(void **out, void *module, const char *name)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out || !name)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct module *m = module_find(module);
    if (!m) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    struct function *f = m->functions;
    while (f && strcmp(f->name, name) != 0)
        f = f->next;
    const char *after = f ? NULL : find_entry(m->text, name);
    if (!f && !after) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_NOT_FOUND;
    }
    if (!f) {
        f = calloc(1, sizeof *f + strlen(name) + 1);
        if (!f) {
            pthread_mutex_unlock(&lock);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        strcpy(f->name, name);
        f->magic = FUNCTION_MAGIC;
        f->module = m;
        f->max_threads = 1024;
        f->shared_bytes = shared_bytes(m->text);
        const char *open = strchr(after, '('), *body = strchr(after, '{');
        const char *close = open ? strchr(open, ')') : NULL;
        if (open && close && (!body || open < body))
            for (const char *p = strstr(open, ".param"); p && p < close;
                 p = strstr(p + 6, ".param"))
                f->nparams++;
        const char *ntid = strstr(after, ".maxntid");
        if (ntid && (!body || ntid < body)) {
            long prod = 1;
            char *q = (char *)ntid + 8;
            for (int i = 0; i < 3; i++) {
                long v = strtol(q, &q, 10);
                prod *= v > 0 ? v : 1;
                while (*q == ' ' || *q == ',')
                    q++;
            }
            f->max_threads = (int)(prod < 1024 ? prod : 1024);
        }
        f->next = m->functions;
        m->functions = f;
    }
    pthread_mutex_unlock(&lock);
    *out = f;
    return CUDA_SUCCESS;
}

/* The global `name` of module `m`, backed by zeroed fake device memory on
 * first use; NULL when the PTX declares none (or out of memory: *oom).
 * Caller holds the lock. */
static struct global *global_get(struct module *m, const char *name, int *oom)
{
    *oom = 0;
    for (struct global *g = m->globals; g; g = g->next)
        if (strcmp(g->name, name) == 0)
            return g;
    size_t size = find_global(m->text, name);
    if (size == 0)
        return NULL;
    struct global *g = calloc(1, sizeof *g + strlen(name) + 1);
    struct alloc *a = g ? calloc(1, sizeof *a) : NULL;
    char *backing = a ? calloc(1, size) : NULL;
    if (!backing) {
        free(a);
        free(g);
        *oom = 1;
        return NULL;
    }
    strcpy(g->name, name);
    a->host = backing;
    a->size = size;
    a->device = m->device;
    a->is_global = 1;
    a->dev = take_device_range(size);
    a->next = allocs;
    allocs = a;
    g->mem = a;
    g->next = m->globals;
    m->globals = g;
    return g;
}

EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, void *module,
                                     const char *name)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct module *m = module_find(module);
    int oom = 0;
    struct global *g = m ? global_get(m, name, &oom) : NULL;
    if (g) {
        if (dptr)
            *dptr = g->mem->dev;
        if (bytes)
            *bytes = g->mem->size;
    }
    pthread_mutex_unlock(&lock);
    return g ? CUDA_SUCCESS : !m ? CUDA_ERROR_INVALID_HANDLE
                          : oom ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_NOT_FOUND;
}

/* What a launch leaves (caller holds the lock): the record of
 * fake_cuda_last_launch, the log line and a pending fault. */
static void launch_run(struct function *f, const unsigned dims[7], const unsigned char *params,
                       size_t got, void *stream, int cooperative)
{
    last_launch.count++;
    log_line("launch %d", log_stream_id(stream));
    memcpy(last_launch.dims, dims, 7 * sizeof *dims);
    last_launch.stream = stream;
    memcpy(last_launch.params, params, got);
    last_launch.params_size = got;
    last_launch.cooperative = cooperative;
    snprintf(last_launch.name, sizeof last_launch.name, "%s", f->name);
    if (fault_pending) {
        int oom = 0;
        struct global *g = global_get(f->module, "ember_fault", &oom);
        if (g && g->mem->size >= 8)
            memcpy(g->mem->host, pending_fault, 8);
        fault_pending = 0;
    }
}

/* Checks what the driver checks, records the launch, and writes a fault
 * armed with fake_cuda_fault_next_launch into the module's ember_fault, as
 * a kernel that stopped early would. Parameters come either as
 * `kernel_params` (one pointer per 8-byte .param) or as one buffer in
 * `extra`, whose size must be the entry's parameter bytes. */
static CUresult launch_kernel(void *func, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                              unsigned by, unsigned bz, unsigned shared, void *stream,
                              void **kernel_params, void **extra, int cooperative)
{
    if (crash_next) { /* the launch succeeds; the kernel's fault shows at the next sync */
        pthread_mutex_lock(&lock);
        sticky_error = crash_next;
        crash_next = 0;
        pthread_mutex_unlock(&lock);
    }
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    struct function *f = function_find(func);
    if (!f || !stream_ok(stream)) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (f->module->device != current->device) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    unsigned long long threads = (unsigned long long)bx * by * bz;
    if (!gx || !gy || !gz || !bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 ||
        gy > 65535 || gz > 65535 || gx > 2147483647u || threads > 1024 ||
        (kernel_params && extra)) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    /* as the driver: above 48 KiB only up to what the function opted in to */
    unsigned long long dyn_limit =
        f->max_dynamic ? (unsigned)f->max_dynamic : 48 * 1024 - (unsigned)f->shared_bytes;
    if (shared > dyn_limit) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (threads > (unsigned long long)f->max_threads) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    }
    size_t want = (size_t)f->nparams * 8, got = 0;
    unsigned char params[MAX_PARAM_BYTES];
    if (want > sizeof params) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (kernel_params) {
        for (int i = 0; i < f->nparams; i++)
            memcpy(params + 8 * i, kernel_params[i], 8);
        got = want;
    } else if (extra) {
        const void *buf = NULL;
        const size_t *size = NULL;
        for (int i = 0; extra[i] != LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == LAUNCH_PARAM_BUFFER_POINTER)
                buf = extra[i + 1];
            else if (extra[i] == LAUNCH_PARAM_BUFFER_SIZE)
                size = extra[i + 1];
            else {
                pthread_mutex_unlock(&lock);
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (!buf || !size || *size != want) {
            pthread_mutex_unlock(&lock);
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(params, buf, want);
        got = want;
    }
    if (got != want) { /* parameters declared but none passed */
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    unsigned dims[7] = {gx, gy, gz, bx, by, bz, shared};
    if (!stream && capturing) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    if (stream && ((struct stream *)stream)->capture) {
        struct gop op = {.launch = 1, .f = f, .params = malloc(got ? got : 1),
                         .params_size = got};
        memcpy(op.dims, dims, sizeof dims);
        if (op.params)
            memcpy(op.params, params, got);
        r = op.params ? graph_push(((struct stream *)stream)->capture, &op)
                      : CUDA_ERROR_OUT_OF_MEMORY;
        if (r != CUDA_SUCCESS)
            free(op.params);
        log_line("capture launch %d", log_stream_id(stream));
        pthread_mutex_unlock(&lock);
        return r;
    }
    launch_run(f, dims, params, got, stream, cooperative);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* ---- stream capture and graphs ------------------------------------------ */

EXPORT CUresult cuStreamBeginCapture_v2(void *stream, int mode)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (mode < 0 || mode > 2)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct stream *s = stream;
    if (!stream || !stream_ok(stream))
        r = stream ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    else if (s->capture)
        r = CUDA_ERROR_ILLEGAL_STATE;
    else if (!(s->capture = graph_new(0)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    else {
        capturing++;
        log_line("begin_capture %d", log_stream_id(stream));
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuStreamBeginCapture(void *stream, int mode)
{
    return cuStreamBeginCapture_v2(stream, mode);
}

EXPORT CUresult cuStreamEndCapture(void *stream, void **graph)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!graph)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct stream *s = stream;
    if (!stream || !stream_ok(stream))
        r = CUDA_ERROR_INVALID_HANDLE;
    else if (!s->capture)
        r = CUDA_ERROR_ILLEGAL_STATE;
    else {
        *graph = s->capture;
        log_line("end_capture %d %zu", log_stream_id(stream), s->capture->n);
        s->capture = NULL;
        capturing--;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuGraphGetNodes(void *graph, void **nodes, size_t *count)
{
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct graph *g = graph_find(graph, 0);
    if (g && !nodes)
        *count = g->n;
    pthread_mutex_unlock(&lock);
    return !g ? CUDA_ERROR_INVALID_HANDLE : nodes ? CUDA_ERROR_NOT_SUPPORTED : CUDA_SUCCESS;
}

EXPORT CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!exec || flags)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct graph *g = graph_find(graph, 0), *e = g ? graph_new(1) : NULL;
    if (!g)
        r = CUDA_ERROR_INVALID_HANDLE;
    else if (!e)
        r = CUDA_ERROR_OUT_OF_MEMORY;
    for (size_t i = 0; r == CUDA_SUCCESS && i < g->n; i++) {
        struct gop op = g->ops[i];
        if (op.launch) {
            op.params = malloc(op.params_size ? op.params_size : 1);
            if (op.params)
                memcpy(op.params, g->ops[i].params, op.params_size);
        }
        r = op.launch && !op.params ? CUDA_ERROR_OUT_OF_MEMORY : graph_push(e, &op);
        if (r != CUDA_SUCCESS && op.launch)
            free(op.params);
    }
    if (r == CUDA_SUCCESS)
        *exec = e;
    else if (e)
        graph_free(e);
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuGraphLaunch(void *exec, void *stream)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    struct graph *e = graph_find(exec, 1);
    if (!e || !stream_ok(stream))
        r = CUDA_ERROR_INVALID_HANDLE;
    else if (!stream && capturing)
        r = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    else
        log_line("graph_launch %d %zu", log_stream_id(stream), e->n);
    for (size_t i = 0; r == CUDA_SUCCESS && i < e->n; i++) {
        const struct gop *op = &e->ops[i];
        if (op->launch) {
            if (!function_find(op->f))
                r = CUDA_ERROR_INVALID_HANDLE; /* its module was unloaded */
            else
                launch_run(op->f, op->dims, op->params, op->params_size, stream, 0);
            continue;
        }
        if (op->fill) {
            char *d = translate_uva(op->dst_dev, op->n);
            if (!d)
                r = CUDA_ERROR_INVALID_VALUE; /* freed since the capture */
            else
                memset(d, op->value, op->n);
            log_line("memset %d %zu", log_stream_id(stream), op->n);
            continue;
        }
        char *d = op->dst_host ? op->dst_host : translate(op->dst_dev, op->n);
        const char *s = op->src_host ? op->src_host : translate(op->src_dev, op->n);
        if (!d || !s)
            r = CUDA_ERROR_INVALID_VALUE; /* freed since the capture */
        else if (op->n)
            memmove(d, s, op->n);
        if (op->src_host || op->dst_host)
            log_line("%s %d %zu %s", op->src_host ? "htod" : "dtoh", log_stream_id(stream),
                     op->n, log_pinned(op->src_host ? op->src_host : op->dst_host) ? "pinned"
                                                                                : "pageable");
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static CUresult graph_destroy(void *graph, int exec)
{
    pthread_mutex_lock(&lock);
    struct graph *g = graph_find(graph, exec);
    if (g)
        graph_free(g);
    pthread_mutex_unlock(&lock);
    return g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuGraphExecDestroy(void *exec) { return graph_destroy(exec, 1); }
EXPORT CUresult cuGraphDestroy(void *graph) { return graph_destroy(graph, 0); }

EXPORT CUresult cuLaunchKernel(void *func, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shared, void *stream,
                               void **kernel_params, void **extra)
{
    return launch_kernel(func, gx, gy, gz, bx, by, bz, shared, stream, kernel_params, extra, 0);
}

EXPORT CUresult cuFuncGetAttribute(int *value, int attrib, void *func)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct function *f = function_find(func);
    int max_threads = f ? f->max_threads : 0, shared = f ? f->shared_bytes : 0;
    int max_dynamic = f && f->max_dynamic ? f->max_dynamic : 48 * 1024 - shared;
    pthread_mutex_unlock(&lock);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
    case 0: *value = max_threads; break;     /* MAX_THREADS_PER_BLOCK */
    case 1: *value = shared; break;          /* SHARED_SIZE_BYTES */
    case 2: *value = 0; break;               /* CONST_SIZE_BYTES */
    case 3: *value = 0; break;               /* LOCAL_SIZE_BYTES */
    case 4: *value = 32; break;              /* NUM_REGS */
    case 5: *value = 90; break;              /* PTX_VERSION */
    case 6: *value = 90; break;              /* BINARY_VERSION */
    case 8: *value = max_dynamic; break;     /* MAX_DYNAMIC_SHARED_SIZE_BYTES */
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Only MAX_DYNAMIC_SHARED_SIZE_BYTES, up to the opt-in limit (227 KiB)
 * less the function's static shared memory. */
EXPORT CUresult cuFuncSetAttribute(void *func, int attrib, int value)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    struct function *f = function_find(func);
    if (!f) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (attrib != 8 || value < 0 || value > 227 * 1024 - f->shared_bytes) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    f->max_dynamic = value;
    log_line("func_attribute %d %d", attrib, value);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* A plausible answer for an SM of 2048 threads and 48 KiB of shared memory
 * per block: the largest multiple of 32 the kernel and the limit allow
 * whose shared memory fits, and enough blocks to fill 132 SMs. */
EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int *min_grid, int *block, void *func,
                                                 size_t (*smem_of)(int), size_t smem,
                                                 int limit)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!min_grid || !block)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct function *f = function_find(func);
    int b = f ? f->max_threads : 0;
    pthread_mutex_unlock(&lock);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    if (limit > 0 && limit < b)
        b = limit;
    b = b / 32 * 32;
    while (b > 0 && (smem_of ? smem_of(b) : smem) > 48 * 1024)
        b -= 32;
    if (b <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    *block = b;
    *min_grid = 132 * (2048 / b > 0 ? 2048 / b : 1);
    return CUDA_SUCCESS;
}

/* Blocks per SM: 2048 threads and 228 KiB of shared memory (static plus
 * `smem`) per SM, at most 32 blocks; 0 when the block cannot run. */
EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *blocks, void *func, int threads,
                                                           size_t smem)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!blocks)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct function *f = function_find(func);
    int max_threads = f ? f->max_threads : 0, shared = f ? f->shared_bytes : 0;
    pthread_mutex_unlock(&lock);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    if (threads <= 0 || threads > max_threads) {
        *blocks = 0;
        return CUDA_SUCCESS;
    }
    int n = 2048 / threads;
    size_t per_block = smem + (size_t)shared;
    if (per_block && (size_t)n > 228 * 1024 / per_block)
        n = (int)(228 * 1024 / per_block);
    *blocks = n < 32 ? n : 32;
    return CUDA_SUCCESS;
}

#define CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE 720

EXPORT CUresult cuLaunchCooperativeKernel(void *func, unsigned gx, unsigned gy, unsigned gz,
                                          unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                          void *stream, void **kernel_params)
{
    int per_sm = 0;
    CUresult r = cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, func, (int)(bx * by * bz),
                                                             shared);
    if (r != CUDA_SUCCESS)
        return r;
    if ((unsigned long long)gx * gy * gz > (unsigned long long)per_sm * 132)
        return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
    return launch_kernel(func, gx, gy, gz, bx, by, bz, shared, stream, kernel_params, NULL, 1);
}

/* ---- test controls ----------------------------------------------------------- */

/* 1 when the last successful launch was cooperative (cuLaunchCooperativeKernel). */
EXPORT int fake_cuda_last_launch_cooperative(void)
{
    pthread_mutex_lock(&lock);
    int c = last_launch.cooperative;
    pthread_mutex_unlock(&lock);
    return c;
}

EXPORT long fake_cuda_live(const char *what)
{
    long n = 0;
    pthread_mutex_lock(&lock);
    if (strcmp(what, "mem") == 0 || strcmp(what, "host") == 0) {
        int host = strcmp(what, "host") == 0;
        for (struct alloc *a = allocs; a; a = a->next)
            n += !a->is_global && !a->is_registered && !a->is_ipc && a->is_host == host;
    } else if (strcmp(what, "ipc") == 0) {
        for (struct alloc *a = allocs; a; a = a->next)
            n += a->is_ipc;
    } else if (strcmp(what, "stream") == 0) {
        for (struct stream *s = streams; s; s = s->next)
            n++;
    } else if (strcmp(what, "event") == 0) {
        for (struct event *e = events; e; e = e->next)
            n++;
    } else if (strcmp(what, "registered") == 0) {
        for (struct range *g = registered; g; g = g->next)
            n++;
    } else if (strcmp(what, "module") == 0) {
        for (struct module *m = modules; m; m = m->next)
            n++;
    } else if (strcmp(what, "link") == 0) {
        n = live_links;
    } else if (strcmp(what, "graph") == 0 || strcmp(what, "graphexec") == 0) {
        int exec = strcmp(what, "graphexec") == 0;
        for (struct graph *g = graphs; g; g = g->next)
            n += g->exec == exec;
    } else if (strcmp(what, "ctx") == 0) {
        for (int i = 0; i < MAX_DEVICES; i++)
            n += contexts[i].refs;
    } else {
        n = -1;
    }
    pthread_mutex_unlock(&lock);
    return n;
}

EXPORT void fake_cuda_set_busy(int n)
{
    pthread_mutex_lock(&lock);
    busy = n > 0 ? n : 0;
    pthread_mutex_unlock(&lock);
}

EXPORT void fake_cuda_hold_events(int on)
{
    pthread_mutex_lock(&lock);
    hold = on != 0;
    if (!hold)
        for (struct event *e = events; e; e = e->next)
            e->pending = 0;
    pthread_mutex_unlock(&lock);
}

EXPORT long fake_cuda_count(const char *what)
{
    long n = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < N_COUNT; i++)
        if (strcmp(what, count_names[i]) == 0)
            n = counts[i];
    pthread_mutex_unlock(&lock);
    return n;
}
/* The last successful launch: dims = grid x, y, z, block x, y, z, dynamic
 * shared bytes; the stream; its parameter bytes (up to params_cap copied,
 * the full size in *params_size) and kernel name. Any pointer may be NULL.
 * Returns the number of launches so far (0: none recorded). */
EXPORT long fake_cuda_last_launch(unsigned int dims[7], void **stream, void *params,
                                  size_t params_cap, size_t *params_size, char *name,
                                  size_t name_cap)
{
    pthread_mutex_lock(&lock);
    long n = last_launch.count;
    if (dims)
        memcpy(dims, last_launch.dims, sizeof last_launch.dims);
    if (stream)
        *stream = last_launch.stream;
    if (params)
        memcpy(params, last_launch.params,
               params_cap < last_launch.params_size ? params_cap : last_launch.params_size);
    if (params_size)
        *params_size = last_launch.params_size;
    if (name && name_cap)
        snprintf(name, name_cap, "%s", last_launch.name);
    pthread_mutex_unlock(&lock);
    return n;
}

/* The next cuLaunchKernel writes {fault, site} into its module's
 * ember_fault global (when the PTX declares one), as a kernel that hit a
 * bounds check would. */
EXPORT void fake_cuda_fault_next_launch(int fault, int site)
{
    pthread_mutex_lock(&lock);
    pending_fault[0] = fault;
    pending_fault[1] = site;
    fault_pending = 1;
    pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------------------ */
/* The linker (cuLinkCreate ... cuLinkDestroy)                              */
/* ------------------------------------------------------------------------ */
/*
 * A link state collects its inputs; cuLinkComplete "links" them: the image
 * is the inputs' PTX texts one after the other (so cuModuleLoadDataEx and
 * cuModuleGetFunction work on it as on PTX), and every `.extern .func NAME`
 * of a PTX input must be defined (`.func ... NAME(`, not .extern) by some
 * input — PTX text, or the bytes of a cubin, fatbin, object or library
 * file, searched the same way — else the link fails with an nvlink-like
 * "Undefined reference" in the error log and CUDA_ERROR_INVALID_IMAGE.
 * Each call is logged (fake_cuda_log) as "cuLinkAddData kind=K name" /
 * "cuLinkAddFile kind=K path" / "cuLinkComplete" / "cuLinkDestroy".
 */
#define LINK_MAGIC 0x11D4u

struct link_state {
    unsigned magic;
    char *text;          /* PTX inputs, concatenated */
    size_t len;
    char *defs;          /* every input's bytes, to look for definitions */
    size_t defs_len;
    void *err_buf, **err_size; /* CU_JIT_ERROR_LOG_BUFFER of cuLinkCreate */
    char *image;         /* cuLinkComplete's result, owned until cuLinkDestroy */
};

static int append_bytes(char **buf, size_t *len, const void *data, size_t n)
{
    char *t = realloc(*buf, *len + n + 2);
    if (!t)
        return 0;
    memcpy(t + *len, data, n);
    *len += n;
    t[(*len)++] = '\n';
    t[*len] = '\0';
    *buf = t;
    return 1;
}

EXPORT CUresult cuLinkCreate_v2(unsigned int num_options, int *options, void **values,
                                void **out)
{
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out || (num_options && (!options || !values)))
        return CUDA_ERROR_INVALID_VALUE;
    struct link_state *s = calloc(1, sizeof *s);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    s->magic = LINK_MAGIC;
    for (unsigned i = 0; i < num_options; i++) {
        if (options[i] == JIT_ERROR_LOG_BUFFER)
            s->err_buf = values[i];
        else if (options[i] == JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
            s->err_size = &values[i];
    }
    pthread_mutex_lock(&lock);
    log_line("cuLinkCreate");
    live_links++;
    pthread_mutex_unlock(&lock);
    *out = s;
    return CUDA_SUCCESS;
}

static CUresult link_add(struct link_state *s, int kind, const void *data, size_t size)
{
    if (kind < 0 || kind > 4) /* CU_JIT_INPUT_CUBIN ... LIBRARY; NVVM (5) needs LTO */
        return CUDA_ERROR_INVALID_VALUE;
    if (kind == 1) { /* PTX: text, maybe NUL-terminated */
        size_t n = strnlen(data, size);
        if (!append_bytes(&s->text, &s->len, data, n))
            return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return append_bytes(&s->defs, &s->defs_len, data, size) ? CUDA_SUCCESS
                                                            : CUDA_ERROR_OUT_OF_MEMORY;
}

EXPORT CUresult cuLinkAddData_v2(void *state, int kind, void *data, size_t size,
                                 const char *name, unsigned int num_options, int *options,
                                 void **values)
{
    (void)options, (void)values, (void)num_options;
    struct link_state *s = state;
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!s || s->magic != LINK_MAGIC || !data || !size)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    log_line("cuLinkAddData kind=%d %s", kind, name ? name : "");
    pthread_mutex_unlock(&lock);
    return link_add(s, kind, data, size);
}

EXPORT CUresult cuLinkAddFile_v2(void *state, int kind, const char *path,
                                 unsigned int num_options, int *options, void **values)
{
    (void)options, (void)values, (void)num_options;
    struct link_state *s = state;
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!s || s->magic != LINK_MAGIC || !path)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    log_line("cuLinkAddFile kind=%d %s", kind, path);
    pthread_mutex_unlock(&lock);
    FILE *f = fopen(path, "rb");
    if (!f)
        return CUDA_ERROR_FILE_NOT_FOUND;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            char *t = realloc(buf, cap);
            if (!t) {
                free(buf);
                fclose(f);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            buf = t;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    r = len ? link_add(s, kind, buf, len) : CUDA_ERROR_INVALID_IMAGE;
    free(buf);
    return r;
}

/* The name after `.func` at p (skipping a return-parameter list); 0 if none. */
static size_t func_name(const char *p, const char **name)
{
    p += 5;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p == '(') {
        while (*p && *p != ')')
            p++;
        if (*p)
            p++;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
    }
    size_t n = 0;
    while (is_ident(p[n]))
        n++;
    *name = p;
    return n;
}

static int line_has_extern(const char *start, const char *p)
{
    const char *l = p;
    while (l > start && l[-1] != '\n')
        l--;
    for (const char *q = l; q < p; q++)
        if (!strncmp(q, ".extern", 7))
            return 1;
    return 0;
}

/* Whether `defs` defines the function `name` (n bytes). */
static int defines(const char *defs, size_t len, const char *name, size_t n)
{
    for (const char *p = defs; p && p < defs + len; p++) {
        p = memmem(p, (size_t)(defs + len - p), ".func", 5);
        if (!p)
            return 0;
        const char *nm;
        size_t k = func_name(p, &nm);
        if (k == n && !memcmp(nm, name, n) && !line_has_extern(defs, p))
            return 1;
    }
    return 0;
}

EXPORT CUresult cuLinkComplete(void *state, void **image, size_t *size)
{
    struct link_state *s = state;
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    if (!s || s->magic != LINK_MAGIC || !image || !size)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    log_line("cuLinkComplete");
    pthread_mutex_unlock(&lock);
    if (!s->text)
        return CUDA_ERROR_INVALID_IMAGE;
    for (const char *p = s->text; (p = strstr(p, ".func")); p += 5) {
        const char *nm;
        size_t n = func_name(p, &nm);
        if (n && line_has_extern(s->text, p) && !defines(s->defs, s->defs_len, nm, n)) {
            char msg[256];
            snprintf(msg, sizeof msg, "error   : Undefined reference to '%.*s' in 'fake'\n",
                     (int)n, nm);
            jit_log(s->err_buf, s->err_size, msg);
            return CUDA_ERROR_INVALID_IMAGE;
        }
    }
    free(s->image);
    if (!(s->image = strdup(s->text)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    *image = s->image;
    *size = strlen(s->image) + 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLinkDestroy(void *state)
{
    struct link_state *s = state;
    if (!s || s->magic != LINK_MAGIC)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&lock);
    log_line("cuLinkDestroy");
    live_links--;
    pthread_mutex_unlock(&lock);
    s->magic = 0;
    free(s->text);
    free(s->defs);
    free(s->image);
    free(s);
    return CUDA_SUCCESS;
}
