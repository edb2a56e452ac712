/*
 * lower_array.c — arrays element by element: indexing and its bounds
 * checks, atomics on elements, attributes (shape, strides, T, real ...),
 * slices as views, cuda.local / shared / const arrays, and reductions
 * (a.sum() ...). The atomic instructions, the shared memory and the address
 * space of constants come from the target (LowerTarget).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* A store into the fault record, which other threads may write too
 * (LowerTarget.atomic_access; any writer's value will do). */
void lw_fault_store(Lower *L, LLVMValueRef v, LLVMValueRef ptr, LLVMAtomicOrdering order)
{
    LLVMValueRef st = LLVMBuildStore(L->b, v, ptr);
    L->target->atomic_access(L, st, order);
    LLVMSetAlignment(st, 4);
}

/* Bounds checking (Function.boundscheck): when `bad`, record the fault and
 * its site for the launch to raise IndexError, and send the access to a
 * scratch slot instead (loads give 0, stores go nowhere), so that the
 * kernel never touches memory outside its arrays. */
LLVMValueRef lw_bounds_fault(Lower *L, const Node *n, LLVMValueRef bad, LLVMValueRef p)
{
    LLVMBuilderRef B = L->b;
    int index = lw_add_site(L, n);
    LLVMBasicBlockRef fault = lw_new_bb(L, "oob"), cont = lw_new_bb(L, "inbounds");
    LLVMBuildCondBr(B, bad, fault, cont);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef scratch = NULL;
    if (p) { /* where the access goes instead: loads read 0 */
        scratch = lw_entry_alloca(L, LLVMArrayType(L->t_i64, 2), "oob.scratch");
        LLVMSetAlignment(scratch, 16);
        LLVMBuildStore(B, LLVMConstNull(LLVMArrayType(L->t_i64, 2)), scratch);
    }
    /* the first fault is the one reported (a view out of bounds, not the
     * store into it that follows) */
    LLVMValueRef seen = LLVMBuildLoad2(B, L->t_i32, L->fault, "fault.seen");
    L->target->atomic_access(L, seen, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(seen, 4);
    LLVMBasicBlockRef record = lw_new_bb(L, "oob.record");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, seen, LLVMConstInt(L->t_i32, 0, 0), ""),
                    record, cont);
    LLVMPositionBuilderAtEnd(B, record);
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    LLVMValueRef site_ptr = LLVMBuildGEP2(B, L->t_i32, L->fault, &one, 1, "");
    lw_fault_store(L, LLVMConstInt(L->t_i32, (unsigned)index, 0), site_ptr,
                LLVMAtomicOrderingMonotonic);
    for (int i = 0; i < 6; i++) { /* where: threadIdx, blockIdx */
        LLVMValueRef at = LLVMConstInt(L->t_i32, (unsigned)(2 + i), 0);
        lw_fault_store(L, i < 3 ? L->tid[i] : L->bid[i - 3],
                    LLVMBuildGEP2(B, L->t_i32, L->fault, &at, 1, ""), LLVMAtomicOrderingMonotonic);
    }
    lw_fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_INDEX, 0), L->fault,
                LLVMAtomicOrderingRelease);
    LLVMBuildBr(B, cont);
    LLVMPositionBuilderAtEnd(B, cont);
    if (!p) /* a slice: the caller empties the view */
        return NULL;
    return LLVMBuildSelect(B, bad, LLVMBuildBitCast(B, scratch, L->t_ptr, ""), p, "");
}

static void note_assignments(signed char *axis, const Node *n, int depth)
{
    if (!n || depth > 200)
        return;
    if ((n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE) && n->var >= 0) {
        const Node *v = n->kind == ND_ASSIGN ? n->a : NULL;
        int d = v && v->kind == ND_INTRINSIC && v->op == INTR_THREAD_IDX && v->nargs == 1 &&
                        v->args[0]->kind == ND_CONST ? (int)v->args[0]->ival : -1;
        /* -2: not seen yet; a second assignment, or another value: -1 */
        axis[n->var] = axis[n->var] == -2 && d >= 0 && d < 3 ? (signed char)d : -1;
    }
    note_assignments(axis, n->a, depth + 1);
    note_assignments(axis, n->b, depth + 1);
    note_assignments(axis, n->c, depth + 1);
    for (int i = 0; i < n->nargs; i++)
        note_assignments(axis, n->args[i], depth + 1);
}

/* The axis d when index n is cuda.threadIdx.<d> (directly, or a variable of
 * the kernel assigned only that), else -1. */
static int thread_axis(Lower *L, const Node *n)
{
    if (n->kind == ND_INTRINSIC && n->op == INTR_THREAD_IDX && n->nargs == 1 &&
        n->args[0]->kind == ND_CONST && n->args[0]->ival >= 0 && n->args[0]->ival < 3)
        return (int)n->args[0]->ival;
    if (n->kind != ND_LOAD || L->fn != L->root_fn || L->function_entry)
        return -1;
    if (!L->tid_axis) {
        int nv = L->fn->nvars;
        if (!(L->tid_axis = em_malloc((size_t)nv + 1))) {
            L->st = EMBER_ERR_OUT_OF_MEMORY;
            longjmp(L->fail_jmp, 1);
        }
        memset(L->tid_axis, -2, (size_t)nv + 1);
        note_assignments(L->tid_axis, L->fn->body, 0);
    }
    return n->var >= 0 && n->var < L->fn->nvars && L->tid_axis[n->var] >= 0 ? L->tid_axis[n->var]
                                                                              : -1;
}

/* Address of a[idx...]: data + sum(idx_i * stride_i), a negative index
 * wrapped once (idx + shape_i), for a store or atomic (`write`) or a load.
 * Checked (L->check_writes / check_reads): each index against its extent,
 * in a form that LLVM folds away under the usual guard (`if i < a.size`,
 * `if i < a.shape[0]` with i known non-negative, as cuda.grid gives). For a 'C'
 * ('F') array the last (first) stride is the item size, a constant, which
 * lets LLVM see unit-stride accesses and vectorise them. */
LLVMValueRef lw_element_ptr(Lower *L, Node *n, const Type **elem_out, bool write)
{
    const Type *at = n->a->ty;
    LLVMBuilderRef B = L->b;
    LLVMValueRef arr = lw_expr(L, n->a);
    int nd = at->ndim;
    LLVMValueRef off = NULL, bad = NULL;
    bool check = write ? L->check_writes : L->check_reads;
    int64_t itemsize = ty_bits(at->elem) < 8 ? 1 : ty_bits(at->elem) / 8;
    for (int i = 0; i < nd; i++) {
        const Type *it = ty_concrete(n->args[i]->ty);
        LLVMValueRef idx = lw_conv(L, n, lw_expr(L, n->args[i]), it, ty_scalar(ty_is_signed(it) ? TY_I64 : TY_U64));
        LLVMValueRef shape = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
        LLVMValueRef out = NULL;
        bool pop = n->ival == 1; /* a list's pop: -1 is out of bounds, always checked */
        if (check && !pop && ty_is_signed(it) && n->a->kind == ND_PARAM) {
            /* an argument's extent: on the index as written, idx >= shape
             * (the negation of a guard `idx < shape`, folded under it), or
             * idx + shape < 0 (past one wrap; false where idx is known
             * non-negative) */
            LLVMValueRef nn = LLVMBuildAnd(B, shape, i64c(L, INT64_MAX), "");
            LLVMValueRef hi = LLVMBuildICmp(B, LLVMIntSGE, idx, shape, "oob.hi");
            LLVMValueRef lo = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildNSWAdd(B, idx, nn, ""),
                                            i64c(L, 0), "oob.lo");
            out = LLVMBuildOr(B, hi, lo, "oob");
        }
        if (ty_is_signed(it) && !pop) {
            LLVMValueRef negi = LLVMBuildICmp(B, LLVMIntSLT, idx, i64c(L, 0), "");
            idx = LLVMBuildSelect(B, negi, LLVMBuildAdd(B, idx, shape, ""), idx, "");
        }
        if ((check || pop) && !out) /* else the wrapped index in [0, shape): one compare */
            out = LLVMBuildICmp(B, LLVMIntUGE, idx, shape, "oob");
        if (out)
            bad = bad ? LLVMBuildOr(B, bad, out, "") : out;
        bool unit = (at->layout == 'C' && i == nd - 1) || (at->layout == 'F' && i == 0);
        LLVMValueRef stride = unit ? i64c(L, itemsize)
                                   : LLVMBuildExtractValue(B, arr, (unsigned)(1 + nd + i), "stride");
        LLVMValueRef term = LLVMBuildMul(B, idx, stride, "");
        off = off ? LLVMBuildAdd(B, off, term, "") : term;
    }
    LLVMValueRef data = LLVMBuildExtractValue(B, arr, 0, "data");
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, data, &off, 1, "");
    if (bad && L->bdim[0]) { /* s[ty, tx]: no thread can fault unless a block dimension
                              * exceeds the extent it indexes; LLVM unswitches the
                              * thread loop on that (loop-invariant) condition */
        LLVMValueRef some = NULL;
        for (int i = 0; i < nd; i++) {
            int d = thread_axis(L, n->args[i]);
            if (d < 0) {
                some = NULL;
                break;
            }
            LLVMValueRef shape = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
            LLVMValueRef wide = LLVMBuildICmp(B, LLVMIntSGT, LLVMBuildZExt(B, L->bdim[d], L->t_i64, ""),
                                              shape, "");
            some = some ? LLVMBuildOr(B, some, wide, "") : wide;
        }
        if (some)
            bad = LLVMBuildAnd(B, some, bad, "");
    }
    if (bad)
        p = lw_bounds_fault(L, n, bad, p);
    *elem_out = at->elem;
    if (at->elem->kind == TY_RECORD)
        return p; /* the record's address (i8*) */
    return LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, at->elem), 0), "");
}

/* The address of record field n (ATTR_FIELD) as a pointer to its type (i8*
 * for a nested array); *align: what the field's offset and the record's
 * alignment guarantee (1 in a packed record). */
LLVMValueRef lw_field_ptr(Lower *L, Node *n, unsigned *align)
{
    const Type *rec = n->a->ty, *ft = rec->fields[n->index];
    int64_t off = rec->offsets[n->index];
    LLVMValueRef off_v = i64c(L, off);
    LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, lw_expr(L, n->a), &off_v, 1, "field");
    unsigned want = lw_elem_align(ft->kind == TY_ARRAY ? ft->elem : ft);
    *align = ((unsigned)rec->align % want == 0 && off % want == 0 &&
              rec->size % want == 0) ? want : 1;
    if (ft->kind == TY_ARRAY)
        return p;
    return LLVMBuildBitCast(L->b, p, LLVMPointerType(lw_mty(L, ft), 0), "");
}

/* cuda.atomic.<op>(ary, idx, val): the old element, with ary[idx] updated
 * atomically (the target's order: relaxed on CUDA, sequentially consistent
 * on the host). Integer add/sub/and/or/xor/max/min/exch and float add/sub
 * are one read-modify-write (LowerTarget.atomic_rmw); the rest is a
 * compare-exchange
 * loop on the element's bits:
 *   max/min (floats): Python's max(old, val) / min(old, val) (NaN in `old`
 *     stays, a NaN `val` is ignored), nanmax/nanmin: NaN is a missing value
 *     (llvm.maxnum / minnum: the other operand);
 *   inc: old >= val ? 0 : old + 1;  dec: old == 0 || old > val ? val : old - 1
 *     (CUDA's atomicInc / atomicDec);
 *   cas(ary, idx, old, val): stores val when the element equals old (bitwise
 *     for floats). */
/* float16 atomic add (CUDA's atomicAdd(__half *)): a compare-and-swap
 * loop on the aligned 32-bit word that holds the half, on every target
 * (PTX's atom.add.noftz.f16 makes ptxas 13.0 crash for sm_90 with line
 * tables). The sum is a half add: correctly rounded. Returns the old value. */
static LLVMValueRef half_atomic_add(Lower *L, LLVMValueRef p, LLVMValueRef v)
{
    LLVMBuilderRef B = L->b;
    unsigned as = LLVMGetPointerAddressSpace(LLVMTypeOf(p));
    LLVMValueRef addr = LLVMBuildPtrToInt(B, p, L->t_i64, "");
    LLVMValueRef wp = LLVMBuildIntToPtr(B, LLVMBuildAnd(B, addr, ci(L->t_i64, -4), ""),
                                        LLVMPointerType(L->t_i32, as), "");
    LLVMValueRef shift = LLVMBuildTrunc(B, LLVMBuildShl(B, LLVMBuildAnd(B, addr, ci(L->t_i64, 2), ""),
                                                        ci(L->t_i64, 3), ""), L->t_i32, "");
    LLVMValueRef keep = LLVMBuildNot(B, LLVMBuildShl(B, ci(L->t_i32, 0xffff), shift, ""), "");
    LLVMValueRef init = LLVMBuildLoad2(B, L->t_i32, wp, "");
    L->target->atomic_access(L, init, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(init, 4);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(B), loop = lw_new_bb(L, "atomic.loop"),
                      done = lw_new_bb(L, "atomic.done");
    LLVMBuildBr(B, loop);
    LLVMPositionBuilderAtEnd(B, loop);
    LLVMValueRef cur = LLVMBuildPhi(B, L->t_i32, "");
    LLVMValueRef old = LLVMBuildBitCast(B, LLVMBuildTrunc(B, LLVMBuildLShr(B, cur, shift, ""),
                                                          L->t_i16, ""), L->t_f16, "");
    LLVMValueRef sum = LLVMBuildBitCast(B, LLVMBuildFAdd(B, old, v, ""), L->t_i16, "");
    LLVMValueRef nw = LLVMBuildOr(B, LLVMBuildAnd(B, cur, keep, ""),
                                  LLVMBuildShl(B, LLVMBuildZExt(B, sum, L->t_i32, ""), shift, ""), "");
    LLVMValueRef ok, seen = L->target->atomic_cas(L, wp, cur, nw, &ok);
    LLVMBasicBlockRef from = LLVMGetInsertBlock(B);
    LLVMBuildCondBr(B, ok, done, loop);
    LLVMValueRef inc_v[2] = {init, seen};
    LLVMBasicBlockRef inc_b[2] = {entry, from};
    LLVMAddIncoming(cur, inc_v, inc_b, 2);
    LLVMPositionBuilderAtEnd(B, done);
    return old;
}

LLVMValueRef lw_atomic_op(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Node probe = *n;
    probe.kind = ND_INDEX;
    const Type *elem;
    LLVMValueRef p = lw_element_ptr(L, &probe, &elem, true);
    LLVMValueRef v = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, elem);
    bool fl = ty_is_float(elem), sg = ty_is_signed(elem);
    if (elem->kind == TY_F16) /* add or sub (inference allows no other) */
        return half_atomic_add(L, p, n->op == ATOM_SUB ? lw_build_fneg(L, v) : v);
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
    if (rmw >= 0)
        return L->target->atomic_rmw(L, (LLVMAtomicRMWBinOp)rmw, p, v);
    LLVMTypeRef et = lw_lty(L, elem);
    LLVMTypeRef it = ty_bits(elem) == 32 ? L->t_i32 : L->t_i64;
    LLVMValueRef ip = LLVMBuildBitCast(B, p, LLVMPointerType(it, 0), "");
#define BITS(x) (fl ? LLVMBuildBitCast(B, (x), it, "") : (x))
#define VAL(x) (fl ? LLVMBuildBitCast(B, (x), et, "") : (x))
    if (n->op == ATOM_CAS) {
        LLVMValueRef nv = lw_conv(L, n, lw_expr(L, n->c), n->c->ty, elem);
        return VAL(L->target->atomic_cas(L, ip, BITS(v), BITS(nv), NULL));
    }
    LLVMValueRef init = LLVMBuildLoad2(B, it, ip, "");
    L->target->atomic_access(L, init, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(init, (unsigned)ty_bits(elem) / 8);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(B), loop = lw_new_bb(L, "atomic.loop"),
                      done = lw_new_bb(L, "atomic.done");
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
    case ATOM_NANMAX: nv = lw_intr2(L, "llvm.maxnum", old, v); break;
    case ATOM_NANMIN: nv = lw_intr2(L, "llvm.minnum", old, v); break;
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
    LLVMValueRef ok, seen = L->target->atomic_cas(L, ip, old_i, BITS(nv), &ok);
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

/* A view of array `a` (ndim nd) as type `vt`: the same shape and strides,
 * the data `off` bytes on (a.x of records, a.real / a.imag). */
static LLVMValueRef offset_view(Lower *L, LLVMValueRef a, int nd, const Type *vt, int64_t off)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef o = i64c(L, off);
    LLVMValueRef data = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, a, 0, ""), &o, 1,
                                      "view.data");
    LLVMValueRef v = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, vt)), data, 0, "");
    for (unsigned i = 1; i <= 2 * (unsigned)nd; i++)
        v = LLVMBuildInsertValue(B, v, LLVMBuildExtractValue(B, a, i, ""), i, "");
    return v;
}

LLVMValueRef lw_attr(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = lw_expr(L, n->a);
    const Type *at = ty_concrete(n->a->ty);
    switch (n->op) {
    case ATTR_FIELD: {
        if (at->kind == TY_ARRAY) /* a.x of an array of records: the data moved to the field */
            return offset_view(L, a, at->ndim, n->ty, at->elem->offsets[n->index]);
        /* a number: loaded; a nested array: a C-ordered view of its bytes */
        (void)a;
        unsigned align;
        LLVMValueRef p = lw_field_ptr(L, n, &align);
        const Type *ft = n->ty;
        if (ft->kind == TY_ARRAY) {
            const int64_t *ext = at->fshapes + n->index * EM_FIELD_MAX_NDIM;
            LLVMValueRef v = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, ft)), p, 0, "");
            int64_t stride = ty_bits(ft->elem) / 8;
            for (int i = ft->ndim - 1; i >= 0; i--) {
                v = LLVMBuildInsertValue(B, v, i64c(L, ext[i]), (unsigned)(1 + i), "");
                v = LLVMBuildInsertValue(B, v, i64c(L, stride), (unsigned)(1 + ft->ndim + i), "");
                stride *= ext[i];
            }
            return v;
        }
        LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, ft), p, "");
        LLVMSetAlignment(v, align);
        if (ft->kind == TY_BOOL)
            v = LLVMBuildICmp(B, LLVMIntNE, v, ci(L->t_i8, 0), "");
        return v;
    }
    case ATTR_SHAPE: case ATTR_STRIDES: {
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
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
        if (n->b) /* along an axis */
            return lw_reduction(L, n, a, at);
        return reduce(L, n, a, at);
    case ATTR_ARGMIN: case ATTR_ARGMAX: case ATTR_ALL: case ATTR_ANY: case ATTR_VAR:
    case ATTR_STD: case ATTR_CUMSUM: case ATTR_CUMPROD:
        return lw_reduction(L, n, a, at);
    case ATTR_UNRAVEL:
        return lw_unravel(L, n);
    case ATTR_SORT: case ATTR_ARGSORT: case ATTR_SORT_INPLACE:
        return lw_sort(L, n);
    case ATTR_DOT:
        return lw_dot(L, n, a);
    case ATTR_T: { /* { data, shape reversed, strides reversed } */
        LLVMValueRef t = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, n->ty)),
                                              LLVMBuildExtractValue(B, a, 0, ""), 0, "");
        for (int i = 0; i < at->ndim; i++)
            for (int k = 0; k < 2; k++) { /* k 0: shape, 1: strides */
                unsigned from = (unsigned)(1 + k * at->ndim + (at->ndim - 1 - i));
                t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, a, from, ""),
                                         (unsigned)(1 + k * at->ndim + i), "");
            }
        return t;
    }
    case ATTR_LEN: /* of an array: shape[0]; of a tuple: its arity (infer.c) */
        if (at->kind == TY_TUPLE)
            return i64c(L, at->nfields);
        return LLVMBuildExtractValue(B, a, 1, "len");
    case ATTR_REAL: case ATTR_IMAG:
        if (at->kind == TY_ARRAY) /* the part's view: the data moved by 0 or its size */
            return !ty_is_complex(at->elem) ? a
                   : offset_view(L, a, at->ndim, n->ty,
                                 n->op == ATTR_IMAG ? ty_bits(at->elem) / 16 : 0);
        if (n->op == ATTR_REAL)
            return ty_is_complex(at) ? re_of(L, a) : lw_conv(L, n, a, at, n->ty);
        return ty_is_complex(at) ? im_of(L, a) : LLVMConstNull(lw_lty(L, n->ty));
    case ATTR_CONJ:
        if (ty_is_complex(at))
            return lw_make_complex(L, at, re_of(L, a), lw_build_fneg(L, im_of(L, a)));
        return lw_conv(L, n, a, at, n->ty);
    default:
        lw_fail(L, n, "unknown attribute %d", n->op);
    }
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
            v[j] = lw_conv(L, it, lw_expr(L, (Node *)parts[j]), parts[j]->ty,
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
LLVMValueRef lw_slice_view(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *at = n->a->ty;
    int nd = at->ndim, rnd = n->ty->ndim, k = 0;
    LLVMValueRef arr = lw_expr(L, n->a);
    LLVMValueRef view = LLVMGetUndef(lw_lty(L, n->ty));
    LLVMValueRef off = NULL, bad = NULL;
    for (int i = 0; i < nd; i++) {
        const Node *it = i < n->nargs ? n->args[i] : NULL;
        LLVMValueRef len = LLVMBuildExtractValue(B, arr, (unsigned)(1 + i), "shape");
        LLVMValueRef stride = LLVMBuildExtractValue(B, arr, (unsigned)(1 + nd + i), "stride");
        LLVMValueRef out_len = len, out_stride = stride;
        if (it && it->kind != ND_SLICE_PART) {
            const Type *t = ty_concrete(it->ty);
            LLVMValueRef idx = lw_conv(L, it, lw_expr(L, (Node *)it), t,
                                    ty_scalar(ty_is_signed(t) ? TY_I64 : TY_U64));
            if (ty_is_signed(t)) {
                LLVMValueRef negi = LLVMBuildICmp(B, LLVMIntSLT, idx, i64c(L, 0), "");
                idx = LLVMBuildSelect(B, negi, LLVMBuildAdd(B, idx, len, ""), idx, "");
            }
            if (L->check_writes || L->check_reads) { /* the view may be written */
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
            lw_fail(L, n, "malformed slice");
        view = LLVMBuildInsertValue(B, view, out_len, (unsigned)(1 + k), "");
        view = LLVMBuildInsertValue(B, view, out_stride, (unsigned)(1 + rnd + k), "");
        k++;
    }
    LLVMValueRef data = LLVMBuildExtractValue(B, arr, 0, "data");
    if (off)
        data = LLVMBuildGEP2(B, L->t_i8, data, &off, 1, "view");
    view = LLVMBuildInsertValue(B, view, data, 0, "");
    if (bad) { /* an integer item out of bounds: an empty view, and the fault */
        lw_bounds_fault(L, n, bad, NULL);
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
LLVMValueRef lw_const_array(Lower *L, Node *n)
{
    const Type *t = n->ty;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef init = LLVMConstStringInContext(L->ctx, n->text, (unsigned)n->ival, 1);
    unsigned space = L->target->const_address_space;
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, LLVMTypeOf(init), "const_array", space);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMSetAlignment(g, 16);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    LLVMValueRef p = LLVMConstInBoundsGEP2(LLVMTypeOf(init), g, zero, 2);
    if (space)
        p = LLVMConstAddrSpaceCast(p, L->t_ptr);
    LLVMValueRef view = LLVMGetUndef(lw_lty(L, t));
    view = LLVMBuildInsertValue(L->b, view, p, 0, "");
    int64_t stride = itemsize;
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(L->b, view, i64c(L, n->args[i]->ival), (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(L->b, view, i64c(L, stride), (unsigned)(1 + nd + i), "");
        stride *= n->args[i]->ival ? n->args[i]->ival : 1;
    }
    return view;
}


LLVMValueRef lw_local_array(Lower *L, Node *n)
{
    const Type *t = n->ty;
    int nd = t->ndim;
    int64_t itemsize = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8, count = 1;
    for (int i = 0; i < nd; i++)
        count *= n->args[i]->ival;
    LLVMValueRef mem, dyn_len = NULL;
    if (L->fis && (n->op == MEM_SHARED || L->fn == L->root_fn)) {
        mem = lw_fis_array_memory(L, n, &dyn_len, itemsize);
    } else if (n->op == MEM_SHARED) {
        if (!L->target->shared_array)
            lw_fail(L, n, "cuda.shared.array is not supported by the %s target", L->target->name);
        mem = L->target->shared_array(L, n, count, itemsize, &dyn_len);
    } else if (L->function_entry && LLVMGetParamParent(L->call_dims) == L->func) {
        /* an ember.jit function (not a recursive callee): in the call's
         * arena, so that returning it returns live memory */
        LLVMValueRef shape[EMBER_MAX_NDIM];
        for (int i = 0; i < nd; i++)
            shape[i] = i64c(L, n->args[i]->ival);
        mem = L->jit->array_alloc(L, n, shape, nd, itemsize, false);
    } else {
        mem = lw_entry_alloca(L, LLVMArrayType(lw_item_mty(L, t->elem), (unsigned)count), "local");
        LLVMSetAlignment(mem, 16);
    }
    LLVMValueRef view = LLVMGetUndef(lw_lty(L, t));
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
    LLVMTypeRef t = lw_lty(L, rt);
    LLVMValueRef acc = lw_entry_alloca(L, t, "acc");
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
        init = lw_conv(L, n, i64c(L, 1), ty_scalar(TY_I64), rt);
    } else {
        init = LLVMConstNull(t);
    }
    LLVMBuildStore(B, init, acc);
    int nd = at->ndim;
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off = i64c(L, 0);
    for (int k = 0; k < nd; k++) {
        LLVMBasicBlockRef done = lw_new_bb(L, "red.end");
        lw_loop_open(L, &loops[k], i64c(L, 0), LLVMBuildExtractValue(B, a, (unsigned)(1 + k), ""),
                  "red", done);
        LLVMValueRef stride = LLVMBuildExtractValue(B, a, (unsigned)(1 + nd + k), "");
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, loops[k].iv, stride, ""), "");
    }
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, a, 0, ""), &off, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, et), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, et), p, "");
    LLVMSetAlignment(v, lw_elem_align(et));
    if (et->kind == TY_BOOL)
        v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(lw_mty(L, et)), "");
    v = lw_conv(L, n, v, et, rt);
    LLVMValueRef cur = LLVMBuildLoad2(B, t, acc, ""), next;
    if (op == ATTR_SUM || op == ATTR_MEAN) {
        next = cx ? lw_make_complex(L, rt, lw_fadd(L, re_of(L, cur), re_of(L, v)),
                                 lw_fadd(L, im_of(L, cur), im_of(L, v)))
             : fl ? lw_fadd(L, cur, v) : LLVMBuildAdd(B, cur, v, "");
    } else if (op == ATTR_PROD) {
        if (cx) {
            LLVMValueRef a1 = re_of(L, cur), b1 = im_of(L, cur), a2 = re_of(L, v), b2 = im_of(L, v);
            next = lw_make_complex(L, rt, lw_fsub(L, lw_fmul(L, a1, a2), lw_fmul(L, b1, b2)),
                                lw_fadd(L, lw_fmul(L, a1, b2), lw_fmul(L, b1, a2)));
        } else {
            next = fl ? lw_fmul(L, cur, v) : LLVMBuildMul(B, cur, v, "");
        }
    } else {
        bool mn = op == ATTR_MIN;
        LLVMValueRef better;
        if (fl) /* NaN wins, and stays: a comparison with NaN is false */
            better = LLVMBuildOr(B, lw_fcmp(L, mn ? LLVMRealOLT : LLVMRealOGT, v, cur),
                                 lw_fcmp(L, LLVMRealUNO, v, v), "");
        else if (rt->kind == TY_BOOL)
            better = LLVMBuildICmp(B, mn ? LLVMIntULT : LLVMIntUGT, v, cur, "");
        else
            better = LLVMBuildICmp(B, mn ? (ty_is_signed(rt) ? LLVMIntSLT : LLVMIntULT)
                                         : (ty_is_signed(rt) ? LLVMIntSGT : LLVMIntUGT), v, cur, "");
        next = LLVMBuildSelect(B, better, v, cur, "");
    }
    LLVMBuildStore(B, next, acc);
    for (int k = nd - 1; k >= 0; k--)
        lw_loop_close(L, &loops[k]);
    LLVMValueRef r = LLVMBuildLoad2(B, t, acc, n->op == ATTR_MEAN ? "sum" : "reduced");
    LLVMValueRef size = i64c(L, 1);
    for (int k = 0; k < nd; k++)
        size = LLVMBuildMul(B, size, LLVMBuildExtractValue(B, a, (unsigned)(1 + k), ""), "");
    if (op == ATTR_MEAN) {
        const Type *pt = cx ? lw_part_type(rt) : rt;
        LLVMValueRef sz = lw_conv(L, n, size, ty_scalar(TY_I64), pt);
        r = cx ? lw_make_complex(L, rt, lw_fdiv(L, re_of(L, r), sz), lw_fdiv(L, im_of(L, r), sz))
               : lw_fdiv(L, r, sz);
    } else if (op == ATTR_MIN || op == ATTR_MAX) {
        LLVMBasicBlockRef empty = lw_new_bb(L, "red.empty"), ok = lw_new_bb(L, "red.ok");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, size, i64c(L, 0), ""), empty, ok);
        LLVMPositionBuilderAtEnd(B, empty);
        lw_fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_EMPTY, 0), L->fault,
                    LLVMAtomicOrderingMonotonic);
        LLVMBuildBr(B, ok);
        LLVMPositionBuilderAtEnd(B, ok);
    }
    return r;
}
