/*
 * dtype.c — NumPy dtypes ↔ ember dtypes.
 *
 * ember arrays hold bool, signed and unsigned integers of 8 to 64 bits,
 * float16/32/64 and complex64/128, in native byte order. C integer type
 * numbers (NPY_INT, NPY_LONG, NPY_LONGLONG …) are mapped by their size, so
 * 'l', 'q' and 'int64' are one ember dtype. Only the descriptor fields that
 * are stable across NumPy 1.x and 2.x are read (type_num, byteorder).
 *
 * Arrays (not kernel scalars) also hold records: a structured dtype without
 * Python objects in it is EMBER_RECORD, bytes of the dtype's itemsize that
 * the runtime copies as they are (ext_dtype keeps the descriptor as given,
 * fields of any byte order included; what a kernel may read of it is
 * dispatcher.py's _record_desc).
 */
#include "ext.h"

static int int_dtype(size_t size, bool is_signed, ember_dtype *out)
{
    switch (size) {
    case 1: *out = is_signed ? EMBER_INT8 : EMBER_UINT8; return 0;
    case 2: *out = is_signed ? EMBER_INT16 : EMBER_UINT16; return 0;
    case 4: *out = is_signed ? EMBER_INT32 : EMBER_UINT32; return 0;
    case 8: *out = is_signed ? EMBER_INT64 : EMBER_UINT64; return 0;
    default: return -1;
    }
}

/* 0 and *out set when supported; 1 for a non-native byte order; -1 for a
 * dtype ember arrays do not hold. Sets no exception. */
static int classify(PyArray_Descr *d, ember_dtype *out)
{
    int r = -1;
    switch (d->type_num) {
    case NPY_BOOL: *out = EMBER_BOOL; r = 0; break;
    case NPY_BYTE: r = int_dtype(sizeof(signed char), true, out); break;
    case NPY_UBYTE: r = int_dtype(sizeof(unsigned char), false, out); break;
    case NPY_SHORT: r = int_dtype(sizeof(short), true, out); break;
    case NPY_USHORT: r = int_dtype(sizeof(unsigned short), false, out); break;
    case NPY_INT: r = int_dtype(sizeof(int), true, out); break;
    case NPY_UINT: r = int_dtype(sizeof(unsigned int), false, out); break;
    case NPY_LONG: r = int_dtype(sizeof(long), true, out); break;
    case NPY_ULONG: r = int_dtype(sizeof(unsigned long), false, out); break;
    case NPY_LONGLONG: r = int_dtype(sizeof(long long), true, out); break;
    case NPY_ULONGLONG: r = int_dtype(sizeof(unsigned long long), false, out); break;
    case NPY_HALF: *out = EMBER_FLOAT16; r = 0; break;
    case NPY_FLOAT: *out = EMBER_FLOAT32; r = 0; break;
    case NPY_DOUBLE: *out = EMBER_FLOAT64; r = 0; break;
    case NPY_CFLOAT: *out = EMBER_COMPLEX64; r = 0; break;
    case NPY_CDOUBLE: *out = EMBER_COMPLEX128; r = 0; break;
    default: r = -1; break;
    }
    if (r == 0 && !PyArray_ISNBO(d->byteorder))
        return 1;
    return r;
}

int ext_dtype_ok(PyArray_Descr *descr)
{
    ember_dtype dt;
    return classify(descr, &dt) == 0;
}

int ext_dtype_of_descr(PyArray_Descr *descr, ember_dtype *out)
{
    int r = classify(descr, out);
    if (r == 0)
        return 0;
    if (r == 1)
        PyErr_Format(PyExc_TypeError,
                     "dtype '%S' is not in native byte order: convert the data first with "
                     ".astype(dtype.newbyteorder('='))",
                     (PyObject *)descr);
    else
        PyErr_Format(PyExc_TypeError,
                     "unsupported dtype '%S': ember arrays hold bool, integer, float and "
                     "complex numbers, and records (structured dtypes) without objects",
                     (PyObject *)descr);
    return -1;
}

/* Whether an array can hold records of `d`: fields, no objects, some bytes. */
static bool record_ok(PyArray_Descr *d)
{
    return d->type_num == NPY_VOID && PyDataType_NAMES(d) != NULL &&
           !(PyDataType_FLAGS(d) & NPY_ITEM_HASOBJECT) && PyDataType_ELSIZE(d) > 0;
}

int ext_array_dtype_of_descr(PyArray_Descr *descr, ember_dtype *out)
{
    if (record_ok(descr)) {
        *out = EMBER_RECORD;
        return 0;
    }
    return ext_dtype_of_descr(descr, out);
}

ember_status ext_array_init(ember_array *a, ember_buffer_t buffer, PyArray_Descr *descr,
                            ember_dtype dt, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset)
{
    if (dt == EMBER_RECORD)
        return ember_array_init_record(a, buffer, (int64_t)PyDataType_ELSIZE(descr), ndim, shape,
                                       strides, offset);
    return ember_array_init(a, buffer, dt, ndim, shape, strides, offset);
}

ember_status ext_array_create(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                              PyArray_Descr *descr, ember_dtype dt, int ndim,
                              const int64_t *shape, char order)
{
    if (dt == EMBER_RECORD)
        return ember_array_create_record(a, dev, kind, (int64_t)PyDataType_ELSIZE(descr), ndim,
                                         shape, order);
    return ember_array_create(a, dev, kind, dt, ndim, shape, order);
}

int ext_dtype(PyObject *obj, const char *what, PyArray_Descr **descr, ember_dtype *out)
{
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a numpy dtype or something numpy.dtype() accepts, not None",
                     what);
        return -1;
    }
    PyArray_Descr *d = NULL;
    if (!PyArray_DescrConverter(obj, &d)) {
        /* Keep NumPy's reason, but name the argument. */
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *value = PyErr_GetRaisedException();
#else
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
#endif
        PyErr_Format(PyExc_TypeError, "%s: %R is not a dtype (%S)", what, obj,
                     value ? value : Py_None);
        Py_XDECREF(value);
        return -1;
    }
    ember_dtype dt;
    if (record_ok(d)) { /* kept as given: its fields are the user's */
        *descr = d;
        *out = EMBER_RECORD;
        return 0;
    }
    if (ext_dtype_of_descr(d, &dt) < 0) {
        Py_DECREF(d);
        return -1;
    }
    /* A native descriptor whose byte order reads '<' or '>' (an explicit
     * spelling of the native one) is normalised to NumPy's canonical one. */
    PyArray_Descr *canon = PyArray_DescrFromType(d->type_num);
    Py_DECREF(d);
    if (!canon)
        return -1;
    *descr = canon;
    *out = dt;
    return 0;
}
