/*
 * test_graphs.c — graph capture through the C API (launch/graph.c) on both
 * device kinds.
 *
 * On the cpu device: copies queued on a capturing stream are recorded, not
 * run, and each ember_graph_launch replays them; the operations CUDA
 * refuses during a capture are refused (synchronizing the stream or the
 * device, default-stream copies, pageable host memory); a stream destroyed
 * while capturing drops its capture. On the cuda kind, against the
 * stand-in driver: a captured launch and copies reach the driver only at
 * each graph launch, and SQLite-style fault loops (the Nth driver call or
 * host allocation fails) over capture, instantiate, launch and destroy end
 * in a clean status with no stream, graph or module left in the driver.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ember/ember_test.h"

static const char ptx[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry one(\n\t.param .u64 one_param_0\n)\n{\n\tret;\n}\n";

static long (*fake_live)(const char *what);
static long (*fake_last_launch)(unsigned dims[7], void **stream, void *params, size_t cap,
                                size_t *size, char *name, size_t name_cap);
static void *fake_lib;

static long launches(void) { return fake_last_launch(NULL, NULL, NULL, 0, NULL, NULL, 0); }

/* Gives the pools' cached blocks back, so that what is left is a leak. */
static void trim(void)
{
    ember_device_t d = NULL;
    if (ember_device_get(EMBER_DEVICE_CUDA, 0, &d) == EMBER_SUCCESS)
        ember_pool_trim(d);
    ember_clear_error();
}

static bool driver_clean(void)
{
    trim();
    long g = fake_live("graph"), e = fake_live("graphexec"), s = fake_live("stream"),
         m = fake_live("module"), mem = fake_live("mem");
    if (g || e || s || m || mem) {
        fprintf(stderr, "driver objects left: graph %ld exec %ld stream %ld module %ld mem %ld\n",
                g, e, s, m, mem);
        return false;
    }
    return true;
}

static bool contains(const char *s, const char *part)
{
    if (!strstr(s, part)) {
        fprintf(stderr, "  '%s' not in: %s\n", part, s);
        return false;
    }
    return true;
}

/* ---- cpu device ------------------------------------------------------------ */

static void test_cpu_copies(void)
{
    ember_device_t cpu = NULL;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    int64_t n = 64;
    ember_array a, b, c, pin;
    memset(&pin, 0, sizeof pin);
    CHECK_OK(ember_array_create(&a, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, &n, 'C'));
    CHECK_OK(ember_array_create(&b, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, &n, 'C'));
    CHECK_OK(ember_array_create(&c, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, &n, 'C'));
    double *pa = ember_buffer_host_ptr(a.buffer), *pb = ember_buffer_host_ptr(b.buffer),
           *pc = ember_buffer_host_ptr(c.buffer);
    for (int i = 0; i < n; i++) {
        pa[i] = i;
        pb[i] = -1;
        pc[i] = -2;
    }
    ember_stream_t s = NULL;
    CHECK_OK(ember_stream_create(cpu, &s));
    CHECK(!ember_stream_is_capturing(s));
    CHECK_OK(ember_stream_begin_capture(s));
    CHECK(ember_stream_is_capturing(s));
    CHECK_OK(ember_array_copy(&b, &a, s)); /* b <- a, then c <- b */
    CHECK_OK(ember_array_copy(&c, &b, s));
    CHECK(pb[5] == -1 && pc[5] == -2); /* recorded, not run */

    /* what CUDA refuses while a capture is open */
    CHECK_STATUS(ember_stream_synchronize(cpu, s), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "the stream is capturing a graph"));
    CHECK_STATUS(ember_stream_synchronize(cpu, NULL), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_device_synchronize(cpu), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "while a graph capture is open"));
    CHECK_STATUS(ember_array_copy(&c, &a, NULL), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "default stream of cpu:0"));
    CHECK_STATUS(ember_stream_begin_capture(s), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "already capturing"));
    double host[64];
    ember_buffer_t hb = NULL;
    CHECK_OK(ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb));
    ember_array h;
    CHECK_OK(ember_array_init(&h, hb, EMBER_FLOAT64, 1, &n, NULL, 0));
    ember_buffer_release(hb);
    CHECK_STATUS(ember_array_copy(&h, &c, s), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "pageable host memory"));
    ember_array_fini(&h);
    CHECK(pb[5] == -1 && pc[5] == -2);

    ember_graph_t g = NULL;
    CHECK_OK(ember_stream_end_capture(s, &g));
    CHECK(!ember_stream_is_capturing(s));
    CHECK(ember_graph_size(g) == 2);
    CHECK_STATUS(ember_stream_end_capture(s, &g), EMBER_ERR_INVALID_ARG);
    CHECK(pb[5] == -1 && pc[5] == -2);
    CHECK_OK(ember_graph_launch(g, s));
    CHECK(pb[5] == 5 && pc[5] == 5 && pc[63] == 63);
    for (int i = 0; i < n; i++)
        pa[i] = 2 * i;
    CHECK_OK(ember_graph_launch(g, NULL)); /* the default stream: no capture open now */
    CHECK(pb[7] == 14 && pc[7] == 14);
    ember_graph_destroy(g);
    ember_graph_destroy(NULL);

    /* the default stream cannot be captured */
    CHECK_STATUS(ember_stream_begin_capture(NULL), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "not the default stream"));
    /* a stream destroyed while capturing drops its capture */
    CHECK_OK(ember_stream_begin_capture(s));
    CHECK_OK(ember_array_copy(&b, &a, s));
    ember_stream_destroy(s);
    CHECK_OK(ember_array_copy(&c, &a, NULL)); /* no capture open any more */
    CHECK_OK(ember_device_synchronize(cpu));
    ember_array_fini(&a);
    ember_array_fini(&b);
    ember_array_fini(&c);
}

/* ---- cuda kind (stand-in driver) -------------------------------------------- */

struct result {
    long launches_during, launches_after;
    size_t nodes;
    double back[4];
};

/* Captures a launch and two copies (pinned -> device -> pinned) on a
 * stream, launches the graph twice, tears down. *in_body: the armed fault
 * fired before the teardown. */
static ember_status scenario(ember_fault_site site, struct result *res, bool *in_body)
{
    ember_status st;
    ember_device_t dev;
    ember_stream_t s = NULL;
    ember_module_t m = NULL;
    ember_kernel_t k;
    ember_graph_t g = NULL;
    ember_array d, p, q;
    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    int64_t n = 4;
    uint64_t args[1] = {7};
    uint32_t grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};

    if ((st = ember_device_get(EMBER_DEVICE_CUDA, 0, &dev)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(dev, &s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_load_ptx(dev, ptx, &m)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_get_kernel(m, "one", &k)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_create(&d, dev, EMBER_MEM_DEVICE, EMBER_FLOAT64, 1, &n, 'C')))
        goto out;
    if ((st = ember_array_create(&p, dev, EMBER_MEM_PINNED, EMBER_FLOAT64, 1, &n, 'C')))
        goto out;
    if ((st = ember_array_create(&q, dev, EMBER_MEM_PINNED, EMBER_FLOAT64, 1, &n, 'C')))
        goto out;
    double *pp = ember_buffer_host_ptr(p.buffer), *pq = ember_buffer_host_ptr(q.buffer);
    for (int i = 0; i < 4; i++) {
        pp[i] = 10 + i;
        pq[i] = -1;
    }
    long before = launches();
    if ((st = ember_stream_begin_capture(s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&d, &p, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_kernel_launch(k, grid, block, 0, s, args, sizeof args))) goto out;
    if ((st = ember_array_copy(&q, &d, s)) != EMBER_SUCCESS) goto out;
    st = ember_stream_end_capture(s, &g);
    if (st != EMBER_SUCCESS) goto out;
    res->launches_during = launches() - before;
    res->nodes = ember_graph_size(g);
    if ((st = ember_graph_launch(g, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_graph_launch(g, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_synchronize(dev, s)) != EMBER_SUCCESS) goto out;
    res->launches_after = launches() - before;
    memcpy(res->back, pq, sizeof res->back);
out:
    *in_body = ember_fault_fired(site);
    ember_graph_destroy(g);
    ember_array_fini(&d);
    ember_array_fini(&p);
    ember_array_fini(&q);
    ember_module_destroy(m);
    ember_stream_destroy(s); /* also ends a capture left open by a failure */
    return st;
}

static int result_wrong(const struct result *r)
{
    return (r->launches_during != 0) + (r->launches_after != 2) + (r->nodes != 3) +
           (r->back[0] != 10) + (r->back[3] != 13);
}

static void fault_loop(ember_fault_site site)
{
    const char *what = site == EMBER_FAULT_DRIVER ? "driver" : "alloc";
    struct result res;
    bool in_body;
    memset(&res, 0, sizeof res);
    CHECK_OK(scenario(site, &res, &in_body));
    CHECK(result_wrong(&res) == 0);
    CHECK(driver_clean());
    int body_faults = 0;
    for (long n = 1; n < 10000; n++) {
        ember_clear_error();
        ember_fault_fail_at(site, n);
        memset(&res, 0, sizeof res);
        ember_status st = scenario(site, &res, &in_body);
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(result_wrong(&res) == 0);
            fprintf(stderr, "%s fault loop: %ld fault points, %d in the scenario's body\n",
                    what, n - 1, body_faults);
            break;
        }
        if (in_body && st == EMBER_SUCCESS) {
            CHECK(result_wrong(&res) == 0); /* a failure the pool works around */
        } else if (in_body) {
            body_faults++;
            CHECK(ember_last_error()[0] != '\0');
            if (check_failures)
                fprintf(stderr, "  at %s fault %ld: %s: %s\n", what, n,
                        ember_status_string(st), ember_last_error());
        } else {
            CHECK_OK(st);
        }
            CHECK(driver_clean());
        memset(&res, 0, sizeof res);
        CHECK_OK(scenario(site, &res, &in_body)); /* still usable */
        CHECK(result_wrong(&res) == 0);
        }
    CHECK(body_faults >= 5);
}

int main(void)
{
    setenv("FAKE_CUDA_DEVICES", "1", 1);
    unsetenv("FAKE_CUDA_INIT_ERROR");
    unsetenv("EMBER_DEVICE");
    CHECK_OK(ember_init());
    test_cpu_copies();
    const char *path = getenv("EMBER_CUDA_DRIVER");
    if (!path || !(fake_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "cannot open the fake driver named by EMBER_CUDA_DRIVER\n");
        return 1;
    }
    fake_live = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_live");
    fake_last_launch = (long (*)(unsigned *, void **, void *, size_t, size_t *, char *,
                                 size_t))dlsym(fake_lib, "fake_cuda_last_launch");
    if (!fake_live || !fake_last_launch)
        return 1;
    fault_loop(EMBER_FAULT_DRIVER);
    fault_loop(EMBER_FAULT_ALLOC);
    ember_shutdown();
    CHECK(fake_live("graph") == 0 && fake_live("graphexec") == 0 && fake_live("ctx") == 0);
    dlclose(fake_lib);
    return check_report("test_graphs");
}
