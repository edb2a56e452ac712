/*
 * test_host_arrays.c — the per-call arena of arrays that ember.jit
 * functions create (devices/cpu/host_arrays.c), driven directly as the
 * compiled code and python/ext/compile.c drive it: allocation (alignment,
 * zeroing, faults for negative, overflowing and refused sizes), the loop
 * collection keeping exactly the blocks its roots point into (views and
 * one-past-the-end pointers included), detaching a block for NumPy and
 * releasing the rest. Run under ASan/LSan in CI: a leaked or doubly freed
 * block fails the build.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ember/ember_test.h"
#include "devices/cpu/host_jit.h"

static void test_alloc(void)
{
    HostDims d;
    memset(&d, 0, sizeof d);
    int64_t shape[2] = {3, 5};
    double *z = host_array_new(&d, shape, 2, 8, 1);
    CHECK(z && (uintptr_t)z % 64 == 0);
    for (int i = 0; i < 15; i++)
        CHECK(z[i] == 0.0);
    int64_t none[1] = {0};
    char *e = host_array_new(&d, none, 1, 4, 0);
    CHECK(e && (uintptr_t)e % 64 == 0 && e != (char *)z);
    CHECK(d.arena.blocks == 2 && d.arena.bytes == 120);
    CHECK(host_arena_owner(&d.arena, z + 7) == z);
    CHECK(host_arena_owner(&d.arena, z + 15) == z); /* one past the end: a[15:] */
    CHECK(host_arena_owner(&d.arena, e) == e);
    CHECK(host_arena_owner(&d.arena, &d) == NULL);
    CHECK(d.fault == 0);

    int64_t neg[2] = {2, -1};
    CHECK(host_array_new(&d, neg, 2, 8, 0) == NULL && d.fault == KERNEL_FAULT_NEGATIVE_DIM);
    d.fault = 0;
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    CHECK(host_array_new(&d, huge, 2, 8, 0) == NULL && d.fault == KERNEL_FAULT_TOO_BIG);
    d.fault = 0;
    /* the allocator refuses: the Nth allocation fails (core/alloc.c's hook);
     * a real 2**60-byte request is left out, ASan would abort on it */
    int64_t some[1] = {1000};
    ember_fault_fail_at(EMBER_FAULT_ALLOC, 1);
    CHECK(host_array_new(&d, some, 1, 8, 1) == NULL && d.fault == KERNEL_FAULT_NO_MEMORY);
    CHECK(ember_fault_fired(EMBER_FAULT_ALLOC));
    ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
    CHECK(d.fault_bytes == 8000);
    CHECK(d.arena.blocks == 2); /* failures add nothing */
    host_arena_release(&d.arena);
    CHECK(d.arena.head == NULL && d.arena.blocks == 0 && d.arena.bytes == 0);
}

static void test_collect(void)
{
    HostDims d;
    memset(&d, 0, sizeof d);
    int64_t small[1] = {16};
    double *kept = host_array_new(&d, small, 1, 8, 0);
    double *view_kept = host_array_new(&d, small, 1, 8, 0);
    double *dropped = host_array_new(&d, small, 1, 8, 0);
    void *roots[3] = {kept, view_kept + 16 /* an empty view at its end */, NULL};
    host_arena_collect(&d, roots, 3); /* below the threshold: nothing happens */
    CHECK(d.arena.blocks == 3);
    /* past the threshold (4096 blocks): only the rooted blocks stay */
    for (int i = 0; i < 5000; i++)
        CHECK(host_array_new(&d, small, 1, 8, 0) != NULL);
    host_arena_collect(&d, roots, 3);
    CHECK(d.arena.blocks == 2);
    CHECK(host_arena_owner(&d.arena, kept) == kept);
    CHECK(host_arena_owner(&d.arena, view_kept) == view_kept);
    CHECK(host_arena_owner(&d.arena, dropped) == NULL);
    CHECK(d.arena.bytes == 2 * 16 * 8);
    /* a block handed to NumPy leaves the arena and is freed on its own */
    host_arena_detach(&d.arena, kept);
    CHECK(d.arena.blocks == 1 && host_arena_owner(&d.arena, kept) == NULL);
    CHECK(host_block_contains(kept, kept + 16) && !host_block_contains(kept, kept + 17));
    host_arena_release(&d.arena);
    host_block_free(kept);
    host_block_free(NULL);
}

int main(void)
{
    test_alloc();
    test_collect();
    return check_report("test_host_arrays");
}
