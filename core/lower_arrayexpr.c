/*
 * lower_arrayexpr.c — arrays created and computed whole, in ember.jit
 * functions: np.empty / zeros / full / arange / linspace / eye, reshape,
 * element-wise array expressions with broadcasting, and slice assignment.
 * The memory comes from the target's ember.jit runtime (LowerJit:
 * array_alloc, in the call's arena).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"


/* Ends the call when `bad`: the entry returns at once (nothing packed) and
 * the caller raises from dims->fault (which the runtime or the code set),
 * naming n's line: its site goes to dims->fault_site (host_kernel_site). */
void lw_abort_if(Lower *L, const Node *n, LLVMValueRef bad)
{
    int index = lw_add_site(L, n);
    LLVMBasicBlockRef fault = lw_new_bb(L, "fault"), ok = lw_new_bb(L, "made");
    LLVMBuildCondBr(L->b, bad, fault, ok);
    LLVMPositionBuilderAtEnd(L->b, fault);
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    LLVMBuildStore(L->b, LLVMConstInt(L->t_i32, (unsigned)index, 0),
                   LLVMBuildGEP2(L->b, L->t_i32, L->fault, &one, 1, ""));
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->b, ok);
}

/* In the block of a failed check: records fault `code` and ends the call
 * there (lw_abort_if), naming n's line. */
void lw_end_call(Lower *L, const Node *n, int code)
{
    lw_fault_store(L, LLVMConstInt(L->t_i32, (unsigned)code, 0), L->fault,
                   LLVMAtomicOrderingMonotonic);
    lw_abort_if(L, n, LLVMConstInt(L->t_i1, 1, 0));
    LLVMBuildUnreachable(L->b);
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
        x[i] = lw_conv(L, n, lw_expr(L, n->args[i]), n->args[i]->ty, ct);
    LLVMValueRef zero = LLVMConstNull(lw_lty(L, ct));
    LLVMValueRef step0 = fl ? lw_fcmp(L, LLVMRealOEQ, x[2], zero)
                            : LLVMBuildICmp(B, LLVMIntEQ, x[2], zero, "");
    LLVMBasicBlockRef fault = lw_new_bb(L, "arange.step0"), ok = lw_new_bb(L, "arange");
    LLVMBuildCondBr(B, step0, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    lw_end_call(L, n, KERNEL_FAULT_ARANGE_STEP);
    LLVMPositionBuilderAtEnd(B, ok);
    LLVMValueRef count;
    if (fl) { /* ceil((stop - start) / step); NaN or <= 0: empty; huge: too big */
        LLVMValueRef q = lw_intr1(L, "llvm.ceil", lw_fdiv(L, lw_fsub(L, x[1], x[0]), x[2]));
        LLVMValueRef pos = lw_fcmp(L, LLVMRealOGT, q, LLVMConstReal(L->t_f64, 0.0));
        LLVMValueRef big = lw_fcmp(L, LLVMRealOGE, q, LLVMConstReal(L->t_f64, 9.2e18));
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
    v[0] = lw_conv(L, n, x[0], ct, elem);
    LLVMValueRef second = fl ? lw_fadd(L, x[0], x[2]) : LLVMBuildAdd(B, x[0], x[2], "");
    v[1] = lw_conv(L, n, second, ct, elem);
    *delta = ty_is_float(elem) ? lw_fsub(L, v[1], v[0]) : LLVMBuildSub(B, v[1], v[0], "");
}

/* np.empty / zeros / full / ones / arange and the *_like forms: the data
 * from LowerJit.array_alloc (64-byte aligned, in the call's arena; zeroed for
 * np.zeros), C strides, then the fill. A negative extent, a size that
 * overflows or memory the allocator refuses ends the call with a fault
 * (ValueError / MemoryError at the call). */
static LLVMValueRef linspace(Lower *L, Node *n);
static LLVMValueRef eye(Lower *L, Node *n);
static LLVMValueRef reshape(Lower *L, Node *n);
LLVMValueRef lw_new_array(Lower *L, Node *n)
{
    if (n->op == NEW_LINSPACE)
        return linspace(L, n);
    if (n->op == NEW_EYE)
        return eye(L, n);
    if (n->op == NEW_RESHAPE)
        return reshape(L, n);
    if (n->op == NEW_VIEW)
        return lw_view(L, n);
    if (n->op == NEW_FROM || n->op == NEW_ASARRAY)
        return lw_array_from(L, n);
    if (n->op == NEW_TAKE)
        return lw_take(L, n);
    if (n->op == NEW_ROWS0 || n->op == NEW_ROWS)
        return lw_rows(L, n);
    LLVMBuilderRef B = L->b;
    const Type *t = n->ty, *elem = t->elem;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
    LLVMValueRef shape[EMBER_MAX_NDIM], first[2] = {NULL, NULL}, delta = NULL, fill = NULL;
    if (n->op == NEW_ARANGE) {
        arange_setup(L, n, &shape[0], first, &delta);
    } else {
        const Type *st = ty_concrete(n->a->ty);
        LLVMValueRef sv = lw_expr(L, n->a);
        for (int i = 0; i < nd; i++) {
            if (st->kind == TY_ARRAY)
                shape[i] = LLVMBuildExtractValue(B, sv, (unsigned)(1 + i), "");
            else if (st->kind == TY_TUPLE)
                shape[i] = lw_conv(L, n, LLVMBuildExtractValue(B, sv, (unsigned)i, ""),
                                st->fields[i], ty_scalar(TY_I64));
            else
                shape[i] = lw_conv(L, n, sv, st, ty_scalar(TY_I64));
        }
        if (n->b)
            fill = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, elem);
    }
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, itemsize, n->op == NEW_ZEROS);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)), data, 0, "");
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
    LLVMTypeRef et = lw_mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
    if (fill && elem->kind == TY_BOOL)
        fill = LLVMBuildZExt(B, fill, et, "");
    CountedLoop loop;
    lw_loop_open(L, &loop, i64c(L, 0), count, "fill", lw_new_bb(L, "fill.end"));
    LLVMValueRef v = fill;
    if (!v) { /* arange: a[1] as computed, else a[0] + i * delta */
        LLVMValueRef fi = ty_is_float(elem) ? LLVMBuildSIToFP(B, loop.iv, et, "")
                        : ty_bits(elem) < 64 ? LLVMBuildTrunc(B, loop.iv, et, "") : loop.iv;
        LLVMValueRef step = ty_is_float(elem) ? lw_fadd(L, first[0], lw_fmul(L, fi, delta))
                                              : LLVMBuildAdd(B, first[0], LLVMBuildMul(B, fi, delta, ""), "");
        v = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, loop.iv, i64c(L, 1), ""), first[1],
                            step, "");
    }
    LLVMValueRef st = LLVMBuildStore(B, v, LLVMBuildGEP2(B, et, base, &loop.iv, 1, ""));
    LLVMSetAlignment(st, lw_elem_align(elem));
    lw_loop_close(L, &loop);
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
        lw_bounds_fault(L, n, bad, NULL);
        return;
    }
    LLVMBasicBlockRef fault = lw_new_bb(L, "bcast.bad"), ok = lw_new_bb(L, "bcast.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef pair = LLVMBuildOr(B, LLVMBuildShl(B, x, i64c(L, 32), ""),
                                    LLVMBuildAnd(B, y, i64c(L, 0xffffffff), ""), "");
    L->jit->fault_detail(L, pair);
    lw_end_call(L, n, KERNEL_FAULT_BROADCAST);
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
        lw_loop_open(L, &loops[d], i64c(L, 0), shape[d], "elem", lw_new_bb(L, "elem.end"));
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
        p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, t->elem), 0), "");
        LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, t->elem), p, "");
        LLVMSetAlignment(v, lw_elem_align(t->elem));
        if (t->elem->kind == TY_BOOL)
            v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(lw_mty(L, t->elem)), "");
        ev[k] = v;
    }
    LLVMValueRef *saved = L->elems;
    L->elems = ev;
    LLVMValueRef v = lw_conv(L, body, lw_expr(L, body), body->ty, dt->elem);
    L->elems = saved;
    if (dt->elem->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, L->t_i8, "");
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, dest, 0, ""), &doff, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, dt->elem), 0), "");
    LLVMSetAlignment(LLVMBuildStore(B, v, p), lw_elem_align(dt->elem));
    for (int d = nd - 1; d >= 0; d--)
        lw_loop_close(L, &loops[d]);
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
        lw_fail(L, n, "out of memory");
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
    LLVMBasicBlockRef fast = lw_new_bb(L, "map.unit"), slow = lw_new_bb(L, "map.strided"),
                      done = lw_new_bb(L, "map.done");
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
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, itemsize, false);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)), data, 0, "");
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
        lw_fail(L, n, "out of memory");
    for (int k = 0; k < nops; k++)
        vals[k] = lw_expr(L, ops[k]);
    return vals;
}

/* a + b, np.sin(a) ... (ND_ARRAY_EXPR): the broadcast shape of the array
 * operands (NumPy: right-aligned, each extent equal or 1), a new array of
 * it, and array_map into it. */
LLVMValueRef lw_array_expr(Lower *L, Node *n)
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
void lw_array_assign(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *dt = n->a->ty;
    LLVMValueRef dest = lw_expr(L, n->a);
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
        LLVMBasicBlockRef copy = lw_new_bb(L, "alias.copy"), join = lw_new_bb(L, "alias.join");
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
            lw_fail(L, n, "out of memory");
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
    LLVMBasicBlockRef neg = lw_new_bb(L, "extent.neg"), ok = lw_new_bb(L, "extent.ok");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, len, i64c(L, 0), ""), neg, ok);
    LLVMPositionBuilderAtEnd(B, neg);
    lw_end_call(L, n, KERNEL_FAULT_NEGATIVE_DIM);
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
    LLVMValueRef start = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, f64);
    LLVMValueRef stop = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, f64);
    LLVMValueRef num = lw_conv(L, n, lw_expr(L, n->args[2]), n->args[2]->ty, i64);
    LLVMValueRef endpoint = lw_truth(L, lw_expr(L, n->args[3]), n->args[3]->ty);
    check_extent(L, n, num);
    LLVMValueRef div = LLVMBuildSelect(B, endpoint, LLVMBuildSub(B, num, i64c(L, 1), ""), num, "");
    LLVMValueRef fdivv = LLVMBuildSIToFP(B, div, L->t_f64, "");
    LLVMValueRef delta = lw_fsub(L, stop, start);
    LLVMValueRef step = lw_fdiv(L, delta, fdivv);
    LLVMValueRef pos = LLVMBuildICmp(B, LLVMIntSGT, div, i64c(L, 0), "");
    LLVMValueRef step0 = lw_fcmp(L, LLVMRealOEQ, step, LLVMConstReal(L->t_f64, 0.0));
    LLVMValueRef view = arena_array(L, n, n->ty, &num);
    LLVMTypeRef et = lw_mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, LLVMBuildExtractValue(B, view, 0, ""),
                                         LLVMPointerType(et, 0), "");
    LLVMValueRef last = LLVMBuildSub(B, num, i64c(L, 1), "");
    LLVMValueRef set_last = LLVMBuildAnd(B, endpoint, LLVMBuildICmp(B, LLVMIntSGT, num, i64c(L, 1),
                                                                    ""), "");
    CountedLoop loop;
    lw_loop_open(L, &loop, i64c(L, 0), num, "linspace", lw_new_bb(L, "linspace.end"));
    LLVMValueRef fi = LLVMBuildSIToFP(B, loop.iv, L->t_f64, "");
    LLVMValueRef scaled = LLVMBuildSelect(B, step0, lw_fmul(L, lw_fdiv(L, fi, fdivv), delta),
                                          lw_fmul(L, fi, step), "");
    LLVMValueRef y = lw_fadd(L, LLVMBuildSelect(B, pos, scaled, lw_fmul(L, fi, delta), ""), start);
    LLVMValueRef is_last = LLVMBuildAnd(B, set_last, LLVMBuildICmp(B, LLVMIntEQ, loop.iv, last, ""), "");
    y = LLVMBuildSelect(B, is_last, stop, y, "");
    if (ty_is_int(elem)) /* NumPy floors before the cast to an integer dtype */
        y = lw_intr1(L, "llvm.floor", y);
    LLVMValueRef v = lw_conv(L, n, y, f64, elem);
    if (elem->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, et, "");
    LLVMSetAlignment(LLVMBuildStore(B, v, LLVMBuildGEP2(B, et, base, &loop.iv, 1, "")),
                     lw_elem_align(elem));
    lw_loop_close(L, &loop);
    return view;
}

/* np.eye(N, M=N, k=0): zeros with ones on the k-th diagonal (a[i, i + k]). */
static LLVMValueRef eye(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *i64 = ty_scalar(TY_I64), *elem = n->ty->elem;
    LLVMValueRef shape[2];
    shape[0] = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, i64);
    shape[1] = n->nargs == 3 ? lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, i64) : shape[0];
    LLVMValueRef k = lw_conv(L, n, lw_expr(L, n->args[n->nargs - 1]), n->args[n->nargs - 1]->ty, i64);
    int64_t itemsize = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, 2, itemsize, true);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, n->ty)), data, 0, "");
    view = LLVMBuildInsertValue(B, view, shape[0], 1, "");
    view = LLVMBuildInsertValue(B, view, shape[1], 2, "");
    view = LLVMBuildInsertValue(B, view, LLVMBuildNSWMul(B, shape[1], i64c(L, itemsize), ""), 3, "");
    view = LLVMBuildInsertValue(B, view, i64c(L, itemsize), 4, "");
    LLVMTypeRef et = lw_mty(L, elem);
    LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
    LLVMValueRef one = lw_conv(L, n, i64c(L, 1), i64, elem);
    if (elem->kind == TY_BOOL)
        one = LLVMBuildZExt(B, one, et, "");
    CountedLoop loop;
    lw_loop_open(L, &loop, i64c(L, 0), shape[0], "eye", lw_new_bb(L, "eye.end"));
    LLVMValueRef j = LLVMBuildAdd(B, loop.iv, k, "");
    LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, j, i64c(L, 0), ""),
                                   LLVMBuildICmp(B, LLVMIntSLT, j, shape[1], ""), "");
    LLVMBasicBlockRef put = lw_new_bb(L, "eye.put"), next = lw_new_bb(L, "eye.next");
    LLVMBuildCondBr(B, in, put, next);
    LLVMPositionBuilderAtEnd(B, put);
    LLVMValueRef idx = LLVMBuildAdd(B, LLVMBuildMul(B, loop.iv, shape[1], ""), j, "");
    LLVMSetAlignment(LLVMBuildStore(B, one, LLVMBuildGEP2(B, et, base, &idx, 1, "")),
                     lw_elem_align(elem));
    LLVMBuildBr(B, next);
    LLVMPositionBuilderAtEnd(B, next);
    lw_loop_close(L, &loop);
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
    LLVMValueRef src = lw_expr(L, n->b), sv = lw_expr(L, n->a);
    LLVMValueRef size = i64c(L, 1);
    for (int d = 0; d < at->ndim; d++)
        size = LLVMBuildMul(B, size, LLVMBuildExtractValue(B, src, (unsigned)(1 + d), ""), "");
    LLVMValueRef shape[EMBER_MAX_NDIM], known = i64c(L, 1), unknown = i64c(L, 0),
                 bad = LLVMConstInt(L->t_i1, 0, 0);
    for (int d = 0; d < nd; d++) {
        shape[d] = st->kind == TY_TUPLE
            ? lw_conv(L, n, LLVMBuildExtractValue(B, sv, (unsigned)d, ""), st->fields[d], i64)
            : lw_conv(L, n, sv, st, i64);
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
    LLVMBasicBlockRef fault = lw_new_bb(L, "reshape.bad"), ok = lw_new_bb(L, "reshape.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    L->jit->fault_detail(L, size);
    lw_end_call(L, n, KERNEL_FAULT_RESHAPE);
    LLVMPositionBuilderAtEnd(B, ok);
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)),
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
