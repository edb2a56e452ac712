/*
 * test_cuda_module.c — PTX modules and kernel launches on the cuda kind,
 * against the stand-in driver (tests/fake_cuda) that ctest names in
 * EMBER_CUDA_DRIVER.
 *
 * The fake runs no kernels but records each launch (grid, block, shared
 * bytes, stream, the parameter bytes) and checks what the driver checks, so
 * these tests see exactly what ember hands the driver: the packed argument
 * buffer as the kernel's parameters, configurations ember must refuse
 * before the driver is called, the JIT's log in a load error, the fault
 * record read and cleared, and SQLite-style fault loops (the Nth driver
 * call or host allocation fails) over load, launch and destroy that must
 * end in a clean status with nothing left in the driver.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ember/ember_test.h"

/* Three kernels: one with 4 parameters, one limited to 128 threads, one
 * without parameters, and the fault record. */
static const char ptx_main[] =
    ".version 8.0\n"
    ".target sm_90\n"
    ".address_size 64\n"
    ".visible .global .align 4 .b8 ember_fault[8];\n"
    ".visible .entry saxpy(\n"
    "\t.param .u64 saxpy_param_0,\n"
    "\t.param .u64 saxpy_param_1,\n"
    "\t.param .u64 saxpy_param_2,\n"
    "\t.param .u64 saxpy_param_3\n"
    ")\n"
    "{\n\tret;\n}\n"
    ".visible .entry small(\n"
    "\t.param .u64 small_param_0\n"
    ") .maxntid 128, 1, 1\n"
    "{\n\tret;\n}\n"
    ".visible .entry noargs()\n"
    "{\n\tret;\n}\n";

/* A module whose kernels report no faults. */
static const char ptx_nofault[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry one(\n\t.param .u64 one_param_0\n)\n{\n\tret;\n}\n";

/* The fake's test controls (see fake_cuda.c). */
static long (*fake_live)(const char *what);
static long (*fake_last_launch)(unsigned dims[7], void **stream, void *params, size_t cap,
                                size_t *size, char *name, size_t name_cap);
static void (*fake_fault_next_launch)(int fault, int site);
static void *fake_lib;

static bool open_fake(void)
{
    const char *path = getenv("EMBER_CUDA_DRIVER");
    if (!path || !(fake_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        return false;
    fake_live = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_live");
    fake_last_launch = (long (*)(unsigned *, void **, void *, size_t, size_t *, char *,
                                 size_t))dlsym(fake_lib, "fake_cuda_last_launch");
    fake_fault_next_launch = (void (*)(int, int))dlsym(fake_lib, "fake_cuda_fault_next_launch");
    return fake_live && fake_last_launch && fake_fault_next_launch;
}

static long launches(void) { return fake_last_launch(NULL, NULL, NULL, 0, NULL, NULL, 0); }

static bool driver_clean(void)
{
    long mods = fake_live("module"), mem = fake_live("mem"), str = fake_live("stream");
    if (mods || mem || str) {
        fprintf(stderr, "driver objects left: module %ld mem %ld stream %ld\n", mods, mem, str);
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

static bool contains(const char *s, const char *part)
{
    if (!strstr(s, part)) {
        fprintf(stderr, "  '%s' not in: %s\n", part, s);
        return false;
    }
    return true;
}

/* ---- load, look up, launch ----------------------------------------------- */

static void test_load_and_launch(void)
{
    ember_device_t dev = cuda0();
    ember_module_t m = NULL;
    CHECK_OK(ember_module_load_ptx(dev, ptx_main, &m));
    CHECK(ember_module_device(m) == dev);
    CHECK(fake_live("module") == 1);

    ember_kernel_t k = NULL, again = NULL, small = NULL, noargs = NULL;
    CHECK_OK(ember_module_get_kernel(m, "saxpy", &k));
    CHECK_OK(ember_module_get_kernel(m, "saxpy", &again));
    CHECK(k && k == again); /* one handle per name */
    CHECK(strcmp(ember_kernel_name(k), "saxpy") == 0);
    CHECK(ember_kernel_max_threads(k) == 1024);
    CHECK_OK(ember_module_get_kernel(m, "small", &small));
    CHECK(ember_kernel_max_threads(small) == 128);
    CHECK_OK(ember_module_get_kernel(m, "noargs", &noargs));

    /* saxpy(a: float64, x: 1-d array) packed: a, x.data, x.shape[0], x.strides[0]. */
    uint64_t args[4];
    double a = 2.5;
    memcpy(&args[0], &a, 8);
    args[1] = 0x7e0000001000ull;
    args[2] = 1000;
    args[3] = 8;
    uint32_t grid[3] = {4, 2, 1}, block[3] = {128, 2, 1};
    long before = launches();
    CHECK_OK(ember_kernel_launch(k, grid, block, 256, NULL, args, sizeof args));
    unsigned dims[7];
    void *stream = (void *)1;
    uint64_t params[8] = {0};
    size_t size = 0;
    char name[64];
    CHECK(fake_last_launch(dims, &stream, params, sizeof params, &size, name, sizeof name) ==
          before + 1);
    CHECK(dims[0] == 4 && dims[1] == 2 && dims[2] == 1);
    CHECK(dims[3] == 128 && dims[4] == 2 && dims[5] == 1);
    CHECK(dims[6] == 256);
    CHECK(stream == NULL); /* the default stream */
    CHECK(size == sizeof args && memcmp(params, args, sizeof args) == 0);
    CHECK(strcmp(name, "saxpy") == 0);

    /* On a stream of the device; no parameters. */
    ember_stream_t s = NULL;
    CHECK_OK(ember_stream_create(dev, &s));
    uint32_t one[3] = {1, 1, 1};
    CHECK_OK(ember_kernel_launch(noargs, one, one, 0, s, NULL, 0));
    CHECK(fake_last_launch(dims, &stream, NULL, 0, &size, name, sizeof name) == before + 2);
    CHECK(stream != NULL && size == 0 && strcmp(name, "noargs") == 0);
    CHECK_OK(ember_stream_synchronize(dev, s));

    /* The driver's own check: 2 slots for a kernel of 4 parameters. The
     * failure names the call and the CUresult, for CudaAPIError. */
    CHECK_STATUS(ember_kernel_launch(k, grid, block, 0, NULL, args, 16), EMBER_ERR_DRIVER);
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_INVALID_VALUE") == 0);
    CHECK(contains(ember_last_error(), "launching 'saxpy' on cuda:0: cuLaunchKernel failed: "
                                       "CUDA_ERROR_INVALID_VALUE"));

    /* Occupancy: the fake fills 132 SMs of 2048 threads. */
    int bs = 0, mg = 0;
    CHECK_OK(ember_kernel_max_block_size(k, 0, &bs, &mg));
    CHECK(bs == 1024 && mg == 264);
    CHECK_OK(ember_kernel_max_block_size(small, 1024, &bs, NULL));
    CHECK(bs == 128);

    ember_stream_destroy(s);
    ember_module_destroy(m);
    CHECK(driver_clean());
    ember_module_destroy(NULL);
}

/* ---- cooperative launches (grid.sync) -------------------------------------- */

/* A module with the grid barrier word: its kernels are launched with
 * cuLaunchCooperativeKernel, after the co-residency check (the fake: at most
 * 2048 threads and 32 blocks per SM, 132 SMs). */
static const char ptx_grid[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .global .align 4 .u32 ember_grid_barrier;\n"
    ".visible .entry rows(\n\t.param .u64 rows_param_0,\n\t.param .u64 rows_param_1\n)\n"
    "{\n\tret;\n}\n";

static void test_cooperative(void)
{
    int (*cooperative)(void) = (int (*)(void))dlsym(fake_lib,
                                                    "fake_cuda_last_launch_cooperative");
    CHECK(cooperative != NULL);
    ember_device_t dev = cuda0();
    ember_module_t m = NULL, plain = NULL;
    ember_kernel_t k = NULL, one = NULL;
    CHECK_OK(ember_module_load_ptx(dev, ptx_grid, &m));
    CHECK_OK(ember_module_get_kernel(m, "rows", &k));
    CHECK(ember_kernel_cooperative(k));
    CHECK_OK(ember_module_load_ptx(dev, ptx_nofault, &plain));
    CHECK_OK(ember_module_get_kernel(plain, "one", &one));
    CHECK(!ember_kernel_cooperative(one) && !ember_kernel_cooperative(NULL));

    int64_t most = 0;
    uint32_t b32[3] = {32, 1, 1}, b256[3] = {16, 4, 4};
    CHECK_OK(ember_kernel_max_cooperative_blocks(k, b32, 0, &most));
    CHECK(most == 32 * 132);
    CHECK_OK(ember_kernel_max_cooperative_blocks(k, b256, 0, &most));
    CHECK(most == 8 * 132);
    CHECK_STATUS(ember_kernel_max_cooperative_blocks(k, NULL, 0, &most), EMBER_ERR_INVALID_ARG);

    uint64_t args[2] = {0x7e0000002000ull, 7};
    uint32_t grid[3] = {33, 4, 1};
    long before = launches();
    CHECK_OK(ember_kernel_launch(k, grid, b256, 0, NULL, args, sizeof args));
    uint64_t params[2] = {0};
    size_t size = 0;
    CHECK(fake_last_launch(NULL, NULL, params, sizeof params, &size, NULL, 0) == before + 1);
    CHECK(cooperative() == 1 && size == sizeof args && memcmp(params, args, sizeof args) == 0);

    /* one block more than fits: refused before the driver, naming the limit */
    uint32_t big[3] = {8 * 132 + 1, 1, 1};
    CHECK_STATUS(ember_kernel_launch(k, big, b256, 0, NULL, args, sizeof args),
                 EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "a grid of 1057 blocks") &&
          contains(ember_last_error(), "at most 1056 blocks of 256 threads") &&
          contains(ember_last_error(), "8 per multiprocessor x 132 multiprocessors"));
    CHECK(launches() == before + 1);

    uint32_t unit[3] = {1, 1, 1};
    CHECK_OK(ember_kernel_launch(one, unit, unit, 0, NULL, args, 8));
    CHECK(cooperative() == 0);
    ember_module_destroy(plain);
    ember_module_destroy(m);
    CHECK(driver_clean());
}

/* ---- errors ----------------------------------------------------------------- */

static void test_load_errors(void)
{
    ember_device_t dev = cuda0();
    ember_module_t m = (ember_module_t)1;
    CHECK_STATUS(ember_module_load_ptx(dev, ".version 8.0\n.target sm_90\n// no kernels\n", &m),
                 EMBER_ERR_DRIVER);
    CHECK(m == (ember_module_t)1); /* untouched */
    CHECK(ember_last_driver_error() == 218);
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_INVALID_PTX") == 0);
    const char *e = ember_last_error();
    CHECK(contains(e, "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX"));
    CHECK(contains(e, "PTX JIT error log:\nptxas application ptx input, line 1; fatal   : "
                      "fake_cuda JIT: no .entry directive in this PTX"));
    CHECK(fake_live("module") == 0);

    CHECK_OK(ember_module_load_ptx(dev, ptx_main, &m));
    ember_kernel_t k = (ember_kernel_t)1;
    CHECK_STATUS(ember_module_get_kernel(m, "saxpyy", &k), EMBER_ERR_NOT_FOUND);
    CHECK(k == (ember_kernel_t)1);
    CHECK(contains(ember_last_error(), "no kernel named 'saxpyy'"));
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_NOT_FOUND") == 0);
    /* A prefix of a kernel's name is not that kernel. */
    CHECK_STATUS(ember_module_get_kernel(m, "sax", &k), EMBER_ERR_NOT_FOUND);
    ember_module_destroy(m);

    /* The cpu device runs kernels through the host JIT, not from PTX. */
    ember_device_t cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_STATUS(ember_module_load_ptx(cpu, ptx_main, &m), EMBER_ERR_NOT_SUPPORTED);
    CHECK(contains(ember_last_error(), "does not load device code"));

    CHECK_STATUS(ember_module_load_ptx(NULL, ptx_main, &m), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_load_ptx(dev, NULL, &m), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_get_kernel(NULL, "x", &k), EMBER_ERR_INVALID_ARG);
    CHECK(driver_clean());
}

/* Every configuration the device or kernel cannot run is refused by ember,
 * naming the limit, and never reaches the driver. */
static void test_bad_configs(void)
{
    ember_device_t dev = cuda0(), cpu;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    ember_module_t m;
    ember_kernel_t k, small;
    CHECK_OK(ember_module_load_ptx(dev, ptx_main, &m));
    CHECK_OK(ember_module_get_kernel(m, "saxpy", &k));
    CHECK_OK(ember_module_get_kernel(m, "small", &small));
    uint64_t args[4] = {0}, big[4100] = {0};
    long before = launches();
    static const struct {
        uint32_t grid[3], block[3];
        size_t shared, args_size;
        const char *says;
    } bad[] = {
        {{0, 1, 1}, {32, 1, 1}, 0, 32, "grid dimension x is 0"},
        {{1, 1, 1}, {32, 0, 1}, 0, 32, "block dimension y is 0"},
        {{1, 1, 1}, {2048, 1, 1}, 0, 32, "block dimension x is 2048, above the device's limit of 1024"},
        {{1, 1, 1}, {1, 1, 65}, 0, 32, "block dimension z is 65, above the device's limit of 64"},
        {{1, 65536, 1}, {32, 1, 1}, 0, 32, "grid dimension y is 65536, above the device's limit of 65535"},
        {{1, 1, 70000}, {32, 1, 1}, 0, 32, "grid dimension z is 70000"},
        {{1, 1, 1}, {32, 32, 2}, 0, 32, "32 x 32 x 2 = 2048 threads, above the device's limit of 1024"},
        {{1, 1, 1}, {32, 1, 1}, 228 * 1024, 32, "233472 bytes of dynamic shared memory"},
        {{1, 1, 1}, {32, 1, 1}, 0, 12, "12 bytes, not a multiple of 8"},
        {{1, 1, 1}, {32, 1, 1}, 0, 32768, "above the 32764 bytes of kernel parameter space"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const void *a = bad[i].args_size > sizeof args ? (const void *)big : args;
        CHECK_STATUS(ember_kernel_launch(k, bad[i].grid, bad[i].block, bad[i].shared, NULL, a,
                                         bad[i].args_size),
                     EMBER_ERR_INVALID_ARG);
        CHECK(contains(ember_last_error(), bad[i].says));
        CHECK(contains(ember_last_error(), "launching 'saxpy'"));
    }
    uint32_t one[3] = {1, 1, 1}, b256[3] = {256, 1, 1};
    CHECK_STATUS(ember_kernel_launch(small, one, b256, 0, NULL, args, 8), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "this kernel can run at most 128 threads per block"));
    CHECK_STATUS(ember_kernel_launch(k, one, one, 0, NULL, NULL, 32), EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "args is NULL"));
    CHECK_STATUS(ember_kernel_launch(k, NULL, one, 0, NULL, args, 32), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_kernel_launch(NULL, one, one, 0, NULL, args, 32), EMBER_ERR_INVALID_ARG);
    /* A stream of another device. */
    ember_stream_t cs;
    CHECK_OK(ember_stream_create(cpu, &cs));
    CHECK_STATUS(ember_kernel_launch(k, one, one, 0, cs, args, 32), EMBER_ERR_DEVICE_MISMATCH);
    ember_stream_destroy(cs);
    CHECK(launches() == before); /* none reached the driver */

    /* Static shared memory counts against the same per-block limit: the
     * opt-in one (227 KiB here), which the kernel is opted in to when the
     * launch needs more than the default 48 KiB. */
    ember_module_t sm;
    ember_kernel_t sk;
    CHECK_OK(ember_module_load_ptx(dev,
                                   ".shared .align 8 .b8 tile[40000];\n"
                                   ".visible .entry uses_tile(\n\t.param .u64 p\n)\n"
                                   "{\n\tld.shared.u64 %rd1, [tile];\n\tret;\n}\n", &sm));
    CHECK_OK(ember_module_get_kernel(sm, "uses_tile", &sk));
    CHECK_STATUS(ember_kernel_launch(sk, one, one, 200000, NULL, args, 8),
                 EMBER_ERR_INVALID_ARG);
    CHECK(contains(ember_last_error(), "200000 bytes of dynamic shared memory plus the kernel's "
                                       "40000 static bytes are above the device's 232448"));
    CHECK(launches() == before);
    CHECK_OK(ember_kernel_launch(sk, one, one, 9152, NULL, args, 8));
    CHECK_OK(ember_kernel_launch(sk, one, one, 232448 - 40000, NULL, args, 8)); /* opted in */
    ember_module_destroy(sm);
    before += 2;

    /* The limits themselves are allowed. */
    uint32_t gmax[3] = {2147483647u, 65535, 65535}, bmax[3] = {1024, 1, 1}, bz[3] = {1, 16, 64};
    CHECK_OK(ember_kernel_launch(k, gmax, bmax, 48 * 1024, NULL, args, sizeof args));
    CHECK_OK(ember_kernel_launch(k, one, bz, 0, NULL, args, sizeof args));
    uint32_t b128[3] = {128, 1, 1};
    CHECK_OK(ember_kernel_launch(small, one, b128, 0, NULL, args, 8));
    CHECK(launches() == before + 3);
    ember_module_destroy(m);
    CHECK(driver_clean());
}

/* ---- the fault record ------------------------------------------------------ */

static void test_fault_record(void)
{
    ember_device_t dev = cuda0();
    ember_module_t m, plain;
    ember_kernel_t k, one_k;
    CHECK_OK(ember_module_load_ptx(dev, ptx_main, &m));
    CHECK_OK(ember_module_get_kernel(m, "small", &k));
    int32_t fault = -1, site = -1;
    CHECK_OK(ember_module_take_fault(m, &fault, &site));
    CHECK(fault == 0 && site == 0); /* zero-initialised */

    uint64_t arg = 0;
    uint32_t one[3] = {1, 1, 1};
    fake_fault_next_launch(2, 7); /* an index out of bounds at check 7 */
    CHECK_OK(ember_kernel_launch(k, one, one, 0, NULL, &arg, 8));
    CHECK_OK(ember_device_synchronize(dev));
    CHECK_OK(ember_module_take_fault(m, &fault, &site));
    CHECK(fault == 2 && site == 7);
    CHECK_OK(ember_module_take_fault(m, &fault, &site)); /* cleared by the read */
    CHECK(fault == 0 && site == 0);

    /* A module without the global reports none and does not fail. */
    CHECK_OK(ember_module_load_ptx(dev, ptx_nofault, &plain));
    CHECK_OK(ember_module_get_kernel(plain, "one", &one_k));
    fake_fault_next_launch(1, 0);
    CHECK_OK(ember_kernel_launch(one_k, one, one, 0, NULL, &arg, 8));
    fault = site = -1;
    CHECK_OK(ember_module_take_fault(plain, &fault, &site));
    CHECK(fault == 0 && site == 0);
    CHECK_STATUS(ember_module_take_fault(NULL, &fault, &site), EMBER_ERR_INVALID_ARG);

    /* A global of the wrong size is refused at load. */
    ember_module_t odd = (ember_module_t)1;
    CHECK_STATUS(ember_module_load_ptx(dev,
                                       ".visible .global .align 4 .b8 ember_fault[4];\n"
                                       ".visible .entry z()\n{\n\tret;\n}\n", &odd),
                 EMBER_ERR_INVALID_ARG);
    CHECK(odd == (ember_module_t)1);
    CHECK(contains(ember_last_error(), "ember_fault has 4 bytes"));

    ember_module_destroy(plain);
    ember_module_destroy(m);
    CHECK(driver_clean());
}

/* ---- kernels looked up from several threads --------------------------------- */

enum { THREADS = 4, LOOKUPS = 200 };

struct lookup {
    ember_module_t module;
    ember_kernel_t got[3];
    ember_status status;
};

static void *lookup_many(void *arg)
{
    struct lookup *l = arg;
    static const char *const names[3] = {"saxpy", "small", "noargs"};
    for (int i = 0; i < LOOKUPS && l->status == EMBER_SUCCESS; i++) {
        ember_kernel_t k;
        l->status = ember_module_get_kernel(l->module, names[i % 3], &k);
        if (l->status == EMBER_SUCCESS && l->got[i % 3] && l->got[i % 3] != k)
            l->status = EMBER_ERR_INTERNAL; /* two handles for one name */
        l->got[i % 3] = k;
    }
    return NULL;
}

/* Every thread gets the same handle per name: the module's list is built
 * under its lock. */
static void test_threads(void)
{
    ember_module_t m;
    CHECK_OK(ember_module_load_ptx(cuda0(), ptx_main, &m));
    struct lookup l[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&l[i], 0, sizeof l[i]);
        l[i].module = m;
        CHECK(pthread_create(&t[i], NULL, lookup_many, &l[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_OK(l[i].status);
        for (int j = 0; j < 3; j++)
            CHECK(l[i].got[j] == l[0].got[j] && l[i].got[j] != NULL);
    }
    ember_module_destroy(m);
    CHECK(driver_clean());
}

/* ---- fault loops ------------------------------------------------------------ */

struct result {
    uint64_t params[4];
    int32_t fault, site;
    int block;
};

/* Loads, looks up, launches on a stream, reads the fault record and the
 * occupancy, unloads. *in_body: the armed fault fired before the teardown
 * (whose calls return nothing). */
static ember_status scenario(ember_fault_site site, struct result *res, bool *in_body)
{
    ember_status st;
    ember_device_t dev;
    ember_stream_t s = NULL;
    ember_module_t m = NULL;
    ember_kernel_t k;
    uint64_t args[4] = {11, 22, 33, 44};
    uint32_t grid[3] = {3, 1, 1}, block[3] = {64, 1, 1};

    if ((st = ember_device_get(EMBER_DEVICE_CUDA, 0, &dev)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(dev, &s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_load_ptx(dev, ptx_main, &m)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_get_kernel(m, "saxpy", &k)) != EMBER_SUCCESS) goto out;
    fake_fault_next_launch(2, 3);
    if ((st = ember_kernel_launch(k, grid, block, 0, s, args, sizeof args)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_synchronize(dev, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_take_fault(m, &res->fault, &res->site)) != EMBER_SUCCESS) goto out;
    if ((st = ember_kernel_max_block_size(k, 0, &res->block, NULL)) != EMBER_SUCCESS) goto out;
    fake_last_launch(NULL, NULL, res->params, sizeof res->params, NULL, NULL, 0);
out:
    *in_body = ember_fault_fired(site);
    ember_module_destroy(m);
    ember_stream_destroy(s);
    return st;
}

static int result_wrong(const struct result *res)
{
    return (res->params[0] != 11) + (res->params[3] != 44) + (res->fault != 2) +
           (res->site != 3) + (res->block != 1024);
}

static void fault_loop(ember_fault_site site)
{
    const char *what = site == EMBER_FAULT_DRIVER ? "driver" : "alloc";
    struct result res;
    bool in_body;
    memset(&res, 0, sizeof res);
    CHECK_OK(scenario(site, &res, &in_body));
    CHECK(result_wrong(&res) == 0);
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
        if (in_body) {
            body_faults++;
            CHECK(st != EMBER_SUCCESS);
            CHECK(ember_last_error()[0] != '\0');
            if (site == EMBER_FAULT_DRIVER) {
                CHECK(st == EMBER_ERR_DEVICE_OUT_OF_MEMORY);
                CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_OUT_OF_MEMORY") == 0);
            } else {
                CHECK(st == EMBER_ERR_OUT_OF_MEMORY);
            }
            if (check_failures)
                fprintf(stderr, "  at %s fault %ld: %s: %s\n", what, n,
                        ember_status_string(st), ember_last_error());
        } else {
            CHECK_OK(st); /* a teardown call failed, which cannot report it */
        }
        CHECK(driver_clean());
        memset(&res, 0, sizeof res);
        CHECK_OK(scenario(site, &res, &in_body)); /* still usable */
        CHECK(result_wrong(&res) == 0);
    }
    CHECK(body_faults >= (site == EMBER_FAULT_DRIVER ? 15 : 3));
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
    test_load_and_launch();
    test_cooperative();
    test_load_errors();
    test_bad_configs();
    test_fault_record();
    test_threads();
    fault_loop(EMBER_FAULT_DRIVER);
    fault_loop(EMBER_FAULT_ALLOC);
    ember_shutdown();
    CHECK(fake_live("module") == 0 && fake_live("ctx") == 0);
    dlclose(fake_lib);
    return check_report("test_cuda_module");
}
