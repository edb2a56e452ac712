/*
 * cpu_graph.c — graph capture on the cpu device: the work queued on a
 * capturing stream is recorded, not run, and a graph replays the record.
 *
 * The cpu device's streams run each operation as it is submitted; while a
 * capture is open on one, its copies (cpu_copy) and kernel launches (the
 * Python launch path calls host_capture_launch) and byte fills (cpu_memset)
 * are appended to a list
 * instead, as CUDA's stream capture records nodes without executing them.
 * The list keeps what replay needs: a copy's two addresses and size, a
 * launch's kernel, configuration and a copy of its packed argument buffer
 * (so scalars are frozen at their captured values and arrays are the same
 * addresses, as in a CUDA graph). Replay runs the operations in order on
 * the calling thread, each launch over the worker pool.
 */
#include <stdio.h>
#include <string.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

enum { OP_COPY, OP_MEMSET, OP_LAUNCH };

typedef struct CpuOp {
    int kind;                  /* OP_COPY, OP_MEMSET or OP_LAUNCH */
    uint64_t dst, src;         /* copy: host addresses; memset: dst and the byte in src */
    size_t nbytes;             /* copy, memset: bytes; launch: of `args` */
    const HostKernel *kernel;  /* launch: borrowed, kept alive through `keep` */
    int64_t grid[3], block[3]; /* launch configuration */
    size_t shared;             /* dynamic shared memory per block */
    char *args;                /* owned copy of the packed arguments */
    void *keep;                /* released with `release` when the op goes */
    void (*release)(void *keep);
} CpuOp;

struct cpu_graph {
    CpuOp *ops; /* owned */
    size_t n, cap;
};

static void op_free(CpuOp *op)
{
    em_free(op->args);
    if (op->release)
        op->release(op->keep);
}

static ember_status graph_push(struct cpu_graph *g, const CpuOp *op)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        CpuOp *ops = em_malloc(cap * sizeof *ops);
        if (!ops)
            return EMBER_ERR_OUT_OF_MEMORY;
        if (g->n)
            memcpy(ops, g->ops, g->n * sizeof *ops);
        em_free(g->ops);
        g->ops = ops;
        g->cap = cap;
    }
    g->ops[g->n++] = *op;
    return EMBER_SUCCESS;
}

struct cpu_graph *cpu_stream_capture(void *stream)
{
    return stream ? ((struct cpu_stream *)stream)->capture : NULL;
}

ember_status cpu_capture_begin(void *ctx, void *stream)
{
    struct cpu_stream *s = stream;
    struct cpu_graph *g = em_calloc(1, sizeof *g);
    if (!g)
        return EMBER_ERR_OUT_OF_MEMORY;
    s->capture = g;
    return EMBER_SUCCESS;
}

ember_status cpu_capture_end(void *ctx, void *stream, void **graph, size_t *nodes)
{
    struct cpu_stream *s = stream;
    *graph = s->capture;
    *nodes = s->capture->n;
    s->capture = NULL;
    return EMBER_SUCCESS;
}

ember_status cpu_capture_copy(struct cpu_graph *g, uint64_t dst, uint64_t src, size_t nbytes)
{
    CpuOp op = {.kind = OP_COPY, .dst = dst, .src = src, .nbytes = nbytes};
    return graph_push(g, &op);
}

ember_status cpu_capture_memset(struct cpu_graph *g, uint64_t dst, uint8_t value, size_t nbytes)
{
    CpuOp op = {.kind = OP_MEMSET, .dst = dst, .src = value, .nbytes = nbytes};
    return graph_push(g, &op);
}

ember_status host_capture_launch(void *stream, const HostKernel *k, const int64_t grid[3],
                                 const int64_t block[3], size_t shared, const char *args,
                                 size_t args_size, void *keep, void (*release)(void *))
{
    struct cpu_graph *g = cpu_stream_capture(stream);
    if (!g)
        return em_error(EMBER_ERR_INTERNAL, "host_capture_launch: the stream is not capturing");
    CpuOp op = {.kind = OP_LAUNCH, .kernel = k, .shared = shared, .nbytes = args_size,
                .args = em_malloc(args_size ? args_size : 1)};
    if (!op.args)
        return EMBER_ERR_OUT_OF_MEMORY;
    if (args_size)
        memcpy(op.args, args, args_size);
    memcpy(op.grid, grid, sizeof op.grid);
    memcpy(op.block, block, sizeof op.block);
    ember_status st = graph_push(g, &op);
    if (st != EMBER_SUCCESS) {
        em_free(op.args);
        return st;
    }
    /* from here the graph owns `keep` */
    g->ops[g->n - 1].keep = keep;
    g->ops[g->n - 1].release = release;
    return EMBER_SUCCESS;
}

/* Replays the operations in capture order; stops at the first failure. */
ember_status cpu_graph_launch(void *ctx, void *graph, void *stream)
{
    struct cpu_graph *g = graph;
    struct ember_device *cpu = NULL;
    ember_status st = ember_device_get(EMBER_DEVICE_CPU, 0, &cpu);
    for (size_t i = 0; st == EMBER_SUCCESS && i < g->n; i++) {
        const CpuOp *op = &g->ops[i];
        if (op->kind == OP_COPY)
            memmove((void *)(uintptr_t)op->dst, (const void *)(uintptr_t)op->src, op->nbytes);
        else if (op->kind == OP_MEMSET)
            memset((void *)(uintptr_t)op->dst, (int)op->src, op->nbytes);
        else
            st = host_launch_shared(op->kernel, cpu, op->grid, op->block, op->shared, op->args);
        int site, w[6];
        if (st == EMBER_ERR_KERNEL_FAULT &&
            sscanf(ember_last_error(), HOST_RAISE_FORMAT, &site, &w[0], &w[1], &w[2], &w[3],
                   &w[4], &w[5]) == 7) /* the Python launch path names the exception */
            st = em_error(EMBER_ERR_KERNEL_FAULT, "%s: a raise or failed assert in thread "
                          "(%d, %d, %d) of block (%d, %d, %d) stopped the kernel (operation %zu "
                          "of the graph)", host_kernel_site(op->kernel, site), w[0], w[1],
                          w[2], w[3], w[4], w[5], i + 1);
    }
    return st;
}

void cpu_graph_destroy(void *ctx, void *graph)
{
    struct cpu_graph *g = graph;
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        op_free(&g->ops[i]);
    em_free(g->ops);
    em_free(g);
}
