/*
 * fission.c — the target-neutral analysis behind barrier fission, which
 * gives kernels block semantics on the CPU device (core/lower_fission.c
 * emits the code).
 *
 * The CPU device runs a block's threads one after another. A kernel with a
 * barrier (cuda.syncthreads*, cuda.syncwarp) or a warp collective (shuffles,
 * votes, ballot) is cut at each one into regions; each region runs as a loop
 * over the block's threads, so every thread has finished the code before a
 * barrier when any thread starts the code after it. A statement that
 * contains a barrier (an `if`, a loop) is "uniform control": its condition
 * is evaluated once per block and every thread follows it, unless it may
 * depend on the thread (fission_thread_dependence) or the statement splits
 * only at warp-level operations: then it is divergent, each thread follows
 * its own path (fission_divergent_if / _while). This file says which
 * statements split (fission_splits), which variables are the same for the
 * whole block (fission_uniform_vars), and refuses, at compile time,
 * barriers under conditions that provably differ between the threads of a
 * block (undefined behaviour on a GPU, where it usually hangs). The rest is
 * checked at run time under debug=True / boundscheck=True (core/lower_fission.c).
 */
#include <stdio.h>
#include <string.h>

#include "core/ir.h"

/* The kind of intrinsic n (core/intrinsics.def), or -1 for other nodes. */
static int intrinsic_kind(const Node *n)
{
    return n && n->kind == ND_INTRINSIC && (unsigned)n->op < INTR_COUNT
               ? (int)ir_intrinsics[n->op].kind : -1;
}

bool fission_is_collective(const Node *n)
{
    int k = intrinsic_kind(n);
    return k == INTRK_WARP || k == INTRK_BLOCK;
}

bool fission_is_barrier(const Node *n)
{
    return n && (n->kind == ND_SYNC || fission_is_collective(n));
}

/* The first barrier or collective in n (not inside device functions). */
static const Node *first_barrier(const Node *n)
{
    if (!n)
        return NULL;
    if (fission_is_barrier(n))
        return n;
    const Node *r;
    if ((r = first_barrier(n->a)) || (r = first_barrier(n->b)) || (r = first_barrier(n->c)))
        return r;
    for (int i = 0; i < n->nargs; i++)
        if ((r = first_barrier(n->args[i])))
            return r;
    return NULL;
}

bool fission_contains_barrier(const Node *n) { return first_barrier(n) != NULL; }

/* A break / continue in n whose loop is outside n (depth: loops entered). */
static bool has_escape(const Node *n, int depth)
{
    if (!n)
        return false;
    if (n->kind == ND_BREAK || n->kind == ND_CONTINUE)
        return depth == 0;
    if (n->kind < ND_BLOCK) /* expressions hold no statements */
        return false;
    int inner = depth + (n->kind == ND_WHILE || n->kind == ND_FOR_RANGE);
    if (has_escape(n->b, inner) || has_escape(n->c, inner))
        return true;
    if (n->kind == ND_BLOCK)
        for (int i = 0; i < n->nargs; i++)
            if (has_escape(n->args[i], depth))
                return true;
    return false;
}

bool fission_splits(const Node *n) { return fission_contains_barrier(n) || has_escape(n, 0); }

/* A block-wide barrier: syncthreads, syncthreads_count/and/or, or grid.sync
 * (every thread of the block waits there too). */
static bool has_block_barrier(const Node *n)
{
    if (!n)
        return false;
    if ((n->kind == ND_SYNC && (n->op == SYNC_THREADS || n->op == SYNC_GRID)) ||
        intrinsic_kind(n) == INTRK_BLOCK)
        return true;
    if (has_block_barrier(n->a) || has_block_barrier(n->b) || has_block_barrier(n->c))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (has_block_barrier(n->args[i]))
            return true;
    return false;
}

bool fission_has_block_barrier(const Node *n) { return has_block_barrier(n); }

static bool thread_dependent(const Node *n, const bool *dep, int *via);

/* Divergent: split only at warp-level operations, or under a condition
 * computed from the thread index (then the threads that do not take the
 * branch, or leave the loop, count as arrived at its barriers). */
bool fission_divergent_if(const Node *n, const bool *dep)
{
    return n && n->kind == ND_IF && (fission_splits(n->b) || fission_splits(n->c)) &&
           !has_escape(n->b, 0) && !has_escape(n->c, 0) &&
           ((!has_block_barrier(n->b) && !has_block_barrier(n->c)) ||
            thread_dependent(n->a, dep, NULL));
}

bool fission_divergent_while(const Node *n, const bool *dep)
{
    return n && n->kind == ND_WHILE && fission_splits(n) && !has_block_barrier(n->a) &&
           !has_escape(n->b, 0) &&
           (!has_block_barrier(n->b) || thread_dependent(n->a, dep, NULL));
}

bool fission_uses_block(const Node *n)
{
    if (!n)
        return false;
    if (fission_is_barrier(n) ||
        intrinsic_kind(n) == INTRK_WARP_MASK ||
        (n->kind == ND_LOCAL_ARRAY && n->op == MEM_SHARED))
        return true;
    if (fission_uses_block(n->a) || fission_uses_block(n->b) || fission_uses_block(n->c))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (fission_uses_block(n->args[i]))
            return true;
    return false;
}

const char *fission_op_name(const Node *n)
{
    if (n && n->kind == ND_SYNC)
        return n->op == SYNC_THREADS ? "cuda.syncthreads"
             : n->op == SYNC_GRID ? "grid.sync()" : "cuda.syncwarp";
    return fission_is_collective(n) ? ir_intrinsics[n->op].label : "cuda.syncthreads";
}

/* ---- thread dependence ---------------------------------------------------
 * An expression may depend on the thread when it reads threadIdx,
 * cuda.grid(), the lane, a shuffled value, an atomic's old value, a device
 * function's result, an element at such an index, or a variable assigned
 * such a value anywhere (flow-insensitive, to a fixed point). Collective
 * results are the same across the block (syncthreads_*) or warp (votes).
 * Conditions that may depend on the thread make divergent branches; the
 * compile-time refusal also needs them "closed" (below). */

static bool thread_dependent(const Node *n, const bool *dep, int *via)
{
    if (!n)
        return false;
    if (n->kind == ND_INTRINSIC &&
        (n->op == INTR_THREAD_IDX || n->op == INTR_GRID || n->op == INTR_LANEID ||
         n->op == INTR_LANEMASK_LT || (n->op >= INTR_SHFL_IDX && n->op <= INTR_SHFL_XOR) ||
         n->op == INTR_MATCH_ANY))
        return true;
    if (fission_is_collective(n)) /* the same for the block (syncthreads_*) or warp (votes) */
        return false;
    if (n->kind == ND_LOAD && dep[n->var]) {
        if (via && *via < 0)
            *via = n->var;
        return true;
    }
    if (n->kind == ND_ATOMIC || n->kind == ND_CALL) /* each thread's old value; a device
                                                      * function may read threadIdx */
        return true;
    if (thread_dependent(n->a, dep, via) || thread_dependent(n->b, dep, via) ||
        thread_dependent(n->c, dep, via))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (thread_dependent(n->args[i], dep, via))
            return true;
    return false;
}

static bool mark_dependent(const Node *n, bool *dep)
{
    if (!n || n->kind < ND_BLOCK)
        return false;
    bool changed = false;
    if (n->kind == ND_ASSIGN && !dep[n->var] && thread_dependent(n->a, dep, NULL))
        dep[n->var] = changed = true;
    if (n->kind == ND_FOR_RANGE && !dep[n->var])
        for (int i = 0; i < n->nargs; i++)
            if (thread_dependent(n->args[i], dep, NULL))
                dep[n->var] = changed = true;
    changed |= mark_dependent(n->b, dep);
    changed |= mark_dependent(n->c, dep);
    if (n->kind == ND_BLOCK)
        for (int i = 0; i < n->nargs; i++)
            changed |= mark_dependent(n->args[i], dep);
    return changed;
}

void fission_thread_dependence(const Function *fn, bool *dep)
{
    memset(dep, 0, (size_t)fn->nvars + 1);
    while (mark_dependent(fn->body, dep)) {
    }
}

/* "Closed": computed from nothing but constants and the thread and block
 * indices and dimensions (no argument, no memory), so that a closed
 * expression that depends on the thread differs between the threads of
 * any block big enough: a barrier under it is an error one can prove. */
static bool closed_expr(const Node *n, const bool *closed)
{
    if (!n)
        return true;
    switch (n->kind) {
    case ND_CONST: case ND_INTRINSIC:
        if (n->kind == ND_INTRINSIC && n->op > INTR_WARPSIZE)
            return false;
        break;
    case ND_LOAD:
        return closed[n->var];
    case ND_UNARY: case ND_BINARY: case ND_COMPARE: case ND_AND: case ND_OR: case ND_IFEXP:
    case ND_CAST: case ND_CALL_MATH: case ND_TUPLE: case ND_TUPLE_GET:
        break;
    default:
        return false;
    }
    if (!closed_expr(n->a, closed) || !closed_expr(n->b, closed) || !closed_expr(n->c, closed))
        return false;
    for (int i = 0; i < n->nargs; i++)
        if (!closed_expr(n->args[i], closed))
            return false;
    return true;
}

static bool drop_open(const Node *n, bool *closed)
{
    if (!n || n->kind < ND_BLOCK)
        return false;
    bool changed = false;
    if (n->kind == ND_ASSIGN && closed[n->var] && !closed_expr(n->a, closed))
        closed[n->var] = false, changed = true;
    if (n->kind == ND_FOR_RANGE && closed[n->var])
        for (int i = 0; i < n->nargs; i++)
            if (!closed_expr(n->args[i], closed))
                closed[n->var] = false, changed = true;
    changed |= drop_open(n->b, closed);
    changed |= drop_open(n->c, closed);
    if (n->kind == ND_BLOCK)
        for (int i = 0; i < n->nargs; i++)
            changed |= drop_open(n->args[i], closed);
    return changed;
}

/* Refuses the uniform-control statement n when a header expression is
 * provably different between threads (thread-dependent and closed). */
static ember_status check_header(Function *fn, const Node *n, Node *const *hdr, int nhdr,
                                 const bool *dep, const bool *closed)
{
    for (int i = 0; i < nhdr; i++) {
        int via = -1;
        if (!thread_dependent(hdr[i], dep, &via) || !closed_expr(hdr[i], closed))
            continue;
        const Node *bar = first_barrier(n);
        char how[300] = "";
        if (via >= 0)
            snprintf(how, sizeof how, " (through variable '%s')", fn->var_names[via]);
        const char *what = n->kind == ND_IF ? "an `if` whose condition"
                         : n->kind == ND_WHILE ? "a `while` loop whose condition"
                                               : "a `for` loop whose range";
        if (bar)
            return ir_error(fn, hdr[i]->loc, "%s() (line %d) is inside %s depends on the thread "
                            "index%s and on nothing else but constants and block dimensions, "
                            "so the threads of a block disagree on it: every thread of a block "
                            "must reach a barrier or warp "
                            "collective the same number of times (on a GPU this is undefined "
                            "behaviour and usually hangs); compute the condition from values "
                            "that are the same for the whole block (blockIdx, blockDim, "
                            "arguments, shared memory read after a barrier), or move the "
                            "barrier out of it", fission_op_name(bar), bar->loc.line, what,
                            how);
        return ir_error(fn, hdr[i]->loc, "%s depends on the thread index%s and holds a "
                        "`break`, `continue` or `return` out of a loop that contains a "
                        "barrier: every thread of the block must run that loop the same "
                        "number of times; leave the loop on a condition the whole block "
                        "shares", what, how);
    }
    return EMBER_SUCCESS;
}

static ember_status check_uniform(Function *fn, const Node *n, const bool *dep,
                                  const bool *closed)
{
    if (!n || n->kind < ND_BLOCK || !fission_splits(n))
        return EMBER_SUCCESS;
    ember_status st = EMBER_SUCCESS;
    bool block_wide = has_block_barrier(n->b) || has_block_barrier(n->c) ||
                      has_escape(n->b, 0) || has_escape(n->c, 0);
    switch (n->kind) {
    case ND_BLOCK:
        for (int i = 0; i < n->nargs && !st; i++)
            st = check_uniform(fn, n->args[i], dep, closed);
        return st;
    case ND_IF: case ND_WHILE: /* barriers (or a break out of a loop with them) inside */
        if (block_wide || (n->kind == ND_WHILE && has_block_barrier(n->a)))
            st = check_header(fn, n, &n->a, 1, dep, closed);
        break;
    case ND_FOR_RANGE:
        if (fission_splits(n->b))
            st = check_header(fn, n, n->args, n->nargs, dep, closed);
        break;
    default:
        return EMBER_SUCCESS;
    }
    if (!st)
        st = check_uniform(fn, n->b, dep, closed);
    if (!st)
        st = check_uniform(fn, n->c, dep, closed);
    return st;
}

ember_status fission_check(Function *fn)
{
    bool *dep = ir_alloc(fn, (size_t)fn->nvars + 1), *closed = ir_alloc(fn, (size_t)fn->nvars + 1);
    if (!dep || !closed)
        return EMBER_ERR_OUT_OF_MEMORY;
    fission_thread_dependence(fn, dep);
    memset(closed, 1, (size_t)fn->nvars + 1);
    while (drop_open(fn->body, closed)) {
    }
    return check_uniform(fn, fn->body, dep, closed);
}

/* ---- uniform variables ---------------------------------------------------
 * A variable every thread of the block holds the same value of can live
 * once per block instead of once per thread, and its assignments run once,
 * at uniform level (between regions). It qualifies when each assignment to
 * it is at uniform level (not inside a region's statement or a divergent
 * branch) and computes a value from constants, arguments, blockIdx /
 * blockDim / gridDim, array shapes, shared arrays and other such variables,
 * without side effects; a `for` variable qualifies when its loop is run by
 * the whole block together. */

static bool uniform_expr(const Node *n, const bool *uni)
{
    if (!n)
        return true;
    switch (n->kind) {
    case ND_CONST: case ND_PARAM:
        return true;
    case ND_LOAD:
        return uni[n->var];
    case ND_INTRINSIC:
        return n->op == INTR_BLOCK_IDX || n->op == INTR_BLOCK_DIM || n->op == INTR_GRID_DIM ||
               n->op == INTR_WARPSIZE;
    case ND_ATTR:
        if (n->op != ATTR_SHAPE && n->op != ATTR_STRIDES && n->op != ATTR_SIZE &&
            n->op != ATTR_NDIM && n->op != ATTR_LEN)
            return false;
        break;
    case ND_LOCAL_ARRAY:
        return n->op == MEM_SHARED;
    case ND_UNARY: case ND_BINARY: case ND_COMPARE: case ND_AND: case ND_OR: case ND_IFEXP:
    case ND_CAST: case ND_CALL_MATH: case ND_TUPLE: case ND_TUPLE_GET:
        break;
    default:
        return false;
    }
    if (!uniform_expr(n->a, uni) || !uniform_expr(n->b, uni) || !uniform_expr(n->c, uni))
        return false;
    for (int i = 0; i < n->nargs; i++)
        if (!uniform_expr(n->args[i], uni))
            return false;
    return true;
}

/* Clears uni[v] for each variable statement n assigns in a way that does
 * not qualify; at_uniform: n runs at uniform level. True when it cleared
 * one. */
static bool drop_nonuniform(const Node *n, bool at_uniform, bool *uni, const bool *dep)
{
    if (!n || n->kind < ND_BLOCK)
        return false;
    bool changed = false;
    switch (n->kind) {
    case ND_ASSIGN:
        if (uni[n->var] && !(at_uniform && uniform_expr(n->a, uni)))
            uni[n->var] = false, changed = true;
        return changed;
    case ND_FOR_RANGE: {
        bool loop = at_uniform && fission_splits(n->b);
        if (uni[n->var] && !loop)
            uni[n->var] = false, changed = true;
        return drop_nonuniform(n->b, loop, uni, dep) || changed;
    }
    case ND_BLOCK:
        for (int i = 0; i < n->nargs; i++)
            changed |= drop_nonuniform(n->args[i], at_uniform, uni, dep);
        return changed;
    case ND_IF: case ND_WHILE: {
        bool together = at_uniform && fission_splits(n) && !fission_divergent_if(n, dep) &&
                        !fission_divergent_while(n, dep);
        changed |= drop_nonuniform(n->b, together, uni, dep);
        changed |= drop_nonuniform(n->c, together, uni, dep);
        return changed;
    }
    default:
        return false;
    }
}

void fission_uniform_vars(const Function *fn, const bool *dep, bool *uni)
{
    for (int v = 0; v < fn->nvars; v++)
        uni[v] = !dep[v];
    while (drop_nonuniform(fn->body, true, uni, dep)) {
    }
}

/* ---- device functions with block-level operations ------------------------
 * The host lowering inlines device functions into one thread's code, which
 * cannot hold a barrier. So on the CPU device a call of a device function
 * whose body has block-level operations is inlined here, into the kernel's
 * IR, before fission: its parameters and variables become kernel variables
 * (one set per call site), the statements that assign the arguments and the
 * callee's body go before the statement with the call, and the call becomes
 * a read of the variable its final `return` assigned. */

typedef struct Inliner {
    Function *fn;        /* the kernel */
    const Function *spec;
    int var0, param0;    /* the kernel variables of the callee's variables, parameters */
    int result;          /* the variable of the return value, -1 for none */
    const Node *site;
    ember_status st;
} Inliner;

static bool block_call(const Node *n)
{
    return n && n->kind == ND_CALL && n->spec && n->spec->body &&
           fission_uses_block(n->spec->body);
}

/* A copy of the callee's tree n with the kernel's variables; the final
 * `return` (last) becomes an assignment of the result. */
static Node *inline_copy(Inliner *in, const Node *n, bool last)
{
    if (!n || in->st)
        return NULL;
    Node *c = ir_node(in->fn, n->kind, n->loc);
    if (!c) {
        in->st = EMBER_ERR_OUT_OF_MEMORY;
        return NULL;
    }
    *c = *n;
    if (n->kind == ND_LOAD || n->kind == ND_ASSIGN || n->kind == ND_FOR_RANGE)
        c->var = in->var0 + n->var;
    if (n->kind == ND_PARAM) {
        c->kind = ND_LOAD;
        c->var = in->param0 + n->index;
    }
    if (n->kind == ND_RETURN) {
        if (!last) {
            in->st = ir_unsupported(in->fn, in->site->loc, "device function '%s' has barriers "
                                    "or warp collectives and returns before its end: the CPU "
                                    "device inlines such functions into the kernel and needs "
                                    "their only `return` to be the last statement",
                                    in->spec->name);
            return NULL;
        }
        if (!n->a || in->result < 0) { /* nothing to hand back */
            c->kind = ND_BLOCK;
            c->a = NULL;
            c->nargs = 0;
            c->args = NULL;
            return c;
        }
        c->kind = ND_ASSIGN;
        c->var = in->result;
        c->a = inline_copy(in, n->a, false);
        return c;
    }
    c->a = inline_copy(in, n->a, false);
    c->b = inline_copy(in, n->b, false);
    c->c = inline_copy(in, n->c, false);
    if (n->nargs) {
        if (!(c->args = ir_node_list(in->fn, n->nargs))) {
            in->st = EMBER_ERR_OUT_OF_MEMORY;
            return NULL;
        }
        for (int i = 0; i < n->nargs; i++)
            c->args[i] = inline_copy(in, n->args[i],
                                     last && n->kind == ND_BLOCK && i == n->nargs - 1);
    }
    return c;
}

static ember_status inline_block(Function *fn, Node *blk, int depth);

/* Inlines the block calls in expression tree e (innermost first), adding the
 * statements they need to out[*nout]. */
static ember_status inline_calls(Function *fn, Node *e, Node ***out, int *nout, int *cap,
                                 int depth)
{
    if (!e || e->kind == ND_BLOCK)
        return EMBER_SUCCESS;
    ember_status st;
    if ((st = inline_calls(fn, e->a, out, nout, cap, depth)) ||
        (st = inline_calls(fn, e->b, out, nout, cap, depth)) ||
        (st = inline_calls(fn, e->c, out, nout, cap, depth)))
        return st;
    for (int i = 0; i < e->nargs; i++)
        if ((st = inline_calls(fn, e->args[i], out, nout, cap, depth)))
            return st;
    if (!block_call(e))
        return EMBER_SUCCESS;
    const Function *spec = e->spec;
    if (spec->recursive || depth > 16)
        return ir_unsupported(fn, e->loc, "device function '%s' has barriers or warp "
                              "collectives and is recursive: the CPU device cannot inline it",
                              spec->name);
    Inliner in = {.fn = fn, .spec = spec, .result = -1, .site = e};
    char name[300];
    in.var0 = fn->nvars;
    for (int v = 0; v < spec->nvars; v++) {
        snprintf(name, sizeof name, "%s.%s", spec->name, spec->var_names[v]);
        int k = ir_add_var(fn, name);
        if (k < 0)
            return EMBER_ERR_OUT_OF_MEMORY;
        fn->var_types[k] = spec->var_types[v];
    }
    in.param0 = fn->nvars;
    for (int p = 0; p < spec->nparams; p++) {
        snprintf(name, sizeof name, "%s.%s", spec->name, spec->param_names[p]);
        int k = ir_add_var(fn, name);
        if (k < 0)
            return EMBER_ERR_OUT_OF_MEMORY;
        fn->var_types[k] = spec->param_types[p];
    }
    bool has_value = spec->return_type && spec->return_type->kind != TY_VOID;
    if (has_value) { /* of the type the call had, which its users expect */
        snprintf(name, sizeof name, "%s.return", spec->name);
        if ((in.result = ir_add_var(fn, name)) < 0)
            return EMBER_ERR_OUT_OF_MEMORY;
        fn->var_types[in.result] = ty_concrete(e->ty);
    }
    Node *body = inline_copy(&in, spec->body, true);
    if (in.st)
        return in.st;
    if ((st = inline_block(fn, body, depth + 1)))
        return st;
    /* the arguments, then the body */
    int need = *nout + e->nargs + 1;
    if (need > *cap) {
        int ncap = need * 2;
        Node **v = ir_node_list(fn, ncap);
        if (!v)
            return EMBER_ERR_OUT_OF_MEMORY;
        if (*nout)
            memcpy(v, *out, sizeof *v * (size_t)*nout);
        *out = v;
        *cap = ncap;
    }
    for (int p = 0; p < e->nargs; p++) {
        Node *a = ir_node(fn, ND_ASSIGN, e->args[p]->loc);
        if (!a)
            return EMBER_ERR_OUT_OF_MEMORY;
        a->ty = ty_scalar(TY_VOID);
        a->var = in.param0 + p;
        a->a = e->args[p];
        (*out)[(*nout)++] = a;
    }
    (*out)[(*nout)++] = body;
    /* the call reads the result */
    e->kind = has_value ? ND_LOAD : ND_CONST;
    e->var = in.result;
    e->spec = NULL;
    e->callee = NULL;
    e->args = NULL;
    e->nargs = 0;
    if (!has_value) { /* a call as a statement: nothing is left to compute */
        e->ty = ty_scalar(TY_BOOL);
        e->ival = 0;
    }
    return EMBER_SUCCESS;
}

static bool has_block_call(const Node *n)
{
    if (!n)
        return false;
    if (block_call(n))
        return true;
    if (has_block_call(n->a) || has_block_call(n->b) || has_block_call(n->c))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (has_block_call(n->args[i]))
            return true;
    return false;
}

/* The statements of blk, each preceded by the inlined calls it makes. */
static ember_status inline_block(Function *fn, Node *blk, int depth)
{
    if (!blk || !has_block_call(blk))
        return EMBER_SUCCESS;
    if (blk->kind != ND_BLOCK) { /* a bare statement (an elif): it becomes a block of one */
        Node *s = ir_node(fn, blk->kind, blk->loc), **one = ir_node_list(fn, 1);
        if (!s || !one)
            return EMBER_ERR_OUT_OF_MEMORY;
        *s = *blk;
        one[0] = s;
        blk->kind = ND_BLOCK;
        blk->ty = ty_scalar(TY_VOID);
        blk->a = blk->b = blk->c = NULL;
        blk->args = one;
        blk->nargs = 1;
    }
    Node **out = NULL;
    int nout = 0, cap = 0;
    ember_status st;
    for (int i = 0; i < blk->nargs; i++) {
        Node *s = blk->args[i];
        switch (s->kind) {
        case ND_IF:
            st = inline_calls(fn, s->a, &out, &nout, &cap, depth);
            if (!st)
                st = inline_block(fn, s->b, depth);
            if (!st)
                st = inline_block(fn, s->c, depth);
            break;
        case ND_WHILE:
            if (has_block_call(s->a))
                return ir_unsupported(fn, s->a->loc, "a call of a device function with "
                                      "barriers or warp collectives in a `while` condition "
                                      "is not supported on the CPU device yet: assign it to a "
                                      "variable before the loop and at the end of its body");
            st = inline_block(fn, s->b, depth);
            break;
        case ND_FOR_RANGE:
            st = EMBER_SUCCESS;
            for (int k = 0; k < s->nargs && !st; k++)
                st = inline_calls(fn, s->args[k], &out, &nout, &cap, depth);
            if (!st)
                st = inline_block(fn, s->b, depth);
            break;
        case ND_BLOCK:
            st = inline_block(fn, s, depth);
            break;
        default:
            st = inline_calls(fn, s, &out, &nout, &cap, depth);
        }
        if (st)
            return st;
        if (nout + 1 > cap) {
            int ncap = (nout + 1) * 2;
            Node **v = ir_node_list(fn, ncap);
            if (!v)
                return EMBER_ERR_OUT_OF_MEMORY;
            if (nout)
                memcpy(v, out, sizeof *v * (size_t)nout);
            out = v;
            cap = ncap;
        }
        out[nout++] = s;
    }
    blk->args = out;
    blk->nargs = nout;
    return EMBER_SUCCESS;
}

ember_status fission_inline(Function *fn)
{
    return inline_block(fn, fn->body, 0);
}

/* Distinct static shared arrays under n, summed into *total; `seen` holds
 * the ones counted (a node may be reached twice). */
static void shared_sum(const Node *n, const Node ***seen, int *nseen, int *cap, int64_t *total)
{
    if (!n)
        return;
    if (n->kind == ND_LOCAL_ARRAY && n->op == MEM_SHARED && n->ty && n->ty->kind == TY_ARRAY) {
        for (int i = 0; i < *nseen; i++)
            if ((*seen)[i] == n)
                return;
        int64_t bytes = ty_bits(n->ty->elem) < 8 ? 1 : ty_bits(n->ty->elem) / 8;
        for (int i = 0; i < n->nargs; i++)
            bytes *= n->args[i]->kind == ND_CONST ? n->args[i]->ival : 0;
        if (bytes > 0)
            *total = ((*total + 15) & ~(int64_t)15) + bytes;
        if (*nseen == *cap) {
            int c = *cap ? 2 * *cap : 8;
            const Node **s = em_malloc((size_t)c * sizeof *s);
            if (!s)
                return; /* a count too low at worst: the launch's own limit still holds */
            if (*nseen)
                memcpy(s, *seen, (size_t)*nseen * sizeof *s);
            em_free(*seen);
            *seen = s;
            *cap = c;
        }
        (*seen)[(*nseen)++] = n;
        return;
    }
    shared_sum(n->a, seen, nseen, cap, total);
    shared_sum(n->b, seen, nseen, cap, total);
    shared_sum(n->c, seen, nseen, cap, total);
    for (int i = 0; i < n->nargs; i++)
        shared_sum(n->args[i], seen, nseen, cap, total);
}

int64_t fission_static_shared_bytes(const Function *fn)
{
    const Node **seen = NULL;
    int nseen = 0, cap = 0;
    int64_t total = 0;
    shared_sum(fn->body, &seen, &nseen, &cap, &total);
    em_free(seen);
    return total;
}
