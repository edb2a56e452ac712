/*
 * test_cpu_device.c — the cpu device: topology, the worker pool (also
 * busy, nested and across fork()), streams and events, memory info,
 * default-device selection.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "devices/cpu/cpu_impl.h"

struct sum_ctx {
    int64_t *out;
    int *worker_seen;
    int nworkers;
};

static void square_task(void *arg, int64_t i, int worker)
{
    struct sum_ctx *c = arg;
    c->out[i] = i * i;
    if (worker >= 0 && worker < c->nworkers)
        __atomic_fetch_add(&c->worker_seen[worker], 1, __ATOMIC_RELAXED);
}

static void test_pool(int threads)
{
    pool *p = NULL;
    CHECK_OK(pool_create(threads, NULL, &p));
    CHECK(pool_size(p) == threads);
    enum { N = 100000 };
    int64_t *out = calloc(N, sizeof *out);
    int seen[64] = {0};
    struct sum_ctx c = {out, seen, threads};
    for (int round = 0; round < 20; round++) { /* generations reuse the same threads */
        memset(out, 0xff, N * sizeof *out);
        pool_run(p, N, square_task, &c);
        int wrong = 0;
        for (int64_t i = 0; i < N; i++)
            wrong += out[i] != i * i;
        CHECK(wrong == 0);
    }
    long total = 0;
    for (int w = 0; w < threads; w++)
        total += seen[w];
    CHECK(total == 20L * N);
    pool_run(p, 0, square_task, &c); /* empty loop: nothing runs */
    free(out);
    pool_destroy(p);
    pool_destroy(NULL);
    CHECK_STATUS(pool_create(0, NULL, &p), EMBER_ERR_INVALID_ARG);
}

struct count_ctx {
    int *hits; /* per index: how often it ran */
};

static void count_task(void *arg, int64_t i, int worker)
{
    struct count_ctx *c = arg;
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Many short loops back to back (the launch of a small kernel): each index
 * runs exactly once although workers join late or not at all, with the
 * workers spinning between loops (`spin_us`) or blocking at once ("0"). */
static void test_pool_short_loops(int threads, const char *spin_us)
{
    setenv("EMBER_SPIN_US", spin_us, 1);
    pool *p = NULL;
    CHECK_OK(pool_create(threads, NULL, &p));
    unsetenv("EMBER_SPIN_US");
    enum { ROUNDS = 20000, MAX_N = 9 };
    int hits[MAX_N];
    struct count_ctx c = {hits};
    int wrong = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int n = 2 + round % (MAX_N - 1);
        memset(hits, 0, sizeof hits);
        pool_run(p, n, count_task, &c);
        for (int i = 0; i < MAX_N; i++)
            wrong += hits[i] != (i < n);
    }
    CHECK(wrong == 0);
    /* An idle pool sleeps: the spin is bounded (50 µs by default). */
    double before = cpu_seconds();
    struct timespec idle = {0, 100 * 1000 * 1000};
    nanosleep(&idle, NULL);
    CHECK(cpu_seconds() - before < 0.03);
    pool_destroy(p);
}

/* ---- a busy pool runs a new loop on its caller -------------------------- */

struct nested_ctx {
    pool *p;
    int hits[64];
    int inner[8];
};

static void inner_task(void *arg, int64_t i, int worker)
{
    int *hits = arg;
    CHECK(worker == 0); /* the pool is busy: on the calling thread */
    __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

/* Each index runs a loop of its own on the same pool (a prange in a
 * parallel ufunc): it used to wait for the pool its caller holds. */
static void nesting_task(void *arg, int64_t i, int worker)
{
    struct nested_ctx *c = arg;
    int hits[8] = {0};
    pool_run(c->p, 8, inner_task, hits);
    for (int k = 0; k < 8; k++)
        __atomic_fetch_add(&c->inner[k], hits[k], __ATOMIC_RELAXED);
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Another worker's task is slow, the caller's quick once one has joined:
 * the caller then waits for it, watching. */
static void uneven_task(void *arg, int64_t i, int worker)
{
    int *joined = arg;
    (void)i;
    if (worker != 0) {
        __atomic_fetch_add(joined, 1, __ATOMIC_RELEASE);
        sleep_ms(60);
        return;
    }
    for (int ms = 0; ms < 2000 && !__atomic_load_n(joined, __ATOMIC_ACQUIRE); ms++)
        sleep_ms(1);
}

static void count_watch(void *arg) { __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED); }

struct busy_ctx {
    pool *p;
    int joined, watches;
};

static void *busy_thread(void *arg)
{
    struct busy_ctx *b = arg;
    pool_run_watched(b->p, 4, uneven_task, &b->joined, count_watch, &b->watches);
    return NULL;
}

static void test_pool_busy(void)
{
    pool *p = NULL;
    CHECK_OK(pool_create(4, NULL, &p));
    struct nested_ctx c = {.p = p};
    pool_run(p, 64, nesting_task, &c);
    int wrong = 0;
    for (int i = 0; i < 64; i++)
        wrong += c.hits[i] != 1;
    for (int k = 0; k < 8; k++)
        wrong += c.inner[k] != 64;
    CHECK(wrong == 0);

    /* While another thread's loop holds the workers (and watches while it
     * waits for them), a new loop runs at once on its caller. */
    struct busy_ctx b = {.p = p};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, busy_thread, &b) == 0);
    for (int ms = 0; ms < 2000 && !__atomic_load_n(&b.joined, __ATOMIC_ACQUIRE); ms++)
        sleep_ms(1);
    CHECK(__atomic_load_n(&b.joined, __ATOMIC_ACQUIRE) > 0); /* the pool is busy now */
    int hits[8] = {0};
    pool_run(p, 8, inner_task, hits); /* CHECKs worker 0 */
    for (int k = 0; k < 8; k++)
        wrong += hits[k] != 1;
    CHECK(wrong == 0);
    pthread_join(t, NULL);
    CHECK(b.watches >= 2); /* up to 60 ms of waiting, a watch every 10 ms */
    pool_destroy(p);
}

/* ---- fork() in any state ------------------------------------------------- */

struct worker_ctx {
    int seen[8]; /* per worker id: indices it ran */
};

static void note_worker(void *arg, int64_t i, int worker)
{
    struct worker_ctx *c = arg;
    (void)i;
    sleep_ms(2); /* long enough for every worker to join */
    __atomic_fetch_add(&c->seen[worker], 1, __ATOMIC_RELAXED);
}

struct looping {
    pool *p;
    int stop;
};

static void *loop_thread(void *arg)
{
    struct looping *l = arg;
    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
        struct worker_ctx c = {{0}};
        pool_run(l->p, 16, note_worker, &c);
    }
    return NULL;
}

/* Waits up to 20 s for child `pid`: its exit status, or -1 (killed) if it
 * hangs. */
static int wait_child(pid_t pid)
{
    for (int ms = 0; ms < 20000; ms++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
        sleep_ms(1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Forks while another thread keeps the pool busy (its workers in a loop,
 * its locks held at any moment): in the child the same pool runs a loop
 * to the end, on several workers again. */
static void test_pool_fork(void)
{
    pool *p = NULL;
    CHECK_OK(pool_create(4, NULL, &p));
    struct looping l = {p, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, loop_thread, &l) == 0);
    int failed = 0;
    for (int round = 0; round < 10; round++) {
        sleep_ms(3 + round);
        pid_t pid = fork();
        if (pid == 0) {
            struct worker_ctx c = {{0}};
            pool_run(p, 64, note_worker, &c);
            int total = 0, workers = 0;
            for (int w = 0; w < 4; w++) {
                total += c.seen[w];
                workers += c.seen[w] > 0;
            }
            _exit(total == 64 && workers > 1 ? 0 : 1);
        }
        int status = wait_child(pid);
        if (status != 0 && failed++ < 3)
            fprintf(stderr, "fork round %d: child %s\n", round,
                    status < 0 ? "hung" : "ran the loop wrongly or on one worker");
    }
    CHECK(failed == 0);
    __atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    pool_destroy(p);
}

int main(void)
{
    ember_cpu_topology topo;
    CHECK_OK(ember_cpu_topology_get(&topo));
    CHECK(topo.pus >= 1 && topo.cores >= 1 && topo.cores <= topo.pus);
    CHECK(topo.packages >= 1 && topo.numa_nodes >= 1);
    CHECK(topo.workers >= 1);
    CHECK(topo.model[0] != '\0');
    fprintf(stderr, "cpu: %s, %d packages, %d cores, %d PUs, %d NUMA, L2 %llu, workers %d\n",
            topo.model, topo.packages, topo.cores, topo.pus, topo.numa_nodes,
            (unsigned long long)topo.l2_bytes, topo.workers);

    ember_device_t cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_STATUS(ember_device_get(EMBER_DEVICE_CPU, 1, &cpu), EMBER_ERR_NOT_FOUND);
    CHECK(strstr(ember_last_error(), "one cpu device") != NULL);
    ember_device_info info;
    CHECK_OK(ember_device_get_info(cpu, &info));
    CHECK(info.kind == EMBER_DEVICE_CPU && info.warp_size == 32 &&
          info.max_threads_per_block == 1024 && info.near_cpus[0] != '\0');
    uint64_t fr, tot;
    CHECK_OK(ember_device_memory_info(cpu, &fr, &tot));
    CHECK(tot > 0 && fr <= tot);
    CHECK_OK(ember_device_synchronize(cpu));

    setenv("EMBER_DEVICE", "cpu", 1);
    ember_device_t def;
    CHECK_OK(ember_device_default(&def));
    CHECK(def == cpu);
    unsetenv("EMBER_DEVICE");

    /* The device's own pool. */
    pool *p;
    CHECK_OK(cpu_device_pool(cpu, &p));
    CHECK(pool_size(p) == topo.workers);
    test_pool(1);
    test_pool(4);
    test_pool(topo.workers);
    test_pool_short_loops(4, "");        /* the default spin */
    test_pool_short_loops(4, "0");       /* no spin */
    test_pool_short_loops(2, "nonsense"); /* the default again */
    test_pool_busy();
    test_pool_fork();

    /* Streams are in-order; events time what lies between them. */
    ember_stream_t s;
    CHECK_OK(ember_stream_create(cpu, &s));
    CHECK(ember_stream_device(s) == cpu);
    ember_event_t a, b, untimed;
    CHECK_OK(ember_event_create(cpu, true, &a));
    CHECK_OK(ember_event_create(cpu, true, &b));
    CHECK_OK(ember_event_create(cpu, false, &untimed));
    float ms = -1;
    CHECK_STATUS(ember_event_elapsed_ms(a, b, &ms), EMBER_ERR_INVALID_ARG); /* not recorded */
    CHECK_OK(ember_event_record(a, s));
    struct timespec sleep = {0, 20 * 1000 * 1000};
    nanosleep(&sleep, NULL);
    CHECK_OK(ember_event_record(b, s));
    CHECK_OK(ember_event_synchronize(b));
    CHECK_OK(ember_event_query(b));
    CHECK_OK(ember_event_elapsed_ms(a, b, &ms));
    CHECK(ms >= 19.0f && ms < 2000.0f);
    CHECK_OK(ember_event_record(untimed, NULL));
    CHECK_STATUS(ember_event_elapsed_ms(a, untimed, &ms), EMBER_ERR_INVALID_ARG);
    CHECK_OK(ember_event_wait(b, s));
    CHECK_OK(ember_stream_synchronize(cpu, s));
    CHECK_OK(ember_stream_query(cpu, s));
    CHECK_OK(ember_stream_synchronize(cpu, NULL));
    ember_event_destroy(a);
    ember_event_destroy(b);
    ember_event_destroy(untimed);
    ember_stream_destroy(s);
    ember_stream_destroy(NULL);
    ember_event_destroy(NULL);

    /* Pinned and mapped memory are host memory on the cpu device. */
    ember_buffer_t pinned;
    CHECK_OK(ember_buffer_create(cpu, EMBER_MEM_PINNED, 1000, &pinned));
    CHECK(ember_buffer_host_ptr(pinned) != NULL &&
          ((uintptr_t)ember_buffer_host_ptr(pinned) % 256) == 0);
    CHECK(ember_buffer_kind(pinned) == EMBER_MEM_PINNED && ember_buffer_size(pinned) == 1000);
    ember_buffer_release(pinned);
    ember_buffer_t bad;
    CHECK_STATUS(ember_buffer_create(cpu, EMBER_MEM_HOST, 10, &bad), EMBER_ERR_INVALID_ARG);

    /* Shutdown and init again give a working runtime. */
    ember_shutdown();
    CHECK_OK(ember_init());
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    ember_shutdown();
    return check_report("test_cpu_device");
}
