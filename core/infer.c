/*
 * infer.c — type inference on the structured IR.
 *
 * Rules: NumPy promotion with NEP 50 weak literals (ty_promote); a variable
 * takes the promotion of every value assigned to it (a variable assigned
 * int32 in one branch and float64 in the other is float64); anything that
 * does not promote (an array and a number, tuples of other lengths) is a
 * TypingError at the second assignment.
 *
 * Method: the body is walked repeatedly until no variable's type changes
 * (loops can carry a wider type back to an earlier use); expressions that
 * read a variable not typed yet stay untyped in those passes. A last pass,
 * with every variable settled, types each node and reports the first error
 * with its source location. The same walk records which array parameters
 * are written (directly or through a variable holding them), for the
 * launch's copy-back decisions.
 */
#include <stddef.h>
#include <string.h>

#include "core/ir.h"

typedef struct Ctx {
    Function *fn;
    bool final;        /* last pass: report errors */
    bool changed;      /* a variable's type widened in this pass */
    ember_status st;   /* first error of the final pass */
    int loop_depth;
    uint64_t *alias;   /* per variable: bit p set when it may hold array parameter p */
} Ctx;

#define FAIL(ctx, node, ...)                                                        \
    do {                                                                            \
        if ((ctx)->final && (ctx)->st == EMBER_SUCCESS)                             \
            (ctx)->st = ir_error((ctx)->fn, (node)->loc, __VA_ARGS__);              \
        return NULL;                                                                \
    } while (0)

static const char *tname(const Type *t, char *buf) { return ty_str(t, buf, 256); }

static const Type *expr(Ctx *ctx, Node *n);

static const Type *T(TypeKind k) { return ty_scalar(k); }

/* bool in arithmetic behaves as int64 (Python and numba: True + True == 2). */
static const Type *arith_type(const Type *t)
{
    return t && t->kind == TY_BOOL ? T(TY_I64) : t;
}

static const Type *float_result(const Type *t)
{
    /* int, bool -> float64 (weak stays weak); floats and complex unchanged */
    if (t->kind == TY_WEAK_INT)
        return T(TY_WEAK_FLOAT);
    if (t->kind == TY_BOOL || ty_is_int(t))
        return T(TY_F64);
    return t;
}


/* ---- bfloat16 (cuda.bf16) ---------------------------------------------- */

/* bfloat16 is no number to the rules of this file (ty_is_number): its
 * operators are rewritten here into the float32 operation on the operands
 * widened (exactly), rounded back to bfloat16 once (an ND_CAST): correctly
 * rounded for + - * / as CUDA's __hadd ..., since float32 has more than
 * 2 * 8 + 2 bits. A Python literal operand is rounded to bfloat16 first (it
 * takes the other operand's type, as NEP 50 literals do); any other mix is
 * an error that asks for an explicit conversion. */
static Node *wrap_cast(Ctx *ctx, Node *a, TypeKind k)
{
    Node *c = a ? ir_node(ctx->fn, ND_CAST, a->loc) : NULL;
    if (c) {
        c->target = T(k);
        c->a = a;
    }
    return c;
}

/* Operand `a` of type t (bfloat16 or a literal) as a float32 expression. */
static Node *bf16_widen(Ctx *ctx, Node *a, const Type *t)
{
    return wrap_cast(ctx, ty_is_bf16(t) ? a : wrap_cast(ctx, a, TY_BF16), TY_F32);
}

static bool bf16_operand(const Type *t)
{
    return ty_is_bf16(t) || t->kind == TY_WEAK_INT || t->kind == TY_WEAK_FLOAT;
}

/* Node n becomes the conversion to bfloat16 of a copy of itself. */
static bool round_to_bf16(Ctx *ctx, Node *n)
{
    Node *m = ir_node(ctx->fn, n->kind, n->loc);
    if (!m)
        return false;
    *m = *n;
    n->kind = ND_CAST;
    n->target = T(TY_BF16);
    n->a = m;
    n->b = n->c = NULL;
    n->args = NULL;
    n->nargs = 0;
    n->op = 0;
    n->index = 0;
    return true;
}

static const Type *bf16_binary(Ctx *ctx, Node *n, const Type *a, const Type *b)
{
    char s1[256], s2[256];
    if (!bf16_operand(a) || !bf16_operand(b))
        FAIL(ctx, n, "unsupported operand types for %s: %s and %s (bfloat16 mixes only with "
             "bfloat16 and Python literals; convert explicitly: bfloat16(x) or float32(b))",
             ir_op_name(n->op), tname(a, s1), tname(b, s2));
    if (n->op != OP_ADD && n->op != OP_SUB && n->op != OP_MUL && n->op != OP_TRUEDIV)
        FAIL(ctx, n, "operator %s is not supported on bfloat16 (+ - * / and comparisons are)",
             ir_op_name(n->op));
    if (!(n->a = bf16_widen(ctx, n->a, a)) || !(n->b = bf16_widen(ctx, n->b, b)) ||
        !round_to_bf16(ctx, n))
        FAIL(ctx, n, "out of memory");
    return expr(ctx, n);
}

static const Type *bf16_unary(Ctx *ctx, Node *n, const Type *a)
{
    if (n->op == OP_INVERT)
        FAIL(ctx, n, "bad operand type for unary ~: bfloat16 (integers and bools only)");
    if (!(n->a = bf16_widen(ctx, n->a, a)) || (n->op != OP_NOT && !round_to_bf16(ctx, n)))
        FAIL(ctx, n, "out of memory");
    return expr(ctx, n); /* not b: a bool */
}

/* math.sqrt(b), abs(b), max(b, c) ... of bfloat16: the float32 function
 * (NumPy's, which keeps float32) rounded to bfloat16, as numba-cuda's
 * overloads of math functions for bfloat16. */
static const Type *bf16_math(Ctx *ctx, Node *n, const Type **args)
{
    char name[64];
    ir_math_label(n, name, sizeof name);
    switch (n->op) {
    case MATH_SQRT: case MATH_EXP: case MATH_EXP2: case MATH_LOG: case MATH_LOG2:
    case MATH_LOG10: case MATH_SIN: case MATH_COS: case MATH_TANH: case MATH_FLOOR:
    case MATH_CEIL: case MATH_TRUNC: case MATH_FABS: case MATH_ABS: case MATH_RINT:
        if (n->nargs == 1)
            break;
        FAIL(ctx, n, "%s() of a bfloat16 takes one argument", name);
    case MATH_MIN: case MATH_MAX: case MATH_FMIN: case MATH_FMAX:
        if (n->nargs == 2 && ty_is_bf16(args[0]) && ty_is_bf16(args[1]))
            break;
        FAIL(ctx, n, "%s() of bfloat16 takes two bfloat16 values", name);
    default:
        FAIL(ctx, n, "%s() is not supported on bfloat16 (sqrt, exp, exp2, log, log2, log10, "
             "sin, cos, tanh, floor, ceil, trunc, fabs, abs, rint, min and max are; or "
             "convert: float32(b))", name);
    }
    for (int i = 0; i < n->nargs; i++)
        if (!bf16_operand(args[i]) || !(n->args[i] = bf16_widen(ctx, n->args[i], args[i])))
            FAIL(ctx, n, "%s() cannot mix bfloat16 with other types", name);
    if (n->index == MATHF_PYTHON && n->op != MATH_MIN && n->op != MATH_MAX)
        n->index = MATHF_NUMPY; /* math.floor(b) is a bfloat16, not an int */
    if (!round_to_bf16(ctx, n))
        FAIL(ctx, n, "out of memory");
    return expr(ctx, n);
}

/* cuda.bf16.hfma and the bit reinterpretations (core/lower_bf16.c). */
static const Type *bf16_intrinsic(Ctx *ctx, Node *n)
{
    char s[256];
    const char *label = ir_intrinsics[n->op].label;
    for (int i = 0; i < n->nargs; i++) {
        const Type *a = expr(ctx, n->args[i]);
        if (!a)
            return NULL;
        bool ok = n->op == INTR_BF16_FROM_BITS ? a->kind == TY_I16 || a->kind == TY_U16
                                               : ty_is_bf16(a);
        if (!ok)
            FAIL(ctx, n->args[i], "%s() needs %s, not %s", label,
                 n->op == INTR_BF16_FROM_BITS ? "an int16 or uint16" : "bfloat16 values",
                 tname(ty_concrete(a), s));
    }
    return T(n->op == INTR_BF16_AS_I16 ? TY_I16 : n->op == INTR_BF16_AS_U16 ? TY_U16 : TY_BF16);
}


/* ---- array expressions (ember.jit functions) --------------------------- */

/* NumPy's elementwise operators and ufuncs on whole arrays become one
 * ND_ARRAY_EXPR: the operands (arrays, and scalars evaluated once) and a
 * scalar body for one element that reads operand k as ND_ELEM k. The body
 * is typed by the scalar rules above (NEP 50: a literal stays in the body,
 * weak), so int32 array + 2 is int32 and float32 array * 2.0 float32, as
 * NumPy 2. Nested expressions fuse: an operand that is itself an
 * ND_ARRAY_EXPR lends its operands and body, so np.sqrt(a*a + b*b) is one
 * loop and allocates only its result. */

static void shift_elems(Node *n, int by)
{
    if (!n)
        return;
    if (n->kind == ND_ELEM)
        n->index += by;
    shift_elems(n->a, by);
    shift_elems(n->b, by);
    shift_elems(n->c, by);
    for (int i = 0; i < n->nargs; i++)
        shift_elems(n->args[i], by);
}

/* The element type operand `op` gives the body. */
static const Type *elem_of(const Type *t) { return t && t->kind == TY_ARRAY ? t->elem : t; }

static Node *elem_leaf(Function *fn, const Node *at, int k, const Type *t)
{
    Node *e = ir_node(fn, ND_ELEM, at->loc);
    if (e) {
        e->index = k;
        e->ty = t;
    }
    return e;
}

/* Moves the children in `slots` of n into a new operand list (literals stay
 * in the body), turns n into ND_ARRAY_EXPR over a copy of n as the body,
 * and types it. */
static const Type *array_expr_type(Ctx *ctx, Node *n);
static const Type *to_array_expr(Ctx *ctx, Node *n, Node **slots[], int nslots)
{
    Function *fn = ctx->fn;
    int total = 0;
    for (int i = 0; i < nslots; i++) {
        Node *c = *slots[i];
        total += c->kind == ND_ARRAY_EXPR ? c->nargs : c->kind == ND_CONST ? 0 : 1;
    }
    Node **ops = total ? ir_node_list(fn, total) : NULL;
    Node *body = ir_node(fn, ND_CONST, n->loc);
    if ((total && !ops) || !body)
        FAIL(ctx, n, "out of memory");
    int k = 0;
    for (int i = 0; i < nslots; i++) {
        Node *c = *slots[i];
        if (c->kind == ND_ARRAY_EXPR) {
            shift_elems(c->a, k);
            for (int j = 0; j < c->nargs; j++)
                ops[k++] = c->args[j];
            *slots[i] = c->a;
        } else if (c->kind != ND_CONST) {
            ops[k] = c;
            if (!(*slots[i] = elem_leaf(fn, c, k, elem_of(c->ty))))
                FAIL(ctx, n, "out of memory");
            k++;
        }
    }
    *body = *n;
    memset(&n->ty, 0, sizeof *n - offsetof(Node, ty));
    n->kind = ND_ARRAY_EXPR;
    n->a = body;
    n->args = ops;
    n->nargs = total;
    return array_expr_type(ctx, n);
}

/* Gives each ND_ELEM of body its operand's element type. */
static void set_elem_types(Node *body, Node **ops, int nops)
{
    if (!body)
        return;
    if (body->kind == ND_ELEM && body->index >= 0 && body->index < nops)
        body->ty = elem_of(ops[body->index]->ty);
    set_elem_types(body->a, ops, nops);
    set_elem_types(body->b, ops, nops);
    set_elem_types(body->c, ops, nops);
    for (int i = 0; i < body->nargs; i++)
        set_elem_types(body->args[i], ops, nops);
}

/* NumPy's rules for bool arrays differ from Python's for bools: True + True
 * is True (logical or), * is and, ~ is not; - is an error. */
static bool bool_array_ops(Ctx *ctx, Node *body)
{
    char s[256];
    if (body->kind == ND_BINARY && body->a->ty && body->b->ty &&
        body->a->ty->kind == TY_BOOL && body->b->ty->kind == TY_BOOL) {
        if (body->op == OP_ADD)
            body->op = OP_BITOR;
        else if (body->op == OP_MUL)
            body->op = OP_BITAND;
        else if (body->op != OP_TRUEDIV && body->op != OP_BITAND && body->op != OP_BITOR &&
                 body->op != OP_BITXOR) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, body->loc, "operator %s of bool arrays is not "
                                   "supported (NumPy refuses - and gives int8 for // %% **): "
                                   "use ^, or convert with .astype / a cast first",
                                   ir_op_name(body->op));
            return false;
        }
    }
    if (body->kind == ND_UNARY && body->a->ty && body->a->ty->kind == TY_BOOL) {
        if (body->op == OP_INVERT)
            body->op = OP_NOT;
        else if (body->op == OP_NEG) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, body->loc, "unary - of a bool array (%s) is not "
                                   "supported (NumPy refuses it): use ~ or np.logical_not",
                                   tname(body->a->ty, s));
            return false;
        }
    }
    return true;
}

static const Type *array_expr_type(Ctx *ctx, Node *n)
{
    char s[256];
    int ndim = 0;
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = expr(ctx, n->args[i]);
        if (!t)
            return NULL;
        if (t->kind == TY_ARRAY)
            ndim = t->ndim > ndim ? t->ndim : ndim;
        else if (!ty_is_number(t))
            FAIL(ctx, n->args[i], "an array expression takes arrays and numbers, not %s",
                 tname(t, s));
    }
    if (!ndim)
        FAIL(ctx, n, "malformed array expression (no array operand)");
    set_elem_types(n->a, n->args, n->nargs);
    Node *body = n->a;
    if (body->kind == ND_UNARY && body->op == OP_POS) {
        /* +a and a.copy(): the elements as they are (bool stays bool) */
        n->a = body = body->a;
    }
    if (body->kind == ND_BINARY || body->kind == ND_UNARY) {
        /* the operands' types first, for NumPy's bool rules */
        if (body->a)
            expr(ctx, body->a);
        if (body->kind == ND_BINARY)
            expr(ctx, body->b);
        if (!bool_array_ops(ctx, body))
            return NULL;
    }
    const Type *bt = expr(ctx, body);
    if (!bt)
        return NULL;
    if (!ty_is_number(bt))
        FAIL(ctx, n, "an array expression must give numbers, not %s", tname(bt, s));
    return ty_array(ty_concrete(bt), ndim, 'C', false);
}

/* An operator with a datetime64 / timedelta64 operand (types_time.c). */
static const Type *time_binary(Ctx *ctx, Node *n, const Type *a, const Type *b)
{
    char s1[256], s2[256];
    const char *why = NULL;
    int unit;
    const Type *t = ty_time_binary(n->op, a, b, &unit, &why);
    if (!t)
        FAIL(ctx, n, "unsupported operand types for %s: %s and %s (%s)", ir_op_name(n->op),
             tname(a, s1), tname(b, s2), why);
    return t;
}

static const Type *binary(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a), *b = expr(ctx, n->b);
    if (!a || !b)
        return NULL;
    if (ty_is_bf16(a) || ty_is_bf16(b))
        return bf16_binary(ctx, n, a, b);
    if (a->kind == TY_ARRAY || b->kind == TY_ARRAY) {
        Node **slots[2] = {&n->a, &n->b};
        return to_array_expr(ctx, n, slots, 2);
    }
    char s1[256], s2[256];
    if (ty_is_time(a) || ty_is_time(b))
        return time_binary(ctx, n, a, b);
    const Type *t = ty_promote(a, b);
    if (!t)
        FAIL(ctx, n, "unsupported operand types for %s: %s and %s", ir_op_name(n->op),
             tname(a, s1), tname(b, s2));
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_POW:
        return arith_type(t);
    case OP_TRUEDIV:
        return float_result(t);
    case OP_FLOORDIV: case OP_MOD:
        if (ty_is_complex(t))
            FAIL(ctx, n, "operator %s is not defined for complex numbers (%s and %s)",
                 ir_op_name(n->op), tname(a, s1), tname(b, s2));
        return arith_type(t);
    case OP_LSHIFT: case OP_RSHIFT:
        if (!(ty_is_int(a) || a->kind == TY_BOOL) || !(ty_is_int(b) || b->kind == TY_BOOL))
            FAIL(ctx, n, "operator %s needs integers, not %s and %s", ir_op_name(n->op),
                 tname(a, s1), tname(b, s2));
        return arith_type(t);
    case OP_BITAND: case OP_BITOR: case OP_BITXOR:
        if (!(ty_is_int(a) || a->kind == TY_BOOL) || !(ty_is_int(b) || b->kind == TY_BOOL))
            FAIL(ctx, n, "operator %s needs integers or bools, not %s and %s",
                 ir_op_name(n->op), tname(a, s1), tname(b, s2));
        return t;
    default:
        FAIL(ctx, n, "unknown binary operator %d", n->op);
    }
}

static const Type *unary(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a);
    if (!a)
        return NULL;
    if (ty_is_bf16(a))
        return bf16_unary(ctx, n, a);
    char s[256];
    if (a->kind == TY_ARRAY && n->op == OP_NOT)
        FAIL(ctx, n, "'not' of an array: its truth value is ambiguous; use ~a (bool arrays) "
             "or a.any() / a.all() style loops");
    if (a->kind == TY_ARRAY) {
        Node **slots[1] = {&n->a};
        return to_array_expr(ctx, n, slots, 1);
    }
    if (ty_is_time(a)) { /* -td, +td (NumPy: not of a datetime64) */
        if (a->kind == TY_TIMEDELTA && (n->op == OP_NEG || n->op == OP_POS))
            return a;
        FAIL(ctx, n, "bad operand type for unary %s: %s", ir_op_name(n->op), tname(a, s));
    }
    if (n->op == OP_NOT) {
        if (!ty_is_number(a))
            FAIL(ctx, n, "'not' needs a number or bool, not %s", tname(a, s));
        return T(TY_BOOL);
    }
    if (!ty_is_number(a))
        FAIL(ctx, n, "bad operand type for unary %s: %s", ir_op_name(n->op), tname(a, s));
    if (n->op == OP_INVERT) {
        if (!(ty_is_int(a) || a->kind == TY_BOOL))
            FAIL(ctx, n, "bad operand type for unary ~: %s (integers and bools only)", tname(a, s));
        return arith_type(a); /* Python and numba: ~True == -2 */
    }
    return arith_type(a); /* - and + */
}

static const Type *compare(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a), *b = expr(ctx, n->b);
    if (!a || !b)
        return NULL;
    char s1[256], s2[256];
    if (ty_is_bf16(a) || ty_is_bf16(b)) { /* compared exactly as float32 */
        if (!bf16_operand(a) || !bf16_operand(b))
            FAIL(ctx, n, "cannot compare %s with %s (bfloat16 compares with bfloat16 and "
                 "Python literals; convert explicitly: bfloat16(x) or float32(b))",
                 tname(a, s1), tname(b, s2));
        if (!(n->a = bf16_widen(ctx, n->a, a)) || !(n->b = bf16_widen(ctx, n->b, b)))
            FAIL(ctx, n, "out of memory");
        return compare(ctx, n);
    }
    if (a->kind == TY_ARRAY || b->kind == TY_ARRAY) {
        Node **slots[2] = {&n->a, &n->b};
        return to_array_expr(ctx, n, slots, 2);
    }
    if (ty_is_time(a) || ty_is_time(b))
        return time_binary(ctx, n, a, b);
    const Type *t = ty_promote(a, b);
    if (!t)
        FAIL(ctx, n, "cannot compare %s with %s", tname(a, s1), tname(b, s2));
    if (ty_is_complex(t) && n->op != OP_EQ && n->op != OP_NE)
        FAIL(ctx, n, "complex numbers are not ordered: %s %s %s", tname(a, s1), ir_op_name(n->op),
             tname(b, s2));
    return T(TY_BOOL);
}

static const Type *truthy(Ctx *ctx, Node *n, const char *what)
{
    const Type *t = expr(ctx, n);
    char s[256];
    if (t && !ty_is_number(t))
        FAIL(ctx, n, "%s must be a number or bool, not %s", what, tname(t, s));
    return t;
}

static bool is_unary_float_fn(int fn)
{
    return (fn >= MATH_SIN && fn <= MATH_LGAMMA && fn != MATH_ATAN2 && fn != MATH_POW &&
            fn != MATH_HYPOT) || fn == MATH_FABS || fn == MATH_RADIANS || fn == MATH_DEGREES ||
           fn == MATH_CBRT;
}

/* The complex type cmath computes in, following numba (its cmath
 * signatures are complex64 and complex128, and float32 converts to
 * complex64): complex stays, float32 -> complex64, other reals (ints,
 * bool, float64, literals) -> complex128 as Python's cmath. */
static const Type *complex_of(const Type *t)
{
    t = ty_concrete(t);
    if (ty_is_complex(t))
        return t;
    return T(t->kind == TY_F32 ? TY_C64 : TY_C128);
}

static const Type *part_of(const Type *c) { return T(c->kind == TY_C64 ? TY_F32 : TY_F64); }

static const Type *pair(const Type *a, const Type *b)
{
    const Type *f[2] = {a, b};
    return ty_tuple(2, f);
}

/* cmath.f(z): complex results (cmath.sqrt(-1.0) == 1j); phase -> the
 * part type, polar -> (r, phi), rect(r, phi) -> complex; isnan/isinf/
 * isfinite -> bool. log(z, base) is log(z) / log(base), as CPython. */
static const Type *cmath_call(Ctx *ctx, Node *n, const Type **args, const char *name)
{
    int fn = n->op;
    const Type *a = args[0];
    char s[256], s2[256];
    int want = 1;
    const Type *r = NULL;
    if (ir_math_has_complex_form(fn)) {
        if (fn == MATH_LOG && n->nargs == 2) {
            want = 2;
            const Type *t = ty_promote(a, args[1]);
            if (!t)
                FAIL(ctx, n, "%s() of %s and %s", name, tname(a, s), tname(args[1], s2));
            r = complex_of(t);
        } else {
            r = complex_of(a);
        }
    } else if (fn == MATH_ISNAN || fn == MATH_ISINF || fn == MATH_ISFINITE) {
        r = T(TY_BOOL);
    } else if (fn == MATH_PHASE) {
        r = part_of(complex_of(a));
    } else if (fn == MATH_POLAR) {
        const Type *p = part_of(complex_of(a));
        r = pair(p, p);
    } else if (fn == MATH_COMPLEX) {
        want = 2; /* complex(re, im) of any numbers: complex128, as numba */
        r = T(TY_C128);
    } else if (fn == MATH_RECT) {
        want = 2;
        if (n->nargs == 2) {
            const Type *t = ty_promote(a, args[1]);
            if (!t || ty_is_complex(t))
                FAIL(ctx, n, "%s() needs real numbers, not %s and %s", name, tname(a, s),
                     tname(args[1], s2));
            r = complex_of(float_result(ty_concrete(t)));
        }
    } else {
        FAIL(ctx, n, "%s() is not supported", name);
    }
    if (n->nargs != want)
        FAIL(ctx, n, "%s() takes %d argument%s, %d given", name, want, want == 1 ? "" : "s",
             n->nargs);
    return r;
}

/* Result types. Python's math (numba's typing): float functions of ints
 * give float64, of float32 float32; floor/ceil/trunc/round(x) give int64.
 * NumPy's ufuncs: the same, except that floor/ceil/trunc/rint/round keep
 * the float type (np.floor(float32) -> float32; of an int -> float64, as
 * every integer input of a float ufunc here, where NumPy would give
 * float32 for int8/int16); sign/square/reciprocal/fmin/fmax keep integer
 * types; unary functions with a complex form take complex numbers. */
static const Type *math_call(Ctx *ctx, Node *n)
{
    const Type *args[8];
    char name[64], s[256], s2[256];
    ir_math_label(n, name, sizeof name);
    if (n->nargs > 8 || n->nargs < 1)
        FAIL(ctx, n, "%s() takes 1 to 8 arguments, %d given", name, n->nargs);
    bool any_array = false;
    for (int i = 0; i < n->nargs; i++) {
        args[i] = expr(ctx, n->args[i]);
        if (!args[i])
            return NULL;
        any_array |= args[i]->kind == TY_ARRAY;
    }
    for (int i = 0; i < n->nargs; i++)
        if (ty_is_bf16(args[i]))
            return bf16_math(ctx, n, args);
    if (any_array && (n->index == MATHF_NUMPY || (n->index == MATHF_PYTHON && n->op == MATH_ABS))) {
        Node **slots[8];
        for (int i = 0; i < n->nargs; i++)
            slots[i] = &n->args[i];
        return to_array_expr(ctx, n, slots, n->nargs);
    }
    for (int i = 0; i < n->nargs; i++)
        if (!ty_is_number(args[i]))
            FAIL(ctx, n, "%s() needs numbers, not %s", name, tname(args[i], s));
    if ((unsigned)n->index >= MATHF_COUNT)
        FAIL(ctx, n, "unknown math flavour %d", n->index);
    if (n->index == MATHF_CMATH)
        return cmath_call(ctx, n, args, name);
    bool numpy = n->index == MATHF_NUMPY;
    int fn = n->op;
    const Type *a = args[0];
    int want = -1; /* required argument count, -1: checked below */
    const Type *r = NULL;
    if (is_unary_float_fn(fn)) {
        want = 1;
        if (ty_is_complex(a) && !(numpy && ir_math_has_complex_form(fn)))
            FAIL(ctx, n, "%s() of a complex number (%s) is not supported%s", name, tname(a, s),
                 numpy ? "" : "; use cmath");
        r = ty_is_complex(a) ? ty_concrete(a) : float_result(ty_concrete(a));
        if (fn == MATH_LOG && !numpy && n->nargs == 2) {
            /* math.log(x, base) == log(x) / log(base) */
            want = 2;
            const Type *t = ty_promote(a, args[1]);
            if (!t || ty_is_complex(t))
                FAIL(ctx, n, "%s() needs real numbers, not %s and %s", name, tname(a, s),
                     tname(args[1], s2));
            r = float_result(ty_concrete(t));
        }
    } else if (fn == MATH_ATAN2 || fn == MATH_POW || fn == MATH_HYPOT || fn == MATH_FMOD ||
               fn == MATH_COPYSIGN || fn == MATH_REMAINDER) {
        want = 2;
        if (n->nargs == 2) {
            const Type *t = ty_promote(args[0], args[1]);
            if (!t || ty_is_complex(t))
                FAIL(ctx, n, "%s() needs real numbers, not %s and %s", name, tname(a, s),
                     tname(args[1], s2));
            r = float_result(ty_concrete(t));
        }
    } else if (fn == MATH_FMIN || fn == MATH_FMAX) {
        want = 2;
        if (n->nargs == 2) {
            const Type *t = ty_promote(args[0], args[1]);
            if (!t || ty_is_complex(t))
                FAIL(ctx, n, "%s() needs real numbers, not %s and %s", name, tname(a, s),
                     tname(args[1], s2));
            r = ty_concrete(t);
        }
    } else if (fn == MATH_ISNAN || fn == MATH_ISINF || fn == MATH_ISFINITE) {
        want = 1;
        r = T(TY_BOOL);
    } else if (fn == MATH_FLOOR || fn == MATH_CEIL || fn == MATH_TRUNC || fn == MATH_RINT) {
        /* Python's math.floor/ceil/trunc return int (numba: int64);
         * NumPy's keep a float's type, and (NumPy 2, like NEP 50 here)
         * an integer's or bool's too: np.rint still gives a float. */
        want = 1;
        if (ty_is_complex(a))
            FAIL(ctx, n, "%s() of a complex number (%s)", name, tname(a, s));
        if (numpy && fn != MATH_RINT && !ty_is_float(a))
            r = ty_concrete(a);
        else if (numpy || fn == MATH_RINT)
            r = float_result(ty_concrete(a));
        else
            r = ty_is_float(a) ? T(TY_I64) : arith_type(ty_concrete(a));
    } else if (fn == MATH_SIGN) {
        want = 1;
        if (ty_is_complex(a))
            FAIL(ctx, n, "%s() of a complex number (%s) is not supported", name, tname(a, s));
        r = arith_type(ty_concrete(a));
    } else if (fn == MATH_SQUARE || fn == MATH_RECIPROCAL) {
        want = 1;
        r = arith_type(ty_concrete(a));
    } else if (fn == MATH_FREXP || fn == MATH_MODF) {
        /* numba.cuda: frexp(x) -> (mantissa, int32 exponent), modf(x) ->
         * (fractional part, integral part), both of x's float type */
        want = 1;
        if (ty_is_complex(a))
            FAIL(ctx, n, "%s() needs a real number, not %s", name, tname(a, s));
        const Type *f = float_result(ty_concrete(a));
        r = pair(f, fn == MATH_FREXP ? T(TY_I32) : f);
    } else if (fn == MATH_LDEXP) {
        want = 2;
        if (ty_is_complex(a))
            FAIL(ctx, n, "%s() needs a real number, not %s", name, tname(a, s));
        if (n->nargs == 2 && !(ty_is_int(args[1]) || args[1]->kind == TY_BOOL))
            FAIL(ctx, n, "%s() exponent must be an integer, not %s", name, tname(args[1], s));
        r = float_result(ty_concrete(a));
    } else if (fn == MATH_ABS) {
        want = 1;
        if (a->kind == TY_C64)
            r = T(TY_F32);
        else if (ty_is_complex(a))
            r = T(TY_F64);
        else
            r = arith_type(ty_concrete(a));
    } else if (fn == MATH_MIN || fn == MATH_MAX) {
        if (n->nargs < 2)
            FAIL(ctx, n, "%s() of one scalar: pass two or more numbers", name);
        if (numpy) /* np.minimum(a, b): a third argument would be `out` */
            want = 2;
        const Type *t = args[0];
        for (int i = 1; i < n->nargs && t; i++)
            t = ty_promote(t, args[i]);
        if (!t || ty_is_complex(t))
            FAIL(ctx, n, "%s() needs real numbers", name);
        r = ty_concrete(t);
    } else if (fn == MATH_ROUND) {
        if (ty_is_complex(a))
            FAIL(ctx, n, "%s() of a complex number (%s)", name, tname(a, s));
        if (n->nargs == 1) /* round(x) -> int, as Python; np.round keeps the type */
            r = ty_is_float(a) && !numpy ? T(TY_I64) : arith_type(ty_concrete(a));
        else if (n->nargs == 2)
            r = ty_concrete(a);
        else
            FAIL(ctx, n, "%s() takes 1 or 2 arguments, %d given", name, n->nargs);
    } else {
        FAIL(ctx, n, "%s() is not supported", name);
    }
    if (want >= 0 && n->nargs != want)
        FAIL(ctx, n, "%s() takes %d argument%s, %d given", name, want, want == 1 ? "" : "s",
             n->nargs);
    return r;
}

static bool const_int(const Node *n, int64_t *v)
{
    if (n && n->kind == ND_UNARY && n->op == OP_NEG && const_int(n->a, v) && *v != INT64_MIN) {
        *v = -*v; /* t[-1] */
        return true;
    }
    if (!n || n->kind != ND_CONST || !ty_is_int(n->ty))
        return false;
    *v = n->ival;
    return true;
}

/* numba.cuda's block-level operations: masks and lanes are integers,
 * predicates anything truthy; a shuffled value is a 32- or 64-bit integer
 * or float (a literal is int64 / float64). */
static const Type *block_intrinsic(Ctx *ctx, Node *n)
{
    IntrinsicKind kind = ir_intrinsics[n->op].kind;
    if (kind != INTRK_WARP && kind != INTRK_BLOCK)
        FAIL(ctx, n, "unknown intrinsic %d", n->op);
    const char *name = ir_intrinsics[n->op].name;
    const Type *t[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < n->nargs && i < 4; i++)
        if (!(t[i] = expr(ctx, n->args[i])))
            return NULL;
    char s[256];
    int want = ir_intrinsics[n->op].min_args;
    bool shuffle = n->op >= INTR_SHFL_IDX && n->op <= INTR_SHFL_XOR;
    if (shuffle && n->nargs != 3 && n->nargs != 4)
        FAIL(ctx, n, "cuda.%s() takes 3 or 4 arguments (mask, value, lane[, width])", name);
    if (!shuffle && n->nargs != want)
        FAIL(ctx, n, "cuda.%s() takes %d arguments", name, want);
    if (n->op <= INTR_SYNCTHREADS_OR) {
        if (!ty_is_number(t[0]) || ty_is_complex(t[0]))
            FAIL(ctx, n, "cuda.%s(predicate) needs a number or bool, not %s", name, tname(t[0], s));
        return T(TY_I32);
    }
    if (want >= 2 && !(ty_is_int(t[0]) || t[0]->kind == TY_BOOL))
        FAIL(ctx, n->args[0], "cuda.%s(): the mask must be an integer, not %s", name,
             tname(ty_concrete(t[0]), s));
    if (n->op <= INTR_SHFL_XOR) {
        if (!ty_is_int(t[2]))
            FAIL(ctx, n->args[2], "cuda.%s(): the lane argument must be an integer, not %s",
                 name, tname(ty_concrete(t[2]), s));
        if (n->nargs == 4 && !ty_is_int(t[3]))
            FAIL(ctx, n->args[3], "cuda.%s(): the width must be an integer (a power of two "
                 "from 1 to 32), not %s", name, tname(ty_concrete(t[3]), s));
        const Type *v = ty_concrete(t[1]);
        TypeKind k = v->kind;
        if (k != TY_I32 && k != TY_I64 && k != TY_U32 && k != TY_U64 && k != TY_F32 && k != TY_F64)
            FAIL(ctx, n->args[1], "cuda.%s() shuffles 32- and 64-bit integers and floats, "
                 "not %s", name, tname(v, s));
        return v;
    }
    if (n->op == INTR_MATCH_ANY || n->op == INTR_MATCH_ALL) {
        const Type *v = ty_concrete(t[1]);
        TypeKind k = v->kind;
        if (k != TY_I32 && k != TY_I64 && k != TY_U32 && k != TY_U64 && k != TY_F32 && k != TY_F64)
            FAIL(ctx, n->args[1], "cuda.%s() compares 32- and 64-bit integers and floats, "
                 "not %s", name, tname(v, s));
        n->target = v; /* the compared type */
        if (n->op == INTR_MATCH_ANY)
            return T(TY_U32);
        const Type *fields[2] = {T(TY_U32), T(TY_BOOL)};
        return ty_tuple(2, fields);
    }
    if (!ty_is_number(t[1]) || ty_is_complex(t[1]))
        FAIL(ctx, n->args[1], "cuda.%s(mask, predicate) needs a number or bool predicate, "
             "not %s", name, tname(t[1], s));
    return n->op == INTR_BALLOT ? T(TY_U32) : T(TY_BOOL);
}

/* The intrinsics typed by a rule of the table (IntrinsicRule). */
static const Type *rule_intrinsic(Ctx *ctx, Node *n)
{
    const IntrinsicInfo *in = &ir_intrinsics[n->op];
    if (n->nargs < in->min_args || n->nargs > in->max_args) {
        if (in->min_args == in->max_args)
            FAIL(ctx, n, "%s() takes %d argument%s, %d given", in->label, in->min_args,
                 in->min_args == 1 ? "" : "s", n->nargs);
        FAIL(ctx, n, "%s() takes %d to %d arguments, %d given", in->label, in->min_args,
             in->max_args, n->nargs);
    }
    for (int i = 0; i < n->nargs; i++) {
        const Type *a = expr(ctx, n->args[i]);
        if (!a)
            return NULL;
        char s[256];
        if (in->rule == IRULE_VOID_INTS && !ty_is_int(a) && a->kind != TY_BOOL)
            FAIL(ctx, n->args[i], "%s() needs integers, not %s", in->label,
                 tname(ty_concrete(a), s));
    }
    switch (in->rule) {
    case IRULE_I32: return T(TY_I32);
    case IRULE_U32: return T(TY_U32);
    case IRULE_VOID_INTS: return T(TY_VOID);
    default: FAIL(ctx, n, "intrinsic %s has no typing rule", in->label);
    }
}

/* np.random (the front end fills in the defaults): seed(int), random(),
 * uniform(low, high) and normal(loc, scale) of real numbers -> float64,
 * randint(low, high) of integers -> int64 (numba's typing). */
static const Type *random_intrinsic(Ctx *ctx, Node *n)
{
    static const char *const names[] = {"seed", "random", "uniform", "normal", "randint"};
    static const int nargs[] = {1, 0, 2, 2, 2};
    int i = n->op - INTR_RANDOM_SEED;
    char s[256];
    if (n->nargs != nargs[i])
        FAIL(ctx, n, "np.random.%s() takes %d arguments here", names[i], nargs[i]);
    for (int j = 0; j < n->nargs; j++) {
        const Type *t = expr(ctx, n->args[j]);
        if (!t)
            return NULL;
        bool ok = (n->op == INTR_RANDOM_SEED || n->op == INTR_RANDOM_RANDINT)
                      ? ty_is_int(t) : ty_is_number(t) && !ty_is_complex(t);
        if (!ok)
            FAIL(ctx, n->args[j], "np.random.%s(): argument %d must be %s, not %s", names[i],
                 j + 1, n->op == INTR_RANDOM_SEED || n->op == INTR_RANDOM_RANDINT
                            ? "an integer" : "a real number", tname(ty_concrete(t), s));
    }
    return n->op == INTR_RANDOM_SEED ? T(TY_VOID)
         : n->op == INTR_RANDOM_RANDINT ? T(TY_I64) : T(TY_F64);
}

static const Type *intrinsic(Ctx *ctx, Node *n)
{
    int64_t k = 0;
    if ((unsigned)n->op >= INTR_COUNT)
        FAIL(ctx, n, "unknown intrinsic %d", n->op);
    if (ir_intrinsics[n->op].rule != IRULE_CUSTOM)
        return rule_intrinsic(ctx, n);
    switch (n->op) {
    case INTR_THREAD_IDX: case INTR_BLOCK_IDX: case INTR_BLOCK_DIM: case INTR_GRID_DIM:
        if (n->nargs != 1 || !const_int(n->args[0], &k) || k < 0 || k > 2)
            FAIL(ctx, n, "thread/block index axis must be x, y or z");
        n->args[0]->ty = T(TY_WEAK_INT);
        return T(TY_I32);
    case INTR_GRID: case INTR_GRIDSIZE: {
        if (n->nargs != 1 || !const_int(n->args[0], &k) || k < 1 || k > 3)
            FAIL(ctx, n, "cuda.%s(ndim) takes a constant 1, 2 or 3",
                 n->op == INTR_GRID ? "grid" : "gridsize");
        n->args[0]->ty = T(TY_WEAK_INT);
        if (k == 1)
            return T(TY_I64);
        const Type *f[3] = {T(TY_I64), T(TY_I64), T(TY_I64)};
        return ty_tuple((int)k, f);
    }
    case INTR_POPC: case INTR_BREV: case INTR_CLZ: case INTR_FFS: {
        static const char *const names[] = {"popc", "brev", "clz", "ffs"};
        const char *name = names[n->op - INTR_POPC];
        const Type *a = n->nargs == 1 ? expr(ctx, n->args[0]) : NULL;
        if (n->nargs != 1)
            FAIL(ctx, n, "cuda.%s(x) takes one integer", name);
        if (!a)
            return NULL;
        char s[256];
        if (!ty_is_int(a))
            FAIL(ctx, n, "cuda.%s(x) needs an integer, not %s", name, tname(ty_concrete(a), s));
        return n->op == INTR_BREV ? ty_concrete(a) : T(TY_I32);
    }
    case INTR_FMA: {
        if (n->nargs != 3)
            FAIL(ctx, n, "cuda.fma(a, b, c) takes 3 arguments");
        const Type *t = NULL;
        for (int i = 0; i < 3; i++) {
            const Type *a = expr(ctx, n->args[i]);
            if (!a)
                return NULL;
            char s[256];
            if (!ty_is_number(a) || ty_is_complex(a))
                FAIL(ctx, n->args[i], "cuda.fma() needs real numbers, not %s",
                     tname(ty_concrete(a), s));
            t = t ? ty_promote(t, a) : a;
        }
        t = ty_concrete(t);
        return ty_is_float(t) ? t : T(TY_F64);
    }
    case INTR_BF16_FMA: case INTR_BF16_AS_I16: case INTR_BF16_AS_U16: case INTR_BF16_FROM_BITS:
        return bf16_intrinsic(ctx, n);
    case INTR_RANDOM_SEED: case INTR_RANDOM_RANDOM: case INTR_RANDOM_UNIFORM:
    case INTR_RANDOM_NORMAL: case INTR_RANDOM_RANDINT:
        return random_intrinsic(ctx, n);
    default:
        return block_intrinsic(ctx, n);
    }
}

static const Type *index_type(Ctx *ctx, Node *n, const Type **elem)
{
    const Type *a = expr(ctx, n->a);
    if (!a)
        return NULL;
    char s[256], s2[256];
    if (a->kind != TY_ARRAY)
        FAIL(ctx, n, "%s is not an array and cannot be indexed", tname(a, s));
    /* describe the index types for messages */
    char idx[512] = "";
    bool ok = true, known = true;
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = expr(ctx, n->args[i]);
        if (!t) {
            known = false;
            continue;
        }
        em_strappend(idx, sizeof idx, "%s%s", i ? ", " : "", tname(ty_concrete(t), s2));
        if (!ty_is_int(t))
            ok = false;
    }
    if (!known)
        return NULL;
    if (!ok)
        FAIL(ctx, n, "cannot index %s with (%s): indices must be integers", tname(a, s), idx);
    if (n->nargs != a->ndim)
        FAIL(ctx, n, "cannot index %s with %d index%s: give one integer per dimension (%d)",
             tname(a, s), n->nargs, n->nargs == 1 ? "" : "es", a->ndim);
    *elem = a->elem;
    return a;
}

static bool is_const_one(const Node *n)
{
    int64_t v;
    return const_int(n, &v) && v == 1;
}

/* a[items]: basic slicing (NumPy): an integer item drops its dimension, a
 * start:stop:step item keeps it, dimensions past the items are kept whole.
 * The view is C-contiguous when the source is, every integer comes before
 * the first kept dimension, no kept dimension has a step (other than 1) and
 * only the first kept dimension is partial (a[0, :], a[2:5], a[1:3, :]);
 * F-contiguous likewise mirrored; a 1-D contiguous view is 'C' (as typeof
 * says of 1-D arrays). Anything else is layout 'A'. */
/* Checks that nested tuple type t has extents ext[depth ..] at each level
 * and numbers below them; promotes the numbers into *elem (Python numbers as
 * int64 / float64 / complex128, as NumPy's dtype discovery). */
static bool nested_ok(const Type *t, int depth, int nd, const int64_t *ext, const Type **elem,
                      int *leaf_nd)
{
    if (depth == nd) { /* numbers, or arrays of one ndim (stacked: np.stack) */
        int lnd = t->kind == TY_ARRAY ? t->ndim : 0;
        if (!(lnd ? ty_is_number(t->elem) : ty_is_number(t)) || (*leaf_nd >= 0 && *leaf_nd != lnd))
            return false;
        *leaf_nd = lnd;
        const Type *c = ty_concrete(lnd ? t->elem : t);
        *elem = *elem ? ty_promote(*elem, c) : c;
        return *elem != NULL;
    }
    if (t->kind != TY_TUPLE || t->nfields != ext[depth])
        return false;
    for (int i = 0; i < t->nfields; i++)
        if (!nested_ok(t->fields[i], depth + 1, nd, ext, elem, leaf_nd))
            return false;
    return true;
}

/* np.array(src) / np.asarray(src): of an array, a C-ordered copy in the
 * dtype asked for (asarray: the array itself when it has that dtype); of
 * nested lists or tuples of numbers, a C-ordered array of their shape
 * (rectangular) and promoted type (float64 for an empty list); of nested
 * lists of arrays of one ndim, the arrays stacked (their extents must
 * agree at run time: ValueError). */
static const Type *array_from_type(Ctx *ctx, Node *n, const Type *src)
{
    char s[256];
    const char *what = n->op == NEW_ASARRAY ? "np.asarray()" : "np.array()";
    if (src->kind == TY_ARRAY) {
        const Type *elem = n->target ? n->target : src->elem;
        if (ty_is_complex(src->elem) && !ty_is_complex(elem) && elem->kind != TY_BOOL)
            FAIL(ctx, n, "%s: cannot convert a complex array to %s", what, tname(elem, s));
        if (n->op == NEW_ASARRAY && elem == src->elem) {
            *n = *n->a; /* the array itself */
            return src;
        }
        return ty_array(elem, src->ndim, 'C', n->ival == 1); /* ival 1: a.flat's copy */
    }
    int64_t ext[EMBER_MAX_NDIM];
    int nd = 0;
    for (const Type *t = src; t->kind == TY_TUPLE; t = t->fields[0]) {
        if (nd == EMBER_MAX_NDIM)
            FAIL(ctx, n, "%s: at most %d nested levels", what, EMBER_MAX_NDIM);
        ext[nd++] = t->nfields;
        if (!t->nfields)
            break;
    }
    if (nd == 0)
        FAIL(ctx, n, "%s of %s: 0-d arrays are not supported; pass a list, a tuple or an "
             "array", what, tname(ty_concrete(src), s));
    const Type *elem = NULL;
    int leaf_nd = -1;
    if (!nested_ok(src, 0, nd, ext, &elem, &leaf_nd))
        FAIL(ctx, n, "%s needs nested lists of numbers, or of arrays of one ndim, of one "
             "rectangular shape, not %s", what, tname(ty_concrete(src), s));
    if (leaf_nd > 0 && nd + leaf_nd > EMBER_MAX_NDIM)
        FAIL(ctx, n, "%s: too many dimensions", what);
    if (leaf_nd > 0)
        nd += leaf_nd;
    if (!elem)
        elem = T(TY_F64);
    if (n->target) {
        if (ty_is_complex(elem) && !ty_is_complex(n->target) && n->target->kind != TY_BOOL)
            FAIL(ctx, n, "%s: cannot convert complex numbers to %s", what,
                 tname(n->target, s));
        elem = n->target;
    }
    return ty_array(elem, nd, 'C', false);
}

static uint64_t array_roots(Ctx *ctx, const Node *n);
static void mark_written(Ctx *ctx, uint64_t roots);

/* a[idx] with an array idx (NumPy's advanced indexing, one index): a bool
 * mask of a's first k dimensions selects blocks (result: count, then a's
 * other extents); an integer array picks rows of a's first dimension
 * (result: idx's shape, then a's other extents). The number of result
 * dimensions; -1 with *why set when NumPy would refuse. */
static int take_ndim(const Type *a, const Type *idx, const char **why)
{
    if (idx->elem->kind == TY_BOOL) {
        *why = "the boolean index has more dimensions than the array";
        return idx->ndim > a->ndim ? -1 : 1 + a->ndim - idx->ndim;
    }
    *why = "arrays used as indices must be of integer or boolean type";
    if (!ty_is_int(idx->elem))
        return -1;
    *why = "the result would have too many dimensions";
    return idx->ndim + a->ndim - 1 > EMBER_MAX_NDIM ? -1 : idx->ndim + a->ndim - 1;
}

static const Type *take_type(Ctx *ctx, Node *n, const Type *a, const Type *idx)
{
    char s[256], s2[256];
    const char *why;
    int nd = take_ndim(a, idx, &why);
    if (nd < 0)
        FAIL(ctx, n, "cannot index %s with %s: %s", tname(a, s), tname(idx, s2), why);
    return ty_array(a->elem, nd, 'C', false);
}

/* a[mask] = v, a[indices] = v (ND_STORE, op 1): v a number, or a 1-D array
 * whose items go, in order, to the selected elements (one item: to each). */
static void fancy_store(Ctx *ctx, Node *n, const Type *a, const Type *idx)
{
    char s[256], s2[256];
    const Type *v = expr(ctx, n->b);
    if (!v)
        return;
    n->op = 1;
    mark_written(ctx, array_roots(ctx, n->a));
    if (!ctx->final || ctx->st != EMBER_SUCCESS)
        return;
    const char *why;
    const Type *ve = v->kind == TY_ARRAY ? v->elem : v;
    if (take_ndim(a, idx, &why) < 0)
        ctx->st = ir_error(ctx->fn, n->loc, "cannot index %s with %s: %s", tname(a, s),
                           tname(idx, s2), why);
    else if (a->readonly)
        ctx->st = ir_error(ctx->fn, n->loc, "cannot store into %s: the array is read-only "
                           "(a non-writeable NumPy array)", tname(a, s));
    else if (v->kind == TY_ARRAY && v->ndim != 1)
        ctx->st = ir_error(ctx->fn, n->b->loc, "a[%s] = value takes a number or a 1-D array "
                           "here, not %s", idx->elem->kind == TY_BOOL ? "mask" : "indices",
                           tname(v, s));
    else if (!ty_is_number(ve) || (ty_is_complex(ve) && !ty_is_complex(a->elem)))
        ctx->st = ir_error(ctx->fn, n->loc, "cannot store %s into an array of %s",
                           tname(ty_concrete(v), s), tname(a->elem, s2));
}

/* a.view(dtype), NumPy's rule: the same itemsize reinterprets each element
 * (the layout stays); another itemsize changes the last axis, which must be
 * contiguous and hold a whole number of the new items (checked at run time
 * unless the type says C-contiguous: core/lower_view.c). */
static const Type *view_type(Ctx *ctx, Node *n, const Type *a)
{
    char s[256], s2[256];
    if (a->kind != TY_ARRAY)
        FAIL(ctx, n, "view() is a method of arrays here, not of %s", tname(a, s));
    const Type *to = n->target;
    if (!to || to->kind == TY_RECORD || a->elem->kind == TY_RECORD || ty_is_weak(to))
        FAIL(ctx, n, "view() of %s as %s: only arrays of numbers are reinterpreted",
             tname(a, s), tname(to, s2));
    int from_size = ty_bits(a->elem) < 8 ? 1 : ty_bits(a->elem) / 8;
    int to_size = ty_bits(to) < 8 ? 1 : ty_bits(to) / 8;
    char layout = a->layout;
    if (from_size != to_size && layout == 'F' && a->ndim > 1)
        layout = 'A'; /* the last axis changes, the first may no longer be contiguous */
    return ty_array(to, a->ndim, layout, a->readonly);
}

/* np.empty/zeros/full/arange and the *_like forms (ND_NEW_ARRAY): a new
 * C-ordered array. The shape is an int (1-d) or a tuple of ints; dtype as
 * NumPy: float64 by default, the fill value's type for np.full, the like
 * array's for *_like; np.arange gives int64 for integer (and bool) bounds,
 * float64 when one is a float. */
static const Type *new_array_type(Ctx *ctx, Node *n)
{
    char s[256];
    const Type *shape = n->a ? expr(ctx, n->a) : NULL;
    const Type *fill = n->b ? expr(ctx, n->b) : NULL;
    bool known = (!n->a || shape) && (!n->b || fill);
    bool float_bounds = false;
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = expr(ctx, n->args[i]);
        if (!t) {
            known = false;
            continue;
        }
        if (!ty_is_int(t) && !ty_is_float(t) && t->kind != TY_BOOL)
            FAIL(ctx, n->args[i], "np.arange() bounds must be integers or floats, not %s",
                 tname(ty_concrete(t), s));
        float_bounds |= ty_is_float(t);
    }
    if (!known)
        return NULL;
    if (n->op == NEW_VIEW)
        return view_type(ctx, n, fill);
    if (n->op == NEW_FROM || n->op == NEW_ASARRAY)
        return array_from_type(ctx, n, shape);
    if (n->op == NEW_TAKE)
        return take_type(ctx, n, shape, fill);
    if (n->op == NEW_ROWS0 || n->op == NEW_ROWS) { /* list comprehensions: rows of items */
        if (!ty_is_int(shape))
            FAIL(ctx, n, "malformed list comprehension");
        if (n->c && !(fill = expr(ctx, n->c))) /* a list's witness: the items' type */
            return NULL;
        if (fill->kind == TY_ARRAY) {
            if (fill->ndim + 1 > EMBER_MAX_NDIM)
                FAIL(ctx, n, "a list of %s has too many dimensions", tname(fill, s));
            return ty_array(fill->elem, fill->ndim + 1, 'C', false);
        }
        if (!ty_is_number(fill))
            FAIL(ctx, n, "a list comprehension's items must be numbers or arrays, not %s "
                 "(lists of tuples are not supported)", tname(ty_concrete(fill), s));
        return ty_array(ty_concrete(fill), 1, 'C', false);
    }
    if (n->op == NEW_LINSPACE || n->op == NEW_EYE) {
        /* linspace(start, stop, num, endpoint), eye(N, [M,] k): float64 by default */
        const char *what = n->op == NEW_EYE ? "np.eye()" : "np.linspace()";
        for (int i = 0; i < n->nargs; i++) {
            const Type *t = ty_concrete(n->args[i]->ty);
            bool bound = n->op == NEW_LINSPACE && i < 2, flag = n->op == NEW_LINSPACE && i == 3;
            if (bound ? !(ty_is_int(t) || ty_is_float(t) || t->kind == TY_BOOL)
                      : flag ? !ty_is_number(t) || ty_is_complex(t)
                             : !(ty_is_int(t) || t->kind == TY_BOOL))
                FAIL(ctx, n->args[i], "%s: this argument must be %s, not %s", what,
                     bound ? "a real number (complex bounds are not supported)"
                           : flag ? "a bool" : "an integer", tname(t, s));
        }
        const Type *elem = n->target ? n->target : T(TY_F64);
        if (ty_is_complex(elem))
            FAIL(ctx, n, "%s cannot make a %s array here", what, tname(elem, s));
        return ty_array(elem, n->op == NEW_EYE ? 2 : 1, 'C', false);
    }
    if (n->op == NEW_ARANGE) {
        const Type *elem = n->target ? n->target : T(float_bounds ? TY_F64 : TY_I64);
        if (ty_is_complex(elem) || elem->kind == TY_BOOL)
            FAIL(ctx, n, "np.arange() cannot make a %s array", tname(elem, s));
        return ty_array(elem, 1, 'C', false);
    }
    const Type *elem = n->target;
    int ndim;
    if (shape->kind == TY_ARRAY) { /* *_like */
        ndim = shape->ndim;
        if (!elem)
            elem = shape->elem;
    } else if (ty_is_int(shape) || shape->kind == TY_BOOL) {
        ndim = 1;
    } else if (shape->kind == TY_TUPLE) {
        ndim = shape->nfields;
        for (int i = 0; i < shape->nfields; i++)
            if (!ty_is_int(shape->fields[i]))
                FAIL(ctx, n->a, "the shape of a new array must be an int or a tuple of ints, "
                     "not %s", tname(ty_concrete(shape), s));
        if (ndim == 0)
            FAIL(ctx, n->a, "0-d arrays (shape ()) are not supported; use a scalar or shape (1,)");
        if (ndim > EMBER_MAX_NDIM)
            FAIL(ctx, n->a, "a new array can have at most %d dimensions", EMBER_MAX_NDIM);
    } else {
        FAIL(ctx, n->a, "the shape of a new array must be an int or a tuple of ints, not %s",
             tname(ty_concrete(shape), s));
    }
    if (n->op == NEW_RESHAPE) { /* a.reshape(shape): a view, C-contiguous arrays only */
        if (fill->kind != TY_ARRAY)
            FAIL(ctx, n, "reshape() is a method of arrays, not of %s", tname(fill, s));
        if (shape->kind == TY_ARRAY)
            FAIL(ctx, n->a, "reshape() takes ints or a tuple of ints, not %s", tname(shape, s));
        if (fill->layout != 'C')
            FAIL(ctx, n, "reshape() of %s: only C-contiguous arrays can be reshaped here (a "
                 "view); reshape a.copy() instead", tname(fill, s));
        return ty_array(fill->elem, ndim, 'C', fill->readonly);
    }
    if (!elem && fill) {
        if (!ty_is_number(fill))
            FAIL(ctx, n->b, "the fill value must be a number, not %s", tname(fill, s));
        elem = ty_concrete(fill);
    }
    if (!elem)
        elem = T(TY_F64);
    if (fill && !ty_is_number(fill))
        FAIL(ctx, n->b, "the fill value must be a number, not %s", tname(fill, s));
    if (fill && ty_is_complex(fill) && !ty_is_complex(elem))
        FAIL(ctx, n->b, "a complex fill value for a %s array", tname(elem, s));
    return ty_array(elem, ndim, 'C', false);
}

static const Type *slice_type(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a);
    bool known = a != NULL;
    char s[256];
    for (int i = 0; i < n->nargs; i++) {
        Node *it = n->args[i];
        Node *parts[3] = {it, NULL, NULL};
        if (it->kind == ND_SLICE_PART) {
            parts[0] = it->a, parts[1] = it->b, parts[2] = it->c;
            it->ty = T(TY_VOID);
        }
        for (int j = 0; j < 3; j++) {
            if (!parts[j])
                continue;
            const Type *t = expr(ctx, parts[j]);
            if (!t) {
                known = false;
                continue;
            }
            if (!ty_is_int(t))
                FAIL(ctx, parts[j], "slice %s must be an integer, not %s",
                     it->kind == ND_SLICE_PART ? (j == 0 ? "start" : j == 1 ? "stop" : "step")
                                               : "index",
                     tname(ty_concrete(t), s));
        }
    }
    if (!known)
        return NULL;
    if (a->kind != TY_ARRAY)
        FAIL(ctx, n, "%s is not an array and cannot be sliced", tname(a, s));
    if (n->nargs > a->ndim)
        FAIL(ctx, n, "too many indices for %s: %d given, it has %d dimension%s", tname(a, s),
             n->nargs, a->ndim, a->ndim == 1 ? "" : "s");
    int nd = a->ndim, kept = 0, first_kept = -1, last_kept = -1;
    int first_int = -1, last_int = -1;
    bool stepped = false;
    for (int i = 0; i < nd; i++) {
        const Node *it = i < n->nargs ? n->args[i] : NULL;
        if (it && it->kind != ND_SLICE_PART) {
            if (first_int < 0)
                first_int = i;
            last_int = i;
            continue;
        }
        kept++;
        if (first_kept < 0)
            first_kept = i;
        last_kept = i;
        if (it && it->c && !is_const_one(it->c))
            stepped = true;
    }
    if (kept == 0)
        FAIL(ctx, n, "a slice that keeps no dimension (index the element instead)");
    char layout = 'A';
    if (!stepped && (a->layout == 'C' || a->layout == 'F')) {
        bool c_ok = a->layout == 'C' && (last_int < 0 || last_int < first_kept);
        bool f_ok = a->layout == 'F' && (first_int < 0 || first_int > last_kept);
        for (int i = 0; i < n->nargs && (c_ok || f_ok); i++) {
            const Node *it = n->args[i];
            bool partial = it->kind == ND_SLICE_PART && (it->a || it->b);
            if (partial && c_ok && i != first_kept)
                c_ok = false;
            if (partial && f_ok && i != last_kept)
                f_ok = false;
        }
        layout = c_ok ? 'C' : f_ok ? (kept == 1 ? 'C' : 'F') : 'A';
    }
    return ty_array(a->elem, kept, layout, a->readonly);
}

static const Type *reduction_type(Ctx *ctx, Node *n, const Type *a);
static const Type *flat_type(Ctx *ctx, Node *n, const Type *a);
static const Type *attr(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a);
    if (!a)
        return NULL;
    char s[256];
    switch (n->op) {
    case ATTR_FIELD: { /* r.x, r['x'] of a record (numba: a.x of an array is not) */
        static const char *const xyzw[] = {"x", "y", "z", "w"};
        for (int k = 0; a->kind == TY_TUPLE && k < 4; k++)
            if (strcmp(n->text, xyzw[k]) == 0) { /* v.x of a vector (a tuple) */
                if (k >= a->nfields)
                    FAIL(ctx, n, "a vector of %d element%s has no attribute '%s'", a->nfields,
                         a->nfields == 1 ? "" : "s", n->text);
                n->kind = ND_TUPLE_GET;
                n->index = k;
                return a->fields[k];
            }
        if (a->kind == TY_ARRAY && a->elem->kind == TY_RECORD) {
            /* a.x of an array of records (numba, NumPy's recarray): a view of
             * that field in every record, same shape and strides */
            const Type *rec = a->elem;
            int k = ty_record_field(rec, n->text);
            if (k < 0)
                FAIL(ctx, n, "the records of %s have no field '%s'", tname(a, s), n->text);
            const Type *ft = rec->fields[k];
            if (ft->kind == TY_ARRAY || ft->kind == TY_RECORD)
                FAIL(ctx, n, "a.%s: a view of a nested array or record field across an array "
                     "is not supported; index a record first (a[i].%s)", n->text, n->text);
            int64_t want = ty_bits(ft) < 8 ? 1 : ty_bits(ft) / 8;
            if (rec->offsets[k] % want != 0 || rec->size % want != 0 || rec->align % want != 0)
                FAIL(ctx, n, "a.%s: the field is not aligned in these packed records, so it "
                     "cannot be viewed as an array; index a record first (a[i].%s)", n->text,
                     n->text);
            n->index = k;
            return ty_array(ft, a->ndim, 'A', a->readonly);
        }
        if (a->kind != TY_RECORD)
            FAIL(ctx, n, "%s has no attribute '%s' (kernels support .shape, .strides, .size, "
                 ".ndim, .T on arrays, .real, .imag on numbers, the fields of records and "
                 "of arrays of records, .x .y .z .w of vectors)", tname(a, s), n->text);
        int k = ty_record_field(a, n->text);
        if (k < 0)
            FAIL(ctx, n, "the record has no field '%s' (%s)", n->text, tname(a, s));
        n->index = k;
        const Type *ft = a->fields[k];
        if (a->fchars[k] && !n->chars_dest)
            FAIL(ctx, n, "the field '%s' holds a string (%s): kernels cannot read strings, "
                 "only store a constant str or bytes into them (r.%s = \"...\")", n->text,
                 tname(a, s), n->text);
        if (a->readonly && ft->kind == TY_ARRAY) /* a nested array of a read-only record */
            return ty_array(ft->elem, ft->ndim, ft->layout, true);
        return ft;
    }
    case ATTR_SHAPE: case ATTR_STRIDES: {
        if (a->kind != TY_ARRAY)
            FAIL(ctx, n, "%s has no attribute '%s'", tname(a, s),
                 n->op == ATTR_SHAPE ? "shape" : "strides");
        const Type *f[EMBER_MAX_NDIM];
        for (int i = 0; i < a->ndim; i++)
            f[i] = T(TY_I64);
        return ty_tuple(a->ndim, f);
    }
    case ATTR_T: /* NumPy: a C array's transpose is F-ordered and the other way round */
        if (a->kind != TY_ARRAY)
            FAIL(ctx, n, "%s has no attribute 'T'", tname(a, s));
        return ty_array(a->elem, a->ndim,
                        a->ndim == 1 ? a->layout
                        : a->layout == 'C' ? 'F' : a->layout == 'F' ? 'C' : 'A', a->readonly);
    case ATTR_SUM: case ATTR_PROD: case ATTR_MIN: case ATTR_MAX: case ATTR_MEAN:
    case ATTR_ARGMIN: case ATTR_ARGMAX: case ATTR_ALL: case ATTR_ANY: case ATTR_VAR:
    case ATTR_STD: case ATTR_CUMSUM: case ATTR_CUMPROD:
        return reduction_type(ctx, n, a);
    case ATTR_FLAT: case ATTR_NDITER:
        return flat_type(ctx, n, a);
    case ATTR_DOT: { /* np.dot / @: NumPy's shapes; the promoted element type */
        const Type *b = expr(ctx, n->b);
        char s2[256];
        if (!b)
            return NULL;
        if (a->kind != TY_ARRAY || b->kind != TY_ARRAY || a->ndim > 2 || b->ndim > 2)
            FAIL(ctx, n, "np.dot / @ of %s and %s: 1-D and 2-D arrays only here",
                 tname(ty_concrete(a), s), tname(ty_concrete(b), s2));
        const Type *e = ty_promote(a->elem, b->elem);
        if (!e || ty_is_complex(e))
            FAIL(ctx, n, "np.dot / @ of %s and %s: real numbers only here", tname(a, s),
                 tname(b, s2));
        if (e->kind == TY_BOOL)
            e = T(TY_BOOL);
        int nd = a->ndim + b->ndim - 2;
        return nd == 0 ? e : ty_array(e, nd, 'C', false);
    }
    case ATTR_SORT: case ATTR_ARGSORT: case ATTR_SORT_INPLACE: {
        const char *what = n->op == ATTR_ARGSORT ? "argsort()" : "sort()";
        if (a->kind != TY_ARRAY)
            FAIL(ctx, n, "%s of %s: sorting is of arrays", what, tname(a, s));
        if (ty_is_complex(a->elem))
            FAIL(ctx, n, "%s of a complex array is not supported", what);
        if (n->op == ATTR_SORT_INPLACE) {
            if (a->readonly)
                FAIL(ctx, n, "a.sort() of %s: the array is read-only", tname(a, s));
            mark_written(ctx, array_roots(ctx, n->a));
            return a;
        }
        return ty_array(n->op == ATTR_SORT ? a->elem : T(TY_I64), a->ndim, 'C', false);
    }
    case ATTR_UNRAVEL: {
        const Type *k = expr(ctx, n->b), *f[EMBER_MAX_NDIM];
        if (!k)
            return NULL;
        if (a->kind != TY_ARRAY || !ty_is_int(k))
            FAIL(ctx, n, "malformed np.ndenumerate()");
        for (int i = 0; i < a->ndim; i++)
            f[i] = T(TY_I64);
        return ty_tuple(a->ndim, f);
    }
    case ATTR_SIZE: case ATTR_NDIM: case ATTR_LEN:
        /* len() of a tuple the front end could not count (t[1] of a tuple
         * parameter, a device function's tuple parameter): its arity, a
         * constant (lower_array.c); the tuple is still evaluated */
        if (n->op == ATTR_LEN && a->kind == TY_TUPLE)
            return T(TY_I64);
        if (a->kind != TY_ARRAY)
            FAIL(ctx, n, "%s has no %s", tname(a, s), n->op == ATTR_LEN ? "len()" : "size/ndim");
        return T(TY_I64);
    case ATTR_REAL: case ATTR_IMAG:
        if (a->kind == TY_ARRAY && (ty_is_complex(a->elem) || n->op == ATTR_REAL) &&
            ty_is_number(a->elem)) {
            /* a.real / a.imag of a complex array: a view of that part of each
             * element (NumPy's and numba's), same shape and strides; a.real of
             * a real array is the array */
            if (!ty_is_complex(a->elem))
                return a;
            return ty_array(T(a->elem->kind == TY_C64 ? TY_F32 : TY_F64), a->ndim, 'A',
                            a->readonly);
        }
        if (!ty_is_number(a))
            FAIL(ctx, n, "%s has no attribute '%s'", tname(a, s),
                 n->op == ATTR_REAL ? "real" : "imag");
        if (a->kind == TY_C64)
            return T(TY_F32);
        if (ty_is_complex(a))
            return T(TY_F64);
        return ty_concrete(arith_type(a));
    case ATTR_CONJ:
        if (!ty_is_number(a))
            FAIL(ctx, n, "%s has no method 'conjugate'", tname(a, s));
        return ty_concrete(arith_type(a));
    default:
        FAIL(ctx, n, "unknown attribute %d", n->op);
    }
}

/* a.sum(), np.argmin(a, axis) ...: NumPy's result types (numba's): sums and
 * products (cumulative too) of bool and signed ints are int64, of unsigned
 * ints uint64; mean, var and std of an integer array float64; argmin/argmax
 * int64; all/any bool. With an axis (n->b, an int), an array of one
 * dimension less (a 1-D array gives the scalar); cumsum/cumprod give a 1-D
 * array, or the array's shape with an axis. */
static const Type *reduction_type(Ctx *ctx, Node *n, const Type *a)
{
    static const char *const names[] = {"argmin", "argmax", "all", "any", "var", "std",
                                        "cumsum", "cumprod"};
    static const char *const first[] = {"sum", "prod", "min", "max", "mean"};
    int op = n->op;
    const char *name = op >= ATTR_ARGMIN ? names[op - ATTR_ARGMIN] : first[op - ATTR_SUM];
    char s[256];
    if ((op == ATTR_MIN || op == ATTR_MAX) && n->b && ty_is_number(a)) {
        /* np.min(x, y) of numbers: the elementwise np.minimum, as before */
        Node **args = ir_node_list(ctx->fn, 2);
        if (!args)
            FAIL(ctx, n, "out of memory");
        args[0] = n->a;
        args[1] = n->b;
        n->kind = ND_CALL_MATH;
        n->op = op == ATTR_MIN ? MATH_MIN : MATH_MAX;
        n->index = MATHF_NUMPY;
        n->args = args;
        n->nargs = 2;
        n->a = n->b = NULL;
        return math_call(ctx, n);
    }
    if (a->kind != TY_ARRAY)
        FAIL(ctx, n, "%s has no %s() (reductions are of arrays)", tname(a, s), name);
    const Type *e = a->elem, *r;
    bool cum = op == ATTR_CUMSUM || op == ATTR_CUMPROD;
    if (ty_is_complex(e) && (op == ATTR_MIN || op == ATTR_MAX || op == ATTR_ARGMIN ||
                             op == ATTR_ARGMAX || op == ATTR_VAR || op == ATTR_STD))
        FAIL(ctx, n, "%s() of a complex array is not supported", name);
    if (op == ATTR_MIN || op == ATTR_MAX)
        r = e;
    else if (op == ATTR_ARGMIN || op == ATTR_ARGMAX)
        r = T(TY_I64);
    else if (op == ATTR_ALL || op == ATTR_ANY)
        r = T(TY_BOOL);
    else if (ty_is_float(e) || ty_is_complex(e))
        r = e;
    else if (op == ATTR_MEAN || op == ATTR_VAR || op == ATTR_STD)
        r = T(TY_F64);
    else
        r = e->kind == TY_BOOL || ty_is_signed(e) ? T(TY_I64) : T(TY_U64);
    if (n->b) {
        const Type *ax = expr(ctx, n->b);
        if (!ax)
            return NULL;
        if (!ty_is_int(ax))
            FAIL(ctx, n->b, "%s(): axis must be an integer, not %s", name,
                 tname(ty_concrete(ax), s));
        if (cum || a->ndim > 1)
            return ty_array(r, cum ? a->ndim : a->ndim - 1, 'C', false);
        return r;
    }
    return cum ? ty_array(r, 1, 'C', false) : r;
}

/* a.flat (and np.nditer(a) in a for loop): the elements in C order as a
 * 1-D array: a.reshape(-1) of a C-contiguous array (a view: stores go to
 * a), else of a copy, which is read-only (stores could not reach a).
 * np.nditer visits memory order, so it takes C-contiguous arrays only. */
static const Type *flat_type(Ctx *ctx, Node *n, const Type *a)
{
    char s[256];
    bool nditer = n->op == ATTR_NDITER;
    if (a->kind != TY_ARRAY)
        FAIL(ctx, n, "%s has no attribute 'flat'", tname(a, s));
    if (nditer && a->layout != 'C')
        FAIL(ctx, n, "np.nditer() of %s: only C-contiguous arrays here (nditer visits memory "
             "order); loop over a.flat for C order", tname(a, s));
    bool copy = a->layout != 'C';
    Node *src = n->a, *minus1 = ir_node(ctx->fn, ND_CONST, n->loc);
    if (copy) {
        Node *c = ir_node(ctx->fn, ND_NEW_ARRAY, n->loc);
        if (!c)
            FAIL(ctx, n, "out of memory");
        c->op = NEW_FROM;
        c->ival = 1; /* read-only */
        c->a = src;
        src = c;
    }
    if (!minus1)
        FAIL(ctx, n, "out of memory");
    minus1->ty = T(TY_I64);
    minus1->ival = -1;
    n->kind = ND_NEW_ARRAY;
    n->op = NEW_RESHAPE;
    n->a = minus1;
    n->b = src;
    n->target = NULL;
    return expr(ctx, n);
}

static const Type *cast(Ctx *ctx, Node *n)
{
    const Type *a = expr(ctx, n->a);
    if (!a)
        return NULL;
    char s[256], s2[256];
    if (n->target && (ty_is_bf16(n->target) || ty_is_bf16(a))) {
        /* bfloat16 from a real number (rounded to nearest even), to any number */
        if (ty_is_bf16(n->target) && !ty_is_bf16(a) && (!ty_is_number(a) || ty_is_complex(a)))
            FAIL(ctx, n, "cannot convert %s to bfloat16%s", tname(a, s),
                 ty_is_complex(a) ? ": take .real first" : "");
        if (ty_is_bf16(a) && !ty_is_bf16(n->target) &&
            (!ty_is_number(n->target) || ty_is_weak(n->target)))
            FAIL(ctx, n, "cannot convert bfloat16 to %s", tname(n->target, s));
        return n->target;
    }
    if (!n->target || !ty_is_number(n->target) || ty_is_weak(n->target))
        FAIL(ctx, n, "conversion to %s is not supported", tname(n->target, s));
    if (!ty_is_number(a))
        FAIL(ctx, n, "cannot convert %s to %s", tname(a, s), tname(n->target, s2));
    if (ty_is_complex(a) && !ty_is_complex(n->target) && n->target->kind != TY_BOOL)
        FAIL(ctx, n, "cannot convert %s to %s: take .real or abs() first", tname(a, s),
             tname(n->target, s2));
    return n->target;
}

/* The array parameters an array expression may refer to. */
static uint64_t array_roots(Ctx *ctx, const Node *n)
{
    if (!n)
        return 0;
    if (n->kind == ND_PARAM)
        return n->index < 64 ? (uint64_t)1 << n->index : ~(uint64_t)0;
    if (n->kind == ND_LOAD && n->var >= 0 && n->var < ctx->fn->nvars)
        return ctx->alias[n->var];
    if (n->kind == ND_IFEXP)
        return array_roots(ctx, n->b) | array_roots(ctx, n->c);
    if (n->kind == ND_TUPLE_GET || n->kind == ND_SLICE ||
        (n->kind == ND_ATTR && (n->op == ATTR_T || n->op == ATTR_FIELD)))
        return array_roots(ctx, n->a);
    if (n->kind == ND_INDEX && n->ty && n->ty->kind == TY_RECORD)
        return array_roots(ctx, n->a); /* a record is a reference into its array */
    if (n->kind == ND_NEW_ARRAY && (n->op == NEW_RESHAPE || n->op == NEW_VIEW))
        return array_roots(ctx, n->b);
    if (n->kind == ND_TUPLE || n->kind == ND_CALL) {
        /* a device function may return (a view of) any array it is given */
        uint64_t m = 0;
        for (int i = 0; i < n->nargs; i++)
            m |= array_roots(ctx, n->args[i]);
        return m;
    }
    return 0;
}

static void mark_written(Ctx *ctx, uint64_t roots)
{
    for (int p = 0; p < ctx->fn->nparams && p < 64; p++)
        if (roots & ((uint64_t)1 << p))
            ctx->fn->param_written[p] = true;
    if (roots == ~(uint64_t)0)
        for (int p = 0; p < ctx->fn->nparams; p++)
            ctx->fn->param_written[p] = true;
}

/* An error inside a device function, reported by its caller: the callee's
 * location and file, with the call site as context. */
static void callee_error(Ctx *ctx, const Node *call, const Function *spec)
{
    if (ctx->final && ctx->st == EMBER_SUCCESS)
        ctx->st = ir_error_in_callee(ctx->fn, call->loc, spec);
}

/* numba's cuda.atomic: on int32, int64, uint32, uint64, float32 and float64
 * arrays (bitwise operations, inc and dec on integers only); the value is
 * converted to the element type; the result is the old element. */
static const Type *atomic(Ctx *ctx, Node *n)
{
    static const char *const names[ATOM_COUNT] = {"add", "sub", "max", "min", "nanmax",
        "nanmin", "and_", "or_", "xor", "exch", "inc", "dec", "cas"};
    Node probe = *n;
    probe.kind = ND_INDEX;
    const Type *elem = NULL;
    const Type *arr = index_type(ctx, &probe, &elem);
    const Type *v = expr(ctx, n->b);
    const Type *v2 = n->c ? expr(ctx, n->c) : v;
    if (!arr || !v || !v2)
        return NULL;
    char s[256], s2[256];
    const char *name = (unsigned)n->op < ATOM_COUNT ? names[n->op] : "?";
    if (arr->readonly)
        FAIL(ctx, n, "cuda.atomic.%s on %s: the array is read-only", name, tname(arr, s));
    TypeKind k = elem->kind;
    if (k == TY_F16 && n->op != ATOM_ADD && n->op != ATOM_SUB) /* CUDA: atomicAdd(__half) */
        FAIL(ctx, n, "cuda.atomic.%s is not supported on arrays of float16 (add and sub are)",
             name);
    if (k != TY_I32 && k != TY_I64 && k != TY_U32 && k != TY_U64 && k != TY_F32 &&
        k != TY_F64 && k != TY_F16)
        FAIL(ctx, n, "cuda.atomic.%s is not supported on arrays of %s (int32, int64, uint32, "
             "uint64, float16, float32 and float64 only)", name, tname(elem, s));
    bool is_float = k == TY_F32 || k == TY_F64;
    if (is_float && (n->op == ATOM_AND || n->op == ATOM_OR || n->op == ATOM_XOR ||
                     n->op == ATOM_INC || n->op == ATOM_DEC))
        FAIL(ctx, n, "cuda.atomic.%s needs an integer array, not %s", name, tname(arr, s));
    if (!ty_is_number(v) || ty_is_complex(v) || !ty_is_number(v2) || ty_is_complex(v2))
        FAIL(ctx, n, "cuda.atomic.%s of %s into an array of %s", name,
             tname(ty_is_number(v) && !ty_is_complex(v) ? v2 : v, s), tname(elem, s2));
    mark_written(ctx, array_roots(ctx, n->a));
    return elem;
}

/* Whether a value of type `from` may be passed where `to` is declared:
 * numbers to numbers (not complex to real), arrays of the same dtype and
 * ndim whose layout fits (anything fits 'A'; a read-only array only a
 * read-only parameter), tuples field by field. */
static bool convertible(const Type *from, const Type *to)
{
    from = ty_concrete(from);
    if (from == to)
        return true;
    if (ty_is_number(from) && ty_is_number(to))
        return !(ty_is_complex(from) && !ty_is_complex(to)) || to->kind == TY_BOOL;
    if (from->kind == TY_ARRAY && to->kind == TY_ARRAY)
        return from->elem == to->elem && from->ndim == to->ndim &&
               (to->layout == 'A' || to->layout == from->layout) &&
               (!from->readonly || to->readonly);
    if (from->kind == TY_TUPLE && to->kind == TY_TUPLE && from->nfields == to->nfields) {
        for (int i = 0; i < from->nfields; i++)
            if (!convertible(from->fields[i], to->fields[i]))
                return false;
        return true;
    }
    return false;
}

/* A call of a foreign function (cuda.declare_device), typed by its
 * declaration alone: numbers convert to the declared type; a CPointer(T)
 * parameter takes an array of T (voidptr: any array), passed as its data
 * pointer; an array parameter takes an array as a device function's does.
 * The foreign code may write any array it is given. */
static const Type *foreign_call(Ctx *ctx, Node *n)
{
    const Function *tmpl = n->callee;
    if (n->nargs != tmpl->nparams)
        FAIL(ctx, n, "%s() takes %d argument%s, %d given", tmpl->name, tmpl->nparams,
             tmpl->nparams == 1 ? "" : "s", n->nargs);
    const Type *types[256];
    if (n->nargs > 256)
        FAIL(ctx, n, "too many arguments");
    char s1[256], s2[256];
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = expr(ctx, n->args[i]);
        if (!t)
            return NULL;
        t = ty_concrete(t);
        const Type *want = tmpl->decl_params[i];
        int kind = tmpl->foreign_kinds[i];
        if (kind != FOREIGN_VALUE) {
            if (t->kind != TY_ARRAY || (kind == FOREIGN_CPOINTER && t->elem != want))
                FAIL(ctx, n->args[i], "argument %d of %s() is %s; its declaration takes %s%s%s: "
                     "pass an array%s%s", i + 1, tmpl->name, tname(t, s1),
                     kind == FOREIGN_VOIDPTR ? "voidptr" : "CPointer(",
                     kind == FOREIGN_VOIDPTR ? "" : tname(want, s2),
                     kind == FOREIGN_VOIDPTR ? "" : ")", kind == FOREIGN_VOIDPTR ? "" : " of ",
                     kind == FOREIGN_VOIDPTR ? "" : s2);
            if (t->readonly)
                FAIL(ctx, n->args[i], "argument %d of %s() is a read-only array; a pointer lets "
                     "the foreign function write it", i + 1, tmpl->name);
            types[i] = t;
        } else {
            if (!convertible(t, want))
                FAIL(ctx, n->args[i], "argument %d of %s() is %s, which does not convert to "
                     "%s of its declaration", i + 1, tmpl->name, tname(t, s1), tname(want, s2));
            types[i] = want;
        }
        if (t->kind == TY_ARRAY && !t->readonly)
            mark_written(ctx, array_roots(ctx, n->args[i]));
    }
    Function *root = ctx->fn->root ? ctx->fn->root : ctx->fn;
    Function *spec = ir_specialise(root, tmpl, types);
    if (!spec)
        FAIL(ctx, n, "out of memory specialising '%s'", tmpl->name);
    spec->infer_state = 2;
    spec->infer_st = EMBER_SUCCESS;
    spec->return_type = tmpl->decl_return;
    n->spec = spec;
    return tmpl->decl_return;
}

/* Whether a function body has a `return <value>`. */
static bool returns_a_value(const Node *n)
{
    if (!n)
        return false;
    if (n->kind == ND_RETURN && n->a)
        return true;
    if (returns_a_value(n->a) || returns_a_value(n->b) || returns_a_value(n->c))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (returns_a_value(n->args[i]))
            return true;
    return false;
}

/* numba: a device function is compiled for the argument types at each call
 * (weak literals become int64 / float64 / complex128), and returns what its
 * `return` statements give (nothing when it has none). A store into an
 * array parameter inside it is a store into the caller's argument. */
static const Type *call(Ctx *ctx, Node *n)
{
    const Function *tmpl = n->callee;
    if (tmpl && tmpl->foreign && tmpl->decl_params && tmpl->decl_return && tmpl->foreign_kinds)
        return foreign_call(ctx, n);
    if (!tmpl || !tmpl->body)
        FAIL(ctx, n, "call of a device function without a body");
    if (n->nargs != tmpl->nparams)
        FAIL(ctx, n, "%s() takes %d argument%s, %d given", tmpl->name, tmpl->nparams,
             tmpl->nparams == 1 ? "" : "s", n->nargs);
    const Type *types[256];
    if (n->nargs > 256)
        FAIL(ctx, n, "too many arguments");
    char s1[256], s2[256];
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = expr(ctx, n->args[i]);
        if (!t)
            return NULL;
        types[i] = ty_concrete(t);
        if (tmpl->decl_params) {
            /* an explicit signature: the argument converts to the declared type */
            const Type *want = tmpl->decl_params[i];
            if (!convertible(types[i], want))
                FAIL(ctx, n->args[i], "argument %d of %s() is %s, which does not convert to "
                     "%s of its signature", i + 1, tmpl->name, tname(types[i], s1),
                     tname(want, s2));
            types[i] = want;
        }
    }
    Function *root = ctx->fn->root ? ctx->fn->root : ctx->fn;
    Function *spec = ir_specialise(root, tmpl, types);
    if (!spec)
        FAIL(ctx, n, "out of memory specialising '%s'", tmpl->name);
    if (spec->infer_state == 1) {
        /* numba (typeinfer.py resolve_call): a recursive call without a
         * signature returns what the function's other returns give so far;
         * the passes of infer_function widen that to a fixed point. None
         * yet is "runaway recursion" (an error in the final pass). Only
         * self-recursion: a function called back from another one is typed
         * before this one's returns are known. */
        if (!tmpl->decl_return && spec != ctx->fn)
            FAIL(ctx, n, "recursive call to device function '%s' through another function: "
                 "mutual recursion needs explicit signatures", tmpl->name);
        if (!tmpl->decl_return && !spec->return_type && !returns_a_value(spec->body))
            spec->return_type = T(TY_VOID); /* only bare returns: it gives nothing */
        if (!tmpl->decl_return && !spec->return_type)
            FAIL(ctx, n, "recursive call to device function '%s': cannot type infer runaway "
                 "recursion (no return of its own gives its type; or give it a signature)",
                 tmpl->name);
        /* recursion: typed by the signature (or the returns); the arrays
         * it is given may be written (its own analysis is not finished) */
        spec->recursive = true;
        n->spec = spec;
        for (int p = 0; p < n->nargs; p++)
            mark_written(ctx, array_roots(ctx, n->args[p]));
        return tmpl->decl_return ? tmpl->decl_return : spec->return_type;
    }
    if (spec->infer_state == 0) {
        spec->infer_state = 1;
        spec->infer_st = infer_function(spec);
        spec->infer_state = 2;
    }
    if (spec->infer_st != EMBER_SUCCESS) {
        callee_error(ctx, n, spec);
        return NULL;
    }
    n->spec = spec;
    for (int p = 0; p < n->nargs; p++)
        if (spec->param_written[p])
            mark_written(ctx, array_roots(ctx, n->args[p]));
    return spec->return_type;
}

static const Type *expr(Ctx *ctx, Node *n)
{
    if (!n)
        return NULL;
    const Type *t = NULL;
    char s[256];
    switch (n->kind) {
    case ND_CONST:
        t = n->ty;
        if (!t || !ty_is_number(t))
            FAIL(ctx, n, "constant without a numeric type");
        return t;
    case ND_PARAM:
        if (n->index < 0 || n->index >= ctx->fn->nparams || !ctx->fn->param_types[n->index])
            FAIL(ctx, n, "parameter %d has no type", n->index);
        t = ctx->fn->param_types[n->index];
        break;
    case ND_LOAD:
        if (n->var < 0 || n->var >= ctx->fn->nvars)
            FAIL(ctx, n, "bad variable slot %d", n->var);
        t = ctx->fn->var_types[n->var];
        if (!t)
            FAIL(ctx, n, "variable '%s' is used before a value is assigned to it",
                 ctx->fn->var_names[n->var]);
        break;
    case ND_UNARY: t = unary(ctx, n); break;
    case ND_BINARY: t = binary(ctx, n); break;
    case ND_COMPARE: t = compare(ctx, n); break;
    case ND_AND: case ND_OR: {
        const Type *a = truthy(ctx, n->a, n->kind == ND_AND ? "an 'and' operand" : "an 'or' operand");
        const Type *b = truthy(ctx, n->b, n->kind == ND_AND ? "an 'and' operand" : "an 'or' operand");
        /* a or b / a and b give an operand (Python, numba): bool when both
         * are bools, else the two operands' common type */
        if (!a || !b)
            return NULL;
        if (a->kind == TY_BOOL && b->kind == TY_BOOL)
            t = T(TY_BOOL);
        else if (!(t = ty_promote(a, b))) {
            char s2[256];
            FAIL(ctx, n, "the operands of '%s' have types %s and %s with no common type",
                 n->kind == ND_AND ? "and" : "or", tname(a, s), tname(b, s2));
        }
        break;
    }
    case ND_IFEXP: {
        if (n->op == 1) { /* np.where(cond, x, y) */
            const Type *c = expr(ctx, n->a), *x = expr(ctx, n->b), *y = expr(ctx, n->c);
            if (!c || !x || !y)
                return NULL;
            if (c->kind == TY_ARRAY || x->kind == TY_ARRAY || y->kind == TY_ARRAY) {
                Node **slots[3] = {&n->a, &n->b, &n->c};
                return to_array_expr(ctx, n, slots, 3);
            }
        }
        const Type *c = truthy(ctx, n->a, "a condition");
        const Type *a = expr(ctx, n->b), *b = expr(ctx, n->c);
        if (!c || !a || !b)
            return NULL;
        if (a == b)
            t = a;
        else if (!(t = ty_promote(a, b))) {
            char s2[256];
            FAIL(ctx, n, "the two branches of a conditional expression have types %s and %s",
                 tname(a, s), tname(b, s2));
        }
        break;
    }
    case ND_CAST: t = cast(ctx, n); break;
    case ND_CALL_MATH: t = math_call(ctx, n); break;
    case ND_INTRINSIC: t = intrinsic(ctx, n); break;
    case ND_INDEX: {
        /* t[k] on a tuple: in a device function the front end cannot know
         * that a parameter is a tuple (its type comes with each call) */
        const Type *at = expr(ctx, n->a);
        if (at && at->kind == TY_TUPLE && n->nargs == 1) {
            int64_t k = 0;
            if (!const_int(n->args[0], &k)) { /* t[i]: a homogeneous tuple (numba's UniTuple) */
                bool same = at->nfields > 0;
                for (int f = 1; f < at->nfields && same; f++)
                    same = at->fields[f] == at->fields[0];
                if (!same)
                    FAIL(ctx, n, "%s can only be indexed with constant integers (any integer "
                         "indexes a tuple whose items have one type)", tname(at, s));
                n->kind = ND_TUPLE_GET; /* dynamic: the index stays in args[0] */
                n->index = 0;
                return expr(ctx, n);
            }
            if (k < -64 || k > 63)
                FAIL(ctx, n, "tuples can only be indexed with constant integers");
            n->kind = ND_TUPLE_GET;
            n->index = (int)k;
            n->args = NULL;
            n->nargs = 0;
            return expr(ctx, n);
        }
        if (at && at->kind == TY_RECORD && n->nargs == 1) {
            /* r[k]: the record's k-th field (numba) */
            int64_t k = 0;
            if (!const_int(n->args[0], &k) || k < -at->nfields || k >= at->nfields)
                FAIL(ctx, n, "a record is indexed with a constant field number (0 to %d) or "
                     "a field name", at->nfields - 1);
            if (k < 0)
                k += at->nfields;
            n->kind = ND_ATTR;
            n->op = ATTR_FIELD;
            n->text = at->names[k];
            n->args = NULL;
            n->nargs = 0;
            return expr(ctx, n);
        }
        if (at && at->kind == TY_ARRAY && n->nargs == 1) {
            const Type *it = expr(ctx, n->args[0]);
            if (it && it->kind == TY_ARRAY) { /* a[mask], a[indices]: a new array */
                n->b = n->args[0];
                n->kind = ND_NEW_ARRAY;
                n->op = NEW_TAKE;
                n->args = NULL;
                n->nargs = 0;
                n->target = NULL;
                return expr(ctx, n);
            }
        }
        if (at && at->kind == TY_ARRAY && n->nargs >= 1 && n->nargs < at->ndim) {
            /* a[i] of a 2-D array: the row, a view (numba, NumPy) */
            n->kind = ND_SLICE;
            return expr(ctx, n);
        }
        const Type *elem = NULL;
        const Type *arr = index_type(ctx, n, &elem);
        t = arr ? elem : NULL;
        if (t && t->kind == TY_RECORD && arr->readonly) /* its fields are read-only too */
            t = ty_record_readonly(t, true);
        break;
    }
    case ND_ATTR: t = attr(ctx, n); break;
    case ND_TUPLE: {
        const Type *f[64];
        if (n->nargs > 64)
            FAIL(ctx, n, "tuples of more than 64 items are not supported");
        for (int i = 0; i < n->nargs; i++) {
            f[i] = expr(ctx, n->args[i]);
            if (!f[i])
                return NULL;
        }
        t = ty_tuple(n->nargs, f);
        break;
    }
    case ND_TUPLE_GET: {
        const Type *a = expr(ctx, n->a);
        if (!a)
            return NULL;
        if (a->kind != TY_TUPLE)
            FAIL(ctx, n, "%s is not a tuple and cannot be indexed with a constant", tname(a, s));
        if (n->nargs == 1) { /* t[i] of a homogeneous tuple (above) */
            const Type *it = expr(ctx, n->args[0]);
            if (!it)
                return NULL;
            if (!ty_is_int(it) && it->kind != TY_BOOL)
                FAIL(ctx, n->args[0], "tuple indices must be integers, not %s", tname(it, s));
            t = a->fields[0];
            break;
        }
        int i = n->index < 0 ? n->index + a->nfields : n->index;
        if (i < 0 || i >= a->nfields)
            FAIL(ctx, n, "tuple index %d out of range for %s", n->index, tname(a, s));
        n->index = i;
        t = a->fields[i];
        break;
    }
    case ND_ATOMIC: t = atomic(ctx, n); break;
    case ND_SLICE: t = slice_type(ctx, n); break;
    case ND_SLICE_PART:
        FAIL(ctx, n, "a slice (start:stop:step) can only be used to index an array");
    case ND_LOCAL_ARRAY: case ND_CONST_ARRAY:
        t = n->ty;
        break;
    case ND_NEW_ARRAY: t = new_array_type(ctx, n); break;
    case ND_ARRAY_EXPR: t = array_expr_type(ctx, n); break;
    case ND_ELEM:
        if (!(t = n->ty))
            return NULL;
        break;
    case ND_CALL:
        t = call(ctx, n);
        if (t && t->kind == TY_VOID) {
            n->ty = t;
            FAIL(ctx, n, "device function '%s' returns nothing, so its result cannot be used",
                 n->callee->name);
        }
        break;
    default:
        FAIL(ctx, n, "a statement used as an expression");
    }
    if (n->kind == ND_INDEX && ty_is_chars_item(t) && !n->chars_dest)
        FAIL(ctx, n, "an item of a string array (%s) cannot be read in a kernel: kernels can "
             "only store a constant str or bytes into it (a[i] = \"...\")", tname(t, s));
    if (n->kind == ND_CONST_ARRAY && n->op)
        FAIL(ctx, n, "a string constant can only be stored into an item of a NumPy string "
             "array or a string field of a record (a[i] = \"...\", r.x = b\"...\")");
    n->ty = t;
    return t;
}

/* The common type of a variable's old and new value; NULL when they do not
 * unify. Arrays differing only in layout become layout 'A'. */
static const Type *unify(const Type *old, const Type *t)
{
    t = ty_concrete(t);
    if (!old || old == t)
        return t;
    if (ty_is_number(old) && ty_is_number(t))
        return ty_promote(old, t);
    if (ty_is_time(old) && old->kind == t->kind) { /* the finer unit */
        int u = ty_time_common(old->unit, t->unit);
        return u < 0 ? NULL : ty_time(t->kind, u);
    }
    if (old->kind == TY_ARRAY && t->kind == TY_ARRAY && old->elem == t->elem &&
        old->ndim == t->ndim)
        return ty_array(old->elem, old->ndim, old->layout == t->layout ? old->layout : 'A',
                        old->readonly || t->readonly);
    if (old->kind == TY_TUPLE && t->kind == TY_TUPLE && old->nfields == t->nfields) {
        const Type *f[64];
        if (old->nfields > 64)
            return NULL;
        for (int i = 0; i < old->nfields; i++)
            if (!(f[i] = unify(old->fields[i], t->fields[i])))
                return NULL;
        return ty_tuple(old->nfields, f);
    }
    return NULL;
}

static void assign_var(Ctx *ctx, Node *n, int var, const Type *t, const Node *value)
{
    const Type *old = ctx->fn->var_types[var];
    const Type *u = unify(old, t);
    if (!u) {
        char s1[256], s2[256];
        if (ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc,
                               "variable '%s' is assigned %s here but holds %s elsewhere; "
                               "a variable keeps one type (numbers unify to their common type)",
                               ctx->fn->var_names[var], tname(ty_concrete(t), s1), tname(old, s2));
        return;
    }
    if (u != old) {
        ctx->fn->var_types[var] = u;
        ctx->changed = true;
    }
    uint64_t roots = array_roots(ctx, value);
    if ((ctx->alias[var] | roots) != ctx->alias[var]) {
        ctx->alias[var] |= roots;
        ctx->changed = true;
    }
}


/* a[1:3] = v, a[:] = 0, a[i] = row, a += b (ND_ARRAY_ASSIGN): the value
 * becomes the operands and element body of the store (an array expression
 * lends its own, so a += b * c writes into a without a temporary). NumPy's
 * casting: any number converts on assignment, but an augmented assignment
 * is same-kind (an int array += 1.5 is an error); complex into a real
 * array is an error, as for a[i] = z. */
static int kind_rank(const Type *t)
{
    return t->kind == TY_BOOL ? 0 : ty_is_int(t) ? 1 : ty_is_float(t) ? 2 : 3;
}

static void array_assign(Ctx *ctx, Node *n)
{
    char s[256], s2[256];
    const Type *dt = expr(ctx, n->a);
    if (n->index != 1) { /* first typing: split the value (index 1: done) */
        const Type *v = expr(ctx, n->b);
        if (!v)
            return;
        if (n->b->kind == ND_ARRAY_EXPR) {
            n->args = n->b->args;
            n->nargs = n->b->nargs;
            n->b = n->b->a;
        } else if (n->b->kind != ND_CONST) {
            Node **ops = ir_node_list(ctx->fn, 1);
            Node *leaf = ops ? elem_leaf(ctx->fn, n->b, 0, NULL) : NULL;
            if (!leaf) {
                if (ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->loc, "out of memory");
                return;
            }
            ops[0] = n->b;
            n->args = ops;
            n->nargs = 1;
            n->b = leaf;
        }
        n->index = 1;
    }
    for (int i = 0; i < n->nargs; i++)
        if (!expr(ctx, n->args[i]))
            return;
    set_elem_types(n->b, n->args, n->nargs);
    const Type *bt = expr(ctx, n->b);
    if (!dt || !bt)
        return;
    const char *err = NULL;
    if (dt->kind != TY_ARRAY)
        err = "cannot assign to a slice of %s: only arrays can be assigned to";
    else if (dt->readonly)
        err = "cannot store into %s: the array is read-only (a non-writeable NumPy array)";
    if (err) {
        if (ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc, err, tname(dt, s));
        return;
    }
    for (int i = 0; i < n->nargs; i++) {
        const Type *t = n->args[i]->ty;
        if (t->kind == TY_ARRAY && t->ndim > dt->ndim) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "could not broadcast a %d-d array into a "
                                   "%d-d destination (%s)", t->ndim, dt->ndim, tname(dt, s));
            return;
        }
    }
    const Type *vt = ty_concrete(bt);
    if (!ty_is_number(vt) || (ty_is_complex(vt) && !ty_is_complex(dt->elem)) ||
        (n->op == 1 && kind_rank(vt) > kind_rank(dt->elem))) {
        if (ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc, n->op == 1 ?
                               "cannot cast the %s result of an augmented assignment into an "
                               "array of %s (NumPy's same-kind rule): write a = (a op b)."
                               "astype(...) or use a wider array" :
                               "cannot store %s into an array of %s", tname(vt, s),
                               tname(dt->elem, s2));
        return;
    }
    mark_written(ctx, array_roots(ctx, n->a));
}

static void stmt(Ctx *ctx, Node *n);

static void block(Ctx *ctx, Node *n)
{
    if (!n)
        return;
    if (n->kind != ND_BLOCK) {
        stmt(ctx, n);
        return;
    }
    for (int i = 0; i < n->nargs; i++)
        stmt(ctx, n->args[i]);
}

/* The error of a store that cannot take a constant string, reported once. */
static void chars_store_error(Ctx *ctx, Node *n, const char *why, const Type *t)
{
    char s[256];
    if (ctx->final && ctx->st == EMBER_SUCCESS)
        ctx->st = ir_error(ctx->fn, n->loc, "cannot store %s into %s: %s",
                           n->b->op == 'U' ? "a str constant" : "a bytes constant",
                           t ? tname(t, s) : "this place", why);
}

/* a[i] = "XYZ", r.y = b"XYZ": a constant string stored into an item of a
 * NumPy string array or into a string field of a record, as NumPy assigns
 * it: the code units (UCS4 for U, bytes for S), then zeros to the end of the
 * item. A constant longer than the item is cut to its length, as NumPy cuts
 * it silently (np.zeros(1, "U2")[0] = "abc" stores "ab"). The store becomes
 * that of a constant array of exactly the item's length into the field's
 * view (a string item is a record of one field named "", see
 * ty_is_chars_item), which the field store below turns into ND_ARRAY_ASSIGN.
 * Like numba, a str goes only into U and bytes only into S. */
static void chars_store(Ctx *ctx, Node *n)
{
    Node *v = n->b;
    if (!(n->a->kind == ND_ATTR && n->a->op == ATTR_FIELD && n->nargs == 0)) {
        const Type *at = expr(ctx, n->a);
        if (!at)
            return;
        if (at->kind != TY_ARRAY || !ty_is_chars_item(at->elem) || n->nargs != at->ndim) {
            chars_store_error(ctx, n, "strings can only be stored into an item of a NumPy "
                              "string array (dtype U or S) or into a string field of a record",
                              at->kind == TY_ARRAY ? at->elem : at);
            return;
        }
        if (at->readonly) {
            chars_store_error(ctx, n, "the array is read-only (a non-writeable NumPy array)",
                              at);
            return;
        }
        /* a[i] -> a[i][""]: the item's one field */
        Node *item = ir_node(ctx->fn, ND_INDEX, n->loc);
        Node *field = item ? ir_node(ctx->fn, ND_ATTR, n->loc) : NULL;
        if (!field) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "out of memory");
            return;
        }
        item->a = n->a;
        item->args = n->args;
        item->nargs = n->nargs;
        item->chars_dest = true;
        field->op = ATTR_FIELD;
        field->text = "";
        field->a = item;
        n->a = field;
        n->args = NULL;
        n->nargs = 0;
    }
    n->a->chars_dest = true;
    const Type *ft = expr(ctx, n->a), *rt = n->a->a->ty;
    if (!ft || !rt)
        return;
    int k = n->a->index;
    if (rt->kind != TY_RECORD || !rt->fchars[k]) {
        chars_store_error(ctx, n, "strings can only be stored into an item of a NumPy string "
                          "array (dtype U or S) or into a string field of a record", ft);
        return;
    }
    if (rt->fchars[k] != v->op) {
        chars_store_error(ctx, n, rt->fchars[k] == 'U'
                          ? "the item holds str (dtype U): store a str constant"
                          : "the item holds bytes (dtype S): store a bytes constant", rt);
        return;
    }
    int64_t len = rt->fshapes[k * EM_FIELD_MAX_NDIM], unit = v->op == 'U' ? 4 : 1;
    int64_t have = v->ival / unit, keep = have < len ? have : len;
    Node *c = ir_node(ctx->fn, ND_CONST_ARRAY, v->loc);
    Node *ext = c ? ir_node(ctx->fn, ND_CONST, v->loc) : NULL;
    Node **args = ext ? ir_node_list(ctx->fn, 1) : NULL;
    char *data = args ? ir_alloc(ctx->fn, (size_t)(len * unit)) : NULL;
    if (!data) {
        if (ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc, "out of memory");
        return;
    }
    memset(data, 0, (size_t)(len * unit));
    memcpy(data, v->text, (size_t)(keep * unit));
    ext->ty = T(TY_I64);
    ext->ival = len;
    args[0] = ext;
    c->args = args;
    c->nargs = 1;
    c->text = data;
    c->ival = len * unit;
    c->ty = ty_array(v->ty->elem, 1, 'C', true);
    n->b = c; /* op 0: a plain constant array now */
    stmt(ctx, n);
}

static void stmt(Ctx *ctx, Node *n)
{
    char s[256], s2[256];
    if (!n)
        return;
    n->ty = T(TY_VOID);
    switch (n->kind) {
    case ND_BLOCK:
        block(ctx, n);
        break;
    case ND_ASSIGN: {
        if (n->var < 0 || n->var >= ctx->fn->nvars) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "bad variable slot %d", n->var);
            break;
        }
        const Type *t = expr(ctx, n->a);
        if (t && t->kind == TY_ARRAY && n->op == 1) {
            /* a += b on an array: in place (NumPy) */
            Node *dest = ir_node(ctx->fn, ND_LOAD, n->loc);
            if (!dest)
                break;
            dest->var = n->var;
            n->kind = ND_ARRAY_ASSIGN;
            n->b = n->a;
            n->a = dest;
            n->index = -1;
            stmt(ctx, n);
            break;
        }
        if (t)
            assign_var(ctx, n, n->var, t, n->a);
        break;
    }
    case ND_ARRAY_ASSIGN:
        array_assign(ctx, n);
        break;
    case ND_STORE: {
        if (n->b->kind == ND_CONST_ARRAY && n->b->op) { /* a[i] = "XYZ" */
            chars_store(ctx, n);
            break;
        }
        if (n->a->kind == ND_ATTR && n->a->op == ATTR_FIELD && n->nargs == 0) {
            /* r.x = v: a store into a record's field */
            const Type *ft = expr(ctx, n->a), *v = expr(ctx, n->b);
            if (!ft || !v)
                break;
            if (n->a->a->ty && n->a->a->ty->readonly) {
                if (ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->loc, "cannot store into the field '%s': the "
                                       "record is read-only (from a read-only or constant "
                                       "array)", n->a->text);
                break;
            }
            if (ft->kind == TY_ARRAY) { /* r.h = values: into the nested array's view */
                n->kind = ND_ARRAY_ASSIGN;
                n->index = -1;
                n->op = 0;
                stmt(ctx, n);
                break;
            }
            if (!ty_is_number(v) || (ty_is_complex(v) && !ty_is_complex(ft))) {
                if (ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->loc, "cannot store %s into the record "
                                       "field '%s' of type %s", tname(v, s), n->a->text,
                                       tname(ft, s2));
                break;
            }
            mark_written(ctx, array_roots(ctx, n->a));
            break;
        }
        const Type *st = expr(ctx, n->a);
        if (st && st->kind == TY_TUPLE) { /* t[0] = v (t[0][i] = v stores into an array) */
            char s[256];
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "tuples cannot be modified (storing into "
                                   "an item of %s)", tname(st, s));
            break;
        }
        if (st && st->kind == TY_ARRAY && n->nargs == 1) {
            const Type *it = expr(ctx, n->args[0]);
            if (it && it->kind == TY_ARRAY) { /* a[mask] = v, a[indices] = v */
                fancy_store(ctx, n, st, it);
                break;
            }
        }
        if (st && st->kind == TY_ARRAY && n->nargs < st->ndim) {
            /* a[i] = row of a 2-D array: a store into the view a[i] */
            Node *view = ir_node(ctx->fn, ND_SLICE, n->loc);
            if (!view)
                break;
            view->a = n->a;
            view->args = n->args;
            view->nargs = n->nargs;
            n->kind = ND_ARRAY_ASSIGN;
            n->a = view;
            n->args = NULL;
            n->nargs = 0;
            n->index = -1;
            n->op = 0;
            stmt(ctx, n);
            break;
        }
        Node probe = *n;
        probe.kind = ND_INDEX;
        const Type *elem = NULL;
        const Type *arr = index_type(ctx, &probe, &elem);
        const Type *v = expr(ctx, n->b);
        if (!arr || !v)
            break;
        if (arr->readonly) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "cannot store into %s: the array is "
                                   "read-only (a non-writeable NumPy array)", tname(arr, s));
            break;
        }
        if (elem->kind == TY_RECORD ? ty_record_readonly(ty_concrete(v), false) != elem
            : ty_is_time(elem) ? !ty_time_storable(v, elem)
                               : !ty_is_number(v) || (ty_is_complex(v) && !ty_is_complex(elem))) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "cannot store %s into an array of %s%s",
                                   tname(v, s), tname(elem, s2),
                                   ty_is_bf16(v) ? " (keep bfloat16 in an int16 or uint16 array: "
                                   "a[i] = cuda.bf16.bfloat16_as_int16(b))" : "");
            break;
        }
        mark_written(ctx, array_roots(ctx, n->a));
        break;
    }
    case ND_IF:
        truthy(ctx, n->a, "an if condition");
        block(ctx, n->b);
        block(ctx, n->c);
        break;
    case ND_WHILE:
        truthy(ctx, n->a, "a while condition");
        ctx->loop_depth++;
        block(ctx, n->b);
        ctx->loop_depth--;
        break;
    case ND_FOR_RANGE: {
        const Type *t = NULL;
        bool known = true;
        if (n->nargs != 3) {
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "range() needs start, stop and step");
            break;
        }
        for (int i = 0; i < 3; i++) {
            const Type *a = expr(ctx, n->args[i]);
            if (!a) {
                known = false;
                continue;
            }
            if (!(ty_is_int(a) || a->kind == TY_BOOL)) {
                if (ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->args[i]->loc,
                                       "range() arguments must be integers, not %s",
                                       tname(a, s));
                known = false;
                continue;
            }
            t = t ? ty_promote(t, a) : a;
        }
        if (known && t && !(ty_is_int(t) || t->kind == TY_BOOL)) {
            /* e.g. int64 with uint64 bounds: NumPy promotes them to float64 */
            if (ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "range() bounds of these integer types "
                                   "promote to %s; convert them to one integer type first",
                                   tname(t, s));
            known = false;
        }
        if (known && t)
            assign_var(ctx, n, n->var, arith_type(t), NULL);
        ctx->loop_depth++;
        block(ctx, n->b);
        ctx->loop_depth--;
        break;
    }
    case ND_BREAK: case ND_CONTINUE:
        if (ctx->loop_depth == 0 && ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc, "'%s' outside a loop",
                               n->kind == ND_BREAK ? "break" : "continue");
        break;
    case ND_RETURN:
        if (n->a) {
            const Type *t = expr(ctx, n->a);
            if (ctx->fn->is_kernel) {
                if (ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->loc,
                                       "a kernel cannot return a value: kernels return nothing; "
                                       "write the result into an array argument instead");
            } else if (t && (ctx->fn->tmpl ? ctx->fn->tmpl : ctx->fn)->decl_return) {
                const Type *want = (ctx->fn->tmpl ? ctx->fn->tmpl : ctx->fn)->decl_return;
                if (!convertible(t, want) && ctx->final && ctx->st == EMBER_SUCCESS)
                    ctx->st = ir_error(ctx->fn, n->loc, "this return gives %s, which does not "
                                       "convert to %s of the signature",
                                       tname(ty_concrete(t), s), tname(want, s2));
            } else if (t) {
                const Type *u = unify(ctx->fn->return_type, t);
                if (!u) {
                    if (ctx->final && ctx->st == EMBER_SUCCESS)
                        ctx->st = ir_error(ctx->fn, n->loc,
                                           "this return gives %s but another gives %s",
                                           tname(ty_concrete(t), s), tname(ctx->fn->return_type, s2));
                } else if (u != ctx->fn->return_type) {
                    ctx->fn->return_type = u;
                    ctx->changed = true;
                }
            }
        }
        break;
    case ND_EXPR:
        if (n->a && n->a->kind == ND_CALL) /* a call for its effect may return nothing */
            n->a->ty = call(ctx, n->a);
        else
            expr(ctx, n->a);
        break;
    case ND_PRINT:
        for (int i = 0; i < n->nargs; i++) {
            const Type *t = expr(ctx, n->args[i]);
            if (t && !ty_is_number(t) && ctx->final && ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->args[i]->loc, "print() in a kernel prints "
                                   "numbers and string constants, not %s", tname(t, s));
        }
        break;
    case ND_FENCE:
        break;
    case ND_SYNC:
        if (n->op == SYNC_WARP) {
            const Type *t = n->nargs == 1 ? expr(ctx, n->args[0]) : NULL;
            if (t && !(ty_is_int(t) || t->kind == TY_BOOL) && ctx->final &&
                ctx->st == EMBER_SUCCESS)
                ctx->st = ir_error(ctx->fn, n->loc, "cuda.syncwarp(mask): the mask must be an "
                                   "integer, not %s", tname(t, s));
        }
        break;
    default:
        if (ctx->final && ctx->st == EMBER_SUCCESS)
            ctx->st = ir_error(ctx->fn, n->loc, "an expression used as a statement");
        break;
    }
}

ember_status infer_function(Function *fn)
{
    if (!fn || !fn->body)
        return em_error(EMBER_ERR_INVALID_ARG, "infer_function: no function body");
    for (int i = 0; i < fn->nparams; i++)
        if (!fn->param_types[i])
            return ir_error(fn, fn->body->loc, "parameter '%s' has no type", fn->param_names[i]);
    Ctx ctx = {.fn = fn};
    ctx.alias = em_calloc((size_t)(fn->nvars + 1), sizeof *ctx.alias);
    if (!ctx.alias)
        return EMBER_ERR_OUT_OF_MEMORY;
    fn->return_type = fn->is_kernel ? T(TY_VOID) : NULL;
    if ((fn->tmpl ? fn->tmpl : fn)->decl_return)
        fn->return_type = (fn->tmpl ? fn->tmpl : fn)->decl_return;
    /* Widening is monotone and bounded (types only grow along promotion,
     * alias sets only gain bits), so this terminates; the bound is a guard. */
    for (int pass = 0; pass < 64; pass++) {
        ctx.changed = false;
        block(&ctx, fn->body);
        if (!ctx.changed)
            break;
    }
    ctx.final = true;
    ctx.st = EMBER_SUCCESS;
    block(&ctx, fn->body);
    if (ctx.st == EMBER_SUCCESS && !fn->return_type)
        fn->return_type = T(TY_VOID);
    em_free(ctx.alias);
    return ctx.st;
}
