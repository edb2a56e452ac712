/*
 * launch_host.c — running a compiled kernel over its grid on the cpu
 * device's worker pool.
 *
 * The grid's blocks (in linear order, x fastest) are cut into contiguous
 * chunks, about four per worker so that uneven blocks still balance, each
 * at least one block. Every pool task calls the kernel's entry for its
 * chunk; the entry loops over the chunk's blocks and their threads itself.
 * The launch returns when every chunk is done.
 *
 * An interruptible launch (host_launch_interruptible: a Python launch, so
 * that Ctrl-C works) calls the entry for slices of a chunk instead, each
 * about SLICE_NS long: the slice starts at one block and doubles while a
 * call takes less than half of that, measured with the coarse clock (a few
 * ns to read, 1-4 ms resolution). Between slices a worker stops if the
 * launch was interrupted, and the launching thread (worker 0, and while it
 * waits for the others) asks the caller's hook about every POLL_NS. So a
 * launch stops within a slice plus a poll period; a single block that runs
 * longer (an endless loop in one thread) cannot be stopped.
 */
#include <stddef.h>
#include <time.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

#define CPU_OPTIN_SHARED_BYTES HOST_OPTIN_SHARED_BYTES

#define CHUNKS_PER_WORKER 4
#define SLICE_NS 8000000 /* interruptible: an entry call should take about 8 ms */
#define POLL_NS 20000000 /* ... and the hook is asked every 20 ms */

typedef struct LaunchCtx {
    host_entry_fn entry;
    const char *args;
    HostDims dims;
    int64_t nblocks;
    int64_t chunk; /* blocks per task */
    const HostInterrupt *intr; /* NULL: one entry call per chunk */
    int64_t slice;     /* atomic: blocks per entry call, adapted by every worker */
    int32_t stop;      /* atomic: interrupted, start no more slices */
    int64_t next_poll; /* when worker 0 asks the hook next (only it reads this) */
} LaunchCtx;

static int64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* On the launching thread: asks the hook when a poll is due; a yes stops
 * the launch. Also the pool's watch while that thread waits. */
static void poll_interrupt(void *arg)
{
    LaunchCtx *c = arg;
    if (__atomic_load_n(&c->stop, __ATOMIC_RELAXED))
        return;
    int64_t now = coarse_ns();
    if (now < c->next_poll)
        return;
    c->next_poll = now + POLL_NS;
    if (c->intr->stop(c->intr->ctx))
        __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
}

static void run_chunk(void *arg, int64_t index, int worker)
{
    LaunchCtx *c = arg;
    int64_t first = index * c->chunk;
    int64_t last = first + c->chunk < c->nblocks ? first + c->chunk : c->nblocks;
    if (!c->intr) {
        c->entry(c->args, &c->dims, first, last);
        return;
    }
    while (first < last && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        int64_t n = __atomic_load_n(&c->slice, __ATOMIC_RELAXED);
        int64_t end = last - first > n ? first + n : last;
        int64_t t0 = coarse_ns();
        c->entry(c->args, &c->dims, first, end);
        int64_t took = coarse_ns() - t0;
        if (took < SLICE_NS / 2 && n < c->nblocks)
            __atomic_store_n(&c->slice, 2 * n, __ATOMIC_RELAXED);
        else if (took > 2 * SLICE_NS && n > 1)
            __atomic_store_n(&c->slice, n / 2, __ATOMIC_RELAXED);
        first = end;
        if (worker == 0)
            poll_interrupt(c);
    }
}

ember_status host_launch(const HostKernel *k, struct ember_device *cpu, const int64_t grid[3],
                         const int64_t block[3], const char *args)
{
    return host_launch_shared(k, cpu, grid, block, 0, args);
}

ember_status host_launch_shared(const HostKernel *k, struct ember_device *cpu,
                                const int64_t grid[3], const int64_t block[3], size_t shared,
                                const char *args)
{
    return host_launch_interruptible(k, cpu, grid, block, shared, args, NULL);
}

ember_status host_launch_interruptible(const HostKernel *k, struct ember_device *cpu,
                                       const int64_t grid[3], const int64_t block[3],
                                       size_t shared, const char *args,
                                       const HostInterrupt *intr)
{
    host_entry_fn entry = host_kernel_entry(k);
    if (!entry || !cpu || !grid || !block)
        return em_error(EMBER_ERR_INVALID_ARG, "host_launch: NULL kernel, device or dims");
    if (cpu->info.kind != EMBER_DEVICE_CPU)
        return em_error(EMBER_ERR_DEVICE_MISMATCH, "host_launch: not the cpu device");
    LaunchCtx c = {.entry = entry, .args = args};
    _Static_assert(offsetof(HostDims, dynamic_shared) == HOST_DIMS_DYNAMIC_SHARED_OFFSET,
                   "devices/cpu/lower_host.c reads HostDims.dynamic_shared at this offset");
    /* CUDA: up to the device's opt-in shared memory per block
     * (cudaDevAttrMaxSharedMemoryPerBlockOptin; ember opts a GPU kernel in
     * when a launch asks for more than the default 48 KiB). The cpu device
     * stands in for compute capability 9.0: 227 KiB, so a launch that runs
     * here runs on an H100 too. */
    if (shared > CPU_OPTIN_SHARED_BYTES)
        return em_error(EMBER_ERR_INVALID_ARG, "%zu bytes of dynamic shared memory per block "
                        "(the launch's sharedmem), above the cpu device's limit of %d bytes "
                        "per block (the opt-in limit of compute capability 9.0)", shared,
                        CPU_OPTIN_SHARED_BYTES);
    c.dims.dynamic_shared = (int64_t)shared;
    /* threadIdx, blockIdx and the dims are int32 in the kernel. */
    int64_t nblocks = 1, nthreads = 1;
    for (int i = 0; i < 3; i++) {
        if (grid[i] < 1 || grid[i] > INT32_MAX || block[i] < 1 || block[i] > INT32_MAX)
            return em_error(EMBER_ERR_INVALID_ARG,
                            "host_launch: grid (%lld, %lld, %lld) and block (%lld, %lld, %lld) "
                            "sizes must be in 1 .. 2**31-1",
                            (long long)grid[0], (long long)grid[1], (long long)grid[2],
                            (long long)block[0], (long long)block[1], (long long)block[2]);
        c.dims.grid[i] = grid[i];
        c.dims.block[i] = block[i];
    }
    /* The kernel numbers its threads in int64 (the thread loops, the grid
     * guard of lower_host.c): the grid may hold at most 2**63 - 1 of them. */
    int64_t total;
    if (__builtin_mul_overflow(grid[0], grid[1], &nblocks) ||
        __builtin_mul_overflow(nblocks, grid[2], &nblocks) ||
        __builtin_mul_overflow(block[0], block[1], &nthreads) ||
        __builtin_mul_overflow(nthreads, block[2], &nthreads) ||
        __builtin_mul_overflow(nblocks, nthreads, &total))
        return em_error(EMBER_ERR_INVALID_ARG,
                        "grid (%lld, %lld, %lld) times block (%lld, %lld, %lld) is more than "
                        "2**63 - 1 threads, the most the cpu device can number",
                        (long long)grid[0], (long long)grid[1], (long long)grid[2],
                        (long long)block[0], (long long)block[1], (long long)block[2]);
    pool *p = NULL;
    ember_status st = cpu_device_pool(cpu, &p);
    if (st)
        return st;
    int64_t nchunks = (int64_t)pool_size(p) * CHUNKS_PER_WORKER;
    if (nchunks > nblocks)
        nchunks = nblocks;
    c.nblocks = nblocks;
    c.chunk = (nblocks + nchunks - 1) / nchunks;
    nchunks = (nblocks + c.chunk - 1) / c.chunk;
    if (host_kernel_grid_sync(k)) { /* grid.sync(): every block a fiber (grid_sync.c) */
        st = host_launch_grid(entry, args, &c.dims, nblocks, p, intr ? intr->stop : NULL,
                              intr ? intr->ctx : NULL);
        if (st)
            return st;
    } else if (intr && intr->stop) {
        c.intr = intr;
        c.slice = 1;
        c.next_poll = coarse_ns() + POLL_NS;
        pool_run_watched(p, nchunks, run_chunk, &c, poll_interrupt, &c);
        if (__atomic_load_n(&c.stop, __ATOMIC_RELAXED))
            return em_error(EMBER_ERR_INTERRUPTED, "interrupted: the launch stopped between "
                            "blocks, and the blocks that had not started did not run");
    } else {
        pool_run(p, nchunks, run_chunk, &c);
    }
    int32_t fault = __atomic_load_n(&c.dims.fault, __ATOMIC_ACQUIRE);
    if (fault == KERNEL_FAULT_INDEX || fault == KERNEL_FAULT_DIVERGENT || fault == KERNEL_FAULT_RAISE) {
        /* where: the check's source line, the thread and its block */
        int32_t w[6];
        for (int i = 0; i < 6; i++)
            w[i] = __atomic_load_n(&c.dims.fault_where[i], __ATOMIC_ACQUIRE);
        const char *site = host_kernel_site(k, __atomic_load_n(&c.dims.fault_site,
                                                               __ATOMIC_ACQUIRE));
        if (fault == KERNEL_FAULT_RAISE) /* HOST_RAISE_FORMAT: python/ext reads it back */
            return em_error(EMBER_ERR_KERNEL_FAULT, HOST_RAISE_FORMAT,
                            __atomic_load_n(&c.dims.fault_site, __ATOMIC_ACQUIRE),
                            w[0], w[1], w[2], w[3], w[4], w[5]);
        if (fault == KERNEL_FAULT_INDEX)
            return em_error(EMBER_ERR_INDEX, "%s: index out of bounds in thread (%d, %d, %d) "
                            "of block (%d, %d, %d) (the access was skipped: nothing was written "
                            "outside the array; a checked load read 0)",
                            site, w[0], w[1], w[2], w[3], w[4], w[5]);
        return em_error(EMBER_ERR_KERNEL_FAULT, "%s: thread (%d, %d, %d) of block (%d, %d, %d) "
                        "disagrees with the block's first live thread on a condition that "
                        "controls a barrier or warp collective; every thread of a block must "
                        "reach each barrier the same number of times (undefined behaviour on a "
                        "GPU; the CPU device followed the first live thread)",
                        site, w[0], w[1], w[2], w[3], w[4], w[5]);
    }
    if (fault == KERNEL_FAULT_SCRATCH)
        return em_error(EMBER_ERR_OUT_OF_MEMORY, "no memory for the per-thread contexts and "
                        "shared memory of a block (%lld threads per block)",
                        (long long)(block[0] * block[1] * block[2]));
    if (fault == KERNEL_FAULT_RECURSION)
        return em_error(EMBER_ERR_KERNEL_FAULT, "a recursive device function went deeper than "
                        "%d calls; the threads that did so stopped early and their results are "
                        "incomplete", KERNEL_MAX_RECURSION);
    return EMBER_SUCCESS;
}
