"""cuda.bf16.<fn>(...) in kernels: numba-cuda's bfloat16 functions as trees.

Each function becomes ordinary tree nodes on bfloat16 values: its arguments
are converted (a cast node) to the type the function takes, and core/infer.c
turns bfloat16 arithmetic into float32 arithmetic rounded back to bfloat16
once (correctly rounded for + - * /). What needs more than casts is an
intrinsic of core/intrinsics.def (hfma: one rounding of a*b + c; the bit
reinterpretations: the same 16 bits as int16 / uint16).
"""

BF = "bfloat16"

# function -> (argument count, argument type)
_BINARY = {"hadd": "add", "hsub": "sub", "hmul": "mul", "hdiv": "truediv",
           "hadd_rn": "add", "hsub_rn": "sub", "hmul_rn": "mul"}
_SAT = {"hadd_sat": "add", "hsub_sat": "sub", "hmul_sat": "mul"}
_ORDERED = {"heq": "eq", "hge": "ge", "hgt": "gt", "hle": "le", "hlt": "lt"}
# unordered comparisons: true also when either is NaN (the ordered opposite, negated)
_UNORDERED = {"hequ": None, "hgeu": "lt", "hgtu": "le", "hleu": "gt", "hltu": "ge"}
_MINMAX = {"hmax": "np.fmax", "hmin": "np.fmin", "hmax_nan": "np.max", "hmin_nan": "np.min"}
_MATH = {"habs": "np.fabs", "htrunc": "np.trunc", "hceil": "np.ceil", "hfloor": "np.floor",
         "hrint": "np.rint", "hsqrt": "np.sqrt", "hlog": "np.log", "hlog2": "np.log2",
         "hlog10": "np.log10", "hcos": "np.cos", "hsin": "np.sin", "hexp": "np.exp",
         "hexp2": "np.exp2", "htanh": "np.tanh", "htanh_approx": "np.tanh"}
_BITS = {"bfloat16_as_int16": "bf16_as_int16", "bfloat16_as_short": "bf16_as_int16",
         "bfloat16_as_uint16": "bf16_as_uint16", "bfloat16_as_ushort": "bf16_as_uint16"}
_FROM_BITS = {"int16_as_bfloat16": "int16", "short_as_bfloat16": "int16",
              "uint16_as_bfloat16": "uint16", "ushort_as_bfloat16": "uint16"}
# conversions to bfloat16 (rounded to nearest even): function -> source type
_TO_BF16 = {"float32_to_bfloat16": "float32", "float2bfloat16": "float32",
            "float32_to_bfloat16_rn": "float32", "float2bfloat16_rn": "float32",
            "float64_to_bfloat16": "float64", "double2bfloat16": "float64"}
# conversions from bfloat16 to integers: function -> (type, rounding function)
_TO_INT = {"bfloat16_to_int8_rz": ("int8", None), "bfloat162char_rz": ("int8", None),
           "bfloat16_to_uint8_rz": ("uint8", None), "bfloat162uchar_rz": ("uint8", None)}
_C_INT = {"int16": "short", "uint16": "ushort", "int32": "int", "uint32": "uint",
          "int64": "ll", "uint64": "ull"}
_ROUND = {"rn": "np.rint", "rz": None, "rd": "np.floor", "ru": "np.ceil"}
for _t, _c in _C_INT.items():
    for _m, _f in _ROUND.items():
        _TO_INT[f"bfloat16_to_{_t}_{_m}"] = _TO_INT[f"bfloat162{_c}_{_m}"] = (_t, _f)
    _TO_BF16[f"{_t}_to_bfloat16_rn"] = _TO_BF16[f"{_c}2bfloat16_rn"] = _t
del _t, _c, _m, _f

BF16_FUNCTIONS = frozenset(
    list(_BINARY) + list(_SAT) + list(_ORDERED) + list(_UNORDERED) + list(_MINMAX) +
    list(_MATH) + list(_BITS) + list(_FROM_BITS) + list(_TO_BF16) + list(_TO_INT) +
    ["hneg", "hfma", "hfma_sat", "hfma_relu", "hne", "hneu", "hisnan", "hisinf", "hrcp",
     "hrsqrt", "hexp10", "bfloat16_to_float32", "bfloat162float"])


def arity(fn):
    if fn in ("hfma", "hfma_sat", "hfma_relu"):
        return 3
    if fn in _BINARY or fn in _SAT or fn in _ORDERED or fn in _UNORDERED or fn in _MINMAX or \
            fn in ("hne", "hneu"):
        return 2
    return 1


def _arg_type(fn):
    if fn in _FROM_BITS:
        return _FROM_BITS[fn]
    if fn in _TO_BF16:
        return _TO_BF16[fn]
    return BF


def tree(fn, line, col, args):
    """The tree of cuda.bf16.<fn> applied to the argument trees `args`."""
    at = _arg_type(fn)
    a = [("cast", line, col, at, x) for x in args]
    if at != BF and fn not in _FROM_BITS:  # float32_to_bfloat16(x) ...
        return ("cast", line, col, BF, a[0])

    def f32(x):
        return ("cast", line, col, "float32", x)

    def bf(x):
        return ("cast", line, col, BF, x)

    def sat(x):  # clamped to [0, 1]; NaN becomes +0 (fmax ignores it)
        zero, one = ("const", line, col, "weak_float", 0.0), ("const", line, col, "weak_float", 1.0)
        return bf(("math", line, col, "np.fmin",
                   [("math", line, col, "np.fmax", [f32(x), zero]), one]))

    if fn in _BINARY:
        return ("binary", line, col, _BINARY[fn], a[0], a[1])
    if fn in _SAT:
        return sat(("binary", line, col, _SAT[fn], a[0], a[1]))
    if fn in _ORDERED:
        return ("compare", line, col, _ORDERED[fn], a[0], a[1])
    if fn == "hne":  # ordered: false when either is NaN
        return ("or", line, col, ("compare", line, col, "lt", a[0], a[1]),
                ("compare", line, col, "gt", a[0], a[1]))
    if fn == "hneu":
        return ("compare", line, col, "ne", a[0], a[1])
    if fn == "hequ":
        return ("unary", line, col, "not", tree("hne", line, col, args))
    if fn in _UNORDERED:
        return ("unary", line, col, "not", ("compare", line, col, _UNORDERED[fn], a[0], a[1]))
    if fn in _MINMAX:
        return bf(("math", line, col, _MINMAX[fn], [f32(a[0]), f32(a[1])]))
    if fn in _MATH:
        return bf(("math", line, col, _MATH[fn], [f32(a[0])]))
    if fn == "hneg":
        return ("unary", line, col, "neg", a[0])
    if fn == "hrcp":
        return ("binary", line, col, "truediv", ("const", line, col, "weak_float", 1.0), a[0])
    if fn == "hrsqrt":
        return bf(("binary", line, col, "truediv", ("const", line, col, "float32", 1.0),
                   ("math", line, col, "np.sqrt", [f32(a[0])])))
    if fn == "hexp10":
        return bf(("binary", line, col, "pow", ("const", line, col, "float32", 10.0), f32(a[0])))
    if fn in ("hfma", "hfma_sat", "hfma_relu"):
        r = ("intrinsic", line, col, "bf16_fma", a)
        if fn == "hfma_sat":
            return sat(r)
        if fn == "hfma_relu":  # max(r, 0), NaN kept
            return bf(("math", line, col, "np.max", [f32(r), ("const", line, col, "weak_float", 0.0)]))
        return r
    if fn == "hisnan":
        return ("math", line, col, "np.isnan", [f32(a[0])])
    if fn == "hisinf":  # CUDA's __hisinf: -1 for -inf, 1 for +inf, else 0
        x = f32(a[0])
        inf = ("const", line, col, "weak_float", float("inf"))
        return ("ifexp", line, col, ("compare", line, col, "eq", x, inf),
                ("const", line, col, "int32", 1),
                ("ifexp", line, col, ("compare", line, col, "eq", x, ("unary", line, col, "neg", inf)),
                 ("const", line, col, "int32", -1), ("const", line, col, "int32", 0)))
    if fn in ("bfloat16_to_float32", "bfloat162float"):
        return f32(a[0])
    if fn in _BITS:
        return ("intrinsic", line, col, _BITS[fn], a)
    if fn in _FROM_BITS:
        return ("intrinsic", line, col, "bf16_from_bits", a)
    if fn in _TO_INT:
        t, rnd = _TO_INT[fn]
        x = f32(a[0])
        return ("cast", line, col, t, x if rnd is None else ("math", line, col, rnd, [x]))
    raise KeyError(fn)
