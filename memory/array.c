/*
 * array.c — dtypes and the n-dimensional array descriptor.
 *
 * A descriptor is a view: dtype, shape, byte strides and a byte offset into
 * a buffer it holds one reference to. ember_array_init refuses any view that
 * would reach outside its buffer, so nothing a user builds (slices, reshapes,
 * foreign arrays) can make a later copy or kernel touch foreign memory.
 *
 * The runtime never reads an element, only moves bytes, so a record (a NumPy
 * structured dtype) is one more dtype, EMBER_RECORD, whose size each array
 * carries in `itemsize`.
 */
#include <string.h>

#include "memory/memory_impl.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[EMBER_DTYPE_COUNT] = {
    [EMBER_BOOL] = {"bool", 1},         [EMBER_INT8] = {"int8", 1},
    [EMBER_INT16] = {"int16", 2},       [EMBER_INT32] = {"int32", 4},
    [EMBER_INT64] = {"int64", 8},       [EMBER_UINT8] = {"uint8", 1},
    [EMBER_UINT16] = {"uint16", 2},     [EMBER_UINT32] = {"uint32", 4},
    [EMBER_UINT64] = {"uint64", 8},     [EMBER_FLOAT16] = {"float16", 2},
    [EMBER_FLOAT32] = {"float32", 4},   [EMBER_FLOAT64] = {"float64", 8},
    [EMBER_COMPLEX64] = {"complex64", 8}, [EMBER_COMPLEX128] = {"complex128", 16},
    [EMBER_RECORD] = {"record", 0},
};

size_t ember_dtype_size(ember_dtype dtype)
{
    return (unsigned)dtype < EMBER_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *ember_dtype_name(ember_dtype dtype)
{
    return (unsigned)dtype < EMBER_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

int64_t ember_array_size(const ember_array *a)
{
    if (!a)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

int64_t ember_array_nbytes(const ember_array *a)
{
    return a ? ember_array_size(a) * a->itemsize : 0;
}

/* NumPy's rule: strides match the dense layout, ignoring axes of length 1;
 * an empty array is contiguous either way. */
static bool contiguous(const ember_array *a, bool c_order)
{
    if (ember_array_size(a) == 0)
        return true;
    int64_t expect = a->itemsize;
    for (int k = 0; k < a->ndim; k++) {
        int i = c_order ? a->ndim - 1 - k : k;
        if (a->shape[i] == 1)
            continue;
        if (a->strides[i] != expect)
            return false;
        expect *= a->shape[i];
    }
    return true;
}

bool ember_array_is_c_contiguous(const ember_array *a) { return a && contiguous(a, true); }
bool ember_array_is_f_contiguous(const ember_array *a) { return a && contiguous(a, false); }

/* Byte range [lo, hi) of the buffer that the view's elements occupy,
 * relative to the buffer start; false on arithmetic overflow. For an empty
 * view the range is [offset, offset). */
static bool view_span(int64_t itemsize, int ndim, const int64_t *shape, const int64_t *strides,
                      int64_t offset, int64_t *lo, int64_t *hi)
{
    int64_t low = offset, high = offset;
    bool empty = false;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            empty = true;
    if (!empty) {
        for (int i = 0; i < ndim; i++) {
            int64_t ext;
            if (__builtin_mul_overflow(shape[i] - 1, strides[i], &ext))
                return false;
            if (ext < 0 ? __builtin_add_overflow(low, ext, &low)
                        : __builtin_add_overflow(high, ext, &high))
                return false;
        }
        if (__builtin_add_overflow(high, itemsize, &high))
            return false;
    }
    *lo = low;
    *hi = high;
    return true;
}

ember_status array_span(const ember_array *a, int64_t *lo, int64_t *hi)
{
    if (!view_span(a->itemsize, a->ndim, a->shape, a->strides, a->offset, lo, hi))
        return em_error(EMBER_ERR_OUT_OF_BOUNDS, "array extent overflows");
    return EMBER_SUCCESS;
}

/* ember_array_init and ember_array_init_record: `itemsize` > 0 is checked. */
static ember_status init_items(ember_array *a, ember_buffer_t buffer, ember_dtype dtype,
                               int64_t itemsize, int ndim, const int64_t *shape,
                               const int64_t *strides, int64_t offset)
{
    if (!a || !buffer)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_array_init: NULL array or buffer");
    if (ndim < 0 || ndim > EMBER_MAX_NDIM)
        return em_error(EMBER_ERR_INVALID_ARG, "ndim %d is outside 0..%d", ndim, EMBER_MAX_NDIM);
    if (ndim > 0 && !shape)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_array_init: NULL shape");
    int64_t dense[EMBER_MAX_NDIM];
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return em_error(EMBER_ERR_INVALID_ARG, "negative dimension %lld in axis %d",
                            (long long)shape[i], i);
        if (__builtin_mul_overflow(count, shape[i], &count))
            return em_error(EMBER_ERR_INVALID_ARG, "array size overflows");
    }
    if (!strides) { /* C-contiguous */
        int64_t s = itemsize;
        for (int i = ndim - 1; i >= 0; i--) {
            dense[i] = s;
            if (shape[i] > 1 && __builtin_mul_overflow(s, shape[i], &s))
                return em_error(EMBER_ERR_INVALID_ARG, "array size overflows");
        }
        strides = dense;
    }
    int64_t lo, hi;
    if (offset < 0 || !view_span(itemsize, ndim, shape, strides, offset, &lo, &hi) || lo < 0 ||
        (uint64_t)hi > buffer->size)
        return em_error(EMBER_ERR_OUT_OF_BOUNDS,
                        "the view (offset %lld, %d dims) reaches outside its buffer of %zu bytes",
                        (long long)offset, ndim, buffer->size);
    memset(a, 0, sizeof *a);
    ember_buffer_retain(buffer);
    a->buffer = buffer;
    a->dtype = dtype;
    a->itemsize = itemsize;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        a->shape[i] = shape[i];
        a->strides[i] = strides[i];
    }
    a->offset = offset;
    return EMBER_SUCCESS;
}

/* The dtype's size, or 0 (with the error set) for EMBER_RECORD or an
 * unknown code. */
static int64_t scalar_size(ember_dtype dtype)
{
    if (dtype == EMBER_RECORD) {
        em_error(EMBER_ERR_INVALID_ARG, "EMBER_RECORD arrays are made with "
                 "ember_array_init_record / ember_array_create_record (they need the size)");
        return 0;
    }
    if ((unsigned)dtype >= EMBER_DTYPE_COUNT) {
        em_error(EMBER_ERR_INVALID_ARG, "unknown dtype code %d", (int)dtype);
        return 0;
    }
    return (int64_t)ember_dtype_size(dtype);
}

static ember_status record_size_ok(int64_t itemsize)
{
    if (itemsize <= 0)
        return em_error(EMBER_ERR_INVALID_ARG, "a record's size must be > 0, not %lld",
                        (long long)itemsize);
    return EMBER_SUCCESS;
}

ember_status ember_array_init(ember_array *a, ember_buffer_t buffer, ember_dtype dtype, int ndim,
                              const int64_t *shape, const int64_t *strides, int64_t offset)
{
    int64_t size = scalar_size(dtype);
    if (!size)
        return EMBER_ERR_INVALID_ARG;
    return init_items(a, buffer, dtype, size, ndim, shape, strides, offset);
}

ember_status ember_array_init_record(ember_array *a, ember_buffer_t buffer, int64_t itemsize,
                                     int ndim, const int64_t *shape, const int64_t *strides,
                                     int64_t offset)
{
    ember_status st = record_size_ok(itemsize);
    if (st != EMBER_SUCCESS)
        return st;
    return init_items(a, buffer, EMBER_RECORD, itemsize, ndim, shape, strides, offset);
}

static ember_status create_items(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                                 ember_dtype dtype, int64_t itemsize, int ndim,
                                 const int64_t *shape, char order)
{
    if (!a || !dev)
        return em_error(EMBER_ERR_INVALID_ARG, "ember_array_create: NULL argument");
    if (order != 'C' && order != 'F')
        return em_error(EMBER_ERR_INVALID_ARG, "order must be 'C' or 'F', not '%c'", order);
    if (ndim < 0 || ndim > EMBER_MAX_NDIM || (ndim > 0 && !shape))
        return em_error(EMBER_ERR_INVALID_ARG, "ndim %d is outside 0..%d", ndim, EMBER_MAX_NDIM);
    int64_t strides[EMBER_MAX_NDIM];
    int64_t s = itemsize;
    for (int k = 0; k < ndim; k++) {
        int i = order == 'C' ? ndim - 1 - k : k;
        if (shape[i] < 0)
            return em_error(EMBER_ERR_INVALID_ARG, "negative dimension %lld in axis %d",
                            (long long)shape[i], i);
        strides[i] = s;
        if (__builtin_mul_overflow(s, shape[i] ? shape[i] : 1, &s))
            return em_error(EMBER_ERR_INVALID_ARG, "array size overflows");
    }
    int64_t nbytes = s;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            nbytes = 0;
    ember_buffer_t buf;
    ember_status st = ember_buffer_create(dev, kind, (size_t)nbytes, &buf);
    if (st != EMBER_SUCCESS)
        return st;
    st = init_items(a, buf, dtype, itemsize, ndim, shape, strides, 0);
    ember_buffer_release(buf); /* the array holds its own reference now */
    return st;
}

ember_status ember_array_create(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                                ember_dtype dtype, int ndim, const int64_t *shape, char order)
{
    int64_t size = scalar_size(dtype);
    if (!size)
        return EMBER_ERR_INVALID_ARG;
    return create_items(a, dev, kind, dtype, size, ndim, shape, order);
}

ember_status ember_array_create_record(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                                       int64_t itemsize, int ndim, const int64_t *shape,
                                       char order)
{
    ember_status st = record_size_ok(itemsize);
    if (st != EMBER_SUCCESS)
        return st;
    return create_items(a, dev, kind, EMBER_RECORD, itemsize, ndim, shape, order);
}

void ember_array_fini(ember_array *a)
{
    if (!a)
        return;
    ember_buffer_release(a->buffer);
    memset(a, 0, sizeof *a);
}
