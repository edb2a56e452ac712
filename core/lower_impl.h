/*
 * lower_impl.h — what the files of the lowering share: the state of one
 * lowering (Lower), the interface a target implements (LowerTarget), and a
 * section per file listing what it exports.
 *
 * The lowering of typed IR to LLVM IR is split by concern:
 *
 *   core/lower.c            lower_module, types, small builders, variables,
 *                           parameters (Argument ABI), counted loops, line tables
 *   core/lower_check.c      validation: what lowering cannot do, located
 *   core/lower_arith.c      operators on numbers
 *   core/lower_time.c       operators on datetime64 / timedelta64
 *   core/lower_math.c       math / cmath / NumPy elementary functions
 *   core/lower_bf16.c       bfloat16 conversions (integer operations) and hfma
 *   core/lower_cspecial.c   cmath's values for infinite and NaN parts
 *   core/lower_expr.c       expressions, calls of device functions, intrinsics
 *   core/lower_array.c      indexing, bounds checks, atomics, attributes, slices,
 *                           local / shared / constant arrays, reductions
 *   core/lower_stmt.c       statements, range loops, print
 *   core/lower_view.c       a.view(dtype)
 *   core/lower_arrayexpr.c  arrays created and computed whole (ember.jit)
 *   core/lower_fission.c    barrier fission: block semantics without hardware blocks
 *
 * and the targets implement LowerTarget: devices/cpu/lower_host.c (host
 * LLVM IR for the ORC JIT; with lower_jit.c and lower_prange.c for
 * ember.jit functions) and devices/cuda/lower_nvvm.c (NVVM IR for libNVVM).
 * Core files never ask which target they lower for: they call a slot.
 *
 * Cross-file functions carry the prefix lw_ and hidden visibility (the
 * whole library is built -fvisibility=hidden).
 */
#ifndef EMBER_LOWER_IMPL_H
#define EMBER_LOWER_IMPL_H

#include <setjmp.h>
#include <stddef.h>

#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>

#include "core/lower.h"

typedef struct Lower Lower;
typedef struct LowerJit LowerJit;
/* A target's lowering of one intrinsic (node n, ND_INTRINSIC): its value,
 * or anything for one that gives none. */
typedef LLVMValueRef (*LowerIntrinsicFn)(Lower *L, Node *n);

/*
 * A target: the slots where lowering differs. Required slots are marked;
 * an (optional) slot may be NULL and says what NULL means.
 */
struct LowerTarget {
    const char *name;
    /* (required) Builds the root function named `symbol` in L->mod: a
     * kernel, or a non-kernel root (an ember.jit function when `jit` is
     * set, else a device function compiled on its own). Sets L->func, the
     * thread state (L->tid, bid, bdim, gdim, linear_tid), L->fault and
     * L->depth, then lowers the body with lw_stmt / lw_lower_body. */
    void (*build_root)(Lower *L, const char *symbol);
    /* (optional) The runtime of ember.jit functions (LowerJit below);
     * NULL: the target has none, a non-kernel root is a device function. */
    const LowerJit *jit;
    /* The target runs blocks without hardware: a kernel with barriers,
     * shared memory or warp collectives is built by barrier fission
     * (core/fission.c, lower_fission.c), and those operations must then
     * be in the kernel's own body. */
    bool fission;
    /* (required) The math library's symbol for `name` ("sin") of float
     * (f32) or double, written to buf. */
    const char *(*math_symbol)(const char *name, bool f32, char *buf, size_t cap);
    /* (optional) The math library function ("floor") to call instead of
     * the LLVM intrinsic `llvm_name` ("llvm.floor"), or NULL to call the
     * intrinsic. NULL slot: every LLVM intrinsic is called as it is. */
    const char *(*intrinsic_libm)(const char *llvm_name);
    /* (optional) -x of a float; NULL: LLVM's fneg instruction. */
    LLVMValueRef (*fneg)(Lower *L, LLVMValueRef x);
    /* (required) The target's own lowering of the intrinsics
     * (core/intrinsics.def) that core/lower_expr.c does not lower the same
     * way for every target, by INTR_* code. A NULL entry: the target does
     * not have that intrinsic (refused when met), except the warp and block
     * collectives of a kernel built by fission, which lower_fission.c
     * lowers. */
    const LowerIntrinsicFn *intrinsics;
    /* (optional) cuda.syncthreads() / syncwarp(mask) when the kernel is not
     * built by fission; NULL: nothing to emit (fission split the body). */
    void (*sync)(Lower *L, Node *n);
    /* (optional) grid.sync() (SYNC_GRID) in a kernel built by fission,
     * emitted once per block where every thread of the block has arrived
     * (lower_fission.c); NULL: the target has no grid barrier (refused). */
    void (*grid_sync)(Lower *L);
    /* (required) A memory fence of `scope` (FENCE_*). */
    void (*fence)(Lower *L, int scope);
    /* (required) Atomic read-modify-write of *p with v, returning the old
     * value: op on integers, or LLVMAtomicRMWBinOpFAdd / FSub on floats. */
    LLVMValueRef (*atomic_rmw)(Lower *L, LLVMAtomicRMWBinOp op, LLVMValueRef p, LLVMValueRef v);
    /* (required) Compare-and-swap of the integer *p: the value seen, and
     * in *ok (when not NULL) whether it was `expected`. */
    LLVMValueRef (*atomic_cas)(Lower *L, LLVMValueRef p, LLVMValueRef expected,
                               LLVMValueRef desired, LLVMValueRef *ok);
    /* (required) Makes the load or store `inst` one that other threads may
     * race with, of at least `order` where the target has orderings. */
    void (*atomic_access)(Lower *L, LLVMValueRef inst, LLVMAtomicOrdering order);
    /* (required) A pointer (i8 *) to a constant NUL-terminated string. */
    LLVMValueRef (*string_ptr)(Lower *L, const char *text);
    /* (required) Prints with format vals[0] the values vals[1..n-1] (i64,
     * u64, double or string pointers) as one line of output. */
    void (*print)(Lower *L, LLVMValueRef *vals, unsigned n);
    /* (optional) The memory of cuda.shared.array n (count elements of
     * itemsize bytes; count 0: the launch's dynamic shared memory, whose
     * length goes to *dyn_len), typed as a pointer to its element; NULL:
     * shared arrays only exist under fission. */
    LLVMValueRef (*shared_array)(Lower *L, Node *n, int64_t count, int64_t itemsize,
                                 LLVMValueRef *dyn_len);
    /* The address space of constant data (cuda.const.array_like); 0: the
     * generic one. */
    unsigned const_address_space;
    /* (optional) The bounds checks every kernel gets, also without
     * boundscheck: LOWER_CHECK_WRITES | LOWER_CHECK_READS; NULL: none (a
     * GPU, as numba: only boundscheck / debug check). */
    unsigned (*kernel_checks)(void);
    /* The IR has LLVM's `freeze` (not NVVM's): int(x) of a NaN, an infinity
     * or a float out of range is then some integer, not poison (which can
     * turn `int(x) % n` into an index out of bounds). */
    bool has_freeze;
};

#define LOWER_CHECK_WRITES 1u /* stores and atomics */
#define LOWER_CHECK_READS 2u  /* loads */

/* The runtime an ember.jit function calls (devices/cpu/lower_jit.c). */
struct LowerJit {
    /* The data of a new array of `shape` (nd i64 values) in the call's
     * arena (zeroed when `zero`); the call ends with a fault when it fails. */
    LLVMValueRef (*array_alloc)(Lower *L, const Node *n, const LLVMValueRef *shape, int nd,
                                int64_t itemsize, bool zero);
    /* At the end of a loop body's iteration: frees the arrays it made that
     * no variable holds. */
    void (*loop_end)(Lower *L, const Node *body);
    /* An outermost prange loop of a parallel function. */
    void (*prange_loop)(Lower *L, Node *n);
    /* Stores 64 bits that detail the fault being recorded (the extents of
     * a failed broadcast or reshape). */
    void (*fault_detail)(Lower *L, LLVMValueRef bits);
    /* Sorts the row of n (i64) elements of `kind` (a TypeKind) at row (i8*) with
     * byte stride `stride` in place, or writes its stable argsort to idx (an
     * i64*, or NULL); returns an i32, nonzero when out of memory (devices/cpu/sort.c). */
    LLVMValueRef (*sort_row)(Lower *L, LLVMValueRef row, LLVMValueRef n, LLVMValueRef stride,
                             int kind, LLVMValueRef idx);
    /* (optional: NULL means no BLAS) C (m x n, C order, zeroed) = A (m x k) B
     * (k x n) of float `kind`, operands at byte strides (rows, columns);
     * returns an i32, nonzero when the BLAS did it (devices/cpu/blas.c). */
    LLVMValueRef (*gemm)(Lower *L, int kind, LLVMValueRef m, LLVMValueRef n, LLVMValueRef k,
                         LLVMValueRef a, LLVMValueRef a_rs, LLVMValueRef a_cs, LLVMValueRef b,
                         LLVMValueRef b_rs, LLVMValueRef b_cs, LLVMValueRef c);
};

#define MAX_LOOP_DEPTH 256
/* cuda.local.array lives in the worker's stack frame (8 MiB stacks). */
#define LOCAL_ARRAY_MAX_BYTES (1 << 20)
#define LOCAL_ARRAY_MAX_BYTES_RECURSIVE 1024
/* constant memory: 64 KiB on every CUDA GPU */
#define CONST_ARRAY_MAX_BYTES (64 << 10)
/* a global array frozen into an ember.jit function (a constant of the module) */
#define HOST_CONST_ARRAY_MAX_BYTES (16 << 20)
/* the most static shared memory one kernel may declare: 48 KiB on every
 * CUDA GPU (ptxas: "uses too much shared data (..., 0xc000 max)"); more
 * takes dynamic shared memory, which a launch may ask up to the opt-in
 * limit (Hopper: 227 KiB) */
#define SHARED_ARRAY_MAX_BYTES (48 << 10)

typedef struct LoopTargets {
    LLVMBasicBlockRef brk, cont;
} LoopTargets;

struct Lower {
    const LowerTarget *target; /* what differs per target (below) */
    const LowerJit *jit;       /* the target's ember.jit runtime when the root is an
                                * ember.jit function, else NULL */
    LLVMDIBuilderRef di;      /* line tables (LowerOptions.line_tables), or NULL */
    LLVMMetadataRef di_sp;    /* the kernel's DISubprogram */
    LLVMValueRef root_func;   /* the kernel's LLVM function */
    Function *root_fn;        /* the kernel being lowered (its lines are recorded) */
    const LowerOptions *opt;
    Function *fn;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;       /* the code builder */
    LLVMBuilderRef ab;      /* positioned in the entry block: allocas */
    LLVMValueRef func;      /* the entry function */
    jmp_buf fail_jmp;
    ember_status st;
    /* frequently used types */
    LLVMTypeRef t_void, t_i1, t_i8, t_i16, t_i32, t_i64, t_f16, t_f32, t_f64, t_ptr;
    /* per-kernel state */
    LLVMValueRef *var_slots;   /* one alloca per variable (NULL until used) */
    LLVMValueRef *params;      /* unpacked parameter values (prologue) */
    LLVMValueRef tid[3];       /* threadIdx, i32 */
    LLVMValueRef bid[3];       /* blockIdx, i32 */
    LLVMValueRef bdim[3];      /* blockDim, i32 */
    LLVMValueRef gdim[3];      /* gridDim, i32 */
    LLVMValueRef linear_tid;   /* tx + ty*bx + tz*bx*by, i64 */
    LLVMBasicBlockRef ret_bb;  /* `return`: the innermost thread loop's latch, or the
                                * end of the device function being inlined */
    LLVMValueRef ret_slot;     /* device function: alloca of its return value (or NULL) */
    LLVMValueRef none_slot;    /* ember.jit entry: i8 alloca, 1 until a `return` gives a
                                * value (Python then gets None); NULL elsewhere */
    Node *call_site;           /* device function being lowered: its (innermost) call */
    LoopTargets loops[MAX_LOOP_DEPTH];
    int nloops;
    LLVMValueRef fault;        /* i32 *: HostDims.fault */
    LLVMValueRef depth;        /* i32: recursion depth (0 outside recursive functions) */
    /* recursive device function specialisations, lowered as real functions */
    struct RealFn { Function *spec; LLVMValueRef fn; LLVMTypeRef ty; } *real;
    int nreal, capreal;
    Function **checked;        /* recursive specialisations already validated */
    int nchecked, capchecked;
    int in_recursive;          /* validating inside a recursive specialisation */
    bool boundscheck;          /* the root's boundscheck option */
    bool zero_division_raises; /* the root's zero_division_raises option */
    bool check_writes;         /* stores and atomics check their index: boundscheck, or
                                * the target's kernel_checks */
    bool check_reads;          /* loads check their index: likewise */
    signed char *tid_axis;     /* per variable of the root: the axis d when its only
                                * assignment is `v = cuda.threadIdx.<d>`, else -1 (NULL
                                * until a check asks: lower_array.c thread_axis) */
    LLVMValueRef rng;          /* np.random: this thread's generator, looked up once in
                                * the current LLVM function's entry block (NULL until
                                * a draw needs it) */
    bool function_entry;       /* the root is an ember.jit function (L->jit is set):
                                * no threads, a return value */
    char **sites;              /* "file:line:col" per bounds check (HostDims.fault_site) */
    int nsites, capsites;
    LLVMValueRef call_dims;    /* ember.jit entry: its HostDims * (the call's arena) */
    LLVMValueRef *elems;       /* ND_ELEM k's value in the array loop being lowered */
    /* barrier fission (a host kernel with block-level operations) */
    bool fis;                  /* the kernel is built by fission */
    bool in_region;            /* lowering inside a region's thread loop */
    bool fis_has_return;       /* the kernel body has a `return`: exited flags */
    LLVMTypeRef ctx_ty;        /* one thread's context (build_entry_fission) */
    LLVMValueRef tctx;         /* ctx_ty *: this worker's contexts, one per thread */
    LLVMValueRef shared;       /* i8 *: this worker's shared memory */
    LLVMValueRef dyn_shared;   /* i64: bytes of dynamic shared memory */
    LLVMValueRef nthreads;     /* i64: threads per block */
    LLVMValueRef dims[6];      /* i64: grid and block dims */
    Node **locals;             /* kernel-level cuda.local.array nodes: ctx fields */
    int nlocals, caplocals;
    Node **shareds;            /* cuda.shared.array nodes, at shared_off[i] */
    int64_t *shared_off;
    int nshareds, capshareds, capoff;
    int64_t shared_static;     /* bytes of static shared memory */
    Node **colls;              /* collectives: a scratch record each in ctx */
    int ncolls, capcolls;
    LLVMValueRef *coll_result; /* syncthreads_count/and/or: i32 alloca of the result */
    Node **divs;               /* divergent ifs (fission_divergent_if): a branch flag each */
    int ndivs, capdivs;
    struct { int field; bool taken; } preds[MAX_LOOP_DEPTH]; /* the divergent branches the
                                * code being lowered is in: a thread runs it when its
                                * flag `field` equals `taken` */
    int npreds;
    LLVMBasicBlockRef skip_bb; /* where uniform control goes when no thread is live */
    unsigned char *touched;    /* per variable: read (1) / assigned (2) by a region */
    bool *uniform;             /* per variable: one scalar per block (fission_uniform_vars) */
    bool *dep;                 /* per variable: may depend on the thread */
    bool *coll_ready;          /* the collective's operands are in scratch */
};

/* A counted loop `for (iv = start; iv < end; iv++)` (lw_loop_open): iv is
 * a phi in the header; the body continues at `latch`. */
typedef struct CountedLoop {
    LLVMBasicBlockRef hdr, latch, exit, pre;
    LLVMValueRef iv, next;
} CountedLoop;

static inline const char *tstr(const Type *t, char *buf) { return ty_str(t, buf, 256); }
static inline LLVMValueRef ci(LLVMTypeRef t, int64_t v)
{
    return LLVMConstInt(t, (unsigned long long)v, 1);
}
static inline LLVMValueRef i64c(Lower *L, int64_t v) { return ci(L->t_i64, v); }
static inline LLVMValueRef re_of(Lower *L, LLVMValueRef c)
{
    return LLVMBuildExtractValue(L->b, c, 0, "re");
}
static inline LLVMValueRef im_of(Lower *L, LLVMValueRef c)
{
    return LLVMBuildExtractValue(L->b, c, 1, "im");
}

/* ---- lower.c */
EM_HIDDEN _Noreturn void lw_fail(Lower *L, const Node *n, const char *fmt, ...) EM_PRINTF(3, 4);
EM_HIDDEN void lw_name_params(LLVMValueRef f);
EM_HIDDEN bool lw_grow_list(void **v, int *cap, int need, size_t size);
EM_HIDDEN int lw_add_site(Lower *L, const Node *n);
EM_HIDDEN int lw_add_raise_site(Lower *L, const Node *n, const char *exc, const char *msg);
EM_HIDDEN const Type *lw_part_type(const Type *t);
EM_HIDDEN LLVMTypeRef lw_lty(Lower *L, const Type *t);
EM_HIDDEN LLVMTypeRef lw_mty(Lower *L, const Type *t);
EM_HIDDEN LLVMTypeRef lw_item_mty(Lower *L, const Type *elem); /* records: their bytes */
EM_HIDDEN unsigned lw_elem_align(const Type *elem);
EM_HIDDEN LLVMBasicBlockRef lw_new_bb(Lower *L, const char *name);
EM_HIDDEN void lw_start_dead_block(Lower *L);
EM_HIDDEN LLVMValueRef lw_entry_alloca(Lower *L, LLVMTypeRef t, const char *name);
EM_HIDDEN LLVMValueRef lw_call_intrinsic(Lower *L, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                                         unsigned n);
EM_HIDDEN LLVMValueRef lw_intr1(Lower *L, const char *name, LLVMValueRef x);
EM_HIDDEN LLVMValueRef lw_intr2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y);
EM_HIDDEN const char *lw_math_symbol(Lower *L, const char *name, bool f32, char *buf, size_t cap);
EM_HIDDEN LLVMValueRef lw_call_named(Lower *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                                     LLVMValueRef *args, unsigned n);
EM_HIDDEN LLVMValueRef lw_libm1(Lower *L, const char *name, LLVMValueRef x);
EM_HIDDEN LLVMValueRef lw_libm2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y);
EM_HIDDEN LLVMValueRef lw_build_fneg(Lower *L, LLVMValueRef x);
EM_HIDDEN LLVMValueRef lw_make_complex(Lower *L, const Type *t, LLVMValueRef re, LLVMValueRef im);
EM_HIDDEN LLVMValueRef lw_truth(Lower *L, LLVMValueRef v, const Type *t);
EM_HIDDEN LLVMValueRef lw_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from, const Type *to);
EM_HIDDEN LLVMValueRef lw_var_slot(Lower *L, int var);
EM_HIDDEN void lw_var_store(Lower *L, int var, LLVMValueRef v);
EM_HIDDEN LLVMValueRef lw_var_load(Lower *L, int var);
EM_HIDDEN void lw_begin_line_tables(Lower *L, const char *symbol);
EM_HIDDEN void lw_set_line(Lower *L, const Node *n);
EM_HIDDEN LLVMValueRef lw_unpack(Lower *L, LLVMValueRef args, const Type *t, size_t *off, const char *name);
EM_HIDDEN void lw_loop_open(Lower *L, CountedLoop *c, LLVMValueRef start, LLVMValueRef end, const char *name,
                            LLVMBasicBlockRef exit);
EM_HIDDEN void lw_loop_close(Lower *L, CountedLoop *c);
EM_HIDDEN bool lw_has_array(const Type *t);

/* ---- lower_check.c */
EM_HIDDEN bool lw_supported_type(const Type *t);
EM_HIDDEN ember_status lw_check(Lower *L, const Node *n, int depth);

/* ---- lower_arith.c */
EM_HIDDEN LLVMValueRef lw_complex_div(Lower *L, const Type *t, LLVMValueRef x, LLVMValueRef y);
EM_HIDDEN LLVMValueRef lw_binary(Lower *L, Node *n);
EM_HIDDEN bool lw_checks_zero_division(const Lower *L, const Node *n);
EM_HIDDEN LLVMValueRef lw_pow(Lower *L, const Node *exp_node, LLVMValueRef x, LLVMValueRef y);
EM_HIDDEN LLVMValueRef lw_compare(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_unary(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_and_or(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_ifexp(Lower *L, Node *n);
/* Python's floor division / modulo of signed or unsigned integers; by zero gives 0. */
EM_HIDDEN LLVMValueRef lw_int_divmod(Lower *L, bool want_mod, LLVMValueRef a, LLVMValueRef b,
                                     bool is_signed);

/* ---- lower_view.c */
EM_HIDDEN LLVMValueRef lw_view(Lower *L, Node *n);

/* ---- lower_time.c */
EM_HIDDEN LLVMValueRef lw_time_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from,
                                    const Type *to);
EM_HIDDEN LLVMValueRef lw_time_binary(Lower *L, Node *n);

/* ---- lower_bf16.c */
EM_HIDDEN LLVMValueRef lw_bf16_to_f32(Lower *L, LLVMValueRef bits);
EM_HIDDEN LLVMValueRef lw_f32_to_bf16(Lower *L, LLVMValueRef f);
EM_HIDDEN LLVMValueRef lw_bf16_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from,
                                    const Type *to);
EM_HIDDEN LLVMValueRef lw_bf16_fma(Lower *L, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);

/* ---- lower_math.c */
EM_HIDDEN LLVMValueRef lw_fadd(Lower *L, LLVMValueRef a, LLVMValueRef b);
EM_HIDDEN LLVMValueRef lw_fsub(Lower *L, LLVMValueRef a, LLVMValueRef b);
EM_HIDDEN LLVMValueRef lw_fmul(Lower *L, LLVMValueRef a, LLVMValueRef b);
EM_HIDDEN LLVMValueRef lw_fdiv(Lower *L, LLVMValueRef a, LLVMValueRef b);
EM_HIDDEN LLVMValueRef lw_fcmp(Lower *L, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b);
EM_HIDDEN LLVMValueRef lw_math_call(Lower *L, Node *n);

/* ---- lower_cspecial.c */
typedef enum CmathSpecial {
    CSPECIAL_SQRT, CSPECIAL_EXP, CSPECIAL_LOG, CSPECIAL_ACOS, CSPECIAL_ACOSH,
    CSPECIAL_ASINH, CSPECIAL_ATANH, CSPECIAL_COSH, CSPECIAL_SINH, CSPECIAL_TANH,
    CSPECIAL_RECT, /* rect(x, y): x the modulus, y the angle */
} CmathSpecial;
/* f(x + iy)'s value where x or y is infinite or NaN replaces *re, *im (the
 * formula's result, kept for finite arguments). */
EM_HIDDEN void lw_cmath_special(Lower *L, CmathSpecial f, LLVMValueRef x, LLVMValueRef y,
                                LLVMValueRef *re, LLVMValueRef *im);

/* ---- lower_expr.c */
EM_HIDDEN LLVMValueRef lw_shfl_c(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_intrinsic(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_constant(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_lower_body(Lower *L, Node *body, const Type *rt, const char *name);
EM_HIDDEN LLVMValueRef lw_expr(Lower *L, Node *n);
/* Records a `raise` at n's site in the fault record (the code goes on). */
EM_HIDDEN void lw_raise(Lower *L, const Node *n);
EM_HIDDEN void lw_raise_fault(Lower *L, int site); /* the same for a site already added */
/* ---- lower_foreign.c ---- */
EM_HIDDEN LLVMValueRef lw_foreign_call(Lower *L, Node *n);

/* ---- lower_array.c */
EM_HIDDEN void lw_fault_store(Lower *L, LLVMValueRef v, LLVMValueRef ptr, LLVMAtomicOrdering order);
EM_HIDDEN LLVMValueRef lw_bounds_fault(Lower *L, const Node *n, LLVMValueRef bad, LLVMValueRef p);
EM_HIDDEN LLVMValueRef lw_element_ptr(Lower *L, Node *n, const Type **elem_out, bool write);
EM_HIDDEN LLVMValueRef lw_field_ptr(Lower *L, Node *n, unsigned *align);
EM_HIDDEN LLVMValueRef lw_atomic_op(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_attr(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_slice_view(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_const_array(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_local_array(Lower *L, Node *n);

/* ---- lower_stmt.c */
EM_HIDDEN void lw_push_loop(Lower *L, const Node *n, LLVMBasicBlockRef brk, LLVMBasicBlockRef cont);
EM_HIDDEN void lw_for_range(Lower *L, Node *n);
EM_HIDDEN void lw_if_branches(Lower *L, LLVMValueRef c, Node *n, const char *tag);
EM_HIDDEN void lw_stmt(Lower *L, Node *n);

/* ---- lower_arrayexpr.c */
EM_HIDDEN void lw_abort_if(Lower *L, const Node *n, LLVMValueRef bad);
EM_HIDDEN void lw_end_call(Lower *L, const Node *n, int code);
EM_HIDDEN LLVMValueRef lw_new_array(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_array_expr(Lower *L, Node *n);
EM_HIDDEN void lw_array_assign(Lower *L, Node *n);

/* ---- lower_build.c (ember.jit functions) */
/* np.array / np.asarray (ND_NEW_ARRAY NEW_FROM, NEW_ASARRAY): a new C array. */
EM_HIDDEN LLVMValueRef lw_array_from(Lower *L, Node *n);
/* A list comprehension's rows (NEW_ROWS0, NEW_ROWS): a new C array. */
EM_HIDDEN LLVMValueRef lw_rows(Lower *L, Node *n);

/* ---- lower_fancy.c (ember.jit functions) */
/* a[mask], a[indices] (ND_NEW_ARRAY NEW_TAKE): a new C array. */
EM_HIDDEN LLVMValueRef lw_take(Lower *L, Node *n);
/* a[mask] = v, a[indices] = v (ND_STORE with op 1). */
EM_HIDDEN void lw_fancy_store(Lower *L, Node *n);
/* The index tuple of a flat element number (ND_ATTR ATTR_UNRAVEL). */
EM_HIDDEN LLVMValueRef lw_unravel(Lower *L, Node *n);

/* ---- lower_sort.c (ember.jit functions) */
/* np.sort(a), a.sort(), np.argsort(a) along the last axis (ND_ATTR). */
EM_HIDDEN LLVMValueRef lw_sort(Lower *L, Node *n);

/* ---- lower_dot.c (ember.jit functions) */
/* np.dot(a, b) / a @ b (ND_ATTR ATTR_DOT; a: the first operand's value). */
EM_HIDDEN LLVMValueRef lw_dot(Lower *L, Node *n, LLVMValueRef a);

/* ---- lower_reduce.c (ember.jit functions) */
/* argmin/argmax/all/any/var/std/cumsum/cumprod, and any reduction with an
 * axis (n->b), of the array value a of type at. */
EM_HIDDEN LLVMValueRef lw_reduction(Lower *L, Node *n, LLVMValueRef a, const Type *at);

/* ---- lower_fission.c */
EM_HIDDEN LLVMValueRef lw_fis_var_slot(Lower *L, int var);
EM_HIDDEN void lw_fis_store_all(Lower *L, int var, LLVMValueRef v);
EM_HIDDEN LLVMValueRef lw_fis_block_intrinsic(Lower *L, Node *n);
EM_HIDDEN LLVMValueRef lw_fis_array_memory(Lower *L, Node *n, LLVMValueRef *dyn_len, int64_t itemsize);
EM_HIDDEN void lw_fis_stmt(Lower *L, Node *n);
EM_HIDDEN void lw_fission_prepare(Lower *L);
EM_HIDDEN void lw_fission_blocks(Lower *L, LLVMValueRef first, LLVMValueRef last);

#endif /* EMBER_LOWER_IMPL_H */
