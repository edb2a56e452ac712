"""Calls that build a struct-model value (numba's low-level extension API:
@type_callable and @lower, see ember/_structmodel.py), for the front end's
_Builder (frontend.py).

``p = Point(x, y)`` or ``a[i] = Point(x, y)``: the class's typer is asked
for the result type given the arguments' types, known here for parameters,
constants and casts (``int32(i)``), and its @lower implementation is traced
for the values of the members. The value is a fresh record: a one-item
local array of the type's record dtype whose fields are stored, then its
item. The call is supported as an assignment's whole value, where those
stores can come first; anywhere else it is a TypingError saying so.
"""

import ast

from ..errors import TypingError, UnsupportedError


class StructCalls:
    """Methods of frontend._Builder (a mixin: `self` is the builder)."""

    def struct_callee(self, node):
        """The class a call `node` constructs with @type_callable, or None."""
        from .frontend import _Static
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
            return None
        try:
            callee = self.value(node.func)
        except (TypingError, UnsupportedError):
            return None
        if isinstance(callee, _Static) and callee.kind == "structcall":
            return callee
        return None

    def struct_call_elsewhere(self, node, callee):
        """The error for a constructor call that is not an assignment's value."""
        return self.unsupported(node, f"{callee.name}(...) builds a struct value, which ember "
                               "supports as an assignment's whole value",
                               f"write v = {callee.name}(...) (or a[i] = {callee.name}(...)) "
                               "on its own line, then use v")

    def param_or_constant_type(self, node):
        """The ember type of a parameter never assigned to or of a number
        constant; None otherwise (also what @overload typing functions get)."""
        from .. import types as ember_types
        if isinstance(node, ast.Name) and node.id in self.params and \
                node.id not in self.slots and self.argtypes is not None:
            try:
                return ember_types.from_descriptor(self.argtypes[self.params.index(node.id)])
            except (TypeError, KeyError, IndexError):
                return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, complex)):
            try:
                return ember_types.typeof(node.value)
            except (TypeError, ValueError, OverflowError):  # an int beyond 64 bits
                return None
        return None

    def static_type(self, node):
        """The ember type of an argument when this builder knows it without
        inference: a parameter, an element of an array parameter, a constant,
        a cast such as int32(x), or a local bound once to one of those. None
        otherwise."""
        from .. import types as ember_types
        from .frontend import _Static
        known = self.param_or_constant_type(node)
        if known is not None:
            return known
        if isinstance(node, ast.Name):
            bound = self.const_local(node)
            if bound is not None:
                self.const_visiting.add(node.id)
                try:
                    return self.static_type(bound)
                finally:
                    self.const_visiting.discard(node.id)
            return None
        if isinstance(node, ast.Subscript):  # a[i, j]: an element of an array parameter
            at = self.static_type(node.value)
            idx = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if isinstance(at, ember_types.Array) and len(idx) == at.ndim and \
                    isinstance(at.dtype, ember_types.Scalar) and \
                    not any(isinstance(i, ast.Slice) for i in idx):
                return at.dtype
            return None
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            try:
                f = self.value(node.func)
            except (TypingError, UnsupportedError):
                return None
            if isinstance(f, _Static) and f.kind == "dtype":
                return ember_types.from_descriptor(f.value)
        return None

    def struct_assign(self, target, call, callee):
        """`target = Cls(args)`: the statements that build the struct value
        and assign it."""
        from .. import _structmodel
        from .frontend import _record_dtype_desc
        line, col = self.loc(call)
        cls = callee.value
        if call.keywords:
            raise self.typing(call, f"{callee.name}(): keyword arguments are not supported "
                              "for struct-model constructors")
        argtypes = [self.static_type(a) for a in call.args]
        shown = ", ".join(str(t) if t is not None else "?" for t in argtypes)
        try:
            rtype = _structmodel.result_type(cls, argtypes)
        except Exception as e:
            raise self.typing(call, f"the @type_callable typer of {callee.name} raised "
                              f"{type(e).__name__}: {e}") from None
        if rtype is None:
            raise self.typing(call, f"{callee.name}({shown}): its @type_callable typer accepts "
                              "no such arguments",
                              "'?' is an argument whose type is known only after inference: "
                              "cast it, e.g. int32(x)" if None in argtypes else None)
        if not _structmodel.has_struct_model(rtype):
            raise self.typing(call, f"{callee.name}(...) is typed {rtype}, which has no "
                              "struct model (ember builds struct-model values only)")
        target_name = "cpu" if self.graph.jit else "cuda"
        impl = _structmodel.find_lowering(cls, argtypes, target_name)
        if impl is None:
            raise self.typing(call, f"no @lower implementation of {callee.name}({shown}) for "
                              f"target '{target_name}'")
        args = [_structmodel.TracedValue(self.expr(a), t) for a, t in zip(call.args, argtypes)]

        def make_const(typ, value):
            return ("cast", line, col, str(typ), self.const(call, value))
        sig = rtype(*argtypes)
        try:
            built = _structmodel.trace_lowering(impl, sig, args, make_const)
        except _structmodel.LoweringNotSupported as e:
            raise self.unsupported(call, f"the @lower implementation of {callee.name}: {e}") \
                from None
        if built.type != rtype:
            raise self.typing(call, f"the @lower implementation of {callee.name} built a "
                              f"{built.type}, but its typer says {rtype}")
        desc = _record_dtype_desc(rtype, callee.name)
        slot = self.temp()
        out = [("assign", line, col, slot, ("local_array", line, col, desc, [1], "local"))]
        record = ("index", line, col, ("load", line, col, slot),
                  [("const", line, col, "weak_int", 0)])
        for member, mtype in _structmodel.struct_members(rtype):
            v = built.members.get(member)
            value = v.tree if v is not None else ("cast", line, col, str(mtype),
                                                  ("const", line, col, "weak_int", 0))
            field = "field:" + _structmodel.field_of_member(rtype, member)
            out.append(("store", line, col, ("attr", line, col, field, record), [], value))
        r = self.assign_to(target, record, call)
        out.extend(r if isinstance(r, list) else [r])
        return out
