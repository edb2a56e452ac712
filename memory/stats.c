/*
 * stats.c — process-wide transfer and allocation counters.
 *
 * Tests use them to assert that ember moved exactly the bytes it should
 * (a kernel that only reads a host array must not copy it back).
 */
#include <string.h>

#include "memory/memory_impl.h"

static uint64_t stat_bytes[EMBER_COPY_DIR_COUNT];
static uint64_t stat_copies[EMBER_COPY_DIR_COUNT];
static uint64_t stat_allocs, stat_frees, stat_live_bytes;

void stats_count_copy(ember_copy_dir dir, uint64_t bytes)
{
    __atomic_fetch_add(&stat_bytes[dir], bytes, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stat_copies[dir], 1, __ATOMIC_RELAXED);
}

void stats_count_alloc(uint64_t bytes)
{
    __atomic_fetch_add(&stat_allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stat_live_bytes, bytes, __ATOMIC_RELAXED);
}

void stats_count_free(uint64_t bytes)
{
    __atomic_fetch_add(&stat_frees, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&stat_live_bytes, bytes, __ATOMIC_RELAXED);
}

void ember_stats_get(ember_transfer_stats *out)
{
    if (!out)
        return;
    for (int d = 0; d < EMBER_COPY_DIR_COUNT; d++) {
        out->bytes[d] = __atomic_load_n(&stat_bytes[d], __ATOMIC_RELAXED);
        out->copies[d] = __atomic_load_n(&stat_copies[d], __ATOMIC_RELAXED);
    }
    out->allocations = __atomic_load_n(&stat_allocs, __ATOMIC_RELAXED);
    out->frees = __atomic_load_n(&stat_frees, __ATOMIC_RELAXED);
    out->bytes_allocated = __atomic_load_n(&stat_live_bytes, __ATOMIC_RELAXED);
}

/* Resets the transfer counters; live-allocation figures are not history
 * and stay. */
void ember_stats_reset(void)
{
    for (int d = 0; d < EMBER_COPY_DIR_COUNT; d++) {
        __atomic_store_n(&stat_bytes[d], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&stat_copies[d], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&stat_allocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&stat_frees, 0, __ATOMIC_RELAXED);
}
