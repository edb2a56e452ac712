/*
 * lower_bf16.c — bfloat16 (cuda.bf16) conversions, with integer operations
 * only, so that no target depends on LLVM's `bfloat` type or on NVVM
 * support for it.
 *
 * A bfloat16 value is held as its 16 bits (i16) everywhere: the top half
 * of the float32 of the same value. Inference (core/infer.c) rewrites its
 * arithmetic into float32 rounded back once, which is correctly rounded
 * for + - * / (float32's 24 bits are more than 2 * 8 + 2); what is left
 * here is the conversions and the fused multiply-add:
 *
 *   bfloat16 -> float32   the bits shifted left by 16 (exact);
 *   float32 -> bfloat16   round to nearest, ties to even, as CUDA's
 *                         __float2bfloat16: add 0x7fff plus the lowest kept
 *                         bit, keep the top 16; NaN stays a (quiet) NaN,
 *                         values past the largest finite round to inf;
 *   float64 -> bfloat16   float64 rounded to odd in float32, then to nearest
 *                         even: rounding to odd first at a precision of
 *                         more than 8 + 1 bits makes the second rounding the
 *                         correctly rounded one (no double-rounding error);
 *   integers -> bfloat16  the same: 8- and 16-bit integers are exact in
 *                         float32; wider ones are cut to 24 significant bits
 *                         with a sticky lowest bit (rounding to odd), scaled
 *                         back exactly, then rounded to nearest even.
 */
#include "core/lower_impl.h"

/* bfloat16 bits (i16) -> float32 (exact). */
LLVMValueRef lw_bf16_to_f32(Lower *L, LLVMValueRef bits)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef w = LLVMBuildZExt(B, bits, L->t_i32, "");
    w = LLVMBuildShl(B, w, LLVMConstInt(L->t_i32, 16, 0), "");
    return LLVMBuildBitCast(B, w, L->t_f32, "");
}

/* float32 -> bfloat16 bits, round to nearest even; a NaN keeps its sign and
 * top payload bits with the quiet bit set. */
LLVMValueRef lw_f32_to_bf16(Lower *L, LLVMValueRef f)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef i32 = L->t_i32;
    LLVMValueRef u = LLVMBuildBitCast(B, f, i32, "");
    LLVMValueRef mag = LLVMBuildAnd(B, u, LLVMConstInt(i32, 0x7fffffff, 0), "");
    LLVMValueRef nan = LLVMBuildICmp(B, LLVMIntUGT, mag, LLVMConstInt(i32, 0x7f800000, 0), "");
    LLVMValueRef lsb = LLVMBuildAnd(B, LLVMBuildLShr(B, u, LLVMConstInt(i32, 16, 0), ""),
                                    LLVMConstInt(i32, 1, 0), "");
    LLVMValueRef r = LLVMBuildAdd(B, u, LLVMBuildAdd(B, lsb, LLVMConstInt(i32, 0x7fff, 0), ""), "");
    LLVMValueRef q = LLVMBuildOr(B, u, LLVMConstInt(i32, 0x00400000, 0), ""); /* quiet NaN */
    r = LLVMBuildSelect(B, nan, q, r, "");
    r = LLVMBuildLShr(B, r, LLVMConstInt(i32, 16, 0), "");
    return LLVMBuildTrunc(B, r, L->t_i16, "");
}

/* float64 -> float32 rounded to odd: the nearest float32 when exact, else
 * of the two float32 around d the one whose last bit is 1. NaN and inf
 * pass through (a finite d too large becomes the largest float32, which
 * still rounds to inf in bfloat16). */
static LLVMValueRef f64_to_f32_odd(Lower *L, LLVMValueRef d)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef i32 = L->t_i32, i64 = L->t_i64;
    LLVMValueRef f = LLVMBuildFPTrunc(B, d, L->t_f32, "");
    LLVMValueRef back = LLVMBuildFPExt(B, f, L->t_f64, "");
    LLVMValueRef inexact = LLVMBuildFCmp(B, LLVMRealONE, back, d, ""); /* false for NaN */
    LLVMValueRef fb = LLVMBuildBitCast(B, f, i32, "");
    LLVMValueRef even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, fb, LLVMConstInt(i32, 1, 0), ""),
                                      LLVMConstNull(i32), "");
    /* |back| < |d|: step the magnitude up toward d, else down */
    LLVMValueRef absmask = LLVMConstInt(i64, 0x7fffffffffffffffULL, 0);
    LLVMValueRef mb = LLVMBuildAnd(B, LLVMBuildBitCast(B, back, i64, ""), absmask, "");
    LLVMValueRef md = LLVMBuildAnd(B, LLVMBuildBitCast(B, d, i64, ""), absmask, "");
    LLVMValueRef up = LLVMBuildICmp(B, LLVMIntULT, mb, md, "");
    LLVMValueRef step = LLVMBuildSelect(B, up, LLVMConstInt(i32, 1, 0),
                                        LLVMConstInt(i32, (unsigned long long)-1, 1), "");
    LLVMValueRef odd = LLVMBuildAdd(B, fb, step, "");
    LLVMValueRef fix = LLVMBuildAnd(B, inexact, even, "");
    return LLVMBuildBitCast(B, LLVMBuildSelect(B, fix, odd, fb, ""), L->t_f32, "");
}

/* float64 -> bfloat16 bits, correctly rounded (nearest even). */
static LLVMValueRef f64_to_bf16(Lower *L, LLVMValueRef d)
{
    return lw_f32_to_bf16(L, f64_to_f32_odd(L, d));
}

/* An integer of `from` (wider than 16 bits) -> bfloat16 bits, correctly
 * rounded: |v| cut to 24 significant bits, the bits dropped or-ed into the
 * last kept one (rounding to odd), as float32 scaled by 2^shift (exact),
 * then rounded to nearest even. */
static LLVMValueRef wide_int_to_bf16(Lower *L, LLVMValueRef v, const Type *from)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef i64 = L->t_i64, i32 = L->t_i32;
    bool sgn = ty_is_signed(from);
    if (ty_bits(from) < 64)
        v = sgn ? LLVMBuildSExt(B, v, i64, "") : LLVMBuildZExt(B, v, i64, "");
    LLVMValueRef neg = sgn ? LLVMBuildICmp(B, LLVMIntSLT, v, LLVMConstNull(i64), "")
                           : LLVMConstInt(L->t_i1, 0, 0);
    LLVMValueRef mag = LLVMBuildSelect(B, neg, LLVMBuildNeg(B, v, ""), v, ""); /* 2^63 as u64 */
    LLVMValueRef za[2] = {mag, LLVMConstInt(L->t_i1, 0, 0)};
    LLVMValueRef lz = lw_call_intrinsic(L, "llvm.ctlz", i64, za, 2);
    /* shift = max(0, 40 - lz): the significant bits past 24 */
    LLVMValueRef sh = LLVMBuildSub(B, LLVMConstInt(i64, 40, 0), lz, "");
    sh = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, sh, LLVMConstNull(i64), ""), sh,
                         LLVMConstNull(i64), "");
    LLVMValueRef kept = LLVMBuildLShr(B, mag, sh, "");
    LLVMValueRef lowmask = LLVMBuildSub(B, LLVMBuildShl(B, LLVMConstInt(i64, 1, 0), sh, ""),
                                        LLVMConstInt(i64, 1, 0), "");
    LLVMValueRef sticky = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, mag, lowmask, ""),
                                        LLVMConstNull(i64), "");
    kept = LLVMBuildOr(B, kept, LLVMBuildZExt(B, sticky, i64, ""), "");
    LLVMValueRef f = LLVMBuildUIToFP(B, kept, L->t_f32, "");
    /* 2^shift as float32 bits: (127 + shift) << 23 (shift <= 40) */
    LLVMValueRef e = LLVMBuildTrunc(B, LLVMBuildAdd(B, sh, LLVMConstInt(i64, 127, 0), ""), i32, "");
    LLVMValueRef scale = LLVMBuildBitCast(B, LLVMBuildShl(B, e, LLVMConstInt(i32, 23, 0), ""),
                                          L->t_f32, "");
    f = LLVMBuildFMul(B, f, scale, "");
    f = LLVMBuildSelect(B, neg, lw_build_fneg(L, f), f, ""); /* no fneg: NVVM reads LLVM 7 IR */
    return lw_f32_to_bf16(L, f);
}

/* Conversions to and from bfloat16 (lw_conv's part for them): `from` and
 * `to` are concrete, differ, and one of them is bfloat16. */
LLVMValueRef lw_bf16_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from,
                          const Type *to)
{
    LLVMBuilderRef B = L->b;
    if (ty_is_bf16(from))
        return lw_conv(L, at, lw_bf16_to_f32(L, v), ty_scalar(TY_F32), to);
    if (ty_is_complex(from)) /* its real part (inference allows this only for casts) */
        return lw_conv(L, at, LLVMBuildExtractValue(B, v, 0, ""), lw_part_type(from), to);
    switch (from->kind) {
    case TY_BOOL: return lw_f32_to_bf16(L, LLVMBuildUIToFP(B, v, L->t_f32, ""));
    case TY_F16: return lw_f32_to_bf16(L, LLVMBuildFPExt(B, v, L->t_f32, ""));
    case TY_F32: return lw_f32_to_bf16(L, v);
    case TY_F64: return f64_to_bf16(L, v);
    default: break;
    }
    if (ty_bits(from) <= 16) /* exact in float32 */
        return lw_f32_to_bf16(L, ty_is_signed(from) ? LLVMBuildSIToFP(B, v, L->t_f32, "")
                                                    : LLVMBuildUIToFP(B, v, L->t_f32, ""));
    return wide_int_to_bf16(L, v, from);
}

/* cuda.bf16.hfma(a, b, c): a * b + c rounded once to bfloat16. a * b is
 * exact in float64 (8 + 8 significant bits, float32's exponent range);
 * the sum s is rounded, and its error e found exactly (Knuth's TwoSum);
 * s is then made odd when e != 0 (rounding to odd), which the conversion
 * to bfloat16 (again to odd, then to nearest) keeps correct. */
LLVMValueRef lw_bf16_fma(Lower *L, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef f64 = L->t_f64, i64 = L->t_i64;
    LLVMValueRef x = LLVMBuildFPExt(B, lw_bf16_to_f32(L, a), f64, "");
    LLVMValueRef y = LLVMBuildFPExt(B, lw_bf16_to_f32(L, b), f64, "");
    LLVMValueRef z = LLVMBuildFPExt(B, lw_bf16_to_f32(L, c), f64, "");
    LLVMValueRef p = LLVMBuildFMul(B, x, y, "");
    LLVMValueRef s = LLVMBuildFAdd(B, p, z, "");
    LLVMValueRef bp = LLVMBuildFSub(B, s, z, "");
    LLVMValueRef bz = LLVMBuildFSub(B, s, bp, "");
    LLVMValueRef e = LLVMBuildFAdd(B, LLVMBuildFSub(B, p, bp, ""), LLVMBuildFSub(B, z, bz, ""), "");
    /* e is NaN when s is inf or NaN: then no step (ONE is false for NaN) */
    LLVMValueRef inexact = LLVMBuildFCmp(B, LLVMRealONE, e, LLVMConstReal(f64, 0.0), "");
    LLVMValueRef sb = LLVMBuildBitCast(B, s, i64, "");
    LLVMValueRef even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, sb, LLVMConstInt(i64, 1, 0), ""),
                                      LLVMConstNull(i64), "");
    /* the magnitude steps up when e has s's sign (s == 0 only with e == 0) */
    LLVMValueRef same = LLVMBuildICmp(B, LLVMIntEQ,
                                      LLVMBuildICmp(B, LLVMIntSLT, sb, LLVMConstNull(i64), ""),
                                      LLVMBuildFCmp(B, LLVMRealOLT, e, LLVMConstReal(f64, 0.0), ""), "");
    LLVMValueRef step = LLVMBuildSelect(B, same, LLVMConstInt(i64, 1, 0),
                                        LLVMConstInt(i64, (unsigned long long)-1, 1), "");
    LLVMValueRef fix = LLVMBuildAnd(B, inexact, even, "");
    s = LLVMBuildBitCast(B, LLVMBuildSelect(B, fix, LLVMBuildAdd(B, sb, step, ""), sb, ""), f64, "");
    return f64_to_bf16(L, s);
}
