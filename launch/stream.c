/*
 * stream.c — streams and events: ember's handles over each device kind's
 * native queue and marker objects.
 *
 * A handle remembers its device, so later calls (record, elapsed time) can
 * check that the objects they mix belong to one device. A NULL stream is the
 * device's default stream everywhere.
 */
#include "devices/device_impl.h"
#include "launch/launch_impl.h"

ember_status ember_stream_create(ember_device_t dev, ember_stream_t *out)
{
    if (!dev || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_stream_create: NULL argument");
    struct ember_stream *s = em_calloc(1, sizeof *s);
    if (!s)
        return EMBER_ERR_OUT_OF_MEMORY;
    ember_status st = dev->iface->stream_create(dev->ctx, &s->native);
    if (st != EMBER_SUCCESS) {
        em_free(s);
        return st;
    }
    s->device = dev;
    *out = s;
    return EMBER_SUCCESS;
}

ember_status ember_stream_wrap(ember_device_t dev, void *native, ember_stream_t *out)
{
    if (!dev || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_stream_wrap: NULL argument");
    if (native && dev->info.kind == EMBER_DEVICE_CPU)
        return em_error(EMBER_ERR_NOT_SUPPORTED, "the cpu device has no foreign streams to use "
                        "(handle %p): foreign streams are CUDA streams", native);
    struct ember_stream *s = em_calloc(1, sizeof *s);
    if (!s)
        return EMBER_ERR_OUT_OF_MEMORY;
    s->device = dev;
    s->native = native;
    s->borrowed = true;
    *out = s;
    return EMBER_SUCCESS;
}

void *ember_stream_native(ember_stream_t s)
{
    return s ? s->native : NULL;
}

void ember_stream_destroy(ember_stream_t s)
{
    if (!s)
        return;
    if (s->capturing) { /* an abandoned capture: its work is dropped */
        ember_graph_t g = NULL;
        if (ember_stream_end_capture(s, &g) == EMBER_SUCCESS)
            ember_graph_destroy(g);
        else
            ember_clear_error();
    }
    if (s->borrowed) {
        em_free(s);
        return;
    }
    s->device->iface->stream_synchronize(s->device->ctx, s->native);
    s->device->iface->stream_destroy(s->device->ctx, s->native);
    em_free(s);
}

/* The native handle of `s` after checking it belongs to `dev`. */
ember_status stream_native(ember_device_t dev, ember_stream_t s, void **native)
{
    if (!s) {
        *native = NULL;
        return EMBER_SUCCESS;
    }
    if (s->device != dev)
        return em_error(EMBER_ERR_DEVICE_MISMATCH,
                        "the stream belongs to %s %d but the work is on %s %d",
                        s->device->info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda",
                        s->device->info.ordinal,
                        dev->info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda", dev->info.ordinal);
    *native = s->native;
    return EMBER_SUCCESS;
}

ember_status ember_stream_synchronize(ember_device_t dev, ember_stream_t s)
{
    if (!dev && s)
        dev = s->device;
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_stream_synchronize: NULL device");
    void *native = NULL;
    ember_status st = stream_native(dev, s, &native);
    if (st == EMBER_SUCCESS)
        st = stream_capture_check(dev, s, "synchronize");
    if (st != EMBER_SUCCESS)
        return st;
    return dev->iface->stream_synchronize(dev->ctx, native);
}

ember_status ember_stream_query(ember_device_t dev, ember_stream_t s)
{
    if (!dev && s)
        dev = s->device;
    if (!dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_stream_query: NULL device");
    void *native = NULL;
    ember_status st = stream_native(dev, s, &native);
    if (st == EMBER_SUCCESS && s && s->capturing)
        st = stream_capture_check(dev, s, "query");
    if (st != EMBER_SUCCESS)
        return st;
    return dev->iface->stream_query(dev->ctx, native);
}

ember_device_t ember_stream_device(ember_stream_t s) { return s ? s->device : NULL; }

ember_status ember_event_create(ember_device_t dev, bool timing, ember_event_t *out)
{
    if (!dev || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_create: NULL argument");
    struct ember_event *e = em_calloc(1, sizeof *e);
    if (!e)
        return EMBER_ERR_OUT_OF_MEMORY;
    ember_status st = dev->iface->event_create(dev->ctx, timing, &e->native);
    if (st != EMBER_SUCCESS) {
        em_free(e);
        return st;
    }
    e->device = dev;
    e->timing = timing;
    *out = e;
    return EMBER_SUCCESS;
}

void ember_event_destroy(ember_event_t e)
{
    if (!e)
        return;
    e->device->iface->event_destroy(e->device->ctx, e->native);
    em_free(e);
}

ember_status ember_event_record(ember_event_t e, ember_stream_t s)
{
    if (!e)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_record: NULL event");
    void *native = NULL;
    ember_status st = stream_native(e->device, s, &native);
    if (st == EMBER_SUCCESS && s && s->capturing)
        st = em_error(EMBER_ERR_NOT_SUPPORTED, "recording an event on a stream that is "
                      "capturing a graph: ember's graphs hold launches and copies only");
    else if (st == EMBER_SUCCESS)
        st = stream_capture_check(e->device, s, "record an event");
    if (st != EMBER_SUCCESS)
        return st;
    st = e->device->iface->event_record(e->device->ctx, e->native, native);
    if (st == EMBER_SUCCESS)
        e->recorded = true;
    return st;
}

ember_status ember_event_synchronize(ember_event_t e)
{
    if (!e)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_synchronize: NULL event");
    if (!e->recorded)
        return EMBER_SUCCESS; /* as CUDA: an unrecorded event is complete */
    return e->device->iface->event_synchronize(e->device->ctx, e->native);
}

ember_status ember_event_query(ember_event_t e)
{
    if (!e)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_query: NULL event");
    if (!e->recorded)
        return EMBER_SUCCESS;
    return e->device->iface->event_query(e->device->ctx, e->native);
}

ember_status ember_event_wait(ember_event_t e, ember_stream_t s)
{
    if (!e)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_wait: NULL event");
    void *native = NULL;
    ember_status st = stream_native(e->device, s, &native);
    if (st == EMBER_SUCCESS && s && s->capturing)
        st = em_error(EMBER_ERR_NOT_SUPPORTED, "waiting for an event on a stream that is "
                      "capturing a graph: ember's graphs hold launches and copies only");
    if (st != EMBER_SUCCESS)
        return st;
    if (!e->recorded)
        return EMBER_SUCCESS;
    if (!e->device->iface->event_wait)
        return e->device->iface->event_synchronize(e->device->ctx, e->native);
    return e->device->iface->event_wait(e->device->ctx, e->native, native);
}

ember_status ember_event_elapsed_ms(ember_event_t start, ember_event_t end, float *ms)
{
    if (!start || !end || !ms)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_event_elapsed_ms: NULL argument");
    if (start->device != end->device)
        return em_error(EMBER_ERR_DEVICE_MISMATCH,
                        "elapsed time between events of two different devices");
    if (!start->timing || !end->timing)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "elapsed time needs events created with timing=True");
    if (!start->recorded || !end->recorded)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "elapsed time needs both events recorded first (event.record())");
    return start->device->iface->event_elapsed_ms(start->device->ctx, start->native,
                                                  end->native, ms);
}
