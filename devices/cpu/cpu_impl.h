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
 * [0, pool_size) and no two concurrent calls share a worker id. */
typedef void (*pool_task_fn)(void *ctx, int64_t index, int worker);

/* ---- pool.c ---------------------------------------------------------- */

/* Starts `nthreads` - 1 worker threads (the caller of pool_run is worker 0).
 * `topology` (an hwloc_topology_t, may be NULL) is used to bind worker i to
 * the i-th PU. Caller owns *out. */
EM_HIDDEN ember_status pool_create(int nthreads, void *topology, pool **out);
/* Stops and joins the workers. NULL does nothing. */
EM_HIDDEN void pool_destroy(pool *p);
EM_HIDDEN int pool_size(const pool *p);
/* Runs the task over [0, n) on all workers and returns when every index is
 * done. Calls are serialised: one parallel-for at a time per pool. */
EM_HIDDEN void pool_run(pool *p, int64_t n, pool_task_fn task, void *ctx);

/* ---- cpu_device.c ---------------------------------------------------- */

/* The cpu device's pool, started on first use. */
EM_HIDDEN ember_status cpu_device_pool(struct ember_device *dev, pool **out);

#endif /* EMBER_CPU_IMPL_H */
