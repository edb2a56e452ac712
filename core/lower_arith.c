/*
 * lower_arith.c — Python's operators on numbers: + - * / // % ** and the
 * bit operators, comparisons, unary operators, `and` / `or` and
 * conditional expressions, with Python / NumPy semantics (lower.c lists
 * the deviations).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* int ** int by repeated squaring, as an internal helper function per
 * integer type. Python gives a float for a negative exponent; numba keeps
 * the integer type, and so do we: the exact result truncated toward zero
 * (1 for base 1, +-1 for base -1, otherwise 0). */
static LLVMValueRef ipow_fn(Lower *L, LLVMTypeRef t, bool is_signed, LLVMTypeRef *fty)
{
    char name[48];
    snprintf(name, sizeof name, "ember.ipow.i%u.%c", LLVMGetIntTypeWidth(t), is_signed ? 's' : 'u');
    LLVMTypeRef params[2] = {t, t};
    *fty = LLVMFunctionType(t, params, 2, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (f)
        return f;
    f = LLVMAddFunction(L->mod, name, *fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    lw_name_params(f);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->ctx);
    LLVMValueRef base = LLVMGetParam(f, 0), ex = LLVMGetParam(f, 1);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(L->ctx, f, "entry");
    LLVMBasicBlockRef neg = LLVMAppendBasicBlockInContext(L->ctx, f, "neg");
    LLVMBasicBlockRef hdr = LLVMAppendBasicBlockInContext(L->ctx, f, "hdr");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->ctx, f, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, f, "done");
    LLVMValueRef one = ci(t, 1), zero = ci(t, 0);
    LLVMPositionBuilderAtEnd(b, entry);
    if (is_signed)
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, ex, zero, ""), neg, hdr);
    else
        LLVMBuildBr(b, hdr);
    LLVMPositionBuilderAtEnd(b, neg);
    {
        LLVMValueRef odd = LLVMBuildTrunc(b, ex, LLVMInt1TypeInContext(L->ctx), "");
        LLVMValueRef m1 = LLVMBuildSelect(b, odd, ci(t, -1), one, "");
        LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, base, ci(t, -1), ""), m1,
                                         zero, "");
        r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, base, one, ""), one, r, "");
        LLVMBuildRet(b, r);
    }
    LLVMPositionBuilderAtEnd(b, hdr);
    LLVMValueRef acc = LLVMBuildPhi(b, t, "acc");
    LLVMValueRef bs = LLVMBuildPhi(b, t, "base");
    LLVMValueRef e = LLVMBuildPhi(b, t, "e");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, e, zero, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef odd = LLVMBuildTrunc(b, e, LLVMInt1TypeInContext(L->ctx), "");
    LLVMValueRef acc2 = LLVMBuildSelect(b, odd, LLVMBuildMul(b, acc, bs, ""), acc, "");
    LLVMValueRef bs2 = LLVMBuildMul(b, bs, bs, "");
    LLVMValueRef e2 = LLVMBuildLShr(b, e, one, "");
    LLVMBuildBr(b, hdr);
    LLVMValueRef in_acc[2] = {one, acc2}, in_bs[2] = {base, bs2}, in_e[2] = {ex, e2};
    LLVMBasicBlockRef from[2] = {entry, body};
    LLVMAddIncoming(acc, in_acc, from, 2);
    LLVMAddIncoming(bs, in_bs, from, 2);
    LLVMAddIncoming(e, in_e, from, 2);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRet(b, acc);
    LLVMDisposeBuilder(b);
    return f;
}

/* Python's integer floor division and modulo (round toward -inf; the
 * remainder has the sign of the divisor). Division by zero gives 0 for
 * both, as numba does on the GPU, rather than trapping (LLVM's sdiv by
 * zero is undefined and traps on x86); INT_MIN // -1 wraps to INT_MIN. */
LLVMValueRef lw_int_divmod(Lower *L, bool want_mod, LLVMValueRef a, LLVMValueRef b, bool is_signed)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef zero = ci(t, 0), one = ci(t, 1);
    LLVMValueRef bz = LLVMBuildICmp(L->b, LLVMIntEQ, b, zero, "");
    if (!is_signed) {
        LLVMValueRef bs = LLVMBuildSelect(L->b, bz, one, b, "");
        LLVMValueRef r = want_mod ? LLVMBuildURem(L->b, a, bs, "") : LLVMBuildUDiv(L->b, a, bs, "");
        return LLVMBuildSelect(L->b, bz, zero, r, "");
    }
    LLVMValueRef bm1 = LLVMBuildICmp(L->b, LLVMIntEQ, b, ci(t, -1), "");
    LLVMValueRef bs = LLVMBuildSelect(L->b, LLVMBuildOr(L->b, bz, bm1, ""), one, b, "");
    LLVMValueRef q = LLVMBuildSDiv(L->b, a, bs, "");
    LLVMValueRef r = LLVMBuildSRem(L->b, a, bs, "");
    /* the truncated quotient is one too big when the remainder is nonzero
     * and its sign differs from the divisor's */
    LLVMValueRef adjust = LLVMBuildAnd(
        L->b, LLVMBuildICmp(L->b, LLVMIntNE, r, zero, ""),
        LLVMBuildICmp(L->b, LLVMIntSLT, LLVMBuildXor(L->b, r, bs, ""), zero, ""), "");
    LLVMValueRef res;
    if (want_mod) {
        res = LLVMBuildSelect(L->b, adjust, LLVMBuildAdd(L->b, r, bs, ""), r, "");
        res = LLVMBuildSelect(L->b, bm1, zero, res, "");
    } else {
        res = LLVMBuildSelect(L->b, adjust, LLVMBuildSub(L->b, q, one, ""), q, "");
        res = LLVMBuildSelect(L->b, bm1, LLVMBuildNeg(L->b, a, ""), res, "");
    }
    return LLVMBuildSelect(L->b, bz, zero, res, "");
}

/* Python's float floor division and modulo (Objects/floatobject.c,
 * float_divmod):
 *     mod = fmod(vx, wx); div = (vx - mod) / wx;
 *     if (mod) { if ((wx < 0) != (mod < 0)) { mod += wx; div -= 1.0; } }
 *     else mod = copysign(0.0, wx);
 *     if (div) { floordiv = floor(div); if (div - floordiv > 0.5) floordiv += 1.0; }
 *     else floordiv = copysign(0.0, vx / wx);
 * Python raises ZeroDivisionError for wx == 0; here x // 0.0 is x / 0.0
 * (+-inf or nan, as NumPy) and x % 0.0 is nan. */
static LLVMValueRef float_divmod(Lower *L, bool want_mod, LLVMValueRef a, LLVMValueRef b)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstReal(t, 0.0), one = LLVMConstReal(t, 1.0);
    LLVMValueRef mod = LLVMBuildFRem(L->b, a, b, "");
    LLVMValueRef div = LLVMBuildFDiv(L->b, LLVMBuildFSub(L->b, a, mod, ""), b, "");
    LLVMValueRef mod_nz = LLVMBuildFCmp(L->b, LLVMRealUNE, mod, zero, "");
    LLVMValueRef signs = LLVMBuildXor(L->b, LLVMBuildFCmp(L->b, LLVMRealOLT, b, zero, ""),
                                      LLVMBuildFCmp(L->b, LLVMRealOLT, mod, zero, ""), "");
    LLVMValueRef fix = LLVMBuildAnd(L->b, mod_nz, signs, "");
    if (want_mod) {
        LLVMValueRef m = LLVMBuildSelect(L->b, fix, LLVMBuildFAdd(L->b, mod, b, ""), mod, "");
        return LLVMBuildSelect(L->b, mod_nz, m, lw_intr2(L, "llvm.copysign", zero, b), "");
    }
    div = LLVMBuildSelect(L->b, fix, LLVMBuildFSub(L->b, div, one, ""), div, "");
    LLVMValueRef fl = lw_intr1(L, "llvm.floor", div);
    LLVMValueRef up = LLVMBuildFCmp(L->b, LLVMRealOGT, LLVMBuildFSub(L->b, div, fl, ""),
                                    LLVMConstReal(t, 0.5), "");
    fl = LLVMBuildSelect(L->b, up, LLVMBuildFAdd(L->b, fl, one, ""), fl, "");
    LLVMValueRef quot = LLVMBuildFDiv(L->b, a, b, "");
    LLVMValueRef r = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealUNE, div, zero, ""), fl,
                                     lw_intr2(L, "llvm.copysign", zero, quot), "");
    return LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOEQ, b, zero, ""), quot, r, "");
}

/* Shifts: Python shifts are unbounded; here a count >= the width (or a
 * negative count, which Python rejects) gives 0 for << and for >> of a
 * non-negative value, -1 for >> of a negative signed value. */
static LLVMValueRef shift(Lower *L, bool left, LLVMValueRef a, LLVMValueRef b, bool is_signed)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    unsigned w = LLVMGetIntTypeWidth(t);
    LLVMValueRef big = LLVMBuildICmp(L->b, LLVMIntUGE, b, ci(t, w), "");
    LLVMValueRef cnt = LLVMBuildSelect(L->b, big, ci(t, 0), b, "");
    LLVMValueRef r, over;
    if (left) {
        r = LLVMBuildShl(L->b, a, cnt, "");
        over = ci(t, 0);
    } else if (is_signed) {
        r = LLVMBuildAShr(L->b, a, cnt, "");
        over = LLVMBuildAShr(L->b, a, ci(t, w - 1), "");
    } else {
        r = LLVMBuildLShr(L->b, a, cnt, "");
        over = ci(t, 0);
    }
    return LLVMBuildSelect(L->b, big, over, r, "");
}

/* Complex division, Smith's algorithm (as CPython's _Py_c_quot). */
LLVMValueRef lw_complex_div(Lower *L, const Type *t, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = re_of(L, x), b = im_of(L, x), c = re_of(L, y), d = im_of(L, y);
    LLVMValueRef ac = lw_intr1(L, "llvm.fabs", c), ad = lw_intr1(L, "llvm.fabs", d);
    LLVMValueRef c_big = LLVMBuildFCmp(B, LLVMRealOGE, ac, ad, "");
    /* |c| >= |d|: r = d/c, den = c + d*r, re = (a + b*r)/den, im = (b - a*r)/den */
    LLVMValueRef r1 = LLVMBuildFDiv(B, d, c, "");
    LLVMValueRef den1 = LLVMBuildFAdd(B, c, LLVMBuildFMul(B, d, r1, ""), "");
    LLVMValueRef re1 = LLVMBuildFDiv(B, LLVMBuildFAdd(B, a, LLVMBuildFMul(B, b, r1, ""), ""), den1, "");
    LLVMValueRef im1 = LLVMBuildFDiv(B, LLVMBuildFSub(B, b, LLVMBuildFMul(B, a, r1, ""), ""), den1, "");
    /* else: r = c/d, den = c*r + d, re = (a*r + b)/den, im = (b*r - a)/den */
    LLVMValueRef r2 = LLVMBuildFDiv(B, c, d, "");
    LLVMValueRef den2 = LLVMBuildFAdd(B, LLVMBuildFMul(B, c, r2, ""), d, "");
    LLVMValueRef re2 = LLVMBuildFDiv(B, LLVMBuildFAdd(B, LLVMBuildFMul(B, a, r2, ""), b, ""), den2, "");
    LLVMValueRef im2 = LLVMBuildFDiv(B, LLVMBuildFSub(B, LLVMBuildFMul(B, b, r2, ""), a, ""), den2, "");
    return lw_make_complex(L, t, LLVMBuildSelect(B, c_big, re1, re2, ""),
                        LLVMBuildSelect(B, c_big, im1, im2, ""));
}

/* x ** y for complex: exp(y * log(x)); 0 ** y is 1 when y == 0, else 0. */
static LLVMValueRef complex_pow(Lower *L, const Type *t, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = re_of(L, x), b = im_of(L, x), c = re_of(L, y), d = im_of(L, y);
    LLVMTypeRef pt = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstReal(pt, 0.0), one = LLVMConstReal(pt, 1.0);
    LLVMValueRef lr = lw_libm1(L, "log", lw_libm2(L, "hypot", a, b));
    LLVMValueRef th = lw_libm2(L, "atan2", b, a);
    LLVMValueRef mag = lw_libm1(L, "exp", LLVMBuildFSub(B, LLVMBuildFMul(B, c, lr, ""),
                                                     LLVMBuildFMul(B, d, th, ""), ""));
    LLVMValueRef ang = LLVMBuildFAdd(B, LLVMBuildFMul(B, d, lr, ""), LLVMBuildFMul(B, c, th, ""), "");
    LLVMValueRef re = LLVMBuildFMul(B, mag, lw_libm1(L, "cos", ang), "");
    LLVMValueRef im = LLVMBuildFMul(B, mag, lw_libm1(L, "sin", ang), "");
    LLVMValueRef x0 = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, a, zero, ""),
                                   LLVMBuildFCmp(B, LLVMRealOEQ, b, zero, ""), "");
    LLVMValueRef y0 = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, c, zero, ""),
                                   LLVMBuildFCmp(B, LLVMRealOEQ, d, zero, ""), "");
    LLVMValueRef zre = LLVMBuildSelect(B, y0, one, zero, "");
    re = LLVMBuildSelect(B, x0, zre, re, "");
    im = LLVMBuildSelect(B, x0, zero, im, "");
    return lw_make_complex(L, t, re, im);
}


/* The value of a constant exponent node (a constant or -constant), for
 * lw_pow; false when e is not one. */
static bool const_exponent(const Node *e, double *v)
{
    bool neg = false;
    if (e->kind == ND_UNARY && (e->op == OP_NEG || e->op == OP_POS)) {
        neg = e->op == OP_NEG;
        e = e->a;
    }
    if (e->kind != ND_CONST || !e->ty || ty_is_complex(e->ty))
        return false;
    double x = ty_is_float(e->ty) ? e->fval : (double)e->ival;
    *v = neg ? -x : x;
    return true;
}

/* x ** y for floats. A constant exponent that is a small integer (also
 * written 2.0) becomes multiplications by repeated squaring, with a
 * reciprocal for a negative one, as numba's static_power_impl; 0.5 becomes
 * a square root with pow's special cases (pow(-0, 0.5) = +0,
 * pow(-inf, 0.5) = +inf). Any other exponent calls pow. */
LLVMValueRef lw_pow(Lower *L, const Node *exp_node, LLVMValueRef x, LLVMValueRef y)
{
    double e;
    LLVMTypeRef t = LLVMTypeOf(x);
    if (exp_node && const_exponent(exp_node, &e)) {
        if (e == floor(e) && fabs(e) <= 64) {
            int k = (int)fabs(e);
            LLVMValueRef r = NULL, sq = x;
            for (; k; k >>= 1) {
                if (k & 1)
                    r = r ? lw_fmul(L, r, sq) : sq;
                if (k >> 1)
                    sq = lw_fmul(L, sq, sq);
            }
            if (!r)
                return LLVMConstReal(t, 1.0); /* x ** 0 is 1, also for nan */
            return e < 0 ? lw_fdiv(L, LLVMConstReal(t, 1.0), r) : r;
        }
        if (e == 0.5) {
            LLVMValueRef r = lw_fadd(L, lw_intr1(L, "llvm.sqrt", x), LLVMConstReal(t, 0.0));
            LLVMValueRef ninf = lw_fcmp(L, LLVMRealOEQ, x, LLVMConstReal(t, -INFINITY));
            return LLVMBuildSelect(L->b, ninf, LLVMConstReal(t, INFINITY), r, "");
        }
    }
    return lw_libm2(L, "pow", x, y);
}

/* z ** k for a constant integer k in [-64, 64]: multiplications (repeated
 * squaring) and a division for negative k, as CPython's c_powi; NULL for
 * other exponents (the builder is untouched then). */
static LLVMValueRef complex_powi(Lower *L, const Type *t, LLVMValueRef z, const Node *exp_node)
{
    double e;
    if (!exp_node || !const_exponent(exp_node, &e) || e != floor(e) || fabs(e) > 64)
        return NULL;
    LLVMBuilderRef B = L->b;
    LLVMTypeRef pt = LLVMTypeOf(re_of(L, z));
    LLVMValueRef one = lw_make_complex(L, t, LLVMConstReal(pt, 1.0), LLVMConstReal(pt, 0.0));
    LLVMValueRef r = one, sq = z;
    for (int k = (int)fabs(e); k; k >>= 1) {
        if (k & 1) {
            LLVMValueRef ar = re_of(L, r), ai = im_of(L, r), br = re_of(L, sq), bi = im_of(L, sq);
            r = lw_make_complex(
                L, t, LLVMBuildFSub(B, LLVMBuildFMul(B, ar, br, ""), LLVMBuildFMul(B, ai, bi, ""), ""),
                LLVMBuildFAdd(B, LLVMBuildFMul(B, ar, bi, ""), LLVMBuildFMul(B, ai, br, ""), ""));
        }
        if (k >> 1) {
            LLVMValueRef a = re_of(L, sq), b = im_of(L, sq);
            sq = lw_make_complex(
                L, t, LLVMBuildFSub(B, LLVMBuildFMul(B, a, a, ""), LLVMBuildFMul(B, b, b, ""), ""),
                LLVMBuildFMul(B, LLVMBuildFAdd(B, a, a, ""), b, ""));
        }
    }
    return e < 0 ? lw_complex_div(L, t, one, r) : r;
}

/* Whether binary node n checks its divisor (zero_division_raises). */
bool lw_checks_zero_division(const Lower *L, const Node *n)
{
    return L->zero_division_raises && n->kind == ND_BINARY &&
           (n->op == OP_TRUEDIV || n->op == OP_FLOORDIV || n->op == OP_MOD);
}

/* numba's Python error model (its CUDA target with debug=True): a zero
 * divisor raises ZeroDivisionError and the thread stops there, with
 * numba's messages (cpython/numbers.py: real_div_impl, real_mod_impl,
 * int_truediv_impl, int_floordiv_impl, int_rem_impl, complex_div). The
 * operands are already in the result type t (int / int: float64). */
static void zero_division_check(Lower *L, Node *n, const Type *t, LLVMValueRef b)
{
    LLVMBuilderRef B = L->b;
    const char *msg;
    LLVMValueRef zero;
    if (ty_is_complex(t)) {
        LLVMValueRef z = LLVMConstReal(LLVMTypeOf(re_of(L, b)), 0.0);
        zero = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, re_of(L, b), z, ""),
                            LLVMBuildFCmp(B, LLVMRealOEQ, im_of(L, b), z, ""), "");
        msg = "complex division by zero";
    } else if (ty_is_float(t)) {
        zero = LLVMBuildFCmp(B, LLVMRealOEQ, b, LLVMConstNull(LLVMTypeOf(b)), "");
        msg = n->op == OP_MOD ? "modulo by zero" : "division by zero";
    } else {
        zero = LLVMBuildICmp(B, LLVMIntEQ, b, LLVMConstNull(LLVMTypeOf(b)), "");
        msg = n->op == OP_MOD ? "integer modulo by zero" : "integer division by zero";
    }
    LLVMBasicBlockRef bad = lw_new_bb(L, "zerodiv"), ok = lw_new_bb(L, "divisor.ok");
    LLVMBuildCondBr(B, zero, bad, ok);
    LLVMPositionBuilderAtEnd(B, bad);
    lw_raise_fault(L, lw_add_raise_site(L, n, "ZeroDivisionError", msg));
    LLVMBuildBr(B, L->ret_bb); /* as `raise`: the thread (a device function) ends */
    LLVMPositionBuilderAtEnd(B, ok);
}

LLVMValueRef lw_binary(Lower *L, Node *n)
{
    if (ty_is_time(n->a->ty) || ty_is_time(n->b->ty))
        return lw_time_binary(L, n);
    const Type *t = ty_concrete(n->ty);
    LLVMValueRef a = lw_conv(L, n, lw_expr(L, n->a), n->a->ty, t);
    LLVMValueRef b = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, t);
    LLVMBuilderRef B = L->b;
    if (lw_checks_zero_division(L, n) && t->kind != TY_BOOL)
        zero_division_check(L, n, t, b);
    if (ty_is_complex(t)) {
        LLVMValueRef ar = re_of(L, a), ai = im_of(L, a), br = re_of(L, b), bi = im_of(L, b);
        switch (n->op) {
        case OP_ADD: return lw_make_complex(L, t, LLVMBuildFAdd(B, ar, br, ""), LLVMBuildFAdd(B, ai, bi, ""));
        case OP_SUB: return lw_make_complex(L, t, LLVMBuildFSub(B, ar, br, ""), LLVMBuildFSub(B, ai, bi, ""));
        case OP_MUL:
            return lw_make_complex(
                L, t, LLVMBuildFSub(B, LLVMBuildFMul(B, ar, br, ""), LLVMBuildFMul(B, ai, bi, ""), ""),
                LLVMBuildFAdd(B, LLVMBuildFMul(B, ar, bi, ""), LLVMBuildFMul(B, ai, br, ""), ""));
        case OP_TRUEDIV: return lw_complex_div(L, t, a, b);
        case OP_POW: {
            LLVMValueRef r = complex_powi(L, t, a, n->b);
            return r ? r : complex_pow(L, t, a, b);
        }
        default: lw_fail(L, n, "operator %s is not defined for complex numbers", ir_op_name(n->op));
        }
    }
    if (ty_is_float(t)) {
        switch (n->op) {
        case OP_ADD: return LLVMBuildFAdd(B, a, b, "");
        case OP_SUB: return LLVMBuildFSub(B, a, b, "");
        case OP_MUL: return LLVMBuildFMul(B, a, b, "");
        case OP_TRUEDIV: return LLVMBuildFDiv(B, a, b, "");
        case OP_FLOORDIV: return float_divmod(L, false, a, b);
        case OP_MOD: return float_divmod(L, true, a, b);
        case OP_POW: return lw_pow(L, n->b, a, b);
        default: lw_fail(L, n, "operator %s needs integers", ir_op_name(n->op));
        }
    }
    bool sg = ty_is_signed(t);
    if (t->kind == TY_BOOL) {
        switch (n->op) {
        case OP_BITAND: return LLVMBuildAnd(B, a, b, "");
        case OP_BITOR: return LLVMBuildOr(B, a, b, "");
        case OP_BITXOR: return LLVMBuildXor(B, a, b, "");
        default: lw_fail(L, n, "operator %s on bool operands (expected an integer result)",
                      ir_op_name(n->op));
        }
    }
    switch (n->op) {
    case OP_ADD: return LLVMBuildAdd(B, a, b, "");
    case OP_SUB: return LLVMBuildSub(B, a, b, "");
    case OP_MUL: return LLVMBuildMul(B, a, b, "");
    case OP_FLOORDIV: return lw_int_divmod(L, false, a, b, sg);
    case OP_MOD: return lw_int_divmod(L, true, a, b, sg);
    case OP_POW: {
        LLVMTypeRef fty;
        LLVMValueRef f = ipow_fn(L, lw_lty(L, t), sg, &fty);
        LLVMValueRef args[2] = {a, b};
        return LLVMBuildCall2(B, fty, f, args, 2, "");
    }
    case OP_LSHIFT: return shift(L, true, a, b, sg);
    case OP_RSHIFT: return shift(L, false, a, b, sg);
    case OP_BITAND: return LLVMBuildAnd(B, a, b, "");
    case OP_BITOR: return LLVMBuildOr(B, a, b, "");
    case OP_BITXOR: return LLVMBuildXor(B, a, b, "");
    case OP_TRUEDIV: /* inference types int / int as float64 */
    default: lw_fail(L, n, "operator %s with an integer result type", ir_op_name(n->op));
    }
}

/* Comparisons: both operands go to their promoted type; floats compare
 * ordered, except != which is true for nan (Python). */
LLVMValueRef lw_compare(Lower *L, Node *n)
{
    if (ty_is_time(n->a->ty) || ty_is_time(n->b->ty))
        return lw_time_binary(L, n);
    const Type *t = ty_concrete(ty_promote(n->a->ty, n->b->ty));
    LLVMValueRef a = lw_conv(L, n, lw_expr(L, n->a), n->a->ty, t);
    LLVMValueRef b = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, t);
    LLVMBuilderRef B = L->b;
    if (ty_is_complex(t)) {
        LLVMValueRef eq = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, re_of(L, a), re_of(L, b), ""),
                                       LLVMBuildFCmp(B, LLVMRealOEQ, im_of(L, a), im_of(L, b), ""), "");
        if (n->op == OP_EQ)
            return eq;
        if (n->op == OP_NE)
            return LLVMBuildNot(B, eq, "");
        lw_fail(L, n, "complex numbers are not ordered");
    }
    if (ty_is_float(t)) {
        static const LLVMRealPredicate fp[] = {
            [OP_EQ] = LLVMRealOEQ, [OP_NE] = LLVMRealUNE, [OP_LT] = LLVMRealOLT,
            [OP_LE] = LLVMRealOLE, [OP_GT] = LLVMRealOGT, [OP_GE] = LLVMRealOGE};
        return LLVMBuildFCmp(B, fp[n->op], a, b, "");
    }
    bool sg = ty_is_signed(t);
    static const LLVMIntPredicate sp[] = {[OP_EQ] = LLVMIntEQ, [OP_NE] = LLVMIntNE,
                                          [OP_LT] = LLVMIntSLT, [OP_LE] = LLVMIntSLE,
                                          [OP_GT] = LLVMIntSGT, [OP_GE] = LLVMIntSGE};
    static const LLVMIntPredicate up[] = {[OP_EQ] = LLVMIntEQ, [OP_NE] = LLVMIntNE,
                                          [OP_LT] = LLVMIntULT, [OP_LE] = LLVMIntULE,
                                          [OP_GT] = LLVMIntUGT, [OP_GE] = LLVMIntUGE};
    return LLVMBuildICmp(B, sg ? sp[n->op] : up[n->op], a, b, "");
}

LLVMValueRef lw_unary(Lower *L, Node *n)
{
    LLVMValueRef v = lw_expr(L, n->a);
    if (n->op == OP_NOT)
        return LLVMBuildNot(L->b, lw_truth(L, v, n->a->ty), "");
    if (ty_is_time(n->a->ty)) /* -td, +td: NaT stays NaT (-INT64_MIN wraps to itself) */
        return n->op == OP_NEG ? LLVMBuildNeg(L->b, v, "") : v;
    const Type *t = ty_concrete(n->ty);
    v = lw_conv(L, n, v, n->a->ty, t);
    switch (n->op) {
    case OP_POS:
        return v;
    case OP_NEG:
        if (ty_is_complex(t))
            return lw_make_complex(L, t, lw_build_fneg(L, re_of(L, v)),
                                lw_build_fneg(L, im_of(L, v)));
        if (ty_is_float(t))
            return lw_build_fneg(L, v);
        return LLVMBuildNeg(L->b, v, "");
    case OP_INVERT: /* ~x; for bool (NumPy's logical not) inference keeps bool */
        return LLVMBuildNot(L->b, v, "");
    default:
        lw_fail(L, n, "unknown unary operator %d", n->op);
    }
}

/* a and b / a or b, short-circuit; the result is an operand converted to
 * the node's type (Python's `x or y` is x when x is true, else y). */
LLVMValueRef lw_and_or(Lower *L, Node *n)
{
    bool is_and = n->kind == ND_AND;
    const Type *t = ty_concrete(n->ty);
    LLVMValueRef av = lw_expr(L, n->a);
    LLVMValueRef a = lw_truth(L, av, n->a->ty);
    LLVMValueRef ares = t->kind == TY_BOOL ? a : lw_conv(L, n, av, n->a->ty, t);
    LLVMBasicBlockRef a_end = LLVMGetInsertBlock(L->b);
    LLVMBasicBlockRef rhs = lw_new_bb(L, is_and ? "and.rhs" : "or.rhs");
    LLVMBasicBlockRef done = lw_new_bb(L, is_and ? "and.end" : "or.end");
    if (is_and)
        LLVMBuildCondBr(L->b, a, rhs, done);
    else
        LLVMBuildCondBr(L->b, a, done, rhs);
    LLVMPositionBuilderAtEnd(L->b, rhs);
    LLVMValueRef bv = lw_expr(L, n->b);
    LLVMValueRef b = t->kind == TY_BOOL ? lw_truth(L, bv, n->b->ty)
                                        : lw_conv(L, n, bv, n->b->ty, t);
    LLVMBasicBlockRef b_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, done);
    LLVMValueRef phi = LLVMBuildPhi(L->b, t->kind == TY_BOOL ? L->t_i1 : lw_lty(L, t), "");
    LLVMValueRef vals[2] = {ares, b};
    LLVMBasicBlockRef from[2] = {a_end, b_end};
    LLVMAddIncoming(phi, vals, from, 2);
    return phi;
}

LLVMValueRef lw_ifexp(Lower *L, Node *n)
{
    const Type *t = ty_concrete(n->ty);
    LLVMValueRef c = lw_truth(L, lw_expr(L, n->a), n->a->ty);
    LLVMBasicBlockRef bt = lw_new_bb(L, "ifx.then"), bf = lw_new_bb(L, "ifx.else"), done = lw_new_bb(L, "ifx.end");
    LLVMBuildCondBr(L->b, c, bt, bf);
    LLVMPositionBuilderAtEnd(L->b, bt);
    LLVMValueRef vt = lw_conv(L, n, lw_expr(L, n->b), n->b->ty, t);
    LLVMBasicBlockRef bt_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, bf);
    LLVMValueRef vf = lw_conv(L, n, lw_expr(L, n->c), n->c->ty, t);
    LLVMBasicBlockRef bf_end = LLVMGetInsertBlock(L->b);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, done);
    LLVMValueRef phi = LLVMBuildPhi(L->b, lw_lty(L, t), "");
    LLVMValueRef vals[2] = {vt, vf};
    LLVMBasicBlockRef from[2] = {bt_end, bf_end};
    LLVMAddIncoming(phi, vals, from, 2);
    return phi;
}
