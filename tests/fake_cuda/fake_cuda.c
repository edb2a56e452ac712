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
 *     refuse overlapping or unknown ones as the driver does.
 *   - cuDeviceGetAttribute knows only the attributes ember asks for and
 *     returns CUDA_ERROR_INVALID_VALUE for the others.
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
 *                                "cuStreamSynchronize", "cuEventSynchronize".
 *   fake_live("registered")      host ranges registered now.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_NOT_SUPPORTED = 801,
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
    struct alloc *next;
};

struct stream {
    unsigned magic;
    int device;
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
enum { N_MEMALLOC, N_MEMFREE, N_HOSTALLOC, N_EVRECORD, N_CTXSYNC, N_STREAMSYNC, N_EVSYNC, N_COUNT };
static long counts[N_COUNT];
static const char *const count_names[N_COUNT] = {
    "cuMemAlloc", "cuMemFree", "cuMemHostAlloc", "cuEventRecord", "cuCtxSynchronize",
    "cuStreamSynchronize", "cuEventSynchronize"};

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
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
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

EXPORT CUresult cuCtxSynchronize(void)
{
    count(N_CTXSYNC);
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
        if (!a->is_host && a->dev == dptr) {
            *pp = a->next;
            used[a->device] -= a->size;
            pthread_mutex_unlock(&lock);
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
        if (a->is_host && a->host == p) {
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
            pthread_mutex_unlock(&lock);
            free(g);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

/* ---- copies: executed at once, on any stream ---------------------------- */

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

/* ---- test controls ----------------------------------------------------------- */

EXPORT long fake_cuda_live(const char *what)
{
    long n = 0;
    pthread_mutex_lock(&lock);
    if (strcmp(what, "mem") == 0 || strcmp(what, "host") == 0) {
        int host = strcmp(what, "host") == 0;
        for (struct alloc *a = allocs; a; a = a->next)
            n += a->is_host == host;
    } else if (strcmp(what, "stream") == 0) {
        for (struct stream *s = streams; s; s = s->next)
            n++;
    } else if (strcmp(what, "event") == 0) {
        for (struct event *e = events; e; e = e->next)
            n++;
    } else if (strcmp(what, "registered") == 0) {
        for (struct range *g = registered; g; g = g->next)
            n++;
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
