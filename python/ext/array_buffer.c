/*
 * array_buffer.c — the Python buffer protocol (PEP 3118) for ember arrays
 * in host-accessible memory: the cpu device's arrays (and any buffer whose
 * memory the host can address).
 *
 * With it `memoryview(d)`, `np.frombuffer(d, ...)`, `bytes(d)` and above
 * all mpi4py's `comm.Send(d)` / `Recv` / `Allreduce` read and write a
 * DeviceNDArray's memory in place, without a copy. Arrays in GPU memory
 * refuse with a BufferError that names what works there instead
 * (`__cuda_array_interface__` / DLPack for CUDA-aware MPI, or a host copy):
 * handing a device pointer to code that dereferences it on the host would
 * crash the process.
 *
 * The export is a view: shape and strides point into the array's own
 * descriptor (immutable, and kept alive through view->obj), so nothing is
 * allocated and no release function is needed. Kernels on the cpu device
 * have finished when their launch returns, so the memory is never being
 * written while Python looks at it.
 *
 * The HostMemory type at the end is numba's mviewbuf.MemAlloc: the base of
 * the host-memory objects (MappedMemory, PinnedMemory, ManagedMemory in
 * cuda/_emm.py), whose buffer is the `_buflen_` bytes at host address
 * `_bufptr_` that the object itself names, so that
 * `np.ndarray(n, buffer=ctx.memhostalloc(n, mapped=True))` works as in
 * numba.
 */
#include "ext.h"

_Static_assert(sizeof(Py_ssize_t) == sizeof(int64_t),
               "the export points Py_buffer's shape and strides at int64_t arrays");

/* The struct-module format of an ember dtype (native byte order; NumPy's
 * choice of letters, which mpi4py maps to MPI datatypes). */
static const char *buffer_format(ember_dtype dt)
{
    switch (dt) {
    case EMBER_BOOL: return "?";
    case EMBER_INT8: return "b";
    case EMBER_INT16: return "h";
    case EMBER_INT32: return "i";
    case EMBER_INT64: return "l";
    case EMBER_UINT8: return "B";
    case EMBER_UINT16: return "H";
    case EMBER_UINT32: return "I";
    case EMBER_UINT64: return "L";
    case EMBER_FLOAT16: return "e";
    case EMBER_FLOAT32: return "f";
    case EMBER_FLOAT64: return "d";
    case EMBER_COMPLEX64: return "Zf";
    case EMBER_COMPLEX128: return "Zd";
    default: return NULL;
    }
}

int ext_array_getbuffer(PyObject *obj, Py_buffer *view, int flags)
{
    ext_array *self = (ext_array *)obj;
    const ember_array *a = &self->arr;
    view->obj = NULL;
    if (!a->buffer || !self->dtype) {
        PyErr_SetString(PyExc_BufferError, "uninitialised ember array");
        return -1;
    }
    char *base = ember_buffer_host_ptr(a->buffer);
    ember_device_info info;
    if (ember_device_get_info(ember_buffer_device(a->buffer), &info) != EMBER_SUCCESS)
        info.kind = EMBER_DEVICE_CUDA; /* unknown: treat it as memory the host cannot see */
    if (!base && (info.kind != EMBER_DEVICE_CPU || ember_buffer_size(a->buffer) > 0)) {
        PyErr_SetString(PyExc_BufferError,
                        "this device array lives in GPU memory, which the host cannot address: "
                        "use its __cuda_array_interface__ or __dlpack__ (mpi4py passes them to "
                        "a CUDA-aware MPI), or copy it to the host with copy_to_host()");
        return -1;
    }
    const char *format = buffer_format(a->dtype);
    if (!format) {
        PyErr_SetString(PyExc_BufferError, "this array's dtype has no buffer format");
        return -1;
    }
    bool c = ember_array_is_c_contiguous(a), f = ember_array_is_f_contiguous(a);
    /* what the consumer asks for, in the order PEP 3118 defines the flags */
    if ((flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS && !c) {
        PyErr_SetString(PyExc_BufferError, "the device array is not C-contiguous");
        return -1;
    }
    if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && !f) {
        PyErr_SetString(PyExc_BufferError, "the device array is not Fortran-contiguous");
        return -1;
    }
    if ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS && !c && !f) {
        PyErr_SetString(PyExc_BufferError, "the device array is not contiguous");
        return -1;
    }
    if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES && !c) {
        PyErr_SetString(PyExc_BufferError, "the device array is not C-contiguous, and the "
                        "consumer did not ask for strides");
        return -1;
    }
    view->buf = base ? base + a->offset : base;
    view->len = (Py_ssize_t)ember_array_nbytes(a);
    view->itemsize = (Py_ssize_t)a->itemsize;
    view->readonly = 0;
    view->format = (flags & PyBUF_FORMAT) ? (char *)format : NULL;
    bool nd = (flags & PyBUF_ND) == PyBUF_ND;
    view->ndim = nd ? a->ndim : 1; /* without PyBUF_ND: plain bytes, as PyBuffer_FillInfo */
    view->shape = nd ? (Py_ssize_t *)a->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? (Py_ssize_t *)a->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    view->obj = obj;
    Py_INCREF(obj);
    return 0;
}

/* An attribute of `obj` as a non-negative integer (-1 with an exception
 * otherwise). */
static long long int_attr(PyObject *obj, const char *name)
{
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (!v) {
        PyErr_Clear();
        PyErr_Format(PyExc_BufferError, "%.100s has no %s: not host memory ember made",
                     Py_TYPE(obj)->tp_name, name);
        return -1;
    }
    long long x;
    if (PyLong_Check(v))
        x = PyLong_AsLongLong(v);
    else { /* a ctypes pointer (c_void_p) */
        PyObject *value = PyObject_GetAttrString(v, "value");
        x = !value ? -1 : value == Py_None ? 0 : PyLong_AsLongLong(value);
        Py_XDECREF(value);
    }
    Py_DECREF(v);
    if (x < 0 && !PyErr_Occurred())
        PyErr_Format(PyExc_BufferError, "%.100s.%s is negative", Py_TYPE(obj)->tp_name, name);
    return PyErr_Occurred() ? -1 : x;
}

/* The writable bytes [_bufptr_, _bufptr_ + _buflen_); the export keeps
 * `obj` (and so the memory it owns) alive. */
static int host_memory_getbuffer(PyObject *obj, Py_buffer *view, int flags)
{
    view->obj = NULL;
    long long ptr = int_attr(obj, "_bufptr_");
    if (ptr < 0)
        return -1;
    long long len = int_attr(obj, "_buflen_");
    if (len < 0)
        return -1;
    if (!ptr && len) {
        PyErr_SetString(PyExc_BufferError, "host memory with a NULL address");
        return -1;
    }
    return PyBuffer_FillInfo(view, obj, (void *)(uintptr_t)ptr, (Py_ssize_t)len, 0, flags);
}

static PyType_Slot host_memory_slots[] = {
    {Py_tp_doc, "Base of ember's host-memory objects: the buffer protocol over the _buflen_ "
                "bytes at host address _bufptr_ (numba's mviewbuf.MemAlloc)."},
    {Py_bf_getbuffer, host_memory_getbuffer},
    {0, NULL},
};

PyType_Spec ext_host_memory_spec = {
    .name = "ember._ember.HostMemory",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = host_memory_slots,
};
