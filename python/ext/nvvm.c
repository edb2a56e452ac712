/*
 * nvvm.c — `_ember.nvvm_compile` and `_ember.nvvm_version`: the low-level
 * bindings of devices/cuda/nvvm.h, libNVVM's NVVM IR → PTX compilation.
 *
 * They let the tests (and a curious user) compile hand-written NVVM IR and
 * see which libNVVM ember found, without a GPU. The compilation runs with
 * the GIL released, over a buffer view of the IR held for its duration.
 * Statuses become exceptions through ext_raise: libNVVM or libdevice not
 * found → CudaSupportError (the message lists every place tried), IR or
 * options NVVM rejects → ValueError carrying NVVM's log.
 */
#include "ext.h"

#include <string.h>

#include "devices/cuda/nvrtc.h"
#include "devices/cuda/nvvm.h"

/* `obj` as a bool for argument `what`; -1 with an exception set. */
static int flag(PyObject *obj, bool *out)
{
    if (!obj) /* absent: keep the default */
        return 0;
    int v = PyObject_IsTrue(obj);
    if (v < 0)
        return -1;
    *out = v;
    return 0;
}

/* cc: a tuple or list (major, minor) of ints. */
static int compute_capability(PyObject *obj, NvvmOptions *opt)
{
    if (!obj)
        return 0;
    if ((!PyTuple_Check(obj) && !PyList_Check(obj)) || PySequence_Fast_GET_SIZE(obj) != 2) {
        PyErr_Format(PyExc_TypeError, "cc must be a (major, minor) tuple of ints, not %R", obj);
        return -1;
    }
    int64_t v[2];
    for (int i = 0; i < 2; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(obj, i);
        Py_INCREF(e);
        int r = ext_int64(e, i ? "cc[1]" : "cc[0]", &v[i]);
        Py_DECREF(e);
        if (r < 0)
            return -1;
        if (v[i] < 0 || v[i] > 99) {
            PyErr_Format(PyExc_ValueError, "cc %R is not a compute capability", obj);
            return -1;
        }
    }
    opt->cc_major = (int)v[0];
    opt->cc_minor = (int)v[1];
    return 0;
}

PyObject *ext_nvvm_compile(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = {"ir", "cc", "opt", "fastmath", "lineinfo", "debug",
                                        NULL};
    PyObject *a[6];
    if (ext_parse("nvvm_compile", args, nargs, kwnames, names, 1, a) < 0)
        return NULL;
    NvvmOptions opt = {.cc_major = 9, .cc_minor = 0, .opt_level = 3};
    if (compute_capability(a[1], &opt) < 0 || flag(a[3], &opt.fastmath) < 0 ||
        flag(a[4], &opt.lineinfo) < 0 || flag(a[5], &opt.debug) < 0)
        return NULL;
    if (a[2]) {
        int64_t level;
        if (ext_int64(a[2], "opt", &level) < 0)
            return NULL;
        if (level != 0 && level != 3) {
            PyErr_Format(PyExc_ValueError, "opt must be 0 or 3, not %lld", (long long)level);
            return NULL;
        }
        opt.opt_level = (int)level;
    }

    /* The IR: a str (textual IR, sent as UTF-8) or any bytes-like object. */
    Py_buffer view;
    PyObject *encoded = NULL;
    PyObject *src = a[0];
    if (PyUnicode_Check(src)) {
        encoded = PyUnicode_AsUTF8String(src);
        if (!encoded)
            return NULL;
        src = encoded;
    }
    if (PyObject_GetBuffer(src, &view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(encoded);
        PyErr_Format(PyExc_TypeError, "ir must be bytes (bitcode or text) or str, not %.100s",
                     Py_TYPE(a[0])->tp_name);
        return NULL;
    }

    char *ptx = NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = nvvm_compile(view.buf, (size_t)view.len, &opt, &ptx);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    Py_XDECREF(encoded);
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(module), s, NULL);
    PyObject *result = PyUnicode_DecodeUTF8(ptx, (Py_ssize_t)strlen(ptx), "replace");
    em_free(ptx);
    return result;
}

/* A str for a path, or None for NULL. */
static PyObject *path_or_none(const char *path)
{
    if (!path)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(path);
}

PyObject *ext_nvvm_version(PyObject *module, PyObject *unused)
{
    int v[6];
    ember_status s;
    Py_BEGIN_ALLOW_THREADS /* the first call looks for libNVVM and reads libdevice */
    s = nvvm_version(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(module), s, NULL);
    PyObject *lib = path_or_none(nvvm_library_path());
    PyObject *libdevice = lib ? path_or_none(nvvm_libdevice_path()) : NULL;
    if (!libdevice) {
        Py_XDECREF(lib);
        return NULL;
    }
    return Py_BuildValue("{s(ii)s(ii)s(ii)sNsN}", "version", v[0], v[1], "ir_version", v[2],
                         v[3], "debug_version", v[4], v[5], "library", lib, "libdevice",
                         libdevice);
}

PyObject *ext_nvrtc_compile(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"source", "name", "cc", "include_dir", NULL};
    PyObject *a[4];
    if (ext_parse("nvrtc_compile", args, nargs, kwnames, names, 2, a) < 0)
        return NULL;
    NvvmOptions cc = {.cc_major = 9, .cc_minor = 0};
    if (compute_capability(a[2], &cc) < 0)
        return NULL;
    if (!PyUnicode_Check(a[0]) || !PyUnicode_Check(a[1]) ||
        (a[3] && a[3] != Py_None && !PyUnicode_Check(a[3]))) {
        PyErr_SetString(PyExc_TypeError, "nvrtc_compile: source, name (and include_dir) "
                        "must be str");
        return NULL;
    }
    Py_ssize_t len = 0;
    const char *src = PyUnicode_AsUTF8AndSize(a[0], &len), *name = PyUnicode_AsUTF8(a[1]);
    const char *inc = a[3] && a[3] != Py_None ? PyUnicode_AsUTF8(a[3]) : NULL;
    if (!src || !name || (a[3] && a[3] != Py_None && !inc))
        return NULL;
    if (strlen(src) != (size_t)len) {
        PyErr_SetString(PyExc_ValueError, "nvrtc_compile: the source contains a NUL");
        return NULL;
    }
    char *ptx = NULL, *log = NULL;
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = nvrtc_compile(src, name, cc.cc_major, cc.cc_minor, inc, &ptx, &log);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        return ext_raise(ext_state_of_module(module), s, NULL);
    PyObject *r = Py_BuildValue("(ss)", ptx, log ? log : "");
    em_free(ptx);
    em_free(log);
    return r;
}
