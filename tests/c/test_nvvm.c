/*
 * test_nvvm.c — NVVM IR to PTX with libNVVM (devices/cuda/nvvm.c).
 *
 * Run plainly, it compiles a small hand-written kernel (thread index,
 * libdevice's __nv_sinf, a store to global memory) for compute 8.0 and 9.0,
 * checks the errors for rejected IR and options, fails every host
 * allocation and NVVM call of a compilation in turn (each must fail cleanly,
 * leak nothing, and leave the next compilation working), and compiles from
 * two threads at once. Without libNVVM it exits 77, which ctest reports as
 * skipped, after printing where it looked.
 *
 * Run with --not-found (ctest sets EMBER_NVVM to a path that does not
 * exist), it checks the error when libNVVM cannot be found.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devices/cuda/nvvm.h"
#include "ember/ember_test.h"

/* A kernel out[tid.x] = sinf(tid.x / scale) in typed-pointer NVVM IR;
 * %d %d is the NVVM IR version. */
static const char kernel_fmt[] =
    "target datalayout = \"e-p:64:64:64-i1:8:8-i8:8:8-i16:16:16-i32:32:32-i64:64:64-"
    "i128:128:128-f32:32:32-f64:64:64-v16:16:16-v32:32:32-v64:64:64-v128:128:128-n16:32:64\"\n"
    "target triple = \"nvptx64-nvidia-cuda\"\n"
    "declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()\n"
    "declare float @__nv_sinf(float)\n"
    "define void @ember_c_sin(float addrspace(1)* %%out, float %%scale) {\n"
    "  %%tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()\n"
    "  %%x = uitofp i32 %%tid to float\n"
    "  %%xs = fdiv float %%x, %%scale\n"
    "  %%s = call float @__nv_sinf(float %%xs)\n"
    "  %%i = zext i32 %%tid to i64\n"
    "  %%p = getelementptr float, float addrspace(1)* %%out, i64 %%i\n"
    "  store float %%s, float addrspace(1)* %%p, align 4\n"
    "  ret void\n"
    "}\n"
    "!nvvm.annotations = !{!0}\n"
    "!0 = !{void (float addrspace(1)*, float)* @ember_c_sin, !\"kernel\", i32 1}\n"
    "!nvvmir.version = !{!1}\n"
    "!1 = !{i32 %d, i32 %d}\n";

static char kernel[4096];

static NvvmOptions target(int major, int minor)
{
    NvvmOptions o = {.cc_major = major, .cc_minor = minor, .opt_level = 3};
    return o;
}

static void check_ptx(const char *ptx, const char *sm)
{
    CHECK(ptx != NULL);
    if (!ptx)
        return;
    CHECK(strstr(ptx, ".entry ember_c_sin") != NULL);
    CHECK(strstr(ptx, sm) != NULL);
    CHECK(strstr(ptx, "%tid.x") != NULL);
}

static void test_compile(void)
{
    char *ptx = NULL;
    NvvmOptions o = target(8, 0);
    CHECK_OK(nvvm_compile(kernel, strlen(kernel), &o, &ptx));
    check_ptx(ptx, ".target sm_80");
    CHECK(ptx && strstr(ptx, "div.rn.f32") != NULL); /* IEEE division without fastmath */
    em_free(ptx);

    o = target(9, 0);
    o.fastmath = true;
    ptx = NULL;
    CHECK_OK(nvvm_compile(kernel, strlen(kernel), &o, &ptx));
    check_ptx(ptx, ".target sm_90");
    CHECK(ptx && strstr(ptx, "div.rn.f32") == NULL && strstr(ptx, ".ftz.f32") != NULL);
    em_free(ptx);

    /* Debug info needs opt_level 0; with it, it compiles. */
    o = target(9, 0);
    o.debug = true;
    ptx = (char *)"untouched";
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK(ptx == NULL);
    CHECK(strstr(ember_last_error(), "opt_level 0") != NULL);
    o.opt_level = 0;
    o.lineinfo = true;
    CHECK_OK(nvvm_compile(kernel, strlen(kernel), &o, &ptx));
    check_ptx(ptx, ".target sm_90");
    em_free(ptx);
}

static void test_errors(void)
{
    char *ptx = NULL;
    NvvmOptions o = target(9, 0);

    /* Opaque pointers are newer than NVVM's LLVM 7 dialect. */
    static const char opaque[] = "define void @k(ptr addrspace(1) %p) {\n  ret void\n}\n";
    CHECK_STATUS(nvvm_compile(opaque, strlen(opaque), &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK(ptx == NULL);
    CHECK(strstr(ember_last_error(), "NVVM rejected the IR") != NULL);
    CHECK(strstr(ember_last_error(), "parse expected type") != NULL); /* NVVM's log */

    static const char garbage[] = "this is not IR";
    CHECK_STATUS(nvvm_compile(garbage, sizeof garbage - 1, &o, &ptx), EMBER_ERR_INVALID_ARG);

    /* A target NVVM does not know: its log names the option. */
    o = target(9, 9);
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "compute_99") != NULL);

    o = target(0, 0);
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), &o, &ptx), EMBER_ERR_INVALID_ARG);
    o = target(9, 0);
    o.opt_level = 1; /* NVVM takes 1 and 2 too, but documents only 0 and 3 */
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "opt_level must be 0 or 3") != NULL);
    o = target(9, 0);
    CHECK_STATUS(nvvm_compile(NULL, 10, &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(nvvm_compile(kernel, 0, &o, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), NULL, &ptx), EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(nvvm_compile(kernel, strlen(kernel), &o, NULL), EMBER_ERR_INVALID_ARG);
}

/* Fails the n-th call at `site` for n = 1, 2, ... until a compilation
 * succeeds; each failure must be a status with a message and no PTX. */
static void fault_loop(ember_fault_site site, ember_status expected)
{
    NvvmOptions o = target(8, 0);
    int failures = 0;
    for (long n = 1; n < 100; n++) {
        char *ptx = NULL;
        ember_clear_error();
        ember_fault_fail_at(site, n);
        ember_status s = nvvm_compile(kernel, strlen(kernel), &o, &ptx);
        bool fired = ember_fault_fired(site);
        ember_fault_fail_at(site, 0);
        if (!fired) {
            CHECK_OK(s);
            check_ptx(ptx, ".target sm_80");
            em_free(ptx);
            break;
        }
        failures++;
        CHECK_STATUS(s, expected);
        CHECK(ptx == NULL);
        CHECK(ember_last_error()[0] != '\0');
    }
    CHECK(failures > 0);
    fprintf(stderr, "fault loop on site %d: %d failure points\n", (int)site, failures);
}

static void *compile_thread(void *arg)
{
    int *ok = arg;
    NvvmOptions o = target(9, 0);
    for (int i = 0; i < 3; i++) {
        char *ptx = NULL;
        ember_status s = nvvm_compile(kernel, strlen(kernel), &o, &ptx);
        *ok += s == EMBER_SUCCESS && ptx && strstr(ptx, ".entry ember_c_sin");
        em_free(ptx);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[2];
    int ok[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, compile_thread, &ok[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(ok[0] == 3 && ok[1] == 3);
}

static int not_found(void)
{
    const char *env = getenv("EMBER_NVVM");
    CHECK(env && strncmp(env, "/nonexistent", 12) == 0);
    int major = -1;
    ember_clear_error();
    CHECK_STATUS(nvvm_version(&major, NULL, NULL, NULL, NULL, NULL), EMBER_ERR_NO_DRIVER);
    CHECK(major == -1);
    fprintf(stderr, "libNVVM not found: %s\n", ember_last_error());
    CHECK(strstr(ember_last_error(), "libNVVM not found") != NULL);
    CHECK(env && strstr(ember_last_error(), env) != NULL);
    /* Only the override is tried, not the toolkit's places. */
    CHECK(strstr(ember_last_error(), "/usr/local/cuda") == NULL);

    char *ptx = (char *)"untouched";
    NvvmOptions o = target(9, 0);
    static const char ir[] = "; nothing";
    CHECK_STATUS(nvvm_compile(ir, sizeof ir - 1, &o, &ptx), EMBER_ERR_NO_DRIVER);
    CHECK(ptx == NULL);
    CHECK(strstr(ember_last_error(), "libNVVM not found") != NULL);
    CHECK(nvvm_library_path() == NULL && nvvm_libdevice_path() == NULL);
    return check_report("test_nvvm --not-found");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--not-found") == 0)
        return not_found();

    int v[6];
    if (nvvm_version(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != EMBER_SUCCESS) {
        printf("SKIP: no libNVVM here: %s\n", ember_last_error());
        return 77;
    }
    printf("libNVVM %d.%d (NVVM IR %d.%d, debug %d.%d) at %s, libdevice at %s\n", v[0], v[1],
           v[2], v[3], v[4], v[5], nvvm_library_path(),
           nvvm_libdevice_path() ? nvvm_libdevice_path() : "(not found)");
    CHECK(nvvm_library_path() != NULL && strstr(nvvm_library_path(), "libnvvm.so") != NULL);
    CHECK(nvvm_libdevice_path() != NULL &&
          strstr(nvvm_libdevice_path(), "libdevice.10.bc") != NULL);
    snprintf(kernel, sizeof kernel, kernel_fmt, v[2], v[3]);

    test_compile();
    test_errors();
    fault_loop(EMBER_FAULT_ALLOC, EMBER_ERR_OUT_OF_MEMORY);
    fault_loop(EMBER_FAULT_DRIVER, EMBER_ERR_OUT_OF_MEMORY);
    test_threads();
    return check_report("test_nvvm");
}
