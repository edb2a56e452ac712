"""numba's low-level extension API for struct types, as ember runs it.

numba lets a library define a type of its own for compiled code::

    class PointType(types.Type): ...            # the type, an instance of it
    @typeof_impl.register(Point) ...            # Python values -> the type
    @register_model(PointType)
    class PointModel(models.StructModel):       # its data: named members
        def __init__(self, dmm, fe_type):
            super().__init__(dmm, fe_type, [("x", int32), ("y", int32)])
    make_attribute_wrapper(PointType, "x", "x") # p.x in compiled code
    @type_callable(Point) ...                   # Point(a, b) in compiled code
    @lower(Point, types.Integer, types.Integer) # ... and how to build it
    def impl(context, builder, sig, args):
        p = cgutils.create_struct_proxy(sig.return_type)(context, builder)
        p.x, p.y = args
        return p._getvalue()

ember has no llvmlite IR builder: a struct-model type is an ember record (a
NumPy structured dtype with the members as fields, C layout: align=True),
so arrays of it, shared/local arrays of it and its attributes are those of
records. A ``@lower`` implementation is run once while the kernel compiles,
with stand-in objects that record what it stores into a struct proxy: the
call becomes "a fresh record with these fields". Implementations that use
the builder in any other way are refused with a TypingError naming the line.
"""

import threading

import numpy as np

_lock = threading.Lock()
_models = {}        # a types.Type subclass -> its model class
_attributes = {}    # a types.Type subclass -> {python attribute: struct member}
_typeof = {}        # a Python class -> typeof function (value, context) -> type
_callables = {}     # a Python class -> typing function (context) -> typer
_lowerings = []     # (Python class, argument type patterns, implementation, target)


class StructModel:
    """A type's data as named members (numba's ``models.StructModel``)."""

    def __init__(self, dmm, fe_type, members):
        self.fe_type = fe_type
        self._members = [(str(n), t) for n, t in members]

    @property
    def members(self):
        return list(self._members)


class _Models:
    """``ember.extending.models``: the model base classes ember knows."""
    StructModel = StructModel


models = _Models()


def register_model(type_class):
    """``@register_model(PointType)`` on a StructModel subclass."""
    def decorate(model_class):
        if not (isinstance(model_class, type) and issubclass(model_class, StructModel)):
            raise TypeError(f"register_model({type_class.__name__}): ember supports "
                            f"models.StructModel subclasses, not {model_class!r}")
        with _lock:
            _models[type_class] = model_class
        return model_class
    return decorate


def make_attribute_wrapper(type_class, struct_attr, python_attr):
    """Exposes struct member `struct_attr` as the attribute `python_attr`."""
    with _lock:
        _attributes.setdefault(type_class, {})[python_attr] = struct_attr


class _Registry:
    """``typeof_impl``: ``@typeof_impl.register(Point)``."""

    def register(self, cls):
        def decorate(fn):
            with _lock:
                _typeof[cls] = fn
            return fn
        return decorate

    def __call__(self, value, context=None):
        fn = _typeof.get(type(value))
        return fn(value, context) if fn is not None else None


typeof_impl = _Registry()


def type_callable(cls):
    """``@type_callable(Point)`` on ``def typing(context): return typer``,
    where ``typer(*argument_types)`` gives the result type or None."""
    def decorate(fn):
        with _lock:
            _callables[cls] = fn
        return fn
    return decorate


def make_lower(target):
    """A ``lower(Point, *argument_types)`` registration for `target`."""
    def lower(cls, *argtypes):
        def decorate(impl):
            with _lock:
                _lowerings.append((cls, argtypes, impl, target))
            return impl
        return decorate
    return lower


# ---------------------------------------------------------------------------
# The record behind a struct-model type
# ---------------------------------------------------------------------------

def _model_class(typ):
    for klass in type(typ).__mro__:
        if klass in _models:
            return _models[klass]
    return None


def has_struct_model(typ):
    return _model_class(typ) is not None


def _wrapped_names(typ):
    names = {}
    for klass in reversed(type(typ).__mro__):
        names.update({member: attr for attr, member in _attributes.get(klass, {}).items()})
    return names


def struct_members(typ):
    """[(member, ember scalar type)] of a struct-model type."""
    from . import types as ember_types
    model = _model_class(typ)
    if model is None:
        raise TypeError(f"{typ} has no data model: register one with "
                        "@register_model(<its class>) on a models.StructModel subclass")
    members = model(None, typ).members
    for name, t in members:
        if not isinstance(t, ember_types.Scalar):
            raise TypeError(f"{typ}: the struct member '{name}' is {t}; ember's struct "
                            "models hold numbers (bool, integer, float, complex)")
    return members


def struct_dtype(typ):
    """The record dtype of a struct-model type: its members in order, C
    layout; a member exposed by make_attribute_wrapper under another name
    is the field of that name."""
    names = _wrapped_names(typ)
    return np.dtype([(names.get(n, n), t.dtype) for n, t in struct_members(typ)], align=True)


def struct_record(typ):
    from . import types as ember_types
    return ember_types.Record(struct_dtype(typ))


def field_of_member(typ, member):
    return _wrapped_names(typ).get(member, member)


def callable_class(obj):
    """Whether `obj` is a class with a @type_callable typing function."""
    try:
        return obj in _callables
    except TypeError:
        return False


def result_type(cls, argtypes):
    """The type of `cls(*args)` in compiled code, from its typer (None when
    it does not accept these argument types)."""
    typer = _callables[cls](None)
    return typer(*argtypes)


def _matches(pattern, t):
    from . import types as ember_types
    if pattern is t or pattern is ember_types.Type:
        return t is not None
    if isinstance(pattern, type):
        return isinstance(t, pattern)
    return t is not None and pattern == t


def find_lowering(cls, argtypes, target):
    """The latest @lower implementation of `cls` for these argument types
    and `target` ("cuda" or "cpu"; "generic" ones serve both)."""
    with _lock:
        entries = list(_lowerings)
    for c, pats, impl, t in reversed(entries):
        if c is cls and t in (target, "generic") and len(pats) == len(argtypes) and \
                all(_matches(p, a) for p, a in zip(pats, argtypes)):
            return impl
    return None


# ---------------------------------------------------------------------------
# Running an @lower implementation: what it stores into a struct proxy
# ---------------------------------------------------------------------------

class LoweringNotSupported(Exception):
    """The implementation did something ember cannot run (the message says what)."""


class TracedValue:
    """An argument (or a constant) of a traced implementation: the front
    end's tree for it and its type."""

    def __init__(self, tree, typ):
        self.tree, self.type = tree, typ


class TracedStruct:
    """The value an implementation returns: `typ` with these member values."""

    def __init__(self, typ, members):
        self.type, self.members = typ, members


class _Tracer:
    """The `context` and `builder` an implementation receives: any use but
    the ones below is refused."""

    def __init__(self, role, make_const):
        self._role, self._make_const = role, make_const

    def get_constant(self, typ, value):  # context.get_constant(types.int32, 0)
        if self._role != "context":
            raise AttributeError("get_constant")
        return TracedValue(self._make_const(typ, value), typ)

    def __getattr__(self, attr):
        raise LoweringNotSupported(
            f"{self._role}.{attr} is not available: ember runs @lower implementations that "
            "build a struct with cgutils.create_struct_proxy(typ)(context, builder), set its "
            "members from the arguments (or context.get_constant) and return "
            "proxy._getvalue()")


def create_struct_proxy(typ):
    """``cgutils.create_struct_proxy(typ)``: a class whose instances
    (``proxy(context, builder)``) take member values and give the struct."""
    members = [n for n, _ in struct_members(typ)]

    class StructProxy:
        def __init__(self, context, builder, value=None, ref=None):
            if value is not None or ref is not None:
                raise LoweringNotSupported("create_struct_proxy(...)(context, builder, value=/"
                                           "ref=) is not supported: ember builds new structs")
            object.__setattr__(self, "_values", {})

        def __setattr__(self, name, value):
            if name not in members:
                raise LoweringNotSupported(f"{typ} has no member '{name}' (members: "
                                           f"{', '.join(members)})")
            if not isinstance(value, TracedValue):
                raise LoweringNotSupported(f"the member '{name}' must be set from an argument "
                                           f"or context.get_constant(...), not {value!r}")
            self._values[name] = value

        def __getattr__(self, name):
            if name in members and name in self._values:
                return self._values[name]
            raise LoweringNotSupported(f"reading '{name}' of a struct proxy is not supported")

        def _getvalue(self):
            return TracedStruct(typ, dict(self._values))

    StructProxy.__name__ = f"StructProxy_{typ}"
    return StructProxy


def trace_lowering(impl, sig, args, make_const):
    """Runs `impl(context, builder, sig, args)` with tracers: the
    TracedStruct it returns (LoweringNotSupported otherwise)."""
    result = impl(_Tracer("context", make_const), _Tracer("builder", make_const), sig, args)
    if not isinstance(result, TracedStruct):
        raise LoweringNotSupported("the implementation must return proxy._getvalue() of a "
                                   "cgutils.create_struct_proxy(...) struct")
    return result
