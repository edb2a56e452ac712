/*
 * pool.c — the caching allocator every buffer's memory comes from.
 *
 * cuMemAlloc and cuMemFree cost tens of microseconds to milliseconds, and
 * cuMemFree synchronises the device; a Python program that makes and drops
 * temporaries in a loop would spend its time there. So each device has a
 * pool (created on its first allocation) that keeps freed blocks in free
 * lists by size class and hands them out again without a driver call.
 *
 * Size classes: up to 512 B one class; up to 1 MiB four classes per power
 * of two (640, 768, 896, 1024, 1280 ...: under 25% waste); above, multiples
 * of 2 MiB (the GPU's large-page size). A request reuses only a block of its
 * own class; blocks are never split or merged, which keeps the pool simple
 * and a block's address stable for its whole life.
 *
 * Streams (the CUDA caching-allocator rules, as in PyTorch and CuPy): a
 * block remembers the streams that used it (the one it was allocated for,
 * and every stream a copy or launch recorded on its buffer). At free it
 * records one event on each of them and goes to the free list at once: the
 * free never waits. A later request on stream S may take it when every
 * event recorded on another stream than S has completed (cuEventQuery);
 * work on S itself is ordered after the old work by S. Pinned and mapped
 * memory is written by the host as soon as it is handed out, so for it
 * every event must have completed. A block used on more streams than it
 * can remember, or on another device's stream, is given straight back to
 * the driver at free (cuMemFree orders itself against pending work).
 *
 * Out of memory: the pool frees its whole cache, calls the out-of-memory
 * callback (Python collects garbage), and retries once; the error that
 * remains names the size asked for, what ember holds and what is free.
 *
 * Only CUDA devices cache (EMBER_CUDA_POOL=0 turns it off). The cpu
 * device's memory comes from the host allocator, which caches already,
 * and ASan sees every use after free there; its pool only counts.
 */
#include <pthread.h>
#include <string.h>

#include "memory/memory_impl.h"

#define POOL_MIN 512                  /* smallest class */
#define POOL_SMALL_MAX (1u << 20)     /* largest class of the fine-grained ones */
#define POOL_LARGE_STEP (2u << 20)    /* granularity above */
#define POOL_SMALL_BINS (1 + 11 * 4)  /* 512, then 4 per power of two from 512 to 512 KiB */
#define POOL_LARGE_BIN POOL_SMALL_BINS
#define POOL_BINS (POOL_SMALL_BINS + 1)
#define POOL_KINDS 5                  /* device, pinned, mapped, managed, managed_host */
#define POOL_QUERY_MAX 8              /* event queries per allocation, at most */

struct mempool {
    pthread_mutex_t lock;                        /* guards bins and stats */
    struct ember_device *dev;                    /* borrowed: the pool's owner */
    bool caching;                                /* false: every free goes to the driver */
    struct pool_block *bins[POOL_KINDS][POOL_BINS]; /* free lists, newest first */
    ember_pool_stats stats[POOL_KINDS];
};

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*oom_hook)(void *);
static void *oom_hook_ctx;

/* ---- size classes ------------------------------------------------------ */

/* The class of a request of `n` bytes and its bin; 0 when `n` is too large
 * to round up. */
static size_t size_class(size_t n, int *bin)
{
    if (n <= POOL_MIN) {
        *bin = 0;
        return POOL_MIN;
    }
    if (n <= POOL_SMALL_MAX) {
        int k = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1) */
        size_t p = (size_t)1 << k, step = p / 4;
        size_t c = (n + step - 1) / step * step;
        *bin = 1 + (k - 9) * 4 + (int)((c - p) / step) - 1;
        return c;
    }
    if (n > SIZE_MAX - POOL_LARGE_STEP)
        return 0;
    *bin = POOL_LARGE_BIN;
    return (n + POOL_LARGE_STEP - 1) / POOL_LARGE_STEP * POOL_LARGE_STEP;
}

static int kind_index(ember_mem_kind kind)
{
    return kind == EMBER_MEM_DEVICE   ? 0
           : kind == EMBER_MEM_PINNED ? 1
           : kind == EMBER_MEM_MAPPED ? 2
           : kind == EMBER_MEM_MANAGED ? 3
                                      : 4;
}

/* "1.50 GiB" */
static const char *human(char *buf, size_t cap, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, cap, "%.2f %s", v, units[u]);
    return buf;
}

/* ---- the pool of a device ------------------------------------------------ */

static bool caching_wanted(struct ember_device *dev)
{
    if (dev->info.kind != EMBER_DEVICE_CUDA)
        return false;
    const char *env = getenv("EMBER_CUDA_POOL");
    return !(env && strcmp(env, "0") == 0);
}

/* The device's pool, created on first use. */
static ember_status mempool_of(struct ember_device *dev, struct mempool **out)
{
    struct mempool *p = __atomic_load_n(&dev->pool, __ATOMIC_ACQUIRE);
    if (p) {
        *out = p;
        return EMBER_SUCCESS;
    }
    p = em_calloc(1, sizeof *p);
    if (!p)
        return EMBER_ERR_OUT_OF_MEMORY;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        em_free(p);
        return em_error(EMBER_ERR_SYSTEM, "cannot create the memory pool's lock");
    }
    p->dev = dev;
    p->caching = caching_wanted(dev);
    struct mempool *expected = NULL;
    if (!__atomic_compare_exchange_n(&dev->pool, &expected, p, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        pthread_mutex_destroy(&p->lock); /* another thread made it first */
        em_free(p);
        p = expected;
    }
    *out = p;
    return EMBER_SUCCESS;
}

static void destroy_events(struct ember_device *dev, struct pool_block *blk)
{
    for (int i = 0; i < POOL_BLOCK_STREAMS; i++)
        if (blk->events[i]) {
            dev->iface->event_destroy(dev->ctx, blk->events[i]);
            blk->events[i] = NULL;
        }
}

/* Gives a block's memory and events back and frees the record. */
static void release_block(struct ember_device *dev, struct pool_block *blk)
{
    destroy_events(dev, blk);
    dev->iface->free(dev->ctx, blk->kind, blk->host, blk->device_ptr);
    em_free(blk);
}

/* Unlinks every cached block into one chain. Caller holds the lock. */
static struct pool_block *take_all(struct mempool *p, uint64_t *bytes)
{
    struct pool_block *chain = NULL;
    for (int k = 0; k < POOL_KINDS; k++) {
        for (int b = 0; b < POOL_BINS; b++) {
            while (p->bins[k][b]) {
                struct pool_block *blk = p->bins[k][b];
                p->bins[k][b] = blk->next;
                blk->next = chain;
                chain = blk;
                *bytes += blk->size;
            }
        }
        p->stats[k].driver_frees += p->stats[k].blocks_cached;
        p->stats[k].bytes_cached = 0;
        p->stats[k].blocks_cached = 0;
    }
    return chain;
}

/* Frees every cached block, after the work that last used it. Returns the
 * bytes given back. Not the free path: waiting here is allowed. */
static uint64_t trim(struct mempool *p)
{
    uint64_t bytes = 0;
    em_mutex_lock(&p->lock);
    struct pool_block *chain = take_all(p, &bytes);
    em_mutex_unlock(&p->lock);
    while (chain) {
        struct pool_block *blk = chain;
        chain = blk->next;
        for (int i = 0; i < blk->nstreams; i++)
            if (blk->events[i])
                p->dev->iface->event_synchronize(p->dev->ctx, blk->events[i]);
        release_block(p->dev, blk);
    }
    return bytes;
}

void mempool_destroy(struct mempool *p)
{
    if (!p)
        return;
    trim(p);
    pthread_mutex_destroy(&p->lock);
    em_free(p);
}

/* ---- allocation ------------------------------------------------------------ */

/* True when `blk` may serve new work on `stream` now. A failed query counts
 * as not done; its message is not the caller's concern. */
static bool reusable(struct mempool *p, const struct pool_block *blk, void *stream, int *queries)
{
    bool host_side = blk->kind != EMBER_MEM_DEVICE;
    for (int i = 0; i < blk->nstreams; i++) {
        if (!host_side && blk->streams[i] == stream)
            continue; /* ordered by the stream itself */
        if (*queries >= POOL_QUERY_MAX)
            return false;
        (*queries)++;
        if (p->dev->iface->event_query(p->dev->ctx, blk->events[i]) != EMBER_SUCCESS)
            return false;
    }
    return true;
}

/* A cached block of class `size` usable on `stream`, unlinked, or NULL.
 * Blocks last used on `stream` itself are preferred: they need no query.
 * Caller holds the lock. */
static struct pool_block *take_cached(struct mempool *p, int k, int bin, size_t size, void *stream)
{
    struct pool_block **list = &p->bins[k][bin], **pick = NULL;
    int queries = 0;
    for (struct pool_block **pp = list; *pp; pp = &(*pp)->next) {
        struct pool_block *blk = *pp;
        if (blk->size != size)
            continue;
        if (k == 0 && blk->nstreams == 1 && blk->streams[0] == stream) {
            pick = pp;
            break;
        }
        if (!pick && reusable(p, blk, stream, &queries))
            pick = pp;
    }
    if (!pick)
        return NULL;
    struct pool_block *blk = *pick;
    *pick = blk->next;
    blk->next = NULL;
    return blk;
}

/* One driver allocation of the block's class. */
static ember_status driver_alloc(struct mempool *p, struct pool_block *blk)
{
    return p->dev->iface->alloc(p->dev->ctx, blk->kind, blk->size, &blk->host, &blk->device_ptr);
}

/* Calls the out-of-memory callback; false when none is set. */
static bool call_oom_hook(void)
{
    em_mutex_lock(&hook_lock);
    void (*hook)(void *) = oom_hook;
    void *ctx = oom_hook_ctx;
    em_mutex_unlock(&hook_lock);
    if (hook)
        hook(ctx);
    return hook != NULL;
}

/* Rewrites the last error of a final out-of-memory so that it names the
 * request, what was freed and what ember holds, keeping the driver's code. */
static ember_status oom_error(struct mempool *p, ember_mem_kind kind, size_t nbytes, size_t size,
                              uint64_t trimmed, bool hooked)
{
    char cause[1024], name[64];
    snprintf(cause, sizeof cause, "%s", ember_last_error());
    snprintf(name, sizeof name, "%s", ember_last_driver_error_name());
    int code = ember_last_driver_error();

    ember_pool_stats s;
    em_mutex_lock(&p->lock);
    s = p->stats[kind_index(kind)];
    em_mutex_unlock(&p->lock);
    char want[32], cls[32], freed[32], used[32], avail[64] = "";
    uint64_t fr = 0, tot = 0;
    if (kind == EMBER_MEM_DEVICE &&
        p->dev->iface->memory_info(p->dev->ctx, &fr, &tot) == EMBER_SUCCESS) {
        char a[32], b[32];
        snprintf(avail, sizeof avail, "; the device has %s free of %s", human(a, sizeof a, fr),
                 human(b, sizeof b, tot));
    }
#define OOM_FMT                                                                       \
    "out of %s memory allocating %s (%zu bytes, size class %s): freed %s of cached "  \
    "blocks%s and retried; ember holds %s in %llu live %s block(s)%s: %s"
    const char *collected = hooked ? ", collected garbage" : "";
    const char *what = kind == EMBER_MEM_DEVICE   ? "device"
                       : kind == EMBER_MEM_PINNED ? "pinned host"
                       : kind == EMBER_MEM_MAPPED ? "mapped host"
                                                  : "managed";
    human(want, sizeof want, nbytes);
    human(cls, sizeof cls, size);
    human(freed, sizeof freed, trimmed);
    human(used, sizeof used, s.bytes_in_use);
    if (code)
        em_driver_error(code, name, OOM_FMT, what, want, nbytes, cls, freed, collected, used,
                        (unsigned long long)s.blocks_in_use, what, avail, cause);
    else
        em_error(EMBER_ERR_DEVICE_OUT_OF_MEMORY, OOM_FMT, what, want, nbytes, cls, freed, collected,
                 used, (unsigned long long)s.blocks_in_use, what, avail, cause);
#undef OOM_FMT
    return EMBER_ERR_DEVICE_OUT_OF_MEMORY;
}

ember_status mempool_alloc(struct ember_device *dev, ember_mem_kind kind, size_t nbytes,
                           void *stream, struct pool_block **out)
{
    struct mempool *p = NULL;
    ember_status st = mempool_of(dev, &p);
    if (st != EMBER_SUCCESS)
        return st;
    int bin, k = kind_index(kind);
    size_t size = size_class(nbytes, &bin);
    if (!size)
        return em_error(EMBER_ERR_INVALID_ARG, "%zu bytes is too large to allocate", nbytes);

    if (p->caching) {
        em_mutex_lock(&p->lock);
        struct pool_block *blk = take_cached(p, k, bin, size, stream);
        if (blk) {
            ember_pool_stats *s = &p->stats[k];
            s->hits++;
            s->bytes_cached -= blk->size;
            s->blocks_cached--;
            s->bytes_in_use += blk->size;
            s->blocks_in_use++;
        }
        em_mutex_unlock(&p->lock);
        if (blk) {
            blk->streams[0] = stream;
            blk->nstreams = 1;
            *out = blk;
            return EMBER_SUCCESS;
        }
    }

    struct pool_block *blk = em_calloc(1, sizeof *blk);
    if (!blk)
        return EMBER_ERR_OUT_OF_MEMORY;
    blk->kind = kind;
    blk->size = size;
    blk->streams[0] = stream;
    blk->nstreams = 1;
    st = driver_alloc(p, blk);
    bool recovered = false, hooked = false;
    uint64_t trimmed = 0;
    if (st == EMBER_ERR_DEVICE_OUT_OF_MEMORY) {
        /* Free the cache, let the program free what it can (into the
         * cache: free that too), try once more. */
        trimmed = trim(p);
        hooked = call_oom_hook();
        trimmed += trim(p);
        st = driver_alloc(p, blk);
        recovered = st == EMBER_SUCCESS;
    }
    em_mutex_lock(&p->lock);
    ember_pool_stats *s = &p->stats[k];
    if (st == EMBER_SUCCESS) {
        s->misses++;
        s->driver_allocs++;
        s->bytes_in_use += size;
        s->blocks_in_use++;
        s->oom_recoveries += recovered;
    } else if (st == EMBER_ERR_DEVICE_OUT_OF_MEMORY) {
        s->oom_failures++;
    }
    em_mutex_unlock(&p->lock);
    if (st != EMBER_SUCCESS) {
        em_free(blk);
        if (st == EMBER_ERR_DEVICE_OUT_OF_MEMORY)
            return oom_error(p, kind, nbytes, size, trimmed, hooked);
        return st;
    }
    if (recovered)
        ember_clear_error(); /* the first failure's message is no longer news */
    *out = blk;
    return EMBER_SUCCESS;
}

/* ---- free ------------------------------------------------------------------ */

/* Records an event on every stream that used the block. False when an
 * event cannot be made or recorded: then nothing proves the work is done. */
static bool record_events(struct ember_device *dev, struct pool_block *blk)
{
    for (int i = 0; i < blk->nstreams; i++) {
        if (!blk->events[i] &&
            dev->iface->event_create(dev->ctx, false, &blk->events[i]) != EMBER_SUCCESS) {
            blk->events[i] = NULL;
            return false;
        }
        if (dev->iface->event_record(dev->ctx, blk->events[i], blk->streams[i]) != EMBER_SUCCESS)
            return false;
    }
    return true;
}

void mempool_free(struct ember_device *dev, struct pool_block *blk)
{
    if (!blk)
        return;
    struct mempool *p = dev->pool; /* made by the allocation of blk */
    int k = kind_index(blk->kind);
    /* A free must not overwrite the message of a failure that led to it. */
    char saved[2048];
    snprintf(saved, sizeof saved, "%s", ember_last_error());
    int code = ember_last_driver_error();
    char name[64];
    snprintf(name, sizeof name, "%s", ember_last_driver_error_name());

    bool cache = p->caching && !blk->untracked && record_events(dev, blk);
    em_mutex_lock(&p->lock);
    ember_pool_stats *s = &p->stats[k];
    s->bytes_in_use -= blk->size;
    s->blocks_in_use--;
    if (cache) {
        int bin;
        size_class(blk->size, &bin);
        blk->next = p->bins[k][bin];
        p->bins[k][bin] = blk;
        s->bytes_cached += blk->size;
        s->blocks_cached++;
    } else {
        s->driver_frees++;
    }
    em_mutex_unlock(&p->lock);
    if (!cache)
        release_block(dev, blk);

    if (code)
        em_driver_error(code, name, "%s", saved);
    else if (saved[0])
        em_error(EMBER_SUCCESS, "%s", saved);
    else
        ember_clear_error();
}

void mempool_record_stream(struct ember_device *dev, struct pool_block *blk, void *stream,
                           bool foreign)
{
    struct mempool *p = dev->pool;
    if (!blk || !p || !p->caching)
        return;
    em_mutex_lock(&p->lock);
    if (foreign) {
        blk->untracked = true;
    } else {
        bool known = false;
        for (int i = 0; i < blk->nstreams && !known; i++)
            known = blk->streams[i] == stream;
        if (!known) {
            if (blk->nstreams < POOL_BLOCK_STREAMS)
                blk->streams[blk->nstreams++] = stream;
            else
                blk->untracked = true;
        }
    }
    em_mutex_unlock(&p->lock);
}

/* ---- public ------------------------------------------------------------------ */

ember_status ember_pool_get_stats(ember_device_t dev, ember_mem_kind kind, ember_pool_stats *out)
{
    if (!dev || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_pool_get_stats: NULL argument");
    if (kind != EMBER_MEM_DEVICE && kind != EMBER_MEM_PINNED && kind != EMBER_MEM_MAPPED &&
        kind != EMBER_MEM_MANAGED && kind != EMBER_MEM_MANAGED_HOST)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "ember_pool_get_stats: memory kind %d has no pool (device, pinned, "
                        "mapped and managed have)", (int)kind);
    struct mempool *p = __atomic_load_n(&dev->pool, __ATOMIC_ACQUIRE);
    if (!p) {
        memset(out, 0, sizeof *out);
        return EMBER_SUCCESS;
    }
    em_mutex_lock(&p->lock);
    *out = p->stats[kind_index(kind)];
    em_mutex_unlock(&p->lock);
    return EMBER_SUCCESS;
}

ember_status ember_pool_trim(ember_device_t dev)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_pool_trim: NULL device");
    struct mempool *p = __atomic_load_n(&dev->pool, __ATOMIC_ACQUIRE);
    if (p)
        trim(p);
    return EMBER_SUCCESS;
}

void ember_pool_set_oom_callback(void (*callback)(void *ctx), void *ctx)
{
    em_mutex_lock(&hook_lock);
    oom_hook = callback;
    oom_hook_ctx = ctx;
    em_mutex_unlock(&hook_lock);
}

ember_status ember_host_register(ember_device_t dev, void *ptr, size_t nbytes)
{
    if (!dev || (!ptr && nbytes))
        return em_error(EMBER_ERR_INVALID_ARG, "ember_host_register: NULL argument");
    if (!dev->iface->host_register || nbytes == 0)
        return EMBER_SUCCESS;
    return dev->iface->host_register(dev->ctx, ptr, nbytes, false, NULL);
}

ember_status ember_host_register_mapped(ember_device_t dev, void *ptr, size_t nbytes,
                                        uint64_t *device)
{
    if (!dev || !device || (!ptr && nbytes))
        return em_error(EMBER_ERR_INVALID_ARG, "ember_host_register_mapped: NULL argument");
    *device = (uint64_t)(uintptr_t)ptr; /* a kind without locking addresses host memory */
    if (!dev->iface->host_register || nbytes == 0)
        return EMBER_SUCCESS;
    return dev->iface->host_register(dev->ctx, ptr, nbytes, true, device);
}

ember_status ember_host_unregister(ember_device_t dev, void *ptr)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_host_unregister: NULL device");
    if (!dev->iface->host_unregister || !ptr)
        return EMBER_SUCCESS;
    return dev->iface->host_unregister(dev->ctx, ptr);
}
