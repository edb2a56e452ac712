/*
 * lower_check.c — validation before lowering: every construct, type and
 * shape lowering cannot handle is reported here with ir_error /
 * ir_unsupported at its location, before any LLVM call.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* ======================================================================== */
/* Validation: everything lowering cannot do is reported here, located.     */
/* ======================================================================== */

bool lw_supported_type(const Type *t)
{
    if (!t)
        return false;
    if (t->kind == TY_ARRAY)
        return t->elem && (ty_is_number(t->elem) || t->elem->kind == TY_RECORD ||
                           ty_is_time(t->elem)) &&
               !ty_is_weak(t->elem) && t->ndim >= 1 && t->ndim <= EMBER_MAX_NDIM;
    if (t->kind == TY_RECORD) /* a variable holding a reference (r = a[i]) */
        return true;
    if (t->kind == TY_TUPLE) {
        for (int i = 0; i < t->nfields; i++)
            if (!lw_supported_type(t->fields[i]))
                return false;
        return true;
    }
    /* bfloat16: no arrays of it (NumPy has none) */
    return ty_is_number(t) || ty_is_time(t) || ty_is_bf16(t);
}


/* Barriers, shared memory and warp collectives get block semantics on the
 * CPU device by barrier fission of the kernel body; a device function that
 * holds them was inlined into the kernel's IR before (fission_inline), so
 * this refusal is only reached by one fission_inline could not take. */
static ember_status cpu_block_level(Lower *L, const Node *n, const char *what)
{
    return ir_unsupported(L->fn, n->loc, "%s inside a device function is not supported on the "
                          "CPU device yet: barriers, shared memory and warp collectives must be "
                          "in the kernel's own body there (the CPU device splits the kernel "
                          "body at them); move it into the kernel, or run on a CUDA GPU", what);
}

/* ember.jit functions run once, on the calling thread: there is no grid,
 * block or warp whose index or collective they could use. */
static ember_status no_threads(Lower *L, const Node *n, const char *what)
{
    return ir_unsupported(L->fn, n->loc, "%s is not available in an ember.jit function: it "
                          "runs once, on the calling thread (no grid, blocks or warps); use "
                          "@cuda.jit for kernels", what);
}

static ember_status check_list(Lower *L, Node *const *list, int n, int loop_depth)
{
    if (n > 0 && !list)
        return ir_error(L->fn, L->fn->body->loc, "malformed IR: missing argument list");
    for (int i = 0; i < n; i++) {
        ember_status st = lw_check(L, list[i], loop_depth);
        if (st)
            return st;
    }
    return EMBER_SUCCESS;
}

static bool is_int_like(const Type *t) { return t && (ty_is_int(t) || t->kind == TY_BOOL); }

ember_status lw_check(Lower *L, const Node *n, int depth)
{
    Function *fn = L->fn;
    char s[256];
    if (!n)
        return ir_error(fn, fn->body->loc, "malformed IR: missing node");
    if ((unsigned)n->kind >= ND_KIND_COUNT)
        return ir_error(fn, n->loc, "the CPU target does not support IR node kind %d", n->kind);
    bool is_expr = n->kind < ND_BLOCK;
    if (is_expr && n->kind != ND_SLICE_PART && !lw_supported_type(n->ty) &&
        !((n->kind == ND_CALL || n->kind == ND_INTRINSIC) && n->ty &&
          n->ty->kind == TY_VOID)) /* a call as a statement */
        return ir_error(fn, n->loc, "the CPU target cannot compute a value of type %s%s",
                        tstr(n->ty, s), n->ty ? "" : " (was the function typed?)");
    /* children first: their types are used below */
    ember_status st;
    int inner = depth + (n->kind == ND_WHILE || n->kind == ND_FOR_RANGE);
    if (inner > MAX_LOOP_DEPTH)
        return ir_error(fn, n->loc, "loops nested more than %d deep", MAX_LOOP_DEPTH);
    if (n->a && (st = lw_check(L, n->a, n->kind == ND_WHILE ? depth : inner)))
        return st;
    if (n->b && (st = lw_check(L, n->b, inner)))
        return st;
    if (n->c && (st = lw_check(L, n->c, inner)))
        return st;
    if ((st = check_list(L, n->args, n->nargs, n->kind == ND_FOR_RANGE ? depth : inner)))
        return st;
    switch (n->kind) {
    case ND_CONST:
        if (!ty_is_number(n->ty))
            return ir_error(fn, n->loc, "constant of type %s", tstr(n->ty, s));
        break;
    case ND_PARAM:
        if (n->index < 0 || n->index >= fn->nparams || !lw_supported_type(fn->param_types[n->index]))
            return ir_error(fn, n->loc, "parameter %d cannot be passed to a CPU kernel", n->index);
        break;
    case ND_LOAD: case ND_ASSIGN: case ND_FOR_RANGE:
        if (n->var < 0 || n->var >= fn->nvars || !lw_supported_type(fn->var_types[n->var]))
            return ir_error(fn, n->loc, "variable slot %d has no supported type (%s)", n->var,
                            n->var >= 0 && n->var < fn->nvars ? tstr(fn->var_types[n->var], s)
                                                              : "bad slot");
        if (n->kind == ND_ASSIGN && !n->a)
            return ir_error(fn, n->loc, "malformed IR: assignment without a value");
        if (n->kind == ND_FOR_RANGE) {
            if (n->nargs != 3 || !n->b)
                return ir_error(fn, n->loc, "malformed IR: range() needs start, stop, step and a body");
            for (int i = 0; i < 3; i++)
                if (!is_int_like(n->args[i]->ty))
                    return ir_error(fn, n->args[i]->loc, "range() arguments must be integers");
        }
        break;
    case ND_UNARY: case ND_BINARY: case ND_COMPARE:
        if (!n->a || (n->kind != ND_UNARY && !n->b))
            return ir_error(fn, n->loc, "malformed IR: operator without operands");
        if (ty_is_time(n->a->ty) || (n->b && ty_is_time(n->b->ty))) { /* lower_time.c */
            int unit;
            const char *why;
            if (n->kind == ND_UNARY ? n->a->ty->kind != TY_TIMEDELTA ||
                                          (n->op != OP_NEG && n->op != OP_POS)
                                    : !ty_time_binary(n->op, n->a->ty, n->b->ty, &unit, &why))
                return ir_error(fn, n->loc, "operator %s on these datetime64/timedelta64 "
                                "operands", ir_op_name(n->op));
            break;
        }
        if (!ty_is_number(n->a->ty) || (n->b && !ty_is_number(n->b->ty)) || !ty_is_number(n->ty))
            return ir_error(fn, n->loc, "operator %s on non-numbers", ir_op_name(n->op));
        if (n->kind == ND_UNARY && (n->op < OP_NEG || n->op > OP_NOT))
            return ir_error(fn, n->loc, "unknown unary operator %d", n->op);
        if (n->kind == ND_BINARY && (n->op < OP_ADD || n->op > OP_BITXOR))
            return ir_error(fn, n->loc, "unknown binary operator %d", n->op);
        if (n->kind == ND_COMPARE && (n->op < OP_EQ || n->op > OP_GE))
            return ir_error(fn, n->loc, "unknown comparison %d", n->op);
        if (n->kind == ND_COMPARE && !ty_promote(n->a->ty, n->b->ty))
            return ir_error(fn, n->loc, "cannot compare these operands");
        if (n->kind == ND_BINARY && ty_is_complex(n->ty) &&
            (n->op == OP_FLOORDIV || n->op == OP_MOD || n->op >= OP_LSHIFT))
            return ir_error(fn, n->loc, "operator %s is not defined for complex numbers",
                            ir_op_name(n->op));
        if (n->kind == ND_BINARY && n->op >= OP_LSHIFT && !is_int_like(n->ty))
            return ir_error(fn, n->loc, "operator %s needs integers", ir_op_name(n->op));
        if (n->kind == ND_UNARY && n->op == OP_INVERT && !is_int_like(n->ty))
            return ir_error(fn, n->loc, "operator ~ needs integers");
        break;
    case ND_AND: case ND_OR:
        if (!n->a || !n->b || !ty_is_number(n->a->ty) || !ty_is_number(n->b->ty))
            return ir_error(fn, n->loc, "'and'/'or' need numbers or bools");
        break;
    case ND_IFEXP:
        if (!n->a || !n->b || !n->c || !ty_is_number(n->a->ty))
            return ir_error(fn, n->loc, "malformed conditional expression");
        break;
    case ND_CAST: /* numbers, and bfloat16 to or from them */
        if (!n->a || !n->target ||
            !(ty_is_number(n->target) || ty_is_bf16(n->target)) ||
            !(ty_is_number(n->a->ty) || ty_is_bf16(n->a->ty)))
            return ir_error(fn, n->loc, "conversion to %s is not supported", tstr(n->target, s));
        break;
    case ND_CALL_MATH: {
        char name[64];
        if ((unsigned)n->op >= MATH_COUNT || (unsigned)n->index >= MATHF_COUNT)
            return ir_error(fn, n->loc, "unknown math function %d", n->op);
        ir_math_label(n, name, sizeof name);
        int m = n->op;
        if (n->nargs < 1)
            return ir_error(fn, n->loc, "%s() needs arguments", name);
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_number(n->args[i]->ty))
                return ir_error(fn, n->loc, "%s() needs numbers", name);
        /* frexp, modf, polar give a pair of numbers; the rest one number */
        bool pair = m == MATH_FREXP || m == MATH_MODF || m == MATH_POLAR;
        if (!n->ty)
            return ir_error(fn, n->loc, "%s() has no type", name);
        if (pair ? !(n->ty->kind == TY_TUPLE && n->ty->nfields == 2 &&
                     ty_is_float(n->ty->fields[0]) &&
                     (m == MATH_FREXP ? n->ty->fields[1]->kind == TY_I32
                                      : n->ty->fields[1] == n->ty->fields[0]))
                 : !ty_is_number(n->ty))
            return ir_error(fn, n->loc, "%s() result has the wrong type %s", name, tstr(n->ty, s));
        bool complex_ok = m == MATH_ABS || m == MATH_ISNAN || m == MATH_ISINF ||
                          m == MATH_ISFINITE || m == MATH_SQUARE || m == MATH_RECIPROCAL ||
                          m == MATH_PHASE || m == MATH_POLAR || ty_is_complex(n->ty);
        if (ty_is_complex(n->args[0]->ty) && !complex_ok)
            return ir_error(fn, n->loc, "%s() of a complex number is not supported", name);
        if (ty_is_complex(n->ty) && n->op != MATH_SQUARE && n->op != MATH_RECIPROCAL &&
            n->op != MATH_RECT && n->op != MATH_COMPLEX && !ir_math_has_complex_form(m))
            return ir_error(fn, n->loc, "%s() has no complex form", name);
        if (ty_is_complex(n->ty) && n->nargs == 2 && n->op != MATH_LOG && n->op != MATH_RECT &&
            n->op != MATH_COMPLEX)
            return ir_error(fn, n->loc, "%s() takes 1 argument", name);
        int want = 0; /* exact argument count, 0: any */
        if (m == MATH_ATAN2 || m == MATH_POW || m == MATH_HYPOT || m == MATH_FMOD ||
            m == MATH_COPYSIGN || m == MATH_REMAINDER || m == MATH_LDEXP || m == MATH_FMIN ||
            m == MATH_FMAX || m == MATH_RECT || m == MATH_COMPLEX)
            want = 2;
        else if (m != MATH_LOG && m != MATH_ROUND && m != MATH_MIN && m != MATH_MAX)
            want = 1;
        if (want && n->nargs != want)
            return ir_error(fn, n->loc, "%s() takes %d argument%s", name, want,
                            want == 1 ? "" : "s");
        if (m == MATH_LOG && n->nargs > 2)
            return ir_error(fn, n->loc, "%s() takes 1 or 2 arguments", name);
        if ((m == MATH_RECT || (m == MATH_LOG && !ty_is_complex(n->ty))) && n->nargs == 2 &&
            (ty_is_complex(n->args[0]->ty) || ty_is_complex(n->args[1]->ty)))
            return ir_error(fn, n->loc, "%s() needs real numbers", name);
        if (m == MATH_LDEXP && !is_int_like(n->args[1]->ty))
            return ir_error(fn, n->loc, "%s() exponent must be an integer", name);
        if (n->op == MATH_ROUND && n->nargs > 2)
            return ir_error(fn, n->loc, "round() takes 1 or 2 arguments");
        if (n->op == MATH_ROUND && n->nargs == 2 && !is_int_like(n->args[1]->ty))
            return ir_error(fn, n->loc, "round() digits must be an integer");
        if ((n->op == MATH_MIN || n->op == MATH_MAX) && n->nargs < 2)
            return ir_error(fn, n->loc, "%s() of one scalar", name);
        break;
    }
    case ND_INTRINSIC: {
        if ((unsigned)n->op >= INTR_COUNT)
            return ir_error(fn, n->loc, "the %s target does not support intrinsic %d",
                            L->target->name, n->op);
        const IntrinsicInfo *in = &ir_intrinsics[n->op];
        if (n->nargs < in->min_args || n->nargs > in->max_args)
            return ir_error(fn, n->loc, "malformed IR: %s() with %d arguments", in->label,
                            n->nargs);
        switch (in->kind) {
        case INTRK_HOST:
            if (!L->function_entry)
                return ir_unsupported(fn, n->loc, "%s is available in ember.jit functions "
                                      "only, not in kernels (yet)", in->label);
            break;
        case INTRK_PLAIN: /* bit operations and fma: fine in functions too */
            break;
        case INTRK_THREAD:
            if (L->function_entry)
                return no_threads(L, n, in->label);
            break;
        case INTRK_WARP_MASK: case INTRK_WARP: case INTRK_BLOCK:
            if (L->function_entry)
                return no_threads(L, n, in->label);
            if (L->target->fission && fn != L->root_fn)
                return cpu_block_level(L, n, in->label);
            break;
        case INTRK_INDEX: {
            if (L->function_entry)
                return no_threads(L, n, "a thread index (cuda.grid, cuda.threadIdx ...)");
            const Node *k = n->args[0];
            bool grid = n->op == INTR_GRID || n->op == INTR_GRIDSIZE;
            if (k->kind != ND_CONST || !ty_is_int(k->ty) || k->ival < (grid ? 1 : 0) ||
                k->ival > (grid ? 3 : 2))
                return ir_error(fn, n->loc, "intrinsic axis/dimension must be a constant");
            break;
        }
        }
        break;
    }
    case ND_INDEX: case ND_STORE: {
        if (n->kind == ND_STORE && n->a && n->a->kind == ND_ATTR && n->a->op == ATTR_FIELD &&
            n->nargs == 0) {
            if (!n->b || !ty_is_number(n->b->ty) || !ty_is_number(n->a->ty))
                return ir_error(fn, n->loc, "malformed store into a record field");
            break;
        }
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY)
            return ir_error(fn, n->loc, "indexing a non-array");
        if (n->kind == ND_STORE && n->op == 1) { /* a[mask] = v (core/lower_fancy.c) */
            if (!L->function_entry)
                return ir_unsupported(fn, n->loc, "assigning through a boolean mask or an "
                                      "index array is supported in ember.jit functions only");
            if (n->nargs != 1 || n->args[0]->ty->kind != TY_ARRAY || !n->b)
                return ir_error(fn, n->loc, "malformed fancy store");
            break;
        }
        if (n->nargs != at->ndim)
            return ir_error(fn, n->loc, "%d indices for a %d-dimensional array", n->nargs, at->ndim);
        for (int i = 0; i < n->nargs; i++)
            if (!is_int_like(n->args[i]->ty))
                return ir_error(fn, n->args[i]->loc, "array indices must be integers");
        if (n->kind == ND_STORE && (!n->b || (at->elem->kind == TY_RECORD
                                                  ? ty_record_readonly(ty_concrete(n->b->ty),
                                                                       false) != at->elem
                                                  : ty_is_time(at->elem)
                                                  ? !ty_time_storable(n->b->ty, at->elem)
                                                  : !ty_is_number(n->b->ty))))
            return ir_error(fn, n->loc, "storing a non-number into an array");
        if (n->kind == ND_STORE && ty_is_complex(n->b->ty) && !ty_is_complex(at->elem))
            return ir_error(fn, n->loc, "storing a complex number into a real array");
        break;
    }
    case ND_ATTR: {
        if ((unsigned)n->op >= ATTR_COUNT || !n->a)
            return ir_error(fn, n->loc, "unknown attribute %d", n->op);
        bool arr = n->op <= ATTR_LEN || n->op >= ATTR_ARGMIN;
        if (n->op == ATTR_FIELD && n->a->ty->kind == TY_ARRAY) /* a.x of records: a view */
            arr = n->a->ty->elem->kind == TY_RECORD && n->ty && n->ty->kind == TY_ARRAY;
        if ((n->op == ATTR_REAL || n->op == ATTR_IMAG) && n->a->ty->kind == TY_ARRAY)
            arr = n->ty && n->ty->kind == TY_ARRAY; /* a.real, a.imag: views */
        bool tuple_len = n->op == ATTR_LEN && n->a->ty->kind == TY_TUPLE;
        if (arr != (n->a->ty->kind == TY_ARRAY) && !tuple_len)
            return ir_error(fn, n->loc, "attribute not defined for %s", tstr(n->a->ty, s));
        if ((n->b || n->op >= ATTR_ARGMIN) && !L->function_entry)
            return ir_unsupported(fn, n->loc, "this reduction (argmin, argmax, all, any, var, "
                                  "std, cumsum, cumprod, or one with axis=) is available in "
                                  "ember.jit functions only, not in kernels");
        if ((n->b || n->op == ATTR_CUMSUM || n->op == ATTR_CUMPROD) && L->in_recursive)
            return ir_unsupported(fn, n->loc, "reductions that make arrays are not supported "
                                  "in a recursive function; compute them in its caller");
        if ((n->op == ATTR_MIN || n->op == ATTR_MAX) && !L->function_entry)
            return ir_unsupported(fn, n->loc, "%s() of an array is available in ember.jit "
                                  "functions only, not in kernels (yet)",
                                  n->op == ATTR_MIN ? "min" : "max");
        break;
    }
    case ND_TUPLE:
        if (n->ty->kind != TY_TUPLE || n->ty->nfields != n->nargs)
            return ir_error(fn, n->loc, "malformed tuple");
        break;
    case ND_TUPLE_GET:
        if (n->nargs == 1 && n->a && n->a->ty->kind == TY_TUPLE && n->a->ty->nfields > 0 &&
            is_int_like(n->args[0]->ty))
            break; /* t[i], a homogeneous tuple */
        if (!n->a || n->a->ty->kind != TY_TUPLE || n->index < 0 || n->index >= n->a->ty->nfields)
            return ir_error(fn, n->loc, "bad tuple index %d", n->index);
        break;
    case ND_BLOCK: case ND_EXPR:
        if (n->kind == ND_EXPR && !n->a)
            return ir_error(fn, n->loc, "malformed IR: empty expression statement");
        break;
    case ND_IF: case ND_WHILE:
        if (!n->a || !ty_is_number(n->a->ty))
            return ir_error(fn, n->loc, "a condition must be a number or bool");
        break;
    case ND_BREAK: case ND_CONTINUE:
        if (depth == 0)
            return ir_error(fn, n->loc, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        break;
    case ND_RETURN:
        if (n->a && fn->is_kernel)
            return ir_error(fn, n->loc, "a kernel cannot return a value");
        break;
    case ND_ATOMIC: {
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY || n->nargs != at->ndim || !n->b ||
            (unsigned)n->op >= ATOM_COUNT || (n->op == ATOM_CAS) != (n->c != NULL))
            return ir_error(fn, n->loc, "malformed atomic operation");
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_int(n->args[i]->ty))
                return ir_error(fn, n->loc, "array indices must be integers");
        TypeKind k = at->elem->kind;
        bool f16_add = k == TY_F16 && (n->op == ATOM_ADD || n->op == ATOM_SUB);
        if (k != TY_I32 && k != TY_I64 && k != TY_U32 && k != TY_U64 && k != TY_F32 &&
            k != TY_F64 && !f16_add)
            return ir_error(fn, n->loc, "atomic operation on an array of %s", tstr(at->elem, s));
        break;
    }
    case ND_CALL: {
        Function *spec = n->spec;
        if (!spec || !spec->body || spec->nparams != n->nargs)
            return ir_error(fn, n->loc, "malformed IR: call without a specialisation");
        if (spec->recursive) {
            for (int i = 0; i < L->nchecked; i++)
                if (L->checked[i] == spec)
                    return EMBER_SUCCESS;
            if (!lw_grow_list((void **)&L->checked, &L->capchecked, L->nchecked + 1,
                         sizeof *L->checked))
                return EMBER_ERR_OUT_OF_MEMORY;
            L->checked[L->nchecked++] = spec;
            L->in_recursive++;
        }
        L->fn = spec;
        st = lw_check(L, spec->body, 0);
        L->fn = fn;
        if (spec->recursive)
            L->in_recursive--;
        if (st)
            return ir_error_in_callee(fn, n->loc, spec);
        break;
    }
    case ND_SLICE: {
        const Type *at = n->a ? n->a->ty : NULL;
        if (!at || at->kind != TY_ARRAY || n->nargs < 1 || n->nargs > at->ndim ||
            n->ty->kind != TY_ARRAY || n->ty->elem != at->elem)
            return ir_error(fn, n->loc, "malformed slice");
        int kept = at->ndim - n->nargs;
        for (int i = 0; i < n->nargs; i++) {
            const Node *it = n->args[i];
            if (it->kind == ND_SLICE_PART) {
                kept++;
                const Node *parts[3] = {it->a, it->b, it->c};
                for (int j = 0; j < 3; j++)
                    if (parts[j] && !ty_is_int(parts[j]->ty))
                        return ir_error(fn, it->loc, "slice bounds must be integers");
            } else if (!ty_is_int(it->ty)) {
                return ir_error(fn, it->loc, "array indices must be integers");
            }
        }
        if (kept != n->ty->ndim)
            return ir_error(fn, n->loc, "malformed slice: %d dimensions kept, type has %d",
                            kept, n->ty->ndim);
        break;
    }
    case ND_SLICE_PART: /* checked with its slice */
        break;
    case ND_LOCAL_ARRAY: {
        const Type *t = n->ty;
        if (t->kind != TY_ARRAY || t->layout != 'C' || n->nargs != t->ndim ||
            (n->op != MEM_LOCAL && n->op != MEM_SHARED))
            return ir_error(fn, n->loc, "malformed local array");
        if (n->op == MEM_SHARED) {
            if (L->function_entry)
                return no_threads(L, n, "cuda.shared.array");
            if (L->target->fission && fn != L->root_fn)
                return cpu_block_level(L, n, "cuda.shared.array");
            int64_t total = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
            for (int i = 0; i < n->nargs; i++)
                if (n->args[i]->kind != ND_CONST || n->args[i]->ival < 0 ||
                    __builtin_mul_overflow(total, n->args[i]->ival, &total) ||
                    total > SHARED_ARRAY_MAX_BYTES)
                    return ir_error(fn, n->loc, "cuda.shared.array: %s of more than %d KiB, "
                                    "the most static shared memory a CUDA kernel may declare; "
                                    "for more use dynamic shared memory "
                                    "(cuda.shared.array(0, dtype) and the launch's sharedmem, "
                                    "up to 227 KiB on compute capability 9.0)", tstr(t, s),
                                    SHARED_ARRAY_MAX_BYTES >> 10);
            break;
        }
        int64_t bytes = ty_bits(t->elem) < 8 ? 1 : ty_bits(t->elem) / 8;
        for (int i = 0; i < n->nargs; i++) {
            const Node *e = n->args[i];
            if (e->kind != ND_CONST || !ty_is_int(e->ty) || e->ival < 1 ||
                __builtin_mul_overflow(bytes, e->ival, &bytes) || bytes > LOCAL_ARRAY_MAX_BYTES)
                return ir_error(fn, n->loc, "cuda.local.array: %s of more than %d KiB; the CPU "
                                "device keeps local arrays on the worker's stack (use a device "
                                "array argument for large scratch space)", tstr(t, s),
                                LOCAL_ARRAY_MAX_BYTES >> 10);
        }
        if (L->in_recursive && bytes > LOCAL_ARRAY_MAX_BYTES_RECURSIVE)
            return ir_error(fn, n->loc, "cuda.local.array: %s of more than %d bytes in a "
                            "recursive device function (each of up to %d nested calls has "
                            "its own)", tstr(t, s), LOCAL_ARRAY_MAX_BYTES_RECURSIVE,
                            KERNEL_MAX_RECURSION);
        break;
    }
    case ND_CONST_ARRAY:
        if (!n->text || n->ty->kind != TY_ARRAY || n->nargs != n->ty->ndim || n->ival < 0)
            return ir_error(fn, n->loc, "malformed constant array");
        if (L->function_entry && n->ival > HOST_CONST_ARRAY_MAX_BYTES)
            return ir_error(fn, n->loc, "a global array of more than %d MiB (%s) cannot be "
                            "frozen into an ember.jit function: pass it as an argument",
                            HOST_CONST_ARRAY_MAX_BYTES >> 20, tstr(n->ty, s));
        if (!L->function_entry && n->ival > CONST_ARRAY_MAX_BYTES)
            return ir_error(fn, n->loc, "cuda.const.array_like: %s of more than %d KiB (the "
                            "size of CUDA's constant memory)", tstr(n->ty, s),
                            CONST_ARRAY_MAX_BYTES >> 10);
        break;
    case ND_PRINT:
        if (!n->text)
            return ir_error(fn, n->loc, "malformed print");
        for (int i = 0; i < n->nargs; i++)
            if (!ty_is_number(n->args[i]->ty))
                return ir_error(fn, n->args[i]->loc, "print() of %s", tstr(n->args[i]->ty, s));
        break;
    case ND_SYNC:
        if (n->op != SYNC_THREADS && n->op != SYNC_WARP && n->op != SYNC_GRID)
            return ir_error(fn, n->loc, "unknown sync %d", n->op);
        if (L->function_entry)
            return no_threads(L, n, fission_op_name(n));
        if (L->target->fission && fn != L->root_fn)
            return cpu_block_level(L, n, fission_op_name(n));
        if (n->op == SYNC_GRID && L->target->fission && !L->target->grid_sync)
            return ir_unsupported(fn, n->loc, "grid.sync() is not supported by the %s target",
                                  L->target->name);
        if (n->op == SYNC_WARP && (n->nargs != 1 || !is_int_like(n->args[0]->ty)))
            return ir_error(fn, n->loc, "cuda.syncwarp(mask) needs an integer mask");
        break;
    case ND_FENCE:
        if ((unsigned)n->op >= FENCE_COUNT)
            return ir_error(fn, n->loc, "unknown fence scope %d", n->op);
        break;
    case ND_ARRAY_EXPR:
        if (!L->function_entry)
            return ir_unsupported(fn, n->loc, "array expressions (a + b, np.sin(a), a.copy() "
                                  "... on whole arrays) are not supported in kernels: they "
                                  "would allocate an array per thread; compute the elements "
                                  "in a loop (out[i] = a[i] + b[i])");
        if (L->in_recursive)
            return ir_unsupported(fn, n->loc, "array expressions in a recursive function are "
                                  "not supported; compute them in its caller");
        if (n->ty->kind != TY_ARRAY || n->ty->layout != 'C' || !n->a)
            return ir_error(fn, n->loc, "malformed array expression");
        break;
    case ND_ELEM:
        break;
    case ND_ARRAY_ASSIGN:
        if (!n->a || n->a->ty->kind != TY_ARRAY || !n->b || !ty_is_number(n->b->ty))
            return ir_error(fn, n->loc, "malformed array assignment");
        if (ty_is_complex(n->b->ty) && !ty_is_complex(n->a->ty->elem))
            return ir_error(fn, n->loc, "storing a complex number into a real array");
        break;
    case ND_NEW_ARRAY:
        if (n->op == NEW_VIEW) { /* a view: no memory, kernels too */
            if (!n->b || !n->b->ty || n->b->ty->kind != TY_ARRAY || n->ty->kind != TY_ARRAY ||
                n->ty->ndim != n->b->ty->ndim)
                return ir_error(fn, n->loc, "malformed view()");
            break;
        }
        if (n->op == NEW_RESHAPE && !L->function_entry)
            return ir_unsupported(fn, n->loc, "a.reshape() is supported in ember.jit functions "
                                  "only, not in kernels (yet): index with computed offsets");
        /* numba.cuda refuses np.empty & co. in kernels too: a thread cannot
         * allocate device memory that outlives it */
        if (!L->function_entry)
            return ir_unsupported(fn, n->loc, "creating arrays (np.empty, np.zeros, np.arange "
                                  "...) is not supported in kernels: use cuda.local.array(shape, "
                                  "dtype) for per-thread scratch, or pass in an array made with "
                                  "cuda.device_array on the host");
        if (L->in_recursive)
            return ir_unsupported(fn, n->loc, "creating arrays in a recursive function is not "
                                  "supported; create them in its caller and pass them in");
        if (n->ty->kind != TY_ARRAY || n->ty->layout != 'C' ||
            (n->op == NEW_ARANGE && n->nargs != 3) || (n->op == NEW_LINSPACE && n->nargs != 4) ||
            (n->op == NEW_FULL || n->op == NEW_RESHAPE || n->op == NEW_TAKE ||
             n->op == NEW_ROWS0 || n->op == NEW_ROWS) != (n->b != NULL))
            return ir_error(fn, n->loc, "malformed array maker");
        break;
    default:
        return ir_error(fn, n->loc, "the CPU target does not support IR node kind %d", n->kind);
    }
    return EMBER_SUCCESS;
}
