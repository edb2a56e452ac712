/*
 * graph.c — graph capture from Python: a stream's begin/end of a capture
 * and the graph it gives (launch/graph.c), as module functions that
 * python/ember/cuda/_graphs.py wraps into cuda.graph_capture and Graph.
 *
 * A graph travels as a capsule over a small box holding the ember_graph_t,
 * so that graph_destroy can free it early and later calls see it is gone.
 * Destroying a cpu-device graph releases the Python objects its launches
 * keep alive: it always runs with the GIL held (the capsule's destructor,
 * graph_destroy). Launching a graph releases the GIL.
 */
#include "ext.h"

static const char *const capsule_name = "ember graph";

typedef struct {
    ember_graph_t graph; /* owned; NULL once destroyed */
} graph_box;

static void capsule_free(PyObject *capsule)
{
    graph_box *b = PyCapsule_GetPointer(capsule, capsule_name);
    if (!b)
        return;
    ember_graph_destroy(b->graph);
    PyMem_Free(b);
}

/* The live graph of a capsule, or NULL with an exception. */
static ember_graph_t graph_of(PyObject *obj)
{
    graph_box *b = PyCapsule_IsValid(obj, capsule_name)
                       ? PyCapsule_GetPointer(obj, capsule_name) : NULL;
    if (!b) {
        PyErr_SetString(PyExc_TypeError, "expected an ember graph");
        return NULL;
    }
    if (!b->graph)
        PyErr_SetString(PyExc_ValueError, "this graph was destroyed (Graph.destroy())");
    return b->graph;
}

/* An ember Stream that is not a default stream, or NULL with an exception. */
static ext_stream *own_stream(PyObject *module, PyObject *obj, const char *what)
{
    ext_state *st = PyModule_GetState(module);
    ember_stream_t s = NULL;
    if (ext_stream_arg(st, obj, what, &s, NULL) < 0)
        return NULL;
    if (!s) {
        PyErr_Format(PyExc_ValueError, "%s: graph capture needs a stream of its own "
                     "(cuda.stream()), not the default stream, which CUDA cannot capture", what);
        return NULL;
    }
    return (ext_stream *)obj;
}

static PyObject *begin_capture(PyObject *module, PyObject *stream)
{
    ext_stream *s = own_stream(module, stream, "graph_capture");
    if (!s)
        return NULL;
    ember_status status = ember_stream_begin_capture(s->stream);
    if (status != EMBER_SUCCESS)
        return ext_raise(PyModule_GetState(module), status, "graph_capture");
    Py_RETURN_NONE;
}

static PyObject *end_capture(PyObject *module, PyObject *stream)
{
    ext_stream *s = own_stream(module, stream, "graph_capture");
    if (!s)
        return NULL;
    graph_box *b = PyMem_Calloc(1, sizeof *b);
    if (!b)
        return PyErr_NoMemory();
    ember_status status = ember_stream_end_capture(s->stream, &b->graph);
    if (status != EMBER_SUCCESS) {
        PyMem_Free(b);
        return ext_raise(PyModule_GetState(module), status, "graph_capture");
    }
    PyObject *capsule = PyCapsule_New(b, capsule_name, capsule_free);
    if (!capsule) {
        ember_graph_destroy(b->graph);
        PyMem_Free(b);
    }
    return capsule;
}

static PyObject *is_capturing(PyObject *module, PyObject *stream)
{
    ember_stream_t s = NULL;
    if (ext_stream_arg(PyModule_GetState(module), stream, "stream", &s, NULL) < 0)
        return NULL;
    return PyBool_FromLong(ember_stream_is_capturing(s));
}

static PyObject *graph_launch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "graph_launch(graph, stream)");
        return NULL;
    }
    ember_graph_t g = graph_of(args[0]);
    ember_stream_t s = NULL;
    if (!g || ext_stream_arg(PyModule_GetState(module), args[1], "stream", &s, NULL) < 0)
        return NULL;
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = ember_graph_launch(g, s);
    Py_END_ALLOW_THREADS
    if (status != EMBER_SUCCESS)
        return ext_raise(PyModule_GetState(module), status, "Graph.launch");
    Py_RETURN_NONE;
}

static PyObject *graph_size(PyObject *module, PyObject *capsule)
{
    ember_graph_t g = graph_of(capsule);
    return g ? PyLong_FromSize_t(ember_graph_size(g)) : NULL;
}

static PyObject *graph_destroy(PyObject *module, PyObject *capsule)
{
    if (!graph_of(capsule)) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { /* destroyed already: nothing to do */
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    graph_box *b = PyCapsule_GetPointer(capsule, capsule_name);
    ember_graph_t g = b->graph;
    b->graph = NULL;
    ember_graph_destroy(g);
    Py_RETURN_NONE;
}

PyMethodDef ext_graph_methods[] = {
    {"stream_begin_capture", begin_capture, METH_O,
     "stream_begin_capture(stream)\n--\n\nFrom now on the stream's launches and copies are "
     "recorded into a graph, not run."},
    {"stream_end_capture", end_capture, METH_O,
     "stream_end_capture(stream)\n--\n\nEnds the capture; returns the graph (a capsule)."},
    {"stream_is_capturing", is_capturing, METH_O,
     "stream_is_capturing(stream)\n--\n\nWhether a capture is open on the stream."},
    {"graph_launch", (PyCFunction)(void (*)(void))graph_launch, METH_FASTCALL,
     "graph_launch(graph, stream)\n--\n\nQueues the graph's work on the stream (None: the "
     "default stream)."},
    {"graph_size", graph_size, METH_O,
     "graph_size(graph)\n--\n\nThe number of launches and copies the graph holds."},
    {"graph_destroy", graph_destroy, METH_O,
     "graph_destroy(graph)\n--\n\nFrees the graph now (later calls refuse it)."},
    {NULL, NULL, 0, NULL},
};
