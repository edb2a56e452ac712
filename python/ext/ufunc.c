/*
 * ufunc.c — NumPy ufuncs and gufuncs whose inner loops ember compiled
 * (ember.vectorize / ember.guvectorize, python/ember/_ufunc.py).
 *
 * The Python side compiles, with ember.jit, a loop function around the
 * user's scalar (or core) function, e.g.
 *     def loop(a, b, out):
 *         for i in range(out.shape[0]): out[i] = f(a[i], b[i])
 * A UfuncLoop holds that compiled function, and its `inner` below is the
 * `PyUFuncGenericFunction` NumPy calls: it packs each operand args[k] as a
 * strided array (data, dims[0], steps[k]; for a gufunc operand its core
 * dimensions and strides follow) per core/ir.h's Argument ABI into a stack
 * buffer and calls the compiled entry. No Python, no allocation per call.
 * A loop compiled also for contiguous 1-D operands is used when every
 * step equals the item size (LLVM vectorises that one).
 * The parallel target splits dims[0] into chunks over the cpu device's
 * worker pool (devices/cpu/pool.c), each chunk packed the same way.
 *
 * make_ufunc builds the numpy.ufunc (PyUFunc_FromFuncAndData, or
 * ...AndSignature for a gufunc). NumPy keeps the pointers it is given (name,
 * doc, functions, data, types), so they live in one block owned by a
 * capsule; that capsule and the UfuncLoop objects are kept alive by the
 * ufunc itself through its `obj` field, which NumPy releases with the ufunc
 * (numba's ufunc builder does the same). The last item of that tuple is the
 * ufunc's owner, an object the Python side chooses (what pickling needs to
 * make the ufunc again, python/ember/_pickle.py); `ufunc_owner` reads it.
 */
#include "ext.h"

#include <stdbool.h>
#include <string.h>

#include <numpy/ufuncobject.h>

#include "devices/cpu/cpu_impl.h"
#include "devices/cpu/host_jit.h"

#define UFUNC_MAX_OPERANDS 32  /* NumPy's own limit (NPY_MAXARGS) */
#define UFUNC_CHUNKS_PER_WORKER 4

typedef struct {
    PyObject_HEAD
    PyObject *kernel;            /* owned: the loop function over strided operands */
    PyObject *kernel_contig;     /* owned or NULL: the same over contiguous 1-D operands */
    const HostKernel *hk;        /* borrowed from kernel */
    const HostKernel *hk_contig; /* borrowed from kernel_contig, or NULL */
    int nargs;                   /* operands: inputs then outputs */
    int nin;                     /* inputs */
    int ndim[UFUNC_MAX_OPERANDS]; /* packed ndim of each operand (1 + its core axes) */
    int8_t core[UFUNC_MAX_OPERANDS][EMBER_MAX_NDIM]; /* per core axis: index into dims[1..], or
                                                      -1 for an added axis of length 1 */
    npy_intp itemsize[UFUNC_MAX_OPERANDS]; /* for the contiguity test */
    npy_intp grain;              /* parallel: fewest outer iterations per chunk */
    pool *workers;               /* parallel target: the cpu device's pool; else NULL */
} ext_ufunc_loop;

static PyTypeObject *ufunc_loop_type; /* set by ufunc_loop() on first use */

/* The first fault of a loop's calls (a bounds check, np.empty(-1) ...),
 * raised once the loop is done; `taken` makes the first writer the only. */
typedef struct {
    int taken;
    HostDims dims;
} loop_fault;

static void keep_fault(loop_fault *f, const HostDims *d)
{
    if (__atomic_exchange_n(&f->taken, 1, __ATOMIC_ACQ_REL) == 0)
        f->dims = *d;
}

/* Packs args[k] + start * steps[k] with outer length `count` and calls hk;
 * a fault goes to *fault. */
static void run_range(const ext_ufunc_loop *L, const HostKernel *hk, char **args,
                      const npy_intp *dims, const npy_intp *steps, npy_intp start,
                      npy_intp count, loop_fault *fault)
{
    int64_t buf[UFUNC_MAX_OPERANDS * (1 + 2 * EMBER_MAX_NDIM)]; /* 8-byte aligned */
    int64_t ret[4];
    char *p = (char *)buf;
    int core_step = L->nargs; /* NumPy puts the core strides after the outer ones */
    for (int k = 0; k < L->nargs; k++) {
        int nd = L->ndim[k];
        uint64_t data = (uint64_t)(uintptr_t)(args[k] + start * steps[k]);
        int64_t *shape = (int64_t *)(p + 8), *strides = shape + nd;
        memcpy(p, &data, 8);
        shape[0] = count;
        strides[0] = steps[k];
        for (int j = 1; j < nd; j++) {
            int c = L->core[k][j - 1];
            shape[j] = c < 0 ? 1 : dims[1 + c];
            strides[j] = c < 0 ? 0 : steps[core_step++];
        }
        p += 8 + 16 * (size_t)nd;
    }
    HostDims hd;
    memset(&hd, 0, sizeof hd);
    host_kernel_call(hk, (const char *)buf, (char *)ret, &hd);
    host_arena_release(&hd.arena); /* the arrays the body made */
    if (hd.fault)
        keep_fault(fault, &hd);
}

typedef struct {
    const ext_ufunc_loop *L;
    const HostKernel *hk;
    char **args;
    const npy_intp *dims, *steps;
    npy_intp chunk, n;
    loop_fault *fault;
} chunk_ctx;

static void run_chunk(void *ctx, int64_t index, int worker)
{
    const chunk_ctx *c = ctx;
    npy_intp start = (npy_intp)index * c->chunk;
    npy_intp count = c->n - start < c->chunk ? c->n - start : c->chunk;
    run_range(c->L, c->hk, c->args, c->dims, c->steps, start, count, c->fault);
}

/* Raises the loop's fault in the calling thread (NumPy checks for a Python
 * error after the inner loop). */
static void raise_fault(const ext_ufunc_loop *L, const HostKernel *hk, const loop_fault *f)
{
    PyGILState_STATE g = PyGILState_Ensure();
    if (!PyErr_Occurred())
        ext_raise_call_fault(ext_kernel_name(L->kernel), hk, &f->dims);
    PyGILState_Release(g);
}

/* The PyUFuncGenericFunction of every ember loop; `data` is its UfuncLoop. */
static void inner(char **args, npy_intp const *dims, npy_intp const *steps, void *data)
{
    const ext_ufunc_loop *L = data;
    const HostKernel *hk = L->hk;
    npy_intp n = dims[0];
    if (n <= 0)
        return;
    if (L->hk_contig) {
        int k = 0;
        while (k < L->nargs && steps[k] == L->itemsize[k])
            k++;
        if (k == L->nargs)
            hk = L->hk_contig;
    }
    /* An output with outer step 0 is a reduction's accumulator (NumPy's
     * reduce and accumulate): its iterations depend on each other. */
    loop_fault fault = {0};
    bool accumulates = false;
    for (int k = L->nin; k < L->nargs; k++)
        accumulates |= steps[k] == 0;
    if (L->workers && !accumulates) {
        npy_intp nchunks = (npy_intp)pool_size(L->workers) * UFUNC_CHUNKS_PER_WORKER;
        if (nchunks > n / L->grain)
            nchunks = n / L->grain;
        if (nchunks >= 2) {
            chunk_ctx c = {L, hk, (char **)args, dims, steps, (n + nchunks - 1) / nchunks, n,
                           &fault};
            pool_run(L->workers, (n + c.chunk - 1) / c.chunk, run_chunk, &c);
            if (fault.taken)
                raise_fault(L, hk, &fault);
            return;
        }
    }
    run_range(L, hk, (char **)args, dims, steps, 0, n, &fault);
    if (fault.taken)
        raise_fault(L, hk, &fault);
}

/* ------------------------------------------------------------------------ */
/* UfuncLoop objects                                                        */
/* ------------------------------------------------------------------------ */

static int ufunc_loop_traverse(PyObject *self, visitproc visit, void *arg)
{
    ext_ufunc_loop *L = (ext_ufunc_loop *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(L->kernel);
    Py_VISIT(L->kernel_contig);
    return 0;
}

static void ufunc_loop_dealloc(PyObject *self)
{
    ext_ufunc_loop *L = (ext_ufunc_loop *)self;
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(L->kernel);
    Py_CLEAR(L->kernel_contig);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot ufunc_loop_slots[] = {
    {Py_tp_doc, "A NumPy inner loop running an ember-compiled loop function "
                "(made by ember._ember.ufunc_loop)."},
    {Py_tp_traverse, ufunc_loop_traverse},
    {Py_tp_dealloc, ufunc_loop_dealloc},
    {0, NULL},
};

static PyType_Spec ufunc_loop_spec = {
    .name = "ember._ember.UfuncLoop",
    .basicsize = sizeof(ext_ufunc_loop),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = ufunc_loop_slots,
};

/* Checks that `kernel` is a host ember.jit function whose packed arguments
 * take `want` bytes; its code, or NULL with a ValueError. */
static const HostKernel *loop_code(ext_state *st, PyObject *kernel, size_t want,
                                   const char *what)
{
    size_t size = 0;
    const HostKernel *hk = NULL;
    if (PyObject_TypeCheck(kernel, st->kernel_type))
        hk = ext_kernel_host_function(kernel, &size);
    if (!hk || size != want) {
        PyErr_Format(PyExc_ValueError, "ufunc_loop: %s must be an ember.jit function compiled "
                     "for the host whose parameters are the operands as described", what);
        return NULL;
    }
    return hk;
}

/* ufunc_loop(kernel, kernel_contig, operands, nin, parallel, grain) -> UfuncLoop.
 * `operands`: per operand (nin inputs, then outputs) a tuple of (item size,
 * core axes), each core axis an index into NumPy's core dimensions (in
 * order of first appearance in the layout) or -1 for an added axis of
 * length 1 (a `()` operand the function sees as a 1-element array).
 * kernel_contig is None or a loop over contiguous 1-D operands. */
static PyObject *ufunc_loop(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "ufunc_loop(kernel, kernel_contig, operands, nin, "
                        "parallel, grain): operands is a tuple");
        return NULL;
    }
    Py_ssize_t nops = PyTuple_GET_SIZE(args[2]);
    if (nops < 1 || nops > UFUNC_MAX_OPERANDS) {
        PyErr_Format(PyExc_ValueError, "ufunc_loop: 1 to %d operands, not %zd",
                     UFUNC_MAX_OPERANDS, nops);
        return NULL;
    }
    if (!ufunc_loop_type) {
        ufunc_loop_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ufunc_loop_spec,
                                                                   NULL);
        if (!ufunc_loop_type)
            return NULL;
    }
    long nin = PyLong_AsLong(args[3]);
    int parallel = PyObject_IsTrue(args[4]);
    Py_ssize_t grain = PyLong_AsSsize_t(args[5]);
    if ((nin == -1 && PyErr_Occurred()) || parallel < 0 || (grain == -1 && PyErr_Occurred()))
        return NULL;
    if (nin < 1 || nin >= nops) {
        PyErr_Format(PyExc_ValueError, "ufunc_loop: %ld inputs of %zd operands", nin, nops);
        return NULL;
    }
    ext_ufunc_loop *L = PyObject_GC_New(ext_ufunc_loop, ufunc_loop_type);
    if (!L)
        return NULL;
    Py_INCREF(ufunc_loop_type); /* heap type instances hold their type */
    L->kernel = L->kernel_contig = NULL;
    L->hk = L->hk_contig = NULL;
    L->workers = NULL;
    L->nargs = (int)nops;
    L->nin = (int)nin;
    L->grain = grain < 1 ? 1 : grain;
    PyObject_GC_Track((PyObject *)L);
    size_t size = 0, size_contig = 0;
    for (Py_ssize_t k = 0; k < nops; k++) {
        PyObject *op = PyTuple_GET_ITEM(args[2], k);
        PyObject *axes = PyTuple_Check(op) && PyTuple_GET_SIZE(op) == 2 ? PyTuple_GET_ITEM(op, 1)
                                                                         : NULL;
        if (!axes || !PyTuple_Check(axes) || PyTuple_GET_SIZE(axes) >= EMBER_MAX_NDIM) {
            PyErr_SetString(PyExc_TypeError, "ufunc_loop: each operand is (itemsize, core axes)");
            goto fail;
        }
        L->itemsize[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(op, 0));
        if (L->itemsize[k] == -1 && PyErr_Occurred())
            goto fail;
        L->ndim[k] = 1 + (int)PyTuple_GET_SIZE(axes);
        for (int j = 0; j < L->ndim[k] - 1; j++) {
            long c = PyLong_AsLong(PyTuple_GET_ITEM(axes, j));
            if (c == -1 && PyErr_Occurred())
                goto fail;
            if (c < -1 || c >= EMBER_MAX_NDIM) {
                PyErr_Format(PyExc_ValueError, "ufunc_loop: bad core axis %ld", c);
                goto fail;
            }
            L->core[k][j] = (int8_t)c;
        }
        size += 8 + 16 * (size_t)L->ndim[k];
        size_contig += 24;
    }
    ext_state *st = ext_state_of_module(module);
    if (!(L->hk = loop_code(st, args[0], size, "kernel")))
        goto fail;
    L->kernel = args[0];
    Py_INCREF(L->kernel);
    if (args[1] != Py_None) {
        if (!(L->hk_contig = loop_code(st, args[1], size_contig, "kernel_contig")))
            goto fail;
        L->kernel_contig = args[1];
        Py_INCREF(L->kernel_contig);
    }
    if (parallel) {
        ember_device_t cpu = NULL;
        ember_status s = ember_init();
        if (s == EMBER_SUCCESS)
            s = ember_device_get(EMBER_DEVICE_CPU, 0, &cpu);
        if (s == EMBER_SUCCESS)
            s = cpu_device_pool(cpu, &L->workers);
        if (s != EMBER_SUCCESS) {
            ext_raise(st, s, "ufunc_loop");
            goto fail;
        }
    }
    return (PyObject *)L;
fail:
    Py_DECREF(L);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* numpy.ufunc objects                                                      */
/* ------------------------------------------------------------------------ */

static void block_free(PyObject *capsule)
{
    PyMem_Free(PyCapsule_GetPointer(capsule, "ember.ufunc_block"));
}

static const char *copy_str(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(*at, s, n);
    const char *r = *at;
    *at += n;
    return r;
}

/* Each loop's core axes must be the ufunc's core dimensions, operand by
 * operand in order (the inner loop reads dims[] and steps[] by them). */
static int check_core_axes(const PyUFuncObject *uf, PyObject *keep)
{
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(keep) - 1; i++) { /* the loops */
        const ext_ufunc_loop *L = (const ext_ufunc_loop *)PyTuple_GET_ITEM(keep, i);
        for (int k = 0; k < L->nargs; k++) {
            int n = 0;
            for (int j = 0; j < L->ndim[k] - 1; j++) {
                int c = L->core[k][j];
                if (c < 0)
                    continue;
                if (!uf->core_enabled || n >= uf->core_num_dims[k] ||
                    c != uf->core_dim_ixs[uf->core_offsets[k] + n]) {
                    PyErr_Format(PyExc_ValueError, "make_ufunc: loop %zd, operand %d: its core "
                                 "axes are not the layout's", i - 1, k);
                    return -1;
                }
                n++;
            }
            if (uf->core_enabled && n != uf->core_num_dims[k]) {
                PyErr_Format(PyExc_ValueError, "make_ufunc: loop %zd, operand %d has %d core "
                             "axes; the layout gives it %d", i - 1, k, n, uf->core_num_dims[k]);
                return -1;
            }
        }
    }
    return 0;
}

/* NumPy's ufunc C API (PyUFunc_Type, PyUFunc_FromFuncAndData...), imported
 * at the first use. */
static int ensure_umath(void)
{
    static int umath_imported = 0;
    if (!umath_imported) {
        if (_import_umath() < 0)
            return -1;
        umath_imported = 1;
    }
    return 0;
}

/* make_ufunc(name, doc, nin, nout, loops, identity, signature, owner=None) ->
 * numpy.ufunc. `loops`: a list of (type numbers of the operands, UfuncLoop),
 * in the order NumPy tries them; identity: PyUFunc_* code (0, 1, -1 None,
 * -2 reorderable None); signature: None, or a gufunc layout "(n),(n)->()". */
static PyObject *make_ufunc(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name, *doc, *signature = NULL;
    int nin, nout, identity;
    if ((nargs != 7 && nargs != 8) || !(name = PyUnicode_AsUTF8(args[0])) ||
        !(doc = PyUnicode_AsUTF8(args[1])) ||
        (nin = PyLong_AsLong(args[2])) < 0 || (nout = PyLong_AsLong(args[3])) < 0 ||
        !PyList_Check(args[4]) ||
        ((identity = PyLong_AsLong(args[5])) == -1 && PyErr_Occurred()) ||
        (args[6] != Py_None && !(signature = PyUnicode_AsUTF8(args[6])))) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "make_ufunc(name: str, doc: str, nin: int, "
                            "nout: int, loops: list, identity: int, signature: str | None, "
                            "owner=None)");
        }
        return NULL;
    }
    if (ensure_umath() < 0)
        return NULL;
    int nops = nin + nout;
    Py_ssize_t ntypes = PyList_GET_SIZE(args[4]);
    if (nin < 1 || nout < 1 || nops > UFUNC_MAX_OPERANDS) {
        PyErr_Format(PyExc_ValueError, "make_ufunc: %d inputs and %d outputs (1 or more "
                     "each, %d operands at most)", nin, nout, UFUNC_MAX_OPERANDS);
        return NULL;
    }
    size_t size = (size_t)ntypes * (sizeof(PyUFuncGenericFunction) + sizeof(void *) + nops) +
                  strlen(name) + strlen(doc) + 2;
    char *block = PyMem_Malloc(size ? size : 1);
    if (!block)
        return PyErr_NoMemory();
    PyObject *capsule = PyCapsule_New(block, "ember.ufunc_block", block_free);
    if (!capsule) {
        PyMem_Free(block);
        return NULL;
    }
    PyObject *keep = PyTuple_New(ntypes + 2); /* the capsule, the loops, the owner */
    if (!keep) {
        Py_DECREF(capsule);
        return NULL;
    }
    PyTuple_SET_ITEM(keep, 0, capsule);
    PyObject *owner = nargs == 8 ? args[7] : Py_None;
    Py_INCREF(owner);
    PyTuple_SET_ITEM(keep, ntypes + 1, owner);
    PyUFuncGenericFunction *functions = (PyUFuncGenericFunction *)block;
    void **data = (void **)(functions + ntypes);
    char *types = (char *)(data + ntypes), *strings = types + ntypes * nops;
    for (Py_ssize_t i = 0; i < ntypes; i++) {
        PyObject *item = PyList_GET_ITEM(args[4], i);
        PyObject *tnums = PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2
                              ? PyTuple_GET_ITEM(item, 0) : NULL;
        PyObject *loop = tnums ? PyTuple_GET_ITEM(item, 1) : NULL;
        if (!tnums || !PyTuple_Check(tnums) || PyTuple_GET_SIZE(tnums) != nops ||
            !ufunc_loop_type || Py_TYPE(loop) != ufunc_loop_type ||
            ((ext_ufunc_loop *)loop)->nargs != nops) {
            PyErr_Format(PyExc_TypeError, "make_ufunc: loop %zd must be (a tuple of %d type "
                         "numbers, a UfuncLoop of %d operands)", i, nops, nops);
            goto fail;
        }
        for (int k = 0; k < nops; k++) {
            long t = PyLong_AsLong(PyTuple_GET_ITEM(tnums, k));
            /* NumPy's built-in type numbers (NPY_NTYPES is gone in NumPy 2) */
            PyArray_Descr *d = t >= 0 && t < NPY_USERDEF ? PyArray_DescrFromType((int)t) : NULL;
            if (!d) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "make_ufunc: bad type number %ld", t);
                goto fail;
            }
            Py_DECREF(d);
            types[i * nops + k] = (char)t;
        }
        functions[i] = inner;
        data[i] = loop;
        Py_INCREF(loop);
        PyTuple_SET_ITEM(keep, i + 1, loop);
    }
    const char *kept_name = copy_str(&strings, name), *kept_doc = copy_str(&strings, doc);
    PyObject *uf = PyUFunc_FromFuncAndDataAndSignature(
        functions, data, types, (int)ntypes, nin, nout, identity, kept_name, kept_doc, 0,
        signature);
    if (!uf)
        goto fail;
    if (check_core_axes((PyUFuncObject *)uf, keep) < 0) {
        Py_DECREF(uf);
        goto fail;
    }
    ((PyUFuncObject *)uf)->obj = keep; /* released by NumPy with the ufunc */
    return uf;
fail:
    /* items not set yet are NULL, which tuple deallocation skips */
    Py_DECREF(keep);
    return NULL;
}

/* ufunc_owner(ufunc) -> the owner make_ufunc was given, or None for a ufunc
 * make_ufunc did not make (NumPy's own, numba's ...). */
static PyObject *ufunc_owner(PyObject *module, PyObject *obj)
{
    if (ensure_umath() < 0)
        return NULL;
    if (!PyObject_TypeCheck(obj, &PyUFunc_Type))
        Py_RETURN_NONE;
    PyObject *keep = ((PyUFuncObject *)obj)->obj;
    if (!keep || !PyTuple_CheckExact(keep) || PyTuple_GET_SIZE(keep) < 2 ||
        !PyCapsule_IsValid(PyTuple_GET_ITEM(keep, 0), "ember.ufunc_block"))
        Py_RETURN_NONE;
    PyObject *owner = PyTuple_GET_ITEM(keep, PyTuple_GET_SIZE(keep) - 1);
    Py_INCREF(owner);
    return owner;
}

PyMethodDef ext_ufunc_methods[] = {
    {"ufunc_owner", (PyCFunction)ufunc_owner, METH_O,
     "ufunc_owner($module, ufunc, /)\n--\n\n"
     "The owner object make_ufunc was given for `ufunc`; None for other ufuncs."},
    {"ufunc_loop", (PyCFunction)(void (*)(void))ufunc_loop, METH_FASTCALL,
     "ufunc_loop($module, kernel, kernel_contig, operands, nin, parallel, grain, /)\n--\n\n"
     "A NumPy inner loop over a compiled ember.jit loop function."},
    {"make_ufunc", (PyCFunction)(void (*)(void))make_ufunc, METH_FASTCALL,
     "make_ufunc($module, name, doc, nin, nout, loops, identity, signature, owner=None, /)\n--\n\n"
     "A numpy.ufunc (a gufunc when signature is given) of ember loops."},
    {NULL, NULL, 0, NULL},
};
