/*
 * cuda_module.c — the cuda kind's module and launch slots: PTX loaded with
 * the driver's JIT, kernels looked up by name, launches with ember's packed
 * argument buffer, occupancy and the device's launch limits.
 *
 * Kept apart from cuda_device.c (memory, streams, events) because it is a
 * separate concern with its own driver calls. Every slot first makes the
 * device's primary context current, as cuda_device.c does: modules belong
 * to the context that was current when they were loaded.
 *
 * The launch hands the driver the argument buffer as it is (cuLaunchKernel's
 * `extra` form, CU_LAUNCH_PARAM_BUFFER_POINTER): the NVVM kernel takes the
 * buffer's 8-byte slots as its .u64 parameters (core/lower.h), so the
 * parameter space has the buffer's layout and no per-slot pointer array is
 * built.
 */
#include <string.h>

#include "devices/cuda/cuda_impl.h"

/* The JIT's error and info logs: enough for several hundred lines of
 * ptxas messages; the last-error message (2 KiB) keeps what fits. */
#define JIT_LOG_BYTES 8192

static ember_status bind(const struct cuda_ctx *c)
{
    return CUDA_CALL(cuCtxSetCurrent, c->primary);
}

/* A log buffer the JIT filled: NUL-terminated at the size it reported
 * (option value slot `written`), trailing newlines dropped. */
static void finish_log(char *log, size_t cap, void *written)
{
    size_t n = (size_t)(uintptr_t)written;
    log[n < cap ? n : cap - 1] = '\0';
    for (size_t len = strlen(log); len && (log[len - 1] == '\n' || log[len - 1] == '\r');)
        log[--len] = '\0';
}

/* CUDA semantics (cuModuleLoadDataEx): "CU_JIT_ERROR_LOG_BUFFER: pointer to
 * a buffer in which to print any log messages that reflect errors"; the
 * *_SIZE_BYTES option is the buffer's size in and the bytes filled out. On
 * failure the driver's error name stays the last driver error and the logs
 * follow the message. */
ember_status cuda_module_load(void *ctx, const char *ptx, void **module)
{
    struct cuda_ctx *c = ctx;
    char *logs = em_malloc(2 * JIT_LOG_BYTES);
    if (!logs)
        return em_error_prefix(EMBER_ERR_OUT_OF_MEMORY, "cuda:%d: loading PTX: ", c->ordinal);
    char *error_log = logs, *info_log = logs + JIT_LOG_BYTES;
    error_log[0] = info_log[0] = '\0';
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                           CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {error_log, (void *)(uintptr_t)JIT_LOG_BYTES, info_log,
                      (void *)(uintptr_t)JIT_LOG_BYTES};

    ember_status st = bind(c);
    if (st != EMBER_SUCCESS) {
        em_free(logs);
        return em_error_prefix(st, "cuda:%d: loading PTX: ", c->ordinal);
    }
    CUmodule m = NULL;
    CUresult r = CUDA_RESULT(cuModuleLoadDataEx, &m, ptx, (unsigned)EM_ARRAY_LEN(opts), opts,
                             values);
    if (r == CUDA_SUCCESS) {
        em_free(logs);
        *module = m;
        return EMBER_SUCCESS;
    }
    st = cuda_check(r, "cuModuleLoadDataEx");
    finish_log(error_log, JIT_LOG_BYTES, values[1]);
    finish_log(info_log, JIT_LOG_BYTES, values[3]);
    char message[1024];
    snprintf(message, sizeof message, "%s", ember_last_error());
    const char *hint = "";
    if (r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
        hint = " (the PTX was made for a newer PTX ISA than this driver knows: update the "
               "driver or compile for an older ISA)";
    em_driver_error(r, cuda_error_name(r), "cuda:%d: loading PTX: %s%s%s%s%s%s", c->ordinal,
                    message, hint, error_log[0] ? "\nPTX JIT error log:\n" : "", error_log,
                    info_log[0] ? "\nPTX JIT info log:\n" : "", info_log);
    em_free(logs);
    return st;
}

void cuda_module_unload(void *ctx, void *module)
{
    if (!module)
        return;
    CUDA_RELEASE(cuCtxSetCurrent, ((struct cuda_ctx *)ctx)->primary);
    CUDA_RELEASE(cuModuleUnload, (CUmodule)module);
}

static ember_status func_attribute(CUfunction f, CUfunction_attribute attr, int *out)
{
    return CUDA_CALL(cuFuncGetAttribute, out, attr, f);
}

/* CUDA semantics: cuModuleGetFunction returns CUDA_ERROR_NOT_FOUND when
 * "no function with name `name` exists"; the handle lives as long as the
 * module. CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK is "the maximum number of
 * threads per block, beyond which a launch of the function would fail",
 * which depends on the kernel's registers and .maxntid. */
ember_status cuda_module_get_function(void *ctx, void *module, const char *name,
                                      void **function, struct device_kernel_limits *limits)
{
    struct cuda_ctx *c = ctx;
    CUfunction f = NULL;
    int max_threads = 0, shared = 0;
    ember_status st = bind(c);
    if (st != EMBER_SUCCESS)
        return st;
    CUresult r = CUDA_RESULT(cuModuleGetFunction, &f, (CUmodule)module, name);
    if (r == CUDA_ERROR_NOT_FOUND) {
        cuda_check(r, "cuModuleGetFunction");
        return em_error_prefix(EMBER_ERR_NOT_FOUND, "cuda:%d: the module has no kernel named "
                               "'%s' (no .entry %s in its PTX): ", c->ordinal, name, name);
    }
    if ((st = cuda_check(r, "cuModuleGetFunction")) != EMBER_SUCCESS ||
        (st = func_attribute(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &max_threads)) !=
            EMBER_SUCCESS ||
        (st = func_attribute(f, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, &shared)) != EMBER_SUCCESS)
        return em_error_prefix(st, "cuda:%d: kernel '%s': ", c->ordinal, name);
    *function = f;
    limits->max_threads = max_threads > 0 ? (uint32_t)max_threads : 0;
    limits->static_shared_bytes = shared > 0 ? (size_t)shared : 0;
    return EMBER_SUCCESS;
}

ember_status cuda_module_get_global(void *ctx, void *module, const char *name, uint64_t *device,
                                    size_t *size)
{
    CUdeviceptr d = 0;
    size_t n = 0;
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    CUresult r = CUDA_RESULT(cuModuleGetGlobal, &d, &n, (CUmodule)module, name);
    if (r == CUDA_ERROR_NOT_FOUND)
        return EMBER_ERR_NOT_FOUND;
    if ((st = cuda_check(r, "cuModuleGetGlobal")) != EMBER_SUCCESS)
        return st;
    *device = d;
    *size = n;
    return EMBER_SUCCESS;
}

/* CUDA semantics (cuLaunchKernel): with `extra` = {BUFFER_POINTER, buf,
 * BUFFER_SIZE, &size, END} "the kernel parameters are passed in a single
 * buffer"; the driver copies them before returning. A kernel without
 * parameters gets neither form. */
ember_status cuda_launch(void *ctx, void *function, const uint32_t grid[3],
                         const uint32_t block[3], size_t shared_bytes, void *stream,
                         const void *args, size_t args_size)
{
    size_t size = args_size;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, (void *)args, CU_LAUNCH_PARAM_BUFFER_SIZE,
                     &size, CU_LAUNCH_PARAM_END};
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    return CUDA_CALL(cuLaunchKernel, (CUfunction)function, grid[0], grid[1], grid[2], block[0],
                     block[1], block[2], (unsigned)shared_bytes, (CUstream)stream, NULL,
                     args_size ? extra : NULL);
}

/* CUDA semantics (cuLaunchCooperativeKernel): "the kernel can
 * cooperatively synchronize across all thread blocks"; "the total number of
 * blocks launched cannot exceed the maximum number of blocks per
 * multiprocessor as returned by cuOccupancyMaxActiveBlocksPerMultiprocessor
 * times the number of multiprocessors". It has no `extra` form: the
 * parameters go as one pointer per 8-byte slot of the buffer. */
ember_status cuda_launch_cooperative(void *ctx, void *function, const uint32_t grid[3],
                                     const uint32_t block[3], size_t shared_bytes, void *stream,
                                     const void *args, size_t args_size)
{
    size_t nslots = args_size / 8;
    void *one = NULL, **params = nslots > 1 ? em_malloc(nslots * sizeof *params) : &one;
    if (!params)
        return EMBER_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < nslots; i++)
        params[i] = (char *)args + 8 * i;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuLaunchCooperativeKernel, (CUfunction)function, grid[0], grid[1],
                       grid[2], block[0], block[1], block[2], (unsigned)shared_bytes,
                       (CUstream)stream, nslots ? params : NULL);
    if (params != &one)
        em_free(params);
    return st;
}

/* The co-residency limit of a cooperative launch (above):
 * cuOccupancyMaxActiveBlocksPerMultiprocessor(function, threads, shared)
 * times CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT. */
ember_status cuda_max_cooperative_blocks(void *ctx, void *function, uint32_t threads,
                                         size_t shared_bytes, int64_t *blocks, int *per_sm,
                                         int *sms)
{
    struct cuda_ctx *c = ctx;
    int n = 0, count = 0;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuOccupancyMaxActiveBlocksPerMultiprocessor, &n, (CUfunction)function,
                       (int)threads, shared_bytes);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuDeviceGetAttribute, &count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                       c->device);
    if (st != EMBER_SUCCESS)
        return st;
    *per_sm = n > 0 ? n : 0;
    *sms = count > 0 ? count : 0;
    *blocks = (int64_t)*per_sm * *sms;
    return EMBER_SUCCESS;
}

/* CUDA semantics: "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: the
 * maximum size in bytes of dynamically-allocated shared memory", settable
 * up to the device's opt-in limit less the function's static shared memory. */
ember_status cuda_set_dynamic_shared(void *ctx, void *function, size_t bytes)
{
    ember_status st = bind(ctx);
    if (st != EMBER_SUCCESS)
        return st;
    return CUDA_CALL(cuFuncSetAttribute, (CUfunction)function,
                     CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)bytes);
}

/* CUDA semantics: cuOccupancyMaxPotentialBlockSize "returns in *blockSize a
 * reasonable block size that can achieve the maximum occupancy ... and in
 * *minGridSize the minimum grid size needed to achieve the maximum
 * occupancy"; block_size_limit 0 means no limit beyond the kernel's. */
ember_status cuda_max_block_size(void *ctx, void *function, size_t shared_bytes,
                                 int *block_size, int *min_grid_size)
{
    int block = 0, grid = 0;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuOccupancyMaxPotentialBlockSize, &grid, &block, (CUfunction)function,
                       NULL, shared_bytes, 0);
    if (st != EMBER_SUCCESS)
        return st;
    *block_size = block;
    *min_grid_size = grid;
    return EMBER_SUCCESS;
}

static ember_status attribute_u32(CUdevice dev, CUdevice_attribute attr, uint32_t *out)
{
    int v = 0;
    ember_status st = CUDA_CALL(cuDeviceGetAttribute, &v, attr, dev);
    if (st == EMBER_SUCCESS)
        *out = v > 0 ? (uint32_t)v : 0;
    return st;
}

/* The parameter space: "__global__ function parameters ... are limited to
 * 32,764 bytes starting with Volta, and 4 KB on older architectures" (CUDA
 * C++ Programming Guide, Function Parameters), and the larger limit needs a
 * CUDA 12.1 driver. Beyond it the driver fails the launch with
 * CUDA_ERROR_INVALID_VALUE, which says nothing of the cause. */
ember_status cuda_launch_limits(void *ctx, struct device_launch_limits *out)
{
    struct cuda_ctx *c = ctx;
    struct device_launch_limits l;
    uint32_t cc_major = 0, shared = 0, optin = 0;
    ember_status st;
    if ((st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, &l.max_block[0])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, &l.max_block[1])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, &l.max_block[2])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, &l.max_grid[0])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, &l.max_grid[1])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, &l.max_grid[2])) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                            &l.max_threads)) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
                            &shared)) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                            &optin)) ||
        (st = attribute_u32(c->device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &cc_major)))
        return em_error_prefix(st, "cuda:%d: reading the launch limits: ", c->ordinal);
    l.max_shared_bytes = shared;
    l.optin_shared_bytes = optin > shared ? optin : shared;
    l.max_param_bytes = cc_major >= 7 && cuda_drv.version >= 12010 ? 32764 : 4096;
    *out = l;
    return EMBER_SUCCESS;
}
