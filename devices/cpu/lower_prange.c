/*
 * lower_prange.c — prange loops of ember.jit(parallel=True) functions.
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

#include <math.h>
#include <string.h>

#include "devices/cpu/lower_host.h"

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
    if (n->kind == ND_INTRINSIC && n->op == INTR_RAISE)
        fail_unsupported(L, n, "'raise' and 'assert' inside a prange loop are not supported "
                               "yet: check after the loop");
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
        lw_fail(L, at, "variable '%s' is assigned in a prange loop but is not a reduction: a "
                    "variable read outside the loop may change in the loop only as "
                    "'%s += x', '%s -= x', '%s *= x' or '%s = min(%s, x)' / max (and not be "
                    "read otherwise); for a per-iteration value use a new variable, for "
                    "per-iteration results an array element",
             name, name, name, name, name, name);
    }
    const Type *t = ty_concrete(L->fn->var_types[var]);
    if (!t || !(ty_is_int(t) || ty_is_float(t))) {
        char buf[256];
        lw_fail(L, s.bad ? s.bad : loop, "prange reduction of '%s': only integer and float "
                                     "variables can be reduced, not %s", name, tstr(t, buf));
    }
    return s.op;
}

/* The identity of reduction `op` on type t (an integer or float type). */
static LLVMValueRef reduction_identity(Lower *L, int op, const Type *t)
{
    LLVMTypeRef lt = lw_lty(L, t);
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

void host_lower_prange(Lower *L, Node *n)
{
    Function *fn = L->fn;
    int nv = fn->nvars, np = fn->nparams;
    unsigned char *inside = ir_alloc(fn, (size_t)nv + 1), *outside = ir_alloc(fn, (size_t)nv + 1);
    int *red = ir_alloc(fn, sizeof *red * ((size_t)nv + 1));
    int *ctx_index = ir_alloc(fn, sizeof *ctx_index * ((size_t)nv + 1));
    if (!inside || !outside || !red || !ctx_index)
        lw_fail(L, n, "out of memory");
    memset(inside, 0, (size_t)nv + 1);
    memset(outside, 0, (size_t)nv + 1);
    prange_mark(n->b, NULL, inside);
    prange_reads_outside(fn->body, n, outside, NULL);
    prange_check(L, n->b, 0);
    if (host_creates_arrays(n->b, 0))
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
        lw_fail(L, n, "prange() bounds of mixed signed and unsigned 64-bit integers: "
                   "convert them to one integer type");
    const Node *sn = n->args[2];
    if (sn->kind == ND_CONST && sn->ival == 0)
        lw_fail(L, sn, "prange() arg 3 must not be zero");
    bool sg = ty_is_signed(ct);
    LLVMTypeRef it = lw_lty(L, ct);
    LLVMValueRef start = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, ct);
    LLVMValueRef stop = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, ct);
    LLVMValueRef step = lw_conv(L, n, lw_expr(L, n->args[2]), n->args[2]->ty, ct);
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
    LLVMValueRef ctx = lw_entry_alloca(L, LLVMArrayType(L->t_ptr, (unsigned)nctx), "prange.ctx");
    ctx = LLVMBuildBitCast(B, ctx, LLVMPointerType(L->t_ptr, 0), "");
    LLVMValueRef *outer_params = L->params;
    LLVMValueRef put[PRANGE_CTX_FIXED + 1];
    put[0] = L->call_dims;
    LLVMValueRef sslot = lw_entry_alloca(L, it, "prange.start"), tslot = lw_entry_alloca(L, it, "prange.step");
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
            p = lw_entry_alloca(L, LLVMTypeOf(v), "prange.param");
            LLVMBuildStore(B, v, p);
        } else {
            for (int v = 0; v < nv; v++)
                if (ctx_index[v] == k)
                    p = lw_var_slot(L, v);
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
        lw_fail(L, n, "out of memory");
    memset(slots, 0, sizeof *slots * ((size_t)nv + 1));
    Lower saved = *L;
    LLVMBasicBlockRef saved_b = LLVMGetInsertBlock(L->b), saved_ab = LLVMGetInsertBlock(L->ab);
    L->func = body_fn;
    L->rng = NULL; /* this worker's generator, looked up in the body's entry */
    L->var_slots = slots;
    L->params = params;
    L->nloops = 0;
    L->ret_slot = NULL;
    LLVMBasicBlockRef entry = lw_new_bb(L, "entry"), code = lw_new_bb(L, "code");
    LLVMBasicBlockRef hdr = lw_new_bb(L, "prange.hdr"), body = lw_new_bb(L, "prange.body");
    LLVMBasicBlockRef latch = lw_new_bb(L, "prange.latch"), exit = lw_new_bb(L, "prange.end");
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
            : LLVMBuildLoad2(B, lw_mty(L, t), ctx_pointer(L, B, bctx, ctx_index[v], lw_mty(L, t)), "");
        LLVMBuildStore(B, init, lw_var_slot(L, v));
    }
    LLVMValueRef kslot = lw_entry_alloca(L, L->t_i64, "prange.k");
    LLVMBuildStore(B, LLVMGetParam(body_fn, 1), kslot);
    LLVMBuildBr(B, hdr);
    LLVMPositionBuilderAtEnd(B, hdr);
    LLVMValueRef k = LLVMBuildLoad2(B, L->t_i64, kslot, "k");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, k, LLVMGetParam(body_fn, 2), ""), body, exit);
    LLVMPositionBuilderAtEnd(B, body);
    LLVMValueRef kk = LLVMGetIntTypeWidth(it) < 64 ? LLVMBuildTrunc(B, k, it, "") : k;
    LLVMValueRef i = LLVMBuildAdd(B, bstart, LLVMBuildMul(B, kk, bstep, ""), "i");
    lw_var_store(L, n->var, lw_conv(L, n, i, ct, fn->var_types[n->var]));
    lw_push_loop(L, n, exit, latch);
    lw_stmt(L, n->b);
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
        LLVMTypeRef t = lw_mty(L, fn->var_types[v]);
        LLVMValueRef off = i64c(L, PRANGE_PARTIAL_SLOT * at++);
        LLVMValueRef p = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, partial, &off, 1, ""),
                                          LLVMPointerType(t, 0), "");
        LLVMBuildStore(B, LLVMBuildLoad2(B, t, lw_var_slot(L, v), ""), p);
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
        LLVMTypeRef lt = lw_mty(L, t);
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
    host_call_address(B, L->t_i64, (void *)host_prange_run, LLVMFunctionType(L->t_void, rp, 5, 0),
                 args, 5, "");
    /* after the loop its variable holds the last value, as after range() */
    LLVMBasicBlockRef set = lw_new_bb(L, "prange.last"), done = lw_new_bb(L, "prange.done");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSGT, count, i64c(L, 0), ""), set, done);
    LLVMPositionBuilderAtEnd(B, set);
    LLVMValueRef lastk = LLVMBuildSub(B, count, i64c(L, 1), "");
    if (LLVMGetIntTypeWidth(it) < 64)
        lastk = LLVMBuildTrunc(B, lastk, it, "");
    LLVMValueRef last = LLVMBuildAdd(B, start, LLVMBuildMul(B, lastk, step, ""), "");
    lw_var_store(L, n->var, lw_conv(L, n, last, ct, fn->var_types[n->var]));
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}
