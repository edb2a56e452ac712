/*
 * lower_reduce.c — the reductions of ember.jit functions beyond the five
 * whole-array ones of lower_array.c (reduce): argmin / argmax, all / any,
 * var / std, cumsum / cumprod, and every reduction along an axis
 * (a.sum(axis=1), np.argmin(a, 0) ...), with NumPy's results.
 *
 * A reduction runs over a "span": dimensions (extent, byte stride) visited
 * in C order from a base pointer. The whole array is one span; with an axis
 * (an int known at run time), a loop nest over the other dimensions runs
 * one span along the axis per element of the C-ordered result.
 */
#include <math.h>

#include "core/lower_impl.h"

typedef struct Span {
    int nd;
    LLVMValueRef data, out;          /* i8*: the elements, and (cumsum) the output's */
    LLVMValueRef shape[EMBER_MAX_NDIM];
    LLVMValueRef stride[EMBER_MAX_NDIM], out_stride[EMBER_MAX_NDIM]; /* bytes */
} Span;

typedef struct SpanLoop {
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef ptr, out_ptr, flat; /* this element's, and its index in C order */
} SpanLoop;

static void span_open(Lower *L, const Span *s, SpanLoop *l)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef off = i64c(L, 0), out_off = i64c(L, 0), flat = i64c(L, 0);
    for (int k = 0; k < s->nd; k++) {
        lw_loop_open(L, &l->loops[k], i64c(L, 0), s->shape[k], "span", lw_new_bb(L, "span.end"));
        LLVMValueRef iv = l->loops[k].iv;
        off = LLVMBuildAdd(B, off, LLVMBuildMul(B, iv, s->stride[k], ""), "");
        if (s->out)
            out_off = LLVMBuildAdd(B, out_off, LLVMBuildMul(B, iv, s->out_stride[k], ""), "");
        flat = LLVMBuildAdd(B, LLVMBuildMul(B, flat, s->shape[k], ""), iv, "");
    }
    l->ptr = LLVMBuildGEP2(B, L->t_i8, s->data, &off, 1, "");
    l->out_ptr = s->out ? LLVMBuildGEP2(B, L->t_i8, s->out, &out_off, 1, "") : NULL;
    l->flat = flat;
}

static void span_close(Lower *L, const Span *s, SpanLoop *l)
{
    for (int k = s->nd - 1; k >= 0; k--)
        lw_loop_close(L, &l->loops[k]);
}

static LLVMValueRef span_size(Lower *L, const Span *s)
{
    LLVMValueRef n = i64c(L, 1);
    for (int k = 0; k < s->nd; k++)
        n = LLVMBuildMul(L->b, n, s->shape[k], "");
    return n;
}

/* The element at byte pointer p (of type et) as a value of type `to`. */
static LLVMValueRef load_elem(Lower *L, const Node *n, LLVMValueRef p, const Type *et,
                              const Type *to)
{
    LLVMBuilderRef B = L->b;
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, et), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(B, lw_mty(L, et), p, "");
    LLVMSetAlignment(v, lw_elem_align(et));
    if (et->kind == TY_BOOL)
        v = LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstNull(lw_mty(L, et)), "");
    return lw_conv(L, n, v, et, to);
}

static void store_elem(Lower *L, LLVMValueRef p, LLVMValueRef v, const Type *t)
{
    LLVMBuilderRef B = L->b;
    if (t->kind == TY_BOOL)
        v = LLVMBuildZExt(B, v, lw_mty(L, t), "");
    p = LLVMBuildBitCast(B, p, LLVMPointerType(lw_mty(L, t), 0), "");
    LLVMSetAlignment(LLVMBuildStore(B, v, p), lw_elem_align(t));
}

/* cur + v or cur * v in type t (sum, prod, mean, var; complex too). */
static LLVMValueRef combine(Lower *L, bool mul, const Type *t, LLVMValueRef cur, LLVMValueRef v)
{
    LLVMBuilderRef B = L->b;
    if (ty_is_complex(t)) {
        LLVMValueRef a1 = re_of(L, cur), b1 = im_of(L, cur), a2 = re_of(L, v), b2 = im_of(L, v);
        if (!mul)
            return lw_make_complex(L, t, lw_fadd(L, a1, a2), lw_fadd(L, b1, b2));
        return lw_make_complex(L, t, lw_fsub(L, lw_fmul(L, a1, a2), lw_fmul(L, b1, b2)),
                               lw_fadd(L, lw_fmul(L, a1, b2), lw_fmul(L, b1, a2)));
    }
    if (ty_is_float(t))
        return mul ? lw_fmul(L, cur, v) : lw_fadd(L, cur, v);
    return mul ? LLVMBuildMul(B, cur, v, "") : LLVMBuildAdd(B, cur, v, "");
}

/* The start of a min (or max) search in type t: +inf / the largest value. */
static LLVMValueRef extreme(Lower *L, const Type *t, bool mn)
{
    LLVMTypeRef lt = lw_lty(L, t);
    if (ty_is_float(t))
        return LLVMConstReal(lt, mn ? INFINITY : -INFINITY);
    if (t->kind == TY_BOOL)
        return LLVMConstInt(lt, mn ? 1 : 0, 0);
    if (ty_is_signed(t))
        return LLVMConstInt(lt, mn ? (1ULL << (ty_bits(t) - 1)) - 1 : 1ULL << (ty_bits(t) - 1), 0);
    return mn ? LLVMConstAllOnes(lt) : LLVMConstNull(lt);
}

/* v replaces the best so far (min: v < cur; max: v > cur); a NaN replaces
 * a number and stays (NumPy's min/max and argmin/argmax). */
static LLVMValueRef better(Lower *L, const Type *t, bool mn, LLVMValueRef v, LLVMValueRef cur)
{
    LLVMBuilderRef B = L->b;
    if (ty_is_float(t))
        return LLVMBuildOr(B, lw_fcmp(L, mn ? LLVMRealOLT : LLVMRealOGT, v, cur),
                           LLVMBuildAnd(B, lw_fcmp(L, LLVMRealUNO, v, v),
                                        lw_fcmp(L, LLVMRealORD, cur, cur), ""), "");
    bool sg = ty_is_signed(t) && t->kind != TY_BOOL;
    return LLVMBuildICmp(B, mn ? (sg ? LLVMIntSLT : LLVMIntULT) : (sg ? LLVMIntSGT : LLVMIntUGT),
                         v, cur, "");
}

/* Ends the call with KERNEL_FAULT_REDUCE (why: REDUCE_BAD_*) when `bad`. */
static void reduce_fault(Lower *L, const Node *n, LLVMValueRef bad, int why, int nd,
                         LLVMValueRef axis)
{
    LLVMBuilderRef B = L->b;
    LLVMBasicBlockRef fault = lw_new_bb(L, "reduce.bad"), ok = lw_new_bb(L, "reduce.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    LLVMValueRef bits = i64c(L, ((int64_t)why << 56) | ((int64_t)nd << 32));
    bits = LLVMBuildOr(B, bits, LLVMBuildAnd(B, axis, i64c(L, 0xffffffff), ""), "");
    L->jit->fault_detail(L, bits);
    lw_end_call(L, n, KERNEL_FAULT_REDUCE);
    LLVMPositionBuilderAtEnd(B, ok);
}

static bool needs_elements(int op)
{
    return op == ATTR_MIN || op == ATTR_MAX || op == ATTR_ARGMIN || op == ATTR_ARGMAX;
}

/* Reduction `op` of the span's elements (type et) to one value of type rt
 * (the scalar result type). The caller has checked that the span is not
 * empty for min/max/argmin/argmax. */
static LLVMValueRef span_reduce(Lower *L, const Node *n, int op, const Span *s, const Type *et,
                                const Type *rt)
{
    LLVMBuilderRef B = L->b;
    SpanLoop l;
    if (op == ATTR_VAR || op == ATTR_STD) { /* NumPy: mean(abs(x - x.mean())**2), ddof 0 */
        LLVMValueRef size = lw_conv(L, n, span_size(L, s), ty_scalar(TY_I64), rt);
        LLVMValueRef mean = lw_fdiv(L, span_reduce(L, n, ATTR_SUM, s, et, rt), size);
        LLVMValueRef acc = lw_entry_alloca(L, lw_lty(L, rt), "var");
        LLVMBuildStore(B, LLVMConstNull(lw_lty(L, rt)), acc);
        span_open(L, s, &l);
        LLVMValueRef d = lw_fsub(L, load_elem(L, n, l.ptr, et, rt), mean);
        LLVMBuildStore(B, lw_fadd(L, LLVMBuildLoad2(B, lw_lty(L, rt), acc, ""), lw_fmul(L, d, d)),
                       acc);
        span_close(L, s, &l);
        LLVMValueRef var = lw_fdiv(L, LLVMBuildLoad2(B, lw_lty(L, rt), acc, ""), size);
        return op == ATTR_STD ? lw_intr1(L, "llvm.sqrt", var) : var;
    }
    bool arg = op == ATTR_ARGMIN || op == ATTR_ARGMAX;
    bool mn = op == ATTR_MIN || op == ATTR_ARGMIN;
    const Type *at = arg ? et : (op == ATTR_ALL || op == ATTR_ANY) ? ty_scalar(TY_BOOL) : rt;
    LLVMTypeRef t = lw_lty(L, at);
    LLVMValueRef acc = lw_entry_alloca(L, t, "acc"), idx = NULL, init;
    if (op == ATTR_MIN || op == ATTR_MAX || arg)
        init = extreme(L, at, mn);
    else if (op == ATTR_ALL || op == ATTR_ANY)
        init = LLVMConstInt(t, op == ATTR_ALL, 0);
    else if (op == ATTR_PROD)
        init = lw_conv(L, n, i64c(L, 1), ty_scalar(TY_I64), at);
    else
        init = LLVMConstNull(t);
    LLVMBuildStore(B, init, acc);
    if (arg) {
        idx = lw_entry_alloca(L, L->t_i64, "argidx");
        LLVMBuildStore(B, i64c(L, 0), idx);
    }
    span_open(L, s, &l);
    LLVMValueRef v = load_elem(L, n, l.ptr, et, at), cur = LLVMBuildLoad2(B, t, acc, ""), next;
    if (op == ATTR_ALL)
        next = LLVMBuildAnd(B, cur, v, "");
    else if (op == ATTR_ANY)
        next = LLVMBuildOr(B, cur, v, "");
    else if (op == ATTR_SUM || op == ATTR_MEAN || op == ATTR_PROD)
        next = combine(L, op == ATTR_PROD, at, cur, v);
    else {
        LLVMValueRef take = better(L, at, mn, v, cur);
        next = LLVMBuildSelect(B, take, v, cur, "");
        if (arg)
            LLVMBuildStore(B, LLVMBuildSelect(B, take, l.flat, LLVMBuildLoad2(B, L->t_i64, idx, ""),
                                              ""), idx);
    }
    LLVMBuildStore(B, next, acc);
    span_close(L, s, &l);
    if (arg)
        return LLVMBuildLoad2(B, L->t_i64, idx, "arg");
    LLVMValueRef r = LLVMBuildLoad2(B, t, acc, "reduced");
    if (op == ATTR_MEAN) {
        bool cx = ty_is_complex(rt);
        LLVMValueRef sz = lw_conv(L, n, span_size(L, s), ty_scalar(TY_I64),
                                  cx ? lw_part_type(rt) : rt);
        r = cx ? lw_make_complex(L, rt, lw_fdiv(L, re_of(L, r), sz), lw_fdiv(L, im_of(L, r), sz))
               : lw_fdiv(L, r, sz);
    }
    return r;
}

/* A new C-ordered array of element type `elem` and the nd extents `shape`,
 * in the call's arena; its byte strides go to `strides` (may be NULL). */
static LLVMValueRef new_c_array(Lower *L, const Node *n, const Type *t, LLVMValueRef *shape,
                                LLVMValueRef *strides)
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
        if (strides)
            strides[i] = stride;
        stride = LLVMBuildNSWMul(B, stride, shape[i], "");
    }
    return view;
}

/* The whole array a as one span. */
static void whole_span(Lower *L, LLVMValueRef a, const Type *at, Span *s)
{
    s->nd = at->ndim;
    s->data = LLVMBuildExtractValue(L->b, a, 0, "");
    s->out = NULL;
    for (int k = 0; k < at->ndim; k++) {
        s->shape[k] = LLVMBuildExtractValue(L->b, a, (unsigned)(1 + k), "");
        s->stride[k] = LLVMBuildExtractValue(L->b, a, (unsigned)(1 + at->ndim + k), "");
    }
}

/* cumsum / cumprod: the running sum (product) of the span's elements in C
 * order, stored at each element's place in s->out (a C-ordered array). */
static void span_accumulate(Lower *L, const Node *n, const Span *s, const Type *et,
                            const Type *rt, bool mul)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef acc = lw_entry_alloca(L, lw_lty(L, rt), "cum");
    LLVMBuildStore(B, mul ? lw_conv(L, n, i64c(L, 1), ty_scalar(TY_I64), rt)
                          : LLVMConstNull(lw_lty(L, rt)), acc);
    SpanLoop l;
    span_open(L, s, &l);
    LLVMValueRef next = combine(L, mul, rt, LLVMBuildLoad2(B, lw_lty(L, rt), acc, ""),
                                load_elem(L, n, l.ptr, et, rt));
    LLVMBuildStore(B, next, acc);
    store_elem(L, l.out_ptr, next, rt);
    span_close(L, s, &l);
}

/* a.<op>() without an axis, for the reductions reduce() (lower_array.c)
 * does not lower. */
static LLVMValueRef whole(Lower *L, Node *n, LLVMValueRef a, const Type *at)
{
    Span s;
    whole_span(L, a, at, &s);
    const Type *et = at->elem;
    if (n->op == ATTR_CUMSUM || n->op == ATTR_CUMPROD) {
        const Type *rt = n->ty->elem;
        LLVMValueRef size = span_size(L, &s), stride;
        LLVMValueRef view = new_c_array(L, n, n->ty, &size, &stride);
        /* the output's byte offset of element (i0, i1 ...) is its C-order index times
         * the item size: C-order strides of the input's shape */
        s.out = LLVMBuildExtractValue(L->b, view, 0, "");
        LLVMValueRef st = stride;
        for (int k = s.nd - 1; k >= 0; k--) {
            s.out_stride[k] = st;
            st = LLVMBuildMul(L->b, st, s.shape[k], "");
        }
        span_accumulate(L, n, &s, et, rt, n->op == ATTR_CUMPROD);
        return view;
    }
    if (needs_elements(n->op))
        reduce_fault(L, n, LLVMBuildICmp(L->b, LLVMIntEQ, span_size(L, &s), i64c(L, 0), ""),
                     REDUCE_BAD_EMPTY, at->ndim, i64c(L, -1));
    return span_reduce(L, n, n->op, &s, et, ty_concrete(n->ty));
}

/* a.<op>(axis=k): the axis checked (negative counts from the end, as
 * NumPy), then one span along it per element of the result. */
static LLVMValueRef along_axis(Lower *L, Node *n, LLVMValueRef a, const Type *at)
{
    LLVMBuilderRef B = L->b;
    int nd = at->ndim, op = n->op;
    LLVMValueRef given = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, ty_scalar(TY_I64));
    LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, given, i64c(L, 0), "");
    LLVMValueRef axis = LLVMBuildSelect(B, neg, LLVMBuildAdd(B, given, i64c(L, nd), ""), given, "");
    reduce_fault(L, n, LLVMBuildOr(B, LLVMBuildICmp(B, LLVMIntSLT, axis, i64c(L, 0), ""),
                                   LLVMBuildICmp(B, LLVMIntSGE, axis, i64c(L, nd), ""), ""),
                 REDUCE_BAD_AXIS, nd, given);
    Span whole_a;
    whole_span(L, a, at, &whole_a);
    const Type *et = at->elem;
    bool cum = op == ATTR_CUMSUM || op == ATTR_CUMPROD;
    const Type *rt = n->ty->kind == TY_ARRAY ? n->ty->elem : ty_concrete(n->ty);
    /* the axis' extent and stride, and the other dimensions in order */
    LLVMValueRef len = i64c(L, 0), step = i64c(L, 0);
    Span outer;
    outer.nd = nd - 1;
    outer.data = whole_a.data;
    outer.out = NULL;
    for (int k = 0; k < nd; k++) {
        LLVMValueRef here = LLVMBuildICmp(B, LLVMIntEQ, axis, i64c(L, k), "");
        len = LLVMBuildSelect(B, here, whole_a.shape[k], len, "");
        step = LLVMBuildSelect(B, here, whole_a.stride[k], step, "");
    }
    for (int j = 0; j < nd - 1; j++) {
        LLVMValueRef past = LLVMBuildICmp(B, LLVMIntSGE, i64c(L, j), axis, "");
        outer.shape[j] = LLVMBuildSelect(B, past, whole_a.shape[j + 1], whole_a.shape[j], "");
        outer.stride[j] = LLVMBuildSelect(B, past, whole_a.stride[j + 1], whole_a.stride[j], "");
    }
    if (needs_elements(op))
        reduce_fault(L, n, LLVMBuildICmp(B, LLVMIntEQ, len, i64c(L, 0), ""), REDUCE_BAD_EMPTY,
                     nd, given);
    if (!cum && nd == 1) { /* a 1-D array: the scalar */
        Span s = {.nd = 1, .data = whole_a.data, .out = NULL, .shape = {len}, .stride = {step}};
        return span_reduce(L, n, op, &s, et, rt);
    }
    LLVMValueRef view, out_data, out_strides[EMBER_MAX_NDIM], out_step = NULL;
    if (cum) {
        view = new_c_array(L, n, n->ty, whole_a.shape, out_strides);
        for (int k = 0; k < nd; k++) {
            LLVMValueRef here = LLVMBuildICmp(B, LLVMIntEQ, axis, i64c(L, k), "");
            out_step = LLVMBuildSelect(B, here, out_strides[k], k ? out_step : i64c(L, 0), "");
        }
        for (int j = 0; j < nd - 1; j++) {
            LLVMValueRef past = LLVMBuildICmp(B, LLVMIntSGE, i64c(L, j), axis, "");
            outer.out_stride[j] = LLVMBuildSelect(B, past, out_strides[j + 1], out_strides[j], "");
        }
    } else {
        view = new_c_array(L, n, n->ty, outer.shape, NULL);
    }
    out_data = LLVMBuildExtractValue(B, view, 0, "");
    if (cum)
        outer.out = out_data;
    int64_t isz = ty_bits(rt) < 8 ? 1 : ty_bits(rt) / 8;
    SpanLoop l;
    span_open(L, &outer, &l);
    Span line = {.nd = 1, .data = l.ptr, .out = NULL, .shape = {len}, .stride = {step}};
    if (cum) {
        line.out = l.out_ptr;
        line.out_stride[0] = out_step;
        span_accumulate(L, n, &line, et, rt, op == ATTR_CUMPROD);
    } else {
        LLVMValueRef v = span_reduce(L, n, op, &line, et, rt);
        LLVMValueRef off = LLVMBuildMul(B, l.flat, i64c(L, isz), "");
        store_elem(L, LLVMBuildGEP2(B, L->t_i8, out_data, &off, 1, ""), v, rt);
    }
    span_close(L, &outer, &l);
    return view;
}

LLVMValueRef lw_reduction(Lower *L, Node *n, LLVMValueRef a, const Type *at)
{
    if (n->b)
        return along_axis(L, n, a, at);
    return whole(L, n, a, at);
}
