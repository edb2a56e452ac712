/*
 * lower_jit.c — ember.jit functions on the host: their entry (parameters
 * in, the return value packed out), and the runtime they call (LowerJit):
 * np.random, arrays in the call's arena and their collection at loop
 * iterations, fault details.
 */
#include <stddef.h>
#include <math.h>
#include <string.h>

#include "devices/cpu/lower_host.h"

/* A call of ember's runtime function `fn` of type `fty`: by its name
 * (host_symbol_name), which each JIT defines, so that the object code can
 * be cached and loaded in another process; an address without a name is
 * called as a constant and marks the module "ember.absolute_address" (its
 * object code is then not cached; devices/cpu/jit.c). */
LLVMValueRef host_call_address(LLVMBuilderRef b, LLVMTypeRef i64, void *fn, LLVMTypeRef fty,
                                 LLVMValueRef *args, unsigned n, const char *name)
{
    LLVMModuleRef mod = LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(b)));
    const char *sym = host_symbol_name(fn);
    LLVMValueRef f;
    if (sym) {
        if (!(f = LLVMGetNamedFunction(mod, sym)))
            f = LLVMAddFunction(mod, sym, fty);
    } else {
        LLVMContextRef ctx = LLVMGetModuleContext(mod);
        LLVMAddNamedMetadataOperand(mod, "ember.absolute_address",
                                    LLVMMDNodeInContext(ctx, NULL, 0));
        f = LLVMConstIntToPtr(LLVMConstInt(i64, (uint64_t)(uintptr_t)fn, 0),
                              LLVMPointerType(fty, 0));
    }
    return LLVMBuildCall2(b, fty, f, args, n, name);
}

/* MT19937's tempering of one state word (devices/cpu/random.c next_u32). */
static LLVMValueRef mt_temper(Lower *L, LLVMValueRef y)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = L->t_i32;
    y = LLVMBuildXor(B, y, LLVMBuildLShr(B, y, LLVMConstInt(t, 11, 0), ""), "");
    y = LLVMBuildXor(B, y, LLVMBuildAnd(B, LLVMBuildShl(B, y, LLVMConstInt(t, 7, 0), ""),
                                        LLVMConstInt(t, 0x9d2c5680u, 0), ""), "");
    y = LLVMBuildXor(B, y, LLVMBuildAnd(B, LLVMBuildShl(B, y, LLVMConstInt(t, 15, 0), ""),
                                        LLVMConstInt(t, 0xefc60000u, 0), ""), "");
    return LLVMBuildXor(B, y, LLVMBuildLShr(B, y, LLVMConstInt(t, 18, 0), ""), "");
}

/* np.random.random() inline: while two state words remain, read and temper
 * them here and make the double as NumPy does ((a >> 5) * 2**26 + (b >> 6))
 * * 2**-53, exact); else call host_random_random, which regenerates the
 * state. The draw then costs a few instructions instead of a call. */
static LLVMValueRef random_double(Lower *L, LLVMValueRef rng, LLVMTypeRef fty, void *slow_fn)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef off = i64c(L, HOST_RNG_POS_OFFSET);
    LLVMValueRef posp = LLVMBuildBitCast(B, LLVMBuildGEP2(B, L->t_i8, rng, &off, 1, ""),
                                         LLVMPointerType(L->t_i32, 0), "");
    LLVMValueRef pos = LLVMBuildLoad2(B, L->t_i32, posp, "pos");
    LLVMBasicBlockRef fast = lw_new_bb(L, "rng.fast"), slow = lw_new_bb(L, "rng.slow"),
                      join = lw_new_bb(L, "rng.join");
    LLVMValueRef room = LLVMBuildICmp(B, LLVMIntSLT, pos,
                                      LLVMConstInt(L->t_i32, HOST_RNG_WORDS - 1, 0), "");
    LLVMBuildCondBr(B, room, fast, slow);
    LLVMPositionBuilderAtEnd(B, fast);
    LLVMValueRef words = LLVMBuildBitCast(B, rng, LLVMPointerType(L->t_i32, 0), "");
    LLVMValueRef i0 = LLVMBuildSExt(B, pos, L->t_i64, "");
    LLVMValueRef i1 = LLVMBuildAdd(B, i0, i64c(L, 1), "");
    LLVMValueRef a = LLVMBuildLoad2(B, L->t_i32, LLVMBuildGEP2(B, L->t_i32, words, &i0, 1, ""), "");
    LLVMValueRef b = LLVMBuildLoad2(B, L->t_i32, LLVMBuildGEP2(B, L->t_i32, words, &i1, 1, ""), "");
    LLVMBuildStore(B, LLVMBuildAdd(B, pos, LLVMConstInt(L->t_i32, 2, 0), ""), posp);
    a = LLVMBuildLShr(B, mt_temper(L, a), LLVMConstInt(L->t_i32, 5, 0), "");
    b = LLVMBuildLShr(B, mt_temper(L, b), LLVMConstInt(L->t_i32, 6, 0), "");
    LLVMValueRef d = LLVMBuildFAdd(B, LLVMBuildFMul(B, LLVMBuildUIToFP(B, a, L->t_f64, ""),
                                                    LLVMConstReal(L->t_f64, 67108864.0), ""),
                                   LLVMBuildUIToFP(B, b, L->t_f64, ""), "");
    d = LLVMBuildFMul(B, d, LLVMConstReal(L->t_f64, 1.0 / 9007199254740992.0), "");
    LLVMBasicBlockRef fast_end = LLVMGetInsertBlock(B);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, slow);
    LLVMValueRef s = host_call_address(B, L->t_i64, slow_fn, fty, &rng, 1, "");
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    LLVMValueRef phi = LLVMBuildPhi(B, L->t_f64, "random");
    LLVMValueRef vals[2] = {d, s};
    LLVMBasicBlockRef bbs[2] = {fast_end, slow};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return phi;
}

/* Ends the call with KERNEL_FAULT_RANDOM_ARG when `bad`; `which` (i64) is
 * the HOST_RANDOM_BAD_* code. */
static void random_check(Lower *L, Node *n, LLVMValueRef bad, LLVMValueRef which)
{
    LLVMBuilderRef B = L->b;
    LLVMBasicBlockRef fault = lw_new_bb(L, "random.bad"), ok = lw_new_bb(L, "random.ok");
    LLVMBuildCondBr(B, bad, fault, ok);
    LLVMPositionBuilderAtEnd(B, fault);
    L->jit->fault_detail(L, which);
    lw_end_call(L, n, KERNEL_FAULT_RANDOM_ARG);
    LLVMPositionBuilderAtEnd(B, ok);
}

/* NumPy's checks of RandomState's arguments (numpy/random/mtrand.pyx and
 * _common.pyx, legacy seeding): seed in [0, 2**32 - 1]; randint's
 * low < high (_bounded_integers.pyx); normal's scale not negative (check_constraint
 * CONS_NON_NEGATIVE: signbit and not NaN, so -0.0 is refused and NaN
 * passes); uniform's high - low finite. The tests are on bits and integers
 * where they can be, so that fastmath does not fold them away. */
static void random_checks(Lower *L, Node *n, LLVMValueRef *args)
{
    LLVMBuilderRef B = L->b;
    switch ((int)n->op) {
    case INTR_RANDOM_SEED: /* unsigned: a negative seed is above 2**32 - 1 too */
        random_check(L, n, LLVMBuildICmp(B, LLVMIntUGT, args[1], i64c(L, 0xffffffffLL), ""),
                     i64c(L, HOST_RANDOM_BAD_SEED));
        break;
    case INTR_RANDOM_RANDINT: /* NumPy says "high <= 0" when low is 0 */
        random_check(L, n, LLVMBuildICmp(B, LLVMIntSGE, args[1], args[2], ""),
                     LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, args[1], i64c(L, 0), ""),
                                     i64c(L, HOST_RANDOM_BAD_HIGH),
                                     i64c(L, HOST_RANDOM_BAD_RANGE), ""));
        break;
    case INTR_RANDOM_NORMAL: {
        LLVMValueRef bits = LLVMBuildBitCast(B, args[2], L->t_i64, "");
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, bits, i64c(L, 0), "");
        LLVMValueRef mag = LLVMBuildAnd(B, bits, i64c(L, INT64_MAX), "");
        LLVMValueRef nan = LLVMBuildICmp(B, LLVMIntUGT, mag, i64c(L, 0x7ff0000000000000LL), "");
        random_check(L, n, LLVMBuildAnd(B, neg, LLVMBuildNot(B, nan, ""), ""),
                     i64c(L, HOST_RANDOM_BAD_SCALE));
        break;
    }
    case INTR_RANDOM_UNIFORM: { /* exponent all ones: inf or NaN */
        LLVMValueRef range = LLVMBuildFSub(B, args[2], args[1], "");
        LLVMValueRef bits = LLVMBuildBitCast(B, range, L->t_i64, "");
        LLVMValueRef exp = LLVMBuildAnd(B, bits, i64c(L, 0x7ff0000000000000LL), "");
        random_check(L, n, LLVMBuildICmp(B, LLVMIntEQ, exp, i64c(L, 0x7ff0000000000000LL), ""),
                     i64c(L, HOST_RANDOM_BAD_UNIFORM));
        break;
    }
    default:
        break;
    }
}

/* np.random: a call of devices/cpu/random.c with the thread's generator
 * (looked up once per LLVM function, in its entry block) and the
 * arguments converted to int64 / float64, after NumPy's checks of them. */
LLVMValueRef host_lower_random(Lower *L, Node *n)
{
    static void *const fns[] = {(void *)host_random_seed, (void *)host_random_random,
                                (void *)host_random_uniform, (void *)host_random_normal,
                                (void *)host_random_randint};
    static const char *const names[] = {"np.random.seed", "np.random.random",
                                        "np.random.uniform", "np.random.normal",
                                        "np.random.randint"};
    int i = n->op - INTR_RANDOM_SEED;
    bool ints = n->op == INTR_RANDOM_SEED || n->op == INTR_RANDOM_RANDINT;
    const Type *at = ty_scalar(ints ? TY_I64 : TY_F64);
    LLVMTypeRef pt[3] = {L->t_ptr, lw_lty(L, at), lw_lty(L, at)};
    LLVMValueRef args[3];
    for (int j = 0; j < n->nargs && j < 2; j++)
        args[1 + j] = lw_conv(L, n, lw_expr(L, n->args[j]), n->args[j]->ty, at);
    random_checks(L, n, args);
    LLVMTypeRef sty = LLVMFunctionType(L->t_ptr, NULL, 0, 0);
    if (!L->rng)
        L->rng = host_call_address(L->ab, L->t_i64, host_random_state, sty, NULL, 0, "rng");
    args[0] = L->rng;
    LLVMTypeRef rt = n->op == INTR_RANDOM_SEED ? L->t_void
                   : n->op == INTR_RANDOM_RANDINT ? L->t_i64 : L->t_f64;
    LLVMTypeRef fty = LLVMFunctionType(rt, pt, (unsigned)n->nargs + 1, 0);
    if (n->op == INTR_RANDOM_RANDOM) /* and uniform: low + (high - low) * random() */
        return random_double(L, args[0], fty, fns[i]);
    if (n->op == INTR_RANDOM_UNIFORM) {
        LLVMTypeRef rty = LLVMFunctionType(L->t_f64, pt, 1, 0);
        LLVMValueRef d = random_double(L, args[0], rty, (void *)host_random_random);
        return LLVMBuildFAdd(L->b, args[1], LLVMBuildFMul(L->b, LLVMBuildFSub(L->b, args[2],
                             args[1], ""), d, ""), "uniform");
    }
    return host_call_address(L->b, L->t_i64, fns[i], fty, args, (unsigned)n->nargs + 1,
                        n->op == INTR_RANDOM_SEED ? "" : names[i] + 10);
}

/* host_array_new for an array of `shape` (nd i64 values): its data, in the
 * call's arena; the call ends with the fault when it fails. */
static LLVMValueRef array_alloc(Lower *L, const Node *n, const LLVMValueRef *shape, int nd,
                                int64_t itemsize, bool zero)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef sbuf = lw_entry_alloca(L, LLVMArrayType(L->t_i64, (unsigned)nd), "shape");
    LLVMValueRef sp = LLVMBuildBitCast(B, sbuf, LLVMPointerType(L->t_i64, 0), "");
    for (int i = 0; i < nd; i++) {
        LLVMValueRef idx = i64c(L, i);
        LLVMBuildStore(B, shape[i], LLVMBuildGEP2(B, L->t_i64, sp, &idx, 1, ""));
    }
    LLVMTypeRef pt[5] = {L->t_ptr, LLVMPointerType(L->t_i64, 0), L->t_i64, L->t_i64, L->t_i64};
    LLVMValueRef args[5] = {LLVMBuildBitCast(B, L->call_dims, L->t_ptr, ""), sp, i64c(L, nd),
                            i64c(L, itemsize), i64c(L, zero)};
    LLVMValueRef data = host_call_address(B, L->t_i64, (void *)host_array_new,
                                     LLVMFunctionType(L->t_ptr, pt, 5, 0), args, 5, "data");
    lw_abort_if(L, n, LLVMBuildIsNull(B, data, ""));
    return data;
}

/* Whether running n may create an array (ND_NEW_ARRAY here or in a callee). */
bool host_creates_arrays(const Node *n, int depth)
{
    if (!n || depth > 64)
        return false;
    if (n->kind == ND_NEW_ARRAY || n->kind == ND_ARRAY_EXPR ||
        (n->kind == ND_LOCAL_ARRAY && n->op == MEM_LOCAL))
        return true;
    /* an assignment copies an array operand that overlaps its destination
     * first (array_assign); one of scalars only (a[i, :] = 2.0) never does */
    if (n->kind == ND_ARRAY_ASSIGN)
        for (int i = 0; i < n->nargs; i++)
            if (n->args[i] && n->args[i]->ty && n->args[i]->ty->kind == TY_ARRAY)
                return true;
    if (n->kind == ND_CALL && n->spec && !n->spec->recursive &&
        host_creates_arrays(n->spec->body, depth + 1))
        return true;
    if (host_creates_arrays(n->a, depth) || host_creates_arrays(n->b, depth) || host_creates_arrays(n->c, depth))
        return true;
    for (int i = 0; i < n->nargs; i++)
        if (host_creates_arrays(n->args[i], depth))
            return true;
    return false;
}

/* Counts (and with `out`, stores) the data pointers of the arrays in value
 * v of type t. */
static int array_pointers(Lower *L, const Type *t, LLVMValueRef v, LLVMValueRef out, int at)
{
    if (t->kind == TY_ARRAY) {
        if (out) {
            LLVMValueRef idx = i64c(L, at);
            LLVMBuildStore(L->b, LLVMBuildExtractValue(L->b, v, 0, ""),
                           LLVMBuildGEP2(L->b, L->t_ptr, out, &idx, 1, ""));
        }
        return at + 1;
    }
    for (int i = 0; t->kind == TY_TUPLE && i < t->nfields; i++)
        at = array_pointers(L, t->fields[i], v ? LLVMBuildExtractValue(L->b, v, (unsigned)i, "")
                                              : NULL, out, at);
    return at;
}

/* The end of an iteration of a loop of the ember.jit function itself whose
 * body creates arrays: host_arena_collect with the arrays every variable
 * holds, so that the arrays of earlier iterations no variable refers to any
 * more are freed (a statement boundary: no temporary holds an array).
 * Loops of inlined callees leave their arrays to the caller's loop or to
 * the end of the call. */
static void loop_end(Lower *L, const Node *body)
{
    Function *fn = L->fn;
    if (fn != L->root_fn || !host_creates_arrays(body, 0))
        return;
    int count = 0;
    for (int i = 0; i < fn->nvars; i++)
        if (fn->var_types[i] && lw_has_array(fn->var_types[i]))
            count = array_pointers(L, fn->var_types[i], NULL, NULL, count);
    LLVMValueRef roots = LLVMConstNull(LLVMPointerType(L->t_ptr, 0));
    if (count) {
        LLVMValueRef buf = lw_entry_alloca(L, LLVMArrayType(L->t_ptr, (unsigned)count), "roots");
        roots = LLVMBuildBitCast(L->b, buf, LLVMPointerType(L->t_ptr, 0), "");
        int at = 0;
        for (int i = 0; i < fn->nvars; i++)
            if (fn->var_types[i] && lw_has_array(fn->var_types[i]))
                at = array_pointers(L, fn->var_types[i], lw_var_load(L, i), roots, at);
    }
    LLVMTypeRef pt[3] = {L->t_ptr, LLVMPointerType(L->t_ptr, 0), L->t_i64};
    LLVMValueRef args[3] = {LLVMBuildBitCast(L->b, L->call_dims, L->t_ptr, ""), roots, i64c(L, count)};
    host_call_address(L->b, L->t_i64, (void *)host_arena_collect, LLVMFunctionType(L->t_void, pt, 3, 0),
                 args, 3, "");
}

/* Stores value v of type t at ret + *off (advanced by abi_size(t)): the
 * Argument ABI of core/ir.h, the inverse of lw_unpack(). */
static void pack_ret(Lower *L, LLVMValueRef ret, const Type *t, LLVMValueRef v, size_t *off)
{
    size_t at = *off;
    *off += abi_size(t);
    if (t->kind == TY_TUPLE) {
        for (int i = 0; i < t->nfields; i++)
            pack_ret(L, ret, t->fields[i], LLVMBuildExtractValue(L->b, v, (unsigned)i, ""), &at);
        return;
    }
    if (t->kind == TY_ARRAY) { /* { data, shape[ndim], strides[ndim] } */
        for (int i = 0; i < 1 + 2 * t->ndim; i++) {
            LLVMValueRef f = LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
            LLVMValueRef o = i64c(L, (int64_t)(at + 8 * (size_t)i));
            LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, ret, &o, 1, "");
            p = LLVMBuildBitCast(L->b, p, LLVMPointerType(LLVMTypeOf(f), 0), "");
            LLVMSetAlignment(LLVMBuildStore(L->b, f, p), 8);
        }
        return;
    }
    LLVMTypeRef mt = lw_mty(L, t);
    if (ty_concrete(t)->kind == TY_BOOL)
        v = LLVMBuildZExt(L->b, v, mt, "");
    LLVMValueRef o = i64c(L, (int64_t)at);
    LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, ret, &o, 1, "");
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(mt, 0), "");
    LLVMSetAlignment(LLVMBuildStore(L->b, v, p), 8);
}

/* The host entry of an ember.jit function (not a kernel):
 *   void symbol(const char *args, char *ret, HostDims *dims)
 * The parameters are unpacked as a kernel's; the body runs once, like an
 * inlined device function whose `return` stores into a local and jumps to
 * the exit, where the value is packed into `ret` per the Argument ABI
 * (abi_size(return type) bytes; nothing for None). `dims` carries only the
 * fault record (bounds checks, recursion depth): there are no threads. */
void host_lower_function(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    LLVMTypeRef params[3] = {L->t_ptr, L->t_ptr, LLVMPointerType(L->t_i64, 0)};
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, params, 3, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    L->root_func = L->func;
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(L->func, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(L->ctx, nounwind, 0));
    LLVMValueRef args = LLVMGetParam(L->func, 0), ret = LLVMGetParam(L->func, 1);
    LLVMValueRef dims = LLVMGetParam(L->func, 2);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(ret, "ret", 3);
    LLVMSetValueName2(dims, "dims", 4);
    L->call_dims = dims;

    LLVMBasicBlockRef entry = lw_new_bb(L, "entry"), body = lw_new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = lw_unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    LLVMValueRef zero32 = LLVMConstInt(L->t_i32, 0, 0);
    for (int i = 0; i < 3; i++) { /* one thread of one block (fault records read them) */
        L->tid[i] = L->bid[i] = zero32;
        L->bdim[i] = L->gdim[i] = LLVMConstInt(L->t_i32, 1, 0);
    }
    L->linear_tid = i64c(L, 0);
    LLVMValueRef six = i64c(L, 6); /* HostDims.fault follows the six int64s */
    L->fault = LLVMBuildBitCast(L->b, LLVMBuildGEP2(L->b, L->t_i64, dims, &six, 1, ""),
                                LLVMPointerType(L->t_i32, 0), "fault");
    L->depth = zero32;

    const Type *rt = fn->return_type;
    L->ret_bb = lw_new_bb(L, "exit");
    if (rt && rt->kind != TY_VOID) { /* 1 until a return gives a value: None (numba's optional) */
        L->none_slot = lw_entry_alloca(L, L->t_i8, "is.none");
        LLVMBuildStore(L->b, LLVMConstInt(L->t_i8, 1, 0), L->none_slot);
    }
    LLVMValueRef result = lw_lower_body(L, fn->body, rt, "result");
    if (result) {
        size_t roff = 0;
        pack_ret(L, ret, rt, result, &roff);
        /* the None flag: one byte after the value, at HOST_RET_NONE_AT(size) */
        LLVMValueRef o = i64c(L, (int64_t)HOST_RET_NONE_AT(abi_size(rt)));
        LLVMValueRef flag = LLVMBuildLoad2(L->b, L->t_i8, L->none_slot, "");
        LLVMBuildStore(L->b, flag, LLVMBuildGEP2(L->b, L->t_i8, ret, &o, 1, ""));
        L->none_slot = NULL;
    }
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);
}

/* Stores `bits` in HostDims.fault_bytes: the detail of the fault being
 * recorded (the caller raises with it). */
static void fault_detail(Lower *L, LLVMValueRef bits)
{
    LLVMBuilderRef B = L->b;
    LLVMValueRef idx = i64c(L, offsetof(HostDims, fault_bytes) / 8);
    LLVMValueRef dims = LLVMBuildBitCast(B, L->call_dims, LLVMPointerType(L->t_i64, 0), "");
    LLVMBuildStore(B, bits, LLVMBuildGEP2(B, L->t_i64, dims, &idx, 1, ""));
}

static LLVMValueRef sort_row(Lower *L, LLVMValueRef row, LLVMValueRef n, LLVMValueRef stride,
                             int kind, LLVMValueRef idx)
{
    LLVMTypeRef pt = LLVMPointerType(L->t_i8, 0), ip = LLVMPointerType(L->t_i64, 0);
    LLVMTypeRef params[] = {pt, L->t_i64, L->t_i64, L->t_i32, ip};
    LLVMTypeRef fty = LLVMFunctionType(L->t_i32, params, 5, 0);
    LLVMValueRef args[] = {LLVMBuildBitCast(L->b, row, pt, ""), n, stride,
                           LLVMConstInt(L->t_i32, (unsigned)kind, 0),
                           idx ? LLVMBuildBitCast(L->b, idx, ip, "") : LLVMConstNull(ip)};
    return host_call_address(L->b, L->t_i64, (void *)host_sort, fty, args, 5, "sorted");
}

static LLVMValueRef gemm(Lower *L, int kind, LLVMValueRef m, LLVMValueRef n, LLVMValueRef k,
                         LLVMValueRef a, LLVMValueRef a_rs, LLVMValueRef a_cs, LLVMValueRef b,
                         LLVMValueRef b_rs, LLVMValueRef b_cs, LLVMValueRef c)
{
    LLVMTypeRef pt = LLVMPointerType(L->t_i8, 0), i64 = L->t_i64;
    LLVMTypeRef params[] = {L->t_i32, i64, i64, i64, pt, i64, i64, pt, i64, i64, pt};
    LLVMTypeRef fty = LLVMFunctionType(L->t_i32, params, 11, 0);
    LLVMValueRef args[] = {LLVMConstInt(L->t_i32, (unsigned)kind, 0),
                           m, n, k,
                           LLVMBuildBitCast(L->b, a, pt, ""), a_rs, a_cs,
                           LLVMBuildBitCast(L->b, b, pt, ""), b_rs, b_cs,
                           LLVMBuildBitCast(L->b, c, pt, "")};
    return host_call_address(L->b, i64, (void *)host_gemm, fty, args, 11, "blas");
}

const LowerJit host_lower_jit = {
    .sort_row = sort_row,
    .gemm = gemm,
    .array_alloc = array_alloc,
    .loop_end = loop_end,
    .prange_loop = host_lower_prange,
    .fault_detail = fault_detail,
};
