/*
 * test_pool.c — the caching allocator (memory/pool.c) against the stand-in
 * driver (tests/fake_cuda), which ctest names in EMBER_CUDA_DRIVER.
 *
 * It checks that freed blocks are handed out again without a driver call,
 * by size class; that a block goes to another stream only once the events
 * recorded at its free have completed (the fake can hold events pending,
 * playing work still in flight) and that frees never synchronise; that
 * out-of-memory frees the cache, calls the callback and retries, and that
 * the final error names the size; that EMBER_CUDA_POOL=0 turns caching off;
 * page-locking of caller memory; and, SQLite-style, that a failure of the
 * Nth driver call or host allocation anywhere in a scenario of pool
 * operations leaves a clean status, no leak and a usable runtime.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ember/ember_test.h"

static long (*fake_live)(const char *what);
static long (*fake_count)(const char *what);
static void (*fake_hold_events)(int on);
static void *fake_lib;

static bool open_fake(void)
{
    const char *path = getenv("EMBER_CUDA_DRIVER");
    fake_lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!fake_lib)
        return false;
    fake_live = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_live");
    fake_count = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_count");
    fake_hold_events = (void (*)(int))dlsym(fake_lib, "fake_cuda_hold_events");
    return fake_live && fake_count && fake_hold_events;
}

static ember_device_t cuda0(void)
{
    ember_device_t d = NULL;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CUDA, 0, &d));
    return d;
}

static ember_pool_stats stats(ember_mem_kind kind)
{
    ember_pool_stats s;
    memset(&s, 0, sizeof s);
    CHECK_OK(ember_pool_get_stats(cuda0(), kind, &s));
    return s;
}

/* After a trim nothing is left in the driver: no memory, no event. */
static bool driver_clean(void)
{
    CHECK_OK(ember_pool_trim(cuda0()));
    long mem = fake_live("mem"), host = fake_live("host"), ev = fake_live("event");
    if (mem || host || ev) {
        fprintf(stderr, "driver objects left: mem %ld host %ld event %ld\n", mem, host, ev);
        return false;
    }
    return true;
}

static long sync_calls(void)
{
    return fake_count("cuCtxSynchronize") + fake_count("cuStreamSynchronize") +
           fake_count("cuEventSynchronize");
}

static uint64_t dptr(ember_buffer_t b) { return ember_buffer_device_ptr(b); }

/* Leaves a failure message as this thread's last error (through the
 * public API: a host view that does not fit its buffer). */
static void em_error_for_test(void)
{
    char mem[8];
    ember_buffer_t b;
    ember_array a = {0};
    int64_t shape[1] = {100};
    CHECK_OK(ember_buffer_wrap_host(mem, sizeof mem, NULL, NULL, &b));
    CHECK(ember_array_init(&a, b, EMBER_FLOAT64, 1, shape, NULL, 0) != EMBER_SUCCESS);
    ember_buffer_release(b);
}

/* ---- reuse and size classes -------------------------------------------------- */

static void test_reuse_and_classes(void)
{
    ember_device_t dev = cuda0();
    ember_pool_stats s0 = stats(EMBER_MEM_DEVICE);
    long mallocs = fake_count("cuMemAlloc");
    ember_buffer_t a, b;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1000, &a));
    uint64_t pa = dptr(a);
    ember_buffer_release(a);
    ember_pool_stats s1 = stats(EMBER_MEM_DEVICE);
    CHECK(s1.bytes_cached == s0.bytes_cached + 1024 && s1.blocks_cached == s0.blocks_cached + 1);
    CHECK(s1.bytes_in_use == s0.bytes_in_use);
    /* 1000 and 1024 bytes share the 1024 class: the same block, no driver call. */
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1024, &b));
    CHECK(dptr(b) == pa);
    CHECK(ember_buffer_size(b) == 1024);
    CHECK(fake_count("cuMemAlloc") == mallocs + 1);
    ember_pool_stats s2 = stats(EMBER_MEM_DEVICE);
    CHECK(s2.hits == s0.hits + 1 && s2.misses == s0.misses + 1);
    CHECK(s2.driver_allocs == s0.driver_allocs + 1);
    CHECK(s2.bytes_in_use == s0.bytes_in_use + 1024 && s2.bytes_cached == s0.bytes_cached);

    /* 1025 bytes is the next class (1280): a new block. */
    ember_buffer_t c;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1025, &c));
    CHECK(dptr(c) != pa);
    CHECK(stats(EMBER_MEM_DEVICE).bytes_in_use == s0.bytes_in_use + 1024 + 1280);
    ember_buffer_release(c);
    ember_buffer_release(b);

    /* The device sees the class sizes: 0 and 7 bytes take 512, 600 takes 640,
     * 1 MiB + 1 takes 2 MiB, 3 MiB takes 4 MiB. */
    CHECK(driver_clean());
    static const struct {
        size_t ask, cls;
    } classes[] = {{0, 512}, {600, 640}, {3000, 3072}, {5000, 5120},
                   {(1 << 20) + 1, 2 << 20}, {3 << 20, 4 << 20}, {(4 << 20) + 5, 6 << 20}};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        uint64_t fr0, fr1, tot;
        ember_buffer_t x;
        CHECK_OK(ember_device_memory_info(dev, &fr0, &tot));
        CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, classes[i].ask, &x));
        CHECK_OK(ember_device_memory_info(dev, &fr1, &tot));
        if (fr0 - fr1 != classes[i].cls)
            fprintf(stderr, "%zu bytes took %llu, expected %zu\n", classes[i].ask,
                    (unsigned long long)(fr0 - fr1), classes[i].cls);
        CHECK(fr0 - fr1 == classes[i].cls);
        CHECK(ember_buffer_size(x) == classes[i].ask);
        ember_buffer_release(x);
    }
    /* Released, they are cached, not freed. */
    CHECK(fake_live("mem") == (long)(sizeof classes / sizeof classes[0]));
    CHECK(driver_clean());

    /* Pinned memory is cached too, and keeps its host address. */
    ember_buffer_t p, q;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_PINNED, 4000, &p));
    void *hp = ember_buffer_host_ptr(p);
    ember_buffer_release(p);
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_PINNED, 4096, &q));
    CHECK(ember_buffer_host_ptr(q) == hp);
    CHECK(stats(EMBER_MEM_PINNED).hits >= 1);
    /* Pinned and device blocks never mix. */
    ember_buffer_t d;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 4096, &d));
    CHECK(ember_buffer_host_ptr(d) == NULL);
    ember_buffer_release(d);
    ember_buffer_release(q);
    CHECK(driver_clean());
}

/* ---- streams ------------------------------------------------------------------ */

static void test_streams(void)
{
    ember_device_t dev = cuda0();
    ember_stream_t s1, s2;
    CHECK_OK(ember_stream_create(dev, &s1));
    CHECK_OK(ember_stream_create(dev, &s2));
    ember_buffer_t a, b, c;

    /* Freed with its work still in flight (the event stays pending). */
    fake_hold_events(1);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s1, &a));
    uint64_t pa = dptr(a);
    long syncs = sync_calls(), records = fake_count("cuEventRecord");
    ember_buffer_release(a);
    CHECK(sync_calls() == syncs); /* the free did not wait */
    CHECK(fake_count("cuEventRecord") == records + 1); /* it recorded an event instead */

    /* Another stream must not get it yet; its own stream may. */
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s2, &b));
    CHECK(dptr(b) != pa);
    uint64_t pb0 = dptr(b);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s1, &c));
    CHECK(dptr(c) == pa);
    ember_buffer_release(c);
    ember_buffer_release(b);
    CHECK(sync_calls() == syncs);

    /* Once the work is done, another stream may take it: s2 gets its own
     * block first (no query needed), then s1's, without a cuMemAlloc. */
    fake_hold_events(0);
    long mallocs = fake_count("cuMemAlloc");
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s2, &b));
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s2, &c));
    CHECK(dptr(b) == pb0 && dptr(c) == pa);
    CHECK(fake_count("cuMemAlloc") == mallocs);
    ember_buffer_release(c);
    ember_buffer_release(b);
    CHECK(sync_calls() == syncs);
    CHECK(driver_clean());

    /* A copy on s2 records s2 on a buffer allocated for s1: while that copy
     * is in flight, s1 must not reuse the block either. */
    double host[512];
    for (int i = 0; i < 512; i++)
        host[i] = i;
    int64_t shape[1] = {512};
    ember_buffer_t hb;
    ember_array h = {0}, d = {0};
    CHECK_OK(ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb));
    CHECK_OK(ember_array_init(&h, hb, EMBER_FLOAT64, 1, shape, NULL, 0));
    ember_buffer_release(hb);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, sizeof host, s1, &a));
    pa = dptr(a);
    CHECK_OK(ember_array_init(&d, a, EMBER_FLOAT64, 1, shape, NULL, 0));
    ember_buffer_release(a);
    fake_hold_events(1);
    CHECK_OK(ember_array_copy(&d, &h, s2));
    ember_array_fini(&d); /* frees the buffer: events on s1 and s2, both pending */
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, sizeof host, s1, &b));
    CHECK(dptr(b) != pa);
    ember_buffer_release(b);
    ember_array_fini(&h);
    /* The public record call does the same for work ember does not queue. */
    fake_hold_events(0);
    CHECK(driver_clean());
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s1, &a));
    pa = dptr(a);
    fake_hold_events(1);
    CHECK_OK(ember_buffer_record_stream(a, s2));
    CHECK_OK(ember_buffer_record_stream(a, s2)); /* recorded once */
    ember_buffer_release(a);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s1, &b));
    CHECK(dptr(b) != pa);
    ember_buffer_release(b);
    ember_device_t cpu;
    ember_stream_t cs;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_OK(ember_stream_create(cpu, &cs));
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 64, &b));
    CHECK_STATUS(ember_buffer_record_stream(b, cs), EMBER_ERR_DEVICE_MISMATCH);
    CHECK_STATUS(ember_buffer_record_stream(NULL, s1), EMBER_ERR_INVALID_ARG);
    ember_buffer_release(b);
    ember_stream_destroy(cs);

    /* Pinned memory: the host writes it as soon as it is handed out, so even
     * its own stream waits for the event. */
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_PINNED, 4096, s1, &a));
    void *ha = ember_buffer_host_ptr(a);
    ember_buffer_release(a);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_PINNED, 4096, s1, &b));
    CHECK(ember_buffer_host_ptr(b) != ha);
    ember_buffer_release(b);
    fake_hold_events(0);
    uint64_t hits = stats(EMBER_MEM_PINNED).hits;
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_PINNED, 4096, s1, &b));
    CHECK(ember_buffer_host_ptr(b) != NULL && stats(EMBER_MEM_PINNED).hits == hits + 1);
    ember_buffer_release(b);

    /* A buffer that outlives its stream: the event cannot be recorded on
     * the destroyed stream, so the block goes back to the driver (which
     * orders the free itself) instead of the cache; the free keeps the
     * caller's last error. */
    ember_stream_t s3;
    CHECK_OK(ember_stream_create(dev, &s3));
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s3, &a));
    ember_stream_destroy(s3);
    long mem = fake_live("mem");
    uint64_t frees = stats(EMBER_MEM_DEVICE).driver_frees;
    em_error_for_test();
    char before[512];
    snprintf(before, sizeof before, "%s", ember_last_error());
    ember_buffer_release(a);
    CHECK(fake_live("mem") == mem - 1);
    CHECK(stats(EMBER_MEM_DEVICE).driver_frees == frees + 1);
    CHECK(before[0] != '\0' && strcmp(ember_last_error(), before) == 0);

    /* Trim waits for pending work, then frees everything. */
    fake_hold_events(1);
    CHECK_OK(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 4096, s2, &a));
    ember_buffer_release(a);
    long evsync = fake_count("cuEventSynchronize");
    CHECK_OK(ember_pool_trim(dev));
    CHECK(fake_count("cuEventSynchronize") > evsync);
    fake_hold_events(0);
    ember_stream_destroy(s2);
    ember_stream_destroy(s1);
    CHECK(driver_clean());
    CHECK(stats(EMBER_MEM_DEVICE).bytes_cached == 0 && stats(EMBER_MEM_DEVICE).bytes_in_use == 0);
}

/* ---- staging ---------------------------------------------------------------- */

/* Strided copies stage through pinned memory from the pool, and the next
 * one reuses it. */
static void test_staging(void)
{
    ember_device_t dev = cuda0();
    double host[8 * 8], back[8 * 4];
    for (int i = 0; i < 64; i++)
        host[i] = i;
    int64_t shape[2] = {8, 8}, vshape[2] = {8, 4}, vstr[2] = {64, 16};
    ember_buffer_t hb, bb;
    ember_array h = {0}, hback = {0}, d = {0}, v = {0};
    CHECK_OK(ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb));
    CHECK_OK(ember_array_init(&h, hb, EMBER_FLOAT64, 2, shape, NULL, 0));
    ember_buffer_release(hb);
    CHECK_OK(ember_buffer_wrap_host(back, sizeof back, NULL, NULL, &bb));
    CHECK_OK(ember_array_init(&hback, bb, EMBER_FLOAT64, 2, vshape, NULL, 0));
    ember_buffer_release(bb);
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_copy(&d, &h, NULL));
    CHECK_OK(ember_array_init(&v, d.buffer, EMBER_FLOAT64, 2, vshape, vstr, 0)); /* even columns */
    ember_pool_stats p0 = stats(EMBER_MEM_PINNED);
    for (int round = 0; round < 3; round++) {
        memset(back, 0, sizeof back);
        CHECK_OK(ember_array_copy(&hback, &v, NULL)); /* staged: device span -> pinned -> host */
        int wrong = 0;
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 4; j++)
                wrong += back[i * 4 + j] != i * 8 + 2 * j;
        CHECK(wrong == 0);
    }
    ember_pool_stats p1 = stats(EMBER_MEM_PINNED);
    CHECK(p1.hits + p1.misses == p0.hits + p0.misses + 3); /* one staging block per copy */
    CHECK(p1.driver_allocs <= p0.driver_allocs + 1);      /* reused after the first */
    CHECK(p1.bytes_in_use == p0.bytes_in_use);            /* and given back */
    ember_array_fini(&v);
    ember_array_fini(&d);
    ember_array_fini(&hback);
    ember_array_fini(&h);
    CHECK(driver_clean());
}

/* ---- out of memory ------------------------------------------------------------- */

static ember_buffer_t hook_victim;
static int hook_calls;

/* Plays the Python garbage collector: frees a buffer nobody else holds. */
static void oom_hook(void *ctx)
{
    hook_calls++;
    CHECK(ctx == &hook_victim);
    ember_buffer_release(hook_victim);
    hook_victim = NULL;
}

static void test_out_of_memory(void)
{
    ember_device_t dev = cuda0();
    setenv("FAKE_CUDA_MEMORY", "67108864", 1); /* 64 MiB */
    CHECK(driver_clean());
    ember_pool_stats s0 = stats(EMBER_MEM_DEVICE);

    /* A cached block is in the way: trimmed, and the retry succeeds. */
    ember_buffer_t a = NULL, b = NULL;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 40 << 20, &a));
    ember_buffer_release(a);
    CHECK(stats(EMBER_MEM_DEVICE).bytes_cached == 40 << 20);
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 48 << 20, &b));
    ember_pool_stats s1 = stats(EMBER_MEM_DEVICE);
    CHECK(s1.oom_recoveries == s0.oom_recoveries + 1);
    CHECK(s1.bytes_cached == 0 && s1.bytes_in_use == 48 << 20);
    CHECK(ember_last_error()[0] == '\0');

    /* A live buffer the callback frees (Python: an unreachable cycle). */
    ember_pool_set_oom_callback(oom_hook, &hook_victim);
    hook_victim = b;
    hook_calls = 0;
    a = NULL;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 32 << 20, &a));
    CHECK(hook_calls == 1 && hook_victim == NULL);
    CHECK(stats(EMBER_MEM_DEVICE).oom_recoveries == s0.oom_recoveries + 2);

    /* Nothing to free: the error names the size, the cache and the device. */
    ember_clear_error();
    hook_calls = 0;
    b = NULL;
    CHECK_STATUS(ember_buffer_create(dev, EMBER_MEM_DEVICE, 100 << 20, &b),
                 EMBER_ERR_DEVICE_OUT_OF_MEMORY);
    CHECK(b == NULL && hook_calls == 1);
    const char *msg = ember_last_error();
    fprintf(stderr, "out-of-memory message: %s\n", msg);
    CHECK(strstr(msg, "out of device memory allocating 100.00 MiB (104857600 bytes") != NULL);
    CHECK(strstr(msg, "collected garbage and retried") != NULL);
    CHECK(strstr(msg, "ember holds 32.00 MiB in 1 live device block(s)") != NULL);
    CHECK(strstr(msg, "the device has 32.00 MiB free of 64.00 MiB") != NULL);
    CHECK(strstr(msg, "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (2)") != NULL);
    CHECK(ember_last_driver_error() == 2);
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_OUT_OF_MEMORY") == 0);
    CHECK(stats(EMBER_MEM_DEVICE).oom_failures == s0.oom_failures + 1);
    ember_pool_set_oom_callback(NULL, NULL);

    /* Still usable. */
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 16 << 20, &b));
    ember_buffer_release(b);
    ember_buffer_release(a);
    unsetenv("FAKE_CUDA_MEMORY");
    CHECK(driver_clean());
}

/* ---- caching off ----------------------------------------------------------------- */

static void test_pool_disabled(void)
{
    setenv("EMBER_CUDA_POOL", "0", 1);
    ember_shutdown();
    CHECK_OK(ember_init());
    ember_device_t dev = cuda0();
    long mallocs = fake_count("cuMemAlloc"), frees = fake_count("cuMemFree");
    ember_buffer_t a;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1000, &a));
        CHECK(fake_live("mem") == 1);
        ember_buffer_release(a);
        CHECK(fake_live("mem") == 0 && fake_live("event") == 0);
    }
    CHECK(fake_count("cuMemAlloc") == mallocs + 3 && fake_count("cuMemFree") == frees + 3);
    ember_pool_stats s = stats(EMBER_MEM_DEVICE);
    CHECK(s.hits == 0 && s.misses == 3 && s.driver_frees == 3 && s.bytes_cached == 0);
    unsetenv("EMBER_CUDA_POOL");
    ember_shutdown();
    CHECK_OK(ember_init());
}

/* ---- page-locking caller memory ----------------------------------------------------- */

static void test_host_register(void)
{
    ember_device_t dev = cuda0(), cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    char *mem = malloc(10000);
    CHECK_OK(ember_host_register(dev, mem, 10000));
    CHECK(fake_live("registered") == 1);
    CHECK_STATUS(ember_host_register(dev, mem + 100, 10), EMBER_ERR_DRIVER);
    CHECK(strstr(ember_last_error(), "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED") != NULL);
    CHECK_OK(ember_host_unregister(dev, mem));
    CHECK(fake_live("registered") == 0);
    CHECK_STATUS(ember_host_unregister(dev, mem), EMBER_ERR_DRIVER);
    CHECK_OK(ember_host_register(cpu, mem, 10000)); /* no-op on the cpu device */
    CHECK_OK(ember_host_unregister(cpu, mem));
    CHECK_STATUS(ember_host_register(NULL, mem, 1), EMBER_ERR_INVALID_ARG);
    /* mapped: a device address of its own (the fake's), gone at unregister */
    uint64_t d = 0;
    CHECK_OK(ember_host_register_mapped(dev, mem, 10000, &d));
    CHECK(d != 0 && d != (uint64_t)(uintptr_t)mem);
    CHECK(fake_live("registered") == 1);
    CHECK_OK(ember_host_unregister(dev, mem));
    CHECK(fake_live("registered") == 0);
    CHECK_OK(ember_host_register_mapped(cpu, mem, 10000, &d));
    CHECK(d == (uint64_t)(uintptr_t)mem); /* the cpu device addresses host memory */
    CHECK_STATUS(ember_host_register_mapped(dev, mem, 10, NULL), EMBER_ERR_INVALID_ARG);
    free(mem);
}

/* ---- IPC (the fake opens handles in the exporting process) ------------------- */

static void test_ipc(void)
{
    ember_device_t dev = cuda0(), cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    ember_buffer_t b;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1000, &b));
    unsigned char h[64];
    uint64_t base = 0, opened = 0;
    size_t size = 0;
    /* an address inside the allocation: the handle is of the whole of it */
    CHECK_OK(ember_ipc_get_handle(dev, dptr(b) + 100, h, &base, &size));
    CHECK(base == dptr(b) && size >= 1000);
    CHECK_OK(ember_ipc_open(dev, h, &opened));
    CHECK(opened != 0 && opened != base && fake_live("ipc") == 1);
    CHECK_OK(ember_ipc_close(dev, opened));
    CHECK(fake_live("ipc") == 0);
    CHECK_STATUS(ember_ipc_close(dev, opened), EMBER_ERR_DRIVER);
    CHECK_STATUS(ember_ipc_get_handle(dev, 0x10, h, &base, &size), EMBER_ERR_DRIVER);
    CHECK_STATUS(ember_ipc_get_handle(dev, 0, h, &base, &size), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_ipc_get_handle(NULL, dptr(b), h, &base, &size), EMBER_ERR_INVALID_ARG);
    memset(h, 0, sizeof h);
    CHECK_STATUS(ember_ipc_open(dev, h, &opened), EMBER_ERR_DRIVER);
    CHECK(strstr(ember_last_error(), "CUDA_ERROR_INVALID_HANDLE") != NULL);
    /* the cpu device's memory is private to the process */
    CHECK_STATUS(ember_ipc_get_handle(cpu, 0x1000, h, &base, &size), EMBER_ERR_NOT_SUPPORTED);
    CHECK(strstr(ember_last_error(), "IPC needs a CUDA GPU") != NULL);
    CHECK_STATUS(ember_ipc_open(cpu, h, &opened), EMBER_ERR_NOT_SUPPORTED);
    CHECK_STATUS(ember_ipc_close(cpu, 0x1000), EMBER_ERR_NOT_SUPPORTED);
    ember_buffer_release(b);
}

/* ---- misuse and threads ------------------------------------------------------------ */

static void test_misuse(void)
{
    ember_device_t dev = cuda0(), cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    ember_stream_t cs;
    ember_buffer_t b = NULL;
    ember_pool_stats st;
    CHECK_OK(ember_stream_create(cpu, &cs));
    CHECK_STATUS(ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 8, cs, &b),
                 EMBER_ERR_DEVICE_MISMATCH);
    CHECK(b == NULL);
    ember_stream_destroy(cs);
    CHECK_STATUS(ember_pool_get_stats(NULL, EMBER_MEM_DEVICE, &st), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_pool_get_stats(dev, EMBER_MEM_DEVICE, NULL), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_pool_get_stats(dev, EMBER_MEM_HOST, &st), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_pool_trim(NULL), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_buffer_create(dev, EMBER_MEM_DEVICE, (size_t)INT64_MAX + 1, &b),
                 EMBER_ERR_INVALID_ARG);
    /* The cpu device counts but does not cache. */
    ember_pool_stats c0, c1;
    CHECK_OK(ember_pool_get_stats(cpu, EMBER_MEM_DEVICE, &c0));
    CHECK_OK(ember_buffer_create(cpu, EMBER_MEM_DEVICE, 1000, &b));
    CHECK_OK(ember_pool_get_stats(cpu, EMBER_MEM_DEVICE, &c1));
    CHECK(c1.bytes_in_use == c0.bytes_in_use + 1024 && c1.misses == c0.misses + 1);
    ember_buffer_release(b);
    CHECK_OK(ember_pool_get_stats(cpu, EMBER_MEM_DEVICE, &c1));
    CHECK(c1.bytes_in_use == c0.bytes_in_use && c1.bytes_cached == 0);
    CHECK(c1.driver_frees == c0.driver_frees + 1);
}

struct worker {
    ember_stream_t stream;
    unsigned seed;
    int failures;
};

/* Allocates and frees blocks of a few classes, holding a handful at once. */
static void *work(void *arg)
{
    struct worker *w = arg;
    ember_device_t dev;
    if (ember_device_get(EMBER_DEVICE_CUDA, 0, &dev) != EMBER_SUCCESS) {
        w->failures++;
        return NULL;
    }
    ember_buffer_t held[8] = {0};
    for (int i = 0; i < 2000; i++) {
        int slot = (int)(rand_r(&w->seed) % 8);
        ember_buffer_release(held[slot]);
        held[slot] = NULL;
        size_t n = (size_t)(rand_r(&w->seed) % 5000) + 1;
        ember_mem_kind kind = rand_r(&w->seed) % 4 ? EMBER_MEM_DEVICE : EMBER_MEM_PINNED;
        if (ember_buffer_create_on_stream(dev, kind, n, w->stream, &held[slot]) != EMBER_SUCCESS)
            w->failures++;
        else if (i % 7 == 0 && ember_buffer_record_stream(held[slot], NULL) != EMBER_SUCCESS)
            w->failures++;
    }
    for (int i = 0; i < 8; i++)
        ember_buffer_release(held[i]);
    return NULL;
}

static void test_threads(void)
{
    ember_device_t dev = cuda0();
    enum { T = 4 };
    struct worker w[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].seed = 1234u + (unsigned)i;
        if (i % 2)
            CHECK_OK(ember_stream_create(dev, &w[i].stream));
        CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].failures == 0);
        ember_stream_destroy(w[i].stream);
    }
    ember_pool_stats d = stats(EMBER_MEM_DEVICE), p = stats(EMBER_MEM_PINNED);
    CHECK(d.bytes_in_use == 0 && d.blocks_in_use == 0 && p.bytes_in_use == 0);
    CHECK(d.hits > d.misses); /* the classes repeat: most requests are served from the cache */
    CHECK(fake_live("mem") == (long)d.blocks_cached && fake_live("host") == (long)p.blocks_cached);
    CHECK(driver_clean());
}

/* ---- fault loops ------------------------------------------------------------------------ */

/* Pool operations: allocations on two streams, frees with work in flight,
 * reuse on the same and on the other stream, pinned memory, a copy that
 * records a stream, an out-of-memory recovery, a trim. Returns the first
 * failure; *out receives the data that went through the device. */
static ember_status scenario(double *out)
{
    ember_status st;
    ember_device_t dev = NULL;
    ember_stream_t s1 = NULL, s2 = NULL;
    ember_buffer_t a = NULL, b = NULL, c = NULL, p = NULL, hb = NULL;
    ember_array h = {0}, d = {0}, o = {0};
    double host[64];
    for (int i = 0; i < 64; i++)
        host[i] = i * 1.5;
    int64_t shape[1] = {64};

    if ((st = ember_device_get(EMBER_DEVICE_CUDA, 0, &dev)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(dev, &s1)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(dev, &s2)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 3000, s1, &a)) != EMBER_SUCCESS) goto out;
    ember_buffer_release(a);
    a = NULL;
    if ((st = ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 3000, s1, &a)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 3000, s2, &b)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_record_stream(b, s1)) != EMBER_SUCCESS) goto out;
    ember_buffer_release(b);
    b = NULL;
    if ((st = ember_buffer_create_on_stream(dev, EMBER_MEM_DEVICE, 3000, s1, &b)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_init(&h, hb, EMBER_FLOAT64, 1, shape, NULL, 0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_init(&d, b, EMBER_FLOAT64, 1, shape, NULL, 0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&d, &h, s2)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_create(dev, EMBER_MEM_PINNED, sizeof host, &p)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_init(&o, p, EMBER_FLOAT64, 1, shape, NULL, 0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&o, &d, s2)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_synchronize(dev, s2)) != EMBER_SUCCESS) goto out;
    memcpy(out, ember_buffer_host_ptr(p), sizeof host);
    /* 20 MiB cached, then 40 MiB asked of a 48 MiB device: trim and retry. */
    if ((st = ember_buffer_create(dev, EMBER_MEM_DEVICE, 20 << 20, &c)) != EMBER_SUCCESS) goto out;
    ember_buffer_release(c);
    c = NULL;
    if ((st = ember_buffer_create(dev, EMBER_MEM_DEVICE, 40 << 20, &c)) != EMBER_SUCCESS) goto out;
    if ((st = ember_pool_trim(dev)) != EMBER_SUCCESS) goto out;
out:
    ember_array_fini(&o);
    ember_array_fini(&d);
    ember_array_fini(&h);
    ember_buffer_release(hb);
    ember_buffer_release(p);
    ember_buffer_release(c);
    ember_buffer_release(b);
    ember_buffer_release(a);
    ember_stream_destroy(s2);
    ember_stream_destroy(s1);
    return st;
}

static bool data_right(const double *out)
{
    for (int i = 0; i < 64; i++)
        if (out[i] != i * 1.5)
            return false;
    return true;
}

static void fault_loop(ember_fault_site site)
{
    const char *name = site == EMBER_FAULT_DRIVER ? "driver" : "alloc";
    double out[64];
    setenv("FAKE_CUDA_MEMORY", "50331648", 1); /* 48 MiB */
    memset(out, 0, sizeof out);
    CHECK_OK(scenario(out));
    CHECK(data_right(out));
    CHECK(driver_clean());
    int failed = 0, recovered = 0;
    for (long n = 1; n < 10000; n++) {
        ember_clear_error();
        memset(out, 0, sizeof out);
        ember_fault_fail_at(site, n);
        ember_status st = scenario(out);
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(data_right(out));
            fprintf(stderr, "%s faults in pool operations: %ld points, %d failed cleanly, %d "
                            "recovered or hit a release path\n", name, n - 1, failed, recovered);
            break;
        }
        if (st == EMBER_SUCCESS) {
            recovered++;
            CHECK(data_right(out));
        } else {
            failed++;
            CHECK(ember_last_error()[0] != '\0');
            CHECK(st == (site == EMBER_FAULT_DRIVER ? EMBER_ERR_DEVICE_OUT_OF_MEMORY
                                                    : EMBER_ERR_OUT_OF_MEMORY));
        }
        CHECK(driver_clean());
        ember_pool_stats s = stats(EMBER_MEM_DEVICE);
        CHECK(s.bytes_in_use == 0 && s.blocks_in_use == 0);
        memset(out, 0, sizeof out);
        CHECK_OK(scenario(out));
        CHECK(data_right(out));
        CHECK(driver_clean());
    }
    CHECK(failed >= 5 && (site == EMBER_FAULT_ALLOC || recovered >= 1));
    unsetenv("FAKE_CUDA_MEMORY");
}

int main(void)
{
    setenv("FAKE_CUDA_DEVICES", "1", 1);
    unsetenv("FAKE_CUDA_MEMORY");
    unsetenv("EMBER_CUDA_POOL");
    unsetenv("EMBER_DEVICE");
    if (!open_fake()) {
        fprintf(stderr, "cannot open the fake driver named by EMBER_CUDA_DRIVER\n");
        return 1;
    }
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1);
    test_reuse_and_classes();
    test_streams();
    test_staging();
    test_out_of_memory();
    test_pool_disabled();
    test_host_register();
    test_ipc();
    test_misuse();
    test_threads();
    fault_loop(EMBER_FAULT_DRIVER);
    fault_loop(EMBER_FAULT_ALLOC);
    CHECK(driver_clean());
    ember_shutdown();
    CHECK(fake_live("ctx") == 0 && fake_live("mem") == 0);
    dlclose(fake_lib);
    return check_report("test_pool");
}
