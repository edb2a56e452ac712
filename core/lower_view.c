/*
 * lower_view.c — a.view(dtype): the array's memory as another dtype, as
 * NumPy's ndarray.view (array_descr_set, NumPy >= 1.23):
 *
 *   - the same itemsize: the same data, shape and strides;
 *   - another itemsize: only the last axis changes. Unless its extent is 1
 *     or the array is empty, its stride must be the old itemsize ("the last
 *     axis must be contiguous"), and its size in bytes a multiple of the new
 *     itemsize; its extent becomes bytes / new itemsize, its stride the new
 *     itemsize.
 *
 * A view that breaks the rule raises NumPy's ValueError from the call's
 * site after the launch (a `raise` there, python/ember/_compiler/_raises.py);
 * the code goes on with an empty last axis, so nothing reads outside `a`.
 * Unaligned views (a uint8 array from an odd offset as int32) are made as
 * NumPy makes them; a GPU may fault on reading them.
 */
#include "core/lower_impl.h"

static int64_t itemsize(const Type *t) { return ty_bits(t) < 8 ? 1 : ty_bits(t) / 8; }

LLVMValueRef lw_view(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *at = n->b->ty;
    LLVMValueRef v = lw_expr(L, n->b);
    int64_t from = itemsize(at->elem), to = itemsize(n->ty->elem);
    if (from == to)
        return v; /* the descriptor does not depend on the dtype */
    int nd = at->ndim;
    unsigned shape_at = (unsigned)nd, stride_at = (unsigned)(2 * nd); /* the last axis */
    LLVMValueRef extent = LLVMBuildExtractValue(B, v, shape_at, "");
    LLVMValueRef stride = LLVMBuildExtractValue(B, v, stride_at, "");
    LLVMValueRef zero = i64c(L, 0), bytes = LLVMBuildMul(B, extent, i64c(L, from), "");
    LLVMValueRef bad = LLVMConstInt(L->t_i1, 0, 0);
    if (at->layout != 'C') { /* the type does not promise a contiguous last axis */
        LLVMValueRef size = i64c(L, 1);
        for (int d = 0; d < nd; d++)
            size = LLVMBuildMul(B, size, LLVMBuildExtractValue(B, v, (unsigned)(1 + d), ""), "");
        LLVMValueRef strided = LLVMBuildICmp(B, LLVMIntNE, stride, i64c(L, from), "");
        strided = LLVMBuildAnd(B, strided, LLVMBuildICmp(B, LLVMIntNE, extent, i64c(L, 1), ""), "");
        strided = LLVMBuildAnd(B, strided, LLVMBuildICmp(B, LLVMIntNE, size, zero, ""), "");
        bad = strided;
    }
    /* itemsizes are powers of two: a smaller one always divides the old */
    if (to > from)
        bad = LLVMBuildOr(B, bad, LLVMBuildICmp(B, LLVMIntNE, LLVMBuildSRem(B, bytes, i64c(L, to), ""),
                                                zero, ""), "");
    LLVMValueRef new_extent = LLVMBuildSDiv(B, bytes, i64c(L, to), "");
    if (!(LLVMIsAConstantInt(bad) && LLVMConstIntGetZExtValue(bad) == 0)) {
        LLVMBasicBlockRef fail = lw_new_bb(L, "view.bad"), ok = lw_new_bb(L, "view.ok");
        LLVMBuildCondBr(B, bad, fail, ok);
        LLVMPositionBuilderAtEnd(B, fail);
        lw_raise(L, n);
        LLVMBuildBr(B, ok);
        LLVMPositionBuilderAtEnd(B, ok);
        new_extent = LLVMBuildSelect(B, bad, zero, new_extent, "");
    }
    v = LLVMBuildInsertValue(B, v, new_extent, shape_at, "");
    return LLVMBuildInsertValue(B, v, i64c(L, to), stride_at, "");
}
