/*
 * pool.c — a fixed pool of worker threads running parallel-for loops.
 *
 * A parallel-for hands out indices from one atomic counter, so uneven work
 * (blocks that exit early) balances itself. Workers sleep on a condition
 * variable between loops; each loop is a new "generation". The caller runs
 * as worker 0, so a pool of one thread starts no thread at all.
 */
#include <hwloc.h>
#include <pthread.h>

#include "devices/cpu/cpu_impl.h"

struct pool {
    int size;                 /* workers, the caller included */
    pthread_t *threads;       /* size - 1 background threads */
    int started;              /* threads actually started */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* a new generation or shutdown */
    pthread_cond_t done;      /* the last worker finished a generation */
    pthread_mutex_t run_lock; /* serialises pool_run calls */
    uint64_t generation;
    bool stop;
    /* the current loop */
    pool_task_fn task;
    void *ctx;
    int64_t n;
    int64_t next;             /* atomic: next index to hand out */
    int busy;                 /* background workers still in this generation */
    hwloc_topology_t topo;
};

struct worker_arg {
    pool *p;
    int id;
};

static void run_indices(pool *p, int worker)
{
    for (;;) {
        int64_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (i >= p->n)
            break;
        p->task(p->ctx, i, worker);
    }
}

static void bind_to_pu(hwloc_topology_t topo, int id)
{
    if (!topo)
        return;
    int npu = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    if (npu <= 0)
        return;
    hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)(id % npu));
    if (pu && pu->cpuset)
        hwloc_set_cpubind(topo, pu->cpuset, HWLOC_CPUBIND_THREAD); /* best effort */
}

static void *worker_main(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    em_free(arg);
    pool *p = wa.p;
    bind_to_pu(p->topo, wa.id);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        run_indices(p, wa.id);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void pool_destroy(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->run_lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    em_free(p->threads);
    em_free(p);
}

ember_status pool_create(int nthreads, void *topology, pool **out)
{
    if (nthreads < 1 || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "pool_create: %d threads", nthreads);
    pool *p = em_calloc(1, sizeof *p);
    if (!p)
        return EMBER_ERR_OUT_OF_MEMORY;
    p->threads = em_calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        em_free(p);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    p->size = nthreads;
    p->topo = topology;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < nthreads; i++) {
        struct worker_arg *wa = em_malloc(sizeof *wa);
        if (!wa) {
            pool_destroy(p);
            return EMBER_ERR_OUT_OF_MEMORY;
        }
        wa->p = p;
        wa->id = i;
        int rc = pthread_create(&p->threads[p->started], NULL, worker_main, wa);
        if (rc != 0) {
            em_free(wa);
            pool_destroy(p);
            return em_error(EMBER_ERR_SYSTEM, "could not start worker thread %d (error %d)", i,
                            rc);
        }
        p->started++;
    }
    *out = p;
    return EMBER_SUCCESS;
}

int pool_size(const pool *p) { return p ? p->size : 0; }

void pool_run(pool *p, int64_t n, pool_task_fn task, void *ctx)
{
    if (n <= 0)
        return;
    pthread_mutex_lock(&p->run_lock);
    if (p->started == 0 || n == 1) {
        for (int64_t i = 0; i < n; i++)
            task(ctx, i, 0);
        pthread_mutex_unlock(&p->run_lock);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    p->busy = p->started;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    run_indices(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->run_lock);
}
