/*
 * test_cuda_fake.c — the cuda device kind against the stand-in driver
 * (tests/fake_cuda), which ctest names in EMBER_CUDA_DRIVER.
 *
 * The fake keeps device memory behind addresses the host cannot
 * dereference, so these tests also show that ember never touches device
 * memory on the host. They check enumeration and the default device, device
 * arrays (dense and strided, negative strides included) against values
 * computed here, pinned and mapped memory, byte fills (cuMemsetD8 on
 * device, pinned and mapped memory), device-to-device copies, streams
 * and events, the transfer counters, and SQLite-style fault loops: the Nth
 * driver call or host allocation fails in a scenario (and in ember_init),
 * the failure must come back as a clean status with a message, nothing may
 * leak (ASan for host memory, the fake's own counts for device objects),
 * and the runtime must work afterwards.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ember/ember_test.h"

enum { R = 6, C = 8, H = C / 2 }; /* a 6 x 8 float64 matrix; H: every other column */

/* The fake's test controls (see fake_cuda.c). */
static long (*fake_live)(const char *what);
static void (*fake_set_busy)(int n);
static void *fake_lib;

static bool open_fake(void)
{
    const char *path = getenv("EMBER_CUDA_DRIVER");
    if (!path)
        return false;
    fake_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!fake_lib)
        return false;
    fake_live = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_live");
    fake_set_busy = (void (*)(int))dlsym(fake_lib, "fake_cuda_set_busy");
    return fake_live && fake_set_busy;
}

/* No device allocation, pinned allocation, stream or event is left in the
 * driver once the pools gave their cache back, and `ctx` primary contexts
 * are retained (ctx 0: the runtime is shut down and must stay so). */
static bool driver_clean(long ctx)
{
    for (int i = 0; ctx > 0 && i < ember_device_count(EMBER_DEVICE_CUDA); i++) {
        ember_device_t d;
        if (ember_device_get(EMBER_DEVICE_CUDA, i, &d) == EMBER_SUCCESS)
            ember_pool_trim(d);
    }
    long mem = fake_live("mem"), host = fake_live("host"), str = fake_live("stream"),
         ev = fake_live("event"), c = fake_live("ctx");
    if (mem || host || str || ev || c != ctx) {
        fprintf(stderr, "driver objects left: mem %ld host %ld stream %ld event %ld ctx %ld "
                        "(expected ctx %ld)\n", mem, host, str, ev, c, ctx);
        return false;
    }
    return true;
}

static ember_device_t cuda0(void)
{
    ember_device_t d = NULL;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CUDA, 0, &d));
    return d;
}

/* Views host memory the test owns as an array (ember does not own it). */
static ember_status wrap_host(ember_array *a, void *p, size_t nbytes, int ndim,
                              const int64_t *shape, const int64_t *strides)
{
    ember_buffer_t b;
    ember_status st = ember_buffer_wrap_host(p, nbytes, NULL, NULL, &b);
    if (st != EMBER_SUCCESS)
        return st;
    st = ember_array_init(a, b, EMBER_FLOAT64, ndim, shape, strides, 0);
    ember_buffer_release(b);
    return st;
}

/* The view of an R x C C-ordered float64 array taking every other column,
 * both axes reversed: v[i][j] = m[R-1-i][C-1-2j]. */
static ember_status reversed_odd_columns(ember_array *v, const ember_array *m)
{
    int64_t shape[2] = {R, H}, strides[2] = {-C * 8, -16};
    return ember_array_init(v, m->buffer, EMBER_FLOAT64, 2, shape, strides,
                            ((R - 1) * C + (C - 1)) * 8);
}

static double value(int r, int c) { return r * C + c + 0.5; }

/* ---- enumeration ---------------------------------------------------------- */

static void test_enumeration(void)
{
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1);
    CHECK(ember_device_kind_unavailable_reason(EMBER_DEVICE_CUDA)[0] == '\0');
    ember_device_t dev = cuda0();
    ember_device_info info;
    CHECK_OK(ember_device_get_info(dev, &info));
    CHECK(info.kind == EMBER_DEVICE_CUDA && info.ordinal == 0);
    CHECK(ember_device_get_kind(dev) == EMBER_DEVICE_CUDA);
    CHECK(strcmp(info.name, "Fake CUDA Device 0") == 0);
    CHECK(info.cc_major == 9 && info.cc_minor == 0);
    CHECK(info.total_memory == 80ull << 30);
    CHECK(info.multiprocessors == 132);
    CHECK(info.max_threads_per_block == 1024 && info.warp_size == 32);
    CHECK(info.max_shared_memory_per_block == 48 * 1024);
    CHECK(strcmp(info.pci_bus_id, "0000:00:00.0") == 0);
    fprintf(stderr, "cuda:0 %s cc %d.%d, %d SMs, bus %s, near cpus '%s'\n", info.name,
            info.cc_major, info.cc_minor, info.multiprocessors, info.pci_bus_id,
            info.near_cpus);
    CHECK(fake_live("ctx") == 1); /* its primary context is retained */

    uint64_t fr = 0, tot = 0;
    CHECK_OK(ember_device_memory_info(dev, &fr, &tot));
    CHECK(tot == 80ull << 30 && fr == tot);
    ember_buffer_t b;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_DEVICE, 1 << 20, &b));
    CHECK_OK(ember_device_memory_info(dev, &fr, &tot));
    CHECK(fr == tot - (1 << 20));
    ember_buffer_release(b);
    CHECK_OK(ember_device_synchronize(dev));

    ember_device_t def = NULL, cpu = NULL, other = NULL;
    CHECK_OK(ember_device_default(&def));
    CHECK(def == dev);
    CHECK_STATUS(ember_device_get(EMBER_DEVICE_CUDA, 1, &other), EMBER_ERR_NOT_FOUND);
    CHECK(other == NULL && ember_last_error()[0] != '\0');

    /* EMBER_DEVICE=cpu forces the cpu device. */
    setenv("EMBER_DEVICE", "cpu", 1);
    ember_shutdown();
    CHECK_OK(ember_init());
    CHECK_OK(ember_device_default(&def));
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK(def == cpu && ember_device_get_kind(def) == EMBER_DEVICE_CPU);
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1); /* still there, just not default */
    unsetenv("EMBER_DEVICE");
    ember_shutdown();
    CHECK(fake_live("ctx") == 0); /* shutdown released the primary context */
    CHECK_OK(ember_init());
    CHECK_OK(ember_device_default(&def));
    CHECK(ember_device_get_kind(def) == EMBER_DEVICE_CUDA);
}

/* Two devices; none; a driver whose cuInit fails. */
static void test_device_counts(void)
{
    setenv("FAKE_CUDA_DEVICES", "2", 1);
    ember_shutdown();
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 2);
    CHECK(fake_live("ctx") == 2);
    ember_device_t d0 = NULL, d1 = NULL;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CUDA, 0, &d0));
    CHECK_OK(ember_device_get(EMBER_DEVICE_CUDA, 1, &d1));
    ember_device_info info;
    CHECK_OK(ember_device_get_info(d1, &info));
    CHECK(info.ordinal == 1 && strcmp(info.name, "Fake CUDA Device 1") == 0 &&
          strcmp(info.pci_bus_id, "0000:01:00.0") == 0);

    /* A copy between the two devices' memory goes through the host. */
    double in[R * C], out[R * C];
    for (int i = 0; i < R * C; i++)
        in[i] = i * 3.0;
    int64_t shape[2] = {R, C};
    ember_array hin = {0}, hout = {0}, a0 = {0}, a1 = {0};
    CHECK_OK(wrap_host(&hin, in, sizeof in, 2, shape, NULL));
    CHECK_OK(wrap_host(&hout, out, sizeof out, 2, shape, NULL));
    CHECK_OK(ember_array_create(&a0, d0, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&a1, d1, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_copy(&a0, &hin, NULL));
    CHECK_OK(ember_array_copy(&a1, &a0, NULL));
    memset(out, 0, sizeof out);
    CHECK_OK(ember_array_copy(&hout, &a1, NULL));
    CHECK(memcmp(in, out, sizeof in) == 0);
    /* A stream of device 1 cannot order a copy between the host and device 0. */
    ember_stream_t s1;
    CHECK_OK(ember_stream_create(d1, &s1));
    CHECK_STATUS(ember_array_copy(&hout, &a0, s1), EMBER_ERR_DEVICE_MISMATCH);
    ember_stream_destroy(s1);
    ember_array_fini(&a1);
    ember_array_fini(&a0);
    ember_array_fini(&hout);
    ember_array_fini(&hin);
    CHECK(driver_clean(2));

    setenv("FAKE_CUDA_DEVICES", "0", 1);
    ember_shutdown();
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 0);
    CHECK(strcmp(ember_device_kind_unavailable_reason(EMBER_DEVICE_CUDA), "no CUDA devices") == 0);
    CHECK(fake_live("ctx") == 0);
    ember_device_t def;
    CHECK_OK(ember_device_default(&def));
    CHECK(ember_device_get_kind(def) == EMBER_DEVICE_CPU);

    setenv("FAKE_CUDA_DEVICES", "1", 1);
    setenv("FAKE_CUDA_INIT_ERROR", "100", 1); /* CUDA_ERROR_NO_DEVICE */
    ember_shutdown();
    CHECK_OK(ember_init());
    const char *reason = ember_device_kind_unavailable_reason(EMBER_DEVICE_CUDA);
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 0);
    CHECK(strncmp(reason, "CUDA driver ", 12) == 0);
    CHECK(strstr(reason, getenv("EMBER_CUDA_DRIVER")) != NULL);
    CHECK(strstr(reason, "loaded but cuInit failed: CUDA_ERROR_NO_DEVICE") != NULL);
    fprintf(stderr, "with a failing cuInit: %s\n", reason);
    unsetenv("FAKE_CUDA_INIT_ERROR");

    ember_shutdown();
    CHECK_OK(ember_init());
    CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1);
}

/* ---- arrays ----------------------------------------------------------------- */

static void test_arrays(void)
{
    ember_device_t dev = cuda0();
    double in[R * C], out[R * C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            in[r * C + c] = value(r, c);
    int64_t shape[2] = {R, C};
    ember_array hin = {0}, hout = {0}, d = {0};
    CHECK_OK(wrap_host(&hin, in, sizeof in, 2, shape, NULL));
    CHECK_OK(wrap_host(&hout, out, sizeof out, 2, shape, NULL));

    /* Dense round trip. */
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK(ember_buffer_host_ptr(d.buffer) == NULL); /* device memory is not host memory */
    uint64_t dp = ember_buffer_device_ptr(d.buffer);
    CHECK(dp >= 0x7e0000000000ull && dp % 256 == 0);
    CHECK(fake_live("mem") == 1);
    CHECK_OK(ember_array_copy(&d, &hin, NULL));
    memset(out, 0, sizeof out);
    CHECK_OK(ember_array_copy(&hout, &d, NULL));
    CHECK(memcmp(in, out, sizeof in) == 0);

    /* Strided write into the device: every other column, both axes
     * reversed, from a dense host array. */
    double w[R * H];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < H; j++)
            w[i * H + j] = 1000 + i * 10 + j;
    int64_t vshape[2] = {R, H};
    ember_array hw = {0}, v = {0};
    CHECK_OK(wrap_host(&hw, w, sizeof w, 2, vshape, NULL));
    CHECK_OK(reversed_odd_columns(&v, &d));
    CHECK(!ember_array_is_c_contiguous(&v) && !ember_array_is_f_contiguous(&v));
    CHECK_OK(ember_array_copy(&v, &hw, NULL));
    memset(out, 0, sizeof out);
    CHECK_OK(ember_array_copy(&hout, &d, NULL));
    int wrong = 0;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            /* column c = C-1-2j is written (odd columns), row r = R-1-i */
            double want = c % 2 == 1 ? 1000 + (R - 1 - r) * 10 + (C - 1 - c) / 2 : value(r, c);
            wrong += out[r * C + c] != want;
        }
    CHECK(wrong == 0);

    /* Strided read back into a dense host array. */
    double rb[R * H];
    ember_array hrb = {0};
    CHECK_OK(wrap_host(&hrb, rb, sizeof rb, 2, vshape, NULL));
    memset(rb, 0, sizeof rb);
    CHECK_OK(ember_array_copy(&hrb, &v, NULL));
    CHECK(memcmp(rb, w, sizeof w) == 0);

    /* Every other row, positive strides, into a strided host view (every
     * other column of a host matrix, the rest untouched). */
    double tgt[(R / 2) * 2 * C];
    for (int i = 0; i < (R / 2) * 2 * C; i++)
        tgt[i] = -1;
    int64_t rshape[2] = {R / 2, C}, rstr[2] = {2 * C * 8, 8}, tstr[2] = {2 * C * 8, 16};
    ember_array rows = {0}, ht = {0};
    CHECK_OK(ember_array_init(&rows, d.buffer, EMBER_FLOAT64, 2, rshape, rstr, 0));
    ember_buffer_t tb;
    CHECK_OK(ember_buffer_wrap_host(tgt, sizeof tgt, NULL, NULL, &tb));
    CHECK_OK(ember_array_init(&ht, tb, EMBER_FLOAT64, 2, rshape, tstr, 0));
    ember_buffer_release(tb);
    CHECK_OK(ember_array_copy(&ht, &rows, NULL));
    wrong = 0;
    for (int i = 0; i < R / 2; i++)
        for (int k = 0; k < 2 * C; k++) {
            double got = tgt[i * 2 * C + k];
            int r = 2 * i, c = k / 2;
            double want = k % 2 ? -1 : out[r * C + c];
            wrong += got != want;
        }
    CHECK(wrong == 0);

    /* Device to device: dense in one driver copy, and strided (a view to a
     * dense array on the same device). */
    ember_array d2 = {0}, dv = {0};
    CHECK_OK(ember_array_create(&d2, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK(ember_buffer_device_ptr(d2.buffer) != dp);
    CHECK_OK(ember_array_copy(&d2, &d, NULL));
    double out2[R * C];
    ember_array hout2 = {0};
    CHECK_OK(wrap_host(&hout2, out2, sizeof out2, 2, shape, NULL));
    CHECK_OK(ember_array_copy(&hout2, &d2, NULL));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    CHECK_OK(ember_array_create(&dv, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, vshape, 'F'));
    CHECK_OK(ember_array_copy(&dv, &v, NULL));
    memset(rb, 0, sizeof rb);
    CHECK_OK(ember_array_copy(&hrb, &dv, NULL));
    CHECK(memcmp(rb, w, sizeof w) == 0);

    /* An empty array and a zero-byte buffer. */
    int64_t zshape[1] = {0};
    ember_array z = {0};
    CHECK_OK(ember_array_create(&z, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, zshape, 'C'));
    CHECK(ember_buffer_size(z.buffer) == 0 && ember_buffer_device_ptr(z.buffer) != 0);
    ember_array_fini(&z);

    ember_array_fini(&dv);
    ember_array_fini(&hout2);
    ember_array_fini(&d2);
    ember_array_fini(&ht);
    ember_array_fini(&rows);
    ember_array_fini(&hrb);
    ember_array_fini(&v);
    ember_array_fini(&hw);
    ember_array_fini(&d);
    ember_array_fini(&hout);
    ember_array_fini(&hin);
    CHECK(driver_clean(1));
}

/* ---- pinned and mapped memory ----------------------------------------------- */

static void test_host_memory(void)
{
    ember_device_t dev = cuda0();
    ember_buffer_t p, m, z;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_PINNED, 1000, &p));
    CHECK(ember_buffer_host_ptr(p) != NULL && ember_buffer_kind(p) == EMBER_MEM_PINNED);
    CHECK(ember_buffer_device_ptr(p) == (uint64_t)(uintptr_t)ember_buffer_host_ptr(p));
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_MAPPED, 1000, &m));
    CHECK(ember_buffer_host_ptr(m) != NULL && ember_buffer_device_ptr(m) != 0);
    /* The fake gives mapped memory a device alias distinct from its host address. */
    CHECK(ember_buffer_device_ptr(m) != (uint64_t)(uintptr_t)ember_buffer_host_ptr(m));
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_PINNED, 0, &z));
    CHECK(ember_buffer_host_ptr(z) != NULL);
    CHECK(fake_live("host") == 3);
    memset(ember_buffer_host_ptr(p), 0x5a, 1000); /* host-accessible */
    memset(ember_buffer_host_ptr(m), 0xa5, 1000);
    ember_buffer_release(z);
    ember_buffer_release(m);
    ember_buffer_release(p);

    /* pinned -> device -> mapped */
    int64_t shape[2] = {R, C};
    ember_array pa = {0}, ma = {0}, d = {0};
    CHECK_OK(ember_array_create(&pa, dev, EMBER_MEM_PINNED, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&ma, dev, EMBER_MEM_MAPPED, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'F'));
    double *ph = ember_buffer_host_ptr(pa.buffer), *mh = ember_buffer_host_ptr(ma.buffer);
    for (int i = 0; i < R * C; i++) {
        ph[i] = i * 0.25;
        mh[i] = 0;
    }
    CHECK_OK(ember_array_copy(&d, &pa, NULL)); /* C -> F: staged through the host */
    CHECK_OK(ember_array_copy(&ma, &d, NULL));
    CHECK(memcmp(ph, mh, R * C * sizeof(double)) == 0);
    ember_array_fini(&d);
    ember_array_fini(&ma);
    ember_array_fini(&pa);
    CHECK(driver_clean(1));
}

/* ember_buffer_memset runs cuMemsetD8 at the buffer's device address:
 * device memory (read back through a copy), pinned memory (its host
 * address, unified addressing) and mapped memory (its device alias), on the
 * default stream and a stream; a stream of another device is refused. */
static void test_memset(void)
{
    ember_device_t dev = cuda0(), cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    int64_t n = 48;
    ember_array d = {0}, host = {0};
    unsigned char back[48], want[48];
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_UINT8, 1, &n, 'C'));
    CHECK_OK(ember_array_create(&host, cpu, EMBER_MEM_DEVICE, EMBER_UINT8, 1, &n, 'C'));
    CHECK_OK(ember_buffer_memset(d.buffer, 0, 0x00, 48, NULL));
    ember_stream_t s;
    CHECK_OK(ember_stream_create(dev, &s));
    CHECK_OK(ember_buffer_memset(d.buffer, 5, 0xE1, 30, s));
    CHECK_OK(ember_stream_synchronize(dev, s));
    CHECK_OK(ember_array_copy(&host, &d, NULL));
    memcpy(back, ember_buffer_host_ptr(host.buffer), 48);
    memset(want, 0, 48);
    memset(want + 5, 0xE1, 30);
    CHECK(memcmp(back, want, 48) == 0);
    CHECK_STATUS(ember_buffer_memset(d.buffer, 40, 1, 9, s), EMBER_ERR_OUT_OF_BOUNDS);
    ember_stream_t cs;
    CHECK_OK(ember_stream_create(cpu, &cs));
    CHECK_STATUS(ember_buffer_memset(d.buffer, 0, 1, 8, cs), EMBER_ERR_DEVICE_MISMATCH);
    ember_stream_destroy(cs);

    ember_buffer_t p, m;
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_PINNED, 32, &p));
    CHECK_OK(ember_buffer_create(dev, EMBER_MEM_MAPPED, 32, &m));
    memset(ember_buffer_host_ptr(p), 1, 32);
    memset(ember_buffer_host_ptr(m), 1, 32);
    CHECK_OK(ember_buffer_memset(p, 16, 0x7F, 16, NULL));
    CHECK_OK(ember_buffer_memset(m, 0, 0x3C, 8, s));
    CHECK_OK(ember_stream_synchronize(dev, s));
    memset(want, 1, 32);
    memset(want + 16, 0x7F, 16);
    CHECK(memcmp(ember_buffer_host_ptr(p), want, 32) == 0);
    memset(want, 1, 32);
    memset(want, 0x3C, 8);
    CHECK(memcmp(ember_buffer_host_ptr(m), want, 32) == 0);
    ember_buffer_release(m);
    ember_buffer_release(p);
    ember_stream_destroy(s);
    ember_array_fini(&host);
    ember_array_fini(&d);
    CHECK(driver_clean(1));
}

/* Managed memory: one address on host and device (cuMemAllocManaged),
 * copied like device memory, freed through the pool. */
static void test_managed_memory(void)
{
    ember_device_t dev = cuda0();
    int64_t n = 100;
    ember_array m = {0}, d = {0};
    CHECK_OK(ember_array_create(&m, dev, EMBER_MEM_MANAGED, EMBER_FLOAT64, 1, &n, 'C'));
    CHECK(ember_buffer_kind(m.buffer) == EMBER_MEM_MANAGED);
    double *h = ember_buffer_host_ptr(m.buffer);
    CHECK(h != NULL && ember_buffer_device_ptr(m.buffer) == (uint64_t)(uintptr_t)h);
    for (int i = 0; i < n; i++)
        h[i] = i;
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, &n, 'C'));
    CHECK_OK(ember_array_copy(&d, &m, NULL));
    memset(h, 0, (size_t)n * sizeof(double));
    CHECK_OK(ember_array_copy(&m, &d, NULL));
    CHECK(h[0] == 0 && h[99] == 99);
    ember_pool_stats s;
    CHECK_OK(ember_pool_get_stats(dev, EMBER_MEM_MANAGED, &s));
    CHECK(s.blocks_in_use == 1);
    ember_array_fini(&d);
    ember_array_fini(&m);
    CHECK(driver_clean(1));
}

/* ---- streams and events --------------------------------------------------- */

static void test_streams_events(void)
{
    ember_device_t dev = cuda0();
    ember_stream_t s = NULL;
    ember_event_t e0 = NULL, e1 = NULL, untimed = NULL;
    CHECK_OK(ember_stream_create(dev, &s));
    CHECK(ember_stream_device(s) == dev);
    CHECK_OK(ember_event_create(dev, true, &e0));
    CHECK_OK(ember_event_create(dev, true, &e1));
    CHECK_OK(ember_event_create(dev, false, &untimed));
    CHECK(fake_live("stream") == 1 && fake_live("event") == 3);

    double in[R * C], out[R * C];
    for (int i = 0; i < R * C; i++)
        in[i] = -i;
    int64_t shape[2] = {R, C};
    ember_array hin = {0}, hout = {0}, d = {0};
    CHECK_OK(wrap_host(&hin, in, sizeof in, 2, shape, NULL));
    CHECK_OK(wrap_host(&hout, out, sizeof out, 2, shape, NULL));
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));

    CHECK_OK(ember_event_record(e0, s));
    CHECK_OK(ember_array_copy(&d, &hin, s));
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
    CHECK_OK(ember_array_copy(&hout, &d, s));
    CHECK_OK(ember_event_record(e1, s));
    CHECK_OK(ember_stream_synchronize(dev, s));
    CHECK_OK(ember_event_synchronize(e1));
    CHECK_OK(ember_event_query(e1));
    CHECK(memcmp(in, out, sizeof in) == 0);
    float ms = -1;
    CHECK_OK(ember_event_elapsed_ms(e0, e1, &ms));
    CHECK(ms >= 9.0f && ms < 5000.0f); /* milliseconds, not seconds or ns */
    CHECK_OK(ember_event_record(untimed, NULL));
    CHECK_STATUS(ember_event_elapsed_ms(e0, untimed, &ms), EMBER_ERR_INVALID_ARG);
    CHECK_OK(ember_event_wait(e1, s));
    CHECK_OK(ember_event_wait(untimed, NULL));
    CHECK_OK(ember_stream_query(dev, s));
    CHECK_OK(ember_stream_query(dev, NULL));
    CHECK_OK(ember_stream_synchronize(dev, NULL));
    CHECK_OK(ember_device_synchronize(dev));

    /* NOT_READY is an answer, not an error: no message is recorded. */
    fake_set_busy(1);
    ember_clear_error();
    CHECK_STATUS(ember_stream_query(dev, s), EMBER_ERR_NOT_READY);
    CHECK(ember_last_error()[0] == '\0' && ember_last_driver_error() == 0);
    CHECK_OK(ember_stream_query(dev, s));
    fake_set_busy(1);
    CHECK_STATUS(ember_event_query(e1), EMBER_ERR_NOT_READY);
    CHECK(ember_last_error()[0] == '\0');
    CHECK_OK(ember_event_query(e1));

    /* A stream of the cpu device cannot carry work of the CUDA device. */
    ember_device_t cpu;
    ember_stream_t cs;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_OK(ember_stream_create(cpu, &cs));
    CHECK_STATUS(ember_event_record(e0, cs), EMBER_ERR_DEVICE_MISMATCH);
    ember_stream_destroy(cs);

    ember_array_fini(&d);
    ember_array_fini(&hout);
    ember_array_fini(&hin);
    ember_event_destroy(untimed);
    ember_event_destroy(e1);
    ember_event_destroy(e0);
    ember_stream_destroy(s);
    CHECK(driver_clean(1));
}

/* ---- transfer counters ------------------------------------------------------ */

static void test_counters(void)
{
    ember_device_t dev = cuda0();
    double in[R * C], out[R * C], w[R * H];
    for (int i = 0; i < R * C; i++)
        in[i] = i;
    for (int i = 0; i < R * H; i++)
        w[i] = -i;
    int64_t shape[2] = {R, C}, vshape[2] = {R, H};
    ember_array hin = {0}, hout = {0}, hw = {0}, d = {0}, d2 = {0}, v = {0}, pa = {0};
    CHECK_OK(wrap_host(&hin, in, sizeof in, 2, shape, NULL));
    CHECK_OK(wrap_host(&hout, out, sizeof out, 2, shape, NULL));
    CHECK_OK(wrap_host(&hw, w, sizeof w, 2, vshape, NULL));
    CHECK_OK(ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&d2, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&pa, dev, EMBER_MEM_PINNED, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(reversed_odd_columns(&v, &d));

    ember_stats_reset();
    const uint64_t full = R * C * 8, part = R * H * 8;
    CHECK_OK(ember_array_copy(&d, &hin, NULL));  /* HtoD full */
    CHECK_OK(ember_array_copy(&v, &hw, NULL));   /* HtoD part (staged: still one copy) */
    CHECK_OK(ember_array_copy(&hout, &d, NULL)); /* DtoH full */
    CHECK_OK(ember_array_copy(&pa, &d, NULL));   /* DtoH full (pinned is the host side) */
    CHECK_OK(ember_array_copy(&d2, &d, NULL));   /* DtoD full */
    CHECK_OK(ember_array_copy(&hout, &pa, NULL)); /* HtoH full */
    ember_transfer_stats ts;
    ember_stats_get(&ts);
    CHECK(ts.bytes[EMBER_COPY_HTOD] == full + part && ts.copies[EMBER_COPY_HTOD] == 2);
    CHECK(ts.bytes[EMBER_COPY_DTOH] == 2 * full && ts.copies[EMBER_COPY_DTOH] == 2);
    CHECK(ts.bytes[EMBER_COPY_DTOD] == full && ts.copies[EMBER_COPY_DTOD] == 1);
    CHECK(ts.bytes[EMBER_COPY_HTOH] == full && ts.copies[EMBER_COPY_HTOH] == 1);
    CHECK(ts.bytes_allocated == 3 * full);

    ember_array_fini(&v);
    ember_array_fini(&pa);
    ember_array_fini(&d2);
    ember_array_fini(&d);
    ember_array_fini(&hw);
    ember_array_fini(&hout);
    ember_array_fini(&hin);
    ember_stats_get(&ts);
    CHECK(ts.bytes_allocated == 0);
    CHECK(driver_clean(1));
}

/* ---- fault loops ------------------------------------------------------------ */

struct result {
    double out[R * C];  /* the matrix after a round trip */
    double back[R * H]; /* its reversed odd columns, read through a strided view */
};

/* Allocates a device array, pinned and mapped memory, copies a host matrix
 * in on a stream, reads it back whole and through a strided view into
 * pinned memory, times it with events, frees everything. Returns the first failure; *in_body tells
 * whether the armed fault fired before the teardown (whose calls return
 * nothing: a fault there cannot show in the status). */
static ember_status scenario(ember_fault_site site, struct result *res, bool *in_body)
{
    ember_status st;
    ember_device_t dev;
    ember_stream_t s = NULL;
    ember_event_t e0 = NULL, e1 = NULL;
    ember_buffer_t mapped = NULL;
    ember_array hin = {0}, hout = {0}, d = {0}, v = {0}, back = {0};
    double in[R * C];
    for (int i = 0; i < R * C; i++)
        in[i] = i + 0.5;
    int64_t shape[2] = {R, C}, vshape[2] = {R, H};
    float ms;

    if ((st = ember_device_get(EMBER_DEVICE_CUDA, 0, &dev)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(dev, &s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_create(dev, true, &e0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_create(dev, true, &e1)) != EMBER_SUCCESS) goto out;
    if ((st = wrap_host(&hin, in, sizeof in, 2, shape, NULL)) != EMBER_SUCCESS) goto out;
    if ((st = wrap_host(&hout, res->out, sizeof res->out, 2, shape, NULL)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C')) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_create(&back, dev, EMBER_MEM_PINNED, EMBER_FLOAT64, 2, vshape, 'C')) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_create(dev, EMBER_MEM_MAPPED, 64, &mapped)) != EMBER_SUCCESS) goto out;
    memset(ember_buffer_host_ptr(mapped), 0, 64);
    if ((st = ember_event_record(e0, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&d, &hin, s)) != EMBER_SUCCESS) goto out;
    if ((st = reversed_odd_columns(&v, &d)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&back, &v, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&hout, &d, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_record(e1, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_synchronize(dev, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_synchronize(e1)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_elapsed_ms(e0, e1, &ms)) != EMBER_SUCCESS) goto out;
    memcpy(res->back, ember_buffer_host_ptr(back.buffer), sizeof res->back);
out:
    *in_body = ember_fault_fired(site);
    ember_buffer_release(mapped);
    ember_array_fini(&back);
    ember_array_fini(&v);
    ember_array_fini(&d);
    ember_array_fini(&hout);
    ember_array_fini(&hin);
    ember_event_destroy(e1);
    ember_event_destroy(e0);
    ember_stream_destroy(s);
    return st;
}

static int result_wrong(const struct result *res)
{
    int wrong = 0;
    for (int i = 0; i < R * C; i++)
        wrong += res->out[i] != i + 0.5;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < H; j++)
            wrong += res->back[i * H + j] != (R - 1 - i) * C + (C - 1 - 2 * j) + 0.5;
    return wrong;
}

static const char *site_name(ember_fault_site site)
{
    return site == EMBER_FAULT_DRIVER ? "driver" : "alloc";
}

static void fault_loop(ember_fault_site site)
{
    struct result res;
    bool in_body;
    memset(&res, 0, sizeof res);
    CHECK_OK(scenario(site, &res, &in_body));
    CHECK(result_wrong(&res) == 0);

    int body_faults = 0, recovered = 0;
    for (long n = 1; n < 10000; n++) {
        ember_clear_error();
        ember_fault_fail_at(site, n);
        ember_status st = scenario(site, &res, &in_body);
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(result_wrong(&res) == 0);
            fprintf(stderr, "%s fault loop: %ld fault points, %d in the scenario's body, "
                    "%d recovered by the pool's retry\n", site_name(site), n - 1, body_faults,
                    recovered);
            break;
        }
        if (in_body && st == EMBER_SUCCESS) {
            /* An out-of-memory the pool recovered from (it trims its cache
             * and retries an allocation once): the result must be right. */
            recovered++;
            CHECK(result_wrong(&res) == 0);
        } else if (in_body) {
            body_faults++;
            CHECK(st != EMBER_SUCCESS);
            CHECK(ember_last_error()[0] != '\0');
            if (site == EMBER_FAULT_DRIVER) {
                CHECK(st == EMBER_ERR_DEVICE_OUT_OF_MEMORY);
                CHECK(ember_last_driver_error() == 2);
                CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_OUT_OF_MEMORY") == 0);
                CHECK(strstr(ember_last_error(), " failed: CUDA_ERROR_OUT_OF_MEMORY (2): ") !=
                      NULL);
            } else {
                CHECK(st == EMBER_ERR_OUT_OF_MEMORY);
            }
            if (check_failures)
                fprintf(stderr, "  at %s fault %ld: %s: %s\n", site_name(site), n,
                        ember_status_string(st), ember_last_error());
        } else {
            CHECK_OK(st); /* the fault hit a teardown call, which cannot report it */
        }
        CHECK(driver_clean(1));
        /* Still usable, with the right data. */
        memset(&res, 0, sizeof res);
        CHECK_OK(scenario(site, &res, &in_body));
        CHECK(result_wrong(&res) == 0);
    }
    CHECK(body_faults >= (site == EMBER_FAULT_DRIVER ? 20 : 5));
    if (site == EMBER_FAULT_DRIVER)
        CHECK(recovered >= 3); /* cuMemAlloc and cuMemHostAlloc (pinned, mapped) */
}

/* Fails the Nth driver call (or host allocation) of ember_init: the cuda
 * kind is then absent (with a reason) or present, never half-open; a clean
 * restart finds the device again. */
static void init_fault_loop(ember_fault_site site)
{
    int fired_count = 0;
    for (long n = 1; n < 1000; n++) {
        ember_shutdown();
        CHECK(driver_clean(0));
        ember_fault_fail_at(site, n);
        ember_status st = ember_init();
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1);
            fprintf(stderr, "%s faults during ember_init: %d points\n", site_name(site),
                    fired_count);
            break;
        }
        fired_count++;
        if (site == EMBER_FAULT_DRIVER) {
            CHECK_OK(st); /* a driver failure makes the kind absent, not init fail */
            int count = ember_device_count(EMBER_DEVICE_CUDA);
            CHECK(count == 0 || count == 1);
            if (count == 0) {
                const char *reason = ember_device_kind_unavailable_reason(EMBER_DEVICE_CUDA);
                CHECK(strstr(reason, "CUDA_ERROR_OUT_OF_MEMORY") != NULL);
                CHECK(driver_clean(0));
                ember_device_t def;
                CHECK_OK(ember_device_default(&def));
                CHECK(ember_device_get_kind(def) == EMBER_DEVICE_CPU);
            }
        } else {
            CHECK(st == EMBER_ERR_OUT_OF_MEMORY || st == EMBER_SUCCESS);
            if (st != EMBER_SUCCESS)
                CHECK(driver_clean(0)); /* a failed init holds nothing */
        }
        ember_shutdown();
        CHECK(driver_clean(0));
        CHECK_OK(ember_init());
        CHECK(ember_device_count(EMBER_DEVICE_CUDA) == 1);
        struct result res;
        bool in_body;
        memset(&res, 0, sizeof res);
        CHECK_OK(scenario(site, &res, &in_body));
        CHECK(result_wrong(&res) == 0);
    }
    CHECK(fired_count >= 5);
}

int main(void)
{
    setenv("FAKE_CUDA_DEVICES", "1", 1);
    unsetenv("FAKE_CUDA_INIT_ERROR");
    unsetenv("EMBER_DEVICE");
    CHECK_OK(ember_init());
    if (!open_fake()) {
        fprintf(stderr, "cannot open the fake driver named by EMBER_CUDA_DRIVER (%s)\n",
                getenv("EMBER_CUDA_DRIVER") ? getenv("EMBER_CUDA_DRIVER") : "unset");
        return 1;
    }
    test_enumeration();
    test_device_counts();
    test_arrays();
    test_host_memory();
    test_memset();
    test_managed_memory();
    test_streams_events();
    test_counters();
    fault_loop(EMBER_FAULT_DRIVER);
    fault_loop(EMBER_FAULT_ALLOC);
    init_fault_loop(EMBER_FAULT_DRIVER);
    init_fault_loop(EMBER_FAULT_ALLOC);

    ember_shutdown();
    CHECK(driver_clean(0));
    dlclose(fake_lib);
    return check_report("test_cuda_fake");
}
