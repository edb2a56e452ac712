/*
 * lower_foreign.c — calls of foreign functions (cuda.declare_device): code
 * written in CUDA C, PTX or C that the kernel calls by name and that is
 * linked in afterwards (cuLink* on a GPU, the host implementation's
 * address on the cpu device).
 *
 * The calling convention is numba's device-function ABI, so that the .cu
 * files written for numba-cuda link unchanged:
 *
 *     extern "C" __device__ int function(T *return_value, args...);
 *
 * "The return value is always of type int, and is used to signal whether a
 * Python exception occurred ... The first argument is a pointer to the
 * return value of type T, which is allocated in the local address space"
 * (numba-cuda, "Calling foreign functions from Python kernels"). Numbers
 * are passed as numba's data model passes arguments: a bool as a byte, a
 * complex as its two parts, others as themselves; a CPointer(T) or voidptr parameter gets the
 * array's data pointer; an array parameter is flattened as numba's data
 * model does: meminfo, parent (both NULL here), nitems, itemsize, data,
 * shape[ndim], strides[ndim] (bytes). The int result is ignored, as numba
 * ignores it for foreign functions.
 */
#include "core/lower_impl.h"

/* Appends the LLVM parameter types and values of one argument. */
static void foreign_arg(Lower *L, Node *n, int i, LLVMTypeRef *pt, LLVMValueRef *av,
                        unsigned *k)
{
    const Function *t = n->spec->tmpl;
    const Type *at = n->args[i]->ty;
    LLVMValueRef v = lw_expr(L, n->args[i]);
    if (t->foreign_kinds[i] != FOREIGN_VALUE) { /* a pointer to the array's data */
        pt[*k] = L->t_ptr;
        av[(*k)++] = LLVMBuildExtractValue(L->b, v, 0, "data");
        return;
    }
    const Type *want = t->decl_params[i];
    if (want->kind == TY_BOOL) { /* numba's argument type of a bool is its byte */
        pt[*k] = L->t_i8;
        av[(*k)++] = LLVMBuildZExt(L->b, lw_conv(L, n, v, at, want), L->t_i8, "");
        return;
    }
    if (ty_is_complex(want)) { /* a struct argument is flattened: real, imaginary */
        LLVMValueRef c = lw_conv(L, n, v, at, want);
        pt[*k] = pt[*k + 1] = lw_lty(L, lw_part_type(want));
        av[(*k)++] = re_of(L, c);
        av[(*k)++] = im_of(L, c);
        return;
    }
    if (want->kind != TY_ARRAY) {
        pt[*k] = lw_lty(L, want);
        av[(*k)++] = lw_conv(L, n, v, at, want);
        return;
    }
    /* numba's array model, flattened */
    int nd = want->ndim;
    LLVMValueRef nitems = i64c(L, 1);
    for (int d = 0; d < nd; d++)
        nitems = LLVMBuildMul(L->b, nitems,
                              LLVMBuildExtractValue(L->b, v, (unsigned)(1 + d), "shape"), "");
    int64_t itemsize = want->elem->kind == TY_RECORD ? want->elem->size
                                                     : (ty_bits(want->elem) + 7) / 8;
    pt[*k] = L->t_ptr, av[(*k)++] = LLVMConstNull(L->t_ptr);
    pt[*k] = L->t_ptr, av[(*k)++] = LLVMConstNull(L->t_ptr);
    pt[*k] = L->t_i64, av[(*k)++] = nitems;
    pt[*k] = L->t_i64, av[(*k)++] = i64c(L, itemsize);
    pt[*k] = L->t_ptr, av[(*k)++] = LLVMBuildExtractValue(L->b, v, 0, "data");
    for (int d = 0; d < 2 * nd; d++) {
        pt[*k] = L->t_i64;
        av[(*k)++] = LLVMBuildExtractValue(L->b, v, (unsigned)(1 + d), "");
    }
}

LLVMValueRef lw_foreign_call(Lower *L, Node *n)
{
    Function *spec = n->spec;
    const Function *t = spec->tmpl;
    unsigned cap = 1;
    for (int i = 0; i < n->nargs; i++)
        cap += t->decl_params[i]->kind == TY_ARRAY ? 5 + 2u * (unsigned)EMBER_MAX_NDIM : 2;
    LLVMTypeRef *pt = ir_alloc(spec, sizeof *pt * cap);
    LLVMValueRef *av = ir_alloc(spec, sizeof *av * cap);
    if (!pt || !av)
        lw_fail(L, n, "out of memory");
    const Type *rt = t->decl_return;
    bool has_value = rt && rt->kind != TY_VOID;
    LLVMTypeRef slot_ty = has_value ? lw_mty(L, rt) : L->t_i8;
    LLVMValueRef slot = lw_entry_alloca(L, slot_ty, "foreign.ret");
    unsigned k = 0;
    pt[k] = L->t_ptr;
    av[k++] = LLVMBuildBitCast(L->b, slot, L->t_ptr, "");
    for (int i = 0; i < n->nargs; i++)
        foreign_arg(L, n, i, pt, av, &k);
    LLVMTypeRef fty = LLVMFunctionType(L->t_i32, pt, k, 0);
    LLVMValueRef f;
    if (t->foreign_addr) { /* the cpu device: the implementation loaded in this process */
        LLVMAddNamedMetadataOperand(L->mod, "ember.absolute_address",
                                    LLVMMDNodeInContext(L->ctx, NULL, 0));
        f = LLVMConstIntToPtr(LLVMConstInt(L->t_i64, t->foreign_addr, 0),
                              LLVMPointerType(fty, 0));
    } else { /* by name: an external declaration the linker resolves */
        f = LLVMGetNamedFunction(L->mod, t->foreign);
        if (!f)
            f = LLVMAddFunction(L->mod, t->foreign, fty);
        else if (LLVMGlobalGetValueType(f) != fty)
            lw_fail(L, n, "foreign function '%s' is declared twice with different signatures "
                    "in one kernel", t->foreign);
    }
    LLVMBuildCall2(L->b, fty, f, av, k, "");
    if (!has_value)
        return NULL;
    LLVMValueRef v = LLVMBuildLoad2(L->b, slot_ty, slot, "foreign.value");
    if (ty_concrete(rt)->kind == TY_BOOL)
        v = LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstInt(L->t_i8, 0, 0), "");
    return v;
}
