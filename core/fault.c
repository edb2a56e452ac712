/*
 * fault.c — compiled-in fault injection (see include/ember/ember_test.h).
 *
 * Each site has a countdown. Disarmed (0) it costs one relaxed load; armed,
 * every call decrements it and the call that brings it to zero fails.
 */
#include <stdatomic.h>

#include "core.h"

static atomic_long fault_countdown[EMBER_FAULT_SITE_COUNT];
static atomic_long fault_seen[EMBER_FAULT_SITE_COUNT];
static atomic_bool fault_done[EMBER_FAULT_SITE_COUNT];

void ember_fault_fail_at(ember_fault_site site, long n)
{
    if ((unsigned)site >= EMBER_FAULT_SITE_COUNT || n < 0)
        return;
    atomic_store(&fault_seen[site], 0);
    atomic_store(&fault_done[site], false);
    atomic_store(&fault_countdown[site], n);
}

long ember_fault_calls(ember_fault_site site)
{
    if ((unsigned)site >= EMBER_FAULT_SITE_COUNT)
        return 0;
    return atomic_load(&fault_seen[site]);
}

bool ember_fault_fired(ember_fault_site site)
{
    if ((unsigned)site >= EMBER_FAULT_SITE_COUNT)
        return false;
    return atomic_load(&fault_done[site]);
}

bool fault_hit(ember_fault_site site)
{
    if (atomic_load_explicit(&fault_countdown[site], memory_order_relaxed) == 0)
        return false;
    atomic_fetch_add(&fault_seen[site], 1);
    long left = atomic_fetch_sub(&fault_countdown[site], 1) - 1;
    if (left == 0) {
        atomic_store(&fault_done[site], true);
        return true;
    }
    if (left < 0) /* lost a race with a concurrent disarm: undo */
        atomic_store(&fault_countdown[site], 0);
    return false;
}
