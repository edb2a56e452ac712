/*
 * cuda_driver.c — finding and opening the CUDA driver at run time, and
 * turning its results into ember statuses.
 *
 * ember must build and run where CUDA is absent, so libcuda.so.1 is opened
 * with dlopen and each entry point looked up with dlsym into `cuda_drv`
 * (cuda_driver.h). Where it looks: only $EMBER_CUDA_DRIVER when that is set
 * (the tests point it at a stand-in driver, or at a path that does not
 * exist); otherwise libcuda.so.1 through the dynamic linker's search path,
 * then the places distributions and containers put it. A toolkit "stubs/"
 * libcuda is never loaded: it exists only to link against and fails every
 * call. When nothing loads, the reason names every place tried, so that
 * `cuda.detect()` can tell a user what to fix.
 *
 * The driver stays mapped after cuda_driver_unload (RTLD_NODELETE): once
 * cuInit has run, libcuda owns helper threads and thread-exit hooks that
 * point into its code, and unmapping it under them crashes the process (for
 * the same reason no CUDA runtime ever unloads it). Unloading forgets the
 * table; a later load gets the same mapping back.
 */
#define _GNU_SOURCE /* dlinfo */
#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

#include "devices/cuda/cuda_driver.h"

struct cuda_driver cuda_drv;

/* Where the driver is looked for when EMBER_CUDA_DRIVER is not set, in
 * order. The bare soname goes through the dynamic linker (LD_LIBRARY_PATH,
 * ld.so.cache); the rest are the usual homes of the driver's copy in
 * distributions, NVIDIA's container runtime and WSL. */
static const char *const default_places[] = {
    "libcuda.so.1",
    "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    "/usr/lib64/libcuda.so.1",
    "/usr/local/nvidia/lib64/libcuda.so.1",
    "/usr/lib/wsl/lib/libcuda.so.1",
#if defined(__aarch64__)
    "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
#endif
};

#define SYM(field, symbol) {offsetof(struct cuda_driver, field), symbol, NULL}
#define SYM_OR(field, symbol, fallback) {offsetof(struct cuda_driver, field), symbol, fallback}

/* Every entry point, by the symbol the driver exports for it: the versioned
 * name where cuda.h maps the API name to one. */
static const struct {
    size_t offset;        /* of the field in struct cuda_driver */
    const char *symbol;   /* tried first */
    const char *fallback; /* tried when the driver predates `symbol`, or NULL */
} symbols[] = {
    SYM(cuGetErrorName, "cuGetErrorName"),
    SYM(cuGetErrorString, "cuGetErrorString"),
    SYM(cuInit, "cuInit"),
    SYM(cuDriverGetVersion, "cuDriverGetVersion"),
    SYM(cuDeviceGetCount, "cuDeviceGetCount"),
    SYM(cuDeviceGet, "cuDeviceGet"),
    SYM(cuDeviceGetName, "cuDeviceGetName"),
    SYM(cuDeviceGetAttribute, "cuDeviceGetAttribute"),
    SYM(cuDeviceGetPCIBusId, "cuDeviceGetPCIBusId"),
    SYM(cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
    SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    SYM(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    SYM(cuCtxSetCurrent, "cuCtxSetCurrent"),
    SYM(cuCtxSynchronize, "cuCtxSynchronize"),
    /* modules and launches (cuda_module.c) */
    SYM(cuModuleLoadDataEx, "cuModuleLoadDataEx"),
    SYM(cuModuleUnload, "cuModuleUnload"),
    SYM(cuModuleGetFunction, "cuModuleGetFunction"),
    SYM(cuModuleGetGlobal, "cuModuleGetGlobal_v2"),
    SYM(cuLaunchKernel, "cuLaunchKernel"),
    SYM(cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel"),
    SYM(cuOccupancyMaxActiveBlocksPerMultiprocessor,
        "cuOccupancyMaxActiveBlocksPerMultiprocessor"),
    SYM(cuFuncGetAttribute, "cuFuncGetAttribute"),
    SYM(cuFuncSetAttribute, "cuFuncSetAttribute"),
    SYM_OR(cuStreamBeginCapture, "cuStreamBeginCapture_v2", "cuStreamBeginCapture"),
    SYM(cuStreamEndCapture, "cuStreamEndCapture"),
    SYM(cuGraphGetNodes, "cuGraphGetNodes"),
    SYM(cuGraphInstantiate, "cuGraphInstantiateWithFlags"),
    SYM(cuGraphLaunch, "cuGraphLaunch"),
    SYM(cuGraphExecDestroy, "cuGraphExecDestroy"),
    SYM(cuGraphDestroy, "cuGraphDestroy"),
    SYM(cuOccupancyMaxPotentialBlockSize, "cuOccupancyMaxPotentialBlockSize"),
    /* the linker (cuda_link.c) */
    SYM(cuLinkCreate, "cuLinkCreate_v2"),
    SYM(cuLinkAddData, "cuLinkAddData_v2"),
    SYM(cuLinkAddFile, "cuLinkAddFile_v2"),
    SYM(cuLinkComplete, "cuLinkComplete"),
    SYM(cuLinkDestroy, "cuLinkDestroy"),
    /* memory */
    SYM(cuMemGetInfo, "cuMemGetInfo_v2"),
    SYM(cuMemAlloc, "cuMemAlloc_v2"),
    SYM(cuMemAllocManaged, "cuMemAllocManaged"),
    SYM(cuProfilerStart, "cuProfilerStart"),
    SYM(cuProfilerStop, "cuProfilerStop"),
    SYM(cuMemFree, "cuMemFree_v2"),
    SYM(cuMemHostAlloc, "cuMemHostAlloc"),
    SYM(cuMemFreeHost, "cuMemFreeHost"),
    SYM(cuMemHostGetDevicePointer, "cuMemHostGetDevicePointer_v2"),
    SYM_OR(cuMemHostRegister, "cuMemHostRegister_v2", "cuMemHostRegister"),
    SYM(cuMemHostUnregister, "cuMemHostUnregister"),
    SYM(cuMemGetAddressRange, "cuMemGetAddressRange_v2"),
    SYM(cuIpcGetMemHandle, "cuIpcGetMemHandle"),
    SYM_OR(cuIpcOpenMemHandle, "cuIpcOpenMemHandle_v2", "cuIpcOpenMemHandle"),
    SYM(cuIpcCloseMemHandle, "cuIpcCloseMemHandle"),
    SYM(cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
    SYM(cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
    SYM(cuMemcpyDtoD, "cuMemcpyDtoD_v2"),
    SYM(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    SYM(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    SYM(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    SYM(cuMemsetD8, "cuMemsetD8_v2"),
    SYM(cuMemsetD8Async, "cuMemsetD8Async"),
    SYM(cuStreamCreate, "cuStreamCreate"),
    SYM(cuStreamDestroy, "cuStreamDestroy_v2"),
    SYM(cuStreamSynchronize, "cuStreamSynchronize"),
    SYM(cuStreamQuery, "cuStreamQuery"),
    SYM(cuStreamWaitEvent, "cuStreamWaitEvent"),
    SYM(cuEventCreate, "cuEventCreate"),
    SYM(cuEventDestroy, "cuEventDestroy_v2"),
    SYM(cuEventRecord, "cuEventRecord"),
    SYM(cuEventSynchronize, "cuEventSynchronize"),
    SYM(cuEventQuery, "cuEventQuery"),
    SYM_OR(cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
};

/* A CUDA toolkit's link-time stub (…/lib64/stubs/libcuda.so): its calls all
 * return CUDA_ERROR_STUB_LIBRARY, so it must never stand in for a driver. */
static bool is_stub_path(const char *path)
{
    return strstr(path, "/stubs/") != NULL || strncmp(path, "stubs/", 6) == 0;
}

/* Opens `place`; on failure writes why into `detail` and returns NULL. On
 * success `resolved` holds the file the dynamic linker actually mapped. */
static void *open_place(const char *place, char *resolved, size_t resolved_cap, char *detail,
                        size_t detail_cap)
{
    if (is_stub_path(place)) {
        snprintf(detail, detail_cap, "%s is the CUDA toolkit's stub library, not a driver",
                 place);
        return NULL;
    }
    dlerror();
    void *h = dlopen(place, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        const char *e = dlerror();
        snprintf(detail, detail_cap, "%s", e ? e : "dlopen failed");
        return NULL;
    }
    const char *file = place;
    struct link_map *map = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0])
        file = map->l_name;
    if (is_stub_path(file)) { /* the search path led to a stub (LD_LIBRARY_PATH) */
        snprintf(detail, detail_cap, "%s is the CUDA toolkit's stub library, not a driver",
                 file);
        dlclose(h);
        return NULL;
    }
    snprintf(resolved, resolved_cap, "%s", file);
    return h;
}

/* Resolves every entry point of `h` into `drv`; on a missing one names it. */
static bool resolve_symbols(void *h, struct cuda_driver *drv, const char **missing)
{
    for (size_t i = 0; i < EM_ARRAY_LEN(symbols); i++) {
        void *p = dlsym(h, symbols[i].symbol);
        if (!p && symbols[i].fallback)
            p = dlsym(h, symbols[i].fallback);
        if (!p) {
            *missing = symbols[i].symbol;
            return false;
        }
        /* POSIX guarantees a data pointer from dlsym converts to a function
         * pointer; copy the bytes to say so without a cast warning. */
        memcpy((char *)drv + symbols[i].offset, &p, sizeof p);
    }
    return true;
}

ember_status cuda_driver_load(char *reason, size_t reason_cap)
{
    if (cuda_drv.lib)
        return EMBER_SUCCESS;
    const char *only = getenv("EMBER_CUDA_DRIVER");
    const char *const *places = default_places;
    size_t nplaces = EM_ARRAY_LEN(default_places);
    if (only && only[0]) {
        places = &only;
        nplaces = 1;
    }

    char tried[1024] = "", first_detail[512] = "", best_detail[512] = "";
    for (size_t i = 0; i < nplaces; i++) {
        char detail[512] = "", resolved[sizeof cuda_drv.path];
        void *h = open_place(places[i], resolved, sizeof resolved, detail, sizeof detail);
        em_strappend(tried, sizeof tried, "%s%s", i ? ", " : "", places[i]);
        if (!h) {
            if (!first_detail[0])
                snprintf(first_detail, sizeof first_detail, "%s", detail);
            /* A file that exists but cannot serve (wrong architecture, a
             * stub) explains more than "no such file". */
            if (!best_detail[0] && !strstr(detail, "No such file or directory"))
                snprintf(best_detail, sizeof best_detail, "%s", detail);
            continue;
        }
        struct cuda_driver drv;
        memset(&drv, 0, sizeof drv);
        const char *missing = NULL;
        if (!resolve_symbols(h, &drv, &missing)) {
            dlclose(h);
            snprintf(reason, reason_cap,
                     "CUDA driver %s lacks the entry point %s: the driver is too old for ember "
                     "or the file is not a CUDA driver",
                     resolved, missing);
            return em_error(EMBER_ERR_NO_DRIVER, "%s", reason);
        }
        drv.lib = h;
        snprintf(drv.path, sizeof drv.path, "%s", resolved);
        cuda_drv = drv;
        return EMBER_SUCCESS;
    }
    snprintf(reason, reason_cap, "no CUDA driver found (looked in: %s)", tried);
    if (places != default_places)
        em_strappend(reason, reason_cap, "; EMBER_CUDA_DRIVER is set, so only it was tried");
    const char *detail = best_detail[0] ? best_detail : first_detail;
    if (detail[0])
        em_strappend(reason, reason_cap, "; %s", detail);
    return em_error(EMBER_ERR_NO_DRIVER, "%s", reason);
}

void cuda_driver_unload(void)
{
    if (cuda_drv.lib)
        dlclose(cuda_drv.lib);
    memset(&cuda_drv, 0, sizeof cuda_drv);
}

/* Names and texts of the codes ember is likely to meet, for when the driver
 * cannot be asked (not loaded, or it does not know the code). Wording as in
 * the driver's cuGetErrorString. */
static const struct {
    CUresult code;
    const char *name, *text;
} known_errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY",
     "CUDA driver is a stub library"},
    {CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER",
     "API call is not supported in the installed CUDA driver"},
    {CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA_ERROR_DEVICE_UNAVAILABLE",
     "CUDA-capable device(s) is/are busy or unavailable"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU",
     "no kernel image is available for execution on the device"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX",
     "a PTX JIT compilation failed"},
    {CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
     "the provided PTX was compiled with an unsupported toolchain."},
    {CUDA_ERROR_FILE_NOT_FOUND, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {CUDA_ERROR_OPERATING_SYSTEM, "CUDA_ERROR_OPERATING_SYSTEM",
     "OS call failed or operation not supported on this OS"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS",
     "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
     "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_TIMEOUT, "CUDA_ERROR_LAUNCH_TIMEOUT",
     "the launch timed out and was terminated"},
    {CUDA_ERROR_ILLEGAL_INSTRUCTION, "CUDA_ERROR_ILLEGAL_INSTRUCTION",
     "an illegal instruction was encountered"},
    {CUDA_ERROR_MISALIGNED_ADDRESS, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_NOT_PERMITTED, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
     "system has unsupported display driver / cuda driver combination"},
    {CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
     "forward compatibility was attempted on non supported HW"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static int known_index(CUresult code)
{
    for (size_t i = 0; i < EM_ARRAY_LEN(known_errors); i++)
        if (known_errors[i].code == code)
            return (int)i;
    return -1;
}

/* Asking the driver to describe a code is not a fault site: it describes a
 * failure that already happened. */
const char *cuda_error_name(CUresult code)
{
    const char *s = NULL;
    if (cuda_drv.lib && CUDA_GATED(false, cuGetErrorName, code, &s) == CUDA_SUCCESS && s)
        return s;
    int i = known_index(code);
    return i >= 0 ? known_errors[i].name : "CUDA_ERROR_UNRECOGNIZED";
}

const char *cuda_error_string(CUresult code)
{
    const char *s = NULL;
    if (cuda_drv.lib && CUDA_GATED(false, cuGetErrorString, code, &s) == CUDA_SUCCESS && s)
        return s;
    int i = known_index(code);
    return i >= 0 ? known_errors[i].text : "an error code this driver and ember do not know";
}

/* CUDA semantics: CUDA_ERROR_OUT_OF_MEMORY means the device (or the pinned
 * host pool) is exhausted, which ember reports as device out-of-memory so
 * that callers (the memory pool, Python's CudaAPIError) can free and retry;
 * every other code is a driver error carrying its CUresult. */
ember_status cuda_check(CUresult code, const char *call)
{
    if (code == CUDA_SUCCESS)
        return EMBER_SUCCESS;
    const char *name = cuda_error_name(code);
    /* A kernel's fault is sticky and shows at a later call: name the
     * kernel launched last, which most likely caused it. */
    char kernel[160] = "";
    if (code == CUDA_ERROR_ILLEGAL_ADDRESS || code == CUDA_ERROR_LAUNCH_FAILED ||
        code == CUDA_ERROR_ILLEGAL_INSTRUCTION || code == CUDA_ERROR_MISALIGNED_ADDRESS ||
        code == CUDA_ERROR_LAUNCH_TIMEOUT)
        em_last_kernel_launch(kernel, sizeof kernel);
    em_driver_error(code, name, "%s failed: %s (%d): %s%s%s%s", call, name, code,
                    cuda_error_string(code), kernel[0] ? " (raised by a kernel; the last "
                    "kernel launched was '" : "", kernel, kernel[0] ? "'; the CUDA context "
                    "cannot be used after this error: restart the process)" : "");
    return code == CUDA_ERROR_OUT_OF_MEMORY ? EMBER_ERR_DEVICE_OUT_OF_MEMORY : EMBER_ERR_DRIVER;
}
