/*
 * test_cuda_link.c — ember_module_load_linked: a kernel's PTX linked with
 * foreign device code by the driver's linker (devices/cuda/cuda_link.c),
 * against the stand-in driver (tests/fake_cuda) that ctest names in
 * EMBER_CUDA_DRIVER.
 *
 * The fake's linker resolves every `.extern .func` of the PTX inputs
 * against the definitions in all inputs (data or files) and fails like
 * nvlink otherwise, so these tests see the inputs reach the driver (and
 * ember_link_image return the linked image), the
 * linker's log in a link error, the input that failed named, bad arguments
 * refused before the driver is called, and SQLite-style fault loops (the
 * Nth driver call or host allocation fails) that end in a clean status
 * with no module and no link state left in the driver.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ember/ember_test.h"

/* A kernel calling the foreign function `twice` (numba's ABI). */
static const char ptx_kernel[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".extern .func  (.param .b32 func_retval0) twice\n"
    "(\n\t.param .b64 twice_param_0,\n\t.param .b32 twice_param_1\n);\n"
    ".visible .entry caller(\n\t.param .u64 caller_param_0\n)\n{\n\tret;\n}\n";

/* Its definition, as NVRTC writes it for a .cu file. */
static const char ptx_twice[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .func  (.param .b32 func_retval0) twice(\n"
    "\t.param .b64 twice_param_0,\n\t.param .b32 twice_param_1\n)\n{\n\tret;\n}\n";

static long (*fake_live)(const char *what);
static void *fake_lib;

static bool open_fake(void)
{
    const char *path = getenv("EMBER_CUDA_DRIVER");
    if (!path || !(fake_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        return false;
    fake_live = (long (*)(const char *))dlsym(fake_lib, "fake_cuda_live");
    return fake_live != NULL;
}

static bool driver_clean(void)
{
    long mods = fake_live("module"), links = fake_live("link");
    if (mods || links) {
        fprintf(stderr, "driver objects left: module %ld link %ld\n", mods, links);
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

static ember_device_t cuda0(void)
{
    ember_device_t d = NULL;
    CHECK_OK(ember_device_get(EMBER_DEVICE_CUDA, 0, &d));
    return d;
}

static char file_path[64];

static void test_link(void)
{
    ember_device_t dev = cuda0();
    ember_module_t m = NULL;
    ember_kernel_t k = NULL;
    ember_link_input data = {EMBER_LINK_PTX, ptx_twice, sizeof ptx_twice, "twice.ptx"};
    CHECK_OK(ember_module_load_linked(dev, ptx_kernel, &data, 1, &m));
    CHECK_OK(ember_module_get_kernel(m, "caller", &k));
    ember_module_destroy(m);
    CHECK(driver_clean());

    /* the same definition from a file (cuLinkAddFile) */
    ember_link_input file = {EMBER_LINK_PTX, NULL, 0, file_path};
    m = NULL;
    CHECK_OK(ember_module_load_linked(dev, ptx_kernel, &file, 1, &m));
    ember_module_destroy(m);

    /* nothing defines `twice`: the linker's log, no module */
    m = NULL;
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, NULL, 0, &m), EMBER_ERR_DRIVER);
    CHECK(m == NULL);
    CHECK(contains(ember_last_error(), "cuLinkComplete"));
    CHECK(contains(ember_last_error(), "Undefined reference to 'twice'"));
    CHECK(strcmp(ember_last_driver_error_name(), "CUDA_ERROR_INVALID_IMAGE") == 0);
    CHECK(driver_clean());

    /* a file that is not there: the input is named */
    ember_link_input missing = {EMBER_LINK_OBJECT, NULL, 0, "/nonexistent/foreign.o"};
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, &missing, 1, &m), EMBER_ERR_DRIVER);
    CHECK(contains(ember_last_error(), "cuLinkAddFile"));
    CHECK(contains(ember_last_error(), "object /nonexistent/foreign.o"));
    CHECK(driver_clean());
}

static void test_image(void)
{
    ember_device_t dev = cuda0(), cpu = NULL;
    ember_link_input in[2] = {{EMBER_LINK_PTX, ptx_kernel, sizeof ptx_kernel, "k.ptx"},
                              {EMBER_LINK_PTX, ptx_twice, sizeof ptx_twice, "twice.ptx"}};
    void *image = NULL;
    size_t size = 0;
    CHECK_OK(ember_link_image(dev, in, 2, &image, &size));
    /* the fake's image is its PTX inputs, in order */
    CHECK(image && size > 0 && contains(image, ".entry caller") && contains(image, "twice("));
    ember_link_image_free(image);
    ember_link_image_free(NULL);
    image = (void *)1;
    CHECK_STATUS(ember_link_image(dev, in, 1, &image, &size), EMBER_ERR_DRIVER);
    CHECK(image == NULL && contains(ember_last_error(), "Undefined reference to 'twice'"));
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_STATUS(ember_link_image(cpu, in, 2, &image, &size), EMBER_ERR_NOT_SUPPORTED);
    CHECK_STATUS(ember_link_image(dev, NULL, 1, &image, &size), EMBER_ERR_INVALID_ARG);
    CHECK(driver_clean());
}

static void test_bad_arguments(void)
{
    ember_device_t dev = cuda0(), cpu = NULL;
    ember_module_t m = NULL;
    ember_link_input bad_kind = {(ember_link_kind)9, ptx_twice, sizeof ptx_twice, "x"};
    ember_link_input no_name = {EMBER_LINK_PTX, ptx_twice, sizeof ptx_twice, NULL};
    ember_link_input no_size = {EMBER_LINK_PTX, ptx_twice, 0, "x"};
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, &bad_kind, 1, &m),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, &no_name, 1, &m),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, &no_size, 1, &m),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_load_linked(dev, ptx_kernel, NULL, 1, &m), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_module_load_linked(dev, NULL, NULL, 0, &m), EMBER_ERR_INVALID_ARG);
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    CHECK_STATUS(ember_module_load_linked(cpu, ptx_kernel, NULL, 0, &m), EMBER_ERR_NOT_SUPPORTED);
    CHECK(m == NULL);
    CHECK(driver_clean());
}

static ember_status scenario(void)
{
    ember_device_t dev;
    ember_module_t m = NULL;
    ember_kernel_t k;
    ember_link_input in[2] = {{EMBER_LINK_PTX, ptx_twice, sizeof ptx_twice, "twice.ptx"},
                              {EMBER_LINK_PTX, NULL, 0, file_path}};
    ember_status st;
    if ((st = ember_device_get(EMBER_DEVICE_CUDA, 0, &dev)) != EMBER_SUCCESS) goto out;
    if ((st = ember_module_load_linked(dev, ptx_kernel, in, 2, &m)) != EMBER_SUCCESS) goto out;
    st = ember_module_get_kernel(m, "caller", &k);
out:
    ember_module_destroy(m);
    return st;
}

static void fault_loop(ember_fault_site site)
{
    const char *what = site == EMBER_FAULT_DRIVER ? "driver" : "alloc";
    CHECK_OK(scenario());
    int faults = 0;
    for (long n = 1; n < 10000; n++) {
        ember_clear_error();
        ember_fault_fail_at(site, n);
        ember_status st = scenario();
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(st);
            fprintf(stderr, "%s fault loop: %ld fault points\n", what, n - 1);
            break;
        }
        faults++;
        if (st != EMBER_SUCCESS)
            CHECK(ember_last_error()[0] != '\0');
        CHECK(driver_clean());
        CHECK_OK(scenario()); /* still usable */
    }
    CHECK(faults >= (site == EMBER_FAULT_DRIVER ? 6 : 1));
}

int main(void)
{
    setenv("FAKE_CUDA_DEVICES", "1", 1);
    unsetenv("FAKE_CUDA_INIT_ERROR");
    unsetenv("EMBER_DEVICE");
    CHECK_OK(ember_init());
    if (!open_fake()) {
        fprintf(stderr, "cannot open the fake driver named by EMBER_CUDA_DRIVER\n");
        return 1;
    }
    snprintf(file_path, sizeof file_path, "/tmp/ember-test-link-%ld.ptx", (long)getpid());
    FILE *f = fopen(file_path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(ptx_twice, f);
        fclose(f);
    }
    test_link();
    test_image();
    test_bad_arguments();
    fault_loop(EMBER_FAULT_DRIVER);
    fault_loop(EMBER_FAULT_ALLOC);
    unlink(file_path);
    ember_shutdown();
    CHECK(fake_live("module") == 0 && fake_live("link") == 0);
    dlclose(fake_lib);
    return check_report("test_cuda_link");
}
