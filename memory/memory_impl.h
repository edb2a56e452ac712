/*
 * memory_impl.h — internal view of memory/: the buffer object and the
 * transfer counters.
 */
#ifndef EMBER_MEMORY_IMPL_H
#define EMBER_MEMORY_IMPL_H

#include "devices/device_impl.h"

struct ember_buffer {
    long refcount;                /* atomic; the buffer is freed when it reaches 0 */
    struct ember_device *device;  /* borrowed from the registry */
    ember_mem_kind kind;
    size_t size;                  /* bytes */
    void *host;                   /* host address, NULL if not host-accessible */
    uint64_t device_ptr;          /* device address (== host for cpu memory) */
    void (*release)(void *);      /* wrapped memory: called with release_ctx at the end */
    void *release_ctx;
};

/* True when memory of this kind counts as the host side of a transfer. */
static inline bool mem_is_host_side(ember_mem_kind kind)
{
    return kind == EMBER_MEM_HOST || kind == EMBER_MEM_PINNED || kind == EMBER_MEM_MAPPED;
}

/* ---- array.c --------------------------------------------------------- */
/* Byte range [lo, hi) of the buffer the view's elements occupy. */
EM_HIDDEN ember_status array_span(const ember_array *a, int64_t *lo, int64_t *hi);

/* ---- stats.c --------------------------------------------------------- */
EM_HIDDEN void stats_count_copy(ember_copy_dir dir, uint64_t bytes);
EM_HIDDEN void stats_count_alloc(uint64_t bytes);
EM_HIDDEN void stats_count_free(uint64_t bytes);

#endif /* EMBER_MEMORY_IMPL_H */
