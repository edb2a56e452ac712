/*
 * lower.h — typed IR (core/ir.h) to an LLVM 14 module, for a target: the
 * host (ORC JIT, devices/cpu/jit.c, with devices/cpu/lower_host.c's
 * target) or NVIDIA GPUs (NVVM IR for libNVVM, devices/cuda/cuda_compile.c,
 * with devices/cuda/lower_nvvm.c's).
 *
 * One walker serves every target: expressions, statements, conversions,
 * arrays, tuples, atomics and device functions lower the same way (the
 * core/lower*.c files), and a target (LowerTarget, core/lower_impl.h) says
 * how to build the entry and the handful of things that differ.
 *
 * Separate from ir.h because it speaks LLVM types; only files that compile
 * against the LLVM headers include it.
 */
#ifndef EMBER_LOWER_H
#define EMBER_LOWER_H

#include <llvm-c/Core.h>

#include "core/ir.h"

/* A target of the lowering: the host's is lower_host_target
 * (devices/cpu/lower_host.h), NVVM's lower_nvvm_target
 * (devices/cuda/cuda_compile.h). */
typedef struct LowerTarget LowerTarget;

typedef struct LowerOptions {
    const LowerTarget *target;
    int nvvmir_major, nvvmir_minor; /* NVVM: the !nvvmir.version to emit */
    bool line_tables;               /* NVVM: debug metadata for line tables (the
                                     * kernel's own lines; inlined calls keep the
                                     * call's line); needs the debug version: */
    int nvvmdbg_major, nvvmdbg_minor;
} LowerOptions;

/*
 * NVVM kernel ABI: the packed argument buffer (core/ir.h "Argument ABI") is
 * passed as its 8-byte slots, one i64 kernel parameter each, so the
 * parameter space has exactly the buffer's layout and a launch can hand the
 * driver the buffer as it is. Kernel faults (bounds checks, recursion
 * depth) go to the module global LOWER_NVVM_FAULT_SYMBOL: { i32 fault, i32
 * site } in global memory, KERNEL_FAULT_* codes.
 */
#define LOWER_NVVM_FAULT_SYMBOL "ember_fault"

/* Builds the LLVM module for the typed kernel `fn` in `ctx`, with the entry
 * named `symbol`; caller owns *out. Unsupported constructs are reported with
 * ir_error before any LLVM call. With fn->boundscheck, *sites receives the
 * "file:line:col" of each bounds check, in the order of the fault site
 * numbers (caller frees each string and the array with em_free; NULL and 0
 * without checks or on failure). */
EM_HIDDEN ember_status lower_module(Function *fn, LLVMContextRef ctx, const LowerOptions *opt,
                                    const char *symbol, LLVMModuleRef *out, char ***sites,
                                    int *nsites);

#endif /* EMBER_LOWER_H */
