/*
 * lower_fission.c — barrier fission: block semantics (barriers, shared
 * memory, warp collectives) for a target that runs the threads of a block
 * one after another (LowerTarget.fission; the CPU device). core/fission.c
 * decides where the body splits; this file lowers it.
 *
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

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

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
 * the body returns (device functions hold none of them: lw_check()). */
static void fis_collect(Lower *L, Node *n)
{
    if (!n)
        return;
    fis_collect(L, n->a);
    fis_collect(L, n->b);
    fis_collect(L, n->c);
    for (int i = 0; i < n->nargs; i++)
        fis_collect(L, n->args[i]);
    if (n->kind == ND_RETURN || lw_checks_zero_division(L, n))
        L->fis_has_return = true; /* a zero divisor ends the thread as a return */
    if (n->kind == ND_LOCAL_ARRAY && n->op == MEM_LOCAL &&
        fis_find(L->locals, L->nlocals, n) < 0) {
        if (!lw_grow_list((void **)&L->locals, &L->caplocals, L->nlocals + 1, sizeof *L->locals))
            lw_fail(L, n, "out of memory");
        L->locals[L->nlocals++] = n;
    }
    if (n->kind == ND_LOCAL_ARRAY && n->op == MEM_SHARED &&
        fis_find(L->shareds, L->nshareds, n) < 0) {
        if (!lw_grow_list((void **)&L->shareds, &L->capshareds, L->nshareds + 1, sizeof *L->shareds) ||
            !lw_grow_list((void **)&L->shared_off, &L->capoff, L->nshareds + 1, sizeof *L->shared_off))
            lw_fail(L, n, "out of memory");
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
        if (!lw_grow_list((void **)&L->divs, &L->capdivs, L->ndivs + 1, sizeof *L->divs))
            lw_fail(L, n, "out of memory");
        L->divs[L->ndivs++] = n;
    }
    if (fission_is_collective(n) && fis_find(L->colls, L->ncolls, n) < 0) {
        if (!lw_grow_list((void **)&L->colls, &L->capcolls, L->ncolls + 1, sizeof *L->colls))
            lw_fail(L, n, "out of memory");
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

LLVMValueRef lw_fis_var_slot(Lower *L, int var)
{
    if (!L->linear_tid)
        lw_fail(L, L->fn->body, "internal error: a variable read outside a thread context");
    return fis_field(L, L->linear_tid, var);
}

/* var = v in every thread's context (a uniform loop's variable). */
void lw_fis_store_all(Lower *L, int var, LLVMValueRef v)
{
    CountedLoop c;
    lw_loop_open(L, &c, i64c(L, 0), L->nthreads, "all", lw_new_bb(L, "all.end"));
    LLVMBuildStore(L->b, v, fis_field(L, c.iv, var));
    lw_loop_close(L, &c);
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
    LLVMBasicBlockRef ze = lw_new_bb(L, "tz.end"), ye = lw_new_bb(L, "ty.end"),
                      xe = lw_new_bb(L, "tx.end");
    lw_loop_open(L, &r->z, i64c(L, 0), L->dims[5], "tz", ze);
    lw_loop_open(L, &r->y, i64c(L, 0), L->dims[4], "ty", ye);
    lw_loop_open(L, &r->x, i64c(L, 0), L->dims[3], "tx", xe);
    fis_thread_ids(L, r->x.iv, r->y.iv, r->z.iv);
    LLVMValueRef lin = LLVMBuildNSWAdd(L->b, LLVMBuildNSWMul(L->b, r->z.iv, L->dims[4], ""),
                                       r->y.iv, "");
    L->linear_tid = LLVMBuildNSWAdd(L->b, LLVMBuildNSWMul(L->b, lin, L->dims[3], ""), r->x.iv,
                                    "tid");
    r->saved_ret = L->ret_bb;
    L->ret_bb = r->x.latch;
    LLVMValueRef alive = fis_live(L, L->linear_tid);
    if (alive) {
        LLVMBasicBlockRef live = lw_new_bb(L, "live");
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
        lw_fail(L, fn->body, "out of memory");
    for (int v = 0; v < fn->nvars; v++) {
        if (!L->touched[v] || !lw_supported_type(fn->var_types[v]) || L->uniform[v])
            continue;
        LLVMTypeRef t = lw_mty(L, fn->var_types[v]);
        if (!L->var_slots[v])
            L->var_slots[v] = lw_entry_alloca(L, t, fn->var_names[v]);
        LLVMBuildStore(L->b, LLVMBuildLoad2(L->b, t, fis_field(L, L->linear_tid, v), ""),
                       L->var_slots[v]);
        if (L->touched[v] & 2)
            r->written[r->nwritten++] = v;
    }
    if (L->fis_has_return) {
        LLVMValueRef ep = fis_field(L, L->linear_tid, fis_exited_field(L));
        LLVMBasicBlockRef here = LLVMGetInsertBlock(L->b), gone = lw_new_bb(L, "thread.return");
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
        LLVMTypeRef t = lw_mty(L, L->fn->var_types[v]);
        LLVMBuildStore(L->b, LLVMBuildLoad2(L->b, t, L->var_slots[v], ""),
                       fis_field(L, L->linear_tid, v));
    }
    lw_loop_close(L, &r->x);
    lw_loop_close(L, &r->y);
    lw_loop_close(L, &r->z);
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
        LLVMValueRef slot = lw_entry_alloca(L, L->t_i64, "first.live");
        LLVMBuildStore(B, i64c(L, 0), slot);
        LLVMBasicBlockRef hdr = lw_new_bb(L, "live.hdr"), chk = lw_new_bb(L, "live.chk"),
                          inc = lw_new_bb(L, "live.next"), done = lw_new_bb(L, "live.found"),
                          cont = lw_new_bb(L, "live.any");
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
    int index = lw_add_site(L, n);
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    lw_fault_store(L, LLVMConstInt(L->t_i32, (unsigned)index, 0),
                LLVMBuildGEP2(B, L->t_i32, L->fault, &one, 1, ""), LLVMAtomicOrderingMonotonic);
    for (int i = 0; i < 6; i++) {
        LLVMValueRef at = LLVMConstInt(L->t_i32, (unsigned)(2 + i), 0);
        lw_fault_store(L, i < 3 ? L->tid[i] : L->bid[i - 3],
                    LLVMBuildGEP2(B, L->t_i32, L->fault, &at, 1, ""), LLVMAtomicOrderingMonotonic);
    }
    lw_fault_store(L, LLVMConstInt(L->t_i32, (unsigned)code, 0), L->fault, LLVMAtomicOrderingRelease);
}

/* With checks on: every live thread evaluates e (as a truth value when
 * `truth_of`) and compares it with v, the first live thread's value. */
static void fis_check_uniform(Lower *L, Node *e, LLVMValueRef v, bool truth_of)
{
    if (!L->boundscheck)
        return;
    Region r;
    region_open(L, &r, &e, 1);
    LLVMValueRef w = lw_expr(L, e);
    if (truth_of)
        w = lw_truth(L, w, e->ty);
    LLVMValueRef bad = LLVMBuildICmp(L->b, LLVMIntNE, w, v, "");
    LLVMBasicBlockRef fb = lw_new_bb(L, "divergent"), ok = lw_new_bb(L, "uniform");
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
    LLVMValueRef v = lw_truth(L, lw_expr(L, e), e->ty);
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
    LLVMValueRef bal = lw_entry_alloca(L, L->t_i32, "ballot"), prt = lw_entry_alloca(L, L->t_i32, "part");
    LLVMBuildStore(B, ci(L->t_i32, 0), bal);
    LLVMBuildStore(B, ci(L->t_i32, 0), prt);
    CountedLoop c;
    lw_loop_open(L, &c, i64c(L, 0), i64c(L, 32), "lane", lw_new_bb(L, "lane.end"));
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
    lw_loop_close(L, &c);
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
        lw_fail(L, n, "internal error: an unknown collective");
    const Type *u32 = ty_scalar(TY_U32);
    Region r;
    region_open(L, &r, &n, 1);
    LLVMValueRef lin = L->linear_tid;
    if (n->op <= INTR_SYNCTHREADS_OR) {
        LLVMValueRef p = lw_truth(L, lw_expr(L, n->args[0]), n->args[0]->ty);
        LLVMBuildStore(B, LLVMBuildZExt(B, p, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_ARG));
    } else {
        LLVMValueRef mask = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, u32);
        if (n->op <= INTR_SHFL_XOR || n->op >= INTR_MATCH_ANY) {
            const Type *vt = n->op <= INTR_SHFL_XOR ? n->ty : n->target;
            LLVMValueRef v = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, vt);
            LLVMValueRef bits = LLVMBuildBitCast(B, v, ty_bits(vt) == 32 ? L->t_i32 : L->t_i64, "");
            LLVMBuildStore(B, LLVMBuildZExt(B, bits, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_VALUE));
            if (n->op <= INTR_SHFL_XOR) { /* the lane, and lw_shfl_c() in the upper half */
                LLVMValueRef lane = lw_conv(L, n, lw_expr(L, n->args[2]), n->args[2]->ty, u32);
                LLVMValueRef c = LLVMBuildShl(B, LLVMBuildZExt(B, lw_shfl_c(L, n), L->t_i64, ""),
                                              i64c(L, 32), "");
                LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildZExt(B, lane, L->t_i64, ""), c, ""),
                               fis_record(L, lin, k, FIS_REC_ARG));
            }
        } else {
            LLVMValueRef p = lw_truth(L, lw_expr(L, n->args[1]), n->args[1]->ty);
            LLVMBuildStore(B, LLVMBuildZExt(B, p, L->t_i64, ""), fis_record(L, lin, k, FIS_REC_ARG));
        }
        LLVMBuildStore(B, mask, fis_record(L, lin, k, FIS_REC_MASK));
    }
    region_close(L, &r);
    if (n->op <= INTR_SYNCTHREADS_OR) {
        /* count the live threads and those whose predicate holds */
        LLVMValueRef cnt = lw_entry_alloca(L, L->t_i32, "count"), live = lw_entry_alloca(L, L->t_i32, "live");
        LLVMBuildStore(B, ci(L->t_i32, 0), cnt);
        LLVMBuildStore(B, ci(L->t_i32, 0), live);
        CountedLoop c;
        lw_loop_open(L, &c, i64c(L, 0), L->nthreads, "count", lw_new_bb(L, "count.end"));
        LLVMValueRef alive = fis_live(L, c.iv);
        if (!alive)
            alive = LLVMConstInt(L->t_i1, 1, 0);
        LLVMValueRef p = LLVMBuildLoad2(B, L->t_i64, fis_record(L, c.iv, k, FIS_REC_ARG), "");
        LLVMValueRef yes = LLVMBuildAnd(B, alive, LLVMBuildICmp(B, LLVMIntNE, p, i64c(L, 0), ""), "");
        LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i32, cnt, ""),
                                       LLVMBuildZExt(B, yes, L->t_i32, ""), ""), cnt);
        LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i32, live, ""),
                                       LLVMBuildZExt(B, alive, L->t_i32, ""), ""), live);
        lw_loop_close(L, &c);
        LLVMValueRef nc = LLVMBuildLoad2(B, L->t_i32, cnt, ""), nl = LLVMBuildLoad2(B, L->t_i32, live, "");
        LLVMValueRef res = n->op == INTR_SYNCTHREADS_COUNT ? nc
            : LLVMBuildZExt(B, n->op == INTR_SYNCTHREADS_AND ? LLVMBuildICmp(B, LLVMIntEQ, nc, nl, "")
                                                             : LLVMBuildICmp(B, LLVMIntNE, nc, ci(L->t_i32, 0), ""),
                            L->t_i32, "");
        if (!L->coll_result[k])
            L->coll_result[k] = lw_entry_alloca(L, L->t_i32, "syncthreads.result");
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
 * "shfl.sync" with c from lw_shfl_c(): segmask = c[12:8], maxLane = (lane &
 * segmask) | (c[4:0] & ~segmask), minLane = lane & segmask; with b's low
 * 5 bits the source lane j is lane - b (up, valid when >= maxLane), lane +
 * b (down, valid when <= maxLane), lane ^ b (bfly, valid when <= maxLane),
 * minLane | (b & ~segmask) (idx, valid when <= maxLane); an invalid lane (or
 * one past the block's last thread) gives the caller's own value. Votes and
 * ballot count the lanes in the caller's mask that exist and have not
 * returned. */
LLVMValueRef lw_fis_block_intrinsic(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    if (!L->linear_tid)
        lw_fail(L, n, "internal error: a warp operation outside a thread context");
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
        lw_fail(L, n, "internal error: %s() lowered before its operands", fission_op_name(n));
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
        return LLVMBuildBitCast(B, bits, lw_lty(L, n->ty), "shfl");
    }
    LLVMValueRef mask = LLVMBuildLoad2(B, L->t_i32, fis_record(L, lin, k, FIS_REC_MASK), "");
    LLVMValueRef bal, part;
    fis_warp_scan(L, k, mask, &bal, &part);
    switch (n->op) {
    case INTR_BALLOT: case INTR_MATCH_ANY: return bal;
    case INTR_MATCH_ALL: { /* bal: the lanes equal to ours; all of them: (mask, True) */
        LLVMValueRef same = LLVMBuildICmp(B, LLVMIntEQ, bal, part, "");
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
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
LLVMValueRef lw_fis_array_memory(Lower *L, Node *n, LLVMValueRef *dyn_len, int64_t itemsize)
{
    if (n->op == MEM_LOCAL) {
        int k = fis_find(L->locals, L->nlocals, n);
        if (k < 0 || !L->linear_tid)
            lw_fail(L, n, "internal error: a local array outside a thread context");
        return fis_field(L, L->linear_tid, L->fn->nvars + k);
    }
    int k = fis_find(L->shareds, L->nshareds, n);
    if (k < 0)
        lw_fail(L, n, "internal error: an unknown shared array");
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
void lw_fis_stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Region r;
    bool body_splits = n->kind == ND_IF ? fission_splits(n->b) || fission_splits(n->c)
                     : n->kind == ND_WHILE ? fission_splits(n->b) || fission_contains_barrier(n->a)
                     : n->kind == ND_FOR_RANGE ? fission_splits(n->b) : false;
    if (n->kind == ND_BLOCK) {
        for (int i = 0; i < n->nargs;) {
            if (fission_splits(n->args[i]) || fis_hoisted(L, n->args[i])) {
                lw_fis_stmt(L, n->args[i++]);
                continue;
            }
            int j = i;
            while (j < n->nargs && !fission_splits(n->args[j]) && !fis_hoisted(L, n->args[j]))
                j++;
            region_open(L, &r, n->args + i, j - i);
            for (; i < j; i++)
                lw_stmt(L, n->args[i]);
            region_close(L, &r);
        }
        return;
    }
    if (n->kind == ND_SYNC) { /* the regions before and after are apart already */
        if (n->op == SYNC_GRID) /* the block has arrived: now the grid (the target's) */
            L->target->grid_sync(L);
        return;
    }
    if (fis_hoisted(L, n)) { /* once per block */
        lw_var_store(L, n->var, lw_conv(L, n, lw_expr(L, n->a), n->a->ty, L->fn->var_types[n->var]));
        return;
    }
    if (n->kind == ND_BREAK || n->kind == ND_CONTINUE) { /* out of a uniform loop */
        if (L->nloops == 0)
            lw_fail(L, n, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        LLVMBuildBr(B, n->kind == ND_BREAK ? L->loops[L->nloops - 1].brk
                                           : L->loops[L->nloops - 1].cont);
        lw_start_dead_block(L);
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
        lw_stmt(L, n);
        region_close(L, &r);
        return;
    }
    if (fission_divergent_while(n, L->dep)) {
        /* each thread's "still looping" flag; the loop goes on while some
         * thread's does; the condition and body run for those threads */
        int k = fis_find(L->divs, L->ndivs, n);
        if (k < 0 || L->npreds >= MAX_LOOP_DEPTH)
            lw_fail(L, n, "internal error: divergent loops nested too deep");
        int f = fis_div_field(L, k);
        region_open(L, &r, NULL, 0);
        LLVMBuildStore(B, ci(L->t_i8, 1), fis_field(L, L->linear_tid, f));
        region_close(L, &r);
        LLVMBasicBlockRef hdr = lw_new_bb(L, "dwhile.hdr"), body = lw_new_bb(L, "dwhile.body"),
                          exit = lw_new_bb(L, "dwhile.end");
        LLVMValueRef any = lw_entry_alloca(L, L->t_i8, "looping");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        L->preds[L->npreds].field = f;
        L->preds[L->npreds++].taken = true;
        fis_phases(L, n->a);
        LLVMBuildStore(B, ci(L->t_i8, 0), any);
        region_open(L, &r, &n->a, 1);
        LLVMValueRef c = LLVMBuildZExt(B, lw_truth(L, lw_expr(L, n->a), n->a->ty), L->t_i8, "");
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
            LLVMBasicBlockRef bad = lw_new_bb(L, "divergent"), ok = lw_new_bb(L, "uniform");
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
            lw_stmt(L, n->b);
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
            lw_fail(L, n, "internal error: divergent branches nested too deep");
        fis_phases(L, n->a);
        region_open(L, &r, &n->a, 1);
        LLVMValueRef c = lw_truth(L, lw_expr(L, n->a), n->a->ty);
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
            LLVMBasicBlockRef end = lw_new_bb(L, "branch.end");
            L->skip_bb = end;
            lw_stmt(L, body);
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
        lw_if_branches(L, fis_uniform_cond(L, n->a), n, "uif");
        return;
    case ND_WHILE: {
        LLVMBasicBlockRef hdr = lw_new_bb(L, "uwhile.hdr"), body = lw_new_bb(L, "uwhile.body");
        LLVMBasicBlockRef exit = lw_new_bb(L, "uwhile.end");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        fis_phases(L, n->a);
        LLVMBuildCondBr(B, fis_uniform_cond(L, n->a), body, exit);
        LLVMPositionBuilderAtEnd(B, body);
        lw_push_loop(L, n, exit, hdr);
        if (n->b)
            lw_stmt(L, n->b);
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
                LLVMValueRef v = lw_expr(L, n->args[i]);
                L->linear_tid = NULL;
                fis_check_uniform(L, n->args[i], v, false);
            }
        fis_uniform_thread(L);
        lw_for_range(L, n); /* bounds: the first live thread's; the variable: every thread's */
        L->linear_tid = NULL;
        return;
    }
    default:
        lw_fail(L, n, "internal error: statement kind %d at uniform level", n->kind);
    }
}

void lw_fission_prepare(Lower *L)
{
    Function *fn = L->fn;
    L->fis = true;
    L->uniform = em_calloc((size_t)fn->nvars + 1, sizeof *L->uniform);
    L->dep = em_calloc((size_t)fn->nvars + 1, sizeof *L->dep);
    if (!L->uniform || !L->dep)
        lw_fail(L, fn->body, "out of memory");
    fission_thread_dependence(fn, L->dep);
    fission_uniform_vars(fn, L->dep, L->uniform);
    fis_collect(L, fn->body);
    if (L->shared_static > SHARED_ARRAY_MAX_BYTES)
        lw_fail(L, fn->body, "cuda.shared.array: %lld bytes of static shared memory in all, more "
             "than %d KiB, the most static shared memory a CUDA kernel may declare; for more "
             "use dynamic shared memory (cuda.shared.array(0, dtype) and the launch's "
             "sharedmem, up to 227 KiB on compute capability 9.0)",
             (long long)L->shared_static, SHARED_ARRAY_MAX_BYTES >> 10);
    L->coll_result = em_calloc((size_t)L->ncolls + 1, sizeof *L->coll_result);
    L->coll_ready = em_calloc((size_t)L->ncolls + 1, sizeof *L->coll_ready);
    L->touched = em_calloc((size_t)fn->nvars + 1, 1);
    int nf = fn->nvars + L->nlocals + L->ncolls + L->ndivs + 1;
    LLVMTypeRef *ft = ir_alloc(fn, sizeof *ft * (size_t)nf);
    if (!L->coll_result || !L->coll_ready || !L->touched || !L->uniform || !L->dep || !ft)
        lw_fail(L, fn->body, "out of memory");
    for (int i = 0; i < fn->nvars; i++)
        ft[i] = lw_supported_type(fn->var_types[i]) ? lw_mty(L, fn->var_types[i]) : L->t_i8;
    for (int i = 0; i < L->nlocals; i++) {
        const Node *a = L->locals[i];
        ft[fn->nvars + i] = LLVMArrayType(lw_mty(L, a->ty->elem),
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

}

/* The kernel's blocks first..last-1 by fission, after the target's
 * prologue has set the parameters, L->dims, L->gdim/bdim, L->fault and
 * L->dyn_shared; ends with the function's return. */
void lw_fission_blocks(Lower *L, LLVMValueRef first, LLVMValueRef last)
{
    Function *fn = L->fn;
    LLVMBuilderRef B = L->b;
    L->nthreads = LLVMBuildNSWMul(B, LLVMBuildNSWMul(B, L->dims[3], L->dims[4], ""), L->dims[5],
                                  "nthreads");
    /* contexts, then shared memory, 16-byte aligned */
    LLVMValueRef ctx_bytes = LLVMBuildMul(B, L->nthreads, LLVMSizeOf(L->ctx_ty), "");
    ctx_bytes = LLVMBuildAnd(B, LLVMBuildAdd(B, ctx_bytes, i64c(L, 15), ""), i64c(L, ~(int64_t)15), "");
    LLVMValueRef total = LLVMBuildAdd(B, LLVMBuildAdd(B, ctx_bytes, i64c(L, ((L->shared_static + 15)
                                      & ~(int64_t)15) + 16), ""), L->dyn_shared, "scratch.bytes");
    LLVMValueRef buf = lw_call_named(L, "malloc", L->t_ptr, &L->t_i64, &total, 1);
    LLVMBasicBlockRef oom = lw_new_bb(L, "scratch.none"), run = lw_new_bb(L, "scratch.ok"),
                      exit = lw_new_bb(L, "exit");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, buf, LLVMConstNull(L->t_ptr), ""), oom, run);
    LLVMPositionBuilderAtEnd(B, oom);
    lw_fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_SCRATCH, 0), L->fault,
                LLVMAtomicOrderingRelease);
    LLVMBuildRetVoid(B);
    LLVMPositionBuilderAtEnd(B, run);
    L->tctx = LLVMBuildBitCast(B, buf, LLVMPointerType(L->ctx_ty, 0), "ctx");
    L->shared = LLVMBuildGEP2(B, L->t_i8, buf, &ctx_bytes, 1, "shared");

    CountedLoop blk;
    LLVMBasicBlockRef done = lw_new_bb(L, "blocks.end");
    lw_loop_open(L, &blk, first, last, "blk", done);
    LLVMValueRef bx = LLVMBuildSRem(B, blk.iv, L->dims[0], "");
    LLVMValueRef rest = LLVMBuildSDiv(B, blk.iv, L->dims[0], "");
    L->bid[0] = LLVMBuildTrunc(B, bx, L->t_i32, "blockIdx.x");
    L->bid[1] = LLVMBuildTrunc(B, LLVMBuildSRem(B, rest, L->dims[1], ""), L->t_i32, "blockIdx.y");
    L->bid[2] = LLVMBuildTrunc(B, LLVMBuildSDiv(B, rest, L->dims[1], ""), L->t_i32, "blockIdx.z");
    if (L->fis_has_return) {
        CountedLoop c;
        lw_loop_open(L, &c, i64c(L, 0), L->nthreads, "reset", lw_new_bb(L, "reset.end"));
        LLVMBuildStore(B, ci(L->t_i8, 0), fis_field(L, c.iv, fis_exited_field(L)));
        lw_loop_close(L, &c);
    }
    L->skip_bb = blk.latch;
    L->ret_bb = blk.latch;
    lw_stmt(L, fn->body);
    lw_loop_close(L, &blk); /* now in blocks.end */
    lw_call_named(L, "free", L->t_void, &L->t_ptr, &buf, 1);
    LLVMBuildBr(B, exit);
    LLVMPositionBuilderAtEnd(B, exit);
    LLVMBuildRetVoid(B);
}
