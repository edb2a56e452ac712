/*
 * lower.c — typed IR (core/ir.h) to an LLVM 14 module, for the host or as
 * NVVM IR for NVIDIA GPUs (lower.h says why one walker serves both).
 *
 * Host: the module holds one entry function (signature in host_jit.h) that
 * runs a range of blocks of the grid. Its shape:
 *
 *   entry:      allocas for every variable and hidden loop counter
 *   prologue:   unpack the parameters from `args` (Argument ABI, core/ir.h)
 *               and the grid/block dims, once per block range
 *   for blk in [first_block, last_block):   blockIdx = (blk % gx, blk / gx % gy, blk / gx / gy)
 *     for tz, for ty, for tx (innermost):   threadIdx = (tx, ty, tz)
 *       <kernel body>        a `return` branches to the tx latch (ends this thread)
 *
 * The thread loops are plain counted loops so that LLVM can vectorise the
 * innermost one.
 *
 * NVVM (build_entry_nvvm): one kernel per module, `void k(i64 slot0, ...)`
 * taking the packed arguments as 8-byte slots (lower.h); thread and block
 * indices come from the PTX special registers; a `return` ends the thread.
 * The module is in the LLVM 7.0.1 dialect libNVVM reads: typed pointers, no
 * `fneg` instruction, no llvm.* math intrinsics (libdevice's __nv_*
 * instead), globals only in the global (1) or constant (4) address space,
 * float atomics through NVVM intrinsics, fences through llvm.nvvm.membar.*,
 * print() through vprintf. Everything else is shared with the host. Variables are allocas in the entry block; mem2reg/SROA turn
 * them into registers. bool is i1 in registers and i8 in memory (variables,
 * array elements). A tuple is an LLVM literal struct of its fields; an array
 * value is the flat struct { i8 *data, i64 shape[ndim]..., i64 strides[ndim]... }.
 * Weak literal types are lowered as their concrete type (ty_concrete).
 *
 * Semantics follow Python / numba (each rule is quoted above its code).
 * Deviations, all documented where they are implemented:
 *   - integer `//` and `%` by zero give 0 (numba's CUDA behaviour) instead of
 *     raising ZeroDivisionError; float ones give IEEE results (x/0, nan);
 *   - a zero range() step runs no iteration (Python raises ValueError);
 *   - `int ** negative int` truncates the exact result toward zero;
 *   - shifts by a count >= the width (or negative) give 0 / the sign fill;
 *   - no bounds checks in this build: negative indices wrap once;
 *   - math domain errors give nan or inf (math.log(-1), cmath.log(0),
 *     math.remainder(inf, 1)) instead of raising ValueError, as numba;
 *     `np.reciprocal` of the integer 0 gives 0; complex functions of a
 *     number with a nan part may give nan in both parts where CPython's
 *     special-value tables keep one (see "complex functions" below).
 *
 * Errors: before anything is built, validate() walks the tree and reports an
 * unsupported node, type or shape with ir_error at its location. During the
 * build, every place that could hand LLVM an ill-typed instruction checks
 * first and leaves through fail() (one longjmp back to lower_module, which
 * disposes the half-built module): LLVM never sees invalid input.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>

#include "core/lower.h"
#include "devices/cpu/host_jit.h"

#define MAX_LOOP_DEPTH 256
/* cuda.local.array lives in the worker's stack frame (8 MiB stacks). */
#define LOCAL_ARRAY_MAX_BYTES (1 << 20)
#define LOCAL_ARRAY_MAX_BYTES_RECURSIVE 1024
/* constant memory: 64 KiB on every CUDA GPU */
#define CONST_ARRAY_MAX_BYTES (64 << 10)
/* a global array frozen into an ember.jit function (a constant of the module) */
#define HOST_CONST_ARRAY_MAX_BYTES (16 << 20)
/* the most static shared memory one block may use (Hopper: 227 KiB) */
#define SHARED_ARRAY_MAX_BYTES (227 << 10)

typedef struct LoopTargets {
    LLVMBasicBlockRef brk, cont;
} LoopTargets;

typedef struct Lower {
    LowerTarget target;
    LLVMDIBuilderRef di;      /* line tables (LowerOptions.line_tables), or NULL */
    LLVMMetadataRef di_sp;    /* the kernel's DISubprogram */
    LLVMValueRef root_func;   /* the kernel's LLVM function */
    Function *root_fn;        /* the kernel being lowered (its lines are recorded) */
    const LowerOptions *opt;
    int nvvmir[2];          /* LOWER_NVVM: !nvvmir.version */
    Function *fn;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;       /* the code builder */
    LLVMBuilderRef ab;      /* positioned in the entry block: allocas */
    LLVMValueRef func;      /* the entry function */
    jmp_buf fail_jmp;
    ember_status st;
    /* frequently used types */
    LLVMTypeRef t_void, t_i1, t_i8, t_i16, t_i32, t_i64, t_f32, t_f64, t_ptr;
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
    LLVMValueRef rng;          /* np.random: this thread's generator, looked up once in
                                * the current LLVM function's entry block (NULL until
                                * a draw needs it) */
    bool function_entry;       /* the root is an ember.jit function (LOWER_HOST, not a
                                * kernel): no threads, a return value */
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
} Lower;

static _Noreturn void fail(Lower *L, const Node *n, const char *fmt, ...) EM_PRINTF(3, 4);
static _Noreturn void fail(Lower *L, const Node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SrcLoc loc = n ? n->loc : (L->fn->body ? L->fn->body->loc : (SrcLoc){0, 0});
    L->st = ir_error(L->fn, loc, "%s", msg);
    longjmp(L->fail_jmp, 1);
}

static const char *tstr(const Type *t, char *buf) { return ty_str(t, buf, 256); }

/* Names a function's parameters p0, p1 ...: the text of a module then reads
 * the same in LLVM 7's syntax (which has no numbered parameters), the form
 * libNVVM takes a module with line tables in. */
static void name_params(LLVMValueRef f)
{
    unsigned n = LLVMCountParams(f);
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "p%u", i);
        LLVMSetValueName2(LLVMGetParam(f, i), name, (size_t)len);
    }
}

/* Makes room for `need` items of `size` bytes in *v (capacity *cap). */
static bool grow_list(void **v, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int ncap = *cap ? *cap * 2 : 8;
    if (ncap < need)
        ncap = need;
    void *p = em_calloc((size_t)ncap, size);
    if (!p)
        return false;
    if (*cap)
        memcpy(p, *v, (size_t)*cap * size);
    em_free(*v);
    *v = p;
    *cap = ncap;
    return true;
}

/* ======================================================================== */
/* Validation: everything lowering cannot do is reported here, located.     */
/* ======================================================================== */

static bool supported_type(const Type *t)
{
    if (!t)
        return false;
    if (t->kind == TY_ARRAY)
        return t->elem && ty_is_number(t->elem) && !ty_is_weak(t->elem) && t->ndim >= 1 &&
               t->ndim <= EMBER_MAX_NDIM;
    if (t->kind == TY_TUPLE) {
        for (int i = 0; i < t->nfields; i++)
            if (!supported_type(t->fields[i]))
                return false;
        return true;
    }
    return ty_is_number(t);
}

static ember_status check(Lower *L, const Node *n, int loop_depth);

static const char *block_op_name(int op)
{
    static const char *const names[INTR_COUNT] = {
        [INTR_SYNCTHREADS_COUNT] = "cuda.syncthreads_count",
        [INTR_SYNCTHREADS_AND] = "cuda.syncthreads_and",
        [INTR_SYNCTHREADS_OR] = "cuda.syncthreads_or", [INTR_SHFL_IDX] = "cuda.shfl_sync",
        [INTR_SHFL_UP] = "cuda.shfl_up_sync", [INTR_SHFL_DOWN] = "cuda.shfl_down_sync",
        [INTR_SHFL_XOR] = "cuda.shfl_xor_sync", [INTR_VOTE_ALL] = "cuda.all_sync",
        [INTR_VOTE_ANY] = "cuda.any_sync", [INTR_VOTE_UNI] = "cuda.eq_sync",
        [INTR_BALLOT] = "cuda.ballot_sync", [INTR_MATCH_ANY] = "cuda.match_any_sync",
        [INTR_MATCH_ALL] = "cuda.match_all_sync", [INTR_ACTIVEMASK] = "cuda.activemask",
        [INTR_LANEMASK_LT] = "cuda.lanemask_lt"};
    return (unsigned)op < INTR_COUNT && names[op] ? names[op] : "this operation";
}

/* Barriers, shared memory and warp collectives get block semantics on the
 * CPU device by barrier fission of the kernel body; a device function that
 * holds them was inlined into the kernel's IR before (fission_inline), so
 * this refusal is only reached by one fission_inline could not take. */
static ember_status cpu_block_level(Lower *L, const Node *n, const char *what)
{
    return ir_unsupported(L->fn, n->loc, "%s inside a device function is not supported on the "
                          "CPU device yet: barriers, shared memory and warp collectives must be "
                          "in the kernel's own body there (the CPU device splits the kernel "
                          "body at them); move it into the kernel, or run on a CUDA GPU", what);
}

/* ember.jit functions run once, on the calling thread: there is no grid,
 * block or warp whose index or collective they could use. */
static ember_status no_threads(Lower *L, const Node *n, const char *what)
{
    return ir_unsupported(L->fn, n->loc, "%s is not available in an ember.jit function: it "
                          "runs once, on the calling thread (no grid, blocks or warps); use "
                          "@cuda.jit for kernels", what);
}

static ember_status check_list(Lower *L, Node *const *list, int n, int loop_depth)
{
    if (n > 0 && !list)
        return ir_error(L->fn, L->fn->body->loc, "malformed IR: missing argument list");
    for (int i = 0; i < n; i++) {
        ember_status st = check(L, list[i], loop_depth);
        if (st)
            return st;
    }
    return EMBER_SUCCESS;
}

static bool is_int_like(const Type *t) { return t && (ty_is_int(t) || t->kind == TY_BOOL); }

static ember_status check(Lower *L, const Node *n, int depth)
{
    Function *fn = L->fn;
    char s[256];
    if (!n)
        return ir_error(fn, fn->body->loc, "malformed IR: missing node");
    if ((unsigned)n->kind >= ND_KIND_COUNT)
        return ir_error(fn, n->loc, "the CPU target does not support IR node kind %d", n->kind);
    bool is_expr = n->kind < ND_BLOCK;
    if (is_expr && n->kind != ND_SLICE_PART && !supported_type(n->ty) &&
        !((n->kind == ND_CALL || n->kind == ND_INTRINSIC) && n->ty &&
          n->ty->kind == TY_VOID)) /* a call as a statement */
        return ir_error(fn, n->loc, "the CPU target cannot compute a value of type %s%s",
                        tstr(n->ty, s), n->ty ? "" : " (was the function typed?)");
    /* children first: their types are used below */
    ember_status st;
    int inner = depth + (n->kind == ND_WHILE || n->kind == ND_FOR_RANGE);
    if (inner > MAX_LOOP_DEPTH)
        return ir_error(fn, n->loc, "loops nested more than %d deep", MAX_LOOP_DEPTH);
    if (n->a && (st = check(L, n->a, n->kind == ND_WHILE ? depth : inner)))
        return st;
    if (n->b && (st = check(L, n->b, inner)))
        return st;
    if (n->c && (st = check(L, n->c, inner)))
        return st;
    if ((st = check_list(L, n->args, n->nargs, n->kind == ND_FOR_RANGE ? depth : inner)))
        return st;
    switch (n->kind) {
    case ND_CONST:
        if (!ty_is_number(n->ty))
            return ir_error(fn, n->loc, "constant of type %s", tstr(n->ty, s));
        break;
    case ND_PARAM:
        if (n->index < 0 || n->index >= fn->nparams || !supported_type(fn->param_types[n->index]))
            return ir_error(fn, n->loc, "parameter %d cannot be passed to a CPU kernel", n->index);
        break;
    case ND_LOAD: case ND_ASSIGN: case ND_FOR_RANGE:
        if (n->var < 0 || n->var >= fn->nvars || !supported_type(fn->var_types[n->var]))
            return ir_error(fn, n->loc, "variable slot %d has no supported type (%s)", n->var,
                            n->var >= 0 && n->var < fn->nvars ? tstr(fn->var_types[n->var], s)
                                                              : "bad slot");
        if (n->kind == ND_ASSIGN && !n->a)
            return ir_error(fn, n->loc, "malformed IR: assignment without a value");
        if (n->kind == ND_FOR_RANGE) {
            if (n->nargs != 3 || !n->b)
                return ir_error(fn, n->loc, "malformed IR: range() needs start, stop, step and a body");
            for (int i = 0; i < 3; i++)
                if (!is_int_like(n->args[i]->ty))
                    return ir_error(fn, n->args[i]->loc, "range() arguments must be integers");
        }
        break;
    case ND_UNARY: case ND_BINARY: case ND_COMPARE:
        if (!n->a || (n->kind != ND_UNARY && !n->b))
            return ir_error(fn, n->loc, "malformed IR: operator without operands");
        if (!ty_is_number(n->a->ty) || (n->b && !ty_is_number(n->b->ty)) || !ty_is_number(n->ty))
            return ir_error(fn, n->loc, "operator %s on non-numbers", ir_op_name(n->op));
        if (n->kind == ND_UNARY && (n->op < OP_NEG || n->op > OP_NOT))
            return ir_error(fn, n->loc, "unknown unary operator %d", n->op);
        if (n->kind == ND_BINARY && (n->op < OP_ADD || n->op > OP_BITXOR))
            return ir_error(fn, n->loc, "unknown binary operator %d", n->op);
        if (n->kind == ND_COMPARE && (n->op < OP_EQ || n->op > OP_GE))
            return ir_error(fn, n->loc, "unknown comparison %d", n->op);
        if (n->kind == ND_COMPARE && !ty_promote(n->a->ty, n->b->ty))
            return ir_error(fn, n->loc, "cannot compare these operands");
        if (n->kind == ND_BINARY && ty_is_complex(n->ty) &&
            (n->op == OP_FLOORDIV || n->op == OP_MOD || n->op >= OP_LSHIFT))
            return ir_error(fn, n->loc, "operator %s is not defined for complex numbers",
                            ir_op_name(n->op));
        if (n->kind == ND_BINARY && n->op >= OP_LSHIFT && !is_int_like(n->ty))
            return ir_error(fn, n->loc, "operator %s needs integers", ir_op_name(n->op));
        if (n->kind == ND_UNARY && n->op == OP_INVERT && !is_int_like(n->ty))
            return ir_error(fn, n->loc, "operator ~ needs integers");
        break;
    case ND_AND: case ND_OR:
        if (!n->a || !n->b || !ty_is_number(n->a->ty) || !ty_is_number(n->b->ty))
            return ir_error(fn, n->loc, "'and'/'or' need numbers or bools");
        break;
    case ND_IFEXP:
        if (!n->a || !n->b || !n->c || !ty_is_number(n->a->ty))
            return ir_error(fn, n->loc, "malformed conditional expression");
        break;
    case ND_CAST:
        if (!n->a || !n->target || !ty_is_number(n->target) || !ty_is_number(n->a->ty))
            return ir_error(fn, n->loc, "conversion to %s is not supported", tstr(n->target, s));
        break;
    case ND_CALL_MATH: {
        char name[64];
        if ((unsigned)n->op >= MATH_COUNT || (unsigned)n->index >= MATHF_COUNT)
            return ir_error(fn, n->loc, "unknown math function %d", n->op);
        ir_math_label(n, name, sizeof name);
        int m = n->op;
        if (n->nargs < 1)
            return ir_error(fn, n->loc, "%s() needs arguments", name);
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_number(n->args[i]->ty))
                return ir_error(fn, n->loc, "%s() needs numbers", name);
        /* frexp, modf, polar give a pair of numbers; the rest one number */
        bool pair = m == MATH_FREXP || m == MATH_MODF || m == MATH_POLAR;
        if (!n->ty)
            return ir_error(fn, n->loc, "%s() has no type", name);
        if (pair ? !(n->ty->kind == TY_TUPLE && n->ty->nfields == 2 &&
                     ty_is_float(n->ty->fields[0]) &&
                     (m == MATH_FREXP ? n->ty->fields[1]->kind == TY_I32
                                      : n->ty->fields[1] == n->ty->fields[0]))
                 : !ty_is_number(n->ty))
            return ir_error(fn, n->loc, "%s() result has the wrong type %s", name, tstr(n->ty, s));
        bool complex_ok = m == MATH_ABS || m == MATH_ISNAN || m == MATH_ISINF ||
                          m == MATH_ISFINITE || m == MATH_SQUARE || m == MATH_RECIPROCAL ||
                          m == MATH_PHASE || m == MATH_POLAR || ty_is_complex(n->ty);
        if (ty_is_complex(n->args[0]->ty) && !complex_ok)
            return ir_error(fn, n->loc, "%s() of a complex number is not supported", name);
        if (ty_is_complex(n->ty) && n->op != MATH_SQUARE && n->op != MATH_RECIPROCAL &&
            n->op != MATH_RECT && n->op != MATH_COMPLEX && !ir_math_has_complex_form(m))
            return ir_error(fn, n->loc, "%s() has no complex form", name);
        if (ty_is_complex(n->ty) && n->nargs == 2 && n->op != MATH_LOG && n->op != MATH_RECT &&
            n->op != MATH_COMPLEX)
            return ir_error(fn, n->loc, "%s() takes 1 argument", name);
        int want = 0; /* exact argument count, 0: any */
        if (m == MATH_ATAN2 || m == MATH_POW || m == MATH_HYPOT || m == MATH_FMOD ||
            m == MATH_COPYSIGN || m == MATH_REMAINDER || m == MATH_LDEXP || m == MATH_FMIN ||
            m == MATH_FMAX || m == MATH_RECT || m == MATH_COMPLEX)
            want = 2;
        else if (m != MATH_LOG && m != MATH_ROUND && m != MATH_MIN && m != MATH_MAX)
            want = 1;
        if (want && n->nargs != want)
            return ir_error(fn, n->loc, "%s() takes %d argument%s", name, want,
                            want == 1 ? "" : "s");
        if (m == MATH_LOG && n->nargs > 2)
            return ir_error(fn, n->loc, "%s() takes 1 or 2 arguments", name);
        if ((m == MATH_RECT || (m == MATH_LOG && !ty_is_complex(n->ty))) && n->nargs == 2 &&
            (ty_is_complex(n->args[0]->ty) || ty_is_complex(n->args[1]->ty)))
            return ir_error(fn, n->loc, "%s() needs real numbers", name);
        if (m == MATH_LDEXP && !is_int_like(n->args[1]->ty))
            return ir_error(fn, n->loc, "%s() exponent must be an integer", name);
        if (n->op == MATH_ROUND && n->nargs > 2)
            return ir_error(fn, n->loc, "round() takes 1 or 2 arguments");
        if (n->op == MATH_ROUND && n->nargs == 2 && !is_int_like(n->args[1]->ty))
            return ir_error(fn, n->loc, "round() digits must be an integer");
        if ((n->op == MATH_MIN || n->op == MATH_MAX) && n->nargs < 2)
            return ir_error(fn, n->loc, "%s() of one scalar", name);
        break;
    }
    case ND_INTRINSIC: {
        if ((unsigned)n->op >= INTR_COUNT)
            return ir_error(fn, n->loc, "the CPU target does not support intrinsic %d", n->op);
        if (n->op >= INTR_RANDOM_SEED) {
            if (!L->function_entry)
                return ir_unsupported(fn, n->loc, "np.random is available in ember.jit "
                                      "functions only, not in kernels (yet)");
            break;
        }
        if (n->op >= INTR_POPC && n->op <= INTR_FMA)
            break; /* bit operations and fma: fine in functions too */
        if (L->function_entry)
            return no_threads(L, n, n->op >= INTR_SYNCTHREADS_COUNT ? block_op_name(n->op)
                                                                   : "a thread index (cuda.grid, "
                                                                     "cuda.threadIdx ...)");
        if (n->op == INTR_LANEID || n->op == INTR_WARPSIZE)
            break;
        if (n->op >= INTR_SYNCTHREADS_COUNT) {
            if (L->target == LOWER_HOST && fn != L->root_fn)
                return cpu_block_level(L, n, block_op_name(n->op));
            break;
        }
        const Node *k = n->nargs == 1 ? n->args[0] : NULL;
        bool grid = n->op == INTR_GRID || n->op == INTR_GRIDSIZE;
        if (!k || k->kind != ND_CONST || !ty_is_int(k->ty) || k->ival < (grid ? 1 : 0) ||
            k->ival > (grid ? 3 : 2))
            return ir_error(fn, n->loc, "intrinsic axis/dimension must be a constant");
        break;
    }
    case ND_INDEX: case ND_STORE: {
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY)
            return ir_error(fn, n->loc, "indexing a non-array");
        if (n->nargs != at->ndim)
            return ir_error(fn, n->loc, "%d indices for a %d-dimensional array", n->nargs, at->ndim);
        for (int i = 0; i < n->nargs; i++)
            if (!is_int_like(n->args[i]->ty))
                return ir_error(fn, n->args[i]->loc, "array indices must be integers");
        if (n->kind == ND_STORE && (!n->b || !ty_is_number(n->b->ty)))
            return ir_error(fn, n->loc, "storing a non-number into an array");
        if (n->kind == ND_STORE && ty_is_complex(n->b->ty) && !ty_is_complex(at->elem))
            return ir_error(fn, n->loc, "storing a complex number into a real array");
        break;
    }
    case ND_ATTR: {
        if ((unsigned)n->op >= ATTR_COUNT || !n->a)
            return ir_error(fn, n->loc, "unknown attribute %d", n->op);
        bool arr = n->op <= ATTR_LEN;
        if (arr != (n->a->ty->kind == TY_ARRAY))
            return ir_error(fn, n->loc, "attribute not defined for %s", tstr(n->a->ty, s));
        if ((n->op == ATTR_MIN || n->op == ATTR_MAX) && !L->function_entry)
            return ir_unsupported(fn, n->loc, "%s() of an array is available in ember.jit "
                                  "functions only, not in kernels (yet)",
                                  n->op == ATTR_MIN ? "min" : "max");
        break;
    }
    case ND_TUPLE:
        if (n->ty->kind != TY_TUPLE || n->ty->nfields != n->nargs)
            return ir_error(fn, n->loc, "malformed tuple");
        break;
    case ND_TUPLE_GET:
        if (!n->a || n->a->ty->kind != TY_TUPLE || n->index < 0 || n->index >= n->a->ty->nfields)
            return ir_error(fn, n->loc, "bad tuple index %d", n->index);
        break;
    case ND_BLOCK: case ND_EXPR:
        if (n->kind == ND_EXPR && !n->a)
            return ir_error(fn, n->loc, "malformed IR: empty expression statement");
        break;
    case ND_IF: case ND_WHILE:
        if (!n->a || !ty_is_number(n->a->ty))
            return ir_error(fn, n->loc, "a condition must be a number or bool");
        break;
    case ND_BREAK: case ND_CONTINUE:
        if (depth == 0)
            return ir_error(fn, n->loc, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        break;
    case ND_RETURN:
        if (n->a && fn->is_kernel)
            return ir_error(fn, n->loc, "a kernel cannot return a value");
        break;
    case ND_ATOMIC: {
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY || n->nargs != at->ndim || !n->b ||
            (unsigned)n->op >= ATOM_COUNT || (n->op == ATOM_CAS) != (n->c != NULL))
            return ir_error(fn, n->loc, "malformed atomic operation");
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_int(n->args[i]->ty))
                return ir_error(fn, n->loc, "array indices must be integers");
        TypeKind k = at->elem->kind;
        if (k != TY_I32 && k != TY_I64 && k != TY_U32 && k != TY_U64 && k != TY_F32 && k != TY_F64)
            return ir_error(fn, n->loc, "atomic operation on an array of %s", tstr(at->elem, s));
        break;
    }
    case ND_CALL: {
        Function *spec = n->spec;
        if (!spec || !spec->body || spec->nparams != n->nargs)
            return ir_error(fn, n->loc, "malformed IR: call without a specialisation");
        if (spec->recursive) {
            for (int i = 0; i < L->nchecked; i++)
                if (L->checked[i] == spec)
                    return EMBER_SUCCESS;
            if (!grow_list((void **)&L->checked, &L->capchecked, L->nchecked + 1,
                         sizeof *L->checked))
                return EMBER_ERR_OUT_OF_MEMORY;
            L->checked[L->nchecked++] = spec;
            L->in_recursive++;
        }
        L->fn = spec;
        st = check(L, spec->body, 0);
        L->fn = fn;
        if (spec->recursive)
            L->in_recursive--;
        if (st)
            return ir_error_in_callee(fn, n->loc, spec);
        break;
    }
    case ND_SLICE: {
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY || n->nargs < 1 || n->nargs > at->ndim ||
            n->ty->kind != TY_ARRAY || n->ty->elem != at->elem)
            return ir_error(fn, n->loc, "malformed slice");
        int kept = at->ndim - n->nargs;
        for (int i = 0; i < n->nargs; i++) {
            const Node *it = n->args[i];
            if (it->kind == ND_SLICE_PART) {
                kept++;
                const Node *parts[3] = {it->a, it->b, it->c};
                for (int j = 0; j < 3; j++)
                    if (parts[j] && !ty_is_int(parts[j]->ty))
                        return ir_error(fn, it->loc, "slice bounds must be integers");
            } else if (!ty_is_int(it->ty)) {
                return ir_error(fn, it->loc, "array indices must be integers");
            }
        }
        if (kept != n->ty->ndim)
            return ir_error(fn, n->loc, "malformed slice: %d dimensions kept, type has %d",
                            kept, n->ty->ndim);
        break;
    }
    case ND_SLICE_PART: /* checked with its slice */
        break;
    case ND_LOCAL_ARRAY: {
        const Type *t = n->ty;
        if (t->kind != TY_ARRAY || t->layout != 'C' || n->nargs != t->ndim ||
            (n->op != MEM_LOCAL && n->op != MEM_SHARED))
            return ir_error(fn, n->loc, "malformed local array");
        if (n->op == MEM_SHARED) {
            if (L->function_entry)
                return no_threads(L, n, "cuda.shared.array");
            if (L->target == LOWER_HOST && fn != L->root_fn)
                return cpu_block_level(L, n, "cuda.shared.array");
            int64_t total = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
            for (int i = 0; i < n->nargs; i++)
                if (n->args[i]->kind != ND_CONST || n->args[i]->ival < 0 ||
                    __builtin_mul_overflow(total, n->args[i]->ival, &total) ||
                    total > SHARED_ARRAY_MAX_BYTES)
                    return ir_error(fn, n->loc, "cuda.shared.array: %s of more than %d KiB "
                                    "(the most shared memory a block can have)", tstr(t, s),
                                    SHARED_ARRAY_MAX_BYTES >> 10);
            break;
        }
        int64_t bytes = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
        for (int i = 0; i < n->nargs; i++) {
            const Node *e = n->args[i];
            if (e->kind != ND_CONST || !ty_is_int(e->ty) || e->ival < 1 ||
                __builtin_mul_overflow(bytes, e->ival, &bytes) || bytes > LOCAL_ARRAY_MAX_BYTES)
                return ir_error(fn, n->loc, "cuda.local.array: %s of more than %d KiB; the CPU "
                                "device keeps local arrays on the worker's stack (use a device "
                                "array argument for large scratch space)", tstr(t, s),
                                LOCAL_ARRAY_MAX_BYTES >> 10);
        }
        if (L->in_recursive && bytes > LOCAL_ARRAY_MAX_BYTES_RECURSIVE)
            return ir_error(fn, n->loc, "cuda.local.array: %s of more than %d bytes in a "
                            "recursive device function (each of up to %d nested calls has "
                            "its own)", tstr(t, s), LOCAL_ARRAY_MAX_BYTES_RECURSIVE,
                            KERNEL_MAX_RECURSION);
        break;
    }
    case ND_CONST_ARRAY:
        if (!n->text || n->ty->kind != TY_ARRAY || n->nargs != n->ty->ndim || n->ival < 0)
            return ir_error(fn, n->loc, "malformed constant array");
        if (L->function_entry && n->ival > HOST_CONST_ARRAY_MAX_BYTES)
            return ir_error(fn, n->loc, "a global array of more than %d MiB (%s) cannot be "
                            "frozen into an ember.jit function: pass it as an argument",
                            HOST_CONST_ARRAY_MAX_BYTES >> 20, tstr(n->ty, s));
        if (!L->function_entry && n->ival > CONST_ARRAY_MAX_BYTES)
            return ir_error(fn, n->loc, "cuda.const.array_like: %s of more than %d KiB (the "
                            "size of CUDA's constant memory)", tstr(n->ty, s),
                            CONST_ARRAY_MAX_BYTES >> 10);
        break;
    case ND_PRINT:
        if (!n->text)
            return ir_error(fn, n->loc, "malformed print");
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_number(n->args[i]->ty))
                return ir_error(fn, n->args[i]->loc, "print() of %s", tstr(n->args[i]->ty, s));
        break;
    case ND_SYNC:
        if (n->op != SYNC_THREADS && n->op != SYNC_WARP)
            return ir_error(fn, n->loc, "unknown sync %d", n->op);
        if (L->function_entry)
            return no_threads(L, n, n->op == SYNC_THREADS ? "cuda.syncthreads" : "cuda.syncwarp");
        if (L->target == LOWER_HOST && fn != L->root_fn)
            return cpu_block_level(L, n, n->op == SYNC_THREADS ? "cuda.syncthreads"
                                                               : "cuda.syncwarp");
        if (n->op == SYNC_WARP && (n->nargs != 1 || !is_int_like(n->args[0]->ty)))
            return ir_error(fn, n->loc, "cuda.syncwarp(mask) needs an integer mask");
        break;
    case ND_FENCE:
        if ((unsigned)n->op >= FENCE_COUNT)
            return ir_error(fn, n->loc, "unknown fence scope %d", n->op);
        break;
    case ND_ARRAY_EXPR:
        if (!L->function_entry || L->target != LOWER_HOST)
            return ir_unsupported(fn, n->loc, "array expressions (a + b, np.sin(a), a.copy() "
                                  "... on whole arrays) are not supported in kernels: they "
                                  "would allocate an array per thread; compute the elements "
                                  "in a loop (out[i] = a[i] + b[i])");
        if (L->in_recursive)
            return ir_unsupported(fn, n->loc, "array expressions in a recursive function are "
                                  "not supported; compute them in its caller");
        if (n->ty->kind != TY_ARRAY || n->ty->layout != 'C' || !n->a)
            return ir_error(fn, n->loc, "malformed array expression");
        break;
    case ND_ELEM:
        break;
    case ND_ARRAY_ASSIGN:
        if (!n->a || n->a->ty->kind != TY_ARRAY || !n->b || !ty_is_number(n->b->ty))
            return ir_error(fn, n->loc, "malformed array assignment");
        if (ty_is_complex(n->b->ty) && !ty_is_complex(n->a->ty->elem))
            return ir_error(fn, n->loc, "storing a complex number into a real array");
        break;
    case ND_NEW_ARRAY:
        if (n->op == NEW_RESHAPE && (!L->function_entry || L->target != LOWER_HOST))
            return ir_unsupported(fn, n->loc, "a.reshape() is supported in ember.jit functions "
                                  "only, not in kernels (yet): index with computed offsets");
        /* numba.cuda refuses np.empty & co. in kernels too: a thread cannot
         * allocate device memory that outlives it */
        if (!L->function_entry || L->target != LOWER_HOST)
            return ir_unsupported(fn, n->loc, "creating arrays (np.empty, np.zeros, np.arange "
                                  "...) is not supported in kernels: use cuda.local.array(shape, "
                                  "dtype) for per-thread scratch, or pass in an array made with "
                                  "cuda.device_array on the host");
        if (L->in_recursive)
            return ir_unsupported(fn, n->loc, "creating arrays in a recursive function is not "
                                  "supported; create them in its caller and pass them in");
        if (n->ty->kind != TY_ARRAY || n->ty->layout != 'C' ||
            (n->op == NEW_ARANGE && n->nargs != 3) || (n->op == NEW_LINSPACE && n->nargs != 4) ||
            (n->op == NEW_FULL || n->op == NEW_RESHAPE) != (n->b != NULL))
            return ir_error(fn, n->loc, "malformed array maker");
        break;
    default:
        return ir_error(fn, n->loc, "the CPU target does not support IR node kind %d", n->kind);
    }
    return EMBER_SUCCESS;
}

/* ======================================================================== */
/* Types                                                                    */
/* ======================================================================== */

/* The real type of a complex type's parts. */
static const Type *part_type(const Type *t)
{
    return ty_scalar(ty_concrete(t)->kind == TY_C64 ? TY_F32 : TY_F64);
}

/* The register type of an IR type. */
static LLVMTypeRef lty(Lower *L, const Type *t)
{
    t = ty_concrete(t);
    switch (t->kind) {
    case TY_BOOL: return L->t_i1;
    case TY_I8: case TY_U8: return L->t_i8;
    case TY_I16: case TY_U16: return L->t_i16;
    case TY_I32: case TY_U32: return L->t_i32;
    case TY_I64: case TY_U64: return L->t_i64;
    case TY_F32: return L->t_f32;
    case TY_F64: return L->t_f64;
    case TY_C64: case TY_C128: {
        LLVMTypeRef p = t->kind == TY_C64 ? L->t_f32 : L->t_f64;
        LLVMTypeRef f[2] = {p, p};
        return LLVMStructTypeInContext(L->ctx, f, 2, 0);
    }
    case TY_ARRAY: {
        LLVMTypeRef f[1 + 2 * EMBER_MAX_NDIM];
        f[0] = L->t_ptr;
        for (int i = 0; i < 2 * t->ndim; i++)
            f[1 + i] = L->t_i64;
        return LLVMStructTypeInContext(L->ctx, f, (unsigned)(1 + 2 * t->ndim), 0);
    }
    case TY_TUPLE: {
        LLVMTypeRef stack[16];
        LLVMTypeRef *f = t->nfields <= 16 ? stack : em_malloc(sizeof *f * (size_t)t->nfields);
        if (!f)
            fail(L, NULL, "out of memory");
        for (int i = 0; i < t->nfields; i++)
            f[i] = lty(L, t->fields[i]);
        LLVMTypeRef r = LLVMStructTypeInContext(L->ctx, f, (unsigned)t->nfields, 0);
        if (f != stack)
            em_free(f);
        return r;
    }
    default: {
        char s[256];
        fail(L, NULL, "the CPU target cannot represent type %s", tstr(t, s));
    }
    }
}

/* The in-memory type: bool is a byte. */
static LLVMTypeRef mty(Lower *L, const Type *t)
{
    return ty_concrete(t)->kind == TY_BOOL ? L->t_i8 : lty(L, t);
}

static unsigned elem_align(const Type *elem)
{
    switch (elem->kind) {
    case TY_C64: return 4;
    case TY_C128: return 8;
    default: return (unsigned)(ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8);
    }
}

/* ======================================================================== */
/* Small builders                                                           */
/* ======================================================================== */

static LLVMValueRef ci(LLVMTypeRef t, int64_t v) { return LLVMConstInt(t, (unsigned long long)v, 1); }
static LLVMValueRef i64c(Lower *L, int64_t v) { return ci(L->t_i64, v); }

static LLVMBasicBlockRef new_bb(Lower *L, const char *name)
{
    return LLVMAppendBasicBlockInContext(L->ctx, L->func, name);
}

/* After a terminator (break, continue, return): later statements of the
 * same block go to a fresh block without predecessors. */
static void start_dead_block(Lower *L)
{
    LLVMPositionBuilderAtEnd(L->b, new_bb(L, "dead"));
}

static LLVMValueRef entry_alloca(Lower *L, LLVMTypeRef t, const char *name)
{
    return LLVMBuildAlloca(L->ab, t, name);
}

static LLVMValueRef call_libm(Lower *L, const char *name, LLVMValueRef *args, unsigned n);

/* NVVM rejects LLVM's math intrinsics; each has a libdevice function. */
static const struct { const char *llvm, *libm; } nvvm_math_intrinsics[] = {
    {"llvm.floor", "floor"}, {"llvm.ceil", "ceil"},       {"llvm.trunc", "trunc"},
    {"llvm.rint", "rint"},   {"llvm.fabs", "fabs"},       {"llvm.sqrt", "sqrt"},
    {"llvm.copysign", "copysign"}, {"llvm.maxnum", "fmax"}, {"llvm.minnum", "fmin"},
    {"llvm.fma", "fma"},
};

/* A call of an overloaded LLVM intrinsic (one overload type). */
static LLVMValueRef call_intrinsic(Lower *L, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                                   unsigned n)
{
    if (L->target == LOWER_NVVM)
        for (size_t i = 0; i < EM_ARRAY_LEN(nvvm_math_intrinsics); i++)
            if (strcmp(name, nvvm_math_intrinsics[i].llvm) == 0)
                return call_libm(L, nvvm_math_intrinsics[i].libm, args, n);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    EM_ASSERT(id != 0);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->mod, id, &ty, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->ctx, id, &ty, 1);
    return LLVMBuildCall2(L->b, ft, f, args, n, "");
}

static LLVMValueRef intr1(Lower *L, const char *name, LLVMValueRef x)
{
    return call_intrinsic(L, name, LLVMTypeOf(x), &x, 1);
}

static LLVMValueRef intr2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef a[2] = {x, y};
    return call_intrinsic(L, name, LLVMTypeOf(x), a, 2);
}

/* The math library's name for `name` of float (f32) or double: libm's
 * ("sinf", "sin") on the host, libdevice's ("__nv_sinf") on NVVM. */
static const char *math_symbol(Lower *L, const char *name, bool f32, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", L->target == LOWER_NVVM ? "__nv_" : "", name, f32 ? "f" : "");
    return buf;
}

/* A call of the function `name` of type ret(params), declared in the
 * module on first use: libm and libdevice, non-overloaded intrinsics, the
 * runtime's hooks. */
static LLVMValueRef call_named(Lower *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                               LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef ft = LLVMFunctionType(ret, params, n, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (!f)
        f = LLVMAddFunction(L->mod, name, ft);
    return LLVMBuildCall2(L->b, ft, f, args, n, "");
}

/* A call of a libm function taking and returning `n` values of type ty
 * (double, or float for the `f` variants). */
static LLVMValueRef call_libm(Lower *L, const char *name, LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef ty = LLVMTypeOf(args[0]);
    char full[48];
    math_symbol(L, name, ty == L->t_f32, full, sizeof full);
    LLVMTypeRef params[3] = {ty, ty, ty};
    return call_named(L, full, ty, params, args, n);
}

static LLVMValueRef libm1(Lower *L, const char *name, LLVMValueRef x)
{
    return call_libm(L, name, &x, 1);
}

static LLVMValueRef libm2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef a[2] = {x, y};
    return call_libm(L, name, a, 2);
}

/* -x for floats: the `fneg` instruction is newer than the LLVM 7 dialect
 * NVVM reads, where -0.0 - x is the same operation. */
static LLVMValueRef build_fneg(Lower *L, LLVMValueRef x)
{
    if (L->target == LOWER_NVVM)
        return LLVMBuildFSub(L->b, LLVMConstReal(LLVMTypeOf(x), -0.0), x, "neg");
    return LLVMBuildFNeg(L->b, x, "");
}

static LLVMValueRef make_complex(Lower *L, const Type *t, LLVMValueRef re, LLVMValueRef im)
{
    LLVMValueRef v = LLVMGetUndef(lty(L, t));
    v = LLVMBuildInsertValue(L->b, v, re, 0, "");
    return LLVMBuildInsertValue(L->b, v, im, 1, "");
}

static LLVMValueRef re_of(Lower *L, LLVMValueRef c) { return LLVMBuildExtractValue(L->b, c, 0, "re"); }
static LLVMValueRef im_of(Lower *L, LLVMValueRef c) { return LLVMBuildExtractValue(L->b, c, 1, "im"); }

/* bool(x): Python truth of a number; nan is true (une). */
static LLVMValueRef truth(Lower *L, LLVMValueRef v, const Type *t)
{
    t = ty_concrete(t);
    if (t->kind == TY_BOOL)
        return v;
    if (ty_is_int(t))
        return LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
    if (ty_is_float(t))
        return LLVMBuildFCmp(L->b, LLVMRealUNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
    EM_ASSERT(ty_is_complex(t));
    LLVMValueRef re = re_of(L, v), im = im_of(L, v);
    LLVMValueRef z = LLVMConstNull(LLVMTypeOf(re));
    return LLVMBuildOr(L->b, LLVMBuildFCmp(L->b, LLVMRealUNE, re, z, ""),
                       LLVMBuildFCmp(L->b, LLVMRealUNE, im, z, ""), "");
}

/* Converts v from `from` to `to` (numbers: NumPy casting; float -> int
 * truncates toward zero like numba's fptosi, out-of-range values are
 * unspecified; to bool is != 0; complex -> real takes the real part; tuples
 * field by field; arrays of the same element type and ndim are the same
 * value whatever their layout). */
static LLVMValueRef conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from, const Type *to)
{
    from = ty_concrete(from);
    to = ty_concrete(to);
    char s1[256], s2[256];
    if (from == to)
        return v;
    if (from->kind == TY_TUPLE && to->kind == TY_TUPLE && from->nfields == to->nfields) {
        LLVMValueRef r = LLVMGetUndef(lty(L, to));
        for (int i = 0; i < to->nfields; i++) {
            LLVMValueRef f = LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
            f = conv(L, at, f, from->fields[i], to->fields[i]);
            r = LLVMBuildInsertValue(L->b, r, f, (unsigned)i, "");
        }
        return r;
    }
    if (from->kind == TY_ARRAY && to->kind == TY_ARRAY && from->ndim == to->ndim &&
        from->elem == to->elem)
        return v;
    if (!ty_is_number(from) || !ty_is_number(to))
        fail(L, at, "cannot convert %s to %s", tstr(from, s1), tstr(to, s2));
    if (to->kind == TY_BOOL)
        return truth(L, v, from);
    if (ty_is_complex(to)) {
        const Type *pt = part_type(to);
        LLVMValueRef re, im;
        if (ty_is_complex(from)) {
            re = conv(L, at, re_of(L, v), part_type(from), pt);
            im = conv(L, at, im_of(L, v), part_type(from), pt);
        } else {
            re = conv(L, at, v, from, pt);
            im = LLVMConstNull(lty(L, pt));
        }
        return make_complex(L, to, re, im);
    }
    if (ty_is_complex(from))
        return conv(L, at, re_of(L, v), part_type(from), to);
    LLVMTypeRef tt = lty(L, to);
    if (from->kind == TY_BOOL)
        return ty_is_int(to) ? LLVMBuildZExt(L->b, v, tt, "") : LLVMBuildUIToFP(L->b, v, tt, "");
    if (ty_is_int(from) && ty_is_int(to)) {
        int fb = ty_bits(from), tb = ty_bits(to);
        if (fb == tb)
            return v;
        if (fb > tb)
            return LLVMBuildTrunc(L->b, v, tt, "");
        return ty_is_signed(from) ? LLVMBuildSExt(L->b, v, tt, "") : LLVMBuildZExt(L->b, v, tt, "");
    }
    if (ty_is_int(from))
        return ty_is_signed(from) ? LLVMBuildSIToFP(L->b, v, tt, "") : LLVMBuildUIToFP(L->b, v, tt, "");
    if (ty_is_int(to))
        return ty_is_signed(to) ? LLVMBuildFPToSI(L->b, v, tt, "") : LLVMBuildFPToUI(L->b, v, tt, "");
    /* float -> float */
    return ty_bits(from) < ty_bits(to) ? LLVMBuildFPExt(L->b, v, tt, "")
                                       : LLVMBuildFPTrunc(L->b, v, tt, "");
}

/* ======================================================================== */
/* Variables                                                                */
/* ======================================================================== */

static bool has_array(const Type *t);
static LLVMValueRef fis_var_slot(Lower *L, int var);
static void fis_store_all(Lower *L, int var, LLVMValueRef v);

/* A variable's alloca (or, in a kernel built by fission, its slot in the
 * thread contexts). In an ember.jit function one holding arrays starts
 * as nulls: loop_collect reads every such variable, assigned yet or not. */
static LLVMValueRef var_slot(Lower *L, int var)
{
    if (L->fis && L->fn == L->root_fn && !L->in_region && !L->uniform[var])
        return fis_var_slot(L, var);
    if (!L->var_slots[var]) {
        const Type *t = L->fn->var_types[var];
        L->var_slots[var] = entry_alloca(L, mty(L, t), L->fn->var_names[var]);
        if (L->function_entry && t && has_array(t))
            LLVMBuildStore(L->ab, LLVMConstNull(mty(L, t)), L->var_slots[var]);
    }
    return L->var_slots[var];
}

static void var_store(Lower *L, int var, LLVMValueRef v)
{
    const Type *t = ty_concrete(L->fn->var_types[var]);
    if (t->kind == TY_BOOL)
        v = LLVMBuildZExt(L->b, v, L->t_i8, "");
    if (L->fis && L->fn == L->root_fn && !L->in_region && !L->uniform[var])
        fis_store_all(L, var, v); /* a uniform for loop's variable, in every thread */
    else
        LLVMBuildStore(L->b, v, var_slot(L, var));
}

static LLVMValueRef var_load(Lower *L, int var)
{
    const Type *t = ty_concrete(L->fn->var_types[var]);
    LLVMValueRef v = LLVMBuildLoad2(L->b, mty(L, t), var_slot(L, var), L->fn->var_names[var]);
    if (t->kind == TY_BOOL)
        v = LLVMBuildTrunc(L->b, v, L->t_i1, "");
    return v;
}

/* ======================================================================== */
/* Arithmetic                                                               */
/* ======================================================================== */

/* int ** int by repeated squaring, as an internal helper function per
 * integer type. Python gives a float for a negative exponent; numba keeps
 * the integer type, and so do we: the exact result truncated toward zero
 * (1 for base 1, +-1 for base -1, otherwise 0). */
static LLVMValueRef ipow_fn(Lower *L, LLVMTypeRef t, bool is_signed, LLVMTypeRef *fty)
{
    char name[48];
    snprintf(name, sizeof name, "ember.ipow.i%u.%c", LLVMGetIntTypeWidth(t), is_signed ? 's' : 'u');
    LLVMTypeRef params[2] = {t, t};
    *fty = LLVMFunctionType(t, params, 2, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (f)
        return f;
    f = LLVMAddFunction(L->mod, name, *fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    name_params(f);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->ctx);
    LLVMValueRef base = LLVMGetParam(f, 0), ex = LLVMGetParam(f, 1);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(L->ctx, f, "entry");
    LLVMBasicBlockRef neg = LLVMAppendBasicBlockInContext(L->ctx, f, "neg");
    LLVMBasicBlockRef hdr = LLVMAppendBasicBlockInContext(L->ctx, f, "hdr");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->ctx, f, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, f, "done");
    LLVMValueRef one = ci(t, 1), zero = ci(t, 0);
    LLVMPositionBuilderAtEnd(b, entry);
    if (is_signed)
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, ex, zero, ""), neg, hdr);
    else
        LLVMBuildBr(b, hdr);
    LLVMPositionBuilderAtEnd(b, neg);
    {
        LLVMValueRef odd = LLVMBuildTrunc(b, ex, LLVMInt1TypeInContext(L->ctx), "");
        LLVMValueRef m1 = LLVMBuildSelect(b, odd, ci(t, -1), one, "");
        LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, base, ci(t, -1), ""), m1,
                                         zero, "");
        r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, base, one, ""), one, r, "");
        LLVMBuildRet(b, r);
    }
    LLVMPositionBuilderAtEnd(b, hdr);
    LLVMValueRef acc = LLVMBuildPhi(b, t, "acc");
    LLVMValueRef bs = LLVMBuildPhi(b, t, "base");
    LLVMValueRef e = LLVMBuildPhi(b, t, "e");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, e, zero, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef odd = LLVMBuildTrunc(b, e, LLVMInt1TypeInContext(L->ctx), "");
    LLVMValueRef acc2 = LLVMBuildSelect(b, odd, LLVMBuildMul(b, acc, bs, ""), acc, "");
    LLVMValueRef bs2 = LLVMBuildMul(b, bs, bs, "");
    LLVMValueRef e2 = LLVMBuildLShr(b, e, one, "");
    LLVMBuildBr(b, hdr);
    LLVMValueRef in_acc[2] = {one, acc2}, in_bs[2] = {base, bs2}, in_e[2] = {ex, e2};
    LLVMBasicBlockRef from[2] = {entry, body};
    LLVMAddIncoming(acc, in_acc, from, 2);
    LLVMAddIncoming(bs, in_bs, from, 2);
    LLVMAddIncoming(e, in_e, from, 2);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRet(b, acc);
    LLVMDisposeBuilder(b);
    return f;
}

/* Python's integer floor division and modulo (round toward -inf; the
 * remainder has the sign of the divisor). Division by zero gives 0 for
 * both, as numba does on the GPU, rather than trapping (LLVM's sdiv by
 * zero is undefined and traps on x86); INT_MIN // -1 wraps to INT_MIN. */
static LLVMValueRef int_divmod(Lower *L, bool want_mod, LLVMValueRef a, LLVMValueRef b, bool is_signed)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef zero = ci(t, 0), one = ci(t, 1);
    LLVMValueRef bz = LLVMBuildICmp(L->b, LLVMIntEQ, b, zero, "");
    if (!is_signed) {
        LLVMValueRef bs = LLVMBuildSelect(L->b, bz, one, b, "");
        LLVMValueRef r = want_mod ? LLVMBuildURem(L->b, a, bs, "") : LLVMBuildUDiv(L->b, a, bs, "");
        return LLVMBuildSelect(L->b, bz, zero, r, "");
    }
    LLVMValueRef bm1 = LLVMBuildICmp(L->b, LLVMIntEQ, b, ci(t, -1), "");
    LLVMValueRef bs = LLVMBuildSelect(L->b, LLVMBuildOr(L->b, bz, bm1, ""), one, b, "");
    LLVMValueRef q = LLVMBuildSDiv(L->b, a, bs, "");
    LLVMValueRef r = LLVMBuildSRem(L->b, a, bs, "");
    /* the truncated quotient is one too big when the remainder is nonzero
     * and its sign differs from the divisor's */
    LLVMValueRef adjust = LLVMBuildAnd(
        L->b, LLVMBuildICmp(L->b, LLVMIntNE, r, zero, ""),
        LLVMBuildICmp(L->b, LLVMIntSLT, LLVMBuildXor(L->b, r, bs, ""), zero, ""), "");
    LLVMValueRef res;
    if (want_mod) {
        res = LLVMBuildSelect(L->b, adjust, LLVMBuildAdd(L->b, r, bs, ""), r, "");
        res = LLVMBuildSelect(L->b, bm1, zero, res, "");
    } else {
        res = LLVMBuildSelect(L->b, adjust, LLVMBuildSub(L->b, q, one, ""), q, "");
        res = LLVMBuildSelect(L->b, bm1, LLVMBuildNeg(L->b, a, ""), res, "");
    }
    return LLVMBuildSelect(L->b, bz, zero, res, "");
}

/* Python's float floor division and modulo (Objects/floatobject.c,
 * float_divmod):
 *     mod = fmod(vx, wx); div = (vx - mod) / wx;
 *     if (mod) { if ((wx < 0) != (mod < 0)) { mod += wx; div -= 1.0; } }
 *     else mod = copysign(0.0, wx);
 *     if (div) { floordiv = floor(div); if (div - floordiv > 0.5) floordiv += 1.0; }
 *     else floordiv = copysign(0.0, vx / wx);
 * Python raises ZeroDivisionError for wx == 0; here x // 0.0 is x / 0.0
 * (+-inf or nan, as NumPy) and x % 0.0 is nan. */
static LLVMValueRef float_divmod(Lower *L, bool want_mod, LLVMValueRef a, LLVMValueRef b)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstReal(t, 0.0), one = LLVMConstReal(t, 1.0);
    LLVMValueRef mod = LLVMBuildFRem(L->b, a, b, "");
    LLVMValueRef div = LLVMBuildFDiv(L->b, LLVMBuildFSub(L->b, a, mod, ""), b, "");
    LLVMValueRef mod_nz = LLVMBuildFCmp(L->b, LLVMRealUNE, mod, zero, "");
    LLVMValueRef signs = LLVMBuildXor(L->b, LLVMBuildFCmp(L->b, LLVMRealOLT, b, zero, ""),
                                      LLVMBuildFCmp(L->b, LLVMRealOLT, mod, zero, ""), "");
    LLVMValueRef fix = LLVMBuildAnd(L->b, mod_nz, signs, "");
    if (want_mod) {
        LLVMValueRef m = LLVMBuildSelect(L->b, fix, LLVMBuildFAdd(L->b, mod, b, ""), mod, "");
        return LLVMBuildSelect(L->b, mod_nz, m, intr2(L, "llvm.copysign", zero, b), "");
    }
    div = LLVMBuildSelect(L->b, fix, LLVMBuildFSub(L->b, div, one, ""), div, "");
    LLVMValueRef fl = intr1(L, "llvm.floor", div);
    LLVMValueRef up = LLVMBuildFCmp(L->b, LLVMRealOGT, LLVMBuildFSub(L->b, div, fl, ""),
                                    LLVMConstReal(t, 0.5), "");
    fl = LLVMBuildSelect(L->b, up, LLVMBuildFAdd(L->b, fl, one, ""), fl, "");
    LLVMValueRef quot = LLVMBuildFDiv(L->b, a, b, "");
    LLVMValueRef r = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealUNE, div, zero, ""), fl,
                                     intr2(L, "llvm.copysign", zero, quot), "");
    return LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOEQ, b, zero, ""), quot, r, "");
}

/* Shifts: Python shifts are unbounded; here a count >= the width (or a
 * negative count, which Python rejects) gives 0 for << and for >> of a
 * non-negative value, -1 for >> of a negative signed value. */
static LLVMValueRef shift(Lower *L, bool left, LLVMValueRef a, LLVMValueRef b, bool is_signed)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    unsigned w = LLVMGetIntTypeWidth(t);
    LLVMValueRef big = LLVMBuildICmp(L->b, LLVMIntUGE, b, ci(t, w), "");
    LLVMValueRef cnt = LLVMBuildSelect(L->b, big, ci(t, 0), b, "");
    LLVMValueRef r, over;
    if (left) {
        r = LLVMBuildShl(L->b, a, cnt, "");
        over = ci(t, 0);
    } else if (is_signed) {
        r = LLVMBuildAShr(L->b, a, cnt, "");
        over = LLVMBuildAShr(L->b, a, ci(t, w - 1), "");
    } else {
        r = LLVMBuildLShr(L->b, a, cnt, "");
        over = ci(t, 0);
    }
    return LLVMBuildSelect(L->b, big, over, r, "");
}

/* Complex division, Smith's algorithm (as CPython's _Py_c_quot). */
static LLVMValueRef complex_div(Lower *L, const Type *t, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = re_of(L, x), b = im_of(L, x), c = re_of(L, y), d = im_of(L, y);
    LLVMValueRef ac = intr1(L, "llvm.fabs", c), ad = intr1(L, "llvm.fabs", d);
    LLVMValueRef c_big = LLVMBuildFCmp(B, LLVMRealOGE, ac, ad, "");
    /* |c| >= |d|: r = d/c, den = c + d*r, re = (a + b*r)/den, im = (b - a*r)/den */
    LLVMValueRef r1 = LLVMBuildFDiv(B, d, c, "");
    LLVMValueRef den1 = LLVMBuildFAdd(B, c, LLVMBuildFMul(B, d, r1, ""), "");
    LLVMValueRef re1 = LLVMBuildFDiv(B, LLVMBuildFAdd(B, a, LLVMBuildFMul(B, b, r1, ""), ""), den1, "");
    LLVMValueRef im1 = LLVMBuildFDiv(B, LLVMBuildFSub(B, b, LLVMBuildFMul(B, a, r1, ""), ""), den1, "");
    /* else: r = c/d, den = c*r + d, re = (a*r + b)/den, im = (b*r - a)/den */
    LLVMValueRef r2 = LLVMBuildFDiv(B, c, d, "");
    LLVMValueRef den2 = LLVMBuildFAdd(B, LLVMBuildFMul(B, c, r2, ""), d, "");
    LLVMValueRef re2 = LLVMBuildFDiv(B, LLVMBuildFAdd(B, LLVMBuildFMul(B, a, r2, ""), b, ""), den2, "");
    LLVMValueRef im2 = LLVMBuildFDiv(B, LLVMBuildFSub(B, LLVMBuildFMul(B, b, r2, ""), a, ""), den2, "");
    return make_complex(L, t, LLVMBuildSelect(B, c_big, re1, re2, ""),
                        LLVMBuildSelect(B, c_big, im1, im2, ""));
}

/* x ** y for complex: exp(y * log(x)); 0 ** y is 1 when y == 0, else 0. */
static LLVMValueRef complex_pow(Lower *L, const Type *t, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = re_of(L, x), b = im_of(L, x), c = re_of(L, y), d = im_of(L, y);
    LLVMTypeRef pt = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstReal(pt, 0.0), one = LLVMConstReal(pt, 1.0);
    LLVMValueRef lr = libm1(L, "log", libm2(L, "hypot", a, b));
    LLVMValueRef th = libm2(L, "atan2", b, a);
    LLVMValueRef mag = libm1(L, "exp", LLVMBuildFSub(B, LLVMBuildFMul(B, c, lr, ""),
                                                     LLVMBuildFMul(B, d, th, ""), ""));
    LLVMValueRef ang = LLVMBuildFAdd(B, LLVMBuildFMul(B, d, lr, ""), LLVMBuildFMul(B, c, th, ""), "");
    LLVMValueRef re = LLVMBuildFMul(B, mag, libm1(L, "cos", ang), "");
    LLVMValueRef im = LLVMBuildFMul(B, mag, libm1(L, "sin", ang), "");
    LLVMValueRef x0 = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, a, zero, ""),
                                   LLVMBuildFCmp(B, LLVMRealOEQ, b, zero, ""), "");
    LLVMValueRef y0 = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, c, zero, ""),
                                   LLVMBuildFCmp(B, LLVMRealOEQ, d, zero, ""), "");
    LLVMValueRef zre = LLVMBuildSelect(B, y0, one, zero, "");
    re = LLVMBuildSelect(B, x0, zre, re, "");
    im = LLVMBuildSelect(B, x0, zero, im, "");
    return make_complex(L, t, re, im);
}

static LLVMValueRef expr(Lower *L, Node *n);

static LLVMValueRef binary(Lower *L, Node *n)
{
    const Type *t = ty_concrete(n->ty);
    LLVMValueRef a = conv(L, n, expr(L, n->a), n->a->ty, t);
    LLVMValueRef b = conv(L, n, expr(L, n->b), n->b->ty, t);
    LLVMBuilderRef B = L->b;
    if (ty_is_complex(t)) {
        LLVMValueRef ar = re_of(L, a), ai = im_of(L, a), br = re_of(L, b), bi = im_of(L, b);
        switch (n->op) {
        case OP_ADD: return make_complex(L, t, LLVMBuildFAdd(B, ar, br, ""), LLVMBuildFAdd(B, ai, bi, ""));
        case OP_SUB: return make_complex(L, t, LLVMBuildFSub(B, ar, br, ""), LLVMBuildFSub(B, ai, bi, ""));
        case OP_MUL:
            return make_complex(
                L, t, LLVMBuildFSub(B, LLVMBuildFMul(B, ar, br, ""), LLVMBuildFMul(B, ai, bi, ""), ""),
                LLVMBuildFAdd(B, LLVMBuildFMul(B, ar, bi, ""), LLVMBuildFMul(B, ai, br, ""), ""));
        case OP_TRUEDIV: return complex_div(L, t, a, b);
        case OP_POW: return complex_pow(L, t, a, b);
        default: fail(L, n, "operator %s is not defined for complex numbers", ir_op_name(n->op));
        }
    }
    if (ty_is_float(t)) {
        switch (n->op) {
        case OP_ADD: return LLVMBuildFAdd(B, a, b, "");
        case OP_SUB: return LLVMBuildFSub(B, a, b, "");
        case OP_MUL: return LLVMBuildFMul(B, a, b, "");
        case OP_TRUEDIV: return LLVMBuildFDiv(B, a, b, "");
        case OP_FLOORDIV: return float_divmod(L, false, a, b);
        case OP_MOD: return float_divmod(L, true, a, b);
        case OP_POW: return libm2(L, "pow", a, b);
        default: fail(L, n, "operator %s needs integers", ir_op_name(n->op));
        }
    }
    bool sg = ty_is_signed(t);
    if (t->kind == TY_BOOL) {
        switch (n->op) {
        case OP_BITAND: return LLVMBuildAnd(B, a, b, "");
        case OP_BITOR: return LLVMBuildOr(B, a, b, "");
        case OP_BITXOR: return LLVMBuildXor(B, a, b, "");
        default: fail(L, n, "operator %s on bool operands (expected an integer result)",
                      ir_op_name(n->op));
        }
    }
    switch (n->op) {
    case OP_ADD: return LLVMBuildAdd(B, a, b, "");
    case OP_SUB: return LLVMBuildSub(B, a, b, "");
    case OP_MUL: return LLVMBuildMul(B, a, b, "");
    case OP_FLOORDIV: return int_divmod(L, false, a, b, sg);
    case OP_MOD: return int_divmod(L, true, a, b, sg);
    case OP_POW: {
        LLVMTypeRef fty;
        LLVMValueRef f = ipow_fn(L, lty(L, t), sg, &fty);
        LLVMValueRef args[2] = {a, b};
        return LLVMBuildCall2(B, fty, f, args, 2, "");
    }
    case OP_LSHIFT: return shift(L, true, a, b, sg);
    case OP_RSHIFT: return shift(L, false, a, b, sg);
    case OP_BITAND: return LLVMBuildAnd(B, a, b, "");
    case OP_BITOR: return LLVMBuildOr(B, a, b, "");
    case OP_BITXOR: return LLVMBuildXor(B, a, b, "");
    case OP_TRUEDIV: /* inference types int / int as float64 */
    default: fail(L, n, "operator %s with an integer result type", ir_op_name(n->op));
    }
}

/* Comparisons: both operands go to their promoted type; floats compare
 * ordered, except != which is true for nan (Python). */
static LLVMValueRef compare(Lower *L, Node *n)
{
    const Type *t = ty_concrete(ty_promote(n->a->ty, n->b->ty));
    LLVMValueRef a = conv(L, n, expr(L, n->a), n->a->ty, t);
    LLVMValueRef b = conv(L, n, expr(L, n->b), n->b->ty, t);
    LLVMBuilderRef B = L->b;
    if (ty_is_complex(t)) {
        LLVMValueRef eq = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, re_of(L, a), re_of(L, b), ""),
                                       LLVMBuildFCmp(B, LLVMRealOEQ, im_of(L, a), im_of(L, b), ""), "");
        if (n->op == OP_EQ)
            return eq;
        if (n->op == OP_NE)
            return LLVMBuildNot(B, eq, "");
        fail(L, n, "complex numbers are not ordered");
    }
    if (ty_is_float(t)) {
        static const LLVMRealPredicate fp[] = {
            [OP_EQ] = LLVMRealOEQ, [OP_NE] = LLVMRealUNE, [OP_LT] = LLVMRealOLT,
            [OP_LE] = LLVMRealOLE, [OP_GT] = LLVMRealOGT, [OP_GE] = LLVMRealOGE};
        return LLVMBuildFCmp(B, fp[n->op], a, b, "");
    }
    bool sg = ty_is_signed(t);
    static const LLVMIntPredicate sp[] = {[OP_EQ] = LLVMIntEQ, [OP_NE] = LLVMIntNE,
                                          [OP_LT] = LLVMIntSLT, [OP_LE] = LLVMIntSLE,
                                          [OP_GT] = LLVMIntSGT, [OP_GE] = LLVMIntSGE};
    static const LLVMIntPredicate up[] = {[OP_EQ] = LLVMIntEQ, [OP_NE] = LLVMIntNE,
                                          [OP_LT] = LLVMIntULT, [OP_LE] = LLVMIntULE,
                                          [OP_GT] = LLVMIntUGT, [OP_GE] = LLVMIntUGE};
    return LLVMBuildICmp(B, sg ? sp[n->op] : up[n->op], a, b, "");
}

static LLVMValueRef unary(Lower *L, Node *n)
{
    LLVMValueRef v = expr(L, n->a);
    if (n->op == OP_NOT)
        return LLVMBuildNot(L->b, truth(L, v, n->a->ty), "");
    const Type *t = ty_concrete(n->ty);
    v = conv(L, n, v, n->a->ty, t);
    switch (n->op) {
    case OP_POS:
        return v;
    case OP_NEG:
        if (ty_is_complex(t))
            return make_complex(L, t, build_fneg(L, re_of(L, v)),
                                build_fneg(L, im_of(L, v)));
        if (ty_is_float(t))
            return build_fneg(L, v);
        return LLVMBuildNeg(L->b, v, "");
    case OP_INVERT: /* ~x; for bool (NumPy's logical not) inference keeps bool */
        return LLVMBuildNot(L->b, v, "");
    default:
        fail(L, n, "unknown unary operator %d", n->op);
    }
}

/* a and b / a or b, short-circuit, bool result. */
static LLVMValueRef and_or(Lower *L, Node *n)
{
    bool is_and = n->kind == ND_AND;
    LLVMValueRef a = truth(L, expr(L, n->a), n->a->ty);
    LLVMBasicBlockRef a_end = LLVMGetInsertBlock(L->b);
    LLVMBasicBlockRef rhs = new_bb(L, is_and ? "and.rhs" : "or.rhs");
    LLVMBasicBlockRef done = new_bb(L, is_and ? "and.end" : "or.end");
    if (is_and)
        LLVMBuildCondBr(L->b, a, rhs, done);
    else
        LLVMBuildCondBr(L->b, a, done, rhs);
    LLVMPositionBuilderAtEnd(L->b, rhs);
    LLVMValueRef b = truth(L, expr(L, n->b), n->b->ty);
    LLVMBasicBlockRef b_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, done);
    LLVMValueRef phi = LLVMBuildPhi(L->b, L->t_i1, "");
    LLVMValueRef vals[2] = {LLVMConstInt(L->t_i1, is_and ? 0 : 1, 0), b};
    LLVMBasicBlockRef from[2] = {a_end, b_end};
    LLVMAddIncoming(phi, vals, from, 2);
    return phi;
}

static LLVMValueRef ifexp(Lower *L, Node *n)
{
    const Type *t = ty_concrete(n->ty);
    LLVMValueRef c = truth(L, expr(L, n->a), n->a->ty);
    LLVMBasicBlockRef bt = new_bb(L, "ifx.then"), bf = new_bb(L, "ifx.else"), done = new_bb(L, "ifx.end");
    LLVMBuildCondBr(L->b, c, bt, bf);
    LLVMPositionBuilderAtEnd(L->b, bt);
    LLVMValueRef vt = conv(L, n, expr(L, n->b), n->b->ty, t);
    LLVMBasicBlockRef bt_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, bf);
    LLVMValueRef vf = conv(L, n, expr(L, n->c), n->c->ty, t);
    LLVMBasicBlockRef bf_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, done);
    LLVMValueRef phi = LLVMBuildPhi(L->b, lty(L, t), "");
    LLVMValueRef vals[2] = {vt, vf};
    LLVMBasicBlockRef from[2] = {bt_end, bf_end};
    LLVMAddIncoming(phi, vals, from, 2);
    return phi;
}

/* ======================================================================== */
/* Math                                                                     */
/* ======================================================================== */

/* libm names (float32 calls the `f` variant). math.gamma is tgamma. lgamma
 * also writes glibc's global `signgam`, a benign race between workers
 * (numba calls it the same way). */
static const char *const libm_unary[MATH_COUNT] = {
    [MATH_SIN] = "sin",     [MATH_COS] = "cos",     [MATH_TAN] = "tan",     [MATH_ASIN] = "asin",
    [MATH_ACOS] = "acos",   [MATH_ATAN] = "atan",   [MATH_SINH] = "sinh",   [MATH_COSH] = "cosh",
    [MATH_TANH] = "tanh",   [MATH_ASINH] = "asinh", [MATH_ACOSH] = "acosh", [MATH_ATANH] = "atanh",
    [MATH_EXP] = "exp",     [MATH_EXPM1] = "expm1", [MATH_EXP2] = "exp2",   [MATH_LOG] = "log",
    [MATH_LOG2] = "log2",   [MATH_LOG10] = "log10", [MATH_LOG1P] = "log1p", [MATH_ERF] = "erf",
    [MATH_ERFC] = "erfc",   [MATH_GAMMA] = "tgamma", [MATH_LGAMMA] = "lgamma",
    [MATH_CBRT] = "cbrt",
};

/* ---- complex functions -------------------------------------------------
 * Built from real operations on {re, im} pairs (never libm's complex
 * functions: the NVVM backend lowers the same IR with libdevice, which has
 * none). The formulas are CPython's Modules/cmathmodule.c for finite
 * values, so branch cuts and signed zeros on them match cmath (and NumPy,
 * which follows the same C99 conventions). CPython's special-value tables
 * are not copied: the formulas, with the selects below for infinite parts,
 * give the same values there; a nan part may give nan in both parts where
 * the tables keep one. Not reproduced: CPython's exact handling of
 * atanh(1 ± tiny i) (a precision loss there). float32 parts are computed
 * in float32 with the same formulas and float32 thresholds. */

typedef struct Cx {
    LLVMValueRef re, im;
} Cx;

static LLVMValueRef fk(LLVMValueRef like, double v) { return LLVMConstReal(LLVMTypeOf(like), v); }
static LLVMValueRef fadd(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(L->b, a, b, "");
}
static LLVMValueRef fsub(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFSub(L->b, a, b, "");
}
static LLVMValueRef fmul(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(L->b, a, b, "");
}
static LLVMValueRef fdiv(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFDiv(L->b, a, b, "");
}
static LLVMValueRef fneg(Lower *L, LLVMValueRef a) { return build_fneg(L, a); }
static LLVMValueRef fcmp(Lower *L, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(L->b, p, a, b, "");
}
static LLVMValueRef sel(Lower *L, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(L->b, c, a, b, "");
}
static LLVMValueRef fabs_(Lower *L, LLVMValueRef x) { return intr1(L, "llvm.fabs", x); }
static LLVMValueRef csign(Lower *L, LLVMValueRef x, LLVMValueRef y)
{
    return intr2(L, "llvm.copysign", x, y);
}
static bool is_f32(Lower *L, LLVMValueRef x) { return LLVMTypeOf(x) == L->t_f32; }

/* CPython's CM_LARGE_DOUBLE (DBL_MAX / 4), its log and square root, for
 * the part type of x. */
static LLVMValueRef large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? FLT_MAX / 4 : DBL_MAX / 4);
}
static LLVMValueRef log_large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? log(FLT_MAX / 4) : log(DBL_MAX / 4));
}
static LLVMValueRef sqrt_large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? sqrt(FLT_MAX / 4) : sqrt(DBL_MAX / 4));
}

/* sqrt: s = sqrt((|x| + |z|) / 2) (computed as 2 sqrt(|x|/8 + |z/8|)
 * against overflow, and with both parts scaled up by 2**(2k+1) when they
 * are subnormal, k = mantissa digits / 2), d = |y| / 2s; x >= 0: (s, ±d),
 * else (d, ±s) with y's sign. sqrt(±0 ± 0j) is (0, y); an infinite y gives
 * (inf, y). */
static Cx c_sqrt(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, ax = fabs_(L, x), ay = fabs_(L, y);
    bool f32 = is_f32(L, x);
    LLVMValueRef tiny = LLVMBuildAnd(L->b, fcmp(L, LLVMRealOLT, ax, fk(x, f32 ? FLT_MIN : DBL_MIN)),
                                     fcmp(L, LLVMRealOLT, ay, fk(x, f32 ? FLT_MIN : DBL_MIN)), "");
    /* CPython's CM_SCALE_UP = 2 * (MANT_DIG / 2) + 1, CM_SCALE_DOWN = -(UP + 1) / 2 */
    int up = 2 * ((f32 ? FLT_MANT_DIG : DBL_MANT_DIG) / 2) + 1, down = -(up + 1) / 2;
    LLVMValueRef k = sel(L, tiny, fk(x, ldexp(1.0, up)), fk(x, 0.125));
    LLVMValueRef ax8 = fmul(L, ax, k), ay8 = fmul(L, ay, k);
    LLVMValueRef s = fmul(L, sel(L, tiny, fk(x, ldexp(1.0, down)), fk(x, 2.0)),
                          intr1(L, "llvm.sqrt", fadd(L, ax8, libm2(L, "hypot", ax8, ay8))));
    LLVMValueRef d = fdiv(L, ay, fmul(L, fk(x, 2.0), s));
    LLVMValueRef pos = fcmp(L, LLVMRealOGE, x, fk(x, 0.0));
    LLVMValueRef re = sel(L, pos, s, d), im = csign(L, sel(L, pos, d, s), y);
    LLVMValueRef zero = LLVMBuildAnd(L->b, fcmp(L, LLVMRealOEQ, x, fk(x, 0.0)),
                                     fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), "");
    LLVMValueRef yinf = fcmp(L, LLVMRealOEQ, ay, fk(x, __builtin_inf()));
    re = sel(L, zero, fk(x, 0.0), sel(L, yinf, fk(x, __builtin_inf()), re));
    im = sel(L, LLVMBuildOr(L->b, zero, yinf, ""), y, im);
    return (Cx){re, im};
}

/* exp: e**x (cos y, sin y); x above log(LARGE) computes e**(x-1) * e
 * against early overflow; y == 0 gives an exact ±0 imaginary part. */
static Cx c_exp(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im;
    LLVMValueRef big = fcmp(L, LLVMRealOGT, x, log_large_k(L, x));
    LLVMValueRef l = libm1(L, "exp", sel(L, big, fsub(L, x, fk(x, 1.0)), x));
    l = sel(L, big, fmul(L, l, fk(x, 2.718281828459045235360287)), l);
    LLVMValueRef re = fmul(L, l, libm1(L, "cos", y)), im = fmul(L, l, libm1(L, "sin", y));
    im = sel(L, fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), y, im);
    /* exp(-inf + iy) is 0 even for an infinite or nan y (CPython: 0 + 0j) */
    LLVMValueRef ninf = fcmp(L, LLVMRealOEQ, x, fk(x, -__builtin_inf()));
    LLVMValueRef ynf = fcmp(L, LLVMRealUGE, fabs_(L, y), fk(x, __builtin_inf()));
    LLVMValueRef zero = LLVMBuildAnd(L->b, ninf, ynf, "");
    re = sel(L, zero, fk(x, 0.0), re);
    im = sel(L, zero, fk(x, 0.0), im);
    return (Cx){re, im};
}

/* log: (log|z|, atan2(y, x)); for 0.71 <= |z| <= 1.73 the real part is
 * log1p((am-1)(am+1) + an*an) / 2 (am, an: the larger and smaller of
 * |x|, |y|), accurate near |z| == 1; when both parts are subnormal,
 * log|z 2**MANT_DIG| - MANT_DIG ln 2 (hypot of subnormals is inexact). */
static Cx c_log(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, ax = fabs_(L, x), ay = fabs_(L, y);
    LLVMValueRef h = libm2(L, "hypot", ax, ay);
    LLVMValueRef xbig = fcmp(L, LLVMRealOGT, ax, ay);
    LLVMValueRef am = sel(L, xbig, ax, ay), an = sel(L, xbig, ay, ax);
    LLVMValueRef near = LLVMBuildAnd(L->b, fcmp(L, LLVMRealOGE, h, fk(x, 0.71)),
                                     fcmp(L, LLVMRealOLE, h, fk(x, 1.73)), "");
    LLVMValueRef t = fadd(L, fmul(L, fsub(L, am, fk(x, 1.0)), fadd(L, am, fk(x, 1.0))), fmul(L, an, an));
    LLVMValueRef re = sel(L, near, fmul(L, libm1(L, "log1p", t), fk(x, 0.5)), libm1(L, "log", h));
    bool f32 = is_f32(L, x);
    int mant = f32 ? FLT_MANT_DIG : DBL_MANT_DIG;
    LLVMValueRef tiny = fcmp(L, LLVMRealOLT, am, fk(x, f32 ? FLT_MIN : DBL_MIN));
    LLVMValueRef up = fk(x, ldexp(1.0, mant));
    LLVMValueRef re_tiny = fsub(L, libm1(L, "log", libm2(L, "hypot", fmul(L, ax, up), fmul(L, ay, up))),
                                fk(x, mant * 0.6931471805599453094172321));
    re = sel(L, LLVMBuildAnd(L->b, tiny, fcmp(L, LLVMRealOGT, am, fk(x, 0.0)), ""), re_tiny, re);
    return (Cx){re, libm2(L, "atan2", y, x)};
}

/* sinh and cosh of x, scaled for |x| > log(LARGE): sinh(x - ±1) * e. */
static void sinh_cosh(Lower *L, LLVMValueRef x, LLVMValueRef *sh, LLVMValueRef *ch)
{
    LLVMValueRef big = fcmp(L, LLVMRealOGT, fabs_(L, x), log_large_k(L, x));
    LLVMValueRef xm = fsub(L, x, csign(L, fk(x, 1.0), x));
    LLVMValueRef e = fk(x, 2.718281828459045235360287);
    *sh = sel(L, big, fmul(L, libm1(L, "sinh", xm), e), libm1(L, "sinh", x));
    *ch = sel(L, big, fmul(L, libm1(L, "cosh", xm), e), libm1(L, "cosh", x));
}

/* sinh: (cos y sinh x, sin y cosh x); y == 0 keeps y (sinh(inf) is inf). */
static Cx c_sinh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, sh, ch;
    sinh_cosh(L, x, &sh, &ch);
    LLVMValueRef re = fmul(L, libm1(L, "cos", y), sh), im = fmul(L, libm1(L, "sin", y), ch);
    im = sel(L, fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), y, im);
    return (Cx){re, im};
}

/* cosh: (cos y cosh x, sin y sinh x); y == 0 gives ±0 (y times x's sign). */
static Cx c_cosh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, sh, ch;
    sinh_cosh(L, x, &sh, &ch);
    LLVMValueRef re = fmul(L, libm1(L, "cos", y), ch), im = fmul(L, libm1(L, "sin", y), sh);
    im = sel(L, fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), fmul(L, y, csign(L, fk(x, 1.0), x)), im);
    return (Cx){re, im};
}

/* tanh: with tx = tanh x, ty = tan y, cx = 1/cosh x, d = 1 + (tx ty)^2:
 * (tx (1 + ty^2) / d, (ty / d) cx^2); for |x| > log(LARGE):
 * (±1, 4 sin y cos y e**(-2|x|)). */
static Cx c_tanh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im;
    LLVMValueRef big = fcmp(L, LLVMRealOGT, fabs_(L, x), log_large_k(L, x));
    LLVMValueRef tx = libm1(L, "tanh", x), ty = libm1(L, "tan", y);
    LLVMValueRef cx = fdiv(L, fk(x, 1.0), libm1(L, "cosh", x));
    LLVMValueRef txty = fmul(L, tx, ty);
    LLVMValueRef d = fadd(L, fk(x, 1.0), fmul(L, txty, txty));
    LLVMValueRef re = fdiv(L, fmul(L, tx, fadd(L, fk(x, 1.0), fmul(L, ty, ty))), d);
    LLVMValueRef im = fmul(L, fmul(L, fdiv(L, ty, d), cx), cx);
    LLVMValueRef sc = fmul(L, libm1(L, "sin", y), libm1(L, "cos", y));
    LLVMValueRef im_big = fmul(L, fmul(L, fk(x, 4.0), sc),
                               libm1(L, "exp", fmul(L, fk(x, -2.0), fabs_(L, x))));
    /* tanh(±inf + iy) = ±1 + 0j, the zero with sin(2y)'s sign (+0 when y
     * is not finite), as CPython */
    LLVMValueRef yfin = fcmp(L, LLVMRealOLT, fabs_(L, y), fk(x, __builtin_inf()));
    im_big = sel(L, fcmp(L, LLVMRealOEQ, fabs_(L, x), fk(x, __builtin_inf())),
                 sel(L, yfin, csign(L, fk(x, 0.0), sc), fk(x, 0.0)), im_big);
    return (Cx){sel(L, big, csign(L, fk(x, 1.0), x), re), sel(L, big, im_big, im)};
}

/* log(hypot(x/2, y/2)) + 2 ln 2: log|z| for |z| near overflow. */
static LLVMValueRef log_big_abs(Lower *L, Cx z)
{
    LLVMValueRef x = z.re;
    return fadd(L, libm1(L, "log", libm2(L, "hypot", fmul(L, x, fk(x, 0.5)), fmul(L, z.im, fk(x, 0.5)))),
                fk(x, 2 * 0.6931471805599453094172321));
}

static LLVMValueRef either_big(Lower *L, Cx z, LLVMValueRef k)
{
    return LLVMBuildOr(L->b, fcmp(L, LLVMRealOGT, fabs_(L, z.re), k),
                       fcmp(L, LLVMRealOGT, fabs_(L, z.im), k), "");
}

/* asinh: s1 = sqrt(1 + y - ix), s2 = sqrt(1 - y + ix);
 * (asinh(s1.re s2.im - s2.re s1.im), atan2(y, s1.re s2.re - s1.im s2.im));
 * beyond LARGE: (±log|z| + ..., atan2(y, |x|)). */
static Cx c_asinh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){fadd(L, one, y), fneg(L, x)});
    Cx s2 = c_sqrt(L, (Cx){fsub(L, one, y), x});
    LLVMValueRef re = libm1(L, "asinh", fsub(L, fmul(L, s1.re, s2.im), fmul(L, s2.re, s1.im)));
    LLVMValueRef im = libm2(L, "atan2", y, fsub(L, fmul(L, s1.re, s2.re), fmul(L, s1.im, s2.im)));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    LLVMValueRef re_big = csign(L, log_big_abs(L, z), x);
    LLVMValueRef im_big = libm2(L, "atan2", y, fabs_(L, x));
    return (Cx){sel(L, big, re_big, re), sel(L, big, im_big, im)};
}

/* acos: s1 = sqrt(1 - x - iy), s2 = sqrt(1 + x + iy);
 * (2 atan2(s1.re, s2.re), asinh(s2.re s1.im - s2.im s1.re)). */
static Cx c_acos(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){fsub(L, one, x), fneg(L, y)});
    Cx s2 = c_sqrt(L, (Cx){fadd(L, one, x), y});
    LLVMValueRef re = fmul(L, fk(x, 2.0), libm2(L, "atan2", s1.re, s2.re));
    LLVMValueRef im = libm1(L, "asinh", fsub(L, fmul(L, s2.re, s1.im), fmul(L, s2.im, s1.re)));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    LLVMValueRef lb = log_big_abs(L, z);
    LLVMValueRef re_big = libm2(L, "atan2", fabs_(L, y), x);
    LLVMValueRef im_big = sel(L, fcmp(L, LLVMRealOLT, x, fk(x, 0.0)), fneg(L, csign(L, lb, y)),
                              csign(L, lb, fneg(L, y)));
    return (Cx){sel(L, big, re_big, re), sel(L, big, im_big, im)};
}

/* acosh: s1 = sqrt(x - 1 + iy), s2 = sqrt(x + 1 + iy);
 * (asinh(s1.re s2.re + s1.im s2.im), 2 atan2(s1.im, s2.re)). */
static Cx c_acosh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){fsub(L, x, one), y});
    Cx s2 = c_sqrt(L, (Cx){fadd(L, x, one), y});
    LLVMValueRef re = libm1(L, "asinh", fadd(L, fmul(L, s1.re, s2.re), fmul(L, s1.im, s2.im)));
    LLVMValueRef im = fmul(L, fk(x, 2.0), libm2(L, "atan2", s1.im, s2.re));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    return (Cx){sel(L, big, log_big_abs(L, z), re), sel(L, big, libm2(L, "atan2", y, x), im)};
}

/* atanh, for x >= 0 (atanh(-z) == -atanh(z) gives the rest):
 * (log1p(4x / ((1-x)^2 + y^2)) / 4, -atan2(-2y, (1-x)(1+x) - y^2) / 2);
 * beyond sqrt(LARGE): (x / 4 / |z/2|^2, ±pi/2 with y's sign). */
static Cx c_atanh(Lower *L, Cx z)
{
    LLVMValueRef x0 = z.re, one = fk(x0, 1.0);
    LLVMValueRef sg = sel(L, fcmp(L, LLVMRealOLT, x0, fk(x0, 0.0)), fk(x0, -1.0), one);
    LLVMValueRef x = fmul(L, x0, sg), y = fmul(L, z.im, sg), ay = fabs_(L, y);
    LLVMValueRef omx = fsub(L, one, x);
    LLVMValueRef re = fmul(L, libm1(L, "log1p", fdiv(L, fmul(L, fk(x, 4.0), x),
                                                     fadd(L, fmul(L, omx, omx), fmul(L, ay, ay)))),
                           fk(x, 0.25));
    LLVMValueRef im = fmul(L, libm2(L, "atan2", fmul(L, fk(x, -2.0), y),
                                    fsub(L, fmul(L, omx, fadd(L, one, x)), fmul(L, ay, ay))),
                           fk(x, -0.5));
    LLVMValueRef big = either_big(L, (Cx){x, y}, sqrt_large_k(L, x));
    LLVMValueRef h = libm2(L, "hypot", fmul(L, x, fk(x, 0.5)), fmul(L, y, fk(x, 0.5)));
    LLVMValueRef re_big = fdiv(L, fdiv(L, fmul(L, x, fk(x, 0.25)), h), h);
    re_big = sel(L, fcmp(L, LLVMRealOEQ, h, fk(x, __builtin_inf())), csign(L, fk(x, 0.0), x), re_big);
    LLVMValueRef im_big = fneg(L, csign(L, fk(x, 1.5707963267948966192313217), fneg(L, y)));
    re = sel(L, big, re_big, re);
    im = sel(L, big, im_big, im);
    return (Cx){fmul(L, re, sg), fmul(L, im, sg)};
}

/* f(iz) helpers: sin z = -i sinh(iz), cos z = cosh(iz), tan z = -i tanh(iz),
 * asin z = -i asinh(iz), atan z = -i atanh(iz) (iz = -y + ix). */
static Cx times_i(Lower *L, Cx z) { return (Cx){fneg(L, z.im), z.re}; }
static Cx times_minus_i(Lower *L, Cx z) { return (Cx){z.im, fneg(L, z.re)}; }

/* A complex math call: cmath.f(z) or NumPy's ufunc on a complex number. */
static LLVMValueRef complex_math(Lower *L, Node *n, const Type *r)
{
    int fn = n->op;
    if (fn == MATH_COMPLEX) {
        /* CPython's complex(a, b): (a.real - b.imag, a.imag + b.real), where
         * an imaginary part a real number does not have is not subtracted
         * or added at all: complex(x, y) of reals is exactly (x, y), so
         * complex(1.0, inf) is (1+infj) and the signs of zeros stay */
        const Type *pt = part_type(r);
        const Type *ta = ty_concrete(n->args[0]->ty), *tb = ty_concrete(n->args[1]->ty);
        LLVMValueRef a = expr(L, n->args[0]), b = expr(L, n->args[1]);
        LLVMValueRef re, im;
        if (ty_is_complex(ta)) {
            LLVMValueRef c = conv(L, n, a, ta, r);
            re = re_of(L, c);
            im = im_of(L, c);
        } else {
            re = conv(L, n, a, ta, pt);
            im = NULL;
        }
        LLVMValueRef bre, bim = NULL;
        if (ty_is_complex(tb)) {
            LLVMValueRef c = conv(L, n, b, tb, r);
            bre = re_of(L, c);
            bim = im_of(L, c);
        } else {
            bre = conv(L, n, b, tb, pt);
        }
        if (bim)
            re = fsub(L, re, bim);
        if (im)
            bre = fadd(L, bre, im);
        return make_complex(L, r, re, bre);
    }
    if (fn == MATH_RECT) {
        /* rect(r, phi) = r (cos phi, sin phi); phi == 0 gives (r, r * phi) */
        const Type *pt = part_type(r);
        LLVMValueRef m = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, pt);
        LLVMValueRef phi = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, pt);
        LLVMValueRef z0 = fcmp(L, LLVMRealOEQ, phi, fk(phi, 0.0));
        LLVMValueRef re = sel(L, z0, m, fmul(L, m, libm1(L, "cos", phi)));
        LLVMValueRef im = sel(L, z0, fmul(L, m, phi), fmul(L, m, libm1(L, "sin", phi)));
        return make_complex(L, r, re, im);
    }
    LLVMValueRef v = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, r);
    Cx z = {re_of(L, v), im_of(L, v)}, w;
    switch (fn) {
    case MATH_SQRT: w = c_sqrt(L, z); break;
    case MATH_EXP: w = c_exp(L, z); break;
    case MATH_LOG:
        w = c_log(L, z);
        if (n->nargs == 2) { /* log(z, base) = log(z) / log(base), as CPython */
            LLVMValueRef bv = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, r);
            Cx lb = c_log(L, (Cx){re_of(L, bv), im_of(L, bv)});
            return complex_div(L, r, make_complex(L, r, w.re, w.im), make_complex(L, r, lb.re, lb.im));
        }
        break;
    case MATH_LOG10: {
        w = c_log(L, z);
        LLVMValueRef ln10 = fk(w.re, 2.302585092994045684017991);
        w = (Cx){fdiv(L, w.re, ln10), fdiv(L, w.im, ln10)};
        break;
    }
    case MATH_SINH: w = c_sinh(L, z); break;
    case MATH_COSH: w = c_cosh(L, z); break;
    case MATH_TANH: w = c_tanh(L, z); break;
    case MATH_SIN: w = times_minus_i(L, c_sinh(L, times_i(L, z))); break;
    case MATH_COS: w = c_cosh(L, times_i(L, z)); break;
    case MATH_TAN: w = times_minus_i(L, c_tanh(L, times_i(L, z))); break;
    case MATH_ASINH: w = c_asinh(L, z); break;
    case MATH_ACOSH: w = c_acosh(L, z); break;
    case MATH_ATANH: w = c_atanh(L, z); break;
    case MATH_ASIN: w = times_minus_i(L, c_asinh(L, times_i(L, z))); break;
    case MATH_ACOS: w = c_acos(L, z); break;
    case MATH_ATAN: w = times_minus_i(L, c_atanh(L, times_i(L, z))); break;
    case MATH_SQUARE: /* np.square */
        w = (Cx){fsub(L, fmul(L, z.re, z.re), fmul(L, z.im, z.im)),
                 fmul(L, fk(z.re, 2.0), fmul(L, z.re, z.im))};
        break;
    case MATH_RECIPROCAL: { /* np.reciprocal: 1 / z */
        const Type *pt = part_type(r);
        LLVMValueRef one = make_complex(L, r, LLVMConstReal(lty(L, pt), 1.0),
                                        LLVMConstReal(lty(L, pt), 0.0));
        return complex_div(L, r, one, v);
    }
    default: {
        char name[64];
        fail(L, n, "%s() of a complex number is not supported", ir_math_label(n, name, sizeof name));
    }
    }
    return make_complex(L, r, w.re, w.im);
}

/* round(x, ndigits) for floats, numba's way: scale by 10**ndigits, round
 * half to even, scale back (not correctly rounded in decimal like CPython;
 * when the scaled value overflows, x is returned unchanged). */
static LLVMValueRef round_digits(Lower *L, LLVMValueRef x, LLVMValueRef nd)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef ten = LLVMConstReal(t, 10.0);
    LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, nd, i64c(L, 0), "");
    LLVMValueRef absn = LLVMBuildSelect(B, neg, LLVMBuildNeg(B, nd, ""), nd, "");
    LLVMValueRef p = libm2(L, "pow", ten, LLVMBuildSIToFP(B, absn, t, ""));
    LLVMValueRef scaled = LLVMBuildFMul(B, x, p, "");
    LLVMValueRef r_pos = LLVMBuildFDiv(B, intr1(L, "llvm.rint", scaled), p, "");
    LLVMValueRef r_neg = LLVMBuildFMul(B, intr1(L, "llvm.rint", LLVMBuildFDiv(B, x, p, "")), p, "");
    LLVMValueRef fin = LLVMBuildFCmp(B, LLVMRealOLT, intr1(L, "llvm.fabs", scaled),
                                     LLVMConstReal(t, __builtin_inf()), "");
    r_pos = LLVMBuildSelect(B, fin, r_pos, x, "");
    return LLVMBuildSelect(B, neg, r_neg, r_pos, "");
}

/* frexp(x) -> (m, e) with x == m * 2**e, 0.5 <= |m| < 1 (e = 0 for 0, inf,
 * nan, as Python); modf(x) -> (fractional, integral), both with x's sign,
 * modf(±inf) = (±0, ±inf); ldexp(x, i) = x * 2**i (an exponent beyond
 * ±2**20 saturates: the result is then 0 or inf, where Python raises
 * OverflowError for the large side). */
static LLVMValueRef frexp_modf_ldexp(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *r = ty_concrete(n->ty);
    const Type *ft = n->op == MATH_LDEXP ? r : r->fields[0];
    if (!ty_is_float(ft))
        fail(L, n, "%s() result must be a float", ir_math_name(n->op));
    LLVMValueRef x = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, ft);
    LLVMTypeRef xt = LLVMTypeOf(x);
    bool f32 = xt == L->t_f32;
    if (n->op == MATH_LDEXP) {
        LLVMValueRef e = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, ty_scalar(TY_I64));
        LLVMValueRef lim = i64c(L, 1 << 20);
        e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, e, lim, ""), lim, e, "");
        LLVMValueRef nlim = i64c(L, -(1 << 20));
        e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, e, nlim, ""), nlim, e, "");
        e = LLVMBuildTrunc(B, e, L->t_i32, "");
        LLVMTypeRef params[2] = {xt, L->t_i32};
        char nmbuf[48];
        const char *nm = math_symbol(L, "ldexp", f32, nmbuf, sizeof nmbuf);
        LLVMValueRef args[2] = {x, e};
        return call_named(L, nm, xt, params, args, 2);
    }
    LLVMValueRef inf = fk(x, __builtin_inf());
    LLVMValueRef t = LLVMGetUndef(lty(L, r));
    if (n->op == MATH_MODF) {
        LLVMValueRef ip = intr1(L, "llvm.trunc", x);
        LLVMValueRef fr = fsub(L, x, ip);
        fr = sel(L, fcmp(L, LLVMRealOEQ, fabs_(L, x), inf), fk(x, 0.0), fr);
        fr = csign(L, fr, x);
        t = LLVMBuildInsertValue(B, t, fr, 0, "");
        return LLVMBuildInsertValue(B, t, ip, 1, "");
    }
    LLVMTypeRef pi32 = LLVMPointerType(L->t_i32, 0);
    LLVMValueRef slot = entry_alloca(L, L->t_i32, "frexp.e");
    LLVMBuildStore(B, LLVMConstInt(L->t_i32, 0, 0), slot);
    LLVMTypeRef params[2] = {xt, pi32};
    char nmbuf[48];
    const char *nm = math_symbol(L, "frexp", f32, nmbuf, sizeof nmbuf);
    LLVMValueRef args[2] = {x, slot};
    LLVMValueRef m = call_named(L, nm, xt, params, args, 2);
    LLVMValueRef e = LLVMBuildLoad2(B, L->t_i32, slot, "");
    LLVMValueRef fin = fcmp(L, LLVMRealOLT, fabs_(L, x), inf);
    e = LLVMBuildSelect(B, fin, e, LLVMConstInt(L->t_i32, 0, 0), "");
    t = LLVMBuildInsertValue(B, t, m, 0, "");
    return LLVMBuildInsertValue(B, t, e, 1, "");
}

/* NumPy's sign, square, reciprocal, fmin, fmax on real numbers.
 * sign: -1, 0 or 1 (nan stays nan, -0.0 gives 0.0); reciprocal of an
 * integer is 1 / x truncated (1, -1 or 0; 0 for x == 0 as integer
 * division here, where NumPy gives the most negative integer); fmin/fmax
 * ignore a nan operand: fmin(x, y) = x < y or isnan(y) ? x : y, as NumPy's
 * loops (so fmin(0.0, -0.0) is -0.0). */
static LLVMValueRef numpy_elementary(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *r = ty_concrete(n->ty);
    int fn = n->op;
    if (!ty_is_float(r) && !ty_is_int(r) && r->kind != TY_BOOL)
        fail(L, n, "%s() of these types", ir_math_name(fn));
    LLVMValueRef x = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, r);
    LLVMTypeRef t = LLVMTypeOf(x);
    bool fl = ty_is_float(r), sg = ty_is_signed(r);
    switch (fn) {
    case MATH_SIGN:
        if (fl) {
            LLVMValueRef v = sel(L, fcmp(L, LLVMRealOLT, x, fk(x, 0.0)), fk(x, -1.0),
                                 sel(L, fcmp(L, LLVMRealOEQ, x, fk(x, 0.0)), fk(x, 0.0), x));
            return sel(L, fcmp(L, LLVMRealOGT, x, fk(x, 0.0)), fk(x, 1.0), v);
        } else {
            LLVMValueRef z = LLVMConstNull(t);
            LLVMValueRef gt = LLVMBuildICmp(B, sg ? LLVMIntSGT : LLVMIntUGT, x, z, "");
            LLVMValueRef lt = LLVMBuildICmp(B, LLVMIntSLT, x, z, "");
            LLVMValueRef v = sg ? LLVMBuildSelect(B, lt, ci(t, -1), z, "") : z;
            return LLVMBuildSelect(B, gt, ci(t, 1), v, "");
        }
    case MATH_SQUARE:
        return fl ? fmul(L, x, x) : LLVMBuildMul(B, x, x, "");
    case MATH_RECIPROCAL: {
        if (fl)
            return fdiv(L, fk(x, 1.0), x);
        LLVMValueRef one = ci(t, 1);
        LLVMValueRef v = LLVMConstNull(t);
        if (sg)
            v = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, x, ci(t, -1), ""), ci(t, -1), v, "");
        return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, x, one, ""), one, v, "");
    }
    case MATH_FMIN: case MATH_FMAX: {
        bool mn = fn == MATH_FMIN;
        LLVMValueRef y = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, r);
        LLVMValueRef take_x;
        if (fl)
            take_x = LLVMBuildOr(B, fcmp(L, mn ? LLVMRealOLT : LLVMRealOGT, x, y),
                                 fcmp(L, LLVMRealUNO, y, y), "");
        else
            take_x = LLVMBuildICmp(B, mn ? (sg ? LLVMIntSLT : LLVMIntULT)
                                         : (sg ? LLVMIntSGT : LLVMIntUGT), x, y, "");
        return LLVMBuildSelect(B, take_x, x, y, "");
    }
    default:
        fail(L, n, "the CPU target does not support %s()", ir_math_name(fn));
    }
}

static LLVMValueRef math_call(Lower *L, Node *n)
{
    const Type *r = ty_concrete(n->ty);
    const Type *a0 = ty_concrete(n->args[0]->ty);
    LLVMBuilderRef B = L->b;
    int fn = n->op;
    if (ty_is_complex(r) && fn != MATH_ABS)
        return complex_math(L, n, r);
    if (libm_unary[fn] || fn == MATH_SQRT || fn == MATH_FABS || fn == MATH_RADIANS ||
        fn == MATH_DEGREES) {
        if (!ty_is_float(r))
            fail(L, n, "%s() result must be a float", ir_math_name(fn));
        LLVMValueRef x = conv(L, n, expr(L, n->args[0]), a0, r);
        if (fn == MATH_SQRT)
            return intr1(L, "llvm.sqrt", x);
        if (fn == MATH_FABS)
            return intr1(L, "llvm.fabs", x);
        /* CPython: radians(x) = x * (pi / 180), degrees(x) = x * (180 / pi) */
        if (fn == MATH_RADIANS)
            return fmul(L, x, fk(x, 3.14159265358979323846 / 180.0));
        if (fn == MATH_DEGREES)
            return fmul(L, x, fk(x, 180.0 / 3.14159265358979323846));
        if (fn == MATH_LOG && n->nargs == 2) /* math.log(x, base) = log(x) / log(base) */
            return fdiv(L, libm1(L, "log", x),
                        libm1(L, "log", conv(L, n, expr(L, n->args[1]), n->args[1]->ty, r)));
        return libm1(L, libm_unary[fn], x);
    }
    switch (fn) {
    case MATH_ATAN2: case MATH_POW: case MATH_HYPOT: case MATH_FMOD: case MATH_COPYSIGN:
    case MATH_REMAINDER: {
        if (!ty_is_float(r))
            fail(L, n, "%s() result must be a float", ir_math_name(fn));
        LLVMValueRef x = conv(L, n, expr(L, n->args[0]), a0, r);
        LLVMValueRef y = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, r);
        if (fn == MATH_FMOD)
            return LLVMBuildFRem(B, x, y, "");
        if (fn == MATH_COPYSIGN)
            return intr2(L, "llvm.copysign", x, y);
        /* remainder: IEEE 754 (x - n*y, n the nearest integer to x/y, ties
         * to even), C's remainder() */
        return libm2(L, fn == MATH_ATAN2 ? "atan2" : fn == MATH_POW ? "pow"
                        : fn == MATH_HYPOT ? "hypot" : "remainder", x, y);
    }
    case MATH_FREXP: case MATH_MODF: case MATH_LDEXP:
        return frexp_modf_ldexp(L, n);
    case MATH_SIGN: case MATH_SQUARE: case MATH_RECIPROCAL: case MATH_FMIN: case MATH_FMAX:
        return numpy_elementary(L, n);
    case MATH_PHASE: case MATH_POLAR: {
        /* phase(z) = atan2(im, re); polar(z) = (abs(z), phase(z)) */
        const Type *c = ty_is_complex(a0) ? a0 : ty_scalar(r->kind == TY_F32 ||
            (r->kind == TY_TUPLE && r->fields[0]->kind == TY_F32) ? TY_C64 : TY_C128);
        LLVMValueRef z = conv(L, n, expr(L, n->args[0]), a0, c);
        LLVMValueRef ph = libm2(L, "atan2", im_of(L, z), re_of(L, z));
        if (fn == MATH_PHASE)
            return ph;
        LLVMValueRef t = LLVMGetUndef(lty(L, r));
        t = LLVMBuildInsertValue(B, t, libm2(L, "hypot", re_of(L, z), im_of(L, z)), 0, "");
        return LLVMBuildInsertValue(B, t, ph, 1, "");
    }
    case MATH_FLOOR: case MATH_CEIL: case MATH_TRUNC: case MATH_ROUND: case MATH_RINT: {
        /* math.floor/ceil/trunc and round(x) of a float give an int64
         * (Python int); round is half to even (llvm.rint in the default
         * rounding mode). Integers pass through. */
        LLVMValueRef x = expr(L, n->args[0]);
        if (fn == MATH_ROUND && n->nargs == 2) {
            LLVMValueRef nd = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, ty_scalar(TY_I64));
            if (ty_is_float(a0))
                return conv(L, n, round_digits(L, x, nd), a0, r);
            /* round(int, n): unchanged for n >= 0, else to a multiple of 10**-n */
            LLVMValueRef xf = conv(L, n, x, a0, ty_scalar(TY_F64));
            LLVMValueRef rf = conv(L, n, round_digits(L, xf, nd), ty_scalar(TY_F64), r);
            return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, nd, i64c(L, 0), ""), rf,
                                   conv(L, n, x, a0, r), "");
        }
        if (!ty_is_float(a0))
            return conv(L, n, x, a0, r);
        /* np.floor & co. keep the float type: r is then a0's type */
        const char *intr = fn == MATH_FLOOR ? "llvm.floor" : fn == MATH_CEIL ? "llvm.ceil"
                         : fn == MATH_TRUNC ? "llvm.trunc" : "llvm.rint";
        return conv(L, n, intr1(L, intr, x), a0, r);
    }
    case MATH_ISNAN: case MATH_ISINF: case MATH_ISFINITE: {
        LLVMValueRef x = expr(L, n->args[0]);
        if (ty_is_int(a0) || a0->kind == TY_BOOL)
            return LLVMConstInt(L->t_i1, fn == MATH_ISFINITE, 0);
        LLVMValueRef parts[2] = {x, NULL};
        int np = 1;
        if (ty_is_complex(a0)) {
            parts[0] = re_of(L, x);
            parts[1] = im_of(L, x);
            np = 2;
        }
        LLVMValueRef res = NULL;
        for (int i = 0; i < np; i++) {
            LLVMValueRef p = parts[i], v;
            LLVMValueRef inf = LLVMConstReal(LLVMTypeOf(p), __builtin_inf());
            if (fn == MATH_ISNAN)
                v = LLVMBuildFCmp(B, LLVMRealUNO, p, p, "");
            else if (fn == MATH_ISINF)
                v = LLVMBuildFCmp(B, LLVMRealOEQ, intr1(L, "llvm.fabs", p), inf, "");
            else
                v = LLVMBuildFCmp(B, LLVMRealOLT, intr1(L, "llvm.fabs", p), inf, "");
            res = !res ? v : fn == MATH_ISFINITE ? LLVMBuildAnd(B, res, v, "") : LLVMBuildOr(B, res, v, "");
        }
        return res;
    }
    case MATH_ABS: {
        LLVMValueRef x = expr(L, n->args[0]);
        if (ty_is_complex(a0))
            return libm2(L, "hypot", re_of(L, x), im_of(L, x));
        x = conv(L, n, x, a0, r);
        if (ty_is_float(r))
            return intr1(L, "llvm.fabs", x);
        if (!ty_is_signed(r))
            return x;
        return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, LLVMConstNull(LLVMTypeOf(x)), ""),
                               LLVMBuildNeg(B, x, ""), x, "");
    }
    case MATH_MIN: case MATH_MAX: {
        /* Python: min returns the first of the smallest (a later value
         * replaces the current one only when strictly smaller), so
         * min(nan, 1.0) is nan and min(1.0, nan) is 1.0. NumPy's
         * minimum/maximum propagate nan from either side. */
        if (!ty_is_float(r) && !ty_is_int(r) && r->kind != TY_BOOL)
            fail(L, n, "%s() of complex numbers", ir_math_name(fn));
        LLVMValueRef acc = conv(L, n, expr(L, n->args[0]), a0, r);
        for (int i = 1; i < n->nargs; i++) {
            LLVMValueRef x = conv(L, n, expr(L, n->args[i]), n->args[i]->ty, r);
            LLVMValueRef better;
            if (ty_is_float(r) && n->index == MATHF_NUMPY) /* np.minimum: a nan wins */
                better = LLVMBuildOr(B, LLVMBuildFCmp(B, fn == MATH_MIN ? LLVMRealOLT : LLVMRealOGT,
                                                      x, acc, ""),
                                     LLVMBuildFCmp(B, LLVMRealUNO, x, x, ""), "");
            else if (ty_is_float(r))
                better = LLVMBuildFCmp(B, fn == MATH_MIN ? LLVMRealOLT : LLVMRealOGT, x, acc, "");
            else if (ty_is_signed(r))
                better = LLVMBuildICmp(B, fn == MATH_MIN ? LLVMIntSLT : LLVMIntSGT, x, acc, "");
            else
                better = LLVMBuildICmp(B, fn == MATH_MIN ? LLVMIntULT : LLVMIntUGT, x, acc, "");
            acc = LLVMBuildSelect(B, better, x, acc, "");
        }
        return acc;
    }
    default:
        fail(L, n, "the CPU target does not support %s()", ir_math_name(fn));
    }
}

/* ======================================================================== */
/* Intrinsics, arrays, attributes                                           */
/* ======================================================================== */

/* A PTX special register (NVVM): i32 llvm.nvvm.read.ptx.sreg.*() */
static LLVMValueRef read_sreg(Lower *L, const char *name)
{
    LLVMTypeRef ft = LLVMFunctionType(L->t_i32, NULL, 0, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (!f)
        f = LLVMAddFunction(L->mod, name, ft);
    return LLVMBuildCall2(L->b, ft, f, NULL, 0, name + 23);
}

/* shfl.sync of one 32-bit value: mode idx / up / down / bfly; c as
 * shfl_c() makes it. */
static LLVMValueRef shfl32(Lower *L, const char *mode, LLVMValueRef mask, LLVMValueRef v,
                           LLVMValueRef lane, LLVMValueRef c)
{
    bool fl = LLVMTypeOf(v) == L->t_f32;
    char name[64];
    snprintf(name, sizeof name, "llvm.nvvm.shfl.sync.%s.%s", mode, fl ? "f32" : "i32");
    LLVMTypeRef params[4] = {L->t_i32, LLVMTypeOf(v), L->t_i32, L->t_i32};
    LLVMValueRef args[4] = {mask, v, lane, c};
    return call_named(L, name, LLVMTypeOf(v), params, args, 4);
}

/* A shuffle's c operand (i32), as CUDA C's __shfl_*_sync build it: the
 * segment mask (32 - width) in bits 12:8 and the clamp, 0x1f (0 for up),
 * in bits 4:0 (PTX ISA "shfl.sync"); width 32 without a 4th argument. Any
 * width gives these bits, on both targets (CUDA leaves a width that is not
 * a power of two from 1 to 32 undefined). */
static LLVMValueRef shfl_c(Lower *L, Node *n)
{
    int clamp = n->op == INTR_SHFL_UP ? 0 : 0x1f;
    if (n->nargs < 4)
        return ci(L->t_i32, clamp);
    LLVMBuilderRef B = L->b;
    LLVMValueRef w = conv(L, n, expr(L, n->args[3]), n->args[3]->ty, ty_scalar(TY_U32));
    LLVMValueRef seg = LLVMBuildShl(B, LLVMBuildSub(B, ci(L->t_i32, 32), w, ""), ci(L->t_i32, 8), "");
    return LLVMBuildOr(B, seg, ci(L->t_i32, clamp), "shfl.c");
}

/* Barriers with a predicate, warp shuffles and votes (NVVM). A 64-bit
 * value is shuffled as its two halves. */
static LLVMValueRef nvvm_block_intrinsic(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *u32 = ty_scalar(TY_U32);
    switch (n->op) {
    case INTR_SYNCTHREADS_COUNT: case INTR_SYNCTHREADS_AND: case INTR_SYNCTHREADS_OR: {
        LLVMValueRef p = LLVMBuildZExt(B, truth(L, expr(L, n->args[0]), n->args[0]->ty),
                                       L->t_i32, "");
        const char *name = n->op == INTR_SYNCTHREADS_COUNT ? "llvm.nvvm.barrier0.popc"
                         : n->op == INTR_SYNCTHREADS_AND ? "llvm.nvvm.barrier0.and"
                                                         : "llvm.nvvm.barrier0.or";
        LLVMValueRef r = call_named(L, name, L->t_i32, &L->t_i32, &p, 1);
        return n->op == INTR_SYNCTHREADS_COUNT ? r
               : LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntNE, r, ci(L->t_i32, 0), ""), L->t_i32, "");
    }
    case INTR_SHFL_IDX: case INTR_SHFL_UP: case INTR_SHFL_DOWN: case INTR_SHFL_XOR: {
        const char *mode = n->op == INTR_SHFL_IDX ? "idx" : n->op == INTR_SHFL_UP ? "up"
                         : n->op == INTR_SHFL_DOWN ? "down" : "bfly";
        LLVMValueRef mask = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, u32);
        LLVMValueRef v = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, n->ty);
        LLVMValueRef lane = conv(L, n, expr(L, n->args[2]), n->args[2]->ty, u32);
        LLVMValueRef c = shfl_c(L, n);
        if (ty_bits(n->ty) == 32) {
            bool fl = ty_is_float(n->ty);
            return shfl32(L, mode, mask, fl ? v : LLVMBuildBitCast(B, v, L->t_i32, ""), lane, c);
        }
        LLVMValueRef bits = LLVMBuildBitCast(B, v, L->t_i64, "");
        LLVMValueRef lo = LLVMBuildTrunc(B, bits, L->t_i32, "");
        LLVMValueRef hi = LLVMBuildTrunc(B, LLVMBuildLShr(B, bits, i64c(L, 32), ""), L->t_i32, "");
        lo = LLVMBuildZExt(B, shfl32(L, mode, mask, lo, lane, c), L->t_i64, "");
        hi = LLVMBuildZExt(B, shfl32(L, mode, mask, hi, lane, c), L->t_i64, "");
        bits = LLVMBuildOr(B, LLVMBuildShl(B, hi, i64c(L, 32), ""), lo, "");
        return LLVMBuildBitCast(B, bits, lty(L, n->ty), "");
    }
    case INTR_VOTE_ALL: case INTR_VOTE_ANY: case INTR_VOTE_UNI: case INTR_BALLOT: {
        LLVMValueRef args[2] = {conv(L, n, expr(L, n->args[0]), n->args[0]->ty, u32),
                                truth(L, expr(L, n->args[1]), n->args[1]->ty)};
        LLVMTypeRef params[2] = {L->t_i32, L->t_i1};
        const char *name = n->op == INTR_VOTE_ALL ? "llvm.nvvm.vote.all.sync"
                         : n->op == INTR_VOTE_ANY ? "llvm.nvvm.vote.any.sync"
                         : n->op == INTR_VOTE_UNI ? "llvm.nvvm.vote.uni.sync"
                                                  : "llvm.nvvm.vote.ballot.sync";
        return call_named(L, name, n->op == INTR_BALLOT ? L->t_i32 : L->t_i1, params, args, 2);
    }
    case INTR_MATCH_ANY: case INTR_MATCH_ALL: {
        /* llvm.nvvm.match.{any,all}.sync.{i32,i64}[p] (sm_70+) */
        const Type *vt = n->target;
        LLVMTypeRef it = ty_bits(vt) == 32 ? L->t_i32 : L->t_i64;
        LLVMValueRef args[2] = {conv(L, n, expr(L, n->args[0]), n->args[0]->ty, u32),
                                LLVMBuildBitCast(B, conv(L, n, expr(L, n->args[1]),
                                                         n->args[1]->ty, vt), it, "")};
        LLVMTypeRef params[2] = {L->t_i32, it};
        char name[48];
        snprintf(name, sizeof name, "llvm.nvvm.match.%s.sync.i%d%s",
                 n->op == INTR_MATCH_ANY ? "any" : "all", ty_bits(vt),
                 n->op == INTR_MATCH_ANY ? "" : "p");
        if (it == L->t_i64) {
            /* libNVVM and LLVM 14 disagree on the 64-bit intrinsics' mask type:
             * PTX inline (PTX ISA "match.sync": the mask is b32) */
            bool any = n->op == INTR_MATCH_ANY;
            LLVMValueRef ops[2] = {args[1], args[0]};
            LLVMTypeRef opt[2] = {L->t_i64, L->t_i32}, two[2] = {L->t_i32, L->t_i32};
            LLVMTypeRef rt = any ? L->t_i32 : LLVMStructTypeInContext(L->ctx, two, 2, 0);
            const char *text = any ? "match.any.sync.b64 $0, $1, $2;"
                                   : "{ .reg .pred p; match.all.sync.b64 $0|p, $2, $3; "
                                     "selp.u32 $1, 1, 0, p; }";
            const char *cons = any ? "=r,l,r" : "=r,=r,l,r";
            LLVMTypeRef fty = LLVMFunctionType(rt, opt, 2, 0);
            LLVMValueRef asm_ = LLVMGetInlineAsm(fty, (char *)text, strlen(text), (char *)cons,
                                                 strlen(cons), 1, 0, LLVMInlineAsmDialectATT, 0);
            LLVMValueRef r = LLVMBuildCall2(B, fty, asm_, ops, 2, "");
            if (any)
                return r;
            LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
            t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 0, ""), 0, "");
            LLVMValueRef p = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildExtractValue(B, r, 1, ""),
                                           ci(L->t_i32, 0), "");
            return LLVMBuildInsertValue(B, t, p, 1, "match_all");
        }
        if (n->op == INTR_MATCH_ANY)
            return call_named(L, name, L->t_i32, params, args, 2);
        LLVMTypeRef pair[2] = {L->t_i32, L->t_i1};
        LLVMValueRef r = call_named(L, name, LLVMStructTypeInContext(L->ctx, pair, 2, 0), params,
                                    args, 2);
        LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
        t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 0, ""), 0, "");
        return LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 1, ""), 1, "match_all");
    }
    case INTR_ACTIVEMASK:
        return call_named(L, "ember_activemask", L->t_i32, NULL, NULL, 0);
    case INTR_LANEMASK_LT:
        return read_sreg(L, "llvm.nvvm.read.ptx.sreg.lanemask.lt");
    default:
        fail(L, n, "unknown intrinsic %d", n->op);
    }
}

/* A call of ember's runtime function `fn` of type `fty`: by its name
 * (host_symbol_name), which each JIT defines, so that the object code can
 * be cached and loaded in another process; an address without a name is
 * called as a constant and marks the module "ember.absolute_address" (its
 * object code is then not cached; devices/cpu/jit.c). */
static LLVMValueRef call_address(LLVMBuilderRef b, LLVMTypeRef i64, void *fn, LLVMTypeRef fty,
                                 LLVMValueRef *args, unsigned n, const char *name)
{
    LLVMModuleRef mod = LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(b)));
    const char *sym = host_symbol_name(fn);
    LLVMValueRef f;
    if (sym) {
        if (!(f = LLVMGetNamedFunction(mod, sym)))
            f = LLVMAddFunction(mod, sym, fty);
    } else {
        LLVMContextRef ctx = LLVMGetModuleContext(mod);
        LLVMAddNamedMetadataOperand(mod, "ember.absolute_address",
                                    LLVMMDNodeInContext(ctx, NULL, 0));
        f = LLVMConstIntToPtr(LLVMConstInt(i64, (uint64_t)(uintptr_t)fn, 0),
                              LLVMPointerType(fty, 0));
    }
    return LLVMBuildCall2(b, fty, f, args, n, name);
}

/* MT19937's tempering of one state word (devices/cpu/random.c next_u32). */
static LLVMValueRef mt_temper(Lower *L, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = L->t_i32;
    y = LLVMBuildXor(B, y, LLVMBuildLShr(B, y, LLVMConstInt(t, 11, 0), ""), "");
    y = LLVMBuildXor(B, y, LLVMBuildAnd(B, LLVMBuildShl(B, y, LLVMConstInt(t, 7, 0), ""),
                                        LLVMConstInt(t, 0x9d2c5680u, 0), ""), "");
    y = LLVMBuildXor(B, y, LLVMBuildAnd(B, LLVMBuildShl(B, y, LLVMConstInt(t, 15, 0), ""),
                                        LLVMConstInt(t, 0xefc60000u, 0), ""), "");
    return LLVMBuildXor(B, y, LLVMBuildLShr(B, y, LLVMConstInt(t, 18, 0), ""), "");
}

/* np.random.random() inline: while two state words remain, read and temper
 * them here and make the double as NumPy does ((a >> 5) * 2**26 + (b >> 6))
 * * 2**-53, exact); else call host_random_random, which regenerates the
 * state. The draw then costs a few instructions instead of a call. */
static LLVMValueRef random_double(Lower *L, LLVMValueRef rng, LLVMTypeRef fty, void *slow_fn)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef off = i64c(L, HOST_RNG_POS_OFFSET);
    LLVMValueRef posp = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, rng, &off, 1, ""),
                                         LLVMPointerType(L->t_i32, 0), "");
    LLVMValueRef pos = LLVMBuildLoad2(B, L->t_i32, posp, "pos");
    LLVMBasicBlockRef fast = new_bb(L, "rng.fast"), slow = new_bb(L, "rng.slow"),
                      join = new_bb(L, "rng.join");
    LLVMValueRef room = LLVMBuildICmp(B, LLVMIntSLT, pos,
                                      LLVMConstInt(L->t_i32, HOST_RNG_WORDS - 1, 0), "");
    LLVMBuildCondBr(B, room, fast, slow);
    LLVMPositionBuilderAtEnd(B, fast);
    LLVMValueRef words = LLVMBuildBitCast(B, rng, LLVMPointerType(L->t_i32, 0), "");
    LLVMValueRef i0 = LLVMBuildSExt(B, pos, L->t_i64, "");
    LLVMValueRef i1 = LLVMBuildAdd(B, i0, i64c(L, 1), "");
    LLVMValueRef a = LLVMBuildLoad2(B, L->t_i32, LLVMBuildGEP2(B, L->t_i32, words, &i0, 1, ""), "");
    LLVMValueRef b = LLVMBuildLoad2(B, L->t_i32, LLVMBuildGEP2(B, L->t_i32, words, &i1, 1, ""), "");
    LLVMBuildStore(B, LLVMBuildAdd(B, pos, LLVMConstInt(L->t_i32, 2, 0), ""), posp);
    a = LLVMBuildLShr(B, mt_temper(L, a), LLVMConstInt(L->t_i32, 5, 0), "");
    b = LLVMBuildLShr(B, mt_temper(L, b), LLVMConstInt(L->t_i32, 6, 0), "");
    LLVMValueRef d = LLVMBuildFAdd(B, LLVMBuildFMul(B, LLVMBuildUIToFP(B, a, L->t_f64, ""),
                                                    LLVMConstReal(L->t_f64, 67108864.0), ""),
                                   LLVMBuildUIToFP(B, b, L->t_f64, ""), "");
    d = LLVMBuildFMul(B, d, LLVMConstReal(L->t_f64, 1.0 / 9007199254740992.0), "");
    LLVMBasicBlockRef fast_end = LLVMGetInsertBlock(B);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, slow);
    LLVMValueRef s = call_address(B, L->t_i64, slow_fn, fty, &rng, 1, "");
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    LLVMValueRef phi = LLVMBuildPhi(B, L->t_f64, "random");
    LLVMValueRef vals[2] = {d, s};
    LLVMBasicBlockRef bbs[2] = {fast_end, slow};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return phi;
}

/* np.random: a call of devices/cpu/random.c with the thread's generator
 * (looked up once per LLVM function, in its entry block) and the
 * arguments converted to int64 / float64. */
static LLVMValueRef random_call(Lower *L, Node *n)
{
    static void *const fns[] = {(void *)host_random_seed, (void *)host_random_random,
                                (void *)host_random_uniform, (void *)host_random_normal,
                                (void *)host_random_randint};
    static const char *const names[] = {"np.random.seed", "np.random.random",
                                        "np.random.uniform", "np.random.normal",
                                        "np.random.randint"};
    int i = n->op - INTR_RANDOM_SEED;
    bool ints = n->op == INTR_RANDOM_SEED || n->op == INTR_RANDOM_RANDINT;
    const Type *at = ty_scalar(ints ? TY_I64 : TY_F64);
    LLVMTypeRef pt[3] = {L->t_ptr, lty(L, at), lty(L, at)};
    LLVMValueRef args[3];
    for (int j = 0; j < n->nargs && j < 2; j++)
        args[1 + j] = conv(L, n, expr(L, n->args[j]), n->args[j]->ty, at);
    LLVMTypeRef sty = LLVMFunctionType(L->t_ptr, NULL, 0, 0);
    if (!L->rng)
        L->rng = call_address(L->ab, L->t_i64, host_random_state, sty, NULL, 0, "rng");
    args[0] = L->rng;
    LLVMTypeRef rt = n->op == INTR_RANDOM_SEED ? L->t_void
                   : n->op == INTR_RANDOM_RANDINT ? L->t_i64 : L->t_f64;
    LLVMTypeRef fty = LLVMFunctionType(rt, pt, (unsigned)n->nargs + 1, 0);
    if (n->op == INTR_RANDOM_RANDOM) /* and uniform: low + (high - low) * random() */
        return random_double(L, args[0], fty, fns[i]);
    if (n->op == INTR_RANDOM_UNIFORM) {
        LLVMTypeRef rty = LLVMFunctionType(L->t_f64, pt, 1, 0);
        LLVMValueRef d = random_double(L, args[0], rty, (void *)host_random_random);
        return LLVMBuildFAdd(L->b, args[1], LLVMBuildFMul(L->b, LLVMBuildFSub(L->b, args[2],
                             args[1], ""), d, ""), "uniform");
    }
    return call_address(L->b, L->t_i64, fns[i], fty, args, (unsigned)n->nargs + 1,
                        n->op == INTR_RANDOM_SEED ? "" : names[i] + 10);
}

static LLVMValueRef fis_block_intrinsic(Lower *L, Node *n);

static LLVMValueRef intrinsic(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    int k = n->nargs ? (int)n->args[0]->ival : 0;
    switch (n->op) {
    case INTR_THREAD_IDX: return L->tid[k];
    case INTR_BLOCK_IDX: return L->bid[k];
    case INTR_BLOCK_DIM: return L->bdim[k];
    case INTR_GRID_DIM: return L->gdim[k];
    case INTR_GRID: case INTR_GRIDSIZE: {
        /* grid(n)[i] = blockIdx*blockDim + threadIdx; gridsize(n)[i] =
         * blockDim*gridDim, computed in int64. Every operand is in
         * [0, 2**31) (host_launch checks), so zext equals sext and the
         * arithmetic cannot overflow: the nsw flags let LLVM prove the
         * result non-negative, fold the negative-index wrap of a[i] away
         * and see a unit-stride, vectorisable access. */
        LLVMValueRef v[3];
        for (int i = 0; i < k; i++) {
            LLVMValueRef bd = LLVMBuildZExt(B, L->bdim[i], L->t_i64, "");
            if (n->op == INTR_GRID)
                v[i] = LLVMBuildNSWAdd(
                    B, LLVMBuildNSWMul(B, LLVMBuildZExt(B, L->bid[i], L->t_i64, ""), bd, ""),
                    LLVMBuildZExt(B, L->tid[i], L->t_i64, ""), "");
            else
                v[i] = LLVMBuildNSWMul(B, bd, LLVMBuildZExt(B, L->gdim[i], L->t_i64, ""), "");
        }
        if (k == 1)
            return v[0];
        LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
        for (int i = 0; i < k; i++)
            t = LLVMBuildInsertValue(B, t, v[i], (unsigned)i, "");
        return t;
    }
    case INTR_LANEID: /* linear thread id within the block, mod the warp size */
        if (L->target == LOWER_NVVM)
            return read_sreg(L, "llvm.nvvm.read.ptx.sreg.laneid");
        return LLVMBuildTrunc(B, LLVMBuildURem(B, L->linear_tid, i64c(L, 32), ""), L->t_i32, "laneid");
    case INTR_WARPSIZE:
        return ci(L->t_i32, 32);
    case INTR_POPC: case INTR_BREV: case INTR_CLZ: case INTR_FFS: {
        /* on the integer's bits (CUDA's __popc/__brev/__clz/__ffs and their
         * 64-bit forms); the result type is in n->ty */
        const Type *at = ty_concrete(n->args[0]->ty);
        LLVMValueRef x = expr(L, n->args[0]);
        LLVMTypeRef xt = LLVMTypeOf(x);
        if (n->op == INTR_BREV)
            return intr1(L, "llvm.bitreverse", x);
        LLVMValueRef r;
        if (n->op == INTR_POPC) {
            r = intr1(L, "llvm.ctpop", x);
        } else {
            LLVMValueRef args[2] = {x, LLVMConstInt(L->t_i1, 0, 0)};
            r = call_intrinsic(L, n->op == INTR_CLZ ? "llvm.ctlz" : "llvm.cttz", xt, args, 2);
            if (n->op == INTR_FFS) {
                LLVMValueRef zero = LLVMBuildICmp(B, LLVMIntEQ, x, LLVMConstNull(xt), "");
                r = LLVMBuildSelect(B, zero, LLVMConstNull(xt),
                                    LLVMBuildAdd(B, r, LLVMConstInt(xt, 1, 0), ""), "");
            }
        }
        (void)at;
        return LLVMGetIntTypeWidth(xt) > 32 ? LLVMBuildTrunc(B, r, L->t_i32, "")
               : LLVMGetIntTypeWidth(xt) < 32 ? LLVMBuildZExt(B, r, L->t_i32, "") : r;
    }
    case INTR_FMA: {
        LLVMValueRef v[3];
        for (int i = 0; i < 3; i++)
            v[i] = conv(L, n, expr(L, n->args[i]), n->args[i]->ty, n->ty);
        return call_intrinsic(L, "llvm.fma", LLVMTypeOf(v[0]), v, 3);
    }
    case INTR_RANDOM_SEED: case INTR_RANDOM_RANDOM: case INTR_RANDOM_UNIFORM:
    case INTR_RANDOM_NORMAL: case INTR_RANDOM_RANDINT:
        return random_call(L, n);
    default:
        if (L->target == LOWER_NVVM)
            return nvvm_block_intrinsic(L, n);
        if (L->fis)
            return fis_block_intrinsic(L, n);
        fail(L, n, "the CPU target does not support intrinsic %d", n->op);
    }
}

/* A store into the fault record, which other threads may write too: an
 * atomic store on the host, a volatile one on NVVM (whose bitcode reader
 * predates atomic stores; any writer's value will do). */
static void fault_store(Lower *L, LLVMValueRef v, LLVMValueRef ptr, LLVMAtomicOrdering order)
{
    LLVMValueRef st = LLVMBuildStore(L->b, v, ptr);
    if (L->target == LOWER_NVVM)
        LLVMSetVolatile(st, 1);
    else
        LLVMSetOrdering(st, order);
    LLVMSetAlignment(st, 4);
}

/* Bounds checking (Function.boundscheck): when `bad`, record the fault and
 * its site for the launch to raise IndexError, and send the access to a
 * scratch slot instead (loads give 0, stores go nowhere), so that the
 * kernel never touches memory outside its arrays. */
static LLVMValueRef bounds_fault(Lower *L, const Node *n, LLVMValueRef bad, LLVMValueRef p)
{
    LLVMBuilderRef B = L->b;
    if (!grow_list((void **)&L->sites, &L->capsites, L->nsites + 1, sizeof *L->sites))
        fail(L, n, "out of memory");
    char site[1200];
    snprintf(site, sizeof site, "%s:%d:%d", L->fn->file, n->loc.line, n->loc.col);
    if (!(L->sites[L->nsites] = em_strdup(site)))
        fail(L, n, "out of memory");
    int index = L->nsites++;
    LLVMBasicBlockRef fault = new_bb(L, "oob"), cont = new_bb(L, "inbounds");
    LLVMBuildCondBr(B, bad, fault, cont);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    LLVMValueRef site_ptr = LLVMBuildGEP2(B, L->t_i32, L->fault, &one, 1, "");
    fault_store(L, LLVMConstInt(L->t_i32, (unsigned)index, 0), site_ptr,
                LLVMAtomicOrderingMonotonic);
    for (int i = 0; i < 6; i++) { /* where: threadIdx, blockIdx */
        LLVMValueRef at = LLVMConstInt(L->t_i32, (unsigned)(2 + i), 0);
        fault_store(L, i < 3 ? L->tid[i] : L->bid[i - 3],
                    LLVMBuildGEP2(B, L->t_i32, L->fault, &at, 1, ""), LLVMAtomicOrderingMonotonic);
    }
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_INDEX, 0), L->fault,
                LLVMAtomicOrderingRelease);
    LLVMValueRef scratch = entry_alloca(L, LLVMArrayType(L->t_i64, 2), "oob.scratch");
    LLVMSetAlignment(scratch, 16);
    LLVMBuildStore(B, LLVMConstNull(LLVMArrayType(L->t_i64, 2)), scratch);
    LLVMBuildBr(B, cont);
    LLVMPositionBuilderAtEnd(B, cont);
    if (!p) /* a slice: the caller empties the view */
        return NULL;
    return LLVMBuildSelect(B, bad, LLVMBuildBitCast(B, scratch, L->t_ptr, ""), p, "");
}

/* Address of a[idx...]: data + sum(idx_i * stride_i), a negative index
 * wrapped once (idx + shape_i). No bounds check in this build. For a 'C'
 * ('F') array the last (first) stride is the item size, a constant, which
 * lets LLVM see unit-stride accesses and vectorise them. */
static LLVMValueRef element_ptr(Lower *L, Node *n, const Type **elem_out)
{
    const Type *at = n->a->ty;
    LLVMBuilderRef B = L->b;
    LLVMValueRef arr = expr(L, n->a);
    int nd = at->ndim;
    LLVMValueRef off = NULL, bad = NULL;
    int64_t itemsize = ty_bits(at->elem) < 8 ? 1 : ty_bits(at->elem) / 8;
    for (int i = 0; i < nd; i++) {
        const Type *it = ty_concrete(n->args[i]->ty);
        LLVMValueRef idx = conv(L, n, expr(L, n->args[i]), it, ty_scalar(ty_is_signed(it) ? TY_I64 : TY_U64));
        if (ty_is_signed(it)) {
            LLVMValueRef shape = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
            LLVMValueRef negi = LLVMBuildICmp(B, LLVMIntSLT, idx, i64c(L, 0), "");
            idx = LLVMBuildSelect(B, negi, LLVMBuildAdd(B, idx, shape, ""), idx, "");
        }
        if (L->boundscheck) { /* wrapped index in [0, shape): one unsigned compare */
            LLVMValueRef shape = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
            LLVMValueRef out = LLVMBuildICmp(B, LLVMIntUGE, idx, shape, "oob");
            bad = bad ? LLVMBuildOr(B, bad, out, "") : out;
        }
        bool unit = (at->layout == 'C' && i == nd - 1) || (at->layout == 'F' && i == 0);
        LLVMValueRef stride = unit ? i64c(L, itemsize)
                                   : LLVMBuildExtractValue(B, arr, (unsigned)(1 + nd + i), "stride");
        LLVMValueRef term = LLVMBuildMul(B, idx, stride, "");
        off = off ? LLVMBuildAdd(B, off, term, "") : term;
    }
    LLVMValueRef data = LLVMBuildExtractValue(B, arr, 0, "data");
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, data, &off, 1, "");
    if (bad)
        p = bounds_fault(L, n, bad, p);
    *elem_out = at->elem;
    return LLVMBuildBitCast(B, p, LLVMPointerType(mty(L, at->elem), 0), "");
}

/* cuda.atomic.<op>(ary, idx, val): the old element, with ary[idx] updated
 * atomically (sequentially consistent). Integer add/sub/and/or/xor/max/min/
 * exch and float add/sub are one atomicrmw; the rest is a compare-exchange
 * loop on the element's bits:
 *   max/min (floats): Python's max(old, val) / min(old, val) (NaN in `old`
 *     stays, a NaN `val` is ignored), nanmax/nanmin: NaN is a missing value
 *     (llvm.maxnum / minnum: the other operand);
 *   inc: old >= val ? 0 : old + 1;  dec: old == 0 || old > val ? val : old - 1
 *     (CUDA's atomicInc / atomicDec);
 *   cas(ary, idx, old, val): stores val when the element equals old (bitwise
 *     for floats). */
/* NVVM: an atomic read-modify-write or compare-and-swap on i32/i64 is a
 * call of `ember_atomic_<op>_i<bits>` (op: add sub and or xor max min umax
 * umin xchg cas), defined by devices/cuda/cuda_compile.c in a small text
 * module: LLVM 14 writes atomicrmw and cmpxchg in a bitcode form libNVVM's
 * LLVM 7 reader rejects, while its text form is the same in both. */
static LLVMValueRef nvvm_atomic(Lower *L, const char *op, LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef it = LLVMTypeOf(args[1]);
    char name[64];
    snprintf(name, sizeof name, "ember_atomic_%s_i%u", op, LLVMGetIntTypeWidth(it));
    LLVMTypeRef params[3] = {LLVMPointerType(it, 0), it, it};
    return call_named(L, name, it, params, args, n);
}

static LLVMValueRef atomic_op(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Node probe = *n;
    probe.kind = ND_INDEX;
    const Type *elem;
    LLVMValueRef p = element_ptr(L, &probe, &elem);
    LLVMValueRef v = conv(L, n, expr(L, n->b), n->b->ty, elem);
    bool fl = ty_is_float(elem), sg = ty_is_signed(elem);
    /* CUDA's atomics are relaxed; the host's are sequentially consistent */
    LLVMAtomicOrdering sc = L->target == LOWER_NVVM ? LLVMAtomicOrderingMonotonic
                                                    : LLVMAtomicOrderingSequentiallyConsistent;
    if (L->target == LOWER_NVVM && fl && (n->op == ATOM_ADD || n->op == ATOM_SUB)) {
        /* float atomicrmw is newer than NVVM's dialect: its own intrinsic */
        bool f32 = LLVMTypeOf(v) == L->t_f32;
        const char *name = f32 ? "llvm.nvvm.atomic.load.add.f32.p0f32"
                               : "llvm.nvvm.atomic.load.add.f64.p0f64";
        LLVMTypeRef et = LLVMTypeOf(v);
        LLVMTypeRef params[2] = {LLVMPointerType(et, 0), et};
        LLVMValueRef args[2] = {p, n->op == ATOM_SUB ? build_fneg(L, v) : v};
        return call_named(L, name, et, params, args, 2);
    }
    int rmw = -1;
    switch (n->op) {
    case ATOM_ADD: rmw = fl ? LLVMAtomicRMWBinOpFAdd : LLVMAtomicRMWBinOpAdd; break;
    case ATOM_SUB: rmw = fl ? LLVMAtomicRMWBinOpFSub : LLVMAtomicRMWBinOpSub; break;
    case ATOM_AND: rmw = LLVMAtomicRMWBinOpAnd; break;
    case ATOM_OR: rmw = LLVMAtomicRMWBinOpOr; break;
    case ATOM_XOR: rmw = LLVMAtomicRMWBinOpXor; break;
    case ATOM_MAX: if (!fl) rmw = sg ? LLVMAtomicRMWBinOpMax : LLVMAtomicRMWBinOpUMax; break;
    case ATOM_MIN: if (!fl) rmw = sg ? LLVMAtomicRMWBinOpMin : LLVMAtomicRMWBinOpUMin; break;
    case ATOM_NANMAX: if (!fl) rmw = sg ? LLVMAtomicRMWBinOpMax : LLVMAtomicRMWBinOpUMax; break;
    case ATOM_NANMIN: if (!fl) rmw = sg ? LLVMAtomicRMWBinOpMin : LLVMAtomicRMWBinOpUMin; break;
    case ATOM_EXCH: if (!fl) rmw = LLVMAtomicRMWBinOpXchg; break;
    default: break;
    }
    if (rmw >= 0 && L->target == LOWER_NVVM) {
        static const char *const names[] = {
            [LLVMAtomicRMWBinOpAdd] = "add", [LLVMAtomicRMWBinOpSub] = "sub",
            [LLVMAtomicRMWBinOpAnd] = "and", [LLVMAtomicRMWBinOpOr] = "or",
            [LLVMAtomicRMWBinOpXor] = "xor", [LLVMAtomicRMWBinOpMax] = "max",
            [LLVMAtomicRMWBinOpMin] = "min", [LLVMAtomicRMWBinOpUMax] = "umax",
            [LLVMAtomicRMWBinOpUMin] = "umin", [LLVMAtomicRMWBinOpXchg] = "xchg"};
        LLVMValueRef a[2] = {p, v};
        return nvvm_atomic(L, names[rmw], a, 2);
    }
    if (rmw >= 0)
        return LLVMBuildAtomicRMW(B, (LLVMAtomicRMWBinOp)rmw, p, v, sc, 0);
    LLVMTypeRef et = lty(L, elem);
    LLVMTypeRef it = ty_bits(elem) == 32 ? L->t_i32 : L->t_i64;
    LLVMValueRef ip = LLVMBuildBitCast(B, p, LLVMPointerType(it, 0), "");
#define BITS(x) (fl ? LLVMBuildBitCast(B, (x), it, "") : (x))
#define VAL(x) (fl ? LLVMBuildBitCast(B, (x), et, "") : (x))
    if (n->op == ATOM_CAS) {
        LLVMValueRef nv = conv(L, n, expr(L, n->c), n->c->ty, elem);
        if (L->target == LOWER_NVVM) {
            LLVMValueRef a[3] = {ip, BITS(v), BITS(nv)};
            return VAL(nvvm_atomic(L, "cas", a, 3));
        }
        LLVMValueRef r = LLVMBuildAtomicCmpXchg(B, ip, BITS(v), BITS(nv), sc, sc, 0);
        return VAL(LLVMBuildExtractValue(B, r, 0, ""));
    }
    LLVMValueRef init = LLVMBuildLoad2(B, it, ip, "");
    if (L->target == LOWER_NVVM) /* an atomic load is newer than NVVM's bitcode */
        LLVMSetVolatile(init, 1);
    else
        LLVMSetOrdering(init, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(init, (unsigned)ty_bits(elem) / 8);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(B), loop = new_bb(L, "atomic.loop"),
                      done = new_bb(L, "atomic.done");
    LLVMBuildBr(B, loop);
    LLVMPositionBuilderAtEnd(B, loop);
    LLVMValueRef old_i = LLVMBuildPhi(B, it, "");
    LLVMValueRef old = VAL(old_i), nv;
    switch (n->op) {
    case ATOM_MAX:
        nv = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, v, old, ""), v, old, "");
        break;
    case ATOM_MIN:
        nv = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLT, v, old, ""), v, old, "");
        break;
    case ATOM_NANMAX: nv = intr2(L, "llvm.maxnum", old, v); break;
    case ATOM_NANMIN: nv = intr2(L, "llvm.minnum", old, v); break;
    case ATOM_INC: {
        LLVMValueRef ge = LLVMBuildICmp(B, sg ? LLVMIntSGE : LLVMIntUGE, old, v, "");
        nv = LLVMBuildSelect(B, ge, ci(it, 0), LLVMBuildAdd(B, old, ci(it, 1), ""), "");
        break;
    }
    case ATOM_DEC: {
        LLVMValueRef z = LLVMBuildICmp(B, LLVMIntEQ, old, ci(it, 0), "");
        LLVMValueRef gt = LLVMBuildICmp(B, sg ? LLVMIntSGT : LLVMIntUGT, old, v, "");
        nv = LLVMBuildSelect(B, LLVMBuildOr(B, z, gt, ""), v,
                             LLVMBuildSub(B, old, ci(it, 1), ""), "");
        break;
    }
    default: /* ATOM_EXCH of a float */
        nv = v;
        break;
    }
    LLVMValueRef seen, ok;
    if (L->target == LOWER_NVVM) {
        LLVMValueRef a[3] = {ip, old_i, BITS(nv)};
        seen = nvvm_atomic(L, "cas", a, 3);
        ok = LLVMBuildICmp(B, LLVMIntEQ, seen, old_i, "");
    } else {
        LLVMValueRef r = LLVMBuildAtomicCmpXchg(B, ip, old_i, BITS(nv), sc, sc, 0);
        seen = LLVMBuildExtractValue(B, r, 0, "");
        ok = LLVMBuildExtractValue(B, r, 1, "");
    }
    LLVMBasicBlockRef from = LLVMGetInsertBlock(B);
    LLVMBuildCondBr(B, ok, done, loop);
    LLVMValueRef inc_v[2] = {init, seen};
    LLVMBasicBlockRef inc_b[2] = {entry, from};
    LLVMAddIncoming(old_i, inc_v, inc_b, 2);
    LLVMPositionBuilderAtEnd(B, done);
#undef BITS
#undef VAL
    return old;
}

static LLVMValueRef reduce(Lower *L, Node *n, LLVMValueRef a, const Type *at);

static LLVMValueRef attr(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = expr(L, n->a);
    const Type *at = ty_concrete(n->a->ty);
    switch (n->op) {
    case ATTR_SHAPE: case ATTR_STRIDES: {
        LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
        for (int i = 0; i < at->ndim; i++) {
            unsigned src = (unsigned)(1 + (n->op == ATTR_STRIDES ? at->ndim : 0) + i);
            t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, a, src, ""), (unsigned)i, "");
        }
        return t;
    }
    case ATTR_SIZE: {
        LLVMValueRef s = i64c(L, 1);
        for (int i = 0; i < at->ndim; i++)
            s = LLVMBuildMul(B, s, LLVMBuildExtractValue(B, a, (unsigned)(1 + i), ""), "");
        return s;
    }
    case ATTR_NDIM: return i64c(L, at->ndim);
    case ATTR_SUM: case ATTR_PROD: case ATTR_MIN: case ATTR_MAX: case ATTR_MEAN:
        return reduce(L, n, a, at);
    case ATTR_T: { /* { data, shape reversed, strides reversed } */
        LLVMValueRef t = LLVMBuildInsertValue(B, LLVMGetUndef(lty(L, n->ty)),
                                              LLVMBuildExtractValue(B, a, 0, ""), 0, "");
        for (int i = 0; i < at->ndim; i++)
            for (int k = 0; k < 2; k++) { /* k 0: shape, 1: strides */
                unsigned from = (unsigned)(1 + k * at->ndim + (at->ndim - 1 - i));
                t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, a, from, ""),
                                         (unsigned)(1 + k * at->ndim + i), "");
            }
        return t;
    }
    case ATTR_LEN: return LLVMBuildExtractValue(B, a, 1, "len");
    case ATTR_REAL:
        if (ty_is_complex(at))
            return re_of(L, a);
        return conv(L, n, a, at, n->ty);
    case ATTR_IMAG:
        if (ty_is_complex(at))
            return im_of(L, a);
        return LLVMConstNull(lty(L, n->ty));
    case ATTR_CONJ:
        if (ty_is_complex(at))
            return make_complex(L, at, re_of(L, a), build_fneg(L, im_of(L, a)));
        return conv(L, n, a, at, n->ty);
    default:
        fail(L, n, "unknown attribute %d", n->op);
    }
}

/* ======================================================================== */
/* Expressions                                                              */
/* ======================================================================== */

static LLVMValueRef constant(Lower *L, Node *n)
{
    const Type *t = ty_concrete(n->ty);
    LLVMTypeRef lt = lty(L, t);
    if (t->kind == TY_BOOL)
        return LLVMConstInt(lt, n->ival != 0, 0);
    if (ty_is_int(t))
        return LLVMConstInt(lt, (unsigned long long)n->ival, ty_is_signed(t));
    if (ty_is_float(t))
        return LLVMConstReal(lt, n->fval);
    LLVMTypeRef pt = lty(L, part_type(t));
    LLVMValueRef parts[2] = {LLVMConstReal(pt, n->fval), LLVMConstReal(pt, n->fimag)};
    return LLVMConstStructInContext(L->ctx, parts, 2, 0);
}

static void stmt(Lower *L, Node *n);
static bool creates_arrays(const Node *n, int depth);

/* The body of a function, or of a call inlined: `return` stores its value
 * into a fresh slot of type `rt` (zeros when a path returns none) and
 * branches to L->ret_bb, which the caller made. Leaves the builder at
 * L->ret_bb and returns the value loaded there (NULL for void). */
static LLVMValueRef lower_body(Lower *L, Node *body, const Type *rt, const char *name)
{
    bool has_value = rt && rt->kind != TY_VOID;
    L->ret_slot = has_value ? entry_alloca(L, lty(L, rt), "retval") : NULL;
    if (has_value)
        LLVMBuildStore(L->b, LLVMConstNull(lty(L, rt)), L->ret_slot);
    stmt(L, body);
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b)))
        LLVMBuildBr(L->b, L->ret_bb);
    LLVMPositionBuilderAtEnd(L->b, L->ret_bb);
    return has_value ? LLVMBuildLoad2(L->b, lty(L, rt), L->ret_slot, name) : NULL;
}

/* The LLVM function of a recursive specialisation (made on first use):
 *   ret f(params..., tid[3], bid[3], bdim[3], gdim[3] (i32), linear_tid (i64),
 *         fault (i32 *), depth (i32))
 * The thread indices travel as arguments because the body reads them like
 * the kernel's. Past KERNEL_MAX_RECURSION nested calls it sets the launch's
 * fault flag and returns zeros instead of running the body (the stack is
 * finite; the launch then raises). */
static struct RealFn *recursive_function(Lower *L, const Node *site, Function *spec)
{
    for (int i = 0; i < L->nreal; i++)
        if (L->real[i].spec == spec)
            return &L->real[i];
    if (!grow_list((void **)&L->real, &L->capreal, L->nreal + 1, sizeof *L->real))
        fail(L, site, "out of memory");
    int np = spec->nparams, nall = np + 15;
    LLVMTypeRef *pt = ir_alloc(spec, sizeof *pt * (size_t)nall);
    LLVMValueRef *slots = ir_alloc(spec, sizeof *slots * (size_t)(spec->nvars + 1));
    LLVMValueRef *params = ir_alloc(spec, sizeof *params * (size_t)(np + 1));
    if (!pt || !slots || !params)
        fail(L, site, "out of memory");
    for (int i = 0; i < np; i++)
        pt[i] = lty(L, spec->param_types[i]);
    for (int i = 0; i < 12; i++)
        pt[np + i] = L->t_i32;
    pt[np + 12] = L->t_i64;
    pt[np + 13] = LLVMPointerType(L->t_i32, 0);
    pt[np + 14] = L->t_i32;
    const Type *rt = spec->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMTypeRef fty = LLVMFunctionType(has_value ? lty(L, rt) : L->t_void, pt, (unsigned)nall, 0);
    char name[300];
    snprintf(name, sizeof name, "%s.rec%d", spec->name, L->nreal);
    LLVMValueRef f = LLVMAddFunction(L->mod, name, fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    name_params(f);
    int idx = L->nreal++; /* L->real may move while the body is lowered */
    L->real[idx] = (struct RealFn){spec, f, fty};

    /* lower the body with this function's state, then restore the caller's */
    Lower saved = *L;
    LLVMBasicBlockRef saved_b = LLVMGetInsertBlock(L->b), saved_ab = LLVMGetInsertBlock(L->ab);
    L->func = f;
    L->rng = NULL; /* looked up again in this function's entry block */
    L->fn = spec;
    L->var_slots = slots;
    L->params = params;
    for (int i = 0; i < np; i++)
        params[i] = LLVMGetParam(f, (unsigned)i);
    for (int i = 0; i < 3; i++) {
        L->tid[i] = LLVMGetParam(f, (unsigned)(np + i));
        L->bid[i] = LLVMGetParam(f, (unsigned)(np + 3 + i));
        L->bdim[i] = LLVMGetParam(f, (unsigned)(np + 6 + i));
        L->gdim[i] = LLVMGetParam(f, (unsigned)(np + 9 + i));
    }
    L->linear_tid = LLVMGetParam(f, (unsigned)(np + 12));
    L->fault = LLVMGetParam(f, (unsigned)(np + 13));
    L->depth = LLVMGetParam(f, (unsigned)(np + 14));
    L->nloops = 0;
    L->call_site = (Node *)site;
    LLVMBasicBlockRef entry = new_bb(L, "entry"), run = new_bb(L, "run"),
                      over = new_bb(L, "too.deep");
    L->ret_bb = new_bb(L, "ret");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, over);
    LLVMValueRef one = LLVMConstInt(L->t_i32, KERNEL_FAULT_RECURSION, 0);
    fault_store(L, one, L->fault, LLVMAtomicOrderingMonotonic);
    if (has_value)
        LLVMBuildRet(L->b, LLVMConstNull(lty(L, rt)));
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->b, run);
    LLVMValueRef result = lower_body(L, spec->body, rt, "");
    if (result)
        LLVMBuildRet(L->b, result);
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMValueRef ok = LLVMBuildICmp(L->ab, LLVMIntSLT, L->depth,
                                    LLVMConstInt(L->t_i32, KERNEL_MAX_RECURSION, 0), "");
    LLVMBuildCondBr(L->ab, ok, run, over);

    struct RealFn *list = L->real;
    int nreal = L->nreal, capreal = L->capreal;
    *L = saved; /* jmp_buf, builders and per-function state of the caller */
    L->real = list, L->nreal = nreal, L->capreal = capreal;
    LLVMPositionBuilderAtEnd(L->b, saved_b);
    LLVMPositionBuilderAtEnd(L->ab, saved_ab);
    return &L->real[idx];
}

static LLVMValueRef call_recursive(Lower *L, Node *n, Function *spec, LLVMValueRef *args)
{
    struct RealFn *r = recursive_function(L, n, spec);
    int np = spec->nparams;
    LLVMValueRef *all = ir_alloc(spec, sizeof *all * (size_t)(np + 15));
    if (!all)
        fail(L, n, "out of memory");
    memcpy(all, args, sizeof *all * (size_t)np);
    for (int i = 0; i < 3; i++) {
        all[np + i] = L->tid[i];
        all[np + 3 + i] = L->bid[i];
        all[np + 6 + i] = L->bdim[i];
        all[np + 9 + i] = L->gdim[i];
    }
    all[np + 12] = L->linear_tid;
    all[np + 13] = L->fault;
    all[np + 14] = LLVMBuildAdd(L->b, L->depth, LLVMConstInt(L->t_i32, 1, 0), "depth");
    const Type *rt = spec->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMValueRef v = LLVMBuildCall2(L->b, r->ty, r->fn, all, (unsigned)(np + 15), "");
    return has_value ? v : NULL;
}

/* A device function call, inlined at the call site: the arguments are
 * evaluated in order and converted to the specialisation's parameter types,
 * the callee's body is lowered with its own variables (allocas in the
 * kernel's entry block) and parameters, and its `return` stores the value
 * and branches to the end of the call (it ends the function, not the
 * thread). Arrays are passed as their value struct, tuples as structs.
 * Inlining needs no calling convention for the thread indices the callee
 * may read; recursion never reaches here (the front end rejects it). */
static LLVMValueRef call(Lower *L, Node *n)
{
    Function *spec = n->spec;
    LLVMValueRef *args = ir_alloc(spec, sizeof *args * (size_t)(spec->nparams + 1));
    LLVMValueRef *slots = ir_alloc(spec, sizeof *slots * (size_t)(spec->nvars + 1));
    if (!args || !slots)
        fail(L, n, "out of memory");
    for (int i = 0; i < n->nargs; i++)
        args[i] = conv(L, n, expr(L, n->args[i]), n->args[i]->ty, spec->param_types[i]);
    if (spec->recursive)
        return call_recursive(L, n, spec, args);
    Function *fn = L->fn;
    LLVMValueRef *saved_slots = L->var_slots, *saved_params = L->params, saved_ret = L->ret_slot;
    LLVMBasicBlockRef saved_bb = L->ret_bb;
    Node *saved_site = L->call_site;
    const Type *rt = spec->return_type;
    L->fn = spec;
    L->var_slots = slots;
    L->params = args;
    L->call_site = n;
    L->ret_bb = new_bb(L, "ret");
    LLVMValueRef v = lower_body(L, spec->body, rt, spec->name);
    L->fn = fn;
    L->var_slots = saved_slots;
    L->params = saved_params;
    L->ret_slot = saved_ret;
    L->ret_bb = saved_bb;
    L->call_site = saved_site;
    return v;
}

/* One dimension of a slice, as PySlice_AdjustIndices computes it: start
 * and stop clamped to the dimension for the step's sign, the length, and
 * the view's stride (stride * step). A zero step gives an empty view
 * (Python raises ValueError). */
static void slice_dim(Lower *L, const Node *it, LLVMValueRef len, LLVMValueRef stride,
                      LLVMValueRef *off, LLVMValueRef *out_len, LLVMValueRef *out_stride)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef zero = i64c(L, 0), one = i64c(L, 1), mone = i64c(L, -1);
    LLVMValueRef v[3] = {NULL, NULL, NULL};
    const Node *parts[3] = {it->a, it->b, it->c};
    for (int j = 0; j < 3; j++)
        if (parts[j])
            v[j] = conv(L, it, expr(L, (Node *)parts[j]), parts[j]->ty,
                        ty_scalar(ty_is_signed(parts[j]->ty) ? TY_I64 : TY_U64));
    LLVMValueRef step = v[2] ? v[2] : one;
    LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, step, zero, "step.neg");
    LLVMValueRef lenm1 = LLVMBuildSub(B, len, one, "");
    LLVMValueRef lo = LLVMBuildSelect(B, neg, mone, zero, ""); /* clamp range [lo, hi] */
    LLVMValueRef hi = LLVMBuildSelect(B, neg, lenm1, len, "");
    LLVMValueRef bound[2];
    for (int j = 0; j < 2; j++) {
        if (!v[j]) { /* omitted: start = 0 | len-1, stop = len | -1 */
            bound[j] = j == 0 ? LLVMBuildSelect(B, neg, lenm1, zero, "")
                              : LLVMBuildSelect(B, neg, mone, len, "");
            continue;
        }
        LLVMValueRef x = v[j];
        LLVMValueRef isneg = LLVMBuildICmp(B, LLVMIntSLT, x, zero, "");
        LLVMValueRef w = LLVMBuildAdd(B, x, len, "");
        LLVMValueRef wl = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, w, lo, ""), lo, w, "");
        LLVMValueRef xh = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, x, hi, ""), hi, x, "");
        bound[j] = LLVMBuildSelect(B, isneg, wl, xh, "");
    }
    /* len = step > 0 ? (stop - start - 1) / step + 1 : (start - stop - 1) / -step + 1,
     * or 0 when the range is empty */
    LLVMValueRef span = LLVMBuildSelect(B, neg, LLVMBuildSub(B, bound[0], bound[1], ""),
                                        LLVMBuildSub(B, bound[1], bound[0], ""), "");
    LLVMValueRef astep = LLVMBuildSelect(B, neg, LLVMBuildNeg(B, step, ""), step, "");
    LLVMValueRef zstep = LLVMBuildICmp(B, LLVMIntEQ, step, zero, "");
    LLVMValueRef safe = LLVMBuildSelect(B, zstep, one, astep, "");
    LLVMValueRef n = LLVMBuildAdd(B, LLVMBuildSDiv(B, LLVMBuildSub(B, span, one, ""), safe, ""),
                                  one, "");
    LLVMValueRef empty = LLVMBuildOr(B, zstep, LLVMBuildICmp(B, LLVMIntSLE, span, zero, ""), "");
    *out_len = LLVMBuildSelect(B, empty, zero, n, "slice.len");
    *out_stride = LLVMBuildMul(B, stride, step, "slice.stride");
    LLVMValueRef start = LLVMBuildSelect(B, empty, zero, bound[0], "");
    LLVMValueRef term = LLVMBuildMul(B, start, stride, "");
    *off = *off ? LLVMBuildAdd(B, *off, term, "") : term;
}

/* a[items]: the view's { data, shape..., strides... } (infer.c slice_type
 * gives its type). Integer items wrap once when negative, as indexing does. */
static LLVMValueRef slice_view(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *at = n->a->ty;
    int nd = at->ndim, rnd = n->ty->ndim, k = 0;
    LLVMValueRef arr = expr(L, n->a);
    LLVMValueRef view = LLVMGetUndef(lty(L, n->ty));
    LLVMValueRef off = NULL, bad = NULL;
    for (int i = 0; i < nd; i++) {
        const Node *it = i < n->nargs ? n->args[i] : NULL;
        LLVMValueRef len = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
        LLVMValueRef stride = LLVMBuildExtractValue(B, arr, (unsigned)(1 + nd + i), "stride");
        LLVMValueRef out_len = len, out_stride = stride;
        if (it && it->kind != ND_SLICE_PART) {
            const Type *t = ty_concrete(it->ty);
            LLVMValueRef idx = conv(L, it, expr(L, (Node *)it), t,
                                    ty_scalar(ty_is_signed(t) ? TY_I64 : TY_U64));
            if (ty_is_signed(t)) {
                LLVMValueRef negi = LLVMBuildICmp(B, LLVMIntSLT, idx, i64c(L, 0), "");
                idx = LLVMBuildSelect(B, negi, LLVMBuildAdd(B, idx, len, ""), idx, "");
            }
            if (L->boundscheck) {
                LLVMValueRef out = LLVMBuildICmp(B, LLVMIntUGE, idx, len, "oob");
                bad = bad ? LLVMBuildOr(B, bad, out, "") : out;
            }
            LLVMValueRef term = LLVMBuildMul(B, idx, stride, "");
            off = off ? LLVMBuildAdd(B, off, term, "") : term;
            continue;
        }
        if (it && (it->a || it->b || it->c))
            slice_dim(L, it, len, stride, &off, &out_len, &out_stride);
        if (k >= rnd)
            fail(L, n, "malformed slice");
        view = LLVMBuildInsertValue(B, view, out_len, (unsigned)(1 + k), "");
        view = LLVMBuildInsertValue(B, view, out_stride, (unsigned)(1 + rnd + k), "");
        k++;
    }
    LLVMValueRef data = LLVMBuildExtractValue(B, arr, 0, "data");
    if (off)
        data = LLVMBuildGEP2(B, L->t_i8, data, &off, 1, "view");
    view = LLVMBuildInsertValue(B, view, data, 0, "");
    if (bad) { /* an integer item out of bounds: an empty view, and the fault */
        bounds_fault(L, n, bad, NULL);
        LLVMValueRef empty = view;
        for (int k2 = 0; k2 < rnd; k2++)
            empty = LLVMBuildInsertValue(B, empty, i64c(L, 0), (unsigned)(1 + k2), "");
        view = LLVMBuildSelect(B, bad, empty, view, "");
    }
    return view;
}

/* cuda.local.array: a C-ordered array in the entry block's frame. On the
 * CPU one thread runs after another in a worker, so one frame slot serves
 * every thread (CUDA leaves local arrays uninitialised, as here). */
/* cuda.const.array_like: the data as a constant global (NVVM: in the
 * constant address space, 4), seen as a read-only C array. */
static LLVMValueRef const_array(Lower *L, Node *n)
{
    const Type *t = n->ty;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef init = LLVMConstStringInContext(L->ctx, n->text, (unsigned)n->ival, 1);
    unsigned space = L->target == LOWER_NVVM ? 4 : 0;
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, LLVMTypeOf(init), "const_array", space);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMSetAlignment(g, 16);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    LLVMValueRef p = LLVMConstInBoundsGEP2(LLVMTypeOf(init), g, zero, 2);
    if (space)
        p = LLVMConstAddrSpaceCast(p, L->t_ptr);
    LLVMValueRef view = LLVMGetUndef(lty(L, t));
    view = LLVMBuildInsertValue(L->b, view, p, 0, "");
    int64_t stride = itemsize;
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(L->b, view, i64c(L, n->args[i]->ival), (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(L->b, view, i64c(L, stride), (unsigned)(1 + nd + i), "");
        stride *= n->args[i]->ival ? n->args[i]->ival : 1;
    }
    return view;
}

static LLVMValueRef arena_alloc(Lower *L, const Node *n, const LLVMValueRef *shape, int nd,
                                int64_t itemsize, bool zero);
static LLVMValueRef fis_array_memory(Lower *L, Node *n, LLVMValueRef *dyn_len, int64_t itemsize);

static LLVMValueRef local_array(Lower *L, Node *n)
{
    const Type *t = n->ty;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8, count = 1;
    for (int i = 0; i < nd; i++)
        count *= n->args[i]->ival;
    LLVMValueRef mem, dyn_len = NULL;
    if (L->target == LOWER_HOST && (n->op == MEM_SHARED || (L->fis && L->fn == L->root_fn))) {
        mem = fis_array_memory(L, n, &dyn_len, itemsize);
    } else if (n->op == MEM_SHARED) {
        /* a block-wide global in the shared address space (3); extent 0:
         * the launch's dynamic shared memory, its length from the size */
        bool dynamic = count == 0;
        /* every dynamic array is the one extern symbol (they alias, as in
         * numba), declared as bytes and seen as each array's element type */
        LLVMTypeRef at = LLVMArrayType(dynamic ? L->t_i8 : mty(L, t->elem), (unsigned)count);
        LLVMValueRef g = dynamic ? LLVMGetNamedGlobal(L->mod, "ember_dynamic_shared") : NULL;
        if (!g)
            g = LLVMAddGlobalInAddressSpace(L->mod, at, dynamic ? "ember_dynamic_shared"
                                                                : "shared", 3);
        if (dynamic) {
            LLVMSetLinkage(g, LLVMExternalLinkage);
            LLVMValueRef bytes = call_named(L, "ember_dynamic_smem_size", L->t_i32, NULL, NULL, 0);
            dyn_len = LLVMBuildUDiv(L->b, LLVMBuildZExt(L->b, bytes, L->t_i64, ""),
                                    i64c(L, itemsize), "dynamic.len");
        } else {
            LLVMSetInitializer(g, LLVMGetUndef(at));
            LLVMSetLinkage(g, LLVMInternalLinkage);
        }
        LLVMSetAlignment(g, 16);
        LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
        mem = LLVMConstAddrSpaceCast(LLVMConstInBoundsGEP2(at, g, zero, 2),
                                     LLVMPointerType(LLVMGetElementType(at), 0));
        mem = LLVMConstBitCast(mem, LLVMPointerType(mty(L, t->elem), 0));
    } else if (L->function_entry && LLVMGetParamParent(L->call_dims) == L->func) {
        /* an ember.jit function (not a recursive callee): in the call's
         * arena, so that returning it returns live memory */
        LLVMValueRef shape[EMBER_MAX_NDIM];
        for (int i = 0; i < nd; i++)
            shape[i] = i64c(L, n->args[i]->ival);
        mem = arena_alloc(L, n, shape, nd, itemsize, false);
    } else {
        mem = entry_alloca(L, LLVMArrayType(mty(L, t->elem), (unsigned)count), "local");
        LLVMSetAlignment(mem, 16);
    }
    LLVMValueRef view = LLVMGetUndef(lty(L, t));
    view = LLVMBuildInsertValue(L->b, view, LLVMBuildBitCast(L->b, mem, L->t_ptr, ""), 0, "");
    int64_t stride = itemsize;
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(L->b, view, dyn_len ? dyn_len : i64c(L, n->args[i]->ival),
                                    (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(L->b, view, i64c(L, stride), (unsigned)(1 + nd + i), "");
        stride *= n->args[i]->ival;
    }
    return view;
}

/* !nvvmir.version: the IR version, and with line tables the debug
 * metadata version too (libNVVM refuses debug info without it). */
static void add_nvvmir_version(Lower *L)
{
    LLVMValueRef ver[4] = {LLVMConstInt(L->t_i32, (unsigned)L->nvvmir[0], 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->nvvmir[1], 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmdbg_major, 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmdbg_minor, 0)};
    LLVMAddNamedMetadataOperand(L->mod, "nvvmir.version",
                                LLVMMDNodeInContext(L->ctx, ver, L->di ? 4 : 2));
}

/* Line tables (NVVM with lineinfo): a compile unit for the kernel's file
 * and a subprogram for the kernel itself. */
static void begin_line_tables(Lower *L, const char *symbol)
{
    if (!L->opt || !L->opt->line_tables)
        return;
    const char *path = L->fn->file ? L->fn->file : "?";
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    L->di = LLVMCreateDIBuilder(L->mod);
    LLVMMetadataRef file = LLVMDIBuilderCreateFile(L->di, base, strlen(base), path, dirlen);
    LLVMDIBuilderCreateCompileUnit(L->di, LLVMDWARFSourceLanguageC, file, "ember", 5, 1, "", 0,
                                   0, "", 0, LLVMDWARFEmissionLineTablesOnly, 0, 0, 0, "", 0,
                                   "", 0);
    LLVMMetadataRef type = LLVMDIBuilderCreateSubroutineType(L->di, file, NULL, 0,
                                                             LLVMDIFlagZero);
    unsigned line = L->fn->body ? (unsigned)L->fn->body->loc.line : 0;
    L->di_sp = LLVMDIBuilderCreateFunction(L->di, file, L->fn->name, strlen(L->fn->name),
                                           symbol, strlen(symbol), file, line, type, 0, 1, line,
                                           LLVMDIFlagZero, 1);
    LLVMSetSubprogram(L->func, L->di_sp);
    L->root_func = L->func;
    LLVMValueRef three = LLVMConstInt(L->t_i32, 3, 0);
    LLVMAddModuleFlag(L->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18,
                      LLVMValueAsMetadata(three));
}

/* Line tables: instructions of the kernel's own code carry their source
 * line; those of inlined or recursive device functions carry none (an
 * inlined call keeps its call's line). */
static void set_line(Lower *L, const Node *n)
{
    if (!L->di)
        return;
    LLVMBasicBlockRef bb = LLVMGetInsertBlock(L->b);
    if (L->fn != L->root_fn || !bb || LLVMGetBasicBlockParent(bb) != L->root_func) {
        LLVMSetCurrentDebugLocation2(L->b, NULL);
        return;
    }
    LLVMSetCurrentDebugLocation2(L->b, LLVMDIBuilderCreateDebugLocation(
        L->ctx, (unsigned)n->loc.line, (unsigned)n->loc.col + 1, L->di_sp, NULL));
}

static LLVMValueRef new_array(Lower *L, Node *n);
static LLVMValueRef array_expr(Lower *L, Node *n);
static void array_assign(Lower *L, Node *n);

static LLVMValueRef expr(Lower *L, Node *n)
{
    set_line(L, n);
    switch (n->kind) {
    case ND_CONST: return constant(L, n);
    case ND_PARAM: return L->params[n->index];
    case ND_LOAD: return var_load(L, n->var);
    case ND_UNARY: return unary(L, n);
    case ND_BINARY: return binary(L, n);
    case ND_COMPARE: return compare(L, n);
    case ND_AND: case ND_OR: return and_or(L, n);
    case ND_IFEXP: return ifexp(L, n);
    case ND_CAST: return conv(L, n, expr(L, n->a), n->a->ty, n->target);
    case ND_CALL_MATH: return math_call(L, n);
    case ND_INTRINSIC: return intrinsic(L, n);
    case ND_INDEX: {
        const Type *elem;
        LLVMValueRef p = element_ptr(L, n, &elem);
        LLVMValueRef v = LLVMBuildLoad2(L->b, mty(L, elem), p, "");
        LLVMSetAlignment(v, elem_align(elem));
        if (elem->kind == TY_BOOL)
            v = LLVMBuildICmp(L->b, LLVMIntNE, v, ci(L->t_i8, 0), "");
        return v;
    }
    case ND_ATTR: return attr(L, n);
    case ND_TUPLE: {
        LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
        for (int i = 0; i < n->nargs; i++) {
            LLVMValueRef f = conv(L, n, expr(L, n->args[i]), n->args[i]->ty, n->ty->fields[i]);
            t = LLVMBuildInsertValue(L->b, t, f, (unsigned)i, "");
        }
        return t;
    }
    case ND_TUPLE_GET:
        return LLVMBuildExtractValue(L->b, expr(L, n->a), (unsigned)n->index, "");
    case ND_CALL: return call(L, n);
    case ND_ATOMIC: return atomic_op(L, n);
    case ND_SLICE: return slice_view(L, n);
    case ND_LOCAL_ARRAY: return local_array(L, n);
    case ND_NEW_ARRAY: return new_array(L, n);
    case ND_ARRAY_EXPR: return array_expr(L, n);
    case ND_ELEM:
        if (!L->elems)
            fail(L, n, "an array element outside an array loop");
        return L->elems[n->index];
    case ND_CONST_ARRAY: return const_array(L, n);
    default:
        fail(L, n, "a statement used as an expression");
    }
}

/* ======================================================================== */
/* Statements                                                               */
/* ======================================================================== */

static void stmt(Lower *L, Node *n);
static void loop_collect(Lower *L, const Node *body);

static void push_loop(Lower *L, const Node *n, LLVMBasicBlockRef brk, LLVMBasicBlockRef cont)
{
    if (L->nloops >= MAX_LOOP_DEPTH)
        fail(L, n, "loops nested more than %d deep", MAX_LOOP_DEPTH);
    L->loops[L->nloops++] = (LoopTargets){brk, cont};
}

/* for var in range(start, stop, step), Python semantics: the values start,
 * start+step, ... while < stop (step > 0) or > stop (step < 0); the body's
 * assignments to `var` do not change the iteration; after the loop `var`
 * keeps its last value. The step's sign is known at compile time when it is
 * a constant, else tested at run time. A zero step (ValueError in Python)
 * runs no iteration. The counter lives in a hidden slot of the promoted type
 * of the three bounds; stepping past the type's range ends the loop (the
 * overflow check is left out for steps of +-1, which cannot overflow). */
static void for_range(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *ct = ty_promote(ty_promote(n->args[0]->ty, n->args[1]->ty), n->args[2]->ty);
    ct = ty_concrete(ct);
    if (ct && ct->kind == TY_BOOL)
        ct = ty_scalar(TY_I64);
    if (!ct || !ty_is_int(ct)) /* int64 with uint64 promotes to float64 (NumPy) */
        fail(L, n, "range() bounds of mixed signed and unsigned 64-bit integers: "
                   "convert them to one integer type");
    bool sg = ty_is_signed(ct);
    LLVMTypeRef it = lty(L, ct);
    LLVMValueRef start = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, ct);
    LLVMValueRef stop = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, ct);
    LLVMValueRef step = conv(L, n, expr(L, n->args[2]), n->args[2]->ty, ct);
    int sign = 0; /* 0: run time */
    bool unit = false;
    const Node *sn = n->args[2];
    if (sn->kind == ND_CONST) {
        if (sn->ival == 0)
            fail(L, sn, "range() arg 3 must not be zero");
        if (!sg && sn->ival < 0 && ty_is_signed(sn->ty))
            fail(L, sn, "range() with unsigned bounds and a negative step");
        sign = sn->ival > 0 || !sg ? 1 : -1;
        unit = sn->ival == 1 || sn->ival == -1;
    } else if (!sg) {
        sign = 1; /* unsigned: a nonzero step is positive; zero is handled below */
    }
    LLVMValueRef slot = entry_alloca(L, it, "range.i");
    LLVMBuildStore(B, start, slot);
    LLVMBasicBlockRef hdr = new_bb(L, "for.hdr"), body = new_bb(L, "for.body");
    LLVMBasicBlockRef latch = new_bb(L, "for.latch"), step_bb = new_bb(L, "for.step");
    LLVMBasicBlockRef exit = new_bb(L, "for.end");
    LLVMBuildBr(B, hdr);

    LLVMPositionBuilderAtEnd(B, hdr);
    LLVMValueRef i = LLVMBuildLoad2(B, it, slot, "i");
    LLVMValueRef up = LLVMBuildICmp(B, sg ? LLVMIntSLT : LLVMIntULT, i, stop, "");
    LLVMValueRef cond;
    if (sign > 0 && (sn->kind == ND_CONST || sg)) {
        cond = up;
    } else if (sign > 0) { /* unsigned, run-time step: zero runs nothing */
        cond = LLVMBuildAnd(B, up, LLVMBuildICmp(B, LLVMIntNE, step, ci(it, 0), ""), "");
    } else if (sign < 0) {
        cond = LLVMBuildICmp(B, LLVMIntSGT, i, stop, "");
    } else {
        LLVMValueRef down = LLVMBuildICmp(B, LLVMIntSGT, i, stop, "");
        LLVMValueRef pos = LLVMBuildICmp(B, LLVMIntSGT, step, ci(it, 0), "");
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, step, ci(it, 0), "");
        cond = LLVMBuildSelect(B, pos, up, LLVMBuildAnd(B, neg, down, ""), "");
    }
    LLVMBuildCondBr(B, cond, body, exit);

    LLVMPositionBuilderAtEnd(B, body);
    var_store(L, n->var, conv(L, n, i, ct, L->fn->var_types[n->var]));
    push_loop(L, n, exit, latch);
    stmt(L, n->b);
    L->nloops--;
    LLVMBuildBr(B, latch);

    LLVMPositionBuilderAtEnd(B, latch);
    loop_collect(L, n->b);
    LLVMValueRef cur = LLVMBuildLoad2(B, it, slot, "");
    if (unit) {
        LLVMBuildStore(B, LLVMBuildAdd(B, cur, step, ""), slot);
        LLVMBuildBr(B, hdr);
        LLVMDeleteBasicBlock(step_bb);
    } else {
        LLVMValueRef r = intr2(L, sg ? "llvm.sadd.with.overflow" : "llvm.uadd.with.overflow", cur, step);
        LLVMValueRef next = LLVMBuildExtractValue(B, r, 0, "");
        LLVMValueRef ovf = LLVMBuildExtractValue(B, r, 1, "");
        LLVMBuildCondBr(B, ovf, exit, step_bb);
        LLVMPositionBuilderAtEnd(B, step_bb);
        LLVMBuildStore(B, next, slot);
        LLVMBuildBr(B, hdr);
    }
    LLVMPositionBuilderAtEnd(B, exit);
}

/* ---- prange loops: ember.jit(parallel=True) ---------------------------
 *
 * An outermost `for i in prange(...)` of a parallel function (ND_FOR_RANGE
 * with ival 1) becomes a call of devices/cpu/prange.c host_prange_run with
 * two functions outlined here:
 *   void body(i8 **ctx, i64 first, i64 last, i8 *partial)
 *     runs iterations first..last-1 (i = start + k * step);
 *   void combine(i8 **ctx, i8 *partial)
 *     folds one chunk's reduction partials into the function's variables.
 * ctx holds pointers: the call's HostDims, start, step, every parameter,
 * then one slot per captured variable. numba's rules: a variable read in
 * the body and not assigned there is copied in at the start of each chunk
 * (read-only); one assigned in the body and not read outside the loop is
 * private; one read outside (prange_reads_outside) must be a reduction (s += e, s -= e, s *= e,
 * s = s + e, s = min(s, e), s = max(s, e)): each chunk starts it at the
 * operator's identity, and the partials are combined in chunk order. Any
 * other write to an outer variable is a TypingError, not a race. */

enum { PV_READ = 1, PV_WRITE = 2 };
enum { RED_NONE = -1, RED_ADD, RED_MUL, RED_MIN, RED_MAX };
#define PRANGE_PARTIAL_SLOT 16 /* bytes per reduction in a chunk's partial record */
#define PRANGE_CTX_FIXED 3     /* dims, start, step */

static _Noreturn void fail_unsupported(Lower *L, const Node *n, const char *msg)
{
    L->st = ir_unsupported(L->fn, n->loc, "%s", msg);
    longjmp(L->fail_jmp, 1);
}

/* Marks in mark[var] how the nodes under n (leaving out `skip`) use each
 * variable of the function being lowered (callees have their own). */
static void prange_mark(const Node *n, const Node *skip, unsigned char *mark)
{
    if (!n || n == skip)
        return;
    if (n->kind == ND_LOAD)
        mark[n->var] |= PV_READ;
    else if (n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE)
        mark[n->var] |= PV_WRITE;
    prange_mark(n->a, skip, mark);
    prange_mark(n->b, skip, mark);
    prange_mark(n->c, skip, mark);
    for (int i = 0; i < n->nargs; i++)
        prange_mark(n->args[i], skip, mark);
}

/* Reads, outside the loop `skip`, of each variable (mark[var] |= PV_READ),
 * leaving out reads inside other for loops over that same variable: those
 * see the other loop's values, not the prange's (a reused inner loop
 * variable `j` stays private). */
typedef struct LoopVars {
    int var;
    const struct LoopVars *up;
} LoopVars;

static void prange_reads_outside(const Node *n, const Node *skip, unsigned char *mark,
                                 const LoopVars *loops)
{
    if (!n || n == skip)
        return;
    if (n->kind == ND_LOAD) {
        const LoopVars *l = loops;
        while (l && l->var != n->var)
            l = l->up;
        if (!l)
            mark[n->var] |= PV_READ;
    }
    for (int i = 0; i < n->nargs; i++)
        prange_reads_outside(n->args[i], skip, mark, loops);
    prange_reads_outside(n->a, skip, mark, loops);
    prange_reads_outside(n->c, skip, mark, loops);
    LoopVars inner = {n->var, loops};
    prange_reads_outside(n->b, skip, mark, n->kind == ND_FOR_RANGE ? &inner : loops);
}

/* `return` and a `break` of the prange loop itself cannot leave a chunk. */
static void prange_check(Lower *L, const Node *n, int loops)
{
    if (!n)
        return;
    if (n->kind == ND_RETURN)
        fail_unsupported(L, n, "'return' inside a prange loop is not supported: set a "
                               "variable (or an array element) and return after the loop");
    if (n->kind == ND_BREAK && loops == 0)
        fail_unsupported(L, n, "'break' out of a prange loop is not supported (its iterations "
                               "run in parallel): use range() for a loop that stops early");
    int inner = loops + (n->kind == ND_WHILE || n->kind == ND_FOR_RANGE);
    prange_check(L, n->a, loops);
    prange_check(L, n->b, n->kind == ND_WHILE || n->kind == ND_FOR_RANGE ? inner : loops);
    prange_check(L, n->c, loops);
    for (int i = 0; i < n->nargs; i++)
        prange_check(L, n->args[i], loops);
}

static bool is_load_of(const Node *n, int var) { return n && n->kind == ND_LOAD && n->var == var; }

/* The reduction `a` (an ND_ASSIGN of var) performs, or RED_NONE. */
static int reduction_form(const Node *a, int var)
{
    const Node *v = a->a;
    if (v->kind == ND_BINARY) {
        if ((v->op == OP_ADD || v->op == OP_SUB) && is_load_of(v->a, var))
            return RED_ADD; /* s - e: the partial accumulates -e, combined by + */
        if (v->op == OP_ADD && is_load_of(v->b, var))
            return RED_ADD;
        if (v->op == OP_MUL && (is_load_of(v->a, var) || is_load_of(v->b, var)))
            return RED_MUL;
    } else if (v->kind == ND_CALL_MATH && v->nargs == 2 &&
               (v->op == MATH_MIN || v->op == MATH_MAX) &&
               (is_load_of(v->args[0], var) || is_load_of(v->args[1], var))) {
        return v->op == MATH_MIN ? RED_MIN : RED_MAX;
    }
    return RED_NONE;
}

typedef struct RedScan {
    int var, op;       /* op: the common RED_*, RED_NONE before the first, -2 on a mix */
    int assigns, loads;
    const Node *bad;   /* the first assignment that is not a reduction */
} RedScan;

static void reduction_scan(const Node *n, RedScan *s)
{
    if (!n)
        return;
    if (n->kind == ND_LOAD && n->var == s->var)
        s->loads++;
    if ((n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE) && n->var == s->var) {
        int op = n->kind == ND_ASSIGN ? reduction_form(n, s->var) : RED_NONE;
        s->assigns++;
        if (op == RED_NONE || (s->op != RED_NONE && s->op != op)) {
            if (!s->bad)
                s->bad = n;
        } else {
            s->op = op;
        }
    }
    reduction_scan(n->a, s);
    reduction_scan(n->b, s);
    reduction_scan(n->c, s);
    for (int i = 0; i < n->nargs; i++)
        reduction_scan(n->args[i], s);
}

/* The reduction operator of outer variable `var` assigned in the loop
 * body, or a TypingError at the assignment that makes it none. */
static int prange_reduction(Lower *L, const Node *loop, int var)
{
    RedScan s = {var, RED_NONE, 0, 0, NULL};
    reduction_scan(loop->b, &s);
    const char *name = L->fn->var_names[var];
    if (s.bad || s.loads != s.assigns) {
        const Node *at = s.bad ? s.bad : loop;
        fail(L, at, "variable '%s' is assigned in a prange loop but is not a reduction: a "
                    "variable read outside the loop may change in the loop only as "
                    "'%s += x', '%s -= x', '%s *= x' or '%s = min(%s, x)' / max (and not be "
                    "read otherwise); for a per-iteration value use a new variable, for "
                    "per-iteration results an array element",
             name, name, name, name, name, name);
    }
    const Type *t = ty_concrete(L->fn->var_types[var]);
    if (!t || !(ty_is_int(t) || ty_is_float(t))) {
        char buf[256];
        fail(L, s.bad ? s.bad : loop, "prange reduction of '%s': only integer and float "
                                     "variables can be reduced, not %s", name, tstr(t, buf));
    }
    return s.op;
}

/* The identity of reduction `op` on type t (an integer or float type). */
static LLVMValueRef reduction_identity(Lower *L, int op, const Type *t)
{
    LLVMTypeRef lt = lty(L, t);
    bool fl = ty_is_float(t), sg = ty_is_signed(t);
    unsigned bits = fl ? 0 : LLVMGetIntTypeWidth(lt);
    switch (op) {
    case RED_ADD: return LLVMConstNull(lt);
    case RED_MUL: return fl ? LLVMConstReal(lt, 1.0) : LLVMConstInt(lt, 1, 0);
    case RED_MIN:
        if (fl)
            return LLVMConstReal(lt, HUGE_VAL);
        return sg ? LLVMConstInt(lt, (~0ULL) >> (65 - bits), 0) : LLVMConstAllOnes(lt);
    default: /* RED_MAX */
        if (fl)
            return LLVMConstReal(lt, -HUGE_VAL);
        return sg ? LLVMConstInt(lt, 1ULL << (bits - 1), 0) : LLVMConstNull(lt);
    }
}

/* x op y for reduction `op` on type t (combining two partials). */
static LLVMValueRef reduction_apply(LLVMBuilderRef B, int op, const Type *t, LLVMValueRef x,
                                    LLVMValueRef y)
{
    bool fl = ty_is_float(t), sg = ty_is_signed(t);
    LLVMValueRef less;
    switch (op) {
    case RED_ADD: return fl ? LLVMBuildFAdd(B, x, y, "") : LLVMBuildAdd(B, x, y, "");
    case RED_MUL: return fl ? LLVMBuildFMul(B, x, y, "") : LLVMBuildMul(B, x, y, "");
    default:
        /* Python's min(x, y) / max(x, y): y only when strictly smaller / larger */
        if (fl)
            less = LLVMBuildFCmp(B, op == RED_MIN ? LLVMRealOLT : LLVMRealOGT, y, x, "");
        else
            less = LLVMBuildICmp(B, op == RED_MIN ? (sg ? LLVMIntSLT : LLVMIntULT)
                                                  : (sg ? LLVMIntSGT : LLVMIntUGT), y, x, "");
        return LLVMBuildSelect(B, less, y, x, "");
    }
}

/* A pointer to slot `k` of ctx (i8 **) as type `t *`, loaded from ctx. */
static LLVMValueRef ctx_pointer(Lower *L, LLVMBuilderRef B, LLVMValueRef ctx, int k, LLVMTypeRef t)
{
    LLVMValueRef idx = LLVMConstInt(L->t_i64, (unsigned long long)k, 0);
    LLVMValueRef p = LLVMBuildLoad2(B, L->t_ptr, LLVMBuildGEP2(B, L->t_ptr, ctx, &idx, 1, ""), "");
    return LLVMBuildBitCast(B, p, LLVMPointerType(t, 0), "");
}

/* The number of iterations of range(start, stop, step) as an i64 (0 for a
 * zero step, as for_range runs none), without overflow: (|stop - start| - 1)
 * / |step| + 1 when start moves towards stop. */
static LLVMValueRef range_count(Lower *L, bool sg, LLVMValueRef start, LLVMValueRef stop,
                                LLVMValueRef step)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef zero = i64c(L, 0), one = i64c(L, 1);
    LLVMValueRef pos = LLVMBuildICmp(B, sg ? LLVMIntSGT : LLVMIntNE, step, zero, "");
    LLVMValueRef neg = sg ? LLVMBuildICmp(B, LLVMIntSLT, step, zero, "") : LLVMConstInt(L->t_i1, 0, 0);
    LLVMValueRef up = LLVMBuildICmp(B, sg ? LLVMIntSLT : LLVMIntULT, start, stop, "");
    LLVMValueRef down = LLVMBuildICmp(B, LLVMIntSGT, start, stop, "");
    LLVMValueRef ok = LLVMBuildSelect(B, pos, up, LLVMBuildAnd(B, neg, down, ""), "");
    LLVMValueRef span = LLVMBuildSelect(B, pos, LLVMBuildSub(B, stop, start, ""),
                                        LLVMBuildSub(B, start, stop, ""), "");
    LLVMValueRef mag = LLVMBuildSelect(B, pos, step,
                                       LLVMBuildSelect(B, neg, LLVMBuildSub(B, zero, step, ""),
                                                       one, ""), "");
    LLVMValueRef n = LLVMBuildAdd(B, LLVMBuildUDiv(B, LLVMBuildSub(B, span, one, ""), mag, ""),
                                  one, "");
    return LLVMBuildSelect(B, ok, n, zero, "prange.n");
}

static void prange_loop(Lower *L, Node *n)
{
    Function *fn = L->fn;
    int nv = fn->nvars, np = fn->nparams;
    unsigned char *inside = ir_alloc(fn, (size_t)nv + 1), *outside = ir_alloc(fn, (size_t)nv + 1);
    int *red = ir_alloc(fn, sizeof *red * ((size_t)nv + 1));
    int *ctx_index = ir_alloc(fn, sizeof *ctx_index * ((size_t)nv + 1));
    if (!inside || !outside || !red || !ctx_index)
        fail(L, n, "out of memory");
    memset(inside, 0, (size_t)nv + 1);
    memset(outside, 0, (size_t)nv + 1);
    prange_mark(n->b, NULL, inside);
    prange_reads_outside(fn->body, n, outside, NULL);
    prange_check(L, n->b, 0);
    if (creates_arrays(n->b, 0))
        fail_unsupported(L, n, "creating arrays inside a prange loop is not supported yet "
                               "(np.zeros, np.empty ..., whole-array arithmetic, or a slice "
                               "assignment from an array, which may need a temporary copy): "
                               "create them before the loop (one row or slot per iteration) "
                               "and write into them element by element");

    /* the bounds, as for_range, and the trip count */
    LLVMBuilderRef B = L->b;
    const Type *ct = ty_concrete(ty_promote(ty_promote(n->args[0]->ty, n->args[1]->ty),
                                            n->args[2]->ty));
    if (ct && ct->kind == TY_BOOL)
        ct = ty_scalar(TY_I64);
    if (!ct || !ty_is_int(ct))
        fail(L, n, "prange() bounds of mixed signed and unsigned 64-bit integers: "
                   "convert them to one integer type");
    const Node *sn = n->args[2];
    if (sn->kind == ND_CONST && sn->ival == 0)
        fail(L, sn, "prange() arg 3 must not be zero");
    bool sg = ty_is_signed(ct);
    LLVMTypeRef it = lty(L, ct);
    LLVMValueRef start = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, ct);
    LLVMValueRef stop = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, ct);
    LLVMValueRef step = conv(L, n, expr(L, n->args[2]), n->args[2]->ty, ct);
    LLVMValueRef count;
    if (sg)
        count = range_count(L, true, LLVMBuildSExt(B, start, L->t_i64, ""),
                            LLVMBuildSExt(B, stop, L->t_i64, ""), LLVMBuildSExt(B, step, L->t_i64, ""));
    else
        count = range_count(L, false, LLVMBuildZExt(B, start, L->t_i64, ""),
                            LLVMBuildZExt(B, stop, L->t_i64, ""), LLVMBuildZExt(B, step, L->t_i64, ""));

    /* the context: fixed slots, parameters, captured variables */
    int nctx = PRANGE_CTX_FIXED + np, nred = 0;
    for (int v = 0; v < nv; v++) {
        red[v] = RED_NONE;
        ctx_index[v] = -1;
        if (!inside[v] || v == n->var)
            continue;
        if ((inside[v] & PV_WRITE) && outside[v]) {
            red[v] = prange_reduction(L, n, v);
            nred++;
        }
        if (!(inside[v] & PV_WRITE) || red[v] != RED_NONE)
            ctx_index[v] = nctx++;
    }
    if (nred * PRANGE_PARTIAL_SLOT > HOST_PRANGE_MAX_PARTIAL)
        fail_unsupported(L, n, "too many reduction variables in one prange loop (at most 64)");
    LLVMValueRef ctx = entry_alloca(L, LLVMArrayType(L->t_ptr, (unsigned)nctx), "prange.ctx");
    ctx = LLVMBuildBitCast(B, ctx, LLVMPointerType(L->t_ptr, 0), "");
    LLVMValueRef *outer_params = L->params;
    LLVMValueRef put[PRANGE_CTX_FIXED + 1];
    put[0] = L->call_dims;
    LLVMValueRef sslot = entry_alloca(L, it, "prange.start"), tslot = entry_alloca(L, it, "prange.step");
    LLVMBuildStore(B, start, sslot);
    LLVMBuildStore(B, step, tslot);
    put[1] = sslot;
    put[2] = tslot;
    for (int k = 0; k < nctx; k++) {
        LLVMValueRef p = NULL;
        if (k < PRANGE_CTX_FIXED) {
            p = put[k];
        } else if (k < PRANGE_CTX_FIXED + np) {
            LLVMValueRef v = outer_params[k - PRANGE_CTX_FIXED];
            p = entry_alloca(L, LLVMTypeOf(v), "prange.param");
            LLVMBuildStore(B, v, p);
        } else {
            for (int v = 0; v < nv; v++)
                if (ctx_index[v] == k)
                    p = var_slot(L, v);
        }
        LLVMValueRef idx = i64c(L, k);
        LLVMBuildStore(B, LLVMBuildBitCast(B, p, L->t_ptr, ""),
                       LLVMBuildGEP2(B, L->t_ptr, ctx, &idx, 1, ""));
    }

    /* the body function, lowered with its own state (recursive_function) */
    LLVMTypeRef bp[4] = {LLVMPointerType(L->t_ptr, 0), L->t_i64, L->t_i64, L->t_ptr};
    LLVMTypeRef body_ty = LLVMFunctionType(L->t_void, bp, 4, 0);
    LLVMValueRef body_fn = LLVMAddFunction(L->mod, "prange.body", body_ty);
    LLVMSetLinkage(body_fn, LLVMInternalLinkage);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(body_fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef *slots = ir_alloc(fn, sizeof *slots * ((size_t)nv + 1));
    LLVMValueRef *params = ir_alloc(fn, sizeof *params * ((size_t)np + 1));
    if (!slots || !params)
        fail(L, n, "out of memory");
    memset(slots, 0, sizeof *slots * ((size_t)nv + 1));
    Lower saved = *L;
    LLVMBasicBlockRef saved_b = LLVMGetInsertBlock(L->b), saved_ab = LLVMGetInsertBlock(L->ab);
    L->func = body_fn;
    L->rng = NULL; /* this worker's generator, looked up in the body's entry */
    L->var_slots = slots;
    L->params = params;
    L->nloops = 0;
    L->ret_slot = NULL;
    LLVMBasicBlockRef entry = new_bb(L, "entry"), code = new_bb(L, "code");
    LLVMBasicBlockRef hdr = new_bb(L, "prange.hdr"), body = new_bb(L, "prange.body");
    LLVMBasicBlockRef latch = new_bb(L, "prange.latch"), exit = new_bb(L, "prange.end");
    L->ret_bb = exit;
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(B, code);
    LLVMValueRef bctx = LLVMGetParam(body_fn, 0);
    L->call_dims = ctx_pointer(L, B, bctx, 0, L->t_i64);
    LLVMValueRef six = i64c(L, 6); /* HostDims.fault follows the six int64s */
    L->fault = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i64, L->call_dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    LLVMValueRef bstart = LLVMBuildLoad2(B, it, ctx_pointer(L, B, bctx, 1, it), "start");
    LLVMValueRef bstep = LLVMBuildLoad2(B, it, ctx_pointer(L, B, bctx, 2, it), "step");
    for (int i = 0; i < np; i++) {
        LLVMTypeRef pt = LLVMTypeOf(outer_params[i]);
        params[i] = LLVMBuildLoad2(B, pt, ctx_pointer(L, B, bctx, PRANGE_CTX_FIXED + i, pt), "");
    }
    for (int v = 0; v < nv; v++) {
        if (ctx_index[v] < 0)
            continue;
        const Type *t = fn->var_types[v];
        LLVMValueRef init = red[v] != RED_NONE ? reduction_identity(L, red[v], ty_concrete(t))
            : LLVMBuildLoad2(B, mty(L, t), ctx_pointer(L, B, bctx, ctx_index[v], mty(L, t)), "");
        LLVMBuildStore(B, init, var_slot(L, v));
    }
    LLVMValueRef kslot = entry_alloca(L, L->t_i64, "prange.k");
    LLVMBuildStore(B, LLVMGetParam(body_fn, 1), kslot);
    LLVMBuildBr(B, hdr);
    LLVMPositionBuilderAtEnd(B, hdr);
    LLVMValueRef k = LLVMBuildLoad2(B, L->t_i64, kslot, "k");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, k, LLVMGetParam(body_fn, 2), ""), body, exit);
    LLVMPositionBuilderAtEnd(B, body);
    LLVMValueRef kk = LLVMGetIntTypeWidth(it) < 64 ? LLVMBuildTrunc(B, k, it, "") : k;
    LLVMValueRef i = LLVMBuildAdd(B, bstart, LLVMBuildMul(B, kk, bstep, ""), "i");
    var_store(L, n->var, conv(L, n, i, ct, fn->var_types[n->var]));
    push_loop(L, n, exit, latch);
    stmt(L, n->b);
    L->nloops--;
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(B)))
        LLVMBuildBr(B, latch);
    LLVMPositionBuilderAtEnd(B, latch);
    LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i64, kslot, ""), i64c(L, 1), ""),
                   kslot);
    LLVMBuildBr(B, hdr);
    LLVMPositionBuilderAtEnd(B, exit);
    LLVMValueRef partial = LLVMGetParam(body_fn, 3);
    int at = 0;
    for (int v = 0; v < nv; v++) {
        if (red[v] == RED_NONE)
            continue;
        LLVMTypeRef t = mty(L, fn->var_types[v]);
        LLVMValueRef off = i64c(L, PRANGE_PARTIAL_SLOT * at++);
        LLVMValueRef p = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, partial, &off, 1, ""),
                                          LLVMPointerType(t, 0), "");
        LLVMBuildStore(B, LLVMBuildLoad2(B, t, var_slot(L, v), ""), p);
    }
    LLVMBuildRetVoid(B);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, code);
    /* back to the caller's state, keeping what the body added to the lists */
    Lower inner = *L;
    *L = saved;
    L->real = inner.real, L->nreal = inner.nreal, L->capreal = inner.capreal;
    L->checked = inner.checked, L->nchecked = inner.nchecked, L->capchecked = inner.capchecked;
    L->sites = inner.sites, L->nsites = inner.nsites, L->capsites = inner.capsites;
    LLVMPositionBuilderAtEnd(L->b, saved_b);
    LLVMPositionBuilderAtEnd(L->ab, saved_ab);

    /* the combine function: var = var op partial, for each reduction */
    LLVMTypeRef cp[2] = {LLVMPointerType(L->t_ptr, 0), L->t_ptr};
    LLVMValueRef comb_fn = LLVMAddFunction(L->mod, "prange.combine",
                                           LLVMFunctionType(L->t_void, cp, 2, 0));
    LLVMSetLinkage(comb_fn, LLVMInternalLinkage);
    LLVMBuilderRef CB = LLVMCreateBuilderInContext(L->ctx);
    LLVMPositionBuilderAtEnd(CB, LLVMAppendBasicBlockInContext(L->ctx, comb_fn, "entry"));
    at = 0;
    for (int v = 0; v < nv; v++) {
        if (red[v] == RED_NONE)
            continue;
        const Type *t = ty_concrete(fn->var_types[v]);
        LLVMTypeRef lt = mty(L, t);
        LLVMValueRef dst = ctx_pointer(L, CB, LLVMGetParam(comb_fn, 0), ctx_index[v], lt);
        LLVMValueRef off = i64c(L, PRANGE_PARTIAL_SLOT * at++);
        LLVMValueRef src = LLVMBuildBitCast(CB, LLVMBuildGEP2(CB, L->t_i8, LLVMGetParam(comb_fn, 1),
                                                              &off, 1, ""),
                                            LLVMPointerType(lt, 0), "");
        LLVMValueRef r = reduction_apply(CB, red[v], t, LLVMBuildLoad2(CB, lt, dst, ""),
                                         LLVMBuildLoad2(CB, lt, src, ""));
        LLVMBuildStore(CB, r, dst);
    }
    LLVMBuildRetVoid(CB);
    LLVMDisposeBuilder(CB);

    /* host_prange_run(body, ctx, count, partial bytes, combine) */
    LLVMTypeRef rp[5] = {L->t_ptr, L->t_ptr, L->t_i64, L->t_i64, L->t_ptr};
    LLVMValueRef args[5] = {LLVMBuildBitCast(B, body_fn, L->t_ptr, ""),
                            LLVMBuildBitCast(B, ctx, L->t_ptr, ""), count,
                            i64c(L, (int64_t)nred * PRANGE_PARTIAL_SLOT),
                            LLVMBuildBitCast(B, comb_fn, L->t_ptr, "")};
    call_address(B, L->t_i64, (void *)host_prange_run, LLVMFunctionType(L->t_void, rp, 5, 0),
                 args, 5, "");
    /* after the loop its variable holds the last value, as after range() */
    LLVMBasicBlockRef set = new_bb(L, "prange.last"), done = new_bb(L, "prange.done");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSGT, count, i64c(L, 0), ""), set, done);
    LLVMPositionBuilderAtEnd(B, set);
    LLVMValueRef lastk = LLVMBuildSub(B, count, i64c(L, 1), "");
    if (LLVMGetIntTypeWidth(it) < 64)
        lastk = LLVMBuildTrunc(B, lastk, it, "");
    LLVMValueRef last = LLVMBuildAdd(B, start, LLVMBuildMul(B, lastk, step, ""), "");
    var_store(L, n->var, conv(L, n, last, ct, fn->var_types[n->var]));
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* A pointer to a constant NUL-terminated string. NVVM wants globals in the
 * constant address space (4), seen through a generic pointer. */
static LLVMValueRef string_ptr(Lower *L, const char *text)
{
    if (L->target != LOWER_NVVM)
        return LLVMBuildGlobalStringPtr(L->b, text, "str");
    LLVMValueRef init = LLVMConstStringInContext(L->ctx, text, (unsigned)strlen(text), 0);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, LLVMTypeOf(init), "str", 4);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    LLVMValueRef p = LLVMConstInBoundsGEP2(LLVMTypeOf(init), g, zero, 2);
    return LLVMConstAddrSpaceCast(p, L->t_ptr);
}

/* print(a, "text", b): one printf call per statement (whole lines do not
 * interleave between workers), then fflush so the text appears before the
 * launch returns. Formats follow numba.cuda: integers in decimal, floats
 * with %f, bools as True/False, complex as (re+imj). */
static void print_stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    size_t cap = strlen(n->text) * 2 + (size_t)n->nargs * 16 + 1, len = 0;
    char *fmt = ir_alloc(L->fn, cap);
    LLVMValueRef *vals = ir_alloc(L->fn, sizeof *vals * (size_t)(2 * n->nargs + 1));
    if (!fmt || !vals)
        fail(L, n, "out of memory");
    unsigned nv = 1, k = 0;
    for (const char *p = n->text; *p; p++) {
        if (*p != IR_PRINT_SLOT) {
            if (*p == '%')
                fmt[len++] = '%';
            fmt[len++] = *p;
            continue;
        }
        Node *a = n->args[k++];
        const Type *t = ty_concrete(a->ty);
        LLVMValueRef v = expr(L, a);
        const char *spec;
        if (t->kind == TY_BOOL) {
            spec = "%s";
            v = LLVMBuildSelect(B, v, string_ptr(L, "True"), string_ptr(L, "False"), "");
        } else if (ty_is_int(t)) {
            spec = ty_is_signed(t) ? "%lld" : "%llu";
            v = conv(L, a, v, t, ty_scalar(ty_is_signed(t) ? TY_I64 : TY_U64));
        } else if (ty_is_float(t)) {
            spec = "%f";
            v = conv(L, a, v, t, ty_scalar(TY_F64));
        } else {
            spec = "(%f%+fj)";
            LLVMValueRef re = re_of(L, v), im = im_of(L, v);
            if (t->kind == TY_C64) {
                re = LLVMBuildFPExt(B, re, L->t_f64, "");
                im = LLVMBuildFPExt(B, im, L->t_f64, "");
            }
            vals[nv++] = re;
            v = im;
        }
        vals[nv++] = v;
        memcpy(fmt + len, spec, strlen(spec));
        len += strlen(spec);
    }
    fmt[len] = '\0';
    vals[0] = string_ptr(L, fmt);
    LLVMTypeRef pt = L->t_ptr;
    if (L->target == LOWER_NVVM) { /* vprintf(fmt, the values in 8-byte slots) */
        LLVMValueRef buf = entry_alloca(L, LLVMArrayType(L->t_i64, nv > 1 ? nv - 1 : 1), "printf.args");
        LLVMSetAlignment(buf, 8);
        LLVMValueRef base = LLVMBuildBitCast(B, buf, pt, "");
        for (unsigned i = 1; i < nv; i++) {
            LLVMValueRef off = i64c(L, 8 * (int64_t)(i - 1));
            LLVMValueRef slot = LLVMBuildGEP2(B, L->t_i8, base, &off, 1, "");
            slot = LLVMBuildBitCast(B, slot, LLVMPointerType(LLVMTypeOf(vals[i]), 0), "");
            LLVMSetAlignment(LLVMBuildStore(B, vals[i], slot), 8);
        }
        LLVMTypeRef params[2] = {pt, pt};
        LLVMValueRef args[2] = {vals[0], nv > 1 ? base : LLVMConstNull(pt)};
        call_named(L, "vprintf", L->t_i32, params, args, 2);
        return;
    }
    LLVMTypeRef printf_t = LLVMFunctionType(L->t_i32, &pt, 1, 1);
    LLVMValueRef pf = LLVMGetNamedFunction(L->mod, "printf");
    if (!pf)
        pf = LLVMAddFunction(L->mod, "printf", printf_t);
    LLVMBuildCall2(B, printf_t, pf, vals, nv, "");
    LLVMValueRef null = LLVMConstNull(pt);
    call_named(L, "fflush", L->t_i32, &pt, &null, 1);
}

static void fis_stmt(Lower *L, Node *n);

/* The branches of ND_IF n on condition c (i1): n->b when true, n->c (if
 * any) when false; the builder ends at the join. `tag` names the blocks. */
static void if_branches(Lower *L, LLVMValueRef c, Node *n, const char *tag)
{
    LLVMBuilderRef B = L->b;
    char name[32];
    snprintf(name, sizeof name, "%s.then", tag);
    LLVMBasicBlockRef bt = new_bb(L, name);
    snprintf(name, sizeof name, "%s.end", tag);
    LLVMBasicBlockRef done = new_bb(L, name);
    snprintf(name, sizeof name, "%s.else", tag);
    LLVMBasicBlockRef bf = n->c ? new_bb(L, name) : done;
    LLVMBuildCondBr(B, c, bt, bf);
    LLVMPositionBuilderAtEnd(B, bt);
    if (n->b)
        stmt(L, n->b);
    LLVMBuildBr(B, done);
    if (n->c) {
        LLVMPositionBuilderAtEnd(B, bf);
        stmt(L, n->c);
        LLVMBuildBr(B, done);
    }
    LLVMPositionBuilderAtEnd(B, done);
}

static void stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    set_line(L, n);
    if (L->fis && !L->in_region && L->fn == L->root_fn) {
        fis_stmt(L, n);
        return;
    }
    switch (n->kind) {
    case ND_BLOCK:
        for (int i = 0; i < n->nargs; i++)
            stmt(L, n->args[i]);
        break;
    case ND_ASSIGN:
        var_store(L, n->var, conv(L, n, expr(L, n->a), n->a->ty, L->fn->var_types[n->var]));
        break;
    case ND_ARRAY_ASSIGN:
        array_assign(L, n);
        break;
    case ND_STORE: {
        const Type *elem;
        LLVMValueRef v = expr(L, n->b);
        LLVMValueRef p = element_ptr(L, n, &elem);
        v = conv(L, n, v, n->b->ty, elem);
        if (elem->kind == TY_BOOL)
            v = LLVMBuildZExt(B, v, L->t_i8, "");
        LLVMValueRef st = LLVMBuildStore(B, v, p);
        LLVMSetAlignment(st, elem_align(elem));
        break;
    }
    case ND_IF:
        if_branches(L, truth(L, expr(L, n->a), n->a->ty), n, "if");
        break;
    case ND_WHILE: {
        LLVMBasicBlockRef hdr = new_bb(L, "while.hdr"), body = new_bb(L, "while.body");
        LLVMBasicBlockRef exit = new_bb(L, "while.end"), latch = new_bb(L, "while.latch");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        LLVMBuildCondBr(B, truth(L, expr(L, n->a), n->a->ty), body, exit);
        LLVMPositionBuilderAtEnd(B, body);
        push_loop(L, n, exit, latch);
        if (n->b)
            stmt(L, n->b);
        L->nloops--;
        LLVMBuildBr(B, latch);
        LLVMPositionBuilderAtEnd(B, latch);
        if (n->b)
            loop_collect(L, n->b);
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, exit);
        break;
    }
    case ND_FOR_RANGE:
        if (n->ival && L->function_entry && L->fn == L->root_fn && L->target == LOWER_HOST)
            prange_loop(L, n); /* an outermost prange of an ember.jit(parallel=True) */
        else
            for_range(L, n);
        break;
    case ND_BREAK: case ND_CONTINUE:
        if (L->nloops == 0)
            fail(L, n, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        LLVMBuildBr(B, n->kind == ND_BREAK ? L->loops[L->nloops - 1].brk : L->loops[L->nloops - 1].cont);
        start_dead_block(L);
        break;
    case ND_RETURN: /* a kernel's return ends only this thread; a device function's ends it */
        if (n->a && L->ret_slot)
            LLVMBuildStore(B, conv(L, n, expr(L, n->a), n->a->ty, L->fn->return_type), L->ret_slot);
        LLVMBuildBr(B, L->ret_bb);
        start_dead_block(L);
        break;
    case ND_EXPR:
        expr(L, n->a);
        break;
    case ND_PRINT:
        print_stmt(L, n);
        break;
    case ND_SYNC:
        if (L->target == LOWER_HOST) /* fission has split the region here */
            break;
        if (n->op == SYNC_THREADS) {
            call_named(L, "llvm.nvvm.barrier0", L->t_void, NULL, NULL, 0);
        } else {
            LLVMValueRef mask = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, ty_scalar(TY_U32));
            call_named(L, "llvm.nvvm.bar.warp.sync", L->t_void, &L->t_i32, &mask, 1);
        }
        break;
    case ND_FENCE:
        if (L->target == LOWER_NVVM) { /* membar.cta / .gl / .sys */
            const char *name = n->op == FENCE_BLOCK ? "llvm.nvvm.membar.cta"
                             : n->op == FENCE_SYSTEM ? "llvm.nvvm.membar.sys"
                                                     : "llvm.nvvm.membar.gl";
            call_named(L, name, L->t_void, NULL, NULL, 0);
        } else { /* every scope is the whole machine on the CPU */
            LLVMBuildFence(B, LLVMAtomicOrderingSequentiallyConsistent, 0, "");
        }
        break;
    default:
        fail(L, n, "an expression used as a statement");
    }
}

/* ======================================================================== */
/* Parameters (Argument ABI, core/ir.h)                                     */
/* ======================================================================== */

static LLVMValueRef load_at(Lower *L, LLVMValueRef args, size_t off, LLVMTypeRef t, const char *name)
{
    LLVMValueRef o = i64c(L, (int64_t)off);
    LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, args, &o, 1, "");
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(t, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, t, p, name);
    LLVMSetAlignment(v, 8);
    return v;
}

/* Unpacks a value of type t at *off (advanced by abi_size(t)). */
static LLVMValueRef unpack(Lower *L, LLVMValueRef args, const Type *t, size_t *off, const char *name)
{
    size_t at = *off;
    *off += abi_size(t);
    if (t->kind == TY_ARRAY) {
        LLVMValueRef v = LLVMGetUndef(lty(L, t));
        v = LLVMBuildInsertValue(L->b, v, load_at(L, args, at, L->t_ptr, name), 0, "");
        for (int i = 0; i < 2 * t->ndim; i++)
            v = LLVMBuildInsertValue(L->b, v, load_at(L, args, at + 8 + 8 * (size_t)i, L->t_i64, ""),
                                     (unsigned)(1 + i), "");
        return v;
    }
    if (t->kind == TY_TUPLE) {
        LLVMValueRef v = LLVMGetUndef(lty(L, t));
        for (int i = 0; i < t->nfields; i++)
            v = LLVMBuildInsertValue(L->b, v, unpack(L, args, t->fields[i], &at, name), (unsigned)i, "");
        return v;
    }
    LLVMValueRef v = load_at(L, args, at, mty(L, t), name);
    if (ty_concrete(t)->kind == TY_BOOL)
        v = LLVMBuildICmp(L->b, LLVMIntNE, v, ci(L->t_i8, 0), "");
    return v;
}

/* ======================================================================== */
/* The entry function                                                       */
/* ======================================================================== */

/* A counted loop `for (iv = 0; iv < n; iv++)`: returns iv (a phi in the
 * header, positioned in the body); *latch gets the block that continues. */
typedef struct CountedLoop {
    LLVMBasicBlockRef hdr, latch, exit, pre;
    LLVMValueRef iv, next;
} CountedLoop;

static void loop_open(Lower *L, CountedLoop *c, LLVMValueRef start, LLVMValueRef end, const char *name,
                      LLVMBasicBlockRef exit)
{
    char buf[32];
    c->pre = LLVMGetInsertBlock(L->b);
    snprintf(buf, sizeof buf, "%s.hdr", name);
    c->hdr = new_bb(L, buf);
    snprintf(buf, sizeof buf, "%s.body", name);
    LLVMBasicBlockRef body = new_bb(L, buf);
    snprintf(buf, sizeof buf, "%s.latch", name);
    c->latch = new_bb(L, buf);
    c->exit = exit;
    LLVMBuildBr(L->b, c->hdr);
    LLVMPositionBuilderAtEnd(L->b, c->hdr);
    c->iv = LLVMBuildPhi(L->b, L->t_i64, name);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, c->iv, end, ""), body, exit);
    LLVMAddIncoming(c->iv, &start, &c->pre, 1);
    LLVMPositionBuilderAtEnd(L->b, body);
}

static void loop_close(Lower *L, CountedLoop *c)
{
    /* the current block falls into the latch */
    LLVMBuildBr(L->b, c->latch);
    LLVMPositionBuilderAtEnd(L->b, c->latch);
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, c->iv, i64c(L, 1), ""); /* iv < end: no wrap */
    LLVMBuildBr(L->b, c->hdr);
    LLVMAddIncoming(c->iv, &next, &c->latch, 1);
    LLVMPositionBuilderAtEnd(L->b, c->exit);
}

/* a.sum(), .prod(), .min(), .max(), .mean(): one loop per dimension over
 * the elements in memory order of the shape (any strides), accumulated in
 * the result type in order (NumPy sums floats pairwise, so the last bits of
 * a float sum may differ). min/max propagate NaN as NumPy's; of an empty
 * array they record KERNEL_FAULT_EMPTY (ValueError at the call). mean is
 * the sum divided by the size (nan when empty). */
static LLVMValueRef reduce(Lower *L, Node *n, LLVMValueRef a, const Type *at)
{
    LLVMBuilderRef B = L->b;
    const Type *rt = ty_concrete(n->ty), *et = at->elem;
    int op = n->op;
    bool fl = ty_is_float(rt), cx = ty_is_complex(rt);
    LLVMTypeRef t = lty(L, rt);
    LLVMValueRef acc = entry_alloca(L, t, "acc");
    LLVMValueRef init;
    if (op == ATTR_MIN || op == ATTR_MAX) {
        bool mn = op == ATTR_MIN;
        if (fl)
            init = LLVMConstReal(t, mn ? INFINITY : -INFINITY);
        else if (rt->kind == TY_BOOL)
            init = LLVMConstInt(t, mn ? 1 : 0, 0);
        else if (ty_is_signed(rt))
            init = LLVMConstInt(t, mn ? (1ULL << (ty_bits(rt) - 1)) - 1 : 1ULL << (ty_bits(rt) - 1), 0);
        else
            init = mn ? LLVMConstAllOnes(t) : LLVMConstNull(t);
    } else if (op == ATTR_PROD) {
        init = conv(L, n, i64c(L, 1), ty_scalar(TY_I64), rt);
    } else {
        init = LLVMConstNull(t);
    }
    LLVMBuildStore(B, init, acc);
    int nd = at->ndim;
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off = i64c(L, 0);
    for (int k = 0; k < nd; k++) {
        LLVMBasicBlockRef done = new_bb(L, "red.end");
        loop_open(L, &loops[k], i64c(L, 0), LLVMBuildExtractValue(B, a, (unsigned)(1 + k), ""),
                  "red", done);
        LLVMValueRef stride = LLVMBuildExtractValue(B, a, (unsigned)(1 + nd + k), "");
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, loops[k].iv, stride, ""), "");
    }
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, a, 0, ""), &off, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(mty(L, et), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(B, mty(L, et), p, "");
    LLVMSetAlignment(v, elem_align(et));
    if (et->kind == TY_BOOL)
        v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(mty(L, et)), "");
    v = conv(L, n, v, et, rt);
    LLVMValueRef cur = LLVMBuildLoad2(B, t, acc, ""), next;
    if (op == ATTR_SUM || op == ATTR_MEAN) {
        next = cx ? make_complex(L, rt, fadd(L, re_of(L, cur), re_of(L, v)),
                                 fadd(L, im_of(L, cur), im_of(L, v)))
             : fl ? fadd(L, cur, v) : LLVMBuildAdd(B, cur, v, "");
    } else if (op == ATTR_PROD) {
        if (cx) {
            LLVMValueRef a1 = re_of(L, cur), b1 = im_of(L, cur), a2 = re_of(L, v), b2 = im_of(L, v);
            next = make_complex(L, rt, fsub(L, fmul(L, a1, a2), fmul(L, b1, b2)),
                                fadd(L, fmul(L, a1, b2), fmul(L, b1, a2)));
        } else {
            next = fl ? fmul(L, cur, v) : LLVMBuildMul(B, cur, v, "");
        }
    } else {
        bool mn = op == ATTR_MIN;
        LLVMValueRef better;
        if (fl) /* NaN wins, and stays: a comparison with NaN is false */
            better = LLVMBuildOr(B, fcmp(L, mn ? LLVMRealOLT : LLVMRealOGT, v, cur),
                                 fcmp(L, LLVMRealUNO, v, v), "");
        else if (rt->kind == TY_BOOL)
            better = LLVMBuildICmp(B, mn ? LLVMIntULT : LLVMIntUGT, v, cur, "");
        else
            better = LLVMBuildICmp(B, mn ? (ty_is_signed(rt) ? LLVMIntSLT : LLVMIntULT)
                                         : (ty_is_signed(rt) ? LLVMIntSGT : LLVMIntUGT), v, cur, "");
        next = LLVMBuildSelect(B, better, v, cur, "");
    }
    LLVMBuildStore(B, next, acc);
    for (int k = nd - 1; k >= 0; k--)
        loop_close(L, &loops[k]);
    LLVMValueRef r = LLVMBuildLoad2(B, t, acc, n->op == ATTR_MEAN ? "sum" : "reduced");
    LLVMValueRef size = i64c(L, 1);
    for (int k = 0; k < nd; k++)
        size = LLVMBuildMul(B, size, LLVMBuildExtractValue(B, a, (unsigned)(1 + k), ""), "");
    if (op == ATTR_MEAN) {
        const Type *pt = cx ? part_type(rt) : rt;
        LLVMValueRef sz = conv(L, n, size, ty_scalar(TY_I64), pt);
        r = cx ? make_complex(L, rt, fdiv(L, re_of(L, r), sz), fdiv(L, im_of(L, r), sz))
               : fdiv(L, r, sz);
    } else if (op == ATTR_MIN || op == ATTR_MAX) {
        LLVMBasicBlockRef empty = new_bb(L, "red.empty"), ok = new_bb(L, "red.ok");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, size, i64c(L, 0), ""), empty, ok);
        LLVMPositionBuilderAtEnd(B, empty);
        fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_EMPTY, 0), L->fault,
                    LLVMAtomicOrderingMonotonic);
        LLVMBuildBr(B, ok);
        LLVMPositionBuilderAtEnd(B, ok);
    }
    return r;
}

/* ======================================================================== */
/* Arrays created by ember.jit functions (devices/cpu/host_arrays.c)        */
/* ======================================================================== */

/* Ends the call when `bad`: the entry returns at once (nothing packed) and
 * the caller raises from dims->fault (which the runtime or the code set),
 * naming n's line: its site goes to dims->fault_site (host_kernel_site). */
static void abort_if(Lower *L, const Node *n, LLVMValueRef bad)
{
    if (!grow_list((void **)&L->sites, &L->capsites, L->nsites + 1, sizeof *L->sites))
        fail(L, n, "out of memory");
    char site[1200];
    snprintf(site, sizeof site, "%s:%d:%d", L->fn->file, n->loc.line, n->loc.col);
    if (!(L->sites[L->nsites] = em_strdup(site)))
        fail(L, n, "out of memory");
    int index = L->nsites++;
    LLVMBasicBlockRef fault = new_bb(L, "fault"), ok = new_bb(L, "made");
    LLVMBuildCondBr(L->b, bad, fault, ok);
    LLVMPositionBuilderAtEnd(L->b, fault);
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    LLVMBuildStore(L->b, LLVMConstInt(L->t_i32, (unsigned)index, 0),
                   LLVMBuildGEP2(L->b, L->t_i32, L->fault, &one, 1, ""));
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->b, ok);
}

/* np.arange's length and values, as NumPy computes them (multiarray
 * ctors.c PyArray_ArangeObj and the dtype's fill function): the length is
 * ceil((stop - start) / step), in int64 for integer bounds and in double
 * otherwise; a[0] = start and a[1] = start + step, both converted to the
 * dtype, and a[i] = a[0] + i * (a[1] - a[0]) in the dtype from there on.
 * A zero step is ZeroDivisionError. */
static void arange_setup(Lower *L, Node *n, LLVMValueRef *len, LLVMValueRef v[2],
                         LLVMValueRef *delta)
{
    LLVMBuilderRef B = L->b;
    bool fl = false;
    for (int i = 0; i < 3; i++)
        fl |= ty_is_float(n->args[i]->ty);
    const Type *ct = ty_scalar(fl ? TY_F64 : TY_I64), *elem = n->ty->elem;
    LLVMValueRef x[3];
    for (int i = 0; i < 3; i++)
        x[i] = conv(L, n, expr(L, n->args[i]), n->args[i]->ty, ct);
    LLVMValueRef zero = LLVMConstNull(lty(L, ct));
    LLVMValueRef step0 = fl ? fcmp(L, LLVMRealOEQ, x[2], zero)
                            : LLVMBuildICmp(B, LLVMIntEQ, x[2], zero, "");
    LLVMBasicBlockRef fault = new_bb(L, "arange.step0"), ok = new_bb(L, "arange");
    LLVMBuildCondBr(B, step0, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_ARANGE_STEP, 0), L->fault,
                LLVMAtomicOrderingMonotonic);
    abort_if(L, n, LLVMConstInt(L->t_i1, 1, 0));
    LLVMBuildUnreachable(B);
    LLVMPositionBuilderAtEnd(B, ok);
    LLVMValueRef count;
    if (fl) { /* ceil((stop - start) / step); NaN or <= 0: empty; huge: too big */
        LLVMValueRef q = intr1(L, "llvm.ceil", fdiv(L, fsub(L, x[1], x[0]), x[2]));
        LLVMValueRef pos = fcmp(L, LLVMRealOGT, q, LLVMConstReal(L->t_f64, 0.0));
        LLVMValueRef big = fcmp(L, LLVMRealOGE, q, LLVMConstReal(L->t_f64, 9.2e18));
        LLVMValueRef c = LLVMBuildFPToSI(B, LLVMBuildSelect(B, pos, q, LLVMConstReal(L->t_f64, 0.0),
                                                            ""), L->t_i64, "");
        count = LLVMBuildSelect(B, big, i64c(L, INT64_MAX), c, "");
    } else { /* step > 0: (stop - start + step - 1) / step; step < 0 mirrored */
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, x[2], zero, "");
        LLVMValueRef span = LLVMBuildSelect(B, neg, LLVMBuildSub(B, x[0], x[1], ""),
                                            LLVMBuildSub(B, x[1], x[0], ""), "");
        LLVMValueRef astep = LLVMBuildSelect(B, neg, LLVMBuildNeg(B, x[2], ""), x[2], "");
        LLVMValueRef c = LLVMBuildSDiv(B, LLVMBuildAdd(B, span, LLVMBuildSub(B, astep, i64c(L, 1),
                                                                             ""), ""), astep, "");
        count = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, span, zero, ""), c, zero, "");
    }
    *len = count;
    v[0] = conv(L, n, x[0], ct, elem);
    LLVMValueRef second = fl ? fadd(L, x[0], x[2]) : LLVMBuildAdd(B, x[0], x[2], "");
    v[1] = conv(L, n, second, ct, elem);
    *delta = ty_is_float(elem) ? fsub(L, v[1], v[0]) : LLVMBuildSub(B, v[1], v[0], "");
}

/* host_array_new for an array of `shape` (nd i64 values): its data, in the
 * call's arena; the call ends with the fault when it fails. */
static LLVMValueRef arena_alloc(Lower *L, const Node *n, const LLVMValueRef *shape, int nd,
                                int64_t itemsize, bool zero)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef sbuf = entry_alloca(L, LLVMArrayType(L->t_i64, (unsigned)nd), "shape");
    LLVMValueRef sp = LLVMBuildBitCast(B, sbuf, LLVMPointerType(L->t_i64, 0), "");
    for (int i = 0; i < nd; i++) {
        LLVMValueRef idx = i64c(L, i);
        LLVMBuildStore(B, shape[i], LLVMBuildGEP2(B, L->t_i64, sp, &idx, 1, ""));
    }
    LLVMTypeRef pt[5] = {L->t_ptr, LLVMPointerType(L->t_i64, 0), L->t_i64, L->t_i64, L->t_i64};
    LLVMValueRef args[5] = {LLVMBuildBitCast(B, L->call_dims, L->t_ptr, ""), sp, i64c(L, nd),
                            i64c(L, itemsize), i64c(L, zero)};
    LLVMValueRef data = call_address(B, L->t_i64, (void *)host_array_new,
                                     LLVMFunctionType(L->t_ptr, pt, 5, 0), args, 5, "data");
    abort_if(L, n, LLVMBuildIsNull(B, data, ""));
    return data;
}

/* np.empty / zeros / full / ones / arange and the *_like forms: the data
 * from host_array_new (64-byte aligned, in the call's arena; zeroed for
 * np.zeros), C strides, then the fill. A negative extent, a size that
 * overflows or memory the allocator refuses ends the call with a fault
 * (ValueError / MemoryError at the call). */
static LLVMValueRef linspace(Lower *L, Node *n);
static LLVMValueRef eye(Lower *L, Node *n);
static LLVMValueRef reshape(Lower *L, Node *n);
static LLVMValueRef new_array(Lower *L, Node *n)
{
    if (n->op == NEW_LINSPACE)
        return linspace(L, n);
    if (n->op == NEW_EYE)
        return eye(L, n);
    if (n->op == NEW_RESHAPE)
        return reshape(L, n);
    LLVMBuilderRef B = L->b;
    const Type *t = n->ty, *elem = t->elem;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
    LLVMValueRef shape[EMBER_MAX_NDIM], first[2] = {NULL, NULL}, delta = NULL, fill = NULL;
    if (n->op == NEW_ARANGE) {
        arange_setup(L, n, &shape[0], first, &delta);
    } else {
        const Type *st = ty_concrete(n->a->ty);
        LLVMValueRef sv = expr(L, n->a);
        for (int i = 0; i < nd; i++) {
            if (st->kind == TY_ARRAY)
                shape[i] = LLVMBuildExtractValue(B, sv, (unsigned)(1 + i), "");
            else if (st->kind == TY_TUPLE)
                shape[i] = conv(L, n, LLVMBuildExtractValue(B, sv, (unsigned)i, ""),
                                st->fields[i], ty_scalar(TY_I64));
            else
                shape[i] = conv(L, n, sv, st, ty_scalar(TY_I64));
        }
        if (n->b)
            fill = conv(L, n, expr(L, n->b), n->b->ty, elem);
    }
    LLVMValueRef data = arena_alloc(L, n, shape, nd, itemsize, n->op == NEW_ZEROS);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lty(L, t)), data, 0, "");
    LLVMValueRef stride = i64c(L, itemsize), count = i64c(L, 1);
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(B, view, shape[i], (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + i), "");
        stride = LLVMBuildNSWMul(B, stride, shape[i], "");
        count = LLVMBuildNSWMul(B, count, shape[i], "");
    }
    if (n->op != NEW_FULL && n->op != NEW_ARANGE)
        return view;
    /* the fill: one loop over the elements in memory order */
    LLVMTypeRef et = mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
    if (fill && elem->kind == TY_BOOL)
        fill = LLVMBuildZExt(B, fill, et, "");
    CountedLoop loop;
    loop_open(L, &loop, i64c(L, 0), count, "fill", new_bb(L, "fill.end"));
    LLVMValueRef v = fill;
    if (!v) { /* arange: a[1] as computed, else a[0] + i * delta */
        LLVMValueRef fi = ty_is_float(elem) ? LLVMBuildSIToFP(B, loop.iv, et, "")
                        : ty_bits(elem) < 64 ? LLVMBuildTrunc(B, loop.iv, et, "") : loop.iv;
        LLVMValueRef step = ty_is_float(elem) ? fadd(L, first[0], fmul(L, fi, delta))
                                              : LLVMBuildAdd(B, first[0], LLVMBuildMul(B, fi, delta, ""), "");
        v = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, loop.iv, i64c(L, 1), ""), first[1],
                            step, "");
    }
    LLVMValueRef st = LLVMBuildStore(B, v, LLVMBuildGEP2(B, et, base, &loop.iv, 1, ""));
    LLVMSetAlignment(st, elem_align(elem));
    loop_close(L, &loop);
    return view;
}


/* ======================================================================== */
/* Array expressions and slice assignment                                   */
/* ======================================================================== */

/* Records KERNEL_FAULT_BROADCAST with the two extents that disagree and
 * ends the call when `bad` (ember.jit functions). In a kernel the fault is
 * an IndexError at n's line (bounds_fault) and the store does nothing. */
static void broadcast_fault(Lower *L, const Node *n, LLVMValueRef bad, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    if (!L->function_entry) {
        bounds_fault(L, n, bad, NULL);
        return;
    }
    LLVMBasicBlockRef fault = new_bb(L, "bcast.bad"), ok = new_bb(L, "bcast.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef pair = LLVMBuildOr(B, LLVMBuildShl(B, x, i64c(L, 32), ""),
                                    LLVMBuildAnd(B, y, i64c(L, 0xffffffff), ""), "");
    LLVMValueRef idx = i64c(L, offsetof(HostDims, fault_bytes) / 8);
    LLVMValueRef dims = LLVMBuildBitCast(B, L->call_dims, LLVMPointerType(L->t_i64, 0), "");
    LLVMBuildStore(B, pair, LLVMBuildGEP2(B, L->t_i64, dims, &idx, 1, ""));
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_BROADCAST, 0), L->fault,
                LLVMAtomicOrderingMonotonic);
    abort_if(L, n, LLVMConstInt(L->t_i1, 1, 0));
    LLVMBuildUnreachable(B);
    LLVMPositionBuilderAtEnd(B, ok);
}


static LLVMValueRef itemsize(Lower *L, const Type *t)
{
    return i64c(L, ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8);
}

/* array_map's loops: one per dimension, the last innermost; `unit`: the
 * last stride of every array is its item size. */
static void map_loops(Lower *L, LLVMValueRef dest, const Type *dt, Node **ops, LLVMValueRef *vals,
                      int nops, Node *body, LLVMValueRef *shape, LLVMValueRef *dstride,
                      LLVMValueRef *es, LLVMValueRef *off, LLVMValueRef *ev, bool unit)
{
    LLVMBuilderRef B = L->b;
    int nd = dt->ndim;
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef doff = i64c(L, 0);
    for (int k = 0; k < nops; k++)
        off[k] = i64c(L, 0);
    for (int d = 0; d < nd; d++) {
        loop_open(L, &loops[d], i64c(L, 0), shape[d], "elem", new_bb(L, "elem.end"));
        bool last = unit && d == nd - 1;
        doff = LLVMBuildAdd(B, doff, LLVMBuildMul(B, loops[d].iv, last ? itemsize(L, dt)
                                                  : dstride[d], ""), "");
        for (int k = 0; k < nops; k++)
            if (ops[k]->ty->kind == TY_ARRAY)
                off[k] = LLVMBuildAdd(B, off[k], LLVMBuildMul(B, loops[d].iv, last
                    ? itemsize(L, ops[k]->ty) : es[k * EMBER_MAX_NDIM + d], ""), "");
    }
    for (int k = 0; k < nops; k++) {
        const Type *t = ops[k]->ty;
        if (t->kind != TY_ARRAY) {
            ev[k] = vals[k];
            continue;
        }
        LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, vals[k], 0, ""),
                                       &off[k], 1, "");
        p = LLVMBuildBitCast(B, p, LLVMPointerType(mty(L, t->elem), 0), "");
        LLVMValueRef v = LLVMBuildLoad2(B, mty(L, t->elem), p, "");
        LLVMSetAlignment(v, elem_align(t->elem));
        if (t->elem->kind == TY_BOOL)
            v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(mty(L, t->elem)), "");
        ev[k] = v;
    }
    LLVMValueRef *saved = L->elems;
    L->elems = ev;
    LLVMValueRef v = conv(L, body, expr(L, body), body->ty, dt->elem);
    L->elems = saved;
    if (dt->elem->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, L->t_i8, "");
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, dest, 0, ""), &doff, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(mty(L, dt->elem), 0), "");
    LLVMSetAlignment(LLVMBuildStore(B, v, p), elem_align(dt->elem));
    for (int d = nd - 1; d >= 0; d--)
        loop_close(L, &loops[d]);
}

/* Writes body (reading operand k, of type ops[k]->ty, as ND_ELEM k with
 * value vals[k]) into every element of dest, of type dt. NumPy's
 * broadcasting: an operand's dimensions align with dest's last ones, and
 * an extent of 1 repeats (stride 0); any other extent must equal dest's
 * (else broadcast_fault; `checked` when the caller made dest's shape from
 * the operands). One loop per dimension, the last innermost. */
static void array_map(Lower *L, Node *n, LLVMValueRef dest, const Type *dt, Node **ops,
                      LLVMValueRef *vals, int nops, Node *body, bool checked)
{
    LLVMBuilderRef B = L->b;
    int nd = dt->ndim;
    LLVMValueRef shape[EMBER_MAX_NDIM], dstride[EMBER_MAX_NDIM];
    for (int d = 0; d < nd; d++) {
        shape[d] = LLVMBuildExtractValue(B, dest, (unsigned)(1 + d), "");
        dstride[d] = LLVMBuildExtractValue(B, dest, (unsigned)(1 + nd + d), "");
    }
    LLVMValueRef *es = nops ? ir_alloc(L->fn, sizeof *es * (size_t)nops * EMBER_MAX_NDIM) : NULL;
    LLVMValueRef *off = nops ? ir_alloc(L->fn, sizeof *off * (size_t)nops) : NULL;
    LLVMValueRef *ev = nops ? ir_alloc(L->fn, sizeof *ev * (size_t)nops) : NULL;
    if (nops && (!es || !off || !ev))
        fail(L, n, "out of memory");
    LLVMValueRef bad = NULL, bx = i64c(L, 0), by = i64c(L, 0);
    for (int k = 0; k < nops; k++) {
        const Type *t = ops[k]->ty;
        if (t->kind != TY_ARRAY)
            continue;
        int m = t->ndim;
        for (int d = 0; d < nd; d++)
            es[k * EMBER_MAX_NDIM + d] = i64c(L, 0);
        for (int j = 0; j < m; j++) {
            int d = nd - m + j;
            LLVMValueRef x = LLVMBuildExtractValue(B, vals[k], (unsigned)(1 + j), "");
            LLVMValueRef st = LLVMBuildExtractValue(B, vals[k], (unsigned)(1 + m + j), "");
            LLVMValueRef one = LLVMBuildICmp(B, LLVMIntEQ, x, i64c(L, 1), "");
            es[k * EMBER_MAX_NDIM + d] = LLVMBuildSelect(B, one, i64c(L, 0), st, "");
            if (checked)
                continue;
            LLVMValueRef no = LLVMBuildAnd(B, LLVMBuildNot(B, one, ""),
                                           LLVMBuildICmp(B, LLVMIntNE, x, shape[d], ""), "");
            bx = LLVMBuildSelect(B, no, x, bx, "");
            by = LLVMBuildSelect(B, no, shape[d], by, "");
            bad = bad ? LLVMBuildOr(B, bad, no, "") : no;
        }
    }
    if (bad) {
        broadcast_fault(L, n, bad, bx, by);
        if (!L->function_entry && nd) /* a kernel goes on: store nothing */
            shape[0] = LLVMBuildSelect(B, bad, i64c(L, 0), shape[0], "");
    }
    /* when every array is C-ordered by type and no operand repeats along the
     * last dimension, a second copy of the loops with the item size as the
     * last stride (a constant) lets LLVM vectorise the inner loop */
    bool unit_ok = dt->layout == 'C' && nd > 0;
    for (int k = 0; k < nops; k++)
        if (ops[k]->ty->kind == TY_ARRAY && ops[k]->ty->layout != 'C')
            unit_ok = false;
    if (!unit_ok) {
        map_loops(L, dest, dt, ops, vals, nops, body, shape, dstride, es, off, ev, false);
        return;
    }
    LLVMValueRef unit = LLVMConstInt(L->t_i1, 1, 0);
    for (int k = 0; k < nops; k++) {
        const Type *t = ops[k]->ty;
        if (t->kind == TY_ARRAY)
            unit = LLVMBuildAnd(B, unit, LLVMBuildICmp(B, LLVMIntEQ,
                LLVMBuildExtractValue(B, vals[k], (unsigned)t->ndim, ""), shape[nd - 1], ""), "");
    }
    LLVMBasicBlockRef fast = new_bb(L, "map.unit"), slow = new_bb(L, "map.strided"),
                      done = new_bb(L, "map.done");
    LLVMBuildCondBr(B, unit, fast, slow);
    LLVMPositionBuilderAtEnd(B, fast);
    map_loops(L, dest, dt, ops, vals, nops, body, shape, dstride, es, off, ev, true);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, slow);
    map_loops(L, dest, dt, ops, vals, nops, body, shape, dstride, es, off, ev, false);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* A new C-ordered array of `shape` and element type t->elem, in the call's
 * arena. */
static LLVMValueRef arena_array(Lower *L, const Node *n, const Type *t, LLVMValueRef *shape)
{
    LLVMBuilderRef B = L->b;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef data = arena_alloc(L, n, shape, nd, itemsize, false);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lty(L, t)), data, 0, "");
    LLVMValueRef stride = i64c(L, itemsize);
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(B, view, shape[i], (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + i), "");
        stride = LLVMBuildNSWMul(B, stride, shape[i], "");
    }
    return view;
}

static LLVMValueRef *operand_values(Lower *L, Node *n, Node **ops, int nops)
{
    LLVMValueRef *vals = nops ? ir_alloc(L->fn, sizeof *vals * (size_t)nops) : NULL;
    if (nops && !vals)
        fail(L, n, "out of memory");
    for (int k = 0; k < nops; k++)
        vals[k] = expr(L, ops[k]);
    return vals;
}

/* a + b, np.sin(a) ... (ND_ARRAY_EXPR): the broadcast shape of the array
 * operands (NumPy: right-aligned, each extent equal or 1), a new array of
 * it, and array_map into it. */
static LLVMValueRef array_expr(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *t = n->ty;
    int nd = t->ndim;
    LLVMValueRef *vals = operand_values(L, n, n->args, n->nargs);
    LLVMValueRef shape[EMBER_MAX_NDIM];
    for (int d = 0; d < nd; d++)
        shape[d] = i64c(L, 1);
    LLVMValueRef bad = NULL, bx = i64c(L, 0), by = i64c(L, 0);
    for (int k = 0; k < n->nargs; k++) {
        const Type *at = n->args[k]->ty;
        if (at->kind != TY_ARRAY)
            continue;
        for (int j = 0; j < at->ndim; j++) {
            int d = nd - at->ndim + j;
            LLVMValueRef x = LLVMBuildExtractValue(B, vals[k], (unsigned)(1 + j), "");
            LLVMValueRef x1 = LLVMBuildICmp(B, LLVMIntNE, x, i64c(L, 1), "");
            LLVMValueRef s1 = LLVMBuildICmp(B, LLVMIntNE, shape[d], i64c(L, 1), "");
            LLVMValueRef no = LLVMBuildAnd(B, LLVMBuildAnd(B, x1, s1, ""),
                                           LLVMBuildICmp(B, LLVMIntNE, x, shape[d], ""), "");
            bx = LLVMBuildSelect(B, no, shape[d], bx, "");
            by = LLVMBuildSelect(B, no, x, by, "");
            bad = bad ? LLVMBuildOr(B, bad, no, "") : no;
            shape[d] = LLVMBuildSelect(B, x1, x, shape[d], "");
        }
    }
    if (bad)
        broadcast_fault(L, n, bad, bx, by);
    LLVMValueRef view = arena_array(L, n, t, shape);
    array_map(L, n, view, t, n->args, vals, n->nargs, n->a, true);
    return view;
}

/* The byte range [lo, hi) an array's elements span (any strides). */
static void array_span(Lower *L, LLVMValueRef v, const Type *t, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMBuilderRef B = L->b;
    int nd = t->ndim;
    LLVMValueRef base = LLVMBuildPtrToInt(B, LLVMBuildExtractValue(B, v, 0, ""), L->t_i64, "");
    LLVMValueRef l = base, h = base, empty = LLVMConstInt(L->t_i1, 0, 0);
    for (int d = 0; d < nd; d++) {
        LLVMValueRef x = LLVMBuildExtractValue(B, v, (unsigned)(1 + d), "");
        LLVMValueRef st = LLVMBuildExtractValue(B, v, (unsigned)(1 + nd + d), "");
        LLVMValueRef ext = LLVMBuildMul(B, LLVMBuildSub(B, x, i64c(L, 1), ""), st, "");
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, ext, i64c(L, 0), "");
        l = LLVMBuildAdd(B, l, LLVMBuildSelect(B, neg, ext, i64c(L, 0), ""), "");
        h = LLVMBuildAdd(B, h, LLVMBuildSelect(B, neg, i64c(L, 0), ext, ""), "");
        empty = LLVMBuildOr(B, empty, LLVMBuildICmp(B, LLVMIntSLE, x, i64c(L, 0), ""), "");
    }
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    *hi = LLVMBuildSelect(B, empty, base, LLVMBuildAdd(B, h, i64c(L, itemsize), ""), "");
    *lo = LLVMBuildSelect(B, empty, base, l, "");
}

/* a[1:3] = v, a[:] = 0, a += b (ND_ARRAY_ASSIGN): array_map into the view.
 * As NumPy, an operand whose memory overlaps the destination's is read as
 * it was before the store: in an ember.jit function such an operand (other
 * than the destination itself, element for element) is copied first. A
 * kernel stores in order (a thread cannot allocate). */
static void array_assign(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *dt = n->a->ty;
    LLVMValueRef dest = expr(L, n->a);
    LLVMValueRef *vals = operand_values(L, n, n->args, n->nargs);
    for (int k = 0; L->function_entry && k < n->nargs; k++) {
        const Type *t = n->args[k]->ty;
        if (t->kind != TY_ARRAY)
            continue;
        LLVMValueRef dlo, dhi, lo, hi;
        array_span(L, dest, dt, &dlo, &dhi);
        array_span(L, vals[k], t, &lo, &hi);
        LLVMValueRef overlap = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntULT, lo, dhi, ""),
                                            LLVMBuildICmp(B, LLVMIntULT, dlo, hi, ""), "");
        if (t->ndim == dt->ndim) { /* the same elements in the same places: safe */
            LLVMValueRef same = LLVMBuildICmp(B, LLVMIntEQ,
                LLVMBuildExtractValue(B, vals[k], 0, ""), LLVMBuildExtractValue(B, dest, 0, ""), "");
            for (int d = 0; d < 2 * t->ndim; d++)
                same = LLVMBuildAnd(B, same, LLVMBuildICmp(B, LLVMIntEQ,
                    LLVMBuildExtractValue(B, vals[k], (unsigned)(1 + d), ""),
                    LLVMBuildExtractValue(B, dest, (unsigned)(1 + d), ""), ""), "");
            overlap = LLVMBuildAnd(B, overlap, LLVMBuildNot(B, same, ""), "");
        }
        LLVMBasicBlockRef copy = new_bb(L, "alias.copy"), join = new_bb(L, "alias.join");
        LLVMBasicBlockRef from = LLVMGetInsertBlock(B);
        LLVMBuildCondBr(B, overlap, copy, join);
        LLVMPositionBuilderAtEnd(B, copy);
        const Type *ct = ty_array(t->elem, t->ndim, 'C', false);
        LLVMValueRef shape[EMBER_MAX_NDIM];
        for (int d = 0; d < t->ndim; d++)
            shape[d] = LLVMBuildExtractValue(B, vals[k], (unsigned)(1 + d), "");
        LLVMValueRef fresh = arena_array(L, n, ct, shape);
        Node *leaf = ir_node(L->fn, ND_ELEM, n->loc);
        if (!leaf)
            fail(L, n, "out of memory");
        leaf->ty = t->elem;
        leaf->index = 0;
        array_map(L, n, fresh, ct, &n->args[k], &vals[k], 1, leaf, true);
        /* the copy has C strides, the operand's type its own layout: the
         * struct types agree (data, shape, strides) */
        LLVMBasicBlockRef copied = LLVMGetInsertBlock(B);
        LLVMBuildBr(B, join);
        LLVMPositionBuilderAtEnd(B, join);
        LLVMValueRef phi = LLVMBuildPhi(B, LLVMTypeOf(vals[k]), "operand");
        LLVMValueRef in[2] = {vals[k], fresh};
        LLVMBasicBlockRef bbs[2] = {from, copied};
        LLVMAddIncoming(phi, in, bbs, 2);
        vals[k] = phi;
    }
    array_map(L, n, dest, dt, n->args, vals, n->nargs, n->b, false);
}


/* A negative extent ends the call with KERNEL_FAULT_NEGATIVE_DIM. */
static void check_extent(Lower *L, Node *n, LLVMValueRef len)
{
    LLVMBuilderRef B = L->b;
    LLVMBasicBlockRef neg = new_bb(L, "extent.neg"), ok = new_bb(L, "extent.ok");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, len, i64c(L, 0), ""), neg, ok);
    LLVMPositionBuilderAtEnd(B, neg);
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_NEGATIVE_DIM, 0), L->fault,
                LLVMAtomicOrderingMonotonic);
    abort_if(L, n, LLVMConstInt(L->t_i1, 1, 0));
    LLVMBuildUnreachable(B);
    LLVMPositionBuilderAtEnd(B, ok);
}

/* np.linspace(start, stop, num, endpoint) as NumPy 1.24 computes it
 * (function_base.py), in float64: div = num - 1 if endpoint else num;
 * step = (stop - start) / div; y[i] = i * step + start, or
 * i / div * delta + start when step is 0, or i * delta + start when div is
 * 0; with endpoint and num > 1 the last element is stop. Then converted to
 * the dtype (floored first for an integer dtype, as NumPy). */
static LLVMValueRef linspace(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *f64 = ty_scalar(TY_F64), *i64 = ty_scalar(TY_I64), *elem = n->ty->elem;
    LLVMValueRef start = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, f64);
    LLVMValueRef stop = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, f64);
    LLVMValueRef num = conv(L, n, expr(L, n->args[2]), n->args[2]->ty, i64);
    LLVMValueRef endpoint = truth(L, expr(L, n->args[3]), n->args[3]->ty);
    check_extent(L, n, num);
    LLVMValueRef div = LLVMBuildSelect(B, endpoint, LLVMBuildSub(B, num, i64c(L, 1), ""), num, "");
    LLVMValueRef fdivv = LLVMBuildSIToFP(B, div, L->t_f64, "");
    LLVMValueRef delta = fsub(L, stop, start);
    LLVMValueRef step = fdiv(L, delta, fdivv);
    LLVMValueRef pos = LLVMBuildICmp(B, LLVMIntSGT, div, i64c(L, 0), "");
    LLVMValueRef step0 = fcmp(L, LLVMRealOEQ, step, LLVMConstReal(L->t_f64, 0.0));
    LLVMValueRef view = arena_array(L, n, n->ty, &num);
    LLVMTypeRef et = mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, LLVMBuildExtractValue(B, view, 0, ""),
                                         LLVMPointerType(et, 0), "");
    LLVMValueRef last = LLVMBuildSub(B, num, i64c(L, 1), "");
    LLVMValueRef set_last = LLVMBuildAnd(B, endpoint, LLVMBuildICmp(B, LLVMIntSGT, num, i64c(L, 1),
                                                                    ""), "");
    CountedLoop loop;
    loop_open(L, &loop, i64c(L, 0), num, "linspace", new_bb(L, "linspace.end"));
    LLVMValueRef fi = LLVMBuildSIToFP(B, loop.iv, L->t_f64, "");
    LLVMValueRef scaled = LLVMBuildSelect(B, step0, fmul(L, fdiv(L, fi, fdivv), delta),
                                          fmul(L, fi, step), "");
    LLVMValueRef y = fadd(L, LLVMBuildSelect(B, pos, scaled, fmul(L, fi, delta), ""), start);
    LLVMValueRef is_last = LLVMBuildAnd(B, set_last, LLVMBuildICmp(B, LLVMIntEQ, loop.iv, last, ""), "");
    y = LLVMBuildSelect(B, is_last, stop, y, "");
    if (ty_is_int(elem)) /* NumPy floors before the cast to an integer dtype */
        y = intr1(L, "llvm.floor", y);
    LLVMValueRef v = conv(L, n, y, f64, elem);
    if (elem->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, et, "");
    LLVMSetAlignment(LLVMBuildStore(B, v, LLVMBuildGEP2(B, et, base, &loop.iv, 1, "")),
                     elem_align(elem));
    loop_close(L, &loop);
    return view;
}

/* np.eye(N, M=N, k=0): zeros with ones on the k-th diagonal (a[i, i + k]). */
static LLVMValueRef eye(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *i64 = ty_scalar(TY_I64), *elem = n->ty->elem;
    LLVMValueRef shape[2];
    shape[0] = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, i64);
    shape[1] = n->nargs == 3 ? conv(L, n, expr(L, n->args[1]), n->args[1]->ty, i64) : shape[0];
    LLVMValueRef k = conv(L, n, expr(L, n->args[n->nargs - 1]), n->args[n->nargs - 1]->ty, i64);
    int64_t itemsize = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
    LLVMValueRef data = arena_alloc(L, n, shape, 2, itemsize, true);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lty(L, n->ty)), data, 0, "");
    view = LLVMBuildInsertValue(B, view, shape[0], 1, "");
    view = LLVMBuildInsertValue(B, view, shape[1], 2, "");
    view = LLVMBuildInsertValue(B, view, LLVMBuildNSWMul(B, shape[1], i64c(L, itemsize), ""), 3, "");
    view = LLVMBuildInsertValue(B, view, i64c(L, itemsize), 4, "");
    LLVMTypeRef et = mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
    LLVMValueRef one = conv(L, n, i64c(L, 1), i64, elem);
    if (elem->kind == TY_BOOL)
        one = LLVMBuildZExt(B, one, et, "");
    CountedLoop loop;
    loop_open(L, &loop, i64c(L, 0), shape[0], "eye", new_bb(L, "eye.end"));
    LLVMValueRef j = LLVMBuildAdd(B, loop.iv, k, "");
    LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, j, i64c(L, 0), ""),
                                   LLVMBuildICmp(B, LLVMIntSLT, j, shape[1], ""), "");
    LLVMBasicBlockRef put = new_bb(L, "eye.put"), next = new_bb(L, "eye.next");
    LLVMBuildCondBr(B, in, put, next);
    LLVMPositionBuilderAtEnd(B, put);
    LLVMValueRef idx = LLVMBuildAdd(B, LLVMBuildMul(B, loop.iv, shape[1], ""), j, "");
    LLVMSetAlignment(LLVMBuildStore(B, one, LLVMBuildGEP2(B, et, base, &idx, 1, "")),
                     elem_align(elem));
    LLVMBuildBr(B, next);
    LLVMPositionBuilderAtEnd(B, next);
    loop_close(L, &loop);
    return view;
}


/* a.reshape(shape) of a C-contiguous array: the same data with the new
 * extents and C strides. One extent may be -1 (the size over the others');
 * extents that do not multiply to the size, or another negative one, end
 * the call with KERNEL_FAULT_RESHAPE (ValueError, as NumPy). */
static LLVMValueRef reshape(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *t = n->ty, *at = n->b->ty, *st = ty_concrete(n->a->ty), *i64 = ty_scalar(TY_I64);
    int nd = t->ndim;
    LLVMValueRef src = expr(L, n->b), sv = expr(L, n->a);
    LLVMValueRef size = i64c(L, 1);
    for (int d = 0; d < at->ndim; d++)
        size = LLVMBuildMul(B, size, LLVMBuildExtractValue(B, src, (unsigned)(1 + d), ""), "");
    LLVMValueRef shape[EMBER_MAX_NDIM], known = i64c(L, 1), unknown = i64c(L, 0),
                 bad = LLVMConstInt(L->t_i1, 0, 0);
    for (int d = 0; d < nd; d++) {
        shape[d] = st->kind == TY_TUPLE
            ? conv(L, n, LLVMBuildExtractValue(B, sv, (unsigned)d, ""), st->fields[d], i64)
            : conv(L, n, sv, st, i64);
        LLVMValueRef m1 = LLVMBuildICmp(B, LLVMIntEQ, shape[d], i64c(L, -1), "");
        bad = LLVMBuildOr(B, bad, LLVMBuildICmp(B, LLVMIntSLT, shape[d], i64c(L, -1), ""), "");
        unknown = LLVMBuildAdd(B, unknown, LLVMBuildZExt(B, m1, L->t_i64, ""), "");
        known = LLVMBuildMul(B, known, LLVMBuildSelect(B, m1, i64c(L, 1), shape[d], ""), "");
    }
    LLVMValueRef safe = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, known, i64c(L, 0), ""),
                                        i64c(L, 1), known, "");
    LLVMValueRef fill_in = LLVMBuildSDiv(B, size, safe, "");
    LLVMValueRef one_unknown = LLVMBuildICmp(B, LLVMIntEQ, unknown, i64c(L, 1), "");
    /* with a -1: known must divide the size (and be nonzero); else equal it */
    LLVMValueRef fits = LLVMBuildSelect(B, one_unknown,
        LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntNE, known, i64c(L, 0), ""),
                     LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, size, safe, ""), i64c(L, 0), ""), ""),
        LLVMBuildICmp(B, LLVMIntEQ, known, size, ""), "");
    bad = LLVMBuildOr(B, bad, LLVMBuildNot(B, fits, ""), "");
    bad = LLVMBuildOr(B, bad, LLVMBuildICmp(B, LLVMIntUGT, unknown, i64c(L, 1), ""), "");
    LLVMBasicBlockRef fault = new_bb(L, "reshape.bad"), ok = new_bb(L, "reshape.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef idx = i64c(L, offsetof(HostDims, fault_bytes) / 8);
    LLVMValueRef dims = LLVMBuildBitCast(B, L->call_dims, LLVMPointerType(L->t_i64, 0), "");
    LLVMBuildStore(B, size, LLVMBuildGEP2(B, L->t_i64, dims, &idx, 1, ""));
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_RESHAPE, 0), L->fault,
                LLVMAtomicOrderingMonotonic);
    abort_if(L, n, LLVMConstInt(L->t_i1, 1, 0));
    LLVMBuildUnreachable(B);
    LLVMPositionBuilderAtEnd(B, ok);
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lty(L, t)),
                                             LLVMBuildExtractValue(B, src, 0, ""), 0, "");
    LLVMValueRef stride = i64c(L, itemsize);
    for (int d = nd - 1; d >= 0; d--) {
        LLVMValueRef x = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, shape[d], i64c(L, -1), ""),
                                         fill_in, shape[d], "");
        view = LLVMBuildInsertValue(B, view, x, (unsigned)(1 + d), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + d), "");
        stride = LLVMBuildMul(B, stride, x, "");
    }
    return view;
}

/* Whether running n may create an array (ND_NEW_ARRAY here or in a callee). */
static bool creates_arrays(const Node *n, int depth)
{
    if (!n || depth > 64)
        return false;
    if (n->kind == ND_NEW_ARRAY || n->kind == ND_ARRAY_EXPR ||
        (n->kind == ND_LOCAL_ARRAY && n->op == MEM_LOCAL))
        return true;
    /* an assignment copies an array operand that overlaps its destination
     * first (array_assign); one of scalars only (a[i, :] = 2.0) never does */
    if (n->kind == ND_ARRAY_ASSIGN)
        for (int i = 0; i < n->nargs; i++)
            if (n->args[i] && n->args[i]->ty && n->args[i]->ty->kind == TY_ARRAY)
                return true;
    if (n->kind == ND_CALL && n->spec && !n->spec->recursive &&
        creates_arrays(n->spec->body, depth + 1))
        return true;
    if (creates_arrays(n->a, depth) || creates_arrays(n->b, depth) || creates_arrays(n->c, depth))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (creates_arrays(n->args[i], depth))
            return true;
    return false;
}

/* Counts (and with `out`, stores) the data pointers of the arrays in value
 * v of type t. */
static int array_pointers(Lower *L, const Type *t, LLVMValueRef v, LLVMValueRef out, int at)
{
    if (t->kind == TY_ARRAY) {
        if (out) {
            LLVMValueRef idx = i64c(L, at);
            LLVMBuildStore(L->b, LLVMBuildExtractValue(L->b, v, 0, ""),
                           LLVMBuildGEP2(L->b, L->t_ptr, out, &idx, 1, ""));
        }
        return at + 1;
    }
    for (int i = 0; t->kind == TY_TUPLE && i < t->nfields; i++)
        at = array_pointers(L, t->fields[i], v ? LLVMBuildExtractValue(L->b, v, (unsigned)i, "")
                                              : NULL, out, at);
    return at;
}

/* The end of an iteration of a loop of the ember.jit function itself whose
 * body creates arrays: host_arena_collect with the arrays every variable
 * holds, so that the arrays of earlier iterations no variable refers to any
 * more are freed (a statement boundary: no temporary holds an array).
 * Loops of inlined callees leave their arrays to the caller's loop or to
 * the end of the call. */
static void loop_collect(Lower *L, const Node *body)
{
    Function *fn = L->fn;
    if (!L->function_entry || fn != L->root_fn || !creates_arrays(body, 0))
        return;
    int count = 0;
    for (int i = 0; i < fn->nvars; i++)
        if (fn->var_types[i] && has_array(fn->var_types[i]))
            count = array_pointers(L, fn->var_types[i], NULL, NULL, count);
    LLVMValueRef roots = LLVMConstNull(LLVMPointerType(L->t_ptr, 0));
    if (count) {
        LLVMValueRef buf = entry_alloca(L, LLVMArrayType(L->t_ptr, (unsigned)count), "roots");
        roots = LLVMBuildBitCast(L->b, buf, LLVMPointerType(L->t_ptr, 0), "");
        int at = 0;
        for (int i = 0; i < fn->nvars; i++)
            if (fn->var_types[i] && has_array(fn->var_types[i]))
                at = array_pointers(L, fn->var_types[i], var_load(L, i), roots, at);
    }
    LLVMTypeRef pt[3] = {L->t_ptr, LLVMPointerType(L->t_ptr, 0), L->t_i64};
    LLVMValueRef args[3] = {LLVMBuildBitCast(L->b, L->call_dims, L->t_ptr, ""), roots, i64c(L, count)};
    call_address(L->b, L->t_i64, (void *)host_arena_collect, LLVMFunctionType(L->t_void, pt, 3, 0),
                 args, 3, "");
}
static void build_entry_fission(Lower *L, const char *symbol);

/* The usual 1-D kernel opens with `i = cuda.grid(1)` and then either
 * `if i < n: <work>` (nothing after it) or `if i >= n: return`, where n is
 * the same for every thread (built from parameters, constants, sizes and
 * shapes). Left to itself the guard makes LLVM vectorise the thread loop
 * with masked loads and stores, ~3x slower than a plain loop; instead the
 * tx loop stops at the first thread the guard would turn away (threads past
 * it run nothing else, and `i` is increasing in tx), and the body is
 * lowered without the test. GridGuard says what build_entry found. */
typedef struct GridGuard {
    const Node *assign; /* i = cuda.grid(1) */
    const Node *bound;  /* n */
    Node *const *work;  /* the statements to run for the threads that pass */
    int nwork;
} GridGuard;

static bool thread_independent(const Node *n, int depth)
{
    if (!n || depth > 16)
        return false;
    switch (n->kind) {
    case ND_CONST: case ND_PARAM:
        return true;
    case ND_ATTR: /* shapes and sizes; not reductions, which would run once per block */
        return (n->op == ATTR_SHAPE || n->op == ATTR_SIZE || n->op == ATTR_NDIM ||
                n->op == ATTR_LEN) && thread_independent(n->a, depth + 1);
    case ND_TUPLE_GET: case ND_CAST:
        return thread_independent(n->a, depth + 1);
    case ND_BINARY:
        return n->op != OP_POW && thread_independent(n->a, depth + 1) &&
               thread_independent(n->b, depth + 1);
    default:
        return false;
    }
}

static bool is_var_load(const Node *n, int var) { return n && n->kind == ND_LOAD && n->var == var; }

/* The bound of `cmp` when it reads `var < bound` (want_less) or
 * `var >= bound` (!want_less), in either operand order; else NULL. */
static const Node *guard_bound(const Node *cmp, int var, bool want_less)
{
    if (!cmp || cmp->kind != ND_COMPARE)
        return NULL;
    const Node *u = NULL;
    if (is_var_load(cmp->a, var) && cmp->op == (want_less ? OP_LT : OP_GE))
        u = cmp->b;
    else if (is_var_load(cmp->b, var) && cmp->op == (want_less ? OP_GT : OP_LE))
        u = cmp->a;
    return u && ty_is_int(u->ty) && ty_is_signed(u->ty) && thread_independent(u, 0) ? u : NULL;
}

static bool find_grid_guard(const Function *fn, GridGuard *g)
{
    const Node *body = fn->body;
    if (!body || body->kind != ND_BLOCK || body->nargs < 2)
        return false;
    const Node *as = body->args[0], *cond = body->args[1];
    if (as->kind != ND_ASSIGN || !as->a || as->a->kind != ND_INTRINSIC ||
        as->a->op != INTR_GRID || as->a->nargs != 1 || as->a->args[0]->kind != ND_CONST ||
        as->a->args[0]->ival != 1 || fn->var_types[as->var]->kind != TY_I64 ||
        cond->kind != ND_IF || cond->c)
        return false;
    const Node *then = cond->b;
    bool returns = then && ((then->kind == ND_RETURN && !then->a) ||
                            (then->kind == ND_BLOCK && then->nargs == 1 &&
                             then->args[0]->kind == ND_RETURN && !then->args[0]->a));
    g->assign = as;
    if (returns) { /* if i >= n: return, then the rest */
        g->bound = guard_bound(cond->a, as->var, false);
        g->work = body->args + 2;
        g->nwork = body->nargs - 2;
    } else if (body->nargs == 2) { /* if i < n: work */
        g->bound = guard_bound(cond->a, as->var, true);
        g->work = &cond->b;
        g->nwork = 1;
    } else {
        return false;
    }
    return g->bound != NULL;
}

static void build_entry(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    if (fission_uses_block(fn->body)) {
        build_entry_fission(L, symbol);
        return;
    }
    LLVMTypeRef params[4] = {L->t_ptr, LLVMPointerType(L->t_i64, 0), L->t_i64, L->t_i64};
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, params, 4, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(L->func, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef args = LLVMGetParam(L->func, 0), dims = LLVMGetParam(L->func, 1);
    LLVMValueRef first = LLVMGetParam(L->func, 2), last = LLVMGetParam(L->func, 3);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(dims, "dims", 4);

    LLVMBasicBlockRef entry = new_bb(L, "entry");
    LLVMBasicBlockRef prologue = new_bb(L, "prologue");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, prologue);

    /* parameters, once per block range */
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    LLVMValueRef d[6];
    for (int i = 0; i < 6; i++) {
        LLVMValueRef idx = i64c(L, i);
        LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i64, dims, &idx, 1, "");
        d[i] = LLVMBuildLoad2(L->b, L->t_i64, p, i < 3 ? "grid" : "block");
        LLVMSetAlignment(d[i], 8);
    }
    for (int i = 0; i < 3; i++) {
        L->gdim[i] = LLVMBuildTrunc(L->b, d[i], L->t_i32, "gridDim");
        L->bdim[i] = LLVMBuildTrunc(L->b, d[3 + i], L->t_i32, "blockDim");
    }
    LLVMValueRef six = i64c(L, 6); /* HostDims.fault follows the six int64s */
    L->fault = LLVMBuildBitCast(L->b, LLVMBuildGEP2(L->b, L->t_i64, dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    L->depth = LLVMConstInt(L->t_i32, 0, 0);

    LLVMBasicBlockRef exit = new_bb(L, "exit");
    CountedLoop blk, lz, ly, lx;
    loop_open(L, &blk, first, last, "blk", exit);
    LLVMValueRef b = blk.iv;
    LLVMValueRef bx = LLVMBuildSRem(L->b, b, d[0], "");
    LLVMValueRef rest = LLVMBuildSDiv(L->b, b, d[0], "");
    LLVMValueRef by = LLVMBuildSRem(L->b, rest, d[1], "");
    LLVMValueRef bz = LLVMBuildSDiv(L->b, rest, d[1], "");
    L->bid[0] = LLVMBuildTrunc(L->b, bx, L->t_i32, "blockIdx.x");
    L->bid[1] = LLVMBuildTrunc(L->b, by, L->t_i32, "blockIdx.y");
    L->bid[2] = LLVMBuildTrunc(L->b, bz, L->t_i32, "blockIdx.z");

    LLVMBasicBlockRef z_exit = new_bb(L, "tz.end");
    loop_open(L, &lz, i64c(L, 0), d[5], "tz", z_exit);
    LLVMBasicBlockRef y_exit = new_bb(L, "ty.end");
    loop_open(L, &ly, i64c(L, 0), d[4], "ty", y_exit);
    LLVMBasicBlockRef x_exit = new_bb(L, "tx.end");
    LLVMValueRef tx_end = d[3];
    GridGuard guard;
    bool guarded = find_grid_guard(fn, &guard);
    if (guarded) { /* threads [0, clamp(n - blockIdx.x * blockDim.x, 0, blockDim.x)) */
        LLVMValueRef n = conv(L, guard.bound, expr(L, (Node *)guard.bound), guard.bound->ty,
                              ty_scalar(TY_I64));
        LLVMValueRef base = LLVMBuildNSWMul(L->b, LLVMBuildZExt(L->b, L->bid[0], L->t_i64, ""),
                                            d[3], "");
        LLVMValueRef left = LLVMBuildSub(L->b, n, base, "threads.left");
        LLVMValueRef none = LLVMBuildICmp(L->b, LLVMIntSLT, n, base, "");
        LLVMValueRef all = LLVMBuildICmp(L->b, LLVMIntSGT, left, d[3], "");
        tx_end = LLVMBuildSelect(L->b, none, i64c(L, 0),
                                 LLVMBuildSelect(L->b, all, d[3], left, ""), "tx.guard");
    }
    loop_open(L, &lx, i64c(L, 0), tx_end, "tx", x_exit);
    L->tid[0] = LLVMBuildTrunc(L->b, lx.iv, L->t_i32, "threadIdx.x");
    L->tid[1] = LLVMBuildTrunc(L->b, ly.iv, L->t_i32, "threadIdx.y");
    L->tid[2] = LLVMBuildTrunc(L->b, lz.iv, L->t_i32, "threadIdx.z");
    LLVMValueRef lin = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lz.iv, d[4], ""), ly.iv, "");
    L->linear_tid = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lin, d[3], ""), lx.iv, "");
    L->ret_bb = lx.latch;

    if (guarded) {
        stmt(L, (Node *)guard.assign);
        for (int i = 0; i < guard.nwork && !LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b));
             i++)
            stmt(L, guard.work[i]);
    } else {
        stmt(L, fn->body);
    }

    loop_close(L, &lx); /* now in tx.end */
    loop_close(L, &ly); /* now in ty.end */
    loop_close(L, &lz); /* now in tz.end */
    loop_close(L, &blk); /* now in exit */
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, prologue);
}

/* ======================================================================== */
/* Barrier fission (host kernels with block-level operations)               */
/* ======================================================================== */
/*
 * A kernel with barriers, warp collectives, warp masks or shared arrays
 * (fission_uses_block, core/fission.c) gets this entry instead:
 *
 *   prologue:  parameters and dims; buf = malloc(nthreads * sizeof(Ctx) +
 *              static and dynamic shared memory), once per block range
 *   for blk in [first_block, last_block):
 *     exited[t] = 0 for every thread t        (only when the body returns)
 *     <the body by fission>
 *   free(buf)
 *
 * Ctx is one thread's context: every variable of the kernel, its
 * cuda.local.array memory, a scratch record per warp collective, a flag per
 * divergent branch, and its `exited` flag. The body by fission (fis_stmt):
 * consecutive statements that do not split (fission_splits) form a region,
 *
 *   for tz, for ty, for tx: if live(t): <statements>        (t: linear id)
 *
 * in which a `return` sets exited[t]; the variables the statements use are
 * copied into allocas at the start (registers after mem2reg) and the ones
 * they assign back at the end. A barrier ends a region. A statement that
 * splits is uniform control: its condition (range) is evaluated once per
 * block, for the first live thread, and all threads follow it; with checks
 * on (debug=True / boundscheck=True) every live thread evaluates it too and
 * a disagreement faults naming the thread and block. A statement with a
 * warp collective runs one region per collective that stores its operands
 * in the thread's scratch record, then the statement itself, in which each
 * collective reads its warp's records (a warp is 32 consecutive linear
 * thread ids). An `if` or `while` that splits only at warp-level operations,
 * or whose condition may depend on the thread, is divergent
 * (fission_divergent_if / _while): each thread's branch (or "still
 * looping") is a flag, and live(t) also asks for the flags of the branches
 * around, so the barriers inside wait for the threads on the same path.
 * Block-uniform
 * variables (fission_uniform_vars) are one alloca per block and assigned
 * between regions.
 */

#define FIS_REC_VALUE 0 /* scratch record: { i64 value bits, i64 lane / predicate, i32 mask } */
#define FIS_REC_ARG 1
#define FIS_REC_MASK 2

typedef struct Region {
    CountedLoop z, y, x;
    LLVMBasicBlockRef saved_ret;
    int *written;   /* variables the region assigns: copied back to the context */
    int nwritten;
} Region;

static int fis_find(Node *const *list, int n, const Node *x)
{
    for (int i = 0; i < n; i++)
        if (list[i] == x)
            return i;
    return -1;
}

static int64_t array_bytes(const Node *n)
{
    const Type *t = n->ty;
    int64_t bytes = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    for (int i = 0; i < n->nargs; i++)
        bytes *= n->args[i]->ival;
    return bytes;
}

/* Kernel-level local arrays, shared arrays and collectives, and whether
 * the body returns (device functions hold none of them: check()). */
static void fis_collect(Lower *L, Node *n)
{
    if (!n)
        return;
    fis_collect(L, n->a);
    fis_collect(L, n->b);
    fis_collect(L, n->c);
    for (int i = 0; i < n->nargs; i++)
        fis_collect(L, n->args[i]);
    if (n->kind == ND_RETURN)
        L->fis_has_return = true;
    if (n->kind == ND_LOCAL_ARRAY && n->op == MEM_LOCAL &&
        fis_find(L->locals, L->nlocals, n) < 0) {
        if (!grow_list((void **)&L->locals, &L->caplocals, L->nlocals + 1, sizeof *L->locals))
            fail(L, n, "out of memory");
        L->locals[L->nlocals++] = n;
    }
    if (n->kind == ND_LOCAL_ARRAY && n->op == MEM_SHARED &&
        fis_find(L->shareds, L->nshareds, n) < 0) {
        if (!grow_list((void **)&L->shareds, &L->capshareds, L->nshareds + 1, sizeof *L->shareds) ||
            !grow_list((void **)&L->shared_off, &L->capoff, L->nshareds + 1, sizeof *L->shared_off))
            fail(L, n, "out of memory");
        int64_t bytes = array_bytes(n), off = -1; /* -1: dynamic */
        if (bytes > 0) {
            off = (L->shared_static + 15) & ~(int64_t)15;
            L->shared_static = off + bytes;
        }
        L->shared_off[L->nshareds] = off;
        L->shareds[L->nshareds++] = n;
    }
    if ((fission_divergent_if(n, L->dep) || fission_divergent_while(n, L->dep)) &&
        fis_find(L->divs, L->ndivs, n) < 0) {
        if (!grow_list((void **)&L->divs, &L->capdivs, L->ndivs + 1, sizeof *L->divs))
            fail(L, n, "out of memory");
        L->divs[L->ndivs++] = n;
    }
    if (fission_is_collective(n) && fis_find(L->colls, L->ncolls, n) < 0) {
        if (!grow_list((void **)&L->colls, &L->capcolls, L->ncolls + 1, sizeof *L->colls))
            fail(L, n, "out of memory");
        L->colls[L->ncolls++] = n;
    }
}

static LLVMValueRef fis_field(Lower *L, LLVMValueRef lin, int field)
{
    LLVMValueRef t = LLVMBuildGEP2(L->b, L->ctx_ty, L->tctx, &lin, 1, "");
    return LLVMBuildStructGEP2(L->b, L->ctx_ty, t, (unsigned)field, "");
}

static int fis_exited_field(Lower *L) { return L->fn->nvars + L->nlocals + L->ncolls + L->ndivs; }
static int fis_div_field(Lower *L, int k) { return L->fn->nvars + L->nlocals + L->ncolls + k; }

/* Whether thread t runs the code being lowered: it has not returned and
 * took every divergent branch around; NULL when all threads do. */
static LLVMValueRef fis_live(Lower *L, LLVMValueRef t)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef live = NULL;
    if (L->fis_has_return) {
        LLVMValueRef ex = LLVMBuildLoad2(B, L->t_i8, fis_field(L, t, fis_exited_field(L)), "exited");
        live = LLVMBuildICmp(B, LLVMIntEQ, ex, ci(L->t_i8, 0), "");
    }
    for (int i = 0; i < L->npreds; i++) {
        LLVMValueRef f = LLVMBuildLoad2(B, L->t_i8, fis_field(L, t, L->preds[i].field), "branch");
        LLVMValueRef ok = LLVMBuildICmp(B, L->preds[i].taken ? LLVMIntNE : LLVMIntEQ, f,
                                        ci(L->t_i8, 0), "");
        live = live ? LLVMBuildAnd(B, live, ok, "") : ok;
    }
    return live;
}

/* Marks in L->touched the variables that nodes read (1) or assign (3). */
static void fis_touch(Lower *L, const Node *n)
{
    if (!n)
        return;
    if (n->kind == ND_LOAD)
        L->touched[n->var] |= 1;
    if (n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE)
        L->touched[n->var] |= 3;
    fis_touch(L, n->a);
    fis_touch(L, n->b);
    fis_touch(L, n->c);
    for (int i = 0; i < n->nargs; i++)
        fis_touch(L, n->args[i]);
}

static LLVMValueRef fis_var_slot(Lower *L, int var)
{
    if (!L->linear_tid)
        fail(L, L->fn->body, "internal error: a variable read outside a thread context");
    return fis_field(L, L->linear_tid, var);
}

/* var = v in every thread's context (a uniform loop's variable). */
static void fis_store_all(Lower *L, int var, LLVMValueRef v)
{
    CountedLoop c;
    loop_open(L, &c, i64c(L, 0), L->nthreads, "all", new_bb(L, "all.end"));
    LLVMBuildStore(L->b, v, fis_field(L, c.iv, var));
    loop_close(L, &c);
}

static void fis_thread_ids(Lower *L, LLVMValueRef tx, LLVMValueRef ty, LLVMValueRef tz)
{
    L->tid[0] = LLVMBuildTrunc(L->b, tx, L->t_i32, "threadIdx.x");
    L->tid[1] = LLVMBuildTrunc(L->b, ty, L->t_i32, "threadIdx.y");
    L->tid[2] = LLVMBuildTrunc(L->b, tz, L->t_i32, "threadIdx.z");
}

/* Opens the loop over the block's live threads that runs `nodes`. The
 * variables they use are copied from the thread's context into allocas at
 * the start and the assigned ones back at the end, so that inside the
 * region they are registers (the contexts share a buffer with shared
 * memory: LLVM could not keep them in registers across its stores). */
static void region_open(Lower *L, Region *r, Node *const *nodes, int nnodes)
{
    LLVMBasicBlockRef ze = new_bb(L, "tz.end"), ye = new_bb(L, "ty.end"),
                      xe = new_bb(L, "tx.end");
    loop_open(L, &r->z, i64c(L, 0), L->dims[5], "tz", ze);
    loop_open(L, &r->y, i64c(L, 0), L->dims[4], "ty", ye);
    loop_open(L, &r->x, i64c(L, 0), L->dims[3], "tx", xe);
    fis_thread_ids(L, r->x.iv, r->y.iv, r->z.iv);
    LLVMValueRef lin = LLVMBuildNSWAdd(L->b, LLVMBuildNSWMul(L->b, r->z.iv, L->dims[4], ""),
                                       r->y.iv, "");
    L->linear_tid = LLVMBuildNSWAdd(L->b, LLVMBuildNSWMul(L->b, lin, L->dims[3], ""), r->x.iv,
                                    "tid");
    r->saved_ret = L->ret_bb;
    L->ret_bb = r->x.latch;
    LLVMValueRef alive = fis_live(L, L->linear_tid);
    if (alive) {
        LLVMBasicBlockRef live = new_bb(L, "live");
        LLVMBuildCondBr(L->b, alive, live, r->x.latch);
        LLVMPositionBuilderAtEnd(L->b, live);
    }
    Function *fn = L->fn;
    memset(L->touched, 0, (size_t)fn->nvars + 1);
    for (int i = 0; i < nnodes; i++)
        fis_touch(L, nodes[i]);
    r->nwritten = 0;
    r->written = ir_alloc(fn, sizeof *r->written * ((size_t)fn->nvars + 1));
    if (!r->written)
        fail(L, fn->body, "out of memory");
    for (int v = 0; v < fn->nvars; v++) {
        if (!L->touched[v] || !supported_type(fn->var_types[v]) || L->uniform[v])
            continue;
        LLVMTypeRef t = mty(L, fn->var_types[v]);
        if (!L->var_slots[v])
            L->var_slots[v] = entry_alloca(L, t, fn->var_names[v]);
        LLVMBuildStore(L->b, LLVMBuildLoad2(L->b, t, fis_field(L, L->linear_tid, v), ""),
                       L->var_slots[v]);
        if (L->touched[v] & 2)
            r->written[r->nwritten++] = v;
    }
    if (L->fis_has_return) {
        LLVMValueRef ep = fis_field(L, L->linear_tid, fis_exited_field(L));
        LLVMBasicBlockRef here = LLVMGetInsertBlock(L->b), gone = new_bb(L, "thread.return");
        LLVMPositionBuilderAtEnd(L->b, gone);
        LLVMBuildStore(L->b, ci(L->t_i8, 1), ep);
        LLVMBuildBr(L->b, r->x.latch);
        L->ret_bb = gone;
        LLVMPositionBuilderAtEnd(L->b, here);
    }
    L->in_region = true;
}

static void region_close(Lower *L, Region *r)
{
    for (int i = 0; i < r->nwritten; i++) {
        int v = r->written[i];
        LLVMTypeRef t = mty(L, L->fn->var_types[v]);
        LLVMBuildStore(L->b, LLVMBuildLoad2(L->b, t, L->var_slots[v], ""),
                       fis_field(L, L->linear_tid, v));
    }
    loop_close(L, &r->x);
    loop_close(L, &r->y);
    loop_close(L, &r->z);
    L->ret_bb = r->saved_ret;
    L->in_region = false;
    L->linear_tid = NULL;
}

/* The thread context of the first live thread, for uniform control; when
 * every thread has returned, the block ends here. */
static void fis_uniform_thread(Lower *L)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef t = i64c(L, 0);
    if (L->fis_has_return || L->npreds) {
        LLVMValueRef slot = entry_alloca(L, L->t_i64, "first.live");
        LLVMBuildStore(B, i64c(L, 0), slot);
        LLVMBasicBlockRef hdr = new_bb(L, "live.hdr"), chk = new_bb(L, "live.chk"),
                          inc = new_bb(L, "live.next"), done = new_bb(L, "live.found"),
                          cont = new_bb(L, "live.any");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        LLVMValueRef i = LLVMBuildLoad2(B, L->t_i64, slot, "");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, i, L->nthreads, ""), chk, done);
        LLVMPositionBuilderAtEnd(B, chk);
        LLVMBuildCondBr(B, fis_live(L, i), done, inc);
        LLVMPositionBuilderAtEnd(B, inc);
        LLVMBuildStore(B, LLVMBuildAdd(B, i, i64c(L, 1), ""), slot);
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, done);
        t = LLVMBuildLoad2(B, L->t_i64, slot, "first");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSGE, t, L->nthreads, ""), L->skip_bb, cont);
        LLVMPositionBuilderAtEnd(B, cont);
    }
    LLVMValueRef x = LLVMBuildSRem(B, t, L->dims[3], "");
    LLVMValueRef rest = LLVMBuildSDiv(B, t, L->dims[3], "");
    fis_thread_ids(L, x, LLVMBuildSRem(B, rest, L->dims[4], ""),
                   LLVMBuildSDiv(B, rest, L->dims[4], ""));
    L->linear_tid = t;
}

/* The fault record of a failed check at n: code, site, thread and block. */
static void fis_fault(Lower *L, const Node *n, int code)
{
    LLVMBuilderRef B = L->b;
    if (!grow_list((void **)&L->sites, &L->capsites, L->nsites + 1, sizeof *L->sites))
        fail(L, n, "out of memory");
    char site[1200];
    snprintf(site, sizeof site, "%s:%d:%d", L->fn->file, n->loc.line, n->loc.col);
    if (!(L->sites[L->nsites] = em_strdup(site)))
        fail(L, n, "out of memory");
    int index = L->nsites++;
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    fault_store(L, LLVMConstInt(L->t_i32, (unsigned)index, 0),
                LLVMBuildGEP2(B, L->t_i32, L->fault, &one, 1, ""), LLVMAtomicOrderingMonotonic);
    for (int i = 0; i < 6; i++) {
        LLVMValueRef at = LLVMConstInt(L->t_i32, (unsigned)(2 + i), 0);
        fault_store(L, i < 3 ? L->tid[i] : L->bid[i - 3],
                    LLVMBuildGEP2(B, L->t_i32, L->fault, &at, 1, ""), LLVMAtomicOrderingMonotonic);
    }
    fault_store(L, LLVMConstInt(L->t_i32, (unsigned)code, 0), L->fault, LLVMAtomicOrderingRelease);
}

/* With checks on: every live thread evaluates e (as a truth value when
 * `truth_of`) and compares it with v, the first live thread's value. */
static void fis_check_uniform(Lower *L, Node *e, LLVMValueRef v, bool truth_of)
{
    if (!L->boundscheck)
        return;
    Region r;
    region_open(L, &r, &e, 1);
    LLVMValueRef w = expr(L, e);
    if (truth_of)
        w = truth(L, w, e->ty);
    LLVMValueRef bad = LLVMBuildICmp(L->b, LLVMIntNE, w, v, "");
    LLVMBasicBlockRef fb = new_bb(L, "divergent"), ok = new_bb(L, "uniform");
    LLVMBuildCondBr(L->b, bad, fb, ok);
    LLVMPositionBuilderAtEnd(L->b, fb);
    fis_fault(L, e, KERNEL_FAULT_DIVERGENT);
    LLVMBuildBr(L->b, ok);
    LLVMPositionBuilderAtEnd(L->b, ok);
    region_close(L, &r);
}

/* A uniform condition: the first live thread's truth value of e. */
static LLVMValueRef fis_uniform_cond(Lower *L, Node *e)
{
    fis_uniform_thread(L);
    LLVMValueRef v = truth(L, expr(L, e), e->ty);
    L->linear_tid = NULL;
    fis_check_uniform(L, e, v, true);
    return v;
}

static LLVMValueRef fis_record(Lower *L, LLVMValueRef lin, int k, int member)
{
    int f = L->fn->nvars + L->nlocals + k;
    return LLVMBuildStructGEP2(L->b, LLVMStructGetTypeAtIndex(L->ctx_ty, (unsigned)f),
                               fis_field(L, lin, f), (unsigned)member, "");
}

/* The warp of the current thread: ballot of the records' predicates and the
 * mask of the lanes that take part (in `mask`, existing, not returned). */
static void fis_warp_scan(Lower *L, int k, LLVMValueRef mask, LLVMValueRef *ballot,
                          LLVMValueRef *part)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef lin = L->linear_tid;
    LLVMValueRef base = LLVMBuildAnd(B, lin, i64c(L, ~(int64_t)31), "warp");
    LLVMValueRef bal = entry_alloca(L, L->t_i32, "ballot"), prt = entry_alloca(L, L->t_i32, "part");
    LLVMBuildStore(B, ci(L->t_i32, 0), bal);
    LLVMBuildStore(B, ci(L->t_i32, 0), prt);
    CountedLoop c;
    loop_open(L, &c, i64c(L, 0), i64c(L, 32), "lane", new_bb(L, "lane.end"));
    LLVMValueRef t = LLVMBuildAdd(B, base, c.iv, "");
    LLVMValueRef exists = LLVMBuildICmp(B, LLVMIntSLT, t, L->nthreads, "");
    LLVMValueRef at = LLVMBuildSelect(B, exists, t, lin, ""); /* a safe index */
    LLVMValueRef bit = LLVMBuildShl(B, ci(L->t_i32, 1), LLVMBuildTrunc(B, c.iv, L->t_i32, ""), "");
    LLVMValueRef in = LLVMBuildAnd(B, exists, LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, mask,
                                   bit, ""), ci(L->t_i32, 0), ""), "");
    LLVMValueRef alive = fis_live(L, at);
    if (alive)
        in = LLVMBuildAnd(B, in, alive, "");
    LLVMValueRef inbit = LLVMBuildSelect(B, in, bit, ci(L->t_i32, 0), "");
    LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, L->t_i32, prt, ""), inbit, ""), prt);
    if (k >= 0 && L->colls[k]->op >= INTR_MATCH_ANY) { /* the lanes whose value is ours */
        LLVMValueRef mine = LLVMBuildLoad2(B, L->t_i64, fis_record(L, lin, k, FIS_REC_VALUE), "");
        LLVMValueRef theirs = LLVMBuildLoad2(B, L->t_i64, fis_record(L, at, k, FIS_REC_VALUE), "");
        LLVMValueRef pb = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, mine, theirs, ""), inbit,
                                          ci(L->t_i32, 0), "");
        LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, L->t_i32, bal, ""), pb, ""), bal);
    } else if (k >= 0) {
        LLVMValueRef p = LLVMBuildLoad2(B, L->t_i64, fis_record(L, at, k, FIS_REC_ARG), "");
        LLVMValueRef pb = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntNE, p, i64c(L, 0), ""), inbit,
                                          ci(L->t_i32, 0), "");
        LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, L->t_i32, bal, ""), pb, ""), bal);
    }
    loop_close(L, &c);
    *ballot = LLVMBuildLoad2(B, L->t_i32, bal, "");
    *part = LLVMBuildLoad2(B, L->t_i32, prt, "");
}

/* One region that stores collective n's operands in each live thread's
 * scratch record; for syncthreads_count/and/or also the block's result. */
static void fis_phase(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    int k = fis_find(L->colls, L->ncolls, n);
    if (k < 0)
        fail(L, n, "internal error: an unknown collective");
    const Type *u32 = ty_scalar(TY_U32);
    Region r;
    region_open(L, &r, &n, 1);
    LLVMValueRef lin = L->linear_tid;
    if (n->op <= INTR_SYNCTHREADS_OR) {
        LLVMValueRef p = truth(L, expr(L, n->args[0]), n->args[0]->ty);
        LLVMBuildStore(B, LLVMBuildZExt(B, p, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_ARG));
    } else {
        LLVMValueRef mask = conv(L, n, expr(L, n->args[0]), n->args[0]->ty, u32);
        if (n->op <= INTR_SHFL_XOR || n->op >= INTR_MATCH_ANY) {
            const Type *vt = n->op <= INTR_SHFL_XOR ? n->ty : n->target;
            LLVMValueRef v = conv(L, n, expr(L, n->args[1]), n->args[1]->ty, vt);
            LLVMValueRef bits = LLVMBuildBitCast(B, v, ty_bits(vt) == 32 ? L->t_i32 : L->t_i64, "");
            LLVMBuildStore(B, LLVMBuildZExt(B, bits, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_VALUE));
            if (n->op <= INTR_SHFL_XOR) { /* the lane, and shfl_c() in the upper half */
                LLVMValueRef lane = conv(L, n, expr(L, n->args[2]), n->args[2]->ty, u32);
                LLVMValueRef c = LLVMBuildShl(B, LLVMBuildZExt(B, shfl_c(L, n), L->t_i64, ""),
                                              i64c(L, 32), "");
                LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildZExt(B, lane, L->t_i64, ""), c, ""),
                               fis_record(L, lin, k, FIS_REC_ARG));
            }
        } else {
            LLVMValueRef p = truth(L, expr(L, n->args[1]), n->args[1]->ty);
            LLVMBuildStore(B, LLVMBuildZExt(B, p, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_ARG));
        }
        LLVMBuildStore(B, mask, fis_record(L, lin, k, FIS_REC_MASK));
    }
    region_close(L, &r);
    if (n->op <= INTR_SYNCTHREADS_OR) {
        /* count the live threads and those whose predicate holds */
        LLVMValueRef cnt = entry_alloca(L, L->t_i32, "count"), live = entry_alloca(L, L->t_i32, "live");
        LLVMBuildStore(B, ci(L->t_i32, 0), cnt);
        LLVMBuildStore(B, ci(L->t_i32, 0), live);
        CountedLoop c;
        loop_open(L, &c, i64c(L, 0), L->nthreads, "count", new_bb(L, "count.end"));
        LLVMValueRef alive = fis_live(L, c.iv);
        if (!alive)
            alive = LLVMConstInt(L->t_i1, 1, 0);
        LLVMValueRef p = LLVMBuildLoad2(B, L->t_i64, fis_record(L, c.iv, k, FIS_REC_ARG), "");
        LLVMValueRef yes = LLVMBuildAnd(B, alive, LLVMBuildICmp(B, LLVMIntNE, p, i64c(L, 0), ""), "");
        LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i32, cnt, ""),
                                       LLVMBuildZExt(B, yes, L->t_i32, ""), ""), cnt);
        LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i32, live, ""),
                                       LLVMBuildZExt(B, alive, L->t_i32, ""), ""), live);
        loop_close(L, &c);
        LLVMValueRef nc = LLVMBuildLoad2(B, L->t_i32, cnt, ""), nl = LLVMBuildLoad2(B, L->t_i32, live, "");
        LLVMValueRef res = n->op == INTR_SYNCTHREADS_COUNT ? nc
            : LLVMBuildZExt(B, n->op == INTR_SYNCTHREADS_AND ? LLVMBuildICmp(B, LLVMIntEQ, nc, nl, "")
                                                             : LLVMBuildICmp(B, LLVMIntNE, nc, ci(L->t_i32, 0), ""),
                            L->t_i32, "");
        if (!L->coll_result[k])
            L->coll_result[k] = entry_alloca(L, L->t_i32, "syncthreads.result");
        LLVMBuildStore(B, res, L->coll_result[k]);
    }
    L->coll_ready[k] = true;
}

/* Phases for the collectives in e, innermost first (their results feed
 * the operands of the ones around them). */
static void fis_phases(Lower *L, Node *e)
{
    if (!e)
        return;
    fis_phases(L, e->a);
    fis_phases(L, e->b);
    fis_phases(L, e->c);
    for (int i = 0; i < e->nargs; i++)
        fis_phases(L, e->args[i]);
    if (fission_is_collective(e))
        fis_phase(L, e);
}

/* A collective's (or warp mask's) value for the current thread. PTX ISA
 * "shfl.sync" with c from shfl_c(): segmask = c[12:8], maxLane = (lane &
 * segmask) | (c[4:0] & ~segmask), minLane = lane & segmask; with b's low
 * 5 bits the source lane j is lane - b (up, valid when >= maxLane), lane +
 * b (down, valid when <= maxLane), lane ^ b (bfly, valid when <= maxLane),
 * minLane | (b & ~segmask) (idx, valid when <= maxLane); an invalid lane (or
 * one past the block's last thread) gives the caller's own value. Votes and
 * ballot count the lanes in the caller's mask that exist and have not
 * returned. */
static LLVMValueRef fis_block_intrinsic(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    if (!L->linear_tid)
        fail(L, n, "internal error: a warp operation outside a thread context");
    LLVMValueRef lin = L->linear_tid;
    LLVMValueRef lane = LLVMBuildAnd(B, lin, i64c(L, 31), "lane");
    if (n->op == INTR_LANEMASK_LT)
        return LLVMBuildSub(B, LLVMBuildShl(B, ci(L->t_i32, 1), LLVMBuildTrunc(B, lane, L->t_i32, ""), ""),
                            ci(L->t_i32, 1), "lanemask_lt");
    if (n->op == INTR_ACTIVEMASK) {
        LLVMValueRef bal, part;
        fis_warp_scan(L, -1, ci(L->t_i32, -1), &bal, &part);
        return part;
    }
    int k = fis_find(L->colls, L->ncolls, n);
    if (k < 0 || !L->coll_ready[k])
        fail(L, n, "internal error: %s lowered before its operands", fission_op_name(n));
    if (n->op <= INTR_SYNCTHREADS_OR)
        return LLVMBuildLoad2(B, L->t_i32, L->coll_result[k], "");
    if (n->op <= INTR_SHFL_XOR) {
        LLVMValueRef arg = LLVMBuildLoad2(B, L->t_i64, fis_record(L, lin, k, FIS_REC_ARG), "");
        LLVMValueRef b = LLVMBuildAnd(B, arg, i64c(L, 31), "");
        LLVMValueRef c = LLVMBuildLShr(B, arg, i64c(L, 32), "");
        LLVMValueRef seg = LLVMBuildAnd(B, LLVMBuildLShr(B, c, i64c(L, 8), ""), i64c(L, 31), "segmask");
        LLVMValueRef notseg = LLVMBuildXor(B, seg, i64c(L, 31), "");
        LLVMValueRef minlane = LLVMBuildAnd(B, lane, seg, "minlane");
        LLVMValueRef maxlane = LLVMBuildOr(B, minlane, LLVMBuildAnd(B, c, notseg, ""), "maxlane");
        LLVMValueRef j;
        LLVMIntPredicate ok = LLVMIntSLE;
        switch (n->op) {
        case INTR_SHFL_UP:
            j = LLVMBuildSub(B, lane, b, "");
            ok = LLVMIntSGE;
            break;
        case INTR_SHFL_DOWN:
            j = LLVMBuildAdd(B, lane, b, "");
            break;
        case INTR_SHFL_XOR:
            j = LLVMBuildXor(B, lane, b, "");
            break;
        default:
            j = LLVMBuildOr(B, minlane, LLVMBuildAnd(B, b, notseg, ""), "");
        }
        LLVMValueRef valid = LLVMBuildICmp(B, ok, j, maxlane, "");
        LLVMValueRef src = LLVMBuildAdd(B, LLVMBuildSub(B, lin, lane, ""), j, "");
        valid = LLVMBuildAnd(B, valid, LLVMBuildICmp(B, LLVMIntSLT, src, L->nthreads, ""), "");
        src = LLVMBuildSelect(B, valid, src, lin, "src");
        LLVMValueRef bits = LLVMBuildLoad2(B, L->t_i64, fis_record(L, src, k, FIS_REC_VALUE), "");
        if (ty_bits(n->ty) == 32)
            bits = LLVMBuildTrunc(B, bits, L->t_i32, "");
        return LLVMBuildBitCast(B, bits, lty(L, n->ty), "shfl");
    }
    LLVMValueRef mask = LLVMBuildLoad2(B, L->t_i32, fis_record(L, lin, k, FIS_REC_MASK), "");
    LLVMValueRef bal, part;
    fis_warp_scan(L, k, mask, &bal, &part);
    switch (n->op) {
    case INTR_BALLOT: case INTR_MATCH_ANY: return bal;
    case INTR_MATCH_ALL: { /* bal: the lanes equal to ours; all of them: (mask, True) */
        LLVMValueRef same = LLVMBuildICmp(B, LLVMIntEQ, bal, part, "");
        LLVMValueRef t = LLVMGetUndef(lty(L, n->ty));
        t = LLVMBuildInsertValue(B, t, LLVMBuildSelect(B, same, part, ci(L->t_i32, 0), ""), 0, "");
        return LLVMBuildInsertValue(B, t, same, 1, "match_all");
    }
    case INTR_VOTE_ALL: return LLVMBuildICmp(B, LLVMIntEQ, bal, part, "all");
    case INTR_VOTE_ANY: return LLVMBuildICmp(B, LLVMIntNE, bal, ci(L->t_i32, 0), "any");
    default:
        return LLVMBuildOr(B, LLVMBuildICmp(B, LLVMIntEQ, bal, ci(L->t_i32, 0), ""),
                           LLVMBuildICmp(B, LLVMIntEQ, bal, part, ""), "uni");
    }
}

/* Memory of a shared array (this worker's shared buffer; extent 0: the
 * dynamic part after the static arrays) or of a kernel-level local array
 * (the current thread's context). */
static LLVMValueRef fis_array_memory(Lower *L, Node *n, LLVMValueRef *dyn_len, int64_t itemsize)
{
    if (n->op == MEM_LOCAL) {
        int k = fis_find(L->locals, L->nlocals, n);
        if (k < 0 || !L->linear_tid)
            fail(L, n, "internal error: a local array outside a thread context");
        return fis_field(L, L->linear_tid, L->fn->nvars + k);
    }
    int k = fis_find(L->shareds, L->nshareds, n);
    if (k < 0)
        fail(L, n, "internal error: an unknown shared array");
    int64_t off = L->shared_off[k];
    if (off < 0) {
        off = (L->shared_static + 15) & ~(int64_t)15;
        *dyn_len = LLVMBuildSDiv(L->b, L->dyn_shared, i64c(L, itemsize), "dynamic.len");
    }
    LLVMValueRef o = i64c(L, off);
    return LLVMBuildGEP2(L->b, L->t_i8, L->shared, &o, 1, "shared");
}

/* An assignment to a uniform variable: it runs once per block, between
 * regions (fission_uniform_vars placed every one at uniform level). */
static bool fis_hoisted(Lower *L, const Node *n)
{
    return n->kind == ND_ASSIGN && L->uniform[n->var];
}

/* A statement at uniform level (outside any region). */
static void fis_stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Region r;
    bool body_splits = n->kind == ND_IF ? fission_splits(n->b) || fission_splits(n->c)
                     : n->kind == ND_WHILE ? fission_splits(n->b) || fission_contains_barrier(n->a)
                     : n->kind == ND_FOR_RANGE ? fission_splits(n->b) : false;
    if (n->kind == ND_BLOCK) {
        for (int i = 0; i < n->nargs;) {
            if (fission_splits(n->args[i]) || fis_hoisted(L, n->args[i])) {
                fis_stmt(L, n->args[i++]);
                continue;
            }
            int j = i;
            while (j < n->nargs && !fission_splits(n->args[j]) && !fis_hoisted(L, n->args[j]))
                j++;
            region_open(L, &r, n->args + i, j - i);
            for (; i < j; i++)
                stmt(L, n->args[i]);
            region_close(L, &r);
        }
        return;
    }
    if (n->kind == ND_SYNC) /* the regions before and after are apart already */
        return;
    if (fis_hoisted(L, n)) { /* once per block */
        var_store(L, n->var, conv(L, n, expr(L, n->a), n->a->ty, L->fn->var_types[n->var]));
        return;
    }
    if (n->kind == ND_BREAK || n->kind == ND_CONTINUE) { /* out of a uniform loop */
        if (L->nloops == 0)
            fail(L, n, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        LLVMBuildBr(B, n->kind == ND_BREAK ? L->loops[L->nloops - 1].brk
                                           : L->loops[L->nloops - 1].cont);
        start_dead_block(L);
        return;
    }
    if (!body_splits) {
        /* a statement with warp collectives (or none): their phases, then
         * the statement itself in one region */
        if (n->kind == ND_IF || n->kind == ND_WHILE)
            fis_phases(L, n->a);
        else if (n->kind == ND_FOR_RANGE)
            for (int i = 0; i < n->nargs; i++)
                fis_phases(L, n->args[i]);
        else
            fis_phases(L, n);
        region_open(L, &r, &n, 1);
        stmt(L, n);
        region_close(L, &r);
        return;
    }
    if (fission_divergent_while(n, L->dep)) {
        /* each thread's "still looping" flag; the loop goes on while some
         * thread's does; the condition and body run for those threads */
        int k = fis_find(L->divs, L->ndivs, n);
        if (k < 0 || L->npreds >= MAX_LOOP_DEPTH)
            fail(L, n, "internal error: divergent loops nested too deep");
        int f = fis_div_field(L, k);
        region_open(L, &r, NULL, 0);
        LLVMBuildStore(B, ci(L->t_i8, 1), fis_field(L, L->linear_tid, f));
        region_close(L, &r);
        LLVMBasicBlockRef hdr = new_bb(L, "dwhile.hdr"), body = new_bb(L, "dwhile.body"),
                          exit = new_bb(L, "dwhile.end");
        LLVMValueRef any = entry_alloca(L, L->t_i8, "looping");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        L->preds[L->npreds].field = f;
        L->preds[L->npreds++].taken = true;
        fis_phases(L, n->a);
        LLVMBuildStore(B, ci(L->t_i8, 0), any);
        region_open(L, &r, &n->a, 1);
        LLVMValueRef c = LLVMBuildZExt(B, truth(L, expr(L, n->a), n->a->ty), L->t_i8, "");
        LLVMBuildStore(B, c, fis_field(L, L->linear_tid, f));
        LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, L->t_i8, any, ""), c, ""), any);
        region_close(L, &r);
        if (L->boundscheck && fission_has_block_barrier(n->b)) {
            /* checks on: a thread leaving while others go on to a barrier */
            L->npreds--;
            region_open(L, &r, NULL, 0);
            LLVMValueRef left = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildLoad2(B, L->t_i8,
                                              fis_field(L, L->linear_tid, f), ""), ci(L->t_i8, 0), "");
            LLVMValueRef others = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildLoad2(B, L->t_i8, any, ""),
                                                ci(L->t_i8, 0), "");
            LLVMBasicBlockRef bad = new_bb(L, "divergent"), ok = new_bb(L, "uniform");
            LLVMBuildCondBr(B, LLVMBuildAnd(B, left, others, ""), bad, ok);
            LLVMPositionBuilderAtEnd(B, bad);
            fis_fault(L, n->a, KERNEL_FAULT_DIVERGENT);
            LLVMBuildBr(B, ok);
            LLVMPositionBuilderAtEnd(B, ok);
            region_close(L, &r);
            L->npreds++;
        }
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, LLVMBuildLoad2(B, L->t_i8, any, ""),
                                         ci(L->t_i8, 0), ""), body, exit);
        LLVMPositionBuilderAtEnd(B, body);
        LLVMBasicBlockRef saved_skip = L->skip_bb;
        L->skip_bb = hdr;
        if (n->b)
            stmt(L, n->b);
        L->skip_bb = saved_skip;
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, exit);
        L->npreds--;
        return;
    }
    if (fission_divergent_if(n, L->dep)) {
        /* each thread's branch in its flag; each branch runs for the
         * threads that took it */
        int k = fis_find(L->divs, L->ndivs, n);
        if (k < 0 || L->npreds >= MAX_LOOP_DEPTH)
            fail(L, n, "internal error: divergent branches nested too deep");
        fis_phases(L, n->a);
        region_open(L, &r, &n->a, 1);
        LLVMValueRef c = truth(L, expr(L, n->a), n->a->ty);
        LLVMBuildStore(B, LLVMBuildZExt(B, c, L->t_i8, ""), fis_field(L, L->linear_tid,
                                                                     fis_div_field(L, k)));
        region_close(L, &r);
        if (L->boundscheck && (fission_has_block_barrier(n->b) || fission_has_block_barrier(n->c)))
            (void)fis_uniform_cond(L, n->a); /* checks on: do all threads agree? */
        LLVMBasicBlockRef saved_skip = L->skip_bb;
        for (int branch = 0; branch < 2; branch++) {
            Node *body = branch == 0 ? n->b : n->c;
            if (!body)
                continue;
            L->preds[L->npreds].field = fis_div_field(L, k);
            L->preds[L->npreds++].taken = branch == 0;
            LLVMBasicBlockRef end = new_bb(L, "branch.end");
            L->skip_bb = end;
            stmt(L, body);
            LLVMBuildBr(B, end);
            LLVMPositionBuilderAtEnd(B, end);
            L->npreds--;
        }
        L->skip_bb = saved_skip;
        return;
    }
    switch (n->kind) {
    case ND_IF:
        fis_phases(L, n->a);
        if_branches(L, fis_uniform_cond(L, n->a), n, "uif");
        return;
    case ND_WHILE: {
        LLVMBasicBlockRef hdr = new_bb(L, "uwhile.hdr"), body = new_bb(L, "uwhile.body");
        LLVMBasicBlockRef exit = new_bb(L, "uwhile.end");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        fis_phases(L, n->a);
        LLVMBuildCondBr(B, fis_uniform_cond(L, n->a), body, exit);
        LLVMPositionBuilderAtEnd(B, body);
        push_loop(L, n, exit, hdr);
        if (n->b)
            stmt(L, n->b);
        L->nloops--;
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, exit);
        return;
    }
    case ND_FOR_RANGE: {
        for (int i = 0; i < n->nargs; i++)
            fis_phases(L, n->args[i]);
        if (L->boundscheck)
            for (int i = 0; i < n->nargs; i++) {
                fis_uniform_thread(L);
                LLVMValueRef v = expr(L, n->args[i]);
                L->linear_tid = NULL;
                fis_check_uniform(L, n->args[i], v, false);
            }
        fis_uniform_thread(L);
        for_range(L, n); /* bounds: the first live thread's; the variable: every thread's */
        L->linear_tid = NULL;
        return;
    }
    default:
        fail(L, n, "internal error: statement kind %d at uniform level", n->kind);
    }
}

static void build_entry_fission(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    L->fis = true;
    L->uniform = em_calloc((size_t)fn->nvars + 1, sizeof *L->uniform);
    L->dep = em_calloc((size_t)fn->nvars + 1, sizeof *L->dep);
    if (!L->uniform || !L->dep)
        fail(L, fn->body, "out of memory");
    fission_thread_dependence(fn, L->dep);
    fission_uniform_vars(fn, L->dep, L->uniform);
    fis_collect(L, fn->body);
    if (L->shared_static > SHARED_ARRAY_MAX_BYTES)
        fail(L, fn->body, "cuda.shared.array: %lld bytes of static shared memory in all, more "
             "than %d KiB (the most shared memory a block can have)",
             (long long)L->shared_static, SHARED_ARRAY_MAX_BYTES >> 10);
    L->coll_result = em_calloc((size_t)L->ncolls + 1, sizeof *L->coll_result);
    L->coll_ready = em_calloc((size_t)L->ncolls + 1, sizeof *L->coll_ready);
    L->touched = em_calloc((size_t)fn->nvars + 1, 1);
    int nf = fn->nvars + L->nlocals + L->ncolls + L->ndivs + 1;
    LLVMTypeRef *ft = ir_alloc(fn, sizeof *ft * (size_t)nf);
    if (!L->coll_result || !L->coll_ready || !L->touched || !L->uniform || !L->dep || !ft)
        fail(L, fn->body, "out of memory");
    for (int i = 0; i < fn->nvars; i++)
        ft[i] = supported_type(fn->var_types[i]) ? mty(L, fn->var_types[i]) : L->t_i8;
    for (int i = 0; i < L->nlocals; i++) {
        const Node *a = L->locals[i];
        ft[fn->nvars + i] = LLVMArrayType(mty(L, a->ty->elem),
                                          (unsigned)(array_bytes(a) / (ty_bits(a->ty->elem) < 8
                                                     ? 1 : ty_bits(a->ty->elem) / 8)));
    }
    LLVMTypeRef rec[3] = {L->t_i64, L->t_i64, L->t_i32};
    for (int i = 0; i < L->ncolls; i++)
        ft[fn->nvars + L->nlocals + i] = LLVMStructTypeInContext(L->ctx, rec, 3, 0);
    for (int i = 0; i < L->ndivs; i++)
        ft[fis_div_field(L, i)] = L->t_i8;
    ft[nf - 1] = L->t_i8;
    L->ctx_ty = LLVMStructCreateNamed(L->ctx, "ember.thread");
    LLVMStructSetBody(L->ctx_ty, ft, (unsigned)nf, 0);

    LLVMTypeRef params[4] = {L->t_ptr, LLVMPointerType(L->t_i64, 0), L->t_i64, L->t_i64};
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, params, 4, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(L->func, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef args = LLVMGetParam(L->func, 0), dims = LLVMGetParam(L->func, 1);
    LLVMValueRef first = LLVMGetParam(L->func, 2), last = LLVMGetParam(L->func, 3);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(dims, "dims", 4);
    LLVMBasicBlockRef entry = new_bb(L, "entry"), prologue = new_bb(L, "prologue");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, prologue);
    LLVMBuilderRef B = L->b;
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    for (int i = 0; i < 6; i++) {
        LLVMValueRef idx = i64c(L, i);
        L->dims[i] = LLVMBuildLoad2(B, L->t_i64, LLVMBuildGEP2(B, L->t_i64, dims, &idx, 1, ""),
                                    i < 3 ? "grid" : "block");
        LLVMSetAlignment(L->dims[i], 8);
    }
    for (int i = 0; i < 3; i++) {
        L->gdim[i] = LLVMBuildTrunc(B, L->dims[i], L->t_i32, "gridDim");
        L->bdim[i] = LLVMBuildTrunc(B, L->dims[3 + i], L->t_i32, "blockDim");
    }
    LLVMValueRef six = i64c(L, 6), dsh = i64c(L, HOST_DIMS_DYNAMIC_SHARED_OFFSET / 8);
    L->fault = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i64, dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    L->dyn_shared = LLVMBuildLoad2(B, L->t_i64, LLVMBuildGEP2(B, L->t_i64, dims, &dsh, 1, ""),
                                   "dynamic_shared");
    L->depth = LLVMConstInt(L->t_i32, 0, 0);
    L->nthreads = LLVMBuildNSWMul(B, LLVMBuildNSWMul(B, L->dims[3], L->dims[4], ""), L->dims[5],
                                  "nthreads");
    /* contexts, then shared memory, 16-byte aligned */
    LLVMValueRef ctx_bytes = LLVMBuildMul(B, L->nthreads, LLVMSizeOf(L->ctx_ty), "");
    ctx_bytes = LLVMBuildAnd(B, LLVMBuildAdd(B, ctx_bytes, i64c(L, 15), ""), i64c(L, ~(int64_t)15), "");
    LLVMValueRef total = LLVMBuildAdd(B, LLVMBuildAdd(B, ctx_bytes, i64c(L, ((L->shared_static + 15)
                                      & ~(int64_t)15) + 16), ""), L->dyn_shared, "scratch.bytes");
    LLVMValueRef buf = call_named(L, "malloc", L->t_ptr, &L->t_i64, &total, 1);
    LLVMBasicBlockRef oom = new_bb(L, "scratch.none"), run = new_bb(L, "scratch.ok"),
                      exit = new_bb(L, "exit");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, buf, LLVMConstNull(L->t_ptr), ""), oom, run);
    LLVMPositionBuilderAtEnd(B, oom);
    fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_SCRATCH, 0), L->fault,
                LLVMAtomicOrderingRelease);
    LLVMBuildRetVoid(B);
    LLVMPositionBuilderAtEnd(B, run);
    L->tctx = LLVMBuildBitCast(B, buf, LLVMPointerType(L->ctx_ty, 0), "ctx");
    L->shared = LLVMBuildGEP2(B, L->t_i8, buf, &ctx_bytes, 1, "shared");

    CountedLoop blk;
    LLVMBasicBlockRef done = new_bb(L, "blocks.end");
    loop_open(L, &blk, first, last, "blk", done);
    LLVMValueRef bx = LLVMBuildSRem(B, blk.iv, L->dims[0], "");
    LLVMValueRef rest = LLVMBuildSDiv(B, blk.iv, L->dims[0], "");
    L->bid[0] = LLVMBuildTrunc(B, bx, L->t_i32, "blockIdx.x");
    L->bid[1] = LLVMBuildTrunc(B, LLVMBuildSRem(B, rest, L->dims[1], ""), L->t_i32, "blockIdx.y");
    L->bid[2] = LLVMBuildTrunc(B, LLVMBuildSDiv(B, rest, L->dims[1], ""), L->t_i32, "blockIdx.z");
    if (L->fis_has_return) {
        CountedLoop c;
        loop_open(L, &c, i64c(L, 0), L->nthreads, "reset", new_bb(L, "reset.end"));
        LLVMBuildStore(B, ci(L->t_i8, 0), fis_field(L, c.iv, fis_exited_field(L)));
        loop_close(L, &c);
    }
    L->skip_bb = blk.latch;
    L->ret_bb = blk.latch;
    stmt(L, fn->body);
    loop_close(L, &blk); /* now in blocks.end */
    call_named(L, "free", L->t_void, &L->t_ptr, &buf, 1);
    LLVMBuildBr(B, exit);
    LLVMPositionBuilderAtEnd(B, exit);
    LLVMBuildRetVoid(B);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, prologue);
}

/* Stores value v of type t at ret + *off (advanced by abi_size(t)): the
 * Argument ABI of core/ir.h, the inverse of unpack(). */
static void pack_ret(Lower *L, LLVMValueRef ret, const Type *t, LLVMValueRef v, size_t *off)
{
    size_t at = *off;
    *off += abi_size(t);
    if (t->kind == TY_TUPLE) {
        for (int i = 0; i < t->nfields; i++)
            pack_ret(L, ret, t->fields[i], LLVMBuildExtractValue(L->b, v, (unsigned)i, ""), &at);
        return;
    }
    if (t->kind == TY_ARRAY) { /* { data, shape[ndim], strides[ndim] } */
        for (int i = 0; i < 1 + 2 * t->ndim; i++) {
            LLVMValueRef f = LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
            LLVMValueRef o = i64c(L, (int64_t)(at + 8 * (size_t)i));
            LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, ret, &o, 1, "");
            p = LLVMBuildBitCast(L->b, p, LLVMPointerType(LLVMTypeOf(f), 0), "");
            LLVMSetAlignment(LLVMBuildStore(L->b, f, p), 8);
        }
        return;
    }
    LLVMTypeRef mt = mty(L, t);
    if (ty_concrete(t)->kind == TY_BOOL)
        v = LLVMBuildZExt(L->b, v, mt, "");
    LLVMValueRef o = i64c(L, (int64_t)at);
    LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, ret, &o, 1, "");
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(mt, 0), "");
    LLVMSetAlignment(LLVMBuildStore(L->b, v, p), 8);
}

/* A type with every weak part made concrete (a returned `(1, 2.0)` is
 * (int64, float64)); NULL when out of memory. */
static const Type *deep_concrete(const Type *t)
{
    if (!t || t->kind != TY_TUPLE)
        return ty_concrete(t);
    const Type *f[64];
    if (t->nfields > 64)
        return t;
    for (int i = 0; i < t->nfields; i++)
        if (!(f[i] = deep_concrete(t->fields[i])))
            return NULL;
    return ty_tuple(t->nfields, f);
}

static bool has_array(const Type *t)
{
    if (t->kind == TY_ARRAY)
        return true;
    for (int i = 0; t->kind == TY_TUPLE && i < t->nfields; i++)
        if (has_array(t->fields[i]))
            return true;
    return false;
}

/* The host entry of an ember.jit function (not a kernel):
 *   void symbol(const char *args, char *ret, HostDims *dims)
 * The parameters are unpacked as a kernel's; the body runs once, like an
 * inlined device function whose `return` stores into a local and jumps to
 * the exit, where the value is packed into `ret` per the Argument ABI
 * (abi_size(return type) bytes; nothing for None). `dims` carries only the
 * fault record (bounds checks, recursion depth): there are no threads. */
static void build_entry_function(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    LLVMTypeRef params[3] = {L->t_ptr, L->t_ptr, LLVMPointerType(L->t_i64, 0)};
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, params, 3, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(L->func, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef args = LLVMGetParam(L->func, 0), ret = LLVMGetParam(L->func, 1);
    LLVMValueRef dims = LLVMGetParam(L->func, 2);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(ret, "ret", 3);
    LLVMSetValueName2(dims, "dims", 4);
    L->call_dims = dims;

    LLVMBasicBlockRef entry = new_bb(L, "entry"), body = new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    LLVMValueRef zero32 = LLVMConstInt(L->t_i32, 0, 0);
    for (int i = 0; i < 3; i++) { /* one thread of one block (fault records read them) */
        L->tid[i] = L->bid[i] = zero32;
        L->bdim[i] = L->gdim[i] = LLVMConstInt(L->t_i32, 1, 0);
    }
    L->linear_tid = i64c(L, 0);
    LLVMValueRef six = i64c(L, 6); /* HostDims.fault follows the six int64s */
    L->fault = LLVMBuildBitCast(L->b, LLVMBuildGEP2(L->b, L->t_i64, dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    L->depth = zero32;

    const Type *rt = fn->return_type;
    L->ret_bb = new_bb(L, "exit");
    LLVMValueRef result = lower_body(L, fn->body, rt, "result");
    if (result) {
        size_t roff = 0;
        pack_ret(L, ret, rt, result, &roff);
    }
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);
}

/* NVVM: the thread and block indices and dims from the PTX special
 * registers, read once at the function's start, and the module's fault
 * record { i32 fault, i32 site, i32 thread[3], i32 block[3] } in global
 * memory, which the launch reads. */
static void nvvm_thread_state(Lower *L)
{
    static const char *const axes = "xyz";
    for (int i = 0; i < 3; i++) {
        char name[48];
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.tid.%c", axes[i]);
        L->tid[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.ctaid.%c", axes[i]);
        L->bid[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.ntid.%c", axes[i]);
        L->bdim[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.nctaid.%c", axes[i]);
        L->gdim[i] = read_sreg(L, name);
    }
    LLVMValueRef bx = LLVMBuildZExt(L->b, L->bdim[0], L->t_i64, "");
    LLVMValueRef by = LLVMBuildZExt(L->b, L->bdim[1], L->t_i64, "");
    LLVMValueRef lin = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, LLVMBuildZExt(L->b, L->tid[2], L->t_i64, ""), by, ""),
                                    LLVMBuildZExt(L->b, L->tid[1], L->t_i64, ""), "");
    L->linear_tid = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lin, bx, ""),
                                 LLVMBuildZExt(L->b, L->tid[0], L->t_i64, ""), "linear_tid");
    LLVMTypeRef ft = LLVMArrayType(L->t_i32, 8);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, ft, LOWER_NVVM_FAULT_SYMBOL, 1);
    LLVMSetInitializer(g, LLVMConstNull(ft));
    LLVMSetAlignment(g, 8);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    L->fault = LLVMConstAddrSpaceCast(LLVMConstInBoundsGEP2(ft, g, zero, 2),
                                      LLVMPointerType(L->t_i32, 0));
}

/* NVVM, a device function on its own (cuda.compile_ptx(device=True)): a
 * visible `.func` taking its parameters as values (numbers; arrays as
 * { i8 *data, i64 shape[n], i64 strides[n] }; tuples as structs) and
 * returning its value (void when it returns nothing); the thread indices
 * come from the special registers. Code of other languages can call it. */
static void build_device_function_nvvm(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    LLVMTypeRef *pt = ir_alloc(fn, sizeof *pt * (size_t)(fn->nparams + 1));
    if (!pt)
        fail(L, NULL, "out of memory");
    for (int i = 0; i < fn->nparams; i++)
        pt[i] = lty(L, fn->param_types[i]);
    const Type *rt = fn->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMTypeRef fty = LLVMFunctionType(has_value ? lty(L, rt) : L->t_void, pt,
                                       (unsigned)fn->nparams, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    name_params(L->func);
    begin_line_tables(L, symbol);
    LLVMBasicBlockRef entry = new_bb(L, "entry"), body = new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = LLVMGetParam(L->func, (unsigned)i);
    nvvm_thread_state(L);
    L->depth = LLVMConstInt(L->t_i32, 0, 0);
    L->ret_bb = new_bb(L, "ret");
    LLVMValueRef result = lower_body(L, fn->body, rt, "");
    if (result)
        LLVMBuildRet(L->b, result);
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);
    add_nvvmir_version(L);
    LLVMSetTarget(L->mod, "nvptx64-nvidia-cuda");
    LLVMSetDataLayout(L->mod, "e-i64:64-i128:128-v16:16-v32:32-n16:32:64");
}

/* NVVM: `void symbol(i64 slot0, i64 slot1, ...)`, the packed arguments as
 * 8-byte slots (lower.h). The slots go to a local buffer that the shared
 * unpack() reads like the host's `args` (NVVM's optimiser keeps them in
 * registers); the indices come from the special registers once, at entry;
 * a `return` of the kernel ends the thread. */
static void build_entry_nvvm(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    size_t size = 0;
    for (int i = 0; i < fn->nparams; i++)
        size += abi_size(fn->param_types[i]);
    unsigned nslots = (unsigned)(size / 8);
    LLVMTypeRef *pt = ir_alloc(fn, sizeof *pt * (nslots + 1));
    if (!pt)
        fail(L, NULL, "out of memory");
    for (unsigned i = 0; i < nslots; i++)
        pt[i] = L->t_i64;
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, pt, nslots, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    name_params(L->func);
    begin_line_tables(L, symbol);

    LLVMBasicBlockRef entry = new_bb(L, "entry"), body = new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    if (nslots) {
        LLVMValueRef buf = entry_alloca(L, LLVMArrayType(L->t_i64, nslots), "args");
        LLVMSetAlignment(buf, 8);
        LLVMValueRef base = LLVMBuildBitCast(L->b, buf, LLVMPointerType(L->t_i64, 0), "");
        for (unsigned i = 0; i < nslots; i++) {
            LLVMValueRef idx = i64c(L, i);
            LLVMValueRef slot = LLVMBuildGEP2(L->b, L->t_i64, base, &idx, 1, "");
            LLVMSetAlignment(LLVMBuildStore(L->b, LLVMGetParam(L->func, i), slot), 8);
        }
        LLVMValueRef args = LLVMBuildBitCast(L->b, buf, L->t_ptr, "");
        size_t off = 0;
        for (int i = 0; i < fn->nparams; i++)
            L->params[i] = unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    }
    nvvm_thread_state(L);
    L->depth = LLVMConstInt(L->t_i32, 0, 0);

    LLVMBasicBlockRef exit = new_bb(L, "exit");
    L->ret_bb = exit;
    stmt(L, fn->body);
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b)))
        LLVMBuildBr(L->b, exit);
    LLVMPositionBuilderAtEnd(L->b, exit);
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);

    /* !nvvm.annotations: this function is a kernel; !nvvmir.version */
    LLVMValueRef kmd[3] = {L->func, LLVMMDStringInContext(L->ctx, "kernel", 6),
                           LLVMConstInt(L->t_i32, 1, 0)};
    LLVMAddNamedMetadataOperand(L->mod, "nvvm.annotations", LLVMMDNodeInContext(L->ctx, kmd, 3));
    add_nvvmir_version(L);
    LLVMSetTarget(L->mod, "nvptx64-nvidia-cuda");
    LLVMSetDataLayout(L->mod, "e-i64:64-i128:128-v16:16-v32:32-n16:32:64");
}

/* Builds the module for the typed kernel `fn` in `ctx`, with the entry
 * function named `symbol`. On success the caller owns *out; on failure
 * nothing is left behind and the error is recorded on fn (ir_error). */
ember_status lower_module(Function *fn, LLVMContextRef ctx, const LowerOptions *opt,
                          const char *symbol, LLVMModuleRef *out, char ***sites, int *nsites)
{
    *out = NULL;
    *sites = NULL;
    *nsites = 0;
    if (!fn || !fn->body || !opt)
        return em_error(EMBER_ERR_INVALID_ARG, "lower_module: no function body or options");
    /* a non-kernel root: an ember.jit function (host), or a device function
     * compiled on its own (NVVM, cuda.compile_ptx(device=True)) */
    if (!fn->is_kernel && opt->target == LOWER_HOST) {
        /* numbers, arrays and tuples of them come back */
        const Type *rt = deep_concrete(fn->return_type);
        if (!rt)
            return EMBER_ERR_OUT_OF_MEMORY;
        fn->return_type = rt;
    }
    Lower *L = em_calloc(1, sizeof *L);
    if (!L)
        return EMBER_ERR_OUT_OF_MEMORY;
    L->target = opt->target;
    L->opt = opt;
    L->root_fn = fn;
    L->nvvmir[0] = opt->nvvmir_major;
    L->nvvmir[1] = opt->nvvmir_minor;
    L->fn = fn;
    L->ctx = ctx;
    L->boundscheck = fn->boundscheck;
    L->function_entry = !fn->is_kernel && opt->target == LOWER_HOST;
    ember_status st = EMBER_SUCCESS;
    for (int i = 0; i < fn->nparams; i++) {
        char s[256];
        if (!supported_type(fn->param_types[i])) {
            st = ir_error(fn, fn->body->loc, "parameter '%s' of type %s cannot be passed to a CPU kernel",
                          fn->param_names[i], tstr(fn->param_types[i], s));
            goto out_free;
        }
    }
    if (L->target == LOWER_HOST && fn->is_kernel && (st = fission_inline(fn)))
        goto out_free;
    if ((st = check(L, fn->body, 0)))
        goto out_free;
    if (L->target == LOWER_HOST && fn->is_kernel && (st = fission_check(fn)))
        goto out_free;
    L->var_slots = em_calloc((size_t)fn->nvars + 1, sizeof *L->var_slots);
    L->params = em_calloc((size_t)fn->nparams + 1, sizeof *L->params);
    if (!L->var_slots || !L->params) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto out_free;
    }
    L->t_void = LLVMVoidTypeInContext(ctx);
    L->t_i1 = LLVMInt1TypeInContext(ctx);
    L->t_i8 = LLVMInt8TypeInContext(ctx);
    L->t_i16 = LLVMInt16TypeInContext(ctx);
    L->t_i32 = LLVMInt32TypeInContext(ctx);
    L->t_i64 = LLVMInt64TypeInContext(ctx);
    L->t_f32 = LLVMFloatTypeInContext(ctx);
    L->t_f64 = LLVMDoubleTypeInContext(ctx);
    L->t_ptr = LLVMPointerType(L->t_i8, 0);
    L->mod = LLVMModuleCreateWithNameInContext(symbol, ctx);
    L->b = LLVMCreateBuilderInContext(ctx);
    L->ab = LLVMCreateBuilderInContext(ctx);
    if (setjmp(L->fail_jmp) == 0) {
        if (L->target == LOWER_NVVM && !fn->is_kernel)
            build_device_function_nvvm(L, symbol);
        else if (L->target == LOWER_NVVM)
            build_entry_nvvm(L, symbol);
        else if (L->function_entry)
            build_entry_function(L, symbol);
        else
            build_entry(L, symbol);
        if (L->di)
            LLVMDIBuilderFinalize(L->di);
        *out = L->mod;
        L->mod = NULL;
        *sites = L->sites;
        *nsites = L->nsites;
        L->sites = NULL;
        L->nsites = 0;
    } else {
        st = L->st ? L->st : EMBER_ERR_INTERNAL;
        if (L->fn != fn && L->call_site) /* failed inside a device function */
            st = ir_error_in_callee(fn, L->call_site->loc, L->fn);
    }
    if (L->di)
        LLVMDisposeDIBuilder(L->di);
    LLVMDisposeBuilder(L->b);
    LLVMDisposeBuilder(L->ab);
    if (L->mod)
        LLVMDisposeModule(L->mod);
out_free:
    for (int i = 0; i < L->nsites; i++)
        em_free(L->sites[i]);
    em_free(L->sites);
    em_free(L->locals);
    em_free(L->shareds);
    em_free(L->shared_off);
    em_free(L->colls);
    em_free(L->coll_result);
    em_free(L->divs);
    em_free(L->touched);
    em_free(L->uniform);
    em_free(L->dep);
    em_free(L->coll_ready);
    em_free(L->real);
    em_free(L->checked);
    em_free(L->var_slots);
    em_free(L->params);
    em_free(L);
    return st;
}
