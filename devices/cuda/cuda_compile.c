/*
 * cuda_compile.c — a typed kernel to NVVM IR: lower (core/lower.c,
 * lower_nvvm_target), verify, and write the module as bitcode and text.
 *
 * The module is verified with LLVM's verifier before libNVVM sees it: a
 * failure there is a bug in the lowering (core/lower*.c, lower_nvvm.c) and is reported as one, not as
 * NVVM's less specific parse errors.
 *
 * Two things LLVM 14 writes in bitcode that libNVVM's LLVM 7.0.1 reader
 * rejects are kept out of it: function attributes newer than LLVM 7 (the
 * declarations of intrinsics carry some; all attributes are dropped, NVVM
 * does not need them), and atomic instructions. For those the kernel calls
 * `ember_atomic_<op>_i<bits>` (devices/cuda/lower_nvvm.c), and cuda_lower writes their
 * definitions as a second, textual module (`support_ir`), whose syntax is
 * the same in LLVM 7 and 14; libNVVM links the two. The same module holds
 * the inline PTX helpers of lower_nvvm.c (lower_nvvm_helper), whose inline
 * assembly libNVVM misreads in LLVM 14 bitcode.
 */
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>

#include "core/lower.h"
#include "devices/cuda/cuda_compile.h"
#include "devices/cuda/nvvm.h"

/* PTX identifiers: letters, digits, '_' and '$'; a counter keeps kernels of
 * the same name apart in one process. */
static char *kernel_symbol(const Function *fn)
{
    static uint64_t counter;
    uint64_t n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    char clean[64], buf[96];
    size_t j = 0;
    for (const char *p = fn->name ? fn->name : "kernel"; *p && j + 1 < sizeof clean; p++)
        clean[j++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9')) ? *p : '_';
    clean[j] = '\0';
    snprintf(buf, sizeof buf, "ember_%s_%llu", clean, (unsigned long long)n);
    return em_strdup(buf);
}

/* Drops every attribute of every function (see the top of the file). */
static void strip_attributes(LLVMModuleRef mod)
{
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        int nparams = (int)LLVMCountParams(f);
        for (int idx = -1; idx <= nparams; idx++) {
            LLVMAttributeIndex ai = (LLVMAttributeIndex)idx;
            unsigned n = LLVMGetAttributeCountAtIndex(f, ai);
            if (!n)
                continue;
            LLVMAttributeRef *attrs = em_calloc(n, sizeof *attrs);
            if (!attrs)
                continue; /* NVVM then reports what it cannot read */
            LLVMGetAttributesAtIndex(f, ai, attrs);
            for (unsigned i = 0; i < n; i++) {
                if (LLVMIsStringAttribute(attrs[i])) {
                    unsigned len;
                    const char *key = LLVMGetStringAttributeKind(attrs[i], &len);
                    LLVMRemoveStringAttributeAtIndex(f, ai, key, len);
                } else {
                    LLVMRemoveEnumAttributeAtIndex(f, ai, LLVMGetEnumAttributeKind(attrs[i]));
                }
            }
            em_free(attrs);
        }
    }
}

/* A growing NUL-terminated text; `ok` turns false when memory runs out. */
typedef struct Text {
    char *p;
    size_t len, cap;
    bool ok;
} Text;

static void text_add(Text *t, const char *s)
{
    size_t n = strlen(s);
    if (!t->ok)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *bigger = em_malloc(cap);
        if (!bigger) {
            t->ok = false;
            return;
        }
        if (t->p)
            memcpy(bigger, t->p, t->len + 1);
        em_free(t->p);
        t->p = bigger;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}

/* The text module defining the ember_* helpers the kernel declares (see
 * the top of the file); NULL (and success) when it declares none. Atomics
 * are relaxed (monotonic), as CUDA's atomic functions. */
static ember_status support_module(LLVMModuleRef mod, int ir_major, int ir_minor, char **out)
{
    *out = NULL;
    Text text = {NULL, 0, 0, true};
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        size_t nlen;
        const char *name = LLVMGetValueName2(f, &nlen);
        char op[16];
        unsigned bits = 0;
        if (!LLVMIsDeclaration(f) || strncmp(name, "ember_", 6) != 0)
            continue;
        const char *asm_def = lower_nvvm_helper(name);
        if (!asm_def && (strncmp(name, "ember_atomic_", 13) != 0 ||
                         sscanf(name + 13, "%15[a-z]_i%u", op, &bits) != 2 ||
                         (bits != 32 && bits != 64)))
            continue;
        if (!text.p)
            text_add(&text, "target datalayout = \"e-i64:64-i128:128-v16:16-v32:32-n16:32:64\"\n"
                            "target triple = \"nvptx64-nvidia-cuda\"\n");
        char def[512];
        if (asm_def) { /* may be longer than def */
            text_add(&text, "\n");
            text_add(&text, asm_def);
            continue;
        } else if (strcmp(op, "cas") == 0)
            snprintf(def, sizeof def,
                     "\ndefine i%u @%s(i%u* %%p, i%u %%cmp, i%u %%new) {\n"
                     "  %%r = cmpxchg i%u* %%p, i%u %%cmp, i%u %%new monotonic monotonic\n"
                     "  %%old = extractvalue { i%u, i1 } %%r, 0\n"
                     "  ret i%u %%old\n}\n",
                     bits, name, bits, bits, bits, bits, bits, bits, bits, bits);
        else
            snprintf(def, sizeof def,
                     "\ndefine i%u @%s(i%u* %%p, i%u %%v) {\n"
                     "  %%old = atomicrmw %s i%u* %%p, i%u %%v monotonic\n"
                     "  ret i%u %%old\n}\n",
                     bits, name, bits, bits, op, bits, bits, bits);
        text_add(&text, def);
    }
    if (text.p) {
        char md[128];
        snprintf(md, sizeof md, "\n!nvvmir.version = !{!0}\n!0 = !{i32 %d, i32 %d}\n",
                 ir_major, ir_minor);
        text_add(&text, md);
    }
    if (!text.ok) {
        em_free(text.p);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    *out = text.p;
    return EMBER_SUCCESS;
}

void cuda_code_destroy(CudaCode *code)
{
    if (!code)
        return;
    em_free(code->symbol);
    em_free(code->nvvm_ir);
    em_free(code->support_ir);
    em_free(code->ptx);
    em_free(code->bitcode);
    for (int i = 0; i < code->nsites; i++)
        em_free(code->sites[i]);
    em_free(code->sites);
    em_free(code);
}

/* LLVM 14 prints a subprogram's flags as `spFlags:`; LLVM 7's reader wants
 * the older fields. Rewrites the text in place (it only gets shorter or
 * keeps its length: the replacement is written over a copy). */
static char *llvm7_debug_syntax(const char *text)
{
    static const struct { const char *from, *to; } subs[] = {
        {"spFlags: DISPFlagDefinition | DISPFlagOptimized",
         "isLocal: false, isDefinition: true, isOptimized: true"},
        {"spFlags: DISPFlagDefinition", "isLocal: false, isDefinition: true, isOptimized: false"},
    };
    Text out = {NULL, 0, 0, true};
    const char *p = text;
    while (*p) {
        const char *hit = NULL;
        size_t which = 0;
        for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
            const char *q = strstr(p, subs[i].from);
            if (q && (!hit || q < hit)) {
                hit = q;
                which = i;
            }
        }
        if (!hit) {
            text_add(&out, p);
            break;
        }
        char chunk[4096];
        while (p < hit) { /* copy up to the hit in pieces */
            size_t n = (size_t)(hit - p) < sizeof chunk - 1 ? (size_t)(hit - p) : sizeof chunk - 1;
            memcpy(chunk, p, n);
            chunk[n] = '\0';
            text_add(&out, chunk);
            p += n;
        }
        text_add(&out, subs[which].to);
        p = hit + strlen(subs[which].from);
    }
    if (!out.ok) {
        em_free(out.p);
        return NULL;
    }
    return out.p ? out.p : em_strdup("");
}

static ember_status lower_any(Function *fn, const LowerOptions *opt, CudaCode **out);

ember_status cuda_lower(Function *fn, int nvvmir_major, int nvvmir_minor, CudaCode **out)
{
    LowerOptions opt = {.target = &lower_nvvm_target, .nvvmir_major = nvvmir_major,
                        .nvvmir_minor = nvvmir_minor};
    return lower_any(fn, &opt, out);
}

ember_status cuda_lower_lines(Function *fn, int nvvmir_major, int nvvmir_minor, int dbg_major,
                              int dbg_minor, CudaCode **out)
{
    LowerOptions opt = {.target = &lower_nvvm_target, .nvvmir_major = nvvmir_major,
                        .nvvmir_minor = nvvmir_minor, .line_tables = true,
                        .nvvmdbg_major = dbg_major, .nvvmdbg_minor = dbg_minor};
    ember_status st = lower_any(fn, &opt, out);
    if (st)
        return st;
    char *text = llvm7_debug_syntax((*out)->nvvm_ir);
    if (!text) {
        cuda_code_destroy(*out);
        *out = NULL;
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    em_free((*out)->nvvm_ir);
    (*out)->nvvm_ir = text;
    (*out)->text_module = true;
    return EMBER_SUCCESS;
}

static ember_status lower_in_gate(Function *fn, const LowerOptions *lopt, CudaCode **out);

/* LLVM's global state is used inside the fork gate (core/fork.c). */
static ember_status lower_any(Function *fn, const LowerOptions *lopt, CudaCode **out)
{
    em_fork_enter();
    ember_status st = lower_in_gate(fn, lopt, out);
    em_fork_leave();
    return st;
}

static ember_status lower_in_gate(Function *fn, const LowerOptions *lopt, CudaCode **out)
{
    if (!fn || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "cuda_lower: NULL argument");
    *out = NULL;
    CudaCode *code = em_calloc(1, sizeof *code);
    if (!code)
        return EMBER_ERR_OUT_OF_MEMORY;
    ember_status st = EMBER_SUCCESS;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = NULL;
    if (!(code->symbol = kernel_symbol(fn))) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto out;
    }
    for (int i = 0; i < fn->nparams; i++)
        code->args_size += abi_size(fn->param_types[i]);
    int nvvmir_major = lopt->nvvmir_major, nvvmir_minor = lopt->nvvmir_minor;
    if ((st = lower_module(fn, ctx, lopt, code->symbol, &mod, &code->sites, &code->nsites)))
        goto out;
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        st = em_error(EMBER_ERR_INTERNAL, "invalid NVVM IR generated for '%s': %s", fn->name,
                      msg ? msg : "?");
        LLVMDisposeMessage(msg);
        goto out;
    }
    LLVMDisposeMessage(msg);
    strip_attributes(mod);
    if ((st = support_module(mod, nvvmir_major, nvvmir_minor, &code->support_ir)))
        goto out;
    char *text = LLVMPrintModuleToString(mod);
    code->nvvm_ir = em_strdup(text ? text : "");
    LLVMDisposeMessage(text);
    LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(mod);
    if (bc) {
        code->bitcode_size = LLVMGetBufferSize(bc);
        code->bitcode = em_malloc(code->bitcode_size ? code->bitcode_size : 1);
        if (code->bitcode)
            memcpy(code->bitcode, LLVMGetBufferStart(bc), code->bitcode_size);
        LLVMDisposeMemoryBuffer(bc);
    }
    if (!code->nvvm_ir || !code->bitcode)
        st = EMBER_ERR_OUT_OF_MEMORY;
out:
    if (mod)
        LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    if (st) {
        cuda_code_destroy(code);
        return st;
    }
    *out = code;
    return EMBER_SUCCESS;
}

ember_status cuda_compile(Function *fn, const NvvmOptions *opt, CudaCode **out)
{
    if (!fn || !opt || !out)
        return em_error(EMBER_ERR_INVALID_ARG, "cuda_compile: NULL argument");
    *out = NULL;
    int major, minor, ir_major, ir_minor, dbg_major, dbg_minor;
    ember_status st = nvvm_version(&major, &minor, &ir_major, &ir_minor, &dbg_major, &dbg_minor);
    if (st)
        return st;
    CudaCode *code = NULL;
    if ((st = opt->lineinfo || opt->debug
                  ? cuda_lower_lines(fn, ir_major, ir_minor, dbg_major, dbg_minor, &code)
                  : cuda_lower(fn, ir_major, ir_minor, &code)))
        return st;
    NvvmModule mods[2] = {{code->text_module ? (const void *)code->nvvm_ir : code->bitcode,
                           code->text_module ? strlen(code->nvvm_ir) : code->bitcode_size,
                           fn->name},
                          {code->support_ir, code->support_ir ? strlen(code->support_ir) : 0,
                           "ember_support"}};
    if ((st = nvvm_compile_modules(mods, code->support_ir ? 2 : 1, opt, &code->ptx))) {
        cuda_code_destroy(code);
        return st;
    }
    *out = code;
    return EMBER_SUCCESS;
}
