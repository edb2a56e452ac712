/*
 * module.c — the module `ember._ember`: multi-phase init, module state, the
 * status-to-exception mapping, argument helpers shared by the other files,
 * and the module-level functions over devices, topology and counters.
 *
 * The exec slot imports NumPy's C API, creates the heap types (Array,
 * Stream, Event) and imports the sibling module `errors` of the package the
 * extension lives in, keeping the classes it raises in the module state.
 * libember itself initialises lazily, on the first call that needs a
 * device, with the GIL released (it loads hwloc's topology and probes the
 * CUDA driver).
 */
#define EXT_IMPORT_ARRAY
#include "ext.h"

#include <string.h>

Py_ssize_t ext_live_objects;

/* Set once ember_init succeeded; cleared by shutdown(). Read and written
 * with the GIL held. */
static bool ext_ready;

static int ext_init_runtime(ext_state *st)
{
    if (ext_ready)
        return 0;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_init();
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, "ember failed to initialise");
        return -1;
    }
    ext_ready = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Module state                                                             */
/* ------------------------------------------------------------------------ */

ext_state *ext_state_of_module(PyObject *module) { return PyModule_GetState(module); }

ext_state *ext_state_of_type(PyTypeObject *tp)
{
    PyObject *m = PyType_GetModuleByDef(tp, &ext_module_def);
    if (!m) {
        /* Only reachable for types that are none of ours. */
        return NULL;
    }
    return PyModule_GetState(m);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

PyObject *ext_raise_msg(ext_state *st, ember_status status, const char *message,
                        int driver_code, const char *driver_name)
{
    PyObject *msg = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (!msg)
        return NULL;
    PyObject *type;
    switch (status) {
    case EMBER_ERR_INVALID_ARG:
    case EMBER_ERR_OUT_OF_BOUNDS:
    case EMBER_ERR_DEVICE_MISMATCH:
    case EMBER_ERR_NOT_FOUND:
        type = PyExc_ValueError;
        break;
    case EMBER_ERR_OUT_OF_MEMORY:
        type = PyExc_MemoryError;
        break;
    case EMBER_ERR_DEVICE_OUT_OF_MEMORY:
    case EMBER_ERR_DRIVER: {
        if (!st || !st->cuda_api_error) {
            type = PyExc_RuntimeError;
            break;
        }
        /* Out of device memory without a driver code (the cpu device) is
         * reported as CUDA's own out-of-memory, so that code catching
         * CudaAPIError for it works on both kinds. */
        if (status == EMBER_ERR_DEVICE_OUT_OF_MEMORY && driver_code == 0) {
            driver_code = 2;
            driver_name = "CUDA_ERROR_OUT_OF_MEMORY";
        }
        PyObject *exc;
        if (driver_name && driver_name[0])
            exc = PyObject_CallFunction(st->cuda_api_error, "iOs", driver_code, msg, driver_name);
        else
            exc = PyObject_CallFunction(st->cuda_api_error, "iO", driver_code, msg);
        Py_DECREF(msg);
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    case EMBER_ERR_NO_DRIVER:
        type = st && st->cuda_support_error ? st->cuda_support_error : PyExc_RuntimeError;
        break;
    case EMBER_ERR_NOT_SUPPORTED:
        type = PyExc_NotImplementedError;
        break;
    case EMBER_ERR_SYSTEM:
        type = PyExc_OSError;
        break;
    case EMBER_ERR_INDEX:
        type = PyExc_IndexError;
        break;
    case EMBER_ERR_INTERRUPTED:
        type = PyExc_KeyboardInterrupt;
        break;
    default:
        type = PyExc_RuntimeError;
        break;
    }
    PyErr_SetObject(type, msg);
    Py_DECREF(msg);
    return NULL;
}

PyObject *ext_raise(ext_state *st, ember_status status, const char *context)
{
    const char *last = ember_last_error();
    if (!last || !last[0])
        last = ember_status_string(status);
    char buf[2600];
    if (context && context[0]) {
        snprintf(buf, sizeof buf, "%s: %s", context, last);
        last = buf;
    }
    ext_raise_msg(st, status, last, ember_last_driver_error(), ember_last_driver_error_name());
    /* The message is used up: a later failure that sets none must not show
     * this one again. */
    ember_clear_error();
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                         */
/* ------------------------------------------------------------------------ */

int ext_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
              const char *const *names, int required, PyObject **out)
{
    int n = 0;
    while (names[n])
        n++;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, n,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int idx = -1;
        for (int i = 0; i < n && idx < 0; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                idx = i;
        if (idx < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                         key);
            return -1;
        }
        if (out[idx]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[idx]);
            return -1;
        }
        out[idx] = args[nargs + k];
    }
    for (int i = 0; i < required; i++) {
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fname,
                         names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

int ext_device_kind(PyObject *kind, ember_device_kind *out)
{
    if (!PyUnicode_Check(kind)) {
        PyErr_Format(PyExc_TypeError, "kind must be a str ('cpu' or 'cuda'), not %.100s",
                     Py_TYPE(kind)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(kind, "cpu") == 0) {
        *out = EMBER_DEVICE_CPU;
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(kind, "cuda") == 0) {
        *out = EMBER_DEVICE_CUDA;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "kind must be 'cpu' or 'cuda', not %R", kind);
    return -1;
}

int ext_int64(PyObject *obj, const char *what, int64_t *out)
{
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *v = PyNumber_Index(obj);
    if (!v)
        return -1;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyErr_Format(PyExc_ValueError, "%s is out of the 64-bit integer range", what);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

int ext_device(ext_state *st, PyObject *kind, PyObject *ordinal, ember_device_t *out)
{
    ember_device_kind k;
    int64_t ord;
    if (ext_device_kind(kind, &k) < 0 || ext_int64(ordinal, "ordinal", &ord) < 0)
        return -1;
    if (ord < 0 || ord > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "ordinal must be >= 0, not %lld", (long long)ord);
        return -1;
    }
    if (ext_init_runtime(st) < 0)
        return -1;
    ember_status s = ember_device_get(k, (int)ord, out);
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, NULL);
        return -1;
    }
    return 0;
}

PyObject *ext_device_tuple(ember_device_t dev)
{
    ember_device_info info;
    if (ember_device_get_info(dev, &info) != EMBER_SUCCESS) {
        PyErr_SetString(PyExc_RuntimeError, ember_last_error());
        return NULL;
    }
    return Py_BuildValue("(si)", info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda", info.ordinal);
}

/* Reads a tuple or list of ints into out[]: at most EMBER_MAX_NDIM of
 * them, or exactly `want` when want >= 0. `kind` completes the TypeError
 * ("a tuple of ints<kind>"); with `negative` non-NULL a negative item is a
 * ValueError ending in it. Returns the count, or -1 with an exception. */
static Py_ssize_t int_items(PyObject *obj, const char *what, const char *kind, Py_ssize_t want,
                            const char *negative, int64_t *out)
{
    if (!PyTuple_Check(obj) && !PyList_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple of ints%s, not %.100s", what, kind,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
    if (want >= 0 && n != want) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries but the shape has %zd dimensions",
                     what, n, want);
        return -1;
    }
    if (n > EMBER_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s has %zd dimensions; ember arrays have at most %d",
                     what, n, EMBER_MAX_NDIM);
        return -1;
    }
    char item[64];
    for (Py_ssize_t i = 0; i < n; i++) {
        /* A list may change under us if an element's __index__ runs Python
         * code: re-check the size on every step. */
        if (i >= PySequence_Fast_GET_SIZE(obj)) {
            PyErr_Format(PyExc_ValueError, "%s changed size while being read", what);
            return -1;
        }
        PyObject *e = PySequence_Fast_GET_ITEM(obj, i);
        Py_INCREF(e);
        snprintf(item, sizeof item, "%s[%zd]", what, i);
        int r = ext_int64(e, item, &out[i]);
        Py_DECREF(e);
        if (r < 0)
            return -1;
        if (negative && out[i] < 0) {
            PyErr_Format(PyExc_ValueError, "%s is %lld: %s", item, (long long)out[i], negative);
            return -1;
        }
    }
    return n;
}

int ext_shape(PyObject *obj, const char *what, int *ndim, int64_t *shape)
{
    if (PyIndex_Check(obj)) {
        if (ext_int64(obj, what, &shape[0]) < 0)
            return -1;
        if (shape[0] < 0) {
            PyErr_Format(PyExc_ValueError, "%s must be >= 0, not %lld", what,
                         (long long)shape[0]);
            return -1;
        }
        *ndim = 1;
        return 0;
    }
    Py_ssize_t n = int_items(obj, what, "", -1, "dimensions must be >= 0", shape);
    if (n < 0)
        return -1;
    *ndim = (int)n;
    return 0;
}

int ext_strides(PyObject *obj, const char *what, int ndim, bool nonneg, int64_t *strides)
{
    return int_items(obj, what, " (byte strides)", ndim,
                     nonneg ? "strides must be >= 0 here" : NULL, strides) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

static PyObject *mod_init(PyObject *m, PyObject *unused)
{
    if (ext_init_runtime(ext_state_of_module(m)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_shutdown(PyObject *m, PyObject *unused)
{
    if (ext_live_objects > 0) {
        PyErr_Format(PyExc_RuntimeError,
                     "shutdown: %zd ember objects (arrays, streams, events, host arrays) are "
                     "still alive; delete them first",
                     ext_live_objects);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    ember_shutdown();
    Py_END_ALLOW_THREADS
    ext_ready = false;
    Py_RETURN_NONE;
}

static PyObject *mod_device_count(PyObject *m, PyObject *kind)
{
    ember_device_kind k;
    if (ext_device_kind(kind, &k) < 0 || ext_init_runtime(ext_state_of_module(m)) < 0)
        return NULL;
    return PyLong_FromLong(ember_device_count(k));
}

static PyObject *mod_kind_unavailable_reason(PyObject *m, PyObject *kind)
{
    ember_device_kind k;
    if (ext_device_kind(kind, &k) < 0 || ext_init_runtime(ext_state_of_module(m)) < 0)
        return NULL;
    const char *r = ember_device_kind_unavailable_reason(k);
    return PyUnicode_DecodeUTF8(r, (Py_ssize_t)strlen(r), "replace");
}

static int device_args(PyObject *m, const char *fname, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames, ember_device_t *dev)
{
    static const char *const names[] = {"kind", "ordinal", NULL};
    PyObject *a[2];
    if (ext_parse(fname, args, nargs, kwnames, names, 2, a) < 0)
        return -1;
    return ext_device(ext_state_of_module(m), a[0], a[1], dev);
}

/* Adds key = value (a new reference, NULL on failure) to dict `d`. */
static int put(PyObject *d, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int r = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return r;
}

/* A str from a fixed-size char field of `cap` bytes (NUL-terminated or full). */
static PyObject *text(const char *s, size_t cap)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strnlen(s, cap), "replace");
}

static PyObject *mod_device_info(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    ember_device_t dev;
    if (device_args(m, "device_info", args, nargs, kwnames, &dev) < 0)
        return NULL;
    ember_device_info info;
    ember_status s = ember_device_get_info(dev, &info);
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(m), s, NULL);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (put(d, "kind", PyUnicode_FromString(info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda")) < 0 ||
        put(d, "ordinal", PyLong_FromLong(info.ordinal)) < 0 ||
        put(d, "name", text(info.name, sizeof info.name)) < 0 ||
        put(d, "compute_capability", Py_BuildValue("(ii)", info.cc_major, info.cc_minor)) < 0 ||
        put(d, "total_memory", PyLong_FromUnsignedLongLong(info.total_memory)) < 0 ||
        put(d, "multiprocessors", PyLong_FromLong(info.multiprocessors)) < 0 ||
        put(d, "max_threads_per_block", PyLong_FromLong(info.max_threads_per_block)) < 0 ||
        put(d, "warp_size", PyLong_FromLong(info.warp_size)) < 0 ||
        put(d, "max_shared_memory_per_block",
            PyLong_FromSize_t(info.max_shared_memory_per_block)) < 0 ||
        put(d, "max_shared_memory_per_block_optin",
            PyLong_FromSize_t(info.max_shared_memory_per_block_optin)) < 0 ||
        put(d, "pci_bus_id", text(info.pci_bus_id, sizeof info.pci_bus_id)) < 0 ||
        put(d, "near_cpus", text(info.near_cpus, sizeof info.near_cpus)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *mod_default_device(PyObject *m, PyObject *unused)
{
    ext_state *st = ext_state_of_module(m);
    if (ext_init_runtime(st) < 0)
        return NULL;
    ember_device_t dev;
    ember_status s = ember_device_default(&dev);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, NULL);
    return ext_device_tuple(dev);
}

static PyObject *mod_memory_info(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    ember_device_t dev;
    if (device_args(m, "memory_info", args, nargs, kwnames, &dev) < 0)
        return NULL;
    uint64_t free_bytes = 0, total = 0;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_device_memory_info(dev, &free_bytes, &total);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(m), s, NULL);
    return Py_BuildValue("(KK)", (unsigned long long)free_bytes, (unsigned long long)total);
}

static PyObject *mod_synchronize(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    ember_device_t dev;
    if (device_args(m, "synchronize", args, nargs, kwnames, &dev) < 0)
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_device_synchronize(dev);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(m), s, "synchronize");
    Py_RETURN_NONE;
}

/* profiler(kind, ordinal, on) */
static PyObject *mod_profiler(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "on", NULL};
    PyObject *a[3];
    if (ext_parse("profiler", args, nargs, kwnames, names, 3, a) < 0)
        return NULL;
    ember_device_t dev;
    int on = PyObject_IsTrue(a[2]);
    if (on < 0 || ext_device(ext_state_of_module(m), a[0], a[1], &dev) < 0)
        return NULL;
    ember_status s = ember_device_profiler(dev, on);
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(m), s, "profiler");
    Py_RETURN_NONE;
}

static PyObject *mod_cpu_topology(PyObject *m, PyObject *unused)
{
    ext_state *st = ext_state_of_module(m);
    if (ext_init_runtime(st) < 0)
        return NULL;
    ember_cpu_topology t;
    ember_status s = ember_cpu_topology_get(&t);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, NULL);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (put(d, "packages", PyLong_FromLong(t.packages)) < 0 ||
        put(d, "cores", PyLong_FromLong(t.cores)) < 0 ||
        put(d, "pus", PyLong_FromLong(t.pus)) < 0 ||
        put(d, "numa_nodes", PyLong_FromLong(t.numa_nodes)) < 0 ||
        put(d, "l1d_bytes", PyLong_FromUnsignedLongLong(t.l1d_bytes)) < 0 ||
        put(d, "l2_bytes", PyLong_FromUnsignedLongLong(t.l2_bytes)) < 0 ||
        put(d, "l3_bytes", PyLong_FromUnsignedLongLong(t.l3_bytes)) < 0 ||
        put(d, "workers", PyLong_FromLong(t.workers)) < 0 ||
        put(d, "model", text(t.model, sizeof t.model)) < 0 ||
        put(d, "blas", text(t.blas, sizeof t.blas)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *mod_stats(PyObject *m, PyObject *unused)
{
    ember_transfer_stats t;
    memset(&t, 0, sizeof t);
    ember_stats_get(&t);
    static const char *const dir_names[EMBER_COPY_DIR_COUNT] = {
        [EMBER_COPY_HTOD] = "htod", [EMBER_COPY_DTOH] = "dtoh",
        [EMBER_COPY_DTOD] = "dtod", [EMBER_COPY_HTOH] = "htoh"};
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    char key[32];
    for (int i = 0; i < EMBER_COPY_DIR_COUNT; i++) {
        snprintf(key, sizeof key, "%s_bytes", dir_names[i]);
        if (put(d, key, PyLong_FromUnsignedLongLong(t.bytes[i])) < 0)
            goto fail;
        snprintf(key, sizeof key, "%s_copies", dir_names[i]);
        if (put(d, key, PyLong_FromUnsignedLongLong(t.copies[i])) < 0)
            goto fail;
    }
    if (put(d, "allocations", PyLong_FromUnsignedLongLong(t.allocations)) < 0 ||
        put(d, "frees", PyLong_FromUnsignedLongLong(t.frees)) < 0 ||
        put(d, "bytes_allocated", PyLong_FromUnsignedLongLong(t.bytes_allocated)) < 0)
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *mod_reset_stats(PyObject *m, PyObject *unused)
{
    ember_stats_reset();
    Py_RETURN_NONE;
}

static PyObject *mod_dtype_supported(PyObject *m, PyObject *obj)
{
    if (obj == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "dtype must be a numpy dtype or something numpy.dtype() accepts, not None");
        return NULL;
    }
    PyArray_Descr *descr = NULL;
    if (!PyArray_DescrConverter(obj, &descr))
        return NULL;
    ember_dtype dt;
    int ok = ext_array_dtype_of_descr(descr, &dt) == 0; /* numbers and records */
    if (!ok)
        PyErr_Clear();
    Py_DECREF(descr);
    return PyBool_FromLong(ok);
}

/* check_dtype(dtype): the canonical native numpy.dtype, or the precise
 * TypeError when ember arrays cannot hold it. */
static PyObject *mod_check_dtype(PyObject *m, PyObject *obj)
{
    PyArray_Descr *descr;
    ember_dtype dt;
    if (ext_dtype(obj, "dtype", &descr, &dt) < 0)
        return NULL;
    return (PyObject *)descr;
}

/* ---- test hooks (names start with an underscore) ------------------------ */

static int fault_site(PyObject *obj, ember_fault_site *out)
{
    int64_t v;
    if (ext_int64(obj, "site", &v) < 0)
        return -1;
    if (v < 0 || v >= EMBER_FAULT_SITE_COUNT) {
        PyErr_Format(PyExc_ValueError, "site must be 0 (alloc) or 1 (driver), not %lld",
                     (long long)v);
        return -1;
    }
    *out = (ember_fault_site)v;
    return 0;
}

/* _fault_fail_at(site, n): arms libember's fault injection (ember_test.h). */
static PyObject *mod_fault_fail_at(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"site", "n", NULL};
    PyObject *a[2];
    ember_fault_site site;
    int64_t n;
    if (ext_parse("_fault_fail_at", args, nargs, kwnames, names, 2, a) < 0 ||
        fault_site(a[0], &site) < 0 || ext_int64(a[1], "n", &n) < 0)
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0 (0 disarms)");
        return NULL;
    }
    ember_fault_fail_at(site, (long)n);
    Py_RETURN_NONE;
}

static PyObject *mod_fault_fired(PyObject *m, PyObject *obj)
{
    ember_fault_site site;
    if (fault_site(obj, &site) < 0)
        return NULL;
    return PyBool_FromLong(ember_fault_fired(site));
}

/* _raise_status(status, message, driver_code=0, driver_name=None): raises
 * the exception a failed call with that status would raise. */
static PyObject *mod_raise_status(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"status", "message", "driver_code", "driver_name", NULL};
    PyObject *a[4];
    int64_t status, code = 0;
    if (ext_parse("_raise_status", args, nargs, kwnames, names, 2, a) < 0 ||
        ext_int64(a[0], "status", &status) < 0 ||
        (a[2] && ext_int64(a[2], "driver_code", &code) < 0))
        return NULL;
    if (status <= 0 || status >= EMBER_STATUS_COUNT) {
        PyErr_Format(PyExc_ValueError, "status must be in 1..%d", EMBER_STATUS_COUNT - 1);
        return NULL;
    }
    if (code < INT32_MIN || code > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "driver_code is out of the int range");
        return NULL;
    }
    const char *msg = PyUnicode_Check(a[1]) ? PyUnicode_AsUTF8(a[1]) : NULL;
    const char *name = a[3] && a[3] != Py_None && PyUnicode_Check(a[3])
                           ? PyUnicode_AsUTF8(a[3]) : NULL;
    if (!msg || (a[3] && a[3] != Py_None && !name)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "message and driver_name must be str");
        return NULL;
    }
    return ext_raise_msg(ext_state_of_module(m), (ember_status)status, msg, (int)code, name);
}

static PyObject *mod_live_objects(PyObject *m, PyObject *unused)
{
    return PyLong_FromSsize_t(ext_live_objects);
}

#define FASTCALL_KW METH_FASTCALL | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef module_methods[] = {
    {"init", mod_init, METH_NOARGS,
     "init($module)\n--\n\nInitialises the runtime (discovers devices)."},
    {"shutdown", mod_shutdown, METH_NOARGS,
     "shutdown($module)\n--\n\n"
     "Releases every device (for tests; refused while ember objects live)."},
    {"device_count", mod_device_count, METH_O,
     "device_count($module, kind, /)\n--\n\nNumber of devices of kind 'cpu' or 'cuda'."},
    {"kind_unavailable_reason", mod_kind_unavailable_reason, METH_O,
     "kind_unavailable_reason($module, kind, /)\n--\n\n"
     "Why the kind has no device ('' when it has)."},
    {"device_info", FN(mod_device_info), FASTCALL_KW,
     "device_info($module, kind, ordinal)\n--\n\nProperties of one device, as a dict."},
    {"default_device", mod_default_device, METH_NOARGS,
     "default_device($module)\n--\n\n(kind, ordinal) of the default device."},
    {"memory_info", FN(mod_memory_info), FASTCALL_KW,
     "memory_info($module, kind, ordinal)\n--\n\n"
     "(free, total) bytes of the device's memory."},
    {"synchronize", FN(mod_synchronize), FASTCALL_KW,
     "synchronize($module, kind, ordinal)\n--\n\nWaits for all work queued on the device."},
    {"profiler", FN(mod_profiler), FASTCALL_KW,
     "profiler($module, kind, ordinal, on)\n--\n\n"
     "Starts (on) or stops the device's profiler; nothing on the cpu device."},
    {"cpu_topology", mod_cpu_topology, METH_NOARGS,
     "cpu_topology($module)\n--\n\nThe host's topology as hwloc sees it, as a dict."},
    {"stats", mod_stats, METH_NOARGS,
     "stats($module)\n--\n\nTransfer and allocation counters, as a dict."},
    {"reset_stats", mod_reset_stats, METH_NOARGS,
     "reset_stats($module)\n--\n\nZeroes the transfer and allocation-event counters."},
    {"dtype_supported", mod_dtype_supported, METH_O,
     "dtype_supported($module, dtype, /)\n--\n\nTrue when ember arrays can hold the dtype."},
    {"check_dtype", mod_check_dtype, METH_O,
     "check_dtype($module, dtype, /)\n--\n\n"
     "The dtype as a native numpy.dtype; TypeError saying why when\n"
     "ember arrays cannot hold it."},
    {"empty", FN(ext_empty), FASTCALL_KW,
     "empty($module, cls, kind, ordinal, shape, dtype, order='C', strides=None, "
     "memkind='device')\n--\n\n"
     "A new uninitialised array of class cls (Array or a subclass)."},
    {"from_device_pointer", FN(ext_from_device_pointer), FASTCALL_KW,
     "from_device_pointer($module, cls, kind, ordinal, pointer, nbytes, shape, strides, dtype, "
     "owner, "
     "offset=0)\n--\n\n"
     "An array over memory ember does not own: nbytes at pointer on the device, element 0 at\n"
     "pointer + offset. owner is kept alive while the array (or a view of it) lives."},
    {"host_array", FN(ext_host_array), FASTCALL_KW,
     "host_array($module, kind, ordinal, shape, dtype, order='C', memkind='pinned')\n--\n\n"
     "(numpy.ndarray, device_pointer) over new pinned or mapped host memory of the device."},
    {"compile_kernel", FN(ext_compile_kernel), FASTCALL_KW,
     "compile_kernel($module, tree, param_types, opt_level=3)\n--\n\n"
     "Compiles the front end's tree for one signature of parameter types; returns a Kernel.\n"
     "cached=bytes (Kernel.cache_data() of an earlier compile) links that code instead."},
    {"intrinsics", ext_intrinsics, METH_NOARGS,
     "intrinsics($module, /)\n--\n\n"
     "{front-end name: (label, min_args, max_args, kind)} for every intrinsic\n"
     "(core/intrinsics.def); kind is index, thread, plain, warp_mask, warp, block or host."},
    {"_devices_open", ext_devices_open, METH_NOARGS,
     "_devices_open($module, /)\n--\n\n"
     "Whether ember has opened its devices (the CPU device's topology and pool, CUDA's driver)."},
    {"host_target", ext_host_target, METH_NOARGS,
     "host_target($module, /)\n--\n\n"
     "'triple cpu features LLVM x.y.z': the host the JIT compiles for (the disk cache's key)."},
    {"to_dlpack", ext_to_dlpack, METH_O,
     "to_dlpack($module, array, /)\n--\n\n"
     "A DLPack capsule ('dltensor') over the array's memory, keeping the array alive."},
    {"dlpack_device", ext_dlpack_device, METH_O,
     "dlpack_device($module, array, /)\n--\n\n"
     "(DLPack device type, device id) of the array's memory: (1, 0) host, (2, n) CUDA."},
    {"from_dlpack_capsule", (PyCFunction)(void (*)(void))ext_from_dlpack_capsule,
     METH_FASTCALL,
     "from_dlpack_capsule($module, cls, capsule, /)\n--\n\n"
     "An array of class cls over a DLPack tensor's memory (no copy); consumes the capsule."},
    {"lower_nvvm", FN(ext_lower_nvvm), FASTCALL_KW,
     "lower_nvvm($module, tree, param_types, boundscheck=False, nvvmir=(2, 0))\n--\n\n"
     "The kernel tree typed for param_types and lowered for CUDA GPUs: (NVVM IR text, bitcode)."},
    {"nvvm_compile", FN(ext_nvvm_compile), FASTCALL_KW,
     "nvvm_compile($module, ir, cc=(9, 0), opt=3, fastmath=False, lineinfo=False, "
     "debug=False)\n--\n\n"
     "Compiles NVVM IR (bytes: LLVM 14 bitcode or text; str: text) of typed-pointer IR,\n"
     "linked with libdevice, to PTX for compute capability cc with libNVVM. Raises\n"
     "CudaSupportError when libNVVM or libdevice is not found, ValueError with NVVM's\n"
     "log when NVVM rejects the IR or the options."},
    {"lto_link", ext_lto_link, METH_VARARGS,
     "lto_link($module, cc, ptx, link)\n--\n\n"
     "The cubin nvJitLink links from ptx and link with -lto (no driver needed)."},
    {"link_image", ext_link_image, METH_VARARGS,
     "link_image($module, ordinal, link)\n--\n\n"
     "Links [(kind, bytes or None, name)] with the driver's linker: the image."},
    {"nvrtc_compile", FN(ext_nvrtc_compile), FASTCALL_KW,
     "nvrtc_compile($module, source, name, cc=(9, 0), include_dir=None)\n--\n\n"
     "CUDA C/C++ to PTX with NVRTC: (ptx, log)."},
    {"nvvm_version", ext_nvvm_version, METH_NOARGS,
     "nvvm_version($module)\n--\n\n"
     "libNVVM's version, NVVM IR version and debug-info version, each (major, minor), and\n"
     "the files of libNVVM and libdevice found, as a dict. CudaSupportError without libNVVM."},
    {"_set_device_array_type", ext_set_device_array_type, METH_O,
     "_set_device_array_type($module, cls, /)\n--\n\n"
     "Names the device array class (cuda.DeviceNDArray) the launch fast path accepts."},
    {"_note_current_device", FN(ext_note_current_device), METH_FASTCALL,
     "_note_current_device($module, kind, ordinal, /)\n--\n\n"
     "Tells the launch fast path this thread's current device (kernels launch from C\n"
     "only while it is the cpu device)."},
    {"_fault_fail_at", FN(mod_fault_fail_at), FASTCALL_KW,
     "_fault_fail_at($module, site, n)\n--\n\n"
     "Test hook: fail the n-th call at site (0 alloc, 1 driver)."},
    {"_fault_fired", mod_fault_fired, METH_O,
     "_fault_fired($module, site, /)\n--\n\nTest hook: whether the armed failure was delivered."},
    {"_raise_status", FN(mod_raise_status), FASTCALL_KW,
     "_raise_status($module, status, message, driver_code=0, driver_name=None)\n--\n\n"
     "Test hook: raises the exception for an ember_status."},
    {"_live_objects", mod_live_objects, METH_NOARGS,
     "_live_objects($module)\n--\n\n"
     "Test hook: number of live objects holding ember resources."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------ */
/* Multi-phase init                                                         */
/* ------------------------------------------------------------------------ */

/* Imports `<package>.errors`, where <package> is the package this module
 * was loaded into (ember, normally). */
static PyObject *import_errors(PyObject *module)
{
    PyObject *name = PyModule_GetNameObject(module);
    if (!name)
        return NULL;
    PyObject *errname;
    Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, PyUnicode_GET_LENGTH(name), -1);
    if (dot == -2) {
        Py_DECREF(name);
        return NULL;
    }
    if (dot >= 0) {
        PyObject *pkg = PyUnicode_Substring(name, 0, dot);
        errname = pkg ? PyUnicode_FromFormat("%U.errors", pkg) : NULL;
        Py_XDECREF(pkg);
    } else {
        errname = PyUnicode_FromString("errors");
    }
    Py_DECREF(name);
    if (!errname)
        return NULL;
    PyObject *mod = PyImport_Import(errname);
    Py_DECREF(errname);
    return mod;
}

static int add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **slot)
{
    PyObject *t = PyType_FromModuleAndSpec(module, spec, NULL);
    if (!t)
        return -1;
    *slot = (PyTypeObject *)t;
    return PyModule_AddType(module, (PyTypeObject *)t);
}

static int module_exec(PyObject *module)
{
    ext_state *st = ext_state_of_module(module);
    if (_import_array() < 0)
        return -1;
    if (add_type(module, &ext_array_spec, &st->array_type) < 0 ||
        add_type(module, &ext_stream_spec, &st->stream_type) < 0 ||
        add_type(module, &ext_event_spec, &st->event_type) < 0 ||
        add_type(module, &ext_kernel_spec, &st->kernel_type) < 0 ||
        add_type(module, &ext_dispatcher_spec, &st->dispatcher_type) < 0 ||
        add_type(module, &ext_launcher_spec, &st->launcher_type) < 0)
        return -1;
    if (add_type(module, &ext_module_spec, &st->module_type) < 0 ||
        add_type(module, &ext_module_kernel_spec, &st->module_kernel_type) < 0 ||
        add_type(module, &ext_jit_spec, &st->jit_type) < 0 ||
        add_type(module, &ext_host_memory_spec, &st->host_memory_type) < 0)
        return -1;
    if (!(st->str_call_slow = PyUnicode_InternFromString("_call_slow")))
        return -1;
    st->str_launch = PyUnicode_InternFromString("_launch");
    st->str_configure = PyUnicode_InternFromString("_configure_launch");
    if (!st->str_launch || !st->str_configure)
        return -1;
    PyObject *errors = import_errors(module);
    if (!errors)
        return -1;
    st->cuda_support_error = PyObject_GetAttrString(errors, "CudaSupportError");
    st->cuda_api_error = st->cuda_support_error ? PyObject_GetAttrString(errors, "CudaAPIError")
                                                : NULL;
    st->typing_error = st->cuda_api_error ? PyObject_GetAttrString(errors, "TypingError") : NULL;
    st->unsupported_error = st->typing_error
                                ? PyObject_GetAttrString(errors, "UnsupportedError") : NULL;
    Py_DECREF(errors);
    if (!st->unsupported_error)
        return -1;
    if (PyModule_AddIntConstant(module, "MAX_NDIM", EMBER_MAX_NDIM) < 0 ||
        PyModule_AddFunctions(module, ext_pool_methods) < 0 ||
        PyModule_AddFunctions(module, ext_ufunc_methods) < 0 ||
        PyModule_AddFunctions(module, ext_graph_methods) < 0)
        return -1;
    ext_pool_install_hook();
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ext_state *st = ext_state_of_module(module);
    if (!st)
        return 0;
    Py_VISIT(st->array_type);
    Py_VISIT(st->stream_type);
    Py_VISIT(st->event_type);
    Py_VISIT(st->kernel_type);
    Py_VISIT(st->jit_type);
    Py_VISIT(st->host_memory_type);
    Py_VISIT(st->module_type);
    Py_VISIT(st->module_kernel_type);
    Py_VISIT(st->cuda_support_error);
    Py_VISIT(st->cuda_api_error);
    Py_VISIT(st->typing_error);
    Py_VISIT(st->unsupported_error);
    Py_VISIT(st->dispatcher_type);
    Py_VISIT(st->launcher_type);
    Py_VISIT(st->device_array_type);
    return 0;
}

static int module_clear(PyObject *module)
{
    ext_state *st = ext_state_of_module(module);
    if (!st)
        return 0;
    Py_CLEAR(st->array_type);
    Py_CLEAR(st->stream_type);
    Py_CLEAR(st->event_type);
    Py_CLEAR(st->kernel_type);
    Py_CLEAR(st->module_type);
    Py_CLEAR(st->module_kernel_type);
    Py_CLEAR(st->cuda_support_error);
    Py_CLEAR(st->cuda_api_error);
    Py_CLEAR(st->typing_error);
    Py_CLEAR(st->unsupported_error);
    Py_CLEAR(st->dispatcher_type);
    Py_CLEAR(st->launcher_type);
    Py_CLEAR(st->device_array_type);
    Py_CLEAR(st->str_launch);
    Py_CLEAR(st->str_configure);
    Py_CLEAR(st->jit_type);
    Py_CLEAR(st->host_memory_type);
    Py_CLEAR(st->str_call_slow);
    return 0;
}

static void module_free(void *module)
{
    ext_pool_remove_hook();
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef ext_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ember._ember",
    .m_doc = "ember's runtime: devices, arrays on them, copies, streams and events.",
    .m_size = sizeof(ext_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__ember(void) { return PyModuleDef_Init(&ext_module_def); }
