/*
 * buffer.c — reference-counted allocations of one device.
 *
 * A buffer is the unit of ownership: arrays (views) hold references to it,
 * and the memory goes back to its device (or to its foreign owner) with the
 * last reference. The bytes come from the device's pool (pool.c), which
 * also needs to know the streams a buffer was used on, so that its memory
 * is not handed to another stream while queued work still uses it.
 */
#include "launch/launch_impl.h"
#include "memory/memory_impl.h"

static bool kind_valid(ember_mem_kind kind)
{
    return kind == EMBER_MEM_DEVICE || kind == EMBER_MEM_PINNED || kind == EMBER_MEM_MAPPED ||
           kind == EMBER_MEM_MANAGED || kind == EMBER_MEM_MANAGED_HOST;
}

ember_status ember_buffer_create(ember_device_t dev, ember_mem_kind kind, size_t nbytes,
                                 ember_buffer_t *out)
{
    return ember_buffer_create_on_stream(dev, kind, nbytes, NULL, out);
}

ember_status ember_buffer_create_on_stream(ember_device_t dev, ember_mem_kind kind,
                                           size_t nbytes, ember_stream_t stream,
                                           ember_buffer_t *out)
{
    if (!dev || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_create: NULL argument");
    if (!kind_valid(kind))
        return em_error(EMBER_ERR_INVALID_ARG,
                        "ember_buffer_create: memory kind %d cannot be allocated (only device, "
                        "pinned and mapped)", (int)kind);
    if (nbytes > (size_t)INT64_MAX)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_create: %zu bytes is too large",
                        nbytes);
    void *native = NULL;
    ember_status st = stream_native(dev, stream, &native);
    if (st != EMBER_SUCCESS)
        return st;
    struct ember_buffer *b = em_calloc(1, sizeof *b);
    if (!b)
        return EMBER_ERR_OUT_OF_MEMORY;
    st = mempool_alloc(dev, kind, nbytes, native, &b->block);
    if (st != EMBER_SUCCESS) {
        em_free(b);
        return st;
    }
    b->host = b->block->host;
    b->device_ptr = b->block->device_ptr;
    b->refcount = 1;
    b->device = dev;
    b->kind = kind;
    b->size = nbytes;
    stats_count_alloc(nbytes);
    *out = b;
    return EMBER_SUCCESS;
}

static ember_status wrap(ember_device_t dev, ember_mem_kind kind, void *host, uint64_t dptr,
                         size_t nbytes, void (*release)(void *), void *ctx, ember_buffer_t *out)
{
    if (!out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_wrap: out is NULL");
    struct ember_buffer *b = em_calloc(1, sizeof *b);
    if (!b)
        return EMBER_ERR_OUT_OF_MEMORY;
    b->refcount = 1;
    b->device = dev;
    b->kind = kind;
    b->size = nbytes;
    b->host = host;
    b->device_ptr = dptr;
    b->release = release;
    b->release_ctx = ctx;
    *out = b;
    return EMBER_SUCCESS;
}

ember_status ember_buffer_wrap_host(void *ptr, size_t nbytes, void (*release)(void *),
                                    void *release_ctx, ember_buffer_t *out)
{
    if (!ptr && nbytes)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_wrap_host: NULL pointer");
    ember_device_t cpu;
    ember_status st = ember_device_get(EMBER_DEVICE_CPU, 0, &cpu);
    if (st != EMBER_SUCCESS)
        return st;
    return wrap(cpu, EMBER_MEM_HOST, ptr, (uint64_t)(uintptr_t)ptr, nbytes, release,
                release_ctx, out);
}

ember_status ember_buffer_wrap_device(ember_device_t dev, uint64_t device_ptr, size_t nbytes,
                                      void (*release)(void *), void *release_ctx,
                                      ember_buffer_t *out)
{
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_wrap_device: NULL device");
    if (!device_ptr && nbytes)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_wrap_device: NULL pointer");
    void *host = dev->info.kind == EMBER_DEVICE_CPU ? (void *)(uintptr_t)device_ptr : NULL;
    return wrap(dev, EMBER_MEM_FOREIGN, host, device_ptr, nbytes, release, release_ctx, out);
}

void ember_buffer_retain(ember_buffer_t b)
{
    if (b)
        __atomic_fetch_add(&b->refcount, 1, __ATOMIC_RELAXED);
}

void ember_buffer_release(ember_buffer_t b)
{
    if (!b || __atomic_sub_fetch(&b->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (b->kind == EMBER_MEM_HOST || b->kind == EMBER_MEM_FOREIGN) {
        if (b->release)
            b->release(b->release_ctx);
    } else {
        mempool_free(b->device, b->block);
        stats_count_free(b->size);
    }
    em_free(b);
}

size_t ember_buffer_size(ember_buffer_t b) { return b ? b->size : 0; }
ember_mem_kind ember_buffer_kind(ember_buffer_t b) { return b ? b->kind : EMBER_MEM_DEVICE; }
ember_device_t ember_buffer_device(ember_buffer_t b) { return b ? b->device : NULL; }
void *ember_buffer_host_ptr(ember_buffer_t b) { return b ? b->host : NULL; }
uint64_t ember_buffer_device_ptr(ember_buffer_t b) { return b ? b->device_ptr : 0; }

ember_status ember_buffer_record_stream(ember_buffer_t b, ember_stream_t stream)
{
    if (!b)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_buffer_record_stream: NULL buffer");
    void *native = NULL;
    ember_status st = stream_native(b->device, stream, &native);
    if (st != EMBER_SUCCESS)
        return st;
    buffer_record_native(b, b->device, native);
    return EMBER_SUCCESS;
}

void buffer_record_native(ember_buffer_t b, struct ember_device *dev, void *native)
{
    if (b && b->block)
        mempool_record_stream(b->device, b->block, native, dev != b->device);
}
