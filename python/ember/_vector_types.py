"""CUDA's vector types as numba-cuda names them: ``float32x4`` (alias
``float4``), ``int16x2`` (``short2``) ... ten base types with 1 to 4
elements ``x, y, z, w``. In kernels a vector is a tuple of its base type
(built by the front end: frontend.py vector_call).

``VECTOR_TYPES`` is the one table of them, shared by the front end, the
names in ``ember.cuda`` and ``ember.cuda.vector_types`` (numba-cuda's
``vector_types``): name -> a ``VectorType`` descriptor with ``.name``,
``.base_type`` (an ``ember.types`` scalar), ``.num_elements``,
``.attr_names``, ``.aliases`` and ``.user_facing_object`` (``cuda.<name>``,
the object kernels call)."""

import numpy as _np

from . import types as _types

BASES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float32", "float64")
ATTRS = ("x", "y", "z", "w")


def _int_name(kind, ctype):
    return f"{kind}{_np.dtype(ctype).itemsize * 8}"


# C's names (numba-cuda's aliases; the sizes of this platform's C types)
_C_NAMES = {"char": _int_name("int", _np.byte), "short": _int_name("int", _np.short),
            "int": _int_name("int", _np.intc), "long": _int_name("int", _np.int_),
            "longlong": _int_name("int", _np.longlong),
            "uchar": _int_name("uint", _np.ubyte), "ushort": _int_name("uint", _np.ushort),
            "uint": _int_name("uint", _np.uintc), "ulong": _int_name("uint", _np.uint),
            "ulonglong": _int_name("uint", _np.ulonglong),
            "float": "float32", "double": "float64"}


class VectorType:
    """One vector type: what the front end builds and numba-cuda's
    ``vector_types`` describes."""

    __slots__ = ("name", "base", "base_type", "num_elements", "attr_names", "aliases",
                 "user_facing_object")

    def __init__(self, base, count):
        self.name = f"{base}x{count}"              # "float32x4"
        self.base = base                            # its base type's name, "float32"
        self.base_type = getattr(_types, base)      # ember.types.float32
        self.num_elements = count
        self.attr_names = ATTRS[:count]             # ("x", "y", "z", "w")
        self.aliases = [f"{c}{count}" for c, b in _C_NAMES.items() if b == base]
        self.user_facing_object = VectorTypeStub(self)

    def __repr__(self):
        return f"<ember vector type {self.name} ({self.num_elements} x {self.base})>"


class VectorTypeStub:
    """``cuda.float32x4``: called in kernels with numbers and smaller
    vectors that give its element count (the front end sees
    ``_ember_cuda_path``, as for ember.cuda's other kernel names); called on
    the host it makes a vector to pass to a kernel."""

    __slots__ = ("_ember_cuda_path", "_type")

    def __init__(self, vtype):
        self._ember_cuda_path = vtype.name
        self._type = vtype

    name = property(lambda self: self._type.name)
    num_elements = property(lambda self: self._type.num_elements)
    aliases = property(lambda self: self._type.aliases, doc="C's names: ['float4']")

    def __repr__(self):
        return f"<ember CUDA vector type {self._type.name}>"

    def __call__(self, *args):
        """On the host: a vector value (a tuple of the base type with .x .y
        .z .w) to pass to kernels (make_host_vector)."""
        return make_host_vector(self._type.name, args)


VECTOR_TYPES = {f"{b}x{n}": VectorType(b, n) for b in BASES for n in (1, 2, 3, 4)}
ALIASES = {a: name for name, vt in VECTOR_TYPES.items() for a in vt.aliases}


# ---------------------------------------------------------------------------
# Vectors made on the host: ``cuda.float32x4(1, 2, 3, 4)`` outside a kernel
# is a tuple of four np.float32 with .x .y .z .w; passed to a kernel (or an
# ember.jit function) it is the same vector there, as it is a tuple there
# too. numba has no host-side vectors (its vector types are kernel-only).
# ---------------------------------------------------------------------------

import numbers as _numbers


class HostVector(tuple):
    """The base of the host vector classes (one per vector type)."""

    __slots__ = ()
    vector_type = None   # the vector type's name ("float32x4")
    base = None          # its base type's name ("float32")

    def __repr__(self):
        return f"{self.vector_type}({', '.join(repr(v.item()) for v in self)})"

    def __reduce__(self):
        return (_make_host_vector, (self.vector_type, tuple(v.item() for v in self)))


def _attr(k):
    return property(lambda self: self[k], doc=f"element {k} ('{ATTRS[k]}')")


def _host_class(name):
    vt = VECTOR_TYPES[name]
    ns = {"__slots__": (), "vector_type": name, "base": vt.base, "__module__": __name__}
    ns.update({a: _attr(k) for k, a in enumerate(vt.attr_names)})
    return type(name, (HostVector,), ns)


HOST_CLASSES = {name: _host_class(name) for name in VECTOR_TYPES}
globals().update(HOST_CLASSES)  # pickle finds each class by its name here


def _element(name, base, v):
    """One element converted to the base type: integers for an integer base
    (in its range), real numbers for a float base."""
    dt = _np.dtype(base)
    if isinstance(v, (bool, _np.bool_)) or not isinstance(v, (_numbers.Real, _np.number)) \
            or isinstance(v, _np.complexfloating):
        raise TypeError(f"cuda.{name}(): elements are real numbers or vectors, not "
                        f"{type(v).__name__} {v!r}")
    if dt.kind in "iu":
        if not isinstance(v, (_numbers.Integral, _np.integer)):
            raise TypeError(f"cuda.{name}(): {base} elements are integers, not {v!r}")
        info = _np.iinfo(dt)
        if not info.min <= int(v) <= info.max:
            raise OverflowError(f"cuda.{name}(): {int(v)} does not fit in {base} "
                                f"({info.min} to {info.max})")
        return dt.type(int(v))
    return dt.type(float(v))


def make_host_vector(name, args):
    """``cuda.<name>(*args)`` on the host: each argument a number (one
    element) or a vector (its elements), as in kernels."""
    base, count = VECTOR_TYPES[name].base, VECTOR_TYPES[name].num_elements
    items = []
    for a in args:
        if isinstance(a, HostVector):
            items += [_element(name, base, v) for v in a]
        else:
            items.append(_element(name, base, a))
    if len(items) != count:
        raise TypeError(f"cuda.{name}() needs {count} element{'s' if count != 1 else ''} "
                        f"(numbers, or vectors that add up to {count}), {len(items)} given")
    return HOST_CLASSES[name](items)


def _make_host_vector(name, values):  # unpickling
    return make_host_vector(name, values)
