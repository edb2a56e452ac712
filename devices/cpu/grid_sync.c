/*
 * grid_sync.c — cuda.cg.this_grid().sync() on the cpu device: a kernel
 * that calls it runs every block of its grid as a fiber, in phases.
 *
 * Within a block, grid.sync() is a barrier like syncthreads: barrier
 * fission (core/lower_fission.c) ends the region there, so every thread of
 * the block has arrived when the block's code calls host_grid_sync, once
 * per block. That call must then wait until every other block has arrived
 * too, for any grid size (CUDA limits a cooperative grid to the blocks that
 * fit on the GPU at once; numba's simulator to one block). A block's state
 * at that point is its threads' contexts (heap) *and* the block's own
 * control flow — the loop counters and branches of uniform control around
 * the barrier, in the entry's stack frame. Splitting the kernel into
 * resumable phases at compile time would mean turning that structured
 * control flow into a state machine (every uniform loop around a grid.sync
 * re-entered in the middle); instead each block runs on its own stack, a
 * fiber (ucontext), and host_grid_sync switches back to the worker that
 * resumed it. Fibers are the last resort of DESIGN.md for the per-thread
 * work; here there is one switch per block per grid.sync, nothing per
 * thread, so their cost does not matter.
 *
 * The launch (host_launch_grid) runs phases: a phase is one pool_run that
 * resumes every block that has not finished, each until its next
 * grid.sync or its end; pool_run returns when all have stopped, which is
 * the grid barrier. So every block finishes a phase before any block starts
 * the next, the blocks of a phase run in parallel on the workers, and a
 * grid of any size runs: the blocks' stacks are one reservation of address
 * space (FIBER_STACK_BYTES each, MAP_NORESERVE: only the pages a block
 * touches are memory, given back at the end of the launch: one munmap, as
 * a system call per block costs more than the block here), with a guard page below
 * each stack up to GUARDED_BLOCKS blocks (each guard is a mapping of its
 * own, and Linux allows about 65530 per process).
 *
 * Divergence never deadlocks: a phase ends when every live block has
 * reached *a* grid.sync or returned. A block that returns without the
 * grid.sync the others wait at counts as arrived (as the threads that skip
 * a syncthreads in a divergent branch, core/fission.c), and blocks waiting
 * at different grid.sync calls are released together. (On a GPU both are
 * undefined behaviour and usually hang.)
 *
 * An interruptible launch (Ctrl-C) asks the caller's hook about every 20 ms
 * on the launching thread; once it says stop, no more blocks are resumed
 * and the launch returns EMBER_ERR_INTERRUPTED at the end of the phase. The
 * blocks left waiting are abandoned (their stacks go with the reservation;
 * the per-block memory their entry allocated is not freed).
 *
 * A fiber may be resumed by another worker than the one it left: the
 * compiled code keeps no thread-local state across the call, and
 * host_grid_sync reads the thread-local `running` before it switches only.
 */
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

/* ThreadSanitizer follows a switch of stacks only when told (its fiber API;
 * flag 0: the switch orders what came before it, as the pool's phases do). */
#if defined(__SANITIZE_THREAD__)
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#define TSAN_CREATE(f) ((f)->tsan = __tsan_create_fiber(0))
#define TSAN_DESTROY(f) ((f)->tsan ? __tsan_destroy_fiber((f)->tsan) : (void)0)
#define TSAN_ENTER(f) ((f)->tsan_caller = __tsan_get_current_fiber(), \
                       __tsan_switch_to_fiber((f)->tsan, 0))
#define TSAN_LEAVE(f) __tsan_switch_to_fiber((f)->tsan_caller, 0)
#else
#define TSAN_CREATE(f) ((void)0)
#define TSAN_DESTROY(f) ((void)0)
#define TSAN_ENTER(f) ((void)0)
#define TSAN_LEAVE(f) ((void)0)
#endif

/* A block's stack: address space reserved (MAP_NORESERVE), pages committed
 * as they are touched, and a guard page below it. Kernels built by fission
 * keep their threads' variables and local arrays on the heap; the stack
 * holds the block's own frame and device-function calls (recursion up to
 * KERNEL_MAX_RECURSION deep). */
#define FIBER_STACK_BYTES (4u << 20)
#define GUARDED_BLOCKS 8192

enum { FIBER_NEW, FIBER_WAITING, FIBER_DONE };

typedef struct GridRun GridRun;

typedef struct Fiber {
    ucontext_t ctx;     /* the block's own context while it waits */
    ucontext_t *caller; /* the worker's context that resumed it last */
    char *stack;        /* its FIBER_STACK_BYTES in GridRun.stacks */
    GridRun *run;
    int64_t block;      /* linear block index */
    int state;          /* FIBER_* */
#if defined(__SANITIZE_THREAD__)
    void *tsan, *tsan_caller; /* ThreadSanitizer's fibers: this block's, its resumer's */
#endif
} Fiber;

struct GridRun {
    host_entry_fn entry;
    const char *args;
    HostDims *dims;
    Fiber *fibers;     /* one per block */
    int64_t *live;     /* indices of the fibers not done, for the next phase */
    int64_t nlive;
    size_t page;
    char *stacks;      /* every block's slot: a guard page, then its stack */
    size_t slot;       /* page + FIBER_STACK_BYTES */
    size_t bytes;      /* of the reservation */
    bool guard;        /* the guard pages are PROT_NONE */
    int32_t no_memory; /* atomic: a stack could not be mapped */
    bool (*stop)(void *); /* the caller's interrupt hook (may be NULL) */
    void *stop_ctx;
    int32_t stopped;   /* atomic: the hook said stop: resume no more blocks */
    int64_t next_poll; /* when worker 0 (the launching thread) asks the hook next */
};

#define POLL_NS 20000000 /* as launch_host.c: the hook is asked about every 20 ms */

static int64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The fiber this worker is running (NULL outside a grid launch). */
static __thread Fiber *running;

static __attribute__((noinline)) Fiber *current_fiber(void) { return running; }

static void fiber_main(unsigned lo, unsigned hi)
{
    Fiber *f = (Fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    f->run->entry(f->run->args, f->run->dims, f->block, f->block + 1);
    f->state = FIBER_DONE;
    TSAN_LEAVE(f);
    swapcontext(&f->ctx, f->caller); /* back to the worker, never resumed (swapcontext
                                      * rather than setcontext: ASan follows it) */
}

/* Called by the compiled kernel at grid.sync(), once per block, after all
 * its threads have arrived (devices/cpu/lower_host.c grid_sync). */
void host_grid_sync(HostDims *dims)
{
    (void)dims;
    Fiber *f = current_fiber();
    if (!f) /* not launched by host_launch_grid: nothing to wait for */
        return;
    f->state = FIBER_WAITING;
    TSAN_LEAVE(f);
    swapcontext(&f->ctx, f->caller); /* resumed by the next phase */
}

/* One block, until its next grid.sync or its end. */
static void resume(void *arg, int64_t index, int worker)
{
    GridRun *r = arg;
    if (r->stop && worker == 0 && coarse_ns() >= r->next_poll) { /* on the launching thread */
        r->next_poll = coarse_ns() + POLL_NS;
        if (r->stop(r->stop_ctx))
            __atomic_store_n(&r->stopped, 1, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&r->stopped, __ATOMIC_RELAXED))
        return;
    Fiber *f = &r->fibers[r->live[index]];
    if (f->state == FIBER_NEW) {
        char *guard = r->stacks + (size_t)f->block * r->slot;
        if ((r->guard && mprotect(guard, r->page, PROT_NONE) != 0) || getcontext(&f->ctx) != 0) {
            __atomic_store_n(&r->no_memory, 1, __ATOMIC_RELAXED);
            f->state = FIBER_DONE; /* the block does not run: the launch fails */
            return;
        }
        f->stack = guard + r->page;
        f->ctx.uc_stack.ss_sp = f->stack;
        f->ctx.uc_stack.ss_size = FIBER_STACK_BYTES;
        f->ctx.uc_link = NULL;
        uintptr_t p = (uintptr_t)f;
        makecontext(&f->ctx, (void (*)(void))fiber_main, 2, (unsigned)(p & 0xffffffffu),
                    (unsigned)(p >> 32));
        TSAN_CREATE(f);
    }
    ucontext_t here;
    f->caller = &here;
    running = f;
    TSAN_ENTER(f);
    swapcontext(&here, &f->ctx);
    running = NULL;
}

ember_status host_launch_grid(host_entry_fn entry, const char *args, HostDims *dims,
                              int64_t nblocks, pool *p, bool (*stop)(void *), void *stop_ctx)
{
    GridRun r = {.entry = entry, .args = args, .dims = dims, .nlive = nblocks,
                 .page = (size_t)sysconf(_SC_PAGESIZE), .stop = stop, .stop_ctx = stop_ctx,
                 .next_poll = coarse_ns() + POLL_NS};
    r.slot = r.page + FIBER_STACK_BYTES;
    r.guard = nblocks <= GUARDED_BLOCKS;
    r.fibers = em_calloc((size_t)nblocks, sizeof *r.fibers);
    r.live = em_malloc((size_t)nblocks * sizeof *r.live);
    if ((uint64_t)nblocks > SIZE_MAX / r.slot) /* not on 64-bit hosts: grids are < 2**63 */
        r.stacks = MAP_FAILED;
    else
        r.stacks = mmap(NULL, r.bytes = (size_t)nblocks * r.slot, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (!r.fibers || !r.live || r.stacks == MAP_FAILED) {
        em_free(r.fibers);
        em_free(r.live);
        if (r.stacks != MAP_FAILED)
            munmap(r.stacks, r.bytes);
        return em_error(EMBER_ERR_OUT_OF_MEMORY, "grid.sync() on the cpu device: no memory for "
                        "the state of %lld blocks (each waits at grid.sync on a stack of its "
                        "own: %u KiB of address space)", (long long)nblocks,
                        FIBER_STACK_BYTES >> 10);
    }
    for (int64_t i = 0; i < nblocks; i++) {
        r.fibers[i] = (Fiber){.run = &r, .block = i, .state = FIBER_NEW};
        r.live[i] = i;
    }
    ember_status st = EMBER_SUCCESS;
    int64_t phases = 0;
    while (r.nlive > 0) {
        pool_run(p, r.nlive, resume, &r); /* returns when every block has stopped */
        phases++;
        int64_t n = 0;
        for (int64_t i = 0; i < r.nlive; i++)
            if (r.fibers[r.live[i]].state != FIBER_DONE)
                r.live[n++] = r.live[i];
        r.nlive = n;
        if (__atomic_load_n(&r.no_memory, __ATOMIC_RELAXED)) {
            st = em_error(EMBER_ERR_OUT_OF_MEMORY, "grid.sync() on the cpu device: cannot "
                          "start the fibers of %lld blocks (getcontext or a guard page "
                          "failed)", (long long)nblocks);
            break;
        }
        if (__atomic_load_n(&r.stopped, __ATOMIC_RELAXED)) {
            st = em_error(EMBER_ERR_INTERRUPTED, "interrupted: the launch stopped in phase "
                          "%lld (the blocks run between grid.sync() calls), and the blocks "
                          "that had not started it did not run", (long long)phases);
            break;
        }
    }
    /* Blocks left waiting (an error above) are abandoned with their stacks;
     * the per-block memory their entry allocated is not freed. */
    for (int64_t i = 0; i < nblocks; i++)
        TSAN_DESTROY(&r.fibers[i]);
    munmap(r.stacks, r.bytes);
    em_free(r.fibers);
    em_free(r.live);
    return st;
}
