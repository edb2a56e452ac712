/*
 * array.c — the Array type (an ember_array descriptor on a device) and the
 * module functions that make arrays: empty, from_device_pointer, and
 * host_array (NumPy arrays over pinned or mapped memory of a device).
 *
 * An Array is immutable: a descriptor holding one reference to its buffer,
 * the NumPy dtype it shows, and a weak-reference list. Python subclasses
 * (ember's DeviceNDArray) add indexing and the numba-compatible API; they
 * get instances only through empty(), from_device_pointer() and _view(),
 * never by calling the class.
 *
 * Copies with NumPy arrays do not stage through a temporary: the ndarray's
 * memory (its whole byte span, negative strides included) is wrapped as a
 * host buffer for the duration of the call. When the ndarray lies in memory
 * host_array() made, its ember buffer is used instead, so the copy sees
 * pinned memory as pinned.
 */
#include "ext.h"

#include <string.h>

#include "structmember.h"

/* Name of the capsules that keep host_array() buffers alive. */
#define HOST_CAPSULE "ember._ember.host_buffer"

static const char *const memkind_names[] = {
    [EMBER_MEM_DEVICE] = "device", [EMBER_MEM_PINNED] = "pinned",
    [EMBER_MEM_MAPPED] = "mapped", [EMBER_MEM_HOST] = "host",
    [EMBER_MEM_FOREIGN] = "foreign", [EMBER_MEM_MANAGED] = "managed", [EMBER_MEM_MANAGED_HOST] = "managed_host",
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static PyObject *int64_tuple(int n, const int64_t *v)
{
    PyObject *t = PyTuple_New(n);
    if (!t)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *x = PyLong_FromLongLong(v[i]);
        if (!x) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* 'C' or 'F' (either case). */
static int parse_order(PyObject *obj, char *out)
{
    if (!obj) {
        *out = 'C';
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        if (PyUnicode_CompareWithASCIIString(obj, "C") == 0 ||
            PyUnicode_CompareWithASCIIString(obj, "c") == 0) {
            *out = 'C';
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "F") == 0 ||
            PyUnicode_CompareWithASCIIString(obj, "f") == 0) {
            *out = 'F';
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "order must be 'C' or 'F', not %R", obj);
    return -1;
}

/* 'device', 'pinned', 'mapped' or 'managed' ('device' refused when host_only). */
static int parse_memkind(PyObject *obj, bool host_only, ember_mem_kind def, ember_mem_kind *out)
{
    if (!obj) {
        *out = def;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        if (!host_only && PyUnicode_CompareWithASCIIString(obj, "device") == 0) {
            *out = EMBER_MEM_DEVICE;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "pinned") == 0) {
            *out = EMBER_MEM_PINNED;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "mapped") == 0) {
            *out = EMBER_MEM_MAPPED;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "managed") == 0) {
            *out = EMBER_MEM_MANAGED;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "managed_host") == 0) {
            *out = EMBER_MEM_MANAGED_HOST;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "memkind must be %s, not %R",
                 host_only ? "'pinned', 'mapped' or 'managed'"
                           : "'device', 'pinned', 'mapped' or 'managed'", obj);
    return -1;
}

/* Byte span [lo, hi) of a strided layout relative to element 0; [0, 0) when
 * empty. -1 with ValueError set on overflow. */
static int layout_span(int ndim, const int64_t *shape, const int64_t *strides, size_t item,
                       int64_t *lo, int64_t *hi)
{
    int64_t l = 0, h = 0;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *lo = *hi = 0;
            return 0;
        }
    for (int i = 0; i < ndim; i++) {
        int64_t ext;
        if (__builtin_mul_overflow(shape[i] - 1, strides[i], &ext) ||
            (ext < 0 ? __builtin_add_overflow(l, ext, &l) : __builtin_add_overflow(h, ext, &h)))
            goto overflow;
    }
    if (__builtin_add_overflow(h, (int64_t)item, &h))
        goto overflow;
    *lo = l;
    *hi = h;
    return 0;
overflow:
    PyErr_SetString(PyExc_ValueError, "the array's extent overflows 64-bit byte offsets");
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The Array type                                                           */
/* ------------------------------------------------------------------------ */

ext_array *ext_array_alloc(ext_state *st, PyObject *cls, const char *what)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, st->array_type)) {
        PyErr_Format(PyExc_TypeError, "%s must be ember._ember.Array or a subclass of it, not %R",
                     what, cls);
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)cls;
    ext_array *self = (ext_array *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    ext_live_objects++;
    return self;
}

static PyObject *array_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    PyErr_Format(PyExc_TypeError,
                 "%.100s cannot be created directly: use ember.cuda.device_array / to_device",
                 tp->tp_name);
    return NULL;
}

static void array_dealloc(PyObject *obj)
{
    ext_array *self = (ext_array *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    if (self->weakreflist)
        PyObject_ClearWeakRefs(obj);
    ember_array_fini(&self->arr);
    Py_CLEAR(self->dtype);
    ext_live_objects--;
    tp->tp_free(obj);
    Py_DECREF(tp);
}

/* Every instance is set up before Python code can see it; this guards the
 * accessors anyway. */
static int ready(ext_array *self)
{
    if (self->arr.buffer && self->dtype)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "uninitialised ember array");
    return 0;
}

static PyObject *array_repr(PyObject *obj)
{
    ext_array *self = (ext_array *)obj;
    if (!self->arr.buffer || !self->dtype)
        return PyUnicode_FromFormat("<%s (uninitialised)>", Py_TYPE(obj)->tp_name);
    PyObject *shape = int64_tuple(self->arr.ndim, self->arr.shape);
    PyObject *dev = shape ? ext_device_tuple(ember_buffer_device(self->arr.buffer)) : NULL;
    PyObject *r = NULL;
    if (dev)
        r = PyUnicode_FromFormat("<%s shape=%R dtype=%s device=%U:%R>", Py_TYPE(obj)->tp_name,
                                 shape, ember_dtype_name(self->arr.dtype),
                                 PyTuple_GET_ITEM(dev, 0), PyTuple_GET_ITEM(dev, 1));
    Py_XDECREF(shape);
    Py_XDECREF(dev);
    return r;
}

#define SELF ext_array *self = (ext_array *)obj
#define GUARD            \
    SELF;                \
    if (!ready(self))    \
    return NULL

static PyObject *get_shape(PyObject *obj, void *c)
{
    GUARD;
    return int64_tuple(self->arr.ndim, self->arr.shape);
}

static PyObject *get_strides(PyObject *obj, void *c)
{
    GUARD;
    return int64_tuple(self->arr.ndim, self->arr.strides);
}

static PyObject *get_dtype(PyObject *obj, void *c)
{
    GUARD;
    Py_INCREF(self->dtype);
    return (PyObject *)self->dtype;
}

static PyObject *get_ndim(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromLong(self->arr.ndim);
}

static PyObject *get_size(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromLongLong(ember_array_size(&self->arr));
}

static PyObject *get_itemsize(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromLongLong(self->arr.itemsize);
}

static PyObject *get_nbytes(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromLongLong(ember_array_nbytes(&self->arr));
}

static PyObject *get_device(PyObject *obj, void *c)
{
    GUARD;
    return ext_device_tuple(ember_buffer_device(self->arr.buffer));
}

static PyObject *get_device_pointer(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromUnsignedLongLong(
        (unsigned long long)(ember_buffer_device_ptr(self->arr.buffer) +
                             (uint64_t)self->arr.offset));
}

static PyObject *get_memkind(PyObject *obj, void *c)
{
    GUARD;
    unsigned k = (unsigned)ember_buffer_kind(self->arr.buffer);
    return PyUnicode_FromString(k < EMBER_MEM_MANAGED_HOST + 1 ? memkind_names[k] : "?");
}

static PyObject *get_buffer_size(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromSize_t(ember_buffer_size(self->arr.buffer));
}

static PyObject *get_offset(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromLongLong(self->arr.offset);
}

static PyObject *get_buffer_id(PyObject *obj, void *c)
{
    GUARD;
    return PyLong_FromVoidPtr(self->arr.buffer);
}

static PyGetSetDef array_getset[] = {
    {"shape", get_shape, NULL, "Extent of each dimension (tuple).", NULL},
    {"strides", get_strides, NULL, "Byte step of each dimension (tuple).", NULL},
    {"dtype", get_dtype, NULL, "Element type (numpy.dtype).", NULL},
    {"ndim", get_ndim, NULL, "Number of dimensions.", NULL},
    {"size", get_size, NULL, "Number of elements.", NULL},
    {"itemsize", get_itemsize, NULL, "Bytes per element.", NULL},
    {"nbytes", get_nbytes, NULL, "size * itemsize.", NULL},
    {"device", get_device, NULL, "(kind, ordinal) of the device the memory is on.", NULL},
    {"device_pointer", get_device_pointer, NULL,
     "Device address of element 0 (buffer address + offset).", NULL},
    {"memkind", get_memkind, NULL,
     "'device', 'pinned', 'mapped', 'host' or 'foreign' (wrapped memory).", NULL},
    {"buffer_size", get_buffer_size, NULL, "Bytes in the underlying buffer.", NULL},
    {"offset", get_offset, NULL, "Byte offset of element 0 in the buffer.", NULL},
    {"buffer_id", get_buffer_id, NULL,
     "Identity of the underlying buffer: equal for arrays sharing memory.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *array_is_c_contiguous(PyObject *obj, PyObject *unused)
{
    GUARD;
    return PyBool_FromLong(ember_array_is_c_contiguous(&self->arr));
}

static PyObject *array_is_f_contiguous(PyObject *obj, PyObject *unused)
{
    GUARD;
    return PyBool_FromLong(ember_array_is_f_contiguous(&self->arr));
}

/* _view(cls, offset, shape, strides, dtype=None) */
static PyObject *array_view(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    GUARD;
    static const char *const names[] = {"cls", "offset", "shape", "strides", "dtype", NULL};
    PyObject *a[5];
    if (ext_parse("_view", args, nargs, kwnames, names, 4, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    int64_t rel, offset;
    int ndim;
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    if (ext_int64(a[1], "offset", &rel) < 0 || ext_shape(a[2], "shape", &ndim, shape) < 0)
        return NULL;
    if (a[3] != Py_None && ext_strides(a[3], "strides", ndim, false, strides) < 0)
        return NULL;
    if (__builtin_add_overflow(self->arr.offset, rel, &offset)) {
        PyErr_SetString(PyExc_ValueError, "offset overflows");
        return NULL;
    }
    PyArray_Descr *descr;
    ember_dtype dt;
    if (a[4] && a[4] != Py_None) {
        if (ext_dtype(a[4], "dtype", &descr, &dt) < 0)
            return NULL;
    } else {
        descr = self->dtype;
        Py_INCREF(descr);
        dt = self->arr.dtype;
    }
    ext_array *view = ext_array_alloc(st, a[0], "cls");
    if (!view) {
        Py_DECREF(descr);
        return NULL;
    }
    view->dtype = descr;
    ember_status s = ext_array_init(&view->arr, self->arr.buffer, descr, dt, ndim, shape,
                                    a[3] != Py_None ? strides : NULL, offset);
    if (s != EMBER_SUCCESS) {
        Py_DECREF(view);
        return ext_raise(st, s, "_view");
    }
    return (PyObject *)view;
}

/* The ember buffer of host_array() memory that `nd` lies in, or NULL. */
static ember_buffer_t host_buffer_of(PyArrayObject *nd)
{
    PyObject *b = (PyObject *)nd;
    while (PyArray_Check(b)) {
        PyObject *next = PyArray_BASE((PyArrayObject *)b);
        if (!next)
            return NULL;
        b = next;
    }
    if (!PyCapsule_IsValid(b, HOST_CAPSULE))
        return NULL;
    return PyCapsule_GetPointer(b, HOST_CAPSULE);
}

/* Describes NumPy array `nd` as an ember array over its own memory, without
 * copying (`what` names it in errors). The caller finalises *out and keeps
 * `nd` alive while *out is used. */
static int ndarray_view(ext_state *st, PyArrayObject *nd, const char *what, ember_array *out)
{
    ember_dtype dt;
    PyArray_Descr *descr = PyArray_DESCR(nd);
    if (ext_array_dtype_of_descr(descr, &dt) < 0)
        return -1;
    int ndim = PyArray_NDIM(nd);
    if (ndim > EMBER_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s has %d dimensions; ember arrays have at most %d", what,
                     ndim, EMBER_MAX_NDIM);
        return -1;
    }
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM], lo, hi;
    for (int i = 0; i < ndim; i++) {
        shape[i] = (int64_t)PyArray_DIMS(nd)[i];
        strides[i] = (int64_t)PyArray_STRIDES(nd)[i];
    }
    if (layout_span(ndim, shape, strides, (size_t)PyDataType_ELSIZE(descr), &lo, &hi) < 0)
        return -1;
    uintptr_t data = (uintptr_t)PyArray_BYTES(nd);
    ember_status s;

    ember_buffer_t own = host_buffer_of(nd);
    if (own) {
        uintptr_t host = (uintptr_t)ember_buffer_host_ptr(own);
        uintptr_t size = (uintptr_t)ember_buffer_size(own);
        if (host && data + (intptr_t)lo >= host && data + (intptr_t)hi <= host + size) {
            s = ext_array_init(out, own, descr, dt, ndim, shape, strides,
                               (int64_t)(data - host));
            if (s != EMBER_SUCCESS) {
                ext_raise(st, s, what);
                return -1;
            }
            return 0;
        }
    }
    ember_buffer_t buf;
    s = ember_buffer_wrap_host((void *)(data + (intptr_t)lo), (size_t)(hi - lo), NULL, NULL,
                               &buf);
    if (s == EMBER_SUCCESS) {
        s = ext_array_init(out, buf, descr, dt, ndim, shape, strides, -lo);
        ember_buffer_release(buf); /* *out holds its own reference */
    }
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, what);
        return -1;
    }
    return 0;
}

/* Checks that `other` matches self's shape and dtype (ValueError naming
 * both otherwise). */
static int check_match(const ember_array *self, const ember_array *other, const char *what)
{
    bool same = self->ndim == other->ndim;
    for (int i = 0; same && i < self->ndim; i++)
        same = self->shape[i] == other->shape[i];
    if (!same) {
        PyObject *a = int64_tuple(self->ndim, self->shape);
        PyObject *b = a ? int64_tuple(other->ndim, other->shape) : NULL;
        if (b)
            PyErr_Format(PyExc_ValueError,
                         "shape mismatch: this array has shape %R but %s has shape %R", a, what,
                         b);
        Py_XDECREF(a);
        Py_XDECREF(b);
        return -1;
    }
    if (self->dtype != other->dtype) {
        PyErr_Format(PyExc_ValueError, "dtype mismatch: this array is %s but %s is %s",
                     ember_dtype_name(self->dtype), what, ember_dtype_name(other->dtype));
        return -1;
    }
    if (self->itemsize != other->itemsize) {
        PyErr_Format(PyExc_ValueError, "dtype mismatch: this array holds %lld-byte records but "
                     "%s %lld-byte ones", (long long)self->itemsize, what,
                     (long long)other->itemsize);
        return -1;
    }
    return 0;
}

/* _copy_from(src, stream=None) and _copy_to(dst, stream=None). */
static PyObject *array_copy(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames, bool into_self)
{
    GUARD;
    const char *fname = into_self ? "_copy_from" : "_copy_to";
    const char *what = into_self ? "src" : "dst";
    const char *const names_from[] = {"src", "stream", NULL};
    const char *const names_to[] = {"dst", "stream", NULL};
    PyObject *a[2];
    if (ext_parse(fname, args, nargs, kwnames, into_self ? names_from : names_to, 1, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    ember_stream_t stream;
    ember_device_t stream_dev;
    if (ext_stream_arg(st, a[1], "stream", &stream, &stream_dev) < 0)
        return NULL;

    ember_array tmp;
    memset(&tmp, 0, sizeof tmp);
    const ember_array *other;
    if (ext_array_check(st, a[0])) {
        ext_array *o = (ext_array *)a[0];
        if (!ready(o))
            return NULL;
        other = &o->arr;
    } else if (PyArray_Check(a[0])) {
        PyArrayObject *nd = (PyArrayObject *)a[0];
        if (!into_self && !PyArray_ISWRITEABLE(nd)) {
            PyErr_SetString(PyExc_ValueError,
                            "dst is a read-only numpy array: pass a writeable one");
            return NULL;
        }
        if (ndarray_view(st, nd, what, &tmp) < 0)
            return NULL;
        other = &tmp;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "%s must be an ember array or a numpy.ndarray, not %.100s", what,
                     Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    if (check_match(&self->arr, other, what) < 0) {
        ember_array_fini(&tmp);
        return NULL;
    }
    const ember_array *dst = into_self ? &self->arr : other;
    const ember_array *src = into_self ? other : &self->arr;
    if (stream_dev && stream_dev != ember_buffer_device(dst->buffer) &&
        stream_dev != ember_buffer_device(src->buffer)) {
        /* A default-stream object carries no handle the C layer could check. */
        PyObject *sd = ext_device_tuple(stream_dev);
        PyObject *dd = sd ? ext_device_tuple(ember_buffer_device(dst->buffer)) : NULL;
        PyObject *xd = dd ? ext_device_tuple(ember_buffer_device(src->buffer)) : NULL;
        if (xd)
            PyErr_Format(PyExc_ValueError,
                         "copy: the stream is on device %R but the arrays are on %R and %R", sd,
                         dd, xd);
        Py_XDECREF(sd);
        Py_XDECREF(dd);
        Py_XDECREF(xd);
        ember_array_fini(&tmp);
        return NULL;
    }
    ember_status s;
    /* Both objects are referenced by our caller for the whole call. */
    Py_BEGIN_ALLOW_THREADS
    s = ember_array_copy(dst, src, stream);
    Py_END_ALLOW_THREADS
    ember_array_fini(&tmp);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "copy");
    Py_RETURN_NONE;
}

static PyObject *array_copy_from(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    return array_copy(obj, args, nargs, kwnames, true);
}

static PyObject *array_copy_to(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    return array_copy(obj, args, nargs, kwnames, false);
}

/* _memset(value, stream=None): every byte of a contiguous array set to
 * `value` (0 .. 255), by the array's device (ember_buffer_memset). */
static PyObject *array_memset(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    GUARD;
    const char *const names[] = {"value", "stream", NULL};
    PyObject *a[2];
    if (ext_parse("_memset", args, nargs, kwnames, names, 1, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    long value = PyLong_AsLong(a[0]);
    if (value == -1 && PyErr_Occurred())
        return NULL;
    if (value < 0 || value > 255) {
        PyErr_Format(PyExc_ValueError, "_memset: the byte value must be 0 .. 255, not %ld",
                     value);
        return NULL;
    }
    if (!ember_array_is_c_contiguous(&self->arr) && !ember_array_is_f_contiguous(&self->arr)) {
        PyErr_SetString(PyExc_ValueError, "_memset: the array must be contiguous");
        return NULL;
    }
    ember_stream_t stream;
    ember_device_t stream_dev;
    if (ext_stream_arg(st, a[1], "stream", &stream, &stream_dev) < 0)
        return NULL;
    ember_buffer_t buf = self->arr.buffer;
    if (stream_dev && stream_dev != ember_buffer_device(buf)) {
        PyObject *sd = ext_device_tuple(stream_dev);
        PyObject *dd = sd ? ext_device_tuple(ember_buffer_device(buf)) : NULL;
        if (dd)
            PyErr_Format(PyExc_ValueError,
                         "memset: the stream is on device %R but the memory is on %R", sd, dd);
        Py_XDECREF(sd);
        Py_XDECREF(dd);
        return NULL;
    }
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_buffer_memset(buf, (size_t)self->arr.offset, (uint8_t)value,
                            (size_t)ember_array_nbytes(&self->arr), stream);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "memset");
    Py_RETURN_NONE;
}

#define FASTCALL_KW METH_FASTCALL | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef array_methods[] = {
    {"is_c_contiguous", array_is_c_contiguous, METH_NOARGS,
     "is_c_contiguous($self)\n--\n\nTrue when the layout is C-contiguous."},
    {"is_f_contiguous", array_is_f_contiguous, METH_NOARGS,
     "is_f_contiguous($self)\n--\n\nTrue when the layout is Fortran-contiguous."},
    {"_view", FN(array_view), FASTCALL_KW,
     "_view($self, cls, offset, shape, strides, dtype=None)\n--\n\n"
     "A new cls instance sharing this buffer; offset is in bytes relative to this array's\n"
     "offset, strides None means C-contiguous. Views that leave the buffer raise ValueError."},
    {"_copy_from", FN(array_copy_from), FASTCALL_KW,
     "_copy_from($self, src, stream=None)\n--\n\n"
     "Copies src (an Array or numpy.ndarray of equal shape and dtype) into this array."},
    {"_copy_to", FN(array_copy_to), FASTCALL_KW,
     "_copy_to($self, dst, stream=None)\n--\n\n"
     "Copies this array into dst (an Array or writeable numpy.ndarray of equal shape and "
     "dtype)."},
    {"_memset", FN(array_memset), FASTCALL_KW,
     "_memset($self, value, stream=None)\n--\n\n"
     "Sets every byte of this (contiguous) array to value, 0 .. 255, on its device."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef array_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ext_array, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot array_slots[] = {
    {Py_tp_doc, "An n-dimensional array in the memory of one device (ember's runtime type)."},
    {Py_tp_new, array_new},
    {Py_tp_dealloc, array_dealloc},
    {Py_tp_repr, array_repr},
    {Py_tp_getset, array_getset},
    {Py_tp_methods, array_methods},
    {Py_tp_members, array_members},
    {Py_bf_getbuffer, ext_array_getbuffer}, /* array_buffer.c */
    {0, NULL},
};

PyType_Spec ext_array_spec = {
    .name = "ember._ember.Array",
    .basicsize = sizeof(ext_array),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = array_slots,
};

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

/* empty(cls, kind, ordinal, shape, dtype, order='C', strides=None, memkind='device') */
PyObject *ext_empty(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    static const char *const names[] = {"cls", "kind", "ordinal", "shape", "dtype",
                                        "order", "strides", "memkind", NULL};
    PyObject *a[8];
    if (ext_parse("empty", args, nargs, kwnames, names, 5, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_module(module);
    ember_device_t dev;
    int ndim;
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    char order;
    ember_mem_kind kind;
    bool has_strides = a[6] && a[6] != Py_None;
    if (ext_device(st, a[1], a[2], &dev) < 0 || ext_shape(a[3], "shape", &ndim, shape) < 0 ||
        parse_order(a[5], &order) < 0 || parse_memkind(a[7], false, EMBER_MEM_DEVICE, &kind) < 0)
        return NULL;
    if (has_strides && ext_strides(a[6], "strides", ndim, true, strides) < 0)
        return NULL;
    PyArray_Descr *descr;
    ember_dtype dt;
    if (ext_dtype(a[4], "dtype", &descr, &dt) < 0)
        return NULL;
    ext_array *self = ext_array_alloc(st, a[0], "cls");
    if (!self) {
        Py_DECREF(descr);
        return NULL;
    }
    self->dtype = descr;

    ember_status s;
    if (!has_strides) {
        Py_BEGIN_ALLOW_THREADS
        s = ext_array_create(&self->arr, dev, kind, descr, dt, ndim, shape, order);
        Py_END_ALLOW_THREADS
    } else {
        /* The smallest buffer that holds every element of the layout. */
        int64_t lo, hi;
        if (layout_span(ndim, shape, strides, (size_t)PyDataType_ELSIZE(descr), &lo, &hi) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        ember_buffer_t buf = NULL;
        Py_BEGIN_ALLOW_THREADS
        s = ember_buffer_create(dev, kind, (size_t)hi, &buf);
        Py_END_ALLOW_THREADS
        if (s == EMBER_SUCCESS) {
            s = ext_array_init(&self->arr, buf, descr, dt, ndim, shape, strides, 0);
            ember_buffer_release(buf);
        }
    }
    if (s != EMBER_SUCCESS) {
        Py_DECREF(self);
        return ext_raise(st, s, "empty");
    }
    return (PyObject *)self;
}

/* Release callback of wrapped foreign memory: drops the owner. It may run
 * on any thread, with or without the GIL. */
static void release_owner(void *owner)
{
    if (!Py_IsInitialized())
        return; /* the interpreter is gone: nothing left to release */
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)owner);
    PyGILState_Release(g);
}

/* from_device_pointer(cls, kind, ordinal, pointer, nbytes, shape, strides, dtype, owner,
 *                     offset=0) */
PyObject *ext_from_device_pointer(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"cls",     "kind",  "ordinal", "pointer", "nbytes",
                                        "shape",   "strides", "dtype", "owner",   "offset",
                                        NULL};
    PyObject *a[10];
    if (ext_parse("from_device_pointer", args, nargs, kwnames, names, 9, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_module(module);
    ember_device_t dev;
    int64_t nbytes, offset = 0;
    int ndim;
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    if (ext_device(st, a[1], a[2], &dev) < 0)
        return NULL;
    /* The address: an int in 0 .. 2**64-1. */
    if (!PyIndex_Check(a[3])) {
        PyErr_Format(PyExc_TypeError, "pointer must be an int, not %.100s",
                     Py_TYPE(a[3])->tp_name);
        return NULL;
    }
    PyObject *p = PyNumber_Index(a[3]);
    if (!p)
        return NULL;
    unsigned long long uptr = PyLong_AsUnsignedLongLong(p);
    Py_DECREF(p);
    if (uptr == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "pointer must be an address in 0 .. 2**64-1");
        return NULL;
    }
    if (ext_int64(a[4], "nbytes", &nbytes) < 0 || ext_shape(a[5], "shape", &ndim, shape) < 0)
        return NULL;
    if (nbytes < 0) {
        PyErr_Format(PyExc_ValueError, "nbytes must be >= 0, not %lld", (long long)nbytes);
        return NULL;
    }
    if (a[6] != Py_None && ext_strides(a[6], "strides", ndim, false, strides) < 0)
        return NULL;
    if (a[9] && ext_int64(a[9], "offset", &offset) < 0)
        return NULL;
    PyArray_Descr *descr;
    ember_dtype dt;
    if (ext_dtype(a[7], "dtype", &descr, &dt) < 0)
        return NULL;
    ext_array *self = ext_array_alloc(st, a[0], "cls");
    if (!self) {
        Py_DECREF(descr);
        return NULL;
    }
    self->dtype = descr;

    PyObject *owner = a[8];
    Py_INCREF(owner); /* released by release_owner with the buffer */
    ember_buffer_t buf;
    ember_status s = ember_buffer_wrap_device(dev, (uint64_t)uptr, (size_t)nbytes, release_owner,
                                              owner, &buf);
    if (s != EMBER_SUCCESS) {
        Py_DECREF(owner); /* not called on failure */
        Py_DECREF(self);
        return ext_raise(st, s, "from_device_pointer");
    }
    s = ext_array_init(&self->arr, buf, descr, dt, ndim, shape,
                       a[6] != Py_None ? strides : NULL, offset);
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, "from_device_pointer");
        Py_DECREF(self);
        ember_buffer_release(buf); /* drops the owner */
        return NULL;
    }
    ember_buffer_release(buf); /* the array holds its own reference */
    return (PyObject *)self;
}

static void host_capsule_free(PyObject *capsule)
{
    ember_buffer_t buf = PyCapsule_GetPointer(capsule, HOST_CAPSULE);
    ember_buffer_release(buf);
    ext_live_objects--;
}

/* host_array(kind, ordinal, shape, dtype, order='C', memkind='pinned') */
PyObject *ext_host_array(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "shape", "dtype",
                                        "order", "memkind", NULL};
    PyObject *a[6];
    if (ext_parse("host_array", args, nargs, kwnames, names, 4, a) < 0)
        return NULL;
    ext_state *st = ext_state_of_module(module);
    ember_device_t dev;
    int ndim;
    int64_t shape[EMBER_MAX_NDIM];
    char order;
    ember_mem_kind kind;
    if (ext_device(st, a[0], a[1], &dev) < 0 || ext_shape(a[2], "shape", &ndim, shape) < 0 ||
        parse_order(a[4], &order) < 0 || parse_memkind(a[5], true, EMBER_MEM_PINNED, &kind) < 0)
        return NULL;
    PyArray_Descr *descr;
    ember_dtype dt;
    if (ext_dtype(a[3], "dtype", &descr, &dt) < 0)
        return NULL;

    ember_array arr;
    memset(&arr, 0, sizeof arr);
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ext_array_create(&arr, dev, kind, descr, dt, ndim, shape, order);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS) {
        Py_DECREF(descr);
        return ext_raise(st, s, "host_array");
    }
    static char empty_data[16];
    char *host = ember_buffer_host_ptr(arr.buffer);
    if (!host && ember_buffer_size(arr.buffer) == 0)
        host = empty_data; /* NumPy needs a non-NULL pointer, even for no bytes */
    if (!host) {
        ember_array_fini(&arr);
        Py_DECREF(descr);
        PyErr_SetString(PyExc_RuntimeError, "host_array: the memory is not host-accessible");
        return NULL;
    }
    npy_intp dims[EMBER_MAX_NDIM], nstrides[EMBER_MAX_NDIM];
    for (int i = 0; i < ndim; i++) {
        dims[i] = (npy_intp)arr.shape[i];
        nstrides[i] = (npy_intp)arr.strides[i];
    }
    PyObject *capsule = PyCapsule_New(arr.buffer, HOST_CAPSULE, host_capsule_free);
    if (!capsule) {
        ember_array_fini(&arr);
        Py_DECREF(descr);
        return NULL;
    }
    ember_buffer_retain(arr.buffer); /* the capsule's reference */
    ext_live_objects++;
    uint64_t dptr = ember_buffer_device_ptr(arr.buffer) + (uint64_t)arr.offset;
    char *data = host + arr.offset;
    ember_array_fini(&arr);

    /* Steals descr. */
    PyObject *nd = PyArray_NewFromDescr(&PyArray_Type, descr, ndim, dims, nstrides, data,
                                        NPY_ARRAY_WRITEABLE, NULL);
    if (!nd) {
        Py_DECREF(capsule);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)nd, capsule) < 0) { /* steals capsule */
        Py_DECREF(nd);
        return NULL;
    }
    PyObject *ptr = PyLong_FromUnsignedLongLong((unsigned long long)dptr);
    if (!ptr) {
        Py_DECREF(nd);
        return NULL;
    }
    PyObject *r = PyTuple_Pack(2, nd, ptr);
    Py_DECREF(nd);
    Py_DECREF(ptr);
    return r;
}
