/*
 * ir.c — building the structured IR: functions, their arena, nodes,
 * diagnostics with source locations, and a text dump for tests and
 * `inspect_types`.
 */
#include <string.h>

#include "core/ir.h"

/* Nodes are many and small; one arena per function frees them together. */
struct ArenaChunk {
    struct ArenaChunk *next;
    size_t used, cap;
    _Alignas(16) char data[];
};

#define ARENA_CHUNK 16384

void *ir_alloc(Function *fn, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct ArenaChunk *c = fn->arena;
    if (!c || c->used + size > c->cap) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = em_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = fn->arena;
        c->used = 0;
        c->cap = cap;
        fn->arena = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *ir_strdup(Function *fn, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ir_alloc(fn, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

Function *ir_function_create(const char *name, const char *file, int nparams,
                             const char *const *param_names, bool is_kernel)
{
    if (nparams < 0 || (nparams && !param_names))
        return NULL;
    Function *fn = em_calloc(1, sizeof *fn);
    if (!fn)
        return NULL;
    fn->is_kernel = is_kernel;
    fn->nparams = nparams;
    fn->name = ir_strdup(fn, name ? name : "<kernel>");
    fn->file = ir_strdup(fn, file ? file : "<unknown>");
    fn->param_names = ir_alloc(fn, sizeof(char *) * (size_t)(nparams + 1));
    fn->param_types = ir_alloc(fn, sizeof(Type *) * (size_t)(nparams + 1));
    fn->param_written = ir_alloc(fn, sizeof(bool) * (size_t)(nparams + 1));
    if (!fn->name || !fn->file || !fn->param_names || !fn->param_types || !fn->param_written) {
        ir_function_destroy(fn);
        return NULL;
    }
    for (int i = 0; i < nparams; i++)
        if (!(fn->param_names[i] = ir_strdup(fn, param_names[i] ? param_names[i] : "?"))) {
            ir_function_destroy(fn);
            return NULL;
        }
    return fn;
}

void ir_function_destroy(Function *fn)
{
    if (!fn)
        return;
    for (int i = 0; i < fn->nspecs; i++)
        ir_function_destroy(fn->specs[i]);
    em_free(fn->specs);
    for (int i = 0; i < fn->ncallees; i++)
        ir_function_destroy(fn->callees[i]);
    em_free(fn->callees);
    while (fn->arena) {
        struct ArenaChunk *c = fn->arena;
        fn->arena = c->next;
        em_free(c);
    }
    em_free(fn->var_names);
    em_free(fn->var_types);
    em_free(fn);
}

Function *ir_callee_create(Function *root, const char *name, const char *file, int nparams,
                           const char *const *param_names)
{
    Function **v = em_calloc((size_t)root->ncallees + 1, sizeof *v);
    if (!v)
        return NULL;
    Function *fn = ir_function_create(name, file, nparams, param_names, false);
    if (!fn) {
        em_free(v);
        return NULL;
    }
    if (root->ncallees)
        memcpy(v, root->callees, (size_t)root->ncallees * sizeof *v);
    em_free(root->callees);
    root->callees = v;
    root->callees[root->ncallees++] = fn;
    fn->root = root;
    return fn;
}

/* A deep copy of the tree `n` into dst's arena; false when out of memory. */
static Node *clone_node(Function *dst, const Node *n, bool *ok)
{
    if (!n || !*ok)
        return NULL;
    Node *c = ir_alloc(dst, sizeof *c);
    if (!c) {
        *ok = false;
        return NULL;
    }
    *c = *n;
    c->spec = NULL;
    c->a = clone_node(dst, n->a, ok);
    c->b = clone_node(dst, n->b, ok);
    c->c = clone_node(dst, n->c, ok);
    if (n->args) {
        if (!(c->args = ir_node_list(dst, n->nargs))) {
            *ok = false;
            return NULL;
        }
        for (int i = 0; i < n->nargs; i++)
            c->args[i] = clone_node(dst, n->args[i], ok);
    }
    return c;
}

Function *ir_specialise(Function *root, const Function *tmpl, const Type *const *types)
{
    for (int i = 0; i < root->nspecs; i++) {
        Function *s = root->specs[i];
        if (s->tmpl != tmpl)
            continue;
        bool same = true;
        for (int p = 0; p < tmpl->nparams && same; p++)
            same = s->param_types[p] == types[p];
        if (same)
            return s;
    }
    if (root->nspecs == root->capspecs) {
        int cap = root->capspecs ? root->capspecs * 2 : 8;
        Function **v = em_calloc((size_t)cap, sizeof *v);
        if (!v)
            return NULL;
        if (root->nspecs)
            memcpy(v, root->specs, (size_t)root->nspecs * sizeof *v);
        em_free(root->specs);
        root->specs = v;
        root->capspecs = cap;
    }
    Function *fn = ir_function_create(tmpl->name, tmpl->file, tmpl->nparams,
                                      (const char *const *)tmpl->param_names, false);
    if (!fn)
        return NULL;
    fn->root = root;
    fn->tmpl = tmpl;
    for (int p = 0; p < tmpl->nparams; p++)
        fn->param_types[p] = types[p];
    bool ok = true;
    for (int v = 0; v < tmpl->nvars && ok; v++)
        ok = ir_add_var(fn, tmpl->var_names[v]) >= 0;
    if (ok)
        fn->body = clone_node(fn, tmpl->body, &ok);
    if (!ok) {
        ir_function_destroy(fn);
        return NULL;
    }
    root->specs[root->nspecs++] = fn;
    return fn;
}

int ir_add_var(Function *fn, const char *name)
{
    if (fn->nvars % 16 == 0) {
        size_t cap = (size_t)fn->nvars + 16;
        char **names = em_calloc(cap, sizeof *names);
        const Type **types = names ? em_calloc(cap, sizeof *types) : NULL;
        if (!types) {
            em_free(names);
            return -1;
        }
        if (fn->nvars) {
            memcpy(names, fn->var_names, (size_t)fn->nvars * sizeof *names);
            memcpy(types, fn->var_types, (size_t)fn->nvars * sizeof *types);
        }
        em_free(fn->var_names);
        em_free(fn->var_types);
        fn->var_names = names;
        fn->var_types = types;
    }
    char *copy = ir_strdup(fn, name ? name : "?");
    if (!copy)
        return -1;
    fn->var_names[fn->nvars] = copy;
    fn->var_types[fn->nvars] = NULL;
    return fn->nvars++;
}

Node *ir_node(Function *fn, NodeKind kind, SrcLoc loc)
{
    Node *n = ir_alloc(fn, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->loc = loc;
    n->var = n->index = -1;
    if (kind == ND_CALL_MATH)
        n->index = MATHF_PYTHON;
    return n;
}

Node **ir_node_list(Function *fn, int n)
{
    return ir_alloc(fn, sizeof(Node *) * (size_t)(n > 0 ? n : 1));
}

/* Records the first error of fn (message, location, kind) and reports it
 * as the thread's last error. */
static ember_status record_error(Function *fn, SrcLoc loc, bool unsupported, const char *fmt,
                                 va_list ap)
{
    if (fn->err[0] == '\0') {
        vsnprintf(fn->err, sizeof fn->err, fmt, ap);
        fn->err_loc = loc;
        fn->err_unsupported = unsupported;
    }
    return em_error(EMBER_ERR_INVALID_ARG, "%s:%d:%d: %s",
                    fn->err_file ? fn->err_file : fn->file, fn->err_loc.line,
                    fn->err_loc.col, fn->err);
}

ember_status ir_error(Function *fn, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ember_status st = record_error(fn, loc, false, fmt, ap);
    va_end(ap);
    return st;
}

ember_status ir_unsupported(Function *fn, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ember_status st = record_error(fn, loc, true, fmt, ap);
    va_end(ap);
    return st;
}

ember_status ir_error_in_callee(Function *caller, SrcLoc call, const Function *spec)
{
    if (!caller->err[0]) {
        caller->err_unsupported = spec->err_unsupported;
        snprintf(caller->err, sizeof caller->err,
                 "%.700s (in device function '%.100s' called from %.150s:%d)",
                 spec->err[0] ? spec->err : "compilation failed", spec->name, caller->file,
                 call.line);
        caller->err_loc = spec->err_loc;
        caller->err_file = spec->err_file ? spec->err_file : spec->file;
    }
    return em_error(EMBER_ERR_INVALID_ARG, "%s:%d:%d: %s",
                    caller->err_file ? caller->err_file : caller->file, caller->err_loc.line,
                    caller->err_loc.col, caller->err);
}

static const char *const op_names[OP_COUNT] = {
    [OP_NONE] = "?",   [OP_NEG] = "-",        [OP_POS] = "+",       [OP_INVERT] = "~",
    [OP_NOT] = "not",  [OP_ADD] = "+",        [OP_SUB] = "-",       [OP_MUL] = "*",
    [OP_TRUEDIV] = "/", [OP_FLOORDIV] = "//", [OP_MOD] = "%",       [OP_POW] = "**",
    [OP_LSHIFT] = "<<", [OP_RSHIFT] = ">>",   [OP_BITAND] = "&",    [OP_BITOR] = "|",
    [OP_BITXOR] = "^", [OP_EQ] = "==",        [OP_NE] = "!=",       [OP_LT] = "<",
    [OP_LE] = "<=",    [OP_GT] = ">",         [OP_GE] = ">=",
};

const char *ir_op_name(Op op) { return (unsigned)op < OP_COUNT ? op_names[op] : "?"; }

static const char *const math_names[MATH_COUNT] = {
    [MATH_SIN] = "sin", [MATH_COS] = "cos", [MATH_TAN] = "tan", [MATH_ASIN] = "asin",
    [MATH_ACOS] = "acos", [MATH_ATAN] = "atan", [MATH_ATAN2] = "atan2", [MATH_SINH] = "sinh",
    [MATH_COSH] = "cosh", [MATH_TANH] = "tanh", [MATH_ASINH] = "asinh", [MATH_ACOSH] = "acosh",
    [MATH_ATANH] = "atanh", [MATH_EXP] = "exp", [MATH_EXPM1] = "expm1", [MATH_EXP2] = "exp2",
    [MATH_LOG] = "log", [MATH_LOG2] = "log2", [MATH_LOG10] = "log10", [MATH_LOG1P] = "log1p",
    [MATH_SQRT] = "sqrt", [MATH_POW] = "pow", [MATH_HYPOT] = "hypot", [MATH_ERF] = "erf",
    [MATH_ERFC] = "erfc", [MATH_GAMMA] = "gamma", [MATH_LGAMMA] = "lgamma",
    [MATH_FLOOR] = "floor", [MATH_CEIL] = "ceil", [MATH_TRUNC] = "trunc", [MATH_FABS] = "fabs",
    [MATH_FMOD] = "fmod", [MATH_COPYSIGN] = "copysign", [MATH_ISNAN] = "isnan",
    [MATH_ISINF] = "isinf", [MATH_ISFINITE] = "isfinite", [MATH_ABS] = "abs", [MATH_MIN] = "min",
    [MATH_MAX] = "max", [MATH_ROUND] = "round", [MATH_FREXP] = "frexp", [MATH_LDEXP] = "ldexp",
    [MATH_MODF] = "modf", [MATH_RADIANS] = "radians", [MATH_DEGREES] = "degrees",
    [MATH_REMAINDER] = "remainder", [MATH_CBRT] = "cbrt", [MATH_SIGN] = "sign",
    [MATH_SQUARE] = "square", [MATH_RECIPROCAL] = "reciprocal", [MATH_RINT] = "rint",
    [MATH_FMIN] = "fmin", [MATH_FMAX] = "fmax", [MATH_PHASE] = "phase", [MATH_POLAR] = "polar",
    [MATH_RECT] = "rect", [MATH_COMPLEX] = "complex",
};

const char *ir_math_name(MathFn fn) { return (unsigned)fn < MATH_COUNT ? math_names[fn] : "?"; }

bool ir_math_has_complex_form(MathFn fn)
{
    switch (fn) {
    case MATH_SQRT: case MATH_EXP: case MATH_LOG: case MATH_LOG10:
    case MATH_SIN: case MATH_COS: case MATH_TAN: case MATH_ASIN: case MATH_ACOS: case MATH_ATAN:
    case MATH_SINH: case MATH_COSH: case MATH_TANH: case MATH_ASINH: case MATH_ACOSH:
    case MATH_ATANH:
        return true;
    default:
        return false;
    }
}

const char *ir_math_label(const Node *n, char *buf, size_t cap)
{
    static const char *const prefix[MATHF_COUNT] = {"", "np.", "cmath."};
    snprintf(buf, cap, "%s%s", (unsigned)n->index < MATHF_COUNT ? prefix[n->index] : "?.",
             ir_math_name((MathFn)n->op));
    return buf;
}

/* ---- dump ----------------------------------------------------------- */

typedef struct Buf {
    char *p;
    size_t len, cap;
    bool oom;
} Buf;

static void put(Buf *b, const char *fmt, ...) EM_PRINTF(2, 3);
static void put(Buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)(n > 0 ? n : 64);
        char *p = em_malloc(cap);
        if (!p) {
            b->oom = true;
            return;
        }
        memcpy(p, b->p, b->len + 1);
        em_free(b->p);
        b->p = p;
        b->cap = cap;
    }
}

static const char *const kind_names[ND_KIND_COUNT] = {
    [ND_CONST] = "const", [ND_PARAM] = "param", [ND_LOAD] = "load", [ND_UNARY] = "unary",
    [ND_BINARY] = "binary", [ND_COMPARE] = "compare", [ND_AND] = "and", [ND_OR] = "or",
    [ND_IFEXP] = "ifexp", [ND_CAST] = "cast", [ND_CALL_MATH] = "math",
    [ND_INTRINSIC] = "intrinsic", [ND_INDEX] = "index", [ND_ATTR] = "attr", [ND_TUPLE] = "tuple",
    [ND_TUPLE_GET] = "tuple_get", [ND_CALL] = "call", [ND_ATOMIC] = "atomic", [ND_BLOCK] = "block", [ND_ASSIGN] = "assign",
    [ND_STORE] = "store", [ND_IF] = "if", [ND_WHILE] = "while", [ND_FOR_RANGE] = "for_range",
    [ND_BREAK] = "break", [ND_CONTINUE] = "continue", [ND_RETURN] = "return", [ND_EXPR] = "expr",
    [ND_CONST_ARRAY] = "const_array", [ND_SLICE] = "slice", [ND_SLICE_PART] = "slice_part", [ND_LOCAL_ARRAY] = "local_array",
    [ND_NEW_ARRAY] = "new_array", [ND_ARRAY_EXPR] = "array_expr", [ND_ELEM] = "elem",
    [ND_ARRAY_ASSIGN] = "array_assign",
    [ND_PRINT] = "print", [ND_FENCE] = "fence", [ND_SYNC] = "sync",
};

static void dump_node(Buf *b, const Function *fn, const Node *n, int depth)
{
    char ty[256];
    put(b, "%*s%s", depth * 2, "", n ? kind_names[n->kind] : "<null>");
    if (!n) {
        put(b, "\n");
        return;
    }
    switch (n->kind) {
    case ND_CONST:
        if (ty_is_float(n->ty))
            put(b, " %.17g", n->fval);
        else if (ty_is_complex(n->ty))
            put(b, " (%.17g%+.17gj)", n->fval, n->fimag);
        else
            put(b, " %lld", (long long)n->ival);
        break;
    case ND_PARAM: put(b, " %s", fn->param_names[n->index]); break;
    case ND_LOAD: case ND_ASSIGN: case ND_FOR_RANGE:
        put(b, " %s", n->var >= 0 && n->var < fn->nvars ? fn->var_names[n->var] : "?");
        break;
    case ND_UNARY: case ND_BINARY: case ND_COMPARE: put(b, " %s", ir_op_name(n->op)); break;
    case ND_CALL_MATH: {
        char name[64];
        put(b, " %s", ir_math_label(n, name, sizeof name));
        break;
    }
    case ND_TUPLE_GET: put(b, " [%d]", n->index); break;
    case ND_CALL: put(b, " %s", n->callee ? n->callee->name : "?"); break;
    case ND_CAST: put(b, " to %s", ty_str(n->target, ty, sizeof ty)); break;
    case ND_SLICE_PART:
        put(b, " %s:%s:%s", n->a ? "start" : "", n->b ? "stop" : "", n->c ? "step" : "");
        break;
    case ND_FENCE:
        put(b, " %s", n->op == FENCE_BLOCK ? "block" : n->op == FENCE_SYSTEM ? "system" : "device");
        break;
    case ND_NEW_ARRAY:
        put(b, " %s", n->op == NEW_ZEROS ? "zeros" : n->op == NEW_FULL ? "full"
                      : n->op == NEW_ARANGE ? "arange" : "empty");
        break;
    default: break;
    }
    if (n->ty && n->kind < ND_BLOCK)
        put(b, " :: %s", ty_str(n->ty, ty, sizeof ty));
    put(b, "  @%d:%d\n", n->loc.line, n->loc.col);
    if (n->a) dump_node(b, fn, n->a, depth + 1);
    if (n->b) dump_node(b, fn, n->b, depth + 1);
    if (n->c) dump_node(b, fn, n->c, depth + 1);
    for (int i = 0; i < n->nargs; i++)
        dump_node(b, fn, n->args[i], depth + 1);
}

char *ir_dump(const Function *fn)
{
    Buf b = {em_malloc(1024), 0, 1024, false};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    char ty[256];
    put(&b, "%s %s(", fn->is_kernel ? "kernel" : "function", fn->name);
    for (int i = 0; i < fn->nparams; i++)
        put(&b, "%s%s: %s", i ? ", " : "", fn->param_names[i],
            ty_str(fn->param_types[i], ty, sizeof ty));
    put(&b, ") -> %s\n", ty_str(fn->return_type, ty, sizeof ty));
    for (int i = 0; i < fn->nvars; i++)
        put(&b, "  var %s :: %s\n", fn->var_names[i], ty_str(fn->var_types[i], ty, sizeof ty));
    if (fn->body)
        dump_node(&b, fn, fn->body, 1);
    if (b.oom) {
        em_free(b.p);
        return NULL;
    }
    return b.p;
}
