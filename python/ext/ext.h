/*
 * ext.h — internal header of the CPython extension `ember._ember`.
 *
 * The extension is the only code that includes Python.h and the NumPy C
 * API. It wraps the public C API (include/ember/ember.h) and holds no
 * runtime logic of its own: every check that protects memory (views inside
 * their buffer, matching shapes and devices) is made by libember; the
 * extension validates Python arguments and turns statuses into exceptions.
 *
 * NumPy: every file includes this header. It defines PY_ARRAY_UNIQUE_SYMBOL
 * and, unless the file defines EXT_IMPORT_ARRAY first (module.c only, which
 * calls import_array in its exec slot), NO_IMPORT_ARRAY. Only long-stable
 * NumPy C API is used so that one source builds against NumPy 1.24 ... 2.x
 * (see the compatibility block below the includes).
 *
 * Sections follow the files that define them.
 */
#ifndef EMBER_EXT_H
#define EMBER_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The build sets it too; here for builds that do not (cc by hand). */
#ifndef NPY_NO_DEPRECATED_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#endif
#define PY_ARRAY_UNIQUE_SYMBOL ember_ARRAY_API
#ifndef EXT_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

/* NumPy 1.x / 2.x. Built against NumPy 2 headers (for a NumPy 1.x-or-2.x
 * runtime) PyArray_Descr shows only typeobj, kind, type, byteorder and
 * type_num; the rest (elsize, alignment, flags, names, fields, subarray) is
 * read through accessors that NumPy 2 added. Only those fields may be read
 * directly (tests/python/test_numpy2_compat.py checks); for the others, the
 * accessors are defined here when the headers are NumPy 1.x ones. */
#if NPY_ABI_VERSION < 0x02000000
#define PyDataType_ELSIZE(d) ((npy_intp)(d)->elsize)
#define PyDataType_ALIGNMENT(d) ((npy_intp)(d)->alignment)
#define PyDataType_FLAGS(d) ((npy_uint64)(d)->flags)
#define PyDataType_NAMES(d) ((d)->names)
#define PyDataType_FIELDS(d) ((d)->fields)
#define PyDataType_SUBARRAY(d) ((d)->subarray)
#endif

#include "ember/ember.h"
#include "ember/ember_test.h"

#define EXT_HIDDEN __attribute__((visibility("hidden")))

/* Per-module state: the heap types and the exception classes of
 * ember.errors the status mapping raises. */
typedef struct {
    PyTypeObject *array_type;  /* ember._ember.Array */
    PyTypeObject *stream_type; /* ember._ember.Stream */
    PyTypeObject *event_type;  /* ember._ember.Event */
    PyTypeObject *kernel_type; /* ember._ember.Kernel (compile.c) */
    PyObject *cuda_support_error; /* ember.errors.CudaSupportError */
    PyObject *cuda_api_error;     /* ember.errors.CudaAPIError */
    PyObject *typing_error;       /* ember.errors.TypingError (compile errors) */
    PyObject *unsupported_error;  /* ember.errors.UnsupportedError */
    PyTypeObject *dispatcher_type; /* ember._ember.DispatcherBase (launch.c) */
    PyTypeObject *launcher_type;   /* ember._ember.Launcher (launch.c) */
    PyObject *device_array_type;   /* cuda.DeviceNDArray once registered, else NULL */
    PyObject *str_launch;          /* interned "_launch" */
    PyObject *str_configure;       /* interned "_configure_launch" */
    PyTypeObject *module_type;        /* ember._ember.Module (module_cuda.c) */
    PyTypeObject *module_kernel_type; /* ember._ember.ModuleKernel (module_cuda.c) */
    PyTypeObject *jit_type;           /* ember._ember.JitBase (jitcall.c) */
    PyTypeObject *host_memory_type;   /* ember._ember.HostMemory (array_buffer.c) */
    PyObject *str_call_slow;          /* interned "_call_slow" */
} ext_state;

/* An array on a device: a descriptor over a buffer it holds a reference
 * to. Immutable after creation, so a launch path may read `arr` directly
 * (with the GIL held, or while it holds a reference to the object). */
typedef struct {
    PyObject_HEAD
    ember_array arr;         /* owns one buffer reference; zeroed until set up */
    PyArray_Descr *dtype;    /* owned; native byte order, matches arr.dtype */
    PyObject *weakreflist;   /* NULL or the weak references to this object */
} ext_array;

/* A stream handle. `stream` NULL is the device's default stream. */
typedef struct {
    PyObject_HEAD
    ember_device_t device;  /* borrowed from the registry */
    ember_stream_t stream;  /* owned; NULL for the default stream */
    PyObject *weakreflist;
} ext_stream;

typedef struct {
    PyObject_HEAD
    ember_device_t device;  /* borrowed from the registry */
    ember_event_t event;    /* owned */
    bool timing;            /* created with timing enabled */
    PyObject *weakreflist;
} ext_event;

/* ---- module.c ---------------------------------------------------------- */

EXT_HIDDEN extern PyModuleDef ext_module_def;

/* The module state for an object of one of the extension's types (or of a
 * Python subclass of one). Never NULL for such objects. */
EXT_HIDDEN ext_state *ext_state_of_type(PyTypeObject *tp);
EXT_HIDDEN ext_state *ext_state_of_module(PyObject *module);

/* Objects that hold ember devices or buffers (arrays, streams, events,
 * host arrays) alive; ember_shutdown is refused while this is non-zero,
 * since it would leave them dangling. Changed with the GIL held. */
EXT_HIDDEN extern Py_ssize_t ext_live_objects;

/* Sets the Python exception for a failed ember call and returns NULL.
 * The message is ember_last_error() (the status's name when empty),
 * prefixed with `context` and ": " when `context` is non-NULL. */
EXT_HIDDEN PyObject *ext_raise(ext_state *st, ember_status status, const char *context);

/* The same with an explicit message and driver error (used by the test
 * hook _raise_status). */
EXT_HIDDEN PyObject *ext_raise_msg(ext_state *st, ember_status status, const char *message,
                                   int driver_code, const char *driver_name);

/* Keyword-aware parsing for METH_FASTCALL | METH_KEYWORDS: `names` is a
 * NULL-terminated list of parameter names, the first `required` of them
 * mandatory. Fills `out` with borrowed references (NULL for an absent
 * optional parameter). Returns 0, or -1 with TypeError set. */
EXT_HIDDEN int ext_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames, const char *const *names, int required,
                         PyObject **out);

/* Device named by `kind` ('cpu' | 'cuda') and `ordinal` (int). */
EXT_HIDDEN int ext_device_kind(PyObject *kind, ember_device_kind *out);
EXT_HIDDEN int ext_device(ext_state *st, PyObject *kind, PyObject *ordinal, ember_device_t *out);
/* (kind, ordinal) of a device, as a new tuple. */
EXT_HIDDEN PyObject *ext_device_tuple(ember_device_t dev);

/* A Python int as int64 for argument `what`; -1 with an exception set. */
EXT_HIDDEN int ext_int64(PyObject *obj, const char *what, int64_t *out);

/* A shape (tuple or list of ints >= 0, or one int) of at most
 * EMBER_MAX_NDIM dimensions. */
EXT_HIDDEN int ext_shape(PyObject *obj, const char *what, int *ndim, int64_t *shape);
/* Strides: a tuple or list of `ndim` ints (byte strides); non-negative
 * ones only when `nonneg`. */
EXT_HIDDEN int ext_strides(PyObject *obj, const char *what, int ndim, bool nonneg,
                           int64_t *strides);

/* ---- dtype.c ----------------------------------------------------------- */

/* Converts anything numpy.dtype() accepts (None is refused) into a native
 * byte order descriptor (new reference) and its ember dtype; a structured
 * dtype is EMBER_RECORD, its descriptor kept as given. TypeError for a dtype
 * ember arrays cannot hold. */
EXT_HIDDEN int ext_dtype(PyObject *obj, const char *what, PyArray_Descr **descr, ember_dtype *out);
/* The ember dtype of a NumPy descriptor of a number (what kernels take as
 * scalars and typed arrays); -1 with TypeError set. Records are refused. */
EXT_HIDDEN int ext_dtype_of_descr(PyArray_Descr *descr, ember_dtype *out);
/* ext_dtype_of_descr, records (EMBER_RECORD) accepted: what copies move. */
EXT_HIDDEN int ext_array_dtype_of_descr(PyArray_Descr *descr, ember_dtype *out);
/* 1 when `descr` is a number ext_dtype_of_descr accepts, else 0 (no exception). */
EXT_HIDDEN int ext_dtype_ok(PyArray_Descr *descr);
/* ember_array_init / ember_array_create, or their _record forms with the
 * itemsize of `descr` when `dt` is EMBER_RECORD. */
EXT_HIDDEN ember_status ext_array_init(ember_array *a, ember_buffer_t buffer, PyArray_Descr *descr,
                                       ember_dtype dt, int ndim, const int64_t *shape,
                                       const int64_t *strides, int64_t offset);
EXT_HIDDEN ember_status ext_array_create(ember_array *a, ember_device_t dev, ember_mem_kind kind,
                                         PyArray_Descr *descr, ember_dtype dt, int ndim,
                                         const int64_t *shape, char order);

/* ---- array.c ----------------------------------------------------------- */

EXT_HIDDEN extern PyType_Spec ext_array_spec;

/* True when `obj` is an Array (or an instance of a subclass). */
static inline int ext_array_check(ext_state *st, PyObject *obj)
{
    return PyObject_TypeCheck(obj, st->array_type);
}

/* Checks that `cls` is Array or a subclass of it (`what` names the
 * argument) and returns an empty instance of it (arr zeroed), or NULL. */
EXT_HIDDEN ext_array *ext_array_alloc(ext_state *st, PyObject *cls, const char *what);

/* Module functions implemented next to the Array type. */
EXT_HIDDEN PyObject *ext_empty(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames);
EXT_HIDDEN PyObject *ext_from_device_pointer(PyObject *module, PyObject *const *args,
                                             Py_ssize_t nargs, PyObject *kwnames);
EXT_HIDDEN PyObject *ext_host_array(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames);

/* ---- stream.c ---------------------------------------------------------- */

EXT_HIDDEN extern PyType_Spec ext_stream_spec;
EXT_HIDDEN extern PyType_Spec ext_event_spec;

/* `obj` NULL or None (*out NULL: the default stream of whichever device
 * runs the work; *dev NULL) or a Stream (its handle, NULL for a default
 * stream object, and its device in *dev), for argument `what`; -1 with
 * TypeError set otherwise. */
EXT_HIDDEN int ext_stream_arg(ext_state *st, PyObject *obj, const char *what,
                              ember_stream_t *out, ember_device_t *dev);

/* ---- compile.c --------------------------------------------------------- */

EXT_HIDDEN extern PyType_Spec ext_kernel_spec;

/* compile_kernel(tree, param_types, opt_level=3) -> Kernel: builds core/ir.h
 * IR from the front end's tuple tree, types it for `param_types` and
 * compiles it for the host. A malformed tree is a ValueError; an error at
 * a source location is ember.errors.TypingError with line, col, msg. */
EXT_HIDDEN PyObject *ext_host_target(PyObject *module, PyObject *unused);
EXT_HIDDEN PyObject *ext_devices_open(PyObject *module, PyObject *unused);
EXT_HIDDEN PyObject *ext_intrinsics(PyObject *module, PyObject *unused);
EXT_HIDDEN PyObject *ext_compile_kernel(PyObject *module, PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames);
/* dlpack.c: DLPack capsules of ember arrays, and arrays over DLPack tensors. */
EXT_HIDDEN PyObject *ext_to_dlpack(PyObject *module, PyObject *array);
/* array_buffer.c: the Array type's bf_getbuffer (host-accessible memory only) */
EXT_HIDDEN int ext_array_getbuffer(PyObject *obj, Py_buffer *view, int flags);
/* array_buffer.c: HostMemory, the base of cuda/_emm.py's host-memory objects */
EXT_HIDDEN extern PyType_Spec ext_host_memory_spec;
EXT_HIDDEN PyObject *ext_dlpack_device(PyObject *module, PyObject *array);
EXT_HIDDEN PyObject *ext_from_dlpack_capsule(PyObject *module, PyObject *const *args,
                                             Py_ssize_t nargs);

/* lower_nvvm(tree, param_types, boundscheck=False, nvvmir=(2, 0)): the
 * same tree lowered for the CUDA target, as (NVVM IR text, bitcode). */
EXT_HIDDEN PyObject *ext_lower_nvvm(PyObject *module, PyObject *const *args,
                                    Py_ssize_t nargs, PyObject *kwnames);

/* Launch dimensions from `obj`, a tuple or list of 3 ints in 1 .. 2**31-1,
 * for argument `what`; -1 with an exception set otherwise. */
EXT_HIDDEN int ext_dims3(PyObject *obj, const char *what, int64_t out[3]);

/* Packs args[0..nargs) for a Kernel and runs it on the cpu device with the
 * GIL released, with `shared` bytes of dynamic shared memory per block. 0,
 * or -1 with the exception set (the same ones as Kernel.launch). */
/* Whether no host NumPy array among args that `kernel` writes overlaps
 * another array argument (its memory is then used in place). */
EXT_HIDDEN bool ext_kernel_args_disjoint(PyObject *kernel, PyObject *const *args,
                                         Py_ssize_t nargs);
/* ext_kernel_run on cpu stream `stream` (NULL: default): while a graph
 * capture is open on it, the launch is recorded instead of run. */
EXT_HIDDEN int ext_kernel_run_on(PyObject *kernel, const int64_t grid[3], const int64_t block[3],
                                 size_t shared, PyObject *const *args, Py_ssize_t nargs,
                                 ember_stream_t stream);
EXT_HIDDEN int ext_kernel_run(PyObject *kernel, const int64_t grid[3], const int64_t block[3],
                              size_t shared, PyObject *const *args, Py_ssize_t nargs);
/* Packs args[0..nargs) for a Kernel compiled for CUDA and launches it as
 * `function` (its ModuleKernel on `dev`) on the default stream with
 * `shared` bytes of dynamic shared memory. 0, or -1 with the exception set. */
EXT_HIDDEN int ext_kernel_run_cuda(PyObject *kernel, PyObject *function, ember_device_t dev,
                                   const int64_t grid[3], const int64_t block[3], size_t shared,
                                   PyObject *const *args, Py_ssize_t nargs);
/* module_cuda.c: launches a ModuleKernel with a packed buffer (GIL released). */
EXT_HIDDEN int ext_module_kernel_launch(PyObject *function, const int64_t grid[3],
                                        const int64_t block[3], size_t shared, const void *args,
                                        size_t args_size);
/* The number of parameters of a Kernel. */
EXT_HIDDEN int ext_kernel_nparams(PyObject *kernel);
/* The compiled code of a Kernel that is an ember.jit function on the host,
 * borrowed from it, and its packed argument size; NULL for a kernel or a
 * CUDA compile (ufunc.c calls it from NumPy's inner loops). */
struct HostKernel;
EXT_HIDDEN const struct HostKernel *ext_kernel_host_function(PyObject *kernel,
                                                             size_t *args_size);
/* The name of a Kernel's function (its Python qualified name). */
EXT_HIDDEN const char *ext_kernel_name(PyObject *kernel);
/* Raises the exception of an ember.jit call that ended with a fault
 * (dims->fault set) in the function `name` compiled as hk. Needs the GIL. */
struct HostDims;
EXT_HIDDEN void ext_raise_call_fault(const char *name, const struct HostKernel *hk,
                                     const struct HostDims *dims);
/* Kernel.call: runs an ember.jit function (a Kernel compiled from a
 * non-kernel tree) on this thread with the GIL released; its return value
 * as a new reference, or NULL with the exception set. */
EXT_HIDDEN PyObject *ext_kernel_call(PyObject *kernel, PyObject *const *args, Py_ssize_t nargs);

/* ---- jitcall.c --------------------------------------------------------- */

EXT_HIDDEN extern PyType_Spec ext_jit_spec;

/* ---- ufunc.c ----------------------------------------------------------- */

/* Module functions: ufunc_loop (a NumPy inner loop over a compiled ember.jit
 * loop function) and make_ufunc (a numpy.ufunc of such loops). */
EXT_HIDDEN extern PyMethodDef ext_ufunc_methods[];

/* ---- launch.c ---------------------------------------------------------- */

EXT_HIDDEN extern PyType_Spec ext_dispatcher_spec;
EXT_HIDDEN extern PyType_Spec ext_launcher_spec;

/* Module functions of the launch fast path. */
EXT_HIDDEN PyObject *ext_set_device_array_type(PyObject *module, PyObject *cls);
EXT_HIDDEN PyObject *ext_note_current_device(PyObject *module, PyObject *const *args,
                                             Py_ssize_t nargs);

/* ---- nvvm.c ------------------------------------------------------------- */

/* nvvm_compile(ir, cc=(9, 0), opt=3, fastmath=False, lineinfo=False,
 * debug=False) -> str: NVVM IR (bytes: bitcode or text; str: text) to PTX
 * with libNVVM and libdevice. CudaSupportError when either is not found,
 * ValueError with NVVM's log when it rejects the IR or the options. */
EXT_HIDDEN PyObject *ext_nvvm_compile(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames);
/* nvvm_version() -> dict: version, ir_version, debug_version ((major,
 * minor) each), library and libdevice (the files found). */
EXT_HIDDEN PyObject *ext_nvvm_version(PyObject *module, PyObject *unused);
/* link_image(ordinal, [(kind, bytes or None, name)]) -> bytes: the driver's
 * linker (ember_link_image) on a CUDA device (module_cuda.c). */
EXT_HIDDEN PyObject *ext_link_image(PyObject *module, PyObject *args);
EXT_HIDDEN PyObject *ext_lto_link(PyObject *module, PyObject *args);
/* nvrtc_compile(source, name, cc=(9, 0), include_dir=None) -> (ptx, log):
 * CUDA C/C++ to PTX with NVRTC (devices/cuda/nvrtc.h). */
EXT_HIDDEN PyObject *ext_nvrtc_compile(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                       PyObject *kwnames);

/* ---- pool.c ------------------------------------------------------------ */

/* Module functions over the memory pools (pool_stats, pool_trim,
 * host_register, host_unregister); module_exec adds them. */
EXT_HIDDEN extern PyMethodDef ext_pool_methods[];
/* graph.c: stream capture and graphs */
EXT_HIDDEN extern PyMethodDef ext_graph_methods[];
/* Registers / removes the out-of-memory callback that collects garbage. */
EXT_HIDDEN void ext_pool_install_hook(void);
EXT_HIDDEN void ext_pool_remove_hook(void);

/* ---- module_cuda.c ----------------------------------------------------- */

/* Module(device_kind, ordinal, ptx): PTX loaded on a device, and the
 * ModuleKernel objects its get_kernel returns (launch, max_block_size). */
EXT_HIDDEN extern PyType_Spec ext_module_spec;
EXT_HIDDEN extern PyType_Spec ext_module_kernel_spec;

#endif /* EMBER_EXT_H */
