/*
 * ir.h — ember's kernel IR: types, the structured IR, and the stages that
 * work on it (one section per file, chibicc style).
 *
 * Pipeline:  Python AST --(python/ember/_compiler, python/ext/build.c)--> IR
 * built with the constructors below --(infer.c)--> typed IR
 * --(core/lower.c: host or NVVM)--> LLVM IR.
 *
 * The IR stays structured (blocks, if, while, for-range) as in the source:
 * barrier fission, uniformity checks and error locations need the shape.
 * Every node carries its source location. Nodes and everything they point to
 * live in the Function's arena and die with it. Types are interned for the
 * whole process, so two types are equal exactly when their pointers are.
 */
#ifndef EMBER_IR_H
#define EMBER_IR_H

#include "core/core.h"

/* ======================================================================== */
/* Types (types.c)                                                          */
/* ======================================================================== */

typedef enum TypeKind {
    TY_VOID,
    TY_BOOL,
    TY_I8, TY_I16, TY_I32, TY_I64,
    TY_U8, TY_U16, TY_U32, TY_U64,
    TY_F16, TY_F32, TY_F64, /* float16: arithmetic in half on GPUs (sm_53+), in float32
                             * rounded to half on the CPU (lower.c f16 helpers) */
    TY_BF16, /* bfloat16 (cuda.bf16): held as its 16 bits (i16) on every target; not a
              * "number" (ty_is_number): inference rewrites its arithmetic into float32
              * rounded back, and lw_conv converts it (core/lower_bf16.c) */
    TY_C64, TY_C128,
    /* Python literals are "weak" (NEP 50): they take the kind of the other
     * operand (x * 2.0 stays float32). A variable never has a weak type:
     * assigning a weak value gives int64 / float64 / complex128. */
    TY_WEAK_INT, TY_WEAK_FLOAT, TY_WEAK_COMPLEX,
    TY_ARRAY,
    TY_TUPLE,
    TY_RECORD, /* a NumPy structured dtype's element: a value is a pointer to its bytes
                * (numba's records are references too: r = a[i]; r.x = 1 writes a) */
    TY_DATETIME, TY_TIMEDELTA, /* NumPy datetime64 / timedelta64 of one unit: an int64
                                * count of units, NaT is INT64_MIN (types_time.c) */
    TY_KIND_COUNT
} TypeKind;

#define EM_RECORD_MAX_FIELDS 64
#define EM_FIELD_MAX_NDIM 4

typedef struct Type Type;
struct Type {
    TypeKind kind;
    /* TY_ARRAY */
    const Type *elem;     /* scalar element type */
    int ndim;             /* 1 ... 32 (0-d arrays are passed as scalars) */
    char layout;          /* 'C', 'F' or 'A' (any strides) */
    bool readonly;
    /* TY_TUPLE, TY_RECORD */
    int nfields;
    const Type **fields;  /* TY_RECORD: a scalar, or a C array for a nested array */
    /* TY_RECORD */
    const char *const *names;  /* field names */
    const int64_t *offsets;    /* byte offset of each field */
    const int64_t *fshapes;    /* nested arrays: EM_FIELD_MAX_NDIM extents per field */
    const char *fchars;        /* per field: 'U' (UCS4, uint32 units) or 'S' (bytes) for a
                                * NumPy string field, a 1-D array of its code units; else 0.
                                * A string array's element is a record of one such field
                                * named "" (ty_is_chars_item) */
    int64_t size;              /* itemsize in bytes */
    int align;                 /* the dtype's alignment */
    /* TY_DATETIME, TY_TIMEDELTA */
    int unit;                  /* a TimeUnit */
};

EM_HIDDEN const Type *ty_scalar(TypeKind kind);       /* TY_VOID ... TY_WEAK_COMPLEX */
EM_HIDDEN const Type *ty_array(const Type *elem, int ndim, char layout, bool readonly);
EM_HIDDEN const Type *ty_tuple(int n, const Type *const *fields);
/* A record of n fields (names copied); fields[i] a scalar or a C array type
 * whose extents are fshapes[i * EM_FIELD_MAX_NDIM ...]. NULL on bad input. */
EM_HIDDEN const Type *ty_record(int n, const char *const *names, const Type *const *fields,
                                const int64_t *offsets, const int64_t *fshapes, int64_t size,
                                int align);
/* The same with string fields: fchars[i] 'U' or 'S' marks field i (a 1-D array
 * of uint32 or uint8) as a NumPy string, 0 not; fchars NULL: none. */
EM_HIDDEN const Type *ty_record_chars(int n, const char *const *names,
                                      const Type *const *fields, const int64_t *offsets,
                                      const int64_t *fshapes, const char *fchars, int64_t size,
                                      int align);
/* 'U' or 'S' when t is a string array's element (a record of one string field
 * named ""), else 0. */
EM_HIDDEN char ty_is_chars_item(const Type *t);
EM_HIDDEN int ty_record_field(const Type *rec, const char *name); /* index or -1 */
/* The record type read from a read-only array (its fields cannot be stored) or not. */
EM_HIDDEN const Type *ty_record_readonly(const Type *rec, bool readonly);
EM_HIDDEN const Type *ty_from_dtype(ember_dtype dt);   /* NULL for a dtype kernels cannot use */
EM_HIDDEN bool ty_is_int(const Type *t);      /* signed or unsigned, weak int included */
EM_HIDDEN bool ty_is_signed(const Type *t);
EM_HIDDEN bool ty_is_float(const Type *t);    /* weak float included */
EM_HIDDEN bool ty_is_complex(const Type *t);  /* weak complex included */
EM_HIDDEN bool ty_is_number(const Type *t);   /* bool, int, float or complex */
EM_HIDDEN bool ty_is_weak(const Type *t);
EM_HIDDEN bool ty_is_bf16(const Type *t);
EM_HIDDEN int ty_bits(const Type *t);         /* scalar width in bits (complex: both parts) */
/* The concrete type a weak type becomes in a variable (int64, float64,
 * complex128); other types unchanged. */
EM_HIDDEN const Type *ty_concrete(const Type *t);
/* NumPy promotion with NEP 50 weak literals; NULL when the two do not
 * promote (array with number, tuple with number ...). */
EM_HIDDEN const Type *ty_promote(const Type *a, const Type *b);
/* numba-style spelling: "float32", "float32[:, ::1]", "(int64, float64)". */
EM_HIDDEN const char *ty_str(const Type *t, char *buf, size_t cap);
/* Releases the interned types (at ember_shutdown). */
EM_HIDDEN void ty_reset(void);

/* ======================================================================== */
/* datetime64 / timedelta64 (types_time.c)                                  */
/* ======================================================================== */

/* NumPy's units, coarse to fine; TU_GENERIC is a unitless timedelta64 (and
 * NaT), which takes the other operand's unit. */
typedef enum TimeUnit {
    TU_GENERIC, TU_Y, TU_M, TU_W, TU_D, TU_h, TU_m, TU_s, TU_ms, TU_us, TU_ns, TU_ps,
    TU_fs, TU_as, TU_COUNT
} TimeUnit;

#define EM_NAT INT64_MIN /* NumPy's NaT ("not a time") */

EM_HIDDEN const Type *ty_time(TypeKind kind, int unit); /* NULL on a bad kind or unit */
EM_HIDDEN bool ty_is_time(const Type *t);                /* datetime64 or timedelta64 */
EM_HIDDEN const char *ty_time_unit_name(int unit);       /* "D", "ns", "" for generic */
EM_HIDDEN int ty_time_unit_from(const char *name);       /* -1 when unknown */
/* How many `to` units make one `from` unit when `to` is `from` or finer in
 * the same family (Y/M or W ... as; generic converts to anything as 1);
 * 0 when they do not convert exactly (Y with D, or int64 overflow). */
EM_HIDDEN int64_t ty_time_factor(int from, int to);
/* NumPy's common unit of two units (the finer one); -1 when none. */
EM_HIDDEN int ty_time_common(int a, int b);
/* The result type of `a op b` (arithmetic or comparison) where a or b is a
 * time type, NumPy's rules; *unit is the unit both operands are brought to
 * before the operation. NULL with *why set when NumPy (or ember) refuses. */
EM_HIDDEN const Type *ty_time_binary(int op, const Type *a, const Type *b, int *unit,
                                     const char **why);
/* Whether a value of type v may be stored where `to` (a time type) is
 * declared: the same kind in any unit it converts to, or an integer. */
EM_HIDDEN bool ty_time_storable(const Type *v, const Type *to);

/* ======================================================================== */
/* Argument ABI shared by launch packing and lowering (types.c)             */
/* ======================================================================== */
/*
 * A kernel's arguments are packed into one byte buffer, each at an offset
 * aligned to 8: a scalar in an 8-byte slot (stored in its own type at the
 * slot start; complex128 takes 16 bytes); an array as { void *data;
 * int64_t shape[ndim]; int64_t strides[ndim] (bytes) }; a tuple as its
 * fields in order, recursively.
 */
EM_HIDDEN size_t abi_size(const Type *t);

/* ======================================================================== */
/* The IR (ir.c)                                                            */
/* ======================================================================== */

typedef struct SrcLoc {
    int line, col; /* 1-based line, 0-based column, as Python's ast */
} SrcLoc;

typedef enum NodeKind {
    /* --- expressions: every one gets `ty` from inference --- */
    ND_CONST,       /* ty set by the builder; value in ival / fval (+ fimag) */
    ND_PARAM,       /* index: parameter number */
    ND_LOAD,        /* var: local variable slot */
    ND_UNARY,       /* op: OP_NEG, OP_POS, OP_INVERT, OP_NOT; a */
    ND_BINARY,      /* op: OP_ADD ... OP_BITXOR; a, b */
    ND_COMPARE,     /* op: OP_EQ ... OP_GE; a, b */
    ND_AND, ND_OR,  /* a, b: short-circuit, both converted to bool, result bool */
    ND_IFEXP,       /* a ? b : c */
    ND_CAST,        /* a converted to `target` (float32(x), int(x), bool(x) ...) */
    ND_CALL_MATH,   /* op: MathFn; index: MathFlavour; args */
    ND_INTRINSIC,   /* fn: Intrinsic; args */
    ND_INDEX,       /* a: array; args: one integer index per dimension -> element; ival 1:
                     * bounds-checked even without boundscheck (a list's pop) */
    ND_ATTR,        /* a; fn: Attr */
    ND_TUPLE,       /* args: fields */
    ND_TUPLE_GET,   /* a: tuple; index: constant field number (negative allowed) */
    ND_ATOMIC,      /* op: AtomicOp; a[args] (array element) updated with b (cas:
                     * compare with b, store c); result: the old element */
    ND_CALL,        /* callee: a device function's template; args (one per parameter,
                     * defaults filled in by the front end); spec: set by inference */
    ND_CONST_ARRAY, /* cuda.const.array_like(global): ty (a read-only C array) set by
                     * the builder; args: the extents; text: the data (ival bytes); op:
                     * 'U' or 'S' for a str / bytes constant (code units, 1-D), which
                     * only a store into a string item or field takes (infer.c
                     * chars_store), else 0 */
    ND_SLICE,       /* a[args]: a view of array a; each arg is an integer (drops that
                     * dimension) or an ND_SLICE_PART; missing trailing dims are `:` */
    ND_SLICE_PART,  /* start:stop:step of one dimension: a, b, c, each NULL when
                     * omitted (ty stays NULL: only valid as an ND_SLICE argument) */
    ND_LOCAL_ARRAY, /* cuda.local.array / cuda.shared.array(shape, dtype): op:
                     * MemSpace; ty (a C array) set by the builder; args: the
                     * constant extents (a shared array of extent 0 is the
                     * launch's dynamic shared memory) */
    ND_NEW_ARRAY,   /* np.empty/zeros/full/arange ... in ember.jit functions: op:
                     * NewKind; a: the shape (an int or a tuple of ints) or, for
                     * *_like, the array whose shape (and, without target, dtype)
                     * it takes; b: NEW_FULL's fill value; target: the dtype (NULL:
                     * float64, the fill value's, the like array's, or arange's
                     * from its bounds); args: NEW_ARANGE's start, stop, step.
                     * The result is a new C-ordered array (core/lower_arrayexpr.c new_array) */
    ND_ARRAY_EXPR,  /* whole-array arithmetic in ember.jit functions (a + b, np.sin(a) ...;
                     * made by inference from an operator with an array operand): args:
                     * the operands (arrays broadcast together, scalars evaluated once);
                     * a: the scalar body computing one element, reading operand k as
                     * ND_ELEM k. The result is a new C-ordered array */
    ND_ELEM,        /* inside an ND_ARRAY_EXPR / ND_ARRAY_ASSIGN body: index: the operand;
                     * ty: its element type (an array's) or its type (a scalar's) */
    /* --- statements (ty is TY_VOID) --- */
    ND_BLOCK,       /* args: statements */
    ND_ASSIGN,      /* var = a (the value is converted to the variable's type) */
    ND_STORE,       /* a[args] = b; op 1 (inference): args[0] is a bool mask or an
                     * integer array (core/lower_fancy.c) */
    ND_IF,          /* if a: b (a block) else: c (a block or NULL) */
    ND_WHILE,       /* while a: b */
    ND_FOR_RANGE,   /* for var in range(args[0], args[1], args[2]): b; ival 1: a prange
                     * loop of an ember.jit(parallel=True) root (devices/cpu/lower_prange.c) */
    ND_BREAK, ND_CONTINUE,
    ND_RETURN,      /* a: value or NULL */
    ND_EXPR,        /* a evaluated for its effect */
    ND_PRINT,       /* print(args): text is the line with '\x01' where each arg goes */
    ND_FENCE,       /* cuda.threadfence*(): op: FenceScope */
    ND_SYNC,        /* cuda.syncthreads() / cuda.syncwarp(mask): op: SyncKind; args:
                     * [mask] for syncwarp */
    ND_ARRAY_ASSIGN,/* a[1:3] = v, a[:] = 0, a += b (arrays): a: the destination view; b:
                     * the value as written, then (inference) the scalar body of one
                     * element, reading operand k (args) as ND_ELEM k, broadcast into a;
                     * op: 1 for an augmented assignment (same-kind casting) */
    ND_KIND_COUNT
} NodeKind;

typedef enum Op {
    OP_NONE,
    OP_NEG, OP_POS, OP_INVERT, OP_NOT,
    OP_ADD, OP_SUB, OP_MUL, OP_TRUEDIV, OP_FLOORDIV, OP_MOD, OP_POW,
    OP_LSHIFT, OP_RSHIFT, OP_BITAND, OP_BITOR, OP_BITXOR,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_COUNT
} Op;

typedef enum MathFn {
    MATH_SIN, MATH_COS, MATH_TAN, MATH_ASIN, MATH_ACOS, MATH_ATAN, MATH_ATAN2,
    MATH_SINH, MATH_COSH, MATH_TANH, MATH_ASINH, MATH_ACOSH, MATH_ATANH,
    MATH_EXP, MATH_EXPM1, MATH_EXP2, MATH_LOG, MATH_LOG2, MATH_LOG10, MATH_LOG1P,
    MATH_SQRT, MATH_POW, MATH_HYPOT, MATH_ERF, MATH_ERFC, MATH_GAMMA, MATH_LGAMMA,
    MATH_FLOOR, MATH_CEIL, MATH_TRUNC, MATH_FABS, MATH_FMOD, MATH_COPYSIGN,
    MATH_ISNAN, MATH_ISINF, MATH_ISFINITE,
    MATH_ABS, MATH_MIN, MATH_MAX, MATH_ROUND, /* Python builtins */
    MATH_FREXP, MATH_LDEXP, MATH_MODF, MATH_RADIANS, MATH_DEGREES, MATH_REMAINDER,
    MATH_CBRT,
    MATH_SIGN, MATH_SQUARE, MATH_RECIPROCAL, MATH_RINT, MATH_FMIN, MATH_FMAX, /* NumPy */
    MATH_PHASE, MATH_POLAR, MATH_RECT,                                       /* cmath */
    MATH_COMPLEX, /* the builtin complex(re, im) (named "cmath.complex" in the tree) */
    MATH_COUNT
} MathFn;

/* Whose rules a math call follows (ND_CALL_MATH's `index`): the same name
 * means different things in Python's math, NumPy and cmath, e.g.
 * math.floor(float32) -> int64, np.floor(float32) -> float32,
 * cmath.sqrt(-1.0) -> 1j. Written as a prefix in names: "np.floor",
 * "cmath.sqrt" (ir_math_label). */
typedef enum MathFlavour {
    MATHF_PYTHON, /* math module and builtins (numba's typing) */
    MATHF_NUMPY,  /* NumPy ufuncs on scalars */
    MATHF_CMATH,  /* cmath: complex results */
    MATHF_COUNT
} MathFlavour;

/* Intrinsics: cuda.* functions and the NumPy functions that are calls of
 * ember's runtime. Each is declared once, in core/intrinsics.def (name,
 * arity, kind, typing rule); INTR_<ENUM> is its code in ND_INTRINSIC.op. */
typedef enum Intrinsic {
#define INTRINSIC(e, name, label, min, max, kind, rule) INTR_##e,
#include "core/intrinsics.def"
#undef INTRINSIC
    INTR_COUNT
} Intrinsic;

/* Where an intrinsic may be used, and what barrier fission must know. */
typedef enum IntrinsicKind {
    INTRK_INDEX,     /* a thread / block index or dimension (kernels) */
    INTRK_THREAD,    /* this thread's state or effect, no exchange (kernels) */
    INTRK_PLAIN,     /* a function of its arguments (anywhere) */
    INTRK_WARP_MASK, /* the warp's make-up (activemask): the CPU device builds the
                      * kernel by fission, but it is no barrier */
    INTRK_WARP,      /* a warp collective: lanes exchange values (fission splits) */
    INTRK_BLOCK,     /* a block collective: a barrier with a value (fission splits) */
    INTRK_HOST,      /* ember.jit functions only (np.random) */
} IntrinsicKind;

/* How core/infer.c types an intrinsic. */
typedef enum IntrinsicRule {
    IRULE_CUSTOM,    /* a rule of its own in infer.c */
    IRULE_I32,       /* no arguments -> int32 */
    IRULE_U32,       /* no arguments -> uint32 */
    IRULE_VOID_INTS, /* integer arguments -> None (a statement) */
} IntrinsicRule;

typedef struct IntrinsicInfo {
    const char *name;  /* the front end's name ("shfl_sync") */
    const char *label; /* as users write it ("cuda.shfl_sync") */
    int min_args, max_args;
    IntrinsicKind kind;
    IntrinsicRule rule;
} IntrinsicInfo;

/* ---- intrinsics.c ---- */
EM_HIDDEN extern const IntrinsicInfo ir_intrinsics[INTR_COUNT];
/* The INTR_* code of the front end's `name`, or -1. */
EM_HIDDEN int ir_intrinsic_lookup(const char *name);

typedef enum Attr {
    ATTR_SHAPE,   /* array -> tuple of int64 */
    ATTR_STRIDES, /* array -> tuple of int64 */
    ATTR_SIZE,    /* array -> int64 */
    ATTR_NDIM,    /* array -> int64 */
    ATTR_T,       /* array -> the transposed view (shape and strides reversed) */
    /* reductions over every element (a.sum(), np.sum(a) ...; core/lower_array.c reduce) */
    ATTR_SUM,     /* -> int64 (bool, signed), uint64, or the float / complex type */
    ATTR_PROD,    /* -> as sum */
    ATTR_MIN,     /* -> the element type; an empty array faults (KERNEL_FAULT_EMPTY) */
    ATTR_MAX,
    ATTR_MEAN,    /* -> float64 (ints, bool, float64), float32, or the complex type */
    ATTR_LEN,     /* len(array) -> int64 (shape[0]); len(tuple): its arity (the front end
                     folds those it can count) */
    ATTR_REAL, ATTR_IMAG, ATTR_CONJ,
    ATTR_FIELD,   /* record -> the field named `text` (r.x, r['x']); index: its number */
    /* more reductions (core/lower_reduce.c); these and the five above take an
     * optional axis in b (an int: the result is an array of one dimension
     * less, or the scalar of a 1-D array) */
    ATTR_ARGMIN,  /* -> int64: the first index (C order) of the minimum; NaN wins */
    ATTR_ARGMAX,
    ATTR_ALL,     /* -> bool */
    ATTR_ANY,
    ATTR_VAR,     /* -> float64 (ints, bool), or the float type; ddof 0 */
    ATTR_STD,
    ATTR_CUMSUM,  /* -> a new 1-D array of sum's type (C order), or, with an axis, of
                   * the array's shape */
    ATTR_CUMPROD,
    ATTR_FLAT,    /* a.flat: a 1-D C array (inference makes it a.reshape(-1) of a C array,
                   * or of a read-only copy of another) */
    ATTR_NDITER,  /* np.nditer(a) in a for loop: a.flat of a C-contiguous array */
    ATTR_UNRAVEL, /* the index tuple (C order) of flat element b of array a (ndenumerate) */
    ATTR_SORT,    /* np.sort(a): a new C array, sorted along the last axis (NaNs last) */
    ATTR_ARGSORT, /* np.argsort(a), a.argsort(): int64, stable, along the last axis */
    ATTR_SORT_INPLACE, /* a.sort() (a statement): a sorted in place; the value is a */
    ATTR_DOT,     /* np.dot(a, b), a @ b of 1-D and 2-D real arrays (core/lower_dot.c) */
    ATTR_COUNT
} Attr;

typedef enum AtomicOp {
    ATOM_ADD, ATOM_SUB, ATOM_MAX, ATOM_MIN, ATOM_NANMAX, ATOM_NANMIN,
    ATOM_AND, ATOM_OR, ATOM_XOR, ATOM_EXCH, ATOM_INC, ATOM_DEC, ATOM_CAS,
    ATOM_COUNT
} AtomicOp;

typedef enum NewKind {
    NEW_EMPTY,      /* np.empty: uninitialised */
    NEW_ZEROS,      /* np.zeros */
    NEW_FULL,       /* np.full / np.ones: every element b */
    NEW_ARANGE,     /* np.arange(start, stop, step) */
    NEW_LINSPACE,   /* np.linspace: args: start, stop, num, endpoint */
    NEW_EYE,        /* np.eye: args: N, [M,] k (M defaults to N) */
    NEW_RESHAPE,    /* a.reshape(shape): b: the C-contiguous array a; the result is
                     * a view of it (no new memory) */
    NEW_FROM,       /* np.array(a): a: an array (copied) or nested tuples of numbers
                     * (core/lower_build.c) */
    NEW_ASARRAY,    /* np.asarray(a): as NEW_FROM, but an array of the dtype asked for
                     * is a itself (inference replaces the node by a) */
    NEW_TAKE,       /* a[b] with b a bool mask (of a's leading dimensions) or an integer
                     * array (of indices into a's first dimension): a new array
                     * (made by inference from ND_INDEX; core/lower_fancy.c) */
    NEW_ROWS0,      /* a list comprehension's start: a: 0; b: its item, only typed (not
                     * evaluated): no rows of b's type and shape (core/lower_build.c) */
    NEW_ROWS,       /* a rows, each shaped as the item b (a number or an array); c (if
                     * set, only typed): the type of the items (a list's witness) */
    NEW_VIEW,       /* a.view(dtype): b: the array a; target: the dtype; a view of a's
                     * memory (kernels too; core/lower_view.c) */
} NewKind;

typedef enum MemSpace {
    MEM_LOCAL,      /* per thread */
    MEM_SHARED,     /* per block */
} MemSpace;

typedef enum SyncKind {
    SYNC_THREADS,   /* every thread of the block */
    SYNC_WARP,      /* the threads of args[0]'s mask in the warp */
    SYNC_GRID,      /* every thread of the grid: cuda.cg.this_grid().sync() (a block
                     * barrier too; the GPU launches such a kernel cooperatively) */
} SyncKind;

typedef enum FenceScope {
    FENCE_DEVICE,   /* cuda.threadfence() */
    FENCE_BLOCK,    /* cuda.threadfence_block() */
    FENCE_SYSTEM,   /* cuda.threadfence_system() */
    FENCE_COUNT
} FenceScope;

/* Placeholder for a value in ND_PRINT's text. */
#define IR_PRINT_SLOT '\x01'

typedef struct Node Node;
typedef struct Function Function;
struct Node {
    NodeKind kind;
    SrcLoc loc;
    const Type *ty;     /* expressions: set by inference (ND_CONST: by the builder) */
    int op;             /* Op, MathFn, Intrinsic or Attr, by kind */
    int var;            /* ND_LOAD, ND_ASSIGN, ND_FOR_RANGE: variable slot */
    int index;          /* ND_PARAM: parameter; ND_TUPLE_GET: field */
    int64_t ival;       /* ND_CONST of bool / int types (uint64 stored as its bits) */
    double fval, fimag; /* ND_CONST of float / complex types */
    const Type *target; /* ND_CAST; ND_INTRINSIC match_any/all: the compared type (inference) */
    Function *callee;   /* ND_CALL: the template (untyped, owned by the root function) */
    Function *spec;     /* ND_CALL: the specialisation for the argument types (inference) */
    const char *text;   /* ND_PRINT (a string), ND_CONST_ARRAY (ival bytes): owned by the
                         * function's arena (or its template's) */
    Node *a, *b, *c;
    Node **args;
    int nargs;
    bool chars_dest;    /* ND_INDEX, ND_ATTR: names the string item or field that a
                         * constant string is stored into (infer.c chars_store); reading
                         * a string elsewhere is refused */
};

struct Function {
    char *name;             /* Python qualified name */
    char *file;             /* source file */
    int nparams;
    char **param_names;
    const Type **param_types; /* set before inference (the specialisation) */
    int nvars;
    char **var_names;
    const Type **var_types;   /* set by inference */
    Node *body;               /* ND_BLOCK */
    const Type *return_type;  /* set by inference; TY_VOID for kernels; made concrete
                               * (no weak parts) for an ember.jit root by lowering */
    bool *param_written;      /* set by inference: an array parameter (or a view
                               * of it) is stored to; host arrays passed there
                               * are copied back after the launch */
    bool is_kernel;           /* false: a device function template or specialisation,
                               * or a root compiled as an ember.jit function (it
                               * returns a value; devices/cpu/lower_jit.c host_lower_function) */
    bool fastmath;            /* root: floating-point math may be reassociated,
                               * contracted, and assume no NaN or inf */
    bool boundscheck;         /* root: check every index against its dimension; a
                               * failure makes the launch raise IndexError */
    bool zero_division_raises; /* root: x / 0, x // 0 and x % 0 raise ZeroDivisionError
                               * and end the thread (numba's Python error model, which
                               * its CUDA target uses with debug=True) */
    /* device functions (ND_CALL). The root (the kernel being compiled) owns
     * the templates it calls, directly or not, and every specialisation made
     * from them; a template or specialisation points back to its root. */
    Function *root;           /* NULL for the root itself */
    Function **callees;       /* root only: templates, in the front end's order */
    int ncallees;
    Function **specs;         /* root only: specialisations, cached by
                               * (template, parameter types) */
    int nspecs, capspecs;
    const Function *tmpl;     /* a specialisation: its template */
    const Type **decl_params; /* a template with an explicit signature (device=True):
                               * the parameter types calls convert to ... */
    const Type *decl_return;  /* ... and the return type (NULL without a signature) */
    /* a foreign function (cuda.declare_device): a template without a body of
     * its own (an empty block) whose calls follow numba's device-function ABI,
     * int name(T *ret, args...) (core/lower_foreign.c) */
    const char *foreign;      /* template: the symbol called; NULL for Python functions */
    unsigned char *foreign_kinds; /* template: per parameter, a ForeignParam */
    uint64_t foreign_addr;    /* template: the host implementation's address (cpu
                               * device), or 0: called by name (NVVM, linked later) */
    bool recursive;           /* a specialisation called while it is being inferred
                               * (needs decl_return); lowered as a real function */
    int infer_state;          /* a specialisation: 0 new, 1 inferring, 2 done */
    ember_status infer_st;    /* a specialisation: result of its inference */
    /* diagnostics: the first error, with its location */
    SrcLoc err_loc;
    const char *err_file;     /* file of err_loc when not `file` (an error inside a
                               * device function); points into the callee's strings */
    char err[1024];
    bool err_unsupported;     /* err is about a construct not supported (here, or
                               * yet): UnsupportedError rather than TypingError */
    /* arena */
    struct ArenaChunk *arena;
};

/* How a foreign function's parameter is passed (Function.foreign_kinds). */
typedef enum ForeignParam {
    FOREIGN_VALUE,    /* a number, or an array flattened as numba passes it */
    FOREIGN_CPOINTER, /* CPointer(T): an array of T passed as its data pointer */
    FOREIGN_VOIDPTR,  /* voidptr: any array passed as its data pointer */
} ForeignParam;

/* Creates an empty function; caller owns it (ir_function_destroy). */
EM_HIDDEN Function *ir_function_create(const char *name, const char *file, int nparams,
                                       const char *const *param_names, bool is_kernel);
EM_HIDDEN void ir_function_destroy(Function *fn);
/* A device function template owned by `root` (destroyed with it); NULL when
 * out of memory. */
EM_HIDDEN Function *ir_callee_create(Function *root, const char *name, const char *file,
                                     int nparams, const char *const *param_names);
/* The specialisation of template `tmpl` for `types` (one per parameter,
 * concrete): found in root's cache or made as a deep copy of the template
 * (param_types set, not inferred yet). Owned by root. NULL when out of
 * memory. */
EM_HIDDEN Function *ir_specialise(Function *root, const Function *tmpl, const Type *const *types);
/* Adds a local variable slot (names may repeat for shadowing-free Python
 * code; the front end maps each Python name to one slot). */
EM_HIDDEN int ir_add_var(Function *fn, const char *name);
/* A new node of `kind` zero-filled, in fn's arena; NULL when out of memory. */
EM_HIDDEN Node *ir_node(Function *fn, NodeKind kind, SrcLoc loc);
/* Allocates `n` node pointers for args (n may be 0). */
EM_HIDDEN Node **ir_node_list(Function *fn, int n);
EM_HIDDEN void *ir_alloc(Function *fn, size_t size);
/* A copy of `s` in fn's arena; NULL when out of memory. */
EM_HIDDEN char *ir_strdup(Function *fn, const char *s);
/* Records an error at `loc` (the first one wins) and returns
 * EMBER_ERR_INVALID_ARG; the message also goes to ember_last_error() as
 * "file:line:col: message". */
EM_HIDDEN ember_status ir_error(Function *fn, SrcLoc loc, const char *fmt, ...) EM_PRINTF(3, 4);
/* ir_error for a construct the target does not support (err_unsupported). */
EM_HIDDEN ember_status ir_unsupported(Function *fn, SrcLoc loc, const char *fmt, ...)
    EM_PRINTF(3, 4);
/* Records, in `caller`, the error of the device function specialisation
 * `spec` called at `call`: the callee's location and file, the message with
 * "(in device function 'name' called from file:line)". Returns
 * EMBER_ERR_INVALID_ARG (or the first error of caller, kept). */
EM_HIDDEN ember_status ir_error_in_callee(Function *caller, SrcLoc call, const Function *spec);
/* Text dump of the (typed) IR, for tests and inspect functions. */
EM_HIDDEN char *ir_dump(const Function *fn); /* caller frees with em_free */

EM_HIDDEN const char *ir_op_name(Op op);          /* "+", "//", "<" ... */
EM_HIDDEN const char *ir_math_name(MathFn fn);    /* "sin" ... */
/* Whether fn has a complex form (cmath's, and NumPy's ufuncs on complex
 * numbers, which follow the same C99 branch cuts). */
EM_HIDDEN bool ir_math_has_complex_form(MathFn fn);
/* "sin", "np.floor", "cmath.sqrt": a math call's name with its flavour's
 * prefix, in buf (64 bytes at least). */
EM_HIDDEN const char *ir_math_label(const Node *n, char *buf, size_t cap);

/* Faults a running kernel reports (HostDims.fault on the host, the module
 * global LOWER_NVVM_FAULT_SYMBOL on a GPU); the launch turns them into an
 * error after the kernel has finished. */
#define KERNEL_FAULT_RECURSION 1 /* recursion deeper than KERNEL_MAX_RECURSION */
#define KERNEL_FAULT_INDEX 2     /* an index outside its dimension (bounds checking) */
#define KERNEL_FAULT_EMPTY 3     /* min/max of an empty array (ember.jit functions only) */
#define KERNEL_FAULT_DIVERGENT 4 /* the threads of a block disagree on a condition that
                                  * controls a barrier (CPU device, checks on) */
#define KERNEL_FAULT_SCRATCH 5   /* no memory for a block's thread contexts (CPU device) */
#define KERNEL_FAULT_NEGATIVE_DIM 6 /* np.zeros(-1) ... (ember.jit functions): ValueError */
#define KERNEL_FAULT_TOO_BIG 7      /* an array size that overflows: ValueError */
#define KERNEL_FAULT_NO_MEMORY 8    /* an array the allocator refused: MemoryError */
#define KERNEL_FAULT_ARANGE_STEP 9  /* np.arange with step 0: ZeroDivisionError */
#define KERNEL_FAULT_RESHAPE 11     /* a.reshape to a shape of another size: ValueError
                                     * (fault_bytes: the array's size) */
#define KERNEL_FAULT_BROADCAST 10   /* array shapes that do not broadcast: ValueError
                                     * (fault_bytes: the two extents, 32 bits each) */
#define KERNEL_FAULT_RANDOM_ARG 12   /* np.random arguments NumPy refuses (ember.jit functions):
                                     * fault_bytes says which, HOST_RANDOM_BAD_* */
#define KERNEL_FAULT_RANGE_STEP 13 /* range() with a zero step at run time (ember.jit
                                    * functions): ValueError */
#define KERNEL_FAULT_RAISE 14      /* a `raise` or failed `assert` ran: the site names it
                                    * (python/ember/_compiler/_raises.py) */
#define KERNEL_FAULT_REDUCE 15     /* a reduction NumPy refuses (ember.jit functions):
                                    * fault_bytes: REDUCE_BAD_* << 56 | ndim << 32 |
                                    * the axis (32 bits) */
#define REDUCE_BAD_AXIS 1          /* axis out of bounds: ValueError (NumPy's AxisError) */
#define REDUCE_BAD_EMPTY 2         /* min/max/argmin/argmax over an empty axis: ValueError */
#define KERNEL_MAX_RECURSION 1000

/* ======================================================================== */
/* Type inference (infer.c)                                                 */
/* ======================================================================== */

/* Types every expression and variable of `fn` given fn->param_types, checks
 * the rules (kernels return nothing, indices are integers, ...), and
 * returns EMBER_SUCCESS or an error recorded with ir_error. */
EM_HIDDEN ember_status infer_function(Function *fn);

/* ======================================================================== */
/* Barrier fission analysis (fission.c; the code is emitted by lower.c)     */
/* ======================================================================== */

/* cuda.syncthreads_count/and/or, shuffles, votes and ballot (not
 * activemask / lanemask_lt, which need no other thread's value). */
EM_HIDDEN bool fission_is_collective(const Node *n);
/* ND_SYNC or a collective: the block is split there. */
EM_HIDDEN bool fission_is_barrier(const Node *n);
EM_HIDDEN bool fission_contains_barrier(const Node *n);
/* Statement n cannot run inside one thread loop: it holds a barrier, or a
 * break / continue out of a loop around it. */
EM_HIDDEN bool fission_splits(const Node *n);
/* dep[v] (fn->nvars + 1 entries): variable v may hold a value that
 * depends on the thread (threadIdx, cuda.grid, the lane, a shuffle, an
 * element at such an index, or such a variable; flow-insensitive). */
EM_HIDDEN void fission_thread_dependence(const Function *fn, bool *dep);
/* n holds cuda.syncthreads or syncthreads_count/and/or. */
EM_HIDDEN bool fission_has_block_barrier(const Node *n);
/* An `if` that splits, with no break / continue out of it, whose branches
 * split only at warp-level operations (shuffles, votes, syncwarp) or whose
 * condition depends on the thread (dep): each thread follows its own
 * branch (`if tid < 32:` around shuffles; `if tid < size:` around
 * barriers, which then count only the threads that took the branch). */
EM_HIDDEN bool fission_divergent_if(const Node *n, const bool *dep);
/* The same for a `while` loop with no break / continue: each thread loops
 * while its own condition holds (`while cuda.any_sync(mask, x > 0):`); the
 * loop goes on while some thread's does. */
EM_HIDDEN bool fission_divergent_while(const Node *n, const bool *dep);
/* uni[v] (fn->nvars entries): variable v holds the same value in every
 * thread of the block and is assigned only between regions (then lowered
 * as one scalar per block, its assignments run once). */
EM_HIDDEN void fission_uniform_vars(const Function *fn, const bool *dep, bool *uni);
/* n uses block-level operations (barriers, collectives, warp masks, shared
 * arrays): the host lowering builds the kernel by fission. */
EM_HIDDEN bool fission_uses_block(const Node *n);
/* Bytes of static shared memory kernel fn declares (its cuda.shared.array
 * of constant extents, each 16-byte aligned as the host lowering lays them
 * out); the launch adds the dynamic ones to check the block's limit. */
EM_HIDDEN int64_t fission_static_shared_bytes(const Function *fn);
/* "cuda.syncthreads", "cuda.shfl_sync" ... for messages. */
EM_HIDDEN const char *fission_op_name(const Node *n);
/* Inlines, into the kernel fn's own IR, every call of a device function
 * whose body has block-level operations (the host lowering inlines device
 * functions into one thread's code, which cannot hold a barrier): the
 * callee's parameters and variables become kernel variables. Refuses (at
 * the call) a callee that returns before its end or is recursive, and a
 * call in a `while` condition. */
EM_HIDDEN ember_status fission_inline(Function *fn);
/* Refuses barriers under conditions provably different between the
 * threads of a block: computed from the thread index and nothing but
 * constants and block dimensions (an error at the condition, naming the
 * barrier). */
EM_HIDDEN ember_status fission_check(Function *fn);

#endif /* EMBER_IR_H */
