/*
 * graph.c — stream capture into graphs, and their replay.
 *
 * Between ember_stream_begin_capture and ember_stream_end_capture, the
 * launches and copies queued on a stream are recorded instead of run; the
 * graph that results replays them, in order, as one unit. Each device kind
 * does the recording (cuda: cuStreamBeginCapture and an instantiated
 * CUgraphExec; cpu: a list of operations, cpu/cpu_graph.c); this file keeps
 * the handles and the rules CUDA sets around an open capture, so that both
 * kinds refuse the same things: synchronizing the capturing stream or the
 * device, and default-stream work on the device (which would have to wait
 * for the capturing stream: CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, as ember's
 * streams are blocking ones).
 */
#include "devices/device_impl.h"
#include "launch/launch_impl.h"

struct ember_graph {
    struct ember_device *device; /* borrowed from the registry */
    void *native;                /* the kind's executable graph; owned */
    size_t nodes;                /* operations recorded */
};

static const char *kind_name(struct ember_device *d)
{
    return d->info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda";
}

ember_status ember_stream_begin_capture(ember_stream_t s)
{
    if (!s)
        return em_error(EMBER_ERR_INVALID_ARG, "graph capture needs a stream of its own "
                        "(cuda.stream()), not the default stream, which CUDA cannot capture");
    struct ember_device *dev = s->device;
    if (!dev->iface->capture_begin)
        return em_error(EMBER_ERR_NOT_SUPPORTED, "the %s device cannot capture graphs",
                        kind_name(dev));
    if (s->capturing)
        return em_error(EMBER_ERR_INVALID_ARG, "this stream is already capturing a graph; "
                        "end that capture first (captures do not nest)");
    if (!s->native)
        return em_error(EMBER_ERR_INVALID_ARG, "graph capture needs a stream of its own "
                        "(cuda.stream()), not the default stream");
    ember_status st = dev->iface->capture_begin(dev->ctx, s->native);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "beginning a graph capture: ");
    s->capturing = true;
    __atomic_add_fetch(&dev->captures, 1, __ATOMIC_RELAXED);
    return EMBER_SUCCESS;
}

ember_status ember_stream_end_capture(ember_stream_t s, ember_graph_t *out)
{
    if (!s || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_stream_end_capture: NULL argument");
    if (!s->capturing)
        return em_error(EMBER_ERR_INVALID_ARG, "this stream is not capturing a graph "
                        "(begin a capture first)");
    struct ember_device *dev = s->device;
    struct ember_graph *g = em_calloc(1, sizeof *g);
    void *native = NULL;
    size_t nodes = 0;
    /* the capture ends whatever happens next */
    ember_status st = dev->iface->capture_end(dev->ctx, s->native, &native, &nodes);
    s->capturing = false;
    __atomic_sub_fetch(&dev->captures, 1, __ATOMIC_RELAXED);
    if (st != EMBER_SUCCESS) {
        em_free(g);
        return em_error_prefix(st, "ending a graph capture: ");
    }
    if (!g) {
        dev->iface->graph_destroy(dev->ctx, native);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    g->device = dev;
    g->native = native;
    g->nodes = nodes;
    *out = g;
    return EMBER_SUCCESS;
}

bool ember_stream_is_capturing(ember_stream_t s) { return s && s->capturing; }

ember_status ember_stream_check_capture(ember_device_t dev, ember_stream_t s, const char *what)
{
    return stream_capture_check(dev ? dev : s ? s->device : NULL, s, what ? what : "do that");
}

ember_status ember_graph_launch(ember_graph_t g, ember_stream_t s)
{
    if (!g)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_graph_launch: NULL graph");
    struct ember_device *dev = g->device;
    void *native = NULL;
    ember_status st = stream_native(dev, s, &native);
    if (st == EMBER_SUCCESS && s && s->capturing)
        st = em_error(EMBER_ERR_INVALID_ARG, "launching a graph into a stream that is "
                      "capturing one: ember does not nest graphs");
    if (st == EMBER_SUCCESS)
        st = stream_capture_check(dev, s, "launch a graph");
    if (st != EMBER_SUCCESS)
        return st;
    st = dev->iface->graph_launch(dev->ctx, g->native, native);
    if (st != EMBER_SUCCESS)
        return em_error_prefix(st, "launching a graph on %s:%d: ", kind_name(dev),
                               dev->info.ordinal);
    return EMBER_SUCCESS;
}

size_t ember_graph_size(ember_graph_t g) { return g ? g->nodes : 0; }

void ember_graph_destroy(ember_graph_t g)
{
    if (!g)
        return;
    g->device->iface->graph_destroy(g->device->ctx, g->native);
    em_free(g);
}

/* CUDA semantics: "cudaErrorStreamCaptureUnsupported: the operation is not
 * permitted when the stream is capturing" (synchronize, query), and
 * "cudaErrorStreamCaptureImplicit: the operation would have resulted in an
 * implicit dependency on a capturing stream" (legacy default-stream work
 * while a blocking stream captures). */
ember_status stream_capture_check(ember_device_t dev, ember_stream_t s, const char *what)
{
    if (s && s->capturing)
        return em_error(EMBER_ERR_INVALID_ARG, "cannot %s: the stream is capturing a graph, "
                        "and work captured is not run until the graph is launched (CUDA "
                        "refuses synchronous operations during a capture); end the capture "
                        "first", what);
    if (!s && dev && __atomic_load_n(&dev->captures, __ATOMIC_RELAXED) > 0)
        return em_error(EMBER_ERR_INVALID_ARG, "cannot %s on the default stream of %s:%d while "
                        "a graph capture is open on one of its streams (CUDA: an implicit "
                        "dependency on a capturing stream); queue it on the capturing stream, "
                        "or after the capture ends", what, kind_name(dev), dev->info.ordinal);
    return EMBER_SUCCESS;
}
