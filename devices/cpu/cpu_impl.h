/*
 * cpu_impl.h — internal view of the cpu device kind: the worker pool.
 *
 * The pool is what later issues run kernel blocks on: a parallel-for over
 * block indices, executed by one thread per hardware thread (hwloc-sized,
 * each bound to its PU), with the calling thread taking part.
 */
#ifndef EMBER_CPU_IMPL_H
#define EMBER_CPU_IMPL_H

#include "devices/device_impl.h"

typedef struct pool pool;

/* Runs task(ctx, index, worker) for every index in [0, n); `worker` is in
 * [0, pool_size) and no two tasks of one pool_run run at once with the same
 * id (worker 0 is the caller). Tasks of different pool_runs may (a run that
 * found the pool busy runs on its caller as worker 0): keep no per-worker
 * state across runs. */
typedef void (*pool_task_fn)(void *ctx, int64_t index, int worker);
/* Called by pool_run_watched's caller, on its thread, while it waits. */
typedef void (*pool_watch_fn)(void *ctx);

/* ---- pool.c ---------------------------------------------------------- */

/* Starts `nthreads` - 1 worker threads (the caller of pool_run is worker 0).
 * `topology` (an hwloc_topology_t, may be NULL) is used to bind worker i to
 * the i-th PU. Caller owns *out. */
EM_HIDDEN ember_status pool_create(int nthreads, void *topology, pool **out);
/* Stops and joins the workers. NULL does nothing. */
EM_HIDDEN void pool_destroy(pool *p);
EM_HIDDEN int pool_size(const pool *p);
/* Runs the task over [0, n) on all workers and returns when every index is
 * done. One parallel-for at a time uses the workers: a call that finds the
 * pool busy (another thread's, or nested in a task or a watch) runs every
 * index on its caller instead of waiting. */
EM_HIDDEN void pool_run(pool *p, int64_t n, pool_task_fn task, void *ctx);
/* pool_run, calling watch(wctx) (may be NULL) about every 10 ms while the
 * caller, done with its own indices, waits for the other workers. */
EM_HIDDEN void pool_run_watched(pool *p, int64_t n, pool_task_fn task, void *ctx,
                                pool_watch_fn watch, void *wctx);

/* A cpu stream: operations run as they are submitted, unless a graph
 * capture is open on it (cpu_graph.c). */
struct cpu_stream {
    struct cpu_graph *capture; /* owned while capturing, else NULL */
};

/* ---- cpu_graph.c ----------------------------------------------------- */

/* The capture open on native cpu stream `stream`, or NULL (also for the
 * default stream). */
EM_HIDDEN struct cpu_graph *cpu_stream_capture(void *stream);
/* Records a copy of `nbytes` from host address `src` to `dst`. */
EM_HIDDEN ember_status cpu_capture_copy(struct cpu_graph *g, uint64_t dst, uint64_t src,
                                        size_t nbytes);
/* Records setting `nbytes` bytes from host address `dst` to `value`. */
EM_HIDDEN ember_status cpu_capture_memset(struct cpu_graph *g, uint64_t dst, uint8_t value,
                                          size_t nbytes);
/* The device interface's four graph slots. */
EM_HIDDEN ember_status cpu_capture_begin(void *ctx, void *stream);
EM_HIDDEN ember_status cpu_capture_end(void *ctx, void *stream, void **graph, size_t *nodes);
EM_HIDDEN ember_status cpu_graph_launch(void *ctx, void *graph, void *stream);
EM_HIDDEN void cpu_graph_destroy(void *ctx, void *graph);

/* ---- cpu_device.c ---------------------------------------------------- */

/* The cpu device's pool, started on first use. */
EM_HIDDEN ember_status cpu_device_pool(struct ember_device *dev, pool **out);

#endif /* EMBER_CPU_IMPL_H */
