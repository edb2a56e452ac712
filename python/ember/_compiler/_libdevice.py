"""cuda.libdevice in kernels: numba.cuda.libdevice's functions (the NVVM
libdevice library, `__nv_<name>`) as trees of ember's own operations.

Each name takes and returns numba's declared types (libdevice.sinf is
float32 -> float32, libdevice.isnand float64 -> int32, libdevice.sincos
returns a (sin, cos) tuple where C writes through pointers). Written with
ember's math trees, a call compiles to the same libdevice function on a GPU
(core/lower_math.c calls __nv_*) and to libm / ember's own code on the CPU.
The `fast_` forms compute the accurate result (allowed: CUDA's fast forms
only promise an approximation). Names not in TABLE (bit reinterpretation,
rounding-mode conversions other than the default, integer high halves,
Bessel functions ...) are refused with the line.
"""

F32, F64, I32, I64, U32, U64 = "float32", "float64", "int32", "int64", "uint32", "uint64"

TABLE = {}   # name -> (builder, argument types, result type)


def _math(fn):
    def build(b, loc, args):
        return ("math", *loc, fn, args)
    return build


def _intr(fn):
    def build(b, loc, args):
        return ("intrinsic", *loc, fn, args)
    return build


def _cast(b, loc, ty, tree):
    return ("cast", *loc, ty, tree)


def _const(loc, ty, v):
    return ("const", *loc, ty, v)


for _fn in ("sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp expm1 exp2 log "
            "log2 log10 log1p sqrt erf erfc lgamma floor ceil trunc fabs cbrt rint").split():
    TABLE[_fn] = (_math(_fn), (F64,), F64)
    TABLE[_fn + "f"] = (_math(_fn), (F32,), F32)
for _fn in "atan2 pow hypot fmod copysign remainder fmin fmax".split():
    TABLE[_fn] = (_math(_fn), (F64, F64), F64)
    TABLE[_fn + "f"] = (_math(_fn), (F32, F32), F32)
TABLE["tgamma"] = (_math("gamma"), (F64,), F64)
TABLE["tgammaf"] = (_math("gamma"), (F32,), F32)
TABLE["nearbyint"] = (_math("rint"), (F64,), F64)
TABLE["nearbyintf"] = (_math("rint"), (F32,), F32)
for _fn in "sinf cosf tanf expf logf log2f log10f powf".split():
    TABLE["fast_" + _fn] = TABLE[_fn]
for _n, _ty in (("ldexp", F64), ("ldexpf", F32), ("scalbn", F64), ("scalbnf", F32)):
    TABLE[_n] = (_math("ldexp"), (_ty, I32), _ty)
for _n, _fn, _ty in (("isnand", "isnan", F64), ("isnanf", "isnan", F32),
                     ("isinfd", "isinf", F64), ("isinff", "isinf", F32),
                     ("isfinited", "isfinite", F64), ("finitef", "isfinite", F32)):
    TABLE[_n] = (_math(_fn), (_ty,), I32)
TABLE["abs"] = (_math("abs"), (I32,), I32)
TABLE["llabs"] = (_math("abs"), (I64,), I64)
for _p, _ty in (("", I32), ("ll", I64), ("u", U32), ("ull", U64)):
    TABLE[_p + "min"] = (_math("min"), (_ty, _ty), _ty)
    TABLE[_p + "max"] = (_math("max"), (_ty, _ty), _ty)
for _n, _fn, _ty, _rt in (("popc", "popc", I32, I32), ("popcll", "popc", I64, I32),
                          ("brev", "brev", I32, I32), ("brevll", "brev", I64, I64),
                          ("clz", "clz", I32, I32), ("clzll", "clz", I64, I32),
                          ("ffs", "ffs", I32, I32), ("ffsll", "ffs", I64, I32)):
    TABLE[_n] = (_intr(_fn), (_ty,), _rt)
TABLE["fma"] = (_intr("fma"), (F64, F64, F64), F64)
TABLE["fmaf"] = (_intr("fma"), (F32, F32, F32), F32)
TABLE["fma_rn"] = TABLE["fma"]
TABLE["fmaf_rn"] = TABLE["fmaf"]


def _binop(op):
    def build(b, loc, args):
        return ("binary", *loc, op, args[0], args[1])
    return build


# round-to-nearest arithmetic is the default rounding
for _op, _names in (("add", ("dadd_rn", "fadd_rn")), ("sub", ("fsub_rn",)),
                    ("mul", ("dmul_rn", "fmul_rn")),
                    ("truediv", ("ddiv_rn", "fdiv_rn", "fast_fdividef"))):
    for _n in _names:
        _ty = F64 if _n[0] == "d" else F32
        TABLE[_n] = (_binop(_op), (_ty, _ty), _ty)
TABLE["dsqrt_rn"] = (_math("sqrt"), (F64,), F64)
TABLE["fsqrt_rn"] = (_math("sqrt"), (F32,), F32)


def _recip(inner):
    def build(b, loc, args):
        ty = b["ty"]
        return ("binary", *loc, "truediv", _const(loc, ty, 1.0), inner(b, loc, args))
    return build


TABLE["drcp_rn"] = (_recip(lambda b, loc, a: a[0]), (F64,), F64)
TABLE["frcp_rn"] = (_recip(lambda b, loc, a: a[0]), (F32,), F32)
TABLE["rsqrt"] = (_recip(_math("sqrt")), (F64,), F64)
TABLE["rsqrtf"] = (_recip(_math("sqrt")), (F32,), F32)
TABLE["frsqrt_rn"] = TABLE["rsqrtf"]
TABLE["rcbrt"] = (_recip(_math("cbrt")), (F64,), F64)
TABLE["rcbrtf"] = (_recip(_math("cbrt")), (F32,), F32)


def _exp10(b, loc, args):
    return ("binary", *loc, "pow", _const(loc, b["ty"], 10.0), args[0])


for _n, _ty in (("exp10", F64), ("exp10f", F32), ("fast_exp10f", F32)):
    TABLE[_n] = (_exp10, (_ty,), _ty)


def _powi(b, loc, args):
    return ("math", *loc, "pow", [args[0], _cast(b, loc, b["ty"], args[1])])


TABLE["powi"] = (_powi, (F64, I32), F64)
TABLE["powif"] = (_powi, (F32, I32), F32)


def _signbit(b, loc, args):
    one = _const(loc, b["argty"], 1.0)
    neg = ("compare", *loc, "lt", ("math", *loc, "copysign", [one, args[0]]),
           _const(loc, b["argty"], 0.0))
    return neg


TABLE["signbitd"] = (_signbit, (F64,), I32)
TABLE["signbitf"] = (_signbit, (F32,), I32)


def _saturate(b, loc, args):
    # clamp to [0, 1]; NaN gives 0 (CUDA's __saturatef)
    x = args[0]
    return ("ifexp", *loc, ("compare", *loc, "ge", x, _const(loc, F32, 1.0)),
            _const(loc, F32, 1.0),
            ("ifexp", *loc, ("compare", *loc, "gt", x, _const(loc, F32, 0.0)), x,
             _const(loc, F32, 0.0)))


TABLE["saturatef"] = (_saturate, (F32,), F32)


def _sincos(b, loc, args):
    return ("tuple", *loc, [("math", *loc, "sin", args), ("math", *loc, "cos", args)])


for _n, _ty in (("sincos", F64), ("sincosf", F32), ("fast_sincosf", F32)):
    TABLE[_n] = (_sincos, (_ty,), None)
for _n, _fn, _ty in (("frexp", "frexp", F64), ("frexpf", "frexp", F32),
                     ("modf", "modf", F64), ("modff", "modf", F32)):
    TABLE[_n] = (_math(_fn), (_ty,), None)

# conversions with the default rounding (float to int truncates: _rz)
for _n, _fr, _to in (("double2float_rn", F64, F32), ("float2int_rz", F32, I32),
                     ("double2int_rz", F64, I32), ("float2ll_rz", F32, I64),
                     ("double2ll_rz", F64, I64), ("float2uint_rz", F32, U32),
                     ("double2uint_rz", F64, U32), ("float2ull_rz", F32, U64),
                     ("double2ull_rz", F64, U64), ("int2double_rn", I32, F64),
                     ("int2float_rn", I32, F32), ("uint2double_rn", U32, F64),
                     ("uint2float_rn", U32, F32), ("ll2double_rn", I64, F64),
                     ("ll2float_rn", I64, F32), ("ull2double_rn", U64, F64),
                     ("ull2float_rn", U64, F32)):
    TABLE[_n] = ((lambda b, loc, args: args[0]), (_fr,), _to)


def build(builder, node, name, args):
    """The tree of libdevice.<name>(args) (arguments already trees), or
    raises the builder's error naming the line."""
    spec = TABLE.get(name)
    if spec is None:
        raise builder.unsupported(node, f"cuda.libdevice.{name} is not supported by ember "
                                  "(yet)", "use the math module's or NumPy's function")
    fn, argtys, rt = spec
    if len(args) != len(argtys):
        raise builder.typing(node, f"cuda.libdevice.{name}() takes {len(argtys)} argument"
                             f"{'s' if len(argtys) != 1 else ''}, {len(args)} given")
    loc = builder.loc(node)
    cast = [("cast", *loc, t, a) for t, a in zip(argtys, args)]
    tree = fn({"ty": rt or argtys[0], "argty": argtys[0]}, loc, cast)
    return tree if rt is None else ("cast", *loc, rt, tree)
