/*
 * test_infer.c — type inference on hand-built IR: NumPy promotion with NEP
 * 50 weak literals, variable unification across branches and loops, the
 * read/write analysis of array parameters, and located error messages.
 */
#include <string.h>

#include "check.h"
#include "core/ir.h"

static SrcLoc L(int line) { return (SrcLoc){line, 4}; }

static Node *cnst(Function *fn, TypeKind k, int64_t iv, double fv)
{
    Node *n = ir_node(fn, ND_CONST, L(1));
    n->ty = ty_scalar(k);
    n->ival = iv;
    n->fval = fv;
    return n;
}
static Node *param(Function *fn, int i)
{
    Node *n = ir_node(fn, ND_PARAM, L(1));
    n->index = i;
    return n;
}
static Node *load(Function *fn, int v)
{
    Node *n = ir_node(fn, ND_LOAD, L(1));
    n->var = v;
    return n;
}
static Node *bin(Function *fn, Op op, Node *a, Node *b, int line)
{
    Node *n = ir_node(fn, ND_BINARY, L(line));
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}
static Node *assign(Function *fn, int v, Node *a, int line)
{
    Node *n = ir_node(fn, ND_ASSIGN, L(line));
    n->var = v;
    n->a = a;
    return n;
}
static Node *block(Function *fn, int n, Node **stmts)
{
    Node *b = ir_node(fn, ND_BLOCK, L(1));
    b->args = ir_node_list(fn, n);
    b->nargs = n;
    memcpy(b->args, stmts, sizeof(Node *) * (size_t)n);
    return b;
}
static Node *index1(Function *fn, Node *arr, Node *i, int line)
{
    Node *n = ir_node(fn, ND_INDEX, L(line));
    n->a = arr;
    n->args = ir_node_list(fn, 1);
    n->args[0] = i;
    n->nargs = 1;
    return n;
}
static Node *store1(Function *fn, Node *arr, Node *i, Node *v, int line)
{
    Node *n = index1(fn, arr, i, line);
    n->kind = ND_STORE;
    n->b = v;
    return n;
}

static Function *kernel(int nparams, const Type **types)
{
    const char *names[] = {"x", "y", "z", "w"};
    Function *fn = ir_function_create("k", "test.py", nparams, names, true);
    for (int i = 0; i < nparams; i++)
        fn->param_types[i] = types[i];
    return fn;
}

static void test_nep50(void)
{
    const Type *f32 = ty_scalar(TY_F32), *i32 = ty_scalar(TY_I32);
    const Type *types[2] = {f32, i32};
    Function *fn = kernel(2, types);
    int a = ir_add_var(fn, "a"), b = ir_add_var(fn, "b"), c = ir_add_var(fn, "c"),
        d = ir_add_var(fn, "d"), e = ir_add_var(fn, "e");
    Node *s[] = {
        assign(fn, a, bin(fn, OP_MUL, param(fn, 0), cnst(fn, TY_WEAK_FLOAT, 0, 2.0), 2), 2),
        assign(fn, b, bin(fn, OP_ADD, param(fn, 1), cnst(fn, TY_WEAK_INT, 1, 0), 3), 3),
        assign(fn, c, bin(fn, OP_TRUEDIV, param(fn, 1), cnst(fn, TY_WEAK_INT, 2, 0), 4), 4),
        assign(fn, d, bin(fn, OP_ADD, param(fn, 1), cnst(fn, TY_WEAK_FLOAT, 0, 0.5), 5), 5),
        assign(fn, e, bin(fn, OP_MUL, param(fn, 0), param(fn, 1), 6), 6),
    };
    fn->body = block(fn, 5, s);
    CHECK_OK(infer_function(fn));
    CHECK(fn->var_types[a] == f32);              /* x * 2.0 stays float32 */
    CHECK(fn->var_types[b] == i32);              /* i + 1 stays int32 */
    CHECK(fn->var_types[c] == ty_scalar(TY_F64)); /* int / int is float64 */
    CHECK(fn->var_types[d] == ty_scalar(TY_F64)); /* int32 + 0.5 is float64 */
    CHECK(fn->var_types[e] == ty_scalar(TY_F64)); /* float32 * int32 is float64 (NumPy) */
    ir_function_destroy(fn);

    /* promotion table spot checks */
    CHECK(ty_promote(ty_scalar(TY_I16), f32) == f32);
    CHECK(ty_promote(ty_scalar(TY_U32), ty_scalar(TY_I32)) == ty_scalar(TY_I64));
    CHECK(ty_promote(ty_scalar(TY_U64), ty_scalar(TY_I64)) == ty_scalar(TY_F64));
    CHECK(ty_promote(ty_scalar(TY_C64), ty_scalar(TY_F64)) == ty_scalar(TY_C128));
    CHECK(ty_promote(ty_scalar(TY_WEAK_COMPLEX), f32) == ty_scalar(TY_C64));
    CHECK(ty_promote(ty_scalar(TY_BOOL), ty_scalar(TY_WEAK_INT)) == ty_scalar(TY_I64));
    CHECK(ty_promote(ty_scalar(TY_WEAK_INT), ty_scalar(TY_WEAK_FLOAT)) == ty_scalar(TY_WEAK_FLOAT));
    CHECK(ty_promote(ty_array(f32, 1, 'C', false), f32) == NULL);
    char buf[256];
    CHECK(strcmp(ty_str(ty_array(f32, 2, 'C', false), buf, sizeof buf), "float32[:, ::1]") == 0);
    CHECK(strcmp(ty_str(ty_array(f32, 2, 'F', false), buf, sizeof buf), "float32[::1, :]") == 0);
    const Type *two[2] = {ty_scalar(TY_I64), f32};
    CHECK(strcmp(ty_str(ty_tuple(2, two), buf, sizeof buf), "(int64, float32)") == 0);
    CHECK(ty_array(f32, 3, 'A', true) == ty_array(f32, 3, 'A', true)); /* interned */
    CHECK(abi_size(ty_array(f32, 3, 'A', false)) == 8 + 48);
    CHECK(abi_size(ty_tuple(2, two)) == 16);
}

static void test_unify_and_loops(void)
{
    /* s = 0; for i in range(n): s = s + x[i]   with x float32[:]  -> s float64
     * (int64 + float32 promotes to float64; the loop widens s back at its
     * first use), i int64. */
    const Type *types[2] = {ty_array(ty_scalar(TY_F32), 1, 'C', false), ty_scalar(TY_I64)};
    Function *fn = kernel(2, types);
    int s = ir_add_var(fn, "s"), i = ir_add_var(fn, "i");
    Node *loop = ir_node(fn, ND_FOR_RANGE, L(3));
    loop->var = i;
    loop->args = ir_node_list(fn, 3);
    loop->nargs = 3;
    loop->args[0] = cnst(fn, TY_WEAK_INT, 0, 0);
    loop->args[1] = param(fn, 1);
    loop->args[2] = cnst(fn, TY_WEAK_INT, 1, 0);
    Node *body[] = {assign(fn, s, bin(fn, OP_ADD, load(fn, s), index1(fn, param(fn, 0), load(fn, i), 4), 4), 4)};
    loop->b = block(fn, 1, body);
    Node *st[] = {assign(fn, s, cnst(fn, TY_WEAK_INT, 0, 0), 2), loop};
    fn->body = block(fn, 2, st);
    CHECK_OK(infer_function(fn));
    CHECK(fn->var_types[s] == ty_scalar(TY_F64));
    CHECK(fn->var_types[i] == ty_scalar(TY_I64));
    CHECK(!fn->param_written[0]); /* only read */
    char *dump = ir_dump(fn);
    CHECK(dump && strstr(dump, "var s :: float64") && strstr(dump, "index :: float32"));
    em_free(dump);
    ir_function_destroy(fn);
}

static void test_written_params(void)
{
    /* v = y (an alias of parameter 1); v[0] = x[0]  -> y written, x not */
    const Type *arr = ty_array(ty_scalar(TY_F64), 1, 'A', false);
    const Type *types[2] = {arr, arr};
    Function *fn = kernel(2, types);
    int v = ir_add_var(fn, "v");
    Node *st[] = {
        assign(fn, v, param(fn, 1), 2),
        store1(fn, load(fn, v), cnst(fn, TY_WEAK_INT, 0, 0),
               index1(fn, param(fn, 0), cnst(fn, TY_WEAK_INT, 0, 0), 3), 3),
    };
    fn->body = block(fn, 2, st);
    CHECK_OK(infer_function(fn));
    CHECK(!fn->param_written[0] && fn->param_written[1]);
    ir_function_destroy(fn);
}

static Node *call(Function *fn, Function *callee, int n, Node **args, int line)
{
    Node *c = ir_node(fn, ND_CALL, L(line));
    c->callee = callee;
    c->args = ir_node_list(fn, n);
    c->nargs = n;
    memcpy(c->args, args, sizeof(Node *) * (size_t)n);
    return c;
}

static void test_device_calls(void)
{
    /* device put(a, v): a[0] = v; return v * 2
     * kernel k(x: f64[:], y: f32[:], z: f32[:]):
     *   put(x, 1.5)              -> put(float64[:], float64) returns float64
     *   z[0] = put(z, y[1])      -> put(float32[:], float32) returns float32
     * x and z are written through the callee, y is only read. */
    const Type *a64 = ty_array(ty_scalar(TY_F64), 1, 'C', false);
    const Type *a32 = ty_array(ty_scalar(TY_F32), 1, 'C', false);
    const Type *types[3] = {a64, a32, a32};
    Function *fn = kernel(3, types);
    const char *pn[] = {"a", "v"};
    Function *put = ir_callee_create(fn, "put", "dev.py", 2, pn);
    CHECK(put && put->root == fn && fn->ncallees == 1);
    Node *ret = ir_node(put, ND_RETURN, L(12));
    ret->a = bin(put, OP_MUL, param(put, 1), cnst(put, TY_WEAK_INT, 2, 0), 12);
    Node *body[] = {store1(put, param(put, 0), cnst(put, TY_WEAK_INT, 0, 0), param(put, 1), 11),
                    ret};
    put->body = block(put, 2, body);
    Node *a1[] = {param(fn, 0), cnst(fn, TY_WEAK_FLOAT, 0, 1.5)};
    Node *a2[] = {param(fn, 2), index1(fn, param(fn, 1), cnst(fn, TY_WEAK_INT, 1, 0), 3)};
    Node *c1 = call(fn, put, 2, a1, 2), *c2 = call(fn, put, 2, a2, 3);
    Node *e1 = ir_node(fn, ND_EXPR, L(2));
    e1->a = c1;
    Node *st[] = {e1,
                  store1(fn, param(fn, 2), cnst(fn, TY_WEAK_INT, 0, 0), c2, 3)};
    fn->body = block(fn, 2, st);
    CHECK_OK(infer_function(fn));
    CHECK(c1->ty == ty_scalar(TY_F64) && c2->ty == ty_scalar(TY_F32));
    CHECK(c1->spec && c2->spec && c1->spec != c2->spec && fn->nspecs == 2);
    CHECK(c1->spec->param_written[0] && !c1->spec->param_written[1]);
    CHECK(fn->param_written[0]);
    CHECK(!fn->param_written[1]);
    CHECK(fn->param_written[2]);
    ir_function_destroy(fn);

    /* an error inside the callee keeps the callee's file and line */
    fn = kernel(3, types);
    put = ir_callee_create(fn, "bad", "dev.py", 2, pn);
    Node *r2 = ir_node(put, ND_RETURN, L(21));
    r2->a = index1(put, param(put, 1), cnst(put, TY_WEAK_INT, 0, 0), 21); /* float indexed */
    put->body = block(put, 1, &r2);
    Node *a3[] = {param(fn, 0), cnst(fn, TY_WEAK_FLOAT, 0, 1.5)};
    Node *st2[] = {store1(fn, param(fn, 0), cnst(fn, TY_WEAK_INT, 0, 0), call(fn, put, 2, a3, 5), 5)};
    fn->body = block(fn, 1, st2);
    CHECK(infer_function(fn) == EMBER_ERR_INVALID_ARG);
    CHECK(fn->err_loc.line == 21 && fn->err_file && strcmp(fn->err_file, "dev.py") == 0);
    CHECK(strstr(fn->err, "in device function 'bad' called from test.py:5") != NULL);
    ir_function_destroy(fn);
}

static void test_errors(void)
{
    const Type *types[2] = {ty_array(ty_scalar(TY_F32), 2, 'C', false), ty_scalar(TY_F64)};
    Function *fn = kernel(2, types);
    Node *idx = ir_node(fn, ND_INDEX, L(7));
    idx->a = param(fn, 0);
    idx->args = ir_node_list(fn, 2);
    idx->nargs = 2;
    idx->args[0] = cnst(fn, TY_WEAK_INT, 0, 0);
    idx->args[1] = param(fn, 1);
    Node *e = ir_node(fn, ND_EXPR, L(7));
    e->a = idx;
    Node *st[] = {e};
    fn->body = block(fn, 1, st);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "cannot index float32[:, ::1] with (int64, float64)") != NULL);
    CHECK(fn->err_loc.line == 7);
    CHECK(strstr(ember_last_error(), "test.py:7:4:") != NULL);
    ir_function_destroy(fn);

    /* a variable that is an array in one place and a number in another */
    fn = kernel(2, types);
    int v = ir_add_var(fn, "v");
    Node *st2[] = {assign(fn, v, param(fn, 0), 2), assign(fn, v, param(fn, 1), 3)};
    fn->body = block(fn, 2, st2);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "variable 'v' is assigned float64 here but holds float32[:, ::1]") != NULL);
    CHECK(fn->err_loc.line == 3);
    ir_function_destroy(fn);

    /* return with a value in a kernel; use before assignment; readonly store */
    const Type *ro[2] = {ty_array(ty_scalar(TY_F32), 1, 'C', true), ty_scalar(TY_F64)};
    fn = kernel(2, ro);
    int u = ir_add_var(fn, "u");
    Node *ret = ir_node(fn, ND_RETURN, L(4));
    ret->a = cnst(fn, TY_WEAK_INT, 1, 0);
    Node *st3[] = {ret};
    fn->body = block(fn, 1, st3);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "kernel cannot return a value") != NULL);
    ir_function_destroy(fn);
    fn = kernel(2, ro);
    u = ir_add_var(fn, "u");
    Node *st4[] = {assign(fn, ir_add_var(fn, "t"), load(fn, u), 5)};
    fn->body = block(fn, 1, st4);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "variable 'u' is used before a value is assigned") != NULL);
    ir_function_destroy(fn);
    fn = kernel(2, ro);
    Node *st5[] = {store1(fn, param(fn, 0), cnst(fn, TY_WEAK_INT, 0, 0), param(fn, 1), 6)};
    fn->body = block(fn, 1, st5);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "read-only") != NULL);
    ir_function_destroy(fn);

    /* bit operations on floats */
    fn = kernel(2, types);
    Node *ex = ir_node(fn, ND_EXPR, L(8));
    ex->a = bin(fn, OP_BITAND, param(fn, 1), cnst(fn, TY_WEAK_INT, 1, 0), 8);
    Node *st6[] = {ex};
    fn->body = block(fn, 1, st6);
    CHECK_STATUS(infer_function(fn), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(fn->err, "operator & needs integers or bools, not float64 and int literal") != NULL);
    ir_function_destroy(fn);
}

int main(void)
{
    test_nep50();
    test_unify_and_loops();
    test_written_params();
    test_device_calls();
    test_errors();
    ty_reset();
    return check_report("test_infer");
}
