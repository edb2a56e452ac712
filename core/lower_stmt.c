/*
 * lower_stmt.c — statements: assignments, stores, if / while / range
 * loops, break / continue / return, print, barriers and fences (the last
 * three through the target).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

/* ======================================================================== */
/* Statements                                                               */
/* ======================================================================== */


void lw_push_loop(Lower *L, const Node *n, LLVMBasicBlockRef brk, LLVMBasicBlockRef cont)
{
    if (L->nloops >= MAX_LOOP_DEPTH)
        lw_fail(L, n, "loops nested more than %d deep", MAX_LOOP_DEPTH);
    L->loops[L->nloops++] = (LoopTargets){brk, cont};
}

/* for var in range(start, stop, step), Python semantics: the values start,
 * start+step, ... while < stop (step > 0) or > stop (step < 0); the body's
 * assignments to `var` do not change the iteration; after the loop `var`
 * keeps its last value. The step's sign is known at compile time when it is
 * a constant, else tested at run time. A zero step (ValueError in Python)
 * raises ValueError from an ember.jit function; in a kernel (where numba
 * ends the thread, its exception lost without debug=True) it runs no
 * iteration. The counter lives in a hidden slot of the promoted type
 * of the three bounds; stepping past the type's range ends the loop (the
 * overflow check is left out for steps of +-1, which cannot overflow). */
void lw_for_range(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *ct = ty_promote(ty_promote(n->args[0]->ty, n->args[1]->ty), n->args[2]->ty);
    ct = ty_concrete(ct);
    if (ct && ct->kind == TY_BOOL)
        ct = ty_scalar(TY_I64);
    if (!ct || !ty_is_int(ct)) /* int64 with uint64 promotes to float64 (NumPy) */
        lw_fail(L, n, "range() bounds of mixed signed and unsigned 64-bit integers: "
                   "convert them to one integer type");
    bool sg = ty_is_signed(ct);
    LLVMTypeRef it = lw_lty(L, ct);
    LLVMValueRef start = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, ct);
    LLVMValueRef stop = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, ct);
    LLVMValueRef step = lw_conv(L, n, lw_expr(L, n->args[2]), n->args[2]->ty, ct);
    int sign = 0; /* 0: run time */
    bool unit = false;
    const Node *sn = n->args[2];
    if (sn->kind == ND_CONST) {
        if (sn->ival == 0)
            lw_fail(L, sn, "range() arg 3 must not be zero");
        if (!sg && sn->ival < 0 && ty_is_signed(sn->ty))
            lw_fail(L, sn, "range() with unsigned bounds and a negative step");
        sign = sn->ival > 0 || !sg ? 1 : -1;
        unit = sn->ival == 1 || sn->ival == -1;
    } else if (!sg) {
        sign = 1; /* unsigned: a nonzero step is positive; zero is handled below */
    }
    if (sn->kind != ND_CONST && L->function_entry && L->func == L->root_func) {
        LLVMValueRef zero = LLVMBuildICmp(B, LLVMIntEQ, step, ci(it, 0), "");
        LLVMBasicBlockRef bad = lw_new_bb(L, "range.step0"), ok = lw_new_bb(L, "range");
        LLVMBuildCondBr(B, zero, bad, ok);
        LLVMPositionBuilderAtEnd(B, bad);
        lw_end_call(L, sn, KERNEL_FAULT_RANGE_STEP);
        LLVMPositionBuilderAtEnd(B, ok);
    }
    LLVMValueRef slot = lw_entry_alloca(L, it, "range.i");
    LLVMBuildStore(B, start, slot);
    LLVMBasicBlockRef hdr = lw_new_bb(L, "for.hdr"), body = lw_new_bb(L, "for.body");
    LLVMBasicBlockRef latch = lw_new_bb(L, "for.latch"), step_bb = lw_new_bb(L, "for.step");
    LLVMBasicBlockRef exit = lw_new_bb(L, "for.end");
    LLVMBuildBr(B, hdr);

    LLVMPositionBuilderAtEnd(B, hdr);
    LLVMValueRef i = LLVMBuildLoad2(B, it, slot, "i");
    LLVMValueRef up = LLVMBuildICmp(B, sg ? LLVMIntSLT : LLVMIntULT, i, stop, "");
    LLVMValueRef cond;
    if (sign > 0 && (sn->kind == ND_CONST || sg)) {
        cond = up;
    } else if (sign > 0) { /* unsigned, run-time step: zero runs nothing */
        cond = LLVMBuildAnd(B, up, LLVMBuildICmp(B, LLVMIntNE, step, ci(it, 0), ""), "");
    } else if (sign < 0) {
        cond = LLVMBuildICmp(B, LLVMIntSGT, i, stop, "");
    } else {
        LLVMValueRef down = LLVMBuildICmp(B, LLVMIntSGT, i, stop, "");
        LLVMValueRef pos = LLVMBuildICmp(B, LLVMIntSGT, step, ci(it, 0), "");
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, step, ci(it, 0), "");
        cond = LLVMBuildSelect(B, pos, up, LLVMBuildAnd(B, neg, down, ""), "");
    }
    LLVMBuildCondBr(B, cond, body, exit);

    LLVMPositionBuilderAtEnd(B, body);
    lw_var_store(L, n->var, lw_conv(L, n, i, ct, L->fn->var_types[n->var]));
    lw_push_loop(L, n, exit, latch);
    lw_stmt(L, n->b);
    L->nloops--;
    LLVMBuildBr(B, latch);

    LLVMPositionBuilderAtEnd(B, latch);
    if (L->jit)
        L->jit->loop_end(L, n->b);
    LLVMValueRef cur = LLVMBuildLoad2(B, it, slot, "");
    if (unit) {
        LLVMBuildStore(B, LLVMBuildAdd(B, cur, step, ""), slot);
        LLVMBuildBr(B, hdr);
        LLVMDeleteBasicBlock(step_bb);
    } else {
        LLVMValueRef r = lw_intr2(L, sg ? "llvm.sadd.with.overflow" : "llvm.uadd.with.overflow", cur, step);
        LLVMValueRef next = LLVMBuildExtractValue(B, r, 0, "");
        LLVMValueRef ovf = LLVMBuildExtractValue(B, r, 1, "");
        LLVMBuildCondBr(B, ovf, exit, step_bb);
        LLVMPositionBuilderAtEnd(B, step_bb);
        LLVMBuildStore(B, next, slot);
        LLVMBuildBr(B, hdr);
    }
    LLVMPositionBuilderAtEnd(B, exit);
}

/* print(a, "text", b): one line printed by one call of the target's print
 * (whole lines do not interleave between threads). Formats follow
 * numba.cuda: integers in decimal, floats with %f, bools as True/False,
 * complex as (re+imj). */
static void print_stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    size_t cap = strlen(n->text) * 2 + (size_t)n->nargs * 16 + 1, len = 0;
    char *fmt = ir_alloc(L->fn, cap);
    LLVMValueRef *vals = ir_alloc(L->fn, sizeof *vals * (size_t)(2 * n->nargs + 1));
    if (!fmt || !vals)
        lw_fail(L, n, "out of memory");
    unsigned nv = 1, k = 0;
    for (const char *p = n->text; *p; p++) {
        if (*p != IR_PRINT_SLOT) {
            if (*p == '%')
                fmt[len++] = '%';
            fmt[len++] = *p;
            continue;
        }
        Node *a = n->args[k++];
        const Type *t = ty_concrete(a->ty);
        LLVMValueRef v = lw_expr(L, a);
        const char *spec;
        if (t->kind == TY_BOOL) {
            spec = "%s";
            v = LLVMBuildSelect(B, v, L->target->string_ptr(L, "True"), L->target->string_ptr(L, "False"), "");
        } else if (ty_is_int(t)) {
            spec = ty_is_signed(t) ? "%lld" : "%llu";
            v = lw_conv(L, a, v, t, ty_scalar(ty_is_signed(t) ? TY_I64 : TY_U64));
        } else if (ty_is_float(t)) {
            spec = "%f";
            v = lw_conv(L, a, v, t, ty_scalar(TY_F64));
        } else {
            spec = "(%f%+fj)";
            LLVMValueRef re = re_of(L, v), im = im_of(L, v);
            if (t->kind == TY_C64) {
                re = LLVMBuildFPExt(B, re, L->t_f64, "");
                im = LLVMBuildFPExt(B, im, L->t_f64, "");
            }
            vals[nv++] = re;
            v = im;
        }
        vals[nv++] = v;
        memcpy(fmt + len, spec, strlen(spec));
        len += strlen(spec);
    }
    fmt[len] = '\0';
    vals[0] = L->target->string_ptr(L, fmt);
    L->target->print(L, vals, nv);
}


/* The branches of ND_IF n on condition c (i1): n->b when true, n->c (if
 * any) when false; the builder ends at the join. `tag` names the blocks. */
void lw_if_branches(Lower *L, LLVMValueRef c, Node *n, const char *tag)
{
    LLVMBuilderRef B = L->b;
    char name[32];
    snprintf(name, sizeof name, "%s.then", tag);
    LLVMBasicBlockRef bt = lw_new_bb(L, name);
    snprintf(name, sizeof name, "%s.end", tag);
    LLVMBasicBlockRef done = lw_new_bb(L, name);
    snprintf(name, sizeof name, "%s.else", tag);
    LLVMBasicBlockRef bf = n->c ? lw_new_bb(L, name) : done;
    LLVMBuildCondBr(B, c, bt, bf);
    LLVMPositionBuilderAtEnd(B, bt);
    if (n->b)
        lw_stmt(L, n->b);
    LLVMBuildBr(B, done);
    if (n->c) {
        LLVMPositionBuilderAtEnd(B, bf);
        lw_stmt(L, n->c);
        LLVMBuildBr(B, done);
    }
    LLVMPositionBuilderAtEnd(B, done);
}

void lw_stmt(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    lw_set_line(L, n);
    if (L->fis && !L->in_region && L->fn == L->root_fn) {
        lw_fis_stmt(L, n);
        return;
    }
    switch (n->kind) {
    case ND_BLOCK:
        for (int i = 0; i < n->nargs; i++)
            lw_stmt(L, n->args[i]);
        break;
    case ND_ASSIGN:
        lw_var_store(L, n->var, lw_conv(L, n, lw_expr(L, n->a), n->a->ty, L->fn->var_types[n->var]));
        break;
    case ND_ARRAY_ASSIGN:
        lw_array_assign(L, n);
        break;
    case ND_STORE: {
        if (n->op == 1) { /* a[mask] = v, a[indices] = v */
            lw_fancy_store(L, n);
            break;
        }
        const Type *elem;
        LLVMValueRef v = lw_expr(L, n->b);
        if (n->a->kind == ND_ATTR && n->a->op == ATTR_FIELD && n->nargs == 0) { /* r.x = v */
            unsigned align;
            LLVMValueRef fp = lw_field_ptr(L, n->a, &align);
            v = lw_conv(L, n, v, n->b->ty, n->a->ty);
            if (n->a->ty->kind == TY_BOOL)
                v = LLVMBuildZExt(B, v, L->t_i8, "");
            LLVMSetAlignment(LLVMBuildStore(B, v, fp), align);
            break;
        }
        LLVMValueRef p = lw_element_ptr(L, n, &elem, true);
        if (elem->kind == TY_RECORD) { /* a[i] = b[j]: the record's bytes */
            LLVMBuildMemMove(B, p, 1, v, 1, i64c(L, elem->size));
            break;
        }
        v = lw_conv(L, n, v, n->b->ty, elem);
        if (elem->kind == TY_BOOL)
            v = LLVMBuildZExt(B, v, L->t_i8, "");
        LLVMValueRef st = LLVMBuildStore(B, v, p);
        LLVMSetAlignment(st, lw_elem_align(elem));
        break;
    }
    case ND_IF:
        lw_if_branches(L, lw_truth(L, lw_expr(L, n->a), n->a->ty), n, "if");
        break;
    case ND_WHILE: {
        LLVMBasicBlockRef hdr = lw_new_bb(L, "while.hdr"), body = lw_new_bb(L, "while.body");
        LLVMBasicBlockRef exit = lw_new_bb(L, "while.end"), latch = lw_new_bb(L, "while.latch");
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, hdr);
        LLVMBuildCondBr(B, lw_truth(L, lw_expr(L, n->a), n->a->ty), body, exit);
        LLVMPositionBuilderAtEnd(B, body);
        lw_push_loop(L, n, exit, latch);
        if (n->b)
            lw_stmt(L, n->b);
        L->nloops--;
        LLVMBuildBr(B, latch);
        LLVMPositionBuilderAtEnd(B, latch);
        if (n->b)
            if (L->jit)
        L->jit->loop_end(L, n->b);
        LLVMBuildBr(B, hdr);
        LLVMPositionBuilderAtEnd(B, exit);
        break;
    }
    case ND_FOR_RANGE:
        if (n->ival && L->function_entry && L->fn == L->root_fn)
            L->jit->prange_loop(L, n); /* an outermost prange of an ember.jit(parallel=True) */
        else
            lw_for_range(L, n);
        break;
    case ND_BREAK: case ND_CONTINUE:
        if (L->nloops == 0)
            lw_fail(L, n, "'%s' outside a loop", n->kind == ND_BREAK ? "break" : "continue");
        LLVMBuildBr(B, n->kind == ND_BREAK ? L->loops[L->nloops - 1].brk : L->loops[L->nloops - 1].cont);
        lw_start_dead_block(L);
        break;
    case ND_RETURN: /* a kernel's return ends only this thread; a device function's ends it */
        if (n->a && L->ret_slot)
            LLVMBuildStore(B, lw_conv(L, n, lw_expr(L, n->a), n->a->ty, L->fn->return_type), L->ret_slot);
        if (L->none_slot) /* the ember.jit entry: a bare return gives None */
            LLVMBuildStore(B, LLVMConstInt(L->t_i8, n->a ? 0 : 1, 0), L->none_slot);
        LLVMBuildBr(B, L->ret_bb);
        lw_start_dead_block(L);
        break;
    case ND_EXPR:
        lw_expr(L, n->a);
        break;
    case ND_PRINT:
        print_stmt(L, n);
        break;
    case ND_SYNC: /* without a sync slot, fission has split the region here */
        if (L->target->sync)
            L->target->sync(L, n);
        break;
    case ND_FENCE:
        L->target->fence(L, n->op);
        break;
    default:
        lw_fail(L, n, "an expression used as a statement");
    }
}
