/*
 * lower.c — typed IR (core/ir.h) to an LLVM 14 module: lower_module, and
 * what every other lowering file builds on (types, small builders,
 * conversions, variables, parameters, counted loops, line tables).
 *
 * lower_module validates the tree (lower_check.c), then asks the target
 * (LowerTarget, lower_impl.h) to build the root function, which lowers the
 * body with lw_stmt. Variables are allocas in the entry block; mem2reg/SROA
 * turn them into registers. bool is i1 in registers and i8 in memory
 * (variables, array elements). A tuple is an LLVM literal struct of its
 * fields; an array value is the flat struct { i8 *data, i64 shape[ndim]...,
 * i64 strides[ndim]... }. Weak literal types are lowered as their concrete
 * type (ty_concrete).
 *
 * Semantics follow Python / numba (each rule is quoted above its code).
 * Deviations, all documented where they are implemented:
 *   - integer `//` and `%` by zero give 0 (numba's CUDA behaviour) instead of
 *     raising ZeroDivisionError; float ones give IEEE results (x/0, nan);
 *   - a zero range() step runs no iteration (Python raises ValueError);
 *   - `int ** negative int` truncates the exact result toward zero;
 *   - shifts by a count >= the width (or negative) give 0 / the sign fill;
 *   - without bounds checks, negative indices wrap once and nothing more
 *     is checked;
 *   - math domain errors give nan or inf (math.log(-1), cmath.log(0),
 *     math.remainder(inf, 1)) instead of raising ValueError, as numba;
 *     `np.reciprocal` of the integer 0 gives 0; complex functions of a
 *     number with a nan part may give nan in both parts where CPython's
 *     special-value tables keep one (see "complex functions" in
 *     lower_math.c).
 *
 * Errors: before anything is built, lw_check walks the tree and reports an
 * unsupported node, type or shape with ir_error at its location. During the
 * build, every place that could hand LLVM an ill-typed instruction checks
 * first and leaves through lw_fail() (one longjmp back to lower_module,
 * which disposes the half-built module): LLVM never sees invalid input.
 */
#include <math.h>
#include <string.h>

#include "core/lower_impl.h"

_Noreturn void lw_fail(Lower *L, const Node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SrcLoc loc = n ? n->loc : (L->fn->body ? L->fn->body->loc : (SrcLoc){0, 0});
    L->st = ir_error(L->fn, loc, "%s", msg);
    longjmp(L->fail_jmp, 1);
}

/* Names a function's parameters p0, p1 ...: the text of a module then reads
 * the same in LLVM 7's syntax (which has no numbered parameters), the form
 * libNVVM takes a module with line tables in. */
void lw_name_params(LLVMValueRef f)
{
    unsigned n = LLVMCountParams(f);
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "p%u", i);
        LLVMSetValueName2(LLVMGetParam(f, i), name, (size_t)len);
    }
}

/* Makes room for `need` items of `size` bytes in *v (capacity *cap). */
bool lw_grow_list(void **v, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int ncap = *cap ? *cap * 2 : 8;
    if (ncap < need)
        ncap = need;
    void *p = em_calloc((size_t)ncap, size);
    if (!p)
        return false;
    if (*cap)
        memcpy(p, *v, (size_t)*cap * size);
    em_free(*v);
    *v = p;
    *cap = ncap;
    return true;
}

/* Records "file:line:col<note>" of n as the next fault site (L->sites,
 * the fault record's site numbers); returns its number. */
static int add_site(Lower *L, const Node *n, const char *note)
{
    char site[1200];
    snprintf(site, sizeof site, "%s:%d:%d%s", L->fn->file, n->loc.line, n->loc.col, note);
    if (!lw_grow_list((void **)&L->sites, &L->capsites, L->nsites + 1, sizeof *L->sites) ||
        !(L->sites[L->nsites] = em_strdup(site))) {
        L->st = EMBER_ERR_OUT_OF_MEMORY; /* every kernel has sites now: not a user error */
        longjmp(L->fail_jmp, 1);
    }
    return L->nsites++;
}

/* n's "file:line:col" as the next fault site; returns its number. */
int lw_add_site(Lower *L, const Node *n)
{
    /* t[i] of a tuple faults only out of range: Python's words for it */
    return add_site(L, n, n->kind == ND_TUPLE_GET ? " (tuple index out of range)" : "");
}

/* The site of an exception the compiled code raises itself (not a `raise`
 * the front end recorded): "file:line:col [ZeroDivisionError: message]",
 * which python/ember/_compiler/_raises.py reads back. */
int lw_add_raise_site(Lower *L, const Node *n, const char *exc, const char *msg)
{
    char note[200];
    snprintf(note, sizeof note, " [%s: %s]", exc, msg);
    return add_site(L, n, note);
}

/* ======================================================================== */
/* Types                                                                    */
/* ======================================================================== */

/* The real type of a complex type's parts. */
const Type *lw_part_type(const Type *t)
{
    return ty_scalar(ty_concrete(t)->kind == TY_C64 ? TY_F32 : TY_F64);
}

/* The register type of an IR type. */
LLVMTypeRef lw_lty(Lower *L, const Type *t)
{
    t = ty_concrete(t);
    switch (t->kind) {
    case TY_BOOL: return L->t_i1;
    case TY_I8: case TY_U8: return L->t_i8;
    case TY_I16: case TY_U16: return L->t_i16;
    case TY_I32: case TY_U32: return L->t_i32;
    case TY_I64: case TY_U64: case TY_DATETIME: case TY_TIMEDELTA: return L->t_i64;
    case TY_F16: return L->t_f16;
    case TY_BF16: return L->t_i16; /* its bits (lower_bf16.c) */
    case TY_RECORD: return L->t_ptr; /* a record is the address of its bytes */
    case TY_F32: return L->t_f32;
    case TY_F64: return L->t_f64;
    case TY_C64: case TY_C128: {
        LLVMTypeRef p = t->kind == TY_C64 ? L->t_f32 : L->t_f64;
        LLVMTypeRef f[2] = {p, p};
        return LLVMStructTypeInContext(L->ctx, f, 2, 0);
    }
    case TY_ARRAY: {
        LLVMTypeRef f[1 + 2 * EMBER_MAX_NDIM];
        f[0] = L->t_ptr;
        for (int i = 0; i < 2 * t->ndim; i++)
            f[1 + i] = L->t_i64;
        return LLVMStructTypeInContext(L->ctx, f, (unsigned)(1 + 2 * t->ndim), 0);
    }
    case TY_TUPLE: {
        LLVMTypeRef stack[16];
        LLVMTypeRef *f = t->nfields <= 16 ? stack : em_malloc(sizeof *f * (size_t)t->nfields);
        if (!f)
            lw_fail(L, NULL, "out of memory");
        for (int i = 0; i < t->nfields; i++)
            f[i] = lw_lty(L, t->fields[i]);
        LLVMTypeRef r = LLVMStructTypeInContext(L->ctx, f, (unsigned)t->nfields, 0);
        if (f != stack)
            em_free(f);
        return r;
    }
    default: {
        char s[256];
        lw_fail(L, NULL, "the CPU target cannot represent type %s", tstr(t, s));
    }
    }
}

/* The in-memory type: bool is a byte. */
LLVMTypeRef lw_mty(Lower *L, const Type *t)
{
    return ty_concrete(t)->kind == TY_BOOL ? L->t_i8 : lw_lty(L, t);
}

/* An array item's type in memory: a record is its bytes (as a value it is
 * their address). */
LLVMTypeRef lw_item_mty(Lower *L, const Type *elem)
{
    if (elem->kind == TY_RECORD)
        return LLVMArrayType(L->t_i8, (unsigned)elem->size);
    return lw_mty(L, elem);
}

unsigned lw_elem_align(const Type *elem)
{
    switch (elem->kind) {
    case TY_C64: return 4;
    case TY_C128: return 8;
    case TY_RECORD: return (unsigned)elem->align;
    default: return (unsigned)(ty_bits(elem) < 8 ? 1 : ty_bits(elem) / 8);
    }
}

/* ======================================================================== */
/* Small builders                                                           */
/* ======================================================================== */

LLVMBasicBlockRef lw_new_bb(Lower *L, const char *name)
{
    return LLVMAppendBasicBlockInContext(L->ctx, L->func, name);
}

/* After a terminator (break, continue, return): later statements of the
 * same block go to a fresh block without predecessors. */
void lw_start_dead_block(Lower *L)
{
    LLVMPositionBuilderAtEnd(L->b, lw_new_bb(L, "dead"));
}

LLVMValueRef lw_entry_alloca(Lower *L, LLVMTypeRef t, const char *name)
{
    return LLVMBuildAlloca(L->ab, t, name);
}

static LLVMValueRef call_libm(Lower *L, const char *name, LLVMValueRef *args, unsigned n);

/* float16 math: the arguments widened to float32, the float32 function,
 * its result rounded to half. Exact for sqrt and the rounding functions
 * (float32 has more than twice half's precision); the others are as
 * accurate as their float32 versions, plus the final rounding. */
static LLVMValueRef call_via_f32(Lower *L, const char *name, LLVMValueRef *args, unsigned n,
                                 bool intrinsic)
{
    LLVMValueRef wide[4];
    EM_ASSERT(n <= 4);
    for (unsigned i = 0; i < n; i++)
        wide[i] = LLVMTypeOf(args[i]) == L->t_f16 ? LLVMBuildFPExt(L->b, args[i], L->t_f32, "")
                                                  : args[i];
    LLVMValueRef r = intrinsic ? lw_call_intrinsic(L, name, L->t_f32, wide, n)
                               : call_libm(L, name, wide, n);
    return LLVMBuildFPTrunc(L->b, r, L->t_f16, "");
}

/* A call of an overloaded LLVM lw_intrinsic (one overload type). */
LLVMValueRef lw_call_intrinsic(Lower *L, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                                   unsigned n)
{
    if (ty == L->t_f16)
        return call_via_f32(L, name, args, n, true);
    const char *libm = L->target->intrinsic_libm ? L->target->intrinsic_libm(name) : NULL;
    if (libm)
        return call_libm(L, libm, args, n);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    EM_ASSERT(id != 0);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->mod, id, &ty, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->ctx, id, &ty, 1);
    return LLVMBuildCall2(L->b, ft, f, args, n, "");
}

LLVMValueRef lw_intr1(Lower *L, const char *name, LLVMValueRef x)
{
    return lw_call_intrinsic(L, name, LLVMTypeOf(x), &x, 1);
}

LLVMValueRef lw_intr2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef a[2] = {x, y};
    return lw_call_intrinsic(L, name, LLVMTypeOf(x), a, 2);
}

/* The math library's name for `name` of float (f32) or double: libm's
 * ("sinf", "sin") on the host, libdevice's ("__nv_sinf") on NVVM
 * (LowerTarget.math_symbol). */
const char *lw_math_symbol(Lower *L, const char *name, bool f32, char *buf, size_t cap)
{
    return L->target->math_symbol(name, f32, buf, cap);
}

/* A call of the function `name` of type ret(params), declared in the
 * module on first use: libm and libdevice, non-overloaded intrinsics, the
 * runtime's hooks. */
LLVMValueRef lw_call_named(Lower *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                               LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef ft = LLVMFunctionType(ret, params, n, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
    if (!f)
        f = LLVMAddFunction(L->mod, name, ft);
    return LLVMBuildCall2(L->b, ft, f, args, n, "");
}

/* A call of a libm function taking and returning `n` values of type ty
 * (double, or float for the `f` variants). */
static LLVMValueRef call_libm(Lower *L, const char *name, LLVMValueRef *args, unsigned n)
{
    LLVMTypeRef ty = LLVMTypeOf(args[0]);
    if (ty == L->t_f16)
        return call_via_f32(L, name, args, n, false);
    char full[48];
    lw_math_symbol(L, name, ty == L->t_f32, full, sizeof full);
    LLVMTypeRef params[3] = {ty, ty, ty};
    return lw_call_named(L, full, ty, params, args, n);
}

LLVMValueRef lw_libm1(Lower *L, const char *name, LLVMValueRef x)
{
    return call_libm(L, name, &x, 1);
}

LLVMValueRef lw_libm2(Lower *L, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef a[2] = {x, y};
    return call_libm(L, name, a, 2);
}

/* -x for floats (LowerTarget.fneg) */
LLVMValueRef lw_build_fneg(Lower *L, LLVMValueRef x)
{
    if (L->target->fneg)
        return L->target->fneg(L, x);
    return LLVMBuildFNeg(L->b, x, "");
}

LLVMValueRef lw_make_complex(Lower *L, const Type *t, LLVMValueRef re, LLVMValueRef im)
{
    LLVMValueRef v = LLVMGetUndef(lw_lty(L, t));
    v = LLVMBuildInsertValue(L->b, v, re, 0, "");
    return LLVMBuildInsertValue(L->b, v, im, 1, "");
}


/* bool(x): Python truth of a number; nan is true (une). */
LLVMValueRef lw_truth(Lower *L, LLVMValueRef v, const Type *t)
{
    t = ty_concrete(t);
    if (t->kind == TY_BOOL)
        return v;
    if (ty_is_int(t))
        return LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
    if (ty_is_float(t))
        return LLVMBuildFCmp(L->b, LLVMRealUNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
    EM_ASSERT(ty_is_complex(t));
    LLVMValueRef re = re_of(L, v), im = im_of(L, v);
    LLVMValueRef z = LLVMConstNull(LLVMTypeOf(re));
    return LLVMBuildOr(L->b, LLVMBuildFCmp(L->b, LLVMRealUNE, re, z, ""),
                       LLVMBuildFCmp(L->b, LLVMRealUNE, im, z, ""), "");
}

/* Converts v from `from` to `to` (numbers: NumPy casting; float -> int
 * truncates toward zero like numba's fptosi, out-of-range values are
 * unspecified; to bool is != 0; complex -> real takes the real part; tuples
 * field by field; arrays of the same element type and ndim are the same
 * value whatever their layout). */
LLVMValueRef lw_conv(Lower *L, const Node *at, LLVMValueRef v, const Type *from, const Type *to)
{
    from = ty_concrete(from);
    to = ty_concrete(to);
    char s1[256], s2[256];
    if (from == to)
        return v;
    if (from->kind == TY_TUPLE && to->kind == TY_TUPLE && from->nfields == to->nfields) {
        LLVMValueRef r = LLVMGetUndef(lw_lty(L, to));
        for (int i = 0; i < to->nfields; i++) {
            LLVMValueRef f = LLVMBuildExtractValue(L->b, v, (unsigned)i, "");
            f = lw_conv(L, at, f, from->fields[i], to->fields[i]);
            r = LLVMBuildInsertValue(L->b, r, f, (unsigned)i, "");
        }
        return r;
    }
    if (from->kind == TY_ARRAY && to->kind == TY_ARRAY && from->ndim == to->ndim &&
        from->elem == to->elem)
        return v;
    if (ty_is_time(to) && (ty_is_time(from) || ty_is_int(from)))
        return lw_time_conv(L, at, v, from, to);
    if ((ty_is_bf16(from) && (ty_is_number(to) || ty_is_bf16(to))) ||
        (ty_is_bf16(to) && ty_is_number(from)))
        return lw_bf16_conv(L, at, v, from, to);
    if (!ty_is_number(from) || !ty_is_number(to))
        lw_fail(L, at, "cannot convert %s to %s", tstr(from, s1), tstr(to, s2));
    if (to->kind == TY_BOOL)
        return lw_truth(L, v, from);
    if (ty_is_complex(to)) {
        const Type *pt = lw_part_type(to);
        LLVMValueRef re, im;
        if (ty_is_complex(from)) {
            re = lw_conv(L, at, re_of(L, v), lw_part_type(from), pt);
            im = lw_conv(L, at, im_of(L, v), lw_part_type(from), pt);
        } else {
            re = lw_conv(L, at, v, from, pt);
            im = LLVMConstNull(lw_lty(L, pt));
        }
        return lw_make_complex(L, to, re, im);
    }
    if (ty_is_complex(from))
        return lw_conv(L, at, re_of(L, v), lw_part_type(from), to);
    LLVMTypeRef tt = lw_lty(L, to);
    if (from->kind == TY_BOOL)
        return ty_is_int(to) ? LLVMBuildZExt(L->b, v, tt, "") : LLVMBuildUIToFP(L->b, v, tt, "");
    if (ty_is_int(from) && ty_is_int(to)) {
        int fb = ty_bits(from), tb = ty_bits(to);
        if (fb == tb)
            return v;
        if (fb > tb)
            return LLVMBuildTrunc(L->b, v, tt, "");
        return ty_is_signed(from) ? LLVMBuildSExt(L->b, v, tt, "") : LLVMBuildZExt(L->b, v, tt, "");
    }
    if (ty_is_int(from))
        return ty_is_signed(from) ? LLVMBuildSIToFP(L->b, v, tt, "") : LLVMBuildUIToFP(L->b, v, tt, "");
    if (ty_is_int(to)) {
        LLVMValueRef r = ty_is_signed(to) ? LLVMBuildFPToSI(L->b, v, tt, "")
                                          : LLVMBuildFPToUI(L->b, v, tt, "");
        return L->target->has_freeze ? LLVMBuildFreeze(L->b, r, "") : r;
    }
    /* float -> float */
    return ty_bits(from) < ty_bits(to) ? LLVMBuildFPExt(L->b, v, tt, "")
                                       : LLVMBuildFPTrunc(L->b, v, tt, "");
}

/* ======================================================================== */
/* Variables                                                                */
/* ======================================================================== */


/* A variable's alloca (or, in a kernel built by fission, its slot in the
 * thread contexts). In an ember.jit function one holding arrays starts
 * as nulls: LowerJit.loop_end reads every such variable, assigned yet or not. */
LLVMValueRef lw_var_slot(Lower *L, int var)
{
    if (L->fis && L->fn == L->root_fn && !L->in_region && !L->uniform[var])
        return lw_fis_var_slot(L, var);
    if (!L->var_slots[var]) {
        const Type *t = L->fn->var_types[var];
        L->var_slots[var] = lw_entry_alloca(L, lw_mty(L, t), L->fn->var_names[var]);
        if (L->function_entry && t && lw_has_array(t))
            LLVMBuildStore(L->ab, LLVMConstNull(lw_mty(L, t)), L->var_slots[var]);
    }
    return L->var_slots[var];
}

void lw_var_store(Lower *L, int var, LLVMValueRef v)
{
    const Type *t = ty_concrete(L->fn->var_types[var]);
    if (t->kind == TY_BOOL)
        v = LLVMBuildZExt(L->b, v, L->t_i8, "");
    if (L->fis && L->fn == L->root_fn && !L->in_region && !L->uniform[var])
        lw_fis_store_all(L, var, v); /* a uniform for loop's variable, in every thread */
    else
        LLVMBuildStore(L->b, v, lw_var_slot(L, var));
}

LLVMValueRef lw_var_load(Lower *L, int var)
{
    const Type *t = ty_concrete(L->fn->var_types[var]);
    LLVMValueRef v = LLVMBuildLoad2(L->b, lw_mty(L, t), lw_var_slot(L, var), L->fn->var_names[var]);
    if (t->kind == TY_BOOL)
        v = LLVMBuildTrunc(L->b, v, L->t_i1, "");
    return v;
}

/* Line tables (NVVM with lineinfo): a compile unit for the kernel's file
 * and a subprogram for the kernel itself. */
void lw_begin_line_tables(Lower *L, const char *symbol)
{
    if (!L->opt || !L->opt->line_tables)
        return;
    const char *path = L->fn->file ? L->fn->file : "?";
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    L->di = LLVMCreateDIBuilder(L->mod);
    LLVMMetadataRef file = LLVMDIBuilderCreateFile(L->di, base, strlen(base), path, dirlen);
    LLVMDIBuilderCreateCompileUnit(L->di, LLVMDWARFSourceLanguageC, file, "ember", 5, 1, "", 0,
                                   0, "", 0, LLVMDWARFEmissionLineTablesOnly, 0, 0, 0, "", 0,
                                   "", 0);
    LLVMMetadataRef type = LLVMDIBuilderCreateSubroutineType(L->di, file, NULL, 0,
                                                             LLVMDIFlagZero);
    unsigned line = L->fn->body ? (unsigned)L->fn->body->loc.line : 0;
    L->di_sp = LLVMDIBuilderCreateFunction(L->di, file, L->fn->name, strlen(L->fn->name),
                                           symbol, strlen(symbol), file, line, type, 0, 1, line,
                                           LLVMDIFlagZero, 1);
    LLVMSetSubprogram(L->func, L->di_sp);
    L->root_func = L->func;
    LLVMValueRef three = LLVMConstInt(L->t_i32, 3, 0);
    LLVMAddModuleFlag(L->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18,
                      LLVMValueAsMetadata(three));
}

/* Line tables: instructions of the kernel's own code carry their source
 * line; those of inlined or recursive device functions carry none (an
 * inlined call keeps its call's line). */
void lw_set_line(Lower *L, const Node *n)
{
    if (!L->di)
        return;
    LLVMBasicBlockRef bb = LLVMGetInsertBlock(L->b);
    if (L->fn != L->root_fn || !bb || LLVMGetBasicBlockParent(bb) != L->root_func) {
        LLVMSetCurrentDebugLocation2(L->b, NULL);
        return;
    }
    LLVMSetCurrentDebugLocation2(L->b, LLVMDIBuilderCreateDebugLocation(
        L->ctx, (unsigned)n->loc.line, (unsigned)n->loc.col + 1, L->di_sp, NULL));
}

/* ======================================================================== */
/* Parameters (Argument ABI, core/ir.h)                                     */
/* ======================================================================== */

static LLVMValueRef load_at(Lower *L, LLVMValueRef args, size_t off, LLVMTypeRef t, const char *name)
{
    LLVMValueRef o = i64c(L, (int64_t)off);
    LLVMValueRef p = LLVMBuildGEP2(L->b, L->t_i8, args, &o, 1, "");
    p = LLVMBuildBitCast(L->b, p, LLVMPointerType(t, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, t, p, name);
    LLVMSetAlignment(v, 8);
    return v;
}

/* Unpacks a value of type t at *off (advanced by abi_size(t)). */
LLVMValueRef lw_unpack(Lower *L, LLVMValueRef args, const Type *t, size_t *off, const char *name)
{
    size_t at = *off;
    *off += abi_size(t);
    if (t->kind == TY_ARRAY) {
        LLVMValueRef v = LLVMGetUndef(lw_lty(L, t));
        v = LLVMBuildInsertValue(L->b, v, load_at(L, args, at, L->t_ptr, name), 0, "");
        for (int i = 0; i < 2 * t->ndim; i++)
            v = LLVMBuildInsertValue(L->b, v, load_at(L, args, at + 8 + 8 * (size_t)i, L->t_i64, ""),
                                     (unsigned)(1 + i), "");
        return v;
    }
    if (t->kind == TY_TUPLE) {
        LLVMValueRef v = LLVMGetUndef(lw_lty(L, t));
        for (int i = 0; i < t->nfields; i++)
            v = LLVMBuildInsertValue(L->b, v, lw_unpack(L, args, t->fields[i], &at, name), (unsigned)i, "");
        return v;
    }
    LLVMValueRef v = load_at(L, args, at, lw_mty(L, t), name);
    if (ty_concrete(t)->kind == TY_BOOL)
        v = LLVMBuildICmp(L->b, LLVMIntNE, v, ci(L->t_i8, 0), "");
    return v;
}

/* ======================================================================== */
/* Counted loops                                                            */
/* ======================================================================== */

/* Opens `for (iv = start; iv < end; iv++)` (c->iv, a phi in the header),
 * positioned in the body; lw_loop_close ends it at `exit`. */
void lw_loop_open(Lower *L, CountedLoop *c, LLVMValueRef start, LLVMValueRef end, const char *name,
                      LLVMBasicBlockRef exit)
{
    char buf[32];
    c->pre = LLVMGetInsertBlock(L->b);
    snprintf(buf, sizeof buf, "%s.hdr", name);
    c->hdr = lw_new_bb(L, buf);
    snprintf(buf, sizeof buf, "%s.body", name);
    LLVMBasicBlockRef body = lw_new_bb(L, buf);
    snprintf(buf, sizeof buf, "%s.latch", name);
    c->latch = lw_new_bb(L, buf);
    c->exit = exit;
    LLVMBuildBr(L->b, c->hdr);
    LLVMPositionBuilderAtEnd(L->b, c->hdr);
    c->iv = LLVMBuildPhi(L->b, L->t_i64, name);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, c->iv, end, ""), body, exit);
    LLVMAddIncoming(c->iv, &start, &c->pre, 1);
    LLVMPositionBuilderAtEnd(L->b, body);
}

void lw_loop_close(Lower *L, CountedLoop *c)
{
    /* the current block falls into the latch */
    LLVMBuildBr(L->b, c->latch);
    LLVMPositionBuilderAtEnd(L->b, c->latch);
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, c->iv, i64c(L, 1), ""); /* iv < end: no wrap */
    LLVMBuildBr(L->b, c->hdr);
    LLVMAddIncoming(c->iv, &next, &c->latch, 1);
    LLVMPositionBuilderAtEnd(L->b, c->exit);
}

/* A type with every weak part made concrete (a returned `(1, 2.0)` is
 * (int64, float64)); NULL when out of memory. */
static const Type *deep_concrete(const Type *t)
{
    if (!t || t->kind != TY_TUPLE)
        return ty_concrete(t);
    const Type *f[64];
    if (t->nfields > 64)
        return t;
    for (int i = 0; i < t->nfields; i++)
        if (!(f[i] = deep_concrete(t->fields[i])))
            return NULL;
    return ty_tuple(t->nfields, f);
}

bool lw_has_array(const Type *t)
{
    if (t->kind == TY_ARRAY)
        return true;
    for (int i = 0; t->kind == TY_TUPLE && i < t->nfields; i++)
        if (lw_has_array(t->fields[i]))
            return true;
    return false;
}

/* Builds the module for the typed kernel `fn` in `ctx`, with the entry
 * function named `symbol`. On success the caller owns *out; on failure
 * nothing is left behind and the error is recorded on fn (ir_error). */
ember_status lower_module(Function *fn, LLVMContextRef ctx, const LowerOptions *opt,
                          const char *symbol, LLVMModuleRef *out, char ***sites, int *nsites)
{
    *out = NULL;
    *sites = NULL;
    *nsites = 0;
    if (!fn || !fn->body || !opt || !opt->target)
        return em_error(EMBER_ERR_INVALID_ARG, "lower_module: no function body, options or target");
    const LowerTarget *target = opt->target;
    /* a non-kernel root: an ember.jit function (host), or a device function
     * compiled on its own (NVVM, cuda.compile_ptx(device=True)) */
    if (!fn->is_kernel && target->jit) {
        /* numbers, arrays and tuples of them come back */
        const Type *rt = deep_concrete(fn->return_type);
        if (!rt)
            return EMBER_ERR_OUT_OF_MEMORY;
        fn->return_type = rt;
    }
    Lower *L = em_calloc(1, sizeof *L);
    if (!L)
        return EMBER_ERR_OUT_OF_MEMORY;
    L->target = target;
    L->opt = opt;
    L->root_fn = fn;
    L->fn = fn;
    L->ctx = ctx;
    L->boundscheck = fn->boundscheck;
    L->zero_division_raises = fn->zero_division_raises;
    unsigned checks = fn->is_kernel && target->kernel_checks ? target->kernel_checks() : 0;
    L->check_writes = fn->boundscheck || (checks & LOWER_CHECK_WRITES);
    L->check_reads = fn->boundscheck || (checks & LOWER_CHECK_READS);
    L->jit = fn->is_kernel ? NULL : target->jit;
    L->function_entry = L->jit != NULL;
    ember_status st = EMBER_SUCCESS;
    for (int i = 0; i < fn->nparams; i++) {
        char s[256];
        if (!lw_supported_type(fn->param_types[i])) {
            st = ir_error(fn, fn->body->loc, "parameter '%s' of type %s cannot be passed to a CPU kernel",
                          fn->param_names[i], tstr(fn->param_types[i], s));
            goto out_free;
        }
    }
    if (target->fission && fn->is_kernel && (st = fission_inline(fn)))
        goto out_free;
    if ((st = lw_check(L, fn->body, 0)))
        goto out_free;
    if (target->fission && fn->is_kernel && (st = fission_check(fn)))
        goto out_free;
    L->var_slots = em_calloc((size_t)fn->nvars + 1, sizeof *L->var_slots);
    L->params = em_calloc((size_t)fn->nparams + 1, sizeof *L->params);
    if (!L->var_slots || !L->params) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto out_free;
    }
    L->t_void = LLVMVoidTypeInContext(ctx);
    L->t_i1 = LLVMInt1TypeInContext(ctx);
    L->t_i8 = LLVMInt8TypeInContext(ctx);
    L->t_i16 = LLVMInt16TypeInContext(ctx);
    L->t_i32 = LLVMInt32TypeInContext(ctx);
    L->t_i64 = LLVMInt64TypeInContext(ctx);
    L->t_f16 = LLVMHalfTypeInContext(ctx);
    L->t_f32 = LLVMFloatTypeInContext(ctx);
    L->t_f64 = LLVMDoubleTypeInContext(ctx);
    L->t_ptr = LLVMPointerType(L->t_i8, 0);
    L->mod = LLVMModuleCreateWithNameInContext(symbol, ctx);
    L->b = LLVMCreateBuilderInContext(ctx);
    L->ab = LLVMCreateBuilderInContext(ctx);
    if (setjmp(L->fail_jmp) == 0) {
        target->build_root(L, symbol);
        if (L->di)
            LLVMDIBuilderFinalize(L->di);
        *out = L->mod;
        L->mod = NULL;
        *sites = L->sites;
        *nsites = L->nsites;
        L->sites = NULL;
        L->nsites = 0;
    } else {
        st = L->st ? L->st : EMBER_ERR_INTERNAL;
        if (L->fn != fn && L->call_site) /* failed inside a device function */
            st = ir_error_in_callee(fn, L->call_site->loc, L->fn);
    }
    if (L->di)
        LLVMDisposeDIBuilder(L->di);
    LLVMDisposeBuilder(L->b);
    LLVMDisposeBuilder(L->ab);
    if (L->mod)
        LLVMDisposeModule(L->mod);
out_free:
    for (int i = 0; i < L->nsites; i++)
        em_free(L->sites[i]);
    em_free(L->sites);
    em_free(L->tid_axis);
    em_free(L->locals);
    em_free(L->shareds);
    em_free(L->shared_off);
    em_free(L->colls);
    em_free(L->coll_result);
    em_free(L->divs);
    em_free(L->touched);
    em_free(L->uniform);
    em_free(L->dep);
    em_free(L->coll_ready);
    em_free(L->real);
    em_free(L->checked);
    em_free(L->var_slots);
    em_free(L->params);
    em_free(L);
    return st;
}
