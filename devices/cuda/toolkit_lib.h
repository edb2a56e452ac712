/*
 * toolkit_lib.h — finding and opening a library of the CUDA toolkit at run
 * time (NVRTC, nvJitLink), the way libNVVM is found, with its entry points
 * looked up into the caller's table of function pointers.
 */
#ifndef EMBER_TOOLKIT_LIB_H
#define EMBER_TOOLKIT_LIB_H

#include <limits.h>
#include <stddef.h>

#include "core/core.h"

/* An entry point: its name and the offset of its pointer in the table. */
typedef struct ToolkitSymbol {
    const char *name;
    size_t offset;
} ToolkitSymbol;

typedef struct ToolkitLib {
    const char *label;     /* in messages: "NVRTC" */
    const char *env;       /* the override: "EMBER_NVRTC", the only place tried while set */
    const char *file;      /* "libnvrtc.so", matched as libnvrtc.so* */
    const char *wheel_dir; /* the pip wheel's folder beside nvidia/cuda_nvcc: "cuda_nvrtc" */
    const char *wheel;     /* the wheel's name, in the hint: "nvidia-cuda-nvrtc" */
    const ToolkitSymbol *symbols;
    size_t nsymbols;
    void *table;           /* where the entry points' addresses go */
    void *lib;             /* out: the opened library, NULL when not found */
    char path[PATH_MAX];   /* out: the file it was opened from */
    char error[2048];      /* out: why not found, every place tried named */
} ToolkitLib;

/* Looks in order: t->env alone when set (the library or its directory);
 * else lib64, lib and targets/x86_64-linux/lib of $CUDA_HOME, $CUDA_PATH,
 * /usr/local/cuda and the toolkit holding the libNVVM ember found (for the
 * pip wheels, nvidia/<wheel_dir> beside nvidia/cuda_nvcc). The first file
 * that opens and has every symbol wins. Call it once (pthread_once). */
EM_HIDDEN void toolkit_lib_find(ToolkitLib *t);

#endif /* EMBER_TOOLKIT_LIB_H */
