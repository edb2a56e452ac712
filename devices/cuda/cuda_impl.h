/*
 * cuda_impl.h — what the files of the cuda device kind share: the per-device
 * context and the module/launch slots that cuda_module.c adds to the
 * interface cuda_device.c builds.
 */
#ifndef EMBER_CUDA_IMPL_H
#define EMBER_CUDA_IMPL_H

#include "devices/cuda/cuda_driver.h"
#include "devices/device_impl.h"

struct cuda_ctx {
    CUdevice device;  /* the driver's handle */
    CUcontext primary; /* retained primary context */
    int ordinal;      /* ember's (= the driver's) ordinal, for messages */
    int cc_major, cc_minor; /* compute capability (nvJitLink's -arch=sm_XY) */
};

/* ---- cuda_module.c ------------------------------------------------------ */

EM_HIDDEN ember_status cuda_module_load(void *ctx, const char *ptx, void **module);
EM_HIDDEN void cuda_module_unload(void *ctx, void *module);
EM_HIDDEN ember_status cuda_module_get_function(void *ctx, void *module, const char *name,
                                                void **function,
                                                struct device_kernel_limits *limits);
EM_HIDDEN ember_status cuda_module_get_global(void *ctx, void *module, const char *name,
                                              uint64_t *device, size_t *size);
EM_HIDDEN ember_status cuda_launch(void *ctx, void *function, const uint32_t grid[3],
                                   const uint32_t block[3], size_t shared_bytes, void *stream,
                                   const void *args, size_t args_size);
EM_HIDDEN ember_status cuda_launch_cooperative(void *ctx, void *function, const uint32_t grid[3],
                                               const uint32_t block[3], size_t shared_bytes,
                                               void *stream, const void *args,
                                               size_t args_size);
EM_HIDDEN ember_status cuda_max_cooperative_blocks(void *ctx, void *function, uint32_t threads,
                                                   size_t shared_bytes, int64_t *blocks,
                                                   int *per_sm, int *sms);
EM_HIDDEN ember_status cuda_max_block_size(void *ctx, void *function, size_t shared_bytes,
                                           int *block_size, int *min_grid_size);
EM_HIDDEN ember_status cuda_launch_limits(void *ctx, struct device_launch_limits *out);
EM_HIDDEN ember_status cuda_set_dynamic_shared(void *ctx, void *function, size_t bytes);

/* ---- cuda_link.c ---------------------------------------------------------- */

EM_HIDDEN ember_status cuda_module_link(void *ctx, const char *ptx,
                                        const ember_link_input *inputs, size_t ninputs,
                                        void **module);
EM_HIDDEN ember_status cuda_link_image(void *ctx, const ember_link_input *inputs,
                                       size_t ninputs, void **image, size_t *size);

/* ---- cuda_graph.c ------------------------------------------------------- */

EM_HIDDEN ember_status cuda_capture_begin(void *ctx, void *stream);
EM_HIDDEN ember_status cuda_capture_end(void *ctx, void *stream, void **graph, size_t *nodes);
EM_HIDDEN ember_status cuda_graph_launch(void *ctx, void *graph, void *stream);
EM_HIDDEN void cuda_graph_destroy(void *ctx, void *graph);

/* The slots above, for the interface's initializer in cuda_device.c. */
#define CUDA_MODULE_SLOTS                                                                  \
    .module_load = cuda_module_load, .module_unload = cuda_module_unload,                  \
    .module_link = cuda_module_link, .link_image = cuda_link_image,                       \
    .module_get_function = cuda_module_get_function,                                       \
    .module_get_global = cuda_module_get_global, .launch = cuda_launch,                    \
    .max_block_size = cuda_max_block_size, .launch_limits = cuda_launch_limits,           \
    .set_dynamic_shared = cuda_set_dynamic_shared, .capture_begin = cuda_capture_begin,      \
    .capture_end = cuda_capture_end, .graph_launch = cuda_graph_launch,                   \
    .graph_destroy = cuda_graph_destroy,                                                  \
    .launch_cooperative = cuda_launch_cooperative,                                         \
    .max_cooperative_blocks = cuda_max_cooperative_blocks

#endif /* EMBER_CUDA_IMPL_H */
