/*
 * host_arrays.c — the memory of arrays that ember.jit functions create
 * (np.empty, np.zeros, np.full, np.arange ...).
 *
 * Each call of a jitted function has an arena (HostDims.arena, zeroed by
 * the caller with the rest of HostDims): a list of the blocks the call
 * allocated. The compiled code calls host_array_new by address (devices/cpu/lower_jit.c
 * new_array). When the call returns, the caller (python/ext/compile.c)
 * detaches the blocks that returned arrays point into and hands them to
 * NumPy, which frees them with host_block_free when the last reference
 * dies; every other block is freed with the arena (host_arena_release).
 *
 * A loop that allocates would otherwise hold every iteration's arrays until
 * the call ends. So the code calls host_arena_collect at the end of each
 * iteration of such a loop (of the function itself, not of an inlined
 * callee) with the data pointers of every array its variables hold: once
 * the arena has grown past a threshold, blocks no variable points into are
 * freed. At that point no temporary holds an array (statement boundary),
 * and arrays cannot be stored anywhere but in variables and the return
 * value, so the variables are all the roots there are.
 *
 * Data is 64-byte aligned (cache lines, AVX-512 loads); a block's header
 * sits just before its data.
 */
#include <string.h>

#include "devices/cpu/host_jit.h"

#define DATA_ALIGN 64
/* collect once the arena holds this much more than after the last collection */
#define COLLECT_MIN_BYTES ((int64_t)4 << 20)
#define COLLECT_MIN_BLOCKS 4096

struct HostBlock {
    struct HostBlock *next, *prev; /* the arena's list (NULL once detached) */
    void *raw;                     /* what malloc returned */
    int64_t nbytes;                /* of data */
    int64_t mark;                  /* host_arena_collect: reached from a root */
};

static HostBlock *header_of(void *data) { return (HostBlock *)data - 1; }
static char *data_of(HostBlock *b) { return (char *)(b + 1); }

void *host_array_new(HostDims *dims, const int64_t *shape, int64_t ndim, int64_t itemsize,
                     int64_t zero)
{
    int64_t count = 1, nbytes;
    bool too_big = false;
    for (int64_t i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            dims->fault = KERNEL_FAULT_NEGATIVE_DIM;
            return NULL;
        }
        too_big |= __builtin_mul_overflow(count, shape[i], &count);
    }
    /* NumPy's limit: size * itemsize must fit in a signed pointer-size int */
    if (too_big || __builtin_mul_overflow(count, itemsize, &nbytes) ||
        nbytes > INT64_MAX - (int64_t)(sizeof(HostBlock) + DATA_ALIGN)) {
        dims->fault = KERNEL_FAULT_TOO_BIG;
        return NULL;
    }
    size_t total = (size_t)nbytes + sizeof(HostBlock) + DATA_ALIGN;
    void *raw = zero ? em_calloc(1, total) : em_malloc(total); /* fault injection: alloc.c */
    if (!raw) {
        dims->fault = KERNEL_FAULT_NO_MEMORY;
        dims->fault_bytes = nbytes;
        return NULL;
    }
    uintptr_t d = ((uintptr_t)raw + sizeof(HostBlock) + DATA_ALIGN - 1) & ~(uintptr_t)(DATA_ALIGN - 1);
    HostBlock *b = header_of((void *)d);
    b->raw = raw;
    b->nbytes = nbytes;
    b->mark = 0;
    HostArena *a = &dims->arena;
    b->prev = NULL;
    b->next = a->head;
    if (a->head)
        a->head->prev = b;
    a->head = b;
    a->bytes += nbytes;
    a->blocks++;
    return (void *)d;
}

static void unlink_block(HostArena *a, HostBlock *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        a->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->next = b->prev = NULL;
    a->bytes -= b->nbytes;
    a->blocks--;
}

/* The block whose data [start, end] holds p (the end too: a view past the
 * last element, as a[n:] of a length-n array, points there). */
static HostBlock *find_block(const HostArena *a, const void *p)
{
    for (HostBlock *b = a->head; b; b = b->next)
        if ((const char *)p >= data_of(b) && (const char *)p <= data_of(b) + b->nbytes)
            return b;
    return NULL;
}

void host_arena_collect(HostDims *dims, void *const *roots, int64_t nroots)
{
    HostArena *a = &dims->arena;
    if (a->bytes < a->collect_bytes + COLLECT_MIN_BYTES &&
        a->blocks < a->collect_blocks + COLLECT_MIN_BLOCKS)
        return;
    for (int64_t i = 0; i < nroots; i++) {
        HostBlock *b = roots[i] ? find_block(a, roots[i]) : NULL;
        if (b)
            b->mark = 1;
    }
    for (HostBlock *b = a->head, *next; b; b = next) {
        next = b->next;
        if (b->mark) {
            b->mark = 0;
            continue;
        }
        unlink_block(a, b);
        em_free(b->raw);
    }
    a->collect_bytes = a->bytes;
    a->collect_blocks = a->blocks;
}

void *host_arena_owner(const HostArena *a, const void *p)
{
    HostBlock *b = find_block(a, p);
    return b ? data_of(b) : NULL;
}

bool host_block_contains(void *data, const void *p)
{
    return (const char *)p >= (char *)data && (const char *)p <= (char *)data + header_of(data)->nbytes;
}

void host_arena_detach(HostArena *a, void *data)
{
    unlink_block(a, header_of(data));
}

void host_block_free(void *data)
{
    if (data)
        em_free(header_of(data)->raw);
}

void host_arena_release(HostArena *a)
{
    for (HostBlock *b = a->head, *next; b; b = next) {
        next = b->next;
        em_free(b->raw);
    }
    memset(a, 0, sizeof *a);
}
