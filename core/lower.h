/*
 * lower.h — typed IR (core/ir.h) to an LLVM 14 module, for the host (ORC
 * JIT, devices/cpu/jit.c) or for NVIDIA GPUs (NVVM IR for libNVVM,
 * devices/cuda/cuda_compile.c).
 *
 * One walker serves both targets: expressions, statements, conversions,
 * arrays, tuples, atomics and device functions lower the same way, and the
 * targets differ in a handful of places (the entry's shape, where thread
 * indices come from, libm vs libdevice names, printf vs vprintf, fences,
 * float atomics, `fneg`), each a switch on the target in lower.c. Two
 * copies of the walker would drift apart.
 *
 * Separate from ir.h because it speaks LLVM types; only files that compile
 * against the LLVM headers include it.
 */
#ifndef EMBER_LOWER_H
#define EMBER_LOWER_H

#include <llvm-c/Core.h>

#include "core/ir.h"

typedef enum LowerTarget {
    LOWER_HOST, /* kernels: void k(const char *args, HostDims *dims, i64 first, i64 last),
                 * looping over a range of blocks and their threads; ember.jit
                 * functions: void f(const char *args, char *ret, HostDims *dims)
                 * (host_jit.h) */
    LOWER_NVVM, /* NVVM IR (LLVM 7.0.1 dialect, typed pointers): a kernel
                 * taking the packed arguments as i64 slots (below) */
} LowerTarget;

typedef struct LowerOptions {
    LowerTarget target;
    int nvvmir_major, nvvmir_minor; /* LOWER_NVVM: the !nvvmir.version to emit */
    bool line_tables;               /* LOWER_NVVM: debug metadata for line tables (the
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
