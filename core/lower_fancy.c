/*
 * lower_fancy.c — NumPy's advanced indexing with one array index, in
 * ember.jit functions: a[mask] (a bool array over a's leading dimensions)
 * and a[indices] (an integer array into a's first dimension), read (a new
 * C-ordered array: NEW_TAKE) and assigned (ND_STORE with op 1).
 *
 * Both walk the selection in NumPy's order: the mask's true elements, or
 * the indices, in C order; each selects a block (a's remaining
 * dimensions), visited in C order too, so element j of the walk is element
 * j of the result (or of the assigned 1-D value). A mask whose shape is not
 * a's, or an index outside a's first dimension (negative ones count from
 * the end), raises IndexError naming the line.
 */
#include "core/lower_impl.h"

typedef struct Selection {
    LLVMValueRef a, idx;        /* the array and the index array (values) */
    const Type *at, *it;
    bool mask;
    int k;                      /* a's dimensions the index covers */
    LLVMValueRef rest_count;    /* elements per block */
} Selection;

/* Called for each element of the walk: p (i8*) into a, j its number. */
typedef void (*VisitFn)(Lower *L, const Node *n, void *ctx, LLVMValueRef p, LLVMValueRef j);

static LLVMValueRef field(Lower *L, LLVMValueRef v, int i)
{
    return LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
}

static LLVMValueRef elem_ptr(Lower *L, LLVMValueRef base, LLVMValueRef off)
{
    return LLVMBuildGEP2(L->b, L->t_i8, base, &off, 1, "");
}

static LLVMValueRef load_as(Lower *L, LLVMValueRef p, const Type *t)
{
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(lw_mty(L, t), 0), "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, lw_mty(L, t), p, "");
    LLVMSetAlignment(v, lw_elem_align(t));
    return v;
}

static void store_as(Lower *L, LLVMValueRef p, LLVMValueRef v, const Type *t)
{
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(lw_mty(L, t), 0), "");
    LLVMSetAlignment(LLVMBuildStore(L->b, v, p), lw_elem_align(t));
}

static void index_error_if(Lower *L, const Node *n, LLVMValueRef bad)
{
    LLVMBasicBlockRef fault = lw_new_bb(L, "fancy.bad"), ok = lw_new_bb(L, "fancy.ok");
    LLVMBuildCondBr(L->b, bad, fault, ok);
    LLVMPositionBuilderAtEnd(L->b, fault);
    L->jit->fault_detail(L, i64c(L, 1));
    lw_end_call(L, n, KERNEL_FAULT_INDEX);
    LLVMPositionBuilderAtEnd(L->b, ok);
}

static void selection_init(Lower *L, const Node *n, Selection *s, Node *arr, Node *idx)
{
    LLVMBuilderRef B = L->b;
    s->a = lw_expr(L, arr);
    s->idx = lw_expr(L, idx);
    s->at = ty_concrete(arr->ty);
    s->it = ty_concrete(idx->ty);
    s->mask = s->it->elem->kind == TY_BOOL;
    s->k = s->mask ? s->it->ndim : 1;
    s->rest_count = i64c(L, 1);
    for (int d = s->k; d < s->at->ndim; d++)
        s->rest_count = LLVMBuildMul(B, s->rest_count, field(L, s->a, 1 + d), "");
    if (s->mask) { /* NumPy: the mask's shape must be a's leading extents */
        LLVMValueRef bad = LLVMConstInt(L->t_i1, 0, 0);
        for (int d = 0; d < s->k; d++)
            bad = LLVMBuildOr(B, bad, LLVMBuildICmp(B, LLVMIntNE, field(L, s->idx, 1 + d),
                                                    field(L, s->a, 1 + d), ""), "");
        index_error_if(L, n, bad);
    }
}

/* Loops over the nd extents shape[] of the value v (strides after them in
 * its struct at 1 + nd + d, or of `strides_of` at offset `first`); returns
 * the byte offset and the C-order number of the current element. */
static void open_loops(Lower *L, CountedLoop *loops, int nd, LLVMValueRef shape_of, int sfirst,
                       LLVMValueRef strides_of, int first, LLVMValueRef *off, LLVMValueRef *flat)
{
    LLVMBuilderRef B = L->b;
    *off = i64c(L, 0);
    *flat = i64c(L, 0);
    for (int d = 0; d < nd; d++) {
        LLVMValueRef ext = field(L, shape_of, sfirst + d);
        lw_loop_open(L, &loops[d], i64c(L, 0), ext, "sel", lw_new_bb(L, "sel.end"));
        LLVMValueRef iv = loops[d].iv;
        *off = LLVMBuildAdd(B, *off, LLVMBuildMul(B, iv, field(L, strides_of, first + d), ""), "");
        *flat = LLVMBuildAdd(B, LLVMBuildMul(B, *flat, ext, ""), iv, "");
    }
}

static void close_loops(Lower *L, CountedLoop *loops, int nd)
{
    for (int d = nd - 1; d >= 0; d--)
        lw_loop_close(L, &loops[d]);
}

/* The number of true elements of the mask. */
static LLVMValueRef mask_count(Lower *L, const Selection *s)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef acc = lw_entry_alloca(L, L->t_i64, "count");
    LLVMBuildStore(B, i64c(L, 0), acc);
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off, flat;
    int nd = s->it->ndim;
    open_loops(L, loops, nd, s->idx, 1, s->idx, 1 + nd, &off, &flat);
    LLVMValueRef m = load_as(L, elem_ptr(L, field(L, s->idx, 0), off), s->it->elem);
    LLVMValueRef one = LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntNE, m, LLVMConstNull(LLVMTypeOf(m)),
                                                      ""), L->t_i64, "");
    LLVMBuildStore(B, LLVMBuildAdd(B, LLVMBuildLoad2(B, L->t_i64, acc, ""), one, ""), acc);
    close_loops(L, loops, nd);
    return LLVMBuildLoad2(B, L->t_i64, acc, "selected");
}

/* The walk: each selected block of a, each of its elements. */
static void visit(Lower *L, const Node *n, const Selection *s, VisitFn fn, void *ctx)
{
    LLVMBuilderRef B = L->b;
    int and = s->at->ndim, ind = s->it->ndim;
    LLVMValueRef data = field(L, s->a, 0), block, pos;
    CountedLoop loops[EMBER_MAX_NDIM];
    LLVMValueRef off, flat;
    LLVMValueRef counter = NULL;
    LLVMBasicBlockRef skip = NULL;
    if (s->mask) {
        counter = lw_entry_alloca(L, L->t_i64, "sel.pos");
        LLVMBuildStore(B, i64c(L, 0), counter);
    }
    open_loops(L, loops, ind, s->idx, 1, s->idx, 1 + ind, &off, &flat);
    LLVMValueRef x = load_as(L, elem_ptr(L, field(L, s->idx, 0), off), s->it->elem);
    if (s->mask) {
        LLVMBasicBlockRef take = lw_new_bb(L, "sel.take");
        skip = lw_new_bb(L, "sel.skip");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, x, LLVMConstNull(LLVMTypeOf(x)), ""),
                        take, skip);
        LLVMPositionBuilderAtEnd(B, take);
        LLVMValueRef aoff = i64c(L, 0);
        for (int d = 0; d < s->k; d++)
            aoff = LLVMBuildAdd(B, aoff, LLVMBuildMul(B, loops[d].iv, field(L, s->a, 1 + and + d), ""),
                                "");
        block = elem_ptr(L, data, aoff);
        pos = LLVMBuildLoad2(B, L->t_i64, counter, "");
        LLVMBuildStore(B, LLVMBuildAdd(B, pos, i64c(L, 1), ""), counter);
    } else {
        LLVMValueRef i = lw_conv(L, n, x, s->it->elem, ty_scalar(TY_I64));
        LLVMValueRef ext = field(L, s->a, 1);
        if (ty_is_signed(s->it->elem))
            i = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, i, i64c(L, 0), ""),
                                LLVMBuildAdd(B, i, ext, ""), i, "");
        index_error_if(L, n, LLVMBuildICmp(B, LLVMIntUGE, i, ext, ""));
        block = elem_ptr(L, data, LLVMBuildMul(B, i, field(L, s->a, 1 + and), ""));
        pos = flat;
    }
    /* the block's elements */
    CountedLoop inner[EMBER_MAX_NDIM];
    LLVMValueRef ioff, iflat;
    open_loops(L, inner, and - s->k, s->a, 1 + s->k, s->a, 1 + and + s->k, &ioff, &iflat);
    fn(L, n, ctx, elem_ptr(L, block, ioff),
       LLVMBuildAdd(B, LLVMBuildMul(B, pos, s->rest_count, ""), iflat, ""));
    close_loops(L, inner, and - s->k);
    if (s->mask) {
        LLVMBuildBr(B, skip);
        LLVMPositionBuilderAtEnd(B, skip);
    }
    close_loops(L, loops, ind);
}

typedef struct TakeCtx {
    LLVMValueRef out;           /* i8*: the result's data */
    const Type *elem;
} TakeCtx;

static void take_one(Lower *L, const Node *n, void *ctx, LLVMValueRef p, LLVMValueRef j)
{
    (void)n;
    TakeCtx *c = ctx;
    int64_t isz = ty_bits(c->elem) < 8 ? 1 : ty_bits(c->elem) / 8;
    store_as(L, elem_ptr(L, c->out, LLVMBuildMul(L->b, j, i64c(L, isz), "")),
             load_as(L, p, c->elem), c->elem);
}

LLVMValueRef lw_take(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Selection s;
    selection_init(L, n, &s, n->a, n->b);
    const Type *t = n->ty, *elem = t->elem;
    int nd = t->ndim, lead = nd - (s.at->ndim - s.k);
    LLVMValueRef shape[EMBER_MAX_NDIM];
    if (s.mask)
        shape[0] = mask_count(L, &s);
    else
        for (int d = 0; d < lead; d++)
            shape[d] = field(L, s.idx, 1 + d);
    for (int d = lead; d < nd; d++)
        shape[d] = field(L, s.a, 1 + s.k + (d - lead));
    int64_t isz = ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8;
    LLVMValueRef data = L->jit->array_alloc(L, n, shape, nd, isz, false);
    LLVMValueRef view = LLVMBuildInsertValue(B, LLVMGetUndef(lw_lty(L, t)), data, 0, "");
    LLVMValueRef stride = i64c(L, isz);
    for (int d = nd - 1; d >= 0; d--) {
        view = LLVMBuildInsertValue(B, view, shape[d], (unsigned)(1 + d), "");
        view = LLVMBuildInsertValue(B, view, stride, (unsigned)(1 + nd + d), "");
        stride = LLVMBuildNSWMul(B, stride, shape[d], "");
    }
    TakeCtx c = {data, elem};
    visit(L, n, &s, take_one, &c);
    return view;
}

typedef struct StoreCtx {
    LLVMValueRef scalar;        /* the value converted (a number), or NULL */
    LLVMValueRef v;             /* the 1-D array value */
    const Type *vt, *elem;
    LLVMValueRef one;           /* i1: v has one item (given to every element) */
} StoreCtx;

static void store_one(Lower *L, const Node *n, void *ctx, LLVMValueRef p, LLVMValueRef j)
{
    LLVMBuilderRef B = L->b;
    StoreCtx *c = ctx;
    LLVMValueRef x = c->scalar;
    if (!x) {
        LLVMValueRef k = LLVMBuildSelect(B, c->one, i64c(L, 0), j, "");
        LLVMValueRef q = elem_ptr(L, field(L, c->v, 0), LLVMBuildMul(B, k, field(L, c->v, 2), ""));
        x = load_as(L, q, c->vt->elem);
        if (c->vt->elem->kind == TY_BOOL)
            x = LLVMBuildICmp(B, LLVMIntNE, x, LLVMConstNull(LLVMTypeOf(x)), "");
        x = lw_conv(L, n, x, c->vt->elem, c->elem);
        if (c->elem->kind == TY_BOOL)
            x = LLVMBuildZExt(B, x, lw_mty(L, c->elem), "");
    }
    store_as(L, p, x, c->elem);
}

void lw_fancy_store(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    Selection s;
    LLVMValueRef v = lw_expr(L, n->b);
    selection_init(L, n, &s, n->a, n->args[0]);
    const Type *vt = ty_concrete(n->b->ty), *elem = s.at->elem;
    StoreCtx c = {NULL, v, vt, elem, NULL};
    if (vt->kind != TY_ARRAY) {
        c.scalar = lw_conv(L, n, v, n->b->ty, elem);
        if (elem->kind == TY_BOOL)
            c.scalar = LLVMBuildZExt(B, c.scalar, lw_mty(L, elem), "");
    } else { /* NumPy: as many items as selected elements, or one */
        LLVMValueRef len = field(L, v, 1), want;
        if (s.mask) {
            want = LLVMBuildMul(B, mask_count(L, &s), s.rest_count, "");
        } else {
            want = s.rest_count;
            for (int d = 0; d < s.it->ndim; d++)
                want = LLVMBuildMul(B, want, field(L, s.idx, 1 + d), "");
        }
        c.one = LLVMBuildICmp(B, LLVMIntEQ, len, i64c(L, 1), "");
        LLVMValueRef bad = LLVMBuildAnd(B, LLVMBuildNot(B, c.one, ""),
                                        LLVMBuildICmp(B, LLVMIntNE, len, want, ""), "");
        LLVMBasicBlockRef fault = lw_new_bb(L, "fancy.size"), ok = lw_new_bb(L, "fancy.sized");
        LLVMBuildCondBr(B, bad, fault, ok);
        LLVMPositionBuilderAtEnd(B, fault);
        L->jit->fault_detail(L, LLVMBuildOr(B, LLVMBuildShl(B, len, i64c(L, 32), ""),
                                            LLVMBuildAnd(B, want, i64c(L, 0xffffffff), ""), ""));
        lw_end_call(L, n, KERNEL_FAULT_BROADCAST);
        LLVMPositionBuilderAtEnd(B, ok);
    }
    visit(L, n, &s, store_one, &c);
}

/* The index tuple of element k (C order) of array a: k's digits in the
 * extents, the last fastest (np.ndenumerate). */
LLVMValueRef lw_unravel(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = lw_expr(L, n->a);
    LLVMValueRef k = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, ty_scalar(TY_I64));
    int nd = n->a->ty->ndim;
    LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
    for (int d = nd - 1; d >= 0; d--) {
        LLVMValueRef ext = field(L, a, 1 + d);
        if (d == 0) {
            t = LLVMBuildInsertValue(B, t, k, 0, "");
            break;
        }
        t = LLVMBuildInsertValue(B, t, LLVMBuildURem(B, k, ext, ""), (unsigned)d, "");
        k = LLVMBuildUDiv(B, k, ext, "");
    }
    return t;
}
