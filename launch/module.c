/*
 * module.c — modules and kernels: device code loaded on one device, its
 * entry points, their launches, and the module's fault record.
 *
 * The device kind does the loading and launching (the module slots of
 * devices/device_impl.h); this file owns the handles and checks every launch
 * configuration against the device's and the kernel's limits before the
 * driver sees it, so a bad configuration is an error that names the limit
 * instead of the driver's bare CUDA_ERROR_INVALID_VALUE.
 *
 * A module asks for its limits and its fault record's address once, when it
 * loads. Kernels are made on first request and kept in a list owned by the
 * module (a module has a handful), so the same name gives the same handle.
 */
#include <pthread.h>
#include <string.h>

#include "devices/device_impl.h"
#include "launch/launch_impl.h"

/* The fault record's symbol: core/lower.h LOWER_NVVM_FAULT_SYMBOL (not
 * included here: that header speaks LLVM), {i32 fault, i32 site}. */
#define FAULT_SYMBOL "ember_fault"
#define FAULT_BYTES 8        /* {int32 fault, int32 site} */
#define FAULT_BYTES_WHERE 32 /* ... and int32 threadIdx[3], blockIdx[3] of the fault */
/* A module whose kernels call grid.sync() defines the barrier word
 * (devices/cuda/lower_nvvm.c ember_grid_sync): they are launched
 * cooperatively, every block resident at once. */
#define GRID_BARRIER_SYMBOL "ember_grid_barrier"

struct ember_kernel {
    struct ember_module *module;       /* owner */
    void *native;                      /* the kind's function handle; owned by the module */
    struct device_kernel_limits limits;
    size_t optin_dynamic_shared;       /* the dynamic shared bytes opted in so far */
    struct ember_kernel *next;         /* the module's list */
    char name[];                       /* NUL-terminated */
};

struct ember_module {
    struct ember_device *device;       /* borrowed from the registry */
    void *native;                      /* the kind's module handle; owned */
    struct device_launch_limits limits;
    uint64_t fault_record;             /* device address of ember_fault; 0: none */
    size_t fault_bytes;                /* its size: FAULT_BYTES or FAULT_BYTES_WHERE */
    bool cooperative;                  /* defines GRID_BARRIER_SYMBOL */
    pthread_mutex_t lock;              /* guards `kernels` */
    struct ember_kernel *kernels;      /* owned */
};

static ember_status module_open(ember_device_t dev, const char *ptx,
                                const ember_link_input *inputs, size_t ninputs, bool link,
                                ember_module_t *out);

ember_status ember_module_load_ptx(ember_device_t dev, const char *ptx, ember_module_t *out)
{
    return module_open(dev, ptx, NULL, 0, false, out);
}

ember_status ember_module_load_linked(ember_device_t dev, const char *ptx,
                                      const ember_link_input *inputs, size_t ninputs,
                                      ember_module_t *out)
{
    if (ninputs && !inputs)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_module_load_linked: NULL inputs");
    for (size_t i = 0; i < ninputs; i++)
        if ((unsigned)inputs[i].kind > EMBER_LINK_LTOIR || !inputs[i].name ||
            (inputs[i].data && !inputs[i].size))
            return em_error(EMBER_ERR_INVALID_ARG, "ember_module_load_linked: input %zu: a "
                            "kind from ember_link_kind, a name, and data with its size (or "
                            "NULL data: a file)", i);
    return module_open(dev, ptx, inputs, ninputs, true, out);
}

ember_status ember_link_image(ember_device_t dev, const ember_link_input *inputs,
                              size_t ninputs, void **image, size_t *size)
{
    if (!dev || !image || !size || (ninputs && !inputs))
        return em_error(EMBER_ERR_INVALID_ARG, "ember_link_image: NULL argument");
    *image = NULL;
    *size = 0;
    for (size_t i = 0; i < ninputs; i++)
        if ((unsigned)inputs[i].kind > EMBER_LINK_LTOIR || !inputs[i].name ||
            (inputs[i].data && !inputs[i].size))
            return em_error(EMBER_ERR_INVALID_ARG, "ember_link_image: input %zu: a kind from "
                            "ember_link_kind, a name, and data with its size (or NULL data: "
                            "a file)", i);
    if (!dev->iface->link_image)
        return em_error(EMBER_ERR_NOT_SUPPORTED, "this device kind does not link device code");
    return dev->iface->link_image(dev->ctx, inputs, ninputs, image, size);
}

void ember_link_image_free(void *image)
{
    em_free(image);
}

static ember_status module_open(ember_device_t dev, const char *ptx,
                                const ember_link_input *inputs, size_t ninputs, bool link,
                                ember_module_t *out)
{
    if (!dev || !ptx || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_module_load_%s: NULL argument",
                        link ? "linked" : "ptx");
    const struct ember_device_i *d = dev->iface;
    if (link && d->module_load && !d->module_link)
        return em_error(EMBER_ERR_NOT_SUPPORTED, "this device kind does not link device code");
    if (!d->module_load)
        return em_error(EMBER_ERR_NOT_SUPPORTED,
                        "%s:%d does not load device code (PTX): kernels run on it through the "
                        "host JIT", dev->info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda",
                        dev->info.ordinal);
    struct ember_module *m = em_calloc(1, sizeof *m);
    if (!m)
        return EMBER_ERR_OUT_OF_MEMORY;
    m->device = dev;
    ember_status st = d->launch_limits(dev->ctx, &m->limits);
    if (st != EMBER_SUCCESS)
        goto fail;
    if ((st = link ? d->module_link(dev->ctx, ptx, inputs, ninputs, &m->native)
                   : d->module_load(dev->ctx, ptx, &m->native)) != EMBER_SUCCESS)
        goto fail;
    size_t size = 0;
    st = d->module_get_global(dev->ctx, m->native, FAULT_SYMBOL, &m->fault_record, &size);
    if (st == EMBER_ERR_NOT_FOUND) {
        m->fault_record = 0; /* the kernels report no faults */
    } else if (st != EMBER_SUCCESS) {
        goto fail_unload;
    } else if (size != FAULT_BYTES && size != FAULT_BYTES_WHERE) {
        st = em_error(EMBER_ERR_INVALID_ARG,
                      "the module's global %s has %zu bytes; ember's fault record is {int32 "
                      "fault, int32 site}, %d bytes, optionally followed by the thread and "
                      "block of the fault (%d bytes)", FAULT_SYMBOL, size, FAULT_BYTES,
                      FAULT_BYTES_WHERE);
        goto fail_unload;
    }
    m->fault_bytes = size;
    uint64_t barrier = 0;
    st = d->module_get_global(dev->ctx, m->native, GRID_BARRIER_SYMBOL, &barrier, &size);
    if (st != EMBER_SUCCESS && st != EMBER_ERR_NOT_FOUND)
        goto fail_unload;
    m->cooperative = st == EMBER_SUCCESS;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        st = em_error(EMBER_ERR_SYSTEM, "ember_module_load_ptx: pthread_mutex_init failed");
        goto fail_unload;
    }
    *out = m;
    return EMBER_SUCCESS;

fail_unload:
    d->module_unload(dev->ctx, m->native);
fail:
    em_free(m);
    return st;
}

void ember_module_destroy(ember_module_t m)
{
    if (!m)
        return;
    /* Kernels of the module may still run; unloading code under them is
     * undefined in the driver's documentation. A failure here has no one to
     * report to: the unload goes ahead. */
    m->device->iface->synchronize(m->device->ctx);
    for (struct ember_kernel *k = m->kernels, *next; k; k = next) {
        next = k->next;
        em_free(k);
    }
    m->device->iface->module_unload(m->device->ctx, m->native);
    pthread_mutex_destroy(&m->lock);
    em_free(m);
}

ember_device_t ember_module_device(ember_module_t m) { return m ? m->device : NULL; }

ember_status ember_module_get_kernel(ember_module_t m, const char *name, ember_kernel_t *out)
{
    if (!m || !name || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_module_get_kernel: NULL argument");
    ember_status st = EMBER_SUCCESS;
    em_mutex_lock(&m->lock);
    struct ember_kernel *k = m->kernels;
    while (k && strcmp(k->name, name) != 0)
        k = k->next;
    if (!k) {
        size_t len = strlen(name);
        k = em_calloc(1, sizeof *k + len + 1);
        if (!k) {
            st = EMBER_ERR_OUT_OF_MEMORY;
            goto out;
        }
        st = m->device->iface->module_get_function(m->device->ctx, m->native, name, &k->native,
                                                   &k->limits);
        if (st != EMBER_SUCCESS) {
            em_free(k);
            goto out;
        }
        memcpy(k->name, name, len + 1);
        k->module = m;
        k->next = m->kernels;
        m->kernels = k;
    }
    *out = k;
out:
    em_mutex_unlock(&m->lock);
    return st;
}

const char *ember_kernel_name(ember_kernel_t k) { return k ? k->name : ""; }

int ember_kernel_max_threads(ember_kernel_t k)
{
    if (!k)
        return 0;
    uint32_t n = k->limits.max_threads, dev = k->module->limits.max_threads;
    return (int)(n && n < dev ? n : dev);
}

/* Checks a launch configuration against the device's and the kernel's
 * limits (CUDA C++ Programming Guide, "Features and Technical
 * Specifications": maximum x-, y-, z-dimension of a block and of a grid,
 * threads per block, shared memory per block; "Function Parameters": the
 * parameter space). The driver would answer most of these with
 * CUDA_ERROR_INVALID_VALUE, which names none. */
static ember_status check_config(const struct ember_kernel *k, const uint32_t grid[3],
                                 const uint32_t block[3], size_t shared_bytes, const void *args,
                                 size_t args_size)
{
    const struct device_launch_limits *l = &k->module->limits;
    static const char axis[3] = {'x', 'y', 'z'};
    for (int i = 0; i < 3; i++) {
        if (grid[i] == 0 || block[i] == 0)
            return em_error(EMBER_ERR_INVALID_ARG,
                            "launching '%s': %s dimension %c is 0 (every dimension of the grid "
                            "and the block is at least 1)", k->name, grid[i] ? "block" : "grid",
                            axis[i]);
        if (block[i] > l->max_block[i])
            return em_error(EMBER_ERR_INVALID_ARG,
                            "launching '%s': block dimension %c is %u, above the device's "
                            "limit of %u", k->name, axis[i], block[i], l->max_block[i]);
        if (grid[i] > l->max_grid[i])
            return em_error(EMBER_ERR_INVALID_ARG,
                            "launching '%s': grid dimension %c is %u, above the device's limit "
                            "of %u", k->name, axis[i], grid[i], l->max_grid[i]);
    }
    uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    if (threads > l->max_threads)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "launching '%s': a block of %u x %u x %u = %llu threads, above the "
                        "device's limit of %u threads per block", k->name, block[0], block[1],
                        block[2], (unsigned long long)threads, l->max_threads);
    if (k->limits.max_threads && threads > k->limits.max_threads)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "launching '%s': a block of %llu threads, but this kernel can run at "
                        "most %u threads per block (its register use or .maxntid limit it)",
                        k->name, (unsigned long long)threads, k->limits.max_threads);
    size_t most = l->optin_shared_bytes > l->max_shared_bytes ? l->optin_shared_bytes
                                                              : l->max_shared_bytes;
    if (shared_bytes > most || k->limits.static_shared_bytes > most - shared_bytes)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "launching '%s': %zu bytes of dynamic shared memory plus the kernel's "
                        "%zu static bytes are above the device's %zu bytes per block", k->name,
                        shared_bytes, k->limits.static_shared_bytes, most);
    if (args_size % 8 != 0)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "launching '%s': the argument buffer has %zu bytes, not a multiple of "
                        "8 (the kernel takes its arguments as 8-byte parameters)", k->name,
                        args_size);
    if (args_size > l->max_param_bytes)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "launching '%s': the arguments take %zu bytes, above the %zu bytes of "
                        "kernel parameter space of this device (32764 from Volta with a CUDA "
                        "12.1+ driver, else 4096); pass fewer or smaller arguments", k->name,
                        args_size, l->max_param_bytes);
    if (args_size && !args)
        return em_error(EMBER_ERR_INVALID_ARG, "launching '%s': args is NULL but args_size is "
                        "%zu", k->name, args_size);
    return EMBER_SUCCESS;
}

ember_status ember_kernel_launch(ember_kernel_t k, const uint32_t grid[3],
                                 const uint32_t block[3], size_t shared_bytes,
                                 ember_stream_t stream, const void *args, size_t args_size)
{
    if (!k || !grid || !block)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_kernel_launch: NULL argument");
    struct ember_device *dev = k->module->device;
    void *native = NULL;
    ember_status st = check_config(k, grid, block, shared_bytes, args, args_size);
    if (st == EMBER_SUCCESS)
        st = stream_native(dev, stream, &native);
    if (st == EMBER_SUCCESS && !stream &&
        (st = stream_capture_check(dev, NULL, "launch a kernel")) != EMBER_SUCCESS)
        return em_error_prefix(st, "launching '%s': ", k->name);
    if (st != EMBER_SUCCESS)
        return st;
    /* Above the default per-block shared memory the function opts in first
     * (CUDA: cudaFuncSetAttribute(MaxDynamicSharedMemorySize)); once per
     * new high-water mark. */
    const struct device_launch_limits *l = &k->module->limits;
    if (shared_bytes + k->limits.static_shared_bytes > l->max_shared_bytes &&
        dev->iface->set_dynamic_shared &&
        shared_bytes > __atomic_load_n(&k->optin_dynamic_shared, __ATOMIC_RELAXED)) {
        st = dev->iface->set_dynamic_shared(dev->ctx, k->native, shared_bytes);
        if (st != EMBER_SUCCESS)
            return em_error_prefix(st, "launching '%s' with %zu bytes of dynamic shared "
                                   "memory: ", k->name, shared_bytes);
        __atomic_store_n(&k->optin_dynamic_shared, shared_bytes, __ATOMIC_RELAXED);
    }
    if (k->module->cooperative) { /* grid.sync(): every block resident at once */
        int64_t most = 0;
        int per_sm = 0, sms = 0;
        uint64_t blocks = (uint64_t)grid[0] * grid[1] * grid[2];
        if (!dev->iface->launch_cooperative)
            return em_error(EMBER_ERR_NOT_SUPPORTED, "launching '%s': it calls grid.sync(), "
                            "and this device has no cooperative launch", k->name);
        st = dev->iface->max_cooperative_blocks(dev->ctx, k->native,
                                                block[0] * block[1] * block[2], shared_bytes,
                                                &most, &per_sm, &sms);
        if (st != EMBER_SUCCESS)
            return em_error_prefix(st, "launching '%s' cooperatively: ", k->name);
        if (blocks > (uint64_t)most)
            return em_error(EMBER_ERR_INVALID_ARG,
                            "launching '%s': a grid of %llu blocks, but the kernel calls "
                            "grid.sync(), so all its blocks must be on the GPU at once (a "
                            "cooperative launch): at most %lld blocks of %u threads with %zu "
                            "bytes of dynamic shared memory fit on cuda:%d (%d per "
                            "multiprocessor x %d multiprocessors; "
                            "kernel.max_cooperative_grid_blocks(blockdim) says so)",
                            k->name, (unsigned long long)blocks, (long long)most,
                            block[0] * block[1] * block[2], shared_bytes, dev->info.ordinal,
                            per_sm, sms);
    }
    em_note_kernel_launch(k->name); /* for the messages of faults it may leave */
    st = (k->module->cooperative ? dev->iface->launch_cooperative : dev->iface->launch)(
        dev->ctx, k->native, grid, block, shared_bytes, native, args, args_size);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "launching '%s' on cuda:%d: ", k->name, dev->info.ordinal);
    return EMBER_SUCCESS;
}

bool ember_kernel_cooperative(ember_kernel_t k) { return k && k->module->cooperative; }

ember_status ember_kernel_max_cooperative_blocks(ember_kernel_t k, const uint32_t block[3],
                                                 size_t shared_bytes, int64_t *blocks)
{
    if (!k || !block || !blocks)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_kernel_max_cooperative_blocks: NULL "
                        "argument");
    struct ember_device *dev = k->module->device;
    if (!dev->iface->max_cooperative_blocks)
        return em_error(EMBER_ERR_NOT_SUPPORTED, "this device has no cooperative launch");
    int per_sm = 0, sms = 0;
    return dev->iface->max_cooperative_blocks(dev->ctx, k->native,
                                              block[0] * block[1] * block[2], shared_bytes,
                                              blocks, &per_sm, &sms);
}

ember_status ember_kernel_max_block_size(ember_kernel_t k, size_t shared_bytes, int *block_size,
                                         int *min_grid_size)
{
    if (!k || !block_size)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_kernel_max_block_size: NULL argument");
    struct ember_device *dev = k->module->device;
    int block = 0, grid = 0;
    ember_status st = dev->iface->max_block_size(dev->ctx, k->native, shared_bytes, &block, &grid);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "occupancy of '%s': ", k->name);
    *block_size = block;
    if (min_grid_size)
        *min_grid_size = grid;
    return EMBER_SUCCESS;
}

ember_status ember_module_take_fault(ember_module_t m, int32_t *fault, int32_t *site)
{
    return ember_module_take_fault_where(m, fault, site, NULL);
}

/* Reads the record, and writes zeros back only when it held a fault (the
 * common case costs one copy). */
ember_status ember_module_take_fault_where(ember_module_t m, int32_t *fault, int32_t *site,
                                           int32_t where[6])
{
    if (!m || !fault || !site)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_module_take_fault: NULL argument");
    int32_t rec[FAULT_BYTES_WHERE / 4] = {0};
    if (m->fault_record) {
        const struct ember_device_i *d = m->device->iface;
        ember_status st = d->copy(m->device->ctx, (uint64_t)(uintptr_t)rec, false,
                                  m->fault_record, true, m->fault_bytes, NULL);
        if (st == EMBER_SUCCESS && (rec[0] || rec[1])) {
            static const int32_t zero[FAULT_BYTES_WHERE / 4] = {0};
            st = d->copy(m->device->ctx, m->fault_record, true, (uint64_t)(uintptr_t)zero,
                         false, m->fault_bytes, NULL);
        }
        if (st != EMBER_SUCCESS)
            return em_error_prefix(st, "reading the module's fault record: ");
    }
    *fault = rec[0];
    *site = rec[1];
    if (where)
        memcpy(where, rec + 2, 6 * sizeof *where);
    return EMBER_SUCCESS;
}
