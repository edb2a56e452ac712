/*
 * lower_expr.c — expressions: constants, the expression walker (lw_expr),
 * calls of device functions (inlined, or real functions when recursive),
 * and the cuda.* / NumPy intrinsics whose lowering is the same on every
 * target; the rest of them go to a target slot.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* A shuffle's c operand (i32), as CUDA C's __shfl_*_sync build it: the
 * segment mask (32 - width) in bits 12:8 and the clamp, 0x1f (0 for up),
 * in bits 4:0 (PTX ISA "shfl.sync"); width 32 without a 4th argument. Any
 * width gives these bits, on both targets (CUDA leaves a width that is not
 * a power of two from 1 to 32 undefined). */
LLVMValueRef lw_shfl_c(Lower *L, Node *n)
{
    int clamp = n->op == INTR_SHFL_UP ? 0 : 0x1f;
    if (n->nargs < 4)
        return ci(L->t_i32, clamp);
    LLVMBuilderRef B = L->b;
    LLVMValueRef w = lw_conv(L, n, lw_expr(L, n->args[3]), n->args[3]->ty, ty_scalar(TY_U32));
    LLVMValueRef seg = LLVMBuildShl(B, LLVMBuildSub(B, ci(L->t_i32, 32), w, ""), ci(L->t_i32, 8), "");
    return LLVMBuildOr(B, seg, ci(L->t_i32, clamp), "shfl.c");
}


/* t[i] for a tuple whose items have one type: i wraps once if negative (as
 * Python's); an index still outside [0, n) is IndexError with bounds
 * checking on and gives the first item (numba: undefined) otherwise. A chain
 * of selects: the tuple lives in registers on both targets. */
static LLVMValueRef tuple_item(Lower *L, Node *n, LLVMValueRef t)
{
    LLVMBuilderRef B = L->b;
    int nf = n->a->ty->nfields;
    const Type *it = ty_concrete(n->args[0]->ty);
    LLVMValueRef i = lw_conv(L, n, lw_expr(L, n->args[0]), it,
                             ty_scalar(ty_is_signed(it) ? TY_I64 : TY_U64));
    if (ty_is_signed(it))
        i = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, i, i64c(L, 0), ""),
                            LLVMBuildAdd(B, i, i64c(L, nf), ""), i, "");
    if (L->boundscheck)
        lw_bounds_fault(L, n, LLVMBuildICmp(B, LLVMIntUGE, i, i64c(L, nf), ""), NULL);
    LLVMValueRef r = LLVMBuildExtractValue(B, t, 0, "");
    for (int k = nf - 1; k > 0; k--)
        r = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, i, i64c(L, k), ""),
                            LLVMBuildExtractValue(B, t, (unsigned)k, ""), r, "");
    return r;
}

/* The fault record of a `raise` at n's site (python/ember/_compiler/_raises.py
 * says which exception): code, this site, thread and block. */
void lw_raise(Lower *L, const Node *n)
{
    lw_raise_fault(L, lw_add_site(L, n));
}

LLVMValueRef lw_intrinsic(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    int k = n->nargs ? (int)n->args[0]->ival : 0;
    switch (n->op) {
    case INTR_THREAD_IDX: return L->tid[k];
    case INTR_BLOCK_IDX: return L->bid[k];
    case INTR_BLOCK_DIM: return L->bdim[k];
    case INTR_GRID_DIM: return L->gdim[k];
    case INTR_GRID: case INTR_GRIDSIZE: {
        /* grid(n)[i] = blockIdx*blockDim + threadIdx; gridsize(n)[i] =
         * blockDim*gridDim, computed in int64. Every operand is in
         * [0, 2**31) (host_launch checks), so zext equals sext and the
         * arithmetic cannot overflow: the nsw flags let LLVM prove the
         * result non-negative, fold the negative-index wrap of a[i] away
         * and see a unit-stride, vectorisable access. */
        LLVMValueRef v[3];
        for (int i = 0; i < k; i++) {
            LLVMValueRef bd = LLVMBuildZExt(B, L->bdim[i], L->t_i64, "");
            if (n->op == INTR_GRID)
                v[i] = LLVMBuildNSWAdd(
                    B, LLVMBuildNSWMul(B, LLVMBuildZExt(B, L->bid[i], L->t_i64, ""), bd, ""),
                    LLVMBuildZExt(B, L->tid[i], L->t_i64, ""), "");
            else
                v[i] = LLVMBuildNSWMul(B, bd, LLVMBuildZExt(B, L->gdim[i], L->t_i64, ""), "");
        }
        if (k == 1)
            return v[0];
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
        for (int i = 0; i < k; i++)
            t = LLVMBuildInsertValue(B, t, v[i], (unsigned)i, "");
        return t;
    }
    case INTR_WARPSIZE:
        return ci(L->t_i32, 32);
    case INTR_POPC: case INTR_BREV: case INTR_CLZ: case INTR_FFS: {
        /* on the integer's bits (CUDA's __popc/__brev/__clz/__ffs and their
         * 64-bit forms); the result type is in n->ty */
        const Type *at = ty_concrete(n->args[0]->ty);
        LLVMValueRef x = lw_expr(L, n->args[0]);
        LLVMTypeRef xt = LLVMTypeOf(x);
        if (n->op == INTR_BREV)
            return lw_intr1(L, "llvm.bitreverse", x);
        LLVMValueRef r;
        if (n->op == INTR_POPC) {
            r = lw_intr1(L, "llvm.ctpop", x);
        } else {
            LLVMValueRef args[2] = {x, LLVMConstInt(L->t_i1, 0, 0)};
            r = lw_call_intrinsic(L, n->op == INTR_CLZ ? "llvm.ctlz" : "llvm.cttz", xt, args, 2);
            if (n->op == INTR_FFS) {
                LLVMValueRef zero = LLVMBuildICmp(B, LLVMIntEQ, x, LLVMConstNull(xt), "");
                r = LLVMBuildSelect(B, zero, LLVMConstNull(xt),
                                    LLVMBuildAdd(B, r, LLVMConstInt(xt, 1, 0), ""), "");
            }
        }
        (void)at;
        return LLVMGetIntTypeWidth(xt) > 32 ? LLVMBuildTrunc(B, r, L->t_i32, "")
               : LLVMGetIntTypeWidth(xt) < 32 ? LLVMBuildZExt(B, r, L->t_i32, "") : r;
    }
    case INTR_FMA: {
        LLVMValueRef v[3];
        for (int i = 0; i < 3; i++)
            v[i] = lw_conv(L, n, lw_expr(L, n->args[i]), n->args[i]->ty, n->ty);
        return lw_call_intrinsic(L, "llvm.fma", LLVMTypeOf(v[0]), v, 3);
    }
    case INTR_BF16_FMA: {
        LLVMValueRef v[3];
        for (int i = 0; i < 3; i++)
            v[i] = lw_expr(L, n->args[i]);
        return lw_bf16_fma(L, v[0], v[1], v[2]);
    }
    case INTR_BF16_AS_I16: case INTR_BF16_AS_U16: case INTR_BF16_FROM_BITS:
        return lw_expr(L, n->args[0]); /* the same 16 bits (i16) */
    case INTR_RAISE:
        lw_raise(L, n);
        return NULL;
    default: {
        IntrinsicKind kind = ir_intrinsics[n->op].kind;
        if (L->fis && (kind == INTRK_WARP || kind == INTRK_BLOCK || kind == INTRK_WARP_MASK))
            return lw_fis_block_intrinsic(L, n);
        LowerIntrinsicFn f = L->target->intrinsics[n->op];
        if (!f)
            lw_fail(L, n, "%s is not supported on the %s target", ir_intrinsics[n->op].label,
                    L->target->name);
        return f(L, n);
    }
    }
}

/* Records KERNEL_FAULT_RAISE for fault site `site`: the record's code,
 * the site, this thread and block (the caller ends the thread). */
void lw_raise_fault(Lower *L, int site)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef one = LLVMConstInt(L->t_i32, 1, 0);
    lw_fault_store(L, LLVMConstInt(L->t_i32, (unsigned)site, 0),
                   LLVMBuildGEP2(B, L->t_i32, L->fault, &one, 1, ""), LLVMAtomicOrderingMonotonic);
    for (int i = 0; i < 6; i++) {
        LLVMValueRef at = LLVMConstInt(L->t_i32, (unsigned)(2 + i), 0);
        lw_fault_store(L, i < 3 ? L->tid[i] : L->bid[i - 3],
                       LLVMBuildGEP2(B, L->t_i32, L->fault, &at, 1, ""),
                       LLVMAtomicOrderingMonotonic);
    }
    lw_fault_store(L, LLVMConstInt(L->t_i32, KERNEL_FAULT_RAISE, 0), L->fault,
                   LLVMAtomicOrderingRelease);
}

/* ======================================================================== */
/* Expressions                                                              */
/* ======================================================================== */

LLVMValueRef lw_constant(Lower *L, Node *n)
{
    const Type *t = ty_concrete(n->ty);
    LLVMTypeRef lt = lw_lty(L, t);
    if (t->kind == TY_BOOL)
        return LLVMConstInt(lt, n->ival != 0, 0);
    if (ty_is_int(t))
        return LLVMConstInt(lt, (unsigned long long)n->ival, ty_is_signed(t));
    if (ty_is_float(t))
        return LLVMConstReal(lt, n->fval);
    LLVMTypeRef pt = lw_lty(L, lw_part_type(t));
    LLVMValueRef parts[2] = {LLVMConstReal(pt, n->fval), LLVMConstReal(pt, n->fimag)};
    return LLVMConstStructInContext(L->ctx, parts, 2, 0);
}


/* The body of a function, or of a call inlined: `return` stores its value
 * into a fresh slot of type `rt` (zeros when a path returns none) and
 * branches to L->ret_bb, which the caller made. Leaves the builder at
 * L->ret_bb and returns the value loaded there (NULL for void). */
LLVMValueRef lw_lower_body(Lower *L, Node *body, const Type *rt, const char *name)
{
    bool has_value = rt && rt->kind != TY_VOID;
    L->ret_slot = has_value ? lw_entry_alloca(L, lw_lty(L, rt), "retval") : NULL;
    if (has_value)
        LLVMBuildStore(L->b, LLVMConstNull(lw_lty(L, rt)), L->ret_slot);
    lw_stmt(L, body);
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b)))
        LLVMBuildBr(L->b, L->ret_bb);
    LLVMPositionBuilderAtEnd(L->b, L->ret_bb);
    return has_value ? LLVMBuildLoad2(L->b, lw_lty(L, rt), L->ret_slot, name) : NULL;
}

/* The LLVM function of a recursive specialisation (made on first use):
 *   ret f(params..., tid[3], bid[3], bdim[3], gdim[3] (i32), linear_tid (i64),
 *         fault (i32 *), depth (i32))
 * The thread indices travel as arguments because the body reads them like
 * the kernel's. Past KERNEL_MAX_RECURSION nested calls it sets the launch's
 * fault flag and returns zeros instead of running the body (the stack is
 * finite; the launch then raises). */
static struct RealFn *recursive_function(Lower *L, const Node *site, Function *spec)
{
    for (int i = 0; i < L->nreal; i++)
        if (L->real[i].spec == spec)
            return &L->real[i];
    if (!lw_grow_list((void **)&L->real, &L->capreal, L->nreal + 1, sizeof *L->real))
        lw_fail(L, site, "out of memory");
    int np = spec->nparams, nall = np + 15;
    LLVMTypeRef *pt = ir_alloc(spec, sizeof *pt * (size_t)nall);
    LLVMValueRef *slots = ir_alloc(spec, sizeof *slots * (size_t)(spec->nvars + 1));
    LLVMValueRef *params = ir_alloc(spec, sizeof *params * (size_t)(np + 1));
    if (!pt || !slots || !params)
        lw_fail(L, site, "out of memory");
    for (int i = 0; i < np; i++)
        pt[i] = lw_lty(L, spec->param_types[i]);
    for (int i = 0; i < 12; i++)
        pt[np + i] = L->t_i32;
    pt[np + 12] = L->t_i64;
    pt[np + 13] = LLVMPointerType(L->t_i32, 0);
    pt[np + 14] = L->t_i32;
    const Type *rt = spec->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMTypeRef fty = LLVMFunctionType(has_value ? lw_lty(L, rt) : L->t_void, pt, (unsigned)nall, 0);
    char name[300];
    snprintf(name, sizeof name, "%s.rec%d", spec->name, L->nreal);
    for (char *c = name; *c; c++) /* NVVM symbols: [A-Za-z0-9$._] ("f.<locals>.g") */
        if (!isalnum((unsigned char)*c) && *c != '$' && *c != '.' && *c != '_')
            *c = '_';
    LLVMValueRef f = LLVMAddFunction(L->mod, name, fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    lw_name_params(f);
    int idx = L->nreal++; /* L->real may move while the body is lowered */
    L->real[idx] = (struct RealFn){spec, f, fty};

    /* lower the body with this function's state, then restore the caller's */
    Lower saved = *L;
    LLVMBasicBlockRef saved_b = LLVMGetInsertBlock(L->b), saved_ab = LLVMGetInsertBlock(L->ab);
    L->func = f;
    L->rng = NULL; /* looked up again in this function's entry block */
    L->fn = spec;
    L->var_slots = slots;
    L->params = params;
    for (int i = 0; i < np; i++)
        params[i] = LLVMGetParam(f, (unsigned)i);
    for (int i = 0; i < 3; i++) {
        L->tid[i] = LLVMGetParam(f, (unsigned)(np + i));
        L->bid[i] = LLVMGetParam(f, (unsigned)(np + 3 + i));
        L->bdim[i] = LLVMGetParam(f, (unsigned)(np + 6 + i));
        L->gdim[i] = LLVMGetParam(f, (unsigned)(np + 9 + i));
    }
    L->linear_tid = LLVMGetParam(f, (unsigned)(np + 12));
    L->fault = LLVMGetParam(f, (unsigned)(np + 13));
    L->depth = LLVMGetParam(f, (unsigned)(np + 14));
    L->nloops = 0;
    L->call_site = (Node *)site;
    L->none_slot = NULL;
    LLVMBasicBlockRef entry = lw_new_bb(L, "entry"), run = lw_new_bb(L, "run"),
                      over = lw_new_bb(L, "too.deep");
    L->ret_bb = lw_new_bb(L, "ret");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, over);
    LLVMValueRef one = LLVMConstInt(L->t_i32, KERNEL_FAULT_RECURSION, 0);
    lw_fault_store(L, one, L->fault, LLVMAtomicOrderingMonotonic);
    if (has_value)
        LLVMBuildRet(L->b, LLVMConstNull(lw_lty(L, rt)));
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->b, run);
    LLVMValueRef result = lw_lower_body(L, spec->body, rt, "");
    if (result)
        LLVMBuildRet(L->b, result);
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMValueRef ok = LLVMBuildICmp(L->ab, LLVMIntSLT, L->depth,
                                    LLVMConstInt(L->t_i32, KERNEL_MAX_RECURSION, 0), "");
    LLVMBuildCondBr(L->ab, ok, run, over);

    struct RealFn *list = L->real;
    int nreal = L->nreal, capreal = L->capreal;
    *L = saved; /* jmp_buf, builders and per-function state of the caller */
    L->real = list, L->nreal = nreal, L->capreal = capreal;
    LLVMPositionBuilderAtEnd(L->b, saved_b);
    LLVMPositionBuilderAtEnd(L->ab, saved_ab);
    return &L->real[idx];
}

static LLVMValueRef call_recursive(Lower *L, Node *n, Function *spec, LLVMValueRef *args)
{
    struct RealFn *r = recursive_function(L, n, spec);
    int np = spec->nparams;
    LLVMValueRef *all = ir_alloc(spec, sizeof *all * (size_t)(np + 15));
    if (!all)
        lw_fail(L, n, "out of memory");
    memcpy(all, args, sizeof *all * (size_t)np);
    for (int i = 0; i < 3; i++) {
        all[np + i] = L->tid[i];
        all[np + 3 + i] = L->bid[i];
        all[np + 6 + i] = L->bdim[i];
        all[np + 9 + i] = L->gdim[i];
    }
    all[np + 12] = L->linear_tid;
    all[np + 13] = L->fault;
    all[np + 14] = LLVMBuildAdd(L->b, L->depth, LLVMConstInt(L->t_i32, 1, 0), "depth");
    const Type *rt = spec->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMValueRef v = LLVMBuildCall2(L->b, r->ty, r->fn, all, (unsigned)(np + 15), "");
    return has_value ? v : NULL;
}

/* A device function call, inlined at the call site: the arguments are
 * evaluated in order and converted to the specialisation's parameter types,
 * the callee's body is lowered with its own variables (allocas in the
 * kernel's entry block) and parameters, and its `return` stores the value
 * and branches to the end of the call (it ends the function, not the
 * thread). Arrays are passed as their value struct, tuples as structs.
 * Inlining needs no calling convention for the thread indices the callee
 * may read; recursion never reaches here (the front end rejects it). */
static LLVMValueRef call(Lower *L, Node *n)
{
    Function *spec = n->spec;
    if (spec->tmpl && spec->tmpl->foreign)
        return lw_foreign_call(L, n);
    LLVMValueRef *args = ir_alloc(spec, sizeof *args * (size_t)(spec->nparams + 1));
    LLVMValueRef *slots = ir_alloc(spec, sizeof *slots * (size_t)(spec->nvars + 1));
    if (!args || !slots)
        lw_fail(L, n, "out of memory");
    for (int i = 0; i < n->nargs; i++)
        args[i] = lw_conv(L, n, lw_expr(L, n->args[i]), n->args[i]->ty, spec->param_types[i]);
    if (spec->recursive)
        return call_recursive(L, n, spec, args);
    Function *fn = L->fn;
    LLVMValueRef *saved_slots = L->var_slots, *saved_params = L->params, saved_ret = L->ret_slot;
    LLVMValueRef saved_none = L->none_slot;
    L->none_slot = NULL;
    LLVMBasicBlockRef saved_bb = L->ret_bb;
    Node *saved_site = L->call_site;
    const Type *rt = spec->return_type;
    L->fn = spec;
    L->var_slots = slots;
    L->params = args;
    L->call_site = n;
    L->ret_bb = lw_new_bb(L, "ret");
    LLVMValueRef v = lw_lower_body(L, spec->body, rt, spec->name);
    L->fn = fn;
    L->var_slots = saved_slots;
    L->params = saved_params;
    L->ret_slot = saved_ret;
    L->none_slot = saved_none;
    L->ret_bb = saved_bb;
    L->call_site = saved_site;
    return v;
}


LLVMValueRef lw_expr(Lower *L, Node *n)
{
    lw_set_line(L, n);
    switch (n->kind) {
    case ND_CONST: return lw_constant(L, n);
    case ND_PARAM: return L->params[n->index];
    case ND_LOAD: return lw_var_load(L, n->var);
    case ND_UNARY: return lw_unary(L, n);
    case ND_BINARY: return lw_binary(L, n);
    case ND_COMPARE: return lw_compare(L, n);
    case ND_AND: case ND_OR: return lw_and_or(L, n);
    case ND_IFEXP: return lw_ifexp(L, n);
    case ND_CAST: return lw_conv(L, n, lw_expr(L, n->a), n->a->ty, n->target);
    case ND_CALL_MATH: return lw_math_call(L, n);
    case ND_INTRINSIC: return lw_intrinsic(L, n);
    case ND_INDEX: {
        const Type *elem;
        LLVMValueRef p = lw_element_ptr(L, n, &elem, false);
        if (elem->kind == TY_RECORD)
            return p; /* a record is a reference: its address */
        LLVMValueRef v = LLVMBuildLoad2(L->b, lw_mty(L, elem), p, "");
        LLVMSetAlignment(v, lw_elem_align(elem));
        if (elem->kind == TY_BOOL)
            v = LLVMBuildICmp(L->b, LLVMIntNE, v, ci(L->t_i8, 0), "");
        return v;
    }
    case ND_ATTR: return lw_attr(L, n);
    case ND_TUPLE: {
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
        for (int i = 0; i < n->nargs; i++) {
            LLVMValueRef f = lw_conv(L, n, lw_expr(L, n->args[i]), n->args[i]->ty, n->ty->fields[i]);
            t = LLVMBuildInsertValue(L->b, t, f, (unsigned)i, "");
        }
        return t;
    }
    case ND_TUPLE_GET: {
        LLVMValueRef t = lw_expr(L, n->a);
        if (n->nargs == 1) /* t[i] of a homogeneous tuple */
            return tuple_item(L, n, t);
        return LLVMBuildExtractValue(L->b, t, (unsigned)n->index, "");
    }
    case ND_CALL: return call(L, n);
    case ND_ATOMIC: return lw_atomic_op(L, n);
    case ND_SLICE: return lw_slice_view(L, n);
    case ND_LOCAL_ARRAY: return lw_local_array(L, n);
    case ND_NEW_ARRAY: return lw_new_array(L, n);
    case ND_ARRAY_EXPR: return lw_array_expr(L, n);
    case ND_ELEM:
        if (!L->elems)
            lw_fail(L, n, "an array element outside an array loop");
        return L->elems[n->index];
    case ND_CONST_ARRAY: return lw_const_array(L, n);
    default:
        lw_fail(L, n, "a statement used as an expression");
    }
}
