/*
 * lower_host.h — what the host target's lowering files share
 * (lower_host.c, lower_jit.c, lower_prange.c). Internal to devices/cpu.
 */
#ifndef EMBER_LOWER_HOST_H
#define EMBER_LOWER_HOST_H

#include "core/lower_impl.h"
#include "devices/cpu/host_jit.h"

/* lower_host.c's lower_host_target is declared in host_jit.h. */

/* ---- lower_jit.c: ember.jit functions */
EM_HIDDEN extern const LowerJit host_lower_jit;
/* The entry of an ember.jit function (not a kernel). */
EM_HIDDEN void host_lower_function(Lower *L, const char *symbol);
/* A call of ember's runtime function `fn` of type `fty`, by name where the
 * JIT defines one. */
EM_HIDDEN LLVMValueRef host_call_address(LLVMBuilderRef b, LLVMTypeRef i64, void *fn,
                                         LLVMTypeRef fty, LLVMValueRef *args, unsigned n,
                                         const char *name);
/* np.random.* (INTR_RANDOM_*) in an ember.jit function. */
EM_HIDDEN LLVMValueRef host_lower_random(Lower *L, Node *n);
/* Whether n creates arrays (np.empty ..., array expressions), looking into
 * calls `depth` levels. */
EM_HIDDEN bool host_creates_arrays(const Node *n, int depth);

/* ---- lower_prange.c */
/* An outermost prange loop of an ember.jit(parallel=True) function. */
EM_HIDDEN void host_lower_prange(Lower *L, Node *n);

#endif /* EMBER_LOWER_HOST_H */
