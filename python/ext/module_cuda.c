/*
 * module_cuda.c — low-level bindings of ember's modules and kernel launches
 * (launch/module.c): the types Module and ModuleKernel.
 *
 *   m = _ember.Module('cuda', 0, ptx)        # PTX text (str or bytes), JIT-loaded
 *   k = m.get_kernel('saxpy')
 *   k.launch((blocks, 1, 1), (threads, 1, 1), packed_args, shared=0, stream=None)
 *   fault, site = m.take_fault()             # after synchronising
 *   block, min_grid = k.max_block_size(shared=0)
 *
 * `packed_args` is the kernel's packed argument buffer (core/ir.h "Argument
 * ABI"), any contiguous bytes-like object; packing is the caller's. These
 * are the pieces the @cuda.jit integration builds on; they hold no logic of
 * their own beyond turning Python arguments into C ones. A ModuleKernel
 * keeps its Module alive, since the module owns the C kernel handle. The
 * JIT load and the destroy (which waits for the device) release the GIL;
 * a launch only queues work and keeps it.
 */
#include "ext.h"

#include "structmember.h"

#include "devices/cuda/nvjitlink.h"

typedef struct {
    PyObject_HEAD
    ember_module_t module;  /* owned; NULL until set up */
    ember_device_t device;  /* borrowed from the registry */
    PyObject *weakreflist;
} ext_module;

typedef struct {
    PyObject_HEAD
    PyObject *module;       /* the Module owning `kernel`; strong reference */
    ember_kernel_t kernel;  /* owned by the module */
} ext_module_kernel;

/* ------------------------------------------------------------------------ */
/* Module                                                                   */
/* ------------------------------------------------------------------------ */

/* PTX as a NUL-terminated string: str (UTF-8) or bytes without NULs. The
 * result borrows from `obj`. */
static const char *ptx_text(PyObject *obj)
{
    if (PyUnicode_Check(obj)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
        if (s && (Py_ssize_t)strlen(s) != n) {
            PyErr_SetString(PyExc_ValueError, "Module: ptx contains a NUL character");
            return NULL;
        }
        return s;
    }
    if (PyBytes_Check(obj)) {
        const char *s = PyBytes_AS_STRING(obj);
        if ((Py_ssize_t)strlen(s) != PyBytes_GET_SIZE(obj)) {
            PyErr_SetString(PyExc_ValueError, "Module: ptx contains a NUL byte");
            return NULL;
        }
        return s;
    }
    PyErr_Format(PyExc_TypeError, "Module: ptx must be str or bytes, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

/* The inputs of a link list [(kind 0..4, bytes or None, name or path)]:
 * *inputs (PyMem) borrows from *items (a new reference), both the caller's
 * to release. -1 with an exception set. */
static int link_inputs(PyObject *link, PyObject **items, ember_link_input **inputs,
                       Py_ssize_t *ninputs)
{
    if (!(*items = PySequence_Fast(link, "link must be a list of (kind, data, name)")))
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(*items);
    if (!(*inputs = PyMem_Calloc((size_t)n + 1, sizeof **inputs))) {
        Py_CLEAR(*items);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(*items, i);
        int k;
        PyObject *data;
        const char *name;
        if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "iOs", &k, &data, &name) ||
            (data != Py_None && (!PyBytes_Check(data) || PyBytes_GET_SIZE(data) == 0)) ||
            k < 0 || k > EMBER_LINK_LTOIR) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a link item is (kind 0..5, non-empty bytes "
                                "or None, name)");
            PyMem_Free(*inputs);
            *inputs = NULL;
            Py_CLEAR(*items);
            return -1;
        }
        (*inputs)[i].kind = (ember_link_kind)k;
        (*inputs)[i].name = name;
        if (data != Py_None) {
            (*inputs)[i].data = PyBytes_AS_STRING(data);
            (*inputs)[i].size = (size_t)PyBytes_GET_SIZE(data);
        }
    }
    *ninputs = n;
    return 0;
}

/* link_image(ordinal, link) -> bytes: ember_link_image on CUDA device `ordinal`. */
PyObject *ext_link_image(PyObject *module, PyObject *args)
{
    PyObject *ordinal, *link, *items = NULL;
    if (!PyArg_ParseTuple(args, "OO:link_image", &ordinal, &link))
        return NULL;
    ext_state *st = ext_state_of_module(module);
    ember_device_t dev;
    PyObject *kind = PyUnicode_FromString("cuda");
    int bad = !kind || ext_device(st, kind, ordinal, &dev) < 0;
    Py_XDECREF(kind);
    ember_link_input *inputs = NULL;
    Py_ssize_t n = 0;
    if (bad || link_inputs(link, &items, &inputs, &n) < 0)
        return NULL;
    void *image = NULL;
    size_t size = 0;
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = ember_link_image(dev, inputs, (size_t)n, &image, &size);
    Py_END_ALLOW_THREADS
    PyMem_Free(inputs);
    Py_DECREF(items);
    if (status != EMBER_SUCCESS)
        return ext_raise(st, status, "link_image");
    PyObject *r = PyBytes_FromStringAndSize(image, (Py_ssize_t)size);
    ember_link_image_free(image);
    return r;
}

/* lto_link(cc, ptx, link) -> bytes: the cubin nvJitLink makes of `ptx` (str or
 * None) and `link` with -lto for compute capability cc (a (major, minor)
 * tuple); no driver needed (the GPU path links the same way). */
PyObject *ext_lto_link(PyObject *module, PyObject *args)
{
    int major, minor;
    const char *ptx;
    PyObject *link, *items = NULL;
    if (!PyArg_ParseTuple(args, "(ii)zO:lto_link", &major, &minor, &ptx, &link))
        return NULL;
    ext_state *st = ext_state_of_module(module);
    ember_link_input *inputs = NULL;
    Py_ssize_t n = 0;
    if (link_inputs(link, &items, &inputs, &n) < 0)
        return NULL;
    void *cubin = NULL;
    size_t size = 0;
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = nvjitlink_link(major, minor, ptx, inputs, (size_t)n, &cubin, &size);
    Py_END_ALLOW_THREADS
    PyMem_Free(inputs);
    Py_DECREF(items);
    if (status != EMBER_SUCCESS)
        return ext_raise(st, status, "lto_link");
    PyObject *r = PyBytes_FromStringAndSize(cubin, (Py_ssize_t)size);
    em_free(cubin);
    return r;
}

static PyObject *module_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"device_kind", "ordinal", "ptx", "link", NULL};
    PyObject *kind, *ordinal, *ptx_obj, *link = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:Module", kwlist, &kind, &ordinal,
                                     &ptx_obj, &link))
        return NULL;
    ext_state *st = ext_state_of_type(tp);
    ember_device_t dev;
    const char *ptx = ptx_text(ptx_obj);
    if (!ptx || ext_device(st, kind, ordinal, &dev) < 0)
        return NULL;
    /* link: [(ember_link_kind, bytes or None, name or path)] (ember_module_load_linked) */
    PyObject *items = NULL;
    ember_link_input *inputs = NULL;
    Py_ssize_t ninputs = 0;
    if (link && link != Py_None && link_inputs(link, &items, &inputs, &ninputs) < 0)
        return NULL;
    ext_module *self = (ext_module *)tp->tp_alloc(tp, 0);
    if (!self) {
        PyMem_Free(inputs);
        Py_XDECREF(items);
        return NULL;
    }
    ext_live_objects++;
    ember_module_t m = NULL;
    ember_status status;
    Py_INCREF(ptx_obj); /* `ptx` borrows from it while the GIL is released */
    Py_BEGIN_ALLOW_THREADS
    status = items ? ember_module_load_linked(dev, ptx, inputs, (size_t)ninputs, &m)
                   : ember_module_load_ptx(dev, ptx, &m);
    Py_END_ALLOW_THREADS
    Py_DECREF(ptx_obj);
    PyMem_Free(inputs);
    Py_XDECREF(items); /* the tuples' bytes and names lived in it until here */
    if (status != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, status, "Module");
    }
    self->module = m;
    self->device = dev;
    return (PyObject *)self;
}

static void module_dealloc(PyObject *obj)
{
    ext_module *self = (ext_module *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    if (self->weakreflist)
        PyObject_ClearWeakRefs(obj);
    if (self->module) {
        ember_module_t m = self->module;
        self->module = NULL;
        Py_BEGIN_ALLOW_THREADS
        ember_module_destroy(m); /* waits for the device first */
        Py_END_ALLOW_THREADS
    }
    ext_live_objects--;
    tp->tp_free(obj);
    Py_DECREF(tp);
}

static int module_ready(ext_module *self)
{
    if (self->module)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "uninitialised ember Module");
    return 0;
}

static PyObject *module_get_kernel(PyObject *obj, PyObject *name)
{
    ext_module *self = (ext_module *)obj;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    if (!module_ready(self))
        return NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "get_kernel: name must be str, not %.100s",
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8(name);
    if (!s)
        return NULL;
    ember_kernel_t k;
    ember_status status = ember_module_get_kernel(self->module, s, &k);
    if (status != EMBER_SUCCESS)
        return ext_raise(st, status, "get_kernel");
    PyTypeObject *tp = st->module_kernel_type;
    ext_module_kernel *kern = (ext_module_kernel *)tp->tp_alloc(tp, 0);
    if (!kern)
        return NULL;
    Py_INCREF(obj);
    kern->module = obj;
    kern->kernel = k;
    return (PyObject *)kern;
}

static PyObject *module_take_fault(PyObject *obj, PyObject *unused)
{
    ext_module *self = (ext_module *)obj;
    if (!module_ready(self))
        return NULL;
    int32_t fault = 0, site = 0, where[6];
    ember_status status;
    Py_BEGIN_ALLOW_THREADS
    status = ember_module_take_fault_where(self->module, &fault, &site, where);
    Py_END_ALLOW_THREADS
    if (status != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), status, "take_fault");
    if (unused == Py_True) /* take_fault_where */
        return Py_BuildValue("(ii(iii)(iii))", (int)fault, (int)site, (int)where[0],
                             (int)where[1], (int)where[2], (int)where[3], (int)where[4],
                             (int)where[5]);
    return Py_BuildValue("(ii)", (int)fault, (int)site);
}

static PyObject *module_take_fault_where(PyObject *obj, PyObject *unused)
{
    return module_take_fault(obj, Py_True);
}

static PyObject *module_get_device(PyObject *obj, void *c)
{
    ext_module *self = (ext_module *)obj;
    return module_ready(self) ? ext_device_tuple(self->device) : NULL;
}

static PyMethodDef module_methods[] = {
    {"get_kernel", module_get_kernel, METH_O,
     "get_kernel(name)\n--\n\nThe kernel (PTX .entry) `name`; ValueError naming it when the "
     "module has none."},
    {"take_fault_where", module_take_fault_where, METH_NOARGS,
     "take_fault_where()\n--\n\n(fault, site, threadIdx, blockIdx) from the fault record, "
     "then cleared (the kernels ember compiles record the thread and block)."},
    {"take_fault", module_take_fault, METH_NOARGS,
     "take_fault()\n--\n\n(fault, site) from the module's ember_fault record, then cleared: "
     "(0, 0) when no kernel stopped early or the module has no record. Call it after "
     "synchronising."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef module_getset[] = {
    {"device", module_get_device, NULL, "(kind, ordinal) of the device it is loaded on.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef module_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ext_module, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot module_slots[] = {
    {Py_tp_doc, "Module(device_kind, ordinal, ptx)\n--\n\nPTX text loaded on a CUDA device by "
                "the driver's JIT. A JIT error raises CudaAPIError carrying the JIT's log."},
    {Py_tp_new, module_new},
    {Py_tp_dealloc, module_dealloc},
    {Py_tp_methods, module_methods},
    {Py_tp_getset, module_getset},
    {Py_tp_members, module_members},
    {0, NULL},
};

PyType_Spec ext_module_spec = {
    .name = "ember._ember.Module",
    .basicsize = sizeof(ext_module),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = module_slots,
};

/* ------------------------------------------------------------------------ */
/* ModuleKernel                                                             */
/* ------------------------------------------------------------------------ */

static void kernel_dealloc(PyObject *obj)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    Py_CLEAR(self->module);
    tp->tp_free(obj);
    Py_DECREF(tp);
}

static int kernel_ready(ext_module_kernel *self)
{
    if (self->kernel)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "uninitialised ember ModuleKernel");
    return 0;
}

/* A size_t from a non-negative int argument. */
static int size_arg(PyObject *obj, const char *what, size_t *out)
{
    int64_t v = 0;
    if (!obj)
        return 0;
    if (ext_int64(obj, what, &v) < 0)
        return -1;
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, not %lld", what, (long long)v);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* launch(grid, block, args, shared=0, stream=None) */
static PyObject *kernel_launch(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"grid", "block", "args", "shared", "stream", NULL};
    ext_module_kernel *self = (ext_module_kernel *)obj;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    PyObject *a[5];
    int64_t grid64[3], block64[3];
    size_t shared = 0;
    ember_stream_t stream = NULL;
    ember_device_t stream_dev = NULL;
    if (!kernel_ready(self) ||
        ext_parse("launch", args, nargs, kwnames, names, 3, a) < 0 ||
        ext_dims3(a[0], "grid", grid64) < 0 || ext_dims3(a[1], "block", block64) < 0 ||
        size_arg(a[3], "shared", &shared) < 0 ||
        ext_stream_arg(st, a[4], "stream", &stream, &stream_dev) < 0)
        return NULL;
    ember_device_t dev = ((ext_module *)self->module)->device;
    if (stream_dev && stream_dev != dev) {
        PyErr_SetString(PyExc_ValueError,
                        "launch: the stream belongs to another device than the kernel's module");
        return NULL;
    }
    Py_buffer buf;
    if (PyObject_GetBuffer(a[2], &buf, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    uint32_t grid[3], block[3];
    for (int i = 0; i < 3; i++) {
        grid[i] = (uint32_t)grid64[i]; /* ext_dims3: 1 .. 2**31-1 */
        block[i] = (uint32_t)block64[i];
    }
    ember_status status = ember_kernel_launch(self->kernel, grid, block, shared, stream,
                                              buf.len ? buf.buf : NULL, (size_t)buf.len);
    PyBuffer_Release(&buf);
    if (status != EMBER_SUCCESS)
        return ext_raise(st, status, NULL);
    Py_RETURN_NONE;
}

static PyObject *kernel_max_block_size(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                                       PyObject *kwnames)
{
    static const char *const names[] = {"shared", NULL};
    ext_module_kernel *self = (ext_module_kernel *)obj;
    PyObject *a[1];
    size_t shared = 0;
    if (!kernel_ready(self) || ext_parse("max_block_size", args, nargs, kwnames, names, 0, a) < 0 ||
        size_arg(a[0], "shared", &shared) < 0)
        return NULL;
    int block = 0, min_grid = 0;
    ember_status status = ember_kernel_max_block_size(self->kernel, shared, &block, &min_grid);
    if (status != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), status, NULL);
    return Py_BuildValue("(ii)", block, min_grid);
}

/* max_cooperative_grid_blocks(block, shared=0): the co-residency limit of a
 * cooperative launch (ember_kernel_max_cooperative_blocks). */
static PyObject *kernel_max_cooperative(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    static const char *const names[] = {"block", "shared", NULL};
    ext_module_kernel *self = (ext_module_kernel *)obj;
    PyObject *a[2];
    int64_t block64[3];
    size_t shared = 0;
    if (!kernel_ready(self) ||
        ext_parse("max_cooperative_grid_blocks", args, nargs, kwnames, names, 1, a) < 0 ||
        ext_dims3(a[0], "block", block64) < 0 || size_arg(a[1], "shared", &shared) < 0)
        return NULL;
    uint32_t block[3];
    for (int i = 0; i < 3; i++)
        block[i] = (uint32_t)block64[i];
    int64_t blocks = 0;
    ember_status status = ember_kernel_max_cooperative_blocks(self->kernel, block, shared,
                                                              &blocks);
    if (status != EMBER_SUCCESS)
        return ext_raise(ext_state_of_type(Py_TYPE(obj)), status, NULL);
    return PyLong_FromLongLong(blocks);
}

static PyObject *kernel_get_cooperative(PyObject *obj, void *c)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    return kernel_ready(self) ? PyBool_FromLong(ember_kernel_cooperative(self->kernel)) : NULL;
}

static PyObject *kernel_get_name(PyObject *obj, void *c)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    return kernel_ready(self) ? PyUnicode_FromString(ember_kernel_name(self->kernel)) : NULL;
}

static PyObject *kernel_get_max_threads(PyObject *obj, void *c)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    return kernel_ready(self) ? PyLong_FromLong(ember_kernel_max_threads(self->kernel)) : NULL;
}

static PyObject *kernel_get_module(PyObject *obj, void *c)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    if (!kernel_ready(self))
        return NULL;
    Py_INCREF(self->module);
    return self->module;
}

static PyObject *kernel_repr(PyObject *obj)
{
    ext_module_kernel *self = (ext_module_kernel *)obj;
    if (!self->kernel)
        return PyUnicode_FromFormat("<%s (uninitialised)>", Py_TYPE(obj)->tp_name);
    return PyUnicode_FromFormat("<%s '%s'>", Py_TYPE(obj)->tp_name,
                                ember_kernel_name(self->kernel));
}

static PyMethodDef kernel_methods[] = {
    {"launch", (PyCFunction)(void (*)(void))kernel_launch, METH_FASTCALL | METH_KEYWORDS,
     "launch(grid, block, args, shared=0, stream=None)\n--\n\nQueues the kernel: grid and "
     "block are 3-tuples, args the packed argument buffer (bytes-like, a multiple of 8 "
     "bytes), shared the dynamic shared memory per block, stream an ember Stream of the "
     "module's device or None for its default stream."},
    {"max_block_size", (PyCFunction)(void (*)(void))kernel_max_block_size,
     METH_FASTCALL | METH_KEYWORDS,
     "max_block_size(shared=0)\n--\n\n(block_size, min_grid_size) for the highest occupancy "
     "with `shared` bytes of dynamic shared memory per block."},
    {"max_cooperative_grid_blocks", (PyCFunction)(void (*)(void))kernel_max_cooperative,
     METH_FASTCALL | METH_KEYWORDS,
     "max_cooperative_grid_blocks(block, shared=0)\n--\n\nThe most blocks of `block` (a "
     "3-tuple) threads with `shared` bytes of dynamic shared memory that can be resident on "
     "the device at once: the grid limit of a cooperative launch (a kernel calling "
     "grid.sync())."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef kernel_getset[] = {
    {"name", kernel_get_name, NULL, "The kernel's name (its PTX .entry).", NULL},
    {"max_threads", kernel_get_max_threads, NULL, "The most threads per block it can run.", NULL},
    {"module", kernel_get_module, NULL, "The Module it belongs to.", NULL},
    {"cooperative", kernel_get_cooperative, NULL,
     "True when it calls grid.sync(): launched with cuLaunchCooperativeKernel.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot kernel_slots[] = {
    {Py_tp_doc, "A kernel of a Module (from Module.get_kernel)."},
    {Py_tp_dealloc, kernel_dealloc},
    {Py_tp_repr, kernel_repr},
    {Py_tp_methods, kernel_methods},
    {Py_tp_getset, kernel_getset},
    {0, NULL},
};

PyType_Spec ext_module_kernel_spec = {
    .name = "ember._ember.ModuleKernel",
    .basicsize = sizeof(ext_module_kernel),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = kernel_slots,
};

int ext_module_kernel_launch(PyObject *function, const int64_t grid[3], const int64_t block[3],
                             size_t shared, const void *args, size_t args_size)
{
    ext_state *st = ext_state_of_type(Py_TYPE(function));
    if (!PyObject_TypeCheck(function, st->module_kernel_type)) {
        PyErr_SetString(PyExc_TypeError, "expected a ModuleKernel");
        return -1;
    }
    ext_module_kernel *self = (ext_module_kernel *)function;
    uint32_t g[3], b[3];
    for (int i = 0; i < 3; i++) {
        g[i] = (uint32_t)grid[i];
        b[i] = (uint32_t)block[i];
    }
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_kernel_launch(self->kernel, g, b, shared, NULL, args, args_size);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, NULL);
        return -1;
    }
    return 0;
}
