/*
 * lower_time.c — datetime64 / timedelta64 arithmetic, comparisons and unit
 * conversions (the typing rules are in types_time.c).
 *
 * Values are int64 counts of their unit. Both operands are first brought
 * to the common (finer) unit; an integer operand already counts it. NumPy's
 * NaT (INT64_MIN) rules:
 *   - arithmetic with a NaT operand gives NaT (td / td gives nan, td // td 0);
 *   - == is false and != true when either side is NaT; <, <=, >, >= false;
 *   - td // 0 and td / 0 (an integer) give NaT, td % 0 NaT, td // td(0) 0;
 *   - a unit conversion keeps NaT; to a coarser unit it floors (as astype).
 */
#include "core/lower_impl.h"

static LLVMValueRef is_nat(Lower *L, LLVMValueRef v)
{
    return LLVMBuildICmp(L->b, LLVMIntEQ, v, i64c(L, EM_NAT), "");
}

/* v (a count of `from` units, or NaT) in `to` units. */
static LLVMValueRef rescale(Lower *L, LLVMValueRef v, int from, int to)
{
    LLVMBuilderRef B = L->b;
    if (from == to || from == TU_GENERIC || to == TU_GENERIC)
        return v;
    int64_t up = ty_time_factor(from, to), down = ty_time_factor(to, from);
    LLVMValueRef r;
    if (up)
        r = LLVMBuildMul(B, v, i64c(L, up), "");
    else /* floor division by a positive constant */
        r = lw_int_divmod(L, false, v, i64c(L, down), true);
    return LLVMBuildSelect(B, is_nat(L, v), i64c(L, EM_NAT), r, "");
}

/* A time or integer value converted to time type `to` (stores, variables):
 * an integer counts `to`'s units. */
LLVMValueRef lw_time_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from,
                          const Type *to)
{
    if (ty_is_int(from))
        return lw_conv(L, at, v, from, ty_scalar(TY_I64));
    return rescale(L, v, from->unit, to->unit);
}

/* One operand in the common unit; *nat is or-ed with its NaT test. */
static LLVMValueRef operand(Lower *L, Node *e, int unit, LLVMValueRef *nat)
{
    LLVMValueRef v = lw_expr(L, e);
    if (!ty_is_time(e->ty))
        return lw_conv(L, e, v, e->ty, ty_scalar(TY_I64));
    v = rescale(L, v, e->ty->unit, unit);
    *nat = LLVMBuildOr(L->b, *nat, is_nat(L, v), "");
    return v;
}

/* An ND_BINARY or ND_COMPARE with a time operand. */
LLVMValueRef lw_time_binary(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    int unit;
    const char *why;
    const Type *rt = ty_time_binary(n->op, n->a->ty, n->b->ty, &unit, &why);
    EM_ASSERT(rt); /* lower_check.c */
    LLVMValueRef nat = LLVMConstInt(L->t_i1, 0, 0);
    LLVMValueRef a = operand(L, n->a, unit, &nat), b = operand(L, n->b, unit, &nat);
    LLVMValueRef NaT = i64c(L, EM_NAT), zero = i64c(L, 0);
    if (n->kind == ND_COMPARE) {
        static const LLVMIntPredicate p[] = {[OP_EQ] = LLVMIntEQ, [OP_NE] = LLVMIntNE,
                                             [OP_LT] = LLVMIntSLT, [OP_LE] = LLVMIntSLE,
                                             [OP_GT] = LLVMIntSGT, [OP_GE] = LLVMIntSGE};
        LLVMValueRef c = LLVMBuildICmp(B, p[n->op], a, b, "");
        if (n->op == OP_NE)
            return LLVMBuildOr(B, nat, c, "");
        return LLVMBuildAnd(B, LLVMBuildNot(B, nat, ""), c, "");
    }
    bool both = ty_is_time(n->a->ty) && ty_is_time(n->b->ty);
    LLVMValueRef r;
    switch (n->op) {
    case OP_ADD: r = LLVMBuildAdd(B, a, b, ""); break;
    case OP_SUB: r = LLVMBuildSub(B, a, b, ""); break;
    case OP_MUL: r = LLVMBuildMul(B, a, b, ""); break;
    case OP_TRUEDIV:
        if (both) { /* td / td: float64, nan with NaT */
            LLVMValueRef q = LLVMBuildFDiv(B, LLVMBuildSIToFP(B, a, L->t_f64, ""),
                                           LLVMBuildSIToFP(B, b, L->t_f64, ""), "");
            return LLVMBuildSelect(B, nat, LLVMConstReal(L->t_f64, __builtin_nan("")), q, "");
        }
        /* td / int truncates, as td // int */
        __attribute__((fallthrough));
    case OP_FLOORDIV:
        if (both) { /* td // td: int64 floor, 0 with NaT or a zero divisor */
            r = lw_int_divmod(L, false, a, b, true);
            return LLVMBuildSelect(B, nat, zero, r, "");
        } else { /* td // int: truncating; NaT when dividing by 0 */
            LLVMValueRef bz = LLVMBuildICmp(B, LLVMIntEQ, b, zero, "");
            nat = LLVMBuildOr(B, nat, bz, "");
            LLVMValueRef bs = LLVMBuildSelect(B, bz, i64c(L, 1), b, "");
            /* a is not INT64_MIN here unless NaT, so a / -1 does not overflow */
            LLVMValueRef as = LLVMBuildSelect(B, nat, zero, a, "");
            r = LLVMBuildSDiv(B, as, bs, "");
        }
        break;
    case OP_MOD: /* td % td: floor modulo; NaT with NaT or a zero divisor */
        nat = LLVMBuildOr(B, nat, LLVMBuildICmp(B, LLVMIntEQ, b, zero, ""), "");
        r = lw_int_divmod(L, true, a, b, true);
        break;
    default:
        lw_fail(L, n, "operator %s on datetime64/timedelta64", ir_op_name(n->op));
    }
    return LLVMBuildSelect(B, nat, NaT, r, "");
}
