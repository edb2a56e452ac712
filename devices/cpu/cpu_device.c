/*
 * cpu_device.c — the cpu device kind: always present.
 *
 * Its memory is aligned host memory, its streams are in-order queues that
 * execute each operation as it is submitted (or record it while a graph
 * capture is open on them: cpu_graph.c), and its events are
 * timestamps. hwloc gives the topology (packages, cores, PUs, NUMA nodes,
 * caches, and the PCI devices the cuda kind looks up), which sizes the worker
 * pool that kernels run their blocks on.
 */
#include <hwloc.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "devices/cpu/cpu_impl.h"

/* Device memory is aligned for the widest vector loads and like cuMemAlloc. */
#define CPU_ALIGN 256

struct cpu_ctx {
    hwloc_topology_t topo;
    ember_cpu_topology summary;
    pthread_mutex_t pool_lock;
    pool *pool; /* started on first use */
};

struct cpu_event {
    uint64_t ns; /* when recorded */
};

static ember_status cpu_alloc(void *ctx, ember_mem_kind kind, size_t nbytes, void **host,
                              uint64_t *device)
{
    void *p = em_aligned_alloc(CPU_ALIGN, nbytes ? nbytes : 1);
    if (!p)
        return em_error(EMBER_ERR_DEVICE_OUT_OF_MEMORY,
                        "out of memory allocating %zu bytes on the cpu device", nbytes);
    *host = p;
    *device = (uint64_t)(uintptr_t)p;
    return EMBER_SUCCESS;
}

static void cpu_free(void *ctx, ember_mem_kind kind, void *host, uint64_t device)
{
    em_aligned_free(host);
}

static ember_status cpu_memory_info(void *ctx, uint64_t *free_bytes, uint64_t *total_bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    long avail = sysconf(_SC_AVPHYS_PAGES), total = sysconf(_SC_PHYS_PAGES);
    if (page <= 0 || avail < 0 || total <= 0)
        return em_error(EMBER_ERR_SYSTEM, "sysconf cannot report memory sizes");
    *free_bytes = (uint64_t)avail * (uint64_t)page;
    *total_bytes = (uint64_t)total * (uint64_t)page;
    return EMBER_SUCCESS;
}

/* Both addresses are host addresses on this device; regions may overlap. */
static ember_status cpu_copy(void *ctx, uint64_t dst, bool dst_dev, uint64_t src, bool src_dev,
                             size_t nbytes, void *stream)
{
    struct cpu_graph *g = cpu_stream_capture(stream);
    if (g)
        return cpu_capture_copy(g, dst, src, nbytes);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, nbytes);
    return EMBER_SUCCESS;
}

/* `dst` is a host address on this device. */
static ember_status cpu_memset(void *ctx, uint64_t dst, uint8_t value, size_t nbytes,
                               void *stream)
{
    struct cpu_graph *g = cpu_stream_capture(stream);
    if (g)
        return cpu_capture_memset(g, dst, value, nbytes);
    memset((void *)(uintptr_t)dst, value, nbytes);
    return EMBER_SUCCESS;
}

static ember_status cpu_ok(void *ctx) { return EMBER_SUCCESS; }

/* A stream needs an identity and its capture only: operations run as they
 * are submitted, which keeps them in order. */
static ember_status cpu_stream_create(void *ctx, void **out)
{
    struct cpu_stream *s = em_calloc(1, sizeof *s);
    if (!s)
        return EMBER_ERR_OUT_OF_MEMORY;
    *out = s;
    return EMBER_SUCCESS;
}

static void cpu_stream_destroy(void *ctx, void *stream)
{
    cpu_graph_destroy(ctx, cpu_stream_capture(stream)); /* an abandoned capture */
    em_free(stream);
}
static ember_status cpu_stream_sync(void *ctx, void *stream) { return EMBER_SUCCESS; }

static ember_status cpu_event_create(void *ctx, bool timing, void **out)
{
    struct cpu_event *e = em_calloc(1, sizeof *e);
    if (!e)
        return EMBER_ERR_OUT_OF_MEMORY;
    *out = e;
    return EMBER_SUCCESS;
}

static void cpu_event_destroy(void *ctx, void *event) { em_free(event); }

static ember_status cpu_event_record(void *ctx, void *event, void *stream)
{
    ((struct cpu_event *)event)->ns = em_now_ns();
    return EMBER_SUCCESS;
}

static ember_status cpu_event_sync(void *ctx, void *event) { return EMBER_SUCCESS; }

static ember_status cpu_event_wait(void *ctx, void *event, void *stream) { return EMBER_SUCCESS; }

static ember_status cpu_event_elapsed(void *ctx, void *start, void *end, float *ms)
{
    const struct cpu_event *a = start, *b = end;
    *ms = (float)((double)((int64_t)(b->ns - a->ns)) / 1e6);
    return EMBER_SUCCESS;
}

static void cpu_destroy(void *ctx)
{
    struct cpu_ctx *c = ctx;
    pool_destroy(c->pool);
    pthread_mutex_destroy(&c->pool_lock);
    if (c->topo)
        hwloc_topology_destroy(c->topo);
    em_free(c);
}

static const struct ember_device_i cpu_iface = {
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memory_info = cpu_memory_info,
    .copy = cpu_copy,
    .memset = cpu_memset,
    .synchronize = cpu_ok,
    .stream_create = cpu_stream_create,
    .stream_destroy = cpu_stream_destroy,
    .stream_synchronize = cpu_stream_sync,
    .stream_query = cpu_stream_sync,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_synchronize = cpu_event_sync,
    .event_query = cpu_event_sync,
    .event_wait = cpu_event_wait,
    .event_elapsed_ms = cpu_event_elapsed,
    .capture_begin = cpu_capture_begin,
    .capture_end = cpu_capture_end,
    .graph_launch = cpu_graph_launch,
    .graph_destroy = cpu_graph_destroy,
    .destroy = cpu_destroy,
};

static uint64_t first_cache_size(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, 0);
    return o && o->attr ? o->attr->cache.size : 0;
}

/* Worker count: EMBER_NUM_THREADS if set to a positive number, else one per
 * hardware thread (PU) the process may run on. */
static int worker_count(int pus)
{
    const char *env = getenv("EMBER_NUM_THREADS");
    if (env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n > 0 && n <= 4096)
            return (int)n;
    }
    return pus > 0 ? pus : 1;
}

static void summarise(hwloc_topology_t topo, ember_cpu_topology *s)
{
    memset(s, 0, sizeof *s);
    s->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    s->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    s->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    s->numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    s->l1d_bytes = first_cache_size(topo, HWLOC_OBJ_L1CACHE);
    s->l2_bytes = first_cache_size(topo, HWLOC_OBJ_L2CACHE);
    s->l3_bytes = first_cache_size(topo, HWLOC_OBJ_L3CACHE);
    s->workers = worker_count(s->pus);
    const char *model = NULL;
    hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
    if (pkg)
        model = hwloc_obj_get_info_by_name(pkg, "CPUModel");
    if (!model)
        model = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "CPUModel");
    snprintf(s->model, sizeof s->model, "%s", model ? model : "unknown CPU");
}

ember_status cpu_device_open(struct ember_device **out)
{
    struct ember_device *dev = em_calloc(1, sizeof *dev);
    struct cpu_ctx *c = dev ? em_calloc(1, sizeof *c) : NULL;
    if (!c) {
        em_free(dev);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    if (hwloc_topology_init(&c->topo) != 0) {
        c->topo = NULL;
        goto fail_hwloc;
    }
    /* Keep PCI devices so the cuda kind can find the CPUs near each GPU. */
    hwloc_topology_set_io_types_filter(c->topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(c->topo) != 0)
        goto fail_hwloc;
    summarise(c->topo, &c->summary);
    pthread_mutex_init(&c->pool_lock, NULL);

    dev->iface = &cpu_iface;
    dev->ctx = c;
    ember_device_info *info = &dev->info;
    info->kind = EMBER_DEVICE_CPU;
    info->ordinal = 0;
    snprintf(info->name, sizeof info->name, "%s", c->summary.model);
    uint64_t free_bytes = 0, total = 0;
    cpu_memory_info(c, &free_bytes, &total);
    info->total_memory = total;
    info->multiprocessors = c->summary.workers;
    info->max_threads_per_block = 1024;
    info->warp_size = 32;
    info->max_shared_memory_per_block = 48 * 1024;
    info->max_shared_memory_per_block_optin = 227 * 1024; /* compute capability 9.0's */
    hwloc_bitmap_list_snprintf(info->near_cpus, sizeof info->near_cpus,
                               hwloc_topology_get_allowed_cpuset(c->topo));
    *out = dev;
    return EMBER_SUCCESS;

fail_hwloc:
    if (c->topo)
        hwloc_topology_destroy(c->topo);
    em_free(c);
    em_free(dev);
    return em_error(EMBER_ERR_SYSTEM, "hwloc could not load the machine topology");
}

void cpu_device_topology(struct ember_device *dev, ember_cpu_topology *out)
{
    *out = ((struct cpu_ctx *)dev->ctx)->summary;
}

void *cpu_device_hwloc(struct ember_device *dev)
{
    return dev ? ((struct cpu_ctx *)dev->ctx)->topo : NULL;
}

ember_status cpu_device_pool(struct ember_device *dev, pool **out)
{
    struct cpu_ctx *c = dev->ctx;
    ember_status st = EMBER_SUCCESS;
    em_mutex_lock(&c->pool_lock);
    if (!c->pool)
        st = pool_create(c->summary.workers, c->topo, &c->pool);
    if (st == EMBER_SUCCESS)
        *out = c->pool;
    em_mutex_unlock(&c->pool_lock);
    return st;
}
