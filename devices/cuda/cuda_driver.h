/*
 * cuda_driver.h — our own declarations of the part of the CUDA driver API
 * that ember calls, and the table of entry points loaded from libcuda.so.1.
 *
 * ember has no build- or link-time dependency on CUDA: cuda.h is never
 * included and libcuda is opened with dlopen (cuda_driver.c). The types and
 * numeric values below are copied from CUDA 13.0's cuda.h, which is ABI
 * stable for them: handles are opaque pointers, CUdevice an int, CUdeviceptr
 * a 64-bit integer, and every call returns a CUresult. Entry points whose
 * cuda.h name is a macro for a versioned symbol (cuMemAlloc → cuMemAlloc_v2)
 * are loaded under the versioned symbol; the table fields keep the plain API
 * name, which is also the name error messages use.
 *
 * Every call goes through CUDA_CALL (or CUDA_RESULT / CUDA_RELEASE, built on
 * the same gate): the gate counts the call as an EMBER_FAULT_DRIVER site, and
 * CUDA_CALL turns a non-zero CUresult into an ember_status with the driver's
 * code and name recorded for ember_last_driver_error().
 */
#ifndef EMBER_CUDA_DRIVER_H
#define EMBER_CUDA_DRIVER_H

#include "core/core.h"

/* ---- types (cuda.h) ------------------------------------------------------ */

typedef int CUresult;                     /* enum cudaError_enum in cuda.h */
typedef int CUdevice;                     /* a device ordinal of the driver */
typedef int CUdevice_attribute;           /* enum CUdevice_attribute_enum */
typedef unsigned long long CUdeviceptr;   /* CUdeviceptr_v2 */
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct CUgraphNode_st *CUgraphNode;
/* cuStreamBeginCapture's mode: RELAXED lets other threads (and this one)
 * allocate and free memory while a capture is open. */
#define CU_STREAM_CAPTURE_MODE_RELAXED 2
typedef int CUjit_option;                 /* enum CUjit_option_enum */
typedef int CUfunction_attribute;         /* enum CUfunction_attribute_enum */
typedef int CUjitInputType;               /* enum CUjitInputType_enum: CU_JIT_INPUT_CUBIN 0,
                                           * PTX 1, FATBINARY 2, OBJECT 3, LIBRARY 4 */
typedef struct CUlinkState_st *CUlinkState;
/* An interprocess memory handle: 64 opaque bytes, passed by value. */
typedef struct CUipcMemHandle_st {
    char reserved[64];
} CUipcMemHandle;
/* Dynamic shared memory a block of `block_size` threads needs (occupancy). */
typedef size_t (*CUoccupancyB2DSize)(int block_size);

/* ---- CUresult values we test for or name ------------------------------- */

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_DEINITIALIZED = 4,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER = 36,
    CUDA_ERROR_DEVICE_UNAVAILABLE = 46,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_OPERATING_SYSTEM = 304,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_TIMEOUT = 702,
    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
    CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
    CUDA_ERROR_MISALIGNED_ADDRESS = 716,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_PERMITTED = 800,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803,
    CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804,
    CUDA_ERROR_UNKNOWN = 999,
};

/* ---- CUdevice_attribute values we query -------------------------------- */

enum {
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y = 3,
    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z = 4,
    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY = 19,
    CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING = 41,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

/* ---- flags ---------------------------------------------------------------- */

#define CU_MEMHOSTALLOC_PORTABLE 0x01  /* pinned for every context, not only the current one */
#define CU_MEMHOSTALLOC_DEVICEMAP 0x02 /* also mapped into the device address space */
#define CU_MEMHOSTREGISTER_PORTABLE 0x01 /* page-locked for every context */
#define CU_MEMHOSTREGISTER_DEVICEMAP 0x02 /* also mapped into the device address space */
#define CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS 0x1 /* cuIpcOpenMemHandle: peer access on demand */
#define CU_MEM_ATTACH_GLOBAL 0x1       /* managed memory any stream may use */
#define CU_MEM_ATTACH_HOST 0x2         /* managed memory the host has until a stream attaches it */
#define CU_STREAM_DEFAULT 0x0          /* synchronises with the legacy default stream */
#define CU_EVENT_DEFAULT 0x0
#define CU_EVENT_DISABLE_TIMING 0x2    /* no timestamp: cheaper record and wait */

/* ---- modules and launches ---------------------------------------------------- */

/* CUjit_option values: the JIT writes its messages into caller buffers.
 * A *_SIZE_BYTES value is passed in the option-value slot itself (an
 * integer cast to void *): in, the buffer's size; out, the bytes written. */
enum {
    CU_JIT_INFO_LOG_BUFFER = 3,
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    CU_JIT_LOG_VERBOSE = 12,
};

/* CUfunction_attribute values we query. */
enum {
    CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0, /* this kernel's limit (registers, .maxntid) */
    CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,     /* its static shared memory */
    CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8, /* set to opt in above 48 KiB */
};

/* cuLaunchKernel's `extra` array: the packed parameter buffer and its size.
 * cuda.h defines these as the pointers (void *)0x00, 0x01, 0x02. */
#define CU_LAUNCH_PARAM_END ((void *)0x00)
#define CU_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define CU_LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)

/* ---- the entry-point table ---------------------------------------------- */

/* One field per driver call. The comment names the symbol loaded for it
 * when that differs from the field name. Filled by cuda_driver_load; all
 * non-NULL while the driver is loaded. */
struct cuda_driver {
    void *lib;        /* dlopen handle; NULL when not loaded */
    char path[512];   /* the file it was loaded from */
    int version;      /* cuDriverGetVersion (13000 = 13.0); 0 until cuda_devices_open asks */

    /* errors and initialisation */
    CUresult (*cuGetErrorName)(CUresult error, const char **name);
    CUresult (*cuGetErrorString)(CUresult error, const char **text);
    CUresult (*cuInit)(unsigned int flags);
    CUresult (*cuDriverGetVersion)(int *version);

    /* devices */
    CUresult (*cuDeviceGetCount)(int *count);
    CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
    CUresult (*cuDeviceGetName)(char *name, int len, CUdevice dev);
    CUresult (*cuDeviceGetAttribute)(int *value, CUdevice_attribute attrib, CUdevice dev);
    CUresult (*cuDeviceGetPCIBusId)(char *bus_id, int len, CUdevice dev);
    CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice dev); /* cuDeviceTotalMem_v2 */

    /* contexts: ember uses each device's primary context, as the runtime API does */
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice dev); /* cuDevicePrimaryCtxRelease_v2 */
    CUresult (*cuCtxSetCurrent)(CUcontext ctx);
    CUresult (*cuCtxSynchronize)(void);

    /* memory */
    CUresult (*cuMemGetInfo)(size_t *free_bytes, size_t *total_bytes); /* cuMemGetInfo_v2 */
    CUresult (*cuMemAlloc)(CUdeviceptr *dptr, size_t bytes);            /* cuMemAlloc_v2 */
    CUresult (*cuMemAllocManaged)(CUdeviceptr *dptr, size_t bytes, unsigned int flags);
    CUresult (*cuProfilerStart)(void);
    CUresult (*cuProfilerStop)(void);
    CUresult (*cuMemFree)(CUdeviceptr dptr);                            /* cuMemFree_v2 */
    CUresult (*cuMemHostAlloc)(void **pp, size_t bytes, unsigned int flags);
    CUresult (*cuMemFreeHost)(void *p);
    CUresult (*cuMemHostGetDevicePointer)(CUdeviceptr *dptr, void *p,
                                          unsigned int flags); /* cuMemHostGetDevicePointer_v2 */
    CUresult (*cuMemHostRegister)(void *p, size_t bytes,
                                  unsigned int flags); /* cuMemHostRegister_v2 */
    CUresult (*cuMemHostUnregister)(void *p);
    CUresult (*cuMemGetAddressRange)(CUdeviceptr *base, size_t *size,
                                     CUdeviceptr dptr); /* cuMemGetAddressRange_v2 */

    /* interprocess memory */
    CUresult (*cuIpcGetMemHandle)(CUipcMemHandle *handle, CUdeviceptr dptr);
    CUresult (*cuIpcOpenMemHandle)(CUdeviceptr *dptr, CUipcMemHandle handle,
                                   unsigned int flags); /* cuIpcOpenMemHandle_v2 */
    CUresult (*cuIpcCloseMemHandle)(CUdeviceptr dptr);

    /* copies (the _v2 symbols of each) */
    CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*cuMemcpyDtoD)(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
    CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream s);
    CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream s);
    CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);
    CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value, size_t n);
    CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t n, CUstream s);

    /* streams */
    CUresult (*cuStreamCreate)(CUstream *stream, unsigned int flags);
    CUresult (*cuStreamDestroy)(CUstream stream); /* cuStreamDestroy_v2 */
    CUresult (*cuStreamSynchronize)(CUstream stream);
    CUresult (*cuStreamQuery)(CUstream stream);
    CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned int flags);

    /* events */
    CUresult (*cuEventCreate)(CUevent *event, unsigned int flags);
    CUresult (*cuEventDestroy)(CUevent event); /* cuEventDestroy_v2 */
    CUresult (*cuEventRecord)(CUevent event, CUstream stream);
    CUresult (*cuEventSynchronize)(CUevent event);
    CUresult (*cuEventQuery)(CUevent event);
    /* cuEventElapsedTime_v2 where the driver has it (12.8+, what cuda.h 13
     * maps the name to), else cuEventElapsedTime: same signature. */
    CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end);

    /* Modules and kernel launches (cuda_module.c). Reading and clearing a
     * module's fault record uses the plain copies above. */
    CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned int num_options,
                                   CUjit_option *options, void **option_values);
    CUresult (*cuModuleUnload)(CUmodule module);
    CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module, const char *name);
    CUresult (*cuModuleGetGlobal)(CUdeviceptr *dptr, size_t *bytes, CUmodule module,
                                  const char *name); /* cuModuleGetGlobal_v2 */
    CUresult (*cuLaunchKernel)(CUfunction f, unsigned int grid_x, unsigned int grid_y,
                               unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                               unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                               void **kernel_params, void **extra);
    CUresult (*cuLaunchCooperativeKernel)(CUfunction f, unsigned int grid_x, unsigned int grid_y,
                                          unsigned int grid_z, unsigned int block_x,
                                          unsigned int block_y, unsigned int block_z,
                                          unsigned int shared_bytes, CUstream stream,
                                          void **kernel_params);
    CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *blocks, CUfunction f,
                                                            int block_size, size_t shared_bytes);
    CUresult (*cuFuncGetAttribute)(int *value, CUfunction_attribute attrib, CUfunction f);
    CUresult (*cuFuncSetAttribute)(CUfunction f, CUfunction_attribute attrib, int value);
    /* graphs (cuda_graph.c) */
    CUresult (*cuStreamBeginCapture)(CUstream stream, int mode); /* cuStreamBeginCapture_v2 */
    CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
    CUresult (*cuGraphGetNodes)(CUgraph graph, CUgraphNode *nodes, size_t *count);
    CUresult (*cuGraphInstantiate)(CUgraphExec *exec, CUgraph graph,
                                   unsigned long long flags); /* cuGraphInstantiateWithFlags */
    CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
    CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
    CUresult (*cuGraphDestroy)(CUgraph graph);
    CUresult (*cuOccupancyMaxPotentialBlockSize)(int *min_grid_size, int *block_size,
                                                 CUfunction f,
                                                 CUoccupancyB2DSize block_to_shared_bytes,
                                                 size_t shared_bytes, int block_size_limit);

    /* The linker (cuda_link.c): a kernel's PTX with foreign code */
    CUresult (*cuLinkCreate)(unsigned int num_options, CUjit_option *options,
                             void **option_values, CUlinkState *state); /* cuLinkCreate_v2 */
    CUresult (*cuLinkAddData)(CUlinkState state, CUjitInputType type, void *data, size_t size,
                              const char *name, unsigned int num_options,
                              CUjit_option *options, void **option_values); /* _v2 */
    CUresult (*cuLinkAddFile)(CUlinkState state, CUjitInputType type, const char *path,
                              unsigned int num_options, CUjit_option *options,
                              void **option_values); /* cuLinkAddFile_v2 */
    CUresult (*cuLinkComplete)(CUlinkState state, void **cubin, size_t *size);
    CUresult (*cuLinkDestroy)(CUlinkState state);
};

/* The loaded driver. Written only by cuda_driver_load / cuda_driver_unload,
 * which the registry calls under its lock; read-only in between. */
EM_HIDDEN extern struct cuda_driver cuda_drv;

/* ---- cuda_driver.c --------------------------------------------------------- */

/* Opens the driver library (EMBER_CUDA_DRIVER alone when set, else the
 * system's libcuda.so.1 and its usual places) and resolves every entry point.
 * EMBER_ERR_NO_DRIVER with `reason` filled when none loads or a symbol is
 * missing. Does not call the driver. Unload with cuda_driver_unload. */
EM_HIDDEN ember_status cuda_driver_load(char *reason, size_t reason_cap);

/* "CUDA_ERROR_OUT_OF_MEMORY" and "out of memory" for `code`: the driver's
 * words when it is loaded and knows the code, else ember's table. Never NULL. */
EM_HIDDEN const char *cuda_error_name(CUresult code);
EM_HIDDEN const char *cuda_error_string(CUresult code);

/* Turns the result of driver call `call` into a status: EMBER_SUCCESS for
 * CUDA_SUCCESS; otherwise records "cuXxx failed: NAME (code): text" with the
 * code and name (em_driver_error) and returns EMBER_ERR_DEVICE_OUT_OF_MEMORY
 * for CUDA_ERROR_OUT_OF_MEMORY, EMBER_ERR_DRIVER for every other code. */
EM_HIDDEN ember_status cuda_check(CUresult code, const char *call);

/* The gate every driver call passes. A call that is a fault site first asks
 * fault_hit(EMBER_FAULT_DRIVER); when the armed failure is due, the driver is
 * not called and the result is CUDA_ERROR_OUT_OF_MEMORY, as if it had failed.
 *
 * Release calls (cuMemFree, cuMemFreeHost, cuStreamDestroy, cuEventDestroy,
 * cuDevicePrimaryCtxRelease and the cuCtxSetCurrent before them) pass
 * `faultable` false: they sit in slots that return void, so nothing can act
 * on their failure, and an injected one would only leak device memory that
 * a fault loop then cannot tell from a real leak (SQLite's malloc tests
 * likewise never fail free()). */
static inline bool cuda_gate(bool faultable)
{
    return faultable && fault_hit(EMBER_FAULT_DRIVER);
}

#define CUDA_GATED(faultable, fn, ...)                                                    \
    (cuda_gate(faultable) ? (CUresult)CUDA_ERROR_OUT_OF_MEMORY : cuda_drv.fn(__VA_ARGS__))

/* The raw CUresult of a gated call, for callers that treat some codes as
 * answers rather than failures (CUDA_ERROR_NOT_READY from a query). Pass it
 * to cuda_check for the rest. */
#define CUDA_RESULT(fn, ...) CUDA_GATED(true, fn, __VA_ARGS__)

/* A gated call whose failure becomes an ember_status and the last error. */
#define CUDA_CALL(fn, ...) cuda_check(CUDA_GATED(true, fn, __VA_ARGS__), #fn)

/* A release call: never a fault site, and its failure is not recorded, so
 * that cleanup after a failed operation keeps that operation's message. */
#define CUDA_RELEASE(fn, ...) ((void)CUDA_GATED(false, fn, __VA_ARGS__))

#endif /* EMBER_CUDA_DRIVER_H */
