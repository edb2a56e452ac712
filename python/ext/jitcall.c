/*
 * jitcall.c — the call fast path of ember.jit functions: `f(3.0, 4.0)` in C.
 *
 * JitBase is the C base class of python/ember/_jit.py's JitDispatcher. Its
 * tp_call computes a key of the positional arguments — per argument its
 * class, and for a NumPy array its dtype number, ndim, layout (C, F or
 * any) and writeability — and looks it up in a small cache of (key ->
 * compiled function, return cast) that the Python slow path fills
 * (`_fastpath_register`) for calls whose arguments are all scalars or
 * arrays, whose types follow from the key alone (numba's typeof: int ->
 * int64, float -> float64, np.float32 -> float32, a C-contiguous 2-d
 * float64 array -> float64[:, ::1] ...). A hit packs the arguments and runs
 * the function at once (Kernel.call, compile.c, which checks each array's
 * dtype again); everything else — keyword arguments, tuples, new keys —
 * goes to the Python `_call_slow(args, kwargs)`, which keeps all of the
 * checks and messages. This is what makes a scalar call cost about
 * what numba's dispatcher costs instead of a few Python frames more.
 *
 * The cache is guarded by the GIL.
 */
#include "ext.h"

#define JIT_MAX_ARGS 8 /* calls with more arguments take the slow path */

typedef struct {
    int nargs;
    PyTypeObject *classes[JIT_MAX_ARGS]; /* owned: the classes of the arguments */
    int64_t arrays[JIT_MAX_ARGS];        /* per argument: array_key(), 0 for a scalar */
    PyObject *kernel;                    /* owned: a Kernel compiled as a function */
    PyObject *cast;                      /* owned: None, or a callable for the result */
} jit_entry;

typedef struct {
    PyObject_HEAD
    jit_entry *entries;
    Py_ssize_t count, capacity;
    Py_ssize_t last; /* index of the last hit */
} ext_jit;

static void entries_clear(ext_jit *j)
{
    jit_entry *entries = j->entries;
    Py_ssize_t count = j->count;
    j->entries = NULL;
    j->count = j->capacity = j->last = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        for (int a = 0; a < entries[i].nargs; a++)
            Py_DECREF(entries[i].classes[a]);
        Py_DECREF(entries[i].kernel);
        Py_DECREF(entries[i].cast);
    }
    PyMem_Free(entries);
}

/* What an array argument's type depends on besides its class: dtype
 * number, ndim, layout, writeable (never 0); 0 for anything else. */
static int64_t array_key(PyObject *v)
{
    if (!PyArray_Check(v))
        return 0;
    PyArrayObject *a = (PyArrayObject *)v;
    int flags = PyArray_FLAGS(a);
    int layout = (flags & NPY_ARRAY_C_CONTIGUOUS) ? 1 : (flags & NPY_ARRAY_F_CONTIGUOUS) ? 2 : 3;
    return (int64_t)PyArray_DESCR(a)->type_num | ((int64_t)PyArray_NDIM(a) << 16) |
           ((int64_t)layout << 24) | ((int64_t)((flags & NPY_ARRAY_WRITEABLE) != 0) << 28) |
           ((int64_t)1 << 32);
}

static jit_entry *entry_find(ext_jit *j, PyObject *const *args, Py_ssize_t nargs)
{
    for (Py_ssize_t n = 0; n < j->count; n++) {
        Py_ssize_t i = (j->last + n) % j->count;
        jit_entry *e = &j->entries[i];
        if (e->nargs != nargs)
            continue;
        int a = 0;
        while (a < nargs && Py_TYPE(args[a]) == e->classes[a] &&
               (!e->arrays[a] || array_key(args[a]) == e->arrays[a]))
            a++;
        if (a == nargs) {
            j->last = i;
            return e;
        }
    }
    return NULL;
}

static PyObject *jit_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    ext_jit *j = (ext_jit *)self;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if ((!kwargs || PyDict_GET_SIZE(kwargs) == 0) && nargs <= JIT_MAX_ARGS) {
        jit_entry *e = entry_find(j, &PyTuple_GET_ITEM(args, 0), nargs);
        if (e) {
            PyObject *kernel = e->kernel, *cast = e->cast;
            Py_INCREF(kernel); /* the cache may change while the function runs */
            Py_INCREF(cast);
            PyObject *r = ext_kernel_call(kernel, &PyTuple_GET_ITEM(args, 0), nargs);
            if (r && r != Py_None && cast != Py_None)
                Py_SETREF(r, PyObject_CallOneArg(cast, r));
            Py_DECREF(kernel);
            Py_DECREF(cast);
            return r;
        }
    }
    ext_state *st = ext_state_of_type(Py_TYPE(self));
    PyObject *call[3] = {self, args, kwargs ? kwargs : Py_None};
    return PyObject_VectorcallMethod(st->str_call_slow, call, 3, NULL);
}

/* _fastpath_register(args, kernel, cast): calls whose positional arguments
 * have the key of `args` (scalars and NumPy arrays only) run `kernel` (a
 * Kernel) and pass its result through `cast` (None: as it is). */
static PyObject *jit_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    ext_jit *j = (ext_jit *)self;
    ext_state *st = ext_state_of_type(Py_TYPE(self));
    if (nargs != 3 || !PyTuple_Check(args[0]) || !PyObject_TypeCheck(args[1], st->kernel_type) ||
        (args[2] != Py_None && !PyCallable_Check(args[2]))) {
        PyErr_SetString(PyExc_TypeError, "_fastpath_register(args, kernel, cast): a tuple "
                        "of arguments, a Kernel and None or a callable");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args[0]);
    if (n > JIT_MAX_ARGS || n != ext_kernel_nparams(args[1]))
        Py_RETURN_FALSE;
    for (Py_ssize_t a = 0; a < n; a++)
        if (PyTuple_Check(PyTuple_GET_ITEM(args[0], a)))
            Py_RETURN_FALSE; /* a tuple's type depends on its items */
    if (j->count == j->capacity) {
        Py_ssize_t cap = j->capacity ? 2 * j->capacity : 4;
        jit_entry *grown = PyMem_Realloc(j->entries, (size_t)cap * sizeof *grown);
        if (!grown)
            return PyErr_NoMemory();
        j->entries = grown;
        j->capacity = cap;
    }
    jit_entry *e = &j->entries[j->count];
    e->nargs = (int)n;
    for (Py_ssize_t a = 0; a < n; a++) {
        PyObject *v = PyTuple_GET_ITEM(args[0], a);
        e->classes[a] = Py_TYPE(v);
        e->arrays[a] = array_key(v);
        Py_INCREF(e->classes[a]);
    }
    e->kernel = args[1];
    e->cast = args[2];
    Py_INCREF(e->kernel);
    Py_INCREF(e->cast);
    j->count++;
    Py_RETURN_TRUE;
}

static PyObject *jit_clear_cache(PyObject *self, PyObject *unused)
{
    entries_clear((ext_jit *)self);
    Py_RETURN_NONE;
}

static PyObject *jit_get_size(PyObject *self, void *c)
{
    return PyLong_FromSsize_t(((ext_jit *)self)->count);
}

static int jit_traverse(PyObject *self, visitproc visit, void *arg)
{
    ext_jit *j = (ext_jit *)self;
    Py_VISIT(Py_TYPE(self));
    for (Py_ssize_t i = 0; i < j->count; i++) {
        for (int a = 0; a < j->entries[i].nargs; a++)
            Py_VISIT(j->entries[i].classes[a]);
        Py_VISIT(j->entries[i].kernel);
        Py_VISIT(j->entries[i].cast);
    }
    return 0;
}

static int jit_clear(PyObject *self)
{
    entries_clear((ext_jit *)self);
    return 0;
}

static void jit_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    entries_clear((ext_jit *)self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef jit_methods[] = {
    {"_fastpath_register", (PyCFunction)(void (*)(void))jit_register, METH_FASTCALL,
     "_fastpath_register($self, args, kernel, cast, /)\n--\n\n"
     "Calls whose positional arguments look like `args` (classes; arrays' dtype,\n"
     "ndim, layout, writeability) run `kernel`."},
    {"_fastpath_clear", jit_clear_cache, METH_NOARGS,
     "_fastpath_clear($self, /)\n--\n\nForgets every registered call shape."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef jit_getset[] = {
    {"_fastpath_size", jit_get_size, NULL, "The number of registered call shapes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot jit_slots[] = {
    {Py_tp_doc, "The C part of an ember.jit function: the call fast path."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_call, jit_call},
    {Py_tp_dealloc, jit_dealloc},
    {Py_tp_traverse, jit_traverse},
    {Py_tp_clear, jit_clear},
    {Py_tp_methods, jit_methods},
    {Py_tp_getset, jit_getset},
    {0, NULL},
};

PyType_Spec ext_jit_spec = {
    .name = "ember._ember.JitBase",
    .basicsize = sizeof(ext_jit),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = jit_slots,
};
