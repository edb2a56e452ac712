/*
 * lower_nvvm.c — the NVVM target of the lowering (LowerTarget, core/
 * lower_impl.h): NVVM IR for libNVVM (devices/cuda/cuda_compile.c).
 *
 * One kernel per module, `void k(i64 slot0, ...)` taking the packed
 * arguments as 8-byte slots (core/lower.h); thread and block indices come
 * from the PTX special registers; a `return` ends the thread. The module
 * is in the LLVM 7.0.1 dialect libNVVM reads: typed pointers, no `fneg`
 * instruction, no llvm.* math intrinsics (libdevice's __nv_* instead),
 * globals only in the global (1), shared (3) or constant (4) address
 * space, integer atomics through small text-IR helpers and float atomics
 * through NVVM intrinsics, fences through llvm.nvvm.membar.*, print()
 * through vprintf, no atomic loads or stores (volatile ones instead).
 */
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"
#include "devices/cuda/cuda_compile.h"

/* A PTX special register (NVVM): i32 llvm.nvvm.read.ptx.sreg.*() */
static LLVMValueRef read_sreg(Lower *L, const char *name)
{
    LLVMTypeRef ft = LLVMFunctionType(L->t_i32, NULL, 0, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (!f)
        f = LLVMAddFunction(L->mod, name, ft);
    return LLVMBuildCall2(L->b, ft, f, NULL, 0, name + 23);
}

/* shfl.sync of one 32-bit value: mode idx / up / down / bfly; c as
 * lw_shfl_c() makes it. */
static LLVMValueRef shfl32(Lower *L, const char *mode, LLVMValueRef mask, LLVMValueRef v,
                           LLVMValueRef lane, LLVMValueRef c)
{
    bool fl = LLVMTypeOf(v) == L->t_f32;
    char name[64];
    snprintf(name, sizeof name, "llvm.nvvm.shfl.sync.%s.%s", mode, fl ? "f32" : "i32");
    LLVMTypeRef params[4] = {L->t_i32, LLVMTypeOf(v), L->t_i32, L->t_i32};
    LLVMValueRef args[4] = {mask, v, lane, c};
    return lw_call_named(L, name, LLVMTypeOf(v), params, args, 4);
}

/* Barriers with a predicate, warp shuffles and votes (NVVM). A 64-bit
 * value is shuffled as its two halves. */
static LLVMValueRef collective(Lower *L, Node *n)
{
    LLVMBuilderRef B = L->b;
    const Type *u32 = ty_scalar(TY_U32);
    switch (n->op) {
    case INTR_SYNCTHREADS_COUNT: case INTR_SYNCTHREADS_AND: case INTR_SYNCTHREADS_OR: {
        LLVMValueRef p = LLVMBuildZExt(B, lw_truth(L, lw_expr(L, n->args[0]), n->args[0]->ty),
                                       L->t_i32, "");
        const char *name = n->op == INTR_SYNCTHREADS_COUNT ? "llvm.nvvm.barrier0.popc"
                         : n->op == INTR_SYNCTHREADS_AND ? "llvm.nvvm.barrier0.and"
                                                         : "llvm.nvvm.barrier0.or";
        LLVMValueRef r = lw_call_named(L, name, L->t_i32, &L->t_i32, &p, 1);
        return n->op == INTR_SYNCTHREADS_COUNT ? r
               : LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntNE, r, ci(L->t_i32, 0), ""), L->t_i32, "");
    }
    case INTR_SHFL_IDX: case INTR_SHFL_UP: case INTR_SHFL_DOWN: case INTR_SHFL_XOR: {
        const char *mode = n->op == INTR_SHFL_IDX ? "idx" : n->op == INTR_SHFL_UP ? "up"
                         : n->op == INTR_SHFL_DOWN ? "down" : "bfly";
        LLVMValueRef mask = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, u32);
        LLVMValueRef v = lw_conv(L, n, lw_expr(L, n->args[1]), n->args[1]->ty, n->ty);
        LLVMValueRef lane = lw_conv(L, n, lw_expr(L, n->args[2]), n->args[2]->ty, u32);
        LLVMValueRef c = lw_shfl_c(L, n);
        if (ty_bits(n->ty) == 32) {
            bool fl = ty_is_float(n->ty);
            return shfl32(L, mode, mask, fl ? v : LLVMBuildBitCast(B, v, L->t_i32, ""), lane, c);
        }
        LLVMValueRef bits = LLVMBuildBitCast(B, v, L->t_i64, "");
        LLVMValueRef lo = LLVMBuildTrunc(B, bits, L->t_i32, "");
        LLVMValueRef hi = LLVMBuildTrunc(B, LLVMBuildLShr(B, bits, i64c(L, 32), ""), L->t_i32, "");
        lo = LLVMBuildZExt(B, shfl32(L, mode, mask, lo, lane, c), L->t_i64, "");
        hi = LLVMBuildZExt(B, shfl32(L, mode, mask, hi, lane, c), L->t_i64, "");
        bits = LLVMBuildOr(B, LLVMBuildShl(B, hi, i64c(L, 32), ""), lo, "");
        return LLVMBuildBitCast(B, bits, lw_lty(L, n->ty), "");
    }
    case INTR_VOTE_ALL: case INTR_VOTE_ANY: case INTR_VOTE_UNI: case INTR_BALLOT: {
        LLVMValueRef args[2] = {lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, u32),
                                lw_truth(L, lw_expr(L, n->args[1]), n->args[1]->ty)};
        LLVMTypeRef params[2] = {L->t_i32, L->t_i1};
        const char *name = n->op == INTR_VOTE_ALL ? "llvm.nvvm.vote.all.sync"
                         : n->op == INTR_VOTE_ANY ? "llvm.nvvm.vote.any.sync"
                         : n->op == INTR_VOTE_UNI ? "llvm.nvvm.vote.uni.sync"
                                                  : "llvm.nvvm.vote.ballot.sync";
        return lw_call_named(L, name, n->op == INTR_BALLOT ? L->t_i32 : L->t_i1, params, args, 2);
    }
    case INTR_MATCH_ANY: case INTR_MATCH_ALL: {
        /* llvm.nvvm.match.{any,all}.sync.{i32,i64}[p] (sm_70+) */
        const Type *vt = n->target;
        LLVMTypeRef it = ty_bits(vt) == 32 ? L->t_i32 : L->t_i64;
        LLVMValueRef args[2] = {lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, u32),
                                LLVMBuildBitCast(B, lw_conv(L, n, lw_expr(L, n->args[1]),
                                                         n->args[1]->ty, vt), it, "")};
        LLVMTypeRef params[2] = {L->t_i32, it};
        char name[48];
        snprintf(name, sizeof name, "llvm.nvvm.match.%s.sync.i%d%s",
                 n->op == INTR_MATCH_ANY ? "any" : "all", ty_bits(vt),
                 n->op == INTR_MATCH_ANY ? "" : "p");
        if (it == L->t_i64) {
            /* libNVVM and LLVM 14 disagree on the 64-bit intrinsics' mask type:
             * inline PTX (PTX ISA "match.sync": the mask is b32), through the
             * helpers of asm_helpers */
            bool any = n->op == INTR_MATCH_ANY;
            LLVMValueRef ops[2] = {args[1], args[0]};
            LLVMTypeRef opt[2] = {L->t_i64, L->t_i32}, two[2] = {L->t_i32, L->t_i32};
            LLVMTypeRef rt = any ? L->t_i32 : LLVMStructTypeInContext(L->ctx, two, 2, 0);
            LLVMValueRef r = lw_call_named(L, any ? "ember_match_any_i64" : "ember_match_all_i64",
                                           rt, opt, ops, 2);
            if (any)
                return r;
            LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
            t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 0, ""), 0, "");
            LLVMValueRef p = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildExtractValue(B, r, 1, ""),
                                           ci(L->t_i32, 0), "");
            return LLVMBuildInsertValue(B, t, p, 1, "match_all");
        }
        if (n->op == INTR_MATCH_ANY)
            return lw_call_named(L, name, L->t_i32, params, args, 2);
        LLVMTypeRef pair[2] = {L->t_i32, L->t_i1};
        LLVMValueRef r = lw_call_named(L, name, LLVMStructTypeInContext(L->ctx, pair, 2, 0), params,
                                    args, 2);
        LLVMValueRef t = LLVMGetUndef(lw_lty(L, n->ty));
        t = LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 0, ""), 0, "");
        return LLVMBuildInsertValue(B, t, LLVMBuildExtractValue(B, r, 1, ""), 1, "match_all");
    }
    case INTR_ACTIVEMASK:
        return lw_call_named(L, "ember_activemask", L->t_i32, NULL, NULL, 0);
    case INTR_LANEMASK_LT:
        return read_sreg(L, "llvm.nvvm.read.ptx.sreg.lanemask.lt");
    default:
        lw_fail(L, n, "unknown intrinsic %d", n->op);
    }
}

/* NVVM: an atomic read-modify-write or compare-and-swap on i32/i64 is a
 * call of `ember_atomic_<op>_i<bits>` (op: add sub and or xor max min umax
 * umin xchg cas), defined by devices/cuda/cuda_compile.c in a small text
 * module: LLVM 14 writes atomicrmw and cmpxchg in a bitcode form libNVVM's
 * LLVM 7 reader rejects, while its text form is the same in both. */
static LLVMValueRef nvvm_atomic(Lower *L, const char *op, LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef it = LLVMTypeOf(args[1]);
    char name[64];
    snprintf(name, sizeof name, "ember_atomic_%s_i%u", op, LLVMGetIntTypeWidth(it));
    LLVMTypeRef params[3] = {LLVMPointerType(it, 0), it, it};
    return lw_call_named(L, name, it, params, args, n);
}

/* !nvvmir.version: the IR version, and with line tables the debug
 * metadata version too (libNVVM refuses debug info without it). */
static void add_nvvmir_version(Lower *L)
{
    LLVMValueRef ver[4] = {LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmir_major, 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmir_minor, 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmdbg_major, 0),
                           LLVMConstInt(L->t_i32, (unsigned)L->opt->nvvmdbg_minor, 0)};
    LLVMAddNamedMetadataOperand(L->mod, "nvvmir.version",
                                LLVMMDNodeInContext(L->ctx, ver, L->di ? 4 : 2));
}

/* NVVM: the thread and block indices and dims from the PTX special
 * registers, read once at the function's start, and the module's fault
 * record { i32 fault, i32 site, i32 thread[3], i32 block[3] } in global
 * memory, which the launch reads. */
static void nvvm_thread_state(Lower *L)
{
    static const char *const axes = "xyz";
    for (int i = 0; i < 3; i++) {
        char name[48];
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.tid.%c", axes[i]);
        L->tid[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.ctaid.%c", axes[i]);
        L->bid[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.ntid.%c", axes[i]);
        L->bdim[i] = read_sreg(L, name);
        snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.nctaid.%c", axes[i]);
        L->gdim[i] = read_sreg(L, name);
    }
    LLVMValueRef bx = LLVMBuildZExt(L->b, L->bdim[0], L->t_i64, "");
    LLVMValueRef by = LLVMBuildZExt(L->b, L->bdim[1], L->t_i64, "");
    LLVMValueRef lin = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, LLVMBuildZExt(L->b, L->tid[2], L->t_i64, ""), by, ""),
                                    LLVMBuildZExt(L->b, L->tid[1], L->t_i64, ""), "");
    L->linear_tid = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, lin, bx, ""),
                                 LLVMBuildZExt(L->b, L->tid[0], L->t_i64, ""), "linear_tid");
    LLVMTypeRef ft = LLVMArrayType(L->t_i32, 8);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, ft, LOWER_NVVM_FAULT_SYMBOL, 1);
    LLVMSetInitializer(g, LLVMConstNull(ft));
    LLVMSetAlignment(g, 8);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    L->fault = LLVMConstAddrSpaceCast(LLVMConstInBoundsGEP2(ft, g, zero, 2),
                                      LLVMPointerType(L->t_i32, 0));
}

/* NVVM, a device function on its own (cuda.compile_ptx(device=True)): a
 * visible `.func` taking its parameters as values (numbers; arrays as
 * { i8 *data, i64 shape[n], i64 strides[n] }; tuples as structs) and
 * returning its value (void when it returns nothing); the thread indices
 * come from the special registers. Code of other languages can call it. */
static void build_device_function(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    LLVMTypeRef *pt = ir_alloc(fn, sizeof *pt * (size_t)(fn->nparams + 1));
    if (!pt)
        lw_fail(L, NULL, "out of memory");
    for (int i = 0; i < fn->nparams; i++)
        pt[i] = lw_lty(L, fn->param_types[i]);
    const Type *rt = fn->return_type;
    bool has_value = rt && rt->kind != TY_VOID;
    /* a float16 result is returned as its bits: libNVVM (CUDA 13) drops the
     * store of a `ret half` of a .func (the PTX returns nothing) */
    bool half_bits = has_value && rt->kind == TY_F16;
    LLVMTypeRef fty = LLVMFunctionType(half_bits ? L->t_i16 : has_value ? lw_lty(L, rt)
                                                                       : L->t_void,
                                       pt, (unsigned)fn->nparams, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    lw_name_params(L->func);
    lw_begin_line_tables(L, symbol);
    LLVMBasicBlockRef entry = lw_new_bb(L, "entry"), body = lw_new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    for (int i = 0; i < fn->nparams; i++)
        L->params[i] = LLVMGetParam(L->func, (unsigned)i);
    nvvm_thread_state(L);
    L->depth = LLVMConstInt(L->t_i32, 0, 0);
    L->ret_bb = lw_new_bb(L, "ret");
    LLVMValueRef result = lw_lower_body(L, fn->body, rt, "");
    if (result && half_bits)
        result = LLVMBuildBitCast(L->b, result, L->t_i16, "");
    if (result)
        LLVMBuildRet(L->b, result);
    else
        LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);
    add_nvvmir_version(L);
    LLVMSetTarget(L->mod, "nvptx64-nvidia-cuda");
    LLVMSetDataLayout(L->mod, "e-i64:64-i128:128-v16:16-v32:32-n16:32:64");
}

/* NVVM: `void symbol(i64 slot0, i64 slot1, ...)`, the packed arguments as
 * 8-byte slots (lower.h). The slots go to a local buffer that the shared
 * lw_unpack() reads like the host's `args` (NVVM's optimiser keeps them in
 * registers); the indices come from the special registers once, at entry;
 * a `return` of the kernel ends the thread. */
static void build_kernel(Lower *L, const char *symbol)
{
    Function *fn = L->fn;
    size_t size = 0;
    for (int i = 0; i < fn->nparams; i++)
        size += abi_size(fn->param_types[i]);
    unsigned nslots = (unsigned)(size / 8);
    LLVMTypeRef *pt = ir_alloc(fn, sizeof *pt * (nslots + 1));
    if (!pt)
        lw_fail(L, NULL, "out of memory");
    for (unsigned i = 0; i < nslots; i++)
        pt[i] = L->t_i64;
    LLVMTypeRef fty = LLVMFunctionType(L->t_void, pt, nslots, 0);
    L->func = LLVMAddFunction(L->mod, symbol, fty);
    lw_name_params(L->func);
    lw_begin_line_tables(L, symbol);

    LLVMBasicBlockRef entry = lw_new_bb(L, "entry"), body = lw_new_bb(L, "body");
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMPositionBuilderAtEnd(L->b, body);
    if (nslots) {
        LLVMValueRef buf = lw_entry_alloca(L, LLVMArrayType(L->t_i64, nslots), "args");
        LLVMSetAlignment(buf, 8);
        LLVMValueRef base = LLVMBuildBitCast(L->b, buf, LLVMPointerType(L->t_i64, 0), "");
        for (unsigned i = 0; i < nslots; i++) {
            LLVMValueRef idx = i64c(L, i);
            LLVMValueRef slot = LLVMBuildGEP2(L->b, L->t_i64, base, &idx, 1, "");
            LLVMSetAlignment(LLVMBuildStore(L->b, LLVMGetParam(L->func, i), slot), 8);
        }
        LLVMValueRef args = LLVMBuildBitCast(L->b, buf, L->t_ptr, "");
        size_t off = 0;
        for (int i = 0; i < fn->nparams; i++)
            L->params[i] = lw_unpack(L, args, fn->param_types[i], &off, fn->param_names[i]);
    }
    nvvm_thread_state(L);
    L->depth = LLVMConstInt(L->t_i32, 0, 0);

    LLVMBasicBlockRef exit = lw_new_bb(L, "exit");
    L->ret_bb = exit;
    lw_stmt(L, fn->body);
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(L->b)))
        LLVMBuildBr(L->b, exit);
    LLVMPositionBuilderAtEnd(L->b, exit);
    LLVMBuildRetVoid(L->b);
    LLVMPositionBuilderAtEnd(L->ab, entry);
    LLVMBuildBr(L->ab, body);

    /* !nvvm.annotations: this function is a kernel; !nvvmir.version */
    LLVMValueRef kmd[3] = {L->func, LLVMMDStringInContext(L->ctx, "kernel", 6),
                           LLVMConstInt(L->t_i32, 1, 0)};
    LLVMAddNamedMetadataOperand(L->mod, "nvvm.annotations", LLVMMDNodeInContext(L->ctx, kmd, 3));
    add_nvvmir_version(L);
    LLVMSetTarget(L->mod, "nvptx64-nvidia-cuda");
    LLVMSetDataLayout(L->mod, "e-i64:64-i128:128-v16:16-v32:32-n16:32:64");
}

static void build_root(Lower *L, const char *symbol)
{
    if (L->fn->is_kernel)
        build_kernel(L, symbol);
    else
        build_device_function(L, symbol);
}

static const char *math_symbol(const char *name, bool f32, char *buf, size_t cap)
{
    snprintf(buf, cap, "__nv_%s%s", name, f32 ? "f" : "");
    return buf;
}

/* NVVM rejects LLVM's math intrinsics; each has a libdevice function. */
static const char *intrinsic_libm(const char *llvm_name)
{
    static const struct { const char *llvm, *libm; } table[] = {
        {"llvm.floor", "floor"}, {"llvm.ceil", "ceil"},       {"llvm.trunc", "trunc"},
        {"llvm.rint", "rint"},   {"llvm.fabs", "fabs"},       {"llvm.sqrt", "sqrt"},
        {"llvm.copysign", "copysign"}, {"llvm.maxnum", "fmax"}, {"llvm.minnum", "fmin"},
        {"llvm.fma", "fma"},
    };
    for (size_t i = 0; i < EM_ARRAY_LEN(table); i++)
        if (strcmp(llvm_name, table[i].llvm) == 0)
            return table[i].libm;
    return NULL;
}

/* -0.0 - x: the `fneg` instruction is newer than the LLVM 7 dialect NVVM
 * reads, where this is the same operation. */
static LLVMValueRef fneg(Lower *L, LLVMValueRef x)
{
    return LLVMBuildFSub(L->b, LLVMConstReal(LLVMTypeOf(x), -0.0), x, "neg");
}

static LLVMValueRef lane_id(Lower *L, Node *n)
{
    (void)n;
    return read_sreg(L, "llvm.nvvm.read.ptx.sreg.laneid");
}

static void sync(Lower *L, Node *n)
{
    if (n->op == SYNC_THREADS) {
        lw_call_named(L, "llvm.nvvm.barrier0", L->t_void, NULL, NULL, 0);
    } else if (n->op == SYNC_GRID) { /* the support module's barrier (below) */
        lw_call_named(L, "ember_grid_sync", L->t_void, NULL, NULL, 0);
    } else {
        LLVMValueRef mask = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty,
                                    ty_scalar(TY_U32));
        lw_call_named(L, "llvm.nvvm.bar.warp.sync", L->t_void, &L->t_i32, &mask, 1);
    }
}

/* membar.cta / .gl / .sys */
static void fence(Lower *L, int scope)
{
    const char *name = scope == FENCE_BLOCK ? "llvm.nvvm.membar.cta"
                     : scope == FENCE_SYSTEM ? "llvm.nvvm.membar.sys"
                                             : "llvm.nvvm.membar.gl";
    lw_call_named(L, name, L->t_void, NULL, NULL, 0);
}

/* CUDA's atomics are relaxed. A float add / sub is NVVM's own intrinsic
 * (a float atomicrmw is newer than its dialect); the integer ones are
 * ember_atomic_<op>_i<bits> calls (nvvm_atomic). */
static LLVMValueRef atomic_rmw(Lower *L, LLVMAtomicRMWBinOp op, LLVMValueRef p, LLVMValueRef v)
{
    if (op == LLVMAtomicRMWBinOpFAdd || op == LLVMAtomicRMWBinOpFSub) {
        bool f32 = LLVMTypeOf(v) == L->t_f32;
        const char *name = f32 ? "llvm.nvvm.atomic.load.add.f32.p0f32"
                               : "llvm.nvvm.atomic.load.add.f64.p0f64";
        LLVMTypeRef et = LLVMTypeOf(v);
        LLVMTypeRef params[2] = {LLVMPointerType(et, 0), et};
        LLVMValueRef args[2] = {p, op == LLVMAtomicRMWBinOpFSub ? fneg(L, v) : v};
        return lw_call_named(L, name, et, params, args, 2);
    }
    static const char *const names[] = {
        [LLVMAtomicRMWBinOpAdd] = "add", [LLVMAtomicRMWBinOpSub] = "sub",
        [LLVMAtomicRMWBinOpAnd] = "and", [LLVMAtomicRMWBinOpOr] = "or",
        [LLVMAtomicRMWBinOpXor] = "xor", [LLVMAtomicRMWBinOpMax] = "max",
        [LLVMAtomicRMWBinOpMin] = "min", [LLVMAtomicRMWBinOpUMax] = "umax",
        [LLVMAtomicRMWBinOpUMin] = "umin", [LLVMAtomicRMWBinOpXchg] = "xchg"};
    EM_ASSERT((unsigned)op < EM_ARRAY_LEN(names) && names[op]);
    LLVMValueRef a[2] = {p, v};
    return nvvm_atomic(L, names[op], a, 2);
}

static LLVMValueRef atomic_cas(Lower *L, LLVMValueRef p, LLVMValueRef expected,
                               LLVMValueRef desired, LLVMValueRef *ok)
{
    LLVMValueRef a[3] = {p, expected, desired};
    LLVMValueRef seen = nvvm_atomic(L, "cas", a, 3);
    if (ok)
        *ok = LLVMBuildICmp(L->b, LLVMIntEQ, seen, expected, "");
    return seen;
}

/* Atomic loads and stores are newer than NVVM's bitcode reader: volatile
 * ones (any racing writer's value will do where ember uses them). */
static void atomic_access(Lower *L, LLVMValueRef inst, LLVMAtomicOrdering order)
{
    (void)L;
    (void)order;
    LLVMSetVolatile(inst, 1);
}

/* NVVM wants globals in the constant address space (4), seen through a
 * generic pointer. */
static LLVMValueRef string_ptr(Lower *L, const char *text)
{
    LLVMValueRef init = LLVMConstStringInContext(L->ctx, text, (unsigned)strlen(text), 0);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->mod, LLVMTypeOf(init), "str", 4);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    LLVMValueRef p = LLVMConstInBoundsGEP2(LLVMTypeOf(init), g, zero, 2);
    return LLVMConstAddrSpaceCast(p, L->t_ptr);
}

/* vprintf(fmt, the values in 8-byte slots) */
static void print(Lower *L, LLVMValueRef *vals, unsigned nv)
{
    LLVMBuilderRef B = L->b;
    LLVMTypeRef pt = L->t_ptr;
    LLVMValueRef buf = lw_entry_alloca(L, LLVMArrayType(L->t_i64, nv > 1 ? nv - 1 : 1), "printf.args");
    LLVMSetAlignment(buf, 8);
    LLVMValueRef base = LLVMBuildBitCast(B, buf, pt, "");
    for (unsigned i = 1; i < nv; i++) {
        LLVMValueRef off = i64c(L, 8 * (int64_t)(i - 1));
        LLVMValueRef slot = LLVMBuildGEP2(B, L->t_i8, base, &off, 1, "");
        slot = LLVMBuildBitCast(B, slot, LLVMPointerType(LLVMTypeOf(vals[i]), 0), "");
        LLVMSetAlignment(LLVMBuildStore(B, vals[i], slot), 8);
    }
    LLVMTypeRef params[2] = {pt, pt};
    LLVMValueRef args[2] = {vals[0], nv > 1 ? base : LLVMConstNull(pt)};
    lw_call_named(L, "vprintf", L->t_i32, params, args, 2);
}

/* cuda.shared.array: a block-wide global in the shared address space (3);
 * extent 0: the launch's dynamic shared memory, its length from the size. */
static LLVMValueRef shared_array(Lower *L, Node *n, int64_t count, int64_t itemsize,
                                 LLVMValueRef *dyn_len)
{
    const Type *t = n->ty;
    LLVMValueRef mem;
    bool dynamic = count == 0;
    /* every dynamic array is the one extern symbol (they alias, as in
     * numba), declared as bytes and seen as each array's element type */
    LLVMTypeRef at = LLVMArrayType(dynamic ? L->t_i8 : lw_item_mty(L, t->elem), (unsigned)count);
    LLVMValueRef g = dynamic ? LLVMGetNamedGlobal(L->mod, "ember_dynamic_shared") : NULL;
    if (!g)
        g = LLVMAddGlobalInAddressSpace(L->mod, at, dynamic ? "ember_dynamic_shared"
                                                            : "shared", 3);
    if (dynamic) {
        LLVMSetLinkage(g, LLVMExternalLinkage);
        LLVMValueRef bytes = lw_call_named(L, "ember_dynamic_smem_size", L->t_i32, NULL, NULL, 0);
        *dyn_len = LLVMBuildUDiv(L->b, LLVMBuildZExt(L->b, bytes, L->t_i64, ""),
                                i64c(L, itemsize), "dynamic.len");
    } else {
        LLVMSetInitializer(g, LLVMGetUndef(at));
        LLVMSetLinkage(g, LLVMInternalLinkage);
    }
    LLVMSetAlignment(g, 16);
    LLVMValueRef zero[2] = {i64c(L, 0), i64c(L, 0)};
    mem = LLVMConstAddrSpaceCast(LLVMConstInBoundsGEP2(at, g, zero, 2),
                                 LLVMPointerType(LLVMGetElementType(at), 0));
    mem = LLVMConstBitCast(mem, LLVMPointerType(lw_item_mty(L, t->elem), 0));
    return mem;
}

/*
 * Inline PTX. LLVM 14 writes inline assembly in bitcode in a form libNVVM's
 * LLVM 7 reader misreads (it drops the code after it), while the text form
 * is the same in both: a kernel calls a small helper instead, whose
 * definition cuda_compile.c writes into the textual support module that
 * libNVVM links in (and inlines).
 */
static const struct { const char *name, *definition; } asm_helpers[] = {
    {"ember_dynamic_smem_size",
     "define i32 @ember_dynamic_smem_size() {\n"
     "  %r = call i32 asm \"mov.u32 $0, %dynamic_smem_size;\", \"=r\"()\n"
     "  ret i32 %r\n}\n"},
    {"ember_activemask",
     "define i32 @ember_activemask() {\n"
     "  %r = call i32 asm sideeffect \"activemask.b32 $0;\", \"=r\"()\n"
     "  ret i32 %r\n}\n"},
    /* PTX ISA "match.sync" of 64-bit values (the mask is b32) */
    {"ember_match_any_i64",
     "define i32 @ember_match_any_i64(i64 %v, i32 %mask) {\n"
     "  %r = call i32 asm sideeffect \"match.any.sync.b64 $0, $1, $2;\", \"=r,l,r\"(i64 %v, "
     "i32 %mask)\n"
     "  ret i32 %r\n}\n"},
    {"ember_match_all_i64",
     "define { i32, i32 } @ember_match_all_i64(i64 %v, i32 %mask) {\n"
     "  %r = call { i32, i32 } asm sideeffect \"{ .reg .pred p; match.all.sync.b64 $0|p, $2, "
     "$3; selp.u32 $1, 1, 0, p; }\", \"=r,=r,l,r\"(i64 %v, i32 %mask)\n"
     "  ret { i32, i32 } %r\n}\n"},
    /* grid.sync(): a grid barrier written here rather than cudadevrt's
     * cudaCGSynchronize (what numba links), which would need libcudadevrt.a
     * found and linked with the driver's linker for every such kernel.
     * This is the barrier CUDA 9-11's cooperative groups used (cg::details::
     * sync_grids): after a block barrier, one thread per block fences
     * (membar.gl: its block's writes before its arrival) and adds 1 to a
     * word in global memory, block 0 adds 0x80000000 - (blocks - 1), so the
     * word's top bit flips when the last block arrives and its low bits are
     * back to 0 (ready for the next grid.sync and launch); each spins with
     * volatile loads until the bit has flipped, fences again (the others'
     * writes before its reads) and the block barrier releases the rest.
     * Valid only when every block is resident at once: ember launches the
     * kernels that call it with cuLaunchCooperativeKernel (launch/module.c
     * finds LOWER_NVVM_GRID_BARRIER in the module). Two such launches of the
     * same module running at once on different streams would share the word. */
    {"ember_grid_sync",
     "@ember_grid_barrier = addrspace(1) global i32 0, align 4\n"
     "declare void @llvm.nvvm.barrier0()\n"
     "declare void @llvm.nvvm.membar.gl()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.tid.y()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.tid.z()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.y()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.z()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.nctaid.x()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.nctaid.y()\n"
     "declare i32 @llvm.nvvm.read.ptx.sreg.nctaid.z()\n"
     "define void @ember_grid_sync() {\n"
     "entry:\n"
     "  call void @llvm.nvvm.barrier0()\n"
     "  %tx = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()\n"
     "  %ty = call i32 @llvm.nvvm.read.ptx.sreg.tid.y()\n"
     "  %tz = call i32 @llvm.nvvm.read.ptx.sreg.tid.z()\n"
     "  %t1 = or i32 %tx, %ty\n"
     "  %t = or i32 %t1, %tz\n"
     "  %master = icmp eq i32 %t, 0\n"
     "  br i1 %master, label %arrive, label %done\n"
     "arrive:\n"
     "  %bx = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()\n"
     "  %by = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.y()\n"
     "  %bz = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.z()\n"
     "  %b1 = or i32 %bx, %by\n"
     "  %b = or i32 %b1, %bz\n"
     "  %first = icmp eq i32 %b, 0\n"
     "  %nx = call i32 @llvm.nvvm.read.ptx.sreg.nctaid.x()\n"
     "  %ny = call i32 @llvm.nvvm.read.ptx.sreg.nctaid.y()\n"
     "  %nz = call i32 @llvm.nvvm.read.ptx.sreg.nctaid.z()\n"
     "  %n1 = mul i32 %nx, %ny\n"
     "  %n = mul i32 %n1, %nz\n"
     "  %others = sub i32 %n, 1\n"
     "  %lead = sub i32 -2147483648, %others\n"
     "  %add = select i1 %first, i32 %lead, i32 1\n"
     "  call void @llvm.nvvm.membar.gl()\n"
     "  %old = atomicrmw add i32 addrspace(1)* @ember_grid_barrier, i32 %add monotonic\n"
     "  br label %spin\n"
     "spin:\n"
     "  %now = load volatile i32, i32 addrspace(1)* @ember_grid_barrier, align 4\n"
     "  %diff = xor i32 %old, %now\n"
     "  %flipped = icmp slt i32 %diff, 0\n"
     "  br i1 %flipped, label %left, label %spin\n"
     "left:\n"
     "  call void @llvm.nvvm.membar.gl()\n"
     "  br label %done\n"
     "done:\n"
     "  call void @llvm.nvvm.barrier0()\n"
     "  ret void\n}\n"},
    /* PTX ISA "nanosleep" (sm_70+; every GPU CUDA 13 supports) */
    {"ember_nanosleep",
     "define void @ember_nanosleep(i32 %ns) {\n"
     "  call void asm sideeffect \"nanosleep.u32 $0;\", \"r\"(i32 %ns)\n"
     "  ret void\n}\n"},
};

const char *lower_nvvm_helper(const char *name)
{
    for (size_t i = 0; i < EM_ARRAY_LEN(asm_helpers); i++)
        if (strcmp(name, asm_helpers[i].name) == 0)
            return asm_helpers[i].definition;
    return NULL;
}

/* cuda.nanosleep(ns): the thread sleeps about ns nanoseconds, between 0
 * and 2 * ns. */
static LLVMValueRef sleep_ns(Lower *L, Node *n)
{
    LLVMValueRef ns = lw_conv(L, n, lw_expr(L, n->args[0]), n->args[0]->ty, ty_scalar(TY_U32));
    return lw_call_named(L, "ember_nanosleep", L->t_void, &L->t_i32, &ns, 1);
}

/* The intrinsics NVVM lowers itself (the rest: core/lower_expr.c). */
static const LowerIntrinsicFn intrinsics[INTR_COUNT] = {
    [INTR_LANEID] = lane_id,
    [INTR_SYNCTHREADS_COUNT] = collective, [INTR_SYNCTHREADS_AND] = collective,
    [INTR_SYNCTHREADS_OR] = collective,    [INTR_SHFL_IDX] = collective,
    [INTR_SHFL_UP] = collective,           [INTR_SHFL_DOWN] = collective,
    [INTR_SHFL_XOR] = collective,          [INTR_VOTE_ALL] = collective,
    [INTR_VOTE_ANY] = collective,          [INTR_VOTE_UNI] = collective,
    [INTR_BALLOT] = collective,            [INTR_MATCH_ANY] = collective,
    [INTR_MATCH_ALL] = collective,         [INTR_ACTIVEMASK] = collective,
    [INTR_LANEMASK_LT] = collective,
    [INTR_NANOSLEEP] = sleep_ns,
};

const LowerTarget lower_nvvm_target = {
    .name = "CUDA",
    .build_root = build_root,
    .math_symbol = math_symbol,
    .intrinsic_libm = intrinsic_libm,
    .fneg = fneg,
    .intrinsics = intrinsics,
    .sync = sync,
    .fence = fence,
    .atomic_rmw = atomic_rmw,
    .atomic_cas = atomic_cas,
    .atomic_access = atomic_access,
    .string_ptr = string_ptr,
    .print = print,
    .shared_array = shared_array,
    .const_address_space = 4,
};
