/*
 * prange.c — the runtime of ember.jit(parallel=True) prange loops.
 *
 * core/lower.c outlines the body of an outermost prange loop into
 * `body(ctx, first, last, partial)`, which runs iterations [first, last) of
 * the loop's index space and leaves its reduction partials (each starting
 * at the operator's identity) in `partial`, and `combine(ctx, partial)`,
 * which folds one chunk's partials into the function's variables. This
 * file splits the iterations into PRANGE_CHUNKS_PER_WORKER static chunks per
 * worker of the cpu device's pool, which the workers take in turn (so that
 * uneven iterations, a triangle `for j in range(i + 1, n)`, balance), then
 * combines the partials serially in chunk order (so a result depends only on
 * the number of workers).
 *
 * The pool is found lazily, at the first prange that runs: ember.jit calls
 * open no device otherwise. Without it (the registry failed) the loop runs
 * as one chunk on the calling thread.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

#define PRANGE_CHUNKS_PER_WORKER 8

typedef struct PrangeRun {
    host_prange_body_fn body;
    void *ctx;
    int64_t n, nchunks;
    char *partials;       /* nchunks records of partial_bytes */
    int64_t partial_bytes;
} PrangeRun;

static void run_chunk(void *arg, int64_t chunk, int worker)
{
    (void)worker;
    const PrangeRun *r = arg;
    /* chunk c: [c * n / nchunks, (c + 1) * n / nchunks), without overflow */
    int64_t q = r->n / r->nchunks, rem = r->n % r->nchunks;
    int64_t first = chunk * q + (chunk < rem ? chunk : rem);
    int64_t last = first + q + (chunk < rem);
    r->body(r->ctx, first, last, r->partials + chunk * r->partial_bytes);
}

static pool *cpu_pool(void)
{
    ember_device_t dev = NULL;
    pool *p = NULL;
    if (ember_device_get(EMBER_DEVICE_CPU, 0, &dev) != EMBER_SUCCESS ||
        cpu_device_pool(dev, &p) != EMBER_SUCCESS)
        return NULL;
    return p;
}

void host_prange_run(host_prange_body_fn body, void *ctx, int64_t n, int64_t partial_bytes,
                     host_prange_combine_fn combine)
{
    if (n <= 0)
        return;
    char local[HOST_PRANGE_MAX_PARTIAL];
    PrangeRun r = {body, ctx, n, 1, local, partial_bytes};
    pool *p = n > 1 ? cpu_pool() : NULL;
    int64_t workers = p ? pool_size(p) : 1;
    if (workers > 1) {
        int64_t want = workers * PRANGE_CHUNKS_PER_WORKER;
        int64_t nchunks = n < want ? n : want;
        char *buf = partial_bytes ? malloc((size_t)(nchunks * partial_bytes)) : local;
        if (buf) {
            r.nchunks = nchunks;
            r.partials = buf;
        }
    }
    if (r.nchunks > 1)
        pool_run(p, r.nchunks, run_chunk, &r);
    else
        run_chunk(&r, 0, 0);
    for (int64_t c = 0; c < r.nchunks; c++)
        if (partial_bytes)
            combine(ctx, r.partials + c * partial_bytes);
    if (r.partials != local)
        free(r.partials);
}
