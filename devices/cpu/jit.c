/*
 * jit.c — compiling a typed kernel for the host: lower (core/lower.c),
 * verify, optimise with LLVM's new pass manager for the host CPU, and load
 * the result with ORC LLJIT.
 *
 * Kernels and ember.jit functions (Function.is_kernel false) compile the
 * same way; only their entry's shape differs (host_jit.h).
 *
 * One LLJIT per kernel. A kernel owns its JIT instance, and destroying the
 * kernel frees its code: no process-wide LLVM state outlives the kernels
 * besides LLVM's own one-time target initialisation (pthread_once), and
 * kernels compile concurrently from several threads without a lock (each
 * has its own context). Creating an LLJIT costs well under a millisecond
 * next to the tens of milliseconds the optimiser takes. Entry symbols are
 * still unique per process ("ember_<name>_<counter>") so that IR dumps and
 * profiles of different kernels never share a name.
 *
 * The optimiser runs "default<O1..3>" (LLVMRunPasses) on a TargetMachine
 * for the host CPU (LLVMGetHostCPUName / LLVMGetHostCPUFeatures), so the
 * vectoriser sees the real vector width; the JIT generates code for the
 * same CPU and features. Library calls (libm) resolve against the process
 * through a dynamic-library search generator.
 *
 * The optimised module is compiled to an object file (one codegen) that
 * the JIT links (LLVMOrcLLJITAddObjectFile); the kernel keeps those bytes
 * so that the disk cache (python/ember/_compiler/cache.py) can store them,
 * and host_load links such bytes in another process without LLVM's
 * optimiser or code generator. The object refers to ember's runtime
 * functions by name (host_symbol_name), defined in each JIT as absolute
 * symbols; a module that still holds a raw address (devices/cpu/lower_jit.c marks it
 * with the named metadata "ember.absolute_address") is not kept.
 *
 * Ownership on failure, which LLVM's C API documents unevenly (its example
 * disposes a module it has already given away): LLVMOrcCreateLLJIT takes
 * the builder even when it fails; LLVMOrcLLJITAddLLVMIRModule takes the
 * thread-safe module even when it fails; a TargetMachine given to
 * LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine belongs to the
 * builder. Everything else here is disposed by this file on every path.
 */
#include <pthread.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm/Config/llvm-config.h>

#include "core/lower.h"
#include "devices/cpu/host_jit.h"

struct HostKernel {
    LLVMOrcLLJITRef jit; /* owns the code */
    host_entry_fn entry;  /* a kernel's entry (NULL for a function) */
    host_function_fn function; /* an ember.jit function's entry (NULL for a kernel) */
    char *ir;            /* textual IR after optimisation (em_malloc) */
    char *symbol;        /* the entry's name in the object (em_malloc) */
    void *object;        /* the object file linked, em_malloc; NULL when it
                          * holds process addresses (not relocatable) */
    size_t object_size;
    char **sites;        /* bounds check locations (lower_module), em_malloc */
    int nsites;
    bool grid_sync;      /* the kernel calls host_grid_sync (grid.sync()) */
};

static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;
static bool llvm_ok;

static void llvm_init(void)
{
    llvm_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter();
}

/* Turns an LLVMErrorRef into an ember error (consumes it). */
static ember_status llvm_error(LLVMErrorRef err, const char *what)
{
    char *msg = LLVMGetErrorMessage(err);
    ember_status st = em_error(EMBER_ERR_INTERNAL, "%s: %s", what, msg ? msg : "?");
    LLVMDisposeErrorMessage(msg);
    return st;
}

/* ember's functions that compiled code calls, by the name it calls them */
static const struct {
    const char *name;
    void *addr;
} host_symbols[] = {
    {"ember_host_random_state", (void *)host_random_state},
    {"ember_host_random_seed", (void *)host_random_seed},
    {"ember_host_random_random", (void *)host_random_random},
    {"ember_host_random_uniform", (void *)host_random_uniform},
    {"ember_host_random_normal", (void *)host_random_normal},
    {"ember_host_random_randint", (void *)host_random_randint},
    {"ember_host_array_new", (void *)host_array_new},
    {"ember_host_arena_collect", (void *)host_arena_collect},
    {"ember_host_prange_run", (void *)host_prange_run},
    {"__truncdfhf2", (void *)host_double_to_half},
    {"__truncsfhf2", (void *)host_float_to_half},
    {"__gnu_f2h_ieee", (void *)host_float_to_half},
    {"__extendhfsf2", (void *)host_half_to_float},
    {"__gnu_h2f_ieee", (void *)host_half_to_float},
    {"ember_host_sort", (void *)host_sort},
    {"ember_host_grid_sync", (void *)host_grid_sync},
};

const char *host_symbol_name(const void *addr)
{
    for (size_t i = 0; i < EM_ARRAY_LEN(host_symbols); i++)
        if (host_symbols[i].addr == addr)
            return host_symbols[i].name;
    return NULL;
}

/* The JIT for the host CPU, resolving libm and the like in the process and
 * ember's runtime functions (host_symbols) by their addresses here. Takes
 * `jit_tm`, even on failure. */
static ember_status create_jit(LLVMTargetMachineRef jit_tm, LLVMOrcLLJITRef *out)
{
    *out = NULL;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_tm));
    LLVMOrcLLJITRef jit = NULL;
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&jit, builder); /* consumes the builder */
    if (err)
        return llvm_error(err, "cannot create the LLVM JIT");
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    if ((err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
             &gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL))) {
        LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
        return llvm_error(err, "cannot search the process for symbols");
    }
    LLVMOrcJITDylibAddGenerator(jd, gen);
    LLVMJITCSymbolMapPair pairs[EM_ARRAY_LEN(host_symbols)];
    for (size_t i = 0; i < EM_ARRAY_LEN(host_symbols); i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, host_symbols[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)host_symbols[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported |
                                          LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    /* the unit takes the names; JITDylibDefine takes the unit when it succeeds */
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, EM_ARRAY_LEN(host_symbols));
    if ((err = LLVMOrcJITDylibDefine(jd, mu))) {
        LLVMOrcDisposeMaterializationUnit(mu);
        LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
        return llvm_error(err, "cannot define ember's runtime symbols in the JIT");
    }
    *out = jit;
    return EMBER_SUCCESS;
}

/* Links the object file `obj` into k->jit (taken, also on failure) and
 * looks up `symbol` as the entry of a kernel or a function. */
static ember_status link_object(HostKernel *k, LLVMMemoryBufferRef obj, const char *symbol,
                                bool is_kernel)
{
    LLVMErrorRef err;
    if ((err = LLVMOrcLLJITAddObjectFile(k->jit, LLVMOrcLLJITGetMainJITDylib(k->jit), obj)))
        return llvm_error(err, "cannot add the kernel's object code to the JIT");
    LLVMOrcExecutorAddress addr = 0;
    if ((err = LLVMOrcLLJITLookup(k->jit, &addr, symbol)))
        return llvm_error(err, "cannot link the kernel's object code");
    if (is_kernel)
        k->entry = (host_entry_fn)(uintptr_t)addr;
    else
        k->function = (host_function_fn)(uintptr_t)addr;
    return EMBER_SUCCESS;
}

static LLVMTargetMachineRef host_target_machine(const char *triple, int opt_level)
{
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        em_error(EMBER_ERR_INTERNAL, "no LLVM target for %s: %s", triple, err ? err : "?");
        LLVMDisposeMessage(err);
        return NULL;
    }
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    LLVMCodeGenOptLevel cg = opt_level <= 0 ? LLVMCodeGenLevelNone
                             : opt_level == 1 ? LLVMCodeGenLevelLess
                             : opt_level == 2 ? LLVMCodeGenLevelDefault
                                              : LLVMCodeGenLevelAggressive;
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features, cg,
                                                      LLVMRelocDefault, LLVMCodeModelJITDefault);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    if (!tm)
        em_error(EMBER_ERR_INTERNAL, "cannot create an LLVM target machine for %s", triple);
    return tm;
}

/* "ember_<name>_<n>", the name reduced to [A-Za-z0-9_]. */
static void make_symbol(const Function *fn, char *buf, size_t cap)
{
    static uint64_t counter;
    uint64_t n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    char clean[64];
    size_t j = 0;
    for (const char *p = fn->name ? fn->name : "kernel"; *p && j + 1 < sizeof clean; p++)
        clean[j++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9')) ? *p : '_';
    clean[j] = '\0';
    snprintf(buf, cap, "ember_%s_%llu", clean, (unsigned long long)n);
}

static ember_status optimise(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level)
{
    char passes[32];
    snprintf(passes, sizeof passes, "default<O%d>", opt_level);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, opt_level >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, opt_level >= 2);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, opt_level >= 2);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, opt_level >= 2);
    LLVMErrorRef err = LLVMRunPasses(mod, passes, tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    return err ? llvm_error(err, "LLVM optimisation failed") : EMBER_SUCCESS;
}

/* The LLVM 14 C API cannot set fast-math flags on instructions, so the
 * module goes through its text: "fast" is added to each floating-point
 * operation, comparison and call returning a float, and the text is parsed
 * back in the same context. Only used with fastmath, before optimisation. */
static ember_status apply_fastmath(LLVMContextRef ctx, LLVMModuleRef *mod)
{
    static const char *const ops[] = {" = fadd ", " = fsub ", " = fmul ", " = fdiv ",
                                      " = frem ", " = fneg ", " = fcmp ", " = call float ",
                                      " = call double "};
    char *text = LLVMPrintModuleToString(*mod);
    if (!text)
        return EMBER_ERR_OUT_OF_MEMORY;
    size_t n = strlen(text), cap = n + n / 4 + 64, len = 0;
    char *out = em_malloc(cap);
    if (!out) {
        LLVMDisposeMessage(text);
        return EMBER_ERR_OUT_OF_MEMORY;
    }
    for (const char *p = text; *p;) {
        const char *hit = NULL, *after = NULL;
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
            const char *q = strstr(p, ops[i]);
            if (q && (!hit || q < hit)) {
                hit = q;
                /* "fast" goes after the opcode: " = fadd " or " = call " */
                after = q + (strncmp(ops[i], " = call", 7) == 0 ? 8 : strlen(ops[i]));
            }
        }
        size_t keep = hit ? (size_t)(after - p) : strlen(p);
        if (len + keep + 6 >= cap) {
            cap = (len + keep + 6) * 2;
            char *bigger = em_malloc(cap);
            if (!bigger) {
                em_free(out);
                LLVMDisposeMessage(text);
                return EMBER_ERR_OUT_OF_MEMORY;
            }
            memcpy(bigger, out, len);
            em_free(out);
            out = bigger;
        }
        memcpy(out + len, p, keep);
        len += keep;
        if (!hit)
            break;
        memcpy(out + len, "fast ", 5);
        len += 5;
        p = after;
    }
    out[len] = '\0';
    LLVMDisposeMessage(text);
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(out, len, "fastmath");
    em_free(out);
    LLVMModuleRef fast = NULL;
    char *msg = NULL;
    if (!buf || LLVMParseIRInContext(ctx, buf, &fast, &msg)) { /* consumes buf */
        ember_status st = em_error(EMBER_ERR_INTERNAL, "fastmath: the module does not parse "
                                   "back: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return st;
    }
    LLVMDisposeModule(*mod);
    *mod = fast;
    return EMBER_SUCCESS;
}

static ember_status compile_in_gate(Function *fn, int opt_level, HostKernel **out);

/* LLVM's global state (its one-time initialisation, registries, the
 * dynamic-library lock) is used inside the fork gate (core/fork.c). */
ember_status host_compile(Function *fn, int opt_level, HostKernel **out)
{
    em_fork_enter();
    ember_status st = compile_in_gate(fn, opt_level, out);
    em_fork_leave();
    return st;
}

static ember_status compile_in_gate(Function *fn, int opt_level, HostKernel **out)
{
    if (!out || !fn)
        return em_error(EMBER_ERR_INVALID_ARG, "host_compile: NULL argument");
    *out = NULL;
    if (opt_level < 0 || opt_level > 3)
        return em_error(EMBER_ERR_INVALID_ARG, "host_compile: opt_level %d not in 0..3", opt_level);
    pthread_once(&llvm_once, llvm_init);
    if (!llvm_ok)
        return em_error(EMBER_ERR_INTERNAL, "LLVM has no native target for this host");

    ember_status st = EMBER_SUCCESS;
    HostKernel *k = em_calloc(1, sizeof *k);
    if (!k)
        return EMBER_ERR_OUT_OF_MEMORY;
    LLVMOrcThreadSafeContextRef tsc = NULL;
    LLVMModuleRef mod = NULL;
    LLVMTargetMachineRef tm = NULL, jit_tm = NULL;
    char symbol[96];
    make_symbol(fn, symbol, sizeof symbol);

    /* 1. lower */
    tsc = LLVMOrcCreateNewThreadSafeContext();
    LowerOptions lopt = {.target = &lower_host_target};
    if ((st = lower_module(fn, LLVMOrcThreadSafeContextGetContext(tsc), &lopt, symbol, &mod,
                           &k->sites, &k->nsites)))
        goto fail;

    /* 2. the JIT for the host; its triple and data layout go on the module */
    char *triple = LLVMGetDefaultTargetTriple();
    tm = host_target_machine(triple, opt_level);
    jit_tm = tm ? host_target_machine(triple, opt_level) : NULL;
    LLVMSetTarget(mod, triple);
    LLVMDisposeMessage(triple);
    if (!tm || !jit_tm) {
        st = EMBER_ERR_INTERNAL;
        goto fail;
    }
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);

    st = create_jit(jit_tm, &k->jit);
    jit_tm = NULL; /* taken by create_jit */
    if (st)
        goto fail;

    /* 3. verify: a failure is a bug in the lowering (core/lower*.c, lower_host.c) */
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        st = em_error(EMBER_ERR_INTERNAL, "invalid LLVM IR generated for '%s': %s", fn->name,
                      msg ? msg : "?");
        LLVMDisposeMessage(msg);
        goto fail;
    }
    LLVMDisposeMessage(msg);

    /* 3b. fastmath: every floating-point operation may be reassociated,
     * contracted and assume no NaN/inf (numba's fastmath=True) */
    if (fn->fastmath && (st = apply_fastmath(LLVMOrcThreadSafeContextGetContext(tsc), &mod)))
        goto fail;

    /* 4. optimise for the host CPU, keep the text */
    if ((st = optimise(mod, tm, opt_level)))
        goto fail;
    k->grid_sync = LLVMGetNamedFunction(mod, "ember_host_grid_sync") != NULL;
    char *text = LLVMPrintModuleToString(mod);
    k->ir = em_strdup(text ? text : "");
    LLVMDisposeMessage(text);
    if (!k->ir) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto fail;
    }

    /* 5. machine code as an object file (kept unless it holds process
     * addresses), linked by the JIT */
    if (!(k->symbol = em_strdup(symbol))) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    LLVMMemoryBufferRef obj = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &obj)) {
        st = em_error(EMBER_ERR_INTERNAL, "cannot compile '%s' to machine code: %s", fn->name,
                      msg ? msg : "?");
        LLVMDisposeMessage(msg);
        goto fail;
    }
    if (LLVMGetNamedMetadataNumOperands(mod, "ember.absolute_address") == 0) {
        k->object_size = LLVMGetBufferSize(obj);
        if (!(k->object = em_malloc(k->object_size ? k->object_size : 1))) {
            LLVMDisposeMemoryBuffer(obj);
            st = EMBER_ERR_OUT_OF_MEMORY;
            goto fail;
        }
        memcpy(k->object, LLVMGetBufferStart(obj), k->object_size);
    }
    if ((st = link_object(k, obj, symbol, fn->is_kernel))) /* takes obj */
        goto fail;
    LLVMDisposeModule(mod); /* before its context */
    LLVMOrcDisposeThreadSafeContext(tsc);
    LLVMDisposeTargetMachine(tm);
    *out = k;
    return EMBER_SUCCESS;

fail:
    if (mod)
        LLVMDisposeModule(mod);
    if (tsc)
        LLVMOrcDisposeThreadSafeContext(tsc);
    if (tm)
        LLVMDisposeTargetMachine(tm);
    if (jit_tm)
        LLVMDisposeTargetMachine(jit_tm);
    host_kernel_destroy(k);
    return st;
}

void host_kernel_destroy(HostKernel *k)
{
    if (!k)
        return;
    if (k->jit) {
        em_fork_enter();
        LLVMErrorRef err = LLVMOrcDisposeLLJIT(k->jit);
        if (err)
            LLVMConsumeError(err);
        em_fork_leave();
    }
    em_free(k->ir);
    em_free(k->symbol);
    em_free(k->object);
    for (int i = 0; i < k->nsites; i++)
        em_free(k->sites[i]);
    em_free(k->sites);
    em_free(k);
}

static ember_status load_in_gate(bool is_kernel, const void *object, size_t size,
                                 const char *symbol, const char *ir, const char *const *sites,
                                 int nsites, HostKernel **out);

ember_status host_load(bool is_kernel, const void *object, size_t size, const char *symbol,
                       const char *ir, const char *const *sites, int nsites, HostKernel **out)
{
    em_fork_enter();
    ember_status st = load_in_gate(is_kernel, object, size, symbol, ir, sites, nsites, out);
    em_fork_leave();
    return st;
}

static ember_status load_in_gate(bool is_kernel, const void *object, size_t size,
                                 const char *symbol, const char *ir, const char *const *sites,
                                 int nsites, HostKernel **out)
{
    if (!out || !object || !symbol || !ir || nsites < 0 || (nsites && !sites))
        return em_error(EMBER_ERR_INVALID_ARG, "host_load: NULL argument");
    *out = NULL;
    pthread_once(&llvm_once, llvm_init);
    if (!llvm_ok)
        return em_error(EMBER_ERR_INTERNAL, "LLVM has no native target for this host");
    HostKernel *k = em_calloc(1, sizeof *k);
    if (!k)
        return EMBER_ERR_OUT_OF_MEMORY;
    ember_status st = EMBER_ERR_OUT_OF_MEMORY;
    if (!(k->symbol = em_strdup(symbol)) || !(k->ir = em_strdup(ir)) ||
        !(k->object = em_malloc(size ? size : 1)) ||
        (nsites && !(k->sites = em_calloc((size_t)nsites, sizeof *k->sites))))
        goto fail;
    memcpy(k->object, object, size);
    k->object_size = size;
    k->grid_sync = strstr(ir, "@ember_host_grid_sync(") != NULL; /* as host_compile's check */
    for (; k->nsites < nsites; k->nsites++)
        if (!(k->sites[k->nsites] = em_strdup(sites[k->nsites])))
            goto fail;
    char *triple = LLVMGetDefaultTargetTriple();
    LLVMTargetMachineRef jit_tm = host_target_machine(triple, 2);
    LLVMDisposeMessage(triple);
    if (!jit_tm) {
        st = EMBER_ERR_INTERNAL;
        goto fail;
    }
    if ((st = create_jit(jit_tm, &k->jit))) /* takes jit_tm */
        goto fail;
    LLVMMemoryBufferRef obj =
        LLVMCreateMemoryBufferWithMemoryRangeCopy(object, size, "ember-cached-object");
    if (!obj) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    if ((st = link_object(k, obj, symbol, is_kernel))) /* takes obj */
        goto fail;
    *out = k;
    return EMBER_SUCCESS;
fail:
    host_kernel_destroy(k);
    return st;
}

const void *host_kernel_object(const HostKernel *k, size_t *size)
{
    *size = k && k->object ? k->object_size : 0;
    return k ? k->object : NULL;
}

const char *host_kernel_symbol(const HostKernel *k) { return k ? k->symbol : NULL; }

int host_kernel_nsites(const HostKernel *k) { return k ? k->nsites : 0; }

char *host_target_description(void)
{
    em_fork_enter();
    pthread_once(&llvm_once, llvm_init);
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    size_t n = strlen(triple) + strlen(cpu) + strlen(features) + 64;
    char *out = em_malloc(n);
    if (out)
        snprintf(out, n, "%s %s %s LLVM %s", triple, cpu, features, LLVM_VERSION_STRING);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    em_fork_leave();
    return out;
}

const char *host_kernel_llvm_ir(const HostKernel *k) { return k ? k->ir : NULL; }

const char *host_kernel_site(const HostKernel *k, int site)
{
    return k && site >= 0 && site < k->nsites ? k->sites[site] : "?";
}

host_entry_fn host_kernel_entry(const HostKernel *k) { return k ? k->entry : NULL; }

bool host_kernel_grid_sync(const HostKernel *k) { return k && k->grid_sync; }

ember_status host_kernel_call(const HostKernel *k, const char *args, char *ret, HostDims *dims)
{
    if (!k || !k->function || !dims)
        return em_error(EMBER_ERR_INVALID_ARG, "host_kernel_call: not a compiled function");
    k->function(args, ret, dims);
    return EMBER_SUCCESS;
}
