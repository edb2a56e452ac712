"""Random functions for the fuzzer (tests/fuzz/fuzz.py): Python source of
one function `f<id>(a, b, c, arr)` over scalars of every type ember types
(passed as NumPy scalars: bool, int8 ... uint64, float32, float64,
complex128) and a small float64 array, with assignments, if / elif / else,
bounded for and while loops, break / continue, array loads and stores
(indices reduced modulo the length, or raw -- out of bounds on purpose --
in a function compiled with boundscheck), math and NumPy calls, casts, and
now and then a construct ember does not support (dict, str, try, lambda,
generator, ...), which must give a clean error.

Everything is seeded: gen_function(seed) always gives the same source.
"""

import random

INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
ARG_TYPES = ("bool_", "int64", "float64") + INT_TYPES + ("float32", "complex128")
N_ARR = 8

UNSUPPORTED = (
    "d = {1: a}",
    "s = 'x' + str(a)",
    "try:\n    v0 = a\nexcept Exception:\n    v0 = 0",
    "g = lambda t: t + 1",
    "lst = [a, b]\nlst.append(c)",
    "st = {a, b}",
    "with open('/dev/null') as fh:\n    v0 = a",
    "v0 = sum(t for t in range(3))",
    "import os",
    "v0 = a.bit_length()",
    "del v0\nv0 = a",
    "raise ValueError('no')",
    "v0 = [t for t in range(3)][0]",
    "v0 = a if isinstance(a, int) else b",
)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.vars = ["v0", "v1", "v2"]
        self.loop_vars = []
        self.raw_index = False
        self.lines = []

    # ---- expressions
    def leaf(self):
        r = self.r
        k = r.random()
        if k < 0.35:
            return r.choice(["a", "b", "c"])
        if k < 0.6:
            return r.choice(self.vars + self.loop_vars)
        if k < 0.75:
            return str(r.randint(-9, 9))
        if k < 0.85:
            return repr(r.choice([0.5, -1.25, 2.0, 3.75, 0.0, 1e-3, 7.0]))
        if k < 0.9:
            return r.choice(["True", "False"])
        return f"arr[{self.index()}]"

    def index(self):
        e = self.expr(1, ints=True)
        if self.raw_index and self.r.random() < 0.3:
            return f"int({e})"
        return f"int({e}) % {N_ARR}"

    def expr(self, depth, ints=False):
        r = self.r
        if depth <= 0 or r.random() < 0.25:
            x = self.leaf()
            return f"int({x})" if ints and r.random() < 0.5 else x
        k = r.random()
        if ints:
            op = r.choice(["+", "-", "*", "//", "%", "&", "|", "^"])
            return f"(int({self.expr(depth - 1)}) {op} int({self.expr(depth - 1)}))"
        if k < 0.45:
            op = r.choice(["+", "-", "*", "/", "//", "%", "+", "-", "*"])
            return f"({self.expr(depth - 1)} {op} {self.expr(depth - 1)})"
        if k < 0.55:
            op = r.choice(["<", "<=", ">", ">=", "==", "!="])
            return f"({self.real(depth - 1)} {op} {self.real(depth - 1)})"
        if k < 0.62:
            return f"({self.expr(depth - 1)} if {self.cond(depth - 1)} else {self.expr(depth - 1)})"
        if k < 0.67:
            return f"(-{self.expr(depth - 1)})"
        if k < 0.72:
            return f"(not {self.expr(depth - 1)})"
        if k < 0.85:
            f = r.choice(["math.sin", "math.cos", "math.sqrt", "math.exp", "math.log",
                          "math.floor", "math.ceil", "math.fabs", "math.tanh", "abs",
                          "math.atan", "math.isnan", "math.isinf"])
            return f"{f}({self.real(depth - 1)})"
        if k < 0.92:
            f = r.choice(["min", "max", "math.atan2", "math.hypot", "math.copysign"])
            return f"{f}({self.real(depth - 1)}, {self.real(depth - 1)})"
        cast = r.choice(["int", "float", "bool", "np.float32", "np.float64", "np.int64",
                         "np.int32", "np.uint8", "np.int16", "complex"])
        return f"{cast}({self.real(depth - 1)})"

    def real(self, depth):
        """An expression that is not complex (an ordered one)."""
        e = self.expr(depth)
        return f"float(({e}).real)" if "complex" in e or "c" in e.split() else e

    def cond(self, depth):
        op = self.r.choice(["<", "<=", ">", ">=", "==", "!="])
        return f"{self.real(depth)} {op} {self.real(depth)}"

    # ---- statements
    def emit(self, indent, text):
        for line in text.split("\n"):
            self.lines.append("    " * indent + line)

    def block(self, indent, n, depth):
        for _ in range(n):
            self.stmt(indent, depth)

    def stmt(self, indent, depth):
        r = self.r
        k = r.random()
        if k < 0.4 or depth <= 0:
            op = r.choice(["=", "=", "+=", "-=", "*="])
            self.emit(indent, f"{r.choice(self.vars)} {op} {self.expr(2)}")
        elif k < 0.55:
            self.emit(indent, f"if {self.cond(1)}:")
            self.block(indent + 1, r.randint(1, 2), depth - 1)
            if r.random() < 0.3:
                self.emit(indent, f"elif {self.cond(1)}:")
                self.block(indent + 1, 1, depth - 1)
            if r.random() < 0.5:
                self.emit(indent, "else:")
                self.block(indent + 1, r.randint(1, 2), depth - 1)
        elif k < 0.68:
            lv = f"i{len(self.loop_vars)}"
            self.emit(indent, f"for {lv} in range({r.randint(0, 5)}):")
            self.loop_vars.append(lv)
            self.block(indent + 1, r.randint(1, 2), depth - 1)
            if r.random() < 0.3:
                self.emit(indent + 1, f"if {self.cond(0)}:")
                self.emit(indent + 2, r.choice(["break", "continue"]))
            self.loop_vars.pop()
        elif k < 0.74:
            w = f"w{len(self.lines)}"
            self.emit(indent, f"{w} = 0")
            self.emit(indent, f"while {w} < {r.randint(0, 4)}:")
            self.emit(indent + 1, f"{w} += 1")
            self.block(indent + 1, r.randint(1, 2), depth - 1)
        elif k < 0.86:
            self.emit(indent, f"arr[{self.index()}] = {self.real(2)}")
        elif k < 0.88:
            self.emit(indent, f"if {self.cond(0)}:")
            self.emit(indent + 1, f"return {self.expr(1)}")
        else:
            self.emit(indent, f"{r.choice(self.vars)} = {self.expr(2)}")


def gen_function(seed, name):
    """(source, argument type names, uses_raw_index, has_unsupported)."""
    g = Gen(seed)
    g.raw_index = g.r.random() < 0.15
    types = [g.r.choice(ARG_TYPES) for _ in range(3)]
    g.emit(1, "v0 = a")
    g.emit(1, "v1 = b")
    g.emit(1, f"v2 = {g.r.choice(['c', '0', '1.5', 'a'])}")
    unsupported = g.r.random() < 0.08
    n = g.r.randint(1, 6)
    at = g.r.randint(0, n) if unsupported else -1
    for k in range(n):
        if k == at:
            g.emit(1, g.r.choice(UNSUPPORTED))
        g.stmt(1, 2)
    if at == n:
        g.emit(1, g.r.choice(UNSUPPORTED))
    g.emit(1, f"return {g.expr(2)}")
    src = f"def {name}(a, b, c, arr):\n" + "\n".join(g.lines) + "\n"
    return src, types, g.raw_index, unsupported


def gen_args(seed, types):
    """The arguments for a function of `types` (NumPy scalars) and its array."""
    import numpy as np
    r = random.Random(seed * 7919 + 1)
    out = []
    for t in types:
        if t == "bool_":
            out.append(np.bool_(r.random() < 0.5))
        elif t.startswith("uint"):
            out.append(getattr(np, t)(r.randint(0, 60)))
        elif t.startswith("int"):
            out.append(getattr(np, t)(r.randint(-60, 60)))
        elif t == "complex128":
            out.append(np.complex128(complex(r.uniform(-4, 4), r.uniform(-4, 4))))
        else:
            out.append(getattr(np, t)(r.choice([0.0, r.uniform(-10, 10)])))
    arr = np.array([r.uniform(-5, 5) for _ in range(N_ARR)])
    return out, arr
