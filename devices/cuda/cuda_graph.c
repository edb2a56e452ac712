/*
 * cuda_graph.c — graph capture on a CUDA device: the driver's stream
 * capture.
 *
 * cuStreamBeginCapture makes the driver record, instead of run, what is
 * queued on the stream (ember's launches go through cuLaunchKernel on that
 * stream and its copies through cuMemcpy*Async, so both are captured);
 * cuStreamEndCapture returns the CUgraph, which is instantiated at once
 * into the CUgraphExec that ember keeps and launches (the CUgraph itself is
 * not needed after that). RELAXED mode: allocating and freeing memory while
 * a capture is open stay allowed, as ember's pool may do both.
 */
#include "devices/cuda/cuda_impl.h"

static ember_status bind(const struct cuda_ctx *c)
{
    return CUDA_CALL(cuCtxSetCurrent, c->primary);
}

ember_status cuda_capture_begin(void *ctx, void *stream)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st
                               : CUDA_CALL(cuStreamBeginCapture, (CUstream)stream,
                                           CU_STREAM_CAPTURE_MODE_RELAXED);
}

ember_status cuda_capture_end(void *ctx, void *stream, void **graph, size_t *nodes)
{
    CUgraph g = NULL;
    CUgraphExec exec = NULL;
    size_t n = 0;
    ember_status st = bind(ctx);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuStreamEndCapture, (CUstream)stream, &g);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuGraphGetNodes, g, NULL, &n);
    if (st == EMBER_SUCCESS)
        st = CUDA_CALL(cuGraphInstantiate, &exec, g, 0);
    if (g)
        CUDA_RELEASE(cuGraphDestroy, g);
    if (st != EMBER_SUCCESS)
        return st;
    *graph = exec;
    *nodes = n;
    return EMBER_SUCCESS;
}

ember_status cuda_graph_launch(void *ctx, void *graph, void *stream)
{
    ember_status st = bind(ctx);
    return st != EMBER_SUCCESS ? st
                               : CUDA_CALL(cuGraphLaunch, (CUgraphExec)graph, (CUstream)stream);
}

/* CUDA semantics: "cuGraphExecDestroy: destroys the executable graph ...
 * if it is currently executing, it will complete". */
void cuda_graph_destroy(void *ctx, void *graph)
{
    if (!graph)
        return;
    const struct cuda_ctx *c = ctx;
    CUDA_RELEASE(cuCtxSetCurrent, c->primary);
    CUDA_RELEASE(cuGraphExecDestroy, (CUgraphExec)graph);
}
