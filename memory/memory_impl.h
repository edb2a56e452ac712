/*
 * memory_impl.h — internal view of memory/: the buffer object, the caching
 * pool's blocks and the transfer counters.
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
    struct pool_block *block;     /* owned: the pool's block (NULL for wrapped memory) */
};

/* Streams a block can remember between its allocation and its free. A
 * block used on more is not cached (see pool.c). */
#define POOL_BLOCK_STREAMS 4

/* One allocation of the pool's: held by a buffer while it lives, then kept
 * in a free list of its size class until it is handed out again or given
 * back to the driver. */
struct pool_block {
    void *host;                            /* host address, NULL for device memory */
    uint64_t device_ptr;                   /* device address */
    size_t size;                           /* size-class bytes allocated from the driver */
    ember_mem_kind kind;
    void *streams[POOL_BLOCK_STREAMS];     /* native streams that used it; [0] allocated it */
    void *events[POOL_BLOCK_STREAMS];      /* owned; recorded on streams[i] at free */
    int nstreams;                          /* used entries of streams */
    bool untracked;                        /* used where the pool cannot follow: not cached */
    struct pool_block *next;               /* in a free list */
};

/* True when memory of this kind counts as the host side of a transfer. */
static inline bool mem_is_host_side(ember_mem_kind kind)
{
    return kind == EMBER_MEM_HOST || kind == EMBER_MEM_PINNED || kind == EMBER_MEM_MAPPED ||
           kind == EMBER_MEM_MANAGED || kind == EMBER_MEM_MANAGED_HOST;
}

/* ---- array.c --------------------------------------------------------- */
/* Byte range [lo, hi) of the buffer the view's elements occupy. */
EM_HIDDEN ember_status array_span(const ember_array *a, int64_t *lo, int64_t *hi);

/* ---- buffer.c -------------------------------------------------------- */

/* Notes that work queued on native stream `native` of device `dev` uses
 * the buffer (see ember_buffer_record_stream). */
EM_HIDDEN void buffer_record_native(ember_buffer_t b, struct ember_device *dev, void *native);

/* ---- pool.c (prefix mempool_: the cpu worker pool has pool_) --------- */

/* A block of at least `nbytes` of `kind` on `dev` for first use on native
 * stream `stream`. Caller owns *out and gives it back with mempool_free. */
EM_HIDDEN ember_status mempool_alloc(struct ember_device *dev, ember_mem_kind kind,
                                     size_t nbytes, void *stream, struct pool_block **out);
/* Takes the block back: cached (after recording its streams' events) or
 * freed. Never synchronises, never fails. */
EM_HIDDEN void mempool_free(struct ember_device *dev, struct pool_block *blk);
/* Notes that work on native stream `stream` of `dev` uses the block. A
 * stream of another device than the block's passes `foreign`. */
EM_HIDDEN void mempool_record_stream(struct ember_device *dev, struct pool_block *blk,
                                     void *stream, bool foreign);

/* ---- stats.c --------------------------------------------------------- */
EM_HIDDEN void stats_count_copy(ember_copy_dir dir, uint64_t bytes);
EM_HIDDEN void stats_count_alloc(uint64_t bytes);
EM_HIDDEN void stats_count_free(uint64_t bytes);

#endif /* EMBER_MEMORY_IMPL_H */
