/*
 * lower_cspecial.c — the values of cmath's functions where a part of the
 * argument is infinite or NaN, as CPython's cmath gives them.
 *
 * C99 Annex G fixes what csqrt, cexp, clog, ccosh ... return for such
 * arguments, and CPython's cmath follows it with one table per function:
 * the result depends only on the class of each part (-inf, negative finite,
 * -0, +0, positive finite, +inf, nan), except where the real part is
 * infinite and the imaginary part finite and nonzero (exp, cosh, sinh,
 * tanh, and rect(r, phi) for an infinite r: the signs then come from cos y
 * and sin y). The formulas in
 * lower_math.c are right for finite arguments only, so each complex
 * function passes its result through lw_cmath_special, which selects the
 * table's value when a part is not finite.
 *
 * The tables below were read off CPython 3.11's cmath, one argument per
 * class pair; where CPython raises ValueError ("math domain error") instead
 * of returning (an infinite imaginary part for exp, cosh, sinh, tanh), the
 * entry is Annex G's value. The table is a constant global (the target's
 * constant address space: 4 on NVVM), indexed by 7 * class(re) + class(im).
 */
#include <math.h>
#include <stdio.h>

#include "core/lower_impl.h"

#define INF_ __builtin_inf()
#define N_ __builtin_nan("")
#define P_ 3.141592653589793238462643
#define P2_ (P_ / 2)
#define P4_ (P_ / 4)
#define P34_ (3 * P_ / 4)
/* F: the argument is finite, the formula's result is kept (never read) */
#define F_ 0.0
#define C(a, b) {a, b}

/* Rows: the real part's class; columns: the imaginary part's, in the order
 * -inf, negative, -0, +0, positive, +inf, nan. */
static const double sqrt_tab[49][2] = {
    C(INF_, -INF_), C(0.0, -INF_), C(0.0, -INF_), C(0.0, INF_), C(0.0, INF_), C(INF_, INF_), C(N_, INF_),
    C(INF_, -INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, INF_), C(N_, N_),
    C(INF_, -INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, INF_), C(N_, N_),
    C(INF_, -INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, INF_), C(N_, N_),
    C(INF_, -INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, INF_), C(N_, N_),
    C(INF_, -INF_), C(INF_, -0.0), C(INF_, -0.0), C(INF_, 0.0), C(INF_, 0.0), C(INF_, INF_), C(INF_, N_),
    C(INF_, -INF_), C(N_, N_), C(N_, N_), C(N_, N_), C(N_, N_), C(INF_, INF_), C(N_, N_),
};

static const double exp_tab[49][2] = {
    C(0.0, 0.0), C(F_, F_), C(0.0, -0.0), C(0.0, 0.0), C(F_, F_), C(0.0, 0.0), C(0.0, 0.0),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(INF_, N_), C(F_, F_), C(INF_, -0.0), C(INF_, 0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(N_, N_), C(N_, -0.0), C(N_, 0.0), C(N_, N_), C(N_, N_), C(N_, N_),
};

static const double log_tab[49][2] = {
    C(INF_, -P34_), C(INF_, -P_), C(INF_, -P_), C(INF_, P_), C(INF_, P_), C(INF_, P34_), C(INF_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P4_), C(INF_, -0.0), C(INF_, -0.0), C(INF_, 0.0), C(INF_, 0.0), C(INF_, P4_), C(INF_, N_),
    C(INF_, N_), C(N_, N_), C(N_, N_), C(N_, N_), C(N_, N_), C(INF_, N_), C(N_, N_),
};

static const double acos_tab[49][2] = {
    C(P34_, INF_), C(P_, INF_), C(P_, INF_), C(P_, -INF_), C(P_, -INF_), C(P34_, -INF_), C(N_, INF_),
    C(P2_, INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(P2_, -INF_), C(N_, N_),
    C(P2_, INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(P2_, -INF_), C(P2_, N_),
    C(P2_, INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(P2_, -INF_), C(P2_, N_),
    C(P2_, INF_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(P2_, -INF_), C(N_, N_),
    C(P4_, INF_), C(0.0, INF_), C(0.0, INF_), C(0.0, -INF_), C(0.0, -INF_), C(P4_, -INF_), C(N_, INF_),
    C(N_, INF_), C(N_, N_), C(N_, N_), C(N_, N_), C(N_, N_), C(N_, -INF_), C(N_, N_),
};

/* acosh's table is log's */

static const double asinh_tab[49][2] = {
    C(-INF_, -P4_), C(-INF_, -0.0), C(-INF_, -0.0), C(-INF_, 0.0), C(-INF_, 0.0), C(-INF_, P4_), C(-INF_, N_),
    C(-INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(-INF_, P2_), C(N_, N_),
    C(-INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(-INF_, P2_), C(N_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(INF_, P2_), C(N_, N_),
    C(INF_, -P4_), C(INF_, -0.0), C(INF_, -0.0), C(INF_, 0.0), C(INF_, 0.0), C(INF_, P4_), C(INF_, N_),
    C(INF_, N_), C(N_, N_), C(N_, -0.0), C(N_, 0.0), C(N_, N_), C(INF_, N_), C(N_, N_),
};

static const double atanh_tab[49][2] = {
    C(-0.0, -P2_), C(-0.0, -P2_), C(-0.0, -P2_), C(-0.0, P2_), C(-0.0, P2_), C(-0.0, P2_), C(-0.0, N_),
    C(-0.0, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(-0.0, P2_), C(N_, N_),
    C(-0.0, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(-0.0, P2_), C(-0.0, N_),
    C(0.0, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(0.0, P2_), C(0.0, N_),
    C(0.0, -P2_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(0.0, P2_), C(N_, N_),
    C(0.0, -P2_), C(0.0, -P2_), C(0.0, -P2_), C(0.0, P2_), C(0.0, P2_), C(0.0, P2_), C(0.0, N_),
    C(0.0, -P2_), C(N_, N_), C(N_, N_), C(N_, N_), C(N_, N_), C(0.0, P2_), C(N_, N_),
};

static const double cosh_tab[49][2] = {
    C(INF_, N_), C(F_, F_), C(INF_, 0.0), C(INF_, -0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, 0.0), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, 0.0), C(N_, 0.0),
    C(N_, 0.0), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, 0.0), C(N_, 0.0),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(INF_, N_), C(F_, F_), C(INF_, -0.0), C(INF_, 0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(N_, N_), C(N_, 0.0), C(N_, 0.0), C(N_, N_), C(N_, N_), C(N_, N_),
};

static const double sinh_tab[49][2] = {
    C(-INF_, N_), C(F_, F_), C(-INF_, -0.0), C(-INF_, 0.0), C(F_, F_), C(-INF_, N_), C(INF_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(-0.0, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(-0.0, N_), C(0.0, N_),
    C(0.0, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(0.0, N_), C(0.0, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(INF_, N_), C(F_, F_), C(INF_, -0.0), C(INF_, 0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(N_, N_), C(N_, -0.0), C(N_, 0.0), C(N_, N_), C(N_, N_), C(N_, N_),
};

static const double tanh_tab[49][2] = {
    C(-1.0, 0.0), C(F_, F_), C(-1.0, -0.0), C(-1.0, 0.0), C(F_, F_), C(-1.0, 0.0), C(-1.0, 0.0),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(1.0, 0.0), C(F_, F_), C(1.0, -0.0), C(1.0, 0.0), C(F_, F_), C(1.0, 0.0), C(1.0, 0.0),
    C(N_, N_), C(N_, N_), C(N_, -0.0), C(N_, 0.0), C(N_, N_), C(N_, N_), C(N_, N_),
};

/* rect(r, phi): rows r's class, columns phi's */
static const double rect_tab[49][2] = {
    C(INF_, N_), C(F_, F_), C(-INF_, 0.0), C(-INF_, -0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(0.0, 0.0), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(0.0, 0.0), C(0.0, 0.0),
    C(0.0, 0.0), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(0.0, 0.0), C(0.0, 0.0),
    C(N_, N_), C(F_, F_), C(F_, F_), C(F_, F_), C(F_, F_), C(N_, N_), C(N_, N_),
    C(INF_, N_), C(F_, F_), C(INF_, -0.0), C(INF_, 0.0), C(F_, F_), C(INF_, N_), C(INF_, N_),
    C(N_, N_), C(N_, N_), C(N_, 0.0), C(N_, 0.0), C(N_, N_), C(N_, N_), C(N_, N_),
};

static const double (*table_of(CmathSpecial f, const char **name))[2]
{
    switch (f) {
    case CSPECIAL_SQRT: *name = "sqrt"; return sqrt_tab;
    case CSPECIAL_EXP: *name = "exp"; return exp_tab;
    case CSPECIAL_LOG: *name = "log"; return log_tab;
    case CSPECIAL_ACOS: *name = "acos"; return acos_tab;
    case CSPECIAL_ACOSH: *name = "log"; return log_tab;
    case CSPECIAL_ASINH: *name = "asinh"; return asinh_tab;
    case CSPECIAL_ATANH: *name = "atanh"; return atanh_tab;
    case CSPECIAL_COSH: *name = "cosh"; return cosh_tab;
    case CSPECIAL_SINH: *name = "sinh"; return sinh_tab;
    case CSPECIAL_TANH: *name = "tanh"; return tanh_tab;
    case CSPECIAL_RECT: *name = "rect"; return rect_tab;
    }
    *name = "?";
    return NULL;
}

/* The class of x: 0 -inf, 1 negative finite, 2 -0, 3 +0, 4 positive
 * finite, 5 +inf, 6 nan (CPython's special_type order). */
static LLVMValueRef part_class(Lower *L, LLVMValueRef x)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef inf = LLVMConstReal(t, __builtin_inf()), zero = LLVMConstReal(t, 0.0);
    LLVMValueRef neg = lw_fcmp(L, LLVMRealOLT, lw_intr2(L, "llvm.copysign", LLVMConstReal(t, 1.0), x), zero);
    LLVMValueRef c = LLVMBuildSelect(B, neg, i64c(L, 1), i64c(L, 4), "");
    c = LLVMBuildSelect(B, lw_fcmp(L, LLVMRealOEQ, x, zero),
                        LLVMBuildSelect(B, neg, i64c(L, 2), i64c(L, 3), ""), c, "");
    c = LLVMBuildSelect(B, lw_fcmp(L, LLVMRealOEQ, x, inf), i64c(L, 5), c, "");
    c = LLVMBuildSelect(B, lw_fcmp(L, LLVMRealOEQ, x, LLVMConstReal(t, -__builtin_inf())), i64c(L, 0), c, "");
    return LLVMBuildSelect(B, lw_fcmp(L, LLVMRealUNO, x, x), i64c(L, 6), c, "");
}

/* The table as a constant global of [49 x [2 x T]], made once per module. */
static LLVMValueRef table_global(Lower *L, CmathSpecial f, LLVMTypeRef t, LLVMTypeRef *at)
{
    const char *fname;
    const double(*tab)[2] = table_of(f, &fname);
    LLVMTypeRef pair = LLVMArrayType(t, 2);
    *at = LLVMArrayType(pair, 49);
    char name[64];
    snprintf(name, sizeof name, "ember_cmath_%s_%s", fname, t == L->t_f32 ? "f32" : "f64");
    LLVMValueRef g = LLVMGetNamedGlobal(L->mod, name);
    if (g)
        return g;
    LLVMValueRef rows[49];
    for (int i = 0; i < 49; i++) {
        LLVMValueRef two[2] = {LLVMConstReal(t, tab[i][0]), LLVMConstReal(t, tab[i][1])};
        rows[i] = LLVMConstArray(t, two, 2);
    }
    LLVMValueRef init = LLVMConstArray(pair, rows, 49);
    g = LLVMAddGlobalInAddressSpace(L->mod, *at, name, L->target->const_address_space);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    return g;
}

/* Where the real part is infinite and the imaginary part finite and
 * nonzero, exp, cosh, sinh and tanh take their signs from cos y and sin y:
 * with s = +-1 the real part's sign,
 *   exp:  s > 0: (inf cos y, inf sin y) else (+-0 cos y, +-0 sin y)
 *   cosh: (inf cos y, s inf sin y)      sinh: (s inf cos y, inf sin y)
 *   tanh: (s, 0 with the sign of sin y cos y)
 *   rect(x, y): (s inf cos y, s inf sin y)
 * (each "inf cos y" an infinity with cos y's sign). */
static void inf_real_finite_imag(Lower *L, CmathSpecial f, LLVMValueRef x, LLVMValueRef y,
                                 LLVMValueRef *re, LLVMValueRef *im)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef inf = LLVMConstReal(t, __builtin_inf()), zero = LLVMConstReal(t, 0.0);
    LLVMValueRef c = lw_libm1(L, "cos", y), s = lw_libm1(L, "sin", y);
    LLVMValueRef pos = lw_fcmp(L, LLVMRealOGT, x, zero);
    LLVMValueRef ic = lw_intr2(L, "llvm.copysign", inf, c), is = lw_intr2(L, "llvm.copysign", inf, s);
    switch (f) {
    case CSPECIAL_EXP:
        *re = LLVMBuildSelect(L->b, pos, ic, lw_intr2(L, "llvm.copysign", zero, c), "");
        *im = LLVMBuildSelect(L->b, pos, is, lw_intr2(L, "llvm.copysign", zero, s), "");
        break;
    case CSPECIAL_COSH:
        *re = ic;
        *im = LLVMBuildSelect(L->b, pos, is, lw_build_fneg(L, is), "");
        break;
    case CSPECIAL_SINH:
        *re = LLVMBuildSelect(L->b, pos, ic, lw_build_fneg(L, ic), "");
        *im = is;
        break;
    case CSPECIAL_RECT:
        *re = LLVMBuildSelect(L->b, pos, ic, lw_build_fneg(L, ic), "");
        *im = LLVMBuildSelect(L->b, pos, is, lw_build_fneg(L, is), "");
        break;
    default: /* tanh */
        *re = lw_intr2(L, "llvm.copysign", LLVMConstReal(t, 1.0), x);
        *im = lw_intr2(L, "llvm.copysign", zero, lw_fmul(L, s, c));
        break;
    }
}

void lw_cmath_special(Lower *L, CmathSpecial f, LLVMValueRef x, LLVMValueRef y, LLVMValueRef *re,
                      LLVMValueRef *im)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = LLVMTypeOf(x), at;
    LLVMValueRef inf = LLVMConstReal(t, __builtin_inf());
    LLVMValueRef xfin = lw_fcmp(L, LLVMRealOLT, lw_intr1(L, "llvm.fabs", x), inf);
    LLVMValueRef yfin = lw_fcmp(L, LLVMRealOLT, lw_intr1(L, "llvm.fabs", y), inf);
    LLVMValueRef special = LLVMBuildNot(B, LLVMBuildAnd(B, xfin, yfin, ""), "");
    LLVMValueRef g = table_global(L, f, t, &at);
    LLVMValueRef idx = LLVMBuildAdd(B, LLVMBuildMul(B, part_class(L, x), i64c(L, 7), ""),
                                    part_class(L, y), "");
    LLVMValueRef ix_re[3] = {i64c(L, 0), idx, i64c(L, 0)}, ix_im[3] = {i64c(L, 0), idx, i64c(L, 1)};
    LLVMValueRef tre = LLVMBuildLoad2(B, t, LLVMBuildInBoundsGEP2(B, at, g, ix_re, 3, ""), "");
    LLVMValueRef tim = LLVMBuildLoad2(B, t, LLVMBuildInBoundsGEP2(B, at, g, ix_im, 3, ""), "");
    if (f == CSPECIAL_EXP || f == CSPECIAL_COSH || f == CSPECIAL_SINH || f == CSPECIAL_TANH ||
        f == CSPECIAL_RECT) {
        LLVMValueRef ore, oim;
        inf_real_finite_imag(L, f, x, y, &ore, &oim);
        LLVMValueRef ovr = LLVMBuildAnd(B, LLVMBuildNot(B, xfin, ""),
                                        LLVMBuildAnd(B, yfin, lw_fcmp(L, LLVMRealONE, y,
                                                                      LLVMConstReal(t, 0.0)), ""), "");
        ovr = LLVMBuildAnd(B, ovr, lw_fcmp(L, LLVMRealORD, x, x), "");
        tre = LLVMBuildSelect(B, ovr, ore, tre, "");
        tim = LLVMBuildSelect(B, ovr, oim, tim, "");
    }
    *re = LLVMBuildSelect(B, special, tre, *re, "");
    *im = LLVMBuildSelect(B, special, tim, *im, "");
}
