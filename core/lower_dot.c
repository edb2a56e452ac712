/*
 * lower_dot.c — np.dot(a, b) and a @ b in ember.jit functions, for 1-D and
 * 2-D arrays of real numbers: the vector dot product, matrix-vector,
 * vector-matrix and matrix-matrix products in NumPy's shapes and promoted
 * type. Float32/64 products of matrices go to the machine's BLAS when it
 * has one and can read the operands (LowerJit.gemm, devices/cpu/blas.c);
 * otherwise, and for other types, the product runs in i-k-j order into a
 * zeroed result: its inner loop walks a row of b and a row of the result
 * with unit strides (C arrays), which LLVM vectorises. Contracted extents
 * that differ are a ValueError naming the line. Bool arrays give NumPy's
 * bool result (or of ands).
 */
#include "core/lower_impl.h"

static LLVMValueRef field(Lower *L, LLVMValueRef v, int i)
{
    return LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
}

static LLVMValueRef load_at(Lower *L, const Node *n, LLVMValueRef arr, LLVMValueRef off,
                            const Type *et, const Type *to)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef p = LLVMBuildGEP2(B, L->t_i8, field(L, arr, 0), &off, 1, "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, et), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, et), p, "");
    LLVMSetAlignment(v, lw_elem_align(et));
    if (et->kind == TY_BOOL)
        v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(lw_mty(L, et)), "");
    return lw_conv(L, n, v, et, to);
}

/* acc + x * y in type e (bool: acc | (x & y)) */
static LLVMValueRef fma_in(Lower *L, const Type *e, LLVMValueRef acc, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    if (e->kind == TY_BOOL)
        return LLVMBuildOr(B, acc, LLVMBuildAnd(B, x, y, ""), "");
    if (ty_is_float(e))
        return lw_fadd(L, acc, lw_fmul(L, x, y));
    return LLVMBuildAdd(B, acc, LLVMBuildMul(B, x, y, ""), "");
}

LLVMValueRef lw_dot(Lower *L, Node *n, LLVMValueRef a)
{
    LLVMBuilderRef B = L->b;
    const Type *at = ty_concrete(n->a->ty), *bt = ty_concrete(n->b->ty);
    const Type *e = n->ty->kind == TY_ARRAY ? n->ty->elem : ty_concrete(n->ty);
    LLVMValueRef b = lw_expr(L, n->b);
    bool a2 = at->ndim == 2, b2 = bt->ndim == 2;
    LLVMValueRef m = a2 ? field(L, a, 1) : i64c(L, 1), ka = field(L, a, a2 ? 2 : 1);
    LLVMValueRef kb = field(L, b, 1), p = b2 ? field(L, b, 2) : i64c(L, 1);
    LLVMValueRef a_rs = a2 ? field(L, a, 3) : i64c(L, 0), a_ks = field(L, a, a2 ? 4 : 2);
    LLVMValueRef b_ks = field(L, b, b2 ? 3 : 2), b_ps = b2 ? field(L, b, 4) : i64c(L, 0);
    /* NumPy: "shapes not aligned" */
    LLVMBasicBlockRef bad = lw_new_bb(L, "dot.bad"), ok = lw_new_bb(L, "dot.ok");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, ka, kb, ""), bad, ok);
    LLVMPositionBuilderAtEnd(B, bad);
    L->jit->fault_detail(L, LLVMBuildOr(B, LLVMBuildShl(B, ka, i64c(L, 32), ""),
                                        LLVMBuildAnd(B, kb, i64c(L, 0xffffffff), ""), ""));
    lw_end_call(L, n, KERNEL_FAULT_BROADCAST);
    LLVMPositionBuilderAtEnd(B, ok);
    LLVMTypeRef et = lw_lty(L, e);
    if (n->ty->kind != TY_ARRAY) { /* 1-D . 1-D */
        LLVMValueRef acc = lw_entry_alloca(L, et, "dot");
        LLVMBuildStore(B, LLVMConstNull(et), acc);
        CountedLoop k;
        lw_loop_open(L, &k, i64c(L, 0), ka, "dot", lw_new_bb(L, "dot.end"));
        LLVMValueRef x = load_at(L, n, a, LLVMBuildMul(B, k.iv, a_ks, ""), at->elem, e);
        LLVMValueRef y = load_at(L, n, b, LLVMBuildMul(B, k.iv, b_ks, ""), bt->elem, e);
        LLVMBuildStore(B, fma_in(L, e, LLVMBuildLoad2(B, et, acc, ""), x, y), acc);
        lw_loop_close(L, &k);
        return LLVMBuildLoad2(B, et, acc, "dot");
    }
    /* the result: (m, p), (m,) or (p,), zeroed, C order: element i*p + j */
    const Type *rt = n->ty;
    int nd = rt->ndim;
    LLVMValueRef shape[2] = {a2 ? m : p, p};
    int64_t isz = ty_bits(e) < 8 ? 1 : ty_bits(e) / 8;
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, isz, true);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, rt)), data, 0, "");
    LLVMValueRef stride = i64c(L, isz);
    for (int d = nd - 1; d >= 0; d--) {
        view = LLVMBuildInsertValue(B, view, shape[d], (unsigned)(1 + d), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + d), "");
        stride = LLVMBuildNSWMul(B, stride, shape[d], "");
    }
    LLVMTypeRef mt = lw_mty(L, e);
    LLVMValueRef out = LLVMBuildBitCast(B, data, LLVMPointerType(mt, 0), "");
    LLVMBasicBlockRef done = NULL;
    if (L->jit->gemm && (e->kind == TY_F32 || e->kind == TY_F64) && at->elem == e &&
        bt->elem == e) { /* the BLAS, if it takes these operands; else the loop */
        LLVMValueRef by_blas = L->jit->gemm(L, (int)e->kind, m, p, ka, field(L, a, 0), a_rs,
                                            a_ks, field(L, b, 0), b_ks, b_ps, data);
        LLVMBasicBlockRef loop = lw_new_bb(L, "dot.loop");
        done = lw_new_bb(L, "dot.done");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, by_blas, LLVMConstNull(L->t_i32), ""),
                        done, loop);
        LLVMPositionBuilderAtEnd(B, loop);
    }
    CountedLoop i, k, j;
    lw_loop_open(L, &i, i64c(L, 0), m, "dot.i", lw_new_bb(L, "dot.i.end"));
    LLVMValueRef orow = LLVMBuildMul(B, i.iv, p, "");
    LLVMValueRef arow = LLVMBuildMul(B, i.iv, a_rs, "");
    lw_loop_open(L, &k, i64c(L, 0), ka, "dot.k", lw_new_bb(L, "dot.k.end"));
    LLVMValueRef x = load_at(L, n, a, LLVMBuildAdd(B, arow, LLVMBuildMul(B, k.iv, a_ks, ""), ""),
                             at->elem, e);
    LLVMValueRef brow = LLVMBuildMul(B, k.iv, b_ks, "");
    lw_loop_open(L, &j, i64c(L, 0), p, "dot.j", lw_new_bb(L, "dot.j.end"));
    LLVMValueRef y = load_at(L, n, b, LLVMBuildAdd(B, brow, LLVMBuildMul(B, j.iv, b_ps, ""), ""),
                             bt->elem, e);
    LLVMValueRef oi = LLVMBuildAdd(B, orow, j.iv, "");
    LLVMValueRef op = LLVMBuildGEP2(B, mt, out, &oi, 1, "");
    LLVMValueRef cur = LLVMBuildLoad2(B, mt, op, "");
    LLVMSetAlignment(cur, lw_elem_align(e));
    if (e->kind == TY_BOOL)
        cur = LLVMBuildICmp(B, LLVMIntNE, cur, LLVMConstNull(mt), "");
    LLVMValueRef next = fma_in(L, e, cur, x, y);
    if (e->kind == TY_BOOL)
        next = LLVMBuildZExt(B, next, mt, "");
    LLVMSetAlignment(LLVMBuildStore(B, next, op), lw_elem_align(e));
    lw_loop_close(L, &j);
    lw_loop_close(L, &k);
    lw_loop_close(L, &i);
    if (done) {
        LLVMBuildBr(B, done);
        LLVMPositionBuilderAtEnd(B, done);
    }
    return view;
}
