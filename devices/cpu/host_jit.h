/*
 * host_jit.h — compiling typed IR for the host and launching it on the cpu
 * device's worker pool.
 *
 * core/lower.c with lower_host.c's target turns a typed Function (core/ir.h)
 * into an LLVM 14 module
 * whose entry runs a range of blocks, each as a loop over its threads
 * (structured so LLVM can vectorise the thread loop); jit.c compiles it with
 * ORC LLJIT for the host CPU (LLVMGetHostCPUName/Features, O2/O3) and
 * launch_host.c distributes the grid's blocks over the pool.
 *
 * Entry signature of the generated code:
 *   void <name>(const char *args, HostDims *dims, int64_t first_block,
 *               int64_t last_block)
 * `args` is packed as core/ir.h "Argument ABI" describes.
 *
 * An ember.jit function (Function.is_kernel false) has no grid; its entry
 *   void <name>(const char *args, char *ret, HostDims *dims)
 * runs the body once on the calling thread and packs the return value into
 * `ret` with the same ABI (abi_size(return type) bytes), then a byte at
 * HOST_RET_NONE_AT(that size): 1 when the call returned None (a bare
 * `return` or the end of the body beside returns of a value: numba's
 * optional). Only dims->fault* is used (bounds checks, recursion depth).
 */
#ifndef EMBER_HOST_JIT_H
#define EMBER_HOST_JIT_H

#include "core/ir.h"

/* The offset of the None flag in an ember.jit call's `ret`, after a value of
 * `size` bytes; a `ret` holds HOST_RET_NONE_AT(size) + 8 bytes. */
/* The message of a launch that a `raise` ended (EMBER_ERR_KERNEL_FAULT):
 * the site number, threadIdx x, y, z and blockIdx x, y, z. */
#define HOST_RAISE_FORMAT "raise in a kernel: site %d thread %d %d %d block %d %d %d"
#define HOST_RET_NONE_AT(size) ((((size) + 7) / 8) * 8)

/* The allocations of one call of an ember.jit function (host_arrays.c);
 * all zero before the call. */
typedef struct HostBlock HostBlock;
typedef struct HostArena {
    HostBlock *head;       /* live blocks, newest first */
    int64_t bytes, blocks; /* their total data size and number */
    int64_t collect_bytes, collect_blocks; /* both after the last collection */
} HostArena;

typedef struct HostDims {
    int64_t grid[3];  /* blocks per axis (x, y, z) */
    int64_t block[3]; /* threads per block per axis */
    int32_t fault;    /* set (atomically) by the kernel: KERNEL_FAULT_* */
    int32_t fault_site; /* KERNEL_FAULT_INDEX: which check failed (host_kernel_site) */
    int32_t fault_where[6]; /* KERNEL_FAULT_INDEX, _DIVERGENT: threadIdx x, y, z and
                             * blockIdx x, y, z */
    int64_t dynamic_shared; /* bytes of dynamic shared memory per block (the launch's
                             * sharedmem) */
    int64_t fault_bytes;    /* KERNEL_FAULT_NO_MEMORY: the size that failed */
    HostArena arena;        /* ember.jit functions: the arrays the call created */
} HostDims;

/* Byte offset of HostDims.dynamic_shared, which the generated code reads. */
#define HOST_DIMS_DYNAMIC_SHARED_OFFSET 80


typedef void (*host_entry_fn)(const char *args, HostDims *dims, int64_t first_block,
                              int64_t last_block);

typedef void (*host_function_fn)(const char *args, char *ret, HostDims *dims);

typedef struct HostKernel HostKernel;

/* ---- lower_host.c: the host target of core/lower.h's lower_module ---- */
EM_HIDDEN extern const struct LowerTarget lower_host_target;

/* ---- jit.c (lower_module, of core/lower.c, is in core/lower.h: it needs
 * the LLVM headers) ------------------------------------------------------- */

/* Lowers and compiles `fn` (already typed by infer_function). opt_level
 * 0..3. Caller owns *out. Errors (unsupported construct at a location) go
 * through ir_error on fn. */
EM_HIDDEN ember_status host_compile(Function *fn, int opt_level, HostKernel **out);
EM_HIDDEN void host_kernel_destroy(HostKernel *k);
/* A kernel (is_kernel) or ember.jit function from the object file of an
 * earlier host_compile (host_kernel_object, possibly of another process on
 * the same CPU) whose entry is `symbol`; `ir` and `sites` are kept for
 * host_kernel_llvm_ir / host_kernel_site. All arguments borrowed (copied);
 * caller owns *out. An object LLVM cannot link is EMBER_ERR_INTERNAL. */
EM_HIDDEN ember_status host_load(bool is_kernel, const void *object, size_t size,
                                 const char *symbol, const char *ir, const char *const *sites,
                                 int nsites, HostKernel **out);
/* The object file the kernel runs (owned by it; *size its bytes), NULL when
 * it is tied to this process (raw addresses in the code: not cacheable). */
EM_HIDDEN const void *host_kernel_object(const HostKernel *k, size_t *size);
/* The entry's symbol in that object (owned by the kernel). */
EM_HIDDEN const char *host_kernel_symbol(const HostKernel *k);
EM_HIDDEN int host_kernel_nsites(const HostKernel *k);
/* "triple cpu features LLVM x.y.z": what the host's machine code depends
 * on (the disk cache's key). Caller frees it (em_free); NULL when out of
 * memory. */
EM_HIDDEN char *host_target_description(void);
/* The name under which compiled code calls ember's runtime function at
 * `addr` (np.random's), NULL for any other address (devices/cpu/lower_jit.c). */
EM_HIDDEN const char *host_symbol_name(const void *addr);
/* Textual LLVM IR of the module (owned by the kernel). */
EM_HIDDEN const char *host_kernel_llvm_ir(const HostKernel *k);
EM_HIDDEN host_entry_fn host_kernel_entry(const HostKernel *k);
/* Whether the kernel calls grid.sync() (host_grid_sync): it is launched
 * with every block as a fiber (grid_sync.c). */
EM_HIDDEN bool host_kernel_grid_sync(const HostKernel *k);
/* "file:line:col" of bounds check number `site` (Function.boundscheck), or
 * "?" when there is no such check. Owned by the kernel. */
EM_HIDDEN const char *host_kernel_site(const HostKernel *k, int site);

/* Calls a compiled ember.jit function (not a kernel) on this thread: `args`
 * packed per the ABI, `ret` at least HOST_RET_NONE_AT(abi_size(return
 * type)) + 8 bytes (8-byte aligned), `dims` zeroed by the caller; a fault is left in dims->fault.
 * All borrowed. EMBER_ERR_INVALID_ARG when `k` is a kernel. */
EM_HIDDEN ember_status host_kernel_call(const HostKernel *k, const char *args, char *ret,
                                        HostDims *dims);

/* ---- random.c: np.random in ember.jit functions, one generator per thread
 * (NumPy's legacy MT19937 stream); the compiled code calls them by address,
 * passing the calling thread's generator, host_random_state() (seeded) */
EM_HIDDEN void *host_random_state(void);
/* The generator's layout that devices/cpu/lower_jit.c reads to draw inline: 624 state
 * words (uint32) at offset 0, the index of the next one (int32) here. */
#define HOST_RNG_WORDS 624
#define HOST_RNG_POS_OFFSET 2496
/* The argument checks of NumPy's RandomState that the compiled code makes
 * before a draw (KERNEL_FAULT_RANDOM_ARG, the check in fault_bytes); the
 * caller raises with NumPy's type and message. */
#define HOST_RANDOM_BAD_SEED 1    /* ValueError: Seed must be between 0 and 2**32 - 1 */
#define HOST_RANDOM_BAD_RANGE 2   /* randint, low != 0: ValueError: low >= high */
#define HOST_RANDOM_BAD_SCALE 3   /* normal: ValueError: scale < 0 (also -0.0; NaN passes) */
#define HOST_RANDOM_BAD_UNIFORM 4 /* uniform: OverflowError: Range exceeds valid bounds
                                   * (high - low not finite) */
#define HOST_RANDOM_BAD_HIGH 5    /* randint, low == 0: ValueError: high <= 0 */
EM_HIDDEN void host_random_seed(void *state, int64_t seed);
EM_HIDDEN double host_random_random(void *state);
EM_HIDDEN double host_random_uniform(void *state, double low, double high);
EM_HIDDEN double host_random_normal(void *state, double loc, double scale);
EM_HIDDEN int64_t host_random_randint(void *state, int64_t low, int64_t high);

/* ---- sort.c: np.sort / a.sort() / np.argsort of one row of n elements of
 * type `kind` (a TypeKind: bool, integers, float32/64) at byte `stride`:
 * sorted in place (NaNs last), or, with idx (n int64s), its stable argsort
 * written there. 0, or -1 when out of memory or for another kind. */
EM_HIDDEN int32_t host_sort(void *row, int64_t n, int64_t stride, int32_t kind, int64_t *idx);

/* ---- blas.c: C (m x n, C order) = A (m x k) B (k x n) of float32/64
 * (`kind` a TypeKind) through the machine's BLAS; operands at byte strides
 * (rows, columns). 1 when done, 0 when there is no BLAS or it cannot read
 * the operands in place (the caller's loop does the product then). */
EM_HIDDEN int32_t host_gemm(int32_t kind, int64_t m, int64_t n, int64_t k, const void *a,
                            int64_t a_rs, int64_t a_cs, const void *b, int64_t b_rs,
                            int64_t b_cs, void *c);
/* The BLAS library products go to ("libopenblas.so.0" ...), NULL if none. */
EM_HIDDEN const char *host_blas_name(void);

/* ---- prange.c: prange loops of ember.jit(parallel=True) functions. The
 * compiled code calls host_prange_run by address with its outlined loop body
 * (iterations [first, last) of 0..n-1, reduction partials written to
 * `partial`) and the function folding one chunk's partials into its
 * variables. Chunks run on the cpu device's pool; partials are combined in
 * chunk order on the calling thread. */
#define HOST_PRANGE_MAX_PARTIAL 1024 /* bytes of reduction partials per chunk */
typedef void (*host_prange_body_fn)(void *ctx, int64_t first, int64_t last, void *partial);
typedef void (*host_prange_combine_fn)(void *ctx, const void *partial);
EM_HIDDEN void host_prange_run(host_prange_body_fn body, void *ctx, int64_t n,
                               int64_t partial_bytes, host_prange_combine_fn combine);

/* ---- host_arrays.c: arrays ember.jit functions create, per call (HostDims.arena) */
/* C-ordered data for an array of `shape` (ndim extents) and `itemsize`,
 * 64-byte aligned, zeroed when `zero`, owned by dims->arena. NULL with
 * dims->fault set: KERNEL_FAULT_NEGATIVE_DIM, _TOO_BIG (the size overflows),
 * _NO_MEMORY. The compiled code calls it by address. */
EM_HIDDEN void *host_array_new(HostDims *dims, const int64_t *shape, int64_t ndim,
                               int64_t itemsize, int64_t zero);
/* At the end of a loop iteration: when the arena has grown enough since
 * the last collection, frees every block none of `roots` (data pointers,
 * NULL allowed) points into. */
EM_HIDDEN void host_arena_collect(HostDims *dims, void *const *roots, int64_t nroots);

/* float16 conversions (half.c), defined in each JIT under the compiler
 * runtime's names, as LLVM 14's x86 backend calls them */
EM_HIDDEN uint16_t host_double_to_half(double d);
EM_HIDDEN uint16_t host_float_to_half(float f);
EM_HIDDEN float host_half_to_float(uint16_t h);
/* The data start of the arena block that p points into (its end included),
 * or NULL. */
EM_HIDDEN void *host_arena_owner(const HostArena *a, const void *p);
/* Takes the block of `data` (a host_arena_owner result) out of the arena:
 * the caller owns it and frees it with host_block_free. */
EM_HIDDEN void host_arena_detach(HostArena *a, void *data);
EM_HIDDEN void host_block_free(void *data);
/* Whether p points into the block of `data` (its end included). */
EM_HIDDEN bool host_block_contains(void *data, const void *p);
/* Frees every block left in the arena and zeroes it. */
EM_HIDDEN void host_arena_release(HostArena *a);

/* The most shared memory a block may have on the cpu device: the opt-in
 * limit of compute capability 9.0, which the cpu device stands in for. */
#define HOST_OPTIN_SHARED_BYTES (227 * 1024)

/* Runs the kernel over the grid on `cpu`'s worker pool; returns when done.
 * `args` is packed per the ABI and borrowed for the call. */
EM_HIDDEN ember_status host_launch(const HostKernel *k, struct ember_device *cpu,
                                   const int64_t grid[3], const int64_t block[3],
                                   const char *args);
/* host_launch with `shared` bytes of dynamic shared memory per block (the
 * launch's sharedmem: what cuda.shared.array(0, dtype) sees). */
EM_HIDDEN ember_status host_launch_shared(const HostKernel *k, struct ember_device *cpu,
                                          const int64_t grid[3], const int64_t block[3],
                                          size_t shared, const char *args);
/* What an interruptible launch asks, on the launching thread, about every
 * 20 ms: stop(ctx) returning true stops it (launch_host.c). */
struct pool;

typedef struct HostInterrupt {
    bool (*stop)(void *ctx);
    void *ctx;
} HostInterrupt;

/* ---- grid_sync.c: kernels that call grid.sync() ---------------------- */
/* The compiled code's grid.sync(), once per block (its threads have all
 * arrived): the block's fiber waits for the next phase. */
EM_HIDDEN void host_grid_sync(HostDims *dims);
/* Runs blocks [0, nblocks) of `entry`, each as a fiber, in phases that end
 * at grid.sync() (see grid_sync.c); stop (may be NULL) is asked between
 * phases, on this thread. All borrowed. */
EM_HIDDEN ember_status host_launch_grid(host_entry_fn entry, const char *args, HostDims *dims,
                                        int64_t nblocks, struct pool *p, bool (*stop)(void *),
                                        void *stop_ctx);
/* host_launch_shared that stops between slices of blocks when `intr` says
 * so: EMBER_ERR_INTERRUPTED, the blocks that had started done, the others
 * not run. intr NULL: host_launch_shared. Borrowed. */
EM_HIDDEN ember_status host_launch_interruptible(const HostKernel *k, struct ember_device *cpu,
                                                 const int64_t grid[3], const int64_t block[3],
                                                 size_t shared, const char *args,
                                                 const HostInterrupt *intr);

/* Records a launch into the graph capture open on native cpu stream
 * `stream` instead of running it (cpu_graph.c): the configuration and a
 * copy of `args` (args_size bytes). `k` must stay alive as long as the
 * graph: on success the graph owns `keep` and calls release(keep) (may be
 * NULL) when it is destroyed; on failure the caller keeps it. */
EM_HIDDEN ember_status host_capture_launch(void *stream, const HostKernel *k,
                                           const int64_t grid[3], const int64_t block[3],
                                           size_t shared, const char *args, size_t args_size,
                                           void *keep, void (*release)(void *));

#endif /* EMBER_HOST_JIT_H */
