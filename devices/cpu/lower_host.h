/*
 * lower_host.h — the one entry of lower_host.c, for jit.c. Separate from
 * host_jit.h because it speaks LLVM types, and only devices/cpu compiles
 * against the LLVM headers.
 */
#ifndef EMBER_LOWER_HOST_H
#define EMBER_LOWER_HOST_H

#include <llvm-c/Core.h>

#include "devices/cpu/host_jit.h"

/* Builds the LLVM module for the typed kernel `fn` in `ctx`, with the entry
 * named `symbol`; caller owns *out. Unsupported constructs are reported with
 * ir_error before any LLVM call. With fn->boundscheck, *sites receives the
 * "file:line:col" of each bounds check, in the order of HostDims.fault_site
 * numbers (caller frees each string and the array with em_free; NULL and 0
 * without checks or on failure). */
EM_HIDDEN ember_status host_lower(Function *fn, LLVMContextRef ctx, const char *symbol,
                                  LLVMModuleRef *out, char ***sites, int *nsites);

#endif /* EMBER_LOWER_HOST_H */
