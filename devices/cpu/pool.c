/*
 * pool.c — a fixed pool of worker threads running parallel-for loops.
 *
 * A parallel-for hands out indices from one atomic counter, so uneven work
 * (blocks that exit early) balances itself. Each loop is a new
 * "generation". The caller runs as worker 0, so a pool of one thread starts
 * no thread at all.
 *
 * Short loops are dominated by waking sleeping workers (tens of µs on a
 * VM), so the caller never waits for a worker to wake: a worker joins a
 * loop only while indices remain, and the caller waits only for workers
 * that joined (`active`). A small kernel thus runs on the caller alone
 * while the workers are still waking. Between loops, workers spin for up to
 * EMBER_SPIN_US microseconds (default 50, 0 disables) before they block,
 * so back-to-back launches find them awake; the caller spins as long for
 * the joined workers to finish. The spin is bounded: an idle pool sleeps.
 *
 * A pool_run never waits for another one: when the pool is busy (another
 * thread's launch, a loop nested in a task, a signal handler run from the
 * caller's watch), the new loop runs on its caller alone. Waiting could
 * deadlock: the busy run's caller may be waiting for the GIL that the new
 * caller holds, or for the very task that called. While the caller waits
 * for the other workers it calls its watch function (pool_run_watched)
 * about every POOL_WATCH_NS, which is how a launch notices Ctrl-C.
 *
 * fork(): a forked child has none of the workers, and a pool may be in any
 * state there (a loop half run, its locks held by threads that are gone).
 * Every pool is on a list, and the child handler (core/fork.c) resets each
 * to an idle pool with fresh locks and no threads; its next pool_run starts
 * the workers again. The list's lock is an ember mutex (inside the fork
 * gate), so the list itself is whole in the child.
 */
#include <hwloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "devices/cpu/cpu_impl.h"

struct pool {
    int size;                 /* workers, the caller included */
    pthread_t *threads;       /* size - 1 background threads */
    int started;              /* threads actually started; written under run_lock (or
                               * alone), read atomically by pool_run's first check */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* a new generation or shutdown */
    pthread_cond_t done;      /* the last joined worker left the loop (CLOCK_MONOTONIC) */
    pthread_mutex_t run_lock; /* held by the pool_run using the workers */
    uint64_t generation;      /* written under `lock`, read atomically while spinning */
    bool stop;                /* likewise */
    /* the current loop */
    pool_task_fn task;
    void *ctx;
    int64_t n;
    int64_t next;             /* atomic: next index to hand out */
    int active;               /* background workers inside the loop; written under `lock` */
    int64_t spin_ns;          /* how long to spin before blocking */
    hwloc_topology_t topo;
    bool restart;             /* atomic: forked, workers to start at the next pool_run */
    pool *next_pool;          /* the list of every pool (pools_lock) */
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static pool *pools;

#define DEFAULT_SPIN_US 50
#define MAX_SPIN_US 100000
#define POOL_WATCH_NS 10000000 /* the waiting caller calls its watch every 10 ms */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* For spin loops: true once p->spin_ns have passed since iteration 0
 * (the clock is read every 64 iterations). */
static bool spin_expired(const pool *p, unsigned i, int64_t *deadline)
{
    if (p->spin_ns <= 0)
        return true;
    if (i & 63)
        return false;
    int64_t t = now_ns();
    if (i == 0)
        *deadline = t + p->spin_ns;
    return t >= *deadline;
}

/* A worker between loops: spins while no new generation is posted. */
static void spin_for_generation(const pool *p, uint64_t seen)
{
    int64_t deadline = 0;
    for (unsigned i = 0; __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen &&
                         !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
         i++) {
        if (spin_expired(p, i, &deadline))
            return;
        cpu_relax();
    }
}

/* The caller after its share: spins while joined workers still run. */
static void spin_for_workers(const pool *p)
{
    int64_t deadline = 0;
    for (unsigned i = 0; __atomic_load_n(&p->active, __ATOMIC_ACQUIRE) > 0; i++) {
        if (spin_expired(p, i, &deadline))
            return;
        cpu_relax();
    }
}

/* EMBER_SPIN_US, clamped to 0 .. MAX_SPIN_US; the default when unset or
 * not a number. */
static int64_t spin_ns_from_env(void)
{
    const char *s = getenv("EMBER_SPIN_US");
    if (!s || !*s)
        return (int64_t)DEFAULT_SPIN_US * 1000;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0')
        return (int64_t)DEFAULT_SPIN_US * 1000;
    if (v < 0)
        v = 0;
    if (v > MAX_SPIN_US)
        v = MAX_SPIN_US;
    return (int64_t)v * 1000;
}

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

/* Asynchronous signals (Ctrl-C, timers, child exits ...) go to the
 * process's own threads, where Python's handlers expect them: workers
 * block them. Faults (SIGSEGV ...) stay with the thread that caused them. */
static void block_async_signals(void)
{
    static const int sigs[] = {SIGINT,  SIGTERM, SIGQUIT, SIGHUP,   SIGUSR1, SIGUSR2,
                               SIGALRM, SIGCHLD, SIGPIPE, SIGWINCH, SIGVTALRM, SIGPROF};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *worker_main(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    em_free(arg);
    pool *p = wa.p;
    block_async_signals();
    bind_to_pu(p->topo, wa.id);
    uint64_t seen = 0;
    for (;;) {
        spin_for_generation(p, seen);
        pthread_mutex_lock(&p->lock);
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        seen = p->generation;
        /* Join only while indices remain: the caller may be done already. */
        bool join = __atomic_load_n(&p->next, __ATOMIC_RELAXED) < p->n;
        if (join)
            __atomic_store_n(&p->active, p->active + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&p->lock);
        if (!join)
            continue;
        run_indices(p, wa.id);
        pthread_mutex_lock(&p->lock);
        __atomic_store_n(&p->active, p->active - 1, __ATOMIC_RELEASE);
        if (p->active == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

/* Starts the background workers not started yet; on failure those
 * started run, and the status says why the next did not. */
static ember_status start_workers(pool *p)
{
    for (int i = p->started + 1; i < p->size; i++) {
        struct worker_arg *wa = em_malloc(sizeof *wa);
        if (!wa)
            return EMBER_ERR_OUT_OF_MEMORY;
        wa->p = p;
        wa->id = i;
        int rc = pthread_create(&p->threads[p->started], NULL, worker_main, wa);
        if (rc != 0) {
            em_free(wa);
            return em_error(EMBER_ERR_SYSTEM, "could not start worker thread %d (error %d)", i,
                            rc);
        }
        __atomic_store_n(&p->started, p->started + 1, __ATOMIC_RELAXED);
    }
    return EMBER_SUCCESS;
}

static void init_sync(pool *p)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done, &monotonic);
    pthread_condattr_destroy(&monotonic);
}

/* In a forked child: each pool idle, with new locks and condition
 * variables (the old ones may be held, or have waiters, that are gone) and
 * no workers until its next pool_run. */
static void pools_after_fork(void)
{
    pthread_mutex_init(&pools_lock, NULL);
    for (pool *p = pools; p; p = p->next_pool) {
        init_sync(p);
        p->started = 0;
        p->stop = false;
        p->active = 0;
        p->next = p->n; /* nothing left to hand out */
        __atomic_store_n(&p->restart, p->size > 1, __ATOMIC_RELAXED);
    }
}

void pool_destroy(pool *p)
{
    if (!p)
        return;
    em_mutex_lock(&pools_lock);
    for (pool **at = &pools; *at; at = &(*at)->next_pool)
        if (*at == p) {
            *at = p->next_pool;
            break;
        }
    em_mutex_unlock(&pools_lock);
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
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
    p->spin_ns = spin_ns_from_env();
    init_sync(p);
    em_fork_on_child(pools_after_fork);
    em_mutex_lock(&pools_lock);
    p->next_pool = pools;
    pools = p;
    em_mutex_unlock(&pools_lock);
    ember_status st = start_workers(p);
    if (st != EMBER_SUCCESS) {
        pool_destroy(p);
        return st;
    }
    *out = p;
    return EMBER_SUCCESS;
}

int pool_size(const pool *p) { return p ? p->size : 0; }

void pool_run(pool *p, int64_t n, pool_task_fn task, void *ctx)
{
    pool_run_watched(p, n, task, ctx, NULL, NULL);
}

void pool_run_watched(pool *p, int64_t n, pool_task_fn task, void *ctx, pool_watch_fn watch,
                      void *wctx)
{
    if (n <= 0)
        return;
    /* On the caller alone: one index, no workers, or the pool is busy. */
    bool restart = __atomic_load_n(&p->restart, __ATOMIC_RELAXED);
    if (n == 1 || (__atomic_load_n(&p->started, __ATOMIC_RELAXED) == 0 && !restart) ||
        pthread_mutex_trylock(&p->run_lock) != 0) {
        for (int64_t i = 0; i < n; i++)
            task(ctx, i, 0);
        return;
    }
    if (restart) { /* the first loop of a forked child */
        __atomic_store_n(&p->restart, false, __ATOMIC_RELAXED);
        if (start_workers(p) != EMBER_SUCCESS) /* any it could not start: fewer workers */
            ember_clear_error();
        if (p->started == 0) {
            pthread_mutex_unlock(&p->run_lock);
            for (int64_t i = 0; i < n; i++)
                task(ctx, i, 0);
            return;
        }
    }
    /* No worker is inside a loop here (the last pool_run waited for them),
     * and workers read the loop's fields only after joining under `lock`. */
    pthread_mutex_lock(&p->lock);
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    run_indices(p, 0);

    /* Every index is handed out; wait for the workers still running one. */
    spin_for_workers(p);
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) {
        if (!watch) {
            pthread_cond_wait(&p->done, &p->lock);
            continue;
        }
        int64_t until = now_ns() + POOL_WATCH_NS;
        struct timespec ts = {.tv_sec = until / 1000000000, .tv_nsec = until % 1000000000};
        pthread_cond_timedwait(&p->done, &p->lock, &ts);
        if (p->active > 0) {
            pthread_mutex_unlock(&p->lock);
            watch(wctx);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->run_lock);
}
