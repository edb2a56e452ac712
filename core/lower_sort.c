/*
 * lower_sort.c — np.sort(a), a.sort() and np.argsort(a) in ember.jit
 * functions, along the last axis as NumPy's defaults: a loop over the rows
 * (every index of the other dimensions) that calls the target's sort
 * runtime on each (LowerJit.sort_row; devices/cpu/sort.c). np.sort copies
 * a into a new C array first; argsort writes int64 rows of a new C array.
 */
#include "core/lower_impl.h"

static LLVMValueRef field(Lower *L, LLVMValueRef v, int i)
{
    return LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
}

static LLVMValueRef new_c_array(Lower *L, const Node *n, const Type *t, LLVMValueRef *shape)
{
    LLVMBuilderRef B = L->b;
    int nd = t->ndim;
    int64_t isz = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, isz, false);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)), data, 0, "");
    LLVMValueRef stride = i64c(L, isz);
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(B, view, shape[i], (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + i), "");
        stride = LLVMBuildNSWMul(B, stride, shape[i], "");
    }
    return view;
}

LLVMValueRef lw_sort(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *at = ty_concrete(n->a->ty), *et = at->elem;
    int nd = at->ndim, op = n->op;
    LLVMValueRef a = lw_expr(L, n->a), shape[EMBER_MAX_NDIM];
    for (int d = 0; d < nd; d++)
        shape[d] = field(L, a, 1 + d);
    LLVMValueRef len = shape[nd - 1];
    int64_t isz = ty_bits(et) < 8 ? 1 : ty_bits(et) / 8;
    LLVMValueRef result = a, out = NULL;
    if (op != ATTR_SORT_INPLACE) {
        result = new_c_array(L, n, n->ty, shape);
        out = field(L, result, 0);
    }
    /* the rows: loops over the leading dimensions */
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off = i64c(L, 0), flat = i64c(L, 0);
    for (int d = 0; d < nd - 1; d++) {
        lw_loop_open(L, &loops[d], i64c(L, 0), shape[d], "rows", lw_new_bb(L, "rows.end"));
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, loops[d].iv, field(L, a, 1 + nd + d), ""), "");
        flat = LLVMBuildAdd(B, LLVMBuildMul(B, flat, shape[d], ""), loops[d].iv, "");
    }
    LLVMValueRef data = field(L, a, 0);
    LLVMValueRef row = LLVMBuildGEP2(B, L->t_i8, data, &off, 1, "row");
    LLVMValueRef stride = field(L, a, 1 + nd + nd - 1), idx = NULL;
    LLVMValueRef out_off = LLVMBuildMul(B, flat, LLVMBuildMul(B, len, i64c(L, op == ATTR_ARGSORT ? 8 : isz), ""), "");
    LLVMValueRef out_row = out ? LLVMBuildGEP2(B, L->t_i8, out, &out_off, 1, "") : NULL;
    if (op == ATTR_SORT) { /* copy the row, then sort the copy (contiguous) */
        CountedLoop c;
        LLVMTypeRef mt = lw_mty(L, et);
        lw_loop_open(L, &c, i64c(L, 0), len, "copy", lw_new_bb(L, "copy.end"));
        LLVMValueRef so = LLVMBuildMul(B, c.iv, stride, ""), dof = LLVMBuildMul(B, c.iv, i64c(L, isz), "");
        LLVMValueRef src = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, row, &so, 1, ""),
                                            LLVMPointerType(mt, 0), "");
        LLVMValueRef dst = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, out_row, &dof, 1, ""),
                                            LLVMPointerType(mt, 0), "");
        LLVMValueRef v = LLVMBuildLoad2(B, mt, src, "");
        LLVMSetAlignment(v, lw_elem_align(et));
        LLVMSetAlignment(LLVMBuildStore(B, v, dst), lw_elem_align(et));
        lw_loop_close(L, &c);
        row = out_row;
        stride = i64c(L, isz);
    } else if (op == ATTR_ARGSORT) {
        idx = out_row;
    }
    LLVMValueRef st = L->jit->sort_row(L, row, len, stride, (int)et->kind, idx);
    LLVMBasicBlockRef fault = lw_new_bb(L, "sort.nomem"), ok = lw_new_bb(L, "sort.ok");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, st, LLVMConstInt(L->t_i32, 0, 0), ""), fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    L->jit->fault_detail(L, LLVMBuildMul(B, len, i64c(L, isz + 8), ""));
    lw_end_call(L, n, KERNEL_FAULT_NO_MEMORY);
    LLVMPositionBuilderAtEnd(B, ok);
    for (int d = nd - 2; d >= 0; d--)
        lw_loop_close(L, &loops[d]);
    return result;
}
