/*
 * dlpack.c — DLPack export and import of ember arrays, without copies.
 *
 * DLPack (dmlc/dlpack, v0.8 ABI) is how NumPy, CuPy and PyTorch hand arrays
 * to each other: a PyCapsule named "dltensor" holding a DLManagedTensor
 * whose deleter the consumer calls when done (the consumer renames the
 * capsule "used_dltensor"). The structs below are that ABI, declared here
 * (no DLPack header is needed to build ember).
 *
 * Export (`to_dlpack`): the tensor describes the array's memory — host
 * memory of the cpu device as kDLCPU, CUDA device memory as kDLCUDA — and
 * keeps the array alive until the deleter runs. DLPack strides count
 * elements, so a view whose byte strides are not multiples of the item size
 * cannot be exported (BufferError). Import (`from_dlpack_capsule`) wraps
 * the memory in a buffer whose release calls the producer's deleter.
 */
#include "ext.h"

#include <string.h>

enum { DL_CPU = 1, DL_CUDA = 2, DL_CUDA_HOST = 3, DL_CUDA_MANAGED = 13 };
enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_COMPLEX = 5, DL_BOOL = 6 };

typedef struct {
    int32_t device_type;
    int32_t device_id;
} DLDevice;

typedef struct {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
} DLDataType;

typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements; NULL: C order */
    uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

/* An exported tensor and what it keeps alive. */
typedef struct {
    DLManagedTensor managed;
    PyObject *owner; /* the ember array */
    int64_t shape[EMBER_MAX_NDIM];
    int64_t strides[EMBER_MAX_NDIM];
} Export;

static void export_deleter(DLManagedTensor *m)
{
    Export *e = m->manager_ctx;
    if (Py_IsInitialized()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_XDECREF(e->owner);
        PyGILState_Release(g);
    }
    PyMem_RawFree(e);
}

static void capsule_destructor(PyObject *capsule)
{
    if (PyCapsule_IsValid(capsule, "used_dltensor"))
        return; /* consumed: the consumer calls the deleter */
    DLManagedTensor *m = PyCapsule_GetPointer(capsule, "dltensor");
    if (!m) {
        PyErr_WriteUnraisable(capsule);
        return;
    }
    if (m->deleter)
        m->deleter(m);
}

/* to_dlpack(array) -> PyCapsule "dltensor" */
PyObject *ext_to_dlpack(PyObject *module, PyObject *obj)
{
    ext_state *st = ext_state_of_module(module);
    if (!ext_array_check(st, obj)) {
        PyErr_Format(PyExc_TypeError, "to_dlpack: expected an ember array, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    ext_array *a = (ext_array *)obj;
    const ember_array *arr = &a->arr;
    if (!arr->buffer) {
        PyErr_SetString(PyExc_ValueError, "to_dlpack: uninitialised array");
        return NULL;
    }
    ember_device_info info;
    ember_status s = ember_device_get_info(ember_buffer_device(arr->buffer), &info);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "to_dlpack");
    PyArray_Descr *d = a->dtype;
    Py_ssize_t itemsize = PyDataType_ELSIZE(d);
    DLDataType dt = {0, (uint8_t)(8 * itemsize), 1};
    switch (d->kind) {
    case 'b': dt.code = DL_BOOL; break;
    case 'i': dt.code = DL_INT; break;
    case 'u': dt.code = DL_UINT; break;
    case 'f': dt.code = DL_FLOAT; break;
    case 'c': dt.code = DL_COMPLEX; break;
    default:
        PyErr_Format(PyExc_BufferError, "to_dlpack: dtype %c%zd has no DLPack type", d->kind,
                     itemsize);
        return NULL;
    }
    Export *e = PyMem_RawCalloc(1, sizeof *e);
    if (!e)
        return PyErr_NoMemory();
    for (int i = 0; i < arr->ndim; i++) {
        if (itemsize == 0 || arr->strides[i] % itemsize != 0) {
            PyMem_RawFree(e);
            PyErr_Format(PyExc_BufferError, "to_dlpack: stride %lld of axis %d is not a "
                         "multiple of the item size %zd (DLPack counts strides in elements); "
                         "copy the array first", (long long)arr->strides[i], i, itemsize);
            return NULL;
        }
        e->shape[i] = arr->shape[i];
        e->strides[i] = arr->strides[i] / itemsize;
    }
    DLTensor *t = &e->managed.dl_tensor;
    t->data = (void *)(uintptr_t)ember_buffer_device_ptr(arr->buffer);
    t->byte_offset = (uint64_t)arr->offset;
    t->device.device_type = info.kind == EMBER_DEVICE_CUDA ? DL_CUDA : DL_CPU;
    t->device.device_id = info.kind == EMBER_DEVICE_CUDA ? info.ordinal : 0;
    t->ndim = arr->ndim;
    t->dtype = dt;
    t->shape = e->shape;
    t->strides = e->strides;
    e->owner = obj;
    Py_INCREF(obj);
    e->managed.manager_ctx = e;
    e->managed.deleter = export_deleter;
    PyObject *cap = PyCapsule_New(&e->managed, "dltensor", capsule_destructor);
    if (!cap)
        export_deleter(&e->managed);
    return cap;
}

/* dlpack_device(array) -> (device_type, device_id) */
PyObject *ext_dlpack_device(PyObject *module, PyObject *obj)
{
    ext_state *st = ext_state_of_module(module);
    if (!ext_array_check(st, obj) || !((ext_array *)obj)->arr.buffer) {
        PyErr_SetString(PyExc_TypeError, "dlpack_device: expected an ember array");
        return NULL;
    }
    ember_device_info info;
    ember_status s = ember_device_get_info(ember_buffer_device(((ext_array *)obj)->arr.buffer),
                                           &info);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "dlpack_device");
    if (info.kind == EMBER_DEVICE_CUDA)
        return Py_BuildValue("(ii)", DL_CUDA, info.ordinal);
    return Py_BuildValue("(ii)", DL_CPU, 0);
}

/* Release of imported memory: the producer's deleter, with the GIL (it may
 * drop Python objects), on whatever thread frees the buffer. */
static void release_managed(void *ctx)
{
    DLManagedTensor *m = ctx;
    if (!m->deleter || !Py_IsInitialized())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    m->deleter(m);
    PyGILState_Release(g);
}

static const char *dl_dtype_name(DLDataType dt)
{
    if (dt.lanes != 1)
        return NULL;
    switch (dt.code) {
    case DL_BOOL: return dt.bits == 8 ? "bool" : NULL;
    case DL_INT:
        return dt.bits == 8 ? "int8" : dt.bits == 16 ? "int16" : dt.bits == 32 ? "int32"
             : dt.bits == 64 ? "int64" : NULL;
    case DL_UINT:
        return dt.bits == 8 ? "uint8" : dt.bits == 16 ? "uint16" : dt.bits == 32 ? "uint32"
             : dt.bits == 64 ? "uint64" : NULL;
    case DL_FLOAT:
        return dt.bits == 16 ? "float16" : dt.bits == 32 ? "float32" : dt.bits == 64 ? "float64"
                                                                                      : NULL;
    case DL_COMPLEX: return dt.bits == 64 ? "complex64" : dt.bits == 128 ? "complex128" : NULL;
    default: return NULL;
    }
}

/* from_dlpack_capsule(cls, capsule) -> cls: the tensor's memory, not copied */
PyObject *ext_from_dlpack_capsule(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "from_dlpack_capsule(cls, capsule)");
        return NULL;
    }
    ext_state *st = ext_state_of_module(module);
    PyObject *cap = args[1];
    if (!PyCapsule_IsValid(cap, "dltensor")) {
        PyErr_SetString(PyExc_ValueError, "from_dlpack: expected a PyCapsule named 'dltensor' "
                        "that was not consumed yet");
        return NULL;
    }
    DLManagedTensor *m = PyCapsule_GetPointer(cap, "dltensor");
    const DLTensor *t = &m->dl_tensor;
    if (t->ndim < 0 || t->ndim > EMBER_MAX_NDIM) {
        PyErr_Format(PyExc_BufferError, "from_dlpack: %d dimensions (ember arrays have 0 to %d)",
                     t->ndim, EMBER_MAX_NDIM);
        return NULL;
    }
    const char *name = dl_dtype_name(t->dtype);
    if (!name) {
        PyErr_Format(PyExc_BufferError, "from_dlpack: DLPack type (code %d, %d bits, %d lanes) "
                     "has no ember dtype", t->dtype.code, t->dtype.bits, t->dtype.lanes);
        return NULL;
    }
    ember_device_kind kind;
    int ordinal = 0;
    switch (t->device.device_type) {
    case DL_CPU: case DL_CUDA_HOST: kind = EMBER_DEVICE_CPU; break;
    case DL_CUDA: case DL_CUDA_MANAGED: kind = EMBER_DEVICE_CUDA; ordinal = t->device.device_id;
        break;
    default:
        PyErr_Format(PyExc_BufferError, "from_dlpack: memory of DLPack device type %d is "
                     "neither host nor CUDA memory", t->device.device_type);
        return NULL;
    }
    PyObject *dtype_name = PyUnicode_FromString(name);
    if (!dtype_name)
        return NULL;
    PyArray_Descr *descr;
    ember_dtype dt;
    int r = ext_dtype(dtype_name, "dtype", &descr, &dt);
    Py_DECREF(dtype_name);
    if (r < 0)
        return NULL;
    int64_t itemsize = (int64_t)PyDataType_ELSIZE(descr);
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    /* the bytes spanned, from the lowest to the highest element */
    int64_t lo = 0, hi = 0, count = 1;
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = t->shape[i];
        count *= shape[i];
    }
    int64_t step = itemsize;
    for (int i = t->ndim - 1; i >= 0; i--) {
        strides[i] = t->strides ? t->strides[i] * itemsize : step;
        step *= shape[i] > 0 ? shape[i] : 1;
        if (shape[i] > 0) {
            int64_t far = strides[i] * (shape[i] - 1);
            if (far < 0)
                lo += far;
            else
                hi += far;
        }
    }
    int64_t nbytes = count == 0 ? 0 : hi - lo + itemsize;
    uint64_t base = (uint64_t)(uintptr_t)t->data + t->byte_offset + (uint64_t)lo;
    ember_device_t dev;
    ember_status s = ember_init();
    if (s == EMBER_SUCCESS)
        s = ember_device_get(kind, ordinal, &dev);
    if (s != EMBER_SUCCESS) {
        Py_DECREF(descr);
        return ext_raise(st, s, "from_dlpack");
    }
    ext_array *self = ext_array_alloc(st, args[0], "cls");
    if (!self) {
        Py_DECREF(descr);
        return NULL;
    }
    self->dtype = descr;
    ember_buffer_t buf;
    if (kind == EMBER_DEVICE_CPU)
        s = ember_buffer_wrap_host((void *)(uintptr_t)base, (size_t)nbytes, release_managed, m,
                                   &buf);
    else
        s = ember_buffer_wrap_device(dev, base, (size_t)nbytes, release_managed, m, &buf);
    if (s != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, s, "from_dlpack");
    }
    /* the buffer owns the tensor now: the capsule must not delete it */
    if (PyCapsule_SetName(cap, "used_dltensor") < 0) {
        ember_buffer_release(buf);
        Py_DECREF(self);
        return NULL;
    }
    s = ember_array_init(&self->arr, buf, dt, t->ndim, shape, strides, -lo);
    ember_buffer_release(buf); /* the array holds its own reference, or none on failure */
    if (s != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, s, "from_dlpack");
    }
    return (PyObject *)self;
}
