"""Python features the front end's _Builder (frontend.py) compiles, kept
apart from the walker: `raise` and `assert` (_raises.py records the
exception of each site), Enum members named on their class, namedtuple
fields of parameters, NumPy ufuncs with an output array, and calls of
functions with ember.extending implementations (@overload,
@register_jitable). Each method returns the same tuple trees as the rest
of the builder and raises its errors (naming file:line:col).
"""

import ast
import builtins

import numpy as np

from ..errors import TypingError, UnsupportedError
from . import _raises


class PythonFeatures:
    """Methods of frontend._Builder (a mixin: `self` is the builder)."""

    def static_pyvalue(self, node, what):
        """The Python value of a constant expression: a literal, a global or
        closure name, an attribute of one (an exception class, a message)."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.closure:
                try:
                    return self.closure[node.id].cell_contents
                except ValueError:
                    pass
            elif node.id in self.fn.__globals__:
                return self.fn.__globals__[node.id]
            elif hasattr(builtins, node.id):
                return getattr(builtins, node.id)
        if isinstance(node, ast.Attribute):
            return getattr(self.static_pyvalue(node.value, what), node.attr)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.static_pyvalue(node.operand, what)
        raise self.unsupported(node, f"{what} must be a constant in kernels",
                               "raise an exception class with constant arguments: "
                               "raise ValueError('message')")

    def raise_stmt(self, s):
        """raise Cls / raise Cls(constants): the fault record, then the
        thread ends (a device function returns)."""
        if s.exc is None:
            raise self.unsupported(s, "a bare 'raise' (re-raise) is not supported in kernels")
        exc, args = s.exc, ()
        if isinstance(exc, ast.Call):
            if exc.keywords:
                raise self.unsupported(exc, "keyword arguments of an exception are not "
                                       "supported in kernels")
            args = tuple(self.static_pyvalue(a, "an exception argument") for a in exc.args)
            exc = exc.func
        try:
            cls = self.static_pyvalue(exc, "the exception")
        except AttributeError:
            cls = None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise self.typing(s.exc, "raise needs an exception class (raise ValueError or "
                              "raise ValueError('message'))")
        return self.raise_at(s, cls, args)

    def raise_at(self, s, cls, args):
        line, col = self.loc(s)
        _raises.register(f"{self.info.filename}:{line}:{col}", cls, args)
        return [("expr", line, col, ("intrinsic", line, col, "raise_", [])),
                ("return", line, col, None)]

    def namedtuple_fields(self, t):
        """The field names of a namedtuple parameter's tree, else None."""
        if isinstance(t, tuple) and t and t[0] == "param" and self.argtypes is not None:
            d = self.argtypes[t[3]]
            if isinstance(d, tuple) and len(d) > 2 and d[0] == "tuple":
                return d[2]
        return None

    def enum_class_of(self, node):
        """The Enum class (not IntEnum: its members are their integers) of
        the member `node` names: Color.red, Color['red'], or a conditional
        expression of members of one class; else None."""
        import enum
        if isinstance(node, ast.IfExp):
            a, b = self.enum_class_of(node.body), self.enum_class_of(node.orelse)
            return a if a is b else None
        m = self.enum_member(node)
        if m is None or isinstance(m, int):
            return None
        return type(m) if isinstance(m, enum.Enum) else None

    def member_class(self, node, tree):
        """For `is`: the Enum class (IntEnum too) of the member that `node`
        (built as `tree`) is, when known at compile time: a member constant,
        or a kernel parameter passed a member and never assigned (its tree
        reads the parameter). False when it is known to be no member (a
        number constant or parameter); None when not known."""
        import enum
        m = self.enum_member(node)
        if isinstance(m, enum.Enum):
            return type(m)
        if isinstance(node, ast.Constant):
            return False
        if isinstance(tree, tuple) and tree and tree[0] == "param" and \
                self.argtypes is not None:
            d = self.argtypes[tree[3]]
            if isinstance(d, tuple) and d[0] == "enum":
                return d[1]
            return False if isinstance(d, str) else None
        return None

    def never_identical(self, a, ta, b, tb):
        """Whether `a is b` is False whatever the values: members of two
        Enum classes, or a member and a number, are never one object (as
        numba types them: two member types, or a member and a number)."""
        ca, cb = self.member_class(a, ta), self.member_class(b, tb)
        if ca is None or cb is None:
            return False
        return ca is not cb and bool(ca or cb)

    def enum_member(self, node):
        """The Enum member `node` names (Color.red, Color['red']), else None."""
        from .frontend import _Static
        if isinstance(node, ast.Attribute):
            owner = node.value
            name = node.attr
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            owner = node.value
            name = node.slice.value
        else:
            return None
        if not isinstance(owner, (ast.Name, ast.Attribute)):
            return None
        try:
            st = self.value(owner)
        except (TypingError, UnsupportedError):
            return None
        if isinstance(st, _Static) and st.kind == "enumclass" and \
                isinstance(name, str) and name in st.value.__members__:
            return st.value.__members__[name]
        return None

    def ufunc_out_call(self, node, callee):
        """np.sin(x, r) / np.sin(x, out=r) / np.add(a, b, r): a NumPy ufunc
        with an output array, as a statement: r[...] = np.sin(x) (broadcast
        as NumPy). None when the call has no output argument."""
        line, col = self.loc(node)
        if callee.kind == "npbinop":
            nin = 2
        elif isinstance(callee.value, str) and callee.value.startswith("np.") and \
                isinstance(getattr(np, callee.value[3:], None), np.ufunc):
            nin = getattr(np, callee.value[3:]).nin
        else:
            return None
        out = None
        for kw in node.keywords:
            if kw.arg != "out":
                raise self.unsupported(kw, f"the keyword argument '{kw.arg}' of {callee.name}() "
                                       "is not supported in kernels", "only out= is")
            out = kw.value
        if out is None and len(node.args) == nin + 1 and \
                not isinstance(node.args[-1], ast.Constant):  # np.log(x, 2.0): not an output
            out = node.args[-1]
        if out is None:
            return None
        if isinstance(out, ast.Tuple) and len(out.elts) == 1:  # out=(r,)
            out = out.elts[0]
        if len(node.args) - (out is node.args[-1] if node.args else 0) != nin:
            raise self.typing(node, f"{callee.name}() takes {nin} input"
                              f"{'s' if nin > 1 else ''} and an output array")
        if self.stmt_call is not node:
            raise self.unsupported(node, f"{callee.name}() with an output array is supported "
                                   "as a statement", f"write {callee.name}(..., out) on its own "
                                   "line, then use the output array")
        args = [self.expr(a) for a in node.args[:nin]]
        if callee.kind == "npbinop":
            value = ("binary", line, col, callee.value, args[0], args[1])
        else:
            value = ("math", line, col, callee.value, args)
        return ("array_assign", line, col, self.expr(out), value, False)

    def overload_call(self, node, callee):
        """A call of a function with @overload / @register_jitable
        implementations (ember.extending): the implementation for this
        target, given the argument types known here (param_or_constant_type),
        inlined as a device function."""
        from .. import extending
        from .dispatcher import DeviceFunction
        from .frontend import _Static
        target = "cpu" if self.graph.jit else "cuda"
        argtypes = [self.param_or_constant_type(a) for a in node.args]
        try:
            impl = extending.resolve(callee.value, target, argtypes)
        except Exception as e:
            raise self.typing(node, f"the @overload typing function of {callee.name}() raised "
                              f"{type(e).__name__}: {e}") from None
        if impl is None:
            raise self.typing(node, f"no @overload implementation of {callee.name}() for "
                              f"target '{target}' and argument types "
                              f"({', '.join(str(t) for t in argtypes)})")
        if not callable(impl):
            raise self.typing(node, f"the @overload typing function of {callee.name}() must "
                              "return a function")
        return self.device_call(node, _Static("device", DeviceFunction(impl), callee.name))
