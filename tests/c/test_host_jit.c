/*
 * test_host_jit.c — the host JIT end to end, without Python: kernels built
 * by hand as IR, typed by infer_function, compiled by host_compile and run
 * over a grid on the cpu device's pool by host_launch. Each result is
 * compared with values computed here in C (Python's rules where they
 * differ from C's: floor division, modulo, range()).
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ember/ember_test.h"
#include "core/ir.h"
#include "devices/cpu/host_jit.h"
#include "devices/cuda/cuda_compile.h"

/* ---- IR building helpers ------------------------------------------------ */

static _Thread_local int cur_line = 1; /* per thread: test_concurrent builds from several */
static SrcLoc L(void) { return (SrcLoc){cur_line, 4}; }

static Node *mk(Function *fn, NodeKind k)
{
    Node *n = ir_node(fn, k, L());
    EM_ASSERT(n);
    return n;
}
static Node **list(Function *fn, int n, Node **items)
{
    Node **l = ir_node_list(fn, n);
    memcpy(l, items, sizeof(Node *) * (size_t)n);
    return l;
}
static Node *ci(Function *fn, int64_t v)
{
    Node *n = mk(fn, ND_CONST);
    n->ty = ty_scalar(TY_WEAK_INT);
    n->ival = v;
    return n;
}
static Node *cf(Function *fn, double v)
{
    Node *n = mk(fn, ND_CONST);
    n->ty = ty_scalar(TY_WEAK_FLOAT);
    n->fval = v;
    return n;
}
static Node *param(Function *fn, int i)
{
    Node *n = mk(fn, ND_PARAM);
    n->index = i;
    return n;
}
static Node *load(Function *fn, int v)
{
    Node *n = mk(fn, ND_LOAD);
    n->var = v;
    return n;
}
static Node *op2(Function *fn, NodeKind k, int op, Node *a, Node *b)
{
    Node *n = mk(fn, k);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}
static Node *bin(Function *fn, Op op, Node *a, Node *b) { return op2(fn, ND_BINARY, op, a, b); }
static Node *cmp(Function *fn, Op op, Node *a, Node *b) { return op2(fn, ND_COMPARE, op, a, b); }
static Node *and_(Function *fn, Node *a, Node *b) { return op2(fn, ND_AND, 0, a, b); }
static Node *assign(Function *fn, int v, Node *a)
{
    Node *n = mk(fn, ND_ASSIGN);
    n->var = v;
    n->a = a;
    return n;
}
static Node *block(Function *fn, int n, Node **stmts)
{
    Node *b = mk(fn, ND_BLOCK);
    b->args = list(fn, n, stmts);
    b->nargs = n;
    return b;
}
#define BLOCK(fn, ...) block(fn, (int)(sizeof((Node *[]){__VA_ARGS__}) / sizeof(Node *)), (Node *[]){__VA_ARGS__})
static Node *index_(Function *fn, Node *arr, int n, Node **idx)
{
    Node *x = mk(fn, ND_INDEX);
    x->a = arr;
    x->args = list(fn, n, idx);
    x->nargs = n;
    return x;
}
#define INDEX(fn, arr, ...) index_(fn, arr, (int)(sizeof((Node *[]){__VA_ARGS__}) / sizeof(Node *)), (Node *[]){__VA_ARGS__})
static Node *store_(Function *fn, Node *arr, Node *v, int n, Node **idx)
{
    Node *x = index_(fn, arr, n, idx);
    x->kind = ND_STORE;
    x->b = v;
    return x;
}
#define STORE(fn, arr, v, ...) store_(fn, arr, v, (int)(sizeof((Node *[]){__VA_ARGS__}) / sizeof(Node *)), (Node *[]){__VA_ARGS__})
static Node *if_(Function *fn, Node *c, Node *then, Node *els)
{
    Node *n = mk(fn, ND_IF);
    n->a = c;
    n->b = then;
    n->c = els;
    return n;
}
static Node *while_(Function *fn, Node *c, Node *body)
{
    Node *n = mk(fn, ND_WHILE);
    n->a = c;
    n->b = body;
    return n;
}
static Node *for_range(Function *fn, int var, Node *start, Node *stop, Node *step, Node *body)
{
    Node *n = mk(fn, ND_FOR_RANGE);
    n->var = var;
    n->args = list(fn, 3, (Node *[]){start, stop, step});
    n->nargs = 3;
    n->b = body;
    return n;
}
static Node *intrinsic(Function *fn, Intrinsic which, int arg)
{
    Node *n = mk(fn, ND_INTRINSIC);
    n->op = which;
    if (arg >= 0) {
        n->args = list(fn, 1, (Node *[]){ci(fn, arg)});
        n->nargs = 1;
    }
    return n;
}
static Node *math(Function *fn, MathFn f, int nargs, Node *a, Node *b)
{
    Node *n = mk(fn, ND_CALL_MATH);
    n->op = f;
    n->args = list(fn, nargs, (Node *[]){a, b});
    n->nargs = nargs;
    return n;
}
static Node *attr(Function *fn, Attr a, Node *x)
{
    Node *n = mk(fn, ND_ATTR);
    n->op = a;
    n->a = x;
    return n;
}
static Node *tuple_get(Function *fn, Node *t, int i)
{
    Node *n = mk(fn, ND_TUPLE_GET);
    n->a = t;
    n->index = i;
    return n;
}
static Node *simple(Function *fn, NodeKind k) { return mk(fn, k); }

static Function *kernel(const char *name, int nparams, const char *const *names, const Type **types)
{
    Function *fn = ir_function_create(name, "test.py", nparams, names, true);
    EM_ASSERT(fn);
    for (int i = 0; i < nparams; i++)
        fn->param_types[i] = types[i];
    return fn;
}

static int opt_level = 2;

/* Types, infers and compiles; prints the IR dump on failure. */
static HostKernel *compile(Function *fn)
{
    HostKernel *k = NULL;
    ember_status st = infer_function(fn);
    CHECK_OK(st);
    if (st)
        return NULL;
    st = host_compile(fn, opt_level, &k);
    CHECK_OK(st);
    if (st) {
        char *d = ir_dump(fn);
        fprintf(stderr, "%s\n", d ? d : "");
        em_free(d);
    }
    /* The same typed IR lowers for NVIDIA GPUs too (NVVM IR and bitcode;
     * libNVVM itself is tested elsewhere): here under the sanitizers. */
    CudaCode *code = NULL;
    CHECK_OK(cuda_lower(fn, 2, 0, &code));
    CHECK(code && code->bitcode_size > 0 && strstr(code->nvvm_ir, "nvptx64-nvidia-cuda"));
    cuda_code_destroy(code);
    return k;
}

/* ---- argument packing (Argument ABI, core/ir.h) ------------------------- */

typedef struct Pack {
    _Alignas(16) char buf[2048];
    size_t len;
} Pack;

static void pk_scalar(Pack *p, const void *v, size_t n)
{
    memcpy(p->buf + p->len, v, n);
    p->len += n <= 8 ? 8 : 16;
}
static void pk_i64(Pack *p, int64_t v) { pk_scalar(p, &v, 8); }
static void pk_f32(Pack *p, float v) { pk_scalar(p, &v, 4); }
static void pk_array(Pack *p, void *data, int nd, const int64_t *shape, const int64_t *strides)
{
    memcpy(p->buf + p->len, &data, 8);
    memcpy(p->buf + p->len + 8, shape, 8 * (size_t)nd);
    memcpy(p->buf + p->len + 8 + 8 * (size_t)nd, strides, 8 * (size_t)nd);
    p->len += 8 + 16 * (size_t)nd;
}
static void pk_c1(Pack *p, void *data, int64_t n, int64_t itemsize)
{
    pk_array(p, data, 1, &n, &itemsize);
}
static void pk_c2(Pack *p, void *data, int64_t rows, int64_t cols, int64_t itemsize)
{
    int64_t shape[2] = {rows, cols}, strides[2] = {cols * itemsize, itemsize};
    pk_array(p, data, 2, shape, strides);
}
/* the packed size agrees with abi_size() of the parameter types */
static void check_packed(const Function *fn, const Pack *p)
{
    size_t n = 0;
    for (int i = 0; i < fn->nparams; i++)
        n += abi_size(fn->param_types[i]);
    CHECK(n == p->len);
}

static ember_device_t cpu;

static void launch(HostKernel *k, int64_t gx, int64_t gy, int64_t bx, int64_t by, const Pack *p)
{
    const int64_t grid[3] = {gx, gy, 1}, blk[3] = {bx, by, 1};
    CHECK_OK(host_launch(k, cpu, grid, blk, p->buf));
}

/* ---- Python semantics in C, for expected values -------------------------- */

static int64_t py_floordiv(int64_t a, int64_t b)
{
    if (b == 0)
        return 0; /* ember: integer division by zero gives 0 */
    int64_t q = a / b, r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t py_mod(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static double py_fmod(double vx, double wx)
{
    double mod = fmod(vx, wx);
    if (mod) {
        if ((wx < 0) != (mod < 0))
            mod += wx;
    } else {
        mod = copysign(0.0, wx);
    }
    return mod;
}
static double py_ffloordiv(double vx, double wx)
{
    double mod = fmod(vx, wx), div = (vx - mod) / wx, fl;
    if (mod && ((wx < 0) != (mod < 0)))
        div -= 1.0;
    if (div) {
        fl = floor(div);
        if (div - fl > 0.5)
            fl += 1.0;
    } else {
        fl = copysign(0.0, vx / wx);
    }
    return fl;
}

/* ---- 1. saxpy ------------------------------------------------------------ */

static Function *build_saxpy(void)
{
    cur_line = 10;
    const Type *f32 = ty_scalar(TY_F32), *arr = ty_array(f32, 1, 'C', false);
    const Type *types[] = {f32, arr, arr, arr, ty_scalar(TY_I64)};
    const char *names[] = {"a", "x", "y", "out", "n"};
    Function *fn = kernel("saxpy", 5, names, types);
    int i = ir_add_var(fn, "i");
    /* i = cuda.grid(1)
     * if i < n: out[i] = a * x[i] + y[i] */
    fn->body = BLOCK(fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
                     if_(fn, cmp(fn, OP_LT, load(fn, i), param(fn, 4)),
                         BLOCK(fn, STORE(fn, param(fn, 3),
                                         bin(fn, OP_ADD,
                                             bin(fn, OP_MUL, param(fn, 0), INDEX(fn, param(fn, 1), load(fn, i))),
                                             INDEX(fn, param(fn, 2), load(fn, i))),
                                         load(fn, i))),
                         NULL));
    return fn;
}

/* Runs saxpy over 65,536 elements (grid 256 x 256); the number of wrong
 * elements. */
static int run_saxpy(const Function *fn, HostKernel *k)
{
    enum { N = 65536 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *out = malloc((N + 8) * sizeof *out);
    for (int j = 0; j < N; j++) {
        x[j] = (float)j * 0.25f - 100.0f;
        y[j] = (float)(j % 97) * 1.5f;
    }
    for (int j = 0; j < N + 8; j++)
        out[j] = -1.0f;
    float a = 2.5f;
    int64_t n = N - 5; /* the guard leaves the last 5 untouched */
    Pack p = {.len = 0};
    pk_f32(&p, a);
    pk_c1(&p, x, N, 4);
    pk_c1(&p, y, N, 4);
    pk_c1(&p, out, N, 4);
    pk_i64(&p, n);
    int wrong = 0;
    size_t want_len = 0;
    for (int i = 0; i < fn->nparams; i++)
        want_len += abi_size(fn->param_types[i]);
    wrong += want_len != p.len;
    const int64_t grid[3] = {256, 1, 1}, blk[3] = {256, 1, 1};
    if (host_launch(k, cpu, grid, blk, p.buf) != EMBER_SUCCESS)
        wrong++;
    for (int j = 0; j < N + 8; j++) {
        float want = -1.0f;
        if (j < n) {
            volatile float prod = a * x[j]; /* no fused multiply-add */
            want = prod + y[j];
        }
        if (out[j] != want && wrong++ < 5)
            fprintf(stderr, "saxpy: out[%d] = %g, want %g\n", j, out[j], want);
    }
    free(x);
    free(y);
    free(out);
    return wrong;
}

static void test_saxpy(int opt)
{
    opt_level = opt;
    Function *fn = build_saxpy();
    HostKernel *k = compile(fn);
    if (k) {
        const char *ir = host_kernel_llvm_ir(k);
        CHECK(ir && strstr(ir, "define") && strstr(ir, "ember_saxpy_"));
        if (getenv("EMBER_TEST_DUMP_IR")) /* debugging aid */
            fprintf(stderr, "%s\n", ir);
        CHECK(run_saxpy(fn, k) == 0);
    }
    host_kernel_destroy(k);
    ir_function_destroy(fn);
    opt_level = 2;
}

/* Kernels compile and run from several threads at once. */
static void *saxpy_thread(void *arg)
{
    Function *fn = build_saxpy();
    HostKernel *k = NULL;
    int bad = 1;
    if (infer_function(fn) == EMBER_SUCCESS && host_compile(fn, 2, &k) == EMBER_SUCCESS)
        bad = run_saxpy(fn, k);
    host_kernel_destroy(k);
    ir_function_destroy(fn);
    *(int *)arg = bad;
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t t[4];
    int bad[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, saxpy_thread, &bad[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(bad[i] == 0);
    }
}

/* fork() while other threads compile and launch: the child compiles
 * (LLVM's state and ember's locks are whole there: the fork gate waited for
 * the compiles under way) and launches on the pool (started again). */
static int fork_stop;

static void *compile_loop(void *arg)
{
    int *bad = arg;
    while (!__atomic_load_n(&fork_stop, __ATOMIC_ACQUIRE)) {
        int b = 0;
        saxpy_thread(&b);
        *bad += b;
    }
    return NULL;
}

static void test_fork_while_compiling(void)
{
    pthread_t t[2];
    int bad[2] = {0, 0}, hung = 0, failed = 0;
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, compile_loop, &bad[i]) == 0);
    for (int round = 0; round < 8; round++) {
        struct timespec pause = {0, (5 + 7 * round) * 1000000L};
        nanosleep(&pause, NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int b = 1;
            saxpy_thread(&b);
            _exit(b == 0 ? 0 : 1);
        }
        int status = -1, done = 0;
        for (int ms = 0; ms < 30000 && !done; ms++) {
            done = waitpid(pid, &status, WNOHANG) == pid;
            if (!done) {
                struct timespec ms1 = {0, 1000000L};
                nanosleep(&ms1, NULL);
            }
        }
        if (!done) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            hung++;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
        }
    }
    __atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(hung == 0 && failed == 0 && bad[0] == 0 && bad[1] == 0);
}

/* Out of memory at each of ember's allocations in host_compile: a clean
 * status every time, nothing leaked (ASan), and then it works. */
static void test_fault_loop(void)
{
    Function *fn = build_saxpy();
    CHECK_OK(infer_function(fn));
    int failures = 0;
    for (long n = 1; n < 1000; n++) {
        HostKernel *k = (HostKernel *)1;
        ember_fault_fail_at(EMBER_FAULT_ALLOC, n);
        ember_status st = host_compile(fn, 1, &k);
        bool fired = ember_fault_fired(EMBER_FAULT_ALLOC);
        ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(k && run_saxpy(fn, k) == 0);
            host_kernel_destroy(k);
            break;
        }
        failures++;
        CHECK(st == EMBER_ERR_OUT_OF_MEMORY && k == NULL);
    }
    CHECK(failures >= 3);
    ir_function_destroy(fn);
}

/* ---- 1b. object code reloaded (the disk cache's path): host_load links the
 * object file host_compile kept, as another process would; it runs the
 * same; damaged bytes are an error; out of memory at each allocation is a
 * clean status. ------------------------------------------------------------ */
static void test_reload(void)
{
    Function *fn = build_saxpy();
    HostKernel *k = compile(fn);
    size_t size = 0;
    const void *obj = host_kernel_object(k, &size);
    CHECK(obj && size > 64 && host_kernel_symbol(k));
    if (!obj) {
        host_kernel_destroy(k);
        ir_function_destroy(fn);
        return;
    }
    /* a copy, and the original kernel gone: nothing of it is borrowed */
    void *copy = em_malloc(size);
    memcpy(copy, obj, size);
    char symbol[96];
    snprintf(symbol, sizeof symbol, "%s", host_kernel_symbol(k));
    const char *sites[] = {"test.py:1:2"};
    host_kernel_destroy(k);
    HostKernel *r = NULL;
    CHECK_OK(host_load(true, copy, size, symbol, "; ir", sites, 1, &r));
    CHECK(r && run_saxpy(fn, r) == 0);
    CHECK(r && strcmp(host_kernel_llvm_ir(r), "; ir") == 0 &&
          strcmp(host_kernel_site(r, 0), "test.py:1:2") == 0 && host_kernel_nsites(r) == 1);
    host_kernel_destroy(r);
    /* a wrong symbol, and bytes that are no object file */
    r = (HostKernel *)1;
    CHECK_STATUS(host_load(true, copy, size, "no_such_entry", "", NULL, 0, &r),
                 EMBER_ERR_INTERNAL);
    CHECK(r == NULL);
    char junk[256];
    memset(junk, 0x5a, sizeof junk);
    CHECK_STATUS(host_load(true, junk, sizeof junk, symbol, "", NULL, 0, &r),
                 EMBER_ERR_INTERNAL);
    CHECK_STATUS(host_load(true, NULL, 0, symbol, "", NULL, 0, &r), EMBER_ERR_INVALID_ARG);
    int failures = 0;
    for (long n = 1; n < 100; n++) {
        r = (HostKernel *)1;
        ember_fault_fail_at(EMBER_FAULT_ALLOC, n);
        ember_status st = host_load(true, copy, size, symbol, "", sites, 1, &r);
        bool fired = ember_fault_fired(EMBER_FAULT_ALLOC);
        ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
        if (!fired) {
            CHECK_OK(st);
            CHECK(r && run_saxpy(fn, r) == 0);
            host_kernel_destroy(r);
            break;
        }
        failures++;
        CHECK(st == EMBER_ERR_OUT_OF_MEMORY && r == NULL);
    }
    CHECK(failures >= 3);
    em_free(copy);
    ir_function_destroy(fn);
}

/* ---- 2. loops, floor division and modulo on a 2-D grid -------------------- */

static void test_loops_2d(void)
{
    cur_line = 20;
    const Type *i64 = ty_scalar(TY_I64), *f64 = ty_scalar(TY_F64);
    const Type *ai = ty_array(i64, 2, 'C', false), *af = ty_array(f64, 2, 'C', false);
    const Type *types[] = {ai, ai, ai, af, af, i64, i64};
    const char *names[] = {"out", "fd", "md", "ffd", "fmd", "step", "nstep"};
    Function *fn = kernel("loops2d", 7, names, types);
    int g = ir_add_var(fn, "g"), x = ir_add_var(fn, "x"), y = ir_add_var(fn, "y");
    int s = ir_add_var(fn, "s"), k = ir_add_var(fn, "k"), w = ir_add_var(fn, "w");
    int fa = ir_add_var(fn, "fa"), fb = ir_add_var(fn, "fb");
#define P(i) param(fn, i)
#define V(v) load(fn, v)
    Node *body = BLOCK(
        fn,
        /* s = 0 */
        assign(fn, s, ci(fn, 0)),
        /* for k in range(y, -1, -2): s += k */
        for_range(fn, k, V(y), ci(fn, -1), ci(fn, -2), BLOCK(fn, assign(fn, s, bin(fn, OP_ADD, V(s), V(k))))),
        /* for k in range(0, x, step): s += k * 2 */
        for_range(fn, k, ci(fn, 0), V(x), P(5),
                  BLOCK(fn, assign(fn, s, bin(fn, OP_ADD, V(s), bin(fn, OP_MUL, V(k), ci(fn, 2)))))),
        /* for k in range(x, -5, nstep): s += k * 1000 */
        for_range(fn, k, V(x), ci(fn, -5), P(6),
                  BLOCK(fn, assign(fn, s, bin(fn, OP_ADD, V(s), bin(fn, OP_MUL, V(k), ci(fn, 1000)))))),
        /* w = 0
         * while w < 100:
         *     w += 1
         *     if w % 7 == 0: continue
         *     if w > x + 10: break
         *     s += 100000 */
        assign(fn, w, ci(fn, 0)),
        while_(fn, cmp(fn, OP_LT, V(w), ci(fn, 100)),
               BLOCK(fn, assign(fn, w, bin(fn, OP_ADD, V(w), ci(fn, 1))),
                     if_(fn, cmp(fn, OP_EQ, bin(fn, OP_MOD, V(w), ci(fn, 7)), ci(fn, 0)),
                         BLOCK(fn, simple(fn, ND_CONTINUE)), NULL),
                     if_(fn, cmp(fn, OP_GT, V(w), bin(fn, OP_ADD, V(x), ci(fn, 10))),
                         BLOCK(fn, simple(fn, ND_BREAK)), NULL),
                     assign(fn, s, bin(fn, OP_ADD, V(s), ci(fn, 100000))))),
        STORE(fn, P(0), V(s), V(y), V(x)),
        /* fd[y, x] = (y - 5) // (x - 3); md[y, x] = (y - 5) % (x - 3) */
        STORE(fn, P(1), bin(fn, OP_FLOORDIV, bin(fn, OP_SUB, V(y), ci(fn, 5)), bin(fn, OP_SUB, V(x), ci(fn, 3))),
              V(y), V(x)),
        STORE(fn, P(2), bin(fn, OP_MOD, bin(fn, OP_SUB, V(y), ci(fn, 5)), bin(fn, OP_SUB, V(x), ci(fn, 3))),
              V(y), V(x)),
        /* fa = y * 0.75 - 6.5; fb = x - 3.25 */
        assign(fn, fa, bin(fn, OP_SUB, bin(fn, OP_MUL, V(y), cf(fn, 0.75)), cf(fn, 6.5))),
        assign(fn, fb, bin(fn, OP_SUB, V(x), cf(fn, 3.25))),
        STORE(fn, P(3), bin(fn, OP_FLOORDIV, V(fa), V(fb)), V(y), V(x)),
        STORE(fn, P(4), bin(fn, OP_MOD, V(fa), V(fb)), V(y), V(x)));
    /* g = cuda.grid(2); x = g[0]; y = g[1]
     * if y < out.shape[0] and x < out.shape[1]: body */
    fn->body = BLOCK(fn, assign(fn, g, intrinsic(fn, INTR_GRID, 2)),
                     assign(fn, x, tuple_get(fn, V(g), 0)), assign(fn, y, tuple_get(fn, V(g), 1)),
                     if_(fn,
                         and_(fn, cmp(fn, OP_LT, V(y), tuple_get(fn, attr(fn, ATTR_SHAPE, P(0)), 0)),
                              cmp(fn, OP_LT, V(x), tuple_get(fn, attr(fn, ATTR_SHAPE, P(0)), 1))),
                         body, NULL));
#undef P
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        enum { R = 37, C = 29 };
        int64_t *out = calloc(R * C, 8), *fd = calloc(R * C, 8), *md = calloc(R * C, 8);
        double *ffd = calloc(R * C, 8), *fmd = calloc(R * C, 8);
        int64_t step = 3, nstep = -3;
        Pack p = {.len = 0};
        pk_c2(&p, out, R, C, 8);
        pk_c2(&p, fd, R, C, 8);
        pk_c2(&p, md, R, C, 8);
        pk_c2(&p, ffd, R, C, 8);
        pk_c2(&p, fmd, R, C, 8);
        pk_i64(&p, step);
        pk_i64(&p, nstep);
        check_packed(fn, &p);
        launch(hk, (C + 7) / 8, (R + 3) / 4, 8, 4, &p);
        int wrong = 0;
        for (int64_t yy = 0; yy < R; yy++)
            for (int64_t xx = 0; xx < C; xx++) {
                int64_t want = 0;
                for (int64_t kk = yy; kk > -1; kk -= 2)
                    want += kk;
                for (int64_t kk = 0; kk < xx; kk += step)
                    want += kk * 2;
                for (int64_t kk = xx; kk > -5; kk += nstep)
                    want += kk * 1000;
                for (int64_t ww = 0; ww < 100;) {
                    ww++;
                    if (ww % 7 == 0)
                        continue;
                    if (ww > xx + 10)
                        break;
                    want += 100000;
                }
                int64_t at = yy * C + xx;
                double va = (double)yy * 0.75 - 6.5, vb = (double)xx - 3.25;
                bool ok = out[at] == want && fd[at] == py_floordiv(yy - 5, xx - 3) &&
                          md[at] == py_mod(yy - 5, xx - 3) && ffd[at] == py_ffloordiv(va, vb) &&
                          fmd[at] == py_fmod(va, vb) && signbit(fmd[at]) == signbit(py_fmod(va, vb));
                if (!ok && wrong++ < 5)
                    fprintf(stderr,
                            "loops2d[%lld,%lld]: s=%lld (want %lld) fd=%lld (%lld) md=%lld (%lld) "
                            "ffd=%g (%g) fmd=%g (%g)\n",
                            (long long)yy, (long long)xx, (long long)out[at], (long long)want,
                            (long long)fd[at], (long long)py_floordiv(yy - 5, xx - 3),
                            (long long)md[at], (long long)py_mod(yy - 5, xx - 3), ffd[at],
                            py_ffloordiv(va, vb), fmd[at], py_fmod(va, vb));
            }
        CHECK(wrong == 0);
        /* a few fixed Python values, to check the C reference itself */
        CHECK(py_floordiv(-7, 2) == -4 && py_mod(-7, 2) == 1 && py_mod(7, -2) == -1);
        CHECK(py_ffloordiv(-7.5, 2.0) == -4.0 && py_fmod(-7.5, 2.0) == 0.5 && py_fmod(7.5, -2.0) == -0.5);
        free(out);
        free(fd);
        free(md);
        free(ffd);
        free(fmd);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* ---- 3. math on float32 and float64 ---------------------------------------- */

static bool close_to(double got, double want, double rel)
{
    if (isnan(want))
        return isnan(got);
    return fabs(got - want) <= rel * fmax(1.0, fabs(want));
}

static void test_math(TypeKind fk)
{
    cur_line = 30;
    const Type *ft = ty_scalar(fk), *arr = ty_array(ft, 2, 'C', false), *vec = ty_array(ft, 1, 'C', false);
    const Type *types[] = {vec, arr};
    const char *names[] = {"x", "out"};
    Function *fn = kernel(fk == TY_F32 ? "math32" : "math64", 2, names, types);
    int i = ir_add_var(fn, "i"), v = ir_add_var(fn, "v");
#define V(x) load(fn, x)
    /* i = cuda.grid(1)
     * if i < len(x):
     *     v = x[i]
     *     out[0, i] = math.sin(v); out[1, i] = math.exp(v); out[2, i] = math.sqrt(v)
     *     out[3, i] = math.pow(v, 1.5); out[4, i] = v ** 2.5; out[5, i] = math.floor(v) */
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        if_(fn, cmp(fn, OP_LT, V(i), attr(fn, ATTR_LEN, param(fn, 0))),
            BLOCK(fn, assign(fn, v, INDEX(fn, param(fn, 0), V(i))),
                  STORE(fn, param(fn, 1), math(fn, MATH_SIN, 1, V(v), NULL), ci(fn, 0), V(i)),
                  STORE(fn, param(fn, 1), math(fn, MATH_EXP, 1, V(v), NULL), ci(fn, 1), V(i)),
                  STORE(fn, param(fn, 1), math(fn, MATH_SQRT, 1, V(v), NULL), ci(fn, 2), V(i)),
                  STORE(fn, param(fn, 1), math(fn, MATH_POW, 2, V(v), cf(fn, 1.5)), ci(fn, 3), V(i)),
                  STORE(fn, param(fn, 1), bin(fn, OP_POW, V(v), cf(fn, 2.5)), ci(fn, 4), V(i)),
                  STORE(fn, param(fn, 1), math(fn, MATH_FLOOR, 1, V(v), NULL), ci(fn, 5), V(i))),
            NULL));
#undef V
    HostKernel *k = compile(fn);
    /* NEP 50: float32 with a float literal stays float32 */
    CHECK(fn->body->args[1]->b->args[1]->b->ty == ft);
    if (k) {
        enum { N = 1000, ROWS = 6 };
        size_t es = fk == TY_F32 ? 4 : 8;
        char *x = malloc(N * es), *out = calloc(ROWS * N, es);
        for (int j = 0; j < N; j++) {
            double val = j * 0.013 - 1.0; /* negatives: sqrt and pow give nan */
            if (fk == TY_F32)
                ((float *)x)[j] = (float)val;
            else
                ((double *)x)[j] = val;
        }
        Pack p = {.len = 0};
        pk_c1(&p, x, N, (int64_t)es);
        pk_c2(&p, out, ROWS, N, (int64_t)es);
        check_packed(fn, &p);
        launch(k, 8, 1, 128, 1, &p);
        int wrong = 0;
        double rel = fk == TY_F32 ? 2e-6 : 1e-14;
        for (int j = 0; j < N; j++) {
            double want[ROWS], got[ROWS];
            if (fk == TY_F32) {
                float xv = ((float *)x)[j];
                want[0] = sinf(xv), want[1] = expf(xv), want[2] = sqrtf(xv);
                want[3] = powf(xv, 1.5f), want[4] = powf(xv, 2.5f), want[5] = floorf(xv);
                for (int r = 0; r < ROWS; r++)
                    got[r] = ((float *)out)[r * N + j];
            } else {
                double xv = ((double *)x)[j];
                want[0] = sin(xv), want[1] = exp(xv), want[2] = sqrt(xv);
                want[3] = pow(xv, 1.5), want[4] = pow(xv, 2.5), want[5] = floor(xv);
                for (int r = 0; r < ROWS; r++)
                    got[r] = ((double *)out)[r * N + j];
            }
            for (int r = 0; r < ROWS; r++)
                if (!close_to(got[r], want[r], rel) && wrong++ < 5)
                    fprintf(stderr, "%s: row %d x[%d]: %.9g, want %.9g\n", fn->name, r, j, got[r], want[r]);
        }
        CHECK(wrong == 0);
        free(x);
        free(out);
    }
    host_kernel_destroy(k);
    ir_function_destroy(fn);
}

/* ---- 4. strided views, negative strides and negative indices -------------- */

static void test_strided(void)
{
    cur_line = 40;
    const Type *f64 = ty_scalar(TY_F64);
    const Type *a1 = ty_array(f64, 1, 'A', false), *a2 = ty_array(f64, 2, 'A', false);
    const Type *types[] = {a1, a2, a1};
    const char *names[] = {"x", "m", "out"};
    Function *fn = kernel("strided", 3, names, types);
    int i = ir_add_var(fn, "i"), j = ir_add_var(fn, "j"), acc = ir_add_var(fn, "acc");
#define V(x) load(fn, x)
    /* i = cuda.grid(1)
     * if i < len(m):
     *     acc = 0.0
     *     for j in range(m.shape[1]): acc += m[i, j]
     *     out[i] = x[i] * 2 + x[-1] + acc + m[-1, -1] * 1000 */
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        if_(fn, cmp(fn, OP_LT, V(i), attr(fn, ATTR_LEN, param(fn, 1))),
            BLOCK(fn, assign(fn, acc, cf(fn, 0.0)),
                  for_range(fn, j, ci(fn, 0), tuple_get(fn, attr(fn, ATTR_SHAPE, param(fn, 1)), 1), ci(fn, 1),
                            BLOCK(fn, assign(fn, acc, bin(fn, OP_ADD, V(acc), INDEX(fn, param(fn, 1), V(i), V(j)))))),
                  STORE(fn, param(fn, 2),
                        bin(fn, OP_ADD,
                            bin(fn, OP_ADD,
                                bin(fn, OP_ADD, bin(fn, OP_MUL, INDEX(fn, param(fn, 0), V(i)), ci(fn, 2)),
                                    INDEX(fn, param(fn, 0), ci(fn, -1))),
                                V(acc)),
                            bin(fn, OP_MUL, INDEX(fn, param(fn, 1), ci(fn, -1), ci(fn, -1)), ci(fn, 1000))),
                        V(i))),
            NULL));
#undef V
    HostKernel *k = compile(fn);
    if (k) {
        enum { NB = 64, R = 10, C = 6 };
        double base[NB], mat[R * C], out[NB / 2];
        for (int t = 0; t < NB; t++)
            base[t] = t * 1.5 + 0.25;
        for (int t = 0; t < R * C; t++)
            mat[t] = t * 0.5;
        /* x = base[::-2]: 32 items, starting at the last, stride -16 bytes */
        int64_t xn = NB / 2, xs = -16;
        /* m = mat[::-1, ::2]: rows reversed, every other column: 10 x 3 */
        int64_t mshape[2] = {R, C / 2}, mstrides[2] = {-(int64_t)C * 8, 16};
        Pack p = {.len = 0};
        pk_array(&p, &base[NB - 1], 1, &xn, &xs);
        pk_array(&p, &mat[(R - 1) * C], 2, mshape, mstrides);
        int64_t on = R, os = 8; /* out: the first R items */
        pk_array(&p, out, 1, &on, &os);
        check_packed(fn, &p);
        for (int t = 0; t < NB / 2; t++)
            out[t] = -7.0;
        launch(k, 1, 1, 32, 1, &p); /* threads R .. 31 write nothing */
        int wrong = 0;
        double xlast = base[NB - 1 - 2 * (xn - 1)];
        double mlast = mat[0 * C + 2 * (C / 2 - 1)];
        for (int t = 0; t < R; t++) {
            double acc_want = 0.0;
            for (int c = 0; c < C / 2; c++)
                acc_want += mat[(R - 1 - t) * C + 2 * c];
            volatile double want = base[NB - 1 - 2 * t] * 2;
            want = want + xlast;
            want = want + acc_want;
            want = want + mlast * 1000;
            if (out[t] != want && wrong++ < 5)
                fprintf(stderr, "strided: out[%d] = %g, want %g\n", t, out[t], (double)want);
        }
        for (int t = R; t < NB / 2; t++)
            wrong += out[t] != -7.0;
        CHECK(wrong == 0);
    }
    host_kernel_destroy(k);
    ir_function_destroy(fn);
}

/* ---- 5. early return ends only the current thread ------------------------- */

static void test_early_return(void)
{
    cur_line = 50;
    const Type *i32 = ty_scalar(TY_I32), *arr = ty_array(i32, 1, 'C', false);
    const Type *types[] = {arr, ty_scalar(TY_I64)};
    const char *names[] = {"out", "n"};
    Function *fn = kernel("early", 2, names, types);
    int i = ir_add_var(fn, "i"), k = ir_add_var(fn, "k");
#define V(x) load(fn, x)
    /* i = cuda.grid(1)
     * if i >= n: return
     * if i % 3 == 0: return
     * out[i] = threadIdx.x + 1
     * for k in range(10):
     *     if k == i % 5: return
     *     out[i] += 1000 */
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        if_(fn, cmp(fn, OP_GE, V(i), param(fn, 1)), BLOCK(fn, simple(fn, ND_RETURN)), NULL),
        if_(fn, cmp(fn, OP_EQ, bin(fn, OP_MOD, V(i), ci(fn, 3)), ci(fn, 0)), BLOCK(fn, simple(fn, ND_RETURN)), NULL),
        STORE(fn, param(fn, 0), bin(fn, OP_ADD, intrinsic(fn, INTR_THREAD_IDX, 0), ci(fn, 1)), V(i)),
        for_range(fn, k, ci(fn, 0), ci(fn, 10), ci(fn, 1),
                  BLOCK(fn, if_(fn, cmp(fn, OP_EQ, V(k), bin(fn, OP_MOD, V(i), ci(fn, 5))),
                                BLOCK(fn, simple(fn, ND_RETURN)), NULL),
                        STORE(fn, param(fn, 0), bin(fn, OP_ADD, INDEX(fn, param(fn, 0), V(i)), ci(fn, 1000)), V(i)))));
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        enum { N = 1000, B = 64 };
        int32_t out[1024];
        for (int t = 0; t < 1024; t++)
            out[t] = -1;
        Pack p = {.len = 0};
        pk_c1(&p, out, 1024, 4);
        pk_i64(&p, N);
        check_packed(fn, &p);
        launch(hk, 16, 1, B, 1, &p);
        int wrong = 0;
        for (int t = 0; t < 1024; t++) {
            int32_t want = t >= N || t % 3 == 0 ? -1 : (t % B) + 1 + 1000 * (t % 5);
            if (out[t] != want && wrong++ < 5)
                fprintf(stderr, "early: out[%d] = %d, want %d\n", t, out[t], want);
        }
        CHECK(wrong == 0);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* ---- 5b. block semantics by barrier fission ------------------------------ */

/* Early return, dynamic shared memory (host_launch_shared gives its size),
 * syncthreads and syncthreads_count: each block reverses the indices of its
 * live threads through shared memory. */
static void test_fission(void)
{
    cur_line = 55;
    const Type *i32 = ty_scalar(TY_I32), *arr = ty_array(i32, 1, 'C', false);
    const Type *types[] = {arr, ty_scalar(TY_I64)};
    const char *names[] = {"out", "n"};
    Function *fn = kernel("fission", 2, names, types);
    int i = ir_add_var(fn, "i"), t = ir_add_var(fn, "t"), sh = ir_add_var(fn, "sh"),
        c = ir_add_var(fn, "c");
#define V(x) load(fn, x)
    /* i = cuda.grid(1); t = threadIdx.x
     * if i >= n: return
     * sh = cuda.shared.array(0, int32)
     * sh[t] = i
     * c = cuda.syncthreads_count(1)
     * out[i] = sh[c - 1 - t] + 1000 * c + 1000000 * sh.size */
    Node *shared = mk(fn, ND_LOCAL_ARRAY);
    shared->op = MEM_SHARED;
    shared->ty = arr;
    shared->args = list(fn, 1, (Node *[]){ci(fn, 0)});
    shared->nargs = 1;
    Node *count = mk(fn, ND_INTRINSIC);
    count->op = INTR_SYNCTHREADS_COUNT;
    count->args = list(fn, 1, (Node *[]){ci(fn, 1)});
    count->nargs = 1;
    Node *sync = mk(fn, ND_SYNC);
    sync->op = SYNC_THREADS;
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        assign(fn, t, intrinsic(fn, INTR_THREAD_IDX, 0)),
        if_(fn, cmp(fn, OP_GE, V(i), param(fn, 1)), BLOCK(fn, simple(fn, ND_RETURN)), NULL),
        assign(fn, sh, shared), STORE(fn, V(sh), V(i), V(t)), sync,
        assign(fn, c, count),
        STORE(fn, param(fn, 0),
              bin(fn, OP_ADD, INDEX(fn, V(sh), bin(fn, OP_SUB, bin(fn, OP_SUB, V(c), ci(fn, 1)),
                                                   V(t))),
                  bin(fn, OP_ADD, bin(fn, OP_MUL, ci(fn, 1000), V(c)),
                      bin(fn, OP_MUL, ci(fn, 1000000), attr(fn, ATTR_SIZE, V(sh))))),
              V(i)));
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        enum { N = 1000, B = 64 };
        int32_t out[1024];
        for (int k = 0; k < 1024; k++)
            out[k] = -1;
        Pack p = {.len = 0};
        pk_c1(&p, out, 1024, 4);
        pk_i64(&p, N);
        const int64_t grid[3] = {16, 1, 1}, blk[3] = {B, 1, 1};
        CHECK_OK(host_launch_shared(hk, cpu, grid, blk, B * 4, p.buf));
        int wrong = 0;
        for (int k = 0; k < 1024; k++) {
            int b = k / B, tt = k % B, live = N - b * B < B ? N - b * B : B;
            int32_t want = k >= N ? -1 : b * B + live - 1 - tt + 1000 * live + 1000000 * B;
            if (out[k] != want && wrong++ < 5)
                fprintf(stderr, "fission: out[%d] = %d, want %d\n", k, out[k], want);
        }
        CHECK(wrong == 0);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* grid.sync() (SYNC_GRID): each block writes its part, and after the grid
 * barrier reads another block's (devices/cpu/grid_sync.c runs the blocks as
 * fibers in phases), for a grid of many more blocks than workers. */
static void test_grid_sync(void)
{
    cur_line = 58;
    const Type *i64 = ty_scalar(TY_I64), *arr = ty_array(i64, 1, 'C', false);
    const Type *types[] = {arr, arr};
    const char *names[] = {"a", "b"};
    Function *fn = kernel("grid_sync", 2, names, types);
    int i = ir_add_var(fn, "i");
#define V(x) load(fn, x)
    /* i = cuda.grid(1); a[i] = 3 * i; grid.sync(); b[i] = a[a.size - 1 - i] */
    Node *sync = mk(fn, ND_SYNC);
    sync->op = SYNC_GRID;
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        STORE(fn, param(fn, 0), bin(fn, OP_MUL, ci(fn, 3), V(i)), V(i)), sync,
        STORE(fn, param(fn, 1),
              INDEX(fn, param(fn, 0), bin(fn, OP_SUB, bin(fn, OP_SUB, attr(fn, ATTR_SIZE,
                                                                            param(fn, 0)),
                                                           ci(fn, 1)), V(i))),
              V(i)));
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        enum { BLOCKS = 300, T = 8, N = BLOCKS * T };
        static int64_t a[N], b[N];
        Pack p = {.len = 0};
        pk_c1(&p, a, N, 8);
        pk_c1(&p, b, N, 8);
        const int64_t grid[3] = {BLOCKS, 1, 1}, blk[3] = {T, 1, 1};
        CHECK_OK(host_launch(hk, cpu, grid, blk, p.buf));
        int wrong = 0;
        for (int k = 0; k < N; k++)
            if (b[k] != 3 * (int64_t)(N - 1 - k) && wrong++ < 5)
                fprintf(stderr, "grid_sync: b[%d] = %lld, want %d\n", k, (long long)b[k],
                        3 * (N - 1 - k));
        CHECK(wrong == 0);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* ---- 5c. interruptible launches (launch_host.c) --------------------------- */

static int stop_calls;
static bool stop_if(void *ctx)
{
    stop_calls++;
    return *(const bool *)ctx;
}

/* out[i] = a loop of n float steps, + 1: slow blocks for n large. A hook
 * saying stop ends the launch early (some blocks done, not all); one saying
 * go, or none, runs every block, in slices of blocks that grow. */
static void test_interruptible(void)
{
    cur_line = 60;
    const Type *f64 = ty_scalar(TY_F64), *arr = ty_array(f64, 1, 'C', false);
    const Type *types[] = {arr, ty_scalar(TY_I64)};
    const char *names[] = {"out", "n"};
    Function *fn = kernel("slow", 2, names, types);
    int i = ir_add_var(fn, "i"), acc = ir_add_var(fn, "acc"), k = ir_add_var(fn, "k");
#define V(x) load(fn, x)
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)), assign(fn, acc, cf(fn, 0.0)),
        for_range(fn, k, ci(fn, 0), param(fn, 1), ci(fn, 1),
                  BLOCK(fn, assign(fn, acc, bin(fn, OP_ADD, bin(fn, OP_MUL, V(acc), cf(fn, 0.999)),
                                                cf(fn, 1.0))))),
        STORE(fn, param(fn, 0), bin(fn, OP_ADD, V(acc), cf(fn, 1.0)), V(i)));
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        enum { BLOCKS = 4096, T = 32 };
        double *out = calloc(BLOCKS * T, sizeof *out);
        const int64_t grid[3] = {BLOCKS, 1, 1}, blk[3] = {T, 1, 1};
        Pack p = {.len = 0};
        pk_c1(&p, out, BLOCKS * T, 8);
        pk_i64(&p, 200000); /* seconds of work in all */
        bool yes = true, no = false;
        HostInterrupt stop = {stop_if, &yes}, go = {stop_if, &no}, none = {NULL, NULL};
        stop_calls = 0;
        CHECK_STATUS(host_launch_interruptible(hk, cpu, grid, blk, 0, p.buf, &stop),
                     EMBER_ERR_INTERRUPTED);
        CHECK(stop_calls == 1 && strstr(ember_last_error(), "interrupted"));
        int done = 0;
        for (int j = 0; j < BLOCKS * T; j++)
            done += out[j] != 0;
        CHECK(done > 0 && done < BLOCKS * T && done % T == 0); /* whole blocks */
        for (int round = 0; round < 2; round++) { /* short: every block, once */
            memset(out, 0, BLOCKS * T * sizeof *out);
            p.len = 0;
            pk_c1(&p, out, BLOCKS * T, 8);
            pk_i64(&p, 3);
            double want = ((0.0 * 0.999 + 1.0) * 0.999 + 1.0) * 0.999 + 1.0 + 1.0;
            CHECK_OK(host_launch_interruptible(hk, cpu, grid, blk, 0, p.buf,
                                               round ? &none : &go));
            int wrong = 0;
            for (int j = 0; j < BLOCKS * T; j++)
                wrong += out[j] != want;
            CHECK(wrong == 0);
        }
        free(out);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* A shuffle in a branch that only the first warp of each block takes (a
 * divergent branch: flags per thread, scratch records per warp). */
static void test_fission_warp(void)
{
    cur_line = 57;
    const Type *i64 = ty_scalar(TY_I64), *arr = ty_array(i64, 1, 'C', false);
    const Type *types[] = {arr};
    const char *names[] = {"out"};
    Function *fn = kernel("fission_warp", 1, names, types);
    int i = ir_add_var(fn, "i"), v = ir_add_var(fn, "v");
#define V(x) load(fn, x)
    /* i = cuda.grid(1); v = 0
     * if cuda.threadIdx.x < 32: v = cuda.shfl_down_sync(0xffffffff, i, 1)
     * out[i] = v */
    Node *shfl = mk(fn, ND_INTRINSIC);
    shfl->op = INTR_SHFL_DOWN;
    shfl->args = list(fn, 3, (Node *[]){ci(fn, 0xffffffff), V(i), ci(fn, 1)});
    shfl->nargs = 3;
    fn->body = BLOCK(
        fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)), assign(fn, v, ci(fn, 0)),
        if_(fn, cmp(fn, OP_LT, intrinsic(fn, INTR_THREAD_IDX, 0), ci(fn, 32)),
            BLOCK(fn, assign(fn, v, shfl)), NULL),
        STORE(fn, param(fn, 0), V(v), V(i)));
#undef V
    HostKernel *hk = compile(fn);
    if (hk) {
        int64_t out[128];
        Pack p = {.len = 0};
        pk_c1(&p, out, 128, 8);
        launch(hk, 2, 1, 64, 1, &p);
        int wrong = 0;
        for (int k = 0; k < 128; k++) {
            int t = k % 64;
            int64_t want = t >= 32 ? 0 : t < 31 ? k + 1 : k;
            if (out[k] != want && wrong++ < 5)
                fprintf(stderr, "fission_warp: out[%d] = %lld, want %lld\n", k,
                        (long long)out[k], (long long)want);
        }
        CHECK(wrong == 0);
    }
    host_kernel_destroy(hk);
    ir_function_destroy(fn);
}

/* ---- 6. integers, bools, complex, tuples, intrinsics ---------------------- */

static void test_misc(void)
{
    cur_line = 60;
    const Type *i64 = ty_scalar(TY_I64), *arr = ty_array(i64, 1, 'C', false);
    const Type *c128 = ty_scalar(TY_C128), *carr = ty_array(c128, 1, 'C', false);
    const Type *barr = ty_array(ty_scalar(TY_BOOL), 1, 'C', false);
    const Type *types[] = {arr, carr, barr, c128};
    const char *names[] = {"out", "cout", "flags", "z"};
    Function *fn = kernel("misc", 4, names, types);
    int i = ir_add_var(fn, "i");
#define V(x) load(fn, x)
#define P(x) param(fn, x)
    /* i = cuda.grid(1); if i == 0: out[0] = 3 ** 13; out[1] = (-2) ** 5; out[2] = -1 << 3
     * out[3] = -17 >> 2; out[4] = laneid of thread; out[5] = min(7, -3, 5); out[6] = max(2, 9)
     * out[7] = round(2.5); out[8] = round(3.5); out[9] = int(-3.7); out[10] = abs(-12)
     * out[11] = cuda.gridsize(1); out[12] = ~5
     * cout[0] = z * z; cout[1] = z / (1 + 2j); cout[2] = z.conjugate()
     * flags[0] = not (i == 0); flags[1] = (i == 0) or bad; flags[2] = math.isnan(z.real) */
    Node *cplx = mk(fn, ND_CONST);
    cplx->ty = ty_scalar(TY_WEAK_COMPLEX);
    cplx->fval = 1.0;
    cplx->fimag = 2.0;
    Node *cast = mk(fn, ND_CAST);
    cast->target = i64;
    cast->a = cf(fn, -3.7);
    Node *neg2 = mk(fn, ND_UNARY);
    neg2->op = OP_NEG;
    neg2->a = ci(fn, 2);
    Node *inv = mk(fn, ND_UNARY);
    inv->op = OP_INVERT;
    inv->a = ci(fn, 5);
    Node *notn = mk(fn, ND_UNARY);
    notn->op = OP_NOT;
    notn->a = cmp(fn, OP_EQ, V(i), ci(fn, 0));
    Node *minn = mk(fn, ND_CALL_MATH);
    minn->op = MATH_MIN;
    minn->args = list(fn, 3, (Node *[]){ci(fn, 7), ci(fn, -3), ci(fn, 5)});
    minn->nargs = 3;
    Node *body = BLOCK(
        fn, STORE(fn, P(0), bin(fn, OP_POW, ci(fn, 3), ci(fn, 13)), ci(fn, 0)),
        STORE(fn, P(0), bin(fn, OP_POW, neg2, ci(fn, 5)), ci(fn, 1)),
        STORE(fn, P(0), bin(fn, OP_LSHIFT, ci(fn, -1), ci(fn, 3)), ci(fn, 2)),
        STORE(fn, P(0), bin(fn, OP_RSHIFT, ci(fn, -17), ci(fn, 2)), ci(fn, 3)),
        STORE(fn, P(0), minn, ci(fn, 5)),
        STORE(fn, P(0), math(fn, MATH_MAX, 2, ci(fn, 2), ci(fn, 9)), ci(fn, 6)),
        STORE(fn, P(0), math(fn, MATH_ROUND, 1, cf(fn, 2.5), NULL), ci(fn, 7)),
        STORE(fn, P(0), math(fn, MATH_ROUND, 1, cf(fn, 3.5), NULL), ci(fn, 8)),
        STORE(fn, P(0), cast, ci(fn, 9)),
        STORE(fn, P(0), math(fn, MATH_ABS, 1, ci(fn, -12), NULL), ci(fn, 10)),
        STORE(fn, P(0), intrinsic(fn, INTR_GRIDSIZE, 1), ci(fn, 11)),
        STORE(fn, P(0), inv, ci(fn, 12)),
        STORE(fn, P(1), bin(fn, OP_MUL, P(3), P(3)), ci(fn, 0)),
        STORE(fn, P(1), bin(fn, OP_TRUEDIV, P(3), cplx), ci(fn, 1)),
        STORE(fn, P(1), attr(fn, ATTR_CONJ, P(3)), ci(fn, 2)),
        STORE(fn, P(2), notn, ci(fn, 0)),
        STORE(fn, P(2), op2(fn, ND_OR, 0, cmp(fn, OP_EQ, V(i), ci(fn, 0)),
                            cmp(fn, OP_EQ, INDEX(fn, P(0), ci(fn, 1000000000)), ci(fn, 0))), /* never evaluated */
              ci(fn, 1)),
        STORE(fn, P(2), math(fn, MATH_ISNAN, 1, attr(fn, ATTR_REAL, P(3)), NULL), ci(fn, 2)));
    fn->body = BLOCK(fn, assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
                     if_(fn, cmp(fn, OP_EQ, V(i), ci(fn, 0)), body, NULL),
                     if_(fn, cmp(fn, OP_EQ, V(i), ci(fn, 37)),
                         BLOCK(fn, STORE(fn, P(0), intrinsic(fn, INTR_LANEID, -1), ci(fn, 4))), NULL));
#undef V
#undef P
    HostKernel *k = compile(fn);
    if (k) {
        int64_t out[16] = {0};
        double cout[6] = {0};
        bool flags[4] = {false, false, true, true};
        double z[2] = {1.5, -2.0};
        Pack p = {.len = 0};
        pk_c1(&p, out, 16, 8);
        pk_c1(&p, cout, 3, 16);
        pk_c1(&p, flags, 4, 1);
        pk_scalar(&p, z, 16);
        check_packed(fn, &p);
        launch(k, 3, 1, 20, 1, &p); /* thread 37 is block 1, thread 17 */
        CHECK(out[0] == 1594323 && out[1] == -32 && out[2] == -8 && out[3] == -5);
        CHECK(out[4] == 17 && out[5] == -3 && out[6] == 9 && out[7] == 2 && out[8] == 4);
        CHECK(out[9] == -3 && out[10] == 12 && out[11] == 60 && out[12] == -6);
        /* (1.5-2j)**2 = -1.75-6j; (1.5-2j)/(1+2j) = -0.5-1j */
        CHECK(cout[0] == -1.75 && cout[1] == -6.0);
        CHECK(fabs(cout[2] + 0.5) < 1e-15 && fabs(cout[3] + 1.0) < 1e-15);
        CHECK(cout[4] == 1.5 && cout[5] == 2.0);
        CHECK(!flags[0] && flags[1] && !flags[2] && flags[3]);
        for (int t = 0; t < 13; t++)
            if (t != 4)
                CHECK(out[t] != 0);
    }
    host_kernel_destroy(k);
    ir_function_destroy(fn);
}

/* ---- 6b. ember.jit functions: the return value packed per the ABI -------- */

/* f(x: int64, y: float32) -> (x * 3, y + 0.5, x > 2) */
static void test_function_return(void)
{
    cur_line = 60;
    const char *names[] = {"x", "y"};
    Function *fn = ir_function_create("f", "test.py", 2, names, false);
    fn->param_types[0] = ty_scalar(TY_I64);
    fn->param_types[1] = ty_scalar(TY_F32);
    Node *tup = mk(fn, ND_TUPLE);
    Node *fields[] = {bin(fn, OP_MUL, param(fn, 0), ci(fn, 3)),
                      bin(fn, OP_ADD, param(fn, 1), cf(fn, 0.5)),
                      cmp(fn, OP_GT, param(fn, 0), ci(fn, 2))};
    tup->args = list(fn, 3, fields);
    tup->nargs = 3;
    Node *ret = simple(fn, ND_RETURN);
    ret->a = tup;
    fn->body = BLOCK(fn, ret);
    CHECK_OK(infer_function(fn));
    HostKernel *k = NULL;
    CHECK_OK(host_compile(fn, 2, &k));
    CHECK(fn->return_type->kind == TY_TUPLE && abi_size(fn->return_type) == 24);
    if (k) {
        Pack p = {.len = 0};
        pk_i64(&p, 7);
        pk_f32(&p, 1.25f);
        _Alignas(8) char out[32]; /* the value, then the None flag */
        memset(out, 0x55, sizeof out);
        HostDims dims;
        memset(&dims, 0, sizeof dims);
        CHECK_OK(host_kernel_call(k, p.buf, out, &dims));
        int64_t a;
        float b;
        memcpy(&a, out, 8);
        memcpy(&b, out + 8, 4);
        CHECK(a == 21 && b == 1.75f && out[16] == 1 && out[24] == 0);
        /* a kernel has no function entry */
        Function *kf = kernel("kern", 0, NULL, NULL);
        kf->body = BLOCK(kf, simple(kf, ND_RETURN));
        CHECK_OK(infer_function(kf));
        HostKernel *kk = NULL;
        CHECK_OK(host_compile(kf, 1, &kk));
        CHECK_STATUS(host_kernel_call(kk, p.buf, out, &dims), EMBER_ERR_INVALID_ARG);
        host_kernel_destroy(kk);
        ir_function_destroy(kf);
        host_kernel_destroy(k);
    }
    ir_function_destroy(fn);
}

/* ---- 6c. np.random's generator (random.c): MT19937 as NumPy's RandomState */

static void test_random(void)
{
    void *r = host_random_state();
    CHECK(r != NULL);
    if (!r)
        return;
    /* the reference MT19937 stream of init_genrand(5489) */
    static const uint32_t want[5] = {3499211612u, 581869302u, 3890346734u, 3586334585u,
                                     545404204u};
    host_random_seed(r, 5489);
    for (int i = 0; i < 5; i++) /* a full 32-bit range returns the raw word */
        CHECK(host_random_randint(r, 0, (int64_t)1 << 32) == (int64_t)want[i]);
    /* np.random.RandomState(0): random_sample() twice, then normal() */
    host_random_seed(r, 0);
    CHECK(host_random_random(r) == 0.5488135039273248);
    CHECK(host_random_random(r) == 0.7151893663724195);
    CHECK(host_random_uniform(r, 2.0, 4.0) == 2.0 + 2.0 * 0.6027633760716439);
    /* draws across a regeneration of the state (624 words); one-value and
     * empty ranges give low (NumPy raises for the empty one) */
    for (int i = 0; i < 700; i++) {
        double d = host_random_random(r);
        CHECK(d >= 0.0 && d < 1.0);
    }
    CHECK(host_random_randint(r, 5, 6) == 5);
    CHECK(host_random_randint(r, 9, 3) == 9);
}

/* ---- 7. unsupported constructs: clean errors ------------------------------ */

static void test_errors(void)
{
    cur_line = 70;
    const Type *arr = ty_array(ty_scalar(TY_I64), 1, 'C', false);
    const Type *types[] = {arr};
    const char *names[] = {"out"};
    HostKernel *k = (HostKernel *)1;

    /* a function (not a kernel) compiles to the ember.jit entry: it is
     * called, not launched */
    Function *fn = ir_function_create("helper", "test.py", 1, names, false);
    fn->param_types[0] = arr;
    fn->body = BLOCK(fn, STORE(fn, param(fn, 0), ci(fn, 1), ci(fn, 0)));
    CHECK_OK(infer_function(fn));
    CHECK_OK(host_compile(fn, 2, &k));
    if (k) {
        int64_t out[1] = {0};
        Pack p = {.len = 0};
        pk_c1(&p, out, 1, 8);
        const int64_t one[3] = {1, 1, 1};
        CHECK_STATUS(host_launch(k, cpu, one, one, p.buf), EMBER_ERR_INVALID_ARG);
        HostDims dims;
        memset(&dims, 0, sizeof dims);
        CHECK_OK(host_kernel_call(k, p.buf, NULL, &dims));
        CHECK(out[0] == 1 && dims.fault == 0);
        host_kernel_destroy(k);
    }
    ir_function_destroy(fn);

    /* an intrinsic the CPU target does not know, located */
    fn = kernel("bad_intrinsic", 1, names, types);
    cur_line = 71;
    Node *intr = intrinsic(fn, INTR_LANEID, -1);
    fn->body = BLOCK(fn, STORE(fn, param(fn, 0), intr, ci(fn, 0)));
    CHECK_OK(infer_function(fn));
    intr->op = INTR_COUNT + 3; /* e.g. a newer front end's intrinsic */
    k = (HostKernel *)1;
    CHECK_STATUS(host_compile(fn, 2, &k), EMBER_ERR_INVALID_ARG);
    CHECK(k == NULL);
    CHECK(strstr(ember_last_error(), "test.py:71:4") != NULL);
    CHECK(strstr(ember_last_error(), "intrinsic") != NULL);
    ir_function_destroy(fn);

    /* an untyped function (inference skipped) */
    fn = kernel("untyped", 1, names, types);
    cur_line = 72;
    fn->body = BLOCK(fn, STORE(fn, param(fn, 0), ci(fn, 1), bin(fn, OP_ADD, ci(fn, 0), ci(fn, 0))));
    CHECK_STATUS(host_compile(fn, 2, &k), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "test.py:72:4") != NULL);
    ir_function_destroy(fn);

    /* range() with a constant zero step */
    fn = kernel("zero_step", 1, names, types);
    int v = ir_add_var(fn, "v");
    cur_line = 73;
    fn->body = BLOCK(fn, for_range(fn, v, ci(fn, 0), ci(fn, 10), ci(fn, 0),
                                   BLOCK(fn, STORE(fn, param(fn, 0), load(fn, v), ci(fn, 0)))));
    CHECK_OK(infer_function(fn));
    CHECK_STATUS(host_compile(fn, 2, &k), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "zero") != NULL);
    ir_function_destroy(fn);

    /* range() over int64 and uint64 bounds: NumPy promotes them to float64 */
    const Type *mixed_types[] = {arr, ty_scalar(TY_U64), ty_scalar(TY_I64)};
    const char *mixed_names[] = {"out", "u", "s"};
    fn = kernel("mixed_range", 3, mixed_names, mixed_types);
    v = ir_add_var(fn, "v");
    cur_line = 74;
    fn->body = BLOCK(fn, for_range(fn, v, param(fn, 2), param(fn, 1), ci(fn, 1),
                                   BLOCK(fn, STORE(fn, param(fn, 0), ci(fn, 1), ci(fn, 0)))));
    /* inference rejects it, at the loop's location */
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "test.py:74:4") != NULL);
    CHECK(strstr(ember_last_error(), "promote to float64") != NULL);
    ir_function_destroy(fn);

    /* bad launch configurations */
    fn = kernel("ok", 1, names, types);
    fn->body = BLOCK(fn, STORE(fn, param(fn, 0), ci(fn, 1), ci(fn, 0)));
    k = compile(fn);
    if (k) {
        int64_t out[1] = {0};
        Pack p = {.len = 0};
        pk_c1(&p, out, 1, 8);
        const int64_t g0[3] = {0, 1, 1}, g1[3] = {1, 1, 1};
        CHECK_STATUS(host_launch(k, cpu, g0, g1, p.buf), EMBER_ERR_INVALID_ARG);
        CHECK_STATUS(host_launch(NULL, cpu, g1, g1, p.buf), EMBER_ERR_INVALID_ARG);
        CHECK_OK(host_launch(k, cpu, g1, g1, p.buf));
        CHECK(out[0] == 1);
        HostKernel *k2 = NULL;
        CHECK_STATUS(host_compile(fn, 7, &k2), EMBER_ERR_INVALID_ARG);
    }
    host_kernel_destroy(k);
    host_kernel_destroy(NULL);
    ir_function_destroy(fn);
}

/* A device function inlined into the kernel, with an early return and an
 * atomic add; blocks run in parallel on the pool:
 *   dev(a, k): if k < 0: return
 *              cuda.atomic.add(a, k, 1)
 *   kernel(h, x): i = cuda.grid(1); if i < x.size: dev(h, x[i])         */
static void test_device_call_atomic(void)
{
    enum { N = 4096, BINS = 16 };
    const Type *ai = ty_array(ty_scalar(TY_I64), 1, 'C', false);
    const char *names[] = {"h", "x"};
    Function *fn = kernel("hist", 2, names, (const Type *[]){ai, ai});
    Function *dev = ir_callee_create(fn, "dev", "dev.py", 2, names);
    CHECK(dev != NULL);
    Node *ret = mk(dev, ND_RETURN);
    Node *at = mk(dev, ND_ATOMIC);
    at->op = ATOM_ADD;
    at->a = param(dev, 0);
    at->args = list(dev, 1, (Node *[]){param(dev, 1)});
    at->nargs = 1;
    at->b = ci(dev, 1);
    Node *ex = mk(dev, ND_EXPR);
    ex->a = at;
    dev->body = block(dev, 2, (Node *[]){
        if_(dev, cmp(dev, OP_LT, param(dev, 1), ci(dev, 0)), block(dev, 1, (Node *[]){ret}), NULL),
        ex});
    int i = ir_add_var(fn, "i");
    Node *c = mk(fn, ND_CALL);
    c->callee = dev;
    c->args = list(fn, 2, (Node *[]){param(fn, 0), index_(fn, param(fn, 1), 1, (Node *[]){load(fn, i)})});
    c->nargs = 2;
    Node *ec = mk(fn, ND_EXPR);
    ec->a = c;
    fn->body = block(fn, 2, (Node *[]){
        assign(fn, i, intrinsic(fn, INTR_GRID, 1)),
        if_(fn, cmp(fn, OP_LT, load(fn, i), attr(fn, ATTR_SIZE, param(fn, 1))),
            block(fn, 1, (Node *[]){ec}), NULL)});
    HostKernel *k = compile(fn);
    CHECK(fn->param_written[0] && !fn->param_written[1]);
    static int64_t h[BINS], x[N];
    int64_t want[BINS] = {0};
    memset(h, 0, sizeof h); /* runs once per optimisation level */
    for (int j = 0; j < N; j++) {
        x[j] = (j * 7919) % (BINS + 3) - 3; /* some negative: skipped by the early return */
        if (x[j] >= 0)
            want[x[j]]++;
    }
    if (k) {
        Pack p = {.len = 0};
        pk_c1(&p, h, BINS, 8);
        pk_c1(&p, x, N, 8);
        check_packed(fn, &p);
        launch(k, N / 256, 1, 256, 1, &p);
        CHECK(memcmp(h, want, sizeof h) == 0);
    }
    host_kernel_destroy(k);
    ir_function_destroy(fn);
}

int main(void)
{
    CHECK_OK(ember_init());
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    if (!cpu)
        return check_report("test_host_jit");
    for (int opt = 0; opt <= 3; opt++)
        test_saxpy(opt);
    test_concurrent();
    test_fork_while_compiling();
    test_fault_loop();
    test_reload();
    for (int pass = 0; pass < 2; pass++) { /* optimised, then -O0 */
        opt_level = pass == 0 ? 2 : 0;
        test_loops_2d();
        test_math(TY_F32);
        test_math(TY_F64);
        test_strided();
        test_early_return();
        test_fission();
        test_grid_sync();
        test_fission_warp();
        test_misc();
        test_device_call_atomic();
    }
    opt_level = 2;
    test_interruptible();
    test_function_return();
    test_random();
    test_errors();
    ember_shutdown();
    return check_report("test_host_jit");
}
