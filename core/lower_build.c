/*
 * lower_build.c — np.array / np.asarray in ember.jit functions: a new
 * C-ordered array from nested lists or tuples of numbers (the leaves of
 * the tuple value, in order, converted to the dtype), or a C-ordered copy
 * of an array converted to another dtype (infer.c array_from_type).
 */
#include "core/lower_impl.h"

static int64_t item_size(const Type *elem)
{
    return ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
}

/* Copies array leaf v (type t) into base[k * count ...] in C order after
 * checking its extents against shape[] (the first leaf's): np.stack. */
static void copy_leaf(Lower *L, const Node *n, LLVMValueRef v, const Type *t, LLVMValueRef base,
                      const Type *elem, int64_t k, const LLVMValueRef *shape, LLVMValueRef count)
{
    LLVMBuilderRef B = L->b;
    int nd = t->ndim;
    LLVMValueRef bad = LLVMConstInt(L->t_i1, 0, 0), x = i64c(L, 0), y = i64c(L, 0);
    for (int d = 0; d < nd; d++) {
        LLVMValueRef ext = LLVMBuildExtractValue(B, v, (unsigned)(1 + d), "");
        LLVMValueRef ne = LLVMBuildICmp(B, LLVMIntNE, ext, shape[d], "");
        x = LLVMBuildSelect(B, ne, ext, x, "");
        y = LLVMBuildSelect(B, ne, shape[d], y, "");
        bad = LLVMBuildOr(B, bad, ne, "");
    }
    LLVMBasicBlockRef fault = lw_new_bb(L, "stack.bad"), ok = lw_new_bb(L, "stack.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    L->jit->fault_detail(L, LLVMBuildOr(B, LLVMBuildShl(B, x, i64c(L, 32), ""),
                                        LLVMBuildAnd(B, y, i64c(L, 0xffffffff), ""), ""));
    lw_end_call(L, n, KERNEL_FAULT_BROADCAST);
    LLVMPositionBuilderAtEnd(B, ok);
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off = i64c(L, 0), flat = LLVMBuildMul(B, i64c(L, k), count, "");
    for (int d = 0; d < nd; d++) {
        lw_loop_open(L, &loops[d], i64c(L, 0), shape[d], "stack", lw_new_bb(L, "stack.end"));
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, loops[d].iv,
                                                LLVMBuildExtractValue(B, v, (unsigned)(1 + nd + d), ""),
                                                ""), "");
    }
    LLVMValueRef inner = i64c(L, 0);
    for (int d = 0; d < nd; d++)
        inner = LLVMBuildAdd(B, LLVMBuildMul(B, inner, shape[d], ""), loops[d].iv, "");
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, v, 0, ""), &off, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, t->elem), 0), "");
    LLVMValueRef x2 = LLVMBuildLoad2(B, lw_mty(L, t->elem), p, "");
    LLVMSetAlignment(x2, lw_elem_align(t->elem));
    if (t->elem->kind == TY_BOOL)
        x2 = LLVMBuildICmp(B, LLVMIntNE, x2, LLVMConstNull(lw_mty(L, t->elem)), "");
    x2 = lw_conv(L, n, x2, t->elem, elem);
    if (elem->kind == TY_BOOL)
        x2 = LLVMBuildZExt(B, x2, lw_mty(L, elem), "");
    LLVMValueRef at = LLVMBuildAdd(B, flat, inner, "");
    LLVMSetAlignment(LLVMBuildStore(B, x2, LLVMBuildGEP2(B, lw_mty(L, elem), base, &at, 1, "")),
                     lw_elem_align(elem));
    for (int d = nd - 1; d >= 0; d--)
        lw_loop_close(L, &loops[d]);
}

/* Stores the leaves of tuple value v (type t) at base[*k], base[*k + 1] ...
 * (array leaves: a block of `count` elements each, of extents leaf_shape). */
static void store_leaves(Lower *L, const Node *n, LLVMValueRef v, const Type *t,
                         LLVMValueRef base, const Type *elem, int64_t *k,
                         const LLVMValueRef *leaf_shape, LLVMValueRef count)
{
    LLVMBuilderRef B = L->b;
    if (t->kind == TY_TUPLE) {
        for (int i = 0; i < t->nfields; i++)
            store_leaves(L, n, LLVMBuildExtractValue(B, v, (unsigned)i, ""), t->fields[i], base,
                         elem, k, leaf_shape, count);
        return;
    }
    if (t->kind == TY_ARRAY) {
        copy_leaf(L, n, v, t, base, elem, (*k)++, leaf_shape, count);
        return;
    }
    LLVMValueRef x = lw_conv(L, n, v, t, elem);
    if (elem->kind == TY_BOOL)
        x = LLVMBuildZExt(B, x, lw_mty(L, elem), "");
    LLVMValueRef idx = i64c(L, (*k)++);
    LLVMSetAlignment(LLVMBuildStore(B, x, LLVMBuildGEP2(B, lw_mty(L, elem), base, &idx, 1, "")),
                     lw_elem_align(elem));
}

static LLVMValueRef c_view(Lower *L, const Type *t, LLVMValueRef data, LLVMValueRef *shape)
{
    LLVMBuilderRef B = L->b;
    int nd = t->ndim;
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)), data, 0, "");
    LLVMValueRef stride = i64c(L, item_size(t->elem));
    for (int i = nd - 1; i >= 0; i--) {
        view = LLVMBuildInsertValue(B, view, shape[i], (unsigned)(1 + i), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + i), "");
        stride = LLVMBuildNSWMul(B, stride, shape[i], "");
    }
    return view;
}

LLVMValueRef lw_array_from(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *t = n->ty, *elem = t->elem, *st = n->a->ty;
    int nd = t->ndim;
    LLVMValueRef src = lw_expr(L, n->a), shape[EMBER_MAX_NDIM];
    LLVMTypeRef et = lw_mty(L, elem);
    if (st->kind == TY_TUPLE) {
        /* the tuple levels, then (np.stack) the first array leaf's extents */
        const Type *level = st;
        LLVMValueRef leaf = src;
        int td = 0;
        while (level->kind == TY_TUPLE && td < nd) {
            shape[td++] = i64c(L, level->nfields);
            if (!level->nfields)
                break;
            leaf = LLVMBuildExtractValue(B, leaf, 0, "");
            level = level->fields[0];
        }
        LLVMValueRef count = i64c(L, 1);
        for (int i = td; i < nd; i++) {
            shape[i] = level->kind == TY_ARRAY ? LLVMBuildExtractValue(B, leaf, (unsigned)(1 + i - td), "")
                                               : i64c(L, 0);
            count = LLVMBuildMul(B, count, shape[i], "");
        }
        LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, item_size(elem), false);
        LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
        int64_t k = 0;
        store_leaves(L, n, src, st, base, elem, &k, shape + td, count);
        return c_view(L, t, data, shape);
    }
    /* an array: one loop per dimension over its elements in C order */
    const Type *se = st->elem;
    for (int i = 0; i < nd; i++)
        shape[i] = LLVMBuildExtractValue(B, src, (unsigned)(1 + i), "");
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, item_size(elem), false);
    LLVMValueRef base = LLVMBuildBitCast(B, data, LLVMPointerType(et, 0), "");
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off = i64c(L, 0), flat = i64c(L, 0);
    for (int k = 0; k < nd; k++) {
        lw_loop_open(L, &loops[k], i64c(L, 0), shape[k], "copy", lw_new_bb(L, "copy.end"));
        LLVMValueRef stride = LLVMBuildExtractValue(B, src, (unsigned)(1 + nd + k), "");
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, loops[k].iv, stride, ""), "");
        flat = LLVMBuildAdd(B, LLVMBuildMul(B, flat, shape[k], ""), loops[k].iv, "");
    }
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, LLVMBuildExtractValue(B, src, 0, ""), &off, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, se), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, se), p, "");
    LLVMSetAlignment(v, lw_elem_align(se));
    if (se->kind == TY_BOOL)
        v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(lw_mty(L, se)), "");
    v = lw_conv(L, n, v, se, elem);
    if (elem->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, et, "");
    LLVMSetAlignment(LLVMBuildStore(B, v, LLVMBuildGEP2(B, et, base, &flat, 1, "")),
                     lw_elem_align(elem));
    for (int k = nd - 1; k >= 0; k--)
        lw_loop_close(L, &loops[k]);
    return c_view(L, t, data, shape);
}

/* A list comprehension's buffer: a[0] rows shaped as item b (NEW_ROWS; b
 * evaluated for its extents), or none (NEW_ROWS0: b only typed, its
 * extents taken as 0). */
LLVMValueRef lw_rows(Lower *L, Node *n)
{
    const Type *t = n->ty, *bt = ty_concrete(n->b->ty);
    int nd = t->ndim;
    LLVMValueRef shape[EMBER_MAX_NDIM];
    bool none = n->op == NEW_ROWS0;
    shape[0] = none ? i64c(L, 0) : lw_conv(L, n, lw_expr(L, n->a), n->a->ty, ty_scalar(TY_I64));
    LLVMValueRef item = none || bt->kind != TY_ARRAY ? NULL : lw_expr(L, n->b);
    for (int d = 1; d < nd; d++)
        shape[d] = item ? LLVMBuildExtractValue(L->b, item, (unsigned)d, "") : i64c(L, 0);
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, item_size(t->elem), false);
    return c_view(L, t, data, shape);
}
