/*
 * nvvm.h — compiling NVVM IR to PTX with libNVVM, opened at run time.
 *
 * ember has no build- or link-time dependency on CUDA (DESIGN.md), so
 * nvvm.h of the toolkit is never included: the types and prototypes below
 * are our own copies of the part of libNVVM's C API that ember calls, as
 * CUDA 13.0's nvvm.h declares them (unchanged since CUDA 11). nvvm.c finds
 * libnvvm.so and libdevice.10.bc, opens and reads them once, and compiles
 * one module at a time. Where it looks is written above nvvm_find in nvvm.c
 * and in the README.
 */
#ifndef EMBER_NVVM_H
#define EMBER_NVVM_H

#include "core/core.h"

/* ---- libNVVM's API (nvvm.h) --------------------------------------------- */

typedef int nvvmResult;                  /* enum nvvmResult in nvvm.h */
typedef struct _nvvmProgram *nvvmProgram; /* opaque */

enum {
    NVVM_SUCCESS = 0,
    NVVM_ERROR_OUT_OF_MEMORY = 1,
    NVVM_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVVM_ERROR_IR_VERSION_MISMATCH = 3,
    NVVM_ERROR_INVALID_INPUT = 4,
    NVVM_ERROR_INVALID_PROGRAM = 5,
    NVVM_ERROR_INVALID_IR = 6,
    NVVM_ERROR_INVALID_OPTION = 7,
    NVVM_ERROR_NO_MODULE_IN_PROGRAM = 8,
    NVVM_ERROR_COMPILATION = 9,
    NVVM_ERROR_CANCELLED = 10,
};

/* The entry points, loaded by name with dlsym. */
typedef const char *(*nvvmGetErrorString_fn)(nvvmResult result);
typedef nvvmResult (*nvvmVersion_fn)(int *major, int *minor);
typedef nvvmResult (*nvvmIRVersion_fn)(int *major_ir, int *minor_ir, int *major_dbg,
                                       int *minor_dbg);
typedef nvvmResult (*nvvmCreateProgram_fn)(nvvmProgram *prog);
typedef nvvmResult (*nvvmDestroyProgram_fn)(nvvmProgram *prog);
typedef nvvmResult (*nvvmAddModuleToProgram_fn)(nvvmProgram prog, const char *buffer,
                                                size_t size, const char *name);
typedef nvvmResult (*nvvmLazyAddModuleToProgram_fn)(nvvmProgram prog, const char *buffer,
                                                    size_t size, const char *name);
typedef nvvmResult (*nvvmCompileProgram_fn)(nvvmProgram prog, int num_options,
                                            const char **options);
typedef nvvmResult (*nvvmVerifyProgram_fn)(nvvmProgram prog, int num_options,
                                           const char **options);
typedef nvvmResult (*nvvmGetCompiledResultSize_fn)(nvvmProgram prog, size_t *size);
typedef nvvmResult (*nvvmGetCompiledResult_fn)(nvvmProgram prog, char *buffer);
typedef nvvmResult (*nvvmGetProgramLogSize_fn)(nvvmProgram prog, size_t *size);
typedef nvvmResult (*nvvmGetProgramLog_fn)(nvvmProgram prog, char *buffer);

/* ---- nvvm.c ----------------------------------------------------------------- */

/* libNVVM's options (nvvm.h, nvvmCompileProgram). Line info and debug info
 * come from the IR's debug metadata (DICompileUnit, DILocation): NVVM says
 * "there is no specific libNVVM API flag" for line info alone; it accepts
 * -generate-line-info, which changes nothing without that metadata. */
typedef struct NvvmOptions {
    int cc_major, cc_minor; /* target: -arch=compute_<major><minor> */
    int opt_level;          /* 0 or 3 (-opt=), the two values nvvm.h documents */
    bool fastmath;          /* -ftz=1 -prec-div=0 -prec-sqrt=0 -fma=1; else ftz=0, prec=1, fma=1 */
    bool lineinfo;          /* -generate-line-info */
    bool debug;             /* -g (debug info); needs opt_level 0 */
} NvvmOptions;

/* Compiles one NVVM IR module (LLVM 14 bitcode or text of typed-pointer IR,
 * `size` bytes; the caller keeps `ir`) linked lazily with libdevice, to PTX.
 * Prefer bitcode: libNVVM documents reading text IR as deprecated. The
 * module needs !nvvmir.version (nvvm_version's IR version) and its kernels
 * marked in !nvvm.annotations.
 * On success *ptx (em_malloc, NUL-terminated) is the caller's, to em_free;
 * on failure *ptx is NULL. Errors: EMBER_ERR_NO_DRIVER when libNVVM or
 * libdevice cannot be found (the message lists every place tried);
 * EMBER_ERR_INVALID_ARG for IR NVVM rejects (NVVM's log in the message) and
 * for options it cannot take (debug without opt_level 0, a target NVVM does
 * not know); EMBER_ERR_OUT_OF_MEMORY when ember or libNVVM runs out of host
 * memory. Thread-safe: each call compiles in its own nvvmProgram. */
EM_HIDDEN ember_status nvvm_compile(const void *ir, size_t size, const NvvmOptions *opt,
                                    char **ptx);

/* One module of a program: LLVM 14 bitcode or text, `size` bytes. */
typedef struct NvvmModule {
    const void *ir;
    size_t size;
    const char *name; /* for NVVM's messages; NULL: "ember_module" */
} NvvmModule;

/* nvvm_compile of several modules linked together (a kernel and the text
 * module of helpers devices/cuda/cuda_compile.c writes), then libdevice. */
EM_HIDDEN ember_status nvvm_compile_modules(const NvvmModule *mods, int nmods,
                                            const NvvmOptions *opt, char **ptx);

/* NVVM's version and its IR version (for the `nvvmir.version` metadata the
 * lowering must emit) and debug-info version; EMBER_ERR_NO_DRIVER without
 * libNVVM. Any pointer may be NULL. */
EM_HIDDEN ember_status nvvm_version(int *major, int *minor, int *ir_major, int *ir_minor,
                                    int *dbg_major, int *dbg_minor);

/* Where libNVVM and libdevice were found (for messages and tests): the
 * file each was loaded from, or NULL when it was not found. They look for
 * both on the first call. The strings live as long as the process. */
EM_HIDDEN const char *nvvm_library_path(void);
EM_HIDDEN const char *nvvm_libdevice_path(void);

#endif /* EMBER_NVVM_H */
