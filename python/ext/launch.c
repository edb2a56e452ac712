/*
 * launch.c — the kernel launch fast path: `kernel[grid, block](*args)` in C.
 *
 * DispatcherBase is the C base class of ember's Python Dispatcher. Its
 * `[config]` (mp_subscript) parses the common configurations — ints or
 * tuples of ints, stream None or 0, an int sharedmem — into a Launcher
 * without running Python; anything else goes to the Dispatcher's Python
 * `_configure_launch`, which keeps every message of the Python checks.
 *
 * A Launcher is a vectorcall object. Calling it computes a compact key of
 * the argument types in C (numba's typeof rules, as dispatcher.py's
 * `typeof`: scalars by type name, device arrays by dtype, ndim and layout,
 * tuples recursively) and looks it up in the dispatcher's cache of
 * key -> Kernel; on a hit it packs the arguments and launches at once. The
 * cache is filled by the Python slow path (`Dispatcher._launch`) through
 * `_fastpath_register`, with whatever kernel `_resolve` chose for those
 * argument types, so explicit signatures keep numba's matching rules.
 * Everything else takes the slow path: a miss, host NumPy arrays on a CUDA
 * device (on the cpu device contiguous ones are used in place, unless a
 * written one overlaps another argument), keyword arguments, a Stream,
 * arrays on another device than the current one, a kernel that may report
 * faults. On the cpu device a hit runs the compiled
 * kernel; on a CUDA device the cache holds (Kernel, ModuleKernel) and a hit
 * packs the arguments into the kernel's parameter slots and queues it on
 * the default stream. A key starts with the device's kind and ordinal, so
 * one dispatcher caches both. The current device is per thread; the Python
 * side reports each change with `_note_current_device`, kept here in a
 * thread-local handle.
 *
 * The cache is guarded by the GIL; the launch itself releases it.
 */
#include "ext.h"

#include <string.h>

#include "structmember.h"

#define KEY_MAX 256   /* bytes of a key; longer argument lists take the slow path */
#define KEY_DEPTH 16  /* nesting of tuple arguments the fast path follows */
#define KEY_ARRAY 0x40
#define KEY_TUPLE 0x80
#define KEY_HOST_ARRAY 0xC0 /* a host NumPy array used in place (the cpu device) */

static const int64_t max_grid[3] = {2147483647, 65535, 65535};
static const int64_t max_block[3] = {1024, 1024, 64};
#define MAX_THREADS_PER_BLOCK 1024

/* This thread's current device. Starts NULL, so a new thread takes the
 * slow path until the Python side reports its device. */
static _Thread_local ember_device_t current_device;
/* Its kind and ordinal, the first two bytes of every key (set with it, so
 * that a launch does not ask the device for them). */
static _Thread_local uint8_t current_tag[2];

/* ------------------------------------------------------------------------ */
/* Signature keys                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint8_t bytes[KEY_MAX];
    size_t len;
} sig_key;

static bool key_put(sig_key *k, uint8_t b)
{
    if (k->len >= KEY_MAX)
        return false;
    k->bytes[k->len++] = b;
    return true;
}

/* The ember dtype of a NumPy scalar, as typeof names it; false for one a
 * kernel cannot take (datetimes, ...). */
static bool numpy_scalar_dtype(PyObject *v, ember_dtype *out)
{
    PyArray_Descr *descr = PyArray_DescrFromScalar(v);
    if (!descr) {
        PyErr_Clear();
        return false;
    }
    bool ok = ext_dtype_ok(descr) && ext_dtype_of_descr(descr, out) == 0;
    Py_DECREF(descr);
    return ok;
}

/* Appends the type of argument `v` to `k`. True when the fast path can
 * take it; false (no exception) sends the call to the slow path, which
 * raises for arguments a kernel cannot take. */
static bool key_of(ext_state *st, ember_device_t dev, PyObject *v, sig_key *k, int depth)
{
    ember_dtype dt;
    if (PyBool_Check(v))
        return key_put(k, EMBER_BOOL);
    if (PyLong_CheckExact(v)) { /* as typeof: uint64 for 2**63 .. 2**64 - 1; not an
                                 * IntEnum member, whose class is part of its type */
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return false;
        }
        if (overflow > 0) {
            unsigned long long ux = PyLong_AsUnsignedLongLong(v);
            if (ux == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                overflow = 0; /* above 2**64 - 1: int64, the packer refuses it */
            }
        }
        return key_put(k, overflow > 0 ? EMBER_UINT64 : EMBER_INT64);
    }
    if (PyFloat_Check(v))
        return key_put(k, EMBER_FLOAT64);
    if (PyComplex_Check(v))
        return key_put(k, EMBER_COMPLEX128);
    if (st->device_array_type && PyObject_TypeCheck(v, (PyTypeObject *)st->device_array_type)) {
        const ember_array *arr = &((ext_array *)v)->arr;
        if (!arr->buffer || arr->ndim < 1 || arr->ndim > 255 ||
            ember_buffer_device(arr->buffer) != dev)
            return false;
        if (arr->dtype == EMBER_RECORD) /* one code for every record dtype: the slow path */
            return false;
        uint8_t layout = ember_array_is_c_contiguous(arr)   ? 'C'
                         : ember_array_is_f_contiguous(arr) ? 'F'
                                                            : 'A';
        return key_put(k, (uint8_t)(KEY_ARRAY | arr->dtype)) && key_put(k, (uint8_t)arr->ndim) &&
               key_put(k, layout);
    }
    if (PyArray_Check(v)) {
        /* on the cpu device, an aligned contiguous array of native order at
         * the top level is used in place (the rest: the slow path, which
         * copies; cuda/_inplace.py); readonly is part of its type */
        PyArrayObject *a = (PyArrayObject *)v;
        int flags = PyArray_FLAGS(a), nd = PyArray_NDIM(a);
        if (depth > 0 || current_tag[0] != EMBER_DEVICE_CPU || nd < 1 || nd > 255 ||
            PyArray_SIZE(a) == 0 || !(flags & NPY_ARRAY_ALIGNED) ||
            !(flags & (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS)) ||
            !ext_dtype_ok(PyArray_DESCR(a)) || ext_dtype_of_descr(PyArray_DESCR(a), &dt) < 0) {
            PyErr_Clear();
            return false;
        }
        uint8_t layout = (flags & NPY_ARRAY_C_CONTIGUOUS) ? 'C' : 'F';
        return key_put(k, KEY_HOST_ARRAY) && key_put(k, (uint8_t)dt) &&
               key_put(k, (uint8_t)nd) && key_put(k, layout) &&
               key_put(k, (flags & NPY_ARRAY_WRITEABLE) ? 0 : 1);
    }
    if (PyTuple_Check(v)) {
        Py_ssize_t n = PyTuple_GET_SIZE(v);
        if (depth >= KEY_DEPTH || n > 255 || !key_put(k, KEY_TUPLE) || !key_put(k, (uint8_t)n))
            return false;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!key_of(st, dev, PyTuple_GET_ITEM(v, i), k, depth + 1))
                return false;
        return true;
    }
    if (PyArray_IsScalar(v, Bool))
        return key_put(k, EMBER_BOOL);
    if (PyArray_IsScalar(v, Number) && numpy_scalar_dtype(v, &dt))
        return key_put(k, (uint8_t)dt);
    return false;
}

/* The key of a whole argument list for a launch on `dev`; false when the
 * fast path cannot take it. */
static bool key_of_args(ext_state *st, ember_device_t dev, PyObject *const *args,
                        Py_ssize_t nargs, sig_key *k)
{
    if (!dev || dev != current_device || nargs > 255)
        return false;
    k->len = 0;
    key_put(k, current_tag[0]);
    key_put(k, current_tag[1]);
    key_put(k, (uint8_t)nargs);
    for (Py_ssize_t i = 0; i < nargs; i++)
        if (!key_of(st, dev, args[i], k, 0))
            return false;
    return true;
}

static uint64_t key_hash(const sig_key *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 1099511628211ULL;
    return h;
}

/* ------------------------------------------------------------------------ */
/* DispatcherBase: the per-dispatcher cache                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t hash;
    size_t len;
    uint8_t *key;     /* PyMem_Malloc'd copy of the key bytes */
    PyObject *kernel; /* owned */
} cache_entry;

/* A dispatcher has a handful of specialisations, so the cache is a list
 * searched from the most recent hit. */
typedef struct {
    PyObject_HEAD
    cache_entry *entries;
    Py_ssize_t count, capacity;
    Py_ssize_t last;            /* index of the last hit */
    unsigned long long hits;    /* launches taken by the fast path */
} ext_dispatcher;

static PyObject *cache_find(ext_dispatcher *d, const sig_key *k, uint64_t hash)
{
    for (Py_ssize_t n = 0; n < d->count; n++) {
        Py_ssize_t i = (d->last + n) % d->count;
        cache_entry *e = &d->entries[i];
        if (e->hash == hash && e->len == k->len && memcmp(e->key, k->bytes, k->len) == 0) {
            d->last = i;
            return e->kernel;
        }
    }
    return NULL;
}

static void cache_clear(ext_dispatcher *d)
{
    cache_entry *entries = d->entries;
    Py_ssize_t count = d->count;
    d->entries = NULL;
    d->count = d->capacity = d->last = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyMem_Free(entries[i].key);
        Py_DECREF(entries[i].kernel);
    }
    PyMem_Free(entries);
}

static PyObject *dispatcher_register(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    ext_dispatcher *d = (ext_dispatcher *)obj;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    bool cuda_pair = nargs == 2 && PyTuple_Check(args[1]) && PyTuple_GET_SIZE(args[1]) == 2 &&
                     PyObject_TypeCheck(PyTuple_GET_ITEM(args[1], 0), st->kernel_type) &&
                     PyObject_TypeCheck(PyTuple_GET_ITEM(args[1], 1), st->module_kernel_type);
    if (nargs != 2 || !PyTuple_Check(args[0]) ||
        !(cuda_pair || PyObject_TypeCheck(args[1], st->kernel_type))) {
        PyErr_SetString(PyExc_TypeError,
                        "_fastpath_register(args, kernel): a tuple of arguments and a Kernel "
                        "(or a (Kernel, ModuleKernel) pair for a CUDA device)");
        return NULL;
    }
    PyObject *kernel = args[1];
    PyObject *compiled = cuda_pair ? PyTuple_GET_ITEM(kernel, 0) : kernel;
    sig_key k;
    if (PyTuple_GET_SIZE(args[0]) != ext_kernel_nparams(compiled) ||
        !key_of_args(st, current_device, &PyTuple_GET_ITEM(args[0], 0),
                     PyTuple_GET_SIZE(args[0]), &k))
        Py_RETURN_FALSE;
    uint64_t hash = key_hash(&k);
    for (Py_ssize_t i = 0; i < d->count; i++) {
        cache_entry *e = &d->entries[i];
        if (e->hash == hash && e->len == k.len && memcmp(e->key, k.bytes, k.len) == 0) {
            Py_INCREF(kernel);
            Py_SETREF(e->kernel, kernel);
            Py_RETURN_TRUE;
        }
    }
    if (d->count == d->capacity) {
        Py_ssize_t cap = d->capacity ? 2 * d->capacity : 4;
        cache_entry *grown = PyMem_Realloc(d->entries, (size_t)cap * sizeof *grown);
        if (!grown)
            return PyErr_NoMemory();
        d->entries = grown;
        d->capacity = cap;
    }
    uint8_t *copy = PyMem_Malloc(k.len);
    if (!copy)
        return PyErr_NoMemory();
    memcpy(copy, k.bytes, k.len);
    Py_INCREF(kernel);
    d->entries[d->count++] = (cache_entry){hash, k.len, copy, kernel};
    Py_RETURN_TRUE;
}

static PyObject *dispatcher_clear_cache(PyObject *obj, PyObject *unused)
{
    cache_clear((ext_dispatcher *)obj);
    Py_RETURN_NONE;
}

static PyObject *dispatcher_get_hits(PyObject *obj, void *c)
{
    return PyLong_FromUnsignedLongLong(((ext_dispatcher *)obj)->hits);
}

static PyObject *dispatcher_get_size(PyObject *obj, void *c)
{
    return PyLong_FromSsize_t(((ext_dispatcher *)obj)->count);
}

static int dispatcher_traverse(PyObject *obj, visitproc visit, void *arg)
{
    ext_dispatcher *d = (ext_dispatcher *)obj;
    Py_VISIT(Py_TYPE(obj));
    for (Py_ssize_t i = 0; i < d->count; i++)
        Py_VISIT(d->entries[i].kernel);
    return 0;
}

static int dispatcher_clear(PyObject *obj)
{
    cache_clear((ext_dispatcher *)obj);
    return 0;
}

static void dispatcher_dealloc(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject_GC_UnTrack(obj);
    cache_clear((ext_dispatcher *)obj);
    tp->tp_free(obj);
    Py_DECREF(tp);
}

/* ------------------------------------------------------------------------ */
/* Launch configuration                                                     */
/* ------------------------------------------------------------------------ */

/* An exact int in 1 .. limit. */
static bool small_dim(PyObject *v, int64_t limit, int64_t *out)
{
    if (!PyLong_CheckExact(v))
        return false;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return false;
    }
    *out = x;
    return x >= 1 && x <= limit;
}

/* griddim or blockdim as an int or a tuple of 1 to 3 ints within the
 * limits; false for anything else (the Python checks then run). */
static bool dims_fast(PyObject *v, const int64_t limit[3], int64_t out[3])
{
    out[0] = out[1] = out[2] = 1;
    if (PyLong_CheckExact(v))
        return small_dim(v, limit[0], &out[0]);
    if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) < 1 || PyTuple_GET_SIZE(v) > 3)
        return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++)
        if (!small_dim(PyTuple_GET_ITEM(v, i), limit[i], &out[i]))
            return false;
    return true;
}

/* An exact int >= 0 (a sharedmem the Python checks would accept). */
static bool is_nonneg_int(PyObject *v)
{
    if (!PyLong_CheckExact(v))
        return false;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    return overflow > 0 || (!overflow && x >= 0);
}

static bool is_int_zero(PyObject *v)
{
    if (!PyLong_CheckExact(v))
        return false;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    return !overflow && x == 0;
}

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *dispatcher;    /* a DispatcherBase */
    int64_t grid[3], block[3];
    PyObject *griddim;       /* 3-tuples, made when the slow path needs them */
    PyObject *blockdim;
    PyObject *stream;        /* None, 0 or a Stream */
    PyObject *sharedmem;     /* int */
} ext_launcher;

static PyObject *launcher_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                     PyObject *kwnames);

/* The launcher k[grid, block, stream, sharedmem] returns; a stream or
 * sharedmem not given (NULL) is 0. */
static PyObject *launcher_new(ext_state *st, PyObject *dispatcher, const int64_t grid[3],
                              const int64_t block[3], PyObject *stream, PyObject *sharedmem)
{
    PyObject *zero = PyLong_FromLong(0);
    if (!zero)
        return NULL;
    ext_launcher *l = PyObject_GC_New(ext_launcher, st->launcher_type);
    if (!l) {
        Py_DECREF(zero);
        return NULL;
    }
    l->vectorcall = launcher_vectorcall;
    Py_INCREF(dispatcher);
    l->dispatcher = dispatcher;
    memcpy(l->grid, grid, sizeof l->grid);
    memcpy(l->block, block, sizeof l->block);
    l->griddim = l->blockdim = NULL;
    l->stream = Py_NewRef(stream ? stream : zero);
    l->sharedmem = Py_NewRef(sharedmem ? sharedmem : zero);
    Py_DECREF(zero);
    PyObject_GC_Track(l);
    return (PyObject *)l;
}

static PyObject *dispatcher_subscript(PyObject *self, PyObject *config)
{
    ext_state *st = ext_state_of_type(Py_TYPE(self));
    int64_t grid[3], block[3];
    Py_ssize_t n = PyTuple_Check(config) ? PyTuple_GET_SIZE(config) : 0;
    bool fast = n >= 2 && n <= 4 && dims_fast(PyTuple_GET_ITEM(config, 0), max_grid, grid) &&
                dims_fast(PyTuple_GET_ITEM(config, 1), max_block, block) &&
                block[0] * block[1] * block[2] <= MAX_THREADS_PER_BLOCK;
    PyObject *stream = n > 2 ? PyTuple_GET_ITEM(config, 2) : NULL;
    PyObject *sharedmem = n > 3 ? PyTuple_GET_ITEM(config, 3) : NULL;
    if (fast && stream && stream != Py_None && !is_int_zero(stream))
        fast = false;
    if (fast && sharedmem && !is_nonneg_int(sharedmem))
        fast = false;
    if (!fast)
        return PyObject_CallMethodOneArg(self, st->str_configure, config);
    return launcher_new(st, self, grid, block, stream, sharedmem);
}

static PyGetSetDef dispatcher_getset[] = {
    {"_fastpath_hits", dispatcher_get_hits, NULL,
     "Launches that took the C fast path (for tests and benchmarks).", NULL},
    {"_fastpath_size", dispatcher_get_size, NULL,
     "Argument-type keys in the fast path's cache.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef dispatcher_methods[] = {
    {"_fastpath_register", (PyCFunction)(void (*)(void))dispatcher_register, METH_FASTCALL,
     "_fastpath_register($self, args, kernel, /)\n--\n\n"
     "Maps the argument types of `args` to `kernel` for later launches; False (nothing\n"
     "stored) when the fast path cannot take such arguments."},
    {"_fastpath_clear", dispatcher_clear_cache, METH_NOARGS,
     "_fastpath_clear($self, /)\n--\n\nEmpties the fast path's cache."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot dispatcher_slots[] = {
    {Py_tp_doc, "The C part of a Dispatcher: launch configuration and the launch cache."},
    {Py_tp_dealloc, dispatcher_dealloc},
    {Py_tp_traverse, dispatcher_traverse},
    {Py_tp_clear, dispatcher_clear},
    {Py_mp_subscript, dispatcher_subscript},
    {Py_tp_getset, dispatcher_getset},
    {Py_tp_methods, dispatcher_methods},
    {0, NULL},
};

PyType_Spec ext_dispatcher_spec = {
    .name = "ember._ember.DispatcherBase",
    .basicsize = sizeof(ext_dispatcher),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = dispatcher_slots,
};

/* ------------------------------------------------------------------------ */
/* Launcher                                                                 */
/* ------------------------------------------------------------------------ */

static PyObject *dims_tuple(const int64_t d[3])
{
    return Py_BuildValue("(LLL)", (long long)d[0], (long long)d[1], (long long)d[2]);
}

/* Dispatcher._launch(griddim, blockdim, stream, args). */
static PyObject *launch_slow(ext_state *st, ext_launcher *self, PyObject *const *args,
                             Py_ssize_t nargs)
{
    if ((!self->griddim && !(self->griddim = dims_tuple(self->grid))) ||
        (!self->blockdim && !(self->blockdim = dims_tuple(self->block))))
        return NULL;
    PyObject *tuple = PyTuple_New(nargs);
    if (!tuple)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(tuple, i, args[i]);
    }
    PyObject *call[6] = {self->dispatcher, self->griddim, self->blockdim, self->stream, tuple,
                         self->sharedmem};
    PyObject *r = PyObject_VectorcallMethod(st->str_launch, call, 6, NULL);
    Py_DECREF(tuple);
    return r;
}

static PyObject *launcher_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                     PyObject *kwnames)
{
    ext_launcher *self = (ext_launcher *)callable;
    ext_state *st = ext_state_of_type(Py_TYPE(callable));
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_Format(PyExc_TypeError,
                     "kernel launches take positional arguments only, not the keyword "
                     "argument '%U'",
                     PyTuple_GET_ITEM(kwnames, 0));
        return NULL;
    }
    ember_device_t dev = current_device;
    if (!dev || (self->stream != Py_None && !is_int_zero(self->stream)))
        return launch_slow(st, self, args, nargs);
    sig_key k;
    if (!key_of_args(st, dev, args, nargs, &k))
        return launch_slow(st, self, args, nargs);
    ext_dispatcher *d = (ext_dispatcher *)self->dispatcher;
    PyObject *kernel = cache_find(d, &k, key_hash(&k));
    if (!kernel)
        return launch_slow(st, self, args, nargs);
    d->hits++;
    Py_INCREF(kernel); /* the cache may drop it while the GIL is released */
    int r;
    if (PyTuple_Check(kernel)) { /* CUDA: (Kernel, ModuleKernel) */
        size_t shared = (size_t)PyLong_AsSize_t(self->sharedmem);
        r = shared == (size_t)-1 && PyErr_Occurred()
                ? -1
                : ext_kernel_run_cuda(PyTuple_GET_ITEM(kernel, 0), PyTuple_GET_ITEM(kernel, 1),
                                      dev, self->grid, self->block, shared, args, nargs);
    } else {
        size_t shared = (size_t)PyLong_AsSize_t(self->sharedmem);
        if (!ext_kernel_args_disjoint(kernel, args, nargs)) {
            /* a written host array overlaps another argument: the slow path
             * copies it, as copy semantics need */
            Py_DECREF(kernel);
            d->hits--;
            return launch_slow(st, self, args, nargs);
        }
        r = shared == (size_t)-1 && PyErr_Occurred()
                ? -1
                : ext_kernel_run(kernel, self->grid, self->block, shared, args, nargs);
    }
    Py_DECREF(kernel);
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Launcher(dispatcher, griddim, blockdim, stream=0, sharedmem=0), for the
 * Python configuration path: griddim and blockdim are checked 3-tuples. */
static PyObject *launcher_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"dispatcher", "griddim", "blockdim", "stream", "sharedmem", NULL};
    PyObject *dispatcher, *griddim, *blockdim, *stream = NULL, *sharedmem = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|OO:Launcher", names, &dispatcher,
                                     &griddim, &blockdim, &stream, &sharedmem))
        return NULL;
    ext_state *st = ext_state_of_type(tp);
    if (!PyObject_TypeCheck(dispatcher, st->dispatcher_type)) {
        PyErr_Format(PyExc_TypeError, "Launcher: dispatcher must be a Dispatcher, not %.100s",
                     Py_TYPE(dispatcher)->tp_name);
        return NULL;
    }
    int64_t grid[3], block[3];
    if (ext_dims3(griddim, "griddim", grid) < 0 || ext_dims3(blockdim, "blockdim", block) < 0)
        return NULL;
    return launcher_new(st, dispatcher, grid, block, stream, sharedmem);
}

static PyObject *launcher_get_griddim(PyObject *obj, void *c)
{
    return dims_tuple(((ext_launcher *)obj)->grid);
}

static PyObject *launcher_get_blockdim(PyObject *obj, void *c)
{
    return dims_tuple(((ext_launcher *)obj)->block);
}

static PyObject *launcher_repr(PyObject *obj)
{
    ext_launcher *l = (ext_launcher *)obj;
    return PyUnicode_FromFormat("<ember launcher %R[(%lld, %lld, %lld), (%lld, %lld, %lld)]>",
                                l->dispatcher, (long long)l->grid[0], (long long)l->grid[1],
                                (long long)l->grid[2], (long long)l->block[0],
                                (long long)l->block[1], (long long)l->block[2]);
}

static int launcher_traverse(PyObject *obj, visitproc visit, void *arg)
{
    ext_launcher *l = (ext_launcher *)obj;
    Py_VISIT(Py_TYPE(obj));
    Py_VISIT(l->dispatcher);
    Py_VISIT(l->stream);
    Py_VISIT(l->sharedmem);
    return 0;
}

static int launcher_clear(PyObject *obj)
{
    ext_launcher *l = (ext_launcher *)obj;
    Py_CLEAR(l->dispatcher);
    Py_CLEAR(l->griddim);
    Py_CLEAR(l->blockdim);
    Py_CLEAR(l->stream);
    Py_CLEAR(l->sharedmem);
    return 0;
}

static void launcher_dealloc(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject_GC_UnTrack(obj);
    launcher_clear(obj);
    PyObject_GC_Del(obj);
    Py_DECREF(tp);
}

static PyMemberDef launcher_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ext_launcher, vectorcall), READONLY, NULL},
    {"dispatcher", T_OBJECT, offsetof(ext_launcher, dispatcher), READONLY, NULL},
    {"stream", T_OBJECT, offsetof(ext_launcher, stream), READONLY, NULL},
    {"sharedmem", T_OBJECT, offsetof(ext_launcher, sharedmem), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef launcher_getset[] = {
    {"griddim", launcher_get_griddim, NULL, "The grid's dimensions (x, y, z).", NULL},
    {"blockdim", launcher_get_blockdim, NULL, "The block's dimensions (x, y, z).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot launcher_slots[] = {
    {Py_tp_doc, "kernel[griddim, blockdim, stream, sharedmem]: call it with the arguments."},
    {Py_tp_new, launcher_tp_new},
    {Py_tp_dealloc, launcher_dealloc},
    {Py_tp_traverse, launcher_traverse},
    {Py_tp_clear, launcher_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_repr, launcher_repr},
    {Py_tp_members, launcher_members},
    {Py_tp_getset, launcher_getset},
    {0, NULL},
};

PyType_Spec ext_launcher_spec = {
    .name = "ember._ember.Launcher",
    .basicsize = sizeof(ext_launcher),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = launcher_slots,
};

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

PyObject *ext_set_device_array_type(PyObject *module, PyObject *cls)
{
    ext_state *st = ext_state_of_module(module);
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, st->array_type)) {
        PyErr_SetString(PyExc_TypeError,
                        "_set_device_array_type: expected a subclass of _ember.Array");
        return NULL;
    }
    Py_INCREF(cls);
    Py_XSETREF(st->device_array_type, cls);
    Py_RETURN_NONE;
}

PyObject *ext_note_current_device(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_note_current_device(kind, ordinal)");
        return NULL;
    }
    ember_device_kind kind = PyUnicode_CompareWithASCIIString(args[0], "cuda") == 0
                                 ? EMBER_DEVICE_CUDA : EMBER_DEVICE_CPU;
    long ordinal = PyLong_Check(args[1]) ? PyLong_AsLong(args[1]) : -1;
    PyErr_Clear();
    ember_device_t dev = NULL;
    if (ordinal < 0 || ordinal > 255 || ember_device_get(kind, (int)ordinal, &dev) != EMBER_SUCCESS) {
        ember_clear_error();
        dev = NULL;
    }
    current_device = dev;
    current_tag[0] = (uint8_t)kind;
    current_tag[1] = (uint8_t)(dev ? ordinal : 0);
    Py_RETURN_NONE;
}
