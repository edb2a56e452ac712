/*
 * stream.c — the Stream and Event types over ember's stream and event
 * handles (launch/stream.c).
 *
 * A Stream object either owns a stream it created (Stream(kind, ordinal))
 * or names a device's default stream (Stream.default(kind, ordinal), a NULL
 * handle). Both remember their device, so the extension can refuse to mix
 * objects of two devices even where the C handle is NULL. Waiting calls
 * (synchronize, destroy) release the GIL.
 */
#include "ext.h"

#include "structmember.h"

/* The (kind, ordinal) tuple's "kind:ordinal" form, for messages. */
static PyObject *device_label(ember_device_t dev)
{
    PyObject *t = ext_device_tuple(dev);
    if (!t)
        return NULL;
    PyObject *s = PyUnicode_FromFormat("%U:%R", PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1));
    Py_DECREF(t);
    return s;
}

/* ValueError "<what> is on device A but <obj> is on device B". */
static void mismatch(const char *what, ember_device_t a, const char *obj, ember_device_t b)
{
    PyObject *la = device_label(a), *lb = la ? device_label(b) : NULL;
    if (lb)
        PyErr_Format(PyExc_ValueError, "%s is on device %U but %s is on device %U", what, la, obj,
                     lb);
    Py_XDECREF(la);
    Py_XDECREF(lb);
}

int ext_stream_arg(ext_state *st, PyObject *obj, const char *what, ember_stream_t *out,
                   ember_device_t *dev)
{
    if (!obj || obj == Py_None) {
        *out = NULL;
        if (dev)
            *dev = NULL;
        return 0;
    }
    if (!PyObject_TypeCheck(obj, st->stream_type) || !((ext_stream *)obj)->device) {
        PyErr_Format(PyExc_TypeError, "%s must be an ember Stream or None, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = ((ext_stream *)obj)->stream;
    if (dev)
        *dev = ((ext_stream *)obj)->device;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Stream                                                                   */
/* ------------------------------------------------------------------------ */

static ext_stream *stream_alloc(PyTypeObject *tp)
{
    ext_stream *self = (ext_stream *)tp->tp_alloc(tp, 0);
    if (self)
        ext_live_objects++;
    return self;
}

static PyObject *stream_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kind", "ordinal", NULL};
    PyObject *kind, *ordinal;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Stream", kwlist, &kind, &ordinal))
        return NULL;
    ext_state *st = ext_state_of_type(tp);
    ember_device_t dev;
    if (ext_device(st, kind, ordinal, &dev) < 0)
        return NULL;
    ext_stream *self = stream_alloc(tp);
    if (!self)
        return NULL;
    ember_stream_t s = NULL;
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = ember_stream_create(dev, &s);
    Py_END_ALLOW_THREADS
    if (status != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, status, "Stream");
    }
    self->device = dev;
    self->stream = s;
    return (PyObject *)self;
}

/* Stream.default(kind, ordinal): the device's default stream. */
static PyObject *stream_default(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", NULL};
    PyObject *a[2];
    if (ext_parse("Stream.default", args, nargs, kwnames, names, 2, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_type((PyTypeObject *)cls);
    ember_device_t dev;
    if (ext_device(st, a[0], a[1], &dev) < 0)
        return NULL;
    ext_stream *self = stream_alloc((PyTypeObject *)cls);
    if (!self)
        return NULL;
    self->device = dev;
    self->stream = NULL;
    return (PyObject *)self;
}

/* Stream.wrap(kind, ordinal, handle): a foreign stream (a CUstream as an int). */
static PyObject *stream_wrap(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "handle", NULL};
    PyObject *a[3];
    if (ext_parse("Stream.wrap", args, nargs, kwnames, names, 3, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_type((PyTypeObject *)cls);
    ember_device_t dev;
    if (ext_device(st, a[0], a[1], &dev) < 0)
        return NULL;
    void *native = PyLong_AsVoidPtr(a[2]);
    if (!native && PyErr_Occurred())
        return NULL;
    ext_stream *self = stream_alloc((PyTypeObject *)cls);
    if (!self)
        return NULL;
    self->device = dev;
    self->stream = NULL;
    if (native) {
        ember_status status = ember_stream_wrap(dev, native, &self->stream);
        if (status != EMBER_SUCCESS) {
            Py_DECREF(self);
            return ext_raise(st, status, "Stream.wrap");
        }
    }
    return (PyObject *)self;
}

static void stream_dealloc(PyObject *obj)
{
    ext_stream *self = (ext_stream *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    if (self->weakreflist)
        PyObject_ClearWeakRefs(obj);
    if (self->stream) {
        ember_stream_t s = self->stream;
        self->stream = NULL;
        if (ember_stream_is_capturing(s)) {
            /* an abandoned capture: dropped here, as its cpu-device
             * launches release Python objects (the GIL is needed) */
            ember_graph_t g = NULL;
            if (ember_stream_end_capture(s, &g) == EMBER_SUCCESS)
                ember_graph_destroy(g);
            else
                ember_clear_error();
        }
        Py_BEGIN_ALLOW_THREADS
        ember_stream_destroy(s); /* waits for the stream's work first */
        Py_END_ALLOW_THREADS
    }
    ext_live_objects--;
    tp->tp_free(obj);
    Py_DECREF(tp);
}

static int stream_ready(ext_stream *self)
{
    if (self->device)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "uninitialised ember stream");
    return 0;
}

static PyObject *stream_synchronize(PyObject *obj, PyObject *unused)
{
    ext_stream *self = (ext_stream *)obj;
    if (!stream_ready(self))
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_stream_synchronize(self->device, self->stream);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), s, "Stream.synchronize");
    Py_RETURN_NONE;
}

static PyObject *stream_query(PyObject *obj, PyObject *unused)
{
    ext_stream *self = (ext_stream *)obj;
    if (!stream_ready(self))
        return NULL;
    ember_status s = ember_stream_query(self->device, self->stream);
    if (s == EMBER_SUCCESS)
        Py_RETURN_TRUE;
    if (s == EMBER_ERR_NOT_READY)
        Py_RETURN_FALSE;
    return ext_raise(ext_state_of_type(Py_TYPE(obj)), s, "Stream.query");
}

static PyObject *stream_get_device(PyObject *obj, void *c)
{
    ext_stream *self = (ext_stream *)obj;
    if (!stream_ready(self))
        return NULL;
    return ext_device_tuple(self->device);
}

static PyObject *stream_get_handle(PyObject *obj, void *c)
{
    return PyLong_FromVoidPtr(((ext_stream *)obj)->stream);
}

static PyObject *stream_get_native(PyObject *obj, void *c)
{
    return PyLong_FromVoidPtr(ember_stream_native(((ext_stream *)obj)->stream));
}

static PyObject *stream_get_is_default(PyObject *obj, void *c)
{
    return PyBool_FromLong(((ext_stream *)obj)->stream == NULL);
}

static PyObject *stream_repr(PyObject *obj)
{
    ext_stream *self = (ext_stream *)obj;
    if (!self->device)
        return PyUnicode_FromFormat("<%s (uninitialised)>", Py_TYPE(obj)->tp_name);
    PyObject *label = device_label(self->device);
    if (!label)
        return NULL;
    PyObject *r = self->stream
                      ? PyUnicode_FromFormat("<%s %U %p>", Py_TYPE(obj)->tp_name, label,
                                             (void *)self->stream)
                      : PyUnicode_FromFormat("<%s %U default>", Py_TYPE(obj)->tp_name, label);
    Py_DECREF(label);
    return r;
}

/* Two stream objects are equal when they name the same queue: the same
 * created stream, or the default stream of the same device. */
static PyObject *stream_richcompare(PyObject *a, PyObject *b, int op)
{
    ext_state *st = ext_state_of_type(Py_TYPE(a));
    if ((op != Py_EQ && op != Py_NE) || !st || !PyObject_TypeCheck(a, st->stream_type) ||
        !PyObject_TypeCheck(b, st->stream_type))
        Py_RETURN_NOTIMPLEMENTED;
    ext_stream *x = (ext_stream *)a, *y = (ext_stream *)b;
    bool eq = x->device == y->device && x->stream == y->stream;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t stream_hash(PyObject *obj)
{
    ext_stream *self = (ext_stream *)obj;
    Py_hash_t h = (Py_hash_t)((uintptr_t)self->device >> 4) * 1000003 ^
                  (Py_hash_t)((uintptr_t)self->stream >> 4);
    return h == -1 ? -2 : h;
}

#define FASTCALL_KW METH_FASTCALL | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef stream_methods[] = {
    {"default", FN(stream_default), METH_CLASS | FASTCALL_KW,
     "default($cls, kind, ordinal)\n--\n\nThe default stream of a device (handle 0)."},
    {"wrap", FN(stream_wrap), METH_CLASS | FASTCALL_KW,
     "wrap($cls, kind, ordinal, handle)\n--\n\n"
     "A foreign stream (a CUstream as an int; 0: the default stream); not destroyed here."},
    {"synchronize", stream_synchronize, METH_NOARGS,
     "synchronize($self)\n--\n\n"
     "Waits until all work queued on the stream has finished."},
    {"query", stream_query, METH_NOARGS,
     "query($self)\n--\n\nTrue when the stream has no pending work."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stream_getset[] = {
    {"device", stream_get_device, NULL, "(kind, ordinal) of the stream's device.", NULL},
    {"native_handle", stream_get_native, NULL,
     "The driver's handle (a CUstream) as an int; 0 for a default stream.", NULL},
    {"handle", stream_get_handle, NULL,
     "Identity of ember's stream handle as an int (0 for a default stream).", NULL},
    {"is_default", stream_get_is_default, NULL, "True for a device's default stream.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef stream_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ext_stream, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, "Stream(kind, ordinal)\n--\n\nA new in-order queue of work on one device."},
    {Py_tp_new, stream_new},
    {Py_tp_dealloc, stream_dealloc},
    {Py_tp_repr, stream_repr},
    {Py_tp_richcompare, stream_richcompare},
    {Py_tp_hash, stream_hash},
    {Py_tp_methods, stream_methods},
    {Py_tp_getset, stream_getset},
    {Py_tp_members, stream_members},
    {0, NULL},
};

PyType_Spec ext_stream_spec = {
    .name = "ember._ember.Stream",
    .basicsize = sizeof(ext_stream),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = stream_slots,
};

/* ------------------------------------------------------------------------ */
/* Event                                                                    */
/* ------------------------------------------------------------------------ */

static PyObject *event_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kind", "ordinal", "timing", NULL};
    PyObject *kind, *ordinal;
    int timing = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:Event", kwlist, &kind, &ordinal, &timing))
        return NULL;
    ext_state *st = ext_state_of_type(tp);
    ember_device_t dev;
    if (ext_device(st, kind, ordinal, &dev) < 0)
        return NULL;
    ext_event *self = (ext_event *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    ext_live_objects++;
    ember_event_t e = NULL;
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = ember_event_create(dev, timing != 0, &e);
    Py_END_ALLOW_THREADS
    if (status != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, status, "Event");
    }
    self->device = dev;
    self->event = e;
    self->timing = timing != 0;
    return (PyObject *)self;
}

static void event_dealloc(PyObject *obj)
{
    ext_event *self = (ext_event *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    if (self->weakreflist)
        PyObject_ClearWeakRefs(obj);
    ember_event_destroy(self->event);
    ext_live_objects--;
    tp->tp_free(obj);
    Py_DECREF(tp);
}

static int event_ready(ext_event *self)
{
    if (self->event)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "uninitialised ember event");
    return 0;
}

/* The stream argument of record/wait: None (the event's device's default
 * stream) or a Stream of the event's device. */
static int event_stream(ext_event *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames, const char *fname, ember_stream_t *out)
{
    static const char *const names[] = {"stream", NULL};
    PyObject *a[1];
    ember_device_t dev;
    ext_state *st = ext_state_of_type(Py_TYPE(self));
    if (ext_parse(fname, args, nargs, kwnames, names, 0, a) < 0 ||
        ext_stream_arg(st, a[0], "stream", out, &dev) < 0)
        return -1;
    if (dev && dev != self->device) {
        mismatch("the stream", dev, "the event", self->device);
        return -1;
    }
    return 0;
}

static PyObject *event_record(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    ext_event *self = (ext_event *)obj;
    ember_stream_t s;
    if (!event_ready(self) || event_stream(self, args, nargs, kwnames, "record", &s) < 0)
        return NULL;
    ember_status status = ember_event_record(self->event, s);
    if (status != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), status, "Event.record");
    Py_RETURN_NONE;
}

static PyObject *event_wait(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    ext_event *self = (ext_event *)obj;
    ember_stream_t s;
    if (!event_ready(self) || event_stream(self, args, nargs, kwnames, "wait", &s) < 0)
        return NULL;
    ember_status status;
    /* May synchronise on the host when the kind cannot queue the wait. */
    Py_BEGIN_ALLOW_THREADS
    status = ember_event_wait(self->event, s);
    Py_END_ALLOW_THREADS
    if (status != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), status, "Event.wait");
    Py_RETURN_NONE;
}

static PyObject *event_synchronize(PyObject *obj, PyObject *unused)
{
    ext_event *self = (ext_event *)obj;
    if (!event_ready(self))
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_event_synchronize(self->event);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), s, "Event.synchronize");
    Py_RETURN_NONE;
}

static PyObject *event_query(PyObject *obj, PyObject *unused)
{
    ext_event *self = (ext_event *)obj;
    if (!event_ready(self))
        return NULL;
    ember_status s = ember_event_query(self->event);
    if (s == EMBER_SUCCESS)
        Py_RETURN_TRUE;
    if (s == EMBER_ERR_NOT_READY)
        Py_RETURN_FALSE;
    return ext_raise(ext_state_of_type(Py_TYPE(obj)), s, "Event.query");
}

/* elapsed_time(end): milliseconds from this event to `end`. */
static PyObject *event_elapsed_time(PyObject *obj, PyObject *end)
{
    ext_event *self = (ext_event *)obj;
    if (!event_ready(self))
        return NULL;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    if (!PyObject_TypeCheck(end, st->event_type) || !((ext_event *)end)->event) {
        PyErr_Format(PyExc_TypeError, "end must be an ember Event, not %.100s",
                     Py_TYPE(end)->tp_name);
        return NULL;
    }
    ext_event *e = (ext_event *)end;
    if (e->device != self->device) {
        mismatch("end", e->device, "this event", self->device);
        return NULL;
    }
    float ms = 0.0f;
    ember_status s = ember_event_elapsed_ms(self->event, e->event, &ms);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "Event.elapsed_time");
    return PyFloat_FromDouble((double)ms);
}

static PyObject *event_get_device(PyObject *obj, void *c)
{
    ext_event *self = (ext_event *)obj;
    if (!event_ready(self))
        return NULL;
    return ext_device_tuple(self->device);
}

static PyObject *event_get_timing(PyObject *obj, void *c)
{
    return PyBool_FromLong(((ext_event *)obj)->timing);
}

static PyObject *event_repr(PyObject *obj)
{
    ext_event *self = (ext_event *)obj;
    if (!self->device)
        return PyUnicode_FromFormat("<%s (uninitialised)>", Py_TYPE(obj)->tp_name);
    PyObject *label = device_label(self->device);
    if (!label)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<%s %U %p>", Py_TYPE(obj)->tp_name, label,
                                       (void *)self->event);
    Py_DECREF(label);
    return r;
}

static PyMethodDef event_methods[] = {
    {"record", FN(event_record), FASTCALL_KW,
     "record($self, stream=None)\n--\n\n"
     "Records the event on stream (None: the default stream)."},
    {"synchronize", event_synchronize, METH_NOARGS,
     "synchronize($self)\n--\n\nWaits until the recorded work has finished."},
    {"query", event_query, METH_NOARGS,
     "query($self)\n--\n\n"
     "True when the recorded work has finished (or nothing was recorded)."},
    {"wait", FN(event_wait), FASTCALL_KW,
     "wait($self, stream=None)\n--\n\n"
     "Makes stream wait for the event before running later work."},
    {"elapsed_time", event_elapsed_time, METH_O,
     "elapsed_time($self, end, /)\n--\n\n"
     "Milliseconds from this event to end (both recorded, timing on)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef event_getset[] = {
    {"device", event_get_device, NULL, "(kind, ordinal) of the event's device.", NULL},
    {"timing", event_get_timing, NULL, "True when created for timing.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef event_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ext_event, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot event_slots[] = {
    {Py_tp_doc, "Event(kind, ordinal, timing=True)\n--\n\nA marker in a stream of one device."},
    {Py_tp_new, event_new},
    {Py_tp_dealloc, event_dealloc},
    {Py_tp_repr, event_repr},
    {Py_tp_methods, event_methods},
    {Py_tp_getset, event_getset},
    {Py_tp_members, event_members},
    {0, NULL},
};

PyType_Spec ext_event_spec = {
    .name = "ember._ember.Event",
    .basicsize = sizeof(ext_event),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = event_slots,
};
