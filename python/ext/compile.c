/*
 * compile.c — `_ember.compile_kernel` and the Kernel type.
 *
 * The Python front end (python/ember/_compiler/frontend.py) hands over a
 * function as a tree of tuples, `(kind, line, col, ...)`; this file turns
 * it into core/ir.h IR with the IR constructors, validating every tuple on
 * the way (a malformed tree is a ValueError naming the node, never a crash),
 * sets the parameter types of the specialisation from their descriptors,
 * and runs type inference and a compiler: the host's (ORC JIT) or, with
 * target='cuda', NVVM IR → PTX (devices/cuda/cuda_compile.c). Errors that
 * carry a source location (fn->err) become ember.errors.TypingError (or
 * UnsupportedError) with `line`, `col` and `msg` attributes; the dispatcher
 * formats the final message. `lower_nvvm` gives the NVVM IR alone.
 *
 * A Kernel owns the typed Function and the compiled code (HostKernel, or
 * CudaCode with the PTX). launch() packs the arguments per the ABI of
 * core/ir.h ("Argument ABI") into one buffer and runs the grid on the cpu
 * device with the GIL released; pack() gives that buffer for a CUDA
 * launch, which python/ext/module_cuda.c and launch.c perform. A Kernel
 * compiled from a tree that is not a kernel (ember.jit) is a function
 * instead: call() runs it once on the calling thread and turns its packed
 * return value back into Python objects.
 *
 * Type descriptors: 'float32' ... (scalars, 'bool'), ('array', dtype, ndim,
 * layout, readonly), ('tuple', [descriptors]).
 *
 * The disk cache (python/ember/_compiler/cache.py): Kernel.cache_data()
 * gives the compiled code as bytes (the host object file or the PTX, the
 * entry symbol, the LLVM/NVVM IR text, the bounds-check sites), and
 * compile_kernel(..., cached=those bytes) rebuilds and types the IR from
 * the tree as usual (the Kernel needs it to pack arguments) but links the
 * cached code instead of running LLVM or libNVVM. Bytes that do not parse
 * or do not match the requested target are a ValueError.
 */
#include "ext.h"

#include <string.h>

#include "core/ir.h"
#include "devices/cpu/host_jit.h"
#include "devices/device_impl.h"
#include "devices/cuda/cuda_compile.h"
#include "devices/cuda/nvvm.h"

/* How deep the tree may nest. The compiler's passes (build here, infer,
 * lowering) recurse once per level on the calling thread's stack, which
 * bounds the depth: STACK_PER_LEVEL bytes per level (measured: about 1.7 KB
 * for a long `a + a + ... + a`, infer's frames), a quarter of the stack
 * (at most STACK_RESERVE) kept for LLVM and the leaves. On an 8 MiB stack
 * that is about 1900 levels (a 1900-term sum; each nested `if` or `elif`
 * takes two; an ordinary function nests 10 to 30 deep). Deeper code is a
 * TypingError at its deepest node, never a stack overflow. */
#define MAX_DEPTH 100000
#define STACK_PER_LEVEL 4096
#define STACK_RESERVE (512 * 1024)

typedef struct {
    PyObject_HEAD
    Function *fn;        /* owned: the typed IR */
    HostKernel *hk;      /* owned: the compiled code */
    size_t args_size;    /* bytes of the packed arguments */
    PyObject *llvm_ir;   /* str, made on first use */
    PyObject *written;   /* tuple of bools */
    CudaCode *cuda;      /* owned: target "cuda" (hk is NULL): NVVM IR and PTX */
    int cc[2];           /* target "cuda": the compute capability compiled for */
    bool brief;          /* an ember.jit function without loops (runs_briefly): its
                          * call keeps the GIL, which costs more to release */
    int64_t static_shared; /* cpu kernels: static shared bytes + 1, 0 until computed */
} ext_kernel;

/* ------------------------------------------------------------------------ */
/* Name tables                                                              */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    TypeKind kind;
} scalar_names[] = {
    {"bool", TY_BOOL},       {"int8", TY_I8},        {"int16", TY_I16},
    {"int32", TY_I32},       {"int64", TY_I64},      {"uint8", TY_U8},
    {"uint16", TY_U16},      {"uint32", TY_U32},     {"uint64", TY_U64},
    {"float16", TY_F16},     {"float32", TY_F32},    {"float64", TY_F64},
    {"bfloat16", TY_BF16},   {"complex64", TY_C64},
    {"complex128", TY_C128}, {"weak_int", TY_WEAK_INT}, {"weak_float", TY_WEAK_FLOAT},
    {"weak_complex", TY_WEAK_COMPLEX},
};

static const char *const unary_ops[] = {"neg", "pos", "invert", "not"};
static const Op unary_codes[] = {OP_NEG, OP_POS, OP_INVERT, OP_NOT};
static const char *const binary_ops[] = {"add", "sub", "mul", "truediv", "floordiv", "mod",
                                         "pow", "lshift", "rshift", "bitand", "bitor", "bitxor"};
static const Op binary_codes[] = {OP_ADD, OP_SUB, OP_MUL, OP_TRUEDIV, OP_FLOORDIV, OP_MOD,
                                  OP_POW, OP_LSHIFT, OP_RSHIFT, OP_BITAND, OP_BITOR, OP_BITXOR};
static const char *const compare_ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
static const Op compare_codes[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
static const char *const attr_names[] = {"shape", "strides", "size", "ndim", "T", "sum",
                                         "prod", "min", "max", "mean", "len", "real", "imag",
                                         "conj", "argmin", "argmax", "all", "any", "var",
                                         "std", "cumsum", "cumprod", "flat", "nditer",
                                         "unravel", "sort", "argsort", "sort_inplace",
                                         "dot"};
static const int attr_codes[] = {ATTR_SHAPE, ATTR_STRIDES, ATTR_SIZE, ATTR_NDIM, ATTR_T,
                                 ATTR_SUM, ATTR_PROD, ATTR_MIN, ATTR_MAX, ATTR_MEAN,
                                 ATTR_LEN, ATTR_REAL, ATTR_IMAG, ATTR_CONJ, ATTR_ARGMIN,
                                 ATTR_ARGMAX, ATTR_ALL, ATTR_ANY, ATTR_VAR, ATTR_STD,
                                 ATTR_CUMSUM, ATTR_CUMPROD, ATTR_FLAT, ATTR_NDITER,
                                 ATTR_UNRAVEL, ATTR_SORT, ATTR_ARGSORT, ATTR_SORT_INPLACE,
                                 ATTR_DOT};

/* Index of str `s` in `names` (n entries), -1 when absent or not a str. */
static int lookup(PyObject *s, const char *const *names, int n)
{
    if (!PyUnicode_Check(s))
        return -1;
    for (int i = 0; i < n; i++)
        if (PyUnicode_CompareWithASCIIString(s, names[i]) == 0)
            return i;
    return -1;
}

/* A scalar type named by `s` (weak types only when `weak_ok`); NULL with
 * ValueError set otherwise. */
static const Type *scalar_type(PyObject *s, bool weak_ok, const char *what)
{
    if (PyUnicode_Check(s)) {
        /* "datetime64[D]", "timedelta64[ns]", "timedelta64" (generic) */
        const char *name = PyUnicode_AsUTF8(s), *unit = NULL;
        TypeKind tk = TY_VOID;
        if (!name)
            return NULL;
        if (strncmp(name, "datetime64", 10) == 0)
            tk = TY_DATETIME, unit = name + 10;
        else if (strncmp(name, "timedelta64", 11) == 0)
            tk = TY_TIMEDELTA, unit = name + 11;
        if (unit) {
            char u[8] = "";
            size_t len = strlen(unit);
            if (len >= 3 && len < sizeof u + 2 && unit[0] == '[' && unit[len - 1] == ']') {
                memcpy(u, unit + 1, len - 2);
                u[len - 2] = '\0';
            } else if (len != 0) {
                u[0] = '?';
            }
            const Type *t = ty_time(tk, ty_time_unit_from(u));
            if (t)
                return t;
        }
        for (size_t i = 0; i < EM_ARRAY_LEN(scalar_names); i++)
            if (PyUnicode_CompareWithASCIIString(s, scalar_names[i].name) == 0) {
                if (!weak_ok && ty_is_weak(ty_scalar(scalar_names[i].kind)))
                    break;
                /* bfloat16 values only: NumPy has no such dtype for arrays */
                if (scalar_names[i].kind == TY_BF16 && strcmp(what, "cast") != 0 &&
                    strcmp(what, "type descriptor") != 0)
                    break;
                return ty_scalar(scalar_names[i].kind);
            }
    }
    PyErr_Format(PyExc_ValueError, "%s: unknown scalar type %R", what, s);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Type descriptors                                                         */
/* ------------------------------------------------------------------------ */

/* ('record', [(name, scalar, offset, [extents]) ...], itemsize, alignment):
 * a NumPy structured dtype (dispatcher.py _record_desc). */
static const Type *parse_record(PyObject *d)
{
    PyObject *fs = PyTuple_GET_SIZE(d) == 4 ? PySequence_Fast(PyTuple_GET_ITEM(d, 1), "fields")
                                            : NULL;
    if (!fs) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "bad record descriptor %R", d);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fs);
    const char *names[EM_RECORD_MAX_FIELDS];
    const Type *fields[EM_RECORD_MAX_FIELDS];
    int64_t offsets[EM_RECORD_MAX_FIELDS], shapes[EM_RECORD_MAX_FIELDS * EM_FIELD_MAX_NDIM];
    char fchars[EM_RECORD_MAX_FIELDS];
    long long size = PyLong_AsLongLong(PyTuple_GET_ITEM(d, 2));
    long align = PyLong_AsLong(PyTuple_GET_ITEM(d, 3));
    const Type *t = NULL;
    if (PyErr_Occurred() || n < 1 || n > EM_RECORD_MAX_FIELDS)
        goto bad;
    memset(shapes, 0, sizeof shapes);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PySequence_Fast_GET_ITEM(fs, i), *dims;
        if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 4 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(f, 0)) || !PyList_Check(dims = PyTuple_GET_ITEM(f, 3)) ||
            PyList_GET_SIZE(dims) > EM_FIELD_MAX_NDIM)
            goto bad;
        names[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(f, 0));
        /* a NumPy string field: "unichr" (U, UCS4) or "char" (S), one extent */
        PyObject *sn = PyTuple_GET_ITEM(f, 1);
        fchars[i] = !PyUnicode_Check(sn) ? 0
                    : PyUnicode_CompareWithASCIIString(sn, "unichr") == 0 ? 'U'
                    : PyUnicode_CompareWithASCIIString(sn, "char") == 0  ? 'S' : 0;
        if (fchars[i] && PyList_GET_SIZE(dims) != 1)
            goto bad;
        const Type *elem = fchars[i] ? ty_scalar(fchars[i] == 'U' ? TY_U32 : TY_U8)
                                     : scalar_type(sn, false, "record field");
        offsets[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(f, 2));
        if (!names[i] || !elem || PyErr_Occurred())
            goto bad;
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(dims); k++) {
            shapes[i * EM_FIELD_MAX_NDIM + k] = PyLong_AsLongLong(PyList_GET_ITEM(dims, k));
            if (shapes[i * EM_FIELD_MAX_NDIM + k] < 1 || PyErr_Occurred())
                goto bad;
        }
        fields[i] = PyList_GET_SIZE(dims) ? ty_array(elem, (int)PyList_GET_SIZE(dims), 'C', false)
                                          : elem;
    }
    t = ty_record_chars((int)n, names, fields, offsets, shapes, fchars, size, (int)align);
    if (!t)
        goto bad;
    Py_DECREF(fs);
    return t;
bad:
    Py_DECREF(fs);
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "bad record descriptor %R", d);
    return NULL;
}

/* An array's item type: a record descriptor (tuple) or a scalar's name. */
static const Type *item_type(PyObject *dt, const char *what)
{
    return PyTuple_Check(dt) ? parse_record(dt) : scalar_type(dt, false, what);
}

static const Type *parse_type(PyObject *d, int depth)
{
    if (depth > 64) {
        PyErr_SetString(PyExc_ValueError, "type descriptor nested too deeply");
        return NULL;
    }
    if (PyUnicode_Check(d))
        return scalar_type(d, false, "type descriptor");
    if (!PyTuple_Check(d) || PyTuple_GET_SIZE(d) < 2) {
        PyErr_Format(PyExc_ValueError, "bad type descriptor %R: expected a scalar name, "
                     "('array', dtype, ndim, layout, readonly) or ('tuple', [...])", d);
        return NULL;
    }
    PyObject *k = PyTuple_GET_ITEM(d, 0);
    if (PyUnicode_Check(k) && PyUnicode_CompareWithASCIIString(k, "array") == 0 &&
        PyTuple_GET_SIZE(d) == 5) {
        PyObject *dt = PyTuple_GET_ITEM(d, 1);
        const Type *elem = item_type(dt, "array dtype");
        if (!elem)
            return NULL;
        long ndim = PyLong_Check(PyTuple_GET_ITEM(d, 2)) ? PyLong_AsLong(PyTuple_GET_ITEM(d, 2))
                                                         : -1;
        if (ndim == -1 && PyErr_Occurred())
            return NULL;
        const char *layout = PyUnicode_Check(PyTuple_GET_ITEM(d, 3))
                                 ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(d, 3)) : NULL;
        int ro = PyObject_IsTrue(PyTuple_GET_ITEM(d, 4));
        if (ro < 0)
            return NULL;
        if (ndim < 1 || ndim > EMBER_MAX_NDIM || !layout || strlen(layout) != 1 ||
            !strchr("CFA", layout[0])) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "bad array descriptor %R: ndim 1..%d, layout "
                         "'C', 'F' or 'A'", d, EMBER_MAX_NDIM);
            return NULL;
        }
        const Type *t = ty_array(elem, (int)ndim, layout[0], ro != 0);
        if (!t)
            PyErr_NoMemory();
        return t;
    }
    if (PyUnicode_Check(k) && PyUnicode_CompareWithASCIIString(k, "tuple") == 0 &&
        PyTuple_GET_SIZE(d) == 2 &&
        (PyList_Check(PyTuple_GET_ITEM(d, 1)) || PyTuple_Check(PyTuple_GET_ITEM(d, 1)))) {
        PyObject *fs = PySequence_Fast(PyTuple_GET_ITEM(d, 1), "tuple fields");
        if (!fs)
            return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fs);
        if (n > 64) {
            Py_DECREF(fs);
            PyErr_SetString(PyExc_ValueError, "tuples of more than 64 items are not supported");
            return NULL;
        }
        const Type *f[64];
        for (Py_ssize_t i = 0; i < n; i++)
            if (!(f[i] = parse_type(PySequence_Fast_GET_ITEM(fs, i), depth + 1))) {
                Py_DECREF(fs);
                return NULL;
            }
        Py_DECREF(fs);
        const Type *t = ty_tuple((int)n, f);
        if (!t)
            PyErr_NoMemory();
        return t;
    }
    PyErr_Format(PyExc_ValueError, "bad type descriptor %R", d);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Tree -> IR                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    Function *fn;   /* the function whose body is being built (owns the nodes) */
    Function *root; /* the kernel: owns the device function templates */
    ext_state *st;
    int limit;      /* the deepest nesting allowed (stack_depth_limit) */
    int deepest;    /* the deepest nesting built so far, */
    Function *deep_fn; /* ... in this function (root or a callee), */
    SrcLoc deep_loc;   /* ... at this node */
} Builder;

/* Bytes of stack left below the caller's frame on this thread; SIZE_MAX
 * when the system does not say. */
static size_t stack_left(void)
{
    pthread_attr_t attr;
    void *base = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return SIZE_MAX;
    int rc = pthread_attr_getstack(&attr, &base, &size);
    pthread_attr_destroy(&attr);
    char here;
    uintptr_t lo = (uintptr_t)base, sp = (uintptr_t)&here;
    if (rc != 0 || !base || sp < lo || sp - lo > size)
        return SIZE_MAX;
    return sp - lo;
}

/* The nesting the stack left on this thread allows (see MAX_DEPTH). */
static int stack_depth_limit(void)
{
    size_t left = stack_left();
    if (left == SIZE_MAX)
        return MAX_DEPTH;
    size_t reserve = left / 4 < STACK_RESERVE ? left / 4 : STACK_RESERVE;
    size_t levels = (left - reserve) / STACK_PER_LEVEL;
    return levels > MAX_DEPTH ? MAX_DEPTH : (int)levels;
}

static PyObject *raise_typing(ext_state *st, Function *fn);

/* The tree nests deeper than b->limit: a TypingError at the deepest node
 * built (in the kernel or a device function). */
static Node *too_deep(Builder *b)
{
    Function *at = b->deep_fn ? b->deep_fn : b->fn;
    ir_error(b->root, b->deep_loc, "expressions and statements nested more than %d levels "
             "deep, more than ember can compile on this thread's stack (%zu KiB left): split "
             "the expression with intermediate variables, or compile on a thread with a "
             "larger stack", b->limit, stack_left() >> 10);
    if (at != b->root)
        b->root->err_file = at->file;
    raise_typing(b->st, b->root);
    return NULL;
}

static const char *const kind_names[] = {
    "const", "param", "load", "unary", "binary", "compare", "and", "or", "ifexp", "cast",
    "math", "intrinsic", "index", "attr", "tuple", "tuple_get",
    "block", "assign", "store", "if", "while", "for_range", "break", "continue", "return",
    "expr", "call", "atomic", "slice", "slice_part", "local_array", "print", "fence", "sync",
    "const_array", "new_array", "array_assign", "aug_assign", "where",
};
/* number of items of each kind's tuple */
static const int kind_sizes[] = {5, 4, 4, 5, 6, 6, 5, 5, 6, 5, 5, 5, 5, 5, 4, 5,
                                 4, 5, 6, 6, 5, 8, 3, 3, 4, 4, 5, 7, 5, 6, 6, 5, 4, 5, 6, 8,
                                 6, 5, 6};
static const NodeKind kind_codes[] = {
    ND_CONST, ND_PARAM, ND_LOAD, ND_UNARY, ND_BINARY, ND_COMPARE, ND_AND, ND_OR, ND_IFEXP,
    ND_CAST, ND_CALL_MATH, ND_INTRINSIC, ND_INDEX, ND_ATTR, ND_TUPLE, ND_TUPLE_GET,
    ND_BLOCK, ND_ASSIGN, ND_STORE, ND_IF, ND_WHILE, ND_FOR_RANGE, ND_BREAK, ND_CONTINUE,
    ND_RETURN, ND_EXPR, ND_CALL, ND_ATOMIC, ND_SLICE, ND_SLICE_PART, ND_LOCAL_ARRAY,
    ND_PRINT, ND_FENCE, ND_SYNC, ND_CONST_ARRAY, ND_NEW_ARRAY,
    ND_ARRAY_ASSIGN, ND_ASSIGN, ND_IFEXP, /* aug_assign: op 1; where: op 1 */
};

enum { WANT_EXPR, WANT_STMT, WANT_BLOCK };

static Node *bad(PyObject *obj, const char *why)
{
    PyErr_Format(PyExc_ValueError, "malformed tree node %.200R: %s", obj, why);
    return NULL;
}

/* n->args[0 .. len(dims)) = the extents in list `dims` as int64 constants.
 * 0 when each is an int in [lo, 2**31-1] (with `count`: their product, which
 * must fit in 64 bits), 1 when one is not, -1 with MemoryError set. */
static int const_extents(Function *fn, SrcLoc loc, PyObject *dims, long long lo, Node *n,
                         long long *count)
{
    long long product = 1;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(dims); j++) {
        long long e = PyLong_Check(PyList_GET_ITEM(dims, j))
                          ? PyLong_AsLongLong(PyList_GET_ITEM(dims, j)) : -1;
        if (e < lo || e > INT32_MAX || (count && __builtin_mul_overflow(product, e, &product))) {
            PyErr_Clear();
            return 1;
        }
        Node *c = ir_node(fn, ND_CONST, loc);
        if (!c) {
            PyErr_NoMemory();
            return -1;
        }
        c->ty = ty_scalar(TY_I64);
        c->ival = e;
        n->args[j] = c;
    }
    if (count)
        *count = product;
    return 0;
}

/* An int item in [lo, hi]. */
static int item_int(PyObject *t, Py_ssize_t i, long lo, long hi, const char *what, int *out)
{
    PyObject *v = PyTuple_GET_ITEM(t, i);
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        bad(t, what);
        return -1;
    }
    int overflow;
    long x = PyLong_AsLongAndOverflow(v, &overflow);
    if (overflow || x < lo || x > hi) {
        PyErr_Clear();
        bad(t, what);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static Node *build(Builder *b, PyObject *obj, int want, int depth);

/* A Python list (or tuple) of nodes into args/nargs. */
static int build_list(Builder *b, PyObject *owner, PyObject *list, int want, int depth,
                      Node ***args, int *nargs)
{
    if (!PyList_Check(list) && !PyTuple_Check(list)) {
        bad(owner, "expected a list of nodes");
        return -1;
    }
    PyObject *fast = PySequence_Fast(list, "nodes");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > 1000000) {
        Py_DECREF(fast);
        bad(owner, "too many items");
        return -1;
    }
    Node **v = ir_node_list(b->fn, (int)n);
    if (!v) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* a list may not change under us: PySequence_Fast of a list copies nothing, but
         * building nodes runs no Python code, so the list stays as it is */
        if (!(v[i] = build(b, PySequence_Fast_GET_ITEM(fast, i), want, depth + 1))) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *args = v;
    *nargs = (int)n;
    return 0;
}

static int build_const(Node *n, PyObject *t)
{
    const Type *ty = scalar_type(PyTuple_GET_ITEM(t, 3), true, "const");
    if (!ty)
        return -1;
    PyObject *v = PyTuple_GET_ITEM(t, 4);
    n->ty = ty;
    if (ty->kind == TY_BOOL) {
        if (!PyBool_Check(v) && !PyLong_Check(v)) {
            bad(t, "a bool constant needs a bool value");
            return -1;
        }
        n->ival = PyObject_IsTrue(v);
        return 0;
    }
    if (ty_is_int(ty)) {
        if (!PyLong_Check(v)) {
            bad(t, "an integer constant needs an int value");
            return -1;
        }
        if (!ty_is_signed(ty) && ty->kind != TY_WEAK_INT) {
            unsigned long long u = PyLong_AsUnsignedLongLong(v);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                bad(t, "value out of range for its type");
                return -1;
            }
            int bits = ty_bits(ty);
            if (bits < 64 && u >> bits) {
                bad(t, "value out of range for its type");
                return -1;
            }
            n->ival = (int64_t)u;
            return 0;
        }
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            PyErr_Format(PyExc_ValueError, "the integer constant %R does not fit in int64", v);
            return -1;
        }
        int bits = ty->kind == TY_WEAK_INT ? 64 : ty_bits(ty);
        if (bits < 64 && (x < -(1LL << (bits - 1)) || x >= (1LL << (bits - 1)))) {
            bad(t, "value out of range for its type");
            return -1;
        }
        n->ival = x;
        return 0;
    }
    if (ty_is_float(ty)) {
        if (!PyFloat_Check(v) && !PyLong_Check(v)) {
            bad(t, "a float constant needs a float value");
            return -1;
        }
        n->fval = PyFloat_AsDouble(v);
        if (n->fval == -1.0 && PyErr_Occurred())
            return -1;
        if (ty->kind == TY_F32)
            n->fval = (double)(float)n->fval;
        if (ty->kind == TY_F16) { /* rounded to half (to nearest, ties to even) */
            char h[2];
            if (PyFloat_Pack2(n->fval, h, 1) < 0)
                return -1;
            n->fval = PyFloat_Unpack2(h, 1);
        }
        return 0;
    }
    if (!PyComplex_Check(v) && !PyFloat_Check(v) && !PyLong_Check(v)) {
        bad(t, "a complex constant needs a complex value");
        return -1;
    }
    Py_complex c = PyComplex_AsCComplex(v);
    if (c.real == -1.0 && PyErr_Occurred())
        return -1;
    n->fval = c.real;
    n->fimag = c.imag;
    if (ty->kind == TY_C64) {
        n->fval = (double)(float)n->fval;
        n->fimag = (double)(float)n->fimag;
    }
    return 0;
}

static Node *build(Builder *b, PyObject *t, int want, int depth)
{
    if (depth > b->limit)
        return too_deep(b);
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 3)
        return bad(t, "expected a tuple (kind, line, col, ...)");
    int k = lookup(PyTuple_GET_ITEM(t, 0), kind_names, (int)EM_ARRAY_LEN(kind_names));
    if (k < 0)
        return bad(t, "unknown node kind");
    NodeKind kind = kind_codes[k];
    /* for_range takes a 9th item: 1 for a parallel (prange) loop; attr a 6th: a
     * reduction's axis; index a 6th: 1 to check the bounds always */
    if (PyTuple_GET_SIZE(t) != kind_sizes[k] &&
        !((kind == ND_FOR_RANGE || kind == ND_ATTR || kind == ND_INDEX) &&
          PyTuple_GET_SIZE(t) == kind_sizes[k] + 1))
        return bad(t, "wrong number of items for its kind");
    bool is_stmt = kind >= ND_BLOCK;
    if (want == WANT_EXPR && is_stmt)
        return bad(t, "a statement where an expression is expected");
    if (want == WANT_STMT && !is_stmt)
        return bad(t, "an expression where a statement is expected (wrap it in 'expr')");
    if (want == WANT_BLOCK && kind != ND_BLOCK)
        return bad(t, "expected a 'block'");
    SrcLoc loc;
    if (item_int(t, 1, 0, INT32_MAX, "line must be an int >= 0", &loc.line) < 0 ||
        item_int(t, 2, 0, INT32_MAX, "col must be an int >= 0", &loc.col) < 0)
        return NULL;
    if (depth > b->deepest || !b->deep_fn) {
        b->deepest = depth;
        b->deep_fn = b->fn;
        b->deep_loc = loc;
    }
    Function *fn = b->fn;
    Node *n = ir_node(fn, kind, loc);
    if (!n) {
        PyErr_NoMemory();
        return NULL;
    }
#define ITEM(i) PyTuple_GET_ITEM(t, i)
#define SUB(field, i, w)                                           \
    do {                                                           \
        if (!(n->field = build(b, ITEM(i), (w), depth + 1)))       \
            return NULL;                                           \
    } while (0)
    int i;
    switch (kind) {
    case ND_CONST:
        if (build_const(n, t) < 0)
            return NULL;
        break;
    case ND_PARAM:
        if (item_int(t, 3, 0, fn->nparams - 1, "parameter index out of range", &n->index) < 0)
            return NULL;
        break;
    case ND_LOAD:
        if (item_int(t, 3, 0, fn->nvars - 1, "slot out of range", &n->var) < 0)
            return NULL;
        break;
    case ND_UNARY:
        if ((i = lookup(ITEM(3), unary_ops, 4)) < 0)
            return bad(t, "unknown unary operator");
        n->op = unary_codes[i];
        SUB(a, 4, WANT_EXPR);
        break;
    case ND_BINARY: case ND_COMPARE:
        if (kind == ND_BINARY) {
            if ((i = lookup(ITEM(3), binary_ops, (int)EM_ARRAY_LEN(binary_ops))) < 0)
                return bad(t, "unknown binary operator");
            n->op = binary_codes[i];
        } else {
            if ((i = lookup(ITEM(3), compare_ops, (int)EM_ARRAY_LEN(compare_ops))) < 0)
                return bad(t, "unknown comparison operator");
            n->op = compare_codes[i];
        }
        SUB(a, 4, WANT_EXPR);
        SUB(b, 5, WANT_EXPR);
        break;
    case ND_AND: case ND_OR:
        SUB(a, 3, WANT_EXPR);
        SUB(b, 4, WANT_EXPR);
        break;
    case ND_IFEXP:
        n->op = strcmp(kind_names[k], "where") == 0; /* np.where(c, x, y) */
        SUB(a, 3, WANT_EXPR);
        SUB(b, 4, WANT_EXPR);
        SUB(c, 5, WANT_EXPR);
        break;
    case ND_CAST:
        if (!(n->target = scalar_type(ITEM(3), false, "cast")))
            return NULL;
        SUB(a, 4, WANT_EXPR);
        break;
    case ND_CALL_MATH: {
        /* "sin" (Python's math), "np.floor" (NumPy), "cmath.sqrt" (cmath) */
        int m = -1;
        const char *name = PyUnicode_Check(ITEM(3)) ? PyUnicode_AsUTF8(ITEM(3)) : NULL;
        if (!name) {
            PyErr_Clear();
            return bad(t, "unknown math function");
        }
        n->index = MATHF_PYTHON;
        if (strncmp(name, "np.", 3) == 0) {
            n->index = MATHF_NUMPY;
            name += 3;
        } else if (strncmp(name, "cmath.", 6) == 0) {
            n->index = MATHF_CMATH;
            name += 6;
        }
        for (int j = 0; j < MATH_COUNT && m < 0; j++)
            if (strcmp(name, ir_math_name((MathFn)j)) == 0)
                m = j;
        if (m < 0)
            return bad(t, "unknown math function");
        n->op = m;
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        break;
    }
    case ND_INTRINSIC:
        if (!PyUnicode_Check(ITEM(3)) ||
            (i = ir_intrinsic_lookup(PyUnicode_AsUTF8(ITEM(3)))) < 0)
            return bad(t, "unknown intrinsic");
        n->op = i;
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        break;
    case ND_INDEX:
        SUB(a, 3, WANT_EXPR);
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        if (PyTuple_GET_SIZE(t) > 5) /* 1: bounds-checked always (a list's pop) */
            n->ival = PyObject_IsTrue(ITEM(5)) == 1;
        break;
    case ND_ATTR:
        if (PyUnicode_Check(ITEM(3)) &&
            strncmp(PyUnicode_AsUTF8(ITEM(3)), "field:", 6) == 0) { /* r.x of a record */
            n->op = ATTR_FIELD;
            if (!(n->text = ir_strdup(fn, PyUnicode_AsUTF8(ITEM(3)) + 6)))
                return (Node *)PyErr_NoMemory();
        } else if ((i = lookup(ITEM(3), attr_names, (int)EM_ARRAY_LEN(attr_names))) < 0) {
            return bad(t, "unknown attribute");
        } else {
            n->op = attr_codes[i];
        }
        SUB(a, 4, WANT_EXPR);
        if (PyTuple_GET_SIZE(t) > 5 && ITEM(5) != Py_None) /* a reduction's axis */
            SUB(b, 5, WANT_EXPR);
        break;
    case ND_TUPLE:
        if (build_list(b, t, ITEM(3), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        break;
    case ND_TUPLE_GET:
        SUB(a, 3, WANT_EXPR);
        if (item_int(t, 4, -64, 63, "tuple index out of range", &n->index) < 0)
            return NULL;
        break;
    case ND_BLOCK:
        if (build_list(b, t, ITEM(3), WANT_STMT, depth, &n->args, &n->nargs) < 0)
            return NULL;
        break;
    case ND_ASSIGN:
        if (item_int(t, 3, 0, fn->nvars - 1, "slot out of range", &n->var) < 0)
            return NULL;
        n->op = strcmp(kind_names[k], "aug_assign") == 0; /* x op= v: in place for arrays */
        SUB(a, 4, WANT_EXPR);
        break;
    case ND_ARRAY_ASSIGN: /* (dest view, value, augmented) */
        SUB(a, 3, WANT_EXPR);
        SUB(b, 4, WANT_EXPR);
        n->op = PyObject_IsTrue(ITEM(5)) == 1;
        break;
    case ND_STORE:
        SUB(a, 3, WANT_EXPR);
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        SUB(b, 5, WANT_EXPR);
        break;
    case ND_IF:
        SUB(a, 3, WANT_EXPR);
        SUB(b, 4, WANT_BLOCK);
        if (ITEM(5) != Py_None)
            SUB(c, 5, WANT_BLOCK);
        break;
    case ND_WHILE:
        SUB(a, 3, WANT_EXPR);
        SUB(b, 4, WANT_BLOCK);
        break;
    case ND_FOR_RANGE:
        if (item_int(t, 3, 0, fn->nvars - 1, "slot out of range", &n->var) < 0)
            return NULL;
        if (!(n->args = ir_node_list(fn, 3))) {
            PyErr_NoMemory();
            return NULL;
        }
        n->nargs = 3;
        for (int j = 0; j < 3; j++)
            if (!(n->args[j] = build(b, ITEM(4 + j), WANT_EXPR, depth + 1)))
                return NULL;
        SUB(b, 7, WANT_BLOCK);
        if (PyTuple_GET_SIZE(t) == 9) /* ival: a prange loop (devices/cpu/lower_prange.c) */
            n->ival = PyObject_IsTrue(ITEM(8)) == 1;
        break;
    case ND_BREAK: case ND_CONTINUE:
        break;
    case ND_RETURN:
        if (ITEM(3) != Py_None)
            SUB(a, 3, WANT_EXPR);
        break;
    case ND_EXPR:
        SUB(a, 3, WANT_EXPR);
        break;
    case ND_ATOMIC: {
        static const char *const atomic_names[] = {"add", "sub", "max", "min", "nanmax",
            "nanmin", "and_", "or_", "xor", "exch", "inc", "dec", "cas"};
        if ((i = lookup(ITEM(3), atomic_names, (int)EM_ARRAY_LEN(atomic_names))) < 0)
            return bad(t, "unknown atomic operation");
        n->op = i;
        SUB(a, 4, WANT_EXPR);
        if (build_list(b, t, ITEM(5), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        Node **vals;
        int nv;
        if (build_list(b, t, ITEM(6), WANT_EXPR, depth, &vals, &nv) < 0)
            return NULL;
        if (nv != (i == ATOM_CAS ? 2 : 1))
            return bad(t, "wrong number of values for the atomic operation");
        n->b = vals[0];
        n->c = nv == 2 ? vals[1] : NULL;
        break;
    }
    case ND_CALL: {
        int key;
        if (item_int(t, 3, 0, b->root->ncallees - 1, "device function index out of range",
                     &key) < 0)
            return NULL;
        n->callee = b->root->callees[key];
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        break;
    }
    case ND_SLICE:
        SUB(a, 3, WANT_EXPR);
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        if (n->nargs < 1 || n->nargs > EMBER_MAX_NDIM)
            return bad(t, "a slice needs 1 to 32 items");
        break;
    case ND_SLICE_PART:
        if (ITEM(3) != Py_None)
            SUB(a, 3, WANT_EXPR);
        if (ITEM(4) != Py_None)
            SUB(b, 4, WANT_EXPR);
        if (ITEM(5) != Py_None)
            SUB(c, 5, WANT_EXPR);
        break;
    case ND_LOCAL_ARRAY: {
        const Type *elem = item_type(ITEM(3), "local array dtype");
        if (!elem)
            return NULL;
        static const char *const spaces[] = {"local", "shared"};
        if ((i = lookup(ITEM(5), spaces, 2)) < 0)
            return bad(t, "memory space must be 'local' or 'shared'");
        n->op = i;
        PyObject *dims = ITEM(4);
        if (!PyList_Check(dims) || PyList_GET_SIZE(dims) < 1 ||
            PyList_GET_SIZE(dims) > EMBER_MAX_NDIM)
            return bad(t, "local array extents must be a list of 1 to 32 ints");
        int nd = (int)PyList_GET_SIZE(dims);
        bool dynamic = n->op == MEM_SHARED && nd == 1 &&
                       PyLong_Check(PyList_GET_ITEM(dims, 0)) &&
                       PyLong_AsLongLong(PyList_GET_ITEM(dims, 0)) == 0;
        if (!(n->args = ir_node_list(fn, nd))) {
            PyErr_NoMemory();
            return NULL;
        }
        n->nargs = nd;
        int r = const_extents(fn, loc, dims, dynamic ? 0 : 1, n, NULL);
        if (r < 0)
            return NULL;
        if (r > 0)
            return bad(t, "local array extents must be ints in 1 .. 2**31-1");
        n->ty = ty_array(elem, nd, 'C', false);
        break;
    }
    case ND_NEW_ARRAY: { /* (kind, dtype or None, shape or like array, fill, [arange]) */
        static const char *const new_kinds[] = {"empty", "zeros", "full", "arange", "linspace",
                                                "eye", "reshape", "array", "asarray", "take",
                                                "rows0", "rows", "view"};
        if ((i = lookup(ITEM(3), new_kinds, (int)EM_ARRAY_LEN(new_kinds))) < 0)
            return bad(t, "unknown array maker");
        n->op = i;
        if (ITEM(4) != Py_None && !(n->target = scalar_type(ITEM(4), false, "array dtype")))
            return NULL;
        if (ITEM(5) != Py_None)
            SUB(a, 5, WANT_EXPR);
        if (ITEM(6) != Py_None)
            SUB(b, 6, WANT_EXPR);
        if (build_list(b, t, ITEM(7), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        if (n->op == NEW_ROWS && n->nargs == 1) { /* the list's witness: types the rows */
            n->c = n->args[0];
            n->args = NULL;
            n->nargs = 0;
        }
        bool listed = n->op == NEW_ARANGE || n->op == NEW_LINSPACE || n->op == NEW_EYE;
        if ((n->op == NEW_ARANGE && n->nargs != 3) || (n->op == NEW_LINSPACE && n->nargs != 4) ||
            (n->op == NEW_EYE && n->nargs != 2 && n->nargs != 3) || (!listed && n->nargs) ||
            (listed == (n->a != NULL)) != (n->op == NEW_VIEW) ||
            (n->op == NEW_VIEW && (!n->b || !n->target)) ||
            (n->op == NEW_FULL || n->op == NEW_RESHAPE || n->op == NEW_ROWS0 ||
             n->op == NEW_ROWS || n->op == NEW_VIEW) != !!n->b || n->op == NEW_TAKE)
            return bad(t, "malformed array maker");
        break;
    }
    case ND_PRINT: {
        const char *text = PyUnicode_Check(ITEM(3)) ? PyUnicode_AsUTF8(ITEM(3)) : NULL;
        if (!text) {
            PyErr_Clear();
            return bad(t, "print text must be a str");
        }
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        int slots = 0;
        for (const char *p = text; *p; p++)
            slots += *p == IR_PRINT_SLOT;
        if (slots != n->nargs)
            return bad(t, "print text must have one placeholder per value");
        if (!(n->text = ir_strdup(fn, text))) {
            PyErr_NoMemory();
            return NULL;
        }
        break;
    }
    case ND_CONST_ARRAY: {
        /* ("const_array", line, col, dtype, [extents], data bytes); dtype "U" or
         * "S": a str / bytes constant as its code units (uint32 / uint8) */
        const Type *elem = NULL;
        if (PyUnicode_Check(ITEM(3)) && (PyUnicode_CompareWithASCIIString(ITEM(3), "U") == 0 ||
                                         PyUnicode_CompareWithASCIIString(ITEM(3), "S") == 0)) {
            n->op = PyUnicode_CompareWithASCIIString(ITEM(3), "U") == 0 ? 'U' : 'S';
            elem = ty_scalar(n->op == 'U' ? TY_U32 : TY_U8);
        } else {
            elem = item_type(ITEM(3), "constant array dtype");
        }
        if (!elem)
            return NULL;
        PyObject *dims = ITEM(4), *data = ITEM(5);
        if (!PyList_Check(dims) || PyList_GET_SIZE(dims) < 1 ||
            PyList_GET_SIZE(dims) > EMBER_MAX_NDIM || !PyBytes_Check(data))
            return bad(t, "a constant array needs a list of 1 to 32 extents and bytes");
        int nd = (int)PyList_GET_SIZE(dims);
        if (!(n->args = ir_node_list(fn, nd))) {
            PyErr_NoMemory();
            return NULL;
        }
        n->nargs = nd;
        long long count;
        int r = const_extents(fn, loc, dims, 0, n, &count);
        if (r < 0)
            return NULL;
        if (r > 0)
            return bad(t, "constant array extents must be ints in 0 .. 2**31-1");
        long long itemsize = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
        if (PyBytes_GET_SIZE(data) != count * itemsize)
            return bad(t, "constant array data has the wrong size for its shape");
        char *copy = ir_alloc(fn, (size_t)PyBytes_GET_SIZE(data) + 1);
        if (!copy) {
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(copy, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
        n->text = copy;
        n->ival = PyBytes_GET_SIZE(data);
        n->ty = ty_array(elem, nd, 'C', true);
        break;
    }
    case ND_SYNC: {
        static const char *const kinds[] = {"threads", "warp", "grid"}; /* SyncKind order */
        if ((i = lookup(ITEM(3), kinds, 3)) < 0)
            return bad(t, "unknown sync kind");
        n->op = i;
        if (build_list(b, t, ITEM(4), WANT_EXPR, depth, &n->args, &n->nargs) < 0)
            return NULL;
        if (n->nargs != (i == SYNC_WARP))
            return bad(t, "syncthreads and grid sync take no arguments, syncwarp one mask");
        break;
    }
    case ND_FENCE: {
        static const char *const scopes[] = {"device", "block", "system"};
        if ((i = lookup(ITEM(3), scopes, 3)) < 0)
            return bad(t, "unknown fence scope");
        n->op = i;
        break;
    }
    default:
        return bad(t, "unknown node kind");
    }
#undef ITEM
#undef SUB
    return n;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Raises TypingError for fn->err: message "file:line:col: msg" with the
 * attributes filename, line, col and msg. */
static PyObject *raise_typing(ext_state *st, Function *fn)
{
    ember_clear_error();
    PyObject *cls = fn->err_unsupported && st->unsupported_error ? st->unsupported_error
                    : st->typing_error ? st->typing_error : PyExc_TypeError;
    PyObject *exc = PyObject_CallFunction(cls, "s", fn->err);
    if (!exc)
        return NULL;
    PyObject *msg = PyUnicode_DecodeUTF8(fn->err, (Py_ssize_t)strlen(fn->err), "replace");
    PyObject *line = PyLong_FromLong(fn->err_loc.line);
    PyObject *col = PyLong_FromLong(fn->err_loc.col);
    PyObject *file = PyUnicode_DecodeFSDefault(fn->err_file ? fn->err_file : fn->file);
    if (msg && line && col && file && PyObject_SetAttrString(exc, "msg", msg) == 0 &&
        PyObject_SetAttrString(exc, "line", line) == 0 &&
        PyObject_SetAttrString(exc, "col", col) == 0 &&
        PyObject_SetAttrString(exc, "filename", file) == 0)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_XDECREF(msg);
    Py_XDECREF(line);
    Py_XDECREF(col);
    Py_XDECREF(file);
    Py_DECREF(exc);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* compile_kernel                                                           */
/* ------------------------------------------------------------------------ */

/* A list/tuple of str as a C array of borrowed UTF-8 pointers (PyMem). */
static const char **str_list(PyObject *list, const char *what, Py_ssize_t *n)
{
    if (!PyList_Check(list) && !PyTuple_Check(list)) {
        PyErr_Format(PyExc_ValueError, "%s must be a list of str", what);
        return NULL;
    }
    *n = PySequence_Size(list);
    const char **v = PyMem_Calloc((size_t)(*n + 1), sizeof *v);
    if (!v) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *s = PyList_Check(list) ? PyList_GET_ITEM(list, i) : PyTuple_GET_ITEM(list, i);
        if (!PyUnicode_Check(s) || !(v[i] = PyUnicode_AsUTF8(s))) {
            PyMem_Free(v);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%s must be a list of str", what);
            return NULL;
        }
    }
    return v;
}

/* The names at the head of a function tree ('function', qualname, filename,
 * _, [param_names], [slot_names], ...): qualname and file are borrowed from
 * the tree, the name arrays are owned (tree_names_free). */
typedef struct {
    const char *qualname, *file;
    const char **params, **slots;
    Py_ssize_t nparams, nslots;
} TreeNames;

static void tree_names_free(TreeNames *n)
{
    PyMem_Free(n->params);
    PyMem_Free(n->slots);
}

static int tree_names_read(PyObject *tree, TreeNames *n)
{
    *n = (TreeNames){0};
    if (!(n->qualname = PyUnicode_AsUTF8(PyTuple_GET_ITEM(tree, 1))) ||
        !(n->file = PyUnicode_AsUTF8(PyTuple_GET_ITEM(tree, 2))) ||
        !(n->params = str_list(PyTuple_GET_ITEM(tree, 4), "param_names", &n->nparams)) ||
        !(n->slots = str_list(PyTuple_GET_ITEM(tree, 5), "slot_names", &n->nslots))) {
        tree_names_free(n);
        return -1;
    }
    if (n->nparams > 255 || n->nslots > 1000000) {
        tree_names_free(n);
        PyErr_SetString(PyExc_ValueError, "too many parameters or local variables");
        return -1;
    }
    return 0;
}

/* Declares f's local variables in slot order. */
static int add_slots(Function *f, const TreeNames *n)
{
    for (Py_ssize_t i = 0; i < n->nslots; i++)
        if (ir_add_var(f, n->slots[i]) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    return 0;
}

/* A return type descriptor; "none" returns nothing. */
static const Type *parse_return(PyObject *ret)
{
    if (PyUnicode_Check(ret) && PyUnicode_CompareWithASCIIString(ret, "none") == 0)
        return ty_scalar(TY_VOID);
    return parse_type(ret, 0);
}

/* An explicit device function signature: (return_type, [param_types]),
 * descriptors as compile_kernel's param_types ("none" returns nothing). */
static int declare_signature(Function *f, PyObject *sig)
{
    if (!PyTuple_Check(sig) || PyTuple_GET_SIZE(sig) != 2 ||
        !PyList_Check(PyTuple_GET_ITEM(sig, 1)) ||
        PyList_GET_SIZE(PyTuple_GET_ITEM(sig, 1)) != f->nparams) {
        PyErr_Format(PyExc_ValueError, "the signature of device function '%s' must be "
                     "(return_type, [one type per parameter: %d])", f->name, f->nparams);
        return -1;
    }
    PyObject *ret = PyTuple_GET_ITEM(sig, 0), *params = PyTuple_GET_ITEM(sig, 1);
    f->decl_params = ir_alloc(f, sizeof *f->decl_params * (size_t)(f->nparams + 1));
    if (!f->decl_params) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < f->nparams; i++)
        if (!(f->decl_params[i] = parse_type(PyList_GET_ITEM(params, i), 0)))
            return -1;
    return (f->decl_return = parse_return(ret)) ? 0 : -1;
}

/* A foreign function (cuda.declare_device): ('foreign', symbol, [kind per
 * parameter: 0 value, 1 CPointer, 2 voidptr], host address or 0); the
 * signature (item 7) is required. */
static int declare_foreign(Function *f, PyObject *spec)
{
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 4 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(spec, 1)) || !PyList_Check(PyTuple_GET_ITEM(spec, 2)) ||
        PyList_GET_SIZE(PyTuple_GET_ITEM(spec, 2)) != f->nparams || !f->decl_params ||
        !f->decl_return) {
        PyErr_SetString(PyExc_ValueError, "a foreign function needs a signature and "
                        "('foreign', symbol, [kinds], address)");
        return -1;
    }
    const char *sym = PyUnicode_AsUTF8(PyTuple_GET_ITEM(spec, 1));
    unsigned long long addr = sym ? PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(spec, 3)) : 0;
    if (!sym || PyErr_Occurred())
        return -1;
    f->foreign = ir_strdup(f, sym);
    f->foreign_kinds = ir_alloc(f, (size_t)f->nparams + 1);
    if (!f->foreign || !f->foreign_kinds) {
        PyErr_NoMemory();
        return -1;
    }
    f->foreign_addr = addr;
    PyObject *kinds = PyTuple_GET_ITEM(spec, 2);
    for (int i = 0; i < f->nparams; i++) {
        long k = PyLong_AsLong(PyList_GET_ITEM(kinds, i));
        if (k < FOREIGN_VALUE || k > FOREIGN_VOIDPTR) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "bad foreign parameter kind");
            return -1;
        }
        if (k != FOREIGN_VALUE && !ty_is_number(f->decl_params[i])) {
            PyErr_SetString(PyExc_ValueError, "a pointer parameter's type must be a number");
            return -1;
        }
        f->foreign_kinds[i] = (unsigned char)k;
    }
    return 0;
}

/* The device functions a kernel calls, directly or not: a list of
 * ('function', qualname, filename, False, [param_names], [slot_names], body);
 * a ('call', line, col, i, [args]) node anywhere refers to item i. All
 * templates are created first so that bodies can refer to any of them. */
static int build_callees(Builder *b, PyObject *list)
{
    Function *root = b->root;
    PyObject *fast = PySequence_Fast(list, "device function trees must be a list");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int rc = -1;
    if (n > 100000) {
        PyErr_SetString(PyExc_ValueError, "too many device functions");
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 7 || PyTuple_GET_SIZE(t) > 9 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(t, 1)) || !PyUnicode_Check(PyTuple_GET_ITEM(t, 2))) {
            PyErr_SetString(PyExc_ValueError, "a device function tree must be ('function', "
                            "qualname, filename, False, [param_names], [slot_names], body"
                            "[, (return_type, [param_types])])");
            goto out;
        }
        TreeNames names;
        if (tree_names_read(t, &names) < 0)
            goto out;
        Function *f = ir_callee_create(root, names.qualname, names.file, (int)names.nparams,
                                       names.params);
        int made = f ? add_slots(f, &names) : (PyErr_NoMemory(), -1);
        tree_names_free(&names);
        if (made < 0)
            goto out;
        if (PyTuple_GET_SIZE(t) >= 8 && PyTuple_GET_ITEM(t, 7) != Py_None &&
            declare_signature(f, PyTuple_GET_ITEM(t, 7)) < 0)
            goto out;
        if (PyTuple_GET_SIZE(t) == 9 && declare_foreign(f, PyTuple_GET_ITEM(t, 8)) < 0)
            goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        b->fn = root->callees[i];
        if (!(root->callees[i]->body =
                  build(b, PyTuple_GET_ITEM(PySequence_Fast_GET_ITEM(fast, i), 6), WANT_BLOCK, 0)))
            goto out;
    }
    b->fn = root;
    rc = 0;
out:
    Py_DECREF(fast);
    return rc;
}

/* The typed IR of a kernel tree for `param_types` (parse, build, infer):
 * the caller owns the result. NULL with the exception set on failure (a
 * TypingError for the user's errors). *args_size: bytes of the packed
 * arguments. */
static Function *build_typed(ext_state *st, PyObject *tree, PyObject *param_types,
                             PyObject *return_type, size_t *args_size)
{
    if (!PyTuple_Check(tree) || (PyTuple_GET_SIZE(tree) != 7 && PyTuple_GET_SIZE(tree) != 8) ||
        !PyUnicode_Check(PyTuple_GET_ITEM(tree, 0)) ||
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(tree, 0), "function") != 0 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(tree, 1)) || !PyUnicode_Check(PyTuple_GET_ITEM(tree, 2))) {
        PyErr_SetString(PyExc_ValueError,
                        "tree must be ('function', qualname, filename, is_kernel, "
                        "[param_names], [slot_names], body[, [device function trees]])");
        return NULL;
    }
    int is_kernel = PyObject_IsTrue(PyTuple_GET_ITEM(tree, 3));
    if (is_kernel < 0)
        return NULL;
    TreeNames names;
    if (tree_names_read(tree, &names) < 0)
        return NULL;
    Py_ssize_t np_ = names.nparams;
    Function *fn = NULL;
    bool ok = false;
    PyObject *ptypes =
        PySequence_Fast(param_types, "param_types must be a list of type descriptors");
    if (!ptypes)
        goto out;
    if (PySequence_Fast_GET_SIZE(ptypes) != np_) {
        PyErr_Format(PyExc_ValueError, "%zd parameter types for %zd parameters",
                     PySequence_Fast_GET_SIZE(ptypes), np_);
        goto out;
    }
    fn = ir_function_create(names.qualname, names.file, (int)np_, names.params, is_kernel != 0);
    if (!fn) {
        PyErr_NoMemory();
        goto out;
    }
    *args_size = 0;
    for (Py_ssize_t i = 0; i < np_; i++) {
        if (!(fn->param_types[i] = parse_type(PySequence_Fast_GET_ITEM(ptypes, i), 0)))
            goto out;
        *args_size += abi_size(fn->param_types[i]);
    }
    if (add_slots(fn, &names) < 0)
        goto out;
    Builder b = {.fn = fn, .root = fn, .st = st, .limit = stack_depth_limit()};
    if (PyTuple_GET_SIZE(tree) == 8 && build_callees(&b, PyTuple_GET_ITEM(tree, 7)) < 0)
        goto out;
    if (return_type && return_type != Py_None && !fn->is_kernel && /* a declared return */
        !(fn->decl_return = parse_return(return_type)))
        goto out;
    if (!(fn->body = build(&b, PyTuple_GET_ITEM(tree, 6), WANT_BLOCK, 0)))
        goto out;
    if (infer_function(fn) != EMBER_SUCCESS) {
        if (fn->err[0])
            raise_typing(st, fn);
        else
            ext_raise(st, EMBER_ERR_INVALID_ARG, "type inference");
        goto out;
    }
    ok = true;
out:
    Py_XDECREF(ptypes);
    tree_names_free(&names);
    if (!ok) {
        ir_function_destroy(fn);
        return NULL;
    }
    return fn;
}

/* ---- the cache's bytes ----------------------------------------------------
 * "EMBERK01", then u32 target (0 cpu, 1 cuda), cc major, cc minor, number of
 * sites, then the strings symbol, ir, code (object file or PTX) and each
 * site as u64 length + bytes, in the machine's byte order (a cache entry
 * is only used on the machine kind that wrote it: the key holds the CPU). */
#define CACHE_MAGIC "EMBERK01"

typedef struct {
    const char *p, *end;
} Reader;

static bool read_u32(Reader *r, uint32_t *v)
{
    if ((size_t)(r->end - r->p) < sizeof *v)
        return false;
    memcpy(v, r->p, sizeof *v);
    r->p += sizeof *v;
    return true;
}

/* A string of the cache's bytes as a NUL-terminated em_malloc copy. */
static char *read_str(Reader *r, size_t *len)
{
    uint64_t n;
    if ((size_t)(r->end - r->p) < sizeof n)
        return NULL;
    memcpy(&n, r->p, sizeof n);
    r->p += sizeof n;
    if (n > (uint64_t)(r->end - r->p))
        return NULL;
    char *s = em_malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, r->p, (size_t)n);
    s[n] = '\0';
    r->p += n;
    if (len)
        *len = (size_t)n;
    return s;
}

static void put_bytes(char **w, const void *p, size_t n)
{
    memcpy(*w, p, n);
    *w += n;
}

static void put_str(char **w, const char *s, size_t n)
{
    uint64_t len = n;
    put_bytes(w, &len, sizeof len);
    put_bytes(w, s, n);
}

/* cache_data() -> bytes, or None when the code cannot be reused by another
 * process (host code calling a raw address). */
static PyObject *kernel_cache_data(PyObject *obj, PyObject *unused)
{
    ext_kernel *self = (ext_kernel *)obj;
    const char *symbol, *ir, *code;
    size_t code_size;
    int nsites;
    if (self->cuda) {
        symbol = self->cuda->symbol;
        ir = self->cuda->nvvm_ir ? self->cuda->nvvm_ir : "";
        code = self->cuda->ptx;
        code_size = code ? strlen(code) : 0;
        nsites = self->cuda->nsites;
    } else {
        symbol = host_kernel_symbol(self->hk);
        ir = host_kernel_llvm_ir(self->hk);
        code = host_kernel_object(self->hk, &code_size);
        nsites = host_kernel_nsites(self->hk);
    }
    if (!code || !symbol || !ir)
        Py_RETURN_NONE;
    size_t total = 8 + 4 * 4 + 3 * 8 + strlen(symbol) + strlen(ir) + code_size;
    for (int i = 0; i < nsites; i++) {
        const char *site = self->cuda ? self->cuda->sites[i] : host_kernel_site(self->hk, i);
        total += 8 + strlen(site);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (!out)
        return NULL;
    char *w = PyBytes_AS_STRING(out);
    uint32_t head[4] = {self->cuda ? 1 : 0, (uint32_t)self->cc[0], (uint32_t)self->cc[1],
                        (uint32_t)nsites};
    put_bytes(&w, CACHE_MAGIC, 8);
    put_bytes(&w, head, sizeof head);
    put_str(&w, symbol, strlen(symbol));
    put_str(&w, ir, strlen(ir));
    put_str(&w, code, code_size);
    for (int i = 0; i < nsites; i++) {
        const char *site = self->cuda ? self->cuda->sites[i] : host_kernel_site(self->hk, i);
        put_str(&w, site, strlen(site));
    }
    return out;
}

/* The compiled code of cache_data's bytes `data` for `fn` (typed), for the
 * host or CUDA (cc); *hk or *code receives it. A ValueError when the bytes
 * are damaged or were made for another target; LLVM's refusal to link an
 * object is an ember error (compile_kernel raises it). */
static int restore_cached(ext_state *st, PyObject *data, Function *fn, bool cuda,
                          const int cc[2], HostKernel **hk, CudaCode **code)
{
    char *buf;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(data, &buf, &n) < 0)
        return -1;
    Reader r = {buf, buf + n};
    uint32_t target = 0, major = 0, minor = 0, nsites = 0;
    char *symbol = NULL, *ir = NULL, *bin = NULL, **sites = NULL;
    size_t bin_size = 0;
    uint32_t got = 0;
    int ret = -1;
    if (n < 8 || memcmp(buf, CACHE_MAGIC, 8) != 0)
        goto bad;
    r.p += 8;
    if (!read_u32(&r, &target) || !read_u32(&r, &major) || !read_u32(&r, &minor) ||
        !read_u32(&r, &nsites) || target != (cuda ? 1u : 0u) ||
        (cuda && (major != (uint32_t)cc[0] || minor != (uint32_t)cc[1])) || nsites > 1u << 20)
        goto bad;
    if (!(symbol = read_str(&r, NULL)) || !(ir = read_str(&r, NULL)) ||
        !(bin = read_str(&r, &bin_size)))
        goto bad;
    if (nsites && !(sites = em_calloc(nsites, sizeof *sites)))
        goto bad;
    for (; got < nsites; got++)
        if (!(sites[got] = read_str(&r, NULL)))
            goto bad;
    if (r.p != r.end)
        goto bad;
    if (cuda) {
        CudaCode *c = em_calloc(1, sizeof *c);
        if (!c) {
            PyErr_NoMemory();
            goto out;
        }
        c->symbol = symbol, c->nvvm_ir = ir, c->ptx = bin, c->sites = sites;
        c->nsites = (int)nsites;
        c->args_size = 8 * (size_t)fn->nparams;
        symbol = ir = bin = NULL, sites = NULL, got = 0;
        *code = c;
        ret = 0;
        goto out;
    }
    ember_status s;
    Py_BEGIN_ALLOW_THREADS
    s = host_load(fn->is_kernel, bin, bin_size, symbol, ir, (const char *const *)sites,
                  (int)nsites, hk);
    Py_END_ALLOW_THREADS
    if (s != EMBER_SUCCESS)
        ext_raise(st, s, "loading cached machine code");
    else
        ret = 0;
    goto out;
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "compile_kernel: the cached code is damaged or was "
                        "made for another target");
out:
    em_free(symbol);
    em_free(ir);
    em_free(bin);
    for (uint32_t i = 0; i < got; i++)
        em_free(sites[i]);
    em_free(sites);
    return ret;
}

/* _devices_open() -> bool (tests: an ember.jit call must not open them) */
PyObject *ext_devices_open(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(registry_is_ready());
}

/* host_target() -> str: the host CPU and LLVM the JIT compiles for */
PyObject *ext_host_target(PyObject *module, PyObject *unused)
{
    char *s = host_target_description();
    if (!s)
        return PyErr_NoMemory();
    PyObject *r = PyUnicode_FromString(s);
    em_free(s);
    return r;
}

/* Whether the typed body n finishes in a bounded, small number of steps:
 * no loop, recursion, reduction over an array, array creation (its fill is
 * a loop) or print. Releasing and taking back the GIL costs about 20 ns,
 * more than such a call runs (hypot(3.0, 4.0)); every other call releases
 * it. */
static bool runs_briefly(const Node *n, int depth)
{
    if (!n)
        return true;
    if (depth > 64)
        return false;
    switch (n->kind) {
    case ND_WHILE: case ND_FOR_RANGE: case ND_NEW_ARRAY: case ND_PRINT:
    case ND_ARRAY_EXPR: case ND_ARRAY_ASSIGN:
        return false;
    case ND_ATTR:
        if (n->op == ATTR_SUM || n->op == ATTR_PROD || n->op == ATTR_MIN ||
            n->op == ATTR_MAX || n->op == ATTR_MEAN || n->op >= ATTR_ARGMIN)
            return false;
        break;
    case ND_CALL:
        if (!n->spec || n->spec->recursive || !runs_briefly(n->spec->body, depth + 1))
            return false;
        break;
    default:
        break;
    }
    if (!runs_briefly(n->a, depth) || !runs_briefly(n->b, depth) || !runs_briefly(n->c, depth))
        return false;
    for (int i = 0; i < n->nargs; i++)
        if (!runs_briefly(n->args[i], depth))
            return false;
    return true;
}

/* _ember.intrinsics(): core/intrinsics.def as data for the front end. */
PyObject *ext_intrinsics(PyObject *module, PyObject *unused)
{
    static const char *const kinds[] = {
        [INTRK_INDEX] = "index", [INTRK_THREAD] = "thread", [INTRK_PLAIN] = "plain",
        [INTRK_WARP_MASK] = "warp_mask", [INTRK_WARP] = "warp", [INTRK_BLOCK] = "block",
        [INTRK_HOST] = "host"};
    (void)module;
    (void)unused;
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < INTR_COUNT; i++) {
        const IntrinsicInfo *in = &ir_intrinsics[i];
        PyObject *v = Py_BuildValue("(siis)", in->label, in->min_args, in->max_args,
                                    kinds[in->kind]);
        if (!v || PyDict_SetItemString(d, in->name, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

PyObject *ext_compile_kernel(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"tree", "param_types", "opt_level", "boundscheck",
                                        "fastmath", "target", "cc", "lineinfo", "debug",
                                        "return_type", "cached", NULL};
    PyObject *a[11];
    if (ext_parse("compile_kernel", args, nargs, kwnames, names, 2, a) < 0)
        return NULL;
    int boundscheck = a[3] ? PyObject_IsTrue(a[3]) : 0;
    int fastmath = a[4] ? PyObject_IsTrue(a[4]) : 0;
    int lineinfo = a[7] ? PyObject_IsTrue(a[7]) : 0;
    int debug = a[8] ? PyObject_IsTrue(a[8]) : 0;
    if (boundscheck < 0 || fastmath < 0 || lineinfo < 0 || debug < 0)
        return NULL;
    bool cuda = false;
    if (a[5] && a[5] != Py_None) {
        if (PyUnicode_Check(a[5]) && PyUnicode_CompareWithASCIIString(a[5], "cuda") == 0)
            cuda = true;
        else if (!PyUnicode_Check(a[5]) || PyUnicode_CompareWithASCIIString(a[5], "cpu") != 0) {
            PyErr_Format(PyExc_ValueError, "target must be 'cpu' or 'cuda', not %R", a[5]);
            return NULL;
        }
    }
    int cc[2] = {9, 0};
    if (a[6] && a[6] != Py_None &&
        !PyArg_ParseTuple(a[6], "ii;cc must be (major, minor)", &cc[0], &cc[1]))
        return NULL;
    ext_state *st = ext_state_of_module(module);
    int64_t opt = 3;
    if (a[2] && ext_int64(a[2], "opt_level", &opt) < 0)
        return NULL;
    if (opt < 0 || opt > 3) {
        PyErr_Format(PyExc_ValueError, "opt_level must be 0 to 3, not %lld", (long long)opt);
        return NULL;
    }
    size_t args_size = 0;
    ext_kernel *k = NULL;
    Function *fn = build_typed(st, a[0], a[1], a[9], &args_size);
    if (!fn)
        return NULL;
    Py_ssize_t np_ = fn->nparams;
    HostKernel *hk = NULL;
    CudaCode *code = NULL;
    ember_status s;
    fn->boundscheck = boundscheck != 0;
    fn->zero_division_raises = debug != 0; /* numba: debug=True, Python's error model */
    fn->fastmath = fastmath != 0;
    NvvmOptions nopt = {.cc_major = cc[0], .cc_minor = cc[1], .opt_level = opt ? 3 : 0,
                        .fastmath = fastmath != 0, .lineinfo = lineinfo != 0,
                        .debug = debug != 0};
    if (nopt.debug)
        nopt.opt_level = 0;
    if (a[10] && a[10] != Py_None) { /* the disk cache's code for this tree */
        if (restore_cached(st, a[10], fn, cuda, cc, &hk, &code) < 0)
            goto fail;
        s = EMBER_SUCCESS;
    } else {
        Py_BEGIN_ALLOW_THREADS
        if (cuda)
            s = cuda_compile(fn, &nopt, &code);
        else
            s = host_compile(fn, (int)opt, &hk);
        Py_END_ALLOW_THREADS
    }
    if (s != EMBER_SUCCESS) {
        if (fn->err[0])
            raise_typing(st, fn);
        else
            ext_raise(st, s, "compiling the kernel");
        goto fail;
    }
    k = PyObject_New(ext_kernel, st->kernel_type);
    if (!k) {
        host_kernel_destroy(hk);
        cuda_code_destroy(code);
        goto fail;
    }
    k->fn = fn;
    k->hk = hk;
    k->cuda = code;
    k->cc[0] = cc[0];
    k->cc[1] = cc[1];
    k->args_size = args_size;
    k->brief = !fn->is_kernel && runs_briefly(fn->body, 0);
    k->static_shared = 0;
    k->llvm_ir = NULL;
    k->written = PyTuple_New(np_);
    fn = NULL;
    if (!k->written) {
        Py_CLEAR(k);
        goto fail;
    }
    for (Py_ssize_t i = 0; i < np_; i++) {
        PyObject *v = k->fn->param_written[i] ? Py_True : Py_False;
        Py_INCREF(v);
        PyTuple_SET_ITEM(k->written, i, v);
    }
fail:
    ir_function_destroy(fn);
    return (PyObject *)k;
}

/* lower_nvvm(tree, param_types, boundscheck=False, nvvmir=(2, 0)) ->
 * (text, bitcode, support text or None): the kernel as NVVM IR (the CUDA
 * target's lowering, no libNVVM). */
PyObject *ext_lower_nvvm(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"tree", "param_types", "boundscheck", "nvvmir", NULL};
    PyObject *a[4];
    if (ext_parse("lower_nvvm", args, nargs, kwnames, names, 2, a) < 0)
        return NULL;
    int boundscheck = a[2] ? PyObject_IsTrue(a[2]) : 0;
    if (boundscheck < 0)
        return NULL;
    int ver[2] = {2, 0};
    if (a[3] && !PyArg_ParseTuple(a[3], "ii;nvvmir must be (major, minor)", &ver[0], &ver[1]))
        return NULL;
    ext_state *st = ext_state_of_module(module);
    size_t args_size = 0;
    Function *fn = build_typed(st, a[0], a[1], NULL, &args_size);
    if (!fn)
        return NULL;
    fn->boundscheck = boundscheck != 0;
    CudaCode *code = NULL;
    PyObject *result = NULL;
    ember_status s = cuda_lower(fn, ver[0], ver[1], &code);
    if (s != EMBER_SUCCESS) {
        if (fn->err[0])
            raise_typing(st, fn);
        else
            ext_raise(st, s, "lowering for CUDA");
    } else {
        result = Py_BuildValue("(sy#z)", code->nvvm_ir, (const char *)code->bitcode,
                               (Py_ssize_t)code->bitcode_size, code->support_ir);
    }
    cuda_code_destroy(code);
    ir_function_destroy(fn);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Argument packing (core/ir.h "Argument ABI")                              */
/* ------------------------------------------------------------------------ */

static bool record_bytes_fit(const Type *t, const ember_array *arr);

/* The element type an array of `elem` is stored as: datetime64 and
 * timedelta64 arrays come as int64 views of their memory (dispatcher.py). */
static const Type *storage_elem(const Type *elem)
{
    return ty_is_time(elem) ? ty_scalar(TY_I64) : elem;
}

/* A NumPy array for array parameter `t` of a function on the cpu device
 * (ember.jit calls): packed over NumPy's own memory, so stores land in the
 * caller's array. Its dtype, ndim, layout and writeability must fit `t`. */
static int pack_numpy(const Type *t, PyArrayObject *a, char *buf, size_t *off,
                      const char *what, ember_device_t dev)
{
    ember_device_t cpu = NULL;
    if (dev && (ember_device_get(EMBER_DEVICE_CPU, 0, &cpu) != EMBER_SUCCESS || dev != cpu)) {
        PyErr_Format(PyExc_TypeError, "%s: a NumPy array can only be passed to code running "
                     "on the cpu device; copy it to the device first", what);
        return -1;
    }
    ember_dtype dt;
    char ts[256];
    int flags = PyArray_FLAGS(a);
    if (ext_dtype_of_descr(PyArray_DESCR(a), &dt) < 0)
        return -1;
    bool fits;
    if (t->elem->kind == TY_RECORD) { /* the records' bytes: uint8, one more dimension */
        ember_array view = {.dtype = dt, .ndim = PyArray_NDIM(a)};
        for (int i = 0; i < view.ndim && i < EMBER_MAX_NDIM; i++) {
            view.shape[i] = (int64_t)PyArray_DIMS(a)[i];
            view.strides[i] = (int64_t)PyArray_STRIDES(a)[i];
        }
        fits = view.ndim <= EMBER_MAX_NDIM && record_bytes_fit(t, &view);
    } else {
        fits = ty_from_dtype(dt) == storage_elem(t->elem) && PyArray_NDIM(a) == t->ndim &&
               !(t->layout == 'C' && !(flags & NPY_ARRAY_C_CONTIGUOUS)) &&
               !(t->layout == 'F' && !(flags & NPY_ARRAY_F_CONTIGUOUS));
    }
    if (!fits) {
        PyErr_Format(PyExc_TypeError, "%s: the array (%s, %d-d) does not match the compiled "
                     "parameter type %s", what, ember_dtype_name(dt), PyArray_NDIM(a),
                     ty_str(t, ts, sizeof ts));
        return -1;
    }
    if (!t->readonly && !(flags & NPY_ARRAY_WRITEABLE)) {
        PyErr_Format(PyExc_TypeError, "%s: the array is read-only, but the parameter type %s "
                     "is not", what, ty_str(t, ts, sizeof ts));
        return -1;
    }
    uint64_t data = (uint64_t)(uintptr_t)PyArray_DATA(a);
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = (int64_t)PyArray_DIMS(a)[i];
        strides[i] = (int64_t)PyArray_STRIDES(a)[i];
    }
    memcpy(buf + *off, &data, 8);
    memcpy(buf + *off + 8, shape, 8 * (size_t)t->ndim);
    memcpy(buf + *off + 8 + 8 * (size_t)t->ndim, strides, 8 * (size_t)t->ndim);
    *off += abi_size(t);
    return 0;
}

/* Whether `arr` holds the records of array type `t`: an EMBER_RECORD
 * array of records of t's size, or their bytes (a uint8 array with one more
 * dimension, the last of the record's size with stride 1); either in the
 * layout t asks for in units of records. */
static bool record_bytes_fit(const Type *t, const ember_array *arr)
{
    int nd = t->ndim;
    if (arr->dtype == EMBER_RECORD) {
        if (arr->ndim != nd || arr->itemsize != (int64_t)t->elem->size)
            return false;
    } else if (arr->dtype != EMBER_UINT8 || arr->ndim != nd + 1 ||
               arr->shape[nd] != t->elem->size || (arr->strides[nd] != 1 && arr->shape[nd] > 1)) {
        return false;
    }
    int64_t c = t->elem->size, f = t->elem->size;
    for (int i = 0; i < nd; i++) { /* contiguity with records as the items */
        int ci = nd - 1 - i;
        if (t->layout == 'C' && arr->shape[ci] > 1 && arr->strides[ci] != c)
            return false;
        if (t->layout == 'F' && arr->shape[i] > 1 && arr->strides[i] != f)
            return false;
        c *= arr->shape[ci];
        f *= arr->shape[i];
    }
    return true;
}

/* Packs value `v` for parameter type `t` at buf + *off, for code running on
 * `dev` (NULL: an ember.jit call on the calling thread). `what` names the
 * argument in error messages; the launch passes NULL first (formatting a
 * name per argument costs more than the packing) and, when packing fails,
 * packs again with the name to raise the exception the user sees. */
static int pack(ext_state *st, const Type *t, PyObject *v, char *buf, size_t *off,
                const char *what, ember_device_t dev, ember_stream_t stream)
{
    char sub[200];
    bool named = what != NULL;
    if (!named)
        what = "argument";
    if (t->kind == TY_ARRAY && PyArray_Check(v))
        return pack_numpy(t, (PyArrayObject *)v, buf, off, what, dev);
    if (t->kind == TY_ARRAY) {
        if (!ext_array_check(st, v)) {
            PyErr_Format(PyExc_TypeError, "%s: expected a device array, not %.100s", what,
                         Py_TYPE(v)->tp_name);
            return -1;
        }
        const ember_array *arr = &((ext_array *)v)->arr;
        if (!arr->buffer) {
            PyErr_Format(PyExc_ValueError, "%s: uninitialised array", what);
            return -1;
        }
        char ts[256];
        /* an array of records: a record device array, or its bytes (uint8
         * with one more dimension, dispatcher.py _record_bytes) */
        bool rec = t->elem->kind == TY_RECORD;
        if (rec && !record_bytes_fit(t, arr)) {
            PyErr_Format(PyExc_TypeError, "%s: the array (%s, %d-d) does not hold the records "
                         "of the compiled parameter type %s", what, ember_dtype_name(arr->dtype),
                         arr->ndim, ty_str(t, ts, sizeof ts));
            return -1;
        }
        if (!rec && (ty_from_dtype(arr->dtype) != storage_elem(t->elem) || arr->ndim != t->ndim ||
            (t->layout == 'C' && !ember_array_is_c_contiguous(arr)) ||
            (t->layout == 'F' && !ember_array_is_f_contiguous(arr)))) {
            PyErr_Format(PyExc_TypeError, "%s: the array (%s, %d-d) does not match the "
                         "compiled parameter type %s", what, ember_dtype_name(arr->dtype),
                         arr->ndim, ty_str(t, ts, sizeof ts));
            return -1;
        }
        ember_device_t adev = ember_buffer_device(arr->buffer);
        ember_device_info ainfo;
        if (!dev && (ember_device_get_info(adev, &ainfo) || ainfo.kind != EMBER_DEVICE_CPU)) {
            PyErr_Format(PyExc_ValueError, "%s: an ember.jit function runs on the host and "
                         "reads host memory; this array lives on a GPU: copy it to the host "
                         "first (copy_to_host())", what);
            return -1;
        }
        if (dev && adev != dev) {
            ember_device_info have, want;
            if (ember_device_get_info(adev, &have) || ember_device_get_info(dev, &want))
                PyErr_Format(PyExc_ValueError, "%s: the array lives on another device", what);
            else
                PyErr_Format(PyExc_ValueError, "%s: the array lives on %s:%d, but the kernel "
                             "runs on %s:%d; copy it there first", what,
                             have.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda", have.ordinal,
                             want.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda", want.ordinal);
            return -1;
        }
        /* a launch on a stream uses the buffer there: the pool must not hand
         * it to another stream before that work is done */
        ember_status rs = stream ? ember_buffer_record_stream(arr->buffer, stream)
                                 : EMBER_SUCCESS;
        if (rs != EMBER_SUCCESS) {
            ext_raise(st, rs, what);
            return -1;
        }
        uint64_t data = ember_buffer_device_ptr(arr->buffer) + (uint64_t)arr->offset;
        memcpy(buf + *off, &data, 8);
        memcpy(buf + *off + 8, arr->shape, 8 * (size_t)t->ndim);
        memcpy(buf + *off + 8 + 8 * (size_t)t->ndim, arr->strides, 8 * (size_t)t->ndim);
        *off += abi_size(t);
        return 0;
    }
    if (t->kind == TY_TUPLE) {
        if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) != t->nfields) {
            PyErr_Format(PyExc_TypeError, "%s: expected a tuple of %d items", what, t->nfields);
            return -1;
        }
        for (int i = 0; i < t->nfields; i++) {
            const char *name = NULL;
            if (named) {
                snprintf(sub, sizeof sub, "%s[%d]", what, i);
                name = sub;
            }
            if (pack(st, t->fields[i], PyTuple_GET_ITEM(v, i), buf, off, name, dev, stream) < 0)
                return -1;
        }
        return 0;
    }
    char *slot = buf + *off;
    size_t slot_size = abi_size(t);
    memset(slot, 0, slot_size);
    if (t->kind == TY_BOOL) {
        int b = PyObject_IsTrue(v);
        if (b < 0)
            return -1;
        *(uint8_t *)slot = (uint8_t)b;
    } else if (ty_is_int(t) || ty_is_time(t)) { /* a time value comes as its int64 count */
        PyObject *idx = PyNumber_Index(v);
        if (!idx) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: expected an integer, not %.100s", what,
                         Py_TYPE(v)->tp_name);
            return -1;
        }
        int bits = ty_bits(t);
        bool ok;
        uint64_t u = 0;
        if (ty_is_signed(t) || ty_is_time(t)) {
            /* -2**(n-1) .. 2**n - 1: a value above the type's maximum is
             * taken as the bit pattern it spells (0xFFFFFFFF for an int32
             * is -1), as numba's ctypes packing and C hex literals do;
             * datetime/timedelta counts are plain int64 */
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(idx, &overflow);
            if (overflow > 0 && bits == 64 && !ty_is_time(t)) {
                unsigned long long ux = PyLong_AsUnsignedLongLong(idx);
                ok = !(ux == (unsigned long long)-1 && PyErr_Occurred());
                u = ux;
            } else {
                ok = !overflow && !(x == -1 && PyErr_Occurred()) &&
                     (bits == 64 || (x >= -(1LL << (bits - 1)) && x < (1LL << bits)));
                u = (uint64_t)x;
            }
        } else {
            unsigned long long x = PyLong_AsUnsignedLongLong(idx);
            ok = !(x == (unsigned long long)-1 && PyErr_Occurred()) &&
                 (bits == 64 || (x >> bits) == 0);
            u = x;
        }
        if (!ok) {
            PyErr_Clear();
            char ts[64];
            PyErr_Format(PyExc_OverflowError, "%s: %R does not fit in %s", what, idx,
                         ty_str(t, ts, sizeof ts));
            Py_DECREF(idx);
            return -1;
        }
        Py_DECREF(idx);
        memcpy(slot, &u, (size_t)bits / 8); /* little-endian: the low bytes */
    } else if (ty_is_float(t)) {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        if (t->kind == TY_F32) {
            float f = (float)d;
            memcpy(slot, &f, 4);
        } else if (t->kind == TY_F16) { /* rounded to nearest, ties to even */
            if (PyFloat_Pack2(d, slot, 1) < 0)
                return -1;
        } else {
            memcpy(slot, &d, 8);
        }
    } else if (ty_is_complex(t)) {
        Py_complex c = PyComplex_AsCComplex(v);
        if (c.real == -1.0 && PyErr_Occurred())
            return -1;
        if (t->kind == TY_C64) {
            float f[2] = {(float)c.real, (float)c.imag};
            memcpy(slot, f, 8);
        } else {
            memcpy(slot, &c.real, 8);
            memcpy(slot + 8, &c.imag, 8);
        }
    } else {
        PyErr_Format(PyExc_TypeError, "%s: parameter type not supported", what);
        return -1;
    }
    *off += slot_size;
    return 0;
}

int ext_dims3(PyObject *obj, const char *what, int64_t out[3])
{
    if (!PyTuple_Check(obj) && !PyList_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple of 3 ints", what);
        return -1;
    }
    if (PySequence_Size(obj) != 3) {
        PyErr_Format(PyExc_ValueError, "%s must have 3 items", what);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        PyObject *e = PySequence_GetItem(obj, i);
        if (!e)
            return -1;
        int r = ext_int64(e, what, &out[i]);
        Py_DECREF(e);
        if (r < 0)
            return -1;
        if (out[i] < 1 || out[i] > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s[%d] is %lld: it must be in 1 .. 2**31-1", what,
                         i, (long long)out[i]);
            return -1;
        }
    }
    return 0;
}

/* Packs args[0 .. fn->nparams) into buf (fn's args size) for a kernel on
 * `dev`; -1 with an exception naming the argument. */
static int pack_all(ext_state *st, const Function *fn, PyObject *const *args, char *buf,
                    ember_device_t dev, ember_stream_t stream)
{
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++) {
        if (pack(st, fn->param_types[i], args[i], buf, &off, NULL, dev, stream) < 0) {
            /* Again with the argument's name, for the message. */
            char what[160];
            snprintf(what, sizeof what, "argument %d ('%s')", i + 1, fn->param_names[i]);
            PyErr_Clear();
            off = 0;
            for (int j = 0; j <= i; j++)
                if (pack(st, fn->param_types[j], args[j], buf, &off, j == i ? what : NULL,
                         dev, NULL) < 0)
                    break;
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "%s: cannot be packed", what);
            return -1;
        }
    }
    return 0;
}

/* Kernel.pack(args, kind, ordinal) -> bytes: the packed argument buffer for
 * a launch on that device (the CUDA launch path hands it to the driver). */
static PyObject *kernel_pack(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"args", "kind", "ordinal", "stream", NULL};
    PyObject *a[4];
    if (ext_parse("pack", args, nargs, kwnames, names, 3, a) < 0)
        return NULL;
    ember_stream_t stream = NULL;
    if (ext_stream_arg(ext_state_of_type(Py_TYPE(obj)), a[3], "stream", &stream, NULL) < 0)
        return NULL;
    ext_kernel *self = (ext_kernel *)obj;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    Function *fn = self->fn;
    if (!PyTuple_Check(a[0]) || PyTuple_GET_SIZE(a[0]) != fn->nparams) {
        PyErr_Format(PyExc_TypeError, "pack: args must be a tuple of %d values", fn->nparams);
        return NULL;
    }
    int64_t ordinal;
    if (ext_int64(a[2], "ordinal", &ordinal) < 0)
        return NULL;
    ember_device_kind kind;
    if (PyUnicode_Check(a[1]) && PyUnicode_CompareWithASCIIString(a[1], "cuda") == 0)
        kind = EMBER_DEVICE_CUDA;
    else if (PyUnicode_Check(a[1]) && PyUnicode_CompareWithASCIIString(a[1], "cpu") == 0)
        kind = EMBER_DEVICE_CPU;
    else {
        PyErr_Format(PyExc_ValueError, "pack: kind must be 'cpu' or 'cuda', not %R", a[1]);
        return NULL;
    }
    ember_device_t dev = NULL;
    ember_status s = ember_init();
    if (s == EMBER_SUCCESS)
        s = ember_device_get(kind, (int)ordinal, &dev);
    if (s != EMBER_SUCCESS)
        return ext_raise(st, s, "pack");
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)self->args_size);
    if (!out)
        return NULL;
    if (self->args_size)
        memset(PyBytes_AS_STRING(out), 0, self->args_size);
    if (pack_all(st, fn, &PyTuple_GET_ITEM(a[0], 0), PyBytes_AS_STRING(out), dev, stream) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

int ext_kernel_run_cuda(PyObject *kernel, PyObject *function, ember_device_t dev,
                        const int64_t grid[3], const int64_t block[3], size_t shared,
                        PyObject *const *args, Py_ssize_t nargs)
{
    ext_kernel *self = (ext_kernel *)kernel;
    ext_state *st = ext_state_of_type(Py_TYPE(kernel));
    if (!self->cuda || nargs != self->fn->nparams) {
        PyErr_SetString(PyExc_TypeError, "launch: not a CUDA kernel for these arguments");
        return -1;
    }
    char small[512];
    char *buf = self->args_size <= sizeof small ? small : PyMem_Malloc(self->args_size);
    if (!buf) {
        PyErr_NoMemory();
        return -1;
    }
    int r = pack_all(st, self->fn, args, buf, dev, NULL);
    if (r == 0)
        r = ext_module_kernel_launch(function, grid, block, shared, buf, self->args_size);
    if (buf != small)
        PyMem_Free(buf);
    return r;
}

/* The bytes [*lo, *hi) array argument v spans (empty for other values). */
static void arg_span(ext_state *st, PyObject *v, uintptr_t *lo, uintptr_t *hi)
{
    *lo = *hi = 0;
    int nd;
    const int64_t *shape, *strides;
    int64_t shape_np[EMBER_MAX_NDIM], strides_np[EMBER_MAX_NDIM];
    uintptr_t base;
    size_t item;
    if (PyArray_Check(v)) {
        PyArrayObject *a = (PyArrayObject *)v;
        nd = PyArray_NDIM(a) < EMBER_MAX_NDIM ? PyArray_NDIM(a) : EMBER_MAX_NDIM;
        for (int i = 0; i < nd; i++) {
            shape_np[i] = PyArray_DIMS(a)[i];
            strides_np[i] = PyArray_STRIDES(a)[i];
        }
        shape = shape_np;
        strides = strides_np;
        base = (uintptr_t)PyArray_DATA(a);
        item = (size_t)PyArray_ITEMSIZE(a);
    } else if (ext_array_check(st, v) && ((ext_array *)v)->arr.buffer) {
        const ember_array *arr = &((ext_array *)v)->arr;
        nd = arr->ndim;
        shape = arr->shape;
        strides = arr->strides;
        base = (uintptr_t)(ember_buffer_device_ptr(arr->buffer) + (uint64_t)arr->offset);
        item = (size_t)arr->itemsize;
    } else {
        return;
    }
    intptr_t first = 0, last = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 0)
            return;
        intptr_t step = (intptr_t)((shape[i] - 1) * strides[i]);
        if (step < 0)
            first += step;
        else
            last += step;
    }
    *lo = base + (uintptr_t)first;
    *hi = base + (uintptr_t)last + item;
}

bool ext_kernel_args_disjoint(PyObject *kernel, PyObject *const *args, Py_ssize_t nargs)
{
    ext_kernel *self = (ext_kernel *)kernel;
    ext_state *st = ext_state_of_type(Py_TYPE(kernel));
    const Function *fn = self->fn;
    for (Py_ssize_t i = 0; i < nargs && i < fn->nparams; i++) {
        if (!fn->param_written[i] || !PyArray_Check(args[i]))
            continue;
        uintptr_t lo, hi;
        arg_span(st, args[i], &lo, &hi);
        for (Py_ssize_t j = 0; j < nargs; j++) {
            uintptr_t lo2, hi2;
            if (j == i)
                continue;
            arg_span(st, args[j], &lo2, &hi2);
            if (lo < hi && lo2 < hi2 && lo < hi2 && lo2 < hi)
                return false;
        }
    }
    return true;
}

/* The interrupt hook of a cpu-device launch (HostInterrupt), called on the
 * launching thread without the GIL about every 20 ms: takes the GIL and
 * runs Python's pending signal handlers (only on the main thread), so that
 * Ctrl-C raises KeyboardInterrupt during a long launch. True, with the
 * exception set, when a handler raised: the launch stops. `ctx` is the
 * thread state PyEval_SaveThread gave. */
static bool launch_signals(void *ctx)
{
    PyEval_RestoreThread((PyThreadState *)ctx);
    int raised = PyErr_CheckSignals();
    PyEval_SaveThread();
    return raised < 0;
}

/* Sets the exception a `raise` (or failed `assert`) at fault site `site`
 * stands for: python/ember/_compiler/_raises.py kernel_exception builds it
 * from the class and arguments the front end recorded for that site; `w` is
 * the thread's threadIdx and blockIdx (in_kernel: named in the message). */
static void raise_from_site(ext_kernel *self, int site, const int w[6], bool in_kernel)
{
    const char *where = host_kernel_site(self->hk, site);
    PyObject *m = PyImport_ImportModule("ember._compiler._raises");
    if (!m)
        return;
    PyObject *exc = PyObject_CallMethod(m, "kernel_exception", "ssO(iii)(iii)", where,
                                        self->fn->name, in_kernel ? Py_True : Py_False,
                                        w[0], w[1], w[2], w[3], w[4], w[5]);
    Py_DECREF(m);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* A graph's hold on what a captured launch uses (graph.c runs its
 * destruction with the GIL held). */
static void release_keep(void *keep) { Py_XDECREF((PyObject *)keep); }

int ext_kernel_run(PyObject *kernel, const int64_t grid[3], const int64_t block[3],
                   size_t shared, PyObject *const *args, Py_ssize_t nargs)
{
    return ext_kernel_run_on(kernel, grid, block, shared, args, nargs, NULL);
}

int ext_kernel_run_on(PyObject *kernel, const int64_t grid[3], const int64_t block[3],
                      size_t shared, PyObject *const *args, Py_ssize_t nargs,
                      ember_stream_t stream)
{
    ext_kernel *self = (ext_kernel *)kernel;
    ext_state *st = ext_state_of_type(Py_TYPE(kernel));
    Function *fn = self->fn;
    if (!self->hk) {
        PyErr_Format(PyExc_ValueError, "kernel %s was compiled for CUDA; it runs through a "
                     "module loaded on a CUDA device, not on the cpu device", fn->name);
        return -1;
    }
    if (nargs != fn->nparams) {
        PyErr_Format(PyExc_TypeError, "launch: args must be a tuple of %d values", fn->nparams);
        return -1;
    }
    char small[512];
    char *buf = self->args_size <= sizeof small ? small : PyMem_Malloc(self->args_size);
    if (!buf) {
        PyErr_NoMemory();
        return -1;
    }
    ember_status s = ember_init();
    ember_device_t cpu = NULL;
    if (s == EMBER_SUCCESS)
        s = ember_device_get(EMBER_DEVICE_CPU, 0, &cpu);
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, "launch");
        goto fail;
    }
    if (pack_all(st, fn, args, buf, cpu, NULL) < 0)
        goto fail;
    /* the block's shared memory in all: the kernel's static arrays and the
     * launch's dynamic ones (host_launch checks a kernel without static) */
    if (!self->static_shared)
        self->static_shared = fission_static_shared_bytes(fn) + 1;
    if (self->static_shared > 1 &&
        shared > (size_t)(HOST_OPTIN_SHARED_BYTES - (self->static_shared - 1))) {
        PyErr_Format(PyExc_ValueError, "%s: %zu bytes of dynamic shared memory per block (the "
                     "launch's sharedmem) plus the kernel's %lld bytes of static shared memory "
                     "are above the cpu device's limit of %d bytes per block (the opt-in limit "
                     "of compute capability 9.0)", fn->name, shared,
                     (long long)(self->static_shared - 1), HOST_OPTIN_SHARED_BYTES);
        goto fail;
    }
    if (ember_stream_is_capturing(stream)) {
        /* recorded, not run: the graph keeps the kernel and the arguments
         * (their memory) alive while it may replay them */
        PyObject *keep = PyTuple_New(nargs + 1);
        if (!keep)
            goto fail;
        Py_INCREF(kernel);
        PyTuple_SET_ITEM(keep, 0, kernel);
        for (Py_ssize_t i = 0; i < nargs; i++) {
            Py_INCREF(args[i]);
            PyTuple_SET_ITEM(keep, i + 1, args[i]);
        }
        s = host_capture_launch(ember_stream_native(stream), self->hk, grid, block, shared, buf,
                                self->args_size, keep, release_keep);
        if (s != EMBER_SUCCESS) {
            Py_DECREF(keep);
            ext_raise(st, s, "graph capture");
            goto fail;
        }
        if (buf != small)
            PyMem_Free(buf);
        return 0;
    }
    if ((s = ember_stream_check_capture(cpu, stream, "launch a kernel")) != EMBER_SUCCESS) {
        char context[300];
        snprintf(context, sizeof context, "kernel %s", self->fn->name);
        ext_raise(st, s, context);
        goto fail;
    }
    PyThreadState *ts = PyEval_SaveThread();
    HostInterrupt intr = {launch_signals, ts};
    s = host_launch_interruptible(self->hk, cpu, grid, block, shared, buf, &intr);
    PyEval_RestoreThread(ts);
    if (PyErr_Occurred()) { /* a signal handler raised (KeyboardInterrupt) */
        ember_clear_error();
        goto fail;
    }
    int site, w[6];
    if (s == EMBER_ERR_KERNEL_FAULT && sscanf(ember_last_error(), HOST_RAISE_FORMAT, &site, &w[0],
                                              &w[1], &w[2], &w[3], &w[4], &w[5]) == 7) {
        ember_clear_error();
        raise_from_site(self, site, w, true);
        goto fail;
    }
    if (s != EMBER_SUCCESS) {
        char context[300];
        snprintf(context, sizeof context, "kernel %s", self->fn->name);
        ext_raise(st, s, context);
        goto fail;
    }
    if (buf != small)
        PyMem_Free(buf);
    return 0;
fail:
    if (buf != small)
        PyMem_Free(buf);
    return -1;
}

static PyObject *kernel_launch(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"grid", "block", "args", "sharedmem", "stream", NULL};
    PyObject *a[5];
    if (ext_parse("launch", args, nargs, kwnames, names, 3, a) < 0)
        return NULL;
    ember_stream_t stream = NULL;
    ember_device_t sdev = NULL;
    if (ext_stream_arg(ext_state_of_type(Py_TYPE(obj)), a[4], "stream", &stream, &sdev) < 0)
        return NULL;
    if (sdev && ember_device_get_kind(sdev) != EMBER_DEVICE_CPU) {
        PyErr_SetString(PyExc_ValueError, "launch: the stream is on a CUDA device, but this "
                        "launch runs on the cpu device");
        return NULL;
    }
    size_t shared = 0;
    if (a[3] && a[3] != Py_None) {
        shared = PyLong_AsSize_t(a[3]);
        if (shared == (size_t)-1 && PyErr_Occurred())
            return NULL;
    }
    int64_t grid[3], block[3];
    if (ext_dims3(a[0], "grid", grid) < 0 || ext_dims3(a[1], "block", block) < 0)
        return NULL;
    int64_t per_block; /* each extent is below 2**31: the product may overflow */
    if (__builtin_mul_overflow(block[0] * block[1], block[2], &per_block) || per_block > 1024) {
        PyErr_SetString(PyExc_ValueError, "more than 1024 threads per block");
        return NULL;
    }
    if (!PyTuple_Check(a[2])) {
        PyErr_Format(PyExc_TypeError, "launch: args must be a tuple of %d values",
                     ((ext_kernel *)obj)->fn->nparams);
        return NULL;
    }
    if (ext_kernel_run_on(obj, grid, block, shared, &PyTuple_GET_ITEM(a[2], 0),
                          PyTuple_GET_SIZE(a[2]), stream) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* What a returned array may point into: the call's arena, whose blocks
 * go to NumPy, or the arrays it was passed (packed in `args`). */
typedef struct {
    HostArena *arena;
    const Function *fn;
    PyObject *const *args; /* the call's arguments */
    const char *packed;    /* ... as packed (Argument ABI) */
    PyObject *owners;      /* dict: block address -> the capsule owning the block (or NULL) */
} ReturnCtx;

static const char *const block_capsule_name = "ember.jit array memory";

static void block_capsule_free(PyObject *capsule)
{
    host_block_free(PyCapsule_GetPointer(capsule, block_capsule_name));
}

static int elem_typenum(const Type *elem)
{
    switch (elem->kind) {
    case TY_BOOL: return NPY_BOOL;
    case TY_I8: return NPY_INT8;
    case TY_I16: return NPY_INT16;
    case TY_I32: return NPY_INT32;
    case TY_I64: return NPY_INT64;
    case TY_U8: return NPY_UINT8;
    case TY_U16: return NPY_UINT16;
    case TY_U32: return NPY_UINT32;
    case TY_U64: return NPY_UINT64;
    case TY_F16: return NPY_FLOAT16;
    case TY_F32: return NPY_FLOAT32;
    case TY_F64: return NPY_FLOAT64;
    case TY_C64: return NPY_COMPLEX64;
    default: return NPY_COMPLEX128;
    }
}

/* The argument array (a NumPy array or device array in args, also inside a
 * tuple argument) whose memory holds p, or NULL; *same: p, shape and
 * strides are the argument's own. */
static PyObject *find_argument(const Type *t, PyObject *obj, const char *packed, size_t *off,
                               const char *p, const int64_t *shape, const int64_t *strides,
                               int nd, bool *same)
{
    const char *at = packed + *off;
    *off += abi_size(t);
    if (t->kind == TY_TUPLE) {
        size_t o = (size_t)(at - packed);
        for (int i = 0; i < t->nfields; i++) {
            PyObject *item = PyTuple_Check(obj) && i < PyTuple_GET_SIZE(obj)
                                 ? PyTuple_GET_ITEM(obj, i) : obj;
            PyObject *r = find_argument(t->fields[i], item, packed, &o, p, shape, strides, nd,
                                        same);
            if (r)
                return r;
        }
        return NULL;
    }
    if (t->kind != TY_ARRAY)
        return NULL;
    const char *data;
    int64_t ashape[EMBER_MAX_NDIM], astrides[EMBER_MAX_NDIM];
    memcpy(&data, at, sizeof data);
    memcpy(ashape, at + 8, 8 * (size_t)t->ndim);
    memcpy(astrides, at + 8 + 8 * (size_t)t->ndim, 8 * (size_t)t->ndim);
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    const char *lo = data, *hi = data;
    bool empty = false;
    for (int i = 0; i < t->ndim; i++) {
        empty |= ashape[i] == 0;
        int64_t span = (ashape[i] - 1) * astrides[i];
        if (span < 0)
            lo += span;
        else
            hi += span;
    }
    if (!empty)
        hi += itemsize;
    if (p < lo || p > hi)
        return NULL;
    *same = p == data && nd == t->ndim && PyArray_Check(obj) &&
            memcmp(shape, ashape, 8 * (size_t)nd) == 0 &&
            memcmp(strides, astrides, 8 * (size_t)nd) == 0;
    return obj;
}

/* A returned array as a NumPy array: over a block of the call's arena
 * (taken out of it, owned by a capsule that is the array's base and frees
 * it with the last reference), over an argument's memory (the argument
 * itself when nothing changed, as numba, else a view whose base is the
 * argument), or else a copy (memory the call does not own). */
static PyObject *unpack_array(const Type *t, const char *p, ReturnCtx *ctx)
{
    int nd = t->ndim;
    char *data;
    int64_t shape[EMBER_MAX_NDIM], strides[EMBER_MAX_NDIM];
    memcpy(&data, p, sizeof data);
    memcpy(shape, p + 8, 8 * (size_t)nd);
    memcpy(strides, p + 8 + 8 * (size_t)nd, 8 * (size_t)nd);
    PyObject *base = NULL, *key, *value;
    Py_ssize_t pos = 0;
    while (ctx->owners && PyDict_Next(ctx->owners, &pos, &key, &value))
        if (host_block_contains(PyLong_AsVoidPtr(key), data)) { /* handed out already */
            Py_INCREF(value);
            base = value;
            break;
        }
    void *block = !base && ctx->arena ? host_arena_owner(ctx->arena, data) : NULL;
    if (block) {
        if (!ctx->owners && !(ctx->owners = PyDict_New()))
            return NULL;
        if (!(key = PyLong_FromVoidPtr(block)))
            return NULL;
        base = PyDict_GetItemWithError(ctx->owners, key);
        if (base) {
            Py_INCREF(base);
        } else if (!PyErr_Occurred()) {
            host_arena_detach(ctx->arena, block);
            base = PyCapsule_New(block, block_capsule_name, block_capsule_free);
            if (!base)
                host_block_free(block);
            else if (PyDict_SetItem(ctx->owners, key, base) < 0)
                Py_CLEAR(base);
        }
        Py_DECREF(key);
        if (!base)
            return NULL;
    } else if (!base) {
        size_t off = 0;
        for (int i = 0; !base && i < ctx->fn->nparams; i++) {
            bool same = false;
            PyObject *arg = find_argument(ctx->fn->param_types[i], ctx->args[i], ctx->packed,
                                          &off, data, shape, strides, nd, &same);
            if (arg && same && PyArray_DESCR((PyArrayObject *)arg)->type_num ==
                                   elem_typenum(t->elem)) {
                Py_INCREF(arg);
                return arg;
            }
            if (arg) {
                Py_INCREF(arg);
                base = arg;
            }
        }
    }
    npy_intp dims[EMBER_MAX_NDIM], st[EMBER_MAX_NDIM];
    for (int i = 0; i < nd; i++) {
        dims[i] = (npy_intp)shape[i];
        st[i] = (npy_intp)strides[i];
    }
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(elem_typenum(t->elem)),
                                         nd, dims, st, data,
                                         t->readonly ? 0 : NPY_ARRAY_WRITEABLE, NULL);
    if (!arr) {
        Py_XDECREF(base);
        return NULL;
    }
    if (!base) { /* not ours to hand out: a copy */
        Py_SETREF(arr, PyArray_NewCopy((PyArrayObject *)arr, NPY_CORDER));
        return arr;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, base) < 0) { /* steals base */
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* The Python object for a value of type t at buf + *off (advanced by
 * abi_size(t)): the Argument ABI of core/ir.h, as an ember.jit function
 * stores its return value. */
static PyObject *unpack_value(const Type *t, const char *buf, size_t *off, ReturnCtx *ctx)
{
    const char *p = buf + *off;
    *off += abi_size(t);
    if (t->kind == TY_ARRAY)
        return unpack_array(t, p, ctx);
    if (t->kind == TY_TUPLE) {
        PyObject *r = PyTuple_New(t->nfields);
        size_t at = (size_t)(p - buf);
        for (int i = 0; r && i < t->nfields; i++) {
            PyObject *f = unpack_value(t->fields[i], buf, &at, ctx);
            if (!f)
                Py_CLEAR(r);
            else
                PyTuple_SET_ITEM(r, i, f);
        }
        return r;
    }
    union { int8_t i8; int16_t i16; int32_t i32; int64_t i64; uint8_t u8; uint16_t u16;
            uint32_t u32; uint64_t u64; float f32[2]; double f64[2]; } v;
    memcpy(&v, p, ty_is_complex(t) && t->kind != TY_C64 ? 16 : 8);
    switch (t->kind) {
    case TY_BOOL: return PyBool_FromLong(v.u8 != 0);
    case TY_I8: return PyLong_FromLong(v.i8);
    case TY_I16: return PyLong_FromLong(v.i16);
    case TY_I32: return PyLong_FromLong(v.i32);
    case TY_I64: case TY_WEAK_INT: return PyLong_FromLongLong(v.i64);
    case TY_U8: return PyLong_FromLong(v.u8);
    case TY_U16: return PyLong_FromLong(v.u16);
    case TY_U32: return PyLong_FromUnsignedLong(v.u32);
    case TY_U64: return PyLong_FromUnsignedLongLong(v.u64);
    case TY_F16: return PyFloat_FromDouble(PyFloat_Unpack2(p, 1));
    case TY_BF16: { /* its bits are the top half of the float32 */
        uint32_t w = (uint32_t)v.u16 << 16;
        float f;
        memcpy(&f, &w, sizeof f);
        return PyFloat_FromDouble(f);
    }
    case TY_F32: return PyFloat_FromDouble(v.f32[0]);
    case TY_F64: case TY_WEAK_FLOAT: return PyFloat_FromDouble(v.f64[0]);
    case TY_C64: return PyComplex_FromDoubles(v.f32[0], v.f32[1]);
    case TY_C128: case TY_WEAK_COMPLEX: return PyComplex_FromDoubles(v.f64[0], v.f64[1]);
    case TY_DATETIME: case TY_TIMEDELTA: { /* np.datetime64(count, unit); NaT stays NaT */
        PyObject *cls = t->kind == TY_DATETIME ? (PyObject *)&PyDatetimeArrType_Type
                                               : (PyObject *)&PyTimedeltaArrType_Type;
        const char *unit = ty_time_unit_name(t->unit);
        return *unit ? PyObject_CallFunction(cls, "Ls", (long long)v.i64, unit)
                     : PyObject_CallFunction(cls, "L", (long long)v.i64);
    }
    default:
        PyErr_SetString(PyExc_TypeError, "call: return type not supported");
        return NULL;
    }
}

/* The exception of an ember.jit call that ended with a fault (d->fault
 * set): for the function `name`, whose sites are in hk. Needs the GIL; also
 * used by the ufunc loops (python/ext/ufunc.c). */
void ext_raise_call_fault(const char *name, const HostKernel *hk, const HostDims *d)
{
    if (d->fault == KERNEL_FAULT_INDEX) { /* fault_bytes 1: an index array's (always checked) */
        PyErr_Format(PyExc_IndexError, "%s: %s: %s", name, host_kernel_site(hk, d->fault_site),
                     d->fault_bytes == 1 ? "index out of bounds, or a boolean index whose "
                     "shape is not the array's" : "index out of bounds (bounds checking is on)");
        return;
    }
    if (d->fault == KERNEL_FAULT_EMPTY) {
        PyErr_Format(PyExc_ValueError, "%s: zero-size array to a min() or max() reduction, "
                     "which has no identity", name);
        return;
    }
    if (d->fault == KERNEL_FAULT_RECURSION) {
        PyErr_Format(PyExc_RecursionError, "%s: a recursive function went deeper than %d "
                     "calls", name, KERNEL_MAX_RECURSION);
        return;
    }
    { /* an array that could not be made (core/lower_arrayexpr.c new_array) */
        const char *site = host_kernel_site(hk, d->fault_site);
        if (d->fault == KERNEL_FAULT_NEGATIVE_DIM)
            PyErr_Format(PyExc_ValueError, "%s: %s: negative dimensions are not allowed",
                         name, site);
        else if (d->fault == KERNEL_FAULT_TOO_BIG)
            PyErr_Format(PyExc_ValueError, "%s: %s: array is too big; `arr.size * "
                         "arr.dtype.itemsize` is larger than the maximum possible size",
                         name, site);
        else if (d->fault == KERNEL_FAULT_NO_MEMORY)
            PyErr_Format(PyExc_MemoryError, "%s: %s: unable to allocate %lld bytes for an "
                         "array", name, site, (long long)d->fault_bytes);
        else if (d->fault == KERNEL_FAULT_RESHAPE)
            PyErr_Format(PyExc_ValueError, "%s: %s: cannot reshape array of size %lld into the "
                         "shape asked for (its extents must multiply to the size, one of them "
                         "may be -1)", name, site, (long long)d->fault_bytes);
        else if (d->fault == KERNEL_FAULT_BROADCAST)
            PyErr_Format(PyExc_ValueError, "%s: %s: operands could not be broadcast together: "
                         "extents %lld and %lld differ and neither is 1", name, site,
                         (long long)(d->fault_bytes >> 32),
                         (long long)(int32_t)(d->fault_bytes & 0xffffffff));
        else if (d->fault == KERNEL_FAULT_RANDOM_ARG) /* NumPy's type and message */
            PyErr_Format(d->fault_bytes == HOST_RANDOM_BAD_UNIFORM ? PyExc_OverflowError
                                                                   : PyExc_ValueError,
                         "%s: %s: %s", name, site,
                         d->fault_bytes == HOST_RANDOM_BAD_SEED
                             ? "Seed must be between 0 and 2**32 - 1"
                         : d->fault_bytes == HOST_RANDOM_BAD_RANGE ? "low >= high"
                         : d->fault_bytes == HOST_RANDOM_BAD_HIGH ? "high <= 0"
                         : d->fault_bytes == HOST_RANDOM_BAD_SCALE ? "scale < 0"
                                                                     : "Range exceeds valid bounds");
        else if (d->fault == KERNEL_FAULT_RANGE_STEP) /* Python's message */
            PyErr_Format(PyExc_ValueError, "%s: %s: range() arg 3 must not be zero", name, site);
        else if (d->fault == KERNEL_FAULT_REDUCE) { /* NumPy's messages */
            int why = (int)(d->fault_bytes >> 56), nd = (int)((d->fault_bytes >> 32) & 0xff);
            long long axis = (int32_t)(d->fault_bytes & 0xffffffff);
            if (why == REDUCE_BAD_AXIS)
                PyErr_Format(PyExc_ValueError, "%s: %s: axis %lld is out of bounds for array "
                             "of dimension %d", name, site, axis, nd);
            else
                PyErr_Format(PyExc_ValueError, "%s: %s: zero-size array to reduction operation "
                             "which has no identity (min, max, argmin, argmax of an empty "
                             "array or axis)", name, site);
        }
        else if (d->fault == KERNEL_FAULT_ARANGE_STEP)
            PyErr_Format(PyExc_ZeroDivisionError, "%s: %s: np.arange() step is zero",
                         name, site);
        else
            PyErr_Format(PyExc_RuntimeError, "%s: fault %d", name, (int)d->fault);
        return;
    }
}

/* Kernel.call(*args) -> the return value: runs an ember.jit function once
 * on this thread with the GIL released. NumPy arrays must come wrapped as
 * cpu-device arrays over their memory (python/ember/_jit.py). */
PyObject *ext_kernel_call(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    ext_kernel *self = (ext_kernel *)obj;
    ext_state *st = ext_state_of_type(Py_TYPE(obj));
    Function *fn = self->fn;
    if (!self->hk || fn->is_kernel) {
        PyErr_Format(PyExc_TypeError, "%s is a kernel: launch it with [blocks, threads]",
                     fn->name);
        return NULL;
    }
    if (nargs != fn->nparams) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional arguments (%zd given)",
                     fn->name, fn->nparams, nargs);
        return NULL;
    }
    const Type *rt = fn->return_type;
    size_t ret_size = rt && rt->kind != TY_VOID ? abi_size(rt) : 0;
    size_t ret_alloc = ret_size ? HOST_RET_NONE_AT(ret_size) + 8 : 0; /* value, None flag */
    int64_t small[64], small_ret[16]; /* 8-byte aligned */
    HostDims dims;
    memset(&dims, 0, sizeof dims);
    char *buf = self->args_size <= sizeof small ? (char *)small : PyMem_Malloc(self->args_size);
    char *ret = ret_alloc <= sizeof small_ret ? (char *)small_ret : PyMem_Malloc(ret_alloc);
    PyObject *result = NULL;
    if (!buf || !ret) {
        PyErr_NoMemory();
        goto out;
    }
    /* no device: the function runs on this thread over host memory (NumPy
     * arrays, cpu-device arrays), so a call needs neither the registry nor
     * CUDA's initialisation (which takes ~100 ms where a driver is) */
    ember_status s;
    if (pack_all(st, fn, args, buf, NULL, NULL) < 0)
        goto out;
    if (self->brief) {
        s = host_kernel_call(self->hk, buf, ret, &dims);
    } else {
        Py_BEGIN_ALLOW_THREADS
        s = host_kernel_call(self->hk, buf, ret, &dims);
        Py_END_ALLOW_THREADS
    }
    if (s != EMBER_SUCCESS) {
        ext_raise(st, s, fn->name);
        goto out;
    }
    if (dims.fault == KERNEL_FAULT_RAISE) {
        int w[6] = {0};
        raise_from_site(self, dims.fault_site, w, false);
        goto out;
    }
    if (dims.fault) {
        ext_raise_call_fault(fn->name, self->hk, &dims);
        goto out;
    }
    if (!ret_size || ret[HOST_RET_NONE_AT(ret_size)]) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        size_t off = 0;
        ReturnCtx ctx = {&dims.arena, fn, args, buf, NULL};
        result = unpack_value(rt, ret, &off, &ctx);
        Py_XDECREF(ctx.owners);
    }
out:
    host_arena_release(&dims.arena);
    if (buf && buf != (char *)small)
        PyMem_Free(buf);
    if (ret && ret != (char *)small_ret)
        PyMem_Free(ret);
    return result;
}

static PyObject *kernel_call(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_SetString(PyExc_TypeError, "call() takes positional arguments only");
        return NULL;
    }
    return ext_kernel_call(obj, args, nargs);
}

static PyObject *kernel_get_return_type(PyObject *obj, void *c)
{
    const Type *rt = ((ext_kernel *)obj)->fn->return_type;
    char s[512];
    return PyUnicode_FromString(rt ? ty_str(rt, s, sizeof s) : "none");
}

int ext_kernel_nparams(PyObject *kernel) { return ((ext_kernel *)kernel)->fn->nparams; }

const char *ext_kernel_name(PyObject *kernel) { return ((ext_kernel *)kernel)->fn->name; }

const HostKernel *ext_kernel_host_function(PyObject *kernel, size_t *args_size)
{
    ext_kernel *k = (ext_kernel *)kernel;
    if (!k->hk || k->fn->is_kernel)
        return NULL;
    *args_size = k->args_size;
    return k->hk;
}

/* ------------------------------------------------------------------------ */
/* The Kernel type                                                          */
/* ------------------------------------------------------------------------ */

static void kernel_dealloc(PyObject *obj)
{
    ext_kernel *self = (ext_kernel *)obj;
    PyTypeObject *tp = Py_TYPE(obj);
    host_kernel_destroy(self->hk);
    cuda_code_destroy(self->cuda);
    ir_function_destroy(self->fn);
    Py_CLEAR(self->llvm_ir);
    Py_CLEAR(self->written);
    PyObject_Free(obj);
    Py_DECREF(tp);
}

static PyObject *kernel_get_ptx(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    if (!self->cuda)
        Py_RETURN_NONE;
    return PyUnicode_FromString(self->cuda->ptx ? self->cuda->ptx : "");
}

static PyObject *kernel_get_target(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    if (self->cuda)
        return Py_BuildValue("(s(ii))", "cuda", self->cc[0], self->cc[1]);
    return Py_BuildValue("(sO)", "cpu", Py_None);
}

/* True when the kernel may stop threads early and report it: with bounds
 * checks, or with a recursive device function (its depth guard). */
static PyObject *kernel_get_may_fault(PyObject *obj, void *c)
{
    const ext_kernel *self = (const ext_kernel *)obj;
    const Function *fn = self->fn;
    bool may = fn->boundscheck || (self->cuda && self->cuda->nsites > 0) || /* raise, assert */
               (self->hk && strcmp(host_kernel_site(self->hk, 0), "?") != 0);
    for (int i = 0; i < fn->nspecs && !may; i++)
        may = fn->specs[i]->recursive;
    return PyBool_FromLong(may);
}

static bool calls_grid_sync(const Node *n)
{
    if (!n)
        return false;
    if (n->kind == ND_SYNC && n->op == SYNC_GRID)
        return true;
    if (calls_grid_sync(n->a) || calls_grid_sync(n->b) || calls_grid_sync(n->c))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (calls_grid_sync(n->args[i]))
            return true;
    return false;
}

/* numba's _Kernel.cooperative: the kernel calls grid.sync() (a GPU then
 * launches it with cuLaunchCooperativeKernel; the CPU device in phases). */
static PyObject *kernel_get_cooperative(PyObject *obj, void *c)
{
    const Function *fn = ((const ext_kernel *)obj)->fn;
    bool calls = calls_grid_sync(fn->body);
    for (int i = 0; i < fn->nspecs && !calls; i++) /* device functions it calls */
        calls = fn->specs[i]->body && calls_grid_sync(fn->specs[i]->body);
    return PyBool_FromLong(calls);
}

/* numba's _Kernel.max_cooperative_grid_blocks(blockdim, dynsmemsize=0):
 * ember._compiler.dispatcher._max_cooperative_grid_blocks answers. */
static PyObject *kernel_max_cooperative(PyObject *obj, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    PyObject *mod = PyImport_ImportModule("ember._compiler.dispatcher");
    if (!mod)
        return NULL;
    PyObject *fn = PyObject_GetAttrString(mod, "_max_cooperative_grid_blocks");
    Py_DECREF(mod);
    if (!fn)
        return NULL;
    PyObject *all[8];
    if (nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0) > 7) {
        Py_DECREF(fn);
        return PyErr_Format(PyExc_TypeError, "max_cooperative_grid_blocks(blockdim, "
                            "dynsmemsize=0): too many arguments");
    }
    all[0] = obj;
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    for (Py_ssize_t i = 0; i < total; i++)
        all[i + 1] = args[i];
    PyObject *r = PyObject_Vectorcall(fn, all, (size_t)(nargs + 1), kwnames);
    Py_DECREF(fn);
    return r;
}

static PyObject *kernel_fault_site(PyObject *obj, PyObject *arg)
{
    ext_kernel *self = (ext_kernel *)obj;
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (self->cuda)
        return PyUnicode_FromString(i >= 0 && i < self->cuda->nsites ? self->cuda->sites[i]
                                                                      : "?");
    return PyUnicode_FromString(host_kernel_site(self->hk, (int)i));
}

static PyObject *kernel_get_symbol(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    if (!self->cuda)
        Py_RETURN_NONE;
    return PyUnicode_FromString(self->cuda->symbol);
}

static PyObject *kernel_get_llvm_ir(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    if (!self->llvm_ir) {
        const char *s = self->cuda ? self->cuda->nvvm_ir : host_kernel_llvm_ir(self->hk);
        self->llvm_ir = PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0,
                                             "replace");
    }
    Py_XINCREF(self->llvm_ir);
    return self->llvm_ir;
}

static PyObject *kernel_get_ir(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    char *s = ir_dump(self->fn);
    if (!s)
        return PyErr_NoMemory();
    PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
    em_free(s);
    return r;
}

static PyObject *kernel_get_written(PyObject *obj, void *c)
{
    ext_kernel *self = (ext_kernel *)obj;
    Py_INCREF(self->written);
    return self->written;
}

static PyObject *kernel_get_name(PyObject *obj, void *c)
{
    return PyUnicode_FromString(((ext_kernel *)obj)->fn->name);
}

static PyObject *kernel_repr(PyObject *obj)
{
    return PyUnicode_FromFormat("<ember._ember.Kernel %s>", ((ext_kernel *)obj)->fn->name);
}

static PyGetSetDef kernel_getset[] = {
    {"llvm_ir", kernel_get_llvm_ir, NULL, "The LLVM IR of the compiled kernel (text).", NULL},
    {"ir", kernel_get_ir, NULL, "ember's typed IR (text dump).", NULL},
    {"param_written", kernel_get_written, NULL,
     "Per parameter: True when the kernel stores into that array (or a view of it).", NULL},
    {"name", kernel_get_name, NULL, "The function's qualified name.", NULL},
    {"return_type", kernel_get_return_type, NULL,
     "The inferred return type, spelled as numba does ('float64', '(int64, float64)').", NULL},
    {"ptx", kernel_get_ptx, NULL, "The PTX of a kernel compiled for CUDA (None for cpu).", NULL},
    {"symbol", kernel_get_symbol, NULL, "The kernel's name in its PTX (None for cpu).", NULL},
    {"target", kernel_get_target, NULL, "('cpu', None) or ('cuda', (major, minor)).", NULL},
    {"cooperative", kernel_get_cooperative, NULL,
     "True when the kernel calls grid.sync() (numba: launched cooperatively).", NULL},
    {"may_fault", kernel_get_may_fault, NULL,
     "True when threads may stop early and report it (bounds checks, recursion).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef kernel_methods[] = {
    {"cache_data", kernel_cache_data, METH_NOARGS,
     "cache_data($self, /)\n--\n\n"
     "The compiled code as bytes for the disk cache (compile_kernel(..., cached=)),\n"
     "or None when it cannot be reused in another process."},
    {"max_cooperative_grid_blocks", (PyCFunction)(void (*)(void))kernel_max_cooperative,
     METH_FASTCALL | METH_KEYWORDS,
     "max_cooperative_grid_blocks($self, blockdim, dynsmemsize=0)\n--\n\n"
     "The most blocks a launch of this kernel with grid.sync() may have on the current\n"
     "device (numba's): on a GPU those that fit on it at once; the CPU device runs any\n"
     "grid (2**31 - 1, its gridDim.x limit)."},
    {"fault_site", kernel_fault_site, METH_O,
     "fault_site($self, index, /)\n--\n\n\"file:line:col\" of bounds check `index`."},
    {"pack", (PyCFunction)(void (*)(void))kernel_pack, METH_FASTCALL | METH_KEYWORDS,
     "pack($self, args, kind, ordinal, stream=None)\n--\n\n"
     "The packed argument buffer (bytes) for a launch on device kind:ordinal; with a\n"
     "stream, each array's buffer records it (the memory pool's reuse rule)."},
    {"call", (PyCFunction)(void (*)(void))kernel_call, METH_FASTCALL | METH_KEYWORDS,
     "call($self, *args)\n--\n\n"
     "Runs an ember.jit function (compiled from a tree whose is_kernel is False) once\n"
     "on this thread: args match the compiled parameter types (arrays as cpu-device\n"
     "arrays); returns its value (None, a number or a tuple)."},
    {"launch", (PyCFunction)(void (*)(void))kernel_launch, METH_FASTCALL | METH_KEYWORDS,
     "launch($self, grid, block, args)\n--\n\n"
     "Runs the kernel on the cpu device: grid and block are 3-tuples, args a tuple of\n"
     "device arrays, numbers and tuples matching the compiled parameter types."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot kernel_slots[] = {
    {Py_tp_doc, "A kernel compiled for one signature (made by compile_kernel)."},
    {Py_tp_dealloc, kernel_dealloc},
    {Py_tp_repr, kernel_repr},
    {Py_tp_getset, kernel_getset},
    {Py_tp_methods, kernel_methods},
    {0, NULL},
};

PyType_Spec ext_kernel_spec = {
    .name = "ember._ember.Kernel",
    .basicsize = sizeof(ext_kernel),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = kernel_slots,
};
