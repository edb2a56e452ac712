/*
 * nvrtc.h — compiling CUDA C/C++ to PTX with NVRTC, opened at run time, for
 * the .cu files of link= (cuda.declare_device's implementations).
 *
 * As with libNVVM (nvvm.h), nvrtc.h of the toolkit is never included and
 * libnvrtc.so is opened with dlopen: the prototypes are our own copies of
 * the part of NVRTC's C API ember calls, as CUDA 13.0 declares them.
 */
#ifndef EMBER_NVRTC_H
#define EMBER_NVRTC_H

#include "core/core.h"

/* Compiles the NUL-terminated CUDA C/C++ `source` (named `name` in the
 * messages, e.g. the file's name) to PTX for compute capability
 * cc_major.cc_minor (-arch=compute_XY, -rdc=true: its functions are linked
 * into kernels), with `include_dir` (may be NULL) on the include path.
 * On success *ptx is the PTX (em_malloc'd, the caller's to em_free) and
 * *log NVRTC's messages, possibly empty (likewise). On failure both are
 * NULL. Errors: EMBER_ERR_NO_DRIVER when libnvrtc cannot be found (every
 * place tried is named); EMBER_ERR_INVALID_ARG for a compilation failure,
 * the message "NVRTC Compilation failure whilst compiling <name>:" and
 * NVRTC's log. */
EM_HIDDEN ember_status nvrtc_compile(const char *source, const char *name, int cc_major,
                                     int cc_minor, const char *include_dir, char **ptx,
                                     char **log);

/* The file libnvrtc was loaded from, or NULL before a successful search. */
EM_HIDDEN const char *nvrtc_library_path(void);

#endif /* EMBER_NVRTC_H */
