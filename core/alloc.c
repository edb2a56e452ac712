/*
 * alloc.c — the host allocator every part of ember uses.
 *
 * One hook point (Lua's lmem.c idea): tests arm EMBER_FAULT_ALLOC to make the
 * Nth allocation fail, and every failure path in ember gets exercised.
 */
#include <string.h>

#include "core.h"

static void *oom(size_t size)
{
    em_error(EMBER_ERR_OUT_OF_MEMORY, "out of host memory allocating %zu bytes", size);
    return NULL;
}

void *em_malloc(size_t size)
{
    if (fault_hit(EMBER_FAULT_ALLOC))
        return oom(size);
    void *p = malloc(size ? size : 1);
    return p ? p : oom(size);
}

void *em_calloc(size_t count, size_t size)
{
    if (fault_hit(EMBER_FAULT_ALLOC))
        return oom(count * size);
    void *p = calloc(count ? count : 1, size ? size : 1);
    return p ? p : oom(count * size);
}

void em_free(void *ptr) { free(ptr); }

void *em_aligned_alloc(size_t align, size_t size)
{
    if (fault_hit(EMBER_FAULT_ALLOC))
        return oom(size);
    void *p = NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return oom(size);
    return p;
}

void em_aligned_free(void *ptr) { free(ptr); }

char *em_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = em_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
