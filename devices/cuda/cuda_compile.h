/*
 * cuda_compile.h — typed kernels to NVVM IR (and, with libNVVM, to PTX).
 *
 * core/lower.c builds the NVVM module with lower_nvvm.c's target
 * (lower_nvvm_target, below); this unit names the
 * kernel, writes the module as LLVM 14 bitcode of typed-pointer IR (what
 * libNVVM reads; DESIGN.md "Decisions") and keeps its text for inspection.
 * LLVM's optimiser never runs on it: NVVM optimises.
 */
#ifndef EMBER_CUDA_COMPILE_H
#define EMBER_CUDA_COMPILE_H

#include "core/ir.h"

typedef struct CudaCode {
    char *symbol;      /* the kernel's name in the module / PTX */
    char *nvvm_ir;     /* textual NVVM IR */
    char *support_ir;  /* NULL, or a text module libNVVM links in: the atomic
                        * operations the kernel calls (cuda_compile.c) */
    void *bitcode;     /* the module as bitcode, for libNVVM */
    size_t bitcode_size;
    char **sites;      /* bounds check locations ("file:line:col"), by fault site */
    int nsites;
    size_t args_size;  /* bytes of the packed arguments = 8 * kernel parameters */
    char *ptx;         /* cuda_compile: the PTX (NUL-terminated) */
    bool text_module;  /* nvvm_ir (not the bitcode) is what libNVVM reads */
} CudaCode;

/* The NVVM target of core/lower.h's lower_module (lower_nvvm.c). */
EM_HIDDEN extern const struct LowerTarget lower_nvvm_target;
/* The text definition of the inline-PTX helper `name` ("ember_nanosleep")
 * that NVVM kernels call (lower_nvvm.c), or NULL. */
EM_HIDDEN const char *lower_nvvm_helper(const char *name);

/* Lowers the typed kernel `fn` for NVIDIA GPUs; nvvmir_major/minor go into
 * !nvvmir.version. Caller owns *out (cuda_code_destroy). Unsupported
 * constructs are reported through ir_error on fn. */
EM_HIDDEN ember_status cuda_lower(Function *fn, int nvvmir_major, int nvvmir_minor,
                                  CudaCode **out);
/* cuda_lower with line tables (the kernel's source lines in the PTX's .loc
 * directives): nvvm_ir is then the module libNVVM reads, as text in LLVM
 * 7's debug-info syntax (its bitcode reader refuses LLVM 14's debug
 * records). dbg_major/minor: libNVVM's debug metadata version. */
EM_HIDDEN ember_status cuda_lower_lines(Function *fn, int nvvmir_major, int nvvmir_minor,
                                        int dbg_major, int dbg_minor, CudaCode **out);
EM_HIDDEN void cuda_code_destroy(CudaCode *code);

struct NvvmOptions;
/* cuda_lower with the NVVM IR version of the libNVVM found, then libNVVM:
 * code->ptx is the kernel's PTX for opt's compute capability. Errors:
 * EMBER_ERR_NO_DRIVER without libNVVM (the places tried in the message),
 * an ir_error on fn for unsupported code, NVVM's log otherwise. */
EM_HIDDEN ember_status cuda_compile(Function *fn, const struct NvvmOptions *opt,
                                    CudaCode **out);

#endif /* EMBER_CUDA_COMPILE_H */
