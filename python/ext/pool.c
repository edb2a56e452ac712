/*
 * pool.c — the memory pools from Python: statistics, trimming, page-locking
 * NumPy arrays (`cuda.pinned`), and the out-of-memory callback that runs a
 * garbage collection.
 *
 * The callback is why this file exists beyond bindings: a device array in
 * an unreachable reference cycle holds its memory until the cyclic garbage
 * collector runs, which may be long after the GPU ran out. libember calls
 * the callback on out-of-memory (after freeing its cache, before its one
 * retry) from whatever thread allocates, which may hold the GIL (a Python
 * call that allocates without releasing it) or not (ext_empty releases it
 * around the allocation). PyGILState_Ensure covers both: it takes the GIL
 * when the thread lacks it and is a no-op when it holds it. libember holds
 * none of its locks while it calls, so the finalizers the collection runs
 * may free buffers.
 */
#include "ext.h"

#include <string.h>

/* The out-of-memory callback: one full collection, with the GIL. It calls
 * gc.collect() rather than PyGC_Collect(), which does nothing while the
 * program has disabled automatic collection (gc.disable()): running out of
 * device memory is worth one collection even then. Not during interpreter
 * start-up or shutdown, where the GIL machinery cannot be relied on. */
static void collect_garbage(void *unused)
{
#if PY_VERSION_HEX >= 0x030D0000
    if (!Py_IsInitialized() || Py_IsFinalizing())
        return;
#else
    if (!Py_IsInitialized() || _Py_IsFinalizing())
        return;
#endif
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb); /* keep a pending exception */
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = gc ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
    if (!r)
        PyErr_WriteUnraisable(NULL); /* a failing finalizer must not leak out of here */
    Py_XDECREF(r);
    Py_XDECREF(gc);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    PyGILState_Release(g);
}

void ext_pool_install_hook(void) { ember_pool_set_oom_callback(collect_garbage, NULL); }

void ext_pool_remove_hook(void) { ember_pool_set_oom_callback(NULL, NULL); }

static int parse_pool_kind(PyObject *obj, ember_mem_kind *out)
{
    const char *s = obj && obj != Py_None ? PyUnicode_AsUTF8(obj) : "device";
    if (!s) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "memkind must be 'device', 'pinned', 'mapped' or 'managed'");
        return -1;
    }
    if (strcmp(s, "device") == 0)
        *out = EMBER_MEM_DEVICE;
    else if (strcmp(s, "pinned") == 0)
        *out = EMBER_MEM_PINNED;
    else if (strcmp(s, "mapped") == 0)
        *out = EMBER_MEM_MAPPED;
    else if (strcmp(s, "managed") == 0)
        *out = EMBER_MEM_MANAGED;
    else if (strcmp(s, "managed_host") == 0)
        *out = EMBER_MEM_MANAGED_HOST;
    else {
        PyErr_Format(PyExc_ValueError,
                     "memkind must be 'device', 'pinned', 'mapped' or 'managed', not '%s'", s);
        return -1;
    }
    return 0;
}

static int set_u64(PyObject *d, const char *key, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong((unsigned long long)v);
    if (!o)
        return -1;
    int r = PyDict_SetItemString(d, key, o);
    Py_DECREF(o);
    return r;
}

/* pool_stats(kind, ordinal, memkind='device') -> dict */
static PyObject *mod_pool_stats(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "memkind", NULL};
    PyObject *a[3];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    ember_mem_kind kind;
    if (ext_parse("pool_stats", args, nargs, kwnames, names, 2, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0 || parse_pool_kind(a[2], &kind) < 0)
        return NULL;
    ember_pool_stats s;
    ember_status status = ember_pool_get_stats(dev, kind, &s);
    if (status != EMBER_SUCCESS)
        return ext_raise(st, status, "pool_stats");
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (set_u64(d, "bytes_in_use", s.bytes_in_use) < 0 ||
        set_u64(d, "bytes_cached", s.bytes_cached) < 0 ||
        set_u64(d, "blocks_in_use", s.blocks_in_use) < 0 ||
        set_u64(d, "blocks_cached", s.blocks_cached) < 0 ||
        set_u64(d, "driver_allocs", s.driver_allocs) < 0 ||
        set_u64(d, "driver_frees", s.driver_frees) < 0 || set_u64(d, "hits", s.hits) < 0 ||
        set_u64(d, "misses", s.misses) < 0 ||
        set_u64(d, "oom_recoveries", s.oom_recoveries) < 0 ||
        set_u64(d, "oom_failures", s.oom_failures) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* pool_trim(kind, ordinal): frees every cached block of the device. */
static PyObject *mod_pool_trim(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", NULL};
    PyObject *a[2];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    if (ext_parse("pool_trim", args, nargs, kwnames, names, 2, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0)
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_pool_trim(dev);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "pool_trim");
    Py_RETURN_NONE;
}

static int parse_pointer(PyObject *obj, void **out)
{
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "pointer must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *p = PyNumber_Index(obj);
    if (!p)
        return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(p);
    Py_DECREF(p);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "pointer must be an address in 0 .. 2**64-1");
        return -1;
    }
    *out = (void *)(uintptr_t)v;
    return 0;
}

/* host_register(kind, ordinal, pointer, nbytes, mapped=False): page-locks
 * host memory the caller keeps alive until host_unregister; with mapped,
 * also maps it for the device and returns its device address (else None). */
static PyObject *mod_host_register(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "pointer", "nbytes", "mapped", NULL};
    PyObject *a[5];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    void *ptr;
    int64_t n;
    if (ext_parse("host_register", args, nargs, kwnames, names, 4, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0 || parse_pointer(a[2], &ptr) < 0 ||
        ext_int64(a[3], "nbytes", &n) < 0)
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "nbytes must be >= 0");
        return NULL;
    }
    int mapped = a[4] ? PyObject_IsTrue(a[4]) : 0;
    if (mapped < 0)
        return NULL;
    ember_status s;
    uint64_t device = 0;
    Py_BEGIN_ALLOW_THREADS
    s = mapped ? ember_host_register_mapped(dev, ptr, (size_t)n, &device)
               : ember_host_register(dev, ptr, (size_t)n);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, mapped ? "mapped" : "pinned");
    if (mapped)
        return PyLong_FromUnsignedLongLong((unsigned long long)device);
    Py_RETURN_NONE;
}

/* ipc_get_handle(kind, ordinal, pointer) -> (handle bytes, base, size) of the
 * allocation holding the device address. */
static PyObject *mod_ipc_get_handle(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "pointer", NULL};
    PyObject *a[3];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    void *ptr;
    if (ext_parse("ipc_get_handle", args, nargs, kwnames, names, 3, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0 || parse_pointer(a[2], &ptr) < 0)
        return NULL;
    unsigned char handle[64];
    uint64_t base = 0;
    size_t size = 0;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_ipc_get_handle(dev, (uint64_t)(uintptr_t)ptr, handle, &base, &size);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "get_ipc_handle");
    return Py_BuildValue("(y#KK)", (const char *)handle, (Py_ssize_t)64,
                         (unsigned long long)base, (unsigned long long)size);
}

/* ipc_open(kind, ordinal, handle) -> the device address of the opened memory. */
static PyObject *mod_ipc_open(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "handle", NULL};
    PyObject *a[3];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    if (ext_parse("ipc_open", args, nargs, kwnames, names, 3, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0)
        return NULL;
    if (!PyBytes_Check(a[2]) || PyBytes_GET_SIZE(a[2]) != 64) {
        PyErr_Format(PyExc_ValueError, "an IPC handle is 64 bytes, not %.100s",
                     PyBytes_Check(a[2]) ? "a bytes object of another length"
                                         : Py_TYPE(a[2])->tp_name);
        return NULL;
    }
    unsigned char handle[64];
    memcpy(handle, PyBytes_AS_STRING(a[2]), 64);
    uint64_t ptr = 0;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_ipc_open(dev, handle, &ptr);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "open_ipc_array");
    return PyLong_FromUnsignedLongLong((unsigned long long)ptr);
}

/* ipc_close(kind, ordinal, pointer): undoes ipc_open. */
static PyObject *mod_ipc_close(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "pointer", NULL};
    PyObject *a[3];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    void *ptr;
    if (ext_parse("ipc_close", args, nargs, kwnames, names, 3, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0 || parse_pointer(a[2], &ptr) < 0)
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_ipc_close(dev, (uint64_t)(uintptr_t)ptr);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "IpcHandle.close");
    Py_RETURN_NONE;
}

/* host_unregister(kind, ordinal, pointer) */
static PyObject *mod_host_unregister(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames)
{
    static const char *const names[] = {"kind", "ordinal", "pointer", NULL};
    PyObject *a[3];
    ext_state *st = ext_state_of_module(m);
    ember_device_t dev;
    void *ptr;
    if (ext_parse("host_unregister", args, nargs, kwnames, names, 3, a) < 0 ||
        ext_device(st, a[0], a[1], &dev) < 0 || parse_pointer(a[2], &ptr) < 0)
        return NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = ember_host_unregister(dev, ptr);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "pinned");
    Py_RETURN_NONE;
}

#define FASTCALL_KW METH_FASTCALL | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef ext_pool_methods[] = {
    {"pool_stats", FN(mod_pool_stats), FASTCALL_KW,
     "pool_stats($module, kind, ordinal, memkind='device')\n--\n\n"
     "Statistics of the device's memory pool for 'device', 'pinned' or 'mapped' memory."},
    {"pool_trim", FN(mod_pool_trim), FASTCALL_KW,
     "pool_trim($module, kind, ordinal)\n--\n\n"
     "Gives every cached block of the device back to the driver."},
    {"host_register", FN(mod_host_register), FASTCALL_KW,
     "host_register($module, kind, ordinal, pointer, nbytes, mapped=False)\n--\n\n"
     "Page-locks nbytes of host memory at pointer for the device (no-op on the cpu); "
     "with mapped, also maps it and returns its device address."},
    {"ipc_get_handle", FN(mod_ipc_get_handle), FASTCALL_KW,
     "ipc_get_handle($module, kind, ordinal, pointer)\n--\n\n"
     "(64-byte IPC handle, base, size) of the allocation holding a device address."},
    {"ipc_open", FN(mod_ipc_open), FASTCALL_KW,
     "ipc_open($module, kind, ordinal, handle)\n--\n\n"
     "Opens another process's IPC handle; returns the memory's device address here."},
    {"ipc_close", FN(mod_ipc_close), FASTCALL_KW,
     "ipc_close($module, kind, ordinal, pointer)\n--\n\n"
     "Closes memory opened with ipc_open."},
    {"host_unregister", FN(mod_host_unregister), FASTCALL_KW,
     "host_unregister($module, kind, ordinal, pointer)\n--\n\n"
     "Undoes host_register."},
    {NULL, NULL, 0, NULL},
};
