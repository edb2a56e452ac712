/*
 * lower_math.c — math, cmath and NumPy elementary functions of numbers:
 * calls of the target's math library (LowerTarget.math_symbol) or LLVM
 * intrinsics, and the complex functions built from real ones.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* libm names (float32 calls the `f` variant). math.gamma is tgamma. lgamma
 * also writes glibc's global `signgam`, a benign race between workers
 * (numba calls it the same way). */
static const char *const libm_unary[MATH_COUNT] = {
    [MATH_SIN] = "sin",     [MATH_COS] = "cos",     [MATH_TAN] = "tan",     [MATH_ASIN] = "asin",
    [MATH_ACOS] = "acos",   [MATH_ATAN] = "atan",   [MATH_SINH] = "sinh",   [MATH_COSH] = "cosh",
    [MATH_TANH] = "tanh",   [MATH_ASINH] = "asinh", [MATH_ACOSH] = "acosh", [MATH_ATANH] = "atanh",
    [MATH_EXP] = "exp",     [MATH_EXPM1] = "expm1", [MATH_EXP2] = "exp2",   [MATH_LOG] = "log",
    [MATH_LOG2] = "log2",   [MATH_LOG10] = "log10", [MATH_LOG1P] = "log1p", [MATH_ERF] = "erf",
    [MATH_ERFC] = "erfc",   [MATH_GAMMA] = "tgamma", [MATH_LGAMMA] = "lgamma",
    [MATH_CBRT] = "cbrt",
};

/* ---- complex functions -------------------------------------------------
 * Built from real operations on {re, im} pairs (never libm's complex
 * functions: the NVVM backend lowers the same IR with libdevice, which has
 * none). The formulas are CPython's Modules/cmathmodule.c for finite
 * values, so branch cuts and signed zeros on them match cmath (and NumPy,
 * which follows the same C99 conventions). Where a part is infinite or
 * nan, lw_cmath_special (lower_cspecial.c) gives CPython's value. Not
 * reproduced: CPython's exact handling of
 * atanh(1 ± tiny i) (a precision loss there). float32 parts are computed
 * in float32 with the same formulas and float32 thresholds. */

typedef struct Cx {
    LLVMValueRef re, im;
} Cx;

static LLVMValueRef fk(LLVMValueRef like, double v) { return LLVMConstReal(LLVMTypeOf(like), v); }
LLVMValueRef lw_fadd(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(L->b, a, b, "");
}
LLVMValueRef lw_fsub(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFSub(L->b, a, b, "");
}
LLVMValueRef lw_fmul(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(L->b, a, b, "");
}
LLVMValueRef lw_fdiv(Lower *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFDiv(L->b, a, b, "");
}
static LLVMValueRef fneg(Lower *L, LLVMValueRef a) { return lw_build_fneg(L, a); }
LLVMValueRef lw_fcmp(Lower *L, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(L->b, p, a, b, "");
}
static LLVMValueRef sel(Lower *L, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(L->b, c, a, b, "");
}
static LLVMValueRef fabs_(Lower *L, LLVMValueRef x) { return lw_intr1(L, "llvm.fabs", x); }
static LLVMValueRef csign(Lower *L, LLVMValueRef x, LLVMValueRef y)
{
    return lw_intr2(L, "llvm.copysign", x, y);
}
static bool is_f32(Lower *L, LLVMValueRef x) { return LLVMTypeOf(x) == L->t_f32; }

/* CPython's CM_LARGE_DOUBLE (DBL_MAX / 4), its log and square root, for
 * the part type of x. */
static LLVMValueRef large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? FLT_MAX / 4 : DBL_MAX / 4);
}
static LLVMValueRef log_large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? log(FLT_MAX / 4) : log(DBL_MAX / 4));
}
static LLVMValueRef sqrt_large_k(Lower *L, LLVMValueRef x)
{
    return fk(x, is_f32(L, x) ? sqrt(FLT_MAX / 4) : sqrt(DBL_MAX / 4));
}

/* sqrt: s = sqrt((|x| + |z|) / 2) (computed as 2 sqrt(|x|/8 + |z/8|)
 * against overflow, and with both parts scaled up by 2**(2k+1) when they
 * are subnormal, k = mantissa digits / 2), d = |y| / 2s; x >= 0: (s, ±d),
 * else (d, ±s) with y's sign. sqrt(±0 ± 0j) is (0, y); an infinite y gives
 * (inf, y). */
static Cx c_sqrt(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, ax = fabs_(L, x), ay = fabs_(L, y);
    bool f32 = is_f32(L, x);
    LLVMValueRef tiny = LLVMBuildAnd(L->b, lw_fcmp(L, LLVMRealOLT, ax, fk(x, f32 ? FLT_MIN : DBL_MIN)),
                                     lw_fcmp(L, LLVMRealOLT, ay, fk(x, f32 ? FLT_MIN : DBL_MIN)), "");
    /* CPython's CM_SCALE_UP = 2 * (MANT_DIG / 2) + 1, CM_SCALE_DOWN = -(UP + 1) / 2 */
    int up = 2 * ((f32 ? FLT_MANT_DIG : DBL_MANT_DIG) / 2) + 1, down = -(up + 1) / 2;
    LLVMValueRef k = sel(L, tiny, fk(x, ldexp(1.0, up)), fk(x, 0.125));
    LLVMValueRef ax8 = lw_fmul(L, ax, k), ay8 = lw_fmul(L, ay, k);
    LLVMValueRef s = lw_fmul(L, sel(L, tiny, fk(x, ldexp(1.0, down)), fk(x, 2.0)),
                          lw_intr1(L, "llvm.sqrt", lw_fadd(L, ax8, lw_libm2(L, "hypot", ax8, ay8))));
    LLVMValueRef d = lw_fdiv(L, ay, lw_fmul(L, fk(x, 2.0), s));
    LLVMValueRef pos = lw_fcmp(L, LLVMRealOGE, x, fk(x, 0.0));
    LLVMValueRef re = sel(L, pos, s, d), im = csign(L, sel(L, pos, d, s), y);
    LLVMValueRef zero = LLVMBuildAnd(L->b, lw_fcmp(L, LLVMRealOEQ, x, fk(x, 0.0)),
                                     lw_fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), "");
    LLVMValueRef yinf = lw_fcmp(L, LLVMRealOEQ, ay, fk(x, __builtin_inf()));
    re = sel(L, zero, fk(x, 0.0), sel(L, yinf, fk(x, __builtin_inf()), re));
    im = sel(L, LLVMBuildOr(L->b, zero, yinf, ""), y, im);
    lw_cmath_special(L, CSPECIAL_SQRT, x, y, &re, &im);
    return (Cx){re, im};
}

/* exp: e**x (cos y, sin y); x above log(LARGE) computes e**(x-1) * e
 * against early overflow; y == 0 gives an exact ±0 imaginary part. */
static Cx c_exp(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im;
    LLVMValueRef big = lw_fcmp(L, LLVMRealOGT, x, log_large_k(L, x));
    LLVMValueRef l = lw_libm1(L, "exp", sel(L, big, lw_fsub(L, x, fk(x, 1.0)), x));
    l = sel(L, big, lw_fmul(L, l, fk(x, 2.718281828459045235360287)), l);
    LLVMValueRef re = lw_fmul(L, l, lw_libm1(L, "cos", y)), im = lw_fmul(L, l, lw_libm1(L, "sin", y));
    im = sel(L, lw_fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), y, im);
    /* exp(-inf + iy) is 0 even for an infinite or nan y (CPython: 0 + 0j) */
    LLVMValueRef ninf = lw_fcmp(L, LLVMRealOEQ, x, fk(x, -__builtin_inf()));
    LLVMValueRef ynf = lw_fcmp(L, LLVMRealUGE, fabs_(L, y), fk(x, __builtin_inf()));
    LLVMValueRef zero = LLVMBuildAnd(L->b, ninf, ynf, "");
    re = sel(L, zero, fk(x, 0.0), re);
    im = sel(L, zero, fk(x, 0.0), im);
    lw_cmath_special(L, CSPECIAL_EXP, x, y, &re, &im);
    return (Cx){re, im};
}

/* log: (log|z|, atan2(y, x)); for 0.71 <= |z| <= 1.73 the real part is
 * log1p((am-1)(am+1) + an*an) / 2 (am, an: the larger and smaller of
 * |x|, |y|), accurate near |z| == 1; when both parts are subnormal,
 * log|z 2**MANT_DIG| - MANT_DIG ln 2 (hypot of subnormals is inexact). */
static Cx c_log(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, ax = fabs_(L, x), ay = fabs_(L, y);
    LLVMValueRef h = lw_libm2(L, "hypot", ax, ay);
    LLVMValueRef xbig = lw_fcmp(L, LLVMRealOGT, ax, ay);
    LLVMValueRef am = sel(L, xbig, ax, ay), an = sel(L, xbig, ay, ax);
    LLVMValueRef near = LLVMBuildAnd(L->b, lw_fcmp(L, LLVMRealOGE, h, fk(x, 0.71)),
                                     lw_fcmp(L, LLVMRealOLE, h, fk(x, 1.73)), "");
    LLVMValueRef t = lw_fadd(L, lw_fmul(L, lw_fsub(L, am, fk(x, 1.0)), lw_fadd(L, am, fk(x, 1.0))), lw_fmul(L, an, an));
    LLVMValueRef re = sel(L, near, lw_fmul(L, lw_libm1(L, "log1p", t), fk(x, 0.5)), lw_libm1(L, "log", h));
    bool f32 = is_f32(L, x);
    int mant = f32 ? FLT_MANT_DIG : DBL_MANT_DIG;
    LLVMValueRef tiny = lw_fcmp(L, LLVMRealOLT, am, fk(x, f32 ? FLT_MIN : DBL_MIN));
    LLVMValueRef up = fk(x, ldexp(1.0, mant));
    LLVMValueRef re_tiny = lw_fsub(L, lw_libm1(L, "log", lw_libm2(L, "hypot", lw_fmul(L, ax, up), lw_fmul(L, ay, up))),
                                fk(x, mant * 0.6931471805599453094172321));
    re = sel(L, LLVMBuildAnd(L->b, tiny, lw_fcmp(L, LLVMRealOGT, am, fk(x, 0.0)), ""), re_tiny, re);
    LLVMValueRef im = lw_libm2(L, "atan2", y, x);
    lw_cmath_special(L, CSPECIAL_LOG, x, y, &re, &im);
    return (Cx){re, im};
}

/* sinh and cosh of x, scaled for |x| > log(LARGE): sinh(x - ±1) * e. */
static void sinh_cosh(Lower *L, LLVMValueRef x, LLVMValueRef *sh, LLVMValueRef *ch)
{
    LLVMValueRef big = lw_fcmp(L, LLVMRealOGT, fabs_(L, x), log_large_k(L, x));
    LLVMValueRef xm = lw_fsub(L, x, csign(L, fk(x, 1.0), x));
    LLVMValueRef e = fk(x, 2.718281828459045235360287);
    *sh = sel(L, big, lw_fmul(L, lw_libm1(L, "sinh", xm), e), lw_libm1(L, "sinh", x));
    *ch = sel(L, big, lw_fmul(L, lw_libm1(L, "cosh", xm), e), lw_libm1(L, "cosh", x));
}

/* sinh: (cos y sinh x, sin y cosh x); y == 0 keeps y (sinh(inf) is inf). */
static Cx c_sinh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, sh, ch;
    sinh_cosh(L, x, &sh, &ch);
    LLVMValueRef re = lw_fmul(L, lw_libm1(L, "cos", y), sh), im = lw_fmul(L, lw_libm1(L, "sin", y), ch);
    im = sel(L, lw_fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), y, im);
    lw_cmath_special(L, CSPECIAL_SINH, x, y, &re, &im);
    return (Cx){re, im};
}

/* cosh: (cos y cosh x, sin y sinh x); y == 0 gives ±0 (y times x's sign). */
static Cx c_cosh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, sh, ch;
    sinh_cosh(L, x, &sh, &ch);
    LLVMValueRef re = lw_fmul(L, lw_libm1(L, "cos", y), ch), im = lw_fmul(L, lw_libm1(L, "sin", y), sh);
    im = sel(L, lw_fcmp(L, LLVMRealOEQ, y, fk(x, 0.0)), lw_fmul(L, y, csign(L, fk(x, 1.0), x)), im);
    lw_cmath_special(L, CSPECIAL_COSH, x, y, &re, &im);
    return (Cx){re, im};
}

/* tanh: with tx = tanh x, ty = tan y, cx = 1/cosh x, d = 1 + (tx ty)^2:
 * (tx (1 + ty^2) / d, (ty / d) cx^2); for |x| > log(LARGE):
 * (±1, 4 sin y cos y e**(-2|x|)). */
static Cx c_tanh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im;
    LLVMValueRef big = lw_fcmp(L, LLVMRealOGT, fabs_(L, x), log_large_k(L, x));
    LLVMValueRef tx = lw_libm1(L, "tanh", x), ty = lw_libm1(L, "tan", y);
    LLVMValueRef cx = lw_fdiv(L, fk(x, 1.0), lw_libm1(L, "cosh", x));
    LLVMValueRef txty = lw_fmul(L, tx, ty);
    LLVMValueRef d = lw_fadd(L, fk(x, 1.0), lw_fmul(L, txty, txty));
    LLVMValueRef re = lw_fdiv(L, lw_fmul(L, tx, lw_fadd(L, fk(x, 1.0), lw_fmul(L, ty, ty))), d);
    LLVMValueRef im = lw_fmul(L, lw_fmul(L, lw_fdiv(L, ty, d), cx), cx);
    LLVMValueRef sc = lw_fmul(L, lw_libm1(L, "sin", y), lw_libm1(L, "cos", y));
    LLVMValueRef im_big = lw_fmul(L, lw_fmul(L, fk(x, 4.0), sc),
                               lw_libm1(L, "exp", lw_fmul(L, fk(x, -2.0), fabs_(L, x))));
    /* tanh(±inf + iy) = ±1 + 0j, the zero with sin(2y)'s sign (+0 when y
     * is not finite), as CPython */
    LLVMValueRef yfin = lw_fcmp(L, LLVMRealOLT, fabs_(L, y), fk(x, __builtin_inf()));
    im_big = sel(L, lw_fcmp(L, LLVMRealOEQ, fabs_(L, x), fk(x, __builtin_inf())),
                 sel(L, yfin, csign(L, fk(x, 0.0), sc), fk(x, 0.0)), im_big);
    re = sel(L, big, csign(L, fk(x, 1.0), x), re);
    im = sel(L, big, im_big, im);
    lw_cmath_special(L, CSPECIAL_TANH, x, y, &re, &im);
    return (Cx){re, im};
}

/* log(hypot(x/2, y/2)) + 2 ln 2: log|z| for |z| near overflow. */
static LLVMValueRef log_big_abs(Lower *L, Cx z)
{
    LLVMValueRef x = z.re;
    return lw_fadd(L, lw_libm1(L, "log", lw_libm2(L, "hypot", lw_fmul(L, x, fk(x, 0.5)), lw_fmul(L, z.im, fk(x, 0.5)))),
                fk(x, 2 * 0.6931471805599453094172321));
}

static LLVMValueRef either_big(Lower *L, Cx z, LLVMValueRef k)
{
    return LLVMBuildOr(L->b, lw_fcmp(L, LLVMRealOGT, fabs_(L, z.re), k),
                       lw_fcmp(L, LLVMRealOGT, fabs_(L, z.im), k), "");
}

/* asinh: s1 = sqrt(1 + y - ix), s2 = sqrt(1 - y + ix);
 * (asinh(s1.re s2.im - s2.re s1.im), atan2(y, s1.re s2.re - s1.im s2.im));
 * beyond LARGE: (±log|z| + ..., atan2(y, |x|)). */
static Cx c_asinh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){lw_fadd(L, one, y), fneg(L, x)});
    Cx s2 = c_sqrt(L, (Cx){lw_fsub(L, one, y), x});
    LLVMValueRef re = lw_libm1(L, "asinh", lw_fsub(L, lw_fmul(L, s1.re, s2.im), lw_fmul(L, s2.re, s1.im)));
    LLVMValueRef im = lw_libm2(L, "atan2", y, lw_fsub(L, lw_fmul(L, s1.re, s2.re), lw_fmul(L, s1.im, s2.im)));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    LLVMValueRef re_big = csign(L, log_big_abs(L, z), x);
    LLVMValueRef im_big = lw_libm2(L, "atan2", y, fabs_(L, x));
    re = sel(L, big, re_big, re);
    im = sel(L, big, im_big, im);
    lw_cmath_special(L, CSPECIAL_ASINH, x, y, &re, &im);
    return (Cx){re, im};
}

/* acos: s1 = sqrt(1 - x - iy), s2 = sqrt(1 + x + iy);
 * (2 atan2(s1.re, s2.re), asinh(s2.re s1.im - s2.im s1.re)). */
static Cx c_acos(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){lw_fsub(L, one, x), fneg(L, y)});
    Cx s2 = c_sqrt(L, (Cx){lw_fadd(L, one, x), y});
    LLVMValueRef re = lw_fmul(L, fk(x, 2.0), lw_libm2(L, "atan2", s1.re, s2.re));
    LLVMValueRef im = lw_libm1(L, "asinh", lw_fsub(L, lw_fmul(L, s2.re, s1.im), lw_fmul(L, s2.im, s1.re)));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    LLVMValueRef lb = log_big_abs(L, z);
    LLVMValueRef re_big = lw_libm2(L, "atan2", fabs_(L, y), x);
    LLVMValueRef im_big = sel(L, lw_fcmp(L, LLVMRealOLT, x, fk(x, 0.0)), fneg(L, csign(L, lb, y)),
                              csign(L, lb, fneg(L, y)));
    re = sel(L, big, re_big, re);
    im = sel(L, big, im_big, im);
    lw_cmath_special(L, CSPECIAL_ACOS, x, y, &re, &im);
    return (Cx){re, im};
}

/* acosh: s1 = sqrt(x - 1 + iy), s2 = sqrt(x + 1 + iy);
 * (asinh(s1.re s2.re + s1.im s2.im), 2 atan2(s1.im, s2.re)). */
static Cx c_acosh(Lower *L, Cx z)
{
    LLVMValueRef x = z.re, y = z.im, one = fk(x, 1.0);
    Cx s1 = c_sqrt(L, (Cx){lw_fsub(L, x, one), y});
    Cx s2 = c_sqrt(L, (Cx){lw_fadd(L, x, one), y});
    LLVMValueRef re = lw_libm1(L, "asinh", lw_fadd(L, lw_fmul(L, s1.re, s2.re), lw_fmul(L, s1.im, s2.im)));
    LLVMValueRef im = lw_fmul(L, fk(x, 2.0), lw_libm2(L, "atan2", s1.im, s2.re));
    LLVMValueRef big = either_big(L, z, large_k(L, x));
    re = sel(L, big, log_big_abs(L, z), re);
    im = sel(L, big, lw_libm2(L, "atan2", y, x), im);
    lw_cmath_special(L, CSPECIAL_ACOSH, x, y, &re, &im);
    return (Cx){re, im};
}

/* atanh, for x >= 0 (atanh(-z) == -atanh(z) gives the rest):
 * (log1p(4x / ((1-x)^2 + y^2)) / 4, -atan2(-2y, (1-x)(1+x) - y^2) / 2);
 * beyond sqrt(LARGE): (x / 4 / |z/2|^2, ±pi/2 with y's sign). */
static Cx c_atanh(Lower *L, Cx z)
{
    LLVMValueRef x0 = z.re, one = fk(x0, 1.0);
    LLVMValueRef sg = sel(L, lw_fcmp(L, LLVMRealOLT, x0, fk(x0, 0.0)), fk(x0, -1.0), one);
    LLVMValueRef x = lw_fmul(L, x0, sg), y = lw_fmul(L, z.im, sg), ay = fabs_(L, y);
    LLVMValueRef omx = lw_fsub(L, one, x);
    LLVMValueRef re = lw_fmul(L, lw_libm1(L, "log1p", lw_fdiv(L, lw_fmul(L, fk(x, 4.0), x),
                                                     lw_fadd(L, lw_fmul(L, omx, omx), lw_fmul(L, ay, ay)))),
                           fk(x, 0.25));
    LLVMValueRef im = lw_fmul(L, lw_libm2(L, "atan2", lw_fmul(L, fk(x, -2.0), y),
                                    lw_fsub(L, lw_fmul(L, omx, lw_fadd(L, one, x)), lw_fmul(L, ay, ay))),
                           fk(x, -0.5));
    LLVMValueRef big = either_big(L, (Cx){x, y}, sqrt_large_k(L, x));
    LLVMValueRef h = lw_libm2(L, "hypot", lw_fmul(L, x, fk(x, 0.5)), lw_fmul(L, y, fk(x, 0.5)));
    LLVMValueRef re_big = lw_fdiv(L, lw_fdiv(L, lw_fmul(L, x, fk(x, 0.25)), h), h);
    re_big = sel(L, lw_fcmp(L, LLVMRealOEQ, h, fk(x, __builtin_inf())), csign(L, fk(x, 0.0), x), re_big);
    LLVMValueRef im_big = fneg(L, csign(L, fk(x, 1.5707963267948966192313217), fneg(L, y)));
    re = sel(L, big, re_big, re);
    im = sel(L, big, im_big, im);
    re = lw_fmul(L, re, sg);
    im = lw_fmul(L, im, sg);
    lw_cmath_special(L, CSPECIAL_ATANH, x0, z.im, &re, &im);
    return (Cx){re, im};
}

/* f(iz) helpers: sin z = -i sinh(iz), cos z = cosh(iz), tan z = -i tanh(iz),
 * asin z = -i asinh(iz), atan z = -i atanh(iz) (iz = -y + ix). */
static Cx times_i(Lower *L, Cx z) { return (Cx){fneg(L, z.im), z.re}; }
static Cx times_minus_i(Lower *L, Cx z) { return (Cx){z.im, fneg(L, z.re)}; }

/* A complex math call: cmath.f(z) or NumPy's ufunc on a complex number. */
static LLVMValueRef complex_math(Lower *L, Node *n, const Type *r)
{
    int fn = n->op;
    if (fn == MATH_COMPLEX) {
        /* CPython's complex(a, b): (a.real - b.imag, a.imag + b.real), where
         * an imaginary part a real number does not have is not subtracted
         * or added at all: complex(x, y) of reals is exactly (x, y), so
         * complex(1.0, inf) is (1+infj) and the signs of zeros stay */
        const Type *pt = lw_part_type(r);
        const Type *ta = ty_concrete(n->args[0]->ty), *tb = ty_concrete(n->args[1]->ty);
        LLVMValueRef a = lw_expr(L, n->args[0]), b = lw_expr(L, n->args[1]);
        LLVMValueRef re, im;
        if (ty_is_complex(ta)) {
            LLVMValueRef c = lw_conv(L, n, a, ta, r);
            re = re_of(L, c);
            im = im_of(L, c);
        } else {
            re = lw_conv(L, n, a, ta, pt);
            im = NULL;
        }
        LLVMValueRef bre, bim = NULL;
        if (ty_is_complex(tb)) {
            LLVMValueRef c = lw_conv(L, n, b, tb, r);
            bre = re_of(L, c);
            bim = im_of(L, c);
        } else {
            bre = lw_conv(L, n, b, tb, pt);
        }
        if (bim)
            re = lw_fsub(L, re, bim);
        if (im)
            bre = lw_fadd(L, bre, im);
        return lw_make_complex(L, r, re, bre);
    }
    if (fn == MATH_RECT) {
        /* rect(r, phi) = r (cos phi, sin phi); phi == 0 gives (r, r * phi) */
        const Type *pt = lw_part_type(r);
        LLVMValueRef m = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, pt);
        LLVMValueRef phi = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, pt);
        LLVMValueRef z0 = lw_fcmp(L, LLVMRealOEQ, phi, fk(phi, 0.0));
        LLVMValueRef re = sel(L, z0, m, lw_fmul(L, m, lw_libm1(L, "cos", phi)));
        LLVMValueRef im = sel(L, z0, lw_fmul(L, m, phi), lw_fmul(L, m, lw_libm1(L, "sin", phi)));
        lw_cmath_special(L, CSPECIAL_RECT, m, phi, &re, &im);
        return lw_make_complex(L, r, re, im);
    }
    LLVMValueRef v = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, r);
    Cx z = {re_of(L, v), im_of(L, v)}, w;
    switch (fn) {
    case MATH_SQRT: w = c_sqrt(L, z); break;
    case MATH_EXP: w = c_exp(L, z); break;
    case MATH_LOG:
        w = c_log(L, z);
        if (n->nargs == 2) { /* log(z, base) = log(z) / log(base), as CPython */
            LLVMValueRef bv = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, r);
            Cx lb = c_log(L, (Cx){re_of(L, bv), im_of(L, bv)});
            return lw_complex_div(L, r, lw_make_complex(L, r, w.re, w.im), lw_make_complex(L, r, lb.re, lb.im));
        }
        break;
    case MATH_LOG10: {
        w = c_log(L, z);
        LLVMValueRef ln10 = fk(w.re, 2.302585092994045684017991);
        w = (Cx){lw_fdiv(L, w.re, ln10), lw_fdiv(L, w.im, ln10)};
        break;
    }
    case MATH_SINH: w = c_sinh(L, z); break;
    case MATH_COSH: w = c_cosh(L, z); break;
    case MATH_TANH: w = c_tanh(L, z); break;
    case MATH_SIN: w = times_minus_i(L, c_sinh(L, times_i(L, z))); break;
    case MATH_COS: w = c_cosh(L, times_i(L, z)); break;
    case MATH_TAN: w = times_minus_i(L, c_tanh(L, times_i(L, z))); break;
    case MATH_ASINH: w = c_asinh(L, z); break;
    case MATH_ACOSH: w = c_acosh(L, z); break;
    case MATH_ATANH: w = c_atanh(L, z); break;
    case MATH_ASIN: w = times_minus_i(L, c_asinh(L, times_i(L, z))); break;
    case MATH_ACOS: w = c_acos(L, z); break;
    case MATH_ATAN: w = times_minus_i(L, c_atanh(L, times_i(L, z))); break;
    case MATH_SQUARE: /* np.square */
        w = (Cx){lw_fsub(L, lw_fmul(L, z.re, z.re), lw_fmul(L, z.im, z.im)),
                 lw_fmul(L, fk(z.re, 2.0), lw_fmul(L, z.re, z.im))};
        break;
    case MATH_RECIPROCAL: { /* np.reciprocal: 1 / z */
        const Type *pt = lw_part_type(r);
        LLVMValueRef one = lw_make_complex(L, r, LLVMConstReal(lw_lty(L, pt), 1.0),
                                        LLVMConstReal(lw_lty(L, pt), 0.0));
        return lw_complex_div(L, r, one, v);
    }
    default: {
        char name[64];
        lw_fail(L, n, "%s() of a complex number is not supported", ir_math_label(n, name, sizeof name));
    }
    }
    return lw_make_complex(L, r, w.re, w.im);
}

/* round(x, ndigits) for floats, numba's way: scale by 10**ndigits, round
 * half to even, scale back (not correctly rounded in decimal like CPython;
 * when the scaled value overflows, x is returned unchanged). In x's type:
 * NumPy's np.round of a float32 computes in float32; Python's round goes
 * through float64 (its caller converts). */
static LLVMValueRef round_digits(Lower *L, LLVMValueRef x, LLVMValueRef nd)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef ten = LLVMConstReal(t, 10.0);
    LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, nd, i64c(L, 0), "");
    LLVMValueRef absn = LLVMBuildSelect(B, neg, LLVMBuildNeg(B, nd, ""), nd, "");
    LLVMValueRef p = lw_libm2(L, "pow", ten, LLVMBuildSIToFP(B, absn, t, ""));
    LLVMValueRef scaled = LLVMBuildFMul(B, x, p, "");
    LLVMValueRef r_pos = LLVMBuildFDiv(B, lw_intr1(L, "llvm.rint", scaled), p, "");
    LLVMValueRef r_neg = LLVMBuildFMul(B, lw_intr1(L, "llvm.rint", LLVMBuildFDiv(B, x, p, "")), p, "");
    LLVMValueRef fin = LLVMBuildFCmp(B, LLVMRealOLT, lw_intr1(L, "llvm.fabs", scaled),
                                     LLVMConstReal(t, __builtin_inf()), "");
    r_pos = LLVMBuildSelect(B, fin, r_pos, x, "");
    return LLVMBuildSelect(B, neg, r_neg, r_pos, "");
}

/* frexp(x) -> (m, e) with x == m * 2**e, 0.5 <= |m| < 1 (e = 0 for 0, inf,
 * nan, as Python); modf(x) -> (fractional, integral), both with x's sign,
 * modf(±inf) = (±0, ±inf); ldexp(x, i) = x * 2**i (an exponent beyond
 * ±2**20 saturates: the result is then 0 or inf, where Python raises
 * OverflowError for the large side). */
static LLVMValueRef frexp_modf_ldexp(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *r = ty_concrete(n->ty);
    const Type *ft = n->op == MATH_LDEXP ? r : r->fields[0];
    if (!ty_is_float(ft))
        lw_fail(L, n, "%s() result must be a float", ir_math_name(n->op));
    LLVMValueRef x = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, ft);
    LLVMTypeRef xt = LLVMTypeOf(x);
    /* float16: frexp and ldexp of the (exact) float32 value, rounded back */
    bool half = xt == L->t_f16 && n->op != MATH_MODF;
    if (half) {
        x = LLVMBuildFPExt(B, x, L->t_f32, "");
        xt = L->t_f32;
    }
    bool f32 = xt == L->t_f32;
    if (n->op == MATH_LDEXP) {
        LLVMValueRef e = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, ty_scalar(TY_I64));
        LLVMValueRef lim = i64c(L, 1 << 20);
        e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, e, lim, ""), lim, e, "");
        LLVMValueRef nlim = i64c(L, -(1 << 20));
        e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, e, nlim, ""), nlim, e, "");
        e = LLVMBuildTrunc(B, e, L->t_i32, "");
        LLVMTypeRef params[2] = {xt, L->t_i32};
        char nmbuf[48];
        const char *nm = lw_math_symbol(L, "ldexp", f32, nmbuf, sizeof nmbuf);
        LLVMValueRef args[2] = {x, e};
        LLVMValueRef r2 = lw_call_named(L, nm, xt, params, args, 2);
        return half ? LLVMBuildFPTrunc(B, r2, L->t_f16, "") : r2;
    }
    LLVMValueRef inf = fk(x, __builtin_inf());
    LLVMValueRef t = LLVMGetUndef(lw_lty(L, r));
    if (n->op == MATH_MODF) {
        LLVMValueRef ip = lw_intr1(L, "llvm.trunc", x);
        LLVMValueRef fr = lw_fsub(L, x, ip);
        fr = sel(L, lw_fcmp(L, LLVMRealOEQ, fabs_(L, x), inf), fk(x, 0.0), fr);
        fr = csign(L, fr, x);
        t = LLVMBuildInsertValue(B, t, fr, 0, "");
        return LLVMBuildInsertValue(B, t, ip, 1, "");
    }
    LLVMTypeRef pi32 = LLVMPointerType(L->t_i32, 0);
    LLVMValueRef slot = lw_entry_alloca(L, L->t_i32, "frexp.e");
    LLVMBuildStore(B, LLVMConstInt(L->t_i32, 0, 0), slot);
    LLVMTypeRef params[2] = {xt, pi32};
    char nmbuf[48];
    const char *nm = lw_math_symbol(L, "frexp", f32, nmbuf, sizeof nmbuf);
    LLVMValueRef args[2] = {x, slot};
    LLVMValueRef m = lw_call_named(L, nm, xt, params, args, 2);
    LLVMValueRef e = LLVMBuildLoad2(B, L->t_i32, slot, "");
    LLVMValueRef fin = lw_fcmp(L, LLVMRealOLT, fabs_(L, x), inf);
    e = LLVMBuildSelect(B, fin, e, LLVMConstInt(L->t_i32, 0, 0), "");
    if (half)
        m = LLVMBuildFPTrunc(B, m, L->t_f16, "");
    t = LLVMBuildInsertValue(B, t, m, 0, "");
    return LLVMBuildInsertValue(B, t, e, 1, "");
}

/* NumPy's sign, square, reciprocal, fmin, fmax on real numbers.
 * sign: -1, 0 or 1 (nan stays nan, -0.0 gives 0.0); reciprocal of an
 * integer is 1 / x truncated (1, -1 or 0; 0 for x == 0 as integer
 * division here, where NumPy gives the most negative integer); fmin/fmax
 * ignore a nan operand: fmin(x, y) = x < y or isnan(y) ? x : y, as NumPy's
 * loops (so fmin(0.0, -0.0) is -0.0). */
static LLVMValueRef numpy_elementary(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *r = ty_concrete(n->ty);
    int fn = n->op;
    if (!ty_is_float(r) && !ty_is_int(r) && r->kind != TY_BOOL)
        lw_fail(L, n, "%s() of these types", ir_math_name(fn));
    LLVMValueRef x = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, r);
    LLVMTypeRef t = LLVMTypeOf(x);
    bool fl = ty_is_float(r), sg = ty_is_signed(r);
    switch (fn) {
    case MATH_SIGN:
        if (fl) {
            LLVMValueRef v = sel(L, lw_fcmp(L, LLVMRealOLT, x, fk(x, 0.0)), fk(x, -1.0),
                                 sel(L, lw_fcmp(L, LLVMRealOEQ, x, fk(x, 0.0)), fk(x, 0.0), x));
            return sel(L, lw_fcmp(L, LLVMRealOGT, x, fk(x, 0.0)), fk(x, 1.0), v);
        } else {
            LLVMValueRef z = LLVMConstNull(t);
            LLVMValueRef gt = LLVMBuildICmp(B, sg ? LLVMIntSGT : LLVMIntUGT, x, z, "");
            LLVMValueRef lt = LLVMBuildICmp(B, LLVMIntSLT, x, z, "");
            LLVMValueRef v = sg ? LLVMBuildSelect(B, lt, ci(t, -1), z, "") : z;
            return LLVMBuildSelect(B, gt, ci(t, 1), v, "");
        }
    case MATH_SQUARE:
        return fl ? lw_fmul(L, x, x) : LLVMBuildMul(B, x, x, "");
    case MATH_RECIPROCAL: {
        if (fl)
            return lw_fdiv(L, fk(x, 1.0), x);
        LLVMValueRef one = ci(t, 1);
        LLVMValueRef v = LLVMConstNull(t);
        if (sg)
            v = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, x, ci(t, -1), ""), ci(t, -1), v, "");
        return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, x, one, ""), one, v, "");
    }
    case MATH_FMIN: case MATH_FMAX: {
        bool mn = fn == MATH_FMIN;
        LLVMValueRef y = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, r);
        LLVMValueRef take_x;
        if (fl)
            take_x = LLVMBuildOr(B, lw_fcmp(L, mn ? LLVMRealOLT : LLVMRealOGT, x, y),
                                 lw_fcmp(L, LLVMRealUNO, y, y), "");
        else
            take_x = LLVMBuildICmp(B, mn ? (sg ? LLVMIntSLT : LLVMIntULT)
                                         : (sg ? LLVMIntSGT : LLVMIntUGT), x, y, "");
        return LLVMBuildSelect(B, take_x, x, y, "");
    }
    default:
        lw_fail(L, n, "the CPU target does not support %s()", ir_math_name(fn));
    }
}

LLVMValueRef lw_math_call(Lower *L, Node *n)
{
    const Type *r = ty_concrete(n->ty);
    const Type *a0 = ty_concrete(n->args[0]->ty);
    LLVMBuilderRef B = L->b;
    int fn = n->op;
    if (ty_is_complex(r) && fn != MATH_ABS)
        return complex_math(L, n, r);
    if (libm_unary[fn] || fn == MATH_SQRT || fn == MATH_FABS || fn == MATH_RADIANS ||
        fn == MATH_DEGREES) {
        if (!ty_is_float(r))
            lw_fail(L, n, "%s() result must be a float", ir_math_name(fn));
        LLVMValueRef x = lw_conv(L, n, lw_expr(L, n->args[0]), a0, r);
        if (fn == MATH_SQRT)
            return lw_intr1(L, "llvm.sqrt", x);
        if (fn == MATH_FABS)
            return lw_intr1(L, "llvm.fabs", x);
        /* CPython: radians(x) = x * (pi / 180), degrees(x) = x * (180 / pi) */
        if (fn == MATH_RADIANS)
            return lw_fmul(L, x, fk(x, 3.14159265358979323846 / 180.0));
        if (fn == MATH_DEGREES)
            return lw_fmul(L, x, fk(x, 180.0 / 3.14159265358979323846));
        if (fn == MATH_LOG && n->nargs == 2) /* math.log(x, base) = log(x) / log(base) */
            return lw_fdiv(L, lw_libm1(L, "log", x),
                        lw_libm1(L, "log", lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, r)));
        return lw_libm1(L, libm_unary[fn], x);
    }
    switch (fn) {
    case MATH_ATAN2: case MATH_POW: case MATH_HYPOT: case MATH_FMOD: case MATH_COPYSIGN:
    case MATH_REMAINDER: {
        if (!ty_is_float(r))
            lw_fail(L, n, "%s() result must be a float", ir_math_name(fn));
        LLVMValueRef x = lw_conv(L, n, lw_expr(L, n->args[0]), a0, r);
        LLVMValueRef y = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, r);
        if (fn == MATH_FMOD)
            return LLVMBuildFRem(B, x, y, "");
        if (fn == MATH_COPYSIGN)
            return lw_intr2(L, "llvm.copysign", x, y);
        if (fn == MATH_POW)
            return lw_pow(L, n->args[1], x, y);
        /* remainder: IEEE 754 (x - n*y, n the nearest integer to x/y, ties
         * to even), C's remainder() */
        return lw_libm2(L, fn == MATH_ATAN2 ? "atan2" : fn == MATH_POW ? "pow"
                        : fn == MATH_HYPOT ? "hypot" : "remainder", x, y);
    }
    case MATH_FREXP: case MATH_MODF: case MATH_LDEXP:
        return frexp_modf_ldexp(L, n);
    case MATH_SIGN: case MATH_SQUARE: case MATH_RECIPROCAL: case MATH_FMIN: case MATH_FMAX:
        return numpy_elementary(L, n);
    case MATH_PHASE: case MATH_POLAR: {
        /* phase(z) = atan2(im, re); polar(z) = (abs(z), phase(z)) */
        const Type *c = ty_is_complex(a0) ? a0 : ty_scalar(r->kind == TY_F32 ||
            (r->kind == TY_TUPLE && r->fields[0]->kind == TY_F32) ? TY_C64 : TY_C128);
        LLVMValueRef z = lw_conv(L, n, lw_expr(L, n->args[0]), a0, c);
        LLVMValueRef ph = lw_libm2(L, "atan2", im_of(L, z), re_of(L, z));
        if (fn == MATH_PHASE)
            return ph;
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, r));
        t = LLVMBuildInsertValue(B, t, lw_libm2(L, "hypot", re_of(L, z), im_of(L, z)), 0, "");
        return LLVMBuildInsertValue(B, t, ph, 1, "");
    }
    case MATH_FLOOR: case MATH_CEIL: case MATH_TRUNC: case MATH_ROUND: case MATH_RINT: {
        /* math.floor/ceil/trunc and round(x) of a float give an int64
         * (Python int); round is half to even (llvm.rint in the default
         * rounding mode). Integers pass through. */
        LLVMValueRef x = lw_expr(L, n->args[0]);
        if (fn == MATH_ROUND && n->nargs == 2) {
            LLVMValueRef nd = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, ty_scalar(TY_I64));
            if (ty_is_float(a0) && (n->index == MATHF_NUMPY || a0->kind == TY_F64))
                return lw_conv(L, n, round_digits(L, x, nd), a0, r);
            if (ty_is_float(a0)) { /* Python's round of a float32: numba's, in float64
                                    * (its 10.0 ** ndigits is a float64), rounded back:
                                    * round(float32(0.3425), 3) is 0.343, not 0.342 */
                LLVMValueRef xd = lw_conv(L, n, x, a0, ty_scalar(TY_F64));
                return lw_conv(L, n, round_digits(L, xd, nd), ty_scalar(TY_F64), r);
            }
            /* round(int, n): unchanged for n >= 0, else to a multiple of 10**-n */
            LLVMValueRef xf = lw_conv(L, n, x, a0, ty_scalar(TY_F64));
            LLVMValueRef rf = lw_conv(L, n, round_digits(L, xf, nd), ty_scalar(TY_F64), r);
            return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, nd, i64c(L, 0), ""), rf,
                                   lw_conv(L, n, x, a0, r), "");
        }
        if (!ty_is_float(a0))
            return lw_conv(L, n, x, a0, r);
        /* np.floor & co. keep the float type: r is then a0's type */
        const char *intr = fn == MATH_FLOOR ? "llvm.floor" : fn == MATH_CEIL ? "llvm.ceil"
                         : fn == MATH_TRUNC ? "llvm.trunc" : "llvm.rint";
        return lw_conv(L, n, lw_intr1(L, intr, x), a0, r);
    }
    case MATH_ISNAN: case MATH_ISINF: case MATH_ISFINITE: {
        LLVMValueRef x = lw_expr(L, n->args[0]);
        if (ty_is_int(a0) || a0->kind == TY_BOOL)
            return LLVMConstInt(L->t_i1, fn == MATH_ISFINITE, 0);
        LLVMValueRef parts[2] = {x, NULL};
        int np = 1;
        if (ty_is_complex(a0)) {
            parts[0] = re_of(L, x);
            parts[1] = im_of(L, x);
            np = 2;
        }
        LLVMValueRef res = NULL;
        for (int i = 0; i < np; i++) {
            LLVMValueRef p = parts[i], v;
            LLVMValueRef inf = LLVMConstReal(LLVMTypeOf(p), __builtin_inf());
            if (fn == MATH_ISNAN)
                v = LLVMBuildFCmp(B, LLVMRealUNO, p, p, "");
            else if (fn == MATH_ISINF)
                v = LLVMBuildFCmp(B, LLVMRealOEQ, lw_intr1(L, "llvm.fabs", p), inf, "");
            else
                v = LLVMBuildFCmp(B, LLVMRealOLT, lw_intr1(L, "llvm.fabs", p), inf, "");
            res = !res ? v : fn == MATH_ISFINITE ? LLVMBuildAnd(B, res, v, "") : LLVMBuildOr(B, res, v, "");
        }
        return res;
    }
    case MATH_ABS: {
        LLVMValueRef x = lw_expr(L, n->args[0]);
        if (ty_is_complex(a0))
            return lw_libm2(L, "hypot", re_of(L, x), im_of(L, x));
        x = lw_conv(L, n, x, a0, r);
        if (ty_is_float(r))
            return lw_intr1(L, "llvm.fabs", x);
        if (!ty_is_signed(r))
            return x;
        return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, LLVMConstNull(LLVMTypeOf(x)), ""),
                               LLVMBuildNeg(B, x, ""), x, "");
    }
    case MATH_MIN: case MATH_MAX: {
        /* Python: min returns the first of the smallest (a later value
         * replaces the current one only when strictly smaller), so
         * min(nan, 1.0) is nan and min(1.0, nan) is 1.0. NumPy's
         * minimum/maximum propagate nan from either side. */
        if (!ty_is_float(r) && !ty_is_int(r) && r->kind != TY_BOOL)
            lw_fail(L, n, "%s() of complex numbers", ir_math_name(fn));
        LLVMValueRef acc = lw_conv(L, n, lw_expr(L, n->args[0]), a0, r);
        for (int i = 1; i < n->nargs; i++) {
            LLVMValueRef x = lw_conv(L, n, lw_expr(L, n->args[i]), n->args[i]->ty, r);
            LLVMValueRef better;
            if (ty_is_float(r) && n->index == MATHF_NUMPY) /* np.minimum: a nan wins */
                better = LLVMBuildOr(B, LLVMBuildFCmp(B, fn == MATH_MIN ? LLVMRealOLT : LLVMRealOGT,
                                                      x, acc, ""),
                                     LLVMBuildFCmp(B, LLVMRealUNO, x, x, ""), "");
            else if (ty_is_float(r))
                better = LLVMBuildFCmp(B, fn == MATH_MIN ? LLVMRealOLT : LLVMRealOGT, x, acc, "");
            else if (ty_is_signed(r))
                better = LLVMBuildICmp(B, fn == MATH_MIN ? LLVMIntSLT : LLVMIntSGT, x, acc, "");
            else
                better = LLVMBuildICmp(B, fn == MATH_MIN ? LLVMIntULT : LLVMIntUGT, x, acc, "");
            acc = LLVMBuildSelect(B, better, x, acc, "");
        }
        return acc;
    }
    default:
        lw_fail(L, n, "the CPU target does not support %s()", ir_math_name(fn));
    }
}
