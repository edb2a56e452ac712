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
 * grid of any size runs (its blocks' stacks are reserved, not committed,
 * memory: FIBER_STACK_BYTES of address space each, a few pages used).
 *
 * Divergence never deadlocks: a phase ends when every live block has
 * reached *a* grid.sync or returned. A block that returns without the
 * grid.sync the others wait at counts as arrived (as the threads that skip
 * a syncthreads in a divergent branch, core/fission.c), and blocks waiting
 * at different grid.sync calls are released together. (On a GPU both are
 * undefined behaviour and usually hang.)
 *
 * A fiber may be resumed by another worker than the one it left: the
 * compiled code keeps no thread-local state across the call, and
 * host_grid_sync reads the thread-local `running` before it switches only.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

/* A block's stack: address space reserved (MAP_NORESERVE), pages committed
 * as they are touched, and a guard page below it. Kernels built by fission
 * keep their threads' variables and local arrays on the heap; the stack
 * holds the block's own frame and device-function calls (recursion up to
 * KERNEL_MAX_RECURSION deep). */
#define FIBER_STACK_BYTES (4u << 20)

enum { FIBER_NEW, FIBER_WAITING, FIBER_DONE };

typedef struct GridRun GridRun;

typedef struct Fiber {
    ucontext_t ctx;     /* the block's own context while it waits */
    ucontext_t *caller; /* the worker's context that resumed it last */
    char *map;          /* stack mapping (guard page first); NULL when none */
    GridRun *run;
    int64_t block;      /* linear block index */
    int state;          /* FIBER_* */
} Fiber;

struct GridRun {
    host_entry_fn entry;
    const char *args;
    HostDims *dims;
    Fiber *fibers;     /* one per block */
    int64_t *live;     /* indices of the fibers not done, for the next phase */
    int64_t nlive;
    size_t page;
    int32_t no_memory; /* atomic: a stack could not be mapped */
};

/* The fiber this worker is running (NULL outside a grid launch). */
static __thread Fiber *running;

static __attribute__((noinline)) Fiber *current_fiber(void) { return running; }

static void fiber_main(unsigned lo, unsigned hi)
{
    Fiber *f = (Fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    f->run->entry(f->run->args, f->run->dims, f->block, f->block + 1);
    f->state = FIBER_DONE;
    setcontext(f->caller); /* back to the worker; the stack is freed there */
}

/* Called by the compiled kernel at grid.sync(), once per block, after all
 * its threads have arrived (lower_host.c host_grid_sync_call). */
void host_grid_sync(HostDims *dims)
{
    (void)dims;
    Fiber *f = current_fiber();
    if (!f) /* not launched by host_launch_grid: nothing to wait for */
        return;
    f->state = FIBER_WAITING;
    swapcontext(&f->ctx, f->caller); /* resumed by the next phase */
}

static void release_stack(GridRun *r, Fiber *f)
{
    if (f->map)
        munmap(f->map, FIBER_STACK_BYTES + r->page);
    f->map = NULL;
}

/* One block, until its next grid.sync or its end. */
static void resume(void *arg, int64_t index, int worker)
{
    (void)worker;
    GridRun *r = arg;
    Fiber *f = &r->fibers[r->live[index]];
    if (f->state == FIBER_NEW) {
        f->map = mmap(NULL, FIBER_STACK_BYTES + r->page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (f->map == MAP_FAILED || mprotect(f->map, r->page, PROT_NONE) != 0 ||
            getcontext(&f->ctx) != 0) {
            if (f->map == MAP_FAILED)
                f->map = NULL;
            release_stack(r, f);
            __atomic_store_n(&r->no_memory, 1, __ATOMIC_RELAXED);
            f->state = FIBER_DONE; /* the block does not run: the launch fails */
            return;
        }
        f->ctx.uc_stack.ss_sp = f->map + r->page;
        f->ctx.uc_stack.ss_size = FIBER_STACK_BYTES;
        f->ctx.uc_link = NULL;
        uintptr_t p = (uintptr_t)f;
        makecontext(&f->ctx, (void (*)(void))fiber_main, 2, (unsigned)(p & 0xffffffffu),
                    (unsigned)(p >> 32));
    }
    ucontext_t here;
    f->caller = &here;
    running = f;
    swapcontext(&here, &f->ctx);
    running = NULL;
    if (f->state == FIBER_DONE)
        release_stack(r, f);
}

ember_status host_launch_grid(host_entry_fn entry, const char *args, HostDims *dims,
                              int64_t nblocks, pool *p, bool (*stop)(void *), void *stop_ctx)
{
    GridRun r = {.entry = entry, .args = args, .dims = dims, .nlive = nblocks,
                 .page = (size_t)sysconf(_SC_PAGESIZE)};
    r.fibers = em_calloc((size_t)nblocks, sizeof *r.fibers);
    r.live = em_malloc((size_t)nblocks * sizeof *r.live);
    if (!r.fibers || !r.live) {
        em_free(r.fibers);
        em_free(r.live);
        return em_error(EMBER_ERR_OUT_OF_MEMORY, "grid.sync() on the cpu device: no memory for "
                        "the state of %lld blocks", (long long)nblocks);
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
            st = em_error(EMBER_ERR_OUT_OF_MEMORY, "grid.sync() on the cpu device: no memory "
                          "for the stacks of %lld blocks (%u KiB of address space each; each "
                          "block waits at grid.sync on its own stack)", (long long)nblocks,
                          FIBER_STACK_BYTES >> 10);
            break;
        }
        if (r.nlive && stop && stop(stop_ctx)) {
            st = em_error(EMBER_ERR_INTERRUPTED, "interrupted: the launch stopped at a "
                          "grid.sync() after %lld phases", (long long)phases);
            break;
        }
    }
    /* Blocks left waiting (an error above) are abandoned: their stacks go;
     * the per-block memory their entry allocated is not freed. */
    for (int64_t i = 0; i < r.nlive; i++)
        release_stack(&r, &r.fibers[r.live[i]]);
    em_free(r.fibers);
    em_free(r.live);
    return st;
}
