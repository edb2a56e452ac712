/*
 * lower_host.c — the host target of the lowering (LowerTarget, core/
 * lower_impl.h): LLVM IR for the ORC JIT of devices/cpu/jit.c.
 *
 * A kernel's module holds one entry function that runs a range of blocks
 * of the grid:
 *
 *   void symbol(const char *args, HostDims *dims, i64 first_block, i64 last_block)
 *
 *   entry:      allocas for every variable and hidden loop counter
 *   prologue:   unpack the parameters from `args` (Argument ABI, core/ir.h)
 *               and the grid/block dims, once per block range
 *   for blk in [first_block, last_block):   blockIdx = (blk % gx, blk / gx % gy, blk / gx / gy)
 *     for tz, for ty, for tx (innermost):   threadIdx = (tx, ty, tz)
 *       <kernel body>        a `return` branches to the tx latch (ends this thread)
 *
 * The thread loops are plain counted loops so that LLVM can vectorise the
 * innermost one. A kernel with barriers, shared memory or warp collectives
 * is built by barrier fission instead (core/lower_fission.c) after the same
 * prologue. ember.jit functions are built by lower_jit.c.
 *
 * What the host does for each slot: libm names, LLVM's own intrinsics and
 * fneg, sequentially consistent atomics and fences, printf + fflush,
 * strings as private globals, and bounds checks on every kernel's stores
 * (a store out of its array would corrupt the Python process's heap).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cpu/lower_host.h"

/* The usual 1-D kernel opens with `i = cuda.grid(1)` and then either
 * `if i < n: <work>` (nothing after it) or `if i >= n: return`, where n is
 * the same for every thread (built from parameters, constants, sizes and
 * shapes). Left to itself the guard makes LLVM vectorise the thread loop
 * with masked loads and stores, ~3x slower than a plain loop; instead the
 * tx loop stops at the first thread the guard would turn away (threads past
 * it run nothing else, and `i` is increasing in tx), and the body is
 * lowered without the test. GridGuard says what thread_loops found. */
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
        return thread_independent(n->a, depth + 1) &&
               (n->nargs == 0 || thread_independent(n->args[0], depth + 1));
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

/* The kernel's entry function and its prologue: parameters, L->dims,
 * gridDim / blockDim, the fault record (HostDims.fault follows the six
 * int64 dims) and, for fission, the dynamic shared memory's size. Leaves
 * the builder in the prologue and returns its block; *entry gets the
 * entry block (the allocas), *first / *last the block range. */
static LLVMBasicBlockRef kernel_prologue(Lower *L, const char *symbol, bool fission,
                                         LLVMBasicBlockRef *entry, LLVMValueRef *first,
                                         LLVMValueRef *last)
{
    Function *fn = L->fn;
    LLVMBuilderRef B = L->b;
    LLVMTypeRef params[4] = {L->t_ptr, LLVMPointerType(L->t_i64, 0), L->t_i64, L->t_i64};
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, params, 4, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(L->func, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef args = LLVMGetParam(L->func, 0), dims = LLVMGetParam(L->func, 1);
    *first = LLVMGetParam(L->func, 2);
    *last = LLVMGetParam(L->func, 3);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(dims, "dims", 4);
    *entry = lw_new_bb(L, "entry");
    LLVMBasicBlockRef prologue = lw_new_bb(L, "prologue");
    LLVMPositionBuilderAtEnd(L->ab, *entry);
    LLVMPositionBuilderAtEnd(B, prologue);

    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = lw_unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    for (int i = 0; i < 6; i++) {
        LLVMValueRef idx = i64c(L, i);
        LLVMValueRef p = LLVMBuildGEP2(B, L->t_i64, dims, &idx, 1, "");
        L->dims[i] = LLVMBuildLoad2(B, L->t_i64, p, i < 3 ? "grid" : "block");
        LLVMSetAlignment(L->dims[i], 8);
    }
    for (int i = 0; i < 3; i++) {
        L->gdim[i] = LLVMBuildTrunc(B, L->dims[i], L->t_i32, "gridDim");
        L->bdim[i] = LLVMBuildTrunc(B, L->dims[3 + i], L->t_i32, "blockDim");
    }
    LLVMValueRef six = i64c(L, 6);
    L->fault = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i64, dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    if (fission) {
        LLVMValueRef dsh = i64c(L, HOST_DIMS_DYNAMIC_SHARED_OFFSET / 8);
        L->dyn_shared = LLVMBuildLoad2(B, L->t_i64, LLVMBuildGEP2(B, L->t_i64, dims, &dsh, 1, ""),
                                       "dynamic_shared");
    }
    L->depth = LLVMConstInt(L->t_i32, 0, 0);
    return prologue;
}

#define MAX_DIRECT 8

/* Whether `var` is assigned anywhere in n but by `except`. */
static bool assigned_elsewhere(const Node *n, int var, const Node *except, int depth)
{
    if (!n)
        return false;
    if (depth > 200)
        return true;
    if (n != except && (n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE) && n->var == var)
        return true;
    if (assigned_elsewhere(n->a, var, except, depth + 1) ||
        assigned_elsewhere(n->b, var, except, depth + 1) ||
        assigned_elsewhere(n->c, var, except, depth + 1))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (assigned_elsewhere(n->args[i], var, except, depth + 1))
            return true;
    return false;
}

/* The 1-D array parameters that n stores into (or updates atomically) at
 * index `var` exactly: a[i]. */
static void direct_stores(const Node *n, int var, int *params, int *np, int depth)
{
    if (!n || depth > 200)
        return;
    if ((n->kind == ND_STORE || n->kind == ND_ATOMIC) && n->a && n->a->kind == ND_PARAM &&
        n->a->ty->kind == TY_ARRAY && n->a->ty->ndim == 1 && n->nargs == 1 &&
        is_var_load(n->args[0], var)) {
        bool seen = false;
        for (int k = 0; k < *np; k++)
            seen |= params[k] == n->a->index;
        if (!seen && *np < MAX_DIRECT)
            params[(*np)++] = n->a->index;
    }
    direct_stores(n->a, var, params, np, depth + 1);
    direct_stores(n->b, var, params, np, depth + 1);
    direct_stores(n->c, var, params, np, depth + 1);
    for (int i = 0; i < n->nargs; i++)
        direct_stores(n->args[i], var, params, np, depth + 1);
}

/* clamp(bound - base, 0, blockDim.x): the threads of this block whose
 * i = base + threadIdx.x is below `bound`. */
static LLVMValueRef threads_below(Lower *L, LLVMValueRef bound, LLVMValueRef base, const char *name)
{
    LLVMValueRef left = LLVMBuildSub(L->b, bound, base, "threads.left");
    LLVMValueRef none = LLVMBuildICmp(L->b, LLVMIntSLT, bound, base, "");
    LLVMValueRef all = LLVMBuildICmp(L->b, LLVMIntSGT, left, L->dims[3], "");
    return LLVMBuildSelect(L->b, none, i64c(L, 0),
                           LLVMBuildSelect(L->b, all, L->dims[3], left, ""), name);
}

static void assume(Lower *L, LLVMValueRef cond)
{
    unsigned id = LLVMLookupIntrinsicID("llvm.assume", 11);
    LLVMBuildCall2(L->b, LLVMIntrinsicGetType(L->ctx, id, NULL, 0),
                   LLVMGetIntrinsicDeclaration(L->mod, id, NULL, 0), &cond, 1, "");
}

/* The innermost thread loop, threadIdx.x in [start, end), around the body
 * (guard: its statements after i = cuda.grid(1), which then holds i < n
 * and i < each of `below`, told to LLVM: the bounds checks of a[i]
 * against those extents fold away). */
static void thread_loop_x(Lower *L, const GridGuard *guard, LLVMValueRef start, LLVMValueRef end,
                          LLVMValueRef n, LLVMValueRef *below, int nbelow, CountedLoop *ly,
                          CountedLoop *lz)
{
    CountedLoop lx;
    LLVMBasicBlockRef x_exit = lw_new_bb(L, "tx.end");
    lw_loop_open(L, &lx, start, end, "tx", x_exit);
    L->tid[0] = LLVMBuildTrunc(L->b, lx.iv, L->t_i32, "threadIdx.x");
    L->tid[1] = LLVMBuildTrunc(L->b, ly->iv, L->t_i32, "threadIdx.y");
    L->tid[2] = LLVMBuildTrunc(L->b, lz->iv, L->t_i32, "threadIdx.z");
    LLVMValueRef lin = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lz->iv, L->dims[4], ""), ly->iv, "");
    L->linear_tid = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lin, L->dims[3], ""), lx.iv, "");
    L->ret_bb = lx.latch;
    if (guard) {
        lw_stmt(L, (Node *)guard->assign);
        LLVMValueRef i = lw_var_load(L, guard->assign->var);
        assume(L, LLVMBuildICmp(L->b, LLVMIntSLT, i, n, "guard"));
        for (int k = 0; k < nbelow; k++)
            assume(L, LLVMBuildICmp(L->b, LLVMIntSLT, i, below[k], "inbounds"));
        for (int k = 0; k < guard->nwork && !LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b));
             k++)
            lw_stmt(L, guard->work[k]);
    } else {
        lw_stmt(L, L->fn->body);
    }
    lw_loop_close(L, &lx); /* now in tx.end */
}

/* The blocks first..last-1, each a nest of thread loops around the body. */
static void thread_loops(Lower *L, LLVMValueRef first, LLVMValueRef last)
{
    Function *fn = L->fn;
    LLVMBasicBlockRef exit = lw_new_bb(L, "exit");
    CountedLoop blk, lz, ly;
    lw_loop_open(L, &blk, first, last, "blk", exit);
    LLVMValueRef b = blk.iv;
    LLVMValueRef bx = LLVMBuildSRem(L->b, b, L->dims[0], "");
    LLVMValueRef rest = LLVMBuildSDiv(L->b, b, L->dims[0], "");
    LLVMValueRef by = LLVMBuildSRem(L->b, rest, L->dims[1], "");
    LLVMValueRef bz = LLVMBuildSDiv(L->b, rest, L->dims[1], "");
    L->bid[0] = LLVMBuildTrunc(L->b, bx, L->t_i32, "blockIdx.x");
    L->bid[1] = LLVMBuildTrunc(L->b, by, L->t_i32, "blockIdx.y");
    L->bid[2] = LLVMBuildTrunc(L->b, bz, L->t_i32, "blockIdx.z");

    LLVMBasicBlockRef z_exit = lw_new_bb(L, "tz.end");
    lw_loop_open(L, &lz, i64c(L, 0), L->dims[5], "tz", z_exit);
    LLVMBasicBlockRef y_exit = lw_new_bb(L, "ty.end");
    lw_loop_open(L, &ly, i64c(L, 0), L->dims[4], "ty", y_exit);
    LLVMValueRef tx_end = L->dims[3], n = NULL, base = NULL;
    GridGuard guard;
    bool guarded = find_grid_guard(fn, &guard);
    if (guarded) { /* threads [0, clamp(n - blockIdx.x * blockDim.x, 0, blockDim.x)) */
        n = lw_conv(L, guard.bound, lw_expr(L, (Node *)guard.bound), guard.bound->ty,
                    ty_scalar(TY_I64));
        base = LLVMBuildNSWMul(L->b, LLVMBuildZExt(L->b, L->bid[0], L->t_i64, ""), L->dims[3], "");
        tx_end = threads_below(L, n, base, "tx.guard");
    }
    /* stores a[i] at the guard's index, into 1-D array parameters: checked,
     * they would keep the loop from being vectorised, so the threads split
     * in two loops: those below every such a.shape[0] (the checks fold
     * away), then the others, if any, with the checks */
    int direct[MAX_DIRECT], ndirect = 0;
    if (guarded && L->check_writes && !assigned_elsewhere(fn->body, guard.assign->var, guard.assign, 0))
        for (int i = 0; i < guard.nwork; i++)
            direct_stores(guard.work[i], guard.assign->var, direct, &ndirect, 0);
    if (ndirect > 0) {
        LLVMValueRef shapes[MAX_DIRECT], lim = n;
        for (int k = 0; k < ndirect; k++) {
            shapes[k] = LLVMBuildExtractValue(L->b, L->params[direct[k]], 1, "shape");
            lim = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, shapes[k], lim, ""),
                                  shapes[k], lim, "");
        }
        LLVMValueRef split = threads_below(L, lim, base, "tx.inbounds");
        thread_loop_x(L, &guard, i64c(L, 0), split, n, shapes, ndirect, &ly, &lz);
        thread_loop_x(L, &guard, split, tx_end, n, NULL, 0, &ly, &lz);
    } else {
        thread_loop_x(L, guarded ? &guard : NULL, i64c(L, 0), tx_end, n, NULL, 0, &ly, &lz);
    }

    lw_loop_close(L, &ly); /* now in ty.end */
    lw_loop_close(L, &lz); /* now in tz.end */
    lw_loop_close(L, &blk); /* now in exit */
    LLVMBuildRetVoid(L->b);
}

static void build_kernel(Lower *L, const char *symbol)
{
    bool fission = fission_uses_block(L->fn->body);
    if (fission)
        lw_fission_prepare(L);
    LLVMBasicBlockRef entry;
    LLVMValueRef first, last;
    LLVMBasicBlockRef prologue = kernel_prologue(L, symbol, fission, &entry, &first, &last);
    if (fission)
        lw_fission_blocks(L, first, last);
    else
        thread_loops(L, first, last);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, prologue);
}

static void build_root(Lower *L, const char *symbol)
{
    if (L->fn->is_kernel)
        build_kernel(L, symbol);
    else
        host_lower_function(L, symbol);
}

static const char *math_symbol(const char *name, bool f32, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", name, f32 ? "f" : "");
    return buf;
}

/* cuda.laneid: the linear thread id within the block, mod the warp size
 * (the warps of barrier fission). */
static LLVMValueRef lane_id(Lower *L, Node *n)
{
    (void)n;
    return LLVMBuildTrunc(L->b, LLVMBuildURem(L->b, L->linear_tid, i64c(L, 32), ""), L->t_i32,
                          "laneid");
}

/* cuda.nanosleep(ns): CUDA promises a sleep between 0 and 2 * ns; the CPU
 * device sleeps 0 (its threads of a block run one after another, so a
 * thread that backs off while waiting for another would only delay it).
 * The argument is evaluated for its effects. */
static LLVMValueRef sleep_ns(Lower *L, Node *n)
{
    lw_expr(L, n->args[0]);
    return NULL;
}

/* The intrinsics the host lowers itself (the collectives: barrier fission,
 * core/lower_fission.c). */
static const LowerIntrinsicFn intrinsics[INTR_COUNT] = {
    [INTR_LANEID] = lane_id,
    [INTR_RANDOM_SEED] = host_lower_random, [INTR_RANDOM_RANDOM] = host_lower_random,
    [INTR_RANDOM_UNIFORM] = host_lower_random, [INTR_RANDOM_NORMAL] = host_lower_random,
    [INTR_RANDOM_RANDINT] = host_lower_random,
    [INTR_NANOSLEEP] = sleep_ns,
};

/* Every scope is the whole machine on the CPU. */
static void fence(Lower *L, int scope)
{
    (void)scope;
    LLVMBuildFence(L->b, LLVMAtomicOrderingSequentiallyConsistent, 0, "");
}

/* The host's atomics are sequentially consistent (CUDA's are relaxed: the
 * stronger order is what the CPU gives at about the same cost). */
static LLVMValueRef atomic_rmw(Lower *L, LLVMAtomicRMWBinOp op, LLVMValueRef p, LLVMValueRef v)
{
    return LLVMBuildAtomicRMW(L->b, op, p, v, LLVMAtomicOrderingSequentiallyConsistent, 0);
}

static LLVMValueRef atomic_cas(Lower *L, LLVMValueRef p, LLVMValueRef expected,
                               LLVMValueRef desired, LLVMValueRef *ok)
{
    LLVMAtomicOrdering sc = LLVMAtomicOrderingSequentiallyConsistent;
    LLVMValueRef r = LLVMBuildAtomicCmpXchg(L->b, p, expected, desired, sc, sc, 0);
    LLVMValueRef seen = LLVMBuildExtractValue(L->b, r, 0, "");
    if (ok)
        *ok = LLVMBuildExtractValue(L->b, r, 1, "");
    return seen;
}

static void atomic_access(Lower *L, LLVMValueRef inst, LLVMAtomicOrdering order)
{
    (void)L;
    LLVMSetOrdering(inst, order);
}

static LLVMValueRef string_ptr(Lower *L, const char *text)
{
    return LLVMBuildGlobalStringPtr(L->b, text, "str");
}

/* One printf call per statement (whole lines do not interleave between
 * workers), then fflush so the text appears before the launch returns. */
static void print(Lower *L, LLVMValueRef *vals, unsigned n)
{
    LLVMTypeRef pt = L->t_ptr;
    LLVMTypeRef printf_t = LLVMFunctionType(L->t_i32, &pt, 1, 1);
    LLVMValueRef pf = LLVMGetNamedFunction(L->mod, "printf");
    if (!pf)
        pf = LLVMAddFunction(L->mod, "printf", printf_t);
    LLVMBuildCall2(L->b, printf_t, pf, vals, n, "");
    LLVMValueRef null = LLVMConstNull(pt);
    lw_call_named(L, "fflush", L->t_i32, &pt, &null, 1);
}

/* Every kernel checks the index of each store and atomic: an index out of
 * its extent records an IndexError and the store goes nowhere. Loads are
 * not checked (README, "Safety"). EMBER_CPU_BOUNDS=all | none changes that
 * for measuring the cost (perf/bounds_cost.py); it is not a user option. */
static unsigned kernel_checks(void)
{
    const char *e = getenv("EMBER_CPU_BOUNDS");
    if (e && !strcmp(e, "all"))
        return LOWER_CHECK_WRITES | LOWER_CHECK_READS;
    if (e && !strcmp(e, "none"))
        return 0;
    return LOWER_CHECK_WRITES;
}

/* grid.sync() under fission, once per block: the block's fiber waits for
 * the other blocks (devices/cpu/grid_sync.c). */
static void grid_sync(Lower *L)
{
    LLVMValueRef dims = LLVMBuildBitCast(L->b, LLVMGetParam(L->func, 1), L->t_ptr, "");
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, &L->t_ptr, 1, 0);
    host_call_address(L->b, L->t_i64, (void *)host_grid_sync, fty, &dims, 1, "");
}

const LowerTarget lower_host_target = {
    .name = "CPU",
    .build_root = build_root,
    .jit = &host_lower_jit,
    .fission = true,
    .math_symbol = math_symbol,
    .intrinsics = intrinsics,
    .fence = fence,
    .grid_sync = grid_sync,
    .atomic_rmw = atomic_rmw,
    .atomic_cas = atomic_cas,
    .atomic_access = atomic_access,
    .string_ptr = string_ptr,
    .print = print,
    .kernel_checks = kernel_checks,
    .has_freeze = true,
};
