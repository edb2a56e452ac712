/*
 * core.h — internal services every part of libember uses: error reporting
 * into the thread-local last-error buffer, the host allocator (with its
 * fault-injection hook), and the internal assert.
 *
 * Sections follow the files that define them. Everything here has hidden
 * visibility (see EM_HIDDEN): it is not part of the public API.
 */
#ifndef EMBER_CORE_H
#define EMBER_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ember/ember.h"
#include "ember/ember_test.h"

/* Internal functions are hidden in libember.so. A libember built for
 * extensions compiled later against it (CMake EMBER_EXPORT_INTERNAL, the GPU
 * bundle) exports them instead, since the extension calls many (ir_, ty_,
 * host_ ...). The extension is compiled with the same definition, or the
 * linker rejects its references to hidden symbols it cannot find in itself. */
#ifdef EMBER_EXPORT_INTERNAL
#define EM_HIDDEN __attribute__((visibility("default")))
#else
#define EM_HIDDEN __attribute__((visibility("hidden")))
#endif
#define EM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define EM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Internal invariant: a failure is a bug in ember, never bad user input.
 * Misuse of the public API returns EMBER_ERR_INVALID_ARG instead. */
#define EM_ASSERT(cond)                                                               \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "ember: internal error: %s (%s:%d)\n", #cond, __FILE__,   \
                    __LINE__);                                                        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* ---- status.c ---------------------------------------------------------- */

/* Records a formatted message as this thread's last error and returns
 * `status`, so that callers write `return em_error(EMBER_ERR_..., "...")`. */
EM_HIDDEN ember_status em_error(ember_status status, const char *fmt, ...) EM_PRINTF(2, 3);

/* Same, and records the CUDA driver's error code and name with it. */
EM_HIDDEN ember_status em_driver_error(int code, const char *code_name, const char *fmt, ...)
    EM_PRINTF(3, 4);

/* Prefixes the current last-error message with more context ("copy: ..."). */
EM_HIDDEN ember_status em_error_prefix(ember_status status, const char *fmt, ...) EM_PRINTF(2, 3);

/* The kernel launched last in this process (any thread, any device): an
 * error a kernel leaves behind (an illegal address) surfaces at a later
 * call, and its message names this kernel. NULL before any launch. */
EM_HIDDEN void em_note_kernel_launch(const char *name);
EM_HIDDEN void em_last_kernel_launch(char *buf, size_t cap); /* "" before any */

/* ---- alloc.c ----------------------------------------------------------- */

/* The host allocator. Every allocation ember makes goes through these so a
 * test can make the Nth one fail (EMBER_FAULT_ALLOC). They record an
 * EMBER_ERR_OUT_OF_MEMORY message when they return NULL. */
EM_HIDDEN void *em_malloc(size_t size);
EM_HIDDEN void *em_calloc(size_t count, size_t size);
EM_HIDDEN void em_free(void *ptr);
/* `align` is a power of two >= sizeof(void *); free with em_aligned_free. */
EM_HIDDEN void *em_aligned_alloc(size_t align, size_t size);
EM_HIDDEN void em_aligned_free(void *ptr);
EM_HIDDEN char *em_strdup(const char *s);

/* ---- fault.c ----------------------------------------------------------- */

/* Counts one call at `site`; true when that call must fail. */
EM_HIDDEN bool fault_hit(ember_fault_site site);

/* ---- fork.c ------------------------------------------------------------ */

/* The fork gate: fork() waits until no thread is inside it, so a forked
 * child inherits ember's structures whole and its mutexes unlocked. Every
 * ember mutex is taken with em_mutex_lock / em_mutex_unlock (inside the
 * gate); a section using a library's global state (LLVM, libNVVM) is
 * bracketed by em_fork_enter / em_fork_leave. Nestable; a section inside
 * must not wait for Python's GIL or anything else a forking thread holds. */
EM_HIDDEN void em_fork_enter(void);
EM_HIDDEN void em_fork_leave(void);
EM_HIDDEN void em_mutex_lock(pthread_mutex_t *m);
EM_HIDDEN void em_mutex_unlock(pthread_mutex_t *m);
/* Runs fn in a forked child, after the gate is rebuilt there: for state
 * that cannot wait for the gate (the worker pools). Registering the same
 * fn twice registers it once. */
EM_HIDDEN void em_fork_on_child(void (*fn)(void));

/* ---- util.c ------------------------------------------------------------ */

/* Appends formatted text to buf (NUL-terminated, truncating safely). */
EM_HIDDEN void em_strappend(char *buf, size_t cap, const char *fmt, ...) EM_PRINTF(3, 4);
/* Monotonic clock in nanoseconds. */
EM_HIDDEN uint64_t em_now_ns(void);

#endif /* EMBER_CORE_H */
